/*
 * danced_private.h - the daemon context, for the process's own files.
 *
 * Only the files in danced/ include this (main, startup, signals, reload and the
 * services' API in danced.c); the faces see the opaque danced.h.
 */
#ifndef DANCE_DANCED_DANCED_PRIVATE_H
#define DANCE_DANCED_DANCED_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "danced.h"
#include "dlog.h"
#include "face.h"
#include "budget.h"
#include "metrics.h"

struct event;
typedef struct stats stats;

/* One registered face and its listener. */
typedef struct danced_face {
    const danced_face_ops *ops;
    void *face;
    listener *srv;
} danced_face;

struct danced {
    struct event_base *base;
    dlog log;
    snapshot *snap;               /* current configuration */
    dnsloop *dns;                 /* current resolver */
    budget *budget;               /* look-up budgets per client and in flight (every resolver asks it) */
    vcache *vcache;               /* the verdicts already computed, shared by all connections */
    join *join;                   /* DATA verdicts for the milter (both faces on), else NULL */
    struct event *join_report;    /* the periodic report of uncollected verdicts */
    char join_reader[320];        /* the milter's endpoint, for that report */
    danced_face faces[DANCED_FACES_MAX];
    size_t nfaces;
    const char *config_path;
    bool header_by_milter;        /* a milter writes the header: the policy face's DATA answer is DUNNO */
    bool draining;                /* SIGTERM/SIGINT: finish in-flight requests, then exit */
    int exit_status;              /* of the process once the loop ends */
    bool warned_digest;           /* the fingerprint length warning was logged */
    size_t conn_budget;           /* descriptors left for the faces' connections by the open-file
                                     limit; 0: the configured limits fit */
    metrics metrics;              /* the counters: the life of the process, across reloads */
    dlog_batch *log_held;         /* verdict lines of this loop turn (foreground only) */
    struct event *log_flush_ev;   /* writes them once the turn's callbacks have run */
    stats *stats;                 /* the metrics endpoint (stats_socket), or NULL */
    struct event *status_ev;      /* the periodic STATUS= for systemd, or NULL */
};

/*
 * danced_face_limits - the connection limit of each face for cfg (max[i]
 * for d->faces[i]): as configured, or cut in proportion so that together
 * they fit the descriptors the open-file limit leaves (conn_budget).
 */
void danced_face_limits(const danced *d, const struct dance_config *cfg, size_t max[DANCED_FACES_MAX]);

/*
 * danced_open_join - both faces run: create the verdict store and its
 * periodic report, which names reader (the milter's endpoint) when its
 * verdicts are not collected.
 */
void danced_open_join(danced *d, const char *reader);

/* danced_hold_log - in the foreground, write the verdict lines of each loop turn together, after it. */
void danced_hold_log(danced *d);

/* danced_release_log - write the held verdict lines and stop holding them. */
void danced_release_log(danced *d);

/* danced_start_faces - begin accepting on every face (the loop and the resolver exist). */
void danced_start_faces(danced *d);

/* danced_faces_text - "policy inet:... and milter unix:..." for the ready line. */
void danced_faces_text(const danced *d, char *out, size_t size);

/* danced_warn_unsafe - at start and after every reload: the settings that open danced to more than the MTA. */
void danced_warn_unsafe(const danced *d);

/* danced_stop - signal sig (SIGTERM, SIGINT): stop accepting on every face and drain; a second call stops at once. */
void danced_stop(danced *d, int sig);

/* danced_reload - SIGHUP: swap in a new snapshot (and resolver), or keep the old one on any error (false). */
bool danced_reload(danced *d);

/* danced_notify_ready - tell systemd that danced serves (what: "ready", "reloaded" ...), with its connections. */
void danced_notify_ready(const danced *d, const char *what);

/* danced_notify_start - under systemd: refresh the STATUS= line every DANCED_STATUS_S. */
void danced_notify_start(danced *d);

/* danced_shutdown - the loop ended: close what is left and free the faces and services. */
void danced_shutdown(danced *d);

#endif
