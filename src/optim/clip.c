/*
 * clip.c - gradient norm (deterministic), scaling and L2 weight decay.
 */
#include "optim.h"

/* Chunk of the deterministic sum: big enough to amortise a task, small
 * enough that small layers still split across threads. */
#define SUMSQ_CHUNK 4096
#define PAR_MIN_ELEMS 32768

/* Sum of squares of one chunk with 8 interleaved double accumulators added
 * in a fixed order at the end: vectorisable, and the same result on every
 * machine and thread count. */
static EMBER_CLONES double chunk_sumsq(const float *restrict g, int64_t n)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += (double)g[i + j] * g[i + j];
    for (int j = 0; i < n; i++, j++)
        acc[j] += (double)g[i] * g[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double ember__sumsq(const float *g, int64_t n)
{
    if (n <= PAR_MIN_ELEMS) { /* the same chunks in the same order, no OpenMP */
        double total = 0.0;
        for (int64_t i0 = 0; i0 < n; i0 += SUMSQ_CHUNK)
            total += chunk_sumsq(g + i0, (n - i0 < SUMSQ_CHUNK ? n - i0 : SUMSQ_CHUNK));
        return total;
    }
    int64_t nchunks = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    double total = 0.0;
    /* Process chunks in groups of 64 so partials fit on the stack. */
    enum { GROUP = 64 };
    for (int64_t c0 = 0; c0 < nchunks; c0 += GROUP) {
        double part[GROUP];
        int64_t c1 = c0 + GROUP < nchunks ? c0 + GROUP : nchunks;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t c = c0; c < c1; c++) {
            int64_t i0 = c * SUMSQ_CHUNK;
            part[c - c0] = chunk_sumsq(g + i0, n - i0 < SUMSQ_CHUNK ? n - i0 : SUMSQ_CHUNK);
        }
        for (int64_t c = c0; c < c1; c++)
            total += part[c - c0];
    }
    return total;
}

void ember__scale(float *g, int64_t n, float s)
{
    if (n <= PAR_MIN_ELEMS) {
        for (int64_t i = 0; i < n; i++)
            g[i] *= s;
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        g[i] *= s;
}

void ember__axpy(float *g, const float *w, int64_t n, float wd)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++)
        g[i] += wd * w[i];
}
