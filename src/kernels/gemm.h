/*
 * gemm.h - matrix products. ember__gemm goes through CBLAS (OpenBLAS);
 * ember__gemm_naive is the plain triple loop (double accumulation) that tests
 * compare against. Row-major throughout:
 *   C[M][N] = alpha * op(A) op(B) + beta * C,
 * op(A) is A[M][K] or, when ta, A stored as [K][M]; op(B) is B[K][N] or, when
 * tb, B stored as [N][K].
 *
 * Threads: Ember keeps ONE thread pool (OpenMP). OpenBLAS is held at one
 * thread (its own pthread pool would spin against ours on a 2-core machine),
 * and ember__gemm splits a large product into `threads` contiguous blocks of
 * C (by rows or columns, whichever is longer), one single-threaded sgemm per
 * block. Each C element is computed by exactly one call, with the same K
 * order, so the result does not depend on timing.
 */
#ifndef EMBER_GEMM_H
#define EMBER_GEMM_H

#include <stdint.h>

void ember__gemm(int threads, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, const float *B, float beta, float *C);
void ember__gemm_naive(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, const float *B, float beta, float *C);
/* Hold OpenBLAS at one thread (call once per public entry point). */
void ember__blas_single_thread(void);

#endif
