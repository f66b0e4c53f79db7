/*
 * test_text_reader.c - ember_text_dataset_load (CSV, TSV, fastText, folder per
 * class, gzip, format detection) and ember_text_dataset_create.
 *
 * Writes its fixtures into a fresh directory under /tmp: good files with the
 * awkward parts of each format (quotes, "" escapes, embedded commas and line
 * breaks, CRLF, a BOM, multi-label lines, gzip), and a bad file for every
 * rejection, each checked for its status, the "path:line:" it names and a
 * distinctive part of the message, with *out left NULL. A 10 MB line must load
 * when valid and fail at the right line when its quote never closes. When the
 * Banking77 CSVs are present they are loaded as a real-data check; otherwise
 * that part prints a skip line. Removes the directory at the end.
 *
 * Not tested here: inputs over the 64 MiB per-example cap (slow under ASan)
 * and I/O errors other than a missing file.
 */
#define _GNU_SOURCE /* memmem */
#include "ember.h"

#include "check.h"
#include "data/text_dataset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifndef BANKING77_DIR /* overridable to exercise the skip path */
#define BANKING77_DIR "/work/shared/datasets/banking77"
#endif
/* Banking77 as published (PolyAI): 10003 training and 3080 test examples of
 * 77 intents; the first training row is "I am still waiting on my card?". */
#define BANKING77_TRAIN_N 10003
#define BANKING77_TEST_N 3080
#define BANKING77_CLASSES 77

/* The long-line fixtures: 10 MB, comfortably over any chunk or buffer size
 * inside the reader, well under its 64 MiB per-example cap. */
#define BIG_LINE_BYTES ((size_t)10 * 1000 * 1000)
#define MAX_FIXTURES 192

/* The temporary directory and every file and folder put in it, removed in
 * reverse order at the end. */
typedef struct fixtures {
    char dir[64];
    char *paths[MAX_FIXTURES];
    int count;
} fixtures;

static fixtures fx;
static ember_error err;

static const char *fx_path(const char *name)
{
    if (fx.count == MAX_FIXTURES)
        return "/nonexistent/too-many-fixtures";
    size_t n = strlen(fx.dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (!p)
        return "/nonexistent/out-of-memory";
    snprintf(p, n, "%s/%s", fx.dir, name);
    fx.paths[fx.count++] = p;
    return p;
}

static void fx_cleanup(void)
{
    for (int i = fx.count - 1; i >= 0; i--) {
        CHECK_MSG(remove(fx.paths[i]) == 0, "cannot remove %s", fx.paths[i]);
        free(fx.paths[i]);
    }
    fx.count = 0;
    CHECK(rmdir(fx.dir) == 0);
}

static const char *write_n(const char *name, const void *p, size_t n)
{
    const char *path = fx_path(name);
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f)
        return path;
    CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    CHECK(fclose(f) == 0);
    return path;
}

static const char *write_s(const char *name, const char *s) { return write_n(name, s, strlen(s)); }

static const char *write_gz(const char *name, const void *p, size_t n)
{
    const char *path = fx_path(name);
    gzFile gz = gzopen(path, "wb");
    CHECK_MSG(gz != NULL, "cannot create %s", path);
    if (!gz)
        return path;
    CHECK(n == 0 || gzwrite(gz, p, (unsigned)n) == (int)n);
    CHECK(gzclose(gz) == Z_OK);
    return path;
}

static const char *make_dir(const char *name)
{
    const char *path = fx_path(name);
    CHECK_MSG(mkdir(path, 0700) == 0, "cannot create folder %s", path);
    return path;
}

static ember_text_read_options opts(ember_text_format f, const char *text, const char *label)
{
    ember_text_read_options o = ember_text_read_options_default();
    o.format = f;
    o.text_column = text;
    o.label_column = label;
    return o;
}

/* Load, expecting success; NULL (after a failed CHECK) otherwise. */
static ember_text_dataset *load(const char *path, ember_text_format f, const char *text,
                                const char *label)
{
    ember_text_read_options o = opts(f, text, label);
    ember_text_dataset *d = NULL;
    memset(&err, 0, sizeof err);
    ember_status s = ember_text_dataset_load(&d, path, &o, &err);
    CHECK_MSG(s == EMBER_OK && d != NULL, "%s: status %d: %s", path, (int)s, err.message);
    return s == EMBER_OK ? d : NULL;
}

/* Example i has text `text` and exactly the one label `label`. */
#define EXPECT(d, i, text, label)                                                          \
    do {                                                                                   \
        const char *t_ = ember_text_dataset_text((d), (i));                                \
        const char *l_ = ember_text_dataset_label((d), (i), 0);                            \
        CHECK_MSG(t_ && strcmp(t_, (text)) == 0, "example %d text \"%s\", want \"%s\"",   \
                  (int)(i), t_ ? t_ : "(null)", (text));                                   \
        CHECK_MSG(ember_text_dataset_label_count((d), (i)) == 1 && l_ &&                   \
                      strcmp(l_, (label)) == 0,                                            \
                  "example %d label \"%s\" (count %d), want \"%s\"", (int)(i),             \
                  l_ ? l_ : "(null)", ember_text_dataset_label_count((d), (i)), (label));  \
    } while (0)

static int sentinel; /* *out starts pointing here so the test sees it reset */

/* The load must fail with `code`, a message containing "path:line:" (line 0:
 * just the path) and `needle`, and *out NULL. */
static void load_fails_(int src_line, const char *path, ember_text_read_options o,
                        ember_status code, long line, const char *needle)
{
    char where[512];
    if (line > 0)
        snprintf(where, sizeof where, "%s:%ld:", path, line);
    else
        snprintf(where, sizeof where, "%s", path);
    ember_text_dataset *d = (ember_text_dataset *)(void *)&sentinel;
    memset(&err, 0, sizeof err);
    ember_status s = ember_text_dataset_load(&d, path, &o, &err);
    CHECK_MSG(s == code && strstr(err.message, where) && strstr(err.message, needle) && !d,
              "(test line %d) status %d (want %d), message \"%s\" (want \"%s\" and \"%s\")",
              src_line, (int)s, (int)code, err.message, where, needle);
    if (s == EMBER_OK && d && d != (ember_text_dataset *)(void *)&sentinel)
        ember_text_dataset_destroy(d);
}
#define LOAD_FAILS(path, o, code, line, needle) load_fails_(__LINE__, path, o, code, line, needle)

static const ember_text_read_options CSV_OPT = {.format = EMBER_TEXT_CSV};
static const ember_text_read_options AUTO_OPT = {.format = EMBER_TEXT_AUTO};

/* ------------------------------------------------------------ good input */

static void test_csv_quoting(void)
{
    const char *p = write_s("quoting.csv",
                            "id,text,label\n"
                            "1,plain text,a\n"
                            "2,\"with, comma\",b\n"
                            "3,\"say \"\"hi\"\" now\",a\n"
                            "4,\"two\nlines\",\"label, with comma\"\n"
                            "5,\"crlf\r\ninside\",b\n"
                            "6,\"\"\"\",c\n"
                            "7,caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80,c\n"
                            "8,\"\",\"not empty: text col is 1\"\n");
    /* Row 8 has an empty text, so it is rejected below; load rows 1-7 from a copy. */
    (void)p;
    const char *q = write_s("quoting_ok.csv",
                            "id,text,label\n"
                            "1,plain text,a\n"
                            "2,\"with, comma\",b\n"
                            "3,\"say \"\"hi\"\" now\",a\n"
                            "4,\"two\nlines\",\"label, with comma\"\n"
                            "5,\"crlf\r\ninside\",b\n"
                            "6,\"\"\"\",c\n"
                            "7,caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80,c");
    ember_text_dataset *d = load(q, EMBER_TEXT_AUTO, NULL, NULL);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 7);
        EXPECT(d, 0, "plain text", "a");
        EXPECT(d, 1, "with, comma", "b");
        EXPECT(d, 2, "say \"hi\" now", "a");
        EXPECT(d, 3, "two\nlines", "label, with comma");
        EXPECT(d, 4, "crlf\r\ninside", "b");
        EXPECT(d, 5, "\"", "c");
        EXPECT(d, 6, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "c");
        /* interned: equal labels are one string */
        CHECK(ember_text_dataset_label(d, 0, 0) == ember_text_dataset_label(d, 2, 0));
        CHECK(ember__text_dataset_class_count(d) == 4);
        /* out of range: NULL / 0, never a clamp */
        CHECK(ember_text_dataset_text(d, 7) == NULL);
        CHECK(ember_text_dataset_text(d, -1) == NULL);
        CHECK(ember_text_dataset_label(d, 0, 1) == NULL);
        CHECK(ember_text_dataset_label_count(d, 7) == 0);
        ember_text_dataset_destroy(d);
    }
    /* The row with the empty quoted text starts on line 11 (rows 4 and 5 span
     * two lines each). */
    LOAD_FAILS(p, CSV_OPT, EMBER_ERR_FORMAT, 11, "column 1 (\"text\"): a label with no text");
}

static void test_csv_crlf_bom_blank_end(void)
{
    const char *p = write_s("crlf.csv", "text,label\r\nhello,a\r\n\"multi\r\nline\",b\r\n");
    ember_text_dataset *d = load(p, EMBER_TEXT_CSV, NULL, NULL);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 2);
        EXPECT(d, 0, "hello", "a");
        EXPECT(d, 1, "multi\r\nline", "b");
        ember_text_dataset_destroy(d);
    }
    /* With the BOM skipped the first column is named "label", so the defaults
     * pick label = 0 and text = 1. Were the BOM kept in the name, no column
     * would be "label", the label would default to the last column, which is
     * the text column, and the load would fail. */
    p = write_s("bom.csv", "\xEF\xBB\xBFlabel,text\nx,first\ny,second\n\n\n");
    d = load(p, EMBER_TEXT_AUTO, NULL, NULL);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 2);
        EXPECT(d, 0, "first", "x");
        EXPECT(d, 1, "second", "y");
        ember_text_dataset_destroy(d);
    }
}

static void test_csv_columns(void)
{
    const char *p = write_s("cols.csv", "id,body,cat,extra\n1,hello,x,e\n2,world,y,e\n");
    ember_text_dataset *d = load(p, EMBER_TEXT_CSV, "body", "cat");
    if (d) {
        EXPECT(d, 0, "hello", "x");
        EXPECT(d, 1, "world", "y");
        ember_text_dataset_destroy(d);
    }
    d = load(p, EMBER_TEXT_CSV, "1", "2"); /* by index */
    if (d) {
        EXPECT(d, 1, "world", "y");
        ember_text_dataset_destroy(d);
    }
    d = load(p, EMBER_TEXT_CSV, "body", NULL); /* label defaults to the last column */
    if (d) {
        EXPECT(d, 0, "hello", "e");
        ember_text_dataset_destroy(d);
    }
    /* defaults without "text"/"label" names: first and last column */
    d = load(p, EMBER_TEXT_CSV, NULL, NULL);
    if (d) {
        EXPECT(d, 0, "1", "e");
        ember_text_dataset_destroy(d);
    }
    /* defaults with the names present, anywhere */
    p = write_s("named.csv", "id,label,text,extra\n1,pos,good film,z\n");
    d = load(p, EMBER_TEXT_CSV, NULL, NULL);
    if (d) {
        EXPECT(d, 0, "good film", "pos");
        ember_text_dataset_destroy(d);
    }
    /* a header name that looks like a number wins over the index */
    p = write_s("numeric.csv", "x,0,y\na,b,c\n");
    d = load(p, EMBER_TEXT_CSV, "0", "x");
    if (d) {
        EXPECT(d, 0, "b", "a");
        ember_text_dataset_destroy(d);
    }
}

static void test_tsv(void)
{
    const char *p = write_s("data.tsv",
                            "label\ttext\n"
                            "a\thello, world\n"
                            "b\t\"quoted\ttab\"\n"
                            "c\t\"\"\"q\"\"\"\r\n");
    ember_text_dataset *d = load(p, EMBER_TEXT_AUTO, NULL, NULL);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 3);
        EXPECT(d, 0, "hello, world", "a");
        EXPECT(d, 1, "quoted\ttab", "b");
        EXPECT(d, 2, "\"q\"", "c");
        ember_text_dataset_destroy(d);
    }
}

/* 10 MB on one line: a pattern with 1- to 4-byte UTF-8 characters, so
 * sequences straddle the reader's chunk boundaries, plus commas and "". */
static char *big_text(size_t *len)
{
    static const char unit[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80, \"\"x ";
    size_t u = sizeof unit - 1;
    size_t reps = BIG_LINE_BYTES / u;
    char *s = malloc(reps * u + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < reps; i++)
        memcpy(s + i * u, unit, u);
    s[reps * u] = '\0';
    *len = reps * u;
    return s;
}

static void test_big_and_gzip(void)
{
    size_t n = 0;
    char *body = big_text(&n);
    CHECK(body != NULL);
    if (!body)
        return;
    /* Quoted: "" stays escaped in the file; the text has one quote per "". */
    size_t cap = n + 256;
    char *file = malloc(cap);
    CHECK(file != NULL);
    if (!file) {
        free(body);
        return;
    }
    size_t used = (size_t)snprintf(file, cap, "text,label\nshort one,s\n\"");
    memcpy(file + used, body, n);
    used += n;
    used += (size_t)snprintf(file + used, cap - used, "\",big\nlast,s\n");
    const char *plain = write_n("big.csv", file, used);
    const char *gz = write_gz("big.csv.gz", file, used);

    /* The expected text: body with each "" turned into ". */
    char *want = malloc(n + 1);
    size_t w = 0;
    for (size_t i = 0; want && i < n; i++) {
        want[w++] = body[i];
        if (body[i] == '"')
            i++;
    }
    if (want)
        want[w] = '\0';

    ember_text_dataset *a = load(plain, EMBER_TEXT_AUTO, NULL, NULL);
    ember_text_dataset *b = load(gz, EMBER_TEXT_AUTO, NULL, NULL);
    if (a && b && want) {
        CHECK(ember_text_dataset_size(a) == 3);
        CHECK(ember_text_dataset_size(b) == 3);
        CHECK(strlen(ember_text_dataset_text(a, 1)) == w);
        CHECK(strcmp(ember_text_dataset_text(a, 1), want) == 0);
        CHECK(strcmp(ember_text_dataset_label(a, 1, 0), "big") == 0);
        EXPECT(a, 2, "last", "s");
        for (int64_t i = 0; i < 3; i++) {
            CHECK(strcmp(ember_text_dataset_text(a, i), ember_text_dataset_text(b, i)) == 0);
            CHECK(strcmp(ember_text_dataset_label(a, i, 0), ember_text_dataset_label(b, i, 0)) ==
                  0);
        }
    }
    ember_text_dataset_destroy(a);
    ember_text_dataset_destroy(b);

    /* The same 10 MB line, its quote never closed: the error names line 3,
     * where the quoted field starts, not line 5 where the file ends. */
    used = (size_t)snprintf(file, cap, "text,label\nshort one,s\n\"");
    memcpy(file + used, body, n);
    used += n;
    used += (size_t)snprintf(file + used, cap - used, ",big\nlast,s\n");
    const char *unbal = write_n("big_unbalanced.csv", file, used);
    LOAD_FAILS(unbal, AUTO_OPT, EMBER_ERR_FORMAT, 3, "unbalanced quote");
    const char *unbal_gz = write_gz("big_unbalanced.csv.gz", file, used);
    LOAD_FAILS(unbal_gz, AUTO_OPT, EMBER_ERR_FORMAT, 3, "unbalanced quote");

    /* A truncated gzip stream is an error, not a short data set. */
    struct stat st;
    if (stat(gz, &st) == 0) {
        FILE *f = fopen(gz, "rb");
        size_t half = (size_t)st.st_size / 2;
        char *bytes = malloc(half);
        if (f && bytes && fread(bytes, 1, half, f) == half) {
            const char *cut = write_n("truncated.csv.gz", bytes, half);
            LOAD_FAILS(cut, AUTO_OPT, EMBER_ERR_FORMAT, 0, "gzip stream is truncated or corrupt");
        }
        free(bytes);
        if (f)
            fclose(f);
    }
    free(want);
    free(file);
    free(body);
}

static void test_fasttext(void)
{
    const char *p = write_s("ft.txt",
                            "__label__a __label__b  hello world\n"
                            "\n"
                            "   \t\n"
                            "__label__c\tsecond line \r\n"
                            "  __label__d third __label__e\n"
                            "__label__a last without newline");
    ember_text_dataset *d = load(p, EMBER_TEXT_AUTO, NULL, NULL);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 4);
        CHECK(ember_text_dataset_label_count(d, 0) == 2);
        CHECK(strcmp(ember_text_dataset_text(d, 0), "hello world") == 0);
        CHECK(strcmp(ember_text_dataset_label(d, 0, 0), "a") == 0);
        CHECK(strcmp(ember_text_dataset_label(d, 0, 1), "b") == 0);
        EXPECT(d, 1, "second line ", "c");
        EXPECT(d, 2, "third __label__e", "d");
        EXPECT(d, 3, "last without newline", "a");
        ember_text_dataset_destroy(d);
    }
    /* gzip, detected from the first line through zlib */
    static const char ft[] = "__label__x one\n__label__y two\n";
    p = write_gz("ft.txt.gz", ft, sizeof ft - 1);
    d = load(p, EMBER_TEXT_AUTO, NULL, NULL);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 2);
        EXPECT(d, 1, "two", "y");
        ember_text_dataset_destroy(d);
    }
}

static void test_folder(void)
{
    const char *root = make_dir("folder");
    make_dir("folder/b_class");
    make_dir("folder/a_class");
    make_dir("folder/.hidden_class");
    write_s("folder/.hidden_class/x.txt", "never read");
    write_s("folder/README", "a file at the top is not a class");
    write_s("folder/a_class/2.txt", "second\nwith two lines\n");
    write_s("folder/a_class/1.txt", "first");
    write_s("folder/a_class/.DS_Store", "hidden");
    make_dir("folder/a_class/nested");
    write_s("folder/a_class/nested/deep.txt", "not read: no recursion");
    static const char gz[] = "compressed\ntext";
    write_gz("folder/b_class/x.txt.gz", gz, sizeof gz - 1);
    ember_text_dataset *d = load(root, EMBER_TEXT_AUTO, NULL, NULL);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 3);
        EXPECT(d, 0, "first", "a_class");
        EXPECT(d, 1, "second\nwith two lines\n", "a_class");
        EXPECT(d, 2, "compressed\ntext", "b_class");
        ember_text_dataset_destroy(d);
    }
    d = load(root, EMBER_TEXT_FOLDER, NULL, NULL);
    CHECK(d && ember_text_dataset_size(d) == 3);
    ember_text_dataset_destroy(d);
}

static void test_create(void)
{
    char a[] = "hello";
    const char *texts[] = {a, "w\xC3\xB6rld", ""};
    const char *labels[] = {"x", "y", "x"};
    ember_text_dataset *d = NULL;
    CHECK_OK(ember_text_dataset_create(&d, 3, texts, labels, &err), &err);
    a[0] = 'J'; /* copied, so the data set does not see this */
    if (d) {
        CHECK(ember_text_dataset_size(d) == 3);
        EXPECT(d, 0, "hello", "x");
        EXPECT(d, 1, "w\xC3\xB6rld", "y");
        EXPECT(d, 2, "", "x");
        ember_text_dataset_destroy(d);
    }
    d = NULL;
    CHECK_OK(ember_text_dataset_create(&d, 2, texts, NULL, &err), &err);
    if (d) {
        CHECK(ember_text_dataset_label_count(d, 0) == 0);
        CHECK(ember_text_dataset_label(d, 0, 0) == NULL);
        CHECK(strcmp(ember_text_dataset_text(d, 1), "w\xC3\xB6rld") == 0);
        ember_text_dataset_destroy(d);
    }
    d = NULL;
    CHECK_OK(ember_text_dataset_create(&d, 0, NULL, NULL, &err), &err);
    CHECK(d && ember_text_dataset_size(d) == 0);
    ember_text_dataset_destroy(d);

    const char *bad_utf8[] = {"ok", "bad \xED\xA0\x80 surrogate"};
    d = (ember_text_dataset *)(void *)&sentinel;
    CHECK_ERR(ember_text_dataset_create(&d, 2, bad_utf8, NULL, &err), EMBER_ERR_FORMAT, &err,
              "texts[1]: invalid UTF-8 at byte 4");
    CHECK(d == NULL);
    const char *null_text[] = {"ok", NULL};
    CHECK_ERR(ember_text_dataset_create(&d, 2, null_text, NULL, &err), EMBER_ERR_ARG, &err,
              "texts[1] is NULL");
    const char *empty_label[] = {"x", ""};
    CHECK_ERR(ember_text_dataset_create(&d, 2, texts, empty_label, &err), EMBER_ERR_ARG, &err,
              "labels[1] is empty");
    CHECK_ERR(ember_text_dataset_create(&d, -1, texts, NULL, &err), EMBER_ERR_ARG, &err,
              "n is -1");
    CHECK_ERR(ember_text_dataset_create(NULL, 1, texts, NULL, &err), EMBER_ERR_ARG, &err,
              "out is NULL");
    ember_text_dataset_destroy(NULL);
    CHECK(ember_text_dataset_size(NULL) == 0);
}

/* ------------------------------------------------------------- bad input */

static void test_bad_csv(void)
{
    const char *p = write_s("empty.csv", "");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 1, "file is empty");
    p = write_s("header_only.csv", "text,label\n\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 1, "header only");
    p = write_s("header_only_no_newline.csv", "text,label");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 1, "header only");
    p = write_s("blank_first.csv", "\ntext,label\na,b\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 1, "line 1 is blank");

    p = write_s("cols_bad.csv", "text,label\na,b\n");
    LOAD_FAILS(p, opts(EMBER_TEXT_CSV, "body", NULL), EMBER_ERR_FORMAT, 1,
               "no text column named \"body\"; the header has 2 columns: \"text\", \"label\"");
    LOAD_FAILS(p, opts(EMBER_TEXT_CSV, NULL, "category"), EMBER_ERR_FORMAT, 1,
               "no label column named \"category\"");
    LOAD_FAILS(p, opts(EMBER_TEXT_CSV, "5", NULL), EMBER_ERR_FORMAT, 1,
               "text column index 5 is out of range: the header has 2 columns (0..1): \"text\"");
    LOAD_FAILS(p, opts(EMBER_TEXT_CSV, "label", NULL), EMBER_ERR_FORMAT, 1,
               "text and label are both column 1 (\"label\")");
    p = write_s("one_col.csv", "words\nhello\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 1, "both column 0");

    p = write_s("unbalanced.csv", "text,label\nok,a\n\"never closed,b\nmore,c\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "column 0 (\"text\"): unbalanced quote");
    p = write_s("unbalanced_label.csv", "text,label\nok,a\nx,\"b\n\nmore,c\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "column 1 (\"label\"): unbalanced quote");

    p = write_s("no_text.csv", "text,label\nok,a\n,b\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "a label with no text");
    p = write_s("blank_text.csv", "text,label\nok,a\n\"  \",b\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "a label with no text");
    p = write_s("no_label.csv", "text,label\nok,\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2, "column 1 (\"label\"): label is empty");
    /* A record over lines 2-3 is reported at its first line. */
    p = write_s("no_label_multiline.csv", "text,label\n\"line one\nline two\",\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2, "label is empty");

    p = write_s("few.csv", "a,text,label\n1,2,3\n\"x\ny\",5\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "row has 2 fields but the header has 3");
    p = write_s("many.csv", "text,label\na,b,c,d\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2,
               "row has 4 fields but the header has 2 (quote fields that contain a comma)");
    p = write_s("mid_quote.csv", "text,label\nok,a\nab\"c,x\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "column 0 (\"text\"): a quote inside an unquoted field");
    p = write_s("after_quote.csv", "text,label\n\"ab\"c,x\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2, "text after the closing quote");
    p = write_s("blank_mid.csv", "text,label\na,b\n\nc,d\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "blank line between rows");
    p = write_s("lone_cr.csv", "text,label\na\rb,c\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2, "carriage return not followed by a line feed");

    static const char nul[] = "text,label\nok,a\nab\0c,x\n";
    p = write_n("nul.csv", nul, sizeof nul - 1);
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "column 0 (\"text\"): NUL byte at byte 3");

    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.csv", fx.dir);
    LOAD_FAILS(missing, AUTO_OPT, EMBER_ERR_IO, 0, "cannot open");
}

/* Strict UTF-8: each bad sequence at byte 4 of line 3 (after "ab "). */
static void test_bad_utf8(void)
{
    static const struct {
        const char *bytes;
        const char *why;
    } bad[] = {
        {"\xC0\xAF", "overlong 2-byte"},     {"\xE0\x80\xAF", "overlong 3-byte"},
        {"\xF0\x80\x80\xAF", "overlong 4"},  {"\xED\xA0\x80", "surrogate U+D800"},
        {"\xED\xBF\xBF", "surrogate U+DFFF"}, {"\xF4\x90\x80\x80", "above U+10FFFF"},
        {"\xF5\x80\x80\x80", "lead F5"},     {"\xFF", "byte FF"},
        {"\x80", "lone continuation"},        {"\xC3", "truncated by the comma"},
        {"\xE2\x82", "truncated 3-byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64], body[128];
        snprintf(name, sizeof name, "utf8_%zu.csv", i);
        snprintf(body, sizeof body, "text,label\nok,a\nab %s,x\n", bad[i].bytes);
        const char *p = write_s(name, body);
        LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3,
                   "column 0 (\"text\"): invalid UTF-8 at byte 4 of the line");
        (void)bad[i].why;
    }
    /* A sequence cut by the end of the file, and one in the label column. */
    const char *p = write_s("utf8_eof.csv", "text,label\nok,a\nx,\xE2\x82");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "column 1 (\"label\"): invalid UTF-8 at byte 3");
    /* The edges of the valid ranges load. */
    p = write_s("utf8_edges.csv", "text,label\n"
                                  "\xC2\x80 \xDF\xBF \xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 "
                                  "\xEF\xBF\xBF \xF0\x90\x80\x80 \xF4\x8F\xBF\xBF,ok\n");
    ember_text_dataset *d = load(p, EMBER_TEXT_AUTO, NULL, NULL);
    CHECK(d && ember_text_dataset_size(d) == 1);
    ember_text_dataset_destroy(d);
}

static void test_bad_fasttext(void)
{
    const char *p = write_s("ft_no_text.txt", "__label__a hi\n__label__b   \n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2, "a label with no text");
    p = write_s("ft_no_label.txt", "__label__a hi\n\njust text\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 3, "no label");
    p = write_s("ft_bare.txt", "__label__a hi\n__label__ text\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2, "label is empty");
    p = write_s("ft_blank.ft", "\n\n");
    LOAD_FAILS(p, opts(EMBER_TEXT_FASTTEXT, NULL, NULL), EMBER_ERR_FORMAT, 0,
               "no examples: the file has only blank lines");
    p = write_s("ft_empty.ft", "");
    LOAD_FAILS(p, opts(EMBER_TEXT_FASTTEXT, NULL, NULL), EMBER_ERR_FORMAT, 1, "file is empty");
    p = write_s("ft_utf8.txt", "__label__a ok\n__label__b caf\xC3(\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2, "invalid UTF-8 at byte 15 of the line");
    /* detection */
    p = write_s("notes.txt", "hello\n__label__a x\n");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 1, "cannot detect the format");
    p = write_s("empty.txt", "");
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 1, "file is empty");
    /* column options make no sense for fastText */
    p = write_s("ft_cols.txt", "__label__a hi\n");
    LOAD_FAILS(p, opts(EMBER_TEXT_AUTO, "text", NULL), EMBER_ERR_ARG, 0,
               "text_column and label_column apply to CSV and TSV only");
}

static void test_bad_folder(void)
{
    const char *root = make_dir("f_empty_class");
    make_dir("f_empty_class/a");
    write_s("f_empty_class/a/1.txt", "text");
    const char *b = make_dir("f_empty_class/b");
    write_s("f_empty_class/b/.hidden", "hidden only");
    LOAD_FAILS(root, AUTO_OPT, EMBER_ERR_FORMAT, 0, "class folder has no files");
    LOAD_FAILS(root, AUTO_OPT, EMBER_ERR_FORMAT, 0, b);

    root = make_dir("f_empty_file");
    make_dir("f_empty_file/a");
    const char *f = write_s("f_empty_file/a/empty.txt", "");
    LOAD_FAILS(root, AUTO_OPT, EMBER_ERR_FORMAT, 0, "file is empty");
    LOAD_FAILS(root, AUTO_OPT, EMBER_ERR_FORMAT, 0, f);

    root = make_dir("f_utf8");
    make_dir("f_utf8/a");
    f = write_s("f_utf8/a/bad.txt", "line one\nbad \xC0\xAF here\n");
    LOAD_FAILS(root, AUTO_OPT, EMBER_ERR_FORMAT, 0, "invalid UTF-8 at byte 5 of the line");
    char where[512];
    snprintf(where, sizeof where, "%s:2:", f);
    LOAD_FAILS(root, AUTO_OPT, EMBER_ERR_FORMAT, 0, where);

    root = make_dir("f_no_classes");
    write_s("f_no_classes/loose.txt", "no class folder");
    LOAD_FAILS(root, AUTO_OPT, EMBER_ERR_FORMAT, 0, "no class sub-folders");

    const char *file = write_s("not_a_folder.txt", "__label__a x\n");
    LOAD_FAILS(file, opts(EMBER_TEXT_FOLDER, NULL, NULL), EMBER_ERR_ARG, 0, "not a folder");
    LOAD_FAILS(root, CSV_OPT, EMBER_ERR_IO, 0, "is a folder");
}

/* ------------------------------------------------------- skip_bad_lines */

/* Load with skip_bad_lines, expecting success; NULL otherwise. */
static ember_text_dataset *load_skip(const char *path, ember_text_format f)
{
    ember_text_read_options o = opts(f, NULL, NULL);
    o.skip_bad_lines = 1;
    ember_text_dataset *d = NULL;
    memset(&err, 0, sizeof err);
    snprintf(err.message, sizeof err.message, "untouched");
    ember_status s = ember_text_dataset_load(&d, path, &o, &err);
    CHECK_MSG(s == EMBER_OK && d != NULL, "%s: status %d: %s", path, (int)s, err.message);
    CHECK_MSG(s != EMBER_OK || strcmp(err.message, "untouched") == 0,
              "a successful load changed the ember_error: \"%s\"", err.message);
    return s == EMBER_OK ? d : NULL;
}

/* Skipped message i of d contains "path:line:" (line 0: just the path) and needle. */
static void skipped_is_(int src_line, const ember_text_dataset *d, int i, const char *path,
                        long line, const char *needle)
{
    char where[512];
    if (line > 0)
        snprintf(where, sizeof where, "%s:%ld:", path, line);
    else
        snprintf(where, sizeof where, "%s", path);
    const char *m = ember_text_dataset_skipped_message(d, i);
    CHECK_MSG(m && strstr(m, where) && strstr(m, needle),
              "(test line %d) skipped message %d is \"%s\" (want \"%s\" and \"%s\")", src_line,
              i, m ? m : "(none)", where, needle);
}
#define SKIPPED_IS(d, i, path, line, needle) skipped_is_(__LINE__, d, i, path, line, needle)

static void test_skip_csv(void)
{
    /* every kind of bad row, each between good ones; a bad byte inside a
     * quoted field that spans lines takes the whole record (lines 4-5) */
    const char *p = write_s("skip.csv",
                            "text,label\n"                 /* 1 */
                            "good one,a\n"                 /* 2 */
                            "x,y,z\n"                      /* 3 field count */
                            "\"bad \xFF\nquoted\",a\n"       /* 4-5 bad byte in a quoted field */
                            "good two,b\n"                 /* 6 */
                            ",a\n"                         /* 7 no text */
                            "no label,\n"                  /* 8 empty label */
                            "say \"hi\",a\n"                 /* 9 quote inside unquoted field */
                            "\"q\"x,a\n"                     /* 10 text after closing quote */
                            "lone\rcr,a\n"                 /* 11 CR without LF */
                            "nul \\0,a\n"                  /* 12 placeholder for a NUL (below) */
                            "good three,c\n"               /* 13 */
                            "\n\n"                          /* 14-15 blank lines between rows */
                            "\xC0\xAF,new_label\n"          /* 16 bad byte: its label is not added */
                            "good four,a\n");              /* 17 */
    /* put a real NUL on line 12 */
    {
        FILE *f = fopen(p, "r+b");
        CHECK(f != NULL);
        if (f) {
            char buf[512];
            size_t n = fread(buf, 1, sizeof buf, f);
            char *at = memmem(buf, n, "\\0", 2);
            CHECK(at != NULL);
            if (at) {
                fseek(f, (long)(at - buf), SEEK_SET);
                fputc('\0', f);
            }
            fclose(f);
        }
    }
    LOAD_FAILS(p, CSV_OPT, EMBER_ERR_FORMAT, 3, "row has 3 fields but the header has 2");
    ember_text_dataset *d = load_skip(p, EMBER_TEXT_CSV);
    if (!d)
        return;
    CHECK_MSG(ember_text_dataset_size(d) == 4, "%lld examples", (long long)ember_text_dataset_size(d));
    EXPECT(d, 0, "good one", "a");
    EXPECT(d, 1, "good two", "b");
    EXPECT(d, 2, "good three", "c");
    EXPECT(d, 3, "good four", "a");
    CHECK_MSG(ember_text_dataset_skipped(d) == 11, "skipped %lld",
              (long long)ember_text_dataset_skipped(d));
    CHECK(ember__text_dataset_class_count(d) == 3); /* "new_label" never added */
    SKIPPED_IS(d, 0, p, 3, "row has 3 fields");
    SKIPPED_IS(d, 1, p, 4, "invalid UTF-8 at byte 6 of the line");
    SKIPPED_IS(d, 2, p, 7, "a label with no text");
    SKIPPED_IS(d, 3, p, 8, "label is empty");
    SKIPPED_IS(d, 4, p, 9, "a quote inside an unquoted field");
    CHECK(ember_text_dataset_skipped_message(d, EMBER_TEXT_SKIPPED_SHOWN) == NULL);
    char where[600];
    snprintf(where, sizeof where, "%s:17", p);
    char buf[600];
    CHECK(strcmp(ember_text_dataset_where(d, 3, buf, sizeof buf), where) == 0);
    CHECK(strcmp(ember_text_dataset_where(d, 4, buf, sizeof buf), "") == 0);
    ember_text_dataset_destroy(d);

    /* not skippable: the header, an unbalanced quote, every row bad */
    ember_text_read_options o = CSV_OPT;
    o.skip_bad_lines = 1;
    p = write_s("skip_header.csv", "te\xFFxt,label\nok,a\n");
    LOAD_FAILS(p, o, EMBER_ERR_FORMAT, 1, "invalid UTF-8");
    p = write_s("skip_quote.csv", "text,label\nok,a\n\"never closed,a\nmore,b\n");
    LOAD_FAILS(p, o, EMBER_ERR_FORMAT, 3, "cannot be skipped");
    p = write_s("skip_all.csv", "text,label\n,a\nx,\n");
    LOAD_FAILS(p, o, EMBER_ERR_FORMAT, 0, "no examples left: all 2 rows skipped as bad");
    p = write_gz("skip_trunc.csv.gz", "text,label\nok,a\n", 16);
    {
        /* cut the gzip stream in the middle */
        FILE *f = fopen(p, "rb");
        unsigned char buf[256];
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        f = fopen(p, "wb");
        if (f) {
            fwrite(buf, 1, n / 2, f);
            fclose(f);
        }
    }
    LOAD_FAILS(p, o, EMBER_ERR_FORMAT, 0, "gzip stream is truncated or corrupt");
}

static void test_skip_fasttext_folder(void)
{
    const char *p = write_s("skip.txt",
                            "__label__a good one\n"           /* 1 */
                            "__label__new \xFF bad\n"         /* 2: label never added */
                            "__label__ bare\n"                 /* 3 */
                            "no label here\n"                  /* 4 */
                            "__label__b\n"                     /* 5 label, no text */
                            "\n"                               /* 6 blank: fine */
                            "__label__b good two\r\n");       /* 7 */
    LOAD_FAILS(p, AUTO_OPT, EMBER_ERR_FORMAT, 2, "invalid UTF-8");
    ember_text_dataset *d = load_skip(p, EMBER_TEXT_AUTO);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 2);
        EXPECT(d, 0, "good one", "a");
        EXPECT(d, 1, "good two", "b");
        CHECK(ember_text_dataset_skipped(d) == 4);
        CHECK(ember__text_dataset_class_count(d) == 2);
        SKIPPED_IS(d, 0, p, 2, "invalid UTF-8 at byte 14 of the line");
        SKIPPED_IS(d, 1, p, 3, "label is empty");
        SKIPPED_IS(d, 2, p, 4, "no label");
        SKIPPED_IS(d, 3, p, 5, "a label with no text");
        char where[600], buf[600];
        snprintf(where, sizeof where, "%s:7", p);
        CHECK(strcmp(ember_text_dataset_where(d, 1, buf, sizeof buf), where) == 0);
        ember_text_dataset_destroy(d);
    }

    const char *root = make_dir("skip_folder");
    make_dir("skip_folder/a");
    make_dir("skip_folder/b");
    write_s("skip_folder/a/1.txt", "fine text");
    const char *empty = write_s("skip_folder/a/2.txt", "");
    const char *bad = write_s("skip_folder/b/1.txt", "one\ntwo \xC3( three\n");
    write_s("skip_folder/b/2.txt", "more fine text");
    const char *blank = write_s("skip_folder/b/3.txt", " \n\t");
    LOAD_FAILS(root, AUTO_OPT, EMBER_ERR_FORMAT, 0, "file is empty");
    d = load_skip(root, EMBER_TEXT_AUTO);
    if (d) {
        CHECK(ember_text_dataset_size(d) == 2);
        EXPECT(d, 0, "fine text", "a");
        EXPECT(d, 1, "more fine text", "b");
        CHECK(ember_text_dataset_skipped(d) == 3);
        SKIPPED_IS(d, 0, empty, 0, "file is empty");
        SKIPPED_IS(d, 1, bad, 2, "invalid UTF-8 at byte 5 of the line");
        SKIPPED_IS(d, 2, blank, 0, "only whitespace");
        char buf[600];
        CHECK(strstr(ember_text_dataset_where(d, 1, buf, sizeof buf), "skip_folder/b/2.txt"));
        ember_text_dataset_destroy(d);
    }
}

/* ------------------------------------------------------------- real data */

static void test_banking77(void)
{
    const char *train = BANKING77_DIR "/train.csv";
    const char *test = BANKING77_DIR "/test.csv";
    if (access(train, R_OK) != 0 || access(test, R_OK) != 0) {
        printf("text_reader: skip Banking77 check: %s not found\n", train);
        return;
    }
    ember_text_dataset *d = load(train, EMBER_TEXT_AUTO, NULL, NULL);
    if (d) {
        CHECK(ember_text_dataset_size(d) == BANKING77_TRAIN_N);
        const char *first = ember_text_dataset_text(d, 0);
        CHECK(first && strncmp(first, "I am still waiting on my card?", 30) == 0);
        CHECK(strcmp(ember_text_dataset_label(d, 0, 0), "card_arrival") == 0);
        /* distinct labels through the public API only */
        const char *seen[BANKING77_CLASSES + 1];
        int nseen = 0;
        int64_t not_one_label = 0;
        for (int64_t i = 0; i < ember_text_dataset_size(d); i++) {
            const char *l = ember_text_dataset_label(d, i, 0);
            if (ember_text_dataset_label_count(d, i) != 1 || !l) {
                not_one_label++;
                continue;
            }
            int k = 0;
            while (k < nseen && strcmp(seen[k], l) != 0)
                k++;
            if (k == nseen && nseen <= BANKING77_CLASSES)
                seen[nseen++] = l;
        }
        CHECK_MSG(not_one_label == 0, "%lld examples without exactly one label",
                  (long long)not_one_label);
        CHECK_MSG(nseen == BANKING77_CLASSES, "%d distinct labels", nseen);
        CHECK(ember__text_dataset_class_count(d) == BANKING77_CLASSES);
        ember_text_dataset_destroy(d);
    }
    d = load(test, EMBER_TEXT_CSV, "text", "category");
    CHECK(d && ember_text_dataset_size(d) == BANKING77_TEST_N);
    ember_text_dataset_destroy(d);
}

int main(void)
{
    snprintf(fx.dir, sizeof fx.dir, "/tmp/ember_text_XXXXXX");
    if (!mkdtemp(fx.dir)) {
        fprintf(stderr, "test_text_reader: cannot create a temporary directory\n");
        return 1;
    }
    CHECK(ember_text_read_options_default().format == EMBER_TEXT_AUTO);
    test_csv_quoting();
    test_csv_crlf_bom_blank_end();
    test_csv_columns();
    test_tsv();
    test_big_and_gzip();
    test_fasttext();
    test_folder();
    test_create();
    test_bad_csv();
    test_bad_utf8();
    test_bad_fasttext();
    test_bad_folder();
    test_skip_csv();
    test_skip_fasttext_folder();
    test_banking77();
    fx_cleanup();
    return check_summary("text_reader");
}
