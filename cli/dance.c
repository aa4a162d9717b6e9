/*
 * dance.c - the dance command: check a client certificate against a name's
 * TLSA records, and print the TLSA records to publish for a certificate.
 *
 * SYNOPSIS
 *	dance check [options] NAME
 *	dance tlsa [--usage U] [--selector S] [--mtype M] [--name NAME | --owner OWNER] FILE
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
 *	Errors go to stderr as one line naming the problem.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "check.h"
#include "config.h"
#include "evidence.h"
#include "hex.h"
#include "identity.h"
#include "resolver.h"
#include "tlsa.h"
#include "verdict.h"
#include "panic.h"

#define EXIT_USAGE 64
#define EXIT_NOINPUT 66
#define INPUT_FILE_MAX (1024 * 1024)    /* largest certificate/key file read */

/* Exit status per verdict, as documented in the README. */
static int verdict_exit(verdict_result r)
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

/* usage_error - one line on stderr, exit 64. */
static int usage_error(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "dance%s%s: %s%s%s\n", cmd ? " " : "", cmd ? cmd : "", what,
            arg ? ": " : "", arg ? arg : "");
    return EXIT_USAGE;
}

/* read_file - read a whole (small) file; NULL with a message on stderr. */
static unsigned char *read_file(const char *path, size_t *len)
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

/* parse_uint - strict decimal in [lo, hi]. */
static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
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

/* ---------------------------------------------------------------- output */

/* json_str - write s as a JSON string (or null). */
static void json_str(FILE *fp, const char *s)
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

/* print_safe - print untrusted text with anything but printable ASCII as \xNN. */
static void print_safe(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c < 0x20 || c > 0x7e || c == '\\')
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

/* record_state - human text for one record's fate. */
static const char *record_state(const verdict_owner *vo, size_t i, char *buf, size_t size)
{
    const tlsa_record *r = &vo->records[i];

    if (vo->states[i] == MATCH_REC_UNUSABLE)
        snprintf(buf, size, "unusable: %s", tlsa_status_str(r->status));
    else
        snprintf(buf, size, "%s", match_rec_state_str(vo->states[i]));
    return buf;
}

/* print_report - the readable report of one check. */
static void print_report(const verdict *v, const char *claimed)
{
    char rec[VERDICT_RECORD_TEXT_MAX];
    char state[128];
    size_t i, j;

    printf("claimed name: ");
    print_safe(v->name[0] ? v->name : claimed);
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
                   record_state(vo, j, state, sizeof(state)));
        printf("  result:     %s (%s)\n", verdict_result_word(vo->result), vo->reason);
    }
    printf("verdict:      %s (%s)\n", verdict_result_word(v->result), v->reason);
}

/* print_json - the same as one JSON object. */
static void print_json(const verdict *v, const char *claimed)
{
    const verdict_owner *d = v->decisive >= 0 ? &v->owners[v->decisive] : NULL;
    char rec[VERDICT_RECORD_TEXT_MAX * 4];
    char state[128];
    size_t i, j;
    bool first;

    printf("{\"name\":");
    json_str(stdout, v->name[0] ? v->name : NULL);
    printf(",\"claimed\":");
    json_str(stdout, claimed);
    printf(",\"result\":");
    json_str(stdout, verdict_result_word(v->result));
    printf(",\"reason\":");
    json_str(stdout, v->reason);
    printf(",\"owner\":");
    json_str(stdout, d ? d->owner : NULL);
    printf(",\"dnssec\":");
    json_str(stdout, d ? resolver_status_str(d->dnssec) : NULL);
    if (d)
        printf(",\"ttl\":%lu", (unsigned long) d->ttl);
    printf(",\"matched\":");
    json_str(stdout, v->matched[0] ? v->matched : NULL);
    printf(",\"spki_sha256\":");
    json_str(stdout, v->spki_sha256[0] ? v->spki_sha256 : NULL);
    printf(",\"records\":[");
    for (i = 0, first = true; i < v->nowners; i++) {
        const verdict_owner *vo = &v->owners[i];

        for (j = 0; j < vo->count; j++) {
            const tlsa_record *r = &vo->records[j];

            printf("%s{\"owner\":", first ? "" : ",");
            first = false;
            json_str(stdout, vo->owner);
            printf(",\"usage\":%u,\"selector\":%u,\"mtype\":%u,\"record\":", r->usage,
                   r->selector, r->mtype);
            json_str(stdout, tlsa_format(r, rec, sizeof(rec)));
            printf(",\"usable\":%s,\"state\":", r->status == TLSA_USABLE ? "true" : "false");
            json_str(stdout, record_state(vo, j, state, sizeof(state)));
            printf(",\"matched\":%s}", vo->matched == (int) j ? "true" : "false");
        }
    }
    printf("],\"owners\":[");
    for (i = 0; i < v->nowners; i++) {
        const verdict_owner *vo = &v->owners[i];

        printf("%s{\"owner\":", i ? "," : "");
        json_str(stdout, vo->owner);
        printf(",\"dnssec\":");
        json_str(stdout, resolver_status_str(vo->dnssec));
        printf(",\"ttl\":%lu,\"canonical\":", (unsigned long) vo->ttl);
        json_str(stdout, vo->canon[0] ? vo->canon : NULL);
        printf(",\"why\":");
        json_str(stdout, vo->why[0] ? vo->why : NULL);
        printf(",\"result\":");
        json_str(stdout, verdict_result_word(vo->result));
        printf(",\"reason\":");
        json_str(stdout, vo->reason);
        printf("}");
    }
    printf("]}\n");
}

/* ---------------------------------------------------------------- check */

static const char check_usage[] =
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
    "Resolver:\n"
    "  -c FILE               read settings from a dance configuration file\n"
    "  --resolver-config FILE  unbound.conf-style file (stub/forward zones, ...)\n"
    "  --trust-anchor FILE   DNSSEC trust anchor file (default " RESOLVER_DEFAULT_TRUST_ANCHOR ")\n"
    "  --timeout SECONDS     DNS timeout (default 10)\n"
    "Output:\n"
    "  --json                print one JSON object instead of the report\n"
    "\n"
    "Exit status: 0 pass, 1 fail, 2 neutral, 3 none, 4 temperror, 5 permerror,\n"
    "64 usage error, 66 unreadable input.\n";

enum {
    OPT_CERT = 256, OPT_SPKI256, OPT_CERT256, OPT_SPKI512, OPT_CERT512, OPT_OWNER,
    OPT_SERVER, OPT_RESCONF, OPT_TA, OPT_TIMEOUT, OPT_JSON, OPT_HELP
};

/* add_fingerprint - add one --xxx-shaNNN option to the evidence; exit status or 0. */
static int add_fingerprint(evidence *ev, int opt, const char *arg, const char *optname)
{
    int selector = (opt == OPT_SPKI256 || opt == OPT_SPKI512) ? TLSA_SELECTOR_SPKI
                                                              : TLSA_SELECTOR_CERT;
    digest_alg alg = (opt == OPT_SPKI256 || opt == OPT_CERT256) ? DIGEST_SHA256 : DIGEST_SHA512;
    evidence_status st = evidence_add_digest(ev, selector, alg, arg);
    char what[96];

    if (st == EVIDENCE_OK)
        return 0;
    snprintf(what, sizeof(what), "--%s: %s", optname, evidence_status_str(st));
    return usage_error("check", what, NULL);
}

/* add_cert_file - add --cert FILE to the evidence; exit status or 0. */
static int add_cert_file(evidence *ev, const char *path)
{
    unsigned char *buf;
    size_t len;
    evidence_status st;

    if ((buf = read_file(path, &len)) == NULL)
        return EXIT_NOINPUT;
    st = evidence_add_certs(ev, buf, len);
    free(buf);
    if (st != EVIDENCE_OK) {
        fprintf(stderr, "dance check: %s: %s\n", path, evidence_status_str(st));
        return EXIT_NOINPUT;
    }
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cert", required_argument, NULL, OPT_CERT},
        {"spki-sha256", required_argument, NULL, OPT_SPKI256},
        {"cert-sha256", required_argument, NULL, OPT_CERT256},
        {"spki-sha512", required_argument, NULL, OPT_SPKI512},
        {"cert-sha512", required_argument, NULL, OPT_CERT512},
        {"owner", required_argument, NULL, OPT_OWNER},
        {"server-tlsa", no_argument, NULL, OPT_SERVER},
        {"resolver-config", required_argument, NULL, OPT_RESCONF},
        {"trust-anchor", required_argument, NULL, OPT_TA},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
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
    const char *conf_file = NULL, *owner = NULL, *resconf = NULL, *ta = NULL;
    bool json = false, server_tlsa = false;
    unsigned long timeout = 0;
    char err[512];
    int c, idx, status = 0;

    config_init(&cfg);
    optind = 1;
    while (status == 0 && (c = getopt_long(argc, argv, "c:h", opts, &idx)) != -1) {
        switch (c) {
        case 'c':
            conf_file = optarg;
            break;
        case OPT_CERT:
            status = add_cert_file(ev, optarg);
            break;
        case OPT_SPKI256:
        case OPT_CERT256:
        case OPT_SPKI512:
        case OPT_CERT512:
            status = add_fingerprint(ev, c, optarg, opts[idx].name);
            break;
        case OPT_OWNER:
            owner = optarg;
            break;
        case OPT_SERVER:
            server_tlsa = true;
            break;
        case OPT_RESCONF:
            resconf = optarg;
            break;
        case OPT_TA:
            ta = optarg;
            break;
        case OPT_TIMEOUT:
            if (parse_uint(optarg, 1, 300, &timeout) != 0)
                status = usage_error("check", "--timeout: expected whole seconds from 1 to 300",
                                     optarg);
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'h':
        case OPT_HELP:
            fputs(check_usage, stdout);
            status = -1;
            break;
        default:
            fputs(check_usage, stderr);
            status = EXIT_USAGE;
            break;
        }
    }
    if (status == 0 && optind != argc - 1)
        status = usage_error("check", optind >= argc ? "missing NAME" : "more than one NAME",
                             NULL);
    if (status == 0 && conf_file != NULL) {
        switch (config_load(conf_file, &cfg, err, sizeof(err))) {
        case CONFIG_OK:
            break;
        case CONFIG_UNREADABLE:
            fprintf(stderr, "dance check: %s\n", err);
            status = EXIT_NOINPUT;
            break;
        case CONFIG_SYNTAX:
            fprintf(stderr, "dance check: %s\n", err);
            status = EXIT_USAGE;
            break;
        }
    }
    if (status != 0)
        goto out;

    config_resolver(&cfg, &rc);
    if (resconf != NULL)
        rc.unbound_config = resconf;
    if (ta != NULL)
        rc.trust_anchor_file = ta;
    if (timeout != 0)
        rc.timeout_ms = (unsigned) timeout * 1000;
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
    if (json)
        print_json(&v, argv[optind]);
    else
        print_report(&v, argv[optind]);
    status = verdict_exit(v.result);
    verdict_clear(&v);

out:
    resolver_free(res);
    evidence_free(ev);
    config_free(&cfg);
    return status < 0 ? 0 : status;
}

/* ---------------------------------------------------------------- tlsa */

static const char tlsa_usage[] =
    "usage: dance tlsa [--usage U] [--selector S] [--mtype M] [--name NAME | --owner OWNER] FILE\n"
    "Print the TLSA record to publish for the certificate or public key in FILE\n"
    "(PEM or DER).  Default 3 1 1.  With --name NAME the owner is _smtp-client.NAME.\n"
    "For usage 2 (DANE-TA) the last certificate in FILE (the top of the chain) is used.\n";

/* tlsa_object - DER of the object a record of (usage, selector) is made from; malloc'd. */
static unsigned char *tlsa_object(const evidence *ev, unsigned long usage, unsigned long selector,
                                  size_t *len, const char *path)
{
    X509 *cert = evidence_leaf(ev);
    STACK_OF(X509) *chain = evidence_chain(ev);
    unsigned char *der = NULL;
    const unsigned char *data;
    int n = -1;

    if (usage == TLSA_USAGE_DANE_TA || usage == TLSA_USAGE_PKIX_TA) {
        if (cert == NULL) {
            fprintf(stderr, "dance tlsa: %s: usage %lu needs a certificate\n", path, usage);
            return NULL;
        }
        if (chain != NULL && sk_X509_num(chain) > 0)
            cert = sk_X509_value(chain, sk_X509_num(chain) - 1);
        if (selector == TLSA_SELECTOR_CERT)
            n = i2d_X509(cert, &der);
        else
            n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
        if (n <= 0)
            DANCE_PANIC("unexpected: n <= 0");
        *len = (size_t) n;
        return der;
    }
    if (!evidence_get(ev, (int) selector, TLSA_MTYPE_FULL, &data, len)) {
        fprintf(stderr, "dance tlsa: %s: selector %lu needs a certificate, not only a key\n",
                path, selector);
        return NULL;
    }
    der = xmalloc(*len);
    memcpy(der, data, *len);
    return der;
}

static int cmd_tlsa(int argc, char **argv)
{
    static const struct option opts[] = {
        {"usage", required_argument, NULL, 'u'},
        {"selector", required_argument, NULL, 's'},
        {"mtype", required_argument, NULL, 'm'},
        {"name", required_argument, NULL, 'n'},
        {"owner", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned long usage = 3, selector = 1, mtype = 1;
    const char *name = NULL, *owner_arg = NULL, *path;
    char owner[IDENTITY_OWNER_MAX], norm[IDENTITY_NAME_MAX];
    unsigned char *buf, *obj;
    unsigned char digest[DIGEST_MAX];
    const unsigned char *data;
    size_t len, objlen, datalen;
    char *hex;
    evidence *ev;
    evidence_status est;
    identity_status ist;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            if (parse_uint(optarg, 0, 3, &usage) != 0)
                return usage_error("tlsa", "--usage: expected 0 to 3", optarg);
            break;
        case 's':
            if (parse_uint(optarg, 0, 1, &selector) != 0)
                return usage_error("tlsa", "--selector: expected 0 or 1", optarg);
            break;
        case 'm':
            if (parse_uint(optarg, 0, 2, &mtype) != 0)
                return usage_error("tlsa", "--mtype: expected 0, 1 or 2", optarg);
            break;
        case 'n':
            name = optarg;
            break;
        case 'o':
            owner_arg = optarg;
            break;
        case 'h':
            fputs(tlsa_usage, stdout);
            return 0;
        default:
            fputs(tlsa_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1)
        return usage_error("tlsa", optind >= argc ? "missing FILE" : "more than one FILE", NULL);
    if (name != NULL && owner_arg != NULL)
        return usage_error("tlsa", "--name and --owner exclude each other", NULL);
    owner[0] = 0;
    if (name != NULL) {
        if ((ist = identity_normalize(name, norm)) != IDENTITY_OK)
            return usage_error("tlsa", "--name", identity_status_str(ist));
        if ((ist = identity_owner(norm, IDENTITY_OWNER_CLIENT, owner)) != IDENTITY_OK)
            return usage_error("tlsa", "--name", identity_status_str(ist));
    } else if (owner_arg != NULL) {
        if ((ist = identity_normalize_owner(owner_arg, owner)) != IDENTITY_OK)
            return usage_error("tlsa", "--owner", identity_status_str(ist));
    }
    path = argv[optind];
    if ((buf = read_file(path, &len)) == NULL)
        return EXIT_NOINPUT;
    ev = evidence_new();
    est = evidence_add_certs(ev, buf, len);
    if (est == EVIDENCE_BAD_CERT) {
        evidence_free(ev);
        ev = evidence_new();
        est = evidence_add_pubkey(ev, buf, len);
        if (est == EVIDENCE_BAD_KEY)
            est = EVIDENCE_BAD_CERT;    /* neither: report as "not a certificate or key" */
    }
    free(buf);
    if (est != EVIDENCE_OK) {
        fprintf(stderr, "dance tlsa: %s: %s\n", path,
                est == EVIDENCE_BAD_CERT ? "neither a certificate nor a public key"
                                         : evidence_status_str(est));
        evidence_free(ev);
        return EXIT_NOINPUT;
    }
    obj = tlsa_object(ev, usage, selector, &objlen, path);
    evidence_free(ev);
    if (obj == NULL)
        return EXIT_NOINPUT;
    if (mtype == TLSA_MTYPE_FULL) {
        data = obj;
        datalen = objlen;
    } else {
        datalen = evidence_digest((digest_alg) mtype, obj, objlen, digest);
        data = digest;
    }
    hex = xmalloc(2 * datalen + 1);
    hex_encode(data, datalen, hex);
    if (owner[0])
        printf("%s. IN TLSA %lu %lu %lu %s\n", owner, usage, selector, mtype, hex);
    else
        printf("IN TLSA %lu %lu %lu %s\n", usage, selector, mtype, hex);
    free(hex);
    free(obj);
    return 0;
}

/* ---------------------------------------------------------------- main */

static const char main_usage[] =
    "usage: dance COMMAND [options]\n"
    "DANE client authentication for mail servers.\n"
    "\n"
    "Commands:\n"
    "  check [options] NAME   verify a client certificate against NAME's TLSA records\n"
    "  tlsa [options] FILE    print the TLSA record to publish for a certificate or key\n"
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
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "tlsa") == 0)
        return cmd_tlsa(argc - 1, argv + 1);
    return usage_error(NULL, "unknown command (try dance --help)", argv[1]);
}
