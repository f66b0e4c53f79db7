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

/* The two-tower model (two_tower.c). Users and items are rows 0..U-1 and
 * 0..I-1 of the id maps; embedding row U (I) is the "unknown" row that
 * users (items) without training interactions use, learnt through id
 * dropout. Tower input: the id embedding [E] followed by the features. */
typedef struct ember_tt {
    ember_two_tower_config cfg;
    int64_t U, I, E, Fu, Fi, D;
    float *uemb, *iemb;           /* [(U + 1) E], [(I + 1) E] */
    float *ufeat, *ifeat;         /* [(U + 1) Fu], [(I + 1) Fi]; last row zeros */
    unsigned char *uwarm, *iwarm; /* [U], [I]: 1 = in the training interactions */
    ember_model *utower, *itower; /* Dense layers: input E + F -> D */
    char **ucols, **icols;        /* [Fu], [Fi] feature column names */
    float *uvec, *ivec;           /* [(U + 1) D], [I D]: tower outputs (ember__tt_refresh) */
    /* training scratch (ember__tt_step) */
    float *gu, *gi;               /* [(U + 1) E], [(I + 1) E] embedding gradients */
    int64_t *touched_u, *touched_i, n_tu, n_ti;
    unsigned char *mark_u, *mark_i;
    float *S, *dU, *dV, *dXu, *dXi, *pos;
    int64_t cap_B, cap_N;
} ember_tt;

struct ember_recommender {
    int two_tower;       /* 0: biased MF (cfg, L, w, mu); 1: tt */
    ember_tt *tt;
    ember_mf_config cfg;
    ember_mf_layout L;
    float mu;            /* global mean rating */
    float *w;            /* [L.n] parameters (layout in recommend.h) */
    int epochs_done;
    ember_idmap users, items; /* id <-> dense index, as in training */
    int n_meta;               /* user metadata (ember_recommender_set_metadata) */
    char **meta_keys, **meta_values;
};

ember_status ember__recommender_alloc(ember_recommender **out, const ember_mf_config *cfg,
                                      int64_t U, int64_t I, ember_error *err);

/* dst[k] = the index in `to` of id k of `from`, or -1 when `to` lacks it. */
void ember__map_ids(int64_t *dst, const ember_idmap *from, const ember_idmap *to);

/* Two-tower internals (two_tower.c), also used by rec_file.c and the tests. */
/* Allocate r->tt for U users, I items and feature widths Fu, Fi (0: none),
 * with towers built and initialised from cfg->seed. */
ember_status ember__tt_alloc(ember_tt **out, const ember_two_tower_config *cfg, int64_t U,
                             int64_t I, int64_t Fu, int64_t Fi, ember_error *err);
void ember__tt_free(ember_tt *t);
/* One batch: B (user, positive item) rows and N negative items shared by the
 * rows. urow/irow: embedding rows (U or I = the unknown row); ufr/ifr:
 * feature rows (U or I = zeros); items: the real item of each of the B + N
 * item rows (a negative equal to a row's positive is left out of that row's
 * softmax). Returns the rows' sampled-softmax loss summed and divided by
 * Bglobal (B, or the global batch of which these rows are a shard); with
 * grads, accumulates the gradients of that, i.e.
 * the towers' parameter gradients and the embedding gradients (gu, gi,
 * touched lists). */
double ember__tt_step(ember_tt *t, const int64_t *urow, const int64_t *ufr, const int64_t *irow,
                      const int64_t *ifr, const int64_t *items, int64_t B, int64_t N,
                      int64_t Bglobal, int grads, int threads);
/* Make room for batches of B rows and N negatives. */
ember_status ember__tt_reserve(ember_tt *t, int64_t B, int64_t N, ember_error *err);
/* Recompute uvec and ivec from the current weights. */
ember_status ember__tt_refresh(ember_tt *t, int threads, ember_error *err);

#endif
