/*
 * st_header_check.c - the raw-text checks on a safetensors header that run
 * before cJSON parses it (st_header_check.h), for what cJSON would otherwise
 * let through or read differently from Python's reference reader:
 *  - inside strings: valid UTF-8, no control characters, \u escapes with four
 *    hex digits (cJSON reads bad hex as U+0000) and never \u0000 (cJSON cuts
 *    the string there);
 *  - outside strings: no control byte but tab, LF and CR (cJSON skips any
 *    byte <= 0x20, NUL included) and no non-ASCII byte (cJSON skips a UTF-8
 *    BOM);
 *  - numbers: plain integers, no leading zero, fraction or exponent, the
 *    non-negative ones at most 2^53, checked exactly (cJSON holds numbers as
 *    doubles, and 2^53 + 1 rounds to 2^53).
 * Positions in messages are byte offsets in the file (header text offset +
 * EMBER_ST_LEN_BYTES).
 *
 * Deliberately not here: parsing. The pass only tells strings from the rest;
 * bad structure (brackets, commas, literals) is left to cJSON, and the schema
 * (tensor entries, __metadata__, duplicate names, offsets) to safetensors.c,
 * which checks cJSON's tree.
 */
#include "io/st_header_check.h"

#include "io/safetensors.h"

#include <stdint.h>

/* Length (1..4) of the valid UTF-8 sequence at s (n bytes available), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
size_t ember__st_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return len;
}

/* `at` is an offset into the header text. */
ember_status ember__st_bad_json(const char *path, ember_error *err, const char *what, size_t at)
{
    return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: header is not valid JSON: %s at byte %zu of the file",
                      path, what, at + EMBER_ST_LEN_BYTES);
}

static int hex4(const unsigned char *s, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int c = s[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        *v = *v * 16 + (unsigned)d;
    }
    return 1;
}

static int number_char(unsigned c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* What cJSON lets through, checked on the raw header text in one pass that
 * only tells strings from the rest (cJSON does the parsing): strings must be
 * valid UTF-8 without control characters, with \u escapes of four hex digits
 * (cJSON reads bad hex as U+0000) and never \u0000 (cJSON cuts the string
 * there); outside strings, no control character but tab, LF and CR (cJSON
 * skips any byte <= 0x20, NUL included) and no non-ASCII byte (cJSON skips a
 * UTF-8 BOM); numbers are plain integers, no leading zero, fraction or
 * exponent (serde's rule for u64; cJSON takes 01, 1. and 1e3), and the
 * non-negative ones at most 2^53, checked exactly here because cJSON's double
 * rounds 2^53 + 1 down to 2^53. Reports the first problem. */
ember_status ember__st_check_text(const char *text, size_t n, const char *path, ember_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i], cp = 1;
        const char *what = NULL;
        if (in_string) {
            size_t len = c >= 0x80 ? ember__st_utf8_seq(s + i, n - i) : 1;
            int u = c == '\\' && i + 1 < n && s[i + 1] == 'u';
            if (c == '"')
                in_string = 0;
            else if (c < 0x20)
                what = "control character in a string";
            else if (!len)
                what = "invalid UTF-8 in a string";
            else if (u && (n - i < 6 || !hex4(s + i + 2, &cp)))
                what = "bad escape sequence";
            else if (u && cp == 0)
                return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                                  "%s: header string at byte %zu contains \\u0000, which Ember does "
                                  "not accept",
                                  path, i + EMBER_ST_LEN_BYTES);
            else /* skip the sequence; for an escape, the letter (and 4 hex digits) */
                i += c == '\\' ? (u ? 5 : 1) : len - 1;
        } else if (c == '"') {
            in_string = 1;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            what = "control character outside a string";
        } else if (c >= 0x80) {
            what = "non-ASCII byte outside a string";
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t digits = i + (c == '-'), j = digits, end = i;
            uint64_t v = 0;
            for (; j < n && s[j] >= '0' && s[j] <= '9'; j++)
                if (v <= EMBER_ST_MAX_INT) /* stays below 2^57: no overflow */
                    v = v * 10 + (s[j] - '0');
            while (end < n && number_char(s[end]))
                end++;
            int len = (int)(end - i > 40 ? 40 : end - i);
            if (j - digits > 1 && s[digits] == '0')
                what = "number with a leading zero";
            else if (j > digits && end > j)
                return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                                  "%s: header number %.*s at byte %zu is not a plain integer "
                                  "(shape and data_offsets take no fraction or exponent)",
                                  path, len, text + i, i + EMBER_ST_LEN_BYTES);
            else if (c != '-' && v > EMBER_ST_MAX_INT)
                return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                                  "%s: header number %.*s at byte %zu is above the limit 2^53",
                                  path, len, text + i, i + EMBER_ST_LEN_BYTES);
            if (!what)
                i = end - 1; /* anything else malformed is left to cJSON */
        }
        if (what)
            return ember__st_bad_json(path, err, what, i);
    }
    return EMBER_OK;
}
