/*
 * testcert.c - certificates and keys made in memory for unit tests.
 *
 * Usage:
 *	testcert *ca = testcert_ca("Test CA");
 *	testcert *leaf = testcert_issued(ca, "client", "mx.example.org", false);
 *	... use leaf->cert, leaf->der/derlen, leaf->spki/spkilen ...
 *	testcert_free(leaf); testcert_free(ca);
 *
 * Every call makes a fresh EC P-256 key, so no key material is ever
 * committed to the repository.  Certificates are X.509 v3, valid from an hour
 * ago for a day, with subject/authority key identifiers so that OpenSSL
 * builds chains the way it would for real ones.  This is test code: any
 * failure aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "testcert.h"

#define TESTCERT_CHECK(expr)                                                                       \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: testcert: %s failed\n", __FILE__, __LINE__, #expr);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* testcert_key - a fresh EC P-256 key. */
static EVP_PKEY *testcert_key(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");

    TESTCERT_CHECK(key != NULL);
    return key;
}

/* testcert_add_ext - add one extension in openssl.cnf syntax. */
static void testcert_add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

    TESTCERT_CHECK(ext != NULL);
    TESTCERT_CHECK(X509_add_ext(cert, ext, -1) == 1);
    X509_EXTENSION_free(ext);
}

/* testcert_fill_der - cache the DER encodings of the certificate and its SPKI. */
static void testcert_fill_der(testcert *tc)
{
    int len;

    tc->der = NULL;
    len = i2d_X509(tc->cert, &tc->der);
    TESTCERT_CHECK(len > 0);
    tc->derlen = (size_t)len;

    tc->spki = NULL;
    len = i2d_PUBKEY(tc->key, &tc->spki);
    TESTCERT_CHECK(len > 0);
    tc->spkilen = (size_t)len;
}

/*
 * testcert_make - the common work: new key, certificate named cn, signed by
 * issuer (or self-signed when issuer is NULL).
 */
static testcert *testcert_make(const testcert *issuer, const char *cn, const char *dnsname, bool ca)
{
    testcert *tc = calloc(1, sizeof(*tc));
    X509_NAME *name;
    BIGNUM *bn;
    X509V3_CTX ctx;
    X509 *signer_cert;
    EVP_PKEY *signer_key;
    char san[300];

    TESTCERT_CHECK(tc != NULL);
    TESTCERT_CHECK(cn != NULL);
    tc->key = testcert_key();
    tc->cert = X509_new();
    TESTCERT_CHECK(tc->cert != NULL);
    TESTCERT_CHECK(X509_set_version(tc->cert, X509_VERSION_3) == 1);

    /* A random positive 64-bit serial number. */
    bn = BN_new();
    TESTCERT_CHECK(bn != NULL);
    TESTCERT_CHECK(BN_rand(bn, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1);
    TESTCERT_CHECK(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(tc->cert)) != NULL);
    BN_free(bn);

    TESTCERT_CHECK(X509_gmtime_adj(X509_getm_notBefore(tc->cert), -3600) != NULL);
    TESTCERT_CHECK(X509_gmtime_adj(X509_getm_notAfter(tc->cert), 86400) != NULL);
    TESTCERT_CHECK(X509_set_pubkey(tc->cert, tc->key) == 1);

    name = X509_get_subject_name(tc->cert);
    TESTCERT_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                              -1, -1, 0) == 1);
    signer_cert = issuer ? issuer->cert : tc->cert;
    signer_key = issuer ? issuer->key : tc->key;
    TESTCERT_CHECK(X509_set_issuer_name(tc->cert, X509_get_subject_name(signer_cert)) == 1);

    X509V3_set_ctx(&ctx, signer_cert, tc->cert, NULL, NULL, 0);
    if (ca) {
        testcert_add_ext(tc->cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        testcert_add_ext(tc->cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        testcert_add_ext(tc->cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        testcert_add_ext(tc->cert, &ctx, NID_key_usage, "critical,digitalSignature");
        testcert_add_ext(tc->cert, &ctx, NID_ext_key_usage, "clientAuth,serverAuth");
    }
    testcert_add_ext(tc->cert, &ctx, NID_subject_key_identifier, "hash");
    if (issuer != NULL)
        testcert_add_ext(tc->cert, &ctx, NID_authority_key_identifier, "keyid:always");
    if (dnsname != NULL) {
        int n = snprintf(san, sizeof(san), "DNS:%s", dnsname);

        TESTCERT_CHECK(n > 0 && (size_t)n < sizeof(san));
        testcert_add_ext(tc->cert, &ctx, NID_subject_alt_name, san);
    }

    TESTCERT_CHECK(X509_sign(tc->cert, signer_key, EVP_sha256()) > 0);
    testcert_fill_der(tc);
    return tc;
}

testcert *testcert_self_signed(const char *cn, const char *dnsname)
{
    return testcert_make(NULL, cn, dnsname, false);
}

testcert *testcert_issued(const testcert *issuer, const char *cn, const char *dnsname, bool ca)
{
    TESTCERT_CHECK(issuer != NULL);
    return testcert_make(issuer, cn, dnsname, ca);
}

testcert *testcert_ca(const char *cn)
{
    return testcert_make(NULL, cn, NULL, true);
}

void testcert_free(testcert *tc)
{
    if (tc == NULL)
        return;
    X509_free(tc->cert);
    EVP_PKEY_free(tc->key);
    OPENSSL_free(tc->der);
    OPENSSL_free(tc->spki);
    free(tc);
}
