/*
 * metrics.h - danced's counters, and their text in the Prometheus
 * exposition format.
 *
 * One metrics value lives in the daemon context (danced_metrics(), danced.h)
 * for the life of the process, so the figures persist across reloads.  The
 * faces count through the functions below; the resolver counts its
 * look-ups and cache use into metrics_dns() (resolver_count_into); the
 * gauges (open connections, cache entries) are read when the text is made
 * (metrics_gauges).  The stats endpoint (stats.h) serves the text.
 *
 * Threads: one, the event loop's.
 */
#ifndef DANCE_DANCED_METRICS_H
#define DANCE_DANCED_METRICS_H

#include <stddef.h>
#include "lib/resolver.h"
#include "lib/verdict.h"
#include "budget.h"
#include "results.h"

#define METRICS_RESULTS (VERDICT_PASS + 1)     /* verdict_result values */
#define METRICS_BUCKETS 13                     /* finite buckets of dance_check_duration_seconds */
#define METRICS_TEXT_MAX 16384                 /* the whole text; it needs about 9 KiB */

/* The faces that compute verdicts. */
typedef enum {
    METRICS_POLICY = 0,
    METRICS_MILTER,
    METRICS_FACES
} metrics_face;

/* The kinds of policy request. */
typedef enum {
    METRICS_RCPT = 0,
    METRICS_DATA,
    METRICS_OTHER,
    METRICS_REQUESTS
} metrics_request;

typedef enum {
    METRICS_OK = 0,
    METRICS_TOO_LONG                  /* the text does not fit the caller's buffer */
} metrics_status;

typedef struct metrics {
    unsigned long long verdicts[METRICS_FACES][RESULTS_KINDS][METRICS_RESULTS];
    unsigned long long requests[METRICS_REQUESTS];
    unsigned long long milter_messages;   /* answered at end of message */
    unsigned long long forged_removed;    /* Authentication-Results fields deleted */
    unsigned long long verdicts_reused;   /* taken from the verdict cache (vcache.h) */
    unsigned long long verdicts_stale;    /* decided from a stale answer (stale_max) */
    unsigned long long duration_in[METRICS_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    unsigned long long duration_count;
    unsigned long long duration_sum_us;
    resolver_stats dns;                   /* the resolvers count here (resolver_count_into) */
    unsigned long long budget_refusals[BUDGET_LIMITS]; /* checks refused by a look-up budget, by limit */
} metrics;

/* What is read, not counted, when the text is made. */
typedef struct metrics_gauges {
    size_t policy_connections;
    size_t milter_connections;
    size_t cache_entries;
} metrics_gauges;

/* metrics_init - every counter at zero. */
void metrics_init(metrics *m);

/* metrics_verdict - (a face) one verdict computed for identity, which took elapsed_us, DNS included. */
void metrics_verdict(metrics *m, metrics_face face, results_kind identity, verdict_result result,
                     long long elapsed_us);

/* metrics_verdict_reused - (a face) the last verdict counted came from the verdict cache. */
void metrics_verdict_reused(metrics *m);

/* metrics_verdict_stale - (a face) the last verdict counted was decided from a stale answer. */
void metrics_verdict_stale(metrics *m);

/* metrics_policy_request - (the policy face) one request of kind answered or started. */
void metrics_policy_request(metrics *m, metrics_request kind);

/* metrics_milter_message - (the milter face) one message answered, forged_removed fields deleted from it. */
void metrics_milter_message(metrics *m, size_t forged_removed);

/* metrics_budget_refusal - (the resolver's gate) one check refused by limit st (BUDGET_CLIENT, BUDGET_IN_FLIGHT). */
void metrics_budget_refusal(metrics *m, budget_status st);

/* metrics_dns - the counters a resolver counts into (resolver_count_into). */
resolver_stats *metrics_dns(metrics *m);

/*
 * metrics_render - the Prometheus text (version 0.0.4) of m and g into out
 * (NUL-terminated, *len without the NUL); version is dance_build_info's label.
 */
metrics_status metrics_render(const metrics *m, const metrics_gauges *g, const char *version, char *out,
                              size_t size, size_t *len);

#endif
