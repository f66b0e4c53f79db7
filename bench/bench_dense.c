/*
 * bench_dense.c - forward+backward GFLOP/s of Ember's Dense layer next to raw
 * OpenBLAS sgemm doing exactly the same matrix products, on 1 and 2 threads.
 *
 * Cases (shapes without the batch B):
 *   - the 784-128-10 MLP (Dense 784->128 relu, Dense 128->10 softmax) at B = 32
 *     and B = 256, timed as the whole model: ember__model_forward, then
 *     ember__model_backward from a FIXED output gradient (random numbers fed
 *     in place of a loss gradient; the softmax is fused with the loss, so it is
 *     the gradient of the logits). Like training, no dx for the first layer.
 *   - one 4096x4096 linear Dense layer at B = 256, timed through its ops:
 *     l->ops->forward, then l->ops->backward WITH dx. Target: >= 0.80 of sgemm.
 * Models are built with the public API (create, add_dense, compile with SGD)
 * and ember__model_arena, so the real code paths run: Ember's own split of
 * large products over OpenMP threads (kernels/gemm.c, OpenBLAS held at one
 * thread), bias, activation and the bias-gradient loop.
 * The baseline calls cblas_sgemm for the same products (same transposes,
 * shapes and beta) with OpenBLAS's own threading, openblas_set_num_threads(T).
 *
 * FLOPs: 2*M*N*K per product (forward B*out*in, dW in*out*B, dx B*in*out
 * where computed). Bias, activation and softmax work is in Ember's TIME but
 * not in its FLOP count. Not timed at all: the loss, zeroing the gradients,
 * the optimizer update. Output: the median of SAMPLES samples, each repeating
 * the step for >= SAMPLE_S seconds, with Ember and sgemm samples interleaved.
 * It also checks once (untimed) that the 4096 layer's y, dW, db and dx equal
 * sgemm's within float tolerance, so both sides computed the same thing.
 * Exit status: 1 if that check fails or setup fails; a BELOW verdict is
 * reported, not an error (the machine may be noisy). Option -v prints every
 * sample. Results and findings: bench/RESULTS.md.
 */
#define _POSIX_C_SOURCE 200809L

#include "kernels/gemm.h"
#include "model/model.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Samples per configuration: a median of at least 7; 9 because the machine
 * this was written on is shared and noisy. */
#define SAMPLES 9
/* Seconds each sample repeats the step, so the clock's resolution and
 * one-off stalls are small against it. */
#define SAMPLE_S 0.2
/* Seconds of untimed steps per side and configuration: worker threads
 * started, pages touched, clock ramped up. */
#define WARMUP_S 0.3
/* Seconds of sleep after each multi-threaded sample: OpenBLAS's pthread
 * workers keep spinning for ~2^28 cycles (THREAD_TIMEOUT, ~0.1 s at 2.5 GHz)
 * after a threaded call (measured: ~35 ms of CPU in the next 50 ms), and on
 * 2 cores would steal one from the next Ember sample. */
#define SETTLE_S 0.15
/* Acceptance: the 4096 layer reaches at least this fraction of sgemm. */
#define TARGET_RATIO 0.80
/* Correctness check: max |ember - ref| <= CHECK_TOL * max |ref| per array.
 * A 4096-term float sum in another order differs by ~sqrt(K)*eps ~ 4e-6. */
#define CHECK_TOL 1e-4

#define MAX_LAYERS 2
#define MAX_OPS (3 * MAX_LAYERS)

/* One row-major product C[M][N] = op(A) op(B) + beta * C (gemm.h's terms). */
typedef struct gemm_op {
    int ta, tb;
    int64_t M, N, K;
    float beta;
    const float *A, *B;
    float *C;
} gemm_op;

typedef struct bench_case {
    const char *name;
    int64_t B;
    int n_layers;
    int64_t dims[MAX_LAYERS + 1];      /* widths: dims[0] input, dims[i+1] layer i */
    ember_activation act[MAX_LAYERS];
    ember_loss_kind loss;
    int layer_only;                    /* 1: one layer through its ops, with dx */

    ember_model *m;
    float *dout;                       /* [B][dims[n_layers]] fixed output gradient */
    ember_step_ctx ctx;

    gemm_op ops[MAX_OPS];              /* the baseline's products, in step order */
    int n_ops;
    float *bufs[4 * MAX_LAYERS + 3];   /* dout + baseline buffers, freed at the end */
    int n_bufs;
    double flops;                      /* per step: sum of 2*M*N*K over ops */
} bench_case;

static void fill(float *v, int64_t n, ember_rng *r, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * ember__rng_uniform(r);
}

static float *new_buf(bench_case *c, int64_t n, ember_rng *r, float lo, float hi)
{
    float *p = ember__alloc((size_t)n * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_dense: out of memory (%lld floats)\n", (long long)n);
        exit(1);
    }
    fill(p, n, r, lo, hi);
    c->bufs[c->n_bufs++] = p;
    return p;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void use_ember_threads(int T)
{
#ifdef _OPENMP
    omp_set_num_threads(T);
#else
    (void)T;
#endif
    ember__blas_single_thread();
}

static void use_blas_threads(int T) { openblas_set_num_threads(T); }

static void run_op(const gemm_op *o)
{
    int64_t lda = o->ta ? o->M : o->K, ldb = o->tb ? o->K : o->N;
    cblas_sgemm(CblasRowMajor, o->ta ? CblasTrans : CblasNoTrans,
                o->tb ? CblasTrans : CblasNoTrans, (int)o->M, (int)o->N, (int)o->K, 1.0f, o->A,
                (int)lda, o->B, (int)ldb, o->beta, o->C, (int)o->N);
}

/* ---- the two steps being compared ---- */

static void ember_step(bench_case *c)
{
    ember_model *m = c->m;
    if (c->layer_only) {
        ember_layer *l = m->layers[0];
        l->ops->forward(l, m->acts[1], m->acts[0], c->B, &c->ctx);
        l->ops->backward(l, m->grad_b, c->dout, m->acts[0], m->acts[1], c->B, &c->ctx);
    } else {
        ember__model_forward(m, c->B, &c->ctx);
        ember__model_backward(m, c->dout, c->B, &c->ctx);
    }
}

static void blas_step(bench_case *c)
{
    for (int i = 0; i < c->n_ops; i++)
        run_op(&c->ops[i]);
}

/* ---- setup ---- */

static int setup(bench_case *c, uint64_t seed)
{
    ember_error err;
    int64_t in_shape[1] = {c->dims[0]};
    ember_status s = ember_model_create(&c->m, 1, in_shape, seed, &err);
    for (int i = 0; !s && i < c->n_layers; i++)
        s = ember_model_add_dense(c->m, c->dims[i + 1], c->act[i], &err);
    ember_optimizer_config opt = ember_optimizer_sgd(0.01f, 0.0f, 0);
    if (!s)
        s = ember_model_compile(c->m, &opt, c->loss, &err);
    if (!s)
        s = ember__model_arena(c->m, c->B, 0, &err);
    if (s) {
        fprintf(stderr, "bench_dense: %s: %s (%s)\n", c->name, err.message, err.where);
        return 1;
    }
    ember_rng r = ember__rng_stream(seed, 100, 0, 0);
    int64_t B = c->B, n = c->n_layers;
    fill(c->m->acts[0], B * c->dims[0], &r, 0.0f, 1.0f); /* pixel-like inputs */
    c->dout = new_buf(c, B * c->dims[n], &r, -0.01f, 0.01f);
    c->ctx.training = 1;
    c->ctx.dropout_rng = ember__rng_stream(seed, EMBER_STREAM_DROPOUT, 0, 0);

    /* Baseline: own buffers, same shapes. x[i] is layer i's input (x[i+1] its
     * output), dz[i] the gradient at layer i's output; layer i's dx lands in
     * dz[i-1] (or dx0 for the first layer when it is computed). */
    float *x[MAX_LAYERS + 1], *W[MAX_LAYERS], *dW[MAX_LAYERS], *dz[MAX_LAYERS];
    for (int i = 0; i <= n; i++)
        x[i] = new_buf(c, B * c->dims[i], &r, 0.0f, 1.0f);
    for (int i = 0; i < n; i++) {
        float lim = sqrtf(6.0f / (float)(c->dims[i] + c->dims[i + 1]));
        W[i] = new_buf(c, c->dims[i] * c->dims[i + 1], &r, -lim, lim);
        dW[i] = new_buf(c, c->dims[i] * c->dims[i + 1], &r, 0.0f, 0.0f);
        dz[i] = new_buf(c, B * c->dims[i + 1], &r, -0.01f, 0.01f);
    }
    float *dx0 = c->layer_only ? new_buf(c, B * c->dims[0], &r, 0.0f, 0.0f) : NULL;
    c->n_ops = 0;
    for (int i = 0; i < n; i++) /* forward: y = x W */
        c->ops[c->n_ops++] = (gemm_op){0, 0, B, c->dims[i + 1], c->dims[i], 0.0f, x[i], W[i], x[i + 1]};
    for (int i = n - 1; i >= 0; i--) {
        /* dW += x^T dz */
        c->ops[c->n_ops++] = (gemm_op){1, 0, c->dims[i], c->dims[i + 1], B, 1.0f, x[i], dz[i], dW[i]};
        /* dx = dz W^T */
        float *dx = i > 0 ? dz[i - 1] : dx0;
        if (dx)
            c->ops[c->n_ops++] = (gemm_op){0, 1, B, c->dims[i], c->dims[i + 1], 0.0f, dz[i], W[i], dx};
    }
    c->flops = 0.0;
    for (int i = 0; i < c->n_ops; i++)
        c->flops += 2.0 * (double)c->ops[i].M * (double)c->ops[i].N * (double)c->ops[i].K;
    return 0;
}

static void teardown(bench_case *c)
{
    for (int i = 0; i < c->n_bufs; i++)
        ember__free(c->bufs[i]);
    ember_model_destroy(c->m);
}

/* ---- correctness (untimed): the layer's y, dW, db, dx against sgemm ---- */

static int compare(const char *what, int T, const float *got, const float *ref, int64_t n)
{
    double maxd = 0.0, maxr = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]), a = fabs((double)ref[i]);
        maxd = d > maxd ? d : maxd;
        maxr = a > maxr ? a : maxr;
    }
    double rel = maxr > 0.0 ? maxd / maxr : maxd;
    int ok = rel <= CHECK_TOL;
    printf("  check %-2s T=%d: max|ember-sgemm| %.3g, / max|sgemm| %.2e  %s\n", what, T, maxd, rel,
           ok ? "ok" : "MISMATCH");
    return ok;
}

static int check_layer(bench_case *c, int T)
{
    ember_model *m = c->m;
    ember_layer *l = m->layers[0];
    int64_t B = c->B, in = c->dims[0], out = c->dims[1];
    float *W = l->params, *b = l->params + in * out;
    ember_rng r = ember__rng_stream(7, 101, (uint64_t)T, 0);
    fill(b, out, &r, -1.0f, 1.0f); /* non-zero bias, so adding it is checked too */
    memset(l->grads, 0, (size_t)l->param_count * sizeof *l->grads);
    c->ctx.threads = T;
    use_ember_threads(T);
    ember_step(c);

    float *y = ember__alloc((size_t)(B * out) * sizeof *y);
    float *dW = ember__alloc((size_t)(in * out) * sizeof *dW);
    float *dx = ember__alloc((size_t)(B * in) * sizeof *dx);
    float *db = ember__alloc((size_t)out * sizeof *db);
    if (!y || !dW || !dx || !db) {
        fprintf(stderr, "bench_dense: out of memory for the check\n");
        exit(1);
    }
    use_blas_threads(T);
    gemm_op f = {0, 0, B, out, in, 0.0f, m->acts[0], W, y};
    gemm_op g = {1, 0, in, out, B, 0.0f, m->acts[0], c->dout, dW};
    gemm_op h = {0, 1, B, in, out, 0.0f, c->dout, W, dx};
    run_op(&f);
    run_op(&g);
    run_op(&h);
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < out; j++)
            y[i * out + j] += b[j];
    for (int64_t j = 0; j < out; j++) {
        double s = 0.0;
        for (int64_t i = 0; i < B; i++)
            s += c->dout[i * out + j];
        db[j] = (float)s;
    }
    int ok = compare("y", T, m->acts[1], y, B * out);
    ok &= compare("dW", T, l->grads, dW, in * out);
    ok &= compare("db", T, l->grads + in * out, db, out);
    ok &= compare("dx", T, m->grad_b, dx, B * in);
    ember__free(y);
    ember__free(dW);
    ember__free(dx);
    ember__free(db);
    return ok;
}

/* ---- timing ---- */

typedef void (*step_fn)(bench_case *c);

/* Repeat the step for >= secs seconds; returns GFLOP/s. */
static double sample(step_fn f, bench_case *c, double secs)
{
    long reps = 0;
    double t0 = ember__now(), t;
    do {
        f(c);
        reps++;
        t = ember__now() - t0;
    } while (t < secs);
    return (double)reps * c->flops / t * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stats {
    double med, lo, hi;
} stats;

static stats summarise(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    stats s = {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v[0], v[n - 1]};
    return s;
}

/* CPU seconds the whole machine spent busy (not idle/iowait), from
 * /proc/stat; and the steal time. Negative when unavailable. */
static void machine_cpu(double *busy, double *steal)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    *busy = *steal = -1.0;
    if (!f)
        return;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return;
    double hz = (double)sysconf(_SC_CLK_TCK);
    *busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz; /* user nice system irq softirq */
    *steal = (double)v[7] / hz;
}

static double process_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct result {
    stats em, bl;
    double paired;  /* median over samples of ember[s] / sgemm[s] (taken back to back) */
    double others;  /* CPUs used on average by other processes (and the hypervisor's steal) */
} result;

static int verbose; /* -v: print every sample */

static result measure(bench_case *c, int T)
{
    double e[SAMPLES], b[SAMPLES], q[SAMPLES];
    double settle = T > 1 ? SETTLE_S : 0.0;
    double busy0, steal0, busy1, steal1;
    machine_cpu(&busy0, &steal0);
    double cpu0 = process_cpu(), t0 = ember__now();
    c->ctx.threads = T;
    ember_model_set_threads(c->m, T);
    use_ember_threads(T);
    sample(ember_step, c, WARMUP_S);
    sleep_s(settle);
    use_blas_threads(T);
    sample(blas_step, c, WARMUP_S);
    sleep_s(settle);
    for (int s = 0; s < SAMPLES; s++) {
        use_ember_threads(T);
        e[s] = sample(ember_step, c, SAMPLE_S);
        sleep_s(settle);
        use_blas_threads(T);
        b[s] = sample(blas_step, c, SAMPLE_S);
        sleep_s(settle);
        q[s] = e[s] / b[s];
    }
    machine_cpu(&busy1, &steal1);
    if (verbose) {
        printf("  samples %s B=%lld T=%d, Ember/sgemm GFLOP/s:", c->name, (long long)c->B, T);
        for (int s = 0; s < SAMPLES; s++)
            printf(" %.1f/%.1f", e[s], b[s]);
        printf("\n");
    }
    double wall = ember__now() - t0, cpu = process_cpu() - cpu0;
    result r;
    r.em = summarise(e, SAMPLES);
    r.bl = summarise(b, SAMPLES);
    r.paired = summarise(q, SAMPLES).med;
    r.others = busy0 < 0.0 ? NAN : ((busy1 - busy0) - cpu + (steal1 - steal0)) / wall;
    return r;
}

static double spread_pct(stats s) { return 100.0 * (s.hi - s.lo) / s.med; }

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else {
            fprintf(stderr, "usage: %s [-v]   (-v: print every sample)\n", argv[0]);
            return 2;
        }
    }
    bench_case cases[] = {
        {.name = "MLP 784-128-10", .B = 32, .n_layers = 2, .dims = {784, 128, 10},
         .act = {EMBER_ACT_RELU, EMBER_ACT_SOFTMAX}, .loss = EMBER_LOSS_CATEGORICAL_CROSSENTROPY},
        {.name = "MLP 784-128-10", .B = 256, .n_layers = 2, .dims = {784, 128, 10},
         .act = {EMBER_ACT_RELU, EMBER_ACT_SOFTMAX}, .loss = EMBER_LOSS_CATEGORICAL_CROSSENTROPY},
        {.name = "Dense 4096x4096", .B = 256, .n_layers = 1, .dims = {4096, 4096},
         .act = {EMBER_ACT_LINEAR}, .loss = EMBER_LOSS_MSE, .layer_only = 1},
    };
    enum { N_CASES = sizeof cases / sizeof cases[0], BIG = N_CASES - 1 };
    const int threads[] = {1, 2};
    enum { N_T = sizeof threads / sizeof threads[0] };

    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    printf("bench_dense: Dense forward+backward vs raw OpenBLAS sgemm at the same shapes\n");
    printf("  date %s, ember %s, commit %s\n", date, ember_version(), ember_git_commit());
    printf("  OpenBLAS core %s (%s), OPENBLAS_CORETYPE %s%s\n", openblas_get_corename(),
           openblas_get_config(), coretype ? "set to " : "not set", coretype ? coretype : "");
#ifdef _OPENMP
    const char *wait = getenv("OMP_WAIT_POLICY");
    printf("  OpenMP on, OMP_WAIT_POLICY %s%s, %d online CPUs\n", wait ? "set to " : "not set",
           wait ? wait : "", ember__cores());
#else
    printf("  OpenMP OFF (Ember runs single-threaded), %d online CPUs\n", ember__cores());
#endif
    printf("  FLOPs: 2*M*N*K per sgemm (fwd, dW, dx where computed); bias/activation/softmax\n"
           "  FLOPs not counted (their time is in Ember's). MLP: whole model, fixed output\n"
           "  gradient instead of a loss, no dx for layer 0. 4096: layer ops, dx computed.\n"
           "  Median of %d samples of >= %.1f s each; spread = (max-min)/median.\n",
           SAMPLES, SAMPLE_S);

    for (int i = 0; i < N_CASES; i++)
        if (setup(&cases[i], 42 + (uint64_t)i))
            return 1;

    int ok = 1;
    for (int t = 0; t < N_T; t++)
        ok &= check_layer(&cases[BIG], threads[t]);
    if (!ok) {
        printf("bench_dense: the 4096 layer does not match sgemm; timings would be meaningless\n");
        return 1;
    }

    printf("\nratio = median Ember / median sgemm; paired = median of per-sample ratios\n"
           "(Ember and sgemm samples back to back); others = CPUs busy with other\n"
           "processes or stolen by the hypervisor meanwhile (of %d; 0 = quiet machine).\n",
           ember__cores());
    printf("%-16s %4s %2s %9s | %10s %6s | %10s %6s | %6s %6s | %6s\n", "shape", "B", "T",
           "GFLOP/st", "Ember GF/s", "spread", "sgemm GF/s", "spread", "ratio", "paired",
           "others");
    double big_ratio[N_T] = {0};
    for (int i = 0; i < N_CASES; i++)
        for (int t = 0; t < N_T; t++) {
            result r = measure(&cases[i], threads[t]);
            double ratio = r.em.med / r.bl.med;
            if (i == BIG)
                big_ratio[t] = ratio;
            printf("%-16s %4lld %2d %9.4f | %10.1f %5.1f%% | %10.1f %5.1f%% | %6.3f %6.3f | %6.2f\n",
                   cases[i].name, (long long)cases[i].B, threads[t], cases[i].flops * 1e-9,
                   r.em.med, spread_pct(r.em), r.bl.med, spread_pct(r.bl), ratio, r.paired,
                   r.others);
            fflush(stdout);
        }
    printf("\n");
    for (int t = 0; t < N_T; t++)
        printf("4096 layer, %d thread%s: Ember/sgemm = %.3f  %s (target >= %.2f)\n", threads[t],
               threads[t] > 1 ? "s" : " ", big_ratio[t],
               big_ratio[t] >= TARGET_RATIO ? "PASS" : "BELOW", TARGET_RATIO);

    for (int i = 0; i < N_CASES; i++)
        teardown(&cases[i]);
    return 0;
}
