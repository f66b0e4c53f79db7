/*
 * dropout.c - inverted dropout. Training: y = x * keep / (1 - rate) where
 * keep = [u >= rate] and u is uniform from the step's dropout stream, element
 * (layer index, row, column) drawn directly by counter, so the mask does not
 * depend on thread count and backward recomputes it instead of storing it.
 * Evaluation: y = x.
 */
#include "layer.h"

#include <stdio.h>
#include <string.h>

#define PAR_MIN_ELEMS 16384
/* Counter offset between layers' masks: 2^40 elements per layer per step. */
#define LAYER_COUNTER_STRIDE (1ULL << 40)

static ember_status drop_build(ember_layer *l, ember_error *err)
{
    dropout_config *c = l->config;
    if (!(c->rate >= 0.0f && c->rate < 1.0f))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "dropout rate must be in [0, 1), got %g",
                          (double)c->rate);
    l->out_rank = l->in_rank;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    l->out_size = l->in_size;
    l->param_count = 0;
    l->out_activation = EMBER_ACT_LINEAR;
    return EMBER_OK;
}

static void drop_init(ember_layer *l, ember_rng *rng)
{
    (void)l;
    (void)rng;
}

static void apply_mask(const ember_layer *l, float *out, const float *in, int64_t n,
                       const ember_step_ctx *ctx)
{
    const dropout_config *c = l->config;
    float rate = c->rate, scale = 1.0f / (1.0f - rate);
    uint64_t base = (uint64_t)l->index * LAYER_COUNTER_STRIDE + (uint64_t)(ctx->row0 * l->in_size);
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float u = ember__rng_uniform_at(&ctx->dropout_rng, base + (uint64_t)i);
        out[i] = u >= rate ? in[i] * scale : 0.0f;
    }
}

static void drop_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    dropout_config *c = l->config;
    int64_t n = B * l->in_size;
    if (!ctx->training || c->rate == 0.0f) {
        if (y != x)
            memcpy(y, x, (size_t)n * sizeof *y);
        return;
    }
    apply_mask(l, y, x, n, ctx);
}

static void drop_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                     int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    (void)y;
    if (!dx)
        return;
    dropout_config *c = l->config;
    int64_t n = B * l->in_size;
    if (!ctx->training || c->rate == 0.0f) {
        memcpy(dx, dy, (size_t)n * sizeof *dx);
        return;
    }
    apply_mask(l, dx, dy, n, ctx);
}

static int drop_describe(const ember_layer *l, char *buf, size_t cap)
{
    const dropout_config *c = l->config;
    return snprintf(buf, cap, "{\"type\":\"dropout\",\"rate\":%.9g}", (double)c->rate);
}

static void drop_destroy(ember_layer *l) { (void)l; }

const ember_layer_ops ember__dropout_ops = {"dropout", drop_build,    drop_init,   drop_fwd,
                                            drop_bwd,  drop_describe, drop_destroy};
