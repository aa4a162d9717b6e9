/*
 * mconn.c - one MTA connection to danced's milter face: bytes, packets, commands.
 *
 * USAGE
 *	server_start(srv, base, log, &(server_face){ "milter", mconn_accept, ... }, max);
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
 *	Negotiation asks for header changes and additions (and for macro
 *	lists per stage, when the MTA allows it: smfi_setsymlist's form),
 *	never for bits the MTA did not offer (Sendmail refuses that):
 *	no body, no unknown commands, no reply per header field.  The
 *	macros, per stage (Postfix keeps its milter_*_macros for the
 *	stages not named):
 *	    connect   v {client_name} {client_resolve}
 *	    HELO      {tls_version} {cert_fp} {verify}
 *	    MAIL      i {tls_version} {cert_fp} {verify}
 *	    EOH, EOM  i
 *	Macro values are kept per name ("x" and "{x}" alike), with the
 *	stage they came with; CONNECT, HELO, MAIL and RCPT forget the
 *	values of later stages, as libmilter does.  A value that does not
 *	fit is dropped whole, never cut, so a long name cannot turn into
 *	a shorter valid one.  The SMTP client's address and port come
 *	from the CONNECT command; port 0 is a message submitted on the
 *	host (Postfix's non_smtpd_milters), which has no client to trust.
 *
 *	Replies: every command gets exactly one unless its no-reply bit
 *	was agreed (then never: Postfix would read a stray reply as the
 *	answer to its next command); MACRO, ABORT and QUIT never do.
 *	While danced stops, CONNECT, HELO and MAIL are answered tempfail
 *	(the MTA retries later; nothing slips through unchecked).  At end
 *	of message the reply may wait for verdicts: nothing more is
 *	dispatched meanwhile (the MTA sends nothing until it has it).
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

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "clock.h"
#include "milter_private.h"
#include "panic.h"

#define MCONN_READ_CHUNK 16384
#define MCONN_KEEP_BUFFER 65536       /* input buffers larger than this are released when empty */

/* The macro lists asked for, per SMFIM_* stage. */
static const char *const mconn_lists[SMFIM_LAST + 1] = {
    [SMFIM_CONNECT] = "v {client_name} {client_resolve}",
    [SMFIM_HELO] = "{tls_version} {cert_fp} {verify}",
    [SMFIM_ENVFROM] = "i {tls_version} {cert_fp} {verify}",
    [SMFIM_EOH] = "i",
    [SMFIM_EOM] = "i",
};

/* The names of the kept macros, without braces, by milter_mac slot. */
static const char *const mconn_macro_names[MILTER_MACS] = {
    "v", "client_name", "client_resolve", "tls_version", "cert_fp", "verify", "i",
};

static void mconn_on_read(evutil_socket_t, short, void *);
static void mconn_on_write(evutil_socket_t, short, void *);
static void mconn_on_wake(evutil_socket_t, short, void *);
static void mconn_process(mconn *c);

/* mconn_of - the connection a server_conn link belongs to. */
static mconn *mconn_of(server_conn *link)
{
    return (mconn *) (void *) link;
}

/* mconn_log - the face's log. */
static const dlog *mconn_log(const mconn *c)
{
    return &c->mf->d->log;
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
    server_conn_gone(mf->srv, &c->link);
    free(c);
}

static void mconn_close_op(server_conn *link)
{
    mconn_close(mconn_of(link));
}

/* mconn_drain_op - close now when no message is in progress, else once it has ended. */
static void mconn_drain_op(server_conn *link)
{
    mconn *c = mconn_of(link);

    if (c->msg == NULL && c->out.len == c->out_done)
        mconn_close(c);
    else
        c->draining = true;
}

static const server_conn_ops mconn_ops = { mconn_drain_op, mconn_close_op };

/* mconn_wait - (re)arm the read event: the packet's deadline while one is due, else idle_timeout. */
static void mconn_wait(mconn *c)
{
    const dance_config *cfg = &c->mf->d->snap->cfg;
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

/* mconn_accept - (server) a new MTA connection on fd. */
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
    c->packet_deadline_ms = clock_now_ms() + (long long) mf->d->snap->cfg.request_timeout * 1000;
    if ((c->rev = event_new(mf->d->base, fd, EV_READ | EV_PERSIST, mconn_on_read, c)) == NULL
        || (c->wake = event_new(mf->d->base, -1, 0, mconn_on_wake, c)) == NULL)
        DANCE_PANIC("libevent out of memory");
    server_conn_add(mf->srv, &c->link, &mconn_ops);
    mconn_wait(c);
}

/* ------------------------------------------------------------- macros */

/* milter_macro_value - a kept macro's value, NULL when the MTA has not passed it. */
const char *milter_macro_value(const mconn *c, milter_mac m)
{
    return c->mac[m].set ? c->mac[m].value : NULL;
}

/* mconn_stage_of - the SMFIM_* stage of the command code a macro packet names. */
static int mconn_stage_of(char cmd)
{
    switch (cmd) {
    case SMFIC_CONNECT:
        return SMFIM_CONNECT;
    case SMFIC_HELO:
        return SMFIM_HELO;
    case SMFIC_MAIL:
        return SMFIM_ENVFROM;
    case SMFIC_RCPT:
        return SMFIM_ENVRCPT;
    case SMFIC_DATA:
        return SMFIM_DATA;
    case SMFIC_EOH:
    case SMFIC_HEADER:
        return SMFIM_EOH;
    default:
        return SMFIM_EOM;       /* end of message, body chunks, unknown commands */
    }
}

/* mconn_forget_after - a command of stage: forget the macros of later stages. */
static void mconn_forget_after(mconn *c, int stage)
{
    for (int m = 0; m < MILTER_MACS; m++)
        if (c->mac[m].set && c->mac[m].stage > stage)
            c->mac[m].set = false;
}

/* mconn_macro - keep one name=value when danced reads that macro. */
static void mconn_macro(mconn *c, int stage, const char *name, const char *value)
{
    size_t len = strlen(name), vlen = strlen(value);

    if (len >= 2 && name[0] == '{' && name[len - 1] == '}') {
        name++;
        len -= 2;
    }
    for (int m = 0; m < MILTER_MACS; m++) {
        if (strlen(mconn_macro_names[m]) != len || memcmp(mconn_macro_names[m], name, len) != 0)
            continue;
        c->mac[m].set = true;
        c->mac[m].stage = stage;
        if (vlen >= sizeof(c->mac[m].value))
            vlen = 0;           /* dropped whole */
        memcpy(c->mac[m].value, value, vlen);
        c->mac[m].value[vlen] = '\0';
        return;
    }
}

/* mconn_macros - a MACRO packet: its command code, then name\0value\0 pairs. */
static bool mconn_macros(mconn *c, const mproto_packet *p)
{
    const char *v[MPROTO_STRINGS_MAX];
    size_t n;

    if (p->len < 1 || !mproto_parse_strings(p, 1, v, MPROTO_STRINGS_MAX, &n))
        return false;
    for (size_t i = 0; i + 1 < n; i += 2)
        mconn_macro(c, mconn_stage_of((char) p->data[0]), v[i], v[i + 1]);
    return true;
}

/* ----------------------------------------------------------- commands */

/* mconn_reply - the one reply a command gets, unless its no-reply bit was agreed. */
static void mconn_reply(mconn *c, char code, uint32_t noreply_bit)
{
    if (noreply_bit != 0 && (c->pflags & noreply_bit))
        return;
    mproto_put(&c->out, code, NULL, 0);
}

/* mconn_negotiate - the MTA's options: ask for what danced needs of what it offers. */
static bool mconn_negotiate(mconn *c, const mproto_packet *p)
{
    const uint32_t need = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    const uint32_t want = SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NR_HDR;
    mproto_optneg mta, reply;
    bool lists;

    if (!mproto_parse_optneg(p, &mta) || mta.version < 2) {
        dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: bad option negotiation; closing", c->peer);
        return false;
    }
    if ((mta.actions & need) != need) {
        dlog_msg(mconn_log(c), LOG_ERR, "milter %s: the MTA does not let milters add and delete header "
                 "fields (offered actions 0x%lx): danced cannot work with it", c->peer,
                 (unsigned long) mta.actions);
        return false;
    }
    lists = mta.version >= 6 && (mta.actions & SMFIF_SETSYMLIST) != 0;
    reply.version = mta.version < SMFI_PROT_VERSION ? mta.version : SMFI_PROT_VERSION;
    reply.actions = need | (lists ? SMFIF_SETSYMLIST : 0);
    reply.protocol = mta.protocol & want;
    c->pflags = reply.protocol;
    c->negotiated = true;
    mproto_put_optneg(&c->out, &reply, mconn_lists, lists ? SMFIM_LAST + 1 : 0);
    return true;
}

/* mconn_copy - copy src whole into dst[size]; false (dst "") when it does not fit. */
static bool mconn_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

/* mconn_connect - the SMTP client's address, port and (verified) host name. */
static bool mconn_connect(mconn *c, const mproto_packet *p)
{
    mproto_connect in;
    const char *resolve = milter_macro_value(c, MILTER_MAC_CLIENT_RESOLVE);
    const char *name = milter_macro_value(c, MILTER_MAC_CLIENT_NAME);

    if (!mproto_parse_connect(p, &in))
        return false;
    mconn_forget_after(c, SMFIM_CONNECT);
    milter_msg_end(c);
    c->addr[0] = c->port[0] = c->ptr[0] = c->helo[0] = '\0';
    c->helo_bad = c->tls = false;
    memset(&c->client, 0, sizeof(c->client));
    if ((in.family == SMFIA_INET || in.family == SMFIA_INET6) && netaddr_parse(in.address, &c->client)) {
        netaddr_format(&c->client, c->addr);
        snprintf(c->port, sizeof(c->port), "%u", in.port);
        if (in.port == 0)       /* submitted on the host: no SMTP client */
            memset(&c->client, 0, sizeof(c->client));
    }
    if (resolve != NULL && strcmp(resolve, "OK") == 0 && name != NULL && name[0] != '[')
        (void) mconn_copy(c->ptr, sizeof(c->ptr), name);
    mconn_reply(c, c->mf->d->draining ? SMFIR_TEMPFAIL : SMFIR_CONTINUE, SMFIP_NR_CONN);
    return true;
}

/* mconn_tls - note TLS when the MTA passed {tls_version}. */
static void mconn_tls(mconn *c)
{
    const char *v = milter_macro_value(c, MILTER_MAC_TLS_VERSION);

    if (v != NULL && v[0] != '\0')
        c->tls = true;
}

/* mconn_helo - the EHLO argument. */
static bool mconn_helo(mconn *c, const mproto_packet *p)
{
    const char *v[1];
    size_t n;

    if (!mproto_parse_strings(p, 0, v, 1, &n) || n != 1)
        return false;
    mconn_forget_after(c, SMFIM_HELO);
    c->helo_bad = !mconn_copy(c->helo, sizeof(c->helo), v[0]);
    mconn_tls(c);
    mconn_reply(c, c->mf->d->draining ? SMFIR_TEMPFAIL : SMFIR_CONTINUE, SMFIP_NR_HELO);
    return true;
}

/* mconn_mail - MAIL FROM: a message begins (tempfail while danced stops). */
static bool mconn_mail(mconn *c, const mproto_packet *p)
{
    const char *v[MPROTO_STRINGS_MAX];
    size_t n;

    if (!mproto_parse_strings(p, 0, v, MPROTO_STRINGS_MAX, &n))
        return false;
    mconn_forget_after(c, SMFIM_ENVFROM);
    mconn_tls(c);
    milter_msg_end(c);          /* an earlier message without end or abort */
    if (c->mf->d->draining) {
        mconn_reply(c, SMFIR_TEMPFAIL, SMFIP_NR_MAIL);
        return true;
    }
    milter_msg_begin(c, n > 0 ? v[0] : "");
    mconn_reply(c, SMFIR_CONTINUE, SMFIP_NR_MAIL);
    return true;
}

/* mconn_header - one header field: name\0value\0. */
static bool mconn_header(mconn *c, const mproto_packet *p)
{
    const char *v[2];
    size_t n;

    if (!mproto_parse_strings(p, 0, v, 2, &n) || n != 2)
        return false;
    if (c->msg != NULL)
        milter_msg_header(c, v[0], v[1]);
    mconn_reply(c, SMFIR_CONTINUE, SMFIP_NR_HDR);
    return true;
}

/* mconn_command - one packet; false when the connection must close. */
static bool mconn_command(mconn *c, const mproto_packet *p)
{
    if (!c->negotiated && p->cmd != SMFIC_OPTNEG) {
        dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: command '%c' before the option negotiation; "
                 "closing", c->peer, p->cmd >= ' ' && p->cmd < 127 ? p->cmd : '?');
        return false;
    }
    switch (p->cmd) {
    case SMFIC_OPTNEG:
        return mconn_negotiate(c, p);
    case SMFIC_MACRO:
        return mconn_macros(c, p);
    case SMFIC_CONNECT:
        return mconn_connect(c, p);
    case SMFIC_HELO:
        return mconn_helo(c, p);
    case SMFIC_MAIL:
        return mconn_mail(c, p);
    case SMFIC_RCPT:
        mconn_forget_after(c, SMFIM_ENVRCPT);
        mconn_reply(c, SMFIR_CONTINUE, SMFIP_NR_RCPT);
        return true;
    case SMFIC_DATA:
        mconn_reply(c, SMFIR_CONTINUE, SMFIP_NR_DATA);
        return true;
    case SMFIC_HEADER:
        return mconn_header(c, p);
    case SMFIC_EOH:
        mconn_reply(c, SMFIR_CONTINUE, SMFIP_NR_EOH);
        return true;
    case SMFIC_BODY:
        mconn_reply(c, SMFIR_CONTINUE, SMFIP_NR_BODY);
        return true;
    case SMFIC_UNKNOWN:
        mconn_reply(c, SMFIR_CONTINUE, SMFIP_NR_UNKN);
        return true;
    case SMFIC_BODYEOB:
        if (c->msg == NULL)
            mconn_reply(c, SMFIR_CONTINUE, 0);
        else
            (void) milter_msg_eom(c);   /* when not answered yet: c->wake */
        return true;
    case SMFIC_ABORT:
        milter_msg_abort(c);
        return true;
    case SMFIC_QUIT_NC:         /* another SMTP session follows on this connection, negotiated */
        milter_msg_end(c);
        memset(c->mac, 0, sizeof(c->mac));
        return true;
    case SMFIC_QUIT:
        return false;
    default:
        dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: unknown command 0x%02x; closing", c->peer,
                 (unsigned) (unsigned char) p->cmd);
        return false;
    }
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
            struct timeval tv = { (time_t) c->mf->d->snap->cfg.idle_timeout, 0 };

            if (c->wev == NULL
                && (c->wev = event_new(c->mf->d->base, c->fd, EV_WRITE | EV_PERSIST, mconn_on_write, c))
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
        if (!mconn_command(c, &p)) {
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
        c->packet_deadline_ms = clock_now_ms() + (long long) c->mf->d->snap->cfg.request_timeout * 1000;
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
                 c->mf->d->snap->cfg.idle_timeout);
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
                     "(request_timeout); closing", c->peer, c->mf->d->snap->cfg.request_timeout);
        else if (c->partial)
            dlog_msg(mconn_log(c), LOG_WARNING, "milter %s: a packet still incomplete after %u s "
                     "(request_timeout); closing", c->peer, c->mf->d->snap->cfg.request_timeout);
        else
            dlog_msg(mconn_log(c), LOG_INFO, "milter %s: idle for %u s; closing", c->peer,
                     c->mf->d->snap->cfg.idle_timeout);
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
    mconn_process(c);
}
