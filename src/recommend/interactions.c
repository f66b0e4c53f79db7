/*
 * interactions.c - readers for recommender data: interaction files
 * (user,item[,rating][,timestamp] as CSV, TSV or "::"-separated, with or
 * without a header; MovieLens u.data/u*.base/u*.test as they are) and the
 * MovieLens item table u.item (Latin-1, '|'-separated, 19 genre flags).
 * Lines are read one at a time (getline), so a file need not fit in memory
 * twice. No quoting, no guessing beyond the header rule in ember.h: a line
 * that does not fit is an error naming file:line and field.
 */
#define _POSIX_C_SOURCE 200809L
#include "recommend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_FIELDS 4          /* user, item, rating, timestamp */
#define ITEM_FIELDS (5 + EMBER_MOVIELENS_GENRES)
#define SHOW_MAX 40           /* bytes of a bad field quoted in a message */

static const char *const field_names[MAX_FIELDS] = {"user", "item", "rating", "timestamp"};

/* Split line (modified in place) at `sep` (sep_len bytes) into at most
 * `max` fields; returns the count, or max + 1 when there are more. */
int ember__rec_split(char *line, const char *sep, size_t sep_len, char **f, int max)
{
    int n = 0;
    char *s = line;
    for (;;) {
        char *e = sep_len == 1 ? strchr(s, sep[0]) : strstr(s, sep);
        if (n == max)
            return max + 1;
        f[n++] = s;
        if (!e)
            return n;
        *e = '\0';
        s = e + sep_len;
    }
}

/* Remove the line end (LF, CR LF); returns the new length. */
static size_t chomp(char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    return len;
}

ember_status ember__lines_open(ember_line_reader *r, const char *path, ember_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    if (!(r->f = fopen(path, "rb")))
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return EMBER_OK;
}

/* The next non-blank line in r->line (NUL-terminated, modifiable): *got 1,
 * or 0 at the end of the file. Errors: a NUL byte in a line, a read error. */
ember_status ember__lines_next(ember_line_reader *r, int *got, ember_error *err)
{
    ssize_t n;
    *got = 0;
    while ((n = getline(&r->line, &r->cap, r->f)) >= 0) {
        r->lineno++;
        if (memchr(r->line, '\0', (size_t)n))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: a NUL byte (a binary file?)",
                              r->path, r->lineno);
        if (chomp(r->line, (size_t)n) > 0) {
            *got = 1;
            return EMBER_OK;
        }
    }
    if (ferror(r->f))
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: read error after line %lld: %s", r->path,
                          r->lineno, strerror(errno));
    return EMBER_OK;
}

void ember__lines_close(ember_line_reader *r)
{
    free(r->line);
    if (r->f)
        fclose(r->f);
    r->f = NULL;
    r->line = NULL;
}

int ember__rec_parse_float(const char *s, float *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v) || fabs(v) > 3.0e38)
        return -1;
    *out = (float)v;
    return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int is_user_column(const char *s)
{
    static const char *const names[] = {"user", "user_id", "userid", "uid", "users"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(s, names[i]))
            return 1;
    return 0;
}

void ember_interactions_destroy(ember_interactions *d)
{
    if (!d)
        return;
    free(d->user);
    free(d->item);
    free(d->rating);
    free(d->time);
    ember__idmap_deinit(&d->users);
    ember__idmap_deinit(&d->items);
    free(d);
}

static ember_status push(ember_interactions *d, int64_t u, int64_t i, float r, int64_t t,
                         ember_error *err)
{
    if (d->n == d->cap) {
        int64_t c = d->cap ? d->cap * 2 : 1024;
        int64_t *nu = realloc(d->user, (size_t)c * sizeof *nu);
        if (nu)
            d->user = nu;
        int64_t *ni = nu ? realloc(d->item, (size_t)c * sizeof *ni) : NULL;
        if (ni)
            d->item = ni;
        float *nr = ni ? realloc(d->rating, (size_t)c * sizeof *nr) : NULL;
        if (nr)
            d->rating = nr;
        int64_t *nt = nr ? realloc(d->time, (size_t)c * sizeof *nt) : NULL;
        if (!nt)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld interactions",
                              (long long)c);
        d->time = nt;
        d->cap = c;
    }
    d->user[d->n] = u;
    d->item[d->n] = i;
    d->rating[d->n] = r;
    d->time[d->n] = t;
    d->n++;
    return EMBER_OK;
}

ember_status ember__interactions_create(ember_interactions **out, int has_rating, int has_time,
                                        ember_error *err)
{
    ember_interactions *d = calloc(1, sizeof *d);
    if (!d)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for interactions");
    ember__idmap_init(&d->users);
    ember__idmap_init(&d->items);
    d->has_rating = has_rating;
    d->has_time = has_time;
    *out = d;
    return EMBER_OK;
}

ember_status ember__interactions_add(ember_interactions *d, const char *user, const char *item,
                                     float rating, int64_t time, ember_error *err)
{
    int64_t u, i;
    ember_status s;
    if ((s = ember__idmap_add(&d->users, user, strlen(user), &u, err)) ||
        (s = ember__idmap_add(&d->items, item, strlen(item), &i, err)))
        return s;
    return push(d, u, i, rating, time, err);
}

ember_status ember_interactions_load(ember_interactions **out, const char *path,
                                     ember_error *err)
{
    if (!out || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "interactions: NULL argument");
    *out = NULL;
    ember_line_reader lr;
    ember_status s = ember__lines_open(&lr, path, err);
    if (s)
        return s;
    ember_interactions *d = calloc(1, sizeof *d);
    if (!d) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    ember__idmap_init(&d->users);
    ember__idmap_init(&d->items);
    const char *sep = NULL;
    size_t sep_len = 1;
    int nfields = 0, got;
    while (!(s = ember__lines_next(&lr, &got, err)) && got) {
        char *line = lr.line;
        long long lineno = lr.lineno;
        int first = sep == NULL;
        if (first) {
            if (strchr(line, '\t'))
                sep = "\t";
            else if (strstr(line, "::"))
                sep = "::", sep_len = 2;
            else
                sep = ",";
        }
        char *fl[MAX_FIELDS + 1] = {NULL};
        int nf = ember__rec_split(line, sep, sep_len, fl, MAX_FIELDS);
        const char *sep_name = sep[0] == '\t' ? "tab" : sep_len == 2 ? "'::'" : "comma";
        if (first) {
            if (nf < 2 || nf > MAX_FIELDS) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                               "%s:%lld: %s%d %s-separated field%s; expected 2 to 4: "
                               "user, item[, rating][, timestamp]",
                               path, lineno, nf > MAX_FIELDS ? "more than " : "",
                               nf > MAX_FIELDS ? MAX_FIELDS : nf, sep_name, nf == 1 ? "" : "s");
                goto done;
            }
            nfields = nf;
            d->has_rating = nf >= 3;
            d->has_time = nf >= 4;
            float r;
            if (is_user_column(fl[0]) || (nf >= 3 && ember__rec_parse_float(fl[2], &r)))
                continue; /* header */
        } else if (nf != nfields) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                           "%s:%lld: %s%d %s-separated fields; the first line has %d", path,
                           lineno, nf > MAX_FIELDS ? "more than " : "",
                           nf > MAX_FIELDS ? MAX_FIELDS : nf, sep_name, nfields);
            goto done;
        }
        for (int k = 0; k < 2; k++)
            if (!fl[k][0]) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: field %d (%s) is empty", path,
                               lineno, k + 1, field_names[k]);
                goto done;
            }
        float r = 1.0f;
        int64_t t = 0;
        if (nf >= 3 && ember__rec_parse_float(fl[2], &r)) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: field 3 (rating): '%.*s' is not a "
                           "finite number", path, lineno, SHOW_MAX, fl[2]);
            goto done;
        }
        if (nf >= 4 && parse_i64(fl[3], &t)) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: field 4 (timestamp): '%.*s' is not "
                           "an integer", path, lineno, SHOW_MAX, fl[3]);
            goto done;
        }
        int64_t u, i;
        if ((s = ember__idmap_add(&d->users, fl[0], strlen(fl[0]), &u, err)) ||
            (s = ember__idmap_add(&d->items, fl[1], strlen(fl[1]), &i, err)) ||
            (s = push(d, u, i, r, t, err)))
            goto done;
    }
    if (!s && d->n == 0)
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: no interactions (an empty file%s)", path,
                       lr.lineno ? " or a header only" : "");
done:
    ember__lines_close(&lr);
    if (s) {
        ember_interactions_destroy(d);
        return s;
    }
    *out = d;
    return EMBER_OK;
}

ember_status ember_interactions_save(const ember_interactions *d, const char *path, ember_error *err)
{
    if (!d || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "interactions save: NULL argument");
    const ember_idmap *maps[2] = {&d->users, &d->items};
    for (int m = 0; m < 2; m++)
        for (int64_t k = 0; k < maps[m]->n; k++)
            if (strpbrk(ember__idmap_get(maps[m], k), "\t\r\n"))
                return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s id '%.40s' holds a tab or line "
                                  "break and could not be read back", path,
                                  m ? "item" : "user", ember__idmap_get(maps[m], k));
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory saving %s", path);
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ember_status s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return s;
    }
    int bad = 0;
    for (int64_t e = 0; e < d->n && !bad; e++) {
        bad |= fprintf(f, "%s\t%s", ember__idmap_get(&d->users, d->user[e]),
                       ember__idmap_get(&d->items, d->item[e])) < 0;
        if (d->has_rating)
            bad |= fprintf(f, "\t%.9g", (double)d->rating[e]) < 0;
        if (d->has_time)
            bad |= fprintf(f, "\t%lld", (long long)d->time[e]) < 0;
        bad |= fputc('\n', f) == EOF;
    }
    int saved = errno;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            saved = errno;
        remove(tmp);
        free(tmp);
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot write: %s", path, strerror(saved));
    }
    free(tmp);
    return EMBER_OK;
}

int64_t ember_interactions_size(const ember_interactions *d) { return d ? d->n : 0; }
int ember_interactions_has_ratings(const ember_interactions *d) { return d && d->has_rating; }
int64_t ember_interactions_user_count(const ember_interactions *d) { return d ? d->users.n : 0; }
int64_t ember_interactions_item_count(const ember_interactions *d) { return d ? d->items.n : 0; }
const char *ember_interactions_user(const ember_interactions *d, int64_t i)
{
    return ember__idmap_get(&d->users, d->user[i]);
}
const char *ember_interactions_item(const ember_interactions *d, int64_t i)
{
    return ember__idmap_get(&d->items, d->item[i]);
}
float ember_interactions_rating(const ember_interactions *d, int64_t i) { return d->rating[i]; }
int64_t ember_interactions_timestamp(const ember_interactions *d, int64_t i) { return d->time[i]; }

/* ------------------------------------------------------------ u.item */

struct ember_items {
    ember_idmap ids;            /* row k <-> id */
    int64_t *title_off;         /* [n] */
    unsigned char *genres;      /* [n][EMBER_MOVIELENS_GENRES] */
    int64_t n, cap;
    char *tbytes;
    int64_t tused, tcap;
};

void ember_items_destroy(ember_items *t)
{
    if (!t)
        return;
    ember__idmap_deinit(&t->ids);
    free(t->title_off);
    free(t->genres);
    free(t->tbytes);
    free(t);
}

/* Latin-1 bytes -> UTF-8, appended to t->tbytes with a NUL. */
static ember_status add_title(ember_items *t, const char *s, ember_error *err)
{
    size_t len = strlen(s), need = (size_t)t->tused + 2 * len + 1;
    if (need > (size_t)t->tcap) {
        size_t c = t->tcap ? (size_t)t->tcap : 4096;
        while (c < need)
            c *= 2;
        char *b = realloc(t->tbytes, c);
        if (!b)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for item titles");
        t->tbytes = b;
        t->tcap = (int64_t)c;
    }
    t->title_off[t->n] = t->tused;
    char *o = t->tbytes + t->tused;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            *o++ = (char)c;
        } else {
            *o++ = (char)(0xC0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o++ = '\0';
    t->tused = o - t->tbytes;
    return EMBER_OK;
}

ember_status ember_items_load_movielens(ember_items **out, const char *path, ember_error *err)
{
    if (!out || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "items: NULL argument");
    *out = NULL;
    ember_line_reader lr;
    ember_status s = ember__lines_open(&lr, path, err);
    if (s)
        return s;
    ember_items *t = calloc(1, sizeof *t);
    if (!t) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    ember__idmap_init(&t->ids);
    int got;
    while (!(s = ember__lines_next(&lr, &got, err)) && got) {
        char *line = lr.line;
        long long lineno = lr.lineno;
        char *fl[ITEM_FIELDS + 1] = {NULL};
        int nf = ember__rec_split(line, "|", 1, fl, ITEM_FIELDS);
        if (nf != ITEM_FIELDS) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                           "%s:%lld: %s%d '|'-separated fields; expected %d: id|title|release "
                           "date|video release date|IMDb URL|%d genre flags",
                           path, lineno, nf > ITEM_FIELDS ? "more than " : "",
                           nf > ITEM_FIELDS ? ITEM_FIELDS : nf, ITEM_FIELDS,
                           EMBER_MOVIELENS_GENRES);
            goto done;
        }
        if (!fl[0][0]) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: field 1 (id) is empty", path, lineno);
            goto done;
        }
        if (t->n == t->cap) {
            int64_t c = t->cap ? t->cap * 2 : 256;
            int64_t *o = realloc(t->title_off, (size_t)c * sizeof *o);
            if (o)
                t->title_off = o;
            unsigned char *g = o ? realloc(t->genres, (size_t)c * EMBER_MOVIELENS_GENRES) : NULL;
            if (!g) {
                s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
                goto done;
            }
            t->genres = g;
            t->cap = c;
        }
        for (int k = 0; k < EMBER_MOVIELENS_GENRES; k++) {
            const char *v = fl[5 + k];
            if (!((v[0] == '0' || v[0] == '1') && v[1] == '\0')) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                               "%s:%lld: field %d (genre flag %d): '%.*s' is not 0 or 1", path,
                               lineno, 6 + k, k, SHOW_MAX, v);
                goto done;
            }
            t->genres[t->n * EMBER_MOVIELENS_GENRES + k] = (unsigned char)(v[0] - '0');
        }
        int64_t before = t->ids.n, idx;
        if ((s = ember__idmap_add(&t->ids, fl[0], strlen(fl[0]), &idx, err)))
            goto done;
        if (t->ids.n == before) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: field 1 (id): '%.*s' appears twice",
                           path, lineno, SHOW_MAX, fl[0]);
            goto done;
        }
        if ((s = add_title(t, fl[1], err)))
            goto done;
        t->n++;
    }
    if (!s && t->n == 0)
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: no items (an empty file)", path);
done:
    ember__lines_close(&lr);
    if (s) {
        ember_items_destroy(t);
        return s;
    }
    *out = t;
    return EMBER_OK;
}

int64_t ember_items_size(const ember_items *t) { return t ? t->n : 0; }
const char *ember_items_id(const ember_items *t, int64_t k) { return ember__idmap_get(&t->ids, k); }
const char *ember_items_title(const ember_items *t, int64_t k)
{
    return t->tbytes + t->title_off[k];
}
const unsigned char *ember_items_genres(const ember_items *t, int64_t k)
{
    return t->genres + k * EMBER_MOVIELENS_GENRES;
}
int64_t ember_items_find(const ember_items *t, const char *id)
{
    return ember__idmap_find(&t->ids, id, strlen(id));
}
