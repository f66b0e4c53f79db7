/*
 * model.h - the Sequential model's internals, shared by sequential.c (build,
 * compile), train.c (fit/evaluate/predict) and serialize.c (files).
 *
 * Memory: all parameters live in one 64-byte aligned block `params` [n_params];
 * gradients in `grads` of the same layout; the optimizer keeps its state arrays
 * of the same length. Layers hold views. Activations and scratch come from an
 * arena sized for `arena_batch` rows, allocated once per fit/evaluate/predict
 * call (only when the batch size grows), never inside the training step.
 */
#ifndef EMBER_MODEL_H
#define EMBER_MODEL_H

#include "layers/layer.h"
#include "losses/loss.h"
#include "optim/optim.h"

struct ember_model {
    int ids_input;          /* examples are bags of token ids (ember_ragged) */
    int input_rank;
    int64_t input_shape[EMBER_MAX_DIMS];
    int64_t input_size;
    uint64_t seed;
    int threads;

    ember_layer **layers;
    int n_layers, cap_layers;

    int compiled;
    int initialised;        /* params hold values (init or loaded) */
    int shared;             /* ember_model_share: layers' configs and params belong to
                               another model; predict only */
    ember_loss_kind loss;
    int fused;              /* last layer's activation fused with the loss */
    ember_optim optim;
    int64_t n_params;
    float *params;          /* [n_params] */
    float *grads;           /* [n_params] */
    int64_t epochs_done;    /* across fit calls: drives shuffle/dropout streams */

    int n_meta;             /* user metadata (ember_model_set_metadata) */
    char **meta_keys, **meta_values;

    /* arena, sized for arena_batch rows */
    int64_t arena_batch;
    float *arena;
    float **acts;           /* acts[0] = input batch, acts[i+1] = output of layer i */
    float *grad_a, *grad_b; /* ping-pong gradient buffers, [arena_batch][max_width] */
    float *targets;         /* gathered targets [arena_batch][K] */
    float *row_loss;        /* [arena_batch] */
    float *weights;         /* gathered sample weights [arena_batch] */
    int64_t arena_ids;      /* capacity of batch_ids */
    int32_t *batch_ids;     /* gathered token ids of a batch [arena_ids] */
    float *batch_id_weights; /* their counts [arena_ids] */
    int64_t *batch_offsets; /* [arena_batch + 1] */
    int64_t *touched;       /* sparse-gradient row lists, [arena_ids] per sparse layer */
    /* bag compaction bookkeeping for ids models: [embedding rows] each */
    int64_t *bag_stamp, *bag_pos;
    int64_t bag_counter;
};

/* The per-epoch record behind ember_history: values[epoch][EMBER_H_COUNT]. */
enum { EMBER_H_LOSS, EMBER_H_ACC, EMBER_H_VAL_LOSS, EMBER_H_VAL_ACC, EMBER_H_SKIPPED,
       EMBER_H_COUNT };
struct ember_history {
    int epochs, cap;
    double *values; /* [cap][EMBER_H_COUNT] */
};
/* Append one epoch (h may be NULL: nothing to do). */
ember_status ember__history_add(ember_history *h, const double v[EMBER_H_COUNT], ember_error *err);

/* Output width K of the model (last layer's out_size, or the input size). */
int64_t ember__model_out_size(const ember_model *m);
/* Make the arena hold B rows (and, for ids models, n_ids token ids). */
ember_status ember__model_arena(ember_model *m, int64_t B, int64_t n_ids, ember_error *err);
/* Allocate params/grads blocks and point the layers at them (no init). */
ember_status ember__model_alloc_params(ember_model *m, ember_error *err);
/* Forward B rows already in acts[0]; returns the output pointer. */
const float *ember__model_forward(ember_model *m, int64_t B, const ember_step_ctx *ctx);
/* Backward from dout (gradient w.r.t. the output, or the logits when fused),
 * accumulating parameter gradients. */
void ember__model_backward(ember_model *m, const float *dout, int64_t B, const ember_step_ctx *ctx);
/* The same, also writing the gradient w.r.t. the input batch into
 * dinput[B][input_size] (NULL: not computed). Models fed by another part
 * (the recommender's towers take id embeddings plus features) use it. */
void ember__model_backward_input(ember_model *m, const float *dout, int64_t B,
                                 const ember_step_ctx *ctx, float *dinput);
/* Logits of the last layer for the fused loss (valid after forward). */
const float *ember__model_logits(const ember_model *m);
/* Add a layer of `kind` with a heap config (taken over, freed on failure). */
ember_status ember__model_add(ember_model *m, ember_layer_kind kind, void *config,
                              ember_error *err);

#endif
