/*
 * conv.c - im2col/col2im, 2-D pooling and the reference convolution (see
 * conv.h). Every loop writes disjoint outputs per thread and sums in a fixed
 * order, so results do not depend on the thread count.
 */
#include "conv.h"

#include <string.h>

/* 8 floats in a vector register (GCC vector extension: AVX in the avx2
 * clone, two SSE registers otherwise); loads and stores go through memcpy so
 * no alignment is assumed. */
typedef float v8f __attribute__((vector_size(32)));
/* The helpers below are static and inlined: no ABI crosses a library
 * boundary, so GCC's note about AVX vector returns does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

static inline __attribute__((always_inline)) v8f ld8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void st8(float *p, v8f v) { memcpy(p, &v, sizeof v); }


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
void ember__maxpool_fwd(const ember_conv_geom *g, const float *x, int64_t B, float *y,
                        int32_t *arg, int threads)
{
    const int64_t H = g->H, W = g->W, C = g->C, OH = g->OH, OW = g->OW;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * OH * OW * C > 65536)
    for (int64_t bo = 0; bo < B * OH; bo++) {
        int64_t b = bo / OH, oh = bo % OH;
        const float *xb = x + b * H * W * C;
        for (int64_t ow = 0; ow < OW; ow++) {
            float *yo = y + (bo * OW + ow) * C;
            int32_t *ao = arg ? arg + (bo * OW + ow) * C : NULL;
            int64_t i0, i1, j0, j1;
            window(g, oh, ow, &i0, &i1, &j0, &j1);
            int64_t o0 = (i0 * W + j0) * C;
            if (ao && C % 8 == 0) {
                /* 8 channels at a time: compare, blend value and offset */
                typedef int32_t v8i __attribute__((vector_size(32)));
                const v8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
                for (int64_t c = 0; c < C; c += 8) {
                    v8f best = ld8(xb + o0 + c);
                    v8i at = lane + (int32_t)(o0 + c);
                    for (int64_t i = i0; i < i1; i++)
                        for (int64_t j = (i == i0 ? j0 + 1 : j0); j < j1; j++) {
                            int64_t o = (i * W + j) * C + c;
                            v8f v = ld8(xb + o);
                            v8i gt = v > best; /* strictly greater: the first maximum wins */
                            v8i bi, vi;
                            memcpy(&bi, &best, sizeof bi);
                            memcpy(&vi, &v, sizeof vi);
                            bi = (gt & vi) | (~gt & bi);
                            memcpy(&best, &bi, sizeof bi);
                            at = (gt & (lane + (int32_t)o)) | (~gt & at);
                        }
                    st8(yo + c, best);
                    memcpy(ao + c, &at, sizeof at);
                }
                continue;
            }
            memcpy(yo, xb + o0, (size_t)C * sizeof *yo);
            if (ao)
                for (int64_t c = 0; c < C; c++)
                    ao[c] = (int32_t)(o0 + c);
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = (i == i0 ? j0 + 1 : j0); j < j1; j++) {
                    int64_t o = (i * W + j) * C;
                    const float *xp = xb + o;
                    if (ao) {
                        /* strictly greater: the first maximum in window order wins
                         * (branch-free so it vectorises) */
                        for (int64_t c = 0; c < C; c++) {
                            int gt = xp[c] > yo[c];
                            yo[c] = gt ? xp[c] : yo[c];
                            ao[c] = gt ? (int32_t)(o + c) : ao[c];
                        }
                    } else {
                        for (int64_t c = 0; c < C; c++)
                            yo[c] = xp[c] > yo[c] ? xp[c] : yo[c];
                    }
                }
        }
    }
}

void ember__maxpool_bwd(const ember_conv_geom *g, const int32_t *arg, const float *dy, int64_t B,
                        float *dx, int threads)
{
    const int64_t n_in = g->H * g->W * g->C, n_out = g->OH * g->OW * g->C;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * n_in > 65536)
    for (int64_t b = 0; b < B; b++) {
        float *dxb = dx + b * n_in;
        const int32_t *ab = arg + b * n_out;
        const float *dyb = dy + b * n_out;
        memset(dxb, 0, (size_t)n_in * sizeof *dxb);
        for (int64_t o = 0; o < n_out; o++)
            dxb[ab[o]] += dyb[o];
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

/* ---------------------------------------------- direct kernels, small K */

/* One row (b, oh) of outputs when F = NV * 8: accumulators stay in registers. */
#define DIRECT_FWD_ROW(NV)                                                                     \
    static inline __attribute__((always_inline)) void direct_fwd_row_##NV(const ember_conv_geom *g, const float *x, const float *k,  \
                                    const float *bias, int relu, int64_t bo, float *y)         \
    {                                                                                          \
        const int64_t F = NV * 8, W = g->W, C = g->C;                                          \
        int64_t b = bo / g->OH, oh = bo % g->OH;                                               \
        const float *xb = x + b * g->H * W * C;                                                \
        v8f bv[NV], zero = {0};                                                                \
        for (int v = 0; v < NV; v++)                                                           \
            bv[v] = bias ? ld8(bias + 8 * v) : zero;                                           \
        int64_t ow = 0, ih0 = oh * g->sh - g->pt;                                              \
        /* one channel, a row whose windows lie inside the image: two pixels at a \
         * time, no bounds checks (twice the independent add chains) */           \
        if (C == 1 && g->sw == 1 && g->pl == 0 && ih0 >= 0 && ih0 + g->kh <= g->H &&           \
            g->OW - 1 + g->kw <= W) {                                                          \
            for (; ow + 1 < g->OW; ow += 2) {                                                  \
                v8f a0[NV], a1[NV];                                                            \
                for (int v = 0; v < NV; v++)                                                   \
                    a0[v] = a1[v] = bv[v];                                                     \
                for (int64_t i = 0; i < g->kh; i++) {                                          \
                    const float *xr = xb + (ih0 + i) * W + ow;                                 \
                    const float *kr = k + i * g->kw * F;                                       \
                    for (int64_t j = 0; j < g->kw; j++) {                                      \
                        v8f p0 = zero + xr[j], p1 = zero + xr[j + 1];                          \
                        for (int v = 0; v < NV; v++) {                                         \
                            v8f kk = ld8(kr + j * F + 8 * v);                                  \
                            a0[v] += p0 * kk;                                                  \
                            a1[v] += p1 * kk;                                                  \
                        }                                                                      \
                    }                                                                          \
                }                                                                              \
                float *yo = y + (bo * g->OW + ow) * F;                                         \
                for (int v = 0; v < NV; v++) {                                                 \
                    if (relu) {                                                                \
                        a0[v] = (v8f)((__typeof__(a0[v] > zero))(a0[v] > zero) &               \
                                      (__typeof__(a0[v] > zero))a0[v]);                         \
                        a1[v] = (v8f)((__typeof__(a1[v] > zero))(a1[v] > zero) &               \
                                      (__typeof__(a1[v] > zero))a1[v]);                         \
                    }                                                                          \
                    st8(yo + 8 * v, a0[v]);                                                    \
                    st8(yo + F + 8 * v, a1[v]);                                                \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        for (; ow < g->OW; ow++) {                                                             \
            v8f acc[NV];                                                                       \
            for (int v = 0; v < NV; v++)                                                       \
                acc[v] = bv[v];                                                                \
            for (int64_t i = 0; i < g->kh; i++) {                                              \
                int64_t ih = oh * g->sh - g->pt + i;                                           \
                if (ih < 0 || ih >= g->H)                                                      \
                    continue;                                                                  \
                for (int64_t j = 0; j < g->kw; j++) {                                          \
                    int64_t iw = ow * g->sw - g->pl + j;                                       \
                    if (iw < 0 || iw >= W)                                                     \
                        continue;                                                              \
                    const float *xp = xb + (ih * W + iw) * C;                                  \
                    const float *kp = k + (i * g->kw + j) * C * F;                             \
                    for (int64_t c = 0; c < C; c++) {                                          \
                        v8f a = zero + xp[c];                                                  \
                        for (int v = 0; v < NV; v++)                                           \
                            acc[v] += a * ld8(kp + c * F + 8 * v);                             \
                    }                                                                          \
                }                                                                              \
            }                                                                                  \
            float *yo = y + (bo * g->OW + ow) * F;                                             \
            for (int v = 0; v < NV; v++) {                                                     \
                if (relu) {                                                                    \
                    v8f m = (v8f)(acc[v] > zero);                                              \
                    acc[v] = (v8f)((__typeof__(m > m))m & (__typeof__(m > m))acc[v]);         \
                }                                                                              \
                st8(yo + 8 * v, acc[v]);                                                       \
            }                                                                                  \
        }                                                                                      \
    }

DIRECT_FWD_ROW(1)
DIRECT_FWD_ROW(2)
DIRECT_FWD_ROW(4)
DIRECT_FWD_ROW(8)

/* Any F (and F not a multiple of 8): plain loops. */
static void direct_fwd_row_any(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                               const float *bias, int relu, int64_t bo, float *y)
{
    int64_t b = bo / g->OH, oh = bo % g->OH;
    const int64_t W = g->W, C = g->C;
    const float *xb = x + b * g->H * W * C;
    for (int64_t ow = 0; ow < g->OW; ow++) {
        float *yo = y + (bo * g->OW + ow) * F;
        for (int64_t f = 0; f < F; f++)
            yo[f] = bias ? bias[f] : 0.0f;
        for (int64_t i = 0; i < g->kh; i++) {
            int64_t ih = oh * g->sh - g->pt + i;
            if (ih < 0 || ih >= g->H)
                continue;
            for (int64_t j = 0; j < g->kw; j++) {
                int64_t iw = ow * g->sw - g->pl + j;
                if (iw < 0 || iw >= W)
                    continue;
                const float *xp = xb + (ih * W + iw) * C;
                const float *kp = k + (i * g->kw + j) * C * F;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t f = 0; f < F; f++)
                        yo[f] += xp[c] * kp[c * F + f];
            }
        }
        if (relu)
            for (int64_t f = 0; f < F; f++)
                yo[f] = yo[f] > 0.0f ? yo[f] : 0.0f;
    }
}

EMBER_CLONES
void ember__conv_direct_fwd(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                            const float *bias, int relu, int64_t B, float *y, int threads)
{
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * g->OH * g->OW * F > 16384)
    for (int64_t bo = 0; bo < B * g->OH; bo++) {
        switch (F) {
        case 8: direct_fwd_row_1(g, x, k, bias, relu, bo, y); break;
        case 16: direct_fwd_row_2(g, x, k, bias, relu, bo, y); break;
        case 32: direct_fwd_row_4(g, x, k, bias, relu, bo, y); break;
        case 64: direct_fwd_row_8(g, x, k, bias, relu, bo, y); break;
        default: direct_fwd_row_any(g, F, x, k, bias, relu, bo, y); break;
        }
    }
}

/* part[K][F] = this example's kernel gradient: for each window tap, the sum
 * over output pixels of x(tap) * dz(pixel). F = NV * 8. */
#define DIRECT_DK(NV)                                                                          \
    static inline __attribute__((always_inline)) void direct_dk_##NV(const ember_conv_geom *g, const float *xb, const float *dzb,   \
                               float *part)                                                    \
    {                                                                                          \
        const int64_t F = NV * 8, W = g->W, C = g->C;                                          \
        v8f zero = {0};                                                                        \
        for (int64_t i = 0; i < g->kh; i++)                                                    \
            for (int64_t j = 0; j < g->kw; j++)                                                \
                for (int64_t c = 0; c < C; c++) {                                              \
                    v8f acc[NV];                                                               \
                    for (int v = 0; v < NV; v++)                                               \
                        acc[v] = zero;                                                         \
                    for (int64_t oh = 0; oh < g->OH; oh++) {                                   \
                        int64_t ih = oh * g->sh - g->pt + i;                                   \
                        if (ih < 0 || ih >= g->H)                                              \
                            continue;                                                          \
                        for (int64_t ow = 0; ow < g->OW; ow++) {                               \
                            int64_t iw = ow * g->sw - g->pl + j;                               \
                            if (iw < 0 || iw >= W)                                             \
                                continue;                                                      \
                            v8f a = zero + xb[(ih * W + iw) * C + c];                          \
                            const float *d = dzb + (oh * g->OW + ow) * F;                      \
                            for (int v = 0; v < NV; v++)                                       \
                                acc[v] += a * ld8(d + 8 * v);                                  \
                        }                                                                      \
                    }                                                                          \
                    float *pp = part + ((i * g->kw + j) * C + c) * F;                          \
                    for (int v = 0; v < NV; v++)                                               \
                        st8(pp + 8 * v, acc[v]);                                               \
                }                                                                              \
    }

DIRECT_DK(1)
DIRECT_DK(2)
DIRECT_DK(4)
DIRECT_DK(8)

static void direct_dk_any(const ember_conv_geom *g, int64_t F, const float *xb, const float *dzb,
                          float *part)
{
    const int64_t W = g->W, C = g->C, K = g->kh * g->kw * C;
    for (int64_t q = 0; q < K * F; q++)
        part[q] = 0.0f;
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++) {
            const float *d = dzb + (oh * g->OW + ow) * F;
            for (int64_t i = 0; i < g->kh; i++) {
                int64_t ih = oh * g->sh - g->pt + i;
                if (ih < 0 || ih >= g->H)
                    continue;
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t iw = ow * g->sw - g->pl + j;
                    if (iw < 0 || iw >= W)
                        continue;
                    const float *xp = xb + (ih * W + iw) * C;
                    float *pp = part + (i * g->kw + j) * C * F;
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t f = 0; f < F; f++)
                            pp[c * F + f] += xp[c] * d[f];
                }
            }
        }
}

EMBER_CLONES
void ember__column_sums(float *restrict out, const float *restrict m, int64_t rows, int64_t F)
{
    for (int64_t f0 = 0; f0 < F; f0 += 64) {
        int64_t nf = F - f0 < 64 ? F - f0 : 64;
        float acc[64] = {0};
        for (int64_t r = 0; r < rows; r++)
            for (int64_t f = 0; f < nf; f++)
                acc[f] += m[r * F + f0 + f];
        for (int64_t f = 0; f < nf; f++)
            out[f0 + f] = acc[f];
    }
}

EMBER_CLONES
void ember__relu_mask(float *restrict dz, const float *restrict dy, const float *restrict y,
                      int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

EMBER_CLONES
void ember__conv_direct_bwd(const ember_conv_geom *g, int64_t F, const float *x, const float *k,
                            const float *dy, const float *relu_y, float *dz, int64_t B, float *dx,
                            float *dk, float *db, float *part, int threads)
{
    const int64_t H = g->H, W = g->W, C = g->C, K = g->kh * g->kw * C;
    const int64_t nin = H * W * C, nout = g->OH * g->OW * F, P = g->OH * g->OW;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (B * nout * K > 65536)
    for (int64_t b = 0; b < B; b++) {
        const float *xb = x + b * nin, *dzb = dy + b * nout;
        float *pb = part + b * (K * F + F);
        if (relu_y) { /* dz = dy * [y > 0], while this example is in cache */
            ember__relu_mask(dz + b * nout, dzb, relu_y + b * nout, nout);
            dzb = dz + b * nout;
        }
        if (db) /* this example's bias gradient */
            ember__column_sums(pb + K * F, dzb, P, F);
        switch (F) {
        case 8: direct_dk_1(g, xb, dzb, pb); break;
        case 16: direct_dk_2(g, xb, dzb, pb); break;
        case 32: direct_dk_4(g, xb, dzb, pb); break;
        case 64: direct_dk_8(g, xb, dzb, pb); break;
        default: direct_dk_any(g, F, xb, dzb, pb); break;
        }
        if (!dx)
            continue;
        float *dxb = dx + b * nin;
        memset(dxb, 0, (size_t)nin * sizeof *dxb);
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                const float *d = dzb + (oh * g->OW + ow) * F;
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t ih = oh * g->sh - g->pt + i;
                    if (ih < 0 || ih >= H)
                        continue;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t iw = ow * g->sw - g->pl + j;
                        if (iw < 0 || iw >= W)
                            continue;
                        float *xp = dxb + (ih * W + iw) * C;
                        const float *kp = k + (i * g->kw + j) * C * F;
                        for (int64_t c = 0; c < C; c++) {
                            float acc = 0.0f;
                            for (int64_t f = 0; f < F; f++)
                                acc += kp[c * F + f] * d[f];
                            xp[c] += acc;
                        }
                    }
                }
            }
    }
    /* per-example partials summed in example order: independent of threads */
    for (int64_t b = 0; b < B; b++) {
        const float *pb = part + b * (K * F + F);
        for (int64_t q = 0; q < K * F; q++)
            dk[q] += pb[q];
        for (int64_t f = 0; db && f < F; f++)
            db[f] += pb[K * F + f];
    }
}
