/*
 * identity.h - claimed names and the TLSA owner names derived from them.
 *
 * A claimed identity is a DNS host name the client asserts in SMTP (EHLO
 * name, MAIL FROM domain, reverse-DNS name).  identity_normalize() accepts
 * only LDH A-labels (at most 63 octets each, 253 in all, two labels or more,
 * not an IP literal), folds to lower case and drops one trailing dot.
 * Nothing that has not passed through it may reach the resolver.
 * Owner convention (documented in README): _smtp-client.NAME, and optionally
 * _25._tcp.NAME (the host's own SMTP server TLSA, RFC 7672).
 */
#ifndef DANCE_LIB_IDENTITY_H
#define DANCE_LIB_IDENTITY_H

#include <stddef.h>
#include <stdbool.h>

#define IDENTITY_NAME_MAX 254      /* 253 octets + NUL */
#define IDENTITY_OWNER_MAX 254     /* an owner name must fit in 253 octets too */

typedef enum {
    IDENTITY_OK = 0,
    IDENTITY_EMPTY,            /* empty string or just "." */
    IDENTITY_TOO_LONG,         /* over 253 octets (or the owner name would be) */
    IDENTITY_LABEL_TOO_LONG,   /* a label over 63 octets */
    IDENTITY_EMPTY_LABEL,      /* ".." or a leading dot */
    IDENTITY_BAD_CHAR,         /* anything but letters, digits, hyphen, dot */
    IDENTITY_BAD_HYPHEN,       /* label starting or ending with a hyphen */
    IDENTITY_SINGLE_LABEL,     /* fewer than two labels */
    IDENTITY_IP_LITERAL,       /* [1.2.3.4], an IPv4 dotted quad, or an all-numeric top label */
    IDENTITY_OUT_OF_SCOPE      /* valid, but not under a configured look-up domain */
} identity_status;

typedef enum {
    IDENTITY_OWNER_CLIENT = 0, /* _smtp-client.NAME */
    IDENTITY_OWNER_SERVER      /* _25._tcp.NAME */
} identity_owner_kind;

/* identity_normalize - validate a claimed name and write its canonical form into out. */
identity_status identity_normalize(const char *in, char out[IDENTITY_NAME_MAX]);

/*
 * identity_in_list - true when a normalized name is listed: an entry
 * "mta.example.net" is that name only, ".example.net" any name under
 * example.net (not example.net itself).  Case-insensitive.
 */
bool identity_in_list(const char *name, const char *const *list, size_t n);

/* identity_owner - build the TLSA owner name for a normalized name. */
identity_status identity_owner(const char *name, identity_owner_kind kind, char out[IDENTITY_OWNER_MAX]);

/* identity_normalize_owner - like identity_normalize, but labels may also be "_" + LDH (for an explicit --owner). */
identity_status identity_normalize_owner(const char *in, char out[IDENTITY_OWNER_MAX]);

/* identity_in_scope - true when name equals or is under one of the normalized domains (n == 0: everything). */
bool identity_in_scope(const char *name, const char *const *domains, size_t n);

/* identity_mail_domain - extract and normalize the domain of an envelope address (local@domain). */
identity_status identity_mail_domain(const char *address, char out[IDENTITY_NAME_MAX]);

/* identity_status_str - short English reason for a status. */
const char *identity_status_str(identity_status status);

#endif
