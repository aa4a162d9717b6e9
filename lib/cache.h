/*
 * cache.h - in-process cache of TLSA answers, keyed by owner name.
 *
 * Entries live for min(TTL, ceiling) seconds on a monotonic clock; error
 * answers (bogus, SERVFAIL, timeout, network) live for a short, separate
 * time so a broken zone is not hammered but recovers quickly.  The cache is
 * bounded in entries; when full, the entry closest to expiry is evicted.
 * With a stale window, an expired secure RRset is kept that much longer for
 * cache_stale() (RFC 8767's idea): the caller may decide from it when a new
 * look-up fails.  Such entries count against the bound and go first.
 * The clock is passed in by the caller, which keeps this module pure and
 * testable.
 */
#ifndef DANCE_LIB_CACHE_H
#define DANCE_LIB_CACHE_H

#include <stddef.h>
#include <stdbool.h>
#include "answer.h"

typedef struct cache cache;

/* cache_new - create a cache of at most max_entries; ttl ceiling, error lifetime and stale window in seconds. */
cache *cache_new(size_t max_entries, unsigned max_ttl, unsigned err_ttl, unsigned stale_max);

/* cache_free - release the cache and all answers in it; NULL is fine. */
void cache_free(cache *c);

/* cache_put - remember a copy of ans at time now_ms (monotonic); does nothing when its lifetime is 0. */
void cache_put(cache *c, const resolver_answer *ans, long long now_ms);

/* cache_get - copy a live entry for owner into *ans (ttl = seconds left, from_cache set; caller clears it); false on miss or expiry. */
bool cache_get(cache *c, const char *owner, long long now_ms, resolver_answer *ans);

/*
 * cache_peek - as cache_get, but *view borrows the entry's RDATA (no copy):
 * valid until the next call into the cache, and never to be cleared.
 */
bool cache_peek(cache *c, const char *owner, long long now_ms, resolver_answer *view);

/*
 * cache_stale - a view (as cache_peek) of owner's secure RRset that expired
 * less than the stale window ago, with the whole seconds since expiry in
 * *ago_s; false when there is none (or the entry is still live).
 */
bool cache_stale(cache *c, const char *owner, long long now_ms, resolver_answer *view, unsigned *ago_s);

/* cache_size - number of entries held (stale and expired ones included until evicted). */
size_t cache_size(const cache *c);

#endif
