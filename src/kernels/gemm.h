/*
 * gemm.h - matrix products. ember__gemm goes through CBLAS (OpenBLAS);
 * ember__gemm_naive is the plain triple loop (double accumulation) that tests
 * compare against. Row-major throughout:
 *   C[M][N] = alpha * op(A) op(B) + beta * C,
 * op(A) is A[M][K] or, when ta, A stored as [K][M]; op(B) is B[K][N] or, when
 * tb, B stored as [N][K].
 */
#ifndef EMBER_GEMM_H
#define EMBER_GEMM_H

#include <stdint.h>

void ember__gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 const float *B, float beta, float *C);
void ember__gemm_naive(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, const float *B, float beta, float *C);
/* Set OpenBLAS's thread pool size (process-wide inside OpenBLAS). */
void ember__blas_set_threads(int n);

#endif
