/*
 * probe_smtp.h - the SMTP server dialogue of "dance probe": from the
 * greeting to MAIL FROM, the reply the caller decides, then QUIT.
 */
#ifndef DANCE_CLI_PROBE_SMTP_H
#define DANCE_CLI_PROBE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "lib/evidence.h"
#include "probe_conn.h"

#define PROBE_REPLY_TEXT_MAX 490       /* the caller's reply text; with "550 5.7.0 " and CRLF under 512 */
#define PROBE_SMTP_COMMANDS_MAX 50     /* commands read in one session */
#define PROBE_SMTP_ERRORS_MAX 10       /* rejected commands before the session is closed */
#define PROBE_SMTP_AFTER_MS 10000      /* time the client has for QUIT after the verdict */

/* What the client really presented; helo and mail_from as sent. */
typedef struct probe_client {
    bool tls;                          /* STARTTLS done */
    char tls_version[32];              /* "TLSv1.3", or "" */
    char helo[PROBE_LINE_MAX];         /* the last EHLO/HELO argument ("" none) */
    bool ehlo;                         /* it was EHLO */
    char mail_from[PROBE_LINE_MAX];    /* the reverse path between < and > ("" the null sender) */
    evidence *ev;                      /* the caller's; the certificates presented go in */
    size_t ncerts;                     /* how many */
} probe_client;

/* probe_decide - the caller's answer to MAIL FROM: one line of printable ASCII into reply. */
typedef void (*probe_decide)(void *arg, const probe_client *cl, char reply[PROBE_REPLY_TEXT_MAX]);

typedef enum {
    PROBE_SMTP_DECIDED = 0,            /* MAIL FROM came and was answered */
    PROBE_SMTP_TIMEOUT,                /* the deadline passed before */
    PROBE_SMTP_GONE,                   /* the client quit or closed before */
    PROBE_SMTP_PROTOCOL                /* garbage, too many errors, a long line, TLS or socket failure */
} probe_smtp_status;

/* probe_smtp_run - the whole session on c; decide runs once, at MAIL FROM; err says why when not DECIDED. */
probe_smtp_status probe_smtp_run(probe_conn *c, SSL_CTX *ctx, probe_client *cl,
                                 probe_decide decide, void *arg, char *err, size_t errsize);

#endif
