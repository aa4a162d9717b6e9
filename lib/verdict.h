/*
 * verdict.h - one RFC 8601 result per claimed identity.
 *
 * verdict_evaluate_owner() turns one owner's resolver answer plus the client
 * evidence into a per-owner result; verdict_finish() combines the owners of
 * one identity into the final verdict.  The mapping (README "How dance
 * decides"):
 *   no evidence / invalid or out-of-scope name      -> none (no DNS query)
 *   timeout, SERVFAIL, network error, bogus         -> temperror
 *   insecure, secure NXDOMAIN / NODATA              -> none
 *   secure RRset, no well-formed record             -> permerror
 *   secure RRset over 64 records or 4096 octets     -> permerror (refused)
 *   secure RRset, none usable with this evidence    -> neutral
 *   secure RRset, a usable record matches           -> pass
 *   secure RRset, usable records, none match        -> fail
 * Several owners combine with precedence
 *   pass > temperror > fail > permerror > neutral > none,
 * so a pass anywhere wins, and an unanswered owner is never read as "no DANE".
 * A stale answer (verdict_evaluate_stale: a secure RRset past its TTL, used
 * because a fresh look-up failed) is evaluated like a fresh one; the owner and,
 * when it decides, the verdict are marked stale and the reason says so.
 */
#ifndef DANCE_LIB_VERDICT_H
#define DANCE_LIB_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include "answer.h"
#include "evidence.h"
#include "identity.h"
#include "match.h"
#include "tlsa.h"

typedef enum {
    VERDICT_NONE = 0,
    VERDICT_NEUTRAL,
    VERDICT_PERMERROR,
    VERDICT_FAIL,
    VERDICT_TEMPERROR,
    VERDICT_PASS
} verdict_result;   /* ordered by combining precedence, lowest first */

#define VERDICT_OWNERS_MAX 2
#define VERDICT_REASON_MAX 200
#define VERDICT_RECORD_TEXT_MAX 160

typedef struct verdict_owner {
    char owner[IDENTITY_OWNER_MAX];
    resolver_status dnssec;
    uint32_t ttl;
    char canon[256];
    char why[256];                    /* why_bogus / resolver error */
    size_t count;
    tlsa_record records[RESOLVER_MAX_RECORDS];
    match_rec_state states[RESOLVER_MAX_RECORDS];
    int matched;                      /* index into records, -1 if none */
    verdict_result result;
    char reason[VERDICT_REASON_MAX];
    char brief[VERDICT_REASON_MAX];   /* reason without resolver-supplied text */
    bool stale;                       /* decided from an expired answer (verdict_evaluate_stale) */
    unsigned stale_ago_s;             /* and that many seconds after it expired */
} verdict_owner;

typedef struct verdict {
    verdict_result result;
    char reason[VERDICT_REASON_MAX];  /* short, printable ASCII (escape it for header comments) */
    char brief[VERDICT_REASON_MAX];   /* the reason without resolver-supplied details (why_bogus
                                         names servers): what a header sent onwards carries */
    char name[IDENTITY_NAME_MAX];     /* normalized claimed name, "" if invalid */
    int decisive;                     /* index of the owner that decided, -1 if none */
    char matched[VERDICT_RECORD_TEXT_MAX]; /* "3 1 1 abcd..." of the matched record, or "" */
    char spki_sha256[65];             /* client key SPKI SHA-256, or "" */
    bool stale;                       /* the decisive owner's answer was stale */
    unsigned stale_ago_s;             /* seconds since that answer expired */
    size_t nowners;
    verdict_owner owners[VERDICT_OWNERS_MAX];
} verdict;

/* verdict_init - empty verdict (result none) for the given normalized name ("" allowed). */
void verdict_init(verdict *v, const char *name, const evidence *ev);

/* verdict_set_none - decide none without DNS (no evidence, invalid name, out of scope) with a reason. */
void verdict_set_none(verdict *v, const char *reason);

/* verdict_set_temperror - decide temperror without DNS (a look-up was refused, e.g. over a budget) with a reason. */
void verdict_set_temperror(verdict *v, const char *reason);

/* verdict_evaluate_owner - append one owner's evaluation from its answer; returns that owner's result. */
verdict_result verdict_evaluate_owner(verdict *v, const evidence *ev, const resolver_answer *ans);

/* verdict_evaluate_stale - as verdict_evaluate_owner for a secure answer that expired ago_s seconds ago. */
verdict_result verdict_evaluate_stale(verdict *v, const evidence *ev, const resolver_answer *ans, unsigned ago_s);

/* verdict_finish - combine the owners into v->result, v->reason, v->decisive and v->matched. */
void verdict_finish(verdict *v);

/* verdict_clear - free the records held by a verdict. */
void verdict_clear(verdict *v);

/* verdict_result_word - the RFC 8601 result word ("pass", "fail", ...). */
const char *verdict_result_word(verdict_result r);

#endif
