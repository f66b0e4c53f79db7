/*
 * dist.c - data-parallel fit's gradient exchange, over the collectives of an
 * ember_dist (dist.h), and the public ember_dist calls that need no MPI.
 *
 * After each rank has run forward and backward on its shard of the global
 * mini-batch (with the loss divided by the global batch's rows, so the
 * shard gradients add up to the single-process gradient), one exchange:
 *   1. a small double allreduce: the loss sum, the correct count and each
 *      rank's count of touched embedding rows;
 *   2. models without a lazy (sparse) embedding: one allreduce of the whole
 *      flat gradient block, in place;
 *   3. with a lazy embedding, every rank must update the union of the rows
 *      any rank touched (lazy Adam decays the moments of exactly those rows).
 *      Sparse: gather every rank's row list (allgatherv), take the union in
 *      rank order (the same list on every rank), pack those rows plus the
 *      other layers' gradients into one buffer, allreduce it, unpack. Dense,
 *      when the row lists would outweigh the table: allreduce a byte mask of
 *      touched rows (max) and the whole gradient block (sum).
 * It does not overlap communication with backward (one fused buffer after
 * the whole backward pass), and it does not compress.
 */
#include "dist.h"

#include <stdlib.h>
#include <string.h>

ember_status ember__dist_create(ember_dist **out, int rank, int size, const ember_dist_ops *ops,
                                void *impl, ember_error *err)
{
    if (!out || !ops || size < 1 || rank < 0 || rank >= size)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "dist: rank %d of %d is not valid", rank, size);
    ember_dist *d = calloc(1, sizeof *d);
    if (!d)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    d->rank = rank;
    d->size = size;
    d->ops = ops;
    d->impl = impl;
    *out = d;
    return EMBER_OK;
}

static size_t type_size(ember_dist_type t)
{
    return t == EMBER_DIST_F32 ? 4 : t == EMBER_DIST_U8 ? 1 : 8;
}

ember_status ember__dist_allreduce(ember_dist *d, void *buf, int64_t n, ember_dist_type t,
                                   ember_dist_op op, ember_error *err)
{
    if (n <= 0)
        return EMBER_OK;
    double t0 = ember__now();
    ember_status s = d->ops->allreduce(d->impl, buf, n, t, op, err);
    d->comm_s += ember__now() - t0;
    d->comm_bytes += n * (int64_t)type_size(t);
    d->comm_calls++;
    return s;
}

ember_status ember__dist_iallreduce(ember_dist *d, void *buf, int64_t n, ember_dist_type t,
                                    ember_dist_op op, void **req, ember_error *err)
{
    *req = NULL;
    if (n <= 0)
        return EMBER_OK;
    if (!d->ops->iallreduce || !d->ops->wait)
        return ember__dist_allreduce(d, buf, n, t, op, err);
    double t0 = ember__now();
    ember_status s = d->ops->iallreduce(d->impl, buf, n, t, op, req, err);
    d->comm_s += ember__now() - t0;
    d->comm_bytes += n * (int64_t)type_size(t);
    d->comm_calls++;
    return s;
}

void ember__dist_progress(ember_dist *d, void *req)
{
    if (req && d->ops->progress)
        d->ops->progress(d->impl, req);
}

ember_status ember__dist_wait(ember_dist *d, void *req, ember_error *err)
{
    if (!req)
        return EMBER_OK;
    double t0 = ember__now();
    ember_status s = d->ops->wait(d->impl, req, err);
    d->comm_s += ember__now() - t0;
    return s;
}

ember_status ember__dist_allgatherv_i64(ember_dist *d, const int64_t *mine, int64_t *all,
                                        const int64_t *counts, ember_error *err)
{
    double t0 = ember__now();
    ember_status s = d->ops->allgatherv_i64(d->impl, mine, all, counts, err);
    d->comm_s += ember__now() - t0;
    int64_t total = 0;
    for (int r = 0; r < d->size; r++)
        total += counts[r];
    d->comm_bytes += total * 8;
    d->comm_calls++;
    return s;
}

/* ------------------------------------------------------------ public */

void ember_dist_destroy(ember_dist *d)
{
    if (!d)
        return;
    if (d->ops && d->ops->destroy)
        d->ops->destroy(d->impl);
    free(d);
}

int ember_dist_rank(const ember_dist *d) { return d ? d->rank : 0; }
int ember_dist_error_is_shared(const ember_dist *d) { return d ? d->error_shared : 0; }
int ember_dist_size(const ember_dist *d) { return d ? d->size : 1; }

void ember_dist_abort(ember_dist *d, int code)
{
    if (d && d->ops && d->ops->abort)
        d->ops->abort(d->impl, code);
}

void ember_dist_get_stats(const ember_dist *d, ember_dist_stats *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    if (!d)
        return;
    s->comm_seconds = d->comm_s;
    s->bytes = d->comm_bytes;
    s->calls = d->comm_calls;
    s->sparse_exchanges = d->sparse_steps;
    s->dense_exchanges = d->dense_steps;
}

void ember_dist_reset_stats(ember_dist *d)
{
    if (!d)
        return;
    d->comm_s = 0.0;
    d->comm_bytes = d->comm_calls = d->sparse_steps = d->dense_steps = 0;
}

/* ----------------------------------------------------- the exchange */

void ember__dist_step_deinit(ember_dist_step *st)
{
    free(st->pack);
    free(st->small);
    free(st->counts);
    free(st->all_ids);
    free(st->mask);
    free(st->b_lo);
    free(st->b_hi);
    free(st->b_layer);
    free(st->b_req);
    memset(st, 0, sizeof *st);
}

/* Buckets over the layers with dense gradients, last layer first: a layer
 * joins the open bucket unless that would take it past bucket_floats (then
 * the bucket closes and the layer opens the next; a layer larger than the
 * size is a bucket of its own). The sparse layer is left out and closes the
 * open bucket. Bucket k is complete after layer b_layer[k], its lowest. */
static int make_buckets(ember_dist_step *st, const ember_model *m, int64_t bucket_floats)
{
    int L = m->n_layers;
    st->b_lo = malloc((size_t)(L + 1) * sizeof *st->b_lo);
    st->b_hi = malloc((size_t)(L + 1) * sizeof *st->b_hi);
    st->b_layer = malloc((size_t)(L + 1) * sizeof *st->b_layer);
    st->b_req = calloc((size_t)(L + 1), sizeof *st->b_req);
    if (!st->b_lo || !st->b_hi || !st->b_layer || !st->b_req)
        return -1;
    int64_t hi = -1, lo = 0;
    int low = 0;
#define CLOSE_BUCKET()                                                                      \
    do {                                                                                    \
        st->b_lo[st->n_buckets] = lo;                                                       \
        st->b_hi[st->n_buckets] = hi;                                                       \
        st->b_layer[st->n_buckets++] = low;                                                 \
        hi = -1;                                                                            \
    } while (0)
    for (int i = L - 1; i >= 0; i--) {
        const ember_layer *l = m->layers[i];
        if (l == st->sparse && hi >= 0)
            CLOSE_BUCKET();
        if (!l->param_count || l == st->sparse)
            continue;
        int64_t off = l->grads - m->grads;
        if (hi >= 0 && hi - off > bucket_floats)
            CLOSE_BUCKET();
        if (hi < 0)
            hi = off + l->param_count;
        lo = off;
        low = i;
    }
    if (hi >= 0)
        CLOSE_BUCKET();
#undef CLOSE_BUCKET
    return 0;
}

void ember__dist_after_layer(ember_dist_step *st, ember_dist *d, ember_model *m, int layer)
{
    for (int k = 0; k < st->next; k++)
        ember__dist_progress(d, st->b_req[k]);
    while (st->next < st->n_buckets && st->b_layer[st->next] >= layer) {
        int k = st->next++;
        ember_error e;
        ember_status s = ember__dist_iallreduce(d, m->grads + st->b_lo[k], st->b_hi[k] - st->b_lo[k],
                                                EMBER_DIST_F32, EMBER_DIST_SUM, &st->b_req[k], &e);
        if (s && !st->b_status) {
            st->b_status = s;
            st->b_err = e;
        }
    }
}

ember_status ember__dist_step_init(ember_dist_step *st, const ember_model *m, const ember_dist *d,
                                   int64_t bucket_floats, ember_error *err)
{
    memset(st, 0, sizeof *st);
    for (int i = 0; i < m->n_layers; i++) {
        ember_layer *l = m->layers[i];
        if (!l->param_count || !l->sparse_grads)
            continue;
        if (st->sparse)
            return EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "distributed fit: more than one lazy "
                              "embedding layer");
        st->sparse = l;
    }
    st->small = malloc((size_t)(2 + d->size) * sizeof *st->small);
    st->counts = malloc((size_t)d->size * sizeof *st->counts);
    int ok = st->small && st->counts;
    if (st->sparse) {
        ember_layer *l = st->sparse;
        st->cap = m->arena_ids;
        st->rows = l->param_count / l->row_len;
        int64_t dense_n = m->n_params - l->param_count, packn;
        if (!ember__mul_i64(st->cap, l->row_len, &packn) || packn > INT64_MAX - dense_n) {
            ember__dist_step_deinit(st);
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "distributed fit: exchange buffer overflows");
        }
        st->pack = malloc((size_t)(packn + dense_n + 1) * sizeof *st->pack);
        st->all_ids = malloc((size_t)(st->cap + 1) * sizeof *st->all_ids);
        st->mask = calloc((size_t)st->rows, 1);
        ok = ok && st->pack && st->all_ids && st->mask;
    }
    if (ok && bucket_floats > 0 && make_buckets(st, m, bucket_floats))
        ok = 0;
    if (!ok) {
        ember__dist_step_deinit(st);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the gradient exchange buffers");
    }
    return EMBER_OK;
}

/* Copy the gradients of the layers other than the sparse one between the
 * gradient block and buf (to_buf 1: into buf). They are [0, sb) and
 * [se, n_params) of the block. */
static void copy_dense(ember_model *m, const ember_layer *sl, float *buf, int to_buf)
{
    int64_t sb = sl->grads - m->grads, se = sb + sl->param_count, tail = m->n_params - se;
    if (to_buf) {
        memcpy(buf, m->grads, (size_t)sb * sizeof *buf);
        memcpy(buf + sb, m->grads + se, (size_t)tail * sizeof *buf);
    } else {
        memcpy(m->grads, buf, (size_t)sb * sizeof *buf);
        memcpy(m->grads + se, buf + sb, (size_t)tail * sizeof *buf);
    }
}

ember_status ember__dist_exchange(ember_dist_step *st, ember_model *m, ember_dist *d,
                                  double *loss_sum, int64_t *correct, ember_error *err)
{
    ember_status s;
    int P = d->size;
    ember_layer *l = st->sparse;
    /* buckets not started by the backward pass (an empty shard, a layer
     * without gradients at the front) start now, before the next collective,
     * so every rank issues them in the same order */
    if (st->n_buckets)
        ember__dist_after_layer(st, d, m, -1);
    st->small[0] = *loss_sum;
    st->small[1] = (double)*correct;
    for (int r = 0; r < P; r++)
        st->small[2 + r] = 0.0;
    if (l)
        st->small[2 + d->rank] = (double)l->n_touched;
    if ((s = ember__dist_allreduce(d, st->small, 2 + P, EMBER_DIST_F64, EMBER_DIST_SUM, err)))
        return s;
    *loss_sum = st->small[0];
    *correct = (int64_t)st->small[1];
    if (st->n_buckets) {
        for (int k = 0; k < st->n_buckets; k++) {
            ember_status ws = ember__dist_wait(d, st->b_req[k], err);
            st->b_req[k] = NULL;
            if (ws && !s)
                s = ws;
        }
        st->next = 0;
        if (!s && st->b_status) {
            s = st->b_status;
            if (err)
                *err = st->b_err;
        }
        st->b_status = EMBER_OK;
        if (s)
            return s;
    }
    if (!l)
        return st->n_buckets ? EMBER_OK
                             : ember__dist_allreduce(d, m->grads, m->n_params, EMBER_DIST_F32,
                                                     EMBER_DIST_SUM, err);
    int64_t S = 0, rl = l->row_len, R = st->rows, U = 0;
    for (int r = 0; r < P; r++) {
        st->counts[r] = (int64_t)st->small[2 + r];
        S += st->counts[r];
    }
    if (S > st->cap)
        return EMBER_FAIL(err, EMBER_ERR_STATE, "distributed fit: %lld touched rows exceed the "
                          "%lld the batch can hold (ranks disagree on the batch?)", (long long)S,
                          (long long)st->cap);
    int64_t dense_n = st->n_buckets ? 0 : m->n_params - l->param_count;
    /* bytes moved: the id lists plus at most S rows, against the whole table
     * plus its mask */
    double sparse_bytes = (double)S * 8.0 + (double)S * (double)rl * 4.0;
    double dense_bytes = (double)R * (double)rl * 4.0 + (double)R;
    unsigned char *mask = st->mask;
    if (sparse_bytes < dense_bytes) {
        if ((s = ember__dist_allgatherv_i64(d, l->touched, st->all_ids, st->counts, err)))
            return s;
        for (int64_t i = 0; i < S; i++) {
            int64_t row = st->all_ids[i];
            if (row < 0 || row >= R)
                return EMBER_FAIL(err, EMBER_ERR_STATE, "distributed fit: row %lld out of range",
                                  (long long)row);
            if (!mask[row]) {
                mask[row] = 1;
                l->touched[U++] = row;
            }
        }
        float *pk = st->pack;
        for (int64_t u = 0; u < U; u++) {
            mask[l->touched[u]] = 0;
            memcpy(pk + u * rl, l->grads + l->touched[u] * rl, (size_t)rl * sizeof *pk);
        }
        if (dense_n)
            copy_dense(m, l, pk + U * rl, 1);
        if ((s = ember__dist_allreduce(d, pk, U * rl + dense_n, EMBER_DIST_F32, EMBER_DIST_SUM,
                                       err)))
            return s;
        for (int64_t u = 0; u < U; u++)
            memcpy(l->grads + l->touched[u] * rl, pk + u * rl, (size_t)rl * sizeof *pk);
        if (dense_n)
            copy_dense(m, l, pk + U * rl, 0);
        d->sparse_steps++;
    } else {
        for (int64_t i = 0; i < l->n_touched; i++)
            mask[l->touched[i]] = 1;
        /* with buckets, the other layers' gradients are summed already */
        if ((s = ember__dist_allreduce(d, mask, R, EMBER_DIST_U8, EMBER_DIST_MAX, err)) ||
            (s = st->n_buckets
                     ? ember__dist_allreduce(d, l->grads, l->param_count, EMBER_DIST_F32,
                                             EMBER_DIST_SUM, err)
                     : ember__dist_allreduce(d, m->grads, m->n_params, EMBER_DIST_F32,
                                             EMBER_DIST_SUM, err)))
            return s;
        for (int64_t row = 0; row < R; row++)
            if (mask[row]) {
                mask[row] = 0;
                if (U < st->cap)
                    l->touched[U] = row;
                U++;
            }
        if (U > st->cap)
            return EMBER_FAIL(err, EMBER_ERR_STATE, "distributed fit: %lld touched rows exceed "
                              "the %lld the batch can hold", (long long)U, (long long)st->cap);
        d->dense_steps++;
    }
    l->n_touched = U;
    return EMBER_OK;
}
