/*
 * fuzz_model_load.c - ember_model_load (src/model/serialize.c over
 * safetensors.c): the metadata, the architecture and compile JSON, the
 * layers' checks, every tensor against the architecture. In this build the
 * checksums and the canonical-header test are computed but not enforced
 * (core.h, EMBER__FUZZING), so mutated files get past them to the checks
 * behind; test_model_torture covers them with real files.
 *
 * Input: the file. Checks: a refusal names the file and leaves *out NULL; a
 * model loaded has layers and metadata that can be read, and when it is
 * small (MAX_PARAMS, MAX_OUT) it predicts two all-zero examples (token ids
 * 1 and input_dim - 1 for a model of ids) to outputs of its width.
 */
#include "fuzz_util.h"
#include "model/model.h"

#define MAX_PARAMS 1000000
#define MAX_OUT 100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ember_error err;
    ember_model *m = (ember_model *)&err;
    ember_status s = ember_model_load(&m, path, &err);
    if (s != EMBER_OK) {
        fuzz_check_file_refusal(s, &err, path);
        FUZZ_ASSERT(m == NULL);
        return 0;
    }
    FUZZ_ASSERT(ember_model_layer_count(m) >= 1);
    for (int i = 0; i < ember_model_metadata_count(m); i++) {
        const char *k = ember_model_metadata_key(m, i);
        FUZZ_ASSERT(k && ember_model_get_metadata(m, k));
    }
    int64_t in_shape[EMBER_MAX_DIMS];
    int rank = ember_model_input_shape(m, in_shape);
    int64_t K = ember__model_out_size(m), largest = 0, in_numel = 1;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->out_size > largest)
            largest = m->layers[i]->out_size;
    for (int i = 0; i < rank; i++)
        in_numel *= in_shape[i];
    if (ember_model_param_count(m) <= MAX_PARAMS && largest <= MAX_OUT && in_numel <= MAX_OUT) {
        ember_model_set_threads(m, 1);
        ember_tensor *out = NULL;
        if (rank == 0) {
            FUZZ_ASSERT(m->layers[0]->kind == EMBER_LAYER_EMBEDDING);
            const embedding_config *e = m->layers[0]->config;
            int64_t offsets[3] = {0, 1, 2};
            int32_t ids[2] = {1, (int32_t)(e->input_dim - 1)};
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
        if (s != EMBER_OK)
            fuzz_check_refusal(s, &err);
        else
            FUZZ_ASSERT(out->ndim == 2 && out->shape[0] == 2 && out->shape[1] == K);
        ember_tensor_destroy(out);
    }
    ember_model_destroy(m);
    return 0;
}
