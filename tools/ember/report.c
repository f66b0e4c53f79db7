/*
 * report.c - `ember report MODEL [--test FILE] -o report.html`: one
 * self-contained HTML page about a model (ember_report_write_html), from the
 * model file alone (its lineage holds the history, the metrics and the data)
 * plus, optionally, test data read as `ember test` reads it. A recommender
 * file (told by ember_file_format) gets its own page
 * (ember_report_write_recommender_html) from --test and --train.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char report_usage[] =
    "usage: ember report MODEL [--test FILE] -o REPORT.html [options]\n"
    "       ember report REC.safetensors [--test TEST --train TRAIN] [--k K] -o REPORT.html\n"
    "\n"
    "Write one self-contained HTML page (inline SVG; nothing is loaded from a network)\n"
    "about a trained model: loss and accuracy per epoch for training and validation,\n"
    "the lineage (when and where it was trained, the data files with their SHA-256,\n"
    "every setting), and with --test the per-class precision/recall/F1 (a sortable\n"
    "table and a bar chart), the confusion matrix as a heat map with the most\n"
    "confused pairs, and for image models a grid of misclassified test images.\n"
    "Everything but the test results comes from the model file.\n"
    "\n"
    "For a recommender (a model of `ember recommend train`; the kind is read from the\n"
    "file): the model's kind, users, items and settings, and with --test and --train\n"
    "the RMSE and MAE of a rating (MSE) model and, for every model, Recall, NDCG, HR\n"
    "and MAP at K and coverage next to the most-popular and random baselines (a table\n"
    "and a grouped bar chart), as `ember recommend eval --k K` computes them.\n"
    "\n"
    "  -o, --out FILE       the HTML file to write (required)\n"
    "  --test FILE          labelled test data, any format `ember test` reads; for a\n"
    "                       recommender an interaction file\n"
    "  --title T            the page's title (default: MODEL)\n"
    "  --threads N          threads for predicting the test data (RMSE/MAE)\n"
    "  --json               print {\"report\", \"test_examples\", \"accuracy\"} when done\n"
    "                       (a recommender: {\"report\", \"kind\", \"users\", \"items\"})\n"
    "  --quiet              print nothing but errors\n"
    "classifier only:\n"
    "  --labels FILE        IDX: the test labels (default: by the MNIST naming)\n"
    "  --text-column C      CSV/TSV columns, as for train\n"
    "  --label-column C\n"
    "  --skip-bad-lines     text: skip (and count) malformed lines and unknown labels\n"
    "  --max-images N       misclassified images shown (default 36)\n"
    "recommender only:\n"
    "  --train FILE         the model's training data (required with --test: each user's\n"
    "                       training items are left out of their ranked list)\n"
    "  --k K                the K of the top-K metrics (default 10)\n"
    "  --seed S             the random baseline's seed (default 42)\n"
    "\n"
    "Exit status: 0 ok, 1 usage error, 2 data or model error (named).\n";

/* The recommender's page: thin over ember_report_write_recommender_html. */
static int report_recommender(const cli_out *o, const char *model, const char *out,
                              const char *test, const char *train, const char *title, int k,
                              uint64_t seed, int threads)
{
    static const char *C = "report";
    ember_error err = {0};
    ember_recommender *rec = NULL;
    ember_interactions *te = NULL, *tr = NULL;
    int rc = EXIT_OK;
    ember_recommender_report_options ro = {0};
    ro.title = title;
    ro.model_path = model;
    ro.test_path = test;
    ro.train_path = train;
    ro.k = k;
    ro.seed = seed;
    ro.threads = threads;
    if (ember_recommender_load(&rec, model, &err) ||
        (test && ember_interactions_load(&te, test, &err)) ||
        (train && ember_interactions_load(&tr, train, &err)))
        goto fail;
    ro.test = te;
    ro.train = tr;
    if (ember_report_write_recommender_html(rec, &ro, out, &err))
        goto fail;
    if (o->json) {
        printf("{\"report\":");
        cli_json_str(out);
        printf(",\"kind\":\"recommender\",\"users\":%lld,\"items\":%lld}\n",
               (long long)ember_recommender_user_count(rec),
               (long long)ember_recommender_item_count(rec));
    } else if (!o->quiet) {
        printf("wrote %s\n", out);
    }
    goto done;
fail:
    rc = cli_fail_err(o, C, &err);
done:
    ember_interactions_destroy(te);
    ember_interactions_destroy(tr);
    ember_recommender_destroy(rec);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    static const char *C = "report";
    cli_out o = {0};
    const char *model = NULL, *out = NULL, *test = NULL, *title = NULL, *train = NULL;
    /* the first option given that only one kind of model takes */
    const char *cls_only = NULL, *rec_only = NULL;
    long long max_images = 36, threads = 0, k = 0, seed = 42;
    cli_data_opts dopt = {0};
    dopt.batch = 256;
    dopt.keep_images = 1;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL, *a = argv[i];
        int r = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(report_usage, stdout);
            return EXIT_OK;
        } else if ((r = cli_common_opt(argc, argv, &i, &o, &dopt))) {
            /* --json, --quiet, --skip-bad-lines, --labels, --text-column, --label-column */
            if (!cls_only && strcmp(a, "--json") && strcmp(a, "--quiet"))
                cls_only = a;
        } else if ((r = cli_opt(argc, argv, &i, "--out", &v)) || (r = cli_opt(argc, argv, &i, "-o", &v))) {
            out = v;
        } else if ((r = cli_opt(argc, argv, &i, "--test", &v))) {
            test = v;
        } else if ((r = cli_opt(argc, argv, &i, "--title", &v))) {
            title = v;
        } else if ((r = cli_opt(argc, argv, &i, "--train", &v))) {
            train = v;
            rec_only = rec_only ? rec_only : "--train";
        } else if ((r = cli_opt(argc, argv, &i, "--k", &v))) {
            if (v && cli_parse_int(v, 1, 100000, &k))
                return cli_fail(&o, C, EXIT_USAGE, "--k: '%s' is not an integer in 1..100000", v);
            rec_only = rec_only ? rec_only : "--k";
        } else if ((r = cli_opt(argc, argv, &i, "--seed", &v))) {
            if (v && cli_parse_int(v, 0, 9007199254740992LL, &seed))
                return cli_fail(&o, C, EXIT_USAGE, "--seed: '%s' is not an integer in 0..2^53", v);
            rec_only = rec_only ? rec_only : "--seed";
        } else if ((r = cli_opt(argc, argv, &i, "--max-images", &v))) {
            cls_only = cls_only ? cls_only : "--max-images";
            if (v && cli_parse_int(v, 0, 100000, &max_images))
                return cli_fail(&o, C, EXIT_USAGE, "--max-images: '%s' is not an integer in 0..100000", v);
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v))) {
            if (v && cli_parse_int(v, 1, 4096, &threads))
                return cli_fail(&o, C, EXIT_USAGE, "--threads: '%s' is not an integer >= 1", v);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see --help)", argv[i]);
        } else if (!model) {
            model = argv[i];
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "one MODEL only (got '%s' too; test data goes "
                            "with --test)", argv[i]);
        }
        if (r < 0)
            return cli_fail(&o, C, EXIT_USAGE, "%s needs a value", argv[i]);
    }
    if (!model || !out)
        return cli_fail(&o, C, EXIT_USAGE, "need MODEL and -o REPORT.html (see --help)");
    ember_error err = {0};
    /* the kind of model from the file's header, then the page that fits */
    char format[64];
    if (ember_file_format(model, format, sizeof format, &err))
        return cli_fail_err(&o, C, &err);
    if (!strcmp(format, EMBER_FILE_FORMAT_RECOMMENDER)) {
        if (cls_only)
            return cli_fail(&o, C, EXIT_USAGE, "%s goes with a classifier; %s is a recommender "
                            "(see ember report --help)", cls_only, model);
        char recorded[4096];
        if (test && !train) { /* the training data the lineage records, if unchanged */
            ember_error le;
            memset(&le, 0, sizeof le);
            if (cli_recommender_train_file(model, recorded, sizeof recorded, &le))
                return cli_fail(&o, C, EXIT_USAGE, "--test needs the model's training data for "
                                "a recommender (its items are left out of each user's ranked "
                                "list): give --train FILE; %s", le.message);
            train = recorded;
        }
        if (train && !test)
            return cli_fail(&o, C, EXIT_USAGE, "--train goes with --test (the test data to "
                            "score)");
        return report_recommender(&o, model, out, test, train, title, (int)k, (uint64_t)seed,
                                  (int)threads);
    }
    if (rec_only)
        return cli_fail(&o, C, EXIT_USAGE, "%s goes with a recommender; %s is not one (see "
                        "ember report --help)", rec_only, model);
    ember_model *m = NULL;
    ember_class_report *rep = NULL;
    int64_t *pred = NULL;
    ember_tensor *view = NULL;
    cli_labelled l = {0};
    int rc = EXIT_OK;
    ember_report_options ro = {0};
    ro.title = title;
    ro.model_path = model;
    if (ember_model_load(&m, model, &err))
        goto fail;
    ember_model_set_threads(m, (int)threads);
    if (test) {
        if (cli_labelled_predict(m, model, test, &dopt, &l, &err))
            goto fail;
        cli_skipped_print(&o, C, &l.skipped);
        int64_t N = l.p->shape[0], K = l.p->shape[1];
        if (!(pred = malloc((size_t)(N ? N : 1) * sizeof *pred))) {
            rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
            goto done;
        }
        for (int64_t i = 0; i < N; i++) {
            const float *row = l.p->data + i * K;
            int64_t best = 0;
            for (int64_t k = 1; k < K; k++)
                best = row[k] > row[best] ? k : best;
            pred[i] = best;
        }
        if (ember_class_report_create(&rep, l.truth, pred, l.p->data, N, K, K < 5 ? (int)K : 5, &err))
            goto fail;
        if (l.cls.n && l.cls.n != K) {
            rc = cli_fail(&o, C, EXIT_DATA, "%s: the model lists %lld class names for %lld outputs",
                          model, (long long)l.cls.n, (long long)K);
            goto done;
        }
        ro.test = rep;
        ro.test_path = test;
        ro.class_names = l.cls.n ? (const char *const *)l.cls.names : NULL;
        if (l.x && l.image_ndim >= 3) {
            /* the images as images, also for a model that takes them flattened */
            if (ember_tensor_create_view(&view, l.x->data, l.image_ndim, l.image_shape, &err))
                goto fail;
            ro.images = view;
            ro.truth = l.truth;
            ro.pred = pred;
            ro.max_images = max_images > 0 ? (int)max_images : -1;
        }
        if (max_images == 0)
            ro.images = NULL;
    }
    if (ember_report_write_html(m, &ro, out, &err))
        goto fail;
    if (o.json) {
        printf("{\"report\":");
        cli_json_str(out);
        if (rep)
            printf(",\"test_examples\":%lld,\"accuracy\":%.9g}\n", (long long)rep->n, rep->accuracy);
        else
            printf(",\"test_examples\":0,\"accuracy\":null}\n");
    } else if (!o.quiet) {
        if (rep)
            printf("test: %s: %lld examples, accuracy %.4f, macro F1 %.4f\n", test, (long long)rep->n,
                   rep->accuracy, rep->macro_f1);
        printf("wrote %s\n", out);
    }
    goto done;
fail:
    rc = cli_fail_err(&o, C, &err);
done:
    ember_tensor_destroy(view);
    free(pred);
    ember_class_report_destroy(rep);
    cli_labelled_free(&l);
    ember_model_destroy(m);
    return rc;
}
