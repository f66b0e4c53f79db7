/*
 * test_two_tower.c - the two-tower recommender (src/recommend/two_tower.c,
 * features.c): the feature-table readers (generic CSV with flag, numeric and
 * categorical columns against hand-computed encodings; the MovieLens u.user
 * and u.item layouts; bad files named by file:line), a central-difference
 * gradient check of the sampled-softmax step through both towers and the id
 * embeddings (with a masked negative), training on made-up data where taste
 * follows a feature, cold-start items and users scored from their features,
 * determinism, and the model file (round trip, refused changes).
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "gradcheck.h"
#include "model/model.h"
#include "recommend/rec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static const char *fixture(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return path;
    fputs(text, f);
    fclose(f);
    return path;
}

static int close_to(float a, double b) { return fabs((double)a - b) < 1e-5; }

static void test_features_generic(void)
{
    ember_error err;
    ember_features *f = NULL;
    /* flag column, numeric column (mean 2, population std sqrt(2/3)),
     * categorical column (b twice, a once), an all-empty column (dropped) */
    const char *p = fixture("gen.csv", "id,flag,n,colour,empty\n"
                                       "x,1,1,b,\n"
                                       "y,0,3,a,\n"
                                       "z,1,2,b,\n");
    CHECK_OK(ember_features_load(&f, p, &err), &err);
    if (!f)
        return;
    CHECK(ember_features_rows(f) == 3 && ember_features_width(f) == 4);
    CHECK(!strcmp(ember_features_column(f, 0), "flag"));
    CHECK(!strcmp(ember_features_column(f, 1), "n"));
    CHECK(!strcmp(ember_features_column(f, 2), "colour=b"));
    CHECK(!strcmp(ember_features_column(f, 3), "colour=a"));
    double sd = sqrt(2.0 / 3.0);
    const float *y = ember_features_row(f, ember_features_find(f, "y"));
    CHECK(y && close_to(y[0], 0) && close_to(y[1], 1.0 / sd) && close_to(y[2], 0) &&
          close_to(y[3], 1));
    const float *x = ember_features_row(f, ember_features_find(f, "x"));
    CHECK(x && close_to(x[0], 1) && close_to(x[1], -1.0 / sd) && close_to(x[2], 1) &&
          close_to(x[3], 0));
    CHECK(ember_features_find(f, "nobody") == -1);
    ember_features_destroy(f);

    /* tab-separated, an empty numeric cell is the mean (0) */
    p = fixture("gen.tsv", "user\tage\nu1\t20\nu2\t\nu3\t40\n");
    CHECK_OK(ember_features_load(&f, p, &err), &err);
    if (f) {
        CHECK(ember_features_width(f) == 1);
        CHECK(close_to(ember_features_row(f, 1)[0], 0) && close_to(ember_features_row(f, 0)[0], -1));
        ember_features_destroy(f);
    }
}

static void test_features_movielens(void)
{
    ember_error err;
    ember_features *f = NULL;
    const char *p = fixture("u.user", "1|24|M|technician|85711\n"
                                      "2|53|F|other|94043\n"
                                      "3|23|M|writer|32067\n");
    CHECK_OK(ember_features_load(&f, p, &err), &err);
    if (f) {
        /* age, gender=M, gender=F, occupation x3, zip1=8, zip1=9, zip1=3 */
        CHECK_MSG(ember_features_width(f) == 9, "u.user width %lld",
                  (long long)ember_features_width(f));
        CHECK(!strcmp(ember_features_column(f, 1), "gender=M"));
        const float *r = ember_features_row(f, ember_features_find(f, "2"));
        CHECK(r && r[0] > 1.0f && r[1] == 0.0f && r[2] == 1.0f);
        int zip9 = -1;
        for (int j = 0; j < 9; j++)
            if (!strcmp(ember_features_column(f, j), "zip1=9"))
                zip9 = j;
        CHECK(zip9 >= 0 && r && r[zip9] == 1.0f);
        ember_features_destroy(f);
    }
    char item[512];
    snprintf(item, sizeof item, "7|Twelve Monkeys (1995)|01-Jan-1995||http://x|"
                                "0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|1|0|0|0\n");
    p = fixture("u.item", item);
    CHECK_OK(ember_features_load(&f, p, &err), &err);
    if (f) {
        CHECK(ember_features_width(f) == EMBER_MOVIELENS_GENRES);
        CHECK(!strcmp(ember_features_column(f, 8), "Drama") &&
              !strcmp(ember_features_column(f, 15), "Sci-Fi"));
        const float *r = ember_features_row(f, 0);
        CHECK(r && r[8] == 1.0f && r[15] == 1.0f && r[0] == 0.0f);
        ember_features_destroy(f);
    }
}

static void test_features_bad(void)
{
    ember_error err;
    ember_features *f = NULL;
    CHECK_ERR(ember_features_load(&f, fixture("b1.csv", "id,a\nx,1\ny,2,3\n"), &err),
              EMBER_ERR_FORMAT, &err, "b1.csv:3");
    CHECK_ERR(ember_features_load(&f, fixture("b2.csv", "id,a\nx,1\nx,2\n"), &err),
              EMBER_ERR_FORMAT, &err, "appears twice");
    CHECK_ERR(ember_features_load(&f, fixture("b3.csv", "id,a\n"), &err), EMBER_ERR_FORMAT, &err,
              "no rows");
    CHECK_ERR(ember_features_load(&f, fixture("b4.csv", ""), &err), EMBER_ERR_FORMAT, &err,
              "empty file");
    CHECK_ERR(ember_features_load(&f, fixture("b5.csv", "idonly\nx\n"), &err), EMBER_ERR_FORMAT,
              &err, "two columns");
    CHECK_ERR(ember_features_load(&f, fixture("b6.csv", "id,a\n,1\n"), &err), EMBER_ERR_FORMAT,
              &err, "b6.csv:2: field 1 (id) is empty");
    CHECK_ERR(ember_features_load(&f, fixture("u.user.bad", "1|24|M|x|1\n2|old|F|y|2\n"), &err),
              EMBER_ERR_FORMAT, &err, "u.user.bad:2: field 2 (age)");
    CHECK_ERR(ember_features_load(&f, fixture("b7.csv", "id,a\nx,\n"), &err), EMBER_ERR_FORMAT,
              &err, "no feature column");
    CHECK_ERR(ember_features_load(&f, "/nonexistent/u.user", &err), EMBER_ERR_IO, &err,
              "/nonexistent/u.user");
    CHECK(f == NULL);
}

/* ------------------------------------------------------ gradient check */

typedef struct tt_case {
    ember_tt *t;
    int64_t urow[2], ufr[2], irow[5], ifr[5], items[5];
} tt_case;

static double tt_loss(void *p)
{
    tt_case *c = p;
    return ember__tt_step(c->t, c->urow, c->ufr, c->irow, c->ifr, c->items, 2, 3, 2, 0, 1);
}

static void test_gradcheck(void)
{
    ember_error err;
    ember_two_tower_config cfg = ember_two_tower_config_default();
    cfg.dim = 3;
    cfg.id_dim = 3;
    cfg.hidden = 4;
    ember_tt *t = NULL;
    CHECK_OK(ember__tt_alloc(&t, &cfg, 3, 4, 2, 2, &err), &err);
    if (!t)
        return;
    CHECK_OK(ember__tt_reserve(t, 2, 3, &err), &err);
    ember_rng r = ember__rng_stream(5, 1, 2, 3);
    /* weights of order 1 so every term matters */
    for (int64_t k = 0; k < t->utower->n_params; k++)
        t->utower->params[k] = 2.0f * ember__rng_uniform(&r) - 1.0f;
    for (int64_t k = 0; k < t->itower->n_params; k++)
        t->itower->params[k] = 2.0f * ember__rng_uniform(&r) - 1.0f;
    for (int64_t k = 0; k < (t->U + 1) * t->E; k++)
        t->uemb[k] = 2.0f * ember__rng_uniform(&r) - 1.0f;
    for (int64_t k = 0; k < (t->I + 1) * t->E; k++)
        t->iemb[k] = 2.0f * ember__rng_uniform(&r) - 1.0f;
    for (int64_t k = 0; k < t->U * t->Fu; k++)
        t->ufeat[k] = 2.0f * ember__rng_uniform(&r) - 1.0f;
    for (int64_t k = 0; k < t->I * t->Fi; k++)
        t->ifeat[k] = 2.0f * ember__rng_uniform(&r) - 1.0f;
    /* rows: user 0 with item 1, the unknown user row (3) with item 2 (its
     * unknown embedding row 4); negatives 1 (masked for row 0), 3, 0 */
    tt_case c = {t, {0, 3}, {0, 2}, {1, 4, 1, 3, 0}, {1, 2, 1, 3, 0}, {1, 2, 1, 3, 0}};
    for (int k = 0; k < 2; k++) {
        ember_model *m = k ? t->itower : t->utower;
        memset(m->grads, 0, (size_t)m->n_params * sizeof(float));
    }
    memset(t->gu, 0, (size_t)((t->U + 1) * t->E) * sizeof(float));
    memset(t->gi, 0, (size_t)((t->I + 1) * t->E) * sizeof(float));
    double l = ember__tt_step(t, c.urow, c.ufr, c.irow, c.ifr, c.items, 2, 3, 2, 1, 1);
    CHECK_MSG(l > 0 && isfinite(l), "loss %g", l);
    CHECK(tt_loss(&c) == l); /* without gradients: the same value */
    /* row 0's softmax leaves out negative 0 (its own item) */
    CHECK(gradcheck_report("two-tower user tower", gradcheck(t->utower->params, t->utower->grads,
                                                             t->utower->n_params, 0, tt_loss, &c)));
    CHECK(gradcheck_report("two-tower item tower", gradcheck(t->itower->params, t->itower->grads,
                                                             t->itower->n_params, 0, tt_loss, &c)));
    CHECK(gradcheck_report("two-tower user embeddings",
                           gradcheck(t->uemb, t->gu, (t->U + 1) * t->E, 0, tt_loss, &c)));
    CHECK(gradcheck_report("two-tower item embeddings",
                           gradcheck(t->iemb, t->gi, (t->I + 1) * t->E, 0, tt_loss, &c)));
    /* rows 1 and 2 of the user embeddings were not used: zero gradient */
    for (int64_t k = t->E; k < 3 * t->E; k++)
        CHECK(t->gu[k] == 0.0f);
    CHECK(t->n_tu == 2 && t->n_ti == 4);
    ember__tt_free(t);
}

/* ---------------------------------------------- made-up taste data
 * 40 users in two groups (feature "group"), 16 items in two genres
 * (feature "g"): group A users interact with genre-0 items only, group B
 * with genre-1 items. Items c0 (genre 0) and c1 (genre 1) and users nA, nB
 * are in the feature files only (cold start). */
static void write_taste(const char **inter, const char **users, const char **items)
{
    char buf[16384];
    size_t o = 0;
    for (int u = 0; u < 40; u++)
        for (int k = 0; k < 6; k++) {
            int it = (u * 3 + k * 5) % 8 + (u < 20 ? 0 : 8);
            o += (size_t)snprintf(buf + o, sizeof buf - o, "u%d,i%d\n", u, it);
        }
    *inter = strdup(fixture("taste.csv", buf));
    o = (size_t)snprintf(buf, sizeof buf, "user,group\n");
    for (int u = 0; u < 40; u++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "u%d,%s\n", u, u < 20 ? "A" : "B");
    o += (size_t)snprintf(buf + o, sizeof buf - o, "nA,A\nnB,B\n");
    *users = strdup(fixture("taste_users.csv", buf));
    o = (size_t)snprintf(buf, sizeof buf, "item,g\n");
    for (int i = 0; i < 16; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "i%d,%d\n", i, i < 8 ? 0 : 1);
    o += (size_t)snprintf(buf + o, sizeof buf - o, "c0,0\nc1,1\n");
    *items = strdup(fixture("taste_items.csv", buf));
}

static float score_of(const ember_recommender *r, const char *u, const char *i)
{
    return ember_recommender_predict(r, u, i, NULL);
}

static int same_file(const char *a, const char *b)
{
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int same = x && y;
    while (same) {
        int p = fgetc(x), q = fgetc(y);
        same = p == q;
        if (p == EOF || q == EOF)
            break;
    }
    if (x)
        fclose(x);
    if (y)
        fclose(y);
    return same;
}

static void test_training(void)
{
    ember_error err;
    const char *ip, *up, *tp;
    write_taste(&ip, &up, &tp);
    ember_interactions *d = NULL;
    ember_features *uf = NULL, *itf = NULL;
    CHECK_OK(ember_interactions_load(&d, ip, &err), &err);
    CHECK_OK(ember_features_load(&uf, up, &err), &err);
    CHECK_OK(ember_features_load(&itf, tp, &err), &err);
    ember_two_tower_config cfg = ember_two_tower_config_default();
    cfg.dim = 8;
    cfg.id_dim = 8;
    cfg.hidden = 16;
    cfg.epochs = 60;
    cfg.batch_size = 32;
    cfg.negatives = 8;
    cfg.id_dropout = 0.3f;
    cfg.optimizer = ember_optimizer_adam(0.01f);
    ember_recommender *r = NULL;
    CHECK_OK(ember_recommender_train_two_tower(&r, d, uf, itf, &cfg, NULL, NULL, &err), &err);
    if (!r)
        goto done;
    CHECK(!strcmp(ember_recommender_model(r), "two-tower"));
    CHECK(ember_recommender_config(r) == NULL && ember_recommender_two_tower_config(r));
    CHECK(ember_recommender_user_count(r) == 42 && ember_recommender_item_count(r) == 18);
    CHECK(ember_recommender_cold_users(r) == 2 && ember_recommender_cold_items(r) == 2);
    /* a group-A user prefers genre-0 items, a group-B user genre-1 items */
    int good = 0, total = 0;
    for (int u = 0; u < 40; u += 3) {
        char uid[8];
        snprintf(uid, sizeof uid, "u%d", u);
        for (int i = 0; i < 8; i++) {
            char a[8], b[8];
            snprintf(a, sizeof a, "i%d", i);
            snprintf(b, sizeof b, "i%d", i + 8);
            float sa = score_of(r, uid, a), sb = score_of(r, uid, b);
            good += u < 20 ? sa > sb : sb > sa;
            total++;
        }
    }
    CHECK_MSG(good == total, "taste: %d of %d pairs ordered by the user's group", good, total);
    /* cold start: items c0/c1 and users nA/nB only have features */
    CHECK_MSG(score_of(r, "u1", "c0") > score_of(r, "u1", "c1"), "cold items, group-A user");
    CHECK_MSG(score_of(r, "u30", "c1") > score_of(r, "u30", "c0"), "cold items, group-B user");
    CHECK_MSG(score_of(r, "nA", "i2") > score_of(r, "nA", "i10"), "cold user of group A");
    CHECK_MSG(score_of(r, "nB", "i10") > score_of(r, "nB", "i2"), "cold user of group B");
    CHECK_MSG(score_of(r, "nA", "c0") > score_of(r, "nA", "c1"), "cold user, cold items");
    /* top-K for a cold user: genre-0 items first */
    int64_t top[4];
    float sc[4];
    int n = 0;
    CHECK_OK(ember_recommender_top_k(r, "nA", 4, NULL, 0, top, sc, &n, &err), &err);
    CHECK(n == 4);
    for (int j = 0; j < n; j++) {
        const char *id = ember_recommender_item_id(r, top[j]);
        CHECK_MSG(!strcmp(id, "c0") || atoi(id + 1) < 8, "nA's top %d is %s", j, id);
        CHECK(j == 0 || sc[j] <= sc[j - 1]);
    }
    /* ratings are not what it predicts */
    ember_rating_metrics rm;
    CHECK_ERR(ember_recommender_evaluate(r, d, 1, &rm, &err), EMBER_ERR_ARG, &err, "two-tower");
    /* similar: cosine of item vectors; i0's nearest items are genre 0 */
    CHECK_OK(ember_recommender_similar(r, "i0", 3, top, sc, &n, &err), &err);
    for (int j = 0; j < n; j++) {
        const char *id = ember_recommender_item_id(r, top[j]);
        CHECK_MSG(!strcmp(id, "c0") || atoi(id + 1) < 8, "similar to i0: %s", id);
    }

    /* the file: round trip gives the same scores; same seed, same bytes */
    char p1[256], p2[256];
    snprintf(p1, sizeof p1, "%s/tt1.st", dir);
    snprintf(p2, sizeof p2, "%s/tt2.st", dir);
    CHECK_OK(ember_recommender_save(r, p1, &err), &err);
    ember_recommender *back = NULL;
    CHECK_OK(ember_recommender_load(&back, p1, &err), &err);
    if (back) {
        CHECK(!strcmp(ember_recommender_model(back), "two-tower"));
        CHECK(ember_recommender_cold_items(back) == 2);
        CHECK(score_of(back, "nA", "c0") == score_of(r, "nA", "c0"));
        CHECK(score_of(back, "u7", "i3") == score_of(r, "u7", "i3"));
        const ember_two_tower_config *bc = ember_recommender_two_tower_config(back);
        CHECK(bc && bc->hidden == 16 && bc->negatives == 8 && bc->id_dropout == 0.3f &&
              bc->optimizer.learning_rate == 0.01f);
        ember_recommender_destroy(back);
    }
    ember_recommender *r2 = NULL;
    CHECK_OK(ember_recommender_train_two_tower(&r2, d, uf, itf, &cfg, NULL, NULL, &err), &err);
    if (r2) {
        CHECK_OK(ember_recommender_save(r2, p2, &err), &err);
        CHECK_MSG(same_file(p1, p2), "two trainings with one seed differ");
        ember_recommender_destroy(r2);
    }
    /* two threads: the same model (the result depends on the seed only) */
    cfg.threads = 2;
    CHECK_OK(ember_recommender_train_two_tower(&r2, d, uf, itf, &cfg, NULL, NULL, &err), &err);
    if (r2) {
        CHECK(score_of(r2, "u7", "i3") == score_of(r, "u7", "i3"));
        ember_recommender_destroy(r2);
    }
    /* a changed file is refused (metadata hash / data checksum) */
    FILE *f = fopen(p1, "r+b");
    if (f) {
        fseek(f, -3, SEEK_END);
        fputc('x', f);
        fclose(f);
    }
    CHECK_ERR(ember_recommender_load(&back, p1, &err), EMBER_ERR_FORMAT, &err, "tt1.st");
    /* ids only (no feature files) also trains */
    cfg.threads = 1;
    cfg.epochs = 2;
    CHECK_OK(ember_recommender_train_two_tower(&r2, d, NULL, NULL, &cfg, NULL, NULL, &err), &err);
    if (r2) {
        CHECK(ember_recommender_cold_items(r2) == 0 && ember_recommender_item_count(r2) == 16);
        ember_recommender_destroy(r2);
    }
    /* bad settings are named */
    cfg.negatives = 0;
    CHECK_ERR(ember_recommender_train_two_tower(&r2, d, NULL, NULL, &cfg, NULL, NULL, &err),
              EMBER_ERR_ARG, &err, "negatives");
    cfg.negatives = 8;
    cfg.id_dropout = 1.0f;
    CHECK_ERR(ember_recommender_train_two_tower(&r2, d, NULL, NULL, &cfg, NULL, NULL, &err),
              EMBER_ERR_ARG, &err, "id_dropout");
    ember_recommender_destroy(r);
done:
    ember_features_destroy(uf);
    ember_features_destroy(itf);
    ember_interactions_destroy(d);
    free((void *)ip), free((void *)up), free((void *)tp);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ember_two_tower_XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_features_generic();
    test_features_movielens();
    test_features_bad();
    test_gradcheck();
    test_training();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("two_tower");
}
