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
 * Integrity rules (a record decides what the milter writes, so nothing
 * but one write by the MTA may stand):
 *   - a key is written once: a second DATA request for a key whose record
 *     lives (pending, ready, taken) makes it a CONFLICT, and the milter
 *     writes temperror - never the newer word, never the older;
 *   - a key is taken once: a second take finds TAKEN (temperror);
 *   - a record the milter does not find is never "no DANE": the milter
 *     reads JOIN_MISSING for a TLS message as temperror;
 *   - each writer (a policy connection: one Postfix smtpd process, one
 *     transaction at a time) owns at most one record, which it drops when
 *     its next transaction starts (join_drop) and releases when it closes
 *     (join_release), so an aborted transaction leaves nothing behind and
 *     the store holds at most one live record per policy connection;
 *   - at max_entries only records no writer owns any more are evicted
 *     (the oldest first); when every record is owned, join_begin refuses
 *     (JOIN_FULL) rather than push out another writer's record.
 * Records also expire after ttl_ms (a backstop for released ones).
 *
 * Threads: none.  Everything runs on the event loop; a milter connection
 * that finds a pending record registers a waiter, called (from join_put,
 * join_abandon or a conflict) once the record has settled.
 */
#ifndef DANCE_DANCED_JOIN_H
#define DANCE_DANCED_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "results.h"

#define JOIN_QUEUE_ID_MAX 64          /* Postfix's long queue ids are about 17 characters */
#define JOIN_KEY_MAX 128              /* queue id, canonical address, port */
#define JOIN_SPARE_ENTRIES 4096       /* records beyond one per policy connection (released ones) */
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

/* What join_begin did. */
typedef enum {
    JOIN_BEGUN = 0,                   /* a pending record; the ticket names it */
    JOIN_CONFLICT_BEGIN,              /* the key was written already: it is a conflict now */
    JOIN_FULL                         /* every record is owned by a writer: nothing recorded */
} join_begin_status;

/* What join_take found. */
typedef enum {
    JOIN_FOUND = 0,                   /* the verdicts are in res; the record is taken */
    JOIN_MISSING,                     /* no record: not asked at DATA, or lost (expired, evicted) */
    JOIN_WAIT,                        /* pending: the waiter will be called */
    JOIN_ABANDONED,                   /* the policy request ended without verdicts */
    JOIN_CONFLICT,                    /* written twice, or taken by two waiters */
    JOIN_TAKEN                        /* taken already, or its message was aborted */
} join_status;

typedef struct join join;

/* join_waiter_fn - a record waited for has settled: call join_take again. */
typedef void join_waiter_fn(void *arg);

/* Counters, for the log. */
typedef struct join_stats {
    size_t entries;                   /* records held now */
    size_t pending;                   /* of which pending */
    unsigned long lost;               /* untaken records that expired or were evicted (since the last reset) */
    unsigned long dropped;            /* untaken records their writer dropped: the transaction ended
                                         without end of message, or no milter took it (ditto) */
    unsigned long taken;              /* records taken by the milter (ditto) */
    unsigned long conflicts;          /* keys written twice (since the last reset) */
    unsigned long refused;            /* join_begin refused: store full (since the last reset) */
    long long oldest_untaken_ms;      /* age of the oldest record not yet taken, 0 when none */
} join_stats;

/*
 * join_make_key - the key of a message.  The address is canonicalized
 * (an IPv4-mapped IPv6 address becomes IPv4), so the policy face's
 * client_address text and the milter's connect address agree.
 */
join_key_status join_make_key(const char *queue_id, const char *client_addr, const char *client_port,
                              join_key *key);

/* join_key_status_str - short English text for a status. */
const char *join_key_status_str(join_key_status st);

/* join_new - an empty store of at most max_entries records living ttl_ms each. */
join *join_new(size_t max_entries, long long ttl_ms);

/* join_free - release the store; no waiter may be registered. */
void join_free(join *j);

/* join_begin - a DATA request for key arrived at now_ms (monotonic); *ticket names its record. */
join_begin_status join_begin(join *j, const join_key *key, long long now_ms, uint64_t *ticket);

/* join_put - the verdicts of ticket's request; false when its record is gone or a conflict. */
bool join_put(join *j, const join_key *key, uint64_t ticket, const results_item res[RESULTS_KINDS]);

/* join_abandon - ticket's request will never have verdicts. */
void join_abandon(join *j, const join_key *key, uint64_t ticket);

/* join_drop - ticket's writer started its next transaction: its record goes. */
void join_drop(join *j, const join_key *key, uint64_t ticket);

/* join_release - ticket's writer closed: pending becomes abandoned, a taken record goes, others stay unowned. */
void join_release(join *j, const join_key *key, uint64_t ticket);

/*
 * join_take - the milter at end of message: JOIN_FOUND copies the verdicts
 * into res and marks the record taken; JOIN_WAIT registers fn(arg), called
 * once when the record settles (then take again) - cancel it with
 * join_cancel_wait when giving up.
 */
join_status join_take(join *j, const join_key *key, long long now_ms, results_item res[RESULTS_KINDS],
                      join_waiter_fn *fn, void *arg);

/* join_cancel_wait - arg no longer waits for key (deadline, or its connection closed). */
void join_cancel_wait(join *j, const join_key *key, void *arg);

/* join_discard - the message of key was aborted: its record is marked taken. */
void join_discard(join *j, const join_key *key);

/* join_stats_take - the counters at now_ms; the "since the last reset" ones restart from 0. */
void join_stats_take(join *j, long long now_ms, join_stats *st);

/* join_status_str - short English text for a join_take result. */
const char *join_status_str(join_status st);

#endif
