/*
 * metrics.c - the classification report: accuracy, per-class precision,
 * recall, F1 and support, macro and support-weighted averages, the confusion
 * matrix, top-k accuracy, the most-confused class pairs, and a JSON rendering.
 * Semantics match scikit-learn with labels=range(classes), zero_division=0
 * (spelled out in metrics.h).
 *
 * What it deliberately doesn't do: multi-label or sample weights, a
 * zero_division setting other than 0, or printing: callers format the report
 * (or take the JSON).
 */
#include "model/metrics.h"

#include "core.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ember_class_report_destroy(ember_class_report *r)
{
    if (!r)
        return;
    free(r->precision);
    free(r->recall);
    free(r->f1);
    free(r->support);
    free(r->confusion);
    free(r);
}

/* Every id in ids[n] must lie in [0, classes); `what` names the array. */
static ember_status check_ids(const int64_t *ids, int64_t n, int64_t classes, const char *what,
                              ember_error *err)
{
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= classes)
            return EMBER_FAIL(err, EMBER_ERR_ARG,
                              "%s[%lld] = %lld: class id out of range [0, %lld)", what,
                              (long long)i, (long long)ids[i], (long long)classes);
    return EMBER_OK;
}

/* Fraction of rows whose true class is among the k highest of probs[i][*],
 * ties ranked as sklearn's top_k_accuracy_score ranks them (metrics.h). */
static double top_k_hits(const float *probs, const int64_t *truth, int64_t n, int64_t classes,
                         int k)
{
    int64_t hits = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *row = probs + i * classes;
        int64_t c = truth[i];
        float pc = row[c];
        int64_t above = 0;
        for (int64_t j = 0; j < classes && above < k; j++)
            if (row[j] > pc || (row[j] == pc && j > c))
                above++;
        if (above < k)
            hits++;
    }
    return (double)hits / (double)n;
}

ember_status ember_class_report_create(ember_class_report **out, const int64_t *truth,
                                       const int64_t *pred, const float *probs, int64_t n,
                                       int64_t classes, int top_k, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "class report: out is NULL");
    if (!truth || !pred)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "class report: %s is NULL",
                          !truth ? "truth" : "pred");
    if (n < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "class report: n = %lld: need at least one example", (long long)n);
    if (classes < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "class report: classes = %lld: need at least one class",
                          (long long)classes);
    ember_status s = check_ids(truth, n, classes, "truth", err);
    if (s == EMBER_OK)
        s = check_ids(pred, n, classes, "pred", err);
    if (s != EMBER_OK)
        return s;
    if (probs) {
        if (top_k < 1 || top_k > classes)
            return EMBER_FAIL(err, EMBER_ERR_ARG,
                              "class report: top_k = %d: must be in 1..classes (%lld)", top_k,
                              (long long)classes);
        int64_t cells;
        if (!ember__mul_i64(n, classes, &cells))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM,
                              "class report: probs [%lld][%lld]: size overflows", (long long)n,
                              (long long)classes);
        for (int64_t i = 0; i < cells; i++)
            if (isnan(probs[i]))
                return EMBER_FAIL(err, EMBER_ERR_ARG,
                                  "probs[%lld][%lld] is NaN: scores must be comparable",
                                  (long long)(i / classes), (long long)(i % classes));
    }

    /* Sizes: classes^2 confusion cells, each 8 bytes. */
    size_t cells, conf_bytes, vec_bytes;
    if ((uint64_t)classes > SIZE_MAX || !ember__mul_size((size_t)classes, (size_t)classes, &cells) ||
        !ember__mul_size(cells, sizeof(int64_t), &conf_bytes) ||
        !ember__mul_size((size_t)classes, sizeof(double), &vec_bytes))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM,
                          "class report: confusion matrix [%lld][%lld]: size overflows",
                          (long long)classes, (long long)classes);

    ember_class_report *r = calloc(1, sizeof *r);
    int64_t *predicted = calloc((size_t)classes, sizeof *predicted); /* column sums */
    if (r) {
        r->precision = calloc((size_t)classes, sizeof(double));
        r->recall = calloc((size_t)classes, sizeof(double));
        r->f1 = calloc((size_t)classes, sizeof(double));
        r->support = calloc((size_t)classes, sizeof(int64_t));
        r->confusion = calloc(cells, sizeof(int64_t));
    }
    if (!r || !predicted || !r->precision || !r->recall || !r->f1 || !r->support ||
        !r->confusion) {
        free(predicted);
        ember_class_report_destroy(r);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM,
                          "class report: cannot allocate %zu + 4 x %zu bytes for %lld classes",
                          conf_bytes, vec_bytes, (long long)classes);
    }
    r->n = n;
    r->classes = classes;

    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        r->confusion[truth[i] * classes + pred[i]]++;
        r->support[truth[i]]++;
        predicted[pred[i]]++;
        correct += truth[i] == pred[i];
    }
    r->accuracy = (double)correct / (double)n;

    double sum_p = 0, sum_r = 0, sum_f = 0, wsum_p = 0, wsum_r = 0, wsum_f = 0;
    for (int64_t c = 0; c < classes; c++) {
        int64_t tp = r->confusion[c * classes + c];
        int64_t sup = r->support[c], pc = predicted[c];
        /* zero_division = 0 for each undefined ratio; F1 = 2tp / (2tp + fp + fn)
         * = 2tp / (predicted + support), equal to 2pr / (p + r), 0 when tp = 0. */
        r->precision[c] = pc > 0 ? (double)tp / (double)pc : 0.0;
        r->recall[c] = sup > 0 ? (double)tp / (double)sup : 0.0;
        r->f1[c] = tp > 0 ? 2.0 * (double)tp / (double)(pc + sup) : 0.0;
        sum_p += r->precision[c];
        sum_r += r->recall[c];
        sum_f += r->f1[c];
        wsum_p += r->precision[c] * (double)sup;
        wsum_r += r->recall[c] * (double)sup;
        wsum_f += r->f1[c] * (double)sup;
    }
    free(predicted);
    r->macro_precision = sum_p / (double)classes;
    r->macro_recall = sum_r / (double)classes;
    r->macro_f1 = sum_f / (double)classes;
    /* total support is n >= 1 */
    r->weighted_precision = wsum_p / (double)n;
    r->weighted_recall = wsum_r / (double)n;
    r->weighted_f1 = wsum_f / (double)n;

    if (probs) {
        r->top_k = top_k;
        r->top_k_accuracy = top_k_hits(probs, truth, n, classes, top_k);
    } else {
        r->top_k = 0;
        r->top_k_accuracy = NAN;
    }
    *out = r;
    return EMBER_OK;
}

int ember_class_report_most_confused(const ember_class_report *r, int max_pairs, int64_t *true_ids,
                                int64_t *pred_ids, int64_t *counts)
{
    if (!r || !r->confusion || max_pairs < 0 ||
        (max_pairs > 0 && (!true_ids || !pred_ids || !counts)))
        return -1;
    if (max_pairs == 0)
        return 0;
    const int64_t C = r->classes;
    int kept = 0;
    /* Insertion into the kept list, sorted by count descending. Cells are
     * visited in (true, predicted) order and an equal count goes after the
     * ones kept already, so ties end up ordered by true id, then pred id. */
    for (int64_t t = 0; t < C; t++) {
        for (int64_t p = 0; p < C; p++) {
            int64_t c = r->confusion[t * C + p];
            if (p == t || c <= 0)
                continue;
            if (kept == max_pairs && c <= counts[kept - 1])
                continue;
            int pos = kept;
            while (pos > 0 && counts[pos - 1] < c)
                pos--;
            int last = kept < max_pairs ? kept : max_pairs - 1;
            for (int j = last; j > pos; j--) {
                true_ids[j] = true_ids[j - 1];
                pred_ids[j] = pred_ids[j - 1];
                counts[j] = counts[j - 1];
            }
            true_ids[pos] = t;
            pred_ids[pos] = p;
            counts[pos] = c;
            if (kept < max_pairs)
                kept++;
        }
    }
    return kept;
}

/* Each add_* returns false when cJSON could not allocate. */
static bool add_num(cJSON *obj, const char *key, double v)
{
    return cJSON_AddNumberToObject(obj, key, v) != NULL;
}

static bool add_class(cJSON *arr, const ember_class_report *r, int64_t c, const char *label)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return false;
    if (!cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return false;
    }
    return cJSON_AddStringToObject(o, "label", label) && add_num(o, "precision", r->precision[c]) &&
           add_num(o, "recall", r->recall[c]) && add_num(o, "f1", r->f1[c]) &&
           add_num(o, "support", (double)r->support[c]);
}

static bool add_confusion(cJSON *root, const ember_class_report *r)
{
    cJSON *rows = cJSON_AddArrayToObject(root, "confusion");
    if (!rows)
        return false;
    for (int64_t t = 0; t < r->classes; t++) {
        cJSON *row = cJSON_CreateArray();
        if (!row)
            return false;
        if (!cJSON_AddItemToArray(rows, row)) {
            cJSON_Delete(row);
            return false;
        }
        for (int64_t p = 0; p < r->classes; p++) {
            cJSON *v = cJSON_CreateNumber((double)r->confusion[t * r->classes + p]);
            if (!v)
                return false;
            if (!cJSON_AddItemToArray(row, v)) {
                cJSON_Delete(v);
                return false;
            }
        }
    }
    return true;
}

static bool add_most_confused(cJSON *root, const ember_class_report *r)
{
    int64_t t[EMBER_REPORT_JSON_MOST_CONFUSED], p[EMBER_REPORT_JSON_MOST_CONFUSED],
        c[EMBER_REPORT_JSON_MOST_CONFUSED];
    int k = ember_class_report_most_confused(r, EMBER_REPORT_JSON_MOST_CONFUSED, t, p, c);
    cJSON *arr = cJSON_AddArrayToObject(root, "most_confused");
    if (!arr || k < 0)
        return false;
    for (int i = 0; i < k; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return false;
        if (!cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return false;
        }
        if (!add_num(o, "true", (double)t[i]) || !add_num(o, "predicted", (double)p[i]) ||
            !add_num(o, "count", (double)c[i]))
            return false;
    }
    return true;
}

ember_status ember_class_report_to_json(const ember_class_report *r, const char *const *class_names,
                                   char **json, ember_error *err)
{
    if (!r || !json)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "report to JSON: %s is NULL",
                          !r ? "report" : "json");
    if (class_names)
        for (int64_t c = 0; c < r->classes; c++)
            if (!class_names[c])
                return EMBER_FAIL(err, EMBER_ERR_ARG,
                                  "class_names[%lld] is NULL: give a name for each of the %lld "
                                  "classes, or pass class_names = NULL",
                                  (long long)c, (long long)r->classes);

    cJSON *root = cJSON_CreateObject();
    bool ok = root && add_num(root, "n", (double)r->n) && add_num(root, "accuracy", r->accuracy) &&
              add_num(root, "macro_precision", r->macro_precision) &&
              add_num(root, "macro_recall", r->macro_recall) &&
              add_num(root, "macro_f1", r->macro_f1) &&
              add_num(root, "weighted_precision", r->weighted_precision) &&
              add_num(root, "weighted_recall", r->weighted_recall) &&
              add_num(root, "weighted_f1", r->weighted_f1) &&
              add_num(root, "top_k", (double)r->top_k) &&
              (isnan(r->top_k_accuracy) ? cJSON_AddNullToObject(root, "top_k_accuracy") != NULL
                                        : add_num(root, "top_k_accuracy", r->top_k_accuracy));
    cJSON *per_class = ok ? cJSON_AddArrayToObject(root, "per_class") : NULL;
    ok = ok && per_class;
    for (int64_t c = 0; ok && c < r->classes; c++) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)c);
        ok = add_class(per_class, r, c, class_names ? class_names[c] : id);
    }
    ok = ok && add_confusion(root, r) && add_most_confused(root, r);

    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "report to JSON: out of memory (%lld classes)",
                          (long long)r->classes);
    /* Copy into plain malloc memory so the caller frees with free() whatever
     * allocator hooks cJSON was given. */
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy) {
        cJSON_free(text);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "report to JSON: cannot allocate %zu bytes",
                          len + 1);
    }
    memcpy(copy, text, len + 1);
    cJSON_free(text);
    *json = copy;
    return EMBER_OK;
}
