/*
 * test_model_torture.c - a valid model file, damaged 2,000 ways, must be
 * refused every time: truncated at 1,000 lengths spread evenly over the file,
 * and 1,000 distinct single-bit flips drawn with a fixed seed over every byte
 * (length prefix, JSON header, padding, tensor data). Each damaged file must
 * make ember_model_load fail with a message that names the file and leave
 * *out NULL; under ASan/UBSan (make asan) any crash or report fails the run.
 *
 * The model is what `ember train` writes for text: an Embedding bag model
 * with the text pipeline, the architecture text and a calibrated threshold
 * in its metadata, plus a note holding a control character, which the header
 * stores as a \u escape ("\u001b"). Flipping the case of that escape's hex
 * digit ('b' <-> 'B', one bit) gives JSON with the same meaning; the loader
 * must refuse it too (it checks that the header is exactly the text Ember
 * writes), and a targeted check below makes sure.
 *
 * Not here: the per-field messages (test_model_file.c, test_safetensors.c)
 * and random byte strings (fuzz/fuzz_model_load.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define N_TRUNCATIONS 1000
#define N_FLIPS 1000
/* Seed of the bit-flip positions (any fixed value; printed with the result). */
#define FLIP_SEED UINT64_C(0x5eed0f11b5)

static char dir[] = "/tmp/ember-torture-XXXXXX";

/* splitmix64: the flip positions depend only on FLIP_SEED. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n ? *n : 1);
    if (!b || fread(b, 1, *n, f) != *n)
        abort();
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0)
        abort();
}

/* 1 when loading `path` fails with a message naming it and *out left NULL. */
static int refused(const char *path)
{
    ember_error err;
    memset(&err, 0, sizeof err);
    ember_model *m = (ember_model *)&err; /* must be overwritten with NULL */
    ember_status s = ember_model_load(&m, path, &err);
    if (s == EMBER_OK) {
        ember_model_destroy(m);
        return 0;
    }
    return m == NULL && err.code == s && strstr(err.message, path) != NULL;
}

/* A small text model as `ember train` builds it, saved to `path`. */
static int save_text_model(const char *path)
{
    static const char *const texts[] = {
        "how do I reset my card pin", "my card was declined at the shop",
        "where is my refund", "the refund has not arrived yet",
        "top up failed twice", "can I top up with a bank transfer",
        "card pin locked after three tries", "refund for a cancelled order",
        "top up limit per day", "declined card payment abroad",
        "what is the exchange rate", "exchange rate for euro to dollar"};
    static const char *const labels[] = {"card", "card", "refund", "refund", "top_up", "top_up",
                                         "card", "refund", "top_up", "card", "rate", "rate"};
    const int64_t n = (int64_t)(sizeof texts / sizeof texts[0]);
    ember_error err;
    ember_text_dataset *d = NULL;
    ember_pipeline *p = NULL;
    ember_ragged *ids = NULL;
    ember_tensor *y = NULL;
    ember_model *m = NULL;
    char *pjson = NULL;
    ember_text_options o = ember_text_options_default();
    o.word_ngrams = 2;
    o.buckets = 64;
    static const char arch[] = "embedding 8\nglobal_average_pooling1d\ndense 16 relu\n"
                               "dense classes softmax\n";
    int ok = 0;
    CHECK_OK(ember_text_dataset_create(&d, n, texts, labels, &err), &err);
    CHECK_OK(ember_pipeline_create(&p, &o, &err), &err);
    if (!d || !p)
        goto done;
    CHECK_OK(ember_pipeline_fit(p, d, &err), &err);
    CHECK_OK(ember_pipeline_encode(p, d, &ids, &y, &err), &err);
    CHECK_OK(ember_pipeline_to_json(p, &pjson, &err), &err);
    CHECK_OK(ember_model_create_from_arch(&m, arch, "text", ember_pipeline_input_dim(p),
                                          ember_pipeline_class_count(p), 7, &err),
             &err);
    if (!ids || !y || !pjson || !m)
        goto done;
    ember_optimizer_config opt = ember_optimizer_adam(0.01f);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    ember_model_set_threads(m, 1);
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = 2;
    fc.batch_size = 4;
    CHECK_OK(ember_model_fit_ids(m, ids, y, &fc, NULL, &err), &err);
    CHECK_OK(ember_model_set_metadata(m, "cli.arch", arch, &err), &err);
    CHECK_OK(ember_model_set_metadata(m, EMBER_META_TEXT_PIPELINE, pjson, &err), &err);
    CHECK_OK(ember_model_set_metadata(m, EMBER_META_SERVE_THRESHOLD, "0.625", &err), &err);
    /* ESC: stored as "\u001b" in the header (see the top of the file) */
    CHECK_OK(ember_model_set_metadata(m, "note", "colour \x1b[1mbold\x1b[0m", &err), &err);
    CHECK_OK(ember_model_save(m, path, &err), &err);
    ok = check_failed_ == 0;
done:
    free(pjson);
    ember_model_destroy(m);
    ember_tensor_destroy(y);
    ember_ragged_destroy(ids);
    ember_pipeline_destroy(p);
    ember_text_dataset_destroy(d);
    return ok;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    if (!save_text_model(path))
        return check_summary("model_torture");
    size_t n = 0;
    unsigned char *good = read_all(path, &n);
    CHECK(good != NULL && n >= N_TRUNCATIONS);
    if (!good || n < N_TRUNCATIONS)
        return check_summary("model_torture");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | good[i];
    CHECK(8 + hlen < n);
    /* the undamaged file loads (else every refusal below means nothing) */
    {
        write_all(bad, good, n);
        CHECK_MSG(!refused(bad), "the undamaged copy must load");
    }
    double t0 = now_s();

    /* truncations: lengths i * n / 1000, i = 0..999 (distinct, as n >= 1000) */
    int trunc_refused = 0;
    for (int i = 0; i < N_TRUNCATIONS; i++) {
        size_t len = (size_t)((uint64_t)i * n / N_TRUNCATIONS);
        write_all(bad, good, len);
        if (refused(bad))
            trunc_refused++;
        else
            fprintf(stderr, "accepted: truncated to %zu of %zu bytes\n", len, n);
    }

    /* single-bit flips at distinct (byte, bit) positions drawn from FLIP_SEED */
    unsigned char *b = malloc(n);
    unsigned char *used = calloc(n, 1); /* bit mask of the flips already made */
    int flip_refused = 0, in_header = 0;
    uint64_t rng = FLIP_SEED;
    for (int i = 0; i < N_FLIPS; i++) {
        size_t at;
        int bit;
        do {
            uint64_t r = next_u64(&rng);
            at = (size_t)(r % n);
            bit = (int)((r >> 40) % 8);
        } while (used[at] & (1u << bit));
        used[at] |= (unsigned char)(1u << bit);
        in_header += at < 8 + hlen;
        memcpy(b, good, n);
        b[at] ^= (unsigned char)(1u << bit);
        write_all(bad, b, n);
        if (refused(bad))
            flip_refused++;
        else
            fprintf(stderr, "accepted: bit %d of byte %zu (0x%02x -> 0x%02x)%s\n", bit, at,
                    good[at], b[at], at < 8 + hlen ? " in the header" : "");
    }
    double elapsed = now_s() - t0;
    printf("model file: %zu bytes (8 + %llu header, %llu data)\n", n, (unsigned long long)hlen,
           (unsigned long long)(n - 8 - hlen));
    printf("truncations refused: %d/%d\n", trunc_refused, N_TRUNCATIONS);
    printf("bit flips refused: %d/%d (seed 0x%llx; %d in the length prefix or header)\n",
           flip_refused, N_FLIPS, (unsigned long long)FLIP_SEED, in_header);
    printf("2000 loads in %.2f s\n", elapsed);
    CHECK(trunc_refused == N_TRUNCATIONS);
    CHECK(flip_refused == N_FLIPS);

    /* the same-meaning flip: "\u001b" -> "\u001B" */
    int found = 0;
    for (size_t i = 8; i + 6 <= 8 + hlen; i++) {
        if (memcmp(good + i, "\\u001b", 6) != 0)
            continue;
        found++;
        memcpy(b, good, n);
        b[i + 5] ^= 0x20;
        write_all(bad, b, n);
        CHECK_MSG(refused(bad), "\\u001b -> \\u001B at byte %zu must be refused", i + 5);
    }
    CHECK_MSG(found == 2, "expected the note's two \\u001b escapes in the header, found %d", found);

    free(used);
    free(b);
    free(good);
    unlink(path);
    unlink(bad);
    rmdir(dir);
    return check_summary("model_torture");
}
