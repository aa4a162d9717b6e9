/*
 * milter.h - danced's milter face.
 *
 * Two set-ups share this code.  Postfix mode: the policy face verifies
 * (only it sees the certificate's fingerprints) and records the verdicts of
 * each message in the join store; the milter takes them at end of message.
 * Sendmail mode: the MTA passes {cert_fp} to the milter, which runs the
 * checks on the event loop's resolver itself.  Either way the milter then
 * removes every Authentication-Results field claiming our authserv-id
 * (hygiene.h) and inserts ours at the top, once per message.
 *
 * The milter protocol is spoken by danced itself, on its event loop
 * (mproto.h, mconn.c): its own listener with milter_max_connections, the
 * peer checks of peer_users, a time limit for a connection that never
 * negotiates - none of which libmilter's accept loop and thread per
 * connection allow.  Start-up follows the policy face's order:
 * milter_open() before daemonizing and dropping privileges (errors reach
 * the terminal), milter_start() once the event base and resolver exist.
 */
#ifndef DANCE_MILTER_MILTER_H
#define DANCE_MILTER_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include "danced.h"

typedef enum {
    MILTER_OK = 0,
    MILTER_BAD_ENDPOINT,              /* bad input: the milter_socket value */
    MILTER_ENVIRONMENT                /* bad environment: bind, socket file, group */
} milter_status;

/* milter_open - bind endpoint text (unix sockets get mode and group); d->mface is set. */
milter_status milter_open(danced *d, const char *text, unsigned mode, const char *group,
                          char *err, size_t errsize);

/* milter_start - begin accepting on d's loop, at most max connections at a time. */
void milter_start(danced *d, size_t max);

/* milter_set_max - the connection limit of a (re)loaded configuration. */
void milter_set_max(danced *d, size_t max);

/* milter_stop - stop accepting; idle connections close, the others once their message has ended. */
void milter_stop(danced *d);

/* milter_close_all - close every connection now (danced's grace time is over). */
void milter_close_all(danced *d);

/* milter_idle - true when no connection is open. */
bool milter_idle(const danced *d);

/* milter_connections - open connections, and messages in progress. */
void milter_counts(const danced *d, size_t *connections, size_t *messages);

/* milter_endpoint - the endpoint as configured, for logs. */
const char *milter_endpoint(const danced *d);

/* milter_free - close the listener, remove the unix socket file, release the face (no connection left). */
void milter_free(danced *d);

#endif
