/*
 * fuzz_safetensors.c - ember__st_read (src/io/safetensors.c with
 * st_header_check.c): the length prefix, the raw-text pass over the JSON
 * header, cJSON, the schema, offsets and contiguity, the data and its
 * checksum (computed; in this build a mismatch is not fatal, see core.h).
 * Input: the file. Checks: a refusal names the file; for a file read, every
 * tensor is found again by name and shape and all its floats can be read,
 * every metadata key finds its value, and a missing tensor is refused.
 */
#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ember_error err;
    ember_st_file *f = (ember_st_file *)&err;
    ember_status s = ember__st_read(&f, path, &err);
    if (s != EMBER_OK) {
        fuzz_check_file_refusal(s, &err, path);
        return 0;
    }
    int n = ember__st_count(f);
    FUZZ_ASSERT(n >= 0);
    for (int i = 0; i < n; i++) {
        const char *name = ember__st_name(f, i);
        int64_t shape[EMBER_MAX_DIMS];
        int ndim = ember__st_shape(f, i, shape);
        FUZZ_ASSERT(name && ndim >= 0 && ndim <= EMBER_MAX_DIMS);
        const float *x = NULL;
        FUZZ_ASSERT(ember__st_get(f, name, ndim, shape, &x, &err) == EMBER_OK && x);
        int64_t numel = 1;
        for (int d = 0; d < ndim; d++)
            numel *= shape[d];
        volatile float sum = 0;
        for (int64_t k = 0; k < numel; k++)
            sum += x[k];
        (void)sum;
    }
    FUZZ_ASSERT(ember__st_name(f, n) == NULL && ember__st_shape(f, n, NULL) == -1);
    for (int i = 0; i < ember__st_meta_count(f); i++) {
        const char *k = ember__st_meta_key(f, i);
        FUZZ_ASSERT(k && ember__st_meta(f, k) != NULL);
    }
    const float *x = NULL;
    s = ember__st_get(f, "\x01no such tensor", 0, NULL, &x, &err);
    FUZZ_ASSERT(s == EMBER_ERR_FORMAT && x == NULL);
    (void)ember__st_has_checksum(f);
    (void)ember__st_header_canonical(f);
    ember__st_free(f);
    return 0;
}
