/*
 * danced.h - the daemon context: the one place danced keeps its state.
 *
 * main() (danced.c) owns it; the policy listener (server.c), its
 * connections (session.c) and the milter face (milter/milter.c) get a
 * pointer to it.  The configuration is a reference-counted snapshot that a
 * SIGHUP reload replaces; the resolver (dnsloop) is replaced only when a
 * reload changes its settings.
 *
 * Threads: everything here belongs to the event loop thread, except what
 * the milter's threads reach through the functions below and through the
 * thread-safe join, handoff and dlog modules.
 */
#ifndef DANCE_POLICY_DANCED_H
#define DANCE_POLICY_DANCED_H

#include <pthread.h>
#include <stdbool.h>
#include <event2/event.h>
#include "dlog.h"
#include "snapshot.h"
#include "dnsloop.h"

typedef struct server server;
typedef struct milter_face milter_face;
typedef struct join join;
typedef struct handoff handoff;

typedef struct danced {
    struct event_base *base;
    dlog log;
    pthread_mutex_t snap_lock;    /* guards snap against the milter's threads */
    snapshot *snap;               /* current configuration */
    dnsloop *dns;                 /* current resolver */
    server *srv;                  /* policy listeners and connections; NULL: policy_socket none */
    milter_face *mface;           /* the milter face; NULL: milter_socket none */
    join *join;                   /* DATA verdicts for the milter (both faces on), else NULL */
    handoff *handoff;             /* checks the milter runs itself (Sendmail mode) */
    const char *config_path;
    bool milter;                  /* a milter writes the header: the policy face's DATA answer is DUNNO */
    bool draining;                /* SIGTERM/SIGINT: finish in-flight requests, then exit */
    int exit_status;              /* of the process once the loop ends */
    int warned_digest;            /* atomic: the fingerprint length warning was logged */
} danced;

/* danced_snapshot - (any thread) one more reference to the current configuration. */
snapshot *danced_snapshot(danced *d);

/* danced_first_digest_warning - (any thread) true for the first caller only: log the digest mismatch once. */
bool danced_first_digest_warning(danced *d);

/* danced_check_done - (loop thread) while draining, end the loop once neither face has work in progress. */
void danced_check_done(danced *d);

/* danced_milter_stopped - (loop thread) the milter listener ended; unexpected unless draining. */
void danced_milter_stopped(danced *d);

#endif
