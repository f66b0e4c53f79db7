/*
 * serve.h - internals of ember_server, shared by server.c (life cycle,
 * model generations, reload) and http.c (requests, routes, metrics, page).
 */
#ifndef EMBER_SERVE_H
#define EMBER_SERVE_H

#include "core.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "io/hash.h"
#include "strbuf.h"

/* What a generation serves: a text classifier (/v1/predict) or a
 * recommender (/v1/recommend). */
typedef enum gen_kind { GEN_CLASSIFIER = 0, GEN_RECOMMENDER = 1 } gen_kind;

/* An item id and its model index, for looking up "exclude" ids by bsearch
 * (the public API maps index -> id only). */
typedef struct rec_item {
    const char *id;             /* borrowed from the recommender */
    int64_t index;
} rec_item;

/* One loaded model with everything a request needs from it. Freed when the
 * server has moved to a newer one and the last request using it is done. */
typedef struct generation {
    int refs;                   /* under ember_server.lock */
    int64_t version;
    gen_kind kind;
    /* GEN_RECOMMENDER (recommend.c): the model, used through the public
     * ember_recommender_* calls only (they take it const, so requests share
     * it without a lock), and its item ids sorted by strcmp. The classifier
     * fields below stay empty. */
    ember_recommender *rec;
    rec_item *items;            /* [n_items] */
    int64_t n_items;
    /* GEN_CLASSIFIER: */
    ember_model *model;         /* owns the weights */
    ember_pipeline *pipe;
    int64_t K;                  /* classes */
    char **label_json;          /* [K] each label as a JSON string literal */
    char **reply_json;          /* [K] reply as a JSON string literal, or NULL; NULL: no file */
    int64_t n_answers;
    double threshold;           /* as a float value: the hand-off test is float p >= it */
    const char *threshold_source; /* "command line", "calibrated", "default" */
    char sha256[EMBER_SHA256_HEX_LEN + 1]; /* of the model file */
    char *info;                 /* GET /v1/model body */
    pthread_mutex_t pool_lock;  /* idle shares of `model`, one per concurrent request */
    ember_model **pool;
    int pool_n, pool_cap;
} generation;

/* Status codes counted by /metrics; anything else counts as "other". */
#define SERVE_N_STATUS 11
extern const int ember__serve_statuses[SERVE_N_STATUS];
/* Latency histogram upper bounds in seconds (+Inf is the last bucket). */
#define SERVE_N_BUCKETS 14
extern const double ember__serve_buckets[SERVE_N_BUCKETS];

struct ember_server {
    ember_server_config cfg;    /* strings point at the copies below */
    char *model_path, *answers_path, *host;
    struct sockaddr_storage addr;
    int port;
    int running;
    double started;
    struct MHD_Daemon *daemon;

    pthread_mutex_t lock;       /* current, refs, next_version */
    pthread_mutex_t load_lock;  /* one load at a time */
    generation *current;
    int64_t next_version;

    atomic_int stopping;
    atomic_llong version;       /* of current; 0 before the first load */
    atomic_llong in_flight;
    atomic_ullong requests[SERVE_N_STATUS + 1];   /* by status; last: other */
    atomic_ullong latency[SERVE_N_BUCKETS + 1];   /* per bucket (not cumulative); last: +Inf */
    atomic_ullong latency_us_sum;
    atomic_ullong texts, handoffs, answered;
    atomic_ullong recommendations;     /* /v1/recommend answers (200) */
    atomic_ullong reloads_ok, reloads_failed;
};

/* libmicrohttpd callbacks (http.c). */
enum MHD_Result ember__serve_handle(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_size, void **con_cls);
void ember__serve_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                            enum MHD_RequestTerminationCode toe);

/* Reference to the current generation (NULL before the first load), and
 * back; a share of its model for one request, and back (server.c). */
generation *ember__serve_acquire(ember_server *s);
void ember__serve_release(ember_server *s, generation *g);
ember_model *ember__serve_borrow(generation *g, ember_error *err);
void ember__serve_give_back(generation *g, ember_model *m);
/* Read the answers file at `path` into g->reply_json / g->n_answers; g->pipe
 * and g->K must be set (server.c; a loader step, exposed for the fuzzer).
 * On failure the replies read so far stay in g->reply_json for the caller
 * to free with the generation. */
ember_status ember__serve_load_answers(generation *g, const char *path, ember_error *err);

/* A /v1/predict body after parsing (http.c). */
typedef struct ember__serve_body {
    struct cJSON *root;  /* the parsed JSON, owning the strings below */
    const char **texts;  /* [n] the texts, borrowed from root */
    int64_t n;           /* 1 for {"text": ...}; the array's length for {"texts": [...]} */
    int64_t k;           /* "k", or the default */
    int batch;           /* 1 for the "texts" form (the answer has "results") */
} ember__serve_body;

/* Room for the message of a refused body (what send_error formats into). */
#define SERVE_BODY_MESSAGE_MAX 512

/* Parse and check a request body: body[0..len) with body[len] == '\0'. 0 on
 * success (*out filled; free it with ember__serve_body_free); otherwise the
 * HTTP status of the refusal (400, 413, 500) with its message in
 * msg[SERVE_BODY_MESSAGE_MAX], and *out empty. max_texts bounds n (413
 * beyond); k is checked (a whole number in 1..10^6) but not capped at the
 * class count, which needs the model. No server state is touched. */
int ember__serve_parse_body(const char *body, size_t len, int max_texts, int64_t default_k,
                            ember__serve_body *out, char *msg);
void ember__serve_body_free(ember__serve_body *b);

/* The checks every JSON body passes first: not empty, UTF-8, no \u0000
 * escape, valid JSON, an object. 0 with *root set (the caller deletes it),
 * or 400 with msg filled; `example` completes "send a JSON object such as".
 * body[len] must be '\0'. */
int ember__serve_parse_object(const char *body, size_t len, const char *example,
                              struct cJSON **root, char *msg);
/* printf into msg[SERVE_BODY_MESSAGE_MAX], cut to valid UTF-8; returns status. */
int ember__serve_body_fail(char *msg, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------- recommend (recommend.c) */

/* /v1/recommend: k when the body gives none, the largest k, the most
 * "exclude" ids (413 beyond; the body limit bounds them too). */
#define SERVE_REC_DEFAULT_K 10
#define SERVE_REC_MAX_K 1000
#define SERVE_REC_MAX_EXCLUDE 10000

/* A /v1/recommend body after parsing: exactly one of user / item. */
typedef struct ember__serve_rec_body {
    struct cJSON *root;         /* owns the strings below */
    const char *user, *item;    /* borrowed from root; one is NULL */
    int64_t k;                  /* 1..SERVE_REC_MAX_K */
    const char **exclude;       /* [n_exclude] borrowed from root; NULL when none */
    int64_t n_exclude;
} ember__serve_rec_body;

/* Parse and check a /v1/recommend body (body[len] == '\0'). 0 on success
 * (free *out with ember__serve_rec_body_free), else 400 / 413 / 500 with the
 * message, naming the field, in msg[SERVE_BODY_MESSAGE_MAX]. No server or
 * model state is touched. */
int ember__serve_parse_rec_body(const char *body, size_t len, ember__serve_rec_body *out,
                                char *msg);
void ember__serve_rec_body_free(ember__serve_rec_body *b);
/* Load the recommender at path into g (kind, rec, items). Errors: those of
 * ember_recommender_load, EMBER_ERR_NOMEM. */
ember_status ember__serve_rec_load(generation *g, const char *path, ember_error *err);
/* The same for a recommender already in memory: g takes rec (freed with g,
 * also on failure) and indexes its items (a loader step, exposed for the
 * fuzzer). Errors: EMBER_ERR_NOMEM. */
ember_status ember__serve_rec_adopt(generation *g, ember_recommender *rec, ember_error *err);
/* g->info (GET /v1/model) for a loaded recommender; g->version and
 * g->sha256 must be set. Errors: EMBER_ERR_NOMEM. */
ember_status ember__serve_rec_info(generation *g, const char *path, ember_error *err);
/* Free what ember__serve_rec_load set. */
void ember__serve_rec_free(generation *g);
/* The answer to a parsed body, appended to out as JSON (without
 * model_version, which the caller writes): 0, or 500 with msg. */
int ember__serve_rec_answer(const generation *g, const ember__serve_rec_body *b, ember_sbuf *out,
                            char *msg);
/* s as a JSON string literal, appended to b. */
void ember__serve_sb_json(ember_sbuf *b, const char *s);

/* Byte offset of the first invalid UTF-8 sequence in s[0..n), or
 * (size_t)-1 when all of it is valid (http.c; utf8proc decides). */
size_t ember__serve_utf8_check(const char *s, size_t n);
/* s as a JSON string literal with its quotes (malloc'd; NULL: no memory). */
char *ember__serve_json_quote(const char *s);

/* The chat page served at / (page.c, generated from src/serve/page.html). */
extern const char ember__serve_page[];
extern const size_t ember__serve_page_len;

#endif
