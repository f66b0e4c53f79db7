/*
 * sequential.c - building a Sequential model: create, add layers (shape
 * inference as they are added), compile (parameter blocks, initialisation,
 * optimizer, loss fusion), summary, and the forward/backward passes over the
 * layer list that train.c drives.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

ember_status ember_model_create(ember_model **out, int input_rank, const int64_t *input_shape,
                                uint64_t seed, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_create: out is NULL");
    *out = NULL;
    if (input_rank < 1 || input_rank > EMBER_MAX_DIMS - 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "input rank %d is outside 1..%d", input_rank,
                          EMBER_MAX_DIMS - 1);
    if (!input_shape)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "input shape is NULL");
    int64_t size = 1;
    for (int i = 0; i < input_rank; i++) {
        if (input_shape[i] <= 0)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "input_shape[%d] must be > 0, got %lld", i,
                              (long long)input_shape[i]);
        if (!ember__mul_i64(size, input_shape[i], &size))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "input size overflows");
    }
    ember_model *m = calloc(1, sizeof *m);
    if (!m)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a model");
    m->input_rank = input_rank;
    for (int i = 0; i < EMBER_MAX_DIMS; i++)
        m->input_shape[i] = i < input_rank ? input_shape[i] : 1;
    m->input_size = size;
    m->seed = seed;
    m->threads = ember__cores();
    *out = m;
    return EMBER_OK;
}

static void free_arena(ember_model *m)
{
    ember__free(m->arena);
    free(m->acts);
    free(m->batch_ids);
    free(m->batch_id_weights);
    free(m->batch_offsets);
    free(m->touched);
    m->batch_id_weights = NULL;
    m->arena = NULL;
    m->acts = NULL;
    m->batch_ids = NULL;
    m->batch_offsets = NULL;
    m->touched = NULL;
    m->arena_batch = 0;
    m->arena_ids = 0;
}

ember_status ember_model_create_ids(ember_model **out, uint64_t seed, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_create_ids: out is NULL");
    *out = NULL;
    ember_model *m = calloc(1, sizeof *m);
    if (!m)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a model");
    m->ids_input = 1;
    m->input_rank = 0;
    for (int i = 0; i < EMBER_MAX_DIMS; i++)
        m->input_shape[i] = 1;
    m->input_size = 0;
    m->seed = seed;
    m->threads = ember__cores();
    *out = m;
    return EMBER_OK;
}

ember_status ember_model_add_embedding(ember_model *m, int64_t input_dim, int64_t output_dim,
                                       int lazy, ember_error *err)
{
    embedding_config *c = calloc(1, sizeof *c);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    c->input_dim = input_dim;
    c->output_dim = output_dim;
    c->lazy = lazy != 0;
    ember_status s = ember__model_add(m, EMBER_LAYER_EMBEDDING, c, err);
    return s;
}

ember_status ember_model_add_global_average_pooling1d(ember_model *m, ember_error *err)
{
    void *c = calloc(1, 1);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    return ember__model_add(m, EMBER_LAYER_GAP1D, c, err);
}

void ember_model_destroy(ember_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        if (!m->shared) {
            l->ops->destroy(l);
            free(l->config);
        }
        free(l);
    }
    free(m->layers);
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta_keys[i]);
        free(m->meta_values[i]);
    }
    free(m->meta_keys);
    free(m->meta_values);
    free(m->bag_stamp);
    free(m->bag_pos);
    if (!m->shared) {
        ember__optim_deinit(&m->optim);
        ember__free(m->params);
        ember__free(m->grads);
    }
    free_arena(m);
    free(m);
}

ember_status ember_model_share(ember_model **out, const ember_model *m, ember_error *err)
{
    if (!out || !m)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_share: NULL argument");
    *out = NULL;
    if (!m->initialised || m->n_layers == 0)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "share: the model has no weights (compile or "
                          "load it first)");
    ember_model *s = calloc(1, sizeof *s);
    ember_layer **layers = calloc((size_t)m->n_layers, sizeof *layers);
    if (!s || !layers) {
        free(s);
        free(layers);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "share: out of memory");
    }
    s->ids_input = m->ids_input;
    s->input_rank = m->input_rank;
    memcpy(s->input_shape, m->input_shape, sizeof s->input_shape);
    s->input_size = m->input_size;
    s->seed = m->seed;
    s->threads = 1;
    s->layers = layers;
    s->cap_layers = m->n_layers;
    s->initialised = 1;
    s->shared = 1;
    s->loss = m->loss;
    s->fused = m->fused;
    s->n_params = m->n_params;
    s->params = m->params;
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = malloc(sizeof *l);
        if (!l) {
            ember_model_destroy(s);
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "share: out of memory");
        }
        *l = *m->layers[i];
        /* own scratch and sparse bookkeeping come from this model's arena */
        l->grads = NULL;
        l->scratch = NULL;
        l->touched = NULL;
        l->n_touched = 0;
        s->layers[s->n_layers++] = l;
    }
    *out = s;
    return EMBER_OK;
}

ember_status ember__model_add(ember_model *m, ember_layer_kind kind, void *config,
                              ember_error *err)
{
    if (!m) {
        free(config);
        return EMBER_FAIL(err, EMBER_ERR_ARG, "model is NULL");
    }
    if (m->compiled || m->shared) {
        free(config);
        return EMBER_FAIL(err, EMBER_ERR_STATE, "cannot add layers after compile%s",
                          m->shared ? " (or to a shared model)" : "");
    }
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 8;
        ember_layer **nl = realloc(m->layers, (size_t)cap * sizeof *nl);
        if (!nl) {
            free(config);
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory adding a layer");
        }
        m->layers = nl;
        m->cap_layers = cap;
    }
    ember_layer *l = calloc(1, sizeof *l);
    if (!l) {
        free(config);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory adding a layer");
    }
    l->kind = kind;
    l->ops = ember__layer_ops(kind);
    l->index = m->n_layers;
    l->config = config;
    if (m->n_layers == 0) {
        l->in_rank = m->input_rank;
        memcpy(l->in_shape, m->input_shape, sizeof l->in_shape);
        l->in_size = m->input_size;
    } else {
        const ember_layer *p = m->layers[m->n_layers - 1];
        l->in_rank = p->out_rank;
        memcpy(l->in_shape, p->out_shape, sizeof l->in_shape);
        l->in_size = p->out_size;
    }
    ember_status s = l->ops->build(l, err);
    if (s) {
        ember__error_prefix(err, "layer %d (%s)", l->index, l->ops->name);
        l->ops->destroy(l);
        free(config);
        free(l);
        return s;
    }
    m->layers[m->n_layers++] = l;
    return EMBER_OK;
}

ember_dense_config ember_dense_config_default(int64_t units)
{
    ember_dense_config c = {units, EMBER_ACT_LINEAR, EMBER_INIT_DEFAULT, 1};
    return c;
}

static ember_status check_act(ember_activation a, ember_error *err)
{
    if ((unsigned)a > EMBER_ACT_SOFTMAX)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "activation %d is unknown", (int)a);
    return EMBER_OK;
}

ember_status ember_model_add_dense_ex(ember_model *m, const ember_dense_config *cfg,
                                      ember_error *err)
{
    if (!cfg)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "dense config is NULL");
    ember_status s = check_act(cfg->activation, err);
    if (s)
        return s;
    if ((unsigned)cfg->kernel_init > EMBER_INIT_ZEROS)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "kernel_init %d is unknown", (int)cfg->kernel_init);
    dense_config *c = malloc(sizeof *c);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    c->units = cfg->units;
    c->activation = cfg->activation;
    c->kernel_init = cfg->kernel_init;
    c->use_bias = cfg->use_bias != 0;
    return ember__model_add(m, EMBER_LAYER_DENSE, c, err);
}

ember_status ember_model_add_dense(ember_model *m, int64_t units, ember_activation act,
                                   ember_error *err)
{
    ember_dense_config c = ember_dense_config_default(units);
    c.activation = act;
    return ember_model_add_dense_ex(m, &c, err);
}

ember_status ember_model_add_activation(ember_model *m, ember_activation act, ember_error *err)
{
    ember_status s = check_act(act, err);
    if (s)
        return s;
    activation_config *c = malloc(sizeof *c);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    c->activation = act;
    return ember__model_add(m, EMBER_LAYER_ACTIVATION, c, err);
}

ember_status ember_model_add_dropout(ember_model *m, float rate, ember_error *err)
{
    dropout_config *c = malloc(sizeof *c);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    c->rate = rate;
    return ember__model_add(m, EMBER_LAYER_DROPOUT, c, err);
}

int ember_model_layer_count(const ember_model *m) { return m ? m->n_layers : 0; }

int ember_model_input_shape(const ember_model *m, int64_t shape[EMBER_MAX_DIMS])
{
    if (!m || m->ids_input)
        return 0;
    for (int i = 0; i < EMBER_MAX_DIMS; i++)
        shape[i] = i < m->input_rank ? m->input_shape[i] : 1;
    return m->input_rank;
}

int64_t ember_model_param_count(const ember_model *m)
{
    int64_t n = 0;
    for (int i = 0; m && i < m->n_layers; i++)
        n += m->layers[i]->param_count;
    return n;
}

int64_t ember__model_out_size(const ember_model *m)
{
    return m->n_layers ? m->layers[m->n_layers - 1]->out_size : m->input_size;
}

void ember_model_set_threads(ember_model *m, int n)
{
    if (m)
        m->threads = n > 0 ? n : ember__cores();
}

int ember_model_get_threads(const ember_model *m) { return m ? m->threads : 0; }

static void format_shape(char *buf, size_t cap, int rank, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, cap, "(None");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, ", %lld", (long long)shape[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
}

void ember_model_summary(const ember_model *m, FILE *f)
{
    if (!m || !f)
        return;
    fprintf(f, "%-4s %-28s %-22s %12s\n", "#", "Layer (type)", "Output Shape", "Param #");
    fprintf(f, "%.*s\n", 69, "=====================================================================");
    char shape[64];
    for (int i = 0; i < m->n_layers; i++) {
        const ember_layer *l = m->layers[i];
        char name[48];
        if (l->kind == EMBER_LAYER_DENSE || l->kind == EMBER_LAYER_ACTIVATION ||
            l->kind == EMBER_LAYER_CONV2D)
            snprintf(name, sizeof name, "%s (%s)", l->ops->name,
                     ember__act_name(l->out_activation));
        else if (l->kind == EMBER_LAYER_DROPOUT)
            snprintf(name, sizeof name, "%s (%.2f)", l->ops->name,
                     (double)((const dropout_config *)l->config)->rate);
        else
            snprintf(name, sizeof name, "%s", l->ops->name);
        format_shape(shape, sizeof shape, l->out_rank, l->out_shape);
        fprintf(f, "%-4d %-28s %-22s %12lld\n", i, name, shape, (long long)l->param_count);
    }
    fprintf(f, "%.*s\n", 69, "=====================================================================");
    fprintf(f, "Total params: %lld\n", (long long)ember_model_param_count(m));
}

ember_status ember__model_alloc_params(ember_model *m, ember_error *err)
{
    int64_t n = ember_model_param_count(m);
    size_t bytes;
    if (!ember__mul_size((size_t)n, sizeof(float), &bytes))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "parameter block size overflows");
    float *p = ember__calloc(bytes), *g = ember__calloc(bytes);
    if (!p || !g) {
        ember__free(p);
        ember__free(g);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld parameters",
                          (long long)n);
    }
    ember__free(m->params);
    ember__free(m->grads);
    m->params = p;
    m->grads = g;
    m->n_params = n;
    int64_t off = 0;
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        l->params = p + off;
        l->grads = g + off;
        off += l->param_count;
    }
    return EMBER_OK;
}

ember_status ember_model_compile(ember_model *m, const ember_optimizer_config *opt,
                                 ember_loss_kind loss, ember_error *err)
{
    if (!m)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "model is NULL");
    if (m->n_layers == 0)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "compile: the model has no layers");
    if (m->shared)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "compile: a shared model can only predict");
    if ((unsigned)loss > EMBER_LOSS_MSE)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "loss %d is unknown", (int)loss);
    ember_status s = ember__optim_validate(opt, err);
    if (s)
        return s;
    for (int i = 0; i < m->n_layers; i++) {
        const ember_layer *l = m->layers[i];
        int next_gap = i + 1 < m->n_layers && m->layers[i + 1]->kind == EMBER_LAYER_GAP1D;
        if (l->kind == EMBER_LAYER_EMBEDDING && !next_gap)
            return EMBER_FAIL(err, EMBER_ERR_SHAPE, "layer %d (embedding) must be followed by "
                              "global_average_pooling1d (sequence outputs are not supported)", i);
        if (l->kind == EMBER_LAYER_GAP1D && (i == 0 || m->layers[i - 1]->kind != EMBER_LAYER_EMBEDDING))
            return EMBER_FAIL(err, EMBER_ERR_SHAPE, "layer %d (global_average_pooling1d) must "
                              "follow an embedding", i);
    }
    if (m->ids_input && m->layers[0]->kind != EMBER_LAYER_EMBEDDING)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "a model of token ids must start with an embedding");
    const ember_layer *last = m->layers[m->n_layers - 1];
    if (loss == EMBER_LOSS_CATEGORICAL_CROSSENTROPY && last->out_size < 2)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE,
                          "categorical_crossentropy needs >= 2 outputs, the last layer has %lld; "
                          "HINT: use binary_crossentropy with one sigmoid output",
                          (long long)last->out_size);
    if (!m->params) {
        s = ember__model_alloc_params(m, err);
        if (s)
            return s;
    }
    if (!m->initialised) {
        ember_rng rng = ember__rng_stream(m->seed, EMBER_STREAM_INIT, 0, 0);
        for (int i = 0; i < m->n_layers; i++) {
            /* Each layer gets its own sub-stream so adding a layer later
             * does not change the earlier layers' initial weights. */
            ember_rng lr = ember__rng_stream(rng.key, EMBER_STREAM_INIT, (uint64_t)i, 1);
            m->layers[i]->ops->init(m->layers[i], &lr);
        }
        m->initialised = 1;
    }
    ember__optim_deinit(&m->optim);
    m->compiled = 0;
    s = ember__optim_init(&m->optim, opt, m->n_params, err);
    if (s)
        return s;
    m->loss = loss;
    m->fused = ember__loss_fusable(loss, last->out_activation);
    for (int i = 0; i < m->n_layers; i++)
        m->layers[i]->dy_is_preact = m->fused && i == m->n_layers - 1;
    m->compiled = 1;
    return EMBER_OK;
}

/* *total += copies * roundup(B * w) to 16 floats; false on overflow. */
static bool add_block(int64_t *total, int64_t B, int64_t w, int copies)
{
    int64_t sz;
    if (!ember__mul_i64(B, w, &sz) || sz > INT64_MAX - 16)
        return false;
    sz = (sz + 15) / 16 * 16;
    if (!ember__mul_i64(sz, copies, &sz) || sz > INT64_MAX - *total)
        return false;
    *total += sz;
    return true;
}

ember_status ember__model_arena(ember_model *m, int64_t B, int64_t n_ids, ember_error *err)
{
    if (m->ids_input && (n_ids > m->arena_ids || !m->batch_ids)) {
        int n_sparse = 0;
        for (int i = 0; i < m->n_layers; i++)
            n_sparse += m->layers[i]->sparse_grads;
        int64_t cap = n_ids > 0 ? n_ids : 1;
        int32_t *ids = malloc((size_t)cap * sizeof *ids);
        float *idw = malloc((size_t)cap * sizeof *idw);
        int64_t *touched = malloc((size_t)cap * (size_t)(n_sparse ? n_sparse : 1) * sizeof *touched);
        if (!ids || !idw || !touched) {
            free(ids);
            free(idw);
            free(touched);
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld token ids per batch",
                              (long long)n_ids);
        }
        free(m->batch_ids);
        free(m->batch_id_weights);
        free(m->touched);
        m->batch_ids = ids;
        m->batch_id_weights = idw;
        m->touched = touched;
        m->arena_ids = cap;
        int k = 0;
        for (int i = 0; i < m->n_layers; i++)
            if (m->layers[i]->sparse_grads)
                m->layers[i]->touched = touched + cap * k++;
    }
    if (B <= m->arena_batch && m->arena)
        return EMBER_OK;
    /* Layout: acts[0..n] (input + each output), two gradient buffers of the
     * widest layer, each layer's scratch, targets, per-row losses, weights.
     * Every piece starts on a 64-byte boundary (16 floats). Every size is
     * checked: a caller's batch size can be anything. */
    int64_t width = m->input_size, total = 0;
    int64_t K = ember__model_out_size(m);
    size_t align = EMBER_ALIGNMENT / sizeof(float);
#define ROUNDUP(x) (((x) + (int64_t)align - 1) / (int64_t)align * (int64_t)align)
    if (B < 1 || B > (INT64_MAX >> 8))
        goto overflow;
    for (int i = 0; i <= m->n_layers; i++) {
        int64_t w = i == 0 ? m->input_size : m->layers[i - 1]->out_size;
        width = w > width ? w : width;
        if (!add_block(&total, B, w, 1))
            goto overflow;
    }
    if (!add_block(&total, B, width, 2))
        goto overflow;
    for (int i = 0; i < m->n_layers; i++)
        if (!add_block(&total, B, m->layers[i]->scratch_per_row, 1))
            goto overflow;
    if (!add_block(&total, B, K, 1) || !add_block(&total, B, 1, 2))
        goto overflow;
    if ((uint64_t)total > SIZE_MAX / sizeof(float))
        goto overflow;
    float *arena = ember__alloc((size_t)total * sizeof(float));
    float **acts = malloc((size_t)(m->n_layers + 1) * sizeof *acts);
    int64_t *offs = m->ids_input ? malloc((size_t)(B + 1) * sizeof *offs) : NULL;
    if (!arena || !acts || (m->ids_input && !offs)) {
        ember__free(arena);
        free(acts);
        free(offs);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM,
                          "out of memory for activations of a batch of %lld (%lld floats)",
                          (long long)B, (long long)total);
    }
    if (m->ids_input) {
        free(m->batch_offsets);
        m->batch_offsets = offs;
    }
    ember__free(m->arena);
    free(m->acts);
    m->arena = arena;
    m->acts = acts;
    float *p = arena;
    for (int i = 0; i <= m->n_layers; i++) {
        int64_t w = i == 0 ? m->input_size : m->layers[i - 1]->out_size;
        acts[i] = p;
        p += ROUNDUP(B * w);
    }
    m->grad_a = p;
    p += ROUNDUP(B * width);
    m->grad_b = p;
    p += ROUNDUP(B * width);
    for (int i = 0; i < m->n_layers; i++) {
        m->layers[i]->scratch = m->layers[i]->scratch_per_row ? p : NULL;
        p += ROUNDUP(B * m->layers[i]->scratch_per_row);
    }
    m->targets = p;
    p += ROUNDUP(B * K);
    m->row_loss = p;
    p += ROUNDUP(B);
    m->weights = p;
    m->arena_batch = B;
#undef ROUNDUP
    return EMBER_OK;
overflow:
    return EMBER_FAIL(err, EMBER_ERR_NOMEM, "activation memory for a batch of %lld overflows",
                      (long long)B);
}

const float *ember__model_forward(ember_model *m, int64_t B, const ember_step_ctx *ctx)
{
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        l->ops->forward(l, m->acts[i + 1], m->acts[i], B, ctx);
    }
    return m->acts[m->n_layers];
}

const float *ember__model_logits(const ember_model *m)
{
    const ember_layer *last = m->layers[m->n_layers - 1];
    if (last->kind == EMBER_LAYER_ACTIVATION)
        return m->acts[m->n_layers - 1]; /* its input is the logits */
    return last->scratch;
}

void ember__model_backward(ember_model *m, const float *dout, int64_t B, const ember_step_ctx *ctx)
{
    ember__model_backward_input(m, dout, B, ctx, NULL);
}

void ember__model_backward_input(ember_model *m, const float *dout, int64_t B,
                                 const ember_step_ctx *ctx, float *dinput)
{
    const float *dy = dout;
    float *bufs[2] = {m->grad_a, m->grad_b};
    int which = 0;
    for (int i = m->n_layers - 1; i >= 0; i--) {
        ember_layer *l = m->layers[i];
        float *dx = i > 0 ? bufs[which] : dinput;
        if (dx == dy) {
            which ^= 1;
            dx = bufs[which];
        }
        l->ops->backward(l, dx, dy, m->acts[i], m->acts[i + 1], B, ctx);
        dy = dx;
        which ^= 1;
    }
}

int ember_model_metadata_count(const ember_model *m) { return m ? m->n_meta : 0; }

const char *ember_model_metadata_key(const ember_model *m, int i)
{
    return m && i >= 0 && i < m->n_meta ? m->meta_keys[i] : NULL;
}

ember_status ember_model_set_metadata(ember_model *m, const char *key, const char *value,
                                      ember_error *err)
{
    if (!m || !key || !value)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "set_metadata: NULL argument");
    if (!*key || strncmp(key, "ember.", 6) == 0 || strcmp(key, "__metadata__") == 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "metadata key '%s' is empty or reserved", key);
    char *v = strdup(value);
    if (!v)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], key) == 0) {
            free(m->meta_values[i]);
            m->meta_values[i] = v;
            return EMBER_OK;
        }
    char *k = strdup(key);
    char **nk = realloc(m->meta_keys, (size_t)(m->n_meta + 1) * sizeof *nk);
    if (nk)
        m->meta_keys = nk;
    char **nv = nk ? realloc(m->meta_values, (size_t)(m->n_meta + 1) * sizeof *nv) : NULL;
    if (nv)
        m->meta_values = nv;
    if (!k || !nk || !nv) {
        free(k);
        free(v);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    m->meta_keys[m->n_meta] = k;
    m->meta_values[m->n_meta] = v;
    m->n_meta++;
    return EMBER_OK;
}

const char *ember_model_get_metadata(const ember_model *m, const char *key)
{
    for (int i = 0; m && key && i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], key) == 0)
            return m->meta_values[i];
    return NULL;
}

/* ------------------------------------------------------------ image layers */

ember_conv2d_config ember_conv2d_config_default(int64_t filters, int64_t kernel)
{
    ember_conv2d_config c = {filters, kernel, kernel, 1, 1, EMBER_PADDING_VALID,
                             EMBER_ACT_LINEAR, EMBER_INIT_DEFAULT, 1};
    return c;
}

ember_status ember_model_add_conv2d_ex(ember_model *m, const ember_conv2d_config *cfg,
                                       ember_error *err)
{
    if (!cfg)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "conv2d config is NULL");
    ember_status s = check_act(cfg->activation, err);
    if (s)
        return s;
    if ((unsigned)cfg->kernel_init > EMBER_INIT_ZEROS)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "kernel_init %d is unknown", (int)cfg->kernel_init);
    if ((unsigned)cfg->padding > EMBER_PADDING_SAME)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "padding %d is unknown", (int)cfg->padding);
    conv2d_config *c = calloc(1, sizeof *c);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    c->filters = cfg->filters;
    c->kh = cfg->kernel_h;
    c->kw = cfg->kernel_w;
    c->sh = cfg->stride_h;
    c->sw = cfg->stride_w;
    c->same = cfg->padding == EMBER_PADDING_SAME;
    c->activation = cfg->activation;
    c->kernel_init = cfg->kernel_init;
    c->use_bias = cfg->use_bias != 0;
    return ember__model_add(m, EMBER_LAYER_CONV2D, c, err);
}

ember_status ember_model_add_conv2d(ember_model *m, int64_t filters, int64_t kernel,
                                    ember_activation act, ember_error *err)
{
    ember_conv2d_config c = ember_conv2d_config_default(filters, kernel);
    c.activation = act;
    return ember_model_add_conv2d_ex(m, &c, err);
}

static ember_status add_pool(ember_model *m, ember_layer_kind kind, const ember_pool2d_config *cfg,
                             ember_error *err)
{
    if (!cfg)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "pool config is NULL");
    if ((unsigned)cfg->padding > EMBER_PADDING_SAME)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "padding %d is unknown", (int)cfg->padding);
    if (cfg->stride_h < 0 || cfg->stride_w < 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "pool strides must be >= 0 (0: the window size)");
    pool2d_config *c = calloc(1, sizeof *c);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    c->ph = cfg->pool_h;
    c->pw = cfg->pool_w;
    c->sh = cfg->stride_h ? cfg->stride_h : cfg->pool_h;
    c->sw = cfg->stride_w ? cfg->stride_w : cfg->pool_w;
    c->same = cfg->padding == EMBER_PADDING_SAME;
    return ember__model_add(m, kind, c, err);
}

ember_status ember_model_add_max_pool2d_ex(ember_model *m, const ember_pool2d_config *cfg,
                                           ember_error *err)
{
    return add_pool(m, EMBER_LAYER_MAXPOOL2D, cfg, err);
}

ember_status ember_model_add_max_pool2d(ember_model *m, int64_t pool, ember_error *err)
{
    ember_pool2d_config c = {pool, pool, 0, 0, EMBER_PADDING_VALID};
    return add_pool(m, EMBER_LAYER_MAXPOOL2D, &c, err);
}

ember_status ember_model_add_average_pool2d_ex(ember_model *m, const ember_pool2d_config *cfg,
                                               ember_error *err)
{
    return add_pool(m, EMBER_LAYER_AVGPOOL2D, cfg, err);
}

ember_status ember_model_add_average_pool2d(ember_model *m, int64_t pool, ember_error *err)
{
    ember_pool2d_config c = {pool, pool, 0, 0, EMBER_PADDING_VALID};
    return add_pool(m, EMBER_LAYER_AVGPOOL2D, &c, err);
}

ember_status ember_model_add_global_average_pooling2d(ember_model *m, ember_error *err)
{
    void *c = calloc(1, 1);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    return ember__model_add(m, EMBER_LAYER_GAP2D, c, err);
}

ember_status ember_model_add_flatten(ember_model *m, ember_error *err)
{
    void *c = calloc(1, 1);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    return ember__model_add(m, EMBER_LAYER_FLATTEN, c, err);
}

ember_status ember_model_add_batch_normalization(ember_model *m, float momentum, float epsilon,
                                                 ember_error *err)
{
    batchnorm_config *c = calloc(1, sizeof *c);
    if (!c)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    c->momentum = momentum;
    c->epsilon = epsilon;
    return ember__model_add(m, EMBER_LAYER_BATCHNORM, c, err);
}
