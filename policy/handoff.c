/*
 * handoff.c - checks that other threads ask for, run on the event loop.
 *
 * USAGE
 *	d->handoff = handoff_new(d);			(loop thread, at start-up)
 *	job = handoff_submit(d->handoff, snap, ev, claimed, "192.0.2.1");
 *	    ... (any thread) ...
 *	if (handoff_wait(job, deadline, res)) ... use res ...
 *	handoff_release(job);
 *	handoff_free(d->handoff);			(loop thread, at exit)
 *
 * DESCRIPTION
 *	Submitted jobs wait in a FIFO under the handoff's mutex; the
 *	submitter then activates the wake-up event (libevent with pthread
 *	support makes event_active() safe from any thread).  The loop
 *	takes the whole queue at once and starts, for each job, one
 *	check per claimed identity (mailfrom with the mail-domain
 *	options: no _25._tcp), exactly as the policy face does, with a
 *	hold on the dnsloop for each.  A check may end inside
 *	check_start() (no evidence, cached answers), so a "starting"
 *	flag delays the completion until all were started.
 *
 *	A job has two references, the submitter's and the loop's.  The
 *	loop drops its own when the job completes (every verdict in, or
 *	handoff_shutdown()); the submitter drops its own with
 *	handoff_release(), whether it waited to the end or gave up.  The
 *	last one frees the job, its evidence, its snapshot reference.
 *	done, refs and the queue are guarded by the mutex; the items and
 *	the list of running jobs belong to the loop thread alone.
 *
 *	After handoff_shutdown() (danced stopping, its grace time over)
 *	every job, queued, running or submitted later, completes at once
 *	with temperror "danced is stopping".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handoff.h"

#define HANDOFF_CLIENT_MAX 64

typedef struct handoff_item {
    handoff_job *job;
    decide_kind kind;
    char *claimed;                    /* NULL: not checked */
    dnsloop_slot check;               /* the look-up in progress */
} handoff_item;

struct handoff_job {
    handoff *h;
    unsigned refs;                    /* under h->lock */
    bool done;                        /* under h->lock: res is final */
    snapshot *snap;
    evidence *ev;
    char client[HANDOFF_CLIENT_MAX];
    handoff_item item[DECIDE_KINDS];
    decide_result res[DECIDE_KINDS];
    size_t outstanding;               /* loop thread */
    bool starting;                    /* loop thread */
    handoff_job *next;                /* the queue (under lock), then the running list (loop) */
    handoff_job *prev;                /* the running list */
};

struct handoff {
    danced *d;
    pthread_mutex_t lock;
    pthread_cond_t changed;           /* a job completed */
    handoff_job *qhead, *qtail;       /* submitted, not started (under lock) */
    handoff_job *running;             /* started (loop thread) */
    struct event *wake;
    bool shut;                        /* under lock */
};

static void handoff_on_wake(evutil_socket_t, short, void *);

/* handoff_new - the queue and its wake-up event on d's loop. */
handoff *handoff_new(danced *d)
{
    handoff *h;
    pthread_condattr_t ca;

    if ((h = calloc(1, sizeof(*h))) == NULL)
        abort();
    h->d = d;
    if (pthread_mutex_init(&h->lock, NULL) != 0 || pthread_condattr_init(&ca) != 0
        || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0
        || pthread_cond_init(&h->changed, &ca) != 0)
        abort();
    pthread_condattr_destroy(&ca);
    if ((h->wake = event_new(d->base, -1, 0, handoff_on_wake, h)) == NULL)
        abort();
    return h;
}

/* handoff_unref - drop one reference (lock held); true when the caller must free the job. */
static bool handoff_unref(handoff_job *job)
{
    if (job->refs == 0)
        abort();                /* broken invariant: released more often than taken */
    return --job->refs == 0;
}

/* handoff_job_free - release a job nobody refers to any more. */
static void handoff_job_free(handoff_job *job)
{
    for (int k = 0; k < DECIDE_KINDS; k++)
        free(job->item[k].claimed);
    evidence_free(job->ev);
    snapshot_unref(job->snap);
    free(job);
}

/* handoff_complete - the job's verdicts are final: wake the submitter, drop the loop's reference. */
static void handoff_complete(handoff *h, handoff_job *job)
{
    bool last;

    if (job->prev != NULL || h->running == job) {      /* on the running list */
        if (job->prev != NULL)
            job->prev->next = job->next;
        else
            h->running = job->next;
        if (job->next != NULL)
            job->next->prev = job->prev;
    }
    job->next = job->prev = NULL;
    pthread_mutex_lock(&h->lock);
    job->done = true;
    pthread_cond_broadcast(&h->changed);
    last = handoff_unref(job);
    pthread_mutex_unlock(&h->lock);
    if (last)
        handoff_job_free(job);
}

/* handoff_fail - give every identity still open temperror with reason (loop thread). */
static void handoff_fail(handoff_job *job, const char *reason)
{
    for (int k = 0; k < DECIDE_KINDS; k++) {
        handoff_item *it = &job->item[k];
        decide_result *r = &job->res[k];
        char name[IDENTITY_NAME_MAX];

        dnsloop_slot_abort(&it->check);
        if (it->claimed == NULL || r->present)
            continue;
        r->present = true;
        r->result = VERDICT_TEMPERROR;
        snprintf(r->name, sizeof(r->name), "%s",
                 identity_normalize(it->claimed, name) == IDENTITY_OK ? name : "");
        snprintf(r->reason, sizeof(r->reason), "%s", reason);
    }
    job->outstanding = 0;
}

/* handoff_item_done - one check finished: log, keep the result, complete after the last. */
static void handoff_item_done(void *arg, verdict *v)
{
    handoff_item *it = arg;
    handoff_job *job = it->job;

    dlog_verdict_of(&job->h->d->log, NULL, v, decide_kind_name(it->kind), it->claimed, job->client, NULL);
    decide_result_from(&job->res[it->kind], v);
    dnsloop_slot_done(&it->check);
    if (job->outstanding == 0)
        abort();                /* broken invariant: more completions than checks */
    if (--job->outstanding == 0 && !job->starting)
        handoff_complete(job->h, job);
}

/* handoff_start - start the checks of one job (loop thread). */
static void handoff_start(handoff *h, handoff_job *job)
{
    job->next = h->running;
    job->prev = NULL;
    if (h->running != NULL)
        h->running->prev = job;
    h->running = job;
    job->starting = true;
    for (int k = 0; k < DECIDE_KINDS; k++) {
        handoff_item *it = &job->item[k];

        if (it->claimed == NULL)
            continue;
        job->outstanding++;
        dnsloop_slot_start(&it->check, h->d->dns, job->ev, it->claimed,
                           it->kind == DECIDE_MAILFROM ? &job->snap->copt_domain : &job->snap->copt,
                           handoff_item_done, it);
    }
    job->starting = false;
    if (job->outstanding == 0)
        handoff_complete(h, job);
}

static void handoff_on_wake(evutil_socket_t fd, short what, void *arg)
{
    handoff *h = arg;
    handoff_job *job, *next;

    (void) fd;
    (void) what;
    pthread_mutex_lock(&h->lock);
    job = h->qhead;
    h->qhead = h->qtail = NULL;
    pthread_mutex_unlock(&h->lock);
    for (; job != NULL; job = next) {
        next = job->next;
        job->next = NULL;
        handoff_start(h, job);
    }
}

/* handoff_submit - (any thread) queue a job for the claimed names and wake the loop. */
handoff_job *handoff_submit(handoff *h, snapshot *snap, evidence *ev,
                            const char *const claimed[DECIDE_KINDS], const char *client)
{
    handoff_job *job;
    bool shut;

    if ((job = calloc(1, sizeof(*job))) == NULL)
        abort();
    job->h = h;
    job->refs = 2;                      /* the submitter's and the loop's */
    job->snap = snapshot_ref(snap);
    job->ev = ev;
    snprintf(job->client, sizeof(job->client), "%s", client != NULL ? client : "");
    for (int k = 0; k < DECIDE_KINDS; k++) {
        job->item[k].job = job;
        job->item[k].kind = (decide_kind) k;
        if (claimed[k] != NULL && (job->item[k].claimed = strdup(claimed[k])) == NULL)
            abort();
    }
    pthread_mutex_lock(&h->lock);
    shut = h->shut;
    if (!shut) {
        if (h->qtail != NULL)
            h->qtail->next = job;
        else
            h->qhead = job;
        h->qtail = job;
    }
    pthread_mutex_unlock(&h->lock);
    if (shut) {                         /* nobody will run it: temperror now */
        handoff_fail(job, "danced is stopping");
        pthread_mutex_lock(&h->lock);
        job->done = true;
        (void) handoff_unref(job);      /* the loop's; the submitter's remains */
        pthread_mutex_unlock(&h->lock);
        return job;
    }
    event_active(h->wake, EV_READ, 0);
    return job;
}

/* handoff_wait - wait for the verdicts until deadline_ms; true when res is filled. */
bool handoff_wait(handoff_job *job, long long deadline_ms, decide_result res[DECIDE_KINDS])
{
    handoff *h = job->h;
    struct timespec ts;
    bool done;

    ts.tv_sec = (time_t) (deadline_ms / 1000);
    ts.tv_nsec = (long) (deadline_ms % 1000) * 1000000L;
    pthread_mutex_lock(&h->lock);
    while (!job->done && pthread_cond_timedwait(&h->changed, &h->lock, &ts) != ETIMEDOUT)
        ;
    done = job->done;
    if (done)
        memcpy(res, job->res, sizeof(job->res));
    pthread_mutex_unlock(&h->lock);
    return done;
}

/* handoff_release - the submitter lets go of the job. */
void handoff_release(handoff_job *job)
{
    handoff *h;
    bool last;

    if (job == NULL)
        return;
    h = job->h;
    pthread_mutex_lock(&h->lock);
    last = handoff_unref(job);
    pthread_mutex_unlock(&h->lock);
    if (last)
        handoff_job_free(job);
}

/* handoff_shutdown - end every job now with temperror. */
void handoff_shutdown(handoff *h)
{
    handoff_job *job, *queued;

    pthread_mutex_lock(&h->lock);
    h->shut = true;
    queued = h->qhead;
    h->qhead = h->qtail = NULL;
    pthread_mutex_unlock(&h->lock);
    for (; (job = queued) != NULL; ) {
        queued = job->next;
        job->next = NULL;
        handoff_fail(job, "danced is stopping");
        handoff_complete(h, job);
    }
    while ((job = h->running) != NULL) {
        handoff_fail(job, "danced is stopping");
        handoff_complete(h, job);
    }
}

/* handoff_free - shut down and release the queue. */
void handoff_free(handoff *h)
{
    if (h == NULL)
        return;
    handoff_shutdown(h);
    event_free(h->wake);
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
