/*
 * test_stats.c - unit tests for stats_route_of() (danced/stats.c), what
 * the metrics endpoint answers by method and request target.
 *
 * Covered: GET /metrics is the text, with any query string and with an
 * absolute-form target naming that path; another method on /metrics is
 * 405; another path (/, /metrics/, /metricsx, /Metrics, /metrics with a
 * percent-encoded letter, a relative path) is 404 whatever the method;
 * targets that are no URI at all (empty, NULL, bad characters, a bad
 * scheme or port) are 404, never the text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "danced/stats.h"

static void test_metrics_path(void **state)
{
    (void) state;
    assert_int_equal(stats_route_of(true, "/metrics"), STATS_ROUTE_METRICS);
    assert_int_equal(stats_route_of(true, "/metrics?"), STATS_ROUTE_METRICS);
    assert_int_equal(stats_route_of(true, "/metrics?name[]=dance_verdicts_total&x=1"), STATS_ROUTE_METRICS);
    assert_int_equal(stats_route_of(true, "/metrics#top"), STATS_ROUTE_METRICS);
    assert_int_equal(stats_route_of(true, "http://localhost:9100/metrics"), STATS_ROUTE_METRICS);
    assert_int_equal(stats_route_of(true, "http://[::1]/metrics?x"), STATS_ROUTE_METRICS);
}

static void test_other_methods(void **state)
{
    (void) state;
    assert_int_equal(stats_route_of(false, "/metrics"), STATS_ROUTE_BAD_METHOD);
    assert_int_equal(stats_route_of(false, "/metrics?x=1"), STATS_ROUTE_BAD_METHOD);
    assert_int_equal(stats_route_of(false, "http://localhost/metrics"), STATS_ROUTE_BAD_METHOD);
    assert_int_equal(stats_route_of(false, "/"), STATS_ROUTE_NOT_FOUND);
}

static void test_other_paths(void **state)
{
    static const char *const paths[] = {
        "/", "/metrics/", "/metricsx", "/Metrics", "/METRICS", "/%6detrics", "metrics", "//metrics",
        "/metrics/../metrics", "/./metrics", "*", "/health", "http://localhost/", "http://localhost",
    };

    (void) state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        assert_int_equal(stats_route_of(true, paths[i]), STATS_ROUTE_NOT_FOUND);
        assert_int_equal(stats_route_of(false, paths[i]), STATS_ROUTE_NOT_FOUND);
    }
}

static void test_not_a_uri(void **state)
{
    static const char *const bad[] = {
        "", "http://localhost:port/metrics", "1http://x/metrics", "http://[::1/metrics", "/metrics\x01",
        "/metr ics", "\x80/metrics",
    };

    (void) state;
    assert_int_equal(stats_route_of(true, NULL), STATS_ROUTE_NOT_FOUND);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(stats_route_of(true, bad[i]), STATS_ROUTE_NOT_FOUND);
        assert_int_equal(stats_route_of(false, bad[i]), STATS_ROUTE_NOT_FOUND);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_path),
        cmocka_unit_test(test_other_methods),
        cmocka_unit_test(test_other_paths),
        cmocka_unit_test(test_not_a_uri),
    };

    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
