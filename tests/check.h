/*
 * check.h - the tiny harness every test uses. CHECK records a failure and
 * goes on; a test's main returns check_summary(), which prints
 * "N passed, M failed" and is non-zero when anything failed. A test that
 * cannot run here (missing data) returns CHECK_SKIP (77, ctest's skip code)
 * after saying why.
 */
#ifndef EMBER_CHECK_H
#define EMBER_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECK_SKIP 77

static int check_passed_, check_failed_;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (cond) {                                                                       \
            check_passed_++;                                                              \
        } else {                                                                          \
            check_failed_++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
        }                                                                                 \
    } while (0)

#define CHECK_MSG(cond, ...)                                                              \
    do {                                                                                  \
        if (cond) {                                                                       \
            check_passed_++;                                                              \
        } else {                                                                          \
            check_failed_++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
        }                                                                                 \
    } while (0)

/* |a - b| <= abs_tol + rel_tol * |b|, b being the reference. */
#define CHECK_CLOSE(a, b, abs_tol, rel_tol)                                               \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (abs_tol) + (rel_tol) * fabs((double)(b)), \
              "got %.9g, expected %.9g", (double)(a), (double)(b))

/* The call must fail with `code` and its message must contain `needle`. */
#define CHECK_ERR(call, code, errp, needle)                                               \
    do {                                                                                  \
        ember_status s_ = (call);                                                         \
        CHECK_MSG(s_ == (code) && strstr((errp)->message, (needle)) != NULL,              \
                  "status %d (want %d), message \"%s\" (want \"%s\")", (int)s_, (int)(code), \
                  (errp)->message, (needle));                                             \
    } while (0)

#define CHECK_OK(call, errp)                                                              \
    do {                                                                                  \
        ember_status s_ = (call);                                                         \
        CHECK_MSG(s_ == EMBER_OK, "status %d: %s", (int)s_, (errp)->message);            \
    } while (0)

static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}

#endif
