/*
 * tensor.c - float32 tensors of rank 1..4 with 64-byte aligned owned storage
 * or borrowed views.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static ember_status check_shape(int ndim, const int64_t *shape, int64_t *numel, ember_error *err)
{
    if (ndim < 1 || ndim > EMBER_MAX_DIMS)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "tensor rank %d is outside 1..%d", ndim,
                          EMBER_MAX_DIMS);
    if (!shape)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "tensor shape is NULL");
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "tensor dimension %d is negative (%lld)", i,
                              (long long)shape[i]);
        if (!ember__mul_i64(n, shape[i], &n) || n > (int64_t)(SIZE_MAX / sizeof(float)))
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "tensor element count overflows at dimension %d",
                              i);
    }
    *numel = n;
    return EMBER_OK;
}

static ember_tensor *new_header(int ndim, const int64_t *shape)
{
    ember_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ndim = ndim;
    for (int i = 0; i < EMBER_MAX_DIMS; i++)
        t->shape[i] = i < ndim ? shape[i] : 1;
    return t;
}

ember_status ember_tensor_create(ember_tensor **out, int ndim, const int64_t *shape,
                                 ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_tensor_create: out is NULL");
    *out = NULL;
    int64_t n;
    ember_status s = check_shape(ndim, shape, &n, err);
    if (s)
        return s;
    ember_tensor *t = new_header(ndim, shape);
    if (!t)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a tensor header");
    t->data = ember__calloc((size_t)n * sizeof(float));
    if (!t->data) {
        free(t);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a tensor of %lld floats",
                          (long long)n);
    }
    t->owns_data = 1;
    *out = t;
    return EMBER_OK;
}

ember_status ember_tensor_create_view(ember_tensor **out, float *data, int ndim,
                                      const int64_t *shape, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_tensor_create_view: out is NULL");
    *out = NULL;
    int64_t n;
    ember_status s = check_shape(ndim, shape, &n, err);
    if (s)
        return s;
    if (!data && n > 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_tensor_create_view: data is NULL");
    ember_tensor *t = new_header(ndim, shape);
    if (!t)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for a tensor header");
    t->data = data;
    t->owns_data = 0;
    *out = t;
    return EMBER_OK;
}

void ember_tensor_destroy(ember_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        ember__free(t->data);
    free(t);
}

int64_t ember_tensor_numel(const ember_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

void ember_tensor_scale(ember_tensor *t, float scale)
{
    int64_t n = ember_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        t->data[i] *= scale;
}

ember_status ember_tensor_slice(ember_tensor **out, const ember_tensor *t, int64_t begin,
                                int64_t end, ember_error *err)
{
    if (!out || !t)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_tensor_slice: NULL argument");
    *out = NULL;
    if (begin < 0 || end < begin || end > t->shape[0])
        return EMBER_FAIL(err, EMBER_ERR_ARG, "slice [%lld, %lld) is outside 0..%lld",
                          (long long)begin, (long long)end, (long long)t->shape[0]);
    int64_t row = 1;
    for (int i = 1; i < t->ndim; i++)
        row *= t->shape[i];
    int64_t shape[EMBER_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = end - begin;
    return ember_tensor_create_view(out, t->data + begin * row, t->ndim, shape, err);
}
