/*
 * server.c - ember_server: the intent service over HTTP (libmicrohttpd).
 *
 * Threads: libmicrohttpd's internal thread pool, `threads` threads, each
 * with its own poll() loop accepting from the shared listening socket. A
 * request is handled start to end on its thread: body, JSON, encoding and a
 * forward pass of a few microseconds, so nothing is handed between threads.
 * Chosen over thread-per-connection (a thread per keep-alive client, 64
 * clients = 64 threads on 2 cores) and over one loop plus a worker queue
 * (two hand-offs per request for work this short). See docs/serve.md.
 *
 * Models: a loaded model lives in a `generation` (model, pipeline, labels,
 * answers, threshold, the /v1/model document, a pool of ember_model_share
 * handles). The server holds the current generation under a mutex; a
 * request takes a reference, borrows a share from that generation's pool and
 * gives both back. A reload builds a new generation completely, then swaps
 * the pointer; the old one is freed when its last request lets go.
 *
 * Counters for /metrics are C11 atomics; the per-request state lives in the
 * connection's request context, freed by the completion callback.
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <utf8proc.h>

#include "io/hash.h"
#include "kernels/gemm.h"
#include "model/model.h"

/* ------------------------------------------------------------ helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void logf_(const ember_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const ember_server *s, const char *fmt, ...)
{
    if (!s->cfg.log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->cfg.log(s->cfg.log_user, line);
}

/* libmicrohttpd's own error messages go to the same log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    const ember_server *s = cls;
    if (!s->cfg.log)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    s->cfg.log(s->cfg.log_user, line);
}

/* -------------------------------------------------------- generations */

static void gen_free(generation *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->pool_n; i++)
        ember_model_destroy(g->pool[i]);
    free(g->pool);
    pthread_mutex_destroy(&g->pool_lock);
    if (g->label_json)
        for (int64_t k = 0; k < g->K; k++)
            free(g->label_json[k]);
    if (g->reply_json)
        for (int64_t k = 0; k < g->K; k++)
            free(g->reply_json[k]);
    free(g->label_json);
    free(g->reply_json);
    free(g->info);
    ember__serve_rec_free(g);
    ember_pipeline_destroy(g->pipe);
    ember_model_destroy(g->model);
    free(g);
}

/* A share of g's model for this request: from the pool, or a new one. */
static ember_model *gen_borrow(generation *g, ember_error *err)
{
    ember_model *m = NULL;
    pthread_mutex_lock(&g->pool_lock);
    if (g->pool_n > 0)
        m = g->pool[--g->pool_n];
    pthread_mutex_unlock(&g->pool_lock);
    if (!m && ember_model_share(&m, g->model, err))
        return NULL;
    return m;
}

static void gen_give_back(generation *g, ember_model *m)
{
    pthread_mutex_lock(&g->pool_lock);
    if (g->pool_n == g->pool_cap) {
        int cap = g->pool_cap ? 2 * g->pool_cap : 8;
        ember_model **np = realloc(g->pool, (size_t)cap * sizeof *np);
        if (!np) {
            pthread_mutex_unlock(&g->pool_lock);
            ember_model_destroy(m);
            return;
        }
        g->pool = np;
        g->pool_cap = cap;
    }
    g->pool[g->pool_n++] = m;
    pthread_mutex_unlock(&g->pool_lock);
}

static generation *gen_acquire(ember_server *s)
{
    pthread_mutex_lock(&s->lock);
    generation *g = s->current;
    if (g)
        g->refs++;
    pthread_mutex_unlock(&s->lock);
    return g;
}

static void gen_release(ember_server *s, generation *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&s->lock);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last)
        gen_free(g);
}

/* The whole file's SHA-256, read in 1 MiB pieces. */
static ember_status file_sha256(const char *path, char out[EMBER_SHA256_HEX_LEN + 1],
                                ember_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ember_sha256 h;
    ember_status st = ember__sha256_init(&h, err);
    char *buf = st ? NULL : malloc(1 << 20);
    if (!st && !buf)
        st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    size_t n;
    while (!st && (n = fread(buf, 1, 1 << 20, f)) > 0)
        st = ember__sha256_update(&h, buf, n, err);
    if (!st && ferror(f))
        st = EMBER_FAIL(err, EMBER_ERR_IO, "%s: read error", path);
    if (!st)
        st = ember__sha256_final(&h, out, err);
    ember__sha256_deinit(&h);
    free(buf);
    fclose(f);
    return st;
}

/* Line (from 1) of byte `at` of text, and the byte's place in that line
 * (from 1), for messages about the answers file. */
static void line_of(const char *text, size_t at, size_t *line, size_t *col)
{
    size_t l = 1, start = 0;
    for (size_t i = 0; i < at; i++)
        if (text[i] == '\n') {
            l++;
            start = i + 1;
        }
    *line = l;
    *col = at - start + 1;
}

/* Offset of the first NUL byte or \u0000 escape in text[0..n) (cJSON would
 * end a string there, cutting a reply short), or (size_t)-1. */
static size_t find_nul(const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\0')
            return i;
        if (text[i] != '\\' || i + 1 == n)
            continue;
        if (text[i + 1] == 'u' && n - i >= 6 && !strncmp(text + i + 2, "0000", 4))
            return i;
        i++; /* the escaped character: "\\u0000" is a backslash, then text */
    }
    return (size_t)-1;
}

#define ANSWERS_EXPECTED "expected a JSON object mapping intents to reply texts, e.g. " \
                         "{\"card_lost\": \"We have blocked your card.\"}"

/* The answers file: a JSON object mapping intents to reply texts. Every key
 * must be one of the model's labels (a typo would silently never answer).
 * Errors name the file, the line and byte for syntax and encoding, the
 * intent otherwise. */
static ember_status load_answers(generation *g, const char *path, ember_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    ember_status st = EMBER_OK;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            size_t nc = cap ? 2 * cap : 131072;
            if (nc > ((size_t)64 << 20)) {
                st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: larger than 64 MiB", path);
                break;
            }
            char *nt = realloc(text, nc);
            if (!nt) {
                st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            text = nt;
            cap = nc;
        }
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (!st && ferror(f))
        st = EMBER_FAIL(err, EMBER_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st) {
        free(text);
        return st;
    }
    text[len] = '\0';
    size_t bad = ember__serve_utf8_check(text, len), line, col;
    const char *what = "invalid UTF-8";
    if (bad == (size_t)-1 && (bad = find_nul(text, len)) != (size_t)-1)
        what = text[bad] ? "a NUL character (\\u0000), which would cut a reply short,"
                         : "NUL byte";
    if (bad != (size_t)-1) {
        line_of(text, bad, &line, &col);
        free(text);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%zu: %s at byte %zu of the line (offset %zu "
                          "in the file)", path, line, what, col, bad);
    }
    if (len == 0) {
        free(text);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: file is empty (" ANSWERS_EXPECTED ")", path);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1); /* + the NUL */
    if (!root) {
        size_t at = end ? (size_t)(end - text) : 0;
        line_of(text, at, &line, &col);
        free(text);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%zu: not valid JSON at byte %zu of the line "
                          "(offset %zu in the file; " ANSWERS_EXPECTED ")", path, line, col, at);
    }
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: the top level is not an object (" ANSWERS_EXPECTED
                          ")", path);
    }
    g->reply_json = calloc((size_t)g->K, sizeof *g->reply_json);
    if (!g->reply_json) {
        cJSON_Delete(root);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        int64_t k = -1;
        for (int64_t c = 0; c < g->K; c++)
            if (!strcmp(ember_pipeline_class_name(g->pipe, c), it->string)) {
                k = c;
                break;
            }
        if (k < 0) {
            st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: intent \"%s\" is not a label of the model "
                            "(it has %lld, e.g. \"%s\")", path, it->string, (long long)g->K,
                            ember_pipeline_class_name(g->pipe, 0));
            break;
        }
        if (!cJSON_IsString(it) || !it->valuestring[0]) {
            st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: the reply for \"%s\" must be a non-empty "
                            "string", path, it->string);
            break;
        }
        if (g->reply_json[k]) {
            st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: intent \"%s\" appears twice", path,
                            it->string);
            break;
        }
        if (!(g->reply_json[k] = ember__serve_json_quote(it->valuestring))) {
            st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
            break;
        }
        g->n_answers++;
    }
    cJSON_Delete(root);
    return st;
}

/* The GET /v1/model document, built once per load. */
static ember_status build_info(ember_server *s, generation *g, ember_error *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "classifier");
    cJSON *labels = cJSON_AddArrayToObject(o, "labels");
    for (int64_t k = 0; k < g->K; k++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(ember_pipeline_class_name(g->pipe, k)));
    cJSON_AddNumberToObject(o, "version", (double)g->version);
    cJSON_AddStringToObject(o, "path", s->cfg.model_path);
    cJSON_AddStringToObject(o, "sha256", g->sha256);
    /* shown with float precision (0.7, not 0.699999988079071) */
    char tb[32];
    snprintf(tb, sizeof tb, "%.7g", g->threshold);
    cJSON_AddNumberToObject(o, "threshold", strtod(tb, NULL));
    cJSON_AddStringToObject(o, "threshold_source", g->threshold_source);
    if (s->cfg.answers_path) {
        cJSON_AddStringToObject(o, "answers_path", s->cfg.answers_path);
        cJSON_AddNumberToObject(o, "answered_intents", (double)g->n_answers);
    }
    char *desc = NULL;
    ember_error derr;
    if (!ember_model_describe_json(g->model, &desc, &derr)) {
        cJSON *d = cJSON_Parse(desc);
        cJSON *a = d ? cJSON_DetachItemFromObject(d, "architecture") : NULL;
        cJSON *c = d ? cJSON_DetachItemFromObject(d, "compile") : NULL;
        if (a)
            cJSON_AddItemToObject(o, "architecture", a);
        if (c)
            cJSON_AddItemToObject(o, "compile", c);
        cJSON_AddNumberToObject(o, "params", cJSON_GetNumberValue(cJSON_GetObjectItem(d, "params")));
        cJSON_Delete(d);
        free(desc);
    }
    /* the lineage: every metadata entry the model carries,
     * except the pipeline (vocabulary: large, and training text) */
    cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
    int n = ember_model_metadata_count(g->model);
    for (int i = 0; i < n; i++) {
        const char *key = ember_model_metadata_key(g->model, i);
        if (!strcmp(key, EMBER_META_TEXT_PIPELINE))
            continue;
        const char *val = ember_model_get_metadata(g->model, key);
        cJSON *parsed = val && (val[0] == '{' || val[0] == '[') ? cJSON_Parse(val) : NULL;
        if (parsed)
            cJSON_AddItemToObject(meta, key, parsed);
        else
            cJSON_AddStringToObject(meta, key, val ? val : "");
    }
    g->info = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!g->info)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    return EMBER_OK;
}

/* A text classifier's generation: the model, its pipeline (which must fit
 * it), the labels, the answers file and the threshold. */
static ember_status load_classifier(ember_server *s, generation *g, const char *path,
                                    ember_error *err)
{
    ember_status st = ember_model_load(&g->model, path, err);
    const char *pj = st ? NULL : ember_model_get_metadata(g->model, EMBER_META_TEXT_PIPELINE);
    if (!st && !pj)
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: not a text model (no %s metadata); "
                        "ember serve needs a model trained on text", path,
                        EMBER_META_TEXT_PIPELINE);
    if (!st && (st = ember_pipeline_from_json(&g->pipe, pj, err)))
        ember__error_prefix(err, "%s", path);
    /* The pipeline must fit the model it came with: ids below the embedding's
     * rows, one output per class (the answer reads K probabilities per
     * text: a narrower output would be read past its end). ember train
     * writes them together; a model put together otherwise may not. */
    if (!st) {
        int64_t shape[EMBER_MAX_DIMS];
        const ember_model *m = g->model;
        int64_t rows = ember_model_input_shape(m, shape) == 0 && m->n_layers > 0 &&
                               m->layers[0]->kind == EMBER_LAYER_EMBEDDING
                           ? ((const embedding_config *)m->layers[0]->config)->input_dim
                           : -1;
        int64_t width = ember__model_out_size(m), classes = ember_pipeline_class_count(g->pipe);
        if (rows < 0)
            st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: has a text pipeline but does not take "
                            "token ids (its first layer is not an embedding)", path);
        else if (rows != ember_pipeline_input_dim(g->pipe) || width != classes)
            st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: the model does not fit its text "
                            "pipeline: %lld embedding rows and %lld outputs, but the pipeline "
                            "makes ids below %lld and has %lld classes", path, (long long)rows,
                            (long long)width, (long long)ember_pipeline_input_dim(g->pipe),
                            (long long)classes);
    }
    if (!st) {
        g->K = ember_pipeline_class_count(g->pipe);
        g->label_json = calloc((size_t)g->K, sizeof *g->label_json);
        if (!g->label_json)
            st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
        for (int64_t k = 0; !st && k < g->K; k++)
            if (!(g->label_json[k] = ember__serve_json_quote(ember_pipeline_class_name(g->pipe, k))))
                st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    if (!st && s->cfg.answers_path)
        st = load_answers(g, s->cfg.answers_path, err);
    if (!st) {
        if (s->cfg.threshold >= 0.0) {
            g->threshold = (float)s->cfg.threshold;
            g->threshold_source = "command line";
        } else {
            const char *t = ember_model_get_metadata(g->model, EMBER_META_SERVE_THRESHOLD);
            char *endp = NULL;
            /* a float written with %.9g: strtof gives it back bit for bit (the
             * comparison is float p >= float threshold) */
            double v = t ? strtof(t, &endp) : 0.5;
            if (t && (endp == t || *endp || !(v >= 0.0 && v <= 1.0)))
                st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s=\"%s\" is not a number "
                                "in [0, 1]", path, EMBER_META_SERVE_THRESHOLD, t);
            g->threshold = v;
            g->threshold_source = t ? "calibrated" : "default";
        }
    }
    return st;
}

/* A recommender's generation; the settings of a text model are refused. */
static ember_status load_recommender(ember_server *s, generation *g, const char *path,
                                     ember_error *err)
{
    if (s->cfg.answers_path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "%s is a recommender model: an answers file (%s) "
                          "goes with a text model only", path, s->cfg.answers_path);
    if (s->cfg.threshold >= 0.0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "%s is a recommender model: a hand-off "
                          "threshold goes with a text model only", path);
    return ember__serve_rec_load(g, path, err);
}

static ember_status gen_load(ember_server *s, generation **out, ember_error *err)
{
    generation *g = calloc(1, sizeof *g);
    if (!g)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&g->pool_lock, NULL);
    const char *path = s->cfg.model_path;
    ember_status st = file_sha256(path, g->sha256, err);
    /* The kind of file from its header (ember_file_format), then the one
     * loader that fits: a corrupt recommender gets the recommender loader's
     * message, not the classifier's "not an Ember model", and nothing is
     * loaded twice. */
    char format[64];
    if (!st)
        st = ember_file_format(path, format, sizeof format, err);
    int rec = !st && !strcmp(format, EMBER_FILE_FORMAT_RECOMMENDER);
    if (!st)
        st = rec ? load_recommender(s, g, path, err) : load_classifier(s, g, path, err);
    if (!st) {
        pthread_mutex_lock(&s->lock);
        g->version = s->next_version;
        pthread_mutex_unlock(&s->lock);
        st = rec ? ember__serve_rec_info(g, path, err) : build_info(s, g, err);
    }
    if (st) {
        gen_free(g);
        return st;
    }
    *out = g;
    return EMBER_OK;
}

/* ------------------------------------------------------------- public */

ember_server_config ember_server_config_default(void)
{
    ember_server_config c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.port = 8080;
    c.threads = 2;
    c.threshold = -1.0;
    c.max_body = 1 << 20;
    c.max_texts = 256;
    c.default_k = 3;
    c.timeout_s = 30;
    c.max_connections = 1024;
    return c;
}

ember_status ember_server_load(ember_server *s, ember_error *err)
{
    if (!s)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_server_load: server is NULL");
    pthread_mutex_lock(&s->load_lock);
    double t0 = now_s();
    generation *g = NULL;
    ember_status st = gen_load(s, &g, err);
    if (st) {
        atomic_fetch_add(&s->reloads_failed, 1);
        pthread_mutex_unlock(&s->load_lock);
        logf_(s, "load failed (%s): %s", ember_server_ready(s) ? "the previous model keeps serving"
                                                               : "no model: requests answer 503",
              err ? err->message : "");
        return st;
    }
    g->refs = 1; /* the server's own reference */
    pthread_mutex_lock(&s->lock);
    generation *old = s->current;
    s->current = g;
    s->next_version++;
    pthread_mutex_unlock(&s->lock);
    atomic_store(&s->version, g->version);
    atomic_fetch_add(&s->reloads_ok, 1);
    pthread_mutex_unlock(&s->load_lock);
    if (g->kind == GEN_RECOMMENDER)
        logf_(s, "model version %lld loaded from %s in %.2f s: a recommender of %lld users and "
              "%lld items, sha256 %.12s", (long long)g->version, s->cfg.model_path, now_s() - t0,
              (long long)ember_recommender_user_count(g->rec), (long long)g->n_items, g->sha256);
    else
        logf_(s, "model version %lld loaded from %s in %.2f s: %lld intents, %lld answered, "
              "threshold %.4g (%s), sha256 %.12s", (long long)g->version, s->cfg.model_path,
              now_s() - t0, (long long)g->K, (long long)g->n_answers, g->threshold,
              g->threshold_source, g->sha256);
    gen_release(s, old);
    return EMBER_OK;
}

int ember_server_ready(const ember_server *s) { return s && atomic_load(&s->version) > 0; }

int64_t ember_server_model_version(const ember_server *s)
{
    return s ? (int64_t)atomic_load(&s->version) : 0;
}

int ember_server_port(const ember_server *s) { return s ? s->port : 0; }

static ember_status check_config(const ember_server_config *c, ember_error *err)
{
    if (!c->model_path || !*c->model_path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "server: model_path is required");
    if (c->port < 0 || c->port > 65535)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "server: port %d is not in 0..65535", c->port);
    if (c->threads < 1 || c->threads > 256)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "server: threads %d is not in 1..256", c->threads);
    if (!(c->threshold <= 1.0))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "server: threshold %g is above 1", c->threshold);
    if (c->max_body < 1 || c->max_body > ((int64_t)1 << 30))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "server: max_body %lld is not in 1..1 GiB",
                          (long long)c->max_body);
    if (c->max_texts < 1 || c->max_texts > 100000)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "server: max_texts %d is not in 1..100000",
                          c->max_texts);
    if (c->default_k < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "server: default_k %d is below 1", c->default_k);
    if (c->max_connections < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "server: max_connections must be at least 1");
    return EMBER_OK;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

ember_status ember_server_create(ember_server **out, const ember_server_config *cfg,
                                 ember_error *err)
{
    if (!out || !cfg)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_server_create: NULL argument");
    *out = NULL;
    ember_status st = check_config(cfg, err);
    if (st)
        return st;
    ember_server *s = calloc(1, sizeof *s);
    if (!s)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    s->cfg.model_path = s->model_path = strdup(cfg->model_path);
    s->cfg.answers_path = s->answers_path = dup_or_null(cfg->answers_path);
    s->cfg.host = s->host = strdup(cfg->host && *cfg->host ? cfg->host : "127.0.0.1");
    s->next_version = 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->load_lock, NULL);
    if (!s->model_path || !s->host || (cfg->answers_path && !s->answers_path)) {
        ember_server_destroy(s);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    /* the address: numeric or a name, IPv4 or IPv6 */
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(s->host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        st = EMBER_FAIL(err, EMBER_ERR_IO, "server: cannot resolve host \"%s\": %s", s->host,
                        gai_strerror(gai));
        ember_server_destroy(s);
        return st;
    }
    memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
    int v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    /* the BLAS thread count is a process-wide setting: fix it once here, before
     * the worker threads exist (each request predicts on one thread) */
    ember__blas_single_thread();
    /* poll(), not epoll: with a thread pool and epoll, libmicrohttpd 0.9.75's
     * MHD_quiesce_daemon and a worker thread can both remove the listening
     * socket from the worker's epoll set, and the loser aborts the process
     * ("Failed to remove listen FD from epoll set": seen once in CI, in
     * test_serve). With poll() quiescing only sets a flag. A worker watches
     * a few connections, so poll() costs nothing measurable here. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    struct MHD_OptionItem ops[5];
    int nops = 0;
    if (cfg->threads > 1)
        ops[nops++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL};
    ops[nops++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                          (intptr_t)cfg->max_connections, NULL};
    ops[nops++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->timeout_s,
                                          NULL};
    /* per-connection memory for the request line, headers and buffers
     * (bodies are copied out as they arrive). libmicrohttpd clears it for
     * every request: its default of 32 KiB was 5 % of the CPU time; 16 KiB
     * still holds ~12 KiB of request headers (431 beyond) */
    ops[nops++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16 * 1024, NULL};
    ops[nops++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, ember__serve_handle, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&s->addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, ember__serve_completed, s,
                                 MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!s->daemon) {
        st = EMBER_FAIL(err, EMBER_ERR_IO, "server: cannot listen on %s port %d (address in "
                        "use, or not an address of this machine?)", s->host, cfg->port);
        ember_server_destroy(s);
        return st;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    s->running = 1;
    s->started = now_s();
    logf_(s, "listening on http://%s%s%s:%d/ with %d threads", v6 ? "[" : "", s->host,
          v6 ? "]" : "", s->port, cfg->threads);
    *out = s;
    return EMBER_OK;
}

int ember_server_stop(ember_server *s, double drain_s)
{
    if (!s || !s->running)
        return 0;
    atomic_store(&s->stopping, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    double t0 = now_s();
    while (atomic_load(&s->in_flight) > 0 && now_s() - t0 < drain_s) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    int left = (int)atomic_load(&s->in_flight);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    s->running = 0;
    logf_(s, "stopped after %.1f s of draining; %d requests were still running", now_s() - t0,
          left);
    return left;
}

void ember_server_destroy(ember_server *s)
{
    if (!s)
        return;
    ember_server_stop(s, 0.0);
    if (s->current)
        gen_release(s, s->current);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->load_lock);
    free(s->model_path);
    free(s->answers_path);
    free(s->host);
    free(s);
}

/* Exposed to http.c */
generation *ember__serve_acquire(ember_server *s) { return gen_acquire(s); }
void ember__serve_release(ember_server *s, generation *g) { gen_release(s, g); }
ember_model *ember__serve_borrow(generation *g, ember_error *err) { return gen_borrow(g, err); }
ember_status ember__serve_load_answers(generation *g, const char *path, ember_error *err)
{
    return load_answers(g, path, err);
}
void ember__serve_give_back(generation *g, ember_model *m) { gen_give_back(g, m); }
