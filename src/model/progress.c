/*
 * progress.c - the ready-made progress printer (Keras style). The library
 * calls it only when the caller installs it as the fit callback.
 *   bar:   "  40/313 [===>..........] - ETA: 2s - 3ms/step - loss: 1.2345 - accuracy: 0.6789"
 *          redrawn in place with '\r' at most every 50 ms, and finished with
 *          "313/313 [==============================] - 1s 3ms/step - loss: ... - val_accuracy: ..."
 *   lines: the finished line only, one per epoch ("Epoch 1/10" prefix).
 *   json:  {"epoch":1,"epochs":10,"loss":...,"accuracy":...,"val_loss":...,
 *           "val_accuracy":...,"seconds":...} one object per line.
 * Epoch lines add " - skipped: N" ("skipped_batches" in JSON) when batches
 * were skipped for NaN/Inf. Resumes, warnings and skipped batches print one
 * line each ({"event":"resumed"|"warning"|"skipped","message":...} in JSON);
 * checkpoint writes print nothing.
 */
#include "core.h"

#include <math.h>
#include <string.h>

#define BAR_WIDTH 30
#define REDRAW_INTERVAL_S 0.05

static void metrics(FILE *f, const ember_progress *p, int with_val)
{
    fprintf(f, " - loss: %.4f", p->loss);
    if (!isnan(p->accuracy))
        fprintf(f, " - accuracy: %.4f", p->accuracy);
    if (with_val && !isnan(p->val_loss))
        fprintf(f, " - val_loss: %.4f", p->val_loss);
    if (with_val && !isnan(p->val_accuracy))
        fprintf(f, " - val_accuracy: %.4f", p->val_accuracy);
    if (p->skipped > 0)
        fprintf(f, " - skipped: %lld", (long long)p->skipped);
}

static void step_time(FILE *f, double s_per_step)
{
    if (s_per_step >= 1.0)
        fprintf(f, "%.0fs/step", s_per_step);
    else if (s_per_step >= 1e-3)
        fprintf(f, "%.0fms/step", s_per_step * 1e3);
    else
        fprintf(f, "%.0fus/step", s_per_step * 1e6);
}

static void bar(FILE *f, const ember_progress *p)
{
    int w = (int)snprintf(NULL, 0, "%lld", (long long)p->steps);
    fprintf(f, "%*lld/%lld [", w, (long long)p->step, (long long)p->steps);
    int filled = p->steps ? (int)(BAR_WIDTH * p->step / p->steps) : BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++) {
        if (i < filled - 1 || (i == filled - 1 && p->step == p->steps))
            fputc('=', f);
        else if (i == filled - 1 || (filled == 0 && i == 0))
            fputc('>', f);
        else
            fputc('.', f);
    }
    fputc(']', f);
}

/* A JSON string literal (messages hold paths and quoted field values). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

/* The events that carry a message: one line each. */
static void message_line(ember_progress_printer *pp, const ember_progress *p)
{
    FILE *f = pp->out;
    const char *msg = p->message ? p->message : "";
    if (p->event == EMBER_PROGRESS_CHECKPOINT)
        return;
    if (pp->style == EMBER_PROGRESS_JSON) {
        const char *ev = p->event == EMBER_PROGRESS_RESUMED ? "resumed"
                         : p->event == EMBER_PROGRESS_WARNING ? "warning" : "skipped";
        fprintf(f, "{\"event\":\"%s\",\"epoch\":%d,\"step\":%lld,\"message\":", ev,
                p->epoch + 1, (long long)p->step);
        json_str(f, msg);
        fputs("}\n", f);
    } else {
        if (pp->style == EMBER_PROGRESS_BAR)
            fputs("\r\033[K", f); /* over a half-drawn bar */
        if (p->event == EMBER_PROGRESS_RESUMED && p->epoch >= p->epochs)
            fprintf(f, "resumed from %s (all %d epochs were done)\n", msg, p->epochs);
        else if (p->event == EMBER_PROGRESS_RESUMED && p->step == 0)
            fprintf(f, "resumed from %s (at the start of epoch %d/%d)\n", msg, p->epoch + 1,
                    p->epochs);
        else if (p->event == EMBER_PROGRESS_RESUMED)
            fprintf(f, "resumed from %s (epoch %d/%d, after step %lld/%lld)\n", msg,
                    p->epoch + 1, p->epochs, (long long)p->step, (long long)p->steps);
        else
            fprintf(f, "%s: %s\n", p->event == EMBER_PROGRESS_WARNING ? "warning" : "skipped",
                    msg);
    }
    fflush(f);
}

void ember_progress_print(const ember_progress *p, void *user)
{
    ember_progress_printer *pp = user;
    if (!p || !pp || !pp->out)
        return;
    FILE *f = pp->out;
    if (p->event != EMBER_PROGRESS_EPOCH_BEGIN && p->event != EMBER_PROGRESS_BATCH_END &&
        p->event != EMBER_PROGRESS_EPOCH_END) {
        message_line(pp, p);
        return;
    }
    double per_step = p->step > 0 ? p->elapsed_s / (double)p->step : 0.0;
    switch (pp->style) {
    case EMBER_PROGRESS_BAR:
        if (p->event == EMBER_PROGRESS_EPOCH_BEGIN) {
            fprintf(f, "Epoch %d/%d\n", p->epoch + 1, p->epochs);
            pp->last_draw_s = -1.0;
        } else if (p->event == EMBER_PROGRESS_BATCH_END) {
            if (p->step < p->steps && p->elapsed_s - pp->last_draw_s < REDRAW_INTERVAL_S)
                return;
            if (p->step == p->steps)
                return; /* the epoch-end line draws the full bar */
            pp->last_draw_s = p->elapsed_s;
            fputc('\r', f);
            bar(f, p);
            double eta = per_step * (double)(p->steps - p->step);
            fprintf(f, " - ETA: %.0fs - ", eta);
            step_time(f, per_step);
            metrics(f, p, 0);
            fputs("\033[K", f); /* clear the rest of a longer previous line */
            fflush(f);
        } else {
            fputc('\r', f);
            bar(f, p);
            fprintf(f, " - %.0fs ", p->elapsed_s);
            step_time(f, per_step);
            metrics(f, p, 1);
            fputs("\033[K\n", f);
            fflush(f);
        }
        break;
    case EMBER_PROGRESS_LINES:
        if (p->event != EMBER_PROGRESS_EPOCH_END)
            return;
        fprintf(f, "Epoch %d/%d - %lld/%lld - %.2fs ", p->epoch + 1, p->epochs,
                (long long)p->step, (long long)p->steps, p->elapsed_s);
        step_time(f, per_step);
        metrics(f, p, 1);
        fputc('\n', f);
        fflush(f);
        break;
    case EMBER_PROGRESS_JSON:
        if (p->event != EMBER_PROGRESS_EPOCH_END)
            return;
        fprintf(f, "{\"epoch\":%d,\"epochs\":%d,\"steps\":%lld,\"seconds\":%.6f,"
                "\"train_seconds\":%.6f,\"loss\":%.9g", p->epoch + 1, p->epochs,
                (long long)p->steps, p->elapsed_s, p->train_s, p->loss);
        if (!isnan(p->accuracy))
            fprintf(f, ",\"accuracy\":%.9g", p->accuracy);
        if (!isnan(p->val_loss))
            fprintf(f, ",\"val_loss\":%.9g", p->val_loss);
        if (!isnan(p->val_accuracy))
            fprintf(f, ",\"val_accuracy\":%.9g", p->val_accuracy);
        if (p->skipped > 0)
            fprintf(f, ",\"skipped_batches\":%lld", (long long)p->skipped);
        fputs("}\n", f);
        fflush(f);
        break;
    }
}
