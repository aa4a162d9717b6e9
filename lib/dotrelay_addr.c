/*
 * dotrelay_addr.c - the forwarder syntax: IP, IP@PORT, IP#NAME, IP@PORT#NAME.
 *
 * USAGE
 *	dotrelay_forwarder f;
 *	if (dotrelay_parse_forwarder("192.0.2.1@853#dns.example", true, &f) != DOTRELAY_ADDR_OK) ...
 *
 * DESCRIPTION
 *	Pure parsing, shared by the configuration checks (config_check.c)
 *	and the relay (dotrelay.c).  The port defaults to 853 with TLS and to
 *	53 without; NAME (the name the forwarder's certificate must carry) is
 *	a host name of letters, digits, '-' and '.', at most 253 octets, a
 *	trailing dot dropped, lower-cased.  With TLS a NAME is required:
 *	there is no unauthenticated TLS.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dotrelay.h"

/* dotrelay_name_ok - copy a host name lower-cased into out; false when it is not one. */
static bool dotrelay_name_ok(const char *in, size_t len, char *out)
{
    size_t i, label = 0;

    if (len > 0 && in[len - 1] == '.')
        len--;
    if (len == 0 || len > DOTRELAY_NAME_MAX)
        return false;
    for (i = 0; i < len; i++) {
        char c = in[i];

        if (c == '.') {
            if (label == 0 || in[i - 1] == '-')
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                   (c >= 'A' && c <= 'Z')) {
            if (c == '-' && label == 0)
                return false;
            if (++label > 63)
                return false;
        } else {
            return false;
        }
        out[i] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
    }
    if (in[len - 1] == '-')
        return false;
    out[len] = '\0';
    return true;
}

/* dotrelay_parse_forwarder - parse one forwarder; tls decides the default port and whether NAME is required. */
dotrelay_addr_status dotrelay_parse_forwarder(const char *in, bool tls, dotrelay_forwarder *out)
{
    const char *hash = strchr(in, '#');
    const char *end = hash ? hash : in + strlen(in);
    const char *at = memchr(in, '@', (size_t) (end - in));
    size_t iplen = (size_t) ((at ? at : end) - in);
    unsigned char addr[sizeof(struct in6_addr)];

    memset(out, 0, sizeof(*out));
    if (iplen == 0 || iplen >= sizeof(out->ip))
        return DOTRELAY_ADDR_BAD_IP;
    memcpy(out->ip, in, iplen);
    out->ip[iplen] = '\0';
    if (inet_pton(AF_INET, out->ip, addr) != 1 && inet_pton(AF_INET6, out->ip, addr) != 1)
        return DOTRELAY_ADDR_BAD_IP;
    out->port = tls ? DOTRELAY_DEFAULT_TLS_PORT : DOTRELAY_DEFAULT_PORT;
    if (at != NULL) {
        unsigned long port = 0;
        const char *p;

        if (at + 1 == end || end - (at + 1) > 5)
            return DOTRELAY_ADDR_BAD_PORT;
        for (p = at + 1; p < end; p++) {
            if (*p < '0' || *p > '9')
                return DOTRELAY_ADDR_BAD_PORT;
            port = port * 10 + (unsigned long) (*p - '0');
        }
        if (port == 0 || port > 65535)
            return DOTRELAY_ADDR_BAD_PORT;
        out->port = (unsigned) port;
    }
    if (hash != NULL) {
        if (!dotrelay_name_ok(hash + 1, strlen(hash + 1), out->name))
            return DOTRELAY_ADDR_BAD_NAME;
    } else if (tls) {
        return DOTRELAY_ADDR_NO_NAME;
    }
    return DOTRELAY_ADDR_OK;
}

/* dotrelay_addr_status_str - what a parse status means, for error messages. */
const char *dotrelay_addr_status_str(dotrelay_addr_status st)
{
    switch (st) {
    case DOTRELAY_ADDR_OK:
        return "ok";
    case DOTRELAY_ADDR_BAD_IP:
        return "not an IP address";
    case DOTRELAY_ADDR_BAD_PORT:
        return "bad port after @ (1-65535)";
    case DOTRELAY_ADDR_BAD_NAME:
        return "bad authentication name after #";
    case DOTRELAY_ADDR_NO_NAME:
        return "no #NAME: forwarders_tls needs the name each forwarder's certificate carries";
    }
    return "unknown";
}
