/*
 * test_join.c - unit tests for milter/join.c, the store that carries the
 * policy face's DATA verdicts to the milter.
 *
 * Covered: keys (queue id syntax, IPv4 and IPv6 canonical forms, IPv4-mapped
 * IPv6, brackets and "IPv6:", ports; every bad input refused); begin / put
 * / take; a taken record is TAKEN for a second take and a conflict for a
 * second write; a second DATA request for a pending, ready or taken key is
 * a conflict for both (the newer word never stands, nor the older); an
 * abandoned record may be written again (Postfix's retry); tickets (only
 * the writer settles, drops or releases its record); drop and release;
 * expiry counted as lost; eviction only of records no writer owns, and
 * JOIN_FULL when every record is owned; waiters called on put, abandon,
 * conflict and loss, cancelled waiters not; two waiters for one message;
 * discard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "danced/join.h"

/* A waiter that counts its calls. */
typedef struct waiter {
    int calls;
} waiter;

static void on_settled(void *arg)
{
    ((waiter *) arg)->calls++;
}

/* begin - join_begin that must succeed; returns the ticket. */
static uint64_t begin(join *j, const join_key *k, long long now)
{
    uint64_t t;

    assert_int_equal(join_begin(j, k, now, &t), JOIN_BEGUN);
    assert_true(t != 0);
    return t;
}

static join_key key_of(const char *q, const char *addr, const char *port)
{
    join_key k;

    assert_int_equal(join_make_key(q, addr, port, &k), JOIN_KEY_OK);
    return k;
}

/* results - helo pass for name, mailfrom fail, no ptr. */
static void results(results_item res[RESULTS_KINDS], const char *name)
{
    memset(res, 0, sizeof(results_item) * RESULTS_KINDS);
    res[RESULTS_HELO].present = true;
    res[RESULTS_HELO].result = VERDICT_PASS;
    snprintf(res[RESULTS_HELO].name, sizeof(res[RESULTS_HELO].name), "%s", name);
    snprintf(res[RESULTS_HELO].reason, sizeof(res[RESULTS_HELO].reason), "matched TLSA 3 1 1");
    res[RESULTS_MAILFROM].present = true;
    res[RESULTS_MAILFROM].result = VERDICT_FAIL;
    snprintf(res[RESULTS_MAILFROM].name, sizeof(res[RESULTS_MAILFROM].name), "example.net");
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
    results_item in[RESULTS_KINDS], out[RESULTS_KINDS];
    long long now = 1000;
    uint64_t t;
    join_stats st;
    waiter w = { 0 };

    (void) state;
    results(in, "mta1.ok.test");
    assert_int_equal(join_take(j, &k, now, out, on_settled, &w), JOIN_MISSING);
    t = begin(j, &k, now);
    join_stats_take(j, now + 250, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.oldest_untaken_ms, 250);
    assert_true(join_put(j, &k, t, in));
    assert_false(join_put(j, &k, t, in));          /* settled once */
    /* another client port is another message */
    assert_int_equal(join_take(j, &other, now, out, on_settled, &w), JOIN_MISSING);
    assert_int_equal(join_take(j, &k, now, out, on_settled, &w), JOIN_FOUND);
    assert_memory_equal(in, out, sizeof(in));
    /* taken once: a second take finds it taken, not missing */
    memset(out, 0, sizeof(out));
    assert_int_equal(join_take(j, &k, now, out, on_settled, &w), JOIN_TAKEN);
    assert_false(out[RESULTS_HELO].present);        /* nothing copied */
    assert_int_equal(w.calls, 0);
    /* the writer's next transaction drops it */
    join_drop(j, &k, t);
    assert_int_equal(join_take(j, &k, now, out, on_settled, &w), JOIN_MISSING);
    join_stats_take(j, now, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.taken, 1);
    assert_int_equal(st.dropped, 0);            /* it was taken before the drop */
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.conflicts, 0);
    assert_int_equal(st.oldest_untaken_ms, 0);
    /* a record dropped untaken (a transaction rejected after the policy answer) */
    t = begin(j, &k, now);
    assert_true(join_put(j, &k, t, in));
    join_drop(j, &k, t);
    assert_int_equal(join_take(j, &k, now, out, on_settled, &w), JOIN_MISSING);
    join_stats_take(j, now, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.taken, 0);
    join_free(j);
}

/* A second DATA request for a key that lives makes it a conflict, whatever it says. */
static void test_conflicts(void **state)
{
    join *j = join_new(16, 60000);
    join_key k = key_of("Q2", "192.0.2.1", "25");
    results_item pass[RESULTS_KINDS], out[RESULTS_KINDS];
    uint64_t t1, t2;
    join_stats st;
    waiter w = { 0 };

    (void) state;
    results(pass, "mta1.ok.test");
    /* ready, then written again: neither word stands */
    t1 = begin(j, &k, 0);
    assert_true(join_put(j, &k, t1, pass));
    assert_int_equal(join_begin(j, &k, 1, &t2), JOIN_CONFLICT_BEGIN);
    assert_true(t2 == 0);
    assert_int_equal(join_take(j, &k, 2, out, on_settled, &w), JOIN_CONFLICT);
    assert_int_equal(join_take(j, &k, 2, out, on_settled, &w), JOIN_CONFLICT);
    /* the writers' drops leave the conflict standing until it expires */
    join_drop(j, &k, t1);
    assert_int_equal(join_take(j, &k, 3, out, on_settled, &w), JOIN_CONFLICT);
    join_stats_take(j, 3, &st);
    assert_int_equal(st.conflicts, 1);
    assert_int_equal(join_take(j, &k, 60000, out, on_settled, &w), JOIN_MISSING);

    /* pending, written again, then the first writer's verdict: too late, and the waiter is told */
    k = key_of("Q3", "192.0.2.1", "25");
    t1 = begin(j, &k, 0);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &w), JOIN_WAIT);
    assert_int_equal(join_begin(j, &k, 1, &t2), JOIN_CONFLICT_BEGIN);
    assert_int_equal(w.calls, 1);
    assert_false(join_put(j, &k, t1, pass));
    assert_int_equal(join_take(j, &k, 2, out, on_settled, &w), JOIN_CONFLICT);

    /* taken, then written again (a stolen record rewritten): a conflict for anyone taking it */
    k = key_of("Q4", "192.0.2.1", "25");
    t1 = begin(j, &k, 0);
    assert_true(join_put(j, &k, t1, pass));
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &w), JOIN_FOUND);
    assert_int_equal(join_begin(j, &k, 1, &t2), JOIN_CONFLICT_BEGIN);
    assert_int_equal(join_take(j, &k, 2, out, on_settled, &w), JOIN_CONFLICT);
    join_free(j);
}

static void test_abandon_and_tickets(void **state)
{
    join *j = join_new(16, 60000);
    join_key k = key_of("Q5", "127.0.0.1", "1"), k2 = key_of("Q6", "127.0.0.1", "1");
    results_item in[RESULTS_KINDS], out[RESULTS_KINDS];
    uint64_t t1, t2;
    waiter w = { 0 };

    (void) state;
    results(in, "a.example");
    t1 = begin(j, &k, 0);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &w), JOIN_WAIT);
    join_abandon(j, &k, t1 + 1);        /* not its ticket: nothing */
    assert_int_equal(w.calls, 0);
    join_abandon(j, &k, t1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &w), JOIN_ABANDONED);
    /* an abandoned record may be written again: Postfix retries on a new connection */
    t2 = begin(j, &k, 1);
    assert_true(t2 > t1);
    assert_false(join_put(j, &k, t1, in));      /* the old ticket settles nothing */
    join_drop(j, &k, t1);                       /* nor drops */
    join_release(j, &k, t1);                    /* nor releases */
    assert_true(join_put(j, &k, t2, in));
    assert_int_equal(join_take(j, &k, 2, out, on_settled, &w), JOIN_FOUND);
    assert_memory_equal(in, out, sizeof(in));

    /* release: pending becomes abandoned, taken goes, ready stays (unowned) */
    t1 = begin(j, &k2, 3);
    join_release(j, &k2, t1);
    assert_int_equal(join_take(j, &k2, 3, out, on_settled, &w), JOIN_ABANDONED);
    join_release(j, &k, t2);
    assert_int_equal(join_take(j, &k, 3, out, on_settled, &w), JOIN_MISSING);
    k2 = key_of("Q7", "127.0.0.1", "1");
    t1 = begin(j, &k2, 3);
    assert_true(join_put(j, &k2, t1, in));
    join_release(j, &k2, t1);
    assert_int_equal(join_take(j, &k2, 4, out, on_settled, &w), JOIN_FOUND);

    /* discard: the milter's abort; a later take finds it taken */
    k2 = key_of("Q8", "127.0.0.1", "1");
    t1 = begin(j, &k2, 5);
    assert_true(join_put(j, &k2, t1, in));
    join_discard(j, &k2);
    assert_int_equal(join_take(j, &k2, 5, out, on_settled, &w), JOIN_TAKEN);
    join_free(j);
}

static void test_expiry_and_bound(void **state)
{
    join *j = join_new(3, 1000);
    join_key k[5];
    results_item in[RESULTS_KINDS], out[RESULTS_KINDS];
    uint64_t t[5];
    join_stats st;
    waiter w = { 0 };
    char q[8];

    (void) state;
    results(in, "a.example");
    for (int i = 0; i < 5; i++) {
        snprintf(q, sizeof(q), "E%d", i);
        k[i] = key_of(q, "127.0.0.1", "1");
    }
    /* a record lives ttl_ms: then it is lost (and its waiter told) */
    t[0] = begin(j, &k[0], 0);
    assert_int_equal(join_take(j, &k[0], 10, out, on_settled, &w), JOIN_WAIT);
    t[1] = begin(j, &k[1], 1000);   /* sweeps k[0] */
    assert_int_equal(w.calls, 1);
    assert_int_equal(join_take(j, &k[0], 1000, out, on_settled, &w), JOIN_MISSING);
    join_stats_take(j, 1000, &st);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.entries, 1);

    /* full of owned records: a new one is refused, nobody's is pushed out */
    t[2] = begin(j, &k[2], 1001);
    t[3] = begin(j, &k[3], 1002);
    assert_int_equal(join_begin(j, &k[4], 1003, &t[4]), JOIN_FULL);
    assert_true(join_put(j, &k[1], t[1], in));
    assert_int_equal(join_take(j, &k[1], 1003, out, on_settled, &w), JOIN_FOUND);
    join_stats_take(j, 1003, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.lost, 0);

    /* a released record is evicted to make room - the oldest released first */
    assert_true(join_put(j, &k[2], t[2], in));
    join_release(j, &k[2], t[2]);                /* ready, unowned */
    t[4] = begin(j, &k[4], 1004);
    assert_int_equal(join_take(j, &k[2], 1004, out, on_settled, &w), JOIN_MISSING);
    join_stats_take(j, 1004, &st);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.entries, 3);
    join_free(j);
}

/* Waiters: called once when the record settles; a cancelled one is not; two for one record conflict. */
static void test_waiters(void **state)
{
    join *j = join_new(8, 60000);
    join_key k = key_of("W1", "127.0.0.1", "2");
    results_item in[RESULTS_KINDS], out[RESULTS_KINDS];
    uint64_t t;
    waiter a = { 0 }, b = { 0 };

    (void) state;
    results(in, "a.example");
    t = begin(j, &k, 0);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &a), JOIN_WAIT);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &a), JOIN_WAIT);  /* the same waiter again */
    assert_true(join_put(j, &k, t, in));
    assert_int_equal(a.calls, 1);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &a), JOIN_FOUND);

    k = key_of("W2", "127.0.0.1", "2");
    t = begin(j, &k, 0);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &a), JOIN_WAIT);
    join_cancel_wait(j, &k, &a);
    assert_true(join_put(j, &k, t, in));
    assert_int_equal(a.calls, 1);

    k = key_of("W3", "127.0.0.1", "2");
    t = begin(j, &k, 0);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &a), JOIN_WAIT);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &b), JOIN_CONFLICT);
    assert_int_equal(a.calls, 2);
    assert_int_equal(join_take(j, &k, 0, out, on_settled, &a), JOIN_CONFLICT);
    assert_false(join_put(j, &k, t, in));
    join_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_put_take),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_abandon_and_tickets),
        cmocka_unit_test(test_expiry_and_bound),
        cmocka_unit_test(test_waiters),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
