/*
 * fuzz_arch.c - ember_model_create_from_arch_shape (src/model/arch.c): the
 * architecture text of `ember train --arch FILE`, and the layers' own
 * argument and shape checks behind it.
 *
 * Input: one option byte, then the text. Option bits 0-1: the input (50
 * token-id rows; 16 features; an 8x8x1 image; a 12x10x3 image), bits 2-4:
 * classes - 1. Checks: a refusal has a message and leaves *out NULL; a model
 * built from the text has layers, and when it has at most MAX_PARAMS
 * parameters it compiles and predicts two all-zero examples (token id 1 for
 * a model of ids) to finite outputs of its output width.
 */
#include "fuzz_util.h"
#include "model/model.h"

/* Compile and predict only models this small: a line such as
 * "dense 16777216" is valid and would take gigabytes. */
#define MAX_PARAMS 200000
/* Likewise for activations: conv2d 1048576 filters on an image is valid. */
#define MAX_OUT 100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt_byte = fuzz_take_byte(&data, &size);
    static const int64_t shapes[4][3] = {{50, 1, 1}, {16, 1, 1}, {8, 8, 1}, {12, 10, 3}};
    static const int ranks[4] = {1, 1, 3, 3};
    int kind = opt_byte & 3;
    int64_t classes = 1 + ((opt_byte >> 2) & 7);
    char *text = fuzz_cstr(data, size);
    ember_error err;
    ember_model *m = (ember_model *)&err;
    ember_status s = ember_model_create_from_arch_shape(&m, text, "fuzz.arch", ranks[kind],
                                                        shapes[kind], classes, 1, &err);
    free(text);
    if (s != EMBER_OK) {
        fuzz_check_refusal(s, &err);
        FUZZ_ASSERT(m == NULL);
        return 0;
    }
    FUZZ_ASSERT(ember_model_layer_count(m) >= 1);
    int64_t in_shape[EMBER_MAX_DIMS];
    int rank = ember_model_input_shape(m, in_shape);
    int64_t K = ember__model_out_size(m);
    int64_t largest = 0; /* widest activation of one example */
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->out_size > largest)
            largest = m->layers[i]->out_size;
    if (ember_model_param_count(m) <= MAX_PARAMS && largest <= MAX_OUT) {
        ember_optimizer_config opt = ember_optimizer_adam(0.001f);
        s = ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err);
        if (s != EMBER_OK) {
            fuzz_check_refusal(s, &err);
        } else {
            ember_model_set_threads(m, 1);
            ember_tensor *out = NULL;
            if (rank == 0) {
                int64_t offsets[3] = {0, 1, 2};
                int32_t ids[2] = {1, 1};
                ember_ragged r = {2, offsets, ids};
                s = ember_model_predict_ids(m, &r, 2, &out, &err);
            } else {
                int64_t shape[EMBER_MAX_DIMS] = {2, 1, 1, 1};
                for (int i = 0; i < rank; i++)
                    shape[i + 1] = in_shape[i];
                ember_tensor *x = NULL;
                FUZZ_ASSERT(ember_tensor_create(&x, rank + 1, shape, &err) == EMBER_OK);
                s = ember_model_predict(m, x, 2, &out, &err);
                ember_tensor_destroy(x);
            }
            if (s != EMBER_OK) {
                fuzz_check_refusal(s, &err);
            } else {
                FUZZ_ASSERT(out->ndim == 2 && out->shape[0] == 2 && out->shape[1] == K);
                FUZZ_ASSERT(fuzz_all_finite(out));
            }
            ember_tensor_destroy(out);
        }
    }
    ember_model_destroy(m);
    return 0;
}
