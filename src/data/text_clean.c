/*
 * text_clean.c - the cleaning half of the text pipeline, in this order:
 *
 *  1. UTF-8 repair. Strings handed to the API may hold any bytes (the file
 *     readers refuse invalid UTF-8, but ember_pipeline_tokens and
 *     ember_text_dataset_create do not). Each maximal ill-formed subsequence
 *     becomes U+FFFD, the W3C/WHATWG decoder's rule (Unicode 15 sec. 3.9,
 *     "U+FFFD Substitution of Maximal Subparts"): overlongs, surrogates,
 *     code points above U+10FFFF, stray continuation bytes and truncated
 *     sequences all count as ill-formed.
 *  2. strip_email_headers: an RFC 822/5322 header block at the very start
 *     (an optional mbox "From " line, then "Name: value" lines, continuation
 *     lines starting with a space or tab, ended by an empty line) is dropped.
 *     Without the empty line nothing is dropped: a text that merely begins
 *     "Note: ..." keeps its words.
 *  3. strip_html: tags (<...>, <!-- comments -->, <!DOCTYPE>, <?...?>)
 *     become one space each, so "a<br>b" stays two words; the content of
 *     <script> and <style> elements goes with them. Character references
 *     are decoded: &#NNN; and &#xHH; (128..159 read as Windows-1252, 0,
 *     surrogates and > U+10FFFF give U+FFFD, as HTML5 says), and the named
 *     ones in NAMED (all of HTML 4's Latin-1 set and the usual typographic
 *     ones; a name must end with ';'). Unknown names stay as text. A '<' not
 *     followed by a tag name, '/', '!' or '?', or never closed by '>', is
 *     text ("a < b").
 *  4. NFKC and/or case folding with utf8proc (UTF8PROC_COMPOSE |
 *     UTF8PROC_COMPAT for NFKC, UTF8PROC_CASEFOLD, always UTF8PROC_STABLE:
 *     what utf8proc_map would do), into a reused code point buffer rather
 *     than through utf8proc_map, which allocates per call. ASCII stretches
 *     skip utf8proc: NFKC leaves them alone and case folding is A-Z -> a-z
 *     (see normalise for why this equals normalising the whole text).
 *
 * URLs, e-mail addresses and numbers are recognised by the tokenizer, which
 * sees the text once more anyway (tokenize.c). Deliberately not done: a full
 * HTML parser (no CDATA, no implied end tags), the 2,000-odd HTML5 entity
 * names, MIME decoding (quoted-printable, base64) of e-mail bodies.
 */
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---------------------------------------------------------------- UTF-8 */

/* Bytes of the well-formed sequence starting at s[0..n), or 0 if s[0]
 * starts none; *maximal = bytes of the maximal ill-formed subpart then. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *maximal)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else {
        *maximal = 1;
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned char b = s[i];
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h)
            break;
    }
    if (i == need)
        return need;
    *maximal = i;
    return 0;
}

size_t ember__text_fix_utf8(char *out, const char *in, size_t n)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t bad = 0, k = utf8_seq(s + i, n - i, &bad);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            i += bad;
        }
    }
    return o;
}

/* Eight bytes at a time: the top bit of every byte, for ASCII tests. */
#define HIGH_BITS UINT64_C(0x8080808080808080)

static inline uint64_t load8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Bytes of the ASCII run at the start of s[0..n). */
static size_t ascii_run(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n && !(load8(s + i) & HIGH_BITS))
        i += 8;
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

/* Length of the well-formed prefix; *ascii = whether it is all ASCII. */
static size_t utf8_valid_prefix(const char *in, size_t n, int *ascii)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    int only = 1;
    while (i < n) {
        if (s[i] < 0x80) {
            i += ascii_run(s + i, n - i);
            continue;
        }
        only = 0;
        size_t bad, k = utf8_seq(s + i, n - i, &bad);
        if (!k)
            break;
        i += k;
    }
    *ascii = only;
    return i;
}

static size_t put_utf8(char *out, int32_t cp)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* -------------------------------------------------------- e-mail headers */

/* Bytes of the header block at the start of in[0..n) including the empty
 * line that ends it, or 0 when the text does not start with one. */
static size_t header_end(const char *in, size_t n)
{
    size_t pos = 0, fields = 0;
    if (n >= 5 && memcmp(in, "From ", 5) == 0) { /* mbox separator line */
        const char *nl = memchr(in, '\n', n);
        if (!nl)
            return 0;
        pos = (size_t)(nl - in) + 1;
    }
    while (pos < n) {
        const char *nl = memchr(in + pos, '\n', n - pos);
        size_t eol = nl ? (size_t)(nl - in) : n;
        size_t len = eol - pos;
        if (len > 0 && in[pos + len - 1] == '\r')
            len--;
        if (len == 0) /* the empty line: the block ends here */
            return fields > 0 ? (nl ? eol + 1 : n) : 0;
        if (!nl)
            return 0; /* no empty line: not a header block */
        if (in[pos] == ' ' || in[pos] == '\t') {
            if (fields == 0)
                return 0; /* a continuation needs a field before it */
        } else {
            /* field name: printable ASCII but ':' (RFC 5322 ftext), then ':' */
            size_t i = 0;
            while (i < len && in[pos + i] >= 33 && in[pos + i] <= 126 && in[pos + i] != ':')
                i++;
            if (i == 0 || i == len || in[pos + i] != ':')
                return 0;
            fields++;
        }
        pos = eol + 1;
    }
    return 0;
}

/* ----------------------------------------------------------------- HTML */

/* Names of U+00A0 .. U+00FF, HTML 4's Latin-1 entities, in code point order. */
static const char *const LATIN1[96] = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",
    "uml",    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",
    "deg",    "plusmn", "sup2",   "sup3",   "acute",  "micro",  "para",   "middot",
    "cedil",  "sup1",   "ordm",   "raquo",  "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc",  "Atilde", "Auml",   "Aring",  "AElig",  "Ccedil",
    "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave", "Iacute", "Icirc",  "Iuml",
    "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",   "times",
    "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",  "szlig",
    "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",
    "eth",    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide",
    "oslash", "ugrave", "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};

/* The other named references we decode: markup characters and HTML 4's
 * common typographic ones. Every name is at least 2 characters and every
 * value at most 3 UTF-8 bytes, so decoding never lengthens the text. */
static const struct {
    const char *name;
    int32_t cp;
} NAMED[] = {
    {"amp", 0x26},     {"lt", 0x3C},      {"gt", 0x3E},      {"quot", 0x22},
    {"apos", 0x27},    {"OElig", 0x152},  {"oelig", 0x153},  {"Scaron", 0x160},
    {"scaron", 0x161}, {"Yuml", 0x178},   {"fnof", 0x192},   {"circ", 0x2C6},
    {"tilde", 0x2DC},  {"ensp", 0x2002},  {"emsp", 0x2003},  {"thinsp", 0x2009},
    {"zwnj", 0x200C},  {"zwj", 0x200D},   {"lrm", 0x200E},   {"rlm", 0x200F},
    {"ndash", 0x2013}, {"mdash", 0x2014}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"sbquo", 0x201A}, {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"bdquo", 0x201E},
    {"dagger", 0x2020}, {"Dagger", 0x2021}, {"bull", 0x2022}, {"hellip", 0x2026},
    {"permil", 0x2030}, {"prime", 0x2032}, {"Prime", 0x2033}, {"lsaquo", 0x2039},
    {"rsaquo", 0x203A}, {"euro", 0x20AC}, {"trade", 0x2122}, {"larr", 0x2190},
    {"uarr", 0x2191},  {"rarr", 0x2192},  {"darr", 0x2193},  {"harr", 0x2194},
    {"minus", 0x2212}, {"le", 0x2264},    {"ge", 0x2265},    {"ne", 0x2260},
    {"infin", 0x221E}, {"asymp", 0x2248}, {"hearts", 0x2665}, {"spades", 0x2660},
    {"clubs", 0x2663}, {"diams", 0x2666}};

/* HTML5: numeric references 0x80..0x9F name Windows-1252 bytes; 0 = the C1
 * code point itself (undefined in Windows-1252). */
static const int32_t CP1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* Case-insensitive search for the ASCII string `pat` in in[from..n). */
static size_t find_ci(const char *in, size_t n, size_t from, const char *pat)
{
    size_t m = strlen(pat);
    for (size_t i = from; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && lower(in[i + k]) == pat[k])
            k++;
        if (k == m)
            return i;
    }
    return n;
}

/* If a tag starts at in[i] == '<', the index just past it, else 0.
 * *raw = 1 for an opening <script>, 2 for <style> (their content goes too). */
static size_t tag_end(const char *in, size_t n, size_t i, int *raw)
{
    *raw = 0;
    size_t j = i + 1;
    if (j >= n)
        return 0;
    if (n - j >= 3 && memcmp(in + j, "!--", 3) == 0) {
        size_t e = find_ci(in, n, j + 3, "-->");
        return e < n ? e + 3 : n; /* an open comment hides the rest, as in browsers */
    }
    if (in[j] == '!' || in[j] == '?') { /* <!DOCTYPE ...>, <?xml ...?> */
        for (size_t k = j + 1; k < n; k++) {
            if (in[k] == '>')
                return k + 1;
            if (in[k] == '<')
                return 0; /* so a text full of "<!" stays linear */
        }
        return 0;
    }
    int closing = in[j] == '/';
    if (closing)
        j++;
    if (j >= n || !is_alpha(in[j]))
        return 0;
    size_t name = j;
    while (j < n && (is_alpha(in[j]) || is_digit(in[j]) || in[j] == ':' || in[j] == '_' ||
                     in[j] == '-'))
        j++;
    size_t name_len = j - name;
    if (j >= n || !(is_space(in[j]) || in[j] == '/' || in[j] == '>'))
        return 0;
    /* attributes: quoted values may hold '>'; a '<' outside quotes means
     * this was not a tag after all */
    char prev = 0;
    for (; j < n; j++) {
        char c = in[j];
        if (c == '>') {
            if (!closing && prev != '/') {
                if (name_len == 6 && find_ci(in, name + 6, name, "script") == name)
                    *raw = 1;
                else if (name_len == 5 && find_ci(in, name + 5, name, "style") == name)
                    *raw = 2;
            }
            return j + 1;
        }
        if (c == '<')
            return 0;
        if ((c == '"' || c == '\'') && prev == '=') {
            const char *q = memchr(in + j + 1, c, n - j - 1);
            if (!q)
                return 0;
            j = (size_t)(q - in);
        }
        if (!is_space(c))
            prev = c;
    }
    return 0;
}

/* Whether the C string `name` is exactly s[0..len) (s holds no NUL). */
static int name_is(const char *name, const char *s, size_t len)
{
    return strncmp(name, s, len) == 0 && name[len] == '\0';
}

/* If a character reference starts at in[i] == '&', write its UTF-8 to out,
 * set *wrote, and return the index past it; else return 0. */
static size_t entity(const char *in, size_t n, size_t i, char *out, size_t *wrote)
{
    size_t j = i + 1;
    if (j < n && in[j] == '#') {
        int hex = j + 1 < n && (in[j + 1] == 'x' || in[j + 1] == 'X');
        j += hex ? 2 : 1;
        size_t start = j;
        int64_t v = 0;
        while (j < n && (hex ? is_hex(in[j]) : is_digit(in[j]))) {
            int d = is_digit(in[j]) ? in[j] - '0' : lower(in[j]) - 'a' + 10;
            if (v <= 0x10FFFF)
                v = v * (hex ? 16 : 10) + d; /* beyond U+10FFFF it stays invalid */
            j++;
        }
        if (j == start)
            return 0; /* "&#" or "&#x" alone is text */
        if (j < n && in[j] == ';')
            j++;
        if (v >= 0x80 && v <= 0x9F && CP1252[v - 0x80])
            v = CP1252[v - 0x80];
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            v = 0xFFFD;
        *wrote = put_utf8(out, (int32_t)v);
        return j;
    }
    size_t start = j;
    while (j < n && j - start < 8 && (is_alpha(in[j]) || is_digit(in[j])))
        j++;
    size_t len = j - start;
    if (len < 2 || j >= n || in[j] != ';')
        return 0;
    int32_t cp = -1;
    for (size_t k = 0; k < sizeof NAMED / sizeof NAMED[0] && cp < 0; k++)
        if (name_is(NAMED[k].name, in + start, len))
            cp = NAMED[k].cp;
    for (size_t k = 0; k < 96 && cp < 0; k++)
        if (name_is(LATIN1[k], in + start, len))
            cp = 0xA0 + (int32_t)k;
    if (cp < 0)
        return 0;
    *wrote = put_utf8(out, cp);
    return j + 1;
}

/* Index of the first `c` in in[from..n), or n. */
static size_t find(const char *in, size_t n, size_t from, char c)
{
    const char *q = from < n ? memchr(in + from, c, n - from) : NULL;
    return q ? (size_t)(q - in) : n;
}

size_t ember__text_strip_html(char *out, const char *in, size_t n)
{
    size_t o = 0, lt = find(in, n, 0, '<'), amp = find(in, n, 0, '&');
    for (size_t i = 0; i < n;) {
        /* copy plain bytes up to the next '<' or '&' at once (memchr each,
         * searched again only once passed) */
        if (lt < i)
            lt = find(in, n, i, '<');
        if (amp < i)
            amp = find(in, n, i, '&');
        size_t j = lt < amp ? lt : amp;
        memcpy(out + o, in + i, j - i);
        o += j - i;
        i = j;
        if (i == n)
            break;
        char c = in[i];
        if (c == '<') {
            int raw;
            size_t e = tag_end(in, n, i, &raw);
            if (e) {
                if (raw) {
                    const char *name = raw == 1 ? "</script" : "</style";
                    size_t close = find_ci(in, n, e, name);
                    const char *gt = close < n ? memchr(in + close, '>', n - close) : NULL;
                    e = gt ? (size_t)(gt - in) + 1 : n;
                }
                out[o++] = ' ';
                i = e;
                continue;
            }
        } else if (c == '&') {
            size_t wrote = 0, e = entity(in, n, i, out + o, &wrote);
            if (e) {
                o += wrote;
                i = e;
                continue;
            }
        }
        out[o++] = c; /* a '<' or '&' that starts nothing */
        i++;
    }
    return o;
}

/* ---------------------------------------------------------------- stages */

bool ember__text_grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 256;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return false;
        c *= 2;
    }
    size_t bytes;
    if (!ember__mul_size(c, elem, &bytes))
        return false;
    void *p = realloc(*buf, bytes);
    if (!p)
        return false;
    *buf = p;
    *cap = c;
    return true;
}

void ember__text_scratch_free(ember__text_scratch *s)
{
    if (!s)
        return;
    free(s->a);
    free(s->b);
    free(s->cps);
    free(s->words);
    free(s->tok);
    free(s->items);
    memset(s, 0, sizeof *s);
}

/* The stage buffer that `cur` is not in, grown to `need` bytes. */
static char *other_buf(ember__text_scratch *s, const char *cur, size_t need)
{
    if (cur == s->a) {
        if (!ember__text_grow((void **)&s->b, &s->b_cap, need, 1))
            return NULL;
        return s->b;
    }
    if (!ember__text_grow((void **)&s->a, &s->a_cap, need, 1))
        return NULL;
    return s->a;
}

static int all_ascii(const char *p, size_t n)
{
    return ascii_run((const unsigned char *)p, n) == n;
}

/* Copy n ASCII bytes, A-Z lowered; eight at a time: a byte's top bit is set
 * in `upper` exactly when it lies in 'A'..'Z' (each lane stays below 0x80
 * before the additions, so no carry crosses lanes). */
static void lower_ascii(char *dst, const char *src, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = load8((const unsigned char *)src + i);
        uint64_t upper = ((x + ones * (0x80 - 'A')) ^ (x + ones * (0x80 - 'Z' - 1))) & HIGH_BITS;
        x |= upper >> 2; /* 0x80 >> 2 = 0x20, the case bit */
        memcpy(dst + i, &x, sizeof x);
    }
    for (; i < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
}

/* NFKC and/or case folding of p[0..n), written to the free stage buffer.
 * ASCII is copied (and lowered for case folding) without utf8proc; only the
 * stretches holding non-ASCII bytes go through it, each starting one ASCII
 * character early (a combining mark may follow an ASCII letter) and ending
 * before the next ASCII character. That gives exactly the result of
 * normalising the whole text, since every ASCII character is a starter that
 * nothing composes with backwards (a normalisation boundary, UAX #15 sec. 9).
 * A stretch is decomposed into s->cps (grown and retried when it expands),
 * then utf8proc composes and re-encodes it in place; utf8proc_reencode needs
 * one int32 of room past the code points. */
static ember_status normalise(ember__text_scratch *s, const ember_text_options *o,
                              const char **pp, size_t *pn, ember_error *err)
{
    const char *p = *pp;
    size_t n = *pn, w = 0, i = 0;
    utf8proc_option_t opt = UTF8PROC_STABLE;
    if (o->nfkc)
        opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    if (o->casefold)
        opt |= UTF8PROC_CASEFOLD;
    char *dst = NULL;
    while (i < n) {
        size_t j = i;
        while (j < n && (unsigned char)p[j] < 0x80)
            j++;
        size_t a_end = (j < n && j > i) ? j - 1 : j;
        if (!(dst = other_buf(s, p, w + (a_end - i) + 16)))
            goto nomem;
        if (o->casefold)
            lower_ascii(dst + w, p + i, a_end - i);
        else
            memcpy(dst + w, p + i, a_end - i);
        w += a_end - i;
        if (j == n)
            break;
        size_t k = j;
        while (k < n && (unsigned char)p[k] >= 0x80)
            k++;
        utf8proc_ssize_t m;
        for (;;) {
            size_t room = s->cps_cap > 0 ? s->cps_cap - 1 : 0;
            m = utf8proc_decompose((const utf8proc_uint8_t *)p + a_end, (utf8proc_ssize_t)(k - a_end),
                                   (utf8proc_int32_t *)s->cps, (utf8proc_ssize_t)room, opt);
            if (m < 0)
                return EMBER_FAIL(err, EMBER_ERR_FORMAT, "text normalisation: %s",
                                  utf8proc_errmsg(m));
            if ((size_t)m <= room && s->cps_cap > 0)
                break;
            if (!ember__text_grow((void **)&s->cps, &s->cps_cap, (size_t)m + 1, sizeof(int32_t)))
                goto nomem;
        }
        m = utf8proc_reencode((utf8proc_int32_t *)s->cps, m, opt);
        if (m < 0)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "text normalisation: %s",
                              utf8proc_errmsg(m));
        if (!(dst = other_buf(s, p, w + (size_t)m + 16)))
            goto nomem;
        memcpy(dst + w, s->cps, (size_t)m);
        w += (size_t)m;
        i = k;
    }
    if (!dst && !(dst = other_buf(s, p, 16)))
        goto nomem;
    *pp = dst;
    *pn = w;
    return EMBER_OK;
nomem:
    return EMBER_FAIL(err, EMBER_ERR_NOMEM, "text normalisation: out of memory (%zu bytes)", n);
}

/* Room each stage needs for n input bytes: fix_utf8 writes at most 3n (one
 * U+FFFD per bad byte); the others at most n; + 16 for a zero-length text. */
#define STAGE_ROOM(n) ((n) + 16)

ember_status ember__text_clean(ember__text_scratch *s, const ember_text_options *o,
                               const char *text, const char **out, size_t *len,
                               ember_error *err)
{
    const char *p = text;
    size_t n = strlen(text);
    int ascii;
    if (utf8_valid_prefix(p, n, &ascii) < n) {
        if (n > (SIZE_MAX - 16) / 3)
            goto nomem;
        char *dst = other_buf(s, p, STAGE_ROOM(3 * n));
        if (!dst)
            goto nomem;
        n = ember__text_fix_utf8(dst, p, n);
        p = dst;
        ascii = 0;
    }
    if (o->strip_email_headers) {
        size_t h = header_end(p, n);
        p += h;
        n -= h;
    }
    if (o->strip_html && (memchr(p, '<', n) || memchr(p, '&', n))) {
        char *dst = other_buf(s, p, STAGE_ROOM(n));
        if (!dst)
            goto nomem;
        n = ember__text_strip_html(dst, p, n);
        p = dst;
        ascii = all_ascii(p, n); /* entities may bring non-ASCII in, tags take it out */
    }
    if ((o->nfkc || o->casefold) && !(ascii && !o->casefold)) {
        ember_status st = normalise(s, o, &p, &n, err);
        if (st != EMBER_OK)
            return st;
    }
    *out = p;
    *len = n;
    return EMBER_OK;
nomem:
    return EMBER_FAIL(err, EMBER_ERR_NOMEM, "text cleaning: out of memory (text of %zu bytes)",
                      strlen(text));
}
