/*
 * fuzz_serve_body.c - a /v1/predict request body, from the bytes to the
 * probabilities, without the HTTP server: ember__serve_parse_body
 * (src/serve/http.c: UTF-8, JSON, the fields), then what predict() does with
 * the texts: a data set, the text pipeline (cleaning with every option on:
 * HTML, e-mail headers, URLs, numbers; NFKC, case folding; tokens, word and
 * character n-grams, CJK bigrams) and a small Embedding model.
 *
 * Input: the body. Checks: a refusal is a 400, 413 or 500 with a message
 * that is valid UTF-8 (it goes into the JSON answer); an accepted body has
 * 1..MAX_TEXTS texts and k >= 1; every text encodes to ids inside the
 * embedding, its tokens (ember_pipeline_tokens) are valid UTF-8, and the
 * model gives each text probabilities that sum to 1.
 */
#include "fuzz_util.h"
#include "serve/serve.h"

#include <math.h>

#define MAX_TEXTS 256 /* ember_server_config's default */
#define DEFAULT_K 3
/* How far a softmax row's sum may be from 1 (float32 over a few classes). */
#define SUM_TOLERANCE 1e-4

static ember_pipeline *pipe_;
static ember_model *model_;

static void setup(void)
{
    static const char *const texts[] = {
        "<p>Where is my <b>card</b>?</p> 1234", "From: a@b.c\nSubject: hi\n\nrefund please",
        "top up https://example.com now", "\xe5\x8c\x97\xe4\xba\xac card", "caf\xc3\xa9 refund"};
    static const char *const labels[] = {"card", "refund", "top_up", "card", "refund"};
    ember_error err;
    ember_text_options o = ember_text_options_default();
    o.replace_numbers = 1;
    o.strip_email_headers = 1;
    o.keep_punctuation = 1;
    o.word_ngrams = 3;
    o.char_ngram_min = 2;
    o.char_ngram_max = 4;
    o.buckets = 1000;
    ember_text_dataset *d = NULL;
    FUZZ_ASSERT(ember_text_dataset_create(&d, 5, texts, labels, &err) == EMBER_OK);
    FUZZ_ASSERT(ember_pipeline_create(&pipe_, &o, &err) == EMBER_OK);
    FUZZ_ASSERT(ember_pipeline_fit(pipe_, d, &err) == EMBER_OK);
    ember_text_dataset_destroy(d);
    static const char arch[] = "embedding 4\nglobal_average_pooling1d\ndense classes softmax\n";
    FUZZ_ASSERT(ember_model_create_from_arch(&model_, arch, "fuzz", ember_pipeline_input_dim(pipe_),
                                             ember_pipeline_class_count(pipe_), 1, &err) == EMBER_OK);
    ember_optimizer_config opt = ember_optimizer_adam(0.01f);
    FUZZ_ASSERT(ember_model_compile(model_, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err) ==
                EMBER_OK);
    ember_model_set_threads(model_, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pipe_)
        setup();
    char *body = fuzz_cstr(data, size); /* the server NUL-terminates the body it collects */
    char msg[SERVE_BODY_MESSAGE_MAX];
    ember__serve_body b;
    int status = ember__serve_parse_body(body, size, MAX_TEXTS, DEFAULT_K, &b, msg);
    if (status) {
        FUZZ_ASSERT(status == 400 || status == 413 || status == 500);
        FUZZ_ASSERT(memchr(msg, '\0', sizeof msg) && msg[0]);
        FUZZ_ASSERT(ember__serve_utf8_check(msg, strlen(msg)) == (size_t)-1);
        FUZZ_ASSERT(b.root == NULL && b.texts == NULL);
        free(body);
        return 0;
    }
    FUZZ_ASSERT(b.n >= 1 && b.n <= MAX_TEXTS && b.k >= 1);
    ember_error err;
    ember_text_dataset *d = NULL;
    ember_ragged *ids = NULL;
    ember_tensor *out = NULL;
    FUZZ_ASSERT(ember_text_dataset_create(&d, b.n, b.texts, NULL, &err) == EMBER_OK);
    FUZZ_ASSERT(ember_pipeline_encode(pipe_, d, &ids, NULL, &err) == EMBER_OK);
    int64_t dim = ember_pipeline_input_dim(pipe_);
    for (int64_t i = 0; i < b.n; i++)
        FUZZ_ASSERT(ids->offsets[i + 1] > ids->offsets[i]); /* no empty bag */
    for (int64_t i = 0; i < ids->offsets[b.n]; i++)
        FUZZ_ASSERT(ids->ids[i] >= 1 && ids->ids[i] < dim);
    for (int64_t i = 0; i < b.n; i++) {
        char *tokens = NULL;
        FUZZ_ASSERT(ember_pipeline_tokens(pipe_, b.texts[i], &tokens, &err) == EMBER_OK);
        FUZZ_ASSERT(ember__serve_utf8_check(tokens, strlen(tokens)) == (size_t)-1);
        free(tokens);
    }
    FUZZ_ASSERT(ember_model_predict_ids(model_, ids, b.n, &out, &err) == EMBER_OK);
    int64_t K = ember_pipeline_class_count(pipe_);
    FUZZ_ASSERT(out->shape[0] == b.n && out->shape[1] == K);
    for (int64_t i = 0; i < b.n; i++) {
        double sum = 0;
        for (int64_t c = 0; c < K; c++)
            sum += out->data[i * K + c];
        FUZZ_ASSERT(fabs(sum - 1.0) < SUM_TOLERANCE);
    }
    ember_tensor_destroy(out);
    ember_ragged_destroy(ids);
    ember_text_dataset_destroy(d);
    ember__serve_body_free(&b);
    free(body);
    return 0;
}
