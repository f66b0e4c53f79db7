/*
 * two_tower.c - the two-tower recommender (ember.h has the model):
 *   u = f_U([e_user ; x_user]),  v = f_I([e_item ; x_item]),  score = u . v
 * Each tower is an Ember Sequential model of Dense layers (src/model,
 * src/layers), stepped with its own optimizer (src/optim); the id embeddings
 * are tables next to it, fed into the towers' inputs and updated lazily
 * (only the rows a step touched, like the Embedding layer's lazy mode).
 *
 * One step (ember__tt_step), B rows and N shared negatives:
 *   U = f_U(Xu) [B][D],  V = f_I(Xi) [B + N][D] (the B positives, then N)
 *   logits of row b: [U_b . V_b, U_b . V_{B+j} for j < N] (masked where the
 *   negative is b's own item), loss = mean_b (logsumexp - positive logit)
 *   dlogits = (softmax - onehot) / B; dU = dpos V_pos + dS V_neg;
 *   dV_pos = dpos U; dV_neg = dS^T U (matrix products through ember__gemm);
 *   then each tower's backward down to its input, whose first E columns are
 *   the embedding rows' gradients.
 * Everything is drawn from streams of the seed, and every reduction has a
 * fixed order, so a model depends on its seed, data and settings only.
 */
#define _POSIX_C_SOURCE 200809L
#include "kernels/gemm.h"
#include "model/dist.h"
#include "model/model.h"
#include "optim/optim.h"
#include "rec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TT_MAX_WIDTH 65536  /* bound on dim, id_dim, hidden */
#define TT_MAX_NEG 1000000
#define TT_REFRESH_ROWS 256 /* rows per tower pass when computing all vectors */
#define EMB_INIT 0.05f      /* id embeddings start U(-0.05, 0.05) (as Keras) */
#define STREAM_TT_SAMPLE 11 /* negatives and id dropout of a step */

ember_two_tower_config ember_two_tower_config_default(void)
{
    ember_two_tower_config c;
    memset(&c, 0, sizeof c);
    c.dim = 64;
    c.id_dim = 32;
    c.hidden = 128;
    c.epochs = 20; /* 10 -> 20: validation NDCG@10 0.058 -> 0.068 (docs/recommend.md) */
    c.batch_size = 256;
    c.negatives = 256;
    c.optimizer = ember_optimizer_adam(1e-3f);
    c.id_dropout = 0.1f;
    c.seed = 42;
    c.threads = 1;
    return c;
}

/* The integer settings and their ranges, checked in this order. */
static ember_status check_config(const ember_two_tower_config *c, ember_error *err)
{
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "two-tower: NULL config");
    const struct {
        const char *name;
        int64_t v, lo, hi;
    } range[] = {{"dim", c->dim, 1, TT_MAX_WIDTH},
                 {"id_dim", c->id_dim, 1, TT_MAX_WIDTH},
                 {"hidden", c->hidden, 0, TT_MAX_WIDTH},
                 {"epochs", c->epochs, 1, INT32_MAX},
                 {"batch_size", c->batch_size, 1, TT_MAX_NEG},
                 {"negatives", c->negatives, 1, TT_MAX_NEG},
                 {"threads", c->threads, 1, INT32_MAX}};
    for (size_t k = 0; k < sizeof range / sizeof range[0]; k++)
        if (range[k].v < range[k].lo || range[k].v > range[k].hi)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "two-tower %s must be in [%lld, %lld], got %lld",
                              range[k].name, (long long)range[k].lo, (long long)range[k].hi,
                              (long long)range[k].v);
    if (!(c->id_dropout >= 0.0f && c->id_dropout < 1.0f))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "two-tower id_dropout must be in [0, 1), got %g",
                          (double)c->id_dropout);
    if (c->optimizer.weight_decay != 0.0f || c->optimizer.clip_norm != 0.0f)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "two-tower: optimizer weight_decay and clip_norm "
                          "must be 0");
    return ember__optim_validate(&c->optimizer, err);
}

static ember_status make_tower(ember_model **out, int64_t in, const ember_two_tower_config *c,
                               uint64_t salt, ember_error *err)
{
    int64_t shape[1] = {in};
    ember_model *m = NULL;
    ember_status s = ember_model_create(&m, 1, shape, c->seed * 2 + salt, err);
    if (!s && c->hidden)
        s = ember_model_add_dense(m, c->hidden, EMBER_ACT_RELU, err);
    if (!s)
        s = ember_model_add_dense(m, c->dim, EMBER_ACT_LINEAR, err);
    if (!s)
        s = ember_model_compile(m, &c->optimizer, EMBER_LOSS_MSE, err);
    if (s) {
        ember_model_destroy(m);
        return s;
    }
    ember_model_set_threads(m, c->threads);
    *out = m;
    return EMBER_OK;
}

void ember__tt_free(ember_tt *t)
{
    if (!t)
        return;
    free(t->uemb), free(t->iemb), free(t->ufeat), free(t->ifeat);
    free(t->uwarm), free(t->iwarm);
    ember_model_destroy(t->utower);
    ember_model_destroy(t->itower);
    for (int64_t j = 0; t->ucols && j < t->Fu; j++)
        free(t->ucols[j]);
    for (int64_t j = 0; t->icols && j < t->Fi; j++)
        free(t->icols[j]);
    free(t->ucols), free(t->icols), free(t->uvec), free(t->ivec);
    free(t->gu), free(t->gi), free(t->touched_u), free(t->touched_i);
    free(t->mark_u), free(t->mark_i);
    free(t->S), free(t->dU), free(t->dV), free(t->dXu), free(t->dXi), free(t->pos);
    free(t);
}

static void *zalloc(int64_t n, size_t size, int *fail)
{
    void *p = calloc((size_t)(n > 0 ? n : 1), size);
    *fail |= !p;
    return p;
}

ember_status ember__tt_alloc(ember_tt **out, const ember_two_tower_config *cfg, int64_t U,
                             int64_t I, int64_t Fu, int64_t Fi, ember_error *err)
{
    ember_status s = check_config(cfg, err);
    if (s)
        return s;
    if (U < 0 || I < 1 || Fu < 0 || Fi < 0 || U > ((int64_t)1 << 40) / cfg->id_dim ||
        I > ((int64_t)1 << 40) / cfg->id_dim)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "two-tower: %lld users and %lld items (needs at "
                          "least one item; too many for the embedding tables?)", (long long)U,
                          (long long)I);
    ember_tt *t = calloc(1, sizeof *t);
    if (!t)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the two-tower model");
    t->cfg = *cfg;
    t->cfg.dist = NULL; /* borrowed for the training call only */
    t->U = U, t->I = I, t->E = cfg->id_dim, t->Fu = Fu, t->Fi = Fi, t->D = cfg->dim;
    int fail = 0;
    t->uemb = zalloc((U + 1) * t->E, sizeof(float), &fail);
    t->iemb = zalloc((I + 1) * t->E, sizeof(float), &fail);
    t->ufeat = zalloc((U + 1) * Fu, sizeof(float), &fail);
    t->ifeat = zalloc((I + 1) * Fi, sizeof(float), &fail);
    t->uwarm = zalloc(U, 1, &fail);
    t->iwarm = zalloc(I, 1, &fail);
    t->ucols = zalloc(Fu, sizeof(char *), &fail);
    t->icols = zalloc(Fi, sizeof(char *), &fail);
    t->uvec = zalloc((U + 1) * t->D, sizeof(float), &fail);
    t->ivec = zalloc(I * t->D, sizeof(float), &fail);
    if (fail) {
        ember__tt_free(t);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a two-tower model of %lld "
                          "users and %lld items", (long long)U, (long long)I);
    }
    if ((s = make_tower(&t->utower, t->E + Fu, cfg, 1, err)) ||
        (s = make_tower(&t->itower, t->E + Fi, cfg, 2, err))) {
        ember__tt_free(t);
        return s;
    }
    ember_rng r = ember__rng_stream(cfg->seed, EMBER_STREAM_INIT, 3, 0);
    for (int64_t k = 0; k < (U + 1) * t->E; k++)
        t->uemb[k] = EMB_INIT * (2.0f * ember__rng_uniform(&r) - 1.0f);
    for (int64_t k = 0; k < (I + 1) * t->E; k++)
        t->iemb[k] = EMB_INIT * (2.0f * ember__rng_uniform(&r) - 1.0f);
    *out = t;
    return EMBER_OK;
}

ember_status ember__tt_reserve(ember_tt *t, int64_t B, int64_t N, ember_error *err)
{
    if (B <= t->cap_B && N <= t->cap_N)
        return EMBER_OK;
    B = B > t->cap_B ? B : t->cap_B;
    N = N > t->cap_N ? N : t->cap_N;
    free(t->S), free(t->dU), free(t->dV), free(t->dXu), free(t->dXi), free(t->pos);
    int fail = 0;
    t->S = zalloc(B * N, sizeof(float), &fail);
    t->dU = zalloc(B * t->D, sizeof(float), &fail);
    t->dV = zalloc((B + N) * t->D, sizeof(float), &fail);
    t->dXu = zalloc(B * (t->E + t->Fu), sizeof(float), &fail);
    t->dXi = zalloc((B + N) * (t->E + t->Fi), sizeof(float), &fail);
    t->pos = zalloc(B, sizeof(float), &fail);
    if (!t->gu) {
        t->gu = zalloc((t->U + 1) * t->E, sizeof(float), &fail);
        t->gi = zalloc((t->I + 1) * t->E, sizeof(float), &fail);
        t->touched_u = zalloc(t->U + 1, sizeof(int64_t), &fail);
        t->touched_i = zalloc(t->I + 1, sizeof(int64_t), &fail);
        t->mark_u = zalloc(t->U + 1, 1, &fail);
        t->mark_i = zalloc(t->I + 1, 1, &fail);
    }
    ember_status s = EMBER_OK;
    if (fail)
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for two-tower batches of %lld rows",
                       (long long)B);
    if (!s)
        s = ember__model_arena(t->utower, B, 0, err);
    if (!s)
        s = ember__model_arena(t->itower, B + N, 0, err);
    if (s) {
        t->cap_B = t->cap_N = 0;
        return s;
    }
    t->cap_B = B;
    t->cap_N = N;
    return EMBER_OK;
}

/* Tower input rows: embedding row emb[row[b]] then feature row feat[fr[b]]. */
static void fill_input(float *X, const float *emb, int64_t E, const float *feat, int64_t F,
                       const int64_t *row, const int64_t *fr, int64_t n)
{
    for (int64_t b = 0; b < n; b++) {
        float *x = X + b * (E + F);
        memcpy(x, emb + row[b] * E, (size_t)E * sizeof *x);
        if (F)
            memcpy(x + E, feat + fr[b] * F, (size_t)F * sizeof *x);
    }
}

static float dotf(const float *a, const float *b, int64_t n)
{
    float s = 0.0f;
    for (int64_t k = 0; k < n; k++)
        s += a[k] * b[k];
    return s;
}

/* gemb[row[b]] += dX[b][0..E), listing each row once in touched. */
static void scatter(float *gemb, int64_t *touched, int64_t *n_touched, unsigned char *mark,
                    const float *dX, int64_t W, int64_t E, const int64_t *row, int64_t n)
{
    for (int64_t b = 0; b < n; b++) {
        int64_t r = row[b];
        float *g = gemb + r * E;
        const float *d = dX + b * W;
        for (int64_t k = 0; k < E; k++)
            g[k] += d[k];
        if (!mark[r]) {
            mark[r] = 1;
            touched[(*n_touched)++] = r;
        }
    }
}

double ember__tt_step(ember_tt *t, const int64_t *urow, const int64_t *ufr, const int64_t *irow,
                      const int64_t *ifr, const int64_t *items, int64_t B, int64_t N,
                      int64_t Bglobal, int grads, int threads)
{
    if (B == 0) /* an empty shard of a distributed step */
        return 0.0;
    const int64_t D = t->D, E = t->E;
    ember_step_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.training = 1;
    ctx.threads = threads;
    fill_input(t->utower->acts[0], t->uemb, E, t->ufeat, t->Fu, urow, ufr, B);
    fill_input(t->itower->acts[0], t->iemb, E, t->ifeat, t->Fi, irow, ifr, B + N);
    const float *Uo = ember__model_forward(t->utower, B, &ctx);
    const float *Vo = ember__model_forward(t->itower, B + N, &ctx);
    const float *Vn = Vo + B * D;
    float *S = t->S;
    ember__gemm(threads, 0, 1, B, N, D, 1.0f, Uo, Vn, 0.0f, S);
    double loss = 0.0;
    const float inv_b = 1.0f / (float)Bglobal;
    for (int64_t b = 0; b < B; b++) {
        float *s = S + b * N;
        float p0 = dotf(Uo + b * D, Vo + b * D, D);
        float mx = p0;
        for (int64_t j = 0; j < N; j++)
            if (items[B + j] != items[b] && s[j] > mx)
                mx = s[j];
        /* exp once per logit (kept in s), summed in double in a fixed order */
        float e0 = expf(p0 - mx);
        double z = e0;
        for (int64_t j = 0; j < N; j++) {
            s[j] = items[B + j] != items[b] ? expf(s[j] - mx) : 0.0f;
            z += s[j];
        }
        loss += log(z) + (double)mx - (double)p0;
        if (!grads)
            continue;
        const float scale = (float)(1.0 / z) * inv_b;
        t->pos[b] = (float)((double)e0 / z - 1.0) * inv_b;
        for (int64_t j = 0; j < N; j++)
            s[j] *= scale;
    }
    if (!grads)
        return loss / (double)Bglobal;
    /* dU = dS Vn + dpos V_pos;  dV_neg = dS^T U;  dV_pos = dpos U */
    ember__gemm(threads, 0, 0, B, D, N, 1.0f, S, Vn, 0.0f, t->dU);
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < D; k++) {
            t->dU[b * D + k] += t->pos[b] * Vo[b * D + k];
            t->dV[b * D + k] = t->pos[b] * Uo[b * D + k];
        }
    ember__gemm(threads, 1, 0, N, D, B, 1.0f, S, Uo, 0.0f, t->dV + B * D);
    ember__model_backward_input(t->utower, t->dU, B, &ctx, t->dXu);
    ember__model_backward_input(t->itower, t->dV, B + N, &ctx, t->dXi);
    scatter(t->gu, t->touched_u, &t->n_tu, t->mark_u, t->dXu, E + t->Fu, E, urow, B);
    scatter(t->gi, t->touched_i, &t->n_ti, t->mark_i, t->dXi, E + t->Fi, E, irow, B + N);
    return loss / (double)Bglobal;
}

/* Apply the step: towers through their optimizers, embedding rows lazily. */
static void apply_step(ember_tt *t, ember_optim *ou, ember_optim *oi)
{
    ember_model *tw[2] = {t->utower, t->itower};
    for (int k = 0; k < 2; k++) {
        ember__optim_step(&tw[k]->optim, tw[k]->params, tw[k]->grads);
        memset(tw[k]->grads, 0, (size_t)tw[k]->n_params * sizeof(float));
    }
    ember_optim *o[2] = {ou, oi};
    float *w[2] = {t->uemb, t->iemb}, *g[2] = {t->gu, t->gi};
    int64_t *list[2] = {t->touched_u, t->touched_i}, *n[2] = {&t->n_tu, &t->n_ti};
    unsigned char *mark[2] = {t->mark_u, t->mark_i};
    for (int k = 0; k < 2; k++) {
        ember__optim_begin(o[k]);
        for (int64_t x = 0; x < *n[k]; x++) {
            int64_t r = list[k][x];
            ember__optim_update(o[k], w[k], g[k], r * t->E, t->E);
            memset(g[k] + r * t->E, 0, (size_t)t->E * sizeof(float));
            mark[k][r] = 0;
        }
        *n[k] = 0;
    }
}

/* ------------------------------------------------ data-parallel steps
 * After each rank's shard step: one i64 allreduce of the touched-row counts
 * of both tables, two allgathers of the touched rows (the union, in rank
 * order without repeats, is the same list on every rank and becomes every
 * rank's touched list, so the lazy optimizer updates the same rows), and
 * one fused f32 allreduce of the towers' gradients, the union rows'
 * embedding gradients (or a whole table when that is smaller) and the
 * loss. */
typedef struct tt_dist {
    ember_dist *d;
    int64_t *counts;            /* [2 size] */
    int64_t *all;               /* [size (Bmax + N)] gathered row ids */
    int64_t *uni_u, *uni_i;     /* union lists */
    int64_t nu_u, nu_i;
    int dense_u, dense_i;       /* the whole table travels */
    unsigned char *umask;       /* [max(U, I) + 1], zero between steps */
    float *pack;
    int64_t pack_cap;
} tt_dist;

static void tt_dist_free(tt_dist *x)
{
    free(x->counts), free(x->all), free(x->uni_u), free(x->uni_i), free(x->umask), free(x->pack);
}

static ember_status tt_dist_init(tt_dist *x, ember_dist *d, const ember_tt *t, int64_t Bmax,
                                 int64_t N, ember_error *err)
{
    memset(x, 0, sizeof *x);
    x->d = d;
    int64_t P = d->size, R = (t->U > t->I ? t->U : t->I) + 1;
    int64_t ru = P * Bmax < t->U + 1 ? P * Bmax : t->U + 1;
    int64_t ri = P * (Bmax + N) < t->I + 1 ? P * (Bmax + N) : t->I + 1;
    x->pack_cap = t->utower->n_params + t->itower->n_params + (ru + ri) * t->E + 1;
    int fail = 0;
    x->counts = zalloc(2 * P, sizeof(int64_t), &fail);
    x->all = zalloc(P * (Bmax + N), sizeof(int64_t), &fail);
    x->uni_u = zalloc(t->U + 1, sizeof(int64_t), &fail);
    x->uni_i = zalloc(t->I + 1, sizeof(int64_t), &fail);
    x->umask = zalloc(R, 1, &fail);
    x->pack = zalloc(x->pack_cap, sizeof(float), &fail);
    if (fail) {
        tt_dist_free(x);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the distributed exchange");
    }
    return EMBER_OK;
}

/* The union of every rank's touched rows of one table (ids gathered into
 * x->all from offset 0, `total` of them) into uni, without repeats. */
static int64_t union_rows(tt_dist *x, int64_t total, int64_t *uni)
{
    int64_t n = 0;
    for (int64_t k = 0; k < total; k++) {
        int64_t r = x->all[k];
        if (!x->umask[r]) {
            x->umask[r] = 1;
            uni[n++] = r;
        }
    }
    for (int64_t k = 0; k < n; k++)
        x->umask[uni[k]] = 0;
    return n;
}

static ember_status gather_table(tt_dist *x, const int64_t *mine, int64_t side, int64_t rows,
                                 int64_t *uni, int64_t *nu, int *dense, int64_t E,
                                 ember_error *err)
{
    int64_t P = x->d->size, total = 0, cnt[256] = {0};
    for (int64_t r = 0; r < P; r++)
        total += cnt[r] = x->counts[2 * r + side];
    ember_status s = ember__dist_allgatherv_i64(x->d, mine, x->all, cnt, err);
    if (s)
        return s;
    *nu = union_rows(x, total, uni);
    *dense = *nu * E >= rows * E;
    return EMBER_OK;
}

static ember_status tt_exchange(tt_dist *x, ember_tt *t, double *loss, ember_error *err)
{
    ember_dist *d = x->d;
    int64_t P = d->size, E = t->E;
    memset(x->counts, 0, (size_t)(2 * P) * sizeof(int64_t));
    x->counts[2 * d->rank] = t->n_tu;
    x->counts[2 * d->rank + 1] = t->n_ti;
    ember_status s = ember__dist_allreduce(d, x->counts, 2 * P, EMBER_DIST_I64, EMBER_DIST_SUM, err);
    if (!s)
        s = gather_table(x, t->touched_u, 0, t->U + 1, x->uni_u, &x->nu_u, &x->dense_u, E, err);
    if (!s)
        s = gather_table(x, t->touched_i, 1, t->I + 1, x->uni_i, &x->nu_i, &x->dense_i, E, err);
    if (s)
        return s;
    /* pack: towers, user rows (or table), item rows (or table), loss */
    float *p = x->pack;
    ember_model *tw[2] = {t->utower, t->itower};
    for (int k = 0; k < 2; k++) {
        memcpy(p, tw[k]->grads, (size_t)tw[k]->n_params * sizeof(float));
        p += tw[k]->n_params;
    }
    float *g[2] = {t->gu, t->gi};
    int64_t *uni[2] = {x->uni_u, x->uni_i}, nu[2] = {x->nu_u, x->nu_i};
    int64_t rows[2] = {t->U + 1, t->I + 1};
    int dense[2] = {x->dense_u, x->dense_i};
    for (int k = 0; k < 2; k++) {
        if (dense[k]) {
            memcpy(p, g[k], (size_t)(rows[k] * E) * sizeof(float));
            p += rows[k] * E;
        } else {
            for (int64_t q = 0; q < nu[k]; q++, p += E)
                memcpy(p, g[k] + uni[k][q] * E, (size_t)E * sizeof(float));
        }
        d->sparse_steps += !dense[k];
        d->dense_steps += dense[k];
    }
    *p++ = (float)*loss;
    int64_t n = p - x->pack;
    if (n > x->pack_cap)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "two-tower exchange: %lld floats for a buffer of "
                          "%lld", (long long)n, (long long)x->pack_cap);
    if ((s = ember__dist_allreduce(d, x->pack, n, EMBER_DIST_F32, EMBER_DIST_SUM, err)))
        return s;
    p = x->pack;
    for (int k = 0; k < 2; k++) {
        memcpy(tw[k]->grads, p, (size_t)tw[k]->n_params * sizeof(float));
        p += tw[k]->n_params;
    }
    int64_t *list[2] = {t->touched_u, t->touched_i}, *nt[2] = {&t->n_tu, &t->n_ti};
    unsigned char *mark[2] = {t->mark_u, t->mark_i};
    for (int k = 0; k < 2; k++) {
        if (dense[k]) {
            memcpy(g[k], p, (size_t)(rows[k] * E) * sizeof(float));
            p += rows[k] * E;
        } else {
            for (int64_t q = 0; q < nu[k]; q++, p += E)
                memcpy(g[k] + uni[k][q] * E, p, (size_t)E * sizeof(float));
        }
        /* the union is every rank's touched list */
        for (int64_t q = 0; q < *nt[k]; q++)
            mark[k][list[k][q]] = 0;
        memcpy(list[k], uni[k], (size_t)nu[k] * sizeof(int64_t));
        *nt[k] = nu[k];
        for (int64_t q = 0; q < nu[k]; q++)
            mark[k][uni[k][q]] = 1;
    }
    *loss = *p;
    return EMBER_OK;
}

ember_status ember__tt_refresh(ember_tt *t, int threads, ember_error *err)
{
    ember_status s = ember__tt_reserve(t, TT_REFRESH_ROWS, 1, err);
    if (s)
        return s;
    int64_t rows[TT_REFRESH_ROWS], fr[TT_REFRESH_ROWS];
    ember_step_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.threads = threads;
    /* users 0..U (U: the unknown user, no features), items 0..I-1 */
    for (int side = 0; side < 2; side++) {
        int64_t n = side ? t->I : t->U + 1, W = side ? t->E + t->Fi : t->E + t->Fu;
        int64_t cold = side ? t->I : t->U;
        ember_model *m = side ? t->itower : t->utower;
        const unsigned char *warm = side ? t->iwarm : t->uwarm;
        float *out = side ? t->ivec : t->uvec;
        for (int64_t b0 = 0; b0 < n; b0 += TT_REFRESH_ROWS) {
            int64_t nb = n - b0 < TT_REFRESH_ROWS ? n - b0 : TT_REFRESH_ROWS;
            for (int64_t b = 0; b < nb; b++) {
                int64_t k = b0 + b;
                rows[b] = k < cold && warm[k] ? k : cold;
                fr[b] = k;
            }
            fill_input(m->acts[0], side ? t->iemb : t->uemb, t->E, side ? t->ifeat : t->ufeat,
                       W - t->E, rows, fr, nb);
            const float *y = ember__model_forward(m, nb, &ctx);
            memcpy(out + b0 * t->D, y, (size_t)(nb * t->D) * sizeof(float));
        }
    }
    return EMBER_OK;
}

/* Model ids: the training data's (same indices), then the feature table's
 * other ids; feature rows copied (zeros for ids the table lacks). */
static ember_status build_side(ember_idmap *ids, const ember_idmap *data, const ember_features *f,
                               ember_error *err)
{
    ember_status s = EMBER_OK;
    int64_t k;
    for (int64_t j = 0; j < data->n && !s; j++) {
        const char *id = ember__idmap_get(data, j);
        s = ember__idmap_add(ids, id, strlen(id), &k, err);
    }
    for (int64_t j = 0; f && j < ember_features_rows(f) && !s; j++) {
        const char *id = ember_features_id(f, j);
        s = ember__idmap_add(ids, id, strlen(id), &k, err);
    }
    return s;
}

static ember_status copy_features(float *dst, char **cols, const ember_idmap *ids,
                                  const ember_features *f, ember_error *err)
{
    if (!f)
        return EMBER_OK;
    int64_t F = ember_features_width(f);
    for (int64_t j = 0; j < F; j++)
        if (!(cols[j] = strdup(ember_features_column(f, j))))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for feature names");
    for (int64_t k = 0; k < ids->n; k++) {
        int64_t r = ember_features_find(f, ember__idmap_get(ids, k));
        if (r >= 0)
            memcpy(dst + k * F, ember_features_row(f, r), (size_t)F * sizeof(float));
    }
    return EMBER_OK;
}

ember_status ember_recommender_train_two_tower(ember_recommender **out,
                                               const ember_interactions *d,
                                               const ember_features *users,
                                               const ember_features *items,
                                               const ember_two_tower_config *cfg,
                                               ember_progress_fn progress, void *user,
                                               ember_error *err)
{
    if (!out || !d)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "two-tower train: NULL argument");
    *out = NULL;
    ember_status s = check_config(cfg, err);
    if (s)
        return s;
    if (d->n == 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "two-tower train: no interactions");
    ember__blas_single_thread();
    ember_recommender *r = calloc(1, sizeof *r);
    if (!r)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the recommender");
    r->two_tower = 1;
    ember__idmap_init(&r->users);
    ember__idmap_init(&r->items);
    int64_t *order = NULL, *buf = NULL;
    const int P = cfg->dist ? cfg->dist->size : 1, rank = cfg->dist ? cfg->dist->rank : 0;
    tt_dist xd;
    memset(&xd, 0, sizeof xd);
    ember_optim ou, oi;
    memset(&ou, 0, sizeof ou);
    memset(&oi, 0, sizeof oi);
    if (P > 256) {
        s = EMBER_FAIL(err, EMBER_ERR_ARG, "two-tower: at most 256 ranks, got %d", P);
        goto fail;
    }
    if ((s = build_side(&r->users, &d->users, users, err)) ||
        (s = build_side(&r->items, &d->items, items, err)))
        goto fail;
    ember_tt *t = NULL;
    if ((s = ember__tt_alloc(&t, cfg, r->users.n, r->items.n, ember_features_width(users),
                             ember_features_width(items), err)))
        goto fail;
    r->tt = t;
    if ((s = copy_features(t->ufeat, t->ucols, &r->users, users, err)) ||
        (s = copy_features(t->ifeat, t->icols, &r->items, items, err)))
        goto fail;
    for (int64_t e = 0; e < d->n; e++) {
        t->uwarm[d->user[e]] = 1;
        t->iwarm[d->item[e]] = 1;
    }
    const int64_t Bmax = cfg->batch_size, N = cfg->negatives, n = d->n;
    const int64_t Iw = d->items.n; /* warm items are 0 .. Iw - 1 */
    order = malloc((size_t)n * sizeof *order);
    buf = malloc((size_t)(5 * (Bmax + N)) * sizeof *buf);
    if (!order || !buf) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld records", (long long)n);
        goto fail;
    }
    int64_t *urow = buf, *ufr = urow + Bmax, *irow = ufr + Bmax, *ifr = irow + Bmax + N;
    int64_t *its = ifr + Bmax + N;
    if (P > 1 && (s = tt_dist_init(&xd, cfg->dist, t, Bmax, N, err)))
        goto fail;
    if ((s = ember__tt_reserve(t, Bmax, N, err)) ||
        (s = ember__optim_init(&ou, &cfg->optimizer, (t->U + 1) * t->E, err)) ||
        (s = ember__optim_init(&oi, &cfg->optimizer, (t->I + 1) * t->E, err)))
        goto fail;
    const int64_t steps = (n + Bmax - 1) / Bmax;
    const float p = cfg->id_dropout;
    for (int ep = 0; ep < cfg->epochs; ep++) {
        double t0 = ember__now(), loss = 0.0;
        for (int64_t i = 0; i < n; i++)
            order[i] = i;
        ember_rng sh = ember__rng_stream(cfg->seed, EMBER_STREAM_SHUFFLE, (uint64_t)ep, 0);
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)ember__rng_below(&sh, (uint64_t)i + 1), x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        for (int64_t st = 0; st < steps; st++) {
            int64_t b0 = st * Bmax, B = n - b0 < Bmax ? n - b0 : Bmax;
            ember_rng rs = ember__rng_stream(cfg->seed, STREAM_TT_SAMPLE, (uint64_t)ep, (uint64_t)st);
            for (int64_t b = 0; b < B; b++) {
                int64_t e = order[b0 + b];
                ufr[b] = d->user[e];
                urow[b] = ember__rng_uniform(&rs) < p ? t->U : ufr[b];
                its[b] = ifr[b] = d->item[e];
                irow[b] = ember__rng_uniform(&rs) < p ? t->I : ifr[b];
            }
            for (int64_t j = 0; j < N; j++) {
                int64_t it = (int64_t)ember__rng_below(&rs, (uint64_t)Iw);
                its[B + j] = ifr[B + j] = it;
                irow[B + j] = ember__rng_uniform(&rs) < p ? t->I : it;
            }
            if (P == 1) {
                loss += ember__tt_step(t, urow, ufr, irow, ifr, its, B, N, B, 1, cfg->threads);
            } else {
                /* this rank's rows [s0, s0 + Bs) of the batch, moved in front of the
                 * negatives (which every rank shares) */
                int64_t s0 = B * rank / P, Bs = B * (rank + 1) / P - s0;
                int64_t *arr[3] = {irow, ifr, its};
                for (int k = 0; k < 3; k++) {
                    memmove(arr[k], arr[k] + s0, (size_t)Bs * sizeof(int64_t));
                    memmove(arr[k] + Bs, arr[k] + B, (size_t)N * sizeof(int64_t));
                }
                double l = ember__tt_step(t, urow + s0, ufr + s0, irow, ifr, its, Bs, N, B, 1,
                                          cfg->threads);
                if ((s = tt_exchange(&xd, t, &l, err)))
                    goto fail;
                loss += l;
            }
            apply_step(t, &ou, &oi);
        }
        loss /= (double)steps;
        if (!isfinite(loss)) { /* the summed loss: every rank stops here */
            if (cfg->dist)
                cfg->dist->error_shared = 1;
            s = EMBER_FAIL(err, EMBER_ERR_NUMERIC, "epoch %d: the mean loss is %g; lower the "
                           "learning rate (%g)", ep + 1, loss, (double)cfg->optimizer.learning_rate);
            goto fail;
        }
        ember__rec_epoch_end(progress, user, ep, cfg->epochs, steps, t0, loss);
    }
    if ((s = ember__tt_refresh(t, cfg->threads, err)))
        goto fail;
    *out = r;
    r = NULL;
fail:
    tt_dist_free(&xd);
    ember__optim_deinit(&ou);
    ember__optim_deinit(&oi);
    free(order);
    free(buf);
    ember_recommender_destroy(r);
    return s;
}

const char *ember_recommender_model(const ember_recommender *r)
{
    return r && r->two_tower ? "two-tower" : "mf";
}

const ember_two_tower_config *ember_recommender_two_tower_config(const ember_recommender *r)
{
    return r && r->two_tower ? &r->tt->cfg : NULL;
}

static int64_t count_cold(const unsigned char *warm, int64_t n)
{
    int64_t c = 0;
    for (int64_t k = 0; k < n; k++)
        c += !warm[k];
    return c;
}

int64_t ember_recommender_cold_users(const ember_recommender *r)
{
    return r && r->two_tower ? count_cold(r->tt->uwarm, r->tt->U) : 0;
}

int64_t ember_recommender_cold_items(const ember_recommender *r)
{
    return r && r->two_tower ? count_cold(r->tt->iwarm, r->tt->I) : 0;
}
