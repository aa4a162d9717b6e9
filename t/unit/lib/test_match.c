/*
 * test_match.c - unit tests for match.c: DANE-EE matching from every form of
 * evidence, digest agility, classification of unusable and malformed
 * records, and DANE-TA chain verification through OpenSSL (names, chains,
 * unrelated trust anchors).  Records go through tlsa_parse() exactly as
 * they would from DNS; their data is computed here from fresh test
 * certificates with OpenSSL directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/evidence.h"
#include "lib/match.h"
#include "lib/tlsa.h"
#include "t/unit/testcert.h"

#define NAME    "mx.example.org"
#define MAXRECS 8

/* ---- building records and evidence ---- */

/* A set of parsed records, freed by recs_clear. */
typedef struct recset {
    tlsa_record rec[MAXRECS];
    match_rec_state state[MAXRECS];
    size_t n;
} recset;

/* recs_raw - parse one record from its parts, as tlsa_parse would see it from DNS. */
static void recs_raw(recset *rs, int usage, int sel, int mtype, const unsigned char *data,
                     size_t len)
{
    unsigned char *rdata = malloc(len + 3);

    assert_non_null(rdata);
    assert_true(rs->n < MAXRECS);
    rdata[0] = (unsigned char)usage;
    rdata[1] = (unsigned char)sel;
    rdata[2] = (unsigned char)mtype;
    if (len > 0)
        memcpy(rdata + 3, data, len);
    tlsa_parse(rdata, len + 3, &rs->rec[rs->n++]);
    free(rdata);
}

/* recs_for - a well-formed record "usage sel mtype" for tc's certificate or key. */
static void recs_for(recset *rs, int usage, int sel, int mtype, const testcert *tc)
{
    const unsigned char *obj = sel == 0 ? tc->der : tc->spki;
    size_t objlen = sel == 0 ? tc->derlen : tc->spkilen;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (mtype == 0) {
        recs_raw(rs, usage, sel, mtype, obj, objlen);
    } else {
        assert_int_equal(
            EVP_Digest(obj, objlen, d, &n, mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL), 1);
        recs_raw(rs, usage, sel, mtype, d, n);
    }
    assert_int_equal(rs->rec[rs->n - 1].status, usage >= 2 ? TLSA_USABLE : TLSA_PKIX_USAGE);
}

static void recs_clear(recset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        tlsa_record_clear(&rs->rec[i]);
    rs->n = 0;
}

/* run - match_tlsa over the set; checks the result is consistent with the states. */
static match_outcome run(const evidence *ev, const char *name, recset *rs, match_result *res)
{
    match_outcome out;

    memset(res, 0x5a, sizeof(*res));
    out = match_tlsa(ev, name, rs->rec, rs->n, rs->state, res);
    assert_int_equal(out, res->outcome);
    assert_true(memchr(res->detail, '\0', sizeof(res->detail)) != NULL);
    if (out == MATCH_PASS) {
        assert_true(res->matched >= 0 && (size_t)res->matched < rs->n);
        assert_int_equal(rs->state[res->matched], MATCH_REC_MATCH);
        for (int i = 0; i < res->matched; i++)
            assert_int_not_equal(rs->state[i], MATCH_REC_MATCH);
    } else {
        assert_int_equal(res->matched, -1);
    }
    return out;
}

/* The forms evidence can take. */
typedef enum {
    EV_CERT,        /* DER certificate */
    EV_PUBKEY,      /* bare SPKI */
    EV_SPKI_SHA256, /* Postfix ccert_pubkey_fingerprint, sha256 */
    EV_SPKI_SHA512,
    EV_CERT_SHA256, /* Postfix ccert_fingerprint, sha256 */
    EV_CERT_SHA512
} ev_form;

/* colon_fp - Postfix-style fingerprint of alg over obj. */
static void colon_fp(digest_alg alg, const unsigned char *obj, size_t len, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    assert_int_equal(
        EVP_Digest(obj, len, d, &n, alg == DIGEST_SHA256 ? EVP_sha256() : EVP_sha512(), NULL), 1);
    out[0] = '\0';
    for (unsigned int i = 0; i < n; i++)
        sprintf(out + strlen(out), "%s%02X", i ? ":" : "", d[i]);
}

static evidence *ev_make(ev_form form, const testcert *tc)
{
    evidence *ev = evidence_new();
    char fp[200];

    switch (form) {
    case EV_CERT:
        assert_int_equal(evidence_add_der(ev, tc->der, tc->derlen), EVIDENCE_OK);
        break;
    case EV_PUBKEY:
        assert_int_equal(evidence_add_pubkey(ev, tc->spki, tc->spkilen), EVIDENCE_OK);
        break;
    case EV_SPKI_SHA256:
    case EV_SPKI_SHA512:
    case EV_CERT_SHA256:
    case EV_CERT_SHA512: {
        int sel = (form == EV_SPKI_SHA256 || form == EV_SPKI_SHA512) ? 1 : 0;
        digest_alg alg =
            (form == EV_SPKI_SHA256 || form == EV_CERT_SHA256) ? DIGEST_SHA256 : DIGEST_SHA512;

        colon_fp(alg, sel ? tc->spki : tc->der, sel ? tc->spkilen : tc->derlen, fp);
        assert_int_equal(evidence_add_digest(ev, sel, alg, fp), EVIDENCE_OK);
        break;
    }
    }
    return ev;
}

/* ev_chain - evidence of a leaf followed by up to two more certificates. */
static evidence *ev_chain(const testcert *leaf, const testcert *c1, const testcert *c2)
{
    evidence *ev = evidence_new();

    assert_int_equal(evidence_add_der(ev, leaf->der, leaf->derlen), EVIDENCE_OK);
    if (c1 != NULL)
        assert_int_equal(evidence_add_der(ev, c1->der, c1->derlen), EVIDENCE_OK);
    if (c2 != NULL)
        assert_int_equal(evidence_add_der(ev, c2->der, c2->derlen), EVIDENCE_OK);
    return ev;
}

/* ---- DANE-EE with every evidence form ---- */

/*
 * For each form of evidence and each DANE-EE (selector, type): can a record
 * be checked?  If so, a record of the client's own object must match and one
 * of another certificate must not; if not, both are "no evidence".
 */
struct ee_case {
    ev_form form;
    int sel;
    int mtype;
    bool checkable;
};

static const struct ee_case ee_cases[] = {
    /* full certificate: everything */
    {EV_CERT, 1, 1, true},
    {EV_CERT, 0, 1, true},
    {EV_CERT, 1, 2, true},
    {EV_CERT, 0, 2, true},
    {EV_CERT, 1, 0, true},
    {EV_CERT, 0, 0, true},
    /* bare key: only selector 1 */
    {EV_PUBKEY, 1, 1, true},
    {EV_PUBKEY, 1, 2, true},
    {EV_PUBKEY, 1, 0, true},
    {EV_PUBKEY, 0, 1, false},
    {EV_PUBKEY, 0, 2, false},
    {EV_PUBKEY, 0, 0, false},
    /* SPKI SHA-256 fingerprint: 3 1 1, and 3 1 0 by hashing the record's data */
    {EV_SPKI_SHA256, 1, 1, true},
    {EV_SPKI_SHA256, 1, 0, true},
    {EV_SPKI_SHA256, 1, 2, false},
    {EV_SPKI_SHA256, 0, 1, false},
    {EV_SPKI_SHA256, 0, 0, false},
    /* SPKI SHA-512 fingerprint */
    {EV_SPKI_SHA512, 1, 2, true},
    {EV_SPKI_SHA512, 1, 0, true},
    {EV_SPKI_SHA512, 1, 1, false},
    {EV_SPKI_SHA512, 0, 2, false},
    /* certificate fingerprints */
    {EV_CERT_SHA256, 0, 1, true},
    {EV_CERT_SHA256, 0, 0, true},
    {EV_CERT_SHA256, 0, 2, false},
    {EV_CERT_SHA256, 1, 1, false},
    {EV_CERT_SHA256, 1, 0, false},
    {EV_CERT_SHA512, 0, 2, true},
    {EV_CERT_SHA512, 0, 0, true},
    {EV_CERT_SHA512, 0, 1, false},
    {EV_CERT_SHA512, 1, 2, false},
};

static void test_ee_forms(void **state)
{
    testcert *client = testcert_self_signed("client", NAME);
    testcert *other = testcert_self_signed("other", NAME);

    (void)state;
    for (size_t i = 0; i < sizeof(ee_cases) / sizeof(ee_cases[0]); i++) {
        const struct ee_case *c = &ee_cases[i];
        evidence *ev = ev_make(c->form, client);
        recset rs = {.n = 0};
        match_result res;

        /* Own object. */
        recs_for(&rs, 3, c->sel, c->mtype, client);
        if (run(ev, NAME, &rs, &res) != (c->checkable ? MATCH_PASS : MATCH_NONE_USABLE))
            fail_msg("case %zu (form %d, 3 %d %d) own: %s", i, c->form, c->sel, c->mtype,
                     match_outcome_str(res.outcome));
        assert_int_equal(rs.state[0], c->checkable ? MATCH_REC_MATCH : MATCH_REC_NO_EVIDENCE);
        if (c->checkable)
            assert_int_equal(res.matched, 0);
        recs_clear(&rs);

        /* Another certificate's object. */
        recs_for(&rs, 3, c->sel, c->mtype, other);
        if (run(ev, NAME, &rs, &res) != (c->checkable ? MATCH_FAIL : MATCH_NONE_USABLE))
            fail_msg("case %zu (form %d, 3 %d %d) other: %s", i, c->form, c->sel, c->mtype,
                     match_outcome_str(res.outcome));
        assert_int_equal(rs.state[0], c->checkable ? MATCH_REC_NO_MATCH : MATCH_REC_NO_EVIDENCE);
        recs_clear(&rs);
        evidence_free(ev);
    }
    testcert_free(other);
    testcert_free(client);
}

/* DANE-EE ignores names and issuers: a self-signed cert for another name matches 3 1 1. */
static void test_ee_ignores_name(void **state)
{
    testcert *client = testcert_self_signed("client", "elsewhere.example.net");
    evidence *ev = ev_make(EV_CERT, client);
    recset rs = {.n = 0};
    match_result res;

    (void)state;
    recs_for(&rs, 3, 1, 1, client);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(run(ev, NULL, &rs, &res), MATCH_PASS);
    assert_string_equal(res.detail, "");
    recs_clear(&rs);
    evidence_free(ev);
    testcert_free(client);
}

/* A digest record whose data differs only in its last octet does not match. */
static void test_ee_near_miss(void **state)
{
    testcert *client = testcert_self_signed("client", NAME);
    evidence *ev = ev_make(EV_CERT, client);
    recset rs = {.n = 0};
    match_result res;

    (void)state;
    recs_for(&rs, 3, 1, 1, client);
    rs.rec[0].data[rs.rec[0].len - 1] ^= 1;
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_FAIL);
    assert_int_equal(rs.state[0], MATCH_REC_NO_MATCH);
    recs_clear(&rs);
    evidence_free(ev);
    testcert_free(client);
}

/* ---- digest agility (RFC 7671 section 9) ---- */

static void test_agility(void **state)
{
    testcert *client = testcert_self_signed("client", NAME);
    testcert *other = testcert_self_signed("other", NAME);
    evidence *cert = ev_make(EV_CERT, client);
    evidence *fp256 = ev_make(EV_SPKI_SHA256, client);
    recset rs = {.n = 0};
    match_result res;

    (void)state;
    /* 3 1 1 matches, 3 1 2 does not: with the certificate SHA-512 rules -> fail. */
    recs_for(&rs, 3, 1, 1, client);
    recs_for(&rs, 3, 1, 2, other);
    assert_int_equal(run(cert, NAME, &rs, &res), MATCH_FAIL);
    assert_int_equal(rs.state[0], MATCH_REC_SUPERSEDED);
    assert_int_equal(rs.state[1], MATCH_REC_NO_MATCH);
    /* ... but with only a SHA-256 fingerprint, 3 1 2 cannot be checked and does not count. */
    assert_int_equal(run(fp256, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 0);
    assert_int_equal(rs.state[0], MATCH_REC_MATCH);
    assert_int_equal(rs.state[1], MATCH_REC_NO_EVIDENCE);
    recs_clear(&rs);

    /* The other way round: the SHA-512 record matches, the SHA-256 one is set aside. */
    recs_for(&rs, 3, 1, 1, other);
    recs_for(&rs, 3, 1, 2, client);
    assert_int_equal(run(cert, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 1);
    assert_int_equal(rs.state[0], MATCH_REC_SUPERSEDED);
    /* ... and with only the SHA-256 fingerprint, the SHA-256 record is all there is. */
    assert_int_equal(run(fp256, NAME, &rs, &res), MATCH_FAIL);
    assert_int_equal(rs.state[0], MATCH_REC_NO_MATCH);
    assert_int_equal(rs.state[1], MATCH_REC_NO_EVIDENCE);
    recs_clear(&rs);

    /* Full(0) always counts beside the strongest digest. */
    recs_for(&rs, 3, 1, 0, client);
    recs_for(&rs, 3, 1, 1, other);
    recs_for(&rs, 3, 1, 2, other);
    assert_int_equal(run(cert, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 0);
    assert_int_equal(rs.state[1], MATCH_REC_SUPERSEDED);
    assert_int_equal(rs.state[2], MATCH_REC_NO_MATCH);
    recs_clear(&rs);

    recs_for(&rs, 3, 1, 0, other);
    recs_for(&rs, 3, 1, 1, client);
    assert_int_equal(run(cert, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 1);
    assert_int_equal(rs.state[0], MATCH_REC_NO_MATCH);
    assert_int_equal(rs.state[1], MATCH_REC_MATCH);
    recs_clear(&rs);

    /* Agility is per selector: a 3 0 2 does not set aside a 3 1 1. */
    recs_for(&rs, 3, 0, 2, other);
    recs_for(&rs, 3, 1, 1, client);
    assert_int_equal(run(cert, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 1);
    assert_int_equal(rs.state[0], MATCH_REC_NO_MATCH);
    recs_clear(&rs);

    /* ... and per usage: a 2 1 2 (no chain here) does not set aside a 3 1 1. */
    recs_for(&rs, 2, 1, 2, other);
    recs_for(&rs, 3, 1, 1, client);
    assert_int_equal(run(cert, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 1);
    assert_int_equal(rs.state[0], MATCH_REC_NO_CHAIN);
    recs_clear(&rs);

    /* A malformed SHA-512 record does not count for agility either. */
    recs_for(&rs, 3, 1, 1, client);
    recs_raw(&rs, 3, 1, 2, (const unsigned char *)"short", 5);
    assert_int_equal(rs.rec[1].status, TLSA_BAD_DIGEST_LENGTH);
    assert_int_equal(run(cert, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 0);
    assert_int_equal(rs.state[1], MATCH_REC_UNUSABLE);
    recs_clear(&rs);

    evidence_free(fp256);
    evidence_free(cert);
    testcert_free(other);
    testcert_free(client);
}

/* ---- unusable and malformed records ---- */

static void test_unusable(void **state)
{
    testcert *client = testcert_self_signed("client", NAME);
    evidence *ev = ev_make(EV_CERT, client);
    static const unsigned char junk[] = {1, 2, 3, 4};
    recset rs = {.n = 0};
    match_result res;

    (void)state;
    /* PKIX usages, even when they would match: none usable. */
    recs_raw(&rs, 0, 0, 0, client->der, client->derlen);
    recs_raw(&rs, 1, 1, 0, client->spki, client->spkilen);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_NONE_USABLE);
    assert_int_equal(rs.state[0], MATCH_REC_UNUSABLE);
    assert_int_equal(rs.state[1], MATCH_REC_UNUSABLE);
    recs_clear(&rs);

    /* Unknown usage, selector, matching type: well-formed but unusable. */
    recs_raw(&rs, 4, 1, 1, junk, sizeof(junk));
    recs_raw(&rs, 3, 2, 1, junk, sizeof(junk));
    recs_raw(&rs, 3, 1, 3, junk, sizeof(junk));
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_NONE_USABLE);
    for (size_t i = 0; i < rs.n; i++)
        assert_int_equal(rs.state[i], MATCH_REC_UNUSABLE);
    recs_clear(&rs);

    /* Only malformed records. */
    recs_raw(&rs, 3, 1, 1, junk, sizeof(junk)); /* wrong digest length */
    recs_raw(&rs, 3, 0, 0, junk, sizeof(junk)); /* full data not a certificate */
    recs_raw(&rs, 3, 1, 1, NULL, 0);            /* no data */
    for (size_t i = 0; i < rs.n; i++)
        assert_true(tlsa_status_malformed(rs.rec[i].status));
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_ALL_MALFORMED);
    for (size_t i = 0; i < rs.n; i++)
        assert_int_equal(rs.state[i], MATCH_REC_UNUSABLE);

    /* ... plus one PKIX record: something well-formed exists. */
    recs_for(&rs, 1, 1, 1, client);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_NONE_USABLE);

    /* ... plus one matching DANE-EE record: it wins, named by index. */
    recs_for(&rs, 3, 1, 1, client);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 4);
    recs_clear(&rs);

    /* The empty set. */
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_ALL_MALFORMED);
    evidence_free(ev);
    testcert_free(client);
}

/* The matched index is the first matching record, not the first usable one. */
static void test_matched_index(void **state)
{
    testcert *client = testcert_self_signed("client", NAME);
    testcert *other = testcert_self_signed("other", NAME);
    evidence *ev = ev_make(EV_CERT, client);
    recset rs = {.n = 0};
    match_result res;

    (void)state;
    recs_for(&rs, 1, 1, 1, client); /* 0: PKIX, unusable */
    recs_for(&rs, 3, 1, 1, client); /* 1: superseded by the 3 1 2 records */
    recs_for(&rs, 3, 0, 1, other);  /* 2: no match */
    recs_for(&rs, 3, 1, 2, other);  /* 3: no match */
    recs_for(&rs, 3, 1, 2, client); /* 4: match */
    recs_for(&rs, 3, 0, 1, client); /* 5: match too */
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 4);
    assert_int_equal(rs.state[0], MATCH_REC_UNUSABLE);
    assert_int_equal(rs.state[1], MATCH_REC_SUPERSEDED);
    assert_int_equal(rs.state[2], MATCH_REC_NO_MATCH);
    assert_int_equal(rs.state[3], MATCH_REC_NO_MATCH);
    assert_int_equal(rs.state[4], MATCH_REC_MATCH);
    assert_int_equal(rs.state[5], MATCH_REC_MATCH);
    recs_clear(&rs);
    evidence_free(ev);
    testcert_free(other);
    testcert_free(client);
}

/* ---- DANE-TA ---- */

/* A CA, a leaf it issued for NAME, and an unrelated CA; shared by the DANE-TA tests. */
typedef struct ta_fixture {
    testcert *ca;
    testcert *leaf;
    testcert *stranger;
} ta_fixture;

static int ta_setup(void **state)
{
    ta_fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->ca = testcert_ca("Test CA");
    f->leaf = testcert_issued(f->ca, "client", NAME, false);
    f->stranger = testcert_ca("Unrelated CA");
    *state = f;
    return 0;
}

static int ta_teardown(void **state)
{
    ta_fixture *f = *state;

    testcert_free(f->stranger);
    testcert_free(f->leaf);
    testcert_free(f->ca);
    free(f);
    return 0;
}

static void test_ta_pass(void **state)
{
    ta_fixture *f = *state;
    evidence *ev = ev_chain(f->leaf, f->ca, NULL);
    static const int forms[][2] = {{0, 1}, {1, 1}, {0, 2}, {1, 2}, {0, 0}, {1, 0}};
    recset rs = {.n = 0};
    match_result res;

    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        recs_for(&rs, 2, forms[i][0], forms[i][1], f->ca);
        if (run(ev, NAME, &rs, &res) != MATCH_PASS)
            fail_msg("2 %d %d: %s (%s)", forms[i][0], forms[i][1], match_outcome_str(res.outcome),
                     res.detail);
        assert_int_equal(res.matched, 0);
        assert_string_equal(res.detail, "");
        recs_clear(&rs);
    }

    /* The claimed name is compared case-insensitively. */
    recs_for(&rs, 2, 1, 1, f->ca);
    assert_int_equal(run(ev, "MX.Example.ORG", &rs, &res), MATCH_PASS);
    recs_clear(&rs);
    evidence_free(ev);
}

static void test_ta_names(void **state)
{
    ta_fixture *f = *state;
    testcert *elsewhere = testcert_issued(f->ca, "client", "other.example.org", false);
    testcert *cn_only = testcert_issued(f->ca, NAME, NULL, false);
    evidence *ev;
    recset rs = {.n = 0};
    match_result res;
    const char *mismatch = X509_verify_cert_error_string(X509_V_ERR_HOSTNAME_MISMATCH);

    recs_for(&rs, 2, 0, 1, f->ca);

    /* Right chain, wrong claimed name. */
    ev = ev_chain(f->leaf, f->ca, NULL);
    assert_int_equal(run(ev, "other.example.org", &rs, &res), MATCH_FAIL);
    assert_int_equal(rs.state[0], MATCH_REC_NO_MATCH);
    assert_string_equal(res.detail, mismatch);
    /* No name at all: DANE-TA cannot match. */
    assert_int_equal(run(ev, NULL, &rs, &res), MATCH_FAIL);
    assert_true(strlen(res.detail) > 0);
    assert_int_equal(run(ev, "", &rs, &res), MATCH_FAIL);
    assert_true(strlen(res.detail) > 0);
    /* A name OpenSSL cannot take (longer than any DNS name): a status, not a crash. */
    {
        char longname[300];

        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        assert_int_equal(run(ev, longname, &rs, &res), MATCH_FAIL);
        assert_true(strlen(res.detail) > 0);
    }
    evidence_free(ev);

    /* A leaf from the right CA whose dNSName is another host. */
    ev = ev_chain(elsewhere, f->ca, NULL);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_FAIL);
    assert_string_equal(res.detail, mismatch);
    evidence_free(ev);

    /* The name only in the subject CN, no subjectAltName: not accepted. */
    ev = ev_chain(cn_only, f->ca, NULL);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_FAIL);
    assert_string_equal(res.detail, mismatch);
    evidence_free(ev);

    recs_clear(&rs);
    testcert_free(cn_only);
    testcert_free(elsewhere);
}

static void test_ta_no_chain(void **state)
{
    ta_fixture *f = *state;
    evidence *leaf_only = ev_chain(f->leaf, NULL, NULL);
    evidence *fp = ev_make(EV_SPKI_SHA256, f->leaf);
    recset rs = {.n = 0};
    match_result res;

    recs_for(&rs, 2, 0, 1, f->ca);
    recs_for(&rs, 2, 1, 0, f->ca);
    assert_int_equal(run(leaf_only, NAME, &rs, &res), MATCH_NONE_USABLE);
    assert_int_equal(rs.state[0], MATCH_REC_NO_CHAIN);
    assert_int_equal(rs.state[1], MATCH_REC_NO_CHAIN);
    assert_int_equal(run(fp, NAME, &rs, &res), MATCH_NONE_USABLE);
    assert_int_equal(rs.state[0], MATCH_REC_NO_CHAIN);
    recs_clear(&rs);
    evidence_free(fp);
    evidence_free(leaf_only);
}

static void test_ta_wrong_anchor(void **state)
{
    ta_fixture *f = *state;
    evidence *ev = ev_chain(f->leaf, f->ca, NULL);
    recset rs = {.n = 0};
    match_result res;

    /* A TA record for a CA that did not issue anything in the chain. */
    recs_for(&rs, 2, 0, 1, f->stranger);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_FAIL);
    assert_int_equal(rs.state[0], MATCH_REC_NO_MATCH);
    assert_true(strlen(res.detail) > 0);
    recs_clear(&rs);

    /* A TA record of the leaf itself: a trust anchor must be above the leaf. */
    recs_for(&rs, 2, 1, 1, f->leaf);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_FAIL);
    recs_clear(&rs);

    /* A chain that names the right CA but was not signed by it. */
    {
        testcert *forged = testcert_issued(f->stranger, "client", NAME, false);
        evidence *ev2 = ev_chain(forged, f->ca, NULL);

        recs_for(&rs, 2, 0, 1, f->ca);
        assert_int_equal(run(ev2, NAME, &rs, &res), MATCH_FAIL);
        recs_clear(&rs);
        evidence_free(ev2);
        testcert_free(forged);
    }
    evidence_free(ev);
}

/* Several records: the DANE-TA one that matched is named, the others did not match. */
static void test_ta_index(void **state)
{
    ta_fixture *f = *state;
    evidence *ev = ev_chain(f->leaf, f->ca, NULL);
    recset rs = {.n = 0};
    match_result res;

    recs_for(&rs, 3, 1, 1, f->stranger); /* 0: DANE-EE, no match */
    recs_for(&rs, 2, 0, 1, f->stranger); /* 1: DANE-TA, wrong anchor */
    recs_for(&rs, 2, 1, 1, f->ca);       /* 2: DANE-TA, right anchor */
    recs_for(&rs, 0, 0, 1, f->ca);       /* 3: PKIX-TA, unusable */
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 2);
    assert_int_equal(rs.state[0], MATCH_REC_NO_MATCH);
    assert_int_equal(rs.state[1], MATCH_REC_NO_MATCH);
    assert_int_equal(rs.state[2], MATCH_REC_MATCH);
    assert_int_equal(rs.state[3], MATCH_REC_UNUSABLE);
    assert_string_equal(res.detail, "");
    recs_clear(&rs);

    /* Agility applies to DANE-TA too: a stronger non-matching digest wins. */
    recs_for(&rs, 2, 1, 1, f->ca);
    recs_for(&rs, 2, 1, 2, f->stranger);
    assert_int_equal(run(ev, NAME, &rs, &res), MATCH_FAIL);
    assert_int_equal(rs.state[0], MATCH_REC_SUPERSEDED);
    assert_int_equal(rs.state[1], MATCH_REC_NO_MATCH);
    recs_clear(&rs);
    evidence_free(ev);
}

/* A longer chain: anchor at the intermediate, at the root, and a root key not in the chain. */
static void test_ta_intermediate(void **state)
{
    ta_fixture *f = *state;
    testcert *mid = testcert_issued(f->ca, "Intermediate", NULL, true);
    testcert *leaf = testcert_issued(mid, "client", NAME, false);
    evidence *full = ev_chain(leaf, mid, f->ca);
    evidence *partial = ev_chain(leaf, mid, NULL);
    recset rs = {.n = 0};
    match_result res;

    recs_for(&rs, 2, 0, 1, mid);
    assert_int_equal(run(full, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(run(partial, NAME, &rs, &res), MATCH_PASS);
    recs_clear(&rs);

    recs_for(&rs, 2, 0, 2, f->ca);
    assert_int_equal(run(full, NAME, &rs, &res), MATCH_PASS);
    recs_clear(&rs);

    /* The root is not in the chain; a 2 1 0 record carries its key. */
    recs_for(&rs, 2, 1, 0, f->ca);
    assert_int_equal(run(partial, NAME, &rs, &res), MATCH_PASS);
    assert_int_equal(res.matched, 0);
    recs_clear(&rs);

    evidence_free(partial);
    evidence_free(full);
    testcert_free(leaf);
    testcert_free(mid);
}

/* ---- strings ---- */

static void test_strings(void **state)
{
    (void)state;
    for (int s = MATCH_REC_UNUSABLE; s <= MATCH_REC_MATCH; s++) {
        assert_true(strlen(match_rec_state_str((match_rec_state)s)) > 0);
        for (int t = MATCH_REC_UNUSABLE; t < s; t++)
            assert_string_not_equal(match_rec_state_str((match_rec_state)s),
                                    match_rec_state_str((match_rec_state)t));
    }
    for (int o = MATCH_PASS; o <= MATCH_ALL_MALFORMED; o++) {
        assert_true(strlen(match_outcome_str((match_outcome)o)) > 0);
        for (int t = MATCH_PASS; t < o; t++)
            assert_string_not_equal(match_outcome_str((match_outcome)o),
                                    match_outcome_str((match_outcome)t));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ee_forms),
        cmocka_unit_test(test_ee_ignores_name),
        cmocka_unit_test(test_ee_near_miss),
        cmocka_unit_test(test_agility),
        cmocka_unit_test(test_unusable),
        cmocka_unit_test(test_matched_index),
        cmocka_unit_test_setup_teardown(test_ta_pass, ta_setup, ta_teardown),
        cmocka_unit_test_setup_teardown(test_ta_names, ta_setup, ta_teardown),
        cmocka_unit_test_setup_teardown(test_ta_no_chain, ta_setup, ta_teardown),
        cmocka_unit_test_setup_teardown(test_ta_wrong_anchor, ta_setup, ta_teardown),
        cmocka_unit_test_setup_teardown(test_ta_index, ta_setup, ta_teardown),
        cmocka_unit_test_setup_teardown(test_ta_intermediate, ta_setup, ta_teardown),
        cmocka_unit_test(test_strings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
