/*
 * probe_tls.c - the TLS server side of "dance probe".
 *
 * USAGE
 *	ctx = probe_tls_ctx_new(cert_file, key_file, err, sizeof(err));
 *	... SSL_new(ctx), handshake (probe_conn.c) ...
 *	n = probe_tls_evidence(ssl, ev);
 *
 * DESCRIPTION
 *	The server certificate and key come from PEM files (the certificate
 *	file may hold the chain after the leaf), or, when none is given, a
 *	throwaway self-signed certificate (P-256, CN dance-probe, valid one
 *	day) is made in memory: SMTP clients that do opportunistic TLS do
 *	not authenticate the server.
 *
 *	The client is asked for a certificate and any certificate is
 *	accepted at the TLS layer: the check that counts is DANE, made
 *	afterwards on what the client presented (probe_tls_evidence).  No
 *	session cache and no tickets, so the one session is always a full
 *	handshake in which the client shows its certificate.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "probe_tls.h"

/* probe_tls_err - err = what, then OpenSSL's first queued error. */
static void probe_tls_err(char *err, size_t errsize, const char *what, const char *arg)
{
    unsigned long e = ERR_get_error();
    char ebuf[256];

    ERR_error_string_n(e, ebuf, sizeof(ebuf));
    snprintf(err, errsize, "%s%s%s%s%s", what, arg ? " " : "", arg ? arg : "",
             e ? ": " : "", e ? ebuf : "");
    ERR_clear_error();
}

/* probe_tls_any_cert - verification callback: every client certificate is accepted here. */
static int probe_tls_any_cert(int preverify_ok, X509_STORE_CTX *x509_ctx)
{
    (void) preverify_ok;
    (void) x509_ctx;
    return 1;
}

/* probe_tls_selfsigned - put a fresh key and self-signed certificate into ctx; 0 or -1. */
static int probe_tls_selfsigned(SSL_CTX *ctx, char *err, size_t errsize)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *crt = X509_new();
    X509_NAME *name;
    int ok = 0;

    if (key == NULL || crt == NULL)
        goto out;
    if (!X509_set_version(crt, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(crt), 1) ||
        X509_gmtime_adj(X509_getm_notBefore(crt), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(crt), 86400) == NULL ||
        !X509_set_pubkey(crt, key))
        goto out;
    name = X509_get_subject_name(crt);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *) "dance-probe", -1, -1, 0) ||
        !X509_set_issuer_name(crt, name) || !X509_sign(crt, key, EVP_sha256()))
        goto out;
    ok = SSL_CTX_use_certificate(ctx, crt) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
out:
    if (!ok)
        probe_tls_err(err, errsize, "cannot make a self-signed certificate", NULL);
    X509_free(crt);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

/* probe_tls_ctx_new - a server context with the files' certificate and key, or a throwaway one. */
SSL_CTX *probe_tls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errsize)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        probe_tls_err(err, errsize, "cannot create a TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, probe_tls_any_cert);
    if (cert_file == NULL) {
        if (probe_tls_selfsigned(ctx, err, errsize) != 0)
            goto fail;
        return ctx;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        probe_tls_err(err, errsize, "cannot load the certificate in", cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        probe_tls_err(err, errsize, "cannot load the private key in", key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        probe_tls_err(err, errsize, "the key does not belong to the certificate:", key_file);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* probe_tls_add - add one certificate as DER to ev; 1 when taken. */
static size_t probe_tls_add(evidence *ev, X509 *crt)
{
    unsigned char *der = NULL;
    int len = i2d_X509(crt, &der);
    size_t n = 0;

    if (len > 0 && evidence_add_der(ev, der, (size_t) len) == EVIDENCE_OK)
        n = 1;
    OPENSSL_free(der);
    return n;
}

/* probe_tls_evidence - the peer's certificates (leaf first) into ev; how many were taken. */
size_t probe_tls_evidence(SSL *ssl, evidence *ev)
{
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    STACK_OF(X509) *chain;
    size_t n;
    int i;

    if (leaf == NULL || probe_tls_add(ev, leaf) == 0)
        return 0;
    n = 1;
    /* on a server the peer chain does not hold the leaf */
    if ((chain = SSL_get_peer_cert_chain(ssl)) != NULL)
        for (i = 0; i < sk_X509_num(chain) && n < EVIDENCE_CHAIN_MAX; i++)
            if (X509_cmp(sk_X509_value(chain, i), leaf) != 0)
                n += probe_tls_add(ev, sk_X509_value(chain, i));
    return n;
}
