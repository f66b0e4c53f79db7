/*
 * data_manifest.c - `ember data fingerprint PATH...` (a manifest of data
 * files: ember_data_fingerprint) and `ember data verify MANIFEST` (what
 * changed since: ember_data_verify).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char fingerprint_usage[] =
    "usage: ember data fingerprint PATH... [options]\n"
    "\n"
    "Write a manifest (JSON) of the data under PATH (files, or folders walked in name\n"
    "order; hidden files skipped): each file's SHA-256, size, format (csv, tsv,\n"
    "fasttext, idx, image, text, binary), record count, and a content hash of its\n"
    "parsed examples that stays the same across line endings, gzip and the order of\n"
    "records and files. CSV/TSV/fastText files are read as `ember train` reads them.\n"
    "`ember data verify` checks data against a manifest later; `ember train` stores\n"
    "the manifests of its data in the model (`ember inspect`).\n"
    "\n"
    "  -o, --out FILE       write the manifest to FILE and print a summary (default:\n"
    "                       the manifest to standard output)\n"
    "  --text-column C      CSV/TSV columns, as for train\n"
    "  --label-column C\n"
    "  --skip-bad-lines     skip (and count) malformed lines instead of failing\n"
    "  --json               with --out: the summary as JSON (the manifest itself)\n"
    "  --quiet              with --out: print nothing but errors\n"
    "\n"
    "Exit status: 0 ok, 1 usage error, 2 a path cannot be read or a data file is bad.\n";

static const char verify_usage[] =
    "usage: ember data verify MANIFEST [--root DIR] [options]\n"
    "\n"
    "Check data against a manifest from `ember data fingerprint`: walk its inputs again\n"
    "and name every file that changed (with whether its examples are still the same,\n"
    "e.g. when only line endings changed), is missing, or is new.\n"
    "\n"
    "  --root DIR   relative paths of the manifest are under DIR (default: the current\n"
    "               folder)\n"
    "  --json       the report as one JSON object: ok, files_expected, unchanged,\n"
    "               changed [{path, sha256_expected, sha256_found, bytes_expected,\n"
    "               bytes_found, same_examples}], missing [paths], new [paths]\n"
    "  --quiet      print nothing; the exit status says it\n"
    "\n"
    "Exit status: 0 the data matches, 1 usage error, 2 something changed (or the\n"
    "manifest or a file cannot be read).\n";

/* Write text to path through a temporary file and rename (a reader never
 * sees half a manifest). */
static int write_atomic(const char *path, const char *text, ember_error *err)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->code = EMBER_ERR_NOMEM;
        return -1;
    }
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = f && fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        snprintf(err->message, sizeof err->message, "%s: cannot write: %s", path, strerror(errno));
        err->code = EMBER_ERR_IO;
        remove(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

int cmd_data_fingerprint(int argc, char **argv)
{
    static const char *C = "data fingerprint";
    cli_out o = {0};
    const char *out = NULL;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    int np = 0, rc = EXIT_OK;
    ember_text_read_options topt = ember_text_read_options_default();
    if (!paths)
        return cli_fail(&o, C, EXIT_DATA, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(fingerprint_usage, stdout);
            free(paths);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = true;
        } else if (!strcmp(argv[i], "--skip-bad-lines")) {
            topt.skip_bad_lines = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--out", &v)) || (r = cli_opt(argc, argv, &i, "-o", &v))) {
            if (r < 0)
                goto missing;
            out = v;
        } else if ((r = cli_opt(argc, argv, &i, "--text-column", &v))) {
            if (r < 0)
                goto missing;
            topt.text_column = v;
        } else if ((r = cli_opt(argc, argv, &i, "--label-column", &v))) {
            if (r < 0)
                goto missing;
            topt.label_column = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see --help)", argv[i]);
            goto done;
        } else {
            paths[np++] = argv[i];
        }
        continue;
    missing:
        rc = cli_fail(&o, C, EXIT_USAGE, "%s needs a value", argv[i]);
        goto done;
    }
    if (np == 0) {
        rc = cli_fail(&o, C, EXIT_USAGE, "give at least one PATH (see --help)");
        goto done;
    }
    ember_error err = {0};
    char *manifest = NULL;
    if (ember_data_fingerprint(paths, np, &topt, &manifest, &err)) {
        rc = cli_fail_err(&o, C, &err);
        goto done;
    }
    if (!out) {
        puts(manifest);
    } else if (write_atomic(out, manifest, &err)) {
        rc = cli_fail_err(&o, C, &err);
    } else if (o.json) {
        puts(manifest);
    } else if (!o.quiet) {
        cJSON *m = cJSON_Parse(manifest);
        const cJSON *f;
        printf("%-10s %12s %10s  %-16s %s\n", "format", "bytes", "records", "sha256", "path");
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(m, "files")) {
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(f, "records");
            char rec[24] = "-";
            if (cJSON_IsNumber(r))
                snprintf(rec, sizeof rec, "%.0f", r->valuedouble);
            printf("%-10s %12.0f %10s  %.16s %s\n",
                   cJSON_GetObjectItemCaseSensitive(f, "format")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(f, "bytes")->valuedouble, rec,
                   cJSON_GetObjectItemCaseSensitive(f, "sha256")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(f, "path")->valuestring);
        }
        printf("%.0f files, %.0f records; content sha256 %s\nwrote %s\n",
               cJSON_GetObjectItemCaseSensitive(m, "files_count")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(m, "records")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(m, "content_sha256")->valuestring, out);
        cJSON_Delete(m);
    }
    free(manifest);
done:
    free(paths);
    return rc;
}

static void print_list(const cJSON *a, const char *what)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
        printf("%s: %s\n", what, it->valuestring);
}

int cmd_data_verify(int argc, char **argv)
{
    static const char *C = "data verify";
    cli_out o = {0};
    const char *manifest_path = NULL, *root = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(verify_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = true;
        } else if ((r = cli_opt(argc, argv, &i, "--root", &v))) {
            if (r < 0)
                return cli_fail(&o, C, EXIT_USAGE, "--root needs a value");
            root = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see --help)", argv[i]);
        } else if (!manifest_path) {
            manifest_path = argv[i];
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "one MANIFEST only (got '%s' too)", argv[i]);
        }
    }
    if (!manifest_path)
        return cli_fail(&o, C, EXIT_USAGE, "give the MANIFEST (see --help)");
    ember_error err = {0};
    char *text = cli_read_file(manifest_path, &err), *report = NULL;
    int64_t problems = 0;
    if (!text)
        return cli_fail_err(&o, C, &err);
    if (ember_data_verify(text, root, &report, &problems, &err)) {
        free(text);
        return cli_fail(&o, C, EXIT_DATA, "%s: %s", manifest_path, err.message);
    }
    free(text);
    if (o.json) {
        puts(report);
    } else if (!o.quiet) {
        cJSON *r = cJSON_Parse(report);
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "changed")) {
            const cJSON *same = cJSON_GetObjectItemCaseSensitive(c, "same_examples");
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(c, "error");
            printf("changed: %s (%.0f -> %.0f bytes, sha256 %.12s -> %.12s; %s%s)\n",
                   cJSON_GetObjectItemCaseSensitive(c, "path")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(c, "bytes_expected")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(c, "bytes_found")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(c, "sha256_expected")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(c, "sha256_found")->valuestring,
                   e ? "it no longer parses: " : cJSON_IsTrue(same) ? "the same examples"
                                                                     : "different examples",
                   e ? e->valuestring : "");
        }
        print_list(cJSON_GetObjectItemCaseSensitive(r, "missing"), "missing");
        print_list(cJSON_GetObjectItemCaseSensitive(r, "new"), "new");
        printf("%s: %.0f of %.0f files unchanged, %lld problem%s\n", problems ? "FAILED" : "ok",
               cJSON_GetObjectItemCaseSensitive(r, "unchanged")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(r, "files_expected")->valuedouble,
               (long long)problems, problems == 1 ? "" : "s");
        cJSON_Delete(r);
    }
    free(report);
    return problems ? EXIT_DATA : EXIT_OK;
}
