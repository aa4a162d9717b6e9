/*
 * stats.c - the metrics endpoint: HTTP GET /metrics on stats_socket, in the
 * Prometheus text format, served by libevent's evhttp on the daemon's loop.
 *
 * USAGE
 *	stats_open(d, err, sizeof(err));	(main.c, step 2: binds, privileged)
 *	stats_start(d, err, sizeof(err));	(main.c, once the loop exists)
 *	stats_free(d->stats);			(danced_shutdown)
 *
 * DESCRIPTION
 *	The socket is bound by the listener code of the faces (listen.c:
 *	the endpoint syntax, socket_mode and socket_group, a socket systemd
 *	passed); evhttp then accepts on it itself, through an evconnlistener
 *	that does not own the descriptor, so listen_free() closes it and
 *	removes a unix socket file as for the faces.  Like the faces' sockets
 *	an inet stats_socket must be loopback unless remote_sockets = yes
 *	(snapshot.c), and with peer_users set only root and those users may
 *	ask (danced_admit, on every request: 403 otherwise).
 *
 *	stats_route_of() decides by method and request target alone (a
 *	pure function, so it is unit-tested and fuzzed without sockets):
 *	GET /metrics (a query string is ignored) answers 200 with the text
 *	of metrics_render(): the counters of the daemon context and the
 *	gauges read now (each face's open connections, the current cache's
 *	entries).  Another path answers 404; another method on /metrics
 *	405 with "Allow: GET" (to HEAD without a body).  The stats socket is not a face: it is not
 *	stopped when danced drains, it has no connection limit of its own,
 *	and its connections do not keep danced from stopping.  evhttp reads
 *	and writes without blocking, closes a connection idle or slow for
 *	STATS_TIMEOUT_S, and refuses requests with more than
 *	STATS_HEADERS_MAX octets of header or STATS_BODY_MAX of body, so
 *	whatever arrives there cannot hold up the faces on the same loop.
 *	A request evhttp cannot read never reaches stats_on_request():
 *	libevent answers it with its own HTML page (400, or 413 past the
 *	limits) and closes the connection; to HEAD that page comes with a
 *	body but no length (libevent 2.1), so it ends with the connection.
 *
 * DIAGNOSTICS
 *	Binding problems are start-up errors (main.c makes them fatal);
 *	refused peers are logged by danced_admit().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "dance_build.h"
#include "lib/config.h"
#include "lib/panic.h"
#include "danced_private.h"
#include "dnsloop.h"
#include "listen.h"
#include "snapshot.h"
#include "stats.h"

#define STATS_TIMEOUT_S 10            /* a connection idle or slow this long is closed */
#define STATS_HEADERS_MAX 8192        /* octets of request line and header fields */
#define STATS_BODY_MAX 4096           /* octets of request body (none is needed) */
#define STATS_PATH "/metrics"
#define STATS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct stats {
    danced *d;
    listener *srv;                    /* the bound sockets, closed by listen_free */
    struct evhttp *http;
    char text[METRICS_TEXT_MAX];      /* the last text served */
};

/* stats_open - bind the configured stats_socket into d. */
stats_status stats_open(danced *d, char *err, size_t errsize)
{
    const dance_config *cfg = &d->snap->cfg;
    stats *s;

    if (cfg->stats_socket == NULL || cfg->stats_socket[0] == '\0')
        return STATS_OK;
    s = xcalloc(1, sizeof(*s));
    s->d = d;
    switch (listen_open("stats_socket", cfg->stats_socket, cfg->socket_mode, cfg->socket_group, &s->srv,
                        err, errsize)) {
    case LISTEN_OK:
        d->stats = s;
        return STATS_OK;
    case LISTEN_BAD_ENDPOINT:
        free(s);
        return STATS_BAD_ENDPOINT;
    case LISTEN_ENVIRONMENT:
        break;
    }
    free(s);
    return STATS_ENVIRONMENT;
}

/* stats_gauges - what is read, not counted: open connections per face, the cache's entries. */
static void stats_gauges(const danced *d, metrics_gauges *g)
{
    memset(g, 0, sizeof(*g));
    for (size_t i = 0; i < d->nfaces; i++) {
        if (strcmp(d->faces[i].ops->name, "policy") == 0)
            g->policy_connections += listen_connections(d->faces[i].srv);
        else if (strcmp(d->faces[i].ops->name, "milter") == 0)
            g->milter_connections += listen_connections(d->faces[i].srv);
    }
    if (d->dns != NULL)
        g->cache_entries = dnsloop_cache_entries(d->dns);
}

/* stats_peer_fd - the request's connection's descriptor (-1: none); "ADDRESS:PORT" into peer for logs. */
static int stats_peer_fd(struct evhttp_request *req, char *peer, size_t size)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;

    if (conn == NULL)
        return -1;
    evhttp_connection_get_peer(conn, &addr, &port);
    snprintf(peer, size, "%s:%u", addr != NULL && addr[0] != '\0' ? addr : "unix", (unsigned) port);
    return bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
}

/* stats_route_of - the answer to a request for target with method GET or not. */
stats_route stats_route_of(bool get, const char *target)
{
    /* parsed as evhttp parses a request line's URI, so the path is the one it would see */
    struct evhttp_uri *uri = target != NULL ? evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT)
                                            : NULL;
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    stats_route r = STATS_ROUTE_NOT_FOUND;

    if (path != NULL && strcmp(path, STATS_PATH) == 0)
        r = get ? STATS_ROUTE_METRICS : STATS_ROUTE_BAD_METHOD;
    if (uri != NULL)
        evhttp_uri_free(uri);
    return r;
}

/*
 * stats_reply - a short text answer with status code and reason; none to
 * HEAD (evhttp would send it without a length, and a client could not tell
 * where the next answer starts).
 */
static void stats_reply(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *buf;

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        evhttp_send_reply(req, code, reason, NULL);
        return;
    }
    if ((buf = evbuffer_new()) == NULL)
        DANCE_PANIC("out of memory");
    evbuffer_add_printf(buf, "%s\n", body);
    evhttp_send_reply(req, code, reason, buf);
    evbuffer_free(buf);
}

/* stats_on_request - every request: GET /metrics, else 404 or 405. */
static void stats_on_request(struct evhttp_request *req, void *arg)
{
    stats *s = arg;
    struct evbuffer *buf;
    metrics_gauges g;
    char peer[128];
    size_t len;
    int fd = stats_peer_fd(req, peer, sizeof(peer));

    if (fd < 0 || !danced_admit(s->d, fd, peer, "stats")) {
        stats_reply(req, 403, "Forbidden", "forbidden (peer_users)");
        return;
    }
    switch (stats_route_of(evhttp_request_get_command(req) == EVHTTP_REQ_GET, evhttp_request_get_uri(req))) {
    case STATS_ROUTE_NOT_FOUND:
        stats_reply(req, HTTP_NOTFOUND, "Not Found", "not found: the counters are at " STATS_PATH);
        return;
    case STATS_ROUTE_BAD_METHOD:
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        stats_reply(req, HTTP_BADMETHOD, "Method Not Allowed", "method not allowed: use GET");
        return;
    case STATS_ROUTE_METRICS:
        break;
    }
    stats_gauges(s->d, &g);
    if (metrics_render(&s->d->metrics, &g, PACKAGE_VERSION, s->text, sizeof(s->text), &len) != METRICS_OK)
        DANCE_PANIC("METRICS_TEXT_MAX holds every series");
    if ((buf = evbuffer_new()) == NULL || evbuffer_add(buf, s->text, len) != 0)
        DANCE_PANIC("out of memory");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", STATS_CONTENT_TYPE);
    evhttp_send_reply(req, HTTP_OK, "OK", buf);
    evbuffer_free(buf);
}

/* stats_start - serve GET /metrics on d's event loop. */
stats_status stats_start(danced *d, char *err, size_t errsize)
{
    stats *s = d->stats;
    int fds[LISTEN_ADDRESSES_MAX];
    size_t n;

    if (s == NULL)
        return STATS_OK;
    if ((s->http = evhttp_new(d->base)) == NULL) {
        snprintf(err, errsize, "stats_socket: cannot create the HTTP server");
        return STATS_ENVIRONMENT;
    }
    evhttp_set_timeout(s->http, STATS_TIMEOUT_S);
    evhttp_set_max_headers_size(s->http, STATS_HEADERS_MAX);
    evhttp_set_max_body_size(s->http, STATS_BODY_MAX);
    /* every method reaches stats_on_request, which answers 405 itself */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT
                               | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(s->http, stats_on_request, s);
    n = listen_fds(s->srv, fds, LISTEN_ADDRESSES_MAX);
    for (size_t i = 0; i < n; i++) {
        /* backlog 0: listen() was called; no LEV_OPT_CLOSE_ON_FREE: the fd stays the listener's */
        struct evconnlistener *lev = evconnlistener_new(d->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, 0,
                                                        fds[i]);

        if (lev == NULL || evhttp_bind_listener(s->http, lev) == NULL) {
            if (lev != NULL)
                evconnlistener_free(lev);
            snprintf(err, errsize, "stats_socket: %s: cannot serve HTTP on it", listen_endpoint(s->srv));
            return STATS_ENVIRONMENT;
        }
    }
    dlog_msg(&d->log, LOG_INFO, "stats: serving GET %s on %s", STATS_PATH, listen_endpoint(s->srv));
    return STATS_OK;
}

/* stats_inherited - how many of its sockets systemd passed. */
size_t stats_inherited(const stats *s)
{
    return s != NULL ? listen_inherited(s->srv) : 0;
}

/* stats_free - close its connections and its socket. */
void stats_free(stats *s)
{
    if (s == NULL)
        return;
    if (s->http != NULL)
        evhttp_free(s->http);
    listen_free(s->srv);
    free(s);
}
