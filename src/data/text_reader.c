/*
 * text_reader.c - ember_text_dataset_load: labelled text from CSV, TSV,
 * fastText files or a folder per class, gzip or not.
 *
 * Every file is read through zlib (gzdopen/gzread), which passes plain bytes
 * through untouched, so gzip is detected from the bytes, never the name. The
 * input is read in TEXT_CHUNK_BYTES chunks and parsed byte by byte as it
 * arrives: the bytes of a text go straight into the data set's arena, so the
 * raw file is never held in memory and no text is copied twice. Memory is
 * bounded per example by TEXT_MAX_EXAMPLE_BYTES, which also stops an
 * unbalanced quote from swallowing a whole large file.
 *
 * Every byte of the input is checked as it is consumed: strict UTF-8
 * (utf8proc_iterate rejects overlongs, surrogates and code points above
 * U+10FFFF) and no NUL bytes, so errors point at the exact physical line and
 * byte. This covers columns that are not used as well: the file must be text.
 *
 * Error lines are 1-based physical lines. Syntax errors (bad quotes, bad
 * bytes) name the line where the problem is (for an unbalanced quote, where
 * the quoted field starts); record errors (field count, empty label, empty
 * text) name the line where the record starts. CSV/TSV errors also name the
 * column as `column N ("name")`, N 0-based as in text_column. Bytes within
 * a line ("byte 4 of the line") are 1-based raw bytes, a BOM counting on
 * line 1.
 *
 * Deliberately not done: guessing delimiters or encodings (UTF-8 only; a
 * UTF-8 byte-order mark at the start is skipped), skipping bad rows, trimming
 * or otherwise editing fields (labels are kept byte for byte), blank lines in
 * the middle of a CSV/TSV (only trailing ones are allowed), a lone CR as a
 * line end, fastText labels after the text (a later "__label__x" is text),
 * recursion or file-name filters in folder data sets, and reading a text
 * column of more than TEXT_MAX_EXAMPLE_BYTES.
 */
#define _POSIX_C_SOURCE 200809L
#include "text_dataset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>
#include <zlib.h>

/* Bytes handed to us per gzread: 64 KiB, enough to make per-call cost
 * negligible while staying small next to any data set. */
#define TEXT_CHUNK_BYTES ((size_t)64 * 1024)

/* zlib's own read buffer: 128 KiB instead of its default 8 KiB, for fewer
 * system calls (as in idx.c). */
#define TEXT_GZ_BUFFER_BYTES (128u * 1024u)

/* Largest single text, label field or CSV header: 64 MiB. A long novel is
 * about 1 MB, so no real example comes near; the cap bounds the memory one
 * hostile record (e.g. a quote that is never closed in a multi-GB file) can
 * take before the reader says what is wrong. */
#define TEXT_MAX_EXAMPLE_BYTES ((size_t)64 << 20)

/* Most columns a CSV/TSV header may have: far more than any data set, and it
 * bounds the per-column bookkeeping (the header's bytes are bounded above). */
#define TEXT_MAX_COLUMNS 100000

/* The longest UTF-8 sequence, in bytes. */
#define UTF8_MAX_SEQ 4

/* Characters of a column name quoted in a message, so a long name cannot push
 * the rest of the message out of ember_error's fixed buffer. */
#define NAME_IN_MESSAGE_MAX 60

#define FASTTEXT_PREFIX "__label__"
#define FASTTEXT_PREFIX_LEN (sizeof FASTTEXT_PREFIX - 1)

enum { RD_EOF = -1, RD_ERR = -2 };

/* A chunked, validating byte stream over one file. */
typedef struct reader {
    gzFile gz;
    const char *path;
    ember_error *err;
    ember_status status; /* why the last call returned RD_ERR (err is filled) */
    unsigned char *buf;  /* [TEXT_CHUNK_BYTES]; bytes pos..len are unread */
    size_t pos, len;
    int eof;
    int64_t line;        /* 1-based line of the next byte */
    int64_t col;         /* 0-based byte offset of the next byte in its line */
    int cont;            /* continuation bytes of an already checked UTF-8 sequence */
    /* For messages about CSV/TSV bytes: the field being read (-1: none). */
    int field;
    const char *const *names;
    int ncols;
} reader;

/* Fill err with "PATH[:LINE]: [column N ("name"): ]message" and return
 * `code`. line <= 0 leaves the line out; col < 0 or names NULL leaves the
 * column out. A macro, so err->where records the caller's line. */
#define FAILF(err, code, path, line, col, names, ...)                                     \
    failf_((err), (code), __FILE__, __LINE__, (path), (line), (col), (names), __VA_ARGS__)

static ember_status failf_(ember_error *err, ember_status code, const char *src, int src_line,
                           const char *path, int64_t line, int col, const char *const *names,
                           const char *fmt, ...) __attribute__((format(printf, 9, 10)));

static ember_status failf_(ember_error *err, ember_status code, const char *src, int src_line,
                           const char *path, int64_t line, int col, const char *const *names,
                           const char *fmt, ...)
{
    char msg[EMBER_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[EMBER_ERROR_MESSAGE_MAX];
    if (line > 0)
        snprintf(where, sizeof where, "%s:%lld", path, (long long)line);
    else
        snprintf(where, sizeof where, "%s", path);
    if (col >= 0 && names)
        return ember__fail(err, code, src, src_line, "%s: column %d (\"%.*s\"): %s", where, col,
                           NAME_IN_MESSAGE_MAX, names[col], msg);
    return ember__fail(err, code, src, src_line, "%s: %s", where, msg);
}

/* After a failed or short gzread: EMBER_OK unless zlib recorded an error. */
static ember_status stream_status(reader *r, int saved_errno)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(r->gz, &zerr);
    if (zerr == Z_OK || zerr == Z_STREAM_END)
        return EMBER_OK;
    if (zerr == Z_ERRNO)
        return FAILF(r->err, EMBER_ERR_IO, r->path, 0, -1, NULL, "read failed: %s",
                     strerror(saved_errno));
    if (zerr == Z_MEM_ERROR)
        return FAILF(r->err, EMBER_ERR_NOMEM, r->path, 0, -1, NULL,
                     "out of memory while decompressing");
    if (!zmsg)
        zmsg = "unknown error";
    /* zlib prefixes its message with the name it was given, "<fd:N>" here. */
    const char *sep = strncmp(zmsg, "<fd:", 4) == 0 ? strstr(zmsg, ": ") : NULL;
    if (sep)
        zmsg = sep + 2;
    return FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, -1, NULL,
                 "gzip stream is truncated or corrupt (zlib: %s)", zmsg);
}

static ember_status rd_open(reader *r, const char *path, ember_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->err = err;
    r->line = 1;
    r->field = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FAILF(err, EMBER_ERR_IO, path, 0, -1, NULL, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return FAILF(err, EMBER_ERR_IO, path, 0, -1, NULL, "cannot stat: %s", strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return FAILF(err, EMBER_ERR_IO, path, 0, -1, NULL,
                     "is a folder, not a file (a folder data set needs format "
                     "EMBER_TEXT_FOLDER or EMBER_TEXT_AUTO)");
    }
    r->buf = malloc(TEXT_CHUNK_BYTES);
    if (!r->buf) {
        close(fd);
        return FAILF(err, EMBER_ERR_NOMEM, path, 0, -1, NULL, "out of memory for a read buffer");
    }
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        free(r->buf);
        r->buf = NULL;
        return FAILF(err, EMBER_ERR_NOMEM, path, 0, -1, NULL, "out of memory for the zlib reader");
    }
    gzbuffer(r->gz, TEXT_GZ_BUFFER_BYTES);
    return EMBER_OK;
}

/* Close; returns s, or the close error if s was EMBER_OK. */
static ember_status rd_close(reader *r, ember_status s)
{
    free(r->buf);
    r->buf = NULL;
    if (r->gz) {
        int zc = gzclose(r->gz);
        r->gz = NULL;
        if (s == EMBER_OK && zc != Z_OK) {
            if (zc == Z_ERRNO)
                s = FAILF(r->err, EMBER_ERR_IO, r->path, 0, -1, NULL, "close failed: %s",
                          strerror(errno));
            else
                s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, 0, -1, NULL,
                          "gzip stream is truncated or corrupt (zlib code %d at close)", zc);
        }
    }
    return s;
}

/* Read another chunk after the unread bytes. false at end of file or on
 * error (r->status says which: EMBER_OK at the end). */
static int rd_fill(reader *r)
{
    if (r->eof || r->status)
        return 0;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    errno = 0;
    int got = gzread(r->gz, r->buf + r->len, (unsigned)(TEXT_CHUNK_BYTES - r->len));
    if (got <= 0) {
        r->status = stream_status(r, errno);
        r->eof = 1;
        return 0;
    }
    r->len += (size_t)got;
    return 1;
}

/* Make at least k bytes available if the file has them; returns how many are. */
static size_t rd_avail(reader *r, size_t k)
{
    while (r->len - r->pos < k && rd_fill(r)) {
    }
    return r->len - r->pos;
}

/* The next byte without consuming it (not yet validated), RD_EOF or RD_ERR. */
static inline int rd_peek(reader *r)
{
    if (r->pos == r->len && !rd_fill(r))
        return r->status ? RD_ERR : RD_EOF;
    return r->buf[r->pos];
}

/* Fail at the reader's current position. */
static int rd_bad(reader *r, const char *what, int byte)
{
    r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, r->field, r->names,
                      "%s at byte %lld of the line (0x%02X)", what, (long long)r->col + 1, byte);
    return RD_ERR;
}

/* Consume and return the next byte, RD_EOF or RD_ERR. The byte has passed
 * the UTF-8 and NUL checks. */
static inline int rd_get(reader *r)
{
    int c = rd_peek(r);
    if (c < 0)
        return c;
    if (r->cont > 0) {
        r->cont--; /* checked with its lead byte */
    } else if (c >= 0x80) {
        size_t have = rd_avail(r, UTF8_MAX_SEQ);
        if (r->status)
            return RD_ERR;
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(r->buf + r->pos,
                                              (utf8proc_ssize_t)(have < UTF8_MAX_SEQ ? have : UTF8_MAX_SEQ),
                                              &cp);
        if (k <= 0)
            return rd_bad(r, "invalid UTF-8", c);
        r->cont = (int)k - 1;
    } else if (c == 0) {
        return rd_bad(r, "NUL byte", c);
    }
    r->pos++;
    if (c == '\n') {
        r->line++;
        r->col = 0;
    } else {
        r->col++;
    }
    return c;
}

/* Skip a UTF-8 byte-order mark at the very start. */
static void rd_skip_bom(reader *r)
{
    if (rd_avail(r, 3) >= 3 && r->buf[r->pos] == 0xEF && r->buf[r->pos + 1] == 0xBB &&
        r->buf[r->pos + 2] == 0xBF) {
        r->pos += 3;
        r->col += 3;
    }
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\v' ||
              s[i] == '\f'))
            return 0;
    return 1;
}

/* Append c to a field; fails on no memory or past the size cap. */
static ember_status put_capped(reader *r, ember__bytes *b, size_t start, int c, int64_t line,
                               const char *what)
{
    if (b->n - start >= TEXT_MAX_EXAMPLE_BYTES)
        return r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, r->field, r->names,
                                 "%s is longer than %zu MiB, the limit for one field or example",
                                 what, TEXT_MAX_EXAMPLE_BYTES >> 20);
    if (!ember__bytes_put(b, (char)c))
        return r->status = FAILF(r->err, EMBER_ERR_NOMEM, r->path, line, r->field, r->names,
                                 "out of memory (%zu bytes of text so far)", b->n);
    return EMBER_OK;
}

/* ASCII bytes that stop a run of plain bytes: NUL, line ends and the CSV/TSV
 * specials (quote, comma, tab). Every other ASCII byte is handled the same
 * way by every parser, needs no UTF-8 check and changes no parser state.
 * A constant table (not a chain of comparisons): the scan over it is the
 * reader's inner loop. */
static const unsigned char STOP_ASCII[128] = {
    [0] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1, [','] = 1,
};

static inline int plain_byte(unsigned char c) { return c < 0x80 && !STOP_ASCII[c]; }

/* Fast path: move the run of plain bytes at the read position (those already
 * in the buffer, at most up to the example cap counted from `start`) into
 * sink, or past them when sink is NULL. Everything else, including the byte
 * that ends the run, goes through rd_get. */
static ember_status rd_take_plain(reader *r, ember__bytes *sink, size_t start, int64_t line)
{
    if (r->cont > 0 || r->pos == r->len)
        return EMBER_OK;
    const unsigned char *p = r->buf + r->pos, *e = r->buf + r->len;
    if (sink) {
        size_t used = sink->n - start;
        size_t room = used < TEXT_MAX_EXAMPLE_BYTES ? TEXT_MAX_EXAMPLE_BYTES - used : 0;
        if ((size_t)(e - p) > room)
            e = p + room;
    }
    const unsigned char *q = p;
    while (q < e && plain_byte(*q))
        q++;
    size_t k = (size_t)(q - p);
    if (k == 0)
        return EMBER_OK;
    if (sink) {
        if (!ember__bytes_reserve(sink, k))
            return r->status = FAILF(r->err, EMBER_ERR_NOMEM, r->path, line, r->field, r->names,
                                     "out of memory (%zu bytes of text so far)", sink->n);
        memcpy(sink->d + sink->n, p, k);
        sink->n += k;
    }
    r->pos += k;
    r->col += (int64_t)k;
    return EMBER_OK;
}

/* ------------------------------------------------------------- CSV / TSV */

enum { END_FIELD, END_RECORD, END_FILE };

typedef struct csv {
    reader *r;
    char sep;
    const char *sep_name; /* "comma" or "tab", for hints */
    ember_text_dataset *d;
    ember__bytes hdr;     /* header names, NUL-terminated */
    size_t *name_off;     /* [ncols] into hdr */
    const char **names;   /* [ncols] into hdr, once the header is complete */
    int ncols;
    int text_col, label_col;
    ember__bytes label;   /* the label field of the current row */
} csv;

/* What follows a field: separator, line end or end of file. ch is consumed. */
static ember_status field_end(csv *c, int ch, int *end, const char *after)
{
    reader *r = c->r;
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
        int p = rd_peek(r);
        if (p == RD_ERR)
            return r->status;
        if (p == '\n') {
            rd_get(r);
            *end = END_RECORD;
            return EMBER_OK;
        }
        return r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, r->field, r->names,
                                 "carriage return not followed by a line feed %s (lines end in "
                                 "LF or CRLF; quote a field that contains a CR)", after);
    }
    /* Only reachable after a closing quote. */
    return r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, r->field, r->names,
                             "text after the closing quote of a quoted field (write a quote "
                             "inside a quoted field as \"\")");
}

/* Read one field into sink (NULL: only syntax-check it). `what` names the
 * field for the size-limit message. *end says what ended it. */
static ember_status parse_field(csv *c, ember__bytes *sink, const char *what, int *end)
{
    reader *r = c->r;
    size_t start = sink ? sink->n : 0;
    ember_status s;
    int ch = rd_peek(r);
    if (ch == '"') {
        rd_get(r);
        int64_t qline = r->line;
        for (;;) {
            if ((s = rd_take_plain(r, sink, start, qline)) != EMBER_OK)
                return s;
            ch = rd_get(r);
            if (ch == RD_ERR)
                return r->status;
            if (ch == RD_EOF)
                return r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, qline, r->field,
                                         r->names,
                                         "unbalanced quote: the quoted field that starts on this "
                                         "line never ends (write a quote inside a quoted field "
                                         "as \"\")");
            if (ch == '"') {
                int p = rd_peek(r);
                if (p == RD_ERR)
                    return r->status;
                if (p != '"')
                    break;
                rd_get(r);
            }
            if (sink && (s = put_capped(r, sink, start, ch, qline, what)) != EMBER_OK) {
                if (s == EMBER_ERR_FORMAT)
                    FAILF(r->err, EMBER_ERR_FORMAT, r->path, qline, r->field, r->names,
                          "the quoted %s that starts on this line is longer than %zu MiB (an "
                          "unbalanced quote?)", what, TEXT_MAX_EXAMPLE_BYTES >> 20);
                return s;
            }
        }
        return field_end(c, rd_get(r), end, "after a quoted field");
    }
    for (;;) {
        if ((s = rd_take_plain(r, sink, start, r->line)) != EMBER_OK)
            return s;
        ch = rd_get(r);
        if (ch == RD_ERR || ch == RD_EOF || ch == '\n' || ch == '\r' || ch == c->sep)
            return field_end(c, ch, end, "in an unquoted field");
        if (ch == '"')
            return r->status = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, r->field,
                                     r->names,
                                     "a quote inside an unquoted field (quote the whole field "
                                     "and double the inner quote: \"say \"\"hi\"\"\")");
        if (sink && (s = put_capped(r, sink, start, ch, r->line, what)) != EMBER_OK)
            return s;
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
    reader *r = c->r;
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
    reader *r = c->r;
    int ch = rd_peek(r);
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

static ember_status read_rows(csv *c)
{
    reader *r = c->r;
    ember_text_dataset *d = c->d;
    int64_t blank_line = 0; /* first blank line seen, allowed only at the end */
    for (;;) {
        int64_t line = r->line;
        int ch = rd_peek(r);
        if (ch == RD_ERR)
            return r->status;
        if (ch == RD_EOF)
            break;
        if (ch == '\n' || ch == '\r') {
            r->field = -1;
            int end;
            ember_status s = field_end(c, rd_get(r), &end, "on a blank line");
            if (s)
                return s;
            if (!blank_line)
                blank_line = line;
            continue;
        }
        if (blank_line)
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, blank_line, -1, NULL,
                         "blank line between rows (only blank lines at the end of the file are "
                         "allowed)");
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
        if (nfields != c->ncols)
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, -1, NULL,
                         "row has %lld field%s but the header has %d%s", (long long)nfields,
                         nfields == 1 ? "" : "s", c->ncols,
                         nfields > c->ncols ? (c->sep == ',' ? " (quote fields that contain a comma)"
                                                             : " (quote fields that contain a tab)")
                                            : "");
        if (is_blank(c->label.d, c->label.n))
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, c->label_col, c->names,
                         "label is empty");
        if (is_blank(d->text.d + start, d->text.n - start))
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, c->text_col, c->names,
                         "a label with no text (the text is empty)");
        ember_status s = ember__text_dataset_add_label(d, c->label.d, c->label.n, r->err);
        if (!s)
            s = ember__text_dataset_commit(d, start, r->err);
        if (s) {
            ember__error_prefix(r->err, "%s:%lld", r->path, (long long)line);
            return s;
        }
        if (end == END_FILE)
            break;
    }
    if (d->n == 0)
        return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL,
                     "header only: the file has a header row but no examples");
    return EMBER_OK;
}

static ember_status read_csv(const char *path, char sep, const ember_text_read_options *opt,
                             ember_text_dataset *d, ember_error *err)
{
    reader r;
    ember_status s = rd_open(&r, path, err);
    if (s)
        return s;
    rd_skip_bom(&r);
    csv c = {.r = &r, .sep = sep, .d = d};
    s = read_header(&c, opt);
    if (!s)
        s = read_rows(&c);
    ember__bytes_free(&c.hdr);
    ember__bytes_free(&c.label);
    free(c.name_off);
    free(c.names);
    return rd_close(&r, s);
}

/* -------------------------------------------------------------- fastText */

/* One line: "__label__a __label__b text...". Blank lines are skipped. */
static ember_status read_fasttext_lines(reader *r, ember_text_dataset *d)
{
    for (;;) {
        int64_t line = r->line;
        size_t start = d->text.n;
        int nlabels = 0, has_text = 0;
        int ch;
        for (;;) {
            while ((ch = rd_peek(r)) == ' ' || ch == '\t')
                rd_get(r);
            if (ch == RD_ERR)
                return r->status;
            if (ch == RD_EOF || ch == '\n')
                break;
            /* A token, straight into the arena: it is either a label (moved to
             * the label table, arena rewound) or the first word of the text. */
            size_t tok = d->text.n;
            ember_status s;
            for (;;) {
                ch = rd_peek(r);
                if (ch == RD_ERR)
                    return r->status;
                if (ch == RD_EOF || ch == ' ' || ch == '\t' || ch == '\n')
                    break;
                if ((ch = rd_get(r)) < 0)
                    return r->status;
                if ((s = put_capped(r, &d->text, start, ch, line, "line")) != EMBER_OK)
                    return s;
            }
            int at_end = ch == RD_EOF || ch == '\n';
            if (at_end && d->text.n > tok && d->text.d[d->text.n - 1] == '\r')
                d->text.n--; /* CRLF line end */
            size_t len = d->text.n - tok;
            if (len == 0)
                break;
            if (len >= FASTTEXT_PREFIX_LEN &&
                memcmp(d->text.d + tok, FASTTEXT_PREFIX, FASTTEXT_PREFIX_LEN) == 0) {
                if (len == FASTTEXT_PREFIX_LEN)
                    return FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, -1, NULL,
                                 "label is empty (a bare %s)", FASTTEXT_PREFIX);
                s = ember__text_dataset_add_label(d, d->text.d + tok + FASTTEXT_PREFIX_LEN,
                                                  len - FASTTEXT_PREFIX_LEN, r->err);
                if (s) {
                    ember__error_prefix(r->err, "%s:%lld", r->path, (long long)line);
                    return s;
                }
                d->text.n = tok;
                nlabels++;
                continue;
            }
            /* The text: this token and the rest of the line as it is. */
            has_text = 1;
            if (!at_end) {
                for (;;) {
                    if ((s = rd_take_plain(r, &d->text, start, line)) != EMBER_OK)
                        return s;
                    ch = rd_peek(r);
                    if (ch == RD_ERR)
                        return r->status;
                    if (ch == RD_EOF || ch == '\n')
                        break;
                    if ((ch = rd_get(r)) < 0)
                        return r->status;
                    if ((s = put_capped(r, &d->text, start, ch, line, "line")) != EMBER_OK)
                        return s;
                }
                if (d->text.d[d->text.n - 1] == '\r')
                    d->text.n--; /* CRLF line end */
            }
            break;
        }
        ch = rd_get(r); /* the '\n', or end of file */
        if (ch == RD_ERR)
            return r->status;
        if (nlabels == 0 && !has_text) { /* blank line */
            if (ch == RD_EOF)
                break;
            continue;
        }
        if (nlabels == 0)
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, -1, NULL,
                         "no label: a fastText line starts with one or more %sNAME tokens, e.g. "
                         "\"%sspam buy now\"", FASTTEXT_PREFIX, FASTTEXT_PREFIX);
        if (!has_text)
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, line, -1, NULL,
                         "a label with no text after it");
        ember_status s = ember__text_dataset_commit(d, start, r->err);
        if (s) {
            ember__error_prefix(r->err, "%s:%lld", r->path, (long long)line);
            return s;
        }
        if (ch == RD_EOF)
            break;
    }
    if (d->n == 0) {
        if (r->line == 1 && r->col == 0)
            return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 1, -1, NULL, "file is empty");
        return FAILF(r->err, EMBER_ERR_FORMAT, r->path, 0, -1, NULL,
                     "no examples: the file has only blank lines");
    }
    return EMBER_OK;
}

static ember_status read_fasttext(const char *path, ember_text_dataset *d, ember_error *err)
{
    reader r;
    ember_status s = rd_open(&r, path, err);
    if (s)
        return s;
    rd_skip_bom(&r);
    s = read_fasttext_lines(&r, d);
    return rd_close(&r, s);
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

/* One file as one example of class `label`. */
static ember_status read_one_file(const char *path, const char *label, ember_text_dataset *d,
                                  ember_error *err)
{
    reader r;
    ember_status s = rd_open(&r, path, err);
    if (s)
        return s;
    rd_skip_bom(&r);
    size_t start = d->text.n;
    for (;;) {
        if ((s = rd_take_plain(&r, &d->text, start, 0)) != EMBER_OK)
            break;
        int ch = rd_get(&r);
        if (ch == RD_ERR) {
            s = r.status;
            break;
        }
        if (ch == RD_EOF)
            break;
        if ((s = put_capped(&r, &d->text, start, ch, 0, "file")) != EMBER_OK)
            break;
    }
    if (!s && d->text.n == start)
        s = FAILF(err, EMBER_ERR_FORMAT, path, 0, -1, NULL, "file is empty (a label with no text)");
    if (!s && is_blank(d->text.d + start, d->text.n - start))
        s = FAILF(err, EMBER_ERR_FORMAT, path, 0, -1, NULL,
                  "file holds only whitespace (a label with no text)");
    if (!s) {
        s = ember__text_dataset_add_label(d, label, strlen(label), err);
        if (!s)
            s = ember__text_dataset_commit(d, start, err);
        if (s)
            ember__error_prefix(err, "%s", path);
    }
    return rd_close(&r, s);
}

static ember_status read_folder(const char *path, ember_text_dataset *d, ember_error *err)
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
            s = read_one_file(f, classes[k], d, err);
            free(f);
        }
        free_names(files, nfiles);
        free(cdir);
    }
    free_names(classes, nclasses);
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
    reader r;
    ember_status s = rd_open(&r, path, err);
    if (s)
        return s;
    rd_skip_bom(&r);
    int ch;
    while ((ch = rd_peek(&r)) == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
        rd_get(&r); /* fastText skips blank lines */
    size_t i = 0;
    while (i < FASTTEXT_PREFIX_LEN && (ch = rd_get(&r)) == FASTTEXT_PREFIX[i])
        i++;
    if (r.status)
        s = r.status;
    else if (i == FASTTEXT_PREFIX_LEN)
        *fmt = EMBER_TEXT_FASTTEXT;
    else if (ch == RD_EOF && i == 0 && r.line == 1 && r.col == 0)
        s = FAILF(err, EMBER_ERR_FORMAT, path, 1, -1, NULL, "file is empty");
    else
        s = FAILF(err, EMBER_ERR_FORMAT, path, r.line, -1, NULL,
                  "cannot detect the format: not a folder, the name does not end in .csv, "
                  ".tsv, .csv.gz or .tsv.gz, and the first line does not start with %s "
                  "(fastText); set the format to EMBER_TEXT_CSV, EMBER_TEXT_TSV, "
                  "EMBER_TEXT_FASTTEXT or EMBER_TEXT_FOLDER", FASTTEXT_PREFIX);
    return rd_close(&r, s);
}

/* ------------------------------------------------------------ public API */

ember_text_read_options ember_text_read_options_default(void)
{
    ember_text_read_options o = {.format = EMBER_TEXT_AUTO, .text_column = NULL,
                                 .label_column = NULL};
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
    switch (fmt) {
    case EMBER_TEXT_CSV: s = read_csv(path, ',', &o, d, err); break;
    case EMBER_TEXT_TSV: s = read_csv(path, '\t', &o, d, err); break;
    case EMBER_TEXT_FASTTEXT: s = read_fasttext(path, d, err); break;
    case EMBER_TEXT_FOLDER: s = read_folder(path, d, err); break;
    case EMBER_TEXT_AUTO: break; /* resolved above */
    }
    if (s) {
        ember_text_dataset_destroy(d);
        return s;
    }
    ember__text_dataset_shrink(d);
    *out = d;
    return EMBER_OK;
}
