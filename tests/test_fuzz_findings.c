/*
 * test_fuzz_findings.c - what the libFuzzer harnesses (fuzz/) found, and
 * what writing them showed, one case each, with the status and the message
 * the input must now get. The fuzzers' inputs also sit in
 * fuzz/regressions/<harness>/, which ctest replays through the harnesses
 * (fuzz_<harness>); here each case is built from a valid file so the
 * message can be checked exactly.
 *
 * Not here: the harnesses' own checks (fuzz/fuzz_*.c) and per-parser bad
 * input tests (test_text_reader.c, test_image_data.c, ...).
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"
#include "io/hash.h"
#include "io/safetensors.h"
#include "serve/serve.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <stb_image_write.h>

static char dir[] = "/tmp/ember-fuzz-findings-XXXXXX";
/* dir/name; four buffers in turn, so two paths can be used together. */
static const char *fx(const char *name)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        abort();
}

/* A CSV whose first row has an empty text field: text_reader.c computed
 * NULL + 0 (the text arena was still empty), undefined behaviour that UBSan
 * reports. Now the same refusal as for any empty text. */
static void csv_first_text_empty(void)
{
    ember_error err;
    ember_text_dataset *d = NULL;
    static const char csv[] = "text,label\n,spam\nhello,ham\n";
    write_bytes(fx("empty_first.csv"), csv, sizeof csv - 1);
    CHECK_ERR(ember_text_dataset_load(&d, fx("empty_first.csv"), NULL, &err), EMBER_ERR_FORMAT,
              &err, "empty_first.csv:2: column 0 (\"text\"): a label with no text");
    CHECK(d == NULL);
}


int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    csv_first_text_empty();
    static const char *const names[] = {
        "empty_first.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(fx(names[i]));
    rmdir(dir);
    return check_summary("fuzz_findings");
}
