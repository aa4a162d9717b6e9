/*
 * test_config.c - unit tests for config.c: every key with good and bad
 * values, the exact "FILE:LINE: KEY: problem" messages, file-level errors
 * (missing, NUL byte, overlong line), the mapping to resolver_config, and
 * that contrib/dance.conf.sample lists every key with its real default.
 * (The endpoint grammar is tested in test_endpoint.c, the authorized_clients
 * rule in test_identity.c.)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <cmocka.h>

#include "lib/config.h"

/* ------------------------------------------------------------ temp files */

/* A temporary file; its path goes into path[PATH_MAX].  Removed by unlink. */
static void temp_file(const char *content, size_t len, char *path)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    assert_true(snprintf(path, PATH_MAX, "%s/test_config.XXXXXX", dir) < PATH_MAX);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t) len);
    assert_int_equal(close(fd), 0);
}

/* load - write content to a temporary file and load it into cfg (initialized here). */
static config_status load(const char *content, dance_config *cfg, char *err, size_t errsize,
                          char *path)
{
    config_status st;

    temp_file(content, strlen(content), path);
    config_init(cfg);
    st = config_load(path, cfg, err, errsize);
    assert_int_equal(unlink(path), 0);
    return st;
}

/* load_ok - load content and insist on success. */
static void load_ok(const char *content, dance_config *cfg)
{
    char err[512], path[PATH_MAX];
    config_status st = load(content, cfg, err, sizeof(err), path);

    if (st != CONFIG_OK)
        fail_msg("\"%s\": %s", content, err);
    assert_string_equal(err, "");
}

/* ------------------------------------------------------------- defaults */

static void assert_defaults(const dance_config *cfg)
{
    assert_string_equal(cfg->trust_anchor_file, RESOLVER_DEFAULT_TRUST_ANCHOR);
    assert_string_equal(cfg->resolver_config, "");  /* none */
    assert_int_equal(cfg->forwarders.n, 0);
    assert_int_equal(cfg->dns_timeout, RESOLVER_DEFAULT_TIMEOUT_MS / 1000);
    assert_int_equal(cfg->cache_max_ttl, RESOLVER_DEFAULT_CACHE_MAX_TTL);
    assert_int_equal(cfg->cache_error_ttl, RESOLVER_DEFAULT_CACHE_ERR_TTL);
    assert_int_equal(cfg->cache_entries, RESOLVER_DEFAULT_CACHE_ENTRIES);
    assert_int_equal(cfg->stale_max, 0);
    assert_false(cfg->stale_relay);
    assert_false(cfg->server_tlsa);
    assert_int_equal(cfg->lookup_domains.n, 0);
    assert_string_equal(cfg->authserv_id, "");
    assert_string_equal(cfg->policy_socket, "inet:127.0.0.1:10040");
    assert_string_equal(cfg->milter_socket, "");     /* none */
    assert_string_equal(cfg->stats_socket, "");      /* none */
    assert_int_equal(cfg->trusted_authserv_ids.n, 0);
    assert_int_equal(cfg->socket_mode, 0660);
    assert_string_equal(cfg->socket_group, "");
    assert_int_equal(cfg->identities, CONFIG_IDENTITY_HELO | CONFIG_IDENTITY_MAILFROM);
    assert_int_equal(cfg->authorized_clients.n, 0);
    assert_int_equal(cfg->fingerprint_digest, DIGEST_SHA256);
    assert_string_equal(cfg->user, "");
    assert_string_equal(cfg->group, "");
    assert_string_equal(cfg->pid_file, "");
    assert_int_equal(cfg->log_facility, LOG_MAIL);
    assert_int_equal(cfg->log_format, CONFIG_LOG_TEXT);
    assert_int_equal(cfg->temperror_action, CONFIG_ACTION_DEFER_IF_PERMIT);
    assert_int_equal(cfg->fail_action, CONFIG_ACTION_DUNNO);
    assert_int_equal(cfg->idle_timeout, 600);
    assert_int_equal(cfg->request_timeout, 10);
    assert_int_equal(cfg->max_connections, 4096);
    assert_int_equal(cfg->milter_max_connections, 1024);
    assert_int_equal(cfg->peer_users.n, 0);
    assert_int_equal(cfg->remove_authserv_ids.n, 0);
    assert_false(cfg->remote_sockets);
    assert_int_equal(cfg->lookup_budget.count, 60);
    assert_int_equal(cfg->lookup_budget.per_s, 60);
    assert_int_equal(cfg->lookups_in_flight_max, 1000);
}

static void test_defaults(void **state)
{
    (void) state;
    dance_config cfg;

    config_init(&cfg);
    assert_defaults(&cfg);
    config_free(&cfg);
    assert_null(cfg.trust_anchor_file);
    config_free(&cfg);                  /* twice is harmless */

    load_ok("", &cfg);
    assert_defaults(&cfg);
    config_free(&cfg);
    load_ok("\n\n   \n\t\n# only a comment\n", &cfg);
    assert_defaults(&cfg);
    config_free(&cfg);
}

/* ------------------------------------------------------------ good files */

static void test_every_key(void **state)
{
    (void) state;
    dance_config cfg;

    load_ok("trust_anchor_file = /etc/dance/root.key\n"
            "resolver_config = /etc/dance/unbound.conf\n"
            "forwarders = 127.0.0.1@5300, ::1\n"
            "dns_timeout = 30s\n"
            "cache_max_ttl = 2h\n"
            "cache_error_ttl = 5m\n"
            "cache_entries = 500\n"
            "stale_max = 2h\n"
            "stale_relay = yes\n"
            "server_tlsa = yes\n"
            "lookup_domains = Example.ORG .example.net\n"
            "authserv_id = mx1.Example.ORG\n"
            "policy_socket = unix:/run/dance/policy\n"
            "socket_mode = 0600\n"
            "socket_group = postfix\n"
            "identities = helo mailfrom, ptr\n"
            "authorized_clients = MTA.Partner.example, .relay.example\n"
            "fingerprint_digest = sha512\n"
            "user = _dance\n"
            "group = dance\n"
            "pid_file = /run/dance/danced.pid\n"
            "log_facility = local3\n"
            "log_format = json\n"
            "temperror_action = defer\n"
            "fail_action = reject\n"
            "idle_timeout = 5m\n"
            "max_connections = 100\n", &cfg);
    assert_string_equal(cfg.trust_anchor_file, "/etc/dance/root.key");
    assert_string_equal(cfg.resolver_config, "/etc/dance/unbound.conf");
    assert_int_equal(cfg.forwarders.n, 2);
    assert_string_equal(cfg.forwarders.v[0], "127.0.0.1@5300");
    assert_string_equal(cfg.forwarders.v[1], "::1");
    assert_int_equal(cfg.dns_timeout, 30);
    assert_int_equal(cfg.cache_max_ttl, 7200);
    assert_int_equal(cfg.cache_error_ttl, 300);
    assert_int_equal(cfg.cache_entries, 500);
    assert_int_equal(cfg.stale_max, 7200);
    assert_true(cfg.stale_relay);
    assert_true(cfg.server_tlsa);
    assert_int_equal(cfg.lookup_domains.n, 2);
    assert_string_equal(cfg.lookup_domains.v[0], "example.org");
    assert_string_equal(cfg.lookup_domains.v[1], "example.net");
    assert_string_equal(cfg.authserv_id, "mx1.Example.ORG");
    assert_string_equal(cfg.policy_socket, "unix:/run/dance/policy");
    assert_int_equal(cfg.socket_mode, 0600);
    assert_string_equal(cfg.socket_group, "postfix");
    assert_int_equal(cfg.identities, CONFIG_IDENTITY_HELO | CONFIG_IDENTITY_MAILFROM | CONFIG_IDENTITY_PTR);
    assert_int_equal(cfg.authorized_clients.n, 2);
    assert_string_equal(cfg.authorized_clients.v[0], "mta.partner.example");
    assert_string_equal(cfg.authorized_clients.v[1], ".relay.example");
    assert_int_equal(cfg.fingerprint_digest, DIGEST_SHA512);
    assert_string_equal(cfg.user, "_dance");
    assert_string_equal(cfg.group, "dance");
    assert_string_equal(cfg.pid_file, "/run/dance/danced.pid");
    assert_int_equal(cfg.log_facility, LOG_LOCAL3);
    assert_int_equal(cfg.log_format, CONFIG_LOG_JSON);
    assert_int_equal(cfg.temperror_action, CONFIG_ACTION_DEFER);
    assert_int_equal(cfg.fail_action, CONFIG_ACTION_REJECT);
    assert_int_equal(cfg.idle_timeout, 300);
    assert_int_equal(cfg.max_connections, 100);

    resolver_config rc;

    config_resolver(&cfg, &rc);
    assert_string_equal(rc.trust_anchor_file, "/etc/dance/root.key");
    assert_string_equal(rc.unbound_config, "/etc/dance/unbound.conf");
    assert_int_equal(rc.nforwarders, 2);
    assert_string_equal(rc.forwarders[0], "127.0.0.1@5300");
    assert_string_equal(rc.forwarders[1], "::1");
    assert_int_equal(rc.timeout_ms, 30000);
    assert_int_equal(rc.cache_max_ttl, 7200);
    assert_int_equal(rc.cache_err_ttl, 300);
    assert_int_equal(rc.cache_entries, 500);
    assert_int_equal(rc.stale_max, 7200);
    config_free(&cfg);
}

static void test_resolver_defaults(void **state)
{
    (void) state;
    dance_config cfg;
    resolver_config rc;

    config_init(&cfg);
    config_resolver(&cfg, &rc);
    assert_string_equal(rc.trust_anchor_file, RESOLVER_DEFAULT_TRUST_ANCHOR);
    assert_null(rc.unbound_config);
    assert_int_equal(rc.nforwarders, 0);
    assert_null(rc.forwarders[0]);
    assert_int_equal(rc.timeout_ms, RESOLVER_DEFAULT_TIMEOUT_MS);
    assert_int_equal(rc.cache_max_ttl, RESOLVER_DEFAULT_CACHE_MAX_TTL);
    assert_int_equal(rc.cache_err_ttl, RESOLVER_DEFAULT_CACHE_ERR_TTL);
    assert_int_equal(rc.cache_entries, RESOLVER_DEFAULT_CACHE_ENTRIES);
    config_free(&cfg);

    /* "none" for both files; no cache entries means no cache at all */
    load_ok("trust_anchor_file = none\nresolver_config = none\ncache_entries = 0\n", &cfg);
    config_resolver(&cfg, &rc);
    assert_string_equal(rc.trust_anchor_file, "");
    assert_null(rc.unbound_config);
    assert_int_equal(rc.cache_entries, 0);
    assert_int_equal(rc.cache_max_ttl, 0);
    config_free(&cfg);
}

/* The text kept for trust_anchor_file, per way of writing it. */
struct path_case {
    const char *line;
    const char *kept;
};

static const struct path_case path_cases[] = {
    { "trust_anchor_file = none", "" },
    { "trust_anchor_file =", "" },
    { "trust_anchor_file = \"\"", "" },
    { "trust_anchor_file=/a/b", "/a/b" },
    { "trust_anchor_file = /a/b # comment", "/a/b" },
    { "trust_anchor_file = /a/b#not-a-comment", "/a/b#not-a-comment" },
    { "trust_anchor_file = /path with/spaces  ", "/path with/spaces" },
    { "  trust_anchor_file\t=\t/tabs\t", "/tabs" },
    { "trust_anchor_file = /crlf\r", "/crlf" },
    { "trust_anchor_file = None", "None" },
};

static void test_paths(void **state)
{
    (void) state;
    dance_config cfg;
    char text[256];

    for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        snprintf(text, sizeof(text), "%s\n", path_cases[i].line);
        load_ok(text, &cfg);
        assert_string_equal(cfg.trust_anchor_file, path_cases[i].kept);
        config_free(&cfg);
    }
}

/* A good value for a number key and what is stored. */
struct number_case {
    const char *line;
    size_t offset;
    unsigned value;
};

#define FIELD(f) offsetof(dance_config, f)

static const struct number_case number_cases[] = {
    { "lookups_in_flight_max = 1", FIELD(lookups_in_flight_max), 1 },
    { "lookups_in_flight_max = 4096", FIELD(lookups_in_flight_max), 4096 },
    { "dns_timeout = 1", FIELD(dns_timeout), 1 },
    { "dns_timeout = 300", FIELD(dns_timeout), 300 },
    { "dns_timeout = 45s", FIELD(dns_timeout), 45 },
    { "dns_timeout = 5m", FIELD(dns_timeout), 300 },
    { "dns_timeout = 007", FIELD(dns_timeout), 7 },
    { "cache_max_ttl = 0", FIELD(cache_max_ttl), 0 },
    { "cache_max_ttl = 24h", FIELD(cache_max_ttl), 86400 },
    { "cache_max_ttl = 1440m", FIELD(cache_max_ttl), 86400 },
    { "cache_max_ttl = 86400", FIELD(cache_max_ttl), 86400 },
    { "cache_error_ttl = 0s", FIELD(cache_error_ttl), 0 },
    { "cache_error_ttl = 1h", FIELD(cache_error_ttl), 3600 },
    { "cache_error_ttl = 60m", FIELD(cache_error_ttl), 3600 },
    { "cache_entries = 0", FIELD(cache_entries), 0 },
    { "cache_entries = 10000000", FIELD(cache_entries), 10000000 },
    { "cache_entries = 123", FIELD(cache_entries), 123 },
    { "stale_max = 0", FIELD(stale_max), 0 },
    { "stale_max = 1d", FIELD(stale_max), 86400 },
    { "stale_max = 7d", FIELD(stale_max), 604800 },
    { "stale_max = 90m", FIELD(stale_max), 5400 },
    { "idle_timeout = 1", FIELD(idle_timeout), 1 },
    { "idle_timeout = 30m", FIELD(idle_timeout), 1800 },
    { "idle_timeout = 24h", FIELD(idle_timeout), 86400 },
    { "max_connections = 1", FIELD(max_connections), 1 },
    { "max_connections = 1000000", FIELD(max_connections), 1000000 },
    /* socket_mode: octal, with or without the leading 0 */
    { "socket_mode = 0660", FIELD(socket_mode), 0660 },
    { "socket_mode = 660", FIELD(socket_mode), 0660 },
    { "socket_mode = 0", FIELD(socket_mode), 0 },
    { "socket_mode = 0000", FIELD(socket_mode), 0 },
    { "socket_mode = 0777", FIELD(socket_mode), 0777 },
    { "socket_mode = 00600", FIELD(socket_mode), 0600 },
    { "socket_mode = 17", FIELD(socket_mode), 017 },
    /* identities: a set of bits, in any order, commas and/or spaces */
    { "identities = helo", FIELD(identities), CONFIG_IDENTITY_HELO },
    { "identities = mailfrom", FIELD(identities), CONFIG_IDENTITY_MAILFROM },
    { "identities = ptr", FIELD(identities), CONFIG_IDENTITY_PTR },
    { "identities = helo, mailfrom", FIELD(identities), CONFIG_IDENTITY_HELO | CONFIG_IDENTITY_MAILFROM },
    { "identities = ptr helo", FIELD(identities), CONFIG_IDENTITY_PTR | CONFIG_IDENTITY_HELO },
    { "identities = helo mailfrom ptr", FIELD(identities),
      CONFIG_IDENTITY_HELO | CONFIG_IDENTITY_MAILFROM | CONFIG_IDENTITY_PTR },
    { "identities = MailFrom,PTR", FIELD(identities), CONFIG_IDENTITY_MAILFROM | CONFIG_IDENTITY_PTR },
};

static void test_numbers(void **state)
{
    (void) state;
    dance_config cfg;
    char text[256], err[512], path[PATH_MAX];

    for (size_t i = 0; i < sizeof(number_cases) / sizeof(number_cases[0]); i++) {
        const struct number_case *c = &number_cases[i];
        unsigned *field = (unsigned *) (void *) ((char *) &cfg + c->offset);

        /* on top of a value no case expects, so that a default equal to the value cannot pass */
        config_init(&cfg);
        *field = 12345678;
        snprintf(text, sizeof(text), "%s\n", c->line);
        temp_file(text, strlen(text), path);
        if (config_load(path, &cfg, err, sizeof(err)) != CONFIG_OK)
            fail_msg("\"%s\": %s", c->line, err);
        assert_int_equal(unlink(path), 0);
        if (*field != c->value)
            fail_msg("%s: %u != %u", c->line, *field, c->value);
        config_free(&cfg);
    }
}

/* A keyword value and the int (or int-sized enum) it stores. */
struct word_case {
    const char *line;
    size_t offset;
    int value;
};

static const struct word_case word_cases[] = {
    { "log_facility = mail", FIELD(log_facility), LOG_MAIL },
    { "log_facility = daemon", FIELD(log_facility), LOG_DAEMON },
    { "log_facility = local0", FIELD(log_facility), LOG_LOCAL0 },
    { "log_facility = local1", FIELD(log_facility), LOG_LOCAL1 },
    { "log_facility = local2", FIELD(log_facility), LOG_LOCAL2 },
    { "log_facility = local3", FIELD(log_facility), LOG_LOCAL3 },
    { "log_facility = local4", FIELD(log_facility), LOG_LOCAL4 },
    { "log_facility = local5", FIELD(log_facility), LOG_LOCAL5 },
    { "log_facility = local6", FIELD(log_facility), LOG_LOCAL6 },
    { "log_facility = local7", FIELD(log_facility), LOG_LOCAL7 },
    { "log_facility = LOCAL7", FIELD(log_facility), LOG_LOCAL7 },
    { "log_format = text", FIELD(log_format), CONFIG_LOG_TEXT },
    { "log_format = json", FIELD(log_format), CONFIG_LOG_JSON },
    { "log_format = JSON", FIELD(log_format), CONFIG_LOG_JSON },
    { "temperror_action = defer_if_permit", FIELD(temperror_action), CONFIG_ACTION_DEFER_IF_PERMIT },
    { "temperror_action = defer", FIELD(temperror_action), CONFIG_ACTION_DEFER },
    { "temperror_action = dunno", FIELD(temperror_action), CONFIG_ACTION_DUNNO },
    { "temperror_action = DEFER_IF_PERMIT", FIELD(temperror_action), CONFIG_ACTION_DEFER_IF_PERMIT },
    { "fail_action = dunno", FIELD(fail_action), CONFIG_ACTION_DUNNO },
    { "fail_action = reject", FIELD(fail_action), CONFIG_ACTION_REJECT },
    { "fail_action = defer_if_permit", FIELD(fail_action), CONFIG_ACTION_DEFER_IF_PERMIT },
    { "fail_action = REJECT", FIELD(fail_action), CONFIG_ACTION_REJECT },
    { "fingerprint_digest = sha256", FIELD(fingerprint_digest), DIGEST_SHA256 },
    { "fingerprint_digest = sha512", FIELD(fingerprint_digest), DIGEST_SHA512 },
    { "fingerprint_digest = SHA512", FIELD(fingerprint_digest), DIGEST_SHA512 },
};

/* Every field above is int-sized; read it as the int it was stored as. */
static int field_int(const dance_config *cfg, size_t offset)
{
    int v;

    memcpy(&v, (const char *) cfg + offset, sizeof(v));
    return v;
}

static void test_words(void **state)
{
    (void) state;
    dance_config cfg;
    char text[256], err[512], path[PATH_MAX];

    assert_int_equal(sizeof(cfg.log_format), sizeof(int));
    assert_int_equal(sizeof(cfg.temperror_action), sizeof(int));
    assert_int_equal(sizeof(cfg.fingerprint_digest), sizeof(int));
    for (size_t i = 0; i < sizeof(word_cases) / sizeof(word_cases[0]); i++) {
        const struct word_case *c = &word_cases[i];

        /* on top of a value no keyword stands for, so that the store is seen */
        static const int sentinel = -7;

        config_init(&cfg);
        memcpy((char *) &cfg + c->offset, &sentinel, sizeof(sentinel));
        snprintf(text, sizeof(text), "%s\n", c->line);
        temp_file(text, strlen(text), path);
        assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_OK);
        assert_int_equal(unlink(path), 0);
        if (field_int(&cfg, c->offset) != c->value)
            fail_msg("%s: %d != %d", c->line, field_int(&cfg, c->offset), c->value);
        config_free(&cfg);
    }
}

/* A string key, a value, and the text kept. */
struct string_case {
    const char *line;
    size_t offset;
    const char *kept;
};

static const struct string_case string_cases[] = {
    { "authserv_id = mx.example.org", FIELD(authserv_id), "mx.example.org" },
    { "authserv_id = MX-1.Example.ORG", FIELD(authserv_id), "MX-1.Example.ORG" },
    { "authserv_id = localhost", FIELD(authserv_id), "localhost" },
    { "authserv_id =", FIELD(authserv_id), "" },
    { "policy_socket = inet:127.0.0.1:10040", FIELD(policy_socket), "inet:127.0.0.1:10040" },
    { "policy_socket = inet:localhost:9998", FIELD(policy_socket), "inet:localhost:9998" },
    { "policy_socket = inet:[::1]:10040", FIELD(policy_socket), "inet:[::1]:10040" },
    { "policy_socket = unix:/var/spool/postfix/private/dance", FIELD(policy_socket),
      "unix:/var/spool/postfix/private/dance" },
    { "policy_socket = none", FIELD(policy_socket), "" },
    { "policy_socket =", FIELD(policy_socket), "" },
    { "milter_socket = inet:127.0.0.1:10041", FIELD(milter_socket), "inet:127.0.0.1:10041" },
    { "milter_socket = inet:[::1]:10041", FIELD(milter_socket), "inet:[::1]:10041" },
    { "milter_socket = unix:/var/spool/postfix/dance/milter", FIELD(milter_socket),
      "unix:/var/spool/postfix/dance/milter" },
    { "milter_socket = none", FIELD(milter_socket), "" },
    { "milter_socket = \"\"", FIELD(milter_socket), "" },
    { "stats_socket = inet:127.0.0.1:9477", FIELD(stats_socket), "inet:127.0.0.1:9477" },
    { "stats_socket = unix:/run/dance/stats", FIELD(stats_socket), "unix:/run/dance/stats" },
    { "stats_socket = none", FIELD(stats_socket), "" },
    { "socket_group = postfix", FIELD(socket_group), "postfix" },
    { "socket_group = _dance-1.x", FIELD(socket_group), "_dance-1.x" },
    { "socket_group =", FIELD(socket_group), "" },
    { "user = dance", FIELD(user), "dance" },
    { "user = Debian-exim", FIELD(user), "Debian-exim" },
    { "user = abcdefghijklmnopqrstuvwxyz012345", FIELD(user), "abcdefghijklmnopqrstuvwxyz012345" },
    { "user =", FIELD(user), "" },
    { "group = nogroup", FIELD(group), "nogroup" },
    { "group =", FIELD(group), "" },
    { "pid_file = /run/danced.pid", FIELD(pid_file), "/run/danced.pid" },
    { "pid_file = none", FIELD(pid_file), "" },
    { "pid_file =", FIELD(pid_file), "" },
    { "pid_file = \"\"", FIELD(pid_file), "" },
};

static void test_strings(void **state)
{
    (void) state;
    dance_config cfg;
    char text[256];

    for (size_t i = 0; i < sizeof(string_cases) / sizeof(string_cases[0]); i++) {
        const struct string_case *c = &string_cases[i];

        snprintf(text, sizeof(text), "%s\n", c->line);
        load_ok(text, &cfg);
        assert_string_equal(*(char *const *) (const void *) ((const char *) &cfg + c->offset), c->kept);
        config_free(&cfg);
    }
}

static void test_booleans(void **state)
{
    (void) state;
    static const char *const yes[] = { "yes", "true", "1", "YES", "True" };
    static const char *const no[] = { "no", "false", "0", "NO", "False" };
    dance_config cfg;
    char text[64], err[256], path[PATH_MAX];

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(text, sizeof(text), "server_tlsa = %s\n", yes[i]);
        load_ok(text, &cfg);
        assert_true(cfg.server_tlsa);
        config_free(&cfg);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        /* on top of "yes", so that "no" has something to change */
        config_init(&cfg);
        cfg.server_tlsa = true;
        snprintf(text, sizeof(text), "server_tlsa=%s\n", no[i]);
        temp_file(text, strlen(text), path);
        assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_OK);
        assert_int_equal(unlink(path), 0);
        assert_false(cfg.server_tlsa);
        config_free(&cfg);
    }
}

static void test_lists(void **state)
{
    (void) state;
    dance_config cfg;

    /* commas, white space, both */
    load_ok("forwarders = 192.0.2.1,192.0.2.2 ,  192.0.2.3\t2001:db8::1@53 ::ffff:192.0.2.4\n", &cfg);
    assert_int_equal(cfg.forwarders.n, 5);
    assert_string_equal(cfg.forwarders.v[0], "192.0.2.1");
    assert_string_equal(cfg.forwarders.v[1], "192.0.2.2");
    assert_string_equal(cfg.forwarders.v[2], "192.0.2.3");
    assert_string_equal(cfg.forwarders.v[3], "2001:db8::1@53");
    assert_string_equal(cfg.forwarders.v[4], "::ffff:192.0.2.4");
    config_free(&cfg);

    /* an empty list is allowed (no forwarders; all domains) */
    load_ok("forwarders =\nlookup_domains = # none\n", &cfg);
    assert_int_equal(cfg.forwarders.n, 0);
    assert_int_equal(cfg.lookup_domains.n, 0);
    config_free(&cfg);

    /* the most forwarders the resolver takes, the most domains a list holds */
    load_ok("forwarders = 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6 127.0.0.7 127.0.0.8\n",
            &cfg);
    assert_int_equal(cfg.forwarders.n, RESOLVER_FORWARDERS_MAX);
    config_free(&cfg);

    char text[CONFIG_LINE_MAX];
    size_t len = (size_t) snprintf(text, sizeof(text), "lookup_domains =");

    for (int i = 0; i < CONFIG_LIST_MAX; i++)
        len += (size_t) snprintf(text + len, sizeof(text) - len, " d%d.example", i);
    snprintf(text + len, sizeof(text) - len, "\n");
    load_ok(text, &cfg);
    assert_int_equal(cfg.lookup_domains.n, CONFIG_LIST_MAX);
    assert_string_equal(cfg.lookup_domains.v[CONFIG_LIST_MAX - 1], "d63.example");
    config_free(&cfg);

    /* domains are normalized: case, one leading and one trailing dot */
    load_ok("lookup_domains = .Example.ORG., mail.EXAMPLE.net\n", &cfg);
    assert_int_equal(cfg.lookup_domains.n, 2);
    assert_string_equal(cfg.lookup_domains.v[0], "example.org");
    assert_string_equal(cfg.lookup_domains.v[1], "mail.example.net");
    config_free(&cfg);

    /* authorized clients are normalized too, but their leading dot is kept */
    load_ok("authorized_clients = .Example.ORG., MTA.example.NET. xn--bcher-kva.example\n", &cfg);
    assert_int_equal(cfg.authorized_clients.n, 3);
    assert_string_equal(cfg.authorized_clients.v[0], ".example.org");
    assert_string_equal(cfg.authorized_clients.v[1], "mta.example.net");
    assert_string_equal(cfg.authorized_clients.v[2], "xn--bcher-kva.example");
    config_free(&cfg);
    load_ok("authorized_clients =\n", &cfg);
    assert_int_equal(cfg.authorized_clients.n, 0);
    config_free(&cfg);

    /* trusted authserv-ids: id@network, the id folded to lower case without trailing dots,
       the network canonical with its prefix */
    load_ok("trusted_authserv_ids = MX1.Example.ORG.@192.0.2.7, relay-2.example.org@2001:DB8:0::/48\n",
            &cfg);
    assert_int_equal(cfg.trusted_authserv_ids.n, 2);
    assert_string_equal(cfg.trusted_authserv_ids.v[0], "mx1.example.org@192.0.2.7/32");
    assert_string_equal(cfg.trusted_authserv_ids.v[1], "relay-2.example.org@2001:db8::/48");
    config_free(&cfg);

    /* ids whose fields are removed: names and .domain suffixes, in the same form */
    load_ok("remove_authserv_ids = .Dest.Test, OLD-MX.example..\n", &cfg);
    assert_int_equal(cfg.remove_authserv_ids.n, 2);
    assert_string_equal(cfg.remove_authserv_ids.v[0], ".dest.test");
    assert_string_equal(cfg.remove_authserv_ids.v[1], "old-mx.example");
    config_free(&cfg);

    /* peer_users: user names, or any */
    load_ok("peer_users = postfix, _dance\n", &cfg);
    assert_int_equal(cfg.peer_users.n, 2);
    assert_string_equal(cfg.peer_users.v[1], "_dance");
    config_free(&cfg);
}

/* config_line_of: the line each key was set on, 0 for a default. */
static void test_line_of(void **state)
{
    (void) state;
    dance_config cfg;

    load_ok("# a comment\n\ndns_timeout = 5\ntrusted_authserv_ids = mx1.example@192.0.2.1\n", &cfg);
    assert_int_equal(config_line_of(&cfg, "dns_timeout"), 3);
    assert_int_equal(config_line_of(&cfg, "trusted_authserv_ids"), 4);
    assert_int_equal(config_line_of(&cfg, "milter_socket"), 0);
    assert_int_equal(config_line_of(&cfg, "no_such_key"), 0);
    config_free(&cfg);
}

/* ------------------------------------------------------------ bad files */

/* A file and the message after "PATH:" it must produce. */
struct bad_case {
    const char *content;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    /* lines */
    { "foo = 1\n", "1: foo: unknown key" },
    { "\n# c\nTrust_Anchor_File = x\n", "3: Trust_Anchor_File: unknown key" },
    { "dns_timeout\n", "1: syntax: expected key = value" },
    { "dns_timeout 5\n", "1: syntax: expected key = value" },
    { "= 5\n", "1: syntax: expected key = value" },
    { "dns timeout = 5\n", "1: syntax: expected key = value" },
    { "dns_timeout = 5\n\n# again\ndns_timeout = 6\n", "4: dns_timeout: repeated (first set on line 1)" },
    { "server_tlsa = yes\nserver_tlsa = yes\n", "2: server_tlsa: repeated (first set on line 1)" },
    { "dns_timeout = 5\x01\n", "1: syntax: control character in line" },
    { "dns_timeout = 5\x7f\n", "1: syntax: control character in line" },
    { "not_a_key = 1 # \x01 in a comment is not checked\n", "1: not_a_key: unknown key" },
    /* durations */
    { "dns_timeout =\n", "1: dns_timeout: missing value" },
    { "dns_timeout = 0\n", "1: dns_timeout: 0 is out of range (1..300 seconds)" },
    { "dns_timeout = 301\n", "1: dns_timeout: 301 is out of range (1..300 seconds)" },
    { "dns_timeout = 6m\n", "1: dns_timeout: 6m is out of range (1..300 seconds)" },
    { "dns_timeout = 1h\n", "1: dns_timeout: 1h is out of range (1..300 seconds)" },
    { "dns_timeout = 0m\n", "1: dns_timeout: 0m is out of range (1..300 seconds)" },
    { "dns_timeout = abc\n", "1: dns_timeout: not a duration: \"abc\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = -1\n", "1: dns_timeout: not a duration: \"-1\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = +1\n", "1: dns_timeout: not a duration: \"+1\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = 10x\n", "1: dns_timeout: not a duration: \"10x\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = 10 s\n", "1: dns_timeout: not a duration: \"10 s\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = 10ss\n", "1: dns_timeout: not a duration: \"10ss\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = 10S\n", "1: dns_timeout: not a duration: \"10S\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = 1d\n", "1: dns_timeout: 1d is out of range (1..300 seconds)" },
    { "stale_max = 8d\n", "1: stale_max: 8d is out of range (0..604800 seconds)" },
    { "stale_max = 1w\n", "1: stale_max: not a duration: \"1w\" (use N, Ns, Nm, Nh or Nd)" },
    { "stale_relay = sometimes\n", "1: stale_relay: not a boolean: \"sometimes\" (use yes or no)" },
    { "dns_timeout = s\n", "1: dns_timeout: not a duration: \"s\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = 1.5\n", "1: dns_timeout: not a duration: \"1.5\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = 0x10\n", "1: dns_timeout: not a duration: \"0x10\" (use N, Ns, Nm, Nh or Nd)" },
    { "dns_timeout = 4294967301\n", "1: dns_timeout: 4294967301 is out of range (1..300 seconds)" },
    { "dns_timeout = 99999999999999999999999999\n",
      "1: dns_timeout: 99999999999999999999999999 is out of range (1..300 seconds)" },
    { "dns_timeout = 18446744073709551615h\n",
      "1: dns_timeout: 18446744073709551615h is out of range (1..300 seconds)" },
    { "dns_timeout = 5124095576030432h\n",
      "1: dns_timeout: 5124095576030432h is out of range (1..300 seconds)" },
    { "cache_max_ttl = 86401\n", "1: cache_max_ttl: 86401 is out of range (0..86400 seconds)" },
    /* rates */
    { "lookup_budget =\n", "1: lookup_budget: not a rate: \"\" (use N/DURATION such as 60/1m, or off)" },
    { "lookup_budget = 60\n", "1: lookup_budget: not a rate: \"60\" (use N/DURATION such as 60/1m, or off)" },
    { "lookup_budget = /1m\n", "1: lookup_budget: not a rate: \"/1m\" (use N/DURATION such as 60/1m, or off)" },
    { "lookup_budget = 60/\n", "1: lookup_budget: not a rate: \"60/\" (use N/DURATION such as 60/1m, or off)" },
    { "lookup_budget = on\n", "1: lookup_budget: not a rate: \"on\" (use N/DURATION such as 60/1m, or off)" },
    { "lookup_budget = x/1m\n", "1: lookup_budget: not a number: \"x\"" },
    { "lookup_budget = -1/1m\n", "1: lookup_budget: not a number: \"-1\"" },
    { "lookup_budget = 1000001/1m\n", "1: lookup_budget: 1000001 is out of range (0..1000000)" },
    { "lookup_budget = 60/0\n", "1: lookup_budget: 0 is out of range (1..86400 seconds)" },
    { "lookup_budget = 60/2d\n", "1: lookup_budget: 2d is out of range (1..86400 seconds)" },
    { "lookup_budget = 60/25h\n", "1: lookup_budget: 25h is out of range (1..86400 seconds)" },
    { "lookup_budget = 60/1m/1m\n", "1: lookup_budget: not a duration: \"1m/1m\" (use N, Ns, Nm, Nh or Nd)" },
    { "lookup_budget = 60 / 1m\n", "1: lookup_budget: not a number: \"60 \"" },
    { "lookups_in_flight_max = 0\n", "1: lookups_in_flight_max: 0 is out of range (1..4096)" },
    { "lookups_in_flight_max = 4097\n", "1: lookups_in_flight_max: 4097 is out of range (1..4096)" },
    { "cache_max_ttl = 25h\n", "1: cache_max_ttl: 25h is out of range (0..86400 seconds)" },
    { "cache_max_ttl = 1441m\n", "1: cache_max_ttl: 1441m is out of range (0..86400 seconds)" },
    { "cache_error_ttl = 3601\n", "1: cache_error_ttl: 3601 is out of range (0..3600 seconds)" },
    { "cache_error_ttl = 61m\n", "1: cache_error_ttl: 61m is out of range (0..3600 seconds)" },
    { "cache_error_ttl = 2h\n", "1: cache_error_ttl: 2h is out of range (0..3600 seconds)" },
    /* integers */
    { "cache_entries =\n", "1: cache_entries: missing value" },
    { "cache_entries = 10000001\n", "1: cache_entries: 10000001 is out of range (0..10000000)" },
    { "cache_entries = 18446744073709551616\n",
      "1: cache_entries: 18446744073709551616 is out of range (0..10000000)" },
    { "cache_entries = 1e6\n", "1: cache_entries: not a number: \"1e6\"" },
    { "cache_entries = 5s\n", "1: cache_entries: not a number: \"5s\"" },
    { "cache_entries = -5\n", "1: cache_entries: not a number: \"-5\"" },
    { "cache_entries = 1,000\n", "1: cache_entries: not a number: \"1,000\"" },
    { "cache_entries = many\n", "1: cache_entries: not a number: \"many\"" },
    /* booleans */
    { "server_tlsa =\n", "1: server_tlsa: not a boolean: \"\" (use yes or no)" },
    { "server_tlsa = maybe\n", "1: server_tlsa: not a boolean: \"maybe\" (use yes or no)" },
    { "server_tlsa = on\n", "1: server_tlsa: not a boolean: \"on\" (use yes or no)" },
    { "server_tlsa = yes no\n", "1: server_tlsa: not a boolean: \"yes no\" (use yes or no)" },
    { "server_tlsa = 2\n", "1: server_tlsa: not a boolean: \"2\" (use yes or no)" },
    /* forwarders */
    { "forwarders = 127.0.0.1:53\n", "1: forwarders: \"127.0.0.1:53\": not an IP address; "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = localhost\n", "1: forwarders: \"localhost\": not an IP address; "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = 1.2.3\n", "1: forwarders: \"1.2.3\": not an IP address; "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = 256.1.1.1\n", "1: forwarders: \"256.1.1.1\": not an IP address; "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = [::1]\n", "1: forwarders: \"[::1]\": not an IP address; "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = 192.0.2.1@0\n", "1: forwarders: \"192.0.2.1@0\": bad port after @ (1-65535); "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = 192.0.2.1@65536\n", "1: forwarders: \"192.0.2.1@65536\": bad port after @ (1-65535); "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = 192.0.2.1@\n", "1: forwarders: \"192.0.2.1@\": bad port after @ (1-65535); "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = 192.0.2.1@53x\n", "1: forwarders: \"192.0.2.1@53x\": bad port after @ (1-65535); "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = 192.0.2.1@5@3\n", "1: forwarders: \"192.0.2.1@5@3\": bad port after @ (1-65535); "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = @53\n", "1: forwarders: \"@53\": not an IP address; "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = 192.0.2.1 ::1 nope\n", "1: forwarders: \"nope\": not an IP address; "
      "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
    { "forwarders = ,192.0.2.1\n", "1: forwarders: empty list entry" },
    { "forwarders = 192.0.2.1,,192.0.2.2\n", "1: forwarders: empty list entry" },
    { "forwarders = 192.0.2.1, ,192.0.2.2\n", "1: forwarders: empty list entry" },
    { "forwarders = 192.0.2.1,\n", "1: forwarders: empty list entry" },
    { "forwarders = ,\n", "1: forwarders: empty list entry" },
    { "forwarders = 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6 127.0.0.7 127.0.0.8 "
      "127.0.0.9\n", "1: forwarders: more than 8 entries" },
    /* lookup_domains */
    { "lookup_domains = example\n", "1: lookup_domains: bad domain \"example\": single-label name" },
    { "lookup_domains = example.org exa_mple.org\n",
      "1: lookup_domains: bad domain \"exa_mple.org\": invalid character in name" },
    { "lookup_domains = ..example.org\n", "1: lookup_domains: bad domain \"..example.org\": empty label" },
    { "lookup_domains = .\n", "1: lookup_domains: bad domain \".\": empty name" },
    { "lookup_domains = 192.0.2.1\n", "1: lookup_domains: bad domain \"192.0.2.1\": IP address literal" },
    { "lookup_domains = -x.example\n",
      "1: lookup_domains: bad domain \"-x.example\": label starts or ends with a hyphen" },
    { "lookup_domains = caf\xc3\xa9.example\n",
      "1: lookup_domains: bad domain \"caf\xc3\xa9.example\": invalid character in name" },
    { "lookup_domains = a.example;b.example\n",
      "1: lookup_domains: bad domain \"a.example;b.example\": invalid character in name" },
    /* authserv_id */
    { "authserv_id = mx_1.example\n",
      "1: authserv_id: not an authserv-id: \"mx_1.example\" (use letters, digits, \"-\" and \".\")" },
    { "authserv_id = mx.example; x\n",
      "1: authserv_id: not an authserv-id: \"mx.example; x\" (use letters, digits, \"-\" and \".\")" },
    { "authserv_id = \"mx.example\"\n",
      "1: authserv_id: not an authserv-id: \"\"mx.example\"\" (use letters, digits, \"-\" and \".\")" },
    { "authserv_id = caf\xc3\xa9.example\n",
      "1: authserv_id: not an authserv-id: \"caf\xc3\xa9.example\" (use letters, digits, \"-\" and \".\")" },
    { "authserv_id = mx.example/1\n",
      "1: authserv_id: not an authserv-id: \"mx.example/1\" (use letters, digits, \"-\" and \".\")" },
    /* policy_socket (the parser itself has its own table below) */
    { "policy_socket = tcp:127.0.0.1:25\n",
      "1: policy_socket: expected inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path, not \"tcp:127.0.0.1:25\"" },
    { "policy_socket = nothing\n",
      "1: policy_socket: expected inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path, not \"nothing\"" },
    /* milter_socket: the same parser */
    { "milter_socket = inet:10041@127.0.0.1\n",
      "1: milter_socket: \"10041@127.0.0.1\" is Sendmail's PORT@HOST form; write inet:HOST:PORT" },
    { "milter_socket = local:/run/dance.sock\n",
      "1: milter_socket: expected inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path, not \"local:/run/dance.sock\"" },
    { "milter_socket = unix:dance/milter\n", "1: milter_socket: unix: needs an absolute path: \"dance/milter\"" },
    { "stats_socket = local:/run/dance.sock\n",
      "1: stats_socket: expected inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path, not \"local:/run/dance.sock\"" },
    /* trusted_authserv_ids */
    { "trusted_authserv_ids = mx1.example@192.0.2.1, ,mx2.example@192.0.2.2\n",
      "1: trusted_authserv_ids: empty list entry" },
    { "trusted_authserv_ids = mx1.example@192.0.2.1 \"mx2\"@192.0.2.2\n",
      "1: trusted_authserv_ids: not an authserv-id: \"\"mx2\"\" (use letters, digits, \"-\" and \".\")" },
    { "trusted_authserv_ids = mx1.example\n",
      "1: trusted_authserv_ids: \"mx1.example\" names no network: write ID@ADDRESS or "
      "ID@NETWORK/PREFIX, the host whose fields are kept (RFC 8601 section 5: only fields that came "
      "directly from it)" },
    { "trusted_authserv_ids = mx1.example@mx1.example\n",
      "1: trusted_authserv_ids: not an IP address or network: \"mx1.example\"" },
    { "trusted_authserv_ids = mx1.example@192.0.2.1/24\n",
      "1: trusted_authserv_ids: \"192.0.2.1/24\" has host bits set (write the network address)" },
    { "trusted_authserv_ids = mx1.example@192.0.2.0/33\n",
      "1: trusted_authserv_ids: prefix length 33 is over 32 in \"192.0.2.0/33\"" },
    { "trusted_authserv_ids = @192.0.2.1\n", "1: trusted_authserv_ids: bad authserv-id in \"@192.0.2.1\"" },
    { "trusted_authserv_ids = .example@192.0.2.1\n",
      "1: trusted_authserv_ids: bad authserv-id in \".example@192.0.2.1\"" },
    /* remove_authserv_ids */
    { "remove_authserv_ids = .\n", "1: remove_authserv_ids: empty authserv-id" },
    { "remove_authserv_ids = a..b\n", "1: remove_authserv_ids: not an authserv-id: \"a..b\"" },
    { "remove_authserv_ids = ..example\n", "1: remove_authserv_ids: not an authserv-id: \"..example\"" },
    /* peer_users */
    { "peer_users = post fix!\n",
      "1: peer_users: bad name \"fix!\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; at most 32)" },
    { "remote_sockets = maybe\n", "1: remote_sockets: not a boolean: \"maybe\" (use yes or no)" },
    { "milter_max_connections = 0\n", "1: milter_max_connections: 0 is out of range (1..1000000)" },
    { "policy_socket = 127.0.0.1:10040\n",
      "1: policy_socket: expected inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path, not \"127.0.0.1:10040\"" },
    { "policy_socket = inet:127.0.0.1\n", "1: policy_socket: missing \":PORT\"" },
    { "policy_socket = inet:::1:10040\n",
      "1: policy_socket: bad host \"::1\" (an IPv6 address goes in brackets: inet:[ADDRESS]:PORT)" },
    { "policy_socket = inet:127.0.0.1:0\n", "1: policy_socket: bad port \"0\" (use 1..65535)" },
    { "policy_socket = unix:private/dance\n",
      "1: policy_socket: unix: needs an absolute path: \"private/dance\"" },
    /* socket_mode */
    { "socket_mode =\n", "1: socket_mode: missing value" },
    { "socket_mode = 1000\n", "1: socket_mode: 1000 is out of range (0000..0777)" },
    { "socket_mode = 4755\n", "1: socket_mode: 4755 is out of range (0000..0777)" },
    { "socket_mode = 77777777777777777777777777\n",
      "1: socket_mode: 77777777777777777777777777 is out of range (0000..0777)" },
    { "socket_mode = 10000000000000000000000\n",       /* 8^22 = 2^66: would wrap to 0 */
      "1: socket_mode: 10000000000000000000000 is out of range (0000..0777)" },
    { "socket_mode = 0800\n", "1: socket_mode: not an octal mode: \"0800\" (use 0000..0777, e.g. 0660)" },
    { "socket_mode = 0o660\n", "1: socket_mode: not an octal mode: \"0o660\" (use 0000..0777, e.g. 0660)" },
    { "socket_mode = 0x1b0\n", "1: socket_mode: not an octal mode: \"0x1b0\" (use 0000..0777, e.g. 0660)" },
    { "socket_mode = -660\n", "1: socket_mode: not an octal mode: \"-660\" (use 0000..0777, e.g. 0660)" },
    { "socket_mode = rw-rw----\n",
      "1: socket_mode: not an octal mode: \"rw-rw----\" (use 0000..0777, e.g. 0660)" },
    { "socket_mode = 06 60\n", "1: socket_mode: not an octal mode: \"06 60\" (use 0000..0777, e.g. 0660)" },
    /* user, group, socket_group */
    { "user = 1000\n",
      "1: user: bad name \"1000\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; at most 32)" },
    { "user = -dance\n",
      "1: user: bad name \"-dance\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; at most 32)" },
    { "user = dance:dance\n",
      "1: user: bad name \"dance:dance\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; "
      "at most 32)" },
    { "user = da nce\n",
      "1: user: bad name \"da nce\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; at most 32)" },
    { "user = abcdefghijklmnopqrstuvwxyz0123456\n",
      "1: user: bad name \"abcdefghijklmnopqrstuvwxyz0123456\" (a letter or \"_\", then letters, digits, "
      "\"_\", \"-\", \".\"; at most 32)" },
    { "user = d\xc3\xa4nce\n",
      "1: user: bad name \"d\xc3\xa4nce\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; "
      "at most 32)" },
    { "group = .hidden\n",
      "1: group: bad name \".hidden\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; "
      "at most 32)" },
    { "group = wheel$\n",
      "1: group: bad name \"wheel$\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; "
      "at most 32)" },
    { "socket_group = www data\n",
      "1: socket_group: bad name \"www data\" (a letter or \"_\", then letters, digits, \"_\", \"-\", \".\"; "
      "at most 32)" },
    /* identities */
    { "identities =\n", "1: identities: missing value (use helo, mailfrom or ptr)" },
    { "identities = # none\n", "1: identities: missing value (use helo, mailfrom or ptr)" },
    { "identities = ehlo\n", "1: identities: unknown value \"ehlo\" (use helo, mailfrom or ptr)" },
    { "identities = helo, all\n", "1: identities: unknown value \"all\" (use helo, mailfrom or ptr)" },
    { "identities = helo, helo\n", "1: identities: helo listed twice" },
    { "identities = HELO mailfrom helo\n", "1: identities: helo listed twice" },
    { "identities = helo,,ptr\n", "1: identities: empty list entry" },
    { "identities = helo,\n", "1: identities: empty list entry" },
    { "identities = ,helo\n", "1: identities: empty list entry" },
    /* authorized_clients */
    { "authorized_clients = example\n", "1: authorized_clients: bad name \"example\": single-label name" },
    { "authorized_clients = .example\n", "1: authorized_clients: bad name \".example\": single-label name" },
    { "authorized_clients = ..example.org\n", "1: authorized_clients: bad name \"..example.org\": empty label" },
    { "authorized_clients = .\n", "1: authorized_clients: bad name \".\": empty name" },
    { "authorized_clients = *.example.org\n",
      "1: authorized_clients: bad name \"*.example.org\": invalid character in name" },
    { "authorized_clients = @example.org\n",
      "1: authorized_clients: bad name \"@example.org\": invalid character in name" },
    { "authorized_clients = 192.0.2.1\n", "1: authorized_clients: bad name \"192.0.2.1\": IP address literal" },
    { "authorized_clients = mta.example.org,,\n", "1: authorized_clients: empty list entry" },
    /* fingerprint_digest */
    { "fingerprint_digest = md5\n",
      "1: fingerprint_digest: md5 cannot match a TLSA record: dance needs sha256 or sha512, and Postfix's "
      "smtpd_tls_fingerprint_digest must be set to the same" },
    { "fingerprint_digest = SHA1\n",
      "1: fingerprint_digest: SHA1 cannot match a TLSA record: dance needs sha256 or sha512, and Postfix's "
      "smtpd_tls_fingerprint_digest must be set to the same" },
    { "fingerprint_digest = sha384\n",
      "1: fingerprint_digest: unknown digest \"sha384\" (use sha256 or sha512, the same as Postfix's "
      "smtpd_tls_fingerprint_digest)" },
    { "fingerprint_digest = sha-256\n",
      "1: fingerprint_digest: unknown digest \"sha-256\" (use sha256 or sha512, the same as Postfix's "
      "smtpd_tls_fingerprint_digest)" },
    { "fingerprint_digest = sha256 sha512\n",
      "1: fingerprint_digest: unknown digest \"sha256 sha512\" (use sha256 or sha512, the same as Postfix's "
      "smtpd_tls_fingerprint_digest)" },
    { "fingerprint_digest =\n", "1: fingerprint_digest: missing value (use sha256 or sha512)" },
    /* pid_file */
    { "pid_file = run/danced.pid\n", "1: pid_file: not an absolute path: \"run/danced.pid\"" },
    { "pid_file = ~/danced.pid\n", "1: pid_file: not an absolute path: \"~/danced.pid\"" },
    { "pid_file = None\n", "1: pid_file: not an absolute path: \"None\"" },
    /* log_facility, log_format */
    { "log_facility =\n", "1: log_facility: missing value (use mail, daemon, local0, local1, local2, local3, "
      "local4, local5, local6 or local7)" },
    { "log_facility = user\n", "1: log_facility: unknown value \"user\" (use mail, daemon, local0, local1, "
      "local2, local3, local4, local5, local6 or local7)" },
    { "log_facility = local8\n", "1: log_facility: unknown value \"local8\" (use mail, daemon, local0, local1, "
      "local2, local3, local4, local5, local6 or local7)" },
    { "log_facility = LOG_MAIL\n", "1: log_facility: unknown value \"LOG_MAIL\" (use mail, daemon, local0, "
      "local1, local2, local3, local4, local5, local6 or local7)" },
    { "log_facility = 16\n", "1: log_facility: unknown value \"16\" (use mail, daemon, local0, "
      "local1, local2, local3, local4, local5, local6 or local7)" },
    { "log_format = yaml\n", "1: log_format: unknown value \"yaml\" (use text or json)" },
    { "log_format = text json\n", "1: log_format: unknown value \"text json\" (use text or json)" },
    { "log_format =\n", "1: log_format: missing value (use text or json)" },
    /* actions */
    { "temperror_action = reject\n",
      "1: temperror_action: unknown value \"reject\" (use defer_if_permit, defer or dunno)" },
    { "temperror_action = ok\n",
      "1: temperror_action: unknown value \"ok\" (use defer_if_permit, defer or dunno)" },
    { "temperror_action = defer if permit\n",
      "1: temperror_action: unknown value \"defer if permit\" (use defer_if_permit, defer or dunno)" },
    { "temperror_action = defer_if_permit 4.7.0 try later\n",
      "1: temperror_action: unknown value \"defer_if_permit 4.7.0 try later\" (use defer_if_permit, defer "
      "or dunno)" },
    { "temperror_action =\n", "1: temperror_action: missing value (use defer_if_permit, defer or dunno)" },
    { "fail_action = defer\n", "1: fail_action: unknown value \"defer\" (use dunno, reject or defer_if_permit)" },
    { "fail_action = ok\n", "1: fail_action: unknown value \"ok\" (use dunno, reject or defer_if_permit)" },
    { "fail_action = 550\n", "1: fail_action: unknown value \"550\" (use dunno, reject or defer_if_permit)" },
    /* idle_timeout, max_connections */
    { "idle_timeout = 0\n", "1: idle_timeout: 0 is out of range (1..86400 seconds)" },
    { "idle_timeout = 25h\n", "1: idle_timeout: 25h is out of range (1..86400 seconds)" },
    { "idle_timeout = forever\n", "1: idle_timeout: not a duration: \"forever\" (use N, Ns, Nm, Nh or Nd)" },
    { "request_timeout = 0\n", "1: request_timeout: 0 is out of range (1..3600 seconds)" },
    { "request_timeout = 2h\n", "1: request_timeout: 2h is out of range (1..3600 seconds)" },
    { "max_connections = 0\n", "1: max_connections: 0 is out of range (1..1000000)" },
    { "max_connections = 1000001\n", "1: max_connections: 1000001 is out of range (1..1000000)" },
    { "max_connections = unlimited\n", "1: max_connections: not a number: \"unlimited\"" },
    /* the new keys are set once too */
    { "fail_action = reject\nfail_action = dunno\n", "2: fail_action: repeated (first set on line 1)" },
};

static void test_bad_files(void **state)
{
    (void) state;
    dance_config cfg;
    char err[512], path[PATH_MAX], expect[PATH_MAX + 512];

    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        config_status st = load(c->content, &cfg, err, sizeof(err), path);

        snprintf(expect, sizeof(expect), "%s:%s", path, c->message);
        if (st != CONFIG_SYNTAX || strcmp(err, expect) != 0)
            fail_msg("case %zu: status %d, \"%s\" != \"%s\"", i, st, err, expect);
        config_free(&cfg);
    }
}

static void test_more_than_list_max(void **state)
{
    (void) state;
    dance_config cfg;
    char text[CONFIG_LINE_MAX], err[512], path[PATH_MAX], expect[PATH_MAX + 512];
    size_t len = (size_t) snprintf(text, sizeof(text), "lookup_domains =");

    for (int i = 0; i <= CONFIG_LIST_MAX; i++)
        len += (size_t) snprintf(text + len, sizeof(text) - len, " d%d.example", i);
    snprintf(text + len, sizeof(text) - len, "\n");
    assert_int_equal(load(text, &cfg, err, sizeof(err), path), CONFIG_SYNTAX);
    snprintf(expect, sizeof(expect), "%s:1: lookup_domains: more than %d entries", path, CONFIG_LIST_MAX);
    assert_string_equal(err, expect);
    assert_int_equal(cfg.lookup_domains.n, 0);
    config_free(&cfg);
}

static void test_nul_byte(void **state)
{
    (void) state;
    static const char content[] = "dns_timeout = 5\nserver_tlsa = y\0es\n";
    dance_config cfg;
    char err[512], path[PATH_MAX], expect[PATH_MAX + 64];

    temp_file(content, sizeof(content) - 1, path);
    config_init(&cfg);
    assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_SYNTAX);
    snprintf(expect, sizeof(expect), "%s:2: syntax: NUL byte in line", path);
    assert_string_equal(err, expect);
    unlink(path);
    config_free(&cfg);
}

static void test_line_length(void **state)
{
    (void) state;
    dance_config cfg;
    char *text = malloc(CONFIG_LINE_MAX + 64);
    char err[512], path[PATH_MAX], expect[PATH_MAX + 64];
    size_t len;

    assert_non_null(text);
    /* exactly CONFIG_LINE_MAX: accepted (a value padded with white space) */
    len = (size_t) snprintf(text, CONFIG_LINE_MAX + 64, "# first line\ncache_entries = 7");
    memset(text + len, ' ', CONFIG_LINE_MAX - strlen("cache_entries = 7"));
    len += CONFIG_LINE_MAX - strlen("cache_entries = 7");
    strcpy(text + len, "\n");
    load_ok(text, &cfg);
    assert_int_equal(cfg.cache_entries, 7);
    config_free(&cfg);

    /* one more: refused, even as a comment, even without a final newline */
    text[len] = ' ';
    text[len + 1] = '\0';
    assert_int_equal(load(text, &cfg, err, sizeof(err), path), CONFIG_SYNTAX);
    snprintf(expect, sizeof(expect), "%s:2: syntax: line too long", path);
    assert_string_equal(err, expect);
    config_free(&cfg);

    memset(text, '#', CONFIG_LINE_MAX + 1);
    text[CONFIG_LINE_MAX + 1] = '\0';
    assert_int_equal(load(text, &cfg, err, sizeof(err), path), CONFIG_SYNTAX);
    snprintf(expect, sizeof(expect), "%s:1: syntax: line too long", path);
    assert_string_equal(err, expect);
    config_free(&cfg);
    free(text);
}

static void test_last_line_without_newline(void **state)
{
    (void) state;
    dance_config cfg;

    load_ok("dns_timeout = 5\r\ncache_entries = 9", &cfg);
    assert_int_equal(cfg.dns_timeout, 5);
    assert_int_equal(cfg.cache_entries, 9);
    config_free(&cfg);
}

static void test_unreadable(void **state)
{
    (void) state;
    dance_config cfg;
    char err[512], path[PATH_MAX], expect[PATH_MAX + 128];

    /* a file that was there and is gone */
    temp_file("", 0, path);
    unlink(path);
    config_init(&cfg);
    assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_UNREADABLE);
    snprintf(expect, sizeof(expect), "%s: %s", path, strerror(ENOENT));
    assert_string_equal(err, expect);
    assert_defaults(&cfg);

    /* a directory */
    const char *dir = getenv("TMPDIR");

    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    assert_int_equal(config_load(dir, &cfg, err, sizeof(err)), CONFIG_UNREADABLE);
    snprintf(expect, sizeof(expect), "%s: %s", dir, strerror(EISDIR));
    assert_string_equal(err, expect);
    config_free(&cfg);
}

/* After an error, cfg holds what was read before it and is still freeable (ASan checks leaks). */
static void test_error_leaves_cfg_freeable(void **state)
{
    (void) state;
    dance_config cfg;
    char err[512], path[PATH_MAX];

    assert_int_equal(load("trust_anchor_file = /x\n"
                          "forwarders = 192.0.2.1 192.0.2.2\n"
                          "lookup_domains = example.org\n"
                          "resolver_config = /y\n"
                          "lookup_domains = example.net\n", &cfg, err, sizeof(err), path), CONFIG_SYNTAX);
    assert_string_equal(cfg.trust_anchor_file, "/x");
    assert_string_equal(cfg.resolver_config, "/y");
    assert_int_equal(cfg.forwarders.n, 2);
    assert_int_equal(cfg.lookup_domains.n, 1);
    config_free(&cfg);
    assert_null(cfg.trust_anchor_file);
    assert_null(cfg.resolver_config);
    assert_int_equal(cfg.forwarders.n, 0);

    /* a list that fails half-way keeps nothing of itself */
    assert_int_equal(load("forwarders = 192.0.2.1 192.0.2.2 bad\n", &cfg, err, sizeof(err), path),
                     CONFIG_SYNTAX);
    assert_int_equal(cfg.forwarders.n, 0);
    config_free(&cfg);
}

/* A second file on top of the first replaces its values (and frees the old ones). */
static void test_two_files(void **state)
{
    (void) state;
    dance_config cfg;
    char err[512], path[PATH_MAX];

    load_ok("trust_anchor_file = /first\nforwarders = 192.0.2.1\n", &cfg);
    static const char second[] = "trust_anchor_file = /second\nforwarders = 192.0.2.2 192.0.2.3\n";

    temp_file(second, strlen(second), path);
    assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_OK);
    unlink(path);
    assert_string_equal(cfg.trust_anchor_file, "/second");
    assert_int_equal(cfg.forwarders.n, 2);
    assert_string_equal(cfg.forwarders.v[0], "192.0.2.2");
    config_free(&cfg);
}

/* The message is cut to errsize, always terminated; no buffer at all is fine. */
static void test_small_error_buffer(void **state)
{
    (void) state;
    dance_config cfg;
    char err[8], path[PATH_MAX];

    memset(err, 'x', sizeof(err));
    assert_int_equal(load("foo = 1\n", &cfg, err, 5, path), CONFIG_SYNTAX);
    assert_int_equal(strlen(err), 4);
    assert_memory_equal(err, path, 4);
    assert_int_equal(err[5], 'x');
    config_free(&cfg);
    assert_int_equal(load("foo = 1\n", &cfg, NULL, 0, path), CONFIG_SYNTAX);
    config_free(&cfg);
}

/* authserv_id: at most 253 characters, like the host name it usually is. */
static void test_long_authserv_id(void **state)
{
    (void) state;
    dance_config cfg;
    char text[512], err[512], path[PATH_MAX], expect[PATH_MAX + 64];
    int len = snprintf(text, sizeof(text), "authserv_id = ");

    memset(text + len, 'a', CONFIG_AUTHSERV_ID_MAX);
    strcpy(text + len + CONFIG_AUTHSERV_ID_MAX, "\n");
    load_ok(text, &cfg);
    assert_int_equal(strlen(cfg.authserv_id), CONFIG_AUTHSERV_ID_MAX);
    config_free(&cfg);

    strcpy(text + len + CONFIG_AUTHSERV_ID_MAX, "a\n");
    assert_int_equal(load(text, &cfg, err, sizeof(err), path), CONFIG_SYNTAX);
    snprintf(expect, sizeof(expect), "%s:1: authserv_id: longer than %d characters", path,
             CONFIG_AUTHSERV_ID_MAX);
    assert_string_equal(err, expect);
    config_free(&cfg);
}

/* --------------------------------------------------------------- sample */

/* sample_path - contrib/dance.conf.sample from $TESTDIR (make check) or this source file's place. */
static bool sample_path(char *path, size_t size)
{
    const char *testdir = getenv("TESTDIR");
    const char *slash;

    if (testdir != NULL && *testdir != '\0') {
        snprintf(path, size, "%s/../contrib/dance.conf.sample", testdir);
        if (access(path, R_OK) == 0)
            return true;
    }
    if ((slash = strrchr(__FILE__, '/')) != NULL) {
        snprintf(path, size, "%.*s/../../contrib/dance.conf.sample", (int) (slash - __FILE__), __FILE__);
        if (access(path, R_OK) == 0)
            return true;
    }
    return false;
}

/*
 * The sample loads as it is (all commented out); with every "#key = value"
 * line uncommented it still loads, sets every key once, and yields exactly
 * the defaults.
 */
/* A rate value and the count and period it stores. */
struct rate_case {
    const char *line;
    unsigned count, per_s;
};

static const struct rate_case rate_cases[] = {
    { "lookup_budget = 30/1m", 30, 60 },
    { "lookup_budget = 5/10s", 5, 10 },
    { "lookup_budget = 5/10", 5, 10 },
    { "lookup_budget = 1/1s", 1, 1 },
    { "lookup_budget = 1000000/24h", 1000000, 86400 },
    { "lookup_budget = 1000/1d", 1000, 86400 },
    { "lookup_budget = 100/1h", 100, 3600 },
    { "lookup_budget = off", 0, 0 },
    { "lookup_budget = OFF", 0, 0 },
    { "lookup_budget = 0", 0, 0 },
    { "lookup_budget = 0/1m", 0, 0 },
};

static void test_rates(void **state)
{
    (void) state;
    dance_config cfg;

    for (size_t i = 0; i < sizeof(rate_cases) / sizeof(rate_cases[0]); i++) {
        char text[128];

        snprintf(text, sizeof(text), "%s\n", rate_cases[i].line);
        load_ok(text, &cfg);
        if (cfg.lookup_budget.count != rate_cases[i].count || cfg.lookup_budget.per_s != rate_cases[i].per_s)
            fail_msg("%s: %u/%u", rate_cases[i].line, cfg.lookup_budget.count, cfg.lookup_budget.per_s);
        assert_int_equal(config_line_of(&cfg, "lookup_budget"), 1);
        config_free(&cfg);
    }
}

static void test_sample(void **state)
{
    (void) state;
    static const char *const keys[] = {
        "trust_anchor_file", "resolver_config", "forwarders", "forwarders_tls", "tls_ca_file", "dns_timeout",
        "cache_max_ttl",
        "cache_error_ttl", "cache_entries", "server_tlsa", "lookup_domains", "authserv_id",
        "policy_socket", "milter_socket", "stats_socket", "trusted_authserv_ids", "socket_mode", "socket_group",
        "identities", "authorized_clients",
        "fingerprint_digest", "user", "group", "pid_file", "log_facility", "log_format",
        "temperror_action", "fail_action", "idle_timeout", "request_timeout", "max_connections",
        "milter_max_connections", "peer_users", "remove_authserv_ids", "remote_sockets",
        "lookup_budget", "lookups_in_flight_max",
    };
    char path[PATH_MAX], line[CONFIG_LINE_MAX + 2], err[512], tmp[PATH_MAX];
    char *uncommented = NULL;
    size_t ulen = 0;
    FILE *in, *out;
    dance_config cfg;

    if (!sample_path(path, sizeof(path)))
        skip();
    config_init(&cfg);
    assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_OK);
    assert_defaults(&cfg);
    config_free(&cfg);

    in = fopen(path, "r");
    assert_non_null(in);
    out = open_memstream(&uncommented, &ulen);
    assert_non_null(out);
    fputs("\n", out);                    /* every key line now follows a newline */
    while (fgets(line, sizeof(line), in) != NULL) {
        /* "#key = value": a '#' directly followed by a lower-case key and " =" */
        size_t k = strspn(line + (line[0] == '#'), "abcdefghijklmnopqrstuvwxyz_");

        if (line[0] == '#' && k > 0 && strncmp(line + 1 + k, " =", 2) == 0)
            fputs(line + 1, out);
    }
    fclose(in);
    fclose(out);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char want[64];

        snprintf(want, sizeof(want), "\n%s =", keys[i]);
        if (strstr(uncommented, want) == NULL)
            fail_msg("the sample does not list %s", keys[i]);
    }
    temp_file(uncommented, ulen, tmp);
    config_init(&cfg);
    config_status st = config_load(tmp, &cfg, err, sizeof(err));

    assert_int_equal(unlink(tmp), 0);
    if (st != CONFIG_OK)
        fail_msg("uncommented sample: %s", err);
    assert_defaults(&cfg);
    config_free(&cfg);
    free(uncommented);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_resolver_defaults),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_more_than_list_max),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_line_length),
        cmocka_unit_test(test_last_line_without_newline),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_error_leaves_cfg_freeable),
        cmocka_unit_test(test_two_files),
        cmocka_unit_test(test_small_error_buffer),
        cmocka_unit_test(test_long_authserv_id),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_line_of),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
