/*
 * rank.c - top-K recommendation and its evaluation: the leave-last-out
 * split, exact top-K over all items (the scores of a block of users for
 * every item as one matrix product, then a bounded insertion into the k
 * best per user: exact, ties to the lower index),
 * Recall/NDCG/HR/MAP@K and catalogue coverage, and the most-popular and
 * random baselines ranked by the same code. Single-threaded: ranking every
 * MovieLens 100k user takes milliseconds. Definitions in ember.h.
 */
#include "kernels/gemm.h"
#include "rec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ember_status ember_interactions_split_last(const ember_interactions *d, ember_interactions **train,
                                           ember_interactions **test, ember_error *err)
{
    if (!d || !train || !test)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "split_last: NULL argument");
    *train = *test = NULL;
    int64_t U = d->users.n;
    int64_t *last = malloc((size_t)(U ? U : 1) * sizeof *last);
    int64_t *count = calloc((size_t)(U ? U : 1), sizeof *count);
    ember_interactions *a = NULL, *b = NULL;
    ember_status s = EMBER_OK;
    if (!last || !count) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory splitting %lld records",
                       (long long)d->n);
        goto done;
    }
    for (int64_t e = 0; e < d->n; e++) { /* ">=": on a tie the later line */
        int64_t u = d->user[e];
        if (count[u]++ == 0 || d->time[e] >= d->time[last[u]])
            last[u] = e;
    }
    if ((s = ember__interactions_create(&a, d->has_rating, d->has_time, err)) ||
        (s = ember__interactions_create(&b, d->has_rating, d->has_time, err)))
        goto done;
    for (int64_t e = 0; e < d->n && !s; e++) {
        int64_t u = d->user[e];
        ember_interactions *to = count[u] >= 2 && last[u] == e ? b : a;
        s = ember__interactions_add(to, ember__idmap_get(&d->users, u),
                                    ember__idmap_get(&d->items, d->item[e]), d->rating[e],
                                    d->time[e], err);
    }
done:
    free(last);
    free(count);
    if (s) {
        ember_interactions_destroy(a);
        ember_interactions_destroy(b);
        return s;
    }
    *train = a;
    *test = b;
    return EMBER_OK;
}

ember_status ember_ranking_metrics_compute(const int64_t *top, int64_t n_users, int k,
                                           const int64_t *rel, const int64_t *rel_off,
                                           int64_t n_items, ember_ranking_metrics *out,
                                           ember_error *err)
{
    if (!top || !rel || !rel_off || !out || n_users < 0 || n_items < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ranking metrics: NULL argument, n_users < 0 or "
                          "n_items < 1");
    if (k < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ranking metrics: k must be >= 1, got %d", k);
    if (rel_off[0] != 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ranking metrics: rel_off[0] must be 0");
    for (int64_t u = 0; u < n_users; u++) {
        if (rel_off[u + 1] < rel_off[u])
            return EMBER_FAIL(err, EMBER_ERR_ARG, "ranking metrics: rel_off[%lld] < rel_off[%lld]",
                              (long long)u + 1, (long long)u);
        for (int j = 0; j < k; j++) {
            int64_t it = top[u * k + j];
            if (it < -1 || it >= n_items)
                return EMBER_FAIL(err, EMBER_ERR_ARG, "ranking metrics: top[%lld][%d] = %lld is "
                                  "not an item index in [-1, %lld)", (long long)u, j,
                                  (long long)it, (long long)n_items);
        }
        for (int64_t x = rel_off[u]; x < rel_off[u + 1]; x++)
            if (rel[x] < -1 || rel[x] >= n_items)
                return EMBER_FAIL(err, EMBER_ERR_ARG, "ranking metrics: rel[%lld] = %lld is not "
                                  "an item index in [-1, %lld)", (long long)x, (long long)rel[x],
                                  (long long)n_items);
    }
    unsigned char *seen = calloc((size_t)n_items, 1);
    if (!seen)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for %lld items", (long long)n_items);
    double recall = 0, ndcg = 0, hr = 0, map = 0;
    int64_t users = 0, distinct = 0;
    for (int64_t u = 0; u < n_users; u++) {
        const int64_t *t = top + u * k, *r = rel + rel_off[u];
        int64_t nr = rel_off[u + 1] - rel_off[u];
        for (int j = 0; j < k; j++)
            if (t[j] >= 0 && !seen[t[j]]) {
                seen[t[j]] = 1;
                distinct++;
            }
        if (nr == 0)
            continue;
        users++;
        int64_t hits = 0;
        double dcg = 0, idcg = 0, ap = 0;
        for (int j = 0; j < k; j++) {
            int hit = 0;
            for (int64_t x = 0; x < nr && t[j] >= 0; x++)
                hit |= r[x] == t[j];
            if (hit) {
                hits++;
                dcg += 1.0 / log2((double)j + 2.0);
                ap += (double)hits / (double)(j + 1);
            }
        }
        int64_t ideal = nr < k ? nr : k;
        for (int64_t j = 0; j < ideal; j++)
            idcg += 1.0 / log2((double)j + 2.0);
        recall += (double)hits / (double)nr;
        ndcg += dcg / idcg;
        hr += hits > 0;
        map += ap / (double)ideal;
    }
    free(seen);
    memset(out, 0, sizeof *out);
    out->k = k;
    out->users = users;
    if (users) {
        out->recall = recall / (double)users;
        out->ndcg = ndcg / (double)users;
        out->hr = hr / (double)users;
        out->map = map / (double)users;
    }
    out->coverage = (double)distinct / (double)n_items;
    return EMBER_OK;
}

/* The k best of score[0..n) not excluded, best first; ties: lower index. */
static int select_top(const float *score, const unsigned char *excluded, int64_t n, int k,
                      int64_t *items, float *scores)
{
    int m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (excluded && excluded[i])
            continue;
        float v = score[i];
        if (m == k && !(v > scores[m - 1])) /* not better than the k-th (ties keep the earlier) */
            continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && v > scores[j - 1]) {
            items[j] = items[j - 1];
            scores[j] = scores[j - 1];
            j--;
        }
        items[j] = i;
        scores[j] = v;
    }
    return m;
}

/* Scores of every item for a block of users, as one matrix product
 * (ember__gemm, OpenBLAS) over the model's own item vectors (no copy):
 *   MF         p_u . q_i, then + mu + b_u + b_i   (the predicted rating)
 *   two-tower  u . v_i
 * An unknown user (-1) has p = 0 and b_u = 0 (MF: mu + b_i) or the unknown
 * user's vector (two-tower). */
typedef struct scorer {
    const ember_recommender *r;
    int64_t I, W;        /* items, vector width */
    const float *iv;     /* [I][W] item vectors (MF: the factors q), borrowed */
    const float *ib;     /* MF: [I] item biases, borrowed; two-tower: NULL */
    float *ub;           /* [SCORE_BLOCK][W] user vectors of a block */
} scorer;

#define SCORE_BLOCK 64
#define SCORE_CELLS ((int64_t)1 << 22) /* at most this many scores per block */

static void scorer_free(scorer *sc) { free(sc->ub); }

static ember_status scorer_init(scorer *sc, const ember_recommender *r, ember_error *err)
{
    memset(sc, 0, sizeof *sc);
    sc->r = r;
    sc->I = ember_recommender_item_count(r);
    if (r->two_tower) {
        sc->W = r->tt->D;
        sc->iv = r->tt->ivec;
    } else {
        sc->W = r->L.D;
        sc->iv = r->w + r->L.q;
        sc->ib = r->w + r->L.bi;
    }
    if (!(sc->ub = malloc((size_t)(SCORE_BLOCK * sc->W) * sizeof(float))))
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory scoring %lld items",
                          (long long)sc->I);
    return EMBER_OK;
}

/* Users per block so that a block's scores stay under SCORE_CELLS floats. */
static int64_t scorer_block(const scorer *sc)
{
    int64_t b = SCORE_CELLS / (sc->I ? sc->I : 1);
    return b < 1 ? 1 : b > SCORE_BLOCK ? SCORE_BLOCK : b;
}

/* S[nb][I] = scores of every item for model users u[0..nb) (nb <= block). */
static void scorer_run(const scorer *sc, const int64_t *u, int64_t nb, float *S)
{
    const ember_recommender *r = sc->r;
    int64_t W = sc->W;
    for (int64_t b = 0; b < nb; b++) {
        float *x = sc->ub + b * W;
        if (r->two_tower)
            memcpy(x, r->tt->uvec + (u[b] >= 0 ? u[b] : r->tt->U) * W, (size_t)W * sizeof(float));
        else if (u[b] >= 0)
            memcpy(x, r->w + r->L.p + u[b] * W, (size_t)W * sizeof(float));
        else
            memset(x, 0, (size_t)W * sizeof(float));
    }
    ember__gemm(1, 0, 1, nb, sc->I, W, 1.0f, sc->ub, sc->iv, 0.0f, S);
    if (sc->ib) /* MF: + mu + b_u + b_i */
        for (int64_t b = 0; b < nb; b++) {
            float c = r->mu + (u[b] >= 0 ? r->w[r->L.bu + u[b]] : 0.0f);
            for (int64_t i = 0; i < sc->I; i++)
                S[b * sc->I + i] += c + sc->ib[i];
        }
}

/* Item vectors for similar: MF's factors q_i, two-tower's v_i. */
static const float *item_vec(const ember_recommender *r, int64_t i, int64_t *D)
{
    if (r->two_tower) {
        *D = r->tt->D;
        return r->tt->ivec + i * r->tt->D;
    }
    *D = r->L.D;
    return r->w + r->L.q + i * r->L.D;
}

ember_status ember_recommender_similar(const ember_recommender *r, const char *item, int k,
                                       int64_t *items, float *scores, int *n_out,
                                       ember_error *err)
{
    if (!r || !item || !items || !n_out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "similar: NULL argument");
    if (k < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "similar: k must be >= 1, got %d", k);
    int64_t q = ember__idmap_find(&r->items, item, strlen(item));
    if (q < 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "similar: item '%.60s' is not in the model (it "
                          "was not in the training data)", item);
    int64_t I = ember_recommender_item_count(r), D;
    float *sc = malloc((size_t)I * sizeof *sc), *best = malloc((size_t)k * sizeof *best);
    unsigned char *ex = calloc((size_t)I, 1);
    if (!sc || !best || !ex) {
        free(sc), free(best), free(ex);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory ranking %lld items", (long long)I);
    }
    const float *qa = item_vec(r, q, &D);
    double na = sqrt((double)ember__mf_score(qa, qa, D, 0.0f, 0.0f, 0.0f));
    for (int64_t i = 0; i < I; i++) {
        const float *qb = item_vec(r, i, &D);
        double nb = sqrt((double)ember__mf_score(qb, qb, D, 0.0f, 0.0f, 0.0f));
        double dot = ember__mf_score(qa, qb, D, 0.0f, 0.0f, 0.0f);
        sc[i] = na > 0 && nb > 0 ? (float)(dot / (na * nb)) : 0.0f;
    }
    ex[q] = 1;
    *n_out = select_top(sc, ex, I, k, items, best);
    if (scores)
        memcpy(scores, best, (size_t)*n_out * sizeof *best);
    free(sc), free(best), free(ex);
    return EMBER_OK;
}

const char *ember_recommender_item_id(const ember_recommender *r, int64_t k)
{
    return r && k >= 0 && k < r->items.n ? ember__idmap_get(&r->items, k) : NULL;
}

const char *ember_recommender_user_id(const ember_recommender *r, int64_t k)
{
    return r && k >= 0 && k < r->users.n ? ember__idmap_get(&r->users, k) : NULL;
}

ember_status ember_recommender_top_k(const ember_recommender *r, const char *user, int k,
                                     const int64_t *exclude, int64_t n_exclude, int64_t *items,
                                     float *scores, int *n_out, ember_error *err)
{
    if (!r || !user || !items || !n_out || (n_exclude > 0 && !exclude) || n_exclude < 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "top_k: NULL argument");
    if (k < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "top_k: k must be >= 1, got %d", k);
    int64_t I = ember_recommender_item_count(r);
    for (int64_t x = 0; x < n_exclude; x++)
        if (exclude[x] < 0 || exclude[x] >= I)
            return EMBER_FAIL(err, EMBER_ERR_ARG, "top_k: exclude[%lld] = %lld is not an item "
                              "index in [0, %lld)", (long long)x, (long long)exclude[x],
                              (long long)I);
    scorer so;
    ember_status s = scorer_init(&so, r, err);
    if (s)
        return s;
    float *sc = malloc((size_t)(I ? I : 1) * sizeof *sc);
    float *best = malloc((size_t)k * sizeof *best);
    unsigned char *ex = calloc((size_t)(I ? I : 1), 1);
    if (!sc || !best || !ex) {
        free(sc), free(best), free(ex), scorer_free(&so);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory ranking %lld items", (long long)I);
    }
    for (int64_t x = 0; x < n_exclude; x++)
        ex[exclude[x]] = 1;
    int64_t u = ember__idmap_find(&r->users, user, strlen(user));
    scorer_run(&so, &u, 1, sc);
    *n_out = select_top(sc, ex, I, k, items, best);
    if (scores)
        memcpy(scores, best, (size_t)*n_out * sizeof *best);
    free(sc), free(best), free(ex), scorer_free(&so);
    return EMBER_OK;
}

/* Indices grouped by key: key k's values are val[off[k] .. off[k + 1]). */
typedef struct groups {
    int64_t *off, *val;
} groups;

static void groups_free(groups *g)
{
    free(g->off);
    free(g->val);
}

/* Group n values by key (keys in [0, nk), -1: left out), in input order. */
static int groups_make(groups *g, const int64_t *key, const int64_t *val, int64_t n, int64_t nk)
{
    g->off = calloc((size_t)nk + 2, sizeof *g->off);
    g->val = malloc((size_t)(n ? n : 1) * sizeof *g->val);
    int64_t *fill = calloc((size_t)nk + 1, sizeof *fill);
    if (!g->off || !g->val || !fill) {
        free(fill);
        return -1;
    }
    for (int64_t e = 0; e < n; e++)
        if (key[e] >= 0)
            g->off[key[e] + 1]++;
    for (int64_t k = 0; k < nk; k++)
        g->off[k + 1] += g->off[k];
    for (int64_t e = 0; e < n; e++)
        if (key[e] >= 0)
            g->val[g->off[key[e]] + fill[key[e]]++] = val[e];
    free(fill);
    return 0;
}

ember_status ember_recommender_evaluate_ranking(const ember_recommender *r,
                                                const ember_interactions *train,
                                                const ember_interactions *test, int k,
                                                uint64_t seed, ember_ranking_metrics *model,
                                                ember_ranking_metrics *popular,
                                                ember_ranking_metrics *random,
                                                ember_error *err)
{
    if (!r || !train || !test)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "evaluate_ranking: NULL argument");
    if (k < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "evaluate_ranking: k must be >= 1, got %d", k);
    int64_t U = ember_recommender_user_count(r), I = ember_recommender_item_count(r);
    int64_t NT = test->n, NR = train->n;
    scorer so;
    ember_status s = scorer_init(&so, r, err);
    if (s)
        return s;
    const int64_t blk = scorer_block(&so);
    int64_t *bu = malloc((size_t)blk * sizeof(int64_t));
    float *S = malloc((size_t)(blk * (I + 1)) * sizeof(float));
    int64_t *tr_u = malloc((size_t)(train->users.n + 1) * sizeof(int64_t));
    int64_t *tr_i = malloc((size_t)(train->items.n + 1) * sizeof(int64_t));
    int64_t *te_u = malloc((size_t)(test->users.n + 1) * sizeof(int64_t));
    int64_t *te_i = malloc((size_t)(test->items.n + 1) * sizeof(int64_t));
    int64_t *key = malloc((size_t)((NT > NR ? NT : NR) + 1) * sizeof(int64_t));
    int64_t *val = malloc((size_t)((NT > NR ? NT : NR) + 1) * sizeof(int64_t));
    int64_t *rel = malloc((size_t)(NT + 1) * sizeof(int64_t));
    int64_t *rel_off = malloc((size_t)(U + 1) * sizeof(int64_t));
    float *pop = calloc((size_t)(I + 1), sizeof(float)), *sc = malloc((size_t)(I + 1) * sizeof(float));
    float *best = malloc((size_t)k * sizeof(float));
    unsigned char *ex = calloc((size_t)(I + 1), 1);
    int64_t *tops[3] = {NULL, NULL, NULL};
    groups tg = {NULL, NULL}, sg = {NULL, NULL};
    if (!tr_u || !tr_i || !te_u || !te_i || !key || !val || !rel || !rel_off || !pop || !sc ||
        !best || !ex || !bu || !S) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory evaluating the ranking");
        goto done;
    }
    ember__map_ids(tr_u, &train->users, &r->users);
    ember__map_ids(tr_i, &train->items, &r->items);
    ember__map_ids(te_u, &test->users, &r->users);
    ember__map_ids(te_i, &test->items, &r->items);
    /* test records by model user (values: the test file's item index) */
    for (int64_t e = 0; e < NT; e++) {
        key[e] = te_u[test->user[e]];
        val[e] = test->item[e];
    }
    if (groups_make(&tg, key, val, NT, U)) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory evaluating the ranking");
        goto done;
    }
    /* train records by model user (values: model item index, -1 unknown) */
    for (int64_t e = 0; e < NR; e++) {
        key[e] = tr_u[train->user[e]];
        val[e] = tr_i[train->item[e]];
        if (val[e] >= 0)
            pop[val[e]] += 1.0f;
    }
    if (groups_make(&sg, key, val, NR, U)) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory evaluating the ranking");
        goto done;
    }
    /* rows: model users with test records, in model order; relevant items
     * without repeats (by the test file's item, so two unknown items stay two) */
    int64_t rows = 0, nrel = 0;
    rel_off[0] = 0;
    for (int64_t u = 0; u < U; u++) {
        int64_t b = tg.off[u], e = tg.off[u + 1];
        if (b == e)
            continue;
        for (int64_t x = b; x < e; x++) {
            int dup = 0;
            for (int64_t y = b; y < x && !dup; y++)
                dup = tg.val[y] == tg.val[x];
            if (!dup)
                rel[nrel++] = te_i[tg.val[x]];
        }
        rel_off[++rows] = nrel;
    }
    for (int j = 0; j < 3; j++)
        if (!(tops[j] = malloc((size_t)(rows ? rows : 1) * (size_t)k * sizeof(int64_t)))) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory evaluating the ranking");
            goto done;
        }
    /* users with test records, a block at a time: the model's scores of a
     * block are one matrix product, then each user's lists */
    for (int64_t u0 = 0, row = 0; u0 < U;) {
        int64_t nb = 0;
        for (; u0 < U && nb < blk; u0++)
            if (tg.off[u0] != tg.off[u0 + 1])
                bu[nb++] = u0;
        scorer_run(&so, bu, nb, S);
        for (int64_t b = 0; b < nb; b++, row++) {
            int64_t u = bu[b];
            for (int64_t x = sg.off[u]; x < sg.off[u + 1]; x++)
                if (sg.val[x] >= 0)
                    ex[sg.val[x]] = 1;
            ember_rng rng = ember__rng_stream(seed, EMBER_STREAM_SHUFFLE, (uint64_t)u, 1);
            for (int64_t i = 0; i < I; i++)
                sc[i] = ember__rng_uniform_at(&rng, (uint64_t)i);
            const float *by[3] = {S + b * I, pop, sc};
            for (int j = 0; j < 3; j++) {
                int64_t *t = tops[j] + row * k;
                int m = select_top(by[j], ex, I, k, t, best);
                for (int q = m; q < k; q++)
                    t[q] = -1;
            }
            for (int64_t x = sg.off[u]; x < sg.off[u + 1]; x++)
                if (sg.val[x] >= 0)
                    ex[sg.val[x]] = 0;
        }
    }
    ember_ranking_metrics *outs[3] = {model, popular, random};
    for (int j = 0; j < 3 && !s; j++)
        if (outs[j])
            s = ember_ranking_metrics_compute(tops[j], rows, k, rel, rel_off, I > 0 ? I : 1,
                                              outs[j], err);
done:
    for (int j = 0; j < 3; j++)
        free(tops[j]);
    groups_free(&tg);
    groups_free(&sg);
    free(tr_u), free(tr_i), free(te_u), free(te_i), free(key), free(val), free(rel);
    free(rel_off), free(pop), free(sc), free(best), free(ex), free(bu), free(S);
    scorer_free(&so);
    return s;
}
