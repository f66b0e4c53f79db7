/*
 * rec_internal.h - the recommender object, shared by mf.c (training,
 * prediction) and rec_file.c (save/load).
 */
#ifndef EMBER_REC_INTERNAL_H
#define EMBER_REC_INTERNAL_H

#include "recommend.h"

/* Defaults of ember_mf_config_default, chosen on a held-out 10% of
 * MovieLens 100k u1.base (docs/recommend.md has the grid). */
#define EMBER__MF_DEFAULT_DIM 100
#define EMBER__MF_DEFAULT_EPOCHS 40
#define EMBER__MF_DEFAULT_LR 0.02f
#define EMBER__MF_DEFAULT_L2 0.1f
#define EMBER__MF_DEFAULT_L2_BIAS 0.02f
#define EMBER__MF_DEFAULT_LR_DECAY 0.95f
#define EMBER__MF_DEFAULT_INIT_STD 0.1f
/* BPR (implicit feedback), chosen on a leave-last-out split of the training
 * part of MovieLens 100k's leave-last-out split */
#define EMBER__BPR_DEFAULT_DIM 64
#define EMBER__BPR_DEFAULT_EPOCHS 20
#define EMBER__BPR_DEFAULT_LR 0.1f
#define EMBER__BPR_DEFAULT_L2 0.01f

struct ember_recommender {
    ember_mf_config cfg;
    ember_mf_layout L;
    float mu;            /* global mean rating */
    float *w;            /* [L.n] parameters (layout in recommend.h) */
    int epochs_done;
    ember_idmap users, items; /* id <-> dense index, as in training */
};

ember_status ember__recommender_alloc(ember_recommender **out, const ember_mf_config *cfg,
                                      int64_t U, int64_t I, ember_error *err);

/* dst[k] = the index in `to` of id k of `from`, or -1 when `to` lacks it. */
void ember__map_ids(int64_t *dst, const ember_idmap *from, const ember_idmap *to);

#endif
