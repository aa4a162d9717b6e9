/*
 * answer.h - the result of one TLSA look-up, as data.
 *
 * The resolver (resolver.h) produces answers, the cache (cache.h) keeps
 * them, the verdict (verdict.h) reads them: the type lives here, below all
 * three, so none of them needs another to know it.  Every answer has
 * exactly one resolver_status; RDATA copies exist only for
 * RESOLVER_SECURE answers.
 */
#ifndef DANCE_LIB_ANSWER_H
#define DANCE_LIB_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESOLVER_MAX_RECORDS 64               /* records kept per RRset; more: the RRset is refused */
/* RDATA octets kept per RRset; more: refused.  A client's RRset is a few
 * digests (35 octets each for 3 1 1) or certificates (1-2 KiB each for
 * 3 0 0); no legitimate one comes near, and the cache holds at most
 * cache_entries times this. */
#define RESOLVER_RRSET_MAX_OCTETS 4096
typedef enum {
    RESOLVER_SECURE = 0,       /* secure TLSA RRset present */
    RESOLVER_SECURE_NXDOMAIN,  /* securely proven: no such name */
    RESOLVER_SECURE_NODATA,    /* securely proven: name exists, no TLSA */
    RESOLVER_INSECURE,         /* answer (or denial) not covered by DNSSEC */
    RESOLVER_BOGUS,            /* validation failed; why holds why_bogus */
    RESOLVER_SERVFAIL,         /* SERVFAIL or other error rcode */
    RESOLVER_TIMEOUT,          /* our deadline passed */
    RESOLVER_NETERR            /* libunbound error (network, config, memory) */
} resolver_status;

typedef struct resolver_answer {
    resolver_status status;
    uint32_t ttl;                               /* RRset / negative TTL as received */
    char owner[256];                            /* the name queried */
    char canon[256];                            /* canonical name after CNAMEs, or "" */
    char why[256];                              /* why_bogus or error text, printable ASCII */
    size_t count;                               /* number of RDATAs */
    unsigned char *rdata[RESOLVER_MAX_RECORDS]; /* malloc'd copies */
    size_t rdlen[RESOLVER_MAX_RECORDS];
    size_t oversize_records;                    /* SECURE: a refused RRset's records (no RDATA kept), else 0 */
    size_t oversize_octets;                     /* and its RDATA octets */
    bool from_cache;                            /* served from the in-process cache */
} resolver_answer;

/* resolver_answer_init - an answer for owner with status NETERR and no data. */
void resolver_answer_init(resolver_answer *ans, const char *owner);

/* resolver_answer_fail - set an error status with a formatted reason (made printable). */
void resolver_answer_fail(resolver_answer *ans, resolver_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* resolver_copy_printable - bounded copy with anything but printable ASCII replaced by '?'. */
void resolver_copy_printable(char *dst, size_t dstsize, const char *src);

/* resolver_answer_clear - free the RDATA copies in an answer and zero it. */
void resolver_answer_clear(resolver_answer *ans);

/* resolver_answer_copy - deep copy src into dst (dst is overwritten, not freed). */
void resolver_answer_copy(resolver_answer *dst, const resolver_answer *src);

/* resolver_status_str - "secure", "insecure", "bogus", ... for logs and JSON. */
const char *resolver_status_str(resolver_status status);

#endif
