/*
 * test_text_pipeline.c - cleaning, tokenising, hashing, vocabulary, labels,
 * encoding and the JSON form of ember_pipeline, on small hand-written cases
 * whose expected tokens are written out in full. Times fit + encode on
 * Banking77 when ../shared/datasets has it (printed, never failed on), and on
 * a synthetic e-mail-like corpus of 5,000 messages of ~600 tokens.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "data/text.h"
#include "ember.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ember_pipeline *make(const ember_text_options *o)
{
    ember_pipeline *p = NULL;
    ember_error e;
    CHECK_OK(ember_pipeline_create(&p, o, &e), &e);
    return p;
}

static ember_text_dataset *dataset(int64_t n, const char *const *texts, const char *const *labels)
{
    ember_text_dataset *d = NULL;
    ember_error e;
    CHECK_OK(ember_text_dataset_create(&d, n, texts, labels, &e), &e);
    return d;
}

#define CHECK_TOKENS(p, text, want)                                                        \
    do {                                                                                   \
        char *got_ = NULL;                                                                 \
        ember_error e_;                                                                    \
        CHECK_OK(ember_pipeline_tokens((p), (text), &got_, &e_), &e_);                     \
        CHECK_MSG(got_ && strcmp(got_, (want)) == 0, "tokens of \"%s\": got \"%s\", want \"%s\"", \
                  (text), got_ ? got_ : "(null)", (want));                                 \
        free(got_);                                                                        \
    } while (0)

/* ------------------------------------------------------------- cleaning */

static void test_html(void)
{
    char out[256];
    const char *in = "Tom &amp; Jerry &lt;3 &#65;&#x42;&#x43 &nbsp; &bogus; &#0; &#150; a < b";
    size_t n = ember__text_strip_html(out, in, strlen(in));
    out[n] = '\0';
    CHECK_MSG(strcmp(out, "Tom & Jerry <3 ABC \xC2\xA0 &bogus; \xEF\xBF\xBD \xE2\x80\x93 a < b") == 0,
              "got \"%s\"", out);
    in = "x<br>y<a href=\"t>q\">link</a><!-- hidden <b> -->z<script type=x>var a = '<p>';"
         "</SCRIPT>w<style>p { }</style>v";
    n = ember__text_strip_html(out, in, strlen(in));
    out[n] = '\0';
    CHECK_MSG(strcmp(out, "x y link  z w v") == 0, "got \"%s\"", out);

    in = "&#x110000; &#xD800; &#99999999999999999999; &#; &#x; &amp &AMP; &lt";
    n = ember__text_strip_html(out, in, strlen(in));
    out[n] = '\0';
    CHECK_MSG(strcmp(out, "\xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD &#; &#x; &amp &AMP; &lt") == 0,
              "got \"%s\"", out);
    in = "<!DOCTYPE html><?xml v?>a<!- x <1> </ b> <b";
    n = ember__text_strip_html(out, in, strlen(in));
    out[n] = '\0';
    CHECK_MSG(strcmp(out, "  a<!- x <1> </ b> <b") == 0, "got \"%s\"", out);

    ember_text_options o = ember_text_options_default();
    ember_pipeline *p = make(&o);
    CHECK_TOKENS(p, "<p>Hello <b>World</b></p>", "hello world");
    CHECK_TOKENS(p, "caf&eacute; &amp; cr&egrave;me", "café crème");
    CHECK_TOKENS(p, "<script>alert(1)</script><style>.a{}</style>text", "text");
    ember_pipeline_destroy(p);
    o.strip_html = 0;
    p = make(&o);
    CHECK_TOKENS(p, "<b>bold</b> &amp;", "b bold b amp");
    ember_pipeline_destroy(p);
}

static void test_url_email_numbers(void)
{
    ember_text_options o = ember_text_options_default();
    ember_pipeline *p = make(&o);
    CHECK_TOKENS(p, "Visit https://example.com/a?b=1. Now", "visit <url> now");
    CHECK_TOKENS(p, "see (www.Example.org/x) or HTTP://X.IO", "see <url> or <url>");
    CHECK_TOKENS(p, "wwwx.com http:// www.", "wwwx com http www");
    CHECK_TOKENS(p, "mail John.Doe+tag@Example.co.uk, please", "mail <email> please");
    CHECK_TOKENS(p, "mailto:a@b.cd x@y z@host.c1 @x.com", "mailto <email> x y z host c1 x com");
    CHECK_TOKENS(p, "room 101 mp3", "room 101 mp3");
    CHECK_TOKENS(p, "http://user@host.com/x www.a@b.cd", "<url> <email>");
    CHECK_TOKENS(p, "访问www.example.com获取", "访 问 #访问 <url> 获 取 #获取");
    CHECK_TOKENS(p, "a@b.cd@e.fg", "<email> e fg");
    ember_pipeline_destroy(p);
    o.replace_numbers = 1;
    o.replace_urls = 0;
    o.replace_emails = 0;
    p = make(&o);
    CHECK_TOKENS(p, "room 101, mp3 3.14 ٣", "room <num> mp<num> <num> <num> <num>");
    CHECK_TOKENS(p, "www.a.com b@c.de", "www a com b c de");
    ember_pipeline_destroy(p);
}

static void test_headers(void)
{
    ember_text_options o = ember_text_options_default();
    o.strip_email_headers = 1;
    ember_pipeline *p = make(&o);
    CHECK_TOKENS(p, "From: a@b.cd\nSubject: hi there\n  continued\r\n\r\nBody text", "body text");
    CHECK_TOKENS(p, "From 123@x  Mon Aug 22\nX-Spam: yes\n\nthe body", "the body");
    CHECK_TOKENS(p, "Note: keep me\nno blank line", "note keep me no blank line");
    CHECK_TOKENS(p, "plain text\n\nSubject: x", "plain text subject x");
    CHECK_TOKENS(p, " indented: no\n\nbody", "indented no body");
    ember_pipeline_destroy(p);
    o.strip_email_headers = 0;
    p = make(&o);
    CHECK_TOKENS(p, "Subject: hi\n\nbody", "subject hi body");
    ember_pipeline_destroy(p);
}

static void test_unicode(void)
{
    ember_text_options o = ember_text_options_default();
    ember_pipeline *p = make(&o);
    CHECK_TOKENS(p, "\xEF\xAC\x81ne", "fine");                   /* U+FB01 ligature fi */
    CHECK_TOKENS(p, "\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3", "abc"); /* full-width ABC */
    CHECK_TOKENS(p, "STRASSE Stra\xC3\x9F" "e", "strasse strasse");
    CHECK_TOKENS(p, "\xC3\x89L\xC3\x88VE", "élève");
    CHECK_TOKENS(p, "e\xCC\x81t\xC3\xA9", "été"); /* combining accent composes */
    ember_pipeline_destroy(p);
    o.nfkc = 0;
    o.casefold = 0;
    p = make(&o);
    CHECK_TOKENS(p, "\xEF\xBC\xA1\xEF\xBC\xA2 Stra\xC3\x9F" "e", "\xEF\xBC\xA1\xEF\xBC\xA2 Stra\xC3\x9F" "e");
    ember_pipeline_destroy(p);
    o.casefold = 1;
    p = make(&o);
    /* case folding alone keeps full-width letters full-width, superscripts up */
    CHECK_TOKENS(p, "\xEF\xBC\xA1\xEF\xBC\xA2 X\xC2\xB2", "\xEF\xBD\x81\xEF\xBD\x82 x\xC2\xB2");
    ember_pipeline_destroy(p);
}

static void test_invalid_utf8(void)
{
    char out[64];
    const char *in = "a\xC0\xAF" "b\xED\xA0\x80" "c\xF0\x9F\x98";
    size_t n = ember__text_fix_utf8(out, in, strlen(in));
    out[n] = '\0';
    /* overlong: 2 bad bytes, 2 x U+FFFD; surrogate: 3; truncated 4-byte: 1 */
    CHECK_MSG(strcmp(out, "a\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                          "c\xEF\xBF\xBD") == 0,
              "got \"%s\"", out);
    ember_text_options o = ember_text_options_default();
    ember_pipeline *p = make(&o);
    CHECK_TOKENS(p, "ab\xFF\xFE" "cd \xE4\xB8", "ab \xEF\xBF\xBD \xEF\xBF\xBD cd \xEF\xBF\xBD");
    CHECK_TOKENS(p, "\x80\x80\x80", "\xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD");
    ember_pipeline_destroy(p);
}

/* --------------------------------------------------------- tokenisation */

static void test_tokens(void)
{
    ember_text_options o = ember_text_options_default();
    ember_pipeline *p = make(&o);
    CHECK_TOKENS(p, "Hello, world! It's 2024... (really?)", "hello world it s 2024 really");
    CHECK_TOKENS(p, "", "");
    CHECK_TOKENS(p, " \t\n!?", "");
    CHECK_TOKENS(p, "soft\xC2\xADhyphen zero\xE2\x80\x8Bwidth", "softhyphen zero width");
    /* Chinese: characters, and a bigram after each pair */
    CHECK_TOKENS(p, "我爱北京天安门",
                 "我 爱 #我爱 北 #爱北 京 #北京 天 #京天 安 #天安 门 #安门");
    /* Japanese: kanji, hiragana, katakana alike; the middle dot separates */
    CHECK_TOKENS(p, "東京に行く・カメラ",
                 "東 京 #東京 に #京に 行 #に行 く #行く カ メ #カメ ラ #メラ");
    /* Korean: syllables and bigrams inside each space-separated word */
    CHECK_TOKENS(p, "안녕 세계", "안 녕 #안녕 세 계 #세계");
    /* mixed scripts; CJK punctuation separates and breaks bigrams */
    CHECK_TOKENS(p, "I love 北京 2024", "i love 北 京 #北京 2024");
    CHECK_TOKENS(p, "北京。上海abc东", "北 京 #北京 上 海 #上海 abc 东");
    /* emoji are tokens; skin tones and variation selectors go */
    CHECK_TOKENS(p, "great\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD movie \xE2\x9D\xA4\xEF\xB8\x8F!!",
                 "great \xF0\x9F\x91\x8D movie \xE2\x9D\xA4");
    ember_pipeline_destroy(p);

    o.keep_punctuation = 1;
    o.cjk_bigrams = 0;
    p = make(&o);
    CHECK_TOKENS(p, "Hello, world! It's $5 <3", "hello , world ! it ' s $ 5 < 3");
    CHECK_TOKENS(p, "see http://a.io/x, ok", "see <url> , ok");
    CHECK_TOKENS(p, "我爱北京。", "我 爱 北 京 。");
    ember_pipeline_destroy(p);

    o = ember_text_options_default();
    o.buckets = 0; /* no hashed items at all */
    o.word_ngrams = 3;
    o.char_ngram_min = 2;
    o.char_ngram_max = 4;
    p = make(&o);
    CHECK_TOKENS(p, "我爱 good movie", "我 爱 good movie");
    ember_pipeline_destroy(p);
}

static void test_char_ngrams(void)
{
    ember_text_options o = ember_text_options_default();
    o.char_ngram_min = 3;
    o.char_ngram_max = 3;
    ember_pipeline *p = make(&o);
    CHECK_TOKENS(p, "where", "where #<wh #whe #her #ere #re>");
    CHECK_TOKENS(p, "a", "a #<a>");
    CHECK_TOKENS(p, "été", "été #<ét #été #té>"); /* code points, not bytes */
    CHECK_TOKENS(p, "http://x.io 北", "<url> 北");  /* not for placeholders or CJK */
    ember_pipeline_destroy(p);
    o.char_ngram_min = 1;
    o.char_ngram_max = 2;
    p = make(&o);
    CHECK_TOKENS(p, "ab", "ab #<a #a #ab #b #b>");
    ember_pipeline_destroy(p);
}

static void test_word_ngrams(void)
{
    ember_text_options o = ember_text_options_default();
    o.word_ngrams = 3;
    o.buckets = 1000;
    ember_pipeline *p = make(&o);
    CHECK_TOKENS(p, "a good movie", "a good #a_good movie #good_movie #a_good_movie");
    const char *texts[] = {"a good movie", "good movie b", "movie good"};
    const char *labels[] = {"x", "y", "x"};
    ember_text_dataset *d = dataset(3, texts, labels);
    ember_error e;
    ember_ragged *r = NULL;
    CHECK_OK(ember_pipeline_fit(p, d, &e), &e);
    CHECK_OK(ember_pipeline_encode(p, d, &r, NULL, &e), &e);
    int64_t V = 4; /* a b good movie */
    CHECK(ember_pipeline_input_dim(p) == 2 + V + 1000);
    if (r) {
        CHECK(r->n == 3 && r->offsets[0] == 0 && r->offsets[1] == 6 && r->offsets[2] == 12 &&
              r->offsets[3] == 15);
        for (int64_t k = 0; k < r->offsets[3]; k++)
            CHECK(r->ids[k] >= 2 && r->ids[k] < 2 + V + 1000);
        /* "good movie" is item 4 of text 0 and item 2 of text 1 */
        CHECK(r->ids[4] == r->ids[6 + 2] && r->ids[4] >= 2 + V);
        /* "movie good" is another bigram (order matters) */
        CHECK(r->ids[12 + 2] != r->ids[4]);
        /* words by count, then bytes: good 2, movie 3 (3 each), a 4, b 5 (1 each) */
        CHECK(r->ids[1] == 2 && r->ids[3] == 3 && r->ids[0] == 4 && r->ids[9] == 5);
    }
    ember_ragged_destroy(r);
    ember_text_dataset_destroy(d);
    ember_pipeline_destroy(p);

    /* Known hash values: pin the FNV-1a definition so ids never drift. */
    CHECK(ember__fnv1a64("", 0) == UINT64_C(0xcbf29ce484222325));
    CHECK(ember__fnv1a64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    CHECK(ember__fnv1a64("foobar", 6) == UINT64_C(0x85944171f73967e8));
}

/* ----------------------------------------------------------- vocabulary */

/* Buckets are kept exactly when something is hashed into them. */
static void test_bucket_sizing(void)
{
    ember_error e;
    const char *en[] = {"good movie", "bad movie"}, *zh[] = {"我爱北京", "good"};
    const char *labels[] = {"pos", "neg"};
    ember_text_dataset *den = dataset(2, en, labels), *dzh = dataset(2, zh, labels);
    ember_text_options o = ember_text_options_default();
    o.buckets = 1000;
    ember_pipeline *p = make(&o);
    CHECK_OK(ember_pipeline_fit(p, den, &e), &e);
    CHECK(ember_pipeline_input_dim(p) == 2 + 3); /* words only: no buckets */
    ember_pipeline_destroy(p);
    o.word_ngrams = 2;
    p = make(&o);
    CHECK_OK(ember_pipeline_fit(p, den, &e), &e);
    CHECK(ember_pipeline_input_dim(p) == 2 + 3 + 1000); /* bigrams need them */
    ember_pipeline_destroy(p);
    o.word_ngrams = 1;
    p = make(&o);
    CHECK_OK(ember_pipeline_fit(p, dzh, &e), &e);
    CHECK(ember_pipeline_input_dim(p) == 2 + 5 + 1000); /* 我 爱 北 京 good + CJK bigrams */
    ember_pipeline_destroy(p);
    ember_text_dataset_destroy(den);
    ember_text_dataset_destroy(dzh);
}

static void test_vocab(void)
{
    const char *texts[] = {"a a a b b c", "b c d", "e"};
    const char *labels[] = {"pos", "neg", "neutral"};
    ember_text_dataset *d = dataset(3, texts, labels);
    ember_text_options o = ember_text_options_default();
    o.min_count = 2;
    ember_pipeline *p = make(&o);
    ember_error e;
    ember_ragged *r = NULL;
    ember_tensor *y = NULL;
    CHECK_OK(ember_pipeline_fit(p, d, &e), &e);
    /* counts: a 3, b 3, c 2, d 1, e 1 -> a=2, b=3, c=4; d, e -> <oov>.
     * Nothing is hashed here (no n-grams, no CJK), so fit drops the buckets. */
    CHECK(ember_pipeline_input_dim(p) == 2 + 3);
    CHECK_OK(ember_pipeline_encode(p, d, &r, &y, &e), &e);
    if (r && y) {
        const int32_t want[] = {2, 2, 2, 3, 3, 4, 3, 4, 1, 1};
        CHECK(r->offsets[3] == 10 && memcmp(r->ids, want, sizeof want) == 0);
        CHECK(y->ndim == 1 && y->shape[0] == 3);
        /* labels sorted by bytes: neg 0, neutral 1, pos 2 */
        CHECK(y->data[0] == 2.0f && y->data[1] == 0.0f && y->data[2] == 1.0f);
    }
    ember_ragged_destroy(r);
    ember_tensor_destroy(y);
    CHECK(ember_pipeline_class_count(p) == 3);
    CHECK(strcmp(ember_pipeline_class_name(p, 0), "neg") == 0);
    CHECK(strcmp(ember_pipeline_class_name(p, 1), "neutral") == 0);
    CHECK(strcmp(ember_pipeline_class_name(p, 2), "pos") == 0);
    CHECK(ember_pipeline_class_name(p, 3) == NULL && ember_pipeline_class_name(p, -1) == NULL);
    CHECK(ember_pipeline_class_id(p, "pos") == 2 && ember_pipeline_class_id(p, "xyz") == -1);
    ember_pipeline_destroy(p);

    /* max_vocab keeps the most frequent; ties by byte order (a before b) */
    o.min_count = 1;
    o.max_vocab = 1;
    p = make(&o);
    CHECK_OK(ember_pipeline_fit(p, d, &e), &e);
    CHECK(ember_pipeline_input_dim(p) == 2 + 1);
    r = NULL;
    CHECK_OK(ember_pipeline_encode(p, d, &r, NULL, &e), &e);
    if (r) {
        const int32_t want[] = {2, 2, 2, 1, 1, 1, 1, 1, 1, 1};
        CHECK(r->offsets[3] == 10 && memcmp(r->ids, want, sizeof want) == 0);
    }
    ember_ragged_destroy(r);
    ember_pipeline_destroy(p);

    /* order is deterministic: a permuted corpus gives the same JSON */
    const char *texts2[] = {"e", "b c d", "a a a b b c"};
    ember_text_dataset *d2 = dataset(3, texts2, labels);
    o.max_vocab = 0;
    ember_pipeline *p1 = make(&o), *p2 = make(&o);
    char *j1 = NULL, *j2 = NULL;
    CHECK_OK(ember_pipeline_fit(p1, d, &e), &e);
    CHECK_OK(ember_pipeline_fit(p2, d2, &e), &e);
    CHECK_OK(ember_pipeline_to_json(p1, &j1, &e), &e);
    CHECK_OK(ember_pipeline_to_json(p2, &j2, &e), &e);
    CHECK(j1 && j2 && strcmp(j1, j2) == 0);
    CHECK(j1 && strstr(j1, "\"vocab\":[\"a\",\"b\",\"c\",\"d\",\"e\"]") != NULL);
    CHECK(j1 && strstr(j1, "\"labels\":[\"neg\",\"neutral\",\"pos\"]") != NULL);
    free(j1);
    free(j2);
    ember_pipeline_destroy(p1);
    ember_pipeline_destroy(p2);
    ember_text_dataset_destroy(d2);
    ember_text_dataset_destroy(d);
}

static void test_encode_errors(void)
{
    const char *texts[] = {"one", "two", "!!!", ""};
    const char *labels[] = {"a", "b", "a", "b"};
    const char *other[] = {"a", "xyz", "a", "b"};
    ember_text_dataset *d = dataset(4, texts, labels), *bad = dataset(4, texts, other);
    ember_text_dataset *unl = dataset(4, texts, NULL);
    ember_pipeline *p = make(NULL);
    ember_error e;
    ember_ragged *r = NULL;
    ember_tensor *y = NULL;
    CHECK_ERR(ember_pipeline_encode(p, d, &r, NULL, &e), EMBER_ERR_STATE, &e, "not fitted");
    CHECK_ERR(ember_pipeline_to_json(p, &(char *){NULL}, &e), EMBER_ERR_STATE, &e, "not fitted");
    CHECK_OK(ember_pipeline_fit(p, d, &e), &e);
    CHECK_ERR(ember_pipeline_encode(p, bad, &r, &y, &e), EMBER_ERR_FORMAT, &e,
              "example 1: label 'xyz' was not in the training data");
    CHECK(r == NULL && y == NULL);
    CHECK_ERR(ember_pipeline_encode(p, unl, &r, &y, &e), EMBER_ERR_FORMAT, &e, "example 0: no label");
    /* unlabelled data encodes fine without labels; empty bags get <oov> */
    CHECK_OK(ember_pipeline_encode(p, unl, &r, NULL, &e), &e);
    if (r) {
        CHECK(r->offsets[4] == 4 && r->ids[2] == 1 && r->ids[3] == 1);
        CHECK(r->ids[0] >= 2 && r->ids[1] >= 2);
    }
    ember_ragged_destroy(r);
    CHECK_ERR(ember_pipeline_fit(p, NULL, &e), EMBER_ERR_ARG, &e, "NULL");
    ember_text_dataset *empty = dataset(0, NULL, NULL);
    CHECK_ERR(ember_pipeline_fit(p, empty, &e), EMBER_ERR_ARG, &e, "empty");
    /* encoding an empty set gives empty outputs */
    CHECK_OK(ember_pipeline_encode(p, empty, &r, &y, &e), &e);
    CHECK(r && r->n == 0 && r->offsets[0] == 0 && y && y->shape[0] == 0);
    ember_ragged_destroy(r);
    ember_tensor_destroy(y);
    r = NULL;
    y = NULL;
    ember_text_dataset_destroy(empty);

    /* dropping unknown labels (ember test --skip-bad-lines): order kept,
     * each counted with encode's message; nothing left is an error */
    int64_t removed = -1;
    CHECK_ERR(ember_text_dataset_drop_unknown_labels(unl, p, &removed, &e), EMBER_ERR_FORMAT, &e,
              "no examples left: the labels of all 4");
    CHECK(ember_text_dataset_size(unl) == 4 && removed == -1);
    CHECK_OK(ember_text_dataset_drop_unknown_labels(bad, p, &removed, &e), &e);
    CHECK(removed == 1 && ember_text_dataset_size(bad) == 3 && ember_text_dataset_skipped(bad) == 1);
    CHECK(strcmp(ember_text_dataset_text(bad, 0), "one") == 0 &&
          strcmp(ember_text_dataset_text(bad, 1), "!!!") == 0 &&
          strcmp(ember_text_dataset_label(bad, 2, 0), "b") == 0);
    const char *m = ember_text_dataset_skipped_message(bad, 0);
    CHECK(m && strcmp(m, "example 1: label 'xyz' was not in the training data") == 0);
    CHECK_OK(ember_pipeline_encode(p, bad, &r, &y, &e), &e);
    CHECK(y && y->shape[0] == 3 && y->data[0] == 0.0f && y->data[2] == 1.0f);
    ember_ragged_destroy(r);
    ember_tensor_destroy(y);
    r = NULL;
    y = NULL;

    /* a file names the line: "FILE:LINE: label ... (example N)" */
    char path[] = "/tmp/ember_pipe_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        static const char ft[] = "__label__a one\n\n__label__zz two\n";
        CHECK(write(fd, ft, sizeof ft - 1) == (ssize_t)(sizeof ft - 1));
        close(fd);
        ember_text_read_options ro = ember_text_read_options_default();
        ro.format = EMBER_TEXT_FASTTEXT;
        ember_text_dataset *fd_set = NULL;
        CHECK_OK(ember_text_dataset_load(&fd_set, path, &ro, &e), &e);
        char want[128];
        snprintf(want, sizeof want, "%s:3: label 'zz' was not in the training data (example 1)",
                 path);
        CHECK_ERR(ember_pipeline_encode(p, fd_set, &r, &y, &e), EMBER_ERR_FORMAT, &e, want);
        CHECK_OK(ember_text_dataset_drop_unknown_labels(fd_set, p, NULL, &e), &e);
        m = ember_text_dataset_skipped_message(fd_set, 0);
        CHECK(m && strcmp(m, want) == 0);
        ember_text_dataset_destroy(fd_set);
        unlink(path);
    }
    ember_pipeline_destroy(p);
    ember_text_dataset_destroy(d);
    ember_text_dataset_destroy(bad);
    ember_text_dataset_destroy(unl);

    /* ids must fit int32: a failed fit leaves the pipeline as it was */
    ember_text_options o = ember_text_options_default();
    o.buckets = INT32_MAX - 1;
    p = make(&o);
    d = dataset(4, texts, labels);
    CHECK_ERR(ember_pipeline_fit(p, d, &e), EMBER_ERR_ARG, &e, "exceed");
    CHECK_ERR(ember_pipeline_encode(p, d, &r, NULL, &e), EMBER_ERR_STATE, &e, "not fitted");
    ember_text_dataset_destroy(d);
    ember_pipeline_destroy(p);

    o.buckets = -1;
    CHECK_ERR(ember_pipeline_create(&p, &o, &e), EMBER_ERR_ARG, &e, "buckets: expected 0..");
    o = ember_text_options_default();
    o.word_ngrams = 0;
    CHECK_ERR(ember_pipeline_create(&p, &o, &e), EMBER_ERR_ARG, &e, "word_ngrams");
    o = ember_text_options_default();
    o.nfkc = 2;
    CHECK_ERR(ember_pipeline_create(&p, &o, &e), EMBER_ERR_ARG, &e, "nfkc: expected 0..1, got 2");
    o = ember_text_options_default();
    o.char_ngram_min = 4;
    o.char_ngram_max = 3;
    CHECK_ERR(ember_pipeline_create(&p, &o, &e), EMBER_ERR_ARG, &e, "char_ngram_min");
    o.char_ngram_min = 0;
    CHECK_ERR(ember_pipeline_create(&p, &o, &e), EMBER_ERR_ARG, &e, "char_ngram_min");
    o = ember_text_options_default();
    o.min_count = 0;
    CHECK_ERR(ember_pipeline_create(&p, &o, &e), EMBER_ERR_ARG, &e, "min_count");
}

/* ----------------------------------------------------------------- JSON */

static int same_encoding(const ember_ragged *a, const ember_ragged *b)
{
    return a && b && a->n == b->n &&
           memcmp(a->offsets, b->offsets, (size_t)(a->n + 1) * sizeof(int64_t)) == 0 &&
           memcmp(a->ids, b->ids, (size_t)a->offsets[a->n] * sizeof(int32_t)) == 0;
}

static void test_json(void)
{
    const char *texts[] = {"The café was GREAT!! 👍 http://x.io", "我爱北京天安门, really",
                           "<b>bad</b> service &amp; rude staff", "mail a@b.cd re: 42 items",
                           "great great service"};
    const char *labels[] = {"pos", "pos", "neg", "neutral", "pos"};
    ember_text_dataset *d = dataset(5, texts, labels);
    ember_text_options o = ember_text_options_default();
    o.word_ngrams = 2;
    o.char_ngram_min = 3;
    o.char_ngram_max = 5;
    o.buckets = 1000;
    o.keep_punctuation = 1;
    o.replace_numbers = 1;
    ember_pipeline *p = make(&o), *q = NULL;
    ember_error e;
    char *j = NULL, *j2 = NULL;
    ember_ragged *r1 = NULL, *r2 = NULL;
    ember_tensor *y1 = NULL, *y2 = NULL;
    CHECK_OK(ember_pipeline_fit(p, d, &e), &e);
    CHECK_OK(ember_pipeline_to_json(p, &j, &e), &e);
    CHECK_OK(ember_pipeline_from_json(&q, j ? j : "", &e), &e);
    if (q) {
        CHECK_OK(ember_pipeline_encode(p, d, &r1, &y1, &e), &e);
        CHECK_OK(ember_pipeline_encode(q, d, &r2, &y2, &e), &e);
        CHECK(same_encoding(r1, r2));
        CHECK(y1 && y2 && memcmp(y1->data, y2->data, 5 * sizeof(float)) == 0);
        CHECK(ember_pipeline_input_dim(p) == ember_pipeline_input_dim(q));
        CHECK_OK(ember_pipeline_to_json(q, &j2, &e), &e);
        CHECK(j && j2 && strcmp(j, j2) == 0);
    }
    const char *head = "{\"version\":1,\"options\":{\"nfkc\":1,";
    CHECK(j && strncmp(j, head, strlen(head)) == 0);
    free(j);
    free(j2);
    ember_ragged_destroy(r1);
    ember_ragged_destroy(r2);
    ember_tensor_destroy(y1);
    ember_tensor_destroy(y2);
    ember_pipeline_destroy(q);
    ember_pipeline_destroy(p);
    ember_text_dataset_destroy(d);

#define OPTS                                                                                 \
    "\"nfkc\":1,\"casefold\":1,\"strip_html\":1,\"replace_urls\":1,\"replace_emails\":1,"   \
    "\"replace_numbers\":0,\"strip_email_headers\":0,\"keep_punctuation\":0,"              \
    "\"cjk_bigrams\":1,\"word_ngrams\":1,\"char_ngram_min\":0,\"char_ngram_max\":0,"       \
    "\"min_count\":1,\"max_vocab\":0,"
    const char *good = "{\"version\":1,\"options\":{" OPTS "\"buckets\":10},"
                       "\"vocab\":[\"a\",\"b\"],\"labels\":[\"x\",\"y\"],\"buckets\":10}";
    q = NULL;
    CHECK_OK(ember_pipeline_from_json(&q, good, &e), &e);
    CHECK(ember_pipeline_input_dim(q) == 2 + 2 + 10 && ember_pipeline_class_count(q) == 2);
    ember_pipeline_destroy(q);
    static const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[],\"labels\":[],"
         "\"buckets\":10,\"extra\":1}",
         "extra: unknown key"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10,\"lowercase\":1},\"vocab\":[],"
         "\"labels\":[],\"buckets\":10}",
         "options.lowercase: unknown key"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":\"10\"},\"vocab\":[],\"labels\":[],"
         "\"buckets\":10}",
         "options.buckets: expected an integer, got a string"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":-5},\"vocab\":[],\"labels\":[],"
         "\"buckets\":-5}",
         "options.buckets: expected 0.."},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":1.5},\"vocab\":[],\"labels\":[],"
         "\"buckets\":1.5}",
         "options.buckets: expected an integer"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10,\"nfkc\":0},\"vocab\":[],"
         "\"labels\":[],\"buckets\":10}",
         "options.nfkc: duplicate key"},
        {"{\"version\":1,\"options\":{\"nfkc\":1},\"vocab\":[],\"labels\":[],\"buckets\":10}",
         "options.casefold: missing"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[\"a\",\"b\",\"a\"],"
         "\"labels\":[],\"buckets\":10}",
         "vocab[2]: duplicate word 'a'"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[\"a\",3],"
         "\"labels\":[],\"buckets\":10}",
         "vocab[1]: expected a string, got a number"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[\"\"],"
         "\"labels\":[],\"buckets\":10}",
         "vocab[0]: empty word"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":{},"
         "\"labels\":[],\"buckets\":10}",
         "vocab: expected an array, got an object"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[],"
         "\"labels\":[\"y\",\"x\"],\"buckets\":10}",
         "labels[1]: 'x' does not come after 'y'"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[],"
         "\"labels\":[\"x\",\"x\"],\"buckets\":10}",
         "labels[1]: 'x' does not come after 'x'"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[],\"labels\":[],"
         "\"buckets\":11}",
         "buckets: 11 differs from options.buckets 10"},
        {"{\"version\":2,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[],\"labels\":[],"
         "\"buckets\":10}",
         "version: 2 is not supported"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10},\"vocab\":[],\"labels\":[]}",
         "buckets: missing"},
        {"{\"version\":1,\"options\":[],\"vocab\":[],\"labels\":[],\"buckets\":10}",
         "options: expected an object, got an array"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10,\"word_ngrams\":0},"
         "\"vocab\":[],\"labels\":[],\"buckets\":10}",
         "options.word_ngrams: duplicate key"},
        {"{\"version\":1,\"options\":{" OPTS "\"buckets\":10}} trailing", "syntax error at byte"},
        {"[1,2]", "expected an object, got an array"},
        {"", "syntax error at byte 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q = NULL;
        CHECK_ERR(ember_pipeline_from_json(&q, bad[i].json, &e), EMBER_ERR_FORMAT, &e,
                  bad[i].needle);
        CHECK(q == NULL);
    }
    /* a value out of range for the option (char n-gram pair inconsistent) */
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"version\":1,\"options\":{\"nfkc\":1,\"casefold\":1,\"strip_html\":1,"
             "\"replace_urls\":1,\"replace_emails\":1,\"replace_numbers\":0,"
             "\"strip_email_headers\":0,\"keep_punctuation\":0,\"cjk_bigrams\":1,"
             "\"word_ngrams\":1,\"char_ngram_min\":5,\"char_ngram_max\":3,\"min_count\":1,"
             "\"max_vocab\":0,\"buckets\":10},\"vocab\":[],\"labels\":[],\"buckets\":10}");
    CHECK_ERR(ember_pipeline_from_json(&q, buf, &e), EMBER_ERR_FORMAT, &e,
              "options.char_ngram_min..char_ngram_max");
#undef OPTS
}

/* Inputs built to make a careless scanner quadratic or overrun: each is
 * 64 KiB of one pattern; they must simply finish (ctest's timeout guards). */
static void test_pathological(void)
{
    static const char *const pats[] = {"<!", "<a x='", "&#", "&", "a@", "@a.", "http://",
                                       "www.", "<script>", "<!--", "x.y@", "\xE4\xB8", "\xF0",
                                       "1", "\xCC\x81", "From: x\n"};
    ember_text_options o = ember_text_options_default();
    o.replace_numbers = 1;
    o.strip_email_headers = 1;
    o.keep_punctuation = 1;
    o.word_ngrams = 3;
    o.char_ngram_min = 1;
    o.char_ngram_max = 3;
    ember_pipeline *p = make(&o);
    enum { BYTES = 64 * 1024 };
    char *text = malloc(BYTES + 16);
    double t0 = ember__now();
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        size_t m = strlen(pats[k]), n = 0;
        while (n + m <= BYTES) {
            memcpy(text + n, pats[k], m);
            n += m;
        }
        text[n] = '\0';
        char *got = NULL;
        ember_error e;
        CHECK_OK(ember_pipeline_tokens(p, text, &got, &e), &e);
        free(got);
    }
    printf("pathological inputs: %zu x 64 KiB in %.0f ms\n", sizeof pats / sizeof pats[0],
           1e3 * (ember__now() - t0));
    free(text);
    ember_pipeline_destroy(p);

    ember_error e;
    char *got = NULL;
    CHECK_ERR(ember_pipeline_tokens(NULL, "x", &got, &e), EMBER_ERR_ARG, &e, "NULL");
    CHECK_ERR(ember_pipeline_tokens(p = make(NULL), NULL, &got, &e), EMBER_ERR_ARG, &e, "NULL");
    ember_pipeline_destroy(p);
    ember_pipeline_destroy(NULL);
    ember_ragged_destroy(NULL);
}

/* ---------------------------------------------------------------- timing */

static void time_banking77(void)
{
#ifdef EMBER_TEST_DIR
    const char *path = EMBER_TEST_DIR "/../../shared/datasets/banking77/train.csv";
#else
    const char *path = "../shared/datasets/banking77/train.csv";
#endif
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("banking77: %s not found, timing skipped\n", path);
        return;
    }
    fclose(f);
    ember_text_dataset *d = NULL;
    ember_error e;
    ember_text_read_options ro = ember_text_read_options_default();
    if (ember_text_dataset_load(&d, path, &ro, &e) != EMBER_OK) {
        printf("banking77: load failed (%s), timing skipped\n", e.message);
        return;
    }
    ember_pipeline *p = make(NULL);
    ember_ragged *r = NULL;
    ember_tensor *y = NULL;
    double t0 = ember__now();
    CHECK_OK(ember_pipeline_fit(p, d, &e), &e);
    double t1 = ember__now();
    CHECK_OK(ember_pipeline_encode(p, d, &r, &y, &e), &e);
    double t2 = ember__now();
    if (r && y) {
        CHECK(ember_pipeline_class_count(p) == 77);
        printf("banking77: %lld texts, vocab %lld, %lld ids; fit %.1f ms, encode %.1f ms\n",
               (long long)r->n, (long long)(ember_pipeline_input_dim(p) - 2),
               (long long)r->offsets[r->n], 1e3 * (t1 - t0), 1e3 * (t2 - t1));
    }
    ember_ragged_destroy(r);
    ember_tensor_destroy(y);
    ember_pipeline_destroy(p);
    ember_text_dataset_destroy(d);
}

/* 5,000 e-mail-like messages of ~600 tokens: headers, HTML, URLs, numbers. */
static void time_mail_like(void)
{
    enum { N = 5000, WORDS = 600 };
    static const char *const words[] = {
        "the", "money", "free", "offer", "Click", "here", "meeting", "tomorrow", "report",
        "<b>", "</b>", "&amp;", "http://spam.example.com/x?id=3", "jo@example.org", "2002",
        "re:", "project", "café", "naïve", "<a href=\"http://x.io\">", "</a>", "list,", "unsubscribe.",
        "Internet", "deal!!", "you", "we", "are", "please", "reply", "thanks", "1234"};
    size_t nw = sizeof words / sizeof words[0];
    char **texts = malloc(N * sizeof *texts);
    const char **labels = malloc(N * sizeof *labels);
    uint64_t x = 42;
    for (int i = 0; i < N; i++) {
        char *t = malloc(WORDS * 40 + 200), *w = t;
        w += sprintf(w, "From: someone@example.com\nSubject: message %d\n\n", i);
        for (int k = 0; k < WORDS; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            w += sprintf(w, "%s ", words[(x >> 33) % nw]);
        }
        texts[i] = t;
        labels[i] = (i % 3) ? "ham" : "spam";
    }
    ember_text_dataset *d = NULL;
    ember_error e;
    CHECK_OK(ember_text_dataset_create(&d, N, (const char *const *)texts, labels, &e), &e);
    ember_text_options o = ember_text_options_default();
    o.strip_email_headers = 1;
    o.replace_numbers = 1;
    if (d) {
        ember_pipeline *p = make(&o);
        ember_ragged *r = NULL;
        double t0 = ember__now();
        CHECK_OK(ember_pipeline_fit(p, d, &e), &e);
        double t1 = ember__now();
        CHECK_OK(ember_pipeline_encode(p, d, &r, NULL, &e), &e);
        double t2 = ember__now();
        if (r)
            printf("mail-like: %d texts, %lld ids; fit %.1f ms, encode %.1f ms\n", N,
                   (long long)r->offsets[r->n], 1e3 * (t1 - t0), 1e3 * (t2 - t1));
        ember_ragged_destroy(r);
        ember_pipeline_destroy(p);
    }
    ember_text_dataset_destroy(d);
    for (int i = 0; i < N; i++)
        free(texts[i]);
    free(texts);
    free(labels);
}

int main(void)
{
    test_html();
    test_url_email_numbers();
    test_headers();
    test_unicode();
    test_invalid_utf8();
    test_tokens();
    test_char_ngrams();
    test_word_ngrams();
    test_bucket_sizing();
    test_vocab();
    test_encode_errors();
    test_json();
    test_pathological();
    time_banking77();
    time_mail_like();
    return check_summary("text_pipeline");
}
