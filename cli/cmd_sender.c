/*
 * cmd_sender.c - "dance sender-check": the sending side's view.  Will the
 * receivers that run DANE client authentication find this certificate in
 * the DNSSEC-secure TLSA records of every name this MTA claims?
 *
 * USAGE
 *	dance sender-check --cert FILE [--key FILE] [--json] [-c FILE] NAME...
 *
 * DESCRIPTION
 *	Each NAME (the EHLO name, the MAIL FROM domains) goes through the
 *	check danced runs (lib/check.h, owner _smtp-client.NAME), so a name
 *	passes here exactly when "dance check --cert FILE NAME" passes.
 *	Each record is also matched against the certificate on its own (so
 *	digest agility does not hide which records fit), and the report
 *	names what matters in practice:
 *	  - no record matches, or none is published, or not DNSSEC-secure:
 *	    the name does not pass;
 *	  - no 3 0 x record matches: receivers behind Sendmail's milter
 *	    interface see only a digest of the whole certificate;
 *	  - a record matches nothing in FILE (an old key, a typo);
 *	  - a record no receiver can use (malformed, PKIX usage, ...);
 *	  - a TTL over SENDER_TTL_MAX: a key rollover has to wait that long.
 *	It ends with the zone lines to publish (what "dance tlsa" prints:
 *	3 1 1 and 3 0 1) and the Postfix main.cf lines of the sending host.
 *
 * EXIT STATUS
 *	0 every name passes (warnings allowed), 1 a name does not pass,
 *	4 no name failed but a look-up failed (timeout, SERVFAIL, bogus),
 *	64 usage error, 66 unreadable or unusable input.
 */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/check.h"
#include "lib/evidence.h"
#include "lib/identity.h"
#include "lib/match.h"
#include "lib/panic.h"
#include "lib/resolver.h"
#include "lib/tlsa.h"
#include "lib/verdict.h"
#include "cli.h"

/* A TTL above this (seconds) makes a rollover slow: the new record must be out two TTLs ahead. */
#define SENDER_TTL_MAX 3600

/* What sender-check warns about, one bit each. */
enum {
    SENDER_W_SENDMAIL = 1 << 0,  /* a record matches, but no 3 0 x one */
    SENDER_W_NOMATCH = 1 << 1,   /* a record matches nothing in FILE */
    SENDER_W_UNUSABLE = 1 << 2,  /* a record no receiver can use */
    SENDER_W_TTL = 1 << 3        /* TTL over SENDER_TTL_MAX */
};

typedef struct sender_name {
    verdict v;
    const char *claimed;
    bool fits[RESOLVER_MAX_RECORDS];    /* record matches the certificate on its own */
    unsigned warnings;
} sender_name;

/* Warning codes (JSON) and texts, in bit order. */
static const struct {
    unsigned bit;
    const char *code;
    const char *text;
} sender_warnings[] = {
    {SENDER_W_SENDMAIL, "sendmail",
     "no 3 0 x record matches: receivers on Sendmail (milter) see only a digest of the "
     "whole certificate and cannot check 3 1 x; publish 3 0 1 too"},
    {SENDER_W_NOMATCH, "nomatch",
     "a record matches no key in the certificate file (an old key? remove it once "
     "the new key is in use)"},
    {SENDER_W_UNUSABLE, "unusable", "a record is unusable for client authentication"},
    {SENDER_W_TTL, "ttl",
     "TTL over 3600 s: a key rollover must publish the new record two TTLs ahead"},
};

/* sender_owner - the owner that was looked up for a name, or NULL (no look-up). */
static const verdict_owner *sender_owner(const sender_name *sn)
{
    return sn->v.nowners > 0 ? &sn->v.owners[0] : NULL;
}

/* sender_evaluate - match each record on its own and set the warnings of one checked name. */
static void sender_evaluate(const evidence *ev, sender_name *sn)
{
    const verdict_owner *vo = sender_owner(sn);
    match_rec_state st;
    match_result mr;
    bool fits_30 = false, fits_any = false;
    size_t i;

    if (vo == NULL)
        return;
    for (i = 0; i < vo->count; i++) {
        const tlsa_record *r = &vo->records[i];

        if (r->status != TLSA_USABLE) {
            sn->warnings |= SENDER_W_UNUSABLE;
            continue;
        }
        match_tlsa(ev, sn->v.name, r, 1, &st, &mr);
        sn->fits[i] = st == MATCH_REC_MATCH;
        if (sn->fits[i]) {
            fits_any = true;
            if (r->usage == TLSA_USAGE_DANE_EE && r->selector == TLSA_SELECTOR_CERT)
                fits_30 = true;
        } else if (st == MATCH_REC_NO_MATCH) {
            sn->warnings |= SENDER_W_NOMATCH;
        }
    }
    if (fits_any && !fits_30)
        sn->warnings |= SENDER_W_SENDMAIL;
    if (vo->count > 0 && vo->ttl > SENDER_TTL_MAX)
        sn->warnings |= SENDER_W_TTL;
}

/* sender_published - "yes", "no" or "unknown" (an unsigned answer, or none). */
static const char *sender_published(const verdict_owner *vo)
{
    if (vo == NULL)
        return "unknown";
    switch (vo->dnssec) {
    case RESOLVER_SECURE:
        return vo->count > 0 ? "yes" : "no";
    case RESOLVER_SECURE_NXDOMAIN:
    case RESOLVER_SECURE_NODATA:
        return "no";
    case RESOLVER_INSECURE:
        return vo->count > 0 ? "yes" : "unknown";
    default:
        return "unknown";
    }
}

/* sender_secure - the answer (records or their absence) was DNSSEC-validated. */
static bool sender_secure(const verdict_owner *vo)
{
    return vo != NULL && (vo->dnssec == RESOLVER_SECURE || vo->dnssec == RESOLVER_SECURE_NXDOMAIN ||
                          vo->dnssec == RESOLVER_SECURE_NODATA);
}

/* sender_record_text - what one record is to this certificate. */
static const char *sender_record_text(const sender_name *sn, size_t i, char *buf, size_t size)
{
    const tlsa_record *r = &sender_owner(sn)->records[i];

    if (r->status != TLSA_USABLE)
        snprintf(buf, size, "unusable: %s", tlsa_status_str(r->status));
    else if (sn->fits[i])
        snprintf(buf, size, "matches this certificate");
    else
        snprintf(buf, size, "matches nothing in the certificate file");
    return buf;
}

/* sender_problem - why a name does not pass, in the operator's terms, or NULL when it passes. */
static const char *sender_problem(const sender_name *sn)
{
    const verdict_owner *vo = sender_owner(sn);

    if (sn->v.result == VERDICT_PASS)
        return NULL;
    if (vo == NULL)
        return "not looked up";
    switch (vo->dnssec) {
    case RESOLVER_SECURE:
        return "no published record matches this certificate: publish the zone lines below";
    case RESOLVER_SECURE_NXDOMAIN:
    case RESOLVER_SECURE_NODATA:
        return "no TLSA record for this name: publish the zone lines below";
    case RESOLVER_INSECURE:
        return "the answer is not DNSSEC-signed (zone unsigned or no DS): receivers ignore it";
    case RESOLVER_BOGUS:
        return "DNSSEC validation fails (bogus): fix the zone's signatures or DS";
    default:
        return "the look-up failed: try again, or check the zone's name servers";
    }
}

/* sender_name_status - 0 pass, 1 does not pass, 4 undecided (look-up failed). */
static int sender_name_status(const sender_name *sn)
{
    if (sn->v.result == VERDICT_PASS)
        return 0;
    return sn->v.result == VERDICT_TEMPERROR ? 4 : 1;
}

/* sender_print_name - the readable report of one name. */
static void sender_print_name(const sender_name *sn)
{
    const verdict_owner *vo = sender_owner(sn);
    char rec[VERDICT_RECORD_TEXT_MAX], state[96];
    size_t i, w;

    printf("name:         ");
    cli_print_safe(sn->claimed);
    printf("\n");
    if (vo != NULL) {
        printf("  owner:      %s\n", vo->owner);
        if (vo->canon[0])
            printf("  canonical:  %s\n", vo->canon);
        printf("  published:  %s\n", sender_published(vo));
        printf("  DNSSEC:     %s", sender_secure(vo) ? "secure" : "not secure");
        if (vo->dnssec != RESOLVER_SECURE)
            printf(" (%s)", resolver_status_str(vo->dnssec));
        if (vo->count > 0)
            printf(", TTL %lu", (unsigned long) vo->ttl);
        printf("\n");
        if (vo->why[0])
            printf("  why:        %s\n", vo->why);
        for (i = 0; i < vo->count; i++)
            printf("  TLSA %-40s %s\n", tlsa_format(&vo->records[i], rec, 48),
                   sender_record_text(sn, i, state, sizeof(state)));
    }
    for (w = 0; w < sizeof(sender_warnings) / sizeof(sender_warnings[0]); w++)
        if (sn->warnings & sender_warnings[w].bit)
            printf("  warning:    %s\n", sender_warnings[w].text);
    if (sender_problem(sn) != NULL)
        printf("  problem:    %s\n", sender_problem(sn));
    printf("  result:     %s (%s)\n", sender_name_status(sn) == 0 ? "pass" : "FAIL", sn->v.reason);
}

/* sender_json_name - one name as a JSON object. */
static void sender_json_name(const sender_name *sn)
{
    const verdict_owner *vo = sender_owner(sn);
    char rec[VERDICT_RECORD_TEXT_MAX * 4], state[96];
    size_t i, w;
    bool first;

    printf("{\"name\":");
    cli_json_str(stdout, sn->claimed);
    printf(",\"owner\":");
    cli_json_str(stdout, vo ? vo->owner : NULL);
    printf(",\"published\":");
    cli_json_str(stdout, sender_published(vo));
    printf(",\"secure\":%s,\"dnssec\":", sender_secure(vo) ? "true" : "false");
    cli_json_str(stdout, vo ? resolver_status_str(vo->dnssec) : NULL);
    printf(",\"ttl\":%lu,\"pass\":%s,\"result\":", vo ? (unsigned long) vo->ttl : 0UL,
           sender_name_status(sn) == 0 ? "true" : "false");
    cli_json_str(stdout, verdict_result_word(sn->v.result));
    printf(",\"reason\":");
    cli_json_str(stdout, sn->v.reason);
    printf(",\"problem\":");
    cli_json_str(stdout, sender_problem(sn));
    printf(",\"records\":[");
    for (i = 0; vo != NULL && i < vo->count; i++) {
        const tlsa_record *r = &vo->records[i];

        printf("%s{\"usage\":%u,\"selector\":%u,\"mtype\":%u,\"record\":", i ? "," : "",
               r->usage, r->selector, r->mtype);
        cli_json_str(stdout, tlsa_format(r, rec, sizeof(rec)));
        printf(",\"matches\":%s,\"state\":", sn->fits[i] ? "true" : "false");
        cli_json_str(stdout, sender_record_text(sn, i, state, sizeof(state)));
        printf("}");
    }
    printf("],\"warnings\":[");
    for (w = 0, first = true; w < sizeof(sender_warnings) / sizeof(sender_warnings[0]); w++) {
        if (!(sn->warnings & sender_warnings[w].bit))
            continue;
        printf("%s{\"code\":", first ? "" : ",");
        first = false;
        cli_json_str(stdout, sender_warnings[w].code);
        printf(",\"text\":");
        cli_json_str(stdout, sender_warnings[w].text);
        printf("}");
    }
    printf("]}");
}

/* sender_no_password - pem_password_cb that refuses: an encrypted key is never prompted for. */
static int sender_no_password(char *buf, int size, int rwflag, void *u)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) u;
    return 0;
}

/* sender_load_key - the private key in buf (PEM or DER, unencrypted), or NULL. */
static EVP_PKEY *sender_load_key(const unsigned char *buf, size_t len)
{
    EVP_PKEY *pkey = NULL;
    const unsigned char *p = buf;
    BIO *bio;

    if (len > INT_MAX)
        return NULL;
    if ((bio = BIO_new_mem_buf(buf, (int) len)) == NULL)
        DANCE_PANIC("out of memory");
    pkey = PEM_read_bio_PrivateKey(bio, NULL, sender_no_password, NULL);
    BIO_free(bio);
    if (pkey == NULL)
        pkey = d2i_AutoPrivateKey(NULL, &p, (long) len);
    return pkey;
}

/*
 * sender_key_path - the smtp_tls_key_file for the Postfix lines: --key FILE
 * (which must hold the certificate's private key), else the certificate file
 * when it holds that key too, else "" (not known).  0 or an exit status.
 */
static int sender_key_path(const char *key_arg, const char *cert_path, const unsigned char *certbuf,
                           size_t certlen, X509 *leaf, char **out)
{
    const char *path = key_arg ? key_arg : cert_path;
    unsigned char *buf = NULL;
    EVP_PKEY *pkey;
    size_t len = certlen;
    bool fits;

    *out = NULL;
    if (key_arg != NULL && (buf = cli_read_file(key_arg, &len)) == NULL)
        return EXIT_NOINPUT;
    pkey = sender_load_key(buf ? buf : certbuf, len);
    free(buf);
    ERR_clear_error();
    if (pkey == NULL) {
        if (key_arg == NULL)
            return 0;
        fprintf(stderr, "dance sender-check: %s: not an unencrypted private key\n", key_arg);
        return EXIT_NOINPUT;
    }
    fits = X509_check_private_key(leaf, pkey) == 1;
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    if (!fits) {
        if (key_arg == NULL)
            return 0;
        fprintf(stderr, "dance sender-check: %s: not the private key of the certificate\n", key_arg);
        return EXIT_NOINPUT;
    }
    if ((*out = realpath(path, NULL)) == NULL) {
        *out = xmalloc(strlen(path) + 1);
        strcpy(*out, path);
    }
    return 0;
}

/* sender_postfix - the main.cf settings of the sending host into names[] and values[] (NULL: not known); their count. */
static size_t sender_postfix(const char *cert, const char *key, const char *helo,
                             const char *names[4], const char *values[4])
{
    names[0] = "smtp_tls_cert_file";
    values[0] = cert;
    names[1] = "smtp_tls_key_file";
    values[1] = key;     /* NULL: not known */
    names[2] = "smtp_helo_name";
    values[2] = helo;
    names[3] = "smtp_tls_security_level";
    values[3] = "may";
    return 4;
}

static const char sender_usage[] =
    "usage: dance sender-check --cert FILE [options] NAME...\n"
    "For each NAME the sending MTA claims (EHLO name, MAIL FROM domains): is the\n"
    "certificate in FILE in the DNSSEC-secure TLSA records at _smtp-client.NAME?\n"
    "Prints what to publish and the Postfix client settings.\n"
    "\n"
    "  --cert FILE           the certificate the MTA presents (PEM or DER)\n"
    "  --key FILE            its private key (checked against the certificate;\n"
    "                        default: FILE itself when it holds the key)\n"
    CLI_RESOLVER_USAGE
    "Output:\n"
    "  --json                print one JSON object instead of the report\n"
    "\n"
    "Exit status: 0 every name passes, 1 a name does not pass, 4 a look-up failed\n"
    "(and no name failed), 64 usage error, 66 unreadable or unusable input.\n";

enum { OPT_CERT = 256, OPT_KEY, OPT_JSON, OPT_HELP };

/* sender_output - the report or the JSON object for all names; lines are the zone lines. */
static void sender_output(bool json, const char *cert, const char *spki, sender_name *sn, size_t n,
                          char **lines, size_t nlines, const char *key, int status)
{
    const char *pn[4], *pv[4];
    size_t i, np, failing = 0;

    np = sender_postfix(cert, key, sn[0].v.name, pn, pv);
    for (i = 0; i < n; i++)
        failing += sender_name_status(&sn[i]) != 0;
    if (json) {
        printf("{\"certificate\":");
        cli_json_str(stdout, cert);
        printf(",\"spki_sha256\":");
        cli_json_str(stdout, spki);
        printf(",\"pass\":%s,\"result\":", status == 0 ? "true" : "false");
        cli_json_str(stdout, status == 0 ? "pass" : status == 4 ? "temperror" : "fail");
        printf(",\"exit\":%d,\"names\":[", status);
        for (i = 0; i < n; i++) {
            printf("%s", i ? "," : "");
            sender_json_name(&sn[i]);
        }
        printf("],\"zone_lines\":[");
        for (i = 0; i < nlines; i++) {
            printf("%s", i ? "," : "");
            cli_json_str(stdout, lines[i]);
        }
        printf("],\"postfix\":{");
        for (i = 0; i < np; i++) {
            printf("%s", i ? "," : "");
            cli_json_str(stdout, pn[i]);
            printf(":");
            cli_json_str(stdout, pv[i]);
        }
        printf("}}\n");
        return;
    }
    printf("certificate:  %s\n", cert);
    printf("client key:   SPKI SHA-256 %s\n", spki);
    for (i = 0; i < n; i++)
        sender_print_name(&sn[i]);
    printf("\nZone lines to publish (the same as dance tlsa prints):\n");
    for (i = 0; i < nlines; i++)
        printf("%s\n", lines[i]);
    printf("\nPostfix main.cf on the sending host:\n");
    for (i = 0; i < np; i++) {
        if (pv[i] != NULL)
            printf("%s = %s\n", pn[i], pv[i]);
        else
            printf("#%s = (the certificate's private key: give --key FILE)\n", pn[i]);
    }
    printf("\nresult:       ");
    if (status == 0)
        printf("pass (%zu name%s)\n", n, n == 1 ? "" : "s");
    else
        printf("%s (%zu of %zu name%s do%s not pass)\n", status == 4 ? "temperror" : "FAIL",
               failing, n, n == 1 ? "" : "s", failing == 1 ? "es" : "");
}

int cli_sender_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        CLI_RESOLVER_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    dance_config cfg;
    resolver_config rc;
    check_options copt;
    cli_resolver_opts ro = {0};
    evidence *ev = NULL;
    resolver *res = NULL;
    sender_name *sn = NULL;
    const char *cert_arg = NULL, *key_arg = NULL;
    char **lines = NULL;
    char *cert_abs = NULL, *key_abs = NULL;
    char norm[IDENTITY_NAME_MAX], owner[IDENTITY_OWNER_MAX], spki[65], err[512];
    unsigned char *buf = NULL;
    size_t len, i, n = 0, nlines = 0;
    identity_status ist;
    evidence_status est;
    bool json = false;
    int c, status = 0, s;

    config_init(&cfg);
    optind = 1;
    while (status == 0 && (c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if ((status = cli_resolver_opt("sender-check", c, optarg, &ro)) >= 0)
            continue;
        status = 0;
        switch (c) {
        case OPT_CERT:
            if (cert_arg != NULL)
                status = cli_usage_error("sender-check", "--cert given twice", optarg);
            cert_arg = optarg;
            break;
        case OPT_KEY:
            key_arg = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'h':
        case OPT_HELP:
            fputs(sender_usage, stdout);
            status = -1;
            break;
        default:
            fputs(sender_usage, stderr);
            status = EXIT_USAGE;
            break;
        }
    }
    if (status == 0 && cert_arg == NULL)
        status = cli_usage_error("sender-check", "missing --cert FILE", NULL);
    if (status == 0 && optind >= argc)
        status = cli_usage_error("sender-check", "missing NAME", NULL);
    for (i = optind; status == 0 && i < (size_t) argc; i++)
        if ((ist = identity_normalize(argv[i], norm)) != IDENTITY_OK)
            status = cli_usage_error("sender-check", identity_status_str(ist), argv[i]);
    if (status == 0)
        status = cli_resolver_load("sender-check", &ro, &cfg, &rc);
    if (status != 0)
        goto out;

    /* The certificate: a certificate (a bare key cannot give 3 0 1), and its key. */
    if ((buf = cli_read_file(cert_arg, &len)) == NULL) {
        status = EXIT_NOINPUT;
        goto out;
    }
    ev = evidence_new();
    if ((est = evidence_add_certs(ev, buf, len)) != EVIDENCE_OK || evidence_leaf(ev) == NULL) {
        fprintf(stderr, "dance sender-check: %s: %s\n", cert_arg,
                est != EVIDENCE_OK ? evidence_status_str(est) : "no certificate");
        status = EXIT_NOINPUT;
        goto out;
    }
    if ((status = sender_key_path(key_arg, cert_arg, buf, len, evidence_leaf(ev), &key_abs)) != 0)
        goto out;
    if ((cert_abs = realpath(cert_arg, NULL)) == NULL) {
        cert_abs = xmalloc(strlen(cert_arg) + 1);
        strcpy(cert_abs, cert_arg);
    }
    if (!evidence_spki_sha256_hex(ev, spki))
        DANCE_PANIC("a certificate without an SPKI digest");

    /* The zone lines: 3 1 1 and 3 0 1 per name. */
    n = (size_t) (argc - optind);
    lines = xmalloc(2 * n * sizeof(*lines));
    for (i = 0; i < n; i++) {
        if (identity_normalize(argv[optind + i], norm) != IDENTITY_OK ||
            identity_owner(norm, IDENTITY_OWNER_CLIENT, owner) != IDENTITY_OK) {
            status = cli_usage_error("sender-check", "no owner name for", argv[optind + i]);
            goto out;
        }
        if ((lines[nlines] = cli_tlsa_line(ev, 3, 1, 1, owner, cert_arg)) == NULL ||
            (lines[nlines + 1] = cli_tlsa_line(ev, 3, 0, 1, owner, cert_arg)) == NULL) {
            status = EXIT_NOINPUT;
            goto out;
        }
        nlines += 2;
    }

    /* The checks, one resolver for all (a fresh one each run: nothing cached from before). */
    if ((res = resolver_new(&rc, err, sizeof(err))) == NULL) {
        fprintf(stderr, "dance sender-check: %s\n", err);
        status = EXIT_NOINPUT;
        goto out;
    }
    memset(&copt, 0, sizeof(copt));     /* _smtp-client.NAME only, any name in scope */
    sn = xmalloc(n * sizeof(*sn));
    memset(sn, 0, n * sizeof(*sn));
    for (i = 0; i < n; i++) {
        sn[i].claimed = argv[optind + i];
        check_identity(res, ev, sn[i].claimed, &copt, &sn[i].v);
        sender_evaluate(ev, &sn[i]);
        s = sender_name_status(&sn[i]);
        if (s == 1 || (s == 4 && status == 0))
            status = s;
    }
    sender_output(json, cert_abs, spki, sn, n, lines, nlines, key_abs, status);

out:
    for (i = 0; sn != NULL && i < n; i++)
        verdict_clear(&sn[i].v);
    free(sn);
    for (i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    free(cert_abs);
    free(key_abs);
    free(buf);
    resolver_free(res);
    evidence_free(ev);
    config_free(&cfg);
    return status < 0 ? 0 : status;
}
