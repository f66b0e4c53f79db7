/*
 * serve.c - `ember serve MODEL`: the customer-service HTTP service, or the
 * recommendation service for a recommender file (ember_server). This file parses options, turns signals into calls
 * (SIGHUP: reload; SIGTERM/SIGINT: graceful stop) and logs to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char serve_usage[] =
    "usage: ember serve MODEL [options]\n"
    "\n"
    "Serve a text model over HTTP: classify customer messages, answer the intents\n"
    "an answers file covers when the model is confident, hand off to a person when\n"
    "not. Or serve a recommender (a model of `ember recommend train`; the kind is\n"
    "read from the file). Endpoints (docs/serve.md):\n"
    "  POST /v1/predict        text model: {\"text\": \"...\"} or {\"texts\": [...]},\n"
    "                          optional \"k\"\n"
    "  POST /v1/recommend      recommender: {\"user\": \"U\", \"k\": 10, \"exclude\": [\"I\", ...]}\n"
    "                          (top k items for U) or {\"item\": \"I\", \"k\": 10} (similar\n"
    "                          items); k 1..1000 (default 10); unknown exclude ids ignored\n"
    "  GET  /                  a chat page for trying a text model in a browser\n"
    "  GET  /healthz, /readyz  liveness; readiness (503 until the model is loaded)\n"
    "  GET  /v1/model          the model's kind; labels, threshold, metadata (text\n"
    "                          model) or users, items, settings (recommender)\n"
    "  GET  /metrics           Prometheus text format\n"
    "  POST /v1/admin/reload   reload MODEL and the answers file (loopback clients only)\n"
    "\n"
    "  --port P            TCP port (default 8080; 0: any free port, printed at start)\n"
    "  --host H            address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
    "  --answers FILE      JSON object mapping intents to reply texts (text model)\n"
    "  --threshold T       hand off below this top probability (default: the model's\n"
    "                      threshold from `ember calibrate`, else 0.5; text model)\n"
    "  -k K                top intents in each answer when a request gives no \"k\" (3)\n"
    "  --threads N         worker threads (default 2)\n"
    "  --max-body BYTES    request body limit (default 1048576; 413 beyond)\n"
    "  --max-texts N       texts per request (default 256)\n"
    "  --timeout S         close idle connections after S seconds (default 30)\n"
    "  --max-connections N concurrent connections (default 1024)\n"
    "  --drain S           on SIGTERM/SIGINT, wait up to S seconds for requests in\n"
    "                      flight (default 10)\n"
    "  --quiet             no log lines on stderr\n"
    "\n"
    "Signals: SIGHUP reloads MODEL and the answers file (a file that fails to load is\n"
    "rejected and the old model keeps serving); SIGTERM and SIGINT stop accepting,\n"
    "finish the requests in flight and exit 0.\n";

static void log_line(void *user, const char *line)
{
    (void)user;
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s ember serve: %s\n", stamp, line);
    fflush(stderr);
}

int cmd_serve(int argc, char **argv)
{
    const char *C = "serve";
    cli_out o = {false, false};
    ember_server_config cfg = ember_server_config_default();
    const char *model = NULL;
    long long port = cfg.port, threads = cfg.threads, max_body = cfg.max_body,
              max_texts = cfg.max_texts, timeout = cfg.timeout_s,
              max_conn = cfg.max_connections, k = cfg.default_k;
    double drain = 10.0, threshold = -1.0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(serve_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = true;
        } else if ((r = cli_opt(argc, argv, &i, "--port", &v)) != 0) {
            if (v && cli_parse_int(v, 0, 65535, &port))
                return cli_fail(&o, C, EXIT_USAGE, "--port: '%s' is not in 0..65535", v);
        } else if ((r = cli_opt(argc, argv, &i, "--host", &v)) != 0) {
            cfg.host = v;
        } else if ((r = cli_opt(argc, argv, &i, "--answers", &v)) != 0) {
            cfg.answers_path = v;
        } else if ((r = cli_opt(argc, argv, &i, "--threshold", &v)) != 0) {
            if (v && cli_parse_float(v, 0, 1, &threshold))
                return cli_fail(&o, C, EXIT_USAGE, "--threshold: '%s' is not in [0, 1]", v);
        } else if ((r = cli_opt(argc, argv, &i, "-k", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1000000, &k))
                return cli_fail(&o, C, EXIT_USAGE, "-k: '%s' is not an integer >= 1", v);
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 256, &threads))
                return cli_fail(&o, C, EXIT_USAGE, "--threads: '%s' is not in 1..256", v);
        } else if ((r = cli_opt(argc, argv, &i, "--max-body", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1 << 30, &max_body))
                return cli_fail(&o, C, EXIT_USAGE, "--max-body: '%s' is not in 1..1073741824", v);
        } else if ((r = cli_opt(argc, argv, &i, "--max-texts", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 100000, &max_texts))
                return cli_fail(&o, C, EXIT_USAGE, "--max-texts: '%s' is not in 1..100000", v);
        } else if ((r = cli_opt(argc, argv, &i, "--timeout", &v)) != 0) {
            if (v && cli_parse_int(v, 0, 86400, &timeout))
                return cli_fail(&o, C, EXIT_USAGE, "--timeout: '%s' is not in 0..86400", v);
        } else if ((r = cli_opt(argc, argv, &i, "--max-connections", &v)) != 0) {
            if (v && cli_parse_int(v, 1, 1000000, &max_conn))
                return cli_fail(&o, C, EXIT_USAGE, "--max-connections: '%s' is not in 1..1000000",
                                v);
        } else if ((r = cli_opt(argc, argv, &i, "--drain", &v)) != 0) {
            if (v && cli_parse_float(v, 0, 3600, &drain))
                return cli_fail(&o, C, EXIT_USAGE, "--drain: '%s' is not in 0..3600", v);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(&o, C, EXIT_USAGE, "unknown option '%s' (see ember serve --help)",
                            argv[i]);
        } else if (!model) {
            model = argv[i];
        } else {
            return cli_fail(&o, C, EXIT_USAGE, "one MODEL only (got '%s' and '%s')", model,
                            argv[i]);
        }
        if (r < 0)
            return cli_fail(&o, C, EXIT_USAGE, "%s needs a value", argv[i]);
    }
    if (!model)
        return cli_fail(&o, C, EXIT_USAGE, "no MODEL given (see ember serve --help)");
    cfg.model_path = model;
    cfg.port = (int)port;
    cfg.threads = (int)threads;
    cfg.threshold = threshold;
    cfg.max_body = max_body;
    cfg.max_texts = (int)max_texts;
    cfg.default_k = (int)k;
    cfg.timeout_s = (unsigned)timeout;
    cfg.max_connections = (unsigned)max_conn;
    cfg.log = o.quiet ? NULL : log_line;

    /* The signals are taken by sigwait below; blocked before the server's
     * threads exist, so they inherit the mask and never take them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    ember_error err;
    ember_server *s = NULL;
    if (ember_server_create(&s, &cfg, &err))
        return cli_fail_err(&o, C, &err);
    if (ember_server_load(s, &err)) {
        ember_server_destroy(s);
        return cli_fail_err(&o, C, &err);
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (!o.quiet)
                log_line(NULL, "SIGHUP: reloading");
            ember_server_load(s, &err); /* the server logs the outcome */
            continue;
        }
        if (!o.quiet)
            log_line(NULL, sig == SIGINT ? "SIGINT: stopping" : "SIGTERM: stopping");
        break;
    }
    int left = ember_server_stop(s, drain);
    ember_server_destroy(s);
    return left ? EXIT_DATA : EXIT_OK;
}
