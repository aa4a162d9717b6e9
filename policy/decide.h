/*
 * decide.h - from a policy request to checks, and from verdicts to the reply.
 *
 * No I/O and no DNS here: decide_evidence() turns the certificate
 * attributes into evidence, decide_claimed() picks each configured claimed
 * name, and
 * decide_reply() composes the action for the protocol state from the
 * identities' results.  The session module runs the checks in between.
 */
#ifndef DANCE_POLICY_DECIDE_H
#define DANCE_POLICY_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/evidence.h"
#include "lib/identity.h"
#include "lib/verdict.h"
#include "danced/results.h"
#include "danced/snapshot.h"
#include "protocol.h"

/* Longest reply: "action=PREPEND " + the field + "\n\n" + NUL. */
#define DECIDE_REPLY_MAX (AUTHRES_FIELD_MAX + 64)

/* What the request asks for. */
typedef enum {
    DECIDE_STATE_OTHER = 0,          /* another state or request type: DUNNO, no checks */
    DECIDE_STATE_RCPT,               /* relay decision */
    DECIDE_STATE_DATA                /* the Authentication-Results header */
} decide_state;

/* Evidence problems, per certificate attribute. */
typedef enum {
    DECIDE_EV_OK = 0,
    DECIDE_EV_DIGEST_MISMATCH,       /* fingerprint length is not fingerprint_digest's */
    DECIDE_EV_BAD                    /* unusable attribute (bad hex, base64, certificate) */
} decide_ev_problem;

typedef struct decide_ev_report {
    decide_ev_problem problem;
    const char *attr;                /* attribute name */
    char detail[128];                /* why, printable */
} decide_ev_report;

#define DECIDE_EV_ATTRS 3            /* ccert_pubkey_fingerprint, ccert_fingerprint, ccert_der */

/* decide_state_of - classify a request by its request type and protocol_state. */
decide_state decide_state_of(const policy_request *req);

/*
 * decide_claimed - the claimed name for kind, or NULL when there is none to
 * check (attribute absent or empty, null sender, client_name "unknown").
 * The result points into req or into buf.
 */
const char *decide_claimed(const policy_request *req, results_kind kind, char buf[IDENTITY_NAME_MAX]);

/*
 * decide_evidence - build evidence from the certificate attributes (never
 * NULL; empty when there is none).  rep[i] says what went wrong with each
 * attribute (ignored then); evidence_id() names what was used.
 */
evidence *decide_evidence(const policy_request *req, digest_alg alg, decide_ev_report rep[DECIDE_EV_ATTRS]);

/*
 * decide_reply - the reply for the state given the identities' results
 * (indexed by results_kind); milter: a milter writes the header, so DATA
 * answers DUNNO.  Writes "action=...\n\n" into out (DECIDE_REPLY_MAX).
 */
void decide_reply(const snapshot *snap, decide_state state, const results_item res[RESULTS_KINDS],
                  bool milter, char *out, size_t outsize, size_t *len);

#endif
