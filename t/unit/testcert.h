/*
 * testcert.h - certificates and keys made in memory for unit tests.
 *
 * Tests never commit key material: each run makes fresh EC P-256 keys and
 * certificates with OpenSSL.  Everything aborts on failure (test code).
 */
#ifndef DANCE_TESTCERT_H
#define DANCE_TESTCERT_H

#include <stddef.h>
#include <stdbool.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

typedef struct testcert {
    X509 *cert;
    EVP_PKEY *key;
    unsigned char *der;      /* DER certificate */
    size_t derlen;
    unsigned char *spki;     /* DER SubjectPublicKeyInfo */
    size_t spkilen;
} testcert;

/* testcert_self_signed - new key and self-signed leaf; dnsname (may be NULL) goes in subjectAltName. */
testcert *testcert_self_signed(const char *cn, const char *dnsname);

/* testcert_issued - new key and certificate signed by issuer; ca makes it a CA (basicConstraints). */
testcert *testcert_issued(const testcert *issuer, const char *cn, const char *dnsname, bool ca);

/* testcert_ca - new self-signed CA certificate. */
testcert *testcert_ca(const char *cn);

/* testcert_free - release a testcert; NULL is fine. */
void testcert_free(testcert *tc);

#endif
