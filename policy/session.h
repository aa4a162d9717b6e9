/*
 * session.h - one policy client connection.
 *
 * A session reads requests with the incremental parser (protocol.h),
 * answers each one (checks through the dnsloop, results through decide.h),
 * and writes the reply.  One request at a time: while a request waits for
 * DNS the connection is not read.  Protocol errors, idle timeouts and
 * write errors close only this connection.  The policy face's server
 * (server.h) hands it every accepted connection; the server drains and
 * closes sessions through their server_conn ops.
 */
#ifndef DANCE_POLICY_SESSION_H
#define DANCE_POLICY_SESSION_H

/* session_accept - (server) take over the connected, non-blocking fd of danced arg; peer names it in logs. */
void session_accept(void *arg, int fd, const char *peer);

#endif
