/*
 * recommender.c - the HTML report of a recommender
 * (ember_report_write_recommender_html): the model summary, RMSE/MAE of a
 * rating model, and the top-K metrics of the model next to the popular and
 * random baselines as a table and a grouped bar chart, then the loss per
 * epoch and the lineage that `ember recommend train` stored. Same page
 * head, style, curves, lineage and atomic save as the classifier's report
 * (report.c).
 *
 * The model is used through the public ember_recommender_* calls only
 * (DESIGN.md: report and recommend meet at the public API), so whatever
 * model the opaque type holds gets the same page. What it deliberately
 * doesn't do: per-user lists or item titles (the page summarises a model;
 * `ember recommend top` shows lists).
 *
 * Test hooks (tests/report/run.sh counts them): each ranking row is a
 * <tr data-system="model|popular|random">, each bar a <rect class="bar"
 * data-system=... data-metric=...>.
 */
#define _POSIX_C_SOURCE 200809L
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_K 10

static const char *const SYSTEMS[3] = {"model", "popular", "random"};
static const char *const METRICS[5] = {"recall", "ndcg", "hr", "map", "coverage"};
static const char *const METRIC_NAMES[5] = {"Recall", "NDCG", "HR", "MAP", "coverage"};

static double metric_of(const ember_ranking_metrics *m, int j)
{
    switch (j) {
    case 0: return m->recall;
    case 1: return m->ndcg;
    case 2: return m->hr;
    case 3: return m->map;
    default: return m->coverage;
    }
}

static const char *rec_meta(const void *r, const char *key)
{
    return ember_recommender_get_metadata(r, key);
}

static void summary(ember_sbuf *b, const ember_recommender *r)
{
    const ember_mf_config *c = ember_recommender_config(r);
    const ember_two_tower_config *t = ember_recommender_two_tower_config(r);
    int bpr = c && c->loss == EMBER_MF_LOSS_BPR;
    const char *what = t ? "two-tower: user and item vectors from id embeddings and features "
                           "through Dense towers, trained on which items users have (sampled "
                           "softmax: the scores rank items)"
                     : bpr ? "matrix factorisation trained on which items users have (BPR, "
                             "implicit feedback: the scores rank items)"
                           : "matrix factorisation trained on ratings (MSE: the scores are "
                             "predicted ratings)";
    ember__sb_printf(b, "<p class=\"note\">A recommender: %s. Written by Ember %s (commit ",
                     what, ember_version());
    ember__report_esc(b, ember_git_commit());
    sb_lit(b, ").</p>\n<h2>Model</h2>\n<table class=\"kv\"><tr><th>kind</th><td>");
    if (t)
        sb_lit(b, "two-tower");
    else
        ember__sb_printf(b, "matrix factorisation (%s)", bpr ? "BPR" : "MSE");
    ember__sb_printf(b, "</td></tr><tr><th>users</th><td>%lld</td></tr><tr><th>items</th><td>%lld"
                     "</td></tr>", (long long)ember_recommender_user_count(r),
                     (long long)ember_recommender_item_count(r));
    if (t)
        ember__sb_printf(b, "<tr><th>cold users / items</th><td>%lld / %lld (no interactions: "
                         "scored from their features)</td></tr>",
                         (long long)ember_recommender_cold_users(r),
                         (long long)ember_recommender_cold_items(r));
    if (c && !bpr)
        ember__sb_printf(b, "<tr><th>global mean rating</th><td>%.4f</td></tr>",
                         ember_recommender_global_mean(r));
    sb_lit(b, "</table>\n");
    const ember_optimizer_config *o = c ? &c->optimizer : t ? &t->optimizer : NULL;
    if (!o)
        return;
    sb_lit(b, "<h3>Settings</h3>\n<p class=\"settings\">");
    if (c)
        ember__sb_printf(b, "<span><b>loss</b>=%s</span> <span><b>dim</b>=%lld</span> "
                         "<span><b>epochs</b>=%d</span> <span><b>lr_decay</b>=%.7g</span> "
                         "<span><b>l2</b>=%.7g</span> <span><b>l2_bias</b>=%.7g</span> "
                         "<span><b>init_std</b>=%.7g</span> <span><b>seed</b>=%llu</span> "
                         "<span><b>threads</b>=%d</span> ", bpr ? "bpr" : "mse",
                         (long long)c->dim, c->epochs, (double)c->lr_decay, (double)c->l2,
                         (double)c->l2_bias, (double)c->init_std, (unsigned long long)c->seed,
                         c->threads);
    else
        ember__sb_printf(b, "<span><b>dim</b>=%lld</span> <span><b>id_dim</b>=%lld</span> "
                         "<span><b>hidden</b>=%lld</span> <span><b>epochs</b>=%d</span> "
                         "<span><b>batch_size</b>=%lld</span> <span><b>negatives</b>=%lld</span> "
                         "<span><b>id_dropout</b>=%.7g</span> <span><b>seed</b>=%llu</span> "
                         "<span><b>threads</b>=%d</span> ", (long long)t->dim,
                         (long long)t->id_dim, (long long)t->hidden, t->epochs,
                         (long long)t->batch_size, (long long)t->negatives,
                         (double)t->id_dropout, (unsigned long long)t->seed, t->threads);
    ember__sb_printf(b, "<span><b>optimizer</b>=%s</span> <span><b>learning_rate</b>=%.7g</span>"
                     "</p>\n", o->kind == EMBER_OPT_ADAM ? "adam" : "sgd",
                     (double)o->learning_rate);
}

/* The grouped bar chart: a group per metric, a bar per system. */
static void bars(ember_sbuf *b, const ember_ranking_metrics m[3], int k)
{
    double hi = 0;
    for (int s = 0; s < 3; s++)
        for (int j = 0; j < 5; j++)
            hi = fmax(hi, metric_of(&m[s], j));
    double step = ember__report_nice_step(0, hi > 0 ? hi : 1, 5);
    hi = step * ceil((hi > 0 ? hi : 1) / step);
    const double W = 620, H = 300, L = 48, R = 12, T = 40, B = 40;
    const double pw = W - L - R, ph = H - T - B, gw = pw / 5, bw = gw / 4.5;
    ember__sb_printf(b, "<svg class=\"chart\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
                     "role=\"img\"><title>top-%d metrics of the model and the baselines</title>"
                     "<text x=\"%g\" y=\"16\" class=\"ct\">top-%d metrics</text>", W, H, W, H, k,
                     L, k);
    for (double t = 0; t <= hi + step * 1e-6; t += step) {
        double y = T + (1 - t / hi) * ph;
        ember__sb_printf(b, "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                         "<text x=\"%g\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.3g</text>",
                         L, L + pw, y, y, L - 5, y + 4, t);
    }
    for (int j = 0; j < 5; j++) {
        double gx = L + gw * j;
        ember__sb_printf(b, "<text x=\"%.1f\" y=\"%g\" class=\"tick\" text-anchor=\"middle\">%s",
                         gx + gw / 2, T + ph + 16, METRIC_NAMES[j]);
        if (j < 4)
            ember__sb_printf(b, "@%d", k);
        sb_lit(b, "</text>");
        for (int s = 0; s < 3; s++) {
            double v = metric_of(&m[s], j), h = v > 0 ? v / hi * ph : 0;
            double x = gx + bw * (0.75 + s);
            ember__sb_printf(b, "<rect class=\"bar\" data-system=\"%s\" data-metric=\"%s\" "
                             "x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" style=\"fill:%s\">"
                             "<title>%s %s@%d: %.4f</title></rect>", SYSTEMS[s], METRICS[j], x,
                             T + ph - h, bw - 2, h, ember__report_colours[s], SYSTEMS[s],
                             METRIC_NAMES[j], k, v);
        }
    }
    ember__sb_printf(b, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" class=\"frame\"/>", L,
                     T, pw, ph);
    for (int s = 0; s < 3; s++)
        ember__sb_printf(b, "<rect x=\"%g\" y=\"%d\" width=\"12\" height=\"10\" fill=\"%s\"/>"
                         "<text x=\"%g\" y=\"%d\" class=\"tick\">%s</text>",
                         L + pw - 230 + 80 * s, 8, ember__report_colours[s],
                         L + pw - 214 + 80 * s, 17, SYSTEMS[s]);
    sb_lit(b, "</svg>\n");
}

static void ranking(ember_sbuf *b, const ember_ranking_metrics m[3], int k,
                    const ember_recommender_report_options *o)
{
    ember__sb_printf(b, "<h2>Top-%d ranking</h2>\n<p>Every item ranked for each of the %lld test "
                     "users the model knows, leaving out the user's items in the training data",
                     k, (long long)m[0].users);
    if (o->train_path) {
        sb_lit(b, " (<code>");
        ember__report_esc(b, o->train_path);
        sb_lit(b, "</code>)");
    }
    sb_lit(b, ", and scored against their test items. <b>popular</b> ranks items by their "
              "number of training records, <b>random</b> by a seeded shuffle per user: the same "
              "code ranks all three.</p>\n<div class=\"row\"><table class=\"grid sortable\" "
              "id=\"rank\"><thead><tr><th data-k=\"s\">system</th>");
    for (int j = 0; j < 5; j++) {
        ember__sb_printf(b, "<th data-k=\"n\">%s", METRIC_NAMES[j]);
        if (j < 4)
            ember__sb_printf(b, "@%d", k);
        sb_lit(b, "</th>");
    }
    sb_lit(b, "</tr></thead><tbody>");
    for (int s = 0; s < 3; s++) {
        ember__sb_printf(b, "<tr data-system=\"%s\"><td>%s</td>", SYSTEMS[s], SYSTEMS[s]);
        for (int j = 0; j < 5; j++)
            ember__sb_printf(b, "<td>%.4f</td>", metric_of(&m[s], j));
        sb_lit(b, "</tr>");
    }
    sb_lit(b, "</tbody></table>\n");
    bars(b, m, k);
    sb_lit(b, "</div>\n<p class=\"note\">Recall@K: share of a user's test items in the top K; "
              "NDCG@K: hits discounted by 1/log2(rank + 2), over the best possible; HR@K: users "
              "with at least one hit; MAP@K: mean precision at each hit; coverage: distinct "
              "items in all the lists over the catalogue. Averages over the users with a test "
              "item.</p>\n");
}

ember_status ember_report_write_recommender_html(const ember_recommender *r,
                                                 const ember_recommender_report_options *opt,
                                                 const char *path, ember_error *err)
{
    if (!r || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_report_write_recommender_html: NULL model "
                          "or path");
    ember_recommender_report_options o;
    memset(&o, 0, sizeof o);
    if (opt)
        o = *opt;
    if (o.test && !o.train)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "report: the ranking metrics need the model's "
                          "training data with the test data (each user's training items are "
                          "left out of their list)");
    if (o.k < 0)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "report: k must be >= 1, got %d", o.k);
    int k = o.k ? o.k : DEFAULT_K;
    /* RMSE/MAE for a model whose scores are ratings: MF trained with MSE */
    const ember_mf_config *c = ember_recommender_config(r);
    int rating_model = c && c->loss == EMBER_MF_LOSS_MSE;
    ember_rating_metrics rm;
    ember_ranking_metrics m[3];
    int have_rating = 0;
    ember_status st;
    if (o.test) {
        if (rating_model && ember_interactions_has_ratings(o.test)) {
            if ((st = ember_recommender_evaluate(r, o.test, o.threads > 0 ? o.threads : 1, &rm,
                                                 err)))
                return st;
            have_rating = 1;
        }
        if ((st = ember_recommender_evaluate_ranking(r, o.train, o.test, k, o.seed, &m[0], &m[1],
                                                     &m[2], err)))
            return st;
    }
    ember_sbuf b = {0};
    ember__report_head(&b, o.title ? o.title : o.model_path ? o.model_path : "recommender");
    summary(&b, r);
    if (o.test) {
        sb_lit(&b, "<h2>Test data</h2><p>test <code>");
        ember__report_esc(&b, o.test_path ? o.test_path : "(given)");
        ember__sb_printf(&b, "</code>: %lld records of %lld users and %lld items; training data "
                         "<code>", (long long)ember_interactions_size(o.test),
                         (long long)ember_interactions_user_count(o.test),
                         (long long)ember_interactions_item_count(o.test));
        ember__report_esc(&b, o.train_path ? o.train_path : "(given)");
        sb_lit(&b, "</code>.</p>\n");
        if (have_rating) {
            ember__sb_printf(&b, "<h2>Rating prediction</h2>\n<table class=\"grid\" id=\"rating\">"
                             "<tr><th>RMSE</th><th>MAE</th><th>ratings</th><th>unknown users"
                             "</th><th>unknown items</th></tr><tr><td>%.4f</td><td>%.4f</td>"
                             "<td>%lld</td><td>%lld</td><td>%lld</td></tr></table>\n<p class="
                             "\"note\">A rating whose user or item was not in the training data "
                             "is predicted from the mean and the known bias.</p>\n", rm.rmse,
                             rm.mae, (long long)rm.n, (long long)rm.unknown_users,
                             (long long)rm.unknown_items);
        } else if (rating_model) {
            sb_lit(&b, "<p class=\"note\">The test data has no ratings: no RMSE/MAE.</p>\n");
        }
        ranking(&b, m, k, &o);
    } else {
        sb_lit(&b, "<p class=\"note\">No test data given: RMSE/MAE and the top-K metrics need "
                   "one (<code>ember report MODEL --test TEST --train TRAIN</code>).</p>\n");
    }
    /* what `ember recommend train` recorded: loss per epoch, data, settings */
    ember__report_history(&b, rec_meta, r);
    ember__report_lineage(&b, rec_meta, r);
    return ember__report_finish(&b, path, err);
}
