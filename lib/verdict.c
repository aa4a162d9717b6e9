/*
 * verdict.c - one RFC 8601 result per claimed identity.
 *
 * USAGE
 *	verdict_init(&v, name, ev);
 *	if (no evidence / bad name) verdict_set_none(&v, reason);
 *	else for each owner: verdict_evaluate_owner(&v, ev, &answer);
 *	verdict_finish(&v);
 *	... use v.result, v.reason, v.owners[] ...
 *	verdict_clear(&v);
 *
 * DESCRIPTION
 *	This module is the verdict table of the README in code.  It does no
 *	I/O: the caller brings resolver answers (from the CLI's synchronous
 *	look-up or the daemon's asynchronous one), this module parses the
 *	RDATA with tlsa_parse(), matches with match_tlsa() and names the
 *	outcome.  Reasons are short fixed phrases plus validated names and
 *	record text, so they are safe to put in logs and header comments.
 *
 *	A "pass" is only ever produced from RESOLVER_SECURE data with a
 *	record that match_tlsa() reports as matched.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panic.h"
#include "text.h"
#include "verdict.h"

/* verdict_init - empty verdict (result none) for the given normalized name. */
void verdict_init(verdict *v, const char *name, const evidence *ev)
{
    memset(v, 0, sizeof(*v));
    v->result = VERDICT_NONE;
    v->decisive = -1;
    text_copy(v->name, sizeof(v->name), name ? name : "");
    text_copy(v->reason, sizeof(v->reason), "not evaluated");
    text_copy(v->brief, sizeof(v->brief), "not evaluated");
    if (ev != NULL && !evidence_spki_sha256_hex(ev, v->spki_sha256))
        v->spki_sha256[0] = 0;
}

/* printable - replace anything but printable ASCII in place (reasons reach logs and headers). */
static void printable(char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            *s = '?';
}

/* verdict_set_without_dns - decide result without a look-up, with a reason. */
static void verdict_set_without_dns(verdict *v, verdict_result result, const char *reason)
{
    v->result = result;
    v->decisive = -1;
    text_copy(v->reason, sizeof(v->reason), reason);
    text_copy(v->brief, sizeof(v->brief), reason);
    printable(v->reason);
    printable(v->brief);
}

/* verdict_set_none - decide none without DNS, with a reason. */
void verdict_set_none(verdict *v, const char *reason)
{
    verdict_set_without_dns(v, VERDICT_NONE, reason);
}

/* verdict_set_temperror - decide temperror without DNS (a look-up refused), with a reason. */
void verdict_set_temperror(verdict *v, const char *reason)
{
    verdict_set_without_dns(v, VERDICT_TEMPERROR, reason);
}

/* owner_from_dns - per-owner result for answers that carry no usable RRset. */
static verdict_result owner_from_dns(verdict_owner *vo)
{
    const char *brief;
    const char *detail;
    verdict_result r;

    switch (vo->dnssec) {
    case RESOLVER_SECURE_NXDOMAIN:
        brief = "no TLSA records (NXDOMAIN)", detail = NULL, r = VERDICT_NONE;
        break;
    case RESOLVER_SECURE_NODATA:
        brief = "no TLSA records (NODATA)", detail = NULL, r = VERDICT_NONE;
        break;
    case RESOLVER_INSECURE:
        brief = "TLSA answer not DNSSEC-signed", detail = NULL, r = VERDICT_NONE;
        break;
    case RESOLVER_BOGUS:
        brief = "DNSSEC validation failed", detail = "bogus", r = VERDICT_TEMPERROR;
        break;
    case RESOLVER_SERVFAIL:
        brief = "TLSA look-up failed", detail = "SERVFAIL", r = VERDICT_TEMPERROR;
        break;
    case RESOLVER_TIMEOUT:
        brief = "TLSA look-up timed out", detail = NULL, r = VERDICT_TEMPERROR;
        break;
    case RESOLVER_NETERR:
        brief = "TLSA look-up error", detail = "resolver error", r = VERDICT_TEMPERROR;
        break;
    default:
        DANCE_PANIC("RESOLVER_SECURE is matched, not mapped");
    }
    text_copy(vo->brief, sizeof(vo->brief), brief);
    if (detail != NULL)
        snprintf(vo->reason, sizeof(vo->reason), "%s: %.170s", brief, vo->why[0] ? vo->why : detail);
    else
        text_copy(vo->reason, sizeof(vo->reason), brief);
    return r;
}

/* evidence_gap - for a neutral verdict: which records the evidence could have matched, when that is narrow. */
static const char *evidence_gap(const evidence *ev)
{
    const unsigned char *d;
    size_t n;
    bool cert = evidence_get(ev, 0, 1, &d, &n) || evidence_get(ev, 0, 2, &d, &n);
    bool spki = evidence_get(ev, 1, 1, &d, &n) || evidence_get(ev, 1, 2, &d, &n);

    if (cert && !spki)
        return " (only a digest of the whole certificate is known: only 3 0 x records can match)";
    if (spki && !cert)
        return " (only a digest of the public key is known: only 3 1 x records can match)";
    return "";
}

/* owner_from_match - per-owner result for a secure RRset. */
static verdict_result owner_from_match(verdict_owner *vo, const evidence *ev, const char *name)
{
    match_result mr;

    match_tlsa(ev, name, vo->records, vo->count, vo->states, &mr);
    vo->matched = mr.matched;
    switch (mr.outcome) {
    case MATCH_PASS:
        if (mr.matched < 0 || (size_t)mr.matched >= vo->count)
            DANCE_PANIC("broken invariant");
        snprintf(vo->reason, sizeof(vo->reason), "matched TLSA %u %u %u",
                 vo->records[mr.matched].usage, vo->records[mr.matched].selector,
                 vo->records[mr.matched].mtype);
        return (VERDICT_PASS);
    case MATCH_FAIL:
        snprintf(vo->reason, sizeof(vo->reason), "certificate matches no usable TLSA record%s%.120s",
                 mr.detail[0] ? ": " : "", mr.detail);
        return (VERDICT_FAIL);
    case MATCH_NONE_USABLE:
        snprintf(vo->reason, sizeof(vo->reason), "no TLSA record usable with this evidence%s",
                 evidence_gap(ev));
        return (VERDICT_NEUTRAL);
    case MATCH_ALL_MALFORMED:
        text_copy(vo->reason, sizeof(vo->reason), "no well-formed TLSA record");
        return (VERDICT_PERMERROR);
    }
    DANCE_PANIC("broken invariant");
}

/* verdict_evaluate_owner - append one owner's evaluation from its answer. */
verdict_result verdict_evaluate_owner(verdict *v, const evidence *ev, const resolver_answer *ans)
{
    verdict_owner *vo;
    size_t i;

    if (v->nowners >= VERDICT_OWNERS_MAX)
        DANCE_PANIC("broken invariant");
    vo = &v->owners[v->nowners++];
    memset(vo, 0, sizeof(*vo));
    text_copy(vo->owner, sizeof(vo->owner) < 254 ? sizeof(vo->owner) : 254, ans->owner); /* 253 at most */
    text_copy(vo->canon, sizeof(vo->canon), ans->canon);
    text_copy(vo->why, sizeof(vo->why), ans->why);
    vo->dnssec = ans->status;
    vo->ttl = ans->ttl;
    vo->matched = -1;

    if (ans->status != RESOLVER_SECURE) {
        vo->result = owner_from_dns(vo);
        return (vo->result);
    }
    if (ans->count > RESOLVER_MAX_RECORDS)
        DANCE_PANIC("broken invariant");
    if (ans->oversize_records > 0) {
        snprintf(vo->reason, sizeof(vo->reason), "TLSA RRset too large: %zu records, %zu octets "
                 "(at most %d records and %d octets are accepted)", ans->oversize_records,
                 ans->oversize_octets, RESOLVER_MAX_RECORDS, RESOLVER_RRSET_MAX_OCTETS);
        text_copy(vo->brief, sizeof(vo->brief), "TLSA RRset too large");
        vo->result = VERDICT_PERMERROR;
        return (vo->result);
    }
    for (i = 0; i < ans->count; i++)
        tlsa_parse(ans->rdata[i], ans->rdlen[i], &vo->records[i]);
    vo->count = ans->count;
    vo->result = owner_from_match(vo, ev, v->name);
    text_copy(vo->brief, sizeof(vo->brief), vo->reason);
    return (vo->result);
}

/* stale_note - append the stale note to a reason, cutting the reason rather than the note. */
static void stale_note(char *reason, size_t size, unsigned ago_s)
{
    char note[64];
    size_t n = (size_t)snprintf(note, sizeof(note), " (stale answer, expired %u s ago)", ago_s);
    size_t len = strlen(reason);

    if (n >= size)
        DANCE_PANIC("broken invariant");
    if (len + n >= size)
        len = size - 1 - n;
    memcpy(reason + len, note, n + 1);
}

/* verdict_evaluate_stale - as verdict_evaluate_owner for a secure answer that expired ago_s seconds ago. */
verdict_result verdict_evaluate_stale(verdict *v, const evidence *ev, const resolver_answer *ans, unsigned ago_s)
{
    verdict_owner *vo;
    verdict_result r;

    if (ans->status != RESOLVER_SECURE)
        DANCE_PANIC("only a secure RRset may be used stale");
    r = verdict_evaluate_owner(v, ev, ans);
    vo = &v->owners[v->nowners - 1];
    vo->stale = true;
    vo->stale_ago_s = ago_s;
    stale_note(vo->reason, sizeof(vo->reason), ago_s);
    stale_note(vo->brief, sizeof(vo->brief), ago_s);
    return (r);
}

/* verdict_finish - combine the owners into the final result. */
void verdict_finish(verdict *v)
{
    size_t i;
    int best = -1;
    const verdict_owner *vo;

    if (v->nowners == 0)
        return; /* verdict_set_none() decided */
    for (i = 0; i < v->nowners; i++)
        if (best < 0 || v->owners[i].result > v->owners[best].result)
            best = (int)i;
    vo = &v->owners[best];
    v->decisive = best;
    v->result = vo->result;
    v->stale = vo->stale;
    v->stale_ago_s = vo->stale_ago_s;
    if (v->result == VERDICT_NONE && v->nowners > 1)
        text_copy(v->reason, sizeof(v->reason), "no DNSSEC-secure TLSA records at any owner");
    else
        text_copy(v->reason, sizeof(v->reason), vo->reason);
    if (v->result == VERDICT_NONE && v->nowners > 1)
        text_copy(v->brief, sizeof(v->brief), v->reason);
    else
        text_copy(v->brief, sizeof(v->brief), vo->brief);
    printable(v->reason);
    printable(v->brief);
    v->matched[0] = 0;
    if (v->result == VERDICT_PASS)
        tlsa_format(&vo->records[vo->matched], v->matched, sizeof(v->matched));
}

/* verdict_clear - free the records held by a verdict. */
void verdict_clear(verdict *v)
{
    size_t i, j;

    for (i = 0; i < v->nowners; i++)
        for (j = 0; j < v->owners[i].count; j++)
            tlsa_record_clear(&v->owners[i].records[j]);
    v->nowners = 0;
}

/* verdict_result_word - the RFC 8601 result word. */
const char *verdict_result_word(verdict_result r)
{
    switch (r) {
    case VERDICT_NONE:
        return ("none");
    case VERDICT_NEUTRAL:
        return ("neutral");
    case VERDICT_PERMERROR:
        return ("permerror");
    case VERDICT_FAIL:
        return ("fail");
    case VERDICT_TEMPERROR:
        return ("temperror");
    case VERDICT_PASS:
        return ("pass");
    }
    DANCE_PANIC("broken invariant");
}
