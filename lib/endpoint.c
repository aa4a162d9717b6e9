/*
 * endpoint.c - Postfix's socket endpoint syntax, split for socket(2) and bind(2).
 *
 * USAGE
 *	endpoint ep; char why[256];
 *	if (!endpoint_parse("inet:[::1]:10040", &ep, why, sizeof(why))) ... why ...
 *
 * DESCRIPTION
 *	Accepted: "inet:HOST:PORT" (an IPv4 literal or an LDH host name),
 *	"inet:[IPv6]:PORT", "unix:/absolute/path".  Refused with the fix
 *	named: Sendmail's "inet:PORT@HOST" form, an IPv6 literal without
 *	brackets, a relative unix: path (Postfix's "unix:private/x" is
 *	relative to its queue directory; danced needs the absolute one),
 *	ports outside 1..65535, paths too long for sun_path.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "endpoint.h"
#include "panic.h"

/* A unix: path that fits endpoint.path also fits sockaddr_un. */
_Static_assert(sizeof(((endpoint *) 0)->path) <= sizeof(((struct sockaddr_un *) 0)->sun_path),
               "endpoint.path fits sun_path");

static bool endpoint_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool endpoint_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* endpoint_port - parse a port, 1..65535, digits only. */
bool endpoint_port(const char *s, unsigned *port)
{
    unsigned long n = 0;

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        n = n * 10 + (unsigned long) (*s - '0');
        if (n > 65535)
            return false;
    }
    *port = (unsigned) n;
    return n > 0;
}

/* endpoint_host_name - LDH labels of 1..63 octets, at most ENDPOINT_HOST_MAX in all; one label is fine. */
static bool endpoint_host_name(const char *name)
{
    size_t label = 0, len = strlen(name);

    if (len == 0 || len > ENDPOINT_HOST_MAX)
        return false;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char) name[i];

        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || name[i - 1] == '-')
                return false;
            label = 0;
        } else if (endpoint_is_alpha(c) || endpoint_is_digit(c) || (c == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* endpoint_unix - the path after "unix:". */
static bool endpoint_unix(const char *path, endpoint *ep, char *why, size_t whysize)
{
    size_t len = strlen(path);

    if (path[0] != '/') {
        snprintf(why, whysize, "unix: needs an absolute path: \"%s\"", path);
        return false;
    }
    if (len >= sizeof(ep->path)) {
        snprintf(why, whysize, "socket path longer than %zu bytes", sizeof(ep->path) - 1);
        return false;
    }
    if (path[len - 1] == '/') {
        snprintf(why, whysize, "socket path ends in \"/\": \"%s\"", path);
        return false;
    }
    memcpy(ep->path, path, len + 1);
    ep->family = AF_UNIX;
    return true;
}

/* endpoint_inet - the HOST:PORT or [IPv6]:PORT after "inet:". */
static bool endpoint_inet(const char *rest, endpoint *ep, char *why, size_t whysize)
{
    unsigned char addr[sizeof(struct in6_addr)];
    const char *host, *port;
    size_t hostlen;
    bool bracketed = (rest[0] == '[');

    if (bracketed) {
        const char *bracket = strchr(rest, ']');

        if (bracket == NULL) {
            snprintf(why, whysize, "missing \"]\" after the IPv6 address");
            return false;
        }
        if (bracket[1] != ':') {
            snprintf(why, whysize, "missing \":PORT\" after \"]\"");
            return false;
        }
        host = rest + 1;
        hostlen = (size_t) (bracket - host);
        port = bracket + 2;
    } else {
        const char *colon = strrchr(rest, ':');

        if (colon == NULL && strchr(rest, '@') != NULL) {
            snprintf(why, whysize, "\"%.64s\" is Sendmail's PORT@HOST form; write inet:HOST:PORT", rest);
            return false;
        }
        if (colon == NULL) {
            snprintf(why, whysize, "missing \":PORT\"");
            return false;
        }
        host = rest;
        hostlen = (size_t) (colon - rest);
        port = colon + 1;
    }
    if (hostlen == 0) {
        snprintf(why, whysize, "missing host");
        return false;
    }
    if (hostlen >= sizeof(ep->host)) {
        snprintf(why, whysize, "host longer than %zu bytes", sizeof(ep->host) - 1);
        return false;
    }
    memcpy(ep->host, host, hostlen);
    ep->host[hostlen] = '\0';

    if (bracketed) {
        if (inet_pton(AF_INET6, ep->host, addr) != 1) {
            snprintf(why, whysize, "bad IPv6 address \"%s\"", ep->host);
            return false;
        }
        ep->family = AF_INET6;
    } else if (strspn(ep->host, "0123456789.") == hostlen) {
        if (inet_pton(AF_INET, ep->host, addr) != 1) {
            snprintf(why, whysize, "bad IPv4 address \"%s\"", ep->host);
            return false;
        }
        ep->family = AF_INET;
    } else if (strchr(ep->host, ':') != NULL) {
        snprintf(why, whysize, "bad host \"%s\" (an IPv6 address goes in brackets: inet:[ADDRESS]:PORT)",
                 ep->host);
        return false;
    } else {
        const char *last = strrchr(ep->host, '.');

        /* an all-numeric last label ("example.123") is never a host name */
        last = last != NULL ? last + 1 : ep->host;
        if (!endpoint_host_name(ep->host) || strspn(last, "0123456789") == strlen(last)) {
            snprintf(why, whysize, "bad host \"%s\" (use an IPv4 address, a host name or [IPv6])", ep->host);
            return false;
        }
        ep->family = AF_UNSPEC;
    }
    if (!endpoint_port(port, &ep->port)) {
        snprintf(why, whysize, "bad port \"%s\" (use 1..65535)", port);
        return false;
    }
    return true;
}

bool endpoint_parse(const char *text, endpoint *ep, char *why, size_t whysize)
{
    bool ok;

    if (text == NULL || ep == NULL || (why == NULL && whysize > 0))
        DANCE_PANIC("unexpected: text == NULL || ep == NULL || (why == NULL && whysize > 0)");
    memset(ep, 0, sizeof(*ep));
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            snprintf(why, whysize, "control character in endpoint");
            return false;
        }
    }
    if (strncmp(text, "inet:", 5) == 0)
        ok = endpoint_inet(text + 5, ep, why, whysize);
    else if (strncmp(text, "unix:", 5) == 0)
        ok = endpoint_unix(text + 5, ep, why, whysize);
    else {
        snprintf(why, whysize, "expected inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path, not \"%s\"", text);
        ok = false;
    }
    if (!ok)
        memset(ep, 0, sizeof(*ep));
    return ok;
}

