/*
 * cache.c - in-process cache of TLSA answers, keyed by owner name.
 *
 * USAGE
 *	c = cache_new(max_entries, max_ttl, err_ttl, stale_max);
 *	if (!cache_get(c, owner, now_ms, &ans)) {
 *	    ... look up owner, giving ans ...
 *	    cache_put(c, &ans, now_ms);
 *	}
 *	resolver_answer_clear(&ans);
 *	cache_free(c);
 *
 * DESCRIPTION
 *	The resolver keeps one cache so that a repeated check of the same
 *	owner costs no resolver round trip.  Keys are owner names folded to
 *	lower case (ASCII); otherwise they match exactly, so "a.example" and
 *	"a.example." are different keys.  Every entry holds its own deep copy
 *	of the answer; cache_get() hands out another copy, never the stored
 *	one.
 *
 *	Lifetime of an entry, in seconds:
 *	    secure, secure NXDOMAIN/NODATA, insecure: min(answer TTL, max_ttl)
 *	    bogus, SERVFAIL, timeout, network error:  err_ttl
 *	max_ttl == 0 disables the cache entirely; a lifetime of 0 stores
 *	nothing (and drops any older entry for that owner).  The clock is
 *	the caller's monotonic clock in milliseconds; an entry put at T with
 *	lifetime L is live while now < T + 1000 * L.  cache_get() reports
 *	the whole seconds left as the answer's TTL (rounded down, so it never
 *	overstates) and sets from_cache.
 *
 *	Stale answers (stale_max > 0): a secure RRset (RESOLVER_SECURE)
 *	that has expired is no longer served by cache_get(), but is kept
 *	until expiry + stale_max for cache_stale(), which the caller asks
 *	when a fresh look-up ended in SERVFAIL, a time-out or a network
 *	error.  While such an entry (live or stale) exists, an answer with
 *	one of those errors is not stored, so every look-up goes to the DNS
 *	again; any other answer - a new RRset, a secure NXDOMAIN/NODATA, an
 *	insecure or a bogus one - replaces the entry (or drops it when it
 *	is not to be kept), which ends its stale life at once.  Stale
 *	entries count against max_entries; their expiry is in the past, so
 *	they sit at the heap's top and are evicted first.
 *
 *	Structure: a chained hash table on the key for look-ups, plus a
 *	binary min-heap ordered by expiry time.  The heap's top is always
 *	the entry that expires first - an expired one if there is any - which
 *	is exactly the entry to evict when the cache is full.  Every
 *	operation is O(1) expected for the hash plus O(log n) for the heap.
 *	Expired entries are removed when they are looked up or evicted.
 *
 * DIAGNOSTICS
 *	Out of memory aborts (there is no useful way to continue).  The cache
 *	is not thread-safe: one thread owns it (the resolver's).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "cache.h"
#include "panic.h"
#include "text.h"

#define CACHE_MIN_BUCKETS 64

typedef struct cache_entry {
    struct cache_entry *next;                        /* hash chain */
    char key[sizeof(((resolver_answer *)0)->owner)]; /* lower case */
    uint64_t hash;
    long long expires_ms; /* live while now_ms < expires_ms */
    size_t heap_index;    /* position in cache->heap */
    resolver_answer ans;  /* owned deep copy */
} cache_entry;

struct cache {
    size_t max_entries;
    unsigned max_ttl;
    unsigned err_ttl;
    long long stale_ms; /* stale window; 0: none */
    cache_entry **buckets; /* nbuckets is a power of two */
    size_t nbuckets;
    cache_entry **heap; /* min-heap on expires_ms */
    size_t heap_alloc;
    size_t count;
};

/* cache_fold_key - lower-case copy of owner; false when it does not fit. */
static bool cache_fold_key(char *key, size_t keysize, const char *owner)
{
    size_t i;

    for (i = 0; owner[i] != 0; i++) {
        if (i + 1 >= keysize)
            return (false);
        key[i] = (owner[i] >= 'A' && owner[i] <= 'Z') ? (char)(owner[i] - 'A' + 'a') : owner[i];
    }
    key[i] = 0;
    return (true);
}

/* cache_hash - FNV-1a over a folded key. */
static uint64_t cache_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *key; key++) {
        h ^= (unsigned char)*key;
        h *= 1099511628211ULL;
    }
    return (h);
}

/* cache_lifetime - seconds an answer may be kept; 0 means not at all. */
static unsigned cache_lifetime(const cache *c, const resolver_answer *ans)
{
    if (c->max_ttl == 0 || c->max_entries == 0)
        return (0);
    switch (ans->status) {
    case RESOLVER_SECURE:
    case RESOLVER_SECURE_NXDOMAIN:
    case RESOLVER_SECURE_NODATA:
    case RESOLVER_INSECURE:
        return (ans->ttl < c->max_ttl ? ans->ttl : c->max_ttl);
    case RESOLVER_BOGUS:
    case RESOLVER_SERVFAIL:
    case RESOLVER_TIMEOUT:
    case RESOLVER_NETERR:
        return (c->err_ttl);
    }
    DANCE_PANIC("broken invariant");
}

/* cache_is_error - an answer that says nothing about the records: SERVFAIL, time-out, network error. */
static bool cache_is_error(const resolver_answer *ans)
{
    return ans->status == RESOLVER_SERVFAIL || ans->status == RESOLVER_TIMEOUT
        || ans->status == RESOLVER_NETERR;
}

/* cache_keeps_stale - is e a secure RRset within its (live or stale) life at now_ms? */
static bool cache_keeps_stale(const cache *c, const cache_entry *e, long long now_ms)
{
    return c->stale_ms > 0 && e->ans.status == RESOLVER_SECURE && now_ms < e->expires_ms + c->stale_ms;
}

/*
 * cache_stale_only - is ans a secure RRset with TTL 0 that is kept anyway,
 * expired from the start, for its stale life?  It is the newest word on the
 * owner: dropping it would also drop the older answer it replaces, and
 * libunbound hands out TTL 0 for an RRset of its own cache that is just
 * expiring.
 */
static bool cache_stale_only(const cache *c, const resolver_answer *ans)
{
    return c->stale_ms > 0 && c->max_ttl > 0 && c->max_entries > 0 && ans->status == RESOLVER_SECURE;
}

/* Heap helpers: the entry at index i has children 2i+1 and 2i+2. */

/* cache_heap_set - place entry e at heap index i. */
static void cache_heap_set(cache *c, size_t i, cache_entry *e)
{
    c->heap[i] = e;
    e->heap_index = i;
}

/* cache_heap_up - move the entry at i towards the root while it expires earlier than its parent. */
static void cache_heap_up(cache *c, size_t i)
{
    cache_entry *e = c->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (c->heap[parent]->expires_ms <= e->expires_ms)
            break;
        cache_heap_set(c, i, c->heap[parent]);
        i = parent;
    }
    cache_heap_set(c, i, e);
}

/* cache_heap_down - move the entry at i towards the leaves while a child expires earlier. */
static void cache_heap_down(cache *c, size_t i)
{
    cache_entry *e = c->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= c->count)
            break;
        if (child + 1 < c->count && c->heap[child + 1]->expires_ms < c->heap[child]->expires_ms)
            child++;
        if (e->expires_ms <= c->heap[child]->expires_ms)
            break;
        cache_heap_set(c, i, c->heap[child]);
        i = child;
    }
    cache_heap_set(c, i, e);
}

/* cache_heap_fix - restore heap order after the entry at i changed its expiry. */
static void cache_heap_fix(cache *c, size_t i)
{
    cache_entry *e = c->heap[i];

    cache_heap_up(c, i);
    cache_heap_down(c, e->heap_index);
}

/* cache_find - the entry for a folded key, or NULL; *link gets the chain link to it. */
static cache_entry *cache_find(const cache *c, const char *key, uint64_t hash, cache_entry ***link)
{
    cache_entry **pp = &c->buckets[hash & (c->nbuckets - 1)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->hash == hash && strcmp((*pp)->key, key) == 0) {
            if (link)
                *link = pp;
            return (*pp);
        }
    }
    if (link)
        *link = pp;
    return (NULL);
}

/* cache_remove - unlink an entry from hash and heap and free it. */
static void cache_remove(cache *c, cache_entry *e)
{
    cache_entry **link;
    size_t i = e->heap_index;

    if (cache_find(c, e->key, e->hash, &link) != e)
        DANCE_PANIC("broken invariant");
    *link = e->next;

    if (i >= c->count || c->heap[i] != e)
        DANCE_PANIC("broken invariant");
    c->count--;
    if (i < c->count) {
        cache_heap_set(c, i, c->heap[c->count]);
        cache_heap_fix(c, i);
    }
    c->heap[c->count] = NULL;

    resolver_answer_clear(&e->ans);
    free(e);
}

/* cache_grow - make room for one more entry in the heap and keep the hash load at most 1. */
static void cache_grow(cache *c)
{
    if (c->count + 1 > c->heap_alloc) {
        size_t n = c->heap_alloc ? 2 * c->heap_alloc : CACHE_MIN_BUCKETS;
        cache_entry **heap;

        if (n > c->max_entries)
            n = c->max_entries;
        heap = xcalloc(n, sizeof(*heap));
        if (c->count)
            memcpy(heap, c->heap, c->count * sizeof(*heap));
        free(c->heap);
        c->heap = heap;
        c->heap_alloc = n;
    }
    if (c->count + 1 > c->nbuckets && c->nbuckets <= SIZE_MAX / 4) {
        size_t n = 2 * c->nbuckets;
        cache_entry **buckets = xcalloc(n, sizeof(*buckets));
        size_t b;

        for (b = 0; b < c->nbuckets; b++) {
            cache_entry *e = c->buckets[b];

            while (e != NULL) {
                cache_entry *next = e->next;
                cache_entry **head = &buckets[e->hash & (n - 1)];

                e->next = *head;
                *head = e;
                e = next;
            }
        }
        free(c->buckets);
        c->buckets = buckets;
        c->nbuckets = n;
    }
}

/* cache_new - create a cache of at most max_entries; ttl ceiling, error lifetime and stale window in seconds. */
cache *cache_new(size_t max_entries, unsigned max_ttl, unsigned err_ttl, unsigned stale_max)
{
    cache *c = xcalloc(1, sizeof(*c));

    c->stale_ms = 1000LL * (long long)stale_max;
    c->max_entries = max_entries;
    c->max_ttl = max_ttl;
    c->err_ttl = err_ttl;
    c->nbuckets = CACHE_MIN_BUCKETS;
    c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
    return (c);
}

/* cache_free - release the cache and all answers in it; NULL is fine. */
void cache_free(cache *c)
{
    if (c == NULL)
        return;
    while (c->count > 0)
        cache_remove(c, c->heap[c->count - 1]);
    free(c->heap);
    free(c->buckets);
    free(c);
}

/* cache_put - remember a copy of ans at now_ms; with lifetime 0 nothing is kept but a stale-only RRset. */
void cache_put(cache *c, const resolver_answer *ans, long long now_ms)
{
    char key[sizeof(((cache_entry *)0)->key)];
    unsigned lifetime;
    uint64_t hash;
    cache_entry *e;

    if (!cache_fold_key(key, sizeof(key), ans->owner) || key[0] == 0)
        return; /* cannot be a key; not cached */
    hash = cache_hash(key);
    e = cache_find(c, key, hash, NULL);
    if (e != NULL && cache_is_error(ans) && cache_keeps_stale(c, e, now_ms))
        return; /* keep the secure answer; the next look-up asks the DNS again */
    lifetime = cache_lifetime(c, ans);
    if (lifetime == 0 && !cache_stale_only(c, ans)) {
        if (e != NULL) /* newer answer says: do not keep */
            cache_remove(c, e);
        return;
    }
    if (e != NULL) { /* replace in place */
        resolver_answer_clear(&e->ans);
    } else {
        if (c->count >= c->max_entries)
            cache_remove(c, c->heap[0]); /* expired, or expiring soonest */
        cache_grow(c);
        e = xcalloc(1, sizeof(*e));
        memcpy(e->key, key, sizeof(e->key));
        e->hash = hash;
        e->next = c->buckets[hash & (c->nbuckets - 1)];
        c->buckets[hash & (c->nbuckets - 1)] = e;
        e->expires_ms = now_ms; /* set properly below */
        cache_heap_set(c, c->count, e);
        c->count++;
    }
    resolver_answer_copy(&e->ans, ans);
    e->ans.from_cache = false;
    e->expires_ms = now_ms + 1000LL * (long long)lifetime;
    cache_heap_fix(c, e->heap_index);
}

/* cache_held - the entry for owner that is live or stale, or NULL (one past both is removed). */
static cache_entry *cache_held(cache *c, const char *owner, long long now_ms)
{
    char key[sizeof(((cache_entry *)0)->key)];
    cache_entry *e;

    if (!cache_fold_key(key, sizeof(key), owner))
        return (NULL);
    e = cache_find(c, key, cache_hash(key), NULL);
    if (e == NULL)
        return (NULL);
    if (e->expires_ms - now_ms <= 0 && !cache_keeps_stale(c, e, now_ms)) {
        cache_remove(c, e);
        return (NULL);
    }
    return (e);
}

/* cache_live - the live entry for owner, or NULL; *left_ms gets its time left. */
static cache_entry *cache_live(cache *c, const char *owner, long long now_ms, long long *left_ms)
{
    cache_entry *e = cache_held(c, owner, now_ms);

    if (e == NULL)
        return (NULL);
    *left_ms = e->expires_ms - now_ms;
    return (*left_ms > 0 ? e : NULL); /* expired: kept for cache_stale() */
}

/* cache_stale - a view of owner's secure RRset that expired less than the stale window ago. */
bool cache_stale(cache *c, const char *owner, long long now_ms, resolver_answer *view, unsigned *ago_s)
{
    cache_entry *e = cache_held(c, owner, now_ms);
    long long ago_ms;

    if (e == NULL || e->ans.status != RESOLVER_SECURE || (ago_ms = now_ms - e->expires_ms) < 0)
        return (false);
    if (ago_ms >= c->stale_ms)
        DANCE_PANIC("broken invariant"); /* cache_held() drops it */
    *view = e->ans;             /* shallow: the RDATA stays the entry's */
    text_copy(view->owner, sizeof(view->owner), owner);
    view->ttl = 0;
    view->from_cache = true;
    *ago_s = (unsigned)(ago_ms / 1000);
    return (true);
}

/* cache_peek - a view of a live entry for owner, borrowing its RDATA; false on miss or expiry. */
bool cache_peek(cache *c, const char *owner, long long now_ms, resolver_answer *view)
{
    long long left_ms;
    cache_entry *e = cache_live(c, owner, now_ms, &left_ms);

    if (e == NULL)
        return (false);
    *view = e->ans;             /* shallow: the RDATA stays the entry's */
    text_copy(view->owner, sizeof(view->owner), owner);
    view->ttl = (uint32_t)(left_ms / 1000);
    view->from_cache = true;
    return (true);
}

/* cache_get - copy a live entry for owner into *ans; false on miss or expiry. */
bool cache_get(cache *c, const char *owner, long long now_ms, resolver_answer *ans)
{
    resolver_answer view;

    if (!cache_peek(c, owner, now_ms, &view))
        return (false);
    resolver_answer_copy(ans, &view);   /* the RDATA becomes the caller's */
    return (true);
}

/* cache_size - number of entries held (stale and expired ones included until evicted). */
size_t cache_size(const cache *c)
{
    return (c->count);
}
