/*
 * test_memo.c - unit tests for policy/memo.c, the per-connection memory of
 * verdicts: hit and miss on the whole key, what a hit copies back, expiry
 * at the exact millisecond, replacement of the same key, the bound of
 * MEMO_ENTRIES (an expired slot first, else the oldest), growth by
 * doubling as memo_bytes() reports it, starting over after memo_free(),
 * and the scope: another SMTP session or certificate empties the memo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "policy/memo.h"

#define KEY_LEN 32                      /* the keys of these tests */
#define FAR_FUTURE_MS (1000LL * 1000 * 1000)   /* added to now: never expires in a test */

/* key_n - a distinct key for n; bytes differ from key_n(m) in the first and last octet. */
static void key_n(unsigned n, unsigned char key[KEY_LEN])
{
    memset(key, 0x5a, KEY_LEN);
    key[0] = (unsigned char) (n & 0xff);
    key[KEY_LEN - 1] = (unsigned char) ((n >> 8) & 0xff);
}

/* result_of - a results_item with the given fields (name/reason copied). */
static results_item result_of(verdict_result res, const char *name, const char *reason)
{
    results_item r;

    memset(&r, 0, sizeof(r));
    r.present = true;
    r.result = res;
    snprintf(r.name, sizeof(r.name), "%s", name);
    snprintf(r.reason, sizeof(r.reason), "%s", reason);
    return r;
}

/* store_n - store key_n(n) with a name "hN.example.net"-like text of fixed length. */
static void store_n(memo **m, unsigned n, long long expires)
{
    unsigned char key[KEY_LEN];
    char name[64];
    results_item r;

    key_n(n, key);
    snprintf(name, sizeof(name), "h%04u.example.net", n);       /* always 17 octets */
    r = result_of(VERDICT_PASS, name, "matched");
    memo_store(m, key, KEY_LEN, &r, expires);
}

/* hit_n - true when key_n(n) is remembered at now, and then with its own name. */
static bool hit_n(const memo *m, unsigned n, long long now)
{
    unsigned char key[KEY_LEN];
    char name[64];
    results_item r;

    key_n(n, key);
    memset(&r, 0, sizeof(r));
    if (!memo_lookup(m, key, KEY_LEN, now, &r))
        return false;
    snprintf(name, sizeof(name), "h%04u.example.net", n);
    assert_string_equal(r.name, name);
    assert_int_equal(r.result, VERDICT_PASS);
    return true;
}

/* TEXT_N - what store_n() keeps per slot: the key, then "hNNNN.example.net\0matched\0". */
#define TEXT_N (KEY_LEN + 17 + 1 + 7 + 1)

static void test_null_memo(void **state)
{
    unsigned char key[KEY_LEN];
    results_item r = result_of(VERDICT_FAIL, "untouched.example", "sentinel");

    (void) state;
    key_n(1, key);
    assert_false(memo_lookup(NULL, key, KEY_LEN, clock_now_ms(), &r));
    /* a miss leaves the caller's result alone */
    assert_int_equal(r.result, VERDICT_FAIL);
    assert_string_equal(r.name, "untouched.example");
    assert_string_equal(r.reason, "sentinel");
    assert_int_equal(memo_bytes(NULL), 0);
    memo_free(NULL);
}

static void test_store_then_hit(void **state)
{
    memo *m = NULL;
    unsigned char key[KEY_LEN];
    results_item in = result_of(VERDICT_FAIL, "mta1.example.net", "no usable record matched");
    results_item out;
    long long now = clock_now_ms();

    (void) state;
    in.present = false;                 /* memo reports a hit as present regardless */
    key_n(7, key);
    memo_store(&m, key, KEY_LEN, &in, now + 60000);
    assert_non_null(m);
    memset(&out, 0, sizeof(out));       /* present false: the hit must set it */
    assert_true(memo_lookup(m, key, KEY_LEN, now, &out));
    assert_true(out.present);
    assert_int_equal(out.result, VERDICT_FAIL);
    assert_string_equal(out.name, "mta1.example.net");
    assert_string_equal(out.reason, "no usable record matched");
    memo_free(m);
}

/* The stale flag comes back as stored, both ways, whatever the caller's struct held. */
static void test_stale_flag_kept(void **state)
{
    memo *m = NULL;
    unsigned char k1[KEY_LEN], k2[KEY_LEN];
    results_item stale = result_of(VERDICT_PASS, "mta1.example.net",
                                   "matched TLSA 3 1 1 (stale answer, expired 3 s ago)");
    results_item fresh = result_of(VERDICT_PASS, "mta2.example.net", "matched TLSA 3 1 1");
    results_item out;
    long long now = clock_now_ms();

    (void) state;
    stale.stale = true;
    fresh.stale = false;
    key_n(1, k1);
    key_n(2, k2);
    memo_store(&m, k1, KEY_LEN, &stale, now + 60000);
    memo_store(&m, k2, KEY_LEN, &fresh, now + 60000);
    memset(&out, 0, sizeof(out));
    assert_true(memo_lookup(m, k1, KEY_LEN, now, &out));
    assert_true(out.stale);
    assert_string_equal(out.reason, "matched TLSA 3 1 1 (stale answer, expired 3 s ago)");
    memset(&out, 0xff, sizeof(out));    /* garbage in the caller's struct must not survive */
    assert_true(memo_lookup(m, k2, KEY_LEN, now, &out));
    assert_false(out.stale);
    assert_int_equal(out.result, VERDICT_PASS);
    memo_free(m);
}

/* Every octet of the key counts: keys differing in one octet anywhere miss. */
static void test_whole_key_compared(void **state)
{
    memo *m = NULL;
    unsigned char key[KEY_LEN], other[KEY_LEN];
    results_item r = result_of(VERDICT_PASS, "a.example", "ok");
    long long now = clock_now_ms();

    (void) state;
    for (size_t i = 0; i < KEY_LEN; i++)
        key[i] = (unsigned char) (i * 7 + 1);
    memo_store(&m, key, KEY_LEN, &r, now + FAR_FUTURE_MS);
    for (size_t i = 0; i < KEY_LEN; i++) {
        memcpy(other, key, KEY_LEN);
        other[i] ^= 0x01;
        assert_false(memo_lookup(m, other, KEY_LEN, now, &r));
    }
    assert_true(memo_lookup(m, key, KEY_LEN, now, &r));
    memo_free(m);
}

/* A verdict is fresh strictly before its expiry. */
static void test_expiry_boundary(void **state)
{
    memo *m = NULL;
    unsigned char key[KEY_LEN];
    results_item r = result_of(VERDICT_TEMPERROR, "b.example", "timeout");
    long long now = clock_now_ms(), expires = now + 10000;
    size_t bytes;

    (void) state;
    key_n(3, key);
    memo_store(&m, key, KEY_LEN, &r, expires);
    bytes = memo_bytes(m);
    assert_true(memo_lookup(m, key, KEY_LEN, now, &r));
    assert_true(memo_lookup(m, key, KEY_LEN, expires - 1, &r));
    assert_false(memo_lookup(m, key, KEY_LEN, expires, &r));
    assert_false(memo_lookup(m, key, KEY_LEN, expires + 1, &r));
    /* storing the same key again renews it in its slot */
    memo_store(&m, key, KEY_LEN, &r, expires + 5000);
    assert_true(memo_lookup(m, key, KEY_LEN, expires + 4999, &r));
    assert_false(memo_lookup(m, key, KEY_LEN, expires + 5000, &r));
    assert_int_equal(memo_bytes(m), bytes);
    memo_free(m);
}

/* An entry stored already expired is never returned. */
static void test_stored_expired(void **state)
{
    memo *m = NULL;
    unsigned char key[KEY_LEN];
    results_item r = result_of(VERDICT_PASS, "c.example", "x");
    long long now = clock_now_ms();

    (void) state;
    key_n(4, key);
    memo_store(&m, key, KEY_LEN, &r, now - 1);
    assert_false(memo_lookup(m, key, KEY_LEN, now, &r));
    memo_free(m);
}

/* The same key is replaced in place: new result and text, bytes follow the text length. */
static void test_replace_same_key(void **state)
{
    memo *m = NULL;
    unsigned char key[KEY_LEN];
    results_item a = result_of(VERDICT_TEMPERROR, "mta.example.net", "SERVFAIL");
    results_item b = result_of(VERDICT_PASS, "mta.example.net", "matched 3 1 1 _smtp-client.mta.example.net");
    results_item out;
    long long now = clock_now_ms();
    size_t before;

    (void) state;
    key_n(9, key);
    memo_store(&m, key, KEY_LEN, &a, now + FAR_FUTURE_MS);
    before = memo_bytes(m);
    memo_store(&m, key, KEY_LEN, &b, now + FAR_FUTURE_MS);
    assert_int_equal(memo_bytes(m), before - strlen(a.reason) + strlen(b.reason));
    assert_true(memo_lookup(m, key, KEY_LEN, now, &out));
    assert_int_equal(out.result, VERDICT_PASS);
    assert_string_equal(out.reason, "matched 3 1 1 _smtp-client.mta.example.net");
    memo_free(m);
}

/*
 * The table grows 1, 2, 4, 8 slots and no further: memo_bytes() grows by
 * the slots added plus the text, and stays put once MEMO_ENTRIES are used.
 */
static void test_growth_and_bound(void **state)
{
    memo *m = NULL;
    long long now = clock_now_ms();
    size_t b[MEMO_ENTRIES + 1], slot, head;

    (void) state;
    assert_int_equal(MEMO_ENTRIES, 8);
    b[0] = 0;
    for (unsigned i = 1; i <= MEMO_ENTRIES; i++) {
        store_n(&m, i, now + FAR_FUTURE_MS);
        b[i] = memo_bytes(m);
    }
    slot = b[2] - b[1] - TEXT_N;                 /* cap 1 -> 2: one slot added */
    head = b[1] - slot - TEXT_N;
    assert_true(slot > 0);
    assert_true(head > 0 && head <= 2 * slot);
    assert_int_equal(b[3] - b[2], 2 * slot + TEXT_N);     /* 2 -> 4 */
    assert_int_equal(b[4] - b[3], TEXT_N);
    assert_int_equal(b[5] - b[4], 4 * slot + TEXT_N);     /* 4 -> 8 */
    assert_int_equal(b[6] - b[5], TEXT_N);
    assert_int_equal(b[7] - b[6], TEXT_N);
    assert_int_equal(b[8] - b[7], TEXT_N);
    assert_int_equal(b[8], head + 8 * slot + 8 * TEXT_N);
    for (unsigned i = 9; i <= 200; i++) {
        store_n(&m, i, now + FAR_FUTURE_MS);
        assert_int_equal(memo_bytes(m), b[8]);
    }
    memo_free(m);
}

/* When full, the oldest entry gives way: always exactly the last 8 stored are remembered. */
static void test_oldest_replaced(void **state)
{
    memo *m = NULL;
    long long now = clock_now_ms();

    (void) state;
    for (unsigned i = 1; i <= MEMO_ENTRIES; i++)
        store_n(&m, i, now + FAR_FUTURE_MS);
    for (unsigned i = 1; i <= MEMO_ENTRIES; i++)
        assert_true(hit_n(m, i, now));
    /* these stores normally all fall in the same millisecond */
    for (unsigned n = MEMO_ENTRIES + 1; n <= 4 * MEMO_ENTRIES + 3; n++) {
        store_n(&m, n, now + FAR_FUTURE_MS);
        for (unsigned i = 1; i <= n; i++) {
            bool expect = i + MEMO_ENTRIES > n;

            if (hit_n(m, i, now) != expect)
                fail_msg("after storing 1..%u: entry %u %s, expected %s", n, i,
                         expect ? "missing" : "present", expect ? "present" : "missing");
        }
    }
    memo_free(m);
}

/* A re-stored key counts as new: it is not the next to be replaced. */
static void test_restore_refreshes_age(void **state)
{
    memo *m = NULL;
    long long now = clock_now_ms();

    (void) state;
    for (unsigned i = 1; i <= MEMO_ENTRIES; i++)
        store_n(&m, i, now + FAR_FUTURE_MS);
    store_n(&m, 1, now + FAR_FUTURE_MS);        /* 1 is now the newest */
    store_n(&m, 100, now + FAR_FUTURE_MS);      /* replaces 2, the oldest */
    assert_true(hit_n(m, 1, now));
    assert_false(hit_n(m, 2, now));
    for (unsigned i = 3; i <= MEMO_ENTRIES; i++)
        assert_true(hit_n(m, i, now));
    assert_true(hit_n(m, 100, now));
    memo_free(m);
}

/* When full, an expired entry is replaced before the oldest fresh one. */
static void test_expired_slot_first(void **state)
{
    memo *m = NULL;
    long long now = clock_now_ms();
    size_t full;

    (void) state;
    for (unsigned i = 1; i <= MEMO_ENTRIES; i++)
        store_n(&m, i, now + FAR_FUTURE_MS);
    store_n(&m, 5, now - 1);                    /* same key, same slot, now expired */
    full = memo_bytes(m);
    store_n(&m, 9, now + FAR_FUTURE_MS);
    assert_int_equal(memo_bytes(m), full);
    assert_true(hit_n(m, 1, now));              /* the oldest stays */
    assert_false(hit_n(m, 5, now));
    assert_true(hit_n(m, 9, now));
    for (unsigned i = 2; i <= MEMO_ENTRIES; i++)
        if (i != 5)
            assert_true(hit_n(m, i, now));
    memo_free(m);
}

/* Before the table is full, an expired slot is reused rather than growing the table. */
static void test_expired_slot_before_growth(void **state)
{
    memo *m = NULL;
    long long now = clock_now_ms();
    size_t one;

    (void) state;
    store_n(&m, 1, now - 1);
    one = memo_bytes(m);
    store_n(&m, 2, now + FAR_FUTURE_MS);
    assert_int_equal(memo_bytes(m), one);
    assert_false(hit_n(m, 1, now));
    assert_true(hit_n(m, 2, now));
    memo_free(m);
}

/* memo_free() and a NULL memo is the reset the session does on reload: all forgotten, fresh start. */
static void test_reset(void **state)
{
    memo *m = NULL;
    long long now = clock_now_ms();
    size_t first;

    (void) state;
    store_n(&m, 1, now + FAR_FUTURE_MS);
    first = memo_bytes(m);
    for (unsigned i = 2; i <= 5; i++)
        store_n(&m, i, now + FAR_FUTURE_MS);
    memo_free(m);
    m = NULL;
    for (unsigned i = 1; i <= 5; i++)
        assert_false(hit_n(m, i, now));
    assert_int_equal(memo_bytes(m), 0);
    store_n(&m, 3, now + FAR_FUTURE_MS);
    assert_int_equal(memo_bytes(m), first);
    assert_true(hit_n(m, 3, now));
    assert_false(hit_n(m, 1, now));
    memo_free(m);
}

/* The longest name and reason come back whole; empty ones come back empty. */
static void test_text_extremes(void **state)
{
    memo *m = NULL;
    unsigned char k1[KEY_LEN], k2[KEY_LEN];
    results_item big, empty, out;
    long long now = clock_now_ms();

    (void) state;
    memset(&big, 0, sizeof(big));
    big.present = true;
    big.result = VERDICT_PERMERROR;
    memset(big.name, 'n', sizeof(big.name) - 1);
    memset(big.reason, 'r', sizeof(big.reason) - 1);
    empty = result_of(VERDICT_NONE, "", "");
    key_n(1, k1);
    key_n(2, k2);
    memo_store(&m, k1, KEY_LEN, &big, now + FAR_FUTURE_MS);
    memo_store(&m, k2, KEY_LEN, &empty, now + FAR_FUTURE_MS);
    assert_true(memo_lookup(m, k1, KEY_LEN, now, &out));
    assert_int_equal(strlen(out.name), IDENTITY_NAME_MAX - 1);
    assert_int_equal(strlen(out.reason), VERDICT_REASON_MAX - 1);
    assert_memory_equal(out.name, big.name, sizeof(big.name));
    assert_memory_equal(out.reason, big.reason, sizeof(big.reason));
    assert_int_equal(out.result, VERDICT_PERMERROR);
    memset(&out, 'x', sizeof(out));
    assert_true(memo_lookup(m, k2, KEY_LEN, now, &out));
    assert_string_equal(out.name, "");
    assert_string_equal(out.reason, "");
    assert_int_equal(out.result, VERDICT_NONE);
    memo_free(m);
}

static void test_now_ms(void **state)
{
    struct timespec pause = { 0, 30 * 1000 * 1000 };
    long long t1, t2;

    (void) state;
    t1 = clock_now_ms();
    assert_true(t1 >= 0);
    assert_int_equal(nanosleep(&pause, NULL), 0);
    t2 = clock_now_ms();
    assert_true(t2 - t1 >= 30);
    assert_true(t2 - t1 < 10000);
}

/* ------------------------------------------------------------- scope */

/*
 * The memo serves one scope (SMTP session and certificate) at a time: the
 * same scope again keeps the entries, another empties them (also when it
 * only differs in length), and going back does not bring them back.
 */
static void test_scope(void **state)
{
    memo *m = NULL;
    long long now = clock_now_ms();
    static const unsigned char sa[] = "192.0.2.1\0" "1025\0" "\1\1abcd";
    static const unsigned char sb[] = "192.0.2.1\0" "1025\0" "\1\1abce";
    size_t one;

    (void) state;
    memo_scope(&m, sa, sizeof(sa));
    assert_non_null(m);
    assert_false(hit_n(m, 1, now));
    store_n(&m, 1, now + FAR_FUTURE_MS);
    store_n(&m, 2, now + FAR_FUTURE_MS);
    memo_scope(&m, sa, sizeof(sa));             /* the same session: kept */
    assert_true(hit_n(m, 1, now));
    assert_true(hit_n(m, 2, now));
    memo_scope(&m, sb, sizeof(sb));             /* other evidence: emptied */
    assert_false(hit_n(m, 1, now));
    assert_false(hit_n(m, 2, now));
    store_n(&m, 3, now + FAR_FUTURE_MS);
    one = memo_bytes(m);
    memo_scope(&m, sb, sizeof(sb) - 1);         /* a prefix is another scope */
    assert_false(hit_n(m, 3, now));
    assert_true(memo_bytes(m) < one);
    memo_scope(&m, sa, sizeof(sa));             /* back again: still empty */
    assert_false(hit_n(m, 1, now));
    assert_false(hit_n(m, 3, now));
    memo_scope(&m, "", 0);                      /* an empty scope is a scope */
    store_n(&m, 4, now + FAR_FUTURE_MS);
    memo_scope(&m, "", 0);
    assert_true(hit_n(m, 4, now));
    memo_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_memo),
        cmocka_unit_test(test_store_then_hit),
        cmocka_unit_test(test_stale_flag_kept),
        cmocka_unit_test(test_whole_key_compared),
        cmocka_unit_test(test_expiry_boundary),
        cmocka_unit_test(test_stored_expired),
        cmocka_unit_test(test_replace_same_key),
        cmocka_unit_test(test_growth_and_bound),
        cmocka_unit_test(test_oldest_replaced),
        cmocka_unit_test(test_restore_refreshes_age),
        cmocka_unit_test(test_expired_slot_first),
        cmocka_unit_test(test_expired_slot_before_growth),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_text_extremes),
        cmocka_unit_test(test_now_ms),
        cmocka_unit_test(test_scope),
    };

    return cmocka_run_group_tests_name("memo", tests, NULL, NULL);
}
