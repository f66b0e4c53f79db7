/*
 * dist.h - the inside of an ember_dist: what data-parallel fit (train.c)
 * needs from a communication layer, as a table of collectives. The model
 * defines the interface and never sees MPI; src/dist/mpi.c implements it
 * over MPI_COMM_WORLD (an application part, DESIGN.md), and tests may
 * implement it in process.
 *
 * Every collective is called by every rank in the same order with the same
 * sizes (fit guarantees that: the sizes depend only on the global batch and
 * on values already reduced). A collective that fails returns an error
 * status with a message; the caller then ends the job (ember_dist_abort),
 * since the other ranks may already wait in the next collective.
 */
#ifndef EMBER_DIST_H
#define EMBER_DIST_H
#include "model.h"

typedef enum ember_dist_type {
    EMBER_DIST_F32 = 0,
    EMBER_DIST_F64,
    EMBER_DIST_I64,
    EMBER_DIST_U8
} ember_dist_type;

typedef enum ember_dist_op { EMBER_DIST_SUM = 0, EMBER_DIST_MAX } ember_dist_op;

typedef struct ember_dist_ops {
    const char *name; /* "mpi" */
    /* buf[0..n) = op over all ranks' buf[0..n), in place, on every rank. */
    ember_status (*allreduce)(void *impl, void *buf, int64_t n, ember_dist_type t,
                              ember_dist_op op, ember_error *err);
    /* all[] = the concatenation, in rank order, of every rank's mine[0..counts[r]);
     * counts[size] is known to every rank (reduced before). */
    ember_status (*allgatherv_i64)(void *impl, const int64_t *mine, int64_t *all,
                                   const int64_t *counts, ember_error *err);
    /* End every rank of the job with exit status `code`; does not return
     * when it works. */
    void (*abort)(void *impl, int code);
    void (*destroy)(void *impl);
    /* Optional (NULL: the allreduce above is used, blocking, at the start):
     * start an in-place allreduce of buf[0..n) and return its request in
     * *req; buf must not be touched until wait. progress lets outstanding
     * requests move on (MPI_Test; never blocks); wait ends one request. */
    ember_status (*iallreduce)(void *impl, void *buf, int64_t n, ember_dist_type t,
                               ember_dist_op op, void **req, ember_error *err);
    void (*progress)(void *impl, void *req);
    ember_status (*wait)(void *impl, void *req, ember_error *err);
} ember_dist_ops;

struct ember_dist {
    int rank, size;
    const ember_dist_ops *ops;
    void *impl;
    /* counters for ember_dist_stats */
    double comm_s;
    int64_t comm_bytes, comm_calls;
    int64_t sparse_steps, dense_steps; /* embedding exchanges by kind */
    int error_shared;      /* ember_dist_error_is_shared: set by fit */
};

/* Make a dist over ops/impl (rank in 0..size-1); impl is the caller's until
 * this succeeds, then the dist's (ops->destroy frees it). */
ember_status ember__dist_create(ember_dist **out, int rank, int size, const ember_dist_ops *ops,
                                void *impl, ember_error *err);
/* The collectives, timed into the counters. */
ember_status ember__dist_allreduce(ember_dist *d, void *buf, int64_t n, ember_dist_type t,
                                   ember_dist_op op, ember_error *err);
ember_status ember__dist_allgatherv_i64(ember_dist *d, const int64_t *mine, int64_t *all,
                                        const int64_t *counts, ember_error *err);

/* The nonblocking allreduce, timed like the others (the time to start it
 * and, in wait, the time spent waiting). */
ember_status ember__dist_iallreduce(ember_dist *d, void *buf, int64_t n, ember_dist_type t,
                                    ember_dist_op op, void **req, ember_error *err);
void ember__dist_progress(ember_dist *d, void *req);
ember_status ember__dist_wait(ember_dist *d, void *req, ember_error *err);

/* Buffers of the per-step exchange, sized once per fit (no allocation in
 * the step). */
typedef struct ember_dist_step {
    ember_layer *sparse;   /* the lazy embedding, or NULL: dense exchange only */
    int64_t cap, rows;     /* touched-row capacity (the arena's ids), table rows */
    double *small;         /* [2 + size]: loss sum, correct, touched counts */
    int64_t *counts;       /* [size] */
    int64_t *all_ids;      /* [cap] every rank's touched rows, rank order */
    unsigned char *mask;   /* [rows], all 0 between steps */
    float *pack;           /* [cap * row_len + other layers' parameters] */
    /* Buckets (bucket_floats > 0): the gradients of the layers other than
     * the sparse one, cut into slices [lo, hi) of the gradient block, last
     * layers first. Bucket k is complete once layer b_layer[k]'s backward
     * has run; its allreduce starts then, overlapping the backward of the
     * layers before it, and the exchange waits for it. */
    int n_buckets, next;
    int64_t *b_lo, *b_hi;
    int *b_layer;
    void **b_req;
    ember_status b_status; /* the first failure of a bucket start */
    ember_error b_err;
} ember_dist_step;

/* After prepare_arena (the capacity is the arena's). bucket_floats: 0 for
 * one exchange after the whole backward pass, else the bucket size (a
 * bucket closes at the first layer boundary at or past it). Errors:
 * EMBER_ERR_NOMEM, EMBER_ERR_UNSUPPORTED (two lazy embeddings). */
ember_status ember__dist_step_init(ember_dist_step *st, const ember_model *m, const ember_dist *d,
                                   int64_t bucket_floats, ember_error *err);
/* Backward hook: layer `layer` has finished its backward; start the buckets
 * it completes and let the started ones progress. Errors are kept in
 * st->b_status and returned by the exchange (every rank still starts every
 * bucket, in order, so none waits forever). */
void ember__dist_after_layer(ember_dist_step *st, ember_dist *d, ember_model *m, int layer);
void ember__dist_step_deinit(ember_dist_step *st);
/* Sum the shard results of one step over all ranks: *loss_sum, *correct and
 * the gradient block (and, with a lazy embedding, make its touched rows the
 * union over ranks). Called by every rank after backward. */
ember_status ember__dist_exchange(ember_dist_step *st, ember_model *m, ember_dist *d,
                                  double *loss_sum, int64_t *correct, ember_error *err);
#endif
