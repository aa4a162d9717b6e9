/*
 * test_results.c - unit tests for danced/results.c, the per-message
 * vocabulary both faces share.
 *
 * Covered: the kinds' names and configuration bits; the claimed name of
 * each kind from the raw SMTP value (normalized, invalid, absent, null
 * sender, "unknown" for ptr only); results_item_from() (the longest
 * reason kept whole, an invalid name as ""); the field value the milter
 * inserts - folded under 78 columns with the same words as the policy
 * PREPEND's one line - and the longest value (longest authserv-id, names
 * and reasons) folded with every line under 998 octets.  Settings are a
 * real dance.conf loaded with snapshot_load(); certificates are made in
 * memory (testcert.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/authres.h"
#include "lib/config.h"
#include "lib/evidence.h"
#include "lib/verdict.h"
#include "danced/results.h"
#include "danced/snapshot.h"
#include "t/unit/testcert.h"

#define SERVID "mx.dance.test"
#define AR "Authentication-Results: "
#define AUTH "mta1.partner.example"
#define NP { VERDICT_NONE, NULL, NULL }

/* ------------------------------------------------------------ helpers */

typedef struct fixture {
    testcert *a;            /* the client's certificate */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->a = testcert_self_signed("mta1.partner.example", "mta1.partner.example");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    testcert_free(f->a);
    free(f);
    return 0;
}

/* snap_load - a snapshot from dance.conf text, loaded as the daemon loads it. */
static snapshot *snap_load(const char *conf)
{
    char path[] = "/tmp/test_results.XXXXXX", err[512];
    int fd = mkstemp(path);
    snapshot *s = NULL;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, conf, strlen(conf)), (ssize_t) strlen(conf));
    assert_int_equal(close(fd), 0);
    if (snapshot_load(path, "default.invalid-not-used", &s, err, sizeof(err)) != SNAPSHOT_OK)
        fail_msg("snapshot_load: %s", err);
    unlink(path);
    assert_non_null(s);
    return s;
}

/* One identity's result as a test writes it; name NULL = not present. */
typedef struct res_spec {
    verdict_result r;
    const char *name;
    const char *reason;
} res_spec;

static void fill(results_item res[RESULTS_KINDS], const res_spec spec[RESULTS_KINDS])
{
    memset(res, 0, sizeof(results_item) * RESULTS_KINDS);
    for (int k = 0; k < RESULTS_KINDS; k++) {
        if (spec[k].name == NULL)
            continue;
        res[k].present = true;
        res[k].result = spec[k].r;
        snprintf(res[k].name, sizeof(res[k].name), "%s", spec[k].name);
        snprintf(res[k].reason, sizeof(res[k].reason), "%s", spec[k].reason ? spec[k].reason : "");
    }
}

/* make_name - a valid domain name of exactly len octets (63-octet labels of c). */
static void make_name(char *out, size_t len, char c)
{
    size_t i;

    assert_true(len >= 3 && len <= 253);
    for (i = 0; i < len; i++)
        out[i] = (i % 64 == 63) ? '.' : c;
    if (out[len - 1] == '.')
        out[len - 2] = '.', out[len - 1] = c;   /* never end on a dot */
    out[len] = '\0';
}

/* ------------------------------------------------------------ kinds */

static void test_kinds(void **state)
{
    (void) state;
    assert_int_equal(RESULTS_KINDS, 3);
    assert_string_equal(results_kind_name(RESULTS_HELO), "helo");
    assert_string_equal(results_kind_name(RESULTS_MAILFROM), "mailfrom");
    assert_string_equal(results_kind_name(RESULTS_PTR), "ptr");
    assert_int_equal(results_kind_bit(RESULTS_HELO), CONFIG_IDENTITY_HELO);
    assert_int_equal(results_kind_bit(RESULTS_MAILFROM), CONFIG_IDENTITY_MAILFROM);
    assert_int_equal(results_kind_bit(RESULTS_PTR), CONFIG_IDENTITY_PTR);
}

static void test_result_from(void **state)
{
    fixture *f = *state;
    evidence *ev = evidence_new();
    verdict *v = calloc(1, sizeof(*v));
    results_item r;
    char reason[VERDICT_REASON_MAX];

    (void) state;
    assert_non_null(v);
    assert_int_equal(evidence_add_der(ev, f->a->der, f->a->derlen), EVIDENCE_OK);
    verdict_init(v, "mta1.partner.example", ev);
    verdict_set_none(v, "out of scope");
    memset(&r, 0x33, sizeof(r));
    results_item_from(&r, v);
    assert_true(r.present);
    assert_int_equal(r.result, VERDICT_NONE);
    assert_string_equal(r.name, "mta1.partner.example");
    assert_string_equal(r.reason, "out of scope");
    verdict_clear(v);

    /* an invalid name is "" and the longest reason is kept whole */
    memset(reason, 'x', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    verdict_init(v, "", ev);
    verdict_set_none(v, reason);
    v->result = VERDICT_TEMPERROR;
    results_item_from(&r, v);
    assert_true(r.present);
    assert_int_equal(r.result, VERDICT_TEMPERROR);
    assert_string_equal(r.name, "");
    assert_string_equal(r.reason, v->reason);
    verdict_clear(v);
    free(v);
    evidence_free(ev);
}


/* results_claimed_value: the name each kind checks, from the value the client sent. */
static void test_claimed_value(void **state)
{
    static const struct {
        results_kind kind;
        const char *value;
        const char *want;             /* NULL: none to check */
        bool normalized;              /* returned in buf */
    } cases[] = {
        { RESULTS_HELO, "MTA1.Partner.Example.", "mta1.partner.example", true },
        { RESULTS_HELO, "", NULL, false },
        { RESULTS_HELO, NULL, NULL, false },
        { RESULTS_HELO, "[192.0.2.1]", "[192.0.2.1]", false },
        { RESULTS_HELO, "bad_name.example", "bad_name.example", false },
        { RESULTS_HELO, "unknown", "unknown", false },          /* only ptr treats it specially */
        { RESULTS_MAILFROM, "Alice@Mail.EXAMPLE.net", "mail.example.net", true },
        { RESULTS_MAILFROM, "<bob@example.org>", "example.org", true },
        { RESULTS_MAILFROM, "", NULL, false },                 /* the null sender */
        { RESULTS_MAILFROM, "bob@[192.0.2.7]", "[192.0.2.7]", false },
        { RESULTS_MAILFROM, "postmaster", "postmaster", false },
        { RESULTS_PTR, "Mail.Example.ORG.", "mail.example.org", true },
        { RESULTS_PTR, "unknown", NULL, false },
        { RESULTS_PTR, "UNKNOWN", NULL, false },
        { RESULTS_PTR, "10.1.2.3", "10.1.2.3", false },
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[IDENTITY_NAME_MAX];
        const char *got;

        memset(buf, 'Q', sizeof(buf));
        got = results_claimed_value(cases[i].kind, cases[i].value, buf);
        if (cases[i].want == NULL) {
            if (got != NULL)
                fail_msg("case %zu: got \"%s\", want none", i, got);
            continue;
        }
        if (got == NULL || strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, got ? got : "(none)", cases[i].want);
        if (cases[i].normalized)
            assert_ptr_equal(got, buf);
        else
            assert_true(got < buf || got >= buf + sizeof(buf));
    }
}

/* ------------------------------------------------ the milter's header */

/* unfold_lines - check a folded value's lines (each "\n\t"-joined, at most max octets
 * counting the field name on the first), and write it unfolded into out. */
static void unfold_lines(const char *v, size_t max, char *out, size_t size)
{
    size_t col = strlen(AR), o = 0;

    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '\n') {
            assert_int_equal(p[1], '\t');       /* every line break is a fold */
            assert_true(col <= max);
            col = 1;
            p++;
            assert_true(o + 1 < size);
            out[o++] = ' ';
            continue;
        }
        assert_true(*p >= 0x20 && *p < 0x7f);    /* no CR, no control, no 8-bit byte */
        assert_true(o + 1 < size);
        out[o++] = *p;
        col++;
    }
    assert_true(col <= max);
    out[o] = '\0';
}

/*
 * results_header_value(folded): the value the milter inserts is the policy
 * PREPEND's value folded under 78 columns, with the same words.
 */
static void test_header_value_folded(void **state)
{
    static const res_spec cases[][RESULTS_KINDS] = {
        { { VERDICT_PASS, AUTH, "matched TLSA 3 1 1" }, { VERDICT_PASS, AUTH, "matched TLSA 3 1 1" }, NP },
        { { VERDICT_FAIL, "a.example", "certificate matches no usable TLSA record" },
          { VERDICT_TEMPERROR, "b.example", "DNSSEC validation failed (bogus)" },
          { VERDICT_NONE, "c.example", "no TLSA records" } },
        { NP, NP, NP },
    };
    snapshot *s = snap_load("authserv_id = " SERVID "\n");
    char folded[AUTHRES_FIELD_MAX], one[AUTHRES_FIELD_MAX], unfolded[AUTHRES_FIELD_MAX];
    results_item dr[RESULTS_KINDS];

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fill(dr, cases[i]);
        results_header_value(s, dr, true, folded, sizeof(folded));
        results_header_value(s, dr, false, one, sizeof(one));
        assert_null(strchr(one, '\n'));
        unfold_lines(folded, 78, unfolded, sizeof(unfolded));
        if (strcmp(unfolded, one) != 0)
            fail_msg("case %zu: unfolded \"%s\" != one line \"%s\"", i, unfolded, one);
        assert_int_equal(strncmp(folded, SERVID ";", strlen(SERVID ";")), 0);
    }
    /* the first case, exactly */
    fill(dr, cases[0]);
    results_header_value(s, dr, true, folded, sizeof(folded));
    assert_string_equal(folded, SERVID ";\n\tdane=pass (matched TLSA 3 1 1) smtp.helo=" AUTH ";\n"
                        "\tdane=pass (matched TLSA 3 1 1) smtp.mailfrom=" AUTH);
    snapshot_unref(s);
}

/* The longest folded value (longest authserv-id, names and reasons) keeps every line under 998. */
static void test_header_value_folded_longest(void **state)
{
    char servid[CONFIG_AUTHSERV_ID_MAX + 1], conf[512], n[3][254], r[VERDICT_REASON_MAX];
    char folded[AUTHRES_FIELD_MAX], unfolded[AUTHRES_FIELD_MAX];
    res_spec res[RESULTS_KINDS];
    results_item dr[RESULTS_KINDS];
    snapshot *s;

    (void) state;
    make_name(servid, CONFIG_AUTHSERV_ID_MAX, 's');
    snprintf(conf, sizeof(conf), "authserv_id = %s\n", servid);
    s = snap_load(conf);
    memset(r, 'w', sizeof(r) - 1);          /* one unbreakable word as long as a reason gets */
    r[sizeof(r) - 1] = '\0';
    for (int k = 0; k < 3; k++) {
        make_name(n[k], 253, "xyz"[k]);
        res[k] = (res_spec) { VERDICT_PERMERROR, n[k], r };
    }
    fill(dr, res);
    results_header_value(s, dr, true, folded, sizeof(folded));
    unfold_lines(folded, RESULTS_RFC5322_LINE, unfolded, sizeof(unfolded));
    for (int k = 0; k < 3; k++)
        assert_non_null(strstr(unfolded, n[k]));  /* nothing dropped: folding makes room */
    assert_non_null(strstr(unfolded, "(wwww"));
    snapshot_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_claimed_value),
        cmocka_unit_test(test_result_from),
        cmocka_unit_test(test_header_value_folded),
        cmocka_unit_test(test_header_value_folded_longest),
    };

    return cmocka_run_group_tests_name("results", tests, setup, teardown);
}
