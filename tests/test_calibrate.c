/*
 * test_calibrate.c - ember_calibrate_threshold: hand-computed cases (the
 * arithmetic in comments), groups of equal probabilities, a non-monotone
 * precision curve, an unreachable target, bad input, and the O(n log n)
 * sweep against a plain O(n^2) reference on random data with many ties.
 */
#include "check.h"
#include "ember.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Precision and coverage are ratios of small integers computed in double. */
#define RATIO_TOL 1e-12

static void expect_result(const float *top, const unsigned char *correct, int64_t n,
                          double target, float t, int64_t answered, int64_t right, int monotone)
{
    ember_error err;
    ember_calibration c = {0};
    CHECK_OK(ember_calibrate_threshold(top, correct, n, target, &c, &err), &err);
    CHECK_MSG(c.threshold == (double)t, "target %g: threshold %.9g, want %.9g", target,
              c.threshold, (double)t);
    CHECK_MSG(c.answered == answered, "target %g: answered %lld, want %lld", target,
              (long long)c.answered, (long long)answered);
    CHECK(c.n == n);
    CHECK_CLOSE(c.precision, (double)right / (double)answered, RATIO_TOL, 0);
    CHECK_CLOSE(c.coverage, (double)answered / (double)n, RATIO_TOL, 0);
    CHECK_MSG(c.monotone_above == monotone, "target %g: monotone_above %d, want %d", target,
              c.monotone_above, monotone);
}

/* top     0.9 0.8 0.7 0.6 0.5
 * correct  1   1   0   1   0
 * t = 0.9: 1/1 = 1     t = 0.8: 2/2 = 1     t = 0.7: 2/3 = 0.667
 * t = 0.6: 3/4 = 0.75  t = 0.5: 3/5 = 0.6
 * The curve dips at 0.7, so a target it misses there is not monotone above. */
static void test_hand(void)
{
    const float top[5] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
    const unsigned char ok[5] = {1, 1, 0, 1, 0};
    expect_result(top, ok, 5, 0.75, 0.6f, 4, 3, 0); /* 0.7 gives 2/3 < 0.75 */
    expect_result(top, ok, 5, 0.8, 0.8f, 2, 2, 1);
    expect_result(top, ok, 5, 1.0, 0.8f, 2, 2, 1);
    expect_result(top, ok, 5, 0.6, 0.5f, 5, 3, 1); /* 3/5 == 0.6 in double */
    expect_result(top, ok, 5, 0.5, 0.5f, 5, 3, 1); /* 2/3 and 3/4 both >= 0.5 */
    expect_result(top, ok, 5, 2.0 / 3.0, 0.6f, 4, 3, 1);
    /* order of the input does not matter */
    const float rtop[5] = {0.5f, 0.7f, 0.9f, 0.6f, 0.8f};
    const unsigned char rok[5] = {0, 0, 1, 1, 1};
    expect_result(rtop, rok, 5, 0.75, 0.6f, 4, 3, 0);
    /* one example */
    const float one = 0.3f;
    const unsigned char yes = 1;
    expect_result(&one, &yes, 1, 1.0, 0.3f, 1, 1, 1);
}

/* top     0.9 0.7 0.7 0.7 0.5
 * correct  1   (1, 1, 0 in some order)  0
 * t = 0.9: 1/1;  t = 0.7: all three 0.7s together: 3/4 = 0.75;  t = 0.5: 3/5.
 * Splitting the group would give 0.7 a precision of 1 or 2/3 depending on
 * the order; both orders of the group are tried. */
static void test_ties(void)
{
    const float top[5] = {0.9f, 0.7f, 0.7f, 0.7f, 0.5f};
    const unsigned char ok_first[5] = {1, 1, 1, 0, 0}, ok_last[5] = {1, 0, 1, 1, 0};
    expect_result(top, ok_first, 5, 0.75, 0.7f, 4, 3, 1);
    expect_result(top, ok_last, 5, 0.75, 0.7f, 4, 3, 1);
    expect_result(top, ok_first, 5, 0.8, 0.9f, 1, 1, 1);
    expect_result(top, ok_last, 5, 0.8, 0.9f, 1, 1, 1);
    /* all equal: one candidate */
    const float same[3] = {0.4f, 0.4f, 0.4f};
    const unsigned char ok3[3] = {1, 0, 1};
    expect_result(same, ok3, 3, 0.6, 0.4f, 3, 2, 1);
}

/* A curve that meets a target at the bottom, misses it in the middle and
 * meets it at the top:
 * top     0.95 0.9 0.85 0.8 0.75 0.7
 * correct  1    0   0    1   1    1
 * 0.95: 1/1  0.9: 1/2  0.85: 1/3  0.8: 2/4  0.75: 3/5  0.7: 4/6 = 0.667
 * target 0.6 -> 0.7 (the smallest), with 0.9, 0.85 and 0.8 below target. */
static void test_non_monotone(void)
{
    const float top[6] = {0.95f, 0.9f, 0.85f, 0.8f, 0.75f, 0.7f};
    const unsigned char ok[6] = {1, 0, 0, 1, 1, 1};
    expect_result(top, ok, 6, 0.6, 0.7f, 6, 4, 0);
    expect_result(top, ok, 6, 0.5, 0.7f, 6, 4, 0); /* 0.85 gives 1/3 */
    expect_result(top, ok, 6, 1.0 / 3.0, 0.7f, 6, 4, 1);
    expect_result(top, ok, 6, 0.7, 0.95f, 1, 1, 1);
}

static void test_unreachable(void)
{
    /* 0.9: 0/1; 0.8: 1/2 -> the best is 0.5 at 0.8 (0.8f prints 0.800000012) */
    const float top[2] = {0.9f, 0.8f};
    const unsigned char ok[2] = {0, 1};
    ember_error err;
    ember_calibration c = {.threshold = -1};
    CHECK_ERR(ember_calibrate_threshold(top, ok, 2, 0.6, &c, &err), EMBER_ERR_NUMERIC, &err,
              "the best is 0.5 (1 right of 2 answered) at threshold 0.800000012");
    CHECK(strstr(err.message, "precision 0.6") != NULL);
    CHECK(c.threshold == -1); /* output untouched on failure */
    /* nothing right at all */
    const unsigned char none[2] = {0, 0};
    CHECK_ERR(ember_calibrate_threshold(top, none, 2, 0.01, &c, &err), EMBER_ERR_NUMERIC, &err,
              "the best is 0 ");
}

static void test_bad_input(void)
{
    const float top[3] = {0.9f, 0.8f, NAN};
    const unsigned char ok[3] = {1, 1, 1};
    ember_error err;
    ember_calibration c = {.threshold = -1};
    CHECK_ERR(ember_calibrate_threshold(top, ok, 3, 0.9, &c, &err), EMBER_ERR_ARG, &err,
              "top[2] is NaN");
    CHECK_ERR(ember_calibrate_threshold(top, ok, 0, 0.9, &c, &err), EMBER_ERR_ARG, &err, "n = 0");
    CHECK_ERR(ember_calibrate_threshold(top, ok, -3, 0.9, &c, &err), EMBER_ERR_ARG, &err, "n = -3");
    CHECK_ERR(ember_calibrate_threshold(NULL, ok, 2, 0.9, &c, &err), EMBER_ERR_ARG, &err,
              "top is NULL");
    CHECK_ERR(ember_calibrate_threshold(top, NULL, 2, 0.9, &c, &err), EMBER_ERR_ARG, &err,
              "correct is NULL");
    CHECK_ERR(ember_calibrate_threshold(top, ok, 2, 0.9, NULL, &err), EMBER_ERR_ARG, &err,
              "out is NULL");
    const double bad_targets[4] = {0.0, -0.5, 1.0000001, NAN};
    for (int i = 0; i < 4; i++)
        CHECK_ERR(ember_calibrate_threshold(top, ok, 2, bad_targets[i], &c, &err), EMBER_ERR_ARG,
                  &err, "must be in (0, 1]");
    const float out_of_range[2] = {0.5f, 1.5f};
    CHECK_ERR(ember_calibrate_threshold(out_of_range, ok, 2, 0.9, &c, &err), EMBER_ERR_ARG, &err,
              "top[1] = 1.5");
    const float neg[1] = {-0.25f};
    CHECK_ERR(ember_calibrate_threshold(neg, ok, 1, 0.9, &c, &err), EMBER_ERR_ARG, &err,
              "top[0] = -0.25");
    const unsigned char two[2] = {1, 2};
    CHECK_ERR(ember_calibrate_threshold(top, two, 2, 0.9, &c, &err), EMBER_ERR_ARG, &err,
              "correct[1] = 2");
    CHECK(c.threshold == -1);
    /* a NULL err is allowed */
    CHECK(ember_calibrate_threshold(top, ok, 0, 0.9, &c, NULL) == EMBER_ERR_ARG);
}

/* ------------------------------------------------- against a naive sweep */

/* precision(t) for every candidate by counting over all examples: O(n^2). */
static int naive(const float *top, const unsigned char *ok, int64_t n, double target,
                 ember_calibration *out)
{
    int found = 0;
    for (int64_t c = 0; c < n; c++) {
        float t = top[c];
        int64_t a = 0, r = 0;
        for (int64_t i = 0; i < n; i++)
            if (top[i] >= t) {
                a++;
                r += ok[i];
            }
        double prec = (double)r / (double)a;
        if (prec >= target && (!found || (double)t < out->threshold)) {
            found = 1;
            out->threshold = t;
            out->precision = prec;
            out->answered = a;
        }
    }
    if (!found)
        return 0;
    out->monotone_above = 1;
    for (int64_t c = 0; c < n; c++) {
        if ((double)top[c] <= out->threshold)
            continue;
        int64_t a = 0, r = 0;
        for (int64_t i = 0; i < n; i++)
            if (top[i] >= top[c]) {
                a++;
                r += ok[i];
            }
        if ((double)r / (double)a < target)
            out->monotone_above = 0;
    }
    return 1;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void test_random(void)
{
    enum { N = 1500, LEVELS = 40 }; /* 40 distinct values: many ties */
    float *top = malloc(N * sizeof *top);
    unsigned char *ok = malloc(N);
    CHECK(top && ok);
    if (!top || !ok)
        goto done;
    uint64_t seed = 7;
    for (int i = 0; i < N; i++) {
        top[i] = (float)(lcg(&seed) % LEVELS + 1) / (float)LEVELS;
        /* right more often when confident, so the curve mostly rises */
        ok[i] = (double)(lcg(&seed) % 1000) / 1000.0 < 0.3 + 0.65 * top[i];
    }
    const double targets[6] = {0.5, 0.7, 0.8, 0.85, 0.9, 0.95};
    int compared = 0;
    for (int k = 0; k < 6; k++) {
        ember_calibration want = {0}, got = {0};
        ember_error err;
        int have = naive(top, ok, N, targets[k], &want);
        ember_status s = ember_calibrate_threshold(top, ok, N, targets[k], &got, &err);
        CHECK_MSG((s == EMBER_OK) == have, "target %g: status %d, naive found %d", targets[k],
                  (int)s, have);
        if (s != EMBER_OK || !have)
            continue;
        compared++;
        CHECK_MSG(got.threshold == want.threshold && got.answered == want.answered &&
                      got.precision == want.precision &&
                      got.monotone_above == want.monotone_above,
                  "target %g: got t %.9g a %lld m %d, naive t %.9g a %lld m %d", targets[k],
                  got.threshold, (long long)got.answered, got.monotone_above, want.threshold,
                  (long long)want.answered, want.monotone_above);
    }
    CHECK_MSG(compared >= 4, "only %d targets reachable: the fixture lost its point", compared);
done:
    free(top);
    free(ok);
}

int main(void)
{
    test_hand();
    test_ties();
    test_non_monotone();
    test_unreachable();
    test_bad_input();
    test_random();
    return check_summary("calibrate");
}
