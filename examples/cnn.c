/* cnn.c - the Fashion-MNIST CNN through ember.h: 10 epochs, Adam 1e-3, batch 64.
 * usage: example_cnn [DIR] [EPOCHS]   (default /usr/share/datasets/fashion-mnist, 10) */
#include <ember.h>
#include <stdio.h>
#include <stdlib.h>

static int load(ember_tensor **x, ember_tensor **y, const char *dir, const char *set, ember_error *err)
{
    char px[512], py[512];
    snprintf(px, sizeof px, "%s/%s-images-idx3-ubyte.gz", dir, set);
    snprintf(py, sizeof py, "%s/%s-labels-idx1-ubyte.gz", dir, set);
    if (ember_idx_load(x, px, err) || ember_idx_load(y, py, err))
        return 1;
    ember_tensor_scale(*x, 1.0f / 255.0f);
    (*x)->ndim = 4, (*x)->shape[3] = 1; /* [N, 28, 28] -> NHWC [N, 28, 28, 1] */
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    ember_error err;
    ember_tensor *x = NULL, *y = NULL, *xt = NULL, *yt = NULL;
    ember_model *m = NULL;
    int64_t in[3] = {28, 28, 1};
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    ember_fit_config fc = ember_fit_config_default();
    ember_progress_printer pp = {stdout, EMBER_PROGRESS_LINES, 0};
    fc.epochs = argc > 2 ? atoi(argv[2]) : 10, fc.batch_size = 64;
    fc.progress = ember_progress_print, fc.progress_user = &pp;
    double loss, acc;
    int bad = load(&x, &y, dir, "train", &err) || load(&xt, &yt, dir, "t10k", &err) ||
              ember_model_create(&m, 3, in, 42, &err) ||
              ember_model_add_conv2d(m, 32, 3, EMBER_ACT_RELU, &err) || ember_model_add_max_pool2d(m, 2, &err) ||
              ember_model_add_conv2d(m, 64, 3, EMBER_ACT_RELU, &err) || ember_model_add_max_pool2d(m, 2, &err) ||
              ember_model_add_flatten(m, &err) || ember_model_add_dense(m, 128, EMBER_ACT_RELU, &err) ||
              ember_model_add_dense(m, 10, EMBER_ACT_SOFTMAX, &err) ||
              ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err) ||
              ember_model_fit(m, x, y, &fc, NULL, &err) || ember_model_evaluate(m, xt, yt, 0, &loss, &acc, &err);
    bad ? fprintf(stderr, "%s\n", err.message) : printf("test accuracy %.4f\n", acc);
    ember_model_destroy(m), ember_tensor_destroy(x), ember_tensor_destroy(y), ember_tensor_destroy(xt), ember_tensor_destroy(yt);
    return bad ? 2 : 0;
}
