/*
 * mconn.c - one MTA connection to danced's milter face: bytes and packets.
 *
 * USAGE
 *	listen_start(srv, base, log, &(listen_face){ "milter", mconn_accept, ... }, max);
 *	... the event loop does the rest; message.c answers the ends of messages ...
 *
 * DESCRIPTION
 *	Reading: one persistent read event.  Before the MTA's option
 *	negotiation has arrived, and while a packet is only partly in,
 *	its timeout is what is left of request_timeout (counted from the
 *	accept, or from the packet's first byte), so a connection that
 *	never negotiates, or trickles a packet, is closed within
 *	request_timeout; between packets it is idle_timeout (Postfix keeps
 *	its milter connection while the SMTP client is slow).  Bytes go to
 *	mproto_next(); whole packets are dispatched in order, and the
 *	replies of everything read in one go are written with one send(2)
 *	- at end of message the header changes and the final reply too,
 *	so no reply waits for a delayed TCP acknowledgement.
 *
 *	Each whole packet goes to command.c, which answers it into the
 *	output buffer; at end of message the reply may wait for verdicts
 *	(message.c): nothing more is dispatched meanwhile (the MTA sends
 *	nothing until it has it), and c->wake resumes the connection.
 *
 *	Errors: a packet over MPROTO_PACKET_MAX, a command before the
 *	negotiation, a malformed payload, an unknown command, a read or
 *	write error and the timeouts are logged with the peer and close
 *	this connection only; the MTA applies its default_action.
 *
 *	Memory: an idle connection holds sizeof(mconn) and its events;
 *	input is buffered only while a packet is incomplete or waiting,
 *	and released once dispatched.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "lib/clock.h"
#include "lib/panic.h"
#include "milter_private.h"

#define MCONN_READ_CHUNK 16384
#define MCONN_KEEP_BUFFER 65536       /* input buffers larger than this are released when empty */

static void mconn_on_read(evutil_socket_t, short, void *);
static void mconn_on_write(evutil_socket_t, short, void *);
static void mconn_on_wake(evutil_socket_t, short, void *);
static void mconn_process(mconn *c);

/* mconn_of - the connection a listen_conn link belongs to. */
static mconn *mconn_of(listen_conn *link)
{
    return (mconn *) (void *) link;
}

/* mconn_log - the face's log. */
static const dlog *mconn_log(const mconn *c)
{
    return danced_log(c->mf->d);
}

/* mconn_close - close at once; a message in progress is forgotten. */
static void mconn_close(mconn *c)
{
    milter_face *mf = c->mf;

    milter_msg_end(c);
    event_free(c->rev);
    if (c->wev != NULL)
        event_free(c->wev);
    event_free(c->wake);
    close(c->fd);
    free(c->in);
    mproto_out_free(&c->out);
    listen_conn_gone(mf->srv, &c->link);
    free(c);
}

static void mconn_close_op(listen_conn *link)
{
    mconn_close(mconn_of(link));
}

/* mconn_drain_op - close now when no message is in progress, else once it has ended. */
static void mconn_drain_op(listen_conn *link)
{
    mconn *c = mconn_of(link);

    if (c->msg == NULL && c->out.len == c->out_done)
        mconn_close(c);
    else
        c->draining = true;
}

static const listen_conn_ops mconn_ops = { mconn_drain_op, mconn_close_op };

/* mconn_wait - (re)arm the read event: the packet's deadline while one is due, else idle_timeout. */
static void mconn_wait(mconn *c)
{
    const dance_config *cfg = &danced_snapshot(c->mf->d)->cfg;
    long long left = (long long) cfg->idle_timeout * 1000;
    struct timeval tv;

    if (c->partial || !c->negotiated) {
        long long due = c->packet_deadline_ms - clock_now_ms();

        left = due < 1 ? 1 : (due < left ? due : left);
    }
    tv.tv_sec = (time_t) (left / 1000);
    tv.tv_usec = (suseconds_t) ((left % 1000) * 1000);
    event_add(c->rev, &tv);
}

/* mconn_accept - (listener) a new MTA connection on fd, for the face arg. */
void mconn_accept(void *arg, int fd, const char *peer)
{
    milter_face *mf = arg;
    mconn *c;
    int on = 1;

    if (!danced_admit(mf->d, fd, peer, "milter")) {
        close(fd);
        return;
    }
    if (mf->inet)
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    c = xcalloc(1, sizeof(*c));
    c->mf = mf;
    c->fd = fd;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->packet_deadline_ms = clock_now_ms() + (long long) danced_snapshot(mf->d)->cfg.request_timeout * 1000;
    if ((c->rev = event_new(danced_base(mf->d), fd, EV_READ | EV_PERSIST, mconn_on_read, c)) == NULL
        || (c->wake = event_new(danced_base(mf->d), -1, 0, mconn_on_wake, c)) == NULL)
        DANCE_PANIC("libevent out of memory");
    listen_conn_add(mf->srv, &c->link, &mconn_ops);
    mconn_wait(c);
}

/* ---------------------------------------------------------------- I/O */

/* mconn_flush - write what waits; false when the connection was closed. */
static bool mconn_flush(mconn *c)
{
    ssize_t n;

    while (c->out_done < c->out.len) {
        n = send(c->fd, c->out.buf + c->out_done, c->out.len - c->out_done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct timeval tv = { (time_t) danced_snapshot(c->mf->d)->cfg.idle_timeout, 0 };

            if (c->wev == NULL
                && (c->wev = event_new(danced_base(c->mf->d), c->fd, EV_WRITE | EV_PERSIST, mconn_on_write, c))
                       == NULL)
                DANCE_PANIC("out of memory");
            event_del(c->rev);  /* nothing more is read until the replies are out */
            event_add(c->wev, &tv);
            return true;
        }
        if (n < 0) {
            dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: write: %s", c->peer, strerror(errno));
            mconn_close(c);
            return false;
        }
        c->out_done += (size_t) n;
    }
    c->out.len = c->out_done = 0;
    if (c->out.size > MCONN_KEEP_BUFFER)
        mproto_out_free(&c->out);
    if (c->draining && c->msg == NULL) {
        mconn_close(c);
        return false;
    }
    return true;
}

/* mconn_consume - drop the first used bytes of the input. */
static void mconn_consume(mconn *c, size_t used)
{
    if (used == 0)
        return;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    if (c->in_len == 0 && c->in_size > MCONN_KEEP_BUFFER) {
        free(c->in);
        c->in = NULL;
        c->in_size = 0;
    }
}

/* mconn_process - dispatch the whole packets read so far, then write the replies. */
static void mconn_process(mconn *c)
{
    mproto_packet p;
    mproto_status st = MPROTO_NEED_MORE;
    size_t used = 0;
    bool was_partial = c->partial;

    while (c->msg == NULL || !c->msg->at_eom) {
        st = mproto_next(c->in + used, c->in_len - used, &p);
        if (st != MPROTO_OK)
            break;
        used += p.size;
        if (!command_dispatch(c, &p)) {
            if (mconn_flush(c))         /* whatever was answered before goes out */
                mconn_close(c);
            return;
        }
    }
    if (st == MPROTO_TOO_BIG || st == MPROTO_EMPTY) {
        dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: %s; closing", c->peer,
                 st == MPROTO_EMPTY ? "a packet of length 0" : "a packet over the size limit");
        mconn_close(c);
        return;
    }
    mconn_consume(c, used);
    c->partial = c->in_len > 0 && (c->msg == NULL || !c->msg->at_eom);
    if (c->partial && (!was_partial || used > 0))
        c->packet_deadline_ms = clock_now_ms() + (long long) danced_snapshot(c->mf->d)->cfg.request_timeout * 1000;
    if (!mconn_flush(c))
        return;
    if (c->wev == NULL || !event_pending(c->wev, EV_WRITE, NULL))
        mconn_wait(c);
}

/* mconn_resume - (message.c) the end of message was answered: write and go on reading. */
void mconn_resume(mconn *c)
{
    mconn_process(c);
}

static void mconn_on_wake(evutil_socket_t fd, short what, void *arg)
{
    mconn *c = arg;

    (void) fd;
    (void) what;
    if (c->msg != NULL && c->msg->at_eom && milter_msg_eom(c))
        mconn_resume(c);
}

static void mconn_on_write(evutil_socket_t fd, short what, void *arg)
{
    mconn *c = arg;

    (void) fd;
    if (what & EV_TIMEOUT) {
        dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: replies not taken for %u s; closing", c->peer,
                 danced_snapshot(c->mf->d)->cfg.idle_timeout);
        mconn_close(c);
        return;
    }
    event_del(c->wev);
    if (mconn_flush(c) && c->out.len == 0)
        mconn_process(c);
}

/* mconn_grow - room to read into: at least a chunk, and the whole packet being read. */
static void mconn_grow(mconn *c)
{
    size_t want = c->in_len + MCONN_READ_CHUNK;

    if (c->in_len >= MILTER_LEN_BYTES) {
        size_t n = ((size_t) c->in[0] << 24) | ((size_t) c->in[1] << 16) | ((size_t) c->in[2] << 8)
                   | (size_t) c->in[3];

        if (n <= MPROTO_PACKET_MAX && MILTER_LEN_BYTES + n > want)
            want = MILTER_LEN_BYTES + n;
    }
    if (want <= c->in_size)
        return;
    c->in = xrealloc(c->in, want);
    c->in_size = want;
}

/*
 * mconn_quickack - acknowledge what was read at once.  Commands agreed
 * without a reply leave the kernel nothing to carry its ACK, so it would
 * wait (delayed ACK, up to 40 ms), and the MTA's next small write waits
 * for that ACK (Nagle's algorithm, on the MTA's side of the socket).
 * Linux turns quick ACKs off again by itself, so this is set per read.
 */
static void mconn_quickack(mconn *c)
{
#ifdef TCP_QUICKACK
    int on = 1;

    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
#else
    (void) c;
#endif
}

static void mconn_on_read(evutil_socket_t fd, short what, void *arg)
{
    mconn *c = arg;
    ssize_t n;

    (void) fd;
    if (what & EV_TIMEOUT) {
        if (c->negotiated && !c->partial && c->msg != NULL && c->msg->at_eom) {
            mconn_wait(c);      /* waiting for verdicts: the wake event decides */
            return;
        }
        if (!c->negotiated)
            dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: no option negotiation within %u s "
                     "(request_timeout); closing", c->peer, danced_snapshot(c->mf->d)->cfg.request_timeout);
        else if (c->partial)
            dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: a packet still incomplete after %u s "
                     "(request_timeout); closing", c->peer, danced_snapshot(c->mf->d)->cfg.request_timeout);
        else
            dlog_msg(mconn_log(c), LOG_INFO, "milter %s: idle for %u s; closing", c->peer,
                     danced_snapshot(c->mf->d)->cfg.idle_timeout);
        mconn_close(c);
        return;
    }
    mconn_grow(c);
    n = recv(c->fd, c->in + c->in_len, c->in_size - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        if (n < 0)
            dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: read: %s", c->peer, strerror(errno));
        else if (c->partial || c->msg != NULL)
            dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: connection closed in the middle of %s",
                     c->peer, c->partial ? "a packet" : "a message");
        mconn_close(c);
        return;
    }
    c->in_len += (size_t) n;
    if (c->mf->inet)
        mconn_quickack(c);
    mconn_process(c);
}
