/*
 * tlsa.h - TLSA resource records: parsing and classification.
 *
 * tlsa_parse() turns the RDATA of one TLSA record (RFC 6698 section 2.1) into
 * a tlsa_record and classifies it as usable for SMTP client authentication or
 * unusable with a reason.  Unusable records are not errors (RFC 6698 4.1);
 * the verdict code distinguishes "malformed" (permerror when nothing else is
 * well-formed) from "well-formed but not usable" (PKIX usages, unknown
 * parameters).  Records are owned by the caller: tlsa_record_clear() frees.
 */
#ifndef DANCE_LIB_TLSA_H
#define DANCE_LIB_TLSA_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum {
    TLSA_USAGE_PKIX_TA = 0,
    TLSA_USAGE_PKIX_EE = 1,
    TLSA_USAGE_DANE_TA = 2,
    TLSA_USAGE_DANE_EE = 3
};
enum { TLSA_SELECTOR_CERT = 0, TLSA_SELECTOR_SPKI = 1 };
enum { TLSA_MTYPE_FULL = 0, TLSA_MTYPE_SHA256 = 1, TLSA_MTYPE_SHA512 = 2 };

/* Largest RDATA we accept: a TLSA RDATA cannot exceed the 65535-octet RR limit. */
#define TLSA_RDATA_MAX 65535

typedef enum {
    TLSA_USABLE = 0,
    TLSA_SHORT_RDATA,       /* malformed: fewer than 4 octets (no data) */
    TLSA_BAD_DIGEST_LENGTH, /* malformed: SHA-256 data not 32 octets, SHA-512 not 64 */
    TLSA_BAD_FULL_DATA,     /* malformed: type 0 data is not a DER certificate / SPKI */
    TLSA_PKIX_USAGE,        /* well-formed, unusable in SMTP (RFC 7672 3.1.3) */
    TLSA_UNKNOWN_USAGE,     /* well-formed as far as we can tell, unknown parameter */
    TLSA_UNKNOWN_SELECTOR,
    TLSA_UNKNOWN_MTYPE
} tlsa_status;

typedef struct tlsa_record {
    uint8_t usage;
    uint8_t selector;
    uint8_t mtype;
    unsigned char *data;    /* malloc'd copy of the association data (may be NULL if len 0) */
    size_t len;
    tlsa_status status;     /* classification */
} tlsa_record;

/* tlsa_parse - parse and classify one TLSA RDATA; fills *rec and returns rec->status. */
tlsa_status tlsa_parse(const unsigned char *rdata, size_t len, tlsa_record *rec);

/* tlsa_record_clear - free the data of a record and zero it. */
void tlsa_record_clear(tlsa_record *rec);

/* tlsa_status_malformed - true for statuses that mean the record data is broken. */
bool tlsa_status_malformed(tlsa_status status);

/* tlsa_status_str - short English reason for a classification ("usable", "PKIX usage", ...). */
const char *tlsa_status_str(tlsa_status status);

/* tlsa_format - write "U S M hexdata" into buf (truncated with "..." if buf is small); returns buf. */
char *tlsa_format(const tlsa_record *rec, char *buf, size_t size);

#endif
