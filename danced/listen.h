/*
 * listen.h - danced's listening sockets and the set of open connections.
 *
 * listen_open() parses a Postfix-style endpoint (inet:HOST:PORT,
 * inet:[IPv6]:PORT, unix:/path) and binds it - before privileges are
 * dropped and before daemonizing, so problems are reported on the
 * terminal.  listen_start() registers the accept events once the event
 * base exists.  Each face (policy, milter) has a listener of its own,
 * which the daemon drives (face.h): it hands every accepted connection to
 * the face's accept callback, which links it into the listener's list
 * through its listen_conn (with the ops to drain and close it), and keeps
 * the face's own connection limit.
 */
#ifndef DANCE_DANCED_LISTEN_H
#define DANCE_DANCED_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>
#include "dlog.h"

#define LISTEN_ADDRESSES_MAX 4           /* addresses one inet endpoint may bind */
#define LISTEN_PEER_MAX 64            /* "[IPv6]:port" or "unix#N" */

typedef enum {
    LISTEN_OK = 0,
    LISTEN_BAD_ENDPOINT,              /* bad input: the policy_socket value */
    LISTEN_ENVIRONMENT                /* bad environment: bind, socket file, group */
} listen_status;

typedef struct listener listener;
typedef struct listen_conn listen_conn;

/* What the listener may do to a connection: ask it to finish and close, or close it now. */
typedef struct listen_conn_ops {
    void (*drain)(listen_conn *c);    /* close once the work in progress is done */
    void (*close)(listen_conn *c);    /* close now (calls listen_conn_gone) */
} listen_conn_ops;

/* The intrusive link of a connection in the listener's list. */
struct listen_conn {
    struct listen_conn *prev, *next;
    const listen_conn_ops *ops;
};

/* Whom a listener hands its connections and its end to. */
typedef struct listen_face {
    const char *what;                 /* "policy" or "milter", for logs */
    /* take over the connected, non-blocking fd; call listen_conn_add, or close it */
    void (*accept)(void *accept_arg, int fd, const char *peer);
    void *accept_arg;
    /* the listener was stopped and its last connection closed (called once) */
    void (*drained)(void *drained_arg);
    void *drained_arg;
} listen_face;

/*
 * listen_open - parse endpoint text and bind it; unix sockets get mode and group
 * ("" = unchanged); key names the setting in messages ("policy_socket").
 */
listen_status listen_open(const char *key, const char *text, unsigned mode, const char *group,
                          listener **out, char *err, size_t errsize);

/* listen_start - begin accepting on base; at most max connections at a time. */
void listen_start(listener *srv, struct event_base *base, const dlog *log, const listen_face *face,
                  size_t max);

/* listen_set_max - a new connection limit (a reload); accepting resumes when below it. */
void listen_set_max(listener *srv, size_t max);

/* listen_stop - stop accepting and close the listening sockets. */
void listen_stop(listener *srv);

/* listen_drain - ask every connection to finish its request in progress and close. */
void listen_drain(listener *srv);

/* listen_conn_add - a connection opened (called by the face's accept), with its ops. */
void listen_conn_add(listener *srv, listen_conn *c, const listen_conn_ops *ops);

/* listen_inherited - how many of its listening sockets systemd passed (activation.h). */
size_t listen_inherited(const listener *srv);

/* listen_conn_gone - a connection closed (called by the face). */
void listen_conn_gone(listener *srv, listen_conn *c);

/* listen_connections - open connections. */
size_t listen_connections(const listener *srv);

/* listen_stopped - true once listen_stop ran. */
bool listen_stopped(const listener *srv);

/* listen_close_all - close every connection at once (pending look-ups are aborted). */
void listen_close_all(listener *srv);

/* listen_free - close listeners and remove a unix socket file we created. */
void listen_free(listener *srv);

/* listen_endpoint - the endpoint as bound, for logs. */
const char *listen_endpoint(const listener *srv);

/*
 * listen_fds - the bound sockets (at most max into fds), for a server that
 * accepts on them itself instead of listen_start (the stats endpoint's
 * evhttp); they stay the listener's to close.  Returns how many.
 */
size_t listen_fds(const listener *srv, int *fds, size_t max);

#endif
