/*
 * test_resolver_map.c - unit tests for lib/resolver_map.c (libunbound's
 * outcome to one resolver_status) and lib/answer.c (copy, clear, names).
 *
 * The table is the most security-relevant one of the program: only a
 * SECURE answer may carry records, so each row is checked with a
 * hand-built ub_result that also carries data (libunbound fills in data
 * for bogus and insecure answers too) and the answer must hold none.
 * Covered: libunbound errors and a missing result (NETERR); bogus before
 * everything else, with and without why_bogus, made printable; error
 * rcodes (SERVFAIL, with "rate limited"); insecure data and denials;
 * secure NXDOMAIN and NODATA; secure records copied byte for byte, the
 * TTL kept (a negative one as 0); an RRset over RESOLVER_MAX_RECORDS
 * records or RESOLVER_RRSET_MAX_OCTETS octets refused whole; the
 * canonical name kept only when it differs; answer copies are deep and
 * clear frees them; every status has its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unbound.h>

#include "lib/answer.h"
#include "lib/resolver.h"

#define OWNER "_25._tcp.mta1.partner.example"
#define RECS_MAX (RESOLVER_MAX_RECORDS + 2)

/* A ub_result with its own storage for n records of len octets each. */
typedef struct fake {
    struct ub_result r;
    char *data[RECS_MAX + 1];
    int len[RECS_MAX + 1];
    unsigned char bytes[RECS_MAX][80];
} fake;

/* fake_init - secure, NOERROR, n records of len octets (byte i of record k is k + i). */
static void fake_init(fake *f, size_t n, size_t len)
{
    assert_true(n <= RECS_MAX && len <= sizeof(f->bytes[0]));
    memset(f, 0, sizeof(*f));
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < len; i++)
            f->bytes[k][i] = (unsigned char) (k + i);
        f->data[k] = (char *) f->bytes[k];
        f->len[k] = (int) len;
    }
    f->data[n] = NULL;
    f->r.qname = (char *) OWNER;
    f->r.qtype = 52;
    f->r.qclass = 1;
    f->r.data = f->data;
    f->r.len = f->len;
    f->r.havedata = n > 0;
    f->r.nxdomain = 0;
    f->r.secure = 1;
    f->r.bogus = 0;
    f->r.rcode = 0;
    f->r.ttl = 3600;
}

/* no_records - the answer carries nothing that could be taken for records. */
static void no_records(const resolver_answer *a)
{
    assert_int_equal(a->count, 0);
    assert_int_equal(a->oversize_records, 0);
    for (size_t i = 0; i < RESOLVER_MAX_RECORDS; i++)
        assert_null(a->rdata[i]);
}

static void test_errors(void **state)
{
    resolver_answer a;
    fake f;

    (void) state;
    fake_init(&f, 2, 35);
    resolver_map_result(&a, OWNER, UB_NOMEM, &f.r);
    assert_int_equal(a.status, RESOLVER_NETERR);
    assert_string_equal(a.owner, OWNER);
    assert_non_null(strstr(a.why, "libunbound: "));
    assert_non_null(strstr(a.why, ub_strerror(UB_NOMEM)));
    no_records(&a);
    resolver_answer_clear(&a);

    resolver_map_result(&a, OWNER, 0, NULL);
    assert_int_equal(a.status, RESOLVER_NETERR);
    assert_string_equal(a.why, "libunbound: no result");
    no_records(&a);
    resolver_answer_clear(&a);
}

/* Bogus wins over everything a bogus result may also say: data, secure, an rcode. */
static void test_bogus_first(void **state)
{
    resolver_answer a;
    fake f;

    (void) state;
    fake_init(&f, 3, 35);
    f.r.bogus = 1;
    f.r.secure = 1;
    f.r.why_bogus = (char *) "signature expired";
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_BOGUS);
    assert_string_equal(a.why, "signature expired");
    no_records(&a);
    resolver_answer_clear(&a);

    f.r.rcode = 2;
    f.r.why_bogus = NULL;
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_BOGUS);
    assert_string_equal(a.why, "DNSSEC validation failed");
    no_records(&a);
    resolver_answer_clear(&a);

    /* a zone's text reaches the log only printable */
    f.r.why_bogus = (char *) "bad\r\nsig\x01";
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_BOGUS);
    assert_null(strpbrk(a.why, "\r\n\x01"));
    assert_non_null(strstr(a.why, "bad"));
    resolver_answer_clear(&a);
}

static void test_rcodes(void **state)
{
    static const struct {
        int rcode;
        int ratelimited;
        const char *why;
    } cases[] = {
        { 2, 0, "rcode 2 (SERVFAIL)" },
        { 5, 0, "rcode 5 (REFUSED)" },
        { 1, 0, "rcode 1 (FORMERR)" },
        { 4, 0, "rcode 4 (NOTIMP)" },
        { 9, 0, "rcode 9 (unexpected)" },
        { 2, 1, "rcode 2 (SERVFAIL), rate limited" },
    };
    resolver_answer a;
    fake f;

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_init(&f, 1, 35);
        f.r.rcode = cases[i].rcode;
        f.r.was_ratelimited = cases[i].ratelimited;
        resolver_map_result(&a, OWNER, 0, &f.r);
        assert_int_equal(a.status, RESOLVER_SERVFAIL);
        assert_string_equal(a.why, cases[i].why);
        no_records(&a);
        resolver_answer_clear(&a);
    }
}

/* Not secure: records or a denial, never kept. */
static void test_insecure(void **state)
{
    resolver_answer a;
    fake f;

    (void) state;
    fake_init(&f, 2, 35);
    f.r.secure = 0;
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_INSECURE);
    assert_int_equal(a.ttl, 3600);
    no_records(&a);
    resolver_answer_clear(&a);

    fake_init(&f, 0, 0);
    f.r.secure = 0;
    f.r.nxdomain = 1;
    f.r.rcode = 3;
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_INSECURE);
    no_records(&a);
    resolver_answer_clear(&a);
}

static void test_secure_denials(void **state)
{
    resolver_answer a;
    fake f;

    (void) state;
    fake_init(&f, 0, 0);
    f.r.nxdomain = 1;
    f.r.rcode = 3;
    f.r.ttl = 300;
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_SECURE_NXDOMAIN);
    assert_int_equal(a.ttl, 300);
    no_records(&a);
    resolver_answer_clear(&a);

    fake_init(&f, 0, 0);
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_SECURE_NODATA);
    no_records(&a);
    resolver_answer_clear(&a);

    /* havedata set but an empty list: still no data */
    fake_init(&f, 0, 0);
    f.r.havedata = 1;
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_SECURE_NODATA);
    resolver_answer_clear(&a);
}

static void test_secure_records(void **state)
{
    resolver_answer a;
    fake f;

    (void) state;
    fake_init(&f, 3, 35);
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_SECURE);
    assert_int_equal(a.count, 3);
    assert_int_equal(a.ttl, 3600);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(a.rdlen[k], 35);
        assert_ptr_not_equal(a.rdata[k], f.bytes[k]);     /* a copy */
        assert_memory_equal(a.rdata[k], f.bytes[k], 35);
    }
    assert_null(a.rdata[3]);
    assert_string_equal(a.canon, "");
    resolver_answer_clear(&a);

    f.r.ttl = -5;
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.ttl, 0);
    resolver_answer_clear(&a);

    /* exactly at both limits: kept */
    fake_init(&f, RESOLVER_MAX_RECORDS, RESOLVER_RRSET_MAX_OCTETS / RESOLVER_MAX_RECORDS);
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_SECURE);
    assert_int_equal(a.count, RESOLVER_MAX_RECORDS);
    assert_int_equal(a.oversize_records, 0);
    resolver_answer_clear(&a);
}

/* Over either limit the RRset is refused whole: its size kept, nothing copied. */
static void test_oversize(void **state)
{
    resolver_answer a;
    fake f;

    (void) state;
    fake_init(&f, RESOLVER_MAX_RECORDS + 1, 35);
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_SECURE);
    assert_int_equal(a.count, 0);
    assert_int_equal(a.oversize_records, RESOLVER_MAX_RECORDS + 1);
    assert_int_equal(a.oversize_octets, (RESOLVER_MAX_RECORDS + 1) * 35);
    for (size_t i = 0; i < RESOLVER_MAX_RECORDS; i++)
        assert_null(a.rdata[i]);
    resolver_answer_clear(&a);

    fake_init(&f, RESOLVER_RRSET_MAX_OCTETS / 80 + 1, 80);
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_SECURE);
    assert_int_equal(a.count, 0);
    assert_true(a.oversize_octets > RESOLVER_RRSET_MAX_OCTETS);
    assert_int_equal(a.oversize_records, RESOLVER_RRSET_MAX_OCTETS / 80 + 1);
    resolver_answer_clear(&a);
}

static void test_canonical_name(void **state)
{
    resolver_answer a;
    fake f;

    (void) state;
    fake_init(&f, 1, 35);
    f.r.canonname = (char *) "_25._TCP.MTA1.partner.example.";     /* the same name */
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_string_equal(a.canon, "");
    resolver_answer_clear(&a);

    f.r.canonname = (char *) "tlsa.hosting.example.";
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_string_equal(a.canon, "tlsa.hosting.example.");
    assert_int_equal(a.status, RESOLVER_SECURE);
    resolver_answer_clear(&a);

    /* the canonical name is kept on failures too (it says where it went wrong) */
    f.r.bogus = 1;
    resolver_map_result(&a, OWNER, 0, &f.r);
    assert_int_equal(a.status, RESOLVER_BOGUS);
    assert_string_equal(a.canon, "tlsa.hosting.example.");
    resolver_answer_clear(&a);
}

static void test_answer_copy_clear(void **state)
{
    resolver_answer a, b;
    fake f;

    (void) state;
    fake_init(&f, 2, 35);
    resolver_map_result(&a, OWNER, 0, &f.r);
    resolver_answer_copy(&b, &a);
    assert_int_equal(b.status, RESOLVER_SECURE);
    assert_int_equal(b.count, 2);
    for (size_t k = 0; k < 2; k++) {
        assert_ptr_not_equal(b.rdata[k], a.rdata[k]);       /* deep */
        assert_memory_equal(b.rdata[k], a.rdata[k], 35);
    }
    assert_string_equal(b.owner, OWNER);
    resolver_answer_clear(&a);
    assert_int_equal(a.count, 0);
    assert_null(a.rdata[0]);
    assert_memory_equal(b.rdata[1], f.bytes[1], 35);      /* the copy outlives the original */
    resolver_answer_clear(&b);
}

/* The names logs, JSON and the tests' greps use: fixed, one per status. */
static void test_status_names(void **state)
{
    static const char *const want[] = {
        "secure", "secure-nxdomain", "secure-nodata", "insecure", "bogus", "servfail", "timeout", "error",
    };

    (void) state;
    for (int s = RESOLVER_SECURE; s <= RESOLVER_NETERR; s++)
        assert_string_equal(resolver_status_str((resolver_status) s), want[s]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bogus_first),
        cmocka_unit_test(test_rcodes),
        cmocka_unit_test(test_insecure),
        cmocka_unit_test(test_secure_denials),
        cmocka_unit_test(test_secure_records),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_canonical_name),
        cmocka_unit_test(test_answer_copy_clear),
        cmocka_unit_test(test_status_names),
    };

    return cmocka_run_group_tests_name("resolver_map", tests, NULL, NULL);
}
