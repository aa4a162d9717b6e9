/*
 * resolver_map.c - libunbound's answer to one TLSA query, as a resolver_answer.
 *
 * USAGE
 *	resolver_map_result(&ans, owner, err, result);	(from the query's callback)
 *
 * DESCRIPTION
 *	The most security-relevant table of the program: every libunbound
 *	outcome maps to exactly one resolver_status, checked in this order
 *	(libunbound hands out bogus answers with rcode 0 and data filled
 *	in, so the security flags come first):
 *	    libunbound error (err != 0)        -> NETERR, why = ub_strerror
 *	    result->bogus                      -> BOGUS, why = why_bogus
 *	    rcode other than NOERROR/NXDOMAIN  -> SERVFAIL, why = "rcode N (...)"
 *	    not secure (data or denial)        -> INSECURE
 *	    NXDOMAIN                           -> SECURE_NXDOMAIN
 *	    no data                            -> SECURE_NODATA
 *	    over RESOLVER_MAX_RECORDS records  -> SECURE, no RDATA kept, its size in
 *	    or RESOLVER_RRSET_MAX_OCTETS          oversize_records/_octets (the
 *	                                          verdict is permerror)
 *	    otherwise                          -> SECURE with copies of the RDATA
 *	RDATA is only ever copied for SECURE answers: count is 0 for every
 *	other status, so nothing unvalidated can be mistaken for records.
 *	Pure: unit-tested with hand-built ub_results (t/unit/lib/test_resolver_map.c).
 */
#define _POSIX_C_SOURCE 200809L /* strncasecmp */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unbound.h>

#include "panic.h"
#include "resolver.h"

/* resolver_same_name - equal presentation names, ignoring case and one trailing dot. */
static bool resolver_same_name(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);

    if (la > 0 && a[la - 1] == '.')
        la--;
    if (lb > 0 && b[lb - 1] == '.')
        lb--;
    return (la == lb && strncasecmp(a, b, la) == 0);
}

/* resolver_rcode_name - mnemonic of a DNS rcode for error texts. */
static const char *resolver_rcode_name(int rcode)
{
    switch (rcode) {
    case 1:
        return ("FORMERR");
    case 2:
        return ("SERVFAIL");
    case 4:
        return ("NOTIMP");
    case 5:
        return ("REFUSED");
    default:
        return ("unexpected");
    }
}

/* resolver_map_result - map libunbound's err/result to an answer (order: see DESCRIPTION). */
void resolver_map_result(resolver_answer *ans, const char *owner, int err,
                                const struct ub_result *result)
{
    size_t n, i, octets = 0;

    resolver_answer_init(ans, owner);
    if (err != 0 || result == NULL) {
        resolver_answer_fail(ans, RESOLVER_NETERR, "libunbound: %s",
                             err ? ub_strerror(err) : "no result");
        return;
    }
    if (result->canonname != NULL && result->qname != NULL &&
        !resolver_same_name(result->canonname, result->qname))
        resolver_copy_printable(ans->canon, sizeof(ans->canon), result->canonname);
    if (result->bogus) {
        resolver_answer_fail(ans, RESOLVER_BOGUS, "%s",
                             result->why_bogus ? result->why_bogus : "DNSSEC validation failed");
        return;
    }
    if (result->rcode != 0 && result->rcode != 3) {
        resolver_answer_fail(ans, RESOLVER_SERVFAIL, "rcode %d (%s)%s", result->rcode,
                             resolver_rcode_name(result->rcode),
                             result->was_ratelimited ? ", rate limited" : "");
        return;
    }
    ans->ttl = result->ttl > 0 ? (uint32_t)result->ttl : 0;
    if (!result->secure) {
        ans->status = RESOLVER_INSECURE;
        return;
    }
    if (result->nxdomain) {
        ans->status = RESOLVER_SECURE_NXDOMAIN;
        return;
    }
    for (n = 0; result->havedata && result->data != NULL && result->data[n] != NULL; n++) {
        if (result->len[n] < 0)
            DANCE_PANIC("broken invariant");
        octets += (size_t)result->len[n];
    }
    if (n == 0) {
        ans->status = RESOLVER_SECURE_NODATA;
        return;
    }
    if (n > RESOLVER_MAX_RECORDS || octets > RESOLVER_RRSET_MAX_OCTETS) {
        /* refused whole, nothing copied: a hostile zone cannot fill the cache */
        ans->oversize_records = n;
        ans->oversize_octets = octets;
        ans->status = RESOLVER_SECURE;
        return;
    }
    for (i = 0; i < n; i++) {
        ans->rdlen[i] = (size_t)result->len[i];
        ans->rdata[i] = xcalloc(1, ans->rdlen[i]);
        if (ans->rdlen[i] > 0)
            memcpy(ans->rdata[i], result->data[i], ans->rdlen[i]);
    }
    ans->count = n;
    ans->status = RESOLVER_SECURE;
}

