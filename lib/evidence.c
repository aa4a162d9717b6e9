/*
 * evidence.c - what we know about the certificate a client presented.
 *
 * Usage:
 *	evidence *ev = evidence_new();
 *	status = evidence_add_certs(ev, file_bytes, file_len);        or
 *	status = evidence_add_digest(ev, 1, DIGEST_SHA256, "AB:CD:...");
 *	if (evidence_get(ev, selector, mtype, &data, &len)) ... compare ...
 *	evidence_free(ev);
 *
 * The evidence holds any combination of:
 *   - the leaf certificate (X509 plus its DER) and the rest of the chain;
 *   - a bare SubjectPublicKeyInfo (a public key without its certificate);
 *   - digests of the certificate (selector 0) and of the SPKI (selector 1),
 *     in SHA-256 and SHA-512.
 * Whenever a DER object becomes known, both of its digests are computed at
 * once, so evidence_get() is a plain look-up and the evidence is const from
 * then on.  A new item that disagrees with what is already known (another
 * leaf, another key, a fingerprint of something else) is refused with
 * EVIDENCE_CONFLICT, and the evidence is left as it was.
 *
 * Certificate input is PEM (every CERTIFICATE block is taken, other blocks
 * and text are skipped) or one DER certificate that must use every byte.
 * Public key input is a PEM "PUBLIC KEY" block, a DER SPKI, or - for the
 * command-line user's convenience - an unencrypted PEM private key, from
 * which only the public key is kept.  The digests themselves and the
 * fingerprint text are evidence_digest.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "evidence.h"
#include "hex.h"
#include "panic.h"

#define EVIDENCE_SEL_CERT  0 /* TLSA selector 0: the certificate */
#define EVIDENCE_SEL_SPKI  1 /* TLSA selector 1: the SubjectPublicKeyInfo */
#define EVIDENCE_SELECTORS 2
#define EVIDENCE_ALGS      2 /* SHA-256, SHA-512 (index alg - 1) */

/* Largest PEM input: a full chain of the largest certificates, base64-encoded, plus text. */
#define EVIDENCE_PEM_MAX (4 * EVIDENCE_CHAIN_MAX * EVIDENCE_CERT_MAX)

typedef struct evidence_digest_slot {
    bool known;
    unsigned char value[DIGEST_MAX];
} evidence_digest_slot;

struct evidence {
    X509 *leaf;                             /* NULL until a certificate is added */
    STACK_OF(X509) * chain;                 /* certificates after the leaf; never NULL */
    unsigned char *der[EVIDENCE_SELECTORS]; /* [0] leaf DER, [1] SPKI DER; NULL if unknown */
    size_t derlen[EVIDENCE_SELECTORS];
    evidence_digest_slot digest[EVIDENCE_SELECTORS][EVIDENCE_ALGS];
};

/* evidence_alg_ok - true for a digest_alg value we implement. */
static bool evidence_alg_ok(digest_alg alg)
{
    return alg == DIGEST_SHA256 || alg == DIGEST_SHA512;
}

evidence *evidence_new(void)
{
    evidence *ev = calloc(1, sizeof(*ev));

    if (ev == NULL || (ev->chain = sk_X509_new_null()) == NULL)
        DANCE_PANIC("unexpected: ev == NULL || (ev->chain = sk_X509_new_null()) == NULL");
    return ev;
}

void evidence_free(evidence *ev)
{
    if (ev == NULL)
        return;
    X509_free(ev->leaf);
    sk_X509_pop_free(ev->chain, X509_free);
    for (int s = 0; s < EVIDENCE_SELECTORS; s++)
        free(ev->der[s]);
    free(ev);
}

/*
 * evidence_compute - both digests of one DER object into slots[]; checks them
 * against what ev already knows for that selector.  Nothing is stored.
 */
static evidence_status evidence_compute(const evidence *ev, int selector, const unsigned char *der,
                                        size_t len, evidence_digest_slot slots[EVIDENCE_ALGS])
{
    for (int a = 0; a < EVIDENCE_ALGS; a++) {
        digest_alg alg = (digest_alg)(a + 1);
        const evidence_digest_slot *old = &ev->digest[selector][a];
        size_t n = evidence_digest(alg, der, len, slots[a].value);

        if (n == 0)
            DANCE_PANIC("SHA-2 must always be available");
        slots[a].known = true;
        if (old->known && memcmp(old->value, slots[a].value, n) != 0)
            return EVIDENCE_CONFLICT;
    }
    return EVIDENCE_OK;
}

/* evidence_set_der - store a copy of the DER for a selector together with its digests. */
static void evidence_set_der(evidence *ev, int selector, const unsigned char *der, size_t len,
                             const evidence_digest_slot slots[EVIDENCE_ALGS])
{
    unsigned char *copy = xmalloc(len);

    memcpy(copy, der, len);
    free(ev->der[selector]);
    ev->der[selector] = copy;
    ev->derlen[selector] = len;
    memcpy(ev->digest[selector], slots, sizeof(ev->digest[selector]));
}

/* evidence_same_der - true when the selector's DER is known and equals der. */
static bool evidence_same_der(const evidence *ev, int selector, const unsigned char *der,
                              size_t len)
{
    return ev->der[selector] != NULL && ev->derlen[selector] == len &&
           memcmp(ev->der[selector], der, len) == 0;
}

/*
 * evidence_set_spki - make a validated DER SPKI the client's key, unless it
 * conflicts with a key or digests already known.
 */
static evidence_status evidence_set_spki(evidence *ev, const unsigned char *spki, size_t len)
{
    evidence_digest_slot slots[EVIDENCE_ALGS];
    evidence_status status;

    if (evidence_same_der(ev, EVIDENCE_SEL_SPKI, spki, len))
        return EVIDENCE_OK;
    if (ev->der[EVIDENCE_SEL_SPKI] != NULL)
        return EVIDENCE_CONFLICT;
    if ((status = evidence_compute(ev, EVIDENCE_SEL_SPKI, spki, len, slots)) != EVIDENCE_OK)
        return status;
    evidence_set_der(ev, EVIDENCE_SEL_SPKI, spki, len, slots);
    return EVIDENCE_OK;
}

/* evidence_set_leaf - make a certificate the leaf, unless it conflicts with what is known. */
static evidence_status evidence_set_leaf(evidence *ev, X509 *cert, const unsigned char *der,
                                         size_t len)
{
    evidence_digest_slot cert_slots[EVIDENCE_ALGS];
    evidence_digest_slot spki_slots[EVIDENCE_ALGS];
    unsigned char *spki = NULL;
    int spkilen;
    evidence_status status;

    spkilen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
    if (spkilen <= 0)
        return EVIDENCE_BAD_CERT;

    /* A key added earlier must be this certificate's key. */
    if (ev->der[EVIDENCE_SEL_SPKI] != NULL &&
        !evidence_same_der(ev, EVIDENCE_SEL_SPKI, spki, (size_t)spkilen))
        status = EVIDENCE_CONFLICT;
    else if ((status = evidence_compute(ev, EVIDENCE_SEL_CERT, der, len, cert_slots)) ==
             EVIDENCE_OK)
        status = evidence_compute(ev, EVIDENCE_SEL_SPKI, spki, (size_t)spkilen, spki_slots);

    if (status == EVIDENCE_OK) {
        evidence_set_der(ev, EVIDENCE_SEL_CERT, der, len, cert_slots);
        evidence_set_der(ev, EVIDENCE_SEL_SPKI, spki, (size_t)spkilen, spki_slots);
        ev->leaf = cert;
    }
    OPENSSL_free(spki);
    return status;
}

/* evidence_parse_der - parse one DER certificate that must use all len bytes. */
static evidence_status evidence_parse_der(const unsigned char *der, size_t len, X509 **cert)
{
    const unsigned char *p = der;

    *cert = NULL;
    if (len == 0)
        return EVIDENCE_EMPTY;
    if (len > EVIDENCE_CERT_MAX)
        return EVIDENCE_TOO_MANY;
    *cert = d2i_X509(NULL, &p, (long)len);
    if (*cert == NULL)
        return EVIDENCE_BAD_CERT;
    if (p != der + len) {
        X509_free(*cert);
        *cert = NULL;
        return EVIDENCE_BAD_CERT;
    }
    return EVIDENCE_OK;
}

/* evidence_count - certificates known so far (leaf plus chain). */
static size_t evidence_count(const evidence *ev)
{
    return ev->leaf == NULL ? 0 : 1 + (size_t)sk_X509_num(ev->chain);
}

/*
 * evidence_add_parsed - add a parsed certificate (taking ownership) as leaf
 * or chain member; der/len are the bytes it was parsed from, which are what
 * a TLSA "3 0 x" record describes.
 */
static evidence_status evidence_add_parsed(evidence *ev, X509 *cert, const unsigned char *der,
                                           size_t len)
{
    evidence_status status;

    if (evidence_count(ev) >= EVIDENCE_CHAIN_MAX) {
        X509_free(cert);
        return EVIDENCE_TOO_MANY;
    }
    if (ev->leaf != NULL) {
        if (sk_X509_push(ev->chain, cert) <= 0)
            DANCE_PANIC("unexpected: sk_X509_push(ev->chain, cert) <= 0");
        return EVIDENCE_OK;
    }
    if ((status = evidence_set_leaf(ev, cert, der, len)) != EVIDENCE_OK)
        X509_free(cert);
    return status;
}

evidence_status evidence_add_der(evidence *ev, const unsigned char *der, size_t len)
{
    X509 *cert;
    evidence_status status;

    if (ev == NULL || (der == NULL && len > 0))
        DANCE_PANIC("unexpected: ev == NULL || (der == NULL && len > 0)");
    ERR_set_mark();
    if ((status = evidence_parse_der(der, len, &cert)) == EVIDENCE_OK)
        status = evidence_add_parsed(ev, cert, der, len);
    ERR_pop_to_mark();
    return status;
}

/* evidence_find - bounded search for a NUL-free needle in buf. */
static bool evidence_find(const unsigned char *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return true;
    return false;
}

/* evidence_is_pem - true when the buffer holds at least one PEM header line. */
static bool evidence_is_pem(const unsigned char *buf, size_t len)
{
    return evidence_find(buf, len, "-----BEGIN ");
}

/* The certificates of one PEM buffer, with the DER bytes of each block. */
typedef struct evidence_pem_certs {
    size_t n;
    X509 *cert[EVIDENCE_CHAIN_MAX];
    unsigned char *der[EVIDENCE_CHAIN_MAX];
    size_t derlen[EVIDENCE_CHAIN_MAX];
} evidence_pem_certs;

/* evidence_pem_certs_free - release what evidence_read_pem_certs left in pc. */
static void evidence_pem_certs_free(evidence_pem_certs *pc)
{
    for (size_t i = 0; i < pc->n; i++) {
        X509_free(pc->cert[i]);
        OPENSSL_free(pc->der[i]);
    }
    pc->n = 0;
}

/*
 * evidence_read_pem_certs - parse every CERTIFICATE block of a PEM buffer
 * into pc; other blocks are skipped.  Zero certificates is EVIDENCE_BAD_CERT.
 */
static evidence_status evidence_read_pem_certs(const unsigned char *buf, size_t len,
                                               evidence_pem_certs *pc)
{
    BIO *bio;
    evidence_status status = EVIDENCE_OK;

    if (len > EVIDENCE_PEM_MAX)
        return EVIDENCE_TOO_MANY;
    if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
        DANCE_PANIC("unexpected: (bio = BIO_new_mem_buf(buf, (int)len)) == NULL");
    while (status == EVIDENCE_OK) {
        char *name = NULL;
        char *header = NULL;
        unsigned char *data = NULL;
        long datalen = 0;

        if (PEM_read_bio(bio, &name, &header, &data, &datalen) != 1) {
            /* Running out of blocks is the normal end; anything else is a broken block. */
            if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
                status = EVIDENCE_BAD_CERT;
            break;
        }
        if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0) {
            if (pc->n >= EVIDENCE_CHAIN_MAX)
                status = EVIDENCE_TOO_MANY;
            else if ((status = evidence_parse_der(data, (size_t)datalen, &pc->cert[pc->n])) ==
                     EVIDENCE_OK) {
                pc->der[pc->n] = data; /* kept: the leaf's exact bytes */
                pc->derlen[pc->n] = (size_t)datalen;
                pc->n++;
                data = NULL;
            } else if (status == EVIDENCE_EMPTY) {
                status = EVIDENCE_BAD_CERT; /* an empty block is a broken certificate */
            }
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
    BIO_free(bio);
    if (status == EVIDENCE_OK && pc->n == 0)
        status = EVIDENCE_BAD_CERT;
    return status;
}

evidence_status evidence_add_certs(evidence *ev, const unsigned char *buf, size_t len)
{
    evidence_pem_certs pc = {.n = 0};
    evidence_status status;

    if (ev == NULL || (buf == NULL && len > 0))
        DANCE_PANIC("unexpected: ev == NULL || (buf == NULL && len > 0)");
    if (len == 0)
        return EVIDENCE_EMPTY;
    if (!evidence_is_pem(buf, len))
        return evidence_add_der(ev, buf, len);

    ERR_set_mark();
    status = evidence_read_pem_certs(buf, len, &pc);
    if (status == EVIDENCE_OK && evidence_count(ev) + pc.n > EVIDENCE_CHAIN_MAX)
        status = EVIDENCE_TOO_MANY;
    /* Only the first certificate can be refused (as a conflicting leaf); nothing is added then. */
    for (size_t i = 0; status == EVIDENCE_OK && i < pc.n; i++) {
        status = evidence_add_parsed(ev, pc.cert[i], pc.der[i], pc.derlen[i]);
        pc.cert[i] = NULL; /* owned by ev now, or freed */
    }
    ERR_pop_to_mark();
    evidence_pem_certs_free(&pc);
    return status;
}

/* evidence_check_spki - true when der is exactly one DER SubjectPublicKeyInfo. */
static bool evidence_check_spki(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    EVP_PKEY *key;

    if (len == 0 || len > EVIDENCE_CERT_MAX)
        return false;
    if ((key = d2i_PUBKEY(NULL, &p, (long)len)) == NULL)
        return false;
    EVP_PKEY_free(key);
    return p == der + len;
}

/* evidence_no_passphrase - PEM password callback that refuses: encrypted keys are not read. */
static int evidence_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/*
 * evidence_pem_pubkey - the public key of a PEM buffer as DER SPKI: the first
 * PUBLIC KEY block taken verbatim, else the key of an unencrypted private key.
 */
static evidence_status evidence_pem_pubkey(evidence *ev, const unsigned char *buf, size_t len)
{
    BIO *bio;
    EVP_PKEY *key;
    unsigned char *spki = NULL;
    int spkilen;
    evidence_status status = EVIDENCE_BAD_KEY;

    if (len > EVIDENCE_PEM_MAX)
        return EVIDENCE_TOO_MANY;

    /* A PUBLIC KEY block holds a DER SPKI: use its bytes as they are. */
    if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
        DANCE_PANIC("unexpected: (bio = BIO_new_mem_buf(buf, (int)len)) == NULL");
    for (;;) {
        char *name = NULL;
        char *header = NULL;
        unsigned char *data = NULL;
        long datalen = 0;
        bool found = false;

        if (PEM_read_bio(bio, &name, &header, &data, &datalen) != 1)
            break;
        if (strcmp(name, PEM_STRING_PUBLIC) == 0) {
            found = true;
            status = evidence_check_spki(data, (size_t)datalen)
                         ? evidence_set_spki(ev, data, (size_t)datalen)
                         : EVIDENCE_BAD_KEY;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (found) {
            BIO_free(bio);
            return status;
        }
    }
    BIO_free(bio);

    /* Otherwise a private key: keep only its public half. */
    if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
        DANCE_PANIC("unexpected: (bio = BIO_new_mem_buf(buf, (int)len)) == NULL");
    key = PEM_read_bio_PrivateKey(bio, NULL, evidence_no_passphrase, NULL);
    BIO_free(bio);
    if (key == NULL)
        return EVIDENCE_BAD_KEY;
    spkilen = i2d_PUBKEY(key, &spki);
    EVP_PKEY_free(key);
    if (spkilen <= 0)
        return EVIDENCE_BAD_KEY;
    status = evidence_set_spki(ev, spki, (size_t)spkilen);
    OPENSSL_free(spki);
    return status;
}

evidence_status evidence_add_pubkey(evidence *ev, const unsigned char *buf, size_t len)
{
    evidence_status status;

    if (ev == NULL || (buf == NULL && len > 0))
        DANCE_PANIC("unexpected: ev == NULL || (buf == NULL && len > 0)");
    if (len == 0)
        return EVIDENCE_EMPTY;
    ERR_set_mark();
    if (evidence_is_pem(buf, len))
        status = evidence_pem_pubkey(ev, buf, len);
    else if (len > EVIDENCE_CERT_MAX)
        status = EVIDENCE_TOO_MANY;
    else if (evidence_check_spki(buf, len))
        status = evidence_set_spki(ev, buf, len);
    else
        status = EVIDENCE_BAD_KEY;
    ERR_pop_to_mark();
    return status;
}

evidence_status evidence_add_digest(evidence *ev, int selector, digest_alg alg, const char *text)
{
    unsigned char value[DIGEST_MAX];
    size_t len;
    evidence_status status;
    evidence_digest_slot *slot;

    if (ev == NULL || (selector != 0 && selector != 1))
        DANCE_PANIC("unexpected: ev == NULL || (selector != 0 && selector != 1)");
    if ((status = evidence_parse_fingerprint(text, alg, value, &len)) != EVIDENCE_OK)
        return status;
    slot = &ev->digest[selector][alg - 1];
    if (slot->known)
        return memcmp(slot->value, value, len) == 0 ? EVIDENCE_OK : EVIDENCE_CONFLICT;
    slot->known = true;
    memcpy(slot->value, value, len);
    return EVIDENCE_OK;
}

bool evidence_is_empty(const evidence *ev)
{
    if (ev == NULL)
        DANCE_PANIC("unexpected: ev == NULL");
    if (ev->leaf != NULL)
        return false;
    for (int s = 0; s < EVIDENCE_SELECTORS; s++) {
        if (ev->der[s] != NULL)
            return false;
        for (int a = 0; a < EVIDENCE_ALGS; a++)
            if (ev->digest[s][a].known)
                return false;
    }
    return true;
}

bool evidence_get(const evidence *ev, int selector, int mtype, const unsigned char **data,
                  size_t *len)
{
    const evidence_digest_slot *slot;

    if (ev == NULL || data == NULL || len == NULL)
        DANCE_PANIC("unexpected: ev == NULL || data == NULL || len == NULL");
    if (selector != 0 && selector != 1)
        return false;
    if (mtype == 0) {
        if (ev->der[selector] == NULL)
            return false;
        *data = ev->der[selector];
        *len = ev->derlen[selector];
        return true;
    }
    if (!evidence_alg_ok((digest_alg)mtype))
        return false;
    slot = &ev->digest[selector][mtype - 1];
    if (!slot->known)
        return false;
    *data = slot->value;
    *len = evidence_digest_len((digest_alg)mtype);
    return true;
}

size_t evidence_id(const evidence *ev, unsigned char out[EVIDENCE_ID_MAX])
{
    size_t n = 0;

    if (ev == NULL || out == NULL)
        DANCE_PANIC("unexpected: ev == NULL || out == NULL");
    for (int sel = 0; sel < EVIDENCE_SELECTORS; sel++)
        for (int a = 0; a < EVIDENCE_ALGS; a++) {
            const evidence_digest_slot *slot = &ev->digest[sel][a];
            size_t len = evidence_digest_len((digest_alg) (a + 1));   /* EVIDENCE_ID_MAX: all four */
            if (!slot->known)
                continue;
            out[n] = (unsigned char) sel;
            out[n + 1] = (unsigned char) (a + 1);
            memcpy(out + n + 2, slot->value, len);
            n += 2 + len;
        }
    return n;
}

X509 *evidence_leaf(const evidence *ev)
{
    if (ev == NULL)
        DANCE_PANIC("unexpected: ev == NULL");
    return ev->leaf;
}

STACK_OF(X509) * evidence_chain(const evidence *ev)
{
    if (ev == NULL)
        DANCE_PANIC("unexpected: ev == NULL");
    return ev->chain;
}

bool evidence_has_chain(const evidence *ev)
{
    if (ev == NULL)
        DANCE_PANIC("unexpected: ev == NULL");
    return ev->leaf != NULL && sk_X509_num(ev->chain) > 0;
}

bool evidence_spki_sha256_hex(const evidence *ev, char out[2 * 32 + 1])
{
    const evidence_digest_slot *slot;

    if (ev == NULL || out == NULL)
        DANCE_PANIC("unexpected: ev == NULL || out == NULL");
    slot = &ev->digest[EVIDENCE_SEL_SPKI][DIGEST_SHA256 - 1];
    if (!slot->known)
        return false;
    hex_encode(slot->value, evidence_digest_len(DIGEST_SHA256), out);
    return true;
}

const char *evidence_status_str(evidence_status status)
{
    switch (status) {
    case EVIDENCE_OK:
        return "ok";
    case EVIDENCE_EMPTY:
        return "empty input";
    case EVIDENCE_BAD_HEX:
        return "fingerprint is not hex or colon-separated hex pairs";
    case EVIDENCE_WEAK_DIGEST:
        return "MD5/SHA-1 fingerprint: no TLSA matching type uses it";
    case EVIDENCE_BAD_LENGTH:
        return "fingerprint length does not fit the digest algorithm";
    case EVIDENCE_UNKNOWN_ALG:
        return "unknown digest algorithm (sha256 or sha512 expected)";
    case EVIDENCE_BAD_CERT:
        return "not a certificate (PEM or DER)";
    case EVIDENCE_BAD_KEY:
        return "not a public key (PEM or DER SubjectPublicKeyInfo)";
    case EVIDENCE_TOO_MANY:
        return "too many certificates or certificate too large";
    case EVIDENCE_CONFLICT:
        return "conflicts with evidence already given";
    }
    DANCE_PANIC("not an evidence_status");
}
