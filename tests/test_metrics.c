/*
 * test_metrics.c - the classification report against a hand-computed 3-class
 * case (arithmetic in comments) and against scikit-learn 1.2.1 (numbers pasted
 * below, with the snippet that printed them; the test needs no Python), top-k
 * accuracy with ties, the most-confused pairs, the JSON rendering, and bad
 * input.
 */
#include "check.h"
#include "model/metrics.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

/* Ratios of small integers computed in double: a few ulps apart at most from
 * the exact value or from sklearn's own double arithmetic. */
#define RATIO_TOL 1e-12

/* ----------------------------------------------------------- hand-computed
 * truth 0 0 0 0 1 1 1 2 2 2
 * pred  0 0 1 2 1 1 0 2 2 1
 * confusion (row = true): [2 1 1] [1 2 0] [0 1 2]
 * support (row sums) 4 3 3; predicted (column sums) 3 4 3; tp 2 2 2
 * accuracy  = 6/10 = 0.6
 * precision = 2/3, 2/4, 2/3;   recall = 2/4, 2/3, 2/3
 * f1 = 2tp/(pred + support) = 4/7, 4/7, 4/6
 * macro P   = (2/3 + 1/2 + 2/3)/3 = 11/18;  macro R = (1/2 + 2/3 + 2/3)/3 = 11/18
 * macro F1  = (4/7 + 4/7 + 2/3)/3 = (24/21 + 14/21)/3 = 38/63
 * weighted P  = (4*2/3 + 3*1/2 + 3*2/3)/10 = (16/6 + 9/6 + 12/6)/10 = 37/60
 * weighted R  = (4*1/2 + 3*2/3 + 3*2/3)/10 = 6/10 (always equals accuracy)
 * weighted F1 = (4*4/7 + 3*4/7 + 3*2/3)/10 = (4 + 2)/10 = 0.6
 */
static const int64_t HAND_T[10] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
static const int64_t HAND_P[10] = {0, 0, 1, 2, 1, 1, 0, 2, 2, 1};

static void test_hand(void)
{
    ember_error err;
    ember_class_report *r = NULL;
    CHECK_OK(ember_class_report_create(&r, HAND_T, HAND_P, NULL, 10, 3, 1, &err), &err);
    if (!r)
        return;
    CHECK(r->n == 10 && r->classes == 3);
    CHECK_CLOSE(r->accuracy, 0.6, RATIO_TOL, 0);
    const double prec[3] = {2.0 / 3, 0.5, 2.0 / 3}, rec[3] = {0.5, 2.0 / 3, 2.0 / 3},
                 f1[3] = {4.0 / 7, 4.0 / 7, 2.0 / 3};
    const int64_t sup[3] = {4, 3, 3}, conf[9] = {2, 1, 1, 1, 2, 0, 0, 1, 2};
    for (int c = 0; c < 3; c++) {
        CHECK_CLOSE(r->precision[c], prec[c], RATIO_TOL, 0);
        CHECK_CLOSE(r->recall[c], rec[c], RATIO_TOL, 0);
        CHECK_CLOSE(r->f1[c], f1[c], RATIO_TOL, 0);
        CHECK(r->support[c] == sup[c]);
    }
    for (int i = 0; i < 9; i++)
        CHECK_MSG(r->confusion[i] == conf[i], "confusion[%d] = %lld, want %lld", i,
                  (long long)r->confusion[i], (long long)conf[i]);
    CHECK_CLOSE(r->macro_precision, 11.0 / 18, RATIO_TOL, 0);
    CHECK_CLOSE(r->macro_recall, 11.0 / 18, RATIO_TOL, 0);
    CHECK_CLOSE(r->macro_f1, 38.0 / 63, RATIO_TOL, 0);
    CHECK_CLOSE(r->weighted_precision, 37.0 / 60, RATIO_TOL, 0);
    CHECK_CLOSE(r->weighted_recall, 0.6, RATIO_TOL, 0);
    CHECK_CLOSE(r->weighted_f1, 0.6, RATIO_TOL, 0);
    /* no probabilities: NaN, top_k recorded as 0 whatever was passed */
    CHECK(isnan(r->top_k_accuracy));
    CHECK(r->top_k == 0);
    ember_class_report_destroy(r);
}

/* ------------------------------------------------------------- sklearn
 * Six classes: 3 occurs but is never predicted, 4 is predicted but never
 * occurs, 5 occurs in neither (it still counts in the macro average, as with
 * labels=range(6)). Printed by /usr/bin/python3, scikit-learn 1.2.1:
 *
 *   from sklearn.metrics import (precision_recall_fscore_support as prfs,
 *                                accuracy_score, confusion_matrix)
 *   t = [0,0,1,1,1,2,2,3,3,0,1,2,0,3,1,2,2,0,1,0,2,2]
 *   p = [0,1,1,1,4,2,0,0,2,0,4,2,0,1,1,4,2,2,1,0,0,4]
 *   L = list(range(6))
 *   print(repr(accuracy_score(t, p)))
 *   print([list(map(float, a)) for a in prfs(t, p, labels=L, zero_division=0)])
 *   for avg in ("macro", "weighted"):
 *       print(prfs(t, p, labels=L, average=avg, zero_division=0)[:3])
 *   print(confusion_matrix(t, p, labels=L).tolist())
 */
static const int64_t SK_T[22] = {0, 0, 1, 1, 1, 2, 2, 3, 3, 0, 1,
                                 2, 0, 3, 1, 2, 2, 0, 1, 0, 2, 2};
static const int64_t SK_P[22] = {0, 1, 1, 1, 4, 2, 0, 0, 2, 0, 4,
                                 2, 0, 1, 1, 4, 2, 2, 1, 0, 0, 4};

static void test_sklearn(void)
{
    ember_error err;
    ember_class_report *r = NULL;
    CHECK_OK(ember_class_report_create(&r, SK_T, SK_P, NULL, 22, 6, 1, &err), &err);
    if (!r)
        return;
    const double prec[6] = {0.5714285714285714, 0.6666666666666666, 0.6, 0, 0, 0};
    const double rec[6] = {0.6666666666666666, 0.6666666666666666, 0.42857142857142855, 0, 0, 0};
    const double f1[6] = {0.6153846153846153, 0.6666666666666666, 0.5, 0, 0, 0};
    const int64_t sup[6] = {6, 6, 7, 3, 0, 0};
    const int64_t conf[6][6] = {{4, 1, 1, 0, 0, 0}, {0, 4, 0, 0, 2, 0}, {2, 0, 3, 0, 2, 0},
                                {1, 1, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}};
    CHECK_CLOSE(r->accuracy, 0.5, RATIO_TOL, 0);
    double maxdiff = 0;
    for (int c = 0; c < 6; c++) {
        CHECK_CLOSE(r->precision[c], prec[c], RATIO_TOL, 0);
        CHECK_CLOSE(r->recall[c], rec[c], RATIO_TOL, 0);
        CHECK_CLOSE(r->f1[c], f1[c], RATIO_TOL, 0);
        maxdiff = fmax(maxdiff, fabs(r->precision[c] - prec[c]));
        maxdiff = fmax(maxdiff, fabs(r->recall[c] - rec[c]));
        maxdiff = fmax(maxdiff, fabs(r->f1[c] - f1[c]));
        CHECK(r->support[c] == sup[c]);
        for (int p = 0; p < 6; p++)
            CHECK(r->confusion[c * 6 + p] == conf[c][p]);
    }
    CHECK_CLOSE(r->macro_precision, 0.30634920634920637, RATIO_TOL, 0);
    CHECK_CLOSE(r->macro_recall, 0.29365079365079366, RATIO_TOL, 0);
    CHECK_CLOSE(r->macro_f1, 0.297008547008547, RATIO_TOL, 0);
    CHECK_CLOSE(r->weighted_precision, 0.5285714285714286, RATIO_TOL, 0);
    CHECK_CLOSE(r->weighted_recall, 0.5, RATIO_TOL, 0);
    CHECK_CLOSE(r->weighted_f1, 0.5087412587412588, RATIO_TOL, 0);
    printf("sklearn per-class max |diff| = %.3g\n", maxdiff);

    /* Off-diagonal cells: (1,4)=2 (2,0)=2 (2,4)=2, then the ones by true id,
     * then predicted id: (0,1) (0,2) (3,0) (3,1) (3,2). */
    const int64_t want_t[8] = {1, 2, 2, 0, 0, 3, 3, 3}, want_p[8] = {4, 0, 4, 1, 2, 0, 1, 2},
                  want_c[8] = {2, 2, 2, 1, 1, 1, 1, 1};
    int64_t t[12], p[12], c[12];
    int k = ember_class_report_most_confused(r, 12, t, p, c);
    CHECK(k == 8);
    for (int i = 0; i < k && i < 8; i++)
        CHECK_MSG(t[i] == want_t[i] && p[i] == want_p[i] && c[i] == want_c[i],
                  "pair %d = (%lld, %lld, %lld)", i, (long long)t[i], (long long)p[i],
                  (long long)c[i]);
    k = ember_class_report_most_confused(r, 4, t, p, c);
    CHECK(k == 4);
    for (int i = 0; i < k && i < 4; i++)
        CHECK(t[i] == want_t[i] && p[i] == want_p[i] && c[i] == want_c[i]);
    CHECK(ember_class_report_most_confused(r, 0, NULL, NULL, NULL) == 0);
    CHECK(ember_class_report_most_confused(r, -1, t, p, c) == -1);
    CHECK(ember_class_report_most_confused(NULL, 4, t, p, c) == -1);
    ember_class_report_destroy(r);
}

/* Distinct counts arrive out of order: (0,1)x2 first, then (1,2)x2, (1,0)x1,
 * (2,0)x3; sorted: (2,0,3) (0,1,2) (1,2,2) (1,0,1). A perfect diagonal gives
 * none. */
static void test_most_confused(void)
{
    ember_error err;
    ember_class_report *r = NULL;
    const int64_t tr[10] = {0, 0, 1, 1, 1, 2, 2, 2, 0, 1};
    const int64_t pr[10] = {1, 1, 2, 2, 0, 0, 0, 0, 0, 1};
    CHECK_OK(ember_class_report_create(&r, tr, pr, NULL, 10, 3, 1, &err), &err);
    if (!r)
        return;
    int64_t t[4], p[4], c[4];
    CHECK(ember_class_report_most_confused(r, 4, t, p, c) == 4);
    CHECK(t[0] == 2 && p[0] == 0 && c[0] == 3);
    CHECK(t[1] == 0 && p[1] == 1 && c[1] == 2);
    CHECK(t[2] == 1 && p[2] == 2 && c[2] == 2);
    CHECK(t[3] == 1 && p[3] == 0 && c[3] == 1);
    CHECK(ember_class_report_most_confused(r, 1, t, p, c) == 1);
    CHECK(t[0] == 2 && p[0] == 0 && c[0] == 3);
    ember_class_report_destroy(r);

    const int64_t same[4] = {0, 1, 2, 1};
    CHECK_OK(ember_class_report_create(&r, same, same, NULL, 4, 3, 1, &err), &err);
    if (!r)
        return;
    CHECK(ember_class_report_most_confused(r, 4, t, p, c) == 0);
    CHECK_CLOSE(r->accuracy, 1.0, 0, 0);
    CHECK_CLOSE(r->macro_f1, 1.0, 0, 0);
    ember_class_report_destroy(r);
}

/* --------------------------------------------------------------- top-k
 * Ties rank the higher class id first (sklearn's reversed stable argsort).
 * Class j ranks above the true class c if p_j > p_c, or p_j == p_c and j > c;
 * a hit at k when fewer than k rank above:
 *   row 0 true 0, all 0.25:             3 above -> hit only at k = 4
 *   row 1 true 3, all 0.25:             0 above -> hit for all k
 *   row 2 true 2, all 0.25:             1 above (3) -> k >= 2
 *   row 3 true 1, [.5 .125 .25 .125]:   3 above (0, 2, tie 3) -> k = 4
 *   row 4 true 1, [.125 .5 .25 .125]:   0 above -> all k
 *   row 5 true 0, [.125 .25 .125 .5]:   3 above (1, 3, tie 2) -> k = 4
 *   row 6 true 1, [.5 .25 .25 0]:       2 above (0, tie 2) -> k >= 3
 * k=1: rows 1,4 -> 2/7; k=2: 1,2,4 -> 3/7; k=3: 1,2,4,6 -> 4/7; k=4: 7/7.
 * sklearn 1.2.1 agrees:
 *   y = [0, 3, 2, 1, 1, 0, 1]; s = np.array(<PROBS below>, dtype=np.float32)
 *   [top_k_accuracy_score(y, s, k=k, labels=[0,1,2,3]) for k in (1,2,3,4)]
 *   -> 0.2857142857142857, 0.42857142857142855, 0.5714285714285714, 1.0
 */
static void test_top_k(void)
{
    ember_error err;
    const int64_t y[7] = {0, 3, 2, 1, 1, 0, 1};
    const float probs[7][4] = {{0.25f, 0.25f, 0.25f, 0.25f}, {0.25f, 0.25f, 0.25f, 0.25f},
                               {0.25f, 0.25f, 0.25f, 0.25f}, {0.5f, 0.125f, 0.25f, 0.125f},
                               {0.125f, 0.5f, 0.25f, 0.125f}, {0.125f, 0.25f, 0.125f, 0.5f},
                               {0.5f, 0.25f, 0.25f, 0.0f}};
    /* argmax with ties to the highest id, so top-1 equals plain accuracy */
    const int64_t pred[7] = {3, 3, 3, 0, 1, 3, 0};
    const double want[4] = {0.2857142857142857, 0.42857142857142855, 0.5714285714285714, 1.0};
    for (int k = 1; k <= 4; k++) {
        ember_class_report *r = NULL;
        CHECK_OK(ember_class_report_create(&r, y, pred, &probs[0][0], 7, 4, k, &err), &err);
        if (!r)
            continue;
        CHECK(r->top_k == k);
        CHECK_CLOSE(r->top_k_accuracy, want[k - 1], RATIO_TOL, 0);
        if (k == 1)
            CHECK_CLOSE(r->top_k_accuracy, r->accuracy, RATIO_TOL, 0);
        ember_class_report_destroy(r);
    }
}

/* ---------------------------------------------------------------- JSON */
static const char *const JSON_KEYS[] = {
    "n",           "accuracy",       "macro_precision", "macro_recall", "macro_f1",
    "weighted_precision", "weighted_recall", "weighted_f1", "top_k", "top_k_accuracy",
    "per_class",   "confusion",      "most_confused"};
#define N_JSON_KEYS ((int)(sizeof JSON_KEYS / sizeof JSON_KEYS[0]))

static void check_json_shape(const char *text, const ember_class_report *r,
                             const char *label0, int null_top_k)
{
    cJSON *root = cJSON_Parse(text);
    CHECK_MSG(root && cJSON_IsObject(root), "unparsable: %s", text);
    if (!root)
        return;
    CHECK(cJSON_GetArraySize(root) == N_JSON_KEYS);
    for (int i = 0; i < N_JSON_KEYS; i++)
        CHECK_MSG(cJSON_GetObjectItemCaseSensitive(root, JSON_KEYS[i]) != NULL, "no key %s",
                  JSON_KEYS[i]);
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(root, "accuracy");
    CHECK(cJSON_IsNumber(acc) && acc && fabs(acc->valuedouble - r->accuracy) < RATIO_TOL);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n");
    CHECK(cJSON_IsNumber(n) && n && n->valuedouble == (double)r->n);
    const cJSON *tka = cJSON_GetObjectItemCaseSensitive(root, "top_k_accuracy");
    CHECK(null_top_k ? cJSON_IsNull(tka) : cJSON_IsNumber(tka));

    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(root, "per_class");
    CHECK(cJSON_IsArray(pc) && cJSON_GetArraySize(pc) == (int)r->classes);
    const cJSON *c0 = cJSON_GetArrayItem(pc, 0);
    const char *fields[5] = {"label", "precision", "recall", "f1", "support"};
    for (int i = 0; i < 5; i++)
        CHECK(cJSON_GetObjectItemCaseSensitive(c0, fields[i]) != NULL);
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(c0, "label");
    CHECK(cJSON_IsString(lab) && lab && strcmp(lab->valuestring, label0) == 0);
    const cJSON *f1 = cJSON_GetObjectItemCaseSensitive(c0, "f1");
    CHECK(cJSON_IsNumber(f1) && f1 && fabs(f1->valuedouble - r->f1[0]) < RATIO_TOL);

    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(root, "confusion");
    CHECK(cJSON_IsArray(conf) && cJSON_GetArraySize(conf) == (int)r->classes);
    for (int t = 0; t < (int)r->classes; t++) {
        const cJSON *row = cJSON_GetArrayItem(conf, t);
        CHECK(cJSON_IsArray(row) && cJSON_GetArraySize(row) == (int)r->classes);
        for (int p = 0; p < (int)r->classes; p++) {
            const cJSON *v = cJSON_GetArrayItem(row, p);
            CHECK(v && v->valuedouble == (double)r->confusion[t * r->classes + p]);
        }
    }
    const cJSON *mc = cJSON_GetObjectItemCaseSensitive(root, "most_confused");
    CHECK(cJSON_IsArray(mc) && cJSON_GetArraySize(mc) >= 1 &&
          cJSON_GetArraySize(mc) <= EMBER_REPORT_JSON_MOST_CONFUSED);
    const cJSON *m0 = cJSON_GetArrayItem(mc, 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(m0, "true") != NULL &&
          cJSON_GetObjectItemCaseSensitive(m0, "predicted") != NULL &&
          cJSON_GetObjectItemCaseSensitive(m0, "count") != NULL);
    cJSON_Delete(root);
}

static void test_json(void)
{
    ember_error err;
    ember_class_report *r = NULL;
    CHECK_OK(ember_class_report_create(&r, SK_T, SK_P, NULL, 22, 6, 1, &err), &err);
    if (!r)
        return;
    char *json = NULL;
    CHECK_OK(ember_class_report_to_json(r, NULL, &json, &err), &err);
    if (json) {
        check_json_shape(json, r, "0", 1);
        /* 8 confused pairs here, all listed; the first is (1 -> 4) x 2 */
        CHECK(strstr(json, "\"most_confused\":[{\"true\":1,\"predicted\":4,\"count\":2}") != NULL);
        free(json);
    }
    const char *names[6] = {"cat", "dog", "bird", "fish", "frog", "ant"};
    json = NULL;
    CHECK_OK(ember_class_report_to_json(r, names, &json, &err), &err);
    if (json) {
        check_json_shape(json, r, "cat", 1);
        CHECK(strstr(json, "\"label\":\"ant\"") != NULL);
        free(json);
    }
    const char *holey[6] = {"cat", "dog", "bird", NULL, "frog", "ant"};
    json = NULL;
    CHECK_ERR(ember_class_report_to_json(r, holey, &json, &err), EMBER_ERR_ARG, &err,
              "class_names[3]");
    CHECK(json == NULL);
    CHECK_ERR(ember_class_report_to_json(r, NULL, NULL, &err), EMBER_ERR_ARG, &err, "json");
    ember_class_report_destroy(r);

    /* with probabilities: top_k_accuracy is a number */
    const int64_t y[2] = {0, 1}, pr[2] = {1, 1};
    const float probs[2][2] = {{0.4f, 0.6f}, {0.3f, 0.7f}};
    r = NULL;
    CHECK_OK(ember_class_report_create(&r, y, pr, &probs[0][0], 2, 2, 1, &err), &err);
    if (!r)
        return;
    json = NULL;
    CHECK_OK(ember_class_report_to_json(r, NULL, &json, &err), &err);
    if (json) {
        check_json_shape(json, r, "0", 0);
        CHECK(strstr(json, "\"top_k\":1,\"top_k_accuracy\":0.5") != NULL);
        free(json);
    }
    ember_class_report_destroy(r);
}

/* ----------------------------------------------------------- bad input */
static void test_bad_input(void)
{
    ember_error err;
    ember_class_report *sentinel = (ember_class_report *)&err; /* any non-NULL marker */
    ember_class_report *r = sentinel;
    const int64_t t[3] = {0, 1, 2}, bad_t[3] = {0, 1, 7}, bad_p[3] = {0, -1, 2};
    const float probs[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    float nan_probs[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    nan_probs[1][2] = NAN;

    CHECK_ERR(ember_class_report_create(&r, bad_t, t, NULL, 3, 3, 1, &err), EMBER_ERR_ARG, &err,
              "truth[2] = 7");
    CHECK_ERR(ember_class_report_create(&r, t, bad_p, NULL, 3, 3, 1, &err), EMBER_ERR_ARG, &err,
              "pred[1] = -1");
    CHECK_ERR(ember_class_report_create(&r, t, t, NULL, 0, 3, 1, &err), EMBER_ERR_ARG, &err,
              "n = 0");
    CHECK_ERR(ember_class_report_create(&r, t, t, NULL, 3, 0, 1, &err), EMBER_ERR_ARG, &err,
              "classes = 0");
    CHECK_ERR(ember_class_report_create(&r, t, t, &probs[0][0], 3, 3, 4, &err), EMBER_ERR_ARG,
              &err, "top_k = 4");
    CHECK_ERR(ember_class_report_create(&r, t, t, &probs[0][0], 3, 3, 0, &err), EMBER_ERR_ARG,
              &err, "top_k = 0");
    CHECK_ERR(ember_class_report_create(&r, t, t, &nan_probs[0][0], 3, 3, 1, &err),
              EMBER_ERR_ARG, &err, "probs[1][2] is NaN");
    CHECK_ERR(ember_class_report_create(&r, NULL, t, NULL, 3, 3, 1, &err), EMBER_ERR_ARG, &err,
              "truth is NULL");
    CHECK_ERR(ember_class_report_create(NULL, t, t, NULL, 3, 3, 1, &err), EMBER_ERR_ARG, &err,
              "out is NULL");
    /* classes^2 overflows size_t: refused before any allocation */
    const int64_t zero[1] = {0};
    CHECK_ERR(ember_class_report_create(&r, zero, zero, NULL, 1, INT64_C(1) << 40, 1, &err),
              EMBER_ERR_NOMEM, &err, "overflows");
    CHECK(r == sentinel); /* outputs untouched on failure */
    /* NULL err is allowed */
    CHECK(ember_class_report_create(&r, bad_t, t, NULL, 3, 3, 1, NULL) == EMBER_ERR_ARG);
    CHECK(r == sentinel);

    /* top_k is ignored without probabilities */
    r = NULL;
    CHECK_OK(ember_class_report_create(&r, t, t, NULL, 3, 3, 99, &err), &err);
    CHECK(r && r->top_k == 0 && isnan(r->top_k_accuracy));
    ember_class_report_destroy(r);
    ember_class_report_destroy(NULL);
}

/* One class, one example: everything is 1. */
static void test_single(void)
{
    ember_error err;
    ember_class_report *r = NULL;
    const int64_t z[1] = {0};
    const float p[1] = {1.0f};
    CHECK_OK(ember_class_report_create(&r, z, z, p, 1, 1, 1, &err), &err);
    if (!r)
        return;
    CHECK(r->accuracy == 1.0 && r->precision[0] == 1.0 && r->recall[0] == 1.0 &&
          r->f1[0] == 1.0 && r->macro_f1 == 1.0 && r->weighted_f1 == 1.0 &&
          r->top_k_accuracy == 1.0 && r->confusion[0] == 1 && r->support[0] == 1);
    ember_class_report_destroy(r);
}

int main(void)
{
    test_hand();
    test_sklearn();
    test_most_confused();
    test_top_k();
    test_json();
    test_bad_input();
    test_single();
    return check_summary("metrics");
}
