/*
 * text_dataset.c - the labelled text data set: its storage, the builder the
 * file readers use (text_dataset.h), ember_text_dataset_create for texts
 * already in memory, and the accessors.
 *
 * Storage is one byte arena of NUL-terminated texts plus offsets, and an
 * interned label table (each distinct label name stored once, found through
 * a small open-addressing hash table), so a data set costs its text bytes
 * plus about 16 bytes per example and 4 per label.
 *
 * Deliberately not done: editing or removing examples, sorting, shuffling,
 * splitting, or any cleaning of the text (that is the pipeline's job). The
 * accessors return NULL / 0 for an index out of range rather than failing,
 * since they cannot report errors; they never clamp.
 */
#include "text_dataset.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* First size of a growing arena: 4 KiB, one page. It then doubles, so
 * appending is amortised O(1) and slack is at most half (given back by
 * ember__text_dataset_shrink). */
#define TEXT_FIRST_ARENA_BYTES ((size_t)4096)
/* First number of examples / label ids / names room is made for. */
#define TEXT_FIRST_COUNT 64

/* FNV-1a (Fowler-Noll-Vo), 64-bit: the published offset basis and prime. A
 * simple, well-spread hash for short label strings; nothing here depends on
 * its exact values, and the table is never exposed to untrusted lookups
 * beyond the labels of one file (collisions only cost time). */
#define FNV64_OFFSET_BASIS UINT64_C(14695981039346656037)
#define FNV64_PRIME UINT64_C(1099511628211)

bool ember__bytes_reserve(ember__bytes *b, size_t extra)
{
    if (extra > SIZE_MAX - b->n)
        return false;
    size_t need = b->n + extra;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : TEXT_FIRST_ARENA_BYTES;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *d = realloc(b->d, cap);
    if (!d)
        return false;
    b->d = d;
    b->cap = cap;
    return true;
}

void ember__bytes_free(ember__bytes *b)
{
    free(b->d);
    b->d = NULL;
    b->n = b->cap = 0;
}

/* Grow *p (elements of `size` bytes, *cap of them) to hold at least `need`,
 * by doubling. false on overflow or no memory (then unchanged). */
static bool grow_array(void **p, int64_t *cap, int64_t need, size_t size)
{
    if (need <= *cap)
        return true;
    int64_t c = *cap ? *cap : TEXT_FIRST_COUNT;
    while (c < need) {
        if (c > INT64_MAX / 2)
            return false;
        c *= 2;
    }
    size_t bytes;
    if ((uint64_t)c > SIZE_MAX || !ember__mul_size((size_t)c, size, &bytes))
        return false;
    void *q = realloc(*p, bytes);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

ember_status ember__text_dataset_alloc(ember_text_dataset **out, ember_error *err)
{
    *out = NULL;
    ember_text_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a text data set");
    d->label_start = malloc(sizeof *d->label_start);
    if (!d->label_start) {
        free(d);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a text data set");
    }
    d->label_start[0] = 0;
    *out = d;
    return EMBER_OK;
}

void ember_text_dataset_destroy(ember_text_dataset *d)
{
    if (!d)
        return;
    ember__bytes_free(&d->text);
    ember__bytes_free(&d->names);
    free(d->text_off);
    free(d->label_start);
    free(d->label_ids);
    free(d->name_off);
    free(d->slots);
    free(d->source);
    free(d->line);
    ember__bytes_free(&d->files);
    free(d->file_off);
    free(d);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = FNV64_OFFSET_BASIS;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= FNV64_PRIME;
    }
    return h;
}

/* Rebuild the hash table with `count` slots (a power of two). */
static bool rehash(ember_text_dataset *d, size_t count)
{
    size_t bytes;
    if (!ember__mul_size(count, sizeof(int32_t), &bytes))
        return false;
    int32_t *slots = malloc(bytes);
    if (!slots)
        return false;
    for (size_t i = 0; i < count; i++)
        slots[i] = -1;
    for (int32_t k = 0; k < d->classes; k++) {
        const char *name = d->names.d + d->name_off[k];
        size_t j = (size_t)hash_bytes(name, strlen(name)) & (count - 1);
        while (slots[j] >= 0)
            j = (j + 1) & (count - 1);
        slots[j] = k;
    }
    free(d->slots);
    d->slots = slots;
    d->slot_count = count;
    return true;
}

/* The id of label `name`, adding it to the table if new. */
static ember_status intern(ember_text_dataset *d, const char *name, size_t len, int32_t *id,
                           ember_error *err)
{
    uint64_t h = hash_bytes(name, len);
    if (d->slot_count) {
        size_t j = (size_t)h & (d->slot_count - 1);
        for (; d->slots[j] >= 0; j = (j + 1) & (d->slot_count - 1)) {
            const char *s = d->names.d + d->name_off[d->slots[j]];
            if (memcmp(s, name, len) == 0 && s[len] == '\0') {
                *id = d->slots[j];
                return EMBER_OK;
            }
        }
    }
    if (d->classes == INT32_MAX)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "more than %d distinct labels", INT32_MAX);
    /* Keep the table at most half full so probes stay short. */
    if ((size_t)d->classes + 1 > d->slot_count / 2) {
        size_t count = d->slot_count ? d->slot_count * 2 : 64;
        if (count < d->slot_count || !rehash(d, count))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the label table");
    }
    int64_t cap = d->name_cap;
    void *p = d->name_off;
    if (!grow_array(&p, &cap, (int64_t)d->classes + 1, sizeof *d->name_off))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the label table");
    d->name_off = p;
    d->name_cap = cap > INT32_MAX ? INT32_MAX : (int32_t)cap;
    if (len == SIZE_MAX || !ember__bytes_reserve(&d->names, len + 1))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a %zu-byte label", len);
    size_t off = d->names.n;
    memcpy(d->names.d + off, name, len);
    d->names.d[off + len] = '\0';
    d->names.n += len + 1;
    int32_t k = d->classes++;
    d->name_off[k] = off;
    size_t j = (size_t)h & (d->slot_count - 1);
    while (d->slots[j] >= 0)
        j = (j + 1) & (d->slot_count - 1);
    d->slots[j] = k;
    *id = k;
    return EMBER_OK;
}

ember_status ember__text_dataset_add_label(ember_text_dataset *d, const char *name, size_t len,
                                           ember_error *err)
{
    if (d->label_used - d->label_start[d->n] >= INT_MAX)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "more than %d labels on one example", INT_MAX);
    int32_t id = -1;
    ember_status s = intern(d, name, len, &id, err);
    if (s)
        return s;
    void *p = d->label_ids;
    if (d->label_used == INT64_MAX ||
        !grow_array(&p, &d->label_cap, d->label_used + 1, sizeof *d->label_ids))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for label ids");
    d->label_ids = p;
    d->label_ids[d->label_used++] = id;
    return EMBER_OK;
}

ember_status ember__text_dataset_commit(ember_text_dataset *d, size_t start, int64_t line,
                                        const char *file, ember_error *err)
{
    if (!ember__bytes_put(&d->text, '\0'))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for texts (%zu bytes so far)",
                          d->text.n);
    size_t file_at = d->files.n;
    if (d->track_files) {
        size_t len = file ? strlen(file) : 0;
        if (len == SIZE_MAX || !ember__bytes_reserve(&d->files, len + 1))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for file names");
        memcpy(d->files.d + file_at, file ? file : "", len + 1);
        d->files.n += len + 1;
    }
    if (d->n == d->cap) {
        if (d->n == INT64_MAX - 1)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "too many examples");
        int64_t cap = d->cap;
        void *p = d->text_off;
        if (!grow_array(&p, &cap, d->n + 1, sizeof *d->text_off))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld examples",
                              (long long)d->n + 1);
        d->text_off = p;
        /* label_start needs cap + 1 entries; grow_array doubles a count, so
         * ask it for cap + 1 of its own. */
        int64_t lcap = d->cap + 1;
        p = d->label_start;
        if (!grow_array(&p, &lcap, cap + 1, sizeof *d->label_start))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld examples",
                              (long long)d->n + 1);
        d->label_start = p;
        if (d->track_lines) {
            int64_t c = d->cap;
            p = d->line;
            if (!grow_array(&p, &c, cap, sizeof *d->line))
                return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld examples",
                                  (long long)d->n + 1);
            d->line = p;
        }
        if (d->track_files) {
            int64_t c = d->cap;
            p = d->file_off;
            if (!grow_array(&p, &c, cap, sizeof *d->file_off))
                return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld examples",
                                  (long long)d->n + 1);
            d->file_off = p;
        }
        d->cap = cap;
    }
    d->text_off[d->n] = start;
    if (d->track_lines)
        d->line[d->n] = line;
    if (d->track_files)
        d->file_off[d->n] = file_at;
    d->n++;
    d->label_start[d->n] = d->label_used;
    return EMBER_OK;
}

void ember__text_dataset_drop(ember_text_dataset *d, size_t start)
{
    d->text.n = start;
    d->label_used = d->label_start[d->n];
}

void ember__text_dataset_note_skip(ember_text_dataset *d, const char *msg, int64_t count)
{
    d->skipped += count;
    if (d->nshown < EMBER_TEXT_SKIPPED_SHOWN) {
        snprintf(d->shown[d->nshown], sizeof d->shown[0], "%s", msg);
        d->nshown++;
    }
}

const char *ember__text_dataset_where(const ember_text_dataset *d, int64_t i, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    if (d->track_files && d->file_off)
        snprintf(buf, n, "%s", d->files.d + d->file_off[i]);
    else if (d->track_lines && d->line && d->source)
        snprintf(buf, n, "%s:%lld", d->source, (long long)d->line[i]);
    else
        snprintf(buf, n, "example %lld", (long long)i);
    return buf;
}

const char *ember_text_dataset_where(const ember_text_dataset *d, int64_t i, char *buf, size_t n)
{
    if (!buf || n == 0)
        return buf;
    buf[0] = '\0';
    if (!d || i < 0 || i >= d->n)
        return buf;
    return ember__text_dataset_where(d, i, buf, n);
}

int64_t ember_text_dataset_skipped(const ember_text_dataset *d) { return d ? d->skipped : 0; }

const char *ember_text_dataset_skipped_message(const ember_text_dataset *d, int i)
{
    return d && i >= 0 && i < d->nshown ? d->shown[i] : NULL;
}

void ember__text_dataset_shrink(ember_text_dataset *d)
{
    if (d->text.cap > d->text.n && d->text.n > 0) {
        char *p = realloc(d->text.d, d->text.n);
        if (p) {
            d->text.d = p;
            d->text.cap = d->text.n;
        }
    }
    if (d->label_cap > d->label_used && d->label_used > 0) {
        int32_t *p = realloc(d->label_ids, (size_t)d->label_used * sizeof *p);
        if (p) {
            d->label_ids = p;
            d->label_cap = d->label_used;
        }
    }
}

bool ember__utf8_valid(const char *s, size_t n, size_t *bad)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { /* ASCII fast path */
            i++;
            continue;
        }
        /* utf8proc_iterate wants a signed length; no sequence exceeds 4 bytes. */
        size_t left = n - i < 4 ? n - i : 4;
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)left, &cp);
        if (k <= 0) {
            *bad = i;
            return false;
        }
        i += (size_t)k;
    }
    return true;
}

ember_status ember_text_dataset_create(ember_text_dataset **out, int64_t n,
                                       const char *const *texts, const char *const *labels,
                                       ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_create: out is NULL");
    *out = NULL;
    if (n < 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_create: n is %lld, must be >= 0",
                          (long long)n);
    if (n > 0 && !texts)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_create: texts is NULL");
    ember_text_dataset *d = NULL;
    ember_status s = ember__text_dataset_alloc(&d, err);
    if (s)
        return s;
    for (int64_t i = 0; i < n && !s; i++) {
        size_t bad;
        if (!texts[i]) {
            s = EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_create: texts[%lld] is NULL",
                           (long long)i);
            break;
        }
        size_t len = strlen(texts[i]);
        if (!ember__utf8_valid(texts[i], len, &bad)) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                           "texts[%lld]: invalid UTF-8 at byte %zu (0x%02X)", (long long)i,
                           bad, (unsigned char)texts[i][bad]);
            break;
        }
        if (labels) {
            const char *l = labels[i];
            if (!l) {
                s = EMBER_FAIL(err, EMBER_ERR_ARG,
                               "ember_text_dataset_create: labels[%lld] is NULL (pass labels = "
                               "NULL for an unlabelled set)", (long long)i);
                break;
            }
            size_t ll = strlen(l);
            if (ll == 0) {
                s = EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_create: labels[%lld] is "
                               "empty", (long long)i);
                break;
            }
            if (!ember__utf8_valid(l, ll, &bad)) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                               "labels[%lld]: invalid UTF-8 at byte %zu (0x%02X)", (long long)i,
                               bad, (unsigned char)l[bad]);
                break;
            }
            s = ember__text_dataset_add_label(d, l, ll, err);
            if (s)
                break;
        }
        size_t start = d->text.n;
        if (len == SIZE_MAX || !ember__bytes_reserve(&d->text, len + 1)) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for texts[%lld] (%zu bytes)",
                           (long long)i, len);
            break;
        }
        memcpy(d->text.d + start, texts[i], len);
        d->text.n += len;
        s = ember__text_dataset_commit(d, start, 0, NULL, err);
    }
    if (s) {
        ember_text_dataset_destroy(d);
        return s;
    }
    ember__text_dataset_shrink(d);
    *out = d;
    return EMBER_OK;
}

int64_t ember_text_dataset_size(const ember_text_dataset *d) { return d ? d->n : 0; }

const char *ember_text_dataset_text(const ember_text_dataset *d, int64_t i)
{
    if (!d || i < 0 || i >= d->n)
        return NULL;
    return d->text.d + d->text_off[i];
}

int ember_text_dataset_label_count(const ember_text_dataset *d, int64_t i)
{
    if (!d || i < 0 || i >= d->n)
        return 0;
    return (int)(d->label_start[i + 1] - d->label_start[i]);
}

const char *ember_text_dataset_label(const ember_text_dataset *d, int64_t i, int j)
{
    if (!d || i < 0 || i >= d->n || j < 0 || j >= d->label_start[i + 1] - d->label_start[i])
        return NULL;
    return d->names.d + d->name_off[d->label_ids[d->label_start[i] + j]];
}

int32_t ember__text_dataset_class_count(const ember_text_dataset *d) { return d ? d->classes : 0; }

const char *ember__text_dataset_class_name(const ember_text_dataset *d, int32_t k)
{
    if (!d || k < 0 || k >= d->classes)
        return NULL;
    return d->names.d + d->name_off[k];
}
