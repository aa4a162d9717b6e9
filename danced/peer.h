/*
 * peer.h - which local user is at the other end of a connection.
 *
 * danced's faces trust what the MTA tells them (the policy face records
 * verdicts the milter writes into messages), so with peer_users set only
 * the MTA's processes may connect.  peer_uid() asks the kernel: for a unix
 * socket SO_PEERCRED; for TCP over loopback the socket table (Linux
 * NETLINK_SOCK_DIAG, the interface ss(8) uses), where the other end of a
 * loopback connection is a socket of this host with an owner.  A peer on
 * another host has no local user: peer_uid() says so.
 */
#ifndef DANCE_DANCED_PEER_H
#define DANCE_DANCED_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* peer_uid - the user id owning the other end of connected socket fd; false with why when unknown. */
bool peer_uid(int fd, uid_t *uid, char *why, size_t whysize);

#endif
