/*
 * ember.h - the one public header of Ember, a small deep-learning toolkit in C.
 *
 * What it gives: float32 tensors, a Keras-like Sequential model (Dense with
 * activations, Activation, Dropout), losses (categorical cross-entropy fused
 * with softmax, binary cross-entropy, mean squared error), optimizers (SGD with
 * momentum/Nesterov, Adam, L2 weight decay, clipping by global norm),
 * fit/evaluate/predict, model files in the safetensors layout, and an IDX
 * reader (MNIST-style files, gzip or not).
 *
 * What it deliberately does not do: print (progress goes through a callback
 * you install), exit, or keep global state. Every fallible call returns an
 * ember_status and, when you pass an ember_error, a message that names the file,
 * field or layer at fault.
 *
 * Threading: an object (model, tensor) is used by one thread at a time. The
 * library parallelises inside calls with OpenMP and OpenBLAS; the thread count
 * is a setting of the model (ember_model_set_threads).
 *
 * Quick example (a 784-128-10 classifier):
 *
 *     ember_error err;
 *     ember_model *m = NULL;
 *     int64_t in_shape[1] = {784};
 *     ember_model_create(&m, 1, in_shape, 42, &err);
 *     ember_model_add_dense(m, 128, EMBER_ACT_RELU, &err);
 *     ember_model_add_dense(m, 10, EMBER_ACT_SOFTMAX, &err);
 *     ember_optimizer_config opt = ember_optimizer_adam(0.001f);
 *     ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err);
 *     ember_fit_config fc = ember_fit_config_default();
 *     fc.epochs = 2; fc.batch_size = 32;
 *     ember_model_fit(m, x_train, y_train, &fc, NULL, &err);
 *     ember_model_destroy(m);
 */
#ifndef EMBER_H
#define EMBER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 1
#define EMBER_VERSION_PATCH 0

/* Version string, e.g. "0.1.0". Never NULL. */
const char *ember_version(void);
/* Git commit the library was built from ("unknown" outside a git checkout). */
const char *ember_git_commit(void);

/* ------------------------------------------------------------------ errors */

typedef enum ember_status {
    EMBER_OK = 0,
    EMBER_ERR_NOMEM = -1,       /* an allocation failed or a size overflowed */
    EMBER_ERR_ARG = -2,         /* a bad argument from the calling program */
    EMBER_ERR_IO = -3,          /* open/read/write/rename of a file failed */
    EMBER_ERR_FORMAT = -4,      /* a file or input is malformed */
    EMBER_ERR_SHAPE = -5,       /* tensor shapes do not fit together */
    EMBER_ERR_STATE = -6,       /* call out of order (e.g. fit before compile) */
    EMBER_ERR_NUMERIC = -7,     /* NaN or Inf appeared in loss or gradients */
    EMBER_ERR_UNSUPPORTED = -8  /* valid request this build cannot do */
} ember_status;

#define EMBER_ERROR_MESSAGE_MAX 512

/* Filled by fallible calls when non-NULL. `message` names the user's location
 * first (file:line, JSON field, layer index) then what was expected; `where`
 * is Ember's own source location, for bug reports. */
typedef struct ember_error {
    ember_status code;
    char message[EMBER_ERROR_MESSAGE_MAX];
    char where[64];
} ember_error;

/* Short constant name of a status ("out of memory", ...). Never NULL. */
const char *ember_status_to_string(ember_status s);

/* ----------------------------------------------------------------- tensors */

#define EMBER_MAX_DIMS 4
#define EMBER_ALIGNMENT 64 /* bytes; every owned tensor buffer is aligned so */

/* A dense row-major float32 array of 1 to 4 dimensions. `data` is owned (and
 * freed by ember_tensor_destroy) when `owns_data` is non-zero; otherwise it is
 * a view borrowed from someone else. */
typedef struct ember_tensor {
    int ndim;                       /* 1..EMBER_MAX_DIMS */
    int64_t shape[EMBER_MAX_DIMS];  /* shape[i] >= 0; unused entries are 1 */
    float *data;                    /* numel floats, 64-byte aligned if owned */
    int owns_data;
} ember_tensor;

/* Allocate a zero-filled tensor. Errors: EMBER_ERR_ARG (ndim out of range,
 * negative dim), EMBER_ERR_NOMEM (allocation or element-count overflow).
 * On success *out is owned by the caller (ember_tensor_destroy). */
ember_status ember_tensor_create(ember_tensor **out, int ndim, const int64_t *shape,
                                 ember_error *err);
/* Wrap caller memory as a tensor view (no copy; `data` must outlive the view). */
ember_status ember_tensor_create_view(ember_tensor **out, float *data, int ndim,
                                      const int64_t *shape, ember_error *err);
/* Free a tensor (and its data if owned). NULL is a no-op. */
void ember_tensor_destroy(ember_tensor *t);
/* Number of elements (product of the shape). */
int64_t ember_tensor_numel(const ember_tensor *t);
/* Multiply every element by `scale` (e.g. 1/255 for bytes). */
void ember_tensor_scale(ember_tensor *t, float scale);
/* View rows [begin, end) of the first dimension (no copy). */
ember_status ember_tensor_slice(ember_tensor **out, const ember_tensor *t, int64_t begin,
                                int64_t end, ember_error *err);

/* ---------------------------------------------------------------- data: IDX */

/* Read an IDX file (the MNIST format: magic 0x0000 TT DD, big-endian dims,
 * then data), gzip-compressed or not (detected from the bytes, not the name).
 * Every element type of the format (u8, i8, i16, i32, f32, f64) is converted
 * to float32 without scaling. The header is checked before any allocation:
 * magic, dimension count (1..4), each dimension, and the exact data length.
 * Errors: EMBER_ERR_IO (cannot open/read), EMBER_ERR_FORMAT (message names the
 * file and the field: magic, type, ndim, dims[i], data length). */
ember_status ember_idx_load(ember_tensor **out, const char *path, ember_error *err);

/* Turn integer class ids (a rank-1 tensor, as read from an IDX labels file)
 * into a one-hot [N, classes] tensor. Errors: EMBER_ERR_FORMAT when a label is
 * not an integer in [0, classes). */
ember_status ember_one_hot(ember_tensor **out, const ember_tensor *labels, int64_t classes,
                           ember_error *err);

/* ------------------------------------------------------------------ models */

typedef enum ember_activation {
    EMBER_ACT_LINEAR = 0, /* y = x */
    EMBER_ACT_SIGMOID,    /* y = 1 / (1 + exp(-x)) */
    EMBER_ACT_TANH,       /* y = tanh(x) */
    EMBER_ACT_RELU,       /* y = max(0, x) */
    EMBER_ACT_SOFTMAX     /* y_i = exp(x_i) / sum_j exp(x_j), over the last axis */
} ember_activation;

typedef enum ember_init {
    EMBER_INIT_DEFAULT = 0,     /* Glorot uniform for kernels, zeros for biases */
    EMBER_INIT_GLOROT_UNIFORM,  /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
    EMBER_INIT_HE_UNIFORM,      /* U(-l, l), l = sqrt(6 / fan_in) (for ReLU) */
    EMBER_INIT_HE_NORMAL,       /* N(0, 2 / fan_in) truncated at 2 sigma */
    EMBER_INIT_ZEROS
} ember_init;

typedef struct ember_dense_config {
    int64_t units;               /* output features, > 0 */
    ember_activation activation; /* applied after W.x + b */
    ember_init kernel_init;      /* EMBER_INIT_DEFAULT = Glorot uniform */
    int use_bias;                /* non-zero: add b (initialised to zero) */
} ember_dense_config;

typedef struct ember_model ember_model;

/* Create an empty Sequential model whose examples have shape `input_shape`
 * (without the batch dimension; rank 1..3). `seed` drives initialisation,
 * shuffling and dropout through separate streams. Threads default to the
 * number of cores. Errors: EMBER_ERR_ARG, EMBER_ERR_NOMEM. */
ember_status ember_model_create(ember_model **out, int input_rank, const int64_t *input_shape,
                                uint64_t seed, ember_error *err);
/* Free a model. NULL is a no-op. */
void ember_model_destroy(ember_model *m);

/* Add layers (only before compile). A Dense layer takes the last axis of its
 * input (a rank > 1 input is an error: add Flatten in the image issue).
 * Weight layout: kernel W[in][out] (as Keras), y = x W + b. */
ember_status ember_model_add_dense(ember_model *m, int64_t units, ember_activation act,
                                   ember_error *err);
ember_status ember_model_add_dense_ex(ember_model *m, const ember_dense_config *cfg,
                                      ember_error *err);
/* Dense config with Keras' defaults: linear, Glorot uniform, bias on. */
ember_dense_config ember_dense_config_default(int64_t units);
/* A stand-alone activation layer (any ember_activation). */
ember_status ember_model_add_activation(ember_model *m, ember_activation act, ember_error *err);
/* Inverted dropout: in training each element is zeroed with probability
 * `rate` and the survivors are scaled by 1/(1-rate); identity in evaluation.
 * 0 <= rate < 1. */
ember_status ember_model_add_dropout(ember_model *m, float rate, ember_error *err);

/* Number of layers added so far, and of trainable parameters. */
int ember_model_layer_count(const ember_model *m);
int64_t ember_model_param_count(const ember_model *m);
/* Write a Keras-like summary (one line per layer: type, output shape,
 * parameters) to `f`. */
void ember_model_summary(const ember_model *m, FILE *f);

/* Set the thread count used by OpenMP loops and OpenBLAS inside this model's
 * calls; n <= 0 means the number of cores. Same seed + same thread count gives
 * bit-identical weights. On a machine shared with other programs, run with
 * OMP_WAIT_POLICY=passive in the environment (the `ember` tool does this
 * itself): OpenMP's default spinning makes every parallel region wait for a
 * descheduled worker, which measured 100x slower with one busy core. */
void ember_model_set_threads(ember_model *m, int n);
int ember_model_get_threads(const ember_model *m);

/* Free-form string metadata saved in the model file's "__metadata__" map
 * (e.g. how inputs were prepared). Keys starting with "ember." are reserved.
 * Setting an existing key replaces its value. Errors: EMBER_ERR_ARG (NULL,
 * empty or reserved key), EMBER_ERR_NOMEM. */
ember_status ember_model_set_metadata(ember_model *m, const char *key, const char *value,
                                      ember_error *err);
/* Value for `key`, or NULL. Borrowed until the key is set again or the model
 * is destroyed. */
const char *ember_model_get_metadata(const ember_model *m, const char *key);

/* ------------------------------------------------------------- compile */

typedef enum ember_optimizer_kind { EMBER_OPT_SGD = 0, EMBER_OPT_ADAM } ember_optimizer_kind;

typedef struct ember_optimizer_config {
    ember_optimizer_kind kind;
    float learning_rate;  /* > 0 */
    float momentum;       /* SGD: 0 <= momentum < 1 (0 = plain SGD) */
    int nesterov;         /* SGD: Nesterov momentum (needs momentum > 0) */
    float beta1, beta2;   /* Adam: decay of the first and second moments */
    float epsilon;        /* Adam: added to sqrt(v_hat) */
    float weight_decay;   /* L2: adds weight_decay * w to every kernel's gradient */
    float clip_norm;      /* > 0: rescale all gradients so their global L2 norm <= clip_norm */
} ember_optimizer_config;

/* Adam with Keras' defaults (beta1 0.9, beta2 0.999, epsilon 1e-7). */
ember_optimizer_config ember_optimizer_adam(float learning_rate);
/* SGD; momentum 0 is plain SGD. */
ember_optimizer_config ember_optimizer_sgd(float learning_rate, float momentum, int nesterov);

typedef enum ember_loss_kind {
    /* -sum_k y_k log p_k, mean over the batch. Targets: one-hot / probability
     * rows [N, K], or integer class ids [N] ("sparse"). When the last layer
     * ends in softmax, loss and softmax are fused (gradient p - y). */
    EMBER_LOSS_CATEGORICAL_CROSSENTROPY = 0,
    /* -(y log p + (1-y) log(1-p)), mean over all outputs; p from a sigmoid
     * output is fused the same way (gradient p - y). Targets in [0, 1]. */
    EMBER_LOSS_BINARY_CROSSENTROPY,
    /* mean over all outputs of (p - y)^2. */
    EMBER_LOSS_MSE
} ember_loss_kind;

/* Fix layers, allocate parameters (one aligned block) and initialise them
 * from the seed, and set up the optimizer. Calling compile again resets the
 * optimizer state but keeps the weights. Errors: EMBER_ERR_ARG (bad optimizer
 * settings, named field), EMBER_ERR_STATE (no layers), EMBER_ERR_NOMEM. */
ember_status ember_model_compile(ember_model *m, const ember_optimizer_config *opt,
                                 ember_loss_kind loss, ember_error *err);

/* ------------------------------------------------------------ training */

typedef enum ember_progress_event {
    EMBER_PROGRESS_EPOCH_BEGIN = 0,
    EMBER_PROGRESS_BATCH_END,
    EMBER_PROGRESS_EPOCH_END
} ember_progress_event;

/* What a progress callback sees. Metrics are running means over the epoch so
 * far (batch end) or final (epoch end; val_* only there, NaN when absent). */
typedef struct ember_progress {
    ember_progress_event event;
    int epoch, epochs;            /* 0-based epoch index, total */
    int64_t step, steps;          /* batches done in this epoch, total per epoch */
    double elapsed_s;             /* since the epoch began */
    double loss, accuracy;        /* accuracy is NaN for MSE */
    double val_loss, val_accuracy;
} ember_progress;

typedef void (*ember_progress_fn)(const ember_progress *p, void *user);

typedef enum ember_progress_style {
    EMBER_PROGRESS_BAR = 0,  /* Keras bar updated in place (a terminal) */
    EMBER_PROGRESS_LINES,    /* one plain line per epoch (logs, pipes) */
    EMBER_PROGRESS_JSON      /* one JSON object per epoch */
} ember_progress_style;

/* A ready-made printer: pass ember_progress_print as the callback and a
 * ember_progress_printer as `user`. */
typedef struct ember_progress_printer {
    FILE *out;
    ember_progress_style style;
    double last_draw_s; /* internal: throttles redraws */
} ember_progress_printer;
void ember_progress_print(const ember_progress *p, void *printer);

typedef struct ember_fit_config {
    int epochs;                 /* >= 1 */
    int64_t batch_size;         /* >= 1 */
    int shuffle;                /* reshuffle the training order each epoch */
    const ember_tensor *x_val;  /* validation inputs, or NULL */
    const ember_tensor *y_val;  /* validation targets (same forms as y) */
    ember_progress_fn progress; /* NULL: silent */
    void *progress_user;
} ember_fit_config;

/* epochs 1, batch 32, shuffle on, no validation, silent. */
ember_fit_config ember_fit_config_default(void);

/* Per-epoch record of every metric: "loss", "accuracy" (classification),
 * "val_loss", "val_accuracy" (with validation data). */
typedef struct ember_history ember_history;
ember_status ember_history_create(ember_history **out, ember_error *err);
void ember_history_destroy(ember_history *h);
int ember_history_epochs(const ember_history *h);
/* Value of metric `name` after epoch `epoch` (0-based); NaN if absent. */
double ember_history_get(const ember_history *h, const char *name, int epoch);

/* Train. x: [N, ...input_shape]; y: [N, K] targets, or [N] integer class ids
 * for categorical cross-entropy. `history` may be NULL; otherwise epochs are
 * appended to it. Errors: EMBER_ERR_STATE (not compiled), EMBER_ERR_SHAPE
 * (x/y shapes, named), EMBER_ERR_FORMAT (a label out of range, named by row),
 * EMBER_ERR_NUMERIC (NaN/Inf loss or gradient: epoch, step and layer named). */
ember_status ember_model_fit(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                             const ember_fit_config *cfg, ember_history *history,
                             ember_error *err);

/* Loss and accuracy (NaN for MSE) over a data set, in evaluation mode.
 * batch_size <= 0 means 256. */
ember_status ember_model_evaluate(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                                  int64_t batch_size, double *loss, double *accuracy,
                                  ember_error *err);

/* Outputs for x ([N, ...]) as a new [N, K] tensor owned by the caller. */
ember_status ember_model_predict(ember_model *m, const ember_tensor *x, int64_t batch_size,
                                 ember_tensor **out, ember_error *err);

/* --------------------------------------------------------------- files */

/* Save to one file in the safetensors layout: 8-byte little-endian header
 * length, a JSON header (dtype, shape, data_offsets per tensor, and a
 * "__metadata__" map with the architecture, compile settings, seed and a
 * SHA-256 of the tensor bytes), then the raw little-endian float32 data.
 * Written to a temporary file and renamed, so a failed save leaves any old
 * file intact. Errors: EMBER_ERR_STATE (not compiled), EMBER_ERR_IO. */
ember_status ember_model_save(const ember_model *m, const char *path, ember_error *err);

/* Load a model saved by ember_model_save; it comes back compiled and ready
 * for predict/evaluate/fit (optimizer state starts fresh). Every offset,
 * shape, length and the checksum are validated before any tensor is used.
 * Errors: EMBER_ERR_IO, EMBER_ERR_FORMAT (names the field or tensor). */
ember_status ember_model_load(ember_model **out, const char *path, ember_error *err);

#ifdef __cplusplus
}
#endif
#endif /* EMBER_H */
