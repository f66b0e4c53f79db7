/*
 * gemm.c - CBLAS sgemm with Ember's own block split over threads, and the
 * naive reference (see gemm.h).
 */
#include "gemm.h"

#include <cblas.h>

/* Below ~2 MFLOP a split costs more (fork/join, packing twice) than it saves. */
#define SPLIT_MIN_FLOP (1LL << 21)
/* Blocks start on multiples of 16 floats (64 bytes) so each is aligned. */
#define SPLIT_ALIGN 16

static void sgemm_ld(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void ember__gemm(int threads, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, const float *B, float beta, float *C)
{
    if (M == 0 || N == 0)
        return;
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    if (M == 1 && K > 0) {
        /* one row (a single prediction): sgemm would pack B first, which
         * costs more than the product; sgemv reads B once. A's one row is
         * contiguous either way (lda = 1 when transposed). */
        if (tb) /* C[N] = B[N][K] a */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, alpha, B, (int)ldb, A, 1,
                        beta, C, 1);
        else /* C[N] = B[K][N]^T a */
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, alpha, B, (int)ldb, A, 1,
                        beta, C, 1);
        return;
    }
    if (threads <= 1 || 2 * M * N * K < SPLIT_MIN_FLOP) {
        sgemm_ld(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
        return;
    }
    int split_rows = M >= N;
    int64_t len = split_rows ? M : N;
    int64_t per = (len + threads - 1) / threads;
    per = (per + SPLIT_ALIGN - 1) / SPLIT_ALIGN * SPLIT_ALIGN;
    int64_t nblk = (len + per - 1) / per;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t i0 = b * per, n = len - i0 < per ? len - i0 : per;
        if (split_rows) {
            const float *Ab = ta ? A + i0 : A + i0 * K;
            sgemm_ld(ta, tb, n, N, K, alpha, Ab, lda, B, ldb, beta, C + i0 * N, N);
        } else {
            const float *Bb = tb ? B + i0 * K : B + i0;
            sgemm_ld(ta, tb, M, n, K, alpha, A, lda, Bb, ldb, beta, C + i0, N);
        }
    }
}

void ember__gemm_naive(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, const float *B, float beta, float *C)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                float a = ta ? A[k * M + i] : A[i * K + k];
                float b = tb ? B[j * K + k] : B[k * N + j];
                acc += (double)a * (double)b;
            }
            double c = beta == 0.0f ? 0.0 : (double)beta * C[i * N + j];
            C[i * N + j] = (float)((double)alpha * acc + c);
        }
}

void ember__blas_single_thread(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}
