/*
 * loss.h - losses over a mini-batch of outputs p[B][K] against targets.
 * Targets are dense t[B][K] (one-hot, probabilities, regression values) or,
 * when `sparse`, class ids t[B] stored as exact integers in float.
 * Every loss is a mean over the batch (and, for binary cross-entropy and
 * MSE, over the K outputs too), as in Keras.
 */
#ifndef EMBER_LOSS_H
#define EMBER_LOSS_H

#include "core.h"

/* Keras' clipping of probabilities for the non-fused cross-entropies. */
#define EMBER_PROB_EPSILON 1e-7f

typedef struct ember_loss_batch {
    ember_loss_kind kind;
    int fused;            /* output activation fused with the loss: logits given */
    const float *p;       /* [B][K] model outputs (probabilities for CE) */
    const float *logits;  /* [B][K] pre-activation, required when fused */
    const float *t;       /* targets, [B][K] or [B] when sparse */
    int sparse;
    int64_t B, K;
    const float *weights; /* [B] per-example weights, or NULL (all 1) */
    int64_t norm_rows;    /* rows of the batch mean: 0 means B. A rank of a
                             distributed fit holds part of a mini-batch and
                             divides by the whole mini-batch's rows */
} ember_loss_batch;

/* row_loss[B]: each row's loss (its share before the batch mean), times its
 * weight when weights are given (the gradient rows are scaled alike).
 * dout[B][K] (may be NULL): gradient of the batch-mean loss with respect to
 * p, or to the logits when fused. *correct: rows (CCE) or elements (BCE)
 * predicted right; 0 for MSE. */
void ember__loss_compute(const ember_loss_batch *lb, float *row_loss, float *dout,
                         int64_t *correct);

/* Can this loss fuse with this output activation? */
int ember__loss_fusable(ember_loss_kind kind, ember_activation out_act);

const char *ember__loss_name(ember_loss_kind kind);
int ember__loss_from_name(const char *name);

#endif
