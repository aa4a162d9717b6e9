/*
 * nullmilter.c - a milter that does no work: the milter protocol's cost.
 *
 * USAGE
 *	cc -O2 -Wall -Wextra -o nullmilter bench/nullmilter.c -lmilter -lpthread
 *	./nullmilter [-m same|min] inet:PORT@127.0.0.1 | unix:PATH
 *
 * DESCRIPTION
 *	bench/postfix.sh runs this beside danced to split danced's cost in
 *	a real Postfix into what any libmilter milter costs there and what
 *	danced adds.  It inserts one fixed header field at the top of every
 *	message and looks at nothing:
 *	  -m same  (default) the stages, replies and protocol options
 *	           danced negotiates in Postfix mode: connect, HELO, MAIL,
 *	           RCPT, DATA, end of header and end of message answered,
 *	           header fields streamed without replies (SMFIP_NR_HDR),
 *	           body and unknown commands skipped, TCP_NODELAY on the
 *	           listening socket, the macros danced asks for;
 *	  -m min   only the header fields and end of message (every other
 *	           stage skipped): the least a milter that removes forged
 *	           header fields can ask for.
 *	The listening socket is loopback TCP (libmilter's own spelling,
 *	inet:PORT@127.0.0.1) or a unix-domain socket (made mode 0666: the
 *	MTA runs as another user).  Runs until SIGTERM (smfi_main's handling).
 */
#include <errno.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int null_min;

static sfsistat null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                               unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                               unsigned long *pf2, unsigned long *pf3)
{
    unsigned long want = SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NR_HDR;

    (void) f2;
    (void) f3;
    if (null_min)
        want |= SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NODATA
            | SMFIP_NOEOH;
    *pf0 = f0 & (SMFIF_ADDHDRS | (null_min ? 0 : SMFIF_SETSYMLIST));
    *pf1 = f1 & want;
    *pf2 = 0;
    *pf3 = 0;
    if (!null_min && (f0 & SMFIF_SETSYMLIST)) {     /* danced's macro lists */
        static const struct { int stage; const char *list; } macros[] = {
            { SMFIM_CONNECT, "v {client_name} {client_resolve}" },
            { SMFIM_HELO, "{tls_version} {cert_fp} {verify}" },
            { SMFIM_ENVFROM, "i {tls_version} {cert_fp} {verify}" },
            { SMFIM_EOH, "i" },
            { SMFIM_EOM, "i" },
        };
        char list[64];

        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            snprintf(list, sizeof(list), "%s", macros[i].list);
            (void) smfi_setsymlist(ctx, macros[i].stage, list);
        }
    }
    return SMFIS_CONTINUE;
}

static sfsistat null_connect(SMFICTX *ctx, char *host, struct sockaddr *sa)
{
    (void) ctx;
    (void) host;
    (void) sa;
    return SMFIS_CONTINUE;
}

static sfsistat null_args(SMFICTX *ctx, char **argv)
{
    (void) ctx;
    (void) argv;
    return SMFIS_CONTINUE;
}

static sfsistat null_helo(SMFICTX *ctx, char *name)
{
    (void) ctx;
    (void) name;
    return SMFIS_CONTINUE;
}

static sfsistat null_header(SMFICTX *ctx, char *name, char *value)
{
    (void) ctx;
    (void) name;
    (void) value;
    return SMFIS_CONTINUE;
}

static sfsistat null_ctx(SMFICTX *ctx)
{
    (void) ctx;
    return SMFIS_CONTINUE;
}

static sfsistat null_eom(SMFICTX *ctx)
{
    smfi_insheader(ctx, 0, "Authentication-Results", "mx.dest.test; none");
    return SMFIS_CONTINUE;
}

static struct smfiDesc null_desc = {
    "nullmilter", SMFI_VERSION, SMFIF_ADDHDRS | SMFIF_SETSYMLIST,
    null_connect, null_helo, null_args, null_args, null_header, null_ctx, NULL, null_eom,
    null_ctx, null_ctx, NULL, null_ctx, null_negotiate,
};

/* null_nodelay - TCP_NODELAY on the listening socket (accepted ones inherit it on Linux). */
static void null_nodelay(void)
{
    int on = 1, listening;
    socklen_t len;

    for (int fd = 0; fd < 1024; fd++) {
        len = sizeof(listening);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
            (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
}

int main(int argc, char **argv)
{
    int opt;

    while ((opt = getopt(argc, argv, "m:")) != -1) {
        if (opt == 'm' && (strcmp(optarg, "same") == 0 || strcmp(optarg, "min") == 0))
            null_min = strcmp(optarg, "min") == 0;
        else {
            fprintf(stderr, "usage: nullmilter [-m same|min] inet:PORT@127.0.0.1 | unix:PATH\n");
            return 64;
        }
    }
    if (optind != argc - 1 || ((strncmp(argv[optind], "inet:", 5) != 0
                                || strstr(argv[optind], "@127.0.0.1") == NULL)
                               && strncmp(argv[optind], "unix:/", 6) != 0)) {
        fprintf(stderr, "usage: nullmilter [-m same|min] inet:PORT@127.0.0.1 | unix:PATH (local only)\n");
        return 64;
    }
    if (smfi_setconn(argv[optind]) != MI_SUCCESS || smfi_register(null_desc) != MI_SUCCESS
        || smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[optind]);
        return 1;
    }
    if (strncmp(argv[optind], "unix:", 5) == 0)
        (void) chmod(argv[optind] + 5, 0666);
    else
        null_nodelay();
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
