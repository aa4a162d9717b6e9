/*
 * danced.c - the daemon context's services to the faces, and the life of
 * the faces as a set: registered, started, limited, stopped, freed.
 *
 * USAGE
 *	(a face)	danced_add_face(d, &ops, face, srv);	from its open function
 *			danced_snapshot(d), danced_dns(d), danced_join(d), ...
 *			danced_admit(d, fd, peer, "policy");	on every accept
 *	(main.c)	danced_open_join(d, reader); danced_start_faces(d); ...
 *			danced_stop(d, sig);	(signals.c)	danced_shutdown(d);
 *
 * DESCRIPTION
 *	The faces never see each other: each registers its ops (face.h)
 *	and its listener, and everything here walks the table; the
 *	listeners are the daemon's to start, limit, stop and free.  The one fact both
 *	faces share - which of them writes the Authentication-Results
 *	field - is a boolean of the daemon (danced_header_by_milter), set
 *	by main.c; the values they exchange go through the join store.
 *
 *	Stopping: every face stops accepting and drains (idle connections
 *	close, the others once their request or message is done); the loop
 *	ends when no face has a connection left, or at dns_timeout +
 *	DANCED_GRACE_S, when whatever is left is closed (the MTA applies
 *	its default action).  A second signal stops at once.
 *
 *	The join store reports every DANCED_JOIN_REPORT_S when DATA
 *	verdicts are not collected (the milter is not in smtpd_milters)
 *	or were refused.
 *
 * DIAGNOSTICS
 *	Refused peers and the reports above are logged as warnings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <syslog.h>
#include <event2/event.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/panic.h"
#include "danced_private.h"
#include "dnsloop.h"
#include "join.h"
#include "listen.h"
#include "notify.h"
#include "peer.h"
#include "snapshot.h"
#include "stats.h"
#include "vcache.h"

#define DANCED_GRACE_S 5            /* shutdown: dns_timeout plus this, then close anyway */
#define DANCED_STATUS_S 30          /* under systemd: the STATUS= line is refreshed this often */
#define DANCED_JOIN_REPORT_S 300    /* how often uncollected DATA verdicts are looked for */
#define DANCED_JOIN_STALE_MS (600 * 1000LL) /* a verdict this old was not collected */

struct event_base *danced_base(const danced *d)
{
    return d->base;
}

const dlog *danced_log(const danced *d)
{
    return &d->log;
}

snapshot *danced_snapshot(const danced *d)
{
    return d->snap;
}

dnsloop *danced_dns(const danced *d)
{
    return d->dns;
}

vcache *danced_vcache(const danced *d)
{
    return d->vcache;
}

join *danced_join(const danced *d)
{
    return d->join;
}

bool danced_header_by_milter(const danced *d)
{
    return d->header_by_milter;
}

metrics *danced_metrics(danced *d)
{
    return &d->metrics;
}

bool danced_draining(const danced *d)
{
    return d->draining;
}

/* danced_first_digest_warning - true for the first caller only. */
bool danced_first_digest_warning(danced *d)
{
    bool first = !d->warned_digest;

    d->warned_digest = true;
    return first;
}

/* danced_admit - may the peer of a newly accepted connection use the face? */
bool danced_admit(danced *d, int fd, const char *peer, const char *face)
{
    const snapshot *snap = d->snap;
    char why[160];
    uid_t uid;

    if (snap->peer_any)
        return true;
    if (!peer_uid(fd, &uid, why, sizeof(why))) {
        dlog_msg(&d->log, LOG_WARNING, "%s: %s: refused: its user cannot be told (%s); peer_users "
                 "admits only known local users", face, peer, why);
        return false;
    }
    if (uid == 0)
        return true;
    for (size_t i = 0; i < snap->npeer_uids; i++)
        if (snap->peer_uids[i] == uid)
            return true;
    dlog_msg(&d->log, LOG_WARNING, "%s: %s: refused: user id %lu is not in peer_users", face, peer,
             (unsigned long) uid);
    return false;
}

/* danced_add_face - register an opened face and its listener. */
void danced_add_face(danced *d, const danced_face_ops *ops, void *face, listener *srv)
{
    DANCE_ASSERT(d->nfaces < DANCED_FACES_MAX);
    d->faces[d->nfaces].ops = ops;
    d->faces[d->nfaces].face = face;
    d->faces[d->nfaces].srv = srv;
    d->nfaces++;
}

/* danced_connections - open connections of all faces. */
static size_t danced_connections(const danced *d)
{
    size_t n = 0;

    for (size_t i = 0; i < d->nfaces; i++)
        n += listen_connections(d->faces[i].srv);
    return n;
}

/* danced_face_drained - (listener) while draining, end the loop once no face has a connection left. */
static void danced_face_drained(void *arg)
{
    danced *d = arg;

    if (d->draining && danced_connections(d) == 0)
        event_base_loopexit(d->base, NULL);
}

/* danced_busy_text - "3 policy and 1 milter connections" for the logs. */
static void danced_busy_text(const danced *d, char *out, size_t size)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < d->nfaces && n < size; i++) {
        int w = snprintf(out + n, size - n, "%s%zu %s", i == 0 ? "" : " and ",
                         listen_connections(d->faces[i].srv), d->faces[i].ops->name);

        n += w > 0 ? (size_t) w : 0;
    }
}

/* danced_status_text - "WHAT; 3 policy and 1 milter connections open, 120 verdicts" for systemd. */
static void danced_status_text(const danced *d, const char *what, char *out, size_t size)
{
    char busy[128];

    danced_busy_text(d, busy, sizeof(busy));
    snprintf(out, size, "%s; %s connections open, %llu verdicts", what, busy,
             d->metrics.duration_count);
}

/* danced_notify_ready - READY=1 for systemd, with the status line. */
void danced_notify_ready(const danced *d, const char *what)
{
    char status[300];

    if (!notify_enabled())
        return;
    danced_status_text(d, what, status, sizeof(status));
    notify_ready(status);
}

/* danced_on_status - (timer) a fresh STATUS= line. */
static void danced_on_status(evutil_socket_t fd, short what, void *arg)
{
    danced *d = arg;
    char status[300];

    (void) fd;
    (void) what;
    danced_status_text(d, d->draining ? "stopping" : "serving", status, sizeof(status));
    notify_status(status);
}

/* danced_notify_start - under systemd: refresh the STATUS= line every DANCED_STATUS_S. */
void danced_notify_start(danced *d)
{
    struct timeval tv = { DANCED_STATUS_S, 0 };

    if (!notify_enabled())
        return;
    if ((d->status_ev = event_new(d->base, -1, EV_PERSIST, danced_on_status, d)) == NULL)
        DANCE_PANIC("event_new failed");
    event_add(d->status_ev, &tv);
}

static void danced_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    danced *d = arg;
    char busy[128];

    (void) fd;
    (void) what;
    danced_busy_text(d, busy, sizeof(busy));
    dlog_msg(&d->log, LOG_WARNING, "stopping: %s connections still busy; closing them", busy);
    for (size_t i = 0; i < d->nfaces; i++)
        listen_close_all(d->faces[i].srv);
    event_base_loopexit(d->base, NULL);
}

/* danced_stop - signal sig: stop accepting on every face and drain; a second call stops at once. */
void danced_stop(danced *d, int sig)
{
    struct timeval tv = { (time_t) d->snap->cfg.dns_timeout + DANCED_GRACE_S, 0 };
    char busy[128];

    if (d->draining) {              /* a second signal: do not wait */
        danced_on_deadline(-1, 0, d);
        return;
    }
    danced_busy_text(d, busy, sizeof(busy));
    dlog_msg(&d->log, LOG_INFO, "signal %d: stopping (%s connections open)", sig, busy);
    d->draining = true;
    /* a once-event: libevent frees it when it fires or with the base */
    if (event_base_once(d->base, -1, EV_TIMEOUT, danced_on_deadline, d, &tv) != 0)
        DANCE_PANIC("cannot schedule the shutdown deadline (out of memory)");
    for (size_t i = 0; i < d->nfaces; i++) {
        listen_stop(d->faces[i].srv);
        listen_drain(d->faces[i].srv);  /* idle connections close now, the others when done */
    }
    danced_face_drained(d);
}

/*
 * danced_on_join_report - every few minutes: say so when DATA verdicts are
 * not collected by the milter (lost, or waiting for over ten minutes - no
 * message takes that long between DATA and its end), and when keys were
 * written twice or refused.
 */
static void danced_on_join_report(evutil_socket_t fd, short what, void *arg)
{
    danced *d = arg;
    join_stats st;

    (void) fd;
    (void) what;
    join_stats_take(d->join, clock_now_ms(), &st);
    if (st.lost > 0 || (st.dropped > 0 && st.taken == 0) || st.oldest_untaken_ms > DANCED_JOIN_STALE_MS)
        dlog_msg(&d->log, LOG_WARNING, "CONFIGURATION: the milter does not collect the policy "
                 "service's DATA verdicts (%lu taken, %lu left untaken, %lu lost, %zu held, the "
                 "oldest %lld s old): is danced's milter_socket (%s) in Postfix's smtpd_milters?",
                 st.taken, st.dropped, st.lost, st.entries, st.oldest_untaken_ms / 1000,
                 d->join_reader);
    if (st.conflicts > 0 || st.refused > 0)
        dlog_msg(&d->log, LOG_WARNING, "verdict store: %lu messages had conflicting policy requests "
                 "and %lu were refused (store full) in the last %d s; their messages got temperror",
                 st.conflicts, st.refused, DANCED_JOIN_REPORT_S);
}

/* danced_on_log_flush - the loop turn's callbacks have run: write the verdict lines they held. */
static void danced_on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    danced *d = arg;

    (void) fd;
    (void) what;
    dlog_flush(&d->log);
}

/* danced_log_wake - the held verdict lines got their first line: flush them when this turn ends. */
static void danced_log_wake(void *arg)
{
    danced *d = arg;

    if (!event_pending(d->log_flush_ev, EV_TIMEOUT, NULL))
        event_active(d->log_flush_ev, EV_TIMEOUT, 0);
}

/*
 * danced_hold_log - in the foreground (stderr), hold the verdict lines of
 * each loop turn and write them with one write(2) after its callbacks:
 * with many connections, many requests are answered per turn.  libevent
 * runs an event made active after the callbacks already due in the turn.
 */
void danced_hold_log(danced *d)
{
    if (!d->log.to_stderr)
        return;
    d->log_held = xmalloc(sizeof(*d->log_held));
    if ((d->log_flush_ev = event_new(d->base, -1, 0, danced_on_log_flush, d)) == NULL)
        DANCE_PANIC("out of memory");
    dlog_hold(&d->log, d->log_held, danced_log_wake, d);
}

/* danced_release_log - write what is held and stop holding (the loop is ending). */
void danced_release_log(danced *d)
{
    dlog_flush(&d->log);
    dlog_hold(&d->log, NULL, NULL, NULL);
    if (d->log_flush_ev != NULL)
        event_free(d->log_flush_ev);
    d->log_flush_ev = NULL;
    free(d->log_held);
    d->log_held = NULL;
}

/* danced_open_join - both faces run: the verdict store and its periodic report. */
void danced_open_join(danced *d, const char *reader)
{
    struct timeval every = { DANCED_JOIN_REPORT_S, 0 };

    snprintf(d->join_reader, sizeof(d->join_reader), "%s", reader);
    d->join = join_new((size_t) d->snap->cfg.max_connections + JOIN_SPARE_ENTRIES, JOIN_TTL_MS_DEFAULT);
    if ((d->join_report = event_new(d->base, -1, EV_PERSIST, danced_on_join_report, d)) == NULL
        || event_add(d->join_report, &every) != 0)
        DANCE_PANIC("out of memory");
}

/* danced_face_limits - each face's connection limit, cut to fit the open-file limit. */
void danced_face_limits(const danced *d, const dance_config *cfg, size_t max[DANCED_FACES_MAX])
{
    size_t sum = 0, given = 0;

    for (size_t i = 0; i < d->nfaces; i++)
        sum += max[i] = d->faces[i].ops->limit(cfg);
    if (d->conn_budget == 0 || sum <= d->conn_budget)
        return;
    /* in proportion, at least one each; the last face takes what the others left */
    for (size_t i = 0; i + 1 < d->nfaces; i++) {
        max[i] = d->conn_budget * max[i] / sum > 0 ? d->conn_budget * max[i] / sum : 1;
        given += max[i];
    }
    if (d->nfaces > 0)
        max[d->nfaces - 1] = d->conn_budget > given + 1 ? d->conn_budget - given : 1;
}

/* danced_start_faces - begin accepting on every face. */
void danced_start_faces(danced *d)
{
    size_t max[DANCED_FACES_MAX];

    danced_face_limits(d, &d->snap->cfg, max);
    for (size_t i = 0; i < d->nfaces; i++) {
        const danced_face *f = &d->faces[i];
        listen_face lf = { f->ops->name, f->ops->accept, f->face, danced_face_drained, d };

        listen_start(f->srv, d->base, &d->log, &lf, max[i]);
    }
}

/* danced_faces_text - "policy inet:... and milter unix:..." for the ready line. */
void danced_faces_text(const danced *d, char *out, size_t size)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < d->nfaces && n < size; i++) {
        int w = snprintf(out + n, size - n, "%s%s %s", i == 0 ? "" : " and ", d->faces[i].ops->name,
                         listen_endpoint(d->faces[i].srv));

        n += w > 0 ? (size_t) w : 0;
    }
}

/* danced_warn_unsafe - the settings that open danced to more than the MTA, when chosen. */
void danced_warn_unsafe(const danced *d)
{
    const dance_config *cfg = &d->snap->cfg;

    if (cfg->peer_users.n == 1 && strcmp(cfg->peer_users.v[0], "any") == 0 && d->join != NULL)
        dlog_msg(&d->log, LOG_WARNING, "peer_users = any: every local user may write the message "
                 "verdicts the milter trusts, and so forge dane=pass; list the MTA's users instead");
    if (cfg->remote_sockets)
        dlog_msg(&d->log, LOG_WARNING, "remote_sockets = yes: danced's inet sockets may be reached from "
                 "other hosts; keep them behind a firewall (the milter face has no access control of "
                 "its own)");
}

/* danced_shutdown - close what is left, then free the faces and the services. */
void danced_shutdown(danced *d)
{
    for (size_t i = 0; i < d->nfaces; i++)
        listen_close_all(d->faces[i].srv);
    event_base_loop(d->base, EVLOOP_NONBLOCK);   /* let retired resolvers free themselves */
    for (size_t i = 0; i < d->nfaces; i++) {
        listen_free(d->faces[i].srv);
        d->faces[i].ops->free(d->faces[i].face);
    }
    d->nfaces = 0;
    stats_free(d->stats);           /* its connections and listener, before the loop goes */
    d->stats = NULL;
    if (d->join_report != NULL)
        event_free(d->join_report);
    if (d->status_ev != NULL)
        event_free(d->status_ev);
    join_free(d->join);
    vcache_free(d->vcache);
    dnsloop_free(d->dns);
    budget_free(d->budget);
    danced_release_log(d);
    event_base_free(d->base);
}
