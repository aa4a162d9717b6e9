/*
 * test_budget.c - danced/budget.c, the look-up budgets: a client gets its
 * burst, then refusals until the bucket refills at the configured rate
 * (never above the burst); n look-ups take n tokens; IPv6 clients count
 * per /64, IPv4 clients per address, clients of unknown address share one
 * bucket; off lets everything through but the in-flight cap, which takes no
 * tokens; refusals are marked for the log once a minute per client; a full
 * group gives up its least recently seen bucket, and a reload with a new
 * rate starts every bucket full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "danced/budget.h"

#define NOW 1000000LL

/* cfg_of - a configuration with lookup_budget count/per_s and in-flight cap max. */
static dance_config cfg_of(unsigned count, unsigned per_s, unsigned max)
{
    dance_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.lookup_budget.count = count;
    cfg.lookup_budget.per_s = per_s;
    cfg.lookups_in_flight_max = max;
    return cfg;
}

/* addr - parse text (must be an address). */
static netaddr addr(const char *text)
{
    netaddr a;

    assert_true(netaddr_parse(text, &a));
    return a;
}

/* admit - budget_admit of one look-up with nothing in flight. */
static budget_status admit(budget *b, const netaddr *client, long long now)
{
    bool log;

    return budget_admit(b, client, 1, 0, now, &log);
}

/* drain - admit until refused; returns how many were admitted (at most limit). */
static unsigned drain(budget *b, const netaddr *client, long long now, unsigned limit)
{
    unsigned n = 0;

    while (n < limit && admit(b, client, now) == BUDGET_OK)
        n++;
    return n;
}

static void test_burst(void **state)
{
    dance_config cfg = cfg_of(60, 60, 1000);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1");

    (void) state;
    assert_non_null(b);
    assert_int_equal(drain(b, &a, NOW, 1000), 60);
    assert_int_equal(admit(b, &a, NOW), BUDGET_CLIENT);
    budget_free(b);
    budget_free(NULL);
}

static void test_refill(void **state)
{
    dance_config cfg = cfg_of(60, 60, 1000);   /* one token a second */
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1");

    (void) state;
    assert_int_equal(drain(b, &a, NOW, 1000), 60);
    assert_int_equal(admit(b, &a, NOW + 999), BUDGET_CLIENT);
    assert_int_equal(admit(b, &a, NOW + 1000), BUDGET_OK);
    assert_int_equal(admit(b, &a, NOW + 1000), BUDGET_CLIENT);
    assert_int_equal(drain(b, &a, NOW + 11000, 1000), 10);      /* ten seconds: ten tokens */
    budget_free(b);
}

static void test_refill_capped(void **state)
{
    dance_config cfg = cfg_of(60, 60, 1000);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1");

    (void) state;
    assert_int_equal(drain(b, &a, NOW, 1000), 60);
    assert_int_equal(drain(b, &a, NOW + 3600 * 1000LL, 1000), 60);    /* an idle hour: the burst only */
    assert_int_equal(drain(b, &a, NOW + 86400 * 1000LL * 30, 1000), 60);
    budget_free(b);
}

static void test_n_tokens(void **state)
{
    dance_config cfg = cfg_of(60, 60, 1000);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1");
    bool log;
    unsigned n = 0;

    (void) state;
    while (n < 1000 && budget_admit(b, &a, 2, 0, NOW, &log) == BUDGET_OK)
        n++;
    assert_int_equal(n, 30);
    budget_free(b);

    cfg = cfg_of(1, 60, 1000);      /* two owners under a budget of one: the burst is enough */
    b = budget_new(&cfg);
    assert_int_equal(budget_admit(b, &a, 2, 0, NOW, &log), BUDGET_OK);
    assert_int_equal(budget_admit(b, &a, 2, 0, NOW, &log), BUDGET_CLIENT);
    assert_int_equal(budget_admit(b, &a, 1, 0, NOW + 59999, &log), BUDGET_CLIENT);
    assert_int_equal(budget_admit(b, &a, 1, 0, NOW + 60000, &log), BUDGET_OK);
    budget_free(b);
}

static void test_ipv6_per_64(void **state)
{
    dance_config cfg = cfg_of(5, 60, 1000);
    budget *b = budget_new(&cfg);
    netaddr a1 = addr("2001:db8:1:2::1"), a2 = addr("2001:db8:1:2:ffff:ffff:ffff:ffff");
    netaddr other = addr("2001:db8:1:3::1");

    (void) state;
    assert_int_equal(drain(b, &a1, NOW, 1000), 5);
    assert_int_equal(admit(b, &a2, NOW), BUDGET_CLIENT);        /* the same /64 */
    assert_int_equal(drain(b, &other, NOW, 1000), 5);           /* the next /64 */
    budget_free(b);
}

static void test_ipv4_per_address(void **state)
{
    dance_config cfg = cfg_of(5, 60, 1000);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1"), a2 = addr("192.0.2.2"), mapped = addr("::ffff:192.0.2.1");

    (void) state;
    assert_int_equal(drain(b, &a, NOW, 1000), 5);
    assert_int_equal(drain(b, &a2, NOW, 1000), 5);
    assert_int_equal(admit(b, &a, NOW), BUDGET_CLIENT);
    assert_int_equal(admit(b, &a2, NOW), BUDGET_CLIENT);
    /* a v4-mapped IPv6 address is the IPv4 client (netaddr_parse unmaps it), not one big ::ffff:0:0/64 */
    assert_int_equal(mapped.family, AF_INET);
    assert_int_equal(admit(b, &mapped, NOW), BUDGET_CLIENT);
    budget_free(b);
}

static void test_unknown_shared(void **state)
{
    dance_config cfg = cfg_of(5, 60, 1000);
    budget *b = budget_new(&cfg);
    netaddr none, zero = addr("0.0.0.0");

    (void) state;
    memset(&none, 0, sizeof(none));
    assert_int_equal(drain(b, &none, NOW, 3), 3);
    assert_int_equal(drain(b, NULL, NOW, 1000), 2);             /* NULL is the same unknown client */
    assert_int_equal(admit(b, &none, NOW), BUDGET_CLIENT);
    assert_int_equal(drain(b, &zero, NOW, 1000), 5);            /* 0.0.0.0 is an address, not unknown */
    budget_free(b);
}

static void test_off(void **state)
{
    dance_config cfg = cfg_of(0, 0, 1000);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1");
    bool log = true;

    (void) state;
    assert_int_equal(drain(b, &a, NOW, 100000), 100000);
    assert_int_equal(budget_admit(b, &a, 1, 999, NOW, &log), BUDGET_OK);
    assert_int_equal(budget_admit(b, &a, 1, 1000, NOW, &log), BUDGET_IN_FLIGHT);   /* the cap stays */
    budget_free(b);
}

static void test_in_flight(void **state)
{
    dance_config cfg = cfg_of(3, 60, 10);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1");
    bool log;

    (void) state;
    assert_int_equal(budget_admit(b, &a, 1, 10, NOW, &log), BUDGET_IN_FLIGHT);
    assert_int_equal(budget_admit(b, &a, 2, 9, NOW, &log), BUDGET_IN_FLIGHT);
    assert_int_equal(budget_admit(b, &a, 1, 100, NOW, &log), BUDGET_IN_FLIGHT);
    assert_int_equal(drain(b, &a, NOW, 1000), 3);               /* the refusals took no token */
    budget_free(b);
}

static void test_log_once_a_minute(void **state)
{
    dance_config cfg = cfg_of(1, 3600, 5);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1"), a2 = addr("192.0.2.2");
    bool log;

    (void) state;
    assert_int_equal(budget_admit(b, &a, 1, 0, NOW, &log), BUDGET_OK);
    assert_false(log);
    assert_int_equal(budget_admit(b, &a, 1, 0, NOW, &log), BUDGET_CLIENT);
    assert_true(log);
    for (int i = 1; i < 100; i++) {
        assert_int_equal(budget_admit(b, &a, 1, 0, NOW + i * 500, &log), BUDGET_CLIENT);
        assert_false(log);
    }
    assert_int_equal(budget_admit(b, &a, 1, 0, NOW + BUDGET_LOG_INTERVAL_MS - 1, &log), BUDGET_CLIENT);
    assert_false(log);
    assert_int_equal(budget_admit(b, &a, 1, 0, NOW + BUDGET_LOG_INTERVAL_MS, &log), BUDGET_CLIENT);
    assert_true(log);
    /* another client has its own minute; the in-flight cap its own */
    assert_int_equal(budget_admit(b, &a2, 1, 0, NOW, &log), BUDGET_OK);
    assert_int_equal(budget_admit(b, &a2, 1, 0, NOW + 1, &log), BUDGET_CLIENT);
    assert_true(log);
    assert_int_equal(budget_admit(b, &a2, 1, 5, NOW + 2, &log), BUDGET_IN_FLIGHT);
    assert_true(log);
    assert_int_equal(budget_admit(b, &a, 1, 5, NOW + 3, &log), BUDGET_IN_FLIGHT);
    assert_false(log);
    budget_free(b);
}

/* name_of - "10.x.y.z" for i, a distinct IPv4 address. */
static netaddr client_no(unsigned i)
{
    char text[32];

    snprintf(text, sizeof(text), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    return addr(text);
}

static void test_group_eviction(void **state)
{
    dance_config cfg = cfg_of(10, 86400, 1000);       /* no refill worth speaking of */
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1"), x;
    long long t = NOW;

    (void) state;
    assert_int_equal(drain(b, &a, t, 1000), 10);
    /* four clients per bucket, all newer than a: a's group fills and a is replaced (starts full) */
    for (unsigned i = 0; i < 4 * BUDGET_BUCKETS; i++) {
        x = client_no(i);
        assert_int_equal(admit(b, &x, ++t), BUDGET_OK);
    }
    assert_int_equal(drain(b, &a, ++t, 1000), 10);
    budget_free(b);
}

static void test_recent_survives(void **state)
{
    dance_config cfg = cfg_of(10, 86400, 1000);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1"), x;
    long long t = NOW;

    (void) state;
    assert_int_equal(drain(b, &a, t, 1000), 10);
    /* the same flood, but a keeps asking: it is never the least recently seen of its group */
    for (unsigned i = 0; i < 4 * BUDGET_BUCKETS; i++) {
        x = client_no(i);
        assert_int_equal(admit(b, &x, ++t), BUDGET_OK);
        if (i % 4 == 0)
            assert_int_equal(admit(b, &a, ++t), BUDGET_CLIENT);
    }
    assert_int_equal(admit(b, &a, ++t), BUDGET_CLIENT);
    budget_free(b);
}

static void test_configure(void **state)
{
    dance_config cfg = cfg_of(5, 60, 1000), same = cfg_of(5, 60, 2), other = cfg_of(6, 60, 2);
    budget *b = budget_new(&cfg);
    netaddr a = addr("192.0.2.1");
    bool log;

    (void) state;
    assert_int_equal(drain(b, &a, NOW, 1000), 5);
    budget_configure(b, &same);         /* the same rate: the buckets stay; the new cap applies */
    assert_int_equal(admit(b, &a, NOW), BUDGET_CLIENT);
    assert_int_equal(budget_admit(b, &a, 1, 2, NOW + 60000, &log), BUDGET_IN_FLIGHT);
    budget_configure(b, &other);        /* a new rate: every bucket full */
    assert_int_equal(drain(b, &a, NOW, 1000), 6);
    budget_free(b);
}

static void test_limit_names(void **state)
{
    (void) state;
    assert_string_equal(budget_limit_name(BUDGET_CLIENT), "client");
    assert_string_equal(budget_limit_name(BUDGET_IN_FLIGHT), "in_flight");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_refill_capped),
        cmocka_unit_test(test_n_tokens),
        cmocka_unit_test(test_ipv6_per_64),
        cmocka_unit_test(test_ipv4_per_address),
        cmocka_unit_test(test_unknown_shared),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_in_flight),
        cmocka_unit_test(test_log_once_a_minute),
        cmocka_unit_test(test_group_eviction),
        cmocka_unit_test(test_recent_survives),
        cmocka_unit_test(test_configure),
        cmocka_unit_test(test_limit_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
