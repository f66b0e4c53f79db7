/* text_classifier.c - the reference text model on Banking77 through ember.h.
 * usage: example_text_classifier [DATA_DIR]   (default data/banking77) */
#include <ember.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "data/banking77";
    char tr[512], te[512];
    snprintf(tr, sizeof tr, "%s/train.csv", dir), snprintf(te, sizeof te, "%s/test.csv", dir);
    ember_error err;
    ember_text_dataset *train = NULL, *test = NULL;
    ember_pipeline *p = NULL;
    ember_ragged *xtr = NULL, *xte = NULL;
    ember_tensor *ytr = NULL, *yte = NULL;
    ember_model *m = NULL;
    ember_text_options to = ember_text_options_default();
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    ember_fit_config fc = ember_fit_config_default();
    ember_progress_printer pp = {stdout, EMBER_PROGRESS_LINES, 0};
    fc.epochs = 10, fc.batch_size = 32, fc.progress = ember_progress_print, fc.progress_user = &pp;
    double loss, acc;
    int bad = ember_text_dataset_load(&train, tr, NULL, &err) || ember_text_dataset_load(&test, te, NULL, &err) ||
              ember_pipeline_create(&p, &to, &err) || ember_pipeline_fit(p, train, &err) ||
              ember_pipeline_encode(p, train, &xtr, &ytr, &err) || ember_pipeline_encode(p, test, &xte, &yte, &err) ||
              ember_model_create_ids(&m, 42, &err) ||
              ember_model_add_embedding(m, ember_pipeline_input_dim(p), 64, 1, &err) ||
              ember_model_add_global_average_pooling1d(m, &err) ||
              ember_model_add_dense(m, 128, EMBER_ACT_RELU, &err) ||
              ember_model_add_dense(m, ember_pipeline_class_count(p), EMBER_ACT_SOFTMAX, &err) ||
              ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err);
    fc.x_val_ids = xte, fc.y_val = yte;
    bad = bad || ember_model_fit_ids(m, xtr, ytr, &fc, NULL, &err) || ember_model_evaluate_ids(m, xte, yte, 0, &loss, &acc, &err);
    bad ? fprintf(stderr, "%s\n", err.message) : printf("test accuracy %.4f\n", acc);
    ember_model_destroy(m), ember_pipeline_destroy(p), ember_text_dataset_destroy(train), ember_text_dataset_destroy(test);
    ember_ragged_destroy(xtr), ember_ragged_destroy(xte), ember_tensor_destroy(ytr), ember_tensor_destroy(yte);
    return bad ? 2 : 0;
}
