/*
 * conv.h - the kernels behind Conv2D and the 2-D poolings, on NHWC data
 * (batch, rows, columns, channels; channels contiguous).
 *
 * Geometry follows TensorFlow/Keras: "valid" gives OH = (H - kh) / sh + 1;
 * "same" gives OH = ceil(H / sh) with pad = max((OH-1)*sh + kh - H, 0) split
 * as pad/2 before and the rest after (the extra row goes to the bottom).
 *
 * Conv2D runs as im2col + one sgemm over the whole batch: the column matrix
 * has one row per output pixel (B*OH*OW rows) and kh*kw*C columns in the
 * kernel's own (kh, kw, C) order, so the kernel [kh][kw][C][F] (Keras'
 * layout) is a plain (kh*kw*C) x F matrix. The naive direct convolution
 * (ember__conv2d_ref_*) is the reference the tests compare against.
 */
#ifndef EMBER_KERNELS_CONV_H
#define EMBER_KERNELS_CONV_H

#include "core.h"

typedef struct ember_conv_geom {
    int64_t H, W, C;   /* input rows, columns, channels */
    int64_t kh, kw;    /* window */
    int64_t sh, sw;    /* strides */
    int64_t pt, pl;    /* zero padding before (top, left) */
    int64_t OH, OW;    /* output rows, columns */
} ember_conv_geom;

/* Fill g; errors (named) when a size is < 1 or beyond its bound (input
 * sides 2^30, windows and strides 1024), or the window does not fit a
 * "valid" input. Products of the sizes are checked by the layers. */
ember_status ember__conv_geom(ember_conv_geom *g, int64_t H, int64_t W, int64_t C, int64_t kh,
                              int64_t kw, int64_t sh, int64_t sw, int same, ember_error *err);

/* cols[B*OH*OW][kh*kw*C] from x[B][H][W][C]; padding reads as 0. */
void ember__im2col(const ember_conv_geom *g, const float *x, int64_t B, float *cols, int threads);
/* dx[B][H][W][C] = sum of the column gradients over the pixels they came
 * from (dx is overwritten). */
void ember__col2im(const ember_conv_geom *g, const float *cols, int64_t B, float *dx, int threads);

/* Max pooling: y = max over each window (padding never wins). When `arg`
 * is non-NULL, forward also records for each output the offset (within its
 * example) of the window's first maximum in row-major window order, and
 * backward sends dy there, accumulating when windows overlap. An example
 * must hold fewer than 2^31 values (the layer checks). */
void ember__maxpool_fwd(const ember_conv_geom *g, const float *x, int64_t B, float *y,
                        int32_t *arg, int threads);
void ember__maxpool_bwd(const ember_conv_geom *g, const int32_t *arg, const float *dy, int64_t B,
                        float *dx, int threads);
/* Average pooling over the window's elements inside the input (padding
 * is not counted, as Keras' "same"). */
void ember__avgpool_fwd(const ember_conv_geom *g, const float *x, int64_t B, float *y, int threads);
void ember__avgpool_bwd(const ember_conv_geom *g, const float *dy, int64_t B, float *dx, int threads);

/* Direct convolution for layers whose window holds few values (kh*kw*C
 * below EMBER_DIRECT_MAX_K, e.g. the first layer on grey images), where
 * im2col + sgemm with a tiny inner dimension runs far below the sgemm rate:
 * each output pixel accumulates its F outputs in registers. F <=
 * EMBER_DIRECT_MAX_F. Forward: y = [relu](conv(x, k) + bias) (bias may be
 * NULL). Backward from dy (the gradient w.r.t. the pre-activation, or,
 * when relu_y is non-NULL, w.r.t. the ReLU output relu_y, masked into dz
 * [B][OH*OW*F] per example): dk += and db += (if non-NULL) sums over the
 * batch, from per-example partials in part[B][K*F + F] added in example
 * order, so the result does not depend on the thread count; dx (if
 * non-NULL) is overwritten. */
#define EMBER_DIRECT_MAX_K 16
#define EMBER_DIRECT_MAX_F 256
void ember__conv_direct_fwd(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                            const float *bias, int relu, int64_t B, float *y, int threads);
void ember__conv_direct_bwd(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                            const float *dy, const float *relu_y, float *dz, int64_t B, float *dx,
                            float *dk, float *db, float *part, int threads);

/* out[f] = sum over rows of m[rows][F] (rows in order, so the result does
 * not depend on who calls it), and dz = dy * [y > 0] over n values. */
void ember__column_sums(float *out, const float *m, int64_t rows, int64_t F);
void ember__relu_mask(float *dz, const float *dy, const float *y, int64_t n);

/* Reference direct convolution, double accumulation, no tricks.
 * y[B][OH][OW][F] = b + sum x * k, k [kh][kw][C][F], bias may be NULL. */
void ember__conv2d_ref_fwd(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                           const float *bias, int64_t B, float *y);
/* dk (and db if non-NULL) accumulate (+=); dx, if non-NULL, is overwritten. */
void ember__conv2d_ref_bwd(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                           const float *dy, int64_t B, float *dx, float *dk, float *db);

#endif
