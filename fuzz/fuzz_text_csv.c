/*
 * fuzz_text_csv.c - ember_text_dataset_load on CSV and TSV files
 * (src/data/text_reader.c over byte_reader.c), plain or gzip.
 *
 * Input: one option byte, then the file. Option bits: 0 TSV (else CSV);
 * 1-2 text_column, 3-4 label_column (NULL, "text", "1", "label"); 5 gzip the
 * file first (the reader detects gzip from the bytes: corrupt gzip streams
 * come from seeds that are gzip themselves); 6 fit a text pipeline on what
 * was read and encode it; 7 skip_bad_lines (bad rows skipped and counted).
 * Checks: a refusal names the file; a data set has at least one example,
 * each with a non-blank text and one non-empty label.
 */
#include "fuzz_util.h"

static const char *const COLUMNS[4] = {NULL, "text", "1", "label"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt_byte = fuzz_take_byte(&data, &size);
    ember_text_read_options opt = ember_text_read_options_default();
    opt.format = opt_byte & 1 ? EMBER_TEXT_TSV : EMBER_TEXT_CSV;
    opt.text_column = COLUMNS[(opt_byte >> 1) & 3];
    opt.label_column = COLUMNS[(opt_byte >> 3) & 3];
    opt.skip_bad_lines = opt_byte >> 7;
    const char *path = fuzz_file_maybe_gz(data, size, opt_byte & 0x20);
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
        FUZZ_ASSERT(ember_text_dataset_label_count(d, i) == 1);
        const char *l = ember_text_dataset_label(d, i, 0);
        FUZZ_ASSERT(l && l[0]);
    }
    if (opt_byte & 0x40) {
        ember_pipeline *p = NULL;
        ember_ragged *ids = NULL;
        ember_tensor *y = NULL;
        FUZZ_ASSERT(ember_pipeline_create(&p, NULL, &err) == EMBER_OK);
        FUZZ_ASSERT(ember_pipeline_fit(p, d, &err) == EMBER_OK);
        FUZZ_ASSERT(ember_pipeline_encode(p, d, &ids, &y, &err) == EMBER_OK);
        FUZZ_ASSERT(ids->n == n && y->shape[0] == n);
        int64_t dim = ember_pipeline_input_dim(p);
        for (int64_t i = 0; i < ids->offsets[n]; i++)
            FUZZ_ASSERT(ids->ids[i] >= 1 && ids->ids[i] < dim);
        ember_tensor_destroy(y);
        ember_ragged_destroy(ids);
        ember_pipeline_destroy(p);
    }
    ember_text_dataset_destroy(d);
    return 0;
}
