/*
 * test_config.c - unit tests for config.c: every key with good and bad
 * values, the exact "FILE:LINE: KEY: problem" messages, file-level errors
 * (missing, NUL byte, overlong line), the mapping to resolver_config, and
 * that contrib/dance.conf.sample lists every key with its real default.
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
#include <cmocka.h>

#include "config.h"

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
    assert_false(cfg->server_tlsa);
    assert_int_equal(cfg->lookup_domains.n, 0);
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
            "server_tlsa = yes\n"
            "lookup_domains = Example.ORG .example.net\n", &cfg);
    assert_string_equal(cfg.trust_anchor_file, "/etc/dance/root.key");
    assert_string_equal(cfg.resolver_config, "/etc/dance/unbound.conf");
    assert_int_equal(cfg.forwarders.n, 2);
    assert_string_equal(cfg.forwarders.v[0], "127.0.0.1@5300");
    assert_string_equal(cfg.forwarders.v[1], "::1");
    assert_int_equal(cfg.dns_timeout, 30);
    assert_int_equal(cfg.cache_max_ttl, 7200);
    assert_int_equal(cfg.cache_error_ttl, 300);
    assert_int_equal(cfg.cache_entries, 500);
    assert_true(cfg.server_tlsa);
    assert_int_equal(cfg.lookup_domains.n, 2);
    assert_string_equal(cfg.lookup_domains.v[0], "example.org");
    assert_string_equal(cfg.lookup_domains.v[1], "example.net");

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
};

static void test_numbers(void **state)
{
    (void) state;
    dance_config cfg;
    char text[256];

    for (size_t i = 0; i < sizeof(number_cases) / sizeof(number_cases[0]); i++) {
        const struct number_case *c = &number_cases[i];

        snprintf(text, sizeof(text), "%s\n", c->line);
        load_ok(text, &cfg);
        assert_int_equal(*(const unsigned *) (const void *) ((const char *) &cfg + c->offset), c->value);
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
    { "dns_timeout = abc\n", "1: dns_timeout: not a duration: \"abc\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = -1\n", "1: dns_timeout: not a duration: \"-1\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = +1\n", "1: dns_timeout: not a duration: \"+1\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = 10x\n", "1: dns_timeout: not a duration: \"10x\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = 10 s\n", "1: dns_timeout: not a duration: \"10 s\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = 10ss\n", "1: dns_timeout: not a duration: \"10ss\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = 10S\n", "1: dns_timeout: not a duration: \"10S\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = 1d\n", "1: dns_timeout: not a duration: \"1d\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = s\n", "1: dns_timeout: not a duration: \"s\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = 1.5\n", "1: dns_timeout: not a duration: \"1.5\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = 0x10\n", "1: dns_timeout: not a duration: \"0x10\" (use N, Ns, Nm or Nh)" },
    { "dns_timeout = 4294967301\n", "1: dns_timeout: 4294967301 is out of range (1..300 seconds)" },
    { "dns_timeout = 99999999999999999999999999\n",
      "1: dns_timeout: 99999999999999999999999999 is out of range (1..300 seconds)" },
    { "dns_timeout = 18446744073709551615h\n",
      "1: dns_timeout: 18446744073709551615h is out of range (1..300 seconds)" },
    { "dns_timeout = 5124095576030432h\n",
      "1: dns_timeout: 5124095576030432h is out of range (1..300 seconds)" },
    { "cache_max_ttl = 86401\n", "1: cache_max_ttl: 86401 is out of range (0..86400 seconds)" },
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
    { "forwarders = 127.0.0.1:53\n", "1: forwarders: not an IP address or IP@port: \"127.0.0.1:53\"" },
    { "forwarders = localhost\n", "1: forwarders: not an IP address or IP@port: \"localhost\"" },
    { "forwarders = 1.2.3\n", "1: forwarders: not an IP address or IP@port: \"1.2.3\"" },
    { "forwarders = 256.1.1.1\n", "1: forwarders: not an IP address or IP@port: \"256.1.1.1\"" },
    { "forwarders = [::1]\n", "1: forwarders: not an IP address or IP@port: \"[::1]\"" },
    { "forwarders = 192.0.2.1@0\n", "1: forwarders: not an IP address or IP@port: \"192.0.2.1@0\"" },
    { "forwarders = 192.0.2.1@65536\n", "1: forwarders: not an IP address or IP@port: \"192.0.2.1@65536\"" },
    { "forwarders = 192.0.2.1@\n", "1: forwarders: not an IP address or IP@port: \"192.0.2.1@\"" },
    { "forwarders = 192.0.2.1@53x\n", "1: forwarders: not an IP address or IP@port: \"192.0.2.1@53x\"" },
    { "forwarders = 192.0.2.1@5@3\n", "1: forwarders: not an IP address or IP@port: \"192.0.2.1@5@3\"" },
    { "forwarders = @53\n", "1: forwarders: not an IP address or IP@port: \"@53\"" },
    { "forwarders = 192.0.2.1 ::1 nope\n", "1: forwarders: not an IP address or IP@port: \"nope\"" },
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
static void test_sample(void **state)
{
    (void) state;
    static const char *const keys[] = {
        "trust_anchor_file", "resolver_config", "forwarders", "dns_timeout", "cache_max_ttl",
        "cache_error_ttl", "cache_entries", "server_tlsa", "lookup_domains",
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
        cmocka_unit_test(test_sample),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
