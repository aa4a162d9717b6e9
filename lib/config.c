/*
 * config.c - read the dance configuration file.
 *
 * Usage:
 *	dance_config cfg;
 *	resolver_config rc;
 *	char err[512];
 *
 *	config_init(&cfg);
 *	if (config_load(path, &cfg, err, sizeof(err)) != CONFIG_OK)
 *	    ... report err, config_free(&cfg), exit ...
 *	config_resolver(&cfg, &rc);     (rc points into cfg)
 *	...
 *	config_free(&cfg);
 *
 * The file is a sequence of "key = value" lines.  A '#' at the start of a
 * line or after white space starts a comment; blank lines are ignored;
 * CR before the newline is white space.  A line longer than
 * CONFIG_LINE_MAX, a NUL or other control character (except tab) is an
 * error.  Every key may be set once per file.  The first error stops the
 * load and is reported as "FILE:LINE: KEY: problem" ("FILE:LINE: syntax:
 * ..." when a line has no key); a file that cannot be read is reported as
 * "FILE: strerror".  On error cfg holds a mix of defaults and values read
 * so far, all owned by cfg, so config_free() always releases it.
 *
 * Keys are described by one table (config_keys[], config_keys.c): name,
 * value type, offset in dance_config, bounds, and for strings and list
 * entries a check that validates and normalizes the text
 * (config_check.c).  Adding a key is one table line (plus a check function
 * for a new kind of string).  Value types (config_value.c):
 *
 *   string    kept as written after the check (paths: "none", "" or ""
 *             written as two quotes mean "no file" and are kept as "";
 *             config_resolver() passes resolver_config "" on as NULL)
 *   duration  digits with an optional s, m, h or d suffix; bounded in seconds
 *   uint      digits only; bounded
 *   bool      yes/no, true/false, 1/0 (any case)
 *   list      entries separated by commas and/or white space; empty
 *             entries (",,", leading or trailing comma) are errors; at most
 *             max entries, each passed through the check
 *   mode      octal permission bits (660, 0660), at most max
 *   word      one keyword of the key's words[] (any case), stored as an int
 *             (the enum fields it serves are int-sized: asserted below)
 *   flags     a list of keywords of words[], their bits ORed; an empty
 *             list or a keyword given twice is an error
 *   digest    sha256 or sha512 (evidence_digest_alg); md5 and sha1 are
 *             refused with the fix, since no TLSA matching type uses them
 *   rate      N/DURATION (count bounded by max, the duration 1s..24h), or
 *             "off" or 0 for none
 *
 * Strings that mean "use the default" (authserv_id, socket_group, user,
 * group, pid_file) accept an empty value, so that every line of the
 * sample file can be uncommented as it is.
 *
 * Socket endpoints are checked with endpoint_parse() (endpoint.h), so a
 * file that loads has sockets danced can use.
 *
 * Memory exhaustion while copying a value panics (like Postfix's mymalloc).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config_private.h"
#include "dotrelay.h"
#include "panic.h"

static config_status config_check_forwarders(const dance_config *cfg, const char *path, char *err,
                                             size_t errsize);


/* config_error - format a message into err (if any); returns status. */
static config_status config_error(config_status status, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static config_status config_error(config_status status, char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errsize > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
    return status;
}

typedef enum {
    CONFIG_LINE_OK,
    CONFIG_LINE_EOF,
    CONFIG_LINE_LONG,
    CONFIG_LINE_NUL,
    CONFIG_LINE_ERROR
} config_line_status;

/* config_read_line - read one line (without its newline) into buf[CONFIG_LINE_MAX + 1]. */
static config_line_status config_read_line(FILE *fp, char *buf)
{
    size_t len = 0;
    int c;

    while ((c = getc(fp)) != EOF && c != '\n') {
        if (c == '\0')
            return CONFIG_LINE_NUL;
        if (len >= CONFIG_LINE_MAX)
            return CONFIG_LINE_LONG;
        buf[len++] = (char) c;
    }
    buf[len] = '\0';
    if (c == EOF) {
        if (ferror(fp))
            return CONFIG_LINE_ERROR;
        if (len == 0)
            return CONFIG_LINE_EOF;
    }
    return CONFIG_LINE_OK;
}

/* config_find - the table entry for a key name, or NULL. */
static const config_key *config_find(const char *name)
{
    for (size_t i = 0; i < config_nkeys; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

void config_init(dance_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->trust_anchor_file = xstrdup(RESOLVER_DEFAULT_TRUST_ANCHOR);
    cfg->resolver_config = xstrdup("");      /* "" is "none" */
    cfg->tls_ca_file = xstrdup("");          /* "" is the system's CA certificates */
    cfg->dns_timeout = RESOLVER_DEFAULT_TIMEOUT_MS / 1000;
    cfg->cache_max_ttl = RESOLVER_DEFAULT_CACHE_MAX_TTL;
    cfg->cache_error_ttl = RESOLVER_DEFAULT_CACHE_ERR_TTL;
    cfg->cache_entries = RESOLVER_DEFAULT_CACHE_ENTRIES;
    cfg->server_tlsa = false;
    cfg->lookup_budget.count = CONFIG_DEFAULT_LOOKUP_BUDGET_COUNT;
    cfg->lookup_budget.per_s = CONFIG_DEFAULT_LOOKUP_BUDGET_PER;
    cfg->lookups_in_flight_max = CONFIG_DEFAULT_LOOKUPS_IN_FLIGHT;
    cfg->authserv_id = xstrdup("");          /* the host's FQDN, found by danced */
    cfg->policy_socket = xstrdup("inet:127.0.0.1:10040");
    cfg->milter_socket = xstrdup("");        /* "" is "none": no milter */
    cfg->stats_socket = xstrdup("");         /* "" is "none": no metrics endpoint */
    cfg->socket_mode = 0660;
    cfg->socket_group = xstrdup("");
    cfg->identities = CONFIG_IDENTITY_HELO | CONFIG_IDENTITY_MAILFROM;
    cfg->fingerprint_digest = DIGEST_SHA256;
    cfg->user = xstrdup("");
    cfg->group = xstrdup("");
    cfg->pid_file = xstrdup("");
    cfg->log_facility = LOG_MAIL;
    cfg->log_format = CONFIG_LOG_TEXT;
    cfg->temperror_action = CONFIG_ACTION_DEFER_IF_PERMIT;
    cfg->fail_action = CONFIG_ACTION_DUNNO;
    cfg->idle_timeout = 600;
    cfg->request_timeout = 10;
    cfg->max_connections = 4096;
    cfg->milter_max_connections = 1024;
    cfg->remote_sockets = false;
}

config_status config_load(const char *path, dance_config *cfg, char *err, size_t errsize)
{
    config_status status;
    FILE *fp;

    if (err != NULL && errsize > 0)
        err[0] = '\0';
    if ((fp = fopen(path, "r")) == NULL)
        return config_error(CONFIG_UNREADABLE, err, errsize, "%s: %s", path, strerror(errno));
    status = config_load_stream(fp, path, cfg, err, errsize);
    fclose(fp);
    return status;
}

config_status config_load_stream(FILE *fp, const char *path, dance_config *cfg, char *err, size_t errsize)
{
    char line[CONFIG_LINE_MAX + 1], why[CONFIG_WHY_MAX];
    unsigned seen[CONFIG_KEYS_MAX] = { 0 };   /* line where each key was set */
    unsigned lineno = 0;
    config_status status = CONFIG_OK;

    if (err != NULL && errsize > 0)
        err[0] = '\0';

    for (;;) {
        config_line_status ls = config_read_line(fp, line);
        const config_key *key;
        char *p, *name, *value, *end;

        lineno++;
        if (ls == CONFIG_LINE_EOF)
            break;
        if (ls == CONFIG_LINE_ERROR) {
            status = config_error(CONFIG_UNREADABLE, err, errsize, "%s: %s", path, strerror(errno));
            break;
        }
        if (ls == CONFIG_LINE_NUL || ls == CONFIG_LINE_LONG) {
            status = config_error(CONFIG_SYNTAX, err, errsize, "%s:%u: syntax: %s", path, lineno,
                                  ls == CONFIG_LINE_NUL ? "NUL byte in line" : "line too long");
            break;
        }

        /* Cut the comment, refuse control characters, trim. */
        for (p = line; *p != '\0'; p++) {
            if (*p == '#' && (p == line || config_is_space(p[-1]))) {
                *p = '\0';
                break;
            }
        }
        for (p = line; *p != '\0'; p++)
            if (((unsigned char) *p < 0x20 && !config_is_space(*p)) || *p == 0x7f)
                break;
        if (*p != '\0') {
            status = config_error(CONFIG_SYNTAX, err, errsize, "%s:%u: syntax: control character in line",
                                  path, lineno);
            break;
        }
        for (name = line; config_is_space(*name); name++)
            ;
        for (end = name + strlen(name); end > name && config_is_space(end[-1]); end--)
            ;
        *end = '\0';
        if (*name == '\0')
            continue;

        /* key = value */
        for (p = name; *p != '\0' && *p != '=' && !config_is_space(*p); p++)
            ;
        for (value = p; config_is_space(*value); value++)
            ;
        if (p == name || *value != '=') {
            status = config_error(CONFIG_SYNTAX, err, errsize, "%s:%u: syntax: expected key = value",
                                  path, lineno);
            break;
        }
        *p = '\0';
        for (value++; config_is_space(*value); value++)
            ;

        if ((key = config_find(name)) == NULL) {
            status = config_error(CONFIG_SYNTAX, err, errsize, "%s:%u: %s: unknown key", path, lineno, name);
            break;
        }
        if (seen[key - config_keys] != 0) {
            status = config_error(CONFIG_SYNTAX, err, errsize, "%s:%u: %s: repeated (first set on line %u)",
                                  path, lineno, name, seen[key - config_keys]);
            break;
        }
        seen[key - config_keys] = lineno;
        cfg->key_line[key - config_keys] = lineno;
        if (!config_set(cfg, key, value, why, sizeof(why))) {
            status = config_error(CONFIG_SYNTAX, err, errsize, "%s:%u: %s: %s", path, lineno, name, why);
            break;
        }
    }
    if (status == CONFIG_OK)
        status = config_check_forwarders(cfg, path, err, errsize);
    return status;
}

/*
 * config_check_forwarders - the keys that only make sense together: with
 * forwarders_tls every forwarder needs its #NAME (and there must be one);
 * without it a #NAME would be silently unauthenticated, so it is refused.
 */
static config_status config_check_forwarders(const dance_config *cfg, const char *path, char *err,
                                             size_t errsize)
{
    unsigned fline = config_line_of(cfg, "forwarders"), tline = config_line_of(cfg, "forwarders_tls");
    dotrelay_forwarder f;
    dotrelay_addr_status st;

    if (cfg->forwarders_tls && cfg->forwarders.n == 0)
        return config_error(CONFIG_SYNTAX, err, errsize,
                            "%s:%u: forwarders_tls: needs forwarders (IP#NAME or IP@PORT#NAME)", path, tline);
    for (size_t i = 0; i < cfg->forwarders.n; i++) {
        st = dotrelay_parse_forwarder(cfg->forwarders.v[i], cfg->forwarders_tls, &f);
        if (st != DOTRELAY_ADDR_OK)
            return config_error(CONFIG_SYNTAX, err, errsize, "%s:%u: forwarders: \"%s\": %s", path, fline,
                                cfg->forwarders.v[i], dotrelay_addr_status_str(st));
        if (!cfg->forwarders_tls && f.name[0] != '\0')
            return config_error(CONFIG_SYNTAX, err, errsize,
                                "%s:%u: forwarders: \"%s\": #NAME needs forwarders_tls = yes", path, fline,
                                cfg->forwarders.v[i]);
    }
    return CONFIG_OK;
}


/* config_line_of - the line of path where key was set, 0 when it was not (or is unknown). */
unsigned config_line_of(const dance_config *cfg, const char *key)
{
    const config_key *k = config_find(key);

    return k != NULL ? cfg->key_line[k - config_keys] : 0;
}


void config_resolver(const dance_config *cfg, resolver_config *rc)
{
    if (cfg->forwarders.n > RESOLVER_FORWARDERS_MAX || cfg->dns_timeout > UINT_MAX / 1000)
        DANCE_PANIC("config_load never stores these");
    memset(rc, 0, sizeof(*rc));
    rc->trust_anchor_file = cfg->trust_anchor_file;
    rc->unbound_config = (cfg->resolver_config != NULL && cfg->resolver_config[0] != '\0')
        ? cfg->resolver_config : NULL;
    for (size_t i = 0; i < cfg->forwarders.n; i++)
        rc->forwarders[i] = cfg->forwarders.v[i];
    rc->nforwarders = cfg->forwarders.n;
    rc->forwarders_tls = cfg->forwarders_tls;
    rc->tls_ca_file = (cfg->tls_ca_file != NULL && cfg->tls_ca_file[0] != '\0') ? cfg->tls_ca_file : NULL;
    rc->timeout_ms = cfg->dns_timeout * 1000u;
    /* cache_entries = 0 means no cache (the resolver reads 0 entries as "default"). */
    rc->cache_max_ttl = cfg->cache_entries == 0 ? 0 : cfg->cache_max_ttl;
    rc->cache_err_ttl = cfg->cache_error_ttl;
    rc->cache_entries = cfg->cache_entries;
    rc->stale_max = cfg->stale_max;
}

void config_free(dance_config *cfg)
{
    for (size_t i = 0; i < config_nkeys; i++) {
        char *field = (char *) cfg + config_keys[i].offset;

        if (config_keys[i].type == CONFIG_T_STRING) {
            free(*(char **) (void *) field);
            *(char **) (void *) field = NULL;
        } else if (config_keys[i].type == CONFIG_T_LIST) {
            config_list_clear((config_list *) (void *) field);
        }
    }
}
