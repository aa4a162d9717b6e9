/*
 * handoff.h - checks that other threads ask for, run on the event loop.
 *
 * The resolver, its cache and the check module belong to the event loop
 * thread.  The milter's threads (Sendmail mode: the milter itself has the
 * certificate's fingerprint) hand their checks over: handoff_submit()
 * queues a job and wakes the loop, which starts one check per claimed
 * identity through the dnsloop, logs each verdict, and signals the job
 * when the last one is in; the submitting thread waits with
 * handoff_wait().  A job is shared by the two sides and freed when both
 * have let go, so a submitter that gives up (deadline, aborted message)
 * never leaves the loop writing into freed memory.
 *
 * The event base must have been created after evthread_use_pthreads().
 */
#ifndef DANCE_POLICY_HANDOFF_H
#define DANCE_POLICY_HANDOFF_H

#include <stdbool.h>
#include "danced.h"
#include "decide.h"
#include "evidence.h"

typedef struct handoff handoff;
typedef struct handoff_job handoff_job;

/* handoff_new - the queue and its wake-up event on d's loop (loop thread). */
handoff *handoff_new(danced *d);

/*
 * handoff_submit - (any thread) ask for the verdicts of the claimed names
 * (indexed by decide_kind, NULL: not checked) with evidence ev, which the
 * job takes over, under snap (the job takes its own reference).  client
 * names the SMTP client in the verdict log lines.
 */
handoff_job *handoff_submit(handoff *h, snapshot *snap, evidence *ev,
                            const char *const claimed[DECIDE_KINDS], const char *client);

/* handoff_wait - (the submitter) wait for the verdicts until deadline_ms (monotonic); true when res is filled. */
bool handoff_wait(handoff_job *job, long long deadline_ms, decide_result res[DECIDE_KINDS]);

/* handoff_release - (the submitter) let go of the job, finished or not; NULL is fine. */
void handoff_release(handoff_job *job);

/* handoff_shutdown - (loop thread) end every job now: look-ups are aborted, waiters get temperror. */
void handoff_shutdown(handoff *h);

/* handoff_free - (loop thread) shut down and release the queue; NULL is fine. */
void handoff_free(handoff *h);

#endif
