#define _POSIX_C_SOURCE 200809L
/*
 * test_conv.c - the image layers: gradient checks (central differences, see
 * gradcheck.h) for Conv2D (strides, paddings, odd sizes, 1x1, no bias),
 * MaxPool2D, AveragePool2D, GlobalAveragePooling2D, Flatten and
 * BatchNormalization (training), and a whole CNN with its loss; the im2col +
 * sgemm Conv2D against the naive direct convolution on odd shapes with 1 and
 * 2 threads; exact values for pooling and BatchNormalization (inference);
 * the architecture lines; save/load; and a small CNN that must learn.
 */
#include "check.h"
#include "layer_check.h"
#include "kernels/conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static ember_model *image_model(int64_t H, int64_t W, int64_t C)
{
    ember_error err;
    int64_t in[3] = {H, W, C};
    ember_model *m = NULL;
    CHECK_OK(ember_model_create(&m, 3, in, 5, &err), &err);
    return m;
}

static void test_conv_gradients(void)
{
    struct {
        int64_t H, W, C, F, kh, kw, sh, sw;
        ember_padding pad;
        ember_activation act;
        int bias;
    } cases[] = {
        {5, 6, 3, 4, 3, 3, 1, 1, EMBER_PADDING_VALID, EMBER_ACT_LINEAR, 1},
        {5, 6, 3, 4, 3, 3, 1, 1, EMBER_PADDING_VALID, EMBER_ACT_RELU, 1},
        {7, 5, 2, 3, 3, 3, 2, 2, EMBER_PADDING_SAME, EMBER_ACT_TANH, 1},
        {6, 7, 2, 5, 2, 3, 2, 1, EMBER_PADDING_SAME, EMBER_ACT_LINEAR, 0},
        {6, 7, 1, 2, 5, 5, 3, 3, EMBER_PADDING_SAME, EMBER_ACT_SIGMOID, 1},
        {4, 5, 3, 2, 1, 1, 1, 1, EMBER_PADDING_VALID, EMBER_ACT_LINEAR, 1}, /* 1x1: no im2col */
        {9, 4, 2, 3, 4, 2, 3, 2, EMBER_PADDING_VALID, EMBER_ACT_LINEAR, 1},
        /* windows of < 16 values run the direct kernel */
        {6, 5, 1, 4, 3, 3, 1, 1, EMBER_PADDING_VALID, EMBER_ACT_RELU, 1},
        {7, 6, 2, 5, 2, 3, 2, 1, EMBER_PADDING_SAME, EMBER_ACT_TANH, 1},
        {5, 5, 1, 3, 3, 3, 2, 2, EMBER_PADDING_SAME, EMBER_ACT_LINEAR, 0},
    };
    ember_error err;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ember_model *m = image_model(cases[i].H, cases[i].W, cases[i].C);
        ember_conv2d_config c = ember_conv2d_config_default(cases[i].F, cases[i].kh);
        c.kernel_w = cases[i].kw;
        c.stride_h = cases[i].sh;
        c.stride_w = cases[i].sw;
        c.padding = cases[i].pad;
        c.activation = cases[i].act;
        c.use_bias = cases[i].bias;
        CHECK_OK(ember_model_add_conv2d_ex(m, &c, &err), &err);
        char name[128];
        snprintf(name, sizeof name, "conv2d %lldx%lldx%lld F=%lld k=%lldx%lld s=%lldx%lld %s %s%s",
                 (long long)cases[i].H, (long long)cases[i].W, (long long)cases[i].C,
                 (long long)cases[i].F, (long long)cases[i].kh, (long long)cases[i].kw,
                 (long long)cases[i].sh, (long long)cases[i].sw,
                 cases[i].pad == EMBER_PADDING_SAME ? "same" : "valid",
                 ember__act_name(cases[i].act), cases[i].bias ? "" : " nobias");
        check_layer(name, m, 2, 1);
        ember_model_destroy(m);
    }
}

static void test_pool_gradients(void)
{
    ember_error err;
    struct {
        int max;
        int64_t H, W, C, ph, pw, sh, sw;
        ember_padding pad;
    } cases[] = {
        {1, 5, 6, 3, 2, 2, 0, 0, EMBER_PADDING_VALID}, /* drops the last row */
        {1, 7, 7, 2, 3, 3, 2, 2, EMBER_PADDING_SAME},
        {1, 5, 4, 2, 2, 2, 1, 1, EMBER_PADDING_VALID}, /* overlapping windows */
        {0, 5, 6, 3, 2, 2, 0, 0, EMBER_PADDING_VALID},
        {0, 7, 5, 2, 3, 3, 2, 2, EMBER_PADDING_SAME},
        {0, 5, 4, 2, 2, 3, 1, 1, EMBER_PADDING_SAME},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ember_model *m = image_model(cases[i].H, cases[i].W, cases[i].C);
        ember_pool2d_config c = {cases[i].ph, cases[i].pw, cases[i].sh, cases[i].sw, cases[i].pad};
        CHECK_OK(cases[i].max ? ember_model_add_max_pool2d_ex(m, &c, &err)
                              : ember_model_add_average_pool2d_ex(m, &c, &err), &err);
        char name[128];
        snprintf(name, sizeof name, "%s %lldx%lldx%lld pool %lldx%lld stride %lldx%lld %s",
                 cases[i].max ? "max_pool2d" : "average_pool2d", (long long)cases[i].H,
                 (long long)cases[i].W, (long long)cases[i].C, (long long)cases[i].ph,
                 (long long)cases[i].pw, (long long)cases[i].sh, (long long)cases[i].sw,
                 cases[i].pad == EMBER_PADDING_SAME ? "same" : "valid");
        check_layer(name, m, 3, 1);
        ember_model_destroy(m);
    }
    ember_model *m = image_model(3, 5, 4);
    CHECK_OK(ember_model_add_global_average_pooling2d(m, &err), &err);
    check_layer("global_average_pooling2d 3x5x4", m, 3, 1);
    ember_model_destroy(m);
    m = image_model(3, 2, 4);
    CHECK_OK(ember_model_add_flatten(m, &err), &err);
    CHECK(m->layers[0]->out_size == 24 && m->layers[0]->out_rank == 1);
    check_layer("flatten 3x2x4", m, 2, 1);
    ember_model_destroy(m);
    m = image_model(4, 3, 5);
    CHECK_OK(ember_model_add_batch_normalization(m, 0.9f, 1e-3f, &err), &err);
    check_layer("batch_normalization 4x3x5 (training)", m, 3, 1);
    ember_model_destroy(m);
    int64_t in1[1] = {7};
    CHECK_OK(ember_model_create(&m, 1, in1, 5, &err), &err);
    CHECK_OK(ember_model_add_batch_normalization(m, 0.99f, 1e-3f, &err), &err);
    check_layer("batch_normalization 7 features (training)", m, 5, 1);
    ember_model_destroy(m);
}

/* Exact small cases computed by hand. */
static void test_exact_values(void)
{
    /* 3x3 input, 1 channel: 1..9. max 2x2 stride 1 valid -> [[5,6],[8,9]];
     * average 2x2 stride 2 same -> windows {1,2,4,5} {3,6} {7,8} {9}. */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y[4], dx[9];
    int32_t arg[4];
    ember_conv_geom g;
    ember_error err;
    CHECK_OK(ember__conv_geom(&g, 3, 3, 1, 2, 2, 1, 1, 0, &err), &err);
    ember__maxpool_fwd(&g, x, 1, y, arg, 1);
    CHECK(y[0] == 5 && y[1] == 6 && y[2] == 8 && y[3] == 9);
    float dy[4] = {1, 10, 100, 1000};
    ember__maxpool_bwd(&g, arg, dy, 1, dx, 1);
    CHECK(dx[4] == 1 && dx[5] == 10 && dx[7] == 100 && dx[8] == 1000 && dx[0] == 0);
    CHECK_OK(ember__conv_geom(&g, 3, 3, 1, 2, 2, 2, 2, 1, &err), &err);
    CHECK(g.OH == 2 && g.OW == 2 && g.pt == 0 && g.pl == 0);
    ember__avgpool_fwd(&g, x, 1, y, 1);
    CHECK_CLOSE(y[0], 3.0, 1e-6, 0);
    CHECK_CLOSE(y[1], 4.5, 1e-6, 0);
    CHECK_CLOSE(y[2], 7.5, 1e-6, 0);
    CHECK_CLOSE(y[3], 9.0, 1e-6, 0);
    /* ties: the first maximum in window order gets the gradient */
    float t[4] = {2, 2, 2, 2}, ty[1], tdx[4], tdy[1] = {1};
    int32_t targ[1];
    CHECK_OK(ember__conv_geom(&g, 2, 2, 1, 2, 2, 2, 2, 0, &err), &err);
    ember__maxpool_fwd(&g, t, 1, ty, targ, 1);
    ember__maxpool_bwd(&g, targ, tdy, 1, tdx, 1);
    CHECK(tdx[0] == 1 && tdx[1] == 0 && tdx[2] == 0 && tdx[3] == 0);
    /* Keras/TF "same" geometry: H=5, k=3, s=2 -> out 3, pad 2 -> 1 before */
    CHECK_OK(ember__conv_geom(&g, 5, 6, 1, 3, 2, 2, 2, 1, &err), &err);
    CHECK(g.OH == 3 && g.pt == 1 && g.OW == 3 && g.pl == 0);
    CHECK_ERR(ember__conv_geom(&g, 2, 6, 1, 3, 3, 1, 1, 0, &err), EMBER_ERR_SHAPE, &err,
              "does not fit");

    /* BatchNormalization in inference: gamma (x - mean) / sqrt(var + eps) + beta */
    int64_t in[1] = {2};
    ember_model *m;
    CHECK_OK(ember_model_create(&m, 1, in, 1, &err), &err);
    CHECK_OK(ember_model_add_batch_normalization(m, 0.5f, 1e-3f, &err), &err);
    ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0, 0);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_MSE, &err), &err);
    float *p = m->layers[0]->params; /* gamma, beta, mean, var */
    p[0] = 2, p[1] = -1, p[2] = 0.5f, p[3] = -3, p[4] = 1, p[5] = 2, p[6] = 4, p[7] = 0.25f;
    int64_t xs[2] = {2, 2};
    ember_tensor *xt, *out = NULL;
    CHECK_OK(ember_tensor_create(&xt, 2, xs, &err), &err);
    float xv[4] = {3, 0, -1, 2};
    memcpy(xt->data, xv, sizeof xv);
    CHECK_OK(ember_model_predict(m, xt, 0, &out, &err), &err);
    if (out) {
        CHECK_CLOSE(out->data[0], 2 * (3 - 1) / sqrt(4.001) + 0.5, 1e-5, 1e-5);
        CHECK_CLOSE(out->data[1], -1 * (0 - 2) / sqrt(0.251) - 3, 1e-5, 1e-5);
        CHECK_CLOSE(out->data[2], 2 * (-1 - 1) / sqrt(4.001) + 0.5, 1e-5, 1e-5);
    }
    ember_tensor_destroy(out);
    /* one training step with SGD: moving stats move by (1 - momentum) toward
     * the batch's mean and biased variance; they are not trained */
    float yv[4] = {0, 0, 0, 0};
    ember_tensor *yt;
    CHECK_OK(ember_tensor_create(&yt, 2, xs, &err), &err);
    memcpy(yt->data, yv, sizeof yv);
    ember_fit_config fc = ember_fit_config_default();
    fc.batch_size = 2;
    fc.shuffle = 0;
    CHECK_OK(ember_model_fit(m, xt, yt, &fc, NULL, &err), &err);
    /* batch: feature 0 {3, -1} mean 1 var 4; feature 1 {0, 2} mean 1 var 1 */
    CHECK_CLOSE(p[4], 0.5 * 1 + 0.5 * 1, 1e-6, 0);
    CHECK_CLOSE(p[5], 0.5 * 2 + 0.5 * 1, 1e-6, 0);
    CHECK_CLOSE(p[6], 0.5 * 4 + 0.5 * 4, 1e-5, 0);
    CHECK_CLOSE(p[7], 0.5 * 0.25 + 0.5 * 1, 1e-6, 0);
    ember_tensor_destroy(xt);
    ember_tensor_destroy(yt);
    ember_model_destroy(m);
}

static void fill(float *v, int64_t n, ember_rng *r)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = 2.0f * ember__rng_uniform(r) - 1.0f;
}

/* im2col + sgemm (the layer) against the direct reference, forward and
 * backward. Tolerance: both compute sums of K = kh*kw*C products of
 * values in [-1, 1]; float accumulation errs by at most K * 2^-24 per unit
 * of the terms' size, so |fast - ref| <= 4 * K * 6e-8 * (max |term| sum
 * bound) + 1e-6; the bound used is 4 * K * 6e-8 * K + 1e-6 (terms <= 1). */
static void test_fast_equals_reference(void)
{
    const int64_t shapes[][9] = {
        /* H, W, C, F, kh, kw, sh, sw, same */
        {28, 28, 1, 32, 3, 3, 1, 1, 0}, {13, 13, 32, 64, 3, 3, 1, 1, 0}, {11, 7, 5, 6, 3, 2, 2, 3, 1},
        {9, 9, 3, 7, 5, 5, 2, 2, 1},    {8, 6, 4, 3, 1, 1, 1, 1, 0},     {5, 17, 2, 9, 4, 4, 3, 1, 0},
        {1, 1, 7, 3, 1, 1, 1, 1, 1},    {6, 6, 3, 2, 6, 6, 1, 1, 0},     {7, 8, 2, 5, 2, 3, 2, 1, 1},
        {10, 9, 1, 64, 3, 3, 1, 1, 1},  {6, 6, 1, 17, 3, 5, 2, 2, 0},
    };
    ember_rng r = ember__rng_stream(99, 9, 1, 2);
    ember_error err;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int threads = 1; threads <= 2; threads++) {
            const int64_t *q = shapes[s];
            int64_t B = 3;
            ember_model *m = image_model(q[0], q[1], q[2]);
            ember_conv2d_config c = ember_conv2d_config_default(q[3], q[4]);
            c.kernel_w = q[5], c.stride_h = q[6], c.stride_w = q[7];
            c.padding = q[8] ? EMBER_PADDING_SAME : EMBER_PADDING_VALID;
            CHECK_OK(ember_model_add_conv2d_ex(m, &c, &err), &err);
            ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0, 0);
            CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_MSE, &err), &err);
            CHECK_OK(ember__model_arena(m, B, 0, &err), &err);
            ember_layer *l = m->layers[0];
            const conv2d_config *cc = l->config;
            CHECK(cc->algo == (q[4] * q[5] * q[2] < EMBER_DIRECT_MAX_K && !(q[4] == 1 && q[5] == 1 && q[6] == 1 && q[7] == 1 && !q[8]) ? CONV_DIRECT : cc->algo));
            int64_t nin = B * l->in_size, nout = B * l->out_size, K = q[4] * q[5] * q[2];
            int64_t nk = K * q[3];
            float *x = m->acts[0], *y = m->acts[1];
            float *yr = malloc(nout * 4), *dy = malloc(nout * 4), *dx = malloc(nin * 4),
                  *dxr = malloc(nin * 4), *dkr = calloc(nk + q[3], 4);
            fill(x, nin, &r);
            fill(l->params, l->param_count, &r);
            fill(dy, nout, &r);
            ember_step_ctx ctx = {1, ember__rng_stream(1, 3, 0, 0), threads, NULL, NULL, NULL, 0};
            l->ops->forward(l, y, x, B, &ctx);
            ember__conv2d_ref_fwd(&cc->g, q[3], x, l->params, l->params + nk, B, yr);
            memset(l->grads, 0, l->param_count * 4);
            l->ops->backward(l, dx, dy, x, y, B, &ctx);
            ember__conv2d_ref_bwd(&cc->g, q[3], x, l->params, dy, B, dxr, dkr, dkr + nk);
            double tol = 4.0 * (double)K * 6e-8 * (double)K + 1e-6, wy = 0, wx = 0, wk = 0;
            for (int64_t i = 0; i < nout; i++)
                wy = fmax(wy, fabs(y[i] - yr[i]));
            for (int64_t i = 0; i < nin; i++)
                wx = fmax(wx, fabs(dx[i] - dxr[i]));
            /* dK sums B*OH*OW terms */
            int64_t P = B * cc->g.OH * cc->g.OW;
            for (int64_t i = 0; i < nk + q[3]; i++)
                wk = fmax(wk, fabs(l->grads[i] - dkr[i]));
            double tolk = 4.0 * (double)P * 6e-8 * (double)P + 1e-6;
            CHECK_MSG(wy <= tol && wx <= 4.0 * q[3] * 6e-8 * K * q[3] + 1e-6 && wk <= tolk,
                      "conv %lldx%lldx%lld F=%lld k=%lldx%lld s=%lldx%lld %s threads=%d: max "
                      "diff y %g, dx %g, dK %g (tol %g / %g)", (long long)q[0], (long long)q[1],
                      (long long)q[2], (long long)q[3], (long long)q[4], (long long)q[5],
                      (long long)q[6], (long long)q[7], q[8] ? "same" : "valid", threads, wy, wx,
                      wk, tol, tolk);
            free(yr);
            free(dy);
            free(dx);
            free(dxr);
            free(dkr);
            ember_model_destroy(m);
        }
}

/* Max pooling's 8-channel vector path (C % 8 == 0, with argmax) against
 * the scalar path and a brute-force argmax: same values, and each recorded
 * offset is the window's first maximum in row-major window order. Ties are
 * forced by rounding the inputs to a few levels. */
static void test_maxpool_vector_path(void)
{
    const int64_t cases[][6] = {{6, 7, 16, 2, 2, 0}, {7, 5, 8, 3, 2, 1}, {5, 5, 24, 3, 3, 1}};
    ember_rng r = ember__rng_stream(8, 9, 1, 1);
    ember_error err;
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        const int64_t *q = cases[t];
        ember_conv_geom g;
        CHECK_OK(ember__conv_geom(&g, q[0], q[1], q[2], q[3], q[3], q[4], q[4], (int)q[5], &err), &err);
        int64_t B = 2, nin = q[0] * q[1] * q[2], nout = g.OH * g.OW * q[2];
        float *x = malloc(B * nin * 4), *y1 = malloc(B * nout * 4), *y2 = malloc(B * nout * 4);
        int32_t *arg = malloc(B * nout * 4);
        for (int64_t i = 0; i < B * nin; i++)
            x[i] = (float)(int)(4 * ember__rng_uniform(&r)); /* many ties */
        ember__maxpool_fwd(&g, x, B, y1, arg, 1);
        ember__maxpool_fwd(&g, x, B, y2, NULL, 2);
        int64_t bad = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t oh = 0; oh < g.OH; oh++)
                for (int64_t ow = 0; ow < g.OW; ow++)
                    for (int64_t c = 0; c < q[2]; c++) {
                        int64_t o = b * nout + (oh * g.OW + ow) * q[2] + c, first = -1;
                        float mx = -1e30f;
                        for (int64_t i = 0; i < g.kh; i++)
                            for (int64_t j = 0; j < g.kw; j++) {
                                int64_t ih = oh * g.sh - g.pt + i, iw = ow * g.sw - g.pl + j;
                                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W)
                                    continue;
                                int64_t at = (ih * g.W + iw) * q[2] + c;
                                if (x[b * nin + at] > mx) {
                                    mx = x[b * nin + at];
                                    first = at;
                                }
                            }
                        bad += y1[o] != mx || y2[o] != mx || arg[o] != first;
                    }
        CHECK_MSG(bad == 0, "max pool %lldx%lldx%lld pool %lld: %lld outputs differ", (long long)q[0],
                  (long long)q[1], (long long)q[2], (long long)q[3], (long long)bad);
        free(x);
        free(y1);
        free(y2);
        free(arg);
    }
}

/* conv -> max pool -> batch norm -> flatten -> dense softmax, fused CCE:
 * the whole network's parameter gradient. */
typedef struct net_case {
    ember_model *m;
    int64_t B;
    ember_step_ctx ctx;
    const float *x;
} net_case;

static double net_f(void *v)
{
    net_case *c = v;
    ember_model *m = c->m;
    memcpy(m->acts[0], c->x, c->B * m->input_size * sizeof(float));
    const float *p = ember__model_forward(m, c->B, &c->ctx);
    ember_loss_batch lb = {m->loss, m->fused, p, ember__model_logits(m), m->targets, 1, c->B,
                           ember__model_out_size(m), NULL, 0};
    int64_t correct;
    ember__loss_compute(&lb, m->row_loss, NULL, &correct);
    double s = 0;
    for (int64_t b = 0; b < c->B; b++)
        s += m->row_loss[b];
    return s / (double)c->B;
}

static void test_network_gradient(void)
{
    ember_error err;
    ember_model *m = image_model(7, 6, 2);
    int64_t B = 3, K = 3;
    ember_conv2d_config cc = ember_conv2d_config_default(4, 3);
    cc.activation = EMBER_ACT_TANH;
    cc.padding = EMBER_PADDING_SAME;
    CHECK_OK(ember_model_add_conv2d_ex(m, &cc, &err), &err);
    CHECK_OK(ember_model_add_max_pool2d(m, 2, &err), &err);
    CHECK_OK(ember_model_add_batch_normalization(m, 0.9f, 1e-3f, &err), &err);
    CHECK_OK(ember_model_add_conv2d(m, 3, 2, EMBER_ACT_RELU, &err), &err);
    CHECK_OK(ember_model_add_flatten(m, &err), &err);
    CHECK_OK(ember_model_add_dense(m, K, EMBER_ACT_SOFTMAX, &err), &err);
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    CHECK_OK(ember__model_arena(m, B, 0, &err), &err);
    float *x = malloc(B * m->input_size * 4);
    ember_rng r = ember__rng_stream(5, 9, 9, 9);
    fill(x, B * m->input_size, &r);
    for (int64_t b = 0; b < B; b++)
        m->targets[b] = (float)(b % K);
    net_case c = {m, B, {1, ember__rng_stream(1, 3, 0, 0), 1, NULL, NULL, NULL, 0}, x};
    net_f(&c);
    ember_loss_batch lb = {m->loss, m->fused, m->acts[m->n_layers], ember__model_logits(m),
                           m->targets, 1, B, K, NULL, 0};
    int64_t correct;
    float dout[9];
    ember__loss_compute(&lb, m->row_loss, dout, &correct);
    memcpy(m->grad_a, dout, sizeof dout);
    memset(m->grads, 0, m->n_params * sizeof(float));
    ember__model_backward(m, m->grad_a, B, &c.ctx);
    CHECK(gradcheck_report("cnn conv-pool-bn-conv-flatten-dense + cce",
                           gradcheck(m->params, m->grads, m->n_params, 0, net_f, &c)));
    free(x);
    ember_model_destroy(m);
}

/* Synthetic 8x8 images: class 0 has a bright horizontal bar, class 1 a
 * vertical one, at random positions, plus noise. A small CNN must learn
 * it, and save/load must give identical predictions. */
static void test_learns_and_round_trips(void)
{
    ember_error err;
    const int64_t N = 600, S = 8;
    int64_t xs[4] = {N, S, S, 1}, ys[1] = {N};
    ember_tensor *x, *y;
    CHECK_OK(ember_tensor_create(&x, 4, xs, &err), &err);
    CHECK_OK(ember_tensor_create(&y, 1, ys, &err), &err);
    ember_rng r = ember__rng_stream(17, 9, 0, 0);
    for (int64_t n = 0; n < N; n++) {
        int cls = (int)(n % 2);
        int64_t pos = (int64_t)ember__rng_below(&r, S);
        float *img = x->data + n * S * S;
        for (int64_t i = 0; i < S * S; i++)
            img[i] = 0.3f * ember__rng_uniform(&r);
        for (int64_t k = 0; k < S; k++)
            img[cls ? k * S + pos : pos * S + k] += 0.7f;
        y->data[n] = (float)cls;
    }
    const char *arch = "conv2d 8 3 relu same\n"
                       "batch_normalization\n"
                       "max_pool2d 2\n"
                       "conv2d 8 3x3 relu stride 1 valid\n"
                       "average_pool2d 2 stride 1 same\n"
                       "global_average_pooling2d\n"
                       "dense classes softmax\n";
    int64_t in[3] = {S, S, 1};
    ember_model *m = NULL;
    CHECK_OK(ember_model_create_from_arch_shape(&m, arch, "test.arch", 3, in, 2, 3, &err), &err);
    if (!m)
        return;
    ember_optimizer_config opt = ember_optimizer_adam(0.01f);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    ember_model_set_threads(m, 2);
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = 8;
    fc.batch_size = 32;
    CHECK_OK(ember_model_fit(m, x, y, &fc, NULL, &err), &err);
    double loss, acc;
    CHECK_OK(ember_model_evaluate(m, x, y, 0, &loss, &acc, &err), &err);
    CHECK_MSG(acc >= 0.95, "the small CNN reached %.3f training accuracy (want >= 0.95)", acc);
    char path[] = "/tmp/ember_cnn_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(ember_model_save(m, path, &err), &err);
    ember_model *m2 = NULL;
    CHECK_OK(ember_model_load(&m2, path, &err), &err);
    ember_tensor *p1 = NULL, *p2 = NULL;
    CHECK_OK(ember_model_predict(m, x, 64, &p1, &err), &err);
    if (m2)
        CHECK_OK(ember_model_predict(m2, x, 64, &p2, &err), &err);
    CHECK(p1 && p2 && memcmp(p1->data, p2->data, N * 2 * sizeof(float)) == 0);
    ember_tensor_destroy(p1);
    ember_tensor_destroy(p2);
    ember_model_destroy(m2);
    unlink(path);
    ember_model_destroy(m);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
}

/* A model file whose BatchNormalization variance is negative or NaN (saved
 * with valid checksums, so only the value check can catch it) is refused at
 * load time, naming the tensor, instead of giving NaN predictions. */
static void test_bad_bn_statistics(void)
{
    ember_error err;
    const float bad[3] = {-1.0f, NAN, INFINITY};
    for (int t = 0; t < 3; t++) {
        int64_t in[1] = {3};
        ember_model *m = NULL, *back = NULL;
        CHECK_OK(ember_model_create(&m, 1, in, 1, &err), &err);
        CHECK_OK(ember_model_add_batch_normalization(m, 0.9f, 1e-3f, &err), &err);
        CHECK_OK(ember_model_add_dense(m, 2, EMBER_ACT_SOFTMAX, &err), &err);
        ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0, 0);
        CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
        /* gamma, beta, mean, variance: one bad mean (t == 2) or variance */
        m->layers[0]->params[t == 2 ? 2 * 3 + 1 : 3 * 3 + 1] = bad[t];
        char path[] = "/tmp/ember_bn_XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        close(fd);
        CHECK_OK(ember_model_save(m, path, &err), &err);
        CHECK_ERR(ember_model_load(&back, path, &err), EMBER_ERR_FORMAT, &err,
                  t == 2 ? "layers.0.moving_mean\"[1]" : "layers.0.moving_variance\"[1]");
        CHECK(back == NULL);
        unlink(path);
        ember_model_destroy(m);
    }
}

static void test_arch_and_errors(void)
{
    ember_error err;
    int64_t in[3] = {28, 28, 1};
    ember_model *m = NULL;
    const char *cnn = "conv2d 32 3 relu\nmax_pool2d 2\nconv2d 64 3 relu\nmax_pool2d 2\nflatten\n"
                      "dense 128 relu\ndense classes softmax\n";
    CHECK_OK(ember_model_create_from_arch_shape(&m, cnn, "cnn", 3, in, 10, 1, &err), &err);
    /* PyTorch's count for the same network: 225,034 */
    CHECK_MSG(ember_model_param_count(m) == 225034, "%lld params",
              (long long)ember_model_param_count(m));
    CHECK(m && m->layers[3]->out_shape[0] == 5 && m->layers[3]->out_shape[2] == 64);
    ember_model_destroy(m);
    struct {
        const char *text, *needle;
    } bad[] = {
        {"conv2d 32\n", "cnn:1: expected \"conv2d FILTERS KERNEL"},
        {"conv2d 32 3 relu stride\n", "cnn:1: expected"},
        {"conv2d 32 0 relu\n", "cnn:1: expected"},
        {"conv2d 32 3x relu\n", "cnn:1: expected"},
        {"conv2d 8 3\nmax_pool2d 2 bogus\n", "cnn:2: expected \"max_pool2d POOL"},
        {"flatten now\n", "cnn:1: flatten takes no options"},
        {"batch_normalization momentum\n", "cnn:1: expected \"batch_normalization"},
        {"batch_normalization momentum 1.5\n", "momentum must be in [0, 1)"},
        {"conv2d 8 30\n", "does not fit"},
        {"dense 10\n", "flatten first"},
        {"conv2d 8 3\nconv2d 8 3\nflatten\nconv2d 8 3\n", "rank-3 input"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        m = NULL;
        CHECK_MSG(ember_model_create_from_arch_shape(&m, bad[i].text, "cnn", 3, in, 10, 1, &err) != EMBER_OK &&
                      strstr(err.message, bad[i].needle) != NULL,
                  "case %zu: \"%s\"", i, err.message);
        ember_model_destroy(m);
    }
}

int main(void)
{
    test_exact_values();
    test_conv_gradients();
    test_pool_gradients();
    test_fast_equals_reference();
    test_maxpool_vector_path();
    test_network_gradient();
    test_arch_and_errors();
    test_bad_bn_statistics();
    test_learns_and_round_trips();
    return check_summary("conv");
}
