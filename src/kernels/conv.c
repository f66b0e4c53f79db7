/*
 * conv.c - im2col/col2im, 2-D pooling and the reference convolution (see
 * conv.h). Every loop writes disjoint outputs per thread and sums in a fixed
 * order, so results do not depend on the thread count.
 */
#include "conv.h"

#include <float.h>
#include <string.h>

static ember_status one_axis(int64_t in, int64_t k, int64_t s, int same, int64_t *out,
                             int64_t *pad, const char *axis, ember_error *err)
{
    if (same) {
        *out = (in + s - 1) / s;
        int64_t need = (*out - 1) * s + k - in;
        *pad = need > 0 ? need / 2 : 0;
    } else {
        if (k > in)
            return EMBER_FAIL(err, EMBER_ERR_SHAPE, "the %lld-wide window does not fit the "
                              "input's %lld %s with \"valid\" padding; HINT: use \"same\" padding "
                              "or a smaller window", (long long)k, (long long)in, axis);
        *out = (in - k) / s + 1;
        *pad = 0;
    }
    return EMBER_OK;
}

ember_status ember__conv_geom(ember_conv_geom *g, int64_t H, int64_t W, int64_t C, int64_t kh,
                              int64_t kw, int64_t sh, int64_t sw, int same, ember_error *err)
{
    const int64_t lim = (int64_t)1 << 30;
    if (H < 1 || W < 1 || C < 1 || H > lim || W > lim || C > lim)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "input (%lld, %lld, %lld) must have sizes in "
                          "1..2^30", (long long)H, (long long)W, (long long)C);
    if (kh < 1 || kw < 1 || kh > 1024 || kw > 1024)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "window %lldx%lld must have sides in 1..1024",
                          (long long)kh, (long long)kw);
    if (sh < 1 || sw < 1 || sh > 1024 || sw > 1024)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "strides %lldx%lld must be in 1..1024",
                          (long long)sh, (long long)sw);
    g->H = H, g->W = W, g->C = C, g->kh = kh, g->kw = kw, g->sh = sh, g->sw = sw;
    ember_status s = one_axis(H, kh, sh, same, &g->OH, &g->pt, "rows", err);
    if (!s)
        s = one_axis(W, kw, sw, same, &g->OW, &g->pl, "columns", err);
    return s;
}

EMBER_CLONES
void ember__im2col(const ember_conv_geom *g, const float *x, int64_t B, float *cols, int threads)
{
    const int64_t H = g->H, W = g->W, C = g->C, kh = g->kh, kw = g->kw, OH = g->OH, OW = g->OW;
    const int64_t K = kh * kw * C, rowlen = kw * C;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * OH * OW * K > 65536)
    for (int64_t bo = 0; bo < B * OH; bo++) {
        int64_t b = bo / OH, oh = bo % OH;
        const float *xb = x + b * H * W * C;
        for (int64_t ow = 0; ow < OW; ow++) {
            float *dst = cols + (bo * OW + ow) * K;
            int64_t iw0 = ow * g->sw - g->pl;
            int inside_w = iw0 >= 0 && iw0 + kw <= W;
            for (int64_t i = 0; i < kh; i++, dst += rowlen) {
                int64_t ih = oh * g->sh - g->pt + i;
                if (ih < 0 || ih >= H) {
                    memset(dst, 0, (size_t)rowlen * sizeof *dst);
                    continue;
                }
                const float *src = xb + (ih * W) * C;
                if (inside_w) { /* the kw pixels are contiguous in NHWC */
                    memcpy(dst, src + iw0 * C, (size_t)rowlen * sizeof *dst);
                    continue;
                }
                for (int64_t j = 0; j < kw; j++) {
                    int64_t iw = iw0 + j;
                    if (iw < 0 || iw >= W)
                        memset(dst + j * C, 0, (size_t)C * sizeof *dst);
                    else
                        memcpy(dst + j * C, src + iw * C, (size_t)C * sizeof *dst);
                }
            }
        }
    }
}

EMBER_CLONES
void ember__col2im(const ember_conv_geom *g, const float *cols, int64_t B, float *dx, int threads)
{
    const int64_t H = g->H, W = g->W, C = g->C, kh = g->kh, kw = g->kw, OH = g->OH, OW = g->OW;
    const int64_t K = kh * kw * C;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * OH * OW * K > 65536)
    for (int64_t b = 0; b < B; b++) {
        float *xb = dx + b * H * W * C;
        memset(xb, 0, (size_t)(H * W * C) * sizeof *xb);
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                const float *src = cols + ((b * OH + oh) * OW + ow) * K;
                for (int64_t i = 0; i < kh; i++) {
                    int64_t ih = oh * g->sh - g->pt + i;
                    if (ih < 0 || ih >= H)
                        continue;
                    for (int64_t j = 0; j < kw; j++) {
                        int64_t iw = ow * g->sw - g->pl + j;
                        if (iw < 0 || iw >= W)
                            continue;
                        float *d = xb + (ih * W + iw) * C;
                        const float *s = src + (i * kw + j) * C;
                        for (int64_t c = 0; c < C; c++)
                            d[c] += s[c];
                    }
                }
            }
    }
}

/* Window bounds of output (oh, ow), clipped to the input. */
static inline void window(const ember_conv_geom *g, int64_t oh, int64_t ow, int64_t *i0,
                          int64_t *i1, int64_t *j0, int64_t *j1)
{
    int64_t h0 = oh * g->sh - g->pt, w0 = ow * g->sw - g->pl;
    *i0 = h0 < 0 ? 0 : h0;
    *i1 = h0 + g->kh < g->H ? h0 + g->kh : g->H;
    *j0 = w0 < 0 ? 0 : w0;
    *j1 = w0 + g->kw < g->W ? w0 + g->kw : g->W;
}

EMBER_CLONES
void ember__maxpool_fwd(const ember_conv_geom *g, const float *x, int64_t B, float *y, int threads)
{
    const int64_t H = g->H, W = g->W, C = g->C, OH = g->OH, OW = g->OW;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * OH * OW * C > 65536)
    for (int64_t bo = 0; bo < B * OH; bo++) {
        int64_t b = bo / OH, oh = bo % OH;
        const float *xb = x + b * H * W * C;
        for (int64_t ow = 0; ow < OW; ow++) {
            float *yo = y + (bo * OW + ow) * C;
            int64_t i0, i1, j0, j1;
            window(g, oh, ow, &i0, &i1, &j0, &j1);
            for (int64_t c = 0; c < C; c++)
                yo[c] = -FLT_MAX;
            int first = 1;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) {
                    const float *xp = xb + (i * W + j) * C;
                    if (first) {
                        memcpy(yo, xp, (size_t)C * sizeof *yo);
                        first = 0;
                        continue;
                    }
                    for (int64_t c = 0; c < C; c++)
                        yo[c] = xp[c] > yo[c] ? xp[c] : yo[c];
                }
        }
    }
}

void ember__maxpool_bwd(const ember_conv_geom *g, const float *x, const float *y, const float *dy,
                        int64_t B, float *dx, int threads)
{
    const int64_t H = g->H, W = g->W, C = g->C, OH = g->OH, OW = g->OW;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * OH * OW * C > 65536)
    for (int64_t b = 0; b < B; b++) {
        const float *xb = x + b * H * W * C;
        float *dxb = dx + b * H * W * C;
        memset(dxb, 0, (size_t)(H * W * C) * sizeof *dxb);
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t o = ((b * OH + oh) * OW + ow) * C;
                int64_t i0, i1, j0, j1;
                window(g, oh, ow, &i0, &i1, &j0, &j1);
                for (int64_t c = 0; c < C; c++) {
                    float m = y[o + c];
                    /* the first element equal to the max is the one forward kept */
                    for (int64_t i = i0; i < i1; i++)
                        for (int64_t j = j0; j < j1; j++)
                            if (xb[(i * W + j) * C + c] == m) {
                                dxb[(i * W + j) * C + c] += dy[o + c];
                                goto next;
                            }
                next:;
                }
            }
    }
}

EMBER_CLONES
void ember__avgpool_fwd(const ember_conv_geom *g, const float *x, int64_t B, float *y, int threads)
{
    const int64_t H = g->H, W = g->W, C = g->C, OH = g->OH, OW = g->OW;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * OH * OW * C > 65536)
    for (int64_t bo = 0; bo < B * OH; bo++) {
        int64_t b = bo / OH, oh = bo % OH;
        const float *xb = x + b * H * W * C;
        for (int64_t ow = 0; ow < OW; ow++) {
            float *yo = y + (bo * OW + ow) * C;
            int64_t i0, i1, j0, j1;
            window(g, oh, ow, &i0, &i1, &j0, &j1);
            memset(yo, 0, (size_t)C * sizeof *yo);
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) {
                    const float *xp = xb + (i * W + j) * C;
                    for (int64_t c = 0; c < C; c++)
                        yo[c] += xp[c];
                }
            float inv = 1.0f / (float)((i1 - i0) * (j1 - j0));
            for (int64_t c = 0; c < C; c++)
                yo[c] *= inv;
        }
    }
}

EMBER_CLONES
void ember__avgpool_bwd(const ember_conv_geom *g, const float *dy, int64_t B, float *dx, int threads)
{
    const int64_t H = g->H, W = g->W, C = g->C, OH = g->OH, OW = g->OW;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * OH * OW * C > 65536)
    for (int64_t b = 0; b < B; b++) {
        float *dxb = dx + b * H * W * C;
        memset(dxb, 0, (size_t)(H * W * C) * sizeof *dxb);
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                const float *d = dy + ((b * OH + oh) * OW + ow) * C;
                int64_t i0, i1, j0, j1;
                window(g, oh, ow, &i0, &i1, &j0, &j1);
                float inv = 1.0f / (float)((i1 - i0) * (j1 - j0));
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) {
                        float *p = dxb + (i * W + j) * C;
                        for (int64_t c = 0; c < C; c++)
                            p[c] += d[c] * inv;
                    }
            }
    }
}

void ember__conv2d_ref_fwd(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                           const float *bias, int64_t B, float *y)
{
    const int64_t H = g->H, W = g->W, C = g->C;
    for (int64_t b = 0; b < B; b++)
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++)
                for (int64_t f = 0; f < F; f++) {
                    double acc = bias ? bias[f] : 0.0;
                    for (int64_t i = 0; i < g->kh; i++)
                        for (int64_t j = 0; j < g->kw; j++) {
                            int64_t ih = oh * g->sh - g->pt + i, iw = ow * g->sw - g->pl + j;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            for (int64_t c = 0; c < C; c++)
                                acc += (double)x[((b * H + ih) * W + iw) * C + c] *
                                       k[((i * g->kw + j) * C + c) * F + f];
                        }
                    y[((b * g->OH + oh) * g->OW + ow) * F + f] = (float)acc;
                }
}

void ember__conv2d_ref_bwd(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                           const float *dy, int64_t B, float *dx, float *dk, float *db)
{
    const int64_t H = g->H, W = g->W, C = g->C;
    if (dx)
        memset(dx, 0, (size_t)(B * H * W * C) * sizeof *dx);
    for (int64_t b = 0; b < B; b++)
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++)
                for (int64_t f = 0; f < F; f++) {
                    float d = dy[((b * g->OH + oh) * g->OW + ow) * F + f];
                    if (db)
                        db[f] += d;
                    for (int64_t i = 0; i < g->kh; i++)
                        for (int64_t j = 0; j < g->kw; j++) {
                            int64_t ih = oh * g->sh - g->pt + i, iw = ow * g->sw - g->pl + j;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            for (int64_t c = 0; c < C; c++) {
                                int64_t xi = ((b * H + ih) * W + iw) * C + c;
                                int64_t ki = ((i * g->kw + j) * C + c) * F + f;
                                dk[ki] += x[xi] * d;
                                if (dx)
                                    dx[xi] += k[ki] * d;
                            }
                        }
                }
}
