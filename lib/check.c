/*
 * check.c - the whole decision for one claimed identity.
 *
 * USAGE
 *	check_options opt = { .server_tlsa = false };
 *	check_identity(resolver, evidence, "mta1.example.net", &opt, &v);
 * or, from an event loop,
 *	job = check_start(resolver, evidence, name, &opt, &v, done, arg);
 *	job = check_start_gated(resolver, evidence, name, &opt, gate, garg, &v, done, arg);
 *
 * DESCRIPTION
 *	Both paths run the same steps, in the order that keeps hostile
 *	input away from DNS:
 *	  1. no evidence            -> none, no query;
 *	  2. name fails identity_normalize() or is outside the look-up
 *	     scope                  -> none, no query;
 *	  3. each owner (the _smtp-client convention, plus _25._tcp when
 *	     enabled, or exactly one explicit owner) is looked up; the
 *	     answers are evaluated in owner order and verdict_finish()
 *	     combines them.
 *	The asynchronous path keeps each owner's answer until all have
 *	arrived, so the verdict does not depend on the order answers come
 *	in; with a single owner there is no order, and its answer is
 *	evaluated as it comes (a cache hit's RDATA is not even copied).
 *
 *	Stale answers: when an owner's look-up ends in SERVFAIL, a time-out
 *	or a network error (never bogus) and the resolver still holds that
 *	owner's secure RRset, expired less than stale_max ago
 *	(resolver_stale), that RRset is evaluated instead, marked stale.
 *
 *	check_start_gated() asks a gate (the daemon's look-up budget)
 *	once the owners are known: the owners the cache cannot answer are
 *	counted, and when there are any the gate may refuse them; the
 *	verdict is then temperror with the gate's reason and nothing is
 *	sent.  The library knows no policy: the gate decides.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "identity.h"
#include "panic.h"

/* The owners to look up for one identity, decided before any DNS traffic. */
typedef struct owners {
    size_t n;
    char name[VERDICT_OWNERS_MAX][IDENTITY_OWNER_MAX];
} owners;

/* The callback argument of one owner's look-up. */
typedef struct check_slot {
    struct check_job *job;
    size_t index;
} check_slot;

struct check_job {
    resolver *res;
    const evidence *ev;
    verdict *v;
    check_done done;
    void *arg;
    owners own;
    check_slot slot[VERDICT_OWNERS_MAX];
    int query[VERDICT_OWNERS_MAX];           /* resolver ids, 0 once answered */
    resolver_answer ans[VERDICT_OWNERS_MAX]; /* with two owners: answers kept until both are in */
    bool kept[VERDICT_OWNERS_MAX];           /* ans[i] holds a copy */
    bool stale[VERDICT_OWNERS_MAX];          /* ans[i] is a stale RRset ... */
    unsigned stale_ago_s[VERDICT_OWNERS_MAX]; /* ... expired that many seconds ago */
    size_t outstanding;
    bool starting; /* still inside check_start() */
};

/*
 * prepare - steps 1 and 2: initialize v and list the owners to query.
 * Returns false when the verdict is already decided (none, no DNS).
 */
static bool prepare(const evidence *ev, const char *claimed, const check_options *opt, verdict *v,
                    owners *own)
{
    char name[IDENTITY_NAME_MAX];
    char reason[VERDICT_REASON_MAX];
    identity_status st;

    st = identity_normalize(claimed, name);
    verdict_init(v, st == IDENTITY_OK ? name : "", ev);
    own->n = 0;
    if (ev == NULL || evidence_is_empty(ev)) {
        verdict_set_none(v, "no client certificate");
        return false;
    }
    if (st != IDENTITY_OK) {
        snprintf(reason, sizeof(reason), "claimed name invalid: %s", identity_status_str(st));
        verdict_set_none(v, reason);
        return false;
    }
    if (!identity_in_scope(name, opt->lookup_domains, opt->nlookup_domains)) {
        verdict_set_none(v, "claimed name outside the look-up domains");
        return false;
    }
    if (opt->owner != NULL)
        st = identity_normalize_owner(opt->owner, own->name[0]);
    else
        st = identity_owner(name, IDENTITY_OWNER_CLIENT, own->name[0]);
    if (st != IDENTITY_OK) {
        snprintf(reason, sizeof(reason), "owner name invalid: %s", identity_status_str(st));
        verdict_set_none(v, reason);
        return false;
    }
    own->n = 1;
    if (opt->owner == NULL && opt->server_tlsa &&
        identity_owner(name, IDENTITY_OWNER_SERVER, own->name[1]) == IDENTITY_OK)
        own->n = 2;
    return true;
}

/* check_stale - for a look-up that failed (not bogus): the stale RRset of owner, if the resolver holds one. */
static bool check_stale(resolver *res, const resolver_answer *ans, resolver_answer *view, unsigned *ago_s)
{
    if (ans->status != RESOLVER_SERVFAIL && ans->status != RESOLVER_TIMEOUT && ans->status != RESOLVER_NETERR)
        return false;
    return resolver_stale(res, ans->owner, view, ago_s);
}

/* check_identity - decide the verdict for claimed name `claimed` with evidence ev. */
void check_identity(resolver *res, const evidence *ev, const char *claimed,
                    const check_options *opt, verdict *v)
{
    owners own;
    resolver_answer ans;
    resolver_answer view;
    unsigned ago_s;
    size_t i;

    if (!prepare(ev, claimed, opt, v, &own))
        return;
    for (i = 0; i < own.n; i++) {
        resolver_lookup(res, own.name[i], &ans);
        if (check_stale(res, &ans, &view, &ago_s))
            verdict_evaluate_stale(v, ev, &view, ago_s);
        else
            verdict_evaluate_owner(v, ev, &ans);
        resolver_answer_clear(&ans);
    }
    verdict_finish(v);
}

/* job_free - release a job and the answers it holds. */
static void job_free(check_job *job)
{
    size_t i;

    for (i = 0; i < job->own.n; i++)
        if (job->kept[i])
            resolver_answer_clear(&job->ans[i]);
    free(job);
}

/* job_complete - all answers are in: evaluate the kept ones in owner order, report, free. */
static void job_complete(check_job *job)
{
    check_done done = job->done;
    void *arg = job->arg;
    verdict *v = job->v;
    size_t i;

    for (i = 0; i < job->own.n; i++) {
        if (job->kept[i] && job->stale[i])
            verdict_evaluate_stale(v, job->ev, &job->ans[i], job->stale_ago_s[i]);
        else if (job->kept[i])
            verdict_evaluate_owner(v, job->ev, &job->ans[i]);
    }
    if (v->nowners != job->own.n)
        DANCE_PANIC("an owner was not evaluated");
    verdict_finish(v);
    job_free(job);
    done(arg, v);
}

/*
 * on_answer - resolver callback for one owner.  With one owner the answer
 * is evaluated at once (no copy); with more, each is kept until all are
 * in, so they are evaluated in owner order whatever order they came in.
 */
static void on_answer(void *arg, const resolver_answer *ans)
{
    check_slot *slot = arg;
    check_job *job = slot->job;
    resolver_answer view;
    unsigned ago_s = 0;
    /* only an error answer makes this call into the resolver, and an error
     * answer carries no RDATA that the call could free */
    bool stale = check_stale(job->res, ans, &view, &ago_s);

    if (job->own.n == 1 && stale) {
        verdict_evaluate_stale(job->v, job->ev, &view, ago_s);
    } else if (job->own.n == 1) {
        verdict_evaluate_owner(job->v, job->ev, ans);
    } else {
        resolver_answer_copy(&job->ans[slot->index], stale ? &view : ans);
        job->kept[slot->index] = true;
        job->stale[slot->index] = stale;
        job->stale_ago_s[slot->index] = ago_s;
    }
    job->query[slot->index] = 0;
    if (job->outstanding == 0)
        DANCE_PANIC("more answers than queries");
    if (--job->outstanding == 0 && !job->starting)
        job_complete(job);
}

/* check_gate_refuses - ask gate about the owners not in the cache; true when it refused (v decided). */
static bool check_gate_refuses(resolver *res, const owners *own, check_gate gate, void *gate_arg, verdict *v)
{
    char reason[VERDICT_REASON_MAX];
    size_t i, n = 0;

    if (gate == NULL)
        return false;
    for (i = 0; i < own->n; i++)
        if (!resolver_cached(res, own->name[i]))
            n++;
    if (n == 0)
        return false;           /* cached answers never count */
    reason[0] = '\0';
    if (gate(gate_arg, n, reason, sizeof(reason)) == CHECK_GATE_OPEN)
        return false;
    verdict_set_temperror(v, reason[0] != '\0' ? reason : "look-up refused");
    return true;
}

/* check_start - begin an asynchronous check into *v. */
check_job *check_start(resolver *res, const evidence *ev, const char *claimed,
                       const check_options *opt, verdict *v, check_done done, void *arg)
{
    return check_start_gated(res, ev, claimed, opt, NULL, NULL, v, done, arg);
}

/* check_start_gated - check_start() that asks gate before sending queries. */
check_job *check_start_gated(resolver *res, const evidence *ev, const char *claimed,
                             const check_options *opt, check_gate gate, void *gate_arg, verdict *v,
                             check_done done, void *arg)
{
    check_job *job;
    size_t i;
    int id;

    /* not calloc: a job is about 4 KB, mostly answers that only a
     * two-owner check fills (by copy); zeroing it was a tenth of a warm
     * request's instructions */
    job = xmalloc(sizeof(*job));
    for (i = 0; i < VERDICT_OWNERS_MAX; i++) {
        job->query[i] = 0;
        job->kept[i] = false;
        job->stale[i] = false;
    }
    if (!prepare(ev, claimed, opt, v, &job->own) || check_gate_refuses(res, &job->own, gate, gate_arg, v)) {
        free(job);
        done(arg, v);
        return NULL;
    }
    job->res = res;
    job->ev = ev;
    job->v = v;
    job->done = done;
    job->arg = arg;
    job->outstanding = job->own.n;
    job->starting = true;
    for (i = 0; i < job->own.n; i++) {
        job->slot[i].job = job;
        job->slot[i].index = i;
        id = resolver_submit(res, job->own.name[i], on_answer, &job->slot[i]);
        if (id > 0) /* else answered already (cache) or failed (callback ran) */
            job->query[i] = id;
    }
    job->starting = false;
    if (job->outstanding == 0) {
        job_complete(job);
        return NULL;
    }
    return job;
}

/* check_abort - cancel a pending job: its look-ups are cancelled and done never runs. */
void check_abort(check_job *job)
{
    size_t i;

    if (job == NULL)
        return;
    for (i = 0; i < job->own.n; i++)
        if (job->query[i] > 0)
            resolver_cancel(job->res, job->query[i]);
    job_free(job);
}
