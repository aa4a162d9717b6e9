/*
 * resolver.h - DNSSEC-validated TLSA look-ups through libunbound.
 *
 * One resolver holds one libunbound context and a TTL-honouring cache
 * (cache.h).  It works synchronously (the dance CLI: resolver_lookup) and
 * asynchronously (the daemon: resolver_submit, then poll resolver_fd() for
 * reading, call resolver_process(), and call resolver_expire() when
 * resolver_next_deadline_ms() says a query is overdue).  libunbound has no
 * per-query timeout, so the resolver enforces one on a monotonic clock.
 *
 * Every answer maps to exactly one resolver_status.  Bogus is reported as
 * soon as libunbound says so (with why_bogus); it is never turned into a
 * wait.  CNAMEs are followed by libunbound; the security status covers the
 * whole chain, so an insecure link gives an insecure answer (RFC 7671 7).
 */
#ifndef DANCE_LIB_RESOLVER_H
#define DANCE_LIB_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "answer.h"

struct ub_result;

#define RESOLVER_DEFAULT_TRUST_ANCHOR "/usr/share/dns/root.key"
#define RESOLVER_DEFAULT_TIMEOUT_MS   10000
#define RESOLVER_DEFAULT_CACHE_MAX_TTL 3600   /* ceiling for positive caching, seconds */
#define RESOLVER_DEFAULT_CACHE_ERR_TTL 10     /* negative caching of errors, seconds */
#define RESOLVER_DEFAULT_CACHE_ENTRIES 10000
#define RESOLVER_STALE_MAX_LIMIT 604800      /* longest stale window, seconds (7 days) */
#define RESOLVER_FORWARDERS_MAX 8
/* libunbound's library defaults allow 16 UDP and 2 TCP queries in flight at
 * once; danced asks for these unless resolver_config sets its own. */
#define RESOLVER_OUTGOING_RANGE 1024          /* outgoing-range: UDP queries in flight */
#define RESOLVER_OUTGOING_NUM_TCP 16          /* outgoing-num-tcp: TCP queries in flight */
#define RESOLVER_MAX_PENDING 4096             /* queries one resolver keeps in flight at most */

typedef struct resolver_config {
    const char *trust_anchor_file;   /* NULL: RESOLVER_DEFAULT_TRUST_ANCHOR; "" : none */
    const char *unbound_config;      /* optional unbound.conf-style file (ub_ctx_config) */
    const char *forwarders[RESOLVER_FORWARDERS_MAX]; /* "IP" or "IP@port"; NULL-terminated or nforwarders */
    size_t nforwarders;
    bool forwarders_tls;             /* forwarders over TLS ("IP@PORT#NAME"), through the relay (dotrelay.h) */
    const char *tls_ca_file;         /* CA bundle for forwarders_tls; NULL: the system's */
    unsigned timeout_ms;             /* 0: default */
    unsigned cache_max_ttl;          /* ceiling in seconds; 0 disables caching */
    unsigned cache_err_ttl;          /* seconds to remember errors (bogus/servfail/timeout) */
    size_t cache_entries;            /* 0: default */
    unsigned stale_max;              /* seconds an expired secure answer is kept for resolver_stale(); 0: none */
} resolver_config;

typedef struct resolver resolver;

#define RESOLVER_STATUSES (RESOLVER_NETERR + 1)

/*
 * What a resolver counts, into a struct its user owns (resolver_count_into),
 * so that the figures outlive the resolver (danced replaces it on reload).
 */
typedef struct resolver_stats {
    unsigned long long lookups[RESOLVER_STATUSES]; /* DNS answers (and timeouts) by status; cache hits not */
    unsigned long long cache_hits;                 /* look-ups answered from the cache */
    unsigned long long cache_misses;               /* look-ups the cache could not answer */
} resolver_stats;

/* resolver_config_init - fill a config with the documented defaults. */
void resolver_config_init(resolver_config *cfg);

/* resolver_new - create a resolver; NULL with a message in err when the environment is bad. */
resolver *resolver_new(const resolver_config *cfg, char *err, size_t errsize);

/* resolver_free - cancel pending queries (no callbacks) and release everything. */
void resolver_free(resolver *res);

/* resolver_lookup - synchronous TLSA look-up of owner (cache first); always fills *ans. */
void resolver_lookup(resolver *res, const char *owner, resolver_answer *ans);

/* Completion callback for asynchronous look-ups; ans is only valid until the callback calls into the resolver, or returns. */
typedef void (*resolver_callback)(void *arg, const resolver_answer *ans);

/*
 * resolver_submit - start an asynchronous TLSA look-up.  A cache hit calls cb
 * before returning.  Returns a query id > 0, 0 when answered from cache, or -1
 * on an immediate error (cb has then been called with RESOLVER_NETERR).
 */
int resolver_submit(resolver *res, const char *owner, resolver_callback cb, void *arg);

/* resolver_cached - would a look-up of owner be answered from the cache now (no DNS query)? */
bool resolver_cached(resolver *res, const char *owner);

/* resolver_cancel - forget a pending query; its callback will not run. */
void resolver_cancel(resolver *res, int id);

/* resolver_fd - descriptor to poll for readability (libunbound's ub_fd). */
int resolver_fd(const resolver *res);

/* resolver_process - deliver finished answers to their callbacks; returns 0 or -1 on error. */
int resolver_process(resolver *res);

/* resolver_next_deadline_ms - milliseconds until the earliest pending deadline; -1 when none pending. */
long resolver_next_deadline_ms(const resolver *res);

/* resolver_expire - time out overdue queries (callback with RESOLVER_TIMEOUT); returns how many. */
int resolver_expire(resolver *res);

/* resolver_pending - number of queries in flight. */
size_t resolver_pending(const resolver *res);

/* resolver_count_into - count look-ups into *stats from now on (NULL: stop counting); stats outlives res. */
void resolver_count_into(resolver *res, resolver_stats *stats);

/*
 * resolver_stale - a view of owner's secure RRset that expired less than
 * stale_max ago (*ago_s: whole seconds since), for deciding when a fresh
 * look-up failed; the RDATA is borrowed as with a cache hit.  False when none.
 */
bool resolver_stale(resolver *res, const char *owner, resolver_answer *view, unsigned *ago_s);

/* resolver_cache_entries - answers held in the resolver's cache (expired ones until evicted). */
size_t resolver_cache_entries(const resolver *res);

/*
 * resolver_map_result - libunbound's err and result for owner as an answer
 * (the status table of resolver_map.c); result may be NULL when err != 0.
 */
void resolver_map_result(resolver_answer *ans, const char *owner, int err, const struct ub_result *result);

#endif
