/*
 * features.c - user and item feature tables for the two-tower recommender:
 * one row of floats per id, encoded from a file's columns.
 *
 * Layouts (ember.h has the rules): MovieLens u.item (its 19 genre flags),
 * MovieLens u.user (age, gender, occupation, first character of the zip
 * code), and any CSV/TSV/'|' file with a header whose first column is the
 * id. Columns are encoded from the whole file: a column of 0/1 stays as it
 * is, another numeric column is standardised ((x - mean) / std, an empty
 * value 0), any other column becomes one-hot flags of its most frequent
 * values. The file is read twice in memory (all fields, then the encoding);
 * feature files are small (one line per user or item).
 */
#define _POSIX_C_SOURCE 200809L
#include "recommend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 256  /* columns of a generic file, id included */
#define MAX_CATEGORIES 32 /* one-hot flags per categorical column */
#define SHOW_MAX 40
#define ITEM_FIELDS_MAX (5 + EMBER_MOVIELENS_GENRES) /* u.item fields */

static const char *const ml_genres[EMBER_MOVIELENS_GENRES] = {
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western"};

struct ember_features {
    ember_idmap ids;   /* row k <-> id */
    int64_t n, width;
    float *x;          /* [n][width] */
    char **names;      /* [width] column names */
};

void ember_features_destroy(ember_features *f)
{
    if (!f)
        return;
    ember__idmap_deinit(&f->ids);
    free(f->x);
    for (int64_t j = 0; f->names && j < f->width; j++)
        free(f->names[j]);
    free(f->names);
    free(f);
}

int64_t ember_features_rows(const ember_features *f) { return f ? f->n : 0; }
int64_t ember_features_width(const ember_features *f) { return f ? f->width : 0; }
const char *ember_features_id(const ember_features *f, int64_t k)
{
    return f && k >= 0 && k < f->n ? ember__idmap_get(&f->ids, k) : NULL;
}
int64_t ember_features_find(const ember_features *f, const char *id)
{
    return f && id ? ember__idmap_find(&f->ids, id, strlen(id)) : -1;
}
const float *ember_features_row(const ember_features *f, int64_t k)
{
    return f && k >= 0 && k < f->n ? f->x + k * f->width : NULL;
}
const char *ember_features_column(const ember_features *f, int64_t j)
{
    return f && j >= 0 && j < f->width ? f->names[j] : NULL;
}

/* ------------------------------------------------- raw table in memory */

typedef struct raw_table {
    int64_t rows, cols, cap;
    char **cell;        /* [rows][cols] owned strings */
    char **head;        /* [cols] column names */
    int64_t categorical; /* a column read as categories even when numeric (0: none) */
    long long *lineno;  /* [rows] */
} raw_table;

static void raw_free(raw_table *t)
{
    for (int64_t i = 0; t->cell && i < t->rows * t->cols; i++)
        free(t->cell[i]);
    for (int64_t j = 0; t->head && j < t->cols; j++)
        free(t->head[j]);
    free(t->cell);
    free(t->head);
    free(t->lineno);
}

static ember_status raw_push(raw_table *t, char **f, long long lineno, const char *path,
                             ember_error *err)
{
    if (t->rows == t->cap) {
        int64_t c = t->cap ? t->cap * 2 : 256;
        char **cell = realloc(t->cell, (size_t)(c * t->cols) * sizeof *cell);
        if (cell)
            t->cell = cell;
        long long *ln = cell ? realloc(t->lineno, (size_t)c * sizeof *ln) : NULL;
        if (!ln)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
        t->lineno = ln;
        t->cap = c;
    }
    for (int64_t j = 0; j < t->cols; j++) {
        char *v = strdup(f[j]);
        if (!v) {
            for (int64_t q = 0; q < j; q++)
                free(t->cell[t->rows * t->cols + q]);
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
        }
        t->cell[t->rows * t->cols + j] = v;
    }
    t->lineno[t->rows++] = lineno;
    return EMBER_OK;
}

/* ------------------------------------------------------------ encoding */

typedef struct col_plan {
    enum { COL_SKIP, COL_FLAG, COL_NUMERIC, COL_CATEGORICAL } kind;
    double mean, std;
    int ncat;
    const char *cat[MAX_CATEGORIES]; /* borrowed from the raw table */
} col_plan;

static int cmp_count_desc(const void *a, const void *b)
{
    const int64_t *x = a, *y = b; /* {count, first row} */
    if (x[0] != y[0])
        return x[0] > y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Decide how column j (values t->cell[r][j]) is encoded. */
static ember_status plan_column(col_plan *p, const raw_table *t, int64_t j, ember_error *err)
{
    memset(p, 0, sizeof *p);
    int numeric = 1, flags = 1, any = 0;
    double sum = 0, sum2 = 0;
    int64_t nv = 0;
    for (int64_t r = 0; r < t->rows; r++) {
        const char *v = t->cell[r * t->cols + j];
        float x;
        if (!*v)
            continue;
        any = 1;
        if (j == t->categorical) {
            numeric = flags = 0;
            break;
        }
        if (ember__rec_parse_float(v, &x)) {
            numeric = flags = 0;
            break;
        }
        flags &= x == 0.0f || x == 1.0f;
        sum += x;
        sum2 += (double)x * x;
        nv++;
    }
    if (!any) {
        p->kind = COL_SKIP;
        return EMBER_OK;
    }
    if (numeric) {
        p->kind = flags ? COL_FLAG : COL_NUMERIC;
        p->mean = sum / (double)nv;
        double var = sum2 / (double)nv - p->mean * p->mean;
        p->std = var > 0 ? sqrt(var) : 0;
        return EMBER_OK;
    }
    /* categorical: count the distinct values (an id map over the column) */
    ember_idmap m;
    ember__idmap_init(&m);
    int64_t *cnt = calloc((size_t)t->rows * 2 + 2, sizeof *cnt);
    ember_status s = EMBER_OK;
    if (!cnt) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory encoding column '%s'", t->head[j]);
        goto done;
    }
    for (int64_t r = 0; r < t->rows; r++) {
        const char *v = t->cell[r * t->cols + j];
        int64_t k;
        if (!*v)
            continue;
        int64_t before = m.n;
        if ((s = ember__idmap_add(&m, v, strlen(v), &k, err)))
            goto done;
        if (m.n > before)
            cnt[2 * k + 1] = r;
        cnt[2 * k]++;
    }
    qsort(cnt, (size_t)m.n, 2 * sizeof *cnt, cmp_count_desc);
    p->kind = COL_CATEGORICAL;
    p->ncat = m.n < MAX_CATEGORIES ? (int)m.n : MAX_CATEGORIES;
    for (int c = 0; c < p->ncat; c++)
        p->cat[c] = t->cell[cnt[2 * c + 1] * t->cols + j];
done:
    ember__idmap_deinit(&m);
    free(cnt);
    return s;
}

static int64_t plan_width(const col_plan *p)
{
    return p->kind == COL_SKIP ? 0 : p->kind == COL_CATEGORICAL ? p->ncat : 1;
}

/* Build the feature table from the raw one: column 0 the ids, the others
 * encoded by their plans. */
static ember_status encode(ember_features **out, raw_table *t, const char *path, ember_error *err)
{
    col_plan *plan = calloc((size_t)t->cols, sizeof *plan);
    ember_features *f = calloc(1, sizeof *f);
    ember_status s = EMBER_OK;
    if (!plan || !f) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    ember__idmap_init(&f->ids);
    int64_t width = 0;
    for (int64_t j = 1; j < t->cols; j++) {
        if ((s = plan_column(&plan[j], t, j, err)))
            goto done;
        width += plan_width(&plan[j]);
    }
    if (width == 0) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: no feature column has a value (every column "
                       "but the id is empty)", path);
        goto done;
    }
    f->width = width;
    f->x = calloc((size_t)(t->rows * width), sizeof *f->x);
    f->names = calloc((size_t)width, sizeof *f->names);
    if (!f->x || !f->names) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    for (int64_t j = 1, o = 0; j < t->cols; j++) {
        const col_plan *p = &plan[j];
        for (int c = 0; c < plan_width(p); c++, o++) {
            size_t len = strlen(t->head[j]) + (p->kind == COL_CATEGORICAL ? strlen(p->cat[c]) + 2 : 1);
            if (!(f->names[o] = malloc(len))) {
                s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
                goto done;
            }
            if (p->kind == COL_CATEGORICAL)
                snprintf(f->names[o], len, "%s=%s", t->head[j], p->cat[c]);
            else
                snprintf(f->names[o], len, "%s", t->head[j]);
        }
    }
    for (int64_t r = 0; r < t->rows; r++) {
        const char *id = t->cell[r * t->cols];
        int64_t before = f->ids.n, k;
        if (!*id) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: field 1 (id) is empty", path,
                           t->lineno[r]);
            goto done;
        }
        if ((s = ember__idmap_add(&f->ids, id, strlen(id), &k, err)))
            goto done;
        if (f->ids.n == before) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: field 1 (id): '%.*s' appears twice",
                           path, t->lineno[r], SHOW_MAX, id);
            goto done;
        }
        float *row = f->x + r * width;
        for (int64_t j = 1, o = 0; j < t->cols; j++) {
            const col_plan *p = &plan[j];
            const char *v = t->cell[r * t->cols + j];
            float x = 0.0f;
            switch (p->kind) {
            case COL_SKIP:
                break;
            case COL_FLAG:
                if (*v)
                    ember__rec_parse_float(v, &x);
                row[o++] = x;
                break;
            case COL_NUMERIC:
                if (*v && !ember__rec_parse_float(v, &x) && p->std > 0)
                    row[o] = (float)(((double)x - p->mean) / p->std);
                o++;
                break;
            case COL_CATEGORICAL:
                for (int c = 0; c < p->ncat; c++)
                    row[o + c] = *v && !strcmp(v, p->cat[c]) ? 1.0f : 0.0f;
                o += p->ncat;
                break;
            }
        }
    }
    f->n = t->rows;
done:
    free(plan);
    if (s) {
        ember_features_destroy(f);
        return s;
    }
    *out = f;
    return EMBER_OK;
}

/* ------------------------------------------------------------- layouts */

static ember_status set_head(raw_table *t, const char *const *names, int64_t n, const char *path,
                             ember_error *err)
{
    t->cols = n;
    if (!(t->head = calloc((size_t)n, sizeof *t->head)))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
    for (int64_t j = 0; j < n; j++)
        if (!(t->head[j] = strdup(names[j])))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory reading %s", path);
    return EMBER_OK;
}

/* u.item: the genre flags, by the MovieLens reader (which checks the rest). */
static ember_status load_movielens_items(ember_features **out, const char *path,
                                         ember_error *err)
{
    ember_items *it = NULL;
    ember_status s = ember_items_load_movielens(&it, path, err);
    if (s)
        return s;
    raw_table t = {0};
    const char *names[1 + EMBER_MOVIELENS_GENRES] = {"id"};
    for (int g = 0; g < EMBER_MOVIELENS_GENRES; g++)
        names[1 + g] = ml_genres[g];
    if ((s = set_head(&t, names, 1 + EMBER_MOVIELENS_GENRES, path, err)))
        goto done;
    for (int64_t k = 0; k < ember_items_size(it) && !s; k++) {
        char flags[EMBER_MOVIELENS_GENRES][2];
        char *f[1 + EMBER_MOVIELENS_GENRES];
        f[0] = (char *)ember_items_id(it, k);
        const unsigned char *g = ember_items_genres(it, k);
        for (int q = 0; q < EMBER_MOVIELENS_GENRES; q++) {
            flags[q][0] = (char)('0' + g[q]);
            flags[q][1] = '\0';
            f[1 + q] = flags[q];
        }
        s = raw_push(&t, f, (long long)k + 1, path, err);
    }
    if (!s)
        s = encode(out, &t, path, err);
done:
    raw_free(&t);
    ember_items_destroy(it);
    return s;
}

/* Is this first line MovieLens u.user's id|age|gender|occupation|zip? */
static int is_movielens_users(const char *line)
{
    char buf[512];
    if (strlen(line) >= sizeof buf)
        return 0;
    strcpy(buf, line);
    char *f[6];
    float age;
    return ember__rec_split(buf, "|", 1, f, 5) == 5 && !ember__rec_parse_float(f[1], &age) &&
           (!strcmp(f[2], "M") || !strcmp(f[2], "F"));
}

ember_status ember_features_load(ember_features **out, const char *path, ember_error *err)
{
    if (!out || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "features: NULL argument");
    *out = NULL;
    ember_line_reader lr;
    ember_status s = ember__lines_open(&lr, path, err);
    if (s)
        return s;
    raw_table t = {0};
    int got, movielens_users = 0;
    char sep[2] = ",";
    if ((s = ember__lines_next(&lr, &got, err)))
        goto done;
    if (!got) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: no lines (an empty file)", path);
        goto done;
    }
    {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", lr.line);
        char *f[ITEM_FIELDS_MAX + 1];
        if (strchr(lr.line, '|') && !strchr(lr.line, '\t') &&
            ember__rec_split(buf, "|", 1, f, ITEM_FIELDS_MAX) == ITEM_FIELDS_MAX) {
            ember__lines_close(&lr);
            return load_movielens_items(out, path, err);
        }
    }
    if (strchr(lr.line, '\t'))
        sep[0] = '\t';
    else if (strchr(lr.line, '|') && !strchr(lr.line, ','))
        sep[0] = '|';
    movielens_users = sep[0] == '|' && is_movielens_users(lr.line);
    char *f[MAX_COLUMNS + 1];
    if (movielens_users) {
        static const char *const names[] = {"id", "age", "gender", "occupation", "zip1"};
        if ((s = set_head(&t, names, 5, path, err)))
            goto done;
        t.categorical = 4; /* the zip code's first character names a region */
    } else {
        int nf = ember__rec_split(lr.line, sep, 1, f, MAX_COLUMNS);
        if (nf > MAX_COLUMNS) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: more than %d columns", path,
                           lr.lineno, MAX_COLUMNS);
            goto done;
        }
        if (nf < 2) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: a header 'id%sfeature...' with at "
                           "least two columns is needed; got one field", path, lr.lineno,
                           sep[0] == '\t' ? "<tab>" : sep);
            goto done;
        }
        if ((s = set_head(&t, (const char *const *)f, nf, path, err)))
            goto done;
        for (int j = 0; j < nf; j++)
            if (!t.head[j][0]) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: header column %d has no name",
                               path, lr.lineno, j + 1);
                goto done;
            }
        if ((s = ember__lines_next(&lr, &got, err)))
            goto done;
    }
    for (; got; s = ember__lines_next(&lr, &got, err)) {
        if (s)
            goto done;
        int nf = ember__rec_split(lr.line, sep, 1, f, (int)t.cols);
        if (nf != t.cols) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: %s%d fields; the %s has %lld", path,
                           lr.lineno, nf > t.cols ? "more than " : "",
                           nf > t.cols ? (int)t.cols : nf,
                           movielens_users ? "MovieLens u.user layout" : "header",
                           (long long)t.cols);
            goto done;
        }
        if (movielens_users) {
            float age;
            if (ember__rec_parse_float(f[1], &age) || age < 0 || age > 150) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%lld: field 2 (age): '%.*s' is not an "
                               "age", path, lr.lineno, SHOW_MAX, f[1]);
                goto done;
            }
            f[4][f[4][0] ? 1 : 0] = '\0'; /* the zip code's first character */
        }
        if ((s = raw_push(&t, f, lr.lineno, path, err)))
            goto done;
    }
    if (s)
        goto done;
    if (t.rows == 0) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: a header but no rows", path);
        goto done;
    }
    s = encode(out, &t, path, err);
done:
    ember__lines_close(&lr);
    raw_free(&t);
    return s;
}
