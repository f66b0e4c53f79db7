/*
 * text_reader.c - ember_text_dataset_load: labelled text from CSV, TSV,
 * fastText files or a folder per class, gzip or not.
 *
 * The parsers here read every file through the byte reader (byte_reader.h):
 * zlib, so gzip is detected from the bytes, never the name; chunked, so the
 * raw file is never held in memory; strict UTF-8 and no NUL bytes checked on
 * every byte consumed, columns that are not used included (the file must be
 * text). Each file is parsed byte by byte as it arrives: the bytes of a text
 * go straight into the data set's arena, so no text is copied twice. Memory
 * is bounded per example by TEXT_MAX_EXAMPLE_BYTES, which also stops an
 * unbalanced quote from swallowing a whole large file.
 *
 * Error lines are 1-based physical lines. Syntax errors (bad quotes, bad
 * bytes) name the line where the problem is (for an unbalanced quote, where
 * the quoted field starts); record errors (field count, empty label, empty
 * text) name the line where the record starts. CSV/TSV errors also name the
 * column as `column N ("name")`, N 0-based as in text_column. Bytes within
 * a line ("byte 4 of the line") are 1-based raw bytes, a BOM counting on
 * line 1.
 *
 * With skip_bad_lines a bad record is dropped and counted instead
 * (ember_text_dataset_skipped, with the first messages kept): the parser
 * notes the first problem (ember__reader_soften), carries on to the end of
 * the record as it would have parsed it, and drops it there, so a quoted
 * field with a bad byte takes its whole record along and nothing after it
 * is misread. Labels are added only once a record is known good, so a bad
 * record never adds a class. What cannot be skipped: the CSV header, an
 * unbalanced quote (it runs to the end of the file), stream errors (I/O, a
 * corrupt gzip stream), running out of memory, and a file in which every
 * record is bad.
 *
 * Deliberately not done: guessing delimiters or encodings (UTF-8 only; a
 * UTF-8 byte-order mark at the start is skipped), repairing bad rows, trimming
 * or otherwise editing fields (labels are kept byte for byte), blank lines in
 * the middle of a CSV/TSV (only trailing ones are allowed), a lone CR as a
 * line end, fastText labels after the text (a later "__label__x" is text),
 * recursion or file-name filters in folder data sets, and reading a text
 * column of more than TEXT_MAX_EXAMPLE_BYTES.
 */
#define _POSIX_C_SOURCE 200809L
#include "byte_reader.h"
#include "text_dataset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Most columns a CSV/TSV header may have: far more than any data set, and it
 * bounds the per-column bookkeeping (TEXT_MAX_EXAMPLE_BYTES bounds the header's bytes). */
#define TEXT_MAX_COLUMNS 100000

#define FASTTEXT_PREFIX "__label__"
#define FASTTEXT_PREFIX_LEN (sizeof FASTTEXT_PREFIX - 1)

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\v' ||
              s[i] == '\f'))
            return 0;
    return 1;
}

/* ------------------------------------------------------------- CSV / TSV */

enum { END_FIELD, END_RECORD, END_FILE };

typedef struct csv {
    ember__reader *r;
    char sep;
    const char *sep_name; /* "comma" or "tab", for hints */
    ember_text_dataset *d;
    ember__bytes hdr;     /* header names, NUL-terminated */
    size_t *name_off;     /* [ncols] into hdr */
    const char **names;   /* [ncols] into hdr, once the header is complete */
    int ncols;
    int text_col, label_col;
    ember__bytes label;   /* the label field of the current row */
    int skip;             /* skip_bad_lines, in force once the header is read */
} csv;

/* Skip mode, after a problem noted inside a field: the rest of the field,
 * read as unquoted bytes and dropped with its record (a lone CR and quotes
 * included); *end says what ended it. */
static ember_status rest_of_field(csv *c, int *end)
{
    ember__reader *r = c->r;
    for (;;) {
        ember_status s = ember__reader_take_plain(r, NULL, 0, 0);
        if (s)
            return s;
        int ch = ember__reader_get(r);
        if (ch == RD_ERR)
            return r->status;
        if (ch == RD_EOF || ch == '\n' || ch == c->sep) {
            *end = ch == RD_EOF ? END_FILE : ch == '\n' ? END_RECORD : END_FIELD;
            return EMBER_OK;
        }
        if (ch == '\r') {
            int p = ember__reader_peek(r);
            if (p == RD_ERR)
                return r->status;
            if (p == '\n') {
                ember__reader_get(r);
                *end = END_RECORD;
                return EMBER_OK;
            }
        }
    }
}

/* What follows a field: separator, line end or end of file. ch is consumed. */
static ember_status field_end(csv *c, int ch, int *end, const char *after)
{
    ember__reader *r = c->r;
    if (ch == RD_ERR)
        return r->status;
    if (ch == c->sep) {
        *end = END_FIELD;
        return EMBER_OK;
    }
    if (ch == '\n') {
        *end = END_RECORD;
        return EMBER_OK;
    }
    if (ch == RD_EOF) {
        *end = END_FILE;
        return EMBER_OK;
    }
    if (ch == '\r') {
        int p = ember__reader_peek(r);
        if (p == RD_ERR)
            return r->status;
        if (p == '\n') {
            ember__reader_get(r);
            *end = END_RECORD;
            return EMBER_OK;
        }
        r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, r->field, r->names,
                          "carriage return not followed by a line feed %s (lines end in "
                          "LF or CRLF; quote a field that contains a CR)", after);
    } else {
        /* Only reachable after a closing quote. */
        r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, r->field, r->names,
                          "text after the closing quote of a quoted field (write a quote "
                          "inside a quoted field as \"\")");
    }
    ember_status s = ember__reader_soften(r, r->status);
    return s ? s : rest_of_field(c, end);
}

/* Read one field into sink (NULL: only syntax-check it). `what` names the
 * field for the size-limit message. *end says what ended it. */
static ember_status parse_field(csv *c, ember__bytes *sink, const char *what, int *end)
{
    ember__reader *r = c->r;
    size_t start = sink ? sink->n : 0;
    ember_status s;
    int ch = ember__reader_peek(r);
    if (ch == '"') {
        ember__reader_get(r);
        int64_t qline = r->line;
        for (;;) {
            if ((s = ember__reader_take_plain(r, sink, start, qline)) != EMBER_OK)
                return s;
            ch = ember__reader_get(r);
            if (ch == RD_ERR)
                return r->status;
            if (ch == RD_EOF)
                return r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, qline, r->field,
                                         r->names,
                                         "unbalanced quote: the quoted field that starts on this "
                                         "line never ends (write a quote inside a quoted field "
                                         "as \"\")%s", r->skip ? "; it runs to the end of the "
                                         "file, so it cannot be skipped as one bad line" : "");
            if (ch == '"') {
                int p = ember__reader_peek(r);
                if (p == RD_ERR)
                    return r->status;
                if (p != '"')
                    break;
                ember__reader_get(r);
            }
            if (sink &&
                (s = ember__reader_put_capped(r, sink, start, ch, qline, what)) != EMBER_OK) {
                if (s == EMBER_ERR_FORMAT)
                    FAILF(r->err, EMBER_ERR_FORMAT, r->path, qline, r->field, r->names,
                          "the quoted %s that starts on this line is longer than %zu MiB (an "
                          "unbalanced quote?)", what, TEXT_MAX_EXAMPLE_BYTES >> 20);
                if ((s = ember__reader_soften(r, s)) != EMBER_OK)
                    return s;
                sink = NULL; /* noted: the rest of the field goes with its record */
            }
        }
        return field_end(c, ember__reader_get(r), end, "after a quoted field");
    }
    for (;;) {
        if ((s = ember__reader_take_plain(r, sink, start, r->line)) != EMBER_OK)
            return s;
        ch = ember__reader_get(r);
        if (ch == RD_ERR || ch == RD_EOF || ch == '\n' || ch == '\r' || ch == c->sep)
            return field_end(c, ch, end, "in an unquoted field");
        if (ch == '"') {
            s = r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, r->field, r->names,
                                  "a quote inside an unquoted field (quote the whole field "
                                  "and double the inner quote: \"say \"\"hi\"\"\")");
            if ((s = ember__reader_soften(r, s)) != EMBER_OK)
                return s;
            sink = NULL;
            continue;
        }
        if (sink && (s = ember__reader_put_capped(r, sink, start, ch, r->line, what)) != EMBER_OK) {
            if ((s = ember__reader_soften(r, s)) != EMBER_OK)
                return s;
            sink = NULL;
        }
    }
}

/* "\"a\", \"b\", \"c\"" (shortened with "..." when long) into buf. */
static void list_names(const csv *c, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->ncols; i++) {
        int w = snprintf(buf + used, n - used, "%s\"%.*s\"", i ? ", " : "", NAME_IN_MESSAGE_MAX,
                         c->names[i]);
        if (w < 0 || (size_t)w >= n - used) {
            if (n > 4)
                memcpy(buf + (used + 4 < n ? used : n - 4), "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

/* Column for `spec` (a header name, else a 0-based index), or by default
 * the column named `dflt`, else `dflt_index`. */
static ember_status pick_column(csv *c, const char *spec, const char *dflt, int dflt_index,
                                const char *role, int *col)
{
    ember__reader *r = c->r;
    const char *want = spec ? spec : dflt;
    int found = -1;
    for (int i = 0; i < c->ncols; i++) {
        if (strcmp(c->names[i], want) != 0)
            continue;
        if (found >= 0 && spec)
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                         "%s column \"%.*s\" is ambiguous: columns %d and %d both have that "
                         "name; pick one by index", role, NAME_IN_MESSAGE_MAX, spec, found, i);
        if (found < 0)
            found = i;
    }
    if (found >= 0) {
        *col = found;
        return EMBER_OK;
    }
    if (!spec) {
        *col = dflt_index;
        return EMBER_OK;
    }
    char list[300];
    list_names(c, list, sizeof list);
    size_t len = strlen(spec);
    if (len > 0 && len <= 9 && strspn(spec, "0123456789") == len) {
        long idx = strtol(spec, NULL, 10);
        if (idx < c->ncols) {
            *col = (int)idx;
            return EMBER_OK;
        }
        return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                     "%s column index %ld is out of range: the header has %d columns (0..%d): %s",
                     role, idx, c->ncols, c->ncols - 1, list);
    }
    return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                 "no %s column named \"%.*s\"; the header has %d columns: %s", role,
                 NAME_IN_MESSAGE_MAX, spec, c->ncols, list);
}

/* The header row: column names, then the text and label columns. */
static ember_status read_header(csv *c, const ember_text_read_options *opt)
{
    ember__reader *r = c->r;
    int ch = ember__reader_peek(r);
    if (ch == RD_ERR)
        return r->status;
    if (ch == RD_EOF)
        return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                     "file is empty (expected a header row of column names, then examples)");
    if (ch == '\n' || ch == '\r')
        return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                     "line 1 is blank (expected a header row of column names)");
    int64_t cap = 0;
    int end = END_FIELD;
    while (end == END_FIELD) {
        if (c->ncols == TEXT_MAX_COLUMNS)
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                         "the header has more than %d columns", TEXT_MAX_COLUMNS);
        if (c->ncols == cap) {
            cap = cap ? 2 * cap : 16;
            size_t *p = realloc(c->name_off, (size_t)cap * sizeof *p);
            if (!p)
                return FAILF(r->err, EMBER_ERR_NOMEM, r->path, 1, -1, NULL,
                             "out of memory for the header");
            c->name_off = p;
        }
        c->name_off[c->ncols++] = c->hdr.n;
        ember_status s = parse_field(c, &c->hdr, "header", &end);
        if (s)
            return s;
        if (!ember__bytes_put(&c->hdr, '\0'))
            return FAILF(r->err, EMBER_ERR_NOMEM, r->path, 1, -1, NULL,
                         "out of memory for the header");
    }
    c->names = malloc((size_t)c->ncols * sizeof *c->names);
    if (!c->names)
        return FAILF(r->err, EMBER_ERR_NOMEM, r->path, 1, -1, NULL, "out of memory for the header");
    for (int i = 0; i < c->ncols; i++)
        c->names[i] = c->hdr.d + c->name_off[i];

    ember_status s = pick_column(c, opt->text_column, "text", 0, "text", &c->text_col);
    if (!s)
        s = pick_column(c, opt->label_column, "label", c->ncols - 1, "label", &c->label_col);
    if (s)
        return s;
    if (c->text_col == c->label_col)
        return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                     "text and label are both column %d (\"%.*s\"); the header has %d column%s, "
                     "choose two with text_column and label_column", c->text_col,
                     NAME_IN_MESSAGE_MAX, c->names[c->text_col], c->ncols,
                     c->ncols == 1 ? "" : "s");
    r->names = c->names;
    r->ncols = c->ncols;
    return EMBER_OK;
}

/* Skip mode: drop the record being built (its text from `start`) and count
 * `count` skipped records under its first problem. */
static void drop_record(ember__reader *r, ember_text_dataset *d, size_t start, int64_t count)
{
    ember__text_dataset_drop(d, start);
    ember__text_dataset_note_skip(d, r->bad_msg, count);
    r->bad = 0;
}

/* No example in the file: every record was skipped as bad. */
static ember_status all_bad(ember__reader *r, const ember_text_dataset *d, const char *what)
{
    return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 0, -1, NULL,
                 "no examples left: all %lld %s skipped as bad; the first: %s",
                 (long long)d->skipped, what, d->shown[0]);
}

static ember_status read_rows(csv *c)
{
    ember__reader *r = c->r;
    ember_text_dataset *d = c->d;
    int64_t blank_line = 0; /* first blank line seen, allowed only at the end */
    int64_t blanks = 0;     /* blank lines since then */
    r->skip = c->skip;      /* the header cannot be skipped; rows can */
    for (;;) {
        int64_t line = r->line;
        r->bad = 0;
        int ch = ember__reader_peek(r);
        if (ch == RD_ERR)
            return r->status;
        if (ch == RD_EOF)
            break;
        if (ch == '\n' || ch == '\r') {
            r->field = -1;
            int end;
            ember_status s = field_end(c, ember__reader_get(r), &end, "on a blank line");
            if (s)
                return s;
            if (r->bad) { /* a lone CR, noted */
                drop_record(r, d, d->text.n, 1);
                continue;
            }
            if (!blank_line)
                blank_line = line;
            blanks++;
            continue;
        }
        if (blank_line) {
            ember_status s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, blank_line, -1, NULL,
                                   "blank line between rows (only blank lines at the end of "
                                   "the file are allowed)");
            if ((s = ember__reader_soften(r, s)) != EMBER_OK)
                return s;
            drop_record(r, d, d->text.n, blanks);
            blank_line = blanks = 0;
        }
        size_t start = d->text.n;
        c->label.n = 0;
        int64_t nfields = 0;
        int end = END_FIELD;
        while (end == END_FIELD) {
            int f = nfields < c->ncols ? (int)nfields : -1;
            ember__bytes *sink = f == c->text_col ? &d->text : f == c->label_col ? &c->label : NULL;
            r->field = f;
            ember_status s = parse_field(c, sink, f == c->text_col ? "text" : "label", &end);
            if (s)
                return s;
            nfields++;
        }
        r->field = -1;
        ember_status s = EMBER_OK;
        if (r->bad) /* the first problem is noted already */
            s = EMBER_OK;
        else if (nfields != c->ncols)
            s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, -1, NULL,
                      "row has %lld field%s but the header has %d%s", (long long)nfields,
                      nfields == 1 ? "" : "s", c->ncols,
                      nfields > c->ncols ? (c->sep == ',' ? " (quote fields that contain a comma)"
                                                          : " (quote fields that contain a tab)")
                                         : "");
        else if (is_blank(c->label.d, c->label.n))
            s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, c->label_col, c->names,
                      "label is empty");
        /* text.d is still NULL when no byte of text has been kept yet */
        else if (d->text.n == start || is_blank(d->text.d + start, d->text.n - start))
            s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, c->text_col, c->names,
                      "a label with no text (the text is empty)");
        if ((s = ember__reader_soften(r, s)) != EMBER_OK)
            return s;
        if (r->bad) {
            drop_record(r, d, start, 1);
        } else {
            s = ember__text_dataset_add_label(d, c->label.d, c->label.n, r->err);
            if (!s)
                s = ember__text_dataset_commit(d, start, line, NULL, r->err);
            if (s) {
                ember__error_prefix(r->err, "%s:%lld", r->path, (long long)line);
                return s;
            }
        }
        if (end == END_FILE)
            break;
    }
    if (d->n == 0 && d->skipped > 0)
        return all_bad(r, d, "rows");
    if (d->n == 0)
        return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                     "header only: the file has a header row but no examples");
    return EMBER_OK;
}

static ember_status read_csv(const char *path, char sep, const ember_text_read_options *opt,
                             ember_text_dataset *d, ember_error *err)
{
    ember__reader r;
    ember_status s = ember__reader_open(&r, path, err);
    if (s)
        return s;
    ember__reader_skip_bom(&r);
    csv c = {.r = &r, .sep = sep, .d = d, .skip = opt->skip_bad_lines != 0};
    s = read_header(&c, opt);
    if (!s)
        s = read_rows(&c);
    ember__bytes_free(&c.hdr);
    ember__bytes_free(&c.label);
    free(c.name_off);
    free(c.names);
    return ember__reader_close(&r, s);
}

/* -------------------------------------------------------------- fastText */

/* One line: "__label__a __label__b text...". Blank lines are skipped. The
 * line's labels wait in `lab` (NUL-separated) until the line is known good.
 * Skip mode: a bad byte is noted and the line read on; a problem that stops
 * the line (too long, a bare label) is noted and the rest of the line passed
 * over unchecked; either way the line is dropped at its end. */
static ember_status fasttext_lines(ember__reader *r, ember_text_dataset *d, ember__bytes *lab)
{
    for (;;) {
        int64_t line = r->line;
        size_t start = d->text.n;
        int nlabels = 0, has_text = 0;
        int ch;
        ember_status s = EMBER_OK;
        lab->n = 0;
        r->bad = 0;
        for (;;) {
            while ((ch = ember__reader_peek(r)) == ' ' || ch == '\t')
                ember__reader_get(r);
            if (ch == RD_ERR)
                return r->status;
            if (ch == RD_EOF || ch == '\n')
                break;
            /* A token, straight into the arena: it is either a label (moved to
             * `lab`, arena rewound) or the first word of the text. */
            size_t tok = d->text.n;
            for (;;) {
                ch = ember__reader_peek(r);
                if (ch == RD_ERR)
                    return r->status;
                if (ch == RD_EOF || ch == ' ' || ch == '\t' || ch == '\n')
                    break;
                if ((ch = ember__reader_get(r)) < 0)
                    return r->status;
                s = ember__reader_put_capped(r, &d->text, start, ch, line, "line");
                if (s != EMBER_OK)
                    goto stop_line;
            }
            int at_end = ch == RD_EOF || ch == '\n';
            if (at_end && d->text.n > tok && d->text.d[d->text.n - 1] == '\r')
                d->text.n--; /* CRLF line end */
            size_t len = d->text.n - tok;
            if (len == 0)
                break;
            if (len >= FASTTEXT_PREFIX_LEN &&
                memcmp(d->text.d + tok, FASTTEXT_PREFIX, FASTTEXT_PREFIX_LEN) == 0) {
                if (len == FASTTEXT_PREFIX_LEN) {
                    s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, -1, NULL,
                              "label is empty (a bare %s)", FASTTEXT_PREFIX);
                    goto stop_line;
                }
                size_t n = len - FASTTEXT_PREFIX_LEN;
                if (!ember__bytes_reserve(lab, n + 1))
                    return FAILF(r->err, EMBER_ERR_NOMEM, r->path, line, -1, NULL,
                                 "out of memory for labels");
                memcpy(lab->d + lab->n, d->text.d + tok + FASTTEXT_PREFIX_LEN, n);
                lab->d[lab->n + n] = '\0';
                lab->n += n + 1;
                d->text.n = tok;
                nlabels++;
                continue;
            }
            /* The text: this token and the rest of the line as it is. */
            has_text = 1;
            if (!at_end) {
                for (;;) {
                    if ((s = ember__reader_take_plain(r, &d->text, start, line)) != EMBER_OK)
                        return s;
                    ch = ember__reader_peek(r);
                    if (ch == RD_ERR)
                        return r->status;
                    if (ch == RD_EOF || ch == '\n')
                        break;
                    if ((ch = ember__reader_get(r)) < 0)
                        return r->status;
                    s = ember__reader_put_capped(r, &d->text, start, ch, line, "line");
                    if (s != EMBER_OK)
                        goto stop_line;
                }
                if (d->text.d[d->text.n - 1] == '\r')
                    d->text.n--; /* CRLF line end */
            }
            break;
        }
        ch = ember__reader_get(r); /* the '\n', or end of file */
        if (ch == RD_ERR)
            return r->status;
        if (nlabels == 0 && !has_text && !r->bad) { /* blank line */
            if (ch == RD_EOF)
                break;
            continue;
        }
        if (r->bad)
            s = EMBER_OK;
        else if (nlabels == 0)
            s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, -1, NULL,
                      "no label: a fastText line starts with one or more %sNAME tokens, e.g. "
                      "\"%sspam buy now\"", FASTTEXT_PREFIX, FASTTEXT_PREFIX);
        else if (!has_text)
            s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, -1, NULL,
                      "a label with no text after it");
        if ((s = ember__reader_soften(r, s)) != EMBER_OK)
            return s;
        if (r->bad) {
            drop_record(r, d, start, 1);
        } else {
            for (size_t at = 0; at < lab->n && !s; at += strlen(lab->d + at) + 1)
                s = ember__text_dataset_add_label(d, lab->d + at, strlen(lab->d + at), r->err);
            if (!s)
                s = ember__text_dataset_commit(d, start, line, NULL, r->err);
            if (s) {
                ember__error_prefix(r->err, "%s:%lld", r->path, (long long)line);
                return s;
            }
        }
        if (ch == RD_EOF)
            break;
        continue;
    stop_line: /* s: why the line cannot be read on */
        if ((s = ember__reader_soften(r, s)) != EMBER_OK)
            return s;
        drop_record(r, d, start, 1);
        if ((s = ember__reader_skip_line(r)) != EMBER_OK)
            return s;
    }
    if (d->n == 0 && d->skipped > 0)
        return all_bad(r, d, "lines");
    if (d->n == 0) {
        if (r->line == 1 && r->col == 0)
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL, "file is empty");
        return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 0, -1, NULL,
                     "no examples: the file has only blank lines");
    }
    return EMBER_OK;
}

static ember_status read_fasttext(const char *path, int skip, ember_text_dataset *d,
                                  ember_error *err)
{
    ember__reader r;
    ember_status s = ember__reader_open(&r, path, err);
    if (s)
        return s;
    r.skip = skip;
    ember__reader_skip_bom(&r);
    ember__bytes lab = {0};
    s = fasttext_lines(&r, d, &lab);
    ember__bytes_free(&lab);
    return ember__reader_close(&r, s);
}

/* ---------------------------------------------------------------- folder */

/* "a/b" in a new malloc'd string, or NULL. */
static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > SIZE_MAX - nb - 2)
        return NULL;
    char *p = malloc(na + nb + 2);
    if (p) {
        memcpy(p, a, na);
        p[na] = '/';
        memcpy(p + na + 1, b, nb + 1);
    }
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Names of the sub-folders (want_dirs) or regular files of `dir`, hidden ones
 * (starting with '.') left out, sorted by byte order. Symbolic links count as
 * what they point to. */
static ember_status list_dir(const char *dir, int want_dirs, char ***out, size_t *count,
                             ember_error *err)
{
    *out = NULL;
    *count = 0;
    DIR *dp = opendir(dir);
    if (!dp)
        return FAILF(err, EMBER_ERR_IO, dir, 0, -1, NULL, "cannot open folder: %s",
                     strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    ember_status s = EMBER_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dp);
        if (!e) {
            if (errno)
                s = FAILF(err, EMBER_ERR_IO, dir, 0, -1, NULL, "cannot list folder: %s",
                          strerror(errno));
            break;
        }
        if (e->d_name[0] == '.')
            continue;
        char *full = join(dir, e->d_name);
        if (!full) {
            s = FAILF(err, EMBER_ERR_NOMEM, dir, 0, -1, NULL, "out of memory listing the folder");
            break;
        }
        struct stat st;
        if (stat(full, &st) != 0) {
            s = FAILF(err, EMBER_ERR_IO, full, 0, -1, NULL, "cannot stat: %s", strerror(errno));
            free(full);
            break;
        }
        free(full);
        if (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            size_t c2 = cap ? 2 * cap : 16;
            char **p = c2 < cap || c2 > SIZE_MAX / sizeof *p ? NULL : realloc(names, c2 * sizeof *p);
            if (!p) {
                s = FAILF(err, EMBER_ERR_NOMEM, dir, 0, -1, NULL, "out of memory listing the folder");
                break;
            }
            names = p;
            cap = c2;
        }
        if (!(names[n] = strdup(e->d_name))) {
            s = FAILF(err, EMBER_ERR_NOMEM, dir, 0, -1, NULL, "out of memory listing the folder");
            break;
        }
        n++;
    }
    closedir(dp);
    if (s) {
        free_names(names, n);
        return s;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *count = n;
    return EMBER_OK;
}

/* One file as one example of class `label`. Skip mode: a file that is not
 * UTF-8, holds a NUL byte, is empty or blank, or is over the size cap is
 * dropped and counted; one that cannot be read is still an error. */
static ember_status read_one_file(const char *path, const char *label, int skip,
                                  ember_text_dataset *d, ember_error *err)
{
    ember__reader r;
    ember_status s = ember__reader_open(&r, path, err);
    if (s)
        return s;
    r.skip = skip;
    ember__reader_skip_bom(&r);
    size_t start = d->text.n;
    for (;;) {
        if ((s = ember__reader_take_plain(&r, &d->text, start, 0)) != EMBER_OK)
            break;
        int ch = ember__reader_get(&r);
        if (ch == RD_ERR) {
            s = r.status;
            break;
        }
        if (ch == RD_EOF)
            break;
        if ((s = ember__reader_put_capped(&r, &d->text, start, ch, 0, "file")) != EMBER_OK) {
            s = ember__reader_soften(&r, s); /* noted: the rest of the file is not read */
            break;
        }
    }
    if (!s && !r.bad && d->text.n == start)
        s = FAILF(r.err, EMBER_ERR_FORMAT, path, 0, -1, NULL,
                  "file is empty (a label with no text)");
    else if (!s && !r.bad && is_blank(d->text.d + start, d->text.n - start))
        s = FAILF(r.err, EMBER_ERR_FORMAT, path, 0, -1, NULL,
                  "file holds only whitespace (a label with no text)");
    s = ember__reader_soften(&r, s);
    if (!s && r.bad) {
        drop_record(&r, d, start, 1);
    } else if (!s) {
        s = ember__text_dataset_add_label(d, label, strlen(label), r.err);
        if (!s)
            s = ember__text_dataset_commit(d, start, 0, path, r.err);
        if (s)
            ember__error_prefix(r.err, "%s", path);
    }
    return ember__reader_close(&r, s);
}

static ember_status read_folder(const char *path, int skip, ember_text_dataset *d,
                                ember_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return FAILF(err, EMBER_ERR_IO, path, 0, -1, NULL, "cannot open: %s", strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return FAILF(err, EMBER_ERR_ARG, path, 0, -1, NULL,
                     "not a folder (format EMBER_TEXT_FOLDER reads a folder with one "
                     "sub-folder per class)");
    char **classes = NULL;
    size_t nclasses = 0;
    ember_status s = list_dir(path, 1, &classes, &nclasses, err);
    if (s)
        return s;
    if (nclasses == 0)
        s = FAILF(err, EMBER_ERR_FORMAT, path, 0, -1, NULL,
                  "no class sub-folders (a folder data set has one sub-folder per class, "
                  "one file per example)");
    for (size_t k = 0; k < nclasses && !s; k++) {
        char *cdir = join(path, classes[k]);
        if (!cdir) {
            s = FAILF(err, EMBER_ERR_NOMEM, path, 0, -1, NULL, "out of memory");
            break;
        }
        size_t bad;
        if (!ember__utf8_valid(classes[k], strlen(classes[k]), &bad)) {
            s = FAILF(err, EMBER_ERR_FORMAT, cdir, 0, -1, NULL,
                      "class folder name is not valid UTF-8 (byte %zu)", bad + 1);
            free(cdir);
            break;
        }
        char **files = NULL;
        size_t nfiles = 0;
        s = list_dir(cdir, 0, &files, &nfiles, err);
        if (!s && nfiles == 0)
            s = FAILF(err, EMBER_ERR_FORMAT, cdir, 0, -1, NULL,
                      "class folder has no files (hidden files are skipped)");
        for (size_t i = 0; i < nfiles && !s; i++) {
            char *f = join(cdir, files[i]);
            if (!f) {
                s = FAILF(err, EMBER_ERR_NOMEM, cdir, 0, -1, NULL, "out of memory");
                break;
            }
            s = read_one_file(f, classes[k], skip, d, err);
            free(f);
        }
        free_names(files, nfiles);
        free(cdir);
    }
    free_names(classes, nclasses);
    if (!s && d->n == 0 && d->skipped > 0)
        s = FAILF(err, EMBER_ERR_FORMAT, path, 0, -1, NULL,
                  "no examples left: all %lld files were skipped as bad; the first: %s",
                  (long long)d->skipped, d->shown[0]);
    return s;
}

/* ------------------------------------------------------------- detection */

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (m > n)
        return 0;
    for (size_t i = 0; i < m; i++) {
        char a = s[n - m + i], b = suffix[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

static const char *format_name(ember_text_format f)
{
    switch (f) {
    case EMBER_TEXT_AUTO: return "AUTO";
    case EMBER_TEXT_CSV: return "CSV";
    case EMBER_TEXT_TSV: return "TSV";
    case EMBER_TEXT_FASTTEXT: return "fastText";
    case EMBER_TEXT_FOLDER: return "FOLDER";
    case EMBER_TEXT_LINES: return "LINES";
    }
    return "unknown";
}

/* The format of `path` per EMBER_TEXT_AUTO. */
static ember_status detect(const char *path, ember_text_format *fmt, ember_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return FAILF(err, EMBER_ERR_IO, path, 0, -1, NULL, "cannot open: %s", strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        *fmt = EMBER_TEXT_FOLDER;
        return EMBER_OK;
    }
    if (ends_with_ci(path, ".tsv") || ends_with_ci(path, ".tsv.gz")) {
        *fmt = EMBER_TEXT_TSV;
        return EMBER_OK;
    }
    if (ends_with_ci(path, ".csv") || ends_with_ci(path, ".csv.gz")) {
        *fmt = EMBER_TEXT_CSV;
        return EMBER_OK;
    }
    ember__reader r;
    ember_status s = ember__reader_open(&r, path, err);
    if (s)
        return s;
    ember__reader_skip_bom(&r);
    int ch;
    while ((ch = ember__reader_peek(&r)) == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
        ember__reader_get(&r); /* fastText skips blank lines */
    size_t i = 0;
    while (i < FASTTEXT_PREFIX_LEN && (ch = ember__reader_get(&r)) == FASTTEXT_PREFIX[i])
        i++;
    if (r.status)
        s = r.status;
    else if (i == FASTTEXT_PREFIX_LEN)
        *fmt = EMBER_TEXT_FASTTEXT;
    else if (ch == RD_EOF && i == 0 && r.line == 1 && r.col == 0)
        s = FAILF(err, EMBER_ERR_FORMAT, path, 1, -1, NULL, "file is empty");
    else if (ch == RD_EOF && i == 0)
        s = FAILF(err, EMBER_ERR_FORMAT, path, 0, -1, NULL,
                  "file holds only blank lines (no examples)");
    else
        s = FAILF(err, EMBER_ERR_FORMAT, path, r.line, -1, NULL,
                  "cannot detect the format: not a folder, the name does not end in .csv, "
                  ".tsv, .csv.gz or .tsv.gz, and the first line does not start with %s "
                  "(fastText); set the format to EMBER_TEXT_CSV, EMBER_TEXT_TSV, "
                  "EMBER_TEXT_FASTTEXT or EMBER_TEXT_FOLDER", FASTTEXT_PREFIX);
    ember__reader_abandon(&r);
    return s;
}

/* ------------------------------------------------------------ public API */

ember_text_read_options ember_text_read_options_default(void)
{
    ember_text_read_options o = {.format = EMBER_TEXT_AUTO, .text_column = NULL,
                                 .label_column = NULL, .skip_bad_lines = 0};
    return o;
}

ember_status ember_text_dataset_load(ember_text_dataset **out, const char *path,
                                     const ember_text_read_options *opt, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_load: out is NULL");
    *out = NULL;
    if (!path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_load: path is NULL");
    ember_text_read_options o = opt ? *opt : ember_text_read_options_default();
    ember_text_format fmt = o.format;
    if (fmt == EMBER_TEXT_LINES)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_load: format EMBER_TEXT_LINES "
                          "is for ember_data_fingerprint only (unlabelled lines)");
    if (fmt != EMBER_TEXT_AUTO && fmt != EMBER_TEXT_CSV && fmt != EMBER_TEXT_TSV &&
        fmt != EMBER_TEXT_FASTTEXT && fmt != EMBER_TEXT_FOLDER)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_text_dataset_load: format %d is not an "
                          "ember_text_format", (int)fmt);
    ember_status s = EMBER_OK;
    if (fmt == EMBER_TEXT_AUTO && (s = detect(path, &fmt, err)) != EMBER_OK)
        return s;
    if ((o.text_column || o.label_column) && fmt != EMBER_TEXT_CSV && fmt != EMBER_TEXT_TSV)
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "%s: text_column and label_column apply to CSV and TSV only; this is "
                          "read as %s", path, format_name(fmt));
    ember_text_dataset *d = NULL;
    if ((s = ember__text_dataset_alloc(&d, err)) != EMBER_OK)
        return s;
    if (!(d->source = strdup(path))) {
        ember_text_dataset_destroy(d);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
    }
    d->track_lines = fmt != EMBER_TEXT_FOLDER;
    d->track_files = fmt == EMBER_TEXT_FOLDER;
    int skip = o.skip_bad_lines != 0;
    /* Skipped records' messages are formatted in *err on the way; a load
     * that succeeds leaves the caller's ember_error as it was. */
    ember_error saved;
    if (err && skip)
        saved = *err;
    switch (fmt) {
    case EMBER_TEXT_CSV: s = read_csv(path, ',', &o, d, err); break;
    case EMBER_TEXT_TSV: s = read_csv(path, '\t', &o, d, err); break;
    case EMBER_TEXT_FASTTEXT: s = read_fasttext(path, skip, d, err); break;
    case EMBER_TEXT_FOLDER: s = read_folder(path, skip, d, err); break;
    case EMBER_TEXT_AUTO: /* resolved above */
    case EMBER_TEXT_LINES: break; /* refused above */
    }
    if (s) {
        ember_text_dataset_destroy(d);
        return s;
    }
    if (err && skip)
        *err = saved;
    ember__text_dataset_shrink(d);
    *out = d;
    return EMBER_OK;
}
