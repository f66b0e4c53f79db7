/*
 * train.c - fit, evaluate and predict for a compiled Sequential model.
 *
 * One training step: gather the batch rows (in the epoch's order), zero the
 * gradient block, forward, loss and its gradient, backward, L2 decay on
 * kernels, per-layer gradient norms (a NaN/Inf check that names the layer,
 * and the global norm for clipping), clip, optimizer update. No allocation
 * happens inside the step: the arena is sized before the epoch loop.
 *
 * Determinism: the epoch order comes from the (seed, epoch) shuffle stream;
 * dropout masks from the (seed, epoch, step) stream; every reduction has a
 * fixed order. Same seed + same thread count = bit-identical weights.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#include "kernels/gemm.h"

#define DEFAULT_EVAL_BATCH 256
#define PAR_MIN_ROWS 256

/* ---------------------------------------------------------------- history */

enum { H_LOSS, H_ACC, H_VAL_LOSS, H_VAL_ACC, H_COUNT };
static const char *const h_names[H_COUNT] = {"loss", "accuracy", "val_loss", "val_accuracy"};

struct ember_history {
    int epochs, cap;
    double *values; /* [cap][H_COUNT] */
};

ember_status ember_history_create(ember_history **out, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_history_create: out is NULL");
    *out = calloc(1, sizeof **out);
    return *out ? EMBER_OK : EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
}

void ember_history_destroy(ember_history *h)
{
    if (h) {
        free(h->values);
        free(h);
    }
}

int ember_history_epochs(const ember_history *h) { return h ? h->epochs : 0; }

double ember_history_get(const ember_history *h, const char *name, int epoch)
{
    if (!h || !name || epoch < 0 || epoch >= h->epochs)
        return NAN;
    for (int k = 0; k < H_COUNT; k++)
        if (strcmp(name, h_names[k]) == 0)
            return h->values[epoch * H_COUNT + k];
    return NAN;
}

static ember_status history_add(ember_history *h, const double v[H_COUNT], ember_error *err)
{
    if (!h)
        return EMBER_OK;
    if (h->epochs == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        double *nv = realloc(h->values, (size_t)cap * H_COUNT * sizeof *nv);
        if (!nv)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for history");
        h->values = nv;
        h->cap = cap;
    }
    memcpy(h->values + h->epochs * H_COUNT, v, H_COUNT * sizeof *v);
    h->epochs++;
    return EMBER_OK;
}

/* ------------------------------------------------------------ validation */

static void set_threads(const ember_model *m)
{
#ifdef _OPENMP
    omp_set_num_threads(m->threads);
#else
    (void)m;
#endif
    ember__blas_single_thread();
}

typedef struct targets_info {
    int sparse;
    int64_t K;      /* model outputs */
    int64_t width;  /* floats per target row: K, or 1 when sparse */
} targets_info;

/* Check x and y against the model; names what is wrong. `what` is "x"/"x_val". */
static ember_status check_data(const ember_model *m, const ember_tensor *x, const ember_tensor *y,
                               const char *xname, const char *yname, targets_info *ti,
                               ember_error *err)
{
    if (!x)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "%s is NULL", xname);
    if (x->ndim != m->input_rank + 1)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s has rank %d, the model expects rank %d "
                          "([N] + input shape)", xname, x->ndim, m->input_rank + 1);
    for (int i = 0; i < m->input_rank; i++)
        if (x->shape[i + 1] != m->input_shape[i])
            return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s dimension %d is %lld, the model expects %lld",
                              xname, i + 1, (long long)x->shape[i + 1],
                              (long long)m->input_shape[i]);
    int64_t N = x->shape[0];
    if (N == 0)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s has no examples", xname);
    int64_t K = ember__model_out_size(m);
    ti->K = K;
    if (!y) {
        ti->sparse = 0;
        ti->width = K;
        return EMBER_OK;
    }
    if (y->shape[0] != N)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s has %lld rows but %s has %lld", yname,
                          (long long)y->shape[0], xname, (long long)N);
    int64_t cols = ember_tensor_numel(y) / N;
    if (cols == K && !(m->loss == EMBER_LOSS_CATEGORICAL_CROSSENTROPY && K == 1)) {
        ti->sparse = 0;
        ti->width = K;
    } else if (cols == 1 && m->loss == EMBER_LOSS_CATEGORICAL_CROSSENTROPY) {
        ti->sparse = 1;
        ti->width = 1;
    } else {
        return EMBER_FAIL(err, EMBER_ERR_SHAPE,
                          "%s has %lld values per row; the model has %lld outputs (give [N, %lld]"
                          "%s)", yname, (long long)cols, (long long)K, (long long)K,
                          m->loss == EMBER_LOSS_CATEGORICAL_CROSSENTROPY
                              ? " or integer class ids [N]" : "");
    }
    int64_t n = N * ti->width;
    for (int64_t i = 0; i < n; i++) {
        float v = y->data[i];
        if (!isfinite(v))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s row %lld holds a NaN or Inf", yname,
                              (long long)(i / ti->width));
        if (ti->sparse && (v != floorf(v) || v < 0 || v >= (float)K))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s row %lld: class id %g is not an integer in [0, %lld)", yname,
                              (long long)i, (double)v, (long long)K);
    }
    return EMBER_OK;
}

/* Copy rows idx[0..B) (or begin..begin+B when idx is NULL) into the arena. */
static void gather(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                   const targets_info *ti, const int64_t *idx, int64_t begin, int64_t B)
{
    int64_t D = m->input_size, W = ti->width;
    float *xb = m->acts[0];
#pragma omp parallel for schedule(static) if (B * D > 65536)
    for (int64_t r = 0; r < B; r++) {
        int64_t src = idx ? idx[begin + r] : begin + r;
        memcpy(xb + r * D, x->data + src * D, (size_t)D * sizeof *xb);
        if (y)
            memcpy(m->targets + r * W, y->data + src * W, (size_t)W * sizeof *xb);
    }
}

static ember_loss_batch loss_batch(const ember_model *m, const targets_info *ti, const float *p,
                                   int64_t B)
{
    ember_loss_batch lb = {m->loss, m->fused, p, m->fused ? ember__model_logits(m) : NULL,
                           m->targets, ti->sparse, B, ti->K};
    return lb;
}

static double acc_denominator(const ember_model *m, int64_t rows, int64_t K)
{
    return m->loss == EMBER_LOSS_BINARY_CROSSENTROPY ? (double)rows * (double)K : (double)rows;
}

static ember_status evaluate_inner(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                                   const targets_info *ti, int64_t batch, double *loss,
                                   double *accuracy)
{
    int64_t N = x->shape[0];
    ember_step_ctx ctx = {0, {0, 0}, m->threads};
    double total = 0.0;
    int64_t correct = 0;
    for (int64_t b0 = 0; b0 < N; b0 += batch) {
        int64_t B = N - b0 < batch ? N - b0 : batch;
        gather(m, x, y, ti, NULL, b0, B);
        const float *p = ember__model_forward(m, B, &ctx);
        ember_loss_batch lb = loss_batch(m, ti, p, B);
        int64_t c = 0;
        ember__loss_compute(&lb, m->row_loss, NULL, &c);
        for (int64_t r = 0; r < B; r++)
            total += m->row_loss[r];
        correct += c;
    }
    *loss = total / (double)N;
    *accuracy = m->loss == EMBER_LOSS_MSE ? NAN : (double)correct / acc_denominator(m, N, ti->K);
    return EMBER_OK;
}

ember_status ember_model_evaluate(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                                  int64_t batch_size, double *loss, double *accuracy,
                                  ember_error *err)
{
    if (!m || !y || !loss || !accuracy)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_evaluate: NULL argument");
    if (!m->compiled)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "evaluate: the model is not compiled");
    targets_info ti;
    ember_status s = check_data(m, x, y, "x", "y", &ti, err);
    if (s)
        return s;
    int64_t batch = batch_size > 0 ? batch_size : DEFAULT_EVAL_BATCH;
    if ((s = ember__model_arena(m, batch, err)))
        return s;
    set_threads(m);
    return evaluate_inner(m, x, y, &ti, batch, loss, accuracy);
}

ember_status ember_model_predict(ember_model *m, const ember_tensor *x, int64_t batch_size,
                                 ember_tensor **out, ember_error *err)
{
    if (!m || !out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_predict: NULL argument");
    *out = NULL;
    if (!m->initialised || m->n_layers == 0)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "predict: the model has no weights (compile or load it)");
    if (!m->params) /* not reachable after compile/load; kept as an invariant check */
        return EMBER_FAIL(err, EMBER_ERR_STATE, "predict: no parameters");
    targets_info ti;
    ember_status s = check_data(m, x, NULL, "x", "y", &ti, err);
    if (s)
        return s;
    int64_t batch = batch_size > 0 ? batch_size : DEFAULT_EVAL_BATCH;
    if ((s = ember__model_arena(m, batch, err)))
        return s;
    int64_t N = x->shape[0], K = ti.K, shape[2] = {N, K};
    ember_tensor *o;
    if ((s = ember_tensor_create(&o, 2, shape, err)))
        return s;
    set_threads(m);
    ember_step_ctx ctx = {0, {0, 0}, m->threads};
    for (int64_t b0 = 0; b0 < N; b0 += batch) {
        int64_t B = N - b0 < batch ? N - b0 : batch;
        gather(m, x, NULL, &ti, NULL, b0, B);
        const float *p = ember__model_forward(m, B, &ctx);
        memcpy(o->data + b0 * K, p, (size_t)(B * K) * sizeof *p);
    }
    *out = o;
    return EMBER_OK;
}

ember_fit_config ember_fit_config_default(void)
{
    ember_fit_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 1;
    c.batch_size = 32;
    c.shuffle = 1;
    return c;
}

/* One optimizer step on the batch already in the arena. Returns the summed
 * row losses and correct count through the pointers. */
static ember_status train_step(ember_model *m, const targets_info *ti, int64_t B,
                               const ember_step_ctx *ctx, double *loss_sum, int64_t *correct,
                               int epoch, int64_t step, ember_error *err)
{
    memset(m->grads, 0, (size_t)m->n_params * sizeof *m->grads);
    const float *p = ember__model_forward(m, B, ctx);
    ember_loss_batch lb = loss_batch(m, ti, p, B);
    float *dout = m->grad_a;
    ember__loss_compute(&lb, m->row_loss, dout, correct);
    double s = 0.0;
    for (int64_t r = 0; r < B; r++)
        s += m->row_loss[r];
    if (!isfinite(s))
        return EMBER_FAIL(err, EMBER_ERR_NUMERIC,
                          "epoch %d, step %lld: the loss is %s; HINT: lower the learning rate, "
                          "or check the inputs for NaN/Inf", epoch + 1, (long long)step + 1,
                          isnan(s) ? "NaN" : "infinite");
    *loss_sum = s;
    ember__model_backward(m, dout, B, ctx);

    const ember_optimizer_config *oc = &m->optim.cfg;
    double sq = 0.0;
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        if (!l->param_count)
            continue;
        if (oc->weight_decay > 0.0f && l->kernel_count)
            ember__axpy(l->grads, l->params, l->kernel_count, oc->weight_decay);
        double ls = ember__sumsq(l->grads, l->param_count);
        if (!isfinite(ls))
            return EMBER_FAIL(err, EMBER_ERR_NUMERIC,
                              "epoch %d, step %lld: layer %d (%s) has a NaN or Inf gradient",
                              epoch + 1, (long long)step + 1, i, l->ops->name);
        sq += ls;
    }
    if (oc->clip_norm > 0.0f) {
        double norm = sqrt(sq);
        if (norm > oc->clip_norm)
            ember__scale(m->grads, m->n_params, (float)(oc->clip_norm / norm));
    }
    ember__optim_step(&m->optim, m->params, m->grads);
    return EMBER_OK;
}

ember_status ember_model_fit(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                             const ember_fit_config *cfg, ember_history *history,
                             ember_error *err)
{
    if (!m || !cfg)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_fit: NULL argument");
    if (!m->compiled)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "fit: the model is not compiled; call ember_model_compile first");
    if (cfg->epochs < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: epochs must be >= 1, got %d", cfg->epochs);
    if (cfg->batch_size < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: batch_size must be >= 1, got %lld",
                          (long long)cfg->batch_size);
    if (!y)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: y is NULL");
    targets_info ti, vti;
    ember_status s = check_data(m, x, y, "x", "y", &ti, err);
    if (s)
        return s;
    int has_val = cfg->x_val != NULL;
    if (has_val != (cfg->y_val != NULL))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: give both x_val and y_val, or neither");
    if (has_val && (s = check_data(m, cfg->x_val, cfg->y_val, "x_val", "y_val", &vti, err)))
        return s;
    int64_t N = x->shape[0];
    int64_t batch = cfg->batch_size < N ? cfg->batch_size : N;
    /* Validation reuses the training batch size, as Keras does, so one arena serves both. */
    if ((s = ember__model_arena(m, batch, err)))
        return s;
    int64_t *order = malloc((size_t)N * sizeof *order);
    if (!order)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the epoch order (%lld rows)",
                          (long long)N);
    set_threads(m);
    int64_t steps = (N + batch - 1) / batch;
    for (int e = 0; e < cfg->epochs; e++) {
        uint64_t epoch_id = (uint64_t)m->epochs_done;
        for (int64_t i = 0; i < N; i++)
            order[i] = i;
        if (cfg->shuffle) {
            ember_rng r = ember__rng_stream(m->seed, EMBER_STREAM_SHUFFLE, epoch_id, 0);
            for (int64_t i = N - 1; i > 0; i--) {
                int64_t j = (int64_t)ember__rng_below(&r, (uint64_t)i + 1);
                int64_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        ember_progress pr = {EMBER_PROGRESS_EPOCH_BEGIN, e, cfg->epochs, 0, steps, 0.0,
                             NAN, NAN, NAN, NAN};
        if (cfg->progress)
            cfg->progress(&pr, cfg->progress_user);
        double t0 = ember__now(), loss_sum = 0.0;
        int64_t correct = 0, seen = 0;
        for (int64_t st = 0; st < steps; st++) {
            int64_t b0 = st * batch, B = N - b0 < batch ? N - b0 : batch;
            gather(m, x, y, &ti, order, b0, B);
            ember_step_ctx ctx = {1, ember__rng_stream(m->seed, EMBER_STREAM_DROPOUT, epoch_id,
                                                       (uint64_t)st),
                                  m->threads};
            double ls = 0.0;
            int64_t c = 0;
            if ((s = train_step(m, &ti, B, &ctx, &ls, &c, e, st, err))) {
                free(order);
                return s;
            }
            loss_sum += ls;
            correct += c;
            seen += B;
            if (cfg->progress) {
                pr.event = EMBER_PROGRESS_BATCH_END;
                pr.step = st + 1;
                pr.elapsed_s = ember__now() - t0;
                pr.loss = loss_sum / (double)seen;
                pr.accuracy = m->loss == EMBER_LOSS_MSE
                                  ? NAN : (double)correct / acc_denominator(m, seen, ti.K);
                cfg->progress(&pr, cfg->progress_user);
            }
        }
        m->epochs_done++;
        double hv[H_COUNT] = {loss_sum / (double)N,
                              m->loss == EMBER_LOSS_MSE
                                  ? NAN : (double)correct / acc_denominator(m, N, ti.K),
                              NAN, NAN};
        if (has_val)
            evaluate_inner(m, cfg->x_val, cfg->y_val, &vti, batch, &hv[H_VAL_LOSS],
                           &hv[H_VAL_ACC]);
        if ((s = history_add(history, hv, err))) {
            free(order);
            return s;
        }
        if (cfg->progress) {
            pr.event = EMBER_PROGRESS_EPOCH_END;
            pr.step = steps;
            pr.elapsed_s = ember__now() - t0;
            pr.loss = hv[H_LOSS];
            pr.accuracy = hv[H_ACC];
            pr.val_loss = hv[H_VAL_LOSS];
            pr.val_accuracy = hv[H_VAL_ACC];
            cfg->progress(&pr, cfg->progress_user);
        }
    }
    free(order);
    return EMBER_OK;
}
