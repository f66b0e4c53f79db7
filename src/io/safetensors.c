/*
 * safetensors.c - hardened reader and atomic writer for the safetensors
 * layout (see safetensors.h for the rules), float32 only.
 *
 * The writer builds the header with cJSON, printing integers as raw text:
 * cJSON prints numbers with %g, so 10^15 would come out as "1e+15", which
 * Python's reader rejects for an offset.
 *
 * The reader does not use cJSON. cJSON accepts text that is not JSON
 * (control bytes as whitespace, raw control characters in strings, invalid
 * UTF-8, leading zeros), keeps duplicate keys, cuts strings at "\u0000" and
 * rounds integers through double. Instead a small strict parser here walks
 * the one shape a header may have (object of tensor entries and
 * __metadata__), with exact 64-bit integers and no recursion, and reports the
 * first problem by field name.
 *
 * Deliberately not here: other dtypes, memory mapping, byte swapping for
 * big-endian hosts (refused at run time), partial reads.
 */
#define _POSIX_C_SOURCE 200809L
#include "io/safetensors.h"

#include "core.h"
#include "io/hash.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define F32_BYTES 4
#define LEN_BYTES 8 /* the header-length prefix */
#define DATA_ALIGN 8 /* data section file offset: what Python's writer pads to */
#define NAME_MAX_SHOWN 100 /* bytes of a file-supplied name shown in a message */

/* Every dtype of the safetensors format: recognised, so that a valid file we
 * cannot use gets EMBER_ERR_UNSUPPORTED rather than "malformed". */
static const char *const other_dtypes[] = {"BOOL", "U8",  "I8",  "I16",     "U16",     "F16",
                                           "BF16", "I32", "U32", "F64",     "I64",     "U64",
                                           "C64",  "F4",  "F8_E5M2", "F8_E4M3", "F8_E8M0",
                                           "F6_E2M3", "F6_E3M2"};

static int host_is_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Length (1..4) of the valid UTF-8 sequence at s (n bytes available), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return len;
}

static int utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* Element count of a shape, false when it exceeds EMBER_ST_MAX_INT. */
static int shape_numel(int ndim, const int64_t *shape, uint64_t *numel)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        if (!ember__mul_i64(n, shape[d], &n) || (uint64_t)n > EMBER_ST_MAX_INT)
            return 0;
    *numel = (uint64_t)n;
    return 1;
}

/* "[3,4]"; "[]" for a scalar. */
static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, d ? "," : "", shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* A string with its position in a list, for sorting and lookup by name. */
typedef struct named {
    const char *name;
    int idx;
} named;

static int named_cmp(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* Sort; return the first name that occurs twice, or NULL. */
static const char *sort_find_dup(named *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, named_cmp);
    for (int i = 1; i < n; i++)
        if (strcmp(v[i - 1].name, v[i].name) == 0)
            return v[i].name;
    return NULL;
}

/* ================================================================ writer */

/* Bytes of tensor t, or fail. *bytes <= EMBER_ST_MAX_INT. */
static ember_status check_tensor_arg(const ember_st_tensor *t, int i, uint64_t *bytes,
                                     ember_error *err)
{
    if (!t->name)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "safetensors write: tensor %d has a NULL name", i);
    if (!utf8_valid(t->name))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "safetensors write: tensor %d: name is not valid UTF-8",
                          i);
    if (strcmp(t->name, "__metadata__") == 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "safetensors write: tensor %d: the name \"__metadata__\" is reserved", i);
    if (t->ndim < 0 || t->ndim > EMBER_MAX_DIMS)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "safetensors write: tensor '%s': ndim %d not in 0..%d",
                          t->name, t->ndim, EMBER_MAX_DIMS);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0 || (uint64_t)t->shape[d] > EMBER_ST_MAX_INT)
            return EMBER_FAIL(err, EMBER_ERR_ARG,
                              "safetensors write: tensor '%s': shape[%d] = %" PRId64
                              " not in [0, 2^53]",
                              t->name, d, t->shape[d]);
    uint64_t numel;
    if (!shape_numel(t->ndim, t->shape, &numel) || numel * F32_BYTES > EMBER_ST_MAX_INT)
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "safetensors write: tensor '%s': more than 2^53 bytes of data", t->name);
    if (numel > 0 && !t->data)
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "safetensors write: tensor '%s': data is NULL but the shape has %" PRIu64
                          " elements",
                          t->name, numel);
    *bytes = numel * F32_BYTES;
    return EMBER_OK;
}

static ember_status check_write_args(const ember_st_tensor *tensors, int n_tensors,
                                     const char *const *keys, const char *const *values,
                                     int n_meta, uint64_t *bytes, ember_error *err)
{
    uint64_t total = 0;
    for (int i = 0; i < n_tensors; i++) {
        ember_status s = check_tensor_arg(&tensors[i], i, &bytes[i], err);
        if (s != EMBER_OK)
            return s;
        total += bytes[i];
        if (total > EMBER_ST_MAX_INT)
            return EMBER_FAIL(err, EMBER_ERR_ARG,
                              "safetensors write: more than 2^53 bytes of tensor data");
    }
    for (int i = 0; i < n_meta; i++) {
        if (!keys[i] || !values[i])
            return EMBER_FAIL(err, EMBER_ERR_ARG, "safetensors write: metadata entry %d is NULL", i);
        if (!utf8_valid(keys[i]) || !utf8_valid(values[i]))
            return EMBER_FAIL(err, EMBER_ERR_ARG,
                              "safetensors write: metadata entry %d is not valid UTF-8", i);
        if (strcmp(keys[i], EMBER_ST_CHECKSUM_KEY) == 0)
            return EMBER_FAIL(err, EMBER_ERR_ARG,
                              "safetensors write: metadata key \"%s\" is reserved (the writer "
                              "computes it)",
                              EMBER_ST_CHECKSUM_KEY);
    }
    int most = n_tensors > n_meta ? n_tensors : n_meta;
    named *v = malloc(sizeof *v * (size_t)(most > 0 ? most : 1));
    if (!v)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "safetensors write: out of memory");
    for (int i = 0; i < n_tensors; i++)
        v[i] = (named){tensors[i].name, i};
    const char *dup = sort_find_dup(v, n_tensors);
    ember_status s = EMBER_OK;
    if (dup)
        s = EMBER_FAIL(err, EMBER_ERR_ARG, "safetensors write: tensor name '%s' appears twice", dup);
    for (int i = 0; s == EMBER_OK && i < n_meta; i++)
        v[i] = (named){keys[i], i};
    if (s == EMBER_OK && (dup = sort_find_dup(v, n_meta)) != NULL)
        s = EMBER_FAIL(err, EMBER_ERR_ARG, "safetensors write: metadata key '%s' appears twice", dup);
    free(v);
    return s;
}

/* Add item to an object (key) or array (key NULL); false (item freed) on failure. */
static int add_item(cJSON *parent, const char *key, cJSON *item)
{
    if (!item)
        return 0;
    if (key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item))
        return 1;
    cJSON_Delete(item);
    return 0;
}

/* A JSON array of plain integers (raw text, never exponent notation). */
static cJSON *int_array(const uint64_t *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        char num[24];
        snprintf(num, sizeof num, "%" PRIu64, v[i]);
        if (!add_item(a, NULL, cJSON_CreateRaw(num))) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* The header text, unpadded; NULL when out of memory. Free with cJSON_free. */
static char *build_header(const ember_st_tensor *t, int n, const uint64_t *bytes,
                          const char *const *keys, const char *const *values, int n_meta,
                          const char *checksum)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON *meta = cJSON_CreateObject();
    int ok = add_item(root, "__metadata__", meta);
    for (int i = 0; ok && i < n_meta; i++)
        ok = add_item(meta, keys[i], cJSON_CreateString(values[i]));
    ok = ok && add_item(meta, EMBER_ST_CHECKSUM_KEY, cJSON_CreateString(checksum));
    uint64_t offset = 0;
    for (int i = 0; ok && i < n; i++) {
        cJSON *entry = cJSON_CreateObject();
        ok = add_item(root, t[i].name, entry);
        uint64_t shape[EMBER_MAX_DIMS], offs[2] = {offset, offset + bytes[i]};
        for (int d = 0; d < t[i].ndim; d++)
            shape[d] = (uint64_t)t[i].shape[d];
        ok = ok && add_item(entry, "dtype", cJSON_CreateString("F32"));
        ok = ok && add_item(entry, "shape", int_array(shape, t[i].ndim));
        ok = ok && add_item(entry, "data_offsets", int_array(offs, 2));
        offset += bytes[i];
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* write() all of buf; 0, or -1 with errno set. */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding `path`; 0 or an errno value. EINVAL (a file
 * system that cannot sync directories) counts as success. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    if (!dir)
        return ENOMEM;
    int e = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        e = errno;
    else {
        if (fsync(fd) != 0 && errno != EINVAL)
            e = errno;
        close(fd);
    }
    free(dir);
    return e;
}

static ember_status write_atomic(const char *path, const unsigned char *head, size_t head_len,
                                 const ember_st_tensor *t, int n, const uint64_t *bytes,
                                 ember_error *err)
{
    size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    if (!tmp)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        ember_status s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot create temporary file %s: %s",
                                    path, tmp, strerror(errno));
        free(tmp);
        return s;
    }
    const char *step = NULL;
    int e = 0;
    if (write_all(fd, head, head_len) != 0)
        step = "write", e = errno;
    for (int i = 0; !step && i < n; i++)
        if (bytes[i] && write_all(fd, t[i].data, (size_t)bytes[i]) != 0)
            step = "write", e = errno;
    if (!step && fsync(fd) != 0)
        step = "fsync", e = errno;
    if (close(fd) != 0 && !step)
        step = "close", e = errno;
    if (!step && rename(tmp, path) != 0)
        step = "rename", e = errno;
    if (step) {
        unlink(tmp);
        ember_status s = EMBER_FAIL(err, EMBER_ERR_IO,
                                    "%s: not saved (old file, if any, kept): %s of temporary "
                                    "file %s failed: %s",
                                    path, step, tmp, strerror(e));
        free(tmp);
        return s;
    }
    free(tmp);
    if ((e = sync_dir(path)) != 0)
        return EMBER_FAIL(err, EMBER_ERR_IO,
                          "%s: written, but syncing its directory failed (the file may not "
                          "survive a crash): %s",
                          path, strerror(e));
    return EMBER_OK;
}

ember_status ember__st_write(const char *path, const ember_st_tensor *tensors, int n_tensors,
                             const char *const *meta_keys, const char *const *meta_values,
                             int n_meta, ember_error *err)
{
    if (!host_is_little_endian())
        return EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "safetensors I/O needs a little-endian host");
    if (!path || !*path || n_tensors < 0 || n_meta < 0 || (n_tensors > 0 && !tensors) ||
        (n_meta > 0 && (!meta_keys || !meta_values)))
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "safetensors write: NULL/empty path, negative count or NULL array");
    uint64_t *bytes = malloc(sizeof *bytes * (size_t)(n_tensors > 0 ? n_tensors : 1));
    if (!bytes)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
    ember_status s = check_write_args(tensors, n_tensors, meta_keys, meta_values, n_meta, bytes, err);
    if (s != EMBER_OK) {
        free(bytes);
        return s;
    }

    char checksum[EMBER_SHA256_HEX_LEN + 1];
    ember_sha256 h;
    s = ember__sha256_init(&h, err);
    for (int i = 0; s == EMBER_OK && i < n_tensors; i++)
        s = ember__sha256_update(&h, tensors[i].data, (size_t)bytes[i], err);
    if (s == EMBER_OK)
        s = ember__sha256_final(&h, checksum, err);
    ember__sha256_deinit(&h);
    char *json = NULL;
    if (s == EMBER_OK) {
        json = build_header(tensors, n_tensors, bytes, meta_keys, meta_values, n_meta, checksum);
        if (!json)
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory building the header", path);
    }
    unsigned char *head = NULL;
    size_t head_len = 0;
    if (s == EMBER_OK) {
        size_t len = strlen(json), pad = (DATA_ALIGN - len % DATA_ALIGN) % DATA_ALIGN;
        if (len + pad > EMBER_ST_MAX_HEADER)
            s = EMBER_FAIL(err, EMBER_ERR_ARG,
                           "%s: the header would be %zu bytes, above the %llu-byte limit of "
                           "safetensors readers",
                           path, len + pad, EMBER_ST_MAX_HEADER);
        else if (!(head = malloc(LEN_BYTES + len + pad)))
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
        else {
            uint64_t n = len + pad;
            for (int k = 0; k < LEN_BYTES; k++)
                head[k] = (unsigned char)(n >> (8 * k));
            memcpy(head + LEN_BYTES, json, len);
            memset(head + LEN_BYTES + len, ' ', pad);
            head_len = LEN_BYTES + len + pad;
        }
    }
    cJSON_free(json);
    if (s == EMBER_OK)
        s = write_atomic(path, head, head_len, tensors, n_tensors, bytes, err);
    free(head);
    free(bytes);
    return s;
}

/* ================================================================ reader */

typedef struct st_entry {
    char *name;
    int ndim;
    int64_t shape[EMBER_MAX_DIMS];
    uint64_t begin, end; /* data_offsets, relative to the data section */
    float *data;         /* into ember_st_file.block */
} st_entry;

typedef struct st_meta {
    char *key, *value;
} st_meta;

struct ember_st_file {
    char *path;                /* for messages from ember__st_get */
    st_entry *t;               /* tensors in header order */
    int n, cap;
    named *by_name;            /* n tensor names, sorted */
    st_meta *meta;             /* metadata in header order */
    int n_meta, meta_cap;
    named *meta_sorted;        /* n_meta keys, sorted */
    int has_checksum;
    void *block;               /* all tensor data, each tensor EMBER_ALIGNMENT-aligned */
};

/* Parser state: the header text (not NUL-terminated) and a cursor. */
typedef struct jp {
    const char *s;
    size_t n, i;
    const char *path;
    ember_error *err;
} jp;

static int peek(const jp *p) { return p->i < p->n ? (unsigned char)p->s[p->i] : -1; }

static void skip_ws(jp *p)
{
    int c;
    while ((c = peek(p)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        p->i++;
}

static ember_status bad_json(const jp *p, const char *what)
{
    return EMBER_FAIL(p->err, EMBER_ERR_FORMAT,
                      "%s: header is not valid JSON: %s at byte %zu of the file", p->path, what,
                      p->i + LEN_BYTES);
}

static int literal_at(const jp *p, const char *word)
{
    size_t k = strlen(word);
    return p->n - p->i >= k && memcmp(p->s + p->i, word, k) == 0;
}

/* What kind of JSON value starts at the cursor, or NULL if none does. */
static const char *value_kind(const jp *p)
{
    int c = peek(p);
    if (c == '{') return "an object";
    if (c == '[') return "an array";
    if (c == '"') return "a string";
    if (c == '-' || (c >= '0' && c <= '9')) return "a number";
    if (literal_at(p, "true") || literal_at(p, "false")) return "a boolean";
    if (literal_at(p, "null")) return "null";
    return NULL;
}

/* Value at the cursor is of the wrong type: a schema error naming `what`,
 * or a syntax error if no value starts there. */
static ember_status wrong_type(const jp *p, const char *what, const char *want)
{
    const char *kind = value_kind(p);
    if (!kind)
        return bad_json(p, "expected a value");
    return EMBER_FAIL(p->err, EMBER_ERR_FORMAT, "%s: %s must be %s, got %s", p->path, what, want,
                      kind);
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int c = (unsigned char)s[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        *v = *v * 16 + (unsigned)d;
    }
    return 1;
}

/* Parse the string at the cursor (which is at '"') into a new NUL-terminated
 * UTF-8 string *out (caller frees). */
static ember_status parse_string(jp *p, char **out)
{
    size_t start = ++p->i, end = start;
    while (end < p->n && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n)
        return bad_json(p, "unterminated string");
    char *o = malloc(end - start + 1); /* decoding never lengthens */
    if (!o)
        return EMBER_FAIL(p->err, EMBER_ERR_NOMEM, "%s: out of memory", p->path);
    size_t k = 0;
    const char *what = NULL;
    while (p->i < end && !what) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) {
            what = "control character in a string";
        } else if (c >= 0x80) {
            size_t len = utf8_seq((const unsigned char *)p->s + p->i, end - p->i);
            if (!len) {
                what = "invalid UTF-8 in a string";
                break;
            }
            memcpy(o + k, p->s + p->i, len);
            k += len, p->i += len;
        } else if (c != '\\') {
            o[k++] = (char)c, p->i++;
        } else {
            char e = p->s[p->i + 1]; /* in bounds: the scan above stopped after it */
            const char *simple = strchr("\"\\/bfnrt", e), *map = "\"\\/\b\f\n\r\t";
            unsigned cp, lo;
            if (e && simple) {
                o[k++] = map[simple - "\"\\/bfnrt"], p->i += 2;
                continue;
            }
            if (e != 'u' || end - p->i < 6 || !hex4(p->s + p->i + 2, &cp)) {
                what = "bad escape sequence";
                break;
            }
            p->i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
                    !hex4(p->s + p->i + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    what = "unpaired UTF-16 surrogate in a \\u escape";
                    break;
                }
                p->i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                what = "unpaired UTF-16 surrogate in a \\u escape";
                break;
            } else if (cp == 0) {
                free(o);
                return EMBER_FAIL(p->err, EMBER_ERR_FORMAT,
                                  "%s: header string at byte %zu contains \\u0000, which Ember "
                                  "does not accept",
                                  p->path, p->i + LEN_BYTES);
            }
            if (cp < 0x80) {
                o[k++] = (char)cp;
            } else if (cp < 0x800) {
                o[k++] = (char)(0xC0 | cp >> 6);
                o[k++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                o[k++] = (char)(0xE0 | cp >> 12);
                o[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                o[k++] = (char)(0x80 | (cp & 0x3F));
            } else {
                o[k++] = (char)(0xF0 | cp >> 18);
                o[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                o[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                o[k++] = (char)(0x80 | (cp & 0x3F));
            }
        }
    }
    if (what) {
        free(o);
        return bad_json(p, what);
    }
    o[k] = '\0';
    p->i = end + 1;
    *out = o;
    return EMBER_OK;
}

/* Parse "key": at the cursor; *key is new (caller frees). */
static ember_status parse_key(jp *p, char **key)
{
    skip_ws(p);
    if (peek(p) != '"')
        return bad_json(p, "expected a string key");
    ember_status s = parse_string(p, key);
    if (s != EMBER_OK)
        return s;
    skip_ws(p);
    if (peek(p) != ':') {
        free(*key);
        return bad_json(p, "expected ':'");
    }
    p->i++;
    skip_ws(p);
    return EMBER_OK;
}

/* After a member or element: 1 at ',' (consumed), 0 at `close` (consumed),
 * -1 with a syntax error otherwise. */
static int next_or_close(jp *p, char close, ember_status *s)
{
    skip_ws(p);
    int c = peek(p);
    p->i += c == ',' || c == close;
    if (c == ',')
        return 1;
    if (c == close)
        return 0;
    *s = bad_json(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    return -1;
}

/* A non-negative integer <= EMBER_ST_MAX_INT, in JSON number syntax. */
static ember_status parse_uint(jp *p, const char *tensor, const char *field, int idx,
                               uint64_t *out)
{
    char what[NAME_MAX_SHOWN + 64];
    snprintf(what, sizeof what, "tensor '%.*s': %s[%d]", NAME_MAX_SHOWN, tensor, field, idx);
    int c = peek(p);
    if (c != '-' && !(c >= '0' && c <= '9'))
        return wrong_type(p, what, "an integer");
    size_t start = p->i;
    int plain = c != '-';
    p->i += c == '-';
    if (peek(p) == '0')
        p->i++;
    else if (peek(p) >= '1' && peek(p) <= '9')
        while (peek(p) >= '0' && peek(p) <= '9')
            p->i++;
    else
        return bad_json(p, "bad number");
    if (peek(p) == '.') {
        plain = 0, p->i++;
        if (!(peek(p) >= '0' && peek(p) <= '9'))
            return bad_json(p, "bad number");
        while (peek(p) >= '0' && peek(p) <= '9')
            p->i++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        plain = 0, p->i++;
        p->i += peek(p) == '+' || peek(p) == '-';
        if (!(peek(p) >= '0' && peek(p) <= '9'))
            return bad_json(p, "bad number");
        while (peek(p) >= '0' && peek(p) <= '9')
            p->i++;
    }
    int len = (int)(p->i - start > 40 ? 40 : p->i - start);
    if (!plain)
        return EMBER_FAIL(p->err, EMBER_ERR_FORMAT, "%s: %s is %.*s, not a non-negative integer",
                          p->path, what, len, p->s + start);
    uint64_t v = 0;
    for (size_t k = start; k < p->i; k++) {
        v = v * 10 + (uint64_t)(p->s[k] - '0'); /* v <= 2^53 here, so no overflow */
        if (v > EMBER_ST_MAX_INT)
            return EMBER_FAIL(p->err, EMBER_ERR_FORMAT, "%s: %s is %.*s, above the limit 2^53",
                              p->path, what, len, p->s + start);
    }
    *out = v;
    return EMBER_OK;
}

/* [n0, n1, ...] with at most `max` entries into v; count in *n. */
static ember_status parse_uint_array(jp *p, const char *tensor, const char *field, int max,
                                     uint64_t *v, int *n)
{
    char what[NAME_MAX_SHOWN + 64];
    snprintf(what, sizeof what, "tensor '%.*s': %s", NAME_MAX_SHOWN, tensor, field);
    if (peek(p) != '[')
        return wrong_type(p, what, "an array of integers");
    p->i++;
    skip_ws(p);
    *n = 0;
    if (peek(p) == ']') {
        p->i++;
        return EMBER_OK;
    }
    ember_status s = EMBER_OK;
    do {
        skip_ws(p);
        if (*n == max)
            return EMBER_FAIL(p->err, EMBER_ERR_FORMAT, "%s: %s has more than %d entries",
                              p->path, what, max);
        s = parse_uint(p, tensor, field, *n, &v[*n]);
        if (s != EMBER_OK)
            return s;
        ++*n;
    } while (next_or_close(p, ']', &s) == 1);
    return s;
}

enum { KEY_DTYPE = 1, KEY_SHAPE = 2, KEY_OFFSETS = 4 };

static ember_status parse_dtype(jp *p, const char *name)
{
    char what[NAME_MAX_SHOWN + 32], *dt;
    snprintf(what, sizeof what, "tensor '%.*s': dtype", NAME_MAX_SHOWN, name);
    if (peek(p) != '"')
        return wrong_type(p, what, "a string");
    ember_status s = parse_string(p, &dt);
    if (s != EMBER_OK || strcmp(dt, "F32") == 0) {
        if (s == EMBER_OK)
            free(dt);
        return s;
    }
    s = EMBER_FAIL(p->err, EMBER_ERR_FORMAT, "%s: %s \"%.32s\" is not a safetensors dtype", p->path,
                   what, dt);
    for (size_t k = 0; k < sizeof other_dtypes / sizeof *other_dtypes; k++)
        if (strcmp(dt, other_dtypes[k]) == 0)
            s = EMBER_FAIL(p->err, EMBER_ERR_UNSUPPORTED,
                           "%s: %s %s is not supported (Ember reads F32 only)", p->path, what, dt);
    free(dt);
    return s;
}

/* One tensor entry {"dtype":..,"shape":..,"data_offsets":..} into *t. */
static ember_status parse_tensor(jp *p, st_entry *t)
{
    char what[NAME_MAX_SHOWN + 32];
    snprintf(what, sizeof what, "tensor '%.*s'", NAME_MAX_SHOWN, t->name);
    if (peek(p) != '{')
        return wrong_type(p, what, "an object {\"dtype\", \"shape\", \"data_offsets\"}");
    p->i++;
    skip_ws(p);
    int seen = 0;
    ember_status s = EMBER_OK;
    if (peek(p) == '}')
        p->i++;
    else
        do {
            char *key;
            if ((s = parse_key(p, &key)) != EMBER_OK)
                return s;
            int which = strcmp(key, "dtype") == 0         ? KEY_DTYPE
                        : strcmp(key, "shape") == 0        ? KEY_SHAPE
                        : strcmp(key, "data_offsets") == 0 ? KEY_OFFSETS
                                                           : 0;
            if (!which || (seen & which))
                s = EMBER_FAIL(p->err, EMBER_ERR_FORMAT,
                               which ? "%s: %s: key \"%.*s\" appears twice"
                                     : "%s: %s: unexpected key \"%.*s\" (an entry holds only "
                                       "dtype, shape and data_offsets)",
                               p->path, what, NAME_MAX_SHOWN, key);
            free(key);
            if (s != EMBER_OK)
                return s;
            seen |= which;
            uint64_t v[EMBER_MAX_DIMS];
            int n = 0;
            if (which == KEY_DTYPE) {
                s = parse_dtype(p, t->name);
            } else if (which == KEY_SHAPE) {
                s = parse_uint_array(p, t->name, "shape", EMBER_MAX_DIMS, v, &n);
                t->ndim = n;
                for (int d = 0; d < n; d++)
                    t->shape[d] = (int64_t)v[d];
            } else {
                s = parse_uint_array(p, t->name, "data_offsets", 2, v, &n);
                if (s == EMBER_OK && n != 2)
                    s = EMBER_FAIL(p->err, EMBER_ERR_FORMAT,
                                   "%s: %s: data_offsets must hold 2 integers [begin, end], got %d",
                                   p->path, what, n);
                if (s == EMBER_OK)
                    t->begin = v[0], t->end = v[1];
            }
            if (s != EMBER_OK)
                return s;
        } while (next_or_close(p, '}', &s) == 1);
    if (s != EMBER_OK)
        return s;
    const char *missing = !(seen & KEY_DTYPE) ? "dtype" : !(seen & KEY_SHAPE) ? "shape"
                          : !(seen & KEY_OFFSETS) ? "data_offsets" : NULL;
    if (missing)
        return EMBER_FAIL(p->err, EMBER_ERR_FORMAT, "%s: %s: \"%s\" is missing", p->path, what,
                          missing);
    return EMBER_OK;
}

/* Room for element n of a growing array of `size`-byte items: the array,
 * moved if needed, or NULL (the old one still valid) when out of memory. */
static void *grow(void *arr, int *cap, int n, size_t size)
{
    if (n < *cap)
        return arr;
    if (*cap > INT_MAX / 2)
        return NULL;
    int c = *cap ? *cap * 2 : 16;
    size_t bytes;
    if (!ember__mul_size((size_t)c, size, &bytes))
        return NULL;
    void *q = realloc(arr, bytes);
    if (q)
        *cap = c;
    return q;
}

static ember_status parse_metadata(jp *p, ember_st_file *f)
{
    if (peek(p) != '{')
        return wrong_type(p, "__metadata__", "an object of strings");
    p->i++;
    skip_ws(p);
    if (peek(p) == '}') {
        p->i++;
        return EMBER_OK;
    }
    ember_status s = EMBER_OK;
    do {
        char *key, *value;
        if ((s = parse_key(p, &key)) != EMBER_OK)
            return s;
        char what[NAME_MAX_SHOWN + 32];
        snprintf(what, sizeof what, "__metadata__ \"%.*s\"", NAME_MAX_SHOWN, key);
        if (peek(p) != '"')
            s = wrong_type(p, what, "a string");
        else
            s = parse_string(p, &value);
        st_meta *m = s == EMBER_OK ? grow(f->meta, &f->meta_cap, f->n_meta, sizeof *m) : NULL;
        if (s == EMBER_OK && !m) {
            free(value);
            s = EMBER_FAIL(p->err, EMBER_ERR_NOMEM, "%s: out of memory", p->path);
        }
        if (s != EMBER_OK) {
            free(key);
            return s;
        }
        f->meta = m;
        f->meta[f->n_meta++] = (st_meta){key, value};
    } while (next_or_close(p, '}', &s) == 1);
    return s;
}

static ember_status parse_header(jp *p, ember_st_file *f)
{
    skip_ws(p);
    if (peek(p) != '{')
        return wrong_type(p, "the header", "a JSON object");
    p->i++;
    skip_ws(p);
    int seen_meta = 0;
    ember_status s = EMBER_OK;
    if (peek(p) == '}')
        p->i++;
    else
        do {
            char *key;
            if ((s = parse_key(p, &key)) != EMBER_OK)
                return s;
            if (strcmp(key, "__metadata__") == 0) {
                free(key);
                if (seen_meta++)
                    return EMBER_FAIL(p->err, EMBER_ERR_FORMAT, "%s: __metadata__ appears twice",
                                      p->path);
                s = parse_metadata(p, f);
            } else {
                st_entry *grown = grow(f->t, &f->cap, f->n, sizeof *f->t);
                if (!grown) {
                    free(key);
                    return EMBER_FAIL(p->err, EMBER_ERR_NOMEM, "%s: out of memory", p->path);
                }
                f->t = grown;
                st_entry *t = &f->t[f->n++];
                memset(t, 0, sizeof *t);
                t->name = key;
                s = parse_tensor(p, t);
            }
            if (s != EMBER_OK)
                return s;
        } while (next_or_close(p, '}', &s) == 1);
    if (s != EMBER_OK)
        return s;
    skip_ws(p); /* the writer's padding */
    if (p->i != p->n)
        return bad_json(p, "unexpected text after the header object");
    return EMBER_OK;
}

static int by_offset(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Names: tensor names and metadata keys unique (sorted copies kept for
 * lookup); the checksum, if present, well formed. */
static ember_status check_names(ember_st_file *f, ember_error *err)
{
    if (!(f->meta_sorted = malloc(sizeof *f->meta_sorted * (size_t)f->n_meta + 1)) ||
        !(f->by_name = malloc(sizeof *f->by_name * (size_t)f->n + 1)))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", f->path);
    for (int i = 0; i < f->n_meta; i++)
        f->meta_sorted[i] = (named){f->meta[i].key, i};
    const char *dup = sort_find_dup(f->meta_sorted, f->n_meta);
    if (dup)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: __metadata__ key \"%.*s\" appears twice",
                          f->path, NAME_MAX_SHOWN, dup);
    for (int i = 0; i < f->n; i++)
        f->by_name[i] = (named){f->t[i].name, i};
    if ((dup = sort_find_dup(f->by_name, f->n)) != NULL)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor name '%.*s' appears twice in the header",
                          f->path, NAME_MAX_SHOWN, dup);
    const char *sum = ember__st_meta(f, EMBER_ST_CHECKSUM_KEY);
    if (sum) {
        int ok = strlen(sum) == EMBER_SHA256_HEX_LEN;
        for (const char *c = sum; ok && *c; c++)
            ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
        if (!ok)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: __metadata__ \"%s\" is not a 64-digit lowercase hex SHA-256",
                              f->path, EMBER_ST_CHECKSUM_KEY);
        f->has_checksum = 1;
    }
    return EMBER_OK;
}

/* Offsets: each tensor's span matches its shape and lies inside the data
 * section (data_len bytes), and together they tile it from 0. `order` gets
 * the tensors sorted by offset. */
static ember_status check_offsets(const ember_st_file *f, uint64_t data_len, st_entry **order,
                                  ember_error *err)
{
    const char *path = f->path;
    for (int i = 0; i < f->n; i++) {
        st_entry *t = &f->t[i];
        char sh[128];
        uint64_t numel;
        shape_str(sh, sizeof sh, t->ndim, t->shape);
        if (!shape_numel(t->ndim, t->shape, &numel))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: tensor '%.*s': shape %s has more than 2^53 elements", path,
                              NAME_MAX_SHOWN, t->name, sh);
        if (t->begin > t->end)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: tensor '%.*s': data_offsets [%" PRIu64 ",%" PRIu64
                              "] end before they begin",
                              path, NAME_MAX_SHOWN, t->name, t->begin, t->end);
        if (t->end - t->begin != numel * F32_BYTES)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: tensor '%.*s': data_offsets [%" PRIu64 ",%" PRIu64
                              "] span %" PRIu64 " bytes, but shape %s of F32 needs %" PRIu64
                              " bytes",
                              path, NAME_MAX_SHOWN, t->name, t->begin, t->end, t->end - t->begin,
                              sh, numel * F32_BYTES);
        if (t->end > data_len)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: tensor '%.*s': data_offsets [%" PRIu64 ",%" PRIu64
                              "] reach past the end of the data section (%" PRIu64
                              " bytes; file truncated?)",
                              path, NAME_MAX_SHOWN, t->name, t->begin, t->end, data_len);
        order[i] = t;
    }
    qsort(order, (size_t)f->n, sizeof *order, by_offset);
    uint64_t at = 0;
    for (int i = 0; i < f->n; i++) {
        if (order[i]->begin < at)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: tensors '%.*s' and '%.*s' overlap in the data section", path,
                              NAME_MAX_SHOWN, order[i - 1]->name, NAME_MAX_SHOWN, order[i]->name);
        if (order[i]->begin > at)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: hole of %" PRIu64 " bytes in the data section before tensor "
                              "'%.*s' (tensors must be contiguous from offset 0)",
                              path, order[i]->begin - at, NAME_MAX_SHOWN, order[i]->name);
        at = order[i]->end;
    }
    if (at != data_len)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: %" PRIu64 " trailing bytes after the last tensor (the data "
                          "section is %" PRIu64 " bytes, the tensors end at %" PRIu64 ")",
                          path, data_len - at, data_len, at);
    return EMBER_OK;
}

/* fread exactly len bytes; IO error on a read error, FORMAT if the file ended. */
static ember_status read_exact(FILE *fp, void *buf, size_t len, const char *path, ember_error *err)
{
    if (len == 0 || fread(buf, 1, len, fp) == len)
        return EMBER_OK;
    if (ferror(fp))
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: the file ended early (it changed while being read)",
                      path);
}

/* Read the data section (after the header) into f->block, hashing it. */
static ember_status read_data(ember_st_file *f, FILE *fp, st_entry **order, ember_error *err)
{
    size_t total = EMBER_ALIGNMENT; /* slack so even an empty last tensor points inside */
    for (int i = 0; i < f->n; i++) {
        uint64_t b = order[i]->end - order[i]->begin;
        uint64_t slot = (b + EMBER_ALIGNMENT - 1) / EMBER_ALIGNMENT * EMBER_ALIGNMENT;
        if (slot > SIZE_MAX - total)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: tensor data too large for memory", f->path);
        total += (size_t)slot;
    }
    if (!(f->block = ember__alloc(total)))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: cannot allocate %zu bytes for the tensor data",
                          f->path, total);
    char computed[EMBER_SHA256_HEX_LEN + 1];
    ember_sha256 h;
    ember_status s = ember__sha256_init(&h, err);
    size_t at = 0;
    for (int i = 0; s == EMBER_OK && i < f->n; i++) {
        size_t b = (size_t)(order[i]->end - order[i]->begin);
        order[i]->data = (float *)((char *)f->block + at);
        s = read_exact(fp, order[i]->data, b, f->path, err);
        if (s == EMBER_OK)
            s = ember__sha256_update(&h, order[i]->data, b, err);
        at += (b + EMBER_ALIGNMENT - 1) / EMBER_ALIGNMENT * EMBER_ALIGNMENT;
    }
    if (s == EMBER_OK)
        s = ember__sha256_final(&h, computed, err);
    ember__sha256_deinit(&h);
    if (s != EMBER_OK)
        return s;
    if (fgetc(fp) != EOF)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: the file grew while being read", f->path);
    if (ferror(fp))
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: read failed: %s", f->path, strerror(errno));
    const char *stored = ember__st_meta(f, EMBER_ST_CHECKSUM_KEY);
    if (stored && strcmp(stored, computed) != 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: checksum mismatch: the tensor data is corrupt (header says %s, "
                          "data hashes to %s)",
                          f->path, stored, computed);
    return EMBER_OK;
}

/* Check sizes, parse and check the header, read the data: all of ember__st_read
 * once the file is open. */
static ember_status read_file(ember_st_file *f, FILE *fp, ember_error *err)
{
    const char *path = f->path;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: not a regular file", path);
    uint64_t size = (uint64_t)st.st_size;
    if (size < LEN_BYTES)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: file is %" PRIu64 " bytes, too short for the 8-byte header length "
                          "(not a safetensors file?)",
                          path, size);
    unsigned char len8[LEN_BYTES];
    ember_status s = read_exact(fp, len8, LEN_BYTES, path, err);
    if (s != EMBER_OK)
        return s;
    uint64_t n = 0;
    for (int k = LEN_BYTES - 1; k >= 0; k--)
        n = n << 8 | len8[k];
    if (n == 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: header length is 0 (a header is at least \"{}\")",
                          path);
    if (n > EMBER_ST_MAX_HEADER)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: header length %" PRIu64 " exceeds the limit of %llu bytes (the "
                          "safetensors cap; the file is corrupt or not safetensors)",
                          path, n, EMBER_ST_MAX_HEADER);
    if (n > size - LEN_BYTES)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: header length %" PRIu64 " is larger than the %" PRIu64
                          " bytes after it (file truncated?)",
                          path, n, size - LEN_BYTES);
    char *text = malloc((size_t)n);
    if (!text)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory for a %" PRIu64 "-byte header",
                          path, n);
    s = read_exact(fp, text, (size_t)n, path, err);
    if (s == EMBER_OK) {
        jp p = {text, (size_t)n, 0, path, err};
        s = parse_header(&p, f);
    }
    free(text);
    if (s != EMBER_OK)
        return s;
    st_entry **order = malloc(sizeof *order * (size_t)f->n + 1);
    if (!order)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
    s = check_names(f, err);
    if (s == EMBER_OK)
        s = check_offsets(f, size - LEN_BYTES - n, order, err);
    if (s == EMBER_OK)
        s = read_data(f, fp, order, err);
    free(order);
    return s;
}

ember_status ember__st_read(ember_st_file **out, const char *path, ember_error *err)
{
    if (!out || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "safetensors read: NULL out or path");
    if (!host_is_little_endian())
        return EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "safetensors I/O needs a little-endian host");
    ember_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        ember_status s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        ember__st_free(f);
        return s;
    }
    ember_status s = read_file(f, fp, err);
    fclose(fp); /* read-only: nothing to lose if close reports an error */
    if (s != EMBER_OK) {
        ember__st_free(f);
        return s;
    }
    *out = f;
    return EMBER_OK;
}

void ember__st_free(ember_st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        free(f->t[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->t);
    free(f->by_name);
    free(f->meta);
    free(f->meta_sorted);
    ember__free(f->block);
    free(f->path);
    free(f);
}

int ember__st_has_checksum(const ember_st_file *f) { return f->has_checksum; }

int ember__st_count(const ember_st_file *f) { return f->n; }

const char *ember__st_name(const ember_st_file *f, int i)
{
    return i >= 0 && i < f->n ? f->t[i].name : NULL;
}

int ember__st_shape(const ember_st_file *f, int i, int64_t shape[EMBER_MAX_DIMS])
{
    if (i < 0 || i >= f->n)
        return -1;
    memcpy(shape, f->t[i].shape, sizeof f->t[i].shape);
    return f->t[i].ndim;
}

const char *ember__st_meta(const ember_st_file *f, const char *key)
{
    if (!f->meta_sorted || !key)
        return NULL;
    named k = {key, 0};
    const named *hit = bsearch(&k, f->meta_sorted, (size_t)f->n_meta, sizeof k, named_cmp);
    return hit ? f->meta[hit->idx].value : NULL;
}

int ember__st_meta_count(const ember_st_file *f) { return f->n_meta; }

const char *ember__st_meta_key(const ember_st_file *f, int i)
{
    return i >= 0 && i < f->n_meta ? f->meta[i].key : NULL;
}

ember_status ember__st_get(const ember_st_file *f, const char *name, int ndim,
                           const int64_t *shape, const float **data, ember_error *err)
{
    if (!f || !name || !data || ndim < 0 || ndim > EMBER_MAX_DIMS || (ndim > 0 && !shape))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "safetensors get: NULL argument or ndim %d not in 0..%d",
                          ndim, EMBER_MAX_DIMS);
    named k = {name, 0};
    const named *hit = bsearch(&k, f->by_name, (size_t)f->n, sizeof k, named_cmp);
    if (!hit)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor '%s' is missing", f->path, name);
    const st_entry *t = &f->t[hit->idx];
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        char got[128], want[128];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", f->path,
                          name, got, want);
    }
    *data = t->data;
    return EMBER_OK;
}
