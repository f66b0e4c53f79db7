/*
 * test_data_check.c - ember_data_report_create and _to_json on small data
 * sets made in memory, where every count is known by construction: exact
 * duplicates, near duplicates that differ only in case, punctuation,
 * whitespace or NFKC form (full-width letters, a decomposed accent), an
 * emoji, label conflicts within and across splits, leakage with the same
 * and a different label, examples empty after normalisation, classes in one
 * split only; lengths (median, mean, nearest-rank p95) on hand-counted
 * texts; which examples are shown and the text cut; a large generated set
 * (the hash tables at scale); and bad input (NULL, no labels, bad options).
 */
#include "ember.h"

#include "check.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lengths are exact ratios of small integers; doubles hold them to ~1e-15. */
#define MEAN_TOL 1e-12

static ember_text_dataset *make(int64_t n, const char *const *t, const char *const *l)
{
    ember_error err;
    ember_text_dataset *d = NULL;
    CHECK_OK(ember_text_dataset_create(&d, n, t, l, &err), &err);
    return d;
}

static void check_finding(const ember_data_finding *f, int64_t groups, int64_t examples,
                          int64_t redundant, const char *what)
{
    CHECK_MSG(f->groups == groups, "%s: groups %lld, want %lld", what, (long long)f->groups,
              (long long)groups);
    CHECK_MSG(f->examples == examples, "%s: examples %lld, want %lld", what,
              (long long)f->examples, (long long)examples);
    CHECK_MSG(f->redundant == redundant, "%s: redundant %lld, want %lld", what,
              (long long)f->redundant, (long long)redundant);
}

/* The shown group k of f holds exactly these examples (split, index), in order. */
static void check_shown(const ember_data_finding *f, int k, int n, const int *split,
                        const int64_t *index, const char *what)
{
    CHECK_MSG(k < f->nshown, "%s: group %d not shown (%d shown)", what, k, f->nshown);
    if (k >= f->nshown)
        return;
    const ember_data_group *g = &f->shown[k];
    CHECK_MSG(g->nshown == n, "%s: group %d shows %d examples, want %d", what, k, g->nshown, n);
    for (int j = 0; j < n && j < g->nshown; j++)
        CHECK_MSG(g->shown[j].split == split[j] && g->shown[j].index == index[j],
                  "%s: group %d example %d is %s %lld, want %s %lld", what, k, j,
                  g->shown[j].split ? "test" : "train", (long long)g->shown[j].index,
                  split[j] ? "test" : "train", (long long)index[j]);
}

static void test_findings(void)
{
    /* train: every finding; comments give each example's normalised key */
    const char *tt[] = {
        "Hello world",                                   /* 0 "hello world" */
        "Hello world",                                   /* 1 exact copy of 0 */
        "hello, WORLD!",                                 /* 2 case + punctuation */
        "\xEF\xBC\xA8\xEF\xBD\x85\xEF\xBD\x8C\xEF\xBD\x8C\xEF\xBD\x8F   world", /* 3 Ｈｅｌｌｏ, spaces */
        "Good morning",                                  /* 4 "good morning" */
        "good morning.",                                 /* 5 same key, class c: conflict */
        "!!! ...",                                       /* 6 empty */
        "!!! ...",                                       /* 7 empty, exact copy of 6 */
        "See you",                                       /* 8 "see you" */
        "Thanks \xF0\x9F\x91\x8D",                       /* 9 "thanks" (emoji dropped) */
        "caf\xC3\xA9",                                   /* 10 "café", composed */
        "cafe\xCC\x81",                                  /* 11 decomposed: NFKC composes */
        "unique train",                                  /* 12 */
    };
    const char *tl[] = {"a", "a", "a", "a", "b", "c", "b", "b", "b", "d", "a", "a", "b"};
    const char *st[] = {
        "hello world",   /* 0 near leak, same class */
        "Hello world",   /* 1 exact leak, same class */
        "See you",       /* 2 exact leak, class e (train has b): different */
        "good morning",  /* 3 near leak; train has b and c, so same */
        "Brand new",     /* 4 */
        "brand new",     /* 5 conflict with 4 (e vs f) */
        "Thanks",        /* 6 near leak of train 9, same class */
        "???",           /* 7 empty */
        "CAF\xC3\x89!",  /* 8 "café" near leak, class b vs train a: different */
    };
    const char *sl[] = {"a", "a", "e", "b", "e", "f", "d", "e", "b"};
    ember_text_dataset *train = make(13, tt, tl), *test = make(9, st, sl);
    ember_error err;
    ember_data_report *r = NULL;
    CHECK_OK(ember_data_report_create(&r, train, test, NULL, &err), &err);
    if (!r)
        goto done;
    const ember_data_split_report *tr = &r->split[0], *te = &r->split[1];

    /* classes: a b c d e f, by name */
    CHECK(r->has_test == 1);
    CHECK(r->nclasses == 6);
    static const char *names[] = {"a", "b", "c", "d", "e", "f"};
    static const int64_t ctrain[] = {6, 5, 1, 1, 0, 0}, ctest[] = {2, 2, 0, 1, 3, 1};
    for (int k = 0; k < 6 && r->nclasses == 6; k++) {
        CHECK_MSG(!strcmp(r->classes[k].name, names[k]), "class %d is %s", k, r->classes[k].name);
        CHECK(r->classes[k].count[0] == ctrain[k] && r->classes[k].count[1] == ctest[k]);
    }
    CHECK(tr->examples == 13 && te->examples == 9);
    CHECK(tr->classes == 4 && te->classes == 5);
    /* train counts 6 5 1 1: min 1, median (1 + 5) / 2, max 6 */
    CHECK(tr->count_min == 1 && tr->count_max == 6 && tr->count_median == 3.0);
    CHECK(tr->imbalance == 6.0);
    static const int64_t by_train[] = {2, 3, 1, 0}, by_test[] = {3, 5, 0, 1, 4};
    for (int k = 0; k < 4; k++)
        CHECK_MSG(tr->by_count[k] == by_train[k], "train by_count[%d] = %lld", k,
                  (long long)tr->by_count[k]);
    for (int k = 0; k < 5; k++)
        CHECK_MSG(te->by_count[k] == by_test[k], "test by_count[%d] = %lld", k,
                  (long long)te->by_count[k]);
    CHECK(te->count_min == 1 && te->count_max == 3 && te->count_median == 2.0);
    CHECK(te->imbalance == 3.0);
    CHECK(tr->only_here == 1); /* c */
    CHECK(te->only_here == 2); /* e, f */

    /* within train */
    check_finding(&tr->empty, 2, 2, 0, "train empty");
    check_finding(&tr->exact_duplicates, 2, 4, 2, "train exact");
    check_finding(&tr->near_duplicates, 3, 8, 5, "train near");
    CHECK_MSG(tr->near_only_redundant == 4, "train near only %lld",
              (long long)tr->near_only_redundant);
    check_finding(&tr->label_conflicts, 1, 2, 0, "train conflicts");
    /* within test */
    check_finding(&te->empty, 1, 1, 0, "test empty");
    check_finding(&te->exact_duplicates, 0, 0, 0, "test exact");
    check_finding(&te->near_duplicates, 2, 4, 2, "test near");
    CHECK(te->near_only_redundant == 2);
    check_finding(&te->label_conflicts, 1, 2, 0, "test conflicts");
    /* across */
    check_finding(&r->leak_exact, 2, 2, 0, "leak exact");
    CHECK(r->leak_exact.same_label == 1 && r->leak_exact.different_label == 1);
    check_finding(&r->leak_near, 5, 6, 0, "leak near");
    CHECK_MSG(r->leak_near.same_label == 4 && r->leak_near.different_label == 2,
              "leak near same %lld different %lld", (long long)r->leak_near.same_label,
              (long long)r->leak_near.different_label);
    check_finding(&r->conflicts_across, 3, 8, 0, "conflicts across");

    /* what is shown (max_examples 3): groups by first example, members as defined */
    {
        int s0[] = {0, 0, 0}, s01[] = {0, 1};
        int64_t dup0[] = {0, 1}, dup1[] = {6, 7};
        CHECK(tr->exact_duplicates.nshown == 2);
        check_shown(&tr->exact_duplicates, 0, 2, s0, dup0, "train exact");
        check_shown(&tr->exact_duplicates, 1, 2, s0, dup1, "train exact");
        /* near: one example per distinct text; "Hello world" once */
        int64_t n0[] = {0, 2, 3}, n1[] = {4, 5}, n2[] = {10, 11};
        CHECK(tr->near_duplicates.nshown == 3);
        check_shown(&tr->near_duplicates, 0, 3, s0, n0, "train near");
        check_shown(&tr->near_duplicates, 1, 2, s0, n1, "train near");
        check_shown(&tr->near_duplicates, 2, 2, s0, n2, "train near");
        CHECK(tr->near_duplicates.shown[0].count[0] == 4);
        /* across: "see you", "good morning", "café" in test order; one per class */
        int64_t c0[] = {8, 2}, c2[] = {10, 8};
        int64_t c1[] = {4, 5, 3};
        int s001[] = {0, 0, 1};
        CHECK(r->conflicts_across.nshown == 3);
        check_shown(&r->conflicts_across, 0, 2, s01, c0, "across");
        check_shown(&r->conflicts_across, 1, 3, s001, c1, "across");
        check_shown(&r->conflicts_across, 2, 2, s01, c2, "across");
        if (r->conflicts_across.nshown == 3 && r->conflicts_across.shown[2].nshown == 2) {
            const ember_data_example *e = &r->conflicts_across.shown[2].shown[1];
            CHECK(!strcmp(e->where, "example 8") && !strcmp(e->label, "b"));
            CHECK(!strcmp(e->text, "CAF\xC3\x89!"));
        }
        int64_t e0[] = {6}, e1[] = {7};
        check_shown(&tr->empty, 0, 1, s0, e0, "train empty");
        check_shown(&tr->empty, 1, 1, s0, e1, "train empty");
    }

    /* JSON: a few fields */
    char *json = NULL;
    CHECK_OK(ember_data_report_to_json(r, &json, &err), &err);
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    CHECK(j != NULL);
    if (j) {
        cJSON *trj = cJSON_GetObjectItem(j, "train");
        cJSON *ex = cJSON_GetObjectItem(trj, "exact_duplicates");
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(ex, "redundant")) == 2);
        cJSON *ln = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "leakage"), "normalised");
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(ln, "different_label")) == 2);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "classes")) == 6);
        cJSON *only = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "test"), "only_here");
        CHECK(cJSON_GetArraySize(only) == 2 &&
              !strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(only, 1)), "f"));
        cJSON *sm = cJSON_GetArrayItem(cJSON_GetObjectItem(trj, "smallest"), 0);
        CHECK(sm && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(sm, "name")), "c"));
        cJSON_Delete(j);
    }
    free(json);
    ember_data_report_destroy(r);

    /* max_examples 1: one group, one example per split; counts unchanged */
    ember_data_check_options o = ember_data_check_options_default();
    CHECK(o.max_examples == 3);
    o.max_examples = 1;
    r = NULL;
    CHECK_OK(ember_data_report_create(&r, train, test, &o, &err), &err);
    if (r) {
        CHECK(r->conflicts_across.nshown == 1 && r->conflicts_across.shown[0].nshown == 2);
        CHECK(r->split[0].near_duplicates.nshown == 1 &&
              r->split[0].near_duplicates.shown[0].nshown == 1);
        check_finding(&r->conflicts_across, 3, 8, 0, "across, max 1");
    }
    ember_data_report_destroy(r);
    o.max_examples = 0;
    r = NULL;
    CHECK_OK(ember_data_report_create(&r, train, test, &o, &err), &err);
    if (r)
        CHECK(r->leak_near.nshown == 0 && r->leak_near.groups == 5);
    ember_data_report_destroy(r);

    /* train only: no cross findings, test is null in JSON */
    r = NULL;
    CHECK_OK(ember_data_report_create(&r, train, NULL, NULL, &err), &err);
    if (r) {
        CHECK(r->has_test == 0 && r->nclasses == 4 && r->split[1].examples == 0);
        CHECK(r->split[0].only_here == 0 && r->leak_exact.groups == 0);
        check_finding(&r->split[0].near_duplicates, 3, 8, 5, "train alone near");
        json = NULL;
        CHECK_OK(ember_data_report_to_json(r, &json, &err), &err);
        CHECK(json && strstr(json, "\"test\":null"));
        free(json);
    }
    ember_data_report_destroy(r);
done:
    ember_text_dataset_destroy(train);
    ember_text_dataset_destroy(test);
}

static void test_lengths(void)
{
    /* default-pipeline tokens: 1 2 3 4 2 ("hi", the emoji) 2 ("see", "<url>");
     * code points: 1 3 5 7 4 18 */
    const char *t[] = {"a", "a b", "a b c", "a b c d", "hi \xF0\x9F\x91\x8D",
                       "see http://x.com/a"};
    const char *l[] = {"x", "x", "x", "y", "y", "y"};
    ember_text_dataset *d = make(6, t, l);
    ember_error err;
    ember_data_report *r = NULL;
    CHECK_OK(ember_data_report_create(&r, d, NULL, NULL, &err), &err);
    if (r) {
        const ember_data_lengths *tk = &r->split[0].tokens, *ch = &r->split[0].chars;
        CHECK(tk->min == 1 && tk->max == 4 && tk->median == 2.0 && tk->p95 == 4);
        CHECK_CLOSE(tk->mean, 14.0 / 6.0, MEAN_TOL, 0);
        CHECK(ch->min == 1 && ch->max == 18 && ch->median == 4.5 && ch->p95 == 18);
        CHECK_CLOSE(ch->mean, 38.0 / 6.0, MEAN_TOL, 0);
        CHECK(r->split[0].count_median == 3.0 && r->split[0].imbalance == 1.0);
        CHECK(r->split[0].empty.groups == 0);
    }
    ember_data_report_destroy(r);
    ember_text_dataset_destroy(d);

    /* nearest rank: texts of 1..40 words; p95 = the 38th smallest = 38 (a
     * linear interpolation would give 38.05) */
    enum { N = 40 };
    char *texts[N];
    const char *labels[N];
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(2 * (size_t)(i + 1) + 1);
        for (int w = 0; w <= i; w++)
            memcpy(texts[i] + 2 * w, "w ", 2);
        texts[i][2 * i + 1] = '\0';
        labels[i] = i < 10 ? "small" : "big";
    }
    d = make(N, (const char *const *)texts, labels);
    r = NULL;
    CHECK_OK(ember_data_report_create(&r, d, NULL, NULL, &err), &err);
    if (r) {
        CHECK_MSG(r->split[0].tokens.p95 == 38, "p95 %lld", (long long)r->split[0].tokens.p95);
        CHECK(r->split[0].tokens.median == 20.5 && r->split[0].chars.max == 79);
        CHECK(r->split[0].imbalance == 3.0 && r->split[0].count_median == 20.0);
        /* "w", "w w", ...: no duplicates at all */
        CHECK(r->split[0].exact_duplicates.groups == 0 && r->split[0].near_duplicates.groups == 0);
    }
    ember_data_report_destroy(r);
    ember_text_dataset_destroy(d);
    for (int i = 0; i < N; i++)
        free(texts[i]);
}

/* A text over EMBER_DATA_CHECK_TEXT_MAX bytes is cut at a character boundary. */
static void test_cut(void)
{
    char long_text[301];
    for (int i = 0; i < 150; i++)
        memcpy(long_text + 2 * i, "\xC3\xA9", 2); /* é: 300 bytes */
    long_text[300] = '\0';
    const char *t[] = {long_text, long_text};
    const char *l[] = {"x", "x"};
    ember_text_dataset *d = make(2, t, l);
    ember_error err;
    ember_data_report *r = NULL;
    CHECK_OK(ember_data_report_create(&r, d, NULL, NULL, &err), &err);
    if (r && r->split[0].exact_duplicates.nshown == 1) {
        const char *s = r->split[0].exact_duplicates.shown[0].shown[0].text;
        size_t n = strlen(s);
        /* 197 bytes would split an é; 196 bytes + "..." */
        CHECK_MSG(n == 199 && !strcmp(s + 196, "...") && !memcmp(s, long_text, 196),
                  "cut text has %zu bytes", n);
    } else {
        CHECK(!"the long duplicate is shown");
    }
    ember_data_report_destroy(r);
    ember_text_dataset_destroy(d);
}

/* 20000 examples, 5000 texts 4 times each in train, and a test set whose odd
 * examples are train texts in upper case: the tables at a size where a
 * quadratic scan would show, and exact counts. */
static void test_large(void)
{
    enum { N = 20000, DISTINCT = 5000, M = 2000 };
    char **t = malloc(N * sizeof *t), **u = malloc(M * sizeof *u);
    const char **l = malloc(N * sizeof *l), **ul = malloc(M * sizeof *ul);
    static const char *cls[] = {"p", "q", "r", "s"};
    for (int i = 0; i < N; i++) {
        t[i] = malloc(32);
        snprintf(t[i], 32, "item number %d", i % DISTINCT);
        l[i] = cls[(i % DISTINCT) % 4];
    }
    for (int i = 0; i < M; i++) {
        u[i] = malloc(32);
        if (i % 2)
            snprintf(u[i], 32, "ITEM NUMBER %d", i);
        else
            snprintf(u[i], 32, "fresh %d", i);
        ul[i] = cls[i % 4];
    }
    ember_text_dataset *train = make(N, (const char *const *)t, l);
    ember_text_dataset *test = make(M, (const char *const *)u, ul);
    ember_error err;
    ember_data_report *r = NULL;
    CHECK_OK(ember_data_report_create(&r, train, test, NULL, &err), &err);
    if (r) {
        check_finding(&r->split[0].exact_duplicates, DISTINCT, N, N - DISTINCT, "large exact");
        check_finding(&r->split[0].near_duplicates, DISTINCT, N, N - DISTINCT, "large near");
        CHECK(r->split[0].near_only_redundant == 0 && r->split[0].label_conflicts.groups == 0);
        check_finding(&r->leak_exact, 0, 0, 0, "large leak exact");
        check_finding(&r->leak_near, M / 2, M / 2, 0, "large leak near");
        CHECK(r->leak_near.same_label == M / 2 && r->leak_near.different_label == 0);
        CHECK(r->split[0].count_min == N / 4 && r->split[0].imbalance == 1.0);
    }
    ember_data_report_destroy(r);
    ember_text_dataset_destroy(train);
    ember_text_dataset_destroy(test);
    for (int i = 0; i < N; i++)
        free(t[i]);
    for (int i = 0; i < M; i++)
        free(u[i]);
    free(t);
    free(u);
    free(l);
    free(ul);
}

static void test_bad_input(void)
{
    ember_error err;
    ember_data_report *r = (ember_data_report *)&err; /* must stay untouched on failure */
    const char *t[] = {"one", "two"};
    const char *l[] = {"a", "b"};
    ember_text_dataset *good = make(2, t, l), *unlabelled = make(2, t, NULL);
    CHECK_ERR(ember_data_report_create(&r, NULL, good, NULL, &err), EMBER_ERR_ARG, &err,
              "train is NULL");
    CHECK_ERR(ember_data_report_create(NULL, good, good, NULL, &err), EMBER_ERR_ARG, &err,
              "out is NULL");
    CHECK_ERR(ember_data_report_create(&r, unlabelled, good, NULL, &err), EMBER_ERR_FORMAT, &err,
              "train: example 0: no label");
    CHECK_ERR(ember_data_report_create(&r, good, unlabelled, NULL, &err), EMBER_ERR_FORMAT, &err,
              "test: example 0: no label");
    ember_data_check_options o = {-1};
    CHECK_ERR(ember_data_report_create(&r, good, good, &o, &err), EMBER_ERR_ARG, &err,
              "max_examples is -1");
    o.max_examples = EMBER_DATA_CHECK_MAX_EXAMPLES + 1;
    CHECK_ERR(ember_data_report_create(&r, good, good, &o, &err), EMBER_ERR_ARG, &err,
              "max_examples");
    CHECK(r == (ember_data_report *)&err);
    char *json = NULL;
    CHECK_ERR(ember_data_report_to_json(NULL, &json, &err), EMBER_ERR_ARG, &err, "report is NULL");
    CHECK(json == NULL);
    ember_data_report_destroy(NULL);
    /* an empty training set is a report of zeros, not an error */
    ember_text_dataset *none = make(0, NULL, NULL);
    r = NULL;
    CHECK_OK(ember_data_report_create(&r, none, good, NULL, &err), &err);
    if (r)
        CHECK(r->split[0].examples == 0 && r->split[0].imbalance == 0 && r->split[1].only_here == 2 &&
              r->split[0].tokens.max == 0);
    ember_data_report_destroy(r);
    ember_text_dataset_destroy(none);
    ember_text_dataset_destroy(good);
    ember_text_dataset_destroy(unlabelled);
}

int main(void)
{
    test_findings();
    test_lengths();
    test_cut();
    test_large();
    test_bad_input();
    return check_summary("data_check");
}
