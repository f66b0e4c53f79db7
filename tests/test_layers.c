/*
 * test_layers.c - gradient checks (central differences, see gradcheck.h) for
 * every layer and activation, every loss (fused and not, one-hot and integer
 * targets), and a whole 3-layer network; plus tiny hand-computed forward
 * values and the naive-vs-CBLAS gemm comparison.
 */
#include "check.h"
#include "gradcheck.h"
#include "layer_check.h"
#include "kernels/gemm.h"
#include "model/model.h"

#include <stdlib.h>

static void test_dense_and_activations(void)
{
    const ember_activation acts[] = {EMBER_ACT_LINEAR, EMBER_ACT_SIGMOID, EMBER_ACT_TANH,
                                     EMBER_ACT_RELU, EMBER_ACT_SOFTMAX};
    ember_error err;
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        /* odd sizes on purpose */
        int64_t in[1] = {7};
        ember_model *m;
        CHECK_OK(ember_model_create(&m, 1, in, 5, &err), &err);
        CHECK_OK(ember_model_add_dense(m, 5, acts[a], &err), &err);
        char name[64];
        snprintf(name, sizeof name, "dense(%s) 7->5 B=3", ember__act_name(acts[a]));
        check_layer(name, m, 3, 1);
        ember_model_destroy(m);

        CHECK_OK(ember_model_create(&m, 1, in, 5, &err), &err);
        CHECK_OK(ember_model_add_activation(m, acts[a], &err), &err);
        snprintf(name, sizeof name, "activation(%s) 7 B=4", ember__act_name(acts[a]));
        check_layer(name, m, 4, 1);
        ember_model_destroy(m);
    }
    /* dense without bias, He init */
    int64_t in[1] = {6};
    ember_model *m;
    CHECK_OK(ember_model_create(&m, 1, in, 5, &err), &err);
    ember_dense_config dc = ember_dense_config_default(9);
    dc.use_bias = 0;
    dc.kernel_init = EMBER_INIT_HE_NORMAL;
    dc.activation = EMBER_ACT_TANH;
    CHECK_OK(ember_model_add_dense_ex(m, &dc, &err), &err);
    CHECK(ember_model_param_count(m) == 54);
    check_layer("dense(tanh, no bias) 6->9 B=2", m, 2, 1);
    ember_model_destroy(m);
}

static void test_dropout(void)
{
    ember_error err;
    int64_t in[1] = {50};
    ember_model *m;
    CHECK_OK(ember_model_create(&m, 1, in, 5, &err), &err);
    CHECK_OK(ember_model_add_dropout(m, 0.3f, &err), &err);
    check_layer("dropout(0.3) training", m, 8, 1);
    /* statistics: about 30% zeros, survivors scaled by 1/0.7; identity in eval */
    ember_layer *l = m->layers[0];
    int64_t n = 8 * 50;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        x[i] = 1.0f;
    ember_step_ctx tr = {1, ember__rng_stream(3, 3, 0, 0), 1, NULL, NULL, NULL, 0}, ev = {0, {0, 0}, 1, NULL, NULL, NULL, 0};
    l->ops->forward(l, y, x, 8, &tr);
    int64_t zeros = 0, scaled = 0;
    for (int64_t i = 0; i < n; i++) {
        zeros += y[i] == 0.0f;
        scaled += fabsf(y[i] - 1.0f / 0.7f) < 1e-6f;
    }
    CHECK_MSG(zeros + scaled == n, "dropout outputs must be 0 or 1/(1-rate)");
    /* 400 Bernoulli(0.3) draws: mean 120, sd 9.2; 5 sd bounds */
    CHECK_MSG(zeros > 74 && zeros < 166, "dropout zeroed %lld of 400 (expect ~120)", (long long)zeros);
    l->ops->forward(l, y, x, 8, &ev);
    int64_t same = 0;
    for (int64_t i = 0; i < n; i++)
        same += y[i] == 1.0f;
    CHECK_MSG(same == n, "dropout must be the identity in evaluation");
    free(x);
    free(y);
    ember_model_destroy(m);
    CHECK_OK(ember_model_create(&m, 1, in, 5, &err), &err);
    CHECK_ERR(ember_model_add_dropout(m, 1.0f, &err), EMBER_ERR_ARG, &err, "dropout rate");
    CHECK_ERR(ember_model_add_dropout(m, -0.1f, &err), EMBER_ERR_ARG, &err, "layer 0 (dropout)");
    ember_model_destroy(m);
}

/* ---- hand-computed forward values ---- */
static void test_exact_values(void)
{
    float x[3] = {1.0f, 2.0f, 3.0f}, y[3];
    ember__act_forward(EMBER_ACT_SOFTMAX, y, x, 1, 3);
    /* e^-2, e^-1, 1 over their sum 1.5032147244 */
    CHECK_CLOSE(y[0], 0.0900305732, 1e-7, 0);
    CHECK_CLOSE(y[1], 0.2447284711, 1e-7, 0);
    CHECK_CLOSE(y[2], 0.6652409558, 1e-7, 0);
    float big[2] = {1000.0f, 0.0f};
    ember__act_forward(EMBER_ACT_SOFTMAX, y, big, 1, 2);
    CHECK(y[0] == 1.0f && y[1] == 0.0f); /* no overflow */
    float s[3] = {-800.0f, 0.0f, 2.0f};
    ember__act_forward(EMBER_ACT_SIGMOID, y, s, 1, 3);
    CHECK(y[0] == 0.0f && y[1] == 0.5f);
    CHECK_CLOSE(y[2], 0.8807970780, 1e-7, 0);
    ember__act_forward(EMBER_ACT_TANH, y, s, 1, 3);
    CHECK_CLOSE(y[2], 0.9640275801, 1e-7, 0);
    ember__act_forward(EMBER_ACT_RELU, y, s, 1, 3);
    CHECK(y[0] == 0.0f && y[1] == 0.0f && y[2] == 2.0f);

    /* Dense 2->2 with W = [[1,2],[3,4]], b = [0.5,-1]: x=[1,1] -> [4.5, 5] */
    ember_error err;
    int64_t in[1] = {2};
    ember_model *m;
    CHECK_OK(ember_model_create(&m, 1, in, 1, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 2, EMBER_ACT_LINEAR, &err), &err);
    ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0, 0);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_MSE, &err), &err);
    float p[6] = {1, 2, 3, 4, 0.5f, -1};
    memcpy(m->params, p, sizeof p);
    ember_tensor *xt, *out;
    int64_t xs[2] = {1, 2};
    CHECK_OK(ember_tensor_create(&xt, 2, xs, &err), &err);
    xt->data[0] = xt->data[1] = 1.0f;
    CHECK_OK(ember_model_predict(m, xt, 0, &out, &err), &err);
    CHECK(out->data[0] == 4.5f && out->data[1] == 5.0f);
    ember_tensor_destroy(out);
    ember_tensor_destroy(xt);
    ember_model_destroy(m);
}

/* ---- losses ---- */

typedef struct loss_case {
    ember_loss_batch lb;
    float *in;      /* what we differentiate: logits (fused) or p */
    float *p;       /* probabilities */
    float *row;
    ember_activation act;
} loss_case;

static double loss_f(void *v)
{
    loss_case *c = v;
    if (c->lb.fused)
        ember__act_forward(c->act, c->p, c->in, c->lb.B, c->lb.K);
    int64_t correct;
    ember__loss_compute(&c->lb, c->row, NULL, &correct);
    double s = 0.0;
    for (int64_t b = 0; b < c->lb.B; b++)
        s += c->row[b];
    return s / (double)c->lb.B;
}

static void check_loss(const char *name, ember_loss_kind kind, int fused, int sparse)
{
    enum { B = 5, K = 4 };
    float in[B * K], p[B * K], t[B * K], row[B], d[B * K];
    ember_rng r = ember__rng_stream(99, 9, (uint64_t)kind, (uint64_t)(fused * 2 + sparse));
    ember_activation act = kind == EMBER_LOSS_BINARY_CROSSENTROPY ? EMBER_ACT_SIGMOID : EMBER_ACT_SOFTMAX;
    if (fused)
        fill_uniform(in, B * K, &r, -2.0f, 2.0f);
    else
        fill_uniform(in, B * K, &r, 0.05f, 0.95f); /* away from the clipping edges */
    for (int b = 0; b < B; b++) {
        if (sparse) {
            t[b] = (float)((b * 3) % K);
        } else if (kind == EMBER_LOSS_CATEGORICAL_CROSSENTROPY) {
            float s = 0;
            for (int k = 0; k < K; k++)
                s += t[b * K + k] = ember__rng_uniform(&r); /* soft targets */
            for (int k = 0; k < K; k++)
                t[b * K + k] /= s;
        } else {
            for (int k = 0; k < K; k++)
                t[b * K + k] = kind == EMBER_LOSS_MSE ? 2 * ember__rng_uniform(&r) - 1
                                                      : ember__rng_uniform(&r);
        }
    }
    loss_case c = {{kind, fused, fused ? p : in, fused ? in : NULL, t, sparse, B, K, NULL, 0}, in, p, row, act};
    loss_f(&c);
    int64_t correct;
    ember__loss_compute(&c.lb, row, d, &correct);
    CHECK(gradcheck_report(name, gradcheck(in, d, B * K, 0, loss_f, &c)));
}

static void test_losses(void)
{
    check_loss("cce fused softmax, one-hot/soft targets", EMBER_LOSS_CATEGORICAL_CROSSENTROPY, 1, 0);
    check_loss("cce fused softmax, integer labels", EMBER_LOSS_CATEGORICAL_CROSSENTROPY, 1, 1);
    check_loss("cce on probabilities", EMBER_LOSS_CATEGORICAL_CROSSENTROPY, 0, 0);
    check_loss("cce on probabilities, integer labels", EMBER_LOSS_CATEGORICAL_CROSSENTROPY, 0, 1);
    check_loss("bce fused sigmoid", EMBER_LOSS_BINARY_CROSSENTROPY, 1, 0);
    check_loss("bce on probabilities", EMBER_LOSS_BINARY_CROSSENTROPY, 0, 0);
    check_loss("mse", EMBER_LOSS_MSE, 0, 0);

    /* exact values: CCE of softmax([1,2,3]) for class 2 = log(sum e^(z-3)) */
    float z[3] = {1, 2, 3}, p[3], row[1], t1[1] = {2}, d[3];
    ember__act_forward(EMBER_ACT_SOFTMAX, p, z, 1, 3);
    ember_loss_batch lb = {EMBER_LOSS_CATEGORICAL_CROSSENTROPY, 1, p, z, t1, 1, 1, 3, NULL, 0};
    int64_t c;
    ember__loss_compute(&lb, row, d, &c);
    CHECK_CLOSE(row[0], 0.4076059644, 1e-6, 0);
    CHECK(c == 1);
    CHECK_CLOSE(d[2], 0.6652409558 - 1.0, 1e-6, 0);
    /* fused CCE stays finite where p underflows to 0 */
    float zb[2] = {0.0f, 200.0f}, pb[2], t0[1] = {0};
    ember__act_forward(EMBER_ACT_SOFTMAX, pb, zb, 1, 2);
    ember_loss_batch lb2 = {EMBER_LOSS_CATEGORICAL_CROSSENTROPY, 1, pb, zb, t0, 1, 1, 2, NULL, 0};
    ember__loss_compute(&lb2, row, d, &c);
    CHECK_CLOSE(row[0], 200.0, 1e-4, 0);
    /* BCE of p = 0.8 against 1: -log(0.8); MSE of [1,3] vs [0,0]: 5 */
    float pp[1] = {0.8f}, tt[1] = {1.0f};
    ember_loss_batch lb3 = {EMBER_LOSS_BINARY_CROSSENTROPY, 0, pp, NULL, tt, 0, 1, 1, NULL, 0};
    ember__loss_compute(&lb3, row, NULL, &c);
    CHECK_CLOSE(row[0], 0.2231435513, 1e-6, 0);
    float pm[2] = {1, 3}, tm[2] = {0, 0};
    ember_loss_batch lb4 = {EMBER_LOSS_MSE, 0, pm, NULL, tm, 0, 1, 2, NULL, 0};
    ember__loss_compute(&lb4, row, d, &c);
    CHECK_CLOSE(row[0], 5.0, 1e-6, 0);
    CHECK_CLOSE(d[1], 3.0, 1e-6, 0); /* 2 * 3 / (B*K = 2) */
}

/* ---- a whole network: parameters of all three layers at once ---- */

typedef struct net_case {
    ember_model *m;
    int64_t B;
    int sparse;
    ember_step_ctx ctx;
    const float *x;
} net_case;

static double net_f(void *v)
{
    net_case *c = v;
    ember_model *m = c->m;
    memcpy(m->acts[0], c->x, c->B * m->input_size * sizeof(float));
    const float *p = ember__model_forward(m, c->B, &c->ctx);
    ember_loss_batch lb = {m->loss, m->fused, p, m->fused ? ember__model_logits(m) : NULL,
                           m->targets, c->sparse, c->B, ember__model_out_size(m), NULL, 0};
    int64_t correct;
    ember__loss_compute(&lb, m->row_loss, NULL, &correct);
    double s = 0;
    for (int64_t b = 0; b < c->B; b++)
        s += m->row_loss[b];
    return s / (double)c->B;
}

static void check_network(const char *name, ember_loss_kind loss, ember_activation out_act,
                          int64_t K, int standalone_softmax, int with_dropout)
{
    ember_error err;
    int64_t in[1] = {6}, B = 4;
    ember_model *m;
    CHECK_OK(ember_model_create(&m, 1, in, 11, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 8, EMBER_ACT_TANH, &err), &err);
    if (with_dropout)
        CHECK_OK(ember_model_add_dropout(m, 0.25f, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 7, EMBER_ACT_RELU, &err), &err);
    if (standalone_softmax) {
        CHECK_OK(ember_model_add_dense(m, K, EMBER_ACT_LINEAR, &err), &err);
        CHECK_OK(ember_model_add_activation(m, out_act, &err), &err);
    } else {
        CHECK_OK(ember_model_add_dense(m, K, out_act, &err), &err);
    }
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    CHECK_OK(ember_model_compile(m, &opt, loss, &err), &err);
    CHECK_OK(ember__model_arena(m, B, 0, &err), &err);
    float x[24];
    ember_rng r = ember__rng_stream(5, 9, 9, 9);
    fill_uniform(x, 24, &r, -1, 1);
    fill_uniform(m->params, m->n_params, &r, -0.6f, 0.6f);
    int sparse = loss == EMBER_LOSS_CATEGORICAL_CROSSENTROPY;
    for (int64_t b = 0; b < B; b++)
        if (sparse)
            m->targets[b] = (float)(b % K);
        else
            for (int64_t k = 0; k < K; k++)
                m->targets[b * K + k] = ember__rng_uniform(&r);
    net_case c = {m, B, sparse, {with_dropout, ember__rng_stream(1, 3, 0, 0), 1, NULL, NULL, NULL, 0}, x};
    net_f(&c);
    const float *p = m->acts[m->n_layers];
    ember_loss_batch lb = {m->loss, m->fused, p, m->fused ? ember__model_logits(m) : NULL,
                           m->targets, sparse, B, K, NULL, 0};
    int64_t correct;
    float *dout = malloc(B * K * sizeof(float));
    ember__loss_compute(&lb, m->row_loss, dout, &correct);
    memcpy(m->grad_a, dout, B * K * sizeof(float));
    memset(m->grads, 0, m->n_params * sizeof(float));
    ember__model_backward(m, m->grad_a, B, &c.ctx);
    CHECK(gradcheck_report(name, gradcheck(m->params, m->grads, m->n_params, 0, net_f, &c)));
    free(dout);
    ember_model_destroy(m);
}

static void test_networks(void)
{
    check_network("net tanh-relu-softmax + cce (fused)", EMBER_LOSS_CATEGORICAL_CROSSENTROPY,
                  EMBER_ACT_SOFTMAX, 5, 0, 0);
    check_network("net ... dense + Activation(softmax) + cce", EMBER_LOSS_CATEGORICAL_CROSSENTROPY,
                  EMBER_ACT_SOFTMAX, 5, 1, 0);
    check_network("net with dropout + cce", EMBER_LOSS_CATEGORICAL_CROSSENTROPY, EMBER_ACT_SOFTMAX,
                  3, 0, 1);
    check_network("net tanh-relu-sigmoid + bce (fused)", EMBER_LOSS_BINARY_CROSSENTROPY,
                  EMBER_ACT_SIGMOID, 3, 0, 0);
    check_network("net tanh-relu-softmax + mse (unfused)", EMBER_LOSS_MSE, EMBER_ACT_SOFTMAX, 4, 0, 0);
}

static void test_gemm(void)
{
    /* CBLAS against the naive reference on odd shapes, all transposes */
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 1, 9}, {33, 65, 31}, {64, 10, 784}, {256, 300, 100}, {50, 700, 300}};
    ember_rng r = ember__rng_stream(3, 3, 3, 3);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                float *A = malloc(M * K * 4), *Bm = malloc(K * N * 4), *C1 = malloc(M * N * 4),
                      *C2 = malloc(M * N * 4);
                fill_uniform(A, M * K, &r, -1, 1);
                fill_uniform(Bm, K * N, &r, -1, 1);
                fill_uniform(C1, M * N, &r, -1, 1);
                memcpy(C2, C1, M * N * 4);
                ember__gemm(1 + (int)(s % 2), ta, tb, M, N, K, 0.5f, A, Bm, 1.0f, C1);
                ember__gemm_naive(ta, tb, M, N, K, 0.5f, A, Bm, 1.0f, C2);
                double worst = 0;
                for (int64_t i = 0; i < M * N; i++)
                    worst = fmax(worst, fabs(C1[i] - C2[i]));
                /* float accumulation over K terms of size <= 1: K * 2^-24 bound, x4 margin */
                CHECK_MSG(worst <= 4.0 * K * 6e-8 + 1e-6, "gemm %lldx%lldx%lld ta=%d tb=%d: max diff %g",
                          (long long)M, (long long)N, (long long)K, ta, tb, worst);
                free(A);
                free(Bm);
                free(C1);
                free(C2);
            }
}

int main(void)
{
    test_exact_values();
    test_dense_and_activations();
    test_dropout();
    test_losses();
    test_networks();
    test_gemm();
    return check_summary("layers");
}
