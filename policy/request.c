/*
 * request.c - one policy request answered: evidence, a result per claimed
 * identity, the reply, and the message's record in the join store.
 *
 * USAGE
 *	request_dispatch(s);	(session.c, a complete request in the parser)
 *	request_free(req);	(session.c, when the session closes first)
 *
 * DESCRIPTION
 *	decide.h classifies the request.  For RCPT and DATA the evidence is
 *	built once per request and each configured claimed name gets its
 *	result from, in this order: another identity of the same request
 *	with the same name; the connection's memo (this SMTP session with
 *	this certificate; emptied when a reload brought new settings); the
 *	verdict cache shared by all connections (danced/vcache.h); a new
 *	check through the dnsloop (one verdict
 *	allocated per check, freed when it is done, logged once).  When the
 *	last result is in the reply is written.  Any check may finish inside
 *	its start, so a "starting" flag keeps the reply until every check
 *	was started (each request, and each verdict computed with its time,
 *	is counted in the daemon's metrics; a memo hit is not a verdict).
 *	A verdict found in the verdict cache is logged and counted too.
 *	Verdict lines go to the log's held batch: in the foreground they
 *	are written together once the loop turn ends (dlog.h), after the
 *	replies, so Postfix does not wait for the log.
 *
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
 * DIAGNOSTICS
 *	Evidence problems are logged with the SMTP client's address; a
 *	fingerprint of the wrong length is logged once per daemon lifetime,
 *	as an error, with the fix.
 *
 * SEE ALSO
 *	decide.c (request to checks, results to reply), memo.c,
 *	danced/join.c, danced/dnsloop.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <event2/event.h>

#include "lib/clock.h"
#include "lib/netaddr.h"
#include "lib/panic.h"
#include "lib/text.h"
#include "danced/metrics.h"
#include "danced/snapshot.h"
#include "danced/vcache.h"
#include "policy_private.h"

#define REQUEST_SCOPE_PART 63           /* bytes of client address or port in a memo scope */
/* A verdict's key: kind, claimed name, NUL, evidence id (longer names are not kept). */
#define REQUEST_KEY_MAX (1 + IDENTITY_NAME_MAX + 1 + EVIDENCE_ID_MAX)

static void request_answer(session *s);

/* request_free - release a request; pending checks are aborted. */
void request_free(request *req)
{
    for (int k = 0; k < RESULTS_KINDS; k++)
        dnsloop_slot_abort(&req->item[k].check);
    if (req->joined)                  /* never answered: the milter must not wait for it */
        join_abandon(danced_join(req->s->d), &req->s->join->key, req->s->join->ticket);
    evidence_free(req->ev);
    snapshot_unref(req->snap);
    free(req);
}

/* request_reply_dunno - answer DUNNO at once. */
static void request_reply_dunno(session *s)
{
    char buf[64];
    size_t len;

    if (policy_reply(buf, sizeof(buf), "DUNNO", NULL, &len) != POLICY_OK)
        DANCE_PANIC("unexpected: policy_reply(buf, sizeof(buf), \"DUNNO\", NULL, &len) != POLICY_OK");
    session_send(s, buf, len);
}

/* request_kinds_text - "helo" or "helo,mailfrom" for the log. */
static void request_kinds_text(unsigned kinds, char *out, size_t size)
{
    size_t n = 0;

    for (int k = 0; k < RESULTS_KINDS; k++) {
        const char *name = results_kind_name((results_kind) k);
        size_t len = strlen(name);

        if (!(kinds & results_kind_bit((results_kind) k)))
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

/* request_log_verdict - the one line per verdict, from the verdict's log parts. */
static void request_log_verdict(session *s, const request_item *it, const dlog_vparts *parts)
{
    const policy_request *preq = policy_parser_request(&s->parser);
    char kinds[32];

    request_kinds_text(it->kinds, kinds, sizeof(kinds));
    dlog_verdict_join(danced_log(s->d), NULL, parts, kinds,
                      policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS),
                      policy_get_attr(preq, POLICY_ATTR_INSTANCE), it->claimed);
}

/*
 * request_item_key - an item's key in *key: its kind ("d" for a mail
 * domain, "h" for a host name: only a host name may also be checked at
 * _25._tcp), the claimed name, a NUL and the evidence id.  The memo's key
 * is the first *memo_len bytes (the memo's scope holds the evidence); the
 * verdict cache's is the whole.  Returns 0 for a claimed name too long to
 * be a name (checked every time, never kept).
 */
static size_t request_item_key(const request *req, const request_item *it, unsigned char key[REQUEST_KEY_MAX],
                               size_t *memo_len)
{
    size_t n = strlen(it->claimed);

    if (n >= IDENTITY_NAME_MAX)
        return 0;
    key[0] = it->kind == RESULTS_MAILFROM ? 'd' : 'h';
    memcpy(key + 1, it->claimed, n);
    *memo_len = 1 + n;
    key[1 + n] = '\0';
    memcpy(key + 2 + n, req->evid, req->evid_len);
    return 2 + n + req->evid_len;
}

/*
 * request_shareable - may v be kept for other connections?  Not when an
 * owner's answer was an error (timeout, network, bogus, SERVFAIL) or a
 * stale one: those are asked again rather than shared.
 */
static bool request_shareable(const verdict *v)
{
    for (size_t i = 0; i < v->nowners; i++) {
        resolver_status st = v->owners[i].dnssec;

        if (v->owners[i].stale)
            return false;
        if (st == RESOLVER_TIMEOUT || st == RESOLVER_NETERR || st == RESOLVER_BOGUS || st == RESOLVER_SERVFAIL)
            return false;
    }
    return v->result != VERDICT_TEMPERROR;
}

/* request_memo_expiry - how long a verdict may be reused: its DNS TTL, capped by the cache settings. */
static long long request_memo_expiry(const snapshot *snap, const verdict *v)
{
    long long life = v->result == VERDICT_TEMPERROR || v->stale ? snap->cfg.cache_error_ttl
                                                                : snap->cfg.cache_max_ttl;

    for (size_t i = 0; i < v->nowners; i++) {
        resolver_status st = v->owners[i].dnssec;
        bool error = st == RESOLVER_TIMEOUT || st == RESOLVER_NETERR || st == RESOLVER_BOGUS
                     || st == RESOLVER_SERVFAIL;     /* no TTL of their own: cache_error_ttl */

        if (!error && !v->owners[i].stale && (long long) v->owners[i].ttl < life)
            life = v->owners[i].ttl;
    }
    return clock_now_ms() + life * 1000;
}

/* request_item_done - a check finished: log, remember, and answer when it was the last. */
static void request_item_done(void *arg, verdict *v)
{
    request_item *it = arg;
    request *req = it->req;
    session *s = req->s;
    unsigned char key[REQUEST_KEY_MAX];
    size_t memo_len = 0, key_len = request_item_key(req, it, key, &memo_len);
    long long expires = request_memo_expiry(req->snap, v);
    dlog_buf text;
    vcache_value cv;

    dlog_vparts_of(danced_log(s->d), v, &text, &cv.log);
    request_log_verdict(s, it, &cv.log);
    metrics_verdict(danced_metrics(s->d), METRICS_POLICY, it->kind, v->result,
                    dnsloop_slot_elapsed_us(&it->check));
    if (v->stale)
        metrics_verdict_stale(danced_metrics(s->d));
    results_item_from(&req->res[it->kind], v);
    if (key_len > 0) {
        memo_store(&s->memo, key, memo_len, &req->res[it->kind], expires);
        if (request_shareable(v)) {
            cv.result = v->result;
            cv.name = v->name;
            cv.brief = v->brief;
            vcache_put(danced_vcache(s->d), key, key_len, req->snap->generation, clock_now_ms(), expires, &cv);
        }
    }
    dnsloop_slot_done(&it->check);
    if (req->outstanding == 0)
        DANCE_PANIC("more completions than checks");
    if (--req->outstanding == 0 && !req->starting)
        request_answer(s);
}

/* request_evidence_problems - log what was wrong with the certificate attributes. */
static void request_evidence_problems(session *s, const policy_request *preq,
                                      const decide_ev_report rep[DECIDE_EV_ATTRS])
{
    const char *client = policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS);

    for (int i = 0; i < DECIDE_EV_ATTRS; i++) {
        if (rep[i].problem == DECIDE_EV_DIGEST_MISMATCH && danced_first_digest_warning(s->d)) {
            dlog_msg(danced_log(s->d), LOG_ERR, "CONFIGURATION ERROR: %s from Postfix has %s; "
                     "certificate fingerprints are ignored until this is fixed: set "
                     "smtpd_tls_fingerprint_digest = sha256 in main.cf "
                     "(or fingerprint_digest = ... in dance.conf to match Postfix) "
                     "(logged once)", rep[i].attr, rep[i].detail);
        } else if (rep[i].problem == DECIDE_EV_BAD) {
            dlog_msg(danced_log(s->d), LOG_WARNING, "client %s: %s ignored: %s",
                     client != NULL ? client : "?", rep[i].attr, rep[i].detail);
        }
    }
}

/* request_find_alias - link item k to an earlier item of the request with the same name and kind of name. */
static void request_find_alias(request *req, int k)
{
    request_item *it = &req->item[k];

    for (int j = 0; j < k; j++) {
        if (req->item[j].present && req->item[j].alias < 0
            && (req->item[j].kind == RESULTS_MAILFROM) == (it->kind == RESULTS_MAILFROM)
            && strcmp(req->item[j].claimed, it->claimed) == 0) {
            it->alias = j;
            req->item[j].kinds |= results_kind_bit((results_kind) k);
            return;
        }
    }
}

/*
 * request_scope - the memo's scope: the SMTP session (client address and
 * port: Postfix reuses one policy connection for many SMTP sessions, and
 * each session gets its own verdict and log line) and the evidence.
 */
static void request_scope(session *s, const policy_request *preq, const request *req)
{
    const char *addr = policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS);
    const char *port = policy_get_attr(preq, POLICY_ATTR_CLIENT_PORT);
    unsigned char scope[REQUEST_SCOPE_PART + 1 + REQUEST_SCOPE_PART + 1 + EVIDENCE_ID_MAX];
    size_t n = 0, len;

    /* "address\0port\0" (each cut at REQUEST_SCOPE_PART: longer is no address), the evidence id */
    if (addr != NULL) {
        len = strnlen(addr, REQUEST_SCOPE_PART);
        memcpy(scope + n, addr, len);
        n += len;
    }
    scope[n++] = '\0';
    if (port != NULL) {
        len = strnlen(port, REQUEST_SCOPE_PART);
        memcpy(scope + n, port, len);
        n += len;
    }
    scope[n++] = '\0';
    memcpy(scope + n, req->evid, req->evid_len);
    memo_scope(&s->memo, scope, n + req->evid_len);
}

/* request_cached - the verdict was in the verdict cache: log it, count it, remember it. */
static void request_cached(session *s, request *req, request_item *it, const unsigned char *key,
                           size_t memo_len, const vcache_value *hit)
{
    results_item *r = &req->res[it->kind];

    request_log_verdict(s, it, &hit->log);
    metrics_verdict(danced_metrics(s->d), METRICS_POLICY, it->kind, hit->result, 0);
    metrics_verdict_reused(danced_metrics(s->d));
    r->present = true;
    r->result = hit->result;
    text_copy(r->name, sizeof(r->name), hit->name);
    text_copy(r->reason, sizeof(r->reason), hit->brief);
    r->stale = false;                   /* the verdict cache keeps no stale verdict */
    memo_store(&s->memo, key, memo_len, r, hit->expires_ms);
}

/* request_start_item - the result of one identity: from the memo, the verdict cache, or a new check. */
static void request_start_item(session *s, request *req, int k, long long now)
{
    request_item *it = &req->item[k];
    unsigned char key[REQUEST_KEY_MAX];
    size_t memo_len = 0, key_len = request_item_key(req, it, key, &memo_len);
    const vcache_value *hit;

    if (key_len > 0) {
        if (memo_lookup(s->memo, key, memo_len, now, &req->res[k]))
            return;
        hit = vcache_get(danced_vcache(s->d), key, key_len, req->snap->generation, now);
        if (hit != NULL) {
            request_cached(s, req, it, key, memo_len, hit);
            return;
        }
    }
    req->outstanding++;
    dnsloop_slot_start(&it->check, danced_dns(s->d), &req->client, req->ev, it->claimed,
                       it->kind == RESULTS_MAILFROM ? &req->snap->copt_domain : &req->snap->copt,
                       request_item_done, it);
}

/* request_join_drop - the record's transaction is over (or the store is gone): let the record go. */
static void request_join_drop(session *s)
{
    if (s->join == NULL)
        return;
    join_drop(danced_join(s->d), &s->join->key, s->join->ticket);
    free(s->join);
    s->join = NULL;
}

/*
 * request_join_next - a request of another transaction than the record's
 * (Postfix's instance differs) means the record's message has ended - or
 * was rejected after the policy answer: drop it.
 */
static void request_join_next(session *s, const policy_request *preq)
{
    const char *instance = policy_get_attr(preq, POLICY_ATTR_INSTANCE);

    if (s->join != NULL && instance != NULL && instance[0] != '\0' && s->join->instance[0] != '\0'
        && strcmp(instance, s->join->instance) != 0)
        request_join_drop(s);
}

/*
 * request_join_begin - a DATA request while a milter writes the header:
 * open its record in the join store, under Postfix's queue id and the
 * SMTP client's address and port (what the milter knows it by too).
 */
static void request_join_begin(session *s, request *req, const policy_request *preq, long long now)
{
    const char *instance = policy_get_attr(preq, POLICY_ATTR_INSTANCE);
    join_key key;
    uint64_t ticket;
    join_key_status st = join_make_key(policy_get_attr(preq, POLICY_ATTR_QUEUE_ID),
                                       policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS),
                                       policy_get_attr(preq, POLICY_ATTR_CLIENT_PORT), &key);

    request_join_drop(s);               /* one record per session: the last message has ended */
    if (st != JOIN_KEY_OK) {
        dlog_msg(danced_log(s->d), LOG_WARNING, "%s: DATA request with %s: the milter will find no verdict "
                 "for this message", s->peer, join_key_status_str(st));
        return;
    }
    switch (join_begin(danced_join(s->d), &key, now, &ticket)) {
    case JOIN_BEGUN:
        s->join = xcalloc(1, sizeof(*s->join));
        s->join->key = key;
        s->join->ticket = ticket;
        snprintf(s->join->instance, sizeof(s->join->instance), "%s", instance != NULL ? instance : "");
        req->joined = true;
        return;
    case JOIN_CONFLICT_BEGIN:
        dlog_msg(danced_log(s->d), LOG_WARNING, "%s: a second DATA request for message %s: the milter writes "
                 "temperror for it (is another local process writing verdicts? see peer_users)",
                 s->peer, key.s);
        return;
    case JOIN_FULL:
        dlog_msg(danced_log(s->d), LOG_WARNING, "%s: the verdict store is full (every record belongs to an "
                 "open policy connection): message %s gets temperror", s->peer, key.s);
        return;
    }
}

/*
 * request_new - a request of session s in state, every field set (not
 * zeroed whole: the names and reasons are most of its size and are
 * written before they are read).
 */
static request *request_new(session *s, decide_state state)
{
    request *req = xmalloc(sizeof(*req));

    req->s = s;
    req->snap = snapshot_ref(danced_snapshot(s->d));
    req->state = state;
    req->ev = NULL;
    req->evid_len = 0;
    for (int k = 0; k < RESULTS_KINDS; k++) {
        request_item *it = &req->item[k];

        it->req = req;
        it->kind = (results_kind) k;
        it->present = false;
        it->alias = -1;
        it->kinds = 0;
        it->claimed = NULL;
        it->buf[0] = '\0';
        memset(&it->check, 0, sizeof(it->check));
        req->res[k].present = false;
        req->res[k].result = VERDICT_NONE;
        req->res[k].name[0] = '\0';
        req->res[k].reason[0] = '\0';
        req->res[k].stale = false;
    }
    req->outstanding = 0;
    req->starting = false;
    req->joined = false;
    return req;
}

/* request_dispatch - a complete request is in the parser: answer it now or start its checks. */
void request_dispatch(session *s)
{
    const policy_request *preq = policy_parser_request(&s->parser);
    decide_ev_report rep[DECIDE_EV_ATTRS];
    decide_state state = decide_state_of(preq);
    request *req;
    const char *addr;
    long long now = clock_now_ms();

    metrics_policy_request(danced_metrics(s->d), state == DECIDE_STATE_RCPT ? METRICS_RCPT
                           : state == DECIDE_STATE_DATA ? METRICS_DATA : METRICS_OTHER);
    if (danced_join(s->d) != NULL)
        request_join_next(s, preq);
    if (state == DECIDE_STATE_OTHER) {
        request_reply_dunno(s);
        return;
    }
    req = request_new(s, state);
    s->req = req;
    if (s->memo_generation != req->snap->generation) {   /* reloaded: forget old verdicts */
        memo_free(s->memo);
        s->memo = NULL;
        s->memo_generation = req->snap->generation;
    }
    if (state == DECIDE_STATE_DATA && danced_join(s->d) != NULL)
        request_join_begin(s, req, preq, now);
    req->ev = decide_evidence(preq, req->snap->cfg.fingerprint_digest, rep);
    req->evid_len = evidence_id(req->ev, req->evid);
    addr = policy_get_attr(preq, POLICY_ATTR_CLIENT_ADDRESS);
    if (addr == NULL || !netaddr_parse(addr, &req->client))
        memset(&req->client, 0, sizeof(req->client));     /* the "unknown" client's budget */
    request_evidence_problems(s, preq, rep);
    request_scope(s, preq, req);
    req->starting = true;
    for (int k = 0; k < RESULTS_KINDS; k++) {
        request_item *it = &req->item[k];

        if (!(req->snap->cfg.identities & results_kind_bit((results_kind) k)))
            continue;
        if ((it->claimed = decide_claimed(preq, (results_kind) k, it->buf)) == NULL)
            continue;
        it->present = true;
        it->kinds = results_kind_bit((results_kind) k);
        request_find_alias(req, k);
    }
    for (int k = 0; k < RESULTS_KINDS; k++)      /* all aliases known before any check ends */
        if (req->item[k].present && req->item[k].alias < 0)
            request_start_item(s, req, k, now);
    req->starting = false;
    if (req->outstanding == 0)
        request_answer(s);              /* s may be closed on return */
    else
        event_del(s->ev);               /* nothing more is read until the reply is out */
}

/* request_answer - every result is in: compose and send the reply. */
static void request_answer(session *s)
{
    request *req = s->req;
    char reply[DECIDE_REPLY_MAX];
    size_t len;

    for (int k = 0; k < RESULTS_KINDS; k++)
        if (req->item[k].alias >= 0)
            req->res[k] = req->res[req->item[k].alias];
    if (req->joined) {
        DANCE_ASSERT(s->join != NULL);
        if (!join_put(danced_join(s->d), &s->join->key, s->join->ticket, req->res))
            dlog_msg(danced_log(s->d), LOG_WARNING, "%s: verdicts for %s were not taken: the record is gone "
                     "or was written twice (the milter writes temperror)", s->peer, s->join->key.s);
        req->joined = false;
    }
    decide_reply(req->snap, req->state, req->res, danced_header_by_milter(s->d), reply, sizeof(reply), &len);
    s->req = NULL;
    session_send(s, reply, len);        /* may close s; req no longer needs it */
    request_free(req);
}
