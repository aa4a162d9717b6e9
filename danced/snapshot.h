/*
 * snapshot.h - one loaded configuration, shared read-only and reference counted.
 *
 * The daemon holds the current snapshot; every request in progress holds a
 * reference to the snapshot it started with, so a SIGHUP reload swaps the
 * current one without pulling settings from under a request that is
 * waiting for DNS.  A snapshot also carries what is derived from the file
 * once: the effective authserv-id, the check options, the resolver settings.
 */
#ifndef DANCE_DANCED_SNAPSHOT_H
#define DANCE_DANCED_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "lib/authres.h"
#include "lib/check.h"
#include "lib/config.h"

typedef struct snapshot {
    dance_config cfg;
    char servid[AUTHRES_SERVID_MAX];         /* effective authserv-id */
    char servid_norm[AUTHRES_SERVID_MAX];    /* the same in authres_norm_servid() form */
    const char *domains[CONFIG_LIST_MAX];    /* cfg.lookup_domains for check_options */
    check_options copt;              /* for host names (helo, ptr) */
    check_options copt_domain;       /* for the mailfrom domain: no _25._tcp (not a host) */
    resolver_config rc;                      /* points into cfg */
    bool peer_any;                           /* peer_users = any, or not set: connections unchecked */
    size_t npeer_uids;
    uid_t peer_uids[CONFIG_LIST_MAX];        /* peer_users, resolved (root is always let in) */
    unsigned long generation;                /* set by the daemon: 0 at start, +1 per reload */
    unsigned refs;
} snapshot;

typedef enum {
    SNAPSHOT_OK = 0,
    SNAPSHOT_UNREADABLE,      /* config_load: file missing or unreadable */
    SNAPSHOT_SYNTAX,          /* config_load: a line, key or value is wrong */
    SNAPSHOT_BAD_SERVID       /* authserv_id (or the host name used for it) is not a valid authserv-id */
} snapshot_status;

/*
 * snapshot_load - read path into a new snapshot (one reference); default_servid
 * is used when authserv_id is not set.  On error *out is NULL and err holds
 * "FILE:LINE: KEY: problem" (or the authserv-id problem).
 */
snapshot_status snapshot_load(const char *path, const char *default_servid, snapshot **out,
                              char *err, size_t errsize);

/* snapshot_ref - take one more reference. */
snapshot *snapshot_ref(snapshot *snap);

/* snapshot_unref - drop one reference; the last one frees.  NULL is fine. */
void snapshot_unref(snapshot *snap);

/* snapshot_same_resolver - true when a and b need no new resolver between them. */
bool snapshot_same_resolver(const snapshot *a, const snapshot *b);

#endif
