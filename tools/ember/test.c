/*
 * test.c - `ember test MODEL FILE`: evaluate on labelled data and print a
 * classification report (accuracy, per-class precision/recall/F1/support,
 * macro and weighted averages, top-k accuracy, the most confused pairs; the
 * full confusion matrix with --json). Inputs are prepared exactly as in
 * training: the text pipeline or the input scale stored in the model. The
 * loading and predicting of labelled data (cli_labelled_predict) is shared
 * with `ember calibrate`.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char test_usage[] =
    "usage: ember test MODEL FILE [options]\n"
    "\n"
    "Evaluate MODEL on labelled data (same formats as train) and print accuracy,\n"
    "per-class precision/recall/F1/support, macro and weighted averages, top-k accuracy\n"
    "and the most confused label pairs.\n"
    "\n"
    "  --labels FILE        IDX: labels file (default: found by the MNIST naming convention)\n"
    "  --text-column C      CSV/TSV columns, as for train\n"
    "  --label-column C\n"
    "  --skip-bad-lines     text: skip (and count) malformed lines and labels the model\n"
    "                       does not know, instead of stopping at the first; the count\n"
    "                       and the first 5 are printed (docs/inputs.md)\n"
    "  -k K                 top-k accuracy (default 5, at most the number of classes)\n"
    "  --batch-size N       (default 256)\n"
    "  --threads N          threads (default: all cores)\n"
    "  --json               the report as one JSON object (accuracy, macro_precision,\n"
    "                       macro_recall, macro_f1, weighted_f1, per_class, confusion, n, ...)\n"
    "  --quiet              print nothing but errors\n";

int cli_model_inputs(ember_model *m, const char *model_path, ember_pipeline **pipe, double *scale,
                     ember_error *err)
{
    *pipe = NULL;
    *scale = 1.0;
    const char *pj = ember_model_get_metadata(m, CLI_META_PIPELINE);
    if (pj && ember_pipeline_from_json(pipe, pj, err)) {
        /* "pipeline JSON: options.buckets: ...": say which model holds it */
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        snprintf(err->message, sizeof err->message, "%.200s: metadata %s: %.280s", model_path,
                 CLI_META_PIPELINE, msg);
        return -1;
    }
    if (pj)
        return 0;
    const char *sc = ember_model_get_metadata(m, CLI_META_SCALE);
    if (sc && cli_parse_float(sc, 1e-12, 1e12, scale)) {
        snprintf(err->message, sizeof err->message, "%s: metadata %s='%s' is not a positive number",
                 model_path, CLI_META_SCALE, sc);
        err->code = EMBER_ERR_FORMAT;
        return -1;
    }
    return 0;
}

static void print_report(const ember_class_report *r, const cli_classes *cls, const char *model,
                         const char *data)
{
    printf("%s on %s: %lld examples, %lld classes\n\n", model, data, (long long)r->n,
           (long long)r->classes);
    int w = 12;
    for (int64_t k = 0; k < r->classes; k++) {
        const char *name = k < cls->n ? cls->names[k] : NULL;
        int len = name ? (int)strlen(name) : 6;
        w = len > w ? (len < 40 ? len : 40) : w;
    }
    printf("%-*s %9s %9s %9s %9s\n", w, "class", "precision", "recall", "f1", "support");
    for (int64_t k = 0; k < r->classes; k++) {
        char idbuf[24];
        const char *name = cli_class_name(cls, k, idbuf);
        printf("%-*.*s %9.4f %9.4f %9.4f %9lld\n", w, w, name, r->precision[k], r->recall[k],
               r->f1[k], (long long)r->support[k]);
    }
    printf("\n%-*s %9.4f %9.4f %9.4f %9lld\n", w, "macro avg", r->macro_precision, r->macro_recall,
           r->macro_f1, (long long)r->n);
    printf("%-*s %9.4f %9.4f %9.4f %9lld\n", w, "weighted avg", r->weighted_precision,
           r->weighted_recall, r->weighted_f1, (long long)r->n);
    printf("\naccuracy %.4f", r->accuracy);
    if (r->top_k > 1)
        printf(" - top-%d accuracy %.4f", r->top_k, r->top_k_accuracy);
    printf("\n");
    enum { PAIRS = 5 };
    int64_t ti[PAIRS], pi[PAIRS], cnt[PAIRS];
    int nb = ember_class_report_most_confused(r, PAIRS, ti, pi, cnt);
    if (nb > 0) {
        printf("\nmost confused (true -> predicted: count):\n");
        for (int i = 0; i < nb; i++) {
            char ba[24], bb[24];
            printf("  %s -> %s: %lld\n", cli_class_name(cls, ti[i], ba),
                   cli_class_name(cls, pi[i], bb), (long long)cnt[i]);
        }
    }
}

/* Note the images' own shape (before cli_fit_input_shape); returns 0. */
static int keep_shape(cli_labelled *out, const ember_tensor *x)
{
    out->image_ndim = x->ndim;
    for (int i = 0; i < EMBER_MAX_DIMS; i++)
        out->image_shape[i] = x->shape[i];
    return 0;
}

int cli_labelled_predict(ember_model *m, const char *model_path, const char *data_path,
                         const cli_data_opts *opt, cli_labelled *out, ember_error *err)
{
    memset(out, 0, sizeof *out);
    ember_text_dataset *d = NULL;
    ember_ragged *ids = NULL;
    ember_tensor *x = NULL, *y = NULL;
    ember_image_dataset *img = NULL;
    double scale;
    int rc = -1;
    if (cli_model_inputs(m, model_path, &out->pipe, &scale, err))
        goto done;
    if (out->pipe) {
        ember_text_read_options ro = ember_text_read_options_default();
        ro.text_column = opt->text_column;
        ro.label_column = opt->label_column;
        ro.skip_bad_lines = opt->skip_bad_lines;
        if (ember_text_dataset_load(&d, data_path, &ro, err) ||
            (opt->skip_bad_lines &&
             ember_text_dataset_drop_unknown_labels(d, out->pipe, NULL, err)))
            goto done;
        if (opt->skip_bad_lines)
            cli_skipped_take(&out->skipped, data_path, d);
        /* an unknown label is "FILE:LINE: label 'xyz' was not in the training data" */
        if (ember_pipeline_encode(out->pipe, d, &ids, &y, err) ||
            ember_model_predict_ids(m, ids, opt->batch, &out->p, err))
            goto done;
    } else if (opt->skip_bad_lines) {
        snprintf(err->message, sizeof err->message, "%s: --skip-bad-lines works with text models "
                 "only (%s reads images)", data_path, model_path);
        err->code = EMBER_ERR_ARG;
        goto done;
    } else if (!cli_is_idx(data_path) && cli_is_image_path(data_path)) {
        ember_image_options io = ember_image_options_default();
        io.scale = (float)scale;
        if (cli_model_image_options(m, &io, err) < 0 ||
            cli_model_classes(m, NULL, &out->cls, err) ||
            cli_load_image_folder(data_path, &io, out->cls.n ? &out->cls : NULL, &img, &x, &y,
                                  err) ||
            keep_shape(out, x) ||
            cli_fit_input_shape(m, x, data_path, err) ||
            ember_model_predict(m, x, opt->batch, &out->p, err))
            goto done;
    } else {
        if (cli_load_idx_pair(data_path, opt->labels, (float)scale, &x, &y, err) ||
            keep_shape(out, x) ||
            cli_fit_input_shape(m, x, data_path, err) ||
            ember_model_predict(m, x, opt->batch, &out->p, err))
            goto done;
    }
    if (!out->cls.names && cli_model_classes(m, out->pipe, &out->cls, err))
        goto done;
    int64_t N = out->p->shape[0], K = out->p->shape[1];
    if (!(out->truth = malloc((size_t)(N ? N : 1) * sizeof *out->truth))) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->code = EMBER_ERR_NOMEM;
        goto done;
    }
    for (int64_t i = 0; i < N; i++) {
        out->truth[i] = (int64_t)y->data[i];
        if (out->truth[i] < 0 || out->truth[i] >= K) {
            snprintf(err->message, sizeof err->message, "%s: example %lld has label %lld%s%s%s "
                     "but the model has %lld classes (0..%lld)", data_path, (long long)i,
                     (long long)out->truth[i], opt->labels ? " (in " : "",
                     opt->labels ? opt->labels : "", opt->labels ? ")" : "", (long long)K,
                     (long long)K - 1);
            err->code = EMBER_ERR_FORMAT;
            goto done;
        }
    }
    if (opt->keep_images && x) {
        out->x = x;
        out->img = img;
        x = NULL;
        img = NULL;
    }
    rc = 0;
done:
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_ragged_destroy(ids);
    ember_text_dataset_destroy(d);
    ember_image_dataset_destroy(img); /* after x: x is a view of its images */
    if (rc)
        cli_labelled_free(out);
    return rc;
}

void cli_labelled_free(cli_labelled *l)
{
    ember_tensor_destroy(l->p);
    free(l->truth);
    cli_classes_free(&l->cls);
    ember_pipeline_destroy(l->pipe);
    ember_tensor_destroy(l->x);
    ember_image_dataset_destroy(l->img); /* after x: x may be a view of its images */
    memset(l, 0, sizeof *l);
}

int cmd_test(int argc, char **argv)
{
    const char *C = "test";
    const char *pos[2] = {NULL, NULL};
    long long topk = 5, threads = 0;
    int npos = 0;
    cli_data_opts dopt = {NULL, NULL, NULL, 256, 0, 0};
    cli_out o = {false, false};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(test_usage, stdout);
            return EXIT_OK;
        } else if ((r = cli_common_opt(argc, argv, &i, &o, &dopt)) != 0) {
            /* --json, --quiet, --skip-bad-lines, --labels, --text-column, --label-column */
        } else if ((r = cli_opt(argc, argv, &i, "-k", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1000000, &topk))
                return cli_fail(&o, C, EXIT_USAGE, "-k: '%s' is not an integer >= 1", v);
        } else if ((r = cli_opt(argc, argv, &i, "--batch-size", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1 << 24, &dopt.batch))
                return cli_fail(&o, C, EXIT_USAGE, "--batch-size: '%s' is not an integer >= 1", v);
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 4096, &threads))
                return cli_fail(&o, C, EXIT_USAGE, "--threads: '%s' is not an integer >= 1", v);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see ember test --help)", argv[i]);
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "unexpected argument '%s'", argv[i]);
        }
        if (r < 0)
            return cli_fail(&o, C, EXIT_USAGE, "%s needs a value", argv[i]);
    }
    if (npos != 2)
        return cli_fail(&o, C, EXIT_USAGE, "need MODEL and FILE (see ember test --help)");
    ember_error err;
    ember_model *m = NULL;
    ember_class_report *rep = NULL;
    int64_t *pred = NULL;
    char *json = NULL;
    int rc = EXIT_OK;
    cli_labelled l = {0};
    if (ember_model_load(&m, pos[0], &err))
        goto fail;
    ember_model_set_threads(m, (int)threads);
    if (cli_labelled_predict(m, pos[0], pos[1], &dopt, &l, &err))
        goto fail;
    cli_skipped_print(&o, C, &l.skipped);
    const ember_tensor *p = l.p;
    const cli_classes *cls = &l.cls;
    int64_t N = p->shape[0], K = p->shape[1];
    if (!(pred = malloc((size_t)N * sizeof *pred))) {
        rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < N; i++) {
        const float *row = p->data + i * K;
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            best = row[k] > row[best] ? k : best;
        pred[i] = best;
    }
    if (ember_class_report_create(&rep, l.truth, pred, p->data, N, K, (int)(topk < K ? topk : K),
                                  &err))
        goto fail;
    if (o.json) {
        if (cls->n && cls->n != K) {
            rc = cli_fail(&o, C, EXIT_DATA, "%s: the model lists %lld class names for %lld "
                          "outputs", pos[0], (long long)cls->n, (long long)K);
            goto done;
        }
        if (ember_class_report_to_json(rep, cls->n ? (const char *const *)cls->names : NULL, &json,
                                       &err))
            goto fail;
        size_t jn = strlen(json);
        if (dopt.skip_bad_lines && jn > 0 && json[jn - 1] == '}') { /* one more field in the object */
            printf("%.*s", (int)(jn - 1), json);
            cli_skipped_json(&l.skipped, 1);
            printf("}\n");
        } else {
            printf("%s\n", json);
        }
    } else if (!o.quiet) {
        print_report(rep, cls, pos[0], pos[1]);
    }
    goto done;
fail:
    rc = cli_fail_err(&o, C, &err);
done:
    free(json);
    free(pred);
    ember_class_report_destroy(rep);
    cli_labelled_free(&l);
    ember_model_destroy(m);
    return rc;
}
