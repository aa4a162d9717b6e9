/*
 * vcache.h - the verdicts already computed, shared by every connection.
 *
 * A verdict depends only on the claimed name, the kind of name (a mail
 * domain is never looked up at _25._tcp), the certificate the client
 * presented and the DNS answers; the answers come from the resolver's
 * cache until their TTL ends.  So within that life the same question
 * gets the same verdict, and its log line differs only in the request's
 * own fields.  The cache keeps, per question, the result, the name, the
 * brief reason and the verdict's log parts (dlog.h), formatted once.
 *
 * Keys are the caller's bytes (kind, claimed name, evidence key); a
 * client chooses them, so the table is indexed by a keyed hash drawn at
 * start (keyhash.h) and a hit compares the whole key.  A fixed number of
 * slots, two per bucket: a full bucket gives up its older entry.
 */
#ifndef DANCE_DANCED_VCACHE_H
#define DANCE_DANCED_VCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/verdict.h"
#include "dlog.h"

#define VCACHE_SLOTS 4096             /* verdicts kept (a power of two) */
#define VCACHE_KEY_MAX 1024           /* longest key */

typedef struct vcache vcache;

/* One cached verdict, as vcache_get() lends it. */
typedef struct vcache_value {
    verdict_result result;
    const char *name;                 /* normalized claimed name, "" when invalid */
    const char *brief;                /* the reason a header carries */
    dlog_vparts log;                  /* the verdict's parts of its log line */
    long long expires_ms;             /* set by vcache_put() */
} vcache_value;

/* vcache_new - an empty cache with a fresh random key; NULL when no random bytes could be had. */
vcache *vcache_new(void);

/* vcache_free - release the cache; NULL is fine. */
void vcache_free(vcache *c);

/* vcache_get - the verdict for key made under generation gen, if still live at now_ms; lent until the next put. */
const vcache_value *vcache_get(const vcache *c, const void *key, size_t keylen, unsigned long gen,
                               long long now_ms);

/* vcache_put - keep v (copied) for key and gen until expires_ms (now_ms: what has expired). */
void vcache_put(vcache *c, const void *key, size_t keylen, unsigned long gen, long long now_ms,
                long long expires_ms, const vcache_value *v);

/* vcache_bytes - bytes held (for the memory report). */
size_t vcache_bytes(const vcache *c);

#endif
