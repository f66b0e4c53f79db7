/*
 * gemm.c - CBLAS sgemm wrapper and its naive reference (see gemm.h).
 * OpenBLAS picks its kernel at run time (DYNAMIC_ARCH); we do not tune here.
 */
#include "gemm.h"

#include <cblas.h>

void ember__gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 const float *B, float beta, float *C)
{
    if (M == 0 || N == 0)
        return;
    int lda = ta ? (int)M : (int)K;
    int ldb = tb ? (int)K : (int)N;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, lda, B, ldb, beta, C, (int)N);
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

void ember__blas_set_threads(int n) { openblas_set_num_threads(n); }
