/*
 * test_dist.c - data-parallel fit without MPI: P threads, each a "rank"
 * with its own model, joined by an in-process ember_dist (the collectives of
 * src/model/dist.h over shared memory and a pthread barrier). Each
 * distributed fit is compared with one single-process fit of the same
 * global batch: weights within DIST_REL_TOL (the summation order differs;
 * tests/mpi/run.sh explains the tolerance), and every rank's weights bit
 * for bit equal to rank 0's (they applied the same reduced gradients).
 * Cases: a lazy-embedding text model (rows exchanged sparsely; and whole,
 * with a tiny vocabulary), 3 ranks with empty shards (batch 2), and an MLP
 * with dropout and SGD momentum; the two-tower recommender (shards of each
 * batch, shared negatives, embedding rows exchanged sparsely and whole, 3
 * ranks with empty shards). Runs without MPI and under ASan/UBSan;
 * tests/mpi/run.sh covers the real mpirun path.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "model/dist.h"
#include "recommend/rec_internal.h"

#include <pthread.h>
#include <stdlib.h>

/* Relative difference allowed, |a - b| / max(|a|, |b|, DIST_FLOOR): the
 * same as tests/mpi/run.sh, measured there at <= 1.9e-5 for short runs. */
#define DIST_REL_TOL 1e-3
#define DIST_FLOOR 1e-3
#define MAX_RANKS 4

typedef struct world {
    int P;
    pthread_barrier_t bar;
    void *bufs[MAX_RANKS];
    const int64_t *mine[MAX_RANKS];
} world;

typedef struct fake {
    world *w;
    int rank;
} fake;

static size_t tsize(ember_dist_type t) { return t == EMBER_DIST_F32 ? 4 : t == EMBER_DIST_U8 ? 1 : 8; }

static ember_status fake_allreduce(void *impl, void *buf, int64_t n, ember_dist_type t,
                                   ember_dist_op op, ember_error *err)
{
    fake *f = impl;
    world *w = f->w;
    w->bufs[f->rank] = buf;
    pthread_barrier_wait(&w->bar);
    void *res = malloc((size_t)n * tsize(t));
    if (!res)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "fake allreduce");
    for (int64_t i = 0; i < n; i++) {
        double acc = 0.0; /* sum in rank order, in the element's type */
        float accf = 0.0f;
        int64_t acci = 0;
        unsigned char accu = 0;
        for (int r = 0; r < w->P; r++) {
            switch (t) {
            case EMBER_DIST_F32: {
                float v = ((const float *)w->bufs[r])[i];
                accf = r == 0 ? v : op == EMBER_DIST_SUM ? accf + v : (v > accf ? v : accf);
            } break;
            case EMBER_DIST_F64: {
                double v = ((const double *)w->bufs[r])[i];
                acc = r == 0 ? v : op == EMBER_DIST_SUM ? acc + v : (v > acc ? v : acc);
            } break;
            case EMBER_DIST_I64: {
                int64_t v = ((const int64_t *)w->bufs[r])[i];
                acci = r == 0 ? v : op == EMBER_DIST_SUM ? acci + v : (v > acci ? v : acci);
            } break;
            case EMBER_DIST_U8: {
                unsigned char v = ((const unsigned char *)w->bufs[r])[i];
                accu = r == 0 ? v : op == EMBER_DIST_SUM ? (unsigned char)(accu + v)
                                                         : (v > accu ? v : accu);
            } break;
            }
        }
        switch (t) {
        case EMBER_DIST_F32: ((float *)res)[i] = accf; break;
        case EMBER_DIST_F64: ((double *)res)[i] = acc; break;
        case EMBER_DIST_I64: ((int64_t *)res)[i] = acci; break;
        case EMBER_DIST_U8: ((unsigned char *)res)[i] = accu; break;
        }
    }
    pthread_barrier_wait(&w->bar); /* everyone has read every buffer */
    memcpy(buf, res, (size_t)n * tsize(t));
    free(res);
    return EMBER_OK;
}

static ember_status fake_allgatherv(void *impl, const int64_t *mine, int64_t *all,
                                    const int64_t *counts, ember_error *err)
{
    (void)err;
    fake *f = impl;
    world *w = f->w;
    w->mine[f->rank] = mine;
    pthread_barrier_wait(&w->bar);
    int64_t off = 0;
    for (int r = 0; r < w->P; r++) {
        memcpy(all + off, w->mine[r], (size_t)counts[r] * sizeof *all);
        off += counts[r];
    }
    pthread_barrier_wait(&w->bar);
    return EMBER_OK;
}

static void fake_abort(void *impl, int code)
{
    (void)impl;
    fprintf(stderr, "fake abort %d\n", code);
    abort();
}

static void fake_destroy(void *impl) { free(impl); }

/* No nonblocking calls: buckets fall back to the blocking allreduce,
 * started in the backward pass at the layer that completes them. */
static const ember_dist_ops fake_ops = {"fake", fake_allreduce, fake_allgatherv, fake_abort,
                                        fake_destroy, NULL, NULL, NULL};

/* ------------------------------------------------------------ cases */

typedef struct data {
    int ids;              /* text (ragged ids) or dense */
    ember_ragged r;
    ember_tensor *x, *y;
    int64_t V;            /* embedding rows */
} data;

typedef struct job {
    const data *d;
    ember_dist *dist;     /* NULL: single process */
    int64_t batch;
    int epochs;
    ember_model *m;       /* out */
    ember_status s;
    ember_error err;
    int64_t bucket_kb;    /* -1: the default */
} job;

static void *run_job(void *p)
{
    job *j = p;
    ember_error *err = &j->err;
    ember_model *m = NULL;
    ember_status s;
    if (j->d->ids) {
        ember_optimizer_config opt = ember_optimizer_adam(0.01f);
        s = ember_model_create_ids(&m, 7, err);
        if (!s) s = ember_model_add_embedding(m, j->d->V, 8, 1, err);
        if (!s) s = ember_model_add_global_average_pooling1d(m, err);
        if (!s) s = ember_model_add_dense(m, 16, EMBER_ACT_RELU, err);
        if (!s) s = ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, err);
        if (!s) s = ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, err);
    } else {
        int64_t in[1] = {j->d->x->shape[1]};
        ember_optimizer_config opt = ember_optimizer_sgd(0.05f, 0.9f, 0);
        opt.clip_norm = 1.0f;
        s = ember_model_create(&m, 1, in, 7, err);
        /* 64 units: 704 + 195 floats, more than one 1 KiB bucket */
        if (!s) s = ember_model_add_dense(m, 64, EMBER_ACT_RELU, err);
        if (!s) s = ember_model_add_dropout(m, 0.25f, err);
        if (!s) s = ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, err);
        if (!s) s = ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, err);
    }
    if (!s) {
        ember_model_set_threads(m, 1);
        ember_fit_config fc = ember_fit_config_default();
        fc.epochs = j->epochs;
        fc.batch_size = j->batch;
        fc.dist = j->dist;
        if (j->bucket_kb >= 0)
            fc.dist_bucket_kb = j->bucket_kb;
        if (j->d->ids) { /* validation on the training rows: the sharded path runs */
            fc.x_val_ids = &j->d->r;
            fc.y_val = j->d->y;
        }
        s = j->d->ids ? ember_model_fit_ids(m, &j->d->r, j->d->y, &fc, NULL, err)
                      : ember_model_fit(m, j->d->x, j->d->y, &fc, NULL, err);
    }
    j->s = s;
    j->m = m;
    return NULL;
}

/* Largest |a - b| / max(|a|, |b|, floor) over the parameters. */
static double rel_diff(const ember_model *a, const ember_model *b)
{
    double worst = 0.0;
    for (int64_t i = 0; i < a->n_params; i++) {
        double x = a->params[i], y = b->params[i], d = fabs(x - y);
        double den = fmax(fmax(fabs(x), fabs(y)), DIST_FLOOR);
        if (!(d / den <= worst))
            worst = d / den;
    }
    return worst;
}

/* P ranks as threads, each fitting with its own dist (bucket_kb -1: the default). */
static void run_ranks(const data *d, int P, int64_t batch, int epochs, int64_t bucket_kb,
                      job *jobs)
{
    world w;
    memset(&w, 0, sizeof w);
    w.P = P;
    pthread_barrier_init(&w.bar, NULL, (unsigned)P);
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < P; r++) {
        fake *f = malloc(sizeof *f);
        f->w = &w;
        f->rank = r;
        jobs[r] = (job){d, NULL, batch, epochs, NULL, EMBER_OK, {0}, bucket_kb};
        ember_error e;
        CHECK(ember__dist_create(&jobs[r].dist, r, P, &fake_ops, f, &e) == EMBER_OK);
    }
    for (int r = 0; r < P; r++)
        pthread_create(&th[r], NULL, run_job, &jobs[r]);
    for (int r = 0; r < P; r++)
        pthread_join(th[r], NULL);
    pthread_barrier_destroy(&w.bar);
}

/* Single process vs P ranks; returns the rank-0 model's difference. */
static void compare(const char *name, const data *d, int P, int64_t batch, int epochs,
                    int64_t want_sparse, int64_t want_dense)
{
    job single = {d, NULL, batch, epochs, NULL, EMBER_OK, {0}, -1};
    run_job(&single);
    CHECK_MSG(single.s == EMBER_OK, "%s single: %s", name, single.err.message);
    job jobs[MAX_RANKS];
    run_ranks(d, P, batch, epochs, -1, jobs);
    for (int r = 0; r < P; r++)
        CHECK_MSG(jobs[r].s == EMBER_OK, "%s rank %d: %s", name, r, jobs[r].err.message);
    if (single.m && jobs[0].m && !single.s && !jobs[0].s) {
        double diff = rel_diff(single.m, jobs[0].m);
        printf("%s: %d ranks vs 1 process: max relative difference %.3g\n", name, P, diff);
        CHECK_MSG(diff <= DIST_REL_TOL, "%s: %.3g > %g", name, diff, DIST_REL_TOL);
        for (int r = 1; r < P; r++)
            if (jobs[r].m && !jobs[r].s)
                CHECK_MSG(memcmp(jobs[r].m->params, jobs[0].m->params,
                                 (size_t)jobs[0].m->n_params * sizeof(float)) == 0,
                          "%s: rank %d's weights differ from rank 0's", name, r);
    }
    ember_dist_stats st;
    ember_dist_get_stats(jobs[0].dist, &st);
    CHECK_MSG(st.calls > 0, "%s: no collective was called", name);
    if (want_sparse >= 0)
        CHECK_MSG(st.sparse_exchanges == want_sparse && st.dense_exchanges == want_dense,
                  "%s: %lld sparse and %lld dense exchanges, want %lld and %lld", name,
                  (long long)st.sparse_exchanges, (long long)st.dense_exchanges,
                  (long long)want_sparse, (long long)want_dense);
    ember_model_destroy(single.m);
    for (int r = 0; r < P; r++) {
        ember_model_destroy(jobs[r].m);
        ember_dist_destroy(jobs[r].dist);
    }
}

static void make_text(data *d, int64_t n, int64_t V, uint32_t seed)
{
    memset(d, 0, sizeof *d);
    d->ids = 1;
    d->V = V;
    d->r.n = n;
    d->r.offsets = malloc((size_t)(n + 1) * sizeof *d->r.offsets);
    d->r.ids = malloc((size_t)n * 6 * sizeof *d->r.ids);
    int64_t shape[1] = {n};
    ember_tensor_create(&d->y, 1, shape, NULL);
    uint32_t x = seed;
    d->r.offsets[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        int len = 1 + (int)(x >> 29); /* 1..8 -> cap at 6 */
        if (len > 6)
            len = 6;
        int label = (int)(i % 3);
        for (int t = 0; t < len; t++) {
            x = x * 1664525u + 1013904223u;
            /* ids 2..V-1, the first one hinting at the label */
            int32_t id = t == 0 ? (int32_t)(2 + label) : (int32_t)(2 + (x >> 8) % (uint32_t)(V - 2));
            d->r.ids[d->r.offsets[i] + t] = id;
        }
        d->r.offsets[i + 1] = d->r.offsets[i] + len;
        d->y->data[i] = (float)label;
    }
}

static void make_dense(data *d, int64_t n, int64_t D)
{
    memset(d, 0, sizeof *d);
    int64_t xs[2] = {n, D}, ys[1] = {n};
    ember_tensor_create(&d->x, 2, xs, NULL);
    ember_tensor_create(&d->y, 1, ys, NULL);
    uint32_t x = 99;
    for (int64_t i = 0; i < n; i++) {
        int label = (int)(i % 3);
        for (int64_t k = 0; k < D; k++) {
            x = x * 1664525u + 1013904223u;
            d->x->data[i * D + k] = (float)(x >> 8) / 16777216.0f + (k == label ? 1.0f : 0.0f);
        }
        d->y->data[i] = (float)label;
    }
}

static void free_data(data *d)
{
    free(d->r.offsets);
    free(d->r.ids);
    ember_tensor_destroy(d->x);
    ember_tensor_destroy(d->y);
}

/* P ranks with gradient buckets of bucket_kb KiB (their allreduce started
 * in the backward pass) vs one exchange after it: the same sums, so the
 * same weights bit for bit (the fake allreduce adds in rank order). */
static void compare_buckets(const char *name, const data *d, int P, int64_t batch, int epochs)
{
    job a[MAX_RANKS], b[MAX_RANKS];
    run_ranks(d, P, batch, epochs, 0, a);
    run_ranks(d, P, batch, epochs, 1, b);
    ember_dist_stats sa, sb;
    ember_dist_get_stats(a[0].dist, &sa);
    ember_dist_get_stats(b[0].dist, &sb);
    for (int r = 0; r < P; r++)
        CHECK_MSG(a[r].s == EMBER_OK && b[r].s == EMBER_OK, "%s rank %d: %s %s", name, r,
                  a[r].err.message, b[r].err.message);
    if (a[0].m && b[0].m && !a[0].s && !b[0].s)
        CHECK_MSG(memcmp(a[0].m->params, b[0].m->params,
                         (size_t)a[0].m->n_params * sizeof(float)) == 0,
                  "%s: 1 KiB buckets and one exchange give different weights", name);
    /* more collectives with buckets: the layers went separately */
    CHECK_MSG(sb.calls > sa.calls, "%s: %lld collectives with buckets, %lld without", name,
              (long long)sb.calls, (long long)sa.calls);
    printf("%s: %d ranks, 1 KiB buckets: %lld collectives (one exchange: %lld), same weights\n",
           name, P, (long long)sb.calls, (long long)sa.calls);
    for (int r = 0; r < P; r++) {
        ember_model_destroy(a[r].m);
        ember_model_destroy(b[r].m);
        ember_dist_destroy(a[r].dist);
        ember_dist_destroy(b[r].dist);
    }
}

/* ------------------------------------------------- two-tower recommender */

typedef struct tt_job {
    const ember_interactions *d;
    ember_two_tower_config cfg;
    ember_recommender *r; /* out */
    ember_status s;
    ember_error err;
} tt_job;

static void *run_tt(void *p)
{
    tt_job *j = p;
    j->s = ember_recommender_train_two_tower(&j->r, j->d, NULL, NULL, &j->cfg, NULL, NULL, &j->err);
    return NULL;
}

static double rel_diff_f(const float *a, const float *b, int64_t n)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double x = a[i], y = b[i], d = fabs(x - y);
        double den = fmax(fmax(fabs(x), fabs(y)), DIST_FLOOR);
        if (!(d / den <= worst))
            worst = d / den;
    }
    return worst;
}

/* every parameter of two two-tower models: largest relative difference */
static double tt_diff(const ember_recommender *a, const ember_recommender *b, int *identical)
{
    const ember_tt *x = a->tt, *y = b->tt;
    const float *pa[4] = {x->uemb, x->iemb, x->utower->params, x->itower->params};
    const float *pb[4] = {y->uemb, y->iemb, y->utower->params, y->itower->params};
    int64_t n[4] = {(x->U + 1) * x->E, (x->I + 1) * x->E, x->utower->n_params,
                    x->itower->n_params};
    double worst = 0.0;
    *identical = 1;
    for (int k = 0; k < 4; k++) {
        double d = rel_diff_f(pa[k], pb[k], n[k]);
        worst = d > worst ? d : worst;
        *identical &= !memcmp(pa[k], pb[k], (size_t)n[k] * sizeof(float));
    }
    return worst;
}

static void compare_tt(const char *name, const ember_interactions *d, int P, int64_t batch,
                       int64_t negatives, int epochs, int want_sparse_only)
{
    ember_two_tower_config cfg = ember_two_tower_config_default();
    cfg.dim = 8;
    cfg.id_dim = 8;
    cfg.hidden = 16;
    cfg.epochs = epochs;
    cfg.batch_size = batch;
    cfg.negatives = negatives;
    /* SGD with momentum: Adam divides each gradient by its own size, so a
     * gradient that is a near-cancelling sum (an item that is a positive in
     * some rows and a negative in others) moves its weight by up to a whole
     * step whichever way the last bits of the sum fall: one process and two
     * ranks then part by ~1e-2 after one step and chaotically after more
     * (measured; docs/distributed.md). The exchange itself is exact up to
     * the order of the sums, which SGD shows: <= 2e-6. */
    cfg.optimizer = ember_optimizer_sgd(0.1f, 0.9f, 0);
    tt_job single = {d, cfg, NULL, EMBER_OK, {0}};
    run_tt(&single);
    CHECK_MSG(single.s == EMBER_OK, "%s single: %s", name, single.err.message);
    world w;
    memset(&w, 0, sizeof w);
    w.P = P;
    pthread_barrier_init(&w.bar, NULL, (unsigned)P);
    tt_job jobs[MAX_RANKS];
    ember_dist *dist[MAX_RANKS];
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < P; r++) {
        fake *f = malloc(sizeof *f);
        f->w = &w;
        f->rank = r;
        ember_error e;
        CHECK(ember__dist_create(&dist[r], r, P, &fake_ops, f, &e) == EMBER_OK);
        jobs[r] = (tt_job){d, cfg, NULL, EMBER_OK, {0}};
        jobs[r].cfg.dist = dist[r];
    }
    for (int r = 0; r < P; r++)
        pthread_create(&th[r], NULL, run_tt, &jobs[r]);
    for (int r = 0; r < P; r++)
        pthread_join(th[r], NULL);
    pthread_barrier_destroy(&w.bar);
    for (int r = 0; r < P; r++)
        CHECK_MSG(jobs[r].s == EMBER_OK, "%s rank %d: %s", name, r, jobs[r].err.message);
    if (single.r && jobs[0].r) {
        int same;
        double diff = tt_diff(single.r, jobs[0].r, &same);
        printf("%s: %d ranks vs 1 process: max relative difference %.3g\n", name, P, diff);
        CHECK_MSG(diff <= DIST_REL_TOL, "%s: %.3g > %g", name, diff, DIST_REL_TOL);
        CHECK_MSG(jobs[0].r->tt->cfg.dist == NULL, "%s: the model kept the dist", name);
        for (int r = 1; r < P; r++)
            if (jobs[r].r) {
                tt_diff(jobs[r].r, jobs[0].r, &same);
                CHECK_MSG(same, "%s: rank %d's weights differ from rank 0's", name, r);
            }
    }
    ember_dist_stats st;
    ember_dist_get_stats(dist[0], &st);
    CHECK_MSG(st.calls > 0, "%s: no collective was called", name);
    if (want_sparse_only >= 0)
        CHECK_MSG(want_sparse_only ? st.dense_exchanges == 0 && st.sparse_exchanges > 0
                                   : st.dense_exchanges > 0,
                  "%s: %lld sparse and %lld dense table exchanges", name,
                  (long long)st.sparse_exchanges, (long long)st.dense_exchanges);
    ember_recommender_destroy(single.r);
    for (int r = 0; r < P; r++) {
        ember_recommender_destroy(jobs[r].r);
        ember_dist_destroy(dist[r]);
    }
}

static ember_interactions *make_clicks(int users, int items, int per_user)
{
    ember_interactions *d = NULL;
    ember_error e;
    if (ember__interactions_create(&d, 0, 0, &e))
        return NULL;
    for (int u = 0; u < users; u++)
        for (int k = 0; k < per_user; k++) {
            char us[16], it[16];
            snprintf(us, sizeof us, "u%d", u);
            snprintf(it, sizeof it, "i%d", (u * 7 + k * 3) % items + (u % 2) * 0);
            if (ember__interactions_add(d, us, it, 1.0f, 0, &e)) {
                ember_interactions_destroy(d);
                return NULL;
            }
        }
    return d;
}

int main(void)
{
    data text, tiny, dense;
    make_text(&text, 300, 400, 1);
    make_text(&tiny, 300, 8, 2);
    make_dense(&dense, 200, 10);
    /* 300 / 16 = 19 steps per epoch */
    compare("text, rows sparse", &text, 2, 16, 2, 38, 0);
    compare("text, table whole", &tiny, 2, 64, 2, 0, 10);
    compare("text, 3 ranks, empty shards", &text, 3, 2, 1, -1, -1);
    compare("mlp, dropout, sgd momentum", &dense, 2, 20, 3, 0, 0);
    compare_buckets("mlp, buckets", &dense, 2, 20, 2);
    compare_buckets("text, buckets beside the sparse rows", &text, 2, 16, 1);
    compare_buckets("text, 3 ranks, empty shards, buckets", &text, 3, 2, 1);
    /* two-tower: 200 users x 300 items (rows sparse: a step touches few of
     * them); 12 items (every table row is touched: whole); 3 ranks, batch 2 */
    ember_interactions *clicks = make_clicks(200, 300, 5), *few = make_clicks(40, 12, 4);
    CHECK(clicks && few);
    if (clicks && few) {
        compare_tt("two-tower, rows sparse", clicks, 2, 32, 16, 2, 1);
        compare_tt("two-tower, tables whole", few, 2, 64, 16, 2, 0);
        compare_tt("two-tower, 3 ranks, empty shards", few, 3, 2, 4, 1, -1);
    }
    ember_interactions_destroy(clicks);
    ember_interactions_destroy(few);
    free_data(&text);
    free_data(&tiny);
    free_data(&dense);
    return check_summary("dist");
}
