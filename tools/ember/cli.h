/*
 * cli.h - shared pieces of the `ember` command-line tool. The CLI uses only
 * the public header; it parses arguments, loads data, calls the library and
 * picks exit codes (0 ok, 1 usage, 2 data or model error, 3 training failed).
 */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include "ember.h"

#include <stdbool.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_DATA = 2, EXIT_TRAIN = 3 };

/* Output mode shared by every subcommand. */
typedef struct cli_out {
    bool json;
    bool quiet;
} cli_out;

int cmd_train(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_data(int argc, char **argv);            /* data.c: dispatches to the three below */
int cmd_data_fingerprint(int argc, char **argv); /* data_manifest.c */
int cmd_data_verify(int argc, char **argv);      /* data_manifest.c */
int cmd_data_check(int argc, char **argv);       /* data_check.c */
int cmd_inspect(int argc, char **argv);          /* inspect.c */
int cmd_reproduce(int argc, char **argv);        /* reproduce.c */
int cmd_report(int argc, char **argv);           /* report.c */
int cmd_recommend(int argc, char **argv);        /* recommend.c: train, eval */

/* Print "ember <cmd>: <message>" to stderr (or a JSON error object on stdout
 * when json) and return `code`. */
int cli_fail(const cli_out *o, const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Print s as a JSON string literal to stdout, or to f. */
void cli_json_str(const char *s);
void cli_json_fstr(FILE *f, const char *s);
int cli_fail_err(const cli_out *o, const char *cmd, const ember_error *err);

/* Option parsing: if argv[*i] is `name`, take the next argument as its value
 * (error if missing) and advance *i. Returns 1 if matched, 0 if not, -1 on a
 * missing value. Also accepts --name=value. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);
int cli_parse_float(const char *s, double lo, double hi, double *out);

/* Load a labelled data set: an IDX images file (gzip or not) with its labels
 * file given or found beside it by the MNIST naming convention
 * (...-images-idx3-ubyte[.gz] -> ...-labels-idx1-ubyte[.gz]). Images
 * [N, H, W] become [N, H, W, 1] (NHWC; [N, H, W, C] and [N, features] are
 * kept) and are multiplied by `scale` (the model records the scale it was
 * trained with). `labels_path` may be NULL; `y` may be
 * NULL to load images only. */
int cli_load_idx_pair(const char *images_path, const char *labels_path, float scale,
                      ember_tensor **x, ember_tensor **y, ember_error *err);

/* The labels file of an IDX images file by the MNIST naming convention
 * (caller frees), or NULL when the name does not follow it. */
char *cli_idx_labels_path(const char *images);

/* Lineage (lineage.c): what `ember train` records in the model file so that
 * `ember inspect` can show and `ember reproduce` can re-run it. Metadata keys
 * (each value JSON):
 *   lineage.data     {role: manifest}: "train", "valid" (the data, IDX labels
 *                    files included), "arch" and "class_weight" (when they
 *                    are files); manifests of ember_data_fingerprint
 *   lineage.config   {"options": {flag: value, every option of train with its
 *                    resolved value, defaults included}, "args": [the
 *                    arguments that re-run it]}
 *   lineage.run      {"started", "finished" (UTC, ISO 8601), "seconds",
 *                    "host", "ember_version", "git_commit", "seed", "threads",
 *                    "command" (the arguments as given)}
 *   lineage.history  {"epochs": N, "loss": [N values], "accuracy": [...], ...
 *                    every metric the run had, "seconds": [per epoch, null
 *                    when not timed by this run]}
 *   lineage.metrics  the last epoch's metrics {"loss", "accuracy", ...} */
#define CLI_META_LINEAGE_DATA EMBER_META_LINEAGE_DATA
#define CLI_META_LINEAGE_CONFIG EMBER_META_LINEAGE_CONFIG
#define CLI_META_LINEAGE_RUN EMBER_META_LINEAGE_RUN
#define CLI_META_LINEAGE_HISTORY EMBER_META_LINEAGE_HISTORY
#define CLI_META_LINEAGE_METRICS EMBER_META_LINEAGE_METRICS

typedef struct cli_lineage {
    double t0;        /* cli_now() at the start */
    long long started; /* time(NULL) at the start */
    int argc;
    char **argv;
    void *data;       /* cJSON object role -> manifest */
    void *options;    /* cJSON object flag -> value */
    void *args;       /* cJSON array of strings */
} cli_lineage;
int cli_lineage_start(cli_lineage *L, int argc, char **argv, ember_error *err);
/* Fingerprint `paths` as data role `role` (NULL paths are left out). */
int cli_lineage_add_data(cli_lineage *L, const char *role, const char *const *paths, int n,
                         const ember_text_read_options *ro, ember_error *err);
/* Record option `flag` (without "--") with its resolved value: a string
 * (value), or a switch (value NULL: on 1 true, 0 false, -1 null = not set),
 * or a number. */
void cli_lineage_opt(cli_lineage *L, const char *flag, const char *value, int on);
void cli_lineage_opt_num(cli_lineage *L, const char *flag, double value);
/* Append one argument to the arguments that re-run the training. */
void cli_lineage_arg(cli_lineage *L, const char *arg);
/* Store everything in the model's metadata (before it is saved). */
/* epoch_seconds: [epochs] seconds per epoch (NaN: not timed), or NULL. */
int cli_lineage_finish(cli_lineage *L, ember_model *m, const ember_history *h,
                       const double *epoch_seconds, ember_error *err);
/* The same for `ember recommend train`: the history is the loss per epoch
 * ("loss", "seconds"), the final metrics {"loss"}. */
int cli_lineage_finish_recommender(cli_lineage *L, ember_recommender *r, const double *loss,
                                   const double *epoch_seconds, int epochs, int threads,
                                   ember_error *err);
void cli_lineage_free(cli_lineage *L);
/* The first input of the data role `role` in a model's lineage.data (JSON
 * text, NULL ok), when every file of that manifest is still there with its
 * recorded SHA-256: copied into out, 0. Else -1, the reason in err. */
int cli_lineage_data_file(const char *lineage_data, const char *role, char *out, size_t cap,
                          ember_error *err);
/* The training file a recommender file's lineage records, when unchanged
 * (for eval --k, top --exclude-seen and report without --train). */
int cli_recommender_train_file(const char *model, char *out, size_t cap, ember_error *err);

/* Reshape x [N, ...] to [N, model input shape] when the example sizes
 * agree (an image model takes {H, W, C}, an MLP the flattened features);
 * else -1 with an error naming `path` and both shapes. */
int cli_fit_input_shape(const ember_model *m, ember_tensor *x, const char *path, ember_error *err);

/* Class names of a model: its text pipeline's labels, or the image class
 * folders it was trained on (CLI_META_CLASSES), or none (n = 0: IDX labels
 * are numbers). */
typedef struct cli_classes {
    int64_t n;
    char **names;
    char *text;
    int owned;
} cli_classes;
int cli_model_classes(const ember_model *m, const ember_pipeline *pipe, cli_classes *out,
                      ember_error *err);
void cli_classes_free(cli_classes *c);
/* Name of class k, or its number written into buf. */
const char *cli_class_name(const cli_classes *c, int64_t k, char buf[24]);

/* True for an image file (by extension) or a folder whose class folders hold
 * image files (any image extension among the first 1000 files). */
bool cli_is_image_path(const char *path);
/* The image options a model was trained with: 1 if stored (filled in), 0 if
 * not (an IDX model), -1 with err if unreadable. */
int cli_model_image_options(const ember_model *m, ember_image_options *opt, ember_error *err);
/* Load a folder of class folders; *x is a view of the data set's images
 * [N, H, W, C], *y the class ids [N] mapped by name to `cls` (NULL: the
 * folder's own order); a class folder the model does not know is an error.
 * The caller destroys *x, *y and then *ds. */
int cli_load_image_folder(const char *dir, const ember_image_options *opt, const cli_classes *cls,
                          ember_image_dataset **ds, ember_tensor **x, ember_tensor **y,
                          ember_error *err);

/* Metadata keys the CLI stores in model files. */
#define CLI_META_SCALE "cli.input_scale"
#define CLI_META_PIPELINE EMBER_META_TEXT_PIPELINE /* ember_pipeline_to_json of a text model */
#define CLI_META_ARCH "cli.arch"          /* the architecture text it was built from */
#define CLI_META_CLASSES "image.classes"  /* class folder names, one per line, in id order */
#define CLI_META_IMAGE_OPTIONS "image.options" /* ember_image_options_to_json */

/* The built-in architectures (--arch text, --arch mlp). */
#define CLI_ARCH_TEXT                                                                      \
    "# the reference text model\n"                                                       \
    "embedding 64\n"                                                                     \
    "global_average_pooling1d\n"                                                         \
    "dense 128 relu\n"                                                                   \
    "dense classes softmax\n"

/* The Fashion-MNIST CNN (--arch cnn). */
#define CLI_ARCH_CNN                                                                       \
    "# the Fashion-MNIST CNN\n"                                                            \
    "conv2d 32 3 relu\n"                                                                   \
    "max_pool2d 2\n"                                                                       \
    "conv2d 64 3 relu\n"                                                                   \
    "max_pool2d 2\n"                                                                       \
    "flatten\n"                                                                            \
    "dense 128 relu\n"                                                                     \
    "dense classes softmax\n"

/* True when a data path names an IDX file (MNIST naming: "...idx3-ubyte"). */
bool cli_is_idx(const char *path);
/* Read a whole (small) file into a NUL-terminated string; NULL on error. */
char *cli_read_file(const char *path, ember_error *err);
/* How a model's inputs are prepared: its text pipeline (*pipe, caller
 * destroys) or, for image models, the input scale. -1 with err on failure. */
int cli_model_inputs(ember_model *m, const char *model_path, ember_pipeline **pipe, double *scale,
                     ember_error *err);
/* Where a labelled data set's columns and labels are, as test and calibrate
 * take them (NULL: the defaults). */
typedef struct cli_data_opts {
    const char *labels;       /* IDX labels file (NULL: by the MNIST naming) */
    const char *text_column;  /* CSV/TSV */
    const char *label_column;
    long long batch;          /* predict batch size */
    int skip_bad_lines;       /* text: skip and count bad lines and unknown labels */
    int keep_images;          /* images: keep them in cli_labelled.x (ember report) */
} cli_data_opts;

/* The options shared by the verbs that read labelled data (test,
 * calibrate, report, data check): --json and --quiet into o, and when d is
 * not NULL --skip-bad-lines, --labels, --text-column, --label-column into d.
 * Returns 1 when argv[*i] was one of them (*i advanced past its value), 0
 * when not, -1 when its value is missing. */
int cli_common_opt(int argc, char **argv, int *i, cli_out *o, cli_data_opts *d);

/* Bad records skipped in one text data file (--skip-bad-lines): the count and
 * the first messages, copied out of the data set. */
typedef struct cli_skipped {
    const char *file;         /* borrowed; NULL: nothing was read with skipping on */
    int folder;               /* a folder data set: its records are files */
    int64_t count;
    int shown;
    char first[EMBER_TEXT_SKIPPED_SHOWN][EMBER_ERROR_MESSAGE_MAX];
} cli_skipped;
/* Copy d's skip count and messages (file is borrowed). */
void cli_skipped_take(cli_skipped *s, const char *file, const ember_text_dataset *d);
/* Unless quiet, and when some were skipped, print to stderr
 * "ember CMD: skipped N bad lines in FILE; first:" and the kept messages. */
void cli_skipped_print(const cli_out *o, const char *cmd, const cli_skipped *s);
/* The --json field for n files, with a leading comma, to stdout:
 * ,"skipped_bad_lines":[{"file":F,"count":N,"first":[messages]},...]
 * Entries whose file is NULL are left out. */
void cli_skipped_json(const cli_skipped *s, int n);

/* A labelled data set and the model's outputs on it. */
typedef struct cli_labelled {
    ember_tensor *p;      /* [N, K] outputs */
    int64_t *truth;       /* [N] true class ids, each in [0, K) */
    cli_classes cls;      /* class names (n = 0: numbers) */
    ember_pipeline *pipe; /* a text model's pipeline, else NULL */
    cli_skipped skipped;  /* text with skip_bad_lines: what was skipped */
    ember_tensor *x;      /* images with keep_images: the model's inputs [N, ...] */
    int image_ndim;       /* the images' own shape before it was fitted to the model's */
    int64_t image_shape[EMBER_MAX_DIMS]; /* input (an MLP takes them flattened) */
    ember_image_dataset *img; /* the folder data set x is a view of, or NULL */
} cli_labelled;
/* Load `data_path` prepared as the model's training data was (text pipeline,
 * image folder options, IDX scale), with the same readers as train, and
 * predict it. A label the model does not know is an error (text: from
 * ember_pipeline_encode, naming the file and line; numbers out of range:
 * EMBER_ERR_FORMAT naming the file, example and byte), unless
 * opt->skip_bad_lines (text only): then bad lines and unknown labels are
 * skipped and counted in out->skipped. On failure *out is left empty. */
int cli_labelled_predict(ember_model *m, const char *model_path, const char *data_path,
                         const cli_data_opts *opt, cli_labelled *out, ember_error *err);
void cli_labelled_free(cli_labelled *l);
/* Seconds from a monotonic clock. */
double cli_now(void);
#define CLI_DEFAULT_SCALE (1.0f / 255.0f) /* IDX images are bytes 0..255 */

#endif
