/*
 * report.c - one self-contained HTML page about a trained model
 * (ember_report_write_html): learning curves from the history its lineage
 * holds, the lineage itself, and with test results the per-class scores
 * (sortable table, bar chart), the confusion matrix as a heat map with the
 * most confused pairs, and misclassified images. Inline SVG and CSS, a few
 * lines of inline JavaScript for sorting; nothing is fetched from a network.
 *
 * Test hooks (tests/report/run.sh counts them): every curve is an SVG
 * polyline with class "curve" and data-metric="<metric>"; every confusion
 * cell is a rect with class "cell" and data-true / data-pred.
 */
#define _POSIX_C_SOURCE 200809L
#include "report/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stb_image_write's PNG writer, from Debian's libstb (declared here: the
 * header also holds the implementation). */
typedef void stbi_write_func(void *context, void *data, int size);
int stbi_write_png_to_func(stbi_write_func *func, void *context, int w, int h, int comp,
                           const void *data, int stride_in_bytes);

/* ------------------------------------------------------------ buffer */

#define sb_esc ember__report_esc

void ember__report_esc(ember_sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': sb_lit(b, "&lt;"); break;
        case '>': sb_lit(b, "&gt;"); break;
        case '&': sb_lit(b, "&amp;"); break;
        case '"': sb_lit(b, "&quot;"); break;
        case '\'': sb_lit(b, "&#39;"); break;
        default: ember__sb_put(b, s, 1);
        }
    }
}

/* ------------------------------------------------------------ JSON helpers */

static const cJSON *jget(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static const char *jstr(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = jget(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* A model's metadata value, parsed as JSON (NULL when absent). */
static cJSON *meta_json(ember__report_meta_fn get, const void *m, const char *key)
{
    const char *v = get(m, key);
    return v ? cJSON_Parse(v) : NULL;
}

static const char *model_meta(const void *m, const char *key)
{
    return ember_model_get_metadata(m, key);
}

/* ------------------------------------------------------------ curves */

const char *const ember__report_colours[4] = {"#2459d6", "#d6582a", "#2a9d5c", "#8a4fd6"};
#define SERIES_COLOURS ember__report_colours
#define nice_step ember__report_nice_step

double ember__report_nice_step(double lo, double hi, int n)
{
    double raw = (hi - lo) / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

/* One chart: the series of `names` (those the history has) against epochs. */
static void chart(ember_sbuf *b, const cJSON *hist, const char *title, const char *const *names, int nn)
{
    int epochs = (int)(cJSON_IsNumber(jget(hist, "epochs")) ? jget(hist, "epochs")->valuedouble : 0);
    double lo = INFINITY, hi = -INFINITY;
    int have = 0;
    for (int s = 0; s < nn; s++) {
        const cJSON *a = jget(hist, names[s]), *v;
        if (!cJSON_IsArray(a))
            continue;
        have++;
        cJSON_ArrayForEach(v, a) if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
            lo = fmin(lo, v->valuedouble);
            hi = fmax(hi, v->valuedouble);
        }
    }
    if (!have || epochs < 1 || !(lo <= hi))
        return;
    if (hi - lo < 1e-9) {
        hi += 0.5;
        lo -= 0.5;
    }
    double pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
    const double W = 440, H = 262, L = 52, R = 12, T = 40, B = 36;
    double pw = W - L - R, ph = H - T - B;
#define XP(e) (L + (epochs > 1 ? (double)(e) / (epochs - 1) : 0.5) * pw)
#define YP(v) (T + (1 - ((v) - lo) / (hi - lo)) * ph)
    ember__sb_printf(b, "<svg class=\"chart\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" role=\"img\">"
                 "<title>", W, H, W, H);
    sb_esc(b, title);
    ember__sb_printf(b, " per epoch</title><text x=\"%g\" y=\"16\" class=\"ct\">", L);
    sb_esc(b, title);
    sb_lit(b, "</text>");
    double step = nice_step(lo, hi, 5);
    for (double t = ceil(lo / step) * step; t <= hi + 1e-12; t += step)
        ember__sb_printf(b, "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                     "<text x=\"%g\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.4g</text>",
                  L, L + pw, YP(t), YP(t), L - 5, YP(t) + 4, fabs(t) < step * 1e-6 ? 0 : t);
    int estep = epochs <= 12 ? 1 : (int)ceil(epochs / 10.0);
    for (int e = 0; e < epochs; e += estep)
        ember__sb_printf(b, "<text x=\"%.1f\" y=\"%g\" class=\"tick\" text-anchor=\"middle\">%d</text>", XP(e),
                  T + ph + 16, e + 1);
    ember__sb_printf(b, "<text x=\"%g\" y=\"%g\" class=\"tick\" text-anchor=\"middle\">epoch</text>",
              L + pw / 2, H - 4);
    ember__sb_printf(b, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" class=\"frame\"/>", L, T, pw, ph);
    int k = 0;
    for (int s = 0; s < nn; s++) {
        const cJSON *a = jget(hist, names[s]);
        if (!cJSON_IsArray(a))
            continue;
        const char *col = SERIES_COLOURS[k % 4];
        ember__sb_printf(b, "<polyline class=\"curve\" data-metric=\"%s\" fill=\"none\" stroke=\"%s\" "
                     "stroke-width=\"2\" points=\"", names[s], col);
        int e = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, a) {
            if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
                ember__sb_printf(b, "%.1f,%.1f ", XP(e), YP(v->valuedouble));
            e++;
        }
        sb_lit(b, "\"/>");
        e = 0;
        cJSON_ArrayForEach(v, a) {
            if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
                ember__sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"><title>%s, epoch "
                             "%d: %.6g</title></circle>", XP(e), YP(v->valuedouble), col, names[s],
                          e + 1, v->valuedouble);
            e++;
        }
        ember__sb_printf(b, "<line x1=\"%g\" x2=\"%g\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                     "<text x=\"%g\" y=\"%d\" class=\"tick\">%s</text>", L + pw - 130 + 0.0,
                  L + pw - 112, 12 + 12 * k, 12 + 12 * k, col, L + pw - 108, 16 + 12 * k, names[s]);
        k++;
    }
#undef XP
#undef YP
    sb_lit(b, "</svg>\n");
}

static void curves(ember_sbuf *b, const cJSON *hist)
{
    /* (also the recommender's: loss and seconds per epoch) */
    sb_lit(b, "<h2>Learning curves</h2>\n");
    if (!cJSON_IsObject(hist)) {
        sb_lit(b, "<p class=\"note\">No history recorded in this model (it was not trained by "
                  "<code>ember train</code>, or by a version before lineage was recorded).</p>\n");
        return;
    }
    static const char *const loss[] = {"loss", "val_loss"}, *const acc[] = {"accuracy", "val_accuracy"};
    static const char *const skipped[] = {"skipped_batches"}, *const secs[] = {"seconds"};
    sb_lit(b, "<div class=\"row\">");
    chart(b, hist, "loss", loss, 2);
    chart(b, hist, "accuracy", acc, 2);
    /* batches skipped for NaN/Inf: only when any was */
    const cJSON *v;
    int any = 0;
    cJSON_ArrayForEach(v, jget(hist, "skipped_batches")) any |= cJSON_IsNumber(v) && v->valuedouble > 0;
    if (any)
        chart(b, hist, "skipped batches", skipped, 1);
    if (cJSON_IsArray(jget(hist, "seconds")))
        chart(b, hist, "seconds", secs, 1);
    sb_lit(b, "</div>\n");
}

/* ------------------------------------------------------------ lineage */

void ember__report_history(ember_sbuf *b, ember__report_meta_fn get, const void *m)
{
    cJSON *hist = meta_json(get, m, EMBER_META_LINEAGE_HISTORY);
    curves(b, hist);
    cJSON_Delete(hist);
}

void ember__report_lineage(ember_sbuf *b, ember__report_meta_fn get, const void *m)
{
    cJSON *run = meta_json(get, m, EMBER_META_LINEAGE_RUN), *data = meta_json(get, m, EMBER_META_LINEAGE_DATA);
    cJSON *cfg = meta_json(get, m, EMBER_META_LINEAGE_CONFIG), *fin = meta_json(get, m, EMBER_META_LINEAGE_METRICS);
    sb_lit(b, "<h2>Lineage</h2>\n");
    if (!cJSON_IsObject(run)) {
        sb_lit(b, "<p class=\"note\">No lineage recorded.</p>\n");
    } else {
        sb_lit(b, "<table class=\"kv\">");
        static const char *const keys[] = {"started", "finished", "host", "ember_version", "git_commit"};
        for (int i = 0; i < 5; i++) {
            ember__sb_printf(b, "<tr><th>%s</th><td>", keys[i]);
            sb_esc(b, jstr(run, keys[i], "-"));
            sb_lit(b, "</td></tr>");
        }
        static const char *const nums[] = {"seconds", "seed", "threads"};
        for (int i = 0; i < 3; i++) {
            const cJSON *v = jget(run, nums[i]);
            ember__sb_printf(b, "<tr><th>%s</th><td>%.10g</td></tr>", nums[i],
                      cJSON_IsNumber(v) ? v->valuedouble : NAN);
        }
        const cJSON *v;
        if (cJSON_IsObject(fin)) {
            sb_lit(b, "<tr><th>final metrics</th><td>");
            cJSON_ArrayForEach(v, fin) if (cJSON_IsNumber(v))
                ember__sb_printf(b, "%s %.4g &nbsp; ", v->string, v->valuedouble);
            sb_lit(b, "</td></tr>");
        }
        sb_lit(b, "</table>\n<h3>Data</h3>\n<table class=\"grid\"><tr><th>role</th><th>file</th>"
                  "<th>format</th><th>records</th><th>SHA-256</th></tr>");
        const cJSON *role, *f;
        cJSON_ArrayForEach(role, data) {
            int shown = 0;
            cJSON_ArrayForEach(f, jget(role, "files")) {
                if (shown++ == 20)
                    break;
                const cJSON *r = jget(f, "records");
                ember__sb_printf(b, "<tr><td>%s</td><td>", role->string);
                sb_esc(b, jstr(f, "path", "?"));
                ember__sb_printf(b, "</td><td>%s</td><td>", jstr(f, "format", "?"));
                if (cJSON_IsNumber(r))
                    ember__sb_printf(b, "%.0f", r->valuedouble);
                ember__sb_printf(b, "</td><td><code>%.16s…</code></td></tr>", jstr(f, "sha256", "?"));
            }
        }
        sb_lit(b, "</table>\n<h3>Settings</h3>\n<p class=\"settings\">");
        cJSON_ArrayForEach(v, jget(cfg, "options")) {
            ember__sb_printf(b, "<span><b>%s</b>=", v->string);
            if (cJSON_IsString(v))
                sb_esc(b, v->valuestring);
            else if (cJSON_IsNumber(v))
                ember__sb_printf(b, "%.10g", v->valuedouble);
            else if (cJSON_IsBool(v))
                ember__sb_printf(b, "%s", cJSON_IsTrue(v) ? "yes" : "no");
            else
                sb_lit(b, "-");
            sb_lit(b, "</span> ");
        }
        sb_lit(b, "</p>\n");
    }
    cJSON_Delete(run);
    cJSON_Delete(data);
    cJSON_Delete(cfg);
    cJSON_Delete(fin);
}

/* ------------------------------------------------------------ test results */

static const char *cls_name(const ember_report_options *o, int64_t k, char buf[24])
{
    if (o->class_names && o->class_names[k])
        return o->class_names[k];
    snprintf(buf, 24, "%lld", (long long)k);
    return buf;
}

/* Width in pixels of the longest class name at the 11 px tick font (about
 * 6.2 px a character), between lo and hi. */
static double label_px(const ember_class_report *r, const ember_report_options *o, double lo, double hi)
{
    char nb[24];
    size_t longest = 0;
    for (int64_t k = 0; k < r->classes; k++) {
        size_t n = strlen(cls_name(o, k, nb));
        longest = n > longest ? n : longest;
    }
    double w = 8 + 6.2 * (double)longest;
    return w < lo ? lo : w > hi ? hi : w;
}

static void per_class(ember_sbuf *b, const ember_class_report *r, const ember_report_options *o)
{
    char nb[24];
    ember__sb_printf(b, "<h2>Per-class scores</h2>\n<p>%lld test examples: accuracy <b>%.4f</b>, macro "
                 "precision %.4f, recall %.4f, F1 <b>%.4f</b>; weighted F1 %.4f.</p>\n",
              (long long)r->n, r->accuracy, r->macro_precision, r->macro_recall, r->macro_f1,
              r->weighted_f1);
    sb_lit(b, "<div class=\"row\"><div class=\"scroll\"><table class=\"grid sortable\" id=\"pc\"><thead><tr>"
              "<th data-k=\"s\">class</th><th data-k=\"n\">precision</th><th data-k=\"n\">recall</th>"
              "<th data-k=\"n\">F1</th><th data-k=\"n\">support</th></tr></thead><tbody>");
    for (int64_t k = 0; k < r->classes; k++) {
        sb_lit(b, "<tr><td>");
        sb_esc(b, cls_name(o, k, nb));
        ember__sb_printf(b, "</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%lld</td></tr>", r->precision[k],
                  r->recall[k], r->f1[k], (long long)r->support[k]);
    }
    sb_lit(b, "</tbody></table></div>\n");
    /* F1 bars, worst first */
    int64_t *ord = malloc((size_t)r->classes * sizeof *ord);
    if (!ord) {
        b->oom = 1;
        return;
    }
    for (int64_t k = 0; k < r->classes; k++)
        ord[k] = k;
    for (int64_t i = 1; i < r->classes; i++) /* insertion sort: classes are few */
        for (int64_t j = i; j > 0 && r->f1[ord[j]] < r->f1[ord[j - 1]]; j--) {
            int64_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    const double BH = 14, LW = label_px(r, o, 30, 330), BW = 260;
    double h = (double)r->classes * BH + 24;
    ember__sb_printf(b, "<div class=\"scroll\"><svg class=\"bars\" width=\"%g\" height=\"%g\" role=\"img\">"
                 "<title>F1 per class, worst first</title><text x=\"0\" y=\"12\" class=\"ct\">F1 per "
                 "class, worst first</text>", LW + BW + 50, h);
    for (int64_t i = 0; i < r->classes; i++) {
        int64_t k = ord[i];
        double y = 20 + (double)i * BH;
        ember__sb_printf(b, "<text x=\"%g\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">", LW - 4, y + 10);
        sb_esc(b, cls_name(o, k, nb));
        ember__sb_printf(b, "</text><rect class=\"bar\" x=\"%g\" y=\"%.1f\" width=\"%.1f\" height=\"%g\">"
                     "<title>", LW, y + 1, BW * r->f1[k], BH - 3);
        sb_esc(b, cls_name(o, k, nb));
        ember__sb_printf(b, ": F1 %.4f</title></rect><text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%.3f</text>",
                  r->f1[k], LW + BW * r->f1[k] + 4, y + 10, r->f1[k]);
    }
    sb_lit(b, "</svg></div></div>\n");
    free(ord);
}

static void confusion(ember_sbuf *b, const ember_class_report *r, const ember_report_options *o)
{
    char nb[24], nb2[24];
    int64_t K = r->classes;
    sb_lit(b, "<h2>Confusion matrix</h2>\n");
    int64_t ti[15], pi[15], cn[15];
    int np = ember_class_report_most_confused(r, 15, ti, pi, cn);
    if (np > 0) {
        sb_lit(b, "<p>Most confused pairs:</p><table class=\"grid\"><tr><th>true</th><th>predicted"
                  "</th><th>count</th><th>share of the true class</th></tr>");
        for (int j = 0; j < np; j++) {
            sb_lit(b, "<tr><td>");
            sb_esc(b, cls_name(o, ti[j], nb));
            sb_lit(b, "</td><td>");
            sb_esc(b, cls_name(o, pi[j], nb2));
            ember__sb_printf(b, "</td><td>%lld</td><td>%.1f %%</td></tr>", (long long)cn[j],
                      r->support[ti[j]] ? 100.0 * (double)cn[j] / (double)r->support[ti[j]] : 0);
        }
        sb_lit(b, "</table>\n");
    }
    /* the heat map: rows true, columns predicted, shade = share of the row */
    int labels = K <= 30, counts = K <= 12;
    double cs = K <= 12 ? 34 : K <= 30 ? 18 : 9, lw = label_px(r, o, 20, 330);
    double lab = labels ? lw : 10, top = labels ? 0.87 * lw + 6 : 10; /* names at 60 degrees */
    double W = lab + (double)K * cs + 10, H = top + (double)K * cs + 10;
    ember__sb_printf(b, "<p>Rows: true class; columns: predicted class; shade: share of the true "
                 "class's examples.%s</p><div class=\"scroll big\"><svg class=\"cm\" width=\"%g\" "
                 "height=\"%g\" role=\"img\"><title>confusion matrix</title>",
              labels ? "" : " Hover a cell for its classes and count; classes are in the table's "
                            "order.", W, H);
    if (labels)
        for (int64_t k = 0; k < K; k++) {
            ember__sb_printf(b, "<text x=\"%g\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">", lab - 4,
                      top + ((double)k + 0.5) * cs + 4);
            sb_esc(b, cls_name(o, k, nb));
            ember__sb_printf(b, "</text><text class=\"tick\" transform=\"translate(%.1f,%g) rotate(-60)\">",
                      lab + ((double)k + 0.5) * cs + 3, top - 4);
            sb_esc(b, cls_name(o, k, nb));
            sb_lit(b, "</text>");
        }
    for (int64_t t = 0; t < K; t++)
        for (int64_t p = 0; p < K; p++) {
            int64_t c = r->confusion[t * K + p];
            double share = r->support[t] ? (double)c / (double)r->support[t] : 0;
            int shade = (int)lround(255 * (1 - pow(share, 0.6)));
            const char *fill = c == 0 ? "#ffffff" : NULL;
            char col[16];
            if (!fill) {
                if (t == p)
                    snprintf(col, sizeof col, "#%02x%02x%02x", shade, 160 + shade * 95 / 255, shade);
                else
                    snprintf(col, sizeof col, "#%02x%02x%02x", 214 + shade * 41 / 255, shade, shade);
                fill = col;
            }
            ember__sb_printf(b, "<rect class=\"cell\" data-true=\"%lld\" data-pred=\"%lld\" x=\"%.1f\" "
                         "y=\"%.1f\" width=\"%g\" height=\"%g\" fill=\"%s\"><title>",
                      (long long)t, (long long)p, lab + (double)p * cs, top + (double)t * cs, cs, cs, fill);
            sb_esc(b, cls_name(o, t, nb));
            sb_lit(b, " → ");
            sb_esc(b, cls_name(o, p, nb2));
            ember__sb_printf(b, ": %lld (%.1f %%)</title></rect>", (long long)c, 100 * share);
            if (counts && c)
                ember__sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"cnum\" text-anchor=\"middle\">%lld"
                             "</text>", lab + ((double)p + 0.5) * cs, top + ((double)t + 0.5) * cs + 4,
                          (long long)c);
        }
    sb_lit(b, "</svg></div>\n");
}

static void png_sink(void *ctx, void *data, int size)
{
    ember_sbuf *raw = ctx;
    ember__sb_put(raw, data, (size_t)size);
}

/* Misclassified images as inline PNGs, each stretched to its own range. */
static void images(ember_sbuf *b, const ember_report_options *o)
{
    const ember_tensor *x = o->images;
    if (!x || x->ndim < 3 || !o->truth || !o->pred)
        return;
    int64_t n = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->ndim == 4 ? x->shape[3] : 1;
    if (C != 1 && C != 3)
        return;
    int max = o->max_images > 0 ? o->max_images : 36, shown = 0;
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; i++)
        wrong += o->truth[i] != o->pred[i];
    ember__sb_printf(b, "<h2>Misclassified test images</h2>\n<p>%lld of %lld test images are "
                 "misclassified; the first %d are shown (each stretched to its own darkest and "
                 "brightest value).</p><div class=\"imgs\">", (long long)wrong, (long long)n,
              (int)(wrong < max ? wrong : max));
    unsigned char *px = malloc((size_t)(H * W * C));
    ember_sbuf raw = {0};
    char nb[24], nb2[24];
    for (int64_t i = 0; px && i < n && shown < max; i++) {
        if (o->truth[i] == o->pred[i])
            continue;
        const float *s = x->data + i * H * W * C;
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t j = 0; j < H * W * C; j++) {
            lo = fminf(lo, s[j]);
            hi = fmaxf(hi, s[j]);
        }
        float span = hi > lo ? hi - lo : 1;
        for (int64_t j = 0; j < H * W * C; j++)
            px[j] = (unsigned char)lrintf(255 * (s[j] - lo) / span);
        raw.n = 0;
        if (!stbi_write_png_to_func(png_sink, &raw, (int)W, (int)H, (int)C, px, (int)(W * C)) || raw.oom)
            break;
        size_t enc = 4 * ((raw.n + 2) / 3);
        ember__sb_grow(b, enc + 512);
        if (b->oom)
            break;
        ember__sb_printf(b, "<figure><img width=\"%lld\" height=\"%lld\" alt=\"test image %lld\" "
                     "src=\"data:image/png;base64,", (long long)(W < 56 ? W * 2 : W),
                  (long long)(W < 56 ? H * 2 : H), (long long)i);
        ember__sb_grow(b, enc);
        if (b->oom)
            break;
        b->n += (size_t)EVP_EncodeBlock((unsigned char *)b->p + b->n, (const unsigned char *)raw.p,
                                        (int)raw.n);
        b->p[b->n] = '\0';
        ember__sb_printf(b, "\"><figcaption>#%lld<br>true <b>", (long long)i);
        sb_esc(b, cls_name(o, o->truth[i], nb));
        sb_lit(b, "</b><br>predicted <b class=\"bad\">");
        sb_esc(b, cls_name(o, o->pred[i], nb2));
        sb_lit(b, "</b></figcaption></figure>");
        shown++;
    }
    if (!px)
        b->oom = 1;
    free(px);
    free(raw.p);
    sb_lit(b, "</div>\n");
}

/* ------------------------------------------------------------ page */

static const char STYLE[] =
    "<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1d2433;"
    "padding:0 16px}h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:"
    "1px solid #dde2ea;padding-bottom:4px}h3{font-size:15px}.note{color:#667}.row{display:flex;flex-wrap:"
    "wrap;gap:18px;align-items:flex-start}.chart,.bars,.cm{background:#fff}.ct{font-weight:600;font-size:"
    "13px}.tick{font-size:11px;fill:#445}.cnum{font-size:10px;fill:#111}.grid{stroke:#e8ebf0}"
    ".frame{fill:none;stroke:#aab}.bar{fill:#2459d6}table{border-collapse:collapse;font-size:13px}"
    "table.grid td,table.grid th{border:1px solid #dde2ea;padding:3px 8px;text-align:left}"
    "table.kv th{text-align:left;padding:2px 12px 2px 0;color:#556}th[data-k]{cursor:pointer;"
    "background:#f2f4f7}.scroll{max-height:560px;overflow:auto;border:1px solid #eef0f4}.scroll.big"
    "{max-height:760px;max-width:100%}.settings span{display:inline-block;margin:0 12px 2px 0;"
    "font-size:12px}.imgs{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;font-size:11px;"
    "text-align:center}figure img{image-rendering:pixelated;border:1px solid #ccd}.bad{color:#c0392b}"
    "code{font-size:12px}</style>\n";

static const char SORT_JS[] =
    "<script>document.querySelectorAll('table.sortable').forEach(function(t){"
    "t.querySelectorAll('th').forEach(function(h,i){var asc=false;h.title='sort';"
    "h.addEventListener('click',function(){var b=t.tBodies[0],r=[].slice.call(b.rows),"
    "num=h.dataset.k==='n';asc=!asc;r.sort(function(x,y){var a=x.cells[i].textContent,"
    "c=y.cells[i].textContent;var d=num?parseFloat(a)-parseFloat(c):a.localeCompare(c);"
    "return asc?d:-d});r.forEach(function(x){b.appendChild(x)})})})});</script>\n";

ember_status ember_report_write_html(const ember_model *m, const ember_report_options *opt,
                                     const char *path, ember_error *err)
{
    if (!m || !path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_report_write_html: NULL model or path");
    ember_report_options o;
    memset(&o, 0, sizeof o);
    if (opt)
        o = *opt;
    if (o.test && o.test->classes < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_report_write_html: the test report has no classes");
    ember_sbuf b = {0};
    const char *title = o.title ? o.title : o.model_path ? o.model_path : "model";
    ember__report_head(&b, title);
    ember__sb_printf(&b, "<p class=\"note\">%d layers, %lld parameters. Written by Ember %s (commit ",
              ember_model_layer_count(m), (long long)ember_model_param_count(m), ember_version());
    sb_esc(&b, ember_git_commit());
    sb_lit(&b, ").</p>\n");
    ember__report_history(&b, model_meta, m);
    if (o.test) {
        if (o.test_path) {
            sb_lit(&b, "<h2>Test data</h2><p><code>");
            sb_esc(&b, o.test_path);
            sb_lit(&b, "</code></p>\n");
        }
        per_class(&b, o.test, &o);
        confusion(&b, o.test, &o);
        images(&b, &o);
    } else {
        sb_lit(&b, "<p class=\"note\">No test data given: per-class scores and the confusion matrix "
                   "need one (<code>ember report MODEL --test FILE</code>).</p>\n");
    }
    ember__report_lineage(&b, model_meta, m);
    return ember__report_finish(&b, path, err);
}

void ember__report_head(ember_sbuf *b, const char *title)
{
    sb_lit(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ember report: ");
    sb_esc(b, title);
    sb_lit(b, "</title>\n");
    ember__sb_put(b, STYLE, sizeof STYLE - 1);
    sb_lit(b, "</head><body>\n<h1>Ember report: ");
    sb_esc(b, title);
    sb_lit(b, "</h1>\n");
}

ember_status ember__report_finish(ember_sbuf *b, const char *path, ember_error *err)
{
    ember__sb_put(b, SORT_JS, sizeof SORT_JS - 1);
    sb_lit(b, "</body></html>\n");
    if (b->oom) {
        free(b->p);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory writing the report %s", path);
    }
    /* temporary file, then rename: a reader never sees half a page */
    size_t tl = strlen(path) + 8;
    char *tmp = malloc(tl);
    ember_status s = EMBER_OK;
    if (!tmp) {
        free(b->p);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory writing the report %s", path);
    }
    snprintf(tmp, tl, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    } else {
        int ok = fwrite(b->p, 1, b->n, f) == b->n;
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path) != 0) {
            s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
            remove(tmp);
        }
    }
    free(tmp);
    free(b->p);
    return s;
}
