/*
 * predict.c - `ember predict MODEL [FILE|-]`: one output line per input line,
 * in input order. Text models read raw text lines (stdin when FILE is "-" or
 * absent) in chunks, so a million lines stream through with bounded memory;
 * image models read an IDX images file.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_LINES 8192 /* lines encoded and predicted together */

static const char predict_usage[] =
    "usage: ember predict MODEL [FILE|-] [options]\n"
    "       ember predict MODEL IMAGE... [options]\n"
    "\n"
    "Print the predicted label and its probability for each input, one line per input,\n"
    "in order. Text models read one text per line from FILE or standard input (\"-\" or\n"
    "no FILE); image models read an IDX images file or image files (PNG, JPEG, BMP, PGM,\n"
    "GIF, TGA), prepared as in training.\n"
    "\n"
    "  -k K            the K most probable labels (label<TAB>probability pairs)\n"
    "  --threshold P   only labels with probability >= P (the line may be empty)\n"
    "  --all-probs     the probability of every class, in class order\n"
    "  --batch-size N  (default 256)\n"
    "  --threads N     threads (default: all cores)\n"
    "  --json          one JSON object per line: {\"label\",\"probability\",\"top\":[...]}\n";

typedef struct pred_opts {
    long long k, batch, threads;
    double threshold;
    int all_probs;
    cli_out o;
} pred_opts;

static void emit(const pred_opts *po, const float *row, int64_t K, const cli_classes *cls,
                 int64_t *order)
{
    /* top-k by selection (K is small; k <= K) */
    int64_t k = po->k < K ? po->k : K;
    for (int64_t i = 0; i < K; i++)
        order[i] = i;
    for (int64_t i = 0; i < k; i++) {
        int64_t best = i;
        for (int64_t j = i + 1; j < K; j++)
            if (row[order[j]] > row[order[best]])
                best = j;
        int64_t t = order[i];
        order[i] = order[best];
        order[best] = t;
    }
    char idbuf[24];
#define NAME(c) cli_class_name(cls, c, idbuf)
    if (po->o.json) {
        printf("{\"label\":");
        cli_json_str(NAME(order[0]));
        printf(",\"probability\":%.6g,\"top\":[", (double)row[order[0]]);
        int first = 1;
        for (int64_t i = 0; i < k; i++) {
            if (row[order[i]] < po->threshold)
                break;
            printf("%s{\"label\":", first ? "" : ",");
            cli_json_str(NAME(order[i]));
            printf(",\"probability\":%.6g}", (double)row[order[i]]);
            first = 0;
        }
        printf("]");
        if (po->all_probs) {
            printf(",\"probs\":[");
            for (int64_t c = 0; c < K; c++)
                printf("%s%.6g", c ? "," : "", (double)row[c]);
            printf("]");
        }
        printf("}\n");
        return;
    }
    if (po->all_probs) {
        for (int64_t c = 0; c < K; c++)
            printf("%s%.6g", c ? "\t" : "", (double)row[c]);
        putchar('\n');
        return;
    }
    int first = 1;
    for (int64_t i = 0; i < k; i++) {
        if (row[order[i]] < po->threshold)
            break;
        printf("%s%s\t%.4f", first ? "" : "\t", NAME(order[i]), (double)row[order[i]]);
        first = 0;
    }
    putchar('\n');
#undef NAME
}

/* Largest input line: 64 MiB, the text readers' limit for one example. */
#define MAX_LINE_BYTES ((size_t)64 << 20)
/* A chunk also ends once its lines hold this many bytes, so a chunk of long
 * lines stays bounded too (at most this plus one line). */
#define CHUNK_BYTES ((size_t)64 << 20)

/* Grow *buf to hold `need` bytes; 0 or -1 (no memory). */
static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1 << 16;
    while (c < need)
        c *= 2;
    char *nb = realloc(*buf, c);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = c;
    return 0;
}

/* Read lines into *arena (each NUL-terminated, its LF and a CR before it
 * removed) until CHUNK_LINES lines or CHUNK_BYTES bytes; off[i] is where line
 * i starts. Returns the lines read (0 at the end of the input), or -1 with
 * err filled: a NUL byte, a line over MAX_LINE_BYTES, no memory, a read
 * error. *lineno counts lines across calls. */
static int read_chunk(FILE *f, const char *path, char **arena, size_t *cap, size_t *off,
                      long long *lineno, ember_error *err)
{
    size_t used = 0;
    int n = 0;
    while (n < CHUNK_LINES && used < CHUNK_BYTES) {
        int c = getc_unlocked(f);
        if (c == EOF)
            break;
        ungetc(c, f);
        ++*lineno;
        off[n] = used;
        size_t start = used;
        while ((c = getc_unlocked(f)) != EOF && c != '\n') {
            if (c == 0) {
                snprintf(err->message, sizeof err->message, "%s:%lld: NUL byte at byte %zu of "
                         "the line (input lines are UTF-8 text)", path, *lineno, used - start + 1);
                err->code = EMBER_ERR_FORMAT;
                return -1;
            }
            if (used - start == MAX_LINE_BYTES) {
                snprintf(err->message, sizeof err->message, "%s:%lld: line is longer than %zu "
                         "MiB, the limit for one text", path, *lineno, MAX_LINE_BYTES >> 20);
                err->code = EMBER_ERR_FORMAT;
                return -1;
            }
            if (reserve(arena, cap, used + 2)) {
                snprintf(err->message, sizeof err->message, "%s:%lld: out of memory", path,
                         *lineno);
                err->code = EMBER_ERR_NOMEM;
                return -1;
            }
            (*arena)[used++] = (char)c;
        }
        if (used > start && (*arena)[used - 1] == '\r')
            used--;
        if (reserve(arena, cap, used + 1)) {
            snprintf(err->message, sizeof err->message, "%s:%lld: out of memory", path, *lineno);
            err->code = EMBER_ERR_NOMEM;
            return -1;
        }
        (*arena)[used++] = '\0';
        n++;
    }
    if (ferror(f)) {
        snprintf(err->message, sizeof err->message, "%s: read error", path);
        err->code = EMBER_ERR_IO;
        return -1;
    }
    return n;
}

static int predict_text(ember_model *m, const ember_pipeline *p, const char *path,
                        const pred_opts *po, ember_error *err)
{
    FILE *f = (!path || !strcmp(path, "-")) ? stdin : fopen(path, "rb");
    if (!path)
        path = "-";
    if (!f) {
        snprintf(err->message, sizeof err->message, "%s: cannot open", path);
        err->code = EMBER_ERR_IO;
        return -1;
    }
    const char **lines = calloc(CHUNK_LINES, sizeof *lines);
    size_t *off = calloc(CHUNK_LINES, sizeof *off);
    char *arena = NULL;
    size_t cap = 0;
    int64_t K = ember_pipeline_class_count(p);
    int64_t *order = malloc((size_t)K * sizeof *order);
    int rc = 0;
    cli_classes cls;
    if (cli_model_classes(m, p, &cls, err)) {
        rc = -1;
    } else if (!lines || !off || !order) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->code = EMBER_ERR_NOMEM;
        rc = -1;
    }
    long long lineno = 0;
    while (!rc) {
        long long first = lineno + 1;
        int n = read_chunk(f, path, &arena, &cap, off, &lineno, err);
        if (n < 0)
            rc = -1;
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++)
            lines[i] = arena + off[i];
        ember_text_dataset *d = NULL;
        ember_ragged *ids = NULL;
        ember_tensor *out = NULL;
        ember_status s = ember_text_dataset_create(&d, n, lines, NULL, err);
        long long idx = 0;
        size_t at = 0;
        int used = 0;
        if (s == EMBER_ERR_FORMAT &&
            sscanf(err->message, "texts[%lld]: invalid UTF-8 at byte %zu%n", &idx, &at, &used) == 2 &&
            used > 0) {
            /* name the line, as the training readers do (bytes from 1) */
            char rest[64];
            snprintf(rest, sizeof rest, "%s", err->message + used); /* " (0xC3)" */
            snprintf(err->message, sizeof err->message, "%s:%lld: invalid UTF-8 at byte %zu of "
                     "the line%s", path, first + idx, at + 1, rest);
        }
        if (s || ember_pipeline_encode(p, d, &ids, NULL, err) ||
            ember_model_predict_ids(m, ids, po->batch, &out, err)) {
            rc = -1;
        } else if (!po->o.quiet) {
            for (int i = 0; i < n; i++)
                emit(po, out->data + (int64_t)i * K, K, &cls, order);
        }
        ember_tensor_destroy(out);
        ember_ragged_destroy(ids);
        ember_text_dataset_destroy(d);
    }
    free(arena);
    free(lines);
    free(off);
    free(order);
    cli_classes_free(&cls);
    if (f != stdin)
        fclose(f);
    return rc;
}

int cmd_predict(int argc, char **argv)
{
    const char *C = "predict";
    /* positional arguments are compacted in place to argv[1..npos]: each is
     * written at or before the slot it came from, after that slot was read */
    char **pos = argv + 1;
    int npos = 0;
    pred_opts po = {1, 256, 0, -1.0, 0, {false, false}};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(predict_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            po.o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            po.o.quiet = true;
        } else if (!strcmp(argv[i], "--all-probs")) {
            po.all_probs = 1;
        } else if ((r = cli_opt(argc, argv, &i, "-k", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1000000, &po.k))
                return cli_fail(&po.o, C, EXIT_USAGE, "-k: '%s' is not an integer >= 1", v);
        } else if ((r = cli_opt(argc, argv, &i, "--threshold", &v)) != 0) {
            if (v && cli_parse_float(v, 0, 1, &po.threshold))
                return cli_fail(&po.o, C, EXIT_USAGE, "--threshold: '%s' is not in [0, 1]", v);
        } else if ((r = cli_opt(argc, argv, &i, "--batch-size", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1 << 24, &po.batch))
                return cli_fail(&po.o, C, EXIT_USAGE, "--batch-size: '%s' is not an integer >= 1", v);
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 4096, &po.threads))
                return cli_fail(&po.o, C, EXIT_USAGE, "--threads: '%s' is not an integer >= 1", v);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&po.o, C, EXIT_USAGE, "unknown option '%s' (see ember predict --help)",
                            argv[i]);
        } else {
            pos[npos++] = argv[i];
        }
        if (r < 0)
            return cli_fail(&po.o, C, EXIT_USAGE, "%s needs a value", argv[i]);
    }
    if (npos < 1)
        return cli_fail(&po.o, C, EXIT_USAGE, "need MODEL (see ember predict --help)");
    ember_error err;
    ember_model *m = NULL;
    ember_pipeline *pipe = NULL;
    ember_tensor *x = NULL, *out = NULL;
    int64_t *order = NULL;
    double scale;
    int rc = EXIT_OK;
    cli_classes cls = {0, NULL, NULL, 0};
    ember_image_dataset *files = NULL;
    if (ember_model_load(&m, pos[0], &err) || cli_model_inputs(m, pos[0], &pipe, &scale, &err))
        goto fail;
    ember_model_set_threads(m, (int)po.threads);
    if (pipe) {
        if (npos > 2) {
            rc = cli_fail(&po.o, C, EXIT_USAGE, "unexpected argument '%s'", pos[2]);
            goto done;
        }
        if (predict_text(m, pipe, npos > 1 ? pos[1] : NULL, &po, &err))
            goto fail;
        goto done;
    }
    if (npos < 2) {
        rc = cli_fail(&po.o, C, EXIT_USAGE, "an image model needs an IDX images FILE or image "
                      "files");
        goto done;
    }
    if (cli_model_classes(m, NULL, &cls, &err))
        goto fail;
    if (cli_is_idx(pos[1])) {
        if (npos > 2) {
            rc = cli_fail(&po.o, C, EXIT_USAGE, "give one IDX images FILE");
            goto done;
        }
        if (cli_load_idx_pair(pos[1], NULL, (float)scale, &x, NULL, &err))
            goto fail;
    } else {
        ember_image_options io = ember_image_options_default();
        io.scale = (float)scale;
        const ember_tensor *im;
        if (cli_model_image_options(m, &io, &err) < 0 ||
            ember_image_dataset_load_files(&files, npos - 1, (const char *const *)pos + 1, &io, &err) ||
            !(im = ember_image_dataset_images(files)) ||
            ember_tensor_create_view(&x, im->data, im->ndim, im->shape, &err))
            goto fail;
    }
    if (cli_fit_input_shape(m, x, pos[1], &err) || ember_model_predict(m, x, po.batch, &out, &err))
        goto fail;
    int64_t K = out->shape[1];
    if (!(order = malloc((size_t)K * sizeof *order))) {
        rc = cli_fail(&po.o, C, EXIT_DATA, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < out->shape[0] && !po.o.quiet; i++)
        emit(&po, out->data + i * K, K, &cls, order);
    goto done;
fail:
    rc = cli_fail_err(&po.o, C, &err);
done:
    free(order);
    ember_tensor_destroy(out);
    ember_tensor_destroy(x);
    ember_image_dataset_destroy(files); /* after x: x is a view of its images */
    cli_classes_free(&cls);
    ember_pipeline_destroy(pipe);
    ember_model_destroy(m);
    return rc;
}
