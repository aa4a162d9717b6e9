/*
 * dotrelay_peer.h - is the other end of a connection to the DNS over TLS
 * relay's loopback port (dotrelay.c) a socket of the relay's own user?
 * See dotrelay_peer.c.
 */
#ifndef DANCE_LIB_DOTRELAY_PEER_H
#define DANCE_LIB_DOTRELAY_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sockaddr_in;

typedef enum {
    DOTRELAY_PEER_OWN = 0,      /* a socket of the relay's own user */
    DOTRELAY_PEER_FOREIGN,      /* another user's */
    DOTRELAY_PEER_GONE,         /* no such socket, or not established (closing already) */
    DOTRELAY_PEER_ERROR         /* the kernel could not be asked; errno says why */
} dotrelay_peer_status;

/* What the relay keeps for the question: one thread asks at a time. */
typedef struct dotrelay_peer {
    int fd;                     /* NETLINK_SOCK_DIAG, -1 when closed */
    uint32_t seq;               /* numbers the questions */
    uid_t start_uid;            /* the effective user when the relay started */
    uint16_t port;              /* the relay's port, network order */
} dotrelay_peer;

/* dotrelay_peer_init - open the question for the relay on 127.0.0.1:port and ask it of its own listening socket; false with a message. */
bool dotrelay_peer_init(dotrelay_peer *p, unsigned port, char *err, size_t errsize);

/* dotrelay_peer_check - whose is the socket at the other end of a connection accepted from peer? */
dotrelay_peer_status dotrelay_peer_check(dotrelay_peer *p, const struct sockaddr_in *peer);

/* dotrelay_peer_close - release the question; a closed or never-opened one is fine. */
void dotrelay_peer_close(dotrelay_peer *p);

#endif
