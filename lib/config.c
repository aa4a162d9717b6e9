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
 *   mode      octal permission bits (660, 0660), at most max
 *   word      one keyword of the key's words[] (any case), stored as an int
 *             (the enum fields it serves are int-sized: asserted below)
 *   flags     a list of keywords of words[], their bits ORed; an empty
 *             list or a keyword given twice is an error
 *   digest    sha256 or sha512 (evidence_digest_alg); md5 and sha1 are
 *             refused with the fix, since no TLSA matching type uses them
 *
 * Strings that mean "use the default" (authserv_id, socket_group, user,
 * group, pid_file) accept an empty value, so that every line of the
 * sample file can be uncommented as it is.
 *
 * config_parse_endpoint() splits Postfix's endpoint syntax (inet:HOST:PORT,
 * inet:[IPv6]:PORT, unix:/path) for danced's bind(); the policy_socket key
 * uses it as its check, so a file that loads has a socket danced can use.
 * config_client_authorized() matches a claimed name against
 * authorized_clients: "mta.example.net" is that name only, ".example.net"
 * any name under example.net (not example.net itself).
 *
 * Memory exhaustion while copying a value abort()s (like Postfix's mymalloc).
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "config.h"
#include "evidence.h"
#include "identity.h"
#include "netaddr.h"

#define CONFIG_WHY_MAX 256
#define CONFIG_ACCOUNT_MAX 32       /* user and group names (useradd's limit) */
#define CONFIG_HOST_MAX 253         /* a host name in inet:HOST:PORT */

/* CONFIG_T_WORD stores an int into these enum fields. */
_Static_assert(sizeof(config_action) == sizeof(int), "config_action is int-sized");
_Static_assert(sizeof(config_log_format) == sizeof(int), "config_log_format is int-sized");
/* A unix: path that fits config_endpoint.path also fits sockaddr_un. */
_Static_assert(sizeof(((config_endpoint *) 0)->path) <= sizeof(((struct sockaddr_un *) 0)->sun_path),
               "config_endpoint.path fits sun_path");

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
    CONFIG_T_LIST,              /* config_list */
    CONFIG_T_MODE,              /* unsigned, octal permission bits */
    CONFIG_T_WORD,              /* int or int-sized enum: one of words[] */
    CONFIG_T_FLAGS,             /* unsigned: words[] values ORed */
    CONFIG_T_DIGEST             /* digest_alg */
} config_type;

/* A keyword and the value it stands for; tables end with a NULL name. */
typedef struct config_word {
    const char *name;
    int value;
} config_word;

typedef struct config_key {
    const char *name;
    config_type type;
    size_t offset;              /* of the field in dance_config */
    unsigned long min, max;     /* numbers, modes: bounds; lists: max is the entry limit */
    config_check_fn check;      /* strings, list entries: NULL keeps any text */
    const config_word *words;   /* words, flags: the keywords accepted */
} config_key;

static bool config_check_path(const char *, char *, size_t, char *, size_t);
static bool config_check_absolute_path(const char *, char *, size_t, char *, size_t);
static bool config_check_address(const char *, char *, size_t, char *, size_t);
static bool config_check_domain(const char *, char *, size_t, char *, size_t);
static bool config_check_client(const char *, char *, size_t, char *, size_t);
static bool config_check_authserv_id(const char *, char *, size_t, char *, size_t);
static bool config_check_endpoint(const char *, char *, size_t, char *, size_t);
static bool config_check_optional_endpoint(const char *, char *, size_t, char *, size_t);
static bool config_check_servid_entry(const char *, char *, size_t, char *, size_t);
static bool config_check_trusted_entry(const char *, char *, size_t, char *, size_t);
static bool config_check_peer_user(const char *, char *, size_t, char *, size_t);
static bool config_check_account(const char *, char *, size_t, char *, size_t);

static const config_word config_identity_words[] = {
    { "helo", CONFIG_IDENTITY_HELO },
    { "mailfrom", CONFIG_IDENTITY_MAILFROM },
    { "ptr", CONFIG_IDENTITY_PTR },
    { NULL, 0 }
};

static const config_word config_facility_words[] = {
    { "mail", LOG_MAIL }, { "daemon", LOG_DAEMON },
    { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
    { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
    { NULL, 0 }
};

static const config_word config_log_format_words[] = {
    { "text", CONFIG_LOG_TEXT },
    { "json", CONFIG_LOG_JSON },
    { NULL, 0 }
};

/* temperror for an authorized client: never "ok" (relaying on a guess), never "reject" (a DNS hiccup). */
static const config_word config_temperror_words[] = {
    { "defer_if_permit", CONFIG_ACTION_DEFER_IF_PERMIT },
    { "defer", CONFIG_ACTION_DEFER },
    { "dunno", CONFIG_ACTION_DUNNO },
    { NULL, 0 }
};

static const config_word config_fail_words[] = {
    { "dunno", CONFIG_ACTION_DUNNO },
    { "reject", CONFIG_ACTION_REJECT },
    { "defer_if_permit", CONFIG_ACTION_DEFER_IF_PERMIT },
    { NULL, 0 }
};

#define CONFIG_FIELD(f) offsetof(dance_config, f)

static const config_key config_keys[] = {
    /* resolver */
    { "trust_anchor_file", CONFIG_T_STRING, CONFIG_FIELD(trust_anchor_file), 0, 0, config_check_path, NULL },
    { "resolver_config", CONFIG_T_STRING, CONFIG_FIELD(resolver_config), 0, 0, config_check_path, NULL },
    { "forwarders", CONFIG_T_LIST, CONFIG_FIELD(forwarders), 0, RESOLVER_FORWARDERS_MAX, config_check_address,
      NULL },
    { "dns_timeout", CONFIG_T_DURATION, CONFIG_FIELD(dns_timeout), 1, 300, NULL, NULL },
    { "cache_max_ttl", CONFIG_T_DURATION, CONFIG_FIELD(cache_max_ttl), 0, 86400, NULL, NULL },
    { "cache_error_ttl", CONFIG_T_DURATION, CONFIG_FIELD(cache_error_ttl), 0, 3600, NULL, NULL },
    { "cache_entries", CONFIG_T_UINT, CONFIG_FIELD(cache_entries), 0, 10000000, NULL, NULL },
    /* look-up policy */
    { "server_tlsa", CONFIG_T_BOOL, CONFIG_FIELD(server_tlsa), 0, 0, NULL, NULL },
    { "lookup_domains", CONFIG_T_LIST, CONFIG_FIELD(lookup_domains), 0, CONFIG_LIST_MAX, config_check_domain,
      NULL },
    /* daemon */
    { "authserv_id", CONFIG_T_STRING, CONFIG_FIELD(authserv_id), 0, 0, config_check_authserv_id, NULL },
    { "policy_socket", CONFIG_T_STRING, CONFIG_FIELD(policy_socket), 0, 0, config_check_optional_endpoint,
      NULL },
    { "milter_socket", CONFIG_T_STRING, CONFIG_FIELD(milter_socket), 0, 0, config_check_optional_endpoint,
      NULL },
    { "trusted_authserv_ids", CONFIG_T_LIST, CONFIG_FIELD(trusted_authserv_ids), 0, CONFIG_LIST_MAX,
      config_check_trusted_entry, NULL },
    { "remove_authserv_ids", CONFIG_T_LIST, CONFIG_FIELD(remove_authserv_ids), 0, CONFIG_LIST_MAX,
      config_check_servid_entry, NULL },
    { "socket_mode", CONFIG_T_MODE, CONFIG_FIELD(socket_mode), 0, 0777, NULL, NULL },
    { "socket_group", CONFIG_T_STRING, CONFIG_FIELD(socket_group), 0, 0, config_check_account, NULL },
    { "identities", CONFIG_T_FLAGS, CONFIG_FIELD(identities), 0, 0, NULL, config_identity_words },
    { "authorized_clients", CONFIG_T_LIST, CONFIG_FIELD(authorized_clients), 0, CONFIG_LIST_MAX,
      config_check_client, NULL },
    { "fingerprint_digest", CONFIG_T_DIGEST, CONFIG_FIELD(fingerprint_digest), 0, 0, NULL, NULL },
    { "user", CONFIG_T_STRING, CONFIG_FIELD(user), 0, 0, config_check_account, NULL },
    { "group", CONFIG_T_STRING, CONFIG_FIELD(group), 0, 0, config_check_account, NULL },
    { "pid_file", CONFIG_T_STRING, CONFIG_FIELD(pid_file), 0, 0, config_check_absolute_path, NULL },
    { "log_facility", CONFIG_T_WORD, CONFIG_FIELD(log_facility), 0, 0, NULL, config_facility_words },
    { "log_format", CONFIG_T_WORD, CONFIG_FIELD(log_format), 0, 0, NULL, config_log_format_words },
    { "temperror_action", CONFIG_T_WORD, CONFIG_FIELD(temperror_action), 0, 0, NULL, config_temperror_words },
    { "fail_action", CONFIG_T_WORD, CONFIG_FIELD(fail_action), 0, 0, NULL, config_fail_words },
    { "idle_timeout", CONFIG_T_DURATION, CONFIG_FIELD(idle_timeout), 1, 86400, NULL, NULL },
    { "request_timeout", CONFIG_T_DURATION, CONFIG_FIELD(request_timeout), 1, 3600, NULL, NULL },
    { "max_connections", CONFIG_T_UINT, CONFIG_FIELD(max_connections), 1, 1000000, NULL, NULL },
    { "milter_max_connections", CONFIG_T_UINT, CONFIG_FIELD(milter_max_connections), 1, 1000000, NULL, NULL },
    { "peer_users", CONFIG_T_LIST, CONFIG_FIELD(peer_users), 0, CONFIG_LIST_MAX, config_check_peer_user, NULL },
    { "remote_sockets", CONFIG_T_BOOL, CONFIG_FIELD(remote_sockets), 0, 0, NULL, NULL },
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))
_Static_assert(CONFIG_NKEYS <= CONFIG_KEYS_MAX, "dance_config.key_line has a slot per key");

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

/* ASCII letters and digits, whatever the locale. */
static bool config_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool config_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
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

/* config_port - parse a port, 1..65535, digits only. */
static bool config_port(const char *s, unsigned *port)
{
    unsigned long n = 0;

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        n = n * 10 + (unsigned long) (*s - '0');
        if (n > 65535)
            return false;
    }
    *port = (unsigned) n;
    return n > 0;
}

/* config_check_address - an IPv4 or IPv6 address, optionally "@port" (libunbound's form). */
static bool config_check_address(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    char host[INET6_ADDRSTRLEN + 1];
    unsigned char addr[sizeof(struct in6_addr)];
    const char *at = strchr(in, '@');
    size_t hostlen = at ? (size_t) (at - in) : strlen(in);
    unsigned port;

    if (hostlen == 0 || hostlen >= sizeof(host))
        goto bad;
    memcpy(host, in, hostlen);
    host[hostlen] = '\0';
    if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
        goto bad;
    if (at != NULL && !config_port(at + 1, &port))
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

/* config_check_client - an authorized_clients entry: a name, or ".domain"; the dot is kept. */
static bool config_check_client(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    size_t dot = (in[0] == '.');
    identity_status st;

    if (outsize < IDENTITY_NAME_MAX + 1)
        abort();
    st = identity_normalize(in + dot, out + dot);
    if (st != IDENTITY_OK) {
        snprintf(why, whysize, "bad name \"%s\": %s", in, identity_status_str(st));
        return false;
    }
    if (dot)
        out[0] = '.';
    return true;
}

/* config_check_absolute_path - "none", "" or a literal "" (kept as ""), else a path starting with '/'. */
static bool config_check_absolute_path(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    if (!config_check_path(in, out, outsize, why, whysize))
        return false;
    if (out[0] != '\0' && out[0] != '/') {
        snprintf(why, whysize, "not an absolute path: \"%s\"", in);
        return false;
    }
    return true;
}

/* config_check_authserv_id - empty (the host's FQDN), or letters, digits, '-' and '.' (RFC 8601). */
static bool config_check_authserv_id(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    size_t len = strlen(in);

    if (len > CONFIG_AUTHSERV_ID_MAX) {
        snprintf(why, whysize, "longer than %d characters", CONFIG_AUTHSERV_ID_MAX);
        return false;
    }
    for (const char *p = in; *p != '\0'; p++) {
        unsigned char c = (unsigned char) *p;

        if (!(config_is_alpha(c) || config_is_digit(c) || c == '-' || c == '.')) {
            snprintf(why, whysize, "not an authserv-id: \"%s\" (use letters, digits, \"-\" and \".\")", in);
            return false;
        }
    }
    if (len >= outsize)
        abort();
    strcpy(out, in);
    return true;
}

/* config_check_endpoint - a policy_socket value config_parse_endpoint() accepts; kept as written. */
static bool config_check_endpoint(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    config_endpoint ep;

    if (!config_parse_endpoint(in, &ep, why, whysize))
        return false;
    if (strlen(in) >= outsize)
        abort();
    strcpy(out, in);
    return true;
}

/* config_check_optional_endpoint - "none", "" or a literal "" (kept as ""), else an endpoint. */
static bool config_check_optional_endpoint(const char *in, char *out, size_t outsize, char *why,
                                           size_t whysize)
{
    if (strcmp(in, "none") == 0 || strcmp(in, "\"\"") == 0 || *in == '\0') {
        out[0] = '\0';
        return true;
    }
    return config_check_endpoint(in, out, outsize, why, whysize);
}

/*
 * config_check_servid_entry - a remove_authserv_ids entry: an authserv-id,
 * or ".domain" for every id under it; folded to lower case, trailing dots
 * dropped (the form hygiene compares in).
 */
static bool config_check_servid_entry(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    size_t dot = in[0] == '.', len;

    if (in[dot] == '\0' || !config_check_authserv_id(in + dot, out + dot, outsize - dot, why, whysize)) {
        if (in[dot] == '\0')
            snprintf(why, whysize, "empty authserv-id");
        return false;
    }
    if (dot)
        out[0] = '.';
    for (char *p = out; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char) (*p - 'A' + 'a');
    len = strlen(out);
    while (len > dot && out[len - 1] == '.')
        out[--len] = '\0';
    if (len == dot || strstr(out + dot, "..") != NULL || out[dot] == '.') {
        snprintf(why, whysize, "not an authserv-id: \"%s\"", in);
        return false;
    }
    return true;
}

/*
 * config_check_trusted_entry - a trusted_authserv_ids entry: "ID@NETWORK",
 * the authserv-id of an internal host and the address or network it sends
 * from (RFC 8601 section 5 keeps such a field only when it came directly
 * from that host).  Kept as "id@network", the id in hygiene's form, the
 * network canonical.
 */
static bool config_check_trusted_entry(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    const char *at = strrchr(in, '@');
    char id[CONFIG_AUTHSERV_ID_MAX + 2], text[NETADDR_TEXT_MAX];
    netaddr_net net;
    size_t len;

    if (at == NULL) {
        snprintf(why, whysize, "\"%s\" names no network: write ID@ADDRESS or ID@NETWORK/PREFIX, the "
                 "host whose fields are kept (RFC 8601 section 5: only fields that came directly from it)",
                 in);
        return false;
    }
    len = (size_t) (at - in);
    if (len == 0 || len >= sizeof(id) || in[0] == '.') {
        snprintf(why, whysize, "bad authserv-id in \"%s\"", in);
        return false;
    }
    memcpy(id, in, len);
    id[len] = '\0';
    if (!config_check_servid_entry(id, id, sizeof(id), why, whysize))
        return false;
    if (!netaddr_parse_net(at + 1, &net, why, whysize))
        return false;
    netaddr_format(&net.addr, text);
    if ((size_t) snprintf(out, outsize, "%s@%s/%u", id, text, net.prefix) >= outsize)
        abort();                        /* out is at least a line long */
    return true;
}

/* config_check_peer_user - a peer_users entry: "any", or a user name (config_check_account). */
static bool config_check_peer_user(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    if (*in == '\0') {
        snprintf(why, whysize, "empty user name");
        return false;
    }
    return config_check_account(in, out, outsize, why, whysize);
}

/*
 * config_check_account - empty (the default), or a user or group name as
 * useradd/groupadd make them: a letter or '_', then letters, digits, '_',
 * '-' and '.', at most CONFIG_ACCOUNT_MAX.  Whether it exists is for
 * getpwnam()/getgrnam() in danced to say.
 */
static bool config_check_account(const char *in, char *out, size_t outsize, char *why, size_t whysize)
{
    size_t len = strlen(in);
    bool ok = len <= CONFIG_ACCOUNT_MAX;

    for (size_t i = 0; ok && i < len; i++) {
        unsigned char c = (unsigned char) in[i];

        ok = config_is_alpha(c) || c == '_' || (i > 0 && (config_is_digit(c) || c == '-' || c == '.'));
    }
    if (!ok) {
        snprintf(why, whysize, "bad name \"%s\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; "
                 "at most %d)", in, CONFIG_ACCOUNT_MAX);
        return false;
    }
    if (len >= outsize)
        abort();
    strcpy(out, in);
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

/* A walk over the entries of a list value. */
typedef struct config_cursor {
    const char *p;              /* the rest of the value */
    bool after_comma;           /* an entry must follow */
} config_cursor;

typedef enum {
    CONFIG_ENTRY_OK,            /* one more entry */
    CONFIG_ENTRY_END,           /* no more */
    CONFIG_ENTRY_EMPTY          /* ",,", a leading or a trailing comma */
} config_entry_status;

/* config_next_entry - copy the next list entry into entry[CONFIG_LINE_MAX + 1]. */
static config_entry_status config_next_entry(config_cursor *cur, char *entry, size_t size)
{
    const char *p = cur->p;
    size_t len = 0;

    while (config_is_space(*p))
        p++;
    if (*p == '\0' && !cur->after_comma)
        return CONFIG_ENTRY_END;
    if (*p == '\0' || *p == ',')
        return CONFIG_ENTRY_EMPTY;
    while (*p != '\0' && *p != ',' && !config_is_space(*p)) {
        if (len + 1 >= size)
            abort();                    /* no longer than the line */
        entry[len++] = *p++;
    }
    entry[len] = '\0';
    while (config_is_space(*p))
        p++;
    cur->after_comma = (*p == ',');
    if (cur->after_comma)
        p++;
    cur->p = p;
    return CONFIG_ENTRY_OK;
}

/* config_list_parse - split value into list entries, each checked; on error list is left empty. */
static bool config_list_parse(const config_key *key, const char *value, config_list *list,
                              char *why, size_t whysize)
{
    char entry[CONFIG_LINE_MAX + 1], kept[CONFIG_LINE_MAX + 1];
    config_cursor cur = { value, false };

    memset(list, 0, sizeof(*list));
    for (;;) {
        switch (config_next_entry(&cur, entry, sizeof(entry))) {
        case CONFIG_ENTRY_END:
            return true;
        case CONFIG_ENTRY_EMPTY:
            snprintf(why, whysize, "empty list entry");
            goto fail;
        case CONFIG_ENTRY_OK:
            break;
        }
        if (list->n >= key->max || list->n >= CONFIG_LIST_MAX) {
            snprintf(why, whysize, "more than %lu entries", key->max);
            goto fail;
        }
        if (key->check != NULL && !key->check(entry, kept, sizeof(kept), why, whysize))
            goto fail;
        list->v[list->n++] = config_strdup(key->check != NULL ? kept : entry);
    }

fail:
    config_list_clear(list);
    return false;
}

/* config_mode - octal permission bits, at most the key's max. */
static bool config_mode(const config_key *key, const char *value, unsigned *v, char *why, size_t whysize)
{
    unsigned long mode = 0;
    const char *p;

    if (*value == '\0') {
        snprintf(why, whysize, "missing value");
        return false;
    }
    for (p = value; *p >= '0' && *p <= '7'; p++)
        if (mode <= key->max)           /* stop growing once out of range */
            mode = mode * 8 + (unsigned long) (*p - '0');
    if (*p != '\0') {
        snprintf(why, whysize, "not an octal mode: \"%s\" (use %04lo..%04lo, e.g. 0660)", value, key->min, key->max);
        return false;
    }
    if (mode < key->min || mode > key->max) {
        snprintf(why, whysize, "%s is out of range (%04lo..%04lo)", value, key->min, key->max);
        return false;
    }
    *v = (unsigned) mode;
    return true;
}

#define CONFIG_HINT_MAX 128         /* "a, b or c" for a keyword table */

/* config_words_hint - "a, b or c" from a keyword table into buf[CONFIG_HINT_MAX]. */
static void config_words_hint(const config_word *words, char *buf)
{
    size_t len = 0;

    if (words == NULL)
        abort();                        /* a word or flags key without words */
    buf[0] = '\0';
    for (size_t i = 0; words[i].name != NULL; i++) {
        const char *sep = i == 0 ? "" : words[i + 1].name == NULL ? " or " : ", ";
        int n = snprintf(buf + len, CONFIG_HINT_MAX - len, "%s%s", sep, words[i].name);

        if (n < 0 || (size_t) n >= CONFIG_HINT_MAX - len)
            abort();                    /* a keyword table too long for its hint */
        len += (size_t) n;
    }
}

/* config_keyword - look value up in the key's keywords (any case); the entry, or NULL with why. */
static const config_word *config_keyword(const config_key *key, const char *value, char *why, size_t whysize)
{
    char hint[CONFIG_HINT_MAX];

    if (key->words == NULL)
        abort();                        /* a word or flags key without words */
    for (size_t i = 0; key->words[i].name != NULL; i++)
        if (strcasecmp(value, key->words[i].name) == 0)
            return &key->words[i];
    config_words_hint(key->words, hint);
    if (*value == '\0')
        snprintf(why, whysize, "missing value (use %s)", hint);
    else
        snprintf(why, whysize, "unknown value \"%s\" (use %s)", value, hint);
    return NULL;
}

/* config_flags - a list of keywords, their bits ORed; at least one, none twice. */
static bool config_flags(const config_key *key, const char *value, unsigned *v, char *why, size_t whysize)
{
    char entry[CONFIG_LINE_MAX + 1];
    config_cursor cur = { value, false };
    char hint[CONFIG_HINT_MAX];
    const config_word *word;
    unsigned flags = 0;

    for (;;) {
        switch (config_next_entry(&cur, entry, sizeof(entry))) {
        case CONFIG_ENTRY_END:
            if (flags == 0) {
                config_words_hint(key->words, hint);
                snprintf(why, whysize, "missing value (use %s)", hint);
                return false;
            }
            *v = flags;
            return true;
        case CONFIG_ENTRY_EMPTY:
            snprintf(why, whysize, "empty list entry");
            return false;
        case CONFIG_ENTRY_OK:
            break;
        }
        if ((word = config_keyword(key, entry, why, whysize)) == NULL)
            return false;
        if (word->value <= 0)
            abort();                    /* a flags table holds bits */
        if ((flags & (unsigned) word->value) != 0) {
            snprintf(why, whysize, "%s listed twice", word->name);
            return false;
        }
        flags |= (unsigned) word->value;
    }
}

/* config_digest - sha256 or sha512; md5 and sha1 refused with the fix. */
static bool config_digest(const char *value, digest_alg *alg, char *why, size_t whysize)
{
    if (evidence_digest_alg(value, alg))
        return true;
    if (*value == '\0')
        snprintf(why, whysize, "missing value (use sha256 or sha512)");
    else if (strcasecmp(value, "md5") == 0 || strcasecmp(value, "sha1") == 0)
        snprintf(why, whysize, "%s cannot match a TLSA record: dance needs sha256 or sha512, and Postfix's "
                 "smtpd_tls_fingerprint_digest must be set to the same", value);
    else
        snprintf(why, whysize, "unknown digest \"%s\" (use sha256 or sha512, the same as Postfix's "
                 "smtpd_tls_fingerprint_digest)", value);
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
    case CONFIG_T_MODE:
        return config_mode(key, value, (unsigned *) (void *) field, why, whysize);
    case CONFIG_T_WORD: {
        const config_word *word = config_keyword(key, value, why, whysize);

        if (word == NULL)
            return false;
        memcpy(field, &word->value, sizeof(word->value));   /* int or an int-sized enum */
        return true;
    }
    case CONFIG_T_FLAGS:
        return config_flags(key, value, (unsigned *) (void *) field, why, whysize);
    case CONFIG_T_DIGEST:
        return config_digest(value, (digest_alg *) (void *) field, why, whysize);
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
    cfg->authserv_id = config_strdup("");          /* the host's FQDN, found by danced */
    cfg->policy_socket = config_strdup("inet:127.0.0.1:10040");
    cfg->milter_socket = config_strdup("");        /* "" is "none": no milter */
    cfg->socket_mode = 0660;
    cfg->socket_group = config_strdup("");
    cfg->identities = CONFIG_IDENTITY_HELO | CONFIG_IDENTITY_MAILFROM;
    cfg->fingerprint_digest = DIGEST_SHA256;
    cfg->user = config_strdup("");
    cfg->group = config_strdup("");
    cfg->pid_file = config_strdup("");
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
    unsigned seen[CONFIG_NKEYS] = { 0 };   /* line where each key was set */
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
    return status;
}

/* ---------------------------------------------------------------- endpoints */

/* config_host_name - LDH labels of 1..63 octets, at most CONFIG_HOST_MAX in all; one label is fine. */
static bool config_host_name(const char *name)
{
    size_t label = 0, len = strlen(name);

    if (len == 0 || len > CONFIG_HOST_MAX)
        return false;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char) name[i];

        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || name[i - 1] == '-')
                return false;
            label = 0;
        } else if (config_is_alpha(c) || config_is_digit(c) || (c == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* config_endpoint_unix - the path after "unix:". */
static bool config_endpoint_unix(const char *path, config_endpoint *ep, char *why, size_t whysize)
{
    size_t len = strlen(path);

    if (path[0] != '/') {
        snprintf(why, whysize, "unix: needs an absolute path: \"%s\"", path);
        return false;
    }
    if (len >= sizeof(ep->path)) {
        snprintf(why, whysize, "socket path longer than %zu bytes", sizeof(ep->path) - 1);
        return false;
    }
    if (path[len - 1] == '/') {
        snprintf(why, whysize, "socket path ends in \"/\": \"%s\"", path);
        return false;
    }
    memcpy(ep->path, path, len + 1);
    ep->family = AF_UNIX;
    return true;
}

/* config_endpoint_inet - the HOST:PORT or [IPv6]:PORT after "inet:". */
static bool config_endpoint_inet(const char *rest, config_endpoint *ep, char *why, size_t whysize)
{
    unsigned char addr[sizeof(struct in6_addr)];
    const char *host, *port;
    size_t hostlen;
    bool bracketed = (rest[0] == '[');

    if (bracketed) {
        const char *bracket = strchr(rest, ']');

        if (bracket == NULL) {
            snprintf(why, whysize, "missing \"]\" after the IPv6 address");
            return false;
        }
        if (bracket[1] != ':') {
            snprintf(why, whysize, "missing \":PORT\" after \"]\"");
            return false;
        }
        host = rest + 1;
        hostlen = (size_t) (bracket - host);
        port = bracket + 2;
    } else {
        const char *colon = strrchr(rest, ':');

        if (colon == NULL && strchr(rest, '@') != NULL) {
            snprintf(why, whysize, "\"%.64s\" is Sendmail's PORT@HOST form; write inet:HOST:PORT", rest);
            return false;
        }
        if (colon == NULL) {
            snprintf(why, whysize, "missing \":PORT\"");
            return false;
        }
        host = rest;
        hostlen = (size_t) (colon - rest);
        port = colon + 1;
    }
    if (hostlen == 0) {
        snprintf(why, whysize, "missing host");
        return false;
    }
    if (hostlen >= sizeof(ep->host)) {
        snprintf(why, whysize, "host longer than %zu bytes", sizeof(ep->host) - 1);
        return false;
    }
    memcpy(ep->host, host, hostlen);
    ep->host[hostlen] = '\0';

    if (bracketed) {
        if (inet_pton(AF_INET6, ep->host, addr) != 1) {
            snprintf(why, whysize, "bad IPv6 address \"%s\"", ep->host);
            return false;
        }
        ep->family = AF_INET6;
    } else if (strspn(ep->host, "0123456789.") == hostlen) {
        if (inet_pton(AF_INET, ep->host, addr) != 1) {
            snprintf(why, whysize, "bad IPv4 address \"%s\"", ep->host);
            return false;
        }
        ep->family = AF_INET;
    } else if (strchr(ep->host, ':') != NULL) {
        snprintf(why, whysize, "bad host \"%s\" (an IPv6 address goes in brackets: inet:[ADDRESS]:PORT)",
                 ep->host);
        return false;
    } else {
        const char *last = strrchr(ep->host, '.');

        /* an all-numeric last label ("example.123") is never a host name */
        last = last != NULL ? last + 1 : ep->host;
        if (!config_host_name(ep->host) || strspn(last, "0123456789") == strlen(last)) {
            snprintf(why, whysize, "bad host \"%s\" (use an IPv4 address, a host name or [IPv6])", ep->host);
            return false;
        }
        ep->family = AF_UNSPEC;
    }
    if (!config_port(port, &ep->port)) {
        snprintf(why, whysize, "bad port \"%s\" (use 1..65535)", port);
        return false;
    }
    return true;
}

bool config_parse_endpoint(const char *text, config_endpoint *ep, char *why, size_t whysize)
{
    bool ok;

    if (text == NULL || ep == NULL || (why == NULL && whysize > 0))
        abort();
    memset(ep, 0, sizeof(*ep));
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            snprintf(why, whysize, "control character in endpoint");
            return false;
        }
    }
    if (strncmp(text, "inet:", 5) == 0)
        ok = config_endpoint_inet(text + 5, ep, why, whysize);
    else if (strncmp(text, "unix:", 5) == 0)
        ok = config_endpoint_unix(text + 5, ep, why, whysize);
    else {
        snprintf(why, whysize, "expected inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path, not \"%s\"", text);
        ok = false;
    }
    if (!ok)
        memset(ep, 0, sizeof(*ep));
    return ok;
}

/* ------------------------------------------------------------------ access */

bool config_client_authorized(const dance_config *cfg, const char *name)
{
    size_t nlen;

    if (cfg == NULL || name == NULL)
        abort();
    nlen = strlen(name);
    for (size_t i = 0; i < cfg->authorized_clients.n; i++) {
        const char *entry = cfg->authorized_clients.v[i];
        size_t elen = strlen(entry);

        if (entry[0] == '.') {
            /* a name under the domain: at least one label, then ".domain" */
            if (nlen > elen && strcasecmp(name + nlen - elen, entry) == 0)
                return true;
        } else if (strcasecmp(name, entry) == 0) {
            return true;
        }
    }
    return false;
}

/* config_line_of - the line of path where key was set, 0 when it was not (or is unknown). */
unsigned config_line_of(const dance_config *cfg, const char *key)
{
    const config_key *k = config_find(key);

    return k != NULL ? cfg->key_line[k - config_keys] : 0;
}

/* ---------------------------------------------------------------- results */

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
