/*
 * budget.c - look-up budgets per client address, and the cap on look-ups
 * in flight.
 *
 * USAGE
 *	b = budget_new(&snap->cfg);
 *	st = budget_admit(b, &client, n, in_flight, clock_now_ms(), &log);
 *	if (st != BUDGET_OK) ... temperror (BUDGET_REASON); if (log) log it ...
 *	budget_configure(b, &new_snap->cfg);	(after a reload)
 *	budget_free(b);
 *
 * DESCRIPTION
 *	A bucket holds its tokens in units of 1/per_ms token: it gains
 *	count units every millisecond and holds at most count * per_ms
 *	(count tokens, the burst), and a look-up takes per_ms units.  With
 *	count at most 1,000,000 and per at most a day the products fit 64
 *	bits.  A check that needs more tokens than the burst (two owners
 *	under a budget of one) asks for the burst only, so it can pass.
 *
 *	The key of a bucket is the address family and the address: all 4
 *	bytes of IPv4, the first 8 of IPv6 (its /64, what one site is
 *	given); a client without a known address has family 0 and shares
 *	the one "unknown" bucket.  SipHash of the key under a random secret
 *	picks the group; the group is searched whole and the key compared.
 *	A new key takes a free bucket of its group, or the one seen least
 *	recently, and starts full: an evicted client loses nothing it had
 *	not already been given back by the refill.
 *
 *	The in-flight cap is checked first and takes nothing; the bucket
 *	is refilled and charged only when both limits allow.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "lib/keyhash.h"
#include "lib/panic.h"
#include "budget.h"

#define BUDGET_KEY_LEN 9            /* family tag and up to 8 address bytes */
#define BUDGET_GROUPS (BUDGET_BUCKETS / BUDGET_GROUP)

_Static_assert(BUDGET_BUCKETS % BUDGET_GROUP == 0, "whole groups");

typedef struct budget_bucket {
    unsigned char key[BUDGET_KEY_LEN];
    bool used;
    long long refilled_ms;          /* units are as of this time */
    long long seen_ms;              /* last asked about (replacement order) */
    long long logged_ms;            /* last refusal logged, LLONG_MIN for never */
    uint64_t units;
} budget_bucket;

struct budget {
    unsigned char secret[KEYHASH_KEY_LEN];
    config_rate rate;               /* count 0: no per-client limit */
    size_t in_flight_max;
    long long in_flight_logged_ms;
    budget_bucket bucket[BUDGET_BUCKETS];
};

/* budget_reset - forget every client. */
static void budget_reset(budget *b)
{
    memset(b->bucket, 0, sizeof(b->bucket));
    b->in_flight_logged_ms = LLONG_MIN;
}

/* budget_new - an empty table with a fresh random key, set to cfg's limits. */
budget *budget_new(const dance_config *cfg)
{
    budget *b = xcalloc(1, sizeof(*b));

    if (getrandom(b->secret, sizeof(b->secret), 0) != (ssize_t) sizeof(b->secret)) {
        free(b);
        return NULL;
    }
    b->rate = cfg->lookup_budget;
    b->in_flight_max = cfg->lookups_in_flight_max;
    budget_reset(b);
    return b;
}

/* budget_free - release the table. */
void budget_free(budget *b)
{
    free(b);
}

/* budget_configure - take cfg's limits; a changed lookup_budget starts every bucket full. */
void budget_configure(budget *b, const dance_config *cfg)
{
    if (b->rate.count != cfg->lookup_budget.count || b->rate.per_s != cfg->lookup_budget.per_s)
        budget_reset(b);
    b->rate = cfg->lookup_budget;
    b->in_flight_max = cfg->lookups_in_flight_max;
}

/* budget_key - the bucket key of client: family tag, then the IPv4 address or the IPv6 /64. */
static void budget_key(const netaddr *client, unsigned char key[BUDGET_KEY_LEN])
{
    memset(key, 0, BUDGET_KEY_LEN);
    if (client == NULL)
        return;
    if (client->family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, client->a, 4);
    } else if (client->family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, client->a, 8);
    }
}

/* budget_full - the units of a full bucket. */
static uint64_t budget_full(const budget *b)
{
    return (uint64_t) b->rate.count * b->rate.per_s * 1000u;
}

/* budget_find - client's bucket: its own, a free one of its group, or the group's least recently seen. */
static budget_bucket *budget_find(budget *b, const netaddr *client, long long now_ms)
{
    unsigned char key[BUDGET_KEY_LEN];
    budget_bucket *g, *pick = NULL;

    budget_key(client, key);
    g = &b->bucket[(keyhash_siphash(b->secret, key, sizeof(key)) % BUDGET_GROUPS) * BUDGET_GROUP];
    for (size_t i = 0; i < BUDGET_GROUP; i++) {
        if (g[i].used && memcmp(g[i].key, key, sizeof(key)) == 0)
            return &g[i];
        if (pick == NULL || (pick->used && (!g[i].used || g[i].seen_ms < pick->seen_ms)))
            pick = &g[i];
    }
    memcpy(pick->key, key, sizeof(key));
    pick->used = true;
    pick->refilled_ms = now_ms;
    pick->seen_ms = now_ms;
    pick->logged_ms = LLONG_MIN;
    pick->units = budget_full(b);
    return pick;
}

/* budget_refill - add the units earned since the bucket was last refilled. */
static void budget_refill(const budget *b, budget_bucket *k, long long now_ms)
{
    uint64_t full = budget_full(b), elapsed;

    if (now_ms <= k->refilled_ms) {
        k->refilled_ms = now_ms < k->refilled_ms ? now_ms : k->refilled_ms;
        return;
    }
    elapsed = (uint64_t) (now_ms - k->refilled_ms);
    if (elapsed >= (uint64_t) b->rate.per_s * 1000u || k->units + elapsed * b->rate.count >= full)
        k->units = full;
    else
        k->units += elapsed * b->rate.count;
    k->refilled_ms = now_ms;
}

/* budget_log_due - true (and remembered) when a refusal at now_ms is the one of its minute to log. */
static bool budget_log_due(long long *logged_ms, long long now_ms)
{
    if (*logged_ms != LLONG_MIN && now_ms - *logged_ms < BUDGET_LOG_INTERVAL_MS)
        return false;
    *logged_ms = now_ms;
    return true;
}

/* budget_admit - may client start n uncached look-ups now? */
budget_status budget_admit(budget *b, const netaddr *client, size_t n, size_t in_flight, long long now_ms,
                           bool *log)
{
    budget_bucket *k;
    uint64_t need;

    *log = false;
    if (n == 0)
        DANCE_PANIC("a gate asked about no look-up");
    if (in_flight + n > b->in_flight_max) {
        *log = budget_log_due(&b->in_flight_logged_ms, now_ms);
        return BUDGET_IN_FLIGHT;
    }
    if (b->rate.count == 0)
        return BUDGET_OK;
    k = budget_find(b, client, now_ms);
    k->seen_ms = now_ms;
    budget_refill(b, k, now_ms);
    need = (uint64_t) (n < b->rate.count ? n : b->rate.count) * b->rate.per_s * 1000u;
    if (k->units < need) {
        *log = budget_log_due(&k->logged_ms, now_ms);
        return BUDGET_CLIENT;
    }
    k->units -= need;
    return BUDGET_OK;
}

/* budget_limit_name - "client" or "in_flight" for a refusal. */
const char *budget_limit_name(budget_status st)
{
    switch (st) {
    case BUDGET_CLIENT:
        return "client";
    case BUDGET_IN_FLIGHT:
        return "in_flight";
    case BUDGET_OK:
    case BUDGET_LIMITS:
        break;
    }
    DANCE_PANIC("not a refusal");
}
