/*
 * test_fuzz_findings.c - what the libFuzzer harnesses (fuzz/) found, and
 * what writing them showed, one case each, with the status and the message
 * the input must now get. The fuzzers' inputs also sit in
 * fuzz/regressions/<harness>/, which ctest replays through the harnesses
 * (fuzz_<harness>); here each case is built from a valid file so the
 * message can be checked exactly.
 *
 * Not here: the harnesses' own checks (fuzz/fuzz_*.c) and per-parser bad
 * input tests (test_text_reader.c, test_image_data.c, ...).
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"
#include "io/hash.h"
#include "io/safetensors.h"
#include "serve/serve.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <stb_image_write.h>

static char dir[] = "/tmp/ember-fuzz-findings-XXXXXX";
/* dir/name; four buffers in turn, so two paths can be used together. */
static const char *fx(const char *name)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        abort();
}

/* A CSV whose first row has an empty text field: text_reader.c computed
 * NULL + 0 (the text arena was still empty), undefined behaviour that UBSan
 * reports. Now the same refusal as for any empty text. */
static void csv_first_text_empty(void)
{
    ember_error err;
    ember_text_dataset *d = NULL;
    static const char csv[] = "text,label\n,spam\nhello,ham\n";
    write_bytes(fx("empty_first.csv"), csv, sizeof csv - 1);
    CHECK_ERR(ember_text_dataset_load(&d, fx("empty_first.csv"), NULL, &err), EMBER_ERR_FORMAT,
              &err, "empty_first.csv:2: column 0 (\"text\"): a label with no text");
    CHECK(d == NULL);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n);
    if (!b || fread(b, 1, *n, f) != *n)
        abort();
    fclose(f);
    return b;
}

/* Offset of the first marker 0xFF m in a JPEG, or 0. */
static size_t find_marker(const unsigned char *b, size_t n, unsigned char m)
{
    for (size_t i = 2; i + 1 < n; i++)
        if (b[i] == 0xFF && b[i + 1] == m)
            return i;
    return 0;
}

/* A small valid JPEG from stb_image_write, w x h, RGB; *n its length. */
static unsigned char *small_jpeg(int w, int h, size_t *n)
{
    unsigned char *px = malloc((size_t)w * (size_t)h * 3);
    for (int i = 0; i < w * h * 3; i++)
        px[i] = (unsigned char)(i * 7);
    CHECK(stbi_write_jpg(fx("base.jpg"), w, h, 3, px, 90) != 0);
    free(px);
    return read_bytes(fx("base.jpg"), n);
}

/* A JPEG Huffman table whose 16 code counts add up to more than 256: stb_image
 * 2.27 writes past its tables (stbi__build_huffman) before noticing. */
static void jpeg_huffman_table_over_256(void)
{
    ember_error err;
    ember_tensor *t = NULL;
    size_t n;
    unsigned char *b = small_jpeg(8, 8, &n);
    size_t at = find_marker(b, n, 0xC4);
    CHECK(at > 0);
    if (at) {
        for (int k = 0; k < 16; k++) /* counts after: FF C4, length (2), class/id (1) */
            b[at + 5 + k] = 20; /* 320 codes */
        write_bytes(fx("dht.jpg"), b, n);
        CHECK_ERR(ember_image_load(&t, fx("dht.jpg"), NULL, &err), EMBER_ERR_FORMAT, &err,
                  "corrupt JPEG: the Huffman table at byte");
        CHECK(t == NULL);
        /* the same table one code under the limit is left to stb_image */
        for (int k = 0; k < 16; k++)
            b[at + 5 + k] = 16; /* 256 codes */
        write_bytes(fx("dht256.jpg"), b, n);
        ember_status s = ember_image_load(&t, fx("dht256.jpg"), NULL, &err);
        CHECK(s == EMBER_OK || strstr(err.message, "Huffman table at byte") == NULL);
        ember_tensor_destroy(t);
    }
    free(b);
}

/* A 737-byte JPEG claiming 11525 x 1024 pixels decoded (stb_image makes up
 * the missing data) to a 141 MB tensor: a tiny file may not cost that much. */
static void jpeg_too_many_pixels_per_byte(void)
{
    ember_error err;
    ember_tensor *t = NULL;
    size_t n;
    unsigned char *b = small_jpeg(16, 16, &n);
    size_t at = find_marker(b, n, 0xC0); /* SOF0: FF C0, length, precision, H, W */
    CHECK(at > 0);
    if (at) {
        b[at + 5] = 0x10, b[at + 6] = 0x00; /* height 4096 */
        b[at + 7] = 0x10, b[at + 8] = 0x00; /* width 4096 */
        write_bytes(fx("huge.jpg"), b, n);
        CHECK_ERR(ember_image_load(&t, fx("huge.jpg"), NULL, &err), EMBER_ERR_FORMAT, &err,
                  "4096 x 4096 pixels (height x width), more than a JPEG file of");
        CHECK(t == NULL);
    }
    free(b);
    /* a real image at a high compression ratio still loads: 512 x 512 of one colour */
    unsigned char *flat = malloc(512 * 512 * 3);
    memset(flat, 90, 512 * 512 * 3);
    CHECK(stbi_write_jpg(fx("flat.jpg"), 512, 512, 3, flat, 50) != 0);
    free(flat);
    CHECK_OK(ember_image_load(&t, fx("flat.jpg"), NULL, &err), &err);
    CHECK(t && t->shape[0] == 512 && t->shape[1] == 512);
    ember_tensor_destroy(t);
}

/* A GIF whose header claims 4000 x 4000 pixels with a few bytes of data:
 * stb_image ends the LZW stream quietly and decodes the rest as background. */
static void gif_too_many_pixels_per_byte(void)
{
    ember_error err;
    ember_tensor *t = NULL;
    static const unsigned char gif[] = {
        'G', 'I', 'F', '8', '9', 'a', 0xa0, 0x0f, 0xa0, 0x0f, 0x81, 0, 0,
        0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255,
        0x2c, 0, 0, 0, 0, 0xa0, 0x0f, 0xa0, 0x0f, 0,
        2, 3, 0x84, 0x1d, 0x05, 0, 0x3b};
    write_bytes(fx("huge.gif"), gif, sizeof gif);
    CHECK_ERR(ember_image_load(&t, fx("huge.gif"), NULL, &err), EMBER_ERR_FORMAT, &err,
              "4000 x 4000 pixels (height x width), more than a compressed file of 42 bytes");
    CHECK(t == NULL);
}

/* A PGM whose width has more digits than an int holds: stb_image 2.27
 * accumulates header numbers in an int without a bound (signed overflow,
 * undefined behaviour; UBSan in fuzz_image). */
static void pnm_number_over_int_max(void)
{
    ember_error err;
    ember_tensor *t = NULL;
    static const char pgm[] = "P5 3000000000 0 255\n\x01";
    write_bytes(fx("wide.pgm"), pgm, sizeof pgm - 1);
    CHECK_ERR(ember_image_load(&t, fx("wide.pgm"), NULL, &err), EMBER_ERR_FORMAT, &err,
              "corrupt PGM/PPM header: the width is 3000000000, more than 2147483647");
    CHECK(t == NULL);
    static const char ppm[] = "P6 1 1 77777777777777\n\x01\x02\x03";
    write_bytes(fx("deep.ppm"), ppm, sizeof ppm - 1);
    CHECK_ERR(ember_image_load(&t, fx("deep.ppm"), NULL, &err), EMBER_ERR_FORMAT, &err,
              "the maxval is at least 4294967295");
    CHECK(t == NULL);
}

/* Peak resident memory of this process so far, in KiB. */
static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* How much more a hostile file may make the loader take than a normal one:
 * 64 MiB; before the fix the case below took 2 GiB (or failed to get it). */
#define HOSTILE_MAX_RSS_GROWTH_KIB (64 * 1024)

/* Rewrite the model file `from` to `to` with the architecture JSON changed
 * by replacing `old` with `new`, and ember.meta_sha256 computed again as the
 * writer does (every other metadata pair sorted by key, each as key NUL
 * value NUL): a file whose checksums are right but whose architecture asks
 * for more than it holds. */
static int rewrite_architecture(const char *from, const char *to, const char *old,
                                const char *new)
{
    ember_error err;
    ember_st_file *f = NULL;
    if (ember__st_read(&f, from, &err) != EMBER_OK)
        return 0;
    int nm = ember__st_meta_count(f), nt = ember__st_count(f), k = 0;
    const char **keys = calloc((size_t)nm, sizeof *keys), **vals = calloc((size_t)nm, sizeof *vals);
    char *arch = NULL, hash[EMBER_SHA256_HEX_LEN + 1];
    for (int i = 0; i < nm; i++) {
        const char *key = ember__st_meta_key(f, i), *v = ember__st_meta(f, key);
        if (!strcmp(key, "ember.sha256"))
            continue; /* the writer adds it */
        if (!strcmp(key, "ember.architecture")) {
            const char *at = strstr(v, old);
            if (!at)
                return 0;
            arch = malloc(strlen(v) + strlen(new) + 1);
            snprintf(arch, strlen(v) + strlen(new) + 1, "%.*s%s%s", (int)(at - v), v, new,
                     at + strlen(old));
            v = arch;
        }
        keys[k] = key;
        vals[k++] = v;
    }
    /* sorted keys without the meta checksum */
    const char *sorted[64];
    int ns = 0;
    for (int i = 0; i < k; i++)
        if (strcmp(keys[i], "ember.meta_sha256"))
            sorted[ns++] = keys[i];
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
            const char *t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    ember_sha256 h;
    CHECK_OK(ember__sha256_init(&h, &err), &err);
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < k; j++)
            if (keys[j] == sorted[i]) {
                ember__sha256_update(&h, keys[j], strlen(keys[j]) + 1, &err);
                ember__sha256_update(&h, vals[j], strlen(vals[j]) + 1, &err);
            }
    CHECK_OK(ember__sha256_final(&h, hash, &err), &err);
    for (int j = 0; j < k; j++)
        if (!strcmp(keys[j], "ember.meta_sha256"))
            vals[j] = hash;
    ember_st_tensor *t = calloc((size_t)nt, sizeof *t);
    for (int i = 0; i < nt; i++) {
        t[i].name = ember__st_name(f, i);
        t[i].ndim = ember__st_shape(f, i, t[i].shape);
        ember__st_get(f, t[i].name, t[i].ndim, t[i].shape, &t[i].data, &err);
    }
    ember_status s = ember__st_write(to, t, nt, keys, vals, k, &err);
    free(t);
    free(arch);
    free(keys);
    free(vals);
    ember__st_free(f);
    return s == EMBER_OK;
}

/* A model file of 1 KB whose architecture asks for an Embedding of 5*10^8
 * rows: the loader added the layer (which stamps every row: 4 GB) before
 * looking for its tensor. Now every layer must fit the tensor data the file
 * holds before it is added. Found writing fuzz/fuzz_model_load.c. */
static void model_larger_than_its_file(void)
{
    ember_error err;
    ember_model *m = NULL;
    CHECK_OK(ember_model_create_from_arch(&m, "embedding 4\nglobal_average_pooling1d\n"
                                          "dense classes softmax\n", "t", 20, 3, 1, &err),
             &err);
    ember_optimizer_config opt = ember_optimizer_adam(0.01f);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    CHECK_OK(ember_model_save(m, fx("small.safetensors"), &err), &err);
    ember_model_destroy(m);
    m = NULL;
    /* the rewritten file is valid as it stands (checksums right) ... */
    CHECK(rewrite_architecture(fx("small.safetensors"), fx("same.safetensors"),
                               "\"input_dim\":20", "\"input_dim\":20"));
    CHECK_OK(ember_model_load(&m, fx("same.safetensors"), &err), &err);
    ember_model_destroy(m);
    m = NULL;
    /* ... and with 5*10^8 rows it is refused before anything that size is allocated */
    CHECK(rewrite_architecture(fx("small.safetensors"), fx("huge.safetensors"),
                               "\"input_dim\":20", "\"input_dim\":500000000"));
    long before = max_rss_kib();
    CHECK_ERR(ember_model_load(&m, fx("huge.safetensors"), &err), EMBER_ERR_FORMAT, &err,
              "architecture.layers[0] needs 2000000000 parameters, more than the 95 floats of "
              "tensor data in the file");
    CHECK(m == NULL);
    CHECK_MSG(max_rss_kib() - before < HOSTILE_MAX_RSS_GROWTH_KIB, "peak RSS grew by %ld KiB",
              max_rss_kib() - before);
    /* a dense layer too wide for the file: refused before the parameters are allocated */
    CHECK(rewrite_architecture(fx("small.safetensors"), fx("wide.safetensors"),
                               "\"units\":3", "\"units\":300000000"));
    CHECK_ERR(ember_model_load(&m, fx("wide.safetensors"), &err), EMBER_ERR_FORMAT, &err,
              "more than the 95 floats of tensor data in the file");
    CHECK(m == NULL);
}

/* `ember serve` read K = the pipeline's class count probabilities per text
 * from an output that may be narrower: a model whose text pipeline does not
 * fit it (put together through the library) is now refused at load. Found
 * writing fuzz/fuzz_serve_body.c. */
static void serve_pipeline_must_fit_model(void)
{
    ember_error err;
    static const char *const texts[] = {"where is my card", "refund please", "top up now"};
    static const char *const labels[] = {"card", "refund", "top_up"};
    ember_text_dataset *d = NULL;
    ember_pipeline *p = NULL;
    char *pjson = NULL;
    CHECK_OK(ember_text_dataset_create(&d, 3, texts, labels, &err), &err);
    CHECK_OK(ember_pipeline_create(&p, NULL, &err), &err);
    CHECK_OK(ember_pipeline_fit(p, d, &err), &err);
    CHECK_OK(ember_pipeline_to_json(p, &pjson, &err), &err);
    /* two outputs for three classes; then the right width but too few rows */
    static const struct {
        int64_t rows_less, classes;
        const char *file;
    } cases[] = {{0, 2, "narrow.safetensors"}, {1, 3, "rows.safetensors"}};
    for (int c = 0; c < 2; c++) {
        ember_model *m = NULL;
        CHECK_OK(ember_model_create_from_arch(&m, "embedding 4\nglobal_average_pooling1d\n"
                                              "dense classes softmax\n", "t",
                                              ember_pipeline_input_dim(p) - cases[c].rows_less,
                                              cases[c].classes, 1, &err),
                 &err);
        ember_optimizer_config opt = ember_optimizer_adam(0.01f);
        CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
        CHECK_OK(ember_model_set_metadata(m, EMBER_META_TEXT_PIPELINE, pjson, &err), &err);
        CHECK_OK(ember_model_save(m, fx(cases[c].file), &err), &err);
        ember_model_destroy(m);
        ember_server_config cfg = ember_server_config_default();
        cfg.model_path = fx(cases[c].file);
        cfg.port = 0;
        ember_server *srv = NULL;
        CHECK_OK(ember_server_create(&srv, &cfg, &err), &err);
        if (srv)
            CHECK_ERR(ember_server_load(srv, &err), EMBER_ERR_FORMAT, &err,
                      "the model does not fit its text pipeline");
        ember_server_destroy(srv);
    }
    free(pjson);
    ember_pipeline_destroy(p);
    ember_text_dataset_destroy(d);
}

/* An unknown field of 300 two-byte characters: the 400 message quoting it
 * was cut at 512 bytes inside a character, and the JSON answer carried
 * invalid UTF-8. Found by fuzz/fuzz_serve_body's check of every message,
 * with this input written by hand (the fuzzer had not reached it). */
static void serve_message_cut_inside_a_character(void)
{
    for (int pad = 0; pad < 4; pad++) { /* the cut falls at each byte of a character */
        char body[1024];
        int n = snprintf(body, sizeof body, "{\"%.*s", pad, "aaa");
        for (int i = 0; i < 300; i++)
            n += snprintf(body + n, sizeof body - (size_t)n, "\xc3\xa9");
        n += snprintf(body + n, sizeof body - (size_t)n, "\": 1}");
        char msg[SERVE_BODY_MESSAGE_MAX];
        ember__serve_body b;
        int status = ember__serve_parse_body(body, (size_t)n, 256, 3, &b, msg);
        CHECK(status == 400 && strncmp(msg, "unknown field \"", 15) == 0);
        CHECK_MSG(ember__serve_utf8_check(msg, strlen(msg)) == (size_t)-1,
                  "pad %d: the message is not valid UTF-8", pad);
        CHECK(strlen(msg) >= SERVE_BODY_MESSAGE_MAX - 4); /* cut only to a character */
    }
}


int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    csv_first_text_empty();
    jpeg_huffman_table_over_256();
    jpeg_too_many_pixels_per_byte();
    gif_too_many_pixels_per_byte();
    pnm_number_over_int_max();
    model_larger_than_its_file();
    serve_pipeline_must_fit_model();
    serve_message_cut_inside_a_character();
    static const char *const names[] = {
        "empty_first.csv", "base.jpg", "dht.jpg", "dht256.jpg",
        "huge.jpg", "flat.jpg", "huge.gif", "small.safetensors",
        "same.safetensors", "huge.safetensors", "wide.safetensors", "narrow.safetensors",
        "rows.safetensors", "wide.pgm", "deep.ppm"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(fx(names[i]));
    rmdir(dir);
    return check_summary("fuzz_findings");
}
