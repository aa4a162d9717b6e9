/*
 * test_tlsa.c - unit tests for tlsa.c: RDATA parsing, every classification
 * (including full data checked against real DER certificates and keys made
 * in memory), the malformed/unusable split, and tlsa_format() truncation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/tlsa.h"
#include "t/unit/testcert.h"

/* make_rdata - malloc'd RDATA "usage selector mtype" followed by len data octets. */
static unsigned char *make_rdata(uint8_t usage, uint8_t selector, uint8_t mtype,
                                 const unsigned char *data, size_t len)
{
    unsigned char *rdata = malloc(3 + len);

    assert_non_null(rdata);
    rdata[0] = usage;
    rdata[1] = selector;
    rdata[2] = mtype;
    if (len > 0)
        memcpy(rdata + 3, data, len);
    return rdata;
}

/* parse_expect - parse the record, check fields, copied data and status. */
static void parse_expect(uint8_t usage, uint8_t selector, uint8_t mtype,
                         const unsigned char *data, size_t len, tlsa_status want)
{
    unsigned char *rdata = make_rdata(usage, selector, mtype, data, len);
    tlsa_record rec;
    tlsa_status got = tlsa_parse(rdata, 3 + len, &rec);

    if (got != want)
        fail_msg("%u %u %u with %zu data octets: got \"%s\", want \"%s\"",
                 usage, selector, mtype, len, tlsa_status_str(got), tlsa_status_str(want));
    assert_int_equal(rec.status, got);
    assert_int_equal(rec.usage, usage);
    assert_int_equal(rec.selector, selector);
    assert_int_equal(rec.mtype, mtype);
    assert_int_equal(rec.len, len);
    assert_non_null(rec.data);
    assert_ptr_not_equal(rec.data, rdata + 3);
    assert_memory_equal(rec.data, data, len);
    free(rdata);                /* the record keeps its own copy */
    assert_int_equal(rec.data[len - 1], data[len - 1]);
    tlsa_record_clear(&rec);
}

/* Records judged by the fixed fields and data length alone. */
struct digest_case {
    uint8_t usage, selector, mtype;
    size_t len;
    tlsa_status status;
};

static const struct digest_case digest_cases[] = {
    /* usable DANE records */
    { 3, 1, 1, 32, TLSA_USABLE },
    { 3, 0, 1, 32, TLSA_USABLE },
    { 3, 1, 2, 64, TLSA_USABLE },
    { 2, 0, 1, 32, TLSA_USABLE },
    { 2, 1, 2, 64, TLSA_USABLE },
    /* wrong digest lengths */
    { 3, 1, 1, 1, TLSA_BAD_DIGEST_LENGTH },
    { 3, 1, 1, 31, TLSA_BAD_DIGEST_LENGTH },
    { 3, 1, 1, 33, TLSA_BAD_DIGEST_LENGTH },
    { 3, 1, 1, 64, TLSA_BAD_DIGEST_LENGTH },
    { 3, 0, 2, 32, TLSA_BAD_DIGEST_LENGTH },
    { 2, 1, 2, 63, TLSA_BAD_DIGEST_LENGTH },
    { 2, 1, 2, 65, TLSA_BAD_DIGEST_LENGTH },
    /* full data that is no DER at all */
    { 3, 0, 0, 1, TLSA_BAD_FULL_DATA },
    { 3, 1, 0, 32, TLSA_BAD_FULL_DATA },
    /* PKIX usages: well-formed but unusable ... */
    { 0, 1, 1, 32, TLSA_PKIX_USAGE },
    { 1, 0, 2, 64, TLSA_PKIX_USAGE },
    { 0, 2, 1, 32, TLSA_PKIX_USAGE },
    { 1, 1, 9, 5, TLSA_PKIX_USAGE },
    /* ... unless their data is broken: "0 1 1" with two octets is malformed */
    { 0, 1, 1, 2, TLSA_BAD_DIGEST_LENGTH },
    { 1, 1, 2, 32, TLSA_BAD_DIGEST_LENGTH },
    { 0, 1, 0, 32, TLSA_BAD_FULL_DATA },
    /* unknown parameters: the data cannot be judged */
    { 4, 1, 1, 32, TLSA_UNKNOWN_USAGE },
    { 255, 1, 1, 3, TLSA_UNKNOWN_USAGE },
    { 4, 2, 3, 1, TLSA_UNKNOWN_USAGE },
    { 3, 2, 1, 32, TLSA_UNKNOWN_SELECTOR },
    { 3, 255, 1, 5, TLSA_UNKNOWN_SELECTOR },
    { 2, 2, 3, 1, TLSA_UNKNOWN_SELECTOR },
    { 3, 1, 3, 32, TLSA_UNKNOWN_MTYPE },
    { 3, 1, 255, 1, TLSA_UNKNOWN_MTYPE },
    { 2, 0, 3, 100, TLSA_UNKNOWN_MTYPE },
};

static void test_digest_table(void **state)
{
    unsigned char data[128];

    (void) state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char) (0xa0 + i);
    for (size_t i = 0; i < sizeof(digest_cases) / sizeof(digest_cases[0]); i++) {
        const struct digest_case *c = &digest_cases[i];

        assert_true(c->len <= sizeof(data));
        parse_expect(c->usage, c->selector, c->mtype, data, c->len, c->status);
    }
}

/* RDATA of 0 to 3 octets: short, with whatever fixed fields are present. */
static void test_short_rdata(void **state)
{
    const unsigned char rdata[] = { 3, 1, 1 };

    (void) state;
    for (size_t len = 0; len <= 3; len++) {
        tlsa_record rec;

        assert_int_equal(tlsa_parse(len > 0 ? rdata : NULL, len, &rec), TLSA_SHORT_RDATA);
        assert_int_equal(rec.status, TLSA_SHORT_RDATA);
        assert_int_equal(rec.usage, len > 0 ? 3 : 0);
        assert_int_equal(rec.selector, len > 1 ? 1 : 0);
        assert_int_equal(rec.mtype, len > 2 ? 1 : 0);
        assert_int_equal(rec.len, 0);
        assert_null(rec.data);
        assert_true(tlsa_status_malformed(rec.status));
        tlsa_record_clear(&rec);
    }
}

/* Type 0 data against real certificates and keys. */
static void test_full_data(void **state)
{
    testcert *tc = testcert_self_signed("client", "mx.example.org");
    testcert *other = testcert_self_signed("other", NULL);
    unsigned char *buf;
    size_t both;

    (void) state;
    assert_non_null(tc);
    assert_non_null(other);

    /* exact DER: usable for DANE usages, PKIX for 0/1 */
    parse_expect(3, 0, 0, tc->der, tc->derlen, TLSA_USABLE);
    parse_expect(3, 1, 0, tc->spki, tc->spkilen, TLSA_USABLE);
    parse_expect(2, 0, 0, tc->der, tc->derlen, TLSA_USABLE);
    parse_expect(2, 1, 0, tc->spki, tc->spkilen, TLSA_USABLE);
    parse_expect(0, 0, 0, tc->der, tc->derlen, TLSA_PKIX_USAGE);
    parse_expect(1, 1, 0, tc->spki, tc->spkilen, TLSA_PKIX_USAGE);

    /* the selector decides what the data must be */
    parse_expect(3, 0, 0, tc->spki, tc->spkilen, TLSA_BAD_FULL_DATA);
    parse_expect(3, 1, 0, tc->der, tc->derlen, TLSA_BAD_FULL_DATA);

    /* truncated DER */
    parse_expect(3, 0, 0, tc->der, tc->derlen - 1, TLSA_BAD_FULL_DATA);
    parse_expect(3, 0, 0, tc->der, tc->derlen / 2, TLSA_BAD_FULL_DATA);
    parse_expect(3, 1, 0, tc->spki, tc->spkilen - 1, TLSA_BAD_FULL_DATA);
    parse_expect(3, 1, 0, tc->spki, 2, TLSA_BAD_FULL_DATA);
    /* malformed beats PKIX; unknown usage is not judged */
    parse_expect(1, 0, 0, tc->der, tc->derlen - 1, TLSA_BAD_FULL_DATA);
    parse_expect(4, 0, 0, tc->der, tc->derlen - 1, TLSA_UNKNOWN_USAGE);

    /* trailing garbage after valid DER: one octet, and a second certificate */
    both = tc->derlen + other->derlen;
    buf = malloc(both);
    assert_non_null(buf);
    memcpy(buf, tc->der, tc->derlen);
    buf[tc->derlen] = 0x00;
    parse_expect(3, 0, 0, buf, tc->derlen + 1, TLSA_BAD_FULL_DATA);
    memcpy(buf + tc->derlen, other->der, other->derlen);
    parse_expect(3, 0, 0, buf, both, TLSA_BAD_FULL_DATA);
    free(buf);

    buf = malloc(tc->spkilen + 1);
    assert_non_null(buf);
    memcpy(buf, tc->spki, tc->spkilen);
    buf[tc->spkilen] = 0xff;
    parse_expect(3, 1, 0, buf, tc->spkilen + 1, TLSA_BAD_FULL_DATA);
    free(buf);

    testcert_free(other);
    testcert_free(tc);
}

static void test_malformed_split(void **state)
{
    (void) state;
    assert_false(tlsa_status_malformed(TLSA_USABLE));
    assert_true(tlsa_status_malformed(TLSA_SHORT_RDATA));
    assert_true(tlsa_status_malformed(TLSA_BAD_DIGEST_LENGTH));
    assert_true(tlsa_status_malformed(TLSA_BAD_FULL_DATA));
    assert_false(tlsa_status_malformed(TLSA_PKIX_USAGE));
    assert_false(tlsa_status_malformed(TLSA_UNKNOWN_USAGE));
    assert_false(tlsa_status_malformed(TLSA_UNKNOWN_SELECTOR));
    assert_false(tlsa_status_malformed(TLSA_UNKNOWN_MTYPE));
}

static void test_status_str(void **state)
{
    const tlsa_status all[] = {
        TLSA_USABLE, TLSA_SHORT_RDATA, TLSA_BAD_DIGEST_LENGTH, TLSA_BAD_FULL_DATA,
        TLSA_PKIX_USAGE, TLSA_UNKNOWN_USAGE, TLSA_UNKNOWN_SELECTOR, TLSA_UNKNOWN_MTYPE
    };

    (void) state;
    assert_string_equal(tlsa_status_str(TLSA_USABLE), "usable");
    assert_string_equal(tlsa_status_str(TLSA_PKIX_USAGE), "PKIX usage");
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_true(strlen(tlsa_status_str(all[i])) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(tlsa_status_str(all[i]), tlsa_status_str(all[j]));
    }
}

static void test_record_clear(void **state)
{
    const unsigned char rdata[] = { 3, 1, 1, 0xde, 0xad };
    tlsa_record rec;

    (void) state;
    assert_int_equal(tlsa_parse(rdata, sizeof(rdata), &rec), TLSA_BAD_DIGEST_LENGTH);
    assert_non_null(rec.data);
    tlsa_record_clear(&rec);
    assert_null(rec.data);
    assert_int_equal(rec.len, 0);
    assert_int_equal(rec.usage, 0);
    assert_int_equal(rec.selector, 0);
    assert_int_equal(rec.mtype, 0);
    tlsa_record_clear(&rec);    /* clearing twice is harmless */
}

/* format_expect - parse rdata and format it with a canary-guarded buffer of the given size. */
static void format_expect(const unsigned char *rdata, size_t len, size_t size, const char *want)
{
    tlsa_record rec;
    char buf[256];

    assert_true(size < sizeof(buf));
    memset(buf, '#', sizeof(buf));
    tlsa_parse(rdata, len, &rec);
    assert_ptr_equal(tlsa_format(&rec, buf, size), buf);
    assert_string_equal(buf, want);
    assert_true(strlen(buf) < size);
    for (size_t i = size; i < sizeof(buf); i++)
        assert_int_equal(buf[i], '#');
    tlsa_record_clear(&rec);
}

static void test_format(void **state)
{
    unsigned char rdata[3 + 32] = { 3, 1, 1 };
    const char *full = "3 1 1 000102030405060708090a0b0c0d0e0f"
                       "101112131415161718191a1b1c1d1e1f";
    const unsigned char odd[] = { 255, 254, 253, 0xAB, 0xCD };
    const unsigned char short_rdata[] = { 2, 0, 1 };

    (void) state;
    for (size_t i = 0; i < 32; i++)
        rdata[3 + i] = (unsigned char) i;

    /* fits: exactly, and with room to spare */
    format_expect(rdata, sizeof(rdata), strlen(full) + 1, full);
    format_expect(rdata, sizeof(rdata), 200, full);
    /* one byte short: truncated so that the result still fills the buffer */
    format_expect(rdata, sizeof(rdata), strlen(full),
                  "3 1 1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d...");
    format_expect(rdata, sizeof(rdata), 16, "3 1 1 000102...");
    format_expect(rdata, sizeof(rdata), 8, "3 1 ...");

    /* large field values, lower-case hex */
    format_expect(odd, sizeof(odd), 64, "255 254 253 abcd");
    format_expect(odd, sizeof(odd), 8, "255 ...");
    /* no data */
    format_expect(short_rdata, sizeof(short_rdata), 8, "2 0 1");
}

/* A buffer under 8 bytes is a caller bug: tlsa_format() aborts. */
static void test_format_small_buffer_aborts(void **state)
{
    const unsigned char rdata[] = { 3, 1, 1, 0x01 };
    pid_t pid;
    int status;

    (void) state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tlsa_record rec;
        char buf[7];

        tlsa_parse(rdata, sizeof(rdata), &rec);
        tlsa_format(&rec, buf, sizeof(buf));
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_table),
        cmocka_unit_test(test_short_rdata),
        cmocka_unit_test(test_full_data),
        cmocka_unit_test(test_malformed_split),
        cmocka_unit_test(test_status_str),
        cmocka_unit_test(test_record_clear),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_small_buffer_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
