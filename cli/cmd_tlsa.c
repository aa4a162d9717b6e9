/*
 * cmd_tlsa.c - "dance tlsa": the TLSA record a sending-side operator
 * publishes for a certificate or public key.
 *
 * USAGE
 *	dance tlsa [--usage U] [--selector S] [--mtype M] [--name NAME | --owner OWNER] FILE
 *
 * DESCRIPTION
 *	FILE holds a certificate (PEM or DER; with a chain, usage 2 takes
 *	its last certificate) or a public key (or an unencrypted private
 *	key, of which only the public key is used).  The default is 3 1 1,
 *	the record DANE for SMTP recommends; the owner is
 *	_smtp-client.NAME (or OWNER as given).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "lib/evidence.h"
#include "lib/hex.h"
#include "lib/identity.h"
#include "lib/panic.h"
#include "lib/tlsa.h"
#include "cli.h"

static const char cli_tlsa_usage[] =
    "usage: dance tlsa [--usage U] [--selector S] [--mtype M] [--name NAME | --owner OWNER] FILE\n"
    "Print the TLSA record to publish for the certificate or public key in FILE\n"
    "(PEM or DER).  Default 3 1 1.  With --name NAME the owner is _smtp-client.NAME.\n"
    "For usage 2 (DANE-TA) the last certificate in FILE (the top of the chain) is used.\n";

/* cli_tlsa_object - DER of the object a record of (usage, selector) is made from; malloc'd. */
static unsigned char *cli_tlsa_object(const evidence *ev, unsigned long usage, unsigned long selector,
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

/* cli_tlsa_line - the zone line for (usage, selector, mtype) of ev, with owner when not NULL; malloc'd, or NULL after a message. */
char *cli_tlsa_line(const evidence *ev, unsigned long usage, unsigned long selector,
                    unsigned long mtype, const char *owner, const char *path)
{
    unsigned char digest[DIGEST_MAX];
    const unsigned char *data;
    unsigned char *obj;
    size_t objlen, datalen, size;
    char *line;
    int n;

    if ((obj = cli_tlsa_object(ev, usage, selector, &objlen, path)) == NULL)
        return NULL;
    if (mtype == TLSA_MTYPE_FULL) {
        data = obj;
        datalen = objlen;
    } else {
        datalen = evidence_digest((digest_alg) mtype, obj, objlen, digest);
        data = digest;
    }
    size = (owner ? strlen(owner) + 2 : 0) + sizeof("IN TLSA 3 1 1 ") + 2 * datalen + 1;
    line = xmalloc(size);
    n = snprintf(line, size, "%s%sIN TLSA %lu %lu %lu ", owner ? owner : "", owner ? ". " : "",
                 usage, selector, mtype);
    if (n < 0 || (size_t) n + 2 * datalen >= size)
        DANCE_PANIC("TLSA line does not fit");
    hex_encode(data, datalen, line + n);
    free(obj);
    return line;
}

int cli_tlsa(int argc, char **argv)
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
    unsigned char *buf;
    size_t len;
    char *line;
    evidence *ev;
    evidence_status est;
    identity_status ist;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            if (cli_parse_uint(optarg, 0, 3, &usage) != 0)
                return cli_usage_error("tlsa", "--usage: expected 0 to 3", optarg);
            break;
        case 's':
            if (cli_parse_uint(optarg, 0, 1, &selector) != 0)
                return cli_usage_error("tlsa", "--selector: expected 0 or 1", optarg);
            break;
        case 'm':
            if (cli_parse_uint(optarg, 0, 2, &mtype) != 0)
                return cli_usage_error("tlsa", "--mtype: expected 0, 1 or 2", optarg);
            break;
        case 'n':
            name = optarg;
            break;
        case 'o':
            owner_arg = optarg;
            break;
        case 'h':
            fputs(cli_tlsa_usage, stdout);
            return 0;
        default:
            fputs(cli_tlsa_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("tlsa", optind >= argc ? "missing FILE" : "more than one FILE", NULL);
    if (name != NULL && owner_arg != NULL)
        return cli_usage_error("tlsa", "--name and --owner exclude each other", NULL);
    owner[0] = 0;
    if (name != NULL) {
        if ((ist = identity_normalize(name, norm)) != IDENTITY_OK)
            return cli_usage_error("tlsa", "--name", identity_status_str(ist));
        if ((ist = identity_owner(norm, IDENTITY_OWNER_CLIENT, owner)) != IDENTITY_OK)
            return cli_usage_error("tlsa", "--name", identity_status_str(ist));
    } else if (owner_arg != NULL) {
        if ((ist = identity_normalize_owner(owner_arg, owner)) != IDENTITY_OK)
            return cli_usage_error("tlsa", "--owner", identity_status_str(ist));
    }
    path = argv[optind];
    if ((buf = cli_read_file(path, &len)) == NULL)
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
    line = cli_tlsa_line(ev, usage, selector, mtype, owner[0] ? owner : NULL, path);
    evidence_free(ev);
    if (line == NULL)
        return EXIT_NOINPUT;
    printf("%s\n", line);
    free(line);
    return 0;
}
