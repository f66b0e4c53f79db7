/*
 * test_save_fail.c - ember_model_save when writing fails: the error names the
 * file, the step that failed and the system's reason, the old model file at
 * that path is left byte for byte as it was (and still loads), and no
 * temporary file is left behind. What each case simulates:
 *
 *  - a full disk: the save runs in a forked child whose file size limit
 *    (RLIMIT_FSIZE) is below the file's size, with SIGXFSZ ignored, so
 *    write(2) stores part of the bytes and then fails with EFBIG, as it fails
 *    with ENOSPC on a full disk. Two limits: inside the header, and inside
 *    the tensor data (after a whole header was written);
 *  - a folder that does not exist (ENOENT) and a "folder" that is a regular
 *    file (ENOTDIR): the temporary file cannot be created;
 *  - a path that is an existing folder: everything is written, the final
 *    rename(2) fails (EISDIR) and the folder is untouched;
 *  - a read-only folder (EACCES), only when not running as root: root may
 *    write there anyway, and CI runs as root.
 *
 * Not simulated: fsync or close failing (no portable way to make them fail
 * without root), and ENOSPC itself (needs a full file system; a small tmpfs
 * needs root to mount).
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/ember-save-fail-XXXXXX";

/* A compiled 16-64-4 model: a few KiB of tensor data after a header of
 * about 1 KiB, so the size limits below fall in the header or in the data. */
static ember_model *model(uint64_t seed)
{
    ember_error err;
    ember_model *m = NULL;
    int64_t in[1] = {16};
    CHECK_OK(ember_model_create(&m, 1, in, seed, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 64, EMBER_ACT_RELU, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 4, EMBER_ACT_SOFTMAX, &err), &err);
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    return m;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16;
    unsigned char *b = malloc(cap);
    while (b) {
        size_t got = fread(b + *n, 1, cap - *n, f);
        *n += got;
        if (got == 0)
            break;
        if (*n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    return b;
}

/* Files in dir whose name contains ".tmp." (a save's temporary file). */
static int temporaries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* Save m to path in a child process whose file size limit is `limit` bytes
 * (0: no limit) with SIGXFSZ ignored; the child's status and message come
 * back through a pipe. */
static ember_status save_limited(const ember_model *m, const char *path, rlim_t limit,
                                 ember_error *err)
{
    int fd[2];
    if (pipe(fd) != 0)
        return EMBER_ERR_IO;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        signal(SIGXFSZ, SIG_IGN);
        if (limit) {
            struct rlimit rl = {limit, limit};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(3);
        }
        ember_error e;
        memset(&e, 0, sizeof e);
        e.code = ember_model_save(m, path, &e);
        ssize_t w = write(fd[1], &e, sizeof e);
        _exit(w == (ssize_t)sizeof e ? 0 : 4);
    }
    close(fd[1]);
    memset(err, 0, sizeof *err);
    ssize_t r = read(fd[0], err, sizeof *err);
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_MSG(pid > 0 && r == (ssize_t)sizeof *err && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "child: read %zd, status %d", r, st);
    return r == (ssize_t)sizeof *err ? err->code : EMBER_ERR_IO;
}

/* The save failed with EMBER_ERR_IO and a message holding `path` and both
 * needles; the old file is unchanged and loads; no temporary file is left. */
static void save_failed_(int line, ember_status s, const ember_error *err, const char *path,
                          const char *n1, const char *n2, const unsigned char *old, size_t old_n)
{
    CHECK_MSG(s == EMBER_ERR_IO && strstr(err->message, path) && strstr(err->message, n1) &&
                  strstr(err->message, n2),
              "(line %d) status %d, message \"%s\" (want \"%s\", \"%s\")", line, (int)s,
              err->message, n1, n2);
    if (old) {
        size_t n;
        unsigned char *now = read_all(path, &n);
        CHECK_MSG(now && n == old_n && memcmp(now, old, n) == 0,
                  "(line %d) the old file changed (%zu bytes, was %zu)", line, n, old_n);
        free(now);
        ember_model *back = NULL;
        ember_error e;
        CHECK_MSG(ember_model_load(&back, path, &e) == EMBER_OK, "(line %d) old file: %s", line,
                  e.message);
        ember_model_destroy(back);
    }
    CHECK_MSG(temporaries() == 0, "(line %d) a temporary file was left in %s", line, dir);
}
#define CHECK_FAILED(s, err, path, n1, n2, old, old_n)                                     \
    save_failed_(__LINE__, s, err, path, n1, n2, old, old_n)

int main(void)
{
    if (!mkdtemp(dir)) {
        fprintf(stderr, "test_save_fail: cannot create a temporary folder\n");
        return 1;
    }
    char path[256], bad[300];
    snprintf(path, sizeof path, "%s/m.model", dir);
    ember_error err;
    ember_model *old = model(1), *fresh = model(2);
    CHECK_OK(ember_model_save(old, path, &err), &err);
    size_t old_n = 0;
    unsigned char *old_bytes = read_all(path, &old_n);
    CHECK(old_bytes && old_n > 16);
    uint64_t header = 0;
    for (int k = 7; old_bytes && k >= 0; k--)
        header = header << 8 | old_bytes[k];
    CHECK_MSG(header > 256 && 8 + header + 1024 < old_n, "header %llu of %zu bytes",
              (unsigned long long)header, old_n);

    /* a full disk, simulated by the file size limit: in the header, then in
     * the data after the whole header */
    ember_status s = save_limited(fresh, path, 100, &err);
    CHECK_FAILED(s, &err, path, "not saved (old file, if any, kept): write of temporary file",
                 strerror(EFBIG), old_bytes, old_n);
    s = save_limited(fresh, path, (rlim_t)(8 + header + 1000), &err);
    CHECK_FAILED(s, &err, path, "not saved (old file, if any, kept): write of temporary file",
                 strerror(EFBIG), old_bytes, old_n);
    /* the same child without a limit saves: the limit was the cause */
    CHECK_OK(save_limited(fresh, path, 0, &err), &err);
    ember_model *back = NULL;
    CHECK_OK(ember_model_load(&back, path, &err), &err);
    ember_model_destroy(back);
    CHECK_OK(ember_model_save(old, path, &err), &err); /* the old file again */

    /* a missing folder, and a regular file used as a folder */
    snprintf(bad, sizeof bad, "%s/no/such/folder/m.model", dir);
    s = ember_model_save(fresh, bad, &err);
    CHECK_FAILED(s, &err, bad, "cannot create temporary file", strerror(ENOENT), NULL, 0);
    snprintf(bad, sizeof bad, "%s/m.model/inner.model", dir);
    s = ember_model_save(fresh, bad, &err);
    CHECK_FAILED(s, &err, bad, "cannot create temporary file", strerror(ENOTDIR), NULL, 0);
    size_t now_n = 0;
    unsigned char *now = read_all(path, &now_n); /* m.model itself is untouched */
    CHECK(now && now_n == old_n && memcmp(now, old_bytes, old_n) == 0);
    free(now);

    /* an existing folder as the path: the rename fails, the folder stays */
    snprintf(bad, sizeof bad, "%s/adir", dir);
    CHECK(mkdir(bad, 0700) == 0);
    s = ember_model_save(fresh, bad, &err);
    CHECK_FAILED(s, &err, bad, "not saved (old file, if any, kept): rename of temporary file",
                 strerror(EISDIR), NULL, 0);
    struct stat st;
    CHECK(stat(bad, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(rmdir(bad) == 0);

    /* a read-only folder: only meaningful when not root */
    if (geteuid() != 0) {
        char ro[300], rop[320];
        snprintf(ro, sizeof ro, "%s/ro", dir);
        snprintf(rop, sizeof rop, "%s/m.model", ro);
        CHECK(mkdir(ro, 0700) == 0);
        CHECK_OK(ember_model_save(old, rop, &err), &err);
        CHECK(chmod(ro, 0500) == 0);
        s = ember_model_save(fresh, rop, &err);
        CHECK_FAILED(s, &err, rop, "cannot create temporary file", strerror(EACCES), old_bytes,
                     old_n);
        CHECK(chmod(ro, 0700) == 0);
        CHECK(unlink(rop) == 0 && rmdir(ro) == 0);
    } else {
        printf("save_fail: read-only folder case skipped: running as root, who may write there\n");
    }

    free(old_bytes);
    ember_model_destroy(old);
    ember_model_destroy(fresh);
    CHECK(unlink(path) == 0 && rmdir(dir) == 0);
    return check_summary("save_fail");
}
