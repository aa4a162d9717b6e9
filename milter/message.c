/*
 * message.c - one message through danced's milter face: its header fields,
 * its verdicts, its end.
 *
 * USAGE
 *	MAIL FROM:      milter_msg_begin(c, argv[0]);
 *	each field:     milter_msg_header(c, name, value);
 *	end of message: if (!milter_msg_eom(c)) ... wait for c->wake, call again ...
 *	abort:          milter_msg_abort(c);
 *
 * DESCRIPTION
 *	A message holds the configuration snapshot of its MAIL FROM for
 *	its whole life (a reload in between changes nothing for it),
 *	classifies every Authentication-Results field as it passes
 *	(hygiene.h: rules from that snapshot and the connection's SMTP
 *	client), and at end of message finds its verdicts, in this order:
 *	  1. Sendmail mode - the MTA passed {cert_fp}: the checks of the
 *	     claimed names (EHLO name, MAIL FROM domain, and with
 *	     {client_resolve} OK the client's host name) were started on
 *	     the event loop's resolver at MAIL FROM; wait for them.
 *	     {cert_fp} is the certificate's digest in fingerprint_digest,
 *	     so only "3 0 x" records are usable.
 *	  2. Postfix mode - both faces on: take the record the policy face
 *	     made at DATA (join.h) by queue id, client address and client
 *	     port, waiting while it is pending.  Anything but the record's
 *	     verdicts is temperror for a TLS message: a record missing
 *	     (Postfix did not ask at DATA, or the record was lost),
 *	     abandoned, written twice or taken already - never "none",
 *	     which would let a sender launder its own "fail".
 *	  3. Otherwise dane=none with the reason: no TLS; no client
 *	     certificate ({verify} NO or NOT); {cert_md5} without
 *	     {cert_fp} (Sendmail without CertFingerprintAlgorithm: one
 *	     CONFIGURATION ERROR naming the setting); or, with TLS, no
 *	     digest at all (a configuration warning names the fix, at
 *	     most once a minute).
 *	Waiting is bounded by dns_timeout + MILTER_WAIT_SLACK_MS; a
 *	verdict not ready by then is temperror, never a guess.  Then the
 *	fields to remove are deleted (each name from its highest index
 *	down: Postfix renumbers after each delete), our field is inserted
 *	at index 0 - above everything, the MTA's own Received: included -
 *	the reply follows in the same write, and one log line sums up the
 *	message.  More than HYGIENE_REMOVE_MAX fields to remove make the
 *	message rejected (550 5.7.1): nobody writes that many legitimately.
 *	The daemon's metrics count each verdict computed here, each message
 *	answered and the fields removed from it.
 *
 * DIAGNOSTICS
 *	Configuration problems (no verdict for a TLS message, a {cert_fp}
 *	of the wrong length, {cert_md5} instead of {cert_fp}) are logged as
 *	warnings or errors naming the fix; a conflicting or twice-taken
 *	record as a warning naming the message (a sign of a forgery attempt
 *	on the policy socket).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libmilter/mfdef.h>

#include "lib/clock.h"
#include "lib/panic.h"
#include "danced/metrics.h"
#include "milter_private.h"

/* ---------------------------------------------------------- utilities */

/* msg_log - the daemon's log. */
static const dlog *msg_log(const mconn *c)
{
    return danced_log(c->mf->d);
}

/* msg_queue_id - the queue id the MTA passed, or "?" for logs. */
static const char *msg_queue_id(const mconn *c)
{
    const char *q = milter_macro_value(c, MILTER_MAC_QUEUE_ID);

    return q != NULL && q[0] != '\0' ? q : "?";
}

/* msg_sender - the envelope sender without its angle brackets (bad when too long). */
static void msg_sender(milter_msg *m, const char *arg)
{
    size_t n;

    while (*arg == ' ')
        arg++;
    if (*arg == '<')
        arg++;
    n = strlen(arg);
    if (n > 0 && arg[n - 1] == '>')
        n--;
    m->sender_bad = n >= sizeof(m->sender);
    if (m->sender_bad)
        n = 0;
    memcpy(m->sender, arg, n);
    m->sender[n] = '\0';
}

/* msg_claimed - the claimed names of the message for the configured identities. */
static void msg_claimed(const mconn *c, const milter_msg *m, const char *claimed[RESULTS_KINDS],
                        char buf[RESULTS_KINDS][IDENTITY_NAME_MAX])
{
    const char *value[RESULTS_KINDS];

    value[RESULTS_HELO] = c->helo_bad ? "(EHLO argument too long)" : c->helo;
    value[RESULTS_MAILFROM] = m->sender_bad ? "(MAIL FROM address too long)" : m->sender;
    value[RESULTS_PTR] = c->ptr;
    for (int k = 0; k < RESULTS_KINDS; k++) {
        claimed[k] = NULL;
        if (m->snap->cfg.identities & results_kind_bit((results_kind) k))
            claimed[k] = results_claimed_value((results_kind) k, value[k], buf[k]);
    }
}

/* msg_results_all - the same result and reason for every claimed identity still open (no DNS). */
static void msg_results_all(const mconn *c, milter_msg *m, verdict_result result, const char *reason)
{
    const char *claimed[RESULTS_KINDS];
    char buf[RESULTS_KINDS][IDENTITY_NAME_MAX], name[IDENTITY_NAME_MAX];

    msg_claimed(c, m, claimed, buf);
    for (int k = 0; k < RESULTS_KINDS; k++) {
        results_item *r = &m->res[k];

        memset(r, 0, sizeof(*r));
        if (claimed[k] == NULL)
            continue;
        r->present = true;
        r->result = result;
        if (identity_normalize(claimed[k], name) == IDENTITY_OK)
            snprintf(r->name, sizeof(r->name), "%s", name);
        snprintf(r->reason, sizeof(r->reason), "%s", reason);
    }
}

/* ------------------------------------------------- Sendmail-mode checks */

/* msg_check_done - one check finished: log, keep the result; wake the end of message after the last. */
static void msg_check_done(void *arg, verdict *v)
{
    milter_check *ck = arg;
    milter_msg *m = ck->msg;
    mconn *c = m->conn;

    dlog_verdict_of(msg_log(c), NULL, v, results_kind_name(ck->kind), ck->claimed, c->addr, NULL);
    metrics_verdict(danced_metrics(c->mf->d), METRICS_MILTER, ck->kind, v->result,
                    dnsloop_slot_elapsed_us(&ck->slot));
    if (v->stale)
        metrics_verdict_stale(danced_metrics(c->mf->d));
    results_item_from(&m->res[ck->kind], v);
    dnsloop_slot_done(&ck->slot);
    if (m->outstanding == 0)
        DANCE_PANIC("more completions than checks");
    if (--m->outstanding == 0 && !m->starting && m->at_eom)
        event_active(c->wake, EV_TIMEOUT, 0);
}

/* msg_digest_problem - log a {cert_fp} danced cannot use. */
static void msg_digest_problem(const mconn *c, const milter_msg *m, evidence_status st)
{
    digest_alg alg = m->snap->cfg.fingerprint_digest;
    const char *fp = milter_macro_value(c, MILTER_MAC_CERT_FP);
    size_t hex = 0;

    if (st != EVIDENCE_BAD_LENGTH && st != EVIDENCE_WEAK_DIGEST) {
        dlog_msg(msg_log(c), LOG_WARNING, "milter: client %s: {cert_fp} ignored: %s", c->addr,
                 evidence_status_str(st));
        return;
    }
    for (const char *p = fp != NULL ? fp : ""; *p != '\0'; p++)
        hex += *p != ':';
    if (danced_first_digest_warning(c->mf->d))
        dlog_msg(msg_log(c), LOG_ERR, "CONFIGURATION ERROR: {cert_fp} from the MTA has %zu octets, "
                 "but fingerprint_digest is %s (%zu octets); certificates are ignored until this "
                 "is fixed: in sendmail.mc, define(`confCERT_FINGERPRINT_ALGORITHM', `%s') "
                 "(or set fingerprint_digest in dance.conf to match) (logged once)", hex / 2,
                 alg == DIGEST_SHA512 ? "sha512" : "sha256", evidence_digest_len(alg),
                 alg == DIGEST_SHA512 ? "sha512" : "sha256");
}

/* msg_md5_only - log, once, that Sendmail passes {cert_md5} because CertFingerprintAlgorithm is unset. */
static void msg_md5_only(const mconn *c)
{
    if (danced_first_digest_warning(c->mf->d))
        dlog_msg(msg_log(c), LOG_ERR, "CONFIGURATION ERROR: the MTA (%s) passed {cert_md5} and no "
                 "{cert_fp}: Sendmail does so when CertFingerprintAlgorithm is unset, and an MD5 digest "
                 "matches no TLSA record; in sendmail.mc, define(`confCERT_FINGERPRINT_ALGORITHM', "
                 "`sha256') (see contrib/sendmail/dance.mc); certificates are ignored until then "
                 "(logged once)", milter_macro_value(c, MILTER_MAC_V) != NULL
                 ? milter_macro_value(c, MILTER_MAC_V) : "?");
}

/* msg_start_checks - Sendmail mode: start the checks of the claimed names on the loop's resolver. */
static void msg_start_checks(mconn *c, milter_msg *m)
{
    const char *claimed[RESULTS_KINDS];
    char buf[RESULTS_KINDS][IDENTITY_NAME_MAX];
    evidence_status st;

    m->checking = true;
    m->ev = evidence_new();
    st = evidence_add_digest(m->ev, 0, m->snap->cfg.fingerprint_digest,
                             milter_macro_value(c, MILTER_MAC_CERT_FP));
    if (st != EVIDENCE_OK)
        msg_digest_problem(c, m, st);
    msg_claimed(c, m, claimed, buf);
    m->starting = true;
    for (int k = 0; k < RESULTS_KINDS; k++) {
        milter_check *ck = &m->check[k];

        ck->msg = m;
        ck->kind = (results_kind) k;
        if (claimed[k] == NULL)
            continue;
        snprintf(ck->buf, sizeof(ck->buf), "%s", claimed[k]);
        ck->claimed = ck->buf;
        m->outstanding++;
        dnsloop_slot_start(&ck->slot, danced_dns(c->mf->d), &c->client, m->ev, ck->claimed,
                           k == RESULTS_MAILFROM ? &m->snap->copt_domain : &m->snap->copt, msg_check_done,
                           ck);
    }
    m->starting = false;
}

/* msg_checks_give_up - the deadline passed: every identity still open is temperror. */
static void msg_checks_give_up(milter_msg *m)
{
    char name[IDENTITY_NAME_MAX];

    for (int k = 0; k < RESULTS_KINDS; k++) {
        milter_check *ck = &m->check[k];
        results_item *r = &m->res[k];

        if (ck->slot.v == NULL)
            continue;           /* done, or never started */
        dnsloop_slot_abort(&ck->slot);
        r->present = true;
        r->result = VERDICT_TEMPERROR;
        r->stale = false;
        snprintf(r->name, sizeof(r->name), "%s",
                 identity_normalize(ck->claimed, name) == IDENTITY_OK ? name : "");
        snprintf(r->reason, sizeof(r->reason), "verdict not ready in time");
    }
    m->outstanding = 0;
}

/* ------------------------------------------------------------ messages */

/* milter_msg_begin - MAIL FROM: a new message for the envelope sender arg. */
void milter_msg_begin(mconn *c, const char *arg)
{
    milter_msg *m;
    const char *fp = milter_macro_value(c, MILTER_MAC_CERT_FP);
    const dance_config *cfg;

    m = xcalloc(1, sizeof(*m));
    m->conn = c;
    m->snap = snapshot_ref(danced_snapshot(c->mf->d));
    cfg = &m->snap->cfg;
    msg_sender(m, arg);
    m->rules.servid = m->snap->servid_norm;
    m->rules.trusted = (const char *const *) cfg->trusted_authserv_ids.v;
    m->rules.ntrusted = cfg->trusted_authserv_ids.n;
    m->rules.remove = (const char *const *) cfg->remove_authserv_ids.v;
    m->rules.nremove = cfg->remove_authserv_ids.n;
    m->rules.client = &c->client;
    hygiene_init(&m->hyg);
    c->msg = m;
    c->mf->messages++;
    if (fp != NULL && fp[0] != '\0')
        msg_start_checks(c, m);
}

/* milter_msg_header - one header field of the message. */
void milter_msg_header(mconn *c, const char *name, const char *value)
{
    milter_msg *m = c->msg;

    m->removed_by[hygiene_header(&m->hyg, &m->rules, name, value, NULL, 0)]++;
}

/* msg_warn_missing - the rate-limited configuration warning for a TLS message without a verdict. */
static void msg_warn_missing(mconn *c, bool policy_face)
{
    milter_face *mf = c->mf;
    long long now = clock_now_ms();
    const char *mta = milter_macro_value(c, MILTER_MAC_V);
    char more[64] = "";

    if (mf->warned_ms != 0 && now - mf->warned_ms < MILTER_WARN_EVERY_MS) {
        mf->warn_suppressed++;
        return;
    }
    if (mf->warn_suppressed > 0)
        snprintf(more, sizeof(more), "; %lu more such message%s not logged", mf->warn_suppressed,
                 mf->warn_suppressed == 1 ? "" : "s");
    mf->warned_ms = now;
    mf->warn_suppressed = 0;
    if (mta == NULL || mta[0] == '\0' || strncasecmp(mta, "Postfix", 7) == 0)
        dlog_msg(msg_log(c), LOG_WARNING, "CONFIGURATION: queue id %s from %s came over TLS but %s; "
                 "it gets dane=%s: Postfix passes certificates only to the policy service, so add "
                 "\"check_policy_service <danced's policy_socket>\" to smtpd_data_restrictions in "
                 "main.cf%s (see contrib/postfix/main.cf)%s", msg_queue_id(c),
                 c->addr[0] ? c->addr : "?",
                 policy_face ? "the policy service recorded no verdict for it"
                             : "danced's policy face is off (policy_socket = none)",
                 policy_face ? "temperror" : "none",
                 policy_face ? "" : " and set policy_socket in dance.conf", more);
    else
        dlog_msg(msg_log(c), LOG_WARNING, "CONFIGURATION: queue id %s from %s came over TLS but the "
                 "MTA (%s) passed no {cert_fp}; it gets dane=none: see contrib/sendmail/ for the "
                 "macros to pass%s", msg_queue_id(c), c->addr[0] ? c->addr : "?", mta, more);
}

/* msg_on_settled - (join waiter) the record settled: try the end of message again from the loop. */
static void msg_on_settled(void *arg)
{
    mconn *c = arg;

    c->msg->waits_join = false;
    event_active(c->wake, EV_TIMEOUT, 0);
}

/* msg_from_join - Postfix mode: the verdicts the policy face recorded; false while they are pending. */
static bool msg_from_join(mconn *c, milter_msg *m, bool late, const char **source)
{
    join *j = danced_join(c->mf->d);
    join_status st = join_take(j, &m->key, clock_now_ms(), m->res, msg_on_settled, c);

    if (st == JOIN_WAIT && !late) {
        m->waits_join = true;
        return false;
    }
    if (st == JOIN_WAIT) {
        join_cancel_wait(j, &m->key, c);
        m->waits_join = false;
        *source = "policy service too slow";
        msg_results_all(c, m, VERDICT_TEMPERROR, "policy verdict not ready in time");
        return true;
    }
    switch (st) {
    case JOIN_FOUND:
        *source = "from the policy service";
        return true;
    case JOIN_MISSING:
        if (!c->tls) {
            *source = "no TLS";
            msg_results_all(c, m, VERDICT_NONE, "no TLS");
        } else {
            *source = "no verdict recorded";
            msg_warn_missing(c, true);
            msg_results_all(c, m, VERDICT_TEMPERROR, "no verdict from the policy service");
        }
        return true;
    case JOIN_ABANDONED:
        *source = "policy request abandoned";
        msg_results_all(c, m, VERDICT_TEMPERROR, "policy request ended without a verdict");
        return true;
    case JOIN_CONFLICT:
    case JOIN_TAKEN:
    default:
        *source = st == JOIN_TAKEN ? "verdict taken twice" : "conflicting policy requests";
        dlog_msg(msg_log(c), LOG_WARNING, "milter: queue id %s client %s: %s (a second policy request "
                 "or milter session for this message: is a local process forging them? see peer_users)",
                 msg_queue_id(c), c->addr[0] ? c->addr : "?", join_status_str(st));
        msg_results_all(c, m, VERDICT_TEMPERROR, join_status_str(st));
        return true;
    }
}

/* msg_verdicts - the message's verdicts at end of message; false while they are not in. */
static bool msg_verdicts(mconn *c, milter_msg *m, bool late, const char **source)
{
    const char *verify = milter_macro_value(c, MILTER_MAC_VERIFY);
    const char *qid = milter_macro_value(c, MILTER_MAC_QUEUE_ID);

    if (m->checking) {
        *source = "checked by the milter ({cert_fp})";
        if (m->outstanding > 0 && !late)
            return false;
        msg_checks_give_up(m);
        return true;
    }
    if (danced_join(c->mf->d) != NULL
        && join_make_key(qid != NULL ? qid : "", c->addr, c->port, &m->key) == JOIN_KEY_OK)
        return msg_from_join(c, m, late, source);
    if (!c->tls) {
        *source = "no TLS";
        msg_results_all(c, m, VERDICT_NONE, "no TLS");
    } else if (verify != NULL && strcasecmp(verify, "NO") == 0) {
        *source = "{verify} NO";
        msg_results_all(c, m, VERDICT_NONE, "no client certificate");
    } else if (verify != NULL && strcasecmp(verify, "NOT") == 0) {
        *source = "{verify} NOT";
        msg_results_all(c, m, VERDICT_NONE, "client certificate not requested");
    } else if (milter_macro_value(c, MILTER_MAC_CERT_MD5) != NULL) {
        *source = "{cert_md5} only";
        msg_md5_only(c);
        msg_results_all(c, m, VERDICT_NONE, "the MTA passed only an MD5 digest of the certificate");
    } else if (danced_join(c->mf->d) != NULL) {
        *source = "no usable queue id or client";
        msg_warn_missing(c, true);
        msg_results_all(c, m, VERDICT_TEMPERROR, "no verdict from the policy service");
    } else {
        *source = "no certificate digest (configuration)";
        msg_warn_missing(c, false);
        msg_results_all(c, m, VERDICT_NONE, "the MTA passed no certificate digest");
    }
    return true;
}

/* msg_summary - "dane=pass smtp.helo=a, dane=none smtp.mailfrom=b" for the log. */
static void msg_summary(const results_item res[RESULTS_KINDS], char *out, size_t size)
{
    static const char *const prop[RESULTS_KINDS] = { "smtp.helo", "smtp.mailfrom", "policy.ptr" };
    size_t len = 0;

    out[0] = '\0';
    for (int k = 0; k < RESULTS_KINDS && len < size; k++) {
        if (!res[k].present)
            continue;
        len += (size_t) snprintf(out + len, size - len, "%sdane=%s %s=%s", len ? ", " : "",
                                 verdict_result_word(res[k].result), prop[k],
                                 res[k].name[0] ? res[k].name : "(invalid)");
    }
    if (out[0] == '\0')
        snprintf(out, size, "none (no identity)");
}

/* msg_reject_too_many - more fields claim our id than anyone writes: refuse the message. */
static void msg_reject_too_many(mconn *c, milter_msg *m)
{
    char reply[400];

    if (!m->checking && danced_join(c->mf->d) != NULL) {
        const char *qid = milter_macro_value(c, MILTER_MAC_QUEUE_ID);

        if (join_make_key(qid != NULL ? qid : "", c->addr, c->port, &m->key) == JOIN_KEY_OK)
            join_discard(danced_join(c->mf->d), &m->key);      /* its verdict is not needed */
    }
    dlog_msg(msg_log(c), LOG_WARNING, "milter: queue id %s from %s: more than %d Authentication-Results "
             "fields claim authserv-id %s; message rejected", msg_queue_id(c), c->addr,
             HYGIENE_REMOVE_MAX, m->snap->servid);
    snprintf(reply, sizeof(reply), "more than %d Authentication-Results fields claim to be from %s",
             HYGIENE_REMOVE_MAX, m->snap->servid);
    mproto_put_replycode(&c->out, "550", "5.7.1", reply);
}

/* msg_rewrite - delete the fields to remove, insert ours, continue: one write with the reply. */
static size_t msg_rewrite(mconn *c, milter_msg *m)
{
    char value[AUTHRES_FIELD_MAX];
    hygiene_removal rm;
    size_t removed = 0;

    while (hygiene_next_removal(&m->hyg, &rm)) {
        mproto_put_header(&c->out, SMFIR_CHGHEADER, (uint32_t) rm.index, hygiene_name_text(rm.name), "");
        removed++;
    }
    results_header_value(m->snap, m->res, true, value, sizeof(value));
    mproto_put_header(&c->out, SMFIR_INSHEADER, 0, HYGIENE_FIELD, value);
    mproto_put(&c->out, SMFIR_CONTINUE, NULL, 0);
    return removed;
}

/* milter_msg_eom - end of message: answer it, or wait for the verdicts. */
bool milter_msg_eom(mconn *c)
{
    milter_msg *m = c->msg;
    const char *source = "";
    char summary[600];
    size_t removed;
    long long now = clock_now_ms();
    bool late;

    if (!m->at_eom) {
        struct timeval tv;

        m->at_eom = true;
        m->deadline_ms = now + (long long) m->snap->cfg.dns_timeout * 1000 + MILTER_WAIT_SLACK_MS;
        tv.tv_sec = (time_t) ((m->deadline_ms - now) / 1000);
        tv.tv_usec = (suseconds_t) (((m->deadline_ms - now) % 1000) * 1000);
        event_add(c->wake, &tv);
    }
    late = now >= m->deadline_ms;
    if (m->hyg.too_many) {
        msg_reject_too_many(c, m);
        metrics_milter_message(danced_metrics(c->mf->d), 0);
        milter_msg_end(c);
        return true;
    }
    if (!msg_verdicts(c, m, late, &source)) {
        if (!event_pending(c->wake, EV_TIMEOUT, NULL)) {   /* woken early: wait for the rest */
            struct timeval tv = { (time_t) ((m->deadline_ms - now) / 1000),
                                  (suseconds_t) (((m->deadline_ms - now) % 1000) * 1000) };

            event_add(c->wake, &tv);
        }
        return false;
    }
    removed = msg_rewrite(c, m);
    metrics_milter_message(danced_metrics(c->mf->d), removed);
    msg_summary(m->res, summary, sizeof(summary));
    dlog_msg(msg_log(c), LOG_INFO, "milter: queue id %s client %s: %s (%s); removed %zu "
             "Authentication-Results field%s (%zu ours, %zu under ours, %zu listed, %zu unparseable), "
             "kept %zu (%zu trusted)", msg_queue_id(c), c->addr[0] ? c->addr : "?", summary, source,
             removed, removed == 1 ? "" : "s", m->removed_by[HYGIENE_REMOVE_OURS],
             m->removed_by[HYGIENE_REMOVE_SUBDOMAIN], m->removed_by[HYGIENE_REMOVE_LISTED],
             m->removed_by[HYGIENE_REMOVE_UNPARSEABLE],
             m->removed_by[HYGIENE_KEEP_OTHER] + m->removed_by[HYGIENE_KEEP_TRUSTED],
             m->removed_by[HYGIENE_KEEP_TRUSTED]);
    milter_msg_end(c);
    return true;
}

/* milter_msg_abort - the MTA aborted the message: its verdicts will not be asked for. */
void milter_msg_abort(mconn *c)
{
    milter_msg *m = c->msg;
    const char *qid = milter_macro_value(c, MILTER_MAC_QUEUE_ID);

    if (m == NULL)
        return;
    if (!m->checking && danced_join(c->mf->d) != NULL
        && join_make_key(qid != NULL ? qid : "", c->addr, c->port, &m->key) == JOIN_KEY_OK)
        join_discard(danced_join(c->mf->d), &m->key);
    milter_msg_end(c);
}

/* milter_msg_end - forget the message. */
void milter_msg_end(mconn *c)
{
    milter_msg *m = c->msg;

    if (m == NULL)
        return;
    if (m->waits_join)
        join_cancel_wait(danced_join(c->mf->d), &m->key, c);
    for (int k = 0; k < RESULTS_KINDS; k++)
        dnsloop_slot_abort(&m->check[k].slot);
    event_del(c->wake);
    evidence_free(m->ev);
    snapshot_unref(m->snap);
    free(m);
    c->msg = NULL;
    if (c->mf->messages == 0)
        DANCE_PANIC("more ends than beginnings");
    c->mf->messages--;
}
