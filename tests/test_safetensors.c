/*
 * test_safetensors.c - the safetensors reader/writer (src/io/safetensors.c)
 * and the SHA-256 helper (src/io/hash.c): round trips, the byte layout
 * checked by hand, atomic saves that fail without harming the old file, and
 * hostile files written byte by byte. Works in a fresh mkdtemp directory
 * under /tmp and removes it at the end.
 *
 * Not tested here: reading the files with Python's `safetensors` package (not
 * a dependency of the test suite); the layout check below follows its rules.
 *
 * The reader parses with cJSON since it replaced a hand-written parser; cases
 * whose message changed with it: syntax errors cJSON finds say "syntax error
 * (cJSON stops) at byte N" (not "expected a value", "unterminated string",
 * "unpaired UTF-16 surrogate", or "bad escape sequence" for escapes other
 * than \u), a fraction or exponent in a number is refused before the tree is
 * read (the message gives the byte, not the tensor), and nesting beyond
 * cJSON's limit of 1000 is a syntax error.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "core.h"
#include "io/hash.h"
#include "io/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/ember_st_XXXXXX";

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static int write_bytes(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = (len == 0 || fwrite(buf, 1, len, f) == len);
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

/* Whole file into a malloc'd buffer (NULL on failure). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *q = realloc(buf, cap);
            if (!q) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = q;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | b[k];
    return v;
}

/* A file in the safetensors layout from a hand-written header (exactly
 * `json_len` bytes, no padding) and raw data bytes. */
static int write_st_raw(const char *path, const char *json, size_t json_len, const void *data,
                        size_t data_len)
{
    size_t total = 8 + json_len + data_len;
    unsigned char *buf = malloc(total);
    if (!buf)
        return -1;
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)((uint64_t)json_len >> (8 * k));
    memcpy(buf + 8, json, json_len);
    if (data_len)
        memcpy(buf + 8 + json_len, data, data_len);
    int r = write_bytes(path, buf, total);
    free(buf);
    return r;
}

/* Number of entries in the test directory whose name contains ".tmp.". */
static int count_temp_files(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------- fixtures */

enum { N_FIX = 5 };
static float fa[5], fb[12], fc[12], fs[1];

static void fixture(ember_st_tensor t[N_FIX])
{
    for (int i = 0; i < 5; i++)
        fa[i] = 0.5f * (float)i - 1.0f;
    for (int i = 0; i < 12; i++)
        fb[i] = (float)i * 1.25f + 0.1f, fc[i] = -(float)i / 7.0f;
    fb[3] = -0.0f, fb[4] = NAN, fb[5] = INFINITY, fb[6] = 1e-42f; /* bits must survive */
    fs[0] = 42.0f;
    t[0] = (ember_st_tensor){"a", 1, {5}, fa};
    t[1] = (ember_st_tensor){"b", 2, {3, 4}, fb};
    t[2] = (ember_st_tensor){"layer.0/kernel", 4, {2, 1, 3, 2}, fc};
    t[3] = (ember_st_tensor){"empty", 2, {0, 3}, NULL};
    t[4] = (ember_st_tensor){"scalar", 0, {0}, fs};
}

static const char *meta_k[] = {"note", "version"};
static const char *meta_v[] = {"say \"hi\"\n\tnaïve ∑ 😀 back\\slash", "1"};

static void test_sha256(void)
{
    ember_error err;
    char hex[EMBER_SHA256_HEX_LEN + 1];
    CHECK_OK(ember__sha256_hex("abc", 3, hex, &err), &err);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK_OK(ember__sha256_hex(NULL, 0, hex, &err), &err);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    ember_sha256 h;
    char inc[EMBER_SHA256_HEX_LEN + 1];
    CHECK_OK(ember__sha256_init(&h, &err), &err);
    CHECK_OK(ember__sha256_update(&h, "a", 1, &err), &err);
    CHECK_OK(ember__sha256_update(&h, NULL, 0, &err), &err);
    CHECK_OK(ember__sha256_update(&h, "bc", 2, &err), &err);
    CHECK_OK(ember__sha256_final(&h, inc, &err), &err);
    ember__sha256_deinit(&h); /* a no-op after final */
    CHECK(strcmp(inc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
}

/* Write the fixture, read it back, compare everything; check the bytes on
 * disk by hand. */
static void test_round_trip(void)
{
    ember_error err;
    ember_st_tensor t[N_FIX];
    fixture(t);
    char path[256];
    path_of(path, sizeof path, "model.safetensors");
    CHECK_OK(ember__st_write(path, t, N_FIX, meta_k, meta_v, 2, &err), &err);
    CHECK(count_temp_files() == 0);

    ember_st_file *f = NULL;
    CHECK_OK(ember__st_read(&f, path, &err), &err);
    if (!f)
        return;
    CHECK(ember__st_count(f) == N_FIX);
    CHECK(ember__st_has_checksum(f) == 1);
    for (int i = 0; i < N_FIX; i++) {
        CHECK(ember__st_name(f, i) && strcmp(ember__st_name(f, i), t[i].name) == 0);
        int64_t shape[EMBER_MAX_DIMS];
        CHECK(ember__st_shape(f, i, shape) == t[i].ndim);
        CHECK(memcmp(shape, t[i].shape, sizeof(int64_t) * (size_t)t[i].ndim) == 0);
        const float *data = NULL;
        CHECK_OK(ember__st_get(f, t[i].name, t[i].ndim, t[i].shape, &data, &err), &err);
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++)
            numel *= (uint64_t)t[i].shape[d];
        CHECK(data != NULL && (uintptr_t)data % EMBER_ALIGNMENT == 0);
        CHECK(numel == 0 || (data && memcmp(data, t[i].data, numel * sizeof(float)) == 0));
    }
    CHECK(ember__st_name(f, N_FIX) == NULL && ember__st_name(f, -1) == NULL);
    CHECK(ember__st_shape(f, N_FIX, (int64_t[EMBER_MAX_DIMS]){0}) == -1);
    CHECK(ember__st_meta(f, "note") && strcmp(ember__st_meta(f, "note"), meta_v[0]) == 0);
    CHECK(ember__st_meta(f, "version") && strcmp(ember__st_meta(f, "version"), "1") == 0);
    CHECK(ember__st_meta(f, "absent") == NULL);
    CHECK(ember__st_meta_count(f) == 3);
    CHECK(ember__st_meta_key(f, 0) && strcmp(ember__st_meta_key(f, 0), "note") == 0);
    CHECK(ember__st_meta_key(f, 3) == NULL);

    /* The checksum is the SHA-256 of the data section: the tensors back to back. */
    unsigned char all[sizeof fa + sizeof fb + sizeof fc + sizeof fs];
    memcpy(all, fa, sizeof fa);
    memcpy(all + sizeof fa, fb, sizeof fb);
    memcpy(all + sizeof fa + sizeof fb, fc, sizeof fc);
    memcpy(all + sizeof fa + sizeof fb + sizeof fc, fs, sizeof fs);
    char hex[EMBER_SHA256_HEX_LEN + 1];
    CHECK_OK(ember__sha256_hex(all, sizeof all, hex, &err), &err);
    const char *stored = ember__st_meta(f, EMBER_ST_CHECKSUM_KEY);
    CHECK(stored && strcmp(stored, hex) == 0);

    /* Lookup errors. */
    const float *data = NULL;
    CHECK_ERR(ember__st_get(f, "b", 2, (int64_t[]){4, 3}, &data, &err), EMBER_ERR_FORMAT, &err,
              "tensor 'b' has shape [3,4], expected [4,3]");
    CHECK(strncmp(err.message, path, strlen(path)) == 0);
    CHECK_ERR(ember__st_get(f, "b", 1, (int64_t[]){12}, &data, &err), EMBER_ERR_FORMAT, &err,
              "expected [12]");
    CHECK_ERR(ember__st_get(f, "nope", 1, (int64_t[]){1}, &data, &err), EMBER_ERR_FORMAT, &err,
              "tensor 'nope' is missing");
    CHECK_ERR(ember__st_get(f, "b", 5, (int64_t[]){1, 1, 1, 3, 4}, &data, &err), EMBER_ERR_ARG,
              &err, "ndim 5");
    CHECK(data == NULL); /* untouched by failures */
    ember__st_free(f);
    ember__st_free(NULL);

    /* Independent layout check, by hand. */
    size_t len = 0;
    unsigned char *raw = slurp(path, &len);
    CHECK(raw != NULL && len >= 8);
    if (!raw)
        return;
    uint64_t n = le64(raw);
    CHECK(n > 0 && 8 + n <= len);
    CHECK((8 + n) % 8 == 0); /* data section 8-byte aligned in the file */
    CHECK(len == 8 + n + sizeof all);
    char *json = 8 + n <= len ? malloc(n + 1) : NULL;
    CHECK(json != NULL);
    if (json) {
        memcpy(json, raw + 8, n);
        json[n] = '\0';
        CHECK(json[0] == '{');
        char *close = strrchr(json, '}');
        CHECK(close != NULL);
        for (char *c = close ? close + 1 : json + n; *c; c++)
            CHECK_MSG(*c == ' ', "padding byte 0x%02x", (unsigned char)*c);
        /* "b" follows "a" (5 floats = 20 bytes) and holds 12 floats. */
        CHECK(strstr(json, "\"b\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[20,68]}"));
        CHECK(strstr(json, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[116,120]}"));
        CHECK(strstr(json, "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[116,116]}"));
        CHECK(strstr(json, "\"note\":\"say \\\"hi\\\"\\n\\tnaïve ∑ 😀 back\\\\slash\""));
        CHECK(memcmp(raw + 8 + n + 20, fb, sizeof fb) == 0);
        CHECK(memcmp(raw + 8 + n, all, sizeof all) == 0);
        free(json);
    }
    free(raw);

    /* Saving again over the file replaces it. */
    fs[0] = -7.0f;
    CHECK_OK(ember__st_write(path, &t[4], 1, NULL, NULL, 0, &err), &err);
    CHECK_OK(ember__st_read(&f, path, &err), &err);
    if (f) {
        CHECK(ember__st_count(f) == 1 && ember__st_meta_count(f) == 1);
        CHECK_OK(ember__st_get(f, "scalar", 0, NULL, &data, &err), &err);
        CHECK(data && data[0] == -7.0f);
        ember__st_free(f);
    }
    /* No tensors at all is a valid file too. */
    CHECK_OK(ember__st_write(path, NULL, 0, NULL, NULL, 0, &err), &err);
    CHECK_OK(ember__st_read(&f, path, &err), &err);
    if (f) {
        CHECK(ember__st_count(f) == 0 && ember__st_has_checksum(f));
        ember__st_free(f);
    }
    CHECK(count_temp_files() == 0);
}

static void test_write_errors(void)
{
    ember_error err;
    ember_st_tensor t[N_FIX];
    fixture(t);
    char path[256];
    path_of(path, sizeof path, "never.safetensors");

    ember_st_tensor dup[2] = {t[0], t[1]};
    dup[1].name = "a";
    CHECK_ERR(ember__st_write(path, dup, 2, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err,
              "tensor name 'a' appears twice");
    dup[1].name = "__metadata__";
    CHECK_ERR(ember__st_write(path, dup, 2, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err, "reserved");
    dup[1] = t[1];
    dup[1].data = NULL;
    CHECK_ERR(ember__st_write(path, dup, 2, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err,
              "data is NULL but the shape has 12 elements");
    dup[1] = t[1];
    dup[1].ndim = 5;
    CHECK_ERR(ember__st_write(path, dup, 2, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err, "ndim 5");
    dup[1] = t[1];
    dup[1].shape[1] = -4;
    CHECK_ERR(ember__st_write(path, dup, 2, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err,
              "shape[1] = -4");
    dup[1] = t[1];
    dup[1].shape[0] = 1LL << 52, dup[1].shape[1] = 4;
    CHECK_ERR(ember__st_write(path, dup, 2, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err,
              "more than 2^53 bytes");
    dup[1] = t[1];
    dup[1].name = "bad\xff";
    CHECK_ERR(ember__st_write(path, dup, 2, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err,
              "not valid UTF-8");

    const char *k2[] = {"x", "x"}, *v2[] = {"1", "2"};
    CHECK_ERR(ember__st_write(path, t, 1, k2, v2, 2, &err), EMBER_ERR_ARG, &err,
              "metadata key 'x' appears twice");
    const char *k1[] = {EMBER_ST_CHECKSUM_KEY}, *v1[] = {"0"};
    CHECK_ERR(ember__st_write(path, t, 1, k1, v1, 1, &err), EMBER_ERR_ARG, &err, "reserved");
    const char *kn[] = {"x"}, *vn[] = {NULL};
    CHECK_ERR(ember__st_write(path, t, 1, kn, vn, 1, &err), EMBER_ERR_ARG, &err, "NULL");
    CHECK_ERR(ember__st_write(NULL, t, 1, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err, "path");
    CHECK_ERR(ember__st_write(path, NULL, 1, NULL, NULL, 0, &err), EMBER_ERR_ARG, &err, "NULL");
    CHECK(access(path, F_OK) != 0); /* argument errors write nothing */

    /* A directory that does not exist: EMBER_ERR_IO naming the path. */
    char missing[256];
    path_of(missing, sizeof missing, "no/such/dir/m.safetensors");
    CHECK_ERR(ember__st_write(missing, t, 1, NULL, NULL, 0, &err), EMBER_ERR_IO, &err, missing);
    CHECK(strstr(err.message, "No such file or directory") != NULL);
    CHECK(count_temp_files() == 0);

    /* The rename fails (the target is a directory): the temp file is removed. */
    char adir[256];
    path_of(adir, sizeof adir, "adir");
    CHECK(mkdir(adir, 0755) == 0);
    CHECK_ERR(ember__st_write(adir, t, 1, NULL, NULL, 0, &err), EMBER_ERR_IO, &err, "rename");
    CHECK(strncmp(err.message, adir, strlen(adir)) == 0);
    struct stat st;
    CHECK(stat(adir, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(count_temp_files() == 0);
    rmdir(adir);

    /* A write that fails half way (file size limit; root ignores permissions,
     * but not RLIMIT_FSIZE) leaves the old file byte for byte. */
    char keep[256];
    path_of(keep, sizeof keep, "keep.safetensors");
    CHECK_OK(ember__st_write(keep, t, 2, meta_k, meta_v, 2, &err), &err);
    size_t old_len = 0, new_len = 0;
    unsigned char *old = slurp(keep, &old_len);
    enum { BIG = 1 << 16 };
    float *big = calloc(BIG, sizeof(float));
    struct rlimit saved;
    if (old && big && old_len < 16384 && getrlimit(RLIMIT_FSIZE, &saved) == 0) {
        struct rlimit lim = saved;
        lim.rlim_cur = 16384;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG */
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            ember_st_tensor bt = {"big", 1, {BIG}, big};
            ember_status s = ember__st_write(keep, &bt, 1, NULL, NULL, 0, &err);
            setrlimit(RLIMIT_FSIZE, &saved);
            CHECK_MSG(s == EMBER_ERR_IO && strstr(err.message, keep) && strstr(err.message, "write"),
                      "status %d: %s", (int)s, err.message);
            unsigned char *now = slurp(keep, &new_len);
            CHECK(now && new_len == old_len && memcmp(now, old, old_len) == 0);
            free(now);
            CHECK(count_temp_files() == 0);
        } else {
            fprintf(stderr, "note: setrlimit failed (%s); partial-write test skipped\n",
                    strerror(errno));
        }
        signal(SIGXFSZ, prev);
    }
    free(big);
    free(old);
}

/* ---------------------------------------------------------- hostile files */

typedef struct bad_case {
    const char *json;
    size_t data_len;
    ember_status code;
    const char *needle;
} bad_case;

static const bad_case bad_cases[] = {
    /* dtype */
    {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, EMBER_ERR_UNSUPPORTED,
     "tensor 'a': dtype F16 is not supported"},
    {"{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_UNSUPPORTED,
     "dtype I64 is not supported"},
    {"{\"a\":{\"dtype\":\"BOGUS\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "\"BOGUS\" is not a safetensors dtype"},
    {"{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "tensor 'a': dtype must be a string, got a number"},
    /* shape */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "tensor 'a': shape[0] is -1, not a non-negative integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-0],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "tensor 'a': shape[0] is -0, not a non-negative integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "header number 2.5 at byte 37 is not a plain integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2e0],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "header number 2e0 at byte 37 is not a plain integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "not a plain integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "not a plain integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 8,
     EMBER_ERR_FORMAT, "tensor 'a': shape has more than 4 entries"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740993],\"data_offsets\":[0,8]}}", 8,
     EMBER_ERR_FORMAT, "above the limit 2^53"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740992,4],\"data_offsets\":[0,8]}}", 8,
     EMBER_ERR_FORMAT, "more than 2^53 elements"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "tensor 'a': shape must be an array of integers, got a number"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "shape[0] must be an integer, got a string"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, EMBER_ERR_FORMAT,
     "not valid JSON"},
    /* offsets and sizes */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[9007199254740993,"
     "9007199254740993]}}", 0, EMBER_ERR_FORMAT,
     "header number 9007199254740993 at byte 56 is above the limit 2^53"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551624]}}", 8,
     EMBER_ERR_FORMAT, "header number 18446744073709551624 at byte 58 is above the limit 2^53"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,1e16]}}", 8,
     EMBER_ERR_FORMAT, "header number 1e16 at byte 58 is not a plain integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[9007199254740992,"
     "9007199254740992]}}", 0, EMBER_ERR_FORMAT,
     "data_offsets [9007199254740992,9007199254740992] reach past the end"}, /* 2^53 is allowed */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,08]}}", 8, EMBER_ERR_FORMAT,
     "not valid JSON: number with a leading zero at byte 58"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, EMBER_ERR_FORMAT,
     "data_offsets [0,8] span 8 bytes, but shape [3] of F32 needs 12 bytes"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, EMBER_ERR_FORMAT,
     "tensor 'a': data_offsets [0,16] reach past the end of the data section (8 bytes"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, EMBER_ERR_FORMAT,
     "end before they begin"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8, EMBER_ERR_FORMAT,
     "data_offsets has more than 2 entries"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8, EMBER_ERR_FORMAT,
     "data_offsets must hold 2 integers"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, EMBER_ERR_FORMAT, "tensors 'a' and 'b' overlap"},
    {"{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     20, EMBER_ERR_FORMAT, "hole of 4 bytes in the data section before tensor 'b'"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, EMBER_ERR_FORMAT,
     "hole of 4 bytes"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, EMBER_ERR_FORMAT,
     "4 trailing bytes after the last tensor"},
    {"{}", 4, EMBER_ERR_FORMAT, "4 trailing bytes"},
    /* entry structure */
    {"{\"a\":[1]}", 0, EMBER_ERR_FORMAT, "tensor 'a' must be an object"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, EMBER_ERR_FORMAT,
     "tensor 'a': \"data_offsets\" is missing"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"foo\":1}}", 8,
     EMBER_ERR_FORMAT, "tensor 'a': unexpected key \"foo\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
     EMBER_ERR_FORMAT, "key \"shape\" appears twice"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, EMBER_ERR_FORMAT, "tensor name 'a' appears twice"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     8, EMBER_ERR_FORMAT, "tensor name 'a' appears twice"}, /* same entry twice, not adjacent */
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     EMBER_ERR_FORMAT, "tensor 'a': key \"dtype\" appears twice"},
    /* metadata */
    {"{\"__metadata__\":{\"k\":5},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, EMBER_ERR_FORMAT, "__metadata__ \"k\" must be a string, got a number"},
    {"{\"__metadata__\":\"x\"}", 0, EMBER_ERR_FORMAT,
     "__metadata__ must be an object of strings, got a string"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, EMBER_ERR_FORMAT, "__metadata__ appears twice"},
    {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, EMBER_ERR_FORMAT,
     "__metadata__ key \"k\" appears twice"},
    {"{\"__metadata__\":{\"ember.sha256\":"
     "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"x\":\"\","
     "\"ember.sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"}}",
     0, EMBER_ERR_FORMAT, "__metadata__ key \"ember.sha256\" appears twice"},
    {"{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, EMBER_ERR_FORMAT,
     "header string at byte 31 contains \\u0000"},
    {"{\"__metadata__\":{\"k\":\"\\u0000\"}}", 0, EMBER_ERR_FORMAT, "contains \\u0000"},
    {"{\"__metadata__\":{\"k\\u0000\":\"v\"}}", 0, EMBER_ERR_FORMAT, "contains \\u0000"},
    {"{\"__metadata__\":{\"k\":\"\xf4\x90\x80\x80\"}}", 0, EMBER_ERR_FORMAT,
     "invalid UTF-8 in a string"}, /* above U+10FFFF */
    {"{\"__metadata__\":{\"k\":\"a\\uZZZZ\"}}", 0, EMBER_ERR_FORMAT,
     "bad escape sequence"}, /* cJSON alone would read U+0000 and cut the string */
    {"{\"__metadata__\":{\"ember.sha256\":\"abc\"}}", 0, EMBER_ERR_FORMAT,
     "is not a 64-digit lowercase hex SHA-256"},
    {"{\"__metadata__\":{\"ember.sha256\":"
     "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}}",
     0, EMBER_ERR_FORMAT, "is not a 64-digit lowercase hex SHA-256"},
    /* JSON itself */
    {"{not json", 0, EMBER_ERR_FORMAT, "header is not valid JSON: syntax error (cJSON stops) at byte 10"},
    {"[1,2]", 0, EMBER_ERR_FORMAT, "the header must be a JSON object, got an array"},
    {"nonsense", 0, EMBER_ERR_FORMAT, "not valid JSON: syntax error"},
    {"   ", 0, EMBER_ERR_FORMAT, "not valid JSON"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}", 8, EMBER_ERR_FORMAT,
     "not valid JSON"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8, EMBER_ERR_FORMAT,
     "unexpected text after the header object"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, EMBER_ERR_FORMAT,
     "not valid JSON"},
    {"{\"a\xff\":{}}", 0, EMBER_ERR_FORMAT, "invalid UTF-8 in a string"},
    {"{\"w\xc3\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, EMBER_ERR_FORMAT,
     "invalid UTF-8 in a string at byte 11"}, /* a sequence cut short by the quote */
    {"{\"a\xc0\x80\":{}}", 0, EMBER_ERR_FORMAT, "invalid UTF-8"}, /* overlong NUL */
    {"{\"a\xed\xa0\x80\":{}}", 0, EMBER_ERR_FORMAT, "invalid UTF-8"}, /* surrogate */
    {"{\"a\nb\":{}}", 0, EMBER_ERR_FORMAT, "control character in a string"},
    {"{\"a\\u0000b\":{}}", 0, EMBER_ERR_FORMAT, "\\u0000"},
    {"{\"a\\ud800\":{}}", 0, EMBER_ERR_FORMAT, "not valid JSON: syntax error"}, /* unpaired */
    {"{\"a\\udc00\\ud800\":{}}", 0, EMBER_ERR_FORMAT, "not valid JSON: syntax error"},
    {"{\"a\\x\":{}}", 0, EMBER_ERR_FORMAT, "not valid JSON: syntax error"},
    {"{\"a\\u12\":{}}", 0, EMBER_ERR_FORMAT, "bad escape sequence"},
    {"{\"abc", 0, EMBER_ERR_FORMAT, "not valid JSON: syntax error"}, /* unterminated */
    {"{\"abc\\", 0, EMBER_ERR_FORMAT, "not valid JSON: syntax error"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}\x0c}", 4, EMBER_ERR_FORMAT,
     "not valid JSON"}, /* form feed is not JSON whitespace (cJSON accepts it) */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]} tru}", 4, EMBER_ERR_FORMAT,
     "not valid JSON"},
    /* garbage after the object, inside the header length */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   }", 4, EMBER_ERR_FORMAT,
     "not valid JSON: unexpected text after the header object at byte 65"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}{}", 4, EMBER_ERR_FORMAT,
     "unexpected text after the header object"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}  \x01 ", 4, EMBER_ERR_FORMAT,
     "not valid JSON: control character outside a string at byte 64"},
    {"{}  \xc2\xa0", 0, EMBER_ERR_FORMAT, "non-ASCII byte outside a string"}, /* NBSP */
    {"\xef\xbb\xbf{}", 0, EMBER_ERR_FORMAT, "non-ASCII byte outside a string at byte 8"}, /* BOM */
    {"{\"__metadata__\":{}\x01}", 0, EMBER_ERR_FORMAT, "control character outside a string"},
};

static void test_bad_headers(void)
{
    ember_error err;
    char path[256];
    path_of(path, sizeof path, "bad.safetensors");
    unsigned char data[64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37 + 11);
    for (size_t c = 0; c < sizeof bad_cases / sizeof *bad_cases; c++) {
        const bad_case *b = &bad_cases[c];
        CHECK(write_st_raw(path, b->json, strlen(b->json), data, b->data_len) == 0);
        ember_st_file *f = NULL;
        ember_status s = ember__st_read(&f, path, &err);
        CHECK_MSG(s == b->code && strstr(err.message, b->needle) &&
                      strncmp(err.message, path, strlen(path)) == 0,
                  "case %zu (%s): status %d (want %d), message \"%s\" (want \"%s\")", c, b->json,
                  (int)s, (int)b->code, s == EMBER_OK ? "" : err.message, b->needle);
        CHECK(f == NULL);
        ember__st_free(f);
    }

    /* A NUL byte inside the header (here as padding). */
    static const char with_nul[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}\0";
    CHECK(write_st_raw(path, with_nul, sizeof with_nul - 1, data, 4) == 0);
    ember_st_file *f = NULL;
    CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err, "not valid JSON");

    /* Nesting 100000 deep: cJSON stops at its limit of 1000. */
    enum { DEEP = 100000 };
    char *deep = malloc(DEEP + 64);
    if (deep) {
        size_t k = (size_t)sprintf(deep, "{\"a\":{\"shape\":");
        memset(deep + k, '[', DEEP);
        k += DEEP;
        CHECK(write_st_raw(path, deep, k, NULL, 0) == 0);
        CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err,
                  "header is not valid JSON: syntax error");
        free(deep);
    }
}

/* Valid files written by hand: any key order, whitespace, escapes, tensors
 * stored in a different order than listed, no checksum. */
static void test_good_by_hand(void)
{
    ember_error err;
    char path[256];
    path_of(path, sizeof path, "hand.safetensors");
    const float data[5] = {1.5f, -2.0f, 3.25f, 0.0f, 9.0f};
    const char *json =
        "{\n  \"\\u00e9\\ud83d\\ude00\" : {\"data_offsets\": [8, 20], \"shape\": [3],"
        " \"dtype\": \"F32\"},\r\n\t\"z\":{\"shape\":[0,5],\"dtype\":\"F32\",\"data_offsets\":[8,8]},"
        "\"w\" : {\"dtype\" : \"F32\", \"shape\" : [1, 2], \"data_offsets\" : [0, 8]},"
        "\"__metadata__\":{\"format\":\"pt\",\"\\\"q\\\"\":\"\\/\\b\\f\\n\\r\\t\","
        "\"lit\":\"\\\\u0000\\u00E9\"}}   \n";
    CHECK(write_st_raw(path, json, strlen(json), data, sizeof data) == 0);
    ember_st_file *f = NULL;
    CHECK_OK(ember__st_read(&f, path, &err), &err);
    if (!f)
        return;
    CHECK(ember__st_count(f) == 3 && ember__st_has_checksum(f) == 0);
    const float *p = NULL;
    CHECK_OK(ember__st_get(f, "é😀", 1, (int64_t[]){3}, &p, &err), &err);
    CHECK(p && memcmp(p, data + 2, 3 * sizeof(float)) == 0);
    CHECK_OK(ember__st_get(f, "w", 2, (int64_t[]){1, 2}, &p, &err), &err);
    CHECK(p && memcmp(p, data, 2 * sizeof(float)) == 0);
    CHECK_OK(ember__st_get(f, "z", 2, (int64_t[]){0, 5}, &p, &err), &err);
    CHECK(ember__st_meta(f, "format") && strcmp(ember__st_meta(f, "format"), "pt") == 0);
    CHECK(ember__st_meta(f, "\"q\"") && strcmp(ember__st_meta(f, "\"q\""), "/\b\f\n\r\t") == 0);
    /* "\\u0000" is a backslash and "u0000", not a NUL; \u00E9 (upper case) is é */
    CHECK(ember__st_meta(f, "lit") && strcmp(ember__st_meta(f, "lit"), "\\u0000é") == 0);
    ember__st_free(f);

    /* A correct checksum written by hand is accepted; a wrong one is not. */
    char hex[EMBER_SHA256_HEX_LEN + 1], text[256];
    CHECK_OK(ember__sha256_hex(data, 8, hex, &err), &err);
    snprintf(text, sizeof text,
             "{\"__metadata__\":{\"ember.sha256\":\"%s\"},"
             "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             hex);
    CHECK(write_st_raw(path, text, strlen(text), data, 8) == 0);
    CHECK_OK(ember__st_read(&f, path, &err), &err);
    CHECK(f && ember__st_has_checksum(f) == 1);
    ember__st_free(f);
    f = NULL;
    CHECK(write_st_raw(path, text, strlen(text), data + 1, 8) == 0);
    CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err,
              "checksum mismatch: the tensor data is corrupt");
    CHECK(strstr(err.message, hex) != NULL);
}

static void test_bad_sizes(void)
{
    ember_error err;
    ember_st_file *f = NULL;
    char path[256];
    path_of(path, sizeof path, "size.safetensors");
    unsigned char b[32] = {0};

    CHECK(write_bytes(path, b, 0) == 0);
    CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err,
              "file is 0 bytes, too short for the 8-byte header length");
    CHECK(write_bytes(path, "\x02\0\0\0\0", 5) == 0);
    CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err, "file is 5 bytes, too short");
    CHECK(write_bytes(path, b, 8) == 0);
    CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err, "header length is 0");
    b[0] = 100;
    memcpy(b + 8, "{}", 2);
    CHECK(write_bytes(path, b, 18) == 0);
    CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err,
              "header length 100 is larger than the 10 bytes after it");
    memset(b, 0, 8);
    b[7] = 0x40; /* 2^62 */
    CHECK(write_bytes(path, b, 18) == 0);
    CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err,
              "header length 4611686018427387904 exceeds the limit of 16777216 bytes");
    memset(b, 0xff, 8); /* 2^64 - 1 */
    CHECK(write_bytes(path, b, 18) == 0);
    CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err, "exceeds the limit");

    char missing[256];
    path_of(missing, sizeof missing, "missing.safetensors");
    CHECK_ERR(ember__st_read(&f, missing, &err), EMBER_ERR_IO, &err, "cannot open");
    CHECK(strncmp(err.message, missing, strlen(missing)) == 0);
    CHECK_ERR(ember__st_read(&f, dir, &err), EMBER_ERR_IO, &err, "not a regular file");
    CHECK_ERR(ember__st_read(NULL, path, &err), EMBER_ERR_ARG, &err, "NULL");
    CHECK(f == NULL);
}

/* Damage a file written by ember__st_write: truncations and bit flips. */
static void test_damage(void)
{
    ember_error err;
    ember_st_tensor t[N_FIX];
    fixture(t);
    char good[256], path[256];
    path_of(good, sizeof good, "good.safetensors");
    path_of(path, sizeof path, "damaged.safetensors");
    CHECK_OK(ember__st_write(good, t, N_FIX, meta_k, meta_v, 2, &err), &err);
    size_t len = 0;
    unsigned char *raw = slurp(good, &len);
    CHECK(raw && len > 8);
    if (!raw || len <= 8)
        return;
    size_t n = (size_t)le64(raw), data_at = 8 + n;
    ember_st_file *f = NULL;

    /* Every truncation is rejected; the message says why. */
    struct {
        size_t len;
        const char *needle;
    } cuts[] = {{1, "too short"},
                {7, "too short"},
                {8, "is larger than the 0 bytes after it"},
                {8 + n / 2, "is larger than"},
                {data_at - 1, "is larger than"},
                {data_at, "reach past the end of the data section"},
                {data_at + (len - data_at) / 2, "reach past the end of the data section"},
                {len - 1, "reach past the end of the data section (119 bytes"}};
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        CHECK(write_bytes(path, raw, cuts[c].len) == 0);
        ember_status s = ember__st_read(&f, path, &err);
        CHECK_MSG(s == EMBER_ERR_FORMAT && strstr(err.message, cuts[c].needle),
                  "cut at %zu: status %d, \"%s\" (want \"%s\")", cuts[c].len, (int)s,
                  s ? err.message : "", cuts[c].needle);
    }
    for (size_t cut = 0; cut < len; cut++) { /* and every other length too */
        CHECK(write_bytes(path, raw, cut) == 0);
        ember_status s = ember__st_read(&f, path, &err);
        CHECK_MSG(s == EMBER_ERR_FORMAT, "cut at %zu accepted", cut);
    }
    CHECK(f == NULL);

    /* One flipped bit in the data: the checksum catches it. */
    const char *stored = NULL;
    CHECK_OK(ember__st_read(&f, good, &err), &err);
    char sum[EMBER_SHA256_HEX_LEN + 1] = "";
    if (f && (stored = ember__st_meta(f, EMBER_ST_CHECKSUM_KEY)) != NULL)
        snprintf(sum, sizeof sum, "%s", stored);
    ember__st_free(f);
    f = NULL;
    for (size_t at = data_at; at < len; at += 13) {
        raw[at] ^= 0x10;
        CHECK(write_bytes(path, raw, len) == 0);
        CHECK_ERR(ember__st_read(&f, path, &err), EMBER_ERR_FORMAT, &err,
                  "checksum mismatch: the tensor data is corrupt (header says ");
        CHECK(strstr(err.message, sum) != NULL);
        raw[at] ^= 0x10;
    }

    /* Every single-bit flip in the length and the header. The length field
     * and the structure are always caught. A flip inside a name or a
     * metadata string, or in a dimension of a tensor with no elements
     * ([0,3] -> [0,2]), can give a valid file (the checksum covers the data
     * only; the loader's name and shape checks see those); then the data of
     * every tensor, in order, must be exactly the original. Never a crash
     * (run under ASan/valgrind). */
    int rejected = 0, accepted = 0;
    for (size_t at = 0; at < data_at; at++) {
        for (int bit = 0; bit < 8; bit++) {
            raw[at] ^= (unsigned char)(1u << bit);
            CHECK(write_bytes(path, raw, len) == 0);
            ember_status s = ember__st_read(&f, path, &err);
            raw[at] ^= (unsigned char)(1u << bit);
            if (s != EMBER_OK) {
                rejected++;
                CHECK(f == NULL && strncmp(err.message, path, strlen(path)) == 0);
                continue;
            }
            accepted++;
            CHECK_MSG(at >= 8, "flip of bit %d of length byte %zu accepted", bit, at);
            int same = ember__st_count(f) == N_FIX;
            for (int i = 0; same && i < N_FIX; i++) {
                int64_t shape[EMBER_MAX_DIMS];
                const float *p = NULL;
                size_t bytes = sizeof(float);
                for (int d = 0; d < t[i].ndim; d++)
                    bytes *= (size_t)t[i].shape[d];
                if (bytes == 0)
                    continue; /* [0,3] may have become [0,2] */
                same = ember__st_shape(f, i, shape) == t[i].ndim &&
                       memcmp(shape, t[i].shape, sizeof(int64_t) * (size_t)t[i].ndim) == 0 &&
                       ember__st_get(f, ember__st_name(f, i), t[i].ndim, t[i].shape, &p, &err) ==
                           EMBER_OK &&
                       memcmp(p, t[i].data, bytes) == 0;
            }
            CHECK_MSG(same, "flip of bit %d at byte %zu changed the tensors", bit, at);
            ember__st_free(f);
            f = NULL;
        }
    }
    CHECK(rejected > 0);
    printf("header bit flips: %d rejected, %d accepted (names, metadata text, dims of an empty tensor)\n",
           rejected, accepted);
    free(raw);
}

/* Remove the test directory (only plain files and empty directories are
 * expected in it). */
static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    test_sha256();
    test_round_trip();
    test_write_errors();
    test_bad_sizes();
    test_bad_headers();
    test_good_by_hand();
    test_damage();
    remove_dir();
    return check_summary("safetensors");
}
