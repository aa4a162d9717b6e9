/*
 * server.h - danced's listening sockets and the set of open connections.
 *
 * server_open() parses a Postfix-style endpoint (inet:HOST:PORT,
 * inet:[IPv6]:PORT, unix:/path) and binds it - before privileges are
 * dropped and before daemonizing, so problems are reported on the
 * terminal.  server_start() registers the accept events once the event
 * base exists.  Each accepted connection becomes a session (session.h),
 * linked into the server's list through its server_conn.
 */
#ifndef DANCE_POLICY_SERVER_H
#define DANCE_POLICY_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include "danced.h"

#define SERVER_LISTEN_MAX 4           /* addresses one inet endpoint may bind */
#define SERVER_PEER_MAX 64            /* "[IPv6]:port" or "unix#N" */

typedef enum {
    SERVER_OK = 0,
    SERVER_BAD_ENDPOINT,              /* bad input: the policy_socket value */
    SERVER_ENVIRONMENT                /* bad environment: bind, socket file, group */
} server_status;

/* The intrusive link of a connection in the server's list. */
typedef struct server_conn {
    struct server_conn *prev, *next;
} server_conn;

/* server_open - parse endpoint and bind it; unix sockets get mode and group ("" = unchanged). */
server_status server_open(const char *endpoint, unsigned mode, const char *group, server **out,
                          char *err, size_t errsize);

/* server_unix_clear_stale - remove a socket file at path that nobody answers on (the milter uses it too). */
server_status server_unix_clear_stale(const char *path, char *err, size_t errsize);

/* server_unix_permissions - give a bound socket file mode and group ("" = unchanged). */
server_status server_unix_permissions(const char *path, unsigned mode, const char *group,
                                      char *err, size_t errsize);

/* server_start - begin accepting on d->base; connections are sessions of d. */
void server_start(server *srv, danced *d);

/* server_stop - stop accepting and close the listening sockets. */
void server_stop(server *srv);

/* server_drain - ask every connection to finish its request in progress and close. */
void server_drain(server *srv);

/* server_conn_add - a connection opened (called by the session). */
void server_conn_add(server *srv, server_conn *c);

/* server_conn_gone - a connection closed (called by the session). */
void server_conn_gone(server *srv, server_conn *c);

/* server_connections - open connections. */
size_t server_connections(const server *srv);

/* server_close_all - close every connection at once (pending look-ups are aborted). */
void server_close_all(server *srv);

/* server_free - close listeners and remove a unix socket file we created. */
void server_free(server *srv);

/* server_endpoint - the endpoint as bound, for logs. */
const char *server_endpoint(const server *srv);

#endif
