/*
 * idx.c - the IDX reader (the MNIST file format) and one-hot labels.
 *
 * Files are read through zlib, which passes plain bytes through untouched, so
 * gzip is detected from the bytes, never from the name. Every header field is
 * checked before it sizes anything. Data is read into a buffer that grows (by
 * doubling) only as bytes really arrive, so a header that lies about its size
 * costs no more memory than the file actually holds, and a tensor larger than
 * IDX_MAX_TENSOR_BYTES is refused outright.
 *
 * Deliberately not done: scaling (u8 pixels stay 0..255; use
 * ember_tensor_scale), writing IDX, memory-mapping, reading part of a file,
 * more than EMBER_MAX_DIMS dimensions, and empty data sets (a dimension of 0 is
 * rejected: training on nothing is never what the caller meant).
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Largest tensor one IDX file may produce: 2^34 bytes (16 GiB) of float32,
 * i.e. 2^32 elements. The largest IDX sets in use (EMNIST ByClass, ~700k 28x28
 * images) are about 2.2 GB as float32, so this leaves a wide margin. The cap
 * exists because a gzip file's real length is unknown until it has all been
 * read: 16 GiB of zeros compresses to about 16 MB, and without a limit such a
 * file would make us read and keep all of it before anything could fail. */
#define IDX_MAX_TENSOR_BYTES ((uint64_t)1 << 34)

/* First size of the raw-data buffer when the real data length is not known in
 * advance (gzip, pipes): 1 MiB. It then doubles, up to the length the header
 * claims, so memory follows the bytes that actually arrive. */
#define IDX_FIRST_BUFFER_BYTES ((size_t)1 << 20)

/* Most bytes asked of one gzread call, which takes an unsigned and returns an
 * int: 1 GiB stays well inside both. */
#define IDX_READ_CALL_MAX ((size_t)1 << 30)

/* How many bytes past the data we read to report trailing garbage in a gzip
 * stream (a plain file's excess is known exactly from its size). */
#define IDX_TRAILING_PROBE_BYTES 4096

/* zlib's read buffer: 128 KiB instead of its default 8 KiB, for fewer calls. */
#define IDX_GZ_BUFFER_BYTES (128u * 1024u)

/* The IDX element types: the type byte, its size in bytes and a name. */
typedef struct idx_type {
    unsigned char code;
    int size;
    const char *name;
} idx_type;

static const idx_type IDX_TYPES[] = {
    {0x08, 1, "u8"}, {0x09, 1, "i8"}, {0x0B, 2, "i16"},
    {0x0C, 4, "i32"}, {0x0D, 4, "f32"}, {0x0E, 8, "f64"},
};

static const idx_type *find_type(unsigned char code)
{
    for (size_t i = 0; i < sizeof IDX_TYPES / sizeof IDX_TYPES[0]; i++)
        if (IDX_TYPES[i].code == code)
            return &IDX_TYPES[i];
    return NULL;
}

static uint16_t be16(const unsigned char *p) { return (uint16_t)((unsigned)p[0] << 8 | p[1]); }

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* "[a, b, c]" into buf. */
static void shape_string(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%lld", i ? ", " : "[", (long long)shape[i]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* Read up to n bytes. Fewer come back only at the end of the stream or on an
 * error; the caller asks stream_status which. */
static size_t read_some(gzFile gz, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        if (want > IDX_READ_CALL_MAX)
            want = IDX_READ_CALL_MAX;
        int r = gzread(gz, buf + got, (unsigned)want);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* EMBER_OK unless zlib recorded an error on the stream; `at` is how many
 * bytes of decompressed data had arrived (for the message). */
static ember_status stream_status(gzFile gz, const char *path, uint64_t at, ember_error *err)
{
    int saved_errno = errno;
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    if (zerr == Z_OK || zerr == Z_STREAM_END)
        return EMBER_OK;
    if (zerr == Z_ERRNO)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: read failed: %s", path, strerror(saved_errno));
    if (zerr == Z_MEM_ERROR)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory while decompressing", path);
    if (!zmsg)
        zmsg = "unknown error";
    /* zlib prefixes its message with the name it was given, "<fd:N>" here. */
    const char *sep = strncmp(zmsg, "<fd:", 4) == 0 ? strstr(zmsg, ": ") : NULL;
    if (sep)
        zmsg = sep + 2;
    return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                      "%s: gzip stream is truncated or corrupt after %" PRIu64 " bytes of IDX "
                      "data (zlib: %s)", path, at, zmsg);
}

/* Convert n big-endian elements of `type` to float32. Returns the index of the
 * first f64 value too large for float32 (it would become Inf), or -1. Integers
 * above 2^24 in magnitude round to the nearest float, as any cast does. */
static int64_t convert(float *dst, const unsigned char *src, int64_t n, const idx_type *type)
{
    switch (type->code) {
    case 0x08:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)src[i];
        break;
    case 0x09:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)(src[i] < 0x80 ? (int)src[i] : (int)src[i] - 0x100);
        break;
    case 0x0B:
        for (int64_t i = 0; i < n; i++) {
            int32_t u = be16(src + 2 * i);
            dst[i] = (float)(u < 0x8000 ? u : u - 0x10000);
        }
        break;
    case 0x0C:
        for (int64_t i = 0; i < n; i++) {
            int64_t u = be32(src + 4 * i);
            dst[i] = (float)(u < INT64_C(0x80000000) ? u : u - INT64_C(0x100000000));
        }
        break;
    case 0x0D:
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = be32(src + 4 * i);
            float f;
            memcpy(&f, &u, sizeof f);
            dst[i] = f;
        }
        break;
    case 0x0E:
        for (int64_t i = 0; i < n; i++) {
            uint64_t u = be64(src + 8 * i);
            double d;
            memcpy(&d, &u, sizeof d);
            if (isfinite(d) && fabs(d) > FLT_MAX)
                return i;
            dst[i] = (float)d;
        }
        break;
    }
    return -1;
}

/* Read the header (magic and dims) and check it. On success fills *type,
 * *ndim, shape, *numel and *raw_bytes (the data length the header claims). */
static ember_status read_header(gzFile gz, const char *path, const idx_type **type, int *ndim,
                                int64_t shape[EMBER_MAX_DIMS], int64_t *numel,
                                size_t *raw_bytes, ember_error *err)
{
    unsigned char magic[4];
    size_t got = read_some(gz, magic, sizeof magic);
    if (got < sizeof magic) {
        ember_status s = stream_status(gz, path, got, err);
        if (s)
            return s;
        if (got == 0)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: file is empty (an IDX file starts with a 4-byte magic)", path);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: magic: file ends after %zu of its 4 bytes",
                          path, got);
    }
    if (magic[0] != 0 || magic[1] != 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: magic bytes 0-1 must be 0x0000, got 0x%02x%02x",
                          path, magic[0], magic[1]);
    *type = find_type(magic[2]);
    if (!*type)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: type byte 0x%02X (byte 2) is not an IDX type (0x08 0x09 0x0B 0x0C "
                          "0x0D 0x0E)",
                          path, magic[2]);
    *ndim = magic[3];
    if (*ndim < 1 || *ndim > EMBER_MAX_DIMS)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: dimension count %d (byte 3) is outside 1..%d", path,
                          *ndim, EMBER_MAX_DIMS);

    unsigned char dims[4 * EMBER_MAX_DIMS];
    size_t want = 4 * (size_t)*ndim;
    got = read_some(gz, dims, want);
    if (got < want) {
        ember_status s = stream_status(gz, path, 4 + got, err);
        if (s)
            return s;
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: header ends inside dims[%zu] (%zu of %zu dimension bytes present)",
                          path, got / 4, got, want);
    }
    int64_t n = 1;
    bool overflow = false;
    for (int i = 0; i < *ndim; i++) {
        shape[i] = be32(dims + 4 * i);
        if (shape[i] == 0)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: dims[%d] (bytes %d-%d) is 0 (an empty data set; nothing to train on)",
                              path, i, 4 + 4 * i, 7 + 4 * i);
        if (!overflow && !ember__mul_i64(n, shape[i], &n))
            overflow = true;
    }
    char shape_text[128];
    shape_string(shape_text, sizeof shape_text, *ndim, shape);
    if (overflow)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: dims %s: the element count overflows 64 bits", path, shape_text);
    /* n <= 2^32 from here, so the byte counts below cannot overflow 64 bits. */
    uint64_t float_bytes = (uint64_t)n * sizeof(float);
    if (float_bytes > IDX_MAX_TENSOR_BYTES)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: dims %s hold %lld elements (%" PRIu64
                          " bytes as float32), over the %" PRIu64
                          "-byte (16 GiB) limit of the IDX reader",
                          path, shape_text, (long long)n, float_bytes, IDX_MAX_TENSOR_BYTES);
    uint64_t raw = (uint64_t)n * (uint64_t)(*type)->size;
#if SIZE_MAX < UINT64_MAX
    if (float_bytes > SIZE_MAX || raw > SIZE_MAX)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM,
                          "%s: dims %s: %" PRIu64 " bytes do not fit this machine's address space",
                          path, shape_text, raw > float_bytes ? raw : float_bytes);
#endif
    *numel = n;
    *raw_bytes = (size_t)raw;
    return EMBER_OK;
}

/* Read exactly `raw` data bytes into a new malloc'd *out. `known` is non-zero
 * when the file size already proved the bytes are there; otherwise the buffer
 * starts small and doubles only as data arrives. `header` is the header's
 * length, for messages. */
static ember_status read_data(gzFile gz, const char *path, size_t raw, int known, size_t header,
                              unsigned char **out, ember_error *err)
{
    *out = NULL;
    size_t cap = known || raw < IDX_FIRST_BUFFER_BYTES ? raw : IDX_FIRST_BUFFER_BYTES;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory for %zu bytes of data", path,
                          cap);
    size_t have = 0;
    for (;;) {
        have += read_some(gz, buf + have, cap - have);
        if (have < cap || cap == raw)
            break;
        size_t next = cap > raw / 2 ? raw : cap * 2;
        unsigned char *grown = realloc(buf, next);
        if (!grown) {
            free(buf);
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory for %zu bytes of data",
                              path, next);
        }
        buf = grown;
        cap = next;
    }
    if (have < raw) {
        free(buf);
        ember_status s = stream_status(gz, path, header + have, err);
        if (s)
            return s;
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: header claims %zu bytes of data but the file ends after %zu "
                          "(at byte %zu; the data starts at byte %zu)", path, raw, have,
                          header + have, header);
    }
    *out = buf;
    return EMBER_OK;
}

/* After the data: the stream must end here, cleanly. */
static ember_status check_end(gzFile gz, const char *path, uint64_t end, ember_error *err)
{
    unsigned char probe[IDX_TRAILING_PROBE_BYTES];
    size_t extra = read_some(gz, probe, sizeof probe);
    if (extra == sizeof probe)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: at least %zu bytes after the data (from byte %" PRIu64
                          "; expected end of file)", path, extra, end);
    if (extra > 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: %zu bytes after the data (from byte %" PRIu64
                          "; expected end of file)", path, extra, end);
    return stream_status(gz, path, end, err);
}

ember_status ember_idx_load(ember_tensor **out, const char *path, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_idx_load: out is NULL");
    *out = NULL;
    if (!path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_idx_load: path is NULL");

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot read: %s", path, strerror(EISDIR));
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory for the zlib reader", path);
    }
    gzbuffer(gz, IDX_GZ_BUFFER_BYTES);

    const idx_type *type = NULL;
    int ndim = 0;
    int64_t shape[EMBER_MAX_DIMS];
    int64_t numel = 0;
    size_t raw = 0;
    unsigned char *bytes = NULL;
    ember_tensor *t = NULL;
    ember_status s = read_header(gz, path, &type, &ndim, shape, &numel, &raw, err);
    if (s)
        goto done;

    /* A plain regular file: its size tells now whether the data length is right. */
    int known = 0;
    if (gzdirect(gz) && S_ISREG(st.st_mode)) {
        uint64_t header = 4 + 4 * (uint64_t)ndim;
        uint64_t size = (uint64_t)st.st_size;
        uint64_t avail = size > header ? size - header : 0;
        if (avail < raw) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                           "%s: header claims %zu bytes of data but the file ends after %" PRIu64
                           " (at byte %" PRIu64 "; the data starts at byte %" PRIu64 ")",
                           path, raw, avail, size, header);
            goto done;
        }
        if (avail > raw) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                           "%s: %" PRIu64 " bytes after the data (from byte %" PRIu64
                           "; expected end of file)", path, avail - raw, header + (uint64_t)raw);
            goto done;
        }
        known = 1;
    }
    size_t header = 4 + 4 * (size_t)ndim;
    s = read_data(gz, path, raw, known, header, &bytes, err);
    if (s)
        goto done;
    s = check_end(gz, path, header + (uint64_t)raw, err);
    if (s)
        goto done;

    s = ember_tensor_create(&t, ndim, shape, err);
    if (s) {
        ember__error_prefix(err, "%s", path);
        goto done;
    }
    int64_t bad = convert(t->data, bytes, numel, type);
    if (bad >= 0) {
        double d;
        uint64_t u = be64(bytes + 8 * bad);
        memcpy(&d, &u, sizeof d);
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                       "%s: data element %lld (byte %lld) is the f64 value %g, too large for "
                       "float32", path, (long long)bad, 4 + 4LL * ndim + 8LL * bad, d);
        goto done;
    }

done:
    free(bytes);
    {
        int zc = gzclose(gz);
        if (s == EMBER_OK && zc != Z_OK) {
            if (zc == Z_ERRNO)
                s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: close failed: %s", path, strerror(errno));
            else
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                               "%s: gzip stream is truncated or corrupt (zlib code %d at close)",
                               path, zc);
        }
    }
    if (s) {
        ember_tensor_destroy(t);
        return s;
    }
    *out = t;
    return EMBER_OK;
}

ember_status ember_one_hot(ember_tensor **out, const ember_tensor *labels, int64_t classes,
                           ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_one_hot: out is NULL");
    *out = NULL;
    if (!labels)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_one_hot: labels is NULL");
    if (classes < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_one_hot: classes is %lld, must be >= 1",
                          (long long)classes);
    if (!(labels->ndim == 1 || (labels->ndim == 2 && labels->shape[1] == 1))) {
        char shape_text[128];
        shape_string(shape_text, sizeof shape_text, labels->ndim, labels->shape);
        return EMBER_FAIL(err, EMBER_ERR_SHAPE,
                          "ember_one_hot: labels have shape %s; expected [N] or [N, 1]", shape_text);
    }
    int64_t n = labels->shape[0];
    for (int64_t i = 0; i < n; i++) {
        float v = labels->data[i];
        if (!(v >= 0.0f) || !((double)v < (double)classes) || v != floorf(v))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "labels row %lld: value %g is not an integer class id in [0, %lld)",
                              (long long)i, (double)v, (long long)classes);
    }
    int64_t shape[2] = {n, classes};
    ember_tensor *t = NULL;
    ember_status s = ember_tensor_create(&t, 2, shape, err);
    if (s)
        return s;
    for (int64_t i = 0; i < n; i++)
        t->data[i * classes + (int64_t)labels->data[i]] = 1.0f;
    *out = t;
    return EMBER_OK;
}
