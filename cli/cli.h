/*
 * cli.h - what the dance command's files share: exit codes, input
 * reading, and the commands.
 */
#ifndef DANCE_CLI_CLI_H
#define DANCE_CLI_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "lib/config.h"
#include "lib/evidence.h"
#include "lib/resolver.h"
#include "lib/verdict.h"

#define EXIT_USAGE 64
#define EXIT_NOINPUT 66
#define INPUT_FILE_MAX (1024 * 1024)    /* largest certificate/key file read */

/* cli_verdict_exit - the exit status of a verdict, as documented in the README. */
int cli_verdict_exit(verdict_result r);

/* cli_usage_error - "dance CMD: WHAT: ARG" on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *what, const char *arg);

/* cli_read_file - the whole of path (at most INPUT_FILE_MAX octets; "-" is stdin), or NULL after a message. */
unsigned char *cli_read_file(const char *path, size_t *len);

/* cli_parse_uint - s as a decimal number in lo..hi into *out; 0, or -1 when it is not one. */
int cli_parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out);

/* Option codes of the shared resolver options (below those of the commands, which start at 256). */
enum { CLI_OPT_RESCONF = 200, CLI_OPT_TA, CLI_OPT_TIMEOUT };

/* The getopt_long entries of the resolver options (with "c:" in the short options). */
#define CLI_RESOLVER_LONGOPTS \
    {"resolver-config", required_argument, NULL, CLI_OPT_RESCONF}, \
    {"trust-anchor", required_argument, NULL, CLI_OPT_TA}, \
    {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT}

/* Their --help lines. */
#define CLI_RESOLVER_USAGE \
    "Resolver:\n" \
    "  -c FILE               read settings from a dance configuration file\n" \
    "  --resolver-config FILE  unbound.conf-style file (stub/forward zones, ...)\n" \
    "  --trust-anchor FILE   DNSSEC trust anchor file (default " RESOLVER_DEFAULT_TRUST_ANCHOR ")\n" \
    "  --timeout SECONDS     DNS timeout (default 10)\n"

/* What the resolver options said; zero-initialise. */
typedef struct cli_resolver_opts {
    const char *conf_file;      /* -c FILE */
    const char *resconf;        /* --resolver-config */
    const char *trust_anchor;   /* --trust-anchor */
    unsigned long timeout;      /* --timeout, seconds; 0: not given */
} cli_resolver_opts;

/* cli_resolver_opt - take option c (with arg) into *ro; 0, an exit status, or -1 when c is not a resolver option. */
int cli_resolver_opt(const char *cmd, int c, const char *arg, cli_resolver_opts *ro);

/* cli_resolver_load - load -c FILE into *cfg when given and fill *rc, options applied; 0 or an exit status. */
int cli_resolver_load(const char *cmd, const cli_resolver_opts *ro, dance_config *cfg,
                      resolver_config *rc);

/* cli_json_str - write s as a JSON string, or null when s is NULL. */
void cli_json_str(FILE *fp, const char *s);

/* cli_print_safe - print untrusted text on stdout, anything but printable ASCII as \xNN. */
void cli_print_safe(const char *s);

/* cli_tlsa_line - the zone line "[OWNER. ]IN TLSA U S M HEX" for FILE's object (path names it in errors); malloc'd, or NULL after a message. */
char *cli_tlsa_line(const evidence *ev, unsigned long usage, unsigned long selector,
                    unsigned long mtype, const char *owner, const char *path);

/* cli_check - "dance check": argv[0] is "check"; returns the exit status. */
int cli_check(int argc, char **argv);

/* cli_tlsa - "dance tlsa": argv[0] is "tlsa"; returns the exit status. */
int cli_tlsa(int argc, char **argv);

/* cli_sender_check - "dance sender-check": argv[0] is "sender-check"; returns the exit status. */
int cli_sender_check(int argc, char **argv);

/* cli_stats - "dance stats": argv[0] is "stats"; returns the exit status. */
int cli_stats(int argc, char **argv);

/* cli_probe - "dance probe": argv[0] is "probe"; returns the exit status. */
int cli_probe(int argc, char **argv);

/* cli_print_report - the readable report of one check on stdout (cmd_check.c). */
void cli_print_report(const verdict *v, const char *claimed);

/* cli_print_json - one check as a JSON object on stdout, no line end (cmd_check.c). */
void cli_print_json(const verdict *v, const char *claimed);

#endif
