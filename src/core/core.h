/*
 * core.h - internal helpers every part of Ember may use: error reporting,
 * aligned allocation, overflow-checked sizes, the counter-based RNG, and a
 * monotonic clock. Not part of the public API.
 */
#ifndef EMBER_CORE_H
#define EMBER_CORE_H

#include "ember.h"

#include <stdarg.h>
#include <stdbool.h>

/* 1 in the libFuzzer build (EMBER_FUZZ=ON defines
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the usual name for it), else 0.
 * There the model loader computes its checksums and the canonical-header
 * test but does not fail on them, so that mutated files reach the checks
 * behind them; nothing else changes. Never defined in a normal build. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define EMBER__FUZZING 1
#else
#define EMBER__FUZZING 0
#endif

/* Fill `err` (if non-NULL) with `code` and a printf-style message, recording
 * Ember's own source location; returns `code` so callers can write
 * `return EMBER_FAIL(err, EMBER_ERR_ARG, "...", ...);`. */
ember_status ember__fail(ember_error *err, ember_status code, const char *file, int line,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define EMBER_FAIL(err, code, ...) ember__fail((err), (code), __FILE__, __LINE__, __VA_ARGS__)

/* Prefix an existing error message with more context ("layer 2 (dense): ..."). */
void ember__error_prefix(ember_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 64-byte aligned allocation; size 0 allocates one alignment unit. NULL on
 * failure. Free with ember__free. */
void *ember__alloc(size_t bytes);
void *ember__calloc(size_t bytes);
void ember__free(void *p);

/* a * b into *out; false on overflow or negative operands. */
bool ember__mul_size(size_t a, size_t b, size_t *out);
bool ember__mul_i64(int64_t a, int64_t b, int64_t *out);

/* ------------------------------------------------------------------ RNG
 * Counter-based: value i of stream (key) is mix(key, i), so any element can
 * be drawn independently of the others (parallel dropout, resumable runs).
 * The mixer is SplitMix64's finaliser applied to key + i * golden ratio; keys
 * for the separate streams (init, shuffle, dropout) are derived from the seed
 * the same way, so one seed fixes everything. No rand(). */
typedef struct ember_rng {
    uint64_t key;
    uint64_t counter;
} ember_rng;

enum {
    EMBER_STREAM_INIT = 1,
    EMBER_STREAM_SHUFFLE = 2,
    EMBER_STREAM_DROPOUT = 3,
    EMBER_STREAM_AUGMENT = 4
};

uint64_t ember__mix64(uint64_t x);
/* Stream for (seed, purpose, a, b), e.g. (seed, SHUFFLE, epoch, 0). */
ember_rng ember__rng_stream(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b);
uint64_t ember__rng_u64(ember_rng *r);
/* Uniform in [0, 1) with 24 random bits (exact in float). */
float ember__rng_uniform(ember_rng *r);
/* Element `i` of the stream as a uniform float in [0, 1), without state. */
float ember__rng_uniform_at(const ember_rng *r, uint64_t i);
/* Standard normal (Box-Muller on two uniforms). */
float ember__rng_normal(ember_rng *r);
/* Uniform integer in [0, n), unbiased (rejection). n > 0. */
uint64_t ember__rng_below(ember_rng *r, uint64_t n);

/* Run `loop` (a for statement over a static schedule) in an OpenMP
 * parallel region only when `cond` holds. `#pragma omp parallel ... if
 * (cond)` still enters libgomp when cond is false, and libgomp ends every
 * region, even a one-thread one, with a futex system call: six of them per
 * single-text prediction, about a third of its time. The _T form adds
 * num_threads(threads) (a variable named `threads` must be in scope). */
#define EMBER_PAR_FOR_IF(cond, ...)                                                         \
    do {                                                                                    \
        if (cond) {                                                                         \
            _Pragma("omp parallel for schedule(static)") __VA_ARGS__                         \
        } else {                                                                            \
            __VA_ARGS__                                                                     \
        }                                                                                   \
    } while (0)
#define EMBER_PAR_FOR_IF_T(cond, ...)                                                       \
    do {                                                                                    \
        if (cond) {                                                                         \
            _Pragma("omp parallel for schedule(static) num_threads(threads)") __VA_ARGS__    \
        } else {                                                                            \
            __VA_ARGS__                                                                     \
        }                                                                                   \
    } while (0)

/* Hot element-wise loops get an AVX2 clone chosen at load time (GCC
 * function multi-versioning through an ifunc), so one binary runs on any
 * x86-64 and uses 256-bit vectors where the CPU has them. Results do not
 * change between clones: the build keeps FMA contraction off (-std=c11 gives
 * -ffp-contract=off), and vector add/mul/div/sqrt are exact IEEE operations
 * like the scalar ones; reductions use a fixed accumulator layout. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(EMBER_NO_CLONES)
#define EMBER_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EMBER_CLONES
#endif

/* Seconds from a monotonic clock. */
double ember__now(void);

/* Number of online CPUs (>= 1). */
int ember__cores(void);

#endif
