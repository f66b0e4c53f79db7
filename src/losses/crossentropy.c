/*
 * crossentropy.c - categorical and binary cross-entropy.
 *   CCE  L = -sum_k t_k log p_k.  Fused with softmax, where a p_k underflowed
 *        it is computed from the logits z as -sum_k t_k (z_k - logsumexp(z)),
 *        so it is never log(0); its gradient with respect to z is
 *        dz_k = p_k sum_j t_j - t_k (= p - t for one-hot rows).
 *        Not fused: p is clipped to [eps, 1-eps] (Keras), gradient -t/p
 *        (0 where clipped).
 *   BCE  L = mean_k -(t log p + (1-t) log(1-p)).  Fused with sigmoid:
 *        max(z,0) - z t + log(1 + exp(-|z|)), gradient (p - t)/K.
 * All gradients are divided by B for the batch mean.
 */
#include "loss.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define PAR_MIN_ROWS 64

static int64_t argmax(const float *v, int64_t K)
{
    int64_t best = 0;
    for (int64_t k = 1; k < K; k++)
        if (v[k] > v[best])
            best = k;
    return best;
}

static double logsumexp(const float *z, int64_t K)
{
    float m = z[0];
    for (int64_t k = 1; k < K; k++)
        m = z[k] > m ? z[k] : m;
    double s = 0.0;
    for (int64_t k = 0; k < K; k++)
        s += expf(z[k] - m);
    return m + log(s);
}

static void cce(const ember_loss_batch *lb, float *row_loss, float *dout, int64_t *correct)
{
    int64_t B = lb->B, K = lb->K, right = 0;
    float invB = 1.0f / (float)(lb->norm_rows > 0 ? lb->norm_rows : B);
#pragma omp parallel for schedule(static) reduction(+ : right) if (B > PAR_MIN_ROWS)
    for (int64_t b = 0; b < B; b++) {
        const float *p = lb->p + b * K;
        const float *t = lb->sparse ? NULL : lb->t + b * K;
        int64_t label = lb->sparse ? (int64_t)lb->t[b] : -1;
        float *d = dout ? dout + b * K : NULL;
        double loss = 0.0;
        if (lb->fused) {
            /* -log p from the softmax output where p is a normal float
             * (|error| ~ 1e-7); only where p underflowed is the loss taken
             * from the logits with a log-sum-exp, so it never is log(0). */
            int need_lse = 0;
            if (t) {
                double tsum = 0.0;
                for (int64_t k = 0; k < K; k++) {
                    if (t[k] != 0.0f) {
                        if (p[k] >= FLT_MIN)
                            loss -= (double)t[k] * log((double)p[k]);
                        else
                            need_lse = 1;
                    }
                    tsum += t[k];
                }
                if (need_lse) {
                    const float *z = lb->logits + b * K;
                    double lse = logsumexp(z, K);
                    loss = 0.0;
                    for (int64_t k = 0; k < K; k++)
                        if (t[k] != 0.0f)
                            loss -= (double)t[k] * ((double)z[k] - lse);
                }
                if (d)
                    for (int64_t k = 0; k < K; k++)
                        d[k] = (p[k] * (float)tsum - t[k]) * invB;
            } else {
                if (p[label] >= FLT_MIN)
                    loss = -log((double)p[label]);
                else
                    loss = logsumexp(lb->logits + b * K, K) - lb->logits[b * K + label];
                if (d) {
                    for (int64_t k = 0; k < K; k++)
                        d[k] = p[k] * invB;
                    d[label] -= invB;
                }
            }
        } else {
            for (int64_t k = 0; k < K; k++) {
                float tk = t ? t[k] : (k == label ? 1.0f : 0.0f);
                float pk = p[k];
                int clipped = !(pk > EMBER_PROB_EPSILON && pk < 1.0f - EMBER_PROB_EPSILON);
                float pc = pk < EMBER_PROB_EPSILON ? EMBER_PROB_EPSILON
                                                   : (pk > 1.0f - EMBER_PROB_EPSILON
                                                          ? 1.0f - EMBER_PROB_EPSILON
                                                          : pk);
                if (tk != 0.0f)
                    loss -= (double)tk * log((double)pc);
                if (d)
                    d[k] = clipped ? 0.0f : -tk / pc * invB;
            }
        }
        row_loss[b] = (float)loss;
        int64_t want = t ? argmax(t, K) : label;
        right += argmax(p, K) == want;
    }
    *correct = right;
}

static void bce(const ember_loss_batch *lb, float *row_loss, float *dout, int64_t *correct)
{
    int64_t B = lb->B, K = lb->K, right = 0;
    float scale = 1.0f / ((float)(lb->norm_rows > 0 ? lb->norm_rows : B) * (float)K);
#pragma omp parallel for schedule(static) reduction(+ : right) if (B > PAR_MIN_ROWS)
    for (int64_t b = 0; b < B; b++) {
        const float *p = lb->p + b * K;
        double loss = 0.0;
        for (int64_t k = 0; k < K; k++) {
            float t = lb->sparse ? lb->t[b] : lb->t[b * K + k];
            float pk = p[k];
            float g;
            if (lb->fused) {
                double z = lb->logits[b * K + k];
                loss += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
                g = pk - t;
            } else {
                int clipped = !(pk > EMBER_PROB_EPSILON && pk < 1.0f - EMBER_PROB_EPSILON);
                float pc = pk < EMBER_PROB_EPSILON ? EMBER_PROB_EPSILON
                                                   : (pk > 1.0f - EMBER_PROB_EPSILON
                                                          ? 1.0f - EMBER_PROB_EPSILON
                                                          : pk);
                loss -= (double)t * log((double)pc) + (1.0 - t) * log(1.0 - (double)pc);
                g = clipped ? 0.0f : -t / pc + (1.0f - t) / (1.0f - pc);
            }
            if (dout)
                dout[b * K + k] = g * scale;
            right += (pk > 0.5f) == (t > 0.5f);
        }
        row_loss[b] = (float)(loss / (double)K);
    }
    *correct = right;
}

static void mse(const ember_loss_batch *lb, float *row_loss, float *dout, int64_t *correct)
{
    int64_t B = lb->B, K = lb->K;
    float scale = 2.0f / ((float)(lb->norm_rows > 0 ? lb->norm_rows : B) * (float)K);
#pragma omp parallel for schedule(static) if (B > PAR_MIN_ROWS)
    for (int64_t b = 0; b < B; b++) {
        double loss = 0.0;
        for (int64_t k = 0; k < K; k++) {
            float t = lb->sparse ? lb->t[b] : lb->t[b * K + k];
            float e = lb->p[b * K + k] - t;
            loss += (double)e * e;
            if (dout)
                dout[b * K + k] = e * scale;
        }
        row_loss[b] = (float)(loss / (double)K);
    }
    *correct = 0;
}

void ember__loss_compute(const ember_loss_batch *lb, float *row_loss, float *dout,
                         int64_t *correct)
{
    switch (lb->kind) {
    case EMBER_LOSS_CATEGORICAL_CROSSENTROPY: cce(lb, row_loss, dout, correct); break;
    case EMBER_LOSS_BINARY_CROSSENTROPY: bce(lb, row_loss, dout, correct); break;
    case EMBER_LOSS_MSE: mse(lb, row_loss, dout, correct); break;
    }
    if (lb->weights) {
        int64_t B = lb->B, K = lb->K;
        for (int64_t b = 0; b < B; b++) {
            float w = lb->weights[b];
            if (w == 1.0f)
                continue;
            row_loss[b] *= w;
            if (dout)
                for (int64_t k = 0; k < K; k++)
                    dout[b * K + k] *= w;
        }
    }
}

int ember__loss_fusable(ember_loss_kind kind, ember_activation out_act)
{
    return (kind == EMBER_LOSS_CATEGORICAL_CROSSENTROPY && out_act == EMBER_ACT_SOFTMAX) ||
           (kind == EMBER_LOSS_BINARY_CROSSENTROPY && out_act == EMBER_ACT_SIGMOID);
}

static const char *const loss_names[] = {"categorical_crossentropy", "binary_crossentropy",
                                         "mse"};

const char *ember__loss_name(ember_loss_kind kind)
{
    return (unsigned)kind < 3 ? loss_names[kind] : "?";
}

int ember__loss_from_name(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, loss_names[i]) == 0)
            return i;
    return -1;
}
