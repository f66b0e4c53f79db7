/*
 * vocab.c - the string table behind the vocabulary (word -> count while
 * fitting, word -> id afterwards), the vocabulary's order and cut, and the
 * sorted label table.
 *
 * The table is open addressing with linear probing over a power-of-two
 * array of slots, at most half full; each slot keeps the string's full
 * 64-bit FNV-1a hash (which the tokenizer computes once per token anyway), so
 * a probe compares strings only when the hashes already agree. Strings sit
 * back to back in one pool, so inserting a word costs no allocation of its
 * own. Nothing is ever deleted.
 *
 * Deliberately not done: deletion, shrinking, a pool beyond 4 GiB (offsets
 * are 32-bit; the vocabulary of any real corpus is far smaller), and any
 * order that depends on the table's layout: the vocabulary is sorted by
 * (count descending, bytes ascending) and labels by bytes, both total orders.
 */
#include "text.h"

#include <stdlib.h>
#include <string.h>

/* Slots of a new table: 1024 (24 KiB), enough for a small corpus without
 * rehashing; the table doubles when it would become more than half full. */
#define STRTAB_MIN_SLOTS 1024
/* First size of the string pool: 16 KiB, doubled as needed. */
#define STRTAB_MIN_POOL 16384
#define SLOT_EMPTY UINT32_MAX

void ember__strtab_free(ember__strtab *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->pool);
    memset(t, 0, sizeof *t);
}

/* Make the slot array hold `cap` slots (a power of two > 2 * count),
 * re-inserting what is there. */
static bool rehash(ember__strtab *t, size_t cap)
{
    size_t bytes;
    if (!ember__mul_size(cap, sizeof(ember__strtab_slot), &bytes))
        return false;
    ember__strtab_slot *ns = malloc(bytes);
    if (!ns)
        return false;
    for (size_t i = 0; i < cap; i++)
        ns[i].off = SLOT_EMPTY;
    size_t mask = cap - 1;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].off == SLOT_EMPTY)
            continue;
        size_t j = (size_t)t->slots[i].hash & mask;
        while (ns[j].off != SLOT_EMPTY)
            j = (j + 1) & mask;
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = cap;
    return true;
}

const ember__strtab_slot *ember__strtab_find(const ember__strtab *t, const char *s,
                                             uint32_t len, uint64_t hash)
{
    if (t->cap == 0)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t j = (size_t)hash & mask;; j = (j + 1) & mask) {
        const ember__strtab_slot *sl = &t->slots[j];
        if (sl->off == SLOT_EMPTY)
            return NULL;
        if (sl->hash == hash && sl->len == len && memcmp(t->pool + sl->off, s, len) == 0)
            return sl;
    }
}

ember__strtab_slot *ember__strtab_upsert(ember__strtab *t, const char *s, uint32_t len,
                                         uint64_t hash, int *added)
{
    *added = 0;
    if (t->cap == 0 && !rehash(t, STRTAB_MIN_SLOTS))
        return NULL;
    size_t mask = t->cap - 1;
    size_t j = (size_t)hash & mask;
    for (;; j = (j + 1) & mask) {
        ember__strtab_slot *sl = &t->slots[j];
        if (sl->off == SLOT_EMPTY)
            break;
        if (sl->hash == hash && sl->len == len && memcmp(t->pool + sl->off, s, len) == 0)
            return sl;
    }
    /* Absent: store the bytes, then (maybe after growing) take a slot. */
    if ((uint64_t)t->pool_len + len + 1 >= SLOT_EMPTY)
        return NULL;
    if (t->pool_len + len + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap : STRTAB_MIN_POOL;
        while (cap < t->pool_len + len + 1)
            cap *= 2;
        char *np = realloc(t->pool, cap);
        if (!np)
            return NULL;
        t->pool = np;
        t->pool_cap = cap;
    }
    if ((t->count + 1) * 2 > t->cap) {
        if (t->cap > SIZE_MAX / 2 || !rehash(t, t->cap * 2))
            return NULL;
        mask = t->cap - 1;
        for (j = (size_t)hash & mask; t->slots[j].off != SLOT_EMPTY; j = (j + 1) & mask) {
        }
    }
    ember__strtab_slot *sl = &t->slots[j];
    sl->hash = hash;
    sl->off = (uint32_t)t->pool_len;
    sl->len = len;
    sl->value = 0;
    memcpy(t->pool + t->pool_len, s, len);
    t->pool[t->pool_len + len] = '\0';
    t->pool_len += (size_t)len + 1;
    t->count++;
    *added = 1;
    return sl;
}

/* ----------------------------------------------------------- vocabulary */

int ember__vocab_cmp(const char *a, int64_t count_a, const char *b, int64_t count_b)
{
    if (count_a != count_b)
        return count_a > count_b ? -1 : 1;
    return strcmp(a, b); /* compares as unsigned char (C11 7.24.4) */
}

typedef struct vocab_entry {
    const char *s;
    int64_t count;
    uint32_t len;
    uint64_t hash;
} vocab_entry;

static int entry_cmp(const void *pa, const void *pb)
{
    const vocab_entry *a = pa, *b = pb;
    return ember__vocab_cmp(a->s, a->count, b->s, b->count);
}

ember_status ember__vocab_build(ember__strtab *vocab, uint32_t **id_off, int64_t *V,
                                const ember__strtab *counts, int64_t min_count,
                                int64_t max_vocab, ember_error *err)
{
    ember__strtab t = {0};
    vocab_entry *e = NULL;
    uint32_t *ids = NULL;
    size_t n = 0, bytes;
    if (!ember__mul_size(counts->count ? counts->count : 1, sizeof *e, &bytes) ||
        !(e = malloc(bytes)))
        goto nomem;
    for (size_t i = 0; i < counts->cap; i++) {
        const ember__strtab_slot *sl = &counts->slots[i];
        if (sl->off != SLOT_EMPTY && sl->value >= min_count)
            e[n++] = (vocab_entry){counts->pool + sl->off, sl->value, sl->len, sl->hash};
    }
    qsort(e, n, sizeof *e, entry_cmp);
    if (max_vocab > 0 && (uint64_t)max_vocab < n)
        n = (size_t)max_vocab;
    /* Size the table once: the smallest power of two at least 2n slots. */
    size_t cap = STRTAB_MIN_SLOTS;
    while (cap < 2 * n)
        cap *= 2;
    if (!rehash(&t, cap) || !(ids = malloc((n ? n : 1) * sizeof *ids)))
        goto nomem;
    for (size_t k = 0; k < n; k++) {
        int added;
        ember__strtab_slot *sl = ember__strtab_upsert(&t, e[k].s, e[k].len, e[k].hash, &added);
        if (!sl)
            goto nomem;
        sl->value = 2 + (int64_t)k;
        ids[k] = sl->off;
    }
    free(e);
    *vocab = t;
    *id_off = ids;
    *V = (int64_t)n;
    return EMBER_OK;
nomem:
    free(e);
    free(ids);
    ember__strtab_free(&t);
    return EMBER_FAIL(err, EMBER_ERR_NOMEM, "vocabulary: out of memory (%zu distinct words)",
                      counts->count);
}

/* --------------------------------------------------------------- labels */

void ember__labels_free(ember__labels *l)
{
    if (!l)
        return;
    free(l->pool);
    free(l->off);
    memset(l, 0, sizeof *l);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

ember_status ember__labels_build(ember__labels *l, const char *const *names, int64_t n,
                                 ember_error *err)
{
    ember__labels r = {0};
    const char **s = NULL;
    size_t bytes;
    if (n < 0 || !ember__mul_size((size_t)(n ? n : 1), sizeof *s, &bytes) ||
        !(s = malloc(bytes)))
        goto nomem;
    if (n > 0)
        memcpy(s, names, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, str_cmp);
    size_t k = 0, total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (k > 0 && strcmp(s[k - 1], s[i]) == 0)
            continue;
        s[k++] = s[i];
        total += strlen(s[i]) + 1;
    }
    if (!(r.pool = malloc(total ? total : 1)) || !(r.off = malloc((k ? k : 1) * sizeof *r.off)))
        goto nomem;
    size_t at = 0;
    for (size_t i = 0; i < k; i++) {
        size_t len = strlen(s[i]) + 1;
        memcpy(r.pool + at, s[i], len);
        r.off[i] = at;
        at += len;
    }
    r.K = (int64_t)k;
    free(s);
    *l = r;
    return EMBER_OK;
nomem:
    free(s);
    ember__labels_free(&r);
    return EMBER_FAIL(err, EMBER_ERR_NOMEM, "labels: out of memory (%lld labels)", (long long)n);
}

int64_t ember__labels_find(const ember__labels *l, const char *name)
{
    int64_t lo = 0, hi = l->K; /* search [lo, hi) */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, l->pool + l->off[mid]);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}
