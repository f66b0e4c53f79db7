/*
 * test_share.c - ember_model_share: a handle on another model's weights that
 * predicts exactly what the original predicts, from several threads at once
 * (what `ember serve` does), and refuses everything but prediction.
 */
#include "check.h"
#include "ember.h"

#include <pthread.h>
#include <stdlib.h>

#define THREADS 4
#define ROUNDS 50

/* A text-style model: bags of ids -> embedding -> mean -> dense -> softmax. */
static ember_model *ids_model(ember_error *err)
{
    ember_model *m = NULL;
    const char *arch = "embedding 16\nglobal_average_pooling1d\ndense 32 relu\ndense classes softmax\n";
    if (ember_model_create_from_arch(&m, arch, "ids.arch", 500, 7, 3, err))
        return NULL;
    ember_optimizer_config o = ember_optimizer_adam(0.01f);
    if (ember_model_compile(m, &o, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, err)) {
        ember_model_destroy(m);
        return NULL;
    }
    return m;
}

/* An image model with BatchNormalization (its inference path once wrote
 * into the layer's shared config). */
static ember_model *bn_model(ember_error *err)
{
    ember_model *m = NULL;
    const char *arch = "conv2d 4 3 relu\nbatch_normalization\nmax_pool2d 2\nflatten\n"
                       "dense classes softmax\n";
    int64_t in[3] = {8, 8, 2};
    if (ember_model_create_from_arch_shape(&m, arch, "bn.arch", 3, in, 5, 9, err))
        return NULL;
    ember_optimizer_config o = ember_optimizer_adam(0.01f);
    if (ember_model_compile(m, &o, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, err)) {
        ember_model_destroy(m);
        return NULL;
    }
    return m;
}

static ember_ragged *random_bags(int64_t n, uint64_t seed)
{
    ember_ragged *r = calloc(1, sizeof *r);
    r->n = n;
    r->offsets = malloc((size_t)(n + 1) * sizeof *r->offsets);
    r->ids = malloc((size_t)(n * 20) * sizeof *r->ids);
    uint64_t s = seed * 2654435761u + 1;
    r->offsets[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int64_t len = 1 + (int64_t)((s >> 33) % 20);
        for (int64_t t = 0; t < len; t++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            r->ids[r->offsets[i] + t] = (int32_t)((s >> 33) % 500);
        }
        r->offsets[i + 1] = r->offsets[i] + len;
    }
    return r;
}

typedef struct job {
    ember_model *share;
    const ember_ragged *x;
    const ember_tensor *ref;
    int mismatches, failures;
} job;

/* Predict one example at a time, ROUNDS times, comparing bit for bit. */
static void *worker(void *arg)
{
    job *j = arg;
    ember_error err;
    int64_t K = j->ref->shape[1];
    for (int round = 0; round < ROUNDS; round++)
        for (int64_t i = 0; i < j->x->n; i++) {
            ember_ragged one = {1, NULL, j->x->ids + j->x->offsets[i]};
            int64_t off[2] = {0, j->x->offsets[i + 1] - j->x->offsets[i]};
            one.offsets = off;
            ember_tensor *out = NULL;
            if (ember_model_predict_ids(j->share, &one, 1, &out, &err)) {
                j->failures++;
                continue;
            }
            if (memcmp(out->data, j->ref->data + i * K, (size_t)K * sizeof(float)) != 0)
                j->mismatches++;
            ember_tensor_destroy(out);
        }
    return NULL;
}

static void test_ids_threads(void)
{
    ember_error err;
    ember_model *m = ids_model(&err);
    CHECK_MSG(m != NULL, "%s", err.message);
    if (!m)
        return;
    ember_model_set_threads(m, 1);
    ember_ragged *x = random_bags(40, 1);
    ember_tensor *ref = NULL;
    CHECK_OK(ember_model_predict_ids(m, x, 1, &ref, &err), &err);

    ember_model *shares[THREADS] = {0};
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        CHECK_OK(ember_model_share(&shares[t], m, &err), &err);
        jobs[t] = (job){shares[t], x, ref, 0, 0};
        CHECK(pthread_create(&th[t], NULL, worker, &jobs[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_MSG(jobs[t].failures == 0 && jobs[t].mismatches == 0,
                  "thread %d: %d failures, %d predictions differ from the original model's", t,
                  jobs[t].failures, jobs[t].mismatches);
    }
    /* batches of 16 (another sgemm shape, so other roundings than one row at
     * a time): the share and the original agree bit for bit */
    ember_tensor *b = NULL, *b_ref = NULL;
    CHECK_OK(ember_model_predict_ids(shares[0], x, 16, &b, &err), &err);
    CHECK_OK(ember_model_predict_ids(m, x, 16, &b_ref, &err), &err);
    if (b && b_ref)
        CHECK(memcmp(b->data, b_ref->data, (size_t)ember_tensor_numel(ref) * sizeof(float)) == 0);
    ember_tensor_destroy(b);
    ember_tensor_destroy(b_ref);

    /* prediction only */
    ember_fit_config fc = ember_fit_config_default();
    ember_tensor *y = NULL;
    int64_t n = x->n;
    CHECK_OK(ember_tensor_create(&y, 1, &n, &err), &err);
    CHECK_ERR(ember_model_fit_ids(shares[1], x, y, &fc, NULL, &err), EMBER_ERR_STATE, &err,
              "shared model can only predict");
    ember_optimizer_config o = ember_optimizer_adam(0.01f);
    CHECK_ERR(ember_model_compile(shares[1], &o, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err),
              EMBER_ERR_STATE, &err, "shared model can only predict");
    CHECK_ERR(ember_model_save(shares[1], EMBER_BUILD_DIR "/share.safetensors", &err),
              EMBER_ERR_STATE, &err, "shared model can only predict");
    CHECK_ERR(ember_model_add_dense(shares[1], 3, EMBER_ACT_RELU, &err), EMBER_ERR_STATE, &err,
              "shared model");
    /* destroying the shares leaves the original intact */
    for (int t = 0; t < THREADS; t++)
        ember_model_destroy(shares[t]);
    ember_tensor *again = NULL;
    CHECK_OK(ember_model_predict_ids(m, x, 1, &again, &err), &err);
    if (again)
        CHECK(memcmp(again->data, ref->data, (size_t)ember_tensor_numel(ref) * sizeof(float)) == 0);
    ember_tensor_destroy(again);
    ember_tensor_destroy(y);
    ember_tensor_destroy(ref);
    ember_ragged_destroy(x);
    ember_model_destroy(m);
}

static void test_bn_share(void)
{
    ember_error err;
    ember_model *m = bn_model(&err);
    CHECK_MSG(m != NULL, "%s", err.message);
    if (!m)
        return;
    /* train a step so the moving statistics are not the initial ones */
    int64_t xs[4] = {16, 8, 8, 2}, n = 16;
    ember_tensor *x = NULL, *y = NULL, *ref = NULL, *got = NULL;
    CHECK_OK(ember_tensor_create(&x, 4, xs, &err), &err);
    CHECK_OK(ember_tensor_create(&y, 1, &n, &err), &err);
    for (int64_t i = 0; i < ember_tensor_numel(x); i++)
        x->data[i] = (float)((i * 37) % 101) / 101.0f;
    for (int64_t i = 0; i < n; i++)
        y->data[i] = (float)(i % 5);
    ember_fit_config fc = ember_fit_config_default();
    fc.batch_size = 8;
    fc.epochs = 2;
    CHECK_OK(ember_model_fit(m, x, y, &fc, NULL, &err), &err);
    CHECK_OK(ember_model_predict(m, x, 4, &ref, &err), &err);
    ember_model *s = NULL;
    CHECK_OK(ember_model_share(&s, m, &err), &err);
    CHECK_OK(ember_model_predict(s, x, 4, &got, &err), &err);
    if (ref && got)
        CHECK_MSG(memcmp(ref->data, got->data, (size_t)ember_tensor_numel(ref) * sizeof(float)) == 0,
                  "the shared BatchNormalization model predicts differently");
    ember_model_destroy(s);
    ember_tensor_destroy(got);
    ember_tensor_destroy(ref);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_model_destroy(m);
}

static void test_bad_args(void)
{
    ember_error err;
    ember_model *s = NULL, *empty = NULL;
    CHECK_ERR(ember_model_share(&s, NULL, &err), EMBER_ERR_ARG, &err, "NULL");
    int64_t in = 4;
    CHECK_OK(ember_model_create(&empty, 1, &in, 1, &err), &err);
    CHECK_ERR(ember_model_share(&s, empty, &err), EMBER_ERR_STATE, &err, "no weights");
    CHECK(s == NULL);
    ember_model_destroy(empty);
}

int main(void)
{
    test_ids_threads();
    test_bn_share();
    test_bad_args();
    return check_summary("share");
}
