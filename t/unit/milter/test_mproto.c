/*
 * test_mproto.c - unit tests for milter/mproto.c, the milter protocol's
 * packets as danced's milter face reads and writes them.
 *
 * Covered: framing (a packet cut anywhere is "need more", length 0 and a
 * length over MPROTO_PACKET_MAX are refused, two packets in one buffer);
 * the option negotiation (short payloads refused); CONNECT for IPv4, IPv6,
 * unix and unknown families, with every truncation refused; NUL-separated
 * strings (the macro packet's skipped command code, an unterminated last
 * string, more strings than allowed); the replies byte for byte: a plain
 * reply, the negotiation with per-stage macro lists, header changes, and a
 * reply code with '%' doubled and line breaks flattened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "milter/mproto.h"

/* pkt - a packet of cmd with payload p (n bytes) into buf; returns its size. */
static size_t pkt(unsigned char *buf, char cmd, const void *p, size_t n)
{
    uint32_t len = (uint32_t) n + 1;

    buf[0] = (unsigned char) (len >> 24);
    buf[1] = (unsigned char) (len >> 16);
    buf[2] = (unsigned char) (len >> 8);
    buf[3] = (unsigned char) len;
    buf[4] = (unsigned char) cmd;
    if (n > 0)
        memcpy(buf + 5, p, n);
    return n + 5;
}

static void test_framing(void **state)
{
    unsigned char buf[64];
    mproto_packet p;
    size_t n = pkt(buf, SMFIC_HELO, "mta1.example", 13);

    (void) state;
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(mproto_next(buf, cut, &p), MPROTO_NEED_MORE);
    assert_int_equal(mproto_next(buf, n, &p), MPROTO_OK);
    assert_int_equal(p.cmd, SMFIC_HELO);
    assert_int_equal(p.len, 13);
    assert_int_equal(p.size, n);
    assert_memory_equal(p.data, "mta1.example", 13);
    /* two packets: the first is cut out, the rest stays */
    n += pkt(buf + n, SMFIC_QUIT, NULL, 0);
    assert_int_equal(mproto_next(buf, n, &p), MPROTO_OK);
    assert_int_equal(mproto_next(buf + p.size, n - p.size, &p), MPROTO_OK);
    assert_int_equal(p.cmd, SMFIC_QUIT);
    assert_int_equal(p.len, 0);
    /* length 0: no command byte */
    memset(buf, 0, 8);
    assert_int_equal(mproto_next(buf, 8, &p), MPROTO_EMPTY);
    /* one byte over the limit, refused at once (before the payload arrives) */
    buf[0] = (unsigned char) ((MPROTO_PACKET_MAX + 1) >> 24);
    buf[1] = (unsigned char) ((MPROTO_PACKET_MAX + 1) >> 16);
    buf[2] = (unsigned char) ((MPROTO_PACKET_MAX + 1) >> 8);
    buf[3] = (unsigned char) (MPROTO_PACKET_MAX + 1);
    assert_int_equal(mproto_next(buf, 4, &p), MPROTO_TOO_BIG);
    buf[3] = (unsigned char) MPROTO_PACKET_MAX;
    assert_int_equal(mproto_next(buf, 4, &p), MPROTO_NEED_MORE);
}

static void test_optneg(void **state)
{
    static const unsigned char v6[12] = { 0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff };
    unsigned char buf[32];
    mproto_packet p;
    mproto_optneg o;

    (void) state;
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_OPTNEG, v6, 12), &p), MPROTO_OK);
    assert_true(mproto_parse_optneg(&p, &o));
    assert_int_equal(o.version, 6);
    assert_int_equal(o.actions, 0x1ff);
    assert_int_equal(o.protocol, 0x1fffff);
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_OPTNEG, v6, 11), &p), MPROTO_OK);
    assert_false(mproto_parse_optneg(&p, &o));
}

static void test_connect(void **state)
{
    static const char v4[] = "[192.0.2.1]\0" "4\x9c\x4c" "192.0.2.1";   /* port 40012 */
    static const char v6[] = "mta.example\0" "6\x00\x19" "2001:db8::1";
    static const char lo[] = "localhost\0" "L\x00\x00" "/run/sock";
    static const char un[] = "host\0" "U";
    unsigned char buf[128];
    mproto_packet p;
    mproto_connect c;

    (void) state;
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_CONNECT, v4, sizeof(v4)), &p), MPROTO_OK);
    assert_true(mproto_parse_connect(&p, &c));
    assert_string_equal(c.hostname, "[192.0.2.1]");
    assert_int_equal(c.family, SMFIA_INET);
    assert_int_equal(c.port, 40012);
    assert_string_equal(c.address, "192.0.2.1");
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_CONNECT, v6, sizeof(v6)), &p), MPROTO_OK);
    assert_true(mproto_parse_connect(&p, &c));
    assert_int_equal(c.family, SMFIA_INET6);
    assert_int_equal(c.port, 25);
    assert_string_equal(c.address, "2001:db8::1");
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_CONNECT, lo, sizeof(lo)), &p), MPROTO_OK);
    assert_true(mproto_parse_connect(&p, &c));
    assert_int_equal(c.family, SMFIA_UNIX);
    assert_string_equal(c.address, "/run/sock");
    /* unknown family: nothing follows the family byte */
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_CONNECT, un, sizeof(un) - 1), &p), MPROTO_OK);
    assert_true(mproto_parse_connect(&p, &c));
    assert_int_equal(c.family, SMFIA_UNKNOWN);
    assert_int_equal(c.port, 0);
    assert_string_equal(c.address, "");
    /* every truncation of the IPv4 payload is refused */
    for (size_t n = 0; n < sizeof(v4); n++) {
        assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_CONNECT, v4, n), &p), MPROTO_OK);
        if (mproto_parse_connect(&p, &c))
            fail_msg("a CONNECT payload cut at %zu was accepted", n);
    }
}

static void test_strings(void **state)
{
    static const char macros[] = "M" "i\0" "4F2B1A7214F\0" "{cert_fp}\0" "AB:CD\0";
    static const char open_end[] = "a\0" "b";
    const char *v[4];
    unsigned char buf[128];
    mproto_packet p;
    size_t n;

    (void) state;
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_MACRO, macros, sizeof(macros) - 1), &p), MPROTO_OK);
    assert_true(mproto_parse_strings(&p, 1, v, 4, &n));
    assert_int_equal(n, 4);
    assert_string_equal(v[0], "i");
    assert_string_equal(v[1], "4F2B1A7214F");
    assert_string_equal(v[2], "{cert_fp}");
    assert_string_equal(v[3], "AB:CD");
    assert_false(mproto_parse_strings(&p, 1, v, 3, &n));       /* more than max */
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_MAIL, open_end, sizeof(open_end) - 1), &p), MPROTO_OK);
    assert_false(mproto_parse_strings(&p, 0, v, 4, &n));       /* the last one not terminated */
    assert_int_equal(mproto_next(buf, pkt(buf, SMFIC_MACRO, "T", 1), &p), MPROTO_OK);
    assert_true(mproto_parse_strings(&p, 1, v, 4, &n));        /* just the command code */
    assert_int_equal(n, 0);
    assert_false(mproto_parse_strings(&p, 2, v, 4, &n));       /* skip past the end */
}

static void test_replies(void **state)
{
    static const char *const lists[SMFIM_EOH + 1] = { [SMFIM_CONNECT] = "v", [SMFIM_EOM] = "i" };
    static const unsigned char want_optneg[] = {
        0, 0, 0, 25, 'O', 0, 0, 0, 6, 0, 0, 1, 0x11, 0, 0, 0, 0x90,
        0, 0, 0, 0, 'v', 0, 0, 0, 0, 5, 'i', 0,
    };
    static const unsigned char want_chg[] = {
        0, 0, 0, 0x1d, 'm', 0, 0, 0, 3, 'A', 'u', 't', 'h', 'e', 'n', 't', 'i', 'c', 'a', 't', 'i', 'o',
        'n', '-', 'R', 'e', 's', 'u', 'l', 't', 's', 0, 0,
    };
    mproto_out o = { NULL, 0, 0 };
    mproto_optneg r = { 6, 0x111, 0x90 };
    const char *text;

    (void) state;
    mproto_put(&o, SMFIR_CONTINUE, NULL, 0);
    assert_int_equal(o.len, 5);
    assert_memory_equal(o.buf, "\0\0\0\1c", 5);
    o.len = 0;
    mproto_put_optneg(&o, &r, lists, SMFIM_EOH + 1);
    assert_int_equal(o.len, sizeof(want_optneg));
    assert_memory_equal(o.buf, want_optneg, sizeof(want_optneg));
    o.len = 0;
    mproto_put_header(&o, SMFIR_CHGHEADER, 3, "Authentication-Results", "");
    assert_int_equal(o.len, sizeof(want_chg));
    assert_memory_equal(o.buf, want_chg, sizeof(want_chg));
    o.len = 0;
    mproto_put_replycode(&o, "550", "5.7.1", "100% forged\r\nsecond line");
    text = (const char *) o.buf + 5;
    assert_int_equal(o.buf[4], SMFIR_REPLYCODE);
    assert_string_equal(text, "550 5.7.1 100%% forged  second line");
    assert_int_equal(o.len, 5 + strlen(text) + 1);
    mproto_out_free(&o);
    assert_null(o.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_optneg),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_replies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
