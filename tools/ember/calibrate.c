/*
 * calibrate.c - `ember calibrate MODEL FILE --target-precision P`: choose the
 * top-probability threshold at which `ember serve` answers a customer by
 * itself (and hands the rest to a person), from labelled validation data,
 * and store it in the model's metadata so the server uses it by default.
 *
 * For each example, p = the model's top probability and correct = (argmax
 * class == true label). At a threshold t the auto-answered set is
 * {p >= t}; coverage(t) = |auto| / n and precision(t) = correct among auto /
 * |auto|. The threshold is the smallest distinct p whose precision meets
 * the target (ember_calibrate_threshold, which also says whether a larger
 * threshold could dip below the target: precision is not monotone in t).
 *
 * What it deliberately doesn't do: tune the model, or write anything but
 * the two serve.* metadata keys (every other key is saved as loaded; the
 * model file's ember.version and ember.git_commit become this build's, as
 * for any save). No SHA-256 of the data file: the library has no public
 * hash function and the CLI uses ember.h only.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char calibrate_usage[] =
    "usage: ember calibrate MODEL FILE --target-precision P [options]\n"
    "\n"
    "Choose the threshold at which `ember serve` answers by itself: a request is\n"
    "answered automatically when the model's top probability is >= the threshold and\n"
    "handed to a person otherwise. FILE holds labelled examples the model was not\n"
    "trained on (same formats as train and test). For each example, p = the top\n"
    "probability and correct = (the most probable class is the true label); at a\n"
    "threshold t the answered set is {p >= t}, coverage(t) = answered / examples and\n"
    "precision(t) = correct answered / answered. The threshold is the smallest p of an\n"
    "example with precision(t) >= P (examples with equal p go together). Precision\n"
    "need not rise with t; the output says when a higher threshold falls below P.\n"
    "The threshold and the figures are saved in the model's metadata (serve.threshold,\n"
    "serve.calibration); every other setting of the model is kept.\n"
    "\n"
    "  --target-precision P  required: the precision answered requests must keep, in (0, 1]\n"
    "  --out FILE           write the calibrated model here (default: replace MODEL)\n"
    "  --labels FILE        IDX: labels file (default: found by the MNIST naming convention)\n"
    "  --text-column C      CSV/TSV columns, as for train\n"
    "  --label-column C\n"
    "  --skip-bad-lines     text: skip (and count) malformed lines and unknown labels\n"
    "  --batch-size N       (default 256)\n"
    "  --threads N          threads (default: all cores)\n"
    "  --json               one JSON object: target_precision, threshold, precision,\n"
    "                       coverage, answered, examples, monotone_above, data, model,\n"
    "                       at (precision and coverage at thresholds 0.3 0.5 0.7 0.9)\n"
    "  --quiet              print nothing but errors\n"
    "\n"
    "Exit status: 0 ok, 1 usage error, 2 data or model error, or no threshold reaches P.\n";

/* The thresholds of the trade-off table shown to the operator. */
static const double TABLE_T[] = {0.3, 0.5, 0.7, 0.9};
enum { TABLE_N = sizeof TABLE_T / sizeof TABLE_T[0] };

/* Shortest of %.15g..%.17g that reads back as v (0.95 stays "0.95"). */
static const char *num(char buf[32], double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* 3080 -> "3,080" */
static const char *grouped(char buf[32], long long v)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v), k = 0;
    if (v < 0)
        buf[k++] = '-';
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

/* The fields shared by the metadata object and the --json output, without
 * braces. The threshold is a float: "%.9g" reads back exactly with strtof. */
static void write_fields(FILE *f, double target, const ember_calibration *c, const char *data)
{
    char b1[32], b2[32], b3[32];
    fprintf(f, "\"target_precision\":%s,\"threshold\":%.9g,\"precision\":%s,\"coverage\":%s,"
               "\"answered\":%lld,\"examples\":%lld,\"monotone_above\":%s,\"data\":",
            num(b1, target), c->threshold, num(b2, c->precision), num(b3, c->coverage),
            (long long)c->answered, (long long)c->n, c->monotone_above ? "true" : "false");
    cli_json_fstr(f, data);
}

/* Precision and coverage at the table's thresholds. */
typedef struct at_row {
    int64_t answered, right;
} at_row;

static void print_human(double target, const ember_calibration *c, const at_row *rows,
                        const char *out_path, const char *stored)
{
    char a[32], n[32];
    printf("threshold %.4f: %.1f %% precision on %s of %s validation examples (%.1f %% answered "
           "automatically)\n",
           c->threshold, 100.0 * c->precision, grouped(a, c->answered), grouped(n, c->n),
           100.0 * c->coverage);
    printf("target precision %.4g %%: the smallest threshold that meets it\n", 100.0 * target);
    if (!c->monotone_above)
        printf("note: some higher thresholds fall below the target precision (precision does "
               "not always rise with the threshold)\n");
    printf("\n%9s %10s %9s %9s\n", "threshold", "precision", "coverage", "answered");
    for (int k = 0; k < TABLE_N; k++) {
        char prec[16];
        if (rows[k].answered)
            snprintf(prec, sizeof prec, "%.1f %%", 100.0 * (double)rows[k].right /
                                                       (double)rows[k].answered);
        else
            snprintf(prec, sizeof prec, "-");
        printf("%9.2f %10s %7.1f %% %9s\n", TABLE_T[k], prec,
               100.0 * (double)rows[k].answered / (double)c->n, grouped(a, rows[k].answered));
    }
    printf("\nsaved %s = %s in %s\n", EMBER_META_SERVE_THRESHOLD, stored, out_path);
}

static void print_json(double target, const ember_calibration *c, const at_row *rows,
                       const char *data, const char *out_path, const cli_skipped *skipped)
{
    putchar('{');
    write_fields(stdout, target, c, data);
    printf(",\"model\":");
    cli_json_str(out_path);
    printf(",\"at\":[");
    for (int k = 0; k < TABLE_N; k++) {
        char b[32];
        printf("%s{\"threshold\":%g,\"answered\":%lld,\"coverage\":%s,\"precision\":", k ? "," : "",
               TABLE_T[k], (long long)rows[k].answered,
               num(b, (double)rows[k].answered / (double)c->n));
        if (rows[k].answered)
            printf("%s}", num(b, (double)rows[k].right / (double)rows[k].answered));
        else
            printf("null}");
    }
    putchar(']');
    if (skipped->file)
        cli_skipped_json(skipped, 1);
    printf("}\n");
}

int cmd_calibrate(int argc, char **argv)
{
    const char *C = "calibrate";
    const char *pos[2] = {NULL, NULL}, *out_path = NULL, *target_s = NULL;
    cli_data_opts dopt = {NULL, NULL, NULL, 256, 0, 0};
    long long threads = 0;
    double target = 0;
    int npos = 0;
    cli_out o = {false, false};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(calibrate_usage, stdout);
            return EXIT_OK;
        } else if ((r = cli_common_opt(argc, argv, &i, &o, &dopt)) != 0) {
            /* --json, --quiet, --skip-bad-lines, --labels, --text-column, --label-column */
        } else if ((r = cli_opt(argc, argv, &i, "--target-precision", &v)) != 0) {
            /* (0, 1]: a target of 0 would answer everything by definition */
            if (v && (cli_parse_float(v, 0, 1, &target) || !(target > 0)))
                return cli_fail(&o, C, EXIT_USAGE, "--target-precision: '%s' is not in (0, 1]",
                                v);
            target_s = v;
        } else if ((r = cli_opt(argc, argv, &i, "--out", &v)) != 0) {
            out_path = v;
        } else if ((r = cli_opt(argc, argv, &i, "--batch-size", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1 << 24, &dopt.batch))
                return cli_fail(&o, C, EXIT_USAGE, "--batch-size: '%s' is not an integer >= 1", v);
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 4096, &threads))
                return cli_fail(&o, C, EXIT_USAGE, "--threads: '%s' is not an integer >= 1", v);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see ember calibrate --help)",
                            argv[i]);
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "unexpected argument '%s'", argv[i]);
        }
        if (r < 0)
            return cli_fail(&o, C, EXIT_USAGE, "%s needs a value", argv[i]);
    }
    if (npos != 2)
        return cli_fail(&o, C, EXIT_USAGE, "need MODEL and FILE (see ember calibrate --help)");
    if (!target_s)
        return cli_fail(&o, C, EXIT_USAGE, "--target-precision is required: the precision "
                        "automatic answers must keep, in (0, 1], e.g. 0.95");
    if (!out_path)
        out_path = pos[0];

    ember_error err;
    ember_model *m = NULL;
    cli_labelled l = {0};
    float *top = NULL;
    unsigned char *correct = NULL;
    char *meta = NULL;
    size_t meta_len = 0;
    int rc = EXIT_OK;
    if (ember_model_load(&m, pos[0], &err))
        goto fail;
    /* ember.threads records the training run (with the seed it reproduces the
     * weights): predict with the threads asked for, save the recorded count */
    int train_threads = ember_model_get_threads(m);
    ember_model_set_threads(m, (int)threads);
    if (cli_labelled_predict(m, pos[0], pos[1], &dopt, &l, &err))
        goto fail;
    cli_skipped_print(&o, C, &l.skipped);
    int64_t N = l.p->shape[0], K = l.p->shape[1];
    top = malloc((size_t)(N ? N : 1) * sizeof *top);
    correct = malloc((size_t)(N ? N : 1));
    if (!top || !correct) {
        rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
        goto done;
    }
    at_row rows[TABLE_N] = {{0, 0}};
    for (int64_t i = 0; i < N; i++) {
        const float *row = l.p->data + i * K;
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            best = row[k] > row[best] ? k : best;
        top[i] = row[best];
        correct[i] = best == l.truth[i];
        for (int k = 0; k < TABLE_N; k++)
            if ((double)top[i] >= TABLE_T[k]) {
                rows[k].answered++;
                rows[k].right += correct[i];
            }
    }
    ember_calibration cal;
    ember_status s = ember_calibrate_threshold(top, correct, N, target, &cal, &err);
    if (s != EMBER_OK) {
        /* no reachable threshold, or outputs that are not probabilities: a
         * matter of the model and the data, not of the command line */
        const char *msg = strncmp(err.message, "calibrate: ", 11) ? err.message : err.message + 11;
        rc = cli_fail(&o, C, EXIT_DATA, "%s: %s%s", pos[1], msg,
                      s == EMBER_ERR_ARG ? " (the model's outputs must be probabilities: does its "
                                           "last layer end in softmax?)" : "");
        goto done;
    }

    char stored[32];
    snprintf(stored, sizeof stored, "%.9g", cal.threshold);
    FILE *mf = open_memstream(&meta, &meta_len);
    if (!mf) {
        rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
        goto done;
    }
    fputc('{', mf);
    write_fields(mf, target, &cal, pos[1]);
    fputc('}', mf);
    if (fclose(mf) != 0 || !meta) {
        rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
        goto done;
    }
    ember_model_set_threads(m, train_threads);
    if (ember_model_set_metadata(m, EMBER_META_SERVE_THRESHOLD, stored, &err) ||
        ember_model_set_metadata(m, EMBER_META_SERVE_CALIBRATION, meta, &err) ||
        ember_model_save(m, out_path, &err))
        goto fail;
    if (o.json)
        print_json(target, &cal, rows, pos[1], out_path, &l.skipped);
    else if (!o.quiet)
        print_human(target, &cal, rows, out_path, stored);
    goto done;
fail:
    rc = cli_fail_err(&o, C, &err);
done:
    free(meta);
    free(top);
    free(correct);
    cli_labelled_free(&l);
    ember_model_destroy(m);
    return rc;
}
