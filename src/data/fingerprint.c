/*
 * fingerprint.c - data manifests: what exactly a data set was
 * (ember_data_fingerprint) and whether it is still that (ember_data_verify).
 *
 * A manifest lists every file under the paths given (folders walked in byte
 * order of their names, hidden entries skipped) with its size, the SHA-256 of
 * its bytes, its detected format, its record count and a content hash of its
 * parsed examples. The content hash is a multiset hash: each example is
 * hashed on its own (SHA-256 of a length-prefixed encoding of its labels and
 * text, CRLF read as LF), the digests are sorted and the sorted list is
 * hashed. So it does not change with line endings, with the order of the
 * records or of the files, or with gzip; it changes with any example's
 * labels or text. The manifest's own content hash does the same over the
 * examples of all files. The file SHA-256 is what catches every byte.
 *
 * Formats: "empty" (0 bytes: no records), "csv", "tsv", "fasttext" (parsed with the text readers and the
 * options given: an example is its labels and text), "idx" (an example is
 * one item: its values), "image" (an example is the file's bytes, with its
 * class), "text" (a file of a class folder: the file is one example; any
 * other UTF-8 file: each line is one), "binary" (anything else: the bytes
 * decompressed). A folder whose entries are all folders is a data set with
 * one folder per class: the class of each file is the name of the class
 * folder it is in.
 *
 * The manifest holds no time stamp, so fingerprinting the same data twice
 * gives the same text.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"
#include "io/hash.h"
#include "io/json_util.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define MANIFEST_FORMAT "ember.manifest"
#define MANIFEST_VERSION 1
#define DIGEST_BYTES 32
/* Folders nested deeper than this are refused (a symbolic-link loop). */
#define WALK_MAX_DEPTH 32
#define CHUNK_BYTES ((size_t)1 << 20)

/* ------------------------------------------------------------ digests */

/* A growing array of 32-byte example digests. */
typedef struct digests {
    unsigned char *d;
    int64_t n, cap;
} digests;

static ember_status digests_push(digests *a, const unsigned char *dg, ember_error *err)
{
    if (a->n == a->cap) {
        int64_t cap = a->cap ? a->cap * 2 : 1024;
        unsigned char *p = realloc(a->d, (size_t)cap * DIGEST_BYTES);
        if (!p)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld example digests",
                              (long long)cap);
        a->d = p;
        a->cap = cap;
    }
    memcpy(a->d + (size_t)a->n * DIGEST_BYTES, dg, DIGEST_BYTES);
    a->n++;
    return EMBER_OK;
}

static int cmp_digest(const void *a, const void *b) { return memcmp(a, b, DIGEST_BYTES); }

/* The multiset hash: sort the digests, hash them in order. */
static ember_status digests_final(digests *a, char hex[EMBER_SHA256_HEX_LEN + 1], ember_error *err)
{
    if (a->n > 1)
        qsort(a->d, (size_t)a->n, DIGEST_BYTES, cmp_digest);
    return ember__sha256_hex(a->d, (size_t)a->n * DIGEST_BYTES, hex, err);
}

static int hexval(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/* An example's digest. Parts are length-prefixed (8 bytes, little-endian),
 * after a one-byte kind, so no two different examples share an encoding. */
typedef struct example_hash {
    ember_sha256 h;
    int open;
} example_hash;

static ember_status ex_begin(example_hash *e, char kind, ember_error *err)
{
    ember_status s = ember__sha256_init(&e->h, err);
    if (s)
        return s;
    e->open = 1;
    return ember__sha256_update(&e->h, &kind, 1, err);
}

static ember_status ex_part(example_hash *e, const void *p, size_t len, ember_error *err)
{
    unsigned char lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (unsigned char)((uint64_t)len >> (8 * i));
    ember_status s = ember__sha256_update(&e->h, lb, 8, err);
    return s ? s : ember__sha256_update(&e->h, p, len, err);
}

/* A text part with every CRLF read as LF. */
static ember_status ex_text(example_hash *e, const char *t, size_t len, ember_error *err)
{
    size_t crlf = 0;
    for (size_t i = 0; i + 1 < len; i++)
        crlf += t[i] == '\r' && t[i + 1] == '\n';
    unsigned char lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (unsigned char)((uint64_t)(len - crlf) >> (8 * i));
    ember_status s = ember__sha256_update(&e->h, lb, 8, err);
    size_t start = 0;
    for (size_t i = 0; !s && i < len; i++) {
        if (t[i] == '\r' && i + 1 < len && t[i + 1] == '\n') {
            s = ember__sha256_update(&e->h, t + start, i - start, err);
            start = i + 1;
        }
    }
    return s ? s : ember__sha256_update(&e->h, t + start, len - start, err);
}

static ember_status ex_end(example_hash *e, digests *file, ember_error *err)
{
    char hex[EMBER_SHA256_HEX_LEN + 1];
    e->open = 0;
    ember_status s = ember__sha256_final(&e->h, hex, err);
    if (s)
        return s;
    unsigned char dg[DIGEST_BYTES];
    for (int i = 0; i < DIGEST_BYTES; i++)
        dg[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    return digests_push(file, dg, err);
}

static void ex_abort(example_hash *e)
{
    if (e->open)
        ember__sha256_deinit(&e->h);
    e->open = 0;
}

/* ------------------------------------------------------------ one file */

typedef struct file_info {
    char *path;             /* as walked: the input path joined with the names below it */
    char *cls;              /* class folder name, or NULL */
    int64_t bytes;
    char sha256[EMBER_SHA256_HEX_LEN + 1];
    const char *format;
    int64_t records;        /* -1: not counted (binary) */
    int64_t skipped;        /* text records skipped (skip_bad_lines) */
    char content[EMBER_SHA256_HEX_LEN + 1];
} file_info;

/* Size and SHA-256 of the raw bytes, and the first bytes after gunzip. */
static ember_status raw_hash(file_info *f, unsigned char *head, size_t *head_n, ember_error *err)
{
    FILE *fp = fopen(f->path, "rb");
    if (!fp)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
    unsigned char *buf = malloc(CHUNK_BYTES);
    ember_sha256 h = {0};
    ember_status s = buf ? ember__sha256_init(&h, err)
                         : EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", f->path);
    f->bytes = 0;
    size_t n;
    while (!s && (n = fread(buf, 1, CHUNK_BYTES, fp)) > 0) {
        f->bytes += (int64_t)n;
        s = ember__sha256_update(&h, buf, n, err);
    }
    if (!s && ferror(fp))
        s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: read error after %lld bytes", f->path,
                       (long long)f->bytes);
    if (!s)
        s = ember__sha256_final(&h, f->sha256, err);
    else
        ember__sha256_deinit(&h);
    free(buf);
    fclose(fp);
    if (s)
        return s;
    *head_n = 0;
    gzFile gz = gzopen(f->path, "rb");
    if (!gz)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
    int got = gzread(gz, head, 64);
    gzclose(gz);
    if (got < 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: corrupt gzip stream at its start", f->path);
    *head_n = (size_t)got;
    return EMBER_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int is_image_head(const unsigned char *h, size_t n)
{
    return (n >= 8 && !memcmp(h, "\x89PNG\r\n\x1a\n", 8)) || (n >= 3 && h[0] == 0xFF &&
           h[1] == 0xD8 && h[2] == 0xFF) || (n >= 4 && !memcmp(h, "GIF8", 4)) ||
           (n >= 2 && h[0] == 'B' && h[1] == 'M') ||
           (n >= 3 && h[0] == 'P' && h[1] >= '1' && h[1] <= '6' &&
            (h[2] == ' ' || h[2] == '\n' || h[2] == '\r' || h[2] == '\t'));
}

static int is_idx_head(const unsigned char *h, size_t n)
{
    return n >= 4 && h[0] == 0 && h[1] == 0 &&
           (h[2] == 0x08 || h[2] == 0x09 || (h[2] >= 0x0B && h[2] <= 0x0E)) && h[3] >= 1 &&
           h[3] <= 4;
}

/* Text data parsed by the readers: each example is its labels and text. */
static ember_status content_text_data(file_info *f, ember_text_format fmt,
                                      const ember_text_read_options *topt, digests *dg,
                                      ember_error *err)
{
    ember_text_read_options o = *topt;
    o.format = fmt;
    ember_text_dataset *d = NULL;
    ember_status s = ember_text_dataset_load(&d, f->path, &o, err);
    if (s)
        return s;
    int64_t n = ember_text_dataset_size(d);
    example_hash e = {0};
    for (int64_t i = 0; !s && i < n; i++) {
        const char *t = ember_text_dataset_text(d, i);
        int nl = ember_text_dataset_label_count(d, i);
        s = ex_begin(&e, 'T', err);
        for (int j = 0; !s && j < nl; j++) {
            const char *l = ember_text_dataset_label(d, i, j);
            s = ex_part(&e, l, strlen(l), err);
        }
        if (!s)
            s = ex_text(&e, t, strlen(t), err);
        if (!s)
            s = ex_end(&e, dg, err);
    }
    ex_abort(&e);
    f->records = n;
    f->skipped = ember_text_dataset_skipped(d);
    ember_text_dataset_destroy(d);
    return s;
}

/* IDX: each item (the values of one index of the first dimension). */
static ember_status content_idx(file_info *f, digests *dg, ember_error *err)
{
    ember_tensor *t = NULL;
    ember_status s = ember_idx_load(&t, f->path, err);
    if (s)
        return s;
    int64_t n = t->ndim ? t->shape[0] : 1, per = n ? ember_tensor_numel(t) / n : 0;
    example_hash e = {0};
    for (int64_t i = 0; !s && i < n; i++) {
        s = ex_begin(&e, 'I', err);
        if (!s)
            s = ex_part(&e, t->data + i * per, (size_t)per * sizeof(float), err);
        if (!s)
            s = ex_end(&e, dg, err);
    }
    ex_abort(&e);
    f->records = n;
    ember_tensor_destroy(t);
    return s;
}

/* Read a whole file through zlib (gzip or plain). */
static ember_status slurp(const char *path, char **out, size_t *len, ember_error *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    ember_status s = buf ? EMBER_OK : EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
    while (!s) {
        if (n == cap) {
            char *p = cap < ((size_t)1 << 40) ? realloc(buf, 2 * cap + 1) : NULL;
            if (!p) {
                s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s (%zu bytes so far)",
                               path, n);
                break;
            }
            buf = p;
            cap *= 2;
        }
        unsigned want = cap - n > (1u << 30) ? 1u << 30 : (unsigned)(cap - n);
        int got = gzread(gz, buf + n, want);
        if (got < 0) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: corrupt gzip stream after %zu bytes", path, n);
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    gzclose(gz);
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return EMBER_OK;
}

static int valid_utf8_no_nul(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (c == 0 || k == 0 || i + k > n || (k == 2 && c < 0xC2) || (k == 4 && c > 0xF4))
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        if (k == 3) {
            unsigned c1 = s[i + 1];
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))
                return 0;
        }
        if (k == 4) {
            unsigned c1 = s[i + 1];
            if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))
                return 0;
        }
        i += k;
    }
    return 1;
}

/* Everything else: an image or a class folder's text file is one example
 * (with its class); another UTF-8 file has one example per line; anything
 * else is one blob. */
static ember_status content_other(file_info *f, int image, digests *dg, ember_error *err)
{
    char *buf = NULL;
    size_t n = 0;
    ember_status s = slurp(f->path, &buf, &n, err);
    if (s)
        return s;
    example_hash e = {0};
    int utf8 = !image && valid_utf8_no_nul(buf, n);
    if (image || f->cls || !utf8) {
        f->format = image ? "image" : utf8 ? "text" : "binary";
        f->records = utf8 || image ? 1 : -1;
        s = ex_begin(&e, image ? 'P' : utf8 ? 'F' : 'B', err);
        if (!s && f->cls)
            s = ex_part(&e, f->cls, strlen(f->cls), err);
        if (!s)
            s = image || !utf8 ? ex_part(&e, buf, n, err) : ex_text(&e, buf, n, err);
        if (!s)
            s = ex_end(&e, dg, err);
    } else {
        f->format = "text";
        f->records = 0;
        size_t start = 0;
        for (size_t i = 0; !s && i <= n; i++) {
            if (i < n && buf[i] != '\n')
                continue;
            if (i == n && start == n)
                break; /* no unterminated last line */
            size_t end = i > start && buf[i - 1] == '\r' ? i - 1 : i;
            s = ex_begin(&e, 'L', err);
            if (!s)
                s = ex_part(&e, buf + start, end - start, err);
            if (!s)
                s = ex_end(&e, dg, err);
            f->records++;
            start = i + 1;
        }
    }
    ex_abort(&e);
    free(buf);
    return s;
}

/* Fingerprint one file; its example digests are appended to `all` too. */
static ember_status fingerprint_file(file_info *f, const ember_text_read_options *topt,
                                     digests *all, ember_error *err)
{
    unsigned char head[64];
    size_t hn = 0;
    ember_status s = raw_hash(f, head, &hn, err);
    if (s)
        return s;
    digests dg = {0};
    char base[4096];
    snprintf(base, sizeof base, "%s", f->path);
    if (ends_with(base, ".gz"))
        base[strlen(base) - 3] = '\0';
    f->records = -1;
    f->skipped = 0;
    if (f->bytes == 0) {
        /* recorded, not judged: whether an empty file is an error is the
         * reader's business when the data is used */
        f->format = "empty";
        f->records = 0;
    } else if (is_idx_head(head, hn)) {
        f->format = "idx";
        s = content_idx(f, &dg, err);
    } else if (topt->format == EMBER_TEXT_LINES) {
        s = content_other(f, 0, &dg, err);
    } else if (!f->cls && (ends_with(base, ".csv") || ends_with(base, ".tsv"))) {
        int tsv = ends_with(base, ".tsv");
        f->format = tsv ? "tsv" : "csv";
        s = content_text_data(f, tsv ? EMBER_TEXT_TSV : EMBER_TEXT_CSV, topt, &dg, err);
    } else if (!f->cls && hn >= 9 && !memcmp(head, "__label__", 9)) {
        f->format = "fasttext";
        s = content_text_data(f, EMBER_TEXT_FASTTEXT, topt, &dg, err);
    } else {
        s = content_other(f, is_image_head(head, hn), &dg, err);
    }
    for (int64_t i = 0; !s && i < dg.n; i++)
        s = digests_push(all, dg.d + (size_t)i * DIGEST_BYTES, err);
    if (!s)
        s = digests_final(&dg, f->content, err);
    free(dg.d);
    return s;
}

/* ------------------------------------------------------------ walking */

typedef struct file_list {
    file_info *f;
    int n, cap;
} file_list;

static void file_list_free(file_list *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->f[i].path);
        free(l->f[i].cls);
    }
    free(l->f);
    memset(l, 0, sizeof *l);
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *p = malloc(a + (size_t)slash + b + 1);
    if (p) {
        memcpy(p, dir, a);
        if (slash)
            p[a] = '/';
        memcpy(p + a + (size_t)slash, name, b + 1);
    }
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The visible entries of a folder, sorted by name (caller frees each and the array). */
static ember_status list_dir(const char *path, char ***names, int *count, ember_error *err)
{
    DIR *d = opendir(path);
    if (!d)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open folder: %s", path, strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0;
    ember_status s = EMBER_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(v, (size_t)cap * sizeof *v);
            if (!p) {
                s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory listing %s", path);
                break;
            }
            v = p;
        }
        if (!(v[n] = strdup(de->d_name))) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory listing %s", path);
            break;
        }
        n++;
    }
    closedir(d);
    if (s) {
        for (int i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return s;
    }
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, cmp_str);
    *names = v;
    *count = n;
    return EMBER_OK;
}

static ember_status add_file(file_list *l, const char *path, const char *cls, ember_error *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        file_info *p = realloc(l->f, (size_t)cap * sizeof *p);
        if (!p)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory listing files");
        l->f = p;
        l->cap = cap;
    }
    file_info *f = &l->f[l->n];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    f->cls = cls ? strdup(cls) : NULL;
    if (!f->path || (cls && !f->cls)) {
        free(f->path);
        free(f->cls);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory listing files");
    }
    l->n++;
    return EMBER_OK;
}

/* Walk `path`: a file is added; a folder's entries are walked in name
 * order. `cls` is the class of everything below (a class folder's name).
 * missing_ok: a path that does not exist adds nothing (verify). */
static ember_status walk(file_list *l, const char *path, const char *cls, int depth, int missing_ok,
                         ember_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (missing_ok && errno == ENOENT)
            return EMBER_OK;
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (S_ISREG(st.st_mode))
        return add_file(l, path, cls, err);
    if (!S_ISDIR(st.st_mode))
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: not a regular file or folder", path);
    if (depth >= WALK_MAX_DEPTH)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: folders nested more than %d deep (a link loop?)",
                          path, WALK_MAX_DEPTH);
    char **names = NULL;
    int n = 0;
    ember_status s = list_dir(path, &names, &n, err);
    if (s)
        return s;
    /* A folder given as an input whose entries are all folders is a data
     * set with one folder per class. */
    int class_folders = depth == 0 && !cls && n > 0;
    for (int i = 0; class_folders && i < n; i++) {
        char *p = join(path, names[i]);
        struct stat cs;
        class_folders = p && stat(p, &cs) == 0 && S_ISDIR(cs.st_mode);
        free(p);
    }
    for (int i = 0; !s && i < n; i++) {
        char *p = join(path, names[i]);
        if (!p)
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory listing %s", path);
        else
            s = walk(l, p, class_folders ? names[i] : cls, depth + 1, 0, err);
        free(p);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return s;
}

/* Paths sorted, for finding one (bsearch) or a file listed twice. */
static const char **sorted_paths(const file_list *l)
{
    const char **v = malloc(((size_t)l->n + 1) * sizeof *v);
    if (v) {
        for (int i = 0; i < l->n; i++)
            v[i] = l->f[i].path;
        qsort(v, (size_t)l->n, sizeof *v, cmp_str);
    }
    return v;
}

/* A file reached twice (a folder and a file in it, or a path given twice). */
static ember_status no_twice(const file_list *l, ember_error *err)
{
    const char **v = sorted_paths(l);
    if (!v)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory listing files");
    ember_status s = EMBER_OK;
    for (int i = 1; !s && i < l->n; i++)
        if (!strcmp(v[i - 1], v[i]))
            s = EMBER_FAIL(err, EMBER_ERR_ARG, "%s: listed twice (a path given twice, or a "
                           "folder and a file in it)", v[i]);
    free(v);
    return s;
}

/* ------------------------------------------------------------ manifest */

static ember_status options_json(cJSON *o, const ember_text_read_options *t, ember_error *err)
{
    if (!cJSON_AddItemToObject(o, "text_column", t->text_column ? cJSON_CreateString(t->text_column)
                                                                : cJSON_CreateNull()) ||
        !cJSON_AddItemToObject(o, "label_column", t->label_column
                                                      ? cJSON_CreateString(t->label_column)
                                                      : cJSON_CreateNull()) ||
        !cJSON_AddBoolToObject(o, "skip_bad_lines", t->skip_bad_lines != 0) ||
        (t->format == EMBER_TEXT_LINES && !cJSON_AddBoolToObject(o, "lines", 1)))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory writing a manifest");
    return EMBER_OK;
}

static cJSON *file_json(const file_info *f)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "path", f->path) ||
        !cJSON_AddNumberToObject(o, "bytes", (double)f->bytes) ||
        !cJSON_AddStringToObject(o, "sha256", f->sha256) ||
        !cJSON_AddStringToObject(o, "format", f->format) ||
        !(f->cls ? cJSON_AddStringToObject(o, "class", f->cls) : o) ||
        !(f->records >= 0 ? cJSON_AddNumberToObject(o, "records", (double)f->records)
                          : cJSON_AddNullToObject(o, "records")) ||
        !(f->skipped ? cJSON_AddNumberToObject(o, "skipped", (double)f->skipped) : o) ||
        !cJSON_AddStringToObject(o, "content_sha256", f->content)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

ember_status ember_data_fingerprint(const char *const *paths, int n,
                                    const ember_text_read_options *opt, char **manifest,
                                    ember_error *err)
{
    if (!manifest || !paths || n <= 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_data_fingerprint: no paths given");
    *manifest = NULL;
    ember_text_read_options topt = opt ? *opt : ember_text_read_options_default();
    file_list l = {0};
    digests all = {0};
    cJSON *root = cJSON_CreateObject(), *inputs = cJSON_CreateArray(), *files = cJSON_CreateArray(),
          *o = cJSON_CreateObject();
    ember_status s = EMBER_OK;
    if (!root || !inputs || !files || !o) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory writing a manifest");
        goto done;
    }
    for (int i = 0; !s && i < n; i++) {
        if (!paths[i] || !*paths[i])
            s = EMBER_FAIL(err, EMBER_ERR_ARG, "ember_data_fingerprint: path %d is empty", i);
        else if (!cJSON_AddItemToArray(inputs, cJSON_CreateString(paths[i])))
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory writing a manifest");
        else
            s = walk(&l, paths[i], NULL, 0, 0, err);
    }
    if (!s && l.n == 0)
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: no files (hidden files are skipped)", paths[0]);
    if (!s)
        s = no_twice(&l, err);
    int64_t bytes = 0, records = 0;
    for (int i = 0; !s && i < l.n; i++) {
        s = fingerprint_file(&l.f[i], &topt, &all, err);
        if (!s && !cJSON_AddItemToArray(files, file_json(&l.f[i])))
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory writing a manifest");
        bytes += l.f[i].bytes;
        records += l.f[i].records > 0 ? l.f[i].records : 0;
    }
    char content[EMBER_SHA256_HEX_LEN + 1];
    if (!s)
        s = digests_final(&all, content, err);
    if (!s)
        s = options_json(o, &topt, err);
    if (!s) {
        cJSON_AddStringToObject(root, "format", MANIFEST_FORMAT);
        cJSON_AddNumberToObject(root, "version", MANIFEST_VERSION);
        cJSON_AddItemToObject(root, "inputs", inputs);
        inputs = NULL;
        cJSON_AddItemToObject(root, "options", o);
        o = NULL;
        cJSON_AddNumberToObject(root, "files_count", l.n);
        cJSON_AddNumberToObject(root, "bytes", (double)bytes);
        cJSON_AddNumberToObject(root, "records", (double)records);
        cJSON_AddStringToObject(root, "content_sha256", content);
        cJSON_AddItemToObject(root, "files", files);
        files = NULL;
        if (!(*manifest = cJSON_Print(root)))
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory writing a manifest");
    }
done:
    cJSON_Delete(root);
    cJSON_Delete(inputs);
    cJSON_Delete(files);
    cJSON_Delete(o);
    file_list_free(&l);
    free(all.d);
    return s;
}

/* ------------------------------------------------------------ verify */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != EMBER_SHA256_HEX_LEN)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* `root`/`path` for a relative path and a root; else the path. */
static char *resolve(const char *root, const char *path)
{
    return root && *root && path[0] != '/' ? join(root, path) : strdup(path);
}

/* A manifest's file entry, for finding it by path. */
typedef struct entry {
    const char *path;
    const cJSON *json;
    int index;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

ember_status ember_data_verify(const char *manifest, const char *root, char **report,
                               int64_t *problems, ember_error *err)
{
    if (!manifest || !report)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_data_verify: NULL argument");
    *report = NULL;
    if (problems)
        *problems = 0;
    cJSON *m = cJSON_Parse(manifest);
    if (!m)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "manifest: not valid JSON");
    ember_status s = EMBER_OK;
    file_list l = {0};
    cJSON *rep = cJSON_CreateObject(), *changed = cJSON_CreateArray(),
          *missing = cJSON_CreateArray(), *added = cJSON_CreateArray();
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(m, "inputs");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(m, "files");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "version");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(m, "options");
    const char *fmt = jstr(m, "format");
    unsigned char *seen = NULL;
    entry *byname = NULL;
    int nf = cJSON_GetArraySize(files);
    if (!rep || !changed || !missing || !added) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory verifying a manifest");
        goto done;
    }
    if (!fmt || strcmp(fmt, MANIFEST_FORMAT) || !cJSON_IsNumber(ver)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "manifest: \"format\" is not \"%s\" with a \"version\"",
                       MANIFEST_FORMAT);
        goto done;
    }
    if (ver->valuedouble != MANIFEST_VERSION) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "manifest: version %g; this Ember reads version %d",
                       ver->valuedouble, MANIFEST_VERSION);
        goto done;
    }
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) == 0 || !cJSON_IsArray(files) ||
        !cJSON_IsObject(opts)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "manifest: \"inputs\", \"files\" or \"options\" is "
                       "missing or of the wrong type");
        goto done;
    }
    ember_text_read_options topt = ember_text_read_options_default();
    topt.text_column = jstr(opts, "text_column");
    topt.label_column = jstr(opts, "label_column");
    topt.skip_bad_lines = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "skip_bad_lines"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "lines")))
        topt.format = EMBER_TEXT_LINES;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, files) {
        const char *p = jstr(it, "path"), *h = jstr(it, "sha256");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "bytes");
        if (!p || !is_hex64(h) || !cJSON_IsNumber(b) || !is_hex64(jstr(it, "content_sha256"))) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "manifest: files[%d] needs \"path\", \"bytes\", "
                           "\"sha256\" and \"content_sha256\" (64 hex digits)", i);
            goto done;
        }
        i++;
    }
    /* Walk the inputs again, under root. */
    cJSON_ArrayForEach(it, inputs) {
        if (!cJSON_IsString(it) || !*it->valuestring) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "manifest: an input is not a non-empty string");
            goto done;
        }
        char *p = resolve(root, it->valuestring);
        s = p ? walk(&l, p, NULL, 0, 1, err)
              : EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory verifying a manifest");
        free(p);
        if (s)
            goto done;
    }
    seen = calloc((size_t)nf + 1, 1);
    byname = malloc(((size_t)nf + 1) * sizeof *byname);
    if (!seen || !byname) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory verifying a manifest");
        goto done;
    }
    i = 0;
    cJSON_ArrayForEach(it, files) {
        byname[i].path = jstr(it, "path");
        byname[i].json = it;
        byname[i].index = i;
        i++;
    }
    qsort(byname, (size_t)nf, sizeof *byname, cmp_entry);
    for (int k = 1; k < nf; k++)
        if (!strcmp(byname[k - 1].path, byname[k].path)) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "manifest: \"%s\" is listed twice", byname[k].path);
            goto done;
        }
    int64_t unchanged = 0;
    for (int k = 0; k < l.n; k++) {
        file_info *f = &l.f[k];
        /* the path as the manifest has it: without the root */
        const char *rel = f->path;
        size_t rl = root && *root ? strlen(root) : 0;
        if (rl && !strncmp(rel, root, rl) && rel[rl] == '/')
            rel += rl + 1;
        else if (rl && !strncmp(rel, root, rl) && root[rl - 1] == '/')
            rel += rl;
        entry key = {rel, NULL, 0};
        const entry *e = bsearch(&key, byname, (size_t)nf, sizeof *byname, cmp_entry);
        if (!e || seen[e->index]) {
            if (!cJSON_AddItemToArray(added, cJSON_CreateString(rel))) {
                s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory verifying a manifest");
                goto done;
            }
            continue;
        }
        const cJSON *mf = e->json;
        seen[e->index] = 1;
        unsigned char head[64];
        size_t hn;
        if ((s = raw_hash(f, head, &hn, err)))
            goto done;
        const char *want = jstr(mf, "sha256");
        if (!strcmp(want, f->sha256)) {
            unchanged++;
            continue;
        }
        /* Changed bytes: are the examples still the same? */
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(changed, c)) {
            cJSON_Delete(c);
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory verifying a manifest");
            goto done;
        }
        cJSON_AddStringToObject(c, "path", rel);
        cJSON_AddStringToObject(c, "sha256_expected", want);
        cJSON_AddStringToObject(c, "sha256_found", f->sha256);
        cJSON_AddNumberToObject(c, "bytes_expected",
                                cJSON_GetObjectItemCaseSensitive(mf, "bytes")->valuedouble);
        cJSON_AddNumberToObject(c, "bytes_found", (double)f->bytes);
        digests none = {0};
        ember_error ferr = {0};
        const char *cl = jstr(mf, "class");
        if (cl && !(f->cls = strdup(cl))) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory verifying a manifest");
            goto done;
        }
        if (fingerprint_file(f, &topt, &none, &ferr) == EMBER_OK)
            cJSON_AddBoolToObject(c, "same_examples", !strcmp(f->content, jstr(mf, "content_sha256")));
        else
            cJSON_AddStringToObject(c, "error", ferr.message);
        free(none.d);
    }
    int idx = 0;
    cJSON_ArrayForEach(it, files) {
        if (!seen[idx++] && !cJSON_AddItemToArray(missing, cJSON_CreateString(jstr(it, "path")))) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory verifying a manifest");
            goto done;
        }
    }
    int64_t bad = cJSON_GetArraySize(changed) + cJSON_GetArraySize(missing) + cJSON_GetArraySize(added);
    cJSON_AddBoolToObject(rep, "ok", bad == 0);
    cJSON_AddNumberToObject(rep, "files_expected", nf);
    cJSON_AddNumberToObject(rep, "unchanged", (double)unchanged);
    cJSON_AddItemToObject(rep, "changed", changed);
    cJSON_AddItemToObject(rep, "missing", missing);
    cJSON_AddItemToObject(rep, "new", added);
    changed = missing = added = NULL;
    if (!(*report = cJSON_Print(rep)))
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory verifying a manifest");
    else if (problems)
        *problems = bad;
done:
    free(seen);
    free(byname);
    cJSON_Delete(m);
    cJSON_Delete(rep);
    cJSON_Delete(changed);
    cJSON_Delete(missing);
    cJSON_Delete(added);
    file_list_free(&l);
    return s;
}
