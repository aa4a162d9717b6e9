/*
 * cmd_check.c - "dance check": a certificate (or fingerprints) against the
 * DNSSEC-secure TLSA records of a name, reported for a person or as JSON.
 *
 * USAGE
 *	dance check [--cert FILE] [--spki-sha256 HEX ...] [--json] [-c FILE] NAME
 *
 * DESCRIPTION
 *	The evidence comes from the options; the check is the one danced
 *	runs (lib/check.h), with the resolver settings of the configuration
 *	file when one is given.  The report lists every owner name looked
 *	at, its DNSSEC state and each record's state; the exit status is
 *	the verdict's (cli_verdict_exit).  Names and reasons are made
 *	printable before they are shown.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/config.h"
#include "lib/evidence.h"
#include "lib/match.h"
#include "lib/resolver.h"
#include "lib/tlsa.h"
#include "lib/verdict.h"
#include "cli.h"

/* cli_record_state - human text for one record's fate. */
static const char *cli_record_state(const verdict_owner *vo, size_t i, char *buf, size_t size)
{
    const tlsa_record *r = &vo->records[i];

    if (vo->states[i] == MATCH_REC_UNUSABLE)
        snprintf(buf, size, "unusable: %s", tlsa_status_str(r->status));
    else
        snprintf(buf, size, "%s", match_rec_state_str(vo->states[i]));
    return buf;
}

/* cli_print_report - the readable report of one check. */
void cli_print_report(const verdict *v, const char *claimed)
{
    char rec[VERDICT_RECORD_TEXT_MAX];
    char state[128];
    size_t i, j;

    printf("claimed name: ");
    cli_print_safe(v->name[0] ? v->name : claimed);
    printf("\n");
    if (v->spki_sha256[0])
        printf("client key:   SPKI SHA-256 %s\n", v->spki_sha256);
    if (v->nowners == 0)
        printf("no DNS look-up made\n");
    for (i = 0; i < v->nowners; i++) {
        const verdict_owner *vo = &v->owners[i];

        printf("owner:        %s\n", vo->owner);
        if (vo->canon[0])
            printf("  canonical:  %s\n", vo->canon);
        printf("  DNSSEC:     %s", resolver_status_str(vo->dnssec));
        if (vo->dnssec == RESOLVER_SECURE || vo->dnssec == RESOLVER_SECURE_NXDOMAIN ||
            vo->dnssec == RESOLVER_SECURE_NODATA || vo->dnssec == RESOLVER_INSECURE)
            printf(", TTL %lu", (unsigned long) vo->ttl);
        printf("\n");
        if (vo->why[0])
            printf("  why:        %s\n", vo->why);
        for (j = 0; j < vo->count; j++)
            printf("  TLSA %-40s %s\n", tlsa_format(&vo->records[j], rec, 48),
                   cli_record_state(vo, j, state, sizeof(state)));
        printf("  result:     %s (%s)\n", verdict_result_word(vo->result), vo->reason);
    }
    printf("verdict:      %s (%s)\n", verdict_result_word(v->result), v->reason);
}

/* cli_print_json - the same as one JSON object. */
void cli_print_json(const verdict *v, const char *claimed)
{
    const verdict_owner *d = v->decisive >= 0 ? &v->owners[v->decisive] : NULL;
    char rec[VERDICT_RECORD_TEXT_MAX * 4];
    char state[128];
    size_t i, j;
    bool first;

    printf("{\"name\":");
    cli_json_str(stdout, v->name[0] ? v->name : NULL);
    printf(",\"claimed\":");
    cli_json_str(stdout, claimed);
    printf(",\"result\":");
    cli_json_str(stdout, verdict_result_word(v->result));
    printf(",\"reason\":");
    cli_json_str(stdout, v->reason);
    printf(",\"owner\":");
    cli_json_str(stdout, d ? d->owner : NULL);
    printf(",\"dnssec\":");
    cli_json_str(stdout, d ? resolver_status_str(d->dnssec) : NULL);
    if (d)
        printf(",\"ttl\":%lu", (unsigned long) d->ttl);
    printf(",\"matched\":");
    cli_json_str(stdout, v->matched[0] ? v->matched : NULL);
    printf(",\"spki_sha256\":");
    cli_json_str(stdout, v->spki_sha256[0] ? v->spki_sha256 : NULL);
    printf(",\"records\":[");
    for (i = 0, first = true; i < v->nowners; i++) {
        const verdict_owner *vo = &v->owners[i];

        for (j = 0; j < vo->count; j++) {
            const tlsa_record *r = &vo->records[j];

            printf("%s{\"owner\":", first ? "" : ",");
            first = false;
            cli_json_str(stdout, vo->owner);
            printf(",\"usage\":%u,\"selector\":%u,\"mtype\":%u,\"record\":", r->usage,
                   r->selector, r->mtype);
            cli_json_str(stdout, tlsa_format(r, rec, sizeof(rec)));
            printf(",\"usable\":%s,\"state\":", r->status == TLSA_USABLE ? "true" : "false");
            cli_json_str(stdout, cli_record_state(vo, j, state, sizeof(state)));
            printf(",\"matched\":%s}", vo->matched == (int) j ? "true" : "false");
        }
    }
    printf("],\"owners\":[");
    for (i = 0; i < v->nowners; i++) {
        const verdict_owner *vo = &v->owners[i];

        printf("%s{\"owner\":", i ? "," : "");
        cli_json_str(stdout, vo->owner);
        printf(",\"dnssec\":");
        cli_json_str(stdout, resolver_status_str(vo->dnssec));
        printf(",\"ttl\":%lu,\"canonical\":", (unsigned long) vo->ttl);
        cli_json_str(stdout, vo->canon[0] ? vo->canon : NULL);
        printf(",\"why\":");
        cli_json_str(stdout, vo->why[0] ? vo->why : NULL);
        printf(",\"result\":");
        cli_json_str(stdout, verdict_result_word(vo->result));
        printf(",\"reason\":");
        cli_json_str(stdout, vo->reason);
        printf("}");
    }
    printf("]}");
}

static const char cli_check_usage[] =
    "usage: dance check [options] NAME\n"
    "Verify a client certificate against the DNSSEC-secure TLSA records of NAME\n"
    "(owner _smtp-client.NAME).\n"
    "\n"
    "Evidence (any combination; none at all gives the verdict none):\n"
    "  --cert FILE           PEM or DER certificate; more certificates form the chain\n"
    "  --spki-sha256 HEX     SHA-256 of the SubjectPublicKeyInfo (Postfix\n"
    "                        ccert_pubkey_fingerprint; AB:CD:.. or bare hex)\n"
    "  --cert-sha256 HEX     SHA-256 of the certificate (ccert_fingerprint)\n"
    "  --spki-sha512 HEX, --cert-sha512 HEX   the same with SHA-512\n"
    "Look-up:\n"
    "  --owner OWNER         query exactly this owner name\n"
    "  --server-tlsa         also try _25._tcp.NAME (the host's SMTP server TLSA)\n"
    CLI_RESOLVER_USAGE
    "Output:\n"
    "  --json                print one JSON object instead of the report\n"
    "\n"
    "Exit status: 0 pass, 1 fail, 2 neutral, 3 none, 4 temperror, 5 permerror,\n"
    "64 usage error, 66 unreadable input.\n";

enum {
    OPT_CERT = 256, OPT_SPKI256, OPT_CERT256, OPT_SPKI512, OPT_CERT512, OPT_OWNER,
    OPT_SERVER, OPT_JSON, OPT_HELP
};

/* cli_add_fingerprint - add one --xxx-shaNNN option to the evidence; exit status or 0. */
static int cli_add_fingerprint(evidence *ev, int opt, const char *arg, const char *optname)
{
    int selector = (opt == OPT_SPKI256 || opt == OPT_SPKI512) ? TLSA_SELECTOR_SPKI
                                                              : TLSA_SELECTOR_CERT;
    digest_alg alg = (opt == OPT_SPKI256 || opt == OPT_CERT256) ? DIGEST_SHA256 : DIGEST_SHA512;
    evidence_status st = evidence_add_digest(ev, selector, alg, arg);
    char what[96];

    if (st == EVIDENCE_OK)
        return 0;
    snprintf(what, sizeof(what), "--%s: %s", optname, evidence_status_str(st));
    return cli_usage_error("check", what, NULL);
}

/* cli_add_cert_file - add --cert FILE to the evidence; exit status or 0. */
static int cli_add_cert_file(evidence *ev, const char *path)
{
    unsigned char *buf;
    size_t len;
    evidence_status st;

    if ((buf = cli_read_file(path, &len)) == NULL)
        return EXIT_NOINPUT;
    st = evidence_add_certs(ev, buf, len);
    free(buf);
    if (st != EVIDENCE_OK) {
        fprintf(stderr, "dance check: %s: %s\n", path, evidence_status_str(st));
        return EXIT_NOINPUT;
    }
    return 0;
}

int cli_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cert", required_argument, NULL, OPT_CERT},
        {"spki-sha256", required_argument, NULL, OPT_SPKI256},
        {"cert-sha256", required_argument, NULL, OPT_CERT256},
        {"spki-sha512", required_argument, NULL, OPT_SPKI512},
        {"cert-sha512", required_argument, NULL, OPT_CERT512},
        {"owner", required_argument, NULL, OPT_OWNER},
        {"server-tlsa", no_argument, NULL, OPT_SERVER},
        CLI_RESOLVER_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    dance_config cfg;
    resolver_config rc;
    check_options copt;
    evidence *ev = evidence_new();
    resolver *res = NULL;
    verdict v;
    cli_resolver_opts ro = {0};
    const char *owner = NULL;
    bool json = false, server_tlsa = false;
    char err[512];
    int c, idx, status = 0;

    config_init(&cfg);
    optind = 1;
    while (status == 0 && (c = getopt_long(argc, argv, "c:h", opts, &idx)) != -1) {
        if ((status = cli_resolver_opt("check", c, optarg, &ro)) >= 0)
            continue;
        status = 0;
        switch (c) {
        case OPT_CERT:
            status = cli_add_cert_file(ev, optarg);
            break;
        case OPT_SPKI256:
        case OPT_CERT256:
        case OPT_SPKI512:
        case OPT_CERT512:
            status = cli_add_fingerprint(ev, c, optarg, opts[idx].name);
            break;
        case OPT_OWNER:
            owner = optarg;
            break;
        case OPT_SERVER:
            server_tlsa = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'h':
        case OPT_HELP:
            fputs(cli_check_usage, stdout);
            status = -1;
            break;
        default:
            fputs(cli_check_usage, stderr);
            status = EXIT_USAGE;
            break;
        }
    }
    if (status == 0 && optind != argc - 1)
        status = cli_usage_error("check", optind >= argc ? "missing NAME" : "more than one NAME",
                             NULL);
    if (status == 0)
        status = cli_resolver_load("check", &ro, &cfg, &rc);
    if (status != 0)
        goto out;

    memset(&copt, 0, sizeof(copt));
    copt.server_tlsa = server_tlsa || cfg.server_tlsa;
    copt.owner = owner;
    copt.lookup_domains = (const char *const *) cfg.lookup_domains.v;
    copt.nlookup_domains = cfg.lookup_domains.n;

    /* The resolver is only created when a look-up can happen. */
    if (!evidence_is_empty(ev)) {
        if ((res = resolver_new(&rc, err, sizeof(err))) == NULL) {
            fprintf(stderr, "dance check: %s\n", err);
            status = EXIT_NOINPUT;
            goto out;
        }
    }
    check_identity(res, ev, argv[optind], &copt, &v);
    if (json) {
        cli_print_json(&v, argv[optind]);
        putchar('\n');
    } else {
        cli_print_report(&v, argv[optind]);
    }
    status = cli_verdict_exit(v.result);
    verdict_clear(&v);

out:
    resolver_free(res);
    evidence_free(ev);
    config_free(&cfg);
    return status < 0 ? 0 : status;
}

