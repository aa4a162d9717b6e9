/*
 * endpoint.h - Postfix's socket endpoint syntax, split for socket(2) and bind(2).
 *
 *   inet:HOST:PORT     HOST an IPv4 literal, or a host name (bound with
 *                      getaddrinfo: every address it has)
 *   inet:[IPv6]:PORT   an IPv6 literal in brackets
 *   unix:/path         an absolute path that fits sockaddr_un
 * Used for policy_socket and milter_socket: the configuration checks a
 * value with it, danced binds what it returns.
 */
#ifndef DANCE_LIB_ENDPOINT_H
#define DANCE_LIB_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#define ENDPOINT_HOST_MAX 253         /* a host name in inet:HOST:PORT */

/*
 * One endpoint:
 *   AF_INET   host is an IPv4 literal, port 1..65535
 *   AF_INET6  host is an IPv6 literal (written in brackets; kept without), port
 *   AF_UNSPEC host is a host name ("localhost") to resolve with getaddrinfo(), port
 *   AF_UNIX   path is absolute and fits sun_path (at most 107 bytes)
 */
typedef struct endpoint {
    int family;                       /* AF_INET, AF_INET6, AF_UNSPEC (a name) or AF_UNIX */
    char host[256];                   /* inet: the address or name, NUL-terminated */
    unsigned port;                    /* inet: 1..65535 */
    char path[108];                   /* unix: the socket path */
} endpoint;

/* endpoint_port - a port number, 1..65535, digits only; false for anything else. */
bool endpoint_port(const char *s, unsigned *port);

/* endpoint_parse - split text; false with a reason in why (naming the fix where there is one). */
bool endpoint_parse(const char *text, endpoint *ep, char *why, size_t whysize);

#endif
