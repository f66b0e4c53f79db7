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
} ember_dist_step;

/* After prepare_arena (the capacity is the arena's). Errors: EMBER_ERR_NOMEM,
 * EMBER_ERR_UNSUPPORTED (two lazy embeddings). */
ember_status ember__dist_step_init(ember_dist_step *st, const ember_model *m, const ember_dist *d,
                                   ember_error *err);
void ember__dist_step_deinit(ember_dist_step *st);
/* Sum the shard results of one step over all ranks: *loss_sum, *correct and
 * the gradient block (and, with a lazy embedding, make its touched rows the
 * union over ranks). Called by every rank after backward. */
ember_status ember__dist_exchange(ember_dist_step *st, ember_model *m, ember_dist *d,
                                  double *loss_sum, int64_t *correct, ember_error *err);
#endif
