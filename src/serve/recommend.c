/*
 * recommend.c - POST /v1/recommend of ember_server, for a recommender model
 * file (ember.format "ember-recommender"): the body parser, the loader step
 * that indexes the item ids, GET /v1/model's document, and the answer.
 *
 * The model is used through the public ember_recommender_* calls only
 * (DESIGN.md: serve and recommend meet at the public API), so any model that
 * opaque type holds is served the same way. Those calls take the model
 * const and allocate their own scratch, so every request thread shares one
 * model without a lock or a per-thread copy.
 *
 * What it deliberately doesn't do: remember what a user has seen (the model
 * file does not hold it; a client sends "exclude"), or page through results
 * (k is bounded instead: SERVE_REC_MAX_K).
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#define REC_EXAMPLE "{\"user\": \"196\", \"k\": 10} or {\"item\": \"242\"}"

/* ------------------------------------------------------------ the body */

void ember__serve_rec_body_free(ember__serve_rec_body *b)
{
    free(b->exclude);
    cJSON_Delete(b->root);
    memset(b, 0, sizeof *b);
}

/* A non-empty id string, or a 400 naming the field. */
static int id_field(const cJSON *v, const char *field, const char **out, char *msg)
{
    if (!cJSON_IsString(v))
        return ember__serve_body_fail(msg, 400, "\"%s\" must be a string (an id of the "
                                      "training data)", field);
    if (!v->valuestring[0])
        return ember__serve_body_fail(msg, 400, "\"%s\" is empty", field);
    *out = v->valuestring;
    return 0;
}

int ember__serve_parse_rec_body(const char *body, size_t len, ember__serve_rec_body *out,
                                char *msg)
{
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    int st = ember__serve_parse_object(body, len, REC_EXAMPLE, &root, msg);
    if (st)
        return st;
    const cJSON *user = NULL, *item = NULL, *kk = NULL, *ex = NULL, *it;
    cJSON_ArrayForEach(it, root)
    {
        if (!strcmp(it->string, "user"))
            user = it;
        else if (!strcmp(it->string, "item"))
            item = it;
        else if (!strcmp(it->string, "k"))
            kk = it;
        else if (!strcmp(it->string, "exclude"))
            ex = it;
        else {
            st = ember__serve_body_fail(msg, 400, "unknown field \"%s\" (expected \"user\" or "
                                        "\"item\", and optionally \"k\" and \"exclude\")",
                                        it->string);
            goto done;
        }
    }
    if (!user == !item) {
        st = ember__serve_body_fail(msg, 400, "%s", user ? "give \"user\" or \"item\", not both"
                                    : "missing field \"user\" (or \"item\" for similar items)");
        goto done;
    }
    if ((st = user ? id_field(user, "user", &out->user, msg) : id_field(item, "item", &out->item,
                                                                         msg)))
        goto done;
    out->k = SERVE_REC_DEFAULT_K;
    if (kk) {
        double v = cJSON_IsNumber(kk) ? kk->valuedouble : -1.0;
        if (!(v >= 1.0 && v <= SERVE_REC_MAX_K) || v != (double)(int64_t)v) {
            st = ember__serve_body_fail(msg, 400, "\"k\" must be a whole number in 1..%d",
                                        SERVE_REC_MAX_K);
            goto done;
        }
        out->k = (int64_t)v;
    }
    if (ex) {
        int64_t n = cJSON_IsArray(ex) ? cJSON_GetArraySize(ex) : -1;
        if (n < 0) {
            st = ember__serve_body_fail(msg, 400, "\"exclude\" must be an array of item ids");
            goto done;
        }
        if (n > SERVE_REC_MAX_EXCLUDE) {
            st = ember__serve_body_fail(msg, 413, "\"exclude\" has %lld ids; the limit is %d",
                                        (long long)n, SERVE_REC_MAX_EXCLUDE);
            goto done;
        }
        if (n > 0 && !(out->exclude = malloc((size_t)n * sizeof *out->exclude))) {
            st = ember__serve_body_fail(msg, 500, "out of memory");
            goto done;
        }
        int64_t i = 0;
        cJSON_ArrayForEach(it, ex)
        {
            if (!cJSON_IsString(it)) {
                st = ember__serve_body_fail(msg, 400, "exclude[%lld] is not a string",
                                            (long long)i);
                goto done;
            }
            out->exclude[i++] = it->valuestring;
        }
        out->n_exclude = n;
    }
done:
    if (st) {
        free(out->exclude);
        memset(out, 0, sizeof *out);
        cJSON_Delete(root);
        return st;
    }
    out->root = root;
    return 0;
}

/* ------------------------------------------------------------ the model */

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const rec_item *)a)->id, ((const rec_item *)b)->id);
}

/* Model index of item id, or -1. */
static int64_t find_item(const generation *g, const char *id)
{
    rec_item key = {id, 0};
    const rec_item *hit = bsearch(&key, g->items, (size_t)g->n_items, sizeof key, item_cmp);
    return hit ? hit->index : -1;
}

ember_status ember__serve_rec_load(generation *g, const char *path, ember_error *err)
{
    ember_recommender *rec = NULL;
    ember_status st = ember_recommender_load(&rec, path, err);
    if (!st && (st = ember__serve_rec_adopt(g, rec, err)))
        ember__error_prefix(err, "%s", path);
    return st;
}

ember_status ember__serve_rec_adopt(generation *g, ember_recommender *rec, ember_error *err)
{
    g->kind = GEN_RECOMMENDER;
    g->rec = rec;
    int64_t n = ember_recommender_item_count(rec);
    g->items = malloc((size_t)(n > 0 ? n : 1) * sizeof *g->items);
    if (!g->items)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory indexing %lld items", (long long)n);
    for (int64_t i = 0; i < n; i++)
        g->items[i] = (rec_item){ember_recommender_item_id(rec, i), i};
    qsort(g->items, (size_t)n, sizeof *g->items, item_cmp);
    g->n_items = n;
    return EMBER_OK;
}

void ember__serve_rec_free(generation *g)
{
    free(g->items);
    ember_recommender_destroy(g->rec);
    g->items = NULL;
    g->rec = NULL;
}

/* A float with float precision (0.1, not 0.100000001) into object o. */
static void add_float(cJSON *o, const char *key, float v)
{
    char fb[32];
    snprintf(fb, sizeof fb, "%.7g", (double)v);
    cJSON_AddNumberToObject(o, key, strtod(fb, NULL));
}

ember_status ember__serve_rec_info(generation *g, const char *path, ember_error *err)
{
    const ember_mf_config *c = ember_recommender_config(g->rec);
    const ember_two_tower_config *t = ember_recommender_two_tower_config(g->rec);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "recommender");
    cJSON_AddStringToObject(o, "model", ember_recommender_model(g->rec));
    cJSON_AddNumberToObject(o, "version", (double)g->version);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "sha256", g->sha256);
    cJSON_AddNumberToObject(o, "users", (double)ember_recommender_user_count(g->rec));
    cJSON_AddNumberToObject(o, "items", (double)ember_recommender_item_count(g->rec));
    cJSON_AddNumberToObject(o, "cold_users", (double)ember_recommender_cold_users(g->rec));
    cJSON_AddNumberToObject(o, "cold_items", (double)ember_recommender_cold_items(g->rec));
    cJSON *s = cJSON_AddObjectToObject(o, "settings");
    if (c) {
        cJSON_AddStringToObject(s, "loss", c->loss == EMBER_MF_LOSS_BPR ? "bpr" : "mse");
        cJSON_AddNumberToObject(s, "dim", (double)c->dim);
        cJSON_AddNumberToObject(s, "epochs", c->epochs);
        add_float(s, "l2", c->l2);
        add_float(s, "l2_bias", c->l2_bias);
        cJSON_AddNumberToObject(s, "seed", (double)c->seed);
    } else if (t) {
        cJSON_AddNumberToObject(s, "dim", (double)t->dim);
        cJSON_AddNumberToObject(s, "id_dim", (double)t->id_dim);
        cJSON_AddNumberToObject(s, "hidden", (double)t->hidden);
        cJSON_AddNumberToObject(s, "epochs", t->epochs);
        cJSON_AddNumberToObject(s, "negatives", (double)t->negatives);
        add_float(s, "id_dropout", t->id_dropout);
        cJSON_AddNumberToObject(s, "seed", (double)t->seed);
    }
    cJSON_AddNumberToObject(o, "default_k", SERVE_REC_DEFAULT_K);
    cJSON_AddNumberToObject(o, "max_k", SERVE_REC_MAX_K);
    g->info = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!g->info)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    return EMBER_OK;
}

/* ------------------------------------------------------------ the answer */

/* "items":[...] of the n results, leaving out those flagged in skip (NULL:
 * none), at most k. */
static void items_json(ember_sbuf *out, const generation *g, const int64_t *items,
                       const float *scores, int n, const unsigned char *skip, int64_t k)
{
    ember__sb_put(out, ",\"items\":[", 10);
    int64_t shown = 0;
    for (int j = 0; j < n && shown < k; j++) {
        if (skip && skip[items[j]])
            continue;
        ember__sb_put(out, shown ? ",{\"item\":" : "{\"item\":", shown ? 9 : 8);
        ember__serve_sb_json(out, ember_recommender_item_id(g->rec, items[j]));
        ember__sb_printf(out, ",\"score\":%.6g}", (double)scores[j]);
        shown++;
    }
    ember__sb_put(out, "]}", 2);
}

int ember__serve_rec_answer(const generation *g, const ember__serve_rec_body *b, ember_sbuf *out,
                            char *msg)
{
    const int64_t I = g->n_items;
    int64_t k = b->k < I ? b->k : I;
    /* exclude: the ids the model knows, as indices; unknown ids are ignored
     * (an item the model does not know is never recommended anyway) */
    int64_t *ex = malloc((size_t)(b->n_exclude > 0 ? b->n_exclude : 1) * sizeof *ex), nex = 0;
    int64_t *items = malloc((size_t)(I > 0 ? I : 1) * sizeof *items);
    float *scores = malloc((size_t)(I > 0 ? I : 1) * sizeof *scores);
    unsigned char *skip = b->item && b->n_exclude ? calloc((size_t)(I > 0 ? I : 1), 1) : NULL;
    int status = 0, n = 0;
    ember_error err;
    if (!ex || !items || !scores || (b->item && b->n_exclude && !skip)) {
        status = ember__serve_body_fail(msg, 500, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < b->n_exclude; i++) {
        int64_t x = find_item(g, b->exclude[i]);
        if (x >= 0)
            ex[nex++] = x;
    }
    if (b->user) {
        /* known: the model has factors for the user (bit 0 of predict's
         * flags); an unknown user gets the model's fallback ranking */
        int known = 0;
        if (I > 0)
            ember_recommender_predict(g->rec, b->user, ember_recommender_item_id(g->rec, 0),
                                      &known);
        ember__sb_put(out, "\"user\":", 7);
        ember__serve_sb_json(out, b->user);
        ember__sb_printf(out, ",\"known\":%s", known & 1 ? "true" : "false");
        if (k > 0 && ember_recommender_top_k(g->rec, b->user, (int)k, ex, nex, items, scores, &n,
                                             &err))
            status = ember__serve_body_fail(msg, 500, "recommend failed: %s", err.message);
        else
            items_json(out, g, items, scores, n, NULL, k);
    } else {
        int known = find_item(g, b->item) >= 0;
        ember__sb_put(out, "\"item\":", 7);
        ember__serve_sb_json(out, b->item);
        ember__sb_printf(out, ",\"known\":%s", known ? "true" : "false");
        /* the excluded items are dropped from a longer list: k + how many
         * of them there are, at most every other item */
        int64_t want = k + nex < I - 1 ? k + nex : I - 1;
        for (int64_t i = 0; i < nex; i++)
            skip[ex[i]] = 1;
        if (known && want > 0 &&
            ember_recommender_similar(g->rec, b->item, (int)want, items, scores, &n, &err))
            status = ember__serve_body_fail(msg, 500, "similar failed: %s", err.message);
        else
            items_json(out, g, items, scores, known ? n : 0, skip, k);
    }
done:
    free(ex);
    free(items);
    free(scores);
    free(skip);
    return status;
}
