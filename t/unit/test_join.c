/*
 * test_join.c - unit tests for milter/join.c, the store that carries the
 * policy face's DATA verdicts to the milter.
 *
 * Covered: keys (queue id syntax, IPv4 and IPv6 canonical forms, IPv4-mapped
 * IPv6, brackets and "IPv6:", ports; every bad input refused); begin / put /
 * take; take removes; a missing record; abandon; tickets (a replaced
 * request can neither fill nor abandon its successor); expiry and the
 * bound on entries (oldest evicted, counted as unused); discard; waiting in
 * take for a pending record filled by another thread, and giving up at the
 * deadline; a record evicted while waited for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "join.h"

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static join_key key_of(const char *q, const char *addr, const char *port)
{
    join_key k;

    assert_int_equal(join_make_key(q, addr, port, &k), JOIN_KEY_OK);
    return k;
}

/* results - helo pass for name, mailfrom fail, no ptr. */
static void results(decide_result res[DECIDE_KINDS], const char *name)
{
    memset(res, 0, sizeof(decide_result) * DECIDE_KINDS);
    res[DECIDE_HELO].present = true;
    res[DECIDE_HELO].result = VERDICT_PASS;
    snprintf(res[DECIDE_HELO].name, sizeof(res[DECIDE_HELO].name), "%s", name);
    snprintf(res[DECIDE_HELO].reason, sizeof(res[DECIDE_HELO].reason), "matched TLSA 3 1 1");
    res[DECIDE_MAILFROM].present = true;
    res[DECIDE_MAILFROM].result = VERDICT_FAIL;
    snprintf(res[DECIDE_MAILFROM].name, sizeof(res[DECIDE_MAILFROM].name), "example.net");
}

static void test_keys(void **state)
{
    static const struct { const char *q, *a, *p, *want; } good[] = {
        { "4F2B1A7214F", "127.0.0.1", "54924", "4F2B1A7214F 127.0.0.1 54924" },
        { "4dcXyz1r2Vz9t1f", "192.0.2.1", "0", "4dcXyz1r2Vz9t1f 192.0.2.1 0" },
        { "A", "2001:DB8:0:0::1", "65535", "A 2001:db8::1 65535" },
        { "A", "[2001:db8::1]", "25", "A 2001:db8::1 25" },
        { "A", "IPv6:2001:db8::1", "25", "A 2001:db8::1 25" },
        { "A", "::ffff:192.0.2.7", "25", "A 192.0.2.7 25" },
        { "A", "::1", "1", "A ::1 1" },
    };
    static const struct { const char *q, *a, *p; join_key_status want; } bad[] = {
        { "", "127.0.0.1", "1", JOIN_KEY_BAD_QUEUE_ID },
        { NULL, "127.0.0.1", "1", JOIN_KEY_BAD_QUEUE_ID },
        { "4F2B 1A", "127.0.0.1", "1", JOIN_KEY_BAD_QUEUE_ID },
        { "4F2B-1A", "127.0.0.1", "1", JOIN_KEY_BAD_QUEUE_ID },
        { "4F2B\n1A", "127.0.0.1", "1", JOIN_KEY_BAD_QUEUE_ID },
        { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "127.0.0.1", "1",
          JOIN_KEY_BAD_QUEUE_ID },                      /* 65 characters */
        { "A", "", "1", JOIN_KEY_BAD_ADDRESS },
        { "A", NULL, "1", JOIN_KEY_BAD_ADDRESS },
        { "A", "unknown", "1", JOIN_KEY_BAD_ADDRESS },
        { "A", "127.0.0.1 ", "1", JOIN_KEY_BAD_ADDRESS },
        { "A", "[127.0.0.1", "1", JOIN_KEY_BAD_ADDRESS },
        { "A", "256.0.0.1", "1", JOIN_KEY_BAD_ADDRESS },
        { "A", "127.0.0.1", "", JOIN_KEY_BAD_PORT },
        { "A", "127.0.0.1", NULL, JOIN_KEY_BAD_PORT },
        { "A", "127.0.0.1", "65536", JOIN_KEY_BAD_PORT },
        { "A", "127.0.0.1", "123456", JOIN_KEY_BAD_PORT },
        { "A", "127.0.0.1", "-1", JOIN_KEY_BAD_PORT },
        { "A", "127.0.0.1", "25x", JOIN_KEY_BAD_PORT },
    };
    join_key k;

    (void) state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(join_make_key(good[i].q, good[i].a, good[i].p, &k), JOIN_KEY_OK);
        assert_string_equal(k.s, good[i].want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (join_make_key(bad[i].q, bad[i].a, bad[i].p, &k) != bad[i].want)
            fail_msg("bad case %zu not refused as %s", i, join_key_status_str(bad[i].want));
        assert_string_equal(k.s, "");
    }
    /* 64 characters is the longest queue id */
    assert_int_equal(join_make_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                   "127.0.0.1", "1", &k), JOIN_KEY_OK);
}

static void test_put_take(void **state)
{
    join *j = join_new(16, 60000);
    join_key k = key_of("Q1", "127.0.0.1", "1000"), other = key_of("Q1", "127.0.0.1", "1001");
    decide_result in[DECIDE_KINDS], out[DECIDE_KINDS];
    long long now = now_ms();
    uint64_t t;
    join_stats st;

    (void) state;
    results(in, "mta1.ok.test");
    assert_int_equal(join_take(j, &k, now, now, out), JOIN_MISSING);
    t = join_begin(j, &k, now);
    join_stats_take(j, now + 250, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.oldest_age_ms, 250);
    assert_true(join_put(j, &k, t, in));
    /* another client port is another message */
    assert_int_equal(join_take(j, &other, now, now, out), JOIN_MISSING);
    assert_int_equal(join_take(j, &k, now, now, out), JOIN_FOUND);
    assert_memory_equal(in, out, sizeof(in));
    /* taken means gone */
    assert_int_equal(join_take(j, &k, now, now, out), JOIN_MISSING);
    assert_false(join_put(j, &k, t, in));
    join_stats_take(j, now, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.expired_unused, 0);
    assert_int_equal(st.oldest_age_ms, 0);
    join_free(j);
}

static void test_abandon_and_tickets(void **state)
{
    join *j = join_new(16, 60000);
    join_key k = key_of("Q2", "::1", "2000");
    decide_result in[DECIDE_KINDS], out[DECIDE_KINDS];
    long long now = now_ms();
    uint64_t t1, t2;

    (void) state;
    results(in, "a.example");
    t1 = join_begin(j, &k, now);
    join_abandon(j, &k, t1);
    assert_false(join_put(j, &k, t1, in));             /* settled already */
    assert_int_equal(join_take(j, &k, now, now + 1000, out), JOIN_ABANDONED);
    assert_int_equal(join_take(j, &k, now, now, out), JOIN_MISSING);

    /* a newer request for the same message replaces the record; the old ticket is void */
    t1 = join_begin(j, &k, now);
    t2 = join_begin(j, &k, now);
    assert_true(t2 != t1);
    join_abandon(j, &k, t1);
    assert_false(join_put(j, &k, t1, in));
    results(in, "b.example");
    assert_true(join_put(j, &k, t2, in));
    assert_int_equal(join_take(j, &k, now, now, out), JOIN_FOUND);
    assert_string_equal(out[DECIDE_HELO].name, "b.example");
    join_free(j);
}

static void test_expiry_and_bound(void **state)
{
    join *j = join_new(3, 1000);
    join_key k[5];
    decide_result in[DECIDE_KINDS], out[DECIDE_KINDS];
    uint64_t t[5];
    join_stats st;
    char q[8];

    (void) state;
    results(in, "a.example");
    for (int i = 0; i < 5; i++) {
        snprintf(q, sizeof(q), "Q%d", i);
        k[i] = key_of(q, "127.0.0.1", "25");
    }
    /* expiry: a record older than ttl is gone, and counted as never collected */
    t[0] = join_begin(j, &k[0], 1000);
    assert_true(join_put(j, &k[0], t[0], in));
    assert_int_equal(join_take(j, &k[0], 2000, 2000, out), JOIN_MISSING);
    join_stats_take(j, 2000, &st);
    assert_int_equal(st.expired_unused, 1);
    assert_int_equal(st.entries, 0);
    join_stats_take(j, 2000, &st);
    assert_int_equal(st.expired_unused, 0);           /* the counter restarts */

    /* the bound: a fourth record evicts the oldest */
    for (int i = 1; i <= 4; i++) {
        t[i] = join_begin(j, &k[i], 5000 + i);
        assert_true(join_put(j, &k[i], t[i], in));
    }
    join_stats_take(j, 5010, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.expired_unused, 1);
    assert_int_equal(st.oldest_age_ms, 5010 - 5002); /* Q2 is the oldest left */
    assert_int_equal(join_take(j, &k[1], 5005, 5005, out), JOIN_MISSING);
    assert_int_equal(join_take(j, &k[2], 5005, 5005, out), JOIN_FOUND);
    /* discard */
    join_discard(j, &k[3]);
    assert_int_equal(join_take(j, &k[3], 5005, 5005, out), JOIN_MISSING);
    join_discard(j, &k[3]);                           /* twice is fine */
    assert_int_equal(join_take(j, &k[4], 5005, 5005, out), JOIN_FOUND);
    join_free(j);
}

/* A policy thread fills the record 200 ms after the milter began to wait. */
struct filler {
    join *j;
    join_key k;
    uint64_t t;
    bool abandon;
};

static void *fill_later(void *arg)
{
    struct filler *f = arg;
    decide_result in[DECIDE_KINDS];

    usleep(200 * 1000);
    results(in, "late.example");
    if (f->abandon)
        join_abandon(f->j, &f->k, f->t);
    else
        assert_true(join_put(f->j, &f->k, f->t, in));
    return NULL;
}

static void test_wait(void **state)
{
    join *j = join_new(16, 60000);
    struct filler f = { j, key_of("W1", "127.0.0.1", "3000"), 0, false };
    decide_result out[DECIDE_KINDS];
    pthread_t th;
    long long t0;

    (void) state;
    /* filled while waiting: found, after about 200 ms */
    f.t = join_begin(j, &f.k, now_ms());
    assert_int_equal(pthread_create(&th, NULL, fill_later, &f), 0);
    t0 = now_ms();
    assert_int_equal(join_take(j, &f.k, t0, t0 + 5000, out), JOIN_FOUND);
    assert_true(now_ms() - t0 >= 150);
    assert_true(now_ms() - t0 < 4000);
    assert_string_equal(out[DECIDE_HELO].name, "late.example");
    pthread_join(th, NULL);

    /* abandoned while waiting */
    f.abandon = true;
    f.t = join_begin(j, &f.k, now_ms());
    assert_int_equal(pthread_create(&th, NULL, fill_later, &f), 0);
    t0 = now_ms();
    assert_int_equal(join_take(j, &f.k, t0, t0 + 5000, out), JOIN_ABANDONED);
    pthread_join(th, NULL);

    /* nobody fills it: not ready at the deadline, and the record is dropped */
    f.t = join_begin(j, &f.k, now_ms());
    t0 = now_ms();
    assert_int_equal(join_take(j, &f.k, t0, t0 + 300, out), JOIN_NOT_READY);
    assert_true(now_ms() - t0 >= 290);
    assert_int_equal(join_take(j, &f.k, t0, t0, out), JOIN_MISSING);
    join_free(j);
}

/* A record evicted while the milter waits for it: abandoned, not "missing". */
struct evictor {
    join *j;
};

static void *evict_later(void *arg)
{
    struct evictor *e = arg;
    join_key k = key_of("E2", "127.0.0.1", "1");

    usleep(200 * 1000);
    (void) join_begin(e->j, &k, now_ms());            /* max_entries 1: evicts E1 */
    return NULL;
}

static void test_evicted_while_waiting(void **state)
{
    join *j = join_new(1, 60000);
    join_key k = key_of("E1", "127.0.0.1", "1");
    struct evictor e = { j };
    decide_result out[DECIDE_KINDS];
    pthread_t th;
    long long t0;

    (void) state;
    (void) join_begin(j, &k, now_ms());
    assert_int_equal(pthread_create(&th, NULL, evict_later, &e), 0);
    t0 = now_ms();
    assert_int_equal(join_take(j, &k, t0, t0 + 5000, out), JOIN_ABANDONED);
    assert_true(now_ms() - t0 < 4000);
    pthread_join(th, NULL);
    join_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_put_take),
        cmocka_unit_test(test_abandon_and_tickets),
        cmocka_unit_test(test_expiry_and_bound),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_evicted_while_waiting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
