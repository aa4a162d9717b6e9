/*
 * identity.c - claimed names and the TLSA owner names derived from them.
 *
 * Usage:
 *	char name[IDENTITY_NAME_MAX], owner[IDENTITY_OWNER_MAX];
 *	if (identity_normalize(ehlo, name) == IDENTITY_OK
 *	    && identity_in_scope(name, domains, ndomains)
 *	    && identity_owner(name, IDENTITY_OWNER_CLIENT, owner) == IDENTITY_OK)
 *	    ... look up TLSA at owner ...
 *
 * Claimed names arrive from the SMTP client (EHLO, MAIL FROM) and are hostile
 * text of any length.  identity_normalize() is the single gate in front of
 * the resolver: it reads at most IDENTITY_NAME_MAX + 1 characters, drops one
 * trailing dot, and accepts only host names made of LDH labels (letters,
 * digits, inner hyphens; at most 63 octets each, 253 in all, at least two
 * labels).  Anything else is refused with a status, never repaired:
 *
 *   "" or "."                          IDENTITY_EMPTY
 *   leading dot, "..", two final dots  IDENTITY_EMPTY_LABEL
 *   "[...]" literal, dotted quad, or
 *   any name whose last label is all
 *   digits                             IDENTITY_IP_LITERAL
 *   "_", ";", space, CR/LF, 8-bit      IDENTITY_BAD_CHAR (U-labels are refused:
 *                                      IDNs must arrive as "xn--" A-labels)
 *
 * The result is folded to lower case.  identity_normalize_owner() is the
 * same gate for an owner name given explicitly by the operator, where a label
 * may also be "_" followed by LDH characters ("_smtp-client", "_25", "_tcp").
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity.h"
#include "panic.h"

#define IDENTITY_LABEL_MAX 63
#define IDENTITY_TEXT_MAX (IDENTITY_NAME_MAX - 1)   /* 253 octets */

static const char identity_client_prefix[] = "_smtp-client.";
static const char identity_server_prefix[] = "_25._tcp.";

static bool identity_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool identity_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char identity_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/*
 * identity_check_label - check one label of len octets (no dots in it).
 * With underscore, a label may also be "_" followed by an LDH label.
 */
static identity_status identity_check_label(const char *label, size_t len, bool underscore)
{
    if (len == 0)
        return IDENTITY_EMPTY_LABEL;
    if (len > IDENTITY_LABEL_MAX)
        return IDENTITY_LABEL_TOO_LONG;
    if (underscore && label[0] == '_') {
        label++;
        len--;
        if (len == 0)
            return IDENTITY_BAD_CHAR;   /* a lone "_" */
    }
    for (size_t i = 0; i < len; i++) {
        if (!identity_is_alpha(label[i]) && !identity_is_digit(label[i]) && label[i] != '-')
            return IDENTITY_BAD_CHAR;
    }
    if (label[0] == '-' || label[len - 1] == '-')
        return IDENTITY_BAD_HYPHEN;
    return IDENTITY_OK;
}

/* identity_bounded_len - strlen(s), but reading at most max characters. */
static size_t identity_bounded_len(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n] != '\0')
        n++;
    return n;
}

/* identity_all_digits - true when the len octets at s are all decimal digits. */
static bool identity_all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!identity_is_digit(s[i]))
            return false;
    }
    return true;
}

/* identity_check - the common gate; see the top of this file. */
static identity_status identity_check(const char *in, char out[IDENTITY_NAME_MAX], bool underscore)
{
    size_t len, start, labels = 0;
    identity_status status;

    if (in == NULL || out == NULL)
        DANCE_PANIC("unexpected: in == NULL || out == NULL");
    out[0] = '\0';

    /* Never read past the NUL, nor much beyond what could be valid. */
    len = identity_bounded_len(in, IDENTITY_NAME_MAX + 1);
    if (len > IDENTITY_NAME_MAX)
        return IDENTITY_TOO_LONG;
    if (len == 0 || (len == 1 && in[0] == '.'))
        return IDENTITY_EMPTY;
    if (in[0] == '[')
        return IDENTITY_IP_LITERAL;
    if (in[len - 1] == '.')
        len--;                          /* one trailing dot is tolerated */
    if (len > IDENTITY_TEXT_MAX)
        return IDENTITY_TOO_LONG;

    /* Each label, including the last, ends at a dot or at len. */
    for (start = 0; start <= len; labels++) {
        const char *dot = memchr(in + start, '.', len - start);
        size_t end = dot != NULL ? (size_t) (dot - in) : len;

        if ((status = identity_check_label(in + start, end - start, underscore)) != IDENTITY_OK)
            return status;
        if (end == len && identity_all_digits(in + start, end - start))
            return IDENTITY_IP_LITERAL; /* dotted quad or numeric top label */
        start = end + 1;
    }
    if (labels < 2)
        return IDENTITY_SINGLE_LABEL;

    for (size_t i = 0; i < len; i++)
        out[i] = identity_lower(in[i]);
    out[len] = '\0';
    return IDENTITY_OK;
}

identity_status identity_normalize(const char *in, char out[IDENTITY_NAME_MAX])
{
    return identity_check(in, out, false);
}

identity_status identity_normalize_owner(const char *in, char out[IDENTITY_OWNER_MAX])
{
    return identity_check(in, out, true);
}

/*
 * identity_owner - the name is validated again (a caller that skipped
 * identity_normalize() gets its status back rather than a bad owner).
 */
identity_status identity_owner(const char *name, identity_owner_kind kind, char out[IDENTITY_OWNER_MAX])
{
    char canon[IDENTITY_NAME_MAX];
    const char *prefix;
    size_t plen, nlen;
    identity_status status;

    if (name == NULL || out == NULL)
        DANCE_PANIC("unexpected: name == NULL || out == NULL");
    out[0] = '\0';
    switch (kind) {
    case IDENTITY_OWNER_CLIENT:
        prefix = identity_client_prefix;
        break;
    case IDENTITY_OWNER_SERVER:
        prefix = identity_server_prefix;
        break;
    default:
        DANCE_PANIC("not an identity_owner_kind");
    }
    if ((status = identity_normalize(name, canon)) != IDENTITY_OK)
        return status;
    plen = strlen(prefix);
    nlen = strlen(canon);
    if (plen + nlen > IDENTITY_TEXT_MAX)
        return IDENTITY_TOO_LONG;
    memcpy(out, prefix, plen);
    memcpy(out + plen, canon, nlen + 1);
    return IDENTITY_OK;
}

/* identity_same - ASCII case-insensitive comparison of len octets. */
static bool identity_same(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (identity_lower(a[i]) != identity_lower(b[i]))
            return false;
    }
    return true;
}

bool identity_in_scope(const char *name, const char *const *domains, size_t n)
{
    size_t nlen;

    if (name == NULL || (domains == NULL && n > 0))
        DANCE_PANIC("unexpected: name == NULL || (domains == NULL && n > 0)");
    if (n == 0)
        return true;
    nlen = strlen(name);
    for (size_t i = 0; i < n; i++) {
        size_t dlen;

        if (domains[i] == NULL)
            DANCE_PANIC("unexpected: domains[i] == NULL");
        dlen = strlen(domains[i]);
        if (dlen == 0 || dlen > nlen)
            continue;
        if (dlen == nlen && identity_same(name, domains[i], nlen))
            return true;
        /* under the domain: the match must start right after a dot */
        if (dlen < nlen && name[nlen - dlen - 1] == '.'
            && identity_same(name + nlen - dlen, domains[i], dlen))
            return true;
    }
    return false;
}

/*
 * identity_mail_domain - the domain is whatever follows the last "@" (a
 * quoted local part may contain "@" too), inside optional angle brackets.
 * The null sender ("" or "<>") and an address without "@" have no domain.
 */
identity_status identity_mail_domain(const char *address, char out[IDENTITY_NAME_MAX])
{
    char domain[IDENTITY_NAME_MAX + 2];
    const char *at, *end;
    size_t len;

    if (address == NULL || out == NULL)
        DANCE_PANIC("unexpected: address == NULL || out == NULL");
    out[0] = '\0';

    end = address + strlen(address);
    if (address[0] == '<') {
        if (end == address + 1 || end[-1] != '>')
            return IDENTITY_BAD_CHAR;   /* unbalanced bracket */
        address++;
        end--;
    }
    if (end == address)
        return IDENTITY_EMPTY;          /* null sender */
    at = NULL;
    for (const char *p = address; p < end; p++) {
        if (*p == '@')
            at = p;
    }
    if (at == NULL)
        return IDENTITY_EMPTY;          /* no domain part */

    len = (size_t) (end - (at + 1));
    if (len >= sizeof(domain))
        return IDENTITY_TOO_LONG;
    memcpy(domain, at + 1, len);
    domain[len] = '\0';
    return identity_normalize(domain, out);
}

const char *identity_status_str(identity_status status)
{
    switch (status) {
    case IDENTITY_OK:
        return "ok";
    case IDENTITY_EMPTY:
        return "empty name";
    case IDENTITY_TOO_LONG:
        return "name too long";
    case IDENTITY_LABEL_TOO_LONG:
        return "label too long";
    case IDENTITY_EMPTY_LABEL:
        return "empty label";
    case IDENTITY_BAD_CHAR:
        return "invalid character in name";
    case IDENTITY_BAD_HYPHEN:
        return "label starts or ends with a hyphen";
    case IDENTITY_SINGLE_LABEL:
        return "single-label name";
    case IDENTITY_IP_LITERAL:
        return "IP address literal";
    case IDENTITY_OUT_OF_SCOPE:
        return "name outside the look-up scope";
    }
    DANCE_PANIC("not an identity_status");
}

/* identity_in_list - true when a normalized name is listed (".domain": any name under it). */
bool identity_in_list(const char *name, const char *const *list, size_t n)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i < n; i++) {
        const char *entry = list[i];
        size_t elen = strlen(entry);

        if (entry[0] == '.') {
            /* a name under the domain: at least one label, then ".domain" */
            if (nlen > elen && strcasecmp(name + nlen - elen, entry) == 0)
                return true;
        } else if (strcasecmp(name, entry) == 0) {
            return true;
        }
    }
    return false;
}
