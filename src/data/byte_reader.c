/*
 * byte_reader.c - the byte stream under the text readers (byte_reader.h):
 * one file read in chunks through zlib, every byte checked as it is consumed.
 *
 * Every file is read through zlib (gzdopen/gzread), which passes plain bytes
 * through untouched, so gzip is detected from the bytes, never the name. The
 * input is read in TEXT_CHUNK_BYTES chunks that the parsers consume as they
 * arrive (a byte at a time, or a run of plain bytes at once), so the raw file
 * is never held in memory.
 *
 * Every byte of the input is checked as it is consumed: strict UTF-8
 * (utf8proc_iterate rejects overlongs, surrogates and code points above
 * U+10FFFF) and no NUL bytes, so errors point at the exact physical line and
 * byte ("byte 4 of the line": 1-based raw bytes, a BOM counting on line 1).
 * This covers bytes no parser uses as well: the file must be text. The
 * per-byte check itself (ember__reader_get) is inline in byte_reader.h.
 *
 * Deliberately not done here: any parsing (text_reader.c), guessing the
 * encoding (UTF-8 only; a UTF-8 byte-order mark at the start is skipped when
 * the parser asks), and seeking or rereading: the stream only goes forward.
 */
#define _POSIX_C_SOURCE 200809L
#include "byte_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes handed to us per gzread: 64 KiB, enough to make per-call cost
 * negligible while staying small next to any data set. */
#define TEXT_CHUNK_BYTES ((size_t)64 * 1024)

/* zlib's own read buffer: 128 KiB instead of its default 8 KiB, for fewer
 * system calls (as in idx.c). */
#define TEXT_GZ_BUFFER_BYTES (128u * 1024u)

ember_status ember__text_failf(ember_error *err, ember_status code, const char *src, int src_line,
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
static ember_status stream_status(ember__reader *r, int saved_errno)
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

ember_status ember__reader_open(ember__reader *r, const char *path, ember_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->err = err ? err : &r->own;
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
ember_status ember__reader_close(ember__reader *r, ember_status s)
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
            else if (zc == Z_BUF_ERROR) /* zlib's "unexpected end of file" */
                s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, -1, NULL,
                          "gzip stream is truncated: the file ends inside the compressed data "
                          "(zlib: unexpected end of file)");
            else
                s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, -1, NULL,
                          "gzip stream is truncated or corrupt (zlib code %d at close)", zc);
        }
    }
    return s;
}

void ember__reader_abandon(ember__reader *r)
{
    free(r->buf);
    r->buf = NULL;
    if (r->gz)
        gzclose(r->gz); /* read-only: nothing is lost */
    r->gz = NULL;
}

/* Read another chunk after the unread bytes. false at end of file or on
 * error (r->status says which: EMBER_OK at the end). */
int ember__reader_fill(ember__reader *r)
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
        r->dead = r->status != EMBER_OK;
        r->eof = 1;
        return 0;
    }
    r->len += (size_t)got;
    return 1;
}

/* A bad byte at the reader's current position: RD_ERR, or 0 when noted. */
int ember__reader_bad(ember__reader *r, const char *what, int byte)
{
    ember_status s = FAILF(r->err, EMBER_ERR_FORMAT, r->path, r->line, r->field, r->names,
                           "%s at byte %lld of the line (0x%02X)", what, (long long)r->col + 1,
                           byte);
    if (ember__reader_soften(r, s) == EMBER_OK)
        return 0;
    r->status = s;
    return RD_ERR;
}

ember_status ember__reader_soften(ember__reader *r, ember_status s)
{
    if (s != EMBER_ERR_FORMAT || !r->skip || r->dead)
        return s;
    if (!r->bad) {
        r->bad = 1;
        snprintf(r->bad_msg, sizeof r->bad_msg, "%s", r->err->message);
    }
    r->status = EMBER_OK;
    return EMBER_OK;
}

ember_status ember__reader_skip_line(ember__reader *r)
{
    r->cont = 0;
    for (;;) {
        if (r->pos == r->len && !ember__reader_fill(r))
            return r->status;
        const unsigned char *p = r->buf + r->pos;
        size_t k = r->len - r->pos;
        const unsigned char *nl = memchr(p, '\n', k);
        if (nl) {
            r->pos += (size_t)(nl - p) + 1;
            r->line++;
            r->col = 0;
            return EMBER_OK;
        }
        r->pos += k;
        r->col += (int64_t)k;
    }
}

/* Skip a UTF-8 byte-order mark at the very start. */
void ember__reader_skip_bom(ember__reader *r)
{
    if (ember__reader_avail(r, 3) >= 3 && r->buf[r->pos] == 0xEF && r->buf[r->pos + 1] == 0xBB &&
        r->buf[r->pos + 2] == 0xBF) {
        r->pos += 3;
        r->col += 3;
    }
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
 * that ends the run, goes through ember__reader_get. */
ember_status ember__reader_take_plain(ember__reader *r, ember__bytes *sink, size_t start,
                                      int64_t line)
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
