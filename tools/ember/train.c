/*
 * train.c - `ember train`: build a model (a preset architecture), train it on
 * labelled data with validation, print Keras-style progress, save the model.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char train_usage[] =
    "usage: ember train --train FILE [--valid FILE] --out MODEL [options]\n"
    "\n"
    "Train a classifier and save it (safetensors layout).\n"
    "\n"
    "data:\n"
    "  --train FILE          IDX images (gzip or not); labels found beside it by the MNIST\n"
    "                        naming convention (...-images-idx3-ubyte -> ...-labels-idx1-ubyte)\n"
    "  --train-labels FILE   give the labels file explicitly\n"
    "  --valid FILE          validation images (printed as val_loss / val_accuracy)\n"
    "  --valid-labels FILE\n"
    "  --scale S             multiply inputs by S (default 1/255: byte images to [0, 1])\n"
    "model:\n"
    "  --arch mlp            Dense layers then Dense(classes, softmax) (default mlp)\n"
    "  --hidden LIST         hidden layer sizes, comma-separated (default 128)\n"
    "  --activation A        relu | tanh | sigmoid (default relu)\n"
    "  --dropout R           dropout rate after each hidden layer (default 0)\n"
    "training:\n"
    "  --epochs N            (default 10)\n"
    "  --batch-size N        (default 32)\n"
    "  --optimizer O         adam | sgd (default adam)\n"
    "  --lr X                learning rate (default 0.001 for adam, 0.01 for sgd)\n"
    "  --momentum X          sgd momentum (default 0)\n"
    "  --nesterov            sgd Nesterov momentum\n"
    "  --weight-decay X      L2 on kernels (default 0)\n"
    "  --clip-norm X         clip gradients to this global norm (default off)\n"
    "  --no-shuffle          keep the data order\n"
    "  --seed N              one seed for init, shuffling and dropout (default 42)\n"
    "  --threads N           threads (default: all cores)\n"
    "output:\n"
    "  --out MODEL           where to save the model (required)\n"
    "  --json                one JSON object per epoch, then a summary object\n"
    "  --quiet               print nothing but errors\n";

static int parse_hidden(const char *s, long long *sizes, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char buf[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof buf || n == max)
            return -1;
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (cli_parse_int(buf, 1, 1 << 20, &sizes[n]))
            return -1;
        n++;
        p += len;
        if (*p == ',')
            p++;
    }
    return n;
}

int cmd_train(int argc, char **argv)
{
    const char *train = NULL, *train_labels = NULL, *valid = NULL, *valid_labels = NULL;
    const char *out = NULL, *arch = "mlp", *hidden = "128", *act_s = "relu", *opt_s = "adam";
    double dropout = 0, lr = -1, momentum = 0, wd = 0, clip = 0, scale = CLI_DEFAULT_SCALE;
    long long epochs = 10, batch = 32, seed = 42, threads = 0;
    int nesterov = 0, shuffle = 1;
    cli_out o = {false, false};
    const char *C = "train";
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(train_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            o.json = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = true;
        } else if (!strcmp(argv[i], "--nesterov")) {
            nesterov = 1;
        } else if (!strcmp(argv[i], "--no-shuffle")) {
            shuffle = 0;
        } else if (OPT("--train-labels")) {
            train_labels = v;
        } else if (OPT("--train")) {
            train = v;
        } else if (OPT("--valid-labels")) {
            valid_labels = v;
        } else if (OPT("--valid")) {
            valid = v;
        } else if (OPT("--out")) {
            out = v;
        } else if (OPT("--arch")) {
            arch = v;
        } else if (OPT("--hidden")) {
            hidden = v;
        } else if (OPT("--activation")) {
            act_s = v;
        } else if (OPT("--optimizer")) {
            opt_s = v;
        } else if (OPT("--scale")) {
            if (v && cli_parse_float(v, 1e-12, 1e12, &scale))
                return cli_fail(&o, C, EXIT_USAGE, "--scale: '%s' is not a positive number", v);
        } else if (OPT("--dropout")) {
            if (v && cli_parse_float(v, 0, 0.999999, &dropout))
                return cli_fail(&o, C, EXIT_USAGE, "--dropout: '%s' is not in [0, 1)", v);
        } else if (OPT("--lr")) {
            if (v && cli_parse_float(v, 1e-12, 1e3, &lr))
                return cli_fail(&o, C, EXIT_USAGE, "--lr: '%s' is not a positive number", v);
        } else if (OPT("--momentum")) {
            if (v && cli_parse_float(v, 0, 0.999999, &momentum))
                return cli_fail(&o, C, EXIT_USAGE, "--momentum: '%s' is not in [0, 1)", v);
        } else if (OPT("--weight-decay")) {
            if (v && cli_parse_float(v, 0, 1e3, &wd))
                return cli_fail(&o, C, EXIT_USAGE, "--weight-decay: '%s' is not >= 0", v);
        } else if (OPT("--clip-norm")) {
            if (v && cli_parse_float(v, 0, 1e12, &clip))
                return cli_fail(&o, C, EXIT_USAGE, "--clip-norm: '%s' is not >= 0", v);
        } else if (OPT("--epochs")) {
            if (v && cli_parse_int(v, 1, 1000000, &epochs))
                return cli_fail(&o, C, EXIT_USAGE, "--epochs: '%s' is not an integer >= 1", v);
        } else if (OPT("--batch-size")) {
            if (v && cli_parse_int(v, 1, 1 << 24, &batch))
                return cli_fail(&o, C, EXIT_USAGE, "--batch-size: '%s' is not an integer >= 1", v);
        } else if (OPT("--seed")) {
            if (v && cli_parse_int(v, 0, (long long)(~0ULL >> 1), &seed))
                return cli_fail(&o, C, EXIT_USAGE, "--seed: '%s' is not an integer >= 0", v);
        } else if (OPT("--threads")) {
            if (v && cli_parse_int(v, 1, 4096, &threads))
                return cli_fail(&o, C, EXIT_USAGE, "--threads: '%s' is not an integer >= 1", v);
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see ember train --help)",
                            argv[i]);
        }
        if (r < 0)
            return cli_fail(&o, C, EXIT_USAGE, "%s needs a value", argv[i]);
#undef OPT
    }
    if (!train)
        return cli_fail(&o, C, EXIT_USAGE, "--train FILE is required (see ember train --help)");
    if (!out)
        return cli_fail(&o, C, EXIT_USAGE, "--out MODEL is required (see ember train --help)");
    if (strcmp(arch, "mlp") != 0)
        return cli_fail(&o, C, EXIT_USAGE, "--arch '%s' is unknown (available: mlp)", arch);
    ember_activation act;
    if (!strcmp(act_s, "relu"))
        act = EMBER_ACT_RELU;
    else if (!strcmp(act_s, "tanh"))
        act = EMBER_ACT_TANH;
    else if (!strcmp(act_s, "sigmoid"))
        act = EMBER_ACT_SIGMOID;
    else
        return cli_fail(&o, C, EXIT_USAGE, "--activation '%s' is unknown (relu, tanh, sigmoid)", act_s);
    ember_optimizer_config opt;
    if (!strcmp(opt_s, "adam"))
        opt = ember_optimizer_adam(lr > 0 ? (float)lr : 0.001f);
    else if (!strcmp(opt_s, "sgd"))
        opt = ember_optimizer_sgd(lr > 0 ? (float)lr : 0.01f, (float)momentum, nesterov);
    else
        return cli_fail(&o, C, EXIT_USAGE, "--optimizer '%s' is unknown (adam, sgd)", opt_s);
    if (nesterov && (strcmp(opt_s, "sgd") != 0 || momentum <= 0))
        return cli_fail(&o, C, EXIT_USAGE, "--nesterov needs --optimizer sgd and --momentum > 0");
    opt.weight_decay = (float)wd;
    opt.clip_norm = (float)clip;
    long long sizes[16];
    int nh = parse_hidden(hidden, sizes, 16);
    if (nh < 0)
        return cli_fail(&o, C, EXIT_USAGE,
                        "--hidden '%s' must be 1-16 comma-separated sizes, e.g. 256,128", hidden);

    ember_error err;
    ember_tensor *x = NULL, *y = NULL, *xv = NULL, *yv = NULL;
    ember_model *m = NULL;
    ember_history *h = NULL;
    int rc = EXIT_OK;
    if (cli_load_idx_pair(train, train_labels, (float)scale, &x, &y, &err) ||
        (valid && cli_load_idx_pair(valid, valid_labels, (float)scale, &xv, &yv, &err))) {
        rc = cli_fail_err(&o, C, &err);
        goto done;
    }
    /* classes = largest training label + 1 (labels are validated by fit) */
    float maxl = 0;
    for (int64_t i = 0; i < y->shape[0]; i++)
        maxl = y->data[i] > maxl ? y->data[i] : maxl;
    long long classes = (long long)maxl + 1;
    if (classes < 2 || classes > 1000000) {
        rc = cli_fail(&o, C, EXIT_DATA, "%s: labels give %lld classes; need 2 or more", train, classes);
        goto done;
    }
    int64_t in_shape[1] = {x->shape[1]};
    char scale_s[32];
    snprintf(scale_s, sizeof scale_s, "%.9g", scale);
    if (ember_model_create(&m, 1, in_shape, (uint64_t)seed, &err) ||
        ember_model_set_metadata(m, CLI_META_SCALE, scale_s, &err))
        goto fail;
    ember_model_set_threads(m, (int)threads);
    for (int i = 0; i < nh; i++) {
        ember_dense_config dc = ember_dense_config_default(sizes[i]);
        dc.activation = act;
        if (ember_model_add_dense_ex(m, &dc, &err) ||
            (dropout > 0 && ember_model_add_dropout(m, (float)dropout, &err)))
            goto fail;
    }
    if (ember_model_add_dense(m, classes, EMBER_ACT_SOFTMAX, &err) ||
        ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err) ||
        ember_history_create(&h, &err))
        goto fail;
    if (!o.quiet && !o.json) {
        printf("train: %s (%lld examples, %lld features, %lld classes)\n", train,
               (long long)x->shape[0], (long long)x->shape[1], classes);
        if (valid)
            printf("valid: %s (%lld examples)\n", valid, (long long)xv->shape[0]);
        ember_model_summary(m, stdout);
    }
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = (int)epochs;
    fc.batch_size = batch;
    fc.shuffle = shuffle;
    fc.x_val = xv;
    fc.y_val = yv;
    ember_progress_printer pp = {stdout, isatty(STDOUT_FILENO) ? EMBER_PROGRESS_BAR : EMBER_PROGRESS_LINES, 0};
    if (o.json)
        pp.style = EMBER_PROGRESS_JSON;
    if (!o.quiet) {
        fc.progress = ember_progress_print;
        fc.progress_user = &pp;
    }
    if (ember_model_fit(m, x, y, &fc, h, &err) || ember_model_save(m, out, &err))
        goto fail;
    int last = ember_history_epochs(h) - 1;
    if (o.json) {
        printf("{\"model\":");
        cli_json_str(out);
        printf(",\"epochs\":%d,\"loss\":%.9g,\"accuracy\":%.9g", last + 1,
               ember_history_get(h, "loss", last), ember_history_get(h, "accuracy", last));
        if (valid)
            printf(",\"val_loss\":%.9g,\"val_accuracy\":%.9g", ember_history_get(h, "val_loss", last),
                   ember_history_get(h, "val_accuracy", last));
        printf("}\n");
    } else if (!o.quiet) {
        printf("saved %s\n", out);
    }
    goto done;
fail:
    rc = cli_fail_err(&o, C, &err);
done:
    ember_history_destroy(h);
    ember_model_destroy(m);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_tensor_destroy(xv);
    ember_tensor_destroy(yv);
    return rc;
}
