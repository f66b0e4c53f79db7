/*
 * serve_client.h - a minimal HTTP/1.1 client for the tests of ember_server
 * (test_serve.c, test_serve_recommend.c): one request per connection or
 * several on one (dial, send_all, read_resp), the response's status,
 * headers and body, and a Prometheus value from /metrics. Blocking
 * sockets with a 10 s receive timeout; loopback only. Also the two file
 * helpers both tests use for their fixtures.
 */
#ifndef EMBER_TEST_SERVE_CLIENT_H
#define EMBER_TEST_SERVE_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>


typedef struct resp {
    int status;
    char headers[4096];
    char *body;
    size_t len;
} resp;

static inline void resp_free(resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

static inline int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Read one response (headers, then Content-Length bytes or until close). */
static inline int read_resp(int fd, resp *r)
{
    memset(r, 0, sizeof *r);
    char buf[1 << 16];
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == sizeof buf - 1)
            return -1;
        ssize_t k = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (k <= 0)
            return -1;
        have += (size_t)k;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t hlen = (size_t)(end - buf) + 4;
    if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    snprintf(r->headers, sizeof r->headers, "%.*s", (int)hlen, buf);
    long clen = -1;
    for (char *h = buf; h && h < end; h = strstr(h, "\r\n") ? strstr(h, "\r\n") + 2 : NULL)
        if (!strncasecmp(h, "Content-Length:", 15))
            clen = strtol(h + 15, NULL, 10);
    size_t cap = clen >= 0 ? (size_t)clen + 1 : 1 << 16;
    if (cap < have - hlen + 1) /* more than one response arrived: keep it all */
        cap = have - hlen + 1;
    r->body = malloc(cap);
    r->len = have - hlen;
    memcpy(r->body, buf + hlen, r->len);
    while (clen < 0 || r->len < (size_t)clen) {
        if (r->len + 1 >= cap)
            r->body = realloc(r->body, cap *= 2);
        ssize_t k = recv(fd, r->body + r->len, cap - 1 - r->len, 0);
        if (k <= 0)
            break;
        r->len += (size_t)k;
    }
    r->body[r->len] = '\0';
    return clen >= 0 && r->len != (size_t)clen ? -1 : 0;
}

/* One request on its own connection. */
static inline int http(int port, const char *method, const char *path, const char *ctype,
                const char *body, size_t blen, resp *r)
{
    int fd = dial(port);
    if (fd < 0)
        return -1;
    char head[1024];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
                     method, path);
    if (ctype)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (body)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", blen);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    int rc = send_all(fd, head, (size_t)n);
    if (!rc && body)
        send_all(fd, body, blen); /* the server may answer early and close */
    rc = rc ? rc : read_resp(fd, r);
    close(fd);
    return rc;
}

static inline int get(int port, const char *path, resp *r)
{
    return http(port, "GET", path, NULL, NULL, 0, r);
}

/* Write text to path (tests' fixtures; errors show up when the file is read). */
static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Copy a file; 1 on success. */
static inline int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int ok = a && b;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        ok = 0;
    return ok;
}

/* The value of metric line `name` (its labels included) in /metrics text; -1 if absent. */
static inline long long metric(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    while (p && p > text && p[-1] != '\n')
        p = strstr(p + 1, name);
    return p ? strtoll(p + strlen(name), NULL, 10) : -1;
}

/* GET /metrics once the server has counted the earlier requests: a request
 * is counted by the completion callback, which can run after its client has
 * read the response, so scrape until only the scrape itself is in flight
 * (2 s at most; the last scrape is kept either way). 0 with *r filled, -1
 * when a scrape failed (*r empty). */
static inline int get_settled_metrics(int port, resp *r)
{
    for (int tries = 0;; tries++) {
        if (get(port, "/metrics", r) != 0 || r->status != 200) {
            resp_free(r);
            return -1;
        }
        if (metric(r->body, "ember_http_requests_in_flight ") == 1 || tries == 199)
            return 0;
        resp_free(r);
        struct timespec ms10 = {0, 10 * 1000000};
        nanosleep(&ms10, NULL);
    }
}

#endif
