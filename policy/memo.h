/*
 * memo.h - the small per-connection memory of verdicts already computed.
 *
 * Postfix asks once per recipient and again at DATA, on one connection;
 * the verdict for a (claimed name, evidence) pair is computed once and
 * reused while it is fresh.  At most MEMO_ENTRIES are kept (the oldest is
 * replaced); nothing is allocated before the first verdict, and the table
 * grows only as far as the connection needs.
 */
#ifndef DANCE_POLICY_MEMO_H
#define DANCE_POLICY_MEMO_H

#include <stdbool.h>
#include <stdint.h>
#include "decide.h"

#define MEMO_ENTRIES 8

typedef struct memo memo;

/* memo_lookup - copy a fresh result for key into *r; false when there is none. */
bool memo_lookup(const memo *m, const unsigned char key[DECIDE_KEY_LEN], long long now_ms,
                 results_item *r);

/* memo_store - remember r for key until expires_ms (monotonic); allocates *mp on first use. */
void memo_store(memo **mp, const unsigned char key[DECIDE_KEY_LEN], const results_item *r,
                long long expires_ms);

/* memo_free - release the memo; NULL is fine. */
void memo_free(memo *m);

/* memo_bytes - bytes held (for the memory report), 0 for NULL. */
size_t memo_bytes(const memo *m);


#endif
