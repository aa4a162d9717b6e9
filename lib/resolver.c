/*
 * resolver.c - DNSSEC-validated TLSA look-ups through libunbound.
 *
 * USAGE
 *	resolver_config cfg;
 *	resolver_config_init(&cfg);
 *	cfg.trust_anchor_file = "...";		(optional overrides)
 *	res = resolver_new(&cfg, err, sizeof(err));
 *
 *	Synchronous (the dance CLI):
 *	    resolver_lookup(res, owner, &ans);
 *	    ... use ans ...
 *	    resolver_answer_clear(&ans);
 *
 *	Asynchronous (an event loop):
 *	    id = resolver_submit(res, owner, callback, arg);
 *	    loop: poll resolver_fd(res) for reading with a timeout of
 *		  resolver_next_deadline_ms(res); when readable call
 *		  resolver_process(res); then call resolver_expire(res).
 *
 *	resolver_free(res);
 *
 * DESCRIPTION
 *	One resolver owns one libunbound context, one cache (cache.c) and
 *	the list of queries in flight.  Only TLSA (type 52, class IN) is
 *	ever asked.  Every answer is mapped to exactly one resolver_status,
 *	checked in this order (libunbound hands out bogus answers with
 *	rcode 0 and data filled in, so the security flags come first):
 *	    libunbound error (err != 0)        -> NETERR, why = ub_strerror
 *	    result->bogus                      -> BOGUS, why = why_bogus
 *	    rcode other than NOERROR/NXDOMAIN  -> SERVFAIL, why = "rcode N (...)"
 *	    not secure (data or denial)        -> INSECURE
 *	    NXDOMAIN                           -> SECURE_NXDOMAIN
 *	    no data                            -> SECURE_NODATA
 *	    over RESOLVER_MAX_RECORDS records  -> SECURE, no RDATA kept, its size in
 *	    or RESOLVER_RRSET_MAX_OCTETS          oversize_records/_octets (the
 *	                                          verdict is permerror)
 *	    otherwise                          -> SECURE with copies of the RDATA
 *	RDATA is only ever copied for SECURE answers: count is 0 for every
 *	other status, so nothing unvalidated can be mistaken for records.
 *	A bogus answer is delivered the moment libunbound reports it.
 *
 *	libunbound has no per-query timeout; each query gets a deadline on
 *	the monotonic clock (timeout_ms after submission) and
 *	resolver_expire() cancels overdue queries and reports them as
 *	RESOLVER_TIMEOUT.  Every completed answer (errors and timeouts
 *	included) goes into the cache; answers served from it carry
 *	from_cache = true and the seconds of lifetime left as TTL.  With
 *	stale_max, resolver_stale() hands out a secure RRset that expired
 *	less than stale_max ago (cache.c keeps it, and keeps errors from
 *	replacing it); the caller decides when to use it.
 *	With resolver_count_into() the resolver counts, into its user's
 *	struct, every cache hit and miss of a submitted look-up and every
 *	answer that came from the DNS (or timed out) by status.
 *
 *	libunbound works in a background thread (ub_ctx_async(ctx, 1)),
 *	not a forked process: a forked worker would be a copy of the whole
 *	daemon, keep the privileges it had when it was forked and outlive
 *	privilege changes of its parent.  A thread dies with the process
 *	and shares its privileges.  Consequence: create the resolver after
 *	any fork()/daemonizing, since threads do not survive fork().
 *
 *	Callbacks run from resolver_submit() (cache hits, immediate errors),
 *	resolver_process() and resolver_expire(), never with an iterator over
 *	the pending queries held: a callback may submit, cancel or look up
 *	other queries, once it has copied what it keeps of its answer (a
 *	cache hit's answer borrows the cache's RDATA, which another call
 *	into the resolver may free).  It must not call resolver_free().  A
 *	resolver is used by one thread only.
 *
 *	Concurrency: libunbound used as a library keeps at most 16 UDP
 *	queries (outgoing-range) and 2 TCP queries in flight; the rest wait
 *	in its queue, so with a 10 ms round trip one resolver managed about
 *	1,500 look-ups a second however many were asked at once (measured:
 *	BENCHMARKS.md, run K).  resolver_setup() sets RESOLVER_OUTGOING_RANGE
 *	and RESOLVER_OUTGOING_NUM_TCP before it reads the unbound config
 *	file, so a value there still wins.  Each query in flight holds a
 *	socket: the daemon's open-file limit must leave room for them.
 *
 *	Safety: resolver_new() refuses a libunbound configuration that turns
 *	on val-permissive-mode (it makes bogus answers look insecure) or
 *	leaves out the validator module, and it initialises libunbound at
 *	once, so a broken trust anchor or configuration file is reported at
 *	start-up and not at the first query.
 *
 *	DNS over TLS (forwarders_tls): resolver_new() starts the relay of
 *	dotrelay.c before libunbound and points libunbound at it;
 *	resolver_free() stops it after libunbound.  A look-up that fails
 *	(SERVFAIL, error, timeout) while the relay could reach no verified
 *	forwarder becomes RESOLVER_NETERR with the relay's reason.
 *
 * DIAGNOSTICS
 *	resolver_new() returns NULL with a one-line message for a bad
 *	environment.  Bad input to a look-up becomes RESOLVER_NETERR with a
 *	reason.  Out of memory and broken invariants abort.
 */

#define _POSIX_C_SOURCE 200809L /* clock_gettime, poll, strncasecmp */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <unbound.h>

#include "resolver.h"

#include "cache.h"
#include "clock.h"
#include "dotrelay.h"
#include "panic.h"
#include "resolver_private.h"

#define RESOLVER_RRTYPE_TLSA 52
#define RESOLVER_RRCLASS_IN  1
_Static_assert(DOTRELAY_FORWARDERS_MAX == RESOLVER_FORWARDERS_MAX, "the relay takes every forwarder");
_Static_assert(DOTRELAY_CONN_MAX >= RESOLVER_OUTGOING_NUM_TCP, "a relay connection per TCP query in flight");

typedef struct resolver_query {
    resolver *res;
    int id;                /* ours, > 0 */
    int ub_id;             /* libunbound's async_id */
    long long deadline_ms; /* monotonic */
    resolver_callback cb;
    void *arg;
    size_t slot;                 /* index in res->pending */
    struct resolver_query *next; /* on res->expired */
    char owner[sizeof(((resolver_answer *)0)->owner)];
} resolver_query;

struct resolver {
    struct ub_ctx *ctx;
    cache *cache;
    unsigned timeout_ms;
    int next_id;
    /* Queries waiting for libunbound, in no particular order. */
    resolver_query *pending[RESOLVER_MAX_PENDING];
    size_t npending;
    /* Timed-out queries whose callbacks resolver_expire() is running. */
    resolver_query *expired;
    resolver_query *expired_tail;
    size_t nexpired;
    resolver_stats *stats; /* the user's counters, or NULL */
    dotrelay *relay;       /* forwarders_tls: the DNS over TLS relay, else NULL */
};


/* resolver_owner_ok - is owner a string libunbound may be asked about? */
static bool resolver_owner_ok(const char *owner)
{
    size_t i;

    if (owner == NULL || owner[0] == 0)
        return (false);
    for (i = 0; owner[i] != 0; i++) {
        if (i + 1 >= sizeof(((resolver_answer *)0)->owner))
            return (false);
        if (owner[i] <= 0x20 || owner[i] >= 0x7f)
            return (false);
    }
    return (true);
}

/* resolver_unlink - take a query off the pending array (order is not kept). */
static void resolver_unlink(resolver *res, resolver_query *q)
{
    size_t slot = q->slot;

    if (slot >= res->npending || res->pending[slot] != q)
        DANCE_PANIC("broken invariant");
    res->npending--;
    if (slot < res->npending) {
        res->pending[slot] = res->pending[res->npending];
        res->pending[slot]->slot = slot;
    }
    res->pending[res->npending] = NULL;
}

/* resolver_id_in_use - is id held by a pending or expiring query? */
static bool resolver_id_in_use(const resolver *res, int id)
{
    const resolver_query *q;
    size_t i;

    for (i = 0; i < res->npending; i++)
        if (res->pending[i]->id == id)
            return (true);
    for (q = res->expired; q != NULL; q = q->next)
        if (q->id == id)
            return (true);
    return (false);
}

/* resolver_new_id - next free query id > 0 (O(in flight), at most RESOLVER_MAX_PENDING). */
static int resolver_new_id(resolver *res)
{
    int id;

    do {
        id = res->next_id;
        res->next_id = (res->next_id == INT_MAX) ? 1 : res->next_id + 1;
    } while (resolver_id_in_use(res, id));
    return (id);
}

/* resolver_deliver - cache a completed answer, run the query's callback and free the query. */
static void resolver_deliver(resolver *res, resolver_query *q, resolver_answer *ans)
{
    cache_put(res->cache, ans, clock_now_ms());
    if (res->stats != NULL && (unsigned) ans->status < RESOLVER_STATUSES)
        res->stats->lookups[ans->status]++;
    q->cb(q->arg, ans);
    resolver_answer_clear(ans);
    free(q);
}

/*
 * resolver_relay_reason - a failed look-up through the DNS over TLS relay
 * carries the relay's failure (certificate, name, connection) as its reason.
 */
static void resolver_relay_reason(resolver *res, const resolver_query *q, resolver_answer *ans)
{
    char why[sizeof(ans->why)];

    if (res->relay == NULL || (ans->status != RESOLVER_SERVFAIL && ans->status != RESOLVER_NETERR &&
                               ans->status != RESOLVER_TIMEOUT))
        return;
    if (dotrelay_error_since(res->relay, q->deadline_ms - res->timeout_ms, why, sizeof(why)))
        resolver_answer_fail(ans, RESOLVER_NETERR, "%s", why);
}

/* resolver_ub_done - libunbound's completion callback (runs inside ub_process()). */
static void resolver_ub_done(void *arg, int err, struct ub_result *result)
{
    resolver_query *q = arg;
    resolver_answer ans;

    resolver_unlink(q->res, q);
    resolver_map_result(&ans, q->owner, err, result);
    ub_resolve_free(result);
    resolver_relay_reason(q->res, q, &ans);
    resolver_deliver(q->res, q, &ans);
}

/* resolver_config_init - fill a config with the documented defaults. */
void resolver_config_init(resolver_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->trust_anchor_file = NULL; /* RESOLVER_DEFAULT_TRUST_ANCHOR */
    cfg->unbound_config = NULL;
    cfg->nforwarders = 0;
    cfg->timeout_ms = RESOLVER_DEFAULT_TIMEOUT_MS;
    cfg->cache_max_ttl = RESOLVER_DEFAULT_CACHE_MAX_TTL;
    cfg->cache_err_ttl = RESOLVER_DEFAULT_CACHE_ERR_TTL;
    cfg->cache_entries = RESOLVER_DEFAULT_CACHE_ENTRIES;
}

/* resolver_new - create a resolver; NULL with a message in err when the environment is bad. */
resolver *resolver_new(const resolver_config *cfg, char *err, size_t errsize)
{
    resolver_config defaults;
    resolver *res;

    if (cfg == NULL) {
        resolver_config_init(&defaults);
        cfg = &defaults;
    }
    res = xcalloc(1, sizeof(*res));
    res->next_id = 1;
    res->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : RESOLVER_DEFAULT_TIMEOUT_MS;
    if (cfg->forwarders_tls) {
        dotrelay_config dc = { .nforwarders = cfg->nforwarders, .ca_file = cfg->tls_ca_file,
                               .timeout_ms = res->timeout_ms };

        for (size_t i = 0; i < cfg->nforwarders && i < DOTRELAY_FORWARDERS_MAX; i++)
            dc.forwarders[i] = cfg->forwarders[i];
        if ((res->relay = dotrelay_new(&dc, err, errsize)) == NULL) {
            free(res);
            return (NULL);
        }
    }
    if ((res->ctx = ub_ctx_create()) == NULL) {
        resolver_error(err, errsize, "resolver: cannot create a libunbound context");
        dotrelay_free(res->relay);
        free(res);
        return (NULL);
    }
    if (!resolver_ctx_setup(res->ctx, cfg, res->relay ? dotrelay_port(res->relay) : 0, err, errsize)) {
        ub_ctx_delete(res->ctx);
        dotrelay_free(res->relay);
        free(res);
        return (NULL);
    }
    res->cache = cache_new(cfg->cache_entries ? cfg->cache_entries : RESOLVER_DEFAULT_CACHE_ENTRIES,
                           cfg->cache_max_ttl, cfg->cache_err_ttl, cfg->stale_max);
    return (res);
}

/* resolver_free - cancel pending queries (no callbacks) and release everything. */
void resolver_free(resolver *res)
{
    resolver_query *q;
    size_t i;

    if (res == NULL)
        return;
    /* Deleting the context stops the worker; no callback can follow. */
    ub_ctx_delete(res->ctx);
    dotrelay_free(res->relay); /* after libunbound: nothing connects to it any more */
    for (i = 0; i < res->npending; i++)
        free(res->pending[i]);
    while ((q = res->expired) != NULL) {
        res->expired = q->next;
        free(q);
    }
    cache_free(res->cache);
    free(res);
}

/* resolver_submit - start an asynchronous TLSA look-up (cache first). */
int resolver_submit(resolver *res, const char *owner, resolver_callback cb, void *arg)
{
    resolver_answer ans;
    resolver_query *q;
    int rc;

    if (res == NULL || cb == NULL)
        DANCE_PANIC("broken invariant");
    if (!resolver_owner_ok(owner)) {
        resolver_answer_init(&ans, owner);
        resolver_answer_fail(&ans, RESOLVER_NETERR, "invalid owner name");
        cb(arg, &ans);
        return (-1);
    }
    if (cache_peek(res->cache, owner, clock_now_ms(), &ans)) {
        if (res->stats != NULL)
            res->stats->cache_hits++;
        cb(arg, &ans);          /* borrowed RDATA: callbacks copy what they keep (see above) */
        return (0);
    }
    if (res->stats != NULL)
        res->stats->cache_misses++;
    if (res->npending >= RESOLVER_MAX_PENDING) {
        resolver_answer_init(&ans, owner);
        resolver_answer_fail(&ans, RESOLVER_NETERR, "too many queries (%d in flight)",
                             RESOLVER_MAX_PENDING);
        cb(arg, &ans);
        return (-1);
    }
    q = xcalloc(1, sizeof(*q));
    q->res = res;
    q->cb = cb;
    q->arg = arg;
    snprintf(q->owner, sizeof(q->owner), "%s", owner);
    rc = ub_resolve_async(res->ctx, q->owner, RESOLVER_RRTYPE_TLSA, RESOLVER_RRCLASS_IN, q,
                          resolver_ub_done, &q->ub_id);
    if (rc != 0) {
        if (q->ub_id != 0) /* registered, but not sent */
            (void)ub_cancel(res->ctx, q->ub_id);
        free(q);
        resolver_answer_init(&ans, owner);
        resolver_answer_fail(&ans, RESOLVER_NETERR, "libunbound: %s", ub_strerror(rc));
        cb(arg, &ans);
        return (-1);
    }
    q->id = resolver_new_id(res);
    q->deadline_ms = clock_now_ms() + res->timeout_ms;
    q->slot = res->npending;
    res->pending[res->npending++] = q;
    return (q->id);
}

/* resolver_cached - would a look-up of owner be answered from the cache now? */
bool resolver_cached(resolver *res, const char *owner)
{
    resolver_answer view;

    return resolver_owner_ok(owner) && cache_peek(res->cache, owner, clock_now_ms(), &view);
}

/* resolver_cancel - forget a pending query; its callback will not run. */
void resolver_cancel(resolver *res, int id)
{
    resolver_query *prev;
    resolver_query *q;
    size_t i;

    if (id <= 0)
        return;
    for (i = 0; i < res->npending; i++) {
        q = res->pending[i];
        if (q->id == id) {
            /*
             * Whatever ub_cancel() returns, libunbound will not call back:
             * the query is marked cancelled (thread) or forgotten (fork),
             * and an answer already queued for it is dropped.
             */
            (void)ub_cancel(res->ctx, q->ub_id);
            resolver_unlink(res, q);
            free(q);
            return;
        }
    }
    for (prev = NULL, q = res->expired; q != NULL; prev = q, q = q->next) {
        if (q->id == id) { /* timed out, not yet delivered */
            if (prev != NULL)
                prev->next = q->next;
            else
                res->expired = q->next;
            if (res->expired_tail == q)
                res->expired_tail = prev;
            res->nexpired--;
            free(q);
            return;
        }
    }
}

/* resolver_fd - descriptor to poll for readability (libunbound's ub_fd). */
int resolver_fd(const resolver *res)
{
    return (ub_fd(res->ctx));
}

/* resolver_process - deliver finished answers to their callbacks; returns 0 or -1 on error. */
int resolver_process(resolver *res)
{
    return (ub_process(res->ctx) == 0 ? 0 : -1);
}

/* resolver_next_deadline_ms - ms to the earliest deadline (O(in flight)); -1 when none. */
long resolver_next_deadline_ms(const resolver *res)
{
    long long first;
    long long left;
    size_t i;

    if (res->nexpired > 0)
        return (0);
    if (res->npending == 0)
        return (-1);
    first = res->pending[0]->deadline_ms;
    for (i = 1; i < res->npending; i++)
        if (res->pending[i]->deadline_ms < first)
            first = res->pending[i]->deadline_ms;
    left = first - clock_now_ms();
    if (left < 0)
        return (0);
    return (left > LONG_MAX ? LONG_MAX : (long)left);
}

/* resolver_expire - time out overdue queries (callback with RESOLVER_TIMEOUT); returns how many. */
int resolver_expire(resolver *res)
{
    long long now = clock_now_ms();
    resolver_answer ans;
    resolver_query *q;
    size_t i;
    int count = 0;

    /* Mark: move overdue queries to the expired list; no callbacks yet. */
    for (i = 0; i < res->npending; /* void */) {
        q = res->pending[i];
        if (q->deadline_ms > now) {
            i++;
            continue;
        }
        (void)ub_cancel(res->ctx, q->ub_id); /* see resolver_cancel() */
        resolver_unlink(res, q);             /* pending[i] is now another query */
        q->next = NULL;
        if (res->expired_tail)
            res->expired_tail->next = q;
        else
            res->expired = q;
        res->expired_tail = q;
        res->nexpired++;
    }

    /* Sweep: a callback may cancel or submit; take one query at a time. */
    while ((q = res->expired) != NULL) {
        res->expired = q->next;
        if (res->expired == NULL)
            res->expired_tail = NULL;
        res->nexpired--;
        resolver_answer_init(&ans, q->owner);
        resolver_answer_fail(&ans, RESOLVER_TIMEOUT, "no answer within %u ms", res->timeout_ms);
        resolver_relay_reason(res, q, &ans);
        resolver_deliver(res, q, &ans);
        count++;
    }
    return (count);
}

/* resolver_pending - number of queries in flight. */
size_t resolver_pending(const resolver *res)
{
    return (res->npending + res->nexpired);
}

/* resolver_count_into - count look-ups into *stats from now on (NULL: stop). */
void resolver_count_into(resolver *res, resolver_stats *stats)
{
    res->stats = stats;
}

/* resolver_stale - a view of owner's secure RRset that expired less than stale_max ago. */
bool resolver_stale(resolver *res, const char *owner, resolver_answer *view, unsigned *ago_s)
{
    if (!resolver_owner_ok(owner))
        return (false);
    return (cache_stale(res->cache, owner, clock_now_ms(), view, ago_s));
}

/* resolver_cache_entries - answers held in the cache. */
size_t resolver_cache_entries(const resolver *res)
{
    return (cache_size(res->cache));
}

/* The state of one synchronous look-up. */
typedef struct resolver_wait {
    bool done;
    resolver_answer *ans;
} resolver_wait;

/* resolver_lookup_done - completion callback of resolver_lookup(). */
static void resolver_lookup_done(void *arg, const resolver_answer *ans)
{
    resolver_wait *w = arg;

    resolver_answer_copy(w->ans, ans);
    w->done = true;
}

/* resolver_lookup - synchronous TLSA look-up of owner (cache first); always fills *ans. */
void resolver_lookup(resolver *res, const char *owner, resolver_answer *ans)
{
    resolver_wait w = {false, ans};
    struct pollfd pfd;
    long wait;
    int id;
    int rc;

    id = resolver_submit(res, owner, resolver_lookup_done, &w);
    if (!w.done && id <= 0)
        DANCE_PANIC("broken invariant");

    /*
     * Wait at most until the earliest deadline, which is never later than
     * ours; resolver_expire() ends our query at its deadline at the latest.
     */
    while (!w.done) {
        if ((wait = resolver_next_deadline_ms(res)) < 0)
            DANCE_PANIC("ours is pending: broken invariant");
        pfd.fd = resolver_fd(res);
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, wait > INT_MAX ? INT_MAX : (int)wait) < 0 && errno != EINTR) {
            resolver_cancel(res, id);
            resolver_answer_init(ans, owner);
            resolver_answer_fail(ans, RESOLVER_NETERR, "poll: %s", strerror(errno));
            return;
        }
        if ((rc = ub_process(res->ctx)) != 0 && !w.done) {
            resolver_cancel(res, id);
            resolver_answer_init(ans, owner);
            resolver_answer_fail(ans, RESOLVER_NETERR, "libunbound: %s", ub_strerror(rc));
            return;
        }
        if (!w.done)
            resolver_expire(res);
    }
}

