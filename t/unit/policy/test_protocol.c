/*
 * test_protocol.c - unit tests for policy/protocol.c: the Postfix policy
 * request parser fed whole, byte by byte, split at every point and
 * pipelined; every limit exactly at and one over; hostile lines; reply
 * formatting with injection attempts; the base64 decoder for ccert_der.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/evidence.h"
#include "policy/protocol.h"
#include "t/unit/testcert.h"

/* A request as Postfix 3.7 sent it (mta-interfaces.md), in order. */
static const char *const real_attrs[][2] = {
    { "request", "smtpd_access_policy" },
    { "protocol_state", "RCPT" },
    { "protocol_name", "ESMTP" },
    { "client_address", "127.0.0.1" },
    { "client_name", "unknown" },
    { "client_port", "54924" },
    { "reverse_client_name", "unknown" },
    { "server_address", "127.0.0.1" },
    { "server_port", "2525" },
    { "helo_name", "mta1.dance.test" },
    { "sender", "sender@mta1.dance.test" },
    { "recipient", "rcpt@dance.test" },
    { "recipient_count", "0" },
    { "queue_id", "" },
    { "instance", "5357.6b0b2e52.2bffc.0" },
    { "size", "0" },
    { "etrn_domain", "" },
    { "stress", "" },
    { "sasl_method", "" },
    { "sasl_username", "" },
    { "sasl_sender", "" },
    { "ccert_subject", "" },
    { "ccert_issuer", "" },
    { "ccert_fingerprint", "D2:AD:70:F2:...:6F:6B:FC:7C" },
    { "ccert_pubkey_fingerprint", "3B:90:14:EC:...:19:DA:67:FF:C4:28" },
    { "encryption_protocol", "TLSv1.3" },
    { "encryption_cipher", "TLS_AES_256_GCM_SHA384" },
    { "encryption_keysize", "256" },
    { "policy_context", "" },
};
#define REAL_COUNT (sizeof(real_attrs) / sizeof(real_attrs[0]))

/* real_request - the request text built from real_attrs with the given line end. */
static size_t real_request(char *buf, size_t size, const char *eol)
{
    size_t len = 0;

    for (size_t i = 0; i < REAL_COUNT; i++) {
        int n = snprintf(buf + len, size - len, "%s=%s%s", real_attrs[i][0], real_attrs[i][1], eol);
        assert_true(n > 0 && (size_t)n < size - len);
        len += (size_t)n;
    }
    assert_true(len + strlen(eol) < size);
    strcpy(buf + len, eol);
    return len + strlen(eol);
}

/* check_real - req holds exactly real_attrs, in order, by every kind of access. */
static void check_real(const policy_request *req)
{
    size_t pos = 0;
    const char *name;
    const char *value;
    policy_attr attr;

    assert_non_null(req);
    assert_int_equal(policy_count(req), REAL_COUNT);
    for (size_t i = 0; i < REAL_COUNT; i++) {
        assert_true(policy_next(req, &pos, &name, &value));
        assert_string_equal(name, real_attrs[i][0]);
        assert_string_equal(value, real_attrs[i][1]);
        assert_non_null(policy_get(req, real_attrs[i][0]));
        assert_string_equal(policy_get(req, real_attrs[i][0]), real_attrs[i][1]);
        if (policy_attr_lookup(real_attrs[i][0], &attr))
            assert_string_equal(policy_get_attr(req, attr), real_attrs[i][1]);
    }
    assert_false(policy_next(req, &pos, &name, &value));
    /* known attributes Postfix did not send here */
    assert_null(policy_get_attr(req, POLICY_ATTR_CCERT_DER));
    assert_null(policy_get(req, "ccert_der"));
    assert_null(policy_get(req, "no_such_attribute"));
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_HELO_NAME), "mta1.dance.test");
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_QUEUE_ID), "");
}

/*
 * feed - parse buf in pieces of at most chunk bytes until it is used up or
 * parsing stops; *fed gets the bytes handed over up to the last call, so
 * with chunk 1 it is the position of the byte that stopped the parser.
 */
static policy_status feed(policy_parser *p, const char *buf, size_t len, size_t chunk,
                          size_t *fed)
{
    policy_status status = POLICY_NEED_MORE;
    size_t off = 0;

    *fed = 0;
    while (off < len) {
        size_t n = (len - off < chunk ? len - off : chunk);
        size_t consumed;

        status = policy_parse(p, buf + off, n, &consumed);
        assert_true(consumed <= n);
        *fed = off + n;
        if (status != POLICY_NEED_MORE)
            break;
        assert_int_equal(consumed, n);
        off += n;
    }
    return status;
}

/* parse_one - parse a whole buffer in one call on a fresh parser. */
static policy_status parse_one(policy_parser *p, const char *buf, size_t len)
{
    size_t used;

    policy_parser_init(p);
    return policy_parse(p, buf, len, &used);
}

/* ------------------------------------------------------------ whole requests */

static void test_real_request_whole(void **state)
{
    char buf[2048];
    size_t len = real_request(buf, sizeof(buf), "\n");
    policy_parser p;
    size_t used;

    policy_parser_init(&p);
    assert_null(policy_parser_request(&p));
    assert_int_equal(policy_parse(&p, buf, len, &used), POLICY_REQUEST_DONE);
    assert_int_equal(used, len);
    check_real(policy_parser_request(&p));
    policy_parser_free(&p);
}

static void test_real_request_byte_by_byte(void **state)
{
    char buf[2048];
    size_t len = real_request(buf, sizeof(buf), "\n");
    policy_parser p;
    size_t used;

    policy_parser_init(&p);
    for (size_t i = 0; i + 1 < len; i++) {
        assert_int_equal(policy_parse(&p, buf + i, 1, &used), POLICY_NEED_MORE);
        assert_int_equal(used, 1);
        assert_null(policy_parser_request(&p));
    }
    assert_int_equal(policy_parse(&p, buf + len - 1, 1, &used), POLICY_REQUEST_DONE);
    assert_int_equal(used, 1);
    check_real(policy_parser_request(&p));
    policy_parser_free(&p);
}

static void test_real_request_every_split(void **state)
{
    char buf[2048];
    size_t len = real_request(buf, sizeof(buf), "\n");

    for (size_t split = 0; split <= len; split++) {
        policy_parser p;
        size_t used;

        policy_parser_init(&p);
        assert_int_equal(policy_parse(&p, buf, split, &used),
                         split == len ? POLICY_REQUEST_DONE : POLICY_NEED_MORE);
        assert_int_equal(used, split);
        if (split < len) {
            assert_int_equal(policy_parse(&p, buf + split, len - split, &used),
                             POLICY_REQUEST_DONE);
            assert_int_equal(used, len - split);
        }
        check_real(policy_parser_request(&p));
        policy_parser_free(&p);
    }
}

static void test_empty_parse_call(void **state)
{
    policy_parser p;
    size_t used = 99;

    policy_parser_init(&p);
    assert_int_equal(policy_parse(&p, NULL, 0, &used), POLICY_NEED_MORE);
    assert_int_equal(used, 0);
    assert_null(p.req.arena);   /* nothing allocated before a byte arrives */
    policy_parser_free(&p);
}

/* --------------------------------------------- several requests, one stream */

static const char two_requests[] = "request=smtpd_access_policy\nprotocol_state=RCPT\n"
                                   "helo_name=first.example\n\n"
                                   "request=smtpd_access_policy\nprotocol_state=DATA\n"
                                   "helo_name=second.example\nqueue_id=4XyZ\n\n";

static void test_two_requests_one_buffer(void **state)
{
    const size_t len = sizeof(two_requests) - 1;
    const size_t first = strstr(two_requests, "\n\n") + 2 - two_requests;
    const policy_request *req;
    policy_parser p;
    size_t used;

    policy_parser_init(&p);
    assert_int_equal(policy_parse(&p, two_requests, len, &used), POLICY_REQUEST_DONE);
    assert_int_equal(used, first);
    req = policy_parser_request(&p);
    assert_int_equal(policy_count(req), 3);
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_HELO_NAME), "first.example");
    assert_null(policy_get_attr(req, POLICY_ATTR_QUEUE_ID));

    policy_parser_reset(&p);
    assert_null(policy_parser_request(&p));
    assert_int_equal(policy_parse(&p, two_requests + used, len - used, &used), POLICY_REQUEST_DONE);
    assert_int_equal(used, len - first);
    req = policy_parser_request(&p);
    assert_int_equal(policy_count(req), 4);
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_PROTOCOL_STATE), "DATA");
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_HELO_NAME), "second.example");
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_QUEUE_ID), "4XyZ");
    policy_parser_free(&p);
}

/*
 * The daemon's read loop: the stream arrives in two reads split at every
 * point; each request is taken, the parser reset, the rest fed again.
 */
static void test_pipelined_every_split(void **state)
{
    static const char *const helo[] = { "first.example", "second.example" };
    const size_t len = sizeof(two_requests) - 1;

    for (size_t split = 0; split <= len; split++) {
        const size_t reads[2][2] = { { 0, split }, { split, len } };
        size_t seen = 0;
        policy_parser p;

        policy_parser_init(&p);
        for (int r = 0; r < 2; r++) {
            size_t off = reads[r][0];
            size_t end = reads[r][1];

            while (off < end) {
                const policy_request *req;
                size_t used;
                policy_status status = policy_parse(&p, two_requests + off, end - off, &used);

                off += used;
                if (status == POLICY_NEED_MORE) {
                    assert_int_equal(off, end);
                    continue;
                }
                assert_int_equal(status, POLICY_REQUEST_DONE);
                assert_true(seen < 2);
                req = policy_parser_request(&p);
                assert_string_equal(policy_get_attr(req, POLICY_ATTR_HELO_NAME), helo[seen]);
                seen++;
                policy_parser_reset(&p);
            }
        }
        assert_int_equal(seen, 2);
        policy_parser_free(&p);
    }
}

static void test_reset_and_reuse(void **state)
{
    char buf[2048];
    size_t len = real_request(buf, sizeof(buf), "\n");
    char *big = malloc(POLICY_REQUEST_MAX);
    size_t biglen;
    policy_parser p;
    size_t used;

    assert_non_null(big);
    policy_parser_init(&p);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(policy_parse(&p, buf, len, &used), POLICY_REQUEST_DONE);
        check_real(policy_parser_request(&p));
        policy_parser_reset(&p);
        /* a small request keeps the initial arena for the next one */
        assert_int_equal(p.req.size, POLICY_ARENA_INITIAL);
    }

    /* a big request grows the arena; reset gives the memory back */
    memset(big, 'x', 3 * POLICY_ARENA_INITIAL);
    memcpy(big, "filler=", 7);
    biglen = 3 * POLICY_ARENA_INITIAL;
    big[biglen++] = '\n';
    big[biglen++] = '\n';
    assert_int_equal(policy_parse(&p, big, biglen, &used), POLICY_REQUEST_DONE);
    assert_true(p.req.size > POLICY_ARENA_INITIAL);
    assert_int_equal(strlen(policy_get(policy_parser_request(&p), "filler")),
                     3 * POLICY_ARENA_INITIAL - 7);
    policy_parser_reset(&p);
    assert_int_equal(p.req.size, 0);
    assert_null(p.req.arena);

    /* and the parser still works afterwards */
    assert_int_equal(policy_parse(&p, buf, len, &used), POLICY_REQUEST_DONE);
    check_real(policy_parser_request(&p));
    policy_parser_free(&p);
    free(big);

    /* the per-connection footprint the header documents */
    assert_true(sizeof(policy_parser) <= 224);
}

/* --------------------------------------------------------- lenient forms */

static void test_crlf(void **state)
{
    char buf[2048];
    size_t len = real_request(buf, sizeof(buf), "\r\n");
    static const char mixed[] = "helo_name=a.example\r\nsender=\nrecipient=x@y\r\n\n";
    static const char two_cr[] = "helo_name=a.example\r\r\n\r\n";
    const policy_request *req;
    policy_parser p;

    assert_int_equal(parse_one(&p, buf, len), POLICY_REQUEST_DONE);
    check_real(policy_parser_request(&p));
    policy_parser_free(&p);

    assert_int_equal(parse_one(&p, mixed, sizeof(mixed) - 1), POLICY_REQUEST_DONE);
    req = policy_parser_request(&p);
    assert_string_equal(policy_get(req, "helo_name"), "a.example");
    assert_string_equal(policy_get(req, "sender"), "");
    assert_string_equal(policy_get(req, "recipient"), "x@y");
    policy_parser_free(&p);

    /* only one CR is stripped: the other stays in the value */
    assert_int_equal(parse_one(&p, two_cr, sizeof(two_cr) - 1), POLICY_REQUEST_DONE);
    assert_string_equal(policy_get(policy_parser_request(&p), "helo_name"), "a.example\r");
    policy_parser_free(&p);
}

static void test_values(void **state)
{
    static const char text[] = "queue_id=\n"
                               "ccert_der=TWE=\n"
                               "x=a=b==c\n"
                               "y= spaces and\ttabs \n"
                               "z=\xc3\xa4\x01\x7f\n"
                               "Helo_Name=upper\n"
                               "helo_name=lower\n"
                               "a-b_C9=ok\n"
                               "\n";
    const policy_request *req;
    policy_parser p;

    assert_int_equal(parse_one(&p, text, sizeof(text) - 1), POLICY_REQUEST_DONE);
    req = policy_parser_request(&p);
    assert_int_equal(policy_count(req), 8);
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_QUEUE_ID), "");
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_CCERT_DER), "TWE=");
    assert_string_equal(policy_get(req, "x"), "a=b==c");
    assert_string_equal(policy_get(req, "y"), " spaces and\ttabs ");
    assert_string_equal(policy_get(req, "z"), "\xc3\xa4\x01\x7f");
    /* names are case-sensitive: these are two different attributes */
    assert_string_equal(policy_get(req, "Helo_Name"), "upper");
    assert_string_equal(policy_get_attr(req, POLICY_ATTR_HELO_NAME), "lower");
    assert_string_equal(policy_get(req, "a-b_C9"), "ok");
    assert_null(policy_get(req, "a"));
    policy_parser_free(&p);
}

static void test_empty_request(void **state)
{
    static const char *const inputs[] = { "\n", "\r\n" };

    for (size_t i = 0; i < 2; i++) {
        policy_parser p;
        size_t pos = 0;
        const char *name;
        const char *value;
        const policy_request *req;

        assert_int_equal(parse_one(&p, inputs[i], strlen(inputs[i])), POLICY_REQUEST_DONE);
        req = policy_parser_request(&p);
        assert_int_equal(policy_count(req), 0);
        assert_false(policy_next(req, &pos, &name, &value));
        assert_null(policy_get(req, "request"));
        assert_null(policy_get_attr(req, POLICY_ATTR_REQUEST));
        policy_parser_free(&p);
    }
}

/* ------------------------------------------------------------------ limits */

/* line_request - "v=" plus filler making a line of content bytes, with eol, then the empty line. */
static size_t line_request(char *buf, size_t content, const char *eol)
{
    size_t len = content;

    memset(buf, 'x', content);
    memcpy(buf, "v=", 2);
    strcpy(buf + len, eol);
    len += strlen(eol);
    buf[len++] = '\n';
    return len;
}

static void test_line_limit(void **state)
{
    static const struct {
        size_t content;
        const char *eol;
        policy_status status;
    } cases[] = {
        { POLICY_LINE_MAX, "\n", POLICY_REQUEST_DONE },
        { POLICY_LINE_MAX, "\r\n", POLICY_REQUEST_DONE },
        { POLICY_LINE_MAX - 1, "\r\r\n", POLICY_REQUEST_DONE }, /* value keeps one CR */
        { POLICY_LINE_MAX + 1, "\n", POLICY_ERR_LINE_TOO_LONG },
        { POLICY_LINE_MAX + 1, "\r\n", POLICY_ERR_LINE_TOO_LONG },
        { POLICY_LINE_MAX, "\r\r\n", POLICY_ERR_LINE_TOO_LONG },
    };
    char *buf = malloc(POLICY_LINE_MAX + 8);

    assert_non_null(buf);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = line_request(buf, cases[i].content, cases[i].eol);

        const size_t chunks[] = { len, 4093, 1 };

        for (size_t k = 0; k < 3; k++) {
            size_t chunk = chunks[k];
            policy_parser p;
            size_t fed;

            policy_parser_init(&p);
            assert_int_equal(feed(&p, buf, len, chunk, &fed), cases[i].status);
            if (cases[i].status == POLICY_REQUEST_DONE) {
                const char *v = policy_get(policy_parser_request(&p), "v");
                size_t kept_cr = (strcmp(cases[i].eol, "\r\r\n") == 0);

                assert_non_null(v);
                assert_int_equal(strlen("v=") + strlen(v), cases[i].content + kept_cr);
            }
            policy_parser_free(&p);
        }
    }
    free(buf);
}

/* A line that never ends is refused at its (POLICY_LINE_MAX + 2)th byte: no more is buffered. */
static void test_line_limit_found_early(void **state)
{
    policy_parser p;
    size_t used;

    policy_parser_init(&p);
    assert_int_equal(policy_parse(&p, "v=", 2, &used), POLICY_NEED_MORE);
    for (size_t n = 2; n < POLICY_LINE_MAX + 1; n++)
        assert_int_equal(policy_parse(&p, "x", 1, &used), POLICY_NEED_MORE);
    assert_int_equal(policy_parse(&p, "x", 1, &used), POLICY_ERR_LINE_TOO_LONG);
    policy_parser_free(&p);
}

/* build_request - nattrs unique attributes, filler spread over them, total bytes in all. */
static size_t build_request(char *buf, size_t nattrs, size_t total)
{
    const size_t overhead = nattrs * 6 + 1;      /* "aNNN=" + "\n" each, the empty line */
    size_t filler;
    size_t len = 0;

    assert_true(nattrs > 0 && nattrs <= 999 && total >= overhead);
    filler = total - overhead;
    for (size_t i = 0; i < nattrs; i++) {
        size_t v = filler / nattrs + (i < filler % nattrs);

        assert_true(5 + v <= POLICY_LINE_MAX);
        snprintf(buf + len, 6, "a%03zu=", i);
        len += 5;
        memset(buf + len, 'y', v);
        len += v;
        buf[len++] = '\n';
    }
    buf[len++] = '\n';
    assert_int_equal(len, total);
    return len;
}

static void test_attribute_count_limit(void **state)
{
    char *buf = malloc(POLICY_REQUEST_MAX + 1);
    policy_parser p;
    size_t len;
    size_t fed;

    assert_non_null(buf);
    len = build_request(buf, POLICY_ATTRS_MAX, POLICY_ATTRS_MAX * 6 + 1);
    assert_int_equal(parse_one(&p, buf, len), POLICY_REQUEST_DONE);
    assert_int_equal(policy_count(policy_parser_request(&p)), POLICY_ATTRS_MAX);
    assert_string_equal(policy_get(policy_parser_request(&p), "a255"), "");
    policy_parser_free(&p);

    len = build_request(buf, POLICY_ATTRS_MAX + 1, (POLICY_ATTRS_MAX + 1) * 6 + 1);
    policy_parser_init(&p);
    assert_int_equal(feed(&p, buf, len, 1, &fed), POLICY_ERR_TOO_MANY);
    assert_int_equal(fed, POLICY_ATTRS_MAX * 6 + 6); /* refused at the 257th line's "\n" */
    policy_parser_free(&p);

    /* the largest legal request with the most attributes */
    len = build_request(buf, POLICY_ATTRS_MAX, POLICY_REQUEST_MAX);
    assert_int_equal(parse_one(&p, buf, len), POLICY_REQUEST_DONE);
    assert_int_equal(policy_count(policy_parser_request(&p)), POLICY_ATTRS_MAX);
    policy_parser_free(&p);
    free(buf);
}

/*
 * Unknown names go through a hash filter before the duplicate scan: a
 * repeat is caught wherever the first one was, and many distinct names
 * (the filter full) are never taken for repeats.
 */
static void test_unknown_duplicates(void **state)
{
    static const size_t first[] = { 0, 1, 63, 64, 127, 128, 200, 253 };
    char *buf = malloc(POLICY_REQUEST_MAX + 1);
    policy_parser p;
    size_t len;

    (void) state;
    assert_non_null(buf);
    for (size_t k = 0; k < sizeof(first) / sizeof(first[0]); k++) {
        len = 0;
        for (size_t i = 0; i < 254; i++)
            len += (size_t) sprintf(buf + len, "x%zu=%zu\n", i, i);
        len += (size_t) sprintf(buf + len, "x%zu=again\n\n", first[k]);
        assert_int_equal(parse_one(&p, buf, len), POLICY_ERR_DUPLICATE);
        policy_parser_free(&p);
        /* the same without the repeat is one good request of 254 names */
        len = 0;
        for (size_t i = 0; i < 254; i++)
            len += (size_t) sprintf(buf + len, "x%zu=%zu\n", i, i);
        len += (size_t) sprintf(buf + len, "y%zu=new\n\n", first[k]);
        assert_int_equal(parse_one(&p, buf, len), POLICY_REQUEST_DONE);
        assert_int_equal(policy_count(policy_parser_request(&p)), 255);
        assert_string_equal(policy_get(policy_parser_request(&p), "x200"), "200");
        policy_parser_free(&p);
    }
    free(buf);
}

static void test_request_size_limit(void **state)
{
    const size_t nattrs = 8;    /* the fewest lines that can carry 64 KiB */
    const size_t chunks[] = { POLICY_REQUEST_MAX + 1, 1000, 1 };
    char *buf = malloc(POLICY_REQUEST_MAX + 1);
    policy_parser p;
    size_t len;
    size_t fed;

    assert_non_null(buf);
    len = build_request(buf, nattrs, POLICY_REQUEST_MAX);
    for (size_t k = 0; k < 3; k++) {
        policy_parser_init(&p);
        assert_int_equal(feed(&p, buf, len, chunks[k], &fed), POLICY_REQUEST_DONE);
        assert_int_equal(fed, len);
        assert_int_equal(policy_count(policy_parser_request(&p)), nattrs);
        assert_true(p.req.size <= POLICY_REQUEST_MAX);
        policy_parser_free(&p);
    }

    /* one byte more, and it is refused at exactly that byte */
    len = build_request(buf, nattrs, POLICY_REQUEST_MAX + 1);
    for (size_t k = 0; k < 3; k++) {
        policy_parser_init(&p);
        assert_int_equal(feed(&p, buf, len, chunks[k], &fed), POLICY_ERR_TOO_BIG);
        if (chunks[k] == 1)
            assert_int_equal(fed, POLICY_REQUEST_MAX + 1);
        policy_parser_free(&p);
    }

    /* a request that never ends is refused at its (POLICY_REQUEST_MAX + 1)th byte */
    len = build_request(buf, nattrs, POLICY_REQUEST_MAX + 1) - 1;  /* without the empty line */
    buf[len++] = 'z';
    policy_parser_init(&p);
    assert_int_equal(feed(&p, buf, len, 1, &fed), POLICY_ERR_TOO_BIG);
    assert_int_equal(fed, POLICY_REQUEST_MAX + 1);
    policy_parser_free(&p);
    free(buf);
}

static void test_name_length_limit(void **state)
{
    char buf[POLICY_NAME_MAX + 16];
    policy_parser p;

    memset(buf, 'n', POLICY_NAME_MAX);
    strcpy(buf + POLICY_NAME_MAX, "=v\n\n");
    assert_int_equal(parse_one(&p, buf, strlen(buf)), POLICY_REQUEST_DONE);
    buf[POLICY_NAME_MAX] = '\0';
    assert_string_equal(policy_get(policy_parser_request(&p), buf), "v");
    policy_parser_free(&p);

    memset(buf, 'n', POLICY_NAME_MAX + 1);
    strcpy(buf + POLICY_NAME_MAX + 1, "=v\n\n");
    assert_int_equal(parse_one(&p, buf, strlen(buf)), POLICY_ERR_SYNTAX);
    policy_parser_free(&p);
}

/* ----------------------------------------------------------- hostile lines */

struct bad_case {
    const char *text;
    size_t len;
    policy_status status;
};
#define BAD(s, st) { s, sizeof(s) - 1, st }

static const struct bad_case bad_cases[] = {
    /* NUL anywhere */
    BAD("a=b\0c\n\n", POLICY_ERR_NUL),
    BAD("\0a=b\n\n", POLICY_ERR_NUL),
    BAD("a\0=b\n\n", POLICY_ERR_NUL),
    BAD("a=b\n\0\n", POLICY_ERR_NUL),
    BAD("a=b\r\0\n\n", POLICY_ERR_NUL),
    BAD("a=b\n\0", POLICY_ERR_NUL),
    /* no "=" */
    BAD("ab\n\n", POLICY_ERR_SYNTAX),
    BAD("request\n\n", POLICY_ERR_SYNTAX),
    BAD(" \n\n", POLICY_ERR_SYNTAX),
    BAD("\r\r\n", POLICY_ERR_SYNTAX),
    BAD("a=b\nc\n\n", POLICY_ERR_SYNTAX),
    /* empty name */
    BAD("=b\n\n", POLICY_ERR_SYNTAX),
    BAD("=\n\n", POLICY_ERR_SYNTAX),
    BAD("==\n\n", POLICY_ERR_SYNTAX),
    /* characters outside [A-Za-z0-9_-] in the name */
    BAD(" a=b\n\n", POLICY_ERR_SYNTAX),
    BAD("a =b\n\n", POLICY_ERR_SYNTAX),
    BAD("a.b=c\n\n", POLICY_ERR_SYNTAX),
    BAD("a:b=c\n\n", POLICY_ERR_SYNTAX),
    BAD("a/b=c\n\n", POLICY_ERR_SYNTAX),
    BAD("a\tb=c\n\n", POLICY_ERR_SYNTAX),
    BAD("a\rb=c\n\n", POLICY_ERR_SYNTAX),
    BAD("\ra=b\n\n", POLICY_ERR_SYNTAX),
    BAD("\xc3\xa4=x\n\n", POLICY_ERR_SYNTAX),
    BAD("\x7f=x\n\n", POLICY_ERR_SYNTAX),
    BAD("action=OK\nhelo_name\n\n", POLICY_ERR_SYNTAX),
    /* the same name twice: known and unknown names, any line ends */
    BAD("helo_name=a\nhelo_name=b\n\n", POLICY_ERR_DUPLICATE),
    BAD("helo_name=a\r\nhelo_name=a\n\n", POLICY_ERR_DUPLICATE),
    BAD("ccert_der=\nx=1\nccert_der=TWE=\n\n", POLICY_ERR_DUPLICATE),
    BAD("foo=a\nfoo=a\n\n", POLICY_ERR_DUPLICATE),
    BAD("foo=\nbar=1\nfoo=\n\n", POLICY_ERR_DUPLICATE),
};

static void test_hostile_lines(void **state)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];

        /* whole, then byte by byte: the same verdict */
        for (size_t chunk = c->len; chunk > 0; chunk = (chunk > 1 ? 1 : 0)) {
            policy_parser p;
            size_t fed;

            policy_parser_init(&p);
            assert_int_equal(feed(&p, c->text, c->len, chunk, &fed), c->status);
            assert_null(policy_parser_request(&p));
            policy_parser_free(&p);
        }
    }
}

static void test_dead_after_error(void **state)
{
    static const char good[] = "helo_name=a.example\n\n";
    static const char then_bad[] = "helo_name=a.example\n\nhelo_name\n\n";
    policy_parser p;
    size_t used = 99;

    assert_int_equal(parse_one(&p, "bad line\n", 9), POLICY_ERR_SYNTAX);
    /* everything afterwards, even a good request, gets the same error */
    assert_int_equal(policy_parse(&p, good, sizeof(good) - 1, &used), POLICY_ERR_SYNTAX);
    assert_int_equal(used, 0);
    assert_null(policy_parser_request(&p));
    policy_parser_free(&p);

    /* a good request, then a bad one on the same connection */
    assert_int_equal(parse_one(&p, then_bad, sizeof(then_bad) - 1), POLICY_REQUEST_DONE);
    policy_parser_reset(&p);
    assert_int_equal(policy_parse(&p, then_bad + sizeof(good) - 1,
                                  sizeof(then_bad) - sizeof(good), &used),
                     POLICY_ERR_SYNTAX);
    policy_parser_free(&p);
}

/* ---------------------------------------------------------- attribute names */

static void test_attr_names(void **state)
{
    policy_attr attr;

    for (int i = 0; i < POLICY_ATTR_COUNT; i++) {
        const char *name = policy_attr_name((policy_attr)i);

        assert_non_null(name);
        assert_true(policy_attr_lookup(name, &attr));
        assert_int_equal(attr, i);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(name, policy_attr_name((policy_attr)j));
    }
    assert_string_equal(policy_attr_name(POLICY_ATTR_CCERT_PUBKEY_FINGERPRINT),
                        "ccert_pubkey_fingerprint");
    assert_string_equal(policy_attr_name(POLICY_ATTR_CCERT_DER), "ccert_der");
    assert_false(policy_attr_lookup("HELO_NAME", &attr));
    assert_false(policy_attr_lookup("helo_name ", &attr));
    assert_false(policy_attr_lookup("", &attr));
    assert_false(policy_attr_lookup("size", &attr));
}

/* ------------------------------------------------------------------ replies */

/* check_one_line - out is "action=...\n\n" with no other line end and only printable bytes. */
static void check_one_line(const char *out, size_t len)
{
    assert_int_equal(strlen(out), len);
    assert_true(len >= strlen("action=X\n\n"));
    assert_memory_equal(out, "action=", 7);
    assert_memory_equal(out + len - 2, "\n\n", 2);
    for (size_t i = 0; i < len - 2; i++)
        assert_true(out[i] >= 0x20 && out[i] <= 0x7e);
}

static void test_reply(void **state)
{
    static const struct {
        const char *action;
        const char *text;
        policy_status status;
        const char *out;
    } cases[] = {
        { "OK", NULL, POLICY_OK, "action=OK\n\n" },
        { "DUNNO", "", POLICY_OK, "action=DUNNO\n\n" },
        { "DEFER_IF_PERMIT", "DANE temporary failure", POLICY_OK,
          "action=DEFER_IF_PERMIT DANE temporary failure\n\n" },
        { "450", "4.7.1 try again", POLICY_OK, "action=450 4.7.1 try again\n\n" },
        /* injection attempts: every line break or control becomes "?" */
        { "REJECT", "bad\naction=OK", POLICY_OK, "action=REJECT bad?action=OK\n\n" },
        { "REJECT", "bad\n\naction=OK\n\n", POLICY_OK, "action=REJECT bad??action=OK??\n\n" },
        { "REJECT", "cr\rhere", POLICY_OK, "action=REJECT cr?here\n\n" },
        { "REJECT", "crlf\r\naction=OK", POLICY_OK, "action=REJECT crlf??action=OK\n\n" },
        { "REJECT", "tab\there\x7f\x01", POLICY_OK, "action=REJECT tab?here??\n\n" },
        { "REJECT", "utf8 \xc3\xa4", POLICY_OK, "action=REJECT utf8 ??\n\n" },
        { "REJECT", "nul\0\naction=OK", POLICY_OK, "action=REJECT nul\n\n" },
        { "REJECT", "\n", POLICY_OK, "action=REJECT ?\n\n" },
        /* actions: never empty, never with anything that could smuggle text */
        { "", NULL, POLICY_ERR_ACTION, "" },
        { "", "text", POLICY_ERR_ACTION, "" },
        { "OK\n", NULL, POLICY_ERR_ACTION, "" },
        { "OK\naction=REJECT", NULL, POLICY_ERR_ACTION, "" },
        { "OK ", NULL, POLICY_ERR_ACTION, "" },
        { " OK", NULL, POLICY_ERR_ACTION, "" },
        { "REJECT text", NULL, POLICY_ERR_ACTION, "" },
        { "OK\r", NULL, POLICY_ERR_ACTION, "" },
        { "action=OK", NULL, POLICY_ERR_ACTION, "" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        size_t len = 99;

        memset(out, '#', sizeof(out));
        assert_int_equal(policy_reply(out, sizeof(out), cases[i].action, cases[i].text, &len),
                         cases[i].status);
        assert_string_equal(out, cases[i].out);
        if (cases[i].status == POLICY_OK) {
            assert_int_equal(len, strlen(cases[i].out));
            check_one_line(out, len);
        } else {
            assert_int_equal(len, 0);
        }
    }
}

static void test_reply_bounds(void **state)
{
    const char *want = "action=REJECT no entry\n\n";
    const size_t want_len = strlen(want);
    char out[64];
    size_t len;

    /* exactly fits (reply plus NUL), then one byte short, then nothing at all */
    memset(out, '#', sizeof(out));
    assert_int_equal(policy_reply(out, want_len + 1, "REJECT", "no entry", &len), POLICY_OK);
    assert_string_equal(out, want);
    assert_int_equal(len, want_len);
    assert_int_equal(out[want_len + 1], '#');

    memset(out, '#', sizeof(out));
    assert_int_equal(policy_reply(out, want_len, "REJECT", "no entry", &len), POLICY_ERR_NOSPACE);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    for (size_t i = 1; i < sizeof(out); i++)
        assert_true(i < want_len || out[i] == '#');

    assert_int_equal(policy_reply(NULL, 0, "OK", NULL, &len), POLICY_ERR_NOSPACE);
    assert_int_equal(policy_reply(out, 1, "OK", NULL, &len), POLICY_ERR_NOSPACE);
    assert_string_equal(out, "");
}

static void test_reply_prepend(void **state)
{
    static const struct {
        const char *header;
        const char *value;
        policy_status status;
        const char *out;
    } cases[] = {
        { "Authentication-Results", "mx.example; dane=pass header.d=mta1.example", POLICY_OK,
          "action=PREPEND Authentication-Results: mx.example; "
          "dane=pass header.d=mta1.example\n\n" },
        { "X-Empty", "", POLICY_OK, "action=PREPEND X-Empty:\n\n" },
        { "X-Folded", "a;\r\n\tb=c", POLICY_OK, "action=PREPEND X-Folded: a;???b=c\n\n" },
        { "X-Inject", "v\n\naction=OK", POLICY_OK, "action=PREPEND X-Inject: v??action=OK\n\n" },
        { "", "v", POLICY_ERR_HEADER, "" },
        { "X Y", "v", POLICY_ERR_HEADER, "" },
        { "X:Y", "v", POLICY_ERR_HEADER, "" },
        { "X:", "v", POLICY_ERR_HEADER, "" },
        { "X\n", "v", POLICY_ERR_HEADER, "" },
        { "X\tY", "v", POLICY_ERR_HEADER, "" },
        { "\xc3\xa4", "v", POLICY_ERR_HEADER, "" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        size_t len = 99;

        assert_int_equal(policy_reply_prepend(out, sizeof(out), cases[i].header, cases[i].value,
                                              &len),
                         cases[i].status);
        assert_string_equal(out, cases[i].out);
        if (cases[i].status == POLICY_OK) {
            assert_int_equal(len, strlen(cases[i].out));
            check_one_line(out, len);
        } else {
            assert_int_equal(len, 0);
        }
    }

    /* bounded like policy_reply */
    {
        char out[32];
        size_t len;
        const char *want = "action=PREPEND X-A: 12345\n\n";

        assert_int_equal(policy_reply_prepend(out, strlen(want) + 1, "X-A", "12345", &len),
                         POLICY_OK);
        assert_string_equal(out, want);
        assert_int_equal(policy_reply_prepend(out, strlen(want), "X-A", "12345", &len),
                         POLICY_ERR_NOSPACE);
        assert_string_equal(out, "");
    }
}

/* ------------------------------------------------------------------- base64 */

static void test_base64_cases(void **state)
{
    static const struct {
        const char *text;
        size_t outsize;
        policy_status status;
        const char *bytes;
        size_t len;
    } cases[] = {
        { "TWFu", 8, POLICY_OK, "Man", 3 },
        { "TWE=", 8, POLICY_OK, "Ma", 2 },
        { "TQ==", 8, POLICY_OK, "M", 1 },
        { "AAAA", 8, POLICY_OK, "\0\0\0", 3 },
        { "////", 8, POLICY_OK, "\xff\xff\xff", 3 },
        { "+/+/", 8, POLICY_OK, "\xfb\xff\xbf", 3 },
        { "TWFuTWFu", 8, POLICY_OK, "ManMan", 6 },
        { "TWFuTQ==", 8, POLICY_OK, "ManM", 4 },
        /* the output buffer: exactly enough, one short */
        { "TWFu", 3, POLICY_OK, "Man", 3 },
        { "TWFu", 2, POLICY_ERR_NOSPACE, NULL, 0 },
        { "TWE=", 2, POLICY_OK, "Ma", 2 },
        { "TWE=", 1, POLICY_ERR_NOSPACE, NULL, 0 },
        { "TQ==", 0, POLICY_ERR_NOSPACE, NULL, 0 },
        /* empty and truncated */
        { "", 8, POLICY_ERR_B64_EMPTY, NULL, 0 },
        { "T", 8, POLICY_ERR_B64_LENGTH, NULL, 0 },
        { "TQ", 8, POLICY_ERR_B64_LENGTH, NULL, 0 },
        { "TQ=", 8, POLICY_ERR_B64_LENGTH, NULL, 0 },
        { "TWF", 8, POLICY_ERR_B64_LENGTH, NULL, 0 },
        { "TWFuT", 8, POLICY_ERR_B64_LENGTH, NULL, 0 },
        { "TWFu\n", 8, POLICY_ERR_B64_LENGTH, NULL, 0 },
        /* characters outside the alphabet: white space, URL-safe, 8-bit */
        { "TW u", 8, POLICY_ERR_B64_CHAR, NULL, 0 },
        { "TWF\n", 8, POLICY_ERR_B64_CHAR, NULL, 0 },
        { "TW@u", 8, POLICY_ERR_B64_CHAR, NULL, 0 },
        { "-_-_", 8, POLICY_ERR_B64_CHAR, NULL, 0 },
        { "TWF\xc3", 8, POLICY_ERR_B64_CHAR, NULL, 0 },
        /* padding anywhere but at the end, too much, or hiding set bits */
        { "====", 8, POLICY_ERR_B64_PADDING, NULL, 0 },
        { "T===", 8, POLICY_ERR_B64_PADDING, NULL, 0 },
        { "=QQQ", 8, POLICY_ERR_B64_PADDING, NULL, 0 },
        { "TQ=A", 8, POLICY_ERR_B64_PADDING, NULL, 0 },
        { "TQ==TQ==", 8, POLICY_ERR_B64_PADDING, NULL, 0 },
        { "TWE=TWFu", 8, POLICY_ERR_B64_PADDING, NULL, 0 },
        { "TR==", 8, POLICY_ERR_B64_PADDING, NULL, 0 },
        { "TWF=", 8, POLICY_ERR_B64_PADDING, NULL, 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char out[8];
        size_t len = 99;

        assert_int_equal(policy_base64_decode(cases[i].text, out, cases[i].outsize, &len),
                         cases[i].status);
        if (cases[i].status == POLICY_OK) {
            assert_int_equal(len, cases[i].len);
            assert_memory_equal(out, cases[i].bytes, len);
        } else {
            assert_int_equal(len, 0);
        }
    }
}

/* b64 - encode with OpenSSL, an independent implementation; the caller frees. */
static char *b64(const unsigned char *buf, size_t len)
{
    char *text = malloc(4 * ((len + 2) / 3) + 1);

    assert_non_null(text);
    assert_int_equal(EVP_EncodeBlock((unsigned char *)text, buf, (int)len), 4 * ((len + 2) / 3));
    return text;
}

static void test_base64_roundtrip(void **state)
{
    unsigned char in[300];
    unsigned char out[300];
    uint32_t x = 2463534242u;   /* xorshift32: fixed pseudo-random bytes */

    for (size_t i = 0; i < sizeof(in); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        in[i] = (unsigned char)x;
    }
    for (size_t n = 1; n <= sizeof(in); n++) {
        char *text = b64(in, n);
        size_t len;

        assert_int_equal(policy_base64_decode(text, out, n, &len), POLICY_OK);
        assert_int_equal(len, n);
        assert_memory_equal(out, in, n);
        assert_int_equal(policy_base64_decode(text, out, n - 1, &len), POLICY_ERR_NOSPACE);
        free(text);
    }
}

static void test_base64_evidence_bound(void **state)
{
    unsigned char *in = calloc(1, EVIDENCE_CERT_MAX + 1);
    unsigned char *out = malloc(EVIDENCE_CERT_MAX);
    char *text;
    size_t len;

    assert_non_null(in);
    assert_non_null(out);
    in[0] = 0x30;
    in[EVIDENCE_CERT_MAX - 1] = 0x5a;

    text = b64(in, EVIDENCE_CERT_MAX);
    assert_int_equal(policy_base64_decode(text, out, EVIDENCE_CERT_MAX, &len), POLICY_OK);
    assert_int_equal(len, EVIDENCE_CERT_MAX);
    assert_memory_equal(out, in, EVIDENCE_CERT_MAX);
    free(text);

    text = b64(in, EVIDENCE_CERT_MAX + 1);
    assert_int_equal(policy_base64_decode(text, out, EVIDENCE_CERT_MAX, &len), POLICY_ERR_NOSPACE);
    assert_int_equal(len, 0);
    free(text);
    free(in);
    free(out);
}

/* A real certificate through the whole path: base64 in ccert_der, parse, decode, load. */
static void test_ccert_der(void **state)
{
    testcert *tc = testcert_self_signed("mta1.dance.test", "mta1.dance.test");
    char *text = b64(tc->der, tc->derlen);
    size_t reqlen = strlen(text) + 64;
    char *request = malloc(reqlen);
    unsigned char der[POLICY_DER_MAX];
    const unsigned char *d = der;
    const char *value;
    policy_parser p;
    size_t len;
    X509 *cert;

    assert_non_null(request);
    snprintf(request, reqlen, "request=smtpd_access_policy\nccert_der=%s\n\n", text);
    assert_int_equal(parse_one(&p, request, strlen(request)), POLICY_REQUEST_DONE);
    value = policy_get_attr(policy_parser_request(&p), POLICY_ATTR_CCERT_DER);
    assert_non_null(value);
    assert_int_equal(policy_base64_decode(value, der, sizeof(der), &len), POLICY_OK);
    assert_int_equal(len, tc->derlen);
    assert_memory_equal(der, tc->der, len);
    cert = d2i_X509(NULL, &d, (long)len);
    assert_non_null(cert);
    assert_int_equal(X509_cmp(cert, tc->cert), 0);

    X509_free(cert);
    policy_parser_free(&p);
    free(request);
    free(text);
    testcert_free(tc);
}

/* POLICY_DER_MAX is exactly the largest certificate a ccert_der line can carry. */
static void test_ccert_der_line_limit(void **state)
{
    unsigned char *in = calloc(1, POLICY_DER_MAX + 1);
    unsigned char *out = malloc(POLICY_DER_MAX);
    char *request = malloc(POLICY_LINE_MAX + 64);
    policy_parser p;
    char *text;
    size_t len;

    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(request);
    memset(in, 0xa5, POLICY_DER_MAX + 1);

    text = b64(in, POLICY_DER_MAX);
    snprintf(request, POLICY_LINE_MAX + 64, "ccert_der=%s\n\n", text);
    assert_true(strlen(request) - 2 <= POLICY_LINE_MAX);
    assert_true(strlen(request) - 2 + 4 > POLICY_LINE_MAX);    /* no room for another quad */
    assert_int_equal(parse_one(&p, request, strlen(request)), POLICY_REQUEST_DONE);
    assert_int_equal(policy_base64_decode(policy_get_attr(policy_parser_request(&p),
                                                          POLICY_ATTR_CCERT_DER),
                                          out, POLICY_DER_MAX, &len),
                     POLICY_OK);
    assert_int_equal(len, POLICY_DER_MAX);
    assert_memory_equal(out, in, len);
    policy_parser_free(&p);
    free(text);

    text = b64(in, POLICY_DER_MAX + 1);
    snprintf(request, POLICY_LINE_MAX + 64, "ccert_der=%s\n\n", text);
    assert_int_equal(parse_one(&p, request, strlen(request)), POLICY_ERR_LINE_TOO_LONG);
    policy_parser_free(&p);
    free(text);
    free(request);
    free(out);
    free(in);
}

/* ------------------------------------------------------------------- status */

static void test_status_str(void **state)
{
    for (int i = POLICY_OK; i <= POLICY_ERR_B64_PADDING; i++) {
        const char *s = policy_status_str((policy_status)i);

        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int j = POLICY_OK; j < i; j++)
            assert_string_not_equal(s, policy_status_str((policy_status)j));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_request_whole),
        cmocka_unit_test(test_real_request_byte_by_byte),
        cmocka_unit_test(test_real_request_every_split),
        cmocka_unit_test(test_empty_parse_call),
        cmocka_unit_test(test_two_requests_one_buffer),
        cmocka_unit_test(test_pipelined_every_split),
        cmocka_unit_test(test_reset_and_reuse),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_empty_request),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_line_limit_found_early),
        cmocka_unit_test(test_attribute_count_limit),
        cmocka_unit_test(test_unknown_duplicates),
        cmocka_unit_test(test_request_size_limit),
        cmocka_unit_test(test_name_length_limit),
        cmocka_unit_test(test_hostile_lines),
        cmocka_unit_test(test_dead_after_error),
        cmocka_unit_test(test_attr_names),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_reply_bounds),
        cmocka_unit_test(test_reply_prepend),
        cmocka_unit_test(test_base64_cases),
        cmocka_unit_test(test_base64_roundtrip),
        cmocka_unit_test(test_base64_evidence_bound),
        cmocka_unit_test(test_ccert_der),
        cmocka_unit_test(test_ccert_der_line_limit),
        cmocka_unit_test(test_status_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
