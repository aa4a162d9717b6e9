/*
 * test_vcache.c - danced/vcache.c, the verdicts already computed: a hit
 * gives back what was put (result, name, brief reason, log parts, expiry);
 * a hit needs the whole key (every octet, and its length: a prefix is
 * another key), the same configuration generation and a live entry (the
 * millisecond of expiry is dead); a second put of a key replaces it; many
 * keys keep the table bounded (at most VCACHE_SLOTS entries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "danced/vcache.h"

#define NOW 1000000LL

/* value_of - a cached value whose log parts are "A|B|C" runs. */
static vcache_value value_of(verdict_result r, const char *name, const char *brief, const char *log)
{
    vcache_value v;

    memset(&v, 0, sizeof(v));
    v.result = r;
    v.name = name;
    v.brief = brief;
    v.log.format = CONFIG_LOG_TEXT;
    v.log.result = verdict_result_word(r);
    v.log.s = log;
    v.log.len = (unsigned short) strlen(log);
    v.log.cut[0] = 2;
    v.log.cut[1] = 4;
    return v;
}

static void test_put_get(void **state)
{
    vcache *c = vcache_new();
    char log[] = "r=pass s=ab n=mta1";
    vcache_value v = value_of(VERDICT_PASS, "mta1.example", "matched 3 1 1", log);
    const vcache_value *hit;

    (void) state;
    assert_non_null(c);
    assert_null(vcache_get(c, "hmta1.example", 13, 1, NOW));
    vcache_put(c, "hmta1.example", 13, 1, NOW, NOW + 5000, &v);
    memset(log, 'x', sizeof(log) - 1);          /* the cache holds its own copy */
    hit = vcache_get(c, "hmta1.example", 13, 1, NOW);
    assert_non_null(hit);
    assert_int_equal(hit->result, VERDICT_PASS);
    assert_string_equal(hit->name, "mta1.example");
    assert_string_equal(hit->brief, "matched 3 1 1");
    assert_int_equal(hit->log.len, strlen("r=pass s=ab n=mta1"));
    assert_memory_equal(hit->log.s, "r=pass s=ab n=mta1", hit->log.len);
    assert_int_equal(hit->log.cut[0], 2);
    assert_int_equal(hit->log.cut[1], 4);
    assert_string_equal(hit->log.result, "pass");
    assert_true(hit->expires_ms == NOW + 5000);
    /* live strictly before its expiry */
    assert_non_null(vcache_get(c, "hmta1.example", 13, 1, NOW + 4999));
    assert_null(vcache_get(c, "hmta1.example", 13, 1, NOW + 5000));
    /* another generation (a reload) never hits */
    assert_null(vcache_get(c, "hmta1.example", 13, 2, NOW));
    vcache_free(c);
}

/* Every octet of the key and its length count; a key with a NUL inside is fine. */
static void test_whole_key(void **state)
{
    vcache *c = vcache_new();
    unsigned char key[64], other[64];
    vcache_value v = value_of(VERDICT_FAIL, "a.example", "no match", "xx yy zz");

    (void) state;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char) (i * 7);      /* key[0] is 0 */
    vcache_put(c, key, sizeof(key), 1, NOW, NOW + 1000, &v);
    assert_non_null(vcache_get(c, key, sizeof(key), 1, NOW));
    for (size_t i = 0; i < sizeof(key); i++) {
        memcpy(other, key, sizeof(key));
        other[i] ^= 0x80;
        assert_null(vcache_get(c, other, sizeof(other), 1, NOW));
    }
    assert_null(vcache_get(c, key, sizeof(key) - 1, 1, NOW));
    assert_null(vcache_get(c, key, 0, 1, NOW));
    /* too long to be a key: never kept, never found */
    {
        static unsigned char big[VCACHE_KEY_MAX + 1];

        vcache_put(c, big, sizeof(big), 1, NOW, NOW + 1000, &v);
        assert_null(vcache_get(c, big, sizeof(big), 1, NOW));
    }
    vcache_free(c);
}

/* A second put replaces: the newer value is found, the bytes follow it. */
static void test_replace(void **state)
{
    vcache *c = vcache_new();
    vcache_value a = value_of(VERDICT_TEMPERROR, "b.example", "a long reason for the first one", "1234");
    vcache_value b = value_of(VERDICT_PASS, "b.example", "ok", "1234");
    size_t one;

    (void) state;
    vcache_put(c, "k", 1, 1, NOW, NOW + 1000, &a);
    one = vcache_bytes(c);
    vcache_put(c, "k", 1, 1, NOW, NOW + 2000, &b);
    assert_int_equal(vcache_get(c, "k", 1, 1, NOW)->result, VERDICT_PASS);
    assert_string_equal(vcache_get(c, "k", 1, 1, NOW)->brief, "ok");
    assert_int_equal(vcache_bytes(c), one - strlen(a.brief) + strlen(b.brief));
    vcache_free(c);
}

/* Ten times VCACHE_SLOTS keys: at most VCACHE_SLOTS entries are held; the latest key is there. */
static void test_bounded(void **state)
{
    vcache *c = vcache_new();
    vcache_value v = value_of(VERDICT_PASS, "c.example", "matched", "ab cd ef");
    char key[32];
    size_t empty = vcache_bytes(c), one = 0;

    (void) state;
    for (unsigned i = 0; i < 10 * VCACHE_SLOTS; i++) {
        int n = snprintf(key, sizeof(key), "h%08u.example", i);   /* every entry the same size */

        vcache_put(c, key, (size_t) n, 1, NOW, NOW + 1000, &v);
        if (i == 0)
            one = vcache_bytes(c) - empty;
        assert_non_null(vcache_get(c, key, (size_t) n, 1, NOW));
        assert_true(vcache_bytes(c) <= empty + VCACHE_SLOTS * one);
    }
    assert_true(one > 0);
    assert_true(vcache_bytes(c) >= empty + VCACHE_SLOTS / 2 * one);     /* most slots in use */
    vcache_free(c);
    vcache_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_whole_key),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
