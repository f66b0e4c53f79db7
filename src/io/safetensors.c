/*
 * safetensors.c - hardened reader and atomic writer for the safetensors
 * layout (see safetensors.h for the rules), float32 only.
 *
 * The writer builds the header with cJSON, printing integers as raw text:
 * cJSON prints numbers with %g, so 10^15 would come out as "1e+15", which
 * Python's reader rejects for an offset.
 *
 * The reader parses the header with cJSON and checks, in this order:
 *  - the raw text, for what cJSON lets through (ember__st_check_text, in
 *    st_header_check.c): valid UTF-8 and no control characters in strings;
 *    no "\u0000" and no \u escape without four hex digits; outside strings,
 *    no control byte but tab/LF/CR and no non-ASCII byte (so no BOM); numbers
 *    written as plain integers (no leading zero, fraction or exponent), the
 *    non-negative ones at most 2^53, checked exactly (cJSON holds numbers as
 *    doubles);
 *  - that cJSON parses it (nesting deeper than CJSON_NESTING_LIMIT, 1000,
 *    fails there) and that only JSON whitespace follows the object;
 *  - the tree: an object whose members are tensor entries (exactly dtype,
 *    shape, data_offsets, each once, of the right types) and at most one
 *    __metadata__ object of strings; duplicate tensor names and metadata keys,
 *    which cJSON keeps, are refused by name (check_names);
 *  - offsets, contiguity, the checksum (as safetensors.h lists).
 * Errors name the tensor or field, or give the byte offset in the file.
 *
 * Costs of using cJSON here: it builds the whole tree before any schema
 * check, about 40 bytes of memory per header byte at worst (a 100 MB header
 * of "[0,0,0,...]" took some 4 GB), which is why EMBER_ST_MAX_HEADER is
 * 16 MiB rather than the reference reader's 100 MB;
 * and cJSON 1.7.15 writes a process-wide error variable on every parse (we
 * never read it), so concurrent reads are a benign data race for TSan.
 *
 * Deliberately not here: other dtypes, memory mapping, byte swapping for
 * big-endian hosts (refused at run time), partial reads.
 */
#define _POSIX_C_SOURCE 200809L
#include "io/safetensors.h"

#include "core.h"
#include "io/hash.h"
#include "io/st_header_check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define F32_BYTES 4
#define LEN_BYTES EMBER_ST_LEN_BYTES /* the header-length prefix */
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


static int utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        size_t k = ember__st_utf8_seq(s + i, n - i);
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
    *bytes = 0;
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

/* Tell the test hook (if any) that `stage` has just been reached. */
static void at_stage(const ember_st_hook *hook, int stage)
{
    if (hook && hook->at)
        hook->at(stage, hook->user);
}

static ember_status write_atomic(const char *path, const unsigned char *head, size_t head_len,
                                 const ember_st_tensor *t, int n, const uint64_t *bytes,
                                 const ember_st_hook *hook, ember_error *err)
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
    if (!step)
        at_stage(hook, EMBER_ST_STAGE_HEADER);
    for (int i = 0; !step && i < n; i++)
        if (bytes[i] && write_all(fd, t[i].data, (size_t)bytes[i]) != 0)
            step = "write", e = errno;
    if (!step)
        at_stage(hook, EMBER_ST_STAGE_WRITTEN);
    if (!step && fsync(fd) != 0)
        step = "fsync", e = errno;
    if (close(fd) != 0 && !step)
        step = "close", e = errno;
    if (!step)
        at_stage(hook, EMBER_ST_STAGE_SYNCED);
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
    at_stage(hook, EMBER_ST_STAGE_RENAMED);
    if ((e = sync_dir(path)) != 0)
        return EMBER_FAIL(err, EMBER_ERR_IO,
                          "%s: written, but syncing its directory failed (the file may not "
                          "survive a crash): %s",
                          path, strerror(e));
    at_stage(hook, EMBER_ST_STAGE_DIR_SYNCED);
    return EMBER_OK;
}

ember_status ember__st_write(const char *path, const ember_st_tensor *tensors, int n_tensors,
                             const char *const *meta_keys, const char *const *meta_values,
                             int n_meta, ember_error *err)
{
    return ember__st_write_hooked(path, tensors, n_tensors, meta_keys, meta_values, n_meta, NULL,
                                  err);
}

ember_status ember__st_write_hooked(const char *path, const ember_st_tensor *tensors,
                                    int n_tensors, const char *const *meta_keys,
                                    const char *const *meta_values, int n_meta,
                                    const ember_st_hook *hook, ember_error *err)
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
        s = write_atomic(path, head, head_len, tensors, n_tensors, bytes, hook, err);
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
    int n;
    named *by_name;            /* n tensor names, sorted */
    st_meta *meta;             /* metadata in header order */
    int n_meta;
    named *meta_sorted;        /* n_meta keys, sorted */
    int has_checksum;
    int canonical;             /* header is byte for byte what ember__st_write writes */
    void *block;               /* all tensor data, each tensor EMBER_ALIGNMENT-aligned */
};


static const char *kind(const cJSON *v)
{
    return cJSON_IsObject(v) ? "an object" : cJSON_IsArray(v) ? "an array"
           : cJSON_IsString(v) ? "a string" : cJSON_IsNumber(v) ? "a number"
           : cJSON_IsBool(v) ? "a boolean" : "null";
}

static ember_status wrong_type(const char *path, ember_error *err, const char *what,
                               const char *want, const cJSON *got)
{
    return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s must be %s, got %s", path, what, want, kind(got));
}

/* A JSON array of at most `max` integers in [0, 2^53] into v; count in *n. */
static ember_status get_uints(const char *path, const char *tensor, const char *field,
                              const cJSON *a, int max, uint64_t *v, int *n, ember_error *err)
{
    char what[NAME_MAX_SHOWN + 64];
    snprintf(what, sizeof what, "tensor '%.*s': %s", NAME_MAX_SHOWN, tensor, field);
    if (!cJSON_IsArray(a))
        return wrong_type(path, err, what, "an array of integers", a);
    *n = 0;
    for (const cJSON *x = a->child; x; x = x->next, ++*n) {
        if (*n == max)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s has more than %d entries", path, what,
                              max);
        if (!cJSON_IsNumber(x))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s[%d] must be an integer, got %s", path,
                              what, *n, kind(x));
        double d = x->valuedouble; /* a plain integer (ember__st_check_text), exact if >= 0 */
        if (signbit(d) || d > (double)EMBER_ST_MAX_INT || d != (double)(uint64_t)d)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s[%d] is %.17g, not a non-negative "
                              "integer up to 2^53", path, what, *n, d);
        v[*n] = (uint64_t)d;
    }
    return EMBER_OK;
}

static ember_status check_dtype(const char *path, const char *tensor, const cJSON *dtype,
                                ember_error *err)
{
    char what[NAME_MAX_SHOWN + 32];
    snprintf(what, sizeof what, "tensor '%.*s': dtype", NAME_MAX_SHOWN, tensor);
    if (!cJSON_IsString(dtype))
        return wrong_type(path, err, what, "a string", dtype);
    const char *dt = dtype->valuestring;
    if (strcmp(dt, "F32") == 0)
        return EMBER_OK;
    for (size_t k = 0; k < sizeof other_dtypes / sizeof *other_dtypes; k++)
        if (strcmp(dt, other_dtypes[k]) == 0)
            return EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED,
                              "%s: %s %s is not supported (Ember reads F32 only)", path, what, dt);
    return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s \"%.32s\" is not a safetensors dtype", path,
                      what, dt);
}

enum { KEY_DTYPE = 1, KEY_SHAPE = 2, KEY_OFFSETS = 4 };

/* One tensor entry {"dtype":..,"shape":..,"data_offsets":..} into *t (name set). */
static ember_status load_tensor(const char *path, const cJSON *e, st_entry *t, ember_error *err)
{
    char what[NAME_MAX_SHOWN + 32];
    snprintf(what, sizeof what, "tensor '%.*s'", NAME_MAX_SHOWN, t->name);
    if (!cJSON_IsObject(e))
        return wrong_type(path, err, what, "an object {\"dtype\", \"shape\", \"data_offsets\"}", e);
    int seen = 0;
    for (const cJSON *k = e->child; k; k = k->next) {
        int which = strcmp(k->string, "dtype") == 0          ? KEY_DTYPE
                    : strcmp(k->string, "shape") == 0        ? KEY_SHAPE
                    : strcmp(k->string, "data_offsets") == 0 ? KEY_OFFSETS
                                                             : 0;
        if (!which || (seen & which))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              which ? "%s: %s: key \"%.*s\" appears twice"
                                    : "%s: %s: unexpected key \"%.*s\" (an entry holds only "
                                      "dtype, shape and data_offsets)",
                              path, what, NAME_MAX_SHOWN, k->string);
        seen |= which;
        uint64_t v[EMBER_MAX_DIMS];
        int n = 0;
        ember_status s;
        if (which == KEY_DTYPE) {
            s = check_dtype(path, t->name, k, err);
        } else if (which == KEY_SHAPE) {
            s = get_uints(path, t->name, "shape", k, EMBER_MAX_DIMS, v, &n, err);
            t->ndim = n;
            for (int d = 0; d < n; d++)
                t->shape[d] = (int64_t)v[d];
        } else {
            s = get_uints(path, t->name, "data_offsets", k, 2, v, &n, err);
            if (s == EMBER_OK && n != 2)
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                               "%s: %s: data_offsets must hold 2 integers [begin, end], got %d",
                               path, what, n);
            if (s == EMBER_OK)
                t->begin = v[0], t->end = v[1];
        }
        if (s != EMBER_OK)
            return s;
    }
    const char *missing = !(seen & KEY_DTYPE) ? "dtype" : !(seen & KEY_SHAPE) ? "shape"
                          : !(seen & KEY_OFFSETS) ? "data_offsets" : NULL;
    if (missing)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s: \"%s\" is missing", path, what, missing);
    return EMBER_OK;
}

static ember_status load_metadata(ember_st_file *f, const cJSON *m, ember_error *err)
{
    if (!cJSON_IsObject(m))
        return wrong_type(f->path, err, "__metadata__", "an object of strings", m);
    if (!(f->meta = calloc((size_t)cJSON_GetArraySize(m) + 1, sizeof *f->meta)))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", f->path);
    for (const cJSON *it = m->child; it; it = it->next) {
        if (!cJSON_IsString(it)) {
            char what[NAME_MAX_SHOWN + 32];
            snprintf(what, sizeof what, "__metadata__ \"%.*s\"", NAME_MAX_SHOWN, it->string);
            return wrong_type(f->path, err, what, "a string", it);
        }
        st_meta *e = &f->meta[f->n_meta++];
        e->key = strdup(it->string);
        e->value = strdup(it->valuestring);
        if (!e->key || !e->value)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", f->path);
    }
    return EMBER_OK; /* duplicate keys: check_names */
}

static ember_status load_entries(ember_st_file *f, const cJSON *root, ember_error *err)
{
    if (!(f->t = calloc((size_t)cJSON_GetArraySize(root) + 1, sizeof *f->t)))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", f->path);
    int seen_meta = 0;
    ember_status s = EMBER_OK;
    for (const cJSON *it = root->child; s == EMBER_OK && it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            s = seen_meta++ ? EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: __metadata__ appears twice",
                                         f->path)
                            : load_metadata(f, it, err);
            continue;
        }
        st_entry *t = &f->t[f->n++];
        if (!(t->name = strdup(it->string)))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", f->path);
        s = load_tensor(f->path, it, t, err);
    }
    return s; /* duplicate names: check_names */
}

/* 1 when text[0..n) is exactly what ember__st_write makes of the tree `root`
 * parsed from it: cJSON's unformatted printing of the same tree (the writer's
 * own printer, so key order, escapes and integers come out the same), then
 * the spaces that pad the header to a multiple of DATA_ALIGN bytes. Parsing
 * and printing again is the identity on the writer's output, so any other
 * text, even one with the same meaning ("\u001B" for "\u001b", a tab for a
 * space), was not written by Ember as it stands. `json_len` is where the
 * object ends. 0 also when printing runs out of memory. */
static int is_canonical(const cJSON *root, const char *text, size_t n, size_t json_len)
{
    size_t pad = (DATA_ALIGN - json_len % DATA_ALIGN) % DATA_ALIGN;
    if (n != json_len + pad)
        return 0;
    for (size_t i = json_len; i < n; i++)
        if (text[i] != ' ')
            return 0;
    char *printed = cJSON_PrintUnformatted(root);
    int same = printed && strlen(printed) == json_len && memcmp(printed, text, json_len) == 0;
    cJSON_free(printed);
    return same;
}

/* The header text (n bytes, NUL after them) into f: ember__st_check_text,
 * parse with cJSON, allow only JSON whitespace (the writer's padding) after
 * the object, walk the tree. */
static ember_status parse_header(ember_st_file *f, const char *text, size_t n, ember_error *err)
{
    ember_status s = ember__st_check_text(text, n, f->path, err);
    if (s != EMBER_OK)
        return s;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!root)
        return ember__st_bad_json(f->path, err, "syntax error (cJSON stops)",
                                  end ? (size_t)(end - text) : 0);
    if (!cJSON_IsObject(root))
        s = wrong_type(f->path, err, "the header", "a JSON object", root);
    const char *end_of_object = end;
    for (; s == EMBER_OK && end < text + n; end++)
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
            s = ember__st_bad_json(f->path, err, "unexpected text after the header object",
                                   (size_t)(end - text));
    if (s == EMBER_OK)
        s = load_entries(f, root, err);
    if (s == EMBER_OK)
        f->canonical = is_canonical(root, text, n, (size_t)(end_of_object - text));
    cJSON_Delete(root);
    return s;
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
    if (stored && strcmp(stored, computed) != 0 && !EMBER__FUZZING)
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
    char *text = malloc((size_t)n + 1);
    if (!text)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory for a %" PRIu64 "-byte header",
                          path, n);
    s = read_exact(fp, text, (size_t)n, path, err);
    if (s == EMBER_OK) {
        text[n] = '\0'; /* not needed by cJSON given the length; a guard */
        s = parse_header(f, text, (size_t)n, err);
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

int ember__st_header_canonical(const ember_st_file *f) { return f->canonical; }

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
