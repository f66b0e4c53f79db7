/*
 * main.c - `ember` entry point: dispatch to subcommands, --help, --version,
 * and the shared helpers of cli.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: ember <command> [options]\n"
    "\n"
    "Ember: deep learning on an ordinary CPU. Text (CSV/TSV, fastText, one folder per\n"
    "class) and images (IDX, or PNG/JPEG/BMP/PGM/GIF/TGA files with one folder per\n"
    "class); models described by a built-in preset (text, mlp, cnn) or an\n"
    "architecture file (docs/arch.md).\n"
    "\n"
    "commands:\n"
    "  train     train a model on labelled data and save it\n"
    "  test      evaluate a saved model on labelled data (accuracy, per-class\n"
    "            precision/recall/F1, confusions)\n"
    "  predict   print the predicted label of each input line (or image)\n"
    "  serve     answer customer messages over HTTP with a text model: intents,\n"
    "            replies, hand-off to a person, a chat page, metrics; or a recommender:\n"
    "            top items for a user, similar items\n"
    "  calibrate choose the top-probability threshold at which `ember serve` answers\n"
    "            by itself (a target precision on labelled data); saved in the model\n"
    "  data      data management: fingerprint and verify data files, check a train/test\n"
    "            split for duplicates, leakage and label conflicts (ember data --help)\n"
    "  inspect   print a model's (or a recommender's) lineage: data fingerprints,\n"
    "            settings, code, history\n"
    "  reproduce re-run a model's training from its lineage and compare the weights\n"
    "  report    one HTML page: learning curves, per-class scores, confusion matrix,\n"
    "            misclassified images, lineage; for a recommender its settings and\n"
    "            RMSE/MAE, Recall/NDCG/HR/MAP@K next to most-popular and random\n"
    "  recommend recommendations from user behaviour: train (matrix factorisation for\n"
    "            ratings, BPR for clicks; a two-tower model with user and item\n"
    "            features, cold start, --distributed over MPI), eval (RMSE/MAE;\n"
    "            Recall/NDCG/HR/MAP@K next to most-popular and random), split\n"
    "            (leave-last-out), top, similar\n"
    "\n"
    "  ember <command> --help   options of one command\n"
    "  ember --version          version and the git commit it was built from\n"
    "\n"
    "Every command takes --json (machine-readable output) and --quiet.\n"
    "Exit status: 0 ok, 1 usage error, 2 data or model error, 3 training failed.\n"
    "\n"
    "Threads wait passively between parallel regions (OMP_WAIT_POLICY=passive), which\n"
    "keeps training fast when other programs use the cores; on an idle machine\n"
    "OMP_WAIT_POLICY=active is 10-20% faster for small models.\n";

void cli_json_fstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void cli_json_str(const char *s) { cli_json_fstr(stdout, s); }

int cli_fail(const cli_out *o, const char *cmd, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (o && o->json) {
        printf("{\"error\":");
        cli_json_str(msg);
        printf(",\"exit\":%d}\n", code);
    }
    fprintf(stderr, "ember %s: %s\n", cmd, msg);
    return code;
}

int cli_fail_err(const cli_out *o, const char *cmd, const ember_error *err)
{
    int code = err->code == EMBER_ERR_ARG ? EXIT_USAGE
               : err->code == EMBER_ERR_NUMERIC ? EXIT_TRAIN : EXIT_DATA;
    return cli_fail(o, cmd, code, "%s", err->message);
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

int cli_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_float(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

bool cli_is_idx(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strstr(base, "idx") != NULL && strstr(base, "ubyte") != NULL;
}

char *cli_read_file(const char *path, ember_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->message, sizeof err->message, "%s: cannot open: %s", path, strerror(errno));
        err->code = EMBER_ERR_IO;
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (n + 1 == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        snprintf(err->message, sizeof err->message, "%s: cannot read (or larger than 64 MiB)", path);
        err->code = EMBER_ERR_IO;
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *cli_idx_labels_path(const char *images)
{
    /* MNIST naming: train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz,
     * also with a dot (train-images.idx3-ubyte). */
    const char *p = strstr(images, "images");
    const char *q = p ? strstr(p, "idx3") : NULL;
    if (!p || !q)
        return NULL;
    size_t len = strlen(images);
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    memcpy(out, images, len + 1);
    memcpy(out + (p - images), "labels", 6);
    out[q - images + 3] = '1';
    return out;
}

int cli_load_idx_pair(const char *images_path, const char *labels_path, float scale,
                      ember_tensor **x, ember_tensor **y, ember_error *err)
{
    *x = NULL;
    if (y)
        *y = NULL;
    char *guess = NULL;
    if (!labels_path && y) {
        guess = cli_idx_labels_path(images_path);
        if (!guess) {
            snprintf(err->message, sizeof err->message,
                     "%s: cannot find its labels file (expected a name with \"images-idx3\" to "
                     "derive \"labels-idx1\" from); give it with --train-labels/--valid-labels/--labels",
                     images_path);
            err->code = EMBER_ERR_ARG;
            return -1;
        }
        labels_path = guess;
    }
    ember_tensor *xi = NULL, *yi = NULL;
    if (ember_idx_load(&xi, images_path, err) != EMBER_OK ||
        (y && ember_idx_load(&yi, labels_path, err) != EMBER_OK))
        goto fail;
    if (xi->ndim < 2) {
        snprintf(err->message, sizeof err->message,
                 "%s: holds a 1-dimensional IDX array (labels?); expected images [N, ...]", images_path);
        err->code = EMBER_ERR_FORMAT;
        goto fail;
    }
    if (yi && yi->ndim != 1) {
        snprintf(err->message, sizeof err->message, "%s: a labels file must have 1 dimension, got %d",
                 labels_path, yi->ndim);
        err->code = EMBER_ERR_FORMAT;
        goto fail;
    }
    if (yi && yi->shape[0] != xi->shape[0]) {
        snprintf(err->message, sizeof err->message, "%s has %lld labels but %s has %lld examples",
                 labels_path, (long long)yi->shape[0], images_path, (long long)xi->shape[0]);
        err->code = EMBER_ERR_FORMAT;
        goto fail;
    }
    /* images [N, H, W] get a channel axis: [N, H, W, 1]; [N, H, W, C] and
     * [N, features] stay as they are */
    if (xi->ndim == 3) {
        xi->ndim = 4;
        xi->shape[3] = 1;
    }
    if (scale != 1.0f)
        ember_tensor_scale(xi, scale);
    free(guess);
    *x = xi;
    if (y)
        *y = yi;
    return 0;
fail:
    free(guess);
    ember_tensor_destroy(xi);
    ember_tensor_destroy(yi);
    return -1;
}

/* OpenMP's default lets idle worker threads spin between parallel regions.
 * On a machine whose other cores are busy that is catastrophic: measured on
 * the Fashion-MNIST MLP with 2 threads and one core taken by another
 * process, an epoch took over 120 s instead of 1.2 s. With passive waiting it
 * takes 1.2 s, at a cost of 10-20% on an idle machine. The runtime reads the
 * setting only when it loads, so unless the user chose a policy we set it
 * and start again. */
static void prefer_passive_wait(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the default policy */
    unsetenv("OMP_WAIT_POLICY");
}

int main(int argc, char **argv)
{
    prefer_passive_wait(argv);
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("ember %s (commit %s)\n", ember_version(), ember_git_commit());
        return EXIT_OK;
    }
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "test"))
        return cmd_test(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict"))
        return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "calibrate"))
        return cmd_calibrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "data"))
        return cmd_data(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "reproduce"))
        return cmd_reproduce(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "recommend"))
        return cmd_recommend(argc - 1, argv + 1);
    fprintf(stderr, "ember: unknown command '%s'\n\n%s", cmd, usage);
    return EXIT_USAGE;
}

int cli_common_opt(int argc, char **argv, int *i, cli_out *o, cli_data_opts *d)
{
    const char *a = argv[*i], *v = NULL;
    int r;
    if (!strcmp(a, "--json"))
        return o->json = true, 1;
    if (!strcmp(a, "--quiet"))
        return o->quiet = true, 1;
    if (!d)
        return 0;
    if (!strcmp(a, "--skip-bad-lines"))
        return d->skip_bad_lines = 1, 1;
    if ((r = cli_opt(argc, argv, i, "--labels", &v)) != 0)
        d->labels = v;
    else if ((r = cli_opt(argc, argv, i, "--text-column", &v)) != 0)
        d->text_column = v;
    else if ((r = cli_opt(argc, argv, i, "--label-column", &v)) != 0)
        d->label_column = v;
    return r;
}

int cli_fit_input_shape(const ember_model *m, ember_tensor *x, const char *path, ember_error *err)
{
    int64_t shape[EMBER_MAX_DIMS], per = 1, have = 1;
    int rank = ember_model_input_shape(m, shape);
    for (int i = 0; i < rank; i++)
        per *= shape[i];
    for (int i = 1; i < x->ndim; i++)
        have *= x->shape[i];
    if (rank == 0 || per != have) {
        char want[96] = "", got[96] = "";
        size_t k = 0;
        for (int i = 0; i < rank && k < sizeof want; i++)
            k += (size_t)snprintf(want + k, sizeof want - k, "%s%lld", i ? "x" : "", (long long)shape[i]);
        k = 0;
        for (int i = 1; i < x->ndim && k < sizeof got; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i > 1 ? "x" : "", (long long)x->shape[i]);
        snprintf(err->message, sizeof err->message, "%s: examples are %s (%lld values) but the "
                 "model takes %s (%lld values)", path, got, (long long)have,
                 rank ? want : "token ids", (long long)per);
        err->code = EMBER_ERR_SHAPE;
        return -1;
    }
    x->ndim = rank + 1;
    for (int i = 0; i < EMBER_MAX_DIMS - 1; i++)
        x->shape[i + 1] = i < rank ? shape[i] : 1;
    return 0;
}
