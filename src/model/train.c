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
 *
 * Checkpoints (checkpoint.c) and on_nan = skip-batch live in fit_inner: the
 * loop's state between steps is the model (parameters, optimizer, epochs_done)
 * plus ember_ckpt_pos (step, running sums) and this fit's history, which is
 * what a checkpoint holds, so a resumed loop continues bit for bit. Without a
 * checkpoint folder nothing is hashed or written.
 */
#include "checkpoint.h"
#include "dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#include "kernels/gemm.h"

#define DEFAULT_EVAL_BATCH 256
#define PAR_MIN_ROWS 256

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

/* A data set's inputs: a dense tensor [N, ...] or ragged token ids. For ids,
 * `bags` is the compact form the model trains on: each example's distinct ids
 * with their counts (the bag mean is the same; a token repeated k times is
 * read and updated once instead of k times). */
typedef struct compact_bags {
    int64_t n;
    int64_t *offsets; /* [n + 1] */
    int32_t *ids;     /* distinct per example, in order of first appearance */
    float *counts;
} compact_bags;

typedef struct model_input {
    const ember_tensor *x;
    const ember_ragged *ids;
    compact_bags bags;
} model_input;

static void free_bags(compact_bags *c)
{
    free(c->offsets);
    free(c->ids);
    free(c->counts);
    memset(c, 0, sizeof *c);
}

/* Build in->bags from in->ids (already checked: ids in [0, V)). The
 * per-row bookkeeping (V entries) lives in the model and is allocated once;
 * stamps keep growing across calls, so it is never cleared. */
static ember_status compact(ember_model *m, model_input *in, ember_error *err)
{
    const ember_ragged *r = in->ids;
    compact_bags *c = &in->bags;
    int64_t total = r->offsets[r->n];
    int64_t V = ((const embedding_config *)m->layers[0]->config)->input_dim;
    if (!m->bag_stamp) {
        m->bag_stamp = malloc((size_t)V * sizeof *m->bag_stamp);
        m->bag_pos = malloc((size_t)V * sizeof *m->bag_pos);
        if (!m->bag_stamp || !m->bag_pos) {
            free(m->bag_stamp);
            free(m->bag_pos);
            m->bag_stamp = NULL;
            m->bag_pos = NULL;
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld embedding rows",
                              (long long)V);
        }
        for (int64_t v = 0; v < V; v++)
            m->bag_stamp[v] = -1;
    }
    c->n = r->n;
    c->offsets = malloc((size_t)(r->n + 1) * sizeof *c->offsets);
    c->ids = malloc((size_t)(total ? total : 1) * sizeof *c->ids);
    c->counts = malloc((size_t)(total ? total : 1) * sizeof *c->counts);
    if (!c->offsets || !c->ids || !c->counts) {
        free_bags(c);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld token ids", (long long)total);
    }
    int64_t *stamp = m->bag_stamp, k = 0;
    int64_t *pos = m->bag_pos;
    c->offsets[0] = 0;
    for (int64_t b = 0; b < r->n; b++) {
        int64_t st = m->bag_counter++;
        for (int64_t t = r->offsets[b]; t < r->offsets[b + 1]; t++) {
            int32_t id = r->ids[t];
            if (stamp[id] != st) {
                stamp[id] = st;
                pos[id] = k;
                c->ids[k] = id;
                c->counts[k++] = 1.0f;
            } else {
                c->counts[pos[id]] += 1.0f;
            }
        }
        c->offsets[b + 1] = k;
    }
    return EMBER_OK;
}

static int64_t input_rows(const model_input *in) { return in->x ? in->x->shape[0] : in->ids->n; }

typedef struct targets_info {
    int sparse;
    int64_t K;      /* model outputs */
    int64_t width;  /* floats per target row: K, or 1 when sparse */
} targets_info;

static ember_status check_ids(const ember_model *m, const ember_ragged *r, const char *xname,
                              ember_error *err)
{
    if (r->n <= 0 || !r->offsets || (!r->ids && r->offsets[r->n] > 0))
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s has no examples", xname);
    const embedding_config *ec = m->layers[0]->config;
    int64_t V = ec->input_dim;
    if (r->offsets[0] != 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: offsets[0] must be 0, got %lld", xname,
                          (long long)r->offsets[0]);
    for (int64_t i = 0; i < r->n; i++) {
        if (r->offsets[i + 1] < r->offsets[i])
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: offsets decrease at example %lld", xname,
                              (long long)i);
        for (int64_t t = r->offsets[i]; t < r->offsets[i + 1]; t++)
            if (r->ids[t] < 0 || r->ids[t] >= V)
                return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s example %lld: token id %d is outside "
                                  "the embedding's 0..%lld", xname, (long long)i, (int)r->ids[t],
                                  (long long)V - 1);
    }
    return EMBER_OK;
}

/* Check inputs and targets against the model; names what is wrong. */
static ember_status check_data(const ember_model *m, const model_input *in, const ember_tensor *y,
                               const char *xname, const char *yname, targets_info *ti,
                               ember_error *err)
{
    if (m->n_layers == 0)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "the model has no layers");
    if (in->x && in->ids)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "%s: give dense inputs or token ids, not both",
                          xname);
    if (m->ids_input) {
        if (!in->ids)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "%s: this model takes token ids (use the _ids "
                              "calls)", xname);
        ember_status s = check_ids(m, in->ids, xname, err);
        if (s)
            return s;
    } else {
        const ember_tensor *x = in->x;
        if (!x)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "%s is NULL (or token ids given to a model of "
                              "dense inputs)", xname);
        if (in->ids)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "%s: this model takes dense inputs, not token "
                              "ids", xname);
        if (x->ndim != m->input_rank + 1)
            return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s has rank %d, the model expects rank %d "
                              "([N] + input shape)", xname, x->ndim, m->input_rank + 1);
        for (int i = 0; i < m->input_rank; i++)
            if (x->shape[i + 1] != m->input_shape[i])
                return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s dimension %d is %lld, the model "
                                  "expects %lld", xname, i + 1, (long long)x->shape[i + 1],
                                  (long long)m->input_shape[i]);
        if (x->shape[0] == 0)
            return EMBER_FAIL(err, EMBER_ERR_SHAPE, "%s has no examples", xname);
        /* NaN/Inf inputs would pass ReLU as 0 and give silent, wrong outputs */
        int64_t n = ember_tensor_numel(x), bad = -1;
#pragma omp parallel for schedule(static) reduction(max : bad) if (n > 1 << 20)
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x->data[i]))
                bad = i > bad ? i : bad;
        if (bad >= 0)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s row %lld holds a NaN or Inf", xname,
                              (long long)(bad / (n / x->shape[0])));
    }
    int64_t N = input_rows(in);
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

/* Most token ids any batch of B examples can hold: the sum of the B longest. */
static int64_t max_batch_ids(const model_input *in, int64_t B)
{
    if (!in || !in->ids)
        return 0;
    const compact_bags *r = &in->bags;
    if (B >= r->n)
        return r->offsets[r->n];
    /* counting sort on lengths would need their range; a heap is simpler: keep
     * the B largest in a min-heap */
    int64_t *h = malloc((size_t)B * sizeof *h);
    if (!h)
        return -1;
    int64_t n = 0, total = 0;
    for (int64_t i = 0; i < r->n; i++) {
        int64_t len = r->offsets[i + 1] - r->offsets[i];
        if (n < B) {
            int64_t k = n++;
            h[k] = len;
            while (k > 0 && h[(k - 1) / 2] > h[k]) {
                int64_t p = (k - 1) / 2, t = h[p];
                h[p] = h[k];
                h[k] = t;
                k = p;
            }
        } else if (len > h[0]) {
            h[0] = len;
            int64_t k = 0;
            for (;;) {
                int64_t l = 2 * k + 1, rr = l + 1, mn = k;
                if (l < n && h[l] < h[mn])
                    mn = l;
                if (rr < n && h[rr] < h[mn])
                    mn = rr;
                if (mn == k)
                    break;
                int64_t t = h[mn];
                h[mn] = h[k];
                h[k] = t;
                k = mn;
            }
        }
    }
    for (int64_t i = 0; i < n; i++)
        total += h[i];
    free(h);
    return total;
}

static ember_status prepare_arena(ember_model *m, const model_input *a, const model_input *b,
                                  int64_t B, ember_error *err)
{
    int64_t na = max_batch_ids(a, B), nb = max_batch_ids(b, B);
    if (na < 0 || nb < 0)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    return ember__model_arena(m, B, na > nb ? na : nb, err);
}

/* Copy rows idx[0..B) (or begin..begin+B when idx is NULL) into the arena,
 * with their targets and weights; sets the ids in ctx for ids models. */
static void gather(ember_model *m, const model_input *in, const ember_tensor *y,
                   const float *weights, const targets_info *ti, const int64_t *idx,
                   int64_t begin, int64_t B, ember_step_ctx *ctx)
{
    int64_t D = m->input_size, W = ti->width;
    if (in->ids) {
        const compact_bags *r = &in->bags;
        int64_t *off = m->batch_offsets;
        off[0] = 0;
        for (int64_t k = 0; k < B; k++) {
            int64_t src = idx ? idx[begin + k] : begin + k;
            int64_t s0 = r->offsets[src], len = r->offsets[src + 1] - s0;
            memcpy(m->batch_ids + off[k], r->ids + s0, (size_t)len * sizeof(int32_t));
            memcpy(m->batch_id_weights + off[k], r->counts + s0, (size_t)len * sizeof(float));
            off[k + 1] = off[k] + len;
        }
        ctx->ids = m->batch_ids;
        ctx->offsets = off;
        ctx->id_weights = m->batch_id_weights;
    }
    float *xb = m->acts[0];
    EMBER_PAR_FOR_IF(B * (D + W) > 65536, for (int64_t k = 0; k < B; k++) {
        int64_t src = idx ? idx[begin + k] : begin + k;
        if (in->x)
            memcpy(xb + k * D, in->x->data + src * D, (size_t)D * sizeof *xb);
        if (y)
            memcpy(m->targets + k * W, y->data + src * W, (size_t)W * sizeof *xb);
        m->weights[k] = weights ? weights[src] : 1.0f;
    });
}

static ember_loss_batch loss_batch(const ember_model *m, const targets_info *ti, const float *p,
                                   int64_t B)
{
    ember_loss_batch lb = {m->loss, m->fused, p, m->fused ? ember__model_logits(m) : NULL,
                           m->targets, ti->sparse, B, ti->K, NULL, 0};
    return lb;
}

static double acc_denominator(const ember_model *m, int64_t rows, int64_t K)
{
    return m->loss == EMBER_LOSS_BINARY_CROSSENTROPY ? (double)rows * (double)K : (double)rows;
}

/* Sum of the row losses and the correct count over rows [r0, r1). */
static void evaluate_rows(ember_model *m, const model_input *x, const ember_tensor *y,
                          const targets_info *ti, int64_t batch, int64_t r0, int64_t r1,
                          double *loss_total, int64_t *n_correct)
{
    ember_step_ctx ctx = {0, {0, 0}, m->threads, NULL, NULL, NULL, 0};
    double total = 0.0;
    int64_t correct = 0;
    for (int64_t b0 = r0; b0 < r1; b0 += batch) {
        int64_t B = r1 - b0 < batch ? r1 - b0 : batch;
        gather(m, x, y, NULL, ti, NULL, b0, B, &ctx);
        const float *p = ember__model_forward(m, B, &ctx);
        ember_loss_batch lb = loss_batch(m, ti, p, B);
        int64_t c = 0;
        ember__loss_compute(&lb, m->row_loss, NULL, &c);
        for (int64_t r = 0; r < B; r++)
            total += m->row_loss[r];
        correct += c;
    }
    *loss_total = total;
    *n_correct = correct;
}

static ember_status evaluate_inner(ember_model *m, const model_input *x, const ember_tensor *y,
                                   const targets_info *ti, int64_t batch, double *loss,
                                   double *accuracy)
{
    int64_t N = input_rows(x), correct = 0;
    double total = 0.0;
    evaluate_rows(m, x, y, ti, batch, 0, N, &total, &correct);
    *loss = total / (double)N;
    *accuracy = m->loss == EMBER_LOSS_MSE ? NAN : (double)correct / acc_denominator(m, N, ti->K);
    return EMBER_OK;
}

/* Validation of a distributed fit: rank r evaluates rows [N r / P, N (r + 1)
 * / P), and the sums are added over the ranks (one small allreduce). */
static ember_status evaluate_dist(ember_model *m, ember_dist *d, const model_input *x,
                                  const ember_tensor *y, const targets_info *ti, int64_t batch,
                                  double *loss, double *accuracy, ember_error *err)
{
    int64_t N = input_rows(x), correct = 0;
    double sums[2] = {0.0, 0.0};
    evaluate_rows(m, x, y, ti, batch, N * d->rank / d->size, N * (d->rank + 1) / d->size,
                  &sums[0], &correct);
    sums[1] = (double)correct;
    ember_status s = ember__dist_allreduce(d, sums, 2, EMBER_DIST_F64, EMBER_DIST_SUM, err);
    if (s)
        return s;
    *loss = sums[0] / (double)N;
    *accuracy = m->loss == EMBER_LOSS_MSE ? NAN : sums[1] / acc_denominator(m, N, ti->K);
    return EMBER_OK;
}

static ember_status evaluate_any(ember_model *m, model_input *in, const ember_tensor *y,
                                 int64_t batch_size, double *loss, double *accuracy,
                                 ember_error *err)
{
    if (!m || !y || !loss || !accuracy)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "evaluate: NULL argument");
    if (!m->compiled)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "evaluate: the model is not compiled");
    targets_info ti;
    ember_status s = check_data(m, in, y, "x", "y", &ti, err);
    if (s)
        return s;
    int64_t batch = batch_size > 0 ? batch_size : DEFAULT_EVAL_BATCH;
    if (batch > input_rows(in))
        batch = input_rows(in);
    if (in->ids && (s = compact(m, in, err)))
        return s;
    if (!(s = prepare_arena(m, in, NULL, batch, err))) {
        set_threads(m);
        s = evaluate_inner(m, in, y, &ti, batch, loss, accuracy);
    }
    free_bags(&in->bags);
    return s;
}

ember_status ember_model_evaluate(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                                  int64_t batch_size, double *loss, double *accuracy,
                                  ember_error *err)
{
    model_input in = {x, NULL, {0, NULL, NULL, NULL}};
    return evaluate_any(m, &in, y, batch_size, loss, accuracy, err);
}

ember_status ember_model_evaluate_ids(ember_model *m, const ember_ragged *x, const ember_tensor *y,
                                      int64_t batch_size, double *loss, double *accuracy,
                                      ember_error *err)
{
    if (!x)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "evaluate: x is NULL");
    model_input in = {NULL, x, {0, NULL, NULL, NULL}};
    return evaluate_any(m, &in, y, batch_size, loss, accuracy, err);
}

static ember_status predict_any(ember_model *m, model_input *in, int64_t batch_size,
                                ember_tensor **out, ember_error *err)
{
    if (!m || !out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "predict: NULL argument");
    *out = NULL;
    if (!m->initialised || m->n_layers == 0)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "predict: the model has no weights (compile or load it)");
    targets_info ti;
    ember_status s = check_data(m, in, NULL, "x", "y", &ti, err);
    if (s)
        return s;
    int64_t batch = batch_size > 0 ? batch_size : DEFAULT_EVAL_BATCH;
    if (batch > input_rows(in))
        batch = input_rows(in);
    if (in->ids && (s = compact(m, in, err)))
        return s;
    int64_t N = input_rows(in), K = ti.K, shape[2] = {N, K};
    ember_tensor *o = NULL;
    if ((s = prepare_arena(m, in, NULL, batch, err)) || (s = ember_tensor_create(&o, 2, shape, err))) {
        free_bags(&in->bags);
        return s;
    }
    set_threads(m);
    ember_step_ctx ctx = {0, {0, 0}, m->threads, NULL, NULL, NULL, 0};
    for (int64_t b0 = 0; b0 < N; b0 += batch) {
        int64_t B = N - b0 < batch ? N - b0 : batch;
        gather(m, in, NULL, NULL, &ti, NULL, b0, B, &ctx);
        const float *p = ember__model_forward(m, B, &ctx);
        memcpy(o->data + b0 * K, p, (size_t)(B * K) * sizeof *p);
    }
    free_bags(&in->bags);
    *out = o;
    return EMBER_OK;
}

ember_status ember_model_predict(ember_model *m, const ember_tensor *x, int64_t batch_size,
                                 ember_tensor **out, ember_error *err)
{
    model_input in = {x, NULL, {0, NULL, NULL, NULL}};
    return predict_any(m, &in, batch_size, out, err);
}

ember_status ember_model_predict_ids(ember_model *m, const ember_ragged *x, int64_t batch_size,
                                     ember_tensor **out, ember_error *err)
{
    if (!x)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "predict: x is NULL");
    model_input in = {NULL, x, {0, NULL, NULL, NULL}};
    return predict_any(m, &in, batch_size, out, err);
}

ember_fit_config ember_fit_config_default(void)
{
    ember_fit_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 1;
    c.batch_size = 32;
    c.shuffle = 1;
    c.checkpoint_keep = EMBER_CHECKPOINT_KEEP_DEFAULT;
    c.dist_bucket_kb = EMBER_DIST_BUCKET_KB_DEFAULT;
    return c;
}

typedef struct bucket_hook {
    ember_dist_step *st;
    ember_dist *d;
    ember_model *m;
} bucket_hook;

static void after_layer(void *user, int layer)
{
    bucket_hook *h = user;
    ember__dist_after_layer(h->st, h->d, h->m, layer);
}

/* Apply f to each range of a layer's parameters that can hold a non-zero
 * gradient this step: all of them, or the touched rows of a sparse layer. */
#define FOR_EACH_RANGE(l, off, n, body)                                                     \
    do {                                                                                    \
        if ((l)->sparse_grads) {                                                            \
            for (int64_t r_ = 0; r_ < (l)->n_touched; r_++) {                               \
                int64_t off = (l)->touched[r_] * (l)->row_len, n = (l)->row_len;            \
                body;                                                                       \
            }                                                                               \
        } else {                                                                            \
            int64_t off = 0, n = (l)->param_count;                                          \
            body;                                                                           \
        }                                                                                   \
    } while (0)

/* One optimizer step on the batch already in the arena. Gradients are zero
 * on entry (dense layers are cleared here; sparse layers clear their touched
 * rows after the update). */
/* A distributed step (dist non-NULL) holds B rows of a mini-batch of
 * norm_rows rows (B may be 0); the loss is divided by norm_rows, and the
 * exchange sums loss, counts and gradients over the ranks before anything
 * is checked or applied, so every rank takes the same decisions. */
static ember_status train_step(ember_model *m, const targets_info *ti, int64_t B,
                               int64_t norm_rows, ember_dist *dist, ember_dist_step *dst,
                               const ember_step_ctx *ctx, double *loss_sum, int64_t *correct,
                               int epoch, int64_t step, ember_error *err)
{
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        if (l->param_count && !l->sparse_grads)
            memset(l->grads, 0, (size_t)l->param_count * sizeof *l->grads);
        l->n_touched = 0;
    }
    double s = 0.0;
    *correct = 0;
    if (B > 0) {
        const float *p = ember__model_forward(m, B, ctx);
        ember_loss_batch lb = loss_batch(m, ti, p, B);
        lb.weights = m->weights;
        lb.norm_rows = norm_rows;
        float *dout = m->grad_a;
        ember__loss_compute(&lb, m->row_loss, dout, correct);
        for (int64_t r = 0; r < B; r++)
            s += m->row_loss[r];
        /* distributed: backward even on NaN (it only spreads), so all ranks
         * reach the exchange */
        if (dist && dst->n_buckets) {
            bucket_hook h = {dst, dist, m};
            ember__model_backward_each(m, dout, B, ctx, NULL, after_layer, &h);
        } else if (isfinite(s) || dist) {
            ember__model_backward(m, dout, B, ctx);
        }
    }
    if (dist) {
        ember_status xs = ember__dist_exchange(dst, m, dist, &s, correct, err);
        if (xs)
            return xs;
    }
    if (!isfinite(s))
        return EMBER_FAIL(err, EMBER_ERR_NUMERIC,
                          "epoch %d, step %lld: the loss is %s; HINT: lower the learning rate, "
                          "or check the inputs for NaN/Inf", epoch + 1, (long long)step + 1,
                          isnan(s) ? "NaN" : "infinite");
    *loss_sum = s;

    const ember_optimizer_config *oc = &m->optim.cfg;
    double sq = 0.0;
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        if (!l->param_count)
            continue;
        if (oc->weight_decay > 0.0f && l->kernel_count)
            ember__axpy(l->grads, l->params, l->kernel_count, oc->weight_decay);
        double ls = 0.0;
        FOR_EACH_RANGE(l, off, n, ls += ember__sumsq(l->grads + off, n));
        if (!isfinite(ls))
            return EMBER_FAIL(err, EMBER_ERR_NUMERIC,
                              "epoch %d, step %lld: layer %d (%s) has a NaN or Inf gradient",
                              epoch + 1, (long long)step + 1, i, l->ops->name);
        sq += ls;
    }
    float scale = 1.0f;
    if (oc->clip_norm > 0.0f) {
        double norm = sqrt(sq);
        if (norm > oc->clip_norm)
            scale = (float)(oc->clip_norm / norm);
    }
    ember__optim_begin(&m->optim);
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        if (!l->param_count)
            continue;
        int64_t base = l->params - m->params;
        FOR_EACH_RANGE(l, off, n, {
            if (scale != 1.0f)
                ember__scale(l->grads + off, n, scale);
            ember__optim_update(&m->optim, m->params, m->grads, base + off, n);
        });
        if (l->sparse_grads)
            FOR_EACH_RANGE(l, off, n, memset(l->grads + off, 0, (size_t)n * sizeof(float)));
    }
    return EMBER_OK;
}

/* Random crop with zero padding and horizontal flip of the batch in
 * acts[0] (rows of {H, W, C}), in place. Example k of step (epoch, b0)
 * draws from its own counter-based stream, so the result does not depend on
 * the thread count. The grad_a buffer (free until backward) holds one
 * example at a time per thread. */
static void augment_batch(ember_model *m, const ember_fit_config *cfg, uint64_t epoch_id,
                          int64_t b0, int64_t B)
{
    const int64_t H = m->input_shape[0], W = m->input_shape[1], C = m->input_shape[2];
    const int64_t D = H * W * C, pad = cfg->augment_crop_pad;
    float *xb = m->acts[0];
    int threads = m->threads;
    (void)threads;
#pragma omp parallel num_threads(threads) if (B * D > 65536)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
#pragma omp for schedule(static)
        for (int64_t k = 0; k < B; k++) {
            /* grad_a holds arena_batch * (widest layer) >= B * D floats, and
             * a static schedule gives thread t iterations only if t < B */
            float *tmp = m->grad_a + (int64_t)t * D;
            ember_rng r = ember__rng_stream(m->seed, EMBER_STREAM_AUGMENT, epoch_id,
                                            (uint64_t)(b0 + k));
            int flip = cfg->augment_flip && ember__rng_below(&r, 2);
            int64_t dy = 0, dx = 0;
            if (pad > 0) {
                dy = (int64_t)ember__rng_below(&r, (uint64_t)(2 * pad + 1)) - pad;
                dx = (int64_t)ember__rng_below(&r, (uint64_t)(2 * pad + 1)) - pad;
            }
            if (!flip && dy == 0 && dx == 0)
                continue;
            float *img = xb + k * D;
            memcpy(tmp, img, (size_t)D * sizeof *tmp);
            /* out(i, j) = in(i + dy, j' + dx), j' = mirrored j when flipping */
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) {
                    int64_t si = i + dy, sj = (flip ? W - 1 - j : j) + dx;
                    float *o = img + (i * W + j) * C;
                    if (si < 0 || si >= H || sj < 0 || sj >= W)
                        memset(o, 0, (size_t)C * sizeof *o);
                    else
                        memcpy(o, tmp + (si * W + sj) * C, (size_t)C * sizeof *o);
                }
        }
    }
}

static ember_status fit_inner(ember_model *m, model_input *in, model_input *vinp,
                              const ember_tensor *y, targets_info ti, targets_info vti,
                              const ember_fit_config *cfg, ember_history *history,
                              ember_error *err);

static ember_status fit_any(ember_model *m, model_input *in, const ember_tensor *y,
                            const ember_fit_config *cfg, ember_history *history, ember_error *err)
{
    if (!m || !cfg)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: NULL argument");
    if (cfg->dist)
        cfg->dist->error_shared = 0;
    if (!m->compiled)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "fit: the model is not compiled; call "
                          "ember_model_compile first%s",
                          m->shared ? " (a shared model can only predict)" : "");
    if (cfg->epochs < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: epochs must be >= 1, got %d", cfg->epochs);
    if (cfg->batch_size < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: batch_size must be >= 1, got %lld",
                          (long long)cfg->batch_size);
    if (!y)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: y is NULL");
    if ((cfg->augment_flip || cfg->augment_crop_pad) && (m->ids_input || m->input_rank != 3))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: augmentation needs image inputs {H, W, C}; "
                          "this model's input has rank %d", m->ids_input ? 0 : m->input_rank);
    if ((unsigned)cfg->on_nan > EMBER_ON_NAN_SKIP_BATCH)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: on_nan %d is unknown", (int)cfg->on_nan);
    if (cfg->checkpoint_every < 0 || cfg->checkpoint_keep < 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: checkpoint_%s must be >= 0, got %lld",
                          cfg->checkpoint_every < 0 ? "every" : "keep",
                          cfg->checkpoint_every < 0 ? (long long)cfg->checkpoint_every
                                                    : (long long)cfg->checkpoint_keep);
    if (cfg->resume && !cfg->checkpoint_dir)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: resume needs checkpoint_dir");
    if (cfg->augment_crop_pad < 0 || cfg->augment_crop_pad > 4096)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: augment_crop_pad must be in 0..4096, got %lld",
                          (long long)cfg->augment_crop_pad);
    targets_info ti, vti;
    ember_status s = check_data(m, in, y, "x", "y", &ti, err);
    if (s)
        return s;
    model_input vin = {cfg->x_val, cfg->x_val_ids, {0, NULL, NULL, NULL}};
    int has_val = cfg->x_val != NULL || cfg->x_val_ids != NULL;
    if (has_val != (cfg->y_val != NULL))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: give both validation inputs and y_val, or neither");
    if (has_val && (s = check_data(m, &vin, cfg->y_val, "x_val", "y_val", &vti, err)))
        return s;
    ember_status cs = EMBER_OK;
    if (m->ids_input)
        cs = compact(m, in, err);
    if (!cs && has_val && m->ids_input)
        cs = compact(m, &vin, err);
    if (!cs)
        cs = fit_inner(m, in, has_val ? &vin : NULL, y, ti, has_val ? vti : ti, cfg, history, err);
    free_bags(&in->bags);
    free_bags(&vin.bags);
    return cs;
}

/* ------------------------------------------------ checkpoints and guards */

static void emit(const ember_fit_config *cfg, ember_progress_event ev, int epoch, int64_t step,
                 int64_t steps, int64_t skipped, const char *message)
{
    if (!cfg->progress)
        return;
    ember_progress p = {ev, epoch, cfg->epochs, step, steps, 0.0, NAN, NAN, NAN, NAN, NAN,
                        skipped, message};
    cfg->progress(&p, cfg->progress_user);
}

static void warn_progress(const char *message, void *user)
{
    const ember_fit_config *cfg = user;
    emit(cfg, EMBER_PROGRESS_WARNING, 0, 0, 0, 0, message);
}

/* Open the checkpoint folder and record what a resume must match. */
static ember_status ckpt_begin(ember_model *m, const model_input *in, const ember_tensor *y,
                               const ember_fit_config *cfg, ember_ckpt **out, ember_error *err)
{
    int keep = cfg->checkpoint_keep ? cfg->checkpoint_keep : EMBER_CHECKPOINT_KEEP_DEFAULT;
    ember_status s = ember__ckpt_open(out, cfg->checkpoint_dir, keep, err);
    if (s)
        return s;
    if ((s = ember__ckpt_fingerprint_fit(*out, m, cfg, in->x, in->ids, y, err))) {
        ember__ckpt_close(*out);
        *out = NULL;
    }
    return s;
}

static ember_status ckpt_write(ember_ckpt *ck, const ember_model *m, const ember_ckpt_pos *pos,
                               const ember_history *run_hist, const ember_fit_config *cfg,
                               int64_t steps, ember_error *err)
{
    char path[EMBER_CKPT_PATH_MAX];
    ember_status s = ember__ckpt_save(ck, m, pos, run_hist, NULL, path, sizeof path, err);
    if (!s)
        emit(cfg, EMBER_PROGRESS_CHECKPOINT, pos->epoch, pos->step, steps, pos->skipped, path);
    return s;
}

/* BatchNormalization's moving statistics: the only parameters a forward
 * pass changes. Saved before each step when batches may be skipped. */
static int64_t bn_stats_size(const ember_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->kind == EMBER_LAYER_BATCHNORM)
            n += 2 * ((const batchnorm_config *)m->layers[i]->config)->C;
    return n;
}

static void bn_stats_copy(ember_model *m, float *saved, int restore)
{
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        if (l->kind != EMBER_LAYER_BATCHNORM)
            continue;
        int64_t C = ((const batchnorm_config *)l->config)->C;
        float *stats = l->params + 2 * C;
        if (restore)
            memcpy(stats, saved, (size_t)(2 * C) * sizeof *saved);
        else
            memcpy(saved, stats, (size_t)(2 * C) * sizeof *saved);
        saved += 2 * C;
    }
}

/* Undo what a failed step changed: gradients of a sparse layer's touched
 * rows (dense gradients are cleared at the next step) and the moving
 * statistics. The optimizer had not begun (t, moments, weights unchanged). */
static void discard_step(ember_model *m, float *bn_saved)
{
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        if (l->param_count && l->sparse_grads)
            FOR_EACH_RANGE(l, off, n, memset(l->grads + off, 0, (size_t)n * sizeof(float)));
        l->n_touched = 0;
    }
    if (bn_saved)
        bn_stats_copy(m, bn_saved, 1);
}

/* Every rank passes its status; all get EMBER_OK only if every rank had it.
 * A rank that was fine gets EMBER_ERR_STATE saying another failed (whose
 * own message names the cause). */
static ember_status dist_agree(ember_dist *d, ember_status mine, ember_error *err)
{
    double bad = mine != EMBER_OK;
    ember_error e2;
    ember_status s = ember__dist_allreduce(d, &bad, 1, EMBER_DIST_F64, EMBER_DIST_MAX,
                                           mine ? &e2 : err);
    if (mine)
        return mine;
    if (s)
        return s;
    if (bad > 0)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "distributed fit: another rank failed (rank 0 "
                          "prints why)");
    return EMBER_OK;
}

/* The epochs of fit, on inputs already checked (ti, vti) and compacted. */
static ember_status fit_inner(ember_model *m, model_input *in, model_input *vinp,
                              const ember_tensor *y, targets_info ti, targets_info vti,
                              const ember_fit_config *cfg, ember_history *history,
                              ember_error *err)
{
    ember_status s;
    int has_val = vinp != NULL;
    static const model_input none = {NULL, NULL, {0, NULL, NULL, NULL}};
    const model_input vin = has_val ? *vinp : none;
    int64_t N = input_rows(in);
    if (cfg->sample_weight)
        for (int64_t i = 0; i < N; i++)
            if (!(cfg->sample_weight[i] >= 0.0f) || !isfinite(cfg->sample_weight[i]))
                return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: sample_weight[%lld] = %g is not a "
                                  "finite number >= 0", (long long)i, (double)cfg->sample_weight[i]);
    int64_t batch = cfg->batch_size < N ? cfg->batch_size : N;
    /* Several ranks: each takes a shard of every mini-batch (dist.c). One
     * rank is an ordinary fit. */
    ember_dist *dist = cfg->dist && cfg->dist->size > 1 ? cfg->dist : NULL;
    int root = !cfg->dist || cfg->dist->rank == 0;
    if (dist && bn_stats_size(m) > 0)
        return EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "distributed fit: BatchNormalization is not "
                          "supported with several ranks (each would normalise its own shard and "
                          "keep its own moving statistics); train it in one process");
    /* Validation reuses the training batch size, as Keras does, so one arena serves both. */
    if ((s = prepare_arena(m, in, has_val ? &vin : NULL, batch, err)))
        return s;
    ember_dist_step dst;
    memset(&dst, 0, sizeof dst);
    int agreed = 0; /* an error every rank meets alike (ember_dist_error_is_shared) */
    if (dist && (s = ember__dist_step_init(&dst, m, dist,
                                           cfg->dist_bucket_kb > 0 ? cfg->dist_bucket_kb * 256 : 0,
                                           err)))
        return s;
    int64_t steps = (N + batch - 1) / batch;
    int augment = cfg->augment_flip || cfg->augment_crop_pad > 0;
    int skip_nan = cfg->on_nan == EMBER_ON_NAN_SKIP_BATCH;
    int64_t max_skips = steps * EMBER_SKIP_BATCH_MAX_PERCENT / 100;
    if (max_skips < 1)
        max_skips = 1;
    int64_t every = cfg->checkpoint_every;
    ember_ckpt *ck = NULL;
    ember_history run_hist = {0, 0, NULL}; /* this fit's epochs, for checkpoints */
    ember_ckpt_pos pos = {0, 0, 0.0, 0, 0, 0};
    ember_error step_err;
    int64_t nbn = skip_nan ? bn_stats_size(m) : 0;
    int64_t *order = malloc((size_t)N * sizeof *order);
    float *bn_saved = nbn ? malloc((size_t)nbn * sizeof *bn_saved) : NULL;
    if (!order) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the epoch order (%lld rows)",
                       (long long)N);
        goto out;
    }
    if (nbn && !bn_saved) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a copy of the "
                       "BatchNormalization statistics");
        goto out;
    }
    if (cfg->checkpoint_dir && dist && !root) {
        /* Rank 0 opens (and, resuming, sets aside corrupt files) first. */
        if ((s = dist_agree(dist, EMBER_OK, err))) {
            agreed = 1;
            goto out;
        }
    }
    if (cfg->checkpoint_dir) {
        char used[EMBER_CKPT_PATH_MAX];
        int found = 0;
        if ((s = ckpt_begin(m, in, y, cfg, &ck, err)))
            goto ckpt_done;
        if (!cfg->resume && root) {
            int n = ember__ckpt_count(ck, err);
            if (n < 0) {
                s = err ? err->code : EMBER_ERR_IO;
                goto ckpt_done;
            }
            if (n > 0) {
                s = EMBER_FAIL(err, EMBER_ERR_STATE, "%s already holds %d checkpoint%s of a run; "
                               "resume it (ember train --resume) or use an empty folder",
                               cfg->checkpoint_dir, n, n == 1 ? "" : "s");
                goto ckpt_done;
            }
        } else if (cfg->resume) {
            if ((s = ember__ckpt_resume(ck, m, &pos, &run_hist, &found, warn_progress,
                                        (void *)cfg, used, sizeof used, err)))
                goto ckpt_done;
            if (found) {
                emit(cfg, EMBER_PROGRESS_RESUMED, pos.epoch, pos.step, steps, pos.skipped, used);
            } else {
                char msg[EMBER_CKPT_PATH_MAX + 80];
                snprintf(msg, sizeof msg, "%s: no checkpoint to resume from; training starts "
                         "from the beginning", cfg->checkpoint_dir);
                emit(cfg, EMBER_PROGRESS_WARNING, 0, 0, steps, 0, msg);
            }
            for (int e = 0; e < run_hist.epochs; e++)
                if ((s = ember__history_add(history, run_hist.values + e * EMBER_H_COUNT, err)))
                    goto ckpt_done;
        }
    ckpt_done:
        /* two rounds: rank 0's result (the others wait for it before they
         * open the folder), then everyone's */
        if (dist && root) {
            ember_status a = dist_agree(dist, s, err);
            if (!s)
                s = a;
            if (s)
                goto out;
        }
        if (dist)
            s = dist_agree(dist, s, err);
        agreed = 1; /* an error here is every rank's (they agreed) */
        if (s)
            goto out;
        agreed = 0;
    }
    set_threads(m);
    /* Gradients start at zero (a failed earlier fit may have left some). */
    memset(m->grads, 0, (size_t)m->n_params * sizeof *m->grads);
    for (int e = pos.epoch; e < cfg->epochs; e++) {
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
        /* A resumed epoch continues its running sums. */
        int resumed = e == pos.epoch && pos.step > 0;
        int64_t st0 = resumed ? pos.step : 0;
        ember_progress pr = {EMBER_PROGRESS_EPOCH_BEGIN, e, cfg->epochs, st0, steps, 0.0,
                             NAN, NAN, NAN, NAN, NAN, 0, NULL};
        if (cfg->progress)
            cfg->progress(&pr, cfg->progress_user);
        double t0 = ember__now(), loss_sum = resumed ? pos.loss_sum : 0.0;
        int64_t correct = resumed ? pos.correct : 0, seen = resumed ? pos.seen : 0;
        int64_t skipped = resumed ? pos.skipped : 0;
        for (int64_t st = st0; st < steps; st++) {
            int64_t b0 = st * batch, B = N - b0 < batch ? N - b0 : batch;
            /* this rank's shard [s0, s0 + Bs) of the mini-batch [b0, b0 + B) */
            int64_t s0 = b0, Bs = B;
            if (dist) {
                s0 = b0 + B * dist->rank / dist->size;
                Bs = b0 + B * (dist->rank + 1) / dist->size - s0;
            }
            ember_step_ctx ctx = {1, ember__rng_stream(m->seed, EMBER_STREAM_DROPOUT, epoch_id,
                                                       (uint64_t)st),
                                  m->threads, NULL, NULL, NULL, s0 - b0};
            gather(m, in, y, cfg->sample_weight, &ti, order, s0, Bs, &ctx);
            if (augment)
                augment_batch(m, cfg, epoch_id, s0, Bs);
            double ls = 0.0;
            int64_t c = 0;
            if (bn_saved)
                bn_stats_copy(m, bn_saved, 0);
            s = train_step(m, &ti, Bs, dist ? B : 0, dist, &dst, &ctx, &ls, &c, e, st,
                           skip_nan ? &step_err : err);
            if (s && !(skip_nan && s == EMBER_ERR_NUMERIC)) {
                if (skip_nan && err)
                    *err = step_err;
                agreed = s == EMBER_ERR_NUMERIC; /* from summed values: every rank */
                goto out;
            }
            if (s) {
                discard_step(m, bn_saved);
                s = EMBER_OK;
                skipped++;
                if (cfg->progress) {
                    pr.event = EMBER_PROGRESS_BATCH_SKIPPED;
                    pr.step = st + 1;
                    pr.elapsed_s = ember__now() - t0;
                    pr.skipped = skipped;
                    pr.message = step_err.message;
                    cfg->progress(&pr, cfg->progress_user);
                    pr.message = NULL;
                }
                if (skipped > max_skips) {
                    agreed = 1;
                    s = EMBER_FAIL(err, EMBER_ERR_NUMERIC,
                                   "epoch %d: %lld of its %lld batches were skipped for NaN/Inf, "
                                   "more than %d %% (at most %lld allowed); the last: %s", e + 1,
                                   (long long)skipped, (long long)steps,
                                   EMBER_SKIP_BATCH_MAX_PERCENT, (long long)max_skips,
                                   step_err.message);
                    goto out;
                }
            } else {
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
                    pr.skipped = skipped;
                    cfg->progress(&pr, cfg->progress_user);
                }
            }
            /* A checkpoint that falls on the epoch's last step is written
             * after the epoch ends (with its validation and history). */
            if (ck && root && every > 0 && st + 1 < steps && ((int64_t)e * steps + st + 1) % every == 0) {
                ember_ckpt_pos p = {e, st + 1, loss_sum, correct, seen, skipped};
                if ((s = ckpt_write(ck, m, &p, &run_hist, cfg, steps, err)))
                    goto out;
            }
        }
        m->epochs_done++;
        double train_s = ember__now() - t0;
        /* Over the applied batches: seen == N unless some were skipped. */
        double hv[EMBER_H_COUNT] = {loss_sum / (double)seen,
                                    m->loss == EMBER_LOSS_MSE
                                        ? NAN : (double)correct / acc_denominator(m, seen, ti.K),
                                    NAN, NAN, (double)skipped};
        if (has_val && dist) {
            if ((s = evaluate_dist(m, dist, &vin, cfg->y_val, &vti, batch, &hv[EMBER_H_VAL_LOSS],
                                   &hv[EMBER_H_VAL_ACC], err)))
                goto out;
        } else if (has_val) {
            evaluate_inner(m, &vin, cfg->y_val, &vti, batch, &hv[EMBER_H_VAL_LOSS],
                           &hv[EMBER_H_VAL_ACC]);
        }
        if ((s = ember__history_add(history, hv, err)) ||
            (ck && (s = ember__history_add(&run_hist, hv, err))))
            goto out;
        if (cfg->progress) {
            pr.event = EMBER_PROGRESS_EPOCH_END;
            pr.step = steps;
            pr.elapsed_s = ember__now() - t0;
            pr.train_s = train_s;
            pr.loss = hv[EMBER_H_LOSS];
            pr.accuracy = hv[EMBER_H_ACC];
            pr.val_loss = hv[EMBER_H_VAL_LOSS];
            pr.val_accuracy = hv[EMBER_H_VAL_ACC];
            pr.skipped = skipped;
            cfg->progress(&pr, cfg->progress_user);
        }
        if (ck && root && (every == 0 || ((int64_t)(e + 1) * steps) % every == 0)) {
            ember_ckpt_pos p = {e + 1, 0, 0.0, 0, 0, 0};
            if ((s = ckpt_write(ck, m, &p, &run_hist, cfg, steps, err)))
                goto out;
        }
    }
    s = EMBER_OK;
out:
    if (s && dist)
        dist->error_shared = agreed;
    ember__dist_step_deinit(&dst);
    free(order);
    free(bn_saved);
    free(run_hist.values);
    ember__ckpt_close(ck);
    return s;
}

ember_status ember_model_fit(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                             const ember_fit_config *cfg, ember_history *history,
                             ember_error *err)
{
    model_input in = {x, NULL, {0, NULL, NULL, NULL}};
    return fit_any(m, &in, y, cfg, history, err);
}

ember_status ember_model_fit_ids(ember_model *m, const ember_ragged *x, const ember_tensor *y,
                                 const ember_fit_config *cfg, ember_history *history,
                                 ember_error *err)
{
    if (!x)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "fit: x is NULL");
    model_input in = {NULL, x, {0, NULL, NULL, NULL}};
    return fit_any(m, &in, y, cfg, history, err);
}
