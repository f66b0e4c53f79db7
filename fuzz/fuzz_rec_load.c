/*
 * fuzz_rec_load.c - ember_recommender_load (src/recommend/rec_file.c over
 * safetensors.c): the metadata (model kind, settings JSON of both models,
 * id lists, feature names, the caller's keys), every tensor's shape and
 * values against the settings, the towers rebuilt from the settings. In
 * this build the checksums and the canonical-header test are computed but
 * not enforced (EMBER__FUZZING), so mutated files reach the checks behind.
 *
 * Input: the file. Checks: a refusal names the file and leaves *out NULL; a
 * recommender loaded has readable metadata and ids, and when it is small
 * (MAX_ITEMS) it ranks the items for its first user and for an unknown one,
 * finds items similar to its first item, and predicts, with finite scores in
 * order.
 */
#include "fuzz_util.h"

#include <math.h>

#define MAX_ITEMS 100000
#define K 5

static void check_list(const int64_t *items, const float *scores, int n, int64_t I)
{
    FUZZ_ASSERT(n >= 0 && n <= K);
    for (int j = 0; j < n; j++) {
        FUZZ_ASSERT(items[j] >= 0 && items[j] < I);
        FUZZ_ASSERT(j == 0 || !(scores[j] > scores[j - 1]));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ember_error err;
    ember_recommender *r = (ember_recommender *)&err;
    ember_status s = ember_recommender_load(&r, path, &err);
    if (s != EMBER_OK) {
        fuzz_check_file_refusal(s, &err, path);
        FUZZ_ASSERT(r == NULL);
        return 0;
    }
    const char *kind = ember_recommender_model(r);
    FUZZ_ASSERT(!strcmp(kind, "mf") || !strcmp(kind, "two-tower"));
    FUZZ_ASSERT((ember_recommender_config(r) != NULL) != (ember_recommender_two_tower_config(r) != NULL));
    for (int i = 0; i < ember_recommender_metadata_count(r); i++) {
        const char *k = ember_recommender_metadata_key(r, i);
        FUZZ_ASSERT(k && ember_recommender_get_metadata(r, k));
    }
    int64_t U = ember_recommender_user_count(r), I = ember_recommender_item_count(r);
    FUZZ_ASSERT(U >= 0 && I >= 0);
    if (I > 0 && I <= MAX_ITEMS) {
        int64_t items[K];
        float scores[K];
        int n = -1;
        const char *user = U > 0 ? ember_recommender_user_id(r, 0) : "nobody";
        FUZZ_ASSERT(user);
        s = ember_recommender_top_k(r, user, K, NULL, 0, items, scores, &n, &err);
        if (s == EMBER_OK)
            check_list(items, scores, n, I);
        else
            fuzz_check_refusal(s, &err);
        s = ember_recommender_top_k(r, "\x01 not a user \x02", K, NULL, 0, items, scores, &n, &err);
        if (s == EMBER_OK)
            check_list(items, scores, n, I);
        else
            fuzz_check_refusal(s, &err);
        const char *item = ember_recommender_item_id(r, 0);
        FUZZ_ASSERT(item);
        s = ember_recommender_similar(r, item, K, items, scores, &n, &err);
        if (s == EMBER_OK)
            check_list(items, scores, n, I);
        else
            fuzz_check_refusal(s, &err);
        int known = 0;
        (void)ember_recommender_predict(r, user, item, &known);
        FUZZ_ASSERT((known & 2) != 0);
    }
    ember_recommender_destroy(r);
    return 0;
}
