/*
 * stats.h - the metrics endpoint: HTTP GET /metrics on stats_socket.
 *
 * A service of the process, not a face: it serves the daemon's own
 * counters (metrics.h) to a monitoring system and never talks to the MTA.
 * stats_open() binds stats_socket with the other sockets (before the
 * background and the privileges change); stats_start() serves on the
 * event loop once it exists; danced_shutdown() frees it.
 */
#ifndef DANCE_DANCED_STATS_H
#define DANCE_DANCED_STATS_H

#include <stddef.h>

typedef struct danced danced;
typedef struct stats stats;

typedef enum {
    STATS_OK = 0,
    STATS_BAD_ENDPOINT,               /* bad input: the stats_socket value */
    STATS_ENVIRONMENT                 /* bad environment: bind, socket file, group, the event loop */
} stats_status;

/* stats_open - bind the configured stats_socket (none: nothing to do) into d; a message in err otherwise. */
stats_status stats_open(danced *d, char *err, size_t errsize);

/* stats_start - serve GET /metrics on d's event loop (no stats_socket: nothing to do). */
stats_status stats_start(danced *d, char *err, size_t errsize);

/* stats_inherited - how many of its sockets systemd passed (activation.h); 0 for NULL. */
size_t stats_inherited(const stats *s);

/* stats_free - close its connections and its socket; NULL is fine. */
void stats_free(stats *s);

#endif
