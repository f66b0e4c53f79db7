/*
 * layer_check.h - the one-layer gradient check shared by test_layers.c and
 * test_conv.c (static functions: each test includes it once, after check.h).
 * check_layer(name, m, B, training) checks the first layer of compiled-able
 * model m: d/dx and d/dparams of f = sum(w . y(x, params)) by central
 * differences, and that parameter gradients accumulate over two backwards.
 */
#ifndef EMBER_LAYER_CHECK_H
#define EMBER_LAYER_CHECK_H

#include "gradcheck.h"
#include "model/model.h"

#include <stdlib.h>

static void fill_uniform(float *v, int64_t n, ember_rng *r, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * ember__rng_uniform(r);
}

/* ---- one layer: f = sum(w . y(x, params)), gradient w.r.t. x and params ---- */

typedef struct layer_case {
    ember_layer *l;
    float *x, *y, *w, *dx, *dy;
    int64_t B;
    ember_step_ctx ctx;
} layer_case;

static double layer_f(void *p)
{
    layer_case *c = p;
    c->l->ops->forward(c->l, c->y, c->x, c->B, &c->ctx);
    double s = 0.0;
    for (int64_t i = 0; i < c->B * c->l->out_size; i++)
        s += (double)c->w[i] * c->y[i];
    return s;
}

static void check_layer(const char *name, ember_model *m, int64_t B, int training)
{
    ember_error err;
    ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0.0f, 0);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_MSE, &err), &err);
    CHECK_OK(ember__model_arena(m, B, 0, &err), &err);
    ember_layer *l = m->layers[0];
    layer_case c = {l, NULL, NULL, NULL, NULL, NULL, B, {training, ember__rng_stream(7, 3, 0, 0), 1, NULL, NULL, NULL, 0}};
    int64_t nin = B * l->in_size, nout = B * l->out_size;
    c.x = malloc(nin * sizeof(float));
    c.dx = malloc(nin * sizeof(float));
    c.y = m->acts[1];
    c.w = malloc(nout * sizeof(float));
    c.dy = malloc(nout * sizeof(float));
    ember_rng r = ember__rng_stream(1234, 9, 0, 0);
    fill_uniform(c.x, nin, &r, -1.5f, 1.5f);
    fill_uniform(c.w, nout, &r, -1.0f, 1.0f);
    /* non-zero biases so they matter */
    fill_uniform(l->params, l->param_count, &r, -0.5f, 0.5f);
    layer_f(&c);
    memcpy(c.dy, c.w, nout * sizeof(float));
    memset(l->grads, 0, l->param_count * sizeof(float));
    l->ops->backward(l, c.dx, c.dy, c.x, c.y, B, &c.ctx);
    char buf[96];
    snprintf(buf, sizeof buf, "%s d/dx", name);
    CHECK(gradcheck_report(buf, gradcheck(c.x, c.dx, nin, 0, layer_f, &c)));
    if (l->param_count) {
        snprintf(buf, sizeof buf, "%s d/dparams", name);
        CHECK(gradcheck_report(buf, gradcheck(l->params, l->grads, l->param_count, 0, layer_f, &c)));
        /* gradients accumulate: a second backward doubles them */
        float *g1 = malloc(l->param_count * sizeof(float));
        memcpy(g1, l->grads, l->param_count * sizeof(float));
        layer_f(&c);
        l->ops->backward(l, c.dx, c.dy, c.x, c.y, B, &c.ctx);
        int64_t bad = 0;
        for (int64_t i = 0; i < l->param_count; i++)
            bad += fabsf(l->grads[i] - 2 * g1[i]) > 1e-5f * (1 + fabsf(g1[i]));
        CHECK_MSG(bad == 0, "%s: %lld parameter gradients did not accumulate", name, (long long)bad);
        free(g1);
    }
    free(c.x);
    free(c.dx);
    free(c.w);
    free(c.dy);
}

#endif
