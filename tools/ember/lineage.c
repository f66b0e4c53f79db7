/*
 * lineage.c - what `ember train` records about a run in the model file
 * (cli.h lists the keys): the data's manifests, every option with its
 * resolved value and the arguments that re-run it, when and where it ran,
 * the code, the per-epoch history and the final metrics.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int nomem(ember_error *err)
{
    snprintf(err->message, sizeof err->message, "out of memory recording the lineage");
    err->code = EMBER_ERR_NOMEM;
    return -1;
}

int cli_lineage_start(cli_lineage *L, int argc, char **argv, ember_error *err)
{
    memset(L, 0, sizeof *L);
    L->t0 = cli_now();
    L->started = (long long)time(NULL);
    L->argc = argc;
    L->argv = argv;
    L->data = cJSON_CreateObject();
    L->options = cJSON_CreateObject();
    L->args = cJSON_CreateArray();
    if (!L->data || !L->options || !L->args) {
        cli_lineage_free(L);
        return nomem(err);
    }
    return 0;
}

void cli_lineage_free(cli_lineage *L)
{
    cJSON_Delete(L->data);
    cJSON_Delete(L->options);
    cJSON_Delete(L->args);
    L->data = L->options = L->args = NULL;
}

int cli_lineage_add_data(cli_lineage *L, const char *role, const char *const *paths, int n,
                         const ember_text_read_options *ro, ember_error *err)
{
    const char *given[4];
    int k = 0;
    for (int i = 0; i < n && k < 4; i++)
        if (paths[i])
            given[k++] = paths[i];
    char *manifest = NULL;
    if (ember_data_fingerprint(given, k, ro, &manifest, err))
        return -1;
    cJSON *j = cJSON_Parse(manifest);
    free(manifest);
    if (!j || !cJSON_AddItemToObject(L->data, role, j)) {
        cJSON_Delete(j);
        return nomem(err);
    }
    return 0;
}

void cli_lineage_arg(cli_lineage *L, const char *arg)
{
    cJSON_AddItemToArray(L->args, cJSON_CreateString(arg));
}

void cli_lineage_opt(cli_lineage *L, const char *flag, const char *value, int on)
{
    if (value)
        cJSON_AddStringToObject(L->options, flag, value);
    else if (on < 0)
        cJSON_AddNullToObject(L->options, flag);
    else
        cJSON_AddBoolToObject(L->options, flag, on != 0);
}

void cli_lineage_opt_num(cli_lineage *L, const char *flag, double value)
{
    cJSON_AddNumberToObject(L->options, flag, value);
}

static void iso_time(long long t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Where the lineage goes: a Sequential model or a recommender. */
typedef struct sink {
    ember_model *m;
    ember_recommender *r;
} sink;

/* Set key to the JSON text of j (deleted here). */
static int set_json(const sink *to, const char *key, cJSON *j, ember_error *err)
{
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!t)
        return nomem(err);
    int r = (to->m ? ember_model_set_metadata(to->m, key, t, err)
                   : ember_recommender_set_metadata(to->r, key, t, err))
                ? -1
                : 0;
    free(t);
    return r;
}

/* seconds per epoch into hist, when timed here (NaN: not timed by this run) */
static void add_seconds(cJSON *hist, const double *epoch_seconds, int epochs)
{
    cJSON *secs = epoch_seconds ? cJSON_AddArrayToObject(hist, "seconds") : NULL;
    for (int e = 0; secs && e < epochs; e++)
        cJSON_AddItemToArray(secs, isfinite(epoch_seconds[e])
                                       ? cJSON_CreateNumber(round(epoch_seconds[e] * 1000) / 1000)
                                       : cJSON_CreateNull());
}

/* Store data, config, run, hist and fin (all taken over) into `to`. */
static int store(cli_lineage *L, const sink *to, int threads, cJSON *hist, cJSON *fin,
                 ember_error *err)
{
    /* when, where, which code */
    cJSON *run = cJSON_CreateObject(), *cmd = cJSON_CreateArray();
    char host[256] = "", t0[32], t1[32];
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    long long now = (long long)time(NULL);
    iso_time(L->started, t0);
    iso_time(now, t1);
    for (int i = 0; cmd && i < L->argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(L->argv[i]));
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(L->options, "seed");
    if (run) {
        cJSON_AddStringToObject(run, "started", t0);
        cJSON_AddStringToObject(run, "finished", t1);
        cJSON_AddNumberToObject(run, "seconds", round((cli_now() - L->t0) * 1000) / 1000);
        cJSON_AddStringToObject(run, "host", host);
        cJSON_AddStringToObject(run, "ember_version", ember_version());
        cJSON_AddStringToObject(run, "git_commit", ember_git_commit());
        cJSON_AddNumberToObject(run, "seed", cJSON_IsNumber(seed) ? seed->valuedouble : 0);
        cJSON_AddNumberToObject(run, "threads", threads);
        cJSON_AddItemToObject(run, "command", cmd);
        cmd = NULL;
    }
    cJSON_Delete(cmd);
    cJSON *config = cJSON_CreateObject();
    if (config) {
        cJSON_AddItemToObject(config, "options", L->options);
        cJSON_AddItemToObject(config, "args", L->args);
        L->options = L->args = NULL;
    }
    cJSON *data = L->data;
    L->data = NULL;
    /* each call frees its JSON, so all are made; the first error is kept */
    ember_error e2 = {0};
    int r = set_json(to, CLI_META_LINEAGE_DATA, data, err);
    r = set_json(to, CLI_META_LINEAGE_CONFIG, config, r ? &e2 : err) || r;
    r = set_json(to, CLI_META_LINEAGE_RUN, run, r ? &e2 : err) || r;
    r = set_json(to, CLI_META_LINEAGE_HISTORY, hist, r ? &e2 : err) || r;
    r = set_json(to, CLI_META_LINEAGE_METRICS, fin, r ? &e2 : err) || r;
    return r ? -1 : 0;
}

int cli_lineage_finish(cli_lineage *L, ember_model *m, const ember_history *h,
                       const double *epoch_seconds, ember_error *err)
{
    /* history and final metrics: every metric the run had (not all NaN) */
    cJSON *hist = cJSON_CreateObject(), *fin = cJSON_CreateObject();
    int epochs = ember_history_epochs(h);
    if (!hist || !fin) {
        cJSON_Delete(hist);
        cJSON_Delete(fin);
        return nomem(err);
    }
    cJSON_AddNumberToObject(hist, "epochs", epochs);
    for (int k = 0; ember_history_metric(k); k++) {
        const char *name = ember_history_metric(k);
        int any = 0;
        for (int e = 0; e < epochs; e++)
            any |= !isnan(ember_history_get(h, name, e));
        if (!any)
            continue;
        cJSON *a = cJSON_AddArrayToObject(hist, name);
        for (int e = 0; a && e < epochs; e++) {
            double v = ember_history_get(h, name, e);
            cJSON_AddItemToArray(a, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
        }
        double last = ember_history_get(h, name, epochs - 1);
        if (isfinite(last))
            cJSON_AddNumberToObject(fin, name, last);
    }
    add_seconds(hist, epoch_seconds, epochs);
    sink to = {m, NULL};
    return store(L, &to, ember_model_get_threads(m), hist, fin, err);
}

int cli_lineage_finish_recommender(cli_lineage *L, ember_recommender *r, const double *loss,
                                   const double *epoch_seconds, int epochs, int threads,
                                   ember_error *err)
{
    cJSON *hist = cJSON_CreateObject(), *fin = cJSON_CreateObject();
    cJSON *a = hist ? cJSON_AddArrayToObject(hist, "loss") : NULL;
    if (!a || !fin) {
        cJSON_Delete(hist);
        cJSON_Delete(fin);
        return nomem(err);
    }
    cJSON_AddNumberToObject(hist, "epochs", epochs);
    for (int e = 0; e < epochs; e++)
        cJSON_AddItemToArray(a, isfinite(loss[e]) ? cJSON_CreateNumber(loss[e]) : cJSON_CreateNull());
    if (epochs > 0 && isfinite(loss[epochs - 1]))
        cJSON_AddNumberToObject(fin, "loss", loss[epochs - 1]);
    add_seconds(hist, epoch_seconds, epochs);
    sink to = {NULL, r};
    return store(L, &to, threads, hist, fin, err);
}

int cli_lineage_data_file(const char *lineage_data, const char *role, char *out, size_t cap,
                          ember_error *err)
{
    cJSON *d = lineage_data ? cJSON_Parse(lineage_data) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, role);
    const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "inputs"), 0);
    int r = -1;
    char *text = NULL, *report = NULL;
    int64_t problems = 0;
    if (!cJSON_IsString(in)) {
        snprintf(err->message, sizeof err->message, "the model records no %s data (trained "
                 "before lineage was recorded?)", role);
        err->code = EMBER_ERR_ARG;
    } else if (!(text = cJSON_PrintUnformatted(m))) {
        nomem(err);
    } else if (ember_data_verify(text, NULL, &report, &problems, err) == EMBER_OK) {
        if (problems == 0 && strlen(in->valuestring) < cap) {
            snprintf(out, cap, "%s", in->valuestring);
            r = 0;
        } else {
            snprintf(err->message, sizeof err->message, "the %s data the model records, %.200s, "
                     "is %s", role, in->valuestring,
                     problems ? "missing or changed since (ember data verify tells which)"
                              : "a path too long");
            err->code = EMBER_ERR_ARG;
        }
    }
    free(report);
    free(text);
    cJSON_Delete(d);
    return r;
}

int cli_recommender_train_file(const char *model, char *out, size_t cap, ember_error *err)
{
    ember_recommender *r = NULL;
    if (ember_recommender_load(&r, model, err))
        return -1;
    int rc = cli_lineage_data_file(ember_recommender_get_metadata(r, CLI_META_LINEAGE_DATA),
                                   "train", out, cap, err);
    ember_recommender_destroy(r);
    return rc;
}
