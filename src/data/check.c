/*
 * check.c - ember_data_report_create: the data-quality check of a labelled
 * text training set and its test set (definitions in ember.h, the command in
 * docs/data-check.md). The JSON rendering is in check_json.c.
 *
 * How it works, in O(n) expected time:
 *  1. Every example of both splits gets a global index (train 0..n0-1, then
 *     test), its class in the union of both splits' classes, its key (the
 *     normalised text, written once into one pool), its token count under the
 *     default pipeline and its character count.
 *  2. Two groupings map equal texts to one group id each: one over the exact
 *     bytes, one over the keys (empty keys left out). Each is an
 *     open-addressing table with linear probing, sized once to a power of
 *     two >= 2n, so it is at most half full and never grows.
 *  3. Per group and split: the example count, the first class seen and
 *     whether a second class appeared; per near group the number of distinct
 *     exact texts. A set of (split, group, class) triples marks each
 *     example's first occurrence of its triple (so a conflict shows one
 *     example per class) and answers "has some training copy this class?".
 *  4. Each finding counts its groups by one predicate (want) and shows the
 *     first max_examples groups by one scan over the examples, plus one more
 *     scan to collect their members (member).
 * No pair of examples is ever compared except through a hash probe.
 *
 * Deliberately not done: fuzzy matching (edit distance, MinHash), which would
 * find paraphrases but needs thresholds to tune; image data sets.
 */
#include "text.h"
#include "text_dataset.h"

#include <stdlib.h>
#include <string.h>

ember_data_check_options ember_data_check_options_default(void)
{
    ember_data_check_options o = {3};
    return o;
}

/* ---------------------------------------------------------- groupings */

/* Equal byte strings -> one group id (0, 1, ... in order of first sight). */
typedef struct grouping {
    int64_t *slot;      /* [mask + 1] group id, -1: empty */
    size_t mask;
    uint64_t *hash;     /* [cap] per group */
    const char **str;   /* [cap] its bytes (borrowed from the data set or the key pool) */
    size_t *len;        /* [cap] */
    int64_t n;          /* groups so far */
} grouping;

/* Per group, per split. */
typedef struct gstats {
    int64_t *count[2];        /* examples */
    int32_t *cls[2];          /* class of the first example */
    unsigned char *multi[2];  /* 1 once an example of another class appeared */
    int64_t *distinct[2];     /* near groups: distinct exact texts */
} gstats;

/* A set of (split, group, class) triples. */
typedef struct triples {
    int64_t *g;         /* [mask + 1] group * 2 + split, -1: empty */
    int32_t *c;         /* [mask + 1] class */
    size_t mask;
} triples;

typedef struct ctx {
    const ember_text_dataset *d[2];
    int64_t n[2], N;        /* examples per split, both */
    int32_t *cls;           /* [N] class (union id) */
    int64_t *eg, *ng;       /* [N] exact group, near group (-1: empty key) */
    unsigned char *first_text; /* [N] first example of its exact text in its split */
    unsigned char *first_cls;  /* [N] first example of its (split, near group, class) */
    size_t *key_off, *key_len; /* [N] key in keys.d */
    ember__bytes keys;
    int64_t *tokens, *chars;   /* [N] */
    grouping ex, nr;
    gstats es, ns;
    triples et, nt;
    int64_t *pick;          /* [N] shown slot of a group, -1: not shown */
    int max;
    ember_data_report *r;
    ember_error *err;
} ctx;

/* A malloc'd copy of s (strdup is POSIX, not C11); NULL when out of memory. */
static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

static void *xcalloc(size_t n, size_t size)
{
    size_t bytes;
    if (!ember__mul_size(n ? n : 1, size, &bytes))
        return NULL;
    return calloc(1, bytes);
}

/* Smallest power of two >= 2n (at least 2), or 0 on overflow. */
static size_t table_size(int64_t n)
{
    size_t want = (size_t)n, c = 2;
    while (c / 2 < want) {
        if (c > SIZE_MAX / 2)
            return 0;
        c *= 2;
    }
    return c;
}

static bool grouping_init(grouping *t, int64_t cap)
{
    size_t size = table_size(cap);
    if (!size || !(t->slot = xcalloc(size, sizeof *t->slot)) ||
        !(t->hash = xcalloc((size_t)cap, sizeof *t->hash)) ||
        !(t->str = xcalloc((size_t)cap, sizeof *t->str)) ||
        !(t->len = xcalloc((size_t)cap, sizeof *t->len)))
        return false;
    memset(t->slot, 0xff, size * sizeof *t->slot); /* all -1 */
    t->mask = size - 1;
    return true;
}

static void grouping_free(grouping *t)
{
    free(t->slot);
    free(t->hash);
    free(t->str);
    free(t->len);
}

/* Group id of s[0..len), a new one if unseen. Room is guaranteed by init. */
static int64_t grouping_id(grouping *t, const char *s, size_t len)
{
    uint64_t h = ember__fnv1a64(s, len);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        int64_t g = t->slot[i];
        if (g < 0) {
            g = t->n++;
            t->slot[i] = g;
            t->hash[g] = h;
            t->str[g] = s;
            t->len[g] = len;
            return g;
        }
        if (t->hash[g] == h && t->len[g] == len && !memcmp(t->str[g], s, len))
            return g;
    }
}

static bool gstats_init(gstats *st, int64_t G, bool distinct)
{
    for (int s = 0; s < 2; s++)
        if (!(st->count[s] = xcalloc((size_t)G, sizeof *st->count[s])) ||
            !(st->cls[s] = xcalloc((size_t)G, sizeof *st->cls[s])) ||
            !(st->multi[s] = xcalloc((size_t)G, 1)) ||
            (distinct && !(st->distinct[s] = xcalloc((size_t)G, sizeof *st->distinct[s]))))
            return false;
    return true;
}

static void gstats_free(gstats *st)
{
    for (int s = 0; s < 2; s++) {
        free(st->count[s]);
        free(st->cls[s]);
        free(st->multi[s]);
        free(st->distinct[s]);
    }
}

static bool triples_init(triples *t, int64_t cap)
{
    size_t size = table_size(cap);
    if (!size || !(t->g = xcalloc(size, sizeof *t->g)) || !(t->c = xcalloc(size, sizeof *t->c)))
        return false;
    memset(t->g, 0xff, size * sizeof *t->g);
    t->mask = size - 1;
    return true;
}

static void triples_free(triples *t)
{
    free(t->g);
    free(t->c);
}

/* Insert (split, g, c) unless present (add), or only look it up. Returns
 * 1 if it was already there. */
static int triples_probe(triples *t, int split, int64_t g, int32_t c, bool add)
{
    int64_t key = g * 2 + split;
    uint64_t h = ember__mix64(ember__mix64((uint64_t)key) + (uint64_t)(uint32_t)c);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        if (t->g[i] < 0) {
            if (add) {
                t->g[i] = key;
                t->c[i] = c;
            }
            return 0;
        }
        if (t->g[i] == key && t->c[i] == c)
            return 1;
    }
}

/* ------------------------------------------------------------ step 1 */

static int split_of(const ctx *c, int64_t i) { return i >= c->n[0]; }
static int64_t local(const ctx *c, int64_t i) { return i >= c->n[0] ? i - c->n[0] : i; }
static const char *text_of(const ctx *c, int64_t i)
{
    return ember_text_dataset_text(c->d[split_of(c, i)], local(c, i));
}

static const char *split_name(int s) { return s ? "test" : "train"; }

/* The classes of both splits, by name, and each example's class. Classes
 * that are nobody's first label (fastText's later labels) are left out. */
static ember_status classes(ctx *c)
{
    ember_status st = EMBER_OK;
    int64_t total = 0;
    for (int s = 0; s < 2; s++)
        total += c->d[s] ? ember__text_dataset_class_count(c->d[s]) : 0;
    const char **names = xcalloc((size_t)total, sizeof *names);
    int64_t *map[2] = {NULL, NULL}, *count = NULL, *renum = NULL;
    ember__labels all = {0};
    if (!names)
        goto nomem;
    int64_t k = 0;
    for (int s = 0; s < 2; s++)
        for (int32_t j = 0; c->d[s] && j < ember__text_dataset_class_count(c->d[s]); j++)
            names[k++] = ember__text_dataset_class_name(c->d[s], j);
    if ((st = ember__labels_build(&all, names, total, c->err)))
        goto done;
    for (int s = 0; s < 2; s++) {
        int32_t K = c->d[s] ? ember__text_dataset_class_count(c->d[s]) : 0;
        if (!(map[s] = xcalloc((size_t)K, sizeof *map[s])))
            goto nomem;
        for (int32_t j = 0; j < K; j++)
            map[s][j] = ember__labels_find(&all, ember__text_dataset_class_name(c->d[s], j));
    }
    if (!(count = xcalloc((size_t)all.K * 2, sizeof *count)) ||
        !(renum = xcalloc((size_t)all.K, sizeof *renum)))
        goto nomem;
    for (int64_t i = 0; i < c->N; i++) {
        int s = split_of(c, i);
        const ember_text_dataset *d = c->d[s];
        int64_t li = local(c, i);
        if (d->label_start[li + 1] == d->label_start[li]) {
            char where[512];
            st = EMBER_FAIL(c->err, EMBER_ERR_FORMAT,
                            "%s: %s: no label; data check needs a class for every example",
                            split_name(s), ember_text_dataset_where(d, li, where, sizeof where));
            goto done;
        }
        int64_t u = map[s][d->label_ids[d->label_start[li]]];
        c->cls[i] = (int32_t)u;
        count[u * 2 + s]++;
    }
    /* keep the classes that have examples, still by name */
    ember_data_report *r = c->r;
    for (int64_t u = 0; u < all.K; u++)
        renum[u] = count[u * 2] + count[u * 2 + 1] ? r->nclasses++ : -1;
    if (!(r->classes = xcalloc((size_t)r->nclasses, sizeof *r->classes)))
        goto nomem;
    for (int64_t u = 0; u < all.K; u++) {
        if (renum[u] < 0)
            continue;
        ember_data_class *dc = &r->classes[renum[u]];
        if (!(dc->name = dup(all.pool + all.off[u])))
            goto nomem;
        dc->count[0] = count[u * 2];
        dc->count[1] = count[u * 2 + 1];
    }
    for (int64_t i = 0; i < c->N; i++)
        c->cls[i] = (int32_t)renum[c->cls[i]];
    goto done;
nomem:
    st = EMBER_FAIL(c->err, EMBER_ERR_NOMEM, "data check: out of memory (%lld classes)",
                    (long long)total);
done:
    free(names);
    free(map[0]);
    free(map[1]);
    free(count);
    free(renum);
    ember__labels_free(&all);
    return st;
}

/* The options of the key: NFKC and case folding only, words only. */
static ember_text_options key_options(void)
{
    ember_text_options o = ember_text_options_default();
    o.nfkc = 1;
    o.casefold = 1;
    o.strip_html = 0;
    o.replace_urls = 0;
    o.replace_emails = 0;
    o.replace_numbers = 0;
    o.strip_email_headers = 0;
    o.keep_punctuation = 0;
    return o;
}

/* Keys, token counts and character counts of every example. */
static ember_status measure(ctx *c)
{
    ember__text_scratch s = {0};
    const ember_text_options dflt = ember_text_options_default(), ko = key_options();
    ember_status st = EMBER_OK;
    int64_t i = 0;
    for (; i < c->N; i++) {
        const char *t = text_of(c, i), *out;
        size_t len;
        int64_t chars = 0;
        for (const unsigned char *p = (const unsigned char *)t; *p; p++)
            chars += (*p & 0xC0) != 0x80; /* texts are valid UTF-8 */
        c->chars[i] = chars;
        if ((st = ember__text_clean(&s, &dflt, t, &out, &len, c->err)) ||
            (st = ember__text_tokenize(&s, &dflt, out, len, c->err)))
            break;
        c->tokens[i] = (int64_t)s.ntok;
        if ((st = ember__text_clean(&s, &ko, t, &out, &len, c->err)) ||
            (st = ember__text_tokenize(&s, &ko, out, len, c->err)))
            break;
        c->key_off[i] = c->keys.n;
        for (size_t k = 0; k < s.ntok && !st; k++) {
            const ember__text_token *tok = &s.tok[k];
            if (tok->kind == EMBER__TOK_SYMBOL)
                continue;
            bool sep = c->keys.n > c->key_off[i];
            if (!ember__bytes_reserve(&c->keys, (size_t)tok->len + 1)) {
                st = EMBER_FAIL(c->err, EMBER_ERR_NOMEM, "out of memory (keys of %lld "
                                "examples)", (long long)c->N);
                break;
            }
            if (sep)
                c->keys.d[c->keys.n++] = ' ';
            memcpy(c->keys.d + c->keys.n, s.words + tok->off, tok->len);
            c->keys.n += tok->len;
        }
        if (st)
            break;
        c->key_len[i] = c->keys.n - c->key_off[i];
    }
    ember__text_scratch_free(&s);
    if (st) {
        char where[512];
        ember__error_prefix(c->err, "data check: %s: %s", split_name(split_of(c, i)),
                            ember_text_dataset_where(c->d[split_of(c, i)], local(c, i), where,
                                                     sizeof where));
    }
    return st;
}

/* ------------------------------------------------------- steps 2 and 3 */

static ember_status group(ctx *c)
{
    for (int64_t i = 0; i < c->N; i++) {
        const char *t = text_of(c, i);
        c->eg[i] = grouping_id(&c->ex, t, strlen(t));
        /* keys.d is complete now, so pointers into it stay valid */
        c->ng[i] = c->key_len[i] ? grouping_id(&c->nr, c->keys.d + c->key_off[i], c->key_len[i])
                                 : -1;
    }
    if (!gstats_init(&c->es, c->ex.n, false) || !gstats_init(&c->ns, c->nr.n, true))
        return EMBER_FAIL(c->err, EMBER_ERR_NOMEM, "data check: out of memory (%lld groups)",
                          (long long)c->ex.n);
    for (int64_t i = 0; i < c->N; i++) {
        int s = split_of(c, i);
        for (int k = 0; k < 2; k++) {
            gstats *st = k ? &c->ns : &c->es;
            int64_t g = k ? c->ng[i] : c->eg[i];
            if (g < 0)
                continue;
            if (st->count[s][g]++ == 0)
                st->cls[s][g] = c->cls[i];
            else if (st->cls[s][g] != c->cls[i])
                st->multi[s][g] = 1;
        }
        /* the first example of an exact text in its split adds a distinct
         * text to its near group */
        c->first_text[i] = c->es.count[s][c->eg[i]] == 1;
        if (c->first_text[i] && c->ng[i] >= 0)
            c->ns.distinct[s][c->ng[i]]++;
        triples_probe(&c->et, s, c->eg[i], c->cls[i], true);
        c->first_cls[i] = c->ng[i] >= 0 && !triples_probe(&c->nt, s, c->ng[i], c->cls[i], true);
    }
    return EMBER_OK;
}

/* ------------------------------------------------------------ step 4 */

enum kind { K_EMPTY, K_EXACT, K_NEAR, K_CONFLICT, K_LEAK_EXACT, K_LEAK_NEAR, K_CROSS };

/* One finding being built: which grouping, which split (within-split kinds). */
typedef struct sel {
    enum kind kind;
    int split;
    const int64_t *grp; /* [N] group of each example; NULL: each example its own */
    const gstats *st;
    bool showing;       /* choosing the groups to show rather than counting */
} sel;

static bool cross(const sel *q) { return q->kind >= K_LEAK_EXACT; }

/* Whether group g (an example for K_EMPTY) belongs to the finding. */
static bool want(const ctx *c, const sel *q, int64_t g)
{
    const gstats *st = q->st;
    int s = q->split;
    switch (q->kind) {
    case K_EMPTY: return c->key_len[g] == 0;
    case K_EXACT: return st->count[s][g] >= 2;
    case K_NEAR: /* shown: only groups of 2+ different texts (exact ones are shown as such) */
        return st->count[s][g] >= 2 && (!q->showing || st->distinct[s][g] >= 2);
    case K_CONFLICT: return st->multi[s][g];
    case K_LEAK_EXACT:
    case K_LEAK_NEAR: return st->count[0][g] && st->count[1][g];
    case K_CROSS:
        return st->count[0][g] && st->count[1][g] &&
               (st->multi[0][g] || st->multi[1][g] || st->cls[0][g] != st->cls[1][g]);
    }
    return false;
}

/* Whether example i is shown among its group's examples. */
static bool member(const ctx *c, const sel *q, int64_t i)
{
    switch (q->kind) {
    case K_NEAR:
    case K_LEAK_NEAR: return c->first_text[i];   /* one example per distinct text */
    case K_CONFLICT:
    case K_CROSS: return c->first_cls[i];        /* one example per class */
    default: return true;
    }
}

/* The group of example i, or -1. */
static int64_t group_of(const sel *q, int64_t i) { return q->grp ? q->grp[i] : i; }

static ember_status example_fill(ctx *c, ember_data_example *e, int64_t i)
{
    char where[1024];
    int s = split_of(c, i);
    const char *t = text_of(c, i);
    size_t len = strlen(t), cut = len;
    if (len > EMBER_DATA_CHECK_TEXT_MAX) {
        cut = EMBER_DATA_CHECK_TEXT_MAX - 3;
        while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80)
            cut--; /* not inside a character */
    }
    e->split = s;
    e->index = local(c, i);
    e->label = c->r->classes[c->cls[i]].name;
    e->where = dup(ember_text_dataset_where(c->d[s], e->index, where, sizeof where));
    e->text = malloc(cut + 4);
    if (!e->where || !e->text)
        return EMBER_FAIL(c->err, EMBER_ERR_NOMEM, "data check: out of memory");
    memcpy(e->text, t, cut);
    strcpy(e->text + cut, cut < len ? "..." : "");
    return EMBER_OK;
}

/* Fill f->shown: the first c->max groups wanted, by their first example in
 * the split the finding starts from, then their members. */
static ember_status show(ctx *c, ember_data_finding *f, const sel *query)
{
    sel qs = *query;
    const sel *q = &qs;
    qs.showing = true;
    if (c->max == 0)
        return EMBER_OK;
    int from = cross(q) ? EMBER_DATA_TEST : q->split;
    int64_t lo = from ? c->n[0] : 0, hi = from ? c->N : c->n[0];
    int *taken = NULL; /* [max] examples taken per shown group in the split being scanned */
    if (!(f->shown = xcalloc((size_t)c->max, sizeof *f->shown)) ||
        !(taken = xcalloc((size_t)c->max, sizeof *taken)))
        goto nomem;
    for (int64_t i = lo; i < hi && f->nshown < c->max; i++) {
        int64_t g = group_of(q, i);
        if (g < 0 || c->pick[g] >= 0 || !want(c, q, g))
            continue;
        c->pick[g] = f->nshown;
        ember_data_group *grp = &f->shown[f->nshown++];
        if (q->kind == K_EMPTY)
            grp->count[from] = 1;
        else
            for (int s = 0; s < 2; s++)
                grp->count[s] = q->st->count[s][g];
        size_t room = cross(q) ? 2 * (size_t)c->max : (size_t)c->max;
        if (!(grp->shown = xcalloc(room, sizeof *grp->shown)))
            goto nomem;
    }
    ember_status st = EMBER_OK;
    for (int s = 0; s < 2 && !st; s++) {
        if (!cross(q) && s != q->split)
            continue;
        lo = s ? c->n[0] : 0;
        hi = s ? c->N : c->n[0];
        memset(taken, 0, (size_t)c->max * sizeof *taken);
        for (int64_t i = lo; i < hi && !st; i++) {
            int64_t g = group_of(q, i);
            if (g < 0 || c->pick[g] < 0 || !member(c, q, i))
                continue;
            ember_data_group *grp = &f->shown[c->pick[g]];
            if (taken[c->pick[g]] < c->max) {
                taken[c->pick[g]]++;
                st = example_fill(c, &grp->shown[grp->nshown++], i);
            }
        }
    }
    /* unmark: the picked groups are the first examples' groups again */
    for (int64_t i = 0; i < c->N; i++) {
        int64_t g = group_of(q, i);
        if (g >= 0)
            c->pick[g] = -1;
    }
    free(taken);
    return st;
nomem:
    free(taken);
    return EMBER_FAIL(c->err, EMBER_ERR_NOMEM, "data check: out of memory");
}

/* Count a finding (every group once, so O(groups)) and show its first groups. */
static ember_status finding(ctx *c, ember_data_finding *f, enum kind kind, int split)
{
    bool near = kind == K_NEAR || kind == K_CONFLICT || kind == K_LEAK_NEAR || kind == K_CROSS;
    sel q = {kind, split, near ? c->ng : c->eg, near ? &c->ns : &c->es, false};
    if (kind == K_EMPTY) {
        q.grp = NULL;
        for (int64_t i = split ? c->n[0] : 0; i < (split ? c->N : c->n[0]); i++)
            f->groups += c->key_len[i] == 0;
        f->examples = f->groups;
        return show(c, f, &q);
    }
    int64_t G = near ? c->nr.n : c->ex.n;
    for (int64_t g = 0; g < G; g++) {
        if (!want(c, &q, g))
            continue;
        f->groups++;
        f->examples += kind == K_CROSS ? q.st->count[0][g] + q.st->count[1][g]
                       : cross(&q)     ? q.st->count[1][g]
                                       : q.st->count[split][g];
        if (kind == K_NEAR && q.st->distinct[split][g] >= 2)
            c->r->split[split].near_only_redundant += q.st->distinct[split][g] - 1;
    }
    if (kind == K_EXACT || kind == K_NEAR)
        f->redundant = f->examples - f->groups;
    if (kind == K_LEAK_EXACT || kind == K_LEAK_NEAR) {
        /* a leaked test example keeps its class if a training copy has it */
        triples *t = near ? &c->nt : &c->et;
        for (int64_t i = c->n[0]; i < c->N; i++) {
            int64_t g = q.grp[i];
            if (g < 0 || !q.st->count[0][g])
                continue;
            if (triples_probe(t, EMBER_DATA_TRAIN, g, c->cls[i], false))
                f->same_label++;
            else
                f->different_label++;
        }
    }
    return show(c, f, &q);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double median_sorted(const int64_t *v, int64_t n)
{
    if (n == 0)
        return 0;
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

/* Lengths of examples [lo, hi) from v[N], sorted in the scratch tmp. */
static void lengths(ember_data_lengths *L, const int64_t *v, int64_t lo, int64_t hi, int64_t *tmp)
{
    int64_t n = hi - lo;
    memset(L, 0, sizeof *L);
    if (n == 0)
        return;
    memcpy(tmp, v + lo, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_i64);
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)tmp[i];
    L->min = tmp[0];
    L->max = tmp[n - 1];
    L->mean = sum / (double)n;
    L->median = median_sorted(tmp, n);
    L->p95 = tmp[n - n / 20 - 1]; /* the ceil(0.95 n)-th smallest: ceil(0.95n) = n - floor(n/20) */
}

/* by_count order: count ascending, then name (classes are sorted by name). */
typedef struct by_count_key {
    int64_t count, index;
} by_count_key;

static int cmp_by_count(const void *a, const void *b)
{
    const by_count_key *x = a, *y = b;
    if (x->count != y->count)
        return (x->count > y->count) - (x->count < y->count);
    return (x->index > y->index) - (x->index < y->index);
}

static ember_status balance(ctx *c, int s)
{
    ember_data_report *r = c->r;
    ember_data_split_report *sr = &r->split[s];
    by_count_key *keys = xcalloc((size_t)r->nclasses, sizeof *keys);
    int64_t *counts = xcalloc((size_t)r->nclasses, sizeof *counts);
    if (!keys || !counts || !(sr->by_count = xcalloc((size_t)r->nclasses, sizeof *sr->by_count))) {
        free(keys);
        free(counts);
        return EMBER_FAIL(c->err, EMBER_ERR_NOMEM, "data check: out of memory");
    }
    for (int64_t k = 0; k < r->nclasses; k++) {
        const ember_data_class *dc = &r->classes[k];
        if (!dc->count[s])
            continue;
        keys[sr->classes].count = dc->count[s];
        keys[sr->classes].index = k;
        counts[sr->classes++] = dc->count[s];
        sr->only_here += r->has_test && !dc->count[1 - s];
    }
    qsort(keys, (size_t)sr->classes, sizeof *keys, cmp_by_count);
    qsort(counts, (size_t)sr->classes, sizeof *counts, cmp_i64);
    for (int64_t k = 0; k < sr->classes; k++)
        sr->by_count[k] = keys[k].index;
    if (sr->classes) {
        sr->count_min = counts[0];
        sr->count_max = counts[sr->classes - 1];
        sr->count_median = median_sorted(counts, sr->classes);
        sr->imbalance = (double)sr->count_max / (double)sr->count_min;
    }
    free(keys);
    free(counts);
    return EMBER_OK;
}

/* ------------------------------------------------------------- report */

static void finding_free(ember_data_finding *f)
{
    for (int k = 0; f->shown && k < f->nshown; k++) {
        for (int j = 0; j < f->shown[k].nshown; j++) {
            free(f->shown[k].shown[j].where);
            free(f->shown[k].shown[j].text);
        }
        free(f->shown[k].shown);
    }
    free(f->shown);
}

void ember_data_report_destroy(ember_data_report *r)
{
    if (!r)
        return;
    for (int64_t k = 0; r->classes && k < r->nclasses; k++)
        free(r->classes[k].name);
    free(r->classes);
    for (int s = 0; s < 2; s++) {
        ember_data_split_report *sr = &r->split[s];
        free(sr->by_count);
        finding_free(&sr->empty);
        finding_free(&sr->exact_duplicates);
        finding_free(&sr->near_duplicates);
        finding_free(&sr->label_conflicts);
    }
    finding_free(&r->leak_exact);
    finding_free(&r->leak_near);
    finding_free(&r->conflicts_across);
    free(r);
}

static void ctx_free(ctx *c)
{
    free(c->cls);
    free(c->eg);
    free(c->ng);
    free(c->first_text);
    free(c->first_cls);
    free(c->key_off);
    free(c->key_len);
    free(c->tokens);
    free(c->chars);
    free(c->pick);
    ember__bytes_free(&c->keys);
    grouping_free(&c->ex);
    grouping_free(&c->nr);
    gstats_free(&c->es);
    gstats_free(&c->ns);
    triples_free(&c->et);
    triples_free(&c->nt);
}

ember_status ember_data_report_create(ember_data_report **out, const ember_text_dataset *train,
                                      const ember_text_dataset *test,
                                      const ember_data_check_options *opt, ember_error *err)
{
    if (!out || !train)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_data_report_create: %s is NULL",
                          !out ? "out" : "train");
    ember_data_check_options o = opt ? *opt : ember_data_check_options_default();
    if (o.max_examples < 0 || o.max_examples > EMBER_DATA_CHECK_MAX_EXAMPLES)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "data check: max_examples is %d, expected 0..%d",
                          o.max_examples, EMBER_DATA_CHECK_MAX_EXAMPLES);
    ctx c = {0};
    c.d[0] = train;
    c.d[1] = test;
    c.n[0] = ember_text_dataset_size(train);
    c.n[1] = ember_text_dataset_size(test);
    c.N = c.n[0] + c.n[1];
    c.max = o.max_examples;
    c.err = err;
    ember_status st = EMBER_OK;
    size_t N = (size_t)c.N;
    if (!(c.r = calloc(1, sizeof *c.r)) || !(c.cls = xcalloc(N, sizeof *c.cls)) ||
        !(c.eg = xcalloc(N, sizeof *c.eg)) || !(c.ng = xcalloc(N, sizeof *c.ng)) ||
        !(c.first_text = xcalloc(N, 1)) || !(c.first_cls = xcalloc(N, 1)) ||
        !(c.key_off = xcalloc(N, sizeof *c.key_off)) ||
        !(c.key_len = xcalloc(N, sizeof *c.key_len)) ||
        !(c.tokens = xcalloc(N, sizeof *c.tokens)) || !(c.chars = xcalloc(N, sizeof *c.chars)) ||
        !(c.pick = xcalloc(N, sizeof *c.pick)) || !grouping_init(&c.ex, c.N) ||
        !grouping_init(&c.nr, c.N) || !triples_init(&c.et, c.N) || !triples_init(&c.nt, c.N)) {
        st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "data check: out of memory (%lld examples)",
                        (long long)c.N);
        goto done;
    }
    memset(c.pick, 0xff, N * sizeof *c.pick);
    ember_data_report *r = c.r;
    r->has_test = test != NULL;
    if ((st = classes(&c)) || (st = measure(&c)) || (st = group(&c)))
        goto done;
    for (int s = 0; s < 1 + r->has_test && !st; s++) {
        ember_data_split_report *sr = &r->split[s];
        int64_t lo = s ? c.n[0] : 0, hi = s ? c.N : c.n[0];
        sr->examples = c.n[s];
        lengths(&sr->tokens, c.tokens, lo, hi, c.pick);
        lengths(&sr->chars, c.chars, lo, hi, c.pick);
        memset(c.pick, 0xff, N * sizeof *c.pick);
        if ((st = balance(&c, s)) || (st = finding(&c, &sr->empty, K_EMPTY, s)) ||
            (st = finding(&c, &sr->exact_duplicates, K_EXACT, s)) ||
            (st = finding(&c, &sr->near_duplicates, K_NEAR, s)) ||
            (st = finding(&c, &sr->label_conflicts, K_CONFLICT, s)))
            break;
    }
    if (!st && r->has_test &&
        ((st = finding(&c, &r->leak_exact, K_LEAK_EXACT, 0)) ||
         (st = finding(&c, &r->leak_near, K_LEAK_NEAR, 0)) ||
         (st = finding(&c, &r->conflicts_across, K_CROSS, 0))))
        goto done;
done:
    if (st) {
        ember_data_report_destroy(c.r);
        c.r = NULL;
    }
    if (!st)
        *out = c.r;
    ctx_free(&c);
    return st;
}
