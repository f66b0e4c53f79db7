/*
 * byte_reader.h - the chunked, validating byte stream under the text readers
 * (byte_reader.c), and the error formatter they share. Internal; not
 * installed; used by text_reader.c only.
 *
 * An ember__reader reads one file through zlib (gzip or plain bytes, told
 * apart from the bytes) in chunks, and checks every byte as it is consumed:
 * strict UTF-8 and no NUL. It tracks the 1-based line and the 0-based byte in
 * the line of the next byte, so errors point at the exact place. The parsers
 * peek and get one byte at a time (inline below: it is their inner loop), or
 * move a whole run of plain ASCII bytes at once (ember__reader_take_plain).
 *
 * With skip_bad_lines (r->skip), a problem with the current record is noted
 * instead of failing (ember__reader_soften): a bad byte then passes through
 * as it is, the parser carries on to the record's end and drops the record
 * there. Stream errors (I/O, a corrupt gzip stream) and running out of
 * memory are never softened.
 *
 * Not here: any knowledge of CSV, TSV, fastText or folders, beyond the
 * "column N" a CSV/TSV parser may ask messages to name (field, names) and the
 * set of bytes that stop a plain run (see byte_reader.c).
 */
#ifndef EMBER_DATA_BYTE_READER_H
#define EMBER_DATA_BYTE_READER_H

#include "text_dataset.h"

#include <stddef.h>
#include <stdint.h>
#include <utf8proc.h>
#include <zlib.h>

/* Largest single text, label field or CSV header: 64 MiB. A long novel is
 * about 1 MB, so no real example comes near; the cap bounds the memory one
 * hostile record (e.g. a quote that is never closed in a multi-GB file) can
 * take before the reader says what is wrong. */
#define TEXT_MAX_EXAMPLE_BYTES ((size_t)64 << 20)

/* The longest UTF-8 sequence, in bytes. */
#define UTF8_MAX_SEQ 4

/* Characters of a column name quoted in a message, so a long name cannot push
 * the rest of the message out of ember_error's fixed buffer. */
#define NAME_IN_MESSAGE_MAX 60

enum { RD_EOF = -1, RD_ERR = -2 };

/* A chunked, validating byte stream over one file. */
typedef struct ember__reader {
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
    /* skip_bad_lines: format problems of the current record are noted, not fatal */
    int skip;
    int bad;             /* the current record has a noted problem; the parser drops it */
    int dead;            /* the stream itself failed: nothing more can be read */
    char bad_msg[EMBER_ERROR_MESSAGE_MAX]; /* the first noted problem of the record */
    ember_error own;     /* where messages go when the caller passed no ember_error */
} ember__reader;

/* Fill err with "PATH[:LINE]: [column N ("name"): ]message" and return
 * `code`. line <= 0 leaves the line out; col < 0 or names NULL leaves the
 * column out. A macro, so err->where records the caller's line. */
#define FAILF(err, code, path, line, col, names, ...)                                     \
    ember__text_failf((err), (code), __FILE__, __LINE__, (path), (line), (col), (names),   \
                      __VA_ARGS__)

ember_status ember__text_failf(ember_error *err, ember_status code, const char *src, int src_line,
                               const char *path, int64_t line, int col, const char *const *names,
                               const char *fmt, ...) __attribute__((format(printf, 9, 10)));

/* Open `path` for reading (a folder is refused with a hint). EMBER_ERR_IO,
 * EMBER_ERR_NOMEM; on failure there is nothing to close. */
ember_status ember__reader_open(ember__reader *r, const char *path, ember_error *err);

/* Close; returns s, or the close error if s was EMBER_OK. */
ember_status ember__reader_close(ember__reader *r, ember_status s);

/* Close a reader that stopped early on purpose (format detection), without
 * asking zlib about the rest of the stream: a truncated gzip file is then
 * reported by the parser that reads it through, at the line it reached. */
void ember__reader_abandon(ember__reader *r);

/* Read another chunk after the unread bytes. false at end of file or on
 * error (r->status says which: EMBER_OK at the end). */
int ember__reader_fill(ember__reader *r);

/* A bad byte at the reader's current position: RD_ERR (r->status set), or 0
 * when skip mode noted it against the record. */
int ember__reader_bad(ember__reader *r, const char *what, int byte);

/* Skip mode: note the format problem `s` (its message is in *r->err) against
 * the current record and return EMBER_OK; the parser goes on to the end of
 * the record and drops it. Without skip mode, for any status but
 * EMBER_ERR_FORMAT, or once the stream has failed, returns s unchanged. */
ember_status ember__reader_soften(ember__reader *r, ember_status s);

/* Skip mode: move past the rest of the current line without checking it (the
 * record is being dropped): up to and including its '\n', or to the end of
 * the file. EMBER_OK, or the stream's error. */
ember_status ember__reader_skip_line(ember__reader *r);

/* Skip a UTF-8 byte-order mark at the very start. */
void ember__reader_skip_bom(ember__reader *r);

/* Fast path: move the run of plain bytes at the read position (those already
 * in the buffer, at most up to the example cap counted from `start`) into
 * sink, or past them when sink is NULL. Everything else, including the byte
 * that ends the run, goes through ember__reader_get. */
ember_status ember__reader_take_plain(ember__reader *r, ember__bytes *sink, size_t start,
                                      int64_t line);

/* Make at least k bytes available if the file has them; returns how many are. */
static inline size_t ember__reader_avail(ember__reader *r, size_t k)
{
    while (r->len - r->pos < k && ember__reader_fill(r)) {
    }
    return r->len - r->pos;
}

/* The next byte without consuming it (not yet validated), RD_EOF or RD_ERR. */
static inline int ember__reader_peek(ember__reader *r)
{
    if (r->pos == r->len && !ember__reader_fill(r))
        return r->status ? RD_ERR : RD_EOF;
    return r->buf[r->pos];
}

/* Consume and return the next byte, RD_EOF or RD_ERR. The byte has passed
 * the UTF-8 and NUL checks. */
static inline int ember__reader_get(ember__reader *r)
{
    int c = ember__reader_peek(r);
    if (c < 0)
        return c;
    if (r->cont > 0) {
        r->cont--; /* checked with its lead byte */
    } else if (c >= 0x80) {
        size_t have = ember__reader_avail(r, UTF8_MAX_SEQ);
        if (r->status)
            return RD_ERR;
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(r->buf + r->pos,
                                              (utf8proc_ssize_t)(have < UTF8_MAX_SEQ ? have : UTF8_MAX_SEQ),
                                              &cp);
        if (k > 0)
            r->cont = (int)k - 1;
        else if (ember__reader_bad(r, "invalid UTF-8", c) == RD_ERR)
            return RD_ERR; /* else noted: the byte passes on its own */
    } else if (c == 0 && ember__reader_bad(r, "NUL byte", c) == RD_ERR) {
        return RD_ERR;
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

/* Append c to a field; fails on no memory or past the size cap. Inline: the
 * parsers call it for every kept byte outside a plain run (every byte of a
 * fastText line). */
static inline ember_status ember__reader_put_capped(ember__reader *r, ember__bytes *b,
                                                    size_t start, int c, int64_t line,
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

#endif
