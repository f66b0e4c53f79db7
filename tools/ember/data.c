/*
 * data.c - `ember data VERB ...`: the data-management commands, each in its
 * own file: fingerprint and verify (data_manifest.c), check (data_check.c).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char data_usage[] =
    "usage: ember data <verb> [options]\n"
    "\n"
    "verbs:\n"
    "  fingerprint PATH...   a JSON manifest of data files: SHA-256, size, format, record\n"
    "                        count, and a content hash of the parsed examples\n"
    "  verify MANIFEST       check data against a manifest: files changed, new or missing\n"
    "  check TRAIN TEST      a data-quality report: class balance, duplicates, leakage\n"
    "                        between the splits, label conflicts, lengths\n"
    "\n"
    "  ember data <verb> --help   options of one verb\n";

int cmd_data(int argc, char **argv)
{
    if (argc < 2) {
        fputs(data_usage, stderr);
        return EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        fputs(data_usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(verb, "fingerprint"))
        return cmd_data_fingerprint(argc - 1, argv + 1);
    if (!strcmp(verb, "verify"))
        return cmd_data_verify(argc - 1, argv + 1);
    if (!strcmp(verb, "check"))
        return cmd_data_check(argc - 1, argv + 1);
    fprintf(stderr, "ember data: unknown verb '%s'\n\n%s", verb, data_usage);
    return EXIT_USAGE;
}
