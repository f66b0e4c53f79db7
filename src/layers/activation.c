/*
 * activation.c - element-wise and softmax activations, used inside Dense and
 * as the stand-alone Activation layer.
 *   linear  y = x                   dy/dx = 1
 *   sigmoid y = 1/(1+exp(-x))       dy/dx = y(1-y)
 *   tanh    y = tanh(x)             dy/dx = 1-y^2
 *   relu    y = max(0,x)            dy/dx = [y > 0]  (0 at the kink)
 *   softmax y_i = exp(x_i-m)/sum_j exp(x_j-m), m = max_j x_j (stable)
 *           dx_i = y_i (dy_i - sum_j dy_j y_j)
 * Derivatives are computed from the output alone, so a layer keeps only y.
 */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN_ELEMS 16384

static float sigmoidf(float x)
{
    /* Stable for large |x|: never exp of a large positive number. */
    if (x >= 0.0f) {
        float e = expf(-x);
        return 1.0f / (1.0f + e);
    }
    float e = expf(x);
    return e / (1.0f + e);
}

static void softmax_row(float *y, const float *x, int64_t C)
{
    float m = x[0];
    for (int64_t j = 1; j < C; j++)
        m = x[j] > m ? x[j] : m;
    double sum = 0.0;
    for (int64_t j = 0; j < C; j++) {
        float e = expf(x[j] - m);
        y[j] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < C; j++)
        y[j] *= inv;
}

void ember__act_forward(ember_activation a, float *y, const float *x, int64_t B, int64_t C)
{
    int64_t n = B * C;
    switch (a) {
    case EMBER_ACT_LINEAR:
        if (y != x)
            memcpy(y, x, (size_t)n * sizeof *y);
        break;
    case EMBER_ACT_RELU:
        EMBER_PAR_FOR_IF(n > PAR_MIN_ELEMS, for (int64_t i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;);
        break;
    case EMBER_ACT_SIGMOID:
        EMBER_PAR_FOR_IF(n > PAR_MIN_ELEMS, for (int64_t i = 0; i < n; i++)
            y[i] = sigmoidf(x[i]););
        break;
    case EMBER_ACT_TANH:
        EMBER_PAR_FOR_IF(n > PAR_MIN_ELEMS, for (int64_t i = 0; i < n; i++)
            y[i] = tanhf(x[i]););
        break;
    case EMBER_ACT_SOFTMAX:
        EMBER_PAR_FOR_IF(n > PAR_MIN_ELEMS, for (int64_t b = 0; b < B; b++)
            softmax_row(y + b * C, x + b * C, C););
        break;
    }
}

void ember__act_backward(ember_activation a, float *dx, const float *dy, const float *y, int64_t B,
                         int64_t C)
{
    int64_t n = B * C;
    switch (a) {
    case EMBER_ACT_LINEAR:
        if (dx != dy)
            memcpy(dx, dy, (size_t)n * sizeof *dx);
        break;
    case EMBER_ACT_RELU:
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t i = 0; i < n; i++) {
            /* Load dy unconditionally so this is a select, which vectorises;
             * `y > 0 ? dy[i] : 0` compiled to a mispredicted branch (bench). */
            float g = dy[i];
            dx[i] = y[i] > 0.0f ? g : 0.0f;
        }
        break;
    case EMBER_ACT_SIGMOID:
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t i = 0; i < n; i++)
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case EMBER_ACT_TANH:
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t i = 0; i < n; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case EMBER_ACT_SOFTMAX:
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t b = 0; b < B; b++) {
            const float *yr = y + b * C, *dyr = dy + b * C;
            float *dxr = dx + b * C;
            double dot = 0.0;
            for (int64_t j = 0; j < C; j++)
                dot += (double)dyr[j] * yr[j];
            for (int64_t j = 0; j < C; j++)
                dxr[j] = yr[j] * (dyr[j] - (float)dot);
        }
        break;
    }
}

static const char *const act_names[] = {"linear", "sigmoid", "tanh", "relu", "softmax"};

const char *ember__act_name(ember_activation a)
{
    return (unsigned)a < sizeof act_names / sizeof *act_names ? act_names[a] : "?";
}

int ember__act_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof act_names / sizeof *act_names; i++)
        if (strcmp(name, act_names[i]) == 0)
            return (int)i;
    return -1;
}

static const char *const init_names[] = {"default", "glorot_uniform", "he_uniform", "he_normal",
                                         "zeros"};

const char *ember__init_name(ember_init i)
{
    return (unsigned)i < sizeof init_names / sizeof *init_names ? init_names[i] : "?";
}

int ember__init_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof init_names / sizeof *init_names; i++)
        if (strcmp(name, init_names[i]) == 0)
            return (int)i;
    return -1;
}

/* ---- the stand-alone Activation layer ---- */

static ember_status act_build(ember_layer *l, ember_error *err)
{
    (void)err;
    activation_config *c = l->config;
    l->out_rank = l->in_rank;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    l->out_size = l->in_size;
    l->param_count = 0;
    l->out_activation = c->activation;
    /* softmax works over the last axis */
    return EMBER_OK;
}

static void act_init(ember_layer *l, ember_rng *rng)
{
    (void)l;
    (void)rng;
}

static int64_t last_axis(const ember_layer *l) { return l->in_shape[l->in_rank - 1]; }

static void act_fwd(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx)
{
    (void)ctx;
    activation_config *c = l->config;
    int64_t C = last_axis(l);
    ember__act_forward(c->activation, y, x, B * (l->in_size / C), C);
}

static void act_bwd(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                    int64_t B, const ember_step_ctx *ctx)
{
    (void)x;
    (void)ctx;
    if (!dx)
        return;
    activation_config *c = l->config;
    int64_t C = last_axis(l);
    ember_activation a = l->dy_is_preact ? EMBER_ACT_LINEAR : c->activation;
    ember__act_backward(a, dx, dy, y, B * (l->in_size / C), C);
}

static int act_describe(const ember_layer *l, char *buf, size_t cap)
{
    const activation_config *c = l->config;
    return snprintf(buf, cap, "{\"type\":\"activation\",\"activation\":\"%s\"}",
                    ember__act_name(c->activation));
}

static void act_destroy(ember_layer *l) { (void)l; }

const ember_layer_ops ember__activation_ops = {"activation", act_build, act_init, act_fwd,
                                               act_bwd,      act_describe, act_destroy};
