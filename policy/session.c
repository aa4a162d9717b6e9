/*
 * session.c - one policy client connection: bytes in, replies out.
 *
 * USAGE
 *	session_accept(pf, fd, "127.0.0.1:43512");	(the face's listener)
 *	... the event loop does the rest; the listener drains and closes
 *	sessions through their listen_conn ops (SIGTERM, the deadline) ...
 *
 * DESCRIPTION
 *	Reading: one persistent read event whose timeout is idle_timeout
 *	(libevent restarts it on every read), so a connection that sends
 *	nothing for that long is closed; once part of a request has come,
 *	the timeout is what is left of request_timeout, so a client that
 *	trickles a byte every few seconds is closed too.  Bytes go through
 *	the protocol parser; a complete request goes to request.c.  When a
 *	request cannot be answered at once (a look-up, or a reply the
 *	socket does not take whole) the read event is removed until its
 *	reply has been written; a request answered at once keeps it (no
 *	epoll_ctl(2) calls on the warm path).  Bytes that arrived after the
 *	request (a client that pipelines) are kept in a spill buffer and
 *	parsed from the next loop pass, never recursively, so a burst of
 *	pipelined requests cannot deepen the stack.
 *
 *	Writing: replies are written at once; a reply the socket does not
 *	take whole waits in a buffer with a write event, and nothing more
 *	is read meanwhile.  A client that takes nothing for idle_timeout
 *	is closed.
 *
 *	Closing releases the session's join record (request.c), so the
 *	milter never waits for a message whose policy connection is gone.
 *
 *	Errors: a protocol error (limits, NUL, syntax) is logged with the
 *	peer (Postfix's end of this connection) and closes the connection;
 *	so do read and write errors and the idle timeout.
 *
 *	Memory: an idle session is sizeof(session) (about 300 bytes on
 *	LP64), one libevent event, and the memo once a verdict was
 *	computed (64 bytes a slot plus its text).  The parser's arena is
 *	released after each reply rather than kept (one malloc per
 *	request is cheaper than 2 KiB per idle connection).  A request in
 *	progress adds one request (2.5 KiB), the evidence, the arena and
 *	one verdict (7 KiB) per look-up in flight.
 *
 * SEE ALSO
 *	request.c (answering), protocol.c (the parser), danced/listen.c
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "lib/clock.h"
#include "lib/panic.h"
#include "danced/snapshot.h"
#include "policy_private.h"

#define SESSION_READ_CHUNK 16384

static void session_on_read(evutil_socket_t, short, void *);

/* session_of - the session a listen_conn link belongs to. */
static session *session_of(listen_conn *c)
{
    return (session *) (void *) ((char *) c - offsetof(session, link));
}

/* session_wait - add ev with the idle timeout (also bounds a client that stops reading). */
static void session_wait(session *s, struct event *ev)
{
    unsigned idle = danced_snapshot(s->d)->cfg.idle_timeout;
    struct timeval tv = { (time_t) idle, 0 };

    event_add(ev, idle > 0 ? &tv : NULL);
}

/*
 * session_wait_partial - part of a request is in: from its first byte it
 * has request_timeout to arrive whole, however slowly the bytes come
 * (libevent restarts a persistent event's timeout on every read, so the
 * remaining time is set again each time).
 */
static void session_wait_partial(session *s)
{
    long long now = clock_now_ms(), left;
    unsigned idle = danced_snapshot(s->d)->cfg.idle_timeout;
    struct timeval tv;

    if (!s->partial) {
        s->partial = true;
        s->request_deadline_ms = now + (long long) danced_snapshot(s->d)->cfg.request_timeout * 1000;
    }
    left = s->request_deadline_ms - now;
    if (left < 1)
        left = 1;
    if (idle > 0 && left > (long long) idle * 1000)
        left = (long long) idle * 1000;
    tv.tv_sec = (time_t) (left / 1000);
    tv.tv_usec = (suseconds_t) ((left % 1000) * 1000);
    event_add(s->ev, &tv);
}

/* session_close - close at once; a request in progress is abandoned, the join record released. */
static void session_close(session *s)
{
    if (s->req != NULL)
        request_free(s->req);
    if (s->join != NULL) {
        join_release(danced_join(s->d), &s->join->key, s->join->ticket);
        free(s->join);
    }
    event_free(s->ev);
    if (s->wev != NULL)
        event_free(s->wev);
    close(s->fd);
    policy_parser_free(&s->parser);
    memo_free(s->memo);
    free(s->spill);
    free(s->out);
    listen_conn_gone(s->pf->srv, &s->link);
    free(s);
}

/* session_drain - close now when idle, else right after the reply in progress. */
static void session_drain(session *s)
{
    if (s->req == NULL && s->out == NULL)
        session_close(s);
    else
        s->draining = true;
}

static void session_drain_op(listen_conn *c)
{
    session_drain(session_of(c));
}

static void session_close_op(listen_conn *c)
{
    session_close(session_of(c));
}

static const listen_conn_ops session_ops = { session_drain_op, session_close_op };

/* session_ready - the reply is out: wait for the next request (spilled bytes first). */
static void session_ready(session *s)
{
    policy_parser_free(&s->parser);     /* an idle connection keeps no arena */
    policy_parser_init(&s->parser);
    if (s->draining || danced_draining(s->d)) {
        session_close(s);
        return;
    }
    session_wait(s, s->ev);
    if (s->spill != NULL)
        event_active(s->ev, EV_READ, 0);        /* parse it from the loop, not from here */
}

static void session_on_write(evutil_socket_t fd, short what, void *arg)
{
    session *s = arg;
    ssize_t n;

    (void) fd;
    if (what & EV_TIMEOUT) {
        dlog_msg(danced_log(s->d), LOG_WARNING, "%s: reply not taken for %u s; closing the connection",
                 s->peer, danced_snapshot(s->d)->cfg.idle_timeout);
        session_close(s);
        return;
    }
    n = send(s->fd, s->out, s->out_len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        dlog_msg(danced_log(s->d), LOG_WARNING, "%s: write: %s", s->peer, strerror(errno));
        session_close(s);
        return;
    }
    if ((size_t) n < s->out_len) {
        memmove(s->out, s->out + n, s->out_len - (size_t) n);
        s->out_len -= (size_t) n;
        return;
    }
    event_del(s->wev);
    free(s->out);
    s->out = NULL;
    s->out_len = 0;
    session_ready(s);
}

/* session_send - write a reply; what the socket does not take waits for a write event. */
void session_send(session *s, const char *buf, size_t len)
{
    ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);

    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        dlog_msg(danced_log(s->d), LOG_WARNING, "%s: write: %s", s->peer, strerror(errno));
        session_close(s);
        return;
    }
    if (n < 0)
        n = 0;
    if ((size_t) n == len) {
        session_ready(s);
        return;
    }
    event_del(s->ev);                   /* nothing more is read until the reply is out */
    s->out = xmalloc(len - (size_t) n);
    memcpy(s->out, buf + n, len - (size_t) n);
    s->out_len = len - (size_t) n;
    if (s->wev == NULL
        && (s->wev = event_new(danced_base(s->d), s->fd, EV_WRITE | EV_PERSIST, session_on_write, s)) == NULL)
        DANCE_PANIC("out of memory");
    session_wait(s, s->wev);
}

/*
 * session_input - feed bytes to the parser until a request is complete;
 * the rest is spilled for later.  The session may be closed on return.
 */
static void session_input(session *s, const char *data, size_t len)
{
    policy_status st;
    size_t used;

    while (len > 0) {
        st = policy_parse(&s->parser, data, len, &used);
        if (st == POLICY_NEED_MORE) {
            session_wait_partial(s);
            return;
        }
        if (st != POLICY_REQUEST_DONE) {
            dlog_msg(danced_log(s->d), LOG_WARNING, "%s: policy protocol error: %s; closing the connection",
                     s->peer, policy_status_str(st));
            session_close(s);
            return;
        }
        s->partial = false;
        data += used;
        len -= used;
        if (len > 0) {
            s->spill = xmalloc(len);
            memcpy(s->spill, data, len);
            s->spill_len = len;
        }
        request_dispatch(s);            /* the read event stays unless the reply must wait */
        return;
    }
}

static void session_on_read(evutil_socket_t fd, short what, void *arg)
{
    session *s = arg;
    char buf[SESSION_READ_CHUNK];
    ssize_t n;

    (void) fd;
    if (s->spill != NULL) {             /* left over from the previous request */
        char *data = s->spill;
        size_t len = s->spill_len;

        s->spill = NULL;
        s->spill_len = 0;
        session_input(s, data, len);
        free(data);
        return;
    }
    if ((what & EV_TIMEOUT) && s->partial) {
        dlog_msg(danced_log(s->d), LOG_WARNING, "%s: a request still incomplete after %u s "
                 "(request_timeout); closing the connection", s->peer, danced_snapshot(s->d)->cfg.request_timeout);
        session_close(s);
        return;
    }
    if (what & EV_TIMEOUT) {
        dlog_msg(danced_log(s->d), LOG_INFO, "%s: idle for %u s; closing the connection", s->peer,
                 danced_snapshot(s->d)->cfg.idle_timeout);
        session_close(s);
        return;
    }
    n = recv(s->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        dlog_msg(danced_log(s->d), LOG_WARNING, "%s: read: %s", s->peer, strerror(errno));
        session_close(s);
        return;
    }
    if (n == 0) {
        if (s->partial)
            dlog_msg(danced_log(s->d), LOG_WARNING, "%s: connection closed in the middle of a request",
                     s->peer);
        session_close(s);
        return;
    }
    session_input(s, buf, (size_t) n);
}

/* session_accept - (listener) take over the connected, non-blocking fd. */
void session_accept(void *arg, int fd, const char *peer)
{
    policy_face *pf = arg;
    session *s;

    if (!danced_admit(pf->d, fd, peer, "policy")) {
        close(fd);
        return;
    }
    s = xcalloc(1, sizeof(*s));
    s->pf = pf;
    s->d = pf->d;
    s->fd = fd;
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    policy_parser_init(&s->parser);
    if ((s->ev = event_new(danced_base(s->d), fd, EV_READ | EV_PERSIST, session_on_read, s)) == NULL)
        DANCE_PANIC("out of memory");
    listen_conn_add(pf->srv, &s->link, &session_ops);
    session_wait(s, s->ev);
}
