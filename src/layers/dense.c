/*
 * dense.c - fully connected layer y = act(x W + b).
 *   x [B][in], W [in][out] (Keras' kernel layout), b [out], y [B][out].
 * Parameters sit in one view: W first (in*out floats), then b (out floats).
 * Forward: one sgemm, then bias and activation over the output.
 * Backward: dz = dy * act'(y) (skipped when dy is already dz, the fused
 * softmax/sigmoid + cross-entropy case), dW += x^T dz, db += sum_b dz,
 * dx = dz W^T (not computed for the first layer).
 * When the model fuses the output activation with the loss, forward also
 * keeps z (the logits) in the layer's scratch, so the loss can use a stable
 * log-softmax. Bias gradients are summed over the batch in a fixed order per
 * column, so results do not depend on the thread count.
 */
#include "layer.h"
#include "kernels/gemm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PAR_MIN_ELEMS 16384

EMBER_CLONES
void ember__bias_add(float *y, const float *b, int64_t rows, int64_t cols, int threads)
{
    (void)threads;
    EMBER_PAR_FOR_IF_T(rows * cols > PAR_MIN_ELEMS, for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * cols;
        for (int64_t j = 0; j < cols; j++)
            yr[j] += b[j];
    });
}

EMBER_CLONES
void ember__bias_grad(float *db, const float *dz, int64_t rows, int64_t cols, int threads)
{
    /* Columns in blocks per thread; each column summed over rows in order. */
    enum { COLS = 64 };
    int64_t nblk = (cols + COLS - 1) / COLS;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (rows * cols > PAR_MIN_ELEMS && nblk > 1)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t j0 = blk * COLS, j1 = j0 + COLS < cols ? j0 + COLS : cols;
        float acc[COLS];
        for (int64_t j = j0; j < j1; j++)
            acc[j - j0] = 0.0f;
        for (int64_t r = 0; r < rows; r++) {
            const float *dzr = dz + r * cols;
            for (int64_t j = j0; j < j1; j++)
                acc[j - j0] += dzr[j];
        }
        for (int64_t j = j0; j < j1; j++)
            db[j] += acc[j - j0];
    }
}

static ember_status dense_build(ember_layer *l, ember_error *err)
{
    dense_config *c = l->config;
    if (c->units <= 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "dense units must be > 0, got %lld",
                          (long long)c->units);
    if (l->in_rank != 1)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE,
                          "dense expects a rank-1 input (features), got rank %d; flatten first",
                          l->in_rank);
    int64_t w;
    if (!ember__mul_i64(l->in_size, c->units, &w) || w + c->units < w)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "dense parameter count overflows");
    l->out_rank = 1;
    l->out_shape[0] = c->units;
    for (int i = 1; i < EMBER_MAX_DIMS; i++)
        l->out_shape[i] = 1;
    l->out_size = c->units;
    l->param_count = w + (c->use_bias ? c->units : 0);
    l->kernel_count = w;
    l->out_activation = c->activation;
    /* scratch: dz for backward (or z, the logits, when fused) */
    l->scratch_per_row = c->activation == EMBER_ACT_LINEAR ? 0 : c->units;
    return EMBER_OK;
}

void ember__init_kernel(ember_init init, float *W, int64_t n, int64_t fan_in, int64_t fan_out,
                        ember_rng *rng)
{
    switch (init) {
    case EMBER_INIT_DEFAULT:
    case EMBER_INIT_GLOROT_UNIFORM: {
        float lim = sqrtf(6.0f / (float)(fan_in + fan_out));
        for (int64_t i = 0; i < n; i++)
            W[i] = (2.0f * ember__rng_uniform(rng) - 1.0f) * lim;
        break;
    }
    case EMBER_INIT_HE_UNIFORM: {
        float lim = sqrtf(6.0f / (float)fan_in);
        for (int64_t i = 0; i < n; i++)
            W[i] = (2.0f * ember__rng_uniform(rng) - 1.0f) * lim;
        break;
    }
    case EMBER_INIT_HE_NORMAL: {
        /* Keras he_normal: truncated normal (redraw beyond 2 sigma), stddev
         * sqrt(2/fan_in) / 0.8796 to undo the truncation's variance loss. */
        float sd = sqrtf(2.0f / (float)fan_in) / 0.87962566103423978f;
        for (int64_t i = 0; i < n; i++) {
            float z;
            do {
                z = ember__rng_normal(rng);
            } while (fabsf(z) > 2.0f);
            W[i] = z * sd;
        }
        break;
    }
    case EMBER_INIT_ZEROS:
        memset(W, 0, (size_t)n * sizeof *W);
        break;
    }
}

static void dense_init(ember_layer *l, ember_rng *rng)
{
    dense_config *c = l->config;
    int64_t in = l->in_size, out = c->units, nw = in * out;
    ember__init_kernel(c->kernel_init, l->params, nw, in, out, rng);
    if (c->use_bias)
        memset(l->params + nw, 0, (size_t)out * sizeof(float));
}

static void dense_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    dense_config *c = l->config;
    int64_t in = l->in_size, out = c->units;
    const float *W = l->params;
    ember__gemm(ctx->threads, 0, 0, B, out, in, 1.0f, x, W, 0.0f, y);
    if (c->use_bias)
        ember__bias_add(y, W + in * out, B, out, ctx->threads);
    if (c->activation != EMBER_ACT_LINEAR) {
        if (l->dy_is_preact && l->scratch) /* keep the logits for the fused loss */
            memcpy(l->scratch, y, (size_t)(B * out) * sizeof *y);
        ember__act_forward(c->activation, y, y, B, out);
    }
}

static void dense_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                      int64_t B, const ember_step_ctx *ctx)
{
    dense_config *c = l->config;
    int64_t in = l->in_size, out = c->units;
    const float *dz = dy;
    if (c->activation != EMBER_ACT_LINEAR && !l->dy_is_preact) {
        ember__act_backward(c->activation, l->scratch, dy, y, B, out);
        dz = l->scratch;
    }
    float *dW = l->grads;
    ember__gemm(ctx->threads, 1, 0, in, out, B, 1.0f, x, dz, 1.0f, dW);
    if (c->use_bias)
        ember__bias_grad(dW + in * out, dz, B, out, ctx->threads);
    if (dx)
        ember__gemm(ctx->threads, 0, 1, B, in, out, 1.0f, dz, l->params, 0.0f, dx);
}

static int dense_describe(const ember_layer *l, char *buf, size_t cap)
{
    const dense_config *c = l->config;
    return snprintf(buf, cap,
                    "{\"type\":\"dense\",\"units\":%lld,\"activation\":\"%s\","
                    "\"kernel_init\":\"%s\",\"use_bias\":%s}",
                    (long long)c->units, ember__act_name(c->activation),
                    ember__init_name(c->kernel_init), c->use_bias ? "true" : "false");
}

static void dense_destroy(ember_layer *l) { (void)l; }

const ember_layer_ops ember__dense_ops = {"dense",   dense_build,    dense_init,   dense_fwd,
                                          dense_bwd, dense_describe, dense_destroy};
