/*
 * test_serve_recommend.c - ember_server with a recommender model file
 * (POST /v1/recommend) over real sockets on an ephemeral loopback port: the
 * served top-K lists and similar items equal ember_recommender_top_k /
 * _similar on the same file (items in order, scores to the printed
 * precision), "exclude" (known ids left out, unknown ids ignored), the
 * default and the capped k, unknown users and items, every refused body
 * (400 naming the field, 413), /v1/predict and /v1/recommend each refused
 * for the other kind of model, /v1/model and /metrics, settings that go with
 * a text model only, a reload, clients in parallel, and a two-tower model
 * behind the same endpoint. Also the format probe ember_file_format. The model is trained here on made-up ratings.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"
#include "serve_client.h"

#include <pthread.h>

#include <cJSON.h>

#define DIR EMBER_BUILD_DIR "/serve_recommend_test"
/* The server prints scores with %.6g: 6 significant digits. */
#define SCORE_REL_TOL 1e-5

enum { USERS = 30, ITEMS = 20 };

/* Made-up ratings of users u1..u30 for items i1..i20 (two pairs in three
 * rated), an MF model (or a two-tower one) on them, saved at path. */
static int train_model(const char *path, uint64_t seed, int two_tower)
{
    char data[512];
    snprintf(data, sizeof data, "%s/ratings.tsv", DIR);
    FILE *f = fopen(data, "w");
    if (!f)
        return 0;
    for (int u = 1; u <= USERS; u++)
        for (int i = 1; i <= ITEMS; i++)
            if ((u + i) % 3)
                fprintf(f, "u%d\ti%d\t%d\t%d\n", u, i, 1 + (u * 7 + i * 3) % 5, u * 100 + i);
    fclose(f);
    ember_error err;
    ember_interactions *d = NULL;
    ember_recommender *r = NULL;
    ember_mf_config c = ember_mf_config_default();
    c.dim = 8;
    c.epochs = 20;
    c.seed = seed;
    /* the two-tower model: small and quick, ids only */
    ember_two_tower_config t = ember_two_tower_config_default();
    t.dim = t.id_dim = 8;
    t.hidden = 0;
    t.epochs = 3;
    t.negatives = 8;
    t.batch_size = 32;
    t.seed = seed;
    int ok = !ember_interactions_load(&d, data, &err) &&
             !(two_tower ? ember_recommender_train_two_tower(&r, d, NULL, NULL, &t, NULL, NULL, &err)
                         : ember_recommender_train_mf(&r, d, &c, NULL, NULL, &err)) &&
             !ember_recommender_save(r, path, &err);
    if (!ok)
        fprintf(stderr, "train_model: %s\n", err.message);
    ember_recommender_destroy(r);
    ember_interactions_destroy(d);
    return ok;
}

static int post_to(int port, const char *path, const char *json, resp *r)
{
    return http(port, "POST", path, "application/json", json, strlen(json), r);
}

/* POST /v1/recommend: status `status` and, for errors, a message holding
 * needle (JSON-escaped as the server writes it). */
static void expect_status(int port, const char *path, const char *body, int status,
                          const char *needle)
{
    resp r;
    int rc = post_to(port, path, body, &r);
    CHECK_MSG(rc == 0 && r.status == status && r.body && strstr(r.body, needle),
              "%s %.80s: status %d (want %d), body %s (want \"%s\")", path, body, r.status,
              status, r.body ? r.body : "(none)", needle);
    resp_free(&r);
}

/* The served list of `body` must equal items[0..n) / scores of the API,
 * with "known" as given and the id echoed under key. */
static void expect_list(int port, const char *body, const ember_recommender *rec, const char *key,
                        const char *id, int known, const int64_t *items, const float *scores,
                        int n)
{
    resp r;
    int rc = post_to(port, "/v1/recommend", body, &r);
    cJSON *j = rc == 0 && r.status == 200 ? cJSON_Parse(r.body) : NULL;
    const cJSON *list = cJSON_GetObjectItem(j, "items");
    int same = j && cJSON_GetArraySize(list) == n &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, key)) ? cJSON_GetStringValue(
                           cJSON_GetObjectItem(j, key)) : "", id) &&
               cJSON_IsBool(cJSON_GetObjectItem(j, "known")) &&
               cJSON_IsTrue(cJSON_GetObjectItem(j, "known")) == known &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(j, "model_version")) >= 1;
    for (int i = 0; same && i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(list, i);
        const char *got = cJSON_GetStringValue(cJSON_GetObjectItem(e, "item"));
        double s = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "score"));
        same = got && !strcmp(got, ember_recommender_item_id(rec, items[i])) &&
               fabs(s - scores[i]) <= SCORE_REL_TOL * fabs(scores[i]) + 1e-6;
    }
    CHECK_MSG(same, "%s: status %d, got %s (want %d items, the first %s)", body, r.status,
              r.body ? r.body : "(none)", n, n ? ember_recommender_item_id(rec, items[0]) : "-");
    cJSON_Delete(j);
    resp_free(&r);
}

static ember_server *start(const char *model, ember_error *err)
{
    ember_server_config cfg = ember_server_config_default();
    cfg.model_path = model;
    cfg.port = 0;
    ember_server *s = NULL;
    if (ember_server_create(&s, &cfg, err))
        return NULL;
    return s;
}

/* ids of the API's lists, for building bodies */
static const char *id_of(const ember_recommender *rec, int64_t k)
{
    return ember_recommender_item_id(rec, k);
}

static void test_lists(const char *model)
{
    ember_error err;
    ember_recommender *rec = NULL;
    CHECK_OK(ember_recommender_load(&rec, model, &err), &err);
    ember_server *s = start(model, &err);
    CHECK_MSG(s != NULL, "%s", err.message);
    if (!s || !rec) {
        ember_server_destroy(s);
        ember_recommender_destroy(rec);
        return;
    }
    int port = ember_server_port(s);
    expect_status(port, "/v1/recommend", "{\"user\":\"u1\"}", 503, "no model");
    CHECK_OK(ember_server_load(s, &err), &err);

    int64_t items[ITEMS];
    float scores[ITEMS];
    int n = 0;
    char body[1024];
    /* every known user, k = 5 */
    for (int u = 1; u <= USERS; u++) {
        char user[16];
        snprintf(user, sizeof user, "u%d", u);
        CHECK_OK(ember_recommender_top_k(rec, user, 5, NULL, 0, items, scores, &n, &err), &err);
        snprintf(body, sizeof body, "{\"user\": \"%s\", \"k\": 5}", user);
        expect_list(port, body, rec, "user", user, 1, items, scores, n);
    }
    /* the default k is 10; a k above the catalogue gives every item */
    CHECK_OK(ember_recommender_top_k(rec, "u2", 10, NULL, 0, items, scores, &n, &err), &err);
    CHECK(n == 10);
    expect_list(port, "{\"user\":\"u2\"}", rec, "user", "u2", 1, items, scores, n);
    CHECK_OK(ember_recommender_top_k(rec, "u2", ITEMS, NULL, 0, items, scores, &n, &err), &err);
    CHECK(n == ITEMS);
    expect_list(port, "{\"user\":\"u2\",\"k\":1000}", rec, "user", "u2", 1, items, scores, n);
    /* an unknown user: known false, the model's fallback list */
    CHECK_OK(ember_recommender_top_k(rec, "stranger", 3, NULL, 0, items, scores, &n, &err), &err);
    expect_list(port, "{\"user\":\"stranger\",\"k\":3}", rec, "user", "stranger", 0, items,
                scores, n);

    /* exclude: u3's first two items and an id the model does not know */
    int64_t top[ITEMS];
    CHECK_OK(ember_recommender_top_k(rec, "u3", 4, NULL, 0, top, scores, &n, &err), &err);
    CHECK_OK(ember_recommender_top_k(rec, "u3", 4, top, 2, items, scores, &n, &err), &err);
    snprintf(body, sizeof body, "{\"user\":\"u3\",\"k\":4,\"exclude\":[\"%s\",\"no-such-item\","
             "\"%s\"]}", id_of(rec, top[0]), id_of(rec, top[1]));
    expect_list(port, body, rec, "user", "u3", 1, items, scores, n);
    CHECK(items[0] != top[0] && items[0] != top[1] && items[1] != top[0]);
    /* an empty exclude list is no exclusion */
    CHECK_OK(ember_recommender_top_k(rec, "u3", 4, NULL, 0, items, scores, &n, &err), &err);
    expect_list(port, "{\"user\":\"u3\",\"k\":4,\"exclude\":[]}", rec, "user", "u3", 1, items,
                scores, n);

    /* similar items (cosine) */
    CHECK_OK(ember_recommender_similar(rec, "i2", 4, items, scores, &n, &err), &err);
    CHECK(n == 4);
    expect_list(port, "{\"item\":\"i2\",\"k\":4}", rec, "item", "i2", 1, items, scores, n);
    /* ... with its first two left out: the next four */
    CHECK_OK(ember_recommender_similar(rec, "i2", 6, top, scores, &n, &err), &err);
    snprintf(body, sizeof body, "{\"item\":\"i2\",\"k\":4,\"exclude\":[\"%s\",\"%s\",\"zz\"]}",
             id_of(rec, top[0]), id_of(rec, top[1]));
    expect_list(port, body, rec, "item", "i2", 1, top + 2, scores + 2, 4);
    /* every other item at most */
    CHECK_OK(ember_recommender_similar(rec, "i2", ITEMS - 1, items, scores, &n, &err), &err);
    CHECK(n == ITEMS - 1);
    expect_list(port, "{\"item\":\"i2\",\"k\":100}", rec, "item", "i2", 1, items, scores, n);
    /* an unknown item: known false, no items */
    expect_list(port, "{\"item\":\"i999\"}", rec, "item", "i999", 0, NULL, NULL, 0);
    /* ids are JSON strings: escapes and UTF-8 come back escaped, unchanged */
    expect_list(port, "{\"item\":\"a \\\"quoted\\\" caf\xc3\xa9\"}", rec, "item",
                "a \"quoted\" caf\xc3\xa9", 0, NULL, NULL, 0);

    /* refused bodies: 400 naming the field */
    const char *P = "/v1/recommend";
    expect_status(port, P, "", 400, "empty body");
    expect_status(port, P, "{\"user\":", 400, "not valid JSON");
    expect_status(port, P, "[\"u1\"]", 400, "expected a JSON object");
    expect_status(port, P, "{}", 400, "missing field \\\"user\\\"");
    expect_status(port, P, "{\"k\":3}", 400, "missing field \\\"user\\\"");
    expect_status(port, P, "{\"user\":\"u1\",\"item\":\"i1\"}", 400, "not both");
    expect_status(port, P, "{\"user\":5}", 400, "\\\"user\\\" must be a string");
    expect_status(port, P, "{\"user\":null}", 400, "\\\"user\\\" must be a string");
    expect_status(port, P, "{\"user\":\"\"}", 400, "\\\"user\\\" is empty");
    expect_status(port, P, "{\"item\":[\"i1\"]}", 400, "\\\"item\\\" must be a string");
    expect_status(port, P, "{\"user\":\"u1\",\"k\":0}", 400, "\\\"k\\\" must be a whole number in 1..1000");
    expect_status(port, P, "{\"user\":\"u1\",\"k\":-3}", 400, "\\\"k\\\" must be");
    expect_status(port, P, "{\"user\":\"u1\",\"k\":1001}", 400, "\\\"k\\\" must be");
    expect_status(port, P, "{\"user\":\"u1\",\"k\":1e300}", 400, "\\\"k\\\" must be");
    expect_status(port, P, "{\"user\":\"u1\",\"k\":2.5}", 400, "\\\"k\\\" must be");
    expect_status(port, P, "{\"user\":\"u1\",\"k\":\"3\"}", 400, "\\\"k\\\" must be");
    expect_status(port, P, "{\"user\":\"u1\",\"exclude\":\"i1\"}", 400,
                  "\\\"exclude\\\" must be an array");
    expect_status(port, P, "{\"user\":\"u1\",\"exclude\":[\"i1\",7]}", 400,
                  "exclude[1] is not a string");
    expect_status(port, P, "{\"user\":\"u1\",\"count\":3}", 400, "unknown field \\\"count\\\"");
    expect_status(port, P, "{\"user\":\"a\\u0000b\"}", 400, "NUL");
    expect_status(port, P, "{\"user\":\"caf\xe9\"}", 400, "not valid UTF-8");
    /* 413: more exclude ids than the limit */
    {
        size_t cap = 10001 * 6 + 64, len = 0;
        char *big = malloc(cap);
        len += (size_t)snprintf(big, cap, "{\"user\":\"u1\",\"exclude\":[");
        for (int i = 0; i < 10001; i++)
            len += (size_t)snprintf(big + len, cap - len, "%s\"x\"", i ? "," : "");
        snprintf(big + len, cap - len, "]}");
        expect_status(port, P, big, 413, "the limit is 10000");
        free(big);
    }
    /* the other kind's endpoint, methods, content type */
    expect_status(port, "/v1/predict", "{\"text\":\"hello\"}", 404,
                  "the loaded model is a recommender: use POST /v1/recommend");
    resp r;
    CHECK(get(port, "/v1/recommend", &r) == 0 && r.status == 405 && strstr(r.headers, "Allow: POST"));
    resp_free(&r);
    CHECK(http(port, "POST", P, "text/plain", "{\"user\":\"u1\"}", 13, &r) == 0 && r.status == 415);
    resp_free(&r);

    /* the model document and the metrics */
    CHECK(get(port, "/v1/model", &r) == 0 && r.status == 200);
    cJSON *j = cJSON_Parse(r.body);
    CHECK_MSG(j && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "recommender") &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(j, "users")) == USERS &&
                  !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "model")), "mf") &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(j, "items")) == ITEMS &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "settings"),
                                                           "dim")) == 8 &&
                  !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "settings"),
                                                                   "loss")), "mse") &&
                  strlen(cJSON_GetStringValue(cJSON_GetObjectItem(j, "sha256"))) == 64,
              "%s", r.body);
    cJSON_Delete(j);
    resp_free(&r);
    /* 30 + 2 + 1 + 2 (exclude) + 4 (similar) + 1 (escaped id) lists answered */
    CHECK(get_settled_metrics(port, &r) == 0);
    CHECK_MSG(r.body && metric(r.body, "ember_recommendations_total ") == 40 &&
                  metric(r.body, "ember_http_requests_total{code=\"400\"} ") == 21 &&
                  metric(r.body, "ember_http_requests_total{code=\"404\"} ") == 1 &&
                  metric(r.body, "ember_predictions_total ") == 0 &&
                  strstr(r.body, "kind=\"recommender\",users=\"30\",items=\"20\"} 1"),
              "%s", r.body);
    resp_free(&r);
    ember_server_destroy(s);
    ember_recommender_destroy(rec);
}

/* Clients in parallel all get the API's list: the model is shared by the
 * server's threads without a lock. */
typedef struct client {
    int port, n, ok;
    const char *want; /* the expected body */
} client;

static void *client_run(void *arg)
{
    client *c = arg;
    for (int i = 0; i < c->n; i++) {
        resp r;
        if (post_to(c->port, "/v1/recommend", "{\"user\":\"u7\",\"k\":6}", &r) == 0 &&
            r.status == 200 && !strcmp(r.body, c->want))
            c->ok++;
        resp_free(&r);
    }
    return NULL;
}

/* model is overwritten (a copy of the trained model: main passes one) */
static void test_parallel_and_reload(const char *model, const char *model2)
{
    ember_error err;
    ember_server_config cfg = ember_server_config_default();
    cfg.model_path = model;
    cfg.port = 0;
    cfg.threads = 4;
    ember_server *s = NULL;
    CHECK_OK(ember_server_create(&s, &cfg, &err), &err);
    if (!s)
        return;
    CHECK_OK(ember_server_load(s, &err), &err);
    int port = ember_server_port(s);
    resp first;
    CHECK(post_to(port, "/v1/recommend", "{\"user\":\"u7\",\"k\":6}", &first) == 0 &&
          first.status == 200);
    client c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (client){port, 50, 0, first.body};
        pthread_create(&th[i], NULL, client_run, &c[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += c[i].ok;
    }
    CHECK_MSG(ok == 200, "%d of 200 parallel answers equal the first", ok);
    resp_free(&first);
    /* the file replaced by another model (another seed) and reloaded:
     * version 2 answers with the new model's lists */
    ember_recommender *r2 = NULL;
    CHECK_OK(ember_recommender_load(&r2, model2, &err), &err);
    CHECK(copy_file(model2, model));
    CHECK_OK(ember_server_load(s, &err), &err);
    CHECK(ember_server_model_version(s) == 2);
    port = ember_server_port(s);
    int64_t items[6];
    float scores[6];
    int n = 0;
    CHECK_OK(ember_recommender_top_k(r2, "u7", 6, NULL, 0, items, scores, &n, &err), &err);
    expect_list(port, "{\"user\":\"u7\",\"k\":6}", r2, "user", "u7", 1, items, scores, n);
    resp r;
    CHECK(post_to(port, "/v1/recommend", "{\"user\":\"u7\"}", &r) == 0 &&
          strstr(r.body, "\"model_version\":2,"));
    resp_free(&r);
    ember_recommender_destroy(r2);
    ember_server_destroy(s);
}

/* A text model's server refuses /v1/recommend; settings of a text model
 * are refused with a recommender; the format probe. */
static void test_kinds_and_probe(const char *model)
{
    ember_error err;
    /* a small classifier file (no text pipeline: ember_server_load refuses
     * it, which is beside the point here) for the probe */
    char dense[512], junk[512], fmt[64];
    snprintf(dense, sizeof dense, "%s/dense.safetensors", DIR);
    snprintf(junk, sizeof junk, "%s/junk.bin", DIR);
    ember_model *m = NULL;
    int64_t in = 4;
    ember_optimizer_config o = ember_optimizer_sgd(0.1f, 0.0f, 0);
    CHECK_OK(ember_model_create(&m, 1, &in, 1, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 2, EMBER_ACT_SOFTMAX, &err), &err);
    CHECK_OK(ember_model_compile(m, &o, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    CHECK_OK(ember_model_save(m, dense, &err), &err);
    ember_model_destroy(m);
    CHECK_OK(ember_file_format(model, fmt, sizeof fmt, &err), &err);
    CHECK(!strcmp(fmt, EMBER_FILE_FORMAT_RECOMMENDER));
    CHECK_OK(ember_file_format(dense, fmt, sizeof fmt, &err), &err);
    CHECK(!strcmp(fmt, EMBER_FILE_FORMAT_MODEL));
    CHECK_ERR(ember_file_format(model, fmt, 5, &err), EMBER_ERR_FORMAT, &err, "longer than 4 bytes");
    write_file(junk, "not a model");
    CHECK_ERR(ember_file_format(junk, fmt, sizeof fmt, &err), EMBER_ERR_FORMAT, &err,
              "junk.bin: not an Ember file (safetensors header length");
    write_file(junk, "abc");
    CHECK_ERR(ember_file_format(junk, fmt, sizeof fmt, &err), EMBER_ERR_FORMAT, &err,
              "junk.bin: not an Ember file (shorter than");
    /* a header length of 4 holding "[1] " (not an object) */
    FILE *f = fopen(junk, "wb");
    if (f) {
        fwrite("\x04\0\0\0\0\0\0\0[1] ", 1, 12, f);
        fclose(f);
    }
    CHECK_ERR(ember_file_format(junk, fmt, sizeof fmt, &err), EMBER_ERR_FORMAT, &err,
              "the header is not a JSON object");
    f = fopen(junk, "wb");
    if (f) {
        fwrite("\x10\0\0\0\0\0\0\0{}", 1, 10, f);
        fclose(f);
    }
    CHECK_ERR(ember_file_format(junk, fmt, sizeof fmt, &err), EMBER_ERR_FORMAT, &err,
              "ends inside its 16-byte header");
    CHECK_ERR(ember_file_format(DIR "/none.st", fmt, sizeof fmt, &err), EMBER_ERR_IO, &err,
              "none.st: cannot open");
    CHECK_ERR(ember_file_format(NULL, fmt, sizeof fmt, &err), EMBER_ERR_ARG, &err, "NULL");

    /* settings of a text model, given with a recommender: refused at load */
    ember_server_config cfg = ember_server_config_default();
    cfg.model_path = model;
    cfg.port = 0;
    cfg.answers_path = junk;
    ember_server *s = NULL;
    CHECK_OK(ember_server_create(&s, &cfg, &err), &err);
    CHECK_ERR(ember_server_load(s, &err), EMBER_ERR_ARG, &err, "an answers file");
    ember_server_destroy(s);
    cfg.answers_path = NULL;
    cfg.threshold = 0.5;
    CHECK_OK(ember_server_create(&s, &cfg, &err), &err);
    CHECK_ERR(ember_server_load(s, &err), EMBER_ERR_ARG, &err, "threshold goes with a text model");
    ember_server_destroy(s);
    /* a corrupt recommender file: the recommender loader's message */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/truncated.st", DIR);
    FILE *a = fopen(model, "rb"), *b = fopen(bad, "wb");
    if (a && b) {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, a);
        fwrite(buf, 1, n > 100 ? n - 100 : n, b); /* the header and part of the data */
    }
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    cfg.threshold = -1;
    cfg.model_path = bad;
    CHECK_OK(ember_server_create(&s, &cfg, &err), &err);
    ember_status st = ember_server_load(s, &err);
    CHECK_MSG(st != EMBER_OK && strstr(err.message, "truncated.st") &&
                  !strstr(err.message, "not an Ember model"),
              "status %d: %s", (int)st, err.message);
    ember_server_destroy(s);
}

/* A two-tower model (ids only) behind the same endpoint: its lists equal
 * the API's, and /v1/model names it. */
static void test_two_tower(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/two_tower.safetensors", DIR);
    ember_error err;
    ember_recommender *rec = NULL;
    CHECK(train_model(path, 42, 1));
    CHECK_OK(ember_recommender_load(&rec, path, &err), &err);
    CHECK(rec && !strcmp(ember_recommender_model(rec), "two-tower"));
    ember_server *s = start(path, &err);
    CHECK_MSG(s != NULL, "%s", err.message);
    if (!s || !rec) {
        ember_server_destroy(s);
        ember_recommender_destroy(rec);
        return;
    }
    CHECK_OK(ember_server_load(s, &err), &err);
    int port = ember_server_port(s);
    int64_t items[ITEMS];
    float scores[ITEMS];
    int n = 0;
    char body[256];
    static const char *const users[] = {"u1", "u9", "u30", "stranger"};
    for (int i = 0; i < 4; i++) {
        CHECK_OK(ember_recommender_top_k(rec, users[i], 6, NULL, 0, items, scores, &n, &err),
                 &err);
        snprintf(body, sizeof body, "{\"user\":\"%s\",\"k\":6}", users[i]);
        expect_list(port, body, rec, "user", users[i], i < 3, items, scores, n);
    }
    CHECK_OK(ember_recommender_similar(rec, "i5", 3, items, scores, &n, &err), &err);
    expect_list(port, "{\"item\":\"i5\",\"k\":3}", rec, "item", "i5", 1, items, scores, n);
    resp r;
    CHECK(get(port, "/v1/model", &r) == 0 && r.status == 200 &&
          strstr(r.body, "\"kind\":\"recommender\",\"model\":\"two-tower\"") &&
          strstr(r.body, "\"id_dim\":8"));
    resp_free(&r);
    ember_server_destroy(s);
    ember_recommender_destroy(rec);
}

int main(void)
{
    if (system("mkdir -p " DIR) != 0)
        return 1;
    char model[512], model2[512];
    snprintf(model, sizeof model, "%s/rec.safetensors", DIR);
    snprintf(model2, sizeof model2, "%s/rec2.safetensors", DIR);
    CHECK(train_model(model, 42, 0));
    CHECK(train_model(model2, 7, 0));
    test_lists(model);
    char live[512];
    snprintf(live, sizeof live, "%s/live.safetensors", DIR);
    CHECK(copy_file(model, live));
    test_parallel_and_reload(live, model2);
    test_kinds_and_probe(model);
    test_two_tower();
    return check_summary("serve_recommend");
}
