/*
 * test.c - `ember test MODEL FILE` (loss and accuracy on labelled data) and
 * `ember predict MODEL FILE` (the predicted class and its probability for
 * each example). Inputs are prepared as at training time (the model's
 * recorded input scale).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char test_usage[] =
    "usage: ember test MODEL FILE [--labels FILE] [--batch-size N] [--json] [--quiet]\n"
    "\n"
    "Evaluate MODEL on labelled data: FILE is IDX images (labels found beside it by the\n"
    "MNIST naming convention, or given with --labels). Prints loss and accuracy.\n";

static const char predict_usage[] =
    "usage: ember predict MODEL FILE [--labels FILE] [--json]\n"
    "\n"
    "Print the predicted class and its probability for each example of FILE (IDX\n"
    "images), one per line: index, class, probability (JSON: one object per line).\n";

static int run(int argc, char **argv, int predict)
{
    const char *C = predict ? "predict" : "test";
    const char *pos[2] = {NULL, NULL}, *labels = NULL;
    long long batch = 256;
    int npos = 0;
    cli_out o = {false, false};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(predict ? predict_usage : test_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = true;
        } else if ((r = cli_opt(argc, argv, &i, "--labels", &v)) != 0) {
            labels = v;
        } else if ((r = cli_opt(argc, argv, &i, "--batch-size", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1 << 24, &batch))
                return cli_fail(&o, C, EXIT_USAGE, "--batch-size: '%s' is not an integer >= 1", v);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see ember %s --help)", argv[i], C);
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "unexpected argument '%s'", argv[i]);
        }
        if (r < 0)
            return cli_fail(&o, C, EXIT_USAGE, "%s needs a value", argv[i]);
    }
    if (npos != 2)
        return cli_fail(&o, C, EXIT_USAGE, "need MODEL and FILE (see ember %s --help)", C);
    ember_error err;
    ember_model *m = NULL;
    ember_tensor *x = NULL, *y = NULL, *p = NULL;
    int rc = EXIT_OK;
    if (ember_model_load(&m, pos[0], &err))
        goto fail;
    const char *sc = ember_model_get_metadata(m, CLI_META_SCALE);
    double scale = 1.0;
    if (sc && cli_parse_float(sc, 1e-12, 1e12, &scale)) {
        rc = cli_fail(&o, C, EXIT_DATA, "%s: metadata %s='%s' is not a positive number", pos[0],
                      CLI_META_SCALE, sc);
        goto done;
    }
    if (cli_load_idx_pair(pos[1], labels, (float)scale, &x, predict ? NULL : &y, &err))
        goto fail;
    if (!predict) {
        double loss, acc;
        if (ember_model_evaluate(m, x, y, batch, &loss, &acc, &err))
            goto fail;
        if (o.json) {
            printf("{\"model\":");
            cli_json_str(pos[0]);
            printf(",\"data\":");
            cli_json_str(pos[1]);
            printf(",\"examples\":%lld,\"loss\":%.9g,\"accuracy\":%.9g}\n", (long long)x->shape[0],
                   loss, acc);
        } else if (!o.quiet) {
            printf("%s on %s (%lld examples): loss %.4f - accuracy %.4f\n", pos[0], pos[1],
                   (long long)x->shape[0], loss, acc);
        }
    } else {
        if (ember_model_predict(m, x, batch, &p, &err))
            goto fail;
        int64_t K = p->shape[1];
        for (int64_t i = 0; i < p->shape[0] && !o.quiet; i++) {
            const float *row = p->data + i * K;
            int64_t best = 0;
            for (int64_t k = 1; k < K; k++)
                best = row[k] > row[best] ? k : best;
            if (o.json)
                printf("{\"index\":%lld,\"class\":%lld,\"probability\":%.6g}\n", (long long)i,
                       (long long)best, (double)row[best]);
            else
                printf("%lld\t%lld\t%.4f\n", (long long)i, (long long)best, (double)row[best]);
        }
    }
    goto done;
fail:
    rc = cli_fail_err(&o, C, &err);
done:
    ember_tensor_destroy(p);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_model_destroy(m);
    return rc;
}

int cmd_test(int argc, char **argv) { return run(argc, argv, 0); }
int cmd_predict(int argc, char **argv) { return run(argc, argv, 1); }
