/*
 * fuzz_evidence.c - libFuzzer target: everything that turns client-supplied
 * text or bytes into certificate evidence.
 *
 * The input (NUL-free copy) as: a fingerprint (hex_decode,
 * evidence_parse_fingerprint and evidence_add_digest for both algorithms
 * and selectors), a base64 ccert_der value (policy_base64_decode, then
 * evidence_add_der on what it decodes), and raw bytes as a certificate
 * file (evidence_add_certs: PEM or DER, a chain) and as a public key
 * (evidence_add_pubkey).  Checked: decoders never write past their output;
 * a fingerprint accepted for an algorithm has exactly its digest length;
 * hex_encode(hex_decode(x)) is x in lower case without colons; evidence
 * built from any of it answers evidence_get() for every selector and
 * matching type without crashing, and a digest it returns has the length
 * of its matching type.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/evidence.h"
#include "lib/hex.h"
#include "policy/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_probe - ask ev for every (selector, matching type); digests must have their length. */
static void fuzz_probe(const evidence *ev)
{
    const unsigned char *p;
    size_t len;
    char spki[65];

    for (int sel = 0; sel < 2; sel++) {
        for (int mt = 0; mt < 3; mt++) {
            if (!evidence_get(ev, sel, mt, &p, &len))
                continue;
            if ((mt == 1 && len != 32) || (mt == 2 && len != 64) || (mt == 0 && len == 0) || p == NULL)
                abort();
        }
    }
    if (evidence_spki_sha256_hex(ev, spki) && strlen(spki) != 64)
        abort();
    (void) evidence_is_empty(ev);
    (void) evidence_leaf(ev);
}

static void fuzz_text(const char *text)
{
    unsigned char out[DIGEST_MAX], buf[POLICY_DER_MAX];
    char back[2 * DIGEST_MAX + 1];
    size_t len = 0;
    hex_status hs = hex_decode(text, out, sizeof(out), &len);

    if (hs == HEX_OK) {
        size_t j = 0;

        if (len == 0 || len > sizeof(out))
            abort();
        hex_encode(out, len, back);
        for (const char *p = text; *p != '\0'; p++)     /* the digits, lower case, no colons */
            if (*p != ':' && (j >= 2 * len || back[j++] != tolower((unsigned char) *p)))
                abort();
        if (j != 2 * len)
            abort();
    }
    for (int alg = DIGEST_SHA256; alg <= DIGEST_SHA512; alg++) {
        if (evidence_parse_fingerprint(text, (digest_alg) alg, out, &len) == EVIDENCE_OK
            && len != evidence_digest_len((digest_alg) alg))
            abort();
        for (int sel = 0; sel < 2; sel++) {
            evidence *ev = evidence_new();

            (void) evidence_add_digest(ev, sel, (digest_alg) alg, text);
            (void) evidence_add_digest(ev, sel, (digest_alg) alg, text);    /* the same again: no conflict */
            fuzz_probe(ev);
            evidence_free(ev);
        }
    }
    len = 0;
    if (policy_base64_decode(text, buf, sizeof(buf), &len) == POLICY_OK) {
        evidence *ev = evidence_new();

        if (len > sizeof(buf))
            abort();
        (void) evidence_add_der(ev, buf, len);
        fuzz_probe(ev);
        evidence_free(ev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    evidence *ev;

    if (text == NULL)
        abort();
    for (size_t i = 0; i < size; i++)
        text[i] = data[i] != '\0' ? (char) data[i] : '0';
    text[size] = '\0';
    fuzz_text(text);
    free(text);

    ev = evidence_new();
    (void) evidence_add_certs(ev, data, size);
    fuzz_probe(ev);
    (void) evidence_chain(ev);
    (void) evidence_has_chain(ev);
    evidence_free(ev);
    ev = evidence_new();
    (void) evidence_add_pubkey(ev, data, size);
    fuzz_probe(ev);
    evidence_free(ev);
    return 0;
}
