/*
 * hello.c - the install test's client program (tests/install/run.sh builds it
 * against an installed Ember, once with pkg-config and once with CMake).
 *
 * It uses only the installed public header: builds a 4 -> 3 softmax model,
 * compiles it, predicts on a [2, 4] batch and checks that each output row sums
 * to 1. It does not train or touch files; it only proves that the header,
 * the library and their link flags work outside the source tree.
 * Exit status: 0 on success, 1 on any failure (message on stderr).
 */
#include <ember.h>
#include <stdio.h>

/* Softmax rows sum to 1 up to float32 rounding of 3 terms. */
#define ROW_SUM_TOLERANCE 1e-5

static int fail(const char *what, const ember_error *err) {
    fprintf(stderr, "hello: %s failed: %s (%s)\n", what, err->message,
            ember_status_to_string(err->code));
    return 1;
}

int main(void) {
    ember_error err = {0};
    ember_model *m = NULL;
    ember_tensor *x = NULL, *y = NULL; /* x: [2, 4] input; y: [2, 3] probabilities */
    int rc = 1;

    printf("ember %s (commit %s)\n", ember_version(), ember_git_commit());

    int64_t in_shape[1] = {4};
    if (ember_model_create(&m, 1, in_shape, 42, &err) != EMBER_OK) return fail("create", &err);
    if (ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, &err) != EMBER_OK) {
        fail("add_dense", &err);
        goto done;
    }
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    if (ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err) != EMBER_OK) {
        fail("compile", &err);
        goto done;
    }

    int64_t x_shape[2] = {2, 4};
    if (ember_tensor_create(&x, 2, x_shape, &err) != EMBER_OK) {
        fail("tensor_create", &err);
        goto done;
    }
    for (int64_t i = 0; i < ember_tensor_numel(x); i++) x->data[i] = 0.25f * (float)i - 1.0f;

    if (ember_model_predict(m, x, 2, &y, &err) != EMBER_OK) {
        fail("predict", &err);
        goto done;
    }
    if (y->ndim != 2 || y->shape[0] != 2 || y->shape[1] != 3) {
        fprintf(stderr, "hello: prediction has the wrong shape (ndim %d)\n", y->ndim);
        goto done;
    }
    rc = 0;
    for (int64_t r = 0; r < 2; r++) {
        double sum = 0.0;
        for (int64_t k = 0; k < 3; k++) sum += y->data[r * 3 + k];
        double dev = sum > 1.0 ? sum - 1.0 : 1.0 - sum; /* no libm needed */
        printf("row %lld sums to %.7f\n", (long long)r, sum);
        if (!(dev <= ROW_SUM_TOLERANCE)) rc = 1; /* also catches NaN */
    }
    if (rc) fprintf(stderr, "hello: a row does not sum to 1 within %g\n", ROW_SUM_TOLERANCE);

done:
    ember_tensor_destroy(y);
    ember_tensor_destroy(x);
    ember_model_destroy(m);
    return rc;
}
