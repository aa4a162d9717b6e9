/*
 * danced.h - what the daemon offers its faces: the event loop, the log,
 * the current configuration, the resolver, the verdict cache, the verdict store, the counters, and the
 * questions a face must ask the process (may this peer connect? are we
 * stopping?).
 *
 * The daemon context is opaque: a face keeps the danced pointer it was
 * opened with and asks through these functions; it never sees the other
 * face.  The process (main.c, startup.c, signals.c, reload.c) owns the
 * context; face.h is how the process drives the faces.
 *
 * Threads: one.  Every function here is for the event loop's thread.
 *
 * SEE ALSO
 *	face.h (the face interface), snapshot.h, dnsloop.h, vcache.h, join.h, dlog.h, metrics.h
 */
#ifndef DANCE_DANCED_DANCED_H
#define DANCE_DANCED_DANCED_H

#include <stdbool.h>

struct event_base;
typedef struct danced danced;
typedef struct dlog dlog;
typedef struct snapshot snapshot;
typedef struct dnsloop dnsloop;
typedef struct join join;
typedef struct vcache vcache;
typedef struct metrics metrics;

/* danced_base - the event loop every face's events go on. */
struct event_base *danced_base(const danced *d);

/* danced_log - the daemon's log (syslog or stderr). */
const dlog *danced_log(const danced *d);

/*
 * danced_snapshot - the current configuration.  Borrowed: a request or
 * message that outlives this loop pass takes its own reference
 * (snapshot_ref), since a reload may replace it.
 */
snapshot *danced_snapshot(const danced *d);

/* danced_dns - the current resolver on the loop (a reload may replace it; look-ups in flight keep theirs). */
dnsloop *danced_dns(const danced *d);

/* danced_vcache - the verdicts already computed (vcache.h), shared by every connection. */
vcache *danced_vcache(const danced *d);

/*
 * danced_join - the per-message verdict store the policy face writes and
 * the milter face reads; NULL unless both faces run.
 */
join *danced_join(const danced *d);

/*
 * danced_header_by_milter - true when a milter face writes the
 * Authentication-Results field (the policy face's DATA answer is then DUNNO).
 */
bool danced_header_by_milter(const danced *d);

/* danced_metrics - the daemon's counters (metrics.h), for the faces to count into. */
metrics *danced_metrics(danced *d);

/* danced_draining - true once SIGTERM/SIGINT came: finish what is in progress, take nothing new. */
bool danced_draining(const danced *d);

/* danced_first_digest_warning - true for the first caller only: log the digest mismatch once. */
bool danced_first_digest_warning(danced *d);

/*
 * danced_admit - may the peer of a newly accepted connection (fd) use
 * face ("policy", "milter")?  With peer_users set, only root and those
 * users may; a refusal is logged.  The caller closes a refused fd.
 */
bool danced_admit(danced *d, int fd, const char *peer, const char *face);

#endif
