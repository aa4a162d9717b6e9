/*
 * evidence_digest.c - the digest algorithms of TLSA matching types 1 and 2,
 * and fingerprint text.
 *
 * USAGE
 *	evidence_digest_alg("sha256", &alg);
 *	n = evidence_digest(alg, der, len, out);
 *	st = evidence_parse_fingerprint("AB:CD:...", alg, out, &n);
 *
 * DESCRIPTION
 *	SHA-256 and SHA-512 through OpenSSL's EVP interface; a digest that
 *	cannot be computed is a broken environment the caller turns into a
 *	panic.  Fingerprint text is hex with or without colons, surrounding
 *	white space ignored; MD5- and SHA-1-sized values are refused as
 *	weak (EVIDENCE_WEAK_DIGEST), any other length that is not alg's as
 *	EVIDENCE_BAD_LENGTH.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "evidence.h"
#include "hex.h"
#include "panic.h"

/* Longest fingerprint text: SHA-512 in colon form. */
#define EVIDENCE_FP_TEXT_MAX (3 * DIGEST_MAX - 1)

bool evidence_digest_alg(const char *name, digest_alg *alg)
{
    if (name == NULL || alg == NULL)
        DANCE_PANIC("unexpected: name == NULL || alg == NULL");
    if (strcasecmp(name, "sha256") == 0) {
        *alg = DIGEST_SHA256;
        return true;
    }
    if (strcasecmp(name, "sha512") == 0) {
        *alg = DIGEST_SHA512;
        return true;
    }
    return false;
}

size_t evidence_digest_len(digest_alg alg)
{
    switch (alg) {
    case DIGEST_SHA256:
        return 32;
    case DIGEST_SHA512:
        return 64;
    }
    return 0;
}

/* evidence_md - the OpenSSL digest of alg, or NULL for an unknown one. */
static const EVP_MD *evidence_md(digest_alg alg)
{
    switch (alg) {
    case DIGEST_SHA256:
        return EVP_sha256();
    case DIGEST_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

size_t evidence_digest(digest_alg alg, const unsigned char *buf, size_t len,
                       unsigned char out[DIGEST_MAX])
{
    const EVP_MD *md = evidence_md(alg);
    unsigned int outlen = 0;

    if (md == NULL || EVP_Digest(buf, len, out, &outlen, md, NULL) != 1
        || outlen != evidence_digest_len(alg))
        return 0;
    return outlen;
}

size_t evidence_digest_parts(digest_alg alg, const struct iovec *part, size_t n,
                             unsigned char out[DIGEST_MAX])
{
    const EVP_MD *md = evidence_md(alg);
    EVP_MD_CTX *ctx;
    unsigned int outlen = 0;
    bool ok;

    if (md == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
        return 0;
    ok = EVP_DigestInit_ex(ctx, md, NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, part[i].iov_base, part[i].iov_len) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, out, &outlen) == 1 && outlen == evidence_digest_len(alg);
    EVP_MD_CTX_free(ctx);
    return ok ? outlen : 0;
}

/* evidence_is_space - white space that may surround a fingerprint. */
static bool evidence_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

evidence_status evidence_parse_fingerprint(const char *text, digest_alg alg,
                                           unsigned char out[DIGEST_MAX], size_t *outlen)
{
    char trimmed[EVIDENCE_FP_TEXT_MAX + 1];
    const char *start;
    size_t len;
    size_t n = 0;

    if (out == NULL || outlen == NULL)
        DANCE_PANIC("unexpected: out == NULL || outlen == NULL");
    *outlen = 0;
    if (evidence_digest_len(alg) == 0)
        return EVIDENCE_UNKNOWN_ALG;
    if (text == NULL)
        return EVIDENCE_EMPTY;

    /* Surrounding white space (a pasted line, a trailing newline) is not part of it. */
    for (start = text; evidence_is_space(*start); start++)
        continue;
    for (len = strlen(start); len > 0 && evidence_is_space(start[len - 1]); len--)
        continue;
    if (len == 0)
        return EVIDENCE_EMPTY;
    if (len > EVIDENCE_FP_TEXT_MAX)
        return EVIDENCE_BAD_LENGTH;
    memcpy(trimmed, start, len);
    trimmed[len] = '\0';

    switch (hex_decode(trimmed, out, DIGEST_MAX, &n)) {
    case HEX_OK:
        break;
    case HEX_EMPTY:
        return EVIDENCE_EMPTY;
    case HEX_BAD_CHAR:
    case HEX_ODD:
        return EVIDENCE_BAD_HEX;
    case HEX_TOO_LONG:
        return EVIDENCE_BAD_LENGTH;
    }
    if (n == 16 || n == 20)
        return EVIDENCE_WEAK_DIGEST; /* MD5 or SHA-1 */
    if (n != evidence_digest_len(alg))
        return EVIDENCE_BAD_LENGTH;
    *outlen = n;
    return EVIDENCE_OK;
}
