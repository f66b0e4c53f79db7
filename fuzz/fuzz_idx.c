/*
 * fuzz_idx.c - ember_idx_load (src/data/idx.c), IDX files plain or gzip.
 *
 * Input: one option byte, then the file. Option bit 0: gzip the file first
 * (seeds that are gzip themselves give corrupt streams). Checks: a refusal
 * names the file; a tensor has 1..4 dimensions, none 0, and for a rank-1
 * tensor ember_one_hot either works or refuses with a message.
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt_byte = fuzz_take_byte(&data, &size);
    const char *path = fuzz_file_maybe_gz(data, size, opt_byte & 1);
    ember_error err;
    ember_tensor *t = (ember_tensor *)&err;
    ember_status s = ember_idx_load(&t, path, &err);
    if (s != EMBER_OK) {
        fuzz_check_file_refusal(s, &err, path);
        FUZZ_ASSERT(t == NULL);
        return 0;
    }
    FUZZ_ASSERT(t->ndim >= 1 && t->ndim <= EMBER_MAX_DIMS);
    for (int i = 0; i < t->ndim; i++)
        FUZZ_ASSERT(t->shape[i] >= 1);
    volatile float sum = 0; /* touch every element */
    for (int64_t i = 0; i < ember_tensor_numel(t); i++)
        sum += t->data[i];
    (void)sum;
    if (t->ndim == 1) {
        ember_tensor *oh = NULL;
        s = ember_one_hot(&oh, t, 10, &err);
        if (s != EMBER_OK)
            fuzz_check_refusal(s, &err);
        else
            FUZZ_ASSERT(oh->ndim == 2 && oh->shape[0] == t->shape[0] && oh->shape[1] == 10);
        ember_tensor_destroy(oh);
    }
    ember_tensor_destroy(t);
    return 0;
}
