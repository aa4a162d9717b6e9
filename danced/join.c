/*
 * join.c - the policy face's verdicts for one message, handed to the milter face.
 *
 * USAGE
 *	j = join_new(max_connections + JOIN_SPARE_ENTRIES, JOIN_TTL_MS_DEFAULT);
 *	policy face, DATA request (a session owns at most one record):
 *	    join_make_key(queue_id, client_address, client_port, &key);
 *	    if (join_begin(j, &key, now, &t) == JOIN_BEGUN) ... checks ...
 *	    join_put(j, &key, t, res);  (or join_abandon)
 *	    next transaction: join_drop(j, &key, t); connection closed: join_release
 *	milter face, end of message:
 *	    switch (join_take(j, &key, now, res, on_settled, conn)) ...
 *
 * DESCRIPTION
 *	A hash table (chained, FNV-1a over the key, a power-of-two number
 *	of buckets) plus a list in order of creation.  Every record lives
 *	the same ttl_ms, so the list is also in order of expiry: expired
 *	records are swept from its head by join_begin() and join_take().
 *	Each record holds its key, the ticket of the request that made it,
 *	its state, whether a writer still owns it, one waiter and the
 *	verdicts, all inline: memory is at most max_entries *
 *	sizeof(join_entry) (about 1.6 KiB on LP64) plus the bucket array.
 *
 *	States: PENDING (begun) -> READY (put) -> TAKEN (take, or the
 *	milter's abort); PENDING -> ABANDONED (the request ended without
 *	verdicts; the only state a new join_begin may replace, since the
 *	writer of an abandoned request got no answer and Postfix retries
 *	it); any living state -> CONFLICT on a second join_begin or a second
 *	waiter.  Tickets count up from 1 and are never reused, so a writer
 *	can only settle, drop or release its own record.
 *
 *	Waiters are called after the state change, with nothing locked and
 *	the store consistent; a waiter may call back into the store.
 *
 * DIAGNOSTICS
 *	Memory exhaustion aborts (broken environment that cannot be handled
 *	per message).  join_free() with a waiter still registered is a
 *	broken invariant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/netaddr.h"
#include "lib/panic.h"
#include "join.h"

typedef enum {
    JOIN_PENDING = 0,
    JOIN_READY,
    JOIN_GONE,                        /* abandoned: the request ended without verdicts */
    JOIN_TAKEN_STATE,                 /* taken, or its message aborted */
    JOIN_CONFLICT_STATE               /* written twice, or waited for twice */
} join_state;

typedef struct join_entry {
    struct join_entry *hnext;         /* bucket chain */
    struct join_entry *older, *newer; /* creation (= expiry) order */
    char key[JOIN_KEY_MAX];
    uint64_t ticket;
    long long created_ms;
    long long expires_ms;
    join_state state;
    bool owned;                       /* its writer may still drop or release it */
    join_waiter_fn *waiter;
    void *waiter_arg;
    results_item res[RESULTS_KINDS];
} join_entry;

struct join {
    join_entry **bucket;
    size_t nbuckets;                  /* a power of two */
    size_t n, npending, max;
    long long ttl_ms;
    uint64_t tickets;
    unsigned long lost, dropped, taken, conflicts, refused;
    join_entry *oldest, *newest;
};

/* ------------------------------------------------------------------ keys */

/* join_queue_id_ok - 1..JOIN_QUEUE_ID_MAX letters and digits. */
static bool join_queue_id_ok(const char *q)
{
    size_t n = 0;

    for (; q[n] != '\0'; n++) {
        char c = q[n];

        if (n >= JOIN_QUEUE_ID_MAX || !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
                                        || (c >= 'a' && c <= 'z')))
            return false;
    }
    return n > 0;
}

/* join_make_key - the key of a message from its queue id, client address and port. */
join_key_status join_make_key(const char *queue_id, const char *client_addr, const char *client_port,
                              join_key *key)
{
    char addr[NETADDR_TEXT_MAX];
    netaddr a;
    unsigned long port = 0;
    size_t i;

    key->s[0] = '\0';
    if (queue_id == NULL || !join_queue_id_ok(queue_id))
        return JOIN_KEY_BAD_QUEUE_ID;
    if (!netaddr_parse(client_addr, &a))
        return JOIN_KEY_BAD_ADDRESS;
    netaddr_format(&a, addr);
    if (client_port == NULL || client_port[0] == '\0')
        return JOIN_KEY_BAD_PORT;
    for (i = 0; client_port[i] != '\0'; i++) {
        if (client_port[i] < '0' || client_port[i] > '9' || i >= 5)
            return JOIN_KEY_BAD_PORT;
        port = port * 10 + (unsigned long) (client_port[i] - '0');
    }
    if (port > 65535)
        return JOIN_KEY_BAD_PORT;
    if ((size_t) snprintf(key->s, sizeof(key->s), "%s %s %lu", queue_id, addr, port) >= sizeof(key->s))
        DANCE_PANIC("64 + 46 + 5 + 2 spaces fit");
    return JOIN_KEY_OK;
}

/* join_key_status_str - short English text for a status. */
const char *join_key_status_str(join_key_status st)
{
    switch (st) {
    case JOIN_KEY_OK:
        return "ok";
    case JOIN_KEY_BAD_QUEUE_ID:
        return "no usable queue id";
    case JOIN_KEY_BAD_ADDRESS:
        return "client address is not an IP address";
    case JOIN_KEY_BAD_PORT:
        return "client port is not a port number";
    }
    return "unknown join key status";
}

/* join_status_str - short English text for a join_take result. */
const char *join_status_str(join_status st)
{
    switch (st) {
    case JOIN_FOUND:
        return "found";
    case JOIN_MISSING:
        return "no verdict recorded for this message";
    case JOIN_WAIT:
        return "verdict still pending";
    case JOIN_ABANDONED:
        return "policy request ended without a verdict";
    case JOIN_CONFLICT:
        return "conflicting policy requests for this message";
    case JOIN_TAKEN:
        return "verdict already taken";
    }
    return "unknown join status";
}

/* ----------------------------------------------------------------- table */

static size_t join_hash(const join *j, const char *key)
{
    uint64_t h = 14695981039346656037ULL;

    for (const unsigned char *p = (const unsigned char *) key; *p != '\0'; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return (size_t) h & (j->nbuckets - 1);
}

static join_entry *join_find(const join *j, const char *key)
{
    join_entry *e;

    for (e = j->bucket[join_hash(j, key)]; e != NULL; e = e->hnext)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* join_untaken - a record whose message still expects it. */
static bool join_untaken(const join_entry *e)
{
    return e->state == JOIN_PENDING || e->state == JOIN_READY;
}

/* join_remove - unlink e from its bucket and the age list, and free it. */
static void join_remove(join *j, join_entry *e)
{
    join_entry **pp = &j->bucket[join_hash(j, e->key)];

    while (*pp != e) {
        if (*pp == NULL)
            DANCE_PANIC("entry not in its bucket");
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        j->oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        j->newest = e->older;
    if (e->state == JOIN_PENDING)
        j->npending--;
    j->n--;
    free(e);
}

/* join_settle - e leaves PENDING for state; its waiter, if any, is called last. */
static void join_settle(join *j, join_entry *e, join_state state)
{
    join_waiter_fn *fn = e->waiter;
    void *arg = e->waiter_arg;

    if (e->state == JOIN_PENDING)
        j->npending--;
    e->state = state;
    e->waiter = NULL;
    e->waiter_arg = NULL;
    if (fn != NULL)
        fn(arg);
}

/* join_lose - remove a record before it was taken, counted in *count when its message still expected it; a waiter is told. */
static void join_lose(join *j, join_entry *e, unsigned long *count)
{
    join_waiter_fn *fn = e->waiter;
    void *arg = e->waiter_arg;

    if (join_untaken(e))
        (*count)++;
    join_remove(j, e);
    if (fn != NULL)
        fn(arg);                /* its take now finds the record missing */
}

/* join_sweep - drop expired records. */
static void join_sweep(join *j, long long now_ms)
{
    while (j->oldest != NULL && j->oldest->expires_ms <= now_ms)
        join_lose(j, j->oldest, &j->lost);
}

/* join_make_room - at max_entries, evict the oldest record no writer owns; false when all are owned. */
static bool join_make_room(join *j)
{
    join_entry *e;

    if (j->n < j->max)
        return true;
    for (e = j->oldest; e != NULL && e->owned; e = e->newer)
        ;
    if (e == NULL)
        return false;
    join_lose(j, e, &j->lost);
    return true;
}

/* join_new - an empty store. */
join *join_new(size_t max_entries, long long ttl_ms)
{
    join *j;

    if (max_entries == 0 || ttl_ms <= 0 || (j = calloc(1, sizeof(*j))) == NULL)
        DANCE_PANIC("out of memory");
    j->max = max_entries;
    j->ttl_ms = ttl_ms;
    for (j->nbuckets = 64; j->nbuckets < max_entries; j->nbuckets *= 2)
        ;
    j->bucket = xcalloc(j->nbuckets, sizeof(j->bucket[0]));
    return j;
}

/* join_free - release the store. */
void join_free(join *j)
{
    if (j == NULL)
        return;
    while (j->oldest != NULL) {
        if (j->oldest->waiter != NULL)
            DANCE_PANIC("a milter connection still waits");
        join_remove(j, j->oldest);
    }
    free(j->bucket);
    free(j);
}

/* join_begin - a DATA request for key arrived. */
join_begin_status join_begin(join *j, const join_key *key, long long now_ms, uint64_t *ticket)
{
    join_entry *e, *old;
    size_t b;

    *ticket = 0;
    join_sweep(j, now_ms);
    if ((old = join_find(j, key->s)) != NULL) {
        if (old->state != JOIN_GONE) {
            /* written already: neither word stands */
            if (old->state != JOIN_CONFLICT_STATE)
                j->conflicts++;
            memset(old->res, 0, sizeof(old->res));
            join_settle(j, old, JOIN_CONFLICT_STATE);
            return JOIN_CONFLICT_BEGIN;
        }
        join_remove(j, old);    /* an abandoned request, retried by Postfix */
    }
    if (!join_make_room(j)) {
        j->refused++;
        return JOIN_FULL;
    }
    e = xcalloc(1, sizeof(*e));
    memcpy(e->key, key->s, sizeof(e->key));
    e->ticket = *ticket = ++j->tickets;
    e->created_ms = now_ms;
    e->expires_ms = now_ms + j->ttl_ms;
    e->state = JOIN_PENDING;
    e->owned = true;
    b = join_hash(j, e->key);
    e->hnext = j->bucket[b];
    j->bucket[b] = e;
    e->older = j->newest;
    if (j->newest != NULL)
        j->newest->newer = e;
    else
        j->oldest = e;
    j->newest = e;
    j->n++;
    j->npending++;
    return JOIN_BEGUN;
}

/* join_mine - the record of key when ticket made it, else NULL. */
static join_entry *join_mine(const join *j, const join_key *key, uint64_t ticket)
{
    join_entry *e = join_find(j, key->s);

    return e != NULL && e->ticket == ticket ? e : NULL;
}

/* join_put - the verdicts of ticket's request. */
bool join_put(join *j, const join_key *key, uint64_t ticket, const results_item res[RESULTS_KINDS])
{
    join_entry *e = join_mine(j, key, ticket);

    if (res == NULL)
        DANCE_PANIC("unexpected: res == NULL");
    if (e == NULL || e->state != JOIN_PENDING)
        return false;
    memcpy(e->res, res, sizeof(e->res));
    join_settle(j, e, JOIN_READY);
    return true;
}

/* join_abandon - ticket's request will never have verdicts. */
void join_abandon(join *j, const join_key *key, uint64_t ticket)
{
    join_entry *e = join_mine(j, key, ticket);

    if (e != NULL && e->state == JOIN_PENDING)
        join_settle(j, e, JOIN_GONE);
}

/* join_drop - ticket's writer started its next transaction: its record goes (a conflict stays). */
void join_drop(join *j, const join_key *key, uint64_t ticket)
{
    join_entry *e = join_mine(j, key, ticket);

    if (e == NULL)
        return;
    if (e->state == JOIN_CONFLICT_STATE) {
        e->owned = false;
        return;
    }
    join_lose(j, e, &j->dropped);   /* a waiter (none is expected) is told */
}

/* join_release - ticket's writer closed its connection. */
void join_release(join *j, const join_key *key, uint64_t ticket)
{
    join_entry *e = join_mine(j, key, ticket);

    if (e == NULL)
        return;
    e->owned = false;
    if (e->state == JOIN_PENDING)
        join_settle(j, e, JOIN_GONE);
    else if (e->state == JOIN_TAKEN_STATE || e->state == JOIN_GONE)
        join_remove(j, e);
}

/* join_take - the milter at end of message. */
join_status join_take(join *j, const join_key *key, long long now_ms, results_item res[RESULTS_KINDS],
                      join_waiter_fn *fn, void *arg)
{
    join_entry *e;

    join_sweep(j, now_ms);
    if ((e = join_find(j, key->s)) == NULL)
        return JOIN_MISSING;
    switch (e->state) {
    case JOIN_READY:
        memcpy(res, e->res, sizeof(e->res));
        e->state = JOIN_TAKEN_STATE;
        j->taken++;
        return JOIN_FOUND;
    case JOIN_PENDING:
        if (e->waiter != NULL && e->waiter_arg != arg) {
            j->conflicts++;     /* two milter connections wait for one message */
            join_settle(j, e, JOIN_CONFLICT_STATE);
            return JOIN_CONFLICT;
        }
        e->waiter = fn;
        e->waiter_arg = arg;
        return JOIN_WAIT;
    case JOIN_GONE:
        return JOIN_ABANDONED;
    case JOIN_CONFLICT_STATE:
        return JOIN_CONFLICT;
    case JOIN_TAKEN_STATE:
        return JOIN_TAKEN;
    }
    return JOIN_MISSING;
}

/* join_cancel_wait - arg no longer waits for key. */
void join_cancel_wait(join *j, const join_key *key, void *arg)
{
    join_entry *e = join_find(j, key->s);

    if (e != NULL && e->waiter_arg == arg) {
        e->waiter = NULL;
        e->waiter_arg = NULL;
    }
}

/* join_discard - the message of key was aborted. */
void join_discard(join *j, const join_key *key)
{
    join_entry *e = join_find(j, key->s);

    if (e != NULL && join_untaken(e))
        join_settle(j, e, JOIN_TAKEN_STATE);
}

/* join_stats_take - the counters at now_ms. */
void join_stats_take(join *j, long long now_ms, join_stats *st)
{
    st->entries = j->n;
    st->pending = j->npending;
    st->lost = j->lost;
    st->dropped = j->dropped;
    st->taken = j->taken;
    st->conflicts = j->conflicts;
    st->refused = j->refused;
    st->oldest_untaken_ms = 0;
    for (const join_entry *e = j->oldest; e != NULL; e = e->newer) {
        if (join_untaken(e)) {
            st->oldest_untaken_ms = now_ms - e->created_ms;
            break;
        }
    }
    j->lost = j->dropped = j->taken = j->conflicts = j->refused = 0;
}
