/*
 * st_header_check.h - the raw-text pass over a safetensors header, run
 * before cJSON sees it (st_header_check.c), and the strict UTF-8 test it
 * shares with the writer. Internal to safetensors.c; not installed.
 *
 * Not here: JSON parsing and the schema (tensor entries, __metadata__,
 * duplicate names, offsets), which safetensors.c checks on cJSON's tree.
 */
#ifndef EMBER_IO_ST_HEADER_CHECK_H
#define EMBER_IO_ST_HEADER_CHECK_H

#include "core.h"

#include <stddef.h>

/* Bytes of the header-length prefix before the header text. Messages give
 * positions as byte offsets in the file, so they add it. */
#define EMBER_ST_LEN_BYTES 8

/* Length (1..4) of the valid UTF-8 sequence at s (n bytes available), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
size_t ember__st_utf8_seq(const unsigned char *s, size_t n);

/* EMBER_ERR_FORMAT "PATH: header is not valid JSON: WHAT at byte N of the
 * file"; `at` is an offset into the header text. */
ember_status ember__st_bad_json(const char *path, ember_error *err, const char *what, size_t at);

/* Check the raw header text (n bytes) for what cJSON lets through; see
 * st_header_check.c for the list. EMBER_OK, or EMBER_ERR_FORMAT naming the
 * first problem and its byte offset in the file. */
ember_status ember__st_check_text(const char *text, size_t n, const char *path, ember_error *err);

#endif
