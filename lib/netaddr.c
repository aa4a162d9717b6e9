/*
 * netaddr.c - IP addresses and networks, parsed from text and compared.
 *
 * USAGE
 *	netaddr a; netaddr_net n; char why[128];
 *	if (netaddr_parse("192.0.2.7", &a) && netaddr_parse_net("192.0.2.0/24", &n, why, sizeof(why))
 *	    && netaddr_in_net(&a, &n)) ...
 *
 * DESCRIPTION
 *	Parsing is inet_pton(3) after the decorations are dropped; nothing
 *	else (no names, no shortened IPv4 forms such as "10.1").  A prefix
 *	is decimal, at most three digits, within the family's width.
 *	Comparison is bytewise over the prefix.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "netaddr.h"

/* netaddr_bytes - the address length of a family. */
static size_t netaddr_bytes(int family)
{
    return family == AF_INET ? 4 : 16;
}

/* netaddr_parse - an IPv4 or IPv6 literal. */
bool netaddr_parse(const char *text, netaddr *out)
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    char buf[NETADDR_TEXT_MAX];
    size_t len;

    memset(out, 0, sizeof(*out));
    if (text == NULL)
        return false;
    if (strncasecmp(text, "IPv6:", 5) == 0)
        text += 5;
    len = strlen(text);
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out->a) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out->a) != 1)
        return false;
    out->family = AF_INET6;
    if (memcmp(out->a, mapped, sizeof(mapped)) == 0) {     /* ::ffff:a.b.c.d */
        memmove(out->a, out->a + 12, 4);
        memset(out->a + 4, 0, 12);
        out->family = AF_INET;
    }
    return true;
}

/* netaddr_parse_net - "ADDRESS" or "ADDRESS/PREFIX". */
bool netaddr_parse_net(const char *text, netaddr_net *out, char *why, size_t whysize)
{
    char addr[NETADDR_TEXT_MAX];
    const char *slash = strchr(text, '/');
    size_t len = slash != NULL ? (size_t) (slash - text) : strlen(text);
    unsigned prefix = 0, width;

    memset(out, 0, sizeof(*out));
    if (len >= sizeof(addr)) {
        snprintf(why, whysize, "not an IP address or network: \"%.64s\"", text);
        return false;
    }
    memcpy(addr, text, len);
    addr[len] = '\0';
    if (!netaddr_parse(addr, &out->addr)) {
        snprintf(why, whysize, "not an IP address or network: \"%.64s\"", text);
        return false;
    }
    width = (unsigned) netaddr_bytes(out->addr.family) * 8;
    if (slash == NULL) {
        out->prefix = width;
        return true;
    }
    if (slash[1] == '\0' || strlen(slash + 1) > 3) {
        snprintf(why, whysize, "bad prefix length in \"%.64s\"", text);
        return false;
    }
    for (const char *p = slash + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            snprintf(why, whysize, "bad prefix length in \"%.64s\"", text);
            return false;
        }
        prefix = prefix * 10 + (unsigned) (*p - '0');
    }
    if (prefix > width) {
        snprintf(why, whysize, "prefix length %u is over %u in \"%.64s\"", prefix, width, text);
        return false;
    }
    out->prefix = prefix;
    for (unsigned bit = prefix; bit < width; bit++) {
        if (out->addr.a[bit / 8] & (0x80u >> (bit % 8))) {
            snprintf(why, whysize, "\"%.64s\" has host bits set (write the network address)", text);
            return false;
        }
    }
    return true;
}

/* netaddr_in_net - true when a lies within n. */
bool netaddr_in_net(const netaddr *a, const netaddr_net *n)
{
    unsigned whole = n->prefix / 8, rest = n->prefix % 8;

    if (a->family == 0 || a->family != n->addr.family)
        return false;
    if (memcmp(a->a, n->addr.a, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a->a[whole] ^ n->addr.a[whole]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

/* netaddr_is_loopback - 127.0.0.0/8 or ::1. */
bool netaddr_is_loopback(const netaddr *a)
{
    static const unsigned char one[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

    if (a->family == AF_INET)
        return a->a[0] == 127;
    return a->family == AF_INET6 && memcmp(a->a, one, sizeof(one)) == 0;
}

/* netaddr_format - the canonical text of a, "" for none. */
void netaddr_format(const netaddr *a, char out[NETADDR_TEXT_MAX])
{
    out[0] = '\0';
    if (a->family == 0 || inet_ntop(a->family, a->a, out, NETADDR_TEXT_MAX) == NULL)
        out[0] = '\0';
}
