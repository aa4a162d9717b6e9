/*
 * test_identity.c - unit tests for identity.c: the name gate in front of the
 * resolver (hostile input of every kind), owner names, look-up scope and the
 * domain of an envelope sender.
 *
 * Every input is copied into a heap block of exactly its size, so that under
 * ASan a read beyond the terminating NUL is caught.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/identity.h"

/* dup_exact - heap copy of s in a block of exactly strlen(s) + 1 bytes. */
static char *dup_exact(const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);

    assert_non_null(copy);
    memcpy(copy, s, len);
    return copy;
}

/* make_name - a host name of exactly len octets: 63-octet labels of 'a', then a shorter one. */
static char *make_name(size_t len, const char *suffix)
{
    size_t slen = strlen(suffix);
    char *name = malloc(len + slen + 1);

    assert_non_null(name);
    for (size_t i = 0; i < len; i++)
        name[i] = (i % 64 == 63) ? '.' : 'a';
    assert_true(len == 0 || name[len - 1] != '.');
    memcpy(name + len, suffix, slen + 1);
    return name;
}

/* make_label_name - before, then n copies of c, then after. */
static char *make_label_name(const char *before, size_t n, char c, const char *after)
{
    size_t blen = strlen(before), alen = strlen(after);
    char *name = malloc(blen + n + alen + 1);

    assert_non_null(name);
    memcpy(name, before, blen);
    memset(name + blen, c, n);
    memcpy(name + blen + n, after, alen + 1);
    return name;
}

enum gate { GATE_NAME, GATE_OWNER, GATE_MAIL };

/* gate_expect - run one gate on in; check status, output and that out is a string. */
static void gate_expect(enum gate gate, const char *in, identity_status want, const char *want_out)
{
    char *copy = dup_exact(in);
    char out[IDENTITY_NAME_MAX + 1];
    identity_status got;

    memset(out, '#', sizeof(out));
    switch (gate) {
    case GATE_NAME:
        got = identity_normalize(copy, out);
        break;
    case GATE_OWNER:
        got = identity_normalize_owner(copy, out);
        break;
    case GATE_MAIL:
        got = identity_mail_domain(copy, out);
        break;
    default:
        fail();
    }
    if (got != want)
        fail_msg("gate %d on \"%.80s\" (%zu octets): got \"%s\", want \"%s\"", (int) gate, in,
                 strlen(in), identity_status_str(got), identity_status_str(want));
    if (want == IDENTITY_OK)
        assert_string_equal(out, want_out);
    else
        assert_string_equal(out, "");
    assert_int_equal(out[IDENTITY_NAME_MAX], '#');      /* nothing beyond the array */
    free(copy);
}

struct gate_case {
    const char *in;
    identity_status status;
    const char *out;            /* IDENTITY_OK only */
};

static const struct gate_case name_cases[] = {
    /* good names, folded and with one trailing dot dropped */
    { "mail.example.com", IDENTITY_OK, "mail.example.com" },
    { "Mail.EXAMPLE.Com", IDENTITY_OK, "mail.example.com" },
    { "mail.example.com.", IDENTITY_OK, "mail.example.com" },
    { "a.b", IDENTITY_OK, "a.b" },
    { "a-b.x--y.example", IDENTITY_OK, "a-b.x--y.example" },
    { "xn--bcher-kva.example", IDENTITY_OK, "xn--bcher-kva.example" },
    { "XN--BCHER-KVA.Example", IDENTITY_OK, "xn--bcher-kva.example" },
    { "1.2.3.com", IDENTITY_OK, "1.2.3.com" },
    { "123.example", IDENTITY_OK, "123.example" },
    { "mx1.example.c0m", IDENTITY_OK, "mx1.example.c0m" },
    /* empty */
    { "", IDENTITY_EMPTY, NULL },
    { ".", IDENTITY_EMPTY, NULL },
    /* empty labels */
    { "..", IDENTITY_EMPTY_LABEL, NULL },
    { ".example.com", IDENTITY_EMPTY_LABEL, NULL },
    { "mail..example.com", IDENTITY_EMPTY_LABEL, NULL },
    { "mail.example.com..", IDENTITY_EMPTY_LABEL, NULL },
    /* single labels */
    { "localhost", IDENTITY_SINGLE_LABEL, NULL },
    { "localhost.", IDENTITY_SINGLE_LABEL, NULL },
    { "LOCALHOST", IDENTITY_SINGLE_LABEL, NULL },
    /* IP literals */
    { "1.2.3.4", IDENTITY_IP_LITERAL, NULL },
    { "192.0.2.1.", IDENTITY_IP_LITERAL, NULL },
    { "[127.0.0.1]", IDENTITY_IP_LITERAL, NULL },
    { "[IPv6:::1]", IDENTITY_IP_LITERAL, NULL },
    { "[IPv6:2001:db8::1]", IDENTITY_IP_LITERAL, NULL },
    { "host.example.123", IDENTITY_IP_LITERAL, NULL },
    { "0x7f.1", IDENTITY_IP_LITERAL, NULL },
    { "127", IDENTITY_IP_LITERAL, NULL },
    { "::1", IDENTITY_BAD_CHAR, NULL },
    { "127.0.0.1:25", IDENTITY_BAD_CHAR, NULL },
    /* hyphens */
    { "-mail.example.com", IDENTITY_BAD_HYPHEN, NULL },
    { "mail-.example.com", IDENTITY_BAD_HYPHEN, NULL },
    { "mail.example.com-", IDENTITY_BAD_HYPHEN, NULL },
    { "mail.-.com", IDENTITY_BAD_HYPHEN, NULL },
    /* bad characters */
    { "mail_1.example.com", IDENTITY_BAD_CHAR, NULL },
    { "_smtp-client.example.com", IDENTITY_BAD_CHAR, NULL },
    { "mail.example.com\r\n", IDENTITY_BAD_CHAR, NULL },
    { "mail.example.com\n", IDENTITY_BAD_CHAR, NULL },
    { "mail\r.example.com", IDENTITY_BAD_CHAR, NULL },
    { "mail.example.com;rm -rf", IDENTITY_BAD_CHAR, NULL },
    { "mail.example.com;", IDENTITY_BAD_CHAR, NULL },
    { "mail example.com", IDENTITY_BAD_CHAR, NULL },
    { " mail.example.com", IDENTITY_BAD_CHAR, NULL },
    { "mail.example.com ", IDENTITY_BAD_CHAR, NULL },
    { "user@example.com", IDENTITY_BAD_CHAR, NULL },
    { "*.example.com", IDENTITY_BAD_CHAR, NULL },
    { "exa/mple.com", IDENTITY_BAD_CHAR, NULL },
    { "a\tb.example.com", IDENTITY_BAD_CHAR, NULL },
    { "mail.example.com\x01", IDENTITY_BAD_CHAR, NULL },
    { "mail.example.com\x7f", IDENTITY_BAD_CHAR, NULL },
    { "b\xc3\xbc" "cher.example", IDENTITY_BAD_CHAR, NULL },        /* U-label */
    { "mail.example.\xff", IDENTITY_BAD_CHAR, NULL },
    /* an embedded NUL ends the string: only "exa" is seen */
    { "exa\0mple.com", IDENTITY_SINGLE_LABEL, NULL },
};

static const struct gate_case owner_cases[] = {
    { "_smtp-client.mail.example.com", IDENTITY_OK, "_smtp-client.mail.example.com" },
    { "_25._tcp.Mail.Example.COM.", IDENTITY_OK, "_25._tcp.mail.example.com" },
    { "_tcp.example", IDENTITY_OK, "_tcp.example" },
    { "mail.example.com", IDENTITY_OK, "mail.example.com" },
    { "_smtp-client", IDENTITY_SINGLE_LABEL, NULL },
    { "_.example.com", IDENTITY_BAD_CHAR, NULL },
    { "__x.example.com", IDENTITY_BAD_CHAR, NULL },
    { "a_b.example.com", IDENTITY_BAD_CHAR, NULL },
    { "x_.example.com", IDENTITY_BAD_CHAR, NULL },
    { "_smtp client.example.com", IDENTITY_BAD_CHAR, NULL },
    { "_smtp-client.example.com\r\n", IDENTITY_BAD_CHAR, NULL },
    { "_smtp-client.[1.2.3.4]", IDENTITY_BAD_CHAR, NULL },
    { "_-x.example.com", IDENTITY_BAD_HYPHEN, NULL },
    { "_x-.example.com", IDENTITY_BAD_HYPHEN, NULL },
    { "[1.2.3.4]", IDENTITY_IP_LITERAL, NULL },
    { "_25._tcp.192.0.2.1", IDENTITY_IP_LITERAL, NULL },
    { "", IDENTITY_EMPTY, NULL },
    { ".", IDENTITY_EMPTY, NULL },
    { "_25.._tcp.example.com", IDENTITY_EMPTY_LABEL, NULL },
};

static const struct gate_case mail_cases[] = {
    { "user@Example.COM", IDENTITY_OK, "example.com" },
    { "<user@example.com>", IDENTITY_OK, "example.com" },
    { "\"quoted@local\"@example.com", IDENTITY_OK, "example.com" },
    { "<\"a@b\"@Mail.Example.com.>", IDENTITY_OK, "mail.example.com" },
    { "<@relay.example,@hop.example:user@example.net>", IDENTITY_OK, "example.net" },
    { "", IDENTITY_EMPTY, NULL },
    { "<>", IDENTITY_EMPTY, NULL },
    { "postmaster", IDENTITY_EMPTY, NULL },
    { "<postmaster>", IDENTITY_EMPTY, NULL },
    { "user@", IDENTITY_EMPTY, NULL },
    { "<user@>", IDENTITY_EMPTY, NULL },
    { "user@[1.2.3.4]", IDENTITY_IP_LITERAL, NULL },
    { "<user@[IPv6:::1]>", IDENTITY_IP_LITERAL, NULL },
    { "user@1.2.3.4", IDENTITY_IP_LITERAL, NULL },
    { "<", IDENTITY_BAD_CHAR, NULL },
    { "<user@example.com", IDENTITY_BAD_CHAR, NULL },
    { "user@example.com>", IDENTITY_BAD_CHAR, NULL },
    { "user@exa_mple.com", IDENTITY_BAD_CHAR, NULL },
    { "user@example.com\r\n", IDENTITY_BAD_CHAR, NULL },
    { "user@b\xc3\xbc" "cher.example", IDENTITY_BAD_CHAR, NULL },
    { "user@localhost", IDENTITY_SINGLE_LABEL, NULL },
    { "user@-example.com", IDENTITY_BAD_HYPHEN, NULL },
    { "user@.example.com", IDENTITY_EMPTY_LABEL, NULL },
};

static void run_cases(enum gate gate, const struct gate_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gate_expect(gate, cases[i].in, cases[i].status, cases[i].out);
}

static void test_normalize_table(void **state)
{
    (void) state;
    run_cases(GATE_NAME, name_cases, sizeof(name_cases) / sizeof(name_cases[0]));
}

static void test_normalize_owner_table(void **state)
{
    (void) state;
    run_cases(GATE_OWNER, owner_cases, sizeof(owner_cases) / sizeof(owner_cases[0]));
}

static void test_mail_domain_table(void **state)
{
    (void) state;
    run_cases(GATE_MAIL, mail_cases, sizeof(mail_cases) / sizeof(mail_cases[0]));
}

/* Length limits: 253 octets in all (after one trailing dot), 63 per label. */
static void test_lengths(void **state)
{
    const enum gate gates[] = { GATE_NAME, GATE_OWNER };
    char *name;

    (void) state;
    for (size_t g = 0; g < sizeof(gates) / sizeof(gates[0]); g++) {
        name = make_name(253, "");
        gate_expect(gates[g], name, IDENTITY_OK, name);
        free(name);

        name = make_name(253, ".");             /* 254 characters with the dot */
        {
            char *want = make_name(253, "");

            gate_expect(gates[g], name, IDENTITY_OK, want);
            free(want);
        }
        free(name);

        name = make_name(254, "");
        gate_expect(gates[g], name, IDENTITY_TOO_LONG, NULL);
        free(name);

        name = make_name(253, "..");            /* two trailing dots, 255 characters */
        gate_expect(gates[g], name, IDENTITY_TOO_LONG, NULL);
        free(name);

        name = make_name(255, "");
        gate_expect(gates[g], name, IDENTITY_TOO_LONG, NULL);
        free(name);

        /* hostile: far too long, and never read to the end */
        name = make_name(100000, "");
        gate_expect(gates[g], name, IDENTITY_TOO_LONG, NULL);
        free(name);
    }

    /* a 63-octet label passes, 64 octets do not, wherever the label is */
    {
        const struct { const char *before, *after; } places[] = {
            { "", ".example.com" }, { "mail.", ".com" }, { "a.", "" },
        };

        for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
            name = make_label_name(places[i].before, 63, 'b', places[i].after);
            gate_expect(GATE_NAME, name, IDENTITY_OK, name);
            gate_expect(GATE_OWNER, name, IDENTITY_OK, name);
            free(name);
            name = make_label_name(places[i].before, 64, 'b', places[i].after);
            gate_expect(GATE_NAME, name, IDENTITY_LABEL_TOO_LONG, NULL);
            gate_expect(GATE_OWNER, name, IDENTITY_LABEL_TOO_LONG, NULL);
            free(name);
        }
        /* the underscore counts towards the 63 */
        name = make_label_name("_", 62, 'b', ".example");
        gate_expect(GATE_OWNER, name, IDENTITY_OK, name);
        free(name);
        name = make_label_name("_", 63, 'b', ".example");
        gate_expect(GATE_OWNER, name, IDENTITY_LABEL_TOO_LONG, NULL);
        free(name);
    }

    /* an envelope domain obeys the same limits */
    name = make_name(253, "");
    {
        char *addr = malloc(strlen(name) + 3);

        assert_non_null(addr);
        strcpy(addr, "u@");
        strcat(addr, name);
        gate_expect(GATE_MAIL, addr, IDENTITY_OK, name);
        free(addr);
    }
    free(name);
    name = make_name(100000, "");
    name[0] = '@';
    gate_expect(GATE_MAIL, name, IDENTITY_TOO_LONG, NULL);
    free(name);
}

struct owner_case {
    const char *name;
    identity_owner_kind kind;
    identity_status status;
    const char *owner;
};

static const struct owner_case owner_build_cases[] = {
    { "mail.example.com", IDENTITY_OWNER_CLIENT, IDENTITY_OK, "_smtp-client.mail.example.com" },
    { "mail.example.com", IDENTITY_OWNER_SERVER, IDENTITY_OK, "_25._tcp.mail.example.com" },
    { "a.b", IDENTITY_OWNER_CLIENT, IDENTITY_OK, "_smtp-client.a.b" },
    { "", IDENTITY_OWNER_CLIENT, IDENTITY_EMPTY, NULL },
    { "localhost", IDENTITY_OWNER_SERVER, IDENTITY_SINGLE_LABEL, NULL },
    { "[127.0.0.1]", IDENTITY_OWNER_CLIENT, IDENTITY_IP_LITERAL, NULL },
    { "bad_name.example", IDENTITY_OWNER_CLIENT, IDENTITY_BAD_CHAR, NULL },
};

static void owner_expect(const char *name, identity_owner_kind kind,
                         identity_status want, const char *want_owner)
{
    char *copy = dup_exact(name);
    char out[IDENTITY_OWNER_MAX];
    identity_status got = identity_owner(copy, kind, out);

    if (got != want)
        fail_msg("owner %d of \"%.80s\": got \"%s\", want \"%s\"", (int) kind, name,
                 identity_status_str(got), identity_status_str(want));
    if (want == IDENTITY_OK) {
        char again[IDENTITY_OWNER_MAX];

        assert_string_equal(out, want_owner);
        /* an owner we build passes the owner gate unchanged */
        assert_int_equal(identity_normalize_owner(out, again), IDENTITY_OK);
        assert_string_equal(again, out);
    } else {
        assert_string_equal(out, "");
    }
    free(copy);
}

static void test_owner(void **state)
{
    const size_t client = strlen("_smtp-client."), server = strlen("_25._tcp.");
    char *name, *want;

    (void) state;
    for (size_t i = 0; i < sizeof(owner_build_cases) / sizeof(owner_build_cases[0]); i++) {
        const struct owner_case *c = &owner_build_cases[i];

        owner_expect(c->name, c->kind, c->status, c->owner);
    }

    /* the owner name must fit in 253 octets too */
    name = make_name(253 - client, "");
    want = malloc(254);
    assert_non_null(want);
    strcpy(want, "_smtp-client.");
    strcat(want, name);
    assert_int_equal(strlen(want), 253);
    owner_expect(name, IDENTITY_OWNER_CLIENT, IDENTITY_OK, want);
    free(name);
    name = make_name(254 - client, "");
    owner_expect(name, IDENTITY_OWNER_CLIENT, IDENTITY_TOO_LONG, NULL);
    free(name);

    name = make_name(253 - server, "");
    strcpy(want, "_25._tcp.");
    strcat(want, name);
    owner_expect(name, IDENTITY_OWNER_SERVER, IDENTITY_OK, want);
    free(name);
    name = make_name(254 - server, "");
    owner_expect(name, IDENTITY_OWNER_SERVER, IDENTITY_TOO_LONG, NULL);
    free(name);
    free(want);
}

struct scope_case {
    const char *name;
    bool in_scope;
};

static void test_in_scope(void **state)
{
    const char *const domains[] = { "example.com", "mail.example.org" };
    const struct scope_case cases[] = {
        { "example.com", true },
        { "mx.example.com", true },
        { "a.b.example.com", true },
        { "evilexample.com", false },           /* not a label boundary */
        { "xample.com", false },
        { "example.com.evil.net", false },
        { "com", false },
        { "example.co", false },
        { "example.org", false },               /* parent of a scope domain */
        { "mail.example.org", true },
        { "smtp.mail.example.org", true },
        { "xmail.example.org", false },
        { "other.example.net", false },
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *name = dup_exact(cases[i].name);

        if (identity_in_scope(name, domains, 2) != cases[i].in_scope)
            fail_msg("scope of \"%s\": want %s", cases[i].name, cases[i].in_scope ? "in" : "out");
        /* with no domains configured, everything is in scope */
        assert_true(identity_in_scope(name, NULL, 0));
        assert_true(identity_in_scope(name, domains, 0));
        free(name);
    }
    /* only the first n domains count */
    assert_false(identity_in_scope("mail.example.org", domains, 1));
}

static void test_status_str(void **state)
{
    const identity_status all[] = {
        IDENTITY_OK, IDENTITY_EMPTY, IDENTITY_TOO_LONG, IDENTITY_LABEL_TOO_LONG,
        IDENTITY_EMPTY_LABEL, IDENTITY_BAD_CHAR, IDENTITY_BAD_HYPHEN,
        IDENTITY_SINGLE_LABEL, IDENTITY_IP_LITERAL, IDENTITY_OUT_OF_SCOPE
    };

    (void) state;
    assert_string_equal(identity_status_str(IDENTITY_OK), "ok");
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_true(strlen(identity_status_str(all[i])) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(identity_status_str(all[i]), identity_status_str(all[j]));
    }
}

/* ------------------------------------------------------ names in a list */

struct authorized_case {
    const char *name;               /* normalized, as the daemon passes it */
    bool authorized;
};

static const struct authorized_case authorized_cases[] = {
    { "mta.partner.example", true },        /* listed exactly */
    { "MTA.Partner.Example", true },        /* case does not matter */
    { "x.mta.partner.example", false },     /* an exact entry covers no sub-names */
    { "partner.example", false },
    { "ta.partner.example", false },        /* no partial label */
    { "a.example.net", true },              /* ".example.net": names under it */
    { "a.b.example.net", true },
    { "A.EXAMPLE.NET", true },
    { "example.net", false },               /* ... but not the domain itself */
    { "badexample.net", false },            /* label boundary */
    { "a.badexample.net", false },
    { "example.net.evil.example", false },
    { "a.example.net.evil.example", false },
    { "a.example.ne", false },
    { "x.co.example", true },
    { "co.example", false },
    { "net", false },
    { "", false },
    { ".example.net", false },              /* not a normalized name: never matches */
};

/* identity_in_list: the authorized_clients rule, with the list as the configuration keeps it. */
static void test_authorized(void **state)
{
    static const char *const list[] = { ".example.net", "mta.partner.example", ".co.example" };

    (void) state;
    for (size_t i = 0; i < sizeof(authorized_cases) / sizeof(authorized_cases[0]); i++) {
        const struct authorized_case *c = &authorized_cases[i];

        if (identity_in_list(c->name, list, 3) != c->authorized)
            fail_msg("\"%s\" should%s be authorized", c->name, c->authorized ? "" : " not");
    }
    /* the default: nobody */
    for (size_t i = 0; i < sizeof(authorized_cases) / sizeof(authorized_cases[0]); i++)
        assert_false(identity_in_list(authorized_cases[i].name, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorized),
        cmocka_unit_test(test_normalize_table),
        cmocka_unit_test(test_normalize_owner_table),
        cmocka_unit_test(test_mail_domain_table),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_owner),
        cmocka_unit_test(test_in_scope),
        cmocka_unit_test(test_status_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
