/*
 * evidence.h - what we know about the certificate a client presented.
 *
 * Evidence comes in two forms, which may be combined:
 *   - the DER leaf certificate, optionally followed by the rest of the chain
 *     (from a PEM/DER file, or Exim's base64 export);
 *   - digests: of the SubjectPublicKeyInfo and/or of the certificate, with a
 *     named algorithm (sha256 or sha512), as Postfix's policy protocol sends
 *     them in ccert_pubkey_fingerprint / ccert_fingerprint.
 * evidence_get() answers "what are the bytes for TLSA selector S, matching
 * type M?" so the matching code never cares which form it was given.
 * Fingerprints of md5/sha1 length are refused: no TLSA matching type uses them.
 */
#ifndef DANCE_LIB_EVIDENCE_H
#define DANCE_LIB_EVIDENCE_H

#include <stddef.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <openssl/x509.h>

/* Digest algorithms; the values equal the TLSA matching types. */
typedef enum {
    DIGEST_SHA256 = 1,
    DIGEST_SHA512 = 2
} digest_alg;

#define DIGEST_MAX 64               /* SHA-512 */
#define EVIDENCE_CHAIN_MAX 16       /* certificates accepted in one chain */
#define EVIDENCE_CERT_MAX (64 * 1024) /* largest DER certificate accepted */

typedef enum {
    EVIDENCE_OK = 0,
    EVIDENCE_EMPTY,           /* empty fingerprint or file */
    EVIDENCE_BAD_HEX,         /* characters that are not hex / colon pairs */
    EVIDENCE_WEAK_DIGEST,     /* md5 or sha1 length: cannot match any TLSA type */
    EVIDENCE_BAD_LENGTH,      /* length does not fit the named algorithm */
    EVIDENCE_UNKNOWN_ALG,     /* algorithm name not sha256/sha512 */
    EVIDENCE_BAD_CERT,        /* not a parseable certificate (PEM or DER) */
    EVIDENCE_BAD_KEY,         /* not a parseable public key */
    EVIDENCE_TOO_MANY,        /* chain longer than EVIDENCE_CHAIN_MAX or cert too big */
    EVIDENCE_CONFLICT         /* a second, different value for the same digest */
} evidence_status;

typedef struct evidence evidence;

/* evidence_new - allocate empty evidence (abort on memory exhaustion). */
evidence *evidence_new(void);

/* evidence_free - release evidence and everything it holds; NULL is fine. */
void evidence_free(evidence *ev);

/* evidence_add_certs - add certificates from a PEM (one or more) or DER buffer; the first ever added is the leaf. */
evidence_status evidence_add_certs(evidence *ev, const unsigned char *buf, size_t len);

/* evidence_add_der - add one DER certificate (leaf first, then chain). */
evidence_status evidence_add_der(evidence *ev, const unsigned char *der, size_t len);

/* evidence_add_pubkey - add a bare public key (PEM or DER SubjectPublicKeyInfo) as the leaf's key. */
evidence_status evidence_add_pubkey(evidence *ev, const unsigned char *buf, size_t len);

/* evidence_add_digest - add a fingerprint (colon or bare hex) of the SPKI (selector 1) or certificate (selector 0). */
evidence_status evidence_add_digest(evidence *ev, int selector, digest_alg alg, const char *text);

/* evidence_parse_fingerprint - decode a fingerprint and check its length against alg. */
evidence_status evidence_parse_fingerprint(const char *text, digest_alg alg,
                                           unsigned char out[DIGEST_MAX], size_t *outlen);

/* evidence_digest_alg - map "sha256"/"sha512" (any case) to an algorithm; false if unknown. */
bool evidence_digest_alg(const char *name, digest_alg *alg);

/* evidence_digest_len - output length in octets of an algorithm. */
size_t evidence_digest_len(digest_alg alg);

/* evidence_digest - compute alg over buf into out; returns the length (0 only on broken invariant). */
size_t evidence_digest(digest_alg alg, const unsigned char *buf, size_t len, unsigned char out[DIGEST_MAX]);

/* evidence_digest_parts - alg over n buffers one after the other (one digest, no copy); as evidence_digest. */
size_t evidence_digest_parts(digest_alg alg, const struct iovec *part, size_t n,
                             unsigned char out[DIGEST_MAX]);

/* Longest evidence_id(): a tag and a digest for each selector and algorithm. */
#define EVIDENCE_ID_MAX (2 * (2 + 32) + 2 * (2 + 64))

/*
 * evidence_id - bytes that name the evidence, for keys: each known digest
 * with its selector and algorithm (a certificate is named by its digests).
 * Returns the length, at most EVIDENCE_ID_MAX; 0 for empty evidence.
 */
size_t evidence_id(const evidence *ev, unsigned char out[EVIDENCE_ID_MAX]);

/* evidence_is_empty - true when nothing at all is known. */
bool evidence_is_empty(const evidence *ev);

/* evidence_get - bytes for (selector, mtype): full DER for mtype 0, else the digest; false if unknowable. */
bool evidence_get(const evidence *ev, int selector, int mtype, const unsigned char **data, size_t *len);

/* evidence_leaf - the leaf certificate, or NULL when only digests/a key are known. */
X509 *evidence_leaf(const evidence *ev);

/* evidence_chain - the certificates after the leaf (may be empty, never NULL when a leaf exists). */
STACK_OF(X509) *evidence_chain(const evidence *ev);

/* evidence_has_chain - true when a leaf plus at least one more certificate is known. */
bool evidence_has_chain(const evidence *ev);

/* evidence_spki_sha256_hex - lower-case hex SPKI SHA-256 of the client key, when known. */
bool evidence_spki_sha256_hex(const evidence *ev, char out[2 * 32 + 1]);

/* evidence_status_str - short English reason for an evidence_status. */
const char *evidence_status_str(evidence_status status);

#endif
