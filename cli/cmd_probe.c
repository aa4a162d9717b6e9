/*
 * cmd_probe.c - "dance probe": a one-shot SMTP receiver that tells a sending
 * operator what danced would decide for their mail server.
 *
 * USAGE
 *	dance probe --listen ADDR:PORT [--tls-cert FILE --tls-key FILE]
 *		[-c FILE] [--resolver-config FILE] [--trust-anchor FILE]
 *		[--timeout SECONDS] [--json]
 *
 * DESCRIPTION
 *	Listens on ADDR:PORT, takes one connection, offers STARTTLS and asks
 *	for a client certificate (probe_smtp.c, probe_tls.c).  At MAIL FROM
 *	it checks what the client really presented, as danced does: the
 *	EHLO name and the domain of the envelope sender, each with
 *	check_identity() against the certificates from the handshake (the
 *	same call "dance check" makes).  It answers "550 5.7.0 dance probe:
 *	..." with the verdicts, so the sending side reports them too; mail
 *	is never accepted.  Then it prints the reports (cli_print_report, or
 *	one JSON object with --json) and exits with the combined verdict's
 *	status (cli_verdict_exit): the verdicts combine with the library's
 *	precedence (pass > temperror > fail > permerror > neutral > none),
 *	as danced lets an authorized client in when any identity passes.
 *
 *	--timeout bounds the whole run: waiting for the client, the session,
 *	and the DNS look-ups (each gets the configured timeout, but no more
 *	than its share of the time left, and at least one second).  Without a
 *	verdict the exit status is 75 (no client, or the session timed out)
 *	or 76 (the client left or broke the protocol before MAIL FROM);
 *	71 when the address cannot be listened on.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/evidence.h"
#include "lib/identity.h"
#include "lib/panic.h"
#include "lib/resolver.h"
#include "lib/text.h"
#include "lib/verdict.h"
#include "cli.h"
#include "probe_conn.h"
#include "probe_smtp.h"
#include "probe_tls.h"

#define EXIT_OSERR 71                   /* cannot listen */
#define EXIT_TEMPFAIL 75                /* no verdict: no client, or it timed out */
#define EXIT_PROTOCOL 76                /* no verdict: the client left or broke the protocol */
#define PROBE_TIMEOUT_DEFAULT 60
#define PROBE_ADDR_MAX 300

enum { PROBE_HELO = 0, PROBE_MAILFROM, PROBE_KINDS };

static const char *const probe_kind_names[PROBE_KINDS] = { "helo", "mailfrom" };

/* One run's state, as the decide callback sees it. */
typedef struct probe_run {
    resolver_config rc;                 /* from the options and the configuration file */
    resolver *res;                      /* made from rc before listening */
    check_options copt;
    long long deadline;                 /* of the whole run, clock_now_ms() */
    bool present[PROBE_KINDS];          /* an identity was claimed */
    char claimed[PROBE_KINDS][PROBE_LINE_MAX];
    verdict v[PROBE_KINDS];
    verdict_result result;              /* the combination */
    char reply[PROBE_REPLY_TEXT_MAX + 16];
    char err[256];
} probe_run;

/* probe_mailfrom_name - the name to check of the envelope sender, as danced takes it; false for the null sender. */
static bool probe_mailfrom_name(const char *path, char *out, size_t size)
{
    char norm[IDENTITY_NAME_MAX];
    const char *at;

    if (*path == '\0')
        return false;
    if (identity_mail_domain(path, norm) == IDENTITY_OK)
        text_copy(out, size, norm);
    else
        text_copy(out, size, (at = strrchr(path, '@')) != NULL ? at + 1 : path);
    return true;                        /* an invalid one: check_identity says why */
}

/* probe_decide_cb - at MAIL FROM: check each claimed identity, combine, write the reply text. */
static void probe_decide_cb(void *arg, const probe_client *cl, char reply[PROBE_REPLY_TEXT_MAX])
{
    probe_run *run = arg;
    resolver_config rc = run->rc;
    resolver *short_res = NULL;
    long long left = run->deadline - clock_now_ms(), budget;
    int nlookups;
    size_t off, k;
    bool any = false;

    text_copy(run->claimed[PROBE_HELO], PROBE_LINE_MAX, cl->helo);
    run->present[PROBE_HELO] = cl->helo[0] != '\0';
    run->present[PROBE_MAILFROM] = probe_mailfrom_name(cl->mail_from, run->claimed[PROBE_MAILFROM],
                                                       PROBE_LINE_MAX);
    /* the look-ups share the time left: a shorter-lived resolver then */
    nlookups = (run->present[PROBE_HELO] + run->present[PROBE_MAILFROM]) *
               (run->copt.server_tlsa ? 2 : 1);
    budget = nlookups > 0 ? left / nlookups : left;
    if (rc.timeout_ms == 0)
        rc.timeout_ms = RESOLVER_DEFAULT_TIMEOUT_MS;
    if (budget < (long long) rc.timeout_ms && !evidence_is_empty(cl->ev)) {
        rc.timeout_ms = budget > 1000 ? (unsigned) budget : 1000;
        short_res = resolver_new(&rc, run->err, sizeof(run->err));
    }
    run->result = VERDICT_NONE;
    off = (size_t) snprintf(reply, PROBE_REPLY_TEXT_MAX, "dance probe:");
    for (k = 0; k < PROBE_KINDS; k++) {
        if (!run->present[k])
            continue;
        check_identity(short_res != NULL ? short_res : run->res, cl->ev, run->claimed[k],
                       &run->copt, &run->v[k]);
        if (!any || run->v[k].result > run->result)
            run->result = run->v[k].result;
        any = true;
        if (off < PROBE_REPLY_TEXT_MAX)
            off += (size_t) snprintf(reply + off, PROBE_REPLY_TEXT_MAX - off, "%s %s=%s %s",
                                     k ? "," : "", probe_kind_names[k],
                                     run->v[k].name[0] ? run->v[k].name : "(invalid)",
                                     verdict_result_word(run->v[k].result));
    }
    if (off < PROBE_REPLY_TEXT_MAX && !cl->tls)
        off += (size_t) snprintf(reply + off, PROBE_REPLY_TEXT_MAX - off, " (no STARTTLS)");
    else if (off < PROBE_REPLY_TEXT_MAX && cl->ncerts == 0)
        off += (size_t) snprintf(reply + off, PROBE_REPLY_TEXT_MAX - off, " (no client certificate)");
    if (off >= PROBE_REPLY_TEXT_MAX)    /* two long names: the words alone */
        snprintf(reply, PROBE_REPLY_TEXT_MAX, "dance probe: helo %s, mailfrom %s",
                 run->present[0] ? verdict_result_word(run->v[0].result) : "-",
                 run->present[1] ? verdict_result_word(run->v[1].result) : "-");
    snprintf(run->reply, sizeof(run->reply), "550 5.7.0 %s", reply);
    resolver_free(short_res);
}

/* probe_listen - a listening socket for "ADDR:PORT" ("[v6]:PORT"); -1 after a message, *status the exit status. */
static int probe_listen(const char *text, char *bound, size_t boundsize, int *status)
{
    char host[PROBE_ADDR_MAX], serv[16], *colon;
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    unsigned long port;
    int fd = -1, on = 1, e;

    *status = EXIT_OSERR;

    text_copy(host, sizeof(host), text);
    if (strlen(text) >= sizeof(host) || (colon = strrchr(host, ':')) == NULL ||
        cli_parse_uint(colon + 1, 0, 65535, &port) != 0) {
        *status = cli_usage_error("probe", "--listen: expected ADDR:PORT", text);
        return -1;
    }
    *colon = '\0';
    if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
        colon[-1] = '\0';
        memmove(host, host + 1, strlen(host));
    }
    if (host[0] == '\0' || strchr(host, '[') != NULL || strchr(host, ']') != NULL) {
        *status = cli_usage_error("probe", "--listen: expected ADDR:PORT", text);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(serv, sizeof(serv), "%lu", port);
    if ((e = getaddrinfo(host, serv, &hints, &ai)) != 0) {
        fprintf(stderr, "dance probe: --listen %s: %s\n", text, gai_strerror(e));
        return -1;
    }
    if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *) &ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *) &ss, sl, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        fprintf(stderr, "dance probe: cannot listen on %s: %s\n", text, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    } else {
        /* non-blocking: a client gone between poll() and accept() cannot block us */
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        snprintf(bound, boundsize, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, serv);
    }
    freeaddrinfo(ai);
    return fd;
}

/* probe_accept - the one client, or -1 when none came before the deadline. */
static int probe_accept(int lfd, long long deadline, char *peer, size_t peersize)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    struct pollfd p;
    long long left;
    int fd;

    for (;;) {
        if ((left = deadline - clock_now_ms()) <= 0)
            return -1;
        p.fd = lfd;
        p.events = POLLIN;
        if (poll(&p, 1, left > 60000 ? 60000 : (int) left) <= 0)
            continue;
        sl = sizeof(ss);
        if ((fd = accept(lfd, (struct sockaddr *) &ss, &sl)) < 0)
            continue;
        if (getnameinfo((struct sockaddr *) &ss, sl, host, sizeof(host), serv, sizeof(serv),
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            snprintf(peer, peersize, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, serv);
        return fd;
    }
}

/* probe_print - the reports of the run, or one JSON object. */
static void probe_print(const probe_run *run, const probe_client *cl, const char *peer, bool json)
{
    size_t k;

    if (json) {
        printf("{\"client\":");
        cli_json_str(stdout, peer);
        printf(",\"tls\":%s,\"tls_version\":", cl->tls ? "true" : "false");
        cli_json_str(stdout, cl->tls ? cl->tls_version : NULL);
        printf(",\"certificates\":%zu,\"helo_name\":", cl->ncerts);
        cli_json_str(stdout, cl->helo);
        printf(",\"mail_from\":");
        cli_json_str(stdout, cl->mail_from);
        for (k = 0; k < PROBE_KINDS; k++) {
            printf(",\"%s\":", probe_kind_names[k]);
            if (run->present[k])
                cli_print_json(&run->v[k], run->claimed[k]);
            else
                printf("null");
        }
        printf(",\"result\":");
        cli_json_str(stdout, verdict_result_word(run->result));
        printf(",\"reply\":");
        cli_json_str(stdout, run->reply);
        printf("}\n");
        return;
    }
    printf("client:       %s\n", peer);
    if (cl->tls)
        printf("TLS:          %s, %zu client certificate%s\n", cl->tls_version, cl->ncerts,
               cl->ncerts == 1 ? "" : "s");
    else
        printf("TLS:          none (no STARTTLS)\n");
    printf("EHLO:         ");
    cli_print_safe(cl->helo);
    printf("\nMAIL FROM:    <");
    cli_print_safe(cl->mail_from);
    printf(">\n");
    for (k = 0; k < PROBE_KINDS; k++) {
        printf("\n[%s]\n", probe_kind_names[k]);
        if (run->present[k])
            cli_print_report(&run->v[k], run->claimed[k]);
        else
            printf("no name claimed (the null sender)\n");
    }
    printf("\nreply:        %s\nresult:       %s\n", run->reply, verdict_result_word(run->result));
}

static const char cli_probe_usage[] =
    "usage: dance probe --listen ADDR:PORT [options]\n"
    "Receive one SMTP connection, offer STARTTLS, ask for a client certificate,\n"
    "and check the EHLO name and the MAIL FROM domain as danced would; the\n"
    "client gets \"550 5.7.0 dance probe: <verdicts>\" (no mail is accepted).\n"
    "\n"
    "  --listen ADDR:PORT    address to listen on ([v6]:PORT; port 0: any free one)\n"
    "  --tls-cert FILE       server certificate (PEM, chain after it)\n"
    "  --tls-key FILE        its private key (default: a throwaway self-signed pair)\n"
    "  --timeout SECONDS     bound on the whole run, client wait included (default 60)\n"
    "  --json                print one JSON object instead of the reports\n"
    "Resolver (as dance check):\n"
    "  -c FILE               read settings from a dance configuration file\n"
    "  --resolver-config FILE  unbound.conf-style file (stub/forward zones, ...)\n"
    "  --trust-anchor FILE   DNSSEC trust anchor file (default " RESOLVER_DEFAULT_TRUST_ANCHOR ")\n"
    "\n"
    "Exit status: 0 pass, 1 fail, 2 neutral, 3 none, 4 temperror, 5 permerror\n"
    "(the best verdict of the two names), 64 usage error, 66 unreadable input,\n"
    "71 cannot listen, 75 no client or timed out, 76 the client left or broke\n"
    "the protocol before MAIL FROM.\n";

enum { OPT_LISTEN = 256, OPT_TLSCERT, OPT_TLSKEY, OPT_RESCONF, OPT_TA, OPT_TIMEOUT, OPT_JSON, OPT_HELP };

/* probe_setup - the configuration and the resolver of the run; 0 or an exit status. */
static int probe_setup(probe_run *run, dance_config *cfg, const char *conf_file,
                       const char *resconf, const char *ta)
{
    cli_resolver_opts ro = { conf_file, resconf, ta, 0 };   /* --timeout is the probe's own */
    char err[512];
    int status;

    if ((status = cli_resolver_load("probe", &ro, cfg, &run->rc)) != 0)
        return status;
    run->copt.server_tlsa = cfg->server_tlsa;
    run->copt.lookup_domains = (const char *const *) cfg->lookup_domains.v;
    run->copt.nlookup_domains = cfg->lookup_domains.n;
    if ((run->res = resolver_new(&run->rc, err, sizeof(err))) == NULL) {
        fprintf(stderr, "dance probe: %s\n", err);
        return EXIT_NOINPUT;
    }
    return 0;
}

/* probe_session - listen, take one client, run the dialogue, report; the exit status. */
static int probe_session(probe_run *run, SSL_CTX *ctx, const char *listen_at, unsigned long timeout,
                         bool json)
{
    char bound[PROBE_ADDR_MAX + 16], peer[PROBE_ADDR_MAX + 16] = "?", err[512];
    probe_client cl;
    probe_smtp_status st;
    probe_conn *conn;
    int lfd, fd, status;
    size_t k;

    if ((lfd = probe_listen(listen_at, bound, sizeof(bound), &status)) < 0)
        return status;
    fprintf(stderr, "dance probe: listening on %s for %lu s\n", bound, timeout);
    fd = probe_accept(lfd, run->deadline, peer, sizeof(peer));
    close(lfd);
    if (fd < 0) {
        fprintf(stderr, "dance probe: no client connected within %lu s\n", timeout);
        return EXIT_TEMPFAIL;
    }
    memset(&cl, 0, sizeof(cl));
    cl.ev = evidence_new();
    conn = probe_conn_new(fd, run->deadline);
    st = probe_smtp_run(conn, ctx, &cl, probe_decide_cb, run, err, sizeof(err));
    probe_conn_free(conn);
    switch (st) {
    case PROBE_SMTP_DECIDED:
        probe_print(run, &cl, peer, json);
        status = cli_verdict_exit(run->result);
        for (k = 0; k < PROBE_KINDS; k++)
            if (run->present[k])
                verdict_clear(&run->v[k]);
        break;
    case PROBE_SMTP_TIMEOUT:
        fprintf(stderr, "dance probe: client %s: %s (no verdict)\n", peer, err);
        status = EXIT_TEMPFAIL;
        break;
    default:
        fprintf(stderr, "dance probe: client %s: %s (no verdict)\n", peer, err);
        status = EXIT_PROTOCOL;
        break;
    }
    evidence_free(cl.ev);
    return status;
}

int cli_probe(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"tls-cert", required_argument, NULL, OPT_TLSCERT},
        {"tls-key", required_argument, NULL, OPT_TLSKEY},
        {"resolver-config", required_argument, NULL, OPT_RESCONF},
        {"trust-anchor", required_argument, NULL, OPT_TA},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *conf_file = NULL, *resconf = NULL, *ta = NULL, *listen_at = NULL;
    const char *tls_cert = NULL, *tls_key = NULL;
    unsigned long timeout = PROBE_TIMEOUT_DEFAULT;
    struct sigaction sa;
    dance_config cfg;
    probe_run *run;
    SSL_CTX *ctx = NULL;
    bool json = false;
    char err[512];
    int c, status = 0;

    config_init(&cfg);
    run = xmalloc(sizeof(*run));
    memset(run, 0, sizeof(*run));
    optind = 1;
    while (status == 0 && (c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf_file = optarg;
            break;
        case OPT_LISTEN:
            listen_at = optarg;
            break;
        case OPT_TLSCERT:
            tls_cert = optarg;
            break;
        case OPT_TLSKEY:
            tls_key = optarg;
            break;
        case OPT_RESCONF:
            resconf = optarg;
            break;
        case OPT_TA:
            ta = optarg;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_uint(optarg, 1, 3600, &timeout) != 0)
                status = cli_usage_error("probe", "--timeout: expected whole seconds from 1 to 3600",
                                         optarg);
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'h':
        case OPT_HELP:
            fputs(cli_probe_usage, stdout);
            status = -1;
            break;
        default:
            fputs(cli_probe_usage, stderr);
            status = EXIT_USAGE;
            break;
        }
    }
    if (status == 0 && optind != argc)
        status = cli_usage_error("probe", "unexpected argument", argv[optind]);
    if (status == 0 && listen_at == NULL)
        status = cli_usage_error("probe", "missing --listen ADDR:PORT", NULL);
    if (status == 0 && (tls_cert == NULL) != (tls_key == NULL))
        status = cli_usage_error("probe", "--tls-cert and --tls-key go together", NULL);
    if (status == 0)
        status = probe_setup(run, &cfg, conf_file, resconf, ta);
    if (status == 0 && (ctx = probe_tls_ctx_new(tls_cert, tls_key, err, sizeof(err))) == NULL) {
        fprintf(stderr, "dance probe: %s\n", err);
        status = EXIT_NOINPUT;
    }
    if (status == 0) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        (void) sigaction(SIGPIPE, &sa, NULL);   /* a client gone mid-reply is an error, not a signal */
        run->deadline = clock_now_ms() + (long long) timeout * 1000;
        status = probe_session(run, ctx, listen_at, timeout, json);
    }
    SSL_CTX_free(ctx);
    resolver_free(run->res);
    free(run);
    config_free(&cfg);
    return status < 0 ? 0 : status;
}
