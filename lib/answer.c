/*
 * answer.c - the result of one TLSA look-up, as data.
 *
 * USAGE
 *	resolver_answer ans;
 *	resolver_answer_init(&ans, "_smtp-client.mta1.example.");
 *	resolver_answer_fail(&ans, RESOLVER_TIMEOUT, "after %u ms", ms);
 *	resolver_answer_copy(&keep, &ans); ... resolver_answer_clear(&keep);
 *
 * DESCRIPTION
 *	An answer owns malloc'd copies of its RDATA (count of them, only for
 *	RESOLVER_SECURE); copying is deep, clearing frees them.  Text copied
 *	in (owner, why) is made printable: anything outside printable ASCII
 *	becomes '?', so a hostile zone's why_bogus cannot reach a log or a
 *	header raw.  The resolver produces answers, the cache keeps them,
 *	the verdict reads them; none of those needs the others for that.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "panic.h"

/* resolver_copy_printable - bounded copy with anything but printable ASCII replaced by '?'. */
void resolver_copy_printable(char *dst, size_t dstsize, const char *src)
{
    size_t i;

    if (dstsize == 0)
        DANCE_PANIC("broken invariant");
    for (i = 0; src != NULL && src[i] != 0 && i + 1 < dstsize; i++)
        dst[i] = (src[i] >= 0x20 && src[i] <= 0x7e) ? src[i] : '?';
    dst[i] = 0;
}

/* resolver_answer_init - an answer for owner with status NETERR and no data. */
void resolver_answer_init(resolver_answer *ans, const char *owner)
{
    memset(ans, 0, sizeof(*ans));
    ans->status = RESOLVER_NETERR;
    resolver_copy_printable(ans->owner, sizeof(ans->owner), owner);
}

/* resolver_answer_fail - set an error status with a formatted reason. */
void resolver_answer_fail(resolver_answer *ans, resolver_status status, const char *fmt, ...)
{
    char buf[sizeof(ans->why)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ans->status = status;
    ans->ttl = 0;
    resolver_copy_printable(ans->why, sizeof(ans->why), buf);
}

/* resolver_answer_clear - free the RDATA copies in an answer and zero it. */
void resolver_answer_clear(resolver_answer *ans)
{
    size_t i;

    if (ans->count > RESOLVER_MAX_RECORDS)
        DANCE_PANIC("broken invariant");
    for (i = 0; i < ans->count; i++)
        free(ans->rdata[i]);
    memset(ans, 0, sizeof(*ans));
}

/* resolver_answer_copy - deep copy src into dst (dst is overwritten, not freed). */
void resolver_answer_copy(resolver_answer *dst, const resolver_answer *src)
{
    size_t i;

    if (src->count > RESOLVER_MAX_RECORDS)
        DANCE_PANIC("broken invariant");
    if (dst == src)
        DANCE_PANIC("broken invariant");
    *dst = *src;
    for (i = 0; i < src->count; i++) {
        dst->rdata[i] = xcalloc(1, src->rdlen[i]);
        if (src->rdlen[i] > 0)
            memcpy(dst->rdata[i], src->rdata[i], src->rdlen[i]);
    }
    for (; i < RESOLVER_MAX_RECORDS; i++) {
        dst->rdata[i] = NULL;
        dst->rdlen[i] = 0;
    }
}

/* resolver_status_str - "secure", "insecure", "bogus", ... for logs and JSON. */
const char *resolver_status_str(resolver_status status)
{
    switch (status) {
    case RESOLVER_SECURE:
        return ("secure");
    case RESOLVER_SECURE_NXDOMAIN:
        return ("secure-nxdomain");
    case RESOLVER_SECURE_NODATA:
        return ("secure-nodata");
    case RESOLVER_INSECURE:
        return ("insecure");
    case RESOLVER_BOGUS:
        return ("bogus");
    case RESOLVER_SERVFAIL:
        return ("servfail");
    case RESOLVER_TIMEOUT:
        return ("timeout");
    case RESOLVER_NETERR:
        return ("error");
    }
    DANCE_PANIC("broken invariant");
}
