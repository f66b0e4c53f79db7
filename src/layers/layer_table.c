/*
 * layer_table.c - the one table that maps a layer kind to its operations
 * and to its name in model files. Unknown names are an error, never a default.
 */
#include "layer.h"

#include <string.h>

extern const ember_layer_ops ember__dense_ops;
extern const ember_layer_ops ember__activation_ops;
extern const ember_layer_ops ember__dropout_ops;
extern const ember_layer_ops ember__embedding_ops;
extern const ember_layer_ops ember__gap1d_ops;
extern const ember_layer_ops ember__conv2d_ops;
extern const ember_layer_ops ember__maxpool2d_ops;
extern const ember_layer_ops ember__avgpool2d_ops;
extern const ember_layer_ops ember__gap2d_ops;
extern const ember_layer_ops ember__flatten_ops;
extern const ember_layer_ops ember__batchnorm_ops;

static const ember_layer_ops *const table[EMBER_LAYER_KIND_COUNT] = {
    [EMBER_LAYER_DENSE] = &ember__dense_ops,
    [EMBER_LAYER_ACTIVATION] = &ember__activation_ops,
    [EMBER_LAYER_DROPOUT] = &ember__dropout_ops,
    [EMBER_LAYER_EMBEDDING] = &ember__embedding_ops,
    [EMBER_LAYER_GAP1D] = &ember__gap1d_ops,
    [EMBER_LAYER_CONV2D] = &ember__conv2d_ops,
    [EMBER_LAYER_MAXPOOL2D] = &ember__maxpool2d_ops,
    [EMBER_LAYER_AVGPOOL2D] = &ember__avgpool2d_ops,
    [EMBER_LAYER_GAP2D] = &ember__gap2d_ops,
    [EMBER_LAYER_FLATTEN] = &ember__flatten_ops,
    [EMBER_LAYER_BATCHNORM] = &ember__batchnorm_ops,
};

const ember_layer_ops *ember__layer_ops(ember_layer_kind kind)
{
    return (unsigned)kind < EMBER_LAYER_KIND_COUNT ? table[kind] : NULL;
}

int ember__layer_kind_from_name(const char *name)
{
    for (int k = 0; k < EMBER_LAYER_KIND_COUNT; k++)
        if (strcmp(table[k]->name, name) == 0)
            return k;
    return -1;
}
