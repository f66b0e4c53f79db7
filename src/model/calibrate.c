/*
 * calibrate.c - the hand-off threshold of `ember serve`: from each
 * validation example's top probability and whether its prediction was
 * right, pick the smallest threshold whose auto-answered set keeps a target
 * precision.
 *
 * Definitions, for n examples with top probability p_i and correct_i:
 *   auto(t)      = { i : p_i >= t }            (equal p are in or out together)
 *   coverage(t)  = |auto(t)| / n
 *   precision(t) = sum of correct_i over auto(t) / |auto(t)|
 * The candidates are the distinct p_i, nothing else; the result is the
 * smallest candidate t with precision(t) >= target. Precision is not
 * monotone in t: a larger t drops a group of examples that may have been
 * mostly right, so some candidate above the chosen one can dip below the
 * target. That is not hidden: monotone_above says whether every candidate
 * above t also meets the target.
 *
 * One sort by p descending, then one sweep over groups of equal p with
 * running counts: O(n log n) time, O(n) memory.
 *
 * What it deliberately doesn't do: interpolate between candidates, smooth
 * the curve, or pick a threshold by any other rule (largest coverage at
 * the target is this rule; a confidence bound on precision would be
 * another, not done here).
 */
#include "core.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct scored {
    float p;
    unsigned char correct;
} scored;

/* p descending; equal p are one group, so their order does not matter. */
static int by_p_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return (x < y) - (x > y);
}

ember_status ember_calibrate_threshold(const float *top, const unsigned char *correct, int64_t n,
                                       double target_precision, ember_calibration *out,
                                       ember_error *err)
{
    if (!top || !correct || !out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "calibrate: %s is NULL",
                          !top ? "top" : !correct ? "correct" : "out");
    if (n < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "calibrate: n = %lld: need at least one example",
                          (long long)n);
    /* written so that a NaN target fails too */
    if (!(target_precision > 0.0 && target_precision <= 1.0))
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "calibrate: target precision %g: must be in (0, 1]", target_precision);
    for (int64_t i = 0; i < n; i++) {
        if (isnan(top[i]))
            return EMBER_FAIL(err, EMBER_ERR_ARG, "calibrate: top[%lld] is NaN", (long long)i);
        if (!(top[i] >= 0.0f && top[i] <= 1.0f))
            return EMBER_FAIL(err, EMBER_ERR_ARG,
                              "calibrate: top[%lld] = %g: a probability must be in [0, 1]",
                              (long long)i, (double)top[i]);
        if (correct[i] > 1)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "calibrate: correct[%lld] = %u: must be 0 or 1",
                              (long long)i, (unsigned)correct[i]);
    }
    size_t bytes;
    if ((uint64_t)n > SIZE_MAX || !ember__mul_size((size_t)n, sizeof(scored), &bytes))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "calibrate: %lld examples: size overflows",
                          (long long)n);
    scored *s = malloc(bytes);
    if (!s)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "calibrate: cannot allocate %zu bytes for %lld "
                          "examples", bytes, (long long)n);
    for (int64_t i = 0; i < n; i++) {
        s[i].p = top[i];
        s[i].correct = correct[i];
    }
    qsort(s, (size_t)n, sizeof *s, by_p_desc);

    /* Sweep from the highest p down. After group g (all examples with
     * p == v_g) the running counts are |auto(v_g)| and its correct ones. The
     * last group that meets the target is the smallest such candidate; the
     * flag `all_met` says whether every group before it (every larger
     * candidate) met the target too. Precision is compared as the double
     * quotient: correctly rounded, so a ratio exactly equal to the target
     * (3/4 against 0.75, 19/20 against 0.95) compares equal. */
    int64_t answered = 0, right = 0;
    int all_met = 1, found = 0;
    ember_calibration best = {0};
    double top_prec = -1.0, top_prec_t = 0.0; /* for the error: the best reachable */
    int64_t top_answered = 0, top_right = 0;
    for (int64_t i = 0; i < n;) {
        float v = s[i].p;
        for (; i < n && s[i].p == v; i++) {
            answered++;
            right += s[i].correct;
        }
        double prec = (double)right / (double)answered;
        if (prec >= top_prec) { /* ties: the smaller threshold, more coverage */
            top_prec = prec;
            top_prec_t = (double)v;
            top_answered = answered;
            top_right = right;
        }
        if (prec >= target_precision) {
            found = 1;
            best.threshold = (double)v;
            best.precision = prec;
            best.answered = answered;
            best.monotone_above = all_met;
        } else {
            all_met = 0;
        }
    }
    free(s);
    if (!found)
        return EMBER_FAIL(err, EMBER_ERR_NUMERIC,
                          "calibrate: no threshold reaches precision %g on these %lld examples: "
                          "the best is %.6g (%lld right of %lld answered) at threshold %.9g",
                          target_precision, (long long)n, top_prec, (long long)top_right,
                          (long long)top_answered, top_prec_t);
    best.n = n;
    best.coverage = (double)best.answered / (double)n;
    *out = best;
    return EMBER_OK;
}
