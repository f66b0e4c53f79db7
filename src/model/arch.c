/*
 * arch.c - the human-readable architecture format (see ember.h,
 * ember_model_create_from_arch): one layer per line, words separated by
 * spaces, '#' comments. Strict: an unknown layer, option or extra word is an
 * error naming the line; nothing is guessed.
 */
#include "model.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 8
#define MAX_LINE 512

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_act(const char *s, ember_activation *a)
{
    int k = ember__act_from_name(s);
    if (k < 0)
        return -1;
    *a = (ember_activation)k;
    return 0;
}

/* "3" or "3x5" (rows x columns), each in 1..1024. */
static int parse_size(const char *s, int64_t *h, int64_t *w)
{
    char buf[32];
    const char *x = strchr(s, 'x');
    if (!x)
        return parse_i64(s, 1, 1024, h) || parse_i64(s, 1, 1024, w);
    size_t n = (size_t)(x - s);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return parse_i64(buf, 1, 1024, h) || parse_i64(x + 1, 1, 1024, w);
}

static int parse_real(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static ember_status line_conv2d(ember_model *m, char **w, int nw, const char *src, int line,
                                ember_error *err)
{
    ember_conv2d_config c = ember_conv2d_config_default(0, 0);
    int bad = nw < 3 || parse_i64(w[1], 1, 1 << 20, &c.filters) ||
              parse_size(w[2], &c.kernel_h, &c.kernel_w);
    for (int i = 3; i < nw && !bad; i++) {
        if (!strcmp(w[i], "same") || !strcmp(w[i], "valid"))
            c.padding = !strcmp(w[i], "same") ? EMBER_PADDING_SAME : EMBER_PADDING_VALID;
        else if (!strcmp(w[i], "stride") && i + 1 < nw)
            bad = parse_size(w[++i], &c.stride_h, &c.stride_w);
        else if (!strcmp(w[i], "nobias"))
            c.use_bias = 0;
        else if (!strcmp(w[i], "glorot"))
            c.kernel_init = EMBER_INIT_GLOROT_UNIFORM;
        else if (!strcmp(w[i], "he"))
            c.kernel_init = EMBER_INIT_HE_UNIFORM;
        else
            bad = parse_act(w[i], &c.activation);
    }
    if (bad)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: expected \"conv2d FILTERS KERNEL "
                          "[activation] [stride S] [same|valid] [glorot|he] [nobias]\" (KERNEL "
                          "and S: N or NxM, 1..1024)", src, line);
    return ember_model_add_conv2d_ex(m, &c, err);
}

static ember_status line_layer(ember_model *m, char **w, int nw, int64_t input_dim,
                               int64_t classes, const char *src, int line, ember_error *err)
{
    const char *kind = w[0];
    int64_t n;
    if (!strcmp(kind, "embedding")) {
        int lazy = 1;
        if (nw < 2 || nw > 3 || parse_i64(w[1], 1, 1 << 20, &n) ||
            (nw == 3 && strcmp(w[2], "dense") != 0))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: expected \"embedding DIM [dense]\"",
                              src, line);
        if (nw == 3)
            lazy = 0;
        if (m->n_layers != 0)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: embedding must be the first layer",
                              src, line);
        return ember_model_add_embedding(m, input_dim, n, lazy, err);
    }
    if (!strcmp(kind, "global_average_pooling1d")) {
        if (nw != 1)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: global_average_pooling1d takes no "
                              "options", src, line);
        return ember_model_add_global_average_pooling1d(m, err);
    }
    if (!strcmp(kind, "dense")) {
        if (nw < 2)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: expected \"dense UNITS|classes "
                              "[activation] [he] [nobias]\"", src, line);
        ember_dense_config c = ember_dense_config_default(0);
        if (!strcmp(w[1], "classes"))
            c.units = classes;
        else if (parse_i64(w[1], 1, 1 << 24, &c.units))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: dense units \"%s\" is not a number "
                              "in 1..16777216 or \"classes\"", src, line, w[1]);
        for (int i = 2; i < nw; i++) {
            if (!strcmp(w[i], "he"))
                c.kernel_init = EMBER_INIT_HE_UNIFORM;
            else if (!strcmp(w[i], "nobias"))
                c.use_bias = 0;
            else if (parse_act(w[i], &c.activation))
                return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: dense option \"%s\" is not an "
                                  "activation (linear relu tanh sigmoid softmax), he or nobias",
                                  src, line, w[i]);
        }
        return ember_model_add_dense_ex(m, &c, err);
    }
    if (!strcmp(kind, "activation")) {
        ember_activation a;
        if (nw != 2 || parse_act(w[1], &a))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: expected \"activation "
                              "linear|relu|tanh|sigmoid|softmax\"", src, line);
        return ember_model_add_activation(m, a, err);
    }
    if (!strcmp(kind, "dropout")) {
        char *end;
        errno = 0;
        double r = nw == 2 ? strtod(w[1], &end) : -1;
        if (nw != 2 || errno || end == w[1] || *end || !(r >= 0 && r < 1))
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: expected \"dropout RATE\" with "
                              "0 <= RATE < 1", src, line);
        return ember_model_add_dropout(m, (float)r, err);
    }
    if (!strcmp(kind, "conv2d"))
        return line_conv2d(m, w, nw, src, line, err);
    if (!strcmp(kind, "max_pool2d") || !strcmp(kind, "average_pool2d")) {
        ember_pool2d_config c = {0, 0, 0, 0, EMBER_PADDING_VALID};
        int bad = nw < 2 || parse_size(w[1], &c.pool_h, &c.pool_w);
        for (int i = 2; i < nw && !bad; i++) {
            if (!strcmp(w[i], "same") || !strcmp(w[i], "valid"))
                c.padding = !strcmp(w[i], "same") ? EMBER_PADDING_SAME : EMBER_PADDING_VALID;
            else if (!strcmp(w[i], "stride") && i + 1 < nw)
                bad = parse_size(w[++i], &c.stride_h, &c.stride_w);
            else
                bad = 1;
        }
        if (bad)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: expected \"%s POOL [stride S] "
                              "[same|valid]\" (POOL and S: N or NxM, 1..1024)", src, line, kind);
        return kind[0] == 'm' ? ember_model_add_max_pool2d_ex(m, &c, err)
                              : ember_model_add_average_pool2d_ex(m, &c, err);
    }
    if (!strcmp(kind, "global_average_pooling2d") || !strcmp(kind, "flatten")) {
        if (nw != 1)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: %s takes no options", src, line, kind);
        return kind[0] == 'g' ? ember_model_add_global_average_pooling2d(m, err)
                              : ember_model_add_flatten(m, err);
    }
    if (!strcmp(kind, "batch_normalization")) {
        double mo = 0.99, ep = 1e-3;
        int bad = 0;
        for (int i = 1; i < nw && !bad; i++) {
            if (!strcmp(w[i], "momentum") && i + 1 < nw)
                bad = parse_real(w[++i], &mo);
            else if (!strcmp(w[i], "epsilon") && i + 1 < nw)
                bad = parse_real(w[++i], &ep);
            else
                bad = 1;
        }
        if (bad)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: expected \"batch_normalization "
                              "[momentum M] [epsilon E]\"", src, line);
        return ember_model_add_batch_normalization(m, (float)mo, (float)ep, err);
    }
    return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: unknown layer \"%s\" (embedding, "
                      "global_average_pooling1d, dense, activation, dropout, conv2d, max_pool2d, "
                      "average_pool2d, global_average_pooling2d, flatten, batch_normalization)",
                      src, line, kind);
}

ember_status ember_model_create_from_arch(ember_model **out, const char *arch, const char *source,
                                          int64_t input_dim, int64_t classes, uint64_t seed,
                                          ember_error *err)
{
    int64_t in[1] = {input_dim};
    return ember_model_create_from_arch_shape(out, arch, source, 1, in, classes, seed, err);
}

ember_status ember_model_create_from_arch_shape(ember_model **out, const char *arch,
                                                const char *source, int input_rank,
                                                const int64_t *input_shape, int64_t classes,
                                                uint64_t seed, ember_error *err)
{
    if (!out || !arch || !input_shape)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "create_from_arch: NULL argument");
    *out = NULL;
    const char *src = source ? source : "architecture";
    if (input_rank < 1 || input_rank > EMBER_MAX_DIMS - 1 || classes < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "%s: input rank must be 1..%d and classes >= 1",
                          src, EMBER_MAX_DIMS - 1);
    int64_t input_dim = input_shape[0];
    /* Find the first layer to choose the model's input kind. */
    int ids = 0;
    for (const char *p = arch; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '#') {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        ids = strncmp(p, "embedding", 9) == 0 && (p[9] == ' ' || p[9] == '\t' || !p[9] ||
                                                   p[9] == '\n' || p[9] == '\r');
        break;
    }
    ember_model *m = NULL;
    if (ids && input_rank != 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "%s: a model that starts with embedding takes "
                          "token ids: give the row count as a rank-1 input shape", src);
    ember_status s = ids ? ember_model_create_ids(&m, seed, err)
                         : ember_model_create(&m, input_rank, input_shape, seed, err);
    if (s)
        return s;
    int line = 0;
    const char *p = arch;
    while (*p) {
        line++;
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char buf[MAX_LINE];
        if (len >= sizeof buf) {
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: line longer than %d bytes", src, line,
                           MAX_LINE - 1);
            goto fail;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *w[MAX_WORDS];
        int nw = 0;
        for (char *t = buf; *t;) {
            while (*t && isspace((unsigned char)*t))
                *t++ = '\0';
            if (!*t)
                break;
            if (nw == MAX_WORDS) {
                s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s:%d: too many words", src, line);
                goto fail;
            }
            w[nw++] = t;
            while (*t && !isspace((unsigned char)*t))
                t++;
        }
        if (nw > 0 && (s = line_layer(m, w, nw, input_dim, classes, src, line, err))) {
            if (err && strncmp(err->message, src, strlen(src)) != 0)
                ember__error_prefix(err, "%s:%d", src, line);
            goto fail;
        }
        p = e ? e + 1 : p + len;
    }
    if (m->n_layers == 0) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: no layers", src);
        goto fail;
    }
    *out = m;
    return EMBER_OK;
fail:
    ember_model_destroy(m);
    return s;
}
