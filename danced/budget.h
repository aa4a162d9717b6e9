/*
 * budget.h - look-up budgets: how many uncached look-ups one SMTP client
 * may make danced start, and how many may be in flight at once.
 *
 * Each client address (an IPv6 address by its /64; clients whose address
 * is unknown share one bucket) has a token bucket of lookup_budget
 * (N per DURATION, with a burst of N); every uncached look-up takes one
 * token.  All clients together may have lookups_in_flight_max look-ups
 * in flight.  A look-up over either limit is refused (its verdict is
 * temperror); at most one refusal per client and minute, and one in-flight
 * refusal per minute, is marked to be logged.  Cached answers never come
 * here.
 *
 * The table is fixed: BUDGET_BUCKETS buckets in groups of BUDGET_GROUP,
 * placed by a keyed hash (keyhash.h) of the address, so a client cannot
 * choose addresses that crowd one group; a new address takes the
 * least recently used bucket of its group.  Time is passed in (monotonic
 * milliseconds), so the arithmetic is testable.
 *
 * Threads: one, the event loop's.
 */
#ifndef DANCE_DANCED_BUDGET_H
#define DANCE_DANCED_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/config.h"
#include "lib/netaddr.h"

#define BUDGET_BUCKETS 16384
#define BUDGET_GROUP 8
#define BUDGET_LOG_INTERVAL_MS 60000        /* one refusal logged per client (and for in-flight) per minute */
#define BUDGET_REASON "look-up budget exceeded"

typedef enum {
    BUDGET_OK = 0,              /* go ahead: the tokens are taken */
    BUDGET_CLIENT,              /* refused: the client's bucket is empty */
    BUDGET_IN_FLIGHT,           /* refused: too many look-ups in flight */
    BUDGET_LIMITS               /* the number of limits (BUDGET_CLIENT, BUDGET_IN_FLIGHT) + 1 */
} budget_status;

typedef struct budget budget;

/* budget_new - an empty table with a fresh random key, set to cfg's limits; NULL when no key could be drawn. */
budget *budget_new(const dance_config *cfg);

/* budget_free - release the table; NULL is fine. */
void budget_free(budget *b);

/* budget_configure - take cfg's limits (a reload); a changed lookup_budget starts every bucket full. */
void budget_configure(budget *b, const dance_config *cfg);

/*
 * budget_admit - may client (family 0: unknown) start n uncached look-ups
 * now, with in_flight look-ups already in flight?  BUDGET_OK takes n
 * tokens; a refusal takes none and sets *log when it is the one of its
 * minute to be logged.
 */
budget_status budget_admit(budget *b, const netaddr *client, size_t n, size_t in_flight, long long now_ms,
                           bool *log);

/* budget_limit_name - "client" or "in_flight" (the metric's label) for a refusal. */
const char *budget_limit_name(budget_status st);

#endif
