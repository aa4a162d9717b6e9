/*
 * memo.h - the small per-connection memory of verdicts already computed.
 *
 * Postfix asks once per recipient and again at DATA, on one connection,
 * for one SMTP session at a time; the verdict for a claimed name is
 * computed (and logged) once per session and reused while it is fresh.
 * The memo belongs to one scope at a time - the caller's bytes naming the
 * SMTP session and the certificate - and a request of another scope
 * empties it.  At most MEMO_ENTRIES are kept (the oldest is replaced);
 * nothing is allocated before the first verdict, and the table grows
 * only as far as the connection needs.
 */
#ifndef DANCE_POLICY_MEMO_H
#define DANCE_POLICY_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include "danced/results.h"

#define MEMO_ENTRIES 8

typedef struct memo memo;

/* memo_scope - the request's scope: a different one than the memo's empties it (allocates *mp on first use). */
void memo_scope(memo **mp, const void *scope, size_t len);

/* memo_lookup - copy a fresh result for key into *r; false when there is none. */
bool memo_lookup(const memo *m, const void *key, size_t keylen, long long now_ms, results_item *r);

/* memo_store - remember r for key until expires_ms (monotonic); allocates *mp on first use. */
void memo_store(memo **mp, const void *key, size_t keylen, const results_item *r, long long expires_ms);

/* memo_free - release the memo; NULL is fine. */
void memo_free(memo *m);

/* memo_bytes - bytes held (for the memory report), 0 for NULL. */
size_t memo_bytes(const memo *m);

#endif
