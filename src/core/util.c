/*
 * util.c - aligned allocation, checked size arithmetic, clock, core count,
 * and the version strings.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ember_commit.h" /* EMBER_GIT_COMMIT, regenerated at every build */
#define EMBER_STR2(x) #x
#define EMBER_STR(x) EMBER_STR2(x)

const char *ember_version(void)
{
    return EMBER_STR(EMBER_VERSION_MAJOR) "." EMBER_STR(EMBER_VERSION_MINOR) "." EMBER_STR(
        EMBER_VERSION_PATCH);
}

const char *ember_git_commit(void) { return EMBER_GIT_COMMIT; }

void *ember__alloc(size_t bytes)
{
    /* aligned_alloc needs a size that is a multiple of the alignment. */
    size_t rounded = (bytes + EMBER_ALIGNMENT - 1) / EMBER_ALIGNMENT * EMBER_ALIGNMENT;
    if (rounded < bytes)
        return NULL;
    if (rounded == 0)
        rounded = EMBER_ALIGNMENT;
    return aligned_alloc(EMBER_ALIGNMENT, rounded);
}

void *ember__calloc(size_t bytes)
{
    void *p = ember__alloc(bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void ember__free(void *p) { free(p); }

bool ember__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

bool ember__mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return false;
    if (a != 0 && b > INT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

double ember__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ember__cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)n : 1;
}
