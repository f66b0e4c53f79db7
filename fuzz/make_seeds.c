/*
 * make_seeds.c - writes the seed corpora fuzz/corpus/<harness>/ (committed;
 * run again only to change them: build-fuzz/fuzz/make_seeds fuzz/corpus).
 * Each seed is a small valid input with the harness's option bytes in front
 * (see each fuzz_<name>.c), plus a few near misses; libFuzzer mutates from
 * there. Images come from stb_image_write (libstb) or are written byte by
 * byte here (16-bit, palette and interlaced PNG, PGM/PPM, GIF, palette BMP);
 * model files from ember_model_save. Deterministic: same files every run
 * except the models' ember.version/ember.git_commit metadata.
 */
#define _POSIX_C_SOURCE 200809L
#include "ember.h"
#include "io/safetensors.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <stb_image_write.h>

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void path_of(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", root, dir);
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        die(buf);
    snprintf(buf, n, "%s/%s/%s", root, dir, name);
}

/* dir/name = prefix bytes (npre) + data (n). */
static void seed(const char *dir, const char *name, const void *pre, size_t npre, const void *data,
                 size_t n)
{
    char p[512];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(pre, 1, npre, f) != npre || fwrite(data, 1, n, f) != n || fclose(f) != 0)
        die(p);
}

static void seed_str(const char *dir, const char *name, int opt, const char *text)
{
    unsigned char b = (unsigned char)opt;
    seed(dir, name, &b, opt < 0 ? 0 : 1, text, strlen(text));
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n + 1);
    if (!b || fread(b, 1, *n, f) != *n)
        die(path);
    fclose(f);
    return b;
}

/* gzip of data (for seeds that are gzip files themselves). */
static unsigned char *gz(const void *data, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2");
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        die("deflate");
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* ------------------------------------------------------------------ text */

static void text_seeds(void)
{
    seed_str("text_csv", "basic.csv", 0, "text,label\nhello world,greet\nbye now,leave\n");
    seed_str("text_csv", "quoted.csv", 0,
             "id,text,label\n1,\"a, \"\"quoted\"\"\nline\",x\n2,plain,y\n");
    seed_str("text_csv", "crlf_bom.csv", 0, "\xef\xbb\xbftext,label\r\ncaf\xc3\xa9,a\r\nb,c\r\n\r\n");
    seed_str("text_csv", "columns.csv", 2 | 0x18 | 0x40, "label,text,extra\nspam,buy now,1\nham,hi there,2\n");
    seed_str("text_csv", "index.csv", 4, "a,b,c\nx,first text,z\nx,second,z\n");
    seed_str("text_csv", "basic.tsv", 1, "text\tlabel\nhello\tworld\n\"tab\there\"\tx\n");
    seed_str("text_csv", "gzip.csv", 0x20 | 0x40, "text,label\nthe gzip path,g\n<b>html</b> 42,h\n");
    seed_str("text_csv", "bad_quote.csv", 0, "text,label\n\"never closed,x\n");
    seed_str("text_csv", "skip_bad.csv", 0x80,
             "text,label\nok,a\n,empty text\nx,y,z\nbad \xff byte,b\nfine,c\n");
    static const char raw[] = "text,label\nraw gzip file,r\n";
    size_t zn;
    unsigned char *z = gz(raw, sizeof raw - 1, &zn);
    unsigned char o = 0;
    seed("text_csv", "raw.csv.gz", &o, 1, z, zn);
    free(z);
    static const char raw_ft[] = "__label__z raw gzip file\n";
    z = gz(raw_ft, sizeof raw_ft - 1, &zn);
    seed("text_fasttext", "raw.txt.gz", &o, 1, z, zn);
    free(z);

    seed_str("text_fasttext", "basic.txt", 0,
             "__label__a hello world\n__label__b __label__c two labels\n");
    seed_str("text_fasttext", "auto.txt", 1, "\n\n__label__x text after blank lines\r\n__label__y y\n");
    seed_str("text_fasttext", "gzip.txt", 2, "__label__g gzip\n__label__h \xe5\x8c\x97\xe4\xba\xac\n");
    seed_str("text_fasttext", "nolabel.txt", 0, "__label__a ok\njust text\n");
    seed_str("text_fasttext", "skip_bad.txt", 4,
             "__label__a ok\njust text\n__label__\n__label__b \xc3\n__label__c fine\n");
}

/* ------------------------------------------------------------------- IDX */

static void idx_seed(const char *name, int opt, unsigned char type, int ndim, const uint32_t *dims,
                     const unsigned char *payload, size_t n)
{
    unsigned char buf[256];
    size_t k = 0;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = type;
    buf[k++] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        buf[k++] = (unsigned char)(dims[i] >> 24);
        buf[k++] = (unsigned char)(dims[i] >> 16);
        buf[k++] = (unsigned char)(dims[i] >> 8);
        buf[k++] = (unsigned char)dims[i];
    }
    memcpy(buf + k, payload, n);
    unsigned char o = (unsigned char)opt;
    seed("idx", name, &o, 1, buf, k + n);
}

static void idx_seeds(void)
{
    static const unsigned char b8[8] = {0, 1, 2, 9, 255, 128, 7, 3};
    uint32_t d1[1] = {4}, d3[3] = {2, 2, 2}, d2[2] = {2, 1};
    idx_seed("labels_u8", 0, 0x08, 1, d1, b8, 4);
    idx_seed("images_u8", 0, 0x08, 3, d3, b8, 8);
    idx_seed("images_u8_gz", 1, 0x08, 3, d3, b8, 8);
    idx_seed("i8", 0, 0x09, 1, d1, b8, 4);
    idx_seed("i16", 0, 0x0B, 1, d1, b8, 8);
    idx_seed("i32", 0, 0x0C, 2, d2, b8, 8);
    static const unsigned char f32[8] = {0x3f, 0x80, 0, 0, 0xff, 0x80, 0, 0}; /* 1, -Inf */
    idx_seed("f32", 0, 0x0D, 2, d2, f32, 8);
    static const unsigned char f64[16] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
                                          0xc0, 0x04, 0, 0, 0, 0, 0, 0}; /* 1, -2.5 */
    idx_seed("f64", 0, 0x0E, 2, d2, f64, 16);
    idx_seed("short", 0, 0x08, 1, d1, b8, 3);
}

/* ---------------------------------------------------------------- images */

static const char *img_dir = "image";

static void img_seed_file(const char *name, int b0, int b1, const char *tmp)
{
    size_t n;
    unsigned char *b = slurp(tmp, &n);
    unsigned char pre[2] = {(unsigned char)b0, (unsigned char)b1};
    seed(img_dir, name, pre, 2, b, n);
    free(b);
    remove(tmp);
}

static void img_seed_bytes(const char *name, int b0, int b1, const void *data, size_t n)
{
    unsigned char pre[2] = {(unsigned char)b0, (unsigned char)b1};
    seed(img_dir, name, pre, 2, data, n);
}

static void put32be(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A PNG written by hand: IHDR(w, h, depth, colour type, interlace), an
 * optional PLTE, one IDAT of the zlib-compressed filtered rows `raw`. */
static size_t png(unsigned char *out, uint32_t w, uint32_t h, int depth, int type, int interlace,
                  const unsigned char *plte, size_t plte_n, const unsigned char *raw, size_t raw_n)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t k = 0;
    memcpy(out, sig, 8);
    k = 8;
    unsigned char ihdr[13];
    put32be(ihdr, w);
    put32be(ihdr + 4, h);
    ihdr[8] = (unsigned char)depth, ihdr[9] = (unsigned char)type;
    ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = (unsigned char)interlace;
    struct chunk {
        const char *tag;
        const unsigned char *d;
        size_t n;
    } chunks[4];
    int nc = 0;
    chunks[nc++] = (struct chunk){"IHDR", ihdr, 13};
    if (plte)
        chunks[nc++] = (struct chunk){"PLTE", plte, plte_n};
    unsigned char zbuf[4096];
    uLongf zn = sizeof zbuf;
    if (compress2(zbuf, &zn, raw, (uLong)raw_n, 9) != Z_OK)
        die("compress2");
    chunks[nc++] = (struct chunk){"IDAT", zbuf, zn};
    chunks[nc++] = (struct chunk){"IEND", NULL, 0};
    for (int c = 0; c < nc; c++) {
        put32be(out + k, (uint32_t)chunks[c].n);
        memcpy(out + k + 4, chunks[c].tag, 4);
        if (chunks[c].n)
            memcpy(out + k + 8, chunks[c].d, chunks[c].n);
        uLong crc = crc32(0, out + k + 4, (uInt)(4 + chunks[c].n));
        put32be(out + k + 8 + chunks[c].n, (uint32_t)crc);
        k += 12 + chunks[c].n;
    }
    return k;
}

static void image_seeds(const char *tmpdir)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/seed.img", tmpdir);
    enum { W = 5, H = 4 };
    unsigned char rgba[W * H * 4];
    for (int i = 0; i < W * H * 4; i++)
        rgba[i] = (unsigned char)(i * 37 + 11);
    unsigned char grey[W * H];
    for (int i = 0; i < W * H; i++)
        grey[i] = (unsigned char)(i * 13);
    /* option byte 0: channels (bits 0-1), resize (2), crop (3); byte 1: sizes */
    stbi_write_png(tmp, W, H, 3, rgba, W * 3);
    img_seed_file("rgb.png", 0, 0, tmp);
    stbi_write_png(tmp, W, H, 4, rgba, W * 4);
    img_seed_file("rgba_resize.png", 4, 0x32, tmp);
    stbi_write_png(tmp, W, H, 1, grey, W);
    img_seed_file("grey_crop.png", 1 | 8, 0x33, tmp);
    stbi_write_png(tmp, W, H, 2, rgba, W * 2);
    img_seed_file("grey_alpha.png", 2, 0, tmp);
    stbi_write_bmp(tmp, W, H, 3, rgba);
    img_seed_file("rgb.bmp", 2 | 4 | 8, 0x77, tmp);
    stbi_write_bmp(tmp, W, H, 4, rgba);
    img_seed_file("rgba.bmp", 0, 0, tmp);
    stbi_write_tga_with_rle = 0;
    stbi_write_tga(tmp, W, H, 3, rgba);
    img_seed_file("rgb.tga", 0, 0, tmp);
    stbi_write_tga_with_rle = 1;
    stbi_write_tga(tmp, W, H, 4, rgba);
    img_seed_file("rgba_rle.tga", 4, 0x11, tmp);
    stbi_write_tga(tmp, W, H, 1, grey);
    img_seed_file("grey_rle.tga", 0, 0, tmp);
    stbi_write_jpg(tmp, W, H, 3, rgba, 90);
    img_seed_file("rgb.jpg", 0, 0, tmp);
    stbi_write_jpg(tmp, 9, 9, 1, rgba, 50);
    img_seed_file("grey.jpg", 1 | 4, 0x44, tmp);
    float hdr[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        hdr[i] = (float)i / 7.0f;
    stbi_write_hdr(tmp, W, H, 3, hdr);
    img_seed_file("rgb.hdr", 0, 0, tmp);

    /* PGM / PPM, binary, with a comment; a 16-bit PGM */
    unsigned char pnm[256];
    int k = snprintf((char *)pnm, sizeof pnm, "P5\n# seed\n%d %d\n255\n", W, H);
    memcpy(pnm + k, grey, W * H);
    img_seed_bytes("grey.pgm", 0, 0, pnm, (size_t)k + W * H);
    k = snprintf((char *)pnm, sizeof pnm, "P6 2 2 255\n");
    memcpy(pnm + k, rgba, 12);
    img_seed_bytes("rgb.ppm", 3, 0, pnm, (size_t)k + 12);
    k = snprintf((char *)pnm, sizeof pnm, "P5 2 2 65535\n");
    memcpy(pnm + k, rgba, 8);
    img_seed_bytes("grey16.pgm", 0, 0, pnm, (size_t)k + 8);

    /* PNGs by hand: 16-bit RGB, 1-bit grey, palette, Adam7 interlaced */
    unsigned char out[8192], raw[512];
    size_t rn = 0;
    for (int y = 0; y < 2; y++) {
        raw[rn++] = (unsigned char)(y ? 2 : 1); /* filters: Sub, Up */
        for (int x = 0; x < 2 * 6; x++)
            raw[rn++] = (unsigned char)(x * 29 + y);
    }
    img_seed_bytes("rgb16.png", 0, 0, out, png(out, 2, 2, 16, 2, 0, NULL, 0, raw, rn));
    rn = 0;
    for (int y = 0; y < 3; y++) {
        raw[rn++] = (unsigned char)(y == 2 ? 4 : 3); /* Average, Paeth */
        raw[rn++] = (unsigned char)(0xa5 ^ y);
    }
    img_seed_bytes("bits1.png", 0, 0, out, png(out, 8, 3, 1, 0, 0, NULL, 0, raw, rn));
    static const unsigned char plte[9] = {255, 0, 0, 0, 255, 0, 0, 0, 255};
    rn = 0;
    for (int y = 0; y < 2; y++) {
        raw[rn++] = 0;
        raw[rn++] = (unsigned char)(y ? 0x12 : 0x01);
    }
    img_seed_bytes("palette4.png", 0, 0, out, png(out, 2, 2, 4, 3, 0, plte, 9, raw, rn));
    /* 1x1 interlaced: Adam7 pass 1 holds the one pixel, the other passes are empty */
    static const unsigned char one[4] = {0, 10, 20, 30};
    img_seed_bytes("interlaced.png", 0, 0, out, png(out, 1, 1, 8, 2, 1, NULL, 0, one, 4));

    /* GIF89a, 2x2, a 4-colour global table, LZW minimum code size 2 */
    static const unsigned char gif[] = {
        'G', 'I', 'F', '8', '9', 'a', 2, 0, 2, 0, 0x81, 0, 0,
        0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255,        /* colour table */
        0x21, 0xf9, 4, 0, 0, 0, 0, 0,                          /* graphic control */
        0x2c, 0, 0, 0, 0, 2, 0, 2, 0, 0,                       /* image descriptor */
        2, 3, 0x84, 0x1d, 0x05, 0,                             /* LZW data */
        0x3b};
    img_seed_bytes("small.gif", 0, 0, gif, sizeof gif);

    /* BMP, 8 bits per pixel with a 4-entry palette, 2x2, bottom-up */
    unsigned char bmp[14 + 40 + 16 + 8];
    memset(bmp, 0, sizeof bmp);
    bmp[0] = 'B', bmp[1] = 'M';
    bmp[2] = sizeof bmp;
    bmp[10] = 14 + 40 + 16;
    bmp[14] = 40;
    bmp[18] = 2, bmp[22] = 2, bmp[26] = 1, bmp[28] = 8;
    bmp[46] = 4; /* colours used */
    for (int i = 0; i < 4; i++)
        bmp[54 + 4 * i] = (unsigned char)(60 * i), bmp[55 + 4 * i] = (unsigned char)(255 - 60 * i);
    bmp[70] = 0, bmp[71] = 1, bmp[74] = 2, bmp[75] = 3;
    img_seed_bytes("palette8.bmp", 0, 0, bmp, sizeof bmp);
}

/* ------------------------------------------------------------- JSON, text */

static void json_seeds(void)
{
    ember_error err;
    ember_image_options o = ember_image_options_default();
    char *j = NULL;
    if (ember_image_options_to_json(&o, &j, &err))
        die(err.message);
    seed_str("image_options", "default.json", -1, j);
    free(j);
    o.channels = 3;
    o.resize_height = 32, o.resize_width = 40, o.crop_height = 28, o.crop_width = 28;
    o.mean[0] = 0.485f, o.mean[1] = 0.456f, o.mean[2] = 0.406f;
    o.std[0] = 0.229f, o.std[1] = 0.224f, o.std[2] = 0.225f;
    if (ember_image_options_to_json(&o, &j, &err))
        die(err.message);
    seed_str("image_options", "imagenet.json", -1, j);
    free(j);
    seed_str("image_options", "bad_std.json", -1,
             "{\"version\":1,\"channels\":1,\"resize_height\":0,\"resize_width\":0,"
             "\"crop_height\":0,\"crop_width\":0,\"scale\":1e-2,\"mean\":[0,0,0],"
             "\"std\":[1,0,1]}");

    static const char *const texts[] = {"Hello world <b>again</b>", "good movie 2024",
                                        "\xe5\x8c\x97\xe4\xba\xac\xe5\xa4\xa7\xe5\xad\xa6",
                                        "mail me@example.com http://x.org"};
    static const char *const labels[] = {"greet", "review", "place", "contact"};
    ember_text_dataset *d = NULL;
    ember_pipeline *p = NULL;
    ember_text_options to = ember_text_options_default();
    to.word_ngrams = 2;
    to.char_ngram_min = 2;
    to.char_ngram_max = 3;
    to.buckets = 100;
    if (ember_text_dataset_create(&d, 4, texts, labels, &err) ||
        ember_pipeline_create(&p, &to, &err) || ember_pipeline_fit(p, d, &err) ||
        ember_pipeline_to_json(p, &j, &err))
        die(err.message);
    seed_str("pipeline_json", "ngrams.json", -1, j);
    free(j);
    ember_pipeline_destroy(p);
    if (ember_pipeline_create(&p, NULL, &err) || ember_pipeline_fit(p, d, &err) ||
        ember_pipeline_to_json(p, &j, &err))
        die(err.message);
    seed_str("pipeline_json", "default.json", -1, j);
    free(j);
    ember_pipeline_destroy(p);
    ember_text_dataset_destroy(d);

    /* architectures: option bits 0-1 pick the input (ids, features, 8x8x1, 12x10x3) */
    seed_str("arch", "reference.arch", 0 | 12,
             "embedding 64\nglobal_average_pooling1d\ndense 128 relu\ndense classes softmax\n");
    seed_str("arch", "dense_embedding.arch", 0,
             "# comment\nembedding 8 dense\nglobal_average_pooling1d # trailing\n"
             "dropout 0.5\ndense classes sigmoid nobias he\n");
    seed_str("arch", "mlp.arch", 1,
             "dense 32 relu he\ndropout 0.25\ndense 16 tanh\nactivation relu\n"
             "dense classes linear nobias\nactivation softmax\n");
    seed_str("arch", "cnn.arch", 2,
             "conv2d 4 3 relu same\nmax_pool2d 2\nconv2d 8 3 relu\nmax_pool2d 2\nflatten\n"
             "dense 16 relu\ndense classes softmax\n");
    seed_str("arch", "cnn_options.arch", 3 | 8,
             "conv2d 4 3x2 relu stride 2 same nobias\nconv2d 2 1 glorot\nbatch_normalization momentum 0.9 "
             "epsilon 1e-5\naverage_pool2d 2x1 stride 1 same\nmax_pool2d 2 stride 2x1 valid\n"
             "global_average_pooling2d\ndense classes softmax\n");
    seed_str("arch", "bad.arch", 1, "dense classes\nconv2d 3\n");

    /* answers: the harness's labels are card, refund, top_up and "été" */
    seed_str("serve_answers", "answers.json", -1,
             "{\"card\": \"Your card is on its way.\", \"refund\": \"Refunds take 5 days.\\n\","
             " \"\xc3\xa9t\xc3\xa9\": \"\\u00e9t\\u00e9 \\ud83d\\ude00\"}");
    seed_str("serve_answers", "unknown.json", -1, "{\"card\": \"x\", \"nope\": \"y\"}");
    seed_str("serve_answers", "empty.json", -1, "{}");

    seed_str("serve_body", "text.json", -1, "{\"text\": \"where is my card?\"}");
    seed_str("serve_body", "texts.json", -1,
             "{\"texts\": [\"<p>refund &amp; top up</p>\", \"caf\xc3\xa9 \\u00e9 2024\", "
             "\"\xe5\x8c\x97\xe4\xba\xac\xe5\xa4\xa7\xe5\xad\xa6 \xf0\x9f\x98\x80\"], \"k\": 2}");
    seed_str("serve_body", "email.json", -1,
             "{\"text\": \"From: me@example.com\\nSubject: card\\n\\nhttp://x.org/a?b=c mail "
             "you@example.org STRASSE Stra\303\237e \\t\\r\"}");
    seed_str("serve_body", "bad_k.json", -1, "{\"text\": \"x\", \"k\": 0.5}");
    seed_str("serve_body", "unknown.json", -1, "{\"txt\": \"x\"}");
    seed_str("serve_recommend", "user.json", -1, "{\"user\": \"u0\", \"k\": 3}");
    seed_str("serve_recommend", "user_exclude.json", -1, "{\"user\": \"u1\", \"k\": 5, \"exclude\": [\"i1\", \"i2\", \"nope\"]}");
    seed_str("serve_recommend", "unknown_user.json", -1, "{\"user\": \"stranger\"}");
    seed_str("serve_recommend", "item.json", -1, "{\"item\": \"i0\", \"k\": 4, \"exclude\": [\"i3\"]}");
    seed_str("serve_recommend", "item_escaped.json", -1, "{\"item\": \"caf\\u00e9 \\\"q\\\"\", \"k\": 1000}");
    seed_str("serve_recommend", "bad_k.json", -1, "{\"user\": \"u0\", \"k\": 1001}");
    seed_str("serve_recommend", "bad_exclude.json", -1, "{\"user\": \"u0\", \"exclude\": [\"i1\", 7]}");
    seed_str("serve_recommend", "both.json", -1, "{\"user\": \"u0\", \"item\": \"i0\"}");
}

/* ---------------------------------------------------------------- models */

static ember_model *build(const char *arch, int rank, const int64_t *shape, int64_t classes,
                          int sgd)
{
    ember_error err;
    ember_model *m = NULL;
    if (ember_model_create_from_arch_shape(&m, arch, "seed", rank, shape, classes, 3, &err))
        die(err.message);
    ember_optimizer_config opt = sgd ? ember_optimizer_sgd(0.1f, 0.9f, 1) : ember_optimizer_adam(1e-3f);
    if (ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err))
        die(err.message);
    return m;
}

static void save_seed(ember_model *m, const char *name)
{
    ember_error err;
    char p[512];
    path_of(p, sizeof p, "model_load", name);
    if (ember_model_save(m, p, &err))
        die(err.message);
    size_t n;
    unsigned char *b = slurp(p, &n);
    seed("safetensors", name, NULL, 0, b, n);
    free(b);
    ember_model_destroy(m);
}

static void model_seeds(void)
{
    ember_error err;
    int64_t ids_rows[1] = {20}, feat[1] = {6}, img[3] = {6, 6, 1};
    ember_model *m = build("embedding 4\nglobal_average_pooling1d\ndense 5 relu\n"
                           "dense classes softmax\n", 1, ids_rows, 3, 0);
    if (ember_model_set_metadata(m, EMBER_META_SERVE_THRESHOLD, "0.5", &err) ||
        ember_model_set_metadata(m, "note", "esc \x1b and caf\xc3\xa9", &err))
        die(err.message);
    save_seed(m, "text.safetensors");
    save_seed(build("dense 4 tanh he\ndropout 0.5\ndense classes nobias\nactivation softmax\n", 1,
                    feat, 2, 1),
              "mlp.safetensors");
    save_seed(build("conv2d 2 3 relu stride 2 same\nbatch_normalization\nmax_pool2d 2 same\n"
                    "conv2d 2 1 nobias\naverage_pool2d 1\nglobal_average_pooling2d\n"
                    "dense classes softmax\n",
                    3, img, 2, 0),
              "cnn.safetensors");
    save_seed(build("embedding 2 dense\nglobal_average_pooling1d\nflatten\ndense classes\n", 1,
                    ids_rows, 2, 1),
              "dense_embedding.safetensors");

    /* plain safetensors files: a scalar, an empty tensor, metadata, no checksum */
    float x[6] = {1, 2, 3, 4, 5, 6}, s = 7;
    ember_st_tensor t[3] = {{"w", 2, {2, 3, 1, 1}, x}, {"s", 0, {1, 1, 1, 1}, &s},
                            {"empty", 1, {0, 1, 1, 1}, NULL}};
    const char *k[1] = {"purpose"}, *v[1] = {"seed"};
    char p[512];
    path_of(p, sizeof p, "safetensors", "plain.safetensors");
    if (ember__st_write(p, t, 3, k, v, 1, &err))
        die(err.message);
    /* by hand: a header padded with spaces, one F32 tensor [1] = 1.0 */
    static const char hj[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char hand[8 + 64 + 4];
    size_t hl = (sizeof hj - 1 + 7) / 8 * 8;
    memset(hand, ' ', sizeof hand);
    for (int i = 0; i < 8; i++)
        hand[i] = (unsigned char)(hl >> (8 * i));
    memcpy(hand + 8, hj, sizeof hj - 1);
    static const unsigned char one_f32[4] = {0, 0, 0x80, 0x3f};
    memcpy(hand + 8 + hl, one_f32, 4);
    seed("safetensors", "handmade.safetensors", NULL, 0, hand, 8 + hl + 4);
}

/* ----------------------------------------------------------- recommenders */

static void rec_seed(ember_recommender *r, const char *name)
{
    ember_error err;
    char p[512];
    path_of(p, sizeof p, "rec_load", name);
    if (ember_recommender_save(r, p, &err))
        die(err.message);
    ember_recommender_destroy(r);
}

static void rec_seeds(const char *tmpdir)
{
    ember_error err;
    char ip[512], up[512], fp[512];
    snprintf(ip, sizeof ip, "%s/rec_clicks.tsv", tmpdir);
    snprintf(up, sizeof up, "%s/rec_users.csv", tmpdir);
    snprintf(fp, sizeof fp, "%s/rec_items.csv", tmpdir);
    FILE *f = fopen(ip, "w"), *u = fopen(up, "w"), *it = fopen(fp, "w");
    if (!f || !u || !it)
        die(tmpdir);
    for (int k = 0; k < 24; k++)
        fprintf(f, "u%d\ti%d\t%d\t%d\n", k % 6, (k * 5) % 7, 1 + k % 5, 100 + k);
    fprintf(u, "user,age,group\nu0,20,a\nu1,30,b\nu2,40,a\nu3,,b\nu4,50,a\nu5,60,b\nnew,33,a\n");
    fprintf(it, "item,g1,g2\ni0,1,0\ni1,0,1\ni2,1,1\ni3,0,0\ni4,1,0\ni5,0,1\ni6,1,0\ncold,1,1\n");
    fclose(f), fclose(u), fclose(it);
    ember_interactions *d = NULL;
    ember_features *uf = NULL, *itf = NULL;
    if (ember_interactions_load(&d, ip, &err) || ember_features_load(&uf, up, &err) ||
        ember_features_load(&itf, fp, &err))
        die(err.message);
    ember_mf_config mc = ember_mf_config_default();
    mc.dim = 3;
    mc.epochs = 2;
    ember_recommender *r = NULL;
    if (ember_recommender_train_mf(&r, d, &mc, NULL, NULL, &err))
        die(err.message);
    if (ember_recommender_set_metadata(r, "lineage.metrics", "{\"loss\":1.5}", &err))
        die(err.message);
    rec_seed(r, "mf.safetensors");
    mc = ember_mf_config_bpr();
    mc.dim = 2;
    mc.epochs = 1;
    if (ember_recommender_train_mf(&r, d, &mc, NULL, NULL, &err))
        die(err.message);
    rec_seed(r, "bpr.safetensors");
    ember_two_tower_config tc = ember_two_tower_config_default();
    tc.dim = 3;
    tc.id_dim = 2;
    tc.hidden = 4;
    tc.epochs = 1;
    tc.negatives = 3;
    if (ember_recommender_train_two_tower(&r, d, uf, itf, &tc, NULL, NULL, &err))
        die(err.message);
    rec_seed(r, "two_tower.safetensors");
    tc.hidden = 0;
    if (ember_recommender_train_two_tower(&r, d, NULL, NULL, &tc, NULL, NULL, &err))
        die(err.message);
    rec_seed(r, "two_tower_ids.safetensors");
    ember_interactions_destroy(d);
    ember_features_destroy(uf);
    ember_features_destroy(itf);
    remove(ip), remove(up), remove(fp);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR (fuzz/corpus)\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) != 0 && errno != EEXIST)
        die(root);
    text_seeds();
    idx_seeds();
    image_seeds(root);
    json_seeds();
    model_seeds();
    rec_seeds(root);
    return 0;
}
