/*
 * milter.h - danced's milter face (libmilter).
 *
 * Two set-ups share this code.  Postfix mode: the policy face verifies
 * (only it sees the certificate's fingerprints) and records the verdicts of
 * each message in the join store; the milter takes them at end of message.
 * Sendmail mode: the MTA passes {cert_fp} to the milter, which has the
 * checks run on the event loop (handoff.h).  Either way the milter then
 * removes every Authentication-Results field claiming our authserv-id
 * (hygiene.h) and inserts ours at the top, once per message.
 *
 * libmilter owns the listening socket and one thread per MTA connection;
 * milter_start() runs its listener in a thread of its own beside the event
 * loop.  Start-up follows the policy listener's order: milter_open() before
 * daemonizing and dropping privileges (errors reach the terminal),
 * milter_start() once the event base, resolver and handoff exist.
 */
#ifndef DANCE_MILTER_MILTER_H
#define DANCE_MILTER_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include "danced.h"

typedef enum {
    MILTER_OK = 0,
    MILTER_BAD_ENDPOINT,              /* bad input: the milter_socket value */
    MILTER_ENVIRONMENT                /* bad environment: bind, socket file, group, libmilter */
} milter_status;

/* milter_open - register with libmilter and bind endpoint (unix sockets get mode and group). */
milter_status milter_open(danced *d, const char *endpoint, unsigned mode, const char *group,
                          char *err, size_t errsize);

/* milter_start - (loop thread) run libmilter's listener in its own thread; false with err. */
bool milter_start(danced *d, char *err, size_t errsize);

/* milter_stop - (loop thread) stop accepting; new connections and messages are answered tempfail. */
void milter_stop(danced *d);

/* milter_idle - true when no callback runs and no message is between MAIL FROM and its end. */
bool milter_idle(danced *d);

/*
 * milter_shutdown - (loop thread, the loop has ended) refuse every further
 * callback and wait up to timeout_ms for running ones to return; true when
 * none runs any more, so that what they use may be freed.
 */
bool milter_shutdown(danced *d, long timeout_ms);

/* milter_endpoint - the endpoint as configured, for logs. */
const char *milter_endpoint(const danced *d);

/* milter_free - (after a successful milter_shutdown) remove the unix socket file and the state. */
void milter_free(danced *d);

#endif
