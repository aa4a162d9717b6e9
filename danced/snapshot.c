/*
 * snapshot.c - one loaded configuration, shared read-only and reference counted.
 *
 * USAGE
 *	snapshot *s;
 *	if (snapshot_load(path, NULL, &s, err, sizeof(err)) != SNAPSHOT_OK)
 *	    ... report err, keep the old snapshot ...
 *	req->snap = snapshot_ref(s);		(a request keeps its settings)
 *	snapshot_unref(req->snap);
 *
 * DESCRIPTION
 *	snapshot_load() runs config_load() on top of the defaults, then
 *	derives: the effective authserv-id (authserv_id, else the given
 *	default, else the host's name), validated the way authres_format()
 *	validates it, so a bad id is a start-up/reload error and never a
 *	missing header later; the check_options for check_start(); the
 *	resolver_config for resolver_new().
 *
 *	The default authserv-id is the host's fully qualified name:
 *	gethostname(), and when that has no dot, the canonical name
 *	getaddrinfo() finds for it (normally from /etc/hosts; with a host
 *	name missing there the system resolver is asked once - set
 *	authserv_id to avoid that).  When that fails the bare host name is
 *	used.
 *
 *	It also refuses what would make danced useless or unsafe
 *	(snapshot_validate): no socket at all; a trusted_authserv_ids
 *	entry at or under the effective authserv-id (forged fields
 *	claiming our own id must always be removed); both faces on
 *	without peer_users (any local process could then write the
 *	verdicts the milter trusts); "any" beside user names in
 *	peer_users; user = root; an inet socket on an address that is not
 *	loopback without remote_sockets = yes (the milter face and an
 *	unchecked policy face serve whoever connects; the stats socket
 *	tells them what danced sees).
 *
 *	The content of a snapshot never changes after snapshot_load().
 *	Everything runs on the loop's thread; the reference count is kept
 *	with atomic operations all the same, so a snapshot can never be
 *	the reason a future thread breaks.
 */
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/endpoint.h"
#include "lib/netaddr.h"
#include "lib/panic.h"
#include "snapshot.h"

/* snapshot_servid_ok - true when id is usable as an authserv-id in our header. */
static bool snapshot_servid_ok(const char *id)
{
    char field[AUTHRES_FIELD_MAX];

    return id != NULL && strlen(id) <= CONFIG_AUTHSERV_ID_MAX
           && authres_format(id, NULL, 0, 0, field, sizeof(field)) == AUTHRES_OK;
}

/* snapshot_host_fqdn - the host's name for the default authserv-id. */
static void snapshot_host_fqdn(char *out, size_t outsize)
{
    char host[256];
    struct addrinfo hints, *ai = NULL;

    if (outsize == 0)
        DANCE_PANIC("unexpected: outsize == 0");
    out[0] = '\0';
    if (gethostname(host, sizeof(host) - 1) != 0)
        return;
    host[sizeof(host) - 1] = '\0';
    snprintf(out, outsize, "%s", host);
    if (strchr(host, '.') != NULL)
        return;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_CANONNAME;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai != NULL) {
        if (ai->ai_canonname != NULL && strchr(ai->ai_canonname, '.') != NULL)
            snprintf(out, outsize, "%s", ai->ai_canonname);
    }
    if (ai != NULL)
        freeaddrinfo(ai);
}

static bool snapshot_empty(const char *s)
{
    return s == NULL || *s == '\0';
}

/* snapshot_fail - format "FILE:LINE: KEY: problem" into err; returns false. */
static bool snapshot_fail(const snapshot *s, const char *path, const char *key, char *err, size_t errsize,
                          const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static bool snapshot_fail(const snapshot *s, const char *path, const char *key, char *err, size_t errsize,
                          const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(err, errsize, "%s:%u: %s: %s", path, config_line_of(&s->cfg, key), key, why);
    return false;
}

/* snapshot_local_endpoint - true for unix sockets, loopback literals and "localhost". */
static bool snapshot_local_endpoint(const char *text)
{
    endpoint ep;
    netaddr a;
    char why[256];

    if (snapshot_empty(text) || !endpoint_parse(text, &ep, why, sizeof(why)))
        return true;                    /* none, or refused by the key's own check */
    if (ep.family == AF_UNIX)
        return true;
    if (ep.family == AF_UNSPEC)
        return strcasecmp(ep.host, "localhost") == 0;
    return netaddr_parse(ep.host, &a) && netaddr_is_loopback(&a);
}

/* snapshot_peers - resolve peer_users to user ids; false with the problem in err. */
static bool snapshot_peers(snapshot *s, const char *path, char *err, size_t errsize)
{
    const config_list *users = &s->cfg.peer_users;

    s->peer_any = users->n == 0 || (users->n == 1 && strcmp(users->v[0], "any") == 0);
    s->npeer_uids = 0;
    for (size_t i = 0; i < users->n && !s->peer_any; i++) {
        struct passwd *pw = getpwnam(users->v[i]);

        if (pw == NULL)
            return snapshot_fail(s, path, "peer_users", err, errsize, "no such user \"%s\"",
                                 users->v[i]);
        s->peer_uids[s->npeer_uids++] = pw->pw_uid;
    }
    return true;
}

/* snapshot_validate - the rules that span keys; false with the problem in err. */
static bool snapshot_validate(const snapshot *s, const char *path, char *err, size_t errsize)
{
    const dance_config *c = &s->cfg;
    const char *sockets[3] = { "policy_socket", "milter_socket", "stats_socket" };
    const char *values[3] = { c->policy_socket, c->milter_socket, c->stats_socket };

    if (snapshot_empty(c->policy_socket) && snapshot_empty(c->milter_socket))
        return snapshot_fail(s, path, "policy_socket", err, errsize,
                             "none, and no milter_socket either: nothing to serve");
    for (size_t i = 0; i < c->trusted_authserv_ids.n; i++) {
        char id[AUTHRES_SERVID_MAX];
        const char *e = c->trusted_authserv_ids.v[i], *at = strrchr(e, '@');
        size_t len = at != NULL ? (size_t) (at - e) : strlen(e);

        snprintf(id, sizeof(id), "%.*s", (int) len, e);
        if (authres_servid_relation(id, s->servid_norm) != AUTHRES_ID_OTHER)
            return snapshot_fail(s, path, "trusted_authserv_ids", err, errsize,
                                 "\"%s\" is danced's own authserv-id %s or a name under it; fields "
                                 "claiming it are always removed (RFC 8601 section 5)", id, s->servid);
    }
    for (size_t i = 0; i < c->peer_users.n; i++)
        if (strcmp(c->peer_users.v[i], "any") == 0 && c->peer_users.n > 1)
            return snapshot_fail(s, path, "peer_users", err, errsize,
                                 "\"any\" cannot be listed with user names");
    if (!snapshot_empty(c->policy_socket) && !snapshot_empty(c->milter_socket) && c->peer_users.n == 0)
        return snapshot_fail(s, path, "peer_users", err, errsize,
                             "not set, but both faces are on: the milter trusts the verdicts the "
                             "policy face records, so only the MTA may use the policy socket; set "
                             "peer_users = postfix (Postfix's mail_owner), or peer_users = any to "
                             "accept that every local user can forge them");
    if (strcmp(c->user, "root") == 0)
        return snapshot_fail(s, path, "user", err, errsize,
                             "danced must not run as root: name an unprivileged user (it binds its "
                             "sockets before switching)");
    for (int i = 0; i < 3; i++)
        if (!c->remote_sockets && !snapshot_local_endpoint(values[i]))
            return snapshot_fail(s, path, sockets[i], err, errsize,
                                 "\"%s\" is not a loopback address: any host that reaches it could "
                                 "use danced (the milter face has no access control); use a unix or "
                                 "loopback socket, or set remote_sockets = yes behind a firewall",
                                 values[i]);
    return true;
}

/* snapshot_load - read path into a new snapshot (one reference). */
snapshot_status snapshot_load(const char *path, const char *default_servid, snapshot **out,
                              char *err, size_t errsize)
{
    snapshot *s;
    config_status cst;
    snapshot_status status;
    char host[AUTHRES_SERVID_MAX];
    const char *id;

    *out = NULL;
    s = xcalloc(1, sizeof(*s));
    config_init(&s->cfg);
    cst = config_load(path, &s->cfg, err, errsize);
    if (cst != CONFIG_OK) {
        status = cst == CONFIG_UNREADABLE ? SNAPSHOT_UNREADABLE : SNAPSHOT_SYNTAX;
        goto fail;
    }
    if (!snapshot_empty(s->cfg.authserv_id)) {
        id = s->cfg.authserv_id;
    } else if (!snapshot_empty(default_servid)) {
        id = default_servid;
    } else {
        snapshot_host_fqdn(host, sizeof(host));
        id = host;
    }
    if (!snapshot_servid_ok(id)) {
        snprintf(err, errsize, "%s: authserv_id: \"%.64s\" is not a valid authserv-id%s",
                 path, id, snapshot_empty(s->cfg.authserv_id) ? " (from the host name; set authserv_id)" : "");
        status = SNAPSHOT_BAD_SERVID;
        goto fail;
    }
    snprintf(s->servid, sizeof(s->servid), "%s", id);
    if (!authres_norm_servid(s->servid, s->servid_norm, sizeof(s->servid_norm))
        || !snapshot_validate(s, path, err, errsize) || !snapshot_peers(s, path, err, errsize)) {
        status = SNAPSHOT_SYNTAX;
        goto fail;
    }
    for (size_t i = 0; i < s->cfg.lookup_domains.n; i++)
        s->domains[i] = s->cfg.lookup_domains.v[i];
    s->copt.server_tlsa = s->cfg.server_tlsa;
    s->copt.owner = NULL;
    s->copt.lookup_domains = s->domains;
    s->copt.nlookup_domains = s->cfg.lookup_domains.n;
    s->copt_domain = s->copt;
    s->copt_domain.server_tlsa = false;
    config_resolver(&s->cfg, &s->rc);
    s->refs = 1;
    *out = s;
    return SNAPSHOT_OK;

fail:
    config_free(&s->cfg);
    free(s);
    return status;
}

/* snapshot_ref - take one more reference. */
snapshot *snapshot_ref(snapshot *snap)
{
    if (snap == NULL || __atomic_fetch_add(&snap->refs, 1, __ATOMIC_RELAXED) == 0)
        DANCE_PANIC("a reference to a freed snapshot");
    return snap;
}

/* snapshot_unref - drop one reference; the last one frees. */
void snapshot_unref(snapshot *snap)
{
    if (snap == NULL)
        return;
    unsigned before = __atomic_fetch_sub(&snap->refs, 1, __ATOMIC_ACQ_REL);

    if (before == 0)
        DANCE_PANIC("unexpected: before == 0");
    if (before > 1)
        return;
    config_free(&snap->cfg);
    free(snap);
}

static bool snapshot_same_str(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* snapshot_same_resolver - true when a and b need no new resolver between them. */
bool snapshot_same_resolver(const snapshot *a, const snapshot *b)
{
    const dance_config *x = &a->cfg, *y = &b->cfg;

    if (!snapshot_same_str(x->trust_anchor_file, y->trust_anchor_file)
        || !snapshot_same_str(x->resolver_config, y->resolver_config)
        || x->forwarders_tls != y->forwarders_tls || !snapshot_same_str(x->tls_ca_file, y->tls_ca_file)
        || x->dns_timeout != y->dns_timeout || x->cache_max_ttl != y->cache_max_ttl
        || x->cache_error_ttl != y->cache_error_ttl || x->cache_entries != y->cache_entries
        || x->forwarders.n != y->forwarders.n)
        return false;
    for (size_t i = 0; i < x->forwarders.n; i++)
        if (!snapshot_same_str(x->forwarders.v[i], y->forwarders.v[i]))
            return false;
    return true;
}
