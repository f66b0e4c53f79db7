/*
 * test_hash_vocab.c - ember_text_options.hash_vocab (docs/privacy.md): a
 * pipeline fitted with it encodes every text to the same ids as one fitted
 * without it (out-of-vocabulary words, placeholders, emoji, CJK, n-grams,
 * ties in the counts, min_count/max_vocab cuts, more distinct tokens than the
 * encode cache holds); its JSON names none of the training words and its
 * hashes follow the documented formula, recomputed here; the JSON round trip
 * keeps the option, and JSON written before the option existed still loads.
 * The CLI end to end (same weights, predict on a hashed model) is
 * tests/hash_vocab_cli/run.sh.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"
#include "io/hash.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Training texts: sensitive-looking words (a name, a card number, a
 * password), words with equal counts (ties broken by bytes, which hashing
 * must not change), a URL and an e-mail address (placeholders), an emoji,
 * CJK characters (bigrams), digits, punctuation. */
static const char *const TRAIN[] = {
    "alice paid 4111111111111111 to bob",
    "Bob paid alice; password hunter2!",
    "zeta alpha zeta alpha mid",
    "visit https://example.com or mail carol@example.org \xF0\x9F\x98\x80",
    "\xE5\x8C\x97\xE4\xBA\xAC\xE5\xA4\xA7\xE5\xAD\xA6 bank transfer",
    "transfer to account 998877 please",
    "card arrived? card declined. card card",
    "",
    "Stra\xC3\x9F" "e caf\xC3\xA9 mp3 2024",
    "bob bob alice hunter2 transfer",
};
/* Labels stay readable (docs/privacy.md), so none equals a word here: the
 * search for words in the hashed JSON would find it. */
static const char *const TRAIN_LABELS[] = {"pay", "pay", "misc", "misc", "xfer",
                                           "xfer", "card_issue", "misc", "misc", "pay"};
#define NTRAIN ((int64_t)(sizeof TRAIN / sizeof TRAIN[0]))

/* Held out: known words, unknown words (<oov>), new URLs and e-mails, an
 * unseen emoji and CJK pair, an empty and a punctuation-only text. */
static const char *const HELD[] = {
    "alice paid carol", "unknown words only here", "https://other.example/x mail me@x.io",
    "\xE5\x8C\x97\xE4\xBA\xAC \xE4\xB8\x8A\xE6\xB5\xB7 \xF0\x9F\x98\x80\xF0\x9F\x8E\x89",
    "", "?!...", "zeta mid alpha 4111111111111111 strasse CAFE", "hunter2 hunter3 mp4 2025",
};
#define NHELD ((int64_t)(sizeof HELD / sizeof HELD[0]))

/* The stored form of a word, by the formula docs/privacy.md gives:
 * hex(SHA-256(salt || word))[0..32). */
static void doc_hash(const char *salt, const char *w, char out[33])
{
    size_t n = strlen(salt) + strlen(w);
    char *buf = malloc(n + 1), hex[EMBER_SHA256_HEX_LEN + 1];
    ember_error e;
    snprintf(buf, n + 1, "%s%s", salt, w);
    CHECK_OK(ember__sha256_hex(buf, n, hex, &e), &e);
    memcpy(out, hex, 32);
    out[32] = '\0';
    free(buf);
}

static ember_pipeline *fit(const ember_text_options *o, int64_t n, const char *const *texts,
                           const char *const *labels)
{
    ember_pipeline *p = NULL;
    ember_text_dataset *d = NULL;
    ember_error e;
    CHECK_OK(ember_text_dataset_create(&d, n, texts, labels, &e), &e);
    CHECK_OK(ember_pipeline_create(&p, o, &e), &e);
    CHECK_OK(ember_pipeline_fit(p, d, &e), &e);
    ember_text_dataset_destroy(d);
    return p;
}

static ember_ragged *encode(const ember_pipeline *p, int64_t n, const char *const *texts)
{
    ember_text_dataset *d = NULL;
    ember_ragged *r = NULL;
    ember_error e;
    CHECK_OK(ember_text_dataset_create(&d, n, texts, NULL, &e), &e);
    CHECK_OK(ember_pipeline_encode(p, d, &r, NULL, &e), &e);
    ember_text_dataset_destroy(d);
    return r;
}

/* Same offsets and ids; returns how many ids were <oov> (1) so callers can
 * check the comparison covered out-of-vocabulary tokens. */
static int64_t check_same_ids(const ember_ragged *a, const ember_ragged *b, const char *what)
{
    int64_t oov = 0;
    CHECK_MSG(a && b && a->n == b->n, "%s: example counts differ", what);
    if (!a || !b || a->n != b->n)
        return 0;
    for (int64_t i = 0; i <= a->n; i++)
        if (a->offsets[i] != b->offsets[i]) {
            CHECK_MSG(0, "%s: offsets[%lld] %lld vs %lld", what, (long long)i,
                      (long long)a->offsets[i], (long long)b->offsets[i]);
            return 0;
        }
    int64_t bad = -1;
    for (int64_t k = 0; k < a->offsets[a->n]; k++) {
        if (a->ids[k] != b->ids[k] && bad < 0)
            bad = k;
        oov += a->ids[k] == 1;
    }
    CHECK_MSG(bad < 0, "%s: first differing id at %lld: %d (plain) vs %d (hashed)", what,
              (long long)bad, bad < 0 ? 0 : a->ids[bad], bad < 0 ? 0 : b->ids[bad]);
    return oov;
}

static char *to_json(const ember_pipeline *p)
{
    char *j = NULL;
    ember_error e;
    CHECK_OK(ember_pipeline_to_json(p, &j, &e), &e);
    return j;
}

/* The "vocab" array of a pipeline JSON (caller deletes the root). */
static cJSON *vocab_of(const char *json, cJSON **root)
{
    *root = cJSON_Parse(json);
    cJSON *v = *root ? cJSON_GetObjectItemCaseSensitive(*root, "vocab") : NULL;
    CHECK(cJSON_IsArray(v));
    return v;
}

/* Plain vs hashed under options `o`: the same ids on the training and the
 * held-out texts, the same input size, and a hashed JSON that names no word
 * and whose hashes are the documented ones. */
static void check_options(ember_text_options o, const char *what)
{
    o.hash_vocab = 0;
    ember_pipeline *plain = fit(&o, NTRAIN, TRAIN, TRAIN_LABELS);
    o.hash_vocab = 1;
    ember_pipeline *hashed = fit(&o, NTRAIN, TRAIN, TRAIN_LABELS);
    CHECK_MSG(ember_pipeline_input_dim(plain) == ember_pipeline_input_dim(hashed),
              "%s: input_dim %lld vs %lld", what, (long long)ember_pipeline_input_dim(plain),
              (long long)ember_pipeline_input_dim(hashed));
    ember_ragged *a = encode(plain, NHELD, HELD), *b = encode(hashed, NHELD, HELD);
    CHECK_MSG(check_same_ids(a, b, what) > 0, "%s: the held-out set had no <oov> token", what);
    ember_ragged_destroy(a);
    ember_ragged_destroy(b);
    a = encode(plain, NTRAIN, TRAIN);
    b = encode(hashed, NTRAIN, TRAIN);
    check_same_ids(a, b, what);
    ember_ragged_destroy(a);
    ember_ragged_destroy(b);

    char *pj = to_json(plain), *hj = to_json(hashed);
    cJSON *pr = NULL, *hr = NULL;
    cJSON *pv = vocab_of(pj, &pr), *hv = vocab_of(hj, &hr);
    cJSON *salt = hr ? cJSON_GetObjectItemCaseSensitive(hr, "vocab_salt") : NULL;
    CHECK_MSG(cJSON_IsString(salt) && strlen(salt->valuestring) == 32, "%s: vocab_salt", what);
    CHECK(cJSON_GetArraySize(pv) == cJSON_GetArraySize(hv) && cJSON_GetArraySize(pv) > 5);
    CHECK_MSG(strstr(pj, "hash_vocab") == NULL && strstr(pj, "vocab_salt") == NULL,
              "%s: the plain JSON names hash_vocab", what);
    CHECK_MSG(strstr(hj, "\"hash_vocab\":1") != NULL, "%s: no hash_vocab in %s", what, hj);
    /* The salt, by the documented formula: SHA-256 of the prefix, its NUL,
     * then each word with its NUL in id order, first 32 hex digits. */
    ember_sha256 sh;
    ember_error e;
    char salt_hex[EMBER_SHA256_HEX_LEN + 1] = "";
    CHECK_OK(ember__sha256_init(&sh, &e), &e);
    CHECK_OK(ember__sha256_update(&sh, "ember-hash-vocab-salt-v1", 25, &e), &e);
    for (const cJSON *x = pv ? pv->child : NULL; x; x = x->next)
        CHECK_OK(ember__sha256_update(&sh, x->valuestring, strlen(x->valuestring) + 1, &e), &e);
    CHECK_OK(ember__sha256_final(&sh, salt_hex, &e), &e);
    CHECK_MSG(cJSON_IsString(salt) && strncmp(salt->valuestring, salt_hex, 32) == 0,
              "%s: vocab_salt %s, formula gives %.32s", what,
              cJSON_IsString(salt) ? salt->valuestring : "?", salt_hex);
    const cJSON *w = pv ? pv->child : NULL, *h = hv ? hv->child : NULL;
    for (; w && h && cJSON_IsString(salt); w = w->next, h = h->next) {
        char quoted[512], want[33];
        snprintf(quoted, sizeof quoted, "\"%s\"", w->valuestring);
        CHECK_MSG(strstr(hj, quoted) == NULL, "%s: the hashed JSON holds the word %s", what,
                  quoted);
        doc_hash(salt->valuestring, w->valuestring, want);
        CHECK_MSG(strcmp(h->valuestring, want) == 0, "%s: word '%s' stored as %s, formula gives %s",
                  what, w->valuestring, h->valuestring, want);
    }
    /* The sensitive words, anywhere in the text (not only as whole strings). */
    static const char *const secrets[] = {"alice", "4111111111111111", "hunter2", "998877",
                                          "carol", "stra", "\xE5\x8C\x97"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        CHECK_MSG(strstr(hj, secrets[i]) == NULL, "%s: the hashed JSON holds '%s'", what,
                  secrets[i]);
    cJSON_Delete(pr);
    cJSON_Delete(hr);
    free(pj);
    free(hj);
    ember_pipeline_destroy(plain);
    ember_pipeline_destroy(hashed);
}

static void test_same_ids(void)
{
    ember_text_options o = ember_text_options_default();
    CHECK(o.hash_vocab == 0);
    check_options(o, "defaults");
    o.word_ngrams = 3;
    o.char_ngram_min = 2;
    o.char_ngram_max = 4;
    o.buckets = 1000;
    check_options(o, "n-grams");
    o = ember_text_options_default();
    o.min_count = 2;
    o.max_vocab = 6; /* the cut falls inside a run of equal counts */
    o.keep_punctuation = 1;
    check_options(o, "min_count 2, max_vocab 6, punctuation");
    o = ember_text_options_default();
    o.replace_numbers = 1;
    o.casefold = 0;
    o.cjk_bigrams = 0;
    check_options(o, "numbers, no case folding, no bigrams");
}

/* Fit twice, and on the examples in reverse order: the same JSON, salt
 * included (reproducible runs give identical files). */
static void test_deterministic(void)
{
    ember_text_options o = ember_text_options_default();
    o.hash_vocab = 1;
    const char *rt[NTRAIN], *rl[NTRAIN];
    for (int64_t i = 0; i < NTRAIN; i++) {
        rt[i] = TRAIN[NTRAIN - 1 - i];
        rl[i] = TRAIN_LABELS[NTRAIN - 1 - i];
    }
    ember_pipeline *p1 = fit(&o, NTRAIN, TRAIN, TRAIN_LABELS), *p2 = fit(&o, NTRAIN, TRAIN, TRAIN_LABELS),
                   *p3 = fit(&o, NTRAIN, rt, rl);
    char *j1 = to_json(p1), *j2 = to_json(p2), *j3 = to_json(p3);
    CHECK(j1 && j2 && j3 && strcmp(j1, j2) == 0 && strcmp(j1, j3) == 0);
    /* Another vocabulary, another salt. */
    const char *other[] = {"alice paid bob", "nothing else"}, *ol[] = {"a", "b"};
    ember_pipeline *p4 = fit(&o, 2, other, ol);
    char *j4 = to_json(p4);
    cJSON *r1 = cJSON_Parse(j1), *r4 = cJSON_Parse(j4);
    const cJSON *s1 = cJSON_GetObjectItemCaseSensitive(r1, "vocab_salt"),
                *s4 = cJSON_GetObjectItemCaseSensitive(r4, "vocab_salt");
    CHECK(cJSON_IsString(s1) && cJSON_IsString(s4) && strcmp(s1->valuestring, s4->valuestring) != 0);
    cJSON_Delete(r1);
    cJSON_Delete(r4);
    free(j1);
    free(j2);
    free(j3);
    free(j4);
    ember_pipeline_destroy(p1);
    ember_pipeline_destroy(p2);
    ember_pipeline_destroy(p3);
    ember_pipeline_destroy(p4);
}

/* More distinct tokens than an encode call caches (2^18): those past the
 * cache are hashed at each occurrence and must still get the plain ids. */
static void test_many_tokens(void)
{
    enum { TEXTS = 2800, WORDS = 100 }; /* 280,000 distinct tokens, each twice */
    char **texts = malloc(2 * TEXTS * sizeof *texts);
    const char **labels = malloc(2 * TEXTS * sizeof *labels);
    for (int i = 0; i < 2 * TEXTS; i++) {
        texts[i] = malloc(WORDS * 12);
        char *t = texts[i];
        for (int k = 0; k < WORDS; k++)
            t += sprintf(t, "%sw%d", k ? " " : "", (i % TEXTS) * WORDS + k);
        labels[i] = i % 2 ? "odd" : "even";
    }
    ember_text_options o = ember_text_options_default();
    /* Trained on texts 0 .. 1.25 TEXTS: the words of the first quarter are
     * there twice, the rest once and cut by min_count 2. */
    o.min_count = 2;
    ember_pipeline *plain = fit(&o, TEXTS + TEXTS / 4, (const char *const *)texts, labels);
    o.hash_vocab = 1;
    ember_pipeline *hashed = fit(&o, TEXTS + TEXTS / 4, (const char *const *)texts, labels);
    ember_ragged *a = encode(plain, 2 * TEXTS, (const char *const *)texts);
    ember_ragged *b = encode(hashed, 2 * TEXTS, (const char *const *)texts);
    CHECK(check_same_ids(a, b, "280,000 distinct tokens, 70,000 known") > 0);
    CHECK(a && a->ids[0] != 1 && a->ids[a->offsets[a->n] - 1] == 1);
    ember_ragged_destroy(a);
    ember_ragged_destroy(b);
    /* min_count 1: every training word known; the rest <oov> */
    o.min_count = 1;
    o.hash_vocab = 0;
    ember_pipeline_destroy(plain);
    ember_pipeline_destroy(hashed);
    plain = fit(&o, TEXTS / 2, (const char *const *)texts, labels);
    o.hash_vocab = 1;
    hashed = fit(&o, TEXTS / 2, (const char *const *)texts, labels);
    a = encode(plain, 2 * TEXTS, (const char *const *)texts);
    b = encode(hashed, 2 * TEXTS, (const char *const *)texts);
    CHECK(check_same_ids(a, b, "280,000 distinct tokens, 140,000 known") > 0);
    CHECK(a && a->ids[0] != 1 && a->ids[a->offsets[a->n] - 1] == 1);
    ember_ragged_destroy(a);
    ember_ragged_destroy(b);
    ember_pipeline_destroy(plain);
    ember_pipeline_destroy(hashed);
    for (int i = 0; i < 2 * TEXTS; i++)
        free(texts[i]);
    free(texts);
    free(labels);
}

static void test_json(void)
{
    ember_error e;
    ember_text_options o = ember_text_options_default();
    o.hash_vocab = 1;
    o.word_ngrams = 2;
    ember_pipeline *p = fit(&o, NTRAIN, TRAIN, TRAIN_LABELS), *q = NULL;
    char *j = to_json(p), *j2 = NULL;
    CHECK_OK(ember_pipeline_from_json(&q, j ? j : "", &e), &e);
    if (q) {
        j2 = to_json(q);
        CHECK_MSG(j2 && strcmp(j, j2) == 0, "round trip changed the JSON:\n%s\n%s", j, j2);
        ember_ragged *a = encode(p, NHELD, HELD), *b = encode(q, NHELD, HELD);
        check_same_ids(a, b, "after the round trip");
        ember_ragged_destroy(a);
        ember_ragged_destroy(b);
    }
    free(j2);
    ember_pipeline_destroy(q);
    q = NULL;

    /* Written before hash_vocab existed: loads, as hash_vocab 0; and an
     * explicit "hash_vocab":0 is the same. */
#define OPTS                                                                                 \
    "\"nfkc\":1,\"casefold\":1,\"strip_html\":1,\"replace_urls\":1,\"replace_emails\":1,"   \
    "\"replace_numbers\":0,\"strip_email_headers\":0,\"keep_punctuation\":0,"              \
    "\"cjk_bigrams\":1,\"word_ngrams\":1,\"char_ngram_min\":0,\"char_ngram_max\":0,"       \
    "\"buckets\":0,\"min_count\":1,\"max_vocab\":0"
    const char *old = "{\"version\":1,\"options\":{" OPTS "},\"vocab\":[\"alice\",\"bob\"],"
                      "\"labels\":[\"x\",\"y\"],\"buckets\":0}";
    CHECK_OK(ember_pipeline_from_json(&q, old, &e), &e);
    if (q) {
        j2 = to_json(q);
        CHECK_MSG(j2 && strcmp(j2, old) == 0, "old JSON not written back unchanged: %s", j2);
        free(j2);
        const char *t[] = {"bob alice carol"};
        ember_ragged *r = encode(q, 1, t);
        CHECK(r && r->offsets[1] == 3 && r->ids[0] == 3 && r->ids[1] == 2 && r->ids[2] == 1);
        ember_ragged_destroy(r);
    }
    ember_pipeline_destroy(q);
    q = NULL;
    const char *zero = "{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":0},\"vocab\":[\"a\"],"
                       "\"labels\":[],\"buckets\":0}";
    CHECK_OK(ember_pipeline_from_json(&q, zero, &e), &e);
    ember_pipeline_destroy(q);
    q = NULL;

#define SALT "\"vocab_salt\":\"00112233445566778899aabbccddeeff\""
#define H1 "\"0123456789abcdef0123456789abcdef\""
    const char *good = "{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":1},\"vocab\":[" H1
                       "]," SALT ",\"labels\":[],\"buckets\":0}";
    CHECK_OK(ember_pipeline_from_json(&q, good, &e), &e);
    ember_pipeline_destroy(q);
    q = NULL;
    static const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"version\":1,\"options\":{" OPTS "},\"vocab\":[\"a\"]," SALT ",\"labels\":[],"
         "\"buckets\":0}",
         "vocab_salt: present, but options.hash_vocab is 0"},
        {"{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":1},\"vocab\":[" H1 "],"
         "\"labels\":[],\"buckets\":0}",
         "vocab_salt: missing"},
        {"{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":1},\"vocab\":[" H1 ",\"alice\"],"
         SALT ",\"labels\":[],\"buckets\":0}",
         "vocab[1]: expected 32 lowercase hex digits"},
        {"{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":1},\"vocab\":["
         "\"0123456789ABCDEF0123456789abcdef\"]," SALT ",\"labels\":[],\"buckets\":0}",
         "vocab[0]: expected 32 lowercase hex digits"},
        {"{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":1},\"vocab\":[" H1 "],"
         "\"vocab_salt\":\"0011\",\"labels\":[],\"buckets\":0}",
         "vocab_salt: expected a string of 32 lowercase hex digits"},
        {"{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":1},\"vocab\":[" H1 "],"
         "\"vocab_salt\":7,\"labels\":[],\"buckets\":0}",
         "vocab_salt: expected a string"},
        {"{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":2},\"vocab\":[]," SALT
         ",\"labels\":[],\"buckets\":0}",
         "options.hash_vocab: expected 0..1, got 2"},
        {"{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":1},\"vocab\":[" H1 "," H1 "],"
         SALT ",\"labels\":[],\"buckets\":0}",
         "vocab[1]: duplicate word"},
        {"{\"version\":1,\"options\":{" OPTS ",\"hash_vocab\":1},\"vocab\":[]," SALT "," SALT
         ",\"labels\":[],\"buckets\":0}",
         "vocab_salt: duplicate key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(ember_pipeline_from_json(&q, bad[i].json, &e), EMBER_ERR_FORMAT, &e,
                  bad[i].needle);
        CHECK(q == NULL);
    }
#undef OPTS
#undef SALT
#undef H1
    o.hash_vocab = 2;
    CHECK_ERR(ember_pipeline_create(&q, &o, &e), EMBER_ERR_ARG, &e, "hash_vocab: expected 0..1");
    free(j);
    ember_pipeline_destroy(p);
}

/* ember_pipeline_tokens prints the given text's tokens, never vocabulary
 * entries: the same with and without hash_vocab. */
static void test_tokens(void)
{
    ember_text_options o = ember_text_options_default();
    ember_pipeline *plain = fit(&o, NTRAIN, TRAIN, TRAIN_LABELS);
    o.hash_vocab = 1;
    ember_pipeline *hashed = fit(&o, NTRAIN, TRAIN, TRAIN_LABELS);
    ember_error e;
    char *a = NULL, *b = NULL;
    CHECK_OK(ember_pipeline_tokens(plain, "Alice paid https://x.io", &a, &e), &e);
    CHECK_OK(ember_pipeline_tokens(hashed, "Alice paid https://x.io", &b, &e), &e);
    CHECK(a && b && strcmp(a, "alice paid <url>") == 0 && strcmp(a, b) == 0);
    free(a);
    free(b);
    ember_pipeline_destroy(plain);
    ember_pipeline_destroy(hashed);
}

int main(void)
{
    test_same_ids();
    test_deterministic();
    test_many_tokens();
    test_json();
    test_tokens();
    return check_summary("hash_vocab");
}
