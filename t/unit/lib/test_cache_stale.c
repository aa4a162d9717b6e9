/*
 * test_cache_stale.c - unit tests for the stale window of cache.c: an
 * expired secure RRset stays available to cache_stale() (never to
 * cache_get()) until expiry + stale_max, error answers do not replace it,
 * NXDOMAIN/NODATA, insecure and bogus answers end its stale life, a secure
 * RRset with TTL 0 is kept for its stale life only, stale
 * entries count against the bound and are evicted first, and a window of
 * 0 keeps nothing past expiry.  The clock is fed by the tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cache.h"

/* put - put an answer for owner; SECURE ones get one 3 1 1 record whose digest is all `fill`. */
static void put(cache *c, const char *owner, resolver_status status, uint32_t ttl, int fill, long long now_ms)
{
    resolver_answer ans;

    memset(&ans, 0, sizeof(ans));
    ans.status = status;
    ans.ttl = ttl;
    snprintf(ans.owner, sizeof(ans.owner), "%s", owner);
    if (status == RESOLVER_SECURE) {
        ans.rdlen[0] = 35;
        ans.rdata[0] = malloc(35);
        assert_non_null(ans.rdata[0]);
        memset(ans.rdata[0], fill, 35);
        ans.rdata[0][0] = 3;
        ans.rdata[0][1] = 1;
        ans.rdata[0][2] = 1;
        ans.count = 1;
    }
    cache_put(c, &ans, now_ms);
    resolver_answer_clear(&ans);
}

/* stale_ago - seconds since expiry when owner has a stale entry at now_ms, else -1; checks the view. */
static long stale_ago(cache *c, const char *owner, long long now_ms, int fill)
{
    resolver_answer view;
    unsigned ago = 12345;

    memset(&view, 0, sizeof(view));
    if (!cache_stale(c, owner, now_ms, &view, &ago))
        return -1;
    assert_int_equal(view.status, RESOLVER_SECURE);
    assert_true(view.from_cache);
    assert_int_equal(view.ttl, 0);
    assert_int_equal(view.count, 1);
    assert_int_equal(view.rdata[0][3], fill);
    return (long) ago;
}

/* live - does cache_get() serve owner at now_ms? */
static bool live(cache *c, const char *owner, long long now_ms)
{
    resolver_answer ans;
    bool found;

    memset(&ans, 0, sizeof(ans));
    found = cache_get(c, owner, now_ms, &ans);
    resolver_answer_clear(&ans);
    return found;
}

/* An expired secure RRset is stale (not live) until expiry + window, then gone. */
static void test_window_boundaries(void **state)
{
    cache *c = cache_new(10, 3600, 10, 60);

    (void) state;
    put(c, "_smtp-client.a.example", RESOLVER_SECURE, 5, 0x41, 1000);
    assert_true(live(c, "_smtp-client.a.example", 5999));
    assert_int_equal(stale_ago(c, "_smtp-client.a.example", 5999, 0x41), -1); /* live is not stale */
    assert_false(live(c, "_smtp-client.a.example", 6000));
    assert_int_equal(stale_ago(c, "_smtp-client.a.example", 6000, 0x41), 0);
    assert_int_equal(stale_ago(c, "_SMTP-client.A.example", 7999, 0x41), 1);    /* rounded down */
    assert_int_equal(stale_ago(c, "_smtp-client.a.example", 65999, 0x41), 59);
    assert_int_equal(cache_size(c), 1);
    assert_int_equal(stale_ago(c, "_smtp-client.a.example", 66000, 0x41), -1); /* window over */
    assert_int_equal(cache_size(c), 0);                                         /* and dropped */
    cache_free(c);
}

/* Window 0: nothing past expiry, exactly as without the feature. */
static void test_window_zero(void **state)
{
    cache *c = cache_new(10, 3600, 10, 0);

    (void) state;
    put(c, "o.example", RESOLVER_SECURE, 5, 0x41, 0);
    assert_int_equal(stale_ago(c, "o.example", 5000, 0x41), -1);
    assert_int_equal(cache_size(c), 0);
    /* and an error replaces a live secure answer, as before */
    put(c, "o.example", RESOLVER_SECURE, 5, 0x41, 0);
    put(c, "o.example", RESOLVER_TIMEOUT, 0, 0, 1000);
    assert_true(live(c, "o.example", 1000));
    assert_int_equal(stale_ago(c, "o.example", 20000, 0x41), -1);
    cache_free(c);
}

/* SERVFAIL, time-out and network errors neither replace a stale entry nor are cached beside it. */
static void test_errors_keep_stale(void **state)
{
    static const resolver_status errors[] = { RESOLVER_SERVFAIL, RESOLVER_TIMEOUT, RESOLVER_NETERR };
    cache *c = cache_new(10, 3600, 10, 60);
    size_t i;

    (void) state;
    put(c, "o.example", RESOLVER_SECURE, 5, 0x42, 0);
    for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        put(c, "o.example", errors[i], 0, 0, 6000 + 1000 * (long long) i);
        assert_false(live(c, "o.example", 6000 + 1000 * (long long) i)); /* the next look-up asks DNS */
        assert_int_equal(stale_ago(c, "o.example", 6000 + 1000 * (long long) i, 0x42), (long) (1 + i));
    }
    /* a live secure answer is not replaced by an error either */
    put(c, "o.example", RESOLVER_SECURE, 5, 0x43, 10000);
    put(c, "o.example", RESOLVER_SERVFAIL, 0, 0, 11000);
    assert_true(live(c, "o.example", 11000));
    assert_int_equal(stale_ago(c, "o.example", 15000, 0x43), 0);
    cache_free(c);
}

/* Secure NXDOMAIN/NODATA, insecure and bogus answers end the stale life at once. */
static void test_denial_and_bogus_end_stale(void **state)
{
    static const resolver_status enders[] = {
        RESOLVER_SECURE_NXDOMAIN, RESOLVER_SECURE_NODATA, RESOLVER_INSECURE, RESOLVER_BOGUS
    };
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(enders) / sizeof(enders[0]); i++) {
        cache *c = cache_new(10, 3600, 10, 60);

        put(c, "o.example", RESOLVER_SECURE, 5, 0x44, 0);
        assert_int_equal(stale_ago(c, "o.example", 7000, 0x44), 2);
        put(c, "o.example", enders[i], 30, 0, 7000);
        assert_int_equal(stale_ago(c, "o.example", 7000, 0x44), -1);
        assert_int_equal(stale_ago(c, "o.example", 60000, 0x44), -1); /* not later either */
        cache_free(c);
    }
    /* with err_ttl 0 a bogus answer is not stored, and still drops the stale entry */
    {
        cache *c = cache_new(10, 3600, 0, 60);

        put(c, "o.example", RESOLVER_SECURE, 5, 0x44, 0);
        put(c, "o.example", RESOLVER_BOGUS, 0, 0, 6000);
        assert_int_equal(cache_size(c), 0);
        assert_int_equal(stale_ago(c, "o.example", 6000, 0x44), -1);
        cache_free(c);
    }
}

/* A fresh secure RRset replaces a stale one: live again, new records. */
static void test_fresh_replaces_stale(void **state)
{
    cache *c = cache_new(10, 3600, 10, 60);

    (void) state;
    put(c, "o.example", RESOLVER_SECURE, 5, 0x45, 0);
    put(c, "o.example", RESOLVER_SECURE, 5, 0x46, 8000);
    assert_true(live(c, "o.example", 8000));
    assert_int_equal(stale_ago(c, "o.example", 13000, 0x46), 0);
    assert_int_equal(cache_size(c), 1);
    cache_free(c);
}

/* A secure RRset with TTL 0 is the newest word: kept expired, for its stale life only. */
static void test_ttl_zero_secure_is_stale_only(void **state)
{
    cache *c = cache_new(10, 3600, 10, 60);

    (void) state;
    put(c, "o.example", RESOLVER_SECURE, 5, 0x4b, 0);
    put(c, "o.example", RESOLVER_SECURE, 0, 0x4c, 4000); /* e.g. libunbound's own copy expiring */
    assert_false(live(c, "o.example", 4000));
    assert_int_equal(stale_ago(c, "o.example", 4000, 0x4c), 0);
    assert_int_equal(stale_ago(c, "o.example", 10000, 0x4c), 6); /* expired when it came */
    assert_int_equal(stale_ago(c, "o.example", 64000, 0x4c), -1);
    assert_int_equal(cache_size(c), 0);
    /* with no stale window, TTL 0 keeps nothing and drops the older answer, as before */
    {
        cache *z = cache_new(10, 3600, 10, 0);

        put(z, "o.example", RESOLVER_SECURE, 5, 0x4b, 0);
        put(z, "o.example", RESOLVER_SECURE, 0, 0x4c, 1000);
        assert_int_equal(cache_size(z), 0);
        cache_free(z);
    }
    /* a TTL 0 denial still ends the stale life */
    put(c, "d.example", RESOLVER_SECURE, 5, 0x4d, 0);
    put(c, "d.example", RESOLVER_SECURE_NXDOMAIN, 0, 0, 6000);
    assert_int_equal(stale_ago(c, "d.example", 6000, 0x4d), -1);
    cache_free(c);
}

/* Only secure RRsets go stale: expired denials, insecure and error entries do not. */
static void test_only_secure_rrsets(void **state)
{
    cache *c = cache_new(10, 3600, 10, 60);

    (void) state;
    put(c, "nx.example", RESOLVER_SECURE_NXDOMAIN, 5, 0, 0);
    put(c, "in.example", RESOLVER_INSECURE, 5, 0, 0);
    put(c, "sf.example", RESOLVER_SERVFAIL, 0, 0, 0);
    assert_int_equal(stale_ago(c, "nx.example", 20000, 0), -1);
    assert_int_equal(stale_ago(c, "in.example", 20000, 0), -1);
    assert_int_equal(stale_ago(c, "sf.example", 20000, 0), -1);
    assert_int_equal(cache_size(c), 0);
    cache_free(c);
}

/* Stale entries count against the bound and are the first evicted when it is full. */
static void test_stale_count_and_go_first(void **state)
{
    cache *c = cache_new(3, 3600, 10, 600);

    (void) state;
    put(c, "old.example", RESOLVER_SECURE, 5, 0x47, 0);     /* stale from 5 s */
    put(c, "b.example", RESOLVER_SECURE, 100, 0x48, 1000);
    put(c, "c.example", RESOLVER_SECURE, 200, 0x49, 1000);
    assert_int_equal(cache_size(c), 3);
    assert_int_equal(stale_ago(c, "old.example", 10000, 0x47), 5);
    assert_int_equal(cache_size(c), 3);                      /* stale counts */
    put(c, "d.example", RESOLVER_SECURE, 300, 0x4a, 10000);  /* full: the stale one goes */
    assert_int_equal(cache_size(c), 3);
    assert_int_equal(stale_ago(c, "old.example", 10000, 0x47), -1);
    assert_true(live(c, "b.example", 10000));
    assert_true(live(c, "c.example", 10000));
    assert_true(live(c, "d.example", 10000));
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_boundaries),
        cmocka_unit_test(test_window_zero),
        cmocka_unit_test(test_errors_keep_stale),
        cmocka_unit_test(test_denial_and_bogus_end_stale),
        cmocka_unit_test(test_fresh_replaces_stale),
        cmocka_unit_test(test_ttl_zero_secure_is_stale_only),
        cmocka_unit_test(test_only_secure_rrsets),
        cmocka_unit_test(test_stale_count_and_go_first),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
