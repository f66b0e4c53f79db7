/*
 * conv2d.c - Conv2D on NHWC data: y = act(conv(x, K) + b).
 *   x [B][H][W][C], K [kh][kw][C][F] (Keras' kernel layout), b [F],
 *   y [B][OH][OW][F]. Parameters: K first, then b.
 * Algorithm: im2col + one sgemm over the whole batch (kernels/conv.h):
 *   cols [B*OH*OW][kh*kw*C] = im2col(x);  y = cols K  (K as a (kh*kw*C) x F
 *   matrix).  A 1x1 convolution with stride 1 and "valid" padding skips
 *   im2col: x itself is the column matrix.
 * Backward: dz = dy * act'(y); dK += cols^T dz; db += column sums of dz;
 *   dcols = dz K^T written over the cols buffer (no longer needed), then
 *   dx = col2im(dcols). The forward's cols stay in the layer's scratch until
 *   backward, so nothing is recomputed and nothing is allocated per step.
 * Scratch per example: [OH*OW*F] for dz (or the logits when fused with the
 * loss, as in Dense), then [OH*OW*kh*kw*C] for the columns.
 * Initialisation: He uniform by default (fan_in = kh*kw*C), zero bias.
 */
#include "layer.h"
#include "kernels/gemm.h"

#include <stdio.h>
#include <string.h>

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
    c->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && !c->same;
    l->out_rank = 3;
    l->out_shape[0] = g->OH;
    l->out_shape[1] = g->OW;
    l->out_shape[2] = c->filters;
    l->out_shape[3] = 1;
    l->out_size = ys;
    l->param_count = kn + (c->use_bias ? c->filters : 0);
    l->kernel_count = kn;
    l->out_activation = c->activation;
    l->scratch_per_row = (c->activation == EMBER_ACT_LINEAR ? 0 : ys) + (c->direct ? 0 : cs);
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

/* The columns buffer of this batch (after the dz part of the scratch). */
static float *cols_of(const ember_layer *l, int64_t B)
{
    const conv2d_config *c = l->config;
    return l->scratch + (c->activation == EMBER_ACT_LINEAR ? 0 : B * l->out_size);
}

static void conv_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    conv2d_config *c = l->config;
    const ember_conv_geom *g = &c->g;
    int64_t F = c->filters, kcol = g->kh * g->kw * g->C, rows = B * g->OH * g->OW;
    const float *cols = x;
    if (!c->direct) {
        float *cb = cols_of(l, B);
        ember__im2col(g, x, B, cb, ctx->threads);
        cols = cb;
    }
    ember__gemm(ctx->threads, 0, 0, rows, F, kcol, 1.0f, cols, l->params, 0.0f, y);
    if (c->use_bias)
        ember__bias_add(y, l->params + kcol * F, rows, F, ctx->threads);
    if (c->activation != EMBER_ACT_LINEAR) {
        if (l->dy_is_preact)
            memcpy(l->scratch, y, (size_t)(rows * F) * sizeof *y);
        ember__act_forward(c->activation, y, y, rows, F);
    }
}

static void conv_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                     int64_t B, const ember_step_ctx *ctx)
{
    conv2d_config *c = l->config;
    const ember_conv_geom *g = &c->g;
    int64_t F = c->filters, kcol = g->kh * g->kw * g->C, rows = B * g->OH * g->OW;
    const float *dz = dy;
    if (c->activation != EMBER_ACT_LINEAR && !l->dy_is_preact) {
        ember__act_backward(c->activation, l->scratch, dy, y, rows, F);
        dz = l->scratch;
    }
    float *cols = c->direct ? NULL : cols_of(l, B);
    ember__gemm(ctx->threads, 1, 0, kcol, F, rows, 1.0f, c->direct ? x : cols, dz, 1.0f, l->grads);
    if (c->use_bias)
        ember__bias_grad(l->grads + kcol * F, dz, rows, F, ctx->threads);
    if (!dx)
        return;
    if (c->direct) {
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

static void conv_destroy(ember_layer *l) { (void)l; }

const ember_layer_ops ember__conv2d_ops = {"conv2d", conv_build,    conv_init,   conv_fwd,
                                           conv_bwd, conv_describe, conv_destroy};
