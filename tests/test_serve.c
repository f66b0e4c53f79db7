/*
 * test_serve.c - ember_server end to end over real sockets on an ephemeral
 * loopback port: every endpoint, the hand-off rule, batches, every error
 * status (400, 403 is not reachable from loopback, 404, 405, 413, 415, 503
 * before the model is loaded), keep-alive, hot reload with a good and a
 * corrupt replacement file while clients keep sending, the calibrated
 * threshold, answers-file errors, and a graceful stop that lets a request
 * in flight finish. The model is trained here on made-up sentences.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"
#include "serve_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#define DIR EMBER_BUILD_DIR "/serve_test"

/* ------------------------------------------------------------- fixtures */

static const char *const CARD[] = {
    "my card has not arrived yet", "when will my new card arrive", "still waiting for my card",
    "the card I ordered never came", "how long does card delivery take", "where is my card",
    "card not delivered", "I have not received my card", "did you send my card already",
    "track the delivery of my card"};
static const char *const TOPUP[] = {
    "my top up failed", "why did the top-up not work", "top up was declined",
    "I could not top up my account", "the top up did not go through", "failed to add money",
    "adding money failed again", "top up error", "top up keeps failing", "cannot top up"};
static const char *const PIN[] = {
    "how do I change my pin", "I want a new pin", "reset my pin please", "change the pin code",
    "where can I change my pin", "pin change", "set a different pin", "update my pin number",
    "my pin needs changing", "can I pick my own pin"};

/* Train a tiny text model on the sentences above (labels from `names`) and
 * save it with its pipeline, like `ember train` does. */
static int train_model(const char *path, const char *const names[3], int epochs, uint64_t seed)
{
    enum { PER = 10, N = 3 * PER };
    const char *texts[N], *labels[N];
    for (int i = 0; i < PER; i++) {
        texts[i] = CARD[i];
        labels[i] = names[0];
        texts[PER + i] = TOPUP[i];
        labels[PER + i] = names[1];
        texts[2 * PER + i] = PIN[i];
        labels[2 * PER + i] = names[2];
    }
    ember_error err;
    ember_text_dataset *d = NULL;
    ember_pipeline *p = NULL;
    ember_ragged *ids = NULL;
    ember_tensor *y = NULL;
    ember_model *m = NULL;
    char *pj = NULL;
    ember_text_options opt = ember_text_options_default();
    opt.buckets = 1000;
    int ok = !ember_text_dataset_create(&d, N, texts, labels, &err) &&
             !ember_pipeline_create(&p, &opt, &err) && !ember_pipeline_fit(p, d, &err) &&
             !ember_pipeline_encode(p, d, &ids, &y, &err) &&
             !ember_model_create_from_arch(&m, "embedding 16\nglobal_average_pooling1d\n"
                                           "dense 16 relu\ndense classes softmax\n", "test",
                                           ember_pipeline_input_dim(p), 3, seed, &err);
    ember_optimizer_config o = ember_optimizer_adam(0.02f);
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = epochs;
    fc.batch_size = 8;
    ok = ok && !ember_model_compile(m, &o, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err) &&
         !ember_model_fit_ids(m, ids, y, &fc, NULL, &err) && !ember_pipeline_to_json(p, &pj, &err) &&
         !ember_model_set_metadata(m, EMBER_META_TEXT_PIPELINE, pj, &err) &&
         !ember_model_save(m, path, &err);
    if (!ok)
        fprintf(stderr, "train_model: %s\n", err.message);
    free(pj);
    ember_model_destroy(m);
    ember_tensor_destroy(y);
    ember_ragged_destroy(ids);
    ember_pipeline_destroy(p);
    ember_text_dataset_destroy(d);
    return ok;
}

static int post(int port, const char *json, resp *r)
{
    return http(port, "POST", "/v1/predict", "application/json", json, strlen(json), r);
}

/* Status of a POST /v1/predict, and the error message must contain needle. */
static void expect_error(int port, const char *ctype, const char *body, size_t blen, int status,
                         const char *needle)
{
    resp r;
    int rc = http(port, "POST", "/v1/predict", ctype, body, blen, &r);
    CHECK_MSG(rc == 0 && r.status == status && r.body && strstr(r.body, needle) &&
                  strstr(r.headers, "application/json"),
              "body %.60s: status %d (want %d), body %s (want \"%s\")", body, r.status, status,
              r.body ? r.body : "(none)", needle);
    resp_free(&r);
}

/* ----------------------------------------------------------------- tests */

static const char *const NAMES[3] = {"card_arrival", "top_up_failed", "change_pin"};

static ember_server *start(ember_server_config *cfg)
{
    ember_error err;
    ember_server *s = NULL;
    cfg->port = 0;
    if (ember_server_create(&s, cfg, &err)) {
        fprintf(stderr, "server: %s\n", err.message);
        return NULL;
    }
    return s;
}

static void test_before_ready_and_endpoints(const char *model, const char *answers)
{
    ember_server_config cfg = ember_server_config_default();
    cfg.model_path = model;
    cfg.answers_path = answers;
    cfg.max_body = 4096;
    cfg.max_texts = 4;
    ember_server *s = start(&cfg);
    CHECK(s != NULL);
    if (!s)
        return;
    int port = ember_server_port(s);
    CHECK(port > 0);
    resp r;
    /* listening, not ready */
    CHECK(get(port, "/healthz", &r) == 0 && r.status == 200 && strstr(r.body, "ok"));
    resp_free(&r);
    CHECK(get(port, "/readyz", &r) == 0 && r.status == 503);
    resp_free(&r);
    CHECK(get(port, "/v1/model", &r) == 0 && r.status == 503);
    resp_free(&r);
    expect_error(port, "application/json", "{\"text\":\"hi\"}", 13, 503, "no model");
    CHECK(!ember_server_ready(s) && ember_server_model_version(s) == 0);

    ember_error err;
    CHECK_OK(ember_server_load(s, &err), &err);
    CHECK(ember_server_ready(s) && ember_server_model_version(s) == 1);
    CHECK(get(port, "/readyz", &r) == 0 && r.status == 200 && strstr(r.body, "\"model_version\":1"));
    resp_free(&r);

    /* one text: the answered intent, with its reply */
    CHECK(post(port, "{\"text\":\"my card has still not arrived\"}", &r) == 0 && r.status == 200);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *res = cJSON_GetObjectItem(j, "result");
    CHECK_MSG(res && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(res, "intent")), NAMES[0]),
              "%s", r.body);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(res, "handoff")));
    CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(res, "reply")) &&
          strstr(cJSON_GetStringValue(cJSON_GetObjectItem(res, "reply")), "3 working days"));
    const cJSON *top = cJSON_GetObjectItem(res, "top");
    CHECK(cJSON_GetArraySize(top) == 3); /* the default k */
    double sum = 0, prev = 2;
    const cJSON *t;
    cJSON_ArrayForEach(t, top)
    {
        double p = cJSON_GetNumberValue(cJSON_GetObjectItem(t, "probability"));
        CHECK(p <= prev);
        prev = p;
        sum += p;
    }
    CHECK(sum > 0.99 && sum < 1.01); /* all 3 classes */
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "model_version")) == 1);
    cJSON_Delete(j);
    resp_free(&r);

    /* an intent the answers file does not cover: hand-off, reason no_answer */
    CHECK(post(port, "{\"text\":\"how do I change my pin\", \"k\": 1}", &r) == 0 && r.status == 200);
    j = cJSON_Parse(r.body);
    res = cJSON_GetObjectItem(j, "result");
    CHECK_MSG(res && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(res, "intent")), NAMES[2]) &&
                  cJSON_IsTrue(cJSON_GetObjectItem(res, "handoff")) &&
                  !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(res, "reason")), "no_answer") &&
                  cJSON_IsNull(cJSON_GetObjectItem(res, "reply")) &&
                  cJSON_GetArraySize(cJSON_GetObjectItem(res, "top")) == 1,
              "%s", r.body);
    cJSON_Delete(j);
    resp_free(&r);

    /* a batch, in order, k larger than the classes is capped */
    CHECK(post(port, "{\"texts\":[\"pin change\",\"top up failed\",\"where is my card\"],\"k\":50}",
               &r) == 0 && r.status == 200);
    j = cJSON_Parse(r.body);
    const cJSON *rs = cJSON_GetObjectItem(j, "results");
    CHECK(cJSON_GetArraySize(rs) == 3);
    for (int i = 0; i < 3 && cJSON_GetArraySize(rs) == 3; i++) {
        const char *want = i == 0 ? NAMES[2] : i == 1 ? NAMES[1] : NAMES[0];
        const cJSON *ri = cJSON_GetArrayItem(rs, i);
        CHECK_MSG(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ri, "intent")), want),
                  "text %d: %s", i, r.body);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(ri, "top")) == 3);
    }
    cJSON_Delete(j);
    resp_free(&r);

    /* UTF-8 text with escapes is fine */
    CHECK(post(port, "{\"text\":\"Karte \\u00fcberf\\u00e4llig \xf0\x9f\x98\x80 \\\"quoted\\\"\"}",
               &r) == 0 && r.status == 200);
    resp_free(&r);

    /* errors: 400 */
    const char *ct = "application/json";
    expect_error(port, ct, "", 0, 400, "empty body");
    expect_error(port, ct, "{\"text\":", 8, 400, "not valid JSON");
    expect_error(port, ct, "{\"text\":\"a\"} x", 14, 400, "not valid JSON");
    expect_error(port, ct, "{\"text\":\"caf\xe9\"}", 14, 400, "not valid UTF-8 (byte 12)");
    expect_error(port, ct, "{\"text\":\"\xed\xa0\x80\"}", 14, 400, "not valid UTF-8");
    expect_error(port, ct, "{\"txt\":\"a\"}", 11, 400, "unknown field \\\"txt\\\"");
    expect_error(port, ct, "{\"text\":\"a\",\"texts\":[\"b\"]}", 26, 400, "not both");
    expect_error(port, ct, "{}", 2, 400, "missing field");
    expect_error(port, ct, "[\"a\"]", 5, 400, "expected a JSON object");
    expect_error(port, ct, "{\"text\":5}", 10, 400, "must be a string");
    expect_error(port, ct, "{\"texts\":[]}", 12, 400, "non-empty array");
    expect_error(port, ct, "{\"texts\":[\"a\",7]}", 17, 400, "texts[1] is not a string");
    expect_error(port, ct, "{\"text\":\"a\",\"k\":0}", 18, 400, "\\\"k\\\" must be");
    expect_error(port, ct, "{\"text\":\"a\",\"k\":1.5}", 20, 400, "\\\"k\\\" must be");
    expect_error(port, ct, "{\"text\":\"a\\u0000b\"}", 19, 400, "NUL");
    /* a literal backslash followed by u0000 is not a NUL */
    CHECK(post(port, "{\"text\":\"a\\\\u0000b\"}", &r) == 0 && r.status == 200);
    resp_free(&r);
    /* 413: Content-Length over the limit, too many texts */
    char *big = malloc(5000);
    memset(big, 'a', 5000);
    memcpy(big, "{\"text\":\"", 9);
    memcpy(big + 4998, "\"}", 2);
    expect_error(port, ct, big, 5000, 413, "limit is 4096");
    free(big);
    expect_error(port, ct, "{\"texts\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 31, 413, "the limit is 4");
    /* 415 */
    expect_error(port, NULL, "{\"text\":\"a\"}", 12, 415, "got none");
    expect_error(port, "text/plain", "{\"text\":\"a\"}", 12, 415, "Content-Type must be");
    expect_error(port, "application/json; charset=latin1", "{\"text\":\"a\"}", 12, 415,
                 "Content-Type");
    CHECK(http(port, "POST", "/v1/predict", "Application/JSON; charset=\"utf-8\"", "{\"text\":\"a\"}",
               12, &r) == 0 && r.status == 200);
    resp_free(&r);
    /* 404, 405 with Allow */
    CHECK(get(port, "/v2/predict", &r) == 0 && r.status == 404 && strstr(r.body, "no such"));
    resp_free(&r);
    CHECK(get(port, "/v1/predict", &r) == 0 && r.status == 405 && strstr(r.headers, "Allow: POST"));
    resp_free(&r);
    CHECK(http(port, "DELETE", "/metrics", NULL, NULL, 0, &r) == 0 && r.status == 405 &&
          strstr(r.headers, "Allow: GET"));
    resp_free(&r);
    CHECK(http(port, "POST", "/healthz", ct, "{}", 2, &r) == 0 && r.status == 405);
    resp_free(&r);

    /* a chunked body over the limit (no Content-Length to refuse it early) */
    int fd = dial(port);
    const char *head = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    /* (fd is reused below) */
    int sent = send_all(fd, head, strlen(head));
    char chunk[1100];
    memset(chunk, ' ', sizeof chunk);
    memcpy(chunk, "400\r\n", 5);
    memcpy(chunk + 5 + 1024, "\r\n", 2);
    for (int i = 0; i < 6 && !sent; i++)
        sent = send_all(fd, chunk, 5 + 1024 + 2);
    if (!sent)
        send_all(fd, "0\r\n\r\n", 5);
    CHECK(read_resp(fd, &r) == 0 && r.status == 413 && strstr(r.body, "over the limit"));
    resp_free(&r);
    close(fd);

    /* request headers: 10 KB fit the connection's memory, 20 KB get 431
     * (from libmicrohttpd itself) */
    for (int big = 10000; big <= 20000; big += 10000) {
        char *req = malloc((size_t)big + 300);
        int n = snprintf(req, 300, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         "Content-Type: application/json\r\nContent-Length: 24\r\nX-Big: ");
        memset(req + n, 'a', (size_t)big);
        n += big;
        n += snprintf(req + n, 100, "\r\n\r\n{\"text\":\"top up failed\"}");
        fd = dial(port);
        int want = big == 10000 ? 200 : 431;
        CHECK_MSG(send_all(fd, req, (size_t)n) == 0 && read_resp(fd, &r) == 0 && r.status == want,
                  "%d-byte header: status %d, want %d", big, r.status, want);
        resp_free(&r);
        close(fd);
        free(req);
    }

    /* keep-alive: three requests on one connection */
    fd = dial(port);
    int ka_ok = 1;
    for (int i = 0; i < 3; i++) {
        const char *req = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: 24\r\n\r\n{\"text\":\"top up failed\"}";
        ka_ok &= send_all(fd, req, strlen(req)) == 0 && read_resp(fd, &r) == 0 && r.status == 200;
        resp_free(&r);
    }
    CHECK(ka_ok);
    close(fd);

    /* the page and the model document */
    CHECK(get(port, "/", &r) == 0 && r.status == 200 && strstr(r.headers, "text/html") &&
          strstr(r.body, "/v1/predict") && strstr(r.body, "</html>"));
    resp_free(&r);
    CHECK(get(port, "/v1/model", &r) == 0 && r.status == 200);
    j = cJSON_Parse(r.body);
    CHECK_MSG(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "labels")) == 3 &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(j, "threshold")) == 0.5 &&
                  !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "threshold_source")),
                          "default") &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(j, "answered_intents")) == 1 &&
                  strlen(cJSON_GetStringValue(cJSON_GetObjectItem(j, "sha256"))) == 64 &&
                  cJSON_GetObjectItem(j, "metadata") &&
                  cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "architecture"),
                                                         "layers")) == 4 &&
                  cJSON_GetObjectItem(cJSON_GetObjectItem(j, "compile"), "optimizer") &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(j, "params")) > 0 &&
                  !cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), EMBER_META_TEXT_PIPELINE),
              "%s", r.body);
    cJSON_Delete(j);
    resp_free(&r);

    /* metrics count what happened above */
    CHECK(get_settled_metrics(port, &r) == 0 && strstr(r.headers, "text/plain"));
    CHECK_MSG(r.body && metric(r.body, "ember_http_requests_total{code=\"415\"} ") == 3 &&
                  metric(r.body, "ember_http_requests_total{code=\"413\"} ") == 3 &&
                  metric(r.body, "ember_http_requests_total{code=\"503\"} ") == 3 &&
                  metric(r.body, "ember_http_requests_total{code=\"404\"} ") == 1 &&
                  metric(r.body, "ember_http_requests_total{code=\"405\"} ") == 3 &&
                  metric(r.body, "ember_http_requests_total{code=\"400\"} ") == 15 &&
                  metric(r.body, "ember_http_requests_in_flight ") == 1 &&
                  metric(r.body, "ember_model_version ") == 1 &&
                  metric(r.body, "ember_predictions_total ") == 12 &&
                  metric(r.body, "ember_http_request_duration_seconds_count ") > 40 &&
                  metric(r.body, "ember_model_loads_total{result=\"ok\"} ") == 1,
              "%s", r.body);
    resp_free(&r);
    ember_server_destroy(s);
}

static void test_threshold_and_load_errors(const char *model, const char *answers)
{
    ember_error err;
    /* a threshold of 1 hands everything off for low confidence */
    ember_server_config cfg = ember_server_config_default();
    cfg.model_path = model;
    cfg.answers_path = answers;
    cfg.threshold = 1.0;
    ember_server *s = start(&cfg);
    CHECK(s != NULL);
    if (!s)
        return;
    int port = ember_server_port(s);
    CHECK_OK(ember_server_load(s, &err), &err);
    resp r;
    CHECK(post(port, "{\"text\":\"my card has not arrived yet\"}", &r) == 0 && r.status == 200 &&
          strstr(r.body, "\"handoff\":true,\"reason\":\"low_confidence\",\"reply\":null"));
    resp_free(&r);
    CHECK(get(port, "/v1/model", &r) == 0 && strstr(r.body, "\"threshold_source\":\"command line\"") &&
          strstr(r.body, "{\"kind\":\"classifier\","));
    resp_free(&r);
    /* the recommender endpoint of a text model: 404 saying why */
    CHECK(http(port, "POST", "/v1/recommend", "application/json", "{\"user\":\"u1\"}", 13, &r) == 0 &&
          r.status == 404 && strstr(r.body, "the loaded model is a text classifier"));
    resp_free(&r);
    ember_server_destroy(s);

    /* the calibrated threshold stored in the model is the default */
    ember_model *m = NULL;
    char cal[512];
    snprintf(cal, sizeof cal, "%s/calibrated.safetensors", DIR);
    CHECK_OK(ember_model_load(&m, model, &err), &err);
    CHECK_OK(ember_model_set_metadata(m, EMBER_META_SERVE_THRESHOLD, "0.25", &err), &err);
    CHECK_OK(ember_model_save(m, cal, &err), &err);
    cfg.model_path = cal;
    cfg.threshold = -1;
    s = start(&cfg);
    CHECK_OK(ember_server_load(s, &err), &err);
    CHECK(get(ember_server_port(s), "/v1/model", &r) == 0 &&
          strstr(r.body, "\"threshold\":0.25,\"threshold_source\":\"calibrated\""));
    resp_free(&r);
    ember_server_destroy(s);
    /* ... and a stored threshold that is not in [0, 1] is refused */
    CHECK_OK(ember_model_set_metadata(m, EMBER_META_SERVE_THRESHOLD, "1.5", &err), &err);
    CHECK_OK(ember_model_save(m, cal, &err), &err);
    s = start(&cfg);
    CHECK_ERR(ember_server_load(s, &err), EMBER_ERR_FORMAT, &err, "serve.threshold=\"1.5\"");
    CHECK(!ember_server_ready(s));
    ember_server_destroy(s);

    /* not a text model */
    ember_model *dense = NULL;
    int64_t in = 4;
    ember_optimizer_config o = ember_optimizer_sgd(0.1f, 0.0f, 0);
    char dpath[512];
    snprintf(dpath, sizeof dpath, "%s/dense.safetensors", DIR);
    CHECK_OK(ember_model_create(&dense, 1, &in, 1, &err), &err);
    CHECK_OK(ember_model_add_dense(dense, 2, EMBER_ACT_SOFTMAX, &err), &err);
    CHECK_OK(ember_model_compile(dense, &o, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    CHECK_OK(ember_model_save(dense, dpath, &err), &err);
    ember_model_destroy(dense);
    cfg.model_path = dpath;
    s = start(&cfg);
    CHECK_ERR(ember_server_load(s, &err), EMBER_ERR_FORMAT, &err, "not a text model");
    ember_server_destroy(s);

    /* answers files: unknown intent, non-string reply, not JSON, missing file */
    char apath[512];
    snprintf(apath, sizeof apath, "%s/bad_answers.json", DIR);
    cfg.model_path = model;
    cfg.answers_path = apath;
    struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"card_arival\": \"typo\"}", "intent \"card_arival\" is not a label"},
        {"{\"card_arrival\": 3}", "must be a non-empty string"},
        {"{\"card_arrival\": \"\"}", "must be a non-empty string"},
        {"{\"card_arrival\": \"a\", \"card_arrival\": \"b\"}", "appears twice"},
        {"[\"card_arrival\"]", "expected a JSON object"},
        {"{\"card_arrival\": \"a\"", "not valid JSON"},
        {"{\"card_arrival\": \"caf\xe9\"}", ":1: invalid UTF-8 at byte 22 of the line (offset 21 in"},
        {"{\"card_arrival\":\n \"x\\u0000y\"}", ":2: a NUL character (\\u0000)"},
        {"", "file is empty (expected a JSON object"},
        {"{\n\"card_arrival\": \"a\",\n}", ":3: not valid JSON at byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(apath, bad[i].text);
        s = start(&cfg);
        CHECK_ERR(ember_server_load(s, &err), EMBER_ERR_FORMAT, &err, bad[i].needle);
        ember_server_destroy(s);
    }
    cfg.answers_path = DIR "/no_such_answers.json";
    s = start(&cfg);
    CHECK_ERR(ember_server_load(s, &err), EMBER_ERR_IO, &err, "no_such_answers.json");
    ember_server_destroy(s);
    ember_model_destroy(m);

    /* bad settings */
    cfg = ember_server_config_default();
    CHECK_ERR(ember_server_create(&s, &cfg, &err), EMBER_ERR_ARG, &err, "model_path");
    cfg.model_path = model;
    cfg.threads = 0;
    CHECK_ERR(ember_server_create(&s, &cfg, &err), EMBER_ERR_ARG, &err, "threads 0");
    cfg.threads = 2;
    cfg.host = "no.such.host.invalid";
    CHECK_ERR(ember_server_create(&s, &cfg, &err), EMBER_ERR_IO, &err, "cannot resolve");
}

/* Clients keep predicting while the model file is replaced twice: by a
 * corrupt file (refused, the old model keeps serving) and by a model with
 * other labels (swapped in). Every request must succeed. */
typedef struct hammer {
    int port, stop, ok, failed;
    long long last_version;
} hammer;

static void *hammer_run(void *arg)
{
    hammer *h = arg;
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        resp r;
        if (post(h->port, "{\"text\":\"my top up failed\"}", &r) == 0 && r.status == 200) {
            h->ok++;
            const char *v = strstr(r.body, "\"model_version\":");
            long long ver = v ? atoll(v + 16) : -1;
            if (ver < h->last_version)
                h->failed++; /* versions never go back */
            h->last_version = ver;
        } else {
            h->failed++;
        }
        resp_free(&r);
    }
    return NULL;
}

static void test_reload(const char *model, const char *model2, const char *answers)
{
    char live[512];
    snprintf(live, sizeof live, "%s/live.safetensors", DIR);
    CHECK(copy_file(model, live));
    ember_server_config cfg = ember_server_config_default();
    cfg.model_path = live;
    cfg.answers_path = answers;
    ember_server *s = start(&cfg);
    CHECK(s != NULL);
    if (!s)
        return;
    ember_error err;
    CHECK_OK(ember_server_load(s, &err), &err);
    int port = ember_server_port(s);
    hammer h[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        h[i] = (hammer){port, 0, 0, 0, 0};
        pthread_create(&th[i], NULL, hammer_run, &h[i]);
    }
    struct timespec pause = {0, 100 * 1000000};
    nanosleep(&pause, NULL);
    resp r;
    /* reload the same file over HTTP: version 2 */
    CHECK(http(port, "POST", "/v1/admin/reload", NULL, "", 0, &r) == 0 && r.status == 200 &&
          strstr(r.body, "\"model_version\":2"));
    resp_free(&r);
    CHECK(get(port, "/v1/admin/reload", &r) == 0 && r.status == 405);
    resp_free(&r);
    nanosleep(&pause, NULL);
    /* a corrupt replacement: the first half of the file */
    FILE *f = fopen(live, "r+b");
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fclose(f);
        CHECK(truncate(live, n / 2) == 0);
    }
    CHECK(http(port, "POST", "/v1/admin/reload", NULL, NULL, 0, &r) == 0 && r.status == 500 &&
          strstr(r.body, "previous model keeps serving"));
    resp_free(&r);
    CHECK(ember_server_model_version(s) == 2);
    nanosleep(&pause, NULL);
    CHECK(post(port, "{\"text\":\"my card has not arrived yet\"}", &r) == 0 && r.status == 200 &&
          strstr(r.body, "\"model_version\":2") && strstr(r.body, NAMES[0]));
    resp_free(&r);
    /* a new model with other label names: swapped in (through the library
     * call, as SIGHUP does); the answers file no longer matches its labels, so
     * reload it without answers by pointing at a fresh server config... the
     * same answers file must then fail: it names card_arrival */
    CHECK(copy_file(model2, live));
    CHECK_ERR(ember_server_load(s, &err), EMBER_ERR_FORMAT, &err, "card_arrival");
    CHECK(ember_server_model_version(s) == 2);
    write_file(answers, "{\"delivery\": \"Cards arrive within 3 working days.\"}");
    CHECK_OK(ember_server_load(s, &err), &err);
    CHECK(ember_server_model_version(s) == 3);
    nanosleep(&pause, NULL);
    for (int i = 0; i < 3; i++)
        __atomic_store_n(&h[i].stop, 1, __ATOMIC_RELEASE);
    int total = 0, failed = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        total += h[i].ok;
        failed += h[i].failed;
    }
    CHECK_MSG(failed == 0 && total > 30, "%d requests during reloads, %d failed", total, failed);
    CHECK(post(port, "{\"text\":\"my card has not arrived yet\"}", &r) == 0 && r.status == 200 &&
          strstr(r.body, "\"intent\":\"delivery\"") && strstr(r.body, "\"model_version\":3") &&
          strstr(r.body, "within 3 working days"));
    resp_free(&r);
    CHECK(get(port, "/metrics", &r) == 0 &&
          metric(r.body, "ember_model_loads_total{result=\"ok\"} ") == 3 &&
          metric(r.body, "ember_model_loads_total{result=\"error\"} ") == 2 &&
          metric(r.body, "ember_model_version ") == 3);
    resp_free(&r);
    ember_server_destroy(s);
}

/* Stop while a request is half sent: the stop waits, the request completes
 * (200, Connection: close), then new connections are refused. */
typedef struct stopper {
    ember_server *s;
    int left;
} stopper;

static void *stop_run(void *arg)
{
    stopper *st = arg;
    st->left = ember_server_stop(st->s, 5.0);
    return NULL;
}

static void test_graceful_stop(const char *model)
{
    ember_server_config cfg = ember_server_config_default();
    cfg.model_path = model;
    ember_server *s = start(&cfg);
    CHECK(s != NULL);
    if (!s)
        return;
    ember_error err;
    CHECK_OK(ember_server_load(s, &err), &err);
    int port = ember_server_port(s);
    int fd = dial(port);
    const char *head = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 24\r\n\r\n{\"text\":";
    CHECK(send_all(fd, head, strlen(head)) == 0);
    struct timespec pause = {0, 200 * 1000000};
    nanosleep(&pause, NULL); /* the server has the headers: the request is in flight */
    stopper st = {s, -1};
    pthread_t th;
    pthread_create(&th, NULL, stop_run, &st);
    nanosleep(&pause, NULL);
    CHECK(dial(port) < 0); /* no longer accepting */
    CHECK(send_all(fd, "\"top up failed\"}", 16) == 0);
    resp r;
    CHECK(read_resp(fd, &r) == 0 && r.status == 200 && strstr(r.body, NAMES[1]) &&
          strstr(r.headers, "Connection: close"));
    resp_free(&r);
    close(fd);
    pthread_join(th, NULL);
    CHECK_MSG(st.left == 0, "%d requests left running", st.left);
    ember_server_destroy(s);
}

int main(void)
{
    if (system("mkdir -p " DIR) != 0)
        return 1;
    char model[512], model2[512], answers[512];
    snprintf(model, sizeof model, "%s/intents.safetensors", DIR);
    snprintf(model2, sizeof model2, "%s/intents2.safetensors", DIR);
    snprintf(answers, sizeof answers, "%s/answers.json", DIR);
    static const char *const NAMES2[3] = {"delivery", "topup", "pin"};
    CHECK(train_model(model, NAMES, 60, 1));
    CHECK(train_model(model2, NAMES2, 60, 2));
    write_file(answers, "{\"card_arrival\": \"Cards arrive within 3 working days.\", "
                        "\"top_up_failed\": \"Please check your card supports 3-D Secure.\"}");
    /* a pin intent with no answer: the no_answer hand-off */
    write_file(answers, "{\"card_arrival\": \"Cards arrive within 3 working days.\"}");
    test_before_ready_and_endpoints(model, answers);
    test_threshold_and_load_errors(model, answers);
    test_reload(model, model2, answers);
    test_graceful_stop(model);
    return check_summary("serve");
}
