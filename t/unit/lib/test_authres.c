/*
 * test_authres.c - unit tests for authres.c: formatting of the
 * Authentication-Results field (validation, comment escaping, folding,
 * bounded output) and robust reading of a received field's authserv-id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/authres.h"

#define NAME "Authentication-Results: "

/*
 * check_folding - every line of a formatted field is at most 998 octets;
 * one over 78 holds a single word; continuation lines start with one tab;
 * no CR and no trailing white space.  Returns the number of lines.
 */
static size_t check_folding(const char *field)
{
    size_t lines = 0;
    const char *line = field;

    for (;;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t) (end - line) : strlen(line);

        lines++;
        assert_true(len <= 998);
        assert_true(len > 0);
        assert_null(memchr(line, '\r', len));
        assert_true(line[len - 1] != ' ' && line[len - 1] != '\t');
        if (line != field) {
            assert_int_equal(line[0], '\t');
            if (len > 78)       /* a single word: no space after the tab */
                assert_null(memchr(line + 1, ' ', len - 1));
        } else {
            assert_true(len <= 78 || memchr(line + strlen(NAME), ' ', len - strlen(NAME)) == NULL);
        }
        if (end == NULL)
            break;
        line = end + 1;
    }
    return lines;
}

/* unfold - replace each "\n\t" by a space (what a reader sees after unfolding). */
static void unfold(const char *in, char *out, size_t outsize)
{
    size_t len = 0;

    for (; *in != '\0'; in++) {
        assert_true(len + 1 < outsize);
        if (in[0] == '\n') {
            assert_int_equal(in[1], '\t');
            in++;
            out[len++] = ' ';
        } else {
            out[len++] = *in;
        }
    }
    out[len] = '\0';
}

/* ------------------------------------------------------------ formatting */

static void test_format_example(void **state)
{
    (void) state;
    const authres_item items[] = {
        { "pass", "matched 3 1 1 _smtp-client.mta.example.net", "smtp", "helo", "mta.example.net" },
        { "none", "no TLSA records", "smtp", "mailfrom", "example.net" },
    };
    char out[AUTHRES_FIELD_MAX];

    assert_int_equal(authres_format("mx.example.org", items, 2, 1, out, sizeof(out)), AUTHRES_OK);
    assert_string_equal(out,
        "Authentication-Results: mx.example.org;\n"
        "\tdane=pass (matched 3 1 1 _smtp-client.mta.example.net)\n"
        "\tsmtp.helo=mta.example.net;\n"
        "\tdane=none (no TLSA records) smtp.mailfrom=example.net");
    assert_int_equal(check_folding(out), 4);

    /* Without the name: the same text after it. */
    char bare[AUTHRES_FIELD_MAX];

    assert_int_equal(authres_format("mx.example.org", items, 2, 0, bare, sizeof(bare)), AUTHRES_OK);
    assert_string_equal(bare, out + strlen(NAME));
}

static void test_format_none(void **state)
{
    (void) state;
    char out[128];

    assert_int_equal(authres_format("mx.example.org", NULL, 0, 1, out, sizeof(out)), AUTHRES_OK);
    assert_string_equal(out, "Authentication-Results: mx.example.org; none");
    assert_int_equal(authres_format("mx.example.org", NULL, 0, 0, out, sizeof(out)), AUTHRES_OK);
    assert_string_equal(out, "mx.example.org; none");
}

static void test_format_no_reason_no_property(void **state)
{
    (void) state;
    const authres_item items[] = {
        { "temperror", NULL, "smtp", "helo", "a.example" },
        { "neutral", "", "smtp", "helo", "b.example" },
        { "permerror", "   ", NULL, NULL, NULL },
    };
    char out[512];

    assert_int_equal(authres_format("MX-1.Example.ORG", items, 3, 0, out, sizeof(out)), AUTHRES_OK);
    assert_string_equal(out, "MX-1.Example.ORG;\n"
                        "\tdane=temperror smtp.helo=a.example;\n"
                        "\tdane=neutral smtp.helo=b.example;\n"
                        "\tdane=permerror");
}

/* Each reason and the comment it must produce (NULL: no comment at all). */
struct escape_case {
    const char *reason;
    const char *comment;
};

static const struct escape_case escape_cases[] = {
    { "plain words", "(plain words)" },
    { "a(b)c", "(a\\(b\\)c)" },
    { "((nested))", "(\\(\\(nested\\)\\))" },
    { ")", "(\\))" },
    { "back\\slash", "(back\\\\slash)" },
    { "trailing\\", "(trailing\\\\)" },
    { "tab\there", "(tab?here)" },
    { "cr\r\nlf", "(cr??lf)" },
    { "bell\a del\x7f", "(bell? del?)" },
    { "esc\x1b[0m", "(esc?[0m)" },
    { "caf\xc3\xa9 \xe2\x9c\x93", "(caf?\? ?\?\?)" },
    { "\xff\xfe", "(?\?)" },
    { "  lots   of  spaces  ", "(lots of spaces)" },
    { "bogus: RRSIG expired; \"why\"", "(bogus: RRSIG expired; \"why\")" },
    { "", NULL },
    { "     ", NULL },
    { NULL, NULL },
};

static void test_format_escaping(void **state)
{
    (void) state;
    char out[AUTHRES_FIELD_MAX], expect[AUTHRES_FIELD_MAX];

    for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
        const struct escape_case *c = &escape_cases[i];
        authres_item item = { "fail", c->reason, "smtp", "helo", "mta.example.net" };

        assert_int_equal(authres_format("mx.example.org", &item, 1, 0, out, sizeof(out)), AUTHRES_OK);
        check_folding(out);
        if (c->comment)
            snprintf(expect, sizeof(expect), "mx.example.org;\n\tdane=fail %s smtp.helo=mta.example.net",
                     c->comment);
        else
            snprintf(expect, sizeof(expect), "mx.example.org;\n\tdane=fail smtp.helo=mta.example.net");
        /* short enough not to fold: compare exactly */
        assert_string_equal(out, expect);
    }
}

/* The comment of a formatted single item, unfolded (between "dane=fail " and " smtp."). */
static void comment_of(const char *reason, char *comment, size_t size)
{
    authres_item item = { "fail", reason, "smtp", "helo", "x.example" };
    char out[AUTHRES_FIELD_MAX], flat[AUTHRES_FIELD_MAX];
    const char *start, *end;

    assert_int_equal(authres_format("mx.example.org", &item, 1, 1, out, sizeof(out)), AUTHRES_OK);
    check_folding(out);
    unfold(out, flat, sizeof(flat));
    start = strstr(flat, "dane=fail (");
    end = strstr(flat, ") smtp.helo=x.example");
    assert_non_null(start);
    assert_non_null(end);
    start += strlen("dane=fail ");
    assert_true((size_t) (end + 1 - start) < size);
    memcpy(comment, start, (size_t) (end + 1 - start));
    comment[end + 1 - start] = '\0';
}

static void test_format_reason_cap(void **state)
{
    (void) state;
    char reason[1000], comment[1000];

    /* 200 bytes are kept as they are. */
    memset(reason, 'r', 200);
    reason[200] = '\0';
    comment_of(reason, comment, sizeof(comment));
    assert_int_equal(strlen(comment), 202);

    /* Longer ones are cut at 200 and marked. */
    memset(reason, 'r', 999);
    reason[999] = '\0';
    comment_of(reason, comment, sizeof(comment));
    assert_int_equal(strlen(comment), 1 + 200 + 3 + 1);
    assert_memory_equal(comment + 201, "...)", 4);

    /* Escapes double the bytes but never the count of reason bytes kept. */
    memset(reason, '(', 999);
    reason[999] = '\0';
    comment_of(reason, comment, sizeof(comment));
    assert_int_equal(strlen(comment), 1 + 400 + 3 + 1);
}

static void test_format_folding_long_reason(void **state)
{
    (void) state;
    const char *reason =
        "validation failure <_smtp-client.mta.example.net. TLSA IN>: signature expired "
        "from 192.0.2.53 for key example.net. while building chain of trust, and more words "
        "to make this reason take several lines once it has been folded";
    authres_item items[] = {
        { "temperror", reason, "smtp", "helo", "mta.example.net" },
        { "temperror", reason, "smtp", "mailfrom", "example.net" },
    };
    char out[AUTHRES_FIELD_MAX], flat[AUTHRES_FIELD_MAX], expect[AUTHRES_FIELD_MAX], cut[201];
    size_t len;

    assert_int_equal(authres_format("mx.example.org", items, 2, 1, out, sizeof(out)), AUTHRES_OK);
    assert_true(check_folding(out) >= 6);
    /* Folding only replaced spaces: unfolded, it reads as one line. */
    unfold(out, flat, sizeof(flat));
    assert_true(strlen(reason) > 200);
    len = (size_t) snprintf(cut, sizeof(cut), "%.200s", reason);
    while (len > 0 && cut[len - 1] == ' ')
        cut[--len] = '\0';              /* the cut is made at a word end */
    snprintf(expect, sizeof(expect),
             NAME "mx.example.org; dane=temperror (%s...) smtp.helo=mta.example.net;"
             " dane=temperror (%s...) smtp.mailfrom=example.net", cut, cut);
    assert_string_equal(flat, expect);
}

static void test_format_folding_long_word(void **state)
{
    (void) state;
    char reason[200], value[254], out[AUTHRES_FIELD_MAX];
    authres_item item = { "pass", reason, "smtp", "helo", value };

    /* One 150-byte word and a 253-octet value each go on a line of their own. */
    memset(reason, 'w', 150);
    reason[150] = '\0';
    memcpy(value, "a.", 2);
    for (size_t i = 2; i < 253; i++)
        value[i] = (i % 60 == 0) ? '.' : 'v';
    value[253] = '\0';
    assert_int_equal(authres_format("mx.example.org", &item, 1, 1, out, sizeof(out)), AUTHRES_OK);
    assert_int_equal(check_folding(out), 4);
    assert_non_null(strstr(out, "\n\t(wwww"));
    assert_non_null(strstr(out, "w)\n\tsmtp.helo=a.v"));
}

static void test_format_many_items(void **state)
{
    (void) state;
    enum { N = 40 };
    authres_item items[N];
    char names[N][32], out[AUTHRES_FIELD_MAX], flat[AUTHRES_FIELD_MAX];
    size_t lines;

    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "host%zu.example.net", i);
        items[i] = (authres_item) { (i % 2) ? "pass" : "none", "no TLSA records", "smtp", "helo", names[i] };
    }
    assert_int_equal(authres_format("mx.example.org", items, N, 1, out, sizeof(out)), AUTHRES_OK);
    lines = check_folding(out);
    assert_true(lines == N + 1);
    unfold(out, flat, sizeof(flat));
    /* every resinfo is there, in order, separated by ";" */
    const char *p = flat;

    for (size_t i = 0; i < N; i++) {
        char want[80];

        snprintf(want, sizeof(want), "; dane=%s (no TLSA records) smtp.helo=%s",
                 items[i].result, names[i]);
        p = strstr(p, want);
        assert_non_null(p);
        p += strlen(want);
    }
    assert_string_equal(p, "");

    /* Too many for the largest field: refused as a whole. */
    assert_int_equal(authres_format("mx.example.org", items, N, 1, out, 1024), AUTHRES_TOO_LONG);
    assert_string_equal(out, "");
}

static void test_format_small_buffer(void **state)
{
    (void) state;
    const authres_item item = { "pass", "matched (3 1 1)", "smtp", "helo", "mta.example.net" };
    char full[AUTHRES_FIELD_MAX], out[AUTHRES_FIELD_MAX];
    size_t need;

    assert_int_equal(authres_format("mx.example.org", &item, 1, 1, full, sizeof(full)), AUTHRES_OK);
    need = strlen(full) + 1;
    for (size_t size = 0; size < need; size++) {
        memset(out, 'x', sizeof(out));
        assert_int_equal(authres_format("mx.example.org", &item, 1, 1, out, size), AUTHRES_TOO_LONG);
        if (size > 0)
            assert_int_equal(out[0], '\0');
        for (size_t i = size; i < sizeof(out); i++)
            assert_int_equal(out[i], 'x');      /* nothing written past size */
    }
    assert_int_equal(authres_format("mx.example.org", &item, 1, 1, out, need), AUTHRES_OK);
    assert_string_equal(out, full);
    /* "none" too */
    assert_int_equal(authres_format("mx.example.org", NULL, 0, 0, out, strlen("mx.example.org; none")),
                     AUTHRES_TOO_LONG);
    assert_string_equal(out, "");
}

static void test_format_bad_servid(void **state)
{
    (void) state;
    char longid[300], out[AUTHRES_FIELD_MAX];
    const authres_item item = { "pass", NULL, "smtp", "helo", "mta.example.net" };
    const char *bad[] = {
        "", "mx example.org", "mx.example.org;", "mx;dane=pass", "a..b", ".example.org",
        "example.org.", ".", "mx\r\n\tX-Evil: 1", "(mx)", "\"mx\"", "mx_1.example",
        "m\xc3\xbc.example", "mx@example.org", longid,
    };

    memset(longid, 'a', sizeof(longid) - 1);
    for (size_t i = 63; i < sizeof(longid) - 1; i += 64)
        longid[i] = '.';
    longid[sizeof(longid) - 1] = '\0';
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strcpy(out, "junk");
        assert_int_equal(authres_format(bad[i], &item, 1, 1, out, sizeof(out)), AUTHRES_BAD_SERVID);
        assert_string_equal(out, "");
    }
    assert_int_equal(authres_format(NULL, &item, 1, 1, out, sizeof(out)), AUTHRES_BAD_SERVID);
    /* a label over 63 octets */
    memset(longid, 'a', 64);
    strcpy(longid + 64, ".example");
    assert_int_equal(authres_format(longid, &item, 1, 1, out, sizeof(out)), AUTHRES_BAD_SERVID);
    /* the longest accepted: 255 octets */
    memset(longid, 'a', 255);
    for (size_t i = 63; i < 255; i += 64)
        longid[i] = '.';
    longid[255] = '\0';
    assert_int_equal(authres_format(longid, &item, 1, 1, out, sizeof(out)), AUTHRES_OK);
    check_folding(out);
}

static void test_format_bad_property(void **state)
{
    (void) state;
    char out[AUTHRES_FIELD_MAX], longval[300];
    const authres_item bad[] = {
        { "passed", NULL, "smtp", "helo", "a.example" },
        { "", NULL, "smtp", "helo", "a.example" },
        { NULL, NULL, "smtp", "helo", "a.example" },
        { "pass (forged)", NULL, "smtp", "helo", "a.example" },
        { "pass", NULL, "smtp;", "helo", "a.example" },
        { "pass", NULL, "", "helo", "a.example" },
        { "pass", NULL, "-smtp", "helo", "a.example" },
        { "pass", NULL, "smtp", "he lo", "a.example" },
        { "pass", NULL, "smtp", "helo-", "a.example" },
        { "pass", NULL, "smtp", "helo", "" },
        { "pass", NULL, "smtp", "helo", "a b.example" },
        { "pass", NULL, "smtp", "helo", "a.example; dkim=pass" },
        { "pass", NULL, "smtp", "helo", "a.example\r\nX-Evil: 1" },
        { "pass", NULL, "smtp", "helo", "a..example" },
        { "pass", NULL, "smtp", "helo", "a.example." },
        { "pass", NULL, "smtp", "helo", "[192.0.2.1]" },
        { "pass", NULL, "smtp", "mailfrom", "user@example.net" },
        { "pass", NULL, "smtp", "helo", "caf\xc3\xa9.example" },
        { "pass", NULL, "smtp", "helo", "\"quoted\"" },
        { "pass", NULL, "smtp", "helo", longval },
        { "pass", NULL, NULL, "helo", "a.example" },
        { "pass", NULL, "smtp", NULL, "a.example" },
        { "pass", NULL, "smtp", "helo", NULL },
    };

    memset(longval, 'a', 254);          /* 254 octets: one too many */
    for (size_t i = 60; i < 254; i += 61)
        longval[i] = '.';
    longval[254] = '\0';
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const authres_item items[2] = { { "pass", NULL, "smtp", "helo", "ok.example" }, bad[i] };

        strcpy(out, "junk");
        assert_int_equal(authres_format("mx.example.org", items, 2, 1, out, sizeof(out)),
                         AUTHRES_BAD_PROPERTY);
        assert_string_equal(out, "");
    }
    /* every RFC 8601 result word is accepted */
    const char *words[] = { "pass", "fail", "neutral", "none", "temperror", "permerror", "policy" };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        const authres_item item = { words[i], NULL, "smtp", "helo", "a-b.example" };

        assert_int_equal(authres_format("mx.example.org", &item, 1, 0, out, sizeof(out)), AUTHRES_OK);
        assert_non_null(strstr(out, words[i]));
    }
}

/* --------------------------------------------------------------- parsing */

/* Each field value and the authserv-id it must yield (NULL: AUTHRES_SYNTAX). */
struct parse_case {
    const char *value;
    const char *servid;
};

static const struct parse_case parse_cases[] = {
    /* plain */
    { "mx.example.org; dane=pass smtp.helo=a.example", "mx.example.org" },
    { "mx.example.org;dkim=pass", "mx.example.org" },
    { "mx.example.org; none", "mx.example.org" },
    { "mx.example.org", "mx.example.org" },
    { "MX.Example.ORG;", "MX.Example.ORG" },
    /* leading CFWS, folding */
    { " mx.example.org; none", "mx.example.org" },
    { "\t \r\n\tmx.example.org\r\n\t; none", "mx.example.org" },
    { "\n mx.example.org\n\t;\n\tspf=pass", "mx.example.org" },
    /* comments, nested, with quoted-pairs */
    { "(comment) mx.example.org; none", "mx.example.org" },
    { "(a (nested (deeper)) comment)mx.example.org(trailing); none", "mx.example.org" },
    { "(escaped \\) paren \\( and \\\\)mx.example.org; none", "mx.example.org" },
    { "(folded\r\n\tcomment) mx.example.org (x); none", "mx.example.org" },
    /* quoted authserv-id */
    { "\"mx.example.org\"; none", "mx.example.org" },
    { " \"mx.example.org\" ; none", "mx.example.org" },
    { "\"mx.\\\"example\\\".org\"; none", "mx.\"example\".org" },
    { "\"has space\"; none", "has space" },
    { "\"fol\r\n\tded\"; none", "fol\tded" },
    /* version */
    { "mx.example.org 1; dane=pass", "mx.example.org" },
    { "mx.example.org 1 ; dane=pass", "mx.example.org" },
    { "mx.example.org (c) 1 (c); dane=pass", "mx.example.org" },
    { "mx.example.org\r\n\t1\r\n\t; dane=pass", "mx.example.org" },
    { "\"mx.example.org\" 1; dane=pass", "mx.example.org" },
    /* token characters beyond a domain name */
    { "mx_1+x!#$%&'*{|}~.example; none", "mx_1+x!#$%&'*{|}~.example" },
    /* garbage */
    { "", NULL },
    { "   ", NULL },
    { "\r\n\t", NULL },
    { "(only a comment)", NULL },
    { "(unbalanced mx.example.org; none", NULL },
    { "((nested) unbalanced mx.example.org; none", NULL },
    { "(trailing backslash \\", NULL },
    { ") mx.example.org; none", NULL },
    { "\"unterminated; none", NULL },
    { "\"unterminated\\\"", NULL },
    { "\"\"; none", NULL },
    { "; dane=pass", NULL },
    { "dane=pass", NULL },
    { "mx.example.org dane=pass", NULL },
    { "mx.example.org 1 2; none", NULL },
    { "mx.example.org 1x; none", NULL },
    { "mx.example.org/1; none", NULL },
    { "mx@example.org; none", NULL },
    { "[mx.example.org]; none", NULL },
    { "\"mx\"x; none", NULL },
    { "m\xc3\xbc.example; none", NULL },
    { "\xff; none", NULL },
    { "(\xc3\xa9) mx.example.org; none", NULL },
    { "\"m\xc3\xbc\"; none", NULL },
    { "mx\x01.example; none", NULL },
    { "\x7f; none", NULL },
    { "\"mx\x7f\"; none", NULL },
    { "(a\x01) mx.example.org", NULL },
};

static void test_parse_cases(void **state)
{
    (void) state;
    char out[AUTHRES_SERVID_MAX];

    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        authres_status st = authres_parse_servid(c->value, out, sizeof(out));

        if (c->servid) {
            if (st != AUTHRES_OK)
                fail_msg("case %zu \"%s\": %s", i, c->value, authres_status_str(st));
            assert_string_equal(out, c->servid);
        } else {
            if (st != AUTHRES_SYNTAX)
                fail_msg("case %zu \"%s\": expected syntax error, got %d \"%s\"", i, c->value, st, out);
            assert_string_equal(out, "");
        }
    }
    assert_int_equal(authres_parse_servid(NULL, out, sizeof(out)), AUTHRES_SYNTAX);
}

static void test_parse_nul(void **state)
{
    (void) state;
    /* A NUL ends the value: whatever comes before it decides. */
    char value[] = "\0mx.example.org; none";
    char out[64];

    assert_int_equal(authres_parse_servid(value, out, sizeof(out)), AUTHRES_SYNTAX);
    value[0] = '(';
    value[3] = '\0';
    assert_int_equal(authres_parse_servid(value, out, sizeof(out)), AUTHRES_SYNTAX);
    value[0] = '"';
    assert_int_equal(authres_parse_servid(value, out, sizeof(out)), AUTHRES_SYNTAX);
}

static void test_parse_small_buffer(void **state)
{
    (void) state;
    char out[32];
    const char *id = "mx.example.org";     /* 14 octets */

    for (size_t size = 0; size <= strlen(id); size++) {
        memset(out, 'x', sizeof(out));
        assert_int_equal(authres_parse_servid("mx.example.org; none", out, size), AUTHRES_TOO_LONG);
        if (size > 0)
            assert_int_equal(out[0], '\0');
        for (size_t i = size; i < sizeof(out); i++)
            assert_int_equal(out[i], 'x');
    }
    assert_int_equal(authres_parse_servid("mx.example.org; none", out, strlen(id) + 1), AUTHRES_OK);
    assert_string_equal(out, id);

    /* An id longer than the parser's own limit is refused, not truncated. */
    char *huge = malloc(3 * AUTHRES_FIELD_MAX);

    assert_non_null(huge);
    memset(huge, 'a', 3 * AUTHRES_FIELD_MAX - 1);
    huge[3 * AUTHRES_FIELD_MAX - 1] = '\0';
    assert_int_equal(authres_parse_servid(huge, out, sizeof(out)), AUTHRES_SYNTAX);
    huge[0] = '"';
    assert_int_equal(authres_parse_servid(huge, out, sizeof(out)), AUTHRES_SYNTAX);
    free(huge);
}

/* Deeply nested comments are counted, not recursed into. */
static void test_parse_deep_nesting(void **state)
{
    (void) state;
    enum { DEPTH = 100000 };
    char *value = malloc(2 * DEPTH + 32);
    char out[64];

    assert_non_null(value);
    memset(value, '(', DEPTH);
    memset(value + DEPTH, ')', DEPTH);
    strcpy(value + 2 * DEPTH, " mx.example.org; none");
    assert_int_equal(authres_parse_servid(value, out, sizeof(out)), AUTHRES_OK);
    assert_string_equal(out, "mx.example.org");
    value[2 * DEPTH - 1] = ' ';         /* one ')' short */
    assert_int_equal(authres_parse_servid(value, out, sizeof(out)), AUTHRES_SYNTAX);
    free(value);
}

/* Random bytes never crash the parser; anything accepted is a printable id. */
static void test_parse_random(void **state)
{
    (void) state;
    static const char alphabet[] = "ab.-( )\\\";1\r\n\t=@\x80\x01";
    uint32_t seed = 12345;
    char value[64], out[64];
    size_t ok = 0, syntax = 0;

    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t) (round % 40);

        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            value[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        value[len] = '\0';
        authres_status st = authres_parse_servid(value, out, sizeof(out));

        if (st == AUTHRES_OK) {
            ok++;
            assert_true(strlen(out) > 0);
            for (const char *p = out; *p; p++)
                assert_true((*p >= 0x20 && *p < 0x7f) || *p == '\t');
        } else {
            syntax++;
            assert_int_equal(st, AUTHRES_SYNTAX);
            assert_string_equal(out, "");
        }
    }
    assert_true(ok > 0 && syntax > 0);  /* both paths were exercised */
}

/* What we write, we can read back: the same authserv-id, with and without the name. */
static void test_round_trip(void **state)
{
    (void) state;
    const char *ids[] = { "mx.example.org", "MX-1.Example.ORG", "localhost", "a", "1.2.3.4" };
    const authres_item items[] = {
        { "pass", "matched (3 1 1)", "smtp", "helo", "mta.example.net" },
        { "fail", "no match\\", "smtp", "mailfrom", "example.net" },
    };
    char out[AUTHRES_FIELD_MAX], id[AUTHRES_SERVID_MAX];

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        for (size_t n = 0; n <= 2; n++) {
            assert_int_equal(authres_format(ids[i], items, n, 1, out, sizeof(out)), AUTHRES_OK);
            assert_int_equal(strncmp(out, "Authentication-Results:", 23), 0);
            assert_int_equal(authres_parse_servid(out + 23, id, sizeof(id)), AUTHRES_OK);
            assert_string_equal(id, ids[i]);
            assert_int_equal(authres_format(ids[i], items, n, 0, out, sizeof(out)), AUTHRES_OK);
            assert_int_equal(authres_parse_servid(out, id, sizeof(id)), AUTHRES_OK);
            assert_string_equal(id, ids[i]);
        }
    }
}

static void test_status_str(void **state)
{
    (void) state;
    const authres_status all[] = {
        AUTHRES_OK, AUTHRES_BAD_SERVID, AUTHRES_BAD_PROPERTY, AUTHRES_TOO_LONG, AUTHRES_SYNTAX,
    };

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_non_null(authres_status_str(all[i]));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(authres_status_str(all[i]), authres_status_str(all[j]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_example),
        cmocka_unit_test(test_format_none),
        cmocka_unit_test(test_format_no_reason_no_property),
        cmocka_unit_test(test_format_escaping),
        cmocka_unit_test(test_format_reason_cap),
        cmocka_unit_test(test_format_folding_long_reason),
        cmocka_unit_test(test_format_folding_long_word),
        cmocka_unit_test(test_format_many_items),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_format_bad_servid),
        cmocka_unit_test(test_format_bad_property),
        cmocka_unit_test(test_parse_cases),
        cmocka_unit_test(test_parse_nul),
        cmocka_unit_test(test_parse_small_buffer),
        cmocka_unit_test(test_parse_deep_nesting),
        cmocka_unit_test(test_parse_random),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_status_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
