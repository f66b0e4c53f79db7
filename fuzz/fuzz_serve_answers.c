/*
 * fuzz_serve_answers.c - the answers file of `ember serve --answers`
 * (load_answers in src/serve/server.c, through ember__serve_load_answers):
 * read the file, UTF-8, JSON, an object of intent -> non-empty reply, every
 * intent one of the model's labels, none twice; each reply kept as a JSON
 * string literal for the answers.
 *
 * Input: the file. The model side is a pipeline whose labels are LABELS.
 * Checks: a refusal names the file; after a load, n_answers replies are set,
 * and each parses back (cJSON) as one non-empty JSON string.
 */
#include "fuzz_util.h"
#include "serve/serve.h"

#include <cJSON.h>

static ember_pipeline *pipe_;

static void setup(void)
{
    /* labels in byte order, as ember_pipeline_to_json writes them */
    static const char json[] =
        "{\"version\":1,\"options\":{\"nfkc\":1,\"casefold\":1,\"strip_html\":1,"
        "\"replace_urls\":1,\"replace_emails\":1,\"replace_numbers\":0,"
        "\"strip_email_headers\":0,\"keep_punctuation\":0,\"cjk_bigrams\":1,"
        "\"word_ngrams\":1,\"char_ngram_min\":0,\"char_ngram_max\":0,\"buckets\":0,"
        "\"min_count\":1,\"max_vocab\":0},\"vocab\":[\"card\"],"
        "\"labels\":[\"card\",\"refund\",\"top_up\",\"\xc3\xa9t\xc3\xa9\"],\"buckets\":0}";
    ember_error err;
    if (ember_pipeline_from_json(&pipe_, json, &err) != EMBER_OK) {
        fprintf(stderr, "fuzz_serve_answers: %s\n", err.message);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pipe_)
        setup();
    const char *path = fuzz_file(data, size);
    generation g;
    memset(&g, 0, sizeof g);
    g.pipe = pipe_;
    g.K = ember_pipeline_class_count(pipe_);
    ember_error err;
    ember_status s = ember__serve_load_answers(&g, path, &err);
    if (s != EMBER_OK) {
        fuzz_check_file_refusal(s, &err, path);
    } else {
        int64_t set = 0;
        for (int64_t k = 0; k < g.K; k++) {
            if (!g.reply_json[k])
                continue;
            set++;
            cJSON *j = cJSON_Parse(g.reply_json[k]);
            FUZZ_ASSERT(cJSON_IsString(j) && j->valuestring[0]);
            cJSON_Delete(j);
        }
        FUZZ_ASSERT(set == g.n_answers);
    }
    if (g.reply_json)
        for (int64_t k = 0; k < g.K; k++)
            free(g.reply_json[k]);
    free(g.reply_json);
    return 0;
}
