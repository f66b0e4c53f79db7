/*
 * embedding.c - Embedding(V, D) over bags of token ids, and
 * GlobalAveragePooling1D after it.
 *
 * The model's input is ragged: example b is the id list
 * ids[offsets[b] .. offsets[b+1]) (no padding). Embedding followed by
 * GlobalAveragePooling1D computes, per example,
 *     y[b] = (1 / L_b) sum_{t < L_b} E[ids_t],       E [V][D]
 * in one pass (like PyTorch's EmbeddingBag(mode='mean'); equal to Keras'
 * Embedding(mask_zero=True) + GlobalAveragePooling1D on padded input). With
 * per-id weights w (the model passes each example's distinct ids with their
 * counts, so a repeated token's row is read once), y[b] = sum w_t E[ids_t] /
 * sum w_t, which is the same mean. The
 * [B, T, D] sequence is never materialised, so there is no padding waste;
 * the pooling layer is then an identity on [B, D]. An empty bag gives 0.
 *
 * Backward: dE[ids_t] += dy[b] / L_b. Only the rows of this batch are
 * non-zero. In lazy mode (the default) the layer lists those rows, and the
 * model zeroes, clips and updates only them: with Adam this is "lazy Adam"
 * (TensorFlow Addons' LazyAdam): moments of rows not in the batch are not
 * decayed. In dense mode every row is updated every step with a zero
 * gradient where untouched, which is what Keras' Adam does (exact match, at
 * the cost of touching all V x D parameters per step).
 * Initialisation: U(-0.05, 0.05), Keras' default for embeddings.
 */
#include "layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAR_MIN_WORK 65536 /* ids x D below which one thread does it all */
#define EMBEDDING_INIT_LIMIT 0.05f

static ember_status emb_build(ember_layer *l, ember_error *err)
{
    embedding_config *c = l->config;
    if (c->input_dim < 1 || c->input_dim > INT32_MAX)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "embedding input_dim must be in 1..%d, got %lld",
                          INT32_MAX, (long long)c->input_dim);
    if (c->output_dim < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "embedding output_dim must be >= 1, got %lld",
                          (long long)c->output_dim);
    if (l->index != 0 || l->in_rank != 0)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE,
                          "embedding must be the first layer of a model created for token ids "
                          "(ember_model_create_ids)");
    int64_t n;
    if (!ember__mul_i64(c->input_dim, c->output_dim, &n))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "embedding size overflows");
    l->param_count = n;
    l->kernel_count = 0; /* no L2 on embeddings (Keras: only with a regularizer) */
    l->out_rank = 1;
    l->out_shape[0] = c->output_dim;
    for (int i = 1; i < EMBER_MAX_DIMS; i++)
        l->out_shape[i] = 1;
    l->out_size = c->output_dim;
    l->out_activation = EMBER_ACT_LINEAR;
    l->sparse_grads = c->lazy;
    l->row_len = c->output_dim;
    free(c->stamp);
    c->stamp = malloc((size_t)c->input_dim * sizeof *c->stamp);
    if (!c->stamp)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld embedding rows",
                          (long long)c->input_dim);
    for (int64_t i = 0; i < c->input_dim; i++)
        c->stamp[i] = -1;
    c->step = 0;
    return EMBER_OK;
}

static void emb_init(ember_layer *l, ember_rng *rng)
{
    for (int64_t i = 0; i < l->param_count; i++)
        l->params[i] = (2.0f * ember__rng_uniform(rng) - 1.0f) * EMBEDDING_INIT_LIMIT;
}

/* y[0..D) += a * x[0..D) */
static EMBER_CLONES void row_axpy(float *restrict y, const float *restrict x, float a, int64_t D)
{
    for (int64_t d = 0; d < D; d++)
        y[d] += a * x[d];
}

/* The weighted mean of bag b's rows into yb[D]. */
static inline void bag_mean(float *yb, const float *E, const int32_t *ids, const int64_t *off,
                            const float *w, int64_t b, int64_t D)
{
    memset(yb, 0, (size_t)D * sizeof *yb);
    float len = 0.0f;
    for (int64_t t = off[b]; t < off[b + 1]; t++) {
        float wt = w ? w[t] : 1.0f;
        row_axpy(yb, E + (int64_t)ids[t] * D, wt, D);
        len += wt;
    }
    if (len > 0.0f) {
        float inv = 1.0f / len;
        for (int64_t d = 0; d < D; d++)
            yb[d] *= inv;
    }
}

static void emb_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    const embedding_config *c = l->config;
    int64_t D = c->output_dim;
    const int32_t *ids = ctx->ids;
    const int64_t *off = ctx->offsets;
    const float *E = l->params;
    const float *w = ctx->id_weights;
    EMBER_PAR_FOR_IF((off[B] - off[0]) * D > PAR_MIN_WORK, for (int64_t b = 0; b < B; b++)
        bag_mean(y + b * D, E, ids, off, w, b, D););
}

/* 1 / (sum of the weights of example b), 0 for an empty bag. */
static float bag_inv(const int64_t *off, const float *w, int64_t b)
{
    float len = 0.0f;
    if (!w)
        len = (float)(off[b + 1] - off[b]);
    else
        for (int64_t t = off[b]; t < off[b + 1]; t++)
            len += w[t];
    return len > 0.0f ? 1.0f / len : 0.0f;
}

static void emb_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                    int64_t B, const ember_step_ctx *ctx)
{
    (void)dx;
    (void)x;
    (void)y;
    embedding_config *c = l->config;
    int64_t D = c->output_dim;
    const int32_t *ids = ctx->ids;
    const int64_t *off = ctx->offsets;
    const float *w = ctx->id_weights;
    float *G = l->grads;
    if (l->sparse_grads) {
        /* Rows in order of first appearance; the stamp avoids listing one twice. */
        int64_t step = ++c->step, nt = 0;
        for (int64_t t = off[0]; t < off[B]; t++) {
            int64_t r = ids[t];
            if (c->stamp[r] != step) {
                c->stamp[r] = step;
                l->touched[nt++] = r;
            }
        }
        l->n_touched = nt;
    }
    /* Scatter. Each element of G is summed in example order, whether one
     * thread does all columns or the columns are split over threads, so
     * results do not depend on the thread count. */
    if ((off[B] - off[0]) * D <= PAR_MIN_WORK) {
        for (int64_t b = 0; b < B; b++) {
            float inv = bag_inv(off, w, b);
            for (int64_t t = off[b]; t < off[b + 1]; t++)
                row_axpy(G + (int64_t)ids[t] * D, dy + b * D, w ? w[t] * inv : inv, D);
        }
        return;
    }
    /* One contiguous slice of columns per thread (multiples of 16 floats,
     * a cache line), each summed in example order with the vector helper. */
    int nt = ctx->threads > 1 ? ctx->threads : 1;
    int64_t per = ((D + nt - 1) / nt + 15) / 16 * 16;
    int64_t nblk = (D + per - 1) / per;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t d0 = blk * per, len = D - d0 < per ? D - d0 : per;
        for (int64_t b = 0; b < B; b++) {
            float inv = bag_inv(off, w, b);
            const float *g = dy + b * D + d0;
            for (int64_t t = off[b]; t < off[b + 1]; t++)
                row_axpy(G + (int64_t)ids[t] * D + d0, g, w ? w[t] * inv : inv, len);
        }
    }
}

static int emb_describe(const ember_layer *l, char *buf, size_t cap)
{
    const embedding_config *c = l->config;
    return snprintf(buf, cap, "{\"type\":\"embedding\",\"input_dim\":%lld,\"output_dim\":%lld,"
                    "\"lazy\":%s}", (long long)c->input_dim, (long long)c->output_dim,
                    c->lazy ? "true" : "false");
}

static void emb_destroy(ember_layer *l)
{
    embedding_config *c = l->config;
    if (c) {
        free(c->stamp);
        c->stamp = NULL;
    }
}

const ember_layer_ops ember__embedding_ops = {"embedding", emb_build,    emb_init,   emb_fwd,
                                              emb_bwd,     emb_describe, emb_destroy};

/* ---- GlobalAveragePooling1D: after an Embedding the mean is already taken,
 * so on [B, D] it is the identity in both directions. */

static ember_status gap_build(ember_layer *l, ember_error *err)
{
    if (l->index == 0 || l->in_rank != 1)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE,
                          "global_average_pooling1d must follow an embedding (the only "
                          "sequence-producing layer so far)");
    l->out_rank = 1;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    l->out_size = l->in_size;
    l->param_count = 0;
    l->out_activation = EMBER_ACT_LINEAR;
    return EMBER_OK;
}

static void gap_init(ember_layer *l, ember_rng *rng)
{
    (void)l;
    (void)rng;
}

static void gap_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    (void)ctx;
    memcpy(y, x, (size_t)(B * l->in_size) * sizeof *y);
}

static void gap_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                    int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    (void)y;
    (void)ctx;
    if (dx)
        memcpy(dx, dy, (size_t)(B * l->in_size) * sizeof *dx);
}

static int gap_describe(const ember_layer *l, char *buf, size_t cap)
{
    (void)l;
    return snprintf(buf, cap, "{\"type\":\"global_average_pooling1d\"}");
}

static void gap_destroy(ember_layer *l) { (void)l; }

const ember_layer_ops ember__gap1d_ops = {"global_average_pooling1d", gap_build, gap_init,
                                          gap_fwd, gap_bwd, gap_describe, gap_destroy};
