/*
 * adam.c - Adam with Keras' bias correction (formula in optim.h). The step
 * size a_t is computed in double once per step; the element loop is float.
 */
#include "optim.h"

#include <math.h>

#define PAR_MIN_ELEMS 32768

void ember__adam_update(ember_optim *o, float *w, const float *g, int64_t off, int64_t n);
float ember__adam_step_size(const ember_optim *o);

float ember__adam_step_size(const ember_optim *o)
{
    double t = (double)o->t;
    return (float)((double)o->cfg.learning_rate * sqrt(1.0 - pow(o->cfg.beta2, t)) /
                   (1.0 - pow(o->cfg.beta1, t)));
}

static EMBER_CLONES void adam_range(float *restrict w, const float *restrict g,
                                    float *restrict m, float *restrict v, int64_t n, float a,
                                    float b1, float b2, float eps)
{
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= a * m[i] / (sqrtf(v[i]) + eps);
    }
}

void ember__adam_update(ember_optim *o, float *w, const float *g, int64_t off, int64_t n)
{
    float b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.epsilon;
    float a = o->adam_a;
    float *m = o->m + off, *v = o->v + off;
    w += off;
    g += off;
    /* Small ranges (an embedding row) skip OpenMP entirely: even a region
     * whose if() is false costs about a microsecond, and lazy Adam calls
     * this once per touched row. */
    if (n <= PAR_MIN_ELEMS) {
        adam_range(w, g, m, v, n, a, b1, b2, eps);
        return;
    }
    enum { CHUNK = 8192 };
    int64_t nchunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t i0 = c * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
        adam_range(w + i0, g + i0, m + i0, v + i0, len, a, b1, b2, eps);
    }
}
