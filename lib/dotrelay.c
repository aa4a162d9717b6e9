/*
 * dotrelay.c - a loopback relay from libunbound's DNS over TCP to the
 * forwarders' DNS over TLS, with certificate and name verification.
 *
 * USAGE
 *	dotrelay_config dc = { .forwarders = { "192.0.2.1@853#dns.example" }, .nforwarders = 1 };
 *	relay = dotrelay_new(&dc, err, sizeof(err));
 *	... libunbound: tcp-upstream: yes, forward to 127.0.0.1@dotrelay_port(relay) ...
 *	if (dotrelay_error_since(relay, submitted_ms, why, sizeof(why))) ... the reason ...
 *	dotrelay_free(relay);		(after ub_ctx_delete)
 *
 * DESCRIPTION
 *	Debian's libunbound is built with nettle: it has no TLS, so its
 *	tls-upstream cannot verify a forwarder's certificate or name.  The
 *	resolver (resolver.c) therefore points libunbound, in tcp-upstream
 *	mode, at a TCP port on 127.0.0.1 that this relay listens on, and the
 *	relay carries each length-prefixed DNS message to a forwarder over
 *	TLS (OpenSSL, TLS 1.2 or later, SNI and X509 host name check on the
 *	forwarder's #NAME, CA from tls_ca_file or the system's default
 *	paths), and the answer back.  Forwarders are tried in order; one
 *	whose connection, handshake or verification fails is skipped.  When
 *	none is reachable the relay closes libunbound's connection - never a
 *	plain-text retry - and remembers why (the last forwarder's failure,
 *	dotrelay_error_since), so the look-up ends temperror with the TLS
 *	failure in its reason.
 *
 *	Design: one accept thread plus one thread per relayed connection,
 *	with blocking I/O bounded by socket timeouts (timeout_ms).  This is
 *	the simplest design that works unchanged under the synchronous CLI
 *	and danced's event loop: libunbound already runs in a thread of its
 *	own, and the relay never touches the caller's loop.  Bounds: at most
 *	DOTRELAY_CONN_MAX connections (more are closed at once; libunbound
 *	keeps at most RESOLVER_OUTGOING_NUM_TCP open), one message buffer of
 *	2 + DOTRELAY_MSG_MAX octets each, one query in flight per connection
 *	(libunbound matches answers by id), every read, write, connect and
 *	handshake under timeout_ms.  The threads block every signal, so
 *	SIGPIPE and the daemon's signals reach the main thread only.
 *	dotrelay_free() wakes the accept thread through a pipe, shuts the
 *	sockets of live connections down (which ends their blocking calls)
 *	and joins every thread.
 *
 *	The relay's port is a TCP port on 127.0.0.1, reachable by every local
 *	user (libunbound cannot forward to a unix socket).  So that no other
 *	user can hold its connections and starve the look-ups, it serves only
 *	sockets of its own user (dotrelay_peer.c asks the kernel whose the
 *	other end is) and closes the others' connections at once.
 */
#define _GNU_SOURCE                 /* accept4, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dotrelay.h"
#include "dotrelay_peer.h"
#include "clock.h"
#include "panic.h"

typedef struct dotrelay_conn {
    struct dotrelay *relay;
    bool in_use;             /* a thread owns this slot */
    bool done;               /* the thread has finished: join it */
    pthread_t thread;
    int client_fd;           /* libunbound's connection, -1 when closed */
    int upstream_fd;         /* the forwarder's, -1 when none */
} dotrelay_conn;

struct dotrelay {
    SSL_CTX *ssl_ctx;
    dotrelay_forwarder fwd[DOTRELAY_FORWARDERS_MAX];
    size_t nfwd;
    unsigned timeout_ms;
    int listen_fd;
    dotrelay_peer peer;      /* asks the kernel who connected (the accept thread's) */
    int wake[2];             /* dotrelay_free() writes to wake[1] */
    unsigned port;
    pthread_t acceptor;
    pthread_mutex_t lock;    /* guards conns[], last_error* */
    dotrelay_conn conns[DOTRELAY_CONN_MAX];
    char last_error[256];
    long long last_error_ms; /* monotonic; -1: none yet */
};

/* dotrelay_note - describe one forwarder's failure (what: one phrase, detail: or NULL) into buf. */
static void dotrelay_note(const dotrelay_forwarder *f, const char *what, const char *detail, char *buf,
                          size_t bufsize)
{
    snprintf(buf, bufsize, "DNS over TLS to %s@%u#%.60s: %.100s%s%.60s", f->ip, f->port, f->name, what,
             detail ? ": " : "", detail ? detail : "");
}

/* dotrelay_fail - publish why a relayed query found no forwarder, for dotrelay_error_since(). */
static void dotrelay_fail(dotrelay *relay, const char *why)
{
    pthread_mutex_lock(&relay->lock);
    snprintf(relay->last_error, sizeof(relay->last_error), "%s", why);
    relay->last_error_ms = clock_now_ms();
    pthread_mutex_unlock(&relay->lock);
}

/* dotrelay_set_timeouts - bound every blocking read and write on fd by ms. */
static void dotrelay_set_timeouts(int fd, unsigned ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (long) (ms % 1000) * 1000 };

    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* dotrelay_set_fd - publish a connection's upstream descriptor (for dotrelay_free's shutdown). */
static void dotrelay_set_fd(dotrelay_conn *c, int *slot, int fd)
{
    pthread_mutex_lock(&c->relay->lock);
    *slot = fd;
    pthread_mutex_unlock(&c->relay->lock);
}

/* dotrelay_tcp_connect - connect to f within ms; the descriptor, or -1 with errno. */
static int dotrelay_tcp_connect(const dotrelay_forwarder *f, unsigned ms)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct pollfd pfd;
    int fd, soerr = 0, flags;
    socklen_t len = sizeof(soerr);

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, f->ip, &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
        ((struct sockaddr_in *) &ss)->sin_family = AF_INET;
        ((struct sockaddr_in *) &ss)->sin_port = htons((unsigned short) f->port);
        sslen = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, f->ip, &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *) &ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *) &ss)->sin6_port = htons((unsigned short) f->port);
        sslen = sizeof(struct sockaddr_in6);
    } else {
        DANCE_PANIC("forwarder %s was parsed as an address", f->ip);
    }
    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return -1;
    if (connect(fd, (struct sockaddr *) &ss, sslen) != 0) {
        if (errno != EINPROGRESS)
            goto fail;
        pfd.fd = fd;
        pfd.events = POLLOUT;
        pfd.revents = 0;
        if (poll(&pfd, 1, (int) ms) != 1) {
            errno = ETIMEDOUT;
            goto fail;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
            errno = soerr ? soerr : EIO;
            goto fail;
        }
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        goto fail;
    dotrelay_set_timeouts(fd, ms);
    return fd;

fail:
    soerr = errno;
    close(fd);
    errno = soerr;
    return -1;
}

/* dotrelay_tls_reason - why a handshake failed: the verify result, else OpenSSL's error. */
static void dotrelay_tls_reason(SSL *ssl, char *buf, size_t bufsize)
{
    long vr = SSL_get_verify_result(ssl);
    unsigned long e = ERR_peek_last_error();

    if (vr != X509_V_OK)
        snprintf(buf, bufsize, "certificate not verified: %s", X509_verify_cert_error_string(vr));
    else if (e != 0)
        snprintf(buf, bufsize, "TLS handshake failed: %s", ERR_reason_error_string(e) ?
                 ERR_reason_error_string(e) : "unknown error");
    else
        snprintf(buf, bufsize, "TLS handshake failed: connection closed or timed out");
    ERR_clear_error();
}

/*
 * dotrelay_open - a verified TLS session to the first forwarder that gives
 * one; NULL when none does, the last forwarder's failure then published.
 */
static SSL *dotrelay_open(dotrelay_conn *c)
{
    dotrelay *relay = c->relay;
    char why[160], last[sizeof(relay->last_error)] = "DNS over TLS: no forwarder";

    for (size_t i = 0; i < relay->nfwd; i++) {
        const dotrelay_forwarder *f = &relay->fwd[i];
        SSL *ssl;
        int fd = dotrelay_tcp_connect(f, relay->timeout_ms);

        if (fd < 0) {
            dotrelay_note(f, "connect", strerror(errno), last, sizeof(last));
            continue;
        }
        dotrelay_set_fd(c, &c->upstream_fd, fd);
        ERR_clear_error();
        if ((ssl = SSL_new(relay->ssl_ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
            SSL_set_tlsext_host_name(ssl, f->name) != 1 || SSL_set1_host(ssl, f->name) != 1) {
            dotrelay_note(f, "cannot set up a TLS session", NULL, last, sizeof(last));
        } else if (SSL_connect(ssl) == 1 && SSL_get_verify_result(ssl) == X509_V_OK) {
            return ssl;
        } else {
            dotrelay_tls_reason(ssl, why, sizeof(why));
            dotrelay_note(f, why, NULL, last, sizeof(last));
        }
        SSL_free(ssl);
        dotrelay_set_fd(c, &c->upstream_fd, -1);
        close(fd);
    }
    dotrelay_fail(relay, last);
    return NULL;
}

/* dotrelay_close_upstream - end a TLS session and its socket. */
static void dotrelay_close_upstream(dotrelay_conn *c, SSL **ssl)
{
    int fd;

    if (*ssl == NULL)
        return;
    fd = SSL_get_fd(*ssl);
    SSL_free(*ssl);
    *ssl = NULL;
    dotrelay_set_fd(c, &c->upstream_fd, -1);
    close(fd);
}

/* dotrelay_read_client - read exactly n octets from fd; false on EOF, error or timeout. */
static bool dotrelay_read_client(int fd, unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, buf, n, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        buf += r;
        n -= (size_t) r;
    }
    return true;
}

/* dotrelay_write_client - write n octets to fd; false on error or timeout. */
static bool dotrelay_write_client(int fd, const unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        n -= (size_t) w;
    }
    return true;
}

/* dotrelay_read_tls - read exactly n octets from a TLS session; false on EOF, error or timeout. */
static bool dotrelay_read_tls(SSL *ssl, unsigned char *buf, size_t n)
{
    size_t got;

    while (n > 0) {
        if (SSL_read_ex(ssl, buf, n, &got) != 1)
            return false;
        buf += got;
        n -= got;
    }
    return true;
}

/* dotrelay_exchange - send one framed query (len octets at msg) and read the framed answer into msg. */
static bool dotrelay_exchange(SSL *ssl, unsigned char *msg, size_t len, size_t *anslen)
{
    size_t written;

    if (SSL_write_ex(ssl, msg, len, &written) != 1 || written != len)
        return false;
    if (!dotrelay_read_tls(ssl, msg, 2))
        return false;
    *anslen = ((size_t) msg[0] << 8) | msg[1];
    if (*anslen < 12)  /* shorter than a DNS header */
        return false;
    return dotrelay_read_tls(ssl, msg + 2, *anslen);
}

/* dotrelay_serve - relay one libunbound connection until it closes, idles out or fails upstream. */
static void dotrelay_serve(dotrelay_conn *c, unsigned char *msg)
{
    SSL *ssl = NULL;
    size_t qlen, alen;
    bool reused;

    for (;;) {
        if (!dotrelay_read_client(c->client_fd, msg, 2))
            break;
        qlen = ((size_t) msg[0] << 8) | msg[1];
        if (qlen < 12 || !dotrelay_read_client(c->client_fd, msg + 2, qlen))
            break;
        reused = ssl != NULL;
        if (ssl == NULL && (ssl = dotrelay_open(c)) == NULL)
            break;
        if (!dotrelay_exchange(ssl, msg, qlen + 2, &alen)) {
            /* A forwarder may close an idle session: one new one, the query again. */
            dotrelay_close_upstream(c, &ssl);
            if (!reused || (ssl = dotrelay_open(c)) == NULL)
                break;
            msg[0] = (unsigned char) (qlen >> 8);
            msg[1] = (unsigned char) qlen;
            if (!dotrelay_exchange(ssl, msg, qlen + 2, &alen))
                break;
        }
        if (!dotrelay_write_client(c->client_fd, msg, alen + 2))
            break;
    }
    dotrelay_close_upstream(c, &ssl);
}

/* dotrelay_conn_main - a connection thread: serve, close, mark the slot for joining. */
static void *dotrelay_conn_main(void *arg)
{
    dotrelay_conn *c = arg;
    unsigned char *msg = xmalloc(2 + DOTRELAY_MSG_MAX);
    int fd;

    dotrelay_serve(c, msg);
    free(msg);
    pthread_mutex_lock(&c->relay->lock);
    fd = c->client_fd;
    c->client_fd = -1;
    c->done = true;
    pthread_mutex_unlock(&c->relay->lock);
    close(fd);
    return NULL;
}

/* dotrelay_reap - join finished connection threads; with all, every thread (the relay is stopping). */
static void dotrelay_reap(dotrelay *relay, bool all)
{
    for (size_t i = 0; i < DOTRELAY_CONN_MAX; i++) {
        dotrelay_conn *c = &relay->conns[i];
        bool join;

        pthread_mutex_lock(&relay->lock);
        join = c->in_use && (c->done || all);
        pthread_mutex_unlock(&relay->lock);
        if (!join)
            continue;
        pthread_join(c->thread, NULL);
        pthread_mutex_lock(&relay->lock);
        c->in_use = false;
        c->done = false;
        pthread_mutex_unlock(&relay->lock);
    }
}

/* dotrelay_start_conn - hand an accepted connection to a free slot's thread, or close it. */
static void dotrelay_start_conn(dotrelay *relay, int fd)
{
    dotrelay_conn *c = NULL;

    dotrelay_reap(relay, false);
    pthread_mutex_lock(&relay->lock);
    for (size_t i = 0; i < DOTRELAY_CONN_MAX && c == NULL; i++)
        if (!relay->conns[i].in_use)
            c = &relay->conns[i];
    if (c != NULL) {
        c->relay = relay;
        c->client_fd = fd;
        c->upstream_fd = -1;
        c->done = false;
        c->in_use = pthread_create(&c->thread, NULL, dotrelay_conn_main, c) == 0;
        if (!c->in_use)
            c = NULL;
    }
    pthread_mutex_unlock(&relay->lock);
    if (c == NULL)
        close(fd);  /* over the bound: libunbound sees a closed connection */
}

/* dotrelay_accept_main - the accept thread: until woken through the pipe. */
static void *dotrelay_accept_main(void *arg)
{
    dotrelay *relay = arg;
    struct pollfd pfd[2] = { { relay->listen_fd, POLLIN, 0 }, { relay->wake[0], POLLIN, 0 } };
    char why[160];

    for (;;) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof(peer);
        dotrelay_peer_status st;
        int fd;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents != 0)
            break;
        if ((pfd[0].revents & POLLIN) == 0)
            continue;
        if ((fd = accept4(relay->listen_fd, (struct sockaddr *) &peer, &plen, SOCK_CLOEXEC)) < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                (void) poll(&pfd[1], 1, 100);   /* out of descriptors: no busy loop; still wakeable */
            continue;
        }
        if ((st = dotrelay_peer_check(&relay->peer, &peer)) != DOTRELAY_PEER_OWN) {
            if (st == DOTRELAY_PEER_ERROR) {
                snprintf(why, sizeof(why), "DNS over TLS relay: cannot tell who connected: %s", strerror(errno));
                dotrelay_fail(relay, why);
            }
            close(fd);      /* another user's (or gone, or unknown): never relayed */
            continue;
        }
        dotrelay_set_timeouts(fd, relay->timeout_ms);
        dotrelay_start_conn(relay, fd);
    }
    return NULL;
}

/* dotrelay_listen - a listening TCP socket on 127.0.0.1, any free port; false with a message. */
static bool dotrelay_listen(dotrelay *relay, char *err, size_t errsize)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = 0 };
    socklen_t len = sizeof(sin);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((relay->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(relay->listen_fd, (struct sockaddr *) &sin, sizeof(sin)) != 0 ||
        listen(relay->listen_fd, DOTRELAY_CONN_MAX) != 0 ||
        getsockname(relay->listen_fd, (struct sockaddr *) &sin, &len) != 0) {
        snprintf(err, errsize, "DNS over TLS relay: cannot listen on 127.0.0.1: %s", strerror(errno));
        return false;
    }
    relay->port = ntohs(sin.sin_port);
    return true;
}

/* dotrelay_tls_setup - the client TLS context: peer verification, TLS 1.2+, the CA; false with a message. */
static bool dotrelay_tls_setup(dotrelay *relay, const char *ca_file, char *err, size_t errsize)
{
    unsigned long e;

    ERR_clear_error();
    if ((relay->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
        SSL_CTX_set_min_proto_version(relay->ssl_ctx, TLS1_2_VERSION) != 1) {
        snprintf(err, errsize, "DNS over TLS: cannot create a TLS context");
        return false;
    }
    SSL_CTX_set_verify(relay->ssl_ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file != NULL && ca_file[0] != '\0') {
        if (SSL_CTX_load_verify_locations(relay->ssl_ctx, ca_file, NULL) != 1) {
            e = ERR_peek_last_error();
            snprintf(err, errsize, "DNS over TLS: tls_ca_file %s: %s", ca_file,
                     ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "cannot be loaded");
            ERR_clear_error();
            return false;
        }
    } else if (SSL_CTX_set_default_verify_paths(relay->ssl_ctx) != 1) {
        snprintf(err, errsize, "DNS over TLS: cannot load the system's CA certificates");
        return false;
    }
    return true;
}

/* dotrelay_new - load the CA, listen on a loopback port, start the relay thread; NULL with a message. */
dotrelay *dotrelay_new(const dotrelay_config *cfg, char *err, size_t errsize)
{
    dotrelay *relay = xcalloc(1, sizeof(*relay));
    sigset_t all, old;
    int rc;

    relay->listen_fd = relay->peer.fd = relay->wake[0] = relay->wake[1] = -1;
    relay->last_error_ms = -1;
    relay->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
    pthread_mutex_init(&relay->lock, NULL);
    if (cfg->nforwarders == 0 || cfg->nforwarders > DOTRELAY_FORWARDERS_MAX) {
        snprintf(err, errsize, "DNS over TLS: %zu forwarders (1 to %d)", cfg->nforwarders,
                 DOTRELAY_FORWARDERS_MAX);
        goto fail;
    }
    for (size_t i = 0; i < cfg->nforwarders; i++) {
        dotrelay_addr_status st = dotrelay_parse_forwarder(cfg->forwarders[i], true, &relay->fwd[i]);

        if (st != DOTRELAY_ADDR_OK) {
            snprintf(err, errsize, "DNS over TLS: forwarder %.80s: %s", cfg->forwarders[i],
                     dotrelay_addr_status_str(st));
            goto fail;
        }
    }
    relay->nfwd = cfg->nforwarders;
    if (!dotrelay_tls_setup(relay, cfg->ca_file, err, errsize) || !dotrelay_listen(relay, err, errsize) ||
        !dotrelay_peer_init(&relay->peer, relay->port, err, errsize))
        goto fail;
    if (pipe2(relay->wake, O_CLOEXEC) != 0) {
        snprintf(err, errsize, "DNS over TLS relay: pipe: %s", strerror(errno));
        goto fail;
    }
    /* The relay's threads inherit a mask that blocks every signal. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&relay->acceptor, NULL, dotrelay_accept_main, relay);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errsize, "DNS over TLS relay: cannot start a thread: %s", strerror(rc));
        goto fail;
    }
    return relay;

fail:
    if (relay->wake[0] >= 0)
        close(relay->wake[0]);
    if (relay->wake[1] >= 0)
        close(relay->wake[1]);
    if (relay->listen_fd >= 0)
        close(relay->listen_fd);
    dotrelay_peer_close(&relay->peer);
    SSL_CTX_free(relay->ssl_ctx);
    pthread_mutex_destroy(&relay->lock);
    free(relay);
    return NULL;
}

/* dotrelay_port - the loopback TCP port libunbound is to forward to. */
unsigned dotrelay_port(const dotrelay *relay)
{
    return relay->port;
}

/* dotrelay_error_since - copy the last upstream failure when it happened at or after since_ms. */
bool dotrelay_error_since(dotrelay *relay, long long since_ms, char *buf, size_t bufsize)
{
    bool found;

    pthread_mutex_lock(&relay->lock);
    found = relay->last_error_ms >= 0 && relay->last_error_ms >= since_ms;
    if (found && bufsize > 0)
        snprintf(buf, bufsize, "%s", relay->last_error);
    pthread_mutex_unlock(&relay->lock);
    return found;
}

/* dotrelay_free - stop the relay thread and its connections, release everything. */
void dotrelay_free(dotrelay *relay)
{
    ssize_t w;

    if (relay == NULL)
        return;
    do
        w = write(relay->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    if (w != 1)
        DANCE_PANIC("cannot wake the DNS over TLS relay: %s", strerror(errno));
    pthread_join(relay->acceptor, NULL);
    pthread_mutex_lock(&relay->lock);
    for (size_t i = 0; i < DOTRELAY_CONN_MAX; i++) {
        dotrelay_conn *c = &relay->conns[i];

        if (c->in_use && c->client_fd >= 0)
            (void) shutdown(c->client_fd, SHUT_RDWR);
        if (c->in_use && c->upstream_fd >= 0)
            (void) shutdown(c->upstream_fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&relay->lock);
    dotrelay_reap(relay, true);
    close(relay->wake[0]);
    close(relay->wake[1]);
    close(relay->listen_fd);
    dotrelay_peer_close(&relay->peer);
    SSL_CTX_free(relay->ssl_ctx);
    pthread_mutex_destroy(&relay->lock);
    free(relay);
}
