/*
 * join.h - the policy face's verdicts for one message, handed to the milter face.
 *
 * Under Postfix only the policy service sees the client certificate's
 * fingerprints, and only the milter can delete and insert header fields.
 * The policy face records the verdicts of a message when Postfix asks at
 * DATA; the milter takes them at end of message.  Both know the message by
 * the same three facts, none of which the SMTP client can choose: Postfix's
 * queue id, the client's address and the client's TCP port
 * (join_make_key).
 *
 * A record is pending from the DATA request until its verdicts are in (or
 * the request is abandoned); join_take() waits for a pending record up to a
 * deadline.  Records expire after ttl_ms; at most max_entries are kept
 * (the oldest goes first); a record is removed when it is taken.  All
 * functions are thread-safe: the event loop thread begins and fills
 * records, the milter's threads take them.
 */
#ifndef DANCE_MILTER_JOIN_H
#define DANCE_MILTER_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "decide.h"

#define JOIN_QUEUE_ID_MAX 64          /* Postfix's long queue ids are about 17 characters */
#define JOIN_KEY_MAX 128              /* queue id, canonical address, port */
#define JOIN_ENTRIES_DEFAULT 16384    /* records kept at most */
#define JOIN_TTL_MS_DEFAULT (3600LL * 1000)

typedef enum {
    JOIN_KEY_OK = 0,
    JOIN_KEY_BAD_QUEUE_ID,            /* empty, too long, or not [A-Za-z0-9] */
    JOIN_KEY_BAD_ADDRESS,             /* not an IPv4 or IPv6 address */
    JOIN_KEY_BAD_PORT                 /* not a number 0..65535 */
} join_key_status;

/* The name of one message: "QUEUEID client-address client-port", canonical. */
typedef struct join_key {
    char s[JOIN_KEY_MAX];
} join_key;

/* What join_take found. */
typedef enum {
    JOIN_FOUND = 0,                   /* the verdicts are in res */
    JOIN_MISSING,                     /* no record: the policy service was not asked at DATA */
    JOIN_NOT_READY,                   /* still pending at the deadline */
    JOIN_ABANDONED                    /* the policy request ended without verdicts */
} join_status;

typedef struct join join;

/* Counters, for the log. */
typedef struct join_stats {
    size_t entries;                   /* records held now */
    size_t pending;                   /* of which pending */
    unsigned long expired_unused;     /* records that expired or were evicted untaken (since the last reset) */
    long long oldest_age_ms;          /* age of the oldest record held, 0 when none */
} join_stats;

/*
 * join_make_key - the key of a message.  The address is canonicalized
 * (inet_pton/inet_ntop; an IPv4-mapped IPv6 address becomes IPv4), so the
 * policy face's client_address text and the milter's sockaddr agree.
 */
join_key_status join_make_key(const char *queue_id, const char *client_addr, const char *client_port,
                              join_key *key);

/* join_key_status_str - short English text for a status. */
const char *join_key_status_str(join_key_status st);

/* join_new - an empty store of at most max_entries records living ttl_ms each. */
join *join_new(size_t max_entries, long long ttl_ms);

/* join_free - release the store; nobody may wait in join_take. */
void join_free(join *j);

/*
 * join_begin - a DATA request for key arrived at now_ms (monotonic): its
 * record is pending.  A record already there is replaced.  Returns the
 * ticket that join_put() and join_abandon() must present.
 */
uint64_t join_begin(join *j, const join_key *key, long long now_ms);

/* join_put - the verdicts of ticket's request; false when its record is gone or was replaced. */
bool join_put(join *j, const join_key *key, uint64_t ticket, const decide_result res[DECIDE_KINDS]);

/* join_abandon - ticket's request will never have verdicts (its policy connection closed). */
void join_abandon(join *j, const join_key *key, uint64_t ticket);

/*
 * join_take - remove key's record and copy its verdicts into res; while it
 * is pending, wait until deadline_ms (monotonic, the clock of now_ms).
 */
join_status join_take(join *j, const join_key *key, long long now_ms, long long deadline_ms,
                      decide_result res[DECIDE_KINDS]);

/* join_discard - forget key's record, if any (the message was aborted). */
void join_discard(join *j, const join_key *key);

/* join_stats_take - the counters at now_ms; the expired_unused count restarts from 0. */
void join_stats_take(join *j, long long now_ms, join_stats *st);

/* join_status_str - short English text for a join_take result. */
const char *join_status_str(join_status st);

#endif
