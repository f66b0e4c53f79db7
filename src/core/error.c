/*
 * error.c - status names and the error-filling helper. No global errno: the
 * caller passes an ember_error and owns it.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

const char *ember_status_to_string(ember_status s)
{
    switch (s) {
    case EMBER_OK: return "ok";
    case EMBER_ERR_NOMEM: return "out of memory";
    case EMBER_ERR_ARG: return "invalid argument";
    case EMBER_ERR_IO: return "I/O error";
    case EMBER_ERR_FORMAT: return "malformed input";
    case EMBER_ERR_SHAPE: return "shape mismatch";
    case EMBER_ERR_STATE: return "invalid state";
    case EMBER_ERR_NUMERIC: return "numerical error";
    case EMBER_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

ember_status ember__fail(ember_error *err, ember_status code, const char *file, int line,
                         const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        const char *base = strrchr(file, '/');
        snprintf(err->where, sizeof err->where, "%s:%d", base ? base + 1 : file, line);
    }
    return code;
}

void ember__error_prefix(ember_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[EMBER_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[EMBER_ERROR_MESSAGE_MAX];
    memcpy(old, err->message, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Truncation is acceptable here: the message is for people. */
    size_t n = strlen(prefix);
    if (n > sizeof err->message - 3)
        n = sizeof err->message - 3;
    memcpy(err->message, prefix, n);
    memcpy(err->message + n, ": ", 2);
    size_t rest = sizeof err->message - n - 3;
    size_t ol = strlen(old);
    if (ol > rest)
        ol = rest;
    memcpy(err->message + n + 2, old, ol);
    err->message[n + 2 + ol] = '\0';
}
