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
 * Keys are described by one table (config_keys[]): name, value type,
 * offset in dance_config, bounds, and for strings and list entries a check
 * that validates and normalizes the text.  Adding a key is one table line
 * (plus a check function for a new kind of string).  Value types:
 *
 *   string    kept as written after the check (paths: "none", "" or ""
 *             written as two quotes mean "no file" and are kept as "";
 *             config_resolver() passes resolver_config "" on as NULL)
 *   duration  digits with an optional s, m or h suffix; bounded in seconds
 *   uint      digits only; bounded
 *   bool      yes/no, true/false, 1/0 (any case)
 *   list      entries separated by commas and/or white space; empty
 *             entries (",,", leading or trailing comma) are errors; at most
 *             max entries, each passed through the check
 *
 * Memory exhaustion while copying a value abort()s (like Postfix's mymalloc).
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "identity.h"

#define CONFIG_WHY_MAX 256

/*
 * A value check: validate in and write the text to keep into out (at least
 * CONFIG_LINE_MAX + 1 bytes); false with a short problem in why.
 */
typedef bool (*config_check_fn)(const char *in, char *out, size_t outsize, char *why, size_t whysize);

typedef enum {
    CONFIG_T_STRING,            /* char * */
    CONFIG_T_DURATION,          /* unsigned, seconds */
    CONFIG_T_UINT,              /* unsigned */
    CONFIG_T_BOOL,              /* bool */
    CONFIG_T_LIST               /* config_list */
} config_type;

typedef struct config_key {
    const char *name;
    config_type type;
    size_t offset;              /* of the field in dance_config */
    unsigned long min, max;     /* numbers: bounds; lists: max is the entry limit */
    config_check_fn check;      /* strings, list entries: NULL keeps any text */
} config_key;

static bool config_check_path(const char *, char *, size_t, char *, size_t);
static bool config_check_address(const char *, char *, size_t, char *, size_t);
static bool config_check_domain(const char *, char *, size_t, char *, size_t);

#define CONFIG_FIELD(f) offsetof(dance_config, f)

static const config_key config_keys[] = {
    { "trust_anchor_file", CONFIG_T_STRING, CONFIG_FIELD(trust_anchor_file), 0, 0, config_check_path },
    { "resolver_config", CONFIG_T_STRING, CONFIG_FIELD(resolver_config), 0, 0, config_check_path },
    { "forwarders", CONFIG_T_LIST, CONFIG_FIELD(forwarders), 0, RESOLVER_FORWARDERS_MAX, config_check_address },
    { "dns_timeout", CONFIG_T_DURATION, CONFIG_FIELD(dns_timeout), 1, 300, NULL },
    { "cache_max_ttl", CONFIG_T_DURATION, CONFIG_FIELD(cache_max_ttl), 0, 86400, NULL },
    { "cache_error_ttl", CONFIG_T_DURATION, CONFIG_FIELD(cache_error_ttl), 0, 3600, NULL },
    { "cache_entries", CONFIG_T_UINT, CONFIG_FIELD(cache_entries), 0, 10000000, NULL },
    { "server_tlsa", CONFIG_T_BOOL, CONFIG_FIELD(server_tlsa), 0, 0, NULL },
    { "lookup_domains", CONFIG_T_LIST, CONFIG_FIELD(lookup_domains), 0, CONFIG_LIST_MAX, config_check_domain },
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* ---------------------------------------------------------------- helpers */

static char *config_strdup(const char *s)
{
    char *copy = strdup(s);

    if (copy == NULL)
        abort();                        /* out of memory */
    return copy;
}

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

static bool config_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void config_list_clear(config_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    memset(list, 0, sizeof(*list));
}

/* ----------------------------------------------------------------- checks */

/* config_check_path - any text; "none", "" and a literal "" mean no file (kept as ""). */
static bool config_check_path(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    if (strcmp(in, "none") == 0 || strcmp(in, "\"\"") == 0)
        in = "";
    if (strlen(in) >= outsize)
        abort();                        /* out is at least a line long */
    strcpy(out, in);
    return true;
}

/* config_check_port - 1..65535, digits only. */
static bool config_check_port(const char *s)
{
    unsigned long port = 0;

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        port = port * 10 + (unsigned long) (*s - '0');
        if (port > 65535)
            return false;
    }
    return port > 0;
}

/* config_check_address - an IPv4 or IPv6 address, optionally "@port" (libunbound's form). */
static bool config_check_address(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    char host[INET6_ADDRSTRLEN + 1];
    unsigned char addr[sizeof(struct in6_addr)];
    const char *at = strchr(in, '@');
    size_t hostlen = at ? (size_t) (at - in) : strlen(in);

    if (hostlen == 0 || hostlen >= sizeof(host))
        goto bad;
    memcpy(host, in, hostlen);
    host[hostlen] = '\0';
    if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
        goto bad;
    if (at != NULL && !config_check_port(at + 1))
        goto bad;
    if (strlen(in) >= outsize)
        abort();
    strcpy(out, in);
    return true;

bad:
    snprintf(why, whysize, "not an IP address or IP@port: \"%s\"", in);
    return false;
}

/* config_check_domain - a look-up domain: one leading dot allowed, then identity_normalize(). */
static bool config_check_domain(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    identity_status st;

    if (outsize < IDENTITY_NAME_MAX)
        abort();
    st = identity_normalize(in[0] == '.' ? in + 1 : in, out);
    if (st != IDENTITY_OK) {
        snprintf(why, whysize, "bad domain \"%s\": %s", in, identity_status_str(st));
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ value types */

/* config_digits - strictly parse a run of decimal digits at *pp; false on none or overflow. */
static bool config_digits(const char **pp, unsigned long long *v)
{
    const char *p = *pp;

    *v = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned) (*p - '0');

        if (*v > (ULLONG_MAX - d) / 10)
            return false;
        *v = *v * 10 + d;
    }
    *pp = p;
    return true;
}

/* config_number - parse a uint or duration value into *v, checking the key's bounds. */
static bool config_number(const config_key *key, const char *value, unsigned *v, char *why, size_t whysize)
{
    const char *p = value;
    const char *unit = key->type == CONFIG_T_DURATION ? " seconds" : "";
    unsigned long long n, scale = 1;

    if (*value == '\0') {
        snprintf(why, whysize, "missing value");
        return false;
    }
    if (!config_digits(&p, &n)) {
        /* too many digits is "out of range" below; none is garbage */
        while (*p >= '0' && *p <= '9')
            p++;
        n = ULLONG_MAX;
    }
    if (key->type == CONFIG_T_DURATION && p != value && *p != '\0' && p[1] == '\0') {
        switch (*p) {
        case 's': scale = 1; p++; break;
        case 'm': scale = 60; p++; break;
        case 'h': scale = 3600; p++; break;
        default: break;
        }
    }
    if (p == value || *p != '\0') {
        if (key->type == CONFIG_T_DURATION)
            snprintf(why, whysize, "not a duration: \"%s\" (use N, Ns, Nm or Nh)", value);
        else
            snprintf(why, whysize, "not a number: \"%s\"", value);
        return false;
    }
    if (n > ULLONG_MAX / scale || n * scale < key->min || n * scale > key->max) {
        snprintf(why, whysize, "%s is out of range (%lu..%lu%s)", value, key->min, key->max, unit);
        return false;
    }
    *v = (unsigned) (n * scale);
    return true;
}

static bool config_bool(const char *value, bool *v, char *why, size_t whysize)
{
    static const char *const yes[] = { "yes", "true", "1" };
    static const char *const no[] = { "no", "false", "0" };

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *v = true;
            return true;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *v = false;
            return true;
        }
    }
    snprintf(why, whysize, "not a boolean: \"%s\" (use yes or no)", value);
    return false;
}

/* config_list_parse - split value into list entries, each checked; on error list is left empty. */
static bool config_list_parse(const config_key *key, const char *value, config_list *list,
                              char *why, size_t whysize)
{
    char entry[CONFIG_LINE_MAX + 1], kept[CONFIG_LINE_MAX + 1];
    const char *p = value;
    bool after_comma = false;

    memset(list, 0, sizeof(*list));
    for (;;) {
        size_t len = 0;

        while (config_is_space(*p))
            p++;
        if (*p == '\0' && !after_comma)
            return true;
        if (*p == '\0' || *p == ',') {
            snprintf(why, whysize, "empty list entry");
            goto fail;
        }
        while (*p != '\0' && *p != ',' && !config_is_space(*p)) {
            if (len + 1 >= sizeof(entry))
                abort();                /* no longer than the line */
            entry[len++] = *p++;
        }
        entry[len] = '\0';
        if (list->n >= key->max || list->n >= CONFIG_LIST_MAX) {
            snprintf(why, whysize, "more than %lu entries", key->max);
            goto fail;
        }
        if (key->check != NULL && !key->check(entry, kept, sizeof(kept), why, whysize))
            goto fail;
        list->v[list->n++] = config_strdup(key->check != NULL ? kept : entry);
        while (config_is_space(*p))
            p++;
        after_comma = (*p == ',');
        if (after_comma)
            p++;
    }

fail:
    config_list_clear(list);
    return false;
}

/* config_set - store value for key in cfg; false with a problem in why. */
static bool config_set(dance_config *cfg, const config_key *key, const char *value, char *why, size_t whysize)
{
    char *field = (char *) cfg + key->offset;
    char kept[CONFIG_LINE_MAX + 1];
    config_list list;

    switch (key->type) {
    case CONFIG_T_STRING: {
        char **str = (char **) (void *) field;

        if (key->check != NULL && !key->check(value, kept, sizeof(kept), why, whysize))
            return false;
        free(*str);
        *str = config_strdup(key->check != NULL ? kept : value);
        return true;
    }
    case CONFIG_T_DURATION:
    case CONFIG_T_UINT:
        return config_number(key, value, (unsigned *) (void *) field, why, whysize);
    case CONFIG_T_BOOL:
        return config_bool(value, (bool *) (void *) field, why, whysize);
    case CONFIG_T_LIST:
        if (!config_list_parse(key, value, &list, why, whysize))
            return false;
        config_list_clear((config_list *) (void *) field);
        *(config_list *) (void *) field = list;
        return true;
    }
    abort();                            /* not a config_type */
}

/* ------------------------------------------------------------------ lines */

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
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

void config_init(dance_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->trust_anchor_file = config_strdup(RESOLVER_DEFAULT_TRUST_ANCHOR);
    cfg->resolver_config = config_strdup("");      /* "" is "none" */
    cfg->dns_timeout = RESOLVER_DEFAULT_TIMEOUT_MS / 1000;
    cfg->cache_max_ttl = RESOLVER_DEFAULT_CACHE_MAX_TTL;
    cfg->cache_error_ttl = RESOLVER_DEFAULT_CACHE_ERR_TTL;
    cfg->cache_entries = RESOLVER_DEFAULT_CACHE_ENTRIES;
    cfg->server_tlsa = false;
}

config_status config_load(const char *path, dance_config *cfg, char *err, size_t errsize)
{
    char line[CONFIG_LINE_MAX + 1], why[CONFIG_WHY_MAX];
    unsigned seen[CONFIG_NKEYS] = { 0 };   /* line where each key was set */
    unsigned lineno = 0;
    config_status status = CONFIG_OK;
    FILE *fp;

    if (err != NULL && errsize > 0)
        err[0] = '\0';
    if ((fp = fopen(path, "r")) == NULL)
        return config_error(CONFIG_UNREADABLE, err, errsize, "%s: %s", path, strerror(errno));

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
        if (!config_set(cfg, key, value, why, sizeof(why))) {
            status = config_error(CONFIG_SYNTAX, err, errsize, "%s:%u: %s: %s", path, lineno, name, why);
            break;
        }
    }
    fclose(fp);
    return status;
}

void config_resolver(const dance_config *cfg, resolver_config *rc)
{
    if (cfg->forwarders.n > RESOLVER_FORWARDERS_MAX || cfg->dns_timeout > UINT_MAX / 1000)
        abort();                        /* config_load never stores these */
    memset(rc, 0, sizeof(*rc));
    rc->trust_anchor_file = cfg->trust_anchor_file;
    rc->unbound_config = (cfg->resolver_config != NULL && cfg->resolver_config[0] != '\0')
        ? cfg->resolver_config : NULL;
    for (size_t i = 0; i < cfg->forwarders.n; i++)
        rc->forwarders[i] = cfg->forwarders.v[i];
    rc->nforwarders = cfg->forwarders.n;
    rc->timeout_ms = cfg->dns_timeout * 1000u;
    /* cache_entries = 0 means no cache (the resolver reads 0 entries as "default"). */
    rc->cache_max_ttl = cfg->cache_entries == 0 ? 0 : cfg->cache_max_ttl;
    rc->cache_err_ttl = cfg->cache_error_ttl;
    rc->cache_entries = cfg->cache_entries;
}

void config_free(dance_config *cfg)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        char *field = (char *) cfg + config_keys[i].offset;

        if (config_keys[i].type == CONFIG_T_STRING) {
            free(*(char **) (void *) field);
            *(char **) (void *) field = NULL;
        } else if (config_keys[i].type == CONFIG_T_LIST) {
            config_list_clear((config_list *) (void *) field);
        }
    }
}
