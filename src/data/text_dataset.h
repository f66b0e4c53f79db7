/*
 * text_dataset.h - the inside of ember_text_dataset and the few calls the
 * readers (text_reader.c) use to fill one. Internal; not installed.
 *
 * Layout: every text lives once, NUL-terminated, in one growing byte arena
 * (`text`); an example is an offset into it. Label names are interned: each
 * distinct name is stored once (`names`) and an example holds a run of label
 * ids (several for fastText multi-label, none for unlabelled data). The
 * arenas move when they grow, so everything inside is an offset, never a
 * pointer, until the data set is complete.
 *
 * A reader builds an example in place: it appends the text's bytes to
 * d->text starting at some offset `start`, calls ember__text_dataset_add_label
 * for each label, then ember__text_dataset_commit(d, start, line, file). A
 * record found bad after some bytes went in (skip_bad_lines) is dropped with
 * ember__text_dataset_drop(d, start) before any label was added, and noted
 * with ember__text_dataset_note_skip. Otherwise there is no rollback: a
 * failed load destroys the whole data set.
 *
 * Where each example came from is kept for messages (a label unknown at test
 * time names its file and line): the path given to the loader, plus per
 * example the 1-based line where its record starts (CSV, TSV, fastText) or
 * its file (folder data sets). That costs 8 bytes per example, or the file
 * name's bytes; sets made in memory keep nothing and are named by index.
 */
#ifndef EMBER_TEXT_DATASET_H
#define EMBER_TEXT_DATASET_H

#include "core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer (malloc/realloc; no alignment needed for bytes). */
typedef struct ember__bytes {
    char *d;
    size_t n;   /* bytes in use */
    size_t cap; /* bytes allocated */
} ember__bytes;

/* Make room for `extra` more bytes. false on size overflow or no memory (the
 * buffer is then unchanged). */
bool ember__bytes_reserve(ember__bytes *b, size_t extra);
void ember__bytes_free(ember__bytes *b);

/* Append one byte; false when out of memory. */
static inline bool ember__bytes_put(ember__bytes *b, char c)
{
    if (b->n == b->cap && !ember__bytes_reserve(b, 1))
        return false;
    b->d[b->n++] = c;
    return true;
}

struct ember_text_dataset {
    ember__bytes text;     /* all texts, each NUL-terminated */
    int64_t n;             /* examples */
    int64_t cap;           /* room in text_off (cap) and label_start (cap + 1) */
    size_t *text_off;      /* [n] offset of example i's text in text.d */
    int64_t *label_start;  /* [n + 1] example i has label_ids[label_start[i] ..
                              label_start[i + 1]); label_start[n] starts the
                              labels of the example being built */
    int32_t *label_ids;    /* [label_used] ids into the label table */
    int64_t label_used, label_cap;
    ember__bytes names;    /* label names, each NUL-terminated */
    size_t *name_off;      /* [classes] offset of label id k's name in names.d */
    int32_t classes, name_cap;
    int32_t *slots;        /* [slot_count] open-addressing table of label ids; -1 empty */
    size_t slot_count;     /* 0 or a power of two */
    /* where examples came from (see above) */
    char *source;          /* the path given to the loader; NULL for sets made in memory */
    int64_t *line;         /* [cap] line where example i's record starts; NULL unless the
                              reader set track_lines before the first commit */
    ember__bytes files;    /* folder sets: the examples' file paths, each NUL-terminated */
    size_t *file_off;      /* [cap] offset of example i's path in files.d; NULL unless
                              track_files was set before the first commit */
    bool track_lines, track_files;
    /* records skipped as bad (skip_bad_lines, ember_text_dataset_drop_unknown_labels) */
    int64_t skipped;
    int nshown;            /* messages kept: min(skipped, EMBER_TEXT_SKIPPED_SHOWN) */
    char shown[EMBER_TEXT_SKIPPED_SHOWN][EMBER_ERROR_MESSAGE_MAX];
};

/* An empty data set. EMBER_ERR_NOMEM. */
ember_status ember__text_dataset_alloc(ember_text_dataset **out, ember_error *err);

/* Give the example being built the label `name` (len bytes, no NUL inside,
 * valid UTF-8 already checked by the caller). EMBER_ERR_NOMEM, or
 * EMBER_ERR_FORMAT past 2^31 - 1 distinct labels or labels on one example. */
ember_status ember__text_dataset_add_label(ember_text_dataset *d, const char *name, size_t len,
                                           ember_error *err);

/* Finish the example whose text is d->text.d[start .. d->text.n): appends its
 * NUL and records it with the labels added since the last commit, the line
 * its record starts on (kept when d->track_lines) and its file (kept when
 * d->track_files; may be NULL otherwise). EMBER_ERR_NOMEM. */
ember_status ember__text_dataset_commit(ember_text_dataset *d, size_t start, int64_t line,
                                        const char *file, ember_error *err);

/* Forget the example being built: its text bytes from `start` on and any
 * labels added for it since the last commit. Label names already interned
 * stay in the table, so callers add labels only once a record is known good. */
void ember__text_dataset_drop(ember_text_dataset *d, size_t start);

/* Count `count` skipped records; keep `msg` ("FILE:LINE: reason") if fewer
 * than EMBER_TEXT_SKIPPED_SHOWN are kept. */
void ember__text_dataset_note_skip(ember_text_dataset *d, const char *msg, int64_t count);

/* "FILE:LINE", "FILE" (folder sets: the example's file) or "example I" into
 * buf; returns buf. */
const char *ember__text_dataset_where(const ember_text_dataset *d, int64_t i, char *buf,
                                      size_t n);

/* Give back the arenas' unused tails once loading is done (best effort). */
void ember__text_dataset_shrink(ember_text_dataset *d);

/* Number of distinct labels, and the name of label id k (borrowed). */
int32_t ember__text_dataset_class_count(const ember_text_dataset *d);
const char *ember__text_dataset_class_name(const ember_text_dataset *d, int32_t k);

/* true when s[0..n) is strict UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF; checked with utf8proc); otherwise false and *bad = offset
 * of the first byte of the bad sequence. NUL bytes count as valid here. */
bool ember__utf8_valid(const char *s, size_t n, size_t *bad);

#endif
