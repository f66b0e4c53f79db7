/*
 * conv2d.c - Conv2D on NHWC data: y = act(conv(x, K) + b).
 *   x [B][H][W][C], K [kh][kw][C][F] (Keras' kernel layout), b [F],
 *   y [B][OH][OW][F]. Parameters: K first, then b.
 * Algorithm, chosen at build from the shape (kernels/conv.h):
 *   - im2col + one sgemm over the whole batch: cols [B*OH*OW][kh*kw*C] =
 *     im2col(x); y = cols K (K as a (kh*kw*C) x F matrix);
 *   - pointwise: a 1x1 convolution with stride 1 and "valid" padding is the
 *     same with x itself as the column matrix;
 *   - direct: when the window holds fewer than EMBER_DIRECT_MAX_K values
 *     (the first layer on grey images: 3x3x1 = 9), sgemm's inner dimension
 *     would be tiny; a direct loop keeps each pixel's F outputs in registers
 *     (measured on the Fashion CNN's first layer: bench/bench_cnn_layers).
 * Backward: dz = dy * act'(y); dK += cols^T dz; db += column sums of dz;
 *   dcols = dz K^T written over the cols buffer (no longer needed), then
 *   dx = col2im(dcols). The forward's cols stay in the layer's scratch until
 *   backward, so nothing is recomputed and nothing is allocated per step.
 * Scratch per example: [OH*OW*F] for dz (or the logits when fused with the
 * loss, as in Dense), then [OH*OW*kh*kw*C] for the columns (im2col), or
 * [kh*kw*C*F] per-example kernel-gradient partials (direct), then the ReLU
 * bias partials.
 * Initialisation: He uniform by default (fan_in = kh*kw*C), zero bias.
 */
#include "layer.h"
#include "kernels/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAR_MIN_ELEMS 65536
#define BIAS_ROWS 256 /* rows per partial bias sum: fixed, so sums do not depend on threads */

/* y = max(y + b, 0) in one pass (b may be NULL). */
EMBER_CLONES
static void bias_relu(float *y, const float *b, int64_t rows, int64_t F, int threads)
{
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (rows * F > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * F;
        if (b)
            for (int64_t f = 0; f < F; f++) {
                float v = yr[f] + b[f];
                yr[f] = v > 0.0f ? v : 0.0f;
            }
        else
            for (int64_t f = 0; f < F; f++)
                yr[f] = yr[f] > 0.0f ? yr[f] : 0.0f;
    }
}

/* dz = dy * [y > 0] and, if db, db += column sums of dz, in one pass. The
 * rows are cut into fixed blocks of BIAS_ROWS; each block's column sums go
 * to part[block][F] and are added to db in block order, so the result does
 * not depend on the thread count. */
EMBER_CLONES
static void relu_grad(float *restrict dz, float *db, float *restrict part,
                      const float *restrict dy, const float *restrict y, int64_t rows, int64_t F,
                      int threads)
{
    int64_t nblk = (rows + BIAS_ROWS - 1) / BIAS_ROWS;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (rows * F > PAR_MIN_ELEMS)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t r0 = blk * BIAS_ROWS, r1 = r0 + BIAS_ROWS < rows ? r0 + BIAS_ROWS : rows;
        float *restrict pb = part + blk * F;
        for (int64_t f0 = 0; f0 < F; f0 += 64) {
            /* 64 column sums in a local array the compiler keeps in registers */
            int64_t nf = F - f0 < 64 ? F - f0 : 64;
            float acc[64] = {0};
            for (int64_t r = r0; r < r1; r++) {
                const float *restrict yr = y + r * F + f0, *restrict dyr = dy + r * F + f0;
                float *restrict dzr = dz + r * F + f0;
                for (int64_t f = 0; f < nf; f++) {
                    float v = yr[f] > 0.0f ? dyr[f] : 0.0f;
                    dzr[f] = v;
                    acc[f] += v;
                }
            }
            for (int64_t f = 0; f < nf; f++)
                pb[f0 + f] = acc[f];
        }
    }
    if (!db)
        return;
    for (int64_t blk = 0; blk < nblk; blk++)
        for (int64_t f = 0; f < F; f++)
            db[f] += part[blk * F + f];
}

static ember_status conv_build(ember_layer *l, ember_error *err)
{
    conv2d_config *c = l->config;
    if (c->filters < 1 || c->filters > (1 << 20))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "conv2d filters must be in 1..%d, got %lld",
                          1 << 20, (long long)c->filters);
    if (l->in_rank != 3)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "conv2d expects a rank-3 input (rows, columns, "
                          "channels), got rank %d", l->in_rank);
    ember_status s = ember__conv_geom(&c->g, l->in_shape[0], l->in_shape[1], l->in_shape[2],
                                      c->kh, c->kw, c->sh, c->sw, c->same, err);
    if (s)
        return s;
    const ember_conv_geom *g = &c->g;
    int64_t kcol = g->kh * g->kw * g->C, kn, pix, ys, cs;
    if (!ember__mul_i64(kcol, c->filters, &kn) || !ember__mul_i64(g->OH, g->OW, &pix) ||
        !ember__mul_i64(pix, c->filters, &ys) || !ember__mul_i64(pix, kcol, &cs) ||
        ys > ((int64_t)1 << 40) || cs > ((int64_t)1 << 40))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "conv2d sizes overflow");
    if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && !c->same)
        c->algo = CONV_POINTWISE;
    else if (kcol < EMBER_DIRECT_MAX_K && c->filters <= EMBER_DIRECT_MAX_F)
        c->algo = CONV_DIRECT;
    else
        c->algo = CONV_IM2COL;
    if (c->algo != CONV_DIRECT) {
        free(c->dkt);
        if (!(c->dkt = malloc((size_t)kn * sizeof *c->dkt)))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for conv2d");
    }
    l->out_rank = 3;
    l->out_shape[0] = g->OH;
    l->out_shape[1] = g->OW;
    l->out_shape[2] = c->filters;
    l->out_shape[3] = 1;
    l->out_size = ys;
    l->param_count = kn + (c->use_bias ? c->filters : 0);
    l->kernel_count = kn;
    l->out_activation = c->activation;
    /* dz (or logits) | columns | partial sums: per-block bias partials
     * (relu_grad, pointwise) or per-chunk kernel and bias gradients (im2col,
     * at most one chunk per example) */
    int64_t parts = c->algo == CONV_IM2COL ? kn + c->filters : (pix / BIAS_ROWS + 1) * c->filters;
    int64_t mid = c->algo == CONV_IM2COL ? cs : c->algo == CONV_DIRECT ? kn + c->filters : 0;
    l->scratch_per_row = (c->activation == EMBER_ACT_LINEAR ? 0 : ys) + mid +
                         (c->activation == EMBER_ACT_RELU || c->algo == CONV_IM2COL ? parts : 0);
    return EMBER_OK;
}

static void conv_init(ember_layer *l, ember_rng *rng)
{
    conv2d_config *c = l->config;
    const ember_conv_geom *g = &c->g;
    int64_t rf = g->kh * g->kw, kn = rf * g->C * c->filters;
    ember_init init = c->kernel_init == EMBER_INIT_DEFAULT ? EMBER_INIT_HE_UNIFORM : c->kernel_init;
    ember__init_kernel(init, l->params, kn, rf * g->C, rf * c->filters, rng);
    if (c->use_bias)
        memset(l->params + kn, 0, (size_t)c->filters * sizeof(float));
}

/* The columns buffer of this batch (after the dz part of the scratch), and
 * the bias partials after it. */
static float *cols_of(const ember_layer *l, int64_t B)
{
    const conv2d_config *c = l->config;
    return l->scratch + (c->activation == EMBER_ACT_LINEAR ? 0 : B * l->out_size);
}

static float *parts_of(const ember_layer *l, int64_t B)
{
    const conv2d_config *c = l->config;
    const ember_conv_geom *g = &c->g;
    int64_t kcol = g->kh * g->kw * g->C;
    int64_t mid = c->algo == CONV_IM2COL ? g->OH * g->OW * kcol
                  : c->algo == CONV_DIRECT ? kcol * c->filters + c->filters : 0;
    return cols_of(l, B) + B * mid;
}

/* ------------------------------------------------ im2col in chunks
 * The batch is cut into chunks of a few images (about CHUNK_ROWS output
 * pixels); each chunk runs im2col, its sgemm (one thread), bias and
 * activation while its columns are in cache, the chunks spread over the
 * threads in one parallel region. Backward does the same per chunk and
 * keeps each chunk's kernel and bias gradients apart; they are added in
 * chunk order afterwards, so results do not depend on the thread count. */
#define CHUNK_ROWS 512

static int64_t chunk_images(const conv2d_config *c)
{
    int64_t pix = c->g.OH * c->g.OW;
    return pix >= CHUNK_ROWS ? 1 : CHUNK_ROWS / pix;
}

static void fwd_chunks(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    conv2d_config *c = l->config;
    const ember_conv_geom *g = &c->g;
    const int64_t F = c->filters, kcol = g->kh * g->kw * g->C, pix = g->OH * g->OW;
    const int64_t nin = g->H * g->W * g->C, ipc = chunk_images(c), nch = (B + ipc - 1) / ipc;
    const float *bias = c->use_bias ? l->params + kcol * F : NULL;
    const int relu = c->activation == EMBER_ACT_RELU && !l->dy_is_preact;
    float *cols = cols_of(l, B);
    int threads = ctx->threads;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (nch > 1)
    for (int64_t ch = 0; ch < nch; ch++) {
        int64_t b0 = ch * ipc, nb = B - b0 < ipc ? B - b0 : ipc, r0 = b0 * pix, rows = nb * pix;
        float *cc = cols + r0 * kcol, *yc = y + r0 * F;
        ember__im2col(g, x + b0 * nin, nb, cc, 1);
        ember__gemm(1, 0, 0, rows, F, kcol, 1.0f, cc, l->params, 0.0f, yc);
        if (relu) {
            bias_relu(yc, bias, rows, F, 1);
            continue;
        }
        if (bias)
            ember__bias_add(yc, bias, rows, F, 1);
        if (c->activation == EMBER_ACT_LINEAR)
            continue;
        if (l->dy_is_preact)
            memcpy(l->scratch + r0 * F, yc, (size_t)(rows * F) * sizeof *yc);
        ember__act_forward(c->activation, yc, yc, rows, F);
    }
}

static void bwd_chunks(ember_layer *l, float *dx, const float *dy, const float *y, int64_t B,
                       const ember_step_ctx *ctx)
{
    conv2d_config *c = l->config;
    const ember_conv_geom *g = &c->g;
    const int64_t F = c->filters, kcol = g->kh * g->kw * g->C, pix = g->OH * g->OW;
    const int64_t nin = g->H * g->W * g->C, ipc = chunk_images(c), nch = (B + ipc - 1) / ipc;
    const int64_t kn = kcol * F;
    const int act = c->activation != EMBER_ACT_LINEAR && !l->dy_is_preact;
    float *cols = cols_of(l, B), *parts = parts_of(l, B);
    int threads = ctx->threads;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (nch > 1)
    for (int64_t ch = 0; ch < nch; ch++) {
        int64_t b0 = ch * ipc, nb = B - b0 < ipc ? B - b0 : ipc, r0 = b0 * pix, rows = nb * pix;
        float *cc = cols + r0 * kcol, *pk = parts + ch * (kn + F);
        const float *dz = dy + r0 * F;
        if (act) {
            float *z = l->scratch + r0 * F;
            if (c->activation == EMBER_ACT_RELU) {
                ember__relu_mask(z, dz, y + r0 * F, rows * F);
            } else {
                ember__act_backward(c->activation, z, dz, y + r0 * F, rows, F);
            }
            dz = z;
        }
        /* this chunk's dK^T = dz^T cols (F x kcol) and bias sums */
        ember__gemm(1, 1, 0, F, kcol, rows, 1.0f, dz, cc, 0.0f, pk);
        if (c->use_bias)
            ember__column_sums(pk + kn, dz, rows, F);
        if (!dx)
            continue;
        ember__gemm(1, 0, 1, rows, kcol, F, 1.0f, dz, l->params, 0.0f, cc);
        ember__col2im(g, cc, nb, dx + b0 * nin, 1);
    }
    /* chunk partials in chunk order: the same sums for any thread count */
    float *dk = l->grads, *db = c->use_bias ? l->grads + kn : NULL;
    for (int64_t ch = 0; ch < nch; ch++) {
        const float *pk = parts + ch * (kn + F);
        for (int64_t q = 0; q < kcol; q++)
            for (int64_t f = 0; f < F; f++)
                dk[q * F + f] += pk[f * kcol + q];
        for (int64_t f = 0; db && f < F; f++)
            db[f] += pk[kn + f];
    }
}

static void conv_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    conv2d_config *c = l->config;
    const ember_conv_geom *g = &c->g;
    int64_t F = c->filters, kcol = g->kh * g->kw * g->C, rows = B * g->OH * g->OW;
    const float *bias = c->use_bias ? l->params + kcol * F : NULL;
    int relu = c->activation == EMBER_ACT_RELU && !l->dy_is_preact;
    if (c->algo == CONV_IM2COL) {
        fwd_chunks(l, y, x, B, ctx);
        return;
    }
    if (c->algo == CONV_DIRECT) {
        ember__conv_direct_fwd(g, F, x, l->params, bias, relu, B, y, ctx->threads);
        if (relu || c->activation == EMBER_ACT_LINEAR)
            return;
    } else {
        const float *cols = x;
        if (c->algo == CONV_IM2COL) {
            float *cb = cols_of(l, B);
            ember__im2col(g, x, B, cb, ctx->threads);
            cols = cb;
        }
        ember__gemm(ctx->threads, 0, 0, rows, F, kcol, 1.0f, cols, l->params, 0.0f, y);
        if (relu) {
            bias_relu(y, bias, rows, F, ctx->threads);
            return;
        }
        if (bias)
            ember__bias_add(y, bias, rows, F, ctx->threads);
        if (c->activation == EMBER_ACT_LINEAR)
            return;
    }
    if (l->dy_is_preact)
        memcpy(l->scratch, y, (size_t)(rows * F) * sizeof *y);
    ember__act_forward(c->activation, y, y, rows, F);
}

static void conv_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                     int64_t B, const ember_step_ctx *ctx)
{
    conv2d_config *c = l->config;
    const ember_conv_geom *g = &c->g;
    int64_t F = c->filters, kcol = g->kh * g->kw * g->C, rows = B * g->OH * g->OW;
    if (c->algo == CONV_DIRECT) {
        /* the kernel masks ReLU and sums the bias per example itself */
        int relu = c->activation == EMBER_ACT_RELU && !l->dy_is_preact;
        const float *d = dy;
        if (!relu && c->activation != EMBER_ACT_LINEAR && !l->dy_is_preact) {
            ember__act_backward(c->activation, l->scratch, dy, y, rows, F);
            d = l->scratch;
        }
        ember__conv_direct_bwd(g, F, x, l->params, d, relu ? y : NULL, l->scratch, B, dx,
                               l->grads, c->use_bias ? l->grads + kcol * F : NULL, cols_of(l, B),
                               ctx->threads);
        return;
    }
    if (c->algo == CONV_IM2COL) {
        bwd_chunks(l, dx, dy, y, B, ctx);
        return;
    }
    const float *dz = dy;
    int bias_done = 0;
    if (c->activation == EMBER_ACT_RELU && !l->dy_is_preact) {
        relu_grad(l->scratch, c->use_bias ? l->grads + kcol * F : NULL, parts_of(l, B), dy, y,
                  rows, F, ctx->threads);
        dz = l->scratch;
        bias_done = 1;
    } else if (c->activation != EMBER_ACT_LINEAR && !l->dy_is_preact) {
        ember__act_backward(c->activation, l->scratch, dy, y, rows, F);
        dz = l->scratch;
    }
    if (c->use_bias && !bias_done)
        ember__bias_grad(l->grads + kcol * F, dz, rows, F, ctx->threads);
    float *cols = c->algo == CONV_IM2COL ? cols_of(l, B) : NULL;
    /* dK^T = dz^T cols (F x kcol) ran faster than dK = cols^T dz in
     * bench/bench_cnn_layers; it is added to dK transposed (kcol * F adds) */
    ember__gemm(ctx->threads, 1, 0, F, kcol, rows, 1.0f, dz, cols ? cols : x, 0.0f, c->dkt);
    for (int64_t q = 0; q < kcol; q++)
        for (int64_t f = 0; f < F; f++)
            l->grads[q * F + f] += c->dkt[f * kcol + q];
    if (!dx)
        return;
    if (!cols) {
        ember__gemm(ctx->threads, 0, 1, rows, kcol, F, 1.0f, dz, l->params, 0.0f, dx);
        return;
    }
    ember__gemm(ctx->threads, 0, 1, rows, kcol, F, 1.0f, dz, l->params, 0.0f, cols);
    ember__col2im(g, cols, B, dx, ctx->threads);
}

static int conv_describe(const ember_layer *l, char *buf, size_t cap)
{
    const conv2d_config *c = l->config;
    return snprintf(buf, cap,
                    "{\"type\":\"conv2d\",\"filters\":%lld,\"kernel_size\":[%lld,%lld],"
                    "\"strides\":[%lld,%lld],\"padding\":\"%s\",\"activation\":\"%s\","
                    "\"kernel_init\":\"%s\",\"use_bias\":%s}",
                    (long long)c->filters, (long long)c->kh, (long long)c->kw, (long long)c->sh,
                    (long long)c->sw, c->same ? "same" : "valid", ember__act_name(c->activation),
                    ember__init_name(c->kernel_init), c->use_bias ? "true" : "false");
}

static void conv_destroy(ember_layer *l)
{
    conv2d_config *c = l->config;
    free(c->dkt);
    c->dkt = NULL;
}

const ember_layer_ops ember__conv2d_ops = {"conv2d", conv_build,    conv_init,   conv_fwd,
                                           conv_bwd, conv_describe, conv_destroy};
