/*
 * report.h - what the two HTML reports share (report.c: the classifier's
 * page, and the page head, style, escaping and atomic save; recommender.c:
 * the recommender's page). Internal; not installed.
 */
#ifndef EMBER_REPORT_H
#define EMBER_REPORT_H

#include "core.h"
#include "strbuf.h"

/* A string literal, its length known at compile time. */
#define sb_lit(b, lit) ember__sb_put((b), lit, sizeof(lit) - 1)

/* Text escaped for HTML (element content and quoted attributes). */
void ember__report_esc(ember_sbuf *b, const char *s);
/* The series colours of every chart: blue, orange, green, purple. */
extern const char *const ember__report_colours[4];
/* A "nice" step for about n axis ticks over [lo, hi]: 1, 2 or 5 times a
 * power of ten. */
double ember__report_nice_step(double lo, double hi, int n);
/* A model's metadata by key (NULL when absent): ember_model_get_metadata or
 * ember_recommender_get_metadata behind one signature. */
typedef const char *(*ember__report_meta_fn)(const void *model, const char *key);
/* "Learning curves": loss, accuracy (and validation), skipped batches and
 * seconds per epoch from the EMBER_META_LINEAGE_HISTORY metadata, the series
 * it has; a note when it has none. */
void ember__report_history(ember_sbuf *b, ember__report_meta_fn get, const void *model);
/* "Lineage": run, data files with their SHA-256, settings, from the
 * EMBER_META_LINEAGE_* metadata; a note when there is none. */
void ember__report_lineage(ember_sbuf *b, ember__report_meta_fn get, const void *model);
/* <!DOCTYPE html> ... <body><h1>Ember report: TITLE</h1>, with the style. */
void ember__report_head(ember_sbuf *b, const char *title);
/* Close the page (the table-sorting script, </body></html>), write it to
 * path through a temporary file and rename, and free b. Errors:
 * EMBER_ERR_NOMEM (b ran out), EMBER_ERR_IO (the path named). */
ember_status ember__report_finish(ember_sbuf *b, const char *path, ember_error *err);

#endif
