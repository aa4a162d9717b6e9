/*
 * reload.c - SIGHUP: read the configuration file again and swap it in.
 *
 * USAGE
 *	danced_reload(d);	(signals.c, on the loop)
 *
 * DESCRIPTION
 *	A new snapshot is loaded; when its resolver settings differ a new
 *	resolver is created first (failure: the reload is refused), and
 *	the old one keeps serving the look-ups it already has, then frees
 *	itself - no request is cut off by a reload.  Requests and messages
 *	in progress keep the snapshot they started with.  Listening
 *	sockets, user, group and pid file keep their start-up values (a
 *	change is logged: they need a restart); the faces get the new
 *	connection limits.
 *
 * DIAGNOSTICS
 *	A bad file: "reload refused, keeping the running configuration:
 *	FILE:LINE: KEY: problem", and the running configuration stays.
 */
#include <string.h>
#include <syslog.h>

#include "danced_private.h"
#include "budget.h"
#include "dnsloop.h"
#include "listen.h"
#include "snapshot.h"

/* reload_changed - true when a start-up-only setting differs between two strings. */
static bool reload_changed(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

/* reload_startup_only - true when n changes a setting that takes effect only at start-up. */
static bool reload_startup_only(const dance_config *o, const dance_config *n)
{
    return reload_changed(o->policy_socket, n->policy_socket)
        || reload_changed(o->milter_socket, n->milter_socket)
        || reload_changed(o->stats_socket, n->stats_socket) || o->socket_mode != n->socket_mode
        || reload_changed(o->socket_group, n->socket_group) || reload_changed(o->user, n->user)
        || reload_changed(o->group, n->group) || reload_changed(o->pid_file, n->pid_file);
}

/* danced_reload - swap in a new snapshot (and resolver), or keep the old one on any error (false). */
bool danced_reload(danced *d)
{
    size_t max[DANCED_FACES_MAX];
    snapshot *n;
    dnsloop *dns = NULL;
    char err[1024];

    if (snapshot_load(d->config_path, NULL, &n, err, sizeof(err)) != SNAPSHOT_OK) {
        dlog_msg(&d->log, LOG_ERR, "reload refused, keeping the running configuration: %s", err);
        return false;
    }
    if (!snapshot_same_resolver(d->snap, n)) {
        if ((dns = dnsloop_new(d->base, &d->log, &n->rc, err, sizeof(err))) == NULL) {
            dlog_msg(&d->log, LOG_ERR, "reload refused, keeping the running configuration: %s",
                     err);
            snapshot_unref(n);
            return false;
        }
        dnsloop_count_into(dns, metrics_dns(&d->metrics));   /* the counters go on across reloads */
        dnsloop_set_budget(dns, d->budget, &d->metrics);
    }
    n->generation = d->snap->generation + 1;
    if (reload_startup_only(&d->snap->cfg, &n->cfg))
        dlog_msg(&d->log, LOG_WARNING, "reload: policy_socket, milter_socket, stats_socket, socket_mode, "
                 "socket_group, user, group and pid_file keep their start-up values until danced "
                 "is restarted");
    if (dns != NULL) {
        dnsloop_retire(d->dns);     /* finishes its look-ups in progress, then is freed */
        d->dns = dns;
    }
    dlog_reconfigure(&d->log, n->cfg.log_facility, n->cfg.log_format);
    budget_configure(d->budget, &n->cfg);
    snapshot_unref(d->snap);
    d->snap = n;
    danced_face_limits(d, &n->cfg, max);
    for (size_t i = 0; i < d->nfaces; i++)
        listen_set_max(d->faces[i].srv, max[i]);
    danced_warn_unsafe(d);
    dlog_msg(&d->log, LOG_INFO, "configuration reloaded from %s%s", d->config_path,
             dns != NULL ? " (new resolver)" : "");
    return true;
}
