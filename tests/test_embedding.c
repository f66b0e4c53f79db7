/*
 * test_embedding.c - Embedding + GlobalAveragePooling1D over ragged ids:
 * gradient check of every parameter of a small text model (bags with
 * repeated ids and an empty bag); sparse (lazy) and dense gradients agree;
 * with plain SGD lazy and dense training give bit-identical weights; lazy
 * Adam leaves rows outside the batch untouched while Keras-style dense Adam
 * keeps moving them; save -> load -> predict is identical; bad ids and bad
 * layer orders are refused.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "gradcheck.h"
#include "model/model.h"

#include <stdlib.h>
#include <unistd.h>

enum { V = 11, D = 5, H = 4, K = 3, N = 6 };

/* 6 examples: repeated ids, a single id, an empty bag, rows 9 and 10 never used */
static int64_t offsets[N + 1] = {0, 3, 4, 4, 8, 10, 13};
static int32_t ids[13] = {2, 3, 2, 5, /* empty */ 1, 4, 4, 4, 6, 7, 2, 8, 0};
static ember_ragged bags = {N, offsets, ids};

static ember_model *text_model(int lazy, ember_optimizer_config opt)
{
    ember_error err;
    ember_model *m;
    CHECK_OK(ember_model_create_ids(&m, 5, &err), &err);
    CHECK_OK(ember_model_add_embedding(m, V, D, lazy, &err), &err);
    CHECK_OK(ember_model_add_global_average_pooling1d(m, &err), &err);
    CHECK_OK(ember_model_add_dense(m, H, EMBER_ACT_TANH, &err), &err);
    CHECK_OK(ember_model_add_dense(m, K, EMBER_ACT_SOFTMAX, &err), &err);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    return m;
}

typedef struct net_case {
    ember_model *m;
    ember_step_ctx ctx;
} net_case;

static double net_f(void *v)
{
    net_case *c = v;
    ember_model *m = c->m;
    const float *p = ember__model_forward(m, N, &c->ctx);
    ember_loss_batch lb = {m->loss, m->fused, p, ember__model_logits(m), m->targets, 1, N, K, NULL, 0};
    int64_t correct;
    ember__loss_compute(&lb, m->row_loss, NULL, &correct);
    double s = 0;
    for (int b = 0; b < N; b++)
        s += m->row_loss[b];
    return s / N;
}

/* Forward + backward on all 6 examples; gradients land in m->grads. */
static void loss_grad(ember_model *m, net_case *c)
{
    ember_error err;
    CHECK_OK(ember__model_arena(m, N, 13, &err), &err);
    for (int b = 0; b < N; b++)
        m->targets[b] = (float)(b % K);
    memset(m->grads, 0, m->n_params * sizeof(float));
    c->m = m;
    c->ctx = (ember_step_ctx){1, {0, 0}, 1, ids, offsets, NULL, 0};
    net_f(c);
    const float *p = m->acts[m->n_layers];
    ember_loss_batch lb = {m->loss, m->fused, p, ember__model_logits(m), m->targets, 1, N, K, NULL, 0};
    int64_t correct;
    ember__loss_compute(&lb, m->row_loss, m->grad_a, &correct);
    ember__model_backward(m, m->grad_a, N, &c->ctx);
}

static void test_gradcheck(void)
{
    ember_model *m = text_model(1, ember_optimizer_adam(0.01f));
    ember_rng r = ember__rng_stream(2, 2, 2, 2);
    for (int64_t i = 0; i < m->n_params; i++)
        m->params[i] = 1.2f * (ember__rng_uniform(&r) - 0.5f);
    net_case c;
    loss_grad(m, &c);
    CHECK(gradcheck_report("embedding+pool+dense+softmax+cce", gradcheck(m->params, m->grads, m->n_params, 0, net_f, &c)));
    /* the touched rows are exactly the ids that occur */
    ember_layer *e = m->layers[0];
    int seen[V] = {0};
    for (int t = 0; t < 13; t++)
        seen[ids[t]] = 1;
    int want = 0;
    for (int v = 0; v < V; v++)
        want += seen[v];
    CHECK(e->n_touched == want);
    for (int64_t k = 0; k < e->n_touched; k++)
        CHECK(seen[e->touched[k]]);
    /* rows never used have zero gradient; a hand value: row 5 appears once,
     * in example 1, a bag of one, so dE[5] = dy[1], the gradient at the
     * pooling output (left in grad_b by the ping-pong backward pass) */
    for (int d = 0; d < D; d++) {
        CHECK(m->grads[9 * D + d] == 0.0f && m->grads[10 * D + d] == 0.0f);
        CHECK(m->grads[5 * D + d] == m->grad_b[1 * D + d]);
    }
    ember_model_destroy(m);
}

static void test_sparse_dense_agree(void)
{
    ember_model *a = text_model(1, ember_optimizer_adam(0.01f));
    ember_model *b = text_model(0, ember_optimizer_adam(0.01f));
    CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0); /* same init */
    net_case ca, cb;
    loss_grad(a, &ca);
    loss_grad(b, &cb);
    CHECK_MSG(memcmp(a->grads, b->grads, a->n_params * sizeof(float)) == 0,
              "lazy and dense embedding gradients must be equal");
    CHECK(a->layers[0]->sparse_grads == 1 && b->layers[0]->sparse_grads == 0);
    ember_model_destroy(a);
    ember_model_destroy(b);
}

static void fit_some(ember_model *m, const ember_ragged *x, int epochs)
{
    ember_error err;
    int64_t ys[1] = {N};
    ember_tensor *y;
    CHECK_OK(ember_tensor_create(&y, 1, ys, &err), &err);
    for (int b = 0; b < N; b++)
        y->data[b] = (float)(b % K);
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = epochs;
    fc.batch_size = 2;
    CHECK_OK(ember_model_fit_ids(m, x, y, &fc, NULL, &err), &err);
    ember_tensor_destroy(y);
}

static void test_training_modes(void)
{
    /* plain SGD: untouched rows get no update either way -> identical */
    ember_model *a = text_model(1, ember_optimizer_sgd(0.1f, 0, 0));
    ember_model *b = text_model(0, ember_optimizer_sgd(0.1f, 0, 0));
    fit_some(a, &bags, 3);
    fit_some(b, &bags, 3);
    CHECK_MSG(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0,
              "lazy and dense SGD must give bit-identical weights");
    ember_model_destroy(a);
    ember_model_destroy(b);

    /* Adam: train on all, then on examples without id 6 and 7 (rows of
     * example 4). Lazy keeps those rows fixed; dense moves them with the
     * decaying moments, as Keras does. */
    a = text_model(1, ember_optimizer_adam(0.05f));
    b = text_model(0, ember_optimizer_adam(0.05f));
    fit_some(a, &bags, 2);
    fit_some(b, &bags, 2);
    float ra[2 * D], rb[2 * D];
    memcpy(ra, a->params + 6 * D, sizeof ra);
    memcpy(rb, b->params + 6 * D, sizeof rb);
    int64_t off2[N + 1] = {0, 3, 4, 4, 8, 8, 11}; /* example 4 emptied */
    int32_t ids2[11] = {2, 3, 2, 5, 1, 4, 4, 4, 2, 8, 0};
    ember_ragged bags2 = {N, off2, ids2};
    fit_some(a, &bags2, 2);
    fit_some(b, &bags2, 2);
    CHECK_MSG(memcmp(ra, a->params + 6 * D, sizeof ra) == 0, "lazy Adam must not move rows outside the batch");
    CHECK_MSG(memcmp(rb, b->params + 6 * D, sizeof rb) != 0, "dense Adam keeps moving rows with momentum");
    /* rows 9 and 10 never had a gradient: unchanged in both */
    ember_model *fresh = text_model(1, ember_optimizer_adam(0.05f));
    CHECK(memcmp(fresh->params + 9 * D, a->params + 9 * D, 2 * D * sizeof(float)) == 0);
    CHECK(memcmp(fresh->params + 9 * D, b->params + 9 * D, 2 * D * sizeof(float)) == 0);
    ember_model_destroy(fresh);
    ember_model_destroy(b);

    /* save -> load -> predict identical */
    char dir[] = "/tmp/ember-emb-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ember_error err;
    CHECK_OK(ember_model_save(a, path, &err), &err);
    ember_model *l = NULL;
    CHECK_OK(ember_model_load(&l, path, &err), &err);
    ember_tensor *p1 = NULL, *p2 = NULL;
    CHECK_OK(ember_model_predict_ids(a, &bags, 4, &p1, &err), &err);
    if (l)
        CHECK_OK(ember_model_predict_ids(l, &bags, 3, &p2, &err), &err);
    CHECK(p1 && p2 && memcmp(p1->data, p2->data, N * K * sizeof(float)) == 0);
    CHECK(l && l->ids_input && l->layers[0]->sparse_grads == 1);
    ember_tensor_destroy(p1);
    ember_tensor_destroy(p2);
    ember_model_destroy(l);
    unlink(path);
    rmdir(dir);
    ember_model_destroy(a);
}

/* fit/evaluate/predict pass each example's distinct ids with counts; the
 * result must equal the plain bag with repeated ids (run through the layer
 * directly), to float rounding. */
static void test_counts_equal_repeats(void)
{
    ember_model *m = text_model(1, ember_optimizer_adam(0.01f));
    ember_error err;
    ember_tensor *p = NULL;
    CHECK_OK(ember_model_predict_ids(m, &bags, 0, &p, &err), &err);
    CHECK_OK(ember__model_arena(m, N, 13, &err), &err);
    ember_step_ctx ctx = {0, {0, 0}, 1, ids, offsets, NULL, 0};
    const float *q = ember__model_forward(m, N, &ctx);
    double worst = 0;
    for (int i = 0; p && i < N * K; i++)
        worst = fmax(worst, fabs(p->data[i] - q[i]));
    CHECK_MSG(p && worst < 1e-6, "counts vs repeats: max diff %g", worst);
    ember_tensor_destroy(p);
    ember_model_destroy(m);
}

static void test_bad(void)
{
    ember_error err;
    ember_model *m = text_model(1, ember_optimizer_adam(0.01f));
    int32_t bad_ids[13];
    memcpy(bad_ids, ids, sizeof ids);
    bad_ids[7] = V;
    ember_ragged bad = {N, offsets, bad_ids};
    ember_tensor *p = NULL;
    CHECK_ERR(ember_model_predict_ids(m, &bad, 0, &p, &err), EMBER_ERR_FORMAT, &err, "example 3: token id 11");
    int64_t bad_off[N + 1] = {0, 3, 2, 4, 8, 10, 13};
    ember_ragged bad2 = {N, bad_off, ids};
    CHECK_ERR(ember_model_predict_ids(m, &bad2, 0, &p, &err), EMBER_ERR_FORMAT, &err, "offsets decrease");
    int64_t xs[2] = {2, 3};
    ember_tensor *x;
    CHECK_OK(ember_tensor_create(&x, 2, xs, &err), &err);
    CHECK_ERR(ember_model_predict(m, x, 0, &p, &err), EMBER_ERR_ARG, &err, "token ids");
    ember_tensor_destroy(x);
    ember_model_destroy(m);

    ember_optimizer_config opt = ember_optimizer_adam(0.01f);
    CHECK_OK(ember_model_create_ids(&m, 1, &err), &err);
    CHECK_OK(ember_model_add_embedding(m, 10, 4, 1, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, &err), &err);
    CHECK_ERR(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), EMBER_ERR_SHAPE,
              &err, "must be followed by global_average_pooling1d");
    ember_model_destroy(m);
    int64_t in[1] = {4};
    CHECK_OK(ember_model_create(&m, 1, in, 1, &err), &err);
    CHECK_ERR(ember_model_add_embedding(m, 10, 4, 1, &err), EMBER_ERR_SHAPE, &err, "first layer");
    CHECK_ERR(ember_model_add_global_average_pooling1d(m, &err), EMBER_ERR_SHAPE, &err, "follow an embedding");
    ember_model_destroy(m);
}

int main(void)
{
    test_gradcheck();
    test_sparse_dense_agree();
    test_training_modes();
    test_counts_equal_repeats();
    test_bad();
    return check_summary("embedding");
}
