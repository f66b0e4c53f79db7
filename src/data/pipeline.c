/*
 * pipeline.c - ember_pipeline: the text options, the vocabulary and the
 * label table, fitted on a training set, applied to any set (encode), and
 * saved as JSON. Cleaning is in text_clean.c, tokenising and hashing in
 * tokenize.c, the tables in vocab.c; text.h describes how they fit.
 *
 * Ids: 0 is padding (never produced here), 1 is <oov>, 2 .. V+1 the
 * vocabulary (count descending, then byte order), then the hash buckets:
 * an n-gram with hash h has id 2 + V + h % buckets. Every example gets at
 * least one id: one with no tokens at all (empty, only punctuation, only
 * markup) is the single id 1, so a bag is never empty.
 *
 * One scratch per call holds every buffer, so encode allocates per buffer
 * growth, not per text or token. encode only reads the pipeline, so several
 * threads may encode with one pipeline at once. Deliberately not done:
 * threads inside encode (Banking77, 10k texts, encodes in about 10 ms on one
 * core; 23 MB of e-mail-like text in about 0.25 s), and updating a fitted
 * vocabulary (fit again instead).
 *
 * Saved models hold ids, so every rule of cleaning, tokenising and hashing
 * is part of the file format: a change to any of them needs a new
 * PIPELINE_JSON_VERSION (and the old rules kept for old files).
 *
 * hash_vocab (docs/privacy.md): fit builds the vocabulary as always, then
 * replaces each word by a salted SHA-256 of it, keeping its id; encode hashes
 * a token (once per distinct token per call) and looks the hash up. The
 * tables, the ids and the n-gram buckets are otherwise untouched, so the
 * weights trained on the ids are the same with and without it.
 */
#include "text.h"
#include "text_dataset.h"
#include "io/hash.h"
#include "io/json_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Version of the JSON layout written by ember_pipeline_to_json. */
#define PIPELINE_JSON_VERSION 1
/* Ids are int32: the largest, 1 + V + buckets, must be <= INT32_MAX. */
#define MAX_VOCAB_PLUS_BUCKETS ((int64_t)INT32_MAX - 1)
/* JSON numbers are doubles: integers above 2^53 are not exact. */
#define JSON_DOC "pipeline JSON" /* names the document in errors */
/* hash_vocab: a word is stored as the first 16 bytes (32 hex digits) of
 * SHA-256(salt || word). 128 bits: two words of one vocabulary collide with
 * probability about V^2 / 2^129, nil for any real V; full 64 digits would
 * only make the file longer. */
#define VOCAB_HASH_HEX 32
/* The salt is SHA-256 of this prefix, its NUL, and each kept word with its
 * NUL in id order, cut to VOCAB_HASH_HEX digits: deterministic (same data
 * and options, same file) and different for different vocabularies, so a
 * table of hashes made for one model does not apply to another. Part of the
 * file format. */
#define VOCAB_SALT_PREFIX "ember-hash-vocab-salt-v1"
/* Distinct tokens one encode call remembers with their ids (hash_vocab), so
 * that each is hashed once: 2^18 tokens, at most about 13 MiB of slots plus
 * the tokens' bytes. Tokens beyond it are hashed at every occurrence. */
#define HASH_CACHE_MAX 262144

struct ember_pipeline {
    ember_text_options opt;
    int fitted;
    ember__strtab vocab; /* word -> id (2 ..) */
    uint32_t *id_off;    /* [V] offset of word 2 + k in vocab.pool */
    int64_t V;
    ember__labels labels;
    char salt[VOCAB_HASH_HEX + 1]; /* hash_vocab: the salt in hex, else "" */
};

ember_text_options ember_text_options_default(void)
{
    ember_text_options o;
    memset(&o, 0, sizeof o);
    o.nfkc = 1;
    o.casefold = 1;
    o.strip_html = 1;
    o.replace_urls = 1;
    o.replace_emails = 1;
    o.replace_numbers = 0;
    o.strip_email_headers = 0;
    o.keep_punctuation = 0;
    o.cjk_bigrams = 1;
    o.word_ngrams = 1;
    o.char_ngram_min = 0;
    o.char_ngram_max = 0;
    o.buckets = 200000;
    o.min_count = 1;
    o.max_vocab = 0;
    o.hash_vocab = 0;
    return o;
}

void ember_ragged_destroy(ember_ragged *r)
{
    if (!r)
        return;
    free(r->offsets);
    free(r->ids);
    free(r);
}

/* ------------------------------------------------------------- options */

typedef struct opt_field {
    const char *name;
    size_t off;
    int is64; /* int64_t field, else int */
    int64_t lo, hi;
    int optional; /* written only when not 0, read as 0 when missing (added after
                     version 1 was out, so older files and builds keep working) */
} opt_field;

#define F(name, is64, lo, hi) {#name, offsetof(ember_text_options, name), is64, lo, hi, 0}
static const opt_field FIELDS[] = {
    F(nfkc, 0, 0, 1),
    F(casefold, 0, 0, 1),
    F(strip_html, 0, 0, 1),
    F(replace_urls, 0, 0, 1),
    F(replace_emails, 0, 0, 1),
    F(replace_numbers, 0, 0, 1),
    F(strip_email_headers, 0, 0, 1),
    F(keep_punctuation, 0, 0, 1),
    F(cjk_bigrams, 0, 0, 1),
    F(word_ngrams, 0, 1, EMBER__TEXT_MAX_WORD_NGRAMS),
    F(char_ngram_min, 0, 0, EMBER__TEXT_MAX_CHAR_NGRAM),
    F(char_ngram_max, 0, 0, EMBER__TEXT_MAX_CHAR_NGRAM),
    F(buckets, 1, 0, MAX_VOCAB_PLUS_BUCKETS),
    F(min_count, 1, 1, INT64_MAX),
    F(max_vocab, 1, 0, INT64_MAX),
    {"hash_vocab", offsetof(ember_text_options, hash_vocab), 0, 0, 1, 1},
};
#undef F
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

static int64_t field_get(const ember_text_options *o, const opt_field *f)
{
    const char *p = (const char *)o + f->off;
    if (f->is64) {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    int v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void field_set(ember_text_options *o, const opt_field *f, int64_t v)
{
    char *p = (char *)o + f->off;
    if (f->is64) {
        memcpy(p, &v, sizeof v);
    } else {
        int i = (int)v; /* in range: checked against lo..hi first */
        memcpy(p, &i, sizeof i);
    }
}

/* Every field in range, and the char n-gram pair consistent. `where`
 * prefixes field names ("options." inside JSON). */
static ember_status check_options(const ember_text_options *o, const char *where,
                                  ember_status code, ember_error *err)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        int64_t v = field_get(o, &FIELDS[i]);
        if (v < FIELDS[i].lo || v > FIELDS[i].hi)
            return EMBER_FAIL(err, code, "%s%s: expected %lld..%lld, got %lld", where,
                              FIELDS[i].name, (long long)FIELDS[i].lo, (long long)FIELDS[i].hi,
                              (long long)v);
    }
    if ((o->char_ngram_min == 0) != (o->char_ngram_max == 0) ||
        o->char_ngram_min > o->char_ngram_max)
        return EMBER_FAIL(err, code,
                          "%schar_ngram_min..char_ngram_max: expected 0..0 (off) or "
                          "1 <= min <= max, got %d..%d",
                          where, o->char_ngram_min, o->char_ngram_max);
    return EMBER_OK;
}

/* --------------------------------------------------------- life cycle */

ember_status ember_pipeline_create(ember_pipeline **out, const ember_text_options *opt,
                                   ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_pipeline_create: out is NULL");
    ember_text_options o = opt ? *opt : ember_text_options_default();
    ember_status st = check_options(&o, "text options: ", EMBER_ERR_ARG, err);
    if (st != EMBER_OK)
        return st;
    ember_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "ember_pipeline_create: out of memory");
    p->opt = o;
    *out = p;
    return EMBER_OK;
}

static void drop_tables(ember_pipeline *p)
{
    ember__strtab_free(&p->vocab);
    free(p->id_off);
    p->id_off = NULL;
    p->V = 0;
    ember__labels_free(&p->labels);
    p->salt[0] = '\0';
    p->fitted = 0;
}

void ember_pipeline_destroy(ember_pipeline *p)
{
    if (!p)
        return;
    drop_tables(p);
    free(p);
}

/* The tokens of one text in s (clean + tokenize). */
static ember_status tokens_of(ember__text_scratch *s, const ember_text_options *o,
                              const char *text, ember_error *err)
{
    const char *c;
    size_t n;
    ember_status st = ember__text_clean(s, o, text, &c, &n, err);
    if (st == EMBER_OK)
        st = ember__text_tokenize(s, o, c, n, err);
    return st;
}

/* ----------------------------------------------------------- hash_vocab */

/* The stored form of word w[0..len) under `salt` (VOCAB_HASH_HEX hex digits):
 * VOCAB_HASH_HEX digits and a NUL in `out`. *h is a digest kept across calls
 * (started here when h->ctx is NULL; the caller ends it with
 * ember__sha256_deinit). EMBER_ERR_NOMEM. */
static ember_status word_hash(ember_sha256 *h, const char *salt, const char *w, size_t len,
                              char out[VOCAB_HASH_HEX + 1], ember_error *err)
{
    char hex[EMBER_SHA256_HEX_LEN + 1];
    ember_status st = h->ctx ? EMBER_OK : ember__sha256_init(h, err);
    if (st == EMBER_OK)
        st = ember__sha256_update(h, salt, VOCAB_HASH_HEX, err);
    if (st == EMBER_OK)
        st = ember__sha256_update(h, w, len, err);
    if (st == EMBER_OK)
        st = ember__sha256_final_reset(h, hex, err);
    if (st != EMBER_OK) {
        ember__sha256_deinit(h); /* the next call starts afresh */
        return st;
    }
    memcpy(out, hex, VOCAB_HASH_HEX);
    out[VOCAB_HASH_HEX] = '\0';
    return EMBER_OK;
}

/* The salt of a vocabulary (words in id order): see VOCAB_SALT_PREFIX. */
static ember_status vocab_salt(const ember__strtab *vocab, const uint32_t *id_off, int64_t V,
                               char out[VOCAB_HASH_HEX + 1], ember_error *err)
{
    char hex[EMBER_SHA256_HEX_LEN + 1];
    ember_sha256 h;
    ember_status st = ember__sha256_init(&h, err);
    if (st == EMBER_OK)
        st = ember__sha256_update(&h, VOCAB_SALT_PREFIX, sizeof VOCAB_SALT_PREFIX, err);
    for (int64_t k = 0; k < V && st == EMBER_OK; k++) {
        const char *w = vocab->pool + id_off[k];
        st = ember__sha256_update(&h, w, strlen(w) + 1, err);
    }
    if (st != EMBER_OK) {
        ember__sha256_deinit(&h);
        return st;
    }
    if ((st = ember__sha256_final(&h, hex, err)) != EMBER_OK)
        return st;
    memcpy(out, hex, VOCAB_HASH_HEX);
    out[VOCAB_HASH_HEX] = '\0';
    return EMBER_OK;
}

/* Replace the words of a built vocabulary (*vocab, *id_off, V words) by
 * their hashes, each keeping its id; the salt goes to `salt`. On failure
 * the vocabulary is left as it was. */
static ember_status hash_words(ember__strtab *vocab, uint32_t **id_off, int64_t V,
                               char salt[VOCAB_HASH_HEX + 1], ember_error *err)
{
    ember__strtab t = {0};
    uint32_t *ids = malloc((size_t)(V ? V : 1) * sizeof *ids);
    char hx[VOCAB_HASH_HEX + 1];
    ember_sha256 h = {0};
    ember_status st = ids ? vocab_salt(vocab, *id_off, V, salt, err)
                          : EMBER_FAIL(err, EMBER_ERR_NOMEM, "hash_vocab: out of memory");
    for (int64_t k = 0; k < V && st == EMBER_OK; k++) {
        const char *w = vocab->pool + (*id_off)[k];
        int added;
        if ((st = word_hash(&h, salt, w, strlen(w), hx, err)) != EMBER_OK)
            break;
        ember__strtab_slot *sl = ember__strtab_upsert(&t, hx, VOCAB_HASH_HEX,
                                                      ember__fnv1a64(hx, VOCAB_HASH_HEX), &added);
        if (!sl)
            st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "hash_vocab: out of memory (%lld words)",
                            (long long)V);
        else if (!added) /* 128-bit SHA-256 prefixes: never seen, but not assumed away */
            st = EMBER_FAIL(err, EMBER_ERR_STATE, "hash_vocab: words %lld and %lld have the "
                            "same hash; train without --hash-vocab", (long long)(sl->value - 2),
                            (long long)k);
        else {
            sl->value = 2 + k;
            ids[k] = sl->off;
        }
    }
    ember__sha256_deinit(&h);
    if (st != EMBER_OK) {
        free(ids);
        ember__strtab_free(&t);
        salt[0] = '\0';
        return st;
    }
    ember__strtab_free(vocab);
    free(*id_off);
    *vocab = t;
    *id_off = ids;
    return EMBER_OK;
}

ember_status ember_pipeline_fit(ember_pipeline *p, const ember_text_dataset *d,
                                ember_error *err)
{
    if (!p || !d)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_pipeline_fit: %s is NULL",
                          !p ? "pipeline" : "data set");
    int64_t n = ember_text_dataset_size(d);
    if (n <= 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_pipeline_fit: the training set is empty");
    ember__text_scratch s = {0};
    ember__strtab counts = {0}, vocab = {0};
    ember__labels labels = {0};
    uint32_t *id_off = NULL;
    const char **names = NULL;
    int64_t V = 0;
    int any_join = 0; /* did the training texts have CJK bigrams? */
    char salt[VOCAB_HASH_HEX + 1] = "";
    ember_status st = EMBER_OK;
    for (int64_t i = 0; i < n && st == EMBER_OK; i++) {
        st = tokens_of(&s, &p->opt, ember_text_dataset_text(d, i), err);
        any_join |= s.njoin > 0;
        for (size_t t = 0; t < s.ntok && st == EMBER_OK; t++) {
            const ember__text_token *tk = &s.tok[t];
            int added;
            ember__strtab_slot *sl =
                ember__strtab_upsert(&counts, s.words + tk->off, tk->len, tk->hash, &added);
            if (!sl)
                st = EMBER_FAIL(err, EMBER_ERR_NOMEM,
                                "ember_pipeline_fit: example %lld: out of memory counting words",
                                (long long)i);
            else
                sl->value++;
        }
    }
    if (st == EMBER_OK)
        st = ember__vocab_build(&vocab, &id_off, &V, &counts, p->opt.min_count,
                                p->opt.max_vocab, err);
    if (st == EMBER_OK && V + p->opt.buckets > MAX_VOCAB_PLUS_BUCKETS)
        st = EMBER_FAIL(err, EMBER_ERR_ARG,
                        "ember_pipeline_fit: vocabulary (%lld words) + buckets (%lld) exceed "
                        "the %lld ids an int32 holds; lower max_vocab or buckets",
                        (long long)V, (long long)p->opt.buckets,
                        (long long)MAX_VOCAB_PLUS_BUCKETS);
    if (st == EMBER_OK && p->opt.hash_vocab) /* after the order is set: ids do not change */
        st = hash_words(&vocab, &id_off, V, salt, err);
    /* labels: every label of every example (not only the first) */
    int64_t total = 0;
    for (int64_t i = 0; i < n && st == EMBER_OK; i++)
        total += ember_text_dataset_label_count(d, i);
    if (st == EMBER_OK && !(names = malloc((size_t)(total ? total : 1) * sizeof *names)))
        st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "ember_pipeline_fit: out of memory (labels)");
    if (st == EMBER_OK) {
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < ember_text_dataset_label_count(d, i); j++)
                names[k++] = ember_text_dataset_label(d, i, j);
        st = ember__labels_build(&labels, names, total, err);
    }
    free(names);
    ember__strtab_free(&counts);
    ember__text_scratch_free(&s);
    if (st != EMBER_OK) {
        ember__strtab_free(&vocab);
        free(id_off);
        ember__labels_free(&labels);
        return st;
    }
    drop_tables(p);
    /* Buckets only exist when something is hashed into them: word or
     * character n-grams were asked for, or the training texts had CJK
     * bigrams. Otherwise they would be embedding rows no id can reach
     * (200,000 x 64 floats of dead weight for an English data set). */
    if (p->opt.word_ngrams == 1 && p->opt.char_ngram_min == 0 &&
        (!p->opt.cjk_bigrams || !any_join))
        p->opt.buckets = 0;
    p->vocab = vocab;
    p->id_off = id_off;
    p->V = V;
    p->labels = labels;
    memcpy(p->salt, salt, sizeof salt);
    p->fitted = 1;
    return EMBER_OK;
}

int64_t ember_pipeline_input_dim(const ember_pipeline *p)
{
    return p ? 2 + p->V + p->opt.buckets : 0;
}

int64_t ember_pipeline_class_count(const ember_pipeline *p) { return p ? p->labels.K : 0; }

const char *ember_pipeline_class_name(const ember_pipeline *p, int64_t k)
{
    if (!p || k < 0 || k >= p->labels.K)
        return NULL;
    return p->labels.pool + p->labels.off[k];
}

int64_t ember_pipeline_class_id(const ember_pipeline *p, const char *label)
{
    if (!p || !label)
        return -1;
    return ember__labels_find(&p->labels, label);
}

/* -------------------------------------------------------------- encode */

/* What one encode call needs to look tokens up in a hashed vocabulary: the
 * digest word_hash reuses, and a cache token -> id (at most HASH_CACHE_MAX
 * tokens) so that each distinct token is hashed once. Unused without
 * hash_vocab. */
typedef struct hashed_lookup {
    ember__strtab cache;
    ember_sha256 sha;
} hashed_lookup;

/* A token's id with hash_vocab: from the cache, or hashed and looked up. */
static ember_status hashed_token_id(const ember_pipeline *p, hashed_lookup *lk, const char *w,
                                    const ember__text_token *tk, int32_t *id, ember_error *err)
{
    const ember__strtab_slot *c = ember__strtab_find(&lk->cache, w, tk->len, tk->hash);
    if (c) {
        *id = (int32_t)c->value;
        return EMBER_OK;
    }
    char hx[VOCAB_HASH_HEX + 1];
    ember_status st = word_hash(&lk->sha, p->salt, w, tk->len, hx, err);
    if (st != EMBER_OK)
        return st;
    const ember__strtab_slot *sl =
        ember__strtab_find(&p->vocab, hx, VOCAB_HASH_HEX, ember__fnv1a64(hx, VOCAB_HASH_HEX));
    *id = sl ? (int32_t)sl->value : 1;
    if (lk->cache.count < HASH_CACHE_MAX) {
        int added;
        ember__strtab_slot *ns = ember__strtab_upsert(&lk->cache, w, tk->len, tk->hash, &added);
        if (!ns)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "hash_vocab: out of memory caching tokens");
        ns->value = *id;
    }
    return EMBER_OK;
}

static inline ember_status token_id(const ember_pipeline *p, hashed_lookup *lk,
                                    const ember__text_scratch *s, const ember__text_token *tk,
                                    int32_t *id, ember_error *err)
{
    const char *w = s->words + tk->off;
    if (p->opt.hash_vocab)
        return hashed_token_id(p, lk, w, tk, id, err);
    const ember__strtab_slot *sl = ember__strtab_find(&p->vocab, w, tk->len, tk->hash);
    *id = sl ? (int32_t)sl->value : 1;
    return EMBER_OK;
}

static ember_status item_id(const ember_pipeline *p, hashed_lookup *lk,
                            const ember__text_scratch *s, const ember__text_item *it,
                            int32_t *id, ember_error *err)
{
    if (it->kind == EMBER__ITEM_TOKEN)
        return token_id(p, lk, s, &s->tok[it->tok], id, err);
    *id = (int32_t)(2 + p->V + (int64_t)(it->hash % (uint64_t)p->opt.buckets));
    return EMBER_OK;
}

/* Characters of a label quoted in a message, so that a long one cannot push
 * the rest out of ember_error's fixed buffer. */
#define LABEL_IN_MESSAGE_MAX 100

/* Class id of example i's first label, or -1 with err filled ("FILE:LINE:
 * label 'x' was not in the training data (example 17)", or "no label"). */
static int64_t label_class(const ember_pipeline *p, const ember_text_dataset *d, int64_t i,
                           ember_error *err)
{
    char where[EMBER_ERROR_MESSAGE_MAX / 2];
    if (ember_text_dataset_label_count(d, i) < 1) {
        EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: no label",
                   ember__text_dataset_where(d, i, where, sizeof where));
        return -1;
    }
    const char *name = ember_text_dataset_label(d, i, 0);
    int64_t k = ember__labels_find(&p->labels, name);
    if (k < 0) {
        ember__text_dataset_where(d, i, where, sizeof where);
        if (strncmp(where, "example ", 8) == 0)
            EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: label '%.*s' was not in the training data",
                       where, LABEL_IN_MESSAGE_MAX, name);
        else
            EMBER_FAIL(err, EMBER_ERR_FORMAT,
                       "%s: label '%.*s' was not in the training data (example %lld)", where,
                       LABEL_IN_MESSAGE_MAX, name, (long long)i);
    }
    return k;
}

ember_status ember_text_dataset_drop_unknown_labels(ember_text_dataset *d, const ember_pipeline *p,
                                                    int64_t *removed, ember_error *err)
{
    if (!d || !p)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_drop_unknown_labels: %s is NULL",
                          !d ? "data set" : "pipeline");
    if (!p->fitted)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "ember_text_dataset_drop_unknown_labels: the "
                          "pipeline is not fitted");
    /* First pass: only look, so that d is unchanged when nothing would be left. */
    int64_t bad = 0, first = -1;
    ember_error e;
    for (int64_t i = 0; i < d->n; i++)
        if (label_class(p, d, i, &e) < 0 && bad++ == 0)
            first = i;
    if (bad > 0 && bad == d->n) {
        label_class(p, d, first, &e);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "no examples left: the labels of all %lld are "
                          "unknown to the model; the first: %s", (long long)bad, e.message);
    }
    /* Second pass: note and compact in place, keeping the order. */
    int64_t out = 0, lab = 0;
    for (int64_t i = 0; i < d->n; i++) {
        int64_t l0 = d->label_start[i], l1 = d->label_start[i + 1];
        if (label_class(p, d, i, &e) < 0) {
            ember__text_dataset_note_skip(d, e.message, 1);
            continue;
        }
        d->text_off[out] = d->text_off[i];
        if (d->line)
            d->line[out] = d->line[i];
        if (d->file_off)
            d->file_off[out] = d->file_off[i];
        d->label_start[out] = lab;
        memmove(d->label_ids + lab, d->label_ids + l0, (size_t)(l1 - l0) * sizeof *d->label_ids);
        lab += l1 - l0;
        out++;
    }
    d->label_start[out] = lab;
    d->label_used = lab;
    d->n = out;
    if (removed)
        *removed = bad;
    return EMBER_OK;
}

ember_status ember_pipeline_encode(const ember_pipeline *p, const ember_text_dataset *d,
                                   ember_ragged **ids, ember_tensor **labels, ember_error *err)
{
    if (!p || !d || !ids)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_pipeline_encode: %s is NULL",
                          !p ? "pipeline" : !d ? "data set" : "ids");
    if (!p->fitted)
        return EMBER_FAIL(err, EMBER_ERR_STATE,
                          "ember_pipeline_encode: the pipeline is not fitted (call "
                          "ember_pipeline_fit or ember_pipeline_from_json first)");
    int64_t n = ember_text_dataset_size(d);
    ember_tensor *y = NULL;
    ember_ragged *r = NULL;
    ember__text_scratch s = {0};
    hashed_lookup lk = {0};
    ember_status st;
    if (labels) { /* labels first: a bad one fails before any text work */
        st = ember_tensor_create(&y, 1, &n, err);
        if (st != EMBER_OK)
            return st;
        for (int64_t i = 0; i < n; i++) {
            int64_t k = label_class(p, d, i, err);
            if (k < 0) {
                st = EMBER_ERR_FORMAT;
                goto fail;
            }
            y->data[i] = (float)k;
        }
    }
    size_t cap = 0;
    if (!(r = calloc(1, sizeof *r)) || !(r->offsets = malloc((size_t)(n + 1) * sizeof(int64_t))))
        goto nomem;
    r->n = n;
    r->offsets[0] = 0;
    int64_t used = 0;
    const ember_text_options *o = &p->opt;
    /* Without n-grams the items are the tokens: skip building them. */
    int unigrams = o->buckets == 0 || (o->word_ngrams == 1 && o->char_ngram_min == 0);
    for (int64_t i = 0; i < n; i++) {
        st = tokens_of(&s, o, ember_text_dataset_text(d, i), err);
        int plain = unigrams && (!o->cjk_bigrams || s.njoin == 0 || o->buckets == 0);
        if (st == EMBER_OK && !plain)
            st = ember__text_items(&s, o, err);
        if (st != EMBER_OK) {
            ember__error_prefix(err, "example %lld", (long long)i);
            goto fail;
        }
        size_t m = plain ? s.ntok : s.nitems;
        if (!ember__text_grow((void **)&r->ids, &cap, (size_t)used + (m ? m : 1), sizeof(int32_t)))
            goto nomem;
        if (m == 0)
            r->ids[used++] = 1; /* an empty bag would average nothing */
        for (size_t k = 0; k < m && st == EMBER_OK; k++)
            st = plain ? token_id(p, &lk, &s, &s.tok[k], &r->ids[used++], err)
                       : item_id(p, &lk, &s, &s.items[k], &r->ids[used++], err);
        if (st != EMBER_OK) {
            ember__error_prefix(err, "example %lld", (long long)i);
            goto fail;
        }
        r->offsets[i + 1] = used;
    }
    if (!r->ids && !(r->ids = malloc(sizeof(int32_t))))
        goto nomem;
    else if (used > 0 && (size_t)used < cap) {
        int32_t *shrunk = realloc(r->ids, (size_t)used * sizeof(int32_t));
        if (shrunk)
            r->ids = shrunk;
    }
    ember__text_scratch_free(&s);
    ember__strtab_free(&lk.cache);
    ember__sha256_deinit(&lk.sha);
    *ids = r;
    if (labels)
        *labels = y;
    return EMBER_OK;
nomem:
    st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "ember_pipeline_encode: out of memory (%lld examples)",
                    (long long)n);
fail:
    ember__text_scratch_free(&s);
    ember__strtab_free(&lk.cache);
    ember__sha256_deinit(&lk.sha);
    ember_ragged_destroy(r);
    ember_tensor_destroy(y);
    return st;
}

/* -------------------------------------------------------------- tokens */

static int put(char **b, size_t *n, size_t *cap, const void *src, size_t len)
{
    if (!ember__text_grow((void **)b, cap, *n + len + 1, 1))
        return 0;
    memcpy(*b + *n, src, len);
    *n += len;
    return 1;
}

ember_status ember_pipeline_tokens(const ember_pipeline *p, const char *text, char **out,
                                   ember_error *err)
{
    if (!p || !text || !out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_pipeline_tokens: %s is NULL",
                          !p ? "pipeline" : !text ? "text" : "out");
    ember__text_scratch s = {0};
    char *b = NULL;
    size_t n = 0, cap = 0;
    ember_status st = tokens_of(&s, &p->opt, text, err);
    if (st == EMBER_OK)
        st = ember__text_items(&s, &p->opt, err);
    int ok = st == EMBER_OK && put(&b, &n, &cap, "", 0);
    for (size_t k = 0; ok && k < s.nitems; k++) {
        const ember__text_item *it = &s.items[k];
        const ember__text_token *tk = &s.tok[it->tok];
        const char *w = s.words + tk->off;
        if (k > 0)
            ok = put(&b, &n, &cap, " ", 1);
        switch (it->kind) {
        case EMBER__ITEM_TOKEN: ok = ok && put(&b, &n, &cap, w, tk->len); break;
        case EMBER__ITEM_CHAR_NGRAM:
            ok = ok && put(&b, &n, &cap, (it->n & 1) ? "#<" : "#", (it->n & 1) ? 2 : 1) &&
                 put(&b, &n, &cap, w + it->off, it->len) &&
                 put(&b, &n, &cap, ">", (it->n & 2) ? 1 : 0);
            break;
        case EMBER__ITEM_CJK_BIGRAM:
            ok = ok && put(&b, &n, &cap, "#", 1) &&
                 put(&b, &n, &cap, s.words + s.tok[it->tok - 1].off, s.tok[it->tok - 1].len) &&
                 put(&b, &n, &cap, w, tk->len);
            break;
        default: /* word n-gram */
            ok = ok && put(&b, &n, &cap, "#", 1);
            for (uint32_t j = it->tok + 1 - it->n; ok && j <= it->tok; j++)
                ok = put(&b, &n, &cap, "_", j > it->tok + 1 - it->n) &&
                     put(&b, &n, &cap, s.words + s.tok[j].off, s.tok[j].len);
            break;
        }
    }
    ember__text_scratch_free(&s);
    if (st != EMBER_OK) {
        free(b);
        return st;
    }
    if (!ok) {
        free(b);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "ember_pipeline_tokens: out of memory");
    }
    b[n] = '\0';
    *out = b;
    return EMBER_OK;
}

/* ---------------------------------------------------------------- JSON */

ember_status ember_pipeline_to_json(const ember_pipeline *p, char **json, ember_error *err)
{
    if (!p || !json)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_pipeline_to_json: %s is NULL",
                          !p ? "pipeline" : "json");
    if (!p->fitted)
        return EMBER_FAIL(err, EMBER_ERR_STATE,
                          "ember_pipeline_to_json: the pipeline is not fitted");
    cJSON *root = cJSON_CreateObject(), *o = NULL, *v = NULL, *l = NULL;
    int ok = root && cJSON_AddNumberToObject(root, "version", PIPELINE_JSON_VERSION) &&
             (o = cJSON_AddObjectToObject(root, "options"));
    for (size_t i = 0; ok && i < NFIELDS; i++) {
        int64_t x = field_get(&p->opt, &FIELDS[i]);
        if (x != 0 || !FIELDS[i].optional)
            ok = cJSON_AddNumberToObject(o, FIELDS[i].name, (double)x) != NULL;
    }
    ok = ok && (v = cJSON_AddArrayToObject(root, "vocab"));
    for (int64_t k = 0; ok && k < p->V; k++) { /* the words, or with hash_vocab their hashes */
        cJSON *s = cJSON_CreateString(p->vocab.pool + p->id_off[k]);
        ok = s && cJSON_AddItemToArray(v, s);
    }
    if (p->opt.hash_vocab)
        ok = ok && cJSON_AddStringToObject(root, "vocab_salt", p->salt);
    ok = ok && (l = cJSON_AddArrayToObject(root, "labels"));
    for (int64_t k = 0; ok && k < p->labels.K; k++) {
        cJSON *s = cJSON_CreateString(p->labels.pool + p->labels.off[k]);
        ok = s && cJSON_AddItemToArray(l, s);
    }
    ok = ok && cJSON_AddNumberToObject(root, "buckets", (double)p->opt.buckets);
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "ember_pipeline_to_json: out of memory");
    *json = text;
    return EMBER_OK;
}

/* The index of j->string in names[n], or an error for an unknown key or
 * one already seen (cJSON keeps duplicates). */
static ember_status json_key(const cJSON *j, const char *const *names, size_t n,
                             const char *where, uint32_t *seen, size_t *idx, ember_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(j->string, names[i]) == 0) {
            if (*seen & (1u << i))
                return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: %s%s: duplicate key",
                                  where, names[i]);
            *seen |= 1u << i;
            *idx = i;
            return EMBER_OK;
        }
    }
    return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: %s%s: unknown key", where,
                      j->string);
}

static ember_status read_options(ember_text_options *o, const cJSON *obj, ember_error *err)
{
    const char *names[NFIELDS];
    for (size_t i = 0; i < NFIELDS; i++)
        names[i] = FIELDS[i].name;
    if (!cJSON_IsObject(obj))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: options: expected an object, got %s",
                          ember__json_type(obj));
    uint32_t seen = 0;
    memset(o, 0, sizeof *o);
    for (const cJSON *j = obj->child; j; j = j->next) {
        size_t i = 0;
        int64_t v;
        char field[64];
        ember_status st = json_key(j, names, NFIELDS, "options.", &seen, &i, err);
        if (st != EMBER_OK)
            return st;
        snprintf(field, sizeof field, "options.%s", FIELDS[i].name);
        if ((st = ember__json_int(j, JSON_DOC, field, &v, err)) != EMBER_OK)
            return st;
        if (v < FIELDS[i].lo || v > FIELDS[i].hi)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: %s: expected %lld..%lld, got %lld",
                              field, (long long)FIELDS[i].lo, (long long)FIELDS[i].hi,
                              (long long)v);
        field_set(o, &FIELDS[i], v);
    }
    for (size_t i = 0; i < NFIELDS; i++) /* an optional one stays 0 */
        if (!(seen & (1u << i)) && !FIELDS[i].optional)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: options.%s: missing",
                              FIELDS[i].name);
    return check_options(o, "pipeline JSON: options.", EMBER_ERR_FORMAT, err);
}

/* vocab_salt is there exactly when options.hash_vocab is 1. */
enum { K_VERSION, K_OPTIONS, K_VOCAB, K_LABELS, K_BUCKETS, K_VOCAB_SALT, K_COUNT };
static const char *const KEYS[K_COUNT] = {"version", "options", "vocab", "labels", "buckets",
                                          "vocab_salt"};

/* A hash or salt of hash_vocab: VOCAB_HASH_HEX lowercase hex digits. */
static int is_hash_hex(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n == VOCAB_HASH_HEX && s[n] == '\0';
}

static ember_status read_vocab(ember_pipeline *p, const cJSON *arr, ember_error *err)
{
    if (!cJSON_IsArray(arr))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: vocab: expected an array, got %s",
                          ember__json_type(arr));
    int64_t V = cJSON_GetArraySize(arr);
    if (V + p->opt.buckets > MAX_VOCAB_PLUS_BUCKETS)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "pipeline JSON: vocab: %lld words + %lld buckets exceed %lld ids",
                          (long long)V, (long long)p->opt.buckets,
                          (long long)MAX_VOCAB_PLUS_BUCKETS);
    if (!(p->id_off = malloc((size_t)(V ? V : 1) * sizeof *p->id_off)))
        goto nomem;
    int64_t k = 0;
    for (const cJSON *j = arr->child; j; j = j->next, k++) {
        if (!cJSON_IsString(j))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "pipeline JSON: vocab[%lld]: expected a string, got %s",
                              (long long)k, ember__json_type(j));
        size_t len = strlen(j->valuestring);
        if (len == 0 || len >= UINT32_MAX)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: vocab[%lld]: %s word",
                              (long long)k, len ? "too long a" : "empty");
        if (p->opt.hash_vocab && !is_hash_hex(j->valuestring))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: vocab[%lld]: expected %d "
                              "lowercase hex digits (options.hash_vocab is 1), got '%.40s'",
                              (long long)k, VOCAB_HASH_HEX, j->valuestring);
        int added;
        ember__strtab_slot *sl = ember__strtab_upsert(
            &p->vocab, j->valuestring, (uint32_t)len, ember__fnv1a64(j->valuestring, len), &added);
        if (!sl)
            goto nomem;
        if (!added)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "pipeline JSON: vocab[%lld]: duplicate word '%s' (first at %lld)",
                              (long long)k, j->valuestring, (long long)(sl->value - 2));
        sl->value = 2 + k;
        p->id_off[k] = sl->off;
    }
    p->V = V;
    return EMBER_OK;
nomem:
    return EMBER_FAIL(err, EMBER_ERR_NOMEM, "pipeline JSON: vocab: out of memory");
}

/* "vocab_salt" (j, NULL when absent) against options.hash_vocab. */
static ember_status read_salt(ember_pipeline *p, const cJSON *j, ember_error *err)
{
    if (!p->opt.hash_vocab)
        return j ? EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: vocab_salt: present, but "
                              "options.hash_vocab is 0")
                 : EMBER_OK;
    if (!j)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: vocab_salt: missing (options."
                          "hash_vocab is 1)");
    if (!cJSON_IsString(j) || !is_hash_hex(j->valuestring))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: vocab_salt: expected a string "
                          "of %d lowercase hex digits", VOCAB_HASH_HEX);
    memcpy(p->salt, j->valuestring, VOCAB_HASH_HEX + 1);
    return EMBER_OK;
}

static ember_status read_labels(ember_pipeline *p, const cJSON *arr, ember_error *err)
{
    if (!cJSON_IsArray(arr))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: labels: expected an array, got %s",
                          ember__json_type(arr));
    int64_t K = cJSON_GetArraySize(arr), k = 0;
    const char **names = malloc((size_t)(K ? K : 1) * sizeof *names);
    if (!names)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "pipeline JSON: labels: out of memory");
    for (const cJSON *j = arr->child; j; j = j->next, k++) {
        if (!cJSON_IsString(j)) {
            free(names);
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "pipeline JSON: labels[%lld]: expected a string, got %s",
                              (long long)k, ember__json_type(j));
        }
        if (k > 0 && strcmp(names[k - 1], j->valuestring) >= 0) {
            ember_status st = EMBER_FAIL(
                err, EMBER_ERR_FORMAT,
                "pipeline JSON: labels[%lld]: '%s' does not come after '%s' (labels are "
                "distinct and sorted by byte order; their positions are the class ids)",
                (long long)k, j->valuestring, names[k - 1]);
            free(names);
            return st;
        }
        names[k] = j->valuestring;
    }
    ember_status st = ember__labels_build(&p->labels, names, K, err);
    free(names);
    return st;
}

ember_status ember_pipeline_from_json(ember_pipeline **out, const char *json, ember_error *err)
{
    if (!out || !json)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_pipeline_from_json: %s is NULL",
                          !out ? "out" : "json");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: syntax error at byte %zu", at);
    }
    ember_pipeline *p = NULL;
    ember_status st = EMBER_OK;
    const cJSON *item[K_COUNT] = {0};
    uint32_t seen = 0;
    if (!cJSON_IsObject(root))
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: expected an object, got %s",
                        ember__json_type(root));
    for (const cJSON *j = st == EMBER_OK ? root->child : NULL; j && st == EMBER_OK; j = j->next) {
        size_t i = 0;
        st = json_key(j, KEYS, K_COUNT, "", &seen, &i, err);
        if (st == EMBER_OK)
            item[i] = j;
    }
    for (int i = 0; i < K_COUNT && st == EMBER_OK; i++)
        if (!item[i] && i != K_VOCAB_SALT)
            st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "pipeline JSON: %s: missing", KEYS[i]);
    int64_t version = 0, buckets = 0;
    if (st == EMBER_OK && (st = ember__json_int(item[K_VERSION], JSON_DOC, "version", &version, err)) == EMBER_OK &&
        version != PIPELINE_JSON_VERSION)
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                        "pipeline JSON: version: %lld is not supported (this build reads %d)",
                        (long long)version, PIPELINE_JSON_VERSION);
    if (st == EMBER_OK && !(p = calloc(1, sizeof *p)))
        st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "ember_pipeline_from_json: out of memory");
    if (st == EMBER_OK)
        st = read_options(&p->opt, item[K_OPTIONS], err);
    if (st == EMBER_OK && (st = ember__json_int(item[K_BUCKETS], JSON_DOC, "buckets", &buckets, err)) == EMBER_OK &&
        buckets != p->opt.buckets)
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                        "pipeline JSON: buckets: %lld differs from options.buckets %lld",
                        (long long)buckets, (long long)p->opt.buckets);
    if (st == EMBER_OK)
        st = read_salt(p, item[K_VOCAB_SALT], err);
    if (st == EMBER_OK)
        st = read_vocab(p, item[K_VOCAB], err);
    if (st == EMBER_OK)
        st = read_labels(p, item[K_LABELS], err);
    cJSON_Delete(root);
    if (st != EMBER_OK) {
        ember_pipeline_destroy(p);
        return st;
    }
    p->fitted = 1;
    *out = p;
    return EMBER_OK;
}
