/*
 * metrics.h - internal helpers on top of the public classification report
 * (ember_class_report in ember.h): the most-confused class pairs and a JSON
 * rendering for the CLI and the serving code. Not part of the public API.
 *
 * Semantics of ember_class_report_create (implemented in metrics.c), which
 * follow scikit-learn's classification_report / precision_recall_fscore_support
 * with labels=range(classes) and zero_division=0:
 *   precision_c = tp_c / (tp_c + fp_c), 0 when class c was never predicted
 *   recall_c    = tp_c / support_c,     0 when class c never occurs in truth
 *   f1_c        = 2 p r / (p + r),      0 when p + r == 0
 *   macro_*     = mean over all `classes` classes, including classes that
 *                 occur neither in truth nor in predictions (they count as 0)
 *   weighted_*  = sum_c metric_c * support_c / n
 *   accuracy    = trace(confusion) / n
 * top_k_accuracy follows sklearn.metrics.top_k_accuracy_score: the true class
 * c of row i is a hit when fewer than k classes rank above it, where class j
 * ranks above c if probs[i][j] > probs[i][c], or if they are equal and j > c
 * (sklearn sorts with a stable argsort and reverses it, so among equal scores
 * the higher class id comes first). A NaN in probs is an EMBER_ERR_ARG; when
 * probs is NULL, top_k_accuracy is NaN and r->top_k is 0 (top_k is ignored).
 */
#ifndef EMBER_MODEL_METRICS_H
#define EMBER_MODEL_METRICS_H

#include "ember.h"

/* Off-diagonal confusion pairs (true != predicted) with a count > 0, sorted by
 * count descending, ties by true id then predicted id, at most `max_pairs` of
 * them. Pair j goes to true_ids[j], pred_ids[j], counts[j]; each array needs
 * room for `max_pairs` entries (they may be NULL when max_pairs == 0).
 * Returns the number of pairs written (0..max_pairs), or -1 when r is NULL,
 * max_pairs < 0, or an output array is NULL while max_pairs > 0. Allocates
 * nothing; O(classes^2 * max_pairs) in the worst case. */
int ember__report_most_confused(const ember_class_report *r, int max_pairs, int64_t *true_ids,
                                int64_t *pred_ids, int64_t *counts);

/* Maximum number of pairs listed under "most_confused" in the JSON. */
#define EMBER_REPORT_JSON_MOST_CONFUSED 10

/* Render `r` as one JSON object (no whitespace) with exactly these keys:
 *   "n", "accuracy", "macro_precision", "macro_recall", "macro_f1",
 *   "weighted_precision", "weighted_recall", "weighted_f1",
 *   "top_k" (0 without probabilities), "top_k_accuracy" (null when NaN),
 *   "per_class": [{"label","precision","recall","f1","support"}] [classes],
 *   "confusion": [[...]] [classes][classes], row = true, column = predicted,
 *   "most_confused": [{"true","predicted","count"}], at most
 *                    EMBER_REPORT_JSON_MOST_CONFUSED, order as above.
 * "label" is class_names[c] when class_names is non-NULL (then it must hold
 * r->classes non-NULL strings, borrowed for the call), else the decimal id.
 * On success *json is a NUL-terminated string the caller frees with free().
 * Errors: EMBER_ERR_ARG (NULL r or json, a NULL class name: message names the
 * index), EMBER_ERR_NOMEM. On failure *json is left unchanged. */
ember_status ember__report_to_json(const ember_class_report *r, const char *const *class_names,
                                   char **json, ember_error *err);

#endif
