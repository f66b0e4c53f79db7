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


int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    csv_first_text_empty();
    jpeg_huffman_table_over_256();
    jpeg_too_many_pixels_per_byte();
    gif_too_many_pixels_per_byte();
    static const char *const names[] = {
        "empty_first.csv", "base.jpg", "dht.jpg", "dht256.jpg",
        "huge.jpg", "flat.jpg", "huge.gif"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(fx(names[i]));
    rmdir(dir);
    return check_summary("fuzz_findings");
}
