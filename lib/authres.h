/*
 * authres.h - the Authentication-Results header field (RFC 8601).
 *
 * authres_format() writes one field holding only "dane" results (method
 * "dane" is unregistered, so it never shares a field with other methods:
 * SpamAssassin drops whole fields with unknown methods).  Everything copied
 * in is validated first: the authserv-id and property values must be
 * dot-atoms / domain names, comments are escaped.  Lines are folded under 78
 * columns where possible and never exceed 998.
 * authres_parse_servid() reads the authserv-id of a received field robustly
 * (CFWS, quoted strings, folding) for removing forged copies of our own.
 */
#ifndef DANCE_LIB_AUTHRES_H
#define DANCE_LIB_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHRES_FIELD_MAX 4096  /* whole field, folded, NUL included */
#define AUTHRES_SERVID_MAX 256

typedef enum {
    AUTHRES_OK = 0,
    AUTHRES_BAD_SERVID,     /* authserv-id is not a valid value */
    AUTHRES_BAD_PROPERTY,   /* a property value is not a valid domain/dot-atom */
    AUTHRES_TOO_LONG,       /* does not fit the output buffer */
    AUTHRES_SYNTAX          /* (parse) field value does not start with an authserv-id */
} authres_status;

typedef struct authres_item {
    const char *result;     /* RFC 8601 result word */
    const char *reason;     /* comment text (escaped on output), or NULL */
    const char *ptype;      /* "smtp" */
    const char *property;   /* "helo", "mailfrom", ... */
    const char *value;      /* validated domain name */
} authres_item;

/*
 * authres_format - write "Authentication-Results: SERVID;\r\n\tdane=..." style
 * text: with_name != 0 includes the "Authentication-Results: " prefix; lines
 * are separated by "\n\t" (callers convert if needed); "none" is written when n == 0.
 */
authres_status authres_format(const char *servid, const authres_item *items, size_t n,
                              int with_name, char *out, size_t outsize);

/* authres_parse_servid - extract the authserv-id from a field value (without the name) into out. */
authres_status authres_parse_servid(const char *value, char *out, size_t outsize);

/*
 * authres_norm_servid - the form in which authserv-ids are compared: white
 * space around it dropped, ASCII folded to lower case, every trailing dot
 * dropped ("MX.Example.." is "mx.example").  False when nothing is left or
 * it holds anything but RFC 2045 token characters (a quoted id such as
 * "mx.example; dane=pass" is no authserv-id anyone should honour).
 */
bool authres_norm_servid(const char *id, char *out, size_t outsize);

/* How one normalized authserv-id relates to another. */
typedef enum {
    AUTHRES_ID_OTHER = 0,           /* neither */
    AUTHRES_ID_SAME,                /* equal */
    AUTHRES_ID_UNDER                /* a name under it: ends in "." + it */
} authres_id_relation;

/* authres_servid_relation - how normalized id a relates to normalized id b. */
authres_id_relation authres_servid_relation(const char *a, const char *b);

/* authres_status_str - short English text for a status. */
const char *authres_status_str(authres_status status);

#endif
