/*
 * config_check.c - checks of the configuration's string values.
 *
 * Each check validates the text of one value (or one list entry) and
 * writes the form to keep: paths ("none" and "" mean no file), addresses,
 * look-up domains and client names (identity_normalize()), authserv-ids
 * (folded to lower case, trailing dots dropped where they are compared),
 * "ID@NETWORK" trusted entries, socket endpoints (endpoint.h), user and
 * group names.  A check never allocates; out is at least a line long.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_private.h"
#include "dotrelay.h"
#include "endpoint.h"
#include "identity.h"
#include "netaddr.h"
#include "panic.h"

/* config_check_path - any text; "none", "" and a literal "" mean no file (kept as ""). */
bool config_check_path(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    if (strcmp(in, "none") == 0 || strcmp(in, "\"\"") == 0)
        in = "";
    if (strlen(in) >= outsize)
        DANCE_PANIC("out is at least a line long");
    strcpy(out, in);
    return true;
}

/*
 * config_check_address - a forwarder: an IPv4 or IPv6 address, optionally
 * "@port" (libunbound's form) and "#NAME" (DNS over TLS; whether NAME is
 * required or refused depends on forwarders_tls, checked after the load).
 */
bool config_check_address(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    dotrelay_forwarder f;
    dotrelay_addr_status st = dotrelay_parse_forwarder(in, false, &f);

    if (st != DOTRELAY_ADDR_OK) {
        snprintf(why, whysize, "\"%s\": %s; expected IP, IP@PORT, IP#NAME or IP@PORT#NAME", in,
                 dotrelay_addr_status_str(st));
        return false;
    }
    if (strlen(in) >= outsize)
        DANCE_PANIC("unexpected: strlen(in) >= outsize");
    strcpy(out, in);
    return true;
}

/* config_check_domain - a look-up domain: one leading dot allowed, then identity_normalize(). */
bool config_check_domain(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    identity_status st;

    if (outsize < IDENTITY_NAME_MAX)
        DANCE_PANIC("unexpected: outsize < IDENTITY_NAME_MAX");
    st = identity_normalize(in[0] == '.' ? in + 1 : in, out);
    if (st != IDENTITY_OK) {
        snprintf(why, whysize, "bad domain \"%s\": %s", in, identity_status_str(st));
        return false;
    }
    return true;
}

/* config_check_client - an authorized_clients entry: a name, or ".domain"; the dot is kept. */
bool config_check_client(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    size_t dot = (in[0] == '.');
    identity_status st;

    if (outsize < IDENTITY_NAME_MAX + 1)
        DANCE_PANIC("unexpected: outsize < IDENTITY_NAME_MAX + 1");
    st = identity_normalize(in + dot, out + dot);
    if (st != IDENTITY_OK) {
        snprintf(why, whysize, "bad name \"%s\": %s", in, identity_status_str(st));
        return false;
    }
    if (dot)
        out[0] = '.';
    return true;
}

/* config_check_absolute_path - "none", "" or a literal "" (kept as ""), else a path starting with '/'. */
bool config_check_absolute_path(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    if (!config_check_path(in, out, outsize, why, whysize))
        return false;
    if (out[0] != '\0' && out[0] != '/') {
        snprintf(why, whysize, "not an absolute path: \"%s\"", in);
        return false;
    }
    return true;
}

/* config_check_authserv_id - empty (the host's FQDN), or letters, digits, '-' and '.' (RFC 8601). */
bool config_check_authserv_id(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    size_t len = strlen(in);

    if (len > CONFIG_AUTHSERV_ID_MAX) {
        snprintf(why, whysize, "longer than %d characters", CONFIG_AUTHSERV_ID_MAX);
        return false;
    }
    for (const char *p = in; *p != '\0'; p++) {
        unsigned char c = (unsigned char) *p;

        if (!(config_is_alpha(c) || config_is_digit(c) || c == '-' || c == '.')) {
            snprintf(why, whysize, "not an authserv-id: \"%s\" (use letters, digits, \"-\" and \".\")", in);
            return false;
        }
    }
    if (len >= outsize)
        DANCE_PANIC("unexpected: len >= outsize");
    strcpy(out, in);
    return true;
}

/* config_check_endpoint - a policy_socket value endpoint_parse() accepts; kept as written. */
bool config_check_endpoint(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    endpoint ep;

    if (!endpoint_parse(in, &ep, why, whysize))
        return false;
    if (strlen(in) >= outsize)
        DANCE_PANIC("unexpected: strlen(in) >= outsize");
    strcpy(out, in);
    return true;
}

/* config_check_optional_endpoint - "none", "" or a literal "" (kept as ""), else an endpoint. */
bool config_check_optional_endpoint(const char *in, char *out, size_t outsize, char *why,
                                           size_t whysize)
{
    if (strcmp(in, "none") == 0 || strcmp(in, "\"\"") == 0 || *in == '\0') {
        out[0] = '\0';
        return true;
    }
    return config_check_endpoint(in, out, outsize, why, whysize);
}

/*
 * config_check_servid_entry - a remove_authserv_ids entry: an authserv-id,
 * or ".domain" for every id under it; folded to lower case, trailing dots
 * dropped (the form hygiene compares in).
 */
bool config_check_servid_entry(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    size_t dot = in[0] == '.', len;

    if (in[dot] == '\0' || !config_check_authserv_id(in + dot, out + dot, outsize - dot, why, whysize)) {
        if (in[dot] == '\0')
            snprintf(why, whysize, "empty authserv-id");
        return false;
    }
    if (dot)
        out[0] = '.';
    for (char *p = out; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char) (*p - 'A' + 'a');
    len = strlen(out);
    while (len > dot && out[len - 1] == '.')
        out[--len] = '\0';
    if (len == dot || strstr(out + dot, "..") != NULL || out[dot] == '.') {
        snprintf(why, whysize, "not an authserv-id: \"%s\"", in);
        return false;
    }
    return true;
}

/*
 * config_check_trusted_entry - a trusted_authserv_ids entry: "ID@NETWORK",
 * the authserv-id of an internal host and the address or network it sends
 * from (RFC 8601 section 5 keeps such a field only when it came directly
 * from that host).  Kept as "id@network", the id in hygiene's form, the
 * network canonical.
 */
bool config_check_trusted_entry(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    const char *at = strrchr(in, '@');
    char raw[CONFIG_AUTHSERV_ID_MAX + 2], id[CONFIG_AUTHSERV_ID_MAX + 2], text[NETADDR_TEXT_MAX];
    netaddr_net net;
    size_t len;

    if (at == NULL) {
        snprintf(why, whysize, "\"%s\" names no network: write ID@ADDRESS or ID@NETWORK/PREFIX, the "
                 "host whose fields are kept (RFC 8601 section 5: only fields that came directly from it)",
                 in);
        return false;
    }
    len = (size_t) (at - in);
    if (len == 0 || len >= sizeof(raw) || in[0] == '.') {
        snprintf(why, whysize, "bad authserv-id in \"%s\"", in);
        return false;
    }
    memcpy(raw, in, len);
    raw[len] = '\0';
    if (!config_check_servid_entry(raw, id, sizeof(id), why, whysize))
        return false;
    if (!netaddr_parse_net(at + 1, &net, why, whysize))
        return false;
    netaddr_format(&net.addr, text);
    if ((size_t) snprintf(out, outsize, "%s@%s/%u", id, text, net.prefix) >= outsize)
        DANCE_PANIC("out is at least a line long");
    return true;
}

/* config_check_peer_user - a peer_users entry: "any", or a user name (config_check_account). */
bool config_check_peer_user(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    if (*in == '\0') {
        snprintf(why, whysize, "empty user name");
        return false;
    }
    return config_check_account(in, out, outsize, why, whysize);
}

/*
 * config_check_account - empty (the default), or a user or group name as
 * useradd/groupadd make them: a letter or '_', then letters, digits, '_',
 * '-' and '.', at most CONFIG_ACCOUNT_MAX.  Whether it exists is for
 * getpwnam()/getgrnam() in danced to say.
 */
bool config_check_account(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    size_t len = strlen(in);
    bool ok = len <= CONFIG_ACCOUNT_MAX;

    for (size_t i = 0; ok && i < len; i++) {
        unsigned char c = (unsigned char) in[i];

        ok = config_is_alpha(c) || c == '_' || (i > 0 && (config_is_digit(c) || c == '-' || c == '.'));
    }
    if (!ok) {
        snprintf(why, whysize, "bad name \"%s\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; "
                 "at most %d)", in, CONFIG_ACCOUNT_MAX);
        return false;
    }
    if (len >= outsize)
        DANCE_PANIC("unexpected: len >= outsize");
    strcpy(out, in);
    return true;
}

