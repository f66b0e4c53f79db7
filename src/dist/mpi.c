/*
 * mpi.c - ember_dist over MPI_COMM_WORLD (Open MPI or any MPI-3 library):
 * the collectives data-parallel fit needs (src/model/dist.h), nothing more.
 *
 * Errors: MPI_ERRORS_RETURN is set on MPI_COMM_WORLD and every return code
 * is checked, so a failing collective becomes EMBER_ERR_IO with MPI's own
 * message. A rank that dies (killed, crashed) is noticed by mpirun, which
 * ends the whole job and names the rank; that is how a failure stops the
 * others, since a collective on a dead peer may otherwise wait forever.
 *
 * Built only with EMBER_MPI (CMake finds MPI); without it
 * ember_dist_mpi_create returns EMBER_ERR_UNSUPPORTED.
 */
#include "model/dist.h"

#include <limits.h>
#include <stdlib.h>

#ifdef EMBER_HAVE_MPI
#include <mpi.h>

/* Elements per MPI call: counts are int. */
#define MPI_CHUNK (1 << 28)

typedef struct mpi_impl {
    int finalize; /* we called MPI_Init */
} mpi_impl;

static ember_status mpi_fail(ember_error *err, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", rc);
    return EMBER_FAIL(err, EMBER_ERR_IO, "MPI %s failed: %s; HINT: another rank may have failed "
                      "(see its message)", what, msg);
}

static MPI_Datatype mpi_type(ember_dist_type t)
{
    switch (t) {
    case EMBER_DIST_F32: return MPI_FLOAT;
    case EMBER_DIST_F64: return MPI_DOUBLE;
    case EMBER_DIST_I64: return MPI_INT64_T;
    case EMBER_DIST_U8: return MPI_UNSIGNED_CHAR;
    }
    return MPI_DATATYPE_NULL;
}

static ember_status mpi_allreduce(void *impl, void *buf, int64_t n, ember_dist_type t,
                                  ember_dist_op op, ember_error *err)
{
    (void)impl;
    size_t es = t == EMBER_DIST_F32 ? 4 : t == EMBER_DIST_U8 ? 1 : 8;
    for (int64_t i = 0; i < n; i += MPI_CHUNK) {
        int cnt = (int)(n - i < MPI_CHUNK ? n - i : MPI_CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)i * es, cnt, mpi_type(t),
                               op == EMBER_DIST_SUM ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, rc, "Allreduce");
    }
    return EMBER_OK;
}

static ember_status mpi_allgatherv(void *impl, const int64_t *mine, int64_t *all,
                                   const int64_t *counts, ember_error *err)
{
    (void)impl;
    int P = 0, me = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    int *cnt = malloc((size_t)P * 2 * sizeof *cnt);
    if (!cnt)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    int *disp = cnt + P;
    int64_t off = 0;
    for (int r = 0; r < P; r++) {
        if (counts[r] > INT_MAX || off > INT_MAX) {
            free(cnt);
            return EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "MPI Allgatherv: %lld rows is more "
                              "than one call carries", (long long)counts[r]);
        }
        cnt[r] = (int)counts[r];
        disp[r] = (int)off;
        off += counts[r];
    }
    int rc = MPI_Allgatherv(mine, cnt[me], MPI_INT64_T, all, cnt, disp, MPI_INT64_T,
                            MPI_COMM_WORLD);
    free(cnt);
    return rc == MPI_SUCCESS ? EMBER_OK : mpi_fail(err, rc, "Allgatherv");
}

static void mpi_abort(void *impl, int code)
{
    (void)impl;
    MPI_Abort(MPI_COMM_WORLD, code);
}

static void mpi_destroy(void *impl)
{
    mpi_impl *p = impl;
    int done = 0;
    if (p && p->finalize && MPI_Finalized(&done) == MPI_SUCCESS && !done)
        MPI_Finalize();
    free(p);
}

/* Nonblocking allreduce of one bucket (n < MPI_CHUNK: buckets are layer
 * slices far below 2^28 values; larger ones fall back to the blocking call,
 * with a NULL request). */
static ember_status mpi_iallreduce(void *impl, void *buf, int64_t n, ember_dist_type t,
                                   ember_dist_op op, void **req, ember_error *err)
{
    *req = NULL;
    if (n >= MPI_CHUNK)
        return mpi_allreduce(impl, buf, n, t, op, err);
    MPI_Request *r = malloc(sizeof *r);
    if (!r)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for an MPI request");
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, mpi_type(t),
                            op == EMBER_DIST_SUM ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD, r);
    if (rc != MPI_SUCCESS) {
        free(r);
        return mpi_fail(err, rc, "Iallreduce");
    }
    *req = r;
    return EMBER_OK;
}

static void mpi_progress(void *impl, void *req)
{
    (void)impl;
    int done = 0;
    MPI_Request *r = req;
    if (*r != MPI_REQUEST_NULL)
        MPI_Test(r, &done, MPI_STATUS_IGNORE); /* a completed request becomes NULL */
}

static ember_status mpi_wait(void *impl, void *req, ember_error *err)
{
    (void)impl;
    MPI_Request *r = req;
    int rc = *r != MPI_REQUEST_NULL ? MPI_Wait(r, MPI_STATUS_IGNORE) : MPI_SUCCESS;
    free(r);
    return rc == MPI_SUCCESS ? EMBER_OK : mpi_fail(err, rc, "Wait (Iallreduce)");
}

static const ember_dist_ops mpi_ops = {"mpi", mpi_allreduce, mpi_allgatherv, mpi_abort,
                                       mpi_destroy, mpi_iallreduce, mpi_progress, mpi_wait};

int ember_dist_mpi_available(void) { return 1; }

ember_status ember_dist_mpi_create(ember_dist **out, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "dist: NULL argument");
    *out = NULL;
    mpi_impl *p = calloc(1, sizeof *p);
    if (!p)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
    int inited = 0, rc = MPI_Initialized(&inited);
    if (rc == MPI_SUCCESS && !inited) {
        int provided = 0;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        p->finalize = rc == MPI_SUCCESS;
    }
    int rank = 0, size = 1;
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rc != MPI_SUCCESS) {
        ember_status s = mpi_fail(err, rc, "start");
        mpi_destroy(p);
        return s;
    }
    ember_status s = ember__dist_create(out, rank, size, &mpi_ops, p, err);
    if (s)
        mpi_destroy(p);
    return s;
}

#else /* no MPI in this build */

int ember_dist_mpi_available(void) { return 0; }

ember_status ember_dist_mpi_create(ember_dist **out, ember_error *err)
{
    if (out)
        *out = NULL;
    return EMBER_FAIL(err, EMBER_ERR_UNSUPPORTED, "this build of Ember has no MPI; HINT: install "
                      "Open MPI's development files (make deps: libopenmpi-dev openmpi-bin) and "
                      "build again with -DEMBER_MPI=ON");
}

#endif
