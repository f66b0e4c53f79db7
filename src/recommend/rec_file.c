/*
 * rec_file.c - recommender model files in Ember's model-file layout
 * (safetensors: JSON header + raw float32 tensors, src/io/safetensors.h),
 * with the settings and the id maps in the metadata. Tensors and keys are
 * listed in ember.h (ember_recommender_save). The loader is strict, like the
 * Sequential model's: unknown or missing keys, wrong shapes, extra tensors,
 * an id list that does not match the tensor shapes or repeats an id, and a
 * missing or wrong checksum are errors naming the field.
 */
#define _POSIX_C_SOURCE 200809L
#include "rec_internal.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "optim/optim.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "ember-recommender"
#define FORMAT_VERSION 1
#define META_HASH_KEY "ember.meta_sha256"

/* MF files have the first N_KEYS_MF keys; two-tower files all of them. */
static const char *const known_keys[] = {
    "ember.format", "ember.format_version", "ember.version", "ember.git_commit",
    "recommend.model", "recommend.config", "recommend.users", "recommend.items",
    META_HASH_KEY, EMBER_ST_CHECKSUM_KEY, "recommend.user_features",
    "recommend.item_features"};
#define N_KEYS_MF 10
#define N_KEYS_TT ((int)(sizeof known_keys / sizeof known_keys[0]))

/* Two-tower tensors, in file order (features only when the width is > 0). */
enum { TT_UEMB, TT_IEMB, TT_UFEAT, TT_IFEAT, TT_UWARM, TT_IWARM, TT_UTOWER, TT_ITOWER, TT_N };
static const char *const tt_names[TT_N] = {
    "tt.user_embedding", "tt.item_embedding", "tt.user_features", "tt.item_features",
    "tt.user_warm", "tt.item_warm", "tt.user_tower", "tt.item_tower"};

static char *names_json(char *const *names, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t k = 0; a && k < n; k++) {
        cJSON *x = cJSON_CreateString(names[k]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            cJSON_Delete(a);
            return NULL;
        }
    }
    char *out = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return out;
}

/* The ids of m in index order as a JSON array (NULL: out of memory). */
static char *ids_json(const ember_idmap *m)
{
    char **v = malloc((size_t)(m->n ? m->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (int64_t k = 0; k < m->n; k++)
        v[k] = (char *)ember__idmap_get(m, k);
    char *out = names_json(v, m->n);
    free(v);
    return out;
}

/* The settings JSON of both models: {"version": 1, <the model's keys>,
 * "seed" (a decimal string: exact for any uint64), "threads", "optimizer"}.
 * config_begin opens it (NULL: out of memory); config_end adds the shared
 * tail, prints it and frees j (NULL: out of memory). */
static cJSON *config_begin(void)
{
    cJSON *j = cJSON_CreateObject();
    if (j)
        cJSON_AddNumberToObject(j, "version", 1);
    return j;
}

static char *config_end(cJSON *j, uint64_t seed, int threads, const ember_optimizer_config *c)
{
    char sd[32];
    snprintf(sd, sizeof sd, "%" PRIu64, seed);
    cJSON_AddStringToObject(j, "seed", sd);
    cJSON_AddNumberToObject(j, "threads", threads);
    cJSON *o = cJSON_AddObjectToObject(j, "optimizer");
    if (o) {
        cJSON_AddStringToObject(o, "name", c->kind == EMBER_OPT_ADAM ? "adam" : "sgd");
        cJSON_AddNumberToObject(o, "learning_rate", c->learning_rate);
        cJSON_AddNumberToObject(o, "momentum", c->momentum);
        cJSON_AddBoolToObject(o, "nesterov", c->nesterov);
        cJSON_AddNumberToObject(o, "beta1", c->beta1);
        cJSON_AddNumberToObject(o, "beta2", c->beta2);
        cJSON_AddNumberToObject(o, "epsilon", c->epsilon);
    }
    char *s = o ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}

static char *config_json(const ember_recommender *r)
{
    const ember_mf_config *c = &r->cfg;
    cJSON *j = config_begin();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "loss", c->loss == EMBER_MF_LOSS_BPR ? "bpr" : "mse");
    cJSON_AddNumberToObject(j, "dim", (double)c->dim);
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "epochs_done", r->epochs_done);
    cJSON_AddNumberToObject(j, "l2", c->l2);
    cJSON_AddNumberToObject(j, "l2_bias", c->l2_bias);
    cJSON_AddNumberToObject(j, "lr_decay", c->lr_decay);
    cJSON_AddNumberToObject(j, "init_std", c->init_std);
    return config_end(j, c->seed, c->threads, &c->optimizer);
}

static char *tt_config_json(const ember_two_tower_config *c)
{
    cJSON *j = config_begin();
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "dim", (double)c->dim);
    cJSON_AddNumberToObject(j, "id_dim", (double)c->id_dim);
    cJSON_AddNumberToObject(j, "hidden", (double)c->hidden);
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "batch_size", (double)c->batch_size);
    cJSON_AddNumberToObject(j, "negatives", (double)c->negatives);
    cJSON_AddNumberToObject(j, "id_dropout", c->id_dropout);
    return config_end(j, c->seed, c->threads, &c->optimizer);
}

static int reserved_key(const char *key)
{
    return !*key || !strncmp(key, "ember.", 6) || !strncmp(key, "recommend.", 10) ||
           !strcmp(key, "__metadata__");
}

ember_status ember_recommender_set_metadata(ember_recommender *r, const char *key,
                                            const char *value, ember_error *err)
{
    if (!r || !key || !value)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "recommender set_metadata: NULL argument");
    if (reserved_key(key))
        return EMBER_FAIL(err, EMBER_ERR_ARG, "metadata key '%.60s' is empty or reserved "
                          "(ember.*, recommend.*)", key);
    char *v = strdup(value);
    if (!v)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->n_meta; i++)
        if (!strcmp(r->meta_keys[i], key)) {
            free(r->meta_values[i]);
            r->meta_values[i] = v;
            return EMBER_OK;
        }
    char *k = strdup(key);
    char **nk = k ? realloc(r->meta_keys, (size_t)(r->n_meta + 1) * sizeof *nk) : NULL;
    if (nk)
        r->meta_keys = nk;
    char **nv = nk ? realloc(r->meta_values, (size_t)(r->n_meta + 1) * sizeof *nv) : NULL;
    if (!nv) {
        free(k);
        free(v);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    r->meta_values = nv;
    r->meta_keys[r->n_meta] = k;
    r->meta_values[r->n_meta++] = v;
    return EMBER_OK;
}

const char *ember_recommender_get_metadata(const ember_recommender *r, const char *key)
{
    for (int i = 0; r && key && i < r->n_meta; i++)
        if (!strcmp(r->meta_keys[i], key))
            return r->meta_values[i];
    return NULL;
}

int ember_recommender_metadata_count(const ember_recommender *r) { return r ? r->n_meta : 0; }

const char *ember_recommender_metadata_key(const ember_recommender *r, int i)
{
    return r && i >= 0 && i < r->n_meta ? r->meta_keys[i] : NULL;
}

/* keys/vals of a save: the model's n fixed pairs, then the user metadata
 * (allocated here; *nm the total). */
static ember_status with_user_meta(const ember_recommender *r, const char *const *keys,
                                   const char *const *vals, int n, const char ***k,
                                   const char ***v, int *nm, ember_error *err)
{
    *nm = n + r->n_meta;
    *k = malloc((size_t)*nm * sizeof **k);
    *v = malloc((size_t)*nm * sizeof **v);
    if (!*k || !*v) {
        free(*k), free(*v);
        *k = *v = NULL;
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        (*k)[i] = keys[i], (*v)[i] = vals[i];
    for (int i = 0; i < r->n_meta; i++)
        (*k)[n + i] = r->meta_keys[i], (*v)[n + i] = r->meta_values[i];
    return EMBER_OK;
}

/* Shape and data of two-tower tensor k (warm flags converted into w0/w1). */
static void tt_tensor(const ember_tt *t, int k, ember_st_tensor *x, const float *wu,
                      const float *wi)
{
    memset(x, 0, sizeof *x);
    x->name = tt_names[k];
    x->ndim = 2;
    switch (k) {
    case TT_UEMB: x->shape[0] = t->U + 1, x->shape[1] = t->E, x->data = t->uemb; break;
    case TT_IEMB: x->shape[0] = t->I + 1, x->shape[1] = t->E, x->data = t->iemb; break;
    case TT_UFEAT: x->shape[0] = t->U, x->shape[1] = t->Fu, x->data = t->ufeat; break;
    case TT_IFEAT: x->shape[0] = t->I, x->shape[1] = t->Fi, x->data = t->ifeat; break;
    case TT_UWARM: x->ndim = 1, x->shape[0] = t->U, x->data = wu; break;
    case TT_IWARM: x->ndim = 1, x->shape[0] = t->I, x->data = wi; break;
    case TT_UTOWER: x->ndim = 1, x->shape[0] = t->utower->n_params, x->data = t->utower->params; break;
    default: x->ndim = 1, x->shape[0] = t->itower->n_params, x->data = t->itower->params; break;
    }
}

static ember_status tt_save(const ember_recommender *r, const char *path, ember_error *err)
{
    const ember_tt *t = r->tt;
    const char **ak = NULL, **av = NULL;
    float *wu = malloc((size_t)(t->U + 1) * sizeof *wu), *wi = malloc((size_t)(t->I + 1) * sizeof *wi);
    char *cfg = tt_config_json(&t->cfg), *users = ids_json(&r->users), *items = ids_json(&r->items);
    char *uf = names_json(t->ucols, t->Fu), *itf = names_json(t->icols, t->Fi);
    ember_status s = EMBER_OK;
    if (!wu || !wi || !cfg || !users || !items || !uf || !itf) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory saving %s", path);
        goto done;
    }
    for (int64_t k = 0; k < t->U; k++)
        wu[k] = t->uwarm[k];
    for (int64_t k = 0; k < t->I; k++)
        wi[k] = t->iwarm[k];
    ember_st_tensor ts[TT_N];
    int nt = 0;
    for (int k = 0; k < TT_N; k++)
        if (!((k == TT_UFEAT && !t->Fu) || (k == TT_IFEAT && !t->Fi)))
            tt_tensor(t, k, &ts[nt++], wu, wi);
    char version[16];
    snprintf(version, sizeof version, "%d", FORMAT_VERSION);
    char mh[EMBER_SHA256_HEX_LEN + 1] = "";
    const char *keys[] = {"ember.format", "ember.format_version", "ember.version",
                          "ember.git_commit", "recommend.model", "recommend.config",
                          "recommend.users", "recommend.items", "recommend.user_features",
                          "recommend.item_features", META_HASH_KEY};
    const char *vals[] = {FORMAT_NAME, version, ember_version(), ember_git_commit(), "two-tower",
                          cfg, users, items, uf, itf, mh};
    int nm;
    if ((s = with_user_meta(r, keys, vals, (int)(sizeof keys / sizeof keys[0]), &ak, &av, &nm,
                            err)) ||
        (s = ember__meta_hash(nm, ak, av, META_HASH_KEY, mh, err)))
        goto done;
    s = ember__st_write(path, ts, nt, ak, av, nm, err);
done:
    free(ak), free(av);
    free(wu), free(wi), free(cfg), free(users), free(items), free(uf), free(itf);
    return s;
}

ember_status ember_recommender_save(const ember_recommender *r, const char *path, ember_error *err)
{
    if (!r || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "recommender save: NULL argument");
    if (r->two_tower)
        return tt_save(r, path, err);
    const ember_mf_layout *L = &r->L;
    const char **ak = NULL, **av = NULL;
    ember_st_tensor ts[5];
    memset(ts, 0, sizeof ts);
    const char *tn[5] = {"mf.user_factors", "mf.item_factors", "mf.user_bias", "mf.item_bias",
                         "mf.global_mean"};
    int nd[5] = {2, 2, 1, 1, 0};
    int64_t d0[5] = {L->U, L->I, L->U, L->I, 1};
    const float *data[5] = {r->w + L->p, r->w + L->q, r->w + L->bu, r->w + L->bi, &r->mu};
    for (int k = 0; k < 5; k++) {
        ts[k].name = tn[k];
        ts[k].ndim = nd[k];
        ts[k].shape[0] = d0[k];
        ts[k].shape[1] = L->D;
        ts[k].data = data[k];
    }
    char version[16];
    snprintf(version, sizeof version, "%d", FORMAT_VERSION);
    char *cfg = config_json(r), *users = ids_json(&r->users), *items = ids_json(&r->items);
    ember_status s = EMBER_OK;
    if (!cfg || !users || !items) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory saving %s", path);
        goto done;
    }
    char mh[EMBER_SHA256_HEX_LEN + 1] = "";
    const char *keys[] = {"ember.format", "ember.format_version", "ember.version",
                          "ember.git_commit", "recommend.model", "recommend.config",
                          "recommend.users", "recommend.items", META_HASH_KEY};
    const char *vals[] = {FORMAT_NAME, version, ember_version(), ember_git_commit(), "mf", cfg,
                          users, items, mh};
    int nm;
    if ((s = with_user_meta(r, keys, vals, (int)(sizeof keys / sizeof keys[0]), &ak, &av, &nm,
                            err)) ||
        (s = ember__meta_hash(nm, ak, av, META_HASH_KEY, mh, err)))
        goto done;
    s = ember__st_write(path, ts, 5, ak, av, nm, err);
done:
    free(ak), free(av);
    free(cfg);
    free(users);
    free(items);
    return s;
}

/* ------------------------------------------------------------- load */

static ember_status ids_load(ember_idmap *m, const ember_st_file *f, const char *key,
                             int64_t want, const char *path, ember_error *err)
{
    const char *v = ember__st_meta(f, key);
    cJSON *a = cJSON_Parse(v);
    ember_status s = EMBER_OK;
    if (!cJSON_IsArray(a)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s is not a JSON array of ids", path,
                       key);
        goto done;
    }
    int64_t n = cJSON_GetArraySize(a);
    if (n != want) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s has %lld ids, the tensors %lld",
                       path, key, (long long)n, (long long)want);
        goto done;
    }
    int64_t k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsString(e)) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s[%lld] is %s, not a string",
                           path, key, (long long)k, ember__json_type(e));
            goto done;
        }
        int64_t idx, before = m->n;
        if ((s = ember__idmap_add(m, e->valuestring, strlen(e->valuestring), &idx, err)))
            goto done;
        if (m->n == before) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s[%lld]: id '%.40s' repeats",
                           path, key, (long long)k, e->valuestring);
            goto done;
        }
        k++;
    }
done:
    cJSON_Delete(a);
    return s;
}

static ember_status cfg_num(const cJSON *j, const char *name, double lo, double hi, double *v,
                            const char *path, ember_error *err)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!cJSON_IsNumber(x) || !(x->valuedouble >= lo && x->valuedouble <= hi))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: %s is %s%s, "
                          "expected a number in [%g, %g]", path, name,
                          x ? ember__json_type(x) : "missing",
                          cJSON_IsNumber(x) ? " out of range" : "", lo, hi);
    *v = x->valuedouble;
    return EMBER_OK;
}

/* Every key of object j is one of keys[0..n) (prefix names the object). */
static ember_status only_keys(const cJSON *j, const char *const *keys, size_t n,
                              const char *prefix, const char *path, ember_error *err)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        int ok = 0;
        for (size_t k = 0; k < n; k++)
            ok |= !strcmp(e->string, keys[k]);
        if (!ok)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: unknown "
                              "key '%s%.40s'", path, prefix, e->string);
    }
    return EMBER_OK;
}

static ember_status seed_threads_load(const cJSON *j, uint64_t *seed, int *threads,
                                      const char *path, ember_error *err)
{
    double v;
    v = 0.0;
    ember_status s = cfg_num(j, "threads", 1, 256, &v, path, err);
    if (s)
        return s;
    *threads = (int)v;
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(j, "seed");
    char *end = NULL;
    if (!cJSON_IsString(sd) || !sd->valuestring[0] ||
        (*seed = strtoull(sd->valuestring, &end, 10), *end))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: seed is not a "
                          "decimal string", path);
    return EMBER_OK;
}

static ember_status optimizer_load(const cJSON *j, ember_optimizer_config *c, const char *path,
                                   ember_error *err)
{
    static const char *const okeys[] = {"name", "learning_rate", "momentum", "nesterov",
                                        "beta1", "beta2", "epsilon"};
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "optimizer");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    ember_status s;
    double v = 0.0;
    if (!cJSON_IsObject(o) || !cJSON_IsString(nm) ||
        (strcmp(nm->valuestring, "sgd") && strcmp(nm->valuestring, "adam")))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: optimizer.name "
                          "must be \"sgd\" or \"adam\"", path);
    if ((s = only_keys(o, okeys, sizeof okeys / sizeof okeys[0], "optimizer.", path, err)))
        return s;
    c->kind = strcmp(nm->valuestring, "adam") ? EMBER_OPT_SGD : EMBER_OPT_ADAM;
    float *fields[] = {&c->learning_rate, &c->momentum, &c->beta1, &c->beta2, &c->epsilon};
    const char *fnames[] = {"learning_rate", "momentum", "beta1", "beta2", "epsilon"};
    for (int k = 0; k < 5; k++) {
        if ((s = cfg_num(o, fnames[k], 0, 1e30, &v, path, err)))
            return s;
        *fields[k] = (float)v;
    }
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(o, "nesterov");
    if (!cJSON_IsBool(nv))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: optimizer.nesterov "
                          "is not true or false", path);
    c->nesterov = cJSON_IsTrue(nv);
    return EMBER_OK;
}

/* Parse recommend.config into *j (the caller deletes it, also on failure):
 * a JSON object whose keys are all among keys[0..n). */
static ember_status config_open(cJSON **j, const char *json, const char *const *keys, size_t n,
                                const char *path, ember_error *err)
{
    *j = cJSON_Parse(json);
    if (!cJSON_IsObject(*j))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config is not a JSON "
                          "object", path);
    return only_keys(*j, keys, n, "", path, err);
}

static ember_status config_load(ember_mf_config *c, int *epochs_done, const char *json,
                                const char *path, ember_error *err)
{
    static const char *const keys[] = {"version", "loss", "dim", "epochs", "epochs_done", "l2", "l2_bias", "lr_decay",
                                       "init_std", "seed", "threads", "optimizer"};
    cJSON *j = NULL;
    double v = 0.0;
    ember_status s = config_open(&j, json, keys, sizeof keys / sizeof keys[0], path, err);
    if (s)
        goto done;
    memset(c, 0, sizeof *c);
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(j, "loss");
    if (!cJSON_IsString(ls) || (strcmp(ls->valuestring, "mse") && strcmp(ls->valuestring, "bpr"))) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: loss must be "
                       "\"mse\" or \"bpr\"", path);
        goto done;
    }
    c->loss = strcmp(ls->valuestring, "bpr") ? EMBER_MF_LOSS_MSE : EMBER_MF_LOSS_BPR;
    if ((s = cfg_num(j, "version", 1, 1, &v, path, err)) ||
        (s = cfg_num(j, "dim", 1, 4096, &v, path, err)))
        goto done;
    c->dim = (int64_t)v;
    if ((s = cfg_num(j, "epochs", 1, 1e9, &v, path, err)))
        goto done;
    c->epochs = (int)v;
    if ((s = cfg_num(j, "epochs_done", 0, 1e9, &v, path, err)))
        goto done;
    *epochs_done = (int)v;
    if ((s = cfg_num(j, "l2", 0, 1e30, &v, path, err)))
        goto done;
    c->l2 = (float)v;
    if ((s = cfg_num(j, "l2_bias", 0, 1e30, &v, path, err)))
        goto done;
    c->l2_bias = (float)v;
    if ((s = cfg_num(j, "lr_decay", 1e-30, 1, &v, path, err)))
        goto done;
    c->lr_decay = (float)v;
    if ((s = cfg_num(j, "init_std", 0, 1e30, &v, path, err)))
        goto done;
    c->init_std = (float)v;
    if ((s = seed_threads_load(j, &c->seed, &c->threads, path, err)))
        goto done;
    s = optimizer_load(j, &c->optimizer, path, err);
done:
    cJSON_Delete(j);
    return s;
}

static ember_status tt_config_load(ember_two_tower_config *c, const char *json, const char *path,
                                   ember_error *err)
{
    static const char *const keys[] = {"version", "dim", "id_dim", "hidden", "epochs",
                                       "batch_size", "negatives", "id_dropout", "seed",
                                       "threads", "optimizer"};
    cJSON *j = NULL;
    double v[8];
    const char *names[8] = {"version", "dim", "id_dim", "hidden", "epochs", "batch_size",
                            "negatives", "id_dropout"};
    const double lo[8] = {1, 1, 1, 0, 1, 1, 1, 0}, hi[8] = {1, 65536, 65536, 65536, 1e9, 1e6, 1e6, 0.99};
    ember_status s = config_open(&j, json, keys, sizeof keys / sizeof keys[0], path, err);
    if (s)
        goto done;
    for (int k = 0; k < 8; k++)
        if ((s = cfg_num(j, names[k], lo[k], hi[k], &v[k], path, err)))
            goto done;
    memset(c, 0, sizeof *c);
    c->dim = (int64_t)v[1], c->id_dim = (int64_t)v[2], c->hidden = (int64_t)v[3];
    c->epochs = (int)v[4], c->batch_size = (int64_t)v[5], c->negatives = (int64_t)v[6];
    c->id_dropout = (float)v[7];
    if ((s = seed_threads_load(j, &c->seed, &c->threads, path, err)))
        goto done;
    s = optimizer_load(j, &c->optimizer, path, err);
done:
    cJSON_Delete(j);
    return s;
}

/* A settings check that failed on loaded values (an optimizer field out of
 * range, a width the model cannot build): name the file and the key. */
static ember_status settings_error(ember_status s, const char *path, ember_error *err)
{
    if (s == EMBER_ERR_NOMEM)
        return s;
    char msg[EMBER_ERROR_MESSAGE_MAX] = "";
    if (err)
        snprintf(msg, sizeof msg, "%s", err->message);
    return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: %s", path, msg);
}

/* Feature names: a JSON array of strings; *n its length, names copied into
 * *out (allocated here). */
static ember_status names_load(const ember_st_file *f, const char *key, char ***out, int64_t *n,
                               const char *path, ember_error *err)
{
    cJSON *a = cJSON_Parse(ember__st_meta(f, key));
    ember_status s = EMBER_OK;
    int64_t q = 0;
    *out = NULL;
    *n = 0;
    if (!cJSON_IsArray(a)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s is not a JSON array of names",
                       path, key);
        goto done;
    }
    int64_t m = cJSON_GetArraySize(a);
    if (!(*out = calloc((size_t)(m ? m : 1), sizeof **out))) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory loading %s", path);
        goto done;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsString(e)) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s[%lld] is %s, not a string",
                           path, key, (long long)q, ember__json_type(e));
            goto done;
        }
        if (!((*out)[q++] = strdup(e->valuestring))) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory loading %s", path);
            goto done;
        }
    }
    *n = m;
done:
    if (s && *out) {
        for (int64_t j = 0; j < q; j++)
            free((*out)[j]);
        free(*out);
        *out = NULL;
    }
    cJSON_Delete(a);
    return s;
}

static ember_status tt_load(ember_recommender **out, const ember_st_file *f, const char *path,
                            ember_error *err)
{
    ember_two_tower_config cfg;
    ember_status s = tt_config_load(&cfg, ember__st_meta(f, "recommend.config"), path, err);
    if (s)
        return s;
    char **ucols = NULL, **icols = NULL;
    int64_t Fu = 0, Fi = 0, shp[EMBER_MAX_DIMS], UI[2] = {0, 0};
    float *wu = NULL, *wi = NULL;
    ember_recommender *r = NULL;
    if ((s = names_load(f, "recommend.user_features", &ucols, &Fu, path, err)) ||
        (s = names_load(f, "recommend.item_features", &icols, &Fi, path, err)))
        goto done;
    int want = TT_N - !Fu - !Fi;
    if (ember__st_count(f) != want) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %d tensors; a two-tower model with %lld user "
                       "and %lld item features has %d", path, ember__st_count(f), (long long)Fu,
                       (long long)Fi, want);
        goto done;
    }
    for (int side = 0; side < 2; side++) {
        int idx = -1;
        for (int t = 0; t < ember__st_count(f); t++)
            if (!strcmp(ember__st_name(f, t), tt_names[side ? TT_IEMB : TT_UEMB]))
                idx = t;
        if (idx < 0) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor '%s' is missing", path,
                           tt_names[side ? TT_IEMB : TT_UEMB]);
            goto done;
        }
        ember__st_shape(f, idx, shp);
        UI[side] = shp[0] - 1;
    }
    if (!(r = calloc(1, sizeof *r))) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory loading %s", path);
        goto done;
    }
    r->two_tower = 1;
    ember__idmap_init(&r->users);
    ember__idmap_init(&r->items);
    if ((s = ember__tt_alloc(&r->tt, &cfg, UI[0], UI[1], Fu, Fi, err))) {
        s = settings_error(s, path, err);
        goto done;
    }
    ember_tt *t = r->tt;
    for (int64_t j = 0; j < Fu; j++)
        t->ucols[j] = ucols[j], ucols[j] = NULL;
    for (int64_t j = 0; j < Fi; j++)
        t->icols[j] = icols[j], icols[j] = NULL;
    wu = malloc((size_t)(t->U + 1) * sizeof *wu);
    wi = malloc((size_t)(t->I + 1) * sizeof *wi);
    if (!wu || !wi) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory loading %s", path);
        goto done;
    }
    for (int k = 0; k < TT_N; k++) {
        if ((k == TT_UFEAT && !Fu) || (k == TT_IFEAT && !Fi))
            continue;
        ember_st_tensor x;
        tt_tensor(t, k, &x, wu, wi);
        const float *src;
        int64_t n = x.shape[0] * (x.ndim == 2 ? x.shape[1] : 1);
        if ((s = ember__st_get(f, x.name, x.ndim, x.shape, &src, err)))
            goto done;
        for (int64_t q = 0; q < n; q++)
            if (!isfinite(src[q]) ||
                ((k == TT_UWARM || k == TT_IWARM) && src[q] != 0.0f && src[q] != 1.0f)) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor %s: value %lld is %s", path,
                               x.name, (long long)q, isfinite(src[q]) ? "not 0 or 1" : "not finite");
                goto done;
            }
        memcpy((float *)x.data, src, (size_t)n * sizeof(float));
    }
    for (int64_t q = 0; q < t->U; q++)
        t->uwarm[q] = wu[q] != 0.0f;
    for (int64_t q = 0; q < t->I; q++)
        t->iwarm[q] = wi[q] != 0.0f;
    if ((s = ids_load(&r->users, f, "recommend.users", t->U, path, err)) ||
        (s = ids_load(&r->items, f, "recommend.items", t->I, path, err)) ||
        (s = ember__tt_refresh(t, 1, err)))
        goto done;
    *out = r;
    r = NULL;
done:
    for (int64_t j = 0; ucols && j < Fu; j++)
        free(ucols[j]);
    for (int64_t j = 0; icols && j < Fi; j++)
        free(icols[j]);
    free(ucols), free(icols), free(wu), free(wi);
    ember_recommender_destroy(r);
    return s;
}

ember_status ember_recommender_load(ember_recommender **out, const char *path, ember_error *err)
{
    if (!out || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "recommender load: NULL argument");
    *out = NULL;
    ember_st_file *f = NULL;
    ember_recommender *r = NULL;
    const char **mk = NULL, **mv = NULL;
    ember_status s = ember__st_read(&f, path, err);
    if (s)
        return s;
    const char *fmt = ember__st_meta(f, "ember.format");
    if (!fmt || strcmp(fmt, FORMAT_NAME)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: not an Ember recommender (metadata "
                       "ember.format is %s%s%s; a classifier is used with ember test/predict)",
                       path, fmt ? "'" : "missing", fmt ? fmt : "", fmt ? "'" : "");
        goto done;
    }
    const char *ver = ember__st_meta(f, "ember.format_version");
    if (!ver || strcmp(ver, "1")) {
        s = EMBER_FAIL(err, ver ? EMBER_ERR_UNSUPPORTED : EMBER_ERR_FORMAT,
                       "%s: recommender format version %s; this Ember reads version %d", path,
                       ver ? ver : "missing", FORMAT_VERSION);
        goto done;
    }
    if (!ember__st_has_checksum(f) && !EMBER__FUZZING) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s is missing", path,
                       EMBER_ST_CHECKSUM_KEY);
        goto done;
    }
    if (!ember__st_header_canonical(f) && !EMBER__FUZZING) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: the header is not the text Ember writes for "
                       "these values: the file was modified", path);
        goto done;
    }
    const char *model = ember__st_meta(f, "recommend.model");
    int two = model && !strcmp(model, "two-tower");
    if (!model || (!two && strcmp(model, "mf"))) {
        s = EMBER_FAIL(err, model ? EMBER_ERR_UNSUPPORTED : EMBER_ERR_FORMAT,
                       "%s: metadata recommend.model %s%.40s%s: this Ember knows \"mf\" and "
                       "\"two-tower\"", path, model ? "'" : "is missing", model ? model : "",
                       model ? "'" : "");
        goto done;
    }
    const int nk = two ? N_KEYS_TT : N_KEYS_MF;
    /* the model's keys, and the caller's own (not ember.* / recommend.*) */
    int nm = ember__st_meta_count(f);
    for (int i = 0; i < nm; i++) {
        const char *key = ember__st_meta_key(f, i);
        int ok = !reserved_key(key);
        for (int j = 0; j < nk; j++)
            ok |= !strcmp(key, known_keys[j]);
        if (!ok) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: unknown metadata key '%.60s'", path, key);
            goto done;
        }
    }
    for (int j = 0; j < nk; j++)
        if (!ember__st_meta(f, known_keys[j])) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s is missing", path,
                           known_keys[j]);
            goto done;
        }
    if (!(mk = malloc((size_t)nm * sizeof *mk)) || !(mv = malloc((size_t)nm * sizeof *mv))) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory loading %s", path);
        goto done;
    }
    for (int i = 0; i < nm; i++) {
        mk[i] = ember__st_meta_key(f, i);
        mv[i] = ember__st_meta(f, mk[i]);
    }
    char want[EMBER_SHA256_HEX_LEN + 1];
    if ((s = ember__meta_hash(nm, mk, mv, META_HASH_KEY, want, err)))
        goto done;
    if (strcmp(want, ember__st_meta(f, META_HASH_KEY)) && !EMBER__FUZZING) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s does not match: the settings or "
                       "id lists were changed or corrupted", path, META_HASH_KEY);
        goto done;
    }
    if (two) {
        s = tt_load(&r, f, path, err);
        goto done;
    }
    ember_mf_config cfg;
    int epochs_done = 0;
    if ((s = config_load(&cfg, &epochs_done, ember__st_meta(f, "recommend.config"), path, err)))
        goto done;
    if ((s = ember__optim_validate(&cfg.optimizer, err))) { /* kept in the file: must be valid */
        s = settings_error(s, path, err);
        goto done;
    }
    if (ember__st_count(f) != 5) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %d tensors, expected 5 (mf.user_factors, "
                       "mf.item_factors, mf.user_bias, mf.item_bias, mf.global_mean)", path,
                       ember__st_count(f));
        goto done;
    }
    int64_t shp[EMBER_MAX_DIMS];
    int i0 = -1, i1 = -1;
    for (int t = 0; t < 5; t++) {
        const char *name = ember__st_name(f, t);
        if (!strcmp(name, "mf.user_factors"))
            i0 = t;
        if (!strcmp(name, "mf.item_factors"))
            i1 = t;
    }
    if (i0 < 0 || i1 < 0) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor '%s' is missing", path,
                       i0 < 0 ? "mf.user_factors" : "mf.item_factors");
        goto done;
    }
    ember__st_shape(f, i0, shp);
    int64_t U = shp[0];
    ember__st_shape(f, i1, shp);
    int64_t I = shp[0];
    if ((s = ember__recommender_alloc(&r, &cfg, U, I, err)))
        goto done;
    r->epochs_done = epochs_done;
    const ember_mf_layout *L = &r->L;
    const char *tn[5] = {"mf.user_factors", "mf.item_factors", "mf.user_bias", "mf.item_bias",
                         "mf.global_mean"};
    int nd[5] = {2, 2, 1, 1, 0};
    int64_t d0[5] = {U, I, U, I, 1};
    float *dst[5] = {r->w + L->p, r->w + L->q, r->w + L->bu, r->w + L->bi, &r->mu};
    int64_t cnt[5] = {U * L->D, I * L->D, U, I, 1};
    for (int t = 0; t < 5; t++) {
        int64_t sh[2] = {d0[t], L->D};
        const float *src;
        if ((s = ember__st_get(f, tn[t], nd[t], sh, &src, err)))
            goto done;
        memcpy(dst[t], src, (size_t)cnt[t] * sizeof(float));
    }
    for (int64_t j = 0; j < L->n; j++)
        if (!isfinite(r->w[j])) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: parameter %lld is not finite", path,
                           (long long)j);
            goto done;
        }
    if (!isfinite(r->mu)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: tensor mf.global_mean is not finite", path);
        goto done;
    }
    if ((s = ids_load(&r->users, f, "recommend.users", U, path, err)) ||
        (s = ids_load(&r->items, f, "recommend.items", I, path, err)))
        goto done;
done:
    for (int i = 0; !s && r && i < ember__st_meta_count(f); i++) {
        const char *key = ember__st_meta_key(f, i);
        if (!reserved_key(key) && strcmp(key, EMBER_ST_CHECKSUM_KEY))
            s = ember_recommender_set_metadata(r, key, ember__st_meta(f, key), err);
    }
    free(mk), free(mv);
    ember__st_free(f);
    if (s) {
        ember_recommender_destroy(r);
        return s;
    }
    *out = r;
    return EMBER_OK;
}
