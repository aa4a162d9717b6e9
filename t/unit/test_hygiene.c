/*
 * test_hygiene.c - unit tests for milter/hygiene.c, which decides which
 * Authentication-Results fields of a message are removed.
 *
 * Covered: our authserv-id in every spelling a forger might try (case,
 * trailing dot, quoted, with comments before and after, folded over lines,
 * with a version), names under it and names that only look like it
 * ("xmx..." is not under "mx..."), unparseable fields of any kind (fail
 * closed), other ids kept, trusted_authserv_ids kept (exact id, any case)
 * but never turning "under ours" into "kept" for ids not listed; the field
 * name in any case; index counting over a message with other fields in
 * between; removals yielded from the highest index down; the
 * HYGIENE_REMOVE_MAX bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hygiene.h"

#define SERVID "mx.dest.test"

static const char *const trusted[] = { "internal.mx.dest.test", "Relay.Dest.Test" };

struct classify_case {
    const char *value;
    hygiene_verdict want;
    const char *id;             /* the id read, "" when unparseable */
};

static const struct classify_case classify_cases[] = {
    /* ours, however it is spelled */
    { "mx.dest.test; dane=pass smtp.helo=a.example", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { "MX.DEST.TEST; dane=pass", HYGIENE_REMOVE_OURS, "MX.DEST.TEST" },
    { "Mx.Dest.Test.; dane=pass", HYGIENE_REMOVE_OURS, "Mx.Dest.Test." },
    { "\"mx.dest.test\"; dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { "(forged) mx.dest.test (really); dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { "(nested (comment) here) mx.dest.test; none", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { "\r\n\tmx.dest.test\r\n\t; dane=pass\r\n\tsmtp.helo=a.example", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { "mx.dest.test 1; dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { "mx.dest.test", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { "  mx.dest.test  ;none", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    /* under ours */
    { "sub.mx.dest.test; dkim=pass", HYGIENE_REMOVE_SUBDOMAIN, "sub.mx.dest.test" },
    { "A.B.MX.dest.test.; spf=pass", HYGIENE_REMOVE_SUBDOMAIN, "A.B.MX.dest.test." },
    /* look-alikes that are not under ours: kept */
    { "xmx.dest.test; dane=pass", HYGIENE_KEEP_OTHER, "xmx.dest.test" },
    { "mx.dest.test.evil.example; dane=pass", HYGIENE_KEEP_OTHER, "mx.dest.test.evil.example" },
    { "dest.test; spf=pass", HYGIENE_KEEP_OTHER, "dest.test" },
    { "mx.dest.tes; dane=pass", HYGIENE_KEEP_OTHER, "mx.dest.tes" },
    { "other.example; spf=pass smtp.mailfrom=x", HYGIENE_KEEP_OTHER, "other.example" },
    /* trusted internal hosts: kept, in any case; an unlisted sibling is not */
    { "internal.mx.dest.test; dkim=pass", HYGIENE_KEEP_TRUSTED, "internal.mx.dest.test" },
    { "INTERNAL.MX.DEST.TEST.; dkim=pass", HYGIENE_KEEP_TRUSTED, "INTERNAL.MX.DEST.TEST." },
    { "relay.dest.test; spf=pass", HYGIENE_KEEP_TRUSTED, "relay.dest.test" },
    { "other.mx.dest.test; dkim=pass", HYGIENE_REMOVE_SUBDOMAIN, "other.mx.dest.test" },
    { "a.internal.mx.dest.test; dkim=pass", HYGIENE_REMOVE_SUBDOMAIN, "a.internal.mx.dest.test" },
    /* unparseable: removed whoever wrote it */
    { "", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "   ", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "(only a comment)", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "(unbalanced mx.dest.test; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "\"mx.dest.test; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "mx.dest.test\x01; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "m\xc3\xa9x.dest.test; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "dane=pass smtp.helo=a.example", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "mx.dest.test garbage; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { "mx.dest.test 1 2; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
};

static void test_classify(void **state)
{
    char id[256];

    (void) state;
    for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
        const struct classify_case *c = &classify_cases[i];
        hygiene_verdict v = hygiene_classify(c->value, SERVID, trusted, 2, id, sizeof(id));

        if (v != c->want || strcmp(id, c->id) != 0)
            fail_msg("case %zu \"%s\": %s, id \"%s\"; want %s, id \"%s\"", i, c->value,
                     hygiene_verdict_str(v), id, hygiene_verdict_str(c->want), c->id);
    }
}

/* With no trusted list, the trusted hosts' fields are removed like any other under ours. */
static void test_classify_untrusted(void **state)
{
    (void) state;
    assert_int_equal(hygiene_classify("internal.mx.dest.test; dkim=pass", SERVID, NULL, 0, NULL, 0),
                     HYGIENE_REMOVE_SUBDOMAIN);
    /* a trusted id never saves a field whose id cannot be read */
    assert_int_equal(hygiene_classify("(internal.mx.dest.test)", SERVID, trusted, 2, NULL, 0),
                     HYGIENE_REMOVE_UNPARSEABLE);
    /* an id too long for the caller's buffer is still classified; id is "" */
    {
        char id[4];

        assert_int_equal(hygiene_classify("mx.dest.test; none", SERVID, NULL, 0, id, sizeof(id)),
                         HYGIENE_REMOVE_OURS);
        assert_string_equal(id, "");
    }
}

static void test_is_field(void **state)
{
    (void) state;
    assert_true(hygiene_is_field("Authentication-Results"));
    assert_true(hygiene_is_field("AUTHENTICATION-RESULTS"));
    assert_true(hygiene_is_field("authentication-results"));
    assert_false(hygiene_is_field("X-Authentication-Results"));
    assert_false(hygiene_is_field("Authentication-Results-Original"));
    assert_false(hygiene_is_field("ARC-Authentication-Results"));
    assert_false(hygiene_is_field(""));
    assert_false(hygiene_is_field(NULL));
}

/* A message: indexes count Authentication-Results fields only; removals come highest first. */
static void test_message(void **state)
{
    static const struct { const char *name, *value; } fields[] = {
        { "Received", "from a by b" },
        { "Authentication-Results", "mx.dest.test; dane=pass" },              /* 1: ours */
        { "Subject", "mx.dest.test; dane=pass" },                             /* not A-R */
        { "authentication-results", "other.example; spf=pass" },              /* 2: kept */
        { "AUTHENTICATION-RESULTS", "SUB.mx.dest.test; dkim=pass" },          /* 3: under */
        { "Authentication-Results", "internal.mx.dest.test; dkim=pass" },     /* 4: trusted */
        { "X-Authentication-Results", "mx.dest.test; dane=pass" },            /* not A-R */
        { "Authentication-Results", "(garbage" },                             /* 5: unparseable */
        { "Authentication-Results", "\"MX.DEST.TEST\"; dane=pass" },          /* 6: ours */
    };
    static const size_t want[] = { 6, 5, 3, 1 };
    hygiene h;
    size_t idx, n = 0;

    (void) state;
    hygiene_init(&h);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        (void) hygiene_header(&h, fields[i].name, fields[i].value, SERVID, trusted, 2, NULL, 0);
    assert_int_equal(h.seen, 6);
    assert_false(h.too_many);
    while (hygiene_next_removal(&h, &idx)) {
        assert_true(n < sizeof(want) / sizeof(want[0]));
        assert_int_equal(idx, want[n]);
        n++;
    }
    assert_int_equal(n, 4);
    assert_false(hygiene_next_removal(&h, &idx));

    /* a new message starts from nothing */
    hygiene_init(&h);
    assert_int_equal(hygiene_header(&h, "Authentication-Results", "other.example; none", SERVID,
                                     NULL, 0, NULL, 0), HYGIENE_KEEP_OTHER);
    assert_int_equal(h.seen, 1);
    assert_false(hygiene_next_removal(&h, &idx));
    assert_int_equal(hygiene_header(&h, "Subject", "x", SERVID, NULL, 0, NULL, 0), HYGIENE_NOT_AR);
}

/* More removals than remembered: the message is marked too_many, what fits is kept. */
static void test_too_many(void **state)
{
    static hygiene h;           /* 8 KiB: keep it off the stack */
    size_t idx, n = 0, last = 0;

    (void) state;
    hygiene_init(&h);
    for (size_t i = 0; i < HYGIENE_REMOVE_MAX; i++)
        assert_int_equal(hygiene_header(&h, "Authentication-Results", "mx.dest.test; none", SERVID,
                                        NULL, 0, NULL, 0), HYGIENE_REMOVE_OURS);
    assert_false(h.too_many);
    /* a kept field does not count against the bound */
    assert_int_equal(hygiene_header(&h, "Authentication-Results", "other.example; none", SERVID, NULL, 0,
                                    NULL, 0), HYGIENE_KEEP_OTHER);
    assert_false(h.too_many);
    assert_int_equal(hygiene_header(&h, "Authentication-Results", "mx.dest.test; none", SERVID, NULL, 0,
                                    NULL, 0), HYGIENE_TOO_MANY);
    assert_true(h.too_many);
    assert_int_equal(h.seen, HYGIENE_REMOVE_MAX + 2);
    while (hygiene_next_removal(&h, &idx)) {
        if (n > 0)
            assert_true(idx < last);
        last = idx;
        n++;
    }
    assert_int_equal(n, HYGIENE_REMOVE_MAX);
    assert_int_equal(last, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_untrusted),
        cmocka_unit_test(test_is_field),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_too_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
