/*
 * milter.c - danced's milter face (libmilter).
 *
 * USAGE
 *	milter_open(d, cfg->milter_socket, cfg->socket_mode, cfg->socket_group, err, size);
 *	... daemonize, drop privileges, event base, resolver, handoff ...
 *	milter_start(d, err, size);
 *	... SIGTERM: milter_stop(d); ... wait for milter_idle(d) ...
 *	milter_shutdown(d, 2000); milter_free(d);
 *
 * DESCRIPTION
 *	Negotiation asks for header changes and additions, for no body or
 *	unknown commands, and for no reply to each header field (the MTA
 *	streams them; one round trip per message instead of one per
 *	field).  RCPT and DATA are taken and answered at once (see
 *	milter_ack_rcpt), and the listening socket has TCP_NODELAY: both
 *	to keep TCP's delayed acknowledgements out of the message path
 *	(measured: 90 ms per message without, on loopback).  When the MTA allows it, the macros are requested per
 *	stage with smfi_setsymlist(), naming every stage that is used
 *	(Postfix 3.7.11, measured, replaces the lists of the stages named
 *	and keeps its milter_*_macros for the others):
 *	    connect   v {client_name} {client_resolve}
 *	    HELO      {tls_version} {cert_fp} {verify}
 *	    MAIL      i {tls_version} {cert_fp} {verify}
 *	    EOH, EOM  i
 *	The client's address and port come from the connect callback's
 *	sockaddr.  Macro values are copied at once (libmilter's pointers
 *	die at the next command); a value that does not fit its buffer is
 *	dropped whole, never cut, so a long name can not turn into a
 *	shorter valid one.
 *
 *	Per message (MAIL FROM to end of message or abort) the milter
 *	holds a configuration snapshot, classifies every
 *	Authentication-Results field as it passes (hygiene.h), and at end
 *	of message finds the verdicts, in this order:
 *	  1. Sendmail mode - the MTA passed {cert_fp}: the checks of the
 *	     claimed names (EHLO name, MAIL FROM domain, and with
 *	     {client_resolve} OK the client's host name) were handed to
 *	     the event loop at MAIL FROM; wait for them.  {cert_fp} is the
 *	     certificate's digest in fingerprint_digest, so only "3 0 x"
 *	     records are usable.
 *	  2. Postfix mode - the policy face recorded this message's
 *	     verdicts at DATA: take them from the join store by queue id,
 *	     client address and client port (waiting while they are still
 *	     being computed).
 *	  3. Otherwise dane=none with the reason: no TLS; no client
 *	     certificate ({verify} NO or NOT); or, for a TLS message,
 *	     "no verdict from the policy service" together with a
 *	     configuration warning that names the missing main.cf line
 *	     (at most once a minute, with a count of those not logged).
 *	Waiting is bounded by dns_timeout + MILTER_WAIT_SLACK_MS; a
 *	verdict not ready by then is temperror, never a guess.  Then the
 *	fields to remove are deleted from the highest index down
 *	(Postfix renumbers after each delete), our field is inserted at
 *	index 0 - above everything, the MTA's own Received: included -
 *	and one log line sums up the message.  More than
 *	HYGIENE_REMOVE_MAX fields to remove make the message rejected
 *	(550 5.7.1): nobody writes that many legitimately.
 *
 *	Threads and lifetime: libmilter's callbacks get no user pointer,
 *	so the face is reached through one static pointer, set once in
 *	milter_open().  Every callback enters through milter_enter(),
 *	which counts it as busy; after milter_stop() new connections and
 *	new messages are answered tempfail (the MTA retries; nothing is
 *	lost and no forged field slips through unremoved), while messages
 *	already under way may finish.  When the face becomes idle while
 *	stopping, and when libmilter's listener ends, the loop is woken
 *	through an event (libevent with pthread support).
 *	milter_shutdown() refuses every callback, so the shared state can
 *	be freed once the busy ones have returned.
 *
 *	Signals: libmilter's own signal thread would end the milter on
 *	SIGHUP, SIGTERM and SIGINT.  smfi_main() blocks those signals in
 *	the thread that calls it (inherited by its workers and its signal
 *	thread, which waits for them with sigwait()); danced calls it from
 *	a thread of its own and keeps the signals unblocked on the main
 *	thread, to which Linux delivers a process-directed signal whenever
 *	that thread does not block it - with handlers that never block
 *	them either (danced.c).  So SIGHUP reloads both faces and SIGTERM
 *	drains both; measured: 20,000 SIGHUPs in a burst, the milter still
 *	serving (with libevent's handlers, which block every signal while
 *	they run, a burst of 3,000 ended the milter).
 *
 * DIAGNOSTICS
 *	Configuration problems (no verdict for a TLS message, an MTA that
 *	does not allow header changes, a {cert_fp} of the wrong length)
 *	are logged as warnings or errors naming the fix.  libmilter
 *	failures to change the header are logged per message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "milter.h"
#include "handoff.h"
#include "hygiene.h"
#include "join.h"
#include "memo.h"
#include "server.h"

#define MILTER_NAME "danced"
#define MILTER_BACKLOG 128
#define MILTER_TIMEOUT_S 600          /* I/O with the MTA (libmilter's default is 7210) */
#define MILTER_WAIT_SLACK_MS 2000     /* waiting for verdicts: dns_timeout plus this */
#define MILTER_WARN_EVERY_MS 60000    /* a repeated configuration warning at most this often */
#define MILTER_ENDPOINT_MAX 300
#define MILTER_CONN_MAX 320           /* libmilter's "inet6:PORT@ADDRESS" form */
#define MILTER_MACRO_MAX 256          /* a copied macro value (v, {verify}, ...) */
#define MILTER_FP_MAX 200             /* {cert_fp}: SHA-512 as colon hex is 191 */
#define MILTER_HELO_MAX 256
#define MILTER_SENDER_MAX 520         /* a path is at most 256 octets (RFC 5321) */
#define MILTER_PORT_MAX 8

/* One MTA connection (the libmilter private data). */
typedef struct milter_conn {
    char addr[INET6_ADDRSTRLEN];      /* client address, "" when the MTA gave none */
    char port[MILTER_PORT_MAX];
    char mta[MILTER_MACRO_MAX];       /* the v macro: "Postfix 3.7.11", "8.17.1" */
    char ptr[MILTER_HELO_MAX];        /* {client_name} when {client_resolve} is OK, else "" */
    char helo[MILTER_HELO_MAX];
    bool helo_bad;                    /* the EHLO argument did not fit: invalid */
    bool tls;                         /* {tls_version} was seen */
    bool nr_hdr;                      /* header fields get no reply (negotiated) */
    char verify[MILTER_MACRO_MAX];    /* {verify}, "" when never passed */
    char cert_fp[MILTER_FP_MAX];      /* {cert_fp}, "" when never passed */
    /* the message in progress */
    bool in_message;
    snapshot *snap;
    char sender[MILTER_SENDER_MAX];
    bool sender_bad;
    char queue_id[JOIN_QUEUE_ID_MAX + 1];
    handoff_job *job;                 /* Sendmail mode: the checks in progress */
    size_t removed_by[HYGIENE_TOO_MANY + 1];
    hygiene hyg;
} milter_conn;

struct milter_face {
    danced *d;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;             /* guards what follows */
    unsigned busy;                    /* callbacks running */
    unsigned messages;                /* messages between MAIL FROM and their end */
    bool closing;                     /* milter_stop(): no new connections or messages */
    bool shut;                        /* milter_shutdown(): no callbacks at all */
    bool listener_done;               /* smfi_main() returned */
    pthread_cond_t idle;              /* busy reached 0 (for milter_shutdown) */
    long long warned_ms;              /* the last "no verdict" warning */
    unsigned long warn_suppressed;
    struct event *notify;             /* wakes the loop (idle while closing, listener done) */
    char endpoint[MILTER_ENDPOINT_MAX];
    char unix_path[108];              /* "" for inet */
};

/* libmilter passes no user pointer: the face, set once by milter_open(). */
static milter_face *milter_self;

/* ------------------------------------------------------------ utilities */

/* milter_copy - copy src into dst[size] whole; false (dst "") when it does not fit or is NULL. */
static bool milter_copy(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (src == NULL || n >= size) {
        dst[0] = '\0';
        return src == NULL;
    }
    memcpy(dst, src, n + 1);
    return true;
}

/* milter_macro - copy macro name into dst when the MTA defined it; true when it did. */
static bool milter_macro(SMFICTX *ctx, const char *name, char *dst, size_t size)
{
    char buf[32];
    const char *v;

    snprintf(buf, sizeof(buf), "%s", name);
    if ((v = smfi_getsymval(ctx, buf)) == NULL)
        return false;
    (void) milter_copy(dst, size, v);
    return true;
}

/* milter_tls_macros - note TLS and the certificate macros the MTA passes at this stage. */
static void milter_tls_macros(SMFICTX *ctx, milter_conn *c)
{
    char v[MILTER_MACRO_MAX];

    if (milter_macro(ctx, "{tls_version}", v, sizeof(v)) && v[0] != '\0')
        c->tls = true;
    if (milter_macro(ctx, "{cert_fp}", v, sizeof(v)) && v[0] != '\0')
        (void) milter_copy(c->cert_fp, sizeof(c->cert_fp), v);
    (void) milter_macro(ctx, "{verify}", c->verify, sizeof(c->verify));
}

/* milter_wake - have the loop look at the face (idle, listener ended); nothing once it is freed. */
static void milter_wake(milter_face *mf)
{
    pthread_mutex_lock(&mf->lock);
    if (mf->notify != NULL)
        event_active(mf->notify, EV_READ, 0);
    pthread_mutex_unlock(&mf->lock);
}

/* milter_enter - count a callback as busy; false (answer tempfail) when the face is shut, or
 * closing and starting is set (a new connection or message). */
static bool milter_enter(bool starting)
{
    milter_face *mf = milter_self;
    bool ok;

    pthread_mutex_lock(&mf->lock);
    ok = !mf->shut && !(starting && mf->closing);
    if (ok)
        mf->busy++;
    pthread_mutex_unlock(&mf->lock);
    return ok;
}

/* milter_leave - a callback returns; messages moves by delta (+1 a message began, -1 it ended). */
static void milter_leave(int delta)
{
    milter_face *mf = milter_self;
    bool wake;

    pthread_mutex_lock(&mf->lock);
    if (mf->busy == 0 || (delta < 0 && mf->messages == 0))
        abort();                /* broken invariant: unbalanced enter/leave */
    mf->busy--;
    mf->messages = (unsigned) ((int) mf->messages + delta);
    wake = mf->closing && mf->busy == 0 && mf->messages == 0;
    if (mf->busy == 0)
        pthread_cond_broadcast(&mf->idle);
    pthread_mutex_unlock(&mf->lock);
    if (wake)
        milter_wake(mf);
}

/* milter_message_end - forget the message in progress; returns -1 when there was one (for milter_leave). */
static int milter_message_end(milter_conn *c)
{
    if (!c->in_message)
        return 0;
    handoff_release(c->job);
    c->job = NULL;
    snapshot_unref(c->snap);
    c->snap = NULL;
    c->in_message = false;
    return -1;
}

/* milter_key - the join key of the message; false when the queue id or client is unusable. */
static bool milter_key(const milter_conn *c, join_key *key)
{
    return join_make_key(c->queue_id, c->addr, c->port, key) == JOIN_KEY_OK;
}

/* ------------------------------------------------------------ verdicts */

/* milter_claimed - the claimed names of the message for the configured identities. */
static void milter_claimed(const milter_conn *c, const snapshot *snap, const char *claimed[DECIDE_KINDS],
                           char buf[DECIDE_KINDS][IDENTITY_NAME_MAX])
{
    const char *value[DECIDE_KINDS];

    value[DECIDE_HELO] = c->helo_bad ? "(EHLO argument too long)" : c->helo;
    value[DECIDE_MAILFROM] = c->sender_bad ? "(MAIL FROM address too long)" : c->sender;
    value[DECIDE_PTR] = c->ptr;
    for (int k = 0; k < DECIDE_KINDS; k++) {
        claimed[k] = NULL;
        if (snap->cfg.identities & decide_kind_bit((decide_kind) k))
            claimed[k] = decide_claimed_value((decide_kind) k, value[k], buf[k]);
    }
}

/* milter_results_all - the same result and reason for every claimed identity (no DNS). */
static void milter_results_all(const milter_conn *c, const snapshot *snap, verdict_result result,
                               const char *reason, decide_result res[DECIDE_KINDS])
{
    const char *claimed[DECIDE_KINDS];
    char buf[DECIDE_KINDS][IDENTITY_NAME_MAX], name[IDENTITY_NAME_MAX];

    milter_claimed(c, snap, claimed, buf);
    for (int k = 0; k < DECIDE_KINDS; k++) {
        decide_result *r = &res[k];

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

/* milter_start_checks - Sendmail mode: hand the checks of this message to the event loop. */
static void milter_start_checks(milter_face *mf, milter_conn *c)
{
    const char *claimed[DECIDE_KINDS];
    char buf[DECIDE_KINDS][IDENTITY_NAME_MAX];
    digest_alg alg = c->snap->cfg.fingerprint_digest;
    evidence *ev = evidence_new();
    evidence_status st = evidence_add_digest(ev, 0, alg, c->cert_fp);
    size_t hex = 0;

    if (st == EVIDENCE_BAD_LENGTH || st == EVIDENCE_WEAK_DIGEST) {
        for (const char *p = c->cert_fp; *p != '\0'; p++)
            hex += *p != ':';
        if (danced_first_digest_warning(mf->d))
            dlog_msg(&mf->d->log, LOG_ERR, "CONFIGURATION ERROR: {cert_fp} from the MTA has %zu octets, "
                     "but fingerprint_digest is %s (%zu octets); certificates are ignored until this "
                     "is fixed: in sendmail.mc, define(`confCERT_FINGERPRINT_ALGORITHM', `%s') "
                     "(or set fingerprint_digest in dance.conf to match) (logged once)", hex / 2,
                     alg == DIGEST_SHA512 ? "sha512" : "sha256", evidence_digest_len(alg),
                     alg == DIGEST_SHA512 ? "sha512" : "sha256");
    } else if (st != EVIDENCE_OK) {
        dlog_msg(&mf->d->log, LOG_WARNING, "milter: client %s: {cert_fp} ignored: %s", c->addr,
                 evidence_status_str(st));
    }
    milter_claimed(c, c->snap, claimed, buf);
    c->job = handoff_submit(mf->d->handoff, c->snap, ev, claimed, c->addr);
}

/* milter_warn_missing - the rate-limited configuration warning for a TLS message without a verdict. */
static void milter_warn_missing(milter_face *mf, const milter_conn *c, bool policy_face)
{
    long long now = memo_now_ms();
    unsigned long suppressed = 0;
    bool warn;

    pthread_mutex_lock(&mf->lock);
    warn = mf->warned_ms == 0 || now - mf->warned_ms >= MILTER_WARN_EVERY_MS;
    if (warn) {
        mf->warned_ms = now;
        suppressed = mf->warn_suppressed;
        mf->warn_suppressed = 0;
    } else {
        mf->warn_suppressed++;
    }
    pthread_mutex_unlock(&mf->lock);
    if (!warn)
        return;
    if (strncasecmp(c->mta, "Postfix", 7) == 0 || c->mta[0] == '\0')
        dlog_msg(&mf->d->log, LOG_WARNING, "CONFIGURATION: queue id %s from %s came over TLS but %s; "
                 "it gets dane=none: Postfix passes certificates only to the policy service, so add "
                 "\"check_policy_service <danced's policy_socket>\" to smtpd_data_restrictions in "
                 "main.cf%s (see contrib/postfix/main.cf)%s%lu such messages not logged",
                 c->queue_id[0] ? c->queue_id : "?", c->addr[0] ? c->addr : "?",
                 policy_face ? "the policy service recorded no verdict for it"
                             : "danced's policy face is off (policy_socket = none)",
                 policy_face ? "" : " and set policy_socket in dance.conf",
                 suppressed ? "; " : "", suppressed);
    else
        dlog_msg(&mf->d->log, LOG_WARNING, "CONFIGURATION: queue id %s from %s came over TLS but the "
                 "MTA (%s) passed no {cert_fp}; it gets dane=none: see contrib/sendmail/ for the "
                 "macros to pass%s%lu such messages not logged",
                 c->queue_id[0] ? c->queue_id : "?", c->addr[0] ? c->addr : "?", c->mta,
                 suppressed ? "; " : "", suppressed);
}

/* milter_verdicts - the results for the message at end of message; *source says where they came from. */
static void milter_verdicts(milter_face *mf, milter_conn *c, decide_result res[DECIDE_KINDS],
                            const char **source)
{
    long long now = memo_now_ms();
    long long deadline = now + (long long) c->snap->cfg.dns_timeout * 1000 + MILTER_WAIT_SLACK_MS;
    join_key key;

    if (c->job != NULL) {
        *source = "checked by the milter ({cert_fp})";
        if (!handoff_wait(c->job, deadline, res))
            milter_results_all(c, c->snap, VERDICT_TEMPERROR, "verdict not ready in time", res);
        return;
    }
    if (mf->d->join != NULL && milter_key(c, &key)) {
        switch (join_take(mf->d->join, &key, now, deadline, res)) {
        case JOIN_FOUND:
            *source = "from the policy service";
            return;
        case JOIN_NOT_READY:
            *source = "policy service too slow";
            milter_results_all(c, c->snap, VERDICT_TEMPERROR, "policy verdict not ready in time", res);
            return;
        case JOIN_ABANDONED:
            *source = "policy request abandoned";
            milter_results_all(c, c->snap, VERDICT_TEMPERROR, "policy request ended without a verdict",
                               res);
            return;
        case JOIN_MISSING:
            break;
        }
    }
    if (!c->tls) {
        *source = "no TLS";
        milter_results_all(c, c->snap, VERDICT_NONE, "no TLS", res);
    } else if (strcasecmp(c->verify, "NO") == 0) {
        *source = "{verify} NO";
        milter_results_all(c, c->snap, VERDICT_NONE, "no client certificate", res);
    } else if (strcasecmp(c->verify, "NOT") == 0) {
        *source = "{verify} NOT";
        milter_results_all(c, c->snap, VERDICT_NONE, "client certificate not requested", res);
    } else {
        *source = "no verdict (configuration)";
        milter_warn_missing(mf, c, mf->d->join != NULL);
        milter_results_all(c, c->snap, VERDICT_NONE, "no verdict from the policy service", res);
    }
}

/* milter_summary - "dane=pass smtp.helo=a, dane=none smtp.mailfrom=b" for the log. */
static void milter_summary(const decide_result res[DECIDE_KINDS], char *out, size_t size)
{
    static const char *const prop[DECIDE_KINDS] = { "smtp.helo", "smtp.mailfrom", "policy.ptr" };
    size_t len = 0;

    out[0] = '\0';
    for (int k = 0; k < DECIDE_KINDS && len < size; k++) {
        if (!res[k].present)
            continue;
        len += (size_t) snprintf(out + len, size - len, "%sdane=%s %s=%s", len ? ", " : "",
                                 verdict_result_word(res[k].result), prop[k],
                                 res[k].name[0] ? res[k].name : "(invalid)");
    }
    if (out[0] == '\0')
        snprintf(out, size, "none (no identity)");
}

/* ------------------------------------------------------------ callbacks */

static sfsistat milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                                 unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                                 unsigned long *pf2, unsigned long *pf3)
{
    static const struct { int stage; const char *list; } macros[] = {
        { SMFIM_CONNECT, "v {client_name} {client_resolve}" },
        { SMFIM_HELO, "{tls_version} {cert_fp} {verify}" },
        { SMFIM_ENVFROM, "i {tls_version} {cert_fp} {verify}" },
        { SMFIM_EOH, "i" },
        { SMFIM_EOM, "i" },
    };
    const unsigned long skip = SMFIP_NOBODY | SMFIP_NOUNKNOWN;
    milter_face *mf = milter_self;
    milter_conn *c;

    (void) f2;
    (void) f3;
    if (!milter_enter(true))
        return SMFIS_TEMPFAIL;
    if ((f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) != (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) {
        dlog_msg(&mf->d->log, LOG_ERR, "milter: the MTA does not let milters add and delete header "
                 "fields (offered actions 0x%lx): danced cannot work with it", f0);
        milter_leave(0);
        return SMFIS_REJECT;
    }
    *pf0 = SMFIF_ADDHDRS | SMFIF_CHGHDRS | (f0 & SMFIF_SETSYMLIST);
    *pf1 = f1 & (skip | SMFIP_NR_HDR);
    *pf2 = 0;
    *pf3 = 0;
    if ((c = calloc(1, sizeof(*c))) == NULL)   /* the connection's state starts here */
        abort();
    c->nr_hdr = (*pf1 & SMFIP_NR_HDR) != 0;
    smfi_setpriv(ctx, c);
    if (f0 & SMFIF_SETSYMLIST) {
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            char list[64];

            snprintf(list, sizeof(list), "%s", macros[i].list);
            if (smfi_setsymlist(ctx, macros[i].stage, list) != MI_SUCCESS)
                dlog_msg(&mf->d->log, LOG_WARNING, "milter: cannot ask for the macros \"%s\"",
                         macros[i].list);
        }
    }
    milter_leave(0);
    return SMFIS_CONTINUE;
}

static sfsistat milter_connect(SMFICTX *ctx, char *hostname, struct sockaddr *sa)
{
    milter_conn *c;
    char resolve[MILTER_MACRO_MAX], name[MILTER_HELO_MAX];

    (void) hostname;            /* Sendmail's may be unverified: {client_resolve} decides */
    if (!milter_enter(true))
        return SMFIS_TEMPFAIL;
    if ((c = smfi_getpriv(ctx)) == NULL && (c = calloc(1, sizeof(*c))) == NULL)
        abort();                /* made by milter_negotiate, unless the MTA skipped it */
    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) (const void *) sa;

        inet_ntop(AF_INET, &in->sin_addr, c->addr, sizeof(c->addr));
        snprintf(c->port, sizeof(c->port), "%u", (unsigned) ntohs(in->sin_port));
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) (const void *) sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, c->addr, sizeof(c->addr));
        snprintf(c->port, sizeof(c->port), "%u", (unsigned) ntohs(in6->sin6_port));
    }
    (void) milter_macro(ctx, "v", c->mta, sizeof(c->mta));
    if (milter_macro(ctx, "{client_resolve}", resolve, sizeof(resolve)) && strcmp(resolve, "OK") == 0
        && milter_macro(ctx, "{client_name}", name, sizeof(name)) && name[0] != '[')
        (void) milter_copy(c->ptr, sizeof(c->ptr), name);
    smfi_setpriv(ctx, c);
    milter_leave(0);
    return SMFIS_CONTINUE;
}

static sfsistat milter_helo(SMFICTX *ctx, char *helo)
{
    milter_conn *c;

    if (!milter_enter(true))
        return SMFIS_TEMPFAIL;
    if ((c = smfi_getpriv(ctx)) != NULL) {
        c->helo_bad = !milter_copy(c->helo, sizeof(c->helo), helo);
        milter_tls_macros(ctx, c);
    }
    milter_leave(0);
    return SMFIS_CONTINUE;
}

/* milter_sender - the envelope sender without its angle brackets into c (bad when too long). */
static void milter_sender(milter_conn *c, const char *arg)
{
    size_t n;

    if (arg == NULL)
        arg = "";
    while (*arg == ' ')
        arg++;
    if (*arg == '<')
        arg++;
    n = strlen(arg);
    if (n > 0 && arg[n - 1] == '>')
        n--;
    c->sender_bad = n >= sizeof(c->sender);
    if (c->sender_bad)
        n = 0;
    memcpy(c->sender, arg, n);
    c->sender[n] = '\0';
}

static sfsistat milter_envfrom(SMFICTX *ctx, char **argv)
{
    milter_face *mf = milter_self;
    milter_conn *c;
    int delta;

    if (!milter_enter(true))
        return SMFIS_TEMPFAIL;
    if ((c = smfi_getpriv(ctx)) == NULL) {
        milter_leave(0);
        return SMFIS_CONTINUE;
    }
    delta = milter_message_end(c);      /* an earlier message without end or abort */
    c->in_message = true;
    delta++;
    c->snap = danced_snapshot(mf->d);
    milter_sender(c, argv != NULL ? argv[0] : NULL);
    c->queue_id[0] = '\0';
    (void) milter_macro(ctx, "i", c->queue_id, sizeof(c->queue_id));
    milter_tls_macros(ctx, c);
    memset(c->removed_by, 0, sizeof(c->removed_by));
    hygiene_init(&c->hyg);
    if (c->cert_fp[0] != '\0')
        milter_start_checks(mf, c);
    milter_leave(delta);
    return SMFIS_CONTINUE;
}

/*
 * milter_ack - RCPT and DATA: nothing to do but answer.  They are not
 * skipped on purpose: Postfix sends their macros anyway, and a packet that
 * gets no reply leaves the next one waiting for a delayed TCP ACK (Nagle),
 * 40 ms per message on an inet: socket.
 */
static sfsistat milter_ack_rcpt(SMFICTX *ctx, char **argv)
{
    (void) ctx;
    (void) argv;
    return SMFIS_CONTINUE;
}

static sfsistat milter_ack_data(SMFICTX *ctx)
{
    (void) ctx;
    return SMFIS_CONTINUE;
}

static sfsistat milter_header(SMFICTX *ctx, char *name, char *value)
{
    milter_conn *c;
    hygiene_verdict v;
    bool noreply;

    if (!milter_enter(false))
        return SMFIS_TEMPFAIL;
    c = smfi_getpriv(ctx);
    noreply = c != NULL && c->nr_hdr;
    if (c != NULL && c->in_message) {
        const config_list *t = &c->snap->cfg.trusted_authserv_ids;

        v = hygiene_header(&c->hyg, name, value, c->snap->servid, (const char *const *) t->v, t->n,
                           NULL, 0);
        c->removed_by[v]++;
    }
    milter_leave(0);
    return noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat milter_eoh(SMFICTX *ctx)
{
    milter_conn *c;

    if (!milter_enter(false))
        return SMFIS_TEMPFAIL;
    if ((c = smfi_getpriv(ctx)) != NULL && c->in_message)
        (void) milter_macro(ctx, "i", c->queue_id, sizeof(c->queue_id));
    milter_leave(0);
    return SMFIS_CONTINUE;
}

/* milter_rewrite - delete the fields to remove and insert ours; false when libmilter refused. */
static bool milter_rewrite(SMFICTX *ctx, milter_conn *c, const decide_result res[DECIDE_KINDS],
                           size_t *removed)
{
    char name[] = HYGIENE_FIELD;
    char value[AUTHRES_FIELD_MAX];
    size_t idx;
    bool ok = true;

    *removed = 0;
    while (hygiene_next_removal(&c->hyg, &idx)) {
        if (smfi_chgheader(ctx, name, (int) idx, NULL) != MI_SUCCESS)
            ok = false;
        else
            (*removed)++;
    }
    decide_header_value(c->snap, res, true, value, sizeof(value));
    if (smfi_insheader(ctx, 0, name, value) != MI_SUCCESS)
        ok = false;
    return ok;
}

static sfsistat milter_eom(SMFICTX *ctx)
{
    milter_face *mf = milter_self;
    milter_conn *c;
    decide_result res[DECIDE_KINDS];
    const char *source = "";
    char summary[600], reply[400];
    sfsistat st = SMFIS_CONTINUE;
    size_t removed;
    join_key key;

    if (!milter_enter(false))
        return SMFIS_TEMPFAIL;
    if ((c = smfi_getpriv(ctx)) == NULL || !c->in_message) {
        milter_leave(0);
        return SMFIS_CONTINUE;
    }
    (void) milter_macro(ctx, "i", c->queue_id, sizeof(c->queue_id));
    if (c->hyg.too_many) {
        if (c->job == NULL && mf->d->join != NULL && milter_key(c, &key))
            join_discard(mf->d->join, &key);    /* its verdict is not needed */
        dlog_msg(&mf->d->log, LOG_WARNING, "milter: queue id %s from %s: more than %d "
                 "Authentication-Results fields claim authserv-id %s; message rejected",
                 c->queue_id[0] ? c->queue_id : "?", c->addr, HYGIENE_REMOVE_MAX, c->snap->servid);
        snprintf(reply, sizeof(reply), "more than %d Authentication-Results fields claim to be from %s",
                 HYGIENE_REMOVE_MAX, c->snap->servid);
        smfi_setreply(ctx, (char *) "550", (char *) "5.7.1", reply);
        st = SMFIS_REJECT;
    } else {
        milter_verdicts(mf, c, res, &source);
        if (!milter_rewrite(ctx, c, res, &removed)) {
            dlog_msg(&mf->d->log, LOG_ERR, "milter: queue id %s: the MTA refused a header change; "
                     "deferring the message", c->queue_id[0] ? c->queue_id : "?");
            st = SMFIS_TEMPFAIL;
        }
        milter_summary(res, summary, sizeof(summary));
        dlog_msg(&mf->d->log, LOG_INFO, "milter: queue id %s client %s: %s (%s); "
                 "removed %zu Authentication-Results field%s (%zu ours, %zu under ours, %zu unparseable), "
                 "kept %zu (%zu trusted)",
                 c->queue_id[0] ? c->queue_id : "?", c->addr[0] ? c->addr : "?", summary, source,
                 removed, removed == 1 ? "" : "s", c->removed_by[HYGIENE_REMOVE_OURS],
                 c->removed_by[HYGIENE_REMOVE_SUBDOMAIN], c->removed_by[HYGIENE_REMOVE_UNPARSEABLE],
                 c->removed_by[HYGIENE_KEEP_OTHER] + c->removed_by[HYGIENE_KEEP_TRUSTED],
                 c->removed_by[HYGIENE_KEEP_TRUSTED]);
    }
    milter_leave(milter_message_end(c));
    return st;
}

static sfsistat milter_abort(SMFICTX *ctx)
{
    milter_face *mf = milter_self;
    milter_conn *c;
    join_key key;

    if (!milter_enter(false))
        return SMFIS_CONTINUE;
    if ((c = smfi_getpriv(ctx)) == NULL) {
        milter_leave(0);
        return SMFIS_CONTINUE;
    }
    if (c->in_message && c->job == NULL && mf->d->join != NULL && milter_key(c, &key))
        join_discard(mf->d->join, &key);        /* its verdict will not be asked for */
    milter_leave(milter_message_end(c));
    return SMFIS_CONTINUE;
}

static sfsistat milter_close(SMFICTX *ctx)
{
    milter_conn *c;
    int delta = 0;

    if (!milter_enter(false))
        return SMFIS_CONTINUE;  /* shut: danced is exiting; the memory goes with it */
    if ((c = smfi_getpriv(ctx)) != NULL) {     /* NULL: close without connect */
        delta = milter_message_end(c);
        smfi_setpriv(ctx, NULL);
        free(c);
    }
    milter_leave(delta);
    return SMFIS_CONTINUE;
}

/* -------------------------------------------------------------- the face */

static struct smfiDesc milter_desc = {
    (char *) MILTER_NAME,
    SMFI_VERSION,
    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST,
    milter_connect,
    milter_helo,
    milter_envfrom,
    milter_ack_rcpt,
    milter_header,
    milter_eoh,
    NULL,                       /* body */
    milter_eom,
    milter_abort,
    milter_close,
    NULL,                       /* unknown */
    milter_ack_data,
    milter_negotiate,
};

static milter_status milter_fail(milter_status st, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static milter_status milter_fail(milter_status st, char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return st;
}

/* milter_conn_spec - libmilter's spelling of an endpoint: inet:PORT@HOST, inet6:PORT@ADDR, unix:PATH. */
static void milter_conn_spec(const config_endpoint *ep, char *out, size_t size)
{
    if (ep->family == AF_UNIX)
        snprintf(out, size, "unix:%s", ep->path);
    else
        snprintf(out, size, "%s:%u@%s", ep->family == AF_INET6 ? "inet6" : "inet", ep->port, ep->host);
}

/*
 * milter_nodelay - set TCP_NODELAY on libmilter's listening socket (found by
 * its port: libmilter keeps the descriptor to itself); Linux passes it on to
 * every accepted connection.  Without it, libmilter's separate writes at end
 * of message (the header changes, then the reply) wait for Postfix's delayed
 * ACK: 40 ms per message.  False when no such socket was found.
 */
static bool milter_nodelay(const config_endpoint *ep)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int on = 1, listening;

    for (int fd = 0; fd < 1024; fd++) {
        len = sizeof(listening);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
            continue;
        len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *) &ss, &len) != 0)
            continue;
        if ((ss.ss_family == AF_INET
             && ntohs(((const struct sockaddr_in *) (const void *) &ss)->sin_port) == ep->port)
            || (ss.ss_family == AF_INET6
                && ntohs(((const struct sockaddr_in6 *) (const void *) &ss)->sin6_port) == ep->port))
            return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0;
    }
    return false;
}

/* milter_open - register with libmilter and bind endpoint. */
milter_status milter_open(danced *d, const char *endpoint, unsigned mode, const char *group,
                          char *err, size_t errsize)
{
    milter_face *mf;
    config_endpoint ep;
    char why[256], spec[MILTER_CONN_MAX];
    server_status sst;
    mode_t old;
    int rc;

    if (milter_self != NULL)
        abort();                /* broken invariant: one milter face per process */
    if (endpoint == NULL || strlen(endpoint) >= MILTER_ENDPOINT_MAX)
        return milter_fail(MILTER_BAD_ENDPOINT, err, errsize, "milter_socket: missing or too long");
    if (!config_parse_endpoint(endpoint, &ep, why, sizeof(why)))
        return milter_fail(MILTER_BAD_ENDPOINT, err, errsize, "milter_socket: %s", why);
    if (ep.family == AF_UNIX && group != NULL && *group != '\0' && getgrnam(group) == NULL)
        return milter_fail(MILTER_ENVIRONMENT, err, errsize, "socket_group: no group \"%s\"", group);
    if (ep.family == AF_UNIX && server_unix_clear_stale(ep.path, err, errsize) != SERVER_OK)
        return MILTER_ENVIRONMENT;
    if ((mf = calloc(1, sizeof(*mf))) == NULL)
        abort();
    mf->d = d;
    snprintf(mf->endpoint, sizeof(mf->endpoint), "%s", endpoint);
    if (pthread_mutex_init(&mf->lock, NULL) != 0 || pthread_cond_init(&mf->idle, NULL) != 0)
        abort();
    milter_self = mf;
    d->mface = mf;
    milter_conn_spec(&ep, spec, sizeof(spec));
    if (smfi_setconn(spec) != MI_SUCCESS || smfi_register(milter_desc) != MI_SUCCESS
        || smfi_settimeout(MILTER_TIMEOUT_S) != MI_SUCCESS || smfi_setbacklog(MILTER_BACKLOG) != MI_SUCCESS)
        return milter_fail(MILTER_ENVIRONMENT, err, errsize, "milter_socket: libmilter refused \"%s\"",
                           spec);
    old = umask(077);           /* never reachable wider than socket_mode */
    rc = smfi_opensocket(false);
    umask(old);
    if (rc != MI_SUCCESS)
        return milter_fail(MILTER_ENVIRONMENT, err, errsize, "milter_socket: %s: cannot listen%s%s",
                           endpoint, errno ? ": " : "", errno ? strerror(errno) : "");
    if (ep.family != AF_UNIX && !milter_nodelay(&ep))
        dlog_msg(&d->log, LOG_WARNING, "milter: cannot set TCP_NODELAY on %s: each message may "
                 "wait 40 ms for delayed TCP acknowledgements", endpoint);
    if (ep.family == AF_UNIX) {
        snprintf(mf->unix_path, sizeof(mf->unix_path), "%s", ep.path);
        sst = server_unix_permissions(ep.path, mode, group, err, errsize);
        if (sst != SERVER_OK)
            return MILTER_ENVIRONMENT;
    }
    return MILTER_OK;
}

/* milter_on_notify - (loop) the face became idle while stopping, or the listener ended. */
static void milter_on_notify(evutil_socket_t fd, short what, void *arg)
{
    milter_face *mf = arg;
    bool done;

    (void) fd;
    (void) what;
    pthread_mutex_lock(&mf->lock);
    done = mf->listener_done;
    pthread_mutex_unlock(&mf->lock);
    if (done)
        danced_milter_stopped(mf->d);
    danced_check_done(mf->d);
}

/* milter_thread - run libmilter's listener until it stops. */
static void *milter_thread(void *arg)
{
    milter_face *mf = arg;
    int rc = smfi_main();

    pthread_mutex_lock(&mf->lock);
    mf->listener_done = true;
    pthread_mutex_unlock(&mf->lock);
    if (rc != MI_SUCCESS)
        dlog_msg(&mf->d->log, LOG_ERR, "milter: libmilter's listener on %s failed", mf->endpoint);
    milter_wake(mf);
    return NULL;
}

/* milter_start - run libmilter's listener in its own thread. */
bool milter_start(danced *d, char *err, size_t errsize)
{
    milter_face *mf = d->mface;
    int rc;

    if (mf == NULL || mf->started)
        abort();
    if ((mf->notify = event_new(d->base, -1, 0, milter_on_notify, mf)) == NULL)
        abort();
    if ((rc = pthread_create(&mf->thread, NULL, milter_thread, mf)) != 0) {
        snprintf(err, errsize, "milter: cannot start the listener thread: %s", strerror(rc));
        return false;
    }
    mf->started = true;
    return true;
}

/* milter_stopper - smfi_stop() in a thread of its own: it waits for the listener's select(). */
static void *milter_stopper(void *arg)
{
    (void) arg;
    (void) smfi_stop();
    return NULL;
}

/*
 * milter_stop - stop accepting; new connections and messages are answered
 * tempfail.  smfi_stop() closes the listening socket, but only once
 * libmilter's listener lets go of its mutex, which it holds across a
 * select() of up to 5 s; so it runs in a detached thread and the event
 * loop goes on draining meanwhile.
 */
void milter_stop(danced *d)
{
    milter_face *mf = d->mface;
    pthread_attr_t attr;
    pthread_t t;

    pthread_mutex_lock(&mf->lock);
    mf->closing = true;
    pthread_mutex_unlock(&mf->lock);
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0
        || pthread_create(&t, &attr, milter_stopper, NULL) != 0)
        dlog_msg(&d->log, LOG_WARNING, "milter: cannot start a thread to close the listener; "
                 "new connections are refused (tempfail) until danced exits");
    pthread_attr_destroy(&attr);
}

/* milter_idle - true when no callback runs and no message is under way. */
bool milter_idle(danced *d)
{
    milter_face *mf = d->mface;
    bool idle;

    pthread_mutex_lock(&mf->lock);
    idle = mf->busy == 0 && mf->messages == 0;
    pthread_mutex_unlock(&mf->lock);
    return idle;
}

/* milter_shutdown - refuse every further callback; wait up to timeout_ms for the running ones. */
bool milter_shutdown(danced *d, long timeout_ms)
{
    milter_face *mf = d->mface;
    long long deadline = memo_now_ms() + timeout_ms;
    struct timespec ts;
    bool idle;

    pthread_mutex_lock(&mf->lock);
    mf->shut = true;
    mf->closing = true;
    while (mf->busy > 0 && memo_now_ms() < deadline) {
        /* the condition uses the realtime clock; re-check the monotonic deadline every 50 ms */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void) pthread_cond_timedwait(&mf->idle, &mf->lock, &ts);
    }
    idle = mf->busy == 0;
    pthread_mutex_unlock(&mf->lock);
    return idle;
}

/* milter_endpoint - the endpoint as configured. */
const char *milter_endpoint(const danced *d)
{
    return d->mface != NULL ? d->mface->endpoint : "";
}

/* milter_free - remove the unix socket file and release the face. */
void milter_free(danced *d)
{
    milter_face *mf = d->mface;
    struct stat st;

    if (mf == NULL)
        return;
    if (mf->unix_path[0] != '\0' && lstat(mf->unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
        (void) unlink(mf->unix_path);
    pthread_mutex_lock(&mf->lock);
    if (mf->notify != NULL)
        event_free(mf->notify);
    mf->notify = NULL;
    pthread_mutex_unlock(&mf->lock);
    /* mf itself stays: libmilter's threads may still run (refused by shut) until exit */
    d->mface = NULL;
}
