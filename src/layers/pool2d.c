/*
 * pool2d.c - MaxPool2D, AveragePool2D and GlobalAveragePooling2D on NHWC
 * data (kernels/conv.h has the loops and the padding rules), and Flatten.
 * No parameters. Max pooling keeps, in training, the offset of each
 * output's maximum in its scratch (one int32 per output), so backward is a
 * scatter.
 */
#include "layer.h"

#include <stdio.h>
#include <string.h>

static void no_init(ember_layer *l, ember_rng *rng)
{
    (void)l;
    (void)rng;
}

static void no_destroy(ember_layer *l) { (void)l; }

static ember_status pool_build(ember_layer *l, ember_error *err)
{
    pool2d_config *c = l->config;
    if (l->in_rank != 3)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s expects a rank-3 input (rows, columns, "
                          "channels), got rank %d", l->ops->name, l->in_rank);
    ember_status s = ember__conv_geom(&c->g, l->in_shape[0], l->in_shape[1], l->in_shape[2],
                                      c->ph, c->pw, c->sh, c->sw, c->same, err);
    if (s)
        return s;
    l->out_rank = 3;
    l->out_shape[0] = c->g.OH;
    l->out_shape[1] = c->g.OW;
    l->out_shape[2] = c->g.C;
    l->out_shape[3] = 1;
    l->out_size = c->g.OH * c->g.OW * c->g.C;
    l->param_count = 0;
    l->out_activation = EMBER_ACT_LINEAR;
    if (l->kind == EMBER_LAYER_MAXPOOL2D) {
        if (l->in_size >= INT32_MAX)
            return EMBER_FAIL(err, EMBER_ERR_SHAPE, "max_pool2d: an example of %lld values is "
                              "too large (limit 2^31 - 1)", (long long)l->in_size);
        l->scratch_per_row = l->out_size; /* int32 argmax offsets, one per output */
    }
    return EMBER_OK;
}

static void maxpool_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    const pool2d_config *c = l->config;
    ember__maxpool_fwd(&c->g, x, B, y, ctx->training ? (int32_t *)(void *)l->scratch : NULL,
                       ctx->threads);
}

static void maxpool_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                        int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    (void)y;
    const pool2d_config *c = l->config;
    if (dx)
        ember__maxpool_bwd(&c->g, (const int32_t *)(const void *)l->scratch, dy, B, dx, ctx->threads);
}

static void avgpool_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    const pool2d_config *c = l->config;
    ember__avgpool_fwd(&c->g, x, B, y, ctx->threads);
}

static void avgpool_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                        int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    (void)y;
    const pool2d_config *c = l->config;
    if (dx)
        ember__avgpool_bwd(&c->g, dy, B, dx, ctx->threads);
}

static int pool_describe(const ember_layer *l, char *buf, size_t cap)
{
    const pool2d_config *c = l->config;
    return snprintf(buf, cap,
                    "{\"type\":\"%s\",\"pool_size\":[%lld,%lld],\"strides\":[%lld,%lld],"
                    "\"padding\":\"%s\"}",
                    l->ops->name, (long long)c->ph, (long long)c->pw, (long long)c->sh,
                    (long long)c->sw, c->same ? "same" : "valid");
}

const ember_layer_ops ember__maxpool2d_ops = {"max_pool2d", pool_build,    no_init,   maxpool_fwd,
                                              maxpool_bwd,  pool_describe, no_destroy};
const ember_layer_ops ember__avgpool2d_ops = {"average_pool2d", pool_build,    no_init,
                                              avgpool_fwd,      avgpool_bwd,   pool_describe,
                                              no_destroy};

/* ------------------------------------------------ GlobalAveragePooling2D */

static ember_status gap2d_build(ember_layer *l, ember_error *err)
{
    if (l->in_rank != 3)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "global_average_pooling2d expects a rank-3 "
                          "input (rows, columns, channels), got rank %d", l->in_rank);
    l->out_rank = 1;
    l->out_shape[0] = l->in_shape[2];
    for (int i = 1; i < EMBER_MAX_DIMS; i++)
        l->out_shape[i] = 1;
    l->out_size = l->in_shape[2];
    l->param_count = 0;
    l->out_activation = EMBER_ACT_LINEAR;
    return EMBER_OK;
}

EMBER_CLONES
static void gap2d_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    int64_t P = l->in_shape[0] * l->in_shape[1], C = l->in_shape[2];
    float inv = 1.0f / (float)P;
    (void)ctx;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (B * P * C > 65536)
    for (int64_t b = 0; b < B; b++) {
        float *yb = y + b * C;
        const float *xb = x + b * P * C;
        memset(yb, 0, (size_t)C * sizeof *yb);
        for (int64_t p = 0; p < P; p++)
            for (int64_t c = 0; c < C; c++)
                yb[c] += xb[p * C + c];
        for (int64_t c = 0; c < C; c++)
            yb[c] *= inv;
    }
}

static void gap2d_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                      int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    (void)y;
    (void)ctx;
    if (!dx)
        return;
    int64_t P = l->in_shape[0] * l->in_shape[1], C = l->in_shape[2];
    float inv = 1.0f / (float)P;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (B * P * C > 65536)
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t c = 0; c < C; c++)
                dx[(b * P + p) * C + c] = dy[b * C + c] * inv;
}

static int gap2d_describe(const ember_layer *l, char *buf, size_t cap)
{
    (void)l;
    return snprintf(buf, cap, "{\"type\":\"global_average_pooling2d\"}");
}

const ember_layer_ops ember__gap2d_ops = {"global_average_pooling2d", gap2d_build, no_init,
                                          gap2d_fwd, gap2d_bwd, gap2d_describe, no_destroy};

/* ---------------------------------------------------------------- Flatten */

static ember_status flatten_build(ember_layer *l, ember_error *err)
{
    if (l->in_rank < 1 || l->in_size < 1)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "flatten needs a dense input (rank >= 1), got "
                          "rank %d; HINT: a model of token ids starts with an embedding",
                          l->in_rank);
    l->out_rank = 1;
    l->out_shape[0] = l->in_size;
    for (int i = 1; i < EMBER_MAX_DIMS; i++)
        l->out_shape[i] = 1;
    l->out_size = l->in_size;
    l->param_count = 0;
    l->out_activation = EMBER_ACT_LINEAR;
    return EMBER_OK;
}

/* Row-major data is already flat: (rows, columns, channels) order, as Keras. */
static void flatten_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    (void)ctx;
    memcpy(y, x, (size_t)(B * l->in_size) * sizeof *y);
}

static void flatten_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                        int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    (void)y;
    (void)ctx;
    if (dx)
        memcpy(dx, dy, (size_t)(B * l->in_size) * sizeof *dx);
}

static int flatten_describe(const ember_layer *l, char *buf, size_t cap)
{
    (void)l;
    return snprintf(buf, cap, "{\"type\":\"flatten\"}");
}

const ember_layer_ops ember__flatten_ops = {"flatten",   flatten_build,    no_init, flatten_fwd,
                                            flatten_bwd, flatten_describe, no_destroy};
