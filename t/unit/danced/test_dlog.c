/*
 * test_dlog.c - danced's log lines, read back from stderr.
 *
 * Each test points stderr (fd 2) at a temporary file, logs, puts stderr
 * back and then compares what was written: the text and JSON verdict
 * lines byte for byte (hostile bytes in the claimed name escaped), the
 * bound on a line, verdict lines batched and flushed with one write,
 * operational lines made printable, and verdict lines held for the end of
 * a loop turn (the order of lines kept).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "danced/dlog.h"

/* A captured stderr. */
typedef struct capture {
    FILE *tmp;
    int saved;
} capture;

/* capture_begin - send fd 2 to a temporary file. */
static void capture_begin(capture *c)
{
    fflush(stderr);
    c->tmp = tmpfile();
    assert_non_null(c->tmp);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->tmp), STDERR_FILENO) >= 0);
}

/* capture_end - put fd 2 back; returns what was written (free it). */
static char *capture_end(capture *c)
{
    long n;
    char *text;

    fflush(stderr);
    assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
    close(c->saved);
    n = ftell(c->tmp);
    assert_true(n >= 0);
    text = malloc((size_t) n + 1);
    assert_non_null(text);
    rewind(c->tmp);
    assert_int_equal(fread(text, 1, (size_t) n, c->tmp), (size_t) n);
    text[n] = '\0';
    fclose(c->tmp);
    return text;
}

/* count_lines - the number of "\n" in s. */
static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* A verdict whose claimed name carries a quote, a backslash, a control byte and a non-ASCII byte. */
static dlog_verdict_info hostile_info(void)
{
    dlog_verdict_info in = {
        .client = "192.0.2.1",
        .identity = "helo,mailfrom",
        .claimed = "Mx\"1\\\x01\xc3.example",
        .name = "mx1.example",
        .owner = "_smtp-client.mx1.example",
        .dnssec = "secure",
        .result = "pass",
        .reason = "matched TLSA 3 1 1",
        .matched = "3 1 1 abcd",
        .spki_sha256 = "abcd",
        .instance = NULL,
    };

    return in;
}

static void test_text_line(void **state)
{
    dlog log;
    capture c;
    dlog_verdict_info in = hostile_info();
    char *out;

    (void) state;
    dlog_init(&log, true, LOG_MAIL, CONFIG_LOG_TEXT);
    capture_begin(&c);
    dlog_verdict(&log, NULL, &in);
    out = capture_end(&c);
    assert_string_equal(out, "danced: info: verdict result=pass dnssec=secure identity=helo,mailfrom "
                        "client=192.0.2.1 spki_sha256=abcd instance=\"\" name=mx1.example "
                        "owner=_smtp-client.mx1.example matched=\"3 1 1 abcd\" "
                        "reason=\"matched TLSA 3 1 1\" claimed=\"Mx\\\"1\\\\??.example\"\n");
    free(out);
    dlog_close(&log);
}

static void test_json_line(void **state)
{
    dlog log;
    capture c;
    dlog_verdict_info in = hostile_info();
    char *out;

    (void) state;
    dlog_init(&log, true, LOG_MAIL, CONFIG_LOG_JSON);
    capture_begin(&c);
    dlog_verdict(&log, NULL, &in);
    out = capture_end(&c);
    assert_string_equal(out, "danced: info: {\"event\":\"verdict\",\"result\":\"pass\","
                        "\"dnssec\":\"secure\",\"identity\":\"helo,mailfrom\",\"client\":\"192.0.2.1\","
                        "\"spki_sha256\":\"abcd\",\"instance\":\"\",\"name\":\"mx1.example\","
                        "\"owner\":\"_smtp-client.mx1.example\",\"matched\":\"3 1 1 abcd\","
                        "\"reason\":\"matched TLSA 3 1 1\","
                        "\"claimed\":\"Mx\\\"1\\\\\\u0001\\u00c3.example\"}\n");
    free(out);
    dlog_close(&log);
}

/* A verdict from a stale answer: stale=yes (text) and "stale":true (JSON) after dnssec. */
static void test_stale_field(void **state)
{
    dlog log;
    capture c;
    dlog_verdict_info in = hostile_info();
    char *out;

    (void) state;
    in.claimed = "mx1.example";
    in.reason = "matched TLSA 3 1 1 (stale answer, expired 12 s ago)";
    in.stale = true;
    dlog_init(&log, true, LOG_MAIL, CONFIG_LOG_TEXT);
    capture_begin(&c);
    dlog_verdict(&log, NULL, &in);
    out = capture_end(&c);
    assert_string_equal(out, "danced: info: verdict result=pass dnssec=secure stale=yes identity=helo,mailfrom "
                        "client=192.0.2.1 spki_sha256=abcd instance=\"\" name=mx1.example "
                        "owner=_smtp-client.mx1.example matched=\"3 1 1 abcd\" "
                        "reason=\"matched TLSA 3 1 1 (stale answer, expired 12 s ago)\" claimed=\"mx1.example\"\n");
    free(out);
    dlog_close(&log);

    dlog_init(&log, true, LOG_MAIL, CONFIG_LOG_JSON);
    capture_begin(&c);
    dlog_verdict(&log, NULL, &in);
    out = capture_end(&c);
    assert_string_equal(out, "danced: info: {\"event\":\"verdict\",\"result\":\"pass\","
                        "\"dnssec\":\"secure\",\"stale\":true,\"identity\":\"helo,mailfrom\","
                        "\"client\":\"192.0.2.1\",\"spki_sha256\":\"abcd\",\"instance\":\"\","
                        "\"name\":\"mx1.example\",\"owner\":\"_smtp-client.mx1.example\","
                        "\"matched\":\"3 1 1 abcd\","
                        "\"reason\":\"matched TLSA 3 1 1 (stale answer, expired 12 s ago)\","
                        "\"claimed\":\"mx1.example\"}\n");
    free(out);
    dlog_close(&log);
}

/* A line longer than DLOG_LINE_MAX: text is cut (still one line); JSON becomes a short error object. */
static void test_line_bound(void **state)
{
    dlog log;
    capture c;
    dlog_verdict_info in = hostile_info();
    char *big = malloc(3 * DLOG_LINE_MAX), *out;
    const char *prefix = "danced: info: verdict result=pass dnssec=secure ";

    (void) state;
    assert_non_null(big);
    memset(big, 'a', 3 * DLOG_LINE_MAX - 1);
    big[3 * DLOG_LINE_MAX - 1] = '\0';
    in.claimed = big;
    dlog_init(&log, true, LOG_MAIL, CONFIG_LOG_TEXT);
    capture_begin(&c);
    dlog_verdict(&log, NULL, &in);
    out = capture_end(&c);
    assert_int_equal(count_lines(out), 1);
    assert_true(strlen(out) <= DLOG_LINE_MAX + strlen("danced: info: \n"));
    assert_true(strlen(out) > DLOG_LINE_MAX - 16);
    assert_memory_equal(out, prefix, strlen(prefix));
    assert_int_equal(out[strlen(out) - 1], '\n');
    free(out);

    dlog_reconfigure(&log, LOG_MAIL, CONFIG_LOG_JSON);
    capture_begin(&c);
    dlog_verdict(&log, NULL, &in);
    out = capture_end(&c);
    assert_string_equal(out, "danced: info: {\"event\":\"verdict\",\"error\":\"line too long\","
                        "\"result\":\"pass\"}\n");
    free(out);
    free(big);
    dlog_close(&log);
}

/* Batched lines are written only when flushed, in order; a full batch flushes itself first. */
static void test_batch(void **state)
{
    dlog log;
    capture c;
    dlog_batch batch;
    dlog_verdict_info in = hostile_info();
    char *out, *long_name = malloc(DLOG_LINE_MAX);
    char name[8][16];
    const char *p;

    (void) state;
    assert_non_null(long_name);
    dlog_init(&log, true, LOG_MAIL, CONFIG_LOG_TEXT);
    batch.len = 0;
    capture_begin(&c);
    in.claimed = "first.example";
    dlog_verdict(&log, &batch, &in);
    in.claimed = "second.example";
    dlog_verdict(&log, &batch, &in);
    out = capture_end(&c);
    assert_string_equal(out, "");               /* nothing yet */
    free(out);
    capture_begin(&c);
    dlog_batch_flush(&batch);
    dlog_batch_flush(&batch);                   /* an empty batch writes nothing */
    out = capture_end(&c);
    assert_int_equal(count_lines(out), 2);
    assert_non_null(p = strstr(out, "claimed=\"first.example\""));
    assert_non_null(strstr(p, "claimed=\"second.example\""));
    assert_int_equal(batch.len, 0);
    free(out);

    /* eight lines of nearly DLOG_LINE_MAX bytes: the batch holds three, so it flushes on its own */
    memset(long_name, 'b', DLOG_LINE_MAX - 1);
    long_name[DLOG_LINE_MAX - 1] = '\0';
    capture_begin(&c);
    for (int i = 0; i < 8; i++) {
        snprintf(name[i], sizeof(name[i]), "c%d.example", i);
        in.name = name[i];
        in.reason = long_name;                  /* the line is cut, after name */
        dlog_verdict(&log, &batch, &in);
    }
    dlog_batch_flush(&batch);
    out = capture_end(&c);
    assert_int_equal(count_lines(out), 8);
    p = out;
    for (int i = 0; i < 8; i++) {
        char want[8 * 16 + 16];

        snprintf(want, sizeof(want), "name=%s", name[i]);
        assert_non_null(p = strstr(p, want));
    }
    free(out);
    free(long_name);
    dlog_close(&log);
}

/* An operational line: the level word, and every byte outside printable ASCII as '?'. */
static void test_msg(void **state)
{
    dlog log;
    capture c;
    char *out;

    (void) state;
    dlog_init(&log, true, LOG_MAIL, CONFIG_LOG_TEXT);
    capture_begin(&c);
    dlog_msg(&log, LOG_WARNING, "%s: read: %s", "127.0.0.1:4711", "a\x01z\nnext\xff");
    dlog_msg(&log, LOG_ERR, "CONFIGURATION ERROR: %d", 7);
    dlog_msg(&log, LOG_INFO, "x");
    out = capture_end(&c);
    assert_string_equal(out, "danced: warning: 127.0.0.1:4711: read: a?z?next?\n"
                        "danced: error: CONFIGURATION ERROR: 7\n"
                        "danced: info: x\n");
    free(out);
    dlog_close(&log);
}

/* wake_count - the wake hook of test_hold: counts its calls. */
static void wake_count(void *arg)
{
    (*(int *) arg)++;
}

/*
 * Held lines (dlog_hold): a verdict line without a batch of its own is
 * held and wakes the holder once per empty-to-held; dlog_flush() writes
 * them; an operational line writes the held ones first (order kept);
 * dlog_close() writes what is still held.
 */
static void test_hold(void **state)
{
    dlog log;
    capture c;
    dlog_batch *held = malloc(sizeof(*held));
    dlog_verdict_info in = hostile_info();
    int wakes = 0;
    char *out;
    const char *a, *b, *m;

    (void) state;
    assert_non_null(held);
    dlog_init(&log, true, LOG_MAIL, CONFIG_LOG_TEXT);
    dlog_hold(&log, held, wake_count, &wakes);
    capture_begin(&c);
    in.claimed = "a.example";
    dlog_verdict(&log, NULL, &in);
    in.claimed = "b.example";
    dlog_verdict(&log, NULL, &in);
    out = capture_end(&c);
    assert_string_equal(out, "");               /* held */
    assert_int_equal(wakes, 1);                 /* once: the first line */
    free(out);
    capture_begin(&c);
    dlog_flush(&log);
    dlog_flush(&log);                           /* nothing more */
    out = capture_end(&c);
    assert_int_equal(count_lines(out), 2);
    free(out);
    /* an operational line after a held one: the held one is written first */
    capture_begin(&c);
    in.claimed = "c.example";
    dlog_verdict(&log, NULL, &in);
    dlog_msg(&log, LOG_INFO, "after");
    out = capture_end(&c);
    assert_int_equal(wakes, 2);
    assert_non_null(a = strstr(out, "claimed=\"c.example\""));
    assert_non_null(m = strstr(out, "danced: info: after"));
    assert_true(a < m);
    free(out);
    /* what is still held when the log closes is written */
    capture_begin(&c);
    in.claimed = "d.example";
    dlog_verdict(&log, NULL, &in);
    dlog_close(&log);
    out = capture_end(&c);
    assert_non_null(b = strstr(out, "claimed=\"d.example\""));
    free(out);
    free(held);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_line),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_stale_field),
        cmocka_unit_test(test_line_bound),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_msg),
        cmocka_unit_test(test_hold),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
