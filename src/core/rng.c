/*
 * rng.c - counter-based pseudo-random numbers (see core.h). Each draw is a
 * pure function of (key, counter), so streams can be split, skipped and used
 * from several threads without sharing state.
 */
#include "core.h"

#include <math.h>

/* 2^64 / golden ratio, the Weyl increment SplitMix64 uses. */
#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ULL

uint64_t ember__mix64(uint64_t x)
{
    /* SplitMix64 finaliser (Stafford's variant 13). */
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
}

ember_rng ember__rng_stream(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b)
{
    uint64_t k = ember__mix64(seed + GOLDEN_GAMMA);
    k = ember__mix64(k ^ (purpose * GOLDEN_GAMMA));
    k = ember__mix64(k ^ (a + 1) * GOLDEN_GAMMA);
    k = ember__mix64(k ^ (b + 1) * 0xD1B54A32D192ED03ULL);
    ember_rng r = {k, 0};
    return r;
}

static inline uint64_t at(uint64_t key, uint64_t i)
{
    return ember__mix64(key + (i + 1) * GOLDEN_GAMMA);
}

uint64_t ember__rng_u64(ember_rng *r) { return at(r->key, r->counter++); }

float ember__rng_uniform(ember_rng *r)
{
    return (float)(ember__rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

float ember__rng_uniform_at(const ember_rng *r, uint64_t i)
{
    return (float)(at(r->key, i) >> 40) * (1.0f / 16777216.0f);
}

float ember__rng_normal(ember_rng *r)
{
    /* Box-Muller; u1 in (0, 1] so the log is finite. */
    double u1 = ((double)(ember__rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(ember__rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t ember__rng_below(ember_rng *r, uint64_t n)
{
    /* Reject the top partial block so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = ember__rng_u64(r);
    } while (x >= limit);
    return x % n;
}
