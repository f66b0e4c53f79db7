/*
 * reproduce.c - `ember reproduce MODEL`: check that the data a model was
 * trained on is still the data its lineage records (ember_data_verify of
 * every manifest), train again with the recorded arguments (seed and thread
 * count included) and compare the new weights with the model's, bit for bit
 * (ember_model_compare_weights).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char reproduce_usage[] =
    "usage: ember reproduce MODEL [--root DIR] [--keep FILE] [options]\n"
    "\n"
    "Re-run the training recorded in MODEL's lineage (see `ember inspect`) and check\n"
    "that it gives the same weights, bit for bit. First every data file the lineage\n"
    "names (training and validation data, an architecture or class-weight file) is\n"
    "checked against its recorded SHA-256: a changed, missing or new file stops here\n"
    "and is named. Then `ember train` runs with the recorded arguments (the seed and\n"
    "thread count included) and the new weights are compared with MODEL's. A\n"
    "different Ember commit is warned about: other code may train differently.\n"
    "\n"
    "  --root DIR   relative data paths of the lineage are under DIR (default: the\n"
    "               current folder, as when it was trained from there)\n"
    "  --keep FILE  save the re-trained model to FILE (default: a temporary file,\n"
    "               removed)\n"
    "  --json       one JSON object: model, reproduced, tensors, values,\n"
    "               differing_tensors, differing_values, max_abs_diff, first_tensor,\n"
    "               seconds, commit_recorded, commit_now\n"
    "  --quiet      print nothing but errors; the exit status says it\n"
    "\n"
    "Exit status: 0 the weights are identical, 1 usage error, 2 no lineage or the data\n"
    "changed (named), 3 training failed or the weights differ.\n";

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* Options whose value is a path the lineage also fingerprinted. */
static int is_path_flag(const char *a)
{
    static const char *const f[] = {"--train", "--valid", "--train-labels", "--valid-labels",
                                    "--arch", "--class-weight", NULL};
    for (const char *const *p = f; *p; p++)
        if (!strcmp(a, *p))
            return 1;
    return 0;
}

static int verify_data(const cli_out *o, const cJSON *data, const char *root, ember_error *err)
{
    int64_t bad = 0;
    const cJSON *role;
    cJSON_ArrayForEach(role, data) {
        char *manifest = cJSON_PrintUnformatted(role), *report = NULL;
        int64_t problems = 0;
        ember_status s = manifest ? ember_data_verify(manifest, root, &report, &problems, err)
                                  : EMBER_ERR_NOMEM;
        free(manifest);
        if (s) {
            free(report);
            return -1;
        }
        cJSON *r = cJSON_Parse(report);
        free(report);
        const cJSON *it;
        if (!o->quiet) {
            cJSON_ArrayForEach(it, get(r, "changed")) {
                const cJSON *same = get(it, "same_examples");
                fprintf(stderr, "ember reproduce: %s data changed: %s (sha256 %.16s... recorded, "
                        "%.16s... now%s)\n", role->string, get(it, "path")->valuestring,
                        get(it, "sha256_expected")->valuestring, get(it, "sha256_found")->valuestring,
                        cJSON_IsTrue(same) ? "; the same examples, other bytes" : "");
            }
            cJSON_ArrayForEach(it, get(r, "missing"))
                fprintf(stderr, "ember reproduce: %s data missing: %s\n", role->string, it->valuestring);
            cJSON_ArrayForEach(it, get(r, "new"))
                fprintf(stderr, "ember reproduce: %s data has a new file: %s\n", role->string,
                        it->valuestring);
        }
        cJSON_Delete(r);
        bad += problems;
    }
    if (bad) {
        snprintf(err->message, sizeof err->message, "the data is not what the model was trained "
                 "on (%lld file%s changed, missing or new); cannot reproduce", (long long)bad,
                 bad == 1 ? "" : "s");
        err->code = EMBER_ERR_FORMAT;
        return -1;
    }
    return 0;
}

int cmd_reproduce(int argc, char **argv)
{
    static const char *C = "reproduce";
    cli_out o = {0};
    const char *path = NULL, *root = NULL, *keep = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(reproduce_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = true;
        } else if ((r = cli_opt(argc, argv, &i, "--root", &v))) {
            if (r < 0)
                return cli_fail(&o, C, EXIT_USAGE, "--root needs a value");
            root = v;
        } else if ((r = cli_opt(argc, argv, &i, "--keep", &v))) {
            if (r < 0)
                return cli_fail(&o, C, EXIT_USAGE, "--keep needs a value");
            keep = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see --help)", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "one MODEL only (got '%s' too)", argv[i]);
        }
    }
    if (!path)
        return cli_fail(&o, C, EXIT_USAGE, "give the MODEL (see --help)");

    ember_error err = {0};
    ember_model *m = NULL, *again = NULL;
    cJSON *cfg = NULL, *data = NULL, *run = NULL;
    char **targv = NULL;
    char tmpdir[] = "/tmp/ember-reproduce-XXXXXX", out[64] = "";
    int made_tmp = 0, rc = EXIT_OK, targc = 0;
    if (ember_model_load(&m, path, &err)) {
        rc = cli_fail_err(&o, C, &err);
        goto done;
    }
    const char *c = ember_model_get_metadata(m, CLI_META_LINEAGE_CONFIG);
    const char *d = ember_model_get_metadata(m, CLI_META_LINEAGE_DATA);
    const char *r = ember_model_get_metadata(m, CLI_META_LINEAGE_RUN);
    cfg = c ? cJSON_Parse(c) : NULL;
    data = d ? cJSON_Parse(d) : NULL;
    run = r ? cJSON_Parse(r) : NULL;
    const cJSON *args = get(cfg, "args");
    if (!cJSON_IsArray(args) || !cJSON_IsObject(data) || !cJSON_IsObject(run)) {
        rc = cli_fail(&o, C, EXIT_DATA, "%s: no lineage (%s missing or not JSON): it was not "
                      "trained by `ember train`, or by a version before lineage was recorded",
                      path, !cJSON_IsArray(args) ? CLI_META_LINEAGE_CONFIG
                            : !cJSON_IsObject(data) ? CLI_META_LINEAGE_DATA : CLI_META_LINEAGE_RUN);
        goto done;
    }
    if (verify_data(&o, data, root, &err)) {
        rc = cli_fail(&o, C, EXIT_DATA, "%s: %s", path, err.message);
        goto done;
    }
    const char *commit = cJSON_IsString(get(run, "git_commit")) ? get(run, "git_commit")->valuestring
                                                                 : "unknown";
    if (strcmp(commit, ember_git_commit()) && !o.quiet)
        fprintf(stderr, "ember reproduce: warning: the model was trained by commit %s, this is "
                "%s; other code may give other weights\n", commit, ember_git_commit());

    /* train "recorded args" --out TMP --quiet */
    int na = cJSON_GetArraySize(args);
    targv = calloc((size_t)na + 8, sizeof *targv);
    if (!targv) {
        rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
        goto done;
    }
    targv[targc++] = strdup("train");
    const cJSON *a;
    int prev_path = 0;
    cJSON_ArrayForEach(a, args) {
        const char *s = cJSON_IsString(a) ? a->valuestring : "";
        if (prev_path && root && *root && s[0] != '/') {
            size_t n = strlen(root) + strlen(s) + 2;
            if ((targv[targc] = malloc(n)))
                snprintf(targv[targc], n, "%s/%s", root, s);
        } else {
            targv[targc] = strdup(s);
        }
        prev_path = is_path_flag(s);
        if (!targv[targc++]) {
            rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
            goto done;
        }
    }
    if (!keep) {
        if (!mkdtemp(tmpdir)) {
            rc = cli_fail(&o, C, EXIT_DATA, "cannot make a temporary folder in /tmp");
            goto done;
        }
        made_tmp = 1;
        snprintf(out, sizeof out, "%s/model", tmpdir);
    }
    targv[targc++] = strdup("--out");
    targv[targc++] = strdup(keep ? keep : out);
    targv[targc++] = strdup("--quiet");
    for (int i = 0; i < targc; i++)
        if (!targv[i]) {
            rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
            goto done;
        }
    if (!o.quiet && !o.json) {
        printf("data: every file matches its recorded SHA-256\ntraining again: ember");
        for (int i = 0; i < targc; i++)
            printf(" %s", targv[i]);
        printf("\n");
        fflush(stdout);
    }
    double t0 = cli_now();
    int trc = cmd_train(targc, targv);
    double secs = cli_now() - t0;
    if (trc != EXIT_OK) {
        rc = cli_fail(&o, C, trc == EXIT_USAGE ? EXIT_TRAIN : trc,
                      "training again failed (exit %d; its message is above)", trc);
        goto done;
    }
    ember_weights_diff wd;
    if (ember_model_load(&again, keep ? keep : out, &err) ||
        ember_model_compare_weights(m, again, &wd, &err)) {
        rc = cli_fail_err(&o, C, &err);
        goto done;
    }
    if (o.json) {
        printf("{\"model\":");
        cli_json_str(path);
        printf(",\"reproduced\":%s,\"tensors\":%d,\"values\":%lld,\"differing_tensors\":%d,"
               "\"differing_values\":%lld,\"max_abs_diff\":%.9g,\"first_tensor\":",
               wd.identical ? "true" : "false", wd.tensors, (long long)wd.values,
               wd.differing_tensors, (long long)wd.differing_values, wd.max_abs_diff);
        cli_json_str(wd.first_tensor);
        printf(",\"seconds\":%.3f,\"commit_recorded\":", secs);
        cli_json_str(commit);
        printf(",\"commit_now\":");
        cli_json_str(ember_git_commit());
        printf("}\n");
    } else if (!o.quiet) {
        if (wd.identical)
            printf("reproduced: %d weight tensors, %lld values, bit-identical (trained again in "
                   "%.1f s)\n", wd.tensors, (long long)wd.values, secs);
        else
            printf("NOT reproduced: %d of %d weight tensors differ (%lld of %lld values; first %s; "
                   "largest difference %.3g)\n", wd.differing_tensors, wd.tensors,
                   (long long)wd.differing_values, (long long)wd.values, wd.first_tensor,
                   wd.max_abs_diff);
    }
    if (!wd.identical)
        rc = EXIT_TRAIN;
done:
    if (made_tmp) {
        unlink(out);
        rmdir(tmpdir);
    }
    for (int i = 0; targv && i < targc; i++)
        free(targv[i]);
    free(targv);
    cJSON_Delete(cfg);
    cJSON_Delete(data);
    cJSON_Delete(run);
    ember_model_destroy(m);
    ember_model_destroy(again);
    return rc;
}
