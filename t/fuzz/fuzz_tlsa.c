/*
 * fuzz_tlsa.c - libFuzzer target: TLSA RDATA, its classification, and the
 * verdict built from a DNS answer holding it.
 *
 * The input is cut into RDATAs (a length byte, then that many bytes, up to
 * RESOLVER_MAX_RECORDS of them).  When the first byte is odd, a genuine
 * record for the fuzzer's own certificate comes first (usage 2 or 3,
 * selector and matching type from the first byte's other bits), so that
 * passes, digest agility and DANE-TA are reached, not only failures.  Each
 * RDATA is parsed and formatted (tlsa_parse, tlsa_format).  Then one
 * answer with all of them is evaluated under every DNSSEC status, with
 * evidence of three kinds (the certificate itself, its SHA-256
 * fingerprints, a SHA-512 fingerprint), and checked against the
 * project's central promise: a pass only ever comes from a SECURE answer
 * with a usable record that matched, whose data really is the digest (or
 * the bytes) of the certificate or key presented.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/evidence.h"
#include "lib/resolver.h"
#include "lib/tlsa.h"
#include "lib/verdict.h"
#include "t/unit/testcert.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static testcert *fuzz_cert;
static evidence *fuzz_ev[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char md[DIGEST_MAX];
    char hex[2 * DIGEST_MAX + 1];

    (void) argc;
    (void) argv;
    fuzz_cert = testcert_self_signed("mta1.fuzz.test", "mta1.fuzz.test");
    fuzz_ev[0] = evidence_new();
    if (evidence_add_der(fuzz_ev[0], fuzz_cert->der, fuzz_cert->derlen) != EVIDENCE_OK)
        abort();
    fuzz_ev[1] = evidence_new();
    evidence_digest(DIGEST_SHA256, fuzz_cert->spki, fuzz_cert->spkilen, md);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (evidence_add_digest(fuzz_ev[1], 1, DIGEST_SHA256, hex) != EVIDENCE_OK)
        abort();
    evidence_digest(DIGEST_SHA256, fuzz_cert->der, fuzz_cert->derlen, md);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (evidence_add_digest(fuzz_ev[1], 0, DIGEST_SHA256, hex) != EVIDENCE_OK)
        abort();
    fuzz_ev[2] = evidence_new();
    evidence_digest(DIGEST_SHA512, fuzz_cert->der, fuzz_cert->derlen, md);
    for (int i = 0; i < 64; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (evidence_add_digest(fuzz_ev[2], 0, DIGEST_SHA512, hex) != EVIDENCE_OK)
        abort();
    return 0;
}

/* fuzz_really_matches - does record rec name the fuzzer's certificate or its key? */
static int fuzz_really_matches(const tlsa_record *rec)
{
    const unsigned char *obj = rec->selector == 0 ? fuzz_cert->der : fuzz_cert->spki;
    size_t len = rec->selector == 0 ? fuzz_cert->derlen : fuzz_cert->spkilen;
    unsigned char md[DIGEST_MAX];

    if (rec->selector > 1)
        return 0;
    if (rec->mtype == 0)
        return rec->len == len && memcmp(rec->data, obj, len) == 0;
    if (rec->mtype != 1 && rec->mtype != 2)
        return 0;
    return rec->len == evidence_digest((digest_alg) rec->mtype, obj, len, md)
           && memcmp(rec->data, md, rec->len) == 0;
}

/* fuzz_genuine - add a record that names the certificate: 2 or 3, selector and type from b. */
static void fuzz_genuine(resolver_answer *ans, uint8_t b)
{
    int usage = (b & 2) ? 2 : 3, sel = (b >> 2) & 1, mt = ((b >> 3) & 3) % 3;
    const unsigned char *obj = sel == 0 ? fuzz_cert->der : fuzz_cert->spki;
    size_t len = sel == 0 ? fuzz_cert->derlen : fuzz_cert->spkilen, n;
    unsigned char md[DIGEST_MAX];

    if (mt != 0) {
        len = evidence_digest((digest_alg) mt, obj, len, md);
        obj = md;
    }
    n = 3 + len;
    if ((ans->rdata[0] = malloc(n)) == NULL)
        abort();
    ans->rdata[0][0] = (unsigned char) usage;
    ans->rdata[0][1] = (unsigned char) sel;
    ans->rdata[0][2] = (unsigned char) mt;
    memcpy(ans->rdata[0] + 3, obj, len);
    ans->rdlen[0] = n;
    ans->count = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resolver_answer ans;
    size_t off = 0;
    char text[512];

    memset(&ans, 0, sizeof(ans));
    snprintf(ans.owner, sizeof(ans.owner), "_smtp-client.mta1.fuzz.test");
    if (size > 0 && (data[0] & 1))
        fuzz_genuine(&ans, data[0]);
    off = size > 0 ? 1 : 0;
    while (off < size && ans.count < RESOLVER_MAX_RECORDS) {
        size_t n = data[off++];
        tlsa_record rec;

        if (n > size - off)
            n = size - off;
        ans.rdata[ans.count] = malloc(n + 1);
        if (ans.rdata[ans.count] == NULL)
            abort();
        memcpy(ans.rdata[ans.count], data + off, n);
        ans.rdlen[ans.count++] = n;
        off += n;
        memset(&rec, 0, sizeof(rec));
        (void) tlsa_parse(data + off - n, n, &rec);
        (void) tlsa_format(&rec, text, sizeof(text));
        if (n >= 3 && (rec.usage != data[off - n] || rec.len != n - 3))
            abort();
        tlsa_record_clear(&rec);
    }
    for (int st = RESOLVER_SECURE; st <= RESOLVER_NETERR; st++) {
        for (int e = 0; e < 3; e++) {
            verdict v;

            ans.status = (resolver_status) st;
            verdict_init(&v, "mta1.fuzz.test", fuzz_ev[e]);
            (void) verdict_evaluate_owner(&v, fuzz_ev[e], &ans);
            verdict_finish(&v);
            if (v.result == VERDICT_PASS) {
                const verdict_owner *o = &v.owners[0];

                if (st != RESOLVER_SECURE || v.decisive != 0 || o->matched < 0
                    || (size_t) o->matched >= o->count || o->states[o->matched] != MATCH_REC_MATCH
                    || o->records[o->matched].status != TLSA_USABLE
                    || !fuzz_really_matches(&o->records[o->matched]))
                    abort();    /* a false pass */
            }
            verdict_clear(&v);
        }
    }
    for (size_t i = 0; i < ans.count; i++)
        free(ans.rdata[i]);
    return 0;
}
