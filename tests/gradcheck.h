/*
 * gradcheck.h - central-difference gradient checks for float32 code.
 *
 * f is evaluated in float32 by the code under test, then reduced in double.
 * eps (the step) balances truncation error O(eps^2 f''') against rounding
 * error O(u |f| / eps) with u = 2^-24: for values of order 1, eps = 1e-2 gives
 * both near 1e-4 relative, well under the tolerances used (1e-2 relative to
 * max(|analytic|, |numeric|, floor)).
 * Kinks (ReLU at 0, clipping edges) are detected, not assumed away: when an
 * index fails and its two one-sided differences disagree by more than the
 * mismatch (a derivative jump inside the step), it is counted as skipped.
 */
#ifndef EMBER_GRADCHECK_H
#define EMBER_GRADCHECK_H

#include <stdint.h>

/* Step and tolerances, named with their reasons above. */
#define GC_EPS 1e-2
#define GC_REL_TOL 1e-2
#define GC_FLOOR 1e-3

typedef double (*gc_fn)(void *ctx);

typedef struct gc_result {
    int64_t checked, skipped, worst;
    double max_err;           /* max |a - n| / max(|a|, |n|, floor) */
    double analytic, numeric; /* at the worst index */
} gc_result;

/* Perturb x[i] for i in [0, n) (at most `max_checks` evenly spread indices,
 * 0 = all), evaluate f, compare with analytic[i]. */
gc_result gradcheck(float *x, const float *analytic, int64_t n, int64_t max_checks, gc_fn f,
                    void *ctx);

/* Prints the result and returns 1 if it passes (max_err <= GC_REL_TOL and
 * fewer than 10% of the checks skipped as kinks). */
int gradcheck_report(const char *name, gc_result r);

#endif
