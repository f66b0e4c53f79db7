/*
 * mf.c - biased matrix factorisation for explicit ratings:
 *     r_hat(u, i) = mu + bu[u] + bi[i] + P[u] . Q[i]
 * trained one rating per step with Ember's optimizers (src/optim: SGD or
 * lazy Adam over the touched rows only), and its evaluation (RMSE, MAE).
 *
 * Threads without losing determinism (stratified SGD, as in libmf / DSGD):
 * with T threads, user u belongs to group u % T and item i to group i % T;
 * the ratings fall into T x T blocks. An epoch runs T rounds; in round s,
 * thread t trains block (t, (t + s) % T). The T blocks of a round share no
 * user and no item, so their updates touch disjoint rows of the parameter,
 * gradient and optimizer-state blocks: the result is the same as running
 * the blocks one after another, whatever the scheduling. Each block's order
 * is reshuffled every epoch from the stream (seed, SHUFFLE, epoch, block).
 * It deliberately does not do Hogwild (fast but not reproducible).
 */
#include "recommend.h"
#include "optim/optim.h"
#include "rec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CHUNK 4096 /* ratings per partial sum in evaluate (fixed: thread-independent) */
#define MAX_DIM 4096    /* a bound on D that keeps every row product in range */
#define MAX_THREADS 256

void ember__rec_epoch_end(ember_progress_fn progress, void *user, int epoch, int epochs,
                          int64_t steps, double t0, double loss)
{
    if (!progress)
        return;
    ember_progress p;
    memset(&p, 0, sizeof p);
    p.event = EMBER_PROGRESS_EPOCH_END;
    p.epoch = epoch;
    p.epochs = epochs;
    p.step = p.steps = steps;
    p.elapsed_s = p.train_s = ember__now() - t0;
    p.loss = loss;
    p.accuracy = p.val_loss = p.val_accuracy = NAN;
    progress(&p, user);
}

ember_mf_config ember_mf_config_default(void)
{
    ember_mf_config c;
    memset(&c, 0, sizeof c);
    c.dim = EMBER__MF_DEFAULT_DIM;
    c.epochs = EMBER__MF_DEFAULT_EPOCHS;
    c.optimizer = ember_optimizer_sgd(EMBER__MF_DEFAULT_LR, 0.0f, 0);
    c.l2 = EMBER__MF_DEFAULT_L2;
    c.l2_bias = EMBER__MF_DEFAULT_L2_BIAS;
    c.lr_decay = EMBER__MF_DEFAULT_LR_DECAY;
    c.init_std = EMBER__MF_DEFAULT_INIT_STD;
    c.seed = 42;
    c.threads = 1;
    return c;
}

ember_mf_config ember_mf_config_bpr(void)
{
    ember_mf_config c = ember_mf_config_default();
    c.loss = EMBER_MF_LOSS_BPR;
    c.dim = EMBER__BPR_DEFAULT_DIM;
    c.epochs = EMBER__BPR_DEFAULT_EPOCHS;
    c.optimizer = ember_optimizer_sgd(EMBER__BPR_DEFAULT_LR, 0.0f, 0);
    c.l2 = EMBER__BPR_DEFAULT_L2;
    c.l2_bias = EMBER__BPR_DEFAULT_L2;
    return c;
}

ember_status ember__mf_layout(ember_mf_layout *L, int64_t U, int64_t I, int64_t D,
                              ember_error *err)
{
    int64_t ud, id, n;
    if (U < 0 || I < 0 || D < 1 || D > MAX_DIM || !ember__mul_i64(U, D, &ud) ||
        !ember__mul_i64(I, D, &id) || ud > INT64_MAX / 2 - id || ud + id > INT64_MAX / 2 - U - I)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "matrix factorisation of %lld users, %lld items, "
                          "dim %lld is too large", (long long)U, (long long)I, (long long)D);
    n = ud + id + U + I;
    L->U = U;
    L->I = I;
    L->D = D;
    L->p = 0;
    L->q = ud;
    L->bu = ud + id;
    L->bi = ud + id + U;
    L->n = n;
    return EMBER_OK;
}

/* sum_k a[k] b[k] in LANES interleaved float partial sums (lane j takes k = j
 * mod LANES), then the lanes added in index order, then the tail: a fixed
 * order, so the value does not depend on the CPU, and the lanes let the
 * compiler use vector registers without -ffast-math. */
#define LANES 8
static EMBER_CLONES float dot_lanes(const float *restrict a, const float *restrict b, int64_t n)
{
    float acc[LANES] = {0};
    int64_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += a[k + j] * b[k + j];
    float s = 0.0f;
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    for (; k < n; k++)
        s += a[k] * b[k];
    return s;
}

float ember__mf_score(const float *p, const float *q, int64_t D, float mu, float bu, float bi)
{
    return mu + bu + bi + dot_lanes(p, q, D);
}

static EMBER_CLONES void row_grads(float *restrict gp, float *restrict gq, const float *restrict p,
                                   const float *restrict q, int64_t D, float e, float l2)
{
    for (int64_t k = 0; k < D; k++) {
        gp[k] = e * q[k] + l2 * p[k];
        gq[k] = e * p[k] + l2 * q[k];
    }
}

double ember__mf_example_grad(const ember_mf_layout *L, const float *w, float *g, float mu,
                              int64_t u, int64_t i, float r, float l2, float l2b, float *pred)
{
    int64_t D = L->D;
    const float *p = w + L->p + u * D, *q = w + L->q + i * D;
    float bu = w[L->bu + u], bi = w[L->bi + i];
    float rh = ember__mf_score(p, q, D, mu, bu, bi), e = rh - r;
    float *gp = g + L->p + u * D, *gq = g + L->q + i * D;
    row_grads(gp, gq, p, q, D, e, l2);
    double reg = (double)dot_lanes(p, p, D) + (double)dot_lanes(q, q, D);
    g[L->bu + u] = e + l2b * bu;
    g[L->bi + i] = e + l2b * bi;
    *pred = rh;
    return 0.5 * (double)e * e + 0.5 * (double)l2 * reg +
           0.5 * (double)l2b * ((double)bu * bu + (double)bi * bi);
}

double ember__mf_bpr_grad(const ember_mf_layout *L, const float *w, float *g, int64_t u, int64_t i,
                          int64_t j, float l2, float l2b)
{
    int64_t D = L->D;
    const float *p = w + L->p + u * D, *qi = w + L->q + i * D, *qj = w + L->q + j * D;
    float *gp = g + L->p + u * D, *gi = g + L->q + i * D, *gj = g + L->q + j * D;
    float bi = w[L->bi + i], bj = w[L->bi + j];
    float x = bi - bj + dot_lanes(p, qi, D) - dot_lanes(p, qj, D);
    /* c = dl/dx = -sigmoid(-x), computed without overflow for either sign */
    double ex = exp(-fabs((double)x));
    float c = (float)(x >= 0 ? -ex / (1.0 + ex) : -1.0 / (1.0 + ex));
    double loss = x >= 0 ? log1p(ex) : -(double)x + log1p(ex);
    for (int64_t k = 0; k < D; k++) {
        gp[k] = c * (qi[k] - qj[k]) + l2 * p[k];
        gi[k] = c * p[k] + l2 * qi[k];
        gj[k] = -c * p[k] + l2 * qj[k];
    }
    g[L->bi + i] = c + l2b * bi;
    g[L->bi + j] = -c + l2b * bj;
    double reg = (double)dot_lanes(p, p, D) + (double)dot_lanes(qi, qi, D) +
                 (double)dot_lanes(qj, qj, D);
    return loss + 0.5 * (double)l2 * reg + 0.5 * (double)l2b * ((double)bi * bi + (double)bj * bj);
}

static ember_status check_config(const ember_mf_config *c, ember_error *err)
{
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf config is NULL");
    if (c->loss != EMBER_MF_LOSS_MSE && c->loss != EMBER_MF_LOSS_BPR)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf loss %d is unknown", (int)c->loss);
    if (c->dim < 1 || c->dim > MAX_DIM)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf dim must be in [1, %d], got %lld", MAX_DIM,
                          (long long)c->dim);
    if (c->epochs < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf epochs must be >= 1, got %d", c->epochs);
    if (!(c->l2 >= 0.0f) || !isfinite(c->l2))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf l2 must be >= 0, got %g", (double)c->l2);
    if (!(c->l2_bias >= 0.0f) || !isfinite(c->l2_bias))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf l2_bias must be >= 0, got %g",
                          (double)c->l2_bias);
    if (!(c->lr_decay > 0.0f && c->lr_decay <= 1.0f))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf lr_decay must be in (0, 1], got %g",
                          (double)c->lr_decay);
    if (!(c->init_std >= 0.0f) || !isfinite(c->init_std))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf init_std must be >= 0, got %g",
                          (double)c->init_std);
    if (c->threads < 1 || c->threads > MAX_THREADS)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf threads must be in [1, %d], got %d", MAX_THREADS,
                          c->threads);
    if (c->optimizer.weight_decay != 0.0f || c->optimizer.clip_norm != 0.0f)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "mf optimizer weight_decay and clip_norm must be 0 "
                          "(got %g, %g): l2 is the regulariser, and a global-norm clip does not "
                          "fit one-rating steps", (double)c->optimizer.weight_decay,
                          (double)c->optimizer.clip_norm);
    return ember__optim_validate(&c->optimizer, err);
}

ember_status ember__recommender_alloc(ember_recommender **out, const ember_mf_config *cfg,
                                      int64_t U, int64_t I, ember_error *err)
{
    ember_recommender *r = calloc(1, sizeof *r);
    if (!r)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the recommender");
    ember__idmap_init(&r->users);
    ember__idmap_init(&r->items);
    r->cfg = *cfg;
    ember_status s = ember__mf_layout(&r->L, U, I, cfg->dim, err);
    size_t bytes;
    if (!s && !ember__mul_size((size_t)r->L.n, sizeof(float), &bytes))
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "recommender parameters overflow");
    if (!s && !(r->w = ember__calloc(bytes)))
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld parameters",
                       (long long)r->L.n);
    if (s) {
        ember_recommender_destroy(r);
        return s;
    }
    *out = r;
    return EMBER_OK;
}

void ember_recommender_destroy(ember_recommender *r)
{
    if (!r)
        return;
    ember__free(r->w);
    ember__tt_free(r->tt);
    for (int i = 0; i < r->n_meta; i++) {
        free(r->meta_keys[i]);
        free(r->meta_values[i]);
    }
    free(r->meta_keys);
    free(r->meta_values);
    ember__idmap_deinit(&r->users);
    ember__idmap_deinit(&r->items);
    free(r);
}

static ember_status copy_map(ember_idmap *dst, const ember_idmap *src, ember_error *err)
{
    for (int64_t k = 0; k < src->n; k++) {
        const char *s = ember__idmap_get(src, k);
        int64_t idx;
        ember_status st = ember__idmap_add(dst, s, strlen(s), &idx, err);
        if (st)
            return st;
    }
    return EMBER_OK;
}

/* Ratings of block (a, b) as indices into the data, in one array with
 * offsets: block k = a T + b holds idx[off[k] .. off[k + 1]). */
typedef struct blocks {
    int64_t *idx, *off;
} blocks;

static ember_status make_blocks(blocks *B, const ember_interactions *d, int T, ember_error *err)
{
    int64_t nb = (int64_t)T * T;
    B->idx = malloc((size_t)(d->n ? d->n : 1) * sizeof *B->idx);
    B->off = calloc((size_t)nb + 1, sizeof *B->off);
    int64_t *fill = calloc((size_t)nb, sizeof *fill);
    if (!B->idx || !B->off || !fill) {
        free(fill);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld rating indices",
                          (long long)d->n);
    }
    for (int64_t e = 0; e < d->n; e++)
        B->off[(d->user[e] % T) * T + d->item[e] % T + 1]++;
    for (int64_t k = 0; k < nb; k++)
        B->off[k + 1] += B->off[k];
    for (int64_t e = 0; e < d->n; e++) {
        int64_t k = (d->user[e] % T) * T + d->item[e] % T;
        B->idx[B->off[k] + fill[k]++] = e;
    }
    free(fill);
    return EMBER_OK;
}

/* Each user's items, sorted (CSR: items[off[u] .. off[u + 1])), so a BPR
 * negative can be drawn among the items the user has not interacted with. */
typedef struct user_items {
    int64_t *off, *items;
} user_items;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static ember_status make_user_items(user_items *ui, const ember_interactions *d, int64_t U,
                                    ember_error *err)
{
    ui->off = calloc((size_t)U + 1, sizeof *ui->off);
    ui->items = malloc((size_t)(d->n ? d->n : 1) * sizeof *ui->items);
    int64_t *fill = calloc((size_t)U + 1, sizeof *fill);
    if (!ui->off || !ui->items || !fill) {
        free(fill);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld users' item lists",
                          (long long)U);
    }
    for (int64_t e = 0; e < d->n; e++)
        ui->off[d->user[e] + 1]++;
    for (int64_t u = 0; u < U; u++)
        ui->off[u + 1] += ui->off[u];
    for (int64_t e = 0; e < d->n; e++)
        ui->items[ui->off[d->user[e]] + fill[d->user[e]]++] = d->item[e];
    for (int64_t u = 0; u < U; u++)
        qsort(ui->items + ui->off[u], (size_t)(ui->off[u + 1] - ui->off[u]), sizeof *ui->items,
              cmp_i64);
    free(fill);
    return EMBER_OK;
}

static int user_has(const user_items *ui, int64_t u, int64_t j)
{
    return bsearch(&j, ui->items + ui->off[u], (size_t)(ui->off[u + 1] - ui->off[u]),
                   sizeof j, cmp_i64) != NULL;
}

/* Train one block: returns the summed loss (before each step). */
static double train_block(ember_recommender *r, ember_optim *o, float *g,
                          const ember_interactions *d, const user_items *ui, int64_t *idx,
                          int64_t n, uint64_t seed, int epoch, int64_t block)
{
    const ember_mf_layout *L = &r->L;
    ember_rng rng = ember__rng_stream(seed, EMBER_STREAM_SHUFFLE, (uint64_t)epoch, (uint64_t)block);
    for (int64_t j = n - 1; j > 0; j--) { /* Fisher-Yates */
        int64_t k = (int64_t)ember__rng_below(&rng, (uint64_t)j + 1);
        int64_t t = idx[j];
        idx[j] = idx[k];
        idx[k] = t;
    }
    double sum = 0.0;
    float mu = r->mu, l2 = r->cfg.l2, l2b = r->cfg.l2_bias, pred;
    int64_t D = L->D;
    if (r->cfg.loss == EMBER_MF_LOSS_BPR) {
        /* negatives from the block's item group (index mod T), so that
         * concurrent blocks still touch disjoint rows, and never an item
         * the user has interacted with (up to 16 draws; none found: the
         * example is skipped this epoch) */
        int64_t T = r->cfg.threads, grp = block % T;
        uint64_t gsize = (uint64_t)((L->I - grp + T - 1) / T);
        for (int64_t x = 0; x < n; x++) {
            int64_t e = idx[x], u = d->user[e], i = d->item[e], j = i;
            int ok = 0;
            for (int tries = 0; !ok && tries < 16 && gsize > 1; tries++) {
                j = grp + T * (int64_t)ember__rng_below(&rng, gsize);
                ok = j != i && !user_has(ui, u, j);
            }
            if (!ok)
                continue; /* a group of one item, or the user has them all */
            sum += ember__mf_bpr_grad(L, r->w, g, u, i, j, l2, l2b);
            ember__optim_begin(o);
            ember__optim_update(o, r->w, g, L->p + u * D, D);
            ember__optim_update(o, r->w, g, L->q + i * D, D);
            ember__optim_update(o, r->w, g, L->q + j * D, D);
            ember__optim_update(o, r->w, g, L->bi + i, 1);
            ember__optim_update(o, r->w, g, L->bi + j, 1);
        }
        return sum;
    }
    for (int64_t j = 0; j < n; j++) {
        int64_t e = idx[j], u = d->user[e], i = d->item[e];
        sum += ember__mf_example_grad(L, r->w, g, mu, u, i, d->rating[e], l2, l2b, &pred);
        ember__optim_begin(o);
        ember__optim_update(o, r->w, g, L->p + u * D, D);
        ember__optim_update(o, r->w, g, L->q + i * D, D);
        ember__optim_update(o, r->w, g, L->bu + u, 1);
        ember__optim_update(o, r->w, g, L->bi + i, 1);
    }
    return sum;
}

ember_status ember_recommender_train_mf(ember_recommender **out, const ember_interactions *d,
                                        const ember_mf_config *cfg, ember_progress_fn progress,
                                        void *user, ember_error *err)
{
    if (!out || !d)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "recommender train: NULL argument");
    *out = NULL;
    ember_status s = check_config(cfg, err);
    if (s)
        return s;
    if ((cfg->loss == EMBER_MF_LOSS_MSE && !d->has_rating) || d->n == 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "matrix factorisation needs ratings: the data has "
                          "%s", d->n ? "no rating column (user,item only; --loss bpr learns "
                          "from such data)" : "no interactions");
    ember_recommender *r = NULL;
    if ((s = ember__recommender_alloc(&r, cfg, d->users.n, d->items.n, err)))
        return s;
    const int T = cfg->threads;
    blocks B = {NULL, NULL};
    user_items ui = {NULL, NULL};
    float *g = NULL;
    ember_optim shared;
    memset(&shared, 0, sizeof shared);
    ember_optim *per = calloc((size_t)T, sizeof *per);
    double *part = calloc((size_t)T, sizeof *part);
    if (!per || !part) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %d threads' state", T);
        goto fail;
    }
    if ((s = copy_map(&r->users, &d->users, err)) || (s = copy_map(&r->items, &d->items, err)))
        goto fail;
    double sum = 0.0;
    for (int64_t e = 0; e < d->n; e++)
        sum += d->rating[e];
    r->mu = cfg->loss == EMBER_MF_LOSS_BPR ? 0.0f : (float)(sum / (double)d->n);
    /* factors ~ N(0, init_std^2) from the init stream, in parameter order;
     * biases start at 0 */
    ember_rng init = ember__rng_stream(cfg->seed, EMBER_STREAM_INIT, 0, 0);
    for (int64_t k = 0; k < r->L.bu; k++)
        r->w[k] = cfg->init_std * ember__rng_normal(&init);
    size_t gbytes = (size_t)r->L.n * sizeof(float); /* checked in alloc */
    if (!(g = ember__calloc(gbytes))) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for gradients (%zu bytes)", gbytes);
        goto fail;
    }
    if ((s = ember__optim_init(&shared, &cfg->optimizer, r->L.n, err)) ||
        (s = make_blocks(&B, d, T, err)) ||
        (cfg->loss == EMBER_MF_LOSS_BPR && (s = make_user_items(&ui, d, d->users.n, err))))
        goto fail;
    /* Each thread steps its own copy of the optimizer: the moment arrays are
     * shared (its rows are its own in a round), the step count t (Adam's bias
     * correction) is per thread and counts the ratings that thread trained. */
    for (int t = 0; t < T; t++)
        per[t] = shared;
    for (int ep = 0; ep < cfg->epochs; ep++) {
        double t0 = ember__now(), loss = 0.0;
        /* the epoch's learning rate, in double from the configured one */
        float lr = (float)((double)cfg->optimizer.learning_rate * pow(cfg->lr_decay, ep));
        for (int t = 0; t < T; t++)
            per[t].cfg.learning_rate = lr;
        for (int sidx = 0; sidx < T; sidx++) {
            int threads = T; /* read by EMBER_PAR_FOR_IF_T (unused without OpenMP) */
            (void)threads;
            EMBER_PAR_FOR_IF_T(T > 1, for (int t = 0; t < T; t++) {
                int64_t k = (int64_t)t * T + (t + sidx) % T;
                part[t] = train_block(r, &per[t], g, d, &ui, B.idx + B.off[k], B.off[k + 1] - B.off[k],
                                      cfg->seed, ep, k);
            });
            for (int t = 0; t < T; t++) /* fixed order */
                loss += part[t];
        }
        loss /= (double)d->n;
        if (!isfinite(loss)) {
            s = EMBER_FAIL(err, EMBER_ERR_NUMERIC, "epoch %d: the mean loss is %g; lower the "
                           "learning rate (%g)", ep + 1, loss, (double)cfg->optimizer.learning_rate);
            goto fail;
        }
        r->epochs_done = ep + 1;
        ember__rec_epoch_end(progress, user, ep, cfg->epochs, d->n, t0, loss);
    }
    *out = r;
    r = NULL; /* the caller's now */
fail:
    ember__optim_deinit(&shared);
    ember__free(g);
    free(B.idx);
    free(B.off);
    free(ui.off);
    free(ui.items);
    free(per);
    free(part);
    ember_recommender_destroy(r);
    return s;
}

/* Prediction by dense indices; -1 = unknown (no factors, no bias). */
static float predict_idx(const ember_recommender *r, int64_t u, int64_t i)
{
    const ember_mf_layout *L = &r->L;
    float bu = u >= 0 ? r->w[L->bu + u] : 0.0f, bi = i >= 0 ? r->w[L->bi + i] : 0.0f;
    if (u < 0 || i < 0)
        return r->mu + bu + bi;
    return ember__mf_score(r->w + L->p + u * L->D, r->w + L->q + i * L->D, L->D, r->mu, bu, bi);
}

float ember_recommender_predict(const ember_recommender *r, const char *user, const char *item,
                                int *known)
{
    int64_t u = ember__idmap_find(&r->users, user, strlen(user));
    int64_t i = ember__idmap_find(&r->items, item, strlen(item));
    if (known)
        *known = (u >= 0) | (i >= 0) << 1;
    if (r->two_tower) { /* the score u . v; an unknown item scores 0 */
        const ember_tt *t = r->tt;
        if (i < 0)
            return 0.0f;
        return ember__mf_score(t->uvec + (u >= 0 ? u : t->U) * t->D, t->ivec + i * t->D, t->D,
                               0.0f, 0.0f, 0.0f);
    }
    return predict_idx(r, u, i);
}

int64_t ember_recommender_user_count(const ember_recommender *r) { return r->users.n; }
int64_t ember_recommender_item_count(const ember_recommender *r) { return r->items.n; }
const ember_mf_config *ember_recommender_config(const ember_recommender *r)
{
    return r->two_tower ? NULL : &r->cfg;
}
double ember_recommender_global_mean(const ember_recommender *r) { return r->mu; }

void ember__map_ids(int64_t *dst, const ember_idmap *from, const ember_idmap *to)
{
    for (int64_t k = 0; k < from->n; k++) {
        const char *s = ember__idmap_get(from, k);
        dst[k] = ember__idmap_find(to, s, strlen(s));
    }
}

ember_status ember_recommender_evaluate(const ember_recommender *r, const ember_interactions *d,
                                        int threads, ember_rating_metrics *out, ember_error *err)
{
    if (!r || !d || !out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "recommender evaluate: NULL argument");
    if (threads < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "threads must be >= 1, got %d", threads);
    if (r->two_tower || r->cfg.loss == EMBER_MF_LOSS_BPR)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "a %s model's scores rank items and are not "
                          "ratings: evaluate it with the ranking metrics",
                          r->two_tower ? "two-tower" : "BPR");
    if (!d->has_rating || d->n == 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "RMSE and MAE need ratings: the test data has %s",
                          d->n ? "no rating column" : "no interactions");
    /* the test file's own dense ids -> the model's (-1: unknown) */
    int64_t *umap = malloc((size_t)(d->users.n ? d->users.n : 1) * sizeof *umap);
    int64_t *imap = malloc((size_t)(d->items.n ? d->items.n : 1) * sizeof *imap);
    int64_t nch = (d->n + EVAL_CHUNK - 1) / EVAL_CHUNK;
    double *sq = calloc((size_t)nch, sizeof *sq), *ab = calloc((size_t)nch, sizeof *ab);
    if (!umap || !imap || !sq || !ab) {
        free(umap), free(imap), free(sq), free(ab);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory evaluating %lld ratings",
                          (long long)d->n);
    }
    ember__map_ids(umap, &d->users, &r->users);
    ember__map_ids(imap, &d->items, &r->items);
    EMBER_PAR_FOR_IF_T(threads > 1 && nch > 1, for (int64_t c = 0; c < nch; c++) {
        int64_t e1 = (c + 1) * EVAL_CHUNK < d->n ? (c + 1) * EVAL_CHUNK : d->n;
        double s2 = 0.0, s1 = 0.0;
        for (int64_t e = c * EVAL_CHUNK; e < e1; e++) {
            double diff = (double)predict_idx(r, umap[d->user[e]], imap[d->item[e]]) - d->rating[e];
            s2 += diff * diff;
            s1 += fabs(diff);
        }
        sq[c] = s2;
        ab[c] = s1;
    });
    double s2 = 0.0, s1 = 0.0;
    for (int64_t c = 0; c < nch; c++) {
        s2 += sq[c];
        s1 += ab[c];
    }
    memset(out, 0, sizeof *out);
    for (int64_t e = 0; e < d->n; e++) {
        out->unknown_users += umap[d->user[e]] < 0;
        out->unknown_items += imap[d->item[e]] < 0;
    }
    out->n = d->n;
    out->rmse = sqrt(s2 / (double)d->n);
    out->mae = s1 / (double)d->n;
    free(umap), free(imap), free(sq), free(ab);
    return EMBER_OK;
}
