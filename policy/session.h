/*
 * session.h - one policy client connection.
 *
 * A session reads requests with the incremental parser (protocol.h),
 * answers each one (checks through the dnsloop, results through decide.h),
 * and writes the reply.  One request at a time: while a request waits for
 * DNS the connection is not read.  Protocol errors, idle timeouts and
 * write errors close only this connection.
 */
#ifndef DANCE_POLICY_SESSION_H
#define DANCE_POLICY_SESSION_H

#include <stddef.h>
#include "danced.h"
#include "server.h"

typedef struct session session;

/* session_new - take over the connected, non-blocking fd; peer names it in logs. */
session *session_new(danced *d, int fd, const char *peer);

/* session_of - the session a server_conn link belongs to. */
session *session_of(server_conn *c);

/* session_drain - close now when idle, else right after the reply in progress. */
void session_drain(session *s);

/* session_close - close at once; a request in progress is abandoned (its look-ups aborted). */
void session_close(session *s);

#endif
