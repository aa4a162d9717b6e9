/*
 * check.h - synchronous check of one claimed identity (the dance CLI's path).
 *
 * check_identity() runs the whole decision for one claimed name: evidence
 * present? name valid and in scope? look up each owner (the convention, or
 * one explicit owner), evaluate, combine.  No DNS query is made unless the
 * evidence is non-empty and the name is valid and in scope.
 */
#ifndef DANCE_CHECK_H
#define DANCE_CHECK_H

#include <stddef.h>
#include <stdbool.h>
#include "evidence.h"
#include "resolver.h"
#include "verdict.h"

typedef struct check_options {
    bool server_tlsa;                 /* also query _25._tcp.NAME */
    const char *owner;                /* query exactly this owner instead (still validated), or NULL */
    const char *const *lookup_domains;/* scope; n == 0: everything */
    size_t nlookup_domains;
} check_options;

/* check_identity - decide the verdict for claimed name `claimed` with evidence ev. */
void check_identity(resolver *res, const evidence *ev, const char *claimed,
                    const check_options *opt, verdict *v);

#endif
