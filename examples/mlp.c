/*
 * mlp.c - the README's example in full: a 784-128-10 classifier on
 * Fashion-MNIST through the public API only.
 * usage: example_mlp [DIR]   (DIR defaults to /usr/share/datasets/fashion-mnist)
 */
#include <ember.h>

#include <stdio.h>

static ember_tensor *load(const char *dir, const char *name, int images, ember_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ember_tensor *t = NULL;
    if (ember_idx_load(&t, path, err) != EMBER_OK)
        return NULL;
    if (images) { /* [N, 28, 28] bytes -> [N, 784] in [0, 1] */
        t->shape[1] *= t->shape[2];
        t->shape[2] = 1;
        t->ndim = 2;
        ember_tensor_scale(t, 1.0f / 255.0f);
    }
    return t;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    ember_error err;
    ember_tensor *xtr = load(dir, "train-images-idx3-ubyte.gz", 1, &err);
    ember_tensor *ytr = xtr ? load(dir, "train-labels-idx1-ubyte.gz", 0, &err) : NULL;
    ember_tensor *xte = ytr ? load(dir, "t10k-images-idx3-ubyte.gz", 1, &err) : NULL;
    ember_tensor *yte = xte ? load(dir, "t10k-labels-idx1-ubyte.gz", 0, &err) : NULL;
    if (!yte) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    ember_model *m = NULL;
    int64_t in[1] = {784};
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = 2;
    fc.batch_size = 32;
    fc.x_val = xte;
    fc.y_val = yte;
    ember_progress_printer pp = {stdout, EMBER_PROGRESS_LINES, 0};
    fc.progress = ember_progress_print;
    fc.progress_user = &pp;
    double loss, acc;
    int rc = 0;
    if (ember_model_create(&m, 1, in, 42, &err) ||
        ember_model_add_dense(m, 128, EMBER_ACT_RELU, &err) ||
        ember_model_add_dense(m, 10, EMBER_ACT_SOFTMAX, &err) ||
        ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err) ||
        ember_model_fit(m, xtr, ytr, &fc, NULL, &err) ||
        ember_model_evaluate(m, xte, yte, 0, &loss, &acc, &err)) {
        fprintf(stderr, "%s\n", err.message);
        rc = 2;
    } else {
        printf("test accuracy %.4f\n", acc);
    }
    ember_model_destroy(m);
    ember_tensor_destroy(xtr);
    ember_tensor_destroy(ytr);
    ember_tensor_destroy(xte);
    ember_tensor_destroy(yte);
    return rc;
}
