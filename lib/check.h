/*
 * check.h - the whole decision for one claimed identity.
 *
 * check_identity() (synchronous, the dance CLI) and check_start()
 * (asynchronous, the daemon's event loop) run the same steps: evidence
 * present? name valid and in scope? look up each owner (the convention, or
 * one explicit owner), evaluate, combine.  No DNS query is made unless the
 * evidence is non-empty and the name is valid and in scope.
 */
#ifndef DANCE_LIB_CHECK_H
#define DANCE_LIB_CHECK_H

#include <stddef.h>
#include <stdbool.h>
#include "evidence.h"
#include "resolver.h"
#include "verdict.h"

typedef struct check_options {
    bool server_tlsa;                  /* also query _25._tcp.NAME */
    const char *owner;                 /* query exactly this owner instead (still validated), or NULL */
    const char *const *lookup_domains; /* scope; n == 0: everything */
    size_t nlookup_domains;
} check_options;

/* check_identity - decide the verdict for claimed name `claimed` with evidence ev. */
void check_identity(resolver *res, const evidence *ev, const char *claimed,
                    const check_options *opt, verdict *v);

/* Completion of an asynchronous check: v is the caller's verdict, now finished. */
typedef void (*check_done)(void *arg, verdict *v);

typedef struct check_job check_job;

/*
 * check_start - begin an asynchronous check into *v.  ev, opt and v must stay
 * valid until done runs.  When the verdict needs no DNS, or every answer came
 * from the cache, done runs before check_start returns and NULL is returned;
 * otherwise a job handle is returned and done runs later from
 * resolver_process() or resolver_expire().
 */
check_job *check_start(resolver *res, const evidence *ev, const char *claimed,
                       const check_options *opt, verdict *v, check_done done, void *arg);

/* What a gate says of the look-ups a check needs. */
typedef enum {
    CHECK_GATE_OPEN = 0,       /* go ahead */
    CHECK_GATE_REFUSED         /* not now: the verdict is temperror with the gate's reason */
} check_gate_status;

/*
 * A gate: asked once per check that needs n >= 1 uncached look-ups (cache
 * hits never reach it), before any query is sent; a refusal writes a short
 * printable reason into reason.
 */
typedef check_gate_status (*check_gate)(void *gate_arg, size_t n, char *reason, size_t reasonsize);

/*
 * check_start_gated - check_start() that asks gate (if not NULL) before
 * sending queries; refused, the verdict is temperror, done runs before
 * this returns and nothing is sent.
 */
check_job *check_start_gated(resolver *res, const evidence *ev, const char *claimed,
                             const check_options *opt, check_gate gate, void *gate_arg, verdict *v,
                             check_done done, void *arg);

/* check_abort - cancel a pending job: its look-ups are cancelled and done never runs. */
void check_abort(check_job *job);

#endif
