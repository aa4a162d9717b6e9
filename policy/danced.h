/*
 * danced.h - the daemon context: the one place danced keeps its state.
 *
 * main() (danced.c) owns it; the policy face (server.c, session.c) and the
 * milter face (milter/) get a pointer to it.  The configuration is a
 * reference-counted snapshot that a SIGHUP reload replaces; the resolver
 * (dnsloop) is replaced only when a reload changes its settings.
 *
 * Threads: one.  Both faces run on the event loop of the main thread
 * (libunbound's own thread answers through its descriptor, read by the
 * loop).
 */
#ifndef DANCE_POLICY_DANCED_H
#define DANCE_POLICY_DANCED_H

#include <stdbool.h>
#include <event2/event.h>
#include "dlog.h"
#include "snapshot.h"
#include "dnsloop.h"

typedef struct server server;
typedef struct milter_face milter_face;
typedef struct join join;

typedef struct danced {
    struct event_base *base;
    dlog log;
    snapshot *snap;               /* current configuration */
    dnsloop *dns;                 /* current resolver */
    server *srv;                  /* policy listeners and connections; NULL: policy_socket none */
    milter_face *mface;           /* the milter face; NULL: milter_socket none */
    join *join;                   /* DATA verdicts for the milter (both faces on), else NULL */
    const char *config_path;
    bool milter;                  /* a milter writes the header: the policy face's DATA answer is DUNNO */
    bool draining;                /* SIGTERM/SIGINT: finish in-flight requests, then exit */
    int exit_status;              /* of the process once the loop ends */
    bool warned_digest;           /* the fingerprint length warning was logged */
    size_t conn_budget;           /* descriptors left for both faces' connections by the open-file
                                     limit; 0: the configured limits fit */
} danced;

/*
 * danced_face_limits - the connection limits of the faces for cfg: as
 * configured, or cut in proportion so that together they fit the
 * descriptors the open-file limit leaves (the resolver keeps its share).
 */
void danced_face_limits(const danced *d, const dance_config *cfg, size_t *policy, size_t *milter);

/* danced_first_digest_warning - true for the first caller only: log the digest mismatch once. */
bool danced_first_digest_warning(danced *d);

/*
 * danced_admit - may the peer of a newly accepted connection (fd) use
 * face ("policy", "milter")?  With peer_users set, only root and those
 * users may; a refusal is logged.  The caller closes a refused fd.
 */
bool danced_admit(danced *d, int fd, const char *peer, const char *face);

/* danced_check_done - while draining, end the loop once neither face has a connection left. */
void danced_check_done(danced *d);

#endif
