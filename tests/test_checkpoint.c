/*
 * test_checkpoint.c - training checkpoints, deterministic resume and the
 * NaN guards of fit:
 *  - resume after a crash at several steps (a forked child _exit()s from the
 *    progress callback) gives weights and history bit-identical to the
 *    uninterrupted run, for an MLP with dropout and sample weights, a text
 *    model (lazy Adam on embedding rows) and a CNN with BatchNormalization,
 *    momentum SGD and augmentation; writing checkpoints changes nothing;
 *  - the fingerprint: another batch size, seed, thread count, architecture or
 *    data is refused naming the field; a used folder without resume too;
 *  - keep-K rotation; a corrupt or truncated newest checkpoint is skipped with
 *    a warning naming it and the previous one is used; all corrupt starts over;
 *  - write failures (a folder in the way, a file-size limit: EFBIG) are
 *    reported and leave the older checkpoints loadable;
 *  - 200 crashes injected at every stage of a save (after the header, after
 *    writing, after fsync, after rename, before and after the folder fsync,
 *    during pruning; a lost rename too): the folder always resumes to the old
 *    or the new state, never a torn one, and never warns;
 *  - on_nan: stop names epoch, step and cause; skip-batch leaves weights,
 *    optimizer state and BatchNormalization statistics as if the batch had
 *    not been in the data (bit-identical to that run), counts it, and stops
 *    past 10 % of an epoch's batches.
 * Forked children train with one thread (libgomp is not fork-safe with a
 * pool); the crash_resume script covers two threads with real processes.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "model/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CRASH_TRIALS 200
#define MAX_EVENTS 64

/* ------------------------------------------------------------ fixtures */

static uint64_t lcg_state;
static double urand(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) / 9007199254740992.0;
}

typedef enum { KIND_MLP, KIND_TEXT, KIND_CNN } kind;
static const char *const kind_name[] = {"mlp", "text", "cnn"};

typedef struct dataset {
    ember_tensor *x, *y, *xv, *yv;
    ember_ragged *ids;
    float *w;
    int64_t n;
} dataset;

static ember_ragged *make_ids(int64_t n, int V)
{
    ember_ragged *r = calloc(1, sizeof *r);
    r->n = n;
    r->offsets = malloc((size_t)(n + 1) * sizeof *r->offsets);
    r->ids = malloc((size_t)n * 8 * sizeof *r->ids);
    r->offsets[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        int len = 1 + (int)(urand() * 8);
        for (int t = 0; t < len; t++)
            r->ids[r->offsets[i] + t] = (int32_t)(urand() * V);
        r->offsets[i + 1] = r->offsets[i] + len;
    }
    return r;
}

static void make_data(kind k, dataset *d)
{
    ember_error err;
    memset(d, 0, sizeof *d);
    lcg_state = 12345 + (uint64_t)k;
    int64_t n = k == KIND_MLP ? 96 : k == KIND_TEXT ? 80 : 48;
    d->n = n;
    int64_t ys[1] = {n};
    ember_tensor_create(&d->y, 1, ys, &err);
    for (int64_t i = 0; i < n; i++)
        d->y->data[i] = (float)(int)(urand() * 3);
    if (k == KIND_TEXT) {
        d->ids = make_ids(n, 50);
        return;
    }
    int64_t xs[4] = {n, 8, 1, 1}, is[4] = {n, 6, 6, 1};
    ember_tensor_create(&d->x, k == KIND_MLP ? 2 : 4, k == KIND_MLP ? xs : is, &err);
    for (int64_t i = 0; i < ember_tensor_numel(d->x); i++)
        d->x->data[i] = (float)(urand() * 2 - 1);
    if (k == KIND_MLP) {
        d->w = malloc((size_t)n * sizeof *d->w);
        for (int64_t i = 0; i < n; i++)
            d->w[i] = (float)(0.5 + urand());
        int64_t vs[2] = {20, 8}, vys[1] = {20};
        ember_tensor_create(&d->xv, 2, vs, &err);
        ember_tensor_create(&d->yv, 1, vys, &err);
        for (int64_t i = 0; i < 160; i++)
            d->xv->data[i] = (float)(urand() * 2 - 1);
        for (int64_t i = 0; i < 20; i++)
            d->yv->data[i] = (float)(int)(urand() * 3);
    }
}

static void free_data(dataset *d)
{
    ember_tensor_destroy(d->x);
    ember_tensor_destroy(d->y);
    ember_tensor_destroy(d->xv);
    ember_tensor_destroy(d->yv);
    ember_ragged_destroy(d->ids);
    free(d->w);
}

/* hidden: units of the MLP's hidden layer (another value = another architecture) */
static ember_model *make_model(kind k, uint64_t seed, int hidden)
{
    ember_error err;
    ember_model *m = NULL;
    ember_status s;
    ember_optimizer_config opt = ember_optimizer_adam(0.01f);
    if (k == KIND_MLP) {
        int64_t shape[1] = {8};
        s = ember_model_create(&m, 1, shape, seed, &err);
        s = s ? s : ember_model_add_dense(m, hidden, EMBER_ACT_RELU, &err);
        s = s ? s : ember_model_add_dropout(m, 0.3f, &err);
        s = s ? s : ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, &err);
    } else if (k == KIND_TEXT) {
        s = ember_model_create_ids(&m, seed, &err);
        s = s ? s : ember_model_add_embedding(m, 50, 8, 1, &err);
        s = s ? s : ember_model_add_global_average_pooling1d(m, &err);
        s = s ? s : ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, &err);
    } else {
        int64_t shape[3] = {6, 6, 1};
        s = ember_model_create(&m, 3, shape, seed, &err);
        s = s ? s : ember_model_add_conv2d(m, 4, 3, EMBER_ACT_RELU, &err);
        s = s ? s : ember_model_add_batch_normalization(m, 0.9f, 1e-3f, &err);
        s = s ? s : ember_model_add_max_pool2d(m, 2, &err);
        s = s ? s : ember_model_add_flatten(m, &err);
        s = s ? s : ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, &err);
        opt = ember_optimizer_sgd(0.05f, 0.9f, 1);
        opt.weight_decay = 1e-3f;
        opt.clip_norm = 1.0f;
    }
    s = s ? s : ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err);
    if (s) {
        fprintf(stderr, "make_model(%s): %s\n", kind_name[k], err.message);
        exit(1);
    }
    ember_model_set_threads(m, 1);
    return m;
}

/* What the progress callback saw; optionally crash (_exit) at a step. */
typedef struct events {
    int n_ckpt, n_warn, n_resumed, n_skipped;
    char warn[4][EMBER_ERROR_MESSAGE_MAX + 300];
    char resumed[EMBER_CKPT_PATH_MAX];
    char skipped[EMBER_ERROR_MESSAGE_MAX];
    int64_t crash_at; /* global batch count at which to _exit; 0: never */
    int64_t batches;
} events;

static void on_event(const ember_progress *p, void *user)
{
    events *ev = user;
    switch (p->event) {
    case EMBER_PROGRESS_CHECKPOINT:
        ev->n_ckpt++;
        break;
    case EMBER_PROGRESS_WARNING:
        if (ev->n_warn < 4)
            snprintf(ev->warn[ev->n_warn], sizeof ev->warn[0], "%s", p->message);
        ev->n_warn++;
        break;
    case EMBER_PROGRESS_RESUMED:
        ev->n_resumed++;
        snprintf(ev->resumed, sizeof ev->resumed, "%s", p->message);
        break;
    case EMBER_PROGRESS_BATCH_SKIPPED:
        ev->n_skipped++;
        snprintf(ev->skipped, sizeof ev->skipped, "%s", p->message);
        /* fall through: a skipped batch is a batch */
        __attribute__((fallthrough));
    case EMBER_PROGRESS_BATCH_END:
        if (++ev->batches == ev->crash_at)
            _exit(0);
        break;
    default:
        break;
    }
}

static ember_fit_config fit_cfg(kind k, const dataset *d, const char *dir, int64_t every,
                                int resume, events *ev)
{
    ember_fit_config c = ember_fit_config_default();
    c.epochs = 3;
    c.batch_size = k == KIND_MLP ? 10 : 8;
    c.checkpoint_dir = dir;
    c.checkpoint_every = every;
    c.resume = resume;
    c.progress = on_event;
    c.progress_user = ev;
    if (k == KIND_MLP) {
        c.sample_weight = d->w;
        c.x_val = d->xv;
        c.y_val = d->yv;
    }
    if (k == KIND_CNN) {
        c.epochs = 2;
        c.augment_flip = 1;
        c.augment_crop_pad = 1;
    }
    return c;
}

static ember_status fit(ember_model *m, kind k, const dataset *d, const ember_fit_config *c,
                        ember_history *h, ember_error *err)
{
    return k == KIND_TEXT ? ember_model_fit_ids(m, d->ids, d->y, c, h, err)
                          : ember_model_fit(m, d->x, d->y, c, h, err);
}

static int same_bits(const ember_model *a, const ember_model *b)
{
    return a->n_params == b->n_params &&
           memcmp(a->params, b->params, (size_t)a->n_params * sizeof(float)) == 0 &&
           a->epochs_done == b->epochs_done;
}

static int same_history(const ember_history *a, const ember_history *b)
{
    return a->epochs == b->epochs &&
           memcmp(a->values, b->values, (size_t)a->epochs * EMBER_H_COUNT * sizeof(double)) == 0;
}

static char tmp_root[256];

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void fresh_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmp_root, name);
    rm_rf(out);
}

/* Checkpoint files in dir (names only, sorted), as a count. */
static int count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, needle) != NULL;
    if (d)
        closedir(d);
    return n;
}

/* Newest "ckpt-*.safetensors" file name in dir (by name), into out; 0 if none. */
static int newest(const char *dir, char *out, size_t cap, int nth_from_newest)
{
    char names[64][64];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 64)
        if (!strncmp(e->d_name, "ckpt-", 5) && strlen(e->d_name) == 38)
            memcpy(names[n++], e->d_name, 39);
    if (d)
        closedir(d);
    if (n <= nth_from_newest)
        return 0;
    qsort(names, (size_t)n, 64, (int (*)(const void *, const void *))strcmp);
    snprintf(out, cap, "%s/%s", dir, names[n - 1 - nth_from_newest]);
    return 1;
}

/* Run fit with checkpoints in a child that crashes after `crash_at`
 * batches; returns the child's exit status (0: crashed or finished). */
static int run_and_crash(kind k, const dataset *d, const char *dir, int64_t every, int resume,
                         int64_t crash_at)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ember_error err;
        events ev;
        memset(&ev, 0, sizeof ev);
        ev.crash_at = crash_at;
        ember_model *m = make_model(k, 7, 16);
        ember_fit_config c = fit_cfg(k, d, dir, every, resume, &ev);
        ember_status s = fit(m, k, d, &c, NULL, &err);
        if (s)
            fprintf(stderr, "child fit: %s\n", err.message);
        _exit(s ? 3 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* ---------------------------------------------------------- resume tests */

static void test_resume(kind k)
{
    ember_error err;
    dataset d;
    make_data(k, &d);
    events ev;
    memset(&ev, 0, sizeof ev);
    /* the reference: no checkpoints */
    ember_model *ref = make_model(k, 7, 16);
    ember_history *href = NULL;
    ember_history_create(&href, &err);
    ember_fit_config c = fit_cfg(k, &d, NULL, 0, 0, &ev);
    CHECK_OK(fit(ref, k, &d, &c, href, &err), &err);
    int64_t total = ev.batches;
    CHECK(total > 10);

    /* checkpoints do not change the result */
    char dir[512];
    fresh_dir(dir, sizeof dir, "resume_plain");
    memset(&ev, 0, sizeof ev);
    ember_model *m = make_model(k, 7, 16);
    ember_history *h = NULL;
    ember_history_create(&h, &err);
    c = fit_cfg(k, &d, dir, 3, 0, &ev);
    CHECK_OK(fit(m, k, &d, &c, h, &err), &err);
    CHECK_MSG(same_bits(m, ref) && same_history(h, href), "%s: checkpointing changed the run",
              kind_name[k]);
    CHECK(ev.n_ckpt > 3 && count_files(dir, ".safetensors") == EMBER_CHECKPOINT_KEEP_DEFAULT);
    ember_model_destroy(m);
    ember_history_destroy(h);

    /* crash at several steps (every 3 steps, and at epoch ends), resume */
    int64_t crash_points[] = {1, 2, 4, 7, total / 2, total - 1, total};
    for (size_t i = 0; i < sizeof crash_points / sizeof crash_points[0]; i++) {
        for (int every = 0; every <= 3; every += 3) {
            char name[64];
            snprintf(name, sizeof name, "resume_%zu_%d", i, every);
            fresh_dir(dir, sizeof dir, name);
            CHECK(run_and_crash(k, &d, dir, every, 0, crash_points[i]) == 0);
            /* and a second crash while resuming, further on */
            if (i % 2 == 0)
                CHECK(run_and_crash(k, &d, dir, every, 1, 3) == 0);
            memset(&ev, 0, sizeof ev);
            m = make_model(k, 7, 16);
            ember_history_create(&h, &err);
            c = fit_cfg(k, &d, dir, every, 1, &ev);
            CHECK_OK(fit(m, k, &d, &c, h, &err), &err);
            CHECK_MSG(same_bits(m, ref), "%s: crash after %lld batches (every %d): weights differ",
                      kind_name[k], (long long)crash_points[i], every);
            CHECK_MSG(same_history(h, href), "%s: crash after %lld batches: history differs",
                      kind_name[k], (long long)crash_points[i]);
            CHECK(ev.n_warn == 0 || (ev.n_resumed == 0 && strstr(ev.warn[0], "no checkpoint")));
            ember_model_destroy(m);
            ember_history_destroy(h);
        }
    }
    ember_model_destroy(ref);
    ember_history_destroy(href);
    free_data(&d);
}

/* Fingerprint, rotation, corrupt files: on the MLP. */
static void test_fingerprint_and_files(void)
{
    ember_error err;
    dataset d;
    make_data(KIND_MLP, &d);
    events ev;
    memset(&ev, 0, sizeof ev);
    ember_model *ref = make_model(KIND_MLP, 7, 16);
    ember_fit_config c = fit_cfg(KIND_MLP, &d, NULL, 0, 0, &ev);
    CHECK_OK(fit(ref, KIND_MLP, &d, &c, NULL, &err), &err);

    char dir[512];
    fresh_dir(dir, sizeof dir, "fp");
    CHECK(run_and_crash(KIND_MLP, &d, dir, 4, 0, 15) == 0);
    CHECK(count_files(dir, ".safetensors") == 3);

    /* a used folder without resume */
    ember_model *m = make_model(KIND_MLP, 7, 16);
    c = fit_cfg(KIND_MLP, &d, dir, 4, 0, &ev);
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_STATE, &err, "already holds 3");
    /* each changed setting is named */
    c.resume = 1;
    c.batch_size = 12;
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_STATE, &err,
              "fingerprint field 'batch_size' differs: the checkpoint has \"10\", this run \"12\"");
    c.batch_size = 10;
    c.epochs = 4;
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_STATE, &err, "'epochs'");
    c.epochs = 3;
    c.sample_weight = NULL;
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_STATE, &err,
              "'sample_weight_sha256'");
    c.sample_weight = d.w;
    float y5 = d.y->data[5];
    d.y->data[5] = y5 == 0 ? 1.0f : 0.0f;
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_STATE, &err, "'y_sha256'");
    d.y->data[5] = y5;
    ember_model_set_threads(m, 2);
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_STATE, &err,
              "'threads' differs: the checkpoint has \"1\", this run \"2\"; results are "
              "bit-identical only with the same thread count");
    ember_model_destroy(m);
    m = make_model(KIND_MLP, 8, 16);
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_STATE, &err, "'seed'");
    ember_model_destroy(m);
    m = make_model(KIND_MLP, 7, 17);
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_STATE, &err, "'architecture'");
    ember_model_destroy(m);
    /* a refused resume left the files alone */
    CHECK(count_files(dir, ".safetensors") == 3 && count_files(dir, ".corrupt") == 0);

    /* corrupt newest: a flipped byte in the tensor data */
    char p0[600], p1[600], p2[600];
    CHECK(newest(dir, p0, sizeof p0, 0) && newest(dir, p1, sizeof p1, 1));
    CHECK(newest(dir, p2, sizeof p2, 2));
    struct stat st;
    stat(p0, &st);
    int fd = open(p0, O_RDWR);
    unsigned char b;
    CHECK(pread(fd, &b, 1, st.st_size - 5) == 1);
    b ^= 0x10;
    CHECK(pwrite(fd, &b, 1, st.st_size - 5) == 1);
    close(fd);
    /* and the one before truncated */
    CHECK(truncate(p1, st.st_size / 2) == 0);
    memset(&ev, 0, sizeof ev);
    m = make_model(KIND_MLP, 7, 16);
    c = fit_cfg(KIND_MLP, &d, dir, 4, 1, &ev);
    CHECK_OK(fit(m, KIND_MLP, &d, &c, NULL, &err), &err);
    CHECK_MSG(ev.n_warn == 2 && strstr(ev.warn[0], p0) && strstr(ev.warn[0], "checksum") &&
                  strstr(ev.warn[1], p1) && strstr(ev.warn[0], "skipped"),
              "warnings: %d: [%s] [%s]", ev.n_warn, ev.warn[0], ev.warn[1]);
    CHECK_MSG(ev.n_resumed == 1 && !strcmp(ev.resumed, p2), "resumed from %s, want %s",
              ev.resumed, p2);
    CHECK(same_bits(m, ref));
    CHECK(count_files(dir, ".corrupt") == 2);
    ember_model_destroy(m);

    /* all corrupt: warnings, then a fresh start, same result */
    fresh_dir(dir, sizeof dir, "allbad");
    CHECK(run_and_crash(KIND_MLP, &d, dir, 4, 0, 9) == 0);
    for (int i = 0; i < 2; i++) {
        char p[600];
        CHECK(newest(dir, p, sizeof p, i));
        CHECK(truncate(p, 100) == 0);
    }
    memset(&ev, 0, sizeof ev);
    m = make_model(KIND_MLP, 7, 16);
    CHECK_OK(fit(m, KIND_MLP, &d, &c, NULL, &err), &err);
    CHECK(ev.n_resumed == 0 && ev.n_warn == 3 && strstr(ev.warn[2], "no checkpoint"));
    CHECK(same_bits(m, ref));
    ember_model_destroy(m);

    /* resume into a folder that does not exist: a fresh start */
    fresh_dir(dir, sizeof dir, "new/sub");
    memset(&ev, 0, sizeof ev);
    m = make_model(KIND_MLP, 7, 16);
    c.checkpoint_keep = 1;
    c.checkpoint_every = 1;
    CHECK_OK(fit(m, KIND_MLP, &d, &c, NULL, &err), &err);
    CHECK(ev.n_warn == 1 && strstr(ev.warn[0], "no checkpoint to resume from"));
    CHECK(same_bits(m, ref));
    /* keep 1, a checkpoint after every step: exactly the final one is left */
    char want[600];
    snprintf(want, sizeof want, "%s/ckpt-00000003-000000000000.safetensors", dir);
    CHECK(count_files(dir, "ckpt-") == 1 && access(want, F_OK) == 0);
    ember_model_destroy(m);

    /* argument checks */
    m = make_model(KIND_MLP, 7, 16);
    c = fit_cfg(KIND_MLP, &d, NULL, 0, 1, &ev);
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_ARG, &err, "resume needs");
    c = fit_cfg(KIND_MLP, &d, dir, 0, 0, &ev);
    c.checkpoint_keep = -1;
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_ARG, &err, "checkpoint_keep");
    c.checkpoint_keep = 3;
    c.on_nan = (ember_on_nan)7;
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_ARG, &err, "on_nan");
    ember_model_destroy(m);
    ember_model_destroy(ref);
    free_data(&d);
}

/* ------------------------------------------------------- write failures */

static void test_write_failures(void)
{
    ember_error err;
    dataset d;
    make_data(KIND_MLP, &d);
    events ev;
    memset(&ev, 0, sizeof ev);
    char dir[512];
    fresh_dir(dir, sizeof dir, "wfail");
    CHECK(run_and_crash(KIND_MLP, &d, dir, 4, 0, 9) == 0); /* checkpoints at 4 and 8 */
    char old[600], blocked[700];
    CHECK(newest(dir, old, sizeof old, 0));
    /* a folder where the next checkpoint's temporary file goes: creating it
     * fails */
    snprintf(blocked, sizeof blocked, "%s/ckpt-00000001-000000000002.safetensors.tmp.%ld", dir,
             (long)getpid());
    CHECK(mkdir(blocked, 0777) == 0);
    ember_model *m = make_model(KIND_MLP, 7, 16);
    ember_fit_config c = fit_cfg(KIND_MLP, &d, dir, 4, 1, &ev);
    CHECK_ERR(fit(m, KIND_MLP, &d, &c, NULL, &err), EMBER_ERR_IO, &err,
              "ckpt-00000001-000000000002.safetensors: cannot create temporary file");
    ember_model_destroy(m);
    rmdir(blocked);
    CHECK(count_files(dir, ".tmp.") == 0);

    /* a file-size limit in a child: write() fails with EFBIG */
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {1024, 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        events cev;
        memset(&cev, 0, sizeof cev);
        ember_model *cm = make_model(KIND_MLP, 7, 16);
        ember_fit_config cc = fit_cfg(KIND_MLP, &d, dir, 4, 1, &cev);
        ember_error e;
        ember_status s = fit(cm, KIND_MLP, &d, &cc, NULL, &e);
        if (write(pipefd[1], e.message, strlen(e.message)) < 0)
            _exit(9);
        _exit(s == EMBER_ERR_IO ? 0 : 1);
    }
    close(pipefd[1]);
    char msg[EMBER_ERROR_MESSAGE_MAX + 1] = "";
    ssize_t got = read(pipefd[0], msg, sizeof msg - 1);
    msg[got > 0 ? got : 0] = '\0';
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(msg, "File too large") &&
                  strstr(msg, "not saved (old file, if any, kept): write"),
              "child status %d, message: %s", st, msg);
    CHECK(count_files(dir, ".tmp.") == 0);
    /* the old checkpoints are intact: a resume uses the newest */
    memset(&ev, 0, sizeof ev);
    m = make_model(KIND_MLP, 7, 16);
    CHECK_OK(fit(m, KIND_MLP, &d, &c, NULL, &err), &err);
    CHECK(ev.n_warn == 0 && ev.n_resumed == 1 && !strcmp(ev.resumed, old));
    ember_model_destroy(m);
    free_data(&d);
}

/* --------------------------------------------------- crash during a save */

typedef struct crash_plan {
    int stage; /* _exit when reached; 0: never */
} crash_plan;

static void crash_hook(int stage, void *user)
{
    const crash_plan *p = user;
    if (stage == p->stage)
        _exit(0);
}

/* A distinct state for version v: weights, moments, t. */
static void set_state(ember_model *m, int v)
{
    for (int64_t i = 0; i < m->n_params; i++) {
        m->params[i] = (float)v + (float)i * 1e-3f;
        m->optim.m[i] = (float)v * 0.5f + (float)i;
        m->optim.v[i] = (float)v * 0.25f + (float)i;
    }
    m->optim.t = v;
}

static int has_state(const ember_model *m, int v)
{
    for (int64_t i = 0; i < m->n_params; i++)
        if (m->params[i] != (float)v + (float)i * 1e-3f ||
            m->optim.m[i] != (float)v * 0.5f + (float)i ||
            m->optim.v[i] != (float)v * 0.25f + (float)i)
            return 0;
    return m->optim.t == v;
}

static void collect_warning(const char *msg, void *user)
{
    events *ev = user;
    if (ev->n_warn < 4)
        snprintf(ev->warn[ev->n_warn], sizeof ev->warn[0], "%s", msg);
    ev->n_warn++;
}

static void test_crash_stages(void)
{
    ember_error err;
    char dir[512];
    fresh_dir(dir, sizeof dir, "stages");
    ember_model *m = make_model(KIND_MLP, 7, 16);
    ember_ckpt *ck = NULL;
    CHECK_OK(ember__ckpt_open(&ck, dir, 2, &err), &err);
    CHECK_OK(ember__ckpt_fingerprint(ck, "test", "crash stages", &err), &err);
    ember_history hist = {0, 0, NULL};
    set_state(m, 0);
    ember_ckpt_pos pos = {0, 0, 0.0, 0, 0, 0};
    CHECK_OK(ember__ckpt_save(ck, m, &pos, &hist, NULL, NULL, 0, &err), &err);
    static const int stages[] = {EMBER_ST_STAGE_HEADER, EMBER_ST_STAGE_WRITTEN,
                                 EMBER_ST_STAGE_SYNCED, EMBER_ST_STAGE_RENAMED,
                                 EMBER_ST_STAGE_RENAMED, EMBER_ST_STAGE_DIR_SYNCED,
                                 EMBER_CKPT_STAGE_PRUNED, 0};
    enum { N_STAGES = sizeof stages / sizeof stages[0] };
    int committed = 0, outcomes[N_STAGES][2];
    memset(outcomes, 0, sizeof outcomes);
    lcg_state = 99;
    int torn = 0, bad = 0;
    for (int trial = 1; trial <= CRASH_TRIALS; trial++) {
        int k = (int)(urand() * N_STAGES);
        /* stage index 4: a crash after the rename whose directory entry is
         * then lost (power failure before the folder fsync) */
        int lose_rename = k == 4;
        crash_plan plan = {stages[k]};
        ember_st_hook hook = {crash_hook, &plan};
        set_state(m, trial);
        pos.step = trial;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            ember_error e;
            _exit(ember__ckpt_save(ck, m, &pos, &hist, plan.stage ? &hook : NULL, NULL, 0, &e)
                      ? 1 : 0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (lose_rename) {
            char p[600];
            snprintf(p, sizeof p, "%s/ckpt-00000000-%012d.safetensors", dir, trial);
            unlink(p);
        }
        /* what a restart finds */
        ember_ckpt *rk = NULL;
        CHECK_OK(ember__ckpt_open(&rk, dir, 2, &err), &err);
        CHECK_OK(ember__ckpt_fingerprint(rk, "test", "crash stages", &err), &err);
        ember_model *r = make_model(KIND_MLP, 7, 16);
        ember_ckpt_pos got;
        ember_history rh = {0, 0, NULL};
        events ev;
        memset(&ev, 0, sizeof ev);
        int found = 0;
        CHECK_OK(ember__ckpt_resume(rk, r, &got, &rh, &found, collect_warning, &ev, NULL, 0,
                                    &err), &err);
        int is_new = found && got.step == trial && has_state(r, trial);
        int is_old = found && got.step == committed && has_state(r, committed);
        if (ev.n_warn)
            torn++;
        if (!is_new && !is_old)
            bad++;
        outcomes[k][is_new]++;
        /* the new state must be there once the rename is durable */
        int want_new = stages[k] == 0 || (stages[k] >= EMBER_ST_STAGE_RENAMED && !lose_rename);
        CHECK_MSG(is_new == want_new, "trial %d, stage %d: new %d", trial, stages[k], is_new);
        if (is_new)
            committed = trial;
        CHECK(count_files(dir, ".tmp.") == 0);
        ember_model_destroy(r);
        free(rh.values);
        ember__ckpt_close(rk);
    }
    CHECK_MSG(torn == 0 && bad == 0, "%d trials found a torn checkpoint, %d neither state", torn,
              bad);
    printf("crash stages: %d trials, never torn; old/new outcomes per stage "
           "(header, written, synced, renamed, rename lost, dir synced, pruning, none):",
           CRASH_TRIALS);
    for (int k = 0; k < N_STAGES; k++)
        printf(" %d/%d", outcomes[k][0], outcomes[k][1]);
    printf("\n");
    ember__ckpt_close(ck);
    ember_model_destroy(m);
}

/* ---------------------------------------------------------------- on_nan */

/* Three 8-16-BN-3 models trained with MSE on 40 rows, batch 4, no shuffle:
 * rows 8..11 (step 3) have a target of 3e38, whose squared error is Inf. */
static void test_on_nan(void)
{
    ember_error err;
    enum { N = 40, D = 8, K = 3, BAD0 = 8 };
    int64_t xs[2] = {N, D}, ys[2] = {N, K}, xs2[2] = {N - 4, D}, ys2[2] = {N - 4, K};
    ember_tensor *x = NULL, *y = NULL, *x2 = NULL, *y2 = NULL;
    ember_tensor_create(&x, 2, xs, &err);
    ember_tensor_create(&y, 2, ys, &err);
    ember_tensor_create(&x2, 2, xs2, &err);
    ember_tensor_create(&y2, 2, ys2, &err);
    lcg_state = 5;
    for (int64_t i = 0; i < N * D; i++)
        x->data[i] = (float)(urand() * 2 - 1);
    for (int64_t i = 0; i < N; i++)
        y->data[i * K + (int)(urand() * K)] = 1.0f;
    y->data[(BAD0 + 1) * K] = 3e38f;
    /* the same data without the bad batch */
    for (int64_t i = 0, j = 0; i < N; i++, j++) {
        if (i >= BAD0 && i < BAD0 + 4) {
            j--;
            continue;
        }
        memcpy(x2->data + j * D, x->data + i * D, D * sizeof(float));
        memcpy(y2->data + j * K, y->data + i * K, K * sizeof(float));
    }
    int64_t in_shape[1] = {D};
    ember_model *m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = NULL;
        ember_model_create(&m[i], 1, in_shape, 3, &err);
        ember_model_add_dense(m[i], 16, EMBER_ACT_RELU, &err);
        ember_model_add_batch_normalization(m[i], 0.9f, 1e-3f, &err);
        ember_model_add_dense(m[i], K, EMBER_ACT_SOFTMAX, &err);
        ember_optimizer_config opt = ember_optimizer_adam(0.01f);
        CHECK_OK(ember_model_compile(m[i], &opt, EMBER_LOSS_MSE, &err), &err);
        ember_model_set_threads(m[i], 1);
    }
    events ev;
    memset(&ev, 0, sizeof ev);
    ember_fit_config c = ember_fit_config_default();
    c.epochs = 2;
    c.batch_size = 4;
    c.shuffle = 0;
    c.progress = on_event;
    c.progress_user = &ev;
    /* stop (the default) names the epoch, the step and what went wrong */
    CHECK_ERR(ember_model_fit(m[0], x, y, &c, NULL, &err), EMBER_ERR_NUMERIC, &err,
              "epoch 1, step 3: the loss is infinite");
    /* skip-batch: exactly the run without those rows (weights, BatchNorm
     * statistics, Adam's moments and step count); counted */
    ember_history *h1 = NULL, *h2 = NULL;
    ember_history_create(&h1, &err);
    ember_history_create(&h2, &err);
    c.on_nan = EMBER_ON_NAN_SKIP_BATCH;
    CHECK_OK(ember_model_fit(m[1], x, y, &c, h1, &err), &err);
    c.on_nan = EMBER_ON_NAN_STOP;
    CHECK_OK(ember_model_fit(m[2], x2, y2, &c, h2, &err), &err);
    CHECK_MSG(same_bits(m[1], m[2]) && m[1]->optim.t == m[2]->optim.t &&
                  memcmp(m[1]->optim.m, m[2]->optim.m, (size_t)m[1]->n_params * 4) == 0 &&
                  memcmp(m[1]->optim.v, m[2]->optim.v, (size_t)m[1]->n_params * 4) == 0,
              "a skipped batch left a trace (t %lld vs %lld)", (long long)m[1]->optim.t,
              (long long)m[2]->optim.t);
    CHECK_MSG(ev.n_skipped == 2 && strstr(ev.skipped, "epoch 2, step 3: the loss is infinite"),
              "%d skipped, last: %s", ev.n_skipped, ev.skipped);
    CHECK(ember_history_get(h1, "skipped_batches", 0) == 1.0 &&
          ember_history_get(h1, "skipped_batches", 1) == 1.0 &&
          ember_history_get(h2, "skipped_batches", 1) == 0.0);
    /* the epoch's loss is over the applied batches: the same sums */
    CHECK(ember_history_get(h1, "loss", 0) == ember_history_get(h2, "loss", 0) &&
          ember_history_get(h1, "loss", 1) == ember_history_get(h2, "loss", 1));
    /* more than 10 % of an epoch (here: more than 1 of 10 batches) stops */
    y->data[21 * K + 1] = -3e38f;
    c.on_nan = EMBER_ON_NAN_SKIP_BATCH;
    CHECK_ERR(ember_model_fit(m[1], x, y, &c, NULL, &err), EMBER_ERR_NUMERIC, &err,
              "epoch 1: 2 of its 10 batches were skipped for NaN/Inf, more than 10 % (at most 1 "
              "allowed); the last: epoch 1, step 6: the loss is infinite");

    /* a gradient that is Inf while the loss is finite names the layer: a
     * huge kernel weight on an input feature that is always 0 leaves the
     * forward pass alone, but L2 decay adds it to the gradient */
    for (int64_t i = 0; i < N - 4; i++)
        x2->data[i * D] = 0.0f;
    ember_model *g = NULL;
    ember_model_create(&g, 1, in_shape, 3, &err);
    ember_model_add_dense(g, 16, EMBER_ACT_RELU, &err);
    ember_model_add_dense(g, K, EMBER_ACT_SOFTMAX, &err);
    ember_optimizer_config opt = ember_optimizer_adam(0.01f);
    opt.weight_decay = 10.0f;
    CHECK_OK(ember_model_compile(g, &opt, EMBER_LOSS_MSE, &err), &err);
    g->params[0] = 3e38f; /* layer 0 kernel [feature 0][unit 0] */
    c.on_nan = EMBER_ON_NAN_STOP;
    CHECK_ERR(ember_model_fit(g, x2, y2, &c, NULL, &err), EMBER_ERR_NUMERIC, &err,
              "epoch 1, step 1: layer 0 (dense) has a NaN or Inf gradient");
    ember_model_destroy(g);
    for (int i = 0; i < 3; i++)
        ember_model_destroy(m[i]);
    ember_history_destroy(h1);
    ember_history_destroy(h2);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_tensor_destroy(x2);
    ember_tensor_destroy(y2);
}

/* The text model (lazy Adam on embedding rows): step 3's examples weigh
 * FLT_MAX, so their loss is Inf; skipping gives the run without them. */
static void test_skip_text(void)
{
    ember_error err;
    dataset d;
    make_data(KIND_TEXT, &d);
    float *w = malloc((size_t)d.n * sizeof *w);
    for (int64_t i = 0; i < d.n; i++)
        w[i] = i >= 16 && i < 24 ? FLT_MAX : 1.0f;
    ember_model *a = make_model(KIND_TEXT, 7, 16), *b = make_model(KIND_TEXT, 7, 16);
    events ev;
    memset(&ev, 0, sizeof ev);
    ember_fit_config c = ember_fit_config_default();
    c.epochs = 2;
    c.batch_size = 8;
    c.shuffle = 0;
    c.sample_weight = w;
    c.progress = on_event;
    c.progress_user = &ev;
    c.on_nan = EMBER_ON_NAN_SKIP_BATCH;
    CHECK_OK(ember_model_fit_ids(a, d.ids, d.y, &c, NULL, &err), &err);
    CHECK(ev.n_skipped == 2 && strstr(ev.skipped, "epoch 2, step 3"));
    ember_ragged *r2 = calloc(1, sizeof *r2);
    r2->n = d.n - 8;
    r2->offsets = malloc((size_t)(r2->n + 1) * sizeof *r2->offsets);
    r2->ids = malloc((size_t)d.ids->offsets[d.n] * sizeof *r2->ids);
    int64_t ys[1] = {r2->n};
    ember_tensor *y2 = NULL;
    ember_tensor_create(&y2, 1, ys, &err);
    r2->offsets[0] = 0;
    for (int64_t i = 0, j = 0; i < d.n; i++) {
        if (i >= 16 && i < 24)
            continue;
        int64_t len = d.ids->offsets[i + 1] - d.ids->offsets[i];
        memcpy(r2->ids + r2->offsets[j], d.ids->ids + d.ids->offsets[i], (size_t)len * 4);
        r2->offsets[j + 1] = r2->offsets[j] + len;
        y2->data[j++] = d.y->data[i];
    }
    c.sample_weight = NULL;
    c.on_nan = EMBER_ON_NAN_STOP;
    CHECK_OK(ember_model_fit_ids(b, r2, y2, &c, NULL, &err), &err);
    CHECK_MSG(same_bits(a, b) && a->optim.t == b->optim.t, "the skipped text batch left a trace");
    ember_model_destroy(a);
    ember_model_destroy(b);
    ember_ragged_destroy(r2);
    ember_tensor_destroy(y2);
    free(w);
    free_data(&d);
}

int main(void)
{
    snprintf(tmp_root, sizeof tmp_root, "%s/test_checkpoint.%ld", EMBER_BUILD_DIR, (long)getpid());
    rm_rf(tmp_root);
    if (mkdir(tmp_root, 0777) != 0) {
        fprintf(stderr, "cannot create %s: %s\n", tmp_root, strerror(errno));
        return 1;
    }
    test_on_nan();
    test_skip_text();
    test_crash_stages();
    test_write_failures();
    test_fingerprint_and_files();
    for (int k = KIND_MLP; k <= KIND_CNN; k++)
        test_resume((kind)k);
    int r = check_summary("checkpoint");
    if (r == 0)
        rm_rf(tmp_root);
    return r;
}
