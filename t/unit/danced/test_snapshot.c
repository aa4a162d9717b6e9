/*
 * test_snapshot.c - unit tests for danced/snapshot.c: one loaded
 * configuration and what is derived from it.
 *
 * Each case writes a real dance.conf and loads it as danced does.
 * Covered: an unreadable file and a syntax error (the error names file,
 * line and key); an authserv-id that is not one (from the host name:
 * the hint to set authserv_id); the rules that span keys - nothing to
 * serve, our own authserv-id (or a name under it) trusted, "any" among
 * user names, both faces without peer_users, user root, a socket that is
 * not loopback without remote_sockets - each refused with the key's
 * line; peer_users resolved to user ids (unset and "any" admit every
 * peer, an unknown user is refused); the derived check options (the
 * mailfrom domain is never checked at _25._tcp); the reference count;
 * and which changes need a new resolver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "danced/snapshot.h"

/* load - write conf to a temporary file and snapshot_load() it; path is returned in path. */
static snapshot_status load(const char *conf, const char *default_servid, snapshot **out, char *err,
                            size_t errsize, char path[64])
{
    int fd;
    snapshot_status st;

    snprintf(path, 64, "/tmp/test_snapshot.XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, conf, strlen(conf)), (ssize_t) strlen(conf));
    assert_int_equal(close(fd), 0);
    st = snapshot_load(path, default_servid, out, err, errsize);
    unlink(path);
    return st;
}

/* ok - a snapshot of conf that must load. */
static snapshot *ok(const char *conf)
{
    char err[1024], path[64];
    snapshot *s = NULL;

    if (load(conf, "mx.default.test", &s, err, sizeof(err), path) != SNAPSHOT_OK)
        fail_msg("load failed: %s", err);
    assert_non_null(s);
    return s;
}

/* refused - conf must fail with status; its message must hold "PATH:LINE: KEY:" and want. */
static void refused(const char *conf, snapshot_status status, unsigned line, const char *key, const char *want)
{
    char err[1024], path[64], prefix[128];
    snapshot *s = (snapshot *) 1;

    if (load(conf, "mx.default.test", &s, err, sizeof(err), path) != status)
        fail_msg("\"%s\": want status %d, got another (%s)", conf, (int) status, err);
    assert_null(s);
    if (key != NULL) {
        snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", path, line, key);
        if (strncmp(err, prefix, strlen(prefix)) != 0)
            fail_msg("\"%s\" does not start with \"%s\"", err, prefix);
    }
    if (strstr(err, want) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err, want);
}

static void test_unreadable_and_syntax(void **state)
{
    char err[1024];
    snapshot *s = (snapshot *) 1;

    (void) state;
    assert_int_equal(snapshot_load("/nonexistent/dance.conf", NULL, &s, err, sizeof(err)),
                     SNAPSHOT_UNREADABLE);
    assert_null(s);
    assert_non_null(strstr(err, "/nonexistent/dance.conf"));
    refused("authserv_id = mx.test\ndns_timeout = forever\n", SNAPSHOT_SYNTAX, 2, "dns_timeout", "");
    refused("no_such_key = 1\n", SNAPSHOT_SYNTAX, 1, "no_such_key", "");
}

static void test_servid(void **state)
{
    char err[1024], path[64];
    snapshot *s;

    (void) state;
    s = ok("authserv_id = MX.Dance.Test\n");
    assert_string_equal(s->servid, "MX.Dance.Test");
    assert_string_equal(s->servid_norm, "mx.dance.test");
    snapshot_unref(s);
    s = ok("\n");
    assert_string_equal(s->servid, "mx.default.test");      /* the default given */
    snapshot_unref(s);
    s = (snapshot *) 1;
    assert_int_equal(load("\n", "bad id;", &s, err, sizeof(err), path), SNAPSHOT_BAD_SERVID);
    assert_null(s);
    assert_non_null(strstr(err, "is not a valid authserv-id (from the host name; set authserv_id)"));
}

/* The rules that span keys, each refused at the line of the key it names. */
static void test_validate(void **state)
{
    (void) state;
    refused("authserv_id = mx.test\npolicy_socket = none\n", SNAPSHOT_SYNTAX, 2, "policy_socket",
            "nothing to serve");
    refused("authserv_id = mx.test\ntrusted_authserv_ids = relay.test@192.0.2.1, MX.test@127.0.0.1\n", SNAPSHOT_SYNTAX, 2,
            "trusted_authserv_ids", "danced's own authserv-id");
    refused("authserv_id = mx.test\ntrusted_authserv_ids = a.mx.test@127.0.0.1\n", SNAPSHOT_SYNTAX, 2,
            "trusted_authserv_ids", "or a name under it");
    refused("authserv_id = mx.test\npeer_users = any, postfix\n", SNAPSHOT_SYNTAX, 2, "peer_users",
            "\"any\" cannot be listed with user names");
    refused("authserv_id = mx.test\nmilter_socket = unix:/tmp/m.sock\n", SNAPSHOT_SYNTAX, 0, "peer_users",
            "both faces are on");
    refused("authserv_id = mx.test\n\nuser = root\n", SNAPSHOT_SYNTAX, 3, "user", "must not run as root");
    refused("authserv_id = mx.test\npolicy_socket = inet:192.0.2.1:10040\n", SNAPSHOT_SYNTAX, 2,
            "policy_socket", "is not a loopback address");
    refused("authserv_id = mx.test\npolicy_socket = none\nmilter_socket = inet:0.0.0.0:10041\n"
            "peer_users = any\n", SNAPSHOT_SYNTAX, 3, "milter_socket", "remote_sockets = yes");
}

static void test_local_sockets(void **state)
{
    static const char *const confs[] = {
        "policy_socket = inet:127.0.0.1:10040\n",
        "policy_socket = inet:localhost:10040\n",
        "policy_socket = inet:[::1]:10040\n",
        "policy_socket = unix:/run/dance/policy\n",
        "policy_socket = inet:192.0.2.1:10040\nremote_sockets = yes\n",
    };

    (void) state;
    for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++)
        snapshot_unref(ok(confs[i]));
}

static void test_peers(void **state)
{
    snapshot *s;

    (void) state;
    s = ok("authserv_id = mx.test\n");
    assert_true(s->peer_any);                   /* unset: every peer */
    snapshot_unref(s);
    s = ok("peer_users = any\n");
    assert_true(s->peer_any);
    snapshot_unref(s);
    s = ok("peer_users = root, nobody\n");
    assert_false(s->peer_any);
    assert_int_equal(s->npeer_uids, 2);
    assert_int_equal(s->peer_uids[0], 0);
    assert_true(s->peer_uids[1] != 0);
    snapshot_unref(s);
    refused("authserv_id = mx.test\npeer_users = nobody, no-such-user-here\n", SNAPSHOT_SYNTAX, 2,
            "peer_users", "no such user \"no-such-user-here\"");
}

static void test_derived(void **state)
{
    snapshot *s;

    (void) state;
    s = ok("server_tlsa = yes\nlookup_domains = a.test, b.test\n");
    assert_true(s->copt.server_tlsa);
    assert_false(s->copt_domain.server_tlsa);   /* a mail domain is not a host */
    assert_int_equal(s->copt.nlookup_domains, 2);
    assert_string_equal(s->copt.lookup_domains[1], "b.test");
    assert_ptr_equal(s->copt_domain.lookup_domains, s->copt.lookup_domains);
    assert_int_equal(s->generation, 0);
    snapshot_unref(s);
}

static void test_refs(void **state)
{
    snapshot *s = ok("\n");

    (void) state;
    assert_int_equal(s->refs, 1);
    assert_ptr_equal(snapshot_ref(s), s);
    assert_int_equal(s->refs, 2);
    snapshot_unref(s);
    assert_int_equal(s->refs, 1);
    snapshot_unref(s);                          /* freed: valgrind and ASan watch */
    snapshot_unref(NULL);
}

static void test_same_resolver(void **state)
{
    static const struct {
        const char *b;
        bool same;
    } cases[] = {
        { "dns_timeout = 5s\nforwarders = 127.0.0.1\n", true },
        { "dns_timeout = 5s\nforwarders = 127.0.0.1\nlog_format = json\nidle_timeout = 10s\n", true },
        { "dns_timeout = 6s\nforwarders = 127.0.0.1\n", false },
        { "dns_timeout = 5s\nforwarders = 127.0.0.2\n", false },
        { "dns_timeout = 5s\nforwarders = 127.0.0.1, 127.0.0.2\n", false },
        { "dns_timeout = 5s\nforwarders = 127.0.0.1\ncache_entries = 7\n", false },
        /* the stale window lives in the resolver's cache; stale_relay only in the decision */
        { "dns_timeout = 5s\nforwarders = 127.0.0.1\nstale_max = 1d\n", false },
        { "dns_timeout = 5s\nforwarders = 127.0.0.1\nstale_relay = yes\n", true },
    };
    snapshot *a = ok("dns_timeout = 5s\nforwarders = 127.0.0.1\n");

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snapshot *b = ok(cases[i].b);

        if (snapshot_same_resolver(a, b) != cases[i].same)
            fail_msg("case %zu: same_resolver should be %d", i, cases[i].same);
        snapshot_unref(b);
    }
    snapshot_unref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreadable_and_syntax),
        cmocka_unit_test(test_servid),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_local_sockets),
        cmocka_unit_test(test_peers),
        cmocka_unit_test(test_derived),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_same_resolver),
    };

    return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
