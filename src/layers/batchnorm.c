/*
 * batchnorm.c - BatchNormalization over the last axis (features, or the
 * channels of NHWC images), as Keras' BatchNormalization(axis=-1).
 * Parameters [4][C]: gamma, beta (trained), moving_mean, moving_variance
 * (not trained: their gradients stay zero, so every optimizer leaves them
 * exactly as forward set them, and they are saved with the model).
 * Training: over the R = batch * (other axes) rows,
 *   mean = sum x / R, var = sum (x - mean)^2 / R (biased, as Keras),
 *   xhat = (x - mean) / sqrt(var + eps), y = gamma xhat + beta,
 *   moving = momentum * moving + (1 - momentum) * batch statistic.
 * Evaluation: y = gamma (x - moving_mean) / sqrt(moving_variance + eps) + beta.
 * Backward (training): dgamma = sum dy xhat, dbeta = sum dy,
 *   dx = gamma / (R sqrt(var + eps)) (R dy - dbeta - xhat dgamma).
 * Sums run over rows in order in double, each channel by one thread, so
 * results do not depend on the thread count. xhat is kept in the scratch.
 */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CBLK 16 /* channels per thread task in the reductions */

static ember_status bn_build(ember_layer *l, ember_error *err)
{
    batchnorm_config *c = l->config;
    if (!(c->momentum >= 0.0f && c->momentum < 1.0f))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "batch_normalization momentum must be in [0, 1), "
                          "got %g", (double)c->momentum);
    if (!(c->epsilon > 0.0f && c->epsilon < 1.0f))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "batch_normalization epsilon must be in (0, 1), "
                          "got %g", (double)c->epsilon);
    if (l->in_rank < 1 || l->in_size < 1 || l->in_shape[l->in_rank - 1] < 1)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "batch_normalization needs a dense input "
                          "(rank >= 1, at least one feature)");
    c->C = l->in_shape[l->in_rank - 1];
    if (c->C > ((int64_t)1 << 28))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "batch_normalization: too many features");
    free(c->invstd);
    free(c->acc);
    c->invstd = malloc((size_t)c->C * sizeof *c->invstd);
    c->acc = malloc((size_t)c->C * 2 * sizeof *c->acc);
    if (!c->invstd || !c->acc)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for batch_normalization");
    l->out_rank = l->in_rank;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    l->out_size = l->in_size;
    l->param_count = 4 * c->C;
    l->kernel_count = 0; /* no L2 decay on gamma/beta, none on the statistics */
    l->out_activation = EMBER_ACT_LINEAR;
    l->scratch_per_row = l->in_size; /* xhat */
    return EMBER_OK;
}

static void bn_init(ember_layer *l, ember_rng *rng)
{
    (void)rng;
    const batchnorm_config *c = l->config;
    int64_t C = c->C;
    for (int64_t i = 0; i < C; i++) {
        l->params[i] = 1.0f;         /* gamma */
        l->params[C + i] = 0.0f;     /* beta */
        l->params[2 * C + i] = 0.0f; /* moving mean */
        l->params[3 * C + i] = 1.0f; /* moving variance */
    }
}

EMBER_CLONES
static void bn_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    batchnorm_config *c = l->config;
    const int64_t C = c->C, R = B * (l->in_size / C), nblk = (C + CBLK - 1) / CBLK;
    const float *gamma = l->params, *beta = l->params + C;
    float *mmean = l->params + 2 * C, *mvar = l->params + 3 * C;
    (void)ctx;
    if (!ctx->training) {
        /* 1/sqrt(var + eps) in this model's scratch (>= C floats), not in the
         * config: models made by ember_model_share predict at the same time */
        float *inv = l->scratch;
        for (int64_t k = 0; k < C; k++)
            inv[k] = 1.0f / sqrtf(mvar[k] + c->epsilon);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (R * C > 65536)
        for (int64_t r = 0; r < R; r++)
            for (int64_t k = 0; k < C; k++)
                y[r * C + k] = gamma[k] * (x[r * C + k] - mmean[k]) * inv[k] + beta[k];
        return;
    }
    double *mean = c->acc, *var = c->acc + C;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (R * C > 65536)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t k0 = blk * CBLK, k1 = k0 + CBLK < C ? k0 + CBLK : C;
        double s[CBLK] = {0}, q[CBLK] = {0};
        for (int64_t r = 0; r < R; r++)
            for (int64_t k = k0; k < k1; k++)
                s[k - k0] += x[r * C + k];
        for (int64_t k = k0; k < k1; k++)
            mean[k] = s[k - k0] / (double)R;
        for (int64_t r = 0; r < R; r++)
            for (int64_t k = k0; k < k1; k++) {
                double d = x[r * C + k] - mean[k];
                q[k - k0] += d * d;
            }
        for (int64_t k = k0; k < k1; k++) {
            var[k] = q[k - k0] / (double)R;
            c->invstd[k] = (float)(1.0 / sqrt(var[k] + (double)c->epsilon));
        }
    }
    float *xhat = l->scratch;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (R * C > 65536)
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < C; k++) {
            float h = (x[r * C + k] - (float)mean[k]) * c->invstd[k];
            xhat[r * C + k] = h;
            y[r * C + k] = gamma[k] * h + beta[k];
        }
    float m = c->momentum;
    for (int64_t k = 0; k < C; k++) {
        mmean[k] = m * mmean[k] + (1.0f - m) * (float)mean[k];
        mvar[k] = m * mvar[k] + (1.0f - m) * (float)var[k];
    }
}

EMBER_CLONES
static void bn_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                   int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    (void)y;
    (void)ctx;
    batchnorm_config *c = l->config;
    const int64_t C = c->C, R = B * (l->in_size / C), nblk = (C + CBLK - 1) / CBLK;
    const float *gamma = l->params, *xhat = l->scratch;
    float *dgamma = l->grads, *dbeta = l->grads + C;
    double *sg = c->acc, *sb = c->acc + C;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (R * C > 65536)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t k0 = blk * CBLK, k1 = k0 + CBLK < C ? k0 + CBLK : C;
        double g[CBLK] = {0}, b[CBLK] = {0};
        for (int64_t r = 0; r < R; r++)
            for (int64_t k = k0; k < k1; k++) {
                g[k - k0] += (double)dy[r * C + k] * xhat[r * C + k];
                b[k - k0] += dy[r * C + k];
            }
        for (int64_t k = k0; k < k1; k++) {
            sg[k] = g[k - k0];
            sb[k] = b[k - k0];
            dgamma[k] += (float)g[k - k0];
            dbeta[k] += (float)b[k - k0];
        }
    }
    if (!dx)
        return;
    const float invR = 1.0f / (float)R;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (R * C > 65536)
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < C; k++) {
            float s = gamma[k] * c->invstd[k];
            dx[r * C + k] = s * (dy[r * C + k] - ((float)sb[k] + xhat[r * C + k] * (float)sg[k]) * invR);
        }
}

static int bn_describe(const ember_layer *l, char *buf, size_t cap)
{
    const batchnorm_config *c = l->config;
    return snprintf(buf, cap, "{\"type\":\"batch_normalization\",\"momentum\":%.9g,"
                    "\"epsilon\":%.9g}", (double)c->momentum, (double)c->epsilon);
}

static void bn_destroy(ember_layer *l)
{
    batchnorm_config *c = l->config;
    free(c->invstd);
    free(c->acc);
    c->invstd = NULL;
    c->acc = NULL;
}

const ember_layer_ops ember__batchnorm_ops = {"batch_normalization", bn_build, bn_init, bn_fwd,
                                              bn_bwd, bn_describe, bn_destroy};
