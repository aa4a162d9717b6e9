/*
 * test_evidence.c - unit tests for evidence.c: certificate and key input in
 * PEM and DER, fingerprints in Postfix and bare form, conflicts, and what
 * evidence_get() answers for every (selector, matching type) in each form.
 * Certificates and keys are made fresh by testcert.c; expected digests are
 * computed here directly with OpenSSL, never copied from evidence.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/evidence.h"
#include "t/unit/testcert.h"

/* A growable byte buffer for building test input. */
typedef struct tbuf {
    unsigned char *data;
    size_t len;
} tbuf;

static void tbuf_add(tbuf *b, const void *data, size_t len)
{
    b->data = realloc(b->data, b->len + len + 1);
    assert_non_null(b->data);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static void tbuf_str(tbuf *b, const char *s)
{
    tbuf_add(b, s, strlen(s));
}

/* tbuf_bio - append everything written to a memory BIO, then free it. */
static void tbuf_bio(tbuf *b, BIO *bio)
{
    char *mem;
    long n = BIO_get_mem_data(bio, &mem);

    assert_true(n > 0);
    tbuf_add(b, mem, (size_t)n);
    BIO_free(bio);
}

static void tbuf_pem_cert(tbuf *b, const testcert *tc)
{
    BIO *bio = BIO_new(BIO_s_mem());

    assert_int_equal(PEM_write_bio_X509(bio, tc->cert), 1);
    tbuf_bio(b, bio);
}

static void tbuf_pem_pubkey(tbuf *b, const testcert *tc)
{
    BIO *bio = BIO_new(BIO_s_mem());

    assert_int_equal(PEM_write_bio_PUBKEY(bio, tc->key), 1);
    tbuf_bio(b, bio);
}

static void tbuf_free(tbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* sha - compute a digest straight from OpenSSL (the test's own reference). */
static size_t sha(digest_alg alg, const unsigned char *in, size_t len, unsigned char out[64])
{
    unsigned int n = 0;

    assert_int_equal(
        EVP_Digest(in, len, out, &n, alg == DIGEST_SHA256 ? EVP_sha256() : EVP_sha512(), NULL), 1);
    return n;
}

/* fingerprint - text of a digest, colon-separated upper case (Postfix) or bare lower case. */
static void fingerprint(const unsigned char *d, size_t len, bool colon, char *out)
{
    out[0] = '\0';
    for (size_t i = 0; i < len; i++)
        sprintf(out + strlen(out), colon ? "%s%02X" : "%s%02x", (colon && i) ? ":" : "", d[i]);
}

/* fp_of - fingerprint text of alg over an object. */
static void fp_of(digest_alg alg, const unsigned char *obj, size_t len, bool colon, char *out)
{
    unsigned char d[64];

    fingerprint(d, sha(alg, obj, len, d), colon, out);
}

/* assert_get - evidence_get(sel, mtype) answers exactly the expected bytes. */
static void assert_get(const evidence *ev, int sel, int mtype, const unsigned char *want,
                       size_t wantlen)
{
    const unsigned char *data = NULL;
    size_t len = 0;

    assert_true(evidence_get(ev, sel, mtype, &data, &len));
    assert_int_equal(len, wantlen);
    assert_memory_equal(data, want, wantlen);
}

static void assert_no_get(const evidence *ev, int sel, int mtype)
{
    const unsigned char *data = NULL;
    size_t len = 0;

    assert_false(evidence_get(ev, sel, mtype, &data, &len));
}

/* assert_object - evidence knows obj for selector sel: its bytes and both digests. */
static void assert_object(const evidence *ev, int sel, const unsigned char *obj, size_t len)
{
    unsigned char d[64];
    size_t n;

    assert_get(ev, sel, 0, obj, len);
    n = sha(DIGEST_SHA256, obj, len, d);
    assert_get(ev, sel, 1, d, n);
    n = sha(DIGEST_SHA512, obj, len, d);
    assert_get(ev, sel, 2, d, n);
}

static void assert_selector_unknown(const evidence *ev, int sel)
{
    for (int mtype = 0; mtype <= 2; mtype++)
        assert_no_get(ev, sel, mtype);
}

/* ---- certificates ---- */

static void test_pem_single(void **state)
{
    testcert *tc = testcert_self_signed("client", "mx.example.org");
    evidence *ev = evidence_new();
    tbuf pem = {0};

    (void)state;
    assert_true(evidence_is_empty(ev));
    assert_null(evidence_leaf(ev));
    tbuf_pem_cert(&pem, tc);
    assert_int_equal(evidence_add_certs(ev, pem.data, pem.len), EVIDENCE_OK);
    assert_false(evidence_is_empty(ev));
    assert_non_null(evidence_leaf(ev));
    assert_int_equal(X509_cmp(evidence_leaf(ev), tc->cert), 0);
    assert_non_null(evidence_chain(ev));
    assert_int_equal(sk_X509_num(evidence_chain(ev)), 0);
    assert_false(evidence_has_chain(ev));
    assert_object(ev, 0, tc->der, tc->derlen);
    assert_object(ev, 1, tc->spki, tc->spkilen);
    tbuf_free(&pem);
    evidence_free(ev);
    testcert_free(tc);
}

static void test_pem_multi(void **state)
{
    testcert *ca = testcert_ca("Test CA");
    testcert *mid = testcert_issued(ca, "Intermediate", NULL, true);
    testcert *leaf = testcert_issued(mid, "client", "mx.example.org", false);
    evidence *ev = evidence_new();
    tbuf pem = {0};

    (void)state;
    /* Text and other PEM blocks between certificates are skipped. */
    tbuf_str(&pem, "subject=CN = client\n");
    tbuf_pem_cert(&pem, leaf);
    tbuf_str(&pem, "issuer=CN = Intermediate\n\n");
    tbuf_pem_pubkey(&pem, ca);
    tbuf_pem_cert(&pem, mid);
    tbuf_pem_cert(&pem, ca);
    tbuf_str(&pem, "trailing text\n");
    assert_int_equal(evidence_add_certs(ev, pem.data, pem.len), EVIDENCE_OK);
    assert_int_equal(X509_cmp(evidence_leaf(ev), leaf->cert), 0);
    assert_true(evidence_has_chain(ev));
    assert_int_equal(sk_X509_num(evidence_chain(ev)), 2);
    assert_int_equal(X509_cmp(sk_X509_value(evidence_chain(ev), 0), mid->cert), 0);
    assert_int_equal(X509_cmp(sk_X509_value(evidence_chain(ev), 1), ca->cert), 0);
    /* Digests are of the leaf, not of anything after it. */
    assert_object(ev, 0, leaf->der, leaf->derlen);
    assert_object(ev, 1, leaf->spki, leaf->spkilen);
    tbuf_free(&pem);
    evidence_free(ev);
    testcert_free(leaf);
    testcert_free(mid);
    testcert_free(ca);
}

static void test_der(void **state)
{
    testcert *ca = testcert_ca("Test CA");
    testcert *leaf = testcert_issued(ca, "client", "mx.example.org", false);
    evidence *ev = evidence_new();

    (void)state;
    assert_int_equal(evidence_add_certs(ev, leaf->der, leaf->derlen), EVIDENCE_OK);
    assert_false(evidence_has_chain(ev));
    /* evidence_add_der after the leaf extends the chain. */
    assert_int_equal(evidence_add_der(ev, ca->der, ca->derlen), EVIDENCE_OK);
    assert_true(evidence_has_chain(ev));
    assert_int_equal(X509_cmp(evidence_leaf(ev), leaf->cert), 0);
    assert_int_equal(X509_cmp(sk_X509_value(evidence_chain(ev), 0), ca->cert), 0);
    assert_object(ev, 0, leaf->der, leaf->derlen);
    evidence_free(ev);
    testcert_free(leaf);
    testcert_free(ca);
}

/* One refused certificate input; the evidence must stay empty. */
static void assert_certs_refused(const unsigned char *buf, size_t len, evidence_status want)
{
    evidence *ev = evidence_new();

    assert_int_equal(evidence_add_certs(ev, buf, len), want);
    assert_true(evidence_is_empty(ev));
    assert_null(evidence_leaf(ev));
    evidence_free(ev);
}

static void test_bad_certs(void **state)
{
    testcert *tc = testcert_self_signed("client", NULL);
    static const char garbage[] = "this is not a certificate\n";
    static const unsigned char seq_garbage[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    const char *broken_pem =
        "-----BEGIN CERTIFICATE-----\nMIIB!!!notbase64\n-----END CERTIFICATE-----\n";
    const char *empty_pem = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    const char *junk_pem =
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    tbuf b = {0};

    (void)state;
    assert_certs_refused((const unsigned char *)"", 0, EVIDENCE_EMPTY);
    assert_certs_refused((const unsigned char *)garbage, strlen(garbage), EVIDENCE_BAD_CERT);
    assert_certs_refused(seq_garbage, sizeof(seq_garbage), EVIDENCE_BAD_CERT);
    assert_certs_refused((const unsigned char *)broken_pem, strlen(broken_pem), EVIDENCE_BAD_CERT);
    assert_certs_refused((const unsigned char *)empty_pem, strlen(empty_pem), EVIDENCE_BAD_CERT);
    assert_certs_refused((const unsigned char *)junk_pem, strlen(junk_pem), EVIDENCE_BAD_CERT);

    /* DER must use every byte: one trailing byte is refused. */
    tbuf_add(&b, tc->der, tc->derlen);
    tbuf_add(&b, "\0", 1);
    assert_certs_refused(b.data, b.len, EVIDENCE_BAD_CERT);
    tbuf_free(&b);
    /* A truncated DER certificate. */
    assert_certs_refused(tc->der, tc->derlen - 1, EVIDENCE_BAD_CERT);

    /* PEM with no certificate in it, only a public key. */
    tbuf_pem_pubkey(&b, tc);
    assert_certs_refused(b.data, b.len, EVIDENCE_BAD_CERT);
    tbuf_free(&b);

    /* A good certificate followed by a broken one: nothing is taken. */
    tbuf_pem_cert(&b, tc);
    tbuf_str(&b, broken_pem);
    assert_certs_refused(b.data, b.len, EVIDENCE_BAD_CERT);
    tbuf_free(&b);

    /* evidence_add_der with an empty buffer. */
    {
        evidence *ev = evidence_new();

        assert_int_equal(evidence_add_der(ev, tc->der, 0), EVIDENCE_EMPTY);
        assert_true(evidence_is_empty(ev));
        evidence_free(ev);
    }
    testcert_free(tc);
}

static void test_too_many(void **state)
{
    testcert *ca = testcert_ca("Test CA");
    testcert *leaf = testcert_issued(ca, "client", "mx.example.org", false);
    evidence *ev;
    unsigned char *big;
    tbuf pem = {0};

    (void)state;
    /* EVIDENCE_CHAIN_MAX certificates are fine, one more is not. */
    tbuf_pem_cert(&pem, leaf);
    for (int i = 1; i < EVIDENCE_CHAIN_MAX; i++)
        tbuf_pem_cert(&pem, ca);
    ev = evidence_new();
    assert_int_equal(evidence_add_certs(ev, pem.data, pem.len), EVIDENCE_OK);
    assert_int_equal(sk_X509_num(evidence_chain(ev)), EVIDENCE_CHAIN_MAX - 1);
    /* ... and the full evidence takes no more, in either way of adding. */
    assert_int_equal(evidence_add_der(ev, ca->der, ca->derlen), EVIDENCE_TOO_MANY);
    assert_int_equal(evidence_add_certs(ev, ca->der, ca->derlen), EVIDENCE_TOO_MANY);
    assert_int_equal(sk_X509_num(evidence_chain(ev)), EVIDENCE_CHAIN_MAX - 1);
    evidence_free(ev);

    tbuf_pem_cert(&pem, ca);
    assert_certs_refused(pem.data, pem.len, EVIDENCE_TOO_MANY);
    tbuf_free(&pem);

    /* A DER "certificate" larger than EVIDENCE_CERT_MAX is refused before parsing. */
    big = calloc(1, EVIDENCE_CERT_MAX + 1);
    assert_non_null(big);
    big[0] = 0x30;
    assert_certs_refused(big, EVIDENCE_CERT_MAX + 1, EVIDENCE_TOO_MANY);
    free(big);

    testcert_free(leaf);
    testcert_free(ca);
}

/* ---- public keys ---- */

static void test_pubkey_forms(void **state)
{
    testcert *tc = testcert_self_signed("client", NULL);
    evidence *ev;
    tbuf b = {0};
    BIO *bio;

    (void)state;
    /* PEM PUBLIC KEY, after some text. */
    tbuf_str(&b, "a comment line\n");
    tbuf_pem_pubkey(&b, tc);
    ev = evidence_new();
    assert_int_equal(evidence_add_pubkey(ev, b.data, b.len), EVIDENCE_OK);
    assert_null(evidence_leaf(ev));
    assert_false(evidence_has_chain(ev));
    assert_false(evidence_is_empty(ev));
    assert_object(ev, 1, tc->spki, tc->spkilen);
    assert_selector_unknown(ev, 0);
    evidence_free(ev);
    tbuf_free(&b);

    /* DER SubjectPublicKeyInfo. */
    ev = evidence_new();
    assert_int_equal(evidence_add_pubkey(ev, tc->spki, tc->spkilen), EVIDENCE_OK);
    assert_object(ev, 1, tc->spki, tc->spkilen);
    assert_selector_unknown(ev, 0);
    evidence_free(ev);

    /* An unencrypted PEM private key gives its public key. */
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, tc->key, NULL, NULL, 0, NULL, NULL), 1);
    tbuf_bio(&b, bio);
    ev = evidence_new();
    assert_int_equal(evidence_add_pubkey(ev, b.data, b.len), EVIDENCE_OK);
    assert_object(ev, 1, tc->spki, tc->spkilen);
    evidence_free(ev);
    tbuf_free(&b);

    testcert_free(tc);
}

static void test_pubkey_bad(void **state)
{
    testcert *tc = testcert_self_signed("client", NULL);
    static const char garbage[] = "no key here";
    const char *broken = "-----BEGIN PUBLIC KEY-----\naGVsbG8gd29ybGQ=\n-----END PUBLIC KEY-----\n";
    evidence *ev = evidence_new();
    tbuf b = {0};
    BIO *bio;

    (void)state;
    assert_int_equal(evidence_add_pubkey(ev, (const unsigned char *)"", 0), EVIDENCE_EMPTY);
    assert_int_equal(evidence_add_pubkey(ev, (const unsigned char *)garbage, strlen(garbage)),
                     EVIDENCE_BAD_KEY);
    assert_int_equal(evidence_add_pubkey(ev, (const unsigned char *)broken, strlen(broken)),
                     EVIDENCE_BAD_KEY);
    /* A certificate is not a public key. */
    assert_int_equal(evidence_add_pubkey(ev, tc->der, tc->derlen), EVIDENCE_BAD_KEY);
    tbuf_pem_cert(&b, tc);
    assert_int_equal(evidence_add_pubkey(ev, b.data, b.len), EVIDENCE_BAD_KEY);
    tbuf_free(&b);
    /* DER SPKI with a trailing byte. */
    tbuf_add(&b, tc->spki, tc->spkilen);
    tbuf_add(&b, "\0", 1);
    assert_int_equal(evidence_add_pubkey(ev, b.data, b.len), EVIDENCE_BAD_KEY);
    tbuf_free(&b);
    /* An encrypted private key is refused without asking for a passphrase. */
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, tc->key, EVP_aes_128_cbc(),
                                              (unsigned char *)"secret", 6, NULL, NULL),
                     1);
    tbuf_bio(&b, bio);
    assert_int_equal(evidence_add_pubkey(ev, b.data, b.len), EVIDENCE_BAD_KEY);
    tbuf_free(&b);

    assert_true(evidence_is_empty(ev));
    evidence_free(ev);
    testcert_free(tc);
}

/* ---- fingerprints ---- */

struct fp_case {
    const char *name;
    digest_alg alg;
    const char *text;
    evidence_status status;
    size_t len; /* decoded length on success */
};

static const struct fp_case fp_cases[] = {
    {"sha256 colon upper", DIGEST_SHA256,
     "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:"
     "FF",
     EVIDENCE_OK, 32},
    {"sha256 bare lower", DIGEST_SHA256,
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", EVIDENCE_OK, 32},
    {"sha256 surrounding space", DIGEST_SHA256,
     " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", EVIDENCE_OK, 32},
    {"sha512 bare", DIGEST_SHA512,
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
     EVIDENCE_OK, 64},
    {"sha256 length under sha512", DIGEST_SHA512,
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", EVIDENCE_BAD_LENGTH, 0},
    {"sha512 length under sha256", DIGEST_SHA256,
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
     EVIDENCE_BAD_LENGTH, 0},
    {"31 octets", DIGEST_SHA256, "00112233445566778899aabbccddeeff00112233445566778899aabbccddee",
     EVIDENCE_BAD_LENGTH, 0},
    {"65 octets", DIGEST_SHA512,
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00",
     EVIDENCE_BAD_LENGTH, 0},
    {"md5 length", DIGEST_SHA256, "00112233445566778899aabbccddeeff", EVIDENCE_WEAK_DIGEST, 0},
    {"md5 colon", DIGEST_SHA512, "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
     EVIDENCE_WEAK_DIGEST, 0},
    {"sha1 length", DIGEST_SHA256, "00112233445566778899aabbccddeeff00112233", EVIDENCE_WEAK_DIGEST,
     0},
    {"bad char", DIGEST_SHA256, "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
     EVIDENCE_BAD_HEX, 0},
    {"odd digits", DIGEST_SHA256, "0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
     EVIDENCE_BAD_HEX, 0},
    {"inner space", DIGEST_SHA256,
     "00112233445566778899aabbccddeeff 00112233445566778899aabbccddeeff", EVIDENCE_BAD_HEX, 0},
    {"doubled colon", DIGEST_SHA256, "00::11", EVIDENCE_BAD_HEX, 0},
    {"empty", DIGEST_SHA256, "", EVIDENCE_EMPTY, 0},
    {"blank", DIGEST_SHA256, " \t\n", EVIDENCE_EMPTY, 0},
    {"unknown alg", (digest_alg)3,
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", EVIDENCE_UNKNOWN_ALG, 0},
};

static void test_parse_fingerprint(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fp_cases) / sizeof(fp_cases[0]); i++) {
        const struct fp_case *c = &fp_cases[i];
        unsigned char out[DIGEST_MAX];
        size_t len = 99;
        evidence_status got = evidence_parse_fingerprint(c->text, c->alg, out, &len);

        if (got != c->status)
            fail_msg("%s: got %s, want %s", c->name, evidence_status_str(got),
                     evidence_status_str(c->status));
        assert_int_equal(len, c->len);
        if (c->status == EVIDENCE_OK) {
            assert_int_equal(out[0], 0x00);
            assert_int_equal(out[1], 0x11);
            assert_int_equal(out[15], 0xff);
            assert_int_equal(out[len - 1], 0xff);
        }
    }
}

/* Digest evidence: the colon and bare forms of one value are the same evidence. */
static void test_add_digest(void **state)
{
    testcert *tc = testcert_self_signed("client", NULL);
    testcert *other = testcert_self_signed("other", NULL);
    char colon[200], bare[200], other_fp[200];
    unsigned char d[64];
    size_t n;
    evidence *ev = evidence_new();

    (void)state;
    fp_of(DIGEST_SHA256, tc->spki, tc->spkilen, true, colon);
    fp_of(DIGEST_SHA256, tc->spki, tc->spkilen, false, bare);
    fp_of(DIGEST_SHA256, other->spki, other->spkilen, true, other_fp);

    assert_int_equal(evidence_add_digest(ev, 1, DIGEST_SHA256, colon), EVIDENCE_OK);
    assert_false(evidence_is_empty(ev));
    assert_null(evidence_leaf(ev));
    n = sha(DIGEST_SHA256, tc->spki, tc->spkilen, d);
    assert_get(ev, 1, 1, d, n);
    assert_no_get(ev, 1, 0);
    assert_no_get(ev, 1, 2);
    assert_selector_unknown(ev, 0);
    /* The same value again, in the other form, is fine; a different one conflicts. */
    assert_int_equal(evidence_add_digest(ev, 1, DIGEST_SHA256, bare), EVIDENCE_OK);
    assert_int_equal(evidence_add_digest(ev, 1, DIGEST_SHA256, other_fp), EVIDENCE_CONFLICT);
    assert_get(ev, 1, 1, d, n);
    /* A refused fingerprint changes nothing. */
    assert_int_equal(evidence_add_digest(ev, 0, DIGEST_SHA256, "zz"), EVIDENCE_BAD_HEX);
    assert_selector_unknown(ev, 0);

    /* A certificate digest is independent of the SPKI digest. */
    fp_of(DIGEST_SHA512, tc->der, tc->derlen, false, bare);
    assert_int_equal(evidence_add_digest(ev, 0, DIGEST_SHA512, bare), EVIDENCE_OK);
    n = sha(DIGEST_SHA512, tc->der, tc->derlen, d);
    assert_get(ev, 0, 2, d, n);
    assert_no_get(ev, 0, 1);
    assert_no_get(ev, 0, 0);

    /* The matching certificate joins the digests; then every slot is known. */
    assert_int_equal(evidence_add_certs(ev, tc->der, tc->derlen), EVIDENCE_OK);
    assert_object(ev, 0, tc->der, tc->derlen);
    assert_object(ev, 1, tc->spki, tc->spkilen);
    evidence_free(ev);
    testcert_free(other);
    testcert_free(tc);
}

static void test_conflicts(void **state)
{
    testcert *a = testcert_self_signed("a", NULL);
    testcert *b = testcert_self_signed("b", NULL);
    char fp[200];
    evidence *ev;

    (void)state;
    /* A fingerprint of another key, then the certificate. */
    ev = evidence_new();
    fp_of(DIGEST_SHA256, b->spki, b->spkilen, true, fp);
    assert_int_equal(evidence_add_digest(ev, 1, DIGEST_SHA256, fp), EVIDENCE_OK);
    assert_int_equal(evidence_add_certs(ev, a->der, a->derlen), EVIDENCE_CONFLICT);
    assert_null(evidence_leaf(ev));
    assert_no_get(ev, 0, 0);
    evidence_free(ev);

    /* A certificate fingerprint of another certificate, then the certificate. */
    ev = evidence_new();
    fp_of(DIGEST_SHA512, b->der, b->derlen, false, fp);
    assert_int_equal(evidence_add_digest(ev, 0, DIGEST_SHA512, fp), EVIDENCE_OK);
    assert_int_equal(evidence_add_der(ev, a->der, a->derlen), EVIDENCE_CONFLICT);
    assert_null(evidence_leaf(ev));
    evidence_free(ev);

    /* The certificate, then fingerprints: its own are fine, others conflict. */
    ev = evidence_new();
    assert_int_equal(evidence_add_der(ev, a->der, a->derlen), EVIDENCE_OK);
    fp_of(DIGEST_SHA256, a->spki, a->spkilen, true, fp);
    assert_int_equal(evidence_add_digest(ev, 1, DIGEST_SHA256, fp), EVIDENCE_OK);
    fp_of(DIGEST_SHA256, b->spki, b->spkilen, true, fp);
    assert_int_equal(evidence_add_digest(ev, 1, DIGEST_SHA256, fp), EVIDENCE_CONFLICT);
    fp_of(DIGEST_SHA512, b->der, b->derlen, true, fp);
    assert_int_equal(evidence_add_digest(ev, 0, DIGEST_SHA512, fp), EVIDENCE_CONFLICT);
    /* Its own key is fine, another key conflicts. */
    assert_int_equal(evidence_add_pubkey(ev, a->spki, a->spkilen), EVIDENCE_OK);
    assert_int_equal(evidence_add_pubkey(ev, b->spki, b->spkilen), EVIDENCE_CONFLICT);
    assert_object(ev, 1, a->spki, a->spkilen);
    evidence_free(ev);

    /* A key, then a certificate: only the certificate with that key is accepted. */
    ev = evidence_new();
    assert_int_equal(evidence_add_pubkey(ev, a->spki, a->spkilen), EVIDENCE_OK);
    assert_int_equal(evidence_add_pubkey(ev, b->spki, b->spkilen), EVIDENCE_CONFLICT);
    assert_int_equal(evidence_add_der(ev, b->der, b->derlen), EVIDENCE_CONFLICT);
    assert_null(evidence_leaf(ev));
    assert_int_equal(evidence_add_der(ev, a->der, a->derlen), EVIDENCE_OK);
    assert_int_equal(X509_cmp(evidence_leaf(ev), a->cert), 0);
    assert_object(ev, 0, a->der, a->derlen);
    evidence_free(ev);

    testcert_free(b);
    testcert_free(a);
}

/* evidence_get refuses what no TLSA record can ask for. */
static void test_get_out_of_range(void **state)
{
    testcert *tc = testcert_self_signed("client", NULL);
    evidence *ev = evidence_new();

    (void)state;
    assert_int_equal(evidence_add_der(ev, tc->der, tc->derlen), EVIDENCE_OK);
    assert_no_get(ev, 2, 0);
    assert_no_get(ev, -1, 1);
    assert_no_get(ev, 0, 3);
    assert_no_get(ev, 1, 255);
    assert_no_get(ev, 1, -1);
    evidence_free(ev);
    testcert_free(tc);
}

static void test_spki_sha256_hex(void **state)
{
    testcert *tc = testcert_self_signed("client", NULL);
    char want[65], got[65], colon[200];
    evidence *ev;

    (void)state;
    fp_of(DIGEST_SHA256, tc->spki, tc->spkilen, false, want);

    /* From a certificate, a key, and an upper-case colon fingerprint. */
    ev = evidence_new();
    assert_false(evidence_spki_sha256_hex(ev, got));
    assert_int_equal(evidence_add_der(ev, tc->der, tc->derlen), EVIDENCE_OK);
    assert_true(evidence_spki_sha256_hex(ev, got));
    assert_string_equal(got, want);
    evidence_free(ev);

    ev = evidence_new();
    assert_int_equal(evidence_add_pubkey(ev, tc->spki, tc->spkilen), EVIDENCE_OK);
    assert_true(evidence_spki_sha256_hex(ev, got));
    assert_string_equal(got, want);
    evidence_free(ev);

    ev = evidence_new();
    fp_of(DIGEST_SHA256, tc->spki, tc->spkilen, true, colon);
    assert_int_equal(evidence_add_digest(ev, 1, DIGEST_SHA256, colon), EVIDENCE_OK);
    assert_true(evidence_spki_sha256_hex(ev, got));
    assert_string_equal(got, want);
    evidence_free(ev);

    /* Not from a certificate fingerprint or an SPKI SHA-512 fingerprint alone. */
    ev = evidence_new();
    fp_of(DIGEST_SHA256, tc->der, tc->derlen, true, colon);
    assert_int_equal(evidence_add_digest(ev, 0, DIGEST_SHA256, colon), EVIDENCE_OK);
    fp_of(DIGEST_SHA512, tc->spki, tc->spkilen, true, colon);
    assert_int_equal(evidence_add_digest(ev, 1, DIGEST_SHA512, colon), EVIDENCE_OK);
    assert_false(evidence_spki_sha256_hex(ev, got));
    evidence_free(ev);

    testcert_free(tc);
}

static void test_digest_helpers(void **state)
{
    static const unsigned char msg[] = "abc";
    unsigned char got[DIGEST_MAX], want[64];
    digest_alg alg;
    size_t n;

    (void)state;
    assert_true(evidence_digest_alg("sha256", &alg));
    assert_int_equal(alg, DIGEST_SHA256);
    assert_true(evidence_digest_alg("SHA512", &alg));
    assert_int_equal(alg, DIGEST_SHA512);
    assert_true(evidence_digest_alg("Sha256", &alg));
    assert_int_equal(alg, DIGEST_SHA256);
    assert_false(evidence_digest_alg("sha1", &alg));
    assert_false(evidence_digest_alg("md5", &alg));
    assert_false(evidence_digest_alg("sha-256", &alg));
    assert_false(evidence_digest_alg("", &alg));

    assert_int_equal(evidence_digest_len(DIGEST_SHA256), 32);
    assert_int_equal(evidence_digest_len(DIGEST_SHA512), 64);
    assert_int_equal(evidence_digest_len((digest_alg)0), 0);

    n = evidence_digest(DIGEST_SHA256, msg, 3, got);
    assert_int_equal(n, sha(DIGEST_SHA256, msg, 3, want));
    assert_memory_equal(got, want, n);
    n = evidence_digest(DIGEST_SHA512, msg, 3, got);
    assert_int_equal(n, sha(DIGEST_SHA512, msg, 3, want));
    assert_memory_equal(got, want, n);
    assert_int_equal(evidence_digest((digest_alg)7, msg, 3, got), 0);
}

static void test_status_str(void **state)
{
    (void)state;
    for (int s = EVIDENCE_OK; s <= EVIDENCE_CONFLICT; s++) {
        const char *text = evidence_status_str((evidence_status)s);

        assert_non_null(text);
        assert_true(strlen(text) > 0);
        for (int t = EVIDENCE_OK; t < s; t++)
            assert_string_not_equal(text, evidence_status_str((evidence_status)t));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pem_single),
        cmocka_unit_test(test_pem_multi),
        cmocka_unit_test(test_der),
        cmocka_unit_test(test_bad_certs),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_pubkey_forms),
        cmocka_unit_test(test_pubkey_bad),
        cmocka_unit_test(test_parse_fingerprint),
        cmocka_unit_test(test_add_digest),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_get_out_of_range),
        cmocka_unit_test(test_spki_sha256_hex),
        cmocka_unit_test(test_digest_helpers),
        cmocka_unit_test(test_status_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
