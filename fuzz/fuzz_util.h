/*
 * fuzz_util.h - what the harnesses share: the input as a file for the
 * readers that take a path (one memfd per process, rewritten per input and
 * opened as /proc/self/fd/N, so no disk and no temporary names), options
 * taken from the first bytes of the input, optional gzip compression, and
 * the checks every refusal must pass (the status in err.code, a message).
 *
 * A harness aborts (libFuzzer then saves the input as a crash) when one of
 * Ember's promises is broken: FUZZ_ASSERT. Sanitizer reports, leaks and
 * timeouts are libFuzzer's own findings.
 */
#ifndef EMBER_FUZZ_UTIL_H
#define EMBER_FUZZ_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "ember.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#define FUZZ_ASSERT(cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: FUZZ_ASSERT failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* The first byte of the input (0 when empty), removed from it. */
static inline uint8_t fuzz_take_byte(const uint8_t **data, size_t *size)
{
    if (*size == 0)
        return 0;
    uint8_t b = (*data)[0];
    (*data)++;
    (*size)--;
    return b;
}

/* Write data[0..size) to this process's memfd; returns its path, valid until
 * the next call. */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("ember-fuzz", MFD_CLOEXEC);
        FUZZ_ASSERT(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_ASSERT(ftruncate(fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_ASSERT(w > 0);
        done += (size_t)w;
    }
    return path;
}

/* data gzip-compressed (a gzip member, as gzip(1) writes) into a new malloc'd
 * buffer; *n its length. */
static inline uint8_t *fuzz_gzip(const uint8_t *data, size_t size, size_t *n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    FUZZ_ASSERT(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&z, (uLong)size) + 32;
    uint8_t *out = malloc(cap);
    FUZZ_ASSERT(out);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    FUZZ_ASSERT(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* The input as a file, gzip-compressed first when `gz`. */
static inline const char *fuzz_file_maybe_gz(const uint8_t *data, size_t size, int gz)
{
    if (!gz)
        return fuzz_file(data, size);
    size_t n = 0;
    uint8_t *z = fuzz_gzip(data, size, &n);
    const char *path = fuzz_file(z, n);
    free(z);
    return path;
}

/* A copy of data with a NUL after it (for the parsers that take a C string). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_ASSERT(s);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A refusal: the status is an error and err says so with a message. */
static inline void fuzz_check_refusal(ember_status s, const ember_error *err)
{
    FUZZ_ASSERT(s != EMBER_OK);
    FUZZ_ASSERT(err->code == s);
    FUZZ_ASSERT(memchr(err->message, '\0', sizeof err->message) != NULL);
    FUZZ_ASSERT(err->message[0] != '\0');
    FUZZ_ASSERT(strcmp(ember_status_to_string(s), "unknown status") != 0);
}

/* A refusal of a file read from `path`: as above, and the message names it. */
static inline void fuzz_check_file_refusal(ember_status s, const ember_error *err,
                                           const char *path)
{
    fuzz_check_refusal(s, err);
    if (strstr(err->message, path) == NULL) {
        fprintf(stderr, "message does not name the file %s: %s\n", path, err->message);
        abort();
    }
}

/* Every value of t is finite. */
static inline int fuzz_all_finite(const ember_tensor *t)
{
    int64_t n = ember_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        float v = t->data[i];
        if (!(v - v == 0.0f))
            return 0;
    }
    return 1;
}

#endif
