/*
 * probe_tls.h - the TLS server side of "dance probe": its own certificate,
 * and a client certificate asked for and accepted whatever it is.
 */
#ifndef DANCE_CLI_PROBE_TLS_H
#define DANCE_CLI_PROBE_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "lib/evidence.h"

/*
 * probe_tls_ctx_new - a server context with the certificate (chain) and key
 * of the PEM files, or with a throwaway self-signed certificate made in
 * memory when both are NULL; NULL with a message in err.
 */
SSL_CTX *probe_tls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errsize);

/* probe_tls_evidence - add the certificates the peer of ssl presented (leaf first) to ev; how many. */
size_t probe_tls_evidence(SSL *ssl, evidence *ev);

#endif
