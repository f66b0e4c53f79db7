/*
 * sgd.c - optimizer state, validation, and SGD with optional momentum and
 * Nesterov momentum (formulas in optim.h).
 */
#include "optim.h"

#include <math.h>
#include <string.h>

#define PAR_MIN_ELEMS 32768

void ember__adam_update(ember_optim *o, float *w, const float *g, int64_t off, int64_t n);
float ember__adam_step_size(const ember_optim *o);

ember_optimizer_config ember_optimizer_adam(float learning_rate)
{
    ember_optimizer_config c;
    memset(&c, 0, sizeof c);
    c.kind = EMBER_OPT_ADAM;
    c.learning_rate = learning_rate;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.epsilon = 1e-7f;
    return c;
}

ember_optimizer_config ember_optimizer_sgd(float learning_rate, float momentum, int nesterov)
{
    ember_optimizer_config c;
    memset(&c, 0, sizeof c);
    c.kind = EMBER_OPT_SGD;
    c.learning_rate = learning_rate;
    c.momentum = momentum;
    c.nesterov = nesterov;
    return c;
}

ember_status ember__optim_validate(const ember_optimizer_config *c, ember_error *err)
{
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "optimizer config is NULL");
    if (c->kind != EMBER_OPT_SGD && c->kind != EMBER_OPT_ADAM)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "optimizer kind %d is unknown", (int)c->kind);
    if (!(c->learning_rate > 0.0f) || !isfinite(c->learning_rate))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "optimizer learning_rate must be > 0, got %g",
                          (double)c->learning_rate);
    if (!(c->weight_decay >= 0.0f) || !isfinite(c->weight_decay))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "optimizer weight_decay must be >= 0, got %g",
                          (double)c->weight_decay);
    if (!(c->clip_norm >= 0.0f) || !isfinite(c->clip_norm))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "optimizer clip_norm must be >= 0 (0 = off), got %g",
                          (double)c->clip_norm);
    if (c->kind == EMBER_OPT_SGD) {
        if (!(c->momentum >= 0.0f && c->momentum < 1.0f))
            return EMBER_FAIL(err, EMBER_ERR_ARG, "sgd momentum must be in [0, 1), got %g",
                              (double)c->momentum);
        if (c->nesterov && c->momentum == 0.0f)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "sgd nesterov needs momentum > 0");
    } else {
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f))
            return EMBER_FAIL(err, EMBER_ERR_ARG, "adam beta1 must be in [0, 1), got %g",
                              (double)c->beta1);
        if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f))
            return EMBER_FAIL(err, EMBER_ERR_ARG, "adam beta2 must be in [0, 1), got %g",
                              (double)c->beta2);
        if (!(c->epsilon > 0.0f))
            return EMBER_FAIL(err, EMBER_ERR_ARG, "adam epsilon must be > 0, got %g",
                              (double)c->epsilon);
    }
    return EMBER_OK;
}

ember_status ember__optim_init(ember_optim *o, const ember_optimizer_config *cfg, int64_t n,
                               ember_error *err)
{
    ember_status s = ember__optim_validate(cfg, err);
    if (s)
        return s;
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    size_t bytes;
    if (!ember__mul_size((size_t)n, sizeof(float), &bytes))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "optimizer state size overflows");
    int need_m = cfg->kind == EMBER_OPT_ADAM || cfg->momentum > 0.0f;
    int need_v = cfg->kind == EMBER_OPT_ADAM;
    if (need_m && !(o->m = ember__calloc(bytes)))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for optimizer state (%zu bytes)",
                          bytes);
    if (need_v && !(o->v = ember__calloc(bytes))) {
        ember__optim_deinit(o);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for optimizer state (%zu bytes)",
                          bytes);
    }
    return EMBER_OK;
}

void ember__optim_deinit(ember_optim *o)
{
    ember__free(o->m);
    ember__free(o->v);
    o->m = o->v = NULL;
}

static void sgd_range(const ember_optim *o, float *w, const float *g, float *u, int64_t n)
{
    float lr = o->cfg.learning_rate, mu = o->cfg.momentum;
    if (!u) {
        for (int64_t i = 0; i < n; i++)
            w[i] -= lr * g[i];
    } else if (o->cfg.nesterov) {
        for (int64_t i = 0; i < n; i++) {
            u[i] = mu * u[i] - lr * g[i];
            w[i] += mu * u[i] - lr * g[i];
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            u[i] = mu * u[i] - lr * g[i];
            w[i] += u[i];
        }
    }
}

static void sgd_update(ember_optim *o, float *w, const float *g, int64_t off, int64_t n)
{
    float *u = o->m ? o->m + off : NULL;
    w += off;
    g += off;
    if (n <= PAR_MIN_ELEMS) { /* small ranges (embedding rows) skip OpenMP */
        sgd_range(o, w, g, u, n);
        return;
    }
    /* element-wise, so any split gives the same result */
    enum { CHUNK = 8192 };
    int64_t nchunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t i0 = c * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
        sgd_range(o, w + i0, g + i0, u ? u + i0 : NULL, len);
    }
}

void ember__optim_begin(ember_optim *o)
{
    o->t++;
    if (o->cfg.kind == EMBER_OPT_ADAM)
        o->adam_a = ember__adam_step_size(o);
}

void ember__optim_update(ember_optim *o, float *w, const float *g, int64_t off, int64_t n)
{
    if (o->cfg.kind == EMBER_OPT_ADAM)
        ember__adam_update(o, w, g, off, n);
    else
        sgd_update(o, w, g, off, n);
}

void ember__optim_step(ember_optim *o, float *w, const float *g)
{
    ember__optim_begin(o);
    ember__optim_update(o, w, g, 0, o->n);
}
