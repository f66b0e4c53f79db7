/*
 * recommend.h - internals of the recommender (src/recommend/): the string
 * id map, the interaction and item tables, and the biased matrix
 * factorisation's parameter layout and per-example loss. Not public; the
 * tests use it for the gradient check and the id-map unit tests.
 */
#ifndef EMBER_RECOMMEND_H
#define EMBER_RECOMMEND_H

#include "core.h"

/* ------------------------------------------------------------- id map
 * Arbitrary byte strings -> dense indices 0..n-1 in order of first
 * appearance. Open addressing with linear probing over a power-of-two table
 * kept at most half full; the strings live in one growing byte buffer. */
typedef struct ember_idmap {
    int64_t n;          /* ids stored */
    int64_t cap;        /* slots in `slots` (power of two) */
    int64_t *slots;     /* [cap] index + 1, 0 = empty */
    uint64_t *hashes;   /* [n] hash of id k */
    int64_t *offs;      /* [n] offset of id k in `bytes` */
    int64_t offs_cap;
    char *bytes;        /* NUL-terminated ids back to back */
    int64_t used, bytes_cap;
} ember_idmap;

void ember__idmap_init(ember_idmap *m);
void ember__idmap_deinit(ember_idmap *m);
/* Index of `id` (len bytes), adding it when absent; *idx set on success. */
ember_status ember__idmap_add(ember_idmap *m, const char *id, size_t len, int64_t *idx,
                              ember_error *err);
/* Index of `id` or -1. */
int64_t ember__idmap_find(const ember_idmap *m, const char *id, size_t len);
/* The id of index k (0 <= k < n), borrowed until the next add. */
const char *ember__idmap_get(const ember_idmap *m, int64_t k);

/* ------------------------------------------------------ line reading
 * Shared by the interaction, item and feature readers (interactions.c). */
#include <stdio.h>
typedef struct ember_line_reader {
    FILE *f;
    const char *path; /* borrowed */
    char *line;
    size_t cap;
    long long lineno;
} ember_line_reader;
ember_status ember__lines_open(ember_line_reader *r, const char *path, ember_error *err);
/* The next non-blank line in r->line (NUL-terminated, modifiable, line end
 * removed): *got 1, or 0 at the end. Errors: a NUL byte, a read error. */
ember_status ember__lines_next(ember_line_reader *r, int *got, ember_error *err);
void ember__lines_close(ember_line_reader *r);
/* Split line in place at sep (sep_len bytes) into at most max fields;
 * returns the count, or max + 1 when there are more. */
int ember__rec_split(char *line, const char *sep, size_t sep_len, char **f, int max);
/* A finite float (the whole string); 0 on success, -1 otherwise. */
int ember__rec_parse_float(const char *s, float *out);

/* ------------------------------------------------------ interactions */
struct ember_interactions {
    int64_t n;
    int has_rating, has_time;
    int64_t *user;      /* [n] dense user index into `users` */
    int64_t *item;      /* [n] dense item index into `items` */
    float *rating;      /* [n] (1 when the file has no rating column) */
    int64_t *time;      /* [n] (0 when the file has no timestamp column) */
    int64_t cap;
    ember_idmap users, items;
};

/* An empty data set (caller destroys), and one more record by id strings. */
ember_status ember__interactions_create(ember_interactions **out, int has_rating, int has_time,
                                        ember_error *err);
ember_status ember__interactions_add(ember_interactions *d, const char *user, const char *item,
                                     float rating, int64_t time, ember_error *err);

/* One EMBER_PROGRESS_EPOCH_END event (NULL progress: nothing): the epoch's
 * mean loss and the seconds since t0 (ember__now()); shared by both models. */
void ember__rec_epoch_end(ember_progress_fn progress, void *user, int epoch, int epochs,
                          int64_t steps, double t0, double loss);

/* ------------------------------------------------- biased MF internals
 * Parameters sit in one flat block of n = (U + I) (D + 1) floats:
 *   P  [U][D] user factors   at 0
 *   Q  [I][D] item factors   at U D
 *   bu [U]    user biases    at (U + I) D
 *   bi [I]    item biases    at (U + I) D + U
 * The global mean mu is the training ratings' mean, not learned. */
typedef struct ember_mf_layout {
    int64_t U, I, D;
    int64_t p, q, bu, bi, n; /* offsets and total */
} ember_mf_layout;

ember_status ember__mf_layout(ember_mf_layout *L, int64_t U, int64_t I, int64_t D,
                              ember_error *err);

/* r_hat = mu + bu + bi + p . q; the dot product in float, in 8 interleaved
 * partial sums added in a fixed order (the same value on every CPU). */
float ember__mf_score(const float *p, const float *q, int64_t D, float mu, float bu, float bi);

/* Loss of one rating r of (u, i) and its gradient:
 *   l = 1/2 (r_hat - r)^2 + 1/2 l2b (bu^2 + bi^2) + 1/2 l2 (|p_u|^2 + |q_i|^2)
 * Writes (overwrites) dl/dp_u, dl/dq_i, dl/dbu, dl/dbi into g at the same
 * offsets as in w (g is a block of L->n floats); returns l and sets *pred to
 * r_hat. Touches only the rows of u and i. */
double ember__mf_example_grad(const ember_mf_layout *L, const float *w, float *g, float mu,
                              int64_t u, int64_t i, float r, float l2, float l2b, float *pred);

/* BPR loss of (u, i, j), i != j, and its gradient written (overwriting) into
 * g's rows of u, i and j (biases of i and j; b_u has none):
 *   l = log(1 + exp(-x)) + 1/2 l2 (|p_u|^2 + |q_i|^2 + |q_j|^2)
 *       + 1/2 l2b (b_i^2 + b_j^2),   x = b_i - b_j + p_u . (q_i - q_j) */
double ember__mf_bpr_grad(const ember_mf_layout *L, const float *w, float *g, int64_t u, int64_t i,
                          int64_t j, float l2, float l2b);

#endif
