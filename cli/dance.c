/*
 * dance.c - the dance command: check a client certificate against a name's
 * TLSA records, print the TLSA records to publish for a certificate, check
 * the sending side's names and records, and show a running danced's
 * counters.
 *
 * SYNOPSIS
 *	dance check [options] NAME
 *	dance sender-check --cert FILE [--key FILE] [--json] [-c FILE] NAME...
 *	dance tlsa [--usage U] [--selector S] [--mtype M] [--name NAME | --owner OWNER] FILE
 *	dance stats [-c FILE | --stats-socket ENDPOINT] [--timeout SECONDS]
 *	dance probe --listen ADDR:PORT [--tls-cert FILE --tls-key FILE] [options]
 *	dance --help | --version
 *
 * DESCRIPTION
 *	"check" answers the question danced answers for every SMTP client:
 *	does this certificate (or these fingerprints) match the DNSSEC-secure
 *	TLSA records of the claimed name?  It prints a readable report (or
 *	one JSON object with --json) and exits with the verdict:
 *	0 pass, 1 fail, 2 neutral, 3 none, 4 temperror, 5 permerror,
 *	64 usage error, 66 unreadable input.
 *
 *	"tlsa" prints the zone-file line a sending-side operator publishes for
 *	the certificate or public key in FILE (default 3 1 1).
 *
 *	"sender-check" is the sending side's check: for each NAME the MTA
 *	claims (EHLO name, MAIL FROM domains) it reports whether
 *	_smtp-client.NAME is published and DNSSEC-secure, which records
 *	match the certificate, and warnings (no 3 0 x record for receivers
 *	on Sendmail, a record matching no key in FILE, a TTL over an hour);
 *	then the zone lines to publish and the Postfix client settings.
 *	Exit status: 0 every name passes, 1 a name does not, 4 a look-up
 *	failed and none failed, 64 usage error, 66 unreadable input.
 *
 *	Errors go to stderr as one line naming the problem.
 *
 *	"stats" shows the counters of a running danced, read from its
 *	stats_socket (exit status: cmd_stats.c).
 *
 *	"probe" is a one-shot SMTP receiver for the sending operator's
 *	self-test: it takes one connection, offers STARTTLS, asks for a
 *	client certificate, checks the EHLO name and MAIL FROM domain as
 *	danced would, answers 550 with the verdicts and exits with the
 *	verdict's status like "check" (cmd_probe.c, probe_smtp.c,
 *	probe_conn.c, probe_tls.c).
 *
 *	This file dispatches and holds what the commands use; each command
 *	is a file of its own (cmd_check.c, cmd_sender.c, cmd_tlsa.c,
 *	cmd_stats.c; what check and sender-check share is in common.c).
 *	The tool uses only lib/.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dance_build.h"
#include "lib/panic.h"
#include "cli.h"

/* Exit status per verdict, as documented in the README. */
int cli_verdict_exit(verdict_result r)
{
    switch (r) {
    case VERDICT_PASS:
        return 0;
    case VERDICT_FAIL:
        return 1;
    case VERDICT_NEUTRAL:
        return 2;
    case VERDICT_NONE:
        return 3;
    case VERDICT_TEMPERROR:
        return 4;
    case VERDICT_PERMERROR:
        return 5;
    }
    DANCE_PANIC("%s: unhandled case", __func__);
}

/* cli_usage_error - one line on stderr, exit 64. */
int cli_usage_error(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "dance%s%s: %s%s%s\n", cmd ? " " : "", cmd ? cmd : "", what,
            arg ? ": " : "", arg ? arg : "");
    return EXIT_USAGE;
}

/* cli_read_file - read a whole (small) file; NULL with a message on stderr. */
unsigned char *cli_read_file(const char *path, size_t *len)
{
    FILE *fp;
    unsigned char *buf;
    size_t n;

    if ((fp = fopen(path, "rb")) == NULL) {
        fprintf(stderr, "dance: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf = xmalloc(INPUT_FILE_MAX + 1);
    n = fread(buf, 1, INPUT_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        fprintf(stderr, "dance: %s: %s\n", path, strerror(errno));
        fclose(fp);
        free(buf);
        return NULL;
    }
    fclose(fp);
    if (n > INPUT_FILE_MAX) {
        fprintf(stderr, "dance: %s: larger than %d bytes\n", path, INPUT_FILE_MAX);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* cli_parse_uint - strict decimal in [lo, hi]. */
int cli_parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static const char main_usage[] =
    "usage: dance COMMAND [options]\n"
    "DANE client authentication for mail servers.\n"
    "\n"
    "Commands:\n"
    "  check [options] NAME   verify a client certificate against NAME's TLSA records\n"
    "  sender-check --cert FILE NAME...\n"
    "                         the sending side: are NAMEs' records published, secure\n"
    "                         and matching FILE?  what to publish and configure\n"
    "  tlsa [options] FILE    print the TLSA record to publish for a certificate or key\n"
    "  stats [options]        show danced's counters (from its stats_socket)\n"
    "  probe --listen A:P     receive one SMTP client and check its certificate\n"
    "\n"
    "  dance COMMAND --help   options of a command\n"
    "  dance --version        print the version\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("dance %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "check") == 0)
        return cli_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "sender-check") == 0)
        return cli_sender_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "tlsa") == 0)
        return cli_tlsa(argc - 1, argv + 1);
    if (strcmp(argv[1], "stats") == 0)
        return cli_stats(argc - 1, argv + 1);
    if (strcmp(argv[1], "probe") == 0)
        return cli_probe(argc - 1, argv + 1);
    return cli_usage_error(NULL, "unknown command (try dance --help)", argv[1]);
}
