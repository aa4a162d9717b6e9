/*
 * test_hex.c - unit tests for hex.c: encoding, and decoding of bare and
 * Postfix colon-form fingerprints with every way they can be wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "lib/hex.h"

/* One decoding case: input, output buffer size, expected status and bytes. */
struct decode_case {
    const char *text;
    size_t outsize;
    hex_status status;
    const char *bytes;          /* expected output (HEX_OK only) */
    size_t len;
};

static const struct decode_case decode_cases[] = {
    /* good: bare and colon form, any case */
    { "00", 8, HEX_OK, "\x00", 1 },
    { "abcdef", 8, HEX_OK, "\xab\xcd\xef", 3 },
    { "ABCDEF", 8, HEX_OK, "\xab\xcd\xef", 3 },
    { "aBcDeF", 8, HEX_OK, "\xab\xcd\xef", 3 },
    { "0123456789", 8, HEX_OK, "\x01\x23\x45\x67\x89", 5 },
    { "AB:CD:EF", 8, HEX_OK, "\xab\xcd\xef", 3 },
    { "ab:cd:ef", 8, HEX_OK, "\xab\xcd\xef", 3 },
    { "Ab:cD:9f", 8, HEX_OK, "\xab\xcd\x9f", 3 },
    { "7F", 1, HEX_OK, "\x7f", 1 },
    { "7F:80", 2, HEX_OK, "\x7f\x80", 2 },
    /* exactly the buffer size, and one byte over */
    { "01020304", 4, HEX_OK, "\x01\x02\x03\x04", 4 },
    { "0102030405", 4, HEX_TOO_LONG, NULL, 0 },
    { "01:02:03:04:05", 4, HEX_TOO_LONG, NULL, 0 },
    { "01", 0, HEX_TOO_LONG, NULL, 0 },
    /* empty */
    { "", 8, HEX_EMPTY, NULL, 0 },
    /* bad characters, surrounding white space is not trimmed */
    { "0g", 8, HEX_BAD_CHAR, NULL, 0 },
    { "zz", 8, HEX_BAD_CHAR, NULL, 0 },
    { " ab", 8, HEX_BAD_CHAR, NULL, 0 },
    { "ab ", 8, HEX_BAD_CHAR, NULL, 0 },
    { "ab\n", 8, HEX_BAD_CHAR, NULL, 0 },
    { "ab cd", 8, HEX_BAD_CHAR, NULL, 0 },
    { "0xab", 8, HEX_BAD_CHAR, NULL, 0 },
    { "ab-cd", 8, HEX_BAD_CHAR, NULL, 0 },
    { "\xc3\xa4", 8, HEX_BAD_CHAR, NULL, 0 },
    /* odd digit counts */
    { "a", 8, HEX_ODD, NULL, 0 },
    { "abc", 8, HEX_ODD, NULL, 0 },
    { "AB:C", 8, HEX_ODD, NULL, 0 },
    /* colon misuse: empty groups are bad colons, wrong-sized groups are odd */
    { ":", 8, HEX_BAD_CHAR, NULL, 0 },
    { ":AB", 8, HEX_BAD_CHAR, NULL, 0 },
    { "AB:", 8, HEX_BAD_CHAR, NULL, 0 },
    { "AB::CD", 8, HEX_BAD_CHAR, NULL, 0 },
    { "A:BC", 8, HEX_ODD, NULL, 0 },
    { "ABC:D", 8, HEX_ODD, NULL, 0 },
    { "AB:CDEF", 8, HEX_ODD, NULL, 0 },
    { "ABCD:EF", 8, HEX_ODD, NULL, 0 },
    { "A:B:C:D", 8, HEX_ODD, NULL, 0 },
};

static void test_decode_table(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
        const struct decode_case *c = &decode_cases[i];
        unsigned char out[16];
        size_t outlen = 99;

        memset(out, 0xee, sizeof(out));
        hex_status got = hex_decode(c->text, out, c->outsize, &outlen);

        if (got != c->status)
            fail_msg("case %zu \"%s\" (outsize %zu): got %s, want %s", i, c->text,
                     c->outsize, hex_status_str(got), hex_status_str(c->status));
        if (c->status == HEX_OK) {
            assert_int_equal(outlen, c->len);
            assert_memory_equal(out, c->bytes, c->len);
        } else {
            assert_int_equal(outlen, 0);
        }
        /* never a byte beyond the caller's buffer */
        for (size_t j = c->outsize; j < sizeof(out); j++)
            assert_int_equal(out[j], 0xee);
    }
}

/* A SHA-256 fingerprint in Postfix form decodes to the same bytes as bare hex. */
static void test_decode_fingerprint_forms(void **state)
{
    const char *colon = "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:"
                        "27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55";
    const char *bare = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    unsigned char a[32], b[32];
    size_t alen, blen;

    (void) state;
    assert_int_equal(hex_decode(colon, a, sizeof(a), &alen), HEX_OK);
    assert_int_equal(hex_decode(bare, b, sizeof(b), &blen), HEX_OK);
    assert_int_equal(alen, 32);
    assert_int_equal(blen, 32);
    assert_memory_equal(a, b, 32);
    assert_int_equal(a[0], 0xe3);
    assert_int_equal(a[31], 0x55);
    /* one byte short of room */
    assert_int_equal(hex_decode(colon, a, 31, &alen), HEX_TOO_LONG);
}

static void test_encode(void **state)
{
    const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char out[2 * sizeof(in) + 2];

    (void) state;
    memset(out, 'x', sizeof(out));
    hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    assert_int_equal(out[sizeof(out) - 1], 'x');

    hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

/* Every byte value survives encode then decode. */
static void test_round_trip(void **state)
{
    unsigned char in[256], back[256];
    char text[2 * sizeof(in) + 1];
    size_t len;

    (void) state;
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char) i;
    hex_encode(in, sizeof(in), text);
    assert_int_equal(strlen(text), 2 * sizeof(in));
    assert_int_equal(hex_decode(text, back, sizeof(back), &len), HEX_OK);
    assert_int_equal(len, sizeof(in));
    assert_memory_equal(in, back, sizeof(in));
}

static void test_status_str(void **state)
{
    const hex_status all[] = { HEX_OK, HEX_EMPTY, HEX_BAD_CHAR, HEX_ODD, HEX_TOO_LONG };

    (void) state;
    assert_string_equal(hex_status_str(HEX_OK), "ok");
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_non_null(hex_status_str(all[i]));
        assert_true(strlen(hex_status_str(all[i])) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(hex_status_str(all[i]), hex_status_str(all[j]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_decode_fingerprint_forms),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_status_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
