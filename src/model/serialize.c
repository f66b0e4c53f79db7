/*
 * serialize.c - model files: a Sequential model <-> one safetensors file.
 *
 * Tensors: "layers.<i>.kernel" [in, out] and "layers.<i>.bias" [out] for each
 * Dense layer i (Keras' kernel layout); "layers.<i>.embeddings" [V, D] for an
 * Embedding; "layers.<i>.kernel" [kh, kw, C, F] and "bias" [F] for Conv2D;
 * "gamma", "beta", "moving_mean", "moving_variance" [C] for
 * BatchNormalization. A model of token ids has "input_shape": [] in its architecture. Metadata (all strings):
 *   ember.format          "ember-model"
 *   ember.format_version  "1" (readers refuse newer versions)
 *   ember.architecture    {"input_shape":[...],"layers":[{"type":"dense",...},...]}
 *   ember.compile         {"loss":"...","optimizer":{"name":"adam",...}}
 *   ember.seed, ember.threads, ember.epochs_done, ember.version, ember.git_commit
 *   ember.sha256          SHA-256 of the tensor bytes (added by the writer)
 *   ember.meta_sha256     SHA-256 over every other metadata pair (sorted by
 *                         key, each as key NUL value NUL), so a changed
 *                         architecture or setting is caught like changed data
 *   plus the caller's own keys (ember_model_set_metadata).
 * The loader is strict: unknown layer types, unknown or missing keys, wrong
 * shapes, extra tensors and a missing checksum are errors naming the field.
 * Optimizer state is not saved (checkpoints are a separate format:
 * checkpoint.c, which shares the helpers declared in checkpoint.h).
 */
#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "ember-model"
#define FORMAT_VERSION 1
#define MAX_LAYERS 4096 /* sanity bound for a file's layer list */

/* Parameter tensors of one layer: name suffix, shape, offset in its view. */
typedef struct ptensor {
    const char *suffix;
    int ndim;
    int64_t shape[EMBER_MAX_DIMS];
    int64_t offset;
} ptensor;

#define MAX_LAYER_TENSORS 4

static int layer_tensors(const ember_layer *l, ptensor out[MAX_LAYER_TENSORS])
{
    if (l->kind == EMBER_LAYER_EMBEDDING) {
        const embedding_config *e = l->config;
        ptensor t = {"embeddings", 2, {e->input_dim, e->output_dim, 1, 1}, 0};
        out[0] = t;
        return 1;
    }
    if (l->kind == EMBER_LAYER_BATCHNORM) {
        static const char *const names[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
        int64_t C = ((const batchnorm_config *)l->config)->C;
        for (int i = 0; i < 4; i++) {
            ptensor t = {names[i], 1, {C, 1, 1, 1}, i * C};
            out[i] = t;
        }
        return 4;
    }
    if (l->kind == EMBER_LAYER_CONV2D) {
        const conv2d_config *c = l->config;
        ptensor k = {"kernel", 4, {c->kh, c->kw, c->g.C, c->filters}, 0};
        out[0] = k;
        if (!c->use_bias)
            return 1;
        ptensor b = {"bias", 1, {c->filters, 1, 1, 1}, c->kh * c->kw * c->g.C * c->filters};
        out[1] = b;
        return 2;
    }
    if (l->kind != EMBER_LAYER_DENSE || l->param_count == 0)
        return 0;
    const dense_config *c = l->config;
    ptensor k = {"kernel", 2, {l->in_size, c->units, 1, 1}, 0};
    out[0] = k;
    if (!c->use_bias)
        return 1;
    ptensor b = {"bias", 1, {c->units, 1, 1, 1}, l->in_size * c->units};
    out[1] = b;
    return 2;
}

#define META_HASH_KEY "ember.meta_sha256"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

ember_status ember__meta_hash(int n, const char *const *keys, const char *const *vals,
                              const char *skip_key, char out[EMBER_SHA256_HEX_LEN + 1],
                              ember_error *err)
{
    const char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted) {
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        sorted[i] = keys[i];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    ember_sha256 h;
    ember_status s = ember__sha256_init(&h, err);
    for (int i = 0; i < n && !s; i++) {
        if (!strcmp(sorted[i], skip_key) || !strcmp(sorted[i], EMBER_ST_CHECKSUM_KEY))
            continue;
        int j = 0;
        while (keys[j] != sorted[i])
            j++;
        s = ember__sha256_update(&h, keys[j], strlen(keys[j]) + 1, err);
        if (!s)
            s = ember__sha256_update(&h, vals[j], strlen(vals[j]) + 1, err);
    }
    if (!s)
        s = ember__sha256_final(&h, out, err);
    ember__sha256_deinit(&h);
    free(sorted);
    return s;
}

static ember_status meta_hash(int n, const char *const *keys, const char *const *vals,
                              char out[EMBER_SHA256_HEX_LEN + 1], ember_error *err)
{
    return ember__meta_hash(n, keys, vals, META_HASH_KEY, out, err);
}

int ember__model_param_tensors(const ember_model *m, ember_st_tensor *out,
                               char (*names)[EMBER_TENSOR_NAME_MAX])
{
    int t = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const ember_layer *l = m->layers[i];
        ptensor pt[MAX_LAYER_TENSORS];
        int n = layer_tensors(l, pt);
        for (int j = 0; j < n; j++, t++) {
            if (!out)
                continue;
            snprintf(names[t], EMBER_TENSOR_NAME_MAX, "layers.%d.%s", i, pt[j].suffix);
            out[t].name = names[t];
            out[t].ndim = pt[j].ndim;
            memcpy(out[t].shape, pt[j].shape, sizeof out[t].shape);
            out[t].data = l->params + pt[j].offset;
        }
    }
    return t;
}

/* ------------------------------------------------------------------ save */

char *ember__model_architecture_json(const ember_model *m)
{
    size_t cap = 256 + (size_t)m->n_layers * 256;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t k = (size_t)snprintf(buf, cap, "{\"input_shape\":[");
    for (int i = 0; i < m->input_rank; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)m->input_shape[i]);
    k += (size_t)snprintf(buf + k, cap - k, "],\"layers\":[");
    for (int i = 0; i < m->n_layers; i++) {
        if (i)
            buf[k++] = ',';
        int n = m->layers[i]->ops->describe(m->layers[i], buf + k, cap - k);
        if (n < 0 || (size_t)n >= cap - k) {
            free(buf);
            return NULL;
        }
        k += (size_t)n;
    }
    snprintf(buf + k, cap - k, "]}");
    return buf;
}

char *ember__model_compile_json(const ember_model *m)
{
    const ember_optimizer_config *o = &m->optim.cfg;
    char *buf = malloc(512);
    if (!buf)
        return NULL;
    if (o->kind == EMBER_OPT_ADAM)
        snprintf(buf, 512,
                 "{\"loss\":\"%s\",\"optimizer\":{\"name\":\"adam\",\"learning_rate\":%.9g,"
                 "\"beta1\":%.9g,\"beta2\":%.9g,\"epsilon\":%.9g,\"weight_decay\":%.9g,"
                 "\"clip_norm\":%.9g}}",
                 ember__loss_name(m->loss), (double)o->learning_rate, (double)o->beta1,
                 (double)o->beta2, (double)o->epsilon, (double)o->weight_decay,
                 (double)o->clip_norm);
    else
        snprintf(buf, 512,
                 "{\"loss\":\"%s\",\"optimizer\":{\"name\":\"sgd\",\"learning_rate\":%.9g,"
                 "\"momentum\":%.9g,\"nesterov\":%s,\"weight_decay\":%.9g,\"clip_norm\":%.9g}}",
                 ember__loss_name(m->loss), (double)o->learning_rate, (double)o->momentum,
                 o->nesterov ? "true" : "false", (double)o->weight_decay, (double)o->clip_norm);
    return buf;
}

ember_status ember_model_describe_json(const ember_model *m, char **json, ember_error *err)
{
    if (!m || !json)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_describe_json: NULL argument");
    *json = NULL;
    char *arch = ember__model_architecture_json(m);
    char *comp = m->compiled ? ember__model_compile_json(m) : NULL;
    size_t cap = (arch ? strlen(arch) : 0) + (comp ? strlen(comp) : 0) + 128;
    char *out = arch && (comp || !m->compiled) ? malloc(cap) : NULL;
    if (out)
        snprintf(out, cap, "{\"architecture\":%s,\"compile\":%s,\"params\":%lld}", arch,
                 comp ? comp : "null", (long long)m->n_params);
    free(arch);
    free(comp);
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory describing the model");
    *json = out;
    return EMBER_OK;
}

ember_status ember_model_save(const ember_model *m, const char *path, ember_error *err)
{
    if (!m || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_save: NULL argument");
    if (!m->compiled)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "save: the model is not compiled%s",
                          m->shared ? " (a shared model can only predict)" : "");
    enum { FIXED_META = 9, HASHED_META = FIXED_META + 1 };
    int nt = ember__model_param_tensors(m, NULL, NULL);
    ember_st_tensor *ts = calloc((size_t)nt + 1, sizeof *ts);
    char (*names)[EMBER_TENSOR_NAME_MAX] = calloc((size_t)nt + 1, sizeof *names);
    int nm = HASHED_META + m->n_meta;
    const char **keys = calloc((size_t)nm, sizeof *keys), **vals = calloc((size_t)nm, sizeof *vals);
    char *arch = ember__model_architecture_json(m), *comp = ember__model_compile_json(m);
    ember_status s = EMBER_OK;
    if (!ts || !names || !keys || !vals || !arch || !comp) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory saving %s", path);
        goto done;
    }
    ember__model_param_tensors(m, ts, names);
    char version[16], seed[32], threads[16], epochs[32];
    snprintf(version, sizeof version, "%d", FORMAT_VERSION);
    snprintf(seed, sizeof seed, "%" PRIu64, m->seed);
    snprintf(threads, sizeof threads, "%d", m->threads);
    snprintf(epochs, sizeof epochs, "%lld", (long long)m->epochs_done);
    const char *fk[FIXED_META] = {"ember.format", "ember.format_version", "ember.architecture",
                                  "ember.compile", "ember.seed", "ember.threads",
                                  "ember.epochs_done", "ember.version", "ember.git_commit"};
    const char *fv[FIXED_META] = {FORMAT_NAME, version, arch, comp, seed, threads, epochs,
                                  ember_version(), ember_git_commit()};
    for (int i = 0; i < FIXED_META; i++) {
        keys[i] = fk[i];
        vals[i] = fv[i];
    }
    for (int i = 0; i < m->n_meta; i++) {
        keys[HASHED_META + i] = m->meta_keys[i];
        vals[HASHED_META + i] = m->meta_values[i];
    }
    char mh[EMBER_SHA256_HEX_LEN + 1] = "";
    keys[FIXED_META] = META_HASH_KEY;
    vals[FIXED_META] = mh;
    if ((s = meta_hash(nm, keys, vals, mh, err)))
        goto done;
    s = ember__st_write(path, ts, nt, keys, vals, nm, err);
done:
    free(ts);
    free(names);
    free(keys);
    free(vals);
    free(arch);
    free(comp);
    return s;
}

/* ------------------------------------------------------------------ load */

/* Reject keys other than `allowed` (NULL-terminated) in a JSON object. */
static ember_status only_keys(const cJSON *obj, const char *const *allowed, const char *where,
                              const char *path, ember_error *err)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(it->string, *a) == 0;
        if (!ok)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s has an unknown key \"%s\"", path,
                              where, it->string);
    }
    return EMBER_OK;
}

static ember_status get_num(const cJSON *obj, const char *key, double lo, double hi, int integer,
                            double *out, const char *where, const char *path, ember_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.%s is missing or not a number", path,
                          where, key);
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || (integer && d != (double)(int64_t)d))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.%s = %g is not %s in [%g, %g]", path,
                          where, key, d, integer ? "an integer" : "a number", lo, hi);
    *out = d;
    return EMBER_OK;
}

static ember_status get_str(const cJSON *obj, const char *key, const char **out,
                            const char *where, const char *path, ember_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(v))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.%s is missing or not a string", path,
                          where, key);
    *out = v->valuestring;
    return EMBER_OK;
}

static ember_status get_bool(const cJSON *obj, const char *key, int *out, const char *where,
                             const char *path, ember_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsBool(v))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.%s is missing or not true/false", path,
                          where, key);
    *out = cJSON_IsTrue(v);
    return EMBER_OK;
}

/* "activation", "kernel_init" and "use_bias" of a Dense or Conv2D layer. */
static ember_status get_act_init_bias(const cJSON *lj, ember_activation *act, ember_init *init,
                                      int *use_bias, const char *where, const char *path,
                                      ember_error *err)
{
    const char *s = NULL;
    int a, k;
    ember_status st;
    if ((st = get_str(lj, "activation", &s, where, path, err)))
        return st;
    if ((a = ember__act_from_name(s)) < 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.activation \"%s\" is unknown", path,
                          where, s);
    if ((st = get_str(lj, "kernel_init", &s, where, path, err)))
        return st;
    if ((k = ember__init_from_name(s)) < 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.kernel_init \"%s\" is unknown", path,
                          where, s);
    *act = (ember_activation)a;
    *init = (ember_init)k;
    return get_bool(lj, "use_bias", use_bias, where, path, err);
}

/* A [a, b] pair of integers in 1..1024 (window sizes, strides). */
static ember_status get_pair(const cJSON *obj, const char *key, int64_t out[2], const char *where,
                             const char *path, ember_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.%s is missing or not a pair [a, b]",
                          path, where, key);
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        double d = it->valuedouble;
        if (!cJSON_IsNumber(it) || !(d >= 1 && d <= 1024) || d != (double)(int64_t)d)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.%s[%d] is not an integer in "
                              "[1, 1024]", path, where, key, i);
        out[i] = (int64_t)d;
    }
    return EMBER_OK;
}

static ember_status get_padding(const cJSON *obj, ember_padding *out, const char *where,
                                const char *path, ember_error *err)
{
    const char *s = NULL;
    ember_status st = get_str(obj, "padding", &s, where, path, err);
    if (st)
        return st;
    if (strcmp(s, "valid") && strcmp(s, "same"))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.padding \"%s\" is not \"valid\" or "
                          "\"same\"", path, where, s);
    *out = strcmp(s, "same") == 0 ? EMBER_PADDING_SAME : EMBER_PADDING_VALID;
    return EMBER_OK;
}

/* The last dimension of what the next layer gets (its channels). */
static int64_t next_channels(const ember_model *m)
{
    if (m->n_layers == 0)
        return m->input_rank ? m->input_shape[m->input_rank - 1] : 1;
    const ember_layer *l = m->layers[m->n_layers - 1];
    return l->out_shape[l->out_rank > 0 ? l->out_rank - 1 : 0];
}

/* Every parameter of the model is stored in the file, so a layer needing
 * more than the file's `budget` floats of tensor data is refused before it
 * is added: adding an Embedding, Conv2D or BatchNormalization allocates
 * memory in proportion to its parameters (rows of an embedding are stamped
 * at once), and a 2-KB file must not make us allocate gigabytes. */
static ember_status check_budget(double need, int64_t budget, const char *where,
                                 const char *path, ember_error *err)
{
    if (need <= (double)budget)
        return EMBER_OK;
    return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s needs %.0f parameters, more than the %lld "
                      "floats of tensor data in the file", path, where, need, (long long)budget);
}

static ember_status add_layer_from_json(ember_model *m, const cJSON *lj, int i, int64_t budget,
                                        const char *path, ember_error *err)
{
    char where[48];
    snprintf(where, sizeof where, "architecture.layers[%d]", i);
    if (!cJSON_IsObject(lj))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s is not an object", path, where);
    const char *type = NULL, *s = NULL;
    ember_status st = get_str(lj, "type", &type, where, path, err);
    if (st)
        return st;
    int kind = ember__layer_kind_from_name(type);
    double d;
    switch (kind) {
    case EMBER_LAYER_DENSE: {
        static const char *const keys[] = {"type", "units", "activation", "kernel_init",
                                           "use_bias", NULL};
        ember_dense_config c;
        if ((st = only_keys(lj, keys, where, path, err)) ||
            (st = get_num(lj, "units", 1, 1e9, 1, &d, where, path, err)))
            return st;
        c.units = (int64_t)d;
        if ((st = get_act_init_bias(lj, &c.activation, &c.kernel_init, &c.use_bias, where, path, err)))
            return st;
        return ember_model_add_dense_ex(m, &c, err);
    }
    case EMBER_LAYER_ACTIVATION: {
        static const char *const keys[] = {"type", "activation", NULL};
        int a;
        if ((st = only_keys(lj, keys, where, path, err)) ||
            (st = get_str(lj, "activation", &s, where, path, err)))
            return st;
        if ((a = ember__act_from_name(s)) < 0)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.activation \"%s\" is unknown", path,
                              where, s);
        return ember_model_add_activation(m, (ember_activation)a, err);
    }
    case EMBER_LAYER_EMBEDDING: {
        static const char *const keys[] = {"type", "input_dim", "output_dim", "lazy", NULL};
        double v = 0, dd = 0;
        int lazy = 1;
        if ((st = only_keys(lj, keys, where, path, err)) ||
            (st = get_num(lj, "input_dim", 1, 2147483647.0, 1, &v, where, path, err)) ||
            (st = get_num(lj, "output_dim", 1, 1e7, 1, &dd, where, path, err)) ||
            (st = get_bool(lj, "lazy", &lazy, where, path, err)) ||
            (st = check_budget(v * dd, budget, where, path, err)))
            return st;
        return ember_model_add_embedding(m, (int64_t)v, (int64_t)dd, lazy, err);
    }
    case EMBER_LAYER_GAP1D: {
        static const char *const keys[] = {"type", NULL};
        if ((st = only_keys(lj, keys, where, path, err)))
            return st;
        return ember_model_add_global_average_pooling1d(m, err);
    }
    case EMBER_LAYER_DROPOUT: {
        static const char *const keys[] = {"type", "rate", NULL};
        if ((st = only_keys(lj, keys, where, path, err)) ||
            (st = get_num(lj, "rate", 0, 0.999999, 0, &d, where, path, err)))
            return st;
        return ember_model_add_dropout(m, (float)d, err);
    }
    case EMBER_LAYER_CONV2D: {
        static const char *const keys[] = {"type", "filters", "kernel_size", "strides", "padding",
                                           "activation", "kernel_init", "use_bias", NULL};
        ember_conv2d_config c = ember_conv2d_config_default(1, 1);
        int64_t ks[2], ss[2];
        if ((st = only_keys(lj, keys, where, path, err)) ||
            (st = get_num(lj, "filters", 1, 1 << 20, 1, &d, where, path, err)) ||
            (st = get_pair(lj, "kernel_size", ks, where, path, err)) ||
            (st = get_pair(lj, "strides", ss, where, path, err)) ||
            (st = get_padding(lj, &c.padding, where, path, err)))
            return st;
        c.filters = (int64_t)d;
        c.kernel_h = ks[0], c.kernel_w = ks[1], c.stride_h = ss[0], c.stride_w = ss[1];
        if ((st = get_act_init_bias(lj, &c.activation, &c.kernel_init, &c.use_bias, where, path, err)) ||
            (st = check_budget(d * (double)ks[0] * (double)ks[1] * (double)next_channels(m),
                               budget, where, path, err)))
            return st;
        return ember_model_add_conv2d_ex(m, &c, err);
    }
    case EMBER_LAYER_MAXPOOL2D:
    case EMBER_LAYER_AVGPOOL2D: {
        static const char *const keys[] = {"type", "pool_size", "strides", "padding", NULL};
        ember_pool2d_config c;
        int64_t ps[2], ss[2];
        if ((st = only_keys(lj, keys, where, path, err)) ||
            (st = get_pair(lj, "pool_size", ps, where, path, err)) ||
            (st = get_pair(lj, "strides", ss, where, path, err)) ||
            (st = get_padding(lj, &c.padding, where, path, err)))
            return st;
        c.pool_h = ps[0], c.pool_w = ps[1], c.stride_h = ss[0], c.stride_w = ss[1];
        return kind == EMBER_LAYER_MAXPOOL2D ? ember_model_add_max_pool2d_ex(m, &c, err)
                                             : ember_model_add_average_pool2d_ex(m, &c, err);
    }
    case EMBER_LAYER_GAP2D:
    case EMBER_LAYER_FLATTEN: {
        static const char *const keys[] = {"type", NULL};
        if ((st = only_keys(lj, keys, where, path, err)))
            return st;
        return kind == EMBER_LAYER_GAP2D ? ember_model_add_global_average_pooling2d(m, err)
                                         : ember_model_add_flatten(m, err);
    }
    case EMBER_LAYER_BATCHNORM: {
        static const char *const keys[] = {"type", "momentum", "epsilon", NULL};
        double mo = 0, ep = 0;
        if ((st = only_keys(lj, keys, where, path, err)) ||
            (st = get_num(lj, "momentum", 0, 0.999999999, 0, &mo, where, path, err)) ||
            (st = get_num(lj, "epsilon", 1e-30, 0.999999999, 0, &ep, where, path, err)) ||
            (st = check_budget(4.0 * (double)next_channels(m), budget, where, path, err)))
            return st;
        return ember_model_add_batch_normalization(m, (float)mo, (float)ep, err);
    }
    default:
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s.type \"%s\" is not a known layer type",
                          path, where, type);
    }
}

static ember_status parse_compile(const cJSON *cj, ember_optimizer_config *o, ember_loss_kind *loss,
                                  const char *path, ember_error *err)
{
    static const char *const top[] = {"loss", "optimizer", NULL};
    const char *s = NULL;
    ember_status st;
    if (!cJSON_IsObject(cj))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: ember.compile is not a JSON object", path);
    if ((st = only_keys(cj, top, "compile", path, err)) ||
        (st = get_str(cj, "loss", &s, "compile", path, err)))
        return st;
    int l = ember__loss_from_name(s);
    if (l < 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: compile.loss \"%s\" is unknown", path, s);
    *loss = (ember_loss_kind)l;
    const cJSON *oj = cJSON_GetObjectItemCaseSensitive(cj, "optimizer");
    if (!cJSON_IsObject(oj))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: compile.optimizer is missing or not an object",
                          path);
    if ((st = get_str(oj, "name", &s, "compile.optimizer", path, err)))
        return st;
    double lr = 0, wd = 0, clip = 0, a = 0, b = 0, c = 0;
    const char *W = "compile.optimizer";
    if (!strcmp(s, "adam")) {
        static const char *const keys[] = {"name", "learning_rate", "beta1", "beta2", "epsilon",
                                           "weight_decay", "clip_norm", NULL};
        if ((st = only_keys(oj, keys, W, path, err)) ||
            (st = get_num(oj, "learning_rate", 0, 1e6, 0, &lr, W, path, err)) ||
            (st = get_num(oj, "beta1", 0, 1, 0, &a, W, path, err)) ||
            (st = get_num(oj, "beta2", 0, 1, 0, &b, W, path, err)) ||
            (st = get_num(oj, "epsilon", 0, 1, 0, &c, W, path, err)))
            return st;
        *o = ember_optimizer_adam((float)lr);
        o->beta1 = (float)a;
        o->beta2 = (float)b;
        o->epsilon = (float)c;
    } else if (!strcmp(s, "sgd")) {
        static const char *const keys[] = {"name", "learning_rate", "momentum", "nesterov",
                                           "weight_decay", "clip_norm", NULL};
        int nesterov = 0;
        if ((st = only_keys(oj, keys, W, path, err)) ||
            (st = get_num(oj, "learning_rate", 0, 1e6, 0, &lr, W, path, err)) ||
            (st = get_num(oj, "momentum", 0, 1, 0, &a, W, path, err)) ||
            (st = get_bool(oj, "nesterov", &nesterov, W, path, err)))
            return st;
        *o = ember_optimizer_sgd((float)lr, (float)a, nesterov);
    } else {
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: compile.optimizer.name \"%s\" is unknown",
                          path, s);
    }
    if ((st = get_num(oj, "weight_decay", 0, 1e6, 0, &wd, W, path, err)) ||
        (st = get_num(oj, "clip_norm", 0, 1e30, 0, &clip, W, path, err)))
        return st;
    o->weight_decay = (float)wd;
    o->clip_norm = (float)clip;
    ember_status vs = ember__optim_validate(o, err);
    if (vs)
        ember__error_prefix(err, "%s: compile.optimizer", path);
    return vs;
}

static ember_status meta_u64(const ember_st_file *f, const char *key, uint64_t max, uint64_t *out,
                             const char *path, ember_error *err)
{
    const char *v = ember__st_meta(f, key);
    if (!v)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata \"%s\" is missing", path, key);
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || v[0] == '-' || x > max)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata \"%s\" = \"%s\" is not an integer "
                          "in [0, %llu]", path, key, v, (unsigned long long)max);
    *out = x;
    return EMBER_OK;
}

ember_status ember_model_load(ember_model **out, const char *path, ember_error *err)
{
    if (!out || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_load: NULL argument");
    *out = NULL;
    ember_st_file *f = NULL;
    cJSON *arch = NULL, *comp = NULL;
    ember_model *m = NULL;
    ember_status s = ember__st_read(&f, path, err);
    if (s)
        return s;
    const char *fmt = ember__st_meta(f, "ember.format");
    if (!fmt || strcmp(fmt, FORMAT_NAME) != 0) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: not an Ember model (metadata ember.format is %s%s%s)",
                       path, fmt ? "\"" : "", fmt ? fmt : "missing", fmt ? "\"" : "");
        goto fail;
    }
    uint64_t version, seed, threads, epochs;
    if ((s = meta_u64(f, "ember.format_version", 1000000, &version, path, err)))
        goto fail;
    if (version != FORMAT_VERSION) {
        s = EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "%s: model format version %llu; this Ember "
                       "(%s) reads version %d", path, (unsigned long long)version, ember_version(),
                       FORMAT_VERSION);
        goto fail;
    }
    if (!ember__st_has_checksum(f)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata ember.sha256 (the checksum of the "
                       "tensor data) is missing", path);
        goto fail;
    }
    {
        int n = ember__st_meta_count(f);
        const char **k = malloc((size_t)(n ? n : 1) * sizeof *k);
        const char **v = malloc((size_t)(n ? n : 1) * sizeof *v);
        char want[EMBER_SHA256_HEX_LEN + 1];
        if (!k || !v) {
            free(k);
            free(v);
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory loading %s", path);
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            k[i] = ember__st_meta_key(f, i);
            v[i] = ember__st_meta(f, k[i]);
        }
        s = meta_hash(n, k, v, want, err);
        free(k);
        free(v);
        if (s)
            goto fail;
        const char *got = ember__st_meta(f, META_HASH_KEY);
        if (!got || (strcmp(got, want) != 0 && !EMBER__FUZZING)) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata checksum %s %s: the architecture "
                           "or settings were changed or corrupted", path, META_HASH_KEY,
                           got ? "does not match" : "is missing");
            goto fail;
        }
    }
    /* The checksums cover the tensor bytes and the metadata values, not the
     * header's text: a header with the same meaning in other text (a \u
     * escape's hex digit in the other case, whitespace) would pass them, so
     * the text must be exactly what the writer makes of it. */
    if (!ember__st_header_canonical(f) && !EMBER__FUZZING) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: the header is not byte for byte as Ember "
                       "writes it (its JSON text was edited or corrupted)", path);
        goto fail;
    }
    if ((s = meta_u64(f, "ember.seed", UINT64_MAX, &seed, path, err)) ||
        (s = meta_u64(f, "ember.threads", 4096, &threads, path, err)) ||
        (s = meta_u64(f, "ember.epochs_done", INT64_MAX, &epochs, path, err)))
        goto fail;
    const char *as = ember__st_meta(f, "ember.architecture");
    const char *cs = ember__st_meta(f, "ember.compile");
    if (!as || !cs) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata ember.%s is missing", path,
                       as ? "compile" : "architecture");
        goto fail;
    }
    arch = cJSON_Parse(as);
    comp = cJSON_Parse(cs);
    if (!cJSON_IsObject(arch) || !comp) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata ember.%s is not valid JSON", path,
                       cJSON_IsObject(arch) ? "compile" : "architecture");
        goto fail;
    }
    static const char *const akeys[] = {"input_shape", "layers", NULL};
    if ((s = only_keys(arch, akeys, "architecture", path, err)))
        goto fail;
    const cJSON *ish = cJSON_GetObjectItemCaseSensitive(arch, "input_shape");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(arch, "layers");
    int rank = cJSON_GetArraySize(ish);
    if (!cJSON_IsArray(ish) || rank > EMBER_MAX_DIMS - 1) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: architecture.input_shape must be an array of "
                       "0..%d sizes ([] for token ids)", path, EMBER_MAX_DIMS - 1);
        goto fail;
    }
    int64_t shape[EMBER_MAX_DIMS];
    int r = 0;
    for (const cJSON *it = ish->child; it; it = it->next, r++) {
        double d = it->valuedouble;
        if (!cJSON_IsNumber(it) || !(d >= 1 && d <= 1e12) || d != (double)(int64_t)d) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: architecture.input_shape[%d] is not a "
                           "positive integer", path, r);
            goto fail;
        }
        shape[r] = (int64_t)d;
    }
    int nl = cJSON_GetArraySize(layers);
    if (!cJSON_IsArray(layers) || nl < 1 || nl > MAX_LAYERS) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: architecture.layers must be an array of "
                       "1..%d layers", path, MAX_LAYERS);
        goto fail;
    }
    if ((s = rank == 0 ? ember_model_create_ids(&m, seed, err)
                       : ember_model_create(&m, rank, shape, seed, err)))
        goto fail;
    m->threads = (int)threads ? (int)threads : m->threads;
    int64_t budget = 0; /* floats of tensor data in the file (bounded by its size) */
    for (int t = 0; t < ember__st_count(f); t++) {
        int64_t tshape[EMBER_MAX_DIMS], numel = 1;
        int nd = ember__st_shape(f, t, tshape);
        for (int d = 0; d < nd; d++)
            numel *= tshape[d];
        budget += numel;
    }
    int i = 0;
    for (const cJSON *lj = layers->child; lj; lj = lj->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "architecture.layers[%d]", i);
        if ((s = add_layer_from_json(m, lj, i, budget, path, err)) ||
            (s = check_budget((double)ember_model_param_count(m), budget, where, path, err)))
            goto fail;
    }
    ember_optimizer_config opt;
    ember_loss_kind loss = EMBER_LOSS_MSE;
    if ((s = parse_compile(comp, &opt, &loss, path, err)) ||
        (s = ember__model_alloc_params(m, err)))
        goto fail;
    int expected = 0;
    for (i = 0; i < m->n_layers; i++) {
        const ember_layer *l = m->layers[i];
        ptensor pt[MAX_LAYER_TENSORS];
        int n = layer_tensors(l, pt);
        for (int j = 0; j < n; j++, expected++) {
            char name[48];
            snprintf(name, sizeof name, "layers.%d.%s", i, pt[j].suffix);
            const float *data;
            if ((s = ember__st_get(f, name, pt[j].ndim, pt[j].shape, &data, err)))
                goto fail;
            int64_t count = 1;
            for (int d = 0; d < pt[j].ndim; d++)
                count *= pt[j].shape[d];
            memcpy(l->params + pt[j].offset, data, (size_t)count * sizeof(float));
            /* BatchNormalization's statistics are used as they are at inference:
             * a NaN or negative variance would make every prediction NaN */
            int stats = l->kind == EMBER_LAYER_BATCHNORM && pt[j].offset >= 2 * count;
            for (int64_t q = 0; stats && q < count; q++) {
                float v = l->params[pt[j].offset + q];
                if (!isfinite(v) || (pt[j].offset == 3 * count && v < 0.0f)) {
                    s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor \"%s\"[%lld] = %g is not "
                                   "a finite%s number", path, name, (long long)q, (double)v,
                                   pt[j].offset == 3 * count ? " non-negative" : "");
                    goto fail;
                }
            }
        }
    }
    if (ember__st_count(f) != expected) {
        for (i = 0; i < ember__st_count(f); i++) {
            const char *nm = ember__st_name(f, i);
            int known = 0;
            for (int li = 0; li < m->n_layers && !known; li++) {
                ptensor pt[MAX_LAYER_TENSORS];
                int n = layer_tensors(m->layers[li], pt);
                for (int j = 0; j < n; j++) {
                    char name[48];
                    snprintf(name, sizeof name, "layers.%d.%s", li, pt[j].suffix);
                    known |= strcmp(name, nm) == 0;
                }
            }
            if (!known) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor \"%s\" does not belong to the "
                               "architecture", path, nm);
                goto fail;
            }
        }
    }
    m->initialised = 1;
    m->epochs_done = (int64_t)epochs;
    if ((s = ember_model_compile(m, &opt, loss, err)))
        goto fail;
    for (i = 0; i < ember__st_meta_count(f); i++) {
        const char *k = ember__st_meta_key(f, i);
        if (strncmp(k, "ember.", 6) == 0)
            continue;
        if ((s = ember_model_set_metadata(m, k, ember__st_meta(f, k), err)))
            goto fail;
    }
    cJSON_Delete(arch);
    cJSON_Delete(comp);
    ember__st_free(f);
    *out = m;
    return EMBER_OK;
fail:
    if (m && s != EMBER_OK && err && strncmp(err->message, path, strlen(path)) != 0)
        ember__error_prefix(err, "%s", path);
    cJSON_Delete(arch);
    cJSON_Delete(comp);
    ember_model_destroy(m);
    ember__st_free(f);
    return s;
}

/* ------------------------------------------------------------ compare */

ember_status ember_model_compare_weights(const ember_model *a, const ember_model *b,
                                         ember_weights_diff *d, ember_error *err)
{
    if (!a || !b || !d)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_model_compare_weights: NULL argument");
    memset(d, 0, sizeof *d);
    if (!a->compiled || !b->compiled)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "ember_model_compare_weights: the %s model is not "
                          "compiled (it has no weights yet)", !a->compiled ? "first" : "second");
    int na = ember__model_param_tensors(a, NULL, NULL), nb = ember__model_param_tensors(b, NULL, NULL);
    if (na != nb)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "the models have %d and %d weight tensors", na, nb);
    ember_st_tensor *ta = calloc((size_t)na + 1, sizeof *ta), *tb = calloc((size_t)nb + 1, sizeof *tb);
    char(*names_a)[EMBER_TENSOR_NAME_MAX] = calloc((size_t)na + 1, sizeof *names_a);
    char(*names_b)[EMBER_TENSOR_NAME_MAX] = calloc((size_t)nb + 1, sizeof *names_b);
    ember_status s = EMBER_OK;
    if (!ta || !tb || !names_a || !names_b) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory comparing weights");
        goto done;
    }
    ember__model_param_tensors(a, ta, names_a);
    ember__model_param_tensors(b, tb, names_b);
    for (int i = 0; i < na; i++) {
        int same_shape = ta[i].ndim == tb[i].ndim && !strcmp(names_a[i], names_b[i]);
        for (int k = 0; same_shape && k < ta[i].ndim; k++)
            same_shape = ta[i].shape[k] == tb[i].shape[k];
        if (!same_shape) {
            s = EMBER_FAIL(err, EMBER_ERR_SHAPE, "weight tensor %d: %s and %s differ in name or "
                           "shape", i, names_a[i], names_b[i]);
            goto done;
        }
        int64_t n = 1;
        for (int k = 0; k < ta[i].ndim; k++)
            n *= ta[i].shape[k];
        int64_t differ = 0;
        double max_abs = 0;
        for (int64_t j = 0; j < n; j++) {
            float x = ta[i].data[j], y = tb[i].data[j];
            if (memcmp(&x, &y, sizeof x) != 0) {
                differ++;
                double dd = fabs((double)x - (double)y);
                if (!(dd <= max_abs))
                    max_abs = dd; /* NaN stays NaN */
            }
        }
        d->tensors++;
        d->values += n;
        if (differ) {
            if (!d->differing_tensors)
                snprintf(d->first_tensor, sizeof d->first_tensor, "%s", names_a[i]);
            d->differing_tensors++;
            d->differing_values += differ;
            if (!(max_abs <= d->max_abs_diff))
                d->max_abs_diff = max_abs;
        }
    }
    d->identical = d->differing_values == 0;
done:
    free(ta);
    free(tb);
    free(names_a);
    free(names_b);
    return s;
}
