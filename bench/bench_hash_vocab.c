/*
 * bench_hash_vocab.c - what ember_text_options.hash_vocab costs: fit and
 * encode time of a text file (default data/banking77/train.csv) with and
 * without it, the median of RUNS runs each, alternating the two so that a
 * slow moment of the machine hits both; and the size of the pipeline JSON
 * (what the model file's text.pipeline holds), and the time to encode the
 * same texts one per call, as `ember serve` does per request. One thread
 * (encode has no threads of its own). Not a test: it never fails on a slow result.
 *
 *   build/bench/bench_hash_vocab [FILE]
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h" /* ember__now: monotonic seconds */
#include "ember.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs per configuration: the brief asks for the median of 5. */
#define RUNS 5

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "data/banking77/train.csv";
    ember_text_dataset *d = NULL;
    ember_error e;
    if (ember_text_dataset_load(&d, path, NULL, &e)) {
        fprintf(stderr, "bench_hash_vocab: %s\n", e.message);
        return 1;
    }
    /* The texts again, one data set each: encode one text per call, as
     * `ember serve` does per request (the token cache starts empty). */
    int64_t n = ember_text_dataset_size(d);
    ember_text_dataset **one = calloc((size_t)n, sizeof *one);
    for (int64_t i = 0; one && i < n; i++) {
        const char *t = ember_text_dataset_text(d, i);
        if (ember_text_dataset_create(&one[i], 1, &t, NULL, &e)) {
            fprintf(stderr, "bench_hash_vocab: %s\n", e.message);
            return 1;
        }
    }
    if (!one)
        return 1;
    double fit_s[2][RUNS], enc_s[2][RUNS], one_s[2][RUNS];
    size_t json_bytes[2] = {0, 0};
    int64_t ids = 0, V = 0;
    for (int r = 0; r < RUNS; r++) {
        for (int h = 0; h < 2; h++) {
            ember_text_options o = ember_text_options_default();
            o.hash_vocab = h;
            ember_pipeline *p = NULL;
            ember_ragged *x = NULL;
            char *json = NULL;
            double t0 = ember__now();
            if (ember_pipeline_create(&p, &o, &e) || ember_pipeline_fit(p, d, &e)) {
                fprintf(stderr, "bench_hash_vocab: %s\n", e.message);
                return 1;
            }
            double t1 = ember__now();
            ember_status st = ember_pipeline_encode(p, d, &x, NULL, &e);
            double t2 = ember__now();
            if (st || ember_pipeline_to_json(p, &json, &e)) {
                fprintf(stderr, "bench_hash_vocab: %s\n", e.message);
                return 1;
            }
            for (int64_t i = 0; i < n; i++) {
                ember_ragged *y = NULL;
                if (ember_pipeline_encode(p, one[i], &y, NULL, &e)) {
                    fprintf(stderr, "bench_hash_vocab: %s\n", e.message);
                    return 1;
                }
                ember_ragged_destroy(y);
            }
            one_s[h][r] = ember__now() - t2;
            fit_s[h][r] = t1 - t0;
            enc_s[h][r] = t2 - t1;
            json_bytes[h] = strlen(json);
            ids = x->offsets[x->n];
            V = ember_pipeline_input_dim(p) - 2;
            free(json);
            ember_ragged_destroy(x);
            ember_pipeline_destroy(p);
        }
    }
    printf("%s: %lld texts, %lld ids, %lld vocabulary words (+ buckets)\n", path,
           (long long)ember_text_dataset_size(d), (long long)ids, (long long)V);
    printf("median of %d runs, alternating\n", RUNS);
    printf("%-12s %10s %12s %18s %14s\n", "hash_vocab", "fit ms", "encode ms",
           "1 text/call us", "pipeline bytes");
    double fm[2], em[2], om[2];
    for (int h = 0; h < 2; h++) {
        fm[h] = median(fit_s[h], RUNS);
        em[h] = median(enc_s[h], RUNS);
        om[h] = median(one_s[h], RUNS) / (double)n;
        printf("%-12d %10.2f %12.2f %18.2f %14zu\n", h, 1e3 * fm[h], 1e3 * em[h], 1e6 * om[h],
               json_bytes[h]);
    }
    printf("ratio 1/0: fit %.2f, encode %.2f, one text per call %.2f; pipeline bytes %+lld\n",
           fm[1] / fm[0], em[1] / em[0], om[1] / om[0],
           (long long)json_bytes[1] - (long long)json_bytes[0]);
    for (int64_t i = 0; i < n; i++)
        ember_text_dataset_destroy(one[i]);
    free(one);
    ember_text_dataset_destroy(d);
    return 0;
}
