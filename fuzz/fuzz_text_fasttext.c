/*
 * fuzz_text_fasttext.c - ember_text_dataset_load on fastText files
 * ("__label__a __label__b text" per line; src/data/text_reader.c), plain or
 * gzip, read as EMBER_TEXT_FASTTEXT or through EMBER_TEXT_AUTO's detection
 * (the memfd's name has no .csv/.tsv suffix, so AUTO looks at the bytes).
 *
 * Input: one option byte, then the file. Option bits: 0 AUTO (else
 * FASTTEXT); 1 gzip the file first; 2 skip_bad_lines (bad lines skipped and
 * counted). Checks: a refusal names the file; a data
 * set has at least one example, each with a non-blank text and at least one
 * non-empty label.
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt_byte = fuzz_take_byte(&data, &size);
    ember_text_read_options opt = ember_text_read_options_default();
    opt.format = opt_byte & 1 ? EMBER_TEXT_AUTO : EMBER_TEXT_FASTTEXT;
    opt.skip_bad_lines = (opt_byte >> 2) & 1;
    const char *path = fuzz_file_maybe_gz(data, size, opt_byte & 2);
    ember_error err;
    ember_text_dataset *d = (ember_text_dataset *)&err;
    ember_status s = ember_text_dataset_load(&d, path, &opt, &err);
    if (s != EMBER_OK) {
        fuzz_check_file_refusal(s, &err, path);
        FUZZ_ASSERT(d == NULL);
        return 0;
    }
    int64_t n = ember_text_dataset_size(d);
    FUZZ_ASSERT(n >= 1);
    int64_t skipped = ember_text_dataset_skipped(d);
    FUZZ_ASSERT(skipped >= 0 && (opt.skip_bad_lines || skipped == 0));
    /* the first problems, "FILE:LINE: reason" (a run of blank lines is one) */
    FUZZ_ASSERT(skipped == 0 || ember_text_dataset_skipped_message(d, 0) != NULL);
    for (int i = 0; i < EMBER_TEXT_SKIPPED_SHOWN; i++) {
        const char *why = ember_text_dataset_skipped_message(d, i);
        FUZZ_ASSERT(!why || strstr(why, path) == why);
        FUZZ_ASSERT(why || !ember_text_dataset_skipped_message(d, i + 1));
    }
    for (int64_t i = 0; i < n; i++) {
        const char *t = ember_text_dataset_text(d, i);
        FUZZ_ASSERT(t && t[0]);
        int k = ember_text_dataset_label_count(d, i);
        FUZZ_ASSERT(k >= 1);
        for (int j = 0; j < k; j++) {
            const char *l = ember_text_dataset_label(d, i, j);
            FUZZ_ASSERT(l && l[0]);
        }
    }
    ember_text_dataset_destroy(d);
    return 0;
}
