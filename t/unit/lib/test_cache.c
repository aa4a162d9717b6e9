/*
 * test_cache.c - unit tests for cache.c: TTL honoured to the millisecond,
 * ceiling and error lifetimes per status, disabled cache, eviction of the
 * entry expiring first (checked against a reference model), replacement,
 * case-insensitive keys, and copies that are independent of the stored
 * entry (run under ASan).  The clock is fed by the tests.
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

/* make_answer - an answer for owner with status and ttl; SECURE ones get nrec records. */
static void make_answer(resolver_answer *ans, const char *owner,
                        resolver_status status, uint32_t ttl, size_t nrec)
{
    size_t i;

    memset(ans, 0, sizeof(*ans));
    ans->status = status;
    ans->ttl = ttl;
    snprintf(ans->owner, sizeof(ans->owner), "%s", owner);
    if (status == RESOLVER_BOGUS)
        snprintf(ans->why, sizeof(ans->why), "signature expired");
    for (i = 0; i < nrec; i++) {
        ans->rdlen[i] = 35;
        ans->rdata[i] = malloc(ans->rdlen[i]);
        assert_non_null(ans->rdata[i]);
        memset(ans->rdata[i], (int) (0x30 + i), ans->rdlen[i]);
        ans->rdata[i][0] = 3;                       /* 3 1 1 <32 bytes> */
        ans->rdata[i][1] = 1;
        ans->rdata[i][2] = 1;
    }
    ans->count = nrec;
}

/* put_simple - put a record-less answer. */
static void put_simple(cache *c, const char *owner, resolver_status status,
                       uint32_t ttl, long long now_ms)
{
    resolver_answer ans;

    make_answer(&ans, owner, status, ttl, 0);
    cache_put(c, &ans, now_ms);
    resolver_answer_clear(&ans);
}

/* hit - is owner live at now_ms?  *ttl gets the reported TTL on a hit. */
static bool hit(cache *c, const char *owner, long long now_ms, uint32_t *ttl)
{
    resolver_answer ans;
    bool found;

    memset(&ans, 0, sizeof(ans));
    found = cache_get(c, owner, now_ms, &ans);
    if (found) {
        assert_true(ans.from_cache);
        if (ttl)
            *ttl = ans.ttl;
    }
    resolver_answer_clear(&ans);
    return found;
}

/* An entry lives while now < put time + 1000 * lifetime; TTL left rounds down. */
static void test_ttl_boundaries(void **state)
{
    cache *c = cache_new(100, 3600, 10, 0);
    uint32_t ttl = 0;

    (void) state;
    put_simple(c, "_smtp-client.a.example", RESOLVER_SECURE_NODATA, 10, 5000);
    assert_int_equal(cache_size(c), 1);

    assert_true(hit(c, "_smtp-client.a.example", 5000, &ttl));
    assert_int_equal(ttl, 10);
    assert_true(hit(c, "_smtp-client.a.example", 5999, &ttl));
    assert_int_equal(ttl, 9);
    assert_true(hit(c, "_smtp-client.a.example", 6000, &ttl));
    assert_int_equal(ttl, 9);
    assert_true(hit(c, "_smtp-client.a.example", 14999, &ttl));
    assert_int_equal(ttl, 0);
    assert_false(hit(c, "_smtp-client.a.example", 15000, NULL));
    /* the expired entry was dropped on the failed look-up */
    assert_int_equal(cache_size(c), 0);
    assert_false(hit(c, "_smtp-client.a.example", 5000, NULL));
    cache_free(c);
}

/* Lifetime per status: the TTL (under a ceiling) for answers, err_ttl for errors. */
struct lifetime_case {
    resolver_status status;
    uint32_t ttl;               /* TTL in the answer */
    unsigned max_ttl;
    unsigned err_ttl;
    unsigned lifetime;          /* expected seconds, 0: not cached */
};

static const struct lifetime_case lifetime_cases[] = {
    { RESOLVER_SECURE, 300, 3600, 10, 300 },
    { RESOLVER_SECURE, 86400, 3600, 10, 3600 },         /* ceiling */
    { RESOLVER_SECURE, 3600, 3600, 10, 3600 },          /* at the ceiling */
    { RESOLVER_SECURE, 0, 3600, 10, 0 },                /* TTL 0: not kept */
    { RESOLVER_SECURE_NXDOMAIN, 900, 60, 10, 60 },
    { RESOLVER_SECURE_NXDOMAIN, 30, 60, 10, 30 },
    { RESOLVER_SECURE_NODATA, 120, 3600, 10, 120 },
    { RESOLVER_INSECURE, 7200, 600, 10, 600 },
    { RESOLVER_INSECURE, 5, 600, 10, 5 },
    /* errors: err_ttl whatever the answer's TTL says */
    { RESOLVER_BOGUS, 3600, 3600, 10, 10 },
    { RESOLVER_BOGUS, 0, 3600, 15, 15 },
    { RESOLVER_SERVFAIL, 0, 3600, 10, 10 },
    { RESOLVER_TIMEOUT, 0, 3600, 7, 7 },
    { RESOLVER_NETERR, 0, 3600, 10, 10 },
    { RESOLVER_BOGUS, 0, 5, 10, 10 },                   /* err_ttl is not capped by max_ttl */
    /* err_ttl 0: errors are not remembered */
    { RESOLVER_BOGUS, 300, 3600, 0, 0 },
    { RESOLVER_SERVFAIL, 0, 3600, 0, 0 },
    { RESOLVER_TIMEOUT, 0, 3600, 0, 0 },
    /* max_ttl 0 disables the cache, errors included */
    { RESOLVER_SECURE, 300, 0, 10, 0 },
    { RESOLVER_INSECURE, 300, 0, 10, 0 },
    { RESOLVER_BOGUS, 0, 0, 10, 0 },
    { RESOLVER_TIMEOUT, 0, 0, 10, 0 },
};

static void test_lifetime_table(void **state)
{
    const long long t0 = 1000000;
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(lifetime_cases) / sizeof(lifetime_cases[0]); i++) {
        const struct lifetime_case *lc = &lifetime_cases[i];
        cache *c = cache_new(16, lc->max_ttl, lc->err_ttl, 0);
        resolver_answer ans;
        uint32_t ttl = 0;

        print_message("# case %zu: %s ttl %u max %u err %u\n", i,
                      resolver_status_str(lc->status), lc->ttl, lc->max_ttl,
                      lc->err_ttl);
        make_answer(&ans, "_smtp-client.t.example", lc->status, lc->ttl,
                    lc->status == RESOLVER_SECURE ? 1 : 0);
        cache_put(c, &ans, t0);
        resolver_answer_clear(&ans);
        if (lc->lifetime == 0) {
            assert_int_equal(cache_size(c), 0);
            assert_false(hit(c, "_smtp-client.t.example", t0, NULL));
        } else {
            assert_int_equal(cache_size(c), 1);
            assert_true(hit(c, "_smtp-client.t.example", t0, &ttl));
            assert_int_equal(ttl, lc->lifetime);
            assert_true(hit(c, "_smtp-client.t.example",
                            t0 + 1000LL * lc->lifetime - 1, &ttl));
            assert_int_equal(ttl, 0);
            assert_false(hit(c, "_smtp-client.t.example",
                             t0 + 1000LL * lc->lifetime, NULL));
        }
        cache_free(c);
    }
}

/* The stored answer comes back whole: status, why, records, canon. */
static void test_get_returns_answer(void **state)
{
    cache *c = cache_new(10, 3600, 10, 0);
    resolver_answer in, out;
    size_t i;

    (void) state;
    make_answer(&in, "_smtp-client.b.example", RESOLVER_SECURE, 300, 3);
    snprintf(in.canon, sizeof(in.canon), "tlsa.b.example.");
    cache_put(c, &in, 0);

    memset(&out, 0, sizeof(out));
    assert_true(cache_get(c, "_smtp-client.b.example", 2500, &out));
    assert_int_equal(out.status, RESOLVER_SECURE);
    assert_int_equal(out.ttl, 297);
    assert_true(out.from_cache);
    assert_string_equal(out.owner, "_smtp-client.b.example");
    assert_string_equal(out.canon, "tlsa.b.example.");
    assert_int_equal(out.count, 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(out.rdlen[i], in.rdlen[i]);
        assert_memory_equal(out.rdata[i], in.rdata[i], in.rdlen[i]);
    }
    resolver_answer_clear(&out);

    memset(&out, 0, sizeof(out));
    assert_false(cache_get(c, "_smtp-client.other.example", 2500, &out));
    resolver_answer_clear(&out);
    resolver_answer_clear(&in);
    cache_free(c);
}

/* cache_peek: the same answer as cache_get, borrowing the entry's RDATA; misses and expiry as cache_get. */
static void test_peek(void **state)
{
    cache *c = cache_new(10, 3600, 10, 0);
    resolver_answer in, got, view;

    (void) state;
    make_answer(&in, "_smtp-client.p.example", RESOLVER_SECURE, 300, 2);
    cache_put(c, &in, 0);
    assert_true(cache_get(c, "_smtp-client.p.example", 2500, &got));
    assert_true(cache_peek(c, "_SMTP-client.p.example", 2500, &view));
    assert_int_equal(view.status, got.status);
    assert_int_equal(view.ttl, 297);
    assert_true(view.from_cache);
    assert_string_equal(view.owner, "_SMTP-client.p.example");   /* the name asked for */
    assert_int_equal(view.count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(view.rdlen[i], got.rdlen[i]);
        assert_memory_equal(view.rdata[i], got.rdata[i], got.rdlen[i]);
        assert_ptr_not_equal(view.rdata[i], got.rdata[i]);      /* get copies, peek borrows */
    }
    /* a second peek borrows the same bytes: nothing was copied */
    {
        resolver_answer again;

        assert_true(cache_peek(c, "_smtp-client.p.example", 2600, &again));
        assert_ptr_equal(again.rdata[0], view.rdata[0]);
    }
    assert_false(cache_peek(c, "_smtp-client.other.example", 2500, &view));
    assert_false(cache_peek(c, "_smtp-client.p.example", 300000, &view));   /* expired: gone */
    assert_int_equal(cache_size(c), 0);
    resolver_answer_clear(&got);
    resolver_answer_clear(&in);
    cache_free(c);
}

/* Copies: the cache owns its own; what cache_get hands out is the caller's. */
static void test_copies_independent(void **state)
{
    cache *c = cache_new(10, 3600, 10, 0);
    resolver_answer in, a, b;
    unsigned char expect[35];

    (void) state;
    make_answer(&in, "_smtp-client.c.example", RESOLVER_SECURE, 300, 2);
    memcpy(expect, in.rdata[1], sizeof(expect));
    cache_put(c, &in, 0);
    /* the caller's answer may change or go away */
    memset(in.rdata[1], 0xee, in.rdlen[1]);
    in.status = RESOLVER_BOGUS;
    resolver_answer_clear(&in);

    memset(&a, 0, sizeof(a));
    assert_true(cache_get(c, "_smtp-client.c.example", 1000, &a));
    assert_int_equal(a.status, RESOLVER_SECURE);
    assert_memory_equal(a.rdata[1], expect, sizeof(expect));
    /* scribble over and free the copy handed out */
    memset(a.rdata[1], 0x11, a.rdlen[1]);
    a.count = 1;
    a.ttl = 99999;
    memset(&b, 0, sizeof(b));
    assert_true(cache_get(c, "_smtp-client.c.example", 1000, &b));
    assert_ptr_not_equal(a.rdata[0], b.rdata[0]);
    assert_int_equal(b.count, 2);
    assert_int_equal(b.ttl, 299);
    assert_memory_equal(b.rdata[1], expect, sizeof(expect));
    free(a.rdata[1]);                    /* a.count was cut to 1 above */
    a.rdata[1] = NULL;
    resolver_answer_clear(&a);
    resolver_answer_clear(&b);
    cache_free(c);                       /* entries with records freed here */
}

/* Re-putting an owner replaces its entry (no duplicate); TTL 0 drops it. */
static void test_replace(void **state)
{
    cache *c = cache_new(10, 3600, 10, 0);
    resolver_answer ans;
    uint32_t ttl = 0;

    (void) state;
    make_answer(&ans, "_smtp-client.d.example", RESOLVER_SECURE, 300, 1);
    cache_put(c, &ans, 0);
    resolver_answer_clear(&ans);
    put_simple(c, "_smtp-client.d.example", RESOLVER_BOGUS, 300, 1000);
    assert_int_equal(cache_size(c), 1);

    memset(&ans, 0, sizeof(ans));
    assert_true(cache_get(c, "_smtp-client.d.example", 1000, &ans));
    assert_int_equal(ans.status, RESOLVER_BOGUS);
    assert_string_equal(ans.why, "signature expired");
    assert_int_equal(ans.count, 0);
    assert_int_equal(ans.ttl, 10);                  /* error lifetime now */
    resolver_answer_clear(&ans);
    assert_false(hit(c, "_smtp-client.d.example", 11000, NULL));

    /* a longer-lived replacement extends the entry */
    put_simple(c, "_smtp-client.d.example", RESOLVER_INSECURE, 60, 20000);
    put_simple(c, "_smtp-client.d.example", RESOLVER_INSECURE, 600, 21000);
    assert_int_equal(cache_size(c), 1);
    assert_true(hit(c, "_smtp-client.d.example", 21000 + 599999, &ttl));
    assert_int_equal(ttl, 0);

    /* a newer answer that may not be cached removes the older one */
    put_simple(c, "_smtp-client.d.example", RESOLVER_SECURE_NODATA, 0, 30000);
    assert_int_equal(cache_size(c), 0);
    assert_false(hit(c, "_smtp-client.d.example", 30000, NULL));
    cache_free(c);
}

/* Keys fold ASCII case but are otherwise exact; the answer names the asked owner. */
static void test_owner_case(void **state)
{
    cache *c = cache_new(10, 3600, 10, 0);
    resolver_answer ans;
    char longname[256];

    (void) state;
    put_simple(c, "_smtp-client.Mail.Example", RESOLVER_SECURE_NODATA, 300, 0);
    memset(&ans, 0, sizeof(ans));
    assert_true(cache_get(c, "_SMTP-CLIENT.mail.example", 0, &ans));
    assert_string_equal(ans.owner, "_SMTP-CLIENT.mail.example");
    resolver_answer_clear(&ans);
    assert_true(hit(c, "_smtp-client.mail.example", 0, NULL));
    assert_false(hit(c, "_smtp-client.mail.example.", 0, NULL));
    assert_false(hit(c, "smtp-client.mail.example", 0, NULL));
    assert_false(hit(c, "", 0, NULL));

    /* same name in other case replaces, not adds */
    put_simple(c, "_SMTP-client.MAIL.example", RESOLVER_INSECURE, 300, 0);
    assert_int_equal(cache_size(c), 1);

    /* the longest owner a resolver_answer holds (255 chars) is a valid key */
    memset(longname, 'a', 255);
    longname[255] = 0;
    put_simple(c, longname, RESOLVER_SECURE_NODATA, 300, 0);
    assert_int_equal(cache_size(c), 2);
    longname[0] = 'A';
    assert_true(hit(c, longname, 0, NULL));
    cache_free(c);
}

/* A disabled cache (max_ttl 0 or no entries) stores nothing at all. */
static void test_disabled(void **state)
{
    static const resolver_status all[] = {
        RESOLVER_SECURE, RESOLVER_SECURE_NXDOMAIN, RESOLVER_SECURE_NODATA,
        RESOLVER_INSECURE, RESOLVER_BOGUS, RESOLVER_SERVFAIL,
        RESOLVER_TIMEOUT, RESOLVER_NETERR,
    };
    cache *off_ttl = cache_new(100, 0, 10, 0);
    cache *off_size = cache_new(0, 3600, 10, 0);
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        put_simple(off_ttl, "_smtp-client.e.example", all[i], 300, 0);
        put_simple(off_size, "_smtp-client.e.example", all[i], 300, 0);
        assert_false(hit(off_ttl, "_smtp-client.e.example", 0, NULL));
        assert_false(hit(off_size, "_smtp-client.e.example", 0, NULL));
    }
    assert_int_equal(cache_size(off_ttl), 0);
    assert_int_equal(cache_size(off_size), 0);
    cache_free(off_ttl);
    cache_free(off_size);
    cache_free(NULL);
}

/* Full: the entry expiring soonest goes, which is an expired one if any. */
static void test_evict_simple(void **state)
{
    cache *c = cache_new(3, 3600, 10, 0);

    (void) state;
    put_simple(c, "a.example", RESOLVER_SECURE_NODATA, 100, 0);
    put_simple(c, "b.example", RESOLVER_SECURE_NODATA, 20, 0);
    put_simple(c, "c.example", RESOLVER_SECURE_NODATA, 50, 0);
    assert_int_equal(cache_size(c), 3);
    put_simple(c, "d.example", RESOLVER_SECURE_NODATA, 1000, 1000);
    assert_int_equal(cache_size(c), 3);
    assert_false(hit(c, "b.example", 1000, NULL));          /* soonest: evicted */
    assert_true(hit(c, "a.example", 1000, NULL));
    assert_true(hit(c, "c.example", 1000, NULL));
    assert_true(hit(c, "d.example", 1000, NULL));

    /* at 60 s c.example has expired; it goes although d was put later */
    put_simple(c, "e.example", RESOLVER_SECURE_NODATA, 5, 60000);
    assert_int_equal(cache_size(c), 3);
    assert_false(hit(c, "c.example", 60000, NULL));
    assert_true(hit(c, "a.example", 60000, NULL));
    assert_true(hit(c, "d.example", 60000, NULL));
    assert_true(hit(c, "e.example", 60000, NULL));

    /* replacing an owner in a full cache evicts nothing */
    put_simple(c, "e.example", RESOLVER_SECURE_NODATA, 500, 61000);
    assert_int_equal(cache_size(c), 3);
    assert_true(hit(c, "a.example", 61000, NULL));
    assert_true(hit(c, "d.example", 61000, NULL));
    assert_true(hit(c, "e.example", 61000, NULL));
    cache_free(c);
}

/* A reference model of eviction: many puts into a small cache, checked step by step. */
#define MODEL_CAP 8
#define MODEL_OWNERS 40
#define MODEL_STEPS 2000

struct model_entry {
    bool present;
    long long expires;
};

static void test_evict_model(void **state)
{
    struct model_entry model[MODEL_OWNERS];
    cache *c = cache_new(MODEL_CAP, 100, 10, 0);
    uint32_t rng = 12345;
    char owner[64];
    size_t present = 0;
    long long now = 0;
    int step, o, victim;

    (void) state;
    memset(model, 0, sizeof(model));
    for (step = 0; step < MODEL_STEPS; step++) {
        unsigned ttl;

        rng = rng * 1103515245u + 12345u;
        o = (int) ((rng >> 8) % MODEL_OWNERS);
        rng = rng * 1103515245u + 12345u;
        ttl = 1 + (rng >> 8) % 120;             /* some above the ceiling */
        now += 1 + (long long) ((rng >> 20) % 700);
        snprintf(owner, sizeof(owner), "_smtp-client.m%d.example", o);

        /* equal expiry times would make the victim ambiguous: avoid them */
        for (int k = 0; k < MODEL_OWNERS; k++) {
            if (k != o && model[k].present
                && model[k].expires == now + 1000LL * (ttl < 100 ? ttl : 100)) {
                ttl = (ttl % 99) + 1;
                k = -1;                         /* check again from the start */
            }
        }
        /* model: replace, or evict the earliest expiry when full */
        if (!model[o].present && present == MODEL_CAP) {
            victim = -1;
            for (int k = 0; k < MODEL_OWNERS; k++)
                if (model[k].present
                    && (victim < 0 || model[k].expires < model[victim].expires))
                    victim = k;
            model[victim].present = false;
            present--;
        }
        if (!model[o].present)
            present++;
        model[o].present = true;
        model[o].expires = now + 1000LL * (ttl < 100 ? ttl : 100);

        put_simple(c, owner, RESOLVER_SECURE_NODATA, ttl, now);
        assert_int_equal(cache_size(c), present);
    }
    /* every owner: live in the cache exactly when the model says so */
    for (o = 0; o < MODEL_OWNERS; o++) {
        uint32_t ttl = 0;
        bool live = model[o].present && model[o].expires > now;

        snprintf(owner, sizeof(owner), "_smtp-client.m%d.example", o);
        assert_int_equal(hit(c, owner, now, &ttl), live);
        if (live)
            assert_int_equal(ttl, (uint32_t) ((model[o].expires - now) / 1000));
    }
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl_boundaries),
        cmocka_unit_test(test_lifetime_table),
        cmocka_unit_test(test_get_returns_answer),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_copies_independent),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_owner_case),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_evict_simple),
        cmocka_unit_test(test_evict_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
