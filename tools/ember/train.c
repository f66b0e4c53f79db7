/*
 * train.c - `ember train`: read labelled data (text: CSV/TSV, fastText,
 * folder per class; images: IDX), build the model from an architecture
 * (built-in `text` or `mlp`, or a file), train with validation and
 * Keras-style progress, save the model with everything `test`/`predict`
 * need (text pipeline, input scale, architecture text).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char train_usage[] =
    "usage: ember train --train FILE [--valid FILE] --out MODEL [options]\n"
    "       ember train --resume D ... (the first run's options)\n"
    "\n"
    "Train a classifier and save it (safetensors layout, with its input pipeline).\n"
    "\n"
    "data (text: .csv/.tsv with a header, fastText __label__ files, or a folder with one\n"
    "sub-folder per class; gzip is read transparently. images: IDX files, or a folder with\n"
    "one sub-folder of PNG/JPEG/BMP/PGM/GIF/TGA files per class):\n"
    "  --train FILE           training data\n"
    "  --valid FILE           validation data (printed as val_loss / val_accuracy)\n"
    "  --text-column C        CSV/TSV column (name or 0-based index; default text, else first)\n"
    "  --label-column C       CSV/TSV column (default label, else last)\n"
    "  --skip-bad-lines       text: skip (and count) malformed lines, and validation labels\n"
    "                         not in the training data, instead of stopping at the first;\n"
    "                         the count and the first 5 are printed (docs/inputs.md)\n"
    "  --train-labels FILE    IDX: labels file (default: found by the MNIST naming convention)\n"
    "  --valid-labels FILE\n"
    "  --scale S              images: multiply pixels by S (default 1/255)\n"
    "  --image-size HxW       image folders: resize every image to H x W (default: all\n"
    "                         images must have one size)\n"
    "  --crop HxW             image folders: centre crop to H x W after the resize\n"
    "  --channels N           image folders: 1 grey or 3 RGB (default: from the first image)\n"
    "  --normalize            image folders: subtract each channel's mean and divide by its\n"
    "                         standard deviation, both measured on the training images\n"
    "text pipeline:\n"
    "  --word-ngrams N        add word n-grams up to N, hashed into buckets (default 1)\n"
    "  --char-ngrams MIN-MAX  add character n-grams of words, hashed (default off)\n"
    "  --buckets N            hash buckets for n-grams (default 200000)\n"
    "  --min-count N          words seen fewer times become <oov> (default 1)\n"
    "  --max-vocab N          keep the N most frequent words (default: all)\n"
    "  --numbers              replace digit runs with <num>\n"
    "  --email-headers        strip an RFC 822 header block from each text\n"
    "  --hash-vocab           store a salted SHA-256 of each vocabulary word instead of the\n"
    "                         word, for sensitive data: the model file no longer lists the\n"
    "                         words, but anyone holding it can still test a guessed word, and\n"
    "                         labels stay readable (docs/privacy.md). Ids and weights are\n"
    "                         the same as without it\n"
    "model:\n"
    "  --arch A               text (the reference model; default for text), mlp (default for\n"
    "                         images), cnn (the Fashion-MNIST CNN: conv 32 3x3, pool 2,\n"
    "                         conv 64 3x3, pool 2, dense 128, softmax), or an architecture\n"
    "                         file (see docs/arch.md)\n"
    "  --embedding-dim N      embedding size of the built-in text model (default 64)\n"
    "  --hidden N             hidden Dense units of the built-in models (default 128)\n"
    "  --dense-embedding      update every embedding row every step (Keras-exact Adam;\n"
    "                         default: lazy, only the rows in the batch)\n"
    "training:\n"
    "  --epochs N             (default 10)\n"
    "  --batch-size N         (default 32)\n"
    "  --optimizer O          adam | sgd (default adam)\n"
    "  --lr X                 learning rate (default 0.001 adam, 0.01 sgd)\n"
    "  --momentum X           sgd momentum (default 0)\n"
    "  --nesterov             sgd Nesterov momentum\n"
    "  --weight-decay X       L2 on kernels (default 0)\n"
    "  --clip-norm X          clip gradients to this global norm (default off)\n"
    "  --on-nan A             when a batch's loss or a gradient is NaN/Inf: stop (default;\n"
    "                         the error names the epoch, step and layer) or skip-batch\n"
    "                         (leave the batch out, count it; an epoch that skips more than\n"
    "                         10 %% of its batches stops)\n"
    "  --class-weight W       balanced (n / (classes * count)) or a file of \"label weight\" lines\n"
    "  --no-shuffle           keep the data order\n"
    "  --augment-flip         images: random left-right mirror (training only)\n"
    "  --augment-crop P       images: pad P zero pixels around, random crop back\n"
    "  --seed N               one seed for init, shuffling and dropout (default 42)\n"
    "  --threads N            threads (default: all cores)\n"
    "checkpoints:\n"
    "  --checkpoint-dir D     write the training state (weights, optimizer state, data\n"
    "                         position, history) to folder D, atomically\n"
    "  --checkpoint-every E   epoch (default) or N: after every N-th step\n"
    "  --keep-checkpoints K   keep the newest K checkpoints (default 3)\n"
    "  --resume [D]           continue from the newest valid checkpoint in D (default: the\n"
    "                         --checkpoint-dir); a corrupt newest one is skipped with a\n"
    "                         warning. Give the same data and options as the first run\n"
    "                         (checked); the final model is bit-identical to an\n"
    "                         uninterrupted run's\n"
    "output:\n"
    "  --out MODEL            where to save the model (required)\n"
    "  --history FILE         write a CSV row per epoch as it ends (Keras CSVLogger's\n"
    "                         columns: epoch from 0, accuracy, loss, val_accuracy,\n"
    "                         val_loss; then seconds). The model holds it too: ember report\n"
    "  --json                 one JSON object per epoch, then a summary with train_seconds\n"
    "  --quiet                print nothing but errors\n"
    "distributed (docs/distributed.md):\n"
    "  --distributed          data-parallel over MPI: run as mpirun -np N ember train ...\n"
    "                         --distributed; --batch-size is the global batch, split over\n"
    "                         the ranks; rank 0 prints and writes checkpoints and --out\n"
    "  --bucket-kb N          gradient buckets of about N KiB whose allreduce starts while\n"
    "                         the backward pass goes on (256); 0: one exchange after it\n";

typedef struct train_args {
    const char *train, *train_labels, *valid, *valid_labels, *out, *arch, *opt_s;
    const char *text_col, *label_col, *class_weight;
    const char *ckpt_dir, *resume_dir, *history;
    double lr, momentum, wd, clip, scale;
    long long epochs, batch, seed, threads, emb_dim, hidden, aug_crop, channels;
    long long resize_h, resize_w, crop_h, crop_w;
    long long ckpt_every, ckpt_keep; /* -1: not given */
    long long bucket_kb;             /* -1: not given */
    int nesterov, shuffle, dense_emb, aug_flip, normalize, skip_bad, resume, skip_nan;
    int distributed;
    ember_text_options topt;
    cli_out o;
} train_args;

/* "HxW" with sides in 1..65536; 0 on success. */
static int parse_hw(const char *v, long long *h, long long *w)
{
    int used = 0;
    if (sscanf(v, "%lldx%lld%n", h, w, &used) != 2 || v[used] || *h < 1 || *w < 1 ||
        *h > 65536 || *w > 65536)
        return -1;
    return 0;
}

static int parse_args(int argc, char **argv, train_args *a)
{
    const char *C = "train";
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = 0;
        long long n;
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
#define NEED_INT(name, lo, hi, dst)                                                          \
    if (v && cli_parse_int(v, lo, hi, &dst))                                                 \
        return cli_fail(&a->o, C, EXIT_USAGE, name ": '%s' is not an integer in %lld..%lld", \
                        v, (long long)(lo), (long long)(hi));
#define NEED_FLOAT(name, lo, hi, dst)                                                        \
    if (v && cli_parse_float(v, lo, hi, &dst))                                               \
        return cli_fail(&a->o, C, EXIT_USAGE, name ": '%s' is not a number in [%g, %g]", v,  \
                        (double)(lo), (double)(hi));
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(train_usage, stdout);
            return -2;
        } else if (!strcmp(argv[i], "--json")) {
            a->o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            a->o.quiet = true;
        } else if (!strcmp(argv[i], "--distributed")) {
            a->distributed = 1;
        } else if (!strcmp(argv[i], "--nesterov")) {
            a->nesterov = 1;
        } else if (!strcmp(argv[i], "--no-shuffle")) {
            a->shuffle = 0;
        } else if (!strcmp(argv[i], "--normalize")) {
            a->normalize = 1;
        } else if (!strcmp(argv[i], "--resume") || !strncmp(argv[i], "--resume=", 9)) {
            /* --resume alone uses --checkpoint-dir; --resume D names the folder */
            a->resume = 1;
            if (argv[i][8] == '=')
                a->resume_dir = argv[i] + 9;
            else if (i + 1 < argc && argv[i + 1][0] != '-')
                a->resume_dir = argv[++i];
            if (a->resume_dir && !*a->resume_dir)
                return cli_fail(&a->o, C, EXIT_USAGE, "--resume: the folder name is empty");
        } else if (OPT("--checkpoint-dir")) {
            a->ckpt_dir = v;
        } else if (OPT("--checkpoint-every")) {
            if (v && !strcmp(v, "epoch"))
                a->ckpt_every = 0;
            else
                NEED_INT("--checkpoint-every", 1, 1000000000000LL, a->ckpt_every)
        } else if (OPT("--keep-checkpoints")) {
            NEED_INT("--keep-checkpoints", 1, 1000000, a->ckpt_keep)
        } else if (OPT("--bucket-kb")) {
            NEED_INT("--bucket-kb", 0, 1048576, a->bucket_kb)
        } else if (OPT("--on-nan")) {
            if (v && strcmp(v, "stop") && strcmp(v, "skip-batch"))
                return cli_fail(&a->o, C, EXIT_USAGE, "--on-nan: '%s' is not stop or skip-batch", v);
            if (v)
                a->skip_nan = !strcmp(v, "skip-batch");
        } else if (OPT("--channels")) {
            NEED_INT("--channels", 1, 3, a->channels)
            if (v && a->channels == 2)
                return cli_fail(&a->o, C, EXIT_USAGE, "--channels: 1 (grey) or 3 (RGB)");
        } else if (OPT("--image-size")) {
            if (v && parse_hw(v, &a->resize_h, &a->resize_w))
                return cli_fail(&a->o, C, EXIT_USAGE, "--image-size: '%s' is not HxW (e.g. 32x32)", v);
        } else if (OPT("--crop")) {
            if (v && parse_hw(v, &a->crop_h, &a->crop_w))
                return cli_fail(&a->o, C, EXIT_USAGE, "--crop: '%s' is not HxW (e.g. 28x28)", v);
        } else if (!strcmp(argv[i], "--augment-flip")) {
            a->aug_flip = 1;
        } else if (OPT("--augment-crop")) {
            NEED_INT("--augment-crop", 0, 4096, a->aug_crop)
        } else if (!strcmp(argv[i], "--dense-embedding")) {
            a->dense_emb = 1;
        } else if (!strcmp(argv[i], "--numbers")) {
            a->topt.replace_numbers = 1;
        } else if (!strcmp(argv[i], "--email-headers")) {
            a->topt.strip_email_headers = 1;
        } else if (!strcmp(argv[i], "--hash-vocab")) {
            a->topt.hash_vocab = 1;
        } else if (OPT("--train-labels")) {
            a->train_labels = v;
        } else if (OPT("--train")) {
            a->train = v;
        } else if (OPT("--valid-labels")) {
            a->valid_labels = v;
        } else if (OPT("--valid")) {
            a->valid = v;
        } else if (OPT("--out")) {
            a->out = v;
        } else if (OPT("--history")) {
            a->history = v;
        } else if (OPT("--arch")) {
            a->arch = v;
        } else if (OPT("--optimizer")) {
            a->opt_s = v;
        } else if (OPT("--text-column")) {
            a->text_col = v;
        } else if (OPT("--label-column")) {
            a->label_col = v;
        } else if (!strcmp(argv[i], "--skip-bad-lines")) {
            a->skip_bad = 1;
        } else if (OPT("--class-weight")) {
            a->class_weight = v;
        } else if (OPT("--scale")) {
            NEED_FLOAT("--scale", 1e-12, 1e12, a->scale)
        } else if (OPT("--lr")) {
            NEED_FLOAT("--lr", 1e-12, 1e3, a->lr)
        } else if (OPT("--momentum")) {
            NEED_FLOAT("--momentum", 0, 0.999999, a->momentum)
        } else if (OPT("--weight-decay")) {
            NEED_FLOAT("--weight-decay", 0, 1e3, a->wd)
        } else if (OPT("--clip-norm")) {
            NEED_FLOAT("--clip-norm", 0, 1e12, a->clip)
        } else if (OPT("--epochs")) {
            NEED_INT("--epochs", 1, 1000000, a->epochs)
        } else if (OPT("--batch-size")) {
            NEED_INT("--batch-size", 1, 1 << 24, a->batch)
        } else if (OPT("--seed")) {
            NEED_INT("--seed", 0, (long long)(~0ULL >> 1), a->seed)
        } else if (OPT("--threads")) {
            NEED_INT("--threads", 1, 4096, a->threads)
        } else if (OPT("--embedding-dim")) {
            NEED_INT("--embedding-dim", 1, 1 << 16, a->emb_dim)
        } else if (OPT("--hidden")) {
            NEED_INT("--hidden", 1, 1 << 20, a->hidden)
        } else if (OPT("--word-ngrams")) {
            NEED_INT("--word-ngrams", 1, 5, n)
            a->topt.word_ngrams = (int)n;
        } else if (OPT("--buckets")) {
            NEED_INT("--buckets", 0, 100000000, n)
            a->topt.buckets = n;
        } else if (OPT("--min-count")) {
            NEED_INT("--min-count", 1, 1000000000, n)
            a->topt.min_count = n;
        } else if (OPT("--max-vocab")) {
            NEED_INT("--max-vocab", 0, 100000000, n)
            a->topt.max_vocab = n;
        } else if (OPT("--char-ngrams")) {
            int lo, hi, used = 0;
            if (v && (sscanf(v, "%d-%d%n", &lo, &hi, &used) != 2 || v[used] || lo < 1 ||
                      hi < lo || hi > 10))
                return cli_fail(&a->o, C, EXIT_USAGE, "--char-ngrams: '%s' is not MIN-MAX with "
                                "1 <= MIN <= MAX <= 10 (e.g. 3-6)", v);
            if (v) {
                a->topt.char_ngram_min = lo;
                a->topt.char_ngram_max = hi;
            }
        } else {
            return cli_fail(&a->o, C, EXIT_USAGE, "unknown option '%s' (see ember train --help)",
                            argv[i]);
        }
        if (r < 0)
            return cli_fail(&a->o, C, EXIT_USAGE, "%s needs a value", argv[i]);
#undef OPT
#undef NEED_INT
#undef NEED_FLOAT
    }
    if (!a->train)
        return cli_fail(&a->o, C, EXIT_USAGE, "--train FILE is required (see ember train --help)");
    if (!a->out)
        return cli_fail(&a->o, C, EXIT_USAGE, "--out MODEL is required (see ember train --help)");
    if (a->resume_dir && a->ckpt_dir && strcmp(a->resume_dir, a->ckpt_dir) != 0)
        return cli_fail(&a->o, C, EXIT_USAGE, "--resume %s and --checkpoint-dir %s name different "
                        "folders", a->resume_dir, a->ckpt_dir);
    if (a->resume_dir)
        a->ckpt_dir = a->resume_dir;
    if (a->resume && !a->ckpt_dir)
        return cli_fail(&a->o, C, EXIT_USAGE, "--resume needs a folder: --resume D or "
                        "--checkpoint-dir D");
    if (!a->ckpt_dir && (a->ckpt_every >= 0 || a->ckpt_keep >= 0))
        return cli_fail(&a->o, C, EXIT_USAGE, "--checkpoint-every and --keep-checkpoints need "
                        "--checkpoint-dir D");
    return 0;
}

/* The progress printer plus what the CLI reports itself: warnings and
 * skipped batches go to stderr, the resume and the totals to the summary. */
typedef struct cli_progress {
    ember_progress_printer pp;
    const cli_out *o;
    int print_epochs;           /* the printer handles epochs and resumes */
    char resumed[4096];         /* checkpoint resumed from, "" if none */
    double *epoch_s;            /* [epochs] seconds per epoch run here, NaN for the others */
    FILE *hist;                 /* --history CSV, or NULL */
    const ember_history *h;     /* the run's history (earlier epochs of a resumed run) */
    int hist_rows, hist_valid, hist_skip;
} cli_progress;

/* One --history row: Keras CSVLogger's layout (epoch from 0, the metrics in
 * name order), plus the epoch's seconds and, with --on-nan skip-batch, the
 * batches skipped. */
static void history_row(cli_progress *cp, int epoch, double loss, double acc, double vloss,
                        double vacc, double secs, double skipped)
{
    fprintf(cp->hist, "%d,%.9g,%.9g", epoch, acc, loss);
    if (cp->hist_valid)
        fprintf(cp->hist, ",%.9g,%.9g", vacc, vloss);
    if (isnan(secs))
        fputc(',', cp->hist);
    else
        fprintf(cp->hist, ",%.3f", secs);
    if (cp->hist_skip)
        fprintf(cp->hist, ",%.0f", skipped);
    fputc('\n', cp->hist);
    cp->hist_rows++;
}

static void on_progress(const ember_progress *p, void *user)
{
    cli_progress *cp = user;
    if (p->event == EMBER_PROGRESS_RESUMED)
        snprintf(cp->resumed, sizeof cp->resumed, "%s", p->message);
    if (p->event == EMBER_PROGRESS_EPOCH_END && p->epoch >= 0 && p->epoch < p->epochs) {
        if (cp->epoch_s)
            cp->epoch_s[p->epoch] = p->elapsed_s;
        if (cp->hist) {
            /* a resumed run: the checkpoint's epochs first (their time is unknown) */
            for (int e = cp->hist_rows; e < p->epoch && e < ember_history_epochs(cp->h); e++)
                history_row(cp, e, ember_history_get(cp->h, "loss", e),
                            ember_history_get(cp->h, "accuracy", e),
                            ember_history_get(cp->h, "val_loss", e),
                            ember_history_get(cp->h, "val_accuracy", e), NAN,
                            ember_history_get(cp->h, "skipped_batches", e));
            history_row(cp, p->epoch, p->loss, p->accuracy, p->val_loss, p->val_accuracy,
                        p->elapsed_s, (double)p->skipped);
            fflush(cp->hist);
        }
    }
    if (cp->o->quiet)
        return;
    if (p->event == EMBER_PROGRESS_WARNING || p->event == EMBER_PROGRESS_BATCH_SKIPPED) {
        if (cp->pp.style == EMBER_PROGRESS_BAR)
            fputs("\r\033[K", stdout);
        fflush(stdout);
        fprintf(stderr, "ember train: %s: %s\n",
                p->event == EMBER_PROGRESS_WARNING ? "warning" : "skipped batch", p->message);
        return;
    }
    if (cp->print_epochs)
        ember_progress_print(p, &cp->pp);
}

/* The architecture text: built-in name or file contents (caller frees). */
static char *arch_text(const train_args *a, int text, ember_error *err)
{
    const char *name = a->arch ? a->arch : (text ? "text" : "mlp");
    char buf[512];
    if (!strcmp(name, "text")) {
        snprintf(buf, sizeof buf,
                 "# the reference text model\nembedding %lld\nglobal_average_pooling1d\n"
                 "dense %lld relu\ndense classes softmax\n", a->emb_dim, a->hidden);
        return strdup(buf);
    }
    if (!strcmp(name, "mlp")) {
        snprintf(buf, sizeof buf, "dense %lld relu\ndense classes softmax\n", a->hidden);
        return strdup(buf);
    }
    if (!strcmp(name, "cnn"))
        return strdup(CLI_ARCH_CNN);
    return cli_read_file(name, err);
}

/* Whether the first layer of an architecture text works on images
 * (conv2d, pooling, flatten, batch_normalization) rather than on vectors. */
static int arch_starts_spatial(const char *arch)
{
    static const char *const first[] = {"conv2d", "max_pool2d", "average_pool2d",
                                        "global_average_pooling2d", "flatten",
                                        "batch_normalization", NULL};
    const char *p = arch;
    for (;;) {
        p += strspn(p, " \t\r\n");
        if (*p != '#')
            break;
        p += strcspn(p, "\n");
    }
    size_t n = strcspn(p, " \t\r\n");
    for (int i = 0; first[i]; i++)
        if (strlen(first[i]) == n && strncmp(p, first[i], n) == 0)
            return 1;
    return 0;
}

/* Image folders: train (class order from its folder names), valid mapped
 * to the same classes by name. Fills the class list (one name per line)
 * and the options JSON the model stores so test/predict prepare images the
 * same way. With --normalize, per-channel mean/std are measured on the
 * training images and applied to both (and stored). */
static int load_image_folders(const train_args *a, ember_image_dataset **tr, ember_image_dataset **va,
                              ember_tensor **x, ember_tensor **y, ember_tensor **xv,
                              ember_tensor **yv, char **class_list, char **img_json,
                              ember_error *err)
{
    ember_image_options io = ember_image_options_default();
    io.scale = (float)a->scale;
    io.channels = (int)a->channels;
    io.resize_height = a->resize_h, io.resize_width = a->resize_w;
    io.crop_height = a->crop_h, io.crop_width = a->crop_w;
    if (cli_load_image_folder(a->train, &io, NULL, tr, x, y, err))
        return -1;
    int64_t K = ember_image_dataset_class_count(*tr), C = (*x)->shape[3];
    size_t len = 1;
    for (int64_t k = 0; k < K; k++) {
        const char *nm = ember_image_dataset_class_name(*tr, k);
        if (strchr(nm, '\n')) {
            snprintf(err->message, sizeof err->message, "%s: class folder name '%s' contains a "
                     "newline", a->train, nm);
            err->code = EMBER_ERR_FORMAT;
            return -1;
        }
        len += strlen(nm) + 1;
    }
    if (!(*class_list = calloc(len, 1))) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->code = EMBER_ERR_NOMEM;
        return -1;
    }
    for (int64_t k = 0; k < K; k++) {
        strcat(*class_list, ember_image_dataset_class_name(*tr, k));
        if (k + 1 < K)
            strcat(*class_list, "\n");
    }
    io.channels = (int)C; /* predict converts to what training saw */
    if (a->normalize) {
        if (ember_image_channel_stats(*x, io.mean, io.std, err))
            return -1;
        for (int64_t c = 0; c < C; c++)
            if (!(io.std[c] > 0)) /* a constant channel: leave its scale alone */
                io.std[c] = 1.0f;
        float *d = (*x)->data;
        int64_t n = ember_tensor_numel(*x);
        for (int64_t i = 0; i < n; i++)
            d[i] = (d[i] - io.mean[i % C]) / io.std[i % C];
    }
    if (ember_image_options_to_json(&io, img_json, err))
        return -1;
    if (a->valid) {
        cli_classes cls = {K, NULL, NULL, 0};
        if (!(cls.names = calloc((size_t)K, sizeof *cls.names))) {
            snprintf(err->message, sizeof err->message, "out of memory");
            err->code = EMBER_ERR_NOMEM;
            return -1;
        }
        for (int64_t k = 0; k < K; k++)
            cls.names[k] = (char *)ember_image_dataset_class_name(*tr, k);
        int r = cli_load_image_folder(a->valid, &io, &cls, va, xv, yv, err);
        free(cls.names);
        if (r)
            return -1;
    }
    return 0;
}

/* Per-example weights from --class-weight (balanced or a file). */
static float *class_weights(const char *spec, const ember_pipeline *p, const ember_tensor *y,
                            ember_error *err)
{
    int64_t K = ember_pipeline_class_count(p), N = y->shape[0];
    double *w = calloc((size_t)K, sizeof *w);
    float *out = malloc((size_t)N * sizeof *out);
    char *text = NULL;
    if (!w || !out)
        goto nomem;
    if (!strcmp(spec, "balanced")) {
        int64_t *count = calloc((size_t)K, sizeof *count);
        if (!count)
            goto nomem;
        for (int64_t i = 0; i < N; i++)
            count[(int64_t)y->data[i]]++;
        for (int64_t k = 0; k < K; k++)
            w[k] = count[k] ? (double)N / ((double)K * (double)count[k]) : 0.0;
        free(count);
    } else {
        if (!(text = cli_read_file(spec, err)))
            goto fail;
        for (int64_t k = 0; k < K; k++)
            w[k] = 1.0;
        int line = 0;
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            line++;
            char label[256];
            double v;
            int used = 0;
            if (l[0] == '#' || l[strspn(l, " \t\r")] == '\0')
                continue;
            if (sscanf(l, "%255s %lf %n", label, &v, &used) != 2 || l[used] || !(v >= 0)) {
                snprintf(err->message, sizeof err->message, "%s:%d: expected \"label weight\" "
                         "with weight >= 0", spec, line);
                err->code = EMBER_ERR_FORMAT;
                goto fail;
            }
            int64_t k = ember_pipeline_class_id(p, label);
            if (k < 0) {
                snprintf(err->message, sizeof err->message, "%s:%d: label '%s' is not in the "
                         "training data", spec, line, label);
                err->code = EMBER_ERR_FORMAT;
                goto fail;
            }
            w[k] = v;
        }
    }
    for (int64_t i = 0; i < N; i++)
        out[i] = (float)w[(int64_t)y->data[i]];
    free(w);
    free(text);
    return out;
nomem:
    snprintf(err->message, sizeof err->message, "out of memory for class weights");
    err->code = EMBER_ERR_NOMEM;
fail:
    free(w);
    free(out);
    free(text);
    return NULL;
}

/* The lineage of this run (cli.h): every option with its resolved value,
 * the arguments that re-run it, and the manifests of its data. */
/* A float setting as the decimal it was written as (0.9f -> 0.9, not
 * 0.899999976). */
static double float_value(float f)
{
    char b[32];
    snprintf(b, sizeof b, "%.7g", (double)f);
    return strtod(b, NULL);
}

static int record_lineage(cli_lineage *L, const train_args *a, int argc, char **argv, int text,
                          int folder_images, const ember_optimizer_config *opt, int threads,
                          ember_error *err)
{
    char buf[64];
    char *trl = NULL, *val = NULL;
    if (!text && !folder_images) {
        trl = a->train_labels ? strdup(a->train_labels) : cli_idx_labels_path(a->train);
        val = a->valid && !a->valid_labels ? cli_idx_labels_path(a->valid)
              : a->valid_labels ? strdup(a->valid_labels) : NULL;
    }
    /* the arguments as given, less output, checkpoint and display options,
     * with the seed and the thread count made explicit */
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        static const char *const with_value[] = {"--out", "--history", "--checkpoint-dir", "--checkpoint-every",
                                                 "--keep-checkpoints", "--seed", "--threads", NULL};
        int drop = 0;
        for (const char *const *w = with_value; *w && !drop; w++) {
            size_t n = strlen(*w);
            if (!strncmp(s, *w, n) && (s[n] == '=' || !s[n])) {
                drop = 1;
                i += !s[n];
            }
        }
        if (!strcmp(s, "--json") || !strcmp(s, "--quiet") || !strncmp(s, "--resume=", 9))
            drop = 1;
        if (!strcmp(s, "--resume")) {
            drop = 1;
            i += i + 1 < argc && argv[i + 1][0] != '-';
        }
        if (!drop)
            cli_lineage_arg(L, s);
    }
    snprintf(buf, sizeof buf, "%lld", a->seed);
    cli_lineage_arg(L, "--seed");
    cli_lineage_arg(L, buf);
    snprintf(buf, sizeof buf, "%d", threads);
    cli_lineage_arg(L, "--threads");
    cli_lineage_arg(L, buf);

    /* data */
    cli_lineage_opt(L, "train", a->train, 1);
    cli_lineage_opt(L, "train-labels", trl, -1);
    cli_lineage_opt(L, "valid", a->valid, -1);
    cli_lineage_opt(L, "valid-labels", val, -1);
    cli_lineage_opt(L, "text-column", a->text_col, -1);
    cli_lineage_opt(L, "label-column", a->label_col, -1);
    cli_lineage_opt(L, "skip-bad-lines", NULL, a->skip_bad);
    cli_lineage_opt_num(L, "scale", float_value((float)a->scale));
    if (a->resize_h)
        snprintf(buf, sizeof buf, "%lldx%lld", a->resize_h, a->resize_w);
    cli_lineage_opt(L, "image-size", a->resize_h ? buf : NULL, -1);
    if (a->crop_h)
        snprintf(buf, sizeof buf, "%lldx%lld", a->crop_h, a->crop_w);
    cli_lineage_opt(L, "crop", a->crop_h ? buf : NULL, -1);
    if (a->channels)
        cli_lineage_opt_num(L, "channels", (double)a->channels);
    else
        cli_lineage_opt(L, "channels", NULL, -1);
    cli_lineage_opt(L, "normalize", NULL, a->normalize);
    /* text pipeline */
    cli_lineage_opt_num(L, "word-ngrams", a->topt.word_ngrams);
    if (a->topt.char_ngram_min)
        snprintf(buf, sizeof buf, "%d-%d", a->topt.char_ngram_min, a->topt.char_ngram_max);
    cli_lineage_opt(L, "char-ngrams", a->topt.char_ngram_min ? buf : NULL, -1);
    cli_lineage_opt_num(L, "buckets", (double)a->topt.buckets);
    cli_lineage_opt_num(L, "min-count", (double)a->topt.min_count);
    cli_lineage_opt_num(L, "max-vocab", (double)a->topt.max_vocab);
    cli_lineage_opt(L, "numbers", NULL, a->topt.replace_numbers);
    cli_lineage_opt(L, "email-headers", NULL, a->topt.strip_email_headers);
    cli_lineage_opt(L, "hash-vocab", NULL, a->topt.hash_vocab);
    /* model */
    cli_lineage_opt(L, "arch", a->arch ? a->arch : text ? "text" : "mlp", 1);
    cli_lineage_opt_num(L, "embedding-dim", (double)a->emb_dim);
    cli_lineage_opt_num(L, "hidden", (double)a->hidden);
    cli_lineage_opt(L, "dense-embedding", NULL, a->dense_emb);
    /* training */
    cli_lineage_opt_num(L, "epochs", (double)a->epochs);
    cli_lineage_opt_num(L, "batch-size", (double)a->batch);
    cli_lineage_opt(L, "optimizer", a->opt_s, 1);
    cli_lineage_opt_num(L, "lr", a->lr > 0 ? a->lr : opt->kind == EMBER_OPT_ADAM ? 0.001 : 0.01);
    cli_lineage_opt_num(L, "momentum", a->momentum);
    cli_lineage_opt(L, "nesterov", NULL, a->nesterov);
    if (opt->kind == EMBER_OPT_ADAM) {
        cli_lineage_opt_num(L, "adam-beta1", float_value(opt->beta1));
        cli_lineage_opt_num(L, "adam-beta2", float_value(opt->beta2));
        cli_lineage_opt_num(L, "adam-epsilon", float_value(opt->epsilon));
    }
    cli_lineage_opt_num(L, "weight-decay", a->wd);
    cli_lineage_opt_num(L, "clip-norm", a->clip);
    cli_lineage_opt(L, "on-nan", a->skip_nan ? "skip-batch" : "stop", 1);
    cli_lineage_opt(L, "class-weight", a->class_weight, -1);
    cli_lineage_opt(L, "shuffle", NULL, a->shuffle);
    cli_lineage_opt(L, "augment-flip", NULL, a->aug_flip);
    cli_lineage_opt_num(L, "augment-crop", (double)a->aug_crop);
    cli_lineage_opt_num(L, "seed", (double)a->seed);
    cli_lineage_opt_num(L, "threads", threads);
    cli_lineage_opt(L, "checkpoint-dir", a->ckpt_dir, -1);

    ember_text_read_options ro = ember_text_read_options_default();
    ro.text_column = a->text_col;
    ro.label_column = a->label_col;
    ro.skip_bad_lines = a->skip_bad;
    const char *tr[2] = {a->train, trl}, *va[2] = {a->valid, val};
    int r = cli_lineage_add_data(L, "train", tr, 2, &ro, err) ||
            (a->valid && cli_lineage_add_data(L, "valid", va, 2, &ro, err));
    const char *arch = a->arch;
    if (!r && arch && strcmp(arch, "text") && strcmp(arch, "mlp") && strcmp(arch, "cnn"))
        r = cli_lineage_add_data(L, "arch", &arch, 1, NULL, err);
    const char *cw = a->class_weight;
    if (!r && cw && strcmp(cw, "balanced"))
        r = cli_lineage_add_data(L, "class_weight", &cw, 1, NULL, err);
    free(trl);
    free(val);
    return r ? -1 : 0;
}

/* Refuse an --out that cannot be written before hours of training, not
 * after: a folder, or a file in a folder that is missing or not writable.
 * (A full disk can still fail the save itself; that keeps the old file.) */
static int check_out(const cli_out *o, const char *out)
{
    struct stat st;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_fail(o, "train", EXIT_DATA, "--out %s is a folder; give a file name", out);
    char *dir = strdup(out);
    if (!dir)
        return cli_fail(o, "train", EXIT_DATA, "out of memory");
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int rc = EXIT_OK;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        errno = ENOTDIR;
    else if (access(dir, W_OK | X_OK) == 0)
        errno = 0;
    if (errno)
        rc = cli_fail(o, "train", EXIT_DATA, "--out %s: cannot write in its folder %s: %s", out, dir,
                      strerror(errno));
    free(dir);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    memset(&a, 0, sizeof a);
    a.arch = NULL;
    a.opt_s = "adam";
    a.lr = -1;
    a.scale = CLI_DEFAULT_SCALE;
    a.epochs = 10;
    a.batch = 32;
    a.seed = 42;
    a.emb_dim = 64;
    a.hidden = 128;
    a.shuffle = 1;
    a.ckpt_every = -1;
    a.ckpt_keep = -1;
    a.bucket_kb = -1;
    a.topt = ember_text_options_default();
    const char *C = "train";
    int pr = parse_args(argc, argv, &a);
    if (pr == -2)
        return EXIT_OK;
    if (pr)
        return pr;
    cli_out *o = &a.o;
    ember_optimizer_config opt;
    if (!strcmp(a.opt_s, "adam"))
        opt = ember_optimizer_adam(a.lr > 0 ? (float)a.lr : 0.001f);
    else if (!strcmp(a.opt_s, "sgd"))
        opt = ember_optimizer_sgd(a.lr > 0 ? (float)a.lr : 0.01f, (float)a.momentum, a.nesterov);
    else
        return cli_fail(o, C, EXIT_USAGE, "--optimizer '%s' is unknown (adam, sgd)", a.opt_s);
    if (a.nesterov && (strcmp(a.opt_s, "sgd") != 0 || a.momentum <= 0))
        return cli_fail(o, C, EXIT_USAGE, "--nesterov needs --optimizer sgd and --momentum > 0");
    opt.weight_decay = (float)a.wd;
    opt.clip_norm = (float)a.clip;

    int out_rc = check_out(o, a.out);
    if (out_rc)
        return out_rc;
    double t_start = cli_now();
    ember_error err;
    ember_dist *dist = NULL;
    if (a.distributed) {
        if (ember_dist_mpi_create(&dist, &err))
            return cli_fail_err(o, C, &err);
        if (ember_dist_rank(dist) != 0)
            o->quiet = 1; /* rank 0 reports; the others print only errors */
    }
    int root = ember_dist_rank(dist) == 0;
    cli_lineage lin;
    cli_progress cp;
    memset(&cp, 0, sizeof cp);
    if (cli_lineage_start(&lin, argc, argv, &err)) {
        ember_dist_destroy(dist);
        return cli_fail_err(o, C, &err);
    }
    int folder_images = !cli_is_idx(a.train) && cli_is_image_path(a.train);
    int text = !cli_is_idx(a.train) && !folder_images;
    ember_image_dataset *itr_ds = NULL, *iva_ds = NULL;
    char *class_list = NULL, *img_json = NULL;
    ember_text_dataset *dtr = NULL, *dva = NULL;
    ember_pipeline *pipe = NULL;
    ember_ragged *itr = NULL, *iva = NULL;
    ember_tensor *x = NULL, *y = NULL, *xv = NULL, *yv = NULL;
    ember_model *m = NULL;
    ember_history *h = NULL;
    float *sw = NULL;
    char *arch = NULL, *pjson = NULL;
    int rc = EXIT_OK;
    int64_t input_dim = 0, classes, n_train, n_valid = 0;
    cli_skipped skipped[2]; /* --skip-bad-lines: train, valid */
    memset(skipped, 0, sizeof skipped);
    if (!folder_images && (a.normalize || a.channels || a.resize_h || a.crop_h)) {
        rc = cli_fail(o, C, EXIT_USAGE, "%s: --normalize, --channels, --image-size and --crop "
                      "work with image folders only", a.train);
        goto done;
    }
    if (a.skip_bad && !text) {
        rc = cli_fail(o, C, EXIT_USAGE, "%s: --skip-bad-lines works with text data only (CSV, "
                      "TSV, fastText, folders of text files)", a.train);
        goto done;
    }
    if (text) {
        ember_text_read_options ro = ember_text_read_options_default();
        ro.text_column = a.text_col;
        ro.label_column = a.label_col;
        ro.skip_bad_lines = a.skip_bad;
        if (ember_text_dataset_load(&dtr, a.train, &ro, &err) ||
            (a.valid && ember_text_dataset_load(&dva, a.valid, &ro, &err)) ||
            ember_pipeline_create(&pipe, &a.topt, &err) || ember_pipeline_fit(pipe, dtr, &err) ||
            (dva && a.skip_bad && ember_text_dataset_drop_unknown_labels(dva, pipe, NULL, &err)) ||
            ember_pipeline_encode(pipe, dtr, &itr, &y, &err) ||
            (dva && ember_pipeline_encode(pipe, dva, &iva, &yv, &err)) ||
            ember_pipeline_to_json(pipe, &pjson, &err))
            goto fail;
        if (a.skip_bad) {
            cli_skipped_take(&skipped[0], a.train, dtr);
            if (dva)
                cli_skipped_take(&skipped[1], a.valid, dva);
            cli_skipped_print(o, C, &skipped[0]);
            cli_skipped_print(o, C, &skipped[1]);
        }
        input_dim = ember_pipeline_input_dim(pipe);
        classes = ember_pipeline_class_count(pipe);
        n_train = itr->n;
        n_valid = iva ? iva->n : 0;
        if (a.class_weight && !(sw = class_weights(a.class_weight, pipe, y, &err)))
            goto fail;
    } else {
        if (a.class_weight) {
            rc = cli_fail(o, C, EXIT_USAGE, "--class-weight works with text data only for now");
            goto done;
        }
        if (folder_images) {
            if (load_image_folders(&a, &itr_ds, &iva_ds, &x, &y, &xv, &yv, &class_list, &img_json,
                                   &err))
                goto fail;
            classes = ember_image_dataset_class_count(itr_ds);
        } else {
            if (cli_load_idx_pair(a.train, a.train_labels, (float)a.scale, &x, &y, &err) ||
                (a.valid && cli_load_idx_pair(a.valid, a.valid_labels, (float)a.scale, &xv, &yv, &err)))
                goto fail;
            float maxl = 0;
            for (int64_t i = 0; i < y->shape[0]; i++)
                maxl = y->data[i] > maxl ? y->data[i] : maxl;
            classes = (int64_t)maxl + 1;
        }
        n_train = x->shape[0];
        n_valid = xv ? xv->shape[0] : 0;
    }
    if (classes < 2) {
        rc = cli_fail(o, C, EXIT_DATA, "%s: the labels give %lld class; need 2 or more", a.train,
                      (long long)classes);
        goto done;
    }
    if (!(arch = arch_text(&a, text, &err)))
        goto fail;
    if (a.dense_emb) {
        /* "embedding N" -> "embedding N dense" on the first embedding line */
        char *e = strstr(arch, "embedding");
        char *nl = e ? strchr(e, '\n') : NULL;
        if (e && nl) {
            size_t head = (size_t)(nl - arch);
            char *na = malloc(strlen(arch) + 8);
            if (!na) {
                snprintf(err.message, sizeof err.message, "out of memory");
                err.code = EMBER_ERR_NOMEM;
                goto fail;
            }
            memcpy(na, arch, head);
            strcpy(na + head, " dense");
            strcat(na, nl);
            free(arch);
            arch = na;
        }
    }
    char scale_s[32];
    snprintf(scale_s, sizeof scale_s, "%.9g", a.scale);
    const char *arch_src = a.arch && strcmp(a.arch, "text") && strcmp(a.arch, "mlp") &&
                           strcmp(a.arch, "cnn") ? a.arch : "--arch";
    /* Image models whose first layer works on images take {H, W, C}; others
     * (an MLP) take the flattened pixels. */
    int rank = 1;
    int64_t shape[EMBER_MAX_DIMS] = {1, 1, 1, 1};
    if (text) {
        shape[0] = input_dim;
    } else {
        int spatial = x->ndim == 4 && arch_starts_spatial(arch);
        rank = spatial ? 3 : 1;
        for (int i = 1; i < x->ndim; i++)
            shape[0] *= x->shape[i];
        if (spatial)
            for (int i = 0; i < 3; i++)
                shape[i] = x->shape[i + 1];
    }
    if (ember_model_create_from_arch_shape(&m, arch, arch_src, rank, shape, classes,
                                           (uint64_t)a.seed, &err) ||
        (!text && cli_fit_input_shape(m, x, a.train, &err)) ||
        (xv && cli_fit_input_shape(m, xv, a.valid, &err)) ||
        ember_model_set_metadata(m, CLI_META_ARCH, arch, &err) ||
        (text ? ember_model_set_metadata(m, CLI_META_PIPELINE, pjson, &err)
         : folder_images ? ember_model_set_metadata(m, CLI_META_IMAGE_OPTIONS, img_json, &err) ||
                               ember_model_set_metadata(m, CLI_META_CLASSES, class_list, &err)
                         : ember_model_set_metadata(m, CLI_META_SCALE, scale_s, &err)) ||
        ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err) ||
        ember_history_create(&h, &err))
        goto fail;
    ember_model_set_threads(m, (int)a.threads);
    if (record_lineage(&lin, &a, argc, argv, text, folder_images, &opt,
                       ember_model_get_threads(m), &err))
        goto fail;
    if (!o->quiet && !o->json) {
        printf("train: %s (%lld examples, %lld classes%s)\n", a.train, (long long)n_train,
               (long long)classes, text ? "" : ", images");
        if (a.valid)
            printf("valid: %s (%lld examples)\n", a.valid, (long long)n_valid);
        if (text)
            printf("pipeline: %lld embedding rows (vocabulary + 2 reserved + n-gram buckets)\n",
                   (long long)input_dim);
        ember_model_summary(m, stdout);
    }
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = (int)a.epochs;
    fc.batch_size = a.batch;
    fc.shuffle = a.shuffle;
    fc.x_val = xv;
    fc.x_val_ids = iva;
    fc.y_val = yv;
    fc.sample_weight = sw;
    fc.augment_flip = a.aug_flip;
    fc.augment_crop_pad = a.aug_crop;
    fc.on_nan = a.skip_nan ? EMBER_ON_NAN_SKIP_BATCH : EMBER_ON_NAN_STOP;
    fc.checkpoint_dir = a.ckpt_dir;
    fc.checkpoint_every = a.ckpt_every > 0 ? a.ckpt_every : 0;
    if (a.ckpt_keep > 0)
        fc.checkpoint_keep = (int)a.ckpt_keep;
    fc.resume = a.resume;
    fc.dist = dist;
    if (a.bucket_kb >= 0)
        fc.dist_bucket_kb = a.bucket_kb;
    if (dist && !o->quiet && !o->json)
        printf("distributed: %d ranks, global batch %lld\n", ember_dist_size(dist), a.batch);
    cp.pp.out = stdout;
    cp.pp.style = isatty(STDOUT_FILENO) ? EMBER_PROGRESS_BAR : EMBER_PROGRESS_LINES;
    if (o->json)
        cp.pp.style = EMBER_PROGRESS_JSON;
    cp.o = o;
    cp.print_epochs = !o->quiet;
    cp.h = h;
    cp.hist_valid = a.valid != NULL;
    cp.hist_skip = a.skip_nan;
    if (!(cp.epoch_s = malloc((size_t)a.epochs * sizeof *cp.epoch_s))) {
        rc = cli_fail(o, C, EXIT_DATA, "out of memory");
        goto done;
    }
    for (long long e = 0; e < a.epochs; e++)
        cp.epoch_s[e] = NAN;
    if (a.history && root) { /* rank 0's alone, like --out */
        if (!(cp.hist = fopen(a.history, "w"))) {
            rc = cli_fail(o, C, EXIT_DATA, "--history %s: cannot write: %s", a.history, strerror(errno));
            goto done;
        }
        fprintf(cp.hist, "epoch,accuracy,loss%s,seconds%s\n",
                cp.hist_valid ? ",val_accuracy,val_loss" : "", cp.hist_skip ? ",skipped_batches" : "");
        fflush(cp.hist);
    }
    fc.progress = on_progress; /* also times the epochs for the lineage */
    fc.progress_user = &cp;
    double t_fit = cli_now();
    if (text ? ember_model_fit_ids(m, itr, y, &fc, h, &err) : ember_model_fit(m, x, y, &fc, h, &err))
        goto fail;
    double fit_s = cli_now() - t_fit;
    if (cp.hist && fclose(cp.hist) != 0) {
        cp.hist = NULL;
        rc = cli_fail(o, C, EXIT_DATA, "--history %s: write error: %s", a.history, strerror(errno));
        goto done;
    }
    cp.hist = NULL;
    if (root && (cli_lineage_finish(&lin, m, h, cp.epoch_s, &err) ||
                 ember_model_save(m, a.out, &err)))
        goto fail;
    int last = ember_history_epochs(h) - 1;
    /* over the whole run, resumed epochs included (the history has them) */
    long long skipped_total = 0;
    for (int e = 0; e <= last; e++)
        skipped_total += (long long)ember_history_get(h, "skipped_batches", e);
    if (o->json && root) {
        printf("{\"model\":");
        cli_json_str(a.out);
        printf(",\"epochs\":%d,\"train_seconds\":%.6f,\"total_seconds\":%.6f,\"examples\":%lld,"
               "\"classes\":%lld,\"loss\":%.9g,\"accuracy\":%.9g", last + 1, fit_s,
               cli_now() - t_start, (long long)n_train, (long long)classes,
               ember_history_get(h, "loss", last), ember_history_get(h, "accuracy", last));
        if (a.valid)
            printf(",\"val_loss\":%.9g,\"val_accuracy\":%.9g", ember_history_get(h, "val_loss", last),
                   ember_history_get(h, "val_accuracy", last));
        if (a.skip_bad && text)
            cli_skipped_json(skipped, 2);
        if (a.ckpt_dir || a.skip_nan)
            printf(",\"skipped_batches\":%lld", skipped_total);
        if (dist) {
            ember_dist_stats ds;
            ember_dist_get_stats(dist, &ds);
            printf(",\"ranks\":%d,\"comm_seconds\":%.6f,\"comm_bytes\":%lld,"
                   "\"sparse_exchanges\":%lld,\"dense_exchanges\":%lld", ember_dist_size(dist),
                   ds.comm_seconds, (long long)ds.bytes, (long long)ds.sparse_exchanges,
                   (long long)ds.dense_exchanges);
        }
        if (a.resume) {
            printf(",\"resumed_from\":");
            if (cp.resumed[0])
                cli_json_str(cp.resumed);
            else
                printf("null");
        }
        printf("}\n");
    } else if (!o->quiet) {
        if (skipped_total > 0)
            printf("skipped %lld batch%s for NaN/Inf (--on-nan skip-batch)\n", skipped_total,
                   skipped_total == 1 ? "" : "es");
        printf("trained in %.2f s (%.2f s in all); saved %s\n", fit_s, cli_now() - t_start, a.out);
        if (dist) {
            ember_dist_stats ds;
            ember_dist_get_stats(dist, &ds);
            printf("communication (rank 0): %.3f s in %lld collectives, %.1f MB; embedding rows "
                   "sent sparsely in %lld steps, whole in %lld\n", ds.comm_seconds,
                   (long long)ds.calls, (double)ds.bytes / 1e6, (long long)ds.sparse_exchanges,
                   (long long)ds.dense_exchanges);
        }
    }
    goto done;
fail:
    rc = cli_fail_err(o, C, &err);
done:
    /* unless every rank failed alike, the others may be waiting in a
     * collective: end the job */
    if (rc != EXIT_OK && ember_dist_size(dist) > 1 && !ember_dist_error_is_shared(dist))
        ember_dist_abort(dist, rc);
    ember_dist_destroy(dist);
    if (cp.hist)
        fclose(cp.hist);
    free(cp.epoch_s);
    cli_lineage_free(&lin);
    free(arch);
    free(pjson);
    free(sw);
    free(class_list);
    free(img_json);
    ember_history_destroy(h);
    ember_model_destroy(m);
    ember_ragged_destroy(itr);
    ember_ragged_destroy(iva);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_tensor_destroy(xv);
    ember_tensor_destroy(yv);
    ember_pipeline_destroy(pipe);
    ember_text_dataset_destroy(dtr);
    ember_text_dataset_destroy(dva);
    ember_image_dataset_destroy(itr_ds); /* after x, y: x is a view of its images */
    ember_image_dataset_destroy(iva_ds);
    return rc;
}
