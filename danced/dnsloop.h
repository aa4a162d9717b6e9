/*
 * dnsloop.h - a resolver driven by the libevent loop.
 *
 * Wraps one resolver (resolver.h) with a read event on resolver_fd() and a
 * timer for resolver_expire().  Users take a hold for every check they
 * start and release it when the check is done or aborted; a retired
 * dnsloop (replaced after a reload changed the resolver settings) keeps
 * running until its last hold is released, then frees itself.
 *
 * With a budget set (dnsloop_set_budget), every check that needs uncached
 * look-ups asks it first, with the client's address and the look-ups in
 * flight (the global cap, lookups_in_flight_max); a refusal makes the
 * verdict temperror (BUDGET_REASON), is counted, and is logged at most
 * once a minute per client.
 */
#ifndef DANCE_DANCED_DNSLOOP_H
#define DANCE_DANCED_DNSLOOP_H

#include <stddef.h>
#include <event2/event.h>
#include "lib/check.h"
#include "lib/netaddr.h"
#include "lib/resolver.h"
#include "budget.h"
#include "dlog.h"
#include "metrics.h"

typedef struct dnsloop dnsloop;

/* dnsloop_new - create a resolver and its events; NULL with a message in err. */
dnsloop *dnsloop_new(struct event_base *base, const dlog *log, const resolver_config *rc,
                     char *err, size_t errsize);

/* dnsloop_set_budget - gate the checks by b and count refusals into m (both outlive d); NULL b: no gate. */
void dnsloop_set_budget(dnsloop *d, budget *b, metrics *m);

/*
 * dnsloop_check - check_start() on this resolver with one hold taken, on
 * client's budget (NULL or family 0: the unknown client); the caller
 * releases it (dnsloop_release) once done ran or after check_abort().
 */
check_job *dnsloop_check(dnsloop *d, const netaddr *client, const evidence *ev, const char *claimed,
                         const check_options *opt, verdict *v, check_done done, void *arg);

/* One check in progress, as its user keeps it: the verdict, the job, the hold. */
typedef struct dnsloop_slot {
    verdict *v;                       /* while checking */
    check_job *job;                   /* while checking asynchronously */
    dnsloop *dns;                     /* the hold taken for the check */
    long long started_us;             /* when the check started (clock_now_us) */
} dnsloop_slot;

/*
 * dnsloop_slot_start - allocate the slot's verdict and start its check on d
 * for client (dnsloop_check); done(arg, v) may run before this returns.  done must call
 * dnsloop_slot_done() after reading v.
 */
void dnsloop_slot_start(dnsloop_slot *s, dnsloop *d, const netaddr *client, const evidence *ev,
                        const char *claimed, const check_options *opt, check_done done, void *arg);

/* dnsloop_slot_done - (from done) the check is over: free the verdict, drop the hold. */
void dnsloop_slot_done(dnsloop_slot *s);

/* dnsloop_slot_elapsed_us - (from done) microseconds since the slot's check started. */
long long dnsloop_slot_elapsed_us(const dnsloop_slot *s);

/* dnsloop_slot_abort - cancel a check still running (its done never runs) and clear the slot; an idle slot is fine. */
void dnsloop_slot_abort(dnsloop_slot *s);

/* dnsloop_hold - take one hold (dnsloop_check does this itself). */
void dnsloop_hold(dnsloop *d);

/* dnsloop_release - drop one hold; a retired dnsloop without holds is freed soon after (not now). */
void dnsloop_release(dnsloop *d);

/* dnsloop_retire - no new checks will come; free once the holds are gone. */
void dnsloop_retire(dnsloop *d);

/* dnsloop_free - free now (pending look-ups are cancelled, their callbacks never run). */
void dnsloop_free(dnsloop *d);

/* dnsloop_count_into - the resolver counts its look-ups and cache use into *stats (resolver_count_into). */
void dnsloop_count_into(dnsloop *d, resolver_stats *stats);

/* dnsloop_cache_entries - answers held in the resolver's cache. */
size_t dnsloop_cache_entries(const dnsloop *d);

#endif
