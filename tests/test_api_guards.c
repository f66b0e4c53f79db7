/*
 * test_api_guards.c - regressions from a code review of the model core
 * (each was a heap overflow before the fix):
 *  1. fit with both x_val and x_val_ids set, or validation ids given to a
 *     model of dense inputs: refused with EMBER_ERR_ARG.
 *  2. evaluate/predict with a batch_size far above N: the batch is clamped to
 *     N and every arena size is overflow-checked.
 * Each case runs in a child process so a crash is a failure, not an abort of
 * the whole test.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { N = 8, V = 20 };

static int64_t offs[N + 1];
static int32_t idv[3 * N];

static ember_tensor *zeros(int ndim, const int64_t *shape)
{
    ember_error err;
    ember_tensor *t = NULL;
    CHECK_OK(ember_tensor_create(&t, ndim, shape, &err), &err);
    memset(t->data, 0, (size_t)ember_tensor_numel(t) * sizeof(float));
    return t;
}

static ember_model *ids_model(int64_t D, int64_t K, ember_loss_kind loss)
{
    ember_error err;
    ember_model *m = NULL;
    ember_optimizer_config o = ember_optimizer_adam(0.01f);
    CHECK_OK(ember_model_create_ids(&m, 1, &err), &err);
    CHECK_OK(ember_model_add_embedding(m, V, D, 1, &err), &err);
    CHECK_OK(ember_model_add_global_average_pooling1d(m, &err), &err);
    CHECK_OK(ember_model_add_dense(m, K, K > 1 ? EMBER_ACT_SOFTMAX : EMBER_ACT_LINEAR, &err),
             &err);
    CHECK_OK(ember_model_compile(m, &o, loss, &err), &err);
    return m;
}

/* ids model: x_val (400 dense rows) and x_val_ids (2 bags) both given. */
static void ids_model_both_val_inputs(void)
{
    ember_error err;
    ember_ragged r = {N, offs, idv}, rv = {2, offs, idv};
    int64_t ys[1] = {N}, xs[2] = {400, 4}, yvs[1] = {400};
    ember_tensor *y = zeros(1, ys), *xv = zeros(2, xs), *yv = zeros(1, yvs);
    ember_model *m = ids_model(4, 3, EMBER_LOSS_CATEGORICAL_CROSSENTROPY);
    ember_fit_config c = ember_fit_config_default();
    c.batch_size = 4;
    c.x_val = xv;
    c.x_val_ids = &rv;
    c.y_val = yv;
    ember_status s = ember_model_fit_ids(m, &r, y, &c, NULL, &err);
    CHECK_MSG(s == EMBER_ERR_ARG || s == EMBER_ERR_SHAPE, "status %d: %s", (int)s, err.message);
    ember_model_destroy(m);
    ember_tensor_destroy(y);
    ember_tensor_destroy(xv);
    ember_tensor_destroy(yv);
}

/* dense model: x_val_ids set besides x_val. */
static void dense_model_val_ids(void)
{
    ember_error err;
    ember_ragged rv = {2, offs, idv};
    int64_t in[1] = {4}, xs[2] = {N, 4}, ys[1] = {N};
    ember_tensor *x = zeros(2, xs), *y = zeros(1, ys), *xv = zeros(2, xs), *yv = zeros(1, ys);
    ember_model *m = NULL;
    ember_optimizer_config o = ember_optimizer_adam(0.01f);
    CHECK_OK(ember_model_create(&m, 1, in, 1, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, &err), &err);
    CHECK_OK(ember_model_compile(m, &o, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    ember_fit_config c = ember_fit_config_default();
    c.x_val = xv;
    c.x_val_ids = &rv;
    c.y_val = yv;
    ember_status s = ember_model_fit(m, x, y, &c, NULL, &err);
    CHECK_MSG(s == EMBER_ERR_ARG || s == EMBER_ERR_SHAPE, "status %d: %s", (int)s, err.message);
    ember_model_destroy(m);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_tensor_destroy(xv);
    ember_tensor_destroy(yv);
}

/* predict with a batch_size of 2^61 on 8 examples: same outputs as batch 4. */
static void predict_huge_batch(void)
{
    ember_error err;
    ember_ragged r = {N, offs, idv};
    ember_model *m = ids_model(1, 1, EMBER_LOSS_MSE);
    ember_tensor *a = NULL, *b = NULL;
    CHECK_OK(ember_model_predict_ids(m, &r, 4, &a, &err), &err);
    ember_status s = ember_model_predict_ids(m, &r, (int64_t)1 << 61, &b, &err);
    CHECK_MSG(s == EMBER_OK, "status %d: %s", (int)s, err.message);
    if (a && b)
        CHECK(memcmp(a->data, b->data, N * sizeof(float)) == 0);
    ember_tensor_destroy(a);
    ember_tensor_destroy(b);
    ember_model_destroy(m);
}

/* Each case in a child process: a sanitizer abort in one still lets the
 * others run; a crashed or failing child counts as one failure. */
static void run_case(const char *name, void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(check_failed_ ? 1 : 0);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child %s %d", name,
              WIFEXITED(st) ? "exited with" : "killed by signal",
              WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(void)
{
    for (int i = 0; i <= N; i++)
        offs[i] = 3 * i;
    for (int i = 0; i < 3 * N; i++)
        idv[i] = i % V;
    run_case("predict_huge_batch", predict_huge_batch);
    run_case("dense_model_val_ids", dense_model_val_ids);
    run_case("ids_model_both_val_inputs", ids_model_both_val_inputs);
    return check_summary("api_guards");
}
