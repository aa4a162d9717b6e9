/*
 * netaddr.h - IP addresses and networks, parsed from text and compared.
 *
 * A netaddr is an IPv4 or IPv6 address in network byte order; an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is taken as the IPv4 address
 * it maps, so the same client compares equal however a socket or an MTA
 * spelled it.  A netaddr_net is an address with a prefix length
 * ("10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128).
 * Used for the networks trusted_authserv_ids entries are bound to, for the
 * milter's client address and for telling loopback endpoints from others.
 */
#ifndef DANCE_LIB_NETADDR_H
#define DANCE_LIB_NETADDR_H

#include <stdbool.h>
#include <stddef.h>

#define NETADDR_TEXT_MAX 64           /* "ffff:...:ffff/128" and a NUL fit */

typedef struct netaddr {
    int family;                       /* AF_INET or AF_INET6; 0 for none */
    unsigned char a[16];              /* AF_INET: the first 4 bytes */
} netaddr;

typedef struct netaddr_net {
    netaddr addr;                     /* host bits zero */
    unsigned prefix;                  /* 0..32 or 0..128 */
} netaddr_net;

/*
 * netaddr_parse - an IPv4 or IPv6 literal; brackets ("[::1]") and an
 * "IPv6:" prefix (Postfix's client_address never has one, SMTP address
 * literals do) are accepted and dropped.  False when text is none.
 */
bool netaddr_parse(const char *text, netaddr *out);

/*
 * netaddr_parse_net - "ADDRESS" or "ADDRESS/PREFIX"; false with a reason in
 * why when the address is none, the prefix is out of range or host bits
 * are set ("10.0.0.1/8" is refused, as Postfix refuses it in mynetworks).
 */
bool netaddr_parse_net(const char *text, netaddr_net *out, char *why, size_t whysize);

/* netaddr_in_net - true when a lies within n (families must agree). */
bool netaddr_in_net(const netaddr *a, const netaddr_net *n);

/* netaddr_is_loopback - 127.0.0.0/8 or ::1. */
bool netaddr_is_loopback(const netaddr *a);

/* netaddr_format - the canonical text of a (inet_ntop), "" for none. */
void netaddr_format(const netaddr *a, char out[NETADDR_TEXT_MAX]);

#endif
