/*
 * data_check.c - `ember data check TRAIN [TEST]`: a data-quality report on
 * text data before training (class balance, empty examples, exact and
 * near-exact duplicates, label conflicts, leakage from train into test,
 * lengths). The library computes it (ember_data_report_create); this file
 * loads the data as `ember train` does, and prints the report as text or as
 * the library's JSON. Findings are not errors: exit 0 whenever the check ran.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char check_usage[] =
    "usage: ember data check TRAIN [TEST] [options]\n"
    "\n"
    "A data-quality report on text data (CSV, TSV, fastText or a folder per class, read as\n"
    "ember train reads them): examples and classes per split, class balance, examples that\n"
    "are empty after normalisation, exact and near-exact duplicates within a split, label\n"
    "conflicts (the same normalised text with different labels) within and across splits,\n"
    "test texts that also occur in train (leakage, exact and normalised, same or different\n"
    "label), and lengths in tokens and characters. Normalised text: NFKC, case folding,\n"
    "punctuation and symbols removed, whitespace collapsed (docs/data-check.md).\n"
    "\n"
    "  --text-column C      CSV/TSV columns, as for train\n"
    "  --label-column C\n"
    "  --skip-bad-lines     skip (and count) malformed lines instead of stopping at the first\n"
    "  --max-examples N     groups shown per finding, and examples per group (default 3)\n"
    "  --json               the report as one JSON object (keys in docs/data-check.md)\n"
    "  --quiet              print nothing but errors\n"
    "\n"
    "Exit status: 0 the check ran (findings are not errors), 1 usage, 2 unreadable data.\n";

/* A text on one line: control characters become one space each. */
static void put_text(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static void print_lengths(const char *name, const char *unit, const ember_data_lengths *L)
{
    printf("  %-6s %-7s %7lld %8.1f %8.1f %7lld %7lld\n", name, unit, (long long)L->min,
           L->median, L->mean, (long long)L->p95, (long long)L->max);
}

/* "a (35), b (40), c (41)": n classes of split s from one end of by_count. */
static void print_extremes(const ember_data_report *r, int s, bool largest, int n)
{
    const ember_data_split_report *sr = &r->split[s];
    for (int64_t j = 0; j < sr->classes && j < n; j++) {
        const ember_data_class *c = &r->classes[sr->by_count[largest ? sr->classes - 1 - j : j]];
        printf("%s%s (%lld)", j ? ", " : "", c->name, (long long)c->count[s]);
    }
    printf("\n");
}

static void print_only(const ember_data_report *r, int s)
{
    printf("  only in %-5s %lld class%s", s ? "test:" : "train:",
           (long long)r->split[s].only_here, r->split[s].only_here == 1 ? "" : "es");
    int shown = 0;
    for (int64_t k = 0; k < r->nclasses; k++) {
        const ember_data_class *c = &r->classes[k];
        if (c->count[s] && !c->count[1 - s] && shown++ < 20)
            printf("%s%s (%lld)", shown == 1 ? ": " : ", ", c->name, (long long)c->count[s]);
    }
    printf("%s\n", shown > 20 ? ", ..." : "");
}

/* A finding's first groups: each group's counts, then its shown examples. */
static void print_shown(const char *title, const ember_data_finding *f)
{
    if (!f->nshown)
        return;
    printf("\n%s (first %d of %lld):\n", title, f->nshown, (long long)f->groups);
    for (int k = 0; k < f->nshown; k++) {
        const ember_data_group *g = &f->shown[k];
        if (g->count[0] + g->count[1] > 1)
            printf("  %lld in train, %lld in test:\n", (long long)g->count[0],
                   (long long)g->count[1]);
        for (int j = 0; j < g->nshown; j++) {
            const ember_data_example *e = &g->shown[j];
            printf("    %s  [%s]  \"", e->where, e->label);
            put_text(e->text);
            printf("\"\n");
        }
    }
}

static void print_report(const ember_data_report *r, const char *const *path, int max)
{
    int S = 1 + r->has_test;
    for (int s = 0; s < S; s++)
        printf("%-6s %s: %lld examples, %lld classes\n", s ? "test:" : "train:", path[s],
               (long long)r->split[s].examples, (long long)r->split[s].classes);

    printf("\nclass balance (examples per class)\n");
    for (int s = 0; s < S; s++) {
        const ember_data_split_report *sr = &r->split[s];
        printf("  %-6s min %lld, median %.1f, max %lld, imbalance max/min %.2f\n",
               s ? "test" : "train", (long long)sr->count_min, sr->count_median,
               (long long)sr->count_max, sr->imbalance);
        printf("         smallest: ");
        print_extremes(r, s, false, 3);
        printf("         largest:  ");
        print_extremes(r, s, true, 3);
    }
    for (int s = 0; r->has_test && s < 2; s++)
        print_only(r, s);

    printf("\nlengths                  min   median     mean     p95     max\n");
    for (int s = 0; s < S; s++) {
        print_lengths(s ? "test" : "train", "tokens", &r->split[s].tokens);
        print_lengths(s ? "test" : "train", "chars", &r->split[s].chars);
    }

    printf("\nwithin each split                       train");
    printf(r->has_test ? "     test\n" : "\n");
#define ROW(label, expr)                                                                   \
    do {                                                                                   \
        printf("  %-36s %7lld", label, (long long)r->split[0].expr);                       \
        if (r->has_test)                                                                   \
            printf("  %7lld", (long long)r->split[1].expr);                                \
        printf("\n");                                                                      \
    } while (0)
    ROW("empty after normalisation", empty.examples);
    ROW("exact duplicates: texts", exact_duplicates.groups);
    ROW("exact duplicates: redundant examples", exact_duplicates.redundant);
    ROW("near duplicates: texts", near_duplicates.groups);
    ROW("near duplicates: redundant examples", near_duplicates.redundant);
    ROW("  of which only after normalisation", near_only_redundant);
    ROW("label conflicts: texts", label_conflicts.groups);
    ROW("label conflicts: examples", label_conflicts.examples);
#undef ROW
    if (r->has_test) {
        printf("\nleakage: test examples whose text is also in train\n");
        const ember_data_finding *lf[2] = {&r->leak_exact, &r->leak_near};
        for (int k = 0; k < 2; k++)
            printf("  %-11s %lld test examples (%lld distinct texts): %lld same label, "
                   "%lld different label\n", k ? "normalised:" : "exact:",
                   (long long)lf[k]->examples, (long long)lf[k]->groups,
                   (long long)lf[k]->same_label, (long long)lf[k]->different_label);
        printf("label conflicts across splits: %lld normalised texts (%lld examples)\n",
               (long long)r->conflicts_across.groups, (long long)r->conflicts_across.examples);
    }
    if (max == 0)
        return;
    for (int s = 0; s < S; s++) {
        const ember_data_split_report *sr = &r->split[s];
        char t[96];
        const char *sn = s ? "test" : "train";
        snprintf(t, sizeof t, "empty after normalisation in %s", sn);
        print_shown(t, &sr->empty);
        snprintf(t, sizeof t, "exact duplicates in %s", sn);
        print_shown(t, &sr->exact_duplicates);
        snprintf(t, sizeof t, "near duplicates in %s, different texts", sn);
        print_shown(t, &sr->near_duplicates);
        snprintf(t, sizeof t, "label conflicts in %s", sn);
        print_shown(t, &sr->label_conflicts);
    }
    if (r->has_test) {
        print_shown("leakage, exact", &r->leak_exact);
        print_shown("leakage, normalised", &r->leak_near);
        print_shown("label conflicts across splits", &r->conflicts_across);
    }
}

int cmd_data_check(int argc, char **argv)
{
    const char *C = "data check";
    const char *pos[2] = {NULL, NULL}, *tcol = NULL, *lcol = NULL;
    long long max = 3;
    int npos = 0, skip_bad = 0;
    cli_out o = {false, false};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(check_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = true;
        } else if (!strcmp(argv[i], "--skip-bad-lines")) {
            skip_bad = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--text-column", &v)) != 0) {
            tcol = v;
        } else if ((r = cli_opt(argc, argv, &i, "--label-column", &v)) != 0) {
            lcol = v;
        } else if ((r = cli_opt(argc, argv, &i, "--max-examples", &v)) != 0) {
            if (v && cli_parse_int(v, 0, EMBER_DATA_CHECK_MAX_EXAMPLES, &max))
                return cli_fail(&o, C, EXIT_USAGE, "--max-examples: '%s' is not an integer in "
                                "0..%d", v, EMBER_DATA_CHECK_MAX_EXAMPLES);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see ember data check --help)",
                            argv[i]);
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "unexpected argument '%s'", argv[i]);
        }
        if (r < 0)
            return cli_fail(&o, C, EXIT_USAGE, "%s needs a value", argv[i]);
    }
    if (npos < 1)
        return cli_fail(&o, C, EXIT_USAGE, "need TRAIN and TEST (see ember data check --help)");
    for (int k = 0; k < npos; k++)
        if (cli_is_idx(pos[k]) || cli_is_image_path(pos[k]))
            return cli_fail(&o, C, EXIT_DATA, "%s: image data; data check reads text data only "
                            "(CSV, TSV, fastText, a folder of text files per class)", pos[k]);

    ember_error err;
    ember_text_dataset *d[2] = {NULL, NULL};
    ember_data_report *rep = NULL;
    cli_skipped skipped[2];
    memset(skipped, 0, sizeof skipped);
    char *json = NULL;
    int rc = EXIT_OK;
    ember_text_read_options ro = ember_text_read_options_default();
    ro.text_column = tcol;
    ro.label_column = lcol;
    ro.skip_bad_lines = skip_bad;
    for (int k = 0; k < npos; k++) {
        if (ember_text_dataset_load(&d[k], pos[k], &ro, &err))
            goto fail; /* the message names the file (and line) */
        if (skip_bad)
            cli_skipped_take(&skipped[k], pos[k], d[k]);
    }
    ember_data_check_options co = ember_data_check_options_default();
    co.max_examples = (int)max;
    if (ember_data_report_create(&rep, d[0], d[1], &co, &err))
        goto fail;
    for (int k = 0; k < npos; k++)
        cli_skipped_print(&o, C, &skipped[k]);
    if (o.json) {
        if (ember_data_report_to_json(rep, &json, &err))
            goto fail;
        size_t jn = strlen(json);
        if (skip_bad && jn > 0 && json[jn - 1] == '}') { /* one more field in the object */
            printf("%.*s", (int)(jn - 1), json);
            cli_skipped_json(skipped, npos);
            printf("}\n");
        } else {
            printf("%s\n", json);
        }
    } else if (!o.quiet) {
        print_report(rep, pos, (int)max);
    }
    goto done;
fail:
    rc = cli_fail_err(&o, C, &err);
done:
    free(json);
    ember_data_report_destroy(rep);
    ember_text_dataset_destroy(d[0]);
    ember_text_dataset_destroy(d[1]);
    return rc;
}
