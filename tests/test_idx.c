/*
 * test_idx.c - the IDX reader and ember_one_hot.
 *
 * Writes its own fixtures (plain and gzip) into a fresh directory under /tmp:
 * hand-computed values for every element type, a bad-input file for every
 * rejection (each checked for its status, a distinctive part of the message,
 * the path in the message and *out left NULL), and hostile headers that must
 * fail fast without a large allocation. Then, when the Fashion-MNIST package
 * is installed, loads its real test set. Removes the directory at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include "ember.h"

#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* A hostile header must be refused in well under this many seconds (ASan
 * included); reading or zeroing gigabytes would take far longer. */
#define HOSTILE_MAX_SECONDS 2.0
/* ... and must not raise the peak resident set by more than this (KiB): the
 * claimed sizes are 10 GB and more, the reader's first buffer is 1 MiB. */
#define HOSTILE_MAX_RSS_GROWTH_KIB (64 * 1024)

#ifndef FASHION_DIR /* overridable to exercise the skip path */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#endif
#define MAX_FIXTURES 64

/* The temporary directory and every file put in it, for clean-up. */
typedef struct fixtures {
    char dir[64];
    char *files[MAX_FIXTURES];
    int count;
} fixtures;

/* Full path of fixture `name`, recorded for removal. */
static const char *fx_path(fixtures *fx, const char *name)
{
    if (fx->count == MAX_FIXTURES)
        return "/nonexistent/too-many-fixtures";
    size_t n = strlen(fx->dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (!p)
        return "/nonexistent/out-of-memory";
    snprintf(p, n, "%s/%s", fx->dir, name);
    fx->files[fx->count++] = p;
    return p;
}

static void fx_cleanup(fixtures *fx)
{
    for (int i = 0; i < fx->count; i++) {
        unlink(fx->files[i]);
        free(fx->files[i]);
    }
    fx->count = 0;
    CHECK(rmdir(fx->dir) == 0);
}

/* A growing byte string for building files. */
typedef struct bytes {
    unsigned char *d;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *d = realloc(b->d, cap);
        if (!d) {
            fprintf(stderr, "test_idx: out of memory building a fixture\n");
            exit(1);
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void put_u8(bytes *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void put_be32(bytes *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(b, c, 4);
}

static void put_be64(bytes *b, uint64_t v)
{
    put_be32(b, (uint32_t)(v >> 32));
    put_be32(b, (uint32_t)v);
}

/* Magic 0x0000 TT DD. */
static void put_magic(bytes *b, unsigned type, int ndim)
{
    put_u8(b, 0);
    put_u8(b, 0);
    put_u8(b, type);
    put_u8(b, (unsigned)ndim);
}

/* Magic, then the dims. */
static void put_header(bytes *b, unsigned type, int ndim, const uint32_t *dims)
{
    put_magic(b, type, ndim);
    for (int i = 0; i < ndim; i++)
        put_be32(b, dims[i]);
}

static void write_plain(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f)
        return;
    CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

static void write_gz(const char *path, const void *p, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    CHECK_MSG(gz != NULL, "cannot create %s", path);
    if (!gz)
        return;
    CHECK(n == 0 || gzwrite(gz, p, (unsigned)n) == (int)n);
    CHECK(gzclose(gz) == Z_OK);
}

static bytes read_whole(const char *path)
{
    bytes b = {0};
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot read back %s", path);
    if (!f)
        return b;
    unsigned char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        put(&b, buf, n);
    fclose(f);
    return b;
}

/* Write `b` as name.idx and name.idx.gz; return the two paths. */
static void write_both(fixtures *fx, const char *name, const bytes *b, const char **plain,
                       const char **gz)
{
    char gzname[128];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    *plain = fx_path(fx, name);
    *gz = fx_path(fx, gzname);
    write_plain(*plain, b->d, b->n);
    write_gz(*gz, b->d, b->n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static ember_error err;
static int sentinel; /* *out starts pointing here so the test sees it reset */

/* The load must fail with `code`, a message that starts with the path and
 * contains `needle`, and *out NULL. */
#define LOAD_FAILS(path, code, needle)                                                     \
    do {                                                                                   \
        const char *p_ = (path);                                                           \
        ember_tensor *t_ = (ember_tensor *)(void *)&sentinel;                              \
        memset(&err, 0, sizeof err);                                                       \
        CHECK_ERR(ember_idx_load(&t_, p_, &err), code, &err, needle);                      \
        CHECK_MSG(strncmp(err.message, p_, strlen(p_)) == 0, "message \"%s\" lacks path %s", \
                  err.message, p_);                                                        \
        CHECK(t_ == NULL);                                                                 \
        if (t_ != (ember_tensor *)(void *)&sentinel)                                       \
            ember_tensor_destroy(t_);                                                      \
    } while (0)

/* Load `path`, check rank/shape and exact values. Returns the tensor. */
static ember_tensor *load_expect(const char *path, int ndim, const int64_t *shape,
                                 const float *want, int64_t n)
{
    ember_tensor *t = NULL;
    CHECK_OK(ember_idx_load(&t, path, &err), &err);
    if (!t)
        return NULL;
    CHECK_MSG(t->ndim == ndim, "%s: ndim %d, want %d", path, t->ndim, ndim);
    for (int i = 0; i < ndim && i < t->ndim; i++)
        CHECK_MSG(t->shape[i] == shape[i], "%s: shape[%d] %lld, want %lld", path, i,
                  (long long)t->shape[i], (long long)shape[i]);
    CHECK(ember_tensor_numel(t) == n);
    if (ember_tensor_numel(t) == n)
        for (int64_t i = 0; i < n; i++)
            CHECK_MSG(t->data[i] == want[i], "%s: element %lld is %.9g, want %.9g", path,
                      (long long)i, (double)t->data[i], (double)want[i]);
    return t;
}

/* Both forms of one fixture must give the same exact tensor. */
static void round_trip(fixtures *fx, const char *name, const bytes *b, int ndim,
                       const int64_t *shape, const float *want, int64_t n)
{
    const char *plain, *gz;
    write_both(fx, name, b, &plain, &gz);
    ember_tensor *a = load_expect(plain, ndim, shape, want, n);
    ember_tensor *c = load_expect(gz, ndim, shape, want, n);
    if (a && c) {
        CHECK(a->ndim == c->ndim);
        CHECK(memcmp(a->shape, c->shape, sizeof a->shape) == 0);
        CHECK(memcmp(a->data, c->data, (size_t)n * sizeof(float)) == 0);
    }
    ember_tensor_destroy(a);
    ember_tensor_destroy(c);
}

static void test_round_trips(fixtures *fx)
{
    { /* u8 [3,2,2]: 0..10 and 255 */
        bytes b = {0};
        uint32_t dims[3] = {3, 2, 2};
        put_header(&b, 0x08, 3, dims);
        float want[12];
        for (int i = 0; i < 11; i++) {
            put_u8(&b, (unsigned)i);
            want[i] = (float)i;
        }
        put_u8(&b, 255);
        want[11] = 255.0f;
        int64_t shape[3] = {3, 2, 2};
        round_trip(fx, "u8.idx", &b, 3, shape, want, 12);
        free(b.d);
    }
    { /* i8 [4]: 0x80 0xFF 0x00 0x7F */
        bytes b = {0};
        uint32_t dims[1] = {4};
        put_header(&b, 0x09, 1, dims);
        put_u8(&b, 0x80);
        put_u8(&b, 0xFF);
        put_u8(&b, 0x00);
        put_u8(&b, 0x7F);
        float want[4] = {-128.0f, -1.0f, 0.0f, 127.0f};
        int64_t shape[1] = {4};
        round_trip(fx, "i8.idx", &b, 1, shape, want, 4);
        free(b.d);
    }
    { /* i16 [2,2] big-endian: 0x0001 0xFFFF 0x8000 0x1234 */
        bytes b = {0};
        uint32_t dims[2] = {2, 2};
        put_header(&b, 0x0B, 2, dims);
        const unsigned char data[8] = {0x00, 0x01, 0xFF, 0xFF, 0x80, 0x00, 0x12, 0x34};
        put(&b, data, sizeof data);
        float want[4] = {1.0f, -1.0f, -32768.0f, 4660.0f};
        int64_t shape[2] = {2, 2};
        round_trip(fx, "i16.idx", &b, 2, shape, want, 4);
        free(b.d);
    }
    { /* i32 [4]: 0xFFFFFFFE 0x00010000 0x80000000 0x00000007 */
        bytes b = {0};
        uint32_t dims[1] = {4};
        put_header(&b, 0x0C, 1, dims);
        put_be32(&b, 0xFFFFFFFEu);
        put_be32(&b, 0x00010000u);
        put_be32(&b, 0x80000000u);
        put_be32(&b, 0x00000007u);
        float want[4] = {-2.0f, 65536.0f, -2147483648.0f, 7.0f};
        int64_t shape[1] = {4};
        round_trip(fx, "i32.idx", &b, 1, shape, want, 4);
        free(b.d);
    }
    { /* f32 [2,2]: 1.0, -2.5, 0.25, -100.0 */
        bytes b = {0};
        uint32_t dims[2] = {2, 2};
        put_header(&b, 0x0D, 2, dims);
        put_be32(&b, 0x3F800000u);
        put_be32(&b, 0xC0200000u);
        put_be32(&b, 0x3E800000u);
        put_be32(&b, 0xC2C80000u);
        float want[4] = {1.0f, -2.5f, 0.25f, -100.0f};
        int64_t shape[2] = {2, 2};
        round_trip(fx, "f32.idx", &b, 2, shape, want, 4);
        free(b.d);
    }
    { /* f64 [2,1,2]: 1.0, -3.5, 0.25, 100.0 */
        bytes b = {0};
        uint32_t dims[3] = {2, 1, 2};
        put_header(&b, 0x0E, 3, dims);
        put_be64(&b, UINT64_C(0x3FF0000000000000));
        put_be64(&b, UINT64_C(0xC00C000000000000));
        put_be64(&b, UINT64_C(0x3FD0000000000000));
        put_be64(&b, UINT64_C(0x4059000000000000));
        float want[4] = {1.0f, -3.5f, 0.25f, 100.0f};
        int64_t shape[3] = {2, 1, 2};
        round_trip(fx, "f64.idx", &b, 3, shape, want, 4);
        free(b.d);
    }
    { /* rank-4 u8 [1,2,1,3] */
        bytes b = {0};
        uint32_t dims[4] = {1, 2, 1, 3};
        put_header(&b, 0x08, 4, dims);
        float want[6];
        for (int i = 0; i < 6; i++) {
            put_u8(&b, (unsigned)(10 * i));
            want[i] = (float)(10 * i);
        }
        int64_t shape[4] = {1, 2, 1, 3};
        round_trip(fx, "rank4.idx", &b, 4, shape, want, 6);
        free(b.d);
    }
    { /* a labels file: u8 rank 1 [5] */
        bytes b = {0};
        uint32_t dims[1] = {5};
        put_header(&b, 0x08, 1, dims);
        const unsigned char data[5] = {3, 1, 4, 1, 5};
        put(&b, data, sizeof data);
        float want[5] = {3, 1, 4, 1, 5};
        int64_t shape[1] = {5};
        round_trip(fx, "labels.idx", &b, 1, shape, want, 5);
        free(b.d);
    }
}

static void test_bad_inputs(fixtures *fx)
{
    const char *plain, *gz;
    { /* bad magic in a plain file */
        bytes b = {0};
        const unsigned char data[] = {0x00, 0x01, 0x08, 0x01, 0, 0, 0, 1, 7};
        put(&b, data, sizeof data);
        write_both(fx, "magic.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "magic bytes 0-1 must be 0x0000, got 0x0001");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "magic bytes 0-1 must be 0x0000, got 0x0001");
        free(b.d);
    }
    { /* a valid file gzipped twice: after one layer of zlib the bytes are 1f 8b */
        bytes b = {0};
        uint32_t dims[1] = {3};
        put_header(&b, 0x08, 1, dims);
        put_u8(&b, 1);
        put_u8(&b, 2);
        put_u8(&b, 3);
        const char *once = fx_path(fx, "twice-inner.idx.gz");
        write_gz(once, b.d, b.n);
        bytes inner = read_whole(once);
        const char *twice = fx_path(fx, "twice.idx.gz.gz");
        write_gz(twice, inner.d, inner.n);
        LOAD_FAILS(twice, EMBER_ERR_FORMAT, "magic bytes 0-1 must be 0x0000, got 0x1f8b");
        free(inner.d);
        free(b.d);
    }
    { /* type byte 0x07 */
        bytes b = {0};
        uint32_t dims[1] = {1};
        put_header(&b, 0x07, 1, dims);
        put_u8(&b, 0);
        write_both(fx, "type.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "type byte 0x07 (byte 2) is not an IDX type");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "type byte 0x07 (byte 2) is not an IDX type");
        free(b.d);
    }
    { /* dimension count 0 */
        bytes b = {0};
        put_magic(&b, 0x08, 0);
        put_u8(&b, 0);
        write_both(fx, "ndim0.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "dimension count 0 (byte 3) is outside 1..4");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "dimension count 0 (byte 3) is outside 1..4");
        free(b.d);
    }
    { /* dimension count 5 */
        bytes b = {0};
        uint32_t dims[5] = {1, 1, 1, 1, 1};
        put_header(&b, 0x08, 5, dims);
        put_u8(&b, 0);
        write_both(fx, "ndim5.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "dimension count 5 (byte 3) is outside 1..4");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "dimension count 5 (byte 3) is outside 1..4");
        free(b.d);
    }
    { /* a zero dimension */
        bytes b = {0};
        uint32_t dims[2] = {4, 0};
        put_header(&b, 0x08, 2, dims);
        write_both(fx, "dim0.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "dims[1] (bytes 8-11) is 0");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "dims[1] (bytes 8-11) is 0");
        free(b.d);
    }
    { /* header claims 1000 bytes, 10 present */
        bytes b = {0};
        uint32_t dims[2] = {100, 10};
        put_header(&b, 0x08, 2, dims);
        for (int i = 0; i < 10; i++)
            put_u8(&b, (unsigned)i);
        write_both(fx, "short.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT,
                   "header claims 1000 bytes of data but the file ends after 10");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT,
                   "header claims 1000 bytes of data but the file ends after 10");
        free(b.d);
    }
    { /* f32 data whose length is not a whole number of elements */
        bytes b = {0};
        uint32_t dims[1] = {2};
        put_header(&b, 0x0D, 1, dims);
        put_be32(&b, 0x3F800000u);
        put_u8(&b, 0x3F);
        write_both(fx, "short-f32.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "header claims 8 bytes of data but the file ends after 5");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "header claims 8 bytes of data but the file ends after 5");
        free(b.d);
    }
    { /* 12 trailing bytes */
        bytes b = {0};
        uint32_t dims[1] = {4};
        put_header(&b, 0x08, 1, dims);
        for (int i = 0; i < 4 + 12; i++)
            put_u8(&b, (unsigned)i);
        write_both(fx, "trailing.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, ": 12 bytes after the data (from byte 12; expected end of file)");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, ": 12 bytes after the data (from byte 12; expected end of file)");
        free(b.d);
    }
    { /* a lot of trailing bytes in gzip: reported without reading them all */
        bytes b = {0};
        uint32_t dims[1] = {4};
        put_header(&b, 0x08, 1, dims);
        for (int i = 0; i < 4 + 100000; i++)
            put_u8(&b, (unsigned)(i & 0xFF));
        const char *p = fx_path(fx, "trailing-big.idx.gz");
        write_gz(p, b.d, b.n);
        LOAD_FAILS(p, EMBER_ERR_FORMAT, "at least 4096 bytes after the data");
        free(b.d);
    }
    { /* empty file, plain and gzip */
        write_both(fx, "empty.idx", &(bytes){0}, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "file is empty");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "file is empty");
    }
    { /* header shorter than 4 bytes */
        const unsigned char data[2] = {0, 0};
        bytes b = {0};
        put(&b, data, sizeof data);
        write_both(fx, "magic-short.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "magic: file ends after 2 of its 4 bytes");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "magic: file ends after 2 of its 4 bytes");
        free(b.d);
    }
    { /* header cut inside the dims: 3 dims announced, 6 bytes of them present */
        bytes b = {0};
        put_magic(&b, 0x08, 3);
        put_be32(&b, 10);
        put_u8(&b, 0);
        put_u8(&b, 0);
        write_both(fx, "dims-short.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "header ends inside dims[1] (6 of 12 dimension bytes");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "header ends inside dims[1] (6 of 12 dimension bytes");
        free(b.d);
    }
    { /* truncated and corrupted gzip */
        bytes b = {0};
        uint32_t dims[2] = {40, 50};
        put_header(&b, 0x08, 2, dims);
        uint32_t x = 12345;
        for (int i = 0; i < 2000; i++) { /* LCG noise so the stream stays long */
            x = x * 1103515245u + 12345u;
            put_u8(&b, x >> 24);
        }
        const char *good = fx_path(fx, "cut-good.idx.gz");
        write_gz(good, b.d, b.n);
        bytes z = read_whole(good);
        CHECK(z.n > 100);
        ember_tensor *t = NULL;
        CHECK_OK(ember_idx_load(&t, good, &err), &err);
        ember_tensor_destroy(t);
        if (z.n > 100) {
            const char *cut20 = fx_path(fx, "cut20.idx.gz");
            write_plain(cut20, z.d, z.n - 20);
            LOAD_FAILS(cut20, EMBER_ERR_FORMAT, "gzip stream is truncated or corrupt");
            /* only part of the 8-byte trailer (CRC-32, length) is missing */
            const char *cut4 = fx_path(fx, "cut4.idx.gz");
            write_plain(cut4, z.d, z.n - 4);
            LOAD_FAILS(cut4, EMBER_ERR_FORMAT, "gzip stream is truncated or corrupt");
            /* a flipped bit in the CRC-32 */
            z.d[z.n - 8] ^= 0x01;
            const char *crc = fx_path(fx, "crc.idx.gz");
            write_plain(crc, z.d, z.n);
            LOAD_FAILS(crc, EMBER_ERR_FORMAT, "gzip stream is truncated or corrupt");
        }
        free(z.d);
        free(b.d);
    }
    { /* an f64 value that float32 cannot hold */
        bytes b = {0};
        uint32_t dims[1] = {2};
        put_header(&b, 0x0E, 1, dims);
        put_be64(&b, UINT64_C(0x3FF0000000000000));
        put_be64(&b, UINT64_C(0x7FEFFFFFFFFFFFFF)); /* DBL_MAX */
        write_both(fx, "f64-big.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "data element 1 (byte 16) is the f64 value");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "too large for float32");
        free(b.d);
    }
    { /* missing file, a directory, NULL path */
        char missing[128];
        snprintf(missing, sizeof missing, "%s/no-such-file.idx", fx->dir);
        LOAD_FAILS(missing, EMBER_ERR_IO, "No such file or directory");
        LOAD_FAILS(fx->dir, EMBER_ERR_IO, "Is a directory");
        ember_tensor *t = (ember_tensor *)(void *)&sentinel;
        CHECK_ERR(ember_idx_load(&t, NULL, &err), EMBER_ERR_ARG, &err, "path is NULL");
        CHECK(t == NULL);
        /* err may be NULL: the status alone still comes back */
        CHECK(ember_idx_load(&t, missing, NULL) == EMBER_ERR_IO);
        CHECK(t == NULL);
    }
}

/* Headers that claim far more than the file holds must fail fast, without
 * allocating what they claim. */
static void test_hostile_headers(fixtures *fx)
{
    const char *plain, *gz;
    long rss_before = peak_rss_kib();
    double t0 = now_s();
    { /* 65536 x 65536 x 256 = 2^40 elements: over the reader's limit */
        bytes b = {0};
        uint32_t dims[3] = {65536, 65536, 256};
        put_header(&b, 0x08, 3, dims);
        for (int i = 0; i < 64; i++)
            put_u8(&b, 0);
        write_both(fx, "huge.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "1099511627776 elements");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "limit of the IDX reader");
        free(b.d);
    }
    { /* 4 dims of 2^32-1: the element count overflows 64 bits */
        bytes b = {0};
        uint32_t dims[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
        put_header(&b, 0x0E, 4, dims);
        write_both(fx, "overflow.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT, "element count overflows");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT, "element count overflows");
        free(b.d);
    }
    { /* 50000 x 50000 u8 = 2.5e9 elements: 10 GB as float32, under the limit,
       * so only the data that really arrives may be buffered */
        bytes b = {0};
        uint32_t dims[2] = {50000, 50000};
        put_header(&b, 0x08, 2, dims);
        for (int i = 0; i < 1000; i++)
            put_u8(&b, (unsigned)i & 0xFF);
        write_both(fx, "big-claim.idx", &b, &plain, &gz);
        LOAD_FAILS(plain, EMBER_ERR_FORMAT,
                   "header claims 2500000000 bytes of data but the file ends after 1000");
        LOAD_FAILS(gz, EMBER_ERR_FORMAT,
                   "header claims 2500000000 bytes of data but the file ends after 1000");
        free(b.d);
    }
    double dt = now_s() - t0;
    long growth = peak_rss_kib() - rss_before;
    CHECK_MSG(dt < HOSTILE_MAX_SECONDS, "hostile headers took %.3f s", dt);
    CHECK_MSG(growth < HOSTILE_MAX_RSS_GROWTH_KIB, "peak RSS grew by %ld KiB", growth);
}

static void test_one_hot(void)
{
    float v[4] = {2, 0, 1, 2};
    int64_t shape1[1] = {4};
    ember_tensor *labels = NULL, *oh = NULL;
    CHECK_OK(ember_tensor_create_view(&labels, v, 1, shape1, &err), &err);
    CHECK_OK(ember_one_hot(&oh, labels, 3, &err), &err);
    if (oh) {
        const float want[12] = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1};
        CHECK(oh->ndim == 2 && oh->shape[0] == 4 && oh->shape[1] == 3);
        CHECK(memcmp(oh->data, want, sizeof want) == 0);
    }
    ember_tensor_destroy(oh);
    ember_tensor_destroy(labels);

    /* [N, 1] works the same */
    int64_t shape2[2] = {4, 1};
    CHECK_OK(ember_tensor_create_view(&labels, v, 2, shape2, &err), &err);
    oh = NULL;
    CHECK_OK(ember_one_hot(&oh, labels, 4, &err), &err);
    if (oh) {
        CHECK(oh->shape[0] == 4 && oh->shape[1] == 4);
        CHECK(oh->data[0 * 4 + 2] == 1.0f && oh->data[1 * 4 + 0] == 1.0f);
        CHECK(oh->data[2 * 4 + 1] == 1.0f && oh->data[3 * 4 + 2] == 1.0f);
        float sum = 0;
        for (int i = 0; i < 16; i++)
            sum += oh->data[i];
        CHECK(sum == 4.0f);
    }
    ember_tensor_destroy(oh);
    ember_tensor_destroy(labels);

    /* bad labels, each named by row */
    struct {
        float value;
        const char *needle;
    } bad[] = {
        {3.0f, "labels row 2: value 3 is not an integer class id in [0, 3)"},
        {-1.0f, "labels row 2: value -1 is not"},
        {2.5f, "labels row 2: value 2.5 is not"},
        {NAN, "labels row 2: value nan"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        float w[3] = {0, 1, bad[i].value};
        int64_t s3[1] = {3};
        CHECK_OK(ember_tensor_create_view(&labels, w, 1, s3, &err), &err);
        oh = (ember_tensor *)(void *)&sentinel;
        CHECK_ERR(ember_one_hot(&oh, labels, 3, &err), EMBER_ERR_FORMAT, &err, bad[i].needle);
        CHECK(oh == NULL);
        ember_tensor_destroy(labels);
    }

    /* bad arguments */
    CHECK_OK(ember_tensor_create_view(&labels, v, 1, shape1, &err), &err);
    oh = (ember_tensor *)(void *)&sentinel;
    CHECK_ERR(ember_one_hot(&oh, labels, 0, &err), EMBER_ERR_ARG, &err, "classes is 0");
    CHECK(oh == NULL);
    CHECK_ERR(ember_one_hot(&oh, NULL, 3, &err), EMBER_ERR_ARG, &err, "labels is NULL");
    ember_tensor_destroy(labels);
    int64_t shape22[2] = {2, 2};
    CHECK_OK(ember_tensor_create_view(&labels, v, 2, shape22, &err), &err);
    CHECK_ERR(ember_one_hot(&oh, labels, 3, &err), EMBER_ERR_SHAPE, &err, "shape [2, 2]");
    CHECK(oh == NULL);
    ember_tensor_destroy(labels);
}

/* Decompress `src` (gzip) into plain file `dst` with zlib. */
static void gunzip_to(const char *src, const char *dst)
{
    gzFile in = gzopen(src, "rb");
    FILE *out = fopen(dst, "wb");
    CHECK(in != NULL && out != NULL);
    if (in && out) {
        unsigned char buf[1 << 16];
        int n;
        while ((n = gzread(in, buf, sizeof buf)) > 0)
            CHECK(fwrite(buf, 1, (size_t)n, out) == (size_t)n);
        CHECK(n == 0);
    }
    if (in)
        gzclose(in);
    if (out)
        CHECK(fclose(out) == 0);
}

static void test_fashion_mnist(fixtures *fx)
{
    struct stat st;
    if (stat(FASHION_DIR "/train-images-idx3-ubyte.gz", &st) != 0) {
        printf("idx: skipping Fashion-MNIST part: package dataset-fashion-mnist not installed "
               "(no %s)\n", FASHION_DIR "/train-images-idx3-ubyte.gz");
        return;
    }
    const char *img_gz = FASHION_DIR "/t10k-images-idx3-ubyte.gz";
    const char *lab_gz = FASHION_DIR "/t10k-labels-idx1-ubyte.gz";
    ember_tensor *x = NULL, *y = NULL;
    CHECK_OK(ember_idx_load(&x, img_gz, &err), &err);
    CHECK_OK(ember_idx_load(&y, lab_gz, &err), &err);
    if (x) {
        CHECK(x->ndim == 3 && x->shape[0] == 10000 && x->shape[1] == 28 && x->shape[2] == 28);
        float lo = 1e9f, hi = -1e9f;
        int integral = 1;
        for (int64_t i = 0; i < ember_tensor_numel(x); i++) {
            float v = x->data[i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            integral &= v == floorf(v);
        }
        CHECK_MSG(lo == 0.0f && hi == 255.0f, "pixels span %g..%g", (double)lo, (double)hi);
        CHECK(integral);
        /* the decompressed copy reads the same */
        const char *plain = fx_path(fx, "t10k-images-idx3-ubyte");
        gunzip_to(img_gz, plain);
        ember_tensor *xp = NULL;
        CHECK_OK(ember_idx_load(&xp, plain, &err), &err);
        if (xp)
            CHECK(memcmp(xp->data, x->data, (size_t)ember_tensor_numel(x) * sizeof(float)) == 0);
        ember_tensor_destroy(xp);
    }
    if (y) {
        CHECK(y->ndim == 1 && y->shape[0] == 10000);
        int64_t count[10] = {0};
        int in_range = 1;
        for (int64_t i = 0; i < ember_tensor_numel(y); i++) {
            float v = y->data[i];
            if (v >= 0.0f && v <= 9.0f && v == floorf(v))
                count[(int)v]++;
            else
                in_range = 0;
        }
        CHECK(in_range);
        for (int c = 0; c < 10; c++)
            CHECK_MSG(count[c] > 0, "class %d never appears", c);
        ember_tensor *oh = NULL;
        CHECK_OK(ember_one_hot(&oh, y, 10, &err), &err);
        if (oh) {
            CHECK(oh->shape[0] == 10000 && oh->shape[1] == 10);
            double total = 0;
            for (int64_t i = 0; i < ember_tensor_numel(oh); i++)
                total += oh->data[i];
            CHECK(total == 10000.0);
        }
        ember_tensor_destroy(oh);
    }
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
}

int main(void)
{
    fixtures fx = {.count = 0};
    snprintf(fx.dir, sizeof fx.dir, "/tmp/ember-test-idx-XXXXXX");
    if (!mkdtemp(fx.dir)) {
        perror("test_idx: mkdtemp");
        return 1;
    }
    test_round_trips(&fx);
    test_bad_inputs(&fx);
    test_hostile_headers(&fx);
    test_one_hot();
    test_fashion_mnist(&fx);
    fx_cleanup(&fx);
    return check_summary("idx");
}
