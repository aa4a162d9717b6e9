/*
 * server.h - danced's listening sockets and the set of open connections.
 *
 * server_open() parses a Postfix-style endpoint (inet:HOST:PORT,
 * inet:[IPv6]:PORT, unix:/path) and binds it - before privileges are
 * dropped and before daemonizing, so problems are reported on the
 * terminal.  server_start() registers the accept events once the event
 * base exists.  Each face (policy, milter) has a server of its own: the
 * server hands every accepted connection to the face's accept callback,
 * which links it into the server's list through its server_conn (with the
 * ops to drain and close it), and keeps the face's own connection limit.
 */
#ifndef DANCE_POLICY_SERVER_H
#define DANCE_POLICY_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>
#include "dlog.h"

#define SERVER_LISTEN_MAX 4           /* addresses one inet endpoint may bind */
#define SERVER_PEER_MAX 64            /* "[IPv6]:port" or "unix#N" */

typedef enum {
    SERVER_OK = 0,
    SERVER_BAD_ENDPOINT,              /* bad input: the policy_socket value */
    SERVER_ENVIRONMENT                /* bad environment: bind, socket file, group */
} server_status;

typedef struct server server;
typedef struct server_conn server_conn;

/* What the server may do to a connection: ask it to finish and close, or close it now. */
typedef struct server_conn_ops {
    void (*drain)(server_conn *c);    /* close once the work in progress is done */
    void (*close)(server_conn *c);    /* close now (calls server_conn_gone) */
} server_conn_ops;

/* The intrusive link of a connection in the server's list. */
struct server_conn {
    struct server_conn *prev, *next;
    const server_conn_ops *ops;
};

/* What a face gives its server. */
typedef struct server_face {
    const char *what;                 /* "policy" or "milter", for logs */
    /* take over the connected, non-blocking fd; call server_conn_add, or close it */
    void (*accept)(void *arg, int fd, const char *peer);
    /* the server was stopped and its last connection closed */
    void (*drained)(void *arg);
    void *arg;
} server_face;

/*
 * server_open - parse endpoint text and bind it; unix sockets get mode and group
 * ("" = unchanged); key names the setting in messages ("policy_socket").
 */
server_status server_open(const char *key, const char *text, unsigned mode, const char *group,
                          server **out, char *err, size_t errsize);

/* server_start - begin accepting on base; at most max connections at a time. */
void server_start(server *srv, struct event_base *base, const dlog *log, const server_face *face,
                  size_t max);

/* server_set_max - a new connection limit (a reload); accepting resumes when below it. */
void server_set_max(server *srv, size_t max);

/* server_stop - stop accepting and close the listening sockets. */
void server_stop(server *srv);

/* server_drain - ask every connection to finish its request in progress and close. */
void server_drain(server *srv);

/* server_conn_add - a connection opened (called by the face's accept), with its ops. */
void server_conn_add(server *srv, server_conn *c, const server_conn_ops *ops);

/* server_conn_gone - a connection closed (called by the face). */
void server_conn_gone(server *srv, server_conn *c);

/* server_connections - open connections. */
size_t server_connections(const server *srv);

/* server_stopped - true once server_stop ran. */
bool server_stopped(const server *srv);

/* server_close_all - close every connection at once (pending look-ups are aborted). */
void server_close_all(server *srv);

/* server_free - close listeners and remove a unix socket file we created. */
void server_free(server *srv);

/* server_endpoint - the endpoint as bound, for logs. */
const char *server_endpoint(const server *srv);

#endif
