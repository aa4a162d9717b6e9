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

#include <stdbool.h>
#include <stddef.h>

typedef struct danced danced;
typedef struct stats stats;

typedef enum {
    STATS_OK = 0,
    STATS_BAD_ENDPOINT,               /* bad input: the stats_socket value */
    STATS_ENVIRONMENT                 /* bad environment: bind, socket file, group, the event loop */
} stats_status;

/* What a request gets, by its method and request target. */
typedef enum {
    STATS_ROUTE_METRICS = 0,          /* GET /metrics (any query string): 200 and the text */
    STATS_ROUTE_NOT_FOUND,            /* another path, or a target that is no URI: 404 */
    STATS_ROUTE_BAD_METHOD            /* /metrics with another method: 405, Allow: GET */
} stats_route;

/*
 * stats_route_of - the answer to a request for target (the request line's
 * URI, as sent) with method GET or not; no I/O, any string is fine.
 */
stats_route stats_route_of(bool get, const char *target);

/* stats_open - bind the configured stats_socket (none: nothing to do) into d; a message in err otherwise. */
stats_status stats_open(danced *d, char *err, size_t errsize);

/* stats_start - serve GET /metrics on d's event loop (no stats_socket: nothing to do). */
stats_status stats_start(danced *d, char *err, size_t errsize);

/* stats_inherited - how many of its sockets systemd passed (activation.h); 0 for NULL. */
size_t stats_inherited(const stats *s);

/* stats_free - close its connections and its socket; NULL is fine. */
void stats_free(stats *s);

#endif
