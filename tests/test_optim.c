/*
 * test_optim.c - optimizers against hand-computed steps, and clipping and
 * weight decay through a real training step.
 * Reference values: Adam's first three steps were computed independently in
 * double precision from the formula in optim.h (w0 = [1, -0.5], lr 0.1,
 * Keras betas/epsilon, gradients [0.5,-2], [0.25,1], [-0.75,0.5]); momentum and
 * Nesterov by hand (shown in comments).
 */
#include "check.h"
#include "model/model.h"

/* float steps of size ~0.1 from values ~1: a few float ulps of error */
#define STEP_TOL 2e-6

static void test_adam(void)
{
    ember_error err;
    ember_optim o;
    ember_optimizer_config c = ember_optimizer_adam(0.1f);
    CHECK(c.beta1 == 0.9f && c.beta2 == 0.999f && c.epsilon == 1e-7f);
    CHECK_OK(ember__optim_init(&o, &c, 2, &err), &err);
    float w[2] = {1.0f, -0.5f};
    const float g[3][2] = {{0.5f, -2.0f}, {0.25f, 1.0f}, {-0.75f, 0.5f}};
    const double want[3][2] = {{0.9000006325, -0.4000001581},
                               {0.8067831961, -0.3733664918},
                               {0.8149808482, -0.3672276140}};
    for (int t = 0; t < 3; t++) {
        ember__optim_step(&o, w, g[t]);
        CHECK_CLOSE(w[0], want[t][0], STEP_TOL, 0);
        CHECK_CLOSE(w[1], want[t][1], STEP_TOL, 0);
    }
    CHECK(o.t == 3);
    ember__optim_deinit(&o);
}

static void test_sgd(void)
{
    ember_error err;
    ember_optim o;
    const float g[1] = {1.0f};
    /* plain: w = 1 - 0.1 k */
    ember_optimizer_config c = ember_optimizer_sgd(0.1f, 0.0f, 0);
    CHECK_OK(ember__optim_init(&o, &c, 1, &err), &err);
    CHECK(o.m == NULL); /* no state for plain SGD */
    float w[1] = {1.0f};
    ember__optim_step(&o, w, g);
    ember__optim_step(&o, w, g);
    CHECK_CLOSE(w[0], 0.8, STEP_TOL, 0);
    ember__optim_deinit(&o);
    /* momentum 0.9: u = -0.1, -0.19, -0.271 -> w = 0.9, 0.71, 0.439 */
    c = ember_optimizer_sgd(0.1f, 0.9f, 0);
    CHECK_OK(ember__optim_init(&o, &c, 1, &err), &err);
    w[0] = 1.0f;
    const double mom[3] = {0.9, 0.71, 0.439};
    for (int t = 0; t < 3; t++) {
        ember__optim_step(&o, w, g);
        CHECK_CLOSE(w[0], mom[t], STEP_TOL, 0);
    }
    ember__optim_deinit(&o);
    /* Nesterov: w += 0.9 u - 0.1 g: -0.19, -0.271, -0.3439 -> 0.81, 0.539, 0.1951 */
    c = ember_optimizer_sgd(0.1f, 0.9f, 1);
    CHECK_OK(ember__optim_init(&o, &c, 1, &err), &err);
    w[0] = 1.0f;
    const double nes[3] = {0.81, 0.539, 0.1951};
    for (int t = 0; t < 3; t++) {
        ember__optim_step(&o, w, g);
        CHECK_CLOSE(w[0], nes[t], STEP_TOL, 0);
    }
    ember__optim_deinit(&o);
}

static void test_validation(void)
{
    ember_error err;
    ember_optimizer_config c = ember_optimizer_adam(0.0f);
    CHECK_ERR(ember__optim_validate(&c, &err), EMBER_ERR_ARG, &err, "learning_rate");
    c = ember_optimizer_adam(0.01f);
    c.beta2 = 1.0f;
    CHECK_ERR(ember__optim_validate(&c, &err), EMBER_ERR_ARG, &err, "beta2");
    c = ember_optimizer_sgd(0.01f, 0.0f, 1);
    CHECK_ERR(ember__optim_validate(&c, &err), EMBER_ERR_ARG, &err, "nesterov");
    c = ember_optimizer_sgd(0.01f, 0.5f, 0);
    c.clip_norm = -1;
    CHECK_ERR(ember__optim_validate(&c, &err), EMBER_ERR_ARG, &err, "clip_norm");
}

static void test_norm(void)
{
    /* 3-4-5 */
    float g[2] = {3.0f, 4.0f};
    CHECK(ember__sumsq(g, 2) == 25.0);
    /* many chunks: sum of i^2 for i < 10000 = (n-1)n(2n-1)/6 */
    enum { N = 10000 };
    static float big[N];
    for (int i = 0; i < N; i++)
        big[i] = (float)i;
    CHECK_CLOSE(ember__sumsq(big, N), 9999.0 * 10000.0 * 19999.0 / 6.0, 0, 1e-12);
}

/* One full-batch SGD step (lr 1) on a 1-layer linear model with MSE: the
 * gradient is known in closed form, so clipping and decay can be checked
 * exactly. Model: y = x W (no bias), x = [[1, 2]], target 0, W = [[1], [1]]:
 * p = 3, dL/dp = 2 * 3 = 6, dW = x^T * 6 = [6, 12], |dW| = 13.4164. */
static void one_step(float clip, float wd, float out[2])
{
    ember_error err;
    int64_t in[1] = {2};
    ember_model *m;
    CHECK_OK(ember_model_create(&m, 1, in, 1, &err), &err);
    ember_dense_config dc = ember_dense_config_default(1);
    dc.use_bias = 0;
    CHECK_OK(ember_model_add_dense_ex(m, &dc, &err), &err);
    ember_optimizer_config c = ember_optimizer_sgd(1.0f, 0.0f, 0);
    c.clip_norm = clip;
    c.weight_decay = wd;
    CHECK_OK(ember_model_compile(m, &c, EMBER_LOSS_MSE, &err), &err);
    m->params[0] = m->params[1] = 1.0f;
    int64_t xs[2] = {1, 2}, ys[2] = {1, 1};
    ember_tensor *x, *y;
    CHECK_OK(ember_tensor_create(&x, 2, xs, &err), &err);
    CHECK_OK(ember_tensor_create(&y, 2, ys, &err), &err);
    x->data[0] = 1.0f;
    x->data[1] = 2.0f;
    ember_fit_config fc = ember_fit_config_default();
    fc.batch_size = 1;
    CHECK_OK(ember_model_fit(m, x, y, &fc, NULL, &err), &err);
    out[0] = m->params[0];
    out[1] = m->params[1];
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_model_destroy(m);
}

static void test_clip_and_decay(void)
{
    float w[2];
    one_step(0.0f, 0.0f, w); /* no clipping: w = 1 - [6, 12] */
    CHECK_CLOSE(w[0], -5.0, 1e-5, 0);
    CHECK_CLOSE(w[1], -11.0, 1e-5, 0);
    one_step(1.0f, 0.0f, w); /* clipped to norm 1: [6, 12] / 13.41641 */
    CHECK_CLOSE(w[0], 1.0 - 6.0 / 13.416407865, 1e-6, 0);
    CHECK_CLOSE(w[1], 1.0 - 12.0 / 13.416407865, 1e-6, 0);
    one_step(100.0f, 0.0f, w); /* norm below the limit: unchanged */
    CHECK_CLOSE(w[0], -5.0, 1e-5, 0);
    one_step(0.0f, 0.5f, w); /* decay adds 0.5 * w = 0.5 to each */
    CHECK_CLOSE(w[0], -5.5, 1e-5, 0);
    CHECK_CLOSE(w[1], -11.5, 1e-5, 0);
    one_step(1.0f, 0.5f, w); /* decay, then clipping of [6.5, 12.5] (norm 14.0891) */
    CHECK_CLOSE(w[0], 1.0 - 6.5 / 14.089002803, 1e-6, 0);
}

static void test_numeric_guard(void)
{
    /* a NaN input must stop fit with epoch and step named */
    ember_error err;
    int64_t in[1] = {2};
    ember_model *m;
    CHECK_OK(ember_model_create(&m, 1, in, 1, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 2, EMBER_ACT_SOFTMAX, &err), &err);
    ember_optimizer_config c = ember_optimizer_adam(0.01f);
    CHECK_OK(ember_model_compile(m, &c, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    int64_t xs[2] = {4, 2}, ys[1] = {4};
    ember_tensor *x, *y;
    CHECK_OK(ember_tensor_create(&x, 2, xs, &err), &err);
    CHECK_OK(ember_tensor_create(&y, 1, ys, &err), &err);
    x->data[5] = NAN;
    ember_fit_config fc = ember_fit_config_default();
    fc.batch_size = 2;
    fc.shuffle = 0;
    /* a NaN input is refused before training, naming the row */
    CHECK_ERR(ember_model_fit(m, x, y, &fc, NULL, &err), EMBER_ERR_FORMAT, &err, "x row 2");
    /* a loss that overflows during training stops fit naming epoch and step:
     * MSE with a huge SGD step sends the weights to ~1e36 after step 1, and
     * step 2's squared error overflows float */
    {
        ember_model *b;
        int64_t in1[1] = {2};
        CHECK_OK(ember_model_create(&b, 1, in1, 1, &err), &err);
        CHECK_OK(ember_model_add_dense(b, 1, EMBER_ACT_LINEAR, &err), &err);
        ember_optimizer_config huge = ember_optimizer_sgd(1e36f, 0.0f, 0);
        CHECK_OK(ember_model_compile(b, &huge, EMBER_LOSS_MSE, &err), &err);
        int64_t xs1[2] = {4, 2}, ys1[2] = {4, 1};
        ember_tensor *x1, *y1;
        CHECK_OK(ember_tensor_create(&x1, 2, xs1, &err), &err);
        CHECK_OK(ember_tensor_create(&y1, 2, ys1, &err), &err);
        for (int i = 0; i < 8; i++)
            x1->data[i] = 1.0f;
        for (int i = 0; i < 4; i++)
            y1->data[i] = 1.0f;
        CHECK_ERR(ember_model_fit(b, x1, y1, &fc, NULL, &err), EMBER_ERR_NUMERIC, &err, "epoch 1, step 2");
        ember_tensor_destroy(x1);
        ember_tensor_destroy(y1);
        ember_model_destroy(b);
    }
    /* labels out of range and shape mismatches are named */
    x->data[5] = 0.0f;
    y->data[3] = 2.0f;
    CHECK_ERR(ember_model_fit(m, x, y, &fc, NULL, &err), EMBER_ERR_FORMAT, &err, "y row 3");
    y->data[3] = 0.5f;
    CHECK_ERR(ember_model_fit(m, x, y, &fc, NULL, &err), EMBER_ERR_FORMAT, &err, "not an integer");
    int64_t ys2[2] = {3, 2};
    ember_tensor *y2;
    CHECK_OK(ember_tensor_create(&y2, 2, ys2, &err), &err);
    CHECK_ERR(ember_model_fit(m, x, y2, &fc, NULL, &err), EMBER_ERR_SHAPE, &err, "y has 3 rows");
    fc.epochs = 0;
    CHECK_ERR(ember_model_fit(m, x, y, &fc, NULL, &err), EMBER_ERR_ARG, &err, "epochs");
    ember_tensor_destroy(y2);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_model_destroy(m);
}

int main(void)
{
    test_adam();
    test_sgd();
    test_validation();
    test_norm();
    test_clip_and_decay();
    test_numeric_guard();
    return check_summary("optim");
}
