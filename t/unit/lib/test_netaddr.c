/*
 * test_netaddr.c - unit tests for lib/netaddr.c: addresses and networks.
 *
 * Covered: IPv4 and IPv6 literals, brackets and "IPv6:", IPv4-mapped IPv6
 * taken as IPv4, everything else refused (names, short IPv4 forms, white
 * space); networks with and without a prefix, prefixes out of range or
 * with host bits set refused; membership at the prefix's edges, across
 * families, at /0 and at odd prefixes; loopback; canonical text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "lib/netaddr.h"

static void test_parse(void **state)
{
    static const struct { const char *in, *canon; int family; } good[] = {
        { "192.0.2.1", "192.0.2.1", AF_INET },
        { "[192.0.2.1]", "192.0.2.1", AF_INET },
        { "2001:DB8::1", "2001:db8::1", AF_INET6 },
        { "[2001:db8::1]", "2001:db8::1", AF_INET6 },
        { "IPv6:2001:db8::1", "2001:db8::1", AF_INET6 },
        { "::ffff:192.0.2.7", "192.0.2.7", AF_INET },
        { "::1", "::1", AF_INET6 },
    };
    static const char *const bad[] = {
        "", "localhost", "10.1", "192.0.2.1 ", " 192.0.2.1", "192.0.2.256", "[192.0.2.1", "2001:db8::1/64",
        "IPv6:", "[]", "1.2.3.4.5",
    };
    char text[NETADDR_TEXT_MAX];
    netaddr a;

    (void) state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(netaddr_parse(good[i].in, &a));
        assert_int_equal(a.family, good[i].family);
        netaddr_format(&a, text);
        assert_string_equal(text, good[i].canon);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (netaddr_parse(bad[i], &a) || a.family != 0)
            fail_msg("\"%s\" was taken for an address", bad[i]);
    assert_false(netaddr_parse(NULL, &a));
    netaddr_format(&a, text);
    assert_string_equal(text, "");
}

static void test_nets(void **state)
{
    static const struct { const char *net, *addr; bool in; } cases[] = {
        { "192.0.2.0/24", "192.0.2.0", true },
        { "192.0.2.0/24", "192.0.2.255", true },
        { "192.0.2.0/24", "192.0.3.0", false },
        { "192.0.2.7", "192.0.2.7", true },
        { "192.0.2.7", "192.0.2.8", false },
        { "192.0.2.0/25", "192.0.2.127", true },
        { "192.0.2.0/25", "192.0.2.128", false },
        { "10.0.0.0/7", "11.255.255.255", true },
        { "10.0.0.0/7", "12.0.0.0", false },
        { "0.0.0.0/0", "203.0.113.9", true },
        { "0.0.0.0/0", "2001:db8::1", false },
        { "2001:db8::/32", "2001:db8:ffff::1", true },
        { "2001:db8::/32", "2001:db9::1", false },
        { "2001:db8::/32", "192.0.2.1", false },
        { "2001:db8::1/128", "2001:db8::1", true },
    };
    static const struct { const char *net, *why; } bad[] = {
        { "192.0.2.1/24", "has host bits set" },
        { "192.0.2.0/33", "prefix length 33 is over 32" },
        { "2001:db8::/129", "prefix length 129 is over 128" },
        { "192.0.2.0/", "bad prefix length" },
        { "192.0.2.0/2a", "bad prefix length" },
        { "192.0.2.0/0024", "bad prefix length" },
        { "mx.example/24", "not an IP address or network" },
        { "::ffff:192.0.2.0/120", "prefix length 120 is over 32" },    /* mapped: an IPv4 network */
    };
    netaddr_net n;
    netaddr a;
    char why[128];

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!netaddr_parse_net(cases[i].net, &n, why, sizeof(why)))
            fail_msg("\"%s\": %s", cases[i].net, why);
        assert_true(netaddr_parse(cases[i].addr, &a));
        if (netaddr_in_net(&a, &n) != cases[i].in)
            fail_msg("%s in %s: want %d", cases[i].addr, cases[i].net, cases[i].in);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (netaddr_parse_net(bad[i].net, &n, why, sizeof(why)) || strstr(why, bad[i].why) == NULL)
            fail_msg("\"%s\": \"%s\", want \"%s\"", bad[i].net, why, bad[i].why);
    }
    memset(&a, 0, sizeof(a));           /* no address: in no network */
    assert_true(netaddr_parse_net("0.0.0.0/0", &n, why, sizeof(why)));
    assert_false(netaddr_in_net(&a, &n));
}

static void test_loopback(void **state)
{
    netaddr a;

    (void) state;
    assert_true(netaddr_parse("127.0.0.1", &a) && netaddr_is_loopback(&a));
    assert_true(netaddr_parse("127.255.0.9", &a) && netaddr_is_loopback(&a));
    assert_true(netaddr_parse("::1", &a) && netaddr_is_loopback(&a));
    assert_true(netaddr_parse("::ffff:127.0.0.1", &a) && netaddr_is_loopback(&a));
    assert_true(netaddr_parse("128.0.0.1", &a) && !netaddr_is_loopback(&a));
    assert_true(netaddr_parse("::2", &a) && !netaddr_is_loopback(&a));
    assert_true(netaddr_parse("192.0.2.1", &a) && !netaddr_is_loopback(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_nets),
        cmocka_unit_test(test_loopback),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
