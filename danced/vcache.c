/*
 * vcache.c - the verdicts already computed, shared by every connection
 * (see vcache.h).
 *
 * USAGE
 *	c = vcache_new();				(at start)
 *	if ((hit = vcache_get(c, key, len, gen, now)) != NULL)
 *	    ... hit->result, hit->log ...
 *	else
 *	    ... compute, then vcache_put(c, key, len, gen, now, expires, &value) ...
 *	vcache_free(c);
 *
 * DESCRIPTION
 *	VCACHE_SLOTS slots in buckets of two.  An entry is one allocation:
 *	the header, then the key, the name, the brief reason and the log
 *	parts back to back.  A put replaces the same key, else an empty or
 *	expired slot of the bucket, else the one stored first.
 *
 *	Why a fast hash is enough: the hash only chooses the bucket.  A
 *	hit needs the same length and the same bytes (memcmp) and the same
 *	configuration generation, so two keys that share a hash - by
 *	chance or by a client's design - share a bucket and nothing else.
 *	The hash is keyed with 16 random bytes drawn at start, so a client
 *	cannot even aim its keys at one bucket to push others out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/keyhash.h"
#include "lib/panic.h"
#include "vcache.h"

#define VCACHE_WAYS 2                   /* slots per bucket */

_Static_assert((VCACHE_SLOTS & (VCACHE_SLOTS - 1)) == 0, "VCACHE_SLOTS is a power of two");

typedef struct vcache_entry {
    uint64_t hash;
    unsigned long gen;
    long long expires_ms;
    unsigned long long seq;             /* store order: the smaller is the older */
    size_t keylen;
    size_t size;                        /* bytes of this allocation */
    vcache_value v;                     /* name, brief and log.s point into bytes */
    unsigned char bytes[];              /* key, name\0, brief\0, log text */
} vcache_entry;

struct vcache {
    unsigned char key[KEYHASH_KEY_LEN];
    unsigned long long stores;
    size_t bytes;
    vcache_entry *slot[VCACHE_SLOTS];
};

/* vcache_new - an empty cache with a fresh random key. */
vcache *vcache_new(void)
{
    vcache *c = xcalloc(1, sizeof(*c));

    if (getrandom(c->key, sizeof(c->key), 0) != (ssize_t) sizeof(c->key)) {
        free(c);
        return NULL;
    }
    return c;
}

/* vcache_free - release the cache. */
void vcache_free(vcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < VCACHE_SLOTS; i++)
        free(c->slot[i]);
    free(c);
}

/* vcache_bucket - the first slot of the bucket of hash h. */
static size_t vcache_bucket(uint64_t h)
{
    return (size_t) (h & (VCACHE_SLOTS - 1)) & ~(size_t) (VCACHE_WAYS - 1);
}

/* vcache_same - e holds key. */
static bool vcache_same(const vcache_entry *e, uint64_t h, const void *key, size_t keylen)
{
    return e != NULL && e->hash == h && e->keylen == keylen && memcmp(e->bytes, key, keylen) == 0;
}

/* vcache_get - the verdict for key under gen, if still live. */
const vcache_value *vcache_get(const vcache *c, const void *key, size_t keylen, unsigned long gen,
                               long long now_ms)
{
    uint64_t h;
    size_t b;

    if (keylen > VCACHE_KEY_MAX)
        return NULL;
    h = keyhash_siphash(c->key, key, keylen);
    b = vcache_bucket(h);
    for (size_t i = b; i < b + VCACHE_WAYS; i++) {
        const vcache_entry *e = c->slot[i];

        if (vcache_same(e, h, key, keylen))
            return e->gen == gen && e->expires_ms > now_ms ? &e->v : NULL;
    }
    return NULL;
}

/* vcache_victim - the slot of bucket b a put of key takes. */
static size_t vcache_victim(const vcache *c, size_t b, uint64_t h, const void *key, size_t keylen,
                            long long now_ms)
{
    size_t oldest = b;

    for (size_t i = b; i < b + VCACHE_WAYS; i++)
        if (vcache_same(c->slot[i], h, key, keylen))
            return i;
    for (size_t i = b; i < b + VCACHE_WAYS; i++) {
        if (c->slot[i] == NULL || c->slot[i]->expires_ms <= now_ms)
            return i;
        if (c->slot[i]->seq < c->slot[oldest]->seq)
            oldest = i;
    }
    return oldest;
}

/* vcache_put - keep v for key and gen until expires_ms. */
void vcache_put(vcache *c, const void *key, size_t keylen, unsigned long gen, long long now_ms,
                long long expires_ms, const vcache_value *v)
{
    size_t nl = strlen(v->name), bl = strlen(v->brief), size, i;
    uint64_t h;
    vcache_entry *e;
    unsigned char *p;

    if (keylen > VCACHE_KEY_MAX)
        return;                         /* not kept: the caller computes it again next time */
    if (v->log.cut[0] > v->log.cut[1] || v->log.cut[1] > v->log.len)
        DANCE_PANIC("verdict parts out of order");
    h = keyhash_siphash(c->key, key, keylen);
    i = vcache_victim(c, vcache_bucket(h), h, key, keylen, now_ms);
    size = sizeof(*e) + keylen + nl + 1 + bl + 1 + v->log.len;
    e = xmalloc(size);
    e->hash = h;
    e->gen = gen;
    e->expires_ms = expires_ms;
    e->seq = ++c->stores;
    e->keylen = keylen;
    e->size = size;
    e->v = *v;
    e->v.expires_ms = expires_ms;
    p = e->bytes;
    memcpy(p, key, keylen);
    p += keylen;
    e->v.name = memcpy(p, v->name, nl + 1);
    p += nl + 1;
    e->v.brief = memcpy(p, v->brief, bl + 1);
    p += bl + 1;
    e->v.log.s = memcpy(p, v->log.s, v->log.len);
    if (c->slot[i] != NULL) {
        c->bytes -= c->slot[i]->size;
        free(c->slot[i]);
    }
    c->slot[i] = e;
    c->bytes += size;
}

/* vcache_bytes - bytes held. */
size_t vcache_bytes(const vcache *c)
{
    return c == NULL ? 0 : sizeof(*c) + c->bytes;
}
