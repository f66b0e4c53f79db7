/*
 * recommend.c - `ember recommend train` and `ember recommend eval`: a
 * rating model (biased matrix factorisation) from an interaction file, and
 * its RMSE/MAE (or top-K metrics with baselines) on a test file, and
 * `ember recommend top`, `similar`, `split`; MF and two-tower models. Thin
 * over the library (ember_interactions_*, ember_features_*,
 * ember_recommender_*).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rec_usage[] =
    "usage: ember recommend train --train FILE --out MODEL [options]\n"
    "       ember recommend eval MODEL --test FILE [--json]\n"
    "       ember recommend eval MODEL --test FILE --k K [--train FILE] [--json]\n"
    "       ember recommend top MODEL --user U [-k K] [--exclude-seen [--train FILE]]\n"
    "       ember recommend similar MODEL --item I [-k K] [--items u.item] [--json]\n"
    "       ember recommend split FILE --train-out TRAIN --test-out TEST\n"
    "\n"
    "Learn from user behaviour. Two models:\n"
    "  mf         biased matrix factorisation r(u, i) = mu + b_u + b_i + p_u . q_i\n"
    "             (ratings with --loss mse, or which items a user has with --loss bpr)\n"
    "  two-tower  score(u, i) = f_U([e_u ; x_u]) . f_I([e_i ; x_i]): id embeddings e and\n"
    "             features x (--users, --items) through Dense towers, trained with a\n"
    "             sampled softmax on which items a user has; users and items only in\n"
    "             the feature files (cold start) are scored from their features\n"
    "FILE: user,item[,rating][,timestamp] as CSV or TSV (a header line is recognised),\n"
    "or MovieLens u.data / u1.base / u1.test as they are. Ids are any strings.\n"
    "\n"
    "train options (defaults in parentheses; chosen on MovieLens 100k, docs/recommend.md):\n"
    "  --model mf|two-tower   the model (mf)\n"
    "  --loss mse|bpr         mse: fit the ratings (default); bpr: learn which items a\n"
    "                         user has (implicit feedback, ratings ignored) for top-K;\n"
    "                         its defaults: dim 64, 20 epochs, lr 0.1, l2 0.01, l2-bias 0.01\n"
    "  --epochs N             passes over the ratings (40)\n"
    "  --dim D                factors per user and item (100)\n"
    "  --optimizer sgd|adam   (sgd)\n"
    "  --lr X                 learning rate (sgd 0.02, adam 0.001)\n"
    "  --l2 X                 L2 on the factors of each rating (0.1)\n"
    "  --l2-bias X            L2 on the biases of each rating (0.02)\n"
    "  --lr-decay X           learning rate times X after each epoch (0.95)\n"
    "  --threads N            threads (1); the model depends on seed and thread count\n"
    "  --seed S               initialisation and shuffling (42)\n"
    "  --json                 one JSON object: the settings, epoch_loss, seconds\n"
    "  --quiet                print nothing but errors\n"
    "two-tower options (--epochs 20, --dim 64 (the vectors), --optimizer adam, --lr\n"
    "0.001, --threads and --seed as above; the model depends on the seed only):\n"
    "  --users FILE           user features: MovieLens u.user, or CSV/TSV with a header,\n"
    "                         the id first (numbers standardised, 0/1 kept, text one-hot)\n"
    "  --items FILE           item features: MovieLens u.item (the 19 genres), or as --users\n"
    "  --id-dim N             id embedding length (32)\n"
    "  --hidden N             units of each tower's ReLU layer, 0 = none (128)\n"
    "  --negatives N          items sampled per step for the softmax (256)\n"
    "  --batch-size N         records per step (256)\n"
    "  --id-dropout P         chance an id is replaced by the unknown id (0.1)\n"
    "  --distributed          data-parallel over MPI: mpirun -np N ember recommend train\n"
    "                         --model two-tower ... --distributed; --batch-size is the\n"
    "                         global batch (docs/distributed.md); rank 0 saves\n"
    "\n"
    "eval: RMSE and MAE of MODEL on every rating of FILE. A user or item not seen in\n"
    "training gets the fallback mu + the known bias(es); their counts are reported.\n"
    "  --threads N            threads (1; the figures do not depend on it)\n"
    "  --json                 {\"rmse\":..,\"mae\":..,\"n\":..,\"unknown_users\":..,\n"
    "                          \"unknown_items\":..}\n"
    "\n"
    "eval --k K: top-K metrics instead: each test user's items are ranked, leaving out\n"
    "their items in --train FILE (the model's training data), and scored against the\n"
    "user's test items: recall, ndcg, hr, map@K and catalogue coverage, next to the\n"
    "most-popular and random baselines ranked by the same code (JSON keys recall,\n"
    "ndcg, hr, map, coverage, and objects popular and random). --seed S: random (42).\n"
    "\n"
    "top: the K items (10) of highest score (mf: predicted rating) for user U;\n"
    "--exclude-seen leaves out the user's items in --train FILE. --json: a list.\n"
    "Without --train, eval --k and top --exclude-seen use the training file the model's\n"
    "lineage records, if it is still there unchanged (its SHA-256 is checked).\n"
    "\n"
    "similar: the K items (10) whose vectors (mf: factors) have the highest cosine with\n"
    "item I's;\n"
    "--items FILE adds the titles from a MovieLens u.item (Latin-1, shown as UTF-8).\n"
    "\n"
    "split: leave-last-out: each user's latest record (by timestamp; a tie: the later\n"
    "line) to TEST, the rest to TRAIN (tab-separated); a user with one record stays.\n";

#define ADAM_DEFAULT_LR 0.001 /* Keras' Adam default; per-rating steps */

typedef struct rec_progress {
    cli_out o;
    double *loss, *secs;
    int n;
} rec_progress;

static void on_epoch(const ember_progress *p, void *user)
{
    rec_progress *rp = user;
    if (p->event != EMBER_PROGRESS_EPOCH_END)
        return;
    if (p->epoch < rp->n) {
        rp->loss[p->epoch] = p->loss;
        rp->secs[p->epoch] = p->elapsed_s;
    }
    if (!rp->o.json && !rp->o.quiet)
        fprintf(stderr, "epoch %d/%d: loss %.5f (%.2f s)\n", p->epoch + 1, p->epochs, p->loss,
                p->elapsed_s);
}

/* --json, --quiet (1: taken), --help/-h (2: usage printed), else 0. */
static int common_flag(const char *a, cli_out *o)
{
    if (!strcmp(a, "--json"))
        return 1;
    if (!strcmp(a, "--quiet"))
        return o->quiet = true, 1;
    if (!strcmp(a, "--help") || !strcmp(a, "-h"))
        return fputs(rec_usage, stdout), 2;
    return 0;
}

#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)

/* The lineage fingerprints recommender files line by line (no CSV parsing). */
static const ember_text_read_options lines_opt = {EMBER_TEXT_LINES, NULL, NULL, 0};

/* recommend train --model two-tower: after the options are parsed. */
static int rec_train_tt(const cli_out *o0, int argc, char **argv, const char *train,
                        const char *out, const char *users_file, const char *items_file,
                        const ember_two_tower_config *tc0, int distributed)
{
    cli_lineage lin;
    memset(&lin, 0, sizeof lin);
    cli_out oo = *o0, *o = &oo;
    ember_two_tower_config tcl = *tc0, *tc = &tcl;
    ember_dist *dist = NULL;
    if (distributed) {
        ember_error de;
        memset(&de, 0, sizeof de);
        if (ember_dist_mpi_create(&dist, &de))
            return cli_fail_err(o, "recommend train", &de);
        if (ember_dist_rank(dist) != 0)
            oo.quiet = true; /* rank 0 reports and saves; the others print only errors */
        tcl.dist = dist;
    }
    const int root = ember_dist_rank(dist) == 0;
    ember_error err;
    memset(&err, 0, sizeof err);
    ember_interactions *d = NULL;
    ember_features *uf = NULL, *itf = NULL;
    ember_recommender *rec = NULL;
    rec_progress rp = {*o, calloc((size_t)tc->epochs, sizeof(double)),
                       calloc((size_t)tc->epochs, sizeof(double)), tc->epochs};
    int rc = EXIT_OK;
    if (!rp.loss || !rp.secs) {
        rc = cli_fail(o, "recommend train", EXIT_DATA, "out of memory");
        goto done;
    }
    if (ember_interactions_load(&d, train, &err) ||
        (users_file && ember_features_load(&uf, users_file, &err)) ||
        (items_file && ember_features_load(&itf, items_file, &err))) {
        rc = cli_fail_err(o, "recommend train", &err);
        goto done;
    }
    if (!o->json && !o->quiet) {
        fprintf(stderr, "%s: %lld interactions, %lld users, %lld items\n", train,
                (long long)ember_interactions_size(d), (long long)ember_interactions_user_count(d),
                (long long)ember_interactions_item_count(d));
        if (uf)
            fprintf(stderr, "%s: %lld users, %lld features\n", users_file,
                    (long long)ember_features_rows(uf), (long long)ember_features_width(uf));
        if (itf)
            fprintf(stderr, "%s: %lld items, %lld features\n", items_file,
                    (long long)ember_features_rows(itf), (long long)ember_features_width(itf));
    }
    if (cli_lineage_start(&lin, argc + 2, argv - 2, &err)) {
        rc = cli_fail_err(o, "recommend train", &err);
        goto done;
    }
    const char *const files[3] = {train, users_file, items_file};
    const char *const roles[3] = {"train", "users", "items"};
    for (int k = 0; k < 3; k++)
        if (files[k] && cli_lineage_add_data(&lin, roles[k], &files[k], 1, &lines_opt, &err)) {
            rc = cli_fail_err(o, "recommend train", &err);
            goto done;
        }
    cli_lineage_opt(&lin, "model", "two-tower", 0);
    cli_lineage_opt(&lin, "train", train, 0);
    cli_lineage_opt(&lin, "users", users_file, -1);
    cli_lineage_opt(&lin, "items", items_file, -1);
    cli_lineage_opt(&lin, "out", out, 0);
    cli_lineage_opt(&lin, "optimizer", tc->optimizer.kind == EMBER_OPT_ADAM ? "adam" : "sgd", 0);
    cli_lineage_opt_num(&lin, "lr", tc->optimizer.learning_rate);
    cli_lineage_opt_num(&lin, "epochs", tc->epochs);
    cli_lineage_opt_num(&lin, "dim", (double)tc->dim);
    cli_lineage_opt_num(&lin, "id-dim", (double)tc->id_dim);
    cli_lineage_opt_num(&lin, "hidden", (double)tc->hidden);
    cli_lineage_opt_num(&lin, "negatives", (double)tc->negatives);
    cli_lineage_opt_num(&lin, "batch-size", (double)tc->batch_size);
    cli_lineage_opt_num(&lin, "id-dropout", tc->id_dropout);
    cli_lineage_opt_num(&lin, "threads", tc->threads);
    cli_lineage_opt_num(&lin, "seed", (double)tc->seed);
    cli_lineage_opt_num(&lin, "ranks", ember_dist_size(dist));
    double t0 = cli_now();
    if (ember_recommender_train_two_tower(&rec, d, uf, itf, tc, on_epoch, &rp, &err)) {
        cli_fail_err(o, "recommend train", &err);
        rc = err.code == EMBER_ERR_ARG ? EXIT_DATA : EXIT_TRAIN;
        goto done;
    }
    double secs = cli_now() - t0;
    if (root && (cli_lineage_finish_recommender(&lin, rec, rp.loss, rp.secs, tc->epochs,
                                                tc->threads, &err) ||
                 ember_recommender_save(rec, out, &err))) {
        rc = cli_fail_err(o, "recommend train", &err);
        goto done;
    }
    if (o->json && root) {
        printf("{\"model\":\"two-tower\",\"ranks\":%d,\"train\":", ember_dist_size(dist));
        cli_json_str(train);
        printf(",\"out\":");
        cli_json_str(out);
        printf(",\"interactions\":%lld,\"users\":%lld,\"items\":%lld,\"cold_users\":%lld,"
               "\"cold_items\":%lld,\"user_features\":%lld,\"item_features\":%lld,"
               "\"dim\":%lld,\"id_dim\":%lld,\"hidden\":%lld,\"epochs\":%d,"
               "\"batch_size\":%lld,\"negatives\":%lld,\"id_dropout\":%.9g,"
               "\"optimizer\":\"%s\",\"lr\":%.9g,\"threads\":%d,\"seed\":%llu,"
               "\"seconds\":%.3f,\"epoch_loss\":[",
               (long long)ember_interactions_size(d), (long long)ember_recommender_user_count(rec),
               (long long)ember_recommender_item_count(rec),
               (long long)ember_recommender_cold_users(rec),
               (long long)ember_recommender_cold_items(rec), (long long)ember_features_width(uf),
               (long long)ember_features_width(itf), (long long)tc->dim, (long long)tc->id_dim,
               (long long)tc->hidden, tc->epochs, (long long)tc->batch_size,
               (long long)tc->negatives, (double)tc->id_dropout,
               tc->optimizer.kind == EMBER_OPT_ADAM ? "adam" : "sgd",
               (double)tc->optimizer.learning_rate, tc->threads, (unsigned long long)tc->seed,
               secs);
        for (int e = 0; e < tc->epochs; e++)
            printf("%s%.9g", e ? "," : "", rp.loss[e]);
        printf("]");
        if (dist) {
            ember_dist_stats ds;
            ember_dist_get_stats(dist, &ds);
            printf(",\"comm_seconds\":%.3f,\"comm_bytes\":%lld,\"collectives\":%lld",
                   ds.comm_seconds, (long long)ds.bytes, (long long)ds.calls);
        }
        printf("}\n");
    } else if (!o->quiet) {
        printf("saved %s (two-tower, dim %lld, %d epochs, %lld cold users, %lld cold items, "
               "%.2f s)\n", out, (long long)tc->dim, tc->epochs,
               (long long)ember_recommender_cold_users(rec),
               (long long)ember_recommender_cold_items(rec), secs);
    }
done:
    /* unless every rank failed alike, the others may wait in a collective */
    if (rc != EXIT_OK && ember_dist_size(dist) > 1 && !ember_dist_error_is_shared(dist))
        ember_dist_abort(dist, rc);
    ember_dist_destroy(dist);
    cli_lineage_free(&lin);
    free(rp.loss);
    free(rp.secs);
    ember_recommender_destroy(rec);
    ember_features_destroy(uf);
    ember_features_destroy(itf);
    ember_interactions_destroy(d);
    return rc;
}

/* In rec_train's option loop (r, v, x and o in scope): a value that parses
 * within [lo, hi], or the usage failure naming the option and the range. */
#define INT_OPT(name, lo, hi)                                                              \
    do {                                                                                   \
        if (r < 0 || cli_parse_int(v, lo, hi, &x))                                         \
            return cli_fail(&o, "recommend train", EXIT_USAGE,                             \
                            name " needs an integer in [%lld, %lld]", (long long)(lo),     \
                            (long long)(hi));                                              \
    } while (0)
#define NUM_OPT(name, lo, hi, dst)                                                         \
    do {                                                                                   \
        if (r < 0 || cli_parse_float(v, lo, hi, &(dst)))                                   \
            return cli_fail(&o, "recommend train", EXIT_USAGE,                             \
                            name " needs a number in [%g, %g]", (double)(lo), (double)(hi)); \
    } while (0)
#define STR_OPT()                                                                          \
    do {                                                                                   \
        if (r < 0)                                                                         \
            goto missing;                                                                  \
    } while (0)

/* argv: after "recommend train", which cmd_recommend leaves at argv[-2..-1]
 * (the lineage records the whole command). */
static int rec_train(int argc, char **argv)
{
    cli_out o = {false, false};
    const char *train = NULL, *out = NULL, *model = "mf", *optname = NULL, *v = NULL;
    const char *users_file = NULL, *items_file = NULL, *mf_only = NULL, *tt_only = NULL;
    int distributed = 0;
    ember_mf_config cfg = ember_mf_config_default();
    ember_two_tower_config tc = ember_two_tower_config_default();
    const char *loss = "mse";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            o.json = true;
        if (!strcmp(argv[i], "--loss") && i + 1 < argc)
            loss = argv[i + 1];
        else if (!strncmp(argv[i], "--loss=", 7))
            loss = argv[i] + 7;
    }
    if (!strcmp(loss, "bpr"))
        cfg = ember_mf_config_bpr();
    else if (strcmp(loss, "mse"))
        return cli_fail(&o, "recommend train", EXIT_USAGE, "--loss '%s': mse (ratings) or bpr "
                        "(implicit feedback, for top-K)", loss);
    double lr = -1.0, l2 = cfg.l2, l2b = cfg.l2_bias, decay = cfg.lr_decay;
    long long x;
    for (int i = 0; i < argc; i++) {
        int r, c = common_flag(argv[i], &o);
        if (c == 2)
            return EXIT_OK;
        if (c) {
        } else if (OPT("--train")) {
            STR_OPT();
            train = v;
        } else if (OPT("--out")) {
            STR_OPT();
            out = v;
        } else if (OPT("--model")) {
            STR_OPT();
            model = v;
        } else if (OPT("--loss")) {
            STR_OPT();
            mf_only = "--loss";
        } else if (OPT("--users")) {
            STR_OPT();
            users_file = v;
            tt_only = "--users";
        } else if (OPT("--items")) {
            STR_OPT();
            items_file = v;
            tt_only = "--items";
        } else if (OPT("--hidden")) {
            INT_OPT("--hidden", 0, 65536);
            tc.hidden = x;
            tt_only = "--hidden";
        } else if (OPT("--id-dim")) {
            INT_OPT("--id-dim", 1, 65536);
            tc.id_dim = x;
            tt_only = "--id-dim";
        } else if (OPT("--negatives")) {
            INT_OPT("--negatives", 1, 1000000);
            tc.negatives = x;
            tt_only = "--negatives";
        } else if (OPT("--batch-size")) {
            INT_OPT("--batch-size", 1, 1000000);
            tc.batch_size = x;
            tt_only = "--batch-size";
        } else if (!strcmp(argv[i], "--distributed")) {
            distributed = 1;
            tt_only = "--distributed";
        } else if (OPT("--id-dropout")) {
            double p;
            NUM_OPT("--id-dropout", 0.0, 0.99, p);
            tc.id_dropout = (float)p;
            tt_only = "--id-dropout";
        } else if (OPT("--optimizer")) {
            STR_OPT();
            optname = v;
        } else if (OPT("--epochs")) {
            INT_OPT("--epochs", 1, 100000);
            cfg.epochs = tc.epochs = (int)x;
        } else if (OPT("--dim")) {
            INT_OPT("--dim", 1, 4096);
            cfg.dim = tc.dim = x;
        } else if (OPT("--threads")) {
            INT_OPT("--threads", 1, 256);
            cfg.threads = tc.threads = (int)x;
        } else if (OPT("--seed")) {
            INT_OPT("--seed", 0, 9007199254740992LL);
            cfg.seed = tc.seed = (uint64_t)x;
        } else if (OPT("--lr")) {
            NUM_OPT("--lr", 1e-9, 10.0, lr);
        } else if (OPT("--l2-bias")) {
            NUM_OPT("--l2-bias", 0.0, 100.0, l2b);
            mf_only = "--l2-bias";
        } else if (OPT("--lr-decay")) {
            NUM_OPT("--lr-decay", 1e-6, 1.0, decay);
            mf_only = "--lr-decay";
        } else if (OPT("--l2")) {
            NUM_OPT("--l2", 0.0, 100.0, l2);
            mf_only = "--l2";
        } else {
            return cli_fail(&o, "recommend train", EXIT_USAGE, "unknown option '%s' (see ember "
                            "recommend --help)", argv[i]);
        }
        continue;
    missing:
        return cli_fail(&o, "recommend train", EXIT_USAGE, "%s needs a value", argv[i]);
    }
    if (!train || !out)
        return cli_fail(&o, "recommend train", EXIT_USAGE, "--train FILE and --out MODEL are "
                        "required (see ember recommend --help)");
    if (!strcmp(model, "two-tower")) {
        if (mf_only)
            return cli_fail(&o, "recommend train", EXIT_USAGE, "%s is an option of --model mf; "
                            "the two-tower model learns with a sampled softmax", mf_only);
        if (optname && !strcmp(optname, "sgd"))
            tc.optimizer = ember_optimizer_sgd(lr > 0 ? (float)lr : 0.01f, 0.0f, 0);
        else if (!optname || !strcmp(optname, "adam"))
            tc.optimizer = ember_optimizer_adam((float)(lr > 0 ? lr : ADAM_DEFAULT_LR));
        else
            return cli_fail(&o, "recommend train", EXIT_USAGE, "--optimizer '%s': sgd or adam",
                            optname);
        return rec_train_tt(&o, argc, argv, train, out, users_file, items_file, &tc, distributed);
    }
    if (strcmp(model, "mf"))
        return cli_fail(&o, "recommend train", EXIT_USAGE, "--model '%s': mf (matrix "
                        "factorisation) or two-tower", model);
    if (tt_only)
        return cli_fail(&o, "recommend train", EXIT_USAGE, "%s is an option of --model "
                        "two-tower", tt_only);
    if (!optname)
        optname = "sgd";
    if (!strcmp(optname, "adam"))
        cfg.optimizer = ember_optimizer_adam((float)(lr > 0 ? lr : ADAM_DEFAULT_LR));
    else if (!strcmp(optname, "sgd"))
        cfg.optimizer = ember_optimizer_sgd(lr > 0 ? (float)lr : cfg.optimizer.learning_rate,
                                            0.0f, 0);
    else
        return cli_fail(&o, "recommend train", EXIT_USAGE, "--optimizer '%s': sgd or adam",
                        optname);
    cfg.l2 = (float)l2;
    cfg.l2_bias = (float)l2b;
    cfg.lr_decay = (float)decay;

    ember_error err;
    memset(&err, 0, sizeof err);
    ember_interactions *d = NULL;
    ember_recommender *rec = NULL;
    cli_lineage lin;
    memset(&lin, 0, sizeof lin);
    rec_progress rp = {o, calloc((size_t)cfg.epochs, sizeof(double)),
                       calloc((size_t)cfg.epochs, sizeof(double)), cfg.epochs};
    int rc = EXIT_OK;
    if (!rp.loss || !rp.secs) {
        rc = cli_fail(&o, "recommend train", EXIT_DATA, "out of memory");
        goto done;
    }
    if (ember_interactions_load(&d, train, &err)) {
        rc = cli_fail_err(&o, "recommend train", &err);
        goto done;
    }
    if (!o.json && !o.quiet)
        fprintf(stderr, "%s: %lld ratings, %lld users, %lld items\n", train,
                (long long)ember_interactions_size(d), (long long)ember_interactions_user_count(d),
                (long long)ember_interactions_item_count(d));
    if (cli_lineage_start(&lin, argc + 2, argv - 2, &err) ||
        cli_lineage_add_data(&lin, "train", &train, 1, &lines_opt, &err)) {
        rc = cli_fail_err(&o, "recommend train", &err);
        goto done;
    }
    cli_lineage_opt(&lin, "model", "mf", 0);
    cli_lineage_opt(&lin, "loss", loss, 0);
    cli_lineage_opt(&lin, "train", train, 0);
    cli_lineage_opt(&lin, "out", out, 0);
    cli_lineage_opt(&lin, "optimizer", optname, 0);
    cli_lineage_opt_num(&lin, "lr", cfg.optimizer.learning_rate);
    cli_lineage_opt_num(&lin, "epochs", cfg.epochs);
    cli_lineage_opt_num(&lin, "dim", (double)cfg.dim);
    cli_lineage_opt_num(&lin, "l2", cfg.l2);
    cli_lineage_opt_num(&lin, "l2-bias", cfg.l2_bias);
    cli_lineage_opt_num(&lin, "lr-decay", cfg.lr_decay);
    cli_lineage_opt_num(&lin, "threads", cfg.threads);
    cli_lineage_opt_num(&lin, "seed", (double)cfg.seed);
    double t0 = cli_now();
    if (ember_recommender_train_mf(&rec, d, &cfg, on_epoch, &rp, &err)) {
        cli_fail_err(&o, "recommend train", &err);
        rc = err.code == EMBER_ERR_ARG ? EXIT_DATA : EXIT_TRAIN;
        goto done;
    }
    double secs = cli_now() - t0;
    if (cli_lineage_finish_recommender(&lin, rec, rp.loss, rp.secs, cfg.epochs, cfg.threads,
                                       &err) ||
        ember_recommender_save(rec, out, &err)) {
        rc = cli_fail_err(&o, "recommend train", &err);
        goto done;
    }
    if (o.json) {
        printf("{\"model\":\"mf\",\"loss\":\"%s\",\"train\":", loss);
        cli_json_str(train);
        printf(",\"out\":");
        cli_json_str(out);
        printf(",\"ratings\":%lld,\"users\":%lld,\"items\":%lld,\"dim\":%lld,\"epochs\":%d,"
               "\"optimizer\":\"%s\",\"lr\":%.9g,\"l2\":%.9g,\"l2_bias\":%.9g,\"lr_decay\":%.9g,\"threads\":%d,\"seed\":%llu,"
               "\"mean_rating\":%.9g,\"seconds\":%.3f,\"epoch_loss\":[",
               (long long)ember_interactions_size(d), (long long)ember_interactions_user_count(d),
               (long long)ember_interactions_item_count(d), (long long)cfg.dim, cfg.epochs,
               optname, (double)cfg.optimizer.learning_rate, (double)cfg.l2, (double)cfg.l2_bias,
               (double)cfg.lr_decay, cfg.threads,
               (unsigned long long)cfg.seed, ember_recommender_global_mean(rec), secs);
        for (int e = 0; e < cfg.epochs; e++)
            printf("%s%.9g", e ? "," : "", rp.loss[e]);
        printf("]}\n");
    } else if (!o.quiet) {
        printf("saved %s (mf, %s, dim %lld, %d epochs, %.2f s)\n", out, loss, (long long)cfg.dim,
               cfg.epochs, secs);
    }
done:
    cli_lineage_free(&lin);
    free(rp.loss);
    free(rp.secs);
    ember_recommender_destroy(rec);
    ember_interactions_destroy(d);
    return rc;
}

static void print_rank_json(const char *name, const ember_ranking_metrics *m)
{
    if (name)
        printf(",\"%s\":{", name);
    printf("\"recall\":%.6f,\"ndcg\":%.6f,\"hr\":%.6f,\"map\":%.6f,\"coverage\":%.6f", m->recall,
           m->ndcg, m->hr, m->map, m->coverage);
    if (name)
        printf("}");
}

/* eval --k: top-K metrics of the model and of the two baselines. */
static int rank_eval(const cli_out *o, const char *model, const char *test, const char *train,
                     int k, uint64_t seed)
{
    ember_error err;
    memset(&err, 0, sizeof err);
    ember_recommender *rec = NULL;
    ember_interactions *te = NULL, *tr = NULL;
    ember_ranking_metrics m[3];
    int rc = EXIT_OK;
    if (ember_recommender_load(&rec, model, &err) || ember_interactions_load(&te, test, &err) ||
        ember_interactions_load(&tr, train, &err) ||
        ember_recommender_evaluate_ranking(rec, tr, te, k, seed, &m[0], &m[1], &m[2], &err)) {
        rc = cli_fail_err(o, "recommend eval", &err);
        goto done;
    }
    if (o->json) {
        printf("{\"k\":%d,\"users\":%lld,", k, (long long)m[0].users);
        print_rank_json(NULL, &m[0]);
        print_rank_json("popular", &m[1]);
        print_rank_json("random", &m[2]);
        printf("}\n");
    } else if (!o->quiet) {
        printf("%s on %s: top %d for %lld users (their %s items left out)\n\n", model, test, k,
               (long long)m[0].users, train);
        printf("%-8s %9s %9s %9s %9s %9s\n", "ranker", "recall", "ndcg", "hr", "map", "coverage");
        const char *names[3] = {"model", "popular", "random"};
        for (int j = 0; j < 3; j++)
            printf("%-8s %9.4f %9.4f %9.4f %9.4f %9.4f\n", names[j], m[j].recall, m[j].ndcg,
                   m[j].hr, m[j].map, m[j].coverage);
    }
done:
    ember_interactions_destroy(te);
    ember_interactions_destroy(tr);
    ember_recommender_destroy(rec);
    return rc;
}

/* ember recommend top MODEL --user U [-k K] [--train FILE --exclude-seen] */
static int rec_top(int argc, char **argv)
{
    cli_out o = {false, false};
    const char *model = NULL, *user = NULL, *train = NULL, *v = NULL;
    long long k = 10;
    bool exclude = false;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            o.json = true;
    for (int i = 0; i < argc; i++) {
        int r, c = common_flag(argv[i], &o);
        if (c == 2)
            return EXIT_OK;
        if (c) {
        } else if (!strcmp(argv[i], "--exclude-seen")) {
            exclude = true;
        } else if (OPT("--user")) {
            if (r < 0)
                return cli_fail(&o, "recommend top", EXIT_USAGE, "--user needs a value");
            user = v;
        } else if (OPT("--train")) {
            if (r < 0)
                return cli_fail(&o, "recommend top", EXIT_USAGE, "--train needs a value");
            train = v;
        } else if (OPT("-k") || OPT("--k")) {
            if (r < 0 || cli_parse_int(v, 1, 100000, &k))
                return cli_fail(&o, "recommend top", EXIT_USAGE, "-k needs an integer in "
                                "[1, 100000]");
        } else if (argv[i][0] == '-' || model) {
            return cli_fail(&o, "recommend top", EXIT_USAGE, "unexpected argument '%s' (see "
                            "ember recommend --help)", argv[i]);
        } else {
            model = argv[i];
        }
    }
    if (!model || !user)
        return cli_fail(&o, "recommend top", EXIT_USAGE, "usage: ember recommend top MODEL "
                        "--user U [-k K] [--exclude-seen --train FILE]");
    if (train && !exclude)
        return cli_fail(&o, "recommend top", EXIT_USAGE, "--train FILE goes with --exclude-seen");
    char recorded[4096];
    if (exclude && !train) { /* the training data the model's lineage records, if unchanged */
        ember_error le;
        memset(&le, 0, sizeof le);
        if (cli_recommender_train_file(model, recorded, sizeof recorded, &le))
            return cli_fail(&o, "recommend top", EXIT_USAGE, "--exclude-seen needs the model's "
                            "training data: give --train FILE; %s", le.message);
        train = recorded;
    }
    ember_error err;
    memset(&err, 0, sizeof err);
    ember_recommender *rec = NULL;
    ember_interactions *tr = NULL;
    int64_t *seen = NULL, nseen = 0, *items = malloc((size_t)k * sizeof *items);
    float *scores = malloc((size_t)k * sizeof *scores);
    int n = 0, rc = EXIT_OK;
    if (!items || !scores) {
        rc = cli_fail(&o, "recommend top", EXIT_DATA, "out of memory");
        goto done;
    }
    if (ember_recommender_load(&rec, model, &err) ||
        (train && ember_interactions_load(&tr, train, &err))) {
        rc = cli_fail_err(&o, "recommend top", &err);
        goto done;
    }
    if (tr) { /* the user's items in the training file, as model item indices */
        int64_t nt = ember_interactions_size(tr), ni = ember_recommender_item_count(rec);
        seen = malloc((size_t)(nt ? nt : 1) * sizeof *seen);
        if (!seen) {
            rc = cli_fail(&o, "recommend top", EXIT_DATA, "out of memory");
            goto done;
        }
        for (int64_t e = 0; e < nt; e++) {
            if (strcmp(ember_interactions_user(tr, e), user))
                continue;
            const char *it = ember_interactions_item(tr, e);
            for (int64_t j = 0; j < ni; j++) /* linear: one user, once */
                if (!strcmp(ember_recommender_item_id(rec, j), it)) {
                    seen[nseen++] = j;
                    break;
                }
        }
    }
    if (ember_recommender_top_k(rec, user, (int)k, seen, nseen, items, scores, &n, &err)) {
        rc = cli_fail_err(&o, "recommend top", &err);
        goto done;
    }
    if (o.json) {
        printf("{\"user\":");
        cli_json_str(user);
        printf(",\"items\":[");
        for (int j = 0; j < n; j++) {
            printf("%s{\"item\":", j ? "," : "");
            cli_json_str(ember_recommender_item_id(rec, items[j]));
            printf(",\"score\":%.6g}", (double)scores[j]);
        }
        printf("]}\n");
    } else if (!o.quiet) {
        for (int j = 0; j < n; j++)
            printf("%d\t%s\t%.4f\n", j + 1, ember_recommender_item_id(rec, items[j]),
                   (double)scores[j]);
    }
done:
    free(items);
    free(scores);
    free(seen);
    ember_interactions_destroy(tr);
    ember_recommender_destroy(rec);
    return rc;
}

/* ember recommend similar MODEL --item I [-k K] [--items u.item] */
static int rec_similar(int argc, char **argv)
{
    cli_out o = {false, false};
    const char *model = NULL, *item = NULL, *itemfile = NULL, *v = NULL;
    long long k = 10;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            o.json = true;
    for (int i = 0; i < argc; i++) {
        int r, c = common_flag(argv[i], &o);
        if (c == 2)
            return EXIT_OK;
        if (c) {
        } else if (OPT("--item")) {
            if (r < 0)
                return cli_fail(&o, "recommend similar", EXIT_USAGE, "--item needs a value");
            item = v;
        } else if (OPT("--items")) {
            if (r < 0)
                return cli_fail(&o, "recommend similar", EXIT_USAGE, "--items needs a value");
            itemfile = v;
        } else if (OPT("-k") || OPT("--k")) {
            if (r < 0 || cli_parse_int(v, 1, 100000, &k))
                return cli_fail(&o, "recommend similar", EXIT_USAGE, "-k needs an integer in "
                                "[1, 100000]");
        } else if (argv[i][0] == '-' || model) {
            return cli_fail(&o, "recommend similar", EXIT_USAGE, "unexpected argument '%s'",
                            argv[i]);
        } else {
            model = argv[i];
        }
    }
    if (!model || !item)
        return cli_fail(&o, "recommend similar", EXIT_USAGE, "usage: ember recommend similar "
                        "MODEL --item I [-k K] [--items u.item]");
    ember_error err;
    memset(&err, 0, sizeof err);
    ember_recommender *rec = NULL;
    ember_items *tab = NULL;
    int64_t *items = malloc((size_t)k * sizeof *items);
    float *scores = malloc((size_t)k * sizeof *scores);
    int n = 0, rc = EXIT_OK;
    if (!items || !scores) {
        rc = cli_fail(&o, "recommend similar", EXIT_DATA, "out of memory");
        goto done;
    }
    if (ember_recommender_load(&rec, model, &err) ||
        (itemfile && ember_items_load_movielens(&tab, itemfile, &err)) ||
        ember_recommender_similar(rec, item, (int)k, items, scores, &n, &err)) {
        rc = cli_fail_err(&o, "recommend similar", &err);
        goto done;
    }
    if (o.json)
        printf("{\"item\":");
    if (o.json)
        cli_json_str(item);
    if (o.json)
        printf(",\"similar\":[");
    for (int j = 0; j < n; j++) {
        const char *id = ember_recommender_item_id(rec, items[j]);
        int64_t row = tab ? ember_items_find(tab, id) : -1;
        const char *title = row >= 0 ? ember_items_title(tab, row) : NULL;
        if (o.json) {
            printf("%s{\"item\":", j ? "," : "");
            cli_json_str(id);
            if (title) {
                printf(",\"title\":");
                cli_json_str(title);
            }
            printf(",\"cosine\":%.6g}", (double)scores[j]);
        } else if (!o.quiet) {
            printf("%d\t%s\t%.4f%s%s\n", j + 1, id, (double)scores[j], title ? "\t" : "",
                   title ? title : "");
        }
    }
    if (o.json)
        printf("]}\n");
done:
    free(items);
    free(scores);
    ember_items_destroy(tab);
    ember_recommender_destroy(rec);
    return rc;
}

/* ember recommend split FILE --train-out A --test-out B: leave-last-out */
static int rec_split(int argc, char **argv)
{
    cli_out o = {false, false};
    const char *in = NULL, *a = NULL, *b = NULL, *v = NULL;
    for (int i = 0; i < argc; i++) {
        int r, c = common_flag(argv[i], &o);
        if (c == 2)
            return EXIT_OK;
        if (c) {
        } else if (OPT("--train-out")) {
            if (r < 0)
                return cli_fail(&o, "recommend split", EXIT_USAGE, "--train-out needs a value");
            a = v;
        } else if (OPT("--test-out")) {
            if (r < 0)
                return cli_fail(&o, "recommend split", EXIT_USAGE, "--test-out needs a value");
            b = v;
        } else if (argv[i][0] == '-' || in) {
            return cli_fail(&o, "recommend split", EXIT_USAGE, "unexpected argument '%s'", argv[i]);
        } else {
            in = argv[i];
        }
    }
    if (!in || !a || !b)
        return cli_fail(&o, "recommend split", EXIT_USAGE, "usage: ember recommend split FILE "
                        "--train-out TRAIN --test-out TEST");
    ember_error err;
    memset(&err, 0, sizeof err);
    ember_interactions *d = NULL, *tr = NULL, *te = NULL;
    int rc = EXIT_OK;
    if (ember_interactions_load(&d, in, &err) ||
        ember_interactions_split_last(d, &tr, &te, &err) ||
        ember_interactions_save(tr, a, &err) || ember_interactions_save(te, b, &err))
        rc = cli_fail_err(&o, "recommend split", &err);
    else if (o.json)
        printf("{\"train\":%lld,\"test\":%lld}\n", (long long)ember_interactions_size(tr),
               (long long)ember_interactions_size(te));
    else if (!o.quiet)
        printf("%s: %lld records to %s, the last of %lld users to %s\n", in,
               (long long)ember_interactions_size(tr), a, (long long)ember_interactions_size(te), b);
    ember_interactions_destroy(d);
    ember_interactions_destroy(tr);
    ember_interactions_destroy(te);
    return rc;
}

static int rec_eval(int argc, char **argv)
{
    cli_out o = {false, false};
    const char *model = NULL, *test = NULL, *train = NULL, *v = NULL;
    long long threads = 1, k = 0, seed = 42;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            o.json = true;
    for (int i = 0; i < argc; i++) {
        int r, c = common_flag(argv[i], &o);
        if (c == 2)
            return EXIT_OK;
        if (c) {
        } else if (OPT("--test")) {
            if (r < 0)
                return cli_fail(&o, "recommend eval", EXIT_USAGE, "--test needs a value");
            test = v;
        } else if (OPT("--threads")) {
            if (r < 0 || cli_parse_int(v, 1, 256, &threads))
                return cli_fail(&o, "recommend eval", EXIT_USAGE,
                                "--threads needs an integer in [1, 256]");
        } else if (OPT("--k")) {
            if (r < 0 || cli_parse_int(v, 1, 100000, &k))
                return cli_fail(&o, "recommend eval", EXIT_USAGE,
                                "--k needs an integer in [1, 100000]");
        } else if (OPT("--seed")) {
            if (r < 0 || cli_parse_int(v, 0, 9007199254740992LL, &seed))
                return cli_fail(&o, "recommend eval", EXIT_USAGE,
                                "--seed needs an integer in [0, 2^53]");
        } else if (OPT("--train")) {
            if (r < 0)
                return cli_fail(&o, "recommend eval", EXIT_USAGE, "--train needs a value");
            train = v;
        } else if (argv[i][0] == '-' || model) {
            return cli_fail(&o, "recommend eval", EXIT_USAGE, "unexpected argument '%s' (see "
                            "ember recommend --help)", argv[i]);
        } else {
            model = argv[i];
        }
    }
    if (!model || !test)
        return cli_fail(&o, "recommend eval", EXIT_USAGE, "usage: ember recommend eval MODEL "
                        "--test FILE [--json]");
    char recorded[4096];
    if (k > 0 && !train) { /* the training data the model's lineage records, if unchanged */
        ember_error le;
        memset(&le, 0, sizeof le);
        if (cli_recommender_train_file(model, recorded, sizeof recorded, &le))
            return cli_fail(&o, "recommend eval", EXIT_USAGE, "--k needs the model's training "
                            "data (its items are left out of each user's list): give --train "
                            "FILE; %s", le.message);
        train = recorded;
        if (!o.quiet && !o.json)
            fprintf(stderr, "training data (from the model's lineage, unchanged): %s\n", train);
    }
    if (k > 0)
        return rank_eval(&o, model, test, train, (int)k, (uint64_t)seed);
    ember_error err;
    memset(&err, 0, sizeof err);
    ember_recommender *rec = NULL;
    ember_interactions *d = NULL;
    ember_rating_metrics m;
    int rc = EXIT_OK;
    if (ember_recommender_load(&rec, model, &err)) {
        rc = cli_fail_err(&o, "recommend eval", &err);
        goto done;
    }
    if (!ember_recommender_config(rec) ||
        ember_recommender_config(rec)->loss == EMBER_MF_LOSS_BPR) {
        rc = cli_fail(&o, "recommend eval", EXIT_USAGE, "%s is a %s model: its scores rank "
                      "items and are not ratings; use --k K --train FILE", model,
                      ember_recommender_config(rec) ? "--loss bpr" : "two-tower");
        goto done;
    }
    if (ember_interactions_load(&d, test, &err) ||
        ember_recommender_evaluate(rec, d, (int)threads, &m, &err)) {
        rc = cli_fail_err(&o, "recommend eval", &err);
        goto done;
    }
    if (o.json) {
        printf("{\"rmse\":%.6f,\"mae\":%.6f,\"n\":%lld,\"unknown_users\":%lld,"
               "\"unknown_items\":%lld}\n", m.rmse, m.mae, (long long)m.n,
               (long long)m.unknown_users, (long long)m.unknown_items);
    } else if (!o.quiet) {
        printf("%s on %s: %lld ratings\nRMSE %.4f\nMAE  %.4f\n", model, test, (long long)m.n,
               m.rmse, m.mae);
        if (m.unknown_users || m.unknown_items)
            printf("(ratings with a user not seen in training: %lld, with an item not seen: "
                   "%lld; predicted from the mean and the known bias)\n",
                   (long long)m.unknown_users, (long long)m.unknown_items);
    }
done:
    ember_interactions_destroy(d);
    ember_recommender_destroy(rec);
    return rc;
}

int cmd_recommend(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(rec_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "train"))
        return rec_train(argc - 2, argv + 2);
    if (!strcmp(argv[1], "eval"))
        return rec_eval(argc - 2, argv + 2);
    if (!strcmp(argv[1], "top"))
        return rec_top(argc - 2, argv + 2);
    if (!strcmp(argv[1], "split"))
        return rec_split(argc - 2, argv + 2);
    if (!strcmp(argv[1], "similar"))
        return rec_similar(argc - 2, argv + 2);
    fprintf(stderr, "ember recommend: unknown subcommand '%s' (train, eval, top, similar, "
            "split)\n",
            argv[1]);
    return EXIT_USAGE;
}
