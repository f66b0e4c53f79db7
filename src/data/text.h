/*
 * text.h - the inside of the text pipeline: cleaning (text_clean.c),
 * tokenising and hashing (tokenize.c), the string table behind the
 * vocabulary and the label table (vocab.c). pipeline.c ties them into the
 * public ember_pipeline. Internal; not installed.
 *
 * One text goes through these stages, all writing into a reusable
 * ember__text_scratch so that no stage allocates per token (and, once the
 * buffers have grown to the longest text, not per text either):
 *
 *   raw bytes --clean--> cleaned UTF-8 --tokenize--> tokens --items--> items
 *
 * A *token* is a unigram: a word, a placeholder ("<url>", "<email>", "<num>"),
 * a punctuation mark (keep_punctuation), a symbol such as an emoji, or one CJK
 * character. An *item* is one entry of the bag the model sees: a token, or a
 * hashed word n-gram, character n-gram or CJK bigram. Encoding maps every item
 * to one id; ember_pipeline_tokens prints every item as one string, so the two
 * always correspond one to one.
 */
#ifndef EMBER_TEXT_H
#define EMBER_TEXT_H

#include "core.h"

#include <stddef.h>
#include <stdint.h>

/* Largest word_ngrams accepted: n-grams of up to 8 words. fastText's examples
 * use 2 or 3; more only multiplies the items per text. */
#define EMBER__TEXT_MAX_WORD_NGRAMS 8
/* Largest char_ngram_max accepted, in code points (fastText's default is 6). */
#define EMBER__TEXT_MAX_CHAR_NGRAM 32

/* ------------------------------------------------------------ hashing
 * FNV-1a, 64-bit (Fowler, Noll, Vo; parameters from
 * http://www.isthe.com/chongo/tech/comp/fnv/ and IETF draft-eastlake-fnv):
 * h = offset basis; for each byte b: h ^= b; h *= prime (mod 2^64).
 * Byte-oriented, so the value is the same on every machine and in every run;
 * model files depend on that. */
#define EMBER__FNV64_OFFSET UINT64_C(14695981039346656037) /* 0xcbf29ce484222325 */
#define EMBER__FNV64_PRIME UINT64_C(1099511628211)         /* 0x100000001b3 = 2^40 + 0x1b3 */

static inline uint64_t ember__fnv1a64_feed(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= EMBER__FNV64_PRIME;
    }
    return h;
}

static inline uint64_t ember__fnv1a64(const void *data, size_t n)
{
    return ember__fnv1a64_feed(EMBER__FNV64_OFFSET, data, n);
}

/* -------------------------------------------------------------- tokens */

typedef enum ember__tok_kind {
    EMBER__TOK_WORD = 0,     /* a run of letters/digits/marks (char n-grams apply) */
    EMBER__TOK_PLACEHOLDER,  /* "<url>", "<email>", "<num>" standing alone */
    EMBER__TOK_PUNCT,        /* one punctuation mark (keep_punctuation = 1) */
    EMBER__TOK_SYMBOL,       /* one "other symbol" (So): emoji, (c), arrows */
    EMBER__TOK_CJK           /* one Han/kana/Hangul character */
} ember__tok_kind;

typedef struct ember__text_token {
    uint32_t off, len;   /* bytes in scratch.words */
    uint64_t hash;       /* ember__fnv1a64 of those bytes */
    uint8_t kind;        /* ember__tok_kind */
    uint8_t cjk_join;    /* CJK and directly after another CJK token (a bigram ends here) */
} ember__text_token;

typedef enum ember__item_kind {
    EMBER__ITEM_TOKEN = 0, /* a unigram: `tok` */
    EMBER__ITEM_WORD_NGRAM, /* tokens tok-n+1 .. tok */
    EMBER__ITEM_CHAR_NGRAM, /* bytes [off, off+len) of token `tok`'s text, with
                               '<' before and '>' after when begin/end flags say */
    EMBER__ITEM_CJK_BIGRAM  /* tokens tok-1, tok */
} ember__item_kind;

typedef struct ember__text_item {
    uint64_t hash;  /* n-gram hash (unused for EMBER__ITEM_TOKEN) */
    uint32_t tok;   /* token index (the last one of an n-gram) */
    uint32_t off;   /* CHAR_NGRAM: byte offset inside the token */
    uint32_t len;   /* CHAR_NGRAM: bytes of the token covered */
    uint8_t kind;   /* ember__item_kind */
    uint8_t n;      /* WORD_NGRAM: words; CHAR_NGRAM: bit 0 '<' prefix, bit 1 '>' suffix */
} ember__text_item;

/* Reusable buffers for one thread. Zero-initialise, then ember__text_scratch_free. */
typedef struct ember__text_scratch {
    char *a, *b;             /* cleaning stages ping-pong between these */
    size_t a_cap, b_cap;
    int32_t *cps;            /* utf8proc's code point buffer */
    size_t cps_cap;          /* in code points */
    char *words;             /* token bytes, back to back (no NULs) */
    size_t words_len, words_cap;
    ember__text_token *tok;
    size_t ntok, tok_cap;
    size_t njoin;            /* tokens with cjk_join set (CJK bigrams possible) */
    ember__text_item *items;
    size_t nitems, items_cap;
} ember__text_scratch;

void ember__text_scratch_free(ember__text_scratch *s);

/* Grow *buf to hold at least `need` elements of `elem` bytes (doubling).
 * false on overflow or no memory (*buf untouched). */
bool ember__text_grow(void **buf, size_t *cap, size_t need, size_t elem);

/* ------------------------------------------------------------ cleaning */

/* Clean `text` (NUL-terminated, any bytes) as `o` says: invalid UTF-8 ->
 * U+FFFD, e-mail header block, HTML, NFKC and case folding. *out points to
 * the cleaned UTF-8 (into `s` or `text` itself; valid until the next call
 * on `s`), *len its bytes. EMBER_ERR_NOMEM. */
ember_status ember__text_clean(ember__text_scratch *s, const ember_text_options *o,
                               const char *text, const char **out, size_t *len,
                               ember_error *err);

/* Two pieces of the cleaning, exposed for tests. Each reads n bytes at `in`
 * and returns the bytes written to `out`: at most 3n for fix_utf8 (one
 * U+FFFD per bad byte), at most n for strip_html (no reference decodes
 * longer than itself, a tag becomes one space). */
size_t ember__text_fix_utf8(char *out, const char *in, size_t n);
size_t ember__text_strip_html(char *out, const char *in, size_t n);

/* ---------------------------------------------------------- tokenising */

/* Split cleaned text (valid UTF-8) into s->tok / s->words. EMBER_ERR_NOMEM. */
ember_status ember__text_tokenize(ember__text_scratch *s, const ember_text_options *o,
                                  const char *text, size_t len, ember_error *err);

/* Expand s->tok into s->items: for each token in order, the token, its char
 * n-grams (words only), the CJK bigram ending at it, then the word n-grams
 * ending at it (n = 2..word_ngrams). Hashed items only when o->buckets > 0.
 * EMBER_ERR_NOMEM. */
ember_status ember__text_items(ember__text_scratch *s, const ember_text_options *o,
                               ember_error *err);

/* -------------------------------------------------------- string table
 * Open addressing with linear probing over a power-of-two slot array, kept
 * at most half full. Strings live back to back in one pool, each followed by
 * a NUL, so `pool + off` is a C string. */
typedef struct ember__strtab_slot {
    uint64_t hash;
    uint32_t off;   /* UINT32_MAX: empty slot */
    uint32_t len;
    int64_t value;  /* the caller's (a count while fitting, an id after) */
} ember__strtab_slot;

typedef struct ember__strtab {
    ember__strtab_slot *slots;
    size_t cap;     /* slots: 0 or a power of two */
    size_t count;   /* strings stored */
    char *pool;
    size_t pool_len, pool_cap;
} ember__strtab;

void ember__strtab_free(ember__strtab *t);
/* The slot of s[0..len) (hash = ember__fnv1a64(s, len)), inserting it with
 * value 0 if absent (*added = 1). NULL when out of memory or past 4 GiB of
 * string bytes. */
ember__strtab_slot *ember__strtab_upsert(ember__strtab *t, const char *s, uint32_t len,
                                         uint64_t hash, int *added);
/* The slot of s[0..len), or NULL. */
const ember__strtab_slot *ember__strtab_find(const ember__strtab *t, const char *s,
                                             uint32_t len, uint64_t hash);

/* Sort order of the vocabulary: count descending, then bytes ascending
 * (unsigned, a shorter prefix first). Used by fit; a total order, so the
 * result never depends on hash-table layout. */
int ember__vocab_cmp(const char *a, int64_t count_a, const char *b, int64_t count_b);

/* From a table of counts, the words kept by (min_count, max_vocab) in
 * vocabulary order, as a fresh table whose values are ids (2, 3, ...), plus
 * ids_to_off[V] (offsets into the new pool) and V. EMBER_ERR_NOMEM. */
ember_status ember__vocab_build(ember__strtab *vocab, uint32_t **id_off, int64_t *V,
                                const ember__strtab *counts, int64_t min_count,
                                int64_t max_vocab, ember_error *err);

/* A sorted, distinct list of label strings: pool + offsets[K]. */
typedef struct ember__labels {
    char *pool;
    size_t *off;   /* [K] */
    int64_t K;
} ember__labels;

void ember__labels_free(ember__labels *l);
/* Distinct names (any order, duplicates allowed) -> sorted by byte order. */
ember_status ember__labels_build(ember__labels *l, const char *const *names, int64_t n,
                                 ember_error *err);
/* Class id of `name`, or -1 (binary search). */
int64_t ember__labels_find(const ember__labels *l, const char *name);

#endif
