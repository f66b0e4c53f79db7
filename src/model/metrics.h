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

/* The report's JSON and most-confused helpers are public (ember.h). */

#endif
