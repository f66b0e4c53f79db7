/*
 * inspect.c - `ember inspect MODEL [--json]`: what a model file says about
 * itself: the architecture, and the lineage `ember train` recorded (the
 * data's fingerprints, every setting, the code, when and where, the history
 * and final metrics), then the rest of its metadata.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char inspect_usage[] =
    "usage: ember inspect MODEL [--json]\n"
    "\n"
    "Print what a model file records about itself: its layers and parameters (for a\n"
    "recommender: the model, users and items), and the\n"
    "lineage `ember train` stored: the data it was trained and validated on (each\n"
    "file's SHA-256, record count and content hash), every setting with its resolved\n"
    "value (defaults included), the seed and thread count, Ember's version and git\n"
    "commit, when and on which host it ran, the per-epoch history and the final\n"
    "metrics; then any other metadata (the calibrated threshold of `ember calibrate`).\n"
    "`ember reproduce MODEL` re-runs the training from this record.\n"
    "\n"
    "  --json    one JSON object: model (the file), architecture (as /v1/model of\n"
    "            serve: layers, params), metadata (every key; JSON values parsed)\n"
    "\n"
    "Exit status: 0 ok, 1 usage error, 2 the model cannot be read.\n";

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static const char *str_or(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static void print_value(const cJSON *v)
{
    if (cJSON_IsString(v)) {
        fputs(v->valuestring, stdout);
    } else if (cJSON_IsNumber(v)) {
        printf("%.9g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        fputs(cJSON_IsTrue(v) ? "yes" : "no", stdout);
    } else if (cJSON_IsNull(v)) {
        fputs("-", stdout);
    } else {
        char *t = cJSON_PrintUnformatted(v);
        fputs(t ? t : "?", stdout);
        free(t);
    }
}

static void print_data(const cJSON *data)
{
    const cJSON *role;
    cJSON_ArrayForEach(role, data) {
        printf("  %-6s %.0f file%s, %.0f records, content sha256 %s\n", role->string,
               get(role, "files_count") ? get(role, "files_count")->valuedouble : 0,
               get(role, "files_count") && get(role, "files_count")->valuedouble == 1 ? "" : "s",
               get(role, "records") ? get(role, "records")->valuedouble : 0,
               str_or(role, "content_sha256", "?"));
        const cJSON *f;
        int shown = 0, total = cJSON_GetArraySize(get(role, "files"));
        cJSON_ArrayForEach(f, get(role, "files")) {
            if (shown++ == 8) {
                printf("         ... and %d more files\n", total - 8);
                break;
            }
            const cJSON *r = get(f, "records");
            printf("         %s  %s, %.0f bytes, ", str_or(f, "path", "?"), str_or(f, "format", "?"),
                   get(f, "bytes") ? get(f, "bytes")->valuedouble : 0);
            if (cJSON_IsNumber(r))
                printf("%.0f records, ", r->valuedouble);
            printf("sha256 %s\n", str_or(f, "sha256", "?"));
        }
    }
}

static void print_history(const cJSON *hist, const cJSON *fin)
{
    int epochs = get(hist, "epochs") ? (int)get(hist, "epochs")->valuedouble : 0;
    const cJSON *col;
    printf("  %-6s", "epoch");
    cJSON_ArrayForEach(col, hist)
        if (cJSON_IsArray(col))
            printf(" %15s", col->string);
    putchar('\n');
    for (int e = 0; e < epochs; e++) {
        printf("  %-6d", e + 1);
        cJSON_ArrayForEach(col, hist) {
            if (!cJSON_IsArray(col))
                continue;
            const cJSON *v = cJSON_GetArrayItem(col, e);
            if (cJSON_IsNumber(v))
                printf(" %15.6g", v->valuedouble);
            else
                printf(" %15s", "-");
        }
        putchar('\n');
    }
    if (fin) {
        printf("  final ");
        const cJSON *v;
        cJSON_ArrayForEach(v, fin)
            printf(" %s %.6g", v->string, v->valuedouble);
        putchar('\n');
    }
}

int cmd_inspect(int argc, char **argv)
{
    static const char *C = "inspect";
    cli_out o = {0};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(inspect_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = true;
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
    ember_model *m = NULL;
    ember_recommender *rec = NULL;
    char *desc = NULL;
    /* a recommender file is inspected too: the header says which loader fits */
    char fmt[64];
    if (ember_file_format(path, fmt, sizeof fmt, &err))
        return cli_fail_err(&o, C, &err);
    if (!strcmp(fmt, "ember-recommender") ? ember_recommender_load(&rec, path, &err)
                                          : ember_model_load(&m, path, &err))
        return cli_fail_err(&o, C, &err);
    cJSON *arch = NULL;
    if (m) {
        if (ember_model_describe_json(m, &desc, &err)) {
            ember_model_destroy(m);
            return cli_fail_err(&o, C, &err);
        }
        arch = cJSON_Parse(desc);
        free(desc);
    } else {
        arch = cJSON_CreateObject();
        cJSON_AddStringToObject(arch, "recommender", ember_recommender_model(rec));
        cJSON_AddNumberToObject(arch, "users", (double)ember_recommender_user_count(rec));
        cJSON_AddNumberToObject(arch, "items", (double)ember_recommender_item_count(rec));
        cJSON_AddNumberToObject(arch, "cold_users", (double)ember_recommender_cold_users(rec));
        cJSON_AddNumberToObject(arch, "cold_items", (double)ember_recommender_cold_items(rec));
    }
    /* every metadata key; JSON values parsed */
    cJSON *meta = cJSON_CreateObject();
    int nmeta = m ? ember_model_metadata_count(m) : ember_recommender_metadata_count(rec);
    for (int i = 0; meta && i < nmeta; i++) {
        const char *k = m ? ember_model_metadata_key(m, i) : ember_recommender_metadata_key(rec, i);
        const char *v = m ? ember_model_get_metadata(m, k) : ember_recommender_get_metadata(rec, k);
        cJSON *j = v && (v[0] == '{' || v[0] == '[') ? cJSON_Parse(v) : NULL;
        cJSON_AddItemToObject(meta, k, j ? j : cJSON_CreateString(v ? v : ""));
    }
    int rc = EXIT_OK;
    if (!meta || !arch) {
        rc = cli_fail(&o, C, EXIT_DATA, "out of memory");
    } else if (o.json) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "model", path);
        cJSON_AddItemToObject(out, "architecture", arch);
        cJSON_AddItemToObject(out, "metadata", meta);
        arch = meta = NULL;
        char *t = cJSON_Print(out);
        puts(t ? t : "{}");
        free(t);
        cJSON_Delete(out);
    } else if (!o.quiet) {
        printf("model: %s\n", path);
        if (m)
            ember_model_summary(m, stdout);
        else
            printf("recommender (%s): %lld users (%lld cold), %lld items (%lld cold)\n",
                   ember_recommender_model(rec), (long long)ember_recommender_user_count(rec),
                   (long long)ember_recommender_cold_users(rec),
                   (long long)ember_recommender_item_count(rec),
                   (long long)ember_recommender_cold_items(rec));
        const cJSON *run = get(meta, CLI_META_LINEAGE_RUN), *cfg = get(meta, CLI_META_LINEAGE_CONFIG);
        if (!cJSON_IsObject(run)) {
            printf("\nno lineage recorded (not trained by `ember train`, or by a version before "
                   "lineage was recorded)\n");
        } else {
            printf("\nlineage\n");
            printf("  trained   %s .. %s (%.1f s) on host %s\n", str_or(run, "started", "?"),
                   str_or(run, "finished", "?"),
                   get(run, "seconds") ? get(run, "seconds")->valuedouble : NAN,
                   str_or(run, "host", "?"));
            printf("  code      Ember %s, git commit %s\n", str_or(run, "ember_version", "?"),
                   str_or(run, "git_commit", "?"));
            printf("  seed      %.0f, %.0f threads\n",
                   get(run, "seed") ? get(run, "seed")->valuedouble : NAN,
                   get(run, "threads") ? get(run, "threads")->valuedouble : NAN);
            const cJSON *a;
            printf("  command   ember");
            cJSON_ArrayForEach(a, get(run, "command"))
                printf(" %s", a->valuestring);
            if (cJSON_GetArraySize(get(cfg, "args")) > 0) {
                printf("\n  re-run    ember train");
                cJSON_ArrayForEach(a, get(cfg, "args"))
                    printf(" %s", a->valuestring);
            }
            printf("\n\ndata\n");
            print_data(get(meta, CLI_META_LINEAGE_DATA));
            printf("\nsettings (resolved, defaults included)\n");
            int col = 0;
            cJSON_ArrayForEach(a, get(cfg, "options")) {
                printf(col == 0 ? "  " : "  ");
                printf("%s=", a->string);
                print_value(a);
                if (++col == 4) {
                    putchar('\n');
                    col = 0;
                }
            }
            if (col)
                putchar('\n');
            printf("\nhistory\n");
            print_history(get(meta, CLI_META_LINEAGE_HISTORY), get(meta, CLI_META_LINEAGE_METRICS));
        }
        /* the rest of the metadata */
        int header = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, meta) {
            if (!strncmp(v->string, "lineage.", 8))
                continue;
            if (!header++)
                printf("\nother metadata\n");
            if (cJSON_IsString(v) && !strchr(v->valuestring, '\n') && strlen(v->valuestring) <= 80) {
                printf("  %s = %s\n", v->string, v->valuestring);
            } else {
                char *t = cJSON_PrintUnformatted(v);
                printf("  %s: %zu bytes%s\n", v->string, t ? strlen(t) : 0,
                       cJSON_IsString(v) ? " of text" : " of JSON");
                free(t);
            }
        }
    }
    cJSON_Delete(meta);
    cJSON_Delete(arch);
    ember_model_destroy(m);
    ember_recommender_destroy(rec);
    return rc;
}
