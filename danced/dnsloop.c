/*
 * dnsloop.c - a resolver driven by the libevent loop.
 *
 * USAGE
 *	d = dnsloop_new(base, &log, &rc, err, sizeof(err));
 *	dnsloop_set_budget(d, budget, metrics);	(optional)
 *	job = dnsloop_check(d, &client, ev, name, &opt, v, done, arg);
 *	    ... done(arg, v) runs (maybe already inside dnsloop_check) ...
 *	    dnsloop_release(d);		(from done, or after check_abort)
 *	dnsloop_retire(d);		(after a reload replaced it)
 *
 * DESCRIPTION
 *	A persistent read event on resolver_fd() calls resolver_process();
 *	one timer is kept armed for resolver_next_deadline_ms() and calls
 *	resolver_expire(), so a look-up that never gets an answer ends as
 *	a timeout after dns_timeout, on the monotonic clock the resolver
 *	keeps.  The timer is re-armed after every start, process and
 *	expiry.
 *
 *	Holds count the checks in progress.  A retired dnsloop is freed
 *	when its holds reach zero - but never from inside a resolver
 *	callback (resolver_free() is not allowed there): the release
 *	activates a one-shot "reap" event and the freeing happens from
 *	the loop.
 *
 *	The budget gate (check_start_gated) runs only for checks with
 *	uncached owners; the in-flight figure it is given is this
 *	resolver's pending queries (a retired resolver only drains).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/clock.h"
#include "lib/netaddr.h"
#include "lib/panic.h"
#include "dnsloop.h"

struct dnsloop {
    resolver *res;
    const dlog *log;
    struct event *rd;        /* resolver_fd readable */
    struct event *timer;     /* earliest query deadline */
    struct event *reap;      /* frees a retired, idle dnsloop from the loop */
    size_t holds;
    bool retired;
    budget *budget;          /* the gate, or NULL */
    metrics *metrics;        /* where refusals are counted */
};

/* What the budget gate of one check needs. */
typedef struct dnsloop_gate_arg {
    dnsloop *d;
    const netaddr *client;
} dnsloop_gate_arg;

/* dnsloop_arm - (re)arm the deadline timer from the resolver's earliest deadline. */
static void dnsloop_arm(dnsloop *d)
{
    long ms = resolver_next_deadline_ms(d->res);
    struct timeval tv;

    if (ms < 0) {
        event_del(d->timer);
        return;
    }
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000 + 1000;  /* a little late, never early */
    event_add(d->timer, &tv);
}

/* dnsloop_maybe_reap - schedule freeing of a retired dnsloop without holds. */
static void dnsloop_maybe_reap(dnsloop *d)
{
    if (d->retired && d->holds == 0)
        event_active(d->reap, EV_TIMEOUT, 0);
}

static void dnsloop_on_read(evutil_socket_t fd, short what, void *arg)
{
    dnsloop *d = arg;

    (void) fd;
    (void) what;
    if (resolver_process(d->res) != 0)
        dlog_msg(d->log, LOG_WARNING, "resolver: processing answers failed");
    dnsloop_arm(d);
}

static void dnsloop_on_timer(evutil_socket_t fd, short what, void *arg)
{
    dnsloop *d = arg;

    (void) fd;
    (void) what;
    resolver_expire(d->res);
    dnsloop_arm(d);
}

static void dnsloop_on_reap(evutil_socket_t fd, short what, void *arg)
{
    dnsloop *d = arg;

    (void) fd;
    (void) what;
    if (d->retired && d->holds == 0)
        dnsloop_free(d);
}

/* dnsloop_new - create a resolver and its events; NULL with a message in err. */
dnsloop *dnsloop_new(struct event_base *base, const dlog *log, const resolver_config *rc,
                     char *err, size_t errsize)
{
    dnsloop *d;

    d = xcalloc(1, sizeof(*d));
    d->log = log;
    if ((d->res = resolver_new(rc, err, errsize)) == NULL) {
        free(d);
        return NULL;
    }
    d->rd = event_new(base, resolver_fd(d->res), EV_READ | EV_PERSIST, dnsloop_on_read, d);
    d->timer = evtimer_new(base, dnsloop_on_timer, d);
    d->reap = event_new(base, -1, 0, dnsloop_on_reap, d);
    if (d->rd == NULL || d->timer == NULL || d->reap == NULL || event_add(d->rd, NULL) != 0) {
        snprintf(err, errsize, "cannot register the resolver with the event loop");
        dnsloop_free(d);
        return NULL;
    }
    return d;
}

/* dnsloop_set_budget - gate the checks by b and count refusals into m. */
void dnsloop_set_budget(dnsloop *d, budget *b, metrics *m)
{
    d->budget = b;
    d->metrics = m;
}

/* dnsloop_gate - (check_gate) ask the budget about n uncached look-ups of the check's client. */
static check_gate_status dnsloop_gate(void *arg, size_t n, char *reason, size_t reasonsize)
{
    dnsloop_gate_arg *g = arg;
    dnsloop *d = g->d;
    char addr[NETADDR_TEXT_MAX] = "";
    budget_status st;
    bool log;

    st = budget_admit(d->budget, g->client, n, resolver_pending(d->res), clock_now_ms(), &log);
    if (st == BUDGET_OK)
        return CHECK_GATE_OPEN;
    if (d->metrics != NULL)
        metrics_budget_refusal(d->metrics, st);
    if (log) {
        if (g->client != NULL)
            netaddr_format(g->client, addr);
        if (st == BUDGET_CLIENT)
            dlog_msg(d->log, LOG_WARNING, "look-up budget exceeded: client %s made more uncached "
                     "look-ups than lookup_budget allows; its checks are temperror until the budget "
                     "refills (logged once a minute per client)", addr[0] != '\0' ? addr : "unknown");
        else
            dlog_msg(d->log, LOG_WARNING, "look-up budget exceeded: lookups_in_flight_max look-ups "
                     "are in flight; a check of client %s is temperror (logged once a minute)",
                     addr[0] != '\0' ? addr : "unknown");
    }
    snprintf(reason, reasonsize, "%s", BUDGET_REASON);
    return CHECK_GATE_REFUSED;
}

/* dnsloop_check - check_start() on this resolver with one hold taken, on client's budget. */
check_job *dnsloop_check(dnsloop *d, const netaddr *client, const evidence *ev, const char *claimed,
                         const check_options *opt, verdict *v, check_done done, void *arg)
{
    dnsloop_gate_arg gate = { d, client };   /* the gate runs inside check_start_gated only */
    check_job *job;

    if (d->retired)
        DANCE_PANIC("new work for a retired resolver");
    dnsloop_hold(d);
    job = check_start_gated(d->res, ev, claimed, opt, d->budget != NULL ? dnsloop_gate : NULL, &gate, v,
                            done, arg);
    dnsloop_arm(d);
    return job;
}

/* dnsloop_slot_start - allocate the slot's verdict and start its check on d. */
void dnsloop_slot_start(dnsloop_slot *s, dnsloop *d, const netaddr *client, const evidence *ev,
                        const char *claimed, const check_options *opt, check_done done, void *arg)
{
    if (s->v != NULL || s->dns != NULL)
        DANCE_PANIC("the slot is busy");
    if ((s->v = malloc(sizeof(*s->v))) == NULL)     /* check_start() initializes it first */
        DANCE_PANIC("out of memory");
    s->dns = d;                 /* before the check: done may run inside it */
    s->started_us = clock_now_us();
    s->job = dnsloop_check(d, client, ev, claimed, opt, s->v, done, arg);
}

/* dnsloop_slot_done - the check is over: free the verdict, drop the hold. */
void dnsloop_slot_done(dnsloop_slot *s)
{
    s->job = NULL;
    verdict_clear(s->v);
    free(s->v);
    s->v = NULL;
    dnsloop_release(s->dns);
    s->dns = NULL;
}

/* dnsloop_slot_elapsed_us - microseconds since the slot's check started. */
long long dnsloop_slot_elapsed_us(const dnsloop_slot *s)
{
    return clock_now_us() - s->started_us;
}

/* dnsloop_slot_abort - cancel a check still running and clear the slot. */
void dnsloop_slot_abort(dnsloop_slot *s)
{
    if (s->job != NULL)
        check_abort(s->job);
    s->job = NULL;
    if (s->v != NULL) {
        verdict_clear(s->v);
        free(s->v);
        s->v = NULL;
    }
    if (s->dns != NULL)
        dnsloop_release(s->dns);
    s->dns = NULL;
}

/* dnsloop_hold - take one hold. */
void dnsloop_hold(dnsloop *d)
{
    d->holds++;
}

/* dnsloop_release - drop one hold. */
void dnsloop_release(dnsloop *d)
{
    if (d->holds == 0)
        DANCE_PANIC("unexpected: d->holds == 0");
    d->holds--;
    dnsloop_maybe_reap(d);
}

/* dnsloop_retire - no new checks will come; free once the holds are gone. */
void dnsloop_retire(dnsloop *d)
{
    d->retired = true;
    dnsloop_maybe_reap(d);
}

/* dnsloop_free - free now. */
void dnsloop_free(dnsloop *d)
{
    if (d == NULL)
        return;
    if (d->rd != NULL)
        event_free(d->rd);
    if (d->timer != NULL)
        event_free(d->timer);
    if (d->reap != NULL)
        event_free(d->reap);
    resolver_free(d->res);
    free(d);
}

/* dnsloop_count_into - the resolver counts into *stats. */
void dnsloop_count_into(dnsloop *d, resolver_stats *stats)
{
    resolver_count_into(d->res, stats);
}

/* dnsloop_cache_entries - answers held in the resolver's cache. */
size_t dnsloop_cache_entries(const dnsloop *d)
{
    return resolver_cache_entries(d->res);
}
