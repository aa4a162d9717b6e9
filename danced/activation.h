/*
 * activation.h - listening sockets handed over by systemd (socket
 * activation: a .socket unit binds them, danced inherits them).
 *
 *	fd = activation_take_unix("/run/dance/policy");   in listen_open
 *	fd = activation_take_sockaddr(sa, salen);          -1: bind it yourself
 *	...every face opened...
 *	if (!activation_check(taken, err, sizeof(err))) fatal;  one nobody took
 *
 * A socket is matched to a configured endpoint by its address, so
 * policy_socket and milter_socket name the same address in dance.conf and
 * in the .socket unit; there is no other way to say which is which.
 */
#ifndef DANCE_DANCED_ACTIVATION_H
#define DANCE_DANCED_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* activation_take_unix - the inherited listening stream socket bound to path, or -1. */
int activation_take_unix(const char *path);

/* activation_take_sockaddr - the inherited listening stream socket bound to sa, or -1. */
int activation_take_sockaddr(const struct sockaddr *sa, socklen_t salen);

/* activation_check - after the faces opened, taking that many: false (and why) when a passed socket matched no endpoint. */
bool activation_check(size_t taken, char *err, size_t errsize);

#endif
