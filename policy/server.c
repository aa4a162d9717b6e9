/*
 * server.c - danced's listening sockets and the set of open connections.
 *
 * USAGE
 *	if (server_open(cfg->policy_socket, cfg->socket_mode, cfg->socket_group,
 *	                &srv, err, sizeof(err)) != SERVER_OK)
 *	    fatal(err);
 *	... daemonize, drop privileges, create the event base ...
 *	server_start(srv, &d);
 *	... SIGTERM: server_stop(srv); server_drain(srv); ...
 *	server_free(srv);
 *
 * DESCRIPTION
 *	Endpoints use Postfix's syntax, parsed by endpoint_parse():
 *	"inet:HOST:PORT" (HOST an address, or a name - normally from
 *	/etc/hosts - whose every address is bound, up to
 *	SERVER_LISTEN_MAX), "inet:[IPv6]:PORT", "unix:/absolute/path".
 *	IPv6 sockets are IPV6_V6ONLY, so "localhost" may bind both ::1
 *	and 127.0.0.1.
 *
 *	Unix sockets: a stale socket file left by a dead daemon is
 *	removed first - but only a socket nobody answers on; a live one,
 *	or a path that is not a socket, is an error.  The socket is bound
 *	under umask 077 and then given socket_mode and socket_group, so it
 *	is never reachable with wider permissions than configured.  The
 *	file is removed by server_free() (if the process still may).
 *
 *	Accepting: up to SERVER_ACCEPT_BURST connections per wake-up, each
 *	made non-blocking and handed to the face's accept callback (a
 *	policy session, a milter connection).  At the face's connection
 *	limit the listeners are paused (the kernel backlog holds the next
 *	clients) with one log line, and resumed when a connection closes.
 *	When the process runs out of descriptors accepting pauses for a
 *	second.  When a stopped server's last connection closes, the
 *	face's drained callback runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "endpoint.h"
#include "server.h"
#include "panic.h"

#define SERVER_BACKLOG 511
#define SERVER_ACCEPT_BURST 64
#define SERVER_ENDPOINT_MAX 300

struct server {
    struct event_base *base;
    const dlog *log;
    server_face face;
    size_t max;                       /* connections at most */
    char key[32];                     /* the setting, for messages */
    int fd[SERVER_LISTEN_MAX];
    size_t nfd;
    struct event *ev[SERVER_LISTEN_MAX];
    struct event *resume;             /* retry accepting after EMFILE */
    char endpoint[SERVER_ENDPOINT_MAX];
    char unix_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    bool is_unix;
    bool paused;
    bool stopped;
    size_t nconn;
    unsigned long serial;             /* names unix peers in logs */
    server_conn head;                 /* list sentinel */
};

static server_status server_fail(server_status st, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static server_status server_fail(server_status st, char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return st;
}

/* server_listen_fd - socket, options, bind, listen; -1 with err on failure. */
static int server_listen_fd(const struct sockaddr *sa, socklen_t salen, const char *what,
                            char *err, size_t errsize)
{
    int fd, on = 1;

    if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        server_fail(SERVER_ENVIRONMENT, err, errsize, "%s: socket: %s", what, strerror(errno));
        return -1;
    }
    if (sa->sa_family != AF_UNIX)
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (sa->sa_family == AF_INET6)
        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, sa, salen) != 0 || listen(fd, SERVER_BACKLOG) != 0) {
        server_fail(SERVER_ENVIRONMENT, err, errsize, "%s: cannot listen: %s", what, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* server_open_inet - bind every address of a parsed inet endpoint. */
static server_status server_open_inet(server *srv, const endpoint *ep, char *err, size_t errsize)
{
    char port[8];
    struct addrinfo hints, *res = NULL, *ai;
    int gai, fd;

    snprintf(port, sizeof(port), "%u", ep->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = ep->family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (ep->family != AF_UNSPEC ? AI_NUMERICHOST : 0);
    if ((gai = getaddrinfo(ep->host, port, &hints, &res)) != 0)
        return server_fail(SERVER_BAD_ENDPOINT, err, errsize,
                           "%s: \"%s\": %s", srv->key, ep->host, gai_strerror(gai));
    for (ai = res; ai != NULL && srv->nfd < SERVER_LISTEN_MAX; ai = ai->ai_next) {
        char what[SERVER_ENDPOINT_MAX + 40];

        snprintf(what, sizeof(what), "%s: %s", srv->key, srv->endpoint);
        if ((fd = server_listen_fd(ai->ai_addr, ai->ai_addrlen, what, err, errsize)) < 0) {
            freeaddrinfo(res);
            return SERVER_ENVIRONMENT;
        }
        srv->fd[srv->nfd++] = fd;
    }
    freeaddrinfo(res);
    if (srv->nfd == 0)
        return server_fail(SERVER_BAD_ENDPOINT, err, errsize, "%s: \"%s\": no address", srv->key,
                           ep->host);
    return SERVER_OK;
}

/* server_unix_clear_stale - remove a socket file nobody answers on; error for anything else there. */
static server_status server_unix_clear_stale(const char *path, char *err, size_t errsize)
{
    struct sockaddr_un sun;
    struct stat st;
    int fd, rc;

    if (strlen(path) >= sizeof(sun.sun_path))
        DANCE_PANIC("endpoint_parse() checked it");
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return SERVER_OK;
        return server_fail(SERVER_ENVIRONMENT, err, errsize, "%s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return server_fail(SERVER_ENVIRONMENT, err, errsize,
                           "%s: exists and is not a socket; not removing it", path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return server_fail(SERVER_ENVIRONMENT, err, errsize, "socket: %s", strerror(errno));
    rc = connect(fd, (const struct sockaddr *) &sun, sizeof(sun));
    close(fd);
    if (rc == 0)
        return server_fail(SERVER_ENVIRONMENT, err, errsize,
                           "%s: another process is listening on it", path);
    if (unlink(path) != 0)
        return server_fail(SERVER_ENVIRONMENT, err, errsize, "%s: cannot remove stale socket: %s",
                           path, strerror(errno));
    return SERVER_OK;
}

/* server_unix_permissions - give a bound socket file mode and group ("" = unchanged). */
static server_status server_unix_permissions(const char *path, unsigned mode, const char *group,
                                      char *err, size_t errsize)
{
    struct group *gr = NULL;

    if (group != NULL && *group != '\0' && (gr = getgrnam(group)) == NULL)
        return server_fail(SERVER_ENVIRONMENT, err, errsize, "socket_group: no group \"%s\"", group);
    if (gr != NULL && chown(path, (uid_t) -1, gr->gr_gid) != 0)
        return server_fail(SERVER_ENVIRONMENT, err, errsize, "%s: cannot give it group %s: %s",
                           path, group, strerror(errno));
    if (chmod(path, (mode_t) (mode & 07777)) != 0)
        return server_fail(SERVER_ENVIRONMENT, err, errsize, "%s: chmod %o: %s", path, mode,
                           strerror(errno));
    return SERVER_OK;
}

/* server_open_unix - bind "/path" with mode and group. */
static server_status server_open_unix(server *srv, const char *path, unsigned mode,
                                      const char *group, char *err, size_t errsize)
{
    struct sockaddr_un sun;
    server_status st;
    mode_t old;
    int fd;

    if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path))
        DANCE_PANIC("endpoint_parse() checked it");
    if (group != NULL && *group != '\0' && getgrnam(group) == NULL)
        return server_fail(SERVER_ENVIRONMENT, err, errsize, "socket_group: no group \"%s\"", group);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if ((st = server_unix_clear_stale(path, err, errsize)) != SERVER_OK)
        return st;
    old = umask(077);
    fd = server_listen_fd((const struct sockaddr *) &sun, sizeof(sun), path, err, errsize);
    umask(old);
    if (fd < 0)
        return SERVER_ENVIRONMENT;
    srv->fd[srv->nfd++] = fd;
    srv->is_unix = true;
    memcpy(srv->unix_path, path, strlen(path) + 1);
    return server_unix_permissions(path, mode, group, err, errsize);
}

/* server_open - parse endpoint and bind it. */
server_status server_open(const char *key, const char *text, unsigned mode, const char *group,
                          server **out, char *err, size_t errsize)
{
    server *srv;
    server_status st;
    endpoint ep;
    char why[256];

    *out = NULL;
    if (text == NULL || strlen(text) >= SERVER_ENDPOINT_MAX)
        return server_fail(SERVER_BAD_ENDPOINT, err, errsize, "%s: missing or too long", key);
    srv = xcalloc(1, sizeof(*srv));
    snprintf(srv->key, sizeof(srv->key), "%s", key);
    srv->head.next = srv->head.prev = &srv->head;
    snprintf(srv->endpoint, sizeof(srv->endpoint), "%s", text);
    if (!endpoint_parse(text, &ep, why, sizeof(why)))
        st = server_fail(SERVER_BAD_ENDPOINT, err, errsize, "%s: %s", key, why);
    else if (ep.family == AF_UNIX)
        st = server_open_unix(srv, ep.path, mode, group, err, errsize);
    else
        st = server_open_inet(srv, &ep, err, errsize);
    if (st != SERVER_OK) {
        server_free(srv);
        return st;
    }
    *out = srv;
    return SERVER_OK;
}

/* server_pause - stop watching the listeners (they stay open). */
static void server_pause(server *srv)
{
    for (size_t i = 0; i < srv->nfd; i++)
        if (srv->ev[i] != NULL)
            event_del(srv->ev[i]);
    srv->paused = true;
}

/* server_resume - watch the listeners again. */
static void server_resume(server *srv)
{
    if (srv->stopped)
        return;
    for (size_t i = 0; i < srv->nfd; i++)
        if (srv->ev[i] != NULL)
            event_add(srv->ev[i], NULL);
    srv->paused = false;
}

static void server_on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    server_resume(arg);
}

/* server_peer_name - "addr:port", "[v6]:port", or "unix#N" for logs. */
static void server_peer_name(server *srv, const struct sockaddr_storage *ss, socklen_t len,
                             char *out, size_t outsize)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    srv->serial++;
    if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6) {
        snprintf(out, outsize, "unix#%lu", srv->serial);
        return;
    }
    if (getnameinfo((const struct sockaddr *) ss, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, outsize, "?#%lu", srv->serial);
        return;
    }
    snprintf(out, outsize, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static void server_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    server *srv = arg;
    struct sockaddr_storage ss;
    socklen_t len;
    char peer[SERVER_PEER_MAX];
    int fd;

    (void) what;
    for (int n = 0; n < SERVER_ACCEPT_BURST && !srv->paused; n++) {
        if (srv->nconn >= srv->max) {
            dlog_msg(srv->log, LOG_WARNING, "%s: %zu connections (the limit): "
                     "not accepting more until one closes", srv->face.what, srv->nconn);
            server_pause(srv);
            return;
        }
        len = sizeof(ss);
        fd = accept(lfd, (struct sockaddr *) &ss, &len);
        if (fd >= 0 && (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0
                        || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)) {
            dlog_msg(srv->log, LOG_WARNING, "accept: fcntl: %s", strerror(errno));
            close(fd);
            continue;
        }
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                struct timeval one = { 1, 0 };

                dlog_msg(srv->log, LOG_ERR, "%s: accept: %s (with %zu connections); pausing for 1 s",
                         srv->face.what, strerror(errno), srv->nconn);
                server_pause(srv);
                event_add(srv->resume, &one);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                       && errno != ECONNABORTED) {
                dlog_msg(srv->log, LOG_WARNING, "%s: accept: %s", srv->face.what, strerror(errno));
            }
            return;
        }
        server_peer_name(srv, &ss, len, peer, sizeof(peer));
        srv->face.accept(srv->face.arg, fd, peer);     /* links it in with server_conn_add */
    }
}

/* server_conn_add - a connection opened (called by the face's accept), with its ops. */
void server_conn_add(server *srv, server_conn *c, const server_conn_ops *ops)
{
    c->ops = ops;
    c->next = &srv->head;
    c->prev = srv->head.prev;
    srv->head.prev->next = c;
    srv->head.prev = c;
    srv->nconn++;
}

/* server_start - begin accepting on base; at most max connections at a time. */
void server_start(server *srv, struct event_base *base, const dlog *log, const server_face *face,
                  size_t max)
{
    srv->base = base;
    srv->log = log;
    srv->face = *face;
    srv->max = max;
    srv->resume = evtimer_new(base, server_on_resume, srv);
    if (srv->resume == NULL)
        DANCE_PANIC("unexpected: srv->resume == NULL");
    for (size_t i = 0; i < srv->nfd; i++) {
        srv->ev[i] = event_new(base, srv->fd[i], EV_READ | EV_PERSIST, server_on_accept, srv);
        if (srv->ev[i] == NULL || event_add(srv->ev[i], NULL) != 0)
            DANCE_PANIC("libevent out of memory");
    }
}

/* server_set_max - a new connection limit; accepting resumes when below it. */
void server_set_max(server *srv, size_t max)
{
    srv->max = max;
    if (srv->paused && !srv->stopped && srv->resume != NULL && !event_pending(srv->resume, EV_TIMEOUT, NULL)
        && srv->nconn < srv->max)
        server_resume(srv);
}

/* server_stopped - true once server_stop ran. */
bool server_stopped(const server *srv)
{
    return srv->stopped;
}

/* server_stop - stop accepting and close the listening sockets. */
void server_stop(server *srv)
{
    srv->stopped = true;
    for (size_t i = 0; i < srv->nfd; i++) {
        if (srv->ev[i] != NULL)
            event_free(srv->ev[i]);
        srv->ev[i] = NULL;
        if (srv->fd[i] >= 0)
            close(srv->fd[i]);
        srv->fd[i] = -1;
    }
    if (srv->resume != NULL)
        event_del(srv->resume);
}

/* server_drain - ask every connection to finish its request in progress and close. */
void server_drain(server *srv)
{
    server_conn *c, *next;

    for (c = srv->head.next; c != &srv->head; c = next) {
        next = c->next;                 /* drain may close c */
        c->ops->drain(c);
    }
    if (srv->stopped && srv->nconn == 0 && srv->face.drained != NULL)
        srv->face.drained(srv->face.arg);
}

/* server_close_all - close every connection at once. */
void server_close_all(server *srv)
{
    while (srv->head.next != &srv->head)
        srv->head.next->ops->close(srv->head.next);
}

/* server_conn_gone - a connection closed. */
void server_conn_gone(server *srv, server_conn *c)
{
    if (srv->nconn == 0)
        DANCE_PANIC("unexpected: srv->nconn == 0");
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->next = c->prev = NULL;
    srv->nconn--;
    if (srv->paused && !srv->stopped && !event_pending(srv->resume, EV_TIMEOUT, NULL)
        && srv->nconn < srv->max)
        server_resume(srv);
    if (srv->stopped && srv->nconn == 0 && srv->face.drained != NULL)
        srv->face.drained(srv->face.arg);
}

/* server_connections - open connections. */
size_t server_connections(const server *srv)
{
    return srv->nconn;
}

/* server_endpoint - the endpoint as bound, for logs. */
const char *server_endpoint(const server *srv)
{
    return srv->endpoint;
}

/* server_free - close listeners and remove a unix socket file we created. */
void server_free(server *srv)
{
    if (srv == NULL)
        return;
    if (srv->head.next != NULL && srv->head.next != &srv->head)
        DANCE_PANIC("connections still open");
    for (size_t i = 0; i < srv->nfd; i++) {
        if (srv->ev[i] != NULL)
            event_free(srv->ev[i]);
        if (srv->fd[i] >= 0)
            close(srv->fd[i]);
    }
    if (srv->resume != NULL)
        event_free(srv->resume);
    if (srv->is_unix)
        (void) unlink(srv->unix_path);
    free(srv);
}
