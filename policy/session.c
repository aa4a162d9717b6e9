/*
 * session.c - one policy client connection.
 *
 * USAGE
 *	s = session_new(d, fd, "127.0.0.1:43512");	(from the accept loop)
 *	... the event loop does the rest ...
 *	session_drain(s);				(SIGTERM)
 *
 * DESCRIPTION
 *	Reading: one persistent read event whose timeout is idle_timeout
 *	(libevent restarts it on every read), so a connection that sends
 *	nothing for that long is closed; once part of a request has come,
 *	the timeout is what is left of request_timeout, so a client that
 *	trickles a byte every few seconds is closed too.  Bytes go through the protocol
 *	parser; when a request cannot be answered at once (a look-up, or
 *	a reply the socket does not take whole) the read event is removed
 *	until its reply has been written; a request answered at once keeps
 *	it (no epoll_ctl(2) calls on the warm path).  Bytes that arrived after the
 *	request (a client that pipelines) are kept in a spill buffer and
 *	parsed from the next loop pass, never recursively, so a burst of
 *	pipelined requests cannot deepen the stack.
 *
 *	Answering: decide.h classifies the request.  For RCPT and DATA the
 *	evidence is built once per request and each configured claimed
 *	name gets its result from, in this order: another identity of the
 *	same request with the same name; the connection's memo (emptied
 *	when a reload brought new settings); a new
 *	check through the dnsloop (one verdict allocated per check, freed
 *	when it is done, logged once).  When the last result is in the
 *	reply is written.  Any check may finish inside check_start(), so a
 *	"starting" flag keeps the reply until every check was started; the
 *	verdict lines of checks that finished there are batched and written
 *	right after the reply (one write(2), and Postfix does not wait for
 *	it).
 *	With a milter writing the header, a DATA request first opens its
 *	message's record in the join store (queue id, client address and
 *	port); the verdicts go there just before the DUNNO reply, and a
 *	request abandoned before that marks the record abandoned, so the
 *	milter never waits in vain.  A session owns at most one record
 *	(Postfix's smtpd runs one transaction at a time on its policy
 *	connection): the first request of another transaction - another
 *	"instance" attribute, or the next DATA - drops it, since that
 *	message has ended or was rejected after the policy answer, and
 *	closing the connection releases it.  A record the store refuses
 *	(written twice: a conflict; the store full) is logged: the milter
 *	writes temperror for that message.
 *
 *	Writing: replies are written at once; a reply the socket does not
 *	take whole waits in a buffer with a write event, and nothing more
 *	is read meanwhile.  A client that takes nothing for idle_timeout
 *	is closed.
 *
 *	Errors: a protocol error (limits, NUL, syntax) is logged with the
 *	peer (Postfix's end of this connection) and closes the connection;
 *	so do read and write errors and the idle timeout.  Evidence
 *	problems are logged with the SMTP client's address; a fingerprint
 *	of the wrong length is logged once per daemon lifetime, as an
 *	error, with the fix.
 *
 *	Memory: an idle session is sizeof(session) (about 300 bytes on
 *	LP64), one libevent event, and the memo once a verdict was
 *	computed (64 bytes a slot plus its text).  The parser's arena is
 *	released after each reply rather than kept (one malloc per
 *	request is cheaper than 2 KiB per idle connection).  A request in
 *	progress adds one session_req (2.5 KiB), the evidence, the arena
 *	and one verdict (7 KiB) per look-up in flight.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "danced.h"
#include "decide.h"
#include "join.h"
#include "memo.h"
#include "server.h"
#include "session.h"
#include "panic.h"

#define SESSION_READ_CHUNK 16384
#define SESSION_SCOPE_PART 63           /* bytes of client address or port in a memo key */
#define SESSION_INSTANCE_MAX 64         /* Postfix's instance attribute: "5357.6b0b2e52.2bffc.0" */

typedef struct session_req session_req;
typedef struct session session;

/* One claimed identity of a request. */
typedef struct session_item {
    session_req *req;
    decide_kind kind;
    bool present;                     /* a claimed name is there */
    int alias;                        /* earlier item with the same key, or -1 */
    unsigned kinds;                   /* CONFIG_IDENTITY_* bits sharing this verdict (for the log) */
    const char *claimed;              /* into the parser's request or into buf */
    char buf[IDENTITY_NAME_MAX];
    unsigned char key[DECIDE_KEY_LEN];
    dnsloop_slot check;               /* the look-up in progress */
} session_item;

/* A request being answered. */
struct session_req {
    session *s;
    snapshot *snap;                   /* settings as when the request came */
    decide_state state;
    evidence *ev;
    unsigned char evkey[DECIDE_KEY_LEN];
    session_item item[DECIDE_KINDS];
    decide_result res[DECIDE_KINDS];
    size_t outstanding;
    bool starting;
    dlog_batch *batch;                /* while starting: verdict lines written together */
    bool joined;                      /* the session's join record waits for these verdicts */
};

/* The join record a session owns: its DATA request's message. */
typedef struct session_join {
    bool held;
    join_key key;
    uint64_t ticket;
    char instance[SESSION_INSTANCE_MAX];  /* Postfix's transaction, "" when not given */
} session_join;

struct session {
    server_conn link;                 /* in the server's list */
    danced *d;
    int fd;
    struct event *ev;                 /* readable, with the idle timeout */
    struct event *wev;                /* writable, only once a reply got stuck */
    policy_parser parser;
    memo *memo;
    unsigned long memo_generation;    /* snapshot generation the memo's verdicts belong to */
    session_req *req;                 /* request in progress */
    char *spill;                      /* bytes read beyond the last request */
    size_t spill_len;
    char *out;                        /* reply bytes not yet written */
    size_t out_len;
    bool draining;                    /* close after the reply in progress */
    bool partial;                     /* part of a request has arrived */
    long long request_deadline_ms;    /* while partial: when the request must be complete */
    session_join join;                /* the DATA record this connection owns */
    char peer[SERVER_PEER_MAX];
};

static void session_on_read(evutil_socket_t, short, void *);
static void session_answer(session *s);

/* session_of - the session a server_conn link belongs to. */
static session *session_of(server_conn *c)
{
    return (session *) (void *) ((char *) c - offsetof(session, link));
}

/* session_wait - add ev with the idle timeout (also bounds a client that stops reading). */
static void session_wait(session *s, struct event *ev)
{
    unsigned idle = s->d->snap->cfg.idle_timeout;
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
    unsigned idle = s->d->snap->cfg.idle_timeout;
    struct timeval tv;

    if (!s->partial) {
        s->partial = true;
        s->request_deadline_ms = now + (long long) s->d->snap->cfg.request_timeout * 1000;
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

/* session_req_free - release a request; pending checks are aborted. */
static void session_req_free(session_req *req)
{
    for (int k = 0; k < DECIDE_KINDS; k++)
        dnsloop_slot_abort(&req->item[k].check);
    if (req->joined)                  /* never answered: the milter must not wait for it */
        join_abandon(req->s->d->join, &req->s->join.key, req->s->join.ticket);
    evidence_free(req->ev);
    snapshot_unref(req->snap);
    free(req);
}

/* session_close - close at once; a request in progress is abandoned, the join record released. */
static void session_close(session *s)
{
    if (s->req != NULL)
        session_req_free(s->req);
    if (s->join.held)
        join_release(s->d->join, &s->join.key, s->join.ticket);
    event_free(s->ev);
    if (s->wev != NULL)
        event_free(s->wev);
    close(s->fd);
    policy_parser_free(&s->parser);
    memo_free(s->memo);
    free(s->spill);
    free(s->out);
    server_conn_gone(s->d->srv, &s->link);
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

static void session_drain_op(server_conn *c)
{
    session_drain(session_of(c));
}

static void session_close_op(server_conn *c)
{
    session_close(session_of(c));
}

static const server_conn_ops session_ops = { session_drain_op, session_close_op };

/* session_ready - the reply is out: wait for the next request (spilled bytes first). */
static void session_ready(session *s)
{
    policy_parser_free(&s->parser);     /* an idle connection keeps no arena */
    policy_parser_init(&s->parser);
    if (s->draining || s->d->draining) {
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
        dlog_msg(&s->d->log, LOG_WARNING, "%s: reply not taken for %u s; closing the connection",
                 s->peer, s->d->snap->cfg.idle_timeout);
        session_close(s);
        return;
    }
    n = send(s->fd, s->out, s->out_len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        dlog_msg(&s->d->log, LOG_WARNING, "%s: write: %s", s->peer, strerror(errno));
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
static void session_send(session *s, const char *buf, size_t len)
{
    ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);

    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        dlog_msg(&s->d->log, LOG_WARNING, "%s: write: %s", s->peer, strerror(errno));
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
        && (s->wev = event_new(s->d->base, s->fd, EV_WRITE | EV_PERSIST, session_on_write, s)) == NULL)
        DANCE_PANIC("out of memory");
    session_wait(s, s->wev);
}

/* session_reply_dunno - answer DUNNO at once. */
static void session_reply_dunno(session *s)
{
    char buf[64];
    size_t len;

    if (policy_reply(buf, sizeof(buf), "DUNNO", NULL, &len) != POLICY_OK)
        DANCE_PANIC("unexpected: policy_reply(buf, sizeof(buf), \"DUNNO\", NULL, &len) != POLICY_OK");
    session_send(s, buf, len);
}

/* session_kinds_text - "helo" or "helo,mailfrom" for the log. */
static void session_kinds_text(unsigned kinds, char *out, size_t size)
{
    size_t n = 0;

    for (int k = 0; k < DECIDE_KINDS; k++) {
        const char *name = decide_kind_name((decide_kind) k);
        size_t len = strlen(name);

        if (!(kinds & decide_kind_bit((decide_kind) k)))
            continue;
        if (n + (n > 0) + len >= size)
            DANCE_PANIC("the caller's buffer holds all three");
        if (n > 0)
            out[n++] = ',';
        memcpy(out + n, name, len);
        n += len;
    }
    out[n] = '\0';
}

/* session_log_verdict - the one line per computed verdict. */
static void session_log_verdict(session *s, const session_item *it, const verdict *v)
{
    const policy_request *preq = policy_parser_request(&s->parser);
    char kinds[32];

    session_kinds_text(it->kinds, kinds, sizeof(kinds));
    dlog_verdict_of(&s->d->log, it->req->batch, v, kinds, it->claimed,
                    policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS),
                    policy_get_attr(preq, POLICY_ATTR_INSTANCE));
}

/* session_memo_expiry - how long a verdict may be reused: its DNS TTL, capped by the cache settings. */
static long long session_memo_expiry(const snapshot *snap, const verdict *v)
{
    long long life = v->result == VERDICT_TEMPERROR ? snap->cfg.cache_error_ttl : snap->cfg.cache_max_ttl;

    for (size_t i = 0; i < v->nowners; i++) {
        resolver_status st = v->owners[i].dnssec;
        bool error = st == RESOLVER_TIMEOUT || st == RESOLVER_NETERR || st == RESOLVER_BOGUS
                     || st == RESOLVER_SERVFAIL;     /* no TTL of their own: cache_error_ttl */

        if (!error && (long long) v->owners[i].ttl < life)
            life = v->owners[i].ttl;
    }
    return clock_now_ms() + life * 1000;
}

/* session_item_done - a check finished: log, remember, and answer when it was the last. */
static void session_item_done(void *arg, verdict *v)
{
    session_item *it = arg;
    session_req *req = it->req;
    session *s = req->s;

    session_log_verdict(s, it, v);
    decide_result_from(&req->res[it->kind], v);
    memo_store(&s->memo, it->key, &req->res[it->kind], session_memo_expiry(req->snap, v));
    dnsloop_slot_done(&it->check);
    if (req->outstanding == 0)
        DANCE_PANIC("more completions than checks");
    if (--req->outstanding == 0 && !req->starting)
        session_answer(s);
}

/* session_evidence_problems - log what was wrong with the certificate attributes. */
static void session_evidence_problems(session *s, const policy_request *preq,
                                      const decide_ev_report rep[DECIDE_EV_ATTRS])
{
    const char *client = policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS);

    for (int i = 0; i < DECIDE_EV_ATTRS; i++) {
        if (rep[i].problem == DECIDE_EV_DIGEST_MISMATCH && danced_first_digest_warning(s->d)) {
            dlog_msg(&s->d->log, LOG_ERR, "CONFIGURATION ERROR: %s from Postfix has %s; "
                     "certificate fingerprints are ignored until this is fixed: set "
                     "smtpd_tls_fingerprint_digest = sha256 in main.cf "
                     "(or fingerprint_digest = ... in dance.conf to match Postfix) "
                     "(logged once)", rep[i].attr, rep[i].detail);
        } else if (rep[i].problem == DECIDE_EV_BAD) {
            dlog_msg(&s->d->log, LOG_WARNING, "client %s: %s ignored: %s",
                     client != NULL ? client : "?", rep[i].attr, rep[i].detail);
        }
    }
}

/* session_find_alias - link item k to an earlier item of the request with the same key. */
static void session_find_alias(session_req *req, int k)
{
    session_item *it = &req->item[k];

    for (int j = 0; j < k; j++) {
        if (req->item[j].present && req->item[j].alias < 0
            && memcmp(req->item[j].key, it->key, DECIDE_KEY_LEN) == 0) {
            it->alias = j;
            req->item[j].kinds |= decide_kind_bit((decide_kind) k);
            return;
        }
    }
}

/*
 * session_item_key - the memo key of an item: claimed name and evidence, scoped
 * to the SMTP session (client address and port: Postfix reuses one policy
 * connection for many SMTP sessions, and each session gets its own verdict
 * and log line) and to the kind of name (a host name may also be checked at
 * _25._tcp, a mail domain never).
 */
static void session_item_key(const policy_request *preq, const session_req *req, session_item *it)
{
    const char *addr = policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS);
    const char *port = policy_get_attr(preq, POLICY_ATTR_CLIENT_PORT);
    char scope[SESSION_SCOPE_PART + 1 + SESSION_SCOPE_PART + 1 + 1];
    size_t n = 0, len;

    /* "address\0port\0" (each cut at SESSION_SCOPE_PART: longer is no address) and the kind */
    if (addr != NULL) {
        len = strnlen(addr, SESSION_SCOPE_PART);
        memcpy(scope + n, addr, len);
        n += len;
    }
    scope[n++] = '\0';
    if (port != NULL) {
        len = strnlen(port, SESSION_SCOPE_PART);
        memcpy(scope + n, port, len);
        n += len;
    }
    scope[n++] = '\0';
    scope[n++] = it->kind == DECIDE_MAILFROM ? 'd' : 'h';
    decide_memo_key(it->claimed, req->evkey, scope, n, it->key);
}

/* session_start_item - the result of one identity: from the memo, or a new check. */
static void session_start_item(session *s, session_req *req, int k, long long now)
{
    session_item *it = &req->item[k];

    if (memo_lookup(s->memo, it->key, now, &req->res[k]))
        return;
    req->outstanding++;
    dnsloop_slot_start(&it->check, s->d->dns, req->ev, it->claimed,
                       it->kind == DECIDE_MAILFROM ? &req->snap->copt_domain : &req->snap->copt,
                       session_item_done, it);
}

/* session_join_drop - the record's transaction is over (or the store is gone): let the record go. */
static void session_join_drop(session *s)
{
    if (s->join.held)
        join_drop(s->d->join, &s->join.key, s->join.ticket);
    s->join.held = false;
}

/*
 * session_join_next - a request of another transaction than the record's
 * (Postfix's instance differs) means the record's message has ended - or
 * was rejected after the policy answer: drop it.
 */
static void session_join_next(session *s, const policy_request *preq)
{
    const char *instance = policy_get_attr(preq, POLICY_ATTR_INSTANCE);

    if (s->join.held && instance != NULL && instance[0] != '\0' && s->join.instance[0] != '\0'
        && strcmp(instance, s->join.instance) != 0)
        session_join_drop(s);
}

/*
 * session_join_begin - a DATA request while a milter writes the header:
 * open its record in the join store, under Postfix's queue id and the
 * SMTP client's address and port (what the milter knows it by too).
 */
static void session_join_begin(session *s, session_req *req, const policy_request *preq, long long now)
{
    const char *instance = policy_get_attr(preq, POLICY_ATTR_INSTANCE);
    join_key key;
    join_key_status st = join_make_key(policy_get_attr(preq, POLICY_ATTR_QUEUE_ID),
                                       policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS),
                                       policy_get_attr(preq, POLICY_ATTR_CLIENT_PORT), &key);

    session_join_drop(s);               /* one record per session: the last message has ended */
    if (st != JOIN_KEY_OK) {
        dlog_msg(&s->d->log, LOG_WARNING, "%s: DATA request with %s: the milter will find no verdict "
                 "for this message", s->peer, join_key_status_str(st));
        return;
    }
    switch (join_begin(s->d->join, &key, now, &s->join.ticket)) {
    case JOIN_BEGUN:
        s->join.held = true;
        s->join.key = key;
        snprintf(s->join.instance, sizeof(s->join.instance), "%s", instance != NULL ? instance : "");
        req->joined = true;
        return;
    case JOIN_CONFLICT_BEGIN:
        dlog_msg(&s->d->log, LOG_WARNING, "%s: a second DATA request for message %s: the milter writes "
                 "temperror for it (is another local process writing verdicts? see peer_users)",
                 s->peer, key.s);
        return;
    case JOIN_FULL:
        dlog_msg(&s->d->log, LOG_WARNING, "%s: the verdict store is full (every record belongs to an "
                 "open policy connection): message %s gets temperror", s->peer, key.s);
        return;
    }
}

/* session_dispatch - a complete request is in the parser: answer it now or start its checks. */
static void session_dispatch(session *s)
{
    const policy_request *preq = policy_parser_request(&s->parser);
    decide_ev_report rep[DECIDE_EV_ATTRS];
    decide_state state = decide_state_of(preq);
    session_req *req;
    long long now = clock_now_ms();
    dlog_batch batch;

    if (s->d->join != NULL)
        session_join_next(s, preq);
    if (state == DECIDE_STATE_OTHER) {
        session_reply_dunno(s);
        return;
    }
    req = xcalloc(1, sizeof(*req));
    s->req = req;
    req->s = s;
    req->snap = snapshot_ref(s->d->snap);
    req->state = state;
    if (s->memo_generation != req->snap->generation) {   /* reloaded: forget old verdicts */
        memo_free(s->memo);
        s->memo = NULL;
        s->memo_generation = req->snap->generation;
    }
    if (state == DECIDE_STATE_DATA && s->d->join != NULL)
        session_join_begin(s, req, preq, now);
    req->ev = decide_evidence(preq, req->snap->cfg.fingerprint_digest, rep, req->evkey);
    session_evidence_problems(s, preq, rep);
    batch.len = 0;
    req->batch = &batch;
    req->starting = true;
    for (int k = 0; k < DECIDE_KINDS; k++) {
        session_item *it = &req->item[k];

        it->req = req;
        it->kind = (decide_kind) k;
        it->alias = -1;
        if (!(req->snap->cfg.identities & decide_kind_bit((decide_kind) k)))
            continue;
        if ((it->claimed = decide_claimed(preq, (decide_kind) k, it->buf)) == NULL)
            continue;
        it->present = true;
        it->kinds = decide_kind_bit((decide_kind) k);
        session_item_key(preq, req, it);
        session_find_alias(req, k);
    }
    for (int k = 0; k < DECIDE_KINDS; k++)      /* all aliases known before any check ends */
        if (req->item[k].present && req->item[k].alias < 0)
            session_start_item(s, req, k, now);
    req->starting = false;
    req->batch = NULL;
    if (req->outstanding == 0)
        session_answer(s);              /* s may be closed on return */
    else
        event_del(s->ev);               /* nothing more is read until the reply is out */
    dlog_batch_flush(&batch);           /* right after the reply: Postfix need not wait for the log */
}

/* session_answer - every result is in: compose and send the reply. */
static void session_answer(session *s)
{
    session_req *req = s->req;
    char reply[DECIDE_REPLY_MAX];
    size_t len;

    for (int k = 0; k < DECIDE_KINDS; k++)
        if (req->item[k].alias >= 0)
            req->res[k] = req->res[req->item[k].alias];
    if (req->joined) {
        if (!join_put(s->d->join, &s->join.key, s->join.ticket, req->res))
            dlog_msg(&s->d->log, LOG_WARNING, "%s: verdicts for %s were not taken: the record is gone "
                     "or was written twice (the milter writes temperror)", s->peer, s->join.key.s);
        req->joined = false;
    }
    decide_reply(req->snap, req->state, req->res, s->d->milter, reply, sizeof(reply), &len);
    s->req = NULL;
    session_send(s, reply, len);        /* may close s; req no longer needs it */
    session_req_free(req);
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
            dlog_msg(&s->d->log, LOG_WARNING, "%s: policy protocol error: %s; closing the connection",
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
        session_dispatch(s);            /* the read event stays unless the reply must wait */
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
        dlog_msg(&s->d->log, LOG_WARNING, "%s: a request still incomplete after %u s "
                 "(request_timeout); closing the connection", s->peer, s->d->snap->cfg.request_timeout);
        session_close(s);
        return;
    }
    if (what & EV_TIMEOUT) {
        dlog_msg(&s->d->log, LOG_INFO, "%s: idle for %u s; closing the connection", s->peer,
                 s->d->snap->cfg.idle_timeout);
        session_close(s);
        return;
    }
    n = recv(s->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        dlog_msg(&s->d->log, LOG_WARNING, "%s: read: %s", s->peer, strerror(errno));
        session_close(s);
        return;
    }
    if (n == 0) {
        if (s->partial)
            dlog_msg(&s->d->log, LOG_WARNING, "%s: connection closed in the middle of a request",
                     s->peer);
        session_close(s);
        return;
    }
    session_input(s, buf, (size_t) n);
}

/* session_accept - (server) take over the connected, non-blocking fd. */
void session_accept(void *arg, int fd, const char *peer)
{
    danced *d = arg;
    session *s;

    if (!danced_admit(d, fd, peer, "policy")) {
        close(fd);
        return;
    }
    s = xcalloc(1, sizeof(*s));
    s->d = d;
    s->fd = fd;
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    policy_parser_init(&s->parser);
    if ((s->ev = event_new(d->base, fd, EV_READ | EV_PERSIST, session_on_read, s)) == NULL)
        DANCE_PANIC("out of memory");
    server_conn_add(d->srv, &s->link, &session_ops);
    session_wait(s, s->ev);
}
