/*
 * tlsa.c - TLSA resource records: parsing and classification.
 *
 * Usage:
 *	tlsa_record rec;
 *	if (tlsa_parse(rdata, rdlen, &rec) == TLSA_USABLE)
 *	    ... match rec.usage/selector/mtype/data against the evidence ...
 *	log("%s: %s", tlsa_format(&rec, buf, sizeof(buf)), tlsa_status_str(rec.status));
 *	tlsa_record_clear(&rec);
 *
 * tlsa_parse() splits RDATA (RFC 6698 2.1: usage, selector, matching type,
 * association data) and classifies the record.  A record that cannot be used
 * is not an error (RFC 6698 4.1), but the caller must be able to tell broken
 * data from a well-formed record it merely does not use, so the order is:
 *
 *   1. fewer than 4 octets                  -> TLSA_SHORT_RDATA (malformed)
 *   2. usage above 3                        -> TLSA_UNKNOWN_USAGE
 *   3. known selector and matching type, but data that does not fit them:
 *      SHA-256 not 32 octets, SHA-512 not 64 -> TLSA_BAD_DIGEST_LENGTH
 *      Full(0) not exactly one DER certificate (selector 0) or one DER
 *      SubjectPublicKeyInfo (selector 1)    -> TLSA_BAD_FULL_DATA
 *   4. usage 0 or 1 (RFC 7672 3.1.3)        -> TLSA_PKIX_USAGE
 *   5. selector above 1                     -> TLSA_UNKNOWN_SELECTOR
 *   6. matching type above 2                -> TLSA_UNKNOWN_MTYPE
 *   7. otherwise                            -> TLSA_USABLE
 *
 * So a PKIX record with broken data counts as malformed, while the data of
 * a record with an unknown usage, selector or matching type is not judged.
 * Full data is checked with OpenSSL's d2i_X509() and d2i_PUBKEY(); the
 * latter also requires a public key algorithm this OpenSSL knows.
 *
 * tlsa_parse() overwrites *rec without freeing it: clear a record before
 * reusing it.  RDATA longer than TLSA_RDATA_MAX cannot come from DNS and
 * is a caller bug (abort).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "panic.h"
#include "tlsa.h"

#define TLSA_FIXED_OCTETS 3     /* usage, selector, matching type */

/* tlsa_der_ok - true when data is exactly one DER certificate or SPKI. */
static bool tlsa_der_ok(uint8_t selector, const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    bool ok = false;

    if (len == 0)
        return false;
    if (selector == TLSA_SELECTOR_CERT) {
        X509 *cert = d2i_X509(NULL, &p, (long) len);

        ok = (cert != NULL && p == data + len);
        X509_free(cert);
    } else if (selector == TLSA_SELECTOR_SPKI) {
        EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long) len);

        ok = (key != NULL && p == data + len);
        EVP_PKEY_free(key);
    } else {
        DANCE_PANIC("caller checks the selector");
    }
    return ok;
}

/* tlsa_data_status - judge the data of a record with known selector and matching type. */
static tlsa_status tlsa_data_status(const tlsa_record *rec)
{
    switch (rec->mtype) {
    case TLSA_MTYPE_FULL:
        return tlsa_der_ok(rec->selector, rec->data, rec->len) ? TLSA_USABLE : TLSA_BAD_FULL_DATA;
    case TLSA_MTYPE_SHA256:
        return rec->len == 32 ? TLSA_USABLE : TLSA_BAD_DIGEST_LENGTH;
    case TLSA_MTYPE_SHA512:
        return rec->len == 64 ? TLSA_USABLE : TLSA_BAD_DIGEST_LENGTH;
    }
    DANCE_PANIC("caller checks the matching type");
}

/* tlsa_classify - the classification described at the top of this file. */
static tlsa_status tlsa_classify(const tlsa_record *rec)
{
    bool known_selector = rec->selector <= TLSA_SELECTOR_SPKI;
    bool known_mtype = rec->mtype <= TLSA_MTYPE_SHA512;

    if (rec->usage > TLSA_USAGE_DANE_EE)
        return TLSA_UNKNOWN_USAGE;
    if (known_selector && known_mtype) {
        tlsa_status data_status = tlsa_data_status(rec);

        if (data_status != TLSA_USABLE)
            return data_status;
    }
    if (rec->usage == TLSA_USAGE_PKIX_TA || rec->usage == TLSA_USAGE_PKIX_EE)
        return TLSA_PKIX_USAGE;
    if (!known_selector)
        return TLSA_UNKNOWN_SELECTOR;
    if (!known_mtype)
        return TLSA_UNKNOWN_MTYPE;
    return TLSA_USABLE;
}

tlsa_status tlsa_parse(const unsigned char *rdata, size_t len, tlsa_record *rec)
{
    if (rec == NULL || (rdata == NULL && len > 0) || len > TLSA_RDATA_MAX)
        DANCE_PANIC("unexpected: rec == NULL || (rdata == NULL && len > 0) || len > TLSA_RDATA_MAX");
    memset(rec, 0, sizeof(*rec));

    if (len > 0)
        rec->usage = rdata[0];
    if (len > 1)
        rec->selector = rdata[1];
    if (len > 2)
        rec->mtype = rdata[2];
    if (len <= TLSA_FIXED_OCTETS) {
        rec->status = TLSA_SHORT_RDATA;
        return rec->status;
    }

    rec->len = len - TLSA_FIXED_OCTETS;
    rec->data = xmalloc(rec->len);
    memcpy(rec->data, rdata + TLSA_FIXED_OCTETS, rec->len);
    rec->status = tlsa_classify(rec);
    return rec->status;
}

void tlsa_record_clear(tlsa_record *rec)
{
    if (rec == NULL)
        DANCE_PANIC("unexpected: rec == NULL");
    free(rec->data);
    memset(rec, 0, sizeof(*rec));
}

bool tlsa_status_malformed(tlsa_status status)
{
    switch (status) {
    case TLSA_SHORT_RDATA:
    case TLSA_BAD_DIGEST_LENGTH:
    case TLSA_BAD_FULL_DATA:
        return true;
    case TLSA_USABLE:
    case TLSA_PKIX_USAGE:
    case TLSA_UNKNOWN_USAGE:
    case TLSA_UNKNOWN_SELECTOR:
    case TLSA_UNKNOWN_MTYPE:
        return false;
    }
    DANCE_PANIC("not a tlsa_status");
}

const char *tlsa_status_str(tlsa_status status)
{
    switch (status) {
    case TLSA_USABLE:
        return "usable";
    case TLSA_SHORT_RDATA:
        return "RDATA too short";
    case TLSA_BAD_DIGEST_LENGTH:
        return "digest length does not match the matching type";
    case TLSA_BAD_FULL_DATA:
        return "full data is not a DER certificate or public key";
    case TLSA_PKIX_USAGE:
        return "PKIX usage";
    case TLSA_UNKNOWN_USAGE:
        return "unknown certificate usage";
    case TLSA_UNKNOWN_SELECTOR:
        return "unknown selector";
    case TLSA_UNKNOWN_MTYPE:
        return "unknown matching type";
    }
    DANCE_PANIC("not a tlsa_status");
}

/*
 * tlsa_format - "U S M hexdata"; a record without data (short RDATA) gives
 * just "U S M".  When the text does not fit, as much of it as fits is kept
 * and the result ends in "...".  size must be at least 8.
 */
char *tlsa_format(const tlsa_record *rec, char *buf, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    static const char ellipsis[] = "...";
    char head[sizeof("255 255 255 ")];
    size_t headlen, total, keep;

    if (rec == NULL || buf == NULL || size < 8 || (rec->data == NULL && rec->len > 0))
        DANCE_PANIC("unexpected: rec == NULL || buf == NULL || size < 8 || (rec->data == NULL && rec->len > 0)");
    headlen = (size_t) snprintf(head, sizeof(head), rec->len > 0 ? "%u %u %u " : "%u %u %u",
                                rec->usage, rec->selector, rec->mtype);
    if (headlen >= sizeof(head))
        DANCE_PANIC("unexpected: headlen >= sizeof(head)");
    total = headlen + 2 * rec->len;
    keep = total < size ? total : size - sizeof(ellipsis);

    for (size_t i = 0; i < keep; i++) {
        if (i < headlen) {
            buf[i] = head[i];
        } else {
            unsigned char octet = rec->data[(i - headlen) / 2];

            buf[i] = digits[(i - headlen) % 2 == 0 ? octet >> 4 : octet & 0x0f];
        }
    }
    if (keep < total)
        memcpy(buf + keep, ellipsis, sizeof(ellipsis));
    else
        buf[keep] = '\0';
    return buf;
}
