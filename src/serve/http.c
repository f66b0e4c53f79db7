/*
 * http.c - the requests of ember_server: routing, body limits, content types,
 * JSON in and out, /v1/predict with the hand-off rule, /metrics, the page.
 *
 * libmicrohttpd calls the handler once when the headers are in (the request
 * context is made then, and every error that the headers alone decide is
 * answered at once: 404, 405, 415, 413 from Content-Length, 503), then once
 * per piece of body, then once more with no data: the request is answered
 * then. The completion callback counts the status and the latency and frees
 * the context, whatever happened to the connection.
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"
#include "strbuf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>
#include <utf8proc.h>

const int ember__serve_statuses[SERVE_N_STATUS] = {200, 400, 403, 404, 405, 408,
                                                    413, 415, 500, 503, 431};
const double ember__serve_buckets[SERVE_N_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

typedef enum route {
    R_PAGE,
    R_HEALTH,
    R_READY,
    R_MODEL,
    R_METRICS,
    R_PREDICT,
    R_RECOMMEND,
    R_RELOAD,
    R_NONE
} route;

typedef struct request {
    double t0;
    route r;
    int status;          /* of the response queued; 0: none yet */
    int too_big;         /* body over max_body: discarded, 413 at the end */
    char *body;
    size_t len, cap;
} request;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------ growing string */

static void sb_str(ember_sbuf *b, const char *s) { ember__sb_put(b, s, strlen(s)); }

/* A JSON string literal: quotes, backslash and control characters escaped;
 * UTF-8 passes through (the input was validated). */
static void sb_json(ember_sbuf *b, const char *s)
{
    ember__sb_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        ember__sb_put(b, run, (size_t)(s - run));
        char esc[8];
        if (ch == '"' || ch == '\\')
            snprintf(esc, sizeof esc, "\\%c", ch);
        else if (ch == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (ch == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if (ch == '\r')
            snprintf(esc, sizeof esc, "\\r");
        else
            snprintf(esc, sizeof esc, "\\u%04x", ch);
        sb_str(b, esc);
        run = s + 1;
    }
    ember__sb_put(b, run, (size_t)(s - run));
    ember__sb_put(b, "\"", 1);
}

void ember__serve_sb_json(ember_sbuf *b, const char *s) { sb_json(b, s); }

char *ember__serve_json_quote(const char *s)
{
    ember_sbuf b = {0};
    sb_json(&b, s);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

size_t ember__serve_utf8_check(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80) { /* ASCII: most bodies are all of it */
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0 || cp < 0)
            return i;
        i += (size_t)k;
    }
    return (size_t)-1;
}

/* ------------------------------------------------------------ responses */

/* End s (NUL-terminated) before its first invalid UTF-8 byte. Messages are
 * cut at a byte count (vsnprintf into 512 bytes), which can split a
 * multi-byte character of the request (a long unknown field name), and the
 * message goes into a JSON answer, which must be UTF-8. The rest of a
 * message is ours or checked input, so the cut is at the end. */
static void cut_to_utf8(char *s)
{
    size_t bad = ember__serve_utf8_check(s, strlen(s));
    if (bad != (size_t)-1)
        s[bad] = '\0';
}

static enum MHD_Result send_buf(ember_server *s, struct MHD_Connection *c, request *rq,
                                int status, const char *type, char *body, size_t len,
                                enum MHD_ResponseMemoryMode mode, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (atomic_load(&s->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    rq->status = status;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_json(ember_server *s, struct MHD_Connection *c, request *rq,
                                 int status, ember_sbuf *b)
{
    if (b->oom) {
        free(b->p);
        static const char oom[] = "{\"error\":{\"status\":500,\"message\":\"out of memory\"}}";
        return send_buf(s, c, rq, 500, "application/json", (char *)oom, sizeof oom - 1,
                        MHD_RESPMEM_PERSISTENT, NULL);
    }
    return send_buf(s, c, rq, status, "application/json", b->p, b->n, MHD_RESPMEM_MUST_FREE,
                    NULL);
}

static enum MHD_Result send_error(ember_server *s, struct MHD_Connection *c, request *rq,
                                  int status, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static enum MHD_Result send_error(ember_server *s, struct MHD_Connection *c, request *rq,
                                  int status, const char *allow, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cut_to_utf8(msg);
    ember_sbuf b = {0};
    ember__sb_printf(&b, "{\"error\":{\"status\":%d,\"message\":", status);
    sb_json(&b, msg);
    sb_str(&b, "}}");
    if (b.oom)
        return send_json(s, c, rq, 500, &b); /* frees b */
    return send_buf(s, c, rq, status, "application/json", b.p, b.n, MHD_RESPMEM_MUST_FREE, allow);
}

/* ---------------------------------------------------------------- routes */

static route route_of(const char *url)
{
    if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
        return R_PAGE;
    if (!strcmp(url, "/healthz"))
        return R_HEALTH;
    if (!strcmp(url, "/readyz"))
        return R_READY;
    if (!strcmp(url, "/v1/model"))
        return R_MODEL;
    if (!strcmp(url, "/metrics"))
        return R_METRICS;
    if (!strcmp(url, "/v1/predict"))
        return R_PREDICT;
    if (!strcmp(url, "/v1/recommend"))
        return R_RECOMMEND;
    if (!strcmp(url, "/v1/admin/reload"))
        return R_RELOAD;
    return R_NONE;
}

static int is_post_route(route r) { return r == R_PREDICT || r == R_RECOMMEND || r == R_RELOAD; }

/* application/json, any case, optional parameters; a charset must be UTF-8. */
static int json_content_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return 0;
    const char *p = ct + n;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return 1;
    if (*p != ';')
        return 0;
    const char *cs = p;
    while (*cs && strncasecmp(cs, "charset=", 8) != 0)
        cs++;
    if (!*cs)
        return 1;
    cs += 8;
    if (*cs == '"')
        cs++;
    return strncasecmp(cs, "utf-8", 5) == 0 || strncasecmp(cs, "utf8", 4) == 0;
}

static int client_is_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        /* ::ffff:127.x.y.z */
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

/* ---------------------------------------------------------------- metrics */

static enum MHD_Result metrics(ember_server *s, struct MHD_Connection *c, request *rq)
{
    ember_sbuf b = {0};
    sb_str(&b, "# HELP ember_http_requests_total HTTP requests answered, by status code.\n"
               "# TYPE ember_http_requests_total counter\n");
    for (int i = 0; i <= SERVE_N_STATUS; i++) {
        unsigned long long v = atomic_load(&s->requests[i]);
        if (i < SERVE_N_STATUS)
            ember__sb_printf(&b, "ember_http_requests_total{code=\"%d\"} %llu\n", ember__serve_statuses[i], v);
        else
            ember__sb_printf(&b, "ember_http_requests_total{code=\"other\"} %llu\n", v);
    }
    sb_str(&b, "# HELP ember_http_request_duration_seconds Time from the request's headers to "
               "the end of its response.\n"
               "# TYPE ember_http_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i <= SERVE_N_BUCKETS; i++) {
        cum += atomic_load(&s->latency[i]);
        if (i < SERVE_N_BUCKETS)
            ember__sb_printf(&b, "ember_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                      ember__serve_buckets[i], cum);
        else
            ember__sb_printf(&b, "ember_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    ember__sb_printf(&b, "ember_http_request_duration_seconds_sum %.6f\n"
                  "ember_http_request_duration_seconds_count %llu\n",
              1e-6 * (double)atomic_load(&s->latency_us_sum), cum);
    /* this scrape is itself in flight */
    ember__sb_printf(&b, "# HELP ember_http_requests_in_flight Requests being handled now.\n"
                  "# TYPE ember_http_requests_in_flight gauge\n"
                  "ember_http_requests_in_flight %lld\n",
              (long long)atomic_load(&s->in_flight));
    ember__sb_printf(&b, "# HELP ember_predictions_total Texts classified.\n"
                  "# TYPE ember_predictions_total counter\nember_predictions_total %llu\n"
                  "# HELP ember_handoffs_total Texts handed off to a human.\n"
                  "# TYPE ember_handoffs_total counter\nember_handoffs_total %llu\n"
                  "# HELP ember_answers_total Texts answered automatically.\n"
                  "# TYPE ember_answers_total counter\nember_answers_total %llu\n",
              atomic_load(&s->texts), atomic_load(&s->handoffs), atomic_load(&s->answered));
    ember__sb_printf(&b, "# HELP ember_recommendations_total /v1/recommend requests answered.\n"
                  "# TYPE ember_recommendations_total counter\nember_recommendations_total %llu\n",
              atomic_load(&s->recommendations));
    ember__sb_printf(&b, "# HELP ember_model_loads_total Model loads and reloads, by result.\n"
                  "# TYPE ember_model_loads_total counter\n"
                  "ember_model_loads_total{result=\"ok\"} %llu\n"
                  "ember_model_loads_total{result=\"error\"} %llu\n",
              atomic_load(&s->reloads_ok), atomic_load(&s->reloads_failed));
    generation *g = ember__serve_acquire(s);
    ember__sb_printf(&b, "# HELP ember_model_version The loaded model's version (1 = first load, +1 "
                  "per reload; 0 = none).\n# TYPE ember_model_version gauge\n"
                  "ember_model_version %lld\n", g ? (long long)g->version : 0LL);
    if (g) {
        sb_str(&b, "# HELP ember_model_info The loaded model file.\n"
                   "# TYPE ember_model_info gauge\nember_model_info{sha256=\"");
        sb_str(&b, g->sha256);
        if (g->kind == GEN_RECOMMENDER)
            ember__sb_printf(&b, "\",kind=\"recommender\",users=\"%lld\",items=\"%lld\"} 1\n",
                             (long long)ember_recommender_user_count(g->rec),
                             (long long)g->n_items);
        else
            ember__sb_printf(&b, "\",kind=\"classifier\",intents=\"%lld\",threshold=\"%g\"} 1\n",
                             (long long)g->K, g->threshold);
    }
    ember__serve_release(s, g);
    ember__sb_printf(&b, "# HELP ember_uptime_seconds Seconds since the server started.\n"
                  "# TYPE ember_uptime_seconds gauge\nember_uptime_seconds %.3f\n",
              now_s() - s->started);
    if (b.oom)
        return send_json(s, c, rq, 500, &b);
    return send_buf(s, c, rq, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.n,
                    MHD_RESPMEM_MUST_FREE, NULL);
}

/* ---------------------------------------------------------------- predict */

/* The 404 of an endpoint the loaded model does not serve. */
#define WRONG_KIND_PREDICT "/v1/predict classifies texts, but the loaded model is a " \
                           "recommender: use POST /v1/recommend"
#define WRONG_KIND_RECOMMEND "/v1/recommend needs a recommender model, but the loaded model " \
                             "is a text classifier: use POST /v1/predict"

/* True when the body has a \u0000 escape (cJSON would cut the string there). */
static int has_nul_escape(const char *s, size_t n)
{
    for (size_t i = 0; i + 5 < n; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && !strncmp(s + i + 2, "0000", 4))
            return 1;
        i++; /* skip the escaped character: "\\u0000" is a backslash + text */
    }
    return 0;
}

/* Top k of row (k small): indices into order[0..k). */
static void top_k(const float *row, int64_t K, int64_t k, int64_t *order)
{
    for (int64_t i = 0; i < k; i++) {
        int64_t best = -1;
        for (int64_t c = 0; c < K; c++) {
            int taken = 0;
            for (int64_t j = 0; j < i; j++)
                taken |= order[j] == c;
            if (!taken && (best < 0 || row[c] > row[best]))
                best = c;
        }
        order[i] = best;
    }
}

static void result_json(ember_server *s, ember_sbuf *b, const generation *g, const float *row,
                        int64_t k, int64_t *order)
{
    top_k(row, g->K, k, order);
    int64_t best = order[0];
    float p = row[best];
    int confident = p >= (float)g->threshold; /* float against float: see serve.h */
    const char *reply = g->reply_json ? g->reply_json[best] : NULL;
    /* with an answers file, a confident intent it has no reply for is handed
     * off too: every message gets a reply or a person */
    int handoff = !confident || (g->reply_json && !reply);
    sb_str(b, "{\"intent\":");
    sb_str(b, g->label_json[best]);
    ember__sb_printf(b, ",\"probability\":%.6g,\"handoff\":%s", (double)p, handoff ? "true" : "false");
    if (handoff)
        sb_str(b, !confident ? ",\"reason\":\"low_confidence\"" : ",\"reason\":\"no_answer\"");
    sb_str(b, ",\"reply\":");
    if (!handoff && reply)
        sb_str(b, reply);
    else
        sb_str(b, "null");
    sb_str(b, ",\"top\":[");
    for (int64_t i = 0; i < k; i++) {
        sb_str(b, i ? ",{\"intent\":" : "{\"intent\":");
        sb_str(b, g->label_json[order[i]]);
        ember__sb_printf(b, ",\"probability\":%.6g}", (double)row[order[i]]);
    }
    sb_str(b, "]}");
    atomic_fetch_add(&s->texts, 1);
    if (handoff)
        atomic_fetch_add(&s->handoffs, 1);
    else if (reply)
        atomic_fetch_add(&s->answered, 1);
}

/* A printf-style message into msg[SERVE_BODY_MESSAGE_MAX]; returns status. */
int ember__serve_body_fail(char *msg, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, SERVE_BODY_MESSAGE_MAX, fmt, ap);
    va_end(ap);
    cut_to_utf8(msg);
    return status;
}
#define body_fail ember__serve_body_fail

void ember__serve_body_free(ember__serve_body *b)
{
    free(b->texts);
    cJSON_Delete(b->root);
    memset(b, 0, sizeof *b);
}

int ember__serve_parse_object(const char *body, size_t len, const char *example, cJSON **root,
                              char *msg)
{
    *root = NULL;
    if (len == 0)
        return body_fail(msg, 400, "empty body: send a JSON object such as %s", example);
    size_t bad = ember__serve_utf8_check(body, len);
    if (bad != (size_t)-1)
        return body_fail(msg, 400, "the body is not valid UTF-8 (byte %zu)", bad);
    if (has_nul_escape(body, len))
        return body_fail(msg, 400, "a string holds a NUL character (\\u0000)");
    const char *end = NULL;
    /* the body is NUL-terminated; with require_null_terminated cJSON wants
     * the NUL inside the length */
    cJSON *r = cJSON_ParseWithLengthOpts(body, len + 1, &end, 1);
    if (!r)
        return body_fail(msg, 400, "the body is not valid JSON (byte %zu)",
                         end ? (size_t)(end - body) : (size_t)0);
    if (!cJSON_IsObject(r)) {
        cJSON_Delete(r);
        return body_fail(msg, 400, "expected a JSON object such as %s", example);
    }
    *root = r;
    return 0;
}

int ember__serve_parse_body(const char *body, size_t len, int max_texts, int64_t default_k,
                            ember__serve_body *out, char *msg)
{
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    int st = ember__serve_parse_object(body, len, "{\"text\": \"...\"} or {\"texts\": "
                                       "[\"...\"]}", &root, msg);
    if (st)
        return st;
    int status = 0;
    const char **texts = NULL;
    int64_t n = 0, k = default_k;
    int batch = 0;
    const cJSON *text = NULL, *arr = NULL, *kk = NULL, *it;
    cJSON_ArrayForEach(it, root)
    {
        if (!strcmp(it->string, "text"))
            text = it;
        else if (!strcmp(it->string, "texts"))
            arr = it;
        else if (!strcmp(it->string, "k"))
            kk = it;
        else {
            status = body_fail(msg, 400, "unknown field \"%s\" (expected \"text\" or "
                               "\"texts\", and optionally \"k\")", it->string);
            goto done;
        }
    }
    if (!text == !arr) {
        status = body_fail(msg, 400, "%s", text ? "give \"text\" or \"texts\", not both"
                                                : "missing field \"text\" (or \"texts\")");
        goto done;
    }
    if (text && !cJSON_IsString(text)) {
        status = body_fail(msg, 400, "\"text\" must be a string");
        goto done;
    }
    if (arr) {
        batch = 1;
        if (!cJSON_IsArray(arr) || (n = cJSON_GetArraySize(arr)) == 0) {
            status = body_fail(msg, 400, "\"texts\" must be a non-empty array of strings");
            goto done;
        }
        if (n > max_texts) {
            status = body_fail(msg, 413, "%lld texts in one request; the limit is %d",
                               (long long)n, max_texts);
            goto done;
        }
    } else {
        n = 1;
    }
    if (kk) {
        double v = cJSON_IsNumber(kk) ? kk->valuedouble : -1.0;
        if (!(v >= 1.0 && v <= 1e6) || v != (double)(int64_t)v) {
            status = body_fail(msg, 400, "\"k\" must be a whole number >= 1");
            goto done;
        }
        k = (int64_t)v;
    }
    texts = malloc((size_t)n * sizeof *texts);
    if (!texts) {
        status = body_fail(msg, 500, "out of memory");
        goto done;
    }
    if (batch) {
        int64_t i = 0;
        cJSON_ArrayForEach(it, arr)
        {
            if (!cJSON_IsString(it)) {
                status = body_fail(msg, 400, "texts[%lld] is not a string", (long long)i);
                goto done;
            }
            texts[i++] = it->valuestring;
        }
    } else {
        texts[0] = text->valuestring;
    }
done:
    if (status) {
        free(texts);
        cJSON_Delete(root);
        return status;
    }
    out->root = root;
    out->texts = texts;
    out->n = n;
    out->k = k;
    out->batch = batch;
    return 0;
}

static enum MHD_Result predict(ember_server *s, struct MHD_Connection *c, request *rq)
{
    char msg[SERVE_BODY_MESSAGE_MAX];
    ember__serve_body body;
    int status = ember__serve_parse_body(rq->body, rq->len, s->cfg.max_texts, s->cfg.default_k,
                                         &body, msg);
    if (status)
        return send_error(s, c, rq, status, NULL, "%s", msg);
    enum MHD_Result res;
    const char **texts = body.texts;
    int64_t n = body.n, k = body.k;
    int batch = body.batch;
    generation *g = ember__serve_acquire(s);
    if (!g) {
        res = send_error(s, c, rq, 503, NULL, "no model is loaded yet");
        goto done;
    }
    if (g->kind != GEN_CLASSIFIER) {
        ember__serve_release(s, g);
        res = send_error(s, c, rq, 404, NULL, WRONG_KIND_PREDICT);
        goto done;
    }
    if (k > g->K)
        k = g->K;
    ember_error err;
    ember_text_dataset *d = NULL;
    ember_ragged *ids = NULL;
    ember_tensor *out = NULL;
    ember_model *m = ember__serve_borrow(g, &err);
    int64_t *order = malloc((size_t)k * sizeof *order);
    if (!m || !order || ember_text_dataset_create(&d, n, texts, NULL, &err) ||
        ember_pipeline_encode(g->pipe, d, &ids, NULL, &err) ||
        ember_model_predict_ids(m, ids, n, &out, &err)) {
        res = send_error(s, c, rq, 500, NULL, "prediction failed: %s",
                         !order ? "out of memory" : err.message);
    } else {
        ember_sbuf b = {0};
        ember__sb_printf(&b, "{\"model_version\":%lld,", (long long)g->version);
        if (batch)
            sb_str(&b, "\"results\":[");
        else
            sb_str(&b, "\"result\":");
        for (int64_t i = 0; i < n; i++) {
            if (i)
                ember__sb_put(&b, ",", 1);
            result_json(s, &b, g, out->data + i * g->K, k, order);
        }
        sb_str(&b, batch ? "]}" : "}");
        res = send_json(s, c, rq, 200, &b);
    }
    free(order);
    ember_tensor_destroy(out);
    ember_ragged_destroy(ids);
    ember_text_dataset_destroy(d);
    if (m)
        ember__serve_give_back(g, m);
    ember__serve_release(s, g);
done:
    ember__serve_body_free(&body);
    return res;
}

/* ---------------------------------------------------------------- recommend */

static enum MHD_Result recommend(ember_server *s, struct MHD_Connection *c, request *rq)
{
    char msg[SERVE_BODY_MESSAGE_MAX];
    ember__serve_rec_body body;
    int status = ember__serve_parse_rec_body(rq->body, rq->len, &body, msg);
    if (status)
        return send_error(s, c, rq, status, NULL, "%s", msg);
    enum MHD_Result res;
    generation *g = ember__serve_acquire(s);
    if (!g) {
        res = send_error(s, c, rq, 503, NULL, "no model is loaded yet");
    } else if (g->kind != GEN_RECOMMENDER) {
        res = send_error(s, c, rq, 404, NULL, WRONG_KIND_RECOMMEND);
    } else {
        ember_sbuf b = {0};
        ember__sb_printf(&b, "{\"model_version\":%lld,", (long long)g->version);
        status = ember__serve_rec_answer(g, &body, &b, msg);
        if (status) {
            free(b.p);
            res = send_error(s, c, rq, status, NULL, "%s", msg);
        } else {
            atomic_fetch_add(&s->recommendations, 1);
            res = send_json(s, c, rq, 200, &b);
        }
    }
    ember__serve_release(s, g);
    ember__serve_rec_body_free(&body);
    return res;
}

/* ---------------------------------------------------------------- handler */

static enum MHD_Result simple_get(ember_server *s, struct MHD_Connection *c, request *rq)
{
    switch (rq->r) {
    case R_PAGE:
        return send_buf(s, c, rq, 200, "text/html; charset=utf-8", (char *)ember__serve_page,
                        ember__serve_page_len, MHD_RESPMEM_PERSISTENT, NULL);
    case R_HEALTH: {
        static const char ok[] = "{\"status\":\"ok\"}";
        return send_buf(s, c, rq, 200, "application/json", (char *)ok, sizeof ok - 1,
                        MHD_RESPMEM_PERSISTENT, NULL);
    }
    case R_READY: {
        long long v = (long long)atomic_load(&s->version);
        ember_sbuf b = {0};
        if (v > 0)
            ember__sb_printf(&b, "{\"status\":\"ready\",\"model_version\":%lld}", v);
        else
            sb_str(&b, "{\"status\":\"loading\",\"model_version\":0}");
        return send_json(s, c, rq, v > 0 ? 200 : 503, &b);
    }
    case R_MODEL: {
        generation *g = ember__serve_acquire(s);
        if (!g)
            return send_error(s, c, rq, 503, NULL, "no model is loaded yet");
        ember_sbuf b = {0};
        sb_str(&b, g->info);
        ember__serve_release(s, g);
        return send_json(s, c, rq, 200, &b);
    }
    case R_METRICS:
        return metrics(s, c, rq);
    default:
        return send_error(s, c, rq, 404, NULL, "no such resource");
    }
}

enum MHD_Result ember__serve_handle(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    ember_server *s = cls;
    request *rq = *con_cls;
    if (!rq) {
        /* first call: headers only */
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        rq->t0 = now_s();
        rq->r = route_of(url);
        *con_cls = rq;
        atomic_fetch_add(&s->in_flight, 1);
        int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
        int post = !strcmp(method, MHD_HTTP_METHOD_POST);
        if (rq->r == R_NONE)
            return send_error(s, c, rq, 404, NULL, "no such resource: %s", url);
        if (is_post_route(rq->r) && !post)
            return send_error(s, c, rq, 405, "POST", "%s takes POST, not %s", url, method);
        if (!is_post_route(rq->r) && !get)
            return send_error(s, c, rq, 405, "GET, HEAD", "%s takes GET, not %s", url, method);
        if (rq->r == R_RELOAD && !client_is_loopback(c))
            return send_error(s, c, rq, 403, NULL, "reload is allowed from this machine only");
        if (rq->r == R_PREDICT || rq->r == R_RECOMMEND) {
            const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_CONTENT_TYPE);
            if (!json_content_type(ct))
                return send_error(s, c, rq, 415, NULL, "Content-Type must be application/json "
                                  "(UTF-8), got %s", ct ? ct : "none");
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->cfg.max_body)
                return send_error(s, c, rq, 413, NULL, "the body is %s bytes; the limit is %lld",
                                  cl, (long long)s->cfg.max_body);
            if (!ember_server_ready(s))
                return send_error(s, c, rq, 503, NULL, "no model is loaded yet");
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* a piece of the body */
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->status || rq->too_big || !is_post_route(rq->r))
            return MHD_YES; /* answered already, or no body wanted: discard */
        if (rq->len + n > (size_t)s->cfg.max_body) {
            rq->too_big = 1;
            free(rq->body);
            rq->body = NULL;
            rq->len = rq->cap = 0;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 1024;
            while (cap < rq->len + n + 1)
                cap *= 2;
            char *nb = realloc(rq->body, cap);
            if (!nb)
                return MHD_NO;
            rq->body = nb;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        rq->body[rq->len] = '\0';
        return MHD_YES;
    }
    /* the whole request is in */
    if (rq->status)
        return MHD_YES;
    if (rq->too_big)
        return send_error(s, c, rq, 413, NULL, "the body is over the limit of %lld bytes",
                          (long long)s->cfg.max_body);
    if (rq->r == R_PREDICT)
        return predict(s, c, rq);
    if (rq->r == R_RECOMMEND)
        return recommend(s, c, rq);
    if (rq->r == R_RELOAD) {
        ember_error err;
        if (ember_server_load(s, &err))
            return send_error(s, c, rq, 500, NULL, "reload failed, the previous model keeps "
                              "serving: %s", err.message);
        ember_sbuf b = {0};
        ember__sb_printf(&b, "{\"status\":\"reloaded\",\"model_version\":%lld}",
                  (long long)ember_server_model_version(s));
        return send_json(s, c, rq, 200, &b);
    }
    return simple_get(s, c, rq);
}

void ember__serve_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    ember_server *s = cls;
    request *rq = *con_cls;
    if (!rq)
        return;
    *con_cls = NULL;
    if (rq->status) {
        int i = 0;
        while (i < SERVE_N_STATUS && ember__serve_statuses[i] != rq->status)
            i++;
        atomic_fetch_add(&s->requests[i], 1);
        double dt = now_s() - rq->t0;
        int b = 0;
        while (b < SERVE_N_BUCKETS && dt > ember__serve_buckets[b])
            b++;
        atomic_fetch_add(&s->latency[b], 1);
        atomic_fetch_add(&s->latency_us_sum, (unsigned long long)(dt * 1e6));
    }
    atomic_fetch_sub(&s->in_flight, 1);
    free(rq->body);
    free(rq);
}
