/*
 * memo.c - the small per-connection memory of verdicts already computed.
 *
 * USAGE
 *	memo *m = NULL;
 *	memo_scope(&m, scope, scope_len);	(each request: its session and certificate)
 *	if (!memo_lookup(m, key, keylen, clock_now_ms(), &r))
 *	    ... compute, then memo_store(&m, key, keylen, &r, expiry) ...
 *	memo_free(m);
 *
 * DESCRIPTION
 *	A table that grows by doubling from 1 to MEMO_ENTRIES slots (most
 *	connections need one or two: the EHLO name and the sender domain
 *	are often the same).  Each slot keeps the result (and whether it
 *	came from a stale answer) and its key, name
 *	and reason as one allocated "key name\0reason\0" string, so a slot
 *	costs what its text needs rather than the worst case.  The scope
 *	(the caller's bytes) is kept beside the table; a request of another
 *	scope empties the slots, keeping their room.
 *
 *	Lookups compare the scope once and then the whole key, and the
 *	expiry on the monotonic clock; no digest is involved, so nothing
 *	can collide.  A store replaces the same key, else an expired slot,
 *	else takes a new one while there is room, else replaces the oldest.
 *	Age is the order of the stores (a counter), not the clock: many
 *	verdicts are stored within one millisecond.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/panic.h"
#include "lib/text.h"
#include "memo.h"

typedef struct memo_entry {
    long long expires_ms;
    unsigned long long seq;     /* store order: the smallest is the oldest */
    verdict_result result;
    bool stale;                 /* decided from a stale answer (results_item.stale) */
    size_t keylen;
    char *text;                 /* key, then "name\0reason\0"; NULL when the slot is empty */
} memo_entry;

struct memo {
    size_t n;                   /* slots in use */
    size_t cap;                 /* slots allocated, at most MEMO_ENTRIES */
    unsigned long long stores;  /* stores so far, numbering the entries */
    unsigned char *scope;       /* the scope the entries belong to */
    size_t scope_len;
    memo_entry e[];
};

/* memo_grow - room for one more slot (a new memo when m is NULL). */
static memo *memo_grow(memo *m)
{
    size_t cap = m == NULL ? 1 : 2 * m->cap;

    if (m != NULL && m->n < m->cap)
        return m;
    if (cap > MEMO_ENTRIES || (m = realloc(m, sizeof(*m) + cap * sizeof(m->e[0]))) == NULL)
        DANCE_PANIC("out of memory");
    if (cap == 1) {             /* the first allocation */
        m->n = 0;
        m->stores = 0;
        m->scope = NULL;
        m->scope_len = 0;
    }
    m->cap = cap;
    return m;
}

/* memo_scope - the request's scope: another one empties the memo. */
void memo_scope(memo **mp, const void *scope, size_t len)
{
    memo *m = *mp;

    if (m != NULL && m->scope_len == len && memcmp(m->scope, scope, len) == 0)
        return;
    if (m == NULL)
        m = *mp = memo_grow(NULL);
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].text);
    m->n = 0;
    free(m->scope);
    m->scope = xmalloc(len > 0 ? len : 1);
    memcpy(m->scope, scope, len);
    m->scope_len = len;
}

/* memo_find - the slot holding key, or m->n. */
static size_t memo_find(const memo *m, const void *key, size_t keylen)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (m->e[i].keylen == keylen && memcmp(m->e[i].text, key, keylen) == 0)
            break;
    return i;
}

/* memo_lookup - copy a fresh result for key into *r. */
bool memo_lookup(const memo *m, const void *key, size_t keylen, long long now_ms, results_item *r)
{
    const memo_entry *e;
    const char *name;
    size_t i;

    if (m == NULL || (i = memo_find(m, key, keylen)) == m->n)
        return false;
    e = &m->e[i];
    if (e->expires_ms <= now_ms)
        return false;
    name = e->text + e->keylen;
    r->present = true;
    r->result = e->result;
    r->stale = e->stale;
    text_copy(r->name, sizeof(r->name), name);
    text_copy(r->reason, sizeof(r->reason), name + strlen(name) + 1);
    return true;
}

/* memo_store - remember r for key until expires_ms. */
void memo_store(memo **mp, const void *key, size_t keylen, const results_item *r, long long expires_ms)
{
    memo *m = *mp;
    memo_entry *slot;
    long long now = clock_now_ms();
    size_t nl = strlen(r->name), rl = strlen(r->reason);
    size_t i, n = m != NULL ? m->n : 0;

    /* the slot: the same key, else an expired one, else a new one, else the oldest */
    i = m != NULL ? memo_find(m, key, keylen) : 0;
    for (size_t j = 0; i == n && j < n; j++)
        if (m->e[j].expires_ms <= now)
            i = j;
    if (i == n && n == MEMO_ENTRIES) {
        i = 0;
        for (size_t j = 1; j < n; j++)
            if (m->e[j].seq < m->e[i].seq)
                i = j;
    }
    if (i == n) {                       /* a new slot; grow by doubling */
        m = *mp = memo_grow(m);
        m->e[m->n++].text = NULL;
    }
    slot = &m->e[i];
    free(slot->text);
    slot->text = xmalloc(keylen + nl + rl + 2);
    memcpy(slot->text, key, keylen);
    memcpy(slot->text + keylen, r->name, nl + 1);
    memcpy(slot->text + keylen + nl + 1, r->reason, rl + 1);
    slot->keylen = keylen;
    slot->result = r->result;
    slot->stale = r->stale;
    slot->expires_ms = expires_ms;
    slot->seq = ++m->stores;
}

/* memo_free - release the memo. */
void memo_free(memo *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].text);
    free(m->scope);
    free(m);
}

/* memo_bytes - bytes held (for the memory report). */
size_t memo_bytes(const memo *m)
{
    size_t n;

    if (m == NULL)
        return 0;
    n = sizeof(*m) + m->cap * sizeof(m->e[0]) + m->scope_len;
    for (size_t i = 0; i < m->n; i++) {
        const char *name = m->e[i].text + m->e[i].keylen;

        n += m->e[i].keylen + strlen(name) + strlen(name + strlen(name) + 1) + 2;
    }
    return n;
}
