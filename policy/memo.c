/*
 * memo.c - the small per-connection memory of verdicts already computed.
 *
 * USAGE
 *	memo *m = NULL;
 *	if (!memo_lookup(m, key, clock_now_ms(), &r))
 *	    ... compute, then memo_store(&m, key, &r, expiry) ...
 *	memo_free(m);
 *
 * DESCRIPTION
 *	A table that grows by doubling from 1 to MEMO_ENTRIES slots (most
 *	connections need one or two: the EHLO name and the sender domain
 *	are often the same).  Each slot keeps the key, the result, and the
 *	name and reason as one allocated "name\0reason\0" string, so a
 *	slot costs what its text needs rather than the worst case.
 *	Lookups compare the whole key and the expiry on the monotonic
 *	clock; a store replaces the same key, else an expired slot, else
 *	takes a new one while there is room, else replaces the oldest.
 *	Age is the order of the stores (a counter), not the clock: many
 *	verdicts are stored within one millisecond.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/panic.h"
#include "memo.h"

typedef struct memo_entry {
    unsigned char key[DECIDE_KEY_LEN];
    long long expires_ms;
    unsigned long long seq;     /* store order: the smallest is the oldest */
    verdict_result result;
    char *text;                 /* "name\0reason\0", NULL when the slot is empty */
} memo_entry;

struct memo {
    size_t n;                   /* slots in use */
    size_t cap;                 /* slots allocated, at most MEMO_ENTRIES */
    unsigned long long stores;  /* stores so far, numbering the entries */
    memo_entry e[];
};

/* memo_lookup - copy a fresh result for key into *r. */
bool memo_lookup(const memo *m, const unsigned char key[DECIDE_KEY_LEN], long long now_ms,
                 results_item *r)
{
    if (m == NULL)
        return false;
    for (size_t i = 0; i < m->n; i++) {
        const memo_entry *e = &m->e[i];

        if (memcmp(e->key, key, DECIDE_KEY_LEN) != 0)
            continue;
        if (e->expires_ms <= now_ms)
            return false;
        r->present = true;
        r->result = e->result;
        strncpy(r->name, e->text, sizeof(r->name) - 1);
        r->name[sizeof(r->name) - 1] = '\0';
        strncpy(r->reason, e->text + strlen(e->text) + 1, sizeof(r->reason) - 1);
        r->reason[sizeof(r->reason) - 1] = '\0';
        return true;
    }
    return false;
}

/* memo_store - remember r for key until expires_ms. */
void memo_store(memo **mp, const unsigned char key[DECIDE_KEY_LEN], const results_item *r,
                long long expires_ms)
{
    memo *m = *mp;
    memo_entry *slot;
    long long now = clock_now_ms();
    size_t nl = strlen(r->name), rl = strlen(r->reason);
    size_t i, n = m != NULL ? m->n : 0;

    /* the slot: the same key, else an expired one, else a new one, else the oldest */
    for (i = 0; i < n; i++)
        if (memcmp(m->e[i].key, key, DECIDE_KEY_LEN) == 0)
            break;
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
        if (m == NULL || m->n == m->cap) {
            size_t cap = m == NULL ? 1 : 2 * m->cap;

            if (cap > MEMO_ENTRIES || (m = realloc(m, sizeof(*m) + cap * sizeof(m->e[0]))) == NULL)
                DANCE_PANIC("out of memory");
            m->cap = cap;
            m->n = n;
            if (n == 0)
                m->stores = 0;          /* the first allocation */
            *mp = m;
        }
        m->e[m->n++].text = NULL;
    }
    slot = &m->e[i];
    free(slot->text);
    slot->text = xmalloc(nl + rl + 2);
    memcpy(slot->text, r->name, nl + 1);
    memcpy(slot->text + nl + 1, r->reason, rl + 1);
    memcpy(slot->key, key, DECIDE_KEY_LEN);
    slot->result = r->result;
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
    free(m);
}

/* memo_bytes - bytes held (for the memory report). */
size_t memo_bytes(const memo *m)
{
    size_t n;

    if (m == NULL)
        return 0;
    n = sizeof(*m) + m->cap * sizeof(m->e[0]);
    for (size_t i = 0; i < m->n; i++)
        n += strlen(m->e[i].text) + strlen(m->e[i].text + strlen(m->e[i].text) + 1) + 2;
    return n;
}
