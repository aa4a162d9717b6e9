/*
 * common.c - what the dance commands that look up TLSA records share:
 * writing JSON strings, printing untrusted text, and the resolver options
 * (-c FILE, --resolver-config, --trust-anchor, --timeout) that "check"
 * and "sender-check" both take.
 *
 * USAGE
 *	A command puts CLI_RESOLVER_LONGOPTS in its getopt_long table and
 *	"c:" in its short options, hands every option to cli_resolver_opt()
 *	first, and after parsing calls cli_resolver_load() for the
 *	resolver_config to give resolver_new().
 */
#include <stdio.h>
#include <string.h>

#include "lib/config.h"
#include "lib/resolver.h"
#include "cli.h"

/* cli_json_str - write s as a JSON string (or null). */
void cli_json_str(FILE *fp, const char *s)
{
    if (s == NULL) {
        fputs("null", fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

/* cli_print_safe - print untrusted text with anything but printable ASCII as \xNN. */
void cli_print_safe(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c < 0x20 || c > 0x7e || c == '\\')
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}


/* cli_resolver_opt - take one resolver option into *ro; 0, an exit status, or -1 when c is not one. */
int cli_resolver_opt(const char *cmd, int c, const char *arg, cli_resolver_opts *ro)
{
    switch (c) {
    case 'c':
        ro->conf_file = arg;
        return 0;
    case CLI_OPT_RESCONF:
        ro->resconf = arg;
        return 0;
    case CLI_OPT_TA:
        ro->trust_anchor = arg;
        return 0;
    case CLI_OPT_TIMEOUT:
        if (cli_parse_uint(arg, 1, 300, &ro->timeout) != 0)
            return cli_usage_error(cmd, "--timeout: expected whole seconds from 1 to 300", arg);
        return 0;
    default:
        return -1;
    }
}

/* cli_resolver_load - load -c FILE into *cfg (when given) and fill *rc with the options applied; 0 or an exit status. */
int cli_resolver_load(const char *cmd, const cli_resolver_opts *ro, dance_config *cfg,
                      resolver_config *rc)
{
    char err[512];

    if (ro->conf_file != NULL) {
        switch (config_load(ro->conf_file, cfg, err, sizeof(err))) {
        case CONFIG_OK:
            break;
        case CONFIG_UNREADABLE:
            fprintf(stderr, "dance %s: %s\n", cmd, err);
            return EXIT_NOINPUT;
        case CONFIG_SYNTAX:
            fprintf(stderr, "dance %s: %s\n", cmd, err);
            return EXIT_USAGE;
        }
    }
    config_resolver(cfg, rc);
    if (ro->resconf != NULL)
        rc->unbound_config = ro->resconf;
    if (ro->trust_anchor != NULL)
        rc->trust_anchor_file = ro->trust_anchor;
    if (ro->timeout != 0)
        rc->timeout_ms = (unsigned) ro->timeout * 1000;
    return 0;
}
