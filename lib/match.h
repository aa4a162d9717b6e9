/*
 * match.h - matching client evidence against a TLSA RRset (RFC 6698, RFC 7671).
 *
 * match_tlsa() takes the records of one secure RRset (already parsed and
 * classified by tlsa_parse) and the client's evidence, and decides per record
 * whether it is usable *for this evidence*, whether digest agility
 * (RFC 7671 section 9) set it aside, and whether it matched:
 *   - DANE-EE(3): selector 0 compares the certificate, selector 1 the SPKI;
 *     types 1/2 compare digests; type 0 compares bytes, or - when only a
 *     digest of the client's object is known - the record's full data is
 *     hashed with that algorithm and compared.
 *   - DANE-TA(2): only with a chain; the chain is verified up to the matched
 *     trust anchor by OpenSSL's DANE code, and the claimed name must appear
 *     as a dNSName of the leaf.
 * The overall outcome names the record that matched.
 */
#ifndef DANCE_LIB_MATCH_H
#define DANCE_LIB_MATCH_H

#include <stddef.h>
#include "evidence.h"
#include "tlsa.h"

/* What happened to one record. */
typedef enum {
    MATCH_REC_UNUSABLE = 0,  /* the record itself is unusable (see tlsa_record.status) */
    MATCH_REC_NO_EVIDENCE,   /* well-formed but not checkable from this evidence (e.g. 3 1 2 with a SHA-256 fingerprint) */
    MATCH_REC_NO_CHAIN,      /* DANE-TA without a certificate chain */
    MATCH_REC_SUPERSEDED,    /* set aside by digest agility: a stronger digest exists for its usage/selector */
    MATCH_REC_NO_MATCH,      /* checked, did not match */
    MATCH_REC_MATCH          /* checked and matched */
} match_rec_state;

/* Overall outcome for one RRset. */
typedef enum {
    MATCH_PASS = 0,          /* a usable record matched */
    MATCH_FAIL,              /* usable records, none matched */
    MATCH_NONE_USABLE,       /* well-formed records, none usable with this evidence */
    MATCH_ALL_MALFORMED,     /* no well-formed record at all (or an empty set) */
} match_outcome;

typedef struct match_result {
    match_outcome outcome;
    int matched;                 /* index of the matching record, -1 if none */
    char detail[160];            /* e.g. DANE-TA chain error text; empty if nothing to add */
} match_result;

/*
 * match_tlsa - evaluate n records against ev for claimed name `name` (used by DANE-TA only);
 * states[i] receives each record's fate; returns the outcome (also stored in *res).
 */
match_outcome match_tlsa(const evidence *ev, const char *name,
                         const tlsa_record *recs, size_t n,
                         match_rec_state *states, match_result *res);

/* match_rec_state_str - short English text for a record state. */
const char *match_rec_state_str(match_rec_state state);

/* match_outcome_str - short English text for an outcome. */
const char *match_outcome_str(match_outcome outcome);

#endif
