/*
 * rec_file.c - recommender model files in Ember's model-file layout
 * (safetensors: JSON header + raw float32 tensors, src/io/safetensors.h),
 * with the settings and the id maps in the metadata. Tensors and keys are
 * listed in ember.h (ember_recommender_save). The loader is strict, like the
 * Sequential model's: unknown or missing keys, wrong shapes, extra tensors,
 * an id list that does not match the tensor shapes or repeats an id, and a
 * missing or wrong checksum are errors naming the field.
 */
#include "rec_internal.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "ember-recommender"
#define FORMAT_VERSION 1
#define META_HASH_KEY "ember.meta_sha256"

static const char *const known_keys[] = {
    "ember.format", "ember.format_version", "ember.version", "ember.git_commit",
    "recommend.model", "recommend.config", "recommend.users", "recommend.items",
    META_HASH_KEY, EMBER_ST_CHECKSUM_KEY};
#define N_KEYS ((int)(sizeof known_keys / sizeof known_keys[0]))

static char *ids_json(const ember_idmap *m)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t k = 0; a && k < m->n; k++) {
        cJSON *s = cJSON_CreateString(ember__idmap_get(m, k));
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            return NULL;
        }
    }
    char *out = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return out;
}

static char *config_json(const ember_recommender *r)
{
    const ember_mf_config *c = &r->cfg;
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    cJSON *j = cJSON_CreateObject(), *o = cJSON_CreateObject();
    if (!j || !o) {
        cJSON_Delete(j);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "loss", c->loss == EMBER_MF_LOSS_BPR ? "bpr" : "mse");
    cJSON_AddNumberToObject(j, "dim", (double)c->dim);
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "epochs_done", r->epochs_done);
    cJSON_AddNumberToObject(j, "l2", c->l2);
    cJSON_AddNumberToObject(j, "l2_bias", c->l2_bias);
    cJSON_AddNumberToObject(j, "lr_decay", c->lr_decay);
    cJSON_AddNumberToObject(j, "init_std", c->init_std);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddNumberToObject(j, "threads", c->threads);
    cJSON_AddStringToObject(o, "name", c->optimizer.kind == EMBER_OPT_ADAM ? "adam" : "sgd");
    cJSON_AddNumberToObject(o, "learning_rate", c->optimizer.learning_rate);
    cJSON_AddNumberToObject(o, "momentum", c->optimizer.momentum);
    cJSON_AddBoolToObject(o, "nesterov", c->optimizer.nesterov);
    cJSON_AddNumberToObject(o, "beta1", c->optimizer.beta1);
    cJSON_AddNumberToObject(o, "beta2", c->optimizer.beta2);
    cJSON_AddNumberToObject(o, "epsilon", c->optimizer.epsilon);
    cJSON_AddItemToObject(j, "optimizer", o);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

ember_status ember_recommender_save(const ember_recommender *r, const char *path, ember_error *err)
{
    if (!r || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "recommender save: NULL argument");
    const ember_mf_layout *L = &r->L;
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
    int nm = (int)(sizeof keys / sizeof keys[0]);
    if ((s = ember__meta_hash(nm, keys, vals, META_HASH_KEY, mh, err)))
        goto done;
    s = ember__st_write(path, ts, 5, keys, vals, nm, err);
done:
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

static ember_status config_load(ember_mf_config *c, int *epochs_done, const char *json,
                                const char *path, ember_error *err)
{
    static const char *const keys[] = {"version", "loss", "dim", "epochs", "epochs_done", "l2", "l2_bias", "lr_decay",
                                       "init_std", "seed", "threads", "optimizer"};
    static const char *const okeys[] = {"name", "learning_rate", "momentum", "nesterov",
                                        "beta1", "beta2", "epsilon"};
    cJSON *j = cJSON_Parse(json);
    ember_status s = EMBER_OK;
    double v;
    if (!cJSON_IsObject(j)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config is not a JSON object",
                       path);
        goto done;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        int ok = 0;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            ok |= !strcmp(e->string, keys[k]);
        if (!ok) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: unknown key "
                           "'%.40s'", path, e->string);
            goto done;
        }
    }
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
    if ((s = cfg_num(j, "threads", 1, 256, &v, path, err)))
        goto done;
    c->threads = (int)v;
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(j, "seed");
    char *end = NULL;
    if (!cJSON_IsString(sd) || !sd->valuestring[0] ||
        (c->seed = strtoull(sd->valuestring, &end, 10), *end)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: seed is not a "
                       "decimal string", path);
        goto done;
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "optimizer");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsObject(o) || !cJSON_IsString(nm) ||
        (strcmp(nm->valuestring, "sgd") && strcmp(nm->valuestring, "adam"))) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: optimizer.name "
                       "must be \"sgd\" or \"adam\"", path);
        goto done;
    }
    cJSON_ArrayForEach(e, o) {
        int ok = 0;
        for (size_t k = 0; k < sizeof okeys / sizeof okeys[0]; k++)
            ok |= !strcmp(e->string, okeys[k]);
        if (!ok) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: unknown key "
                           "'optimizer.%.40s'", path, e->string);
            goto done;
        }
    }
    c->optimizer.kind = strcmp(nm->valuestring, "adam") ? EMBER_OPT_SGD : EMBER_OPT_ADAM;
    float *fields[] = {&c->optimizer.learning_rate, &c->optimizer.momentum, &c->optimizer.beta1,
                       &c->optimizer.beta2, &c->optimizer.epsilon};
    const char *fnames[] = {"learning_rate", "momentum", "beta1", "beta2", "epsilon"};
    for (int k = 0; k < 5; k++) {
        if ((s = cfg_num(o, fnames[k], 0, 1e30, &v, path, err)))
            goto done;
        *fields[k] = (float)v;
    }
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(o, "nesterov");
    if (!cJSON_IsBool(nv)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata recommend.config: optimizer.nesterov "
                       "is not true or false", path);
        goto done;
    }
    c->optimizer.nesterov = cJSON_IsTrue(nv);
done:
    cJSON_Delete(j);
    return s;
}

ember_status ember_recommender_load(ember_recommender **out, const char *path, ember_error *err)
{
    if (!out || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "recommender load: NULL argument");
    *out = NULL;
    ember_st_file *f = NULL;
    ember_recommender *r = NULL;
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
    int nm = ember__st_meta_count(f);
    const char *k[N_KEYS], *v[N_KEYS];
    for (int i = 0; i < nm; i++) {
        const char *key = ember__st_meta_key(f, i);
        int ok = 0;
        for (int j = 0; j < N_KEYS; j++)
            ok |= !strcmp(key, known_keys[j]);
        if (!ok) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: unknown metadata key '%.60s'", path, key);
            goto done;
        }
    }
    for (int j = 0; j < N_KEYS; j++) {
        k[j] = known_keys[j];
        v[j] = ember__st_meta(f, known_keys[j]);
        if (!v[j]) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s is missing", path, k[j]);
            goto done;
        }
    }
    char want[EMBER_SHA256_HEX_LEN + 1];
    if ((s = ember__meta_hash(N_KEYS, k, v, META_HASH_KEY, want, err)))
        goto done;
    if (strcmp(want, ember__st_meta(f, META_HASH_KEY)) && !EMBER__FUZZING) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata %s does not match: the settings or "
                       "id lists were changed or corrupted", path, META_HASH_KEY);
        goto done;
    }
    if (strcmp(ember__st_meta(f, "recommend.model"), "mf")) {
        s = EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "%s: metadata recommend.model '%.40s': this "
                       "Ember knows \"mf\"", path, ember__st_meta(f, "recommend.model"));
        goto done;
    }
    ember_mf_config cfg;
    int epochs_done = 0;
    if ((s = config_load(&cfg, &epochs_done, ember__st_meta(f, "recommend.config"), path, err)))
        goto done;
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
    ember__st_free(f);
    if (s) {
        ember_recommender_destroy(r);
        return s;
    }
    *out = r;
    return EMBER_OK;
}
