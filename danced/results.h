/*
 * results.h - the verdicts of one message, as both faces exchange and write them.
 *
 * One result per claimed identity (EHLO name, MAIL FROM domain, verified
 * client name), and the Authentication-Results field made of them.  The
 * policy face and the milter face meet here and in join.h, never in each
 * other's headers.
 */
#ifndef DANCE_DANCED_RESULTS_H
#define DANCE_DANCED_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/identity.h"
#include "lib/verdict.h"

struct snapshot;

#define RESULTS_AR_FIELD "Authentication-Results"
#define RESULTS_RFC5322_LINE 998     /* a policy reply's field must fit one line */

/* The claimed identities, in header order. */
typedef enum {
    RESULTS_HELO = 0,
    RESULTS_MAILFROM,
    RESULTS_PTR,
    RESULTS_KINDS
} results_kind;

/* The result of one identity, as the reply and the header need it. */
typedef struct results_item {
    bool present;                    /* a claimed name was there to check */
    verdict_result result;
    char name[IDENTITY_NAME_MAX];    /* normalized, "" when the claimed name is invalid */
    char reason[VERDICT_REASON_MAX];
    bool stale;                      /* decided from a stale answer (stale_max): relays only with stale_relay */
} results_item;

/* results_kind_name - "helo", "mailfrom", "ptr". */
const char *results_kind_name(results_kind kind);

/* results_kind_bit - the CONFIG_IDENTITY_* bit of a kind. */
unsigned results_kind_bit(results_kind kind);

/*
 * results_claimed_value - the claimed name for kind given the value the
 * client sent (EHLO argument, envelope sender address, verified client host
 * name), or NULL when there is none to check (absent or empty, null sender,
 * "unknown").  A valid name is returned normalized in buf; an invalid one as
 * sent (check_start() turns it into none).
 */
const char *results_claimed_value(results_kind kind, const char *value, char buf[IDENTITY_NAME_MAX]);

/* results_item_from - fill r from a finished verdict. */
void results_item_from(results_item *r, const verdict *v);

/*
 * results_header_value - the Authentication-Results field value (without the
 * name) for the identities' results: folded with "\n\t" under 78 columns
 * (a milter inserts it), or unfolded on one line of at most 998 octets with
 * the field name, dropping the reason comments if needed (a policy PREPEND).
 */
void results_header_value(const struct snapshot *snap, const results_item res[RESULTS_KINDS], bool folded,
                          char *value, size_t size);

#endif
