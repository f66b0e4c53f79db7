#define _POSIX_C_SOURCE 200809L /* clock_gettime */
/*
 * bench_cnn_layers.c - where a training step of the Fashion-MNIST CNN
 * (docs/arch.md, `--arch cnn`) spends its time, layer by layer, and how
 * each Conv2D's achieved GFLOP/s compares with this machine's raw sgemm
 * rate measured here on the same product shapes.
 *
 * Usage: bench_cnn_layers [threads=2] [batch=64] [reps=30] [wall|cpu]
 * "cpu" times with the process CPU clock instead of the wall clock: on a
 * shared machine with 1 thread this ignores time spent descheduled (with
 * more threads it sums the threads' time, so use it only with 1).
 * For each layer: forward and backward milliseconds per batch (median of
 * `reps` timed batches after 3 warm-up ones, random inputs in [0, 1)).
 * Conv FLOPs: 2 * B*OH*OW * kh*kw*C * F for forward, twice that for
 * backward (dK and dX; the first layer computes no dX, so once).
 * sgemm rate: cblas_sgemm through Ember's split (ember__gemm) on the conv's
 * forward shape (M = B*OH*OW, N = F, K = kh*kw*C), same threads, median.
 */
#include "kernels/gemm.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static int use_cpu_clock;

static double now(void)
{
    if (!use_cpu_clock)
        return ember__now();
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int64_t B = argc > 2 ? atoll(argv[2]) : 64;
    int reps = argc > 3 ? atoi(argv[3]) : 30;
    use_cpu_clock = argc > 4 && strcmp(argv[4], "cpu") == 0;
    ember_error err;
    int64_t in[3] = {28, 28, 1};
    ember_model *m = NULL;
    const char *arch = "conv2d 32 3 relu\nmax_pool2d 2\nconv2d 64 3 relu\nmax_pool2d 2\n"
                       "flatten\ndense 128 relu\ndense classes softmax\n";
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    if (ember_model_create_from_arch_shape(&m, arch, "cnn", 3, in, 10, 1, &err) ||
        ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err) ||
        ember__model_arena(m, B, 0, &err)) {
        fprintf(stderr, "bench_cnn_layers: %s\n", err.message);
        return 1;
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    ember__blas_single_thread();
    ember_rng r = ember__rng_stream(1, 9, 0, 0);
    for (int64_t i = 0; i < B * m->input_size; i++)
        m->acts[0][i] = ember__rng_uniform(&r);
    ember_step_ctx ctx = {1, ember__rng_stream(1, 3, 0, 0), threads, NULL, NULL, NULL, 0};
    int L = m->n_layers;
    double *fw = calloc((size_t)(L * reps), sizeof *fw), *bw = calloc((size_t)(L * reps), sizeof *bw);
    float *dy = ember__alloc((size_t)(B * 64 * 26 * 26) * sizeof(float));
    for (int64_t i = 0; i < B * 64 * 26 * 26; i++)
        dy[i] = 0.01f * (ember__rng_uniform(&r) - 0.5f);
    for (int it = -3; it < reps; it++) {
        for (int i = 0; i < L; i++) {
            ember_layer *l = m->layers[i];
            double t0 = now();
            l->ops->forward(l, m->acts[i + 1], m->acts[i], B, &ctx);
            if (it >= 0)
                fw[i * reps + it] = now() - t0;
        }
        const float *g = dy;
        float *bufs[2] = {m->grad_a, m->grad_b};
        for (int i = L - 1; i >= 0; i--) {
            ember_layer *l = m->layers[i];
            float *dx = i > 0 ? bufs[i % 2] : NULL;
            double t0 = now();
            l->ops->backward(l, dx, g, m->acts[i], m->acts[i + 1], B, &ctx);
            if (it >= 0)
                bw[i * reps + it] = now() - t0;
            g = dx;
        }
    }
    printf("Fashion-MNIST CNN, batch %lld, %d thread(s), median of %d batches, %s clock\n",
           (long long)B, threads, reps, use_cpu_clock ? "process CPU" : "wall");
    printf("%-3s %-12s %10s %10s %12s %12s %14s\n", "#", "layer", "fwd ms", "bwd ms", "fwd GFLOP/s",
           "bwd GFLOP/s", "sgemm GFLOP/s");
    double tf = 0, tb = 0;
    for (int i = 0; i < L; i++) {
        ember_layer *l = m->layers[i];
        double f = median(fw + i * reps, reps), b = median(bw + i * reps, reps);
        tf += f, tb += b;
        printf("%-3d %-12s %10.3f %10.3f", i, l->ops->name, f * 1e3, b * 1e3);
        if (l->kind == EMBER_LAYER_CONV2D) {
            const conv2d_config *c = l->config;
            double M = (double)(B * c->g.OH * c->g.OW), K = (double)(c->kh * c->kw * c->g.C),
                   N = (double)c->filters;
            double flop = 2.0 * M * N * K;
            /* raw sgemm on the forward shape */
            float *A = ember__alloc((size_t)(M * K) * sizeof(float)),
                  *Bm = ember__alloc((size_t)(K * N) * sizeof(float)),
                  *C = ember__alloc((size_t)(M * N) * sizeof(float));
            for (int64_t k = 0; k < (int64_t)(M * K); k++)
                A[k] = ember__rng_uniform(&r);
            for (int64_t k = 0; k < (int64_t)(K * N); k++)
                Bm[k] = ember__rng_uniform(&r);
            double *gs = calloc((size_t)reps, sizeof *gs);
            for (int it = -3; it < reps; it++) {
                double t0 = now();
                ember__gemm(threads, 0, 0, (int64_t)M, (int64_t)N, (int64_t)K, 1.0f, A, Bm, 0.0f, C);
                if (it >= 0)
                    gs[it] = now() - t0;
            }
            double g = median(gs, reps);
            printf(" %12.1f %12.1f %14.1f", flop / f * 1e-9, (i ? 2 : 1) * flop / b * 1e-9,
                   flop / g * 1e-9);
            free(gs);
            ember__free(A);
            ember__free(Bm);
            ember__free(C);
        }
        printf("\n");
    }
    printf("total forward %.3f ms, backward %.3f ms per batch -> %.2f s per 60,000 examples "
           "(layers only: no optimizer, loss or data gathering)\n", tf * 1e3, tb * 1e3,
           (tf + tb) * 60000.0 / (double)B);
    free(fw);
    free(bw);
    ember__free(dy);
    ember_model_destroy(m);
    return 0;
}
