#define _POSIX_C_SOURCE 200809L
/*
 * test_conv_edges.c - hostile and degenerate shapes for the image layers
 * (review): windows larger than the input with "same", strides of 1024,
 * 1x1 inputs, batch 1, the direct kernel at its limits, pools larger than
 * the input, BatchNormalization on one feature, augmentation with a crop
 * pad larger than the image, and layers that need an image input on a
 * token-id model. Run under ASan/UBSan these are memory checks as much as
 * value checks.
 */
#include "check.h"
#include "kernels/conv.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>

static void fill(float *v, int64_t n, ember_rng *r)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = 2.0f * ember__rng_uniform(r) - 1.0f;
}

static ember_model *image_model(int64_t H, int64_t W, int64_t C)
{
    ember_error err;
    int64_t in[3] = {H, W, C};
    ember_model *m = NULL;
    CHECK_OK(ember_model_create(&m, 3, in, 5, &err), &err);
    return m;
}

/* The layer (any algorithm) against the reference on odd shapes. */
static void test_odd_shapes_vs_reference(void)
{
    const int64_t shapes[][10] = {
        /* H, W, C, F, kh, kw, sh, sw, same, B */
        {1, 1, 1, 8, 3, 3, 1, 1, 1, 1},        /* window > input, direct */
        {1, 1, 3, 5, 7, 7, 1, 1, 1, 2},        /* window > input, im2col */
        {5, 5, 1, 16, 3, 3, 1024, 1024, 1, 1}, /* stride 1024 */
        {5, 7, 2, 3, 1024, 2, 1, 1, 1, 1},     /* 1024-tall window, "same" */
        {3, 5, 1, 8, 3, 3, 1, 1, 0, 1},        /* two-pixel direct path, OW odd */
        {3, 6, 1, 8, 3, 3, 1, 1, 0, 2},        /* two-pixel direct path, OW even */
        {4, 4, 15, 3, 1, 1, 2, 2, 0, 1},       /* kcol 15, direct, strided 1x1 */
        {4, 4, 1, 256, 3, 3, 1, 1, 1, 1},      /* F at the direct limit */
        {4, 4, 1, 257, 3, 3, 1, 1, 1, 1},      /* just over: im2col */
        {2, 9, 1, 64, 2, 5, 1, 3, 1, 3},
    };
    ember_rng r = ember__rng_stream(3, 9, 1, 2);
    ember_error err;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int threads = 1; threads <= 2; threads++)
            for (int act = 0; act < 3; act++) {
                const int64_t *q = shapes[s];
                int64_t B = q[9];
                static const ember_activation acts[3] = {EMBER_ACT_LINEAR, EMBER_ACT_RELU,
                                                         EMBER_ACT_TANH};
                ember_model *m = image_model(q[0], q[1], q[2]);
                ember_conv2d_config c = ember_conv2d_config_default(q[3], q[4]);
                c.kernel_w = q[5], c.stride_h = q[6], c.stride_w = q[7];
                c.padding = q[8] ? EMBER_PADDING_SAME : EMBER_PADDING_VALID;
                c.activation = acts[act];
                CHECK_OK(ember_model_add_conv2d_ex(m, &c, &err), &err);
                ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0, 0);
                CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_MSE, &err), &err);
                CHECK_OK(ember__model_arena(m, B, 0, &err), &err);
                ember_layer *l = m->layers[0];
                const conv2d_config *cc = l->config;
                int64_t nin = B * l->in_size, nout = B * l->out_size, K = q[4] * q[5] * q[2];
                int64_t nk = K * q[3];
                float *x = m->acts[0], *y = m->acts[1];
                float *yr = malloc(nout * 4), *dy = malloc(nout * 4), *dz = malloc(nout * 4),
                      *dx = malloc(nin * 4), *dxr = malloc(nin * 4), *dkr = calloc(nk + q[3], 4);
                fill(x, nin, &r);
                fill(l->params, l->param_count, &r);
                fill(dy, nout, &r);
                ember_step_ctx ctx = {1, ember__rng_stream(1, 3, 0, 0), threads, NULL, NULL, NULL, 0};
                l->ops->forward(l, y, x, B, &ctx);
                ember__conv2d_ref_fwd(&cc->g, q[3], x, l->params, l->params + nk, B, yr);
                /* the reference's pre-activation -> activation, and dz */
                for (int64_t i = 0; i < nout; i++) {
                    float v = yr[i];
                    if (acts[act] == EMBER_ACT_RELU)
                        v = v > 0 ? v : 0;
                    else if (acts[act] == EMBER_ACT_TANH)
                        v = tanhf(v);
                    yr[i] = v;
                }
                double wy = 0;
                for (int64_t i = 0; i < nout; i++)
                    wy = fmax(wy, fabs(y[i] - yr[i]));
                for (int64_t i = 0; i < nout; i++)
                    dz[i] = acts[act] == EMBER_ACT_RELU   ? (y[i] > 0 ? dy[i] : 0)
                            : acts[act] == EMBER_ACT_TANH ? dy[i] * (1 - y[i] * y[i])
                                                          : dy[i];
                memset(l->grads, 0, l->param_count * 4);
                l->ops->backward(l, dx, dy, x, y, B, &ctx);
                ember__conv2d_ref_bwd(&cc->g, q[3], x, l->params, dz, B, dxr, dkr, dkr + nk);
                double wx = 0, wk = 0;
                for (int64_t i = 0; i < nin; i++)
                    wx = fmax(wx, fabs(dx[i] - dxr[i]));
                for (int64_t i = 0; i < nk + q[3]; i++)
                    wk = fmax(wk, fabs(l->grads[i] - dkr[i]));
                CHECK_MSG(wy <= 1e-4 && wx <= 1e-3 && wk <= 1e-3,
                          "shape %zu act %d threads %d algo %d: y %g dx %g dK %g", s, act, threads,
                          (int)cc->algo, wy, wx, wk);
                free(yr);
                free(dy);
                free(dz);
                free(dx);
                free(dxr);
                free(dkr);
                ember_model_destroy(m);
            }
}

/* A pool larger than the input with "same": one output, the max / mean of
 * everything; and the backward sends the gradient to the right places. */
static void test_pool_larger_than_input(void)
{
    ember_error err;
    for (int kind = 0; kind < 2; kind++) {
        ember_model *m = image_model(3, 2, 8);
        ember_pool2d_config c = {7, 9, 0, 0, EMBER_PADDING_SAME};
        CHECK_OK(kind ? ember_model_add_average_pool2d_ex(m, &c, &err)
                      : ember_model_add_max_pool2d_ex(m, &c, &err), &err);
        ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0, 0);
        CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_MSE, &err), &err);
        CHECK_OK(ember__model_arena(m, 1, 0, &err), &err);
        ember_layer *l = m->layers[0];
        CHECK(l->out_size == 8);
        float *x = m->acts[0], *y = m->acts[1], dy[8], dx[48];
        for (int i = 0; i < 48; i++)
            x[i] = (float)((i * 7) % 48) - 20.0f;
        for (int i = 0; i < 8; i++)
            dy[i] = 1.0f + i;
        ember_step_ctx ctx = {1, ember__rng_stream(1, 3, 0, 0), 1, NULL, NULL, NULL, 0};
        l->ops->forward(l, y, x, 1, &ctx);
        l->ops->backward(l, dx, dy, x, y, 1, &ctx);
        for (int ch = 0; ch < 8; ch++) {
            float mx = -1e30f, sum = 0, gsum = 0;
            for (int p = 0; p < 6; p++) {
                mx = fmaxf(mx, x[p * 8 + ch]);
                sum += x[p * 8 + ch];
                gsum += dx[p * 8 + ch];
            }
            CHECK_CLOSE(y[ch], kind ? sum / 6 : mx, 1e-5, 1e-6);
            CHECK_CLOSE(gsum, dy[ch], 1e-5, 1e-6);
        }
        ember_model_destroy(m);
    }
}

/* BatchNormalization on one feature, batch 1 (variance 0) and a batch
 * larger than N in evaluate/predict. */
static void test_batchnorm_one_feature(void)
{
    ember_error err;
    int64_t in[1] = {1};
    ember_model *m = NULL;
    CHECK_OK(ember_model_create(&m, 1, in, 1, &err), &err);
    CHECK_OK(ember_model_add_batch_normalization(m, 0.9f, 1e-3f, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 2, EMBER_ACT_SOFTMAX, &err), &err);
    ember_optimizer_config opt = ember_optimizer_adam(0.01f);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    int64_t xs[2] = {1, 1}, ys[1] = {1};
    ember_tensor *x = NULL, *y = NULL, *p = NULL;
    CHECK_OK(ember_tensor_create(&x, 2, xs, &err), &err);
    CHECK_OK(ember_tensor_create(&y, 1, ys, &err), &err);
    x->data[0] = 3.0f;
    y->data[0] = 1.0f;
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = 3;
    fc.batch_size = 1;
    CHECK_OK(ember_model_fit(m, x, y, &fc, NULL, &err), &err);
    double loss = NAN, acc = NAN;
    CHECK_OK(ember_model_evaluate(m, x, y, 1000, &loss, &acc, &err), &err);
    CHECK(isfinite(loss));
    CHECK_OK(ember_model_predict(m, x, 1000, &p, &err), &err);
    CHECK(p && isfinite(p->data[0]) && isfinite(p->data[1]));
    ember_tensor_destroy(p);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_model_destroy(m);
}

/* Augmentation: a crop pad far larger than a 1x1 or 3x2 image, flips,
 * batch 1 and 2 threads: must run clean and leave finite inputs. */
static void test_augment_extremes(void)
{
    ember_error err;
    const int64_t sizes[][3] = {{1, 1, 1}, {3, 2, 3}};
    for (int s = 0; s < 2; s++) {
        ember_model *m = image_model(sizes[s][0], sizes[s][1], sizes[s][2]);
        CHECK_OK(ember_model_add_flatten(m, &err), &err);
        CHECK_OK(ember_model_add_dense(m, 2, EMBER_ACT_SOFTMAX, &err), &err);
        ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0, 0);
        CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
        ember_model_set_threads(m, 2);
        int64_t N = 5, xs[4] = {N, sizes[s][0], sizes[s][1], sizes[s][2]}, ys[1] = {N};
        ember_tensor *x = NULL, *y = NULL;
        CHECK_OK(ember_tensor_create(&x, 4, xs, &err), &err);
        CHECK_OK(ember_tensor_create(&y, 1, ys, &err), &err);
        for (int64_t i = 0; i < ember_tensor_numel(x); i++)
            x->data[i] = (float)(i % 5) * 0.25f;
        for (int64_t i = 0; i < N; i++)
            y->data[i] = (float)(i % 2);
        ember_fit_config fc = ember_fit_config_default();
        fc.epochs = 2;
        fc.batch_size = 1;
        fc.augment_flip = 1;
        fc.augment_crop_pad = 4096;
        CHECK_OK(ember_model_fit(m, x, y, &fc, NULL, &err), &err);
        fc.augment_crop_pad = 4097;
        CHECK_ERR(ember_model_fit(m, x, y, &fc, NULL, &err), EMBER_ERR_ARG, &err, "augment_crop_pad");
        ember_tensor_destroy(x);
        ember_tensor_destroy(y);
        ember_model_destroy(m);
    }
}

/* Image layers on a token-id model, and rank mismatches: refused. */
static void test_wrong_inputs(void)
{
    ember_error err;
    ember_model *m = NULL;
    CHECK_OK(ember_model_create_ids(&m, 1, &err), &err);
    /* these were accepted on a token-id input (in_size 0): flatten gave 0
     * features and batch_normalization C = 0 (a division by zero in its
     * forward); compile refused the model, so only the message was late */
    CHECK_ERR(ember_model_add_flatten(m, &err), EMBER_ERR_SHAPE, &err, "flatten needs a dense input");
    CHECK_ERR(ember_model_add_batch_normalization(m, 0.9f, 1e-3f, &err), EMBER_ERR_SHAPE, &err,
              "at least one feature");
    CHECK(ember_model_add_global_average_pooling2d(m, &err) != EMBER_OK);
    CHECK(ember_model_add_conv2d(m, 4, 3, EMBER_ACT_RELU, &err) != EMBER_OK);
    ember_model_destroy(m);
    int64_t in3[3] = {4, 4, 1};
    const char *bad[] = {
        "max_pool2d 2 stride 0\n",     "conv2d 8 3 stride 1025\n", "conv2d 8 1025\n",
        "average_pool2d 0\n",          "conv2d 0 3\n",             "conv2d 1048577 3\n",
        "batch_normalization epsilon 0\n", "batch_normalization momentum nan\n",
        "max_pool2d 5\n", /* valid: does not fit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        m = NULL;
        CHECK_MSG(ember_model_create_from_arch_shape(&m, bad[i], "a", 3, in3, 2, 1, &err) != EMBER_OK,
                  "accepted \"%s\"", bad[i]);
        ember_model_destroy(m);
    }
}

/* Conv2D as the output layer (fused softmax / sigmoid with the loss), on
 * each algorithm: pointwise (1x1 input), direct (3x3x1) and im2col (3x3x2),
 * then BatchNormalization on a 1x1 spatial map with batch 1. */
static void test_conv_output_layer(void)
{
    ember_error err;
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 3, 1}, {3, 3, 2}};
    for (int s = 0; s < 3; s++)
        for (int bce = 0; bce < 2; bce++) {
            ember_model *m = image_model(shapes[s][0], shapes[s][1], shapes[s][2]);
            ember_conv2d_config c = ember_conv2d_config_default(bce ? 1 : 2, shapes[s][0]);
            c.activation = bce ? EMBER_ACT_SIGMOID : EMBER_ACT_SOFTMAX;
            CHECK_OK(ember_model_add_conv2d_ex(m, &c, &err), &err);
            ember_optimizer_config opt = ember_optimizer_adam(0.05f);
            CHECK_OK(ember_model_compile(m, &opt, bce ? EMBER_LOSS_BINARY_CROSSENTROPY
                                                      : EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err),
                     &err);
            int64_t N = 8, D = shapes[s][0] * shapes[s][1] * shapes[s][2];
            int64_t xs[4] = {N, shapes[s][0], shapes[s][1], shapes[s][2]}, ys[1] = {N};
            ember_tensor *x = NULL, *y = NULL;
            CHECK_OK(ember_tensor_create(&x, 4, xs, &err), &err);
            CHECK_OK(ember_tensor_create(&y, 1, ys, &err), &err);
            for (int64_t i = 0; i < N; i++) {
                y->data[i] = (float)(i % 2);
                for (int64_t k = 0; k < D; k++)
                    x->data[i * D + k] = (i % 2 ? 1.0f : -1.0f) + 0.01f * (float)k;
            }
            ember_fit_config fc = ember_fit_config_default();
            fc.epochs = 30;
            fc.batch_size = 3;
            CHECK_OK(ember_model_fit(m, x, y, &fc, NULL, &err), &err);
            double loss = NAN, acc = NAN;
            CHECK_OK(ember_model_evaluate(m, x, y, 100, &loss, &acc, &err), &err);
            CHECK_MSG(acc == 1.0, "conv output layer %d/%d: accuracy %g", s, bce, acc);
            ember_tensor_destroy(x);
            ember_tensor_destroy(y);
            ember_model_destroy(m);
        }
    int64_t in[3] = {1, 1, 3};
    ember_model *m = NULL;
    CHECK_OK(ember_model_create_from_arch_shape(&m, "batch_normalization\nflatten\n"
                                                    "dense classes softmax\n",
                                                "a", 3, in, 2, 1, &err), &err);
    ember_optimizer_config opt = ember_optimizer_sgd(0.1f, 0, 0);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    int64_t xs[4] = {1, 1, 1, 3}, ys[1] = {1};
    ember_tensor *x = NULL, *y = NULL;
    CHECK_OK(ember_tensor_create(&x, 4, xs, &err), &err);
    CHECK_OK(ember_tensor_create(&y, 1, ys, &err), &err);
    x->data[0] = 1, x->data[1] = -2, x->data[2] = 5, y->data[0] = 1;
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = 2;
    CHECK_OK(ember_model_fit(m, x, y, &fc, NULL, &err), &err);
    const float *mv = m->layers[0]->params + 9; /* moving variance: 0.99 * 1 + 0.01 * 0 twice */
    CHECK_CLOSE(mv[0], 0.99f * 0.99f, 1e-6, 1e-6);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_model_destroy(m);
}

int main(void)
{
    test_conv_output_layer();
    test_odd_shapes_vs_reference();
    test_pool_larger_than_input();
    test_batchnorm_one_feature();
    test_augment_extremes();
    test_wrong_inputs();
    return check_summary("conv_edges");
}
