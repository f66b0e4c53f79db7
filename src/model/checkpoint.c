/*
 * checkpoint.c - training checkpoints: write the whole mutable training state
 * to a folder, keep the newest K, and resume from the newest that verifies.
 *
 * A checkpoint is a safetensors file (src/io/safetensors.c writes it
 * atomically: temporary file, fsync, rename, fsync of the folder), so
 * Python's safetensors package reads it:
 *   tensors   "layers.<i>.<kernel|bias|embeddings|...>" as in model files;
 *             "optimizer.m" [n_params] (SGD velocity or Adam's first
 *             moment) and "optimizer.v" [n_params] (Adam's second moment)
 *             when the optimizer has them, in the parameter block's layout
 *             (the layer tensors above, concatenated in file order);
 *   metadata  ember.format "ember-checkpoint", ember.format_version "1",
 *             ember.version, ember.git_commit,
 *             ckpt.epochs_done (the model's), ckpt.epoch (epochs finished in
 *             this fit call), ckpt.step (steps finished in the next epoch),
 *             ckpt.optimizer_t, ckpt.loss_sum (%.17g, exact), ckpt.correct,
 *             ckpt.seen, ckpt.skipped (the current epoch's running sums),
 *             ckpt.history (this fit's epochs, one line each of
 *             EMBER_H_COUNT values, %.17g),
 *             fingerprint.<field> (what a resume must match),
 *             ember.sha256 (tensor bytes, added by the writer) and
 *             ember.meta_sha256 (every other metadata pair), so any flipped
 *             byte or a truncated file is detected.
 * Randomness needs no state of its own: shuffling, dropout and augmentation
 * are counter-based streams keyed by (seed, epoch, step / example), so the
 * position (epochs_done, step) is the RNG state.
 *
 * What it deliberately doesn't save: gradients (zero between steps), the
 * arena (per-step scratch), the Embedding layer's touched-row stamps and the
 * model's bag-compaction stamps (they only de-duplicate rows within one
 * batch or bag; any stamp history gives the same lists, in first-appearance
 * order), BatchNormalization's last batch statistics (per step).
 */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_NAME "ember-checkpoint"
#define FORMAT_VERSION 1
#define META_HASH_KEY "ember.meta_sha256"
#define FP_PREFIX "fingerprint."
/* "ckpt-" 8 epoch digits "-" 12 step digits ".safetensors" */
#define NAME_PREFIX "ckpt-"
#define NAME_SUFFIX ".safetensors"
#define EPOCH_DIGITS 8
#define STEP_DIGITS 12
#define NAME_LEN (5 + EPOCH_DIGITS + 1 + STEP_DIGITS + 12)
#define TMP_MARK ".tmp."
#define CORRUPT_SUFFIX ".corrupt"
#define SHOWN_VALUE_MAX 60 /* characters of a fingerprint value shown in a message */
/* Fixed metadata entries of a checkpoint (format ... history), before the
 * fingerprint and the metadata hash. */
#define FIXED_META 13

struct ember_ckpt {
    char *dir;
    int keep;
    int n_fp;
    char **fp_keys; /* "fingerprint.<name>" */
    char **fp_vals;
};

static int all_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* A checkpoint's file name (not a temporary or .corrupt one). */
static int is_ckpt_name(const char *n)
{
    return strlen(n) == NAME_LEN && !strncmp(n, NAME_PREFIX, 5) && all_digits(n + 5, EPOCH_DIGITS) &&
           n[5 + EPOCH_DIGITS] == '-' && all_digits(n + 6 + EPOCH_DIGITS, STEP_DIGITS) &&
           !strcmp(n + 6 + EPOCH_DIGITS + STEP_DIGITS, NAME_SUFFIX);
}

/* The writer's temporary file for a checkpoint: "<ckpt name>.tmp.<pid>". */
static int is_tmp_name(const char *n)
{
    char head[NAME_LEN + 1];
    size_t len = strlen(n), mark = strlen(TMP_MARK);
    if (len <= NAME_LEN + mark || strncmp(n + NAME_LEN, TMP_MARK, mark) != 0)
        return 0;
    memcpy(head, n, NAME_LEN);
    head[NAME_LEN] = '\0';
    return is_ckpt_name(head) && all_digits(n + NAME_LEN + mark, (int)(len - NAME_LEN - mark));
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Names in dir for which keep(name) holds, sorted ascending (= oldest first). */
static ember_status list_dir(const char *dir, int (*keep)(const char *), char ***out, int *n_out,
                             ember_error *err)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot list the checkpoint folder: %s", dir,
                          strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0;
    ember_status s = EMBER_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot list the checkpoint folder: %s",
                               dir, strerror(errno));
            break;
        }
        if (!keep(e->d_name))
            continue;
        if (n == cap) {
            int nc = cap ? 2 * cap : 16;
            char **nv = realloc(v, (size_t)nc * sizeof *nv);
            if (!nv) {
                s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[n] = strdup(e->d_name))) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (s) {
        free_names(v, n);
        return s;
    }
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, cmp_name);
    *out = v;
    *n_out = n;
    return EMBER_OK;
}

/* "<dir>/<name>" (caller frees); NULL when out of memory. */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* mkdir -p */
static ember_status make_dirs(const char *dir, ember_error *err)
{
    char *p = strdup(dir);
    if (!p)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    ember_status s = EMBER_OK;
    for (char *c = p + 1;; c++) {
        int end = *c == '\0';
        if (*c != '/' && !end)
            continue;
        *c = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot create the checkpoint folder %s: %s",
                           dir, p, strerror(errno));
            break;
        }
        if (end)
            break;
        *c = '/';
    }
    struct stat st;
    if (!s && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: the checkpoint folder is not a folder", dir);
    free(p);
    return s;
}

ember_status ember__ckpt_open(ember_ckpt **out, const char *dir, int keep, ember_error *err)
{
    if (!out || !dir || !*dir || keep < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "checkpoints: need a folder and keep >= 1");
    *out = NULL;
    ember_status s = make_dirs(dir, err);
    if (s)
        return s;
    ember_ckpt *ck = calloc(1, sizeof *ck);
    if (!ck || !(ck->dir = strdup(dir))) {
        free(ck);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    /* strip trailing slashes so messages read "dir/ckpt-..." */
    for (size_t n = strlen(ck->dir); n > 1 && ck->dir[n - 1] == '/'; n--)
        ck->dir[n - 1] = '\0';
    ck->keep = keep;
    /* A save interrupted by a crash leaves its temporary file behind. */
    char **tmp = NULL;
    int nt = 0;
    if ((s = list_dir(ck->dir, is_tmp_name, &tmp, &nt, err))) {
        ember__ckpt_close(ck);
        return s;
    }
    for (int i = 0; i < nt; i++) {
        char *p = join(ck->dir, tmp[i]);
        if (p)
            unlink(p); /* best effort: a leftover only costs disk space */
        free(p);
    }
    free_names(tmp, nt);
    *out = ck;
    return EMBER_OK;
}

void ember__ckpt_close(ember_ckpt *ck)
{
    if (!ck)
        return;
    for (int i = 0; i < ck->n_fp; i++) {
        free(ck->fp_keys[i]);
        free(ck->fp_vals[i]);
    }
    free(ck->fp_keys);
    free(ck->fp_vals);
    free(ck->dir);
    free(ck);
}

ember_status ember__ckpt_fingerprint(ember_ckpt *ck, const char *name, const char *value,
                                     ember_error *err)
{
    char **k = realloc(ck->fp_keys, (size_t)(ck->n_fp + 1) * sizeof *k);
    if (k)
        ck->fp_keys = k;
    char **v = realloc(ck->fp_vals, (size_t)(ck->n_fp + 1) * sizeof *v);
    if (v)
        ck->fp_vals = v;
    size_t len = strlen(FP_PREFIX) + strlen(name) + 1;
    char *key = k && v ? malloc(len) : NULL;
    char *val = key ? strdup(value) : NULL;
    if (!val) {
        free(key);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    }
    snprintf(key, len, "%s%s", FP_PREFIX, name);
    ck->fp_keys[ck->n_fp] = key;
    ck->fp_vals[ck->n_fp++] = val;
    return EMBER_OK;
}

/* SHA-256 of dense inputs (shape and values) or token ids (offsets and ids),
 * targets (shape and values) and weights [n], whichever are given. */
static ember_status hash_data(const ember_tensor *x, const ember_ragged *ids,
                              const ember_tensor *y, const float *w, int64_t n,
                              char out[EMBER_SHA256_HEX_LEN + 1], ember_error *err)
{
    ember_sha256 h;
    ember_status s = ember__sha256_init(&h, err);
    if (!s && x)
        s = ember__sha256_update(&h, x->shape, sizeof x->shape, err);
    if (!s && x)
        s = ember__sha256_update(&h, x->data, (size_t)ember_tensor_numel(x) * sizeof(float), err);
    if (!s && ids)
        s = ember__sha256_update(&h, ids->offsets, (size_t)(ids->n + 1) * sizeof(int64_t), err);
    if (!s && ids)
        s = ember__sha256_update(&h, ids->ids, (size_t)ids->offsets[ids->n] * sizeof(int32_t),
                                 err);
    if (!s && y)
        s = ember__sha256_update(&h, y->shape, sizeof y->shape, err);
    if (!s && y)
        s = ember__sha256_update(&h, y->data, (size_t)ember_tensor_numel(y) * sizeof(float), err);
    if (!s && w)
        s = ember__sha256_update(&h, w, (size_t)n * sizeof(float), err);
    if (!s)
        return ember__sha256_final(&h, out, err);
    ember__sha256_deinit(&h);
    return s;
}

ember_status ember__ckpt_fingerprint_fit(ember_ckpt *ck, const ember_model *m,
                                         const ember_fit_config *cfg, const ember_tensor *x,
                                         const ember_ragged *ids, const ember_tensor *y,
                                         ember_error *err)
{
    int64_t n = x ? x->shape[0] : ids->n;
    char *arch = ember__model_architecture_json(m), *comp = ember__model_compile_json(m);
    char num[9][32], hx[EMBER_SHA256_HEX_LEN + 1], hy[EMBER_SHA256_HEX_LEN + 1];
    char hw[EMBER_SHA256_HEX_LEN + 1] = "none", hv[EMBER_SHA256_HEX_LEN + 1] = "none";
    ember_status s = EMBER_OK;
    if (!arch || !comp)
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    if (!s)
        s = hash_data(x, ids, NULL, NULL, 0, hx, err);
    if (!s)
        s = hash_data(NULL, NULL, y, NULL, 0, hy, err);
    if (!s && cfg->sample_weight)
        s = hash_data(NULL, NULL, NULL, cfg->sample_weight, n, hw, err);
    if (!s && (cfg->x_val || cfg->x_val_ids))
        s = hash_data(cfg->x_val, cfg->x_val_ids, cfg->y_val, NULL, 0, hv, err);
    snprintf(num[0], sizeof num[0], "%" PRIu64, m->seed);
    snprintf(num[1], sizeof num[1], "%d", m->threads);
    snprintf(num[2], sizeof num[2], "%lld", (long long)cfg->batch_size);
    snprintf(num[3], sizeof num[3], "%d", cfg->epochs);
    snprintf(num[4], sizeof num[4], "%d", cfg->shuffle != 0);
    snprintf(num[5], sizeof num[5], "%d", cfg->augment_flip != 0);
    snprintf(num[6], sizeof num[6], "%lld", (long long)cfg->augment_crop_pad);
    snprintf(num[7], sizeof num[7], "%lld", (long long)m->epochs_done);
    snprintf(num[8], sizeof num[8], "%lld", (long long)n);
    const char *fields[][2] = {{"architecture", arch}, {"compile", comp}, {"seed", num[0]},
                               {"threads", num[1]}, {"batch_size", num[2]}, {"epochs", num[3]},
                               {"shuffle", num[4]}, {"augment_flip", num[5]},
                               {"augment_crop_pad", num[6]}, {"start_epoch", num[7]},
                               {"examples", num[8]}, {"x_sha256", hx}, {"y_sha256", hy},
                               {"sample_weight_sha256", hw}, {"validation_sha256", hv}};
    for (size_t i = 0; !s && i < sizeof fields / sizeof fields[0]; i++)
        s = ember__ckpt_fingerprint(ck, fields[i][0], fields[i][1], err);
    free(arch);
    free(comp);
    return s;
}

int ember__ckpt_count(const ember_ckpt *ck, ember_error *err)
{
    char **v;
    int n;
    if (list_dir(ck->dir, is_ckpt_name, &v, &n, err))
        return -1;
    free_names(v, n);
    return n;
}

/* ------------------------------------------------------------------ save */

/* The history rows as text: one line per epoch, values separated by spaces. */
static char *history_text(const ember_history *h)
{
    int rows = h ? h->epochs : 0;
    size_t cap = (size_t)rows * EMBER_H_COUNT * 26 + 1, k = 0;
    char *t = malloc(cap);
    if (!t)
        return NULL;
    t[0] = '\0';
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < EMBER_H_COUNT; c++)
            k += (size_t)snprintf(t + k, cap - k, "%.17g%c", h->values[r * EMBER_H_COUNT + c],
                                  c + 1 < EMBER_H_COUNT ? ' ' : '\n');
    return t;
}

/* Delete all but the newest ck->keep checkpoints named <= `newest`. Files
 * named after it (left by a corrupt state a resume skipped) are not counted
 * or touched. Deletion failures are ignored on purpose: the new checkpoint is
 * already durable, and a file left over costs only disk space (the next
 * rotation tries again). */
static void prune(const ember_ckpt *ck, const char *newest, const ember_st_hook *hook)
{
    char **v;
    int n;
    if (list_dir(ck->dir, is_ckpt_name, &v, &n, NULL))
        return;
    int upto = 0;
    while (upto < n && strcmp(v[upto], newest) <= 0)
        upto++;
    for (int i = 0; i + ck->keep < upto; i++) {
        char *p = join(ck->dir, v[i]);
        if (p && unlink(p) == 0 && hook && hook->at)
            hook->at(EMBER_CKPT_STAGE_PRUNED, hook->user);
        free(p);
    }
    free_names(v, n);
}

ember_status ember__ckpt_save(ember_ckpt *ck, const ember_model *m, const ember_ckpt_pos *pos,
                              const ember_history *hist, const ember_st_hook *hook,
                              char *path_out, size_t path_cap, ember_error *err)
{
    char name[NAME_LEN + 1];
    if (m->epochs_done < 0 || m->epochs_done > 99999999 || pos->step < 0 ||
        pos->step > 999999999999LL)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "checkpoint position out of range");
    snprintf(name, sizeof name, NAME_PREFIX "%0*lld-%0*lld" NAME_SUFFIX, EPOCH_DIGITS,
             (long long)m->epochs_done, STEP_DIGITS, (long long)pos->step);
    int np = ember__model_param_tensors(m, NULL, NULL);
    int nt = np + (m->optim.m != NULL) + (m->optim.v != NULL);
    int nm = FIXED_META + ck->n_fp + 1;
    ember_st_tensor *ts = calloc((size_t)nt + 1, sizeof *ts);
    char (*names)[EMBER_TENSOR_NAME_MAX] = calloc((size_t)np + 1, sizeof *names);
    const char **keys = calloc((size_t)nm, sizeof *keys), **vals = calloc((size_t)nm, sizeof *vals);
    char *path = join(ck->dir, name), *htext = history_text(hist);
    ember_status s = EMBER_OK;
    if (!ts || !names || !keys || !vals || !path || !htext) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s/%s: out of memory", ck->dir, name);
        goto done;
    }
    ember__model_param_tensors(m, ts, names);
    int t = np;
    if (m->optim.m)
        ts[t++] = (ember_st_tensor){"optimizer.m", 1, {m->n_params, 1, 1, 1}, m->optim.m};
    if (m->optim.v)
        ts[t++] = (ember_st_tensor){"optimizer.v", 1, {m->n_params, 1, 1, 1}, m->optim.v};
    char version[16], epochs_done[24], epoch[24], step[24], opt_t[24], loss[32], correct[24],
        seen[24], skipped[24];
    snprintf(version, sizeof version, "%d", FORMAT_VERSION);
    snprintf(epochs_done, sizeof epochs_done, "%lld", (long long)m->epochs_done);
    snprintf(epoch, sizeof epoch, "%d", pos->epoch);
    snprintf(step, sizeof step, "%lld", (long long)pos->step);
    snprintf(opt_t, sizeof opt_t, "%lld", (long long)m->optim.t);
    snprintf(loss, sizeof loss, "%.17g", pos->loss_sum);
    snprintf(correct, sizeof correct, "%lld", (long long)pos->correct);
    snprintf(seen, sizeof seen, "%lld", (long long)pos->seen);
    snprintf(skipped, sizeof skipped, "%lld", (long long)pos->skipped);
    const char *fk[FIXED_META] = {"ember.format", "ember.format_version", "ember.version",
                                  "ember.git_commit", "ckpt.epochs_done", "ckpt.epoch",
                                  "ckpt.step", "ckpt.optimizer_t", "ckpt.loss_sum",
                                  "ckpt.correct", "ckpt.seen", "ckpt.skipped", "ckpt.history"};
    const char *fv[FIXED_META] = {FORMAT_NAME, version, ember_version(), ember_git_commit(),
                                  epochs_done, epoch, step, opt_t, loss, correct, seen, skipped,
                                  htext};
    for (int i = 0; i < FIXED_META; i++) {
        keys[i] = fk[i];
        vals[i] = fv[i];
    }
    for (int i = 0; i < ck->n_fp; i++) {
        keys[FIXED_META + i] = ck->fp_keys[i];
        vals[FIXED_META + i] = ck->fp_vals[i];
    }
    char mh[EMBER_SHA256_HEX_LEN + 1] = "";
    keys[nm - 1] = META_HASH_KEY;
    vals[nm - 1] = mh;
    if ((s = ember__meta_hash(nm, keys, vals, META_HASH_KEY, mh, err)) ||
        (s = ember__st_write_hooked(path, ts, nt, keys, vals, nm, hook, err)))
        goto done;
    if (path_out && path_cap)
        snprintf(path_out, path_cap, "%s", path);
    prune(ck, name, hook);
done:
    free(ts);
    free(names);
    free(keys);
    free(vals);
    free(path);
    free(htext);
    return s;
}

/* ---------------------------------------------------------------- resume */

/* Everything read from one checkpoint before the model is touched. */
typedef struct loaded {
    int64_t epochs_done, opt_t;
    ember_ckpt_pos pos;
    double *hist; /* [pos.epoch][EMBER_H_COUNT] */
} loaded;

static ember_status meta_i64(const ember_st_file *f, const char *key, int64_t lo, int64_t hi,
                             int64_t *out, const char *path, ember_error *err)
{
    const char *v = ember__st_meta(f, key);
    if (!v)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata \"%s\" is missing", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata \"%s\" = \"%.40s\" is not an "
                          "integer in [%lld, %lld]", path, key, v, (long long)lo, (long long)hi);
    *out = x;
    return EMBER_OK;
}

/* Check the file's integrity and format (a failure here means "corrupt or
 * not a checkpoint": the caller skips the file) and read its scalars. */
static ember_status verify(const ember_st_file *f, const char *path, loaded *ld, ember_error *err)
{
    const char *fmt = ember__st_meta(f, "ember.format");
    if (!fmt || strcmp(fmt, FORMAT_NAME) != 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: not an Ember checkpoint (metadata "
                          "ember.format is %s)", path, fmt ? fmt : "missing");
    if (!ember__st_has_checksum(f))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: the tensor checksum ember.sha256 is missing",
                          path);
    int n = ember__st_meta_count(f);
    const char **k = malloc((size_t)(n ? n : 1) * sizeof *k);
    const char **v = malloc((size_t)(n ? n : 1) * sizeof *v);
    char want[EMBER_SHA256_HEX_LEN + 1];
    ember_status s = EMBER_OK;
    if (!k || !v)
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; !s && i < n; i++) {
        k[i] = ember__st_meta_key(f, i);
        v[i] = ember__st_meta(f, k[i]);
    }
    if (!s)
        s = ember__meta_hash(n, k, v, META_HASH_KEY, want, err);
    free(k);
    free(v);
    if (s)
        return s;
    const char *got = ember__st_meta(f, META_HASH_KEY);
    if (!got || strcmp(got, want) != 0)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata checksum %s %s", path,
                          META_HASH_KEY, got ? "does not match" : "is missing");
    int64_t version, epoch;
    if ((s = meta_i64(f, "ember.format_version", 0, 1000000, &version, path, err)))
        return s;
    if (version != FORMAT_VERSION)
        return EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "%s: checkpoint format version %lld; this "
                          "Ember (%s) reads version %d", path, (long long)version, ember_version(),
                          FORMAT_VERSION);
    if ((s = meta_i64(f, "ckpt.epochs_done", 0, 99999999, &ld->epochs_done, path, err)) ||
        (s = meta_i64(f, "ckpt.epoch", 0, 1000000000, &epoch, path, err)) ||
        (s = meta_i64(f, "ckpt.step", 0, INT64_MAX, &ld->pos.step, path, err)) ||
        (s = meta_i64(f, "ckpt.optimizer_t", 0, INT64_MAX, &ld->opt_t, path, err)) ||
        (s = meta_i64(f, "ckpt.correct", 0, INT64_MAX, &ld->pos.correct, path, err)) ||
        (s = meta_i64(f, "ckpt.seen", 0, INT64_MAX, &ld->pos.seen, path, err)) ||
        (s = meta_i64(f, "ckpt.skipped", 0, INT64_MAX, &ld->pos.skipped, path, err)))
        return s;
    ld->pos.epoch = (int)epoch;
    const char *ls = ember__st_meta(f, "ckpt.loss_sum");
    char *end;
    if (!ls || !*ls || (ld->pos.loss_sum = strtod(ls, &end), *end))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata \"ckpt.loss_sum\" is missing or "
                          "not a number", path);
    const char *ht = ember__st_meta(f, "ckpt.history");
    if (!ht)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata \"ckpt.history\" is missing", path);
    size_t cells = (size_t)ld->pos.epoch * EMBER_H_COUNT;
    if (!(ld->hist = malloc((cells ? cells : 1) * sizeof *ld->hist)))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
    const char *p = ht;
    for (size_t i = 0; i < cells; i++) {
        ld->hist[i] = strtod(p, &end);
        char want_sep = (i + 1) % EMBER_H_COUNT ? ' ' : '\n';
        if (end == p || *end != want_sep)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata \"ckpt.history\" does not "
                              "hold %d epochs of %d values", path, ld->pos.epoch, EMBER_H_COUNT);
        p = end + 1;
    }
    if (*p)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata \"ckpt.history\" holds more than "
                          "%d epochs", path, ld->pos.epoch);
    return EMBER_OK;
}

/* Compare the file's fingerprint with this run's; the first difference is
 * EMBER_ERR_STATE naming the field and both values. */
static ember_status check_fingerprint(const ember_ckpt *ck, const ember_st_file *f,
                                      const char *path, ember_error *err)
{
    size_t pl = strlen(FP_PREFIX);
    for (int i = 0; i < ck->n_fp; i++) {
        const char *field = ck->fp_keys[i] + pl, *mine = ck->fp_vals[i];
        const char *theirs = ember__st_meta(f, ck->fp_keys[i]);
        if (theirs && !strcmp(theirs, mine))
            continue;
        const char *hint = "resume needs the same model, data and settings as the interrupted "
                           "run; to start over, use an empty folder";
        if (!strcmp(field, "threads"))
            hint = "results are bit-identical only with the same thread count; pass the "
                   "checkpoint's thread count";
        if (!theirs)
            return EMBER_FAIL(err, EMBER_ERR_STATE, "%s: the checkpoint has no fingerprint "
                              "field '%s' (written by another version?)", path, field);
        return EMBER_FAIL(err, EMBER_ERR_STATE, "%s: fingerprint field '%s' differs: the "
                          "checkpoint has \"%.*s%s\", this run \"%.*s%s\"; %s", path, field,
                          SHOWN_VALUE_MAX, theirs, strlen(theirs) > SHOWN_VALUE_MAX ? "..." : "",
                          SHOWN_VALUE_MAX, mine, strlen(mine) > SHOWN_VALUE_MAX ? "..." : "",
                          hint);
    }
    for (int i = 0; i < ember__st_meta_count(f); i++) {
        const char *k = ember__st_meta_key(f, i);
        if (strncmp(k, FP_PREFIX, pl) != 0)
            continue;
        int known = 0;
        for (int j = 0; j < ck->n_fp && !known; j++)
            known = !strcmp(k, ck->fp_keys[j]);
        if (!known)
            return EMBER_FAIL(err, EMBER_ERR_STATE, "%s: the checkpoint has fingerprint field "
                              "'%s', which this run does not know (written by another version?)",
                              path, k + pl);
    }
    return EMBER_OK;
}

/* Copy the checkpoint into the model, after checking every tensor against
 * it (nothing is changed when a check fails). */
static ember_status restore(ember_model *m, const ember_st_file *f, const loaded *ld,
                            ember_history *hist, const char *path, ember_error *err)
{
    int np = ember__model_param_tensors(m, NULL, NULL);
    int nt = np + (m->optim.m != NULL) + (m->optim.v != NULL);
    ember_st_tensor *ts = calloc((size_t)nt + 1, sizeof *ts);
    char (*names)[EMBER_TENSOR_NAME_MAX] = calloc((size_t)np + 1, sizeof *names);
    const float **src = calloc((size_t)nt + 1, sizeof *src);
    ember_status s = EMBER_OK;
    size_t cells = (size_t)ld->pos.epoch * EMBER_H_COUNT;
    double *hv = NULL;
    if (!ts || !names || !src || (cells && !(hv = malloc(cells * sizeof *hv)))) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    ember__model_param_tensors(m, ts, names);
    int t = np;
    if (m->optim.m)
        ts[t++] = (ember_st_tensor){"optimizer.m", 1, {m->n_params, 1, 1, 1}, m->optim.m};
    if (m->optim.v)
        ts[t++] = (ember_st_tensor){"optimizer.v", 1, {m->n_params, 1, 1, 1}, m->optim.v};
    for (int i = 0; i < nt; i++)
        if ((s = ember__st_get(f, ts[i].name, ts[i].ndim, ts[i].shape, &src[i], err)))
            goto done;
    if (ember__st_count(f) != nt) {
        s = EMBER_FAIL(err, EMBER_ERR_STATE, "%s: holds %d tensors, this model and optimizer "
                       "have %d", path, ember__st_count(f), nt);
        goto done;
    }
    for (int i = 0; i < nt; i++) {
        int64_t count = 1;
        for (int d = 0; d < ts[i].ndim; d++)
            count *= ts[i].shape[d];
        memcpy((float *)ts[i].data, src[i], (size_t)count * sizeof(float));
    }
    m->optim.t = ld->opt_t;
    m->epochs_done = ld->epochs_done;
    if (hist) {
        if (cells)
            memcpy(hv, ld->hist, cells * sizeof *hv);
        free(hist->values);
        hist->values = hv;
        hist->epochs = hist->cap = ld->pos.epoch;
        hv = NULL;
    }
done:
    free(hv);
    free(ts);
    free(names);
    free(src);
    return s;
}

ember_status ember__ckpt_resume(ember_ckpt *ck, ember_model *m, ember_ckpt_pos *pos,
                                ember_history *hist, int *found, ember_ckpt_warn_fn warn,
                                void *warn_user, char *path_out, size_t path_cap,
                                ember_error *err)
{
    *found = 0;
    char **v;
    int n;
    ember_status s = list_dir(ck->dir, is_ckpt_name, &v, &n, err);
    if (s)
        return s;
    for (int i = n - 1; i >= 0 && !*found; i--) {
        char *path = join(ck->dir, v[i]);
        if (!path) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
            break;
        }
        ember_st_file *f = NULL;
        loaded ld;
        memset(&ld, 0, sizeof ld);
        ember_error why;
        ember_status r = ember__st_read(&f, path, &why);
        if (!r)
            r = verify(f, path, &ld, &why);
        if (r == EMBER_ERR_NOMEM || r == EMBER_ERR_UNSUPPORTED) {
            /* not a sign of a torn file: report, do not skip */
            if (err)
                *err = why;
            s = r;
        } else if (r) {
            /* corrupt or partial: warn, move it aside, try the one before */
            size_t cl = strlen(path) + sizeof CORRUPT_SUFFIX;
            char *moved = malloc(cl);
            int renamed = 0;
            if (moved) {
                snprintf(moved, cl, "%s%s", path, CORRUPT_SUFFIX);
                renamed = rename(path, moved) == 0;
            }
            if (warn) {
                char msg[EMBER_ERROR_MESSAGE_MAX + 256];
                snprintf(msg, sizeof msg, "checkpoint %s is corrupt or incomplete and was "
                         "skipped%s%s; %s. Reason: %s", path, renamed ? ", kept as " : "",
                         renamed ? moved : "", i > 0 ? "trying the one before it"
                                                     : "no older checkpoint is left",
                         why.message);
                warn(msg, warn_user);
            }
            free(moved);
        } else if (!(s = check_fingerprint(ck, f, path, err))) {
            int64_t start;
            const char *sv = NULL;
            for (int j = 0; j < ck->n_fp; j++)
                if (!strcmp(ck->fp_keys[j], FP_PREFIX "start_epoch"))
                    sv = ck->fp_vals[j];
            start = sv ? strtoll(sv, NULL, 10) : ld.epochs_done - ld.pos.epoch;
            if (ld.epochs_done != start + ld.pos.epoch)
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: ckpt.epochs_done %lld is not the "
                               "start epoch %lld plus ckpt.epoch %d", path,
                               (long long)ld.epochs_done, (long long)start, ld.pos.epoch);
            if (!s && !(s = restore(m, f, &ld, hist, path, err))) {
                *pos = ld.pos;
                *found = 1;
                if (path_out && path_cap)
                    snprintf(path_out, path_cap, "%s", path);
            }
        }
        free(ld.hist);
        ember__st_free(f);
        free(path);
        if (s)
            break;
    }
    free_names(v, n);
    return s;
}
