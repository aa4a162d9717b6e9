/*
 * resolver.h - DNSSEC-validated TLSA look-ups through libunbound.
 *
 * One resolver holds one libunbound context and a TTL-honouring cache
 * (cache.h).  It works synchronously (the dance CLI: resolver_lookup) and
 * asynchronously (the daemon: resolver_submit, then poll resolver_fd() for
 * reading, call resolver_process(), and call resolver_expire() when
 * resolver_next_deadline_ms() says a query is overdue).  libunbound has no
 * per-query timeout, so the resolver enforces one on a monotonic clock.
 *
 * Every answer maps to exactly one resolver_status.  Bogus is reported as
 * soon as libunbound says so (with why_bogus); it is never turned into a
 * wait.  CNAMEs are followed by libunbound; the security status covers the
 * whole chain, so an insecure link gives an insecure answer (RFC 7671 7).
 */
#ifndef DANCE_RESOLVER_H
#define DANCE_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define RESOLVER_DEFAULT_TRUST_ANCHOR "/usr/share/dns/root.key"
#define RESOLVER_DEFAULT_TIMEOUT_MS   10000
#define RESOLVER_DEFAULT_CACHE_MAX_TTL 3600   /* ceiling for positive caching, seconds */
#define RESOLVER_DEFAULT_CACHE_ERR_TTL 10     /* negative caching of errors, seconds */
#define RESOLVER_DEFAULT_CACHE_ENTRIES 10000
#define RESOLVER_MAX_RECORDS 64               /* records kept per RRset; more: the RRset is refused */
/* RDATA octets kept per RRset; more: refused.  A client's RRset is a few
 * digests (35 octets each for 3 1 1) or certificates (1-2 KiB each for
 * 3 0 0); no legitimate one comes near, and the cache holds at most
 * cache_entries times this. */
#define RESOLVER_RRSET_MAX_OCTETS 4096
#define RESOLVER_FORWARDERS_MAX 8
/* libunbound's library defaults allow 16 UDP and 2 TCP queries in flight at
 * once; danced asks for these unless resolver_config sets its own. */
#define RESOLVER_OUTGOING_RANGE 1024          /* outgoing-range: UDP queries in flight */
#define RESOLVER_OUTGOING_NUM_TCP 16          /* outgoing-num-tcp: TCP queries in flight */

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

typedef struct resolver_config {
    const char *trust_anchor_file;   /* NULL: RESOLVER_DEFAULT_TRUST_ANCHOR; "" : none */
    const char *unbound_config;      /* optional unbound.conf-style file (ub_ctx_config) */
    const char *forwarders[RESOLVER_FORWARDERS_MAX]; /* "IP" or "IP@port"; NULL-terminated or nforwarders */
    size_t nforwarders;
    unsigned timeout_ms;             /* 0: default */
    unsigned cache_max_ttl;          /* ceiling in seconds; 0 disables caching */
    unsigned cache_err_ttl;          /* seconds to remember errors (bogus/servfail/timeout) */
    size_t cache_entries;            /* 0: default */
} resolver_config;

typedef struct resolver resolver;

/* resolver_config_init - fill a config with the documented defaults. */
void resolver_config_init(resolver_config *cfg);

/* resolver_new - create a resolver; NULL with a message in err when the environment is bad. */
resolver *resolver_new(const resolver_config *cfg, char *err, size_t errsize);

/* resolver_free - cancel pending queries (no callbacks) and release everything. */
void resolver_free(resolver *res);

/* resolver_lookup - synchronous TLSA look-up of owner (cache first); always fills *ans. */
void resolver_lookup(resolver *res, const char *owner, resolver_answer *ans);

/* Completion callback for asynchronous look-ups; ans is only valid until the callback calls into the resolver, or returns. */
typedef void (*resolver_callback)(void *arg, const resolver_answer *ans);

/*
 * resolver_submit - start an asynchronous TLSA look-up.  A cache hit calls cb
 * before returning.  Returns a query id > 0, 0 when answered from cache, or -1
 * on an immediate error (cb has then been called with RESOLVER_NETERR).
 */
int resolver_submit(resolver *res, const char *owner, resolver_callback cb, void *arg);

/* resolver_cancel - forget a pending query; its callback will not run. */
void resolver_cancel(resolver *res, int id);

/* resolver_fd - descriptor to poll for readability (libunbound's ub_fd). */
int resolver_fd(const resolver *res);

/* resolver_process - deliver finished answers to their callbacks; returns 0 or -1 on error. */
int resolver_process(resolver *res);

/* resolver_next_deadline_ms - milliseconds until the earliest pending deadline; -1 when none pending. */
long resolver_next_deadline_ms(const resolver *res);

/* resolver_expire - time out overdue queries (callback with RESOLVER_TIMEOUT); returns how many. */
int resolver_expire(resolver *res);

/* resolver_pending - number of queries in flight. */
size_t resolver_pending(const resolver *res);

/* resolver_answer_clear - free the RDATA copies in an answer and zero it. */
void resolver_answer_clear(resolver_answer *ans);

/* resolver_answer_copy - deep copy src into dst (dst is overwritten, not freed). */
void resolver_answer_copy(resolver_answer *dst, const resolver_answer *src);

/* resolver_status_str - "secure", "insecure", "bogus", ... for logs and JSON. */
const char *resolver_status_str(resolver_status status);

#endif
