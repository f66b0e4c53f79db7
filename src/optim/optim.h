/*
 * optim.h - optimizers over one flat parameter array w[n] with gradients g[n]
 * and state arrays of the same length (SGD: velocity; Adam: m, v).
 *   SGD:       w -= lr g
 *   momentum:  u = mu u - lr g;  w += u              (Keras' formulation)
 *   Nesterov:  u = mu u - lr g;  w += mu u - lr g
 *   Adam:      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *              a_t = lr sqrt(1-b2^t) / (1-b1^t);  w -= a_t m / (sqrt(v) + eps)
 *              (the bias correction as Keras/TF apply it: eps is added to
 *              the uncorrected sqrt(v), "epsilon hat" in the Adam paper).
 * Updates are element-wise, so they are identical for any thread count.
 */
#ifndef EMBER_OPTIM_H
#define EMBER_OPTIM_H

#include "core.h"

typedef struct ember_optim {
    ember_optimizer_config cfg;
    int64_t n;
    int64_t t;   /* steps taken */
    float adam_a; /* Adam's a_t for step t, set by ember__optim_begin */
    float *m;    /* SGD velocity or Adam first moment, [n] (NULL for plain SGD) */
    float *v;    /* Adam second moment, [n] */
} ember_optim;

/* Check a config; names the bad field. */
ember_status ember__optim_validate(const ember_optimizer_config *cfg, ember_error *err);
/* Allocate zeroed state for n parameters. */
ember_status ember__optim_init(ember_optim *o, const ember_optimizer_config *cfg, int64_t n,
                               ember_error *err);
void ember__optim_deinit(ember_optim *o);
/* One update of w from g (both [n]) over everything. */
void ember__optim_step(ember_optim *o, float *w, const float *g);
/* The same in two parts, for updates that touch only some ranges (sparse
 * embedding rows, "lazy" Adam): begin counts the step (t += 1); update applies
 * it to w[off..off+n) with state at the same offsets. Ranges not updated keep
 * their weights and their moments. */
void ember__optim_begin(ember_optim *o);
void ember__optim_update(ember_optim *o, float *w, const float *g, int64_t off, int64_t n);

/* Deterministic sum of squares: fixed-size chunks summed in double, chunk
 * results added in order, so the value does not depend on the thread count. */
double ember__sumsq(const float *g, int64_t n);
/* g *= s */
void ember__scale(float *g, int64_t n, float s);
/* g += wd * w */
void ember__axpy(float *g, const float *w, int64_t n, float wd);

#endif
