/*
 * strbuf.h - a growing string (strbuf.c), for the code that writes text:
 * HTTP responses (src/serve), the HTML report (src/report). Out of memory is
 * sticky (oom set, later calls do nothing), so a writer checks once at the
 * end. Internal; not installed.
 */
#ifndef EMBER_CORE_STRBUF_H
#define EMBER_CORE_STRBUF_H

#include <stddef.h>

typedef struct ember_sbuf {
    char *p;      /* NUL-terminated once anything was added; the caller frees */
    size_t n, cap;
    int oom;
} ember_sbuf;

/* Room for `more` bytes and the NUL. */
void ember__sb_grow(ember_sbuf *b, size_t more);
/* Append n bytes. */
void ember__sb_put(ember_sbuf *b, const char *s, size_t n);
/* Append printf-formatted text. */
void ember__sb_printf(ember_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
