/*
 * layer.h - the internal layer interface. Each family (dense.c, activation.c,
 * dropout.c) keeps its own config struct and fills one row of the table in
 * layer_table.c. A layer sees whole mini-batches of row-major float data:
 * input x[B][in_size], output y[B][out_size].
 *
 * Ownership: parameters and their gradients live in the model's flat blocks;
 * a layer only holds views (params, grads) set by the model after build.
 * Activations are owned by the model's arena; layers receive pointers.
 *
 * Gradient conventions: backward ACCUMULATES into parameter gradients (+=)
 * and OVERWRITES dx. dx may be NULL (first layer: the input gradient is not
 * needed and is not computed).
 */
#ifndef EMBER_LAYER_H
#define EMBER_LAYER_H

#include "core.h"
#include "kernels/conv.h"

typedef enum ember_layer_kind {
    EMBER_LAYER_DENSE = 0,
    EMBER_LAYER_ACTIVATION,
    EMBER_LAYER_DROPOUT,
    EMBER_LAYER_EMBEDDING,
    EMBER_LAYER_GAP1D,
    EMBER_LAYER_CONV2D,
    EMBER_LAYER_MAXPOOL2D,
    EMBER_LAYER_AVGPOOL2D,
    EMBER_LAYER_GAP2D,
    EMBER_LAYER_FLATTEN,
    EMBER_LAYER_BATCHNORM,
    EMBER_LAYER_KIND_COUNT
} ember_layer_kind;

typedef struct ember_layer ember_layer;

/* Everything forward needs besides data: mode and the per-step RNG. */
typedef struct ember_step_ctx {
    int training;           /* 1: training (dropout active), 0: evaluation */
    ember_rng dropout_rng;  /* stream for this step; layers offset by layer index */
    int threads;
    /* Ragged token ids of this batch (models whose input is ids): example b
     * has ids[offsets[b] .. offsets[b+1]). NULL for dense inputs. */
    const int32_t *ids;
    const int64_t *offsets;
    /* Optional weight of each id (the model passes each example's distinct
     * ids with their counts); NULL means 1 each. */
    const float *id_weights;
    /* Position of this batch's first row in the whole mini-batch: 0, except
     * on a rank of a distributed fit, which holds rows [row0, row0 + B) of
     * it. Dropout draws element (row0 + b, j) from the same counter as a
     * single process, so the masks are the same. */
    int64_t row0;
} ember_step_ctx;

typedef struct ember_layer_ops {
    const char *name; /* "dense", "activation", "dropout": the file format's type names */
    /* Shape inference and parameter count, given the input shape (no batch). */
    ember_status (*build)(ember_layer *l, ember_error *err);
    /* Initialise params from rng (params view already set). */
    void (*init)(ember_layer *l, ember_rng *rng);
    /* y[B][out] from x[B][in]. */
    void (*forward)(ember_layer *l, float *y, const float *x, int64_t B, const ember_step_ctx *ctx);
    /* dx[B][in] (may be NULL) from dy[B][out]; x and y are this step's forward
     * input and output. If l->dy_is_preact, dy is already the gradient with
     * respect to the pre-activation (fused softmax/sigmoid + cross-entropy). */
    void (*backward)(ember_layer *l, float *dx, const float *dy, const float *x, const float *y,
                     int64_t B, const ember_step_ctx *ctx);
    /* Config as a JSON object text (appended to buf); returns chars written or -1. */
    int (*describe)(const ember_layer *l, char *buf, size_t cap);
    void (*destroy)(ember_layer *l); /* frees config */
} ember_layer_ops;

struct ember_layer {
    ember_layer_kind kind;
    const ember_layer_ops *ops;
    int index;                          /* position in the model */
    int in_rank, out_rank;
    int64_t in_shape[EMBER_MAX_DIMS];   /* without batch */
    int64_t out_shape[EMBER_MAX_DIMS];
    int64_t in_size, out_size;          /* products of the shapes */
    int64_t param_count;
    int64_t kernel_count;               /* leading params subject to L2 weight decay */
    float *params;                      /* view into the model's parameter block */
    float *grads;                       /* view into the gradient block, same layout */
    int dy_is_preact;                   /* set by compile for fused output + loss */
    ember_activation out_activation;    /* activation applied at this layer's output */
    void *config;                       /* family-specific */
    float *scratch;                     /* family-specific per-batch scratch, from the arena */
    int64_t scratch_per_row;            /* floats of scratch needed per batch row */
    /* Sparse gradients (Embedding in lazy mode): after backward only rows
     * touched[0..n_touched) of row_len floats each are non-zero; the model
     * zeroes, norms, clips and updates just those rows. */
    int sparse_grads;
    int64_t row_len;
    int64_t n_touched;
    int64_t *touched;                   /* capacity: the arena's ids per batch */
};

const ember_layer_ops *ember__layer_ops(ember_layer_kind kind);
/* Kind from its file-format name; -1 if unknown. */
int ember__layer_kind_from_name(const char *name);

/* Family configs (also used by model save/load). */
typedef struct dense_config {
    int64_t units;
    ember_activation activation;
    ember_init kernel_init;
    int use_bias;
} dense_config;

typedef struct activation_config {
    ember_activation activation;
} activation_config;

typedef struct dropout_config {
    float rate;
} dropout_config;

typedef struct embedding_config {
    int64_t input_dim;  /* rows V: token ids are in [0, V) */
    int64_t output_dim; /* D */
    int lazy;           /* 1: sparse rows + lazy optimizer; 0: dense (Keras-exact) */
    int64_t *stamp;     /* [V] last step that touched each row (sparse bookkeeping) */
    int64_t step;
} embedding_config;

typedef struct conv2d_config {
    int64_t filters, kh, kw, sh, sw;
    int same;                   /* padding: 1 "same", 0 "valid" */
    ember_activation activation;
    ember_init kernel_init;     /* EMBER_INIT_DEFAULT = He uniform */
    int use_bias;
    ember_conv_geom g;          /* set by build */
    enum { CONV_IM2COL = 0, CONV_POINTWISE, CONV_DIRECT } algo; /* set by build (conv2d.c) */
    float *dkt;                 /* [F][kh*kw*C] kernel gradient, transposed (im2col backward) */
} conv2d_config;

typedef struct pool2d_config {
    int64_t ph, pw, sh, sw;
    int same;
    ember_conv_geom g;          /* set by build */
} pool2d_config;

typedef struct batchnorm_config {
    float momentum;             /* moving = momentum * moving + (1 - momentum) * batch */
    float epsilon;
    int64_t C;                  /* features: the last axis */
    float *invstd;              /* [C], 1/sqrt(var + eps) of the last training batch */
    double *acc;                /* [2C] reduction scratch */
} batchnorm_config;

/* Activation helpers shared by dense.c and activation.c (activation.c). */
void ember__act_forward(ember_activation a, float *y, const float *x, int64_t B, int64_t C);
/* dx = dy * f'(.) computed from the output y; in place allowed (dx == dy). */
void ember__act_backward(ember_activation a, float *dx, const float *dy, const float *y, int64_t B,
                         int64_t C);
const char *ember__act_name(ember_activation a);
int ember__act_from_name(const char *name); /* -1 if unknown */
const char *ember__init_name(ember_init i);
/* Fill a kernel of n weights (dense.c); DEFAULT means Glorot uniform. */
void ember__init_kernel(ember_init init, float *W, int64_t n, int64_t fan_in, int64_t fan_out,
                        ember_rng *rng);
/* Bias + activation over rows of `cols` features, and the matching backward
 * pieces, shared by Dense and Conv2D (dense.c). db += column sums of dz in a
 * fixed order. */
void ember__bias_add(float *y, const float *b, int64_t rows, int64_t cols, int threads);
void ember__bias_grad(float *db, const float *dz, int64_t rows, int64_t cols, int threads);
int ember__init_from_name(const char *name);

#endif
