/*
 * danced.h - the daemon context: the one place danced keeps its state.
 *
 * main() (danced.c) owns it; the listener (server.c) and the connections
 * (session.c) get a pointer to it.  The configuration is a reference-counted
 * snapshot that a SIGHUP reload replaces; the resolver (dnsloop) is replaced
 * only when a reload changes its settings.
 */
#ifndef DANCE_POLICY_DANCED_H
#define DANCE_POLICY_DANCED_H

#include <stdbool.h>
#include <event2/event.h>
#include "dlog.h"
#include "snapshot.h"
#include "dnsloop.h"

typedef struct server server;

typedef struct danced {
    struct event_base *base;
    dlog log;
    snapshot *snap;               /* current configuration */
    dnsloop *dns;                 /* current resolver */
    server *srv;                  /* listeners and connections */
    const char *config_path;
    bool milter;                  /* a milter writes the header (part 2): DATA answers DUNNO */
    bool draining;                /* SIGTERM/SIGINT: finish in-flight requests, then exit */
    bool warned_digest;           /* the fingerprint length warning was logged */
} danced;

#endif
