/*
 * test_hygiene.c - unit tests for milter/hygiene.c, which decides which
 * Authentication-Results fields of a message are removed.
 *
 * Covered: our authserv-id in every spelling a forger might try (case,
 * trailing dots, white space inside quotes, quoted, with comments before
 * and after, folded over lines, with a version), names under it and names
 * that only look like it ("xmx..." is not under "mx..."), quoted ids that
 * are no token and unparseable fields of any kind (fail closed), other ids
 * kept; trusted_authserv_ids entries kept only from their network, never
 * for an id at or under ours, never without a client address;
 * remove_authserv_ids names and ".domain" suffixes; the field names in any
 * case and with white space before the colon, X-Authentication-Results
 * judged alike and numbered apart; index counting over a message with
 * other fields in between; removals yielded each name from its highest
 * index down; the HYGIENE_REMOVE_MAX bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/netaddr.h"
#include "milter/hygiene.h"

#define SERVID "mx.dest.test"

/* As the configuration keeps them: ids normalized, networks canonical. */
static const char *const trusted[] = { "internal.mx.dest.test@192.0.2.0/24", "relay.dest.test@192.0.2.0/24",
                                       "filter.example@2001:db8::/32" };
static const char *const removed[] = { ".dest.test", "old-mx.example" };

/* rules_for - the rules with client address text (NULL: none). */
static hygiene_rules rules_for(const char *client, netaddr *a)
{
    hygiene_rules r = { SERVID, trusted, 3, removed, 2, NULL };

    memset(a, 0, sizeof(*a));
    if (client != NULL)
        assert_true(netaddr_parse(client, a));
    r.client = a;
    return r;
}

struct classify_case {
    const char *client;         /* the message's SMTP client, NULL for none */
    const char *value;
    hygiene_verdict want;
    const char *id;             /* the id read, "" when unparseable */
};

static const struct classify_case classify_cases[] = {
    /* ours, however it is spelled */
    { "192.0.2.7", "mx.dest.test; dane=pass smtp.helo=a.example", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { NULL, "MX.DEST.TEST; dane=pass", HYGIENE_REMOVE_OURS, "MX.DEST.TEST" },
    { NULL, "Mx.Dest.Test.; dane=pass", HYGIENE_REMOVE_OURS, "Mx.Dest.Test." },
    { NULL, "mx.dest.test..; dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test.." },
    { NULL, "\"mx.dest.test\"; dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { NULL, "\"mx.dest.test \"; dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test " },
    { NULL, "\" mx.dest.test\"; dane=pass", HYGIENE_REMOVE_OURS, " mx.dest.test" },
    { NULL, "\"\tMX.dest.test.. \"; dane=pass", HYGIENE_REMOVE_OURS, "\tMX.dest.test.. " },
    { NULL, "(forged) mx.dest.test (really); dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { NULL, "(nested (comment) here) mx.dest.test; none", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { NULL, "\r\n\tmx.dest.test\r\n\t; dane=pass\r\n\tsmtp.helo=a.example", HYGIENE_REMOVE_OURS,
      "mx.dest.test" },
    { NULL, "\n\tmx.dest.test\n\t; dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { NULL, "mx.dest.test 1; dane=pass", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { NULL, "mx.dest.test", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    { NULL, "  mx.dest.test  ;none", HYGIENE_REMOVE_OURS, "mx.dest.test" },
    /* under ours - also when listed as trusted and sent from its network */
    { NULL, "sub.mx.dest.test; dkim=pass", HYGIENE_REMOVE_SUBDOMAIN, "sub.mx.dest.test" },
    { NULL, "A.B.MX.dest.test.; spf=pass", HYGIENE_REMOVE_SUBDOMAIN, "A.B.MX.dest.test." },
    { "192.0.2.7", "internal.mx.dest.test; dkim=pass", HYGIENE_REMOVE_SUBDOMAIN, "internal.mx.dest.test" },
    { "192.0.2.7", "\"internal.mx.dest.test.\"; dkim=pass", HYGIENE_REMOVE_SUBDOMAIN,
      "internal.mx.dest.test." },
    /* look-alikes that are not under ours: kept unless listed */
    { NULL, "xmx.dest.test; dane=pass", HYGIENE_REMOVE_LISTED, "xmx.dest.test" },
    { NULL, "mx.dest.test.evil.example; dane=pass", HYGIENE_KEEP_OTHER, "mx.dest.test.evil.example" },
    { NULL, "mx.dest.tes; dane=pass", HYGIENE_KEEP_OTHER, "mx.dest.tes" },
    { NULL, "other.example; spf=pass smtp.mailfrom=x", HYGIENE_KEEP_OTHER, "other.example" },
    /* remove_authserv_ids: ".dest.test" is every name under dest.test, not dest.test itself */
    { NULL, "dest.test; spf=pass", HYGIENE_KEEP_OTHER, "dest.test" },
    { NULL, "other.dest.test; dkim=pass", HYGIENE_REMOVE_LISTED, "other.dest.test" },
    { NULL, "OLD-MX.example.; dkim=pass", HYGIENE_REMOVE_LISTED, "OLD-MX.example." },
    { NULL, "a.old-mx.example; dkim=pass", HYGIENE_KEEP_OTHER, "a.old-mx.example" },
    /* trusted: only from the entry's network */
    { "192.0.2.7", "relay.dest.test; spf=pass", HYGIENE_KEEP_TRUSTED, "relay.dest.test" },
    { "192.0.2.255", "RELAY.DEST.TEST.; spf=pass", HYGIENE_KEEP_TRUSTED, "RELAY.DEST.TEST." },
    { "::ffff:192.0.2.9", "relay.dest.test; spf=pass", HYGIENE_KEEP_TRUSTED, "relay.dest.test" },
    { "192.0.3.1", "relay.dest.test; spf=pass", HYGIENE_REMOVE_LISTED, "relay.dest.test" },
    { NULL, "relay.dest.test; spf=pass", HYGIENE_REMOVE_LISTED, "relay.dest.test" },
    { "2001:db8::25", "filter.example; dkim=pass", HYGIENE_KEEP_TRUSTED, "filter.example" },
    { "192.0.2.7", "filter.example; dkim=pass", HYGIENE_KEEP_OTHER, "filter.example" },
    { "192.0.2.7", "sub.relay.dest.test; spf=pass", HYGIENE_REMOVE_LISTED, "sub.relay.dest.test" },
    /* unparseable, or a quoted id that is no token: removed whoever wrote it */
    { "192.0.2.7", "", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "   ", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "(only a comment)", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "(unbalanced mx.dest.test; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "\"mx.dest.test; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "\"mx.dest.test; dane=pass\"; dane=pass", HYGIENE_REMOVE_UNPARSEABLE,
      "mx.dest.test; dane=pass" },
    { NULL, "\"other.example x\"; spf=pass", HYGIENE_REMOVE_UNPARSEABLE, "other.example x" },
    { NULL, "\"\"; spf=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "\"...\"; spf=pass", HYGIENE_REMOVE_UNPARSEABLE, "..." },
    { NULL, "mx.dest.test\x01; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "m\xc3\xa9x.dest.test; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "dane=pass smtp.helo=a.example", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "mx.dest.test garbage; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "mx.dest.test 1 2; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
    { NULL, "=?us-ascii?Q?mx.dest.test?=; dane=pass", HYGIENE_REMOVE_UNPARSEABLE, "" },
};

static void test_classify(void **state)
{
    char id[256];
    netaddr a;

    (void) state;
    for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
        const struct classify_case *c = &classify_cases[i];
        hygiene_rules r = rules_for(c->client, &a);
        hygiene_verdict v = hygiene_classify(&r, c->value, id, sizeof(id));

        if (v != c->want || strcmp(id, c->id) != 0)
            fail_msg("case %zu \"%s\" from %s: %s, id \"%s\"; want %s, id \"%s\"", i, c->value,
                     c->client ? c->client : "none", hygiene_verdict_str(v), id,
                     hygiene_verdict_str(c->want), c->id);
    }
}

/* With no lists, fields of other ids are kept and nothing is trusted. */
static void test_classify_plain(void **state)
{
    hygiene_rules r = { SERVID, NULL, 0, NULL, 0, NULL };
    char id[4];

    (void) state;
    assert_int_equal(hygiene_classify(&r, "internal.mx.dest.test; dkim=pass", NULL, 0),
                     HYGIENE_REMOVE_SUBDOMAIN);
    assert_int_equal(hygiene_classify(&r, "relay.dest.test; dkim=pass", NULL, 0), HYGIENE_KEEP_OTHER);
    /* a trusted id never saves a field whose id cannot be read */
    assert_int_equal(hygiene_classify(&r, "(internal.mx.dest.test)", NULL, 0), HYGIENE_REMOVE_UNPARSEABLE);
    /* an id too long for the caller's buffer is still classified; id is "" */
    assert_int_equal(hygiene_classify(&r, "mx.dest.test; none", id, sizeof(id)), HYGIENE_REMOVE_OURS);
    assert_string_equal(id, "");
}

static void test_field_name(void **state)
{
    static const struct { const char *name; bool is; hygiene_name which; } cases[] = {
        { "Authentication-Results", true, HYGIENE_NAME_AR },
        { "AUTHENTICATION-RESULTS", true, HYGIENE_NAME_AR },
        { "authentication-results", true, HYGIENE_NAME_AR },
        { "Authentication-Results ", true, HYGIENE_NAME_AR },
        { "Authentication-Results\t ", true, HYGIENE_NAME_AR },
        { "X-Authentication-Results", true, HYGIENE_NAME_XAR },
        { "x-authentication-results", true, HYGIENE_NAME_XAR },
        { "Authentication-Results-Original", false, HYGIENE_NAME_AR },
        { "ARC-Authentication-Results", false, HYGIENE_NAME_AR },
        { " Authentication-Results", false, HYGIENE_NAME_AR },
        { "", false, HYGIENE_NAME_AR },
    };
    hygiene_name which;

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool is = hygiene_field_name(cases[i].name, &which);

        if (is != cases[i].is || (is && which != cases[i].which))
            fail_msg("\"%s\": %d %d", cases[i].name, is, (int) which);
    }
    assert_false(hygiene_field_name(NULL, &which));
    assert_string_equal(hygiene_name_text(HYGIENE_NAME_AR), "Authentication-Results");
    assert_string_equal(hygiene_name_text(HYGIENE_NAME_XAR), "X-Authentication-Results");
}

/* A message: indexes count each field name apart; removals come each name highest first. */
static void test_message(void **state)
{
    static const struct { const char *name, *value; } fields[] = {
        { "Received", "from a by b" },
        { "Authentication-Results", "mx.dest.test; dane=pass" },              /* AR 1: ours */
        { "Subject", "mx.dest.test; dane=pass" },                             /* neither */
        { "authentication-results", "other.example; spf=pass" },              /* AR 2: kept */
        { "X-Authentication-Results", "mx.dest.test; dane=pass" },            /* XAR 1: ours */
        { "AUTHENTICATION-RESULTS", "SUB.mx.dest.test; dkim=pass" },          /* AR 3: under */
        { "Authentication-Results", "relay.dest.test; dkim=pass" },           /* AR 4: trusted */
        { "X-Authentication-Results", "other.example; spf=pass" },            /* XAR 2: kept */
        { "Authentication-Results", "(garbage" },                             /* AR 5: unparseable */
        { "x-authentication-results", "(garbage" },                           /* XAR 3: unparseable */
        { "Authentication-Results", "\"MX.DEST.TEST\"; dane=pass" },          /* AR 6: ours */
    };
    static const struct { hygiene_name name; size_t index; } want[] = {
        { HYGIENE_NAME_AR, 6 }, { HYGIENE_NAME_XAR, 3 }, { HYGIENE_NAME_AR, 5 },
        { HYGIENE_NAME_AR, 3 }, { HYGIENE_NAME_XAR, 1 }, { HYGIENE_NAME_AR, 1 },
    };
    static hygiene h;
    hygiene_removal rm;
    netaddr a;
    hygiene_rules r = rules_for("192.0.2.8", &a);
    size_t n = 0, last[HYGIENE_NAMES] = { 0, 0 };

    (void) state;
    hygiene_init(&h);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        (void) hygiene_header(&h, &r, fields[i].name, fields[i].value, NULL, 0);
    assert_int_equal(h.seen[HYGIENE_NAME_AR], 6);
    assert_int_equal(h.seen[HYGIENE_NAME_XAR], 3);
    assert_false(h.too_many);
    while (hygiene_next_removal(&h, &rm)) {
        assert_true(n < sizeof(want) / sizeof(want[0]));
        assert_int_equal(rm.name, want[n].name);
        assert_int_equal(rm.index, want[n].index);
        if (last[rm.name] != 0)
            assert_true(rm.index < last[rm.name]);     /* highest first within a name */
        last[rm.name] = rm.index;
        n++;
    }
    assert_int_equal(n, 6);
    assert_false(hygiene_next_removal(&h, &rm));

    /* a new message starts from nothing */
    hygiene_init(&h);
    assert_int_equal(hygiene_header(&h, &r, "Authentication-Results", "other.example; none", NULL, 0),
                     HYGIENE_KEEP_OTHER);
    assert_int_equal(h.seen[HYGIENE_NAME_AR], 1);
    assert_false(hygiene_next_removal(&h, &rm));
    assert_int_equal(hygiene_header(&h, &r, "Subject", "x", NULL, 0), HYGIENE_NOT_AR);
}

/* More removals than remembered: the message is marked too_many, what fits is kept. */
static void test_too_many(void **state)
{
    static hygiene h;           /* 16 KiB: keep it off the stack */
    hygiene_rules r = { SERVID, NULL, 0, NULL, 0, NULL };
    hygiene_removal rm;
    size_t n = 0, last = 0;

    (void) state;
    hygiene_init(&h);
    for (size_t i = 0; i < HYGIENE_REMOVE_MAX; i++)
        assert_int_equal(hygiene_header(&h, &r, "Authentication-Results", "mx.dest.test; none", NULL, 0),
                         HYGIENE_REMOVE_OURS);
    assert_false(h.too_many);
    /* a kept field does not count against the bound */
    assert_int_equal(hygiene_header(&h, &r, "Authentication-Results", "other.example; none", NULL, 0),
                     HYGIENE_KEEP_OTHER);
    assert_false(h.too_many);
    assert_int_equal(hygiene_header(&h, &r, "X-Authentication-Results", "mx.dest.test; none", NULL, 0),
                     HYGIENE_TOO_MANY);
    assert_true(h.too_many);
    assert_int_equal(h.seen[HYGIENE_NAME_AR], HYGIENE_REMOVE_MAX + 1);
    while (hygiene_next_removal(&h, &rm)) {
        if (n > 0)
            assert_true(rm.index < last);
        last = rm.index;
        n++;
    }
    assert_int_equal(n, HYGIENE_REMOVE_MAX);
    assert_int_equal(last, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_plain),
        cmocka_unit_test(test_field_name),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_too_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
