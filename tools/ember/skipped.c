/*
 * skipped.c - reporting the records `--skip-bad-lines` skipped (train, test,
 * calibrate): a short note on stderr naming the file, the count and the first
 * few offenders as the library worded them, and the same as a --json field.
 * The skipping itself is the library's (ember_text_read_options.skip_bad_lines,
 * ember_text_dataset_drop_unknown_labels).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <string.h>
#include <sys/stat.h>

void cli_skipped_take(cli_skipped *s, const char *file, const ember_text_dataset *d)
{
    memset(s, 0, sizeof *s);
    s->file = file;
    struct stat st;
    s->folder = stat(file, &st) == 0 && S_ISDIR(st.st_mode);
    s->count = ember_text_dataset_skipped(d);
    for (int i = 0; i < EMBER_TEXT_SKIPPED_SHOWN; i++) {
        const char *m = ember_text_dataset_skipped_message(d, i);
        if (!m)
            break;
        snprintf(s->first[i], sizeof s->first[i], "%s", m);
        s->shown++;
    }
}

void cli_skipped_print(const cli_out *o, const char *cmd, const cli_skipped *s)
{
    if (o->quiet || !s->file || s->count == 0)
        return;
    const char *unit = s->folder ? "file" : "line";
    fprintf(stderr, "ember %s: skipped %lld bad %s%s in %s", cmd, (long long)s->count, unit,
            s->count == 1 ? "" : "s", s->file);
    if (s->shown == EMBER_TEXT_SKIPPED_SHOWN && s->count > s->shown)
        fprintf(stderr, "; the first %d", s->shown);
    fprintf(stderr, ":\n");
    for (int i = 0; i < s->shown; i++)
        fprintf(stderr, "  %s\n", s->first[i]);
}

void cli_skipped_json(const cli_skipped *s, int n)
{
    printf(",\"skipped_bad_lines\":[");
    int first = 1;
    for (int k = 0; k < n; k++) {
        if (!s[k].file)
            continue;
        printf("%s{\"file\":", first ? "" : ",");
        cli_json_str(s[k].file);
        printf(",\"count\":%lld,\"first\":[", (long long)s[k].count);
        for (int i = 0; i < s[k].shown; i++) {
            if (i)
                putchar(',');
            cli_json_str(s[k].first[i]);
        }
        printf("]}");
        first = 0;
    }
    putchar(']');
}
