/*
 * test_verdict.c - the verdict table, case by case, from synthetic answers.
 *
 * Each case feeds verdict_evaluate_owner() a resolver answer as the
 * resolver would deliver it (status, TTL, RDATA) and the evidence of a
 * freshly made certificate, and checks the result word, the reason and the
 * details a log line needs.  Real DNS is exercised by t/dns/check.sh.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/verdict.h"
#include "t/unit/testcert.h"

typedef struct fixture {
    testcert *good;
    testcert *rogue;
    evidence *ev;           /* the good certificate */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->good = testcert_self_signed("mta1.example.net", "mta1.example.net");
    f->rogue = testcert_self_signed("mta1.example.net", "mta1.example.net");
    f->ev = evidence_new();
    assert_int_equal(evidence_add_der(f->ev, f->good->der, f->good->derlen), EVIDENCE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    testcert_free(f->good);
    testcert_free(f->rogue);
    evidence_free(f->ev);
    free(f);
    return 0;
}

/* add_rdata - append one TLSA RDATA (usage, selector, mtype, data) to an answer. */
static void add_rdata(resolver_answer *a, int u, int s, int m, const unsigned char *d, size_t len)
{
    unsigned char *r = malloc(len + 3);

    assert_non_null(r);
    assert_true(a->count < RESOLVER_MAX_RECORDS);
    r[0] = (unsigned char) u;
    r[1] = (unsigned char) s;
    r[2] = (unsigned char) m;
    memcpy(r + 3, d, len);
    a->rdata[a->count] = r;
    a->rdlen[a->count++] = len + 3;
}

/* add_spki311 - append "3 1 1 sha256(spki of tc)". */
static void add_spki311(resolver_answer *a, const testcert *tc)
{
    unsigned char md[DIGEST_MAX];
    size_t n = evidence_digest(DIGEST_SHA256, tc->spki, tc->spkilen, md);

    add_rdata(a, 3, 1, 1, md, n);
}

static void answer_init(resolver_answer *a, resolver_status st, const char *owner)
{
    memset(a, 0, sizeof(*a));
    a->status = st;
    a->ttl = 300;
    strcpy(a->owner, owner);
}

/* evaluate - one owner, finished verdict; returns the result. */
static verdict_result evaluate(verdict *v, const evidence *ev, resolver_answer *a)
{
    verdict_init(v, "mta1.example.net", ev);
    verdict_evaluate_owner(v, ev, a);
    verdict_finish(v);
    resolver_answer_clear(a);
    return v->result;
}

static void test_pass_names_record(void **state)
{
    fixture *f = *state;
    resolver_answer a;
    verdict v;

    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_spki311(&a, f->rogue);
    add_spki311(&a, f->good);
    assert_int_equal(evaluate(&v, f->ev, &a), VERDICT_PASS);
    assert_string_equal(verdict_result_word(v.result), "pass");
    assert_int_equal(v.decisive, 0);
    assert_int_equal(v.owners[0].matched, 1);
    assert_true(strncmp(v.matched, "3 1 1 ", 6) == 0);
    assert_string_equal(v.owners[0].owner, "_smtp-client.mta1.example.net");
    assert_int_equal(v.owners[0].ttl, 300);
    assert_int_equal(strlen(v.spki_sha256), 64);
    assert_non_null(strstr(v.reason, "3 1 1"));
    verdict_clear(&v);
}

static void test_fail_rogue(void **state)
{
    fixture *f = *state;
    resolver_answer a;
    verdict v;

    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_spki311(&a, f->rogue);
    assert_int_equal(evaluate(&v, f->ev, &a), VERDICT_FAIL);
    assert_string_equal(v.matched, "");
    assert_int_equal(v.owners[0].matched, -1);
    verdict_clear(&v);
}

static void test_neutral_pkix_only(void **state)
{
    fixture *f = *state;
    resolver_answer a;
    verdict v;
    unsigned char md[DIGEST_MAX];
    size_t n = evidence_digest(DIGEST_SHA256, f->good->spki, f->good->spkilen, md);

    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_rdata(&a, 1, 1, 1, md, n);      /* PKIX-EE matching the key: still unusable */
    add_rdata(&a, 0, 1, 1, md, n);
    assert_int_equal(evaluate(&v, f->ev, &a), VERDICT_NEUTRAL);
    verdict_clear(&v);
}

/* hex - colon-separated upper-case hex of n octets (Sendmail's and Postfix's form). */
static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 3 * i, "%02X%s", d[i], i + 1 < n ? ":" : "");
}

/* A certificate digest alone (Sendmail's {cert_fp}) against 3 1 1 only: neutral, saying why. */
static void test_neutral_names_the_gap(void **state)
{
    fixture *f = *state;
    resolver_answer a;
    verdict v;
    unsigned char md[DIGEST_MAX], cmd[DIGEST_MAX];
    char text[3 * DIGEST_MAX + 1];
    size_t n = evidence_digest(DIGEST_SHA256, f->good->spki, f->good->spkilen, md);
    size_t cn = evidence_digest(DIGEST_SHA256, f->good->der, f->good->derlen, cmd);
    evidence *certonly = evidence_new();

    hex(cmd, cn, text);
    assert_int_equal(evidence_add_digest(certonly, 0, DIGEST_SHA256, text), EVIDENCE_OK);
    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_rdata(&a, 3, 1, 1, md, n);
    assert_int_equal(evaluate(&v, certonly, &a), VERDICT_NEUTRAL);
    assert_non_null(strstr(v.owners[0].reason, "only 3 0 x records can match"));
    verdict_clear(&v);
    /* the whole certificate known: nothing narrow to say */
    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_rdata(&a, 0, 1, 1, md, n);
    assert_int_equal(evaluate(&v, f->ev, &a), VERDICT_NEUTRAL);
    assert_string_equal(v.owners[0].reason, "no TLSA record usable with this evidence");
    verdict_clear(&v);
    evidence_free(certonly);
}

static void test_permerror_malformed(void **state)
{
    fixture *f = *state;
    resolver_answer a;
    verdict v;
    const unsigned char shortdigest[5] = {1, 2, 3, 4, 5};
    const unsigned char notcert[8] = {0x30, 0x03, 1, 2, 3, 4, 5, 6};

    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_rdata(&a, 3, 1, 1, shortdigest, sizeof(shortdigest));
    add_rdata(&a, 3, 0, 0, notcert, sizeof(notcert));
    assert_int_equal(evaluate(&v, f->ev, &a), VERDICT_PERMERROR);
    verdict_clear(&v);
}

/* Every non-secure DNS outcome, and what it must never be. */
static void test_dns_statuses(void **state)
{
    static const struct {
        resolver_status st;
        verdict_result want;
        const char *reason_part;
    } cases[] = {
        {RESOLVER_SECURE_NXDOMAIN, VERDICT_NONE, "NXDOMAIN"},
        {RESOLVER_SECURE_NODATA, VERDICT_NONE, "NODATA"},
        {RESOLVER_INSECURE, VERDICT_NONE, "not DNSSEC"},
        {RESOLVER_BOGUS, VERDICT_TEMPERROR, "signature expired"},
        {RESOLVER_SERVFAIL, VERDICT_TEMPERROR, "failed"},
        {RESOLVER_TIMEOUT, VERDICT_TEMPERROR, "timed out"},
        {RESOLVER_NETERR, VERDICT_TEMPERROR, "error"},
    };
    fixture *f = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        resolver_answer a;
        verdict v;

        answer_init(&a, cases[i].st, "_smtp-client.mta1.example.net");
        strcpy(a.why, "signature expired");
        /* Data that would match must be ignored unless the answer is secure. */
        add_spki311(&a, f->good);
        assert_int_equal(evaluate(&v, f->ev, &a), cases[i].want);
        assert_non_null(strstr(v.reason, cases[i].reason_part));
        /* The brief reason (for headers and SMTP replies) never carries resolver text. */
        assert_null(strstr(v.brief, "signature expired"));
        assert_true(strncmp(v.reason, v.brief, strlen(v.brief)) == 0);
        assert_int_equal(v.owners[0].count, 0);
        verdict_clear(&v);
    }
}

/* Two owners: pass > temperror > fail > permerror > neutral > none. */
/* A stale answer keeps its word; the reason (and brief) says so, and the verdict is marked. */
static void test_stale_keeps_word(void **state)
{
    fixture *f = *state;
    resolver_answer a;
    verdict v;

    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_spki311(&a, f->good);
    verdict_init(&v, "mta1.example.net", f->ev);
    assert_int_equal(verdict_evaluate_stale(&v, f->ev, &a, 1234), VERDICT_PASS);
    verdict_finish(&v);
    assert_int_equal(v.result, VERDICT_PASS);
    assert_true(v.stale);
    assert_int_equal(v.stale_ago_s, 1234);
    assert_true(v.owners[0].stale);
    assert_string_equal(v.reason, "matched TLSA 3 1 1 (stale answer, expired 1234 s ago)");
    assert_string_equal(v.brief, v.reason);
    assert_true(strncmp(v.matched, "3 1 1 ", 6) == 0);
    verdict_clear(&v);
    resolver_answer_clear(&a);

    /* a stale fail stays fail; a fresh verdict is not marked */
    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_spki311(&a, f->rogue);
    verdict_init(&v, "mta1.example.net", f->ev);
    verdict_evaluate_stale(&v, f->ev, &a, 7);
    verdict_finish(&v);
    assert_int_equal(v.result, VERDICT_FAIL);
    assert_true(v.stale);
    assert_non_null(strstr(v.reason, " (stale answer, expired 7 s ago)"));
    verdict_clear(&v);
    resolver_answer_clear(&a);
    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_spki311(&a, f->good);
    assert_int_equal(evaluate(&v, f->ev, &a), VERDICT_PASS);
    assert_false(v.stale);
    assert_null(strstr(v.reason, "stale"));
    verdict_clear(&v);
}

/* With two owners the decisive one says whether the verdict is stale; the note survives a long reason. */
static void test_stale_two_owners(void **state)
{
    fixture *f = *state;
    resolver_answer a, b;
    verdict v;
    size_t i;

    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    add_spki311(&a, f->rogue);
    answer_init(&b, RESOLVER_SECURE, "_25._tcp.mta1.example.net");
    add_spki311(&b, f->good);
    verdict_init(&v, "mta1.example.net", f->ev);
    verdict_evaluate_stale(&v, f->ev, &a, 3);
    verdict_evaluate_owner(&v, f->ev, &b);
    verdict_finish(&v);
    assert_int_equal(v.result, VERDICT_PASS);
    assert_int_equal(v.decisive, 1);
    assert_false(v.stale);                  /* the fresh pass decided */
    assert_true(v.owners[0].stale);
    verdict_clear(&v);
    resolver_answer_clear(&a);

    /* a fail reason with a long detail: the note is kept whole, the reason cut */
    answer_init(&a, RESOLVER_SECURE, "_smtp-client.mta1.example.net");
    for (i = 0; i < 40; i++)
        add_spki311(&a, f->rogue);
    verdict_init(&v, "mta1.example.net", f->ev);
    verdict_evaluate_stale(&v, f->ev, &a, 604799);
    verdict_finish(&v);
    assert_true(strlen(v.reason) < VERDICT_REASON_MAX);
    assert_non_null(strstr(v.reason, " (stale answer, expired 604799 s ago)"));
    verdict_clear(&v);
    resolver_answer_clear(&a);
    resolver_answer_clear(&b);
}

static void test_combine(void **state)
{
    static const struct {
        resolver_status first;
        int first_match;         /* for SECURE: 1 matching, 0 rogue */
        resolver_status second;
        int second_match;
        verdict_result want;
        int decisive;
    } cases[] = {
        {RESOLVER_TIMEOUT, 0, RESOLVER_SECURE, 1, VERDICT_PASS, 1},
        {RESOLVER_SECURE, 0, RESOLVER_BOGUS, 0, VERDICT_TEMPERROR, 1},
        {RESOLVER_SECURE_NXDOMAIN, 0, RESOLVER_SECURE, 0, VERDICT_FAIL, 1},
        {RESOLVER_SECURE, 0, RESOLVER_INSECURE, 0, VERDICT_FAIL, 0},
        {RESOLVER_SECURE_NXDOMAIN, 0, RESOLVER_SECURE_NODATA, 0, VERDICT_NONE, 0},
        {RESOLVER_SECURE, 1, RESOLVER_SECURE, 0, VERDICT_PASS, 0},
    };
    fixture *f = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        resolver_answer a, b;
        verdict v;

        answer_init(&a, cases[i].first, "_smtp-client.mta1.example.net");
        answer_init(&b, cases[i].second, "_25._tcp.mta1.example.net");
        if (cases[i].first == RESOLVER_SECURE)
            add_spki311(&a, cases[i].first_match ? f->good : f->rogue);
        if (cases[i].second == RESOLVER_SECURE)
            add_spki311(&b, cases[i].second_match ? f->good : f->rogue);
        verdict_init(&v, "mta1.example.net", f->ev);
        verdict_evaluate_owner(&v, f->ev, &a);
        verdict_evaluate_owner(&v, f->ev, &b);
        verdict_finish(&v);
        assert_int_equal(v.result, cases[i].want);
        assert_int_equal(v.decisive, cases[i].decisive);
        assert_int_equal(v.nowners, 2);
        resolver_answer_clear(&a);
        resolver_answer_clear(&b);
        verdict_clear(&v);
    }
}

static void test_set_none(void **state)
{
    verdict v;

    (void) state;
    verdict_init(&v, "", NULL);
    verdict_set_none(&v, "no client certificate");
    verdict_finish(&v);
    assert_int_equal(v.result, VERDICT_NONE);
    assert_string_equal(v.reason, "no client certificate");
    assert_int_equal(v.decisive, -1);
    assert_int_equal(v.nowners, 0);
    assert_string_equal(v.spki_sha256, "");
    verdict_clear(&v);
}

static void test_set_temperror(void **state)
{
    verdict v;

    (void) state;
    verdict_init(&v, "mta1.example.net", NULL);
    verdict_set_temperror(&v, "look-up budget exceeded\x01");
    verdict_finish(&v);     /* no owner: the decision stands */
    assert_int_equal(v.result, VERDICT_TEMPERROR);
    assert_string_equal(v.reason, "look-up budget exceeded?");
    assert_string_equal(v.brief, "look-up budget exceeded?");
    assert_string_equal(v.name, "mta1.example.net");
    assert_int_equal(v.decisive, -1);
    assert_int_equal(v.nowners, 0);
    verdict_clear(&v);
}

/* A hostile why_bogus must come out printable. */
static void test_reason_printable(void **state)
{
    fixture *f = *state;
    resolver_answer a;
    verdict v;
    const char *p;

    answer_init(&a, RESOLVER_BOGUS, "_smtp-client.mta1.example.net");
    strcpy(a.why, "bad\r\nX-Injected: yes\x7f\xff");
    assert_int_equal(evaluate(&v, f->ev, &a), VERDICT_TEMPERROR);
    for (p = v.reason; *p; p++)
        assert_true(*p >= 0x20 && *p <= 0x7e);
    verdict_clear(&v);
}

static void test_words(void **state)
{
    (void) state;
    assert_string_equal(verdict_result_word(VERDICT_NONE), "none");
    assert_string_equal(verdict_result_word(VERDICT_NEUTRAL), "neutral");
    assert_string_equal(verdict_result_word(VERDICT_PERMERROR), "permerror");
    assert_string_equal(verdict_result_word(VERDICT_FAIL), "fail");
    assert_string_equal(verdict_result_word(VERDICT_TEMPERROR), "temperror");
    assert_string_equal(verdict_result_word(VERDICT_PASS), "pass");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_temperror),
        cmocka_unit_test(test_pass_names_record),
        cmocka_unit_test(test_fail_rogue),
        cmocka_unit_test(test_neutral_pkix_only),
        cmocka_unit_test(test_neutral_names_the_gap),
        cmocka_unit_test(test_permerror_malformed),
        cmocka_unit_test(test_dns_statuses),
        cmocka_unit_test(test_stale_keeps_word),
        cmocka_unit_test(test_stale_two_owners),
        cmocka_unit_test(test_combine),
        cmocka_unit_test(test_set_none),
        cmocka_unit_test(test_reason_printable),
        cmocka_unit_test(test_words),
    };

    return cmocka_run_group_tests_name("verdict", tests, setup, teardown);
}
