/*
 * history.c - the per-epoch metric record of fit (ember_history): one row of
 * EMBER_H_COUNT values per epoch (model.h). train.c appends rows; checkpoints
 * (checkpoint.c) save and restore a fit's rows.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const h_names[EMBER_H_COUNT] = {"loss", "accuracy", "val_loss",
                                                    "val_accuracy", "skipped_batches"};

ember_status ember_history_create(ember_history **out, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_history_create: out is NULL");
    *out = calloc(1, sizeof **out);
    return *out ? EMBER_OK : EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory");
}

void ember_history_destroy(ember_history *h)
{
    if (h) {
        free(h->values);
        free(h);
    }
}

int ember_history_epochs(const ember_history *h) { return h ? h->epochs : 0; }

const char *ember_history_metric(int k) { return k >= 0 && k < EMBER_H_COUNT ? h_names[k] : NULL; }

double ember_history_get(const ember_history *h, const char *name, int epoch)
{
    if (!h || !name || epoch < 0 || epoch >= h->epochs)
        return NAN;
    for (int k = 0; k < EMBER_H_COUNT; k++)
        if (strcmp(name, h_names[k]) == 0)
            return h->values[epoch * EMBER_H_COUNT + k];
    return NAN;
}

ember_status ember__history_add(ember_history *h, const double v[EMBER_H_COUNT], ember_error *err)
{
    if (!h)
        return EMBER_OK;
    if (h->epochs == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        double *nv = realloc(h->values, (size_t)cap * EMBER_H_COUNT * sizeof *nv);
        if (!nv)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for history");
        h->values = nv;
        h->cap = cap;
    }
    memcpy(h->values + h->epochs * EMBER_H_COUNT, v, EMBER_H_COUNT * sizeof *v);
    h->epochs++;
    return EMBER_OK;
}
