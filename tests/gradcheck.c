/* gradcheck.c - see gradcheck.h. */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>

gc_result gradcheck(float *x, const float *analytic, int64_t n, int64_t max_checks, gc_fn f,
                    void *ctx)
{
    gc_result r = {0, 0, -1, 0.0, 0.0, 0.0};
    int64_t stride = (max_checks > 0 && n > max_checks) ? n / max_checks : 1;
    double f0 = f(ctx);
    for (int64_t i = 0; i < n; i += stride) {
        float saved = x[i];
        x[i] = (float)(saved + GC_EPS);
        double hp = (double)x[i] - saved; /* the step actually taken in float */
        double fp = f(ctx);
        x[i] = (float)(saved - GC_EPS);
        double hm = saved - (double)x[i];
        double fm = f(ctx);
        x[i] = saved;
        double num = (fp - fm) / (hp + hm);
        double a = analytic[i];
        double err = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), GC_FLOOR);
        if (err > GC_REL_TOL) {
            /* A mismatch counts as a kink (skipped) only if the two one-sided
             * slopes disagree by more than the mismatch itself: a derivative
             * jump between x-eps and x+eps, not smooth curvature. At a pure
             * kink the analytic value is one of the one-sided slopes and the
             * central difference their mean, so the slopes differ by exactly
             * twice the mismatch; a wrong gradient of a smooth function has
             * slopes that agree (up to curvature) and a large mismatch. */
            double right = (fp - f0) / hp, left = (f0 - fm) / hm;
            if (fabs(right - left) > fabs(a - num)) {
                r.skipped++;
                continue;
            }
        }
        r.checked++;
        if (err > r.max_err || r.worst < 0) {
            r.max_err = err;
            r.worst = i;
            r.analytic = a;
            r.numeric = num;
        }
    }
    return r;
}

int gradcheck_report(const char *name, gc_result r)
{
    int ok = r.checked > 0 && r.max_err <= GC_REL_TOL && r.skipped * 10 <= r.checked + r.skipped;
    printf("gradcheck %-40s %s: checked %lld, kinks skipped %lld, max rel err %.2e "
           "(index %lld: analytic %.6g, numeric %.6g)\n",
           name, ok ? "ok  " : "FAIL", (long long)r.checked, (long long)r.skipped, r.max_err,
           (long long)r.worst, r.analytic, r.numeric);
    return ok;
}
