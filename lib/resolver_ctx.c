/*
 * resolver_ctx.c - a libunbound context set up from a resolver_config, safely.
 *
 * USAGE
 *	if (!resolver_ctx_setup(ub_ctx_create(), cfg, relay_port, err, sizeof(err))) ... bad environment ...
 *
 * DESCRIPTION
 *	Threaded mode (ub_ctx_async), RESOLVER_OUTGOING_RANGE and
 *	RESOLVER_OUTGOING_NUM_TCP queries in flight (libunbound's library
 *	defaults of 16 and 2 cap cold look-ups; set first, so a value in the
 *	operator's unbound config still wins), the unbound config file, the
 *	trust anchor, the forwarders - or, with forwarders_tls, the DNS over
 *	TLS relay's loopback port (relay_port, dotrelay.c) in tcp-upstream
 *	mode, with do-not-query-localhost off so 127.0.0.1 may be asked
 *	(set after the unbound config file, so they win; stub and forward
 *	zones of that file are still asked as it says).  Then it reads two
 *	options back and refuses a configuration that enables
 *	val-permissive-mode (bogus answers would look insecure) or leaves
 *	out the validator module, and makes libunbound initialise at once,
 *	so a broken trust anchor or configuration file is reported at
 *	start-up, not at the first query.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "resolver.h"
#include "resolver_private.h"

#define RESOLVER_STR2(x) #x
#define RESOLVER_STR(x) RESOLVER_STR2(x)  /* a number macro as a string, for ub_ctx_set_option */

/*
 * A name that is no local zone: removing it from the local zones is a
 * no-op whose only effect is that libunbound finalizes its configuration.
 */
#define RESOLVER_FINALIZE_ZONE "dance-finalize.invalid."

/* resolver_error - format a resolver_new() error message. */
void resolver_error(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errsize == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}

/* resolver_readable - can path be opened for reading? errno is kept on failure. */
static bool resolver_readable(const char *path)
{
    FILE *fp = fopen(path, "r");

    if (fp == NULL)
        return (false);
    fclose(fp);
    return (true);
}

/* resolver_check_safety - read libunbound options back; false with a message when it is unsafe. */
static bool resolver_check_safety(struct ub_ctx *ctx, const char *cfgname, char *err,
                                  size_t errsize)
{
    char *val = NULL;
    bool ok = true;
    int rc;

    if ((rc = ub_ctx_get_option(ctx, "val-permissive-mode", &val)) != 0) {
        resolver_error(err, errsize, "resolver: cannot read val-permissive-mode: %s",
                       ub_strerror(rc));
        return (false);
    }
    if (val == NULL || strcmp(val, "no") != 0) {
        resolver_error(err, errsize,
                       "resolver: %s enables val-permissive-mode "
                       "(bogus answers would look insecure); refusing it",
                       cfgname ? cfgname : "the libunbound configuration");
        ok = false;
    }
    free(val);
    if (!ok)
        return (false);

    val = NULL;
    if ((rc = ub_ctx_get_option(ctx, "module-config", &val)) != 0) {
        resolver_error(err, errsize, "resolver: cannot read module-config: %s", ub_strerror(rc));
        return (false);
    }
    if (val == NULL || strstr(val, "validator") == NULL) {
        resolver_error(err, errsize,
                       "resolver: %s sets module-config without "
                       "\"validator\" (no DNSSEC validation); refusing it",
                       cfgname ? cfgname : "the libunbound configuration");
        ok = false;
    }
    free(val);
    return (ok);
}

static bool resolver_relay_setup(struct ub_ctx *ctx, unsigned relay_port, char *err, size_t errsize);
static bool resolver_finish(struct ub_ctx *ctx, const char *conf, const char *ta, char *err, size_t errsize);

/* resolver_ctx_setup - configure a fresh libunbound context from cfg; false with a message. */
bool resolver_ctx_setup(struct ub_ctx *ctx, const resolver_config *cfg, unsigned relay_port, char *err,
                        size_t errsize)
{
    const char *ta =
        cfg->trust_anchor_file ? cfg->trust_anchor_file : RESOLVER_DEFAULT_TRUST_ANCHOR;
    const char *conf = cfg->unbound_config;
    size_t i;
    int rc;

    if ((rc = ub_ctx_async(ctx, 1)) != 0) {
        resolver_error(err, errsize, "resolver: cannot select threaded mode: %s", ub_strerror(rc));
        return (false);
    }
    if ((rc = ub_ctx_set_option(ctx, "outgoing-range:", RESOLVER_STR(RESOLVER_OUTGOING_RANGE))) != 0
        || (rc = ub_ctx_set_option(ctx, "outgoing-num-tcp:", RESOLVER_STR(RESOLVER_OUTGOING_NUM_TCP))) != 0) {
        resolver_error(err, errsize, "resolver: cannot set the number of queries in flight: %s",
                       ub_strerror(rc));
        return (false);
    }
    if (conf != NULL && conf[0] != 0) {
        if (!resolver_readable(conf)) {
            resolver_error(err, errsize, "resolver: unbound config file %s: %s", conf,
                           strerror(errno));
            return (false);
        }
        if ((rc = ub_ctx_config(ctx, conf)) != 0) {
            resolver_error(err, errsize, "resolver: unbound config file %s: %s", conf,
                           ub_strerror(rc));
            return (false);
        }
    }
    if (ta[0] != 0) {
        if (!resolver_readable(ta)) {
            resolver_error(err, errsize, "resolver: trust anchor file %s: %s", ta, strerror(errno));
            return (false);
        }
        if ((rc = ub_ctx_add_ta_file(ctx, ta)) != 0) {
            resolver_error(err, errsize, "resolver: trust anchor file %s: %s", ta, ub_strerror(rc));
            return (false);
        }
    }
    if (cfg->nforwarders > RESOLVER_FORWARDERS_MAX) {
        resolver_error(err, errsize, "resolver: %zu forwarders, at most %d", cfg->nforwarders,
                       RESOLVER_FORWARDERS_MAX);
        return (false);
    }
    if (relay_port != 0)
        return (resolver_relay_setup(ctx, relay_port, err, errsize) &&
                resolver_finish(ctx, conf, ta, err, errsize));
    for (i = 0; i < RESOLVER_FORWARDERS_MAX && cfg->forwarders[i] != NULL &&
                (cfg->nforwarders == 0 || i < cfg->nforwarders);
         i++) {
        if ((rc = ub_ctx_set_fwd(ctx, cfg->forwarders[i])) != 0) {
            resolver_error(err, errsize,
                           "resolver: forwarder %s: %s "
                           "(use IP or IP@port)",
                           cfg->forwarders[i], ub_strerror(rc));
            return (false);
        }
    }
    return (resolver_finish(ctx, conf, ta, err, errsize));
}

/* resolver_relay_setup - forward everything over TCP to the relay on 127.0.0.1; false with a message. */
static bool resolver_relay_setup(struct ub_ctx *ctx, unsigned relay_port, char *err, size_t errsize)
{
    char fwd[32];
    int rc;

    snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", relay_port);
    if ((rc = ub_ctx_set_option(ctx, "tcp-upstream:", "yes")) != 0 ||
        (rc = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no")) != 0 ||
        (rc = ub_ctx_set_fwd(ctx, fwd)) != 0) {
        resolver_error(err, errsize, "resolver: cannot forward to the DNS over TLS relay: %s",
                       ub_strerror(rc));
        return (false);
    }
    return (true);
}

/* resolver_finish - refuse unsafe options, then make libunbound initialise; false with a message. */
static bool resolver_finish(struct ub_ctx *ctx, const char *conf, const char *ta, char *err, size_t errsize)
{
    int rc;

    if (!resolver_check_safety(ctx, conf && conf[0] ? conf : NULL, err, errsize))
        return (false);

    /* Initialise now: trust anchors and zones are read here, not at the first query. */
    if ((rc = ub_ctx_zone_remove(ctx, RESOLVER_FINALIZE_ZONE)) != 0) {
        resolver_error(err, errsize,
                       "resolver: cannot initialise libunbound "
                       "(trust anchor file %s%s%s): %s",
                       ta[0] ? ta : "none", conf && conf[0] ? ", config file " : "",
                       conf && conf[0] ? conf : "", ub_strerror(rc));
        return (false);
    }
    return (true);
}

