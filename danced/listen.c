/*
 * listen.c - danced's listening sockets and the set of open connections.
 *
 * USAGE
 *	if (listen_open("policy_socket", cfg->policy_socket, cfg->socket_mode,
 *	                cfg->socket_group, &srv, err, sizeof(err)) != LISTEN_OK)
 *	    fatal(err);
 *	... daemonize, drop privileges, create the event base ...
 *	listen_start(srv, base, log, &(listen_face){ "policy", accept, face, drained, d }, max);
 *	... SIGTERM: listen_stop(srv); listen_drain(srv); ...
 *	listen_free(srv);
 *
 * DESCRIPTION
 *	Endpoints use Postfix's syntax, parsed by endpoint_parse():
 *	"inet:HOST:PORT" (HOST an address, or a name - normally from
 *	/etc/hosts - whose every address is bound, up to
 *	LISTEN_ADDRESSES_MAX), "inet:[IPv6]:PORT", "unix:/absolute/path".
 *	IPv6 sockets are IPV6_V6ONLY, so "localhost" may bind both ::1
 *	and 127.0.0.1.
 *
 *	Unix sockets: a stale socket file left by a dead daemon is
 *	removed first - but only a socket nobody answers on; a live one,
 *	or a path that is not a socket, is an error.  The socket is bound
 *	under umask 077 and then given socket_mode and socket_group, so it
 *	is never reachable with wider permissions than configured.  The
 *	file is removed by listen_free() (if the process still may).
 *
 *	A socket systemd passes for the same address (activation.h) is
 *	used instead of binding one; its file's mode and group are the
 *	.socket unit's, and it is never removed.
 *
 *	Accepting: up to LISTEN_ACCEPT_BURST connections per wake-up, each
 *	made non-blocking and handed to the face's accept callback (a
 *	policy session, a milter connection).  At the face's connection
 *	limit the listeners are paused (the kernel backlog holds the next
 *	clients) with one log line, and resumed when a connection closes.
 *	When the process runs out of descriptors accepting pauses for a
 *	second.  When a stopped listener's last connection closes, the
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

#include "lib/config.h"
#include "lib/endpoint.h"
#include "lib/panic.h"
#include "activation.h"
#include "listen.h"

#define LISTEN_BACKLOG 511
#define LISTEN_ACCEPT_BURST 64
#define LISTEN_ENDPOINT_MAX 300

struct listener {
    struct event_base *base;
    const dlog *log;
    listen_face face;
    size_t max;                       /* connections at most */
    char key[32];                     /* the setting, for messages */
    int fd[LISTEN_ADDRESSES_MAX];
    size_t nfd;
    struct event *ev[LISTEN_ADDRESSES_MAX];
    struct event *resume;             /* retry accepting after EMFILE */
    char endpoint[LISTEN_ENDPOINT_MAX];
    char unix_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    bool is_unix;
    bool unix_inherited;              /* systemd's socket file: never ours to remove */
    size_t ninherited;                /* sockets systemd passed, taken here */
    bool paused;
    bool stopped;
    bool drained_told;              /* the face's drained callback ran */
    size_t nconn;
    unsigned long serial;             /* names unix peers in logs */
    listen_conn head;                 /* list sentinel */
};

static listen_status listen_fail(listen_status st, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static listen_status listen_fail(listen_status st, char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return st;
}

/* listen_listen_fd - socket, options, bind, listen; -1 with err on failure. */
static int listen_listen_fd(const struct sockaddr *sa, socklen_t salen, const char *what,
                            char *err, size_t errsize)
{
    int fd, on = 1;

    if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        listen_fail(LISTEN_ENVIRONMENT, err, errsize, "%s: socket: %s", what, strerror(errno));
        return -1;
    }
    if (sa->sa_family != AF_UNIX)
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (sa->sa_family == AF_INET6)
        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, sa, salen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        listen_fail(LISTEN_ENVIRONMENT, err, errsize, "%s: cannot listen: %s", what, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* listen_has_fd - true when the listener holds fd already. */
static bool listen_has_fd(const listener *srv, int fd)
{
    for (size_t i = 0; i < srv->nfd; i++)
        if (srv->fd[i] == fd)
            return true;
    return false;
}

/* listen_open_inet - bind every address of a parsed inet endpoint. */
static listen_status listen_open_inet(listener *srv, const endpoint *ep, char *err, size_t errsize)
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
        return listen_fail(LISTEN_BAD_ENDPOINT, err, errsize,
                           "%s: \"%s\": %s", srv->key, ep->host, gai_strerror(gai));
    for (ai = res; ai != NULL && srv->nfd < LISTEN_ADDRESSES_MAX; ai = ai->ai_next) {
        char what[LISTEN_ENDPOINT_MAX + 40];

        snprintf(what, sizeof(what), "%s: %s", srv->key, srv->endpoint);
        if ((fd = activation_take_sockaddr(ai->ai_addr, ai->ai_addrlen)) >= 0) {
            if (listen_has_fd(srv, fd))
                continue;               /* a name that resolved to one address twice */
            srv->ninherited++;
        } else if ((fd = listen_listen_fd(ai->ai_addr, ai->ai_addrlen, what, err, errsize)) < 0) {
            freeaddrinfo(res);
            return LISTEN_ENVIRONMENT;
        }
        srv->fd[srv->nfd++] = fd;
    }
    freeaddrinfo(res);
    if (srv->nfd == 0)
        return listen_fail(LISTEN_BAD_ENDPOINT, err, errsize, "%s: \"%s\": no address", srv->key,
                           ep->host);
    return LISTEN_OK;
}

/* listen_unix_clear_stale - remove a socket file nobody answers on; error for anything else there. */
static listen_status listen_unix_clear_stale(const char *path, char *err, size_t errsize)
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
            return LISTEN_OK;
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize, "%s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize,
                           "%s: exists and is not a socket; not removing it", path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize, "socket: %s", strerror(errno));
    rc = connect(fd, (const struct sockaddr *) &sun, sizeof(sun));
    close(fd);
    if (rc == 0)
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize,
                           "%s: another process is listening on it", path);
    if (unlink(path) != 0)
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize, "%s: cannot remove stale socket: %s",
                           path, strerror(errno));
    return LISTEN_OK;
}

/* listen_unix_permissions - give a bound socket file mode and group ("" = unchanged). */
static listen_status listen_unix_permissions(const char *path, unsigned mode, const char *group,
                                      char *err, size_t errsize)
{
    struct group *gr = NULL;

    if (group != NULL && *group != '\0' && (gr = getgrnam(group)) == NULL)
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize, "socket_group: no group \"%s\"", group);
    if (gr != NULL && chown(path, (uid_t) -1, gr->gr_gid) != 0)
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize, "%s: cannot give it group %s: %s",
                           path, group, strerror(errno));
    if (chmod(path, (mode_t) (mode & 07777)) != 0)
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize, "%s: chmod %o: %s", path, mode,
                           strerror(errno));
    return LISTEN_OK;
}

/* listen_open_unix - bind "/path" with mode and group. */
static listen_status listen_open_unix(listener *srv, const char *path, unsigned mode,
                                      const char *group, char *err, size_t errsize)
{
    struct sockaddr_un sun;
    listen_status st;
    mode_t old;
    int fd;

    if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path))
        DANCE_PANIC("endpoint_parse() checked it");
    if ((fd = activation_take_unix(path)) >= 0) {
        /* systemd's: its SocketMode= and SocketGroup= stand, and the file stays */
        srv->fd[srv->nfd++] = fd;
        srv->is_unix = srv->unix_inherited = true;
        srv->ninherited++;
        memcpy(srv->unix_path, path, strlen(path) + 1);
        return LISTEN_OK;
    }
    if (group != NULL && *group != '\0' && getgrnam(group) == NULL)
        return listen_fail(LISTEN_ENVIRONMENT, err, errsize, "socket_group: no group \"%s\"", group);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if ((st = listen_unix_clear_stale(path, err, errsize)) != LISTEN_OK)
        return st;
    old = umask(077);
    fd = listen_listen_fd((const struct sockaddr *) &sun, sizeof(sun), path, err, errsize);
    umask(old);
    if (fd < 0)
        return LISTEN_ENVIRONMENT;
    srv->fd[srv->nfd++] = fd;
    srv->is_unix = true;
    memcpy(srv->unix_path, path, strlen(path) + 1);
    return listen_unix_permissions(path, mode, group, err, errsize);
}

/* listen_open - parse endpoint and bind it. */
listen_status listen_open(const char *key, const char *text, unsigned mode, const char *group,
                          listener **out, char *err, size_t errsize)
{
    listener *srv;
    listen_status st;
    endpoint ep;
    char why[256];

    *out = NULL;
    if (text == NULL || strlen(text) >= LISTEN_ENDPOINT_MAX)
        return listen_fail(LISTEN_BAD_ENDPOINT, err, errsize, "%s: missing or too long", key);
    srv = xcalloc(1, sizeof(*srv));
    snprintf(srv->key, sizeof(srv->key), "%s", key);
    srv->head.next = srv->head.prev = &srv->head;
    snprintf(srv->endpoint, sizeof(srv->endpoint), "%s", text);
    if (!endpoint_parse(text, &ep, why, sizeof(why)))
        st = listen_fail(LISTEN_BAD_ENDPOINT, err, errsize, "%s: %s", key, why);
    else if (ep.family == AF_UNIX)
        st = listen_open_unix(srv, ep.path, mode, group, err, errsize);
    else
        st = listen_open_inet(srv, &ep, err, errsize);
    if (st != LISTEN_OK) {
        listen_free(srv);
        return st;
    }
    *out = srv;
    return LISTEN_OK;
}

/* listen_pause - stop watching the listeners (they stay open). */
static void listen_pause(listener *srv)
{
    for (size_t i = 0; i < srv->nfd; i++)
        if (srv->ev[i] != NULL)
            event_del(srv->ev[i]);
    srv->paused = true;
}

/* listen_resume - watch the listeners again. */
static void listen_resume(listener *srv)
{
    if (srv->stopped)
        return;
    for (size_t i = 0; i < srv->nfd; i++)
        if (srv->ev[i] != NULL)
            event_add(srv->ev[i], NULL);
    srv->paused = false;
}

static void listen_on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    listen_resume(arg);
}

/* listen_peer_name - "addr:port", "[v6]:port", or "unix#N" for logs. */
static void listen_peer_name(listener *srv, const struct sockaddr_storage *ss, socklen_t len,
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

static void listen_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    listener *srv = arg;
    struct sockaddr_storage ss;
    socklen_t len;
    char peer[LISTEN_PEER_MAX];
    int fd;

    (void) what;
    for (int n = 0; n < LISTEN_ACCEPT_BURST && !srv->paused; n++) {
        if (srv->nconn >= srv->max) {
            dlog_msg(srv->log, LOG_WARNING, "%s: %zu connections (the limit): "
                     "not accepting more until one closes", srv->face.what, srv->nconn);
            listen_pause(srv);
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
                listen_pause(srv);
                event_add(srv->resume, &one);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                       && errno != ECONNABORTED) {
                dlog_msg(srv->log, LOG_WARNING, "%s: accept: %s", srv->face.what, strerror(errno));
            }
            return;
        }
        listen_peer_name(srv, &ss, len, peer, sizeof(peer));
        srv->face.accept(srv->face.accept_arg, fd, peer);     /* links it in with listen_conn_add */
    }
}

/* listen_conn_add - a connection opened (called by the face's accept), with its ops. */
void listen_conn_add(listener *srv, listen_conn *c, const listen_conn_ops *ops)
{
    c->ops = ops;
    c->next = &srv->head;
    c->prev = srv->head.prev;
    srv->head.prev->next = c;
    srv->head.prev = c;
    srv->nconn++;
}

/* listen_start - begin accepting on base; at most max connections at a time. */
void listen_start(listener *srv, struct event_base *base, const dlog *log, const listen_face *face,
                  size_t max)
{
    srv->base = base;
    srv->log = log;
    srv->face = *face;
    srv->max = max;
    srv->resume = evtimer_new(base, listen_on_resume, srv);
    if (srv->resume == NULL)
        DANCE_PANIC("unexpected: srv->resume == NULL");
    for (size_t i = 0; i < srv->nfd; i++) {
        srv->ev[i] = event_new(base, srv->fd[i], EV_READ | EV_PERSIST, listen_on_accept, srv);
        if (srv->ev[i] == NULL || event_add(srv->ev[i], NULL) != 0)
            DANCE_PANIC("libevent out of memory");
    }
}

/* listen_set_max - a new connection limit; accepting resumes when below it. */
void listen_set_max(listener *srv, size_t max)
{
    srv->max = max;
    if (srv->paused && !srv->stopped && srv->resume != NULL && !event_pending(srv->resume, EV_TIMEOUT, NULL)
        && srv->nconn < srv->max)
        listen_resume(srv);
}

/* listen_stopped - true once listen_stop ran. */
bool listen_stopped(const listener *srv)
{
    return srv->stopped;
}

/* listen_stop - stop accepting and close the listening sockets. */
void listen_stop(listener *srv)
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

/* listen_tell_drained - once stopped and empty: tell the face, once. */
static void listen_tell_drained(listener *srv)
{
    if (srv->stopped && srv->nconn == 0 && !srv->drained_told && srv->face.drained != NULL) {
        srv->drained_told = true;
        srv->face.drained(srv->face.drained_arg);
    }
}

/* listen_drain - ask every connection to finish its request in progress and close. */
void listen_drain(listener *srv)
{
    listen_conn *c, *next;

    for (c = srv->head.next; c != &srv->head; c = next) {
        next = c->next;                 /* drain may close c */
        c->ops->drain(c);
    }
    listen_tell_drained(srv);
}

/* listen_close_all - close every connection at once. */
void listen_close_all(listener *srv)
{
    while (srv->head.next != &srv->head)
        srv->head.next->ops->close(srv->head.next);
}

/* listen_conn_gone - a connection closed. */
void listen_conn_gone(listener *srv, listen_conn *c)
{
    if (srv->nconn == 0)
        DANCE_PANIC("unexpected: srv->nconn == 0");
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->next = c->prev = NULL;
    srv->nconn--;
    if (srv->paused && !srv->stopped && !event_pending(srv->resume, EV_TIMEOUT, NULL)
        && srv->nconn < srv->max)
        listen_resume(srv);
    listen_tell_drained(srv);
}

/* listen_connections - open connections. */
size_t listen_connections(const listener *srv)
{
    return srv->nconn;
}

/* listen_endpoint - the endpoint as bound, for logs. */
const char *listen_endpoint(const listener *srv)
{
    return srv->endpoint;
}

/* listen_inherited - how many of its sockets systemd passed. */
size_t listen_inherited(const listener *srv)
{
    return srv->ninherited;
}

/* listen_free - close listeners and remove a unix socket file we created. */
void listen_free(listener *srv)
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
    if (srv->is_unix && !srv->unix_inherited)
        (void) unlink(srv->unix_path);
    free(srv);
}

/* listen_fds - the bound sockets, for a server that accepts on them itself. */
size_t listen_fds(const listener *srv, int *fds, size_t max)
{
    size_t n = 0;

    for (; n < srv->nfd && n < max; n++)
        fds[n] = srv->fd[n];
    return n;
}
