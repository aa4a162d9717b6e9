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
 * connection allow.  milter_open() runs before daemonizing and dropping
 * privileges (errors reach the terminal); the daemon drives the face
 * through face.h from then on.
 */
#ifndef DANCE_MILTER_MILTER_H
#define DANCE_MILTER_MILTER_H

#include <stddef.h>

typedef struct danced danced;
struct dance_config;

typedef enum {
    MILTER_OK = 0,
    MILTER_BAD_ENDPOINT,              /* bad input: the milter_socket value */
    MILTER_ENVIRONMENT                /* bad environment: bind, socket file, group */
} milter_status;

/*
 * milter_open - bind cfg's milter_socket (unix sockets get socket_mode and
 * socket_group) and register the face with d; err says why not.
 */
milter_status milter_open(danced *d, const struct dance_config *cfg, char *err, size_t errsize);

#endif
