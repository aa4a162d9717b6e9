/*
 * join.c - the policy face's verdicts for one message, handed to the milter face.
 *
 * USAGE
 *	j = join_new(JOIN_ENTRIES_DEFAULT, JOIN_TTL_MS_DEFAULT);
 *	policy face, DATA request:
 *	    join_make_key(queue_id, client_address, client_port, &key);
 *	    t = join_begin(j, &key, now);
 *	    ... checks ... join_put(j, &key, t, res);  (or join_abandon)
 *	milter face, end of message:
 *	    st = join_take(j, &key, now, now + wait, res);
 *
 * DESCRIPTION
 *	A hash table (chained, FNV-1a over the key, a power-of-two number
 *	of buckets) plus a list in order of creation.  Every record lives
 *	the same ttl_ms, so the list is also in order of expiry: expired
 *	records are swept from its head by join_begin() and join_take(),
 *	and at max_entries the head is evicted to make room.  Each record
 *	holds its key, the ticket of the request that made it, its state
 *	(pending, ready, abandoned) and the verdicts: all of it inline, so
 *	memory is at most max_entries * sizeof(join_entry) (about 1.6 KiB
 *	on LP64) plus the bucket array.
 *
 *	Tickets count up from 1 and are never reused, so a request that
 *	was replaced (Postfix re-sends a policy request after a broken
 *	connection) cannot fill or abandon its successor's record.
 *
 *	One mutex guards everything; one condition variable (on the
 *	monotonic clock) is broadcast whenever a record stops being
 *	pending or goes away.  A waiter looks its key up again after every
 *	wake-up, so it follows a replacement and notices an eviction.
 *
 *	Keys: the queue id must be 1..JOIN_QUEUE_ID_MAX letters and digits
 *	(Postfix's short and long queue ids are), the address an IPv4 or
 *	IPv6 literal (brackets and an "IPv6:" prefix are accepted and
 *	dropped), the port a decimal number up to 65535.
 *
 * DIAGNOSTICS
 *	Memory exhaustion and pthread failures abort (broken environment
 *	that cannot be handled per message).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "join.h"

typedef enum {
    JOIN_PENDING = 0,
    JOIN_READY,
    JOIN_GONE                         /* abandoned: the request ended without verdicts */
} join_state;

typedef struct join_entry {
    struct join_entry *hnext;         /* bucket chain */
    struct join_entry *older, *newer; /* creation (= expiry) order */
    char key[JOIN_KEY_MAX];
    uint64_t ticket;
    long long created_ms;
    long long expires_ms;
    join_state state;
    decide_result res[DECIDE_KINDS];
} join_entry;

struct join {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    join_entry **bucket;
    size_t nbuckets;                  /* a power of two */
    size_t n, npending, max;
    long long ttl_ms;
    uint64_t tickets;
    unsigned long expired_unused;
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

/* join_canonical_addr - the inet_ntop() text of an address literal; false if it is none. */
static bool join_canonical_addr(const char *in, char out[INET6_ADDRSTRLEN])
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    char buf[INET6_ADDRSTRLEN + 8];
    unsigned char a[sizeof(struct in6_addr)];
    size_t len;

    if (strncasecmp(in, "IPv6:", 5) == 0)
        in += 5;
    len = strlen(in);
    if (len >= 2 && in[0] == '[' && in[len - 1] == ']') {
        in++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, in, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, a) == 1)
        return inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN) != NULL;
    if (inet_pton(AF_INET6, buf, a) != 1)
        return false;
    if (memcmp(a, mapped, sizeof(mapped)) == 0)  /* ::ffff:a.b.c.d: the IPv4 client it maps */
        return inet_ntop(AF_INET, a + 12, out, INET6_ADDRSTRLEN) != NULL;
    return inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN) != NULL;
}

/* join_make_key - the key of a message from its queue id, client address and port. */
join_key_status join_make_key(const char *queue_id, const char *client_addr, const char *client_port,
                              join_key *key)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned long port = 0;
    size_t i;

    key->s[0] = '\0';
    if (queue_id == NULL || !join_queue_id_ok(queue_id))
        return JOIN_KEY_BAD_QUEUE_ID;
    if (client_addr == NULL || !join_canonical_addr(client_addr, addr))
        return JOIN_KEY_BAD_ADDRESS;
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
        abort();                /* 64 + 46 + 5 + 2 spaces fit */
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
    case JOIN_NOT_READY:
        return "verdict still pending";
    case JOIN_ABANDONED:
        return "policy request ended without a verdict";
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

/* join_remove - unlink e from its bucket and the age list, and free it (lock held). */
static void join_remove(join *j, join_entry *e)
{
    join_entry **pp = &j->bucket[join_hash(j, e->key)];

    while (*pp != e) {
        if (*pp == NULL)
            abort();            /* broken invariant: entry not in its bucket */
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

/* join_sweep - drop expired records, and the oldest while at the limit (lock held). */
static void join_sweep(join *j, long long now_ms, bool make_room)
{
    bool woke = false;

    while (j->oldest != NULL && (j->oldest->expires_ms <= now_ms || (make_room && j->n >= j->max))) {
        j->expired_unused++;
        join_remove(j, j->oldest);
        woke = true;
    }
    if (woke)
        pthread_cond_broadcast(&j->changed);
}

/* join_new - an empty store. */
join *join_new(size_t max_entries, long long ttl_ms)
{
    join *j;
    pthread_condattr_t ca;

    if (max_entries == 0 || ttl_ms <= 0 || (j = calloc(1, sizeof(*j))) == NULL)
        abort();
    j->max = max_entries;
    j->ttl_ms = ttl_ms;
    for (j->nbuckets = 64; j->nbuckets < max_entries; j->nbuckets *= 2)
        ;
    if ((j->bucket = calloc(j->nbuckets, sizeof(j->bucket[0]))) == NULL)
        abort();
    if (pthread_mutex_init(&j->lock, NULL) != 0 || pthread_condattr_init(&ca) != 0
        || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0
        || pthread_cond_init(&j->changed, &ca) != 0)
        abort();
    pthread_condattr_destroy(&ca);
    return j;
}

/* join_free - release the store. */
void join_free(join *j)
{
    if (j == NULL)
        return;
    while (j->oldest != NULL)
        join_remove(j, j->oldest);
    pthread_cond_destroy(&j->changed);
    pthread_mutex_destroy(&j->lock);
    free(j->bucket);
    free(j);
}

/* join_begin - a DATA request for key arrived: its record is pending. */
uint64_t join_begin(join *j, const join_key *key, long long now_ms)
{
    join_entry *e, *old;
    uint64_t ticket;
    size_t b;

    if ((e = calloc(1, sizeof(*e))) == NULL)
        abort();
    pthread_mutex_lock(&j->lock);
    if ((old = join_find(j, key->s)) != NULL) {
        join_remove(j, old);            /* the newer request wins */
        pthread_cond_broadcast(&j->changed);
    }
    join_sweep(j, now_ms, true);
    memcpy(e->key, key->s, sizeof(e->key));
    e->ticket = ticket = ++j->tickets;
    e->created_ms = now_ms;
    e->expires_ms = now_ms + j->ttl_ms;
    e->state = JOIN_PENDING;
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
    pthread_mutex_unlock(&j->lock);
    return ticket;
}

/* join_settle - end ticket's pending state with verdicts (res) or without (res NULL). */
static bool join_settle(join *j, const join_key *key, uint64_t ticket, const decide_result *res)
{
    join_entry *e;
    bool ok = false;

    pthread_mutex_lock(&j->lock);
    e = join_find(j, key->s);
    if (e != NULL && e->ticket == ticket && e->state == JOIN_PENDING) {
        if (res != NULL)
            memcpy(e->res, res, sizeof(e->res));
        e->state = res != NULL ? JOIN_READY : JOIN_GONE;
        j->npending--;
        pthread_cond_broadcast(&j->changed);
        ok = true;
    }
    pthread_mutex_unlock(&j->lock);
    return ok;
}

/* join_put - the verdicts of ticket's request. */
bool join_put(join *j, const join_key *key, uint64_t ticket, const decide_result res[DECIDE_KINDS])
{
    if (res == NULL)
        abort();
    return join_settle(j, key, ticket, res);
}

/* join_abandon - ticket's request will never have verdicts. */
void join_abandon(join *j, const join_key *key, uint64_t ticket)
{
    (void) join_settle(j, key, ticket, NULL);
}

/* join_wait - sleep on the condition until deadline_ms; false once it has passed (lock held). */
static bool join_wait(join *j, long long deadline_ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t) (deadline_ms / 1000);
    ts.tv_nsec = (long) (deadline_ms % 1000) * 1000000L;
    return pthread_cond_timedwait(&j->changed, &j->lock, &ts) != ETIMEDOUT;
}

/* join_take - remove key's record and copy its verdicts; wait while it is pending. */
join_status join_take(join *j, const join_key *key, long long now_ms, long long deadline_ms,
                      decide_result res[DECIDE_KINDS])
{
    join_entry *e;
    join_status st;
    bool seen = false;

    pthread_mutex_lock(&j->lock);
    join_sweep(j, now_ms, false);
    for (;;) {
        e = join_find(j, key->s);
        if (e == NULL) {
            /* it was there and went away (evicted, expired): not a missing DATA request */
            st = seen ? JOIN_ABANDONED : JOIN_MISSING;
            break;
        }
        seen = true;
        if (e->state != JOIN_PENDING) {
            st = e->state == JOIN_READY ? JOIN_FOUND : JOIN_ABANDONED;
            if (st == JOIN_FOUND)
                memcpy(res, e->res, sizeof(e->res));
            join_remove(j, e);
            break;
        }
        if (!join_wait(j, deadline_ms)) {
            st = JOIN_NOT_READY;        /* given up: a late verdict has no one to go to */
            join_remove(j, e);
            break;
        }
    }
    pthread_mutex_unlock(&j->lock);
    return st;
}

/* join_discard - forget key's record, if any. */
void join_discard(join *j, const join_key *key)
{
    join_entry *e;

    pthread_mutex_lock(&j->lock);
    if ((e = join_find(j, key->s)) != NULL) {
        join_remove(j, e);
        pthread_cond_broadcast(&j->changed);
    }
    pthread_mutex_unlock(&j->lock);
}

/* join_stats_take - the counters at now_ms; expired_unused restarts from 0. */
void join_stats_take(join *j, long long now_ms, join_stats *st)
{
    pthread_mutex_lock(&j->lock);
    st->entries = j->n;
    st->pending = j->npending;
    st->expired_unused = j->expired_unused;
    st->oldest_age_ms = j->oldest != NULL ? now_ms - j->oldest->created_ms : 0;
    j->expired_unused = 0;
    pthread_mutex_unlock(&j->lock);
}
