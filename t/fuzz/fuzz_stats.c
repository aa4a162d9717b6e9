/*
 * fuzz_stats.c - libFuzzer target: what a client sends the metrics
 * endpoint (danced/stats.c), over a real unix socket on loopback.
 *
 * Once: a daemon context with stats_socket in a scratch directory, bound
 * and served by stats_open() and stats_start() exactly as danced does.
 * Each input is written whole on a new connection, which is then shut for
 * writing; the event loop runs until the endpoint has closed it (bounded:
 * an input still unanswered after 2 s is a hang, and aborts).  The first
 * line also goes to stats_route_of() directly.
 *
 * Checked: every answer is a sequence of whole HTTP responses - a status
 * line "HTTP/D.D NNN reason", header fields, a Content-Length that the
 * body matches; without one (RFC 9112, 6.3) no body for 1xx, 204 and 304,
 * and none on an HTTP/1.1 connection kept open (the answers to HEAD); in
 * HTTP/1.0 and older, or with "Connection: close", the body ends with the
 * connection; so does the body of libevent's own HTML page (400 or 413)
 * for a request it could not read, after which it closes the connection:
 * to a HEAD request that page comes without a length and, in HTTP/1.1,
 * without "Connection: close" (libevent 2.1; danced never sees such a
 * request, see stats.c), and nothing can follow it.  A 200 carries the
 * Prometheus content type and exactly the text metrics_render() makes of
 * the daemon's counters, and only answers an input that asks for GET and
 * /metrics; a 405 says "Allow: GET".
 * stats_route_of(): a GET for "/metrics" or "/metrics?anything" is the
 * text, another method there is 405, a target without "/metrics" is 404.
 */
#define _GNU_SOURCE 1          /* memmem */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "dance_build.h"
#include "lib/clock.h"
#include "danced/danced_private.h"
#include "danced/snapshot.h"
#include "danced/stats.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static danced fuzz_d;
static char fuzz_dir[256];
static char fuzz_sock[128];
static char fuzz_text[METRICS_TEXT_MAX];
static size_t fuzz_text_len;

/* fuzz_cleanup - remove the socket and its directory at exit. */
static void fuzz_cleanup(void)
{
    stats_free(fuzz_d.stats);
    fuzz_d.stats = NULL;
    rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char conf[256], path[160], err[512];
    metrics_gauges g;
    snapshot *s;
    FILE *f;

    (void) argc;
    (void) argv;
    /* under $TMPDIR: run.sh points it into its scratch directory, removed even after a crash */
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_stats.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (strlen(fuzz_dir) > 80 || mkdtemp(fuzz_dir) == NULL)
        abort();            /* the socket's path must fit sun_path */
    snprintf(fuzz_sock, sizeof(fuzz_sock), "%s/stats", fuzz_dir);
    snprintf(path, sizeof(path), "%s/dance.conf", fuzz_dir);
    snprintf(conf, sizeof(conf), "authserv_id = mx.fuzz.test\nstats_socket = unix:%s\n", fuzz_sock);
    if ((f = fopen(path, "w")) == NULL || fputs(conf, f) == EOF || fclose(f) != 0)
        abort();
    if (snapshot_load(path, NULL, &s, err, sizeof(err)) != SNAPSHOT_OK) {
        fprintf(stderr, "fuzz_stats: %s\n", err);
        abort();
    }
    unlink(path);
    fuzz_d.snap = s;
    dlog_init(&fuzz_d.log, false, s->cfg.log_facility, s->cfg.log_format);
    metrics_init(&fuzz_d.metrics);
    if ((fuzz_d.base = event_base_new()) == NULL || stats_open(&fuzz_d, err, sizeof(err)) != STATS_OK
        || stats_start(&fuzz_d, err, sizeof(err)) != STATS_OK) {
        fprintf(stderr, "fuzz_stats: %s\n", err);
        abort();
    }
    atexit(fuzz_cleanup);
    memset(&g, 0, sizeof(g));
    if (metrics_render(&fuzz_d.metrics, &g, PACKAGE_VERSION, fuzz_text, sizeof(fuzz_text), &fuzz_text_len)
        != METRICS_OK)
        abort();
    return 0;
}

/* fuzz_route - stats_route_of() on the input's first line, against what plainly must come of it. */
static void fuzz_route(const uint8_t *data, size_t size)
{
    char line[512], *sp, *target, *end;
    size_t n = 0;
    stats_route r;
    bool get;

    while (n < size && n + 1 < sizeof(line) && data[n] != '\n' && data[n] != '\r' && data[n] != '\0') {
        line[n] = (char) data[n];
        n++;
    }
    line[n] = '\0';
    if ((sp = strchr(line, ' ')) == NULL)
        return;
    *sp = '\0';
    get = strcmp(line, "GET") == 0;
    target = sp + 1;
    if ((end = strchr(target, ' ')) != NULL)
        *end = '\0';
    r = stats_route_of(get, target);
    if (strstr(target, "/metrics") == NULL && r != STATS_ROUTE_NOT_FOUND)
        abort();
    if ((strcmp(target, "/metrics") == 0 || (strncmp(target, "/metrics?", 9) == 0 && strchr(target, '#') == NULL
                                             && strchr(target + 9, ' ') == NULL))
        && r != (get ? STATS_ROUTE_METRICS : STATS_ROUTE_BAD_METHOD)) {
        /* a query string evhttp refuses as a URI makes it 404: allow that, nothing else */
        if (r != STATS_ROUTE_NOT_FOUND || strchr(target, '?') == NULL)
            abort();
    }
}

/* fuzz_header - the value of header field name in head[len] (NULL: none), copied into out. */
static const char *fuzz_header(const char *head, size_t len, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);

    for (const char *p = head; p < head + len;) {
        const char *eol = memchr(p, '\n', (size_t) (head + len - p));
        size_t l = eol != NULL ? (size_t) (eol - p) : (size_t) (head + len - p);

        if (l > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            size_t v = nl + 1, e = l;

            while (v < l && p[v] == ' ')
                v++;
            while (e > v && (p[e - 1] == '\r' || p[e - 1] == ' '))
                e--;
            if (e - v >= size)
                abort();
            memcpy(out, p + v, e - v);
            out[e - v] = '\0';
            return out;
        }
        p += l + 1;
    }
    return NULL;
}

/* fuzz_responses - the bytes the endpoint answered are whole, well-formed responses. */
static void fuzz_responses(const char *r, size_t len, const uint8_t *data, size_t size)
{
    while (len > 0) {
        const char *hend = NULL;
        char v[256];
        unsigned code;
        size_t hlen, body;
        int major, minor, used = 0;

        for (size_t i = 0; i + 3 < len && hend == NULL; i++)
            if (memcmp(r + i, "\r\n\r\n", 4) == 0)
                hend = r + i + 4;
        if (hend == NULL)
            abort();            /* a response cut inside its head */
        hlen = (size_t) (hend - r);
        /* evhttp echoes the request's version as it read it, "HTTP/0.-9" too: any two integers */
        if (sscanf(r, "HTTP/%d.%d %3u %n", &major, &minor, &code, &used) != 3 || used == 0 || code < 100
            || code > 599)
            abort();
        if (fuzz_header(r, hlen, "Content-Length", v, sizeof(v)) != NULL) {
            body = (size_t) strtoul(v, NULL, 10);
        } else if (code < 200 || code == 204 || code == 304) {
            body = 0;           /* never a body */
        } else if ((code == 400 || code == 413) && fuzz_header(r, hlen, "Content-Type", v, sizeof(v)) != NULL
                   && strcmp(v, "text/html") == 0) {
            body = len - hlen;  /* libevent's own page, for a request it could not read: the connection ends it */
        } else if ((major == 1 && minor >= 1)
                   && (fuzz_header(r, hlen, "Connection", v, sizeof(v)) == NULL || strcasecmp(v, "close") != 0)) {
            body = 0;           /* a connection kept open and no length: no body (an answer to HEAD) */
            if (len > hlen && strncmp(hend, "HTTP/", 5) != 0)
                abort();        /* a body nobody can tell the end of */
        } else {
            body = len - hlen;  /* HTTP/1.0 and older, or Connection: close: the body ends with the connection */
        }
        if (body > len - hlen)
            abort();
        if (code == 200) {
            if (fuzz_header(r, hlen, "Content-Type", v, sizeof(v)) == NULL
                || strncmp(v, "text/plain; version=0.0.4", 25) != 0 || body != fuzz_text_len
                || memcmp(hend, fuzz_text, body) != 0)
                abort();        /* the counters' text, whole */
            if (size < 4 || memmem(data, size, "GET", 3) == NULL || memmem(data, size, "/metrics", 8) == NULL)
                abort();        /* only a GET of /metrics gets them */
        }
        if (code == 405 && (fuzz_header(r, hlen, "Allow", v, sizeof(v)) == NULL || strcmp(v, "GET") != 0))
            abort();
        r += hlen + body;
        len -= hlen + body;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char reply[1 << 20];
    struct sockaddr_un sa;
    size_t len = 0, off = 0;
    long long deadline = clock_now_ms() + 2000;
    int fd;

    fuzz_route(data, size);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fuzz_sock);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0
        || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
        abort();
    for (;;) {
        struct pollfd p = { fd, POLLIN | (off < size ? POLLOUT : 0), 0 };
        ssize_t n;

        (void) event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
        if (poll(&p, 1, 0) < 0)
            abort();
        if (off < size && (p.revents & POLLOUT)) {
            n = send(fd, data + off, size - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t) n;
            else if (n < 0)
                off = size;     /* the endpoint closed already (a bad request) */
            if (off == size)
                shutdown(fd, SHUT_WR);
        } else if (size == 0 && off == 0) {
            shutdown(fd, SHUT_WR);
            off = 1;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, reply + len, sizeof(reply) - 1 - len, 0);
            if (n == 0 || (n < 0 && len == 0 && p.revents & (POLLHUP | POLLERR)))
                break;          /* the endpoint closed the connection */
            if (n > 0)
                len += (size_t) n;
            if (len == sizeof(reply) - 1)
                abort();        /* answers without end */
        }
        if (clock_now_ms() > deadline)
            abort();            /* the endpoint neither answered nor closed: a hang */
    }
    close(fd);
    (void) event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
    fuzz_responses(reply, len, data, size);
    return 0;
}
