/*
 * fuzz_pipeline_json.c - ember_pipeline_from_json (src/data/pipeline.c):
 * the text pipeline a model file carries (options, vocabulary, labels).
 * Input: the JSON text. Checks: a refusal has a message and leaves *out
 * NULL; a pipeline read back encodes a few fixed texts to ids in
 * [1, input_dim), and to_json -> from_json -> to_json gives the same text.
 */
#include "fuzz_util.h"

static const char *const TEXTS[] = {
    "Hello, world! 2024 <b>bold</b> http://example.com mail@example.com",
    "\xe5\x8c\x97\xe4\xba\xac\xe5\xa4\xa7\xe5\xad\xa6 caf\xc3\xa9 Stra\303\237e \xf0\x9f\x98\x80",
    "", "a b c d e f g h i j k l m n o p"};
#define N_TEXTS ((int64_t)(sizeof TEXTS / sizeof TEXTS[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_cstr(data, size);
    ember_error err;
    ember_pipeline *p = (ember_pipeline *)&err;
    ember_status s = ember_pipeline_from_json(&p, json, &err);
    free(json);
    if (s != EMBER_OK) {
        fuzz_check_refusal(s, &err);
        return 0;
    }
    char *t1 = NULL, *t2 = NULL;
    ember_pipeline *q = NULL;
    FUZZ_ASSERT(ember_pipeline_to_json(p, &t1, &err) == EMBER_OK);
    FUZZ_ASSERT(ember_pipeline_from_json(&q, t1, &err) == EMBER_OK);
    FUZZ_ASSERT(ember_pipeline_to_json(q, &t2, &err) == EMBER_OK);
    FUZZ_ASSERT(strcmp(t1, t2) == 0);
    ember_text_dataset *d = NULL;
    ember_ragged *ids = NULL;
    FUZZ_ASSERT(ember_text_dataset_create(&d, N_TEXTS, TEXTS, NULL, &err) == EMBER_OK);
    s = ember_pipeline_encode(p, d, &ids, NULL, &err);
    FUZZ_ASSERT(s == EMBER_OK);
    int64_t dim = ember_pipeline_input_dim(p);
    for (int64_t i = 0; i < ids->offsets[ids->n]; i++)
        FUZZ_ASSERT(ids->ids[i] >= 1 && ids->ids[i] < dim);
    for (int64_t k = 0; k < ember_pipeline_class_count(p); k++) {
        const char *name = ember_pipeline_class_name(p, k);
        FUZZ_ASSERT(name && ember_pipeline_class_id(p, name) == k);
    }
    ember_ragged_destroy(ids);
    ember_text_dataset_destroy(d);
    free(t1);
    free(t2);
    ember_pipeline_destroy(q);
    ember_pipeline_destroy(p);
    return 0;
}
