/*
 * check_json.c - ember_data_report_to_json: a data-check report as one JSON
 * object (the keys are listed in ember.h and docs/data-check.md). Built with
 * cJSON; counts are written as numbers (exact up to 2^53).
 */
#include "core.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

enum { F_DUP = 1, F_LEAK = 2 }; /* the extra keys a finding has */

/* A malloc'd copy of s (strdup is POSIX, not C11); NULL when out of memory. */
static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

static bool num(cJSON *o, const char *k, double v) { return cJSON_AddNumberToObject(o, k, v); }
static bool str(cJSON *o, const char *k, const char *v) { return cJSON_AddStringToObject(o, k, v); }

static bool finding(cJSON *parent, const char *key, const ember_data_finding *f, int flags)
{
    cJSON *o = cJSON_AddObjectToObject(parent, key), *shown;
    if (!o || !num(o, "groups", (double)f->groups) || !num(o, "examples", (double)f->examples) ||
        ((flags & F_DUP) && !num(o, "redundant", (double)f->redundant)) ||
        ((flags & F_LEAK) && (!num(o, "same_label", (double)f->same_label) ||
                              !num(o, "different_label", (double)f->different_label))) ||
        !(shown = cJSON_AddArrayToObject(o, "shown")))
        return false;
    for (int k = 0; k < f->nshown; k++) {
        const ember_data_group *g = &f->shown[k];
        cJSON *go = cJSON_CreateObject(), *ex;
        if (!go || !cJSON_AddItemToArray(shown, go) || !num(go, "train", (double)g->count[0]) ||
            !num(go, "test", (double)g->count[1]) ||
            !(ex = cJSON_AddArrayToObject(go, "examples")))
            return false;
        for (int j = 0; j < g->nshown; j++) {
            const ember_data_example *e = &g->shown[j];
            cJSON *eo = cJSON_CreateObject();
            if (!eo || !cJSON_AddItemToArray(ex, eo) ||
                !str(eo, "split", e->split ? "test" : "train") ||
                !num(eo, "index", (double)e->index) || !str(eo, "where", e->where) ||
                !str(eo, "label", e->label) || !str(eo, "text", e->text))
                return false;
        }
    }
    return true;
}

static bool stats(cJSON *parent, const char *key, const ember_data_lengths *L)
{
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    return o && num(o, "min", (double)L->min) && num(o, "median", L->median) &&
           num(o, "mean", L->mean) && num(o, "p95", (double)L->p95) &&
           num(o, "max", (double)L->max);
}

/* Classes of split s from the small (ascending) or the large end of by_count. */
static bool extremes(cJSON *o, const char *key, const ember_data_report *r, int s, bool largest)
{
    const ember_data_split_report *sr = &r->split[s];
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!a)
        return false;
    for (int64_t j = 0; j < sr->classes && j < EMBER_DATA_CHECK_EXTREMES; j++) {
        const ember_data_class *c = &r->classes[sr->by_count[largest ? sr->classes - 1 - j : j]];
        cJSON *co = cJSON_CreateObject();
        if (!co || !cJSON_AddItemToArray(a, co) || !str(co, "name", c->name) ||
            !num(co, "count", (double)c->count[s]))
            return false;
    }
    return true;
}

static bool split(cJSON *root, const ember_data_report *r, int s)
{
    const ember_data_split_report *sr = &r->split[s];
    cJSON *o = cJSON_AddObjectToObject(root, s ? "test" : "train"), *only;
    if (!o || !num(o, "examples", (double)sr->examples) || !num(o, "classes", (double)sr->classes) ||
        !num(o, "count_min", (double)sr->count_min) || !num(o, "count_median", sr->count_median) ||
        !num(o, "count_max", (double)sr->count_max) || !num(o, "imbalance", sr->imbalance) ||
        !extremes(o, "smallest", r, s, false) || !extremes(o, "largest", r, s, true) ||
        !(only = cJSON_AddArrayToObject(o, "only_here")))
        return false;
    for (int64_t k = 0; r->has_test && k < r->nclasses; k++) {
        const ember_data_class *c = &r->classes[k];
        cJSON *n;
        if (c->count[s] && !c->count[1 - s] &&
            (!(n = cJSON_CreateString(c->name)) || !cJSON_AddItemToArray(only, n)))
            return false;
    }
    return stats(o, "tokens", &sr->tokens) && stats(o, "chars", &sr->chars) &&
           finding(o, "empty", &sr->empty, 0) &&
           finding(o, "exact_duplicates", &sr->exact_duplicates, F_DUP) &&
           finding(o, "near_duplicates", &sr->near_duplicates, F_DUP) &&
           num(o, "near_only_redundant", (double)sr->near_only_redundant) &&
           finding(o, "label_conflicts", &sr->label_conflicts, 0);
}

static bool build(cJSON *root, const ember_data_report *r)
{
    cJSON *cls = cJSON_AddArrayToObject(root, "classes"), *leak;
    if (!cls)
        return false;
    for (int64_t k = 0; k < r->nclasses; k++) {
        const ember_data_class *c = &r->classes[k];
        cJSON *co = cJSON_CreateObject();
        if (!co || !cJSON_AddItemToArray(cls, co) || !str(co, "name", c->name) ||
            !num(co, "train", (double)c->count[0]) || !num(co, "test", (double)c->count[1]))
            return false;
    }
    if (!split(root, r, 0))
        return false;
    if (!r->has_test)
        return cJSON_AddNullToObject(root, "test") && cJSON_AddNullToObject(root, "leakage") &&
               cJSON_AddNullToObject(root, "conflicts_across");
    return split(root, r, 1) && (leak = cJSON_AddObjectToObject(root, "leakage")) &&
           finding(leak, "exact", &r->leak_exact, F_LEAK) &&
           finding(leak, "normalised", &r->leak_near, F_LEAK) &&
           finding(root, "conflicts_across", &r->conflicts_across, 0);
}

ember_status ember_data_report_to_json(const ember_data_report *r, char **json, ember_error *err)
{
    if (!r || !json)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_data_report_to_json: %s is NULL",
                          !r ? "report" : "json");
    cJSON *root = cJSON_CreateObject();
    char *text = root && build(root, r) ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "data check report to JSON: out of memory");
    /* plain malloc memory, whatever allocator hooks cJSON was given */
    char *copy = dup(text);
    cJSON_free(text);
    if (!copy)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "data check report to JSON: out of memory");
    *json = copy;
    return EMBER_OK;
}
