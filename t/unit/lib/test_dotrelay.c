/*
 * test_dotrelay.c - unit tests for DNS over TLS's pure parts: the forwarder
 * syntax (lib/dotrelay_addr.c) and the configuration keys forwarders_tls
 * and tls_ca_file (lib/config.c).
 *
 * Covered: IP, IP@PORT, IP#NAME, IP@PORT#NAME for IPv4 and IPv6, the
 * default ports (853 with TLS, 53 without), names lower-cased with a
 * trailing dot dropped; bad addresses, ports (0, 65536, empty, letters,
 * six digits) and names (empty, '_', a label over 63 octets, a name over
 * 253, leading or trailing hyphen, empty label); TLS without a NAME.  In
 * the configuration file: the keys' defaults, a good DoT setting passed on
 * to resolver_config, and each cross-key error with its file, line and key
 * (no #NAME with TLS, #NAME without TLS, TLS without forwarders).  The
 * relay itself is tested against a real unbound in t/dns/dot.sh.
 */
#define _GNU_SOURCE                     /* fmemopen */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/dotrelay.h"

static void test_parse_good(void **state)
{
    static const struct { const char *in; bool tls; const char *ip; unsigned port; const char *name; } good[] = {
        { "192.0.2.1", false, "192.0.2.1", 53, "" },
        { "192.0.2.1@5300", false, "192.0.2.1", 5300, "" },
        { "192.0.2.1#dns.example", true, "192.0.2.1", 853, "dns.example" },
        { "192.0.2.1@8853#DNS.Example.", true, "192.0.2.1", 8853, "dns.example" },
        { "2001:db8::1#dot-1.example", true, "2001:db8::1", 853, "dot-1.example" },
        { "2001:db8::1@65535#x", true, "2001:db8::1", 65535, "x" },
        { "::1@1#a.b", false, "::1", 1, "a.b" },     /* syntax allows a name; config refuses it without TLS */
    };
    dotrelay_forwarder f;

    (void) state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (dotrelay_parse_forwarder(good[i].in, good[i].tls, &f) != DOTRELAY_ADDR_OK)
            fail_msg("\"%s\" refused", good[i].in);
        assert_string_equal(f.ip, good[i].ip);
        assert_int_equal(f.port, good[i].port);
        assert_string_equal(f.name, good[i].name);
    }
}

static void test_parse_bad(void **state)
{
    char label64[80], long_name[300];
    static const struct { const char *in; bool tls; dotrelay_addr_status st; } bad[] = {
        { "", false, DOTRELAY_ADDR_BAD_IP },
        { "dns.example", false, DOTRELAY_ADDR_BAD_IP },
        { "192.0.2.1:853", true, DOTRELAY_ADDR_BAD_IP },
        { "[::1]@853#a.example", true, DOTRELAY_ADDR_BAD_IP },
        { "#a.example", true, DOTRELAY_ADDR_BAD_IP },
        { "192.0.2.1@0#a.example", true, DOTRELAY_ADDR_BAD_PORT },
        { "192.0.2.1@65536#a.example", true, DOTRELAY_ADDR_BAD_PORT },
        { "192.0.2.1@#a.example", true, DOTRELAY_ADDR_BAD_PORT },
        { "192.0.2.1@85x#a.example", true, DOTRELAY_ADDR_BAD_PORT },
        { "192.0.2.1@000853#a.example", true, DOTRELAY_ADDR_BAD_PORT },
        { "192.0.2.1#", true, DOTRELAY_ADDR_BAD_NAME },
        { "192.0.2.1#.", true, DOTRELAY_ADDR_BAD_NAME },
        { "192.0.2.1#dns_1.example", true, DOTRELAY_ADDR_BAD_NAME },
        { "192.0.2.1#-a.example", true, DOTRELAY_ADDR_BAD_NAME },
        { "192.0.2.1#a-.example", true, DOTRELAY_ADDR_BAD_NAME },
        { "192.0.2.1#a..example", true, DOTRELAY_ADDR_BAD_NAME },
        { "192.0.2.1#a.example#b", true, DOTRELAY_ADDR_BAD_NAME },
        { "192.0.2.1", true, DOTRELAY_ADDR_NO_NAME },
        { "192.0.2.1@853", true, DOTRELAY_ADDR_NO_NAME },
    };
    dotrelay_forwarder f;

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dotrelay_addr_status st = dotrelay_parse_forwarder(bad[i].in, bad[i].tls, &f);

        if (st != bad[i].st)
            fail_msg("\"%s\": status %d (%s), want %d", bad[i].in, st, dotrelay_addr_status_str(st), bad[i].st);
        assert_string_not_equal(dotrelay_addr_status_str(st), "unknown");
    }
    /* a 64-octet label; a 254-octet name; 63 and 253 are fine */
    snprintf(label64, sizeof(label64), "192.0.2.1#%064d.example", 0);
    assert_int_equal(dotrelay_parse_forwarder(label64, true, &f), DOTRELAY_ADDR_BAD_NAME);
    snprintf(label64, sizeof(label64), "192.0.2.1#%063d.example", 0);
    assert_int_equal(dotrelay_parse_forwarder(label64, true, &f), DOTRELAY_ADDR_OK);
    snprintf(long_name, sizeof(long_name), "192.0.2.1#%063d.%063d.%063d.%062d", 1, 2, 3, 4);
    assert_int_equal(strlen(long_name) - strlen("192.0.2.1#"), 254);
    assert_int_equal(dotrelay_parse_forwarder(long_name, true, &f), DOTRELAY_ADDR_BAD_NAME);
    snprintf(long_name, sizeof(long_name), "192.0.2.1#%063d.%063d.%063d.%061d", 1, 2, 3, 4);
    assert_int_equal(dotrelay_parse_forwarder(long_name, true, &f), DOTRELAY_ADDR_OK);
    assert_int_equal(strlen(f.name), 253);
}

/* load_text - config_load_stream over text, named "t.conf" in errors. */
static config_status load_text(const char *text, dance_config *cfg, char *err, size_t errsize)
{
    FILE *fp = fmemopen((void *) text, strlen(text), "r");
    config_status st;

    assert_non_null(fp);
    config_init(cfg);
    st = config_load_stream(fp, "t.conf", cfg, err, errsize);
    fclose(fp);
    return st;
}

static void test_config_keys(void **state)
{
    dance_config cfg;
    resolver_config rc;
    char err[512];

    (void) state;
    /* defaults: no TLS, the system's CAs */
    assert_int_equal(load_text("", &cfg, err, sizeof(err)), CONFIG_OK);
    assert_false(cfg.forwarders_tls);
    assert_string_equal(cfg.tls_ca_file, "");
    config_resolver(&cfg, &rc);
    assert_false(rc.forwarders_tls);
    assert_null(rc.tls_ca_file);
    config_free(&cfg);

    assert_int_equal(load_text("forwarders = 192.0.2.1#dns.example, 2001:db8::1@8853#dns.example\n"
                               "forwarders_tls = yes\n"
                               "tls_ca_file = /etc/dance/ca.pem\n", &cfg, err, sizeof(err)), CONFIG_OK);
    assert_true(cfg.forwarders_tls);
    config_resolver(&cfg, &rc);
    assert_true(rc.forwarders_tls);
    assert_string_equal(rc.tls_ca_file, "/etc/dance/ca.pem");
    assert_int_equal(rc.nforwarders, 2);
    assert_string_equal(rc.forwarders[1], "2001:db8::1@8853#dns.example");
    config_free(&cfg);

    /* forwarders_tls = no with plain forwarders: as before */
    assert_int_equal(load_text("forwarders_tls = no\nforwarders = 192.0.2.1@53\ntls_ca_file = none\n", &cfg, err,
                               sizeof(err)), CONFIG_OK);
    config_resolver(&cfg, &rc);
    assert_false(rc.forwarders_tls);
    assert_null(rc.tls_ca_file);
    config_free(&cfg);
}

static void test_config_errors(void **state)
{
    static const struct { const char *text, *message; } bad[] = {
        { "forwarders_tls = yes\n# c\nforwarders = 192.0.2.1#dns.example 192.0.2.2@853\n",
          "t.conf:3: forwarders: \"192.0.2.2@853\": no #NAME: forwarders_tls needs the name each "
          "forwarder's certificate carries" },
        { "forwarders = 192.0.2.1#dns.example\n",
          "t.conf:1: forwarders: \"192.0.2.1#dns.example\": #NAME needs forwarders_tls = yes" },
        { "\nforwarders_tls = yes\n", "t.conf:2: forwarders_tls: needs forwarders (IP#NAME or IP@PORT#NAME)" },
        { "forwarders = 192.0.2.1#dns_x.example\n",
          "t.conf:1: forwarders: \"192.0.2.1#dns_x.example\": bad authentication name after #; "
          "expected IP, IP@PORT, IP#NAME or IP@PORT#NAME" },
        { "forwarders_tls = maybe\n", "t.conf:1: forwarders_tls: not a boolean: \"maybe\" (use yes or no)" },
    };
    dance_config cfg;
    char err[512];

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(load_text(bad[i].text, &cfg, err, sizeof(err)), CONFIG_SYNTAX);
        assert_string_equal(err, bad[i].message);
        config_free(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
