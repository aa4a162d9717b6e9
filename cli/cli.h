/*
 * cli.h - what the dance command's files share: exit codes, input
 * reading, and the commands.
 */
#ifndef DANCE_CLI_CLI_H
#define DANCE_CLI_CLI_H

#include <stddef.h>

#include <stdio.h>

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

/* cli_check - "dance check": argv[0] is "check"; returns the exit status. */
int cli_check(int argc, char **argv);

/* cli_tlsa - "dance tlsa": argv[0] is "tlsa"; returns the exit status. */
int cli_tlsa(int argc, char **argv);

/* cli_stats - "dance stats": argv[0] is "stats"; returns the exit status. */
int cli_stats(int argc, char **argv);

/* cli_probe - "dance probe": argv[0] is "probe"; returns the exit status. */
int cli_probe(int argc, char **argv);

/* cli_json_str - s as a JSON string (NULL as null) on fp (cmd_check.c). */
void cli_json_str(FILE *fp, const char *s);

/* cli_print_safe - untrusted text on stdout, anything but printable ASCII as \xNN (cmd_check.c). */
void cli_print_safe(const char *s);

/* cli_print_report - the readable report of one check on stdout (cmd_check.c). */
void cli_print_report(const verdict *v, const char *claimed);

/* cli_print_json - one check as a JSON object on stdout, no line end (cmd_check.c). */
void cli_print_json(const verdict *v, const char *claimed);

#endif
