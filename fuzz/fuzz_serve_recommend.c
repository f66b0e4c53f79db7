/*
 * fuzz_serve_recommend.c - a /v1/recommend request body, from the bytes to
 * the JSON answer, without the HTTP server: ember__serve_parse_rec_body
 * (src/serve/recommend.c: UTF-8, JSON, the fields user / item / k /
 * exclude), then ember__serve_rec_answer with a small MF recommender
 * (users u0..u5, items i0..i7 and one id with a quote and UTF-8 in it).
 *
 * Input: the body. Checks: a refusal is a 400, 413 or 500 with a message
 * that is valid UTF-8 and leaves the output empty; an accepted body has one
 * of user / item, k in 1..SERVE_REC_MAX_K and at most SERVE_REC_MAX_EXCLUDE
 * exclude ids; the answer is valid JSON that echoes the id, says whether the
 * model knows it, and lists at most min(k, items) distinct model items, none
 * of them excluded and, for an item, not the item itself.
 */
#include "fuzz_util.h"
#include "serve/serve.h"

#include <cJSON.h>

static generation gen_;

static void setup(void)
{
    static const char data[] =
        "u0\ti0\t5\t1\nu0\ti1\t3\t2\nu1\ti1\t4\t3\nu1\ti2\t2\t4\nu2\ti3\t5\t5\n"
        "u2\ti4\t1\t6\nu3\ti5\t4\t7\nu3\ti0\t2\t8\nu4\ti6\t3\t9\nu4\ti7\t5\t10\n"
        "u5\tcaf\xc3\xa9 \"q\"\t4\t11\nu5\ti2\t1\t12\n";
    ember_error err;
    ember_interactions *d = NULL;
    ember_recommender *r = NULL;
    ember_mf_config c = ember_mf_config_default();
    c.dim = 4;
    c.epochs = 3;
    FUZZ_ASSERT(ember_interactions_load(&d, fuzz_file((const uint8_t *)data, sizeof data - 1),
                                        &err) == EMBER_OK);
    FUZZ_ASSERT(ember_recommender_train_mf(&r, d, &c, NULL, NULL, &err) == EMBER_OK);
    ember_interactions_destroy(d);
    FUZZ_ASSERT(ember__serve_rec_adopt(&gen_, r, &err) == EMBER_OK);
    gen_.version = 1;
}

/* Model index of id (linear: the catalogue is 9 items), or -1. */
static int64_t index_of(const char *id)
{
    for (int64_t i = 0; i < gen_.n_items; i++)
        if (!strcmp(ember_recommender_item_id(gen_.rec, i), id))
            return i;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!gen_.rec)
        setup();
    char *body = fuzz_cstr(data, size); /* the server NUL-terminates the body it collects */
    char msg[SERVE_BODY_MESSAGE_MAX];
    ember__serve_rec_body b;
    int status = ember__serve_parse_rec_body(body, size, &b, msg);
    if (status) {
        FUZZ_ASSERT(status == 400 || status == 413 || status == 500);
        FUZZ_ASSERT(memchr(msg, '\0', sizeof msg) && msg[0]);
        FUZZ_ASSERT(ember__serve_utf8_check(msg, strlen(msg)) == (size_t)-1);
        FUZZ_ASSERT(!b.root && !b.exclude && !b.user && !b.item);
        free(body);
        return 0;
    }
    FUZZ_ASSERT(!b.user != !b.item);
    FUZZ_ASSERT(b.k >= 1 && b.k <= SERVE_REC_MAX_K);
    FUZZ_ASSERT(b.n_exclude >= 0 && b.n_exclude <= SERVE_REC_MAX_EXCLUDE);
    ember_sbuf out = {0};
    ember__sb_put(&out, "{", 1);
    FUZZ_ASSERT(ember__serve_rec_answer(&gen_, &b, &out, msg) == 0);
    FUZZ_ASSERT(!out.oom);
    cJSON *j = cJSON_Parse(out.p);
    FUZZ_ASSERT(j);
    const char *key = b.user ? "user" : "item", *id = b.user ? b.user : b.item;
    FUZZ_ASSERT(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, key)), id));
    FUZZ_ASSERT(cJSON_IsBool(cJSON_GetObjectItem(j, "known")));
    if (b.item)
        FUZZ_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(j, "known")) == (index_of(b.item) >= 0));
    const cJSON *items = cJSON_GetObjectItem(j, "items"), *e;
    int64_t n = cJSON_GetArraySize(items);
    FUZZ_ASSERT(cJSON_IsArray(items) && n <= b.k && n <= gen_.n_items);
    unsigned char seen[16] = {0};
    cJSON_ArrayForEach(e, items)
    {
        int64_t x = index_of(cJSON_GetStringValue(cJSON_GetObjectItem(e, "item")));
        FUZZ_ASSERT(x >= 0 && x < 16 && !seen[x]);
        FUZZ_ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(e, "score")));
        seen[x] = 1;
        FUZZ_ASSERT(!b.item || strcmp(b.item, ember_recommender_item_id(gen_.rec, x)));
        for (int64_t i = 0; i < b.n_exclude; i++)
            FUZZ_ASSERT(strcmp(b.exclude[i], ember_recommender_item_id(gen_.rec, x)));
    }
    cJSON_Delete(j);
    free(out.p);
    ember__serve_rec_body_free(&b);
    free(body);
    return 0;
}
