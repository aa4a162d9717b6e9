/*
 * match.c - matching client evidence against a TLSA RRset (RFC 6698, RFC 7671).
 *
 * Usage:
 *	match_rec_state states[n];
 *	match_result res;
 *	match_tlsa(ev, "mx.example.org", recs, n, states, &res);
 *	if (res.outcome == MATCH_PASS) ... recs[res.matched] matched ...
 *
 * The work goes in passes over the records:
 *   1. records tlsa_parse() found unusable (malformed, PKIX usages, unknown
 *      parameters) are UNUSABLE;
 *   2. the rest are checked against what the evidence can answer: DANE-EE(3)
 *      needs the object's bytes or digest for that matching type - or, for
 *      Full(0), any digest of the object, since the record's data can then be
 *      hashed (NO_EVIDENCE otherwise); DANE-TA(2) needs a chain (NO_CHAIN);
 *   3. digest agility (RFC 7671 section 9): per (usage, selector), among the
 *      records still in play only Full(0) and the strongest digest type count;
 *      weaker ones are SUPERSEDED.  A digest type the evidence cannot answer
 *      never got this far, so it cannot set aside a weaker one;
 *   4. DANE-EE records are compared (exact length and bytes);
 *   5. the DANE-TA records are handed together to OpenSSL's DANE verifier,
 *      offline: a throw-away SSL object carries the TLSA records and the
 *      claimed name, and an X509_STORE_CTX with an empty trust store verifies
 *      the leaf and chain against them.  The name must be a dNSName of the
 *      leaf (no fallback to the subject CN, no partial wildcards).
 * The outcome is PASS if any record matched (the first one is named), FAIL
 * if records were checked and none matched, NONE_USABLE if only well-formed
 * but uncheckable records remain, ALL_MALFORMED if no record is well-formed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "evidence.h"
#include "match.h"
#include "panic.h"
#include "tlsa.h"

/* Working state of a record still in play between passes; never left in states[]. */
#define MATCH_REC_PENDING ((match_rec_state)(MATCH_REC_MATCH + 1))

/* match_set_detail - copy text into res->detail (truncated, always terminated). */
static void match_set_detail(match_result *res, const char *text)
{
    snprintf(res->detail, sizeof(res->detail), "%s", text);
}

/* match_known_digest - some digest of the selector's object is known; returns the strongest. */
static bool match_known_digest(const evidence *ev, int selector, digest_alg *alg)
{
    static const digest_alg strongest_first[] = {DIGEST_SHA512, DIGEST_SHA256};
    const unsigned char *data;
    size_t len;

    for (size_t i = 0; i < sizeof(strongest_first) / sizeof(strongest_first[0]); i++) {
        if (evidence_get(ev, selector, (int)strongest_first[i], &data, &len)) {
            *alg = strongest_first[i];
            return true;
        }
    }
    return false;
}

/* match_usable - pass 2: can this well-formed record be checked with this evidence? */
static match_rec_state match_usable(const evidence *ev, const tlsa_record *rec)
{
    const unsigned char *data;
    size_t len;
    digest_alg alg;

    switch (rec->usage) {
    case TLSA_USAGE_DANE_EE:
        if (evidence_get(ev, rec->selector, rec->mtype, &data, &len))
            return MATCH_REC_PENDING;
        if (rec->mtype == TLSA_MTYPE_FULL && match_known_digest(ev, rec->selector, &alg))
            return MATCH_REC_PENDING;
        return MATCH_REC_NO_EVIDENCE;
    case TLSA_USAGE_DANE_TA:
        return evidence_has_chain(ev) ? MATCH_REC_PENDING : MATCH_REC_NO_CHAIN;
    default:
        DANCE_PANIC("tlsa_parse marks other usages unusable");
    }
}

/* match_agility - pass 3: per usage/selector, set aside digests weaker than the strongest. */
static void match_agility(const tlsa_record *recs, size_t n, match_rec_state *states)
{
    for (size_t i = 0; i < n; i++) {
        if (states[i] != MATCH_REC_PENDING || recs[i].mtype == TLSA_MTYPE_FULL)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (states[j] == MATCH_REC_PENDING && recs[j].usage == recs[i].usage &&
                recs[j].selector == recs[i].selector &&
                recs[j].mtype > recs[i].mtype) { /* SHA-512(2) beats SHA-256(1) */
                states[i] = MATCH_REC_SUPERSEDED;
                break;
            }
        }
    }
}

/* match_ee - pass 4: compare one DANE-EE record with the evidence. */
static match_rec_state match_ee(const evidence *ev, const tlsa_record *rec)
{
    const unsigned char *want;
    size_t wantlen;
    unsigned char hashed[DIGEST_MAX];
    digest_alg alg;

    if (evidence_get(ev, rec->selector, rec->mtype, &want, &wantlen))
        return rec->len == wantlen && memcmp(rec->data, want, wantlen) == 0 ? MATCH_REC_MATCH
                                                                            : MATCH_REC_NO_MATCH;

    /* Full(0) with only a digest of the object known: hash the record's data instead. */
    if (rec->mtype != TLSA_MTYPE_FULL || !match_known_digest(ev, rec->selector, &alg) ||
        !evidence_get(ev, rec->selector, (int)alg, &want, &wantlen))
        DANCE_PANIC("match_usable said this was checkable");
    if (evidence_digest(alg, rec->data, rec->len, hashed) != wantlen)
        DANCE_PANIC("unexpected: evidence_digest(alg, rec->data, rec->len, hashed) != wantlen");
    return memcmp(hashed, want, wantlen) == 0 ? MATCH_REC_MATCH : MATCH_REC_NO_MATCH;
}

/*
 * match_ta_verify - verify the evidence's chain with OpenSSL's DANE code
 * against the DANE-TA records in play (their states are PENDING).  On
 * success sets *which to the index of the record OpenSSL matched; on failure
 * leaves *which at n and puts the reason in res->detail.
 */
static void match_ta_verify(const evidence *ev, const char *name, const tlsa_record *recs, size_t n,
                            const match_rec_state *states, match_result *res, size_t *which)
{
    SSL_CTX *ssl_ctx = NULL;
    SSL *ssl = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *store_ctx = NULL;
    X509_VERIFY_PARAM *param;
    uint8_t usage, selector, mtype;
    unsigned const char *mdata;
    size_t mlen;

    *which = n;
    if ((ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL || SSL_CTX_dane_enable(ssl_ctx) <= 0 ||
        (ssl = SSL_new(ssl_ctx)) == NULL || (store = X509_STORE_new()) == NULL ||
        (store_ctx = X509_STORE_CTX_new()) == NULL)
        DANCE_PANIC("out of memory or a broken OpenSSL");
    if (SSL_dane_enable(ssl, name) <= 0) {
        match_set_detail(res, "claimed name not accepted by OpenSSL for DANE-TA");
        goto done;
    }

    for (size_t i = 0; i < n; i++) {
        if (states[i] != MATCH_REC_PENDING || recs[i].usage != TLSA_USAGE_DANE_TA)
            continue;
        if (SSL_dane_tlsa_add(ssl, recs[i].usage, recs[i].selector, recs[i].mtype, recs[i].data,
                              recs[i].len) <= 0) {
            match_set_detail(res, "OpenSSL refused a DANE-TA record");
            goto done;
        }
    }

    if (X509_STORE_CTX_init(store_ctx, store, evidence_leaf(ev), evidence_chain(ev)) != 1)
        DANCE_PANIC("unexpected: X509_STORE_CTX_init(store_ctx, store, evidence_leaf(ev), evidence_chain(ev)) != 1");
    X509_STORE_CTX_set0_dane(store_ctx, SSL_get0_dane(ssl));
    param = X509_STORE_CTX_get0_param(store_ctx);
    /* The SSL object's parameters carry the host name SSL_dane_enable() set. */
    if (X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl)) != 1)
        DANCE_PANIC("unexpected: X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl)) != 1");
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                                               X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);

    if (X509_verify_cert(store_ctx) != 1) {
        match_set_detail(res, X509_verify_cert_error_string(X509_STORE_CTX_get_error(store_ctx)));
        goto done;
    }

    /* Which record was it?  OpenSSL reports the matched TLSA fields. */
    if (SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &mdata, &mlen) >= 0) {
        for (size_t i = 0; i < n && *which == n; i++) {
            if (states[i] == MATCH_REC_PENDING && recs[i].usage == usage &&
                recs[i].selector == selector && recs[i].mtype == mtype && recs[i].len == mlen &&
                memcmp(recs[i].data, mdata, mlen) == 0)
                *which = i;
        }
    }
    if (*which == n)
        match_set_detail(res, "chain verified but no DANE-TA record was reported as matched");

done:
    X509_STORE_CTX_free(store_ctx);
    X509_STORE_free(store);
    SSL_free(ssl);
    SSL_CTX_free(ssl_ctx);
}

/* match_ta - pass 5: settle every DANE-TA record still in play. */
static void match_ta(const evidence *ev, const char *name, const tlsa_record *recs, size_t n,
                     match_rec_state *states, match_result *res)
{
    size_t which = n;
    bool any = false;

    for (size_t i = 0; i < n; i++)
        if (states[i] == MATCH_REC_PENDING && recs[i].usage == TLSA_USAGE_DANE_TA)
            any = true;
    if (!any)
        return;

    if (name == NULL || *name == '\0')
        match_set_detail(res, "DANE-TA needs the claimed name, none given");
    else {
        ERR_set_mark();
        match_ta_verify(ev, name, recs, n, states, res, &which);
        ERR_pop_to_mark();
    }
    for (size_t i = 0; i < n; i++)
        if (states[i] == MATCH_REC_PENDING && recs[i].usage == TLSA_USAGE_DANE_TA)
            states[i] = (i == which) ? MATCH_REC_MATCH : MATCH_REC_NO_MATCH;
}

/* match_outcome_of - pass 6: the outcome from the records' states. */
static match_outcome match_outcome_of(const tlsa_record *recs, size_t n,
                                      const match_rec_state *states, int *matched)
{
    bool any_no_match = false;
    bool any_well_formed = false;

    *matched = -1;
    for (size_t i = 0; i < n; i++) {
        if (states[i] == MATCH_REC_MATCH) {
            *matched = (int)i;
            return MATCH_PASS;
        }
        if (states[i] == MATCH_REC_NO_MATCH)
            any_no_match = true;
        if (!tlsa_status_malformed(recs[i].status))
            any_well_formed = true;
    }
    if (any_no_match)
        return MATCH_FAIL;
    return any_well_formed ? MATCH_NONE_USABLE : MATCH_ALL_MALFORMED;
}

match_outcome match_tlsa(const evidence *ev, const char *name, const tlsa_record *recs, size_t n,
                         match_rec_state *states, match_result *res)
{
    if (ev == NULL || res == NULL || (n > 0 && (recs == NULL || states == NULL)))
        DANCE_PANIC("unexpected: ev == NULL || res == NULL || (n > 0 && (recs == NULL || states == NULL))");
    if (n > (size_t)1 << 30)
        DANCE_PANIC("no RRset is that large; keeps the int index exact");
    res->detail[0] = '\0';

    /* Passes 1 and 2: which records can be checked at all. */
    for (size_t i = 0; i < n; i++)
        states[i] = recs[i].status == TLSA_USABLE ? match_usable(ev, &recs[i]) : MATCH_REC_UNUSABLE;

    match_agility(recs, n, states);

    for (size_t i = 0; i < n; i++)
        if (states[i] == MATCH_REC_PENDING && recs[i].usage == TLSA_USAGE_DANE_EE)
            states[i] = match_ee(ev, &recs[i]);

    match_ta(ev, name, recs, n, states, res);

    for (size_t i = 0; i < n; i++)
        if (states[i] == MATCH_REC_PENDING)
            DANCE_PANIC("every pass above settles what it takes on");

    res->outcome = match_outcome_of(recs, n, states, &res->matched);
    if (res->outcome == MATCH_PASS)
        res->detail[0] = '\0'; /* a DANE-TA failure beside a match is no news */
    return res->outcome;
}

const char *match_rec_state_str(match_rec_state state)
{
    switch (state) {
    case MATCH_REC_UNUSABLE:
        return "unusable record";
    case MATCH_REC_NO_EVIDENCE:
        return "not checkable with this evidence";
    case MATCH_REC_NO_CHAIN:
        return "DANE-TA needs the certificate chain";
    case MATCH_REC_SUPERSEDED:
        return "superseded by a stronger digest";
    case MATCH_REC_NO_MATCH:
        return "no match";
    case MATCH_REC_MATCH:
        return "match";
    }
    DANCE_PANIC("not a match_rec_state");
}

const char *match_outcome_str(match_outcome outcome)
{
    switch (outcome) {
    case MATCH_PASS:
        return "a usable record matched";
    case MATCH_FAIL:
        return "usable records, none matched";
    case MATCH_NONE_USABLE:
        return "no record usable with this evidence";
    case MATCH_ALL_MALFORMED:
        return "no well-formed record";
    }
    DANCE_PANIC("not a match_outcome");
}
