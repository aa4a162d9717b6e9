/*
 * dotrelay.h - DNS over TLS to the forwarders, for a libunbound that has no TLS.
 *
 * Debian's libunbound is built with nettle and cannot speak TLS, so danced
 * and dance relay libunbound's plain DNS-over-TCP stream through a
 * loopback port of their own to the forwarders over OpenSSL TLS, with the
 * certificate and the forwarder's name (ADDR@PORT#NAME) verified.  See
 * dotrelay.c for the design; dotrelay_addr.c parses the forwarder syntax.
 */
#ifndef DANCE_LIB_DOTRELAY_H
#define DANCE_LIB_DOTRELAY_H

#include <stdbool.h>
#include <stddef.h>

#define DOTRELAY_DEFAULT_TLS_PORT 853
#define DOTRELAY_DEFAULT_PORT 53
#define DOTRELAY_NAME_MAX 253          /* the longest authentication name */
#define DOTRELAY_FORWARDERS_MAX 8      /* as RESOLVER_FORWARDERS_MAX */
#define DOTRELAY_CONN_MAX 16           /* libunbound connections relayed at once (outgoing-num-tcp) */
#define DOTRELAY_MSG_MAX 65535         /* the DNS-over-TCP length field's limit */

typedef enum {
    DOTRELAY_ADDR_OK = 0,
    DOTRELAY_ADDR_BAD_IP,       /* not an IPv4 or IPv6 address */
    DOTRELAY_ADDR_BAD_PORT,     /* "@" not followed by a port 1-65535 */
    DOTRELAY_ADDR_BAD_NAME,     /* "#" not followed by a host name */
    DOTRELAY_ADDR_NO_NAME       /* TLS asked for and no "#NAME" given */
} dotrelay_addr_status;

/* One forwarder: "IP", "IP@PORT", "IP#NAME" or "IP@PORT#NAME". */
typedef struct dotrelay_forwarder {
    char ip[46];                        /* INET6_ADDRSTRLEN */
    unsigned port;                      /* given, or the default for the transport */
    char name[DOTRELAY_NAME_MAX + 1];   /* the authentication name, "" when none */
} dotrelay_forwarder;

typedef struct dotrelay_config {
    const char *forwarders[DOTRELAY_FORWARDERS_MAX]; /* "IP@PORT#NAME" text, tried in order */
    size_t nforwarders;
    const char *ca_file;                /* CA bundle (PEM); NULL or "": the system's default paths */
    unsigned timeout_ms;                /* connect, handshake, each read and write */
} dotrelay_config;

typedef struct dotrelay dotrelay;

/* dotrelay_parse_forwarder - parse one forwarder; tls decides the default port and whether NAME is required. */
dotrelay_addr_status dotrelay_parse_forwarder(const char *in, bool tls, dotrelay_forwarder *out);

/* dotrelay_addr_status_str - what a parse status means, for error messages. */
const char *dotrelay_addr_status_str(dotrelay_addr_status st);

/* dotrelay_new - load the CA, listen on a loopback port, start the relay thread; NULL with a message. */
dotrelay *dotrelay_new(const dotrelay_config *cfg, char *err, size_t errsize);

/* dotrelay_port - the loopback TCP port libunbound is to forward to. */
unsigned dotrelay_port(const dotrelay *relay);

/* dotrelay_error_since - copy the last upstream failure when it happened at or after since_ms (monotonic). */
bool dotrelay_error_since(dotrelay *relay, long long since_ms, char *buf, size_t bufsize);

/* dotrelay_free - stop the relay thread and its connections, release everything. */
void dotrelay_free(dotrelay *relay);

#endif
