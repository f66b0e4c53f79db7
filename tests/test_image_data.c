/*
 * test_image_data.c - the image data API: options and their JSON,
 * ember_image_load, folder and file-list data sets, channel statistics.
 *
 * Writes its fixtures into a fresh directory under /tmp (removed at the
 * end): PNG, BMP, TGA and JPEG through stb_image_write (exported by Debian's
 * libstb, which the library links anyway), PGM/PPM and hostile headers by
 * hand. Expected values are hand-computed: the decoded 8-bit samples put
 * through (v * scale - mean[c]) / std[c] in float, the same float
 * operations the library documents, so lossless formats compare exactly.
 * Every bad input is checked for its status, a distinctive part of the
 * message, the path in the message and *out left NULL.
 */
#define _XOPEN_SOURCE 700
#include "ember.h"

#include "check.h"

#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stb_image_write.h>

/* Resized values are sums of float products (stb_image_resize works in
 * float, weights normalised to sum 1): a few float ulps of 255. */
#define RESIZE_TOL 1e-3
/* Baseline JPEG at quality 100 of a flat or smooth image: the 8x8 DCT
 * quantisation and YCbCr rounding move a sample by a few levels of 255. */
#define JPEG_TOL_LEVELS 4.0
/* A hostile header must be refused in well under this many seconds (ASan
 * included); allocating and zeroing gigabytes would take far longer. */
#define HOSTILE_MAX_SECONDS 2.0
/* ... and must not raise the peak resident set by more than this (KiB). */
#define HOSTILE_MAX_RSS_GROWTH_KIB (64 * 1024)
/* Longest fixture path built here. */
#define PATH_BYTES 512

static char dir[64];
static ember_error err;
static ember_tensor sentinel_tensor; /* *out starts pointing here so the test sees it reset */

static const char *fx(char *buf, const char *name)
{
    snprintf(buf, PATH_BYTES, "%s/%s", dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f)
        return;
    CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

static void make_dir(const char *path) { CHECK_MSG(mkdir(path, 0700) == 0, "mkdir %s", path); }

static void write_png(const char *path, int w, int h, int comp, const unsigned char *px)
{
    CHECK_MSG(stbi_write_png(path, w, h, comp, px, w * comp) != 0, "stbi_write_png %s", path);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What the library computes for a sample v of channel c. */
static float norm(float v, const ember_image_options *o, int c)
{
    return (v * o->scale - o->mean[c]) / o->std[c];
}

static float luma(int r, int g, int b) { return (float)(0.299 * r + 0.587 * g + 0.114 * b); }

/* Load `path`, which must succeed with shape [H, W, C]; NULL on failure. */
static ember_tensor *load_ok(const char *path, const ember_image_options *o, int64_t H, int64_t W,
                             int64_t C)
{
    ember_tensor *t = NULL;
    ember_status s = ember_image_load(&t, path, o, &err);
    CHECK_MSG(s == EMBER_OK, "%s: %s", path, err.message);
    if (s)
        return NULL;
    CHECK_MSG(t->ndim == 3 && t->shape[0] == H && t->shape[1] == W && t->shape[2] == C,
              "%s: shape [%lld, %lld, %lld] (ndim %d), want [%lld, %lld, %lld]", path,
              (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2], t->ndim,
              (long long)H, (long long)W, (long long)C);
    if (t->ndim != 3 || t->shape[0] != H || t->shape[1] != W || t->shape[2] != C) {
        ember_tensor_destroy(t);
        return NULL;
    }
    return t;
}

/* ember_image_load must fail with `code`, a message naming `path` and
 * containing `needle`, and *out reset to NULL. */
static void load_fails(const char *path, const ember_image_options *o, ember_status code,
                       const char *needle)
{
    ember_tensor *t = &sentinel_tensor;
    memset(&err, 0, sizeof err);
    ember_status s = ember_image_load(&t, path, o, &err);
    CHECK_MSG(s == code && strstr(err.message, needle) && strstr(err.message, path),
              "%s: status %d (want %d), message \"%s\" (want \"%s\")", path, (int)s, (int)code,
              err.message, needle);
    CHECK(t == NULL);
    if (t && t != &sentinel_tensor)
        ember_tensor_destroy(t);
}

/* ---------------------------------------------------------------- options */

static void test_options(void)
{
    ember_image_options o = ember_image_options_default();
    CHECK(o.channels == 0 && o.resize_height == 0 && o.resize_width == 0);
    CHECK(o.crop_height == 0 && o.crop_width == 0);
    CHECK(o.scale == 1.0f / 255.0f);
    for (int c = 0; c < 3; c++)
        CHECK(o.mean[c] == 0.0f && o.std[c] == 1.0f);

    /* Each bad field is named; the options are checked before any file is opened. */
    const char *nofile = "/nonexistent/x.png";
    ember_tensor *t = NULL;
    o = ember_image_options_default();
    o.std[1] = 0.0f;
    CHECK_ERR(ember_image_load(&t, nofile, &o, &err), EMBER_ERR_ARG, &err,
              "image options: std[1] must be > 0, got 0");
    o = ember_image_options_default();
    o.channels = 2;
    CHECK_ERR(ember_image_load(&t, nofile, &o, &err), EMBER_ERR_ARG, &err,
              "channels must be 0 (from the first image), 1 or 3, got 2");
    o = ember_image_options_default();
    o.resize_height = 32;
    CHECK_ERR(ember_image_load(&t, nofile, &o, &err), EMBER_ERR_ARG, &err,
              "resize_height is 32 but resize_width is 0");
    o = ember_image_options_default();
    o.crop_width = -1;
    CHECK_ERR(ember_image_load(&t, nofile, &o, &err), EMBER_ERR_ARG, &err,
              "crop_width must be >= 0, got -1");
    o = ember_image_options_default();
    o.resize_height = o.resize_width = 32;
    o.crop_height = 40;
    o.crop_width = 8;
    CHECK_ERR(ember_image_load(&t, nofile, &o, &err), EMBER_ERR_ARG, &err,
              "crop_height 40 is larger than resize_height 32");
    o = ember_image_options_default();
    o.resize_height = o.resize_width = 1 << 15;
    CHECK_ERR(ember_image_load(&t, nofile, &o, &err), EMBER_ERR_ARG, &err,
              "resize_height x resize_width = 32768 x 32768 is more than 268435456 pixels");
    o = ember_image_options_default();
    o.scale = NAN;
    CHECK_ERR(ember_image_load(&t, nofile, &o, &err), EMBER_ERR_ARG, &err,
              "scale must be finite and > 0");
    o = ember_image_options_default();
    o.mean[2] = INFINITY;
    CHECK_ERR(ember_image_load(&t, nofile, &o, &err), EMBER_ERR_ARG, &err,
              "mean[2] must be finite, got inf");
    CHECK(t == NULL);
}

static void test_options_json(void)
{
    ember_image_options o = ember_image_options_default();
    o.channels = 1;
    o.resize_height = 256;
    o.resize_width = 320;
    o.crop_height = 224;
    o.crop_width = 300;
    o.scale = 1.0f / 255.0f;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(o.mean, mean, sizeof mean);
    memcpy(o.std, std, sizeof std);
    char *json = NULL;
    CHECK_OK(ember_image_options_to_json(&o, &json, &err), &err);
    CHECK(json && strstr(json, "\"version\":1") && strstr(json, "\"crop_width\":300"));
    ember_image_options back;
    memset(&back, 0, sizeof back);
    CHECK_OK(ember_image_options_from_json(&back, json ? json : "", &err), &err);
    CHECK(back.channels == 1 && back.resize_height == 256 && back.resize_width == 320);
    CHECK(back.crop_height == 224 && back.crop_width == 300);
    CHECK(back.scale == o.scale); /* every float bit for bit */
    for (int c = 0; c < 3; c++)
        CHECK(back.mean[c] == o.mean[c] && back.std[c] == o.std[c]);
    free(json);

    /* Bad JSON names the field; *opt is left as it was. */
    const char *good = "\"version\":1,\"channels\":3,\"resize_height\":0,\"resize_width\":0,"
                       "\"crop_height\":0,\"crop_width\":0,\"scale\":0.5";
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{%s,\"mean\":[0,0,0],\"std\":[1,0,1]}", "image options JSON: std[1] must be > 0, got 0"},
        {"{%s,\"mean\":[0,0,0],\"std\":[1,1,1],\"colour\":1}", "colour: unknown key"},
        {"{%s,\"mean\":[0,0,0]}", "std: missing"},
        {"{%s,\"mean\":[0,0],\"std\":[1,1,1]}",
         "mean: expected 3 numbers (one per channel), got 2"},
        {"{%s,\"mean\":[0,\"x\",0],\"std\":[1,1,1]}", "mean[1]: expected a number, got a string"},
        {"{%s,\"mean\":[0,0,0],\"std\":[1,1,1],\"scale\":1}", "scale: duplicate key"},
        {"{%s,\"mean\":[0,0,0],\"std\":[1,1,1e39]}",
         "std[2]: 9.9999999999999994e+38 is outside the float32 range"},
        {"{\"version\":1,\"channels\":\"3\",\"resize_height\":0,\"resize_width\":0,"
         "\"crop_height\":0,\"crop_width\":0,\"scale\":1,\"mean\":[0,0,0],\"std\":[1,1,1]}",
         "channels: expected an integer, got a string"},
        {"{%s,\"mean\":[0,0,0],\"std\":[1,1,1]", "syntax error at byte"},
        {"[1]", "expected an object, got an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, bad[i].json, good);
        ember_image_options keep = ember_image_options_default();
        keep.channels = 1;
        CHECK_ERR(ember_image_options_from_json(&keep, text, &err), EMBER_ERR_FORMAT, &err,
                  bad[i].needle);
        CHECK(keep.channels == 1);
    }
    /* Version and channels are checked too. */
    char text[512];
    snprintf(text, sizeof text, "{%s,\"mean\":[0,0,0],\"std\":[1,1,1]}", good);
    char *v = strstr(text, "\"version\":1");
    if (v)
        v[10] = '2';
    CHECK_ERR(ember_image_options_from_json(&o, text, &err), EMBER_ERR_FORMAT, &err,
              "version: 2 is not supported");
    /* Invalid options are not written. */
    o = ember_image_options_default();
    o.std[0] = -1.0f;
    json = (char *)"untouched";
    CHECK_ERR(ember_image_options_to_json(&o, &json, &err), EMBER_ERR_ARG, &err,
              "std[0] must be > 0, got -1");
    CHECK(json == NULL);
}

/* ----------------------------------------------------------- decoding */

static void test_png(void)
{
    char p[PATH_BYTES];
    /* Grey 3 x 2 (width x height). */
    const unsigned char grey[6] = {0, 17, 128, 200, 255, 1};
    write_png(fx(p, "grey.png"), 3, 2, 1, grey);
    ember_image_options o = ember_image_options_default();
    o.channels = 1;
    o.mean[0] = 0.5f;
    o.std[0] = 0.25f;
    ember_tensor *t = load_ok(p, &o, 2, 3, 1);
    if (t) {
        for (int i = 0; i < 6; i++)
            CHECK_MSG(t->data[i] == norm(grey[i], &o, 0), "grey[%d] %.9g", i, (double)t->data[i]);
        ember_tensor_destroy(t);
    }
    /* channels 0 keeps grey; 3 repeats the grey value. */
    o = ember_image_options_default();
    o.channels = 0;
    if ((t = load_ok(p, &o, 2, 3, 1)) != NULL) {
        CHECK(t->data[2] == 128.0f / 255.0f);
        ember_tensor_destroy(t);
    }
    o.channels = 3;
    o.scale = 1.0f;
    o.mean[2] = 1.0f;
    if ((t = load_ok(p, &o, 2, 3, 3)) != NULL) {
        for (int i = 0; i < 6; i++)
            CHECK(t->data[3 * i] == grey[i] && t->data[3 * i + 1] == grey[i] &&
                  t->data[3 * i + 2] == grey[i] - 1.0f);
        ember_tensor_destroy(t);
    }

    /* RGB 2 x 2, per-channel mean and std. */
    const unsigned char rgb[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    write_png(fx(p, "rgb.png"), 2, 2, 3, rgb);
    o = ember_image_options_default();
    o.mean[0] = 0.485f;
    o.mean[1] = 0.456f;
    o.mean[2] = 0.406f;
    o.std[0] = 0.229f;
    o.std[1] = 0.224f;
    o.std[2] = 0.225f;
    if ((t = load_ok(p, &o, 2, 2, 3)) != NULL) {
        for (int i = 0; i < 12; i++)
            CHECK_MSG(t->data[i] == norm(rgb[i], &o, i % 3), "rgb[%d] %.9g", i, (double)t->data[i]);
        /* One value by hand: (10/255 - 0.485) / 0.229 = -1.9466559... */
        CHECK_CLOSE(t->data[9], -1.9466559, 1e-6, 0);
        ember_tensor_destroy(t);
    }
    /* RGB to grey: BT.601 luma, not rounded. */
    o = ember_image_options_default();
    o.channels = 1;
    o.scale = 1.0f;
    if ((t = load_ok(p, &o, 2, 2, 1)) != NULL) {
        CHECK_CLOSE(t->data[0], 76.245, 1e-4, 0);  /* 0.299 * 255 */
        CHECK_CLOSE(t->data[1], 149.685, 1e-4, 0); /* 0.587 * 255 */
        CHECK_CLOSE(t->data[2], 29.07, 1e-4, 0);   /* 0.114 * 255 */
        CHECK_CLOSE(t->data[3], 18.15, 1e-4, 0);   /* 2.99 + 11.74 + 3.42 */
        CHECK(t->data[3] == luma(10, 20, 30));
        ember_tensor_destroy(t);
    }

    /* RGBA: alpha dropped, colour kept as stored even where alpha is 0. */
    const unsigned char rgba[8] = {200, 100, 50, 0, 1, 2, 3, 255};
    write_png(fx(p, "rgba.png"), 2, 1, 4, rgba);
    o = ember_image_options_default();
    o.channels = 0;
    o.scale = 1.0f;
    if ((t = load_ok(p, &o, 1, 2, 3)) != NULL) {
        const float want[6] = {200, 100, 50, 1, 2, 3};
        for (int i = 0; i < 6; i++)
            CHECK(t->data[i] == want[i]);
        ember_tensor_destroy(t);
    }
    /* Grey + alpha: channels 0 gives 1. */
    const unsigned char ga[4] = {90, 0, 180, 255};
    write_png(fx(p, "ga.png"), 2, 1, 2, ga);
    if ((t = load_ok(p, &o, 1, 2, 1)) != NULL) {
        CHECK(t->data[0] == 90.0f && t->data[1] == 180.0f);
        ember_tensor_destroy(t);
    }
}

static void test_other_formats(void)
{
    char p[PATH_BYTES];
    ember_image_options o = ember_image_options_default();
    o.scale = 1.0f;
    const unsigned char rgb[18] = {1, 2, 3, 40,  50, 60,  255, 254, 253,
                                   7, 8, 9, 100, 0,  100, 0,   0,   0};
    ember_tensor *t;
    /* BMP and TGA: lossless, exact. */
    CHECK(stbi_write_bmp(fx(p, "rgb.bmp"), 3, 2, 3, rgb) != 0);
    if ((t = load_ok(p, &o, 2, 3, 3)) != NULL) {
        for (int i = 0; i < 18; i++)
            CHECK_MSG(t->data[i] == rgb[i], "bmp[%d] %.9g want %d", i, (double)t->data[i], rgb[i]);
        ember_tensor_destroy(t);
    }
    CHECK(stbi_write_tga(fx(p, "rgb.tga"), 3, 2, 3, rgb) != 0);
    if ((t = load_ok(p, &o, 2, 3, 3)) != NULL) {
        for (int i = 0; i < 18; i++)
            CHECK(t->data[i] == rgb[i]);
        ember_tensor_destroy(t);
    }
    /* PGM (P5) and PPM (P6) by hand. */
    const char pgm[] = "P5\n3 2\n255\n\x00\x10\x20\x30\x40\xff";
    write_bytes(fx(p, "g.pgm"), pgm, sizeof pgm - 1);
    o.channels = 0;
    if ((t = load_ok(p, &o, 2, 3, 1)) != NULL) {
        const float want[6] = {0, 16, 32, 48, 64, 255};
        for (int i = 0; i < 6; i++)
            CHECK(t->data[i] == want[i]);
        ember_tensor_destroy(t);
    }
    const char ppm[] = "P6\n1 2\n255\n\x01\x02\x03\xfa\xfb\xfc";
    write_bytes(fx(p, "c.ppm"), ppm, sizeof ppm - 1);
    if ((t = load_ok(p, &o, 2, 1, 3)) != NULL) {
        const float want[6] = {1, 2, 3, 250, 251, 252};
        for (int i = 0; i < 6; i++)
            CHECK(t->data[i] == want[i]);
        ember_tensor_destroy(t);
    }
    /* JPEG (lossy): a flat colour and a smooth ramp, within a few levels. */
    enum { JW = 16, JH = 16 };
    unsigned char flat[JW * JH * 3], ramp[JW * JH];
    for (int i = 0; i < JW * JH; i++) {
        flat[3 * i] = 200;
        flat[3 * i + 1] = 100;
        flat[3 * i + 2] = 50;
        ramp[i] = (unsigned char)(64 + 4 * (i % JW));
    }
    CHECK(stbi_write_jpg(fx(p, "flat.jpg"), JW, JH, 3, flat, 100) != 0);
    o = ember_image_options_default();
    o.scale = 1.0f;
    if ((t = load_ok(p, &o, JH, JW, 3)) != NULL) {
        double worst = 0;
        for (int i = 0; i < JW * JH * 3; i++) {
            double d = fabs(t->data[i] - flat[i]);
            worst = d > worst ? d : worst;
        }
        CHECK_MSG(worst <= JPEG_TOL_LEVELS, "flat JPEG differs by %g levels", worst);
        ember_tensor_destroy(t);
    }
    /* stb_image_write stores even grey input as YCbCr, so the file is colour. */
    CHECK(stbi_write_jpg(fx(p, "ramp.JPEG"), JW, JH, 1, ramp, 100) != 0);
    o.channels = 1;
    if ((t = load_ok(p, &o, JH, JW, 1)) != NULL) {
        double worst = 0;
        for (int i = 0; i < JW * JH; i++) {
            double d = fabs(t->data[i] - ramp[i]);
            worst = d > worst ? d : worst;
        }
        CHECK_MSG(worst <= JPEG_TOL_LEVELS, "grey JPEG ramp differs by %g levels", worst);
        ember_tensor_destroy(t);
    }
}

static void test_resize_crop(void)
{
    char p[PATH_BYTES];
    ember_image_options o = ember_image_options_default();
    o.scale = 1.0f;
    o.channels = 1;
    ember_tensor *t;

    /* A constant image stays constant, larger or smaller. */
    unsigned char flat[5 * 7];
    memset(flat, 77, sizeof flat);
    write_png(fx(p, "flat.png"), 7, 5, 1, flat);
    const int64_t sizes[3][2] = {{3, 4}, {11, 13}, {1, 1}};
    for (int k = 0; k < 3; k++) {
        o.resize_height = sizes[k][0];
        o.resize_width = sizes[k][1];
        if ((t = load_ok(p, &o, sizes[k][0], sizes[k][1], 1)) != NULL) {
            for (int64_t i = 0; i < ember_tensor_numel(t); i++)
                CHECK_CLOSE(t->data[i], 77.0, RESIZE_TOL, 0);
            ember_tensor_destroy(t);
        }
    }

    /* 2x2 -> 4x4: bilinear with half-pixel centres and clamped edges. Output
     * centre x maps to input (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, so
     * the weights on (left, right) are (1, 0), (0.75, 0.25), (0.25, 0.75),
     * (0, 1), the same along y. */
    const unsigned char sq[4] = {0, 100, 200, 60};
    write_png(fx(p, "sq.png"), 2, 2, 1, sq);
    o.resize_height = o.resize_width = 4;
    if ((t = load_ok(p, &o, 4, 4, 1)) != NULL) {
        const double w[4][2] = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                double want = w[y][0] * (w[x][0] * sq[0] + w[x][1] * sq[1]) +
                              w[y][1] * (w[x][0] * sq[2] + w[x][1] * sq[3]);
                CHECK_CLOSE(t->data[4 * y + x], want, RESIZE_TOL, 0);
            }
        /* e.g. (1, 1): 0.75 * (0.75 * 0 + 0.25 * 100) + 0.25 * (0.75 * 200 + 0.25 * 60) */
        CHECK_CLOSE(t->data[5], 60.0, RESIZE_TOL, 0);
        ember_tensor_destroy(t);
    }
    /* Shrinking 4 -> 2 along x (height kept): the tent widens to 2 input
     * pixels, so output 0 (centre at input 1.0) weighs input centres 0.5 and
     * 1.5 by 0.75, -0.5 (clamped to pixel 0) and 2.5 by 0.25, normalised:
     * 0.5 * p0 + 0.375 * p1 + 0.125 * p2. */
    const unsigned char row[4] = {0, 80, 160, 240};
    write_png(fx(p, "row.png"), 4, 1, 1, row);
    o.resize_height = 1;
    o.resize_width = 2;
    if ((t = load_ok(p, &o, 1, 2, 1)) != NULL) {
        CHECK_CLOSE(t->data[0], 0.5 * 0 + 0.375 * 80 + 0.125 * 160, RESIZE_TOL, 0);
        CHECK_CLOSE(t->data[1], 0.125 * 80 + 0.375 * 160 + 0.5 * 240, RESIZE_TOL, 0);
        ember_tensor_destroy(t);
    }
    /* Resizing to the image's own size changes nothing (no resampling). */
    o.resize_height = 1;
    o.resize_width = 4;
    if ((t = load_ok(p, &o, 1, 4, 1)) != NULL) {
        for (int i = 0; i < 4; i++)
            CHECK(t->data[i] == row[i]);
        ember_tensor_destroy(t);
    }

    /* Centre crop: value 10 y + x in a 5 x 6 image (height x width). */
    unsigned char g[5 * 6];
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 6; x++)
            g[6 * y + x] = (unsigned char)(10 * y + x);
    write_png(fx(p, "grid.png"), 6, 5, 1, g);
    o = ember_image_options_default();
    o.scale = 1.0f;
    o.channels = 1;
    /* 3 x 2: starts at ((5 - 3) / 2, (6 - 2) / 2) = (1, 2). */
    o.crop_height = 3;
    o.crop_width = 2;
    if ((t = load_ok(p, &o, 3, 2, 1)) != NULL) {
        const float want[6] = {12, 13, 22, 23, 32, 33};
        for (int i = 0; i < 6; i++)
            CHECK_MSG(t->data[i] == want[i], "crop[%d] %g want %g", i, (double)t->data[i],
                      (double)want[i]);
        ember_tensor_destroy(t);
    }
    /* 2 x 3: odd margins round down, start (1, 1). */
    o.crop_height = 2;
    o.crop_width = 3;
    if ((t = load_ok(p, &o, 2, 3, 1)) != NULL) {
        const float want[6] = {11, 12, 13, 21, 22, 23};
        for (int i = 0; i < 6; i++)
            CHECK(t->data[i] == want[i]);
        ember_tensor_destroy(t);
    }
    /* Crop after a resize to the same size (no resampling): same window. */
    o.resize_height = 5;
    o.resize_width = 6;
    if ((t = load_ok(p, &o, 2, 3, 1)) != NULL) {
        CHECK(t->data[0] == 11 && t->data[5] == 23);
        ember_tensor_destroy(t);
    }
    /* sq.png resized to 4 x 4 as above, then its centre 2 x 2 cropped: the
     * resized values at rows 1..2, columns 1..2. */
    o.resize_height = o.resize_width = 4;
    o.crop_height = o.crop_width = 2;
    if ((t = load_ok(fx(p, "sq.png"), &o, 2, 2, 1)) != NULL) {
        CHECK_CLOSE(t->data[0], 60.0, RESIZE_TOL, 0); /* (1, 1) as above */
        /* (2, 2): 0.25 * (0.25 * 0 + 0.75 * 100) + 0.75 * (0.25 * 200 + 0.75 * 60) */
        CHECK_CLOSE(t->data[3], 90.0, RESIZE_TOL, 0);
        ember_tensor_destroy(t);
    }
    /* A crop larger than the image (no resize) is an error naming the file. */
    o = ember_image_options_default();
    o.crop_height = 6;
    o.crop_width = 2;
    load_fails(fx(p, "grid.png"), &o, EMBER_ERR_FORMAT,
               "crop 6 x 2 (height x width) is larger than the image, 5 x 6");
}

/* ------------------------------------------------------------- bad input */

/* A little-endian 32-bit value at p. */
static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void be32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (24 - 8 * i));
}

static void test_bad_files(void)
{
    char p[PATH_BYTES];
    const ember_image_options *def = NULL; /* NULL: the defaults */

    load_fails(fx(p, "missing.png"), def, EMBER_ERR_IO, "cannot open");
    write_bytes(fx(p, "empty.png"), "", 0);
    load_fails(p, def, EMBER_ERR_FORMAT, "file is empty");
    load_fails(dir, def, EMBER_ERR_IO, "Is a directory");

    /* A valid PNG signature, then garbage. */
    unsigned char corrupt[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    for (size_t i = 8; i < sizeof corrupt; i++)
        corrupt[i] = (unsigned char)(i * 37 + 11);
    write_bytes(fx(p, "corrupt.png"), corrupt, sizeof corrupt);
    load_fails(p, def, EMBER_ERR_FORMAT, "not an image stb_image can read");
    /* Text named .png. */
    write_bytes(fx(p, "text.png"), "hello, world\n", 13);
    load_fails(p, def, EMBER_ERR_FORMAT, "not an image stb_image can read");

    /* A real PNG cut in half: the header reads, the pixel data does not. */
    enum { TW = 32, TH = 32 };
    unsigned char noise[TW * TH * 3];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (unsigned char)(x >> 24);
    }
    write_png(fx(p, "whole.png"), TW, TH, 3, noise);
    FILE *f = fopen(p, "rb");
    unsigned char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    CHECK(n > 200 && n < sizeof buf);
    write_bytes(fx(p, "truncated.png"), buf, n / 2);
    load_fails(p, def, EMBER_ERR_FORMAT, "corrupt or truncated image data");
    /* ... and a truncated BMP. */
    CHECK(stbi_write_bmp(fx(p, "whole.bmp"), TW, TH, 3, noise) != 0);
    f = fopen(p, "rb");
    n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    write_bytes(fx(p, "truncated.bmp"), buf, n / 2);
    load_fails(p, def, EMBER_ERR_FORMAT, "file is truncated: its header describes 32 x 32 pixels");
    /* stb_image would read these as zeros or leave pixels unwritten; the
     * header fixes their length, so a short file is refused. */
    for (int rle = 0; rle < 2; rle++) {
        stbi_write_tga_with_rle = rle; /* stb_image_write's own global setting */
        CHECK(stbi_write_tga(fx(p, "whole.tga"), TW, TH, 3, noise) != 0);
        f = fopen(p, "rb");
        n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        ember_tensor *t = load_ok(p, NULL, TH, TW, 3); /* whole: fine */
        ember_tensor_destroy(t);
        /* The last 30 bytes are pixels (no footer is written). */
        write_bytes(fx(p, "truncated.tga"), buf, n - 30);
        load_fails(p, def, EMBER_ERR_FORMAT, "file is truncated");
    }
    stbi_write_tga_with_rle = 1;
    const char pgm[] = "P5\n# a comment\n3 2\n255\n\x01\x02\x03\x04\x05";
    write_bytes(fx(p, "truncated.pgm"), pgm, sizeof pgm - 1);
    load_fails(p, def, EMBER_ERR_FORMAT, "need 29 bytes, but the file has 28");
    const char ppm16[] = "P6 1 1 65535 \x01\x02\x03\x04\x05";
    write_bytes(fx(p, "truncated16.ppm"), ppm16, sizeof ppm16 - 1);
    load_fails(p, def, EMBER_ERR_FORMAT, "need 19 bytes, but the file has 18");
    /* A truncated JPEG: stb_image notices the missing end marker. */
    CHECK(stbi_write_jpg(fx(p, "whole.jpg"), TW, TH, 3, noise, 90) != 0);
    f = fopen(p, "rb");
    n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    write_bytes(fx(p, "truncated.jpg"), buf, n / 2);
    load_fails(p, def, EMBER_ERR_FORMAT, "corrupt or truncated image data");

    /* Hostile sizes: headers claiming 100000 x 100000 pixels (10^10), then
     * one within stb's own limits but over ours (20000 x 20000). Refused from
     * the header, fast and without a large allocation. */
    long rss0 = peak_rss_kib();
    double t0 = now_s();
    unsigned char bmp[54 + 16] = {'B', 'M'};
    le32(bmp + 2, sizeof bmp);
    le32(bmp + 10, 54); /* pixel data offset */
    le32(bmp + 14, 40); /* BITMAPINFOHEADER */
    le32(bmp + 18, 100000);
    le32(bmp + 22, 100000);
    bmp[26] = 1;  /* planes */
    bmp[28] = 24; /* bits per pixel */
    write_bytes(fx(p, "huge.bmp"), bmp, sizeof bmp);
    load_fails(p, def, EMBER_ERR_NOMEM, "100000 x 100000 pixels (height x width)");
    le32(bmp + 18, 20000);
    le32(bmp + 22, 20000);
    write_bytes(fx(p, "big.bmp"), bmp, sizeof bmp);
    load_fails(p, def, EMBER_ERR_NOMEM, "more than the 268435456 (2^28)");
    /* PNG: signature, IHDR (length 13, 8-bit RGB), a CRC stb does not check. */
    unsigned char png[8 + 25] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    be32(png + 8, 13);
    memcpy(png + 12, "IHDR", 4);
    be32(png + 16, 100000);
    be32(png + 20, 100000);
    png[24] = 8;
    png[25] = 2;
    write_bytes(fx(p, "huge.png"), png, sizeof png);
    load_fails(p, def, EMBER_ERR_NOMEM, "huge.png: header claims 100000 x 100000 pixels");
    /* Within the pixel cap (16000 x 16000) but with a body far too short to
     * inflate to it: refused before stb_image allocates 768 MB. */
    be32(png + 16, 16000);
    be32(png + 20, 16000);
    write_bytes(fx(p, "short.png"), png, sizeof png);
    load_fails(p, def, EMBER_ERR_FORMAT, "that need at least 744201 bytes, but the file has 33");
    const char pnm[] = "P6\n100000 100000\n255\n\x01\x02\x03";
    write_bytes(fx(p, "huge.ppm"), pnm, sizeof pnm - 1);
    load_fails(p, def, EMBER_ERR_NOMEM, "huge.ppm: header claims 100000 x 100000 pixels");
    double secs = now_s() - t0;
    long grew = peak_rss_kib() - rss0;
    CHECK_MSG(secs < HOSTILE_MAX_SECONDS, "hostile headers took %.2f s", secs);
    CHECK_MSG(grew < HOSTILE_MAX_RSS_GROWTH_KIB, "hostile headers grew the peak RSS by %ld KiB",
              grew);
}

/* ------------------------------------------------------------- data sets */

/* A grey w x h PNG filled with `v`. */
static void flat_png(const char *path, int w, int h, unsigned char v)
{
    unsigned char px[64 * 64];
    memset(px, v, (size_t)w * (size_t)h);
    write_png(path, w, h, 1, px);
}

static void test_folder(void)
{
    char root[PATH_BYTES], p[PATH_BYTES];
    fx(root, "set");
    make_dir(root);
    /* Created out of order: the loader sorts. "Cats" < "dogs" in byte order. */
    make_dir(fx(p, "set/dogs"));
    make_dir(fx(p, "set/Cats"));
    make_dir(fx(p, "set/.git"));     /* hidden: not a class */
    make_dir(fx(p, "set/Cats/sub")); /* a folder inside a class: ignored */
    flat_png(fx(p, "set/Cats/sub/x.png"), 2, 2, 99);
    flat_png(fx(p, "set/dogs/c.PNG"), 2, 2, 30);
    flat_png(fx(p, "set/Cats/b.png"), 2, 2, 20);
    flat_png(fx(p, "set/Cats/a.png"), 2, 2, 10);
    flat_png(fx(p, "set/Cats/.hidden.png"), 2, 2, 99);
    write_bytes(fx(p, "set/Cats/notes.txt"), "x", 1);       /* skipped, counted */
    write_bytes(fx(p, "set/README"), "top-level file", 14); /* no class: ignored */

    ember_image_options o = ember_image_options_default();
    o.channels = 0; /* grey, from the first image */
    o.scale = 1.0f;
    ember_image_dataset *d = NULL;
    CHECK_OK(ember_image_dataset_load_folder(&d, root, &o, &err), &err);
    if (d) {
        CHECK(ember_image_dataset_size(d) == 3);
        CHECK(ember_image_dataset_class_count(d) == 2);
        const char *c0 = ember_image_dataset_class_name(d, 0),
                   *c1 = ember_image_dataset_class_name(d, 1);
        CHECK(c0 && strcmp(c0, "Cats") == 0);
        CHECK(c1 && strcmp(c1, "dogs") == 0);
        CHECK(ember_image_dataset_class_name(d, 2) == NULL);
        CHECK(ember_image_dataset_class_name(d, -1) == NULL);
        CHECK(ember_image_dataset_skipped(d) == 1);
        const char *want_path[3] = {"set/Cats/a.png", "set/Cats/b.png", "set/dogs/c.PNG"};
        const float want_label[3] = {0, 0, 1}, want_value[3] = {10, 20, 30};
        const ember_tensor *x = ember_image_dataset_images(d), *y = ember_image_dataset_labels(d);
        CHECK(x && x->ndim == 4 && x->shape[0] == 3 && x->shape[1] == 2 && x->shape[2] == 2 &&
              x->shape[3] == 1);
        CHECK(y && y->ndim == 1 && y->shape[0] == 3);
        for (int i = 0; i < 3 && x && y; i++) {
            char full[PATH_BYTES];
            const char *got = ember_image_dataset_path(d, i);
            CHECK_MSG(got && strcmp(got, fx(full, want_path[i])) == 0, "path %d: %s", i,
                      got ? got : "(null)");
            CHECK(y->data[i] == want_label[i]);
            for (int k = 0; k < 4; k++)
                CHECK(x->data[4 * i + k] == want_value[i]);
        }
        CHECK(ember_image_dataset_path(d, 3) == NULL);
        ember_image_dataset_destroy(d);
    }
    /* A trailing '/' on the folder gives the same paths (no "//"). */
    char slash[PATH_BYTES + 1];
    snprintf(slash, sizeof slash, "%s/", root);
    d = NULL;
    CHECK_OK(ember_image_dataset_load_folder(&d, slash, &o, &err), &err);
    if (d) {
        const char *got = ember_image_dataset_path(d, 2);
        CHECK(got && strstr(got, "//") == NULL && strstr(got, "set/dogs/c.PNG"));
        ember_image_dataset_destroy(d);
    }
    ember_image_dataset_destroy(NULL);
    CHECK(ember_image_dataset_size(NULL) == 0);

    /* Mixed sizes: an error naming the file and both sizes; with a resize, fine. */
    flat_png(fx(p, "set/dogs/d.png"), 3, 2, 40);
    d = (ember_image_dataset *)&sentinel_tensor;
    CHECK_ERR(ember_image_dataset_load_folder(&d, root, &o, &err), EMBER_ERR_SHAPE, &err,
              "set/dogs/d.png: image is 2 x 3 (height x width) but the first image, ");
    CHECK(strstr(err.message, "set/Cats/a.png, is 2 x 2") != NULL);
    CHECK(d == NULL);
    o.resize_height = 2;
    o.resize_width = 2;
    CHECK_OK(ember_image_dataset_load_folder(&d, root, &o, &err), &err);
    if (d) {
        CHECK(ember_image_dataset_size(d) == 4);
        const ember_tensor *x = ember_image_dataset_images(d);
        CHECK(x && fabs(x->data[3 * 4] - 40.0f) < RESIZE_TOL);
        ember_image_dataset_destroy(d);
    }

    /* An empty class folder (only a non-image file) names the folder. */
    make_dir(fx(p, "set/empty"));
    write_bytes(fx(p, "set/empty/readme.md"), "x", 1);
    d = NULL;
    CHECK_ERR(ember_image_dataset_load_folder(&d, root, &o, &err), EMBER_ERR_FORMAT, &err,
              "set/empty: class folder holds no image files");
    CHECK(d == NULL);

    /* No class folders at all. */
    make_dir(fx(p, "flat"));
    flat_png(fx(p, "flat/a.png"), 2, 2, 1);
    CHECK_ERR(ember_image_dataset_load_folder(&d, fx(p, "flat"), &o, &err), EMBER_ERR_FORMAT, &err,
              "flat: no class folders");
    CHECK_ERR(ember_image_dataset_load_folder(&d, fx(p, "flat/a.png"), &o, &err), EMBER_ERR_ARG,
              &err, "flat/a.png: not a folder");
    CHECK_ERR(ember_image_dataset_load_folder(&d, fx(p, "nowhere"), &o, &err), EMBER_ERR_IO, &err,
              "nowhere: cannot open");
    CHECK(d == NULL);
}

static void test_files(void)
{
    char p[PATH_BYTES];
    enum { N = 24 };
    char names[N][PATH_BYTES];
    const char *paths[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "list%02d.png", i);
        fx(names[i], name);
        flat_png(names[i], 3, 2, (unsigned char)(5 * i));
        paths[i] = names[i];
    }
    ember_image_options o = ember_image_options_default();
    o.scale = 1.0f;
    o.channels = 3; /* grey files, as RGB */
    ember_image_dataset *d = NULL;
    CHECK_OK(ember_image_dataset_load_files(&d, N, paths, &o, &err), &err);
    if (d) {
        CHECK(ember_image_dataset_size(d) == N);
        CHECK(ember_image_dataset_labels(d) == NULL);
        CHECK(ember_image_dataset_class_count(d) == 0);
        CHECK(ember_image_dataset_class_name(d, 0) == NULL);
        CHECK(ember_image_dataset_skipped(d) == 0);
        const ember_tensor *x = ember_image_dataset_images(d);
        CHECK(x && x->shape[0] == N && x->shape[1] == 2 && x->shape[2] == 3 && x->shape[3] == 3);
        int right = 0;
        for (int i = 0; i < N && x; i++) {
            CHECK(strcmp(ember_image_dataset_path(d, i), paths[i]) == 0);
            int all = 1;
            for (int k = 0; k < 18; k++)
                all &= x->data[18 * i + k] == (float)(5 * i);
            right += all;
        }
        CHECK_MSG(right == N, "%d of %d images hold their own values", right, N);
        ember_image_dataset_destroy(d);
    }

    /* Several bad files: the first in file order is reported, every time. */
    paths[7] = fx(names[7], "list07-corrupt.png");
    write_bytes(names[7], "\x89PNG\r\n\x1a\nxxxxxxxxxxxxxxxxxxxxxxxx", 32);
    paths[3] = fx(names[3], "list03-empty.png");
    write_bytes(names[3], "", 0);
    paths[20] = fx(names[20], "list20-missing.png");
    for (int run = 0; run < 3; run++) {
        d = (ember_image_dataset *)&sentinel_tensor;
        CHECK_ERR(ember_image_dataset_load_files(&d, N, paths, &o, &err), EMBER_ERR_FORMAT, &err,
                  "list03-empty.png: file is empty");
        CHECK(d == NULL);
    }
    /* The first file bad. */
    paths[0] = paths[7];
    CHECK_ERR(ember_image_dataset_load_files(&d, N, paths, &o, &err), EMBER_ERR_FORMAT, &err,
              "list07-corrupt.png: not an image");
    CHECK_ERR(ember_image_dataset_load_files(&d, 0, paths, &o, &err), EMBER_ERR_ARG, &err,
              "need at least one file");
    CHECK_ERR(ember_image_dataset_load_files(&d, 1, NULL, &o, &err), EMBER_ERR_ARG, &err,
              "paths is NULL");
    /* The crop is checked against the first image before anything is allocated. */
    o.crop_height = o.crop_width = 5;
    paths[0] = fx(p, "list01.png");
    CHECK_ERR(ember_image_dataset_load_files(&d, 1, paths, &o, &err), EMBER_ERR_FORMAT, &err,
              "list01.png: crop 5 x 5 (height x width) is larger than the image, 2 x 3");
}

static void test_channel_stats(void)
{
    /* [2, 1, 2, 2]: channel 0 holds 1 3 5 7 (mean 4, variance (9+1+1+9)/4 = 5),
     * channel 1 holds 2 2 2 2 (mean 2, std 0). */
    int64_t shape[4] = {2, 1, 2, 2};
    ember_tensor *x = NULL;
    CHECK_OK(ember_tensor_create(&x, 4, shape, &err), &err);
    if (!x)
        return;
    const float v[8] = {1, 2, 3, 2, 5, 2, 7, 2};
    memcpy(x->data, v, sizeof v);
    float mean[3] = {-1, -1, -1}, std[3] = {-1, -1, -1};
    CHECK_OK(ember_image_channel_stats(x, mean, std, &err), &err);
    CHECK(mean[0] == 4.0f && mean[1] == 2.0f);
    CHECK_CLOSE(std[0], 2.2360679775, 1e-6, 0);
    CHECK(std[1] == 0.0f);
    CHECK(mean[2] == -1.0f && std[2] == -1.0f); /* only C entries are written */

    /* Bad shapes and values. */
    x->data[5] = NAN;
    CHECK_ERR(ember_image_channel_stats(x, mean, std, &err), EMBER_ERR_NUMERIC, &err,
              "element 5 (channel 1) is nan");
    ember_tensor_destroy(x);
    int64_t wide[4] = {1, 1, 1, 4};
    CHECK_OK(ember_tensor_create(&x, 4, wide, &err), &err);
    CHECK_ERR(ember_image_channel_stats(x, mean, std, &err), EMBER_ERR_SHAPE, &err,
              "x has 4 channels");
    ember_tensor_destroy(x);
    int64_t flat[2] = {3, 3};
    CHECK_OK(ember_tensor_create(&x, 2, flat, &err), &err);
    CHECK_ERR(ember_image_channel_stats(x, mean, std, &err), EMBER_ERR_SHAPE, &err,
              "x has 2 dimensions");
    ember_tensor_destroy(x);
    int64_t none[4] = {0, 2, 2, 3};
    CHECK_OK(ember_tensor_create(&x, 4, none, &err), &err);
    CHECK_ERR(ember_image_channel_stats(x, mean, std, &err), EMBER_ERR_SHAPE, &err, "x is empty");
    ember_tensor_destroy(x);

    /* Stats of a loaded RGB image ([H, W, C] accepted too). */
    char p[PATH_BYTES];
    const unsigned char rgb[6] = {0, 10, 100, 255, 30, 100};
    write_png(fx(p, "stats.png"), 2, 1, 3, rgb);
    ember_image_options o = ember_image_options_default();
    o.scale = 1.0f;
    ember_tensor *t = load_ok(p, &o, 1, 2, 3);
    if (t) {
        CHECK_OK(ember_image_channel_stats(t, mean, std, &err), &err);
        CHECK(mean[0] == 127.5f && mean[1] == 20.0f && mean[2] == 100.0f);
        CHECK(std[0] == 127.5f && std[1] == 10.0f && std[2] == 0.0f);
        ember_tensor_destroy(t);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ember-image-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_options();
    test_options_json();
    test_png();
    test_other_formats();
    test_resize_crop();
    test_bad_files();
    test_folder();
    test_files();
    test_channel_stats();
    CHECK(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
    return check_summary("image_data");
}
