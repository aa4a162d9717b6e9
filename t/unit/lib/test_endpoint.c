/*
 * test_endpoint.c - unit tests for lib/endpoint.c: Postfix's socket
 * endpoint syntax for policy_socket and milter_socket, with hostile and
 * mistaken input (Sendmail's PORT@HOST form, IPv6 without brackets,
 * relative unix: paths, bounds of sun_path, host names and labels).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "lib/endpoint.h"

struct endpoint_case {
    const char *text;
    int family;
    const char *host;               /* inet */
    unsigned port;
    const char *path;               /* unix */
};

static const struct endpoint_case endpoint_good[] = {
    { "inet:127.0.0.1:10040", AF_INET, "127.0.0.1", 10040, "" },
    { "inet:0.0.0.0:1", AF_INET, "0.0.0.0", 1, "" },
    { "inet:192.0.2.1:65535", AF_INET, "192.0.2.1", 65535, "" },
    { "inet:192.0.2.1:00025", AF_INET, "192.0.2.1", 25, "" },
    { "inet:localhost:10040", AF_UNSPEC, "localhost", 10040, "" },
    { "inet:Policy.Example.ORG:9998", AF_UNSPEC, "Policy.Example.ORG", 9998, "" },
    { "inet:a-b.example:25", AF_UNSPEC, "a-b.example", 25, "" },
    { "inet:1.2.3.4x:25", AF_UNSPEC, "1.2.3.4x", 25, "" },
    { "inet:[::1]:10040", AF_INET6, "::1", 10040, "" },
    { "inet:[::]:10040", AF_INET6, "::", 10040, "" },
    { "inet:[2001:db8::1]:443", AF_INET6, "2001:db8::1", 443, "" },
    { "inet:[::ffff:192.0.2.1]:25", AF_INET6, "::ffff:192.0.2.1", 25, "" },
    { "unix:/run/dance/policy", AF_UNIX, "", 0, "/run/dance/policy" },
    { "unix:/var/spool/postfix/private/dance policy", AF_UNIX, "", 0,
      "/var/spool/postfix/private/dance policy" },
    { "unix:/a", AF_UNIX, "", 0, "/a" },
};

/* A hostile or mistaken endpoint and the reason given. */
struct endpoint_bad {
    const char *text;
    const char *why;
};

#define EXPECTED_FORMS "expected inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path, not "
#define HOST_HINT " (use an IPv4 address, a host name or [IPv6])"

static const struct endpoint_bad endpoint_bad_cases[] = {
    /* no known form */
    { "", EXPECTED_FORMS "\"\"" },
    { "inet", EXPECTED_FORMS "\"inet\"" },
    { "unix", EXPECTED_FORMS "\"unix\"" },
    { "INET:127.0.0.1:25", EXPECTED_FORMS "\"INET:127.0.0.1:25\"" },
    { "Unix:/run/x", EXPECTED_FORMS "\"Unix:/run/x\"" },
    { "local:/run/x", EXPECTED_FORMS "\"local:/run/x\"" },
    { "tcp:127.0.0.1:25", EXPECTED_FORMS "\"tcp:127.0.0.1:25\"" },
    { "/run/dance/policy", EXPECTED_FORMS "\"/run/dance/policy\"" },
    { "10040", EXPECTED_FORMS "\"10040\"" },
    { " inet:127.0.0.1:25", EXPECTED_FORMS "\" inet:127.0.0.1:25\"" },
    /* control characters, wherever they are */
    { "inet:127.0.0.1:25\n", "control character in endpoint" },
    { "inet:127.0.0.1:25\r", "control character in endpoint" },
    { "inet:127.0.\t0.1:25", "control character in endpoint" },
    { "unix:/run/dance\x7f", "control character in endpoint" },
    { "\x1b[2Jinet:127.0.0.1:25", "control character in endpoint" },
    /* inet: structure */
    { "inet:", "missing \":PORT\"" },
    { "inet:127.0.0.1", "missing \":PORT\"" },
    { "inet:localhost", "missing \":PORT\"" },
    { "inet::", "missing host" },
    { "inet::25", "missing host" },
    { "inet:127.0.0.1:25:26", "bad host \"127.0.0.1:25\" (an IPv6 address goes in brackets: inet:[ADDRESS]:PORT)" },
    { "inet:::1:10040", "bad host \"::1\" (an IPv6 address goes in brackets: inet:[ADDRESS]:PORT)" },
    { "inet:2001:db8::1:25", "bad host \"2001:db8::1\" (an IPv6 address goes in brackets: inet:[ADDRESS]:PORT)" },
    /* ports */
    { "inet:127.0.0.1:", "bad port \"\" (use 1..65535)" },
    { "inet:127.0.0.1:0", "bad port \"0\" (use 1..65535)" },
    { "inet:127.0.0.1:00000", "bad port \"00000\" (use 1..65535)" },
    { "inet:127.0.0.1:65536", "bad port \"65536\" (use 1..65535)" },
    { "inet:127.0.0.1:4294967321", "bad port \"4294967321\" (use 1..65535)" },
    { "inet:127.0.0.1:99999999999999999999999999", "bad port \"99999999999999999999999999\" (use 1..65535)" },
    { "inet:127.0.0.1:-1", "bad port \"-1\" (use 1..65535)" },
    { "inet:127.0.0.1:+25", "bad port \"+25\" (use 1..65535)" },
    { "inet:127.0.0.1: 25", "bad port \" 25\" (use 1..65535)" },
    { "inet:127.0.0.1:25 ", "bad port \"25 \" (use 1..65535)" },
    { "inet:127.0.0.1:0x19", "bad port \"0x19\" (use 1..65535)" },
    { "inet:127.0.0.1:2.5", "bad port \"2.5\" (use 1..65535)" },
    { "inet:127.0.0.1:smtp", "bad port \"smtp\" (use 1..65535)" },
    { "inet:localhost:25x", "bad port \"25x\" (use 1..65535)" },
    /* IPv4 literals */
    { "inet:256.0.0.1:25", "bad IPv4 address \"256.0.0.1\"" },
    { "inet:1.2.3:25", "bad IPv4 address \"1.2.3\"" },
    { "inet:1.2.3.4.5:25", "bad IPv4 address \"1.2.3.4.5\"" },
    { "inet:01.2.3.4:25", "bad IPv4 address \"01.2.3.4\"" },
    { "inet:127.0.0.1.:25", "bad IPv4 address \"127.0.0.1.\"" },
    { "inet:2130706433:25", "bad IPv4 address \"2130706433\"" },
    { "inet:...:25", "bad IPv4 address \"...\"" },
    /* host names */
    { "inet:example.123:25", "bad host \"example.123\"" HOST_HINT },
    { "inet:-bad.example:25", "bad host \"-bad.example\"" HOST_HINT },
    { "inet:bad-.example:25", "bad host \"bad-.example\"" HOST_HINT },
    { "inet:a..b:25", "bad host \"a..b\"" HOST_HINT },
    { "inet:.localhost:25", "bad host \".localhost\"" HOST_HINT },
    { "inet:localhost.:25", "bad host \"localhost.\"" HOST_HINT },
    { "inet:a_b.example:25", "bad host \"a_b.example\"" HOST_HINT },
    { "inet:*:25", "bad host \"*\"" HOST_HINT },
    { "inet:local host:25", "bad host \"local host\"" HOST_HINT },
    { "inet:h\xc3\xb6st.example:25", "bad host \"h\xc3\xb6st.example\"" HOST_HINT },
    { "inet:a/b:25", "bad host \"a/b\"" HOST_HINT },
    { "inet:[::1:25", "missing \"]\" after the IPv6 address" },
    /* bracketed IPv6 */
    { "inet:[::1]", "missing \":PORT\" after \"]\"" },
    { "inet:[::1]25", "missing \":PORT\" after \"]\"" },
    { "inet:[::1]]:25", "missing \":PORT\" after \"]\"" },
    { "inet:[[::1]]:25", "missing \":PORT\" after \"]\"" },
    { "inet:[]:25", "missing host" },
    { "inet:[::1]:", "bad port \"\" (use 1..65535)" },
    { "inet:[::1]:65536", "bad port \"65536\" (use 1..65535)" },
    { "inet:[::1]:25]", "bad port \"25]\" (use 1..65535)" },
    { "inet:[1.2.3.4]:25", "bad IPv6 address \"1.2.3.4\"" },
    { "inet:[localhost]:25", "bad IPv6 address \"localhost\"" },
    { "inet:[fe80::1%eth0]:25", "bad IPv6 address \"fe80::1%eth0\"" },
    { "inet:[:::]:25", "bad IPv6 address \":::\"" },
    { "inet:[ ::1]:25", "bad IPv6 address \" ::1\"" },
    { "inet:[1:2:3:4:5:6:7:8:9]:25", "bad IPv6 address \"1:2:3:4:5:6:7:8:9\"" },
    /* unix: */
    { "unix:", "unix: needs an absolute path: \"\"" },
    { "unix:relative/sock", "unix: needs an absolute path: \"relative/sock\"" },
    { "unix:~/sock", "unix: needs an absolute path: \"~/sock\"" },
    { "unix: /run/sock", "unix: needs an absolute path: \" /run/sock\"" },
    { "unix:/", "socket path ends in \"/\": \"/\"" },
    { "unix:/run/dance/", "socket path ends in \"/\": \"/run/dance/\"" },
};

static void assert_endpoint_failed(const endpoint *ep)
{
    assert_int_equal(ep->family, 0);
    assert_int_equal(ep->port, 0);
    assert_string_equal(ep->host, "");
    assert_string_equal(ep->path, "");
}

static void test_endpoint_good(void **state)
{
    (void) state;
    endpoint ep;
    char why[256];

    for (size_t i = 0; i < sizeof(endpoint_good) / sizeof(endpoint_good[0]); i++) {
        const struct endpoint_case *c = &endpoint_good[i];

        why[0] = '\0';
        memset(&ep, 0x5a, sizeof(ep));              /* everything is overwritten */
        if (!endpoint_parse(c->text, &ep, why, sizeof(why)))
            fail_msg("\"%s\": %s", c->text, why);
        assert_int_equal(ep.family, c->family);
        assert_string_equal(ep.host, c->host);
        assert_int_equal(ep.port, c->port);
        assert_string_equal(ep.path, c->path);
        assert_string_equal(why, "");
    }
}

static void test_endpoint_bad(void **state)
{
    (void) state;
    endpoint ep;
    char why[256];

    for (size_t i = 0; i < sizeof(endpoint_bad_cases) / sizeof(endpoint_bad_cases[0]); i++) {
        const struct endpoint_bad *c = &endpoint_bad_cases[i];

        memset(&ep, 0x5a, sizeof(ep));
        if (endpoint_parse(c->text, &ep, why, sizeof(why)))
            fail_msg("case %zu accepted: \"%s\"", i, c->text);
        if (strcmp(why, c->why) != 0)
            fail_msg("case %zu: \"%s\" != \"%s\"", i, why, c->why);
        assert_endpoint_failed(&ep);
    }
}

/* The bounds: sun_path, host buffer, host name and label lengths, very long text, small why buffers. */
static void test_endpoint_bounds(void **state)
{
    (void) state;
    char text[8192], why[256], label[64];
    endpoint ep;

    /* unix: a path of 107 bytes fits sun_path with its NUL; 108 does not */
    strcpy(text, "unix:/");
    memset(text + 6, 'p', 106);
    text[6 + 106] = '\0';
    assert_true(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_int_equal(ep.family, AF_UNIX);
    assert_int_equal(strlen(ep.path), 107);
    strcat(text, "p");
    assert_false(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_string_equal(why, "socket path longer than 107 bytes");
    assert_endpoint_failed(&ep);

    /* host names: 63-octet labels fine, 64 not; 253 octets fine, 254 not; 256+ does not fit at all */
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(text, sizeof(text), "inet:%s.%s.%s.%.61s:25", label, label, label, label);   /* 253 */
    assert_true(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_int_equal(ep.family, AF_UNSPEC);
    assert_int_equal(strlen(ep.host), 253);
    snprintf(text, sizeof(text), "inet:%s.%s.%s.%.62s:25", label, label, label, label);   /* 254 */
    assert_false(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_true(strncmp(why, "bad host \"", 10) == 0);
    snprintf(text, sizeof(text), "inet:%sa.example:25", label);                          /* 64 */
    assert_false(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_true(strncmp(why, "bad host \"", 10) == 0);
    snprintf(text, sizeof(text), "inet:%s.example:25", label);
    assert_true(endpoint_parse(text, &ep, why, sizeof(why)));
    memset(text, 'a', sizeof(text));
    memcpy(text, "inet:", 5);
    strcpy(text + 5 + 255, ":25");                                                      /* 255 + NUL fits */
    assert_false(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_true(strncmp(why, "bad host \"", 10) == 0);
    strcpy(text + 5 + 256, ":25");
    assert_false(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_string_equal(why, "host longer than 255 bytes");
    assert_endpoint_failed(&ep);
    memset(text, 'a', sizeof(text));
    memcpy(text, "inet:[", 6);
    strcpy(text + 6 + 4000, "]:25");
    assert_false(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_string_equal(why, "host longer than 255 bytes");

    /* a long unknown text: the reason is cut to the buffer, always terminated */
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    assert_false(endpoint_parse(text, &ep, why, sizeof(why)));
    assert_int_equal(strlen(why), sizeof(why) - 1);
    assert_true(strncmp(why, EXPECTED_FORMS "\"xxx", strlen(EXPECTED_FORMS) + 4) == 0);

    /* a small buffer, and no buffer at all */
    memset(why, 'z', sizeof(why));
    assert_false(endpoint_parse("inet:127.0.0.1:0", &ep, why, 5));
    assert_string_equal(why, "bad ");
    assert_int_equal(why[5], 'z');
    assert_false(endpoint_parse("inet:127.0.0.1:0", &ep, NULL, 0));
    assert_true(endpoint_parse("inet:127.0.0.1:25", &ep, NULL, 0));
    assert_int_equal(ep.port, 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_good),
        cmocka_unit_test(test_endpoint_bad),
        cmocka_unit_test(test_endpoint_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
