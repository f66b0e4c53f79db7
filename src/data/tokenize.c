/*
 * tokenize.c - cleaned text -> tokens -> items (the bag one example becomes).
 *
 * Tokens. Whitespace (Unicode Z*, control characters and U+200B ZERO WIDTH
 * SPACE) separates. When the options ask:
 *  - URLs become "<url>": "http://", "https://" or "www." (any case) at the
 *    text's start or after a character that is not an ASCII letter or
 *    digit, followed by a letter, digit or non-ASCII character; the URL runs
 *    to whitespace, or to the first of < > " ` { } | \ ^ or non-ASCII
 *    punctuation, symbol or CJK character, without trailing
 *    . , ; : ! ? ' " ) ] } *.
 *  - e-mail addresses become "<email>": local part [A-Za-z0-9._%+-]+ (no
 *    leading '.'), '@', a domain of ASCII letters, digits, '.' and '-'
 *    starting with a letter or digit, no "..", at least one '.', and a last
 *    label of two or more letters. Where an address and a URL start at the
 *    same place ("www.a@b.cd") the address wins; a URL that holds an address
 *    ("http://a@b.cd") stays one URL.
 * The rest splits, code point by code point, by Unicode category
 * (utf8proc_category):
 *  - letters, marks, numbers other than decimal digits, private-use and
 *    unassigned code points build words;
 *  - decimal digits (Nd) build words too, except that with replace_numbers
 *    each maximal run of them is written as "<num>" (regular-expression
 *    semantics: "2024" -> "<num>", a placeholder; "mp3" -> the word "mp<num>");
 *  - punctuation (P*) and the symbols Sm, Sc, Sk end a word; with
 *    keep_punctuation each is a token of its own, otherwise dropped. All of
 *    ASCII's non-alphanumeric characters are in this group;
 *  - other symbols (So: emoji, (c), arrows, U+FFFD) end a word and are
 *    always a token of their own, since emoji carry sentiment. Variation
 *    selectors (U+FE00..FE0F) and skin-tone modifiers (U+1F3FB..1F3FF) are
 *    dropped, so "thumbs up" is one token whatever its colour;
 *  - format characters (Cf: soft hyphen, ZWJ, BOM, ...) are dropped without
 *    ending a word;
 *  - CJK characters (letters, marks and numbers in the Han, Hiragana,
 *    Katakana, Bopomofo and Hangul blocks listed in is_cjk) end a word and
 *    are one token each; CJK punctuation (U+3000..303F, "・") is punctuation.
 *    Two CJK characters with nothing between them make a CJK bigram.
 *
 * Items, per token in text order (ember__text_items): the token; its
 * character n-grams if it is a word; the CJK bigram ending at it; the word
 * n-grams ending at it, n = 2..word_ngrams. Word n-grams run over all tokens
 * (placeholders, punctuation, symbols and CJK characters included).
 * Character n-grams are taken, as in fastText, over the word in code points
 * with '<' before and '>' after, every length from char_ngram_min to
 * char_ngram_max, except a lone '<' or '>'.
 *
 * Hashes (FNV-1a 64, text.h), bytes fed in this order:
 *  - token:      its UTF-8 bytes (also the vocabulary table's hash);
 *  - word n-gram: 'W', then each token's hash as 8 bytes, little-endian;
 *  - CJK bigram:  'B', then the two tokens' hashes the same way;
 *  - char n-gram: 'C', then the n-gram's UTF-8 bytes ('<' and '>' included).
 * The tag bytes keep the three kinds apart. Bucket = hash % buckets.
 *
 * Deliberately not done: dictionary word segmentation (Chinese and Japanese
 * get characters and bigrams instead; Thai, Lao, Khmer and Burmese, written
 * without spaces, come out as long words), keeping apostrophes or hyphens
 * inside words ("don't" is "don" "t"), and emoji ZWJ sequences as one token.
 */
#include "text.h"

#include <string.h>
#include <utf8proc.h>

enum { C_SPACE = 0, C_WORD, C_DIGIT, C_PUNCT, C_SYMBOL, C_CJK, C_IGNORE, C_MULTI };

/* Class of each byte: for ASCII, controls and space separate, digits,
 * letters, and everything else is punctuation (ASCII has no So symbols);
 * C_MULTI for the bytes of multi-byte characters (decode and classify). */
#define S C_SPACE
#define W C_WORD
#define D C_DIGIT
#define P C_PUNCT
#define M C_MULTI
#define M16 M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M
static const unsigned char ASCII_CLASS[256] = {
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x00 controls */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x10 controls */
    S, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* space ! " # $ % & ' ( ) * + , - . / */
    D, D, D, D, D, D, D, D, D, D, P, P, P, P, P, P, /* 0-9 : ; < = > ? */
    P, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, /* @ A-O */
    W, W, W, W, W, W, W, W, W, W, W, P, P, P, P, P, /* P-Z [ \ ] ^ _ */
    P, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W, /* ` a-o */
    W, W, W, W, W, W, W, W, W, W, W, P, P, P, P, S, /* p-z { | } ~ DEL */
    M16, M16, M16, M16, M16, M16, M16, M16,         /* 0x80..0xFF */
};
#undef M16
#undef M
#undef S
#undef W
#undef D
#undef P

/* Decode one code point of valid UTF-8 (the cleaner guarantees validity). */
static inline int32_t decode(const unsigned char *s, size_t *len)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *len = 1;
        return (int32_t)c;
    }
    if (c < 0xE0) {
        *len = 2;
        return (int32_t)(((c & 0x1Fu) << 6) | (s[1] & 0x3Fu));
    }
    if (c < 0xF0) {
        *len = 3;
        return (int32_t)(((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu));
    }
    *len = 4;
    return (int32_t)(((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) |
                     (s[3] & 0x3Fu));
}

static inline size_t cp_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

static int is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }

/* The blocks whose letters, marks and numbers are CJK tokens. */
static int is_cjk(int32_t cp)
{
    if (cp < 0x1100)
        return 0;
    return (cp <= 0x11FF) ||                  /* Hangul Jamo */
           (cp >= 0x2E80 && cp <= 0x2FDF) ||  /* CJK and Kangxi radicals */
           (cp >= 0x3005 && cp <= 0x3007) ||  /* iteration mark, closing mark, ideographic zero */
           (cp >= 0x3021 && cp <= 0x3029) ||  /* Hangzhou numerals */
           (cp >= 0x3038 && cp <= 0x303C) ||  /* more Hangzhou numerals, masu mark */
           (cp >= 0x3040 && cp <= 0x30FF) ||  /* Hiragana, Katakana */
           (cp >= 0x3100 && cp <= 0x318F) ||  /* Bopomofo, Hangul compatibility Jamo */
           (cp >= 0x31A0 && cp <= 0x31BF) ||  /* Bopomofo extended */
           (cp >= 0x31F0 && cp <= 0x31FF) ||  /* Katakana phonetic extensions */
           (cp >= 0x3400 && cp <= 0x4DBF) ||  /* CJK extension A */
           (cp >= 0x4E00 && cp <= 0x9FFF) ||  /* CJK unified ideographs */
           (cp >= 0xA960 && cp <= 0xA97F) ||  /* Hangul Jamo extended A */
           (cp >= 0xAC00 && cp <= 0xD7FF) ||  /* Hangul syllables, Jamo extended B */
           (cp >= 0xF900 && cp <= 0xFAFF) ||  /* CJK compatibility ideographs */
           (cp >= 0xFF66 && cp <= 0xFFDC) ||  /* half-width Katakana and Hangul */
           (cp >= 0x1AFF0 && cp <= 0x1B16F) || /* Kana extended/supplement */
           (cp >= 0x20000 && cp <= 0x3FFFF);  /* CJK extensions B.., planes 2 and 3 */
}

static int classify(int32_t cp)
{
    if (cp < 0x80)
        return ASCII_CLASS[cp];
    if (cp == 0x200B)
        return C_SPACE;
    if ((cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x1F3FB && cp <= 0x1F3FF))
        return C_IGNORE;
    utf8proc_category_t cat = utf8proc_category(cp);
    if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO && is_cjk(cp))
        return C_CJK;
    switch (cat) {
    case UTF8PROC_CATEGORY_ND: return C_DIGIT;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK: return C_PUNCT;
    case UTF8PROC_CATEGORY_SO: return C_SYMBOL;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC: return C_SPACE;
    case UTF8PROC_CATEGORY_CF: return C_IGNORE;
    default: return C_WORD;
    }
}

/* ------------------------------------------------------------ tokenizer */

typedef struct tz {
    ember__text_scratch *s;
    const ember_text_options *o;
    const unsigned char *t; /* the cleaned text */
    size_t len;             /* its bytes */
    size_t word_start;      /* s->words offset of the word being built */
    size_t cjk_end;         /* text offset just past the last CJK token, or SIZE_MAX */
    size_t em_s, em_e;      /* the next e-mail address, or em_s = SIZE_MAX */
    int ok;                 /* 0 after an allocation failed */
} tz;

/* Largest token bytes: offsets are 32-bit. */
#define WORDS_MAX ((size_t)UINT32_MAX)

static inline void append(tz *z, const void *bytes, size_t n)
{
    ember__text_scratch *s = z->s;
    if (s->words_len + n > s->words_cap &&
        (s->words_len + n > WORDS_MAX ||
         !ember__text_grow((void **)&s->words, &s->words_cap, s->words_len + n, 1))) {
        z->ok = 0;
        return;
    }
    memcpy(s->words + s->words_len, bytes, n);
    s->words_len += n;
}

/* Make the bytes since word_start a token of `kind`. */
static void close_token(tz *z, int kind, int join)
{
    ember__text_scratch *s = z->s;
    size_t len = s->words_len - z->word_start;
    if (len == 0 || !z->ok)
        return;
    if (s->ntok == s->tok_cap &&
        !ember__text_grow((void **)&s->tok, &s->tok_cap, s->ntok + 1, sizeof *s->tok)) {
        z->ok = 0;
        return;
    }
    const char *w = s->words + z->word_start;
    if (kind == EMBER__TOK_WORD && len == 5 && memcmp(w, "<num>", 5) == 0)
        kind = EMBER__TOK_PLACEHOLDER; /* a digit run alone (a word never holds '<' otherwise) */
    s->tok[s->ntok++] = (ember__text_token){(uint32_t)z->word_start, (uint32_t)len,
                                            ember__fnv1a64(w, len), (uint8_t)kind, (uint8_t)join};
    s->njoin += join != 0;
    z->word_start = s->words_len;
}

static void token(tz *z, const void *bytes, size_t n, int kind, int join)
{
    close_token(z, EMBER__TOK_WORD, 0); /* the word before it, if any */
    append(z, bytes, n);
    close_token(z, kind, join);
}

static int prefix_ci(const unsigned char *t, size_t n, const char *pat, size_t m)
{
    if (n < m)
        return 0;
    for (size_t i = 0; i < m; i++)
        if ((t[i] >= 'A' && t[i] <= 'Z' ? t[i] + 32 : t[i]) != (unsigned char)pat[i])
            return 0;
    return 1;
}

/* End of a URL starting at t[p], or 0. */
static size_t url_end(const unsigned char *t, size_t p, size_t len)
{
    size_t q;
    if (prefix_ci(t + p, len - p, "https://", 8))
        q = p + 8;
    else if (prefix_ci(t + p, len - p, "http://", 7))
        q = p + 7;
    else if (prefix_ci(t + p, len - p, "www.", 4))
        q = p + 4;
    else
        return 0;
    if (q >= len || (t[q] < 0x80 && !is_alnum(t[q])))
        return 0;
    size_t e = q;
    while (e < len) {
        unsigned char c = t[e];
        if (c < 0x80) {
            if (ASCII_CLASS[c] == C_SPACE || strchr("<>\"`{}|\\^", c))
                break;
            e++;
            continue;
        }
        size_t l;
        int k = classify(decode(t + e, &l));
        if (k == C_SPACE || k == C_PUNCT || k == C_SYMBOL || k == C_CJK)
            break;
        e += l;
    }
    while (e > q && strchr(".,;:!?'\")]}*", t[e - 1]))
        e--;
    return e > q ? e : 0;
}

static int local_char(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* An e-mail address around the '@' at t[at], not reaching before `from`:
 * its span [*l, *r). None of its characters is whitespace. */
static int email_span(const unsigned char *t, size_t from, size_t at, size_t len, size_t *l,
                      size_t *r)
{
    size_t a = at;
    while (a > from && local_char(t[a - 1]))
        a--;
    while (a < at && t[a] == '.')
        a++;
    if (a == at)
        return 0;
    size_t d = at + 1, e = d;
    while (e < len && (is_alnum(t[e]) || t[e] == '.' || t[e] == '-'))
        e++;
    while (e > d && (t[e - 1] == '.' || t[e - 1] == '-'))
        e--;
    if (e <= d || !is_alnum(t[d]))
        return 0;
    size_t dot = 0;
    for (size_t i = d + 1; i < e; i++) {
        if (t[i] == '.') {
            if (t[i - 1] == '.')
                return 0;
            dot = i;
        }
    }
    if (!dot || e - dot - 1 < 2)
        return 0;
    for (size_t i = dot + 1; i < e; i++)
        if (!is_alpha(t[i]))
            return 0;
    *l = a;
    *r = e;
    return 1;
}

/* Find the first e-mail address starting at or after `from` (memchr for the
 * '@'; `from` only grows, so the text is searched once in all). */
static void next_email(tz *z, size_t from)
{
    z->em_s = SIZE_MAX;
    if (!z->o->replace_emails)
        return;
    for (size_t a = from; a < z->len;) {
        const unsigned char *q = memchr(z->t + a, '@', z->len - a);
        if (!q)
            return;
        size_t at = (size_t)(q - z->t);
        if (email_span(z->t, from, at, z->len, &z->em_s, &z->em_e))
            return;
        a = at + 1;
    }
}

/* One pass over the text. E-mail addresses are found ahead (their start
 * lies left of the '@'), URLs where a word could start. */
static void scan(tz *z)
{
    const unsigned char *t = z->t;
    const ember_text_options *o = z->o;
    const size_t len = z->len;
    int digits_in_words = !o->replace_numbers;
    /* byte classes that continue an ASCII run */
    const unsigned run = (1u << C_WORD) | (digits_in_words ? 1u << C_DIGIT : 0);
    next_email(z, 0);
    for (size_t p = 0; p < len && z->ok;) {
        if (p >= z->em_s) {
            if (p == z->em_s) {
                token(z, "<email>", 7, EMBER__TOK_PLACEHOLDER, 0);
                p = z->em_e;
                next_email(z, p);
                continue;
            }
            next_email(z, p); /* not reached: nothing steps over an address's start */
        }
        unsigned char c = t[p];
        if (c < 0x80) {
            int k = ASCII_CLASS[c];
            if ((run >> k) & 1) {
                size_t e;
                if (o->replace_urls && ((c | 0x20) == 'h' || (c | 0x20) == 'w') &&
                    (p == 0 || !is_alnum(t[p - 1])) && (e = url_end(t, p, len))) {
                    token(z, "<url>", 5, EMBER__TOK_PLACEHOLDER, 0);
                    p = e;
                    if (z->em_s < p)
                        next_email(z, p); /* the URL held it ("http://a@b.cd") */
                    continue;
                }
                /* a run of ASCII letters (and digits) is copied at once */
                size_t q = p + 1, stop = len < z->em_s ? len : z->em_s;
                while (q < stop && ((run >> ASCII_CLASS[t[q]]) & 1))
                    q++;
                append(z, t + p, q - p);
                p = q;
                continue;
            }
            if (k == C_SPACE) {
                close_token(z, EMBER__TOK_WORD, 0);
                p++;
                continue;
            }
        }
        size_t l;
        int k = classify(decode(t + p, &l));
        if (k == C_DIGIT && !digits_in_words) {
            size_t q = p + l, stop = len < z->em_s ? len : z->em_s;
            while (q < stop) {
                size_t l2;
                if (classify(decode(t + q, &l2)) != C_DIGIT)
                    break;
                q += l2;
            }
            append(z, "<num>", 5);
            p = q;
            continue;
        }
        switch (k) {
        case C_WORD:
        case C_DIGIT: append(z, t + p, l); break;
        case C_IGNORE: break;
        case C_PUNCT:
            close_token(z, EMBER__TOK_WORD, 0);
            if (o->keep_punctuation)
                token(z, t + p, l, EMBER__TOK_PUNCT, 0);
            break;
        case C_SYMBOL: token(z, t + p, l, EMBER__TOK_SYMBOL, 0); break;
        case C_CJK:
            token(z, t + p, l, EMBER__TOK_CJK, z->cjk_end == p);
            z->cjk_end = p + l;
            break;
        default: close_token(z, EMBER__TOK_WORD, 0); break; /* whitespace */
        }
        p += l;
    }
    close_token(z, EMBER__TOK_WORD, 0);
}

ember_status ember__text_tokenize(ember__text_scratch *s, const ember_text_options *o,
                                  const char *text, size_t len, ember_error *err)
{
    tz z = {s, o, (const unsigned char *)text, len, 0, SIZE_MAX, SIZE_MAX, 0, 1};
    s->ntok = 0;
    s->njoin = 0;
    s->words_len = 0;
    scan(&z);
    if (!z.ok)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "tokenizer: out of memory (text of %zu bytes)",
                          len);
    return EMBER_OK;
}

/* ---------------------------------------------------------------- items */

/* FNV-1a over the 8 little-endian bytes of v (the same on every machine). */
static inline uint64_t feed_u64(uint64_t h, uint64_t v)
{
    for (int k = 0; k < 8; k++) {
        h ^= (v >> (8 * k)) & 0xFF;
        h *= EMBER__FNV64_PRIME;
    }
    return h;
}

static int push(ember__text_scratch *s, ember__text_item it)
{
    if (s->nitems == s->items_cap &&
        !ember__text_grow((void **)&s->items, &s->items_cap, s->nitems + 1, sizeof *s->items))
        return 0;
    s->items[s->nitems++] = it;
    return 1;
}

/* Character n-grams of token i (a word): positions 0..M-1 of "<" word ">". */
static int char_ngrams(ember__text_scratch *s, uint32_t i, int nmin, int nmax)
{
    const ember__text_token *tk = &s->tok[i];
    const unsigned char *w = (const unsigned char *)s->words + tk->off;
    size_t M = 2, bp = 0;
    for (size_t q = 0; q < tk->len; q += cp_len(w[q]))
        M++;
    for (size_t j = 0; j < M; j++) {
        uint64_t h = ember__fnv1a64("C", 1);
        size_t q = bp, start = bp;
        uint8_t flags = j == 0 ? 1 : 0;
        for (size_t n = 1; n <= (size_t)nmax && j + n <= M; n++) {
            size_t k = j + n - 1;
            if (k == 0) {
                h = ember__fnv1a64_feed(h, "<", 1);
            } else if (k == M - 1) {
                h = ember__fnv1a64_feed(h, ">", 1);
                flags |= 2;
            } else {
                size_t l = cp_len(w[q]);
                h = ember__fnv1a64_feed(h, w + q, l);
                q += l;
            }
            if (n >= (size_t)nmin && !(n == 1 && (j == 0 || j == M - 1)) &&
                !push(s, (ember__text_item){h, i, (uint32_t)start, (uint32_t)(q - start),
                                            EMBER__ITEM_CHAR_NGRAM, flags}))
                return 0;
        }
        if (j >= 1 && bp < tk->len)
            bp += cp_len(w[bp]);
    }
    return 1;
}

ember_status ember__text_items(ember__text_scratch *s, const ember_text_options *o,
                               ember_error *err)
{
    s->nitems = 0;
    int hashed = o->buckets > 0;
    for (size_t i = 0; i < s->ntok; i++) {
        const ember__text_token *tk = &s->tok[i];
        uint32_t ti = (uint32_t)i;
        if (!push(s, (ember__text_item){0, ti, 0, 0, EMBER__ITEM_TOKEN, 1}))
            goto nomem;
        if (!hashed)
            continue;
        if (o->char_ngram_min > 0 && tk->kind == EMBER__TOK_WORD &&
            !char_ngrams(s, ti, o->char_ngram_min, o->char_ngram_max))
            goto nomem;
        if (o->cjk_bigrams && tk->cjk_join) {
            uint64_t h = ember__fnv1a64("B", 1);
            h = feed_u64(feed_u64(h, s->tok[i - 1].hash), tk->hash);
            if (!push(s, (ember__text_item){h, ti, 0, 0, EMBER__ITEM_CJK_BIGRAM, 2}))
                goto nomem;
        }
        for (size_t n = 2; n <= (size_t)o->word_ngrams && n <= i + 1; n++) {
            uint64_t h = ember__fnv1a64("W", 1);
            for (size_t j = i + 1 - n; j <= i; j++)
                h = feed_u64(h, s->tok[j].hash);
            if (!push(s, (ember__text_item){h, ti, 0, 0, EMBER__ITEM_WORD_NGRAM, (uint8_t)n}))
                goto nomem;
        }
    }
    return EMBER_OK;
nomem:
    return EMBER_FAIL(err, EMBER_ERR_NOMEM, "tokenizer: out of memory (%zu tokens)", s->ntok);
}
