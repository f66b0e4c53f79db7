/*
 * idmap.c - string ids -> dense indices (first appearance order), by open
 * addressing with linear probing. No deletion; ids are byte strings (any
 * bytes but NUL), compared exactly.
 */
#include "recommend.h"
#include "data/text.h"

#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 64 /* first table size: a power of two */

/* FNV-1a (data/text.h): the hash only places ids in the table; it is not
 * stored in files, so it could change freely. */
static uint64_t hash_bytes(const char *s, size_t len) { return ember__fnv1a64(s, len); }

void ember__idmap_init(ember_idmap *m) { memset(m, 0, sizeof *m); }

void ember__idmap_deinit(ember_idmap *m)
{
    free(m->slots);
    free(m->hashes);
    free(m->offs);
    free(m->bytes);
    memset(m, 0, sizeof *m);
}

const char *ember__idmap_get(const ember_idmap *m, int64_t k) { return m->bytes + m->offs[k]; }

static int64_t probe(const ember_idmap *m, uint64_t h, const char *id, size_t len)
{
    uint64_t mask = (uint64_t)m->cap - 1;
    for (uint64_t j = h & mask;; j = (j + 1) & mask) {
        int64_t s = m->slots[j];
        if (s == 0)
            return -(int64_t)j - 1; /* free slot j */
        int64_t k = s - 1;
        if (m->hashes[k] == h) {
            const char *b = m->bytes + m->offs[k];
            if (strncmp(b, id, len) == 0 && b[len] == '\0')
                return k;
        }
    }
}

int64_t ember__idmap_find(const ember_idmap *m, const char *id, size_t len)
{
    if (m->cap == 0)
        return -1;
    int64_t k = probe(m, hash_bytes(id, len), id, len);
    return k >= 0 ? k : -1;
}

static int grow_table(ember_idmap *m)
{
    int64_t cap = m->cap ? m->cap * 2 : MIN_SLOTS;
    int64_t *slots = calloc((size_t)cap, sizeof *slots);
    if (!slots)
        return -1;
    uint64_t mask = (uint64_t)cap - 1;
    for (int64_t k = 0; k < m->n; k++) {
        uint64_t j = m->hashes[k] & mask;
        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = k + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

ember_status ember__idmap_add(ember_idmap *m, const char *id, size_t len, int64_t *idx,
                              ember_error *err)
{
    if (m->cap == 0 || (m->n + 1) * 2 > m->cap) {
        if (m->cap > (INT64_MAX / 4) || grow_table(m))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the id map (%lld ids)",
                              (long long)m->n);
    }
    uint64_t h = hash_bytes(id, len);
    int64_t k = probe(m, h, id, len);
    if (k >= 0) {
        *idx = k;
        return EMBER_OK;
    }
    int64_t slot = -k - 1;
    if (m->n == m->offs_cap) {
        int64_t c = m->offs_cap ? m->offs_cap * 2 : MIN_SLOTS;
        int64_t *o = realloc(m->offs, (size_t)c * sizeof *o);
        if (o)
            m->offs = o;
        uint64_t *hs = o ? realloc(m->hashes, (size_t)c * sizeof *hs) : NULL;
        if (!o || !hs)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the id map (%lld ids)",
                              (long long)m->n);
        m->hashes = hs;
        m->offs_cap = c;
    }
    if ((size_t)(m->bytes_cap - m->used) < len + 1) {
        size_t need = (size_t)m->used + len + 1, c = m->bytes_cap ? (size_t)m->bytes_cap : 1024;
        while (c < need)
            c *= 2;
        char *b = realloc(m->bytes, c);
        if (!b)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the id map (%zu bytes)", c);
        m->bytes = b;
        m->bytes_cap = (int64_t)c;
    }
    memcpy(m->bytes + m->used, id, len);
    m->bytes[m->used + (int64_t)len] = '\0';
    m->offs[m->n] = m->used;
    m->hashes[m->n] = h;
    m->used += (int64_t)len + 1;
    m->slots[slot] = m->n + 1;
    *idx = m->n++;
    return EMBER_OK;
}
