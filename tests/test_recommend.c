/*
 * test_recommend.c - the recommender (src/recommend/): the id map, the
 * interaction and u.item readers on good and bad files (status, file:line
 * and field in the message), a gradient check of the biased-MF loss and
 * its dot-product scoring, a hand-computed score, training on made-up
 * low-rank ratings, determinism for a seed and thread count, the fallback
 * for unknown ids, RMSE/MAE against a direct computation, and the model
 * file (round trip, refused files). Fixtures are written to a fresh
 * directory under /tmp; no MovieLens data is needed.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "gradcheck.h"
#include "recommend/rec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static const char *fixture(const char *name, const char *text, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return path;
    fwrite(text, 1, len, f);
    fclose(f);
    return path;
}
#define FIX(name, text) fixture((name), (text), sizeof(text) - 1)

static void test_idmap(void)
{
    ember_error err;
    ember_idmap m;
    ember__idmap_init(&m);
    int64_t k;
    CHECK(ember__idmap_find(&m, "a", 1) == -1);
    CHECK_OK(ember__idmap_add(&m, "1", 1, &k, &err), &err);
    CHECK(k == 0);
    CHECK_OK(ember__idmap_add(&m, "10", 2, &k, &err), &err);
    CHECK(k == 1);
    CHECK_OK(ember__idmap_add(&m, "1", 1, &k, &err), &err);
    CHECK(k == 0);
    /* a prefix of a stored id is a different id */
    CHECK(ember__idmap_find(&m, "10x", 2) == 1);
    CHECK(ember__idmap_find(&m, "100", 3) == -1);
    /* enough ids to grow the table several times; order of first appearance */
    char buf[32];
    int ok = 1;
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "user-%d", i);
        ok &= ember__idmap_add(&m, buf, strlen(buf), &k, &err) == EMBER_OK && k == i + 2;
    }
    CHECK(ok);
    ok = 1;
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "user-%d", i);
        ok &= ember__idmap_find(&m, buf, strlen(buf)) == i + 2 &&
              !strcmp(ember__idmap_get(&m, i + 2), buf);
    }
    CHECK(ok);
    CHECK(m.n == 5002);
    CHECK(!strcmp(ember__idmap_get(&m, 1), "10"));
    ember__idmap_deinit(&m);
}

static void test_interactions_good(void)
{
    ember_error err;
    ember_interactions *d = NULL;
    /* CSV with a header, CR LF, string ids, a blank line */
    const char *p = FIX("h.csv", "userId,movieId,rating,timestamp\r\nalice,m1,4.5,100\r\n\r\n"
                                 "bob,m2,3,200\r\nalice,m2,1,300\r\n");
    CHECK_OK(ember_interactions_load(&d, p, &err), &err);
    CHECK(ember_interactions_size(d) == 3);
    CHECK(ember_interactions_user_count(d) == 2 && ember_interactions_item_count(d) == 2);
    CHECK(ember_interactions_has_ratings(d));
    CHECK(!strcmp(ember_interactions_user(d, 2), "alice") &&
          !strcmp(ember_interactions_item(d, 2), "m2"));
    CHECK(ember_interactions_rating(d, 0) == 4.5f && ember_interactions_timestamp(d, 2) == 300);
    ember_interactions_destroy(d);
    /* MovieLens u.data layout: tabs, no header */
    p = FIX("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n");
    CHECK_OK(ember_interactions_load(&d, p, &err), &err);
    CHECK(ember_interactions_size(d) == 3 && ember_interactions_rating(d, 2) == 1.0f);
    CHECK(ember_interactions_timestamp(d, 0) == 881250949);
    ember_interactions_destroy(d);
    /* a header found by its non-numeric rating column */
    p = FIX("h2.tsv", "who\twhat\tstars\nx\ty\t5\n");
    CHECK_OK(ember_interactions_load(&d, p, &err), &err);
    CHECK(ember_interactions_size(d) == 1 && !strcmp(ember_interactions_user(d, 0), "x"));
    ember_interactions_destroy(d);
    /* MovieLens 1M ratings.dat */
    p = FIX("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n");
    CHECK_OK(ember_interactions_load(&d, p, &err), &err);
    CHECK(ember_interactions_size(d) == 2 && !strcmp(ember_interactions_item(d, 1), "661"));
    ember_interactions_destroy(d);
    /* implicit: user,item only, ratings 1 */
    p = FIX("clicks.csv", "u1,i1\nu1,i2\n");
    CHECK_OK(ember_interactions_load(&d, p, &err), &err);
    CHECK(!ember_interactions_has_ratings(d) && ember_interactions_rating(d, 1) == 1.0f);
    ember_interactions_destroy(d);
}

static void test_interactions_bad(void)
{
    ember_error err;
    ember_interactions *d = NULL;
    const char *p = FIX("f.tsv", "1\t2\t3\t4\n1\t2\t3\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err, "f.tsv:2: 3 tab");
    CHECK(d == NULL);
    p = FIX("r.tsv", "1\t2\t3\n1\t2\tfive\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err,
              "r.tsv:2: field 3 (rating): 'five'");
    p = FIX("n.tsv", "1\t2\t3\n1\t2\tnan\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err, "n.tsv:2: field 3");
    p = FIX("t.csv", "1,2,3,4\n1,2,3,4.5\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err,
              "t.csv:2: field 4 (timestamp): '4.5' is not an integer");
    p = FIX("e.csv", "a,b,1\n,b,2\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err,
              "e.csv:2: field 1 (user) is empty");
    p = FIX("e2.csv", "a,b,1\na,,2\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err,
              "e2.csv:2: field 2 (item) is empty");
    p = FIX("five.csv", "a,b,1,2,3\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err,
              "five.csv:1: more than 4 comma");
    p = FIX("one.csv", "abc\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err, "one.csv:1: 1 comma");
    p = FIX("empty.csv", "");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err, "no interactions");
    p = FIX("hdr.csv", "user,item,rating\n");
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err, "header only");
    p = fixture("nul.tsv", "1\t2\t3\n1\t\0\t3\n", 12);
    CHECK_ERR(ember_interactions_load(&d, p, &err), EMBER_ERR_FORMAT, &err, "nul.tsv:2: a NUL");
    CHECK_ERR(ember_interactions_load(&d, "/nonexistent/x.csv", &err), EMBER_ERR_IO, &err,
              "/nonexistent/x.csv: cannot open");
    CHECK(d == NULL);
}

#define FLAGS0 "|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0"
static void test_items(void)
{
    ember_error err;
    ember_items *t = NULL;
    /* Latin-1: 0xE9 e-acute, 0xF6 o-umlaut */
    const char *p = FIX("u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|"
                                  "0|0|0|0|0|0|0|0|0\n"
                                  "2|Caf\xe9 K\xf6ln (1996)|01-Jan-1996||" FLAGS0 "\n");
    CHECK_OK(ember_items_load_movielens(&t, p, &err), &err);
    CHECK(ember_items_size(t) == 2);
    CHECK(!strcmp(ember_items_title(t, 1), "Caf\xc3\xa9 K\xc3\xb6ln (1996)"));
    CHECK(!strcmp(ember_items_title(t, 0), "Toy Story (1995)"));
    const unsigned char *g = ember_items_genres(t, 0);
    CHECK(g[2] == 0 && g[3] == 1 && g[4] == 1 && g[5] == 1 && g[6] == 0 && g[18] == 0);
    CHECK(ember_items_find(t, "2") == 1 && ember_items_find(t, "3") == -1);
    CHECK(!strcmp(ember_items_id(t, 1), "2"));
    ember_items_destroy(t);
    t = NULL;
    p = FIX("bad1.item", "1|A|d||u" FLAGS0 "\n2|B|d||u|0|0\n");
    CHECK_ERR(ember_items_load_movielens(&t, p, &err), EMBER_ERR_FORMAT, &err,
              "bad1.item:2: 7 '|'-separated fields; expected 24");
    p = FIX("bad2.item", "1|A|d||u|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|2|0\n");
    CHECK_ERR(ember_items_load_movielens(&t, p, &err), EMBER_ERR_FORMAT, &err,
              "bad2.item:1: field 23 (genre flag 17): '2' is not 0 or 1");
    p = FIX("bad3.item", "1|A|d||u" FLAGS0 "\n1|B|d||u" FLAGS0 "\n");
    CHECK_ERR(ember_items_load_movielens(&t, p, &err), EMBER_ERR_FORMAT, &err,
              "bad3.item:2: field 1 (id): '1' appears twice");
    p = FIX("bad4.item", "|A|d||u" FLAGS0 "\n");
    CHECK_ERR(ember_items_load_movielens(&t, p, &err), EMBER_ERR_FORMAT, &err,
              "bad4.item:1: field 1 (id) is empty");
    p = FIX("bad5.item", "");
    CHECK_ERR(ember_items_load_movielens(&t, p, &err), EMBER_ERR_FORMAT, &err, "no items");
    CHECK(t == NULL);
}

/* ------------------------------------------------------ gradient check */

typedef struct gc_ctx {
    ember_mf_layout L;
    float *w, mu, l2, l2b;
    int n;
    const int64_t *u, *i;
    const float *r;
} gc_ctx;

static double total_loss(void *p)
{
    gc_ctx *c = p;
    float *g = calloc((size_t)c->L.n, sizeof *g), pred;
    double s = 0.0;
    for (int e = 0; e < c->n; e++)
        s += ember__mf_example_grad(&c->L, c->w, g, c->mu, c->u[e], c->i[e], c->r[e], c->l2, c->l2b, &pred);
    free(g);
    return s;
}

static void test_gradcheck(void)
{
    ember_error err;
    gc_ctx c;
    CHECK_OK(ember__mf_layout(&c.L, 3, 4, 5, &err), &err);
    CHECK(c.L.n == (3 + 4) * 6 && c.L.bi == 3 * 5 + 4 * 5 + 3);
    c.w = malloc((size_t)c.L.n * sizeof *c.w);
    ember_rng rng = ember__rng_stream(7, EMBER_STREAM_INIT, 0, 0);
    for (int64_t k = 0; k < c.L.n; k++)
        c.w[k] = 0.5f * ember__rng_normal(&rng);
    static const int64_t us[6] = {0, 1, 2, 0, 2, 1}, is[6] = {0, 1, 3, 3, 0, 2};
    static const float rs[6] = {4, 1, 3.5f, 2, 5, 3};
    c.u = us, c.i = is, c.r = rs, c.n = 6, c.mu = 3.2f;
    float *analytic = calloc((size_t)c.L.n, sizeof *analytic);
    float *g = calloc((size_t)c.L.n, sizeof *g), pred;
    for (float l2 = 0.0f; l2 <= 0.31f; l2 += 0.3f) { /* the data term alone, then with L2 */
        c.l2 = l2;
        c.l2b = l2 * 0.5f;
        memset(analytic, 0, (size_t)c.L.n * sizeof *analytic);
        for (int e = 0; e < c.n; e++) {
            memset(g, 0, (size_t)c.L.n * sizeof *g);
            ember__mf_example_grad(&c.L, c.w, g, c.mu, us[e], is[e], rs[e], l2, c.l2b, &pred);
            for (int64_t k = 0; k < c.L.n; k++)
                analytic[k] += g[k];
        }
        gc_result res = gradcheck(c.w, analytic, c.L.n, 0, total_loss, &c);
        CHECK(gradcheck_report(l2 > 0 ? "mf loss + l2" : "mf loss (dot-product scoring)", res));
    }
    /* the returned loss and prediction, by hand for example 0 */
    c.l2 = 0.1f;
    double l = ember__mf_example_grad(&c.L, c.w, g, c.mu, 0, 0, 4.0f, 0.1f, 0.04f, &pred);
    double dot = 0.0, reg = 0.0;
    for (int k = 0; k < 5; k++) {
        double p = c.w[k], q = c.w[c.L.q + k];
        dot += p * q;
        reg += p * p + q * q;
    }
    double bu = c.w[c.L.bu], bi = c.w[c.L.bi];
    double rh = 3.2 + bu + bi + dot;
    CHECK_CLOSE(pred, rh, 1e-5, 1e-6); /* float dot product vs double */
    CHECK_CLOSE(l, 0.5 * (rh - 4) * (rh - 4) + 0.05 * reg + 0.02 * (bu * bu + bi * bi), 1e-5,
                1e-5);
    free(analytic);
    free(g);
    free(c.w);
}

typedef struct bpr_ctx {
    ember_mf_layout L;
    float *w, l2, l2b;
} bpr_ctx;

static const int64_t bpr_u[4] = {0, 1, 2, 0}, bpr_i[4] = {0, 1, 3, 2}, bpr_j[4] = {1, 3, 0, 0};

static double bpr_total(void *p)
{
    bpr_ctx *c = p;
    float *g = calloc((size_t)c->L.n, sizeof *g);
    double s = 0.0;
    for (int e = 0; e < 4; e++)
        s += ember__mf_bpr_grad(&c->L, c->w, g, bpr_u[e], bpr_i[e], bpr_j[e], c->l2, c->l2b);
    free(g);
    return s;
}

/* The BPR loss (and its pairwise dot-product scoring) by central differences,
 * plus one value by hand. */
static void test_gradcheck_bpr(void)
{
    ember_error err;
    bpr_ctx c;
    CHECK_OK(ember__mf_layout(&c.L, 3, 4, 5, &err), &err);
    c.w = malloc((size_t)c.L.n * sizeof *c.w);
    ember_rng rng = ember__rng_stream(11, EMBER_STREAM_INIT, 0, 0);
    for (int64_t k = 0; k < c.L.n; k++)
        c.w[k] = 0.7f * ember__rng_normal(&rng);
    float *an = calloc((size_t)c.L.n, sizeof *an), *g = calloc((size_t)c.L.n, sizeof *g);
    for (int pass = 0; pass < 2; pass++) {
        c.l2 = pass ? 0.2f : 0.0f;
        c.l2b = pass ? 0.1f : 0.0f;
        memset(an, 0, (size_t)c.L.n * sizeof *an);
        for (int e = 0; e < 4; e++) {
            memset(g, 0, (size_t)c.L.n * sizeof *g);
            ember__mf_bpr_grad(&c.L, c.w, g, bpr_u[e], bpr_i[e], bpr_j[e], c.l2, c.l2b);
            for (int64_t k = 0; k < c.L.n; k++)
                an[k] += g[k];
        }
        gc_result res = gradcheck(c.w, an, c.L.n, 0, bpr_total, &c);
        CHECK(gradcheck_report(pass ? "bpr loss + l2" : "bpr loss (pairwise scoring)", res));
    }
    /* by hand: x = bi - bj + p.(qi - qj); l = log(1 + exp(-x)) */
    double dot = 0.0;
    for (int k = 0; k < 5; k++)
        dot += (double)c.w[k] * ((double)c.w[c.L.q + k] - c.w[c.L.q + 5 + k]);
    double x = (double)c.w[c.L.bi] - c.w[c.L.bi + 1] + dot;
    CHECK_CLOSE(ember__mf_bpr_grad(&c.L, c.w, g, 0, 0, 1, 0.0f, 0.0f), log1p(exp(-x)), 1e-5, 1e-5);
    /* no overflow far out on either side */
    c.w[c.L.bi] = 80.0f;
    CHECK(ember__mf_bpr_grad(&c.L, c.w, g, 0, 0, 1, 0.0f, 0.0f) < 1e-30 && g[c.L.bi] > -1e-30);
    c.w[c.L.bi] = -80.0f;
    double l = ember__mf_bpr_grad(&c.L, c.w, g, 0, 0, 1, 0.0f, 0.0f);
    CHECK(isfinite(l) && l > 70.0 && fabs(g[c.L.bi] + 1.0f) < 1e-6f);
    free(an);
    free(g);
    free(c.w);
}

static void test_score_exact(void)
{
    const float p[3] = {1.0f, 2.0f, -0.5f}, q[3] = {0.5f, 0.25f, 2.0f};
    /* 3.5 + 0.25 - 0.5 + (0.5 + 0.5 - 1) = 3.25, exact in binary */
    CHECK(ember__mf_score(p, q, 3, 3.5f, 0.25f, -0.5f) == 3.25f);
}

/* ------------------------------------------------------------ training */

/* Ratings from made-up rank-2 factors plus biases, every third pair held out. */
static void write_lowrank(const char *train, const char *test)
{
    FILE *a = fopen(train, "w"), *b = fopen(test, "w");
    if (!a || !b) {
        if (a)
            fclose(a);
        if (b)
            fclose(b);
        return;
    }
    fprintf(a, "user\titem\trating\n");
    for (int u = 0; u < 40; u++)
        for (int i = 0; i < 30; i++) {
            double pu0 = sin(u * 0.7), pu1 = cos(u * 1.3), qi0 = cos(i * 0.9), qi1 = sin(i * 0.4);
            double r = 3.0 + 0.3 * sin(u) + 0.4 * cos(i * 2.0) + pu0 * qi0 + 0.8 * pu1 * qi1;
            fprintf((u + i) % 3 == 0 ? b : a, "U%d\tI%d\t%.4f\n", u, i, r);
        }
    fclose(a);
    fclose(b);
}

static ember_mf_config small_config(int threads)
{
    ember_mf_config c = ember_mf_config_default();
    c.dim = 8;
    c.epochs = 200;
    c.l2 = 0.01f;
    c.l2_bias = 0.01f;
    c.lr_decay = 1.0f;
    c.threads = threads;
    c.optimizer = ember_optimizer_sgd(0.02f, 0.0f, 0);
    return c;
}

static int same_weights(const ember_recommender *a, const ember_recommender *b)
{
    return a->L.n == b->L.n && !memcmp(a->w, b->w, (size_t)a->L.n * sizeof(float)) &&
           a->mu == b->mu;
}

static void test_training(void)
{
    ember_error err;
    char tr[128], te[128], model[128];
    snprintf(tr, sizeof tr, "%s/lr_train.tsv", dir);
    snprintf(te, sizeof te, "%s/lr_test.tsv", dir);
    snprintf(model, sizeof model, "%s/mf.safetensors", dir);
    write_lowrank(tr, te);
    ember_interactions *dtr = NULL, *dte = NULL;
    CHECK_OK(ember_interactions_load(&dtr, tr, &err), &err);
    CHECK_OK(ember_interactions_load(&dte, te, &err), &err);
    if (!dtr || !dte)
        return;
    ember_recommender *r1 = NULL, *r2 = NULL, *r3 = NULL, *ra = NULL, *ld = NULL;
    ember_mf_config c1 = small_config(1), c2 = small_config(2);
    CHECK_OK(ember_recommender_train_mf(&r1, dtr, &c1, NULL, NULL, &err), &err);
    CHECK_OK(ember_recommender_train_mf(&r2, dtr, &c2, NULL, NULL, &err), &err);
    CHECK_OK(ember_recommender_train_mf(&r3, dtr, &c2, NULL, NULL, &err), &err);
    ember_mf_config ca = small_config(2);
    ca.optimizer = ember_optimizer_adam(0.01f);
    ca.epochs = 100;
    CHECK_OK(ember_recommender_train_mf(&ra, dtr, &ca, NULL, NULL, &err), &err);
    if (!r1 || !r2 || !r3 || !ra)
        goto done;
    /* same seed and thread count: bit-identical */
    CHECK(same_weights(r2, r3));
    /* the ratings' spread is about 0.8; a rank-2 model must do far better */
    ember_rating_metrics m1, m2, ma, mt;
    CHECK_OK(ember_recommender_evaluate(r1, dte, 1, &m1, &err), &err);
    CHECK_OK(ember_recommender_evaluate(r2, dte, 2, &m2, &err), &err);
    CHECK_OK(ember_recommender_evaluate(ra, dte, 1, &ma, &err), &err);
    CHECK_OK(ember_recommender_evaluate(r1, dtr, 1, &mt, &err), &err);
    printf("low-rank test RMSE: sgd 1 thread %.4f, sgd 2 threads %.4f, adam %.4f; train %.4f\n",
           m1.rmse, m2.rmse, ma.rmse, mt.rmse);
    CHECK(m1.rmse < 0.15 && m2.rmse < 0.15 && ma.rmse < 0.2 && mt.rmse < 0.1);
    CHECK(m1.n == ember_interactions_size(dte) && m1.unknown_users == 0 && m1.unknown_items == 0);
    /* RMSE and MAE against a direct computation through predict */
    double s2 = 0.0, s1 = 0.0;
    for (int64_t e = 0; e < ember_interactions_size(dte); e++) {
        double diff = (double)ember_recommender_predict(r1, ember_interactions_user(dte, e),
                                                        ember_interactions_item(dte, e), NULL) -
                      ember_interactions_rating(dte, e);
        s2 += diff * diff;
        s1 += fabs(diff);
    }
    double n = (double)ember_interactions_size(dte);
    CHECK_CLOSE(m1.rmse, sqrt(s2 / n), 1e-12, 1e-9);
    CHECK_CLOSE(m1.mae, s1 / n, 1e-12, 1e-9);
    /* threads do not change evaluation */
    ember_rating_metrics m1b;
    CHECK_OK(ember_recommender_evaluate(r1, dte, 3, &m1b, &err), &err);
    CHECK(m1b.rmse == m1.rmse && m1b.mae == m1.mae);
    /* unknown ids: mu + the known bias */
    int known = -1;
    float mu = (float)ember_recommender_global_mean(r1);
    CHECK(ember_recommender_predict(r1, "nobody", "nothing", &known) == mu && known == 0);
    int64_t i7 = ember__idmap_find(&r1->items, "I7", 2);
    CHECK(ember_recommender_predict(r1, "nobody", "I7", &known) == mu + r1->w[r1->L.bi + i7] &&
          known == 2);
    int64_t u3 = ember__idmap_find(&r1->users, "U3", 2);
    CHECK(ember_recommender_predict(r1, "U3", "nothing", &known) == mu + r1->w[r1->L.bu + u3] &&
          known == 1);
    /* save and load: the same predictions, settings and ids */
    CHECK_OK(ember_recommender_save(r2, model, &err), &err);
    CHECK_OK(ember_recommender_load(&ld, model, &err), &err);
    if (ld) {
        CHECK(same_weights(r2, ld));
        CHECK(ld->cfg.dim == 8 && ld->cfg.threads == 2 && ld->cfg.seed == 42 &&
              ld->cfg.l2 == 0.01f && ld->cfg.l2_bias == 0.01f && ld->cfg.lr_decay == 1.0f &&
              ld->cfg.optimizer.learning_rate == 0.02f &&
              ld->epochs_done == 200);
        CHECK(ember_recommender_predict(ld, "U5", "I9", NULL) ==
              ember_recommender_predict(r2, "U5", "I9", NULL));
        CHECK(ember_recommender_user_count(ld) == 40 && ember_recommender_item_count(ld) == 30);
    }
    /* the wrong kind of file, and a damaged one */
    ember_recommender *bad = NULL;
    ember_model *cls = NULL;
    CHECK_ERR(ember_model_load(&cls, model, &err), EMBER_ERR_FORMAT, &err, "ember-recommender");
    const char *nf = FIX("not_a_model.safetensors", "hello");
    CHECK(ember_recommender_load(&bad, nf, &err) != EMBER_OK && strstr(err.message, nf));
    FILE *f = fopen(model, "r+b");
    if (f) { /* flip a byte of the last tensor's data */
        fseek(f, -2, SEEK_END);
        int ch = fgetc(f);
        fseek(f, -2, SEEK_END);
        fputc(ch ^ 0x40, f);
        fclose(f);
    }
    CHECK_ERR(ember_recommender_load(&bad, model, &err), EMBER_ERR_FORMAT, &err, "checksum");
    CHECK(bad == NULL);
    /* bad configs and data */
    ember_recommender *x = NULL;
    ember_mf_config cb = small_config(1);
    cb.dim = 0;
    CHECK_ERR(ember_recommender_train_mf(&x, dtr, &cb, NULL, NULL, &err), EMBER_ERR_ARG, &err,
              "mf dim must be");
    cb = small_config(1);
    cb.lr_decay = 0.0f;
    CHECK_ERR(ember_recommender_train_mf(&x, dtr, &cb, NULL, NULL, &err), EMBER_ERR_ARG, &err,
              "mf lr_decay must be in (0, 1]");
    cb = small_config(1);
    cb.l2_bias = -1.0f;
    CHECK_ERR(ember_recommender_train_mf(&x, dtr, &cb, NULL, NULL, &err), EMBER_ERR_ARG, &err,
              "mf l2_bias must be >= 0");
    cb = small_config(1);
    cb.threads = 0;
    CHECK_ERR(ember_recommender_train_mf(&x, dtr, &cb, NULL, NULL, &err), EMBER_ERR_ARG, &err,
              "mf threads");
    cb = small_config(1);
    cb.optimizer.weight_decay = 0.1f;
    CHECK_ERR(ember_recommender_train_mf(&x, dtr, &cb, NULL, NULL, &err), EMBER_ERR_ARG, &err,
              "weight_decay");
    cb = small_config(1);
    cb.optimizer = ember_optimizer_sgd(1000.0f, 0.0f, 0);
    CHECK_ERR(ember_recommender_train_mf(&x, dtr, &cb, NULL, NULL, &err), EMBER_ERR_NUMERIC, &err,
              "epoch 1");
    ember_interactions *clicks = NULL;
    CHECK_OK(ember_interactions_load(&clicks, FIX("c.csv", "a,b\n"), &err), &err);
    CHECK_ERR(ember_recommender_train_mf(&x, clicks, &c1, NULL, NULL, &err), EMBER_ERR_ARG, &err,
              "no rating column");
    CHECK(x == NULL);
    ember_interactions_destroy(clicks);
done:
    ember_recommender_destroy(r1);
    ember_recommender_destroy(r2);
    ember_recommender_destroy(r3);
    ember_recommender_destroy(ra);
    ember_recommender_destroy(ld);
    ember_interactions_destroy(dtr);
    ember_interactions_destroy(dte);
}

/* ------------------------------------------------------------- ranking */

static void test_split_last(void)
{
    ember_error err;
    ember_interactions *d = NULL, *tr = NULL, *te = NULL;
    /* u1: latest is (u1,c,30); u2: a tie at 50, the later line (u2,e) wins;
     * u3: one record stays in train */
    const char *p = FIX("ll.tsv", "u1\ta\t5\t10\nu1\tc\t4\t30\nu2\td\t3\t50\nu1\tb\t3\t20\n"
                                  "u2\te\t2\t50\nu3\ta\t1\t99\n");
    CHECK_OK(ember_interactions_load(&d, p, &err), &err);
    CHECK_OK(ember_interactions_split_last(d, &tr, &te, &err), &err);
    if (tr && te) {
        CHECK(ember_interactions_size(tr) == 4 && ember_interactions_size(te) == 2);
        CHECK(!strcmp(ember_interactions_user(te, 0), "u1") &&
              !strcmp(ember_interactions_item(te, 0), "c") &&
              ember_interactions_timestamp(te, 0) == 30 && ember_interactions_rating(te, 0) == 4);
        CHECK(!strcmp(ember_interactions_user(te, 1), "u2") &&
              !strcmp(ember_interactions_item(te, 1), "e"));
        CHECK(!strcmp(ember_interactions_item(tr, 2), "b") &&
              !strcmp(ember_interactions_user(tr, 3), "u3"));
    }
    ember_interactions_destroy(d);
    ember_interactions_destroy(tr);
    ember_interactions_destroy(te);
}

static void test_ranking_metrics(void)
{
    ember_error err;
    ember_ranking_metrics m;
    /* 3 users, k 3, 6 items. user 0: relevant {2, 5}, list 2 0 5: hits at
     * ranks 0 and 2. user 1: relevant {4}, list 1 3 -1: no hit. user 2:
     * relevant {-1 (outside the catalogue), 3}, list 3 1 0: hit at rank 0. */
    const int64_t top[9] = {2, 0, 5, 1, 3, -1, 3, 1, 0};
    const int64_t rel[5] = {2, 5, 4, -1, 3}, off[4] = {0, 2, 3, 5};
    CHECK_OK(ember_ranking_metrics_compute(top, 3, 3, rel, off, 6, &m, &err), &err);
    double l3 = 1.0 / log2(3.0), l4 = 1.0 / log2(4.0);
    /* recall: 2/2, 0, 1/2; hr: 1, 0, 1 */
    CHECK_CLOSE(m.recall, (1.0 + 0.0 + 0.5) / 3, 1e-12, 0);
    CHECK_CLOSE(m.hr, 2.0 / 3, 1e-12, 0);
    /* ndcg: (1 + 1/log2 4) / (1 + 1/log2 3), 0, 1 / (1 + 1/log2 3) */
    CHECK_CLOSE(m.ndcg, ((1 + l4) / (1 + l3) + 0 + 1 / (1 + l3)) / 3, 1e-12, 0);
    /* map: (1/1 + 2/3) / 2, 0, (1/1) / 2 */
    CHECK_CLOSE(m.map, ((1 + 2.0 / 3) / 2 + 0 + 0.5) / 3, 1e-12, 0);
    /* coverage: items 0 1 2 3 5 of 6 */
    CHECK_CLOSE(m.coverage, 5.0 / 6, 1e-12, 0);
    CHECK(m.users == 3 && m.k == 3);
    /* k 1: only the first of each list */
    const int64_t top1[3] = {2, 1, 3};
    CHECK_OK(ember_ranking_metrics_compute(top1, 3, 1, rel, off, 6, &m, &err), &err);
    CHECK_CLOSE(m.recall, (0.5 + 0 + 0.5) / 3, 1e-12, 0);
    CHECK_CLOSE(m.ndcg, 2.0 / 3, 1e-12, 0);
    CHECK_CLOSE(m.map, 2.0 / 3, 1e-12, 0);
    /* a user without relevant items counts for coverage only */
    const int64_t off0[4] = {0, 2, 2, 2};
    CHECK_OK(ember_ranking_metrics_compute(top, 3, 3, rel, off0, 6, &m, &err), &err);
    CHECK(m.users == 1 && m.recall == 1.0 && m.hr == 1.0);
    const int64_t bad[9] = {2, 0, 6, 1, 3, -1, 3, 1, 0};
    CHECK_ERR(ember_ranking_metrics_compute(bad, 3, 3, rel, off, 6, &m, &err), EMBER_ERR_ARG, &err,
              "top[0][2] = 6");
    CHECK_ERR(ember_ranking_metrics_compute(top, 3, 0, rel, off, 6, &m, &err), EMBER_ERR_ARG, &err,
              "k must be >= 1");
    const int64_t offbad[4] = {0, 2, 1, 5};
    CHECK_ERR(ember_ranking_metrics_compute(top, 3, 3, rel, offbad, 6, &m, &err), EMBER_ERR_ARG,
              &err, "rel_off[2] < rel_off[1]");
}

/* Top-K by hand: a model with set weights (D 1). */
static void test_top_k(void)
{
    ember_error err;
    ember_interactions *d = NULL;
    const char *p = FIX("tk.tsv", "A\tx\t1\nA\ty\t2\nB\tz\t3\nB\tw\t4\n");
    CHECK_OK(ember_interactions_load(&d, p, &err), &err);
    ember_mf_config c = small_config(1);
    c.dim = 1;
    c.epochs = 1;
    ember_recommender *r = NULL;
    CHECK_OK(ember_recommender_train_mf(&r, d, &c, NULL, NULL, &err), &err);
    if (!r) {
        ember_interactions_destroy(d);
        return;
    }
    /* items x y z w = 0 1 2 3; user A's factor 1: scores mu + bi + q */
    const ember_mf_layout *L = &r->L;
    r->mu = 3.0f;
    r->w[L->p + 0] = 1.0f;
    r->w[L->bu + 0] = 0.5f;
    const float q[4] = {0.25f, -1.0f, 1.0f, 0.25f}, bi[4] = {0, 0, 0.5f, 0};
    for (int i = 0; i < 4; i++) {
        r->w[L->q + i] = q[i];
        r->w[L->bi + i] = bi[i];
    }
    int64_t items[4];
    float sc[4];
    int n = 0;
    CHECK_OK(ember_recommender_top_k(r, "A", 3, NULL, 0, items, sc, &n, &err), &err);
    /* z 5.0, then x and w tie at 3.75 (lower index first), then y */
    CHECK(n == 3 && items[0] == 2 && items[1] == 0 && items[2] == 3);
    CHECK(sc[0] == 5.0f && sc[1] == 3.75f && sc[2] == 3.75f);
    CHECK(!strcmp(ember_recommender_item_id(r, items[0]), "z"));
    const int64_t ex[2] = {2, 0};
    CHECK_OK(ember_recommender_top_k(r, "A", 4, ex, 2, items, sc, &n, &err), &err);
    CHECK(n == 2 && items[0] == 3 && items[1] == 1);
    /* an unknown user: by item bias (z), then the ties in index order */
    CHECK_OK(ember_recommender_top_k(r, "nobody", 2, NULL, 0, items, NULL, &n, &err), &err);
    CHECK(n == 2 && items[0] == 2 && items[1] == 0);
    /* similar: cosines of q = 0.25, -1, 1, 0.25 (D 1) to x: w 1, z 1, y -1 */
    CHECK_OK(ember_recommender_similar(r, "x", 3, items, sc, &n, &err), &err);
    CHECK(n == 3 && items[0] == 2 && items[1] == 3 && items[2] == 1);
    CHECK(sc[0] == 1.0f && sc[1] == 1.0f && sc[2] == -1.0f);
    CHECK_ERR(ember_recommender_similar(r, "nothing", 3, items, sc, &n, &err), EMBER_ERR_ARG, &err,
              "item 'nothing' is not in the model");
    const int64_t exbad[1] = {4};
    CHECK_ERR(ember_recommender_top_k(r, "A", 2, exbad, 1, items, NULL, &n, &err), EMBER_ERR_ARG,
              &err, "exclude[0] = 4");
    ember_recommender_destroy(r);
    ember_interactions_destroy(d);
}

/* The rank-2 ratings as implicit data: the model and both baselines ranked by
 * the same code; the model must beat most-popular, and random must be near
 * k / items. */
static void test_evaluate_ranking(void)
{
    ember_error err;
    char tr[128];
    snprintf(tr, sizeof tr, "%s/lr_train.tsv", dir);
    ember_interactions *d = NULL, *a = NULL, *b = NULL;
    CHECK_OK(ember_interactions_load(&d, tr, &err), &err);
    if (!d)
        return;
    /* no timestamps: the last line of each user goes to test */
    CHECK_OK(ember_interactions_split_last(d, &a, &b, &err), &err);
    ember_recommender *r = NULL, *bp = NULL, *bp2 = NULL, *bl = NULL;
    ember_mf_config c = small_config(1);
    CHECK_OK(ember_recommender_train_mf(&r, a, &c, NULL, NULL, &err), &err);
    /* BPR on made-up clicks: user u clicks the items of its class (i % 3 ==
     * u % 3) in a user-dependent time order, so the held-out last click is
     * a different item for different users of a class. 2 threads:
     * deterministic, ranks far better than most-popular, survives a save
     * and load. The rating data above would not do: there the held-out item
     * is the same for a whole class, so implicit feedback rightly learns
     * that the class never picks it. */
    ember_interactions *clk = NULL, *ca = NULL, *ct = NULL;
    char cpath[128];
    snprintf(cpath, sizeof cpath, "%s/clicks.csv", dir);
    FILE *cf = fopen(cpath, "w");
    if (cf) {
        fprintf(cf, "user,item,weight,time\n");
        for (int u = 0; u < 40; u++)
            for (int i = u % 3; i < 30; i += 3)
                fprintf(cf, "U%d,I%d,1,%d\n", u, i, (i * 7 + u * 13) % 31);
        fclose(cf);
    }
    CHECK_OK(ember_interactions_load(&clk, cpath, &err), &err);
    if (clk)
        CHECK_OK(ember_interactions_split_last(clk, &ca, &ct, &err), &err);
    ember_mf_config cb = ember_mf_config_bpr();
    cb.threads = 2;
    cb.dim = 8;
    cb.epochs = 30;
    if (ca) {
        CHECK_OK(ember_recommender_train_mf(&bp, ca, &cb, NULL, NULL, &err), &err);
        CHECK_OK(ember_recommender_train_mf(&bp2, ca, &cb, NULL, NULL, &err), &err);
    }
    if (bp && bp2) {
        char path[128];
        snprintf(path, sizeof path, "%s/bpr.safetensors", dir);
        CHECK(same_weights(bp, bp2));
        CHECK(ember_recommender_global_mean(bp) == 0.0);
        ember_rating_metrics rm;
        CHECK_ERR(ember_recommender_evaluate(bp, ct, 1, &rm, &err), EMBER_ERR_ARG, &err,
                  "not ratings");
        ember_ranking_metrics bm, bpop;
        CHECK_OK(ember_recommender_evaluate_ranking(bp, ca, ct, 5, 9, &bm, &bpop, NULL, &err), &err);
        printf("bpr @5 on made-up data: recall %.3f ndcg %.3f (popular %.3f %.3f)\n", bm.recall,
               bm.ndcg, bpop.recall, bpop.ndcg);
        CHECK(bm.users == 40 && bm.recall > 0.8 && bm.recall > 2 * bpop.recall &&
              bm.ndcg > bpop.ndcg);
        CHECK_OK(ember_recommender_save(bp, path, &err), &err);
        CHECK_OK(ember_recommender_load(&bl, path, &err), &err);
        CHECK(bl && same_weights(bp, bl) && bl->cfg.loss == EMBER_MF_LOSS_BPR && bl->cfg.dim == 8);
    }
    ember_recommender_destroy(bp);
    ember_recommender_destroy(bp2);
    ember_recommender_destroy(bl);
    ember_interactions_destroy(clk);
    ember_interactions_destroy(ca);
    ember_interactions_destroy(ct);
    if (r) {
        ember_ranking_metrics mm, mp, mr, mr2;
        CHECK_OK(ember_recommender_evaluate_ranking(r, a, b, 5, 9, &mm, &mp, &mr, &err), &err);
        CHECK_OK(ember_recommender_evaluate_ranking(r, a, b, 5, 9, NULL, NULL, &mr2, &err), &err);
        printf("ranking @5 on made-up data: model recall %.3f ndcg %.3f, popular %.3f %.3f, "
               "random %.3f %.3f, coverage %.3f %.3f %.3f\n", mm.recall, mm.ndcg, mp.recall,
               mp.ndcg, mr.recall, mr.ndcg, mm.coverage, mp.coverage, mr.coverage);
        CHECK(mm.users == 40 && mp.users == 40 && mr.users == 40);
        CHECK(mm.hr == mm.recall); /* one test item per user */
        CHECK(mr2.recall == mr.recall && mr2.ndcg == mr.ndcg); /* seeded */
        CHECK(mm.recall > mp.recall && mm.ndcg > mp.ndcg);
        CHECK(mr.recall < 0.5);
        CHECK(mp.coverage < mm.coverage);
    }
    CHECK_ERR(ember_recommender_evaluate_ranking(r, a, b, 0, 9, NULL, NULL, NULL, &err),
              r ? EMBER_ERR_ARG : EMBER_ERR_ARG, &err, r ? "k must be" : "NULL");
    ember_recommender_destroy(r);
    ember_interactions_destroy(d);
    ember_interactions_destroy(a);
    ember_interactions_destroy(b);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ember_recommend_XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_idmap();
    test_interactions_good();
    test_interactions_bad();
    test_items();
    test_gradcheck();
    test_score_exact();
    test_gradcheck_bpr();
    test_training();
    test_split_last();
    test_ranking_metrics();
    test_top_k();
    test_evaluate_ranking();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("recommend");
}
