/*
 * test_metrics.c - unit tests for danced/metrics.c, the daemon's counters
 * and their Prometheus text.
 *
 * Covered: a fresh state renders every series at zero; a known state
 * (verdicts of both faces with durations on and between the bucket
 * bounds, below zero and past the last bound; requests of each kind;
 * milter messages and removed fields; DNS answers of every status folded
 * to four; cache hits, misses and entries; the gauges) renders exactly
 * the text below - cumulative buckets, +Inf, _sum to the microsecond,
 * _count; a version label with '"', '\' and a newline is escaped; a
 * buffer too small is reported, never overrun, and always terminated;
 * the counters only ever grow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "danced/metrics.h"

/* The text of the known state (known_state below), line by line. */
static const char known_text[] =
    "# HELP dance_verdicts_total Verdicts computed, by face, identity and result. A verdict reused from a policy connection's memo is not counted; one shared by two identities of a request counts once, under the first.\n"
    "# TYPE dance_verdicts_total counter\n"
    "dance_verdicts_total{face=\"policy\",identity=\"helo\",result=\"pass\"} 2\n"
    "dance_verdicts_total{face=\"policy\",identity=\"helo\",result=\"fail\"} 1\n"
    "dance_verdicts_total{face=\"policy\",identity=\"helo\",result=\"none\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"helo\",result=\"neutral\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"helo\",result=\"temperror\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"helo\",result=\"permerror\"} 1\n"
    "dance_verdicts_total{face=\"policy\",identity=\"mailfrom\",result=\"pass\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"mailfrom\",result=\"fail\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"mailfrom\",result=\"none\"} 1\n"
    "dance_verdicts_total{face=\"policy\",identity=\"mailfrom\",result=\"neutral\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"mailfrom\",result=\"temperror\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"mailfrom\",result=\"permerror\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"ptr\",result=\"pass\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"ptr\",result=\"fail\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"ptr\",result=\"none\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"ptr\",result=\"neutral\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"ptr\",result=\"temperror\"} 0\n"
    "dance_verdicts_total{face=\"policy\",identity=\"ptr\",result=\"permerror\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"helo\",result=\"pass\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"helo\",result=\"fail\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"helo\",result=\"none\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"helo\",result=\"neutral\"} 1\n"
    "dance_verdicts_total{face=\"milter\",identity=\"helo\",result=\"temperror\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"helo\",result=\"permerror\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"mailfrom\",result=\"pass\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"mailfrom\",result=\"fail\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"mailfrom\",result=\"none\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"mailfrom\",result=\"neutral\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"mailfrom\",result=\"temperror\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"mailfrom\",result=\"permerror\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"ptr\",result=\"pass\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"ptr\",result=\"fail\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"ptr\",result=\"none\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"ptr\",result=\"neutral\"} 0\n"
    "dance_verdicts_total{face=\"milter\",identity=\"ptr\",result=\"temperror\"} 1\n"
    "dance_verdicts_total{face=\"milter\",identity=\"ptr\",result=\"permerror\"} 0\n"
    "# HELP dance_policy_requests_total Policy requests, by protocol state (rcpt, data, other: any other state or request).\n"
    "# TYPE dance_policy_requests_total counter\n"
    "dance_policy_requests_total{request=\"rcpt\"} 5\n"
    "dance_policy_requests_total{request=\"data\"} 2\n"
    "dance_policy_requests_total{request=\"other\"} 1\n"
    "# HELP dance_policy_connections Open policy connections.\n"
    "# TYPE dance_policy_connections gauge\n"
    "dance_policy_connections 3\n"
    "# HELP dance_milter_connections Open milter connections.\n"
    "# TYPE dance_milter_connections gauge\n"
    "dance_milter_connections 1\n"
    "# HELP dance_milter_messages_total Messages the milter answered at end of message.\n"
    "# TYPE dance_milter_messages_total counter\n"
    "dance_milter_messages_total 2\n"
    "# HELP dance_forged_fields_removed_total Authentication-Results fields the milter removed (claiming our authserv-id, one under it, a listed one, or unparseable).\n"
    "# TYPE dance_forged_fields_removed_total counter\n"
    "dance_forged_fields_removed_total 2\n"
    "# HELP dance_dns_lookups_total TLSA look-ups answered by the DNS (not the cache), by DNSSEC status; error is SERVFAIL, timeout or a network error.\n"
    "# TYPE dance_dns_lookups_total counter\n"
    "dance_dns_lookups_total{status=\"secure\"} 5\n"
    "dance_dns_lookups_total{status=\"insecure\"} 2\n"
    "dance_dns_lookups_total{status=\"bogus\"} 1\n"
    "dance_dns_lookups_total{status=\"error\"} 4\n"
    "# HELP dance_cache_hits_total TLSA look-ups answered from the cache.\n"
    "# TYPE dance_cache_hits_total counter\n"
    "dance_cache_hits_total 7\n"
    "# HELP dance_cache_misses_total TLSA look-ups the cache could not answer.\n"
    "# TYPE dance_cache_misses_total counter\n"
    "dance_cache_misses_total 11\n"
    "# HELP dance_cache_entries Answers held in the current resolver's cache.\n"
    "# TYPE dance_cache_entries gauge\n"
    "dance_cache_entries 9\n"
    "# HELP dance_verdict_cache_hits_total Verdicts taken from those already computed for the same name and certificate (no look-up at all; still logged and counted in dance_verdicts_total).\n"
    "# TYPE dance_verdict_cache_hits_total counter\n"
    "dance_verdict_cache_hits_total 0\n"
    "# HELP dance_stale_verdicts_total Verdicts decided from a secure answer past its TTL because a new look-up failed (stale_max; also counted in dance_verdicts_total).\n"
    "# TYPE dance_stale_verdicts_total counter\n"
    "dance_stale_verdicts_total 2\n"
    "# HELP dance_lookup_budget_refusals_total Checks refused (temperror) by a look-up budget: a client's lookup_budget, or lookups_in_flight_max.\n"
    "# TYPE dance_lookup_budget_refusals_total counter\n"
    "dance_lookup_budget_refusals_total{limit=\"client\"} 2\n"
    "dance_lookup_budget_refusals_total{limit=\"in_flight\"} 1\n"
    "# HELP dance_check_duration_seconds Time to compute one verdict, DNS included (memo reuse not counted).\n"
    "# TYPE dance_check_duration_seconds histogram\n"
    "dance_check_duration_seconds_bucket{le=\"0.001\"} 3\n"
    "dance_check_duration_seconds_bucket{le=\"0.0025\"} 3\n"
    "dance_check_duration_seconds_bucket{le=\"0.005\"} 4\n"
    "dance_check_duration_seconds_bucket{le=\"0.01\"} 4\n"
    "dance_check_duration_seconds_bucket{le=\"0.025\"} 4\n"
    "dance_check_duration_seconds_bucket{le=\"0.05\"} 4\n"
    "dance_check_duration_seconds_bucket{le=\"0.1\"} 4\n"
    "dance_check_duration_seconds_bucket{le=\"0.25\"} 4\n"
    "dance_check_duration_seconds_bucket{le=\"0.5\"} 4\n"
    "dance_check_duration_seconds_bucket{le=\"1\"} 4\n"
    "dance_check_duration_seconds_bucket{le=\"2.5\"} 5\n"
    "dance_check_duration_seconds_bucket{le=\"5\"} 5\n"
    "dance_check_duration_seconds_bucket{le=\"10\"} 6\n"
    "dance_check_duration_seconds_bucket{le=\"+Inf\"} 7\n"
    "dance_check_duration_seconds_sum 32.004500\n"
    "dance_check_duration_seconds_count 7\n"
    "# HELP dance_build_info Always 1; the label names the version of danced.\n"
    "# TYPE dance_build_info gauge\n"
    "dance_build_info{version=\"1.2.3\"} 1\n"
;

/* known_state - the state the text above shows, and its gauges. */
static void known_state(metrics *m, metrics_gauges *g)
{
    resolver_stats *dns;

    metrics_init(m);
    metrics_verdict(m, METRICS_POLICY, RESULTS_HELO, VERDICT_PASS, 500);             /* <= 0.001 */
    metrics_verdict(m, METRICS_POLICY, RESULTS_HELO, VERDICT_PASS, 1000);            /* on 0.001 */
    metrics_verdict_stale(m);                                                        /* that one was stale */
    metrics_verdict(m, METRICS_POLICY, RESULTS_HELO, VERDICT_FAIL, 3000);            /* <= 0.005 */
    metrics_verdict_stale(m);                                                        /* and that one */
    metrics_verdict(m, METRICS_POLICY, RESULTS_MAILFROM, VERDICT_NONE, 2000000);     /* <= 2.5 */
    metrics_verdict(m, METRICS_MILTER, RESULTS_PTR, VERDICT_TEMPERROR, 20000000);   /* +Inf only */
    metrics_verdict(m, METRICS_MILTER, RESULTS_HELO, VERDICT_NEUTRAL, -5);           /* a clock step: 0 */
    metrics_verdict(m, METRICS_POLICY, RESULTS_HELO, VERDICT_PERMERROR, 10000000);  /* on 10 */
    for (int i = 0; i < 5; i++)
        metrics_policy_request(m, METRICS_RCPT);
    metrics_policy_request(m, METRICS_DATA);
    metrics_policy_request(m, METRICS_DATA);
    metrics_policy_request(m, METRICS_OTHER);
    metrics_milter_message(m, 2);
    metrics_milter_message(m, 0);
    metrics_budget_refusal(m, BUDGET_CLIENT);
    metrics_budget_refusal(m, BUDGET_CLIENT);
    metrics_budget_refusal(m, BUDGET_IN_FLIGHT);
    dns = metrics_dns(m);
    dns->lookups[RESOLVER_SECURE] = 3;
    dns->lookups[RESOLVER_SECURE_NXDOMAIN] = 1;
    dns->lookups[RESOLVER_SECURE_NODATA] = 1;
    dns->lookups[RESOLVER_INSECURE] = 2;
    dns->lookups[RESOLVER_BOGUS] = 1;
    dns->lookups[RESOLVER_SERVFAIL] = 1;
    dns->lookups[RESOLVER_TIMEOUT] = 2;
    dns->lookups[RESOLVER_NETERR] = 1;
    dns->cache_hits = 7;
    dns->cache_misses = 11;
    g->policy_connections = 3;
    g->milter_connections = 1;
    g->cache_entries = 9;
}

/* line_value - the value of the series line starting with "series " in text, or -1. */
static long long line_value(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtoll(p + n + 1, NULL, 10);
    return -1;
}

static void test_zero(void **state)
{
    metrics m;
    metrics_gauges g = { 0, 0, 0 };
    char text[METRICS_TEXT_MAX];
    size_t len, series = 0;

    (void) state;
    metrics_init(&m);
    assert_int_equal(metrics_render(&m, &g, "1.2.3", text, sizeof(text), &len), METRICS_OK);
    assert_int_equal(len, strlen(text));
    /* every series line ends in " 0", but build_info's 1 */
    for (const char *p = text; *p != '\0'; p = strchr(p, '\n') + 1) {
        const char *end = strchr(p, '\n');

        assert_non_null(end);
        if (*p == '#')
            continue;
        series++;
        if (strncmp(p, "dance_build_info{", 17) == 0)
            assert_memory_equal(end - 2, " 1", 2);
        else if (strncmp(p, "dance_check_duration_seconds_sum ", 33) == 0)
            assert_memory_equal(end - 9, " 0.000000", 9);
        else
            assert_memory_equal(end - 2, " 0", 2);
    }
    /* 36 verdicts, 3 requests, 4 single figures, 4 DNS statuses, 3 cache, 1 verdict cache,
       1 stale, 2 look-up budget refusals, 14 buckets + sum + count, build */
    assert_int_equal(series, 36 + 3 + 2 + 2 + 4 + 3 + 1 + 1 + 2 + 16 + 1);
}

static void test_known_state_exact(void **state)
{
    metrics m;
    metrics_gauges g;
    char text[METRICS_TEXT_MAX];
    size_t len;

    (void) state;
    known_state(&m, &g);
    assert_int_equal(metrics_render(&m, &g, "1.2.3", text, sizeof(text), &len), METRICS_OK);
    assert_string_equal(text, known_text);
    assert_int_equal(len, sizeof(known_text) - 1);
}

static void test_counters_grow(void **state)
{
    metrics m;
    metrics_gauges g;
    char text[METRICS_TEXT_MAX];
    size_t len;

    (void) state;
    known_state(&m, &g);
    metrics_verdict(&m, METRICS_POLICY, RESULTS_HELO, VERDICT_PASS, 2500);   /* on 0.0025 */
    metrics_policy_request(&m, METRICS_OTHER);
    metrics_milter_message(&m, 3);
    assert_int_equal(metrics_render(&m, &g, "1.2.3", text, sizeof(text), &len), METRICS_OK);
    assert_int_equal(line_value(text, "dance_verdicts_total{face=\"policy\",identity=\"helo\",result=\"pass\"}"), 3);
    assert_int_equal(line_value(text, "dance_check_duration_seconds_bucket{le=\"0.001\"}"), 3);
    assert_int_equal(line_value(text, "dance_check_duration_seconds_bucket{le=\"0.0025\"}"), 4);
    assert_int_equal(line_value(text, "dance_check_duration_seconds_bucket{le=\"+Inf\"}"), 8);
    assert_int_equal(line_value(text, "dance_check_duration_seconds_count"), 8);
    assert_non_null(strstr(text, "\ndance_check_duration_seconds_sum 32.007000\n"));
    assert_int_equal(line_value(text, "dance_policy_requests_total{request=\"other\"}"), 2);
    assert_int_equal(line_value(text, "dance_milter_messages_total"), 3);
    assert_int_equal(line_value(text, "dance_forged_fields_removed_total"), 5);
}

static void test_version_escaped(void **state)
{
    metrics m;
    metrics_gauges g = { 0, 0, 0 };
    char text[METRICS_TEXT_MAX];
    size_t len;

    (void) state;
    metrics_init(&m);
    assert_int_equal(metrics_render(&m, &g, "1.0 \"beta\"\\x\ny", text, sizeof(text), &len), METRICS_OK);
    assert_non_null(strstr(text, "\ndance_build_info{version=\"1.0 \\\"beta\\\"\\\\x\\ny\"} 1\n"));
}

static void test_too_small(void **state)
{
    metrics m;
    metrics_gauges g;
    char text[METRICS_TEXT_MAX];
    char small[512];
    size_t len, full;

    (void) state;
    known_state(&m, &g);
    assert_int_equal(metrics_render(&m, &g, "1.2.3", text, sizeof(text), &full), METRICS_OK);
    memset(small, 'x', sizeof(small));
    assert_int_equal(metrics_render(&m, &g, "1.2.3", small, sizeof(small), &len), METRICS_TOO_LONG);
    assert_true(len < sizeof(small));
    assert_int_equal(small[len], '\0');
    assert_memory_equal(small, text, len);       /* whole lines up to the cut */
    /* exactly the size of the text and its NUL is enough; one less is not */
    assert_int_equal(metrics_render(&m, &g, "1.2.3", text, full + 1, &len), METRICS_OK);
    assert_int_equal(len, full);
    assert_int_equal(metrics_render(&m, &g, "1.2.3", text, full, &len), METRICS_TOO_LONG);
    assert_int_equal(metrics_render(&m, &g, "1.2.3", text, 0, &len), METRICS_TOO_LONG);
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero),
        cmocka_unit_test(test_known_state_exact),
        cmocka_unit_test(test_counters_grow),
        cmocka_unit_test(test_version_escaped),
        cmocka_unit_test(test_too_small),
    };

    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
