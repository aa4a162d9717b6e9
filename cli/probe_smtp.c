/*
 * probe_smtp.c - the SMTP server dialogue of "dance probe".
 *
 * USAGE
 *	st = probe_smtp_run(conn, ssl_ctx, &client, decide, arg, err, sizeof(err));
 *
 * DESCRIPTION
 *	A minimal ESMTP server (RFC 5321, RFC 3207) that only listens:
 *	greeting, EHLO/HELO, STARTTLS (offered after EHLO until done), and
 *	MAIL FROM, at which the caller's decide() turns what the client
 *	presented (the EHLO name after STARTTLS, the envelope sender, the
 *	certificates) into the text of a "550 5.7.0" reply.  Mail is never
 *	accepted; after the verdict only RSET, NOOP and QUIT are answered
 *	with success, and the client has PROBE_SMTP_AFTER_MS to say QUIT.
 *
 *	The answer goes to MAIL FROM, not RCPT: the client has then said
 *	all that is checked, a 5xx there is reported by every client
 *	(swaks prints it, Postfix bounces with "said: 550 ... (in reply to
 *	MAIL FROM command)" and logs it), and no recipient is needed.
 *	PIPELINING is not offered, so clients wait for each reply.
 *
 *	Bounds: lines of PROBE_LINE_MAX octets, PROBE_SMTP_COMMANDS_MAX
 *	commands, PROBE_SMTP_ERRORS_MAX rejected ones, and the connection's
 *	deadline (probe_conn.c).  A line with a NUL is a syntax error.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/panic.h"
#include "lib/text.h"
#include "probe_smtp.h"
#include "probe_tls.h"

#define PROBE_HOST "dance-probe"

typedef enum {
    PROBE_CMD_EHLO, PROBE_CMD_HELO, PROBE_CMD_STARTTLS, PROBE_CMD_MAIL, PROBE_CMD_RCPT,
    PROBE_CMD_DATA, PROBE_CMD_RSET, PROBE_CMD_NOOP, PROBE_CMD_QUIT, PROBE_CMD_OTHER
} probe_cmd;

typedef struct probe_session {
    probe_conn *c;
    SSL_CTX *ctx;
    probe_client *cl;
    bool greeted;                      /* EHLO/HELO since the start or STARTTLS */
    bool decided;
    bool quit;                         /* the client said QUIT */
    unsigned errors;
    char *err;
    size_t errsize;
} probe_session;

/* probe_smtp_verb - the command of a line, and where its argument starts. */
static probe_cmd probe_smtp_verb(const char *line, const char **arg)
{
    static const struct { const char *word; probe_cmd cmd; } verbs[] = {
        {"EHLO", PROBE_CMD_EHLO}, {"HELO", PROBE_CMD_HELO}, {"STARTTLS", PROBE_CMD_STARTTLS},
        {"MAIL", PROBE_CMD_MAIL}, {"RCPT", PROBE_CMD_RCPT}, {"DATA", PROBE_CMD_DATA},
        {"RSET", PROBE_CMD_RSET}, {"NOOP", PROBE_CMD_NOOP}, {"QUIT", PROBE_CMD_QUIT},
    };
    size_t i, n;

    for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        n = strlen(verbs[i].word);
        if (strncasecmp(line, verbs[i].word, n) == 0 && (line[n] == '\0' || line[n] == ' ')) {
            for (*arg = line + n; **arg == ' '; (*arg)++)
                ;
            return verbs[i].cmd;
        }
    }
    *arg = "";
    return PROBE_CMD_OTHER;
}

/* probe_smtp_reply - send one reply; false when the connection is gone (err set). */
static bool probe_smtp_reply(probe_session *s, const char *text)
{
    probe_io_status st = probe_conn_write(s->c, text);

    if (st == PROBE_IO_OK)
        return true;
    snprintf(s->err, s->errsize, "sending a reply: %s", probe_io_str(st));
    return false;
}

/* probe_smtp_reject - a 5xx reply that counts towards PROBE_SMTP_ERRORS_MAX; false to end. */
static bool probe_smtp_reject(probe_session *s, const char *text)
{
    if (++s->errors >= PROBE_SMTP_ERRORS_MAX) {
        (void) probe_smtp_reply(s, "421 4.7.0 " PROBE_HOST " too many errors, closing\r\n");
        snprintf(s->err, s->errsize, "the client made %u errors", s->errors);
        return false;
    }
    return probe_smtp_reply(s, text);
}

/* probe_smtp_path - the reverse path of "FROM:<path> ..." into out; false when malformed. */
static bool probe_smtp_path(const char *arg, char *out, size_t size)
{
    const char *end;

    if (strncasecmp(arg, "FROM:", 5) != 0)
        return false;
    for (arg += 5; *arg == ' '; arg++)
        ;
    if (*arg != '<' || (end = strchr(arg, '>')) == NULL)
        return false;
    if ((size_t) (end - arg) > size)
        return false;
    memcpy(out, arg + 1, (size_t) (end - arg - 1));
    out[end - arg - 1] = '\0';
    return end[1] == '\0' || end[1] == ' ';
}

/* probe_smtp_starttls - STARTTLS: the reply, the handshake, the evidence; false to end. */
static bool probe_smtp_starttls(probe_session *s)
{
    char why[256];
    SSL *ssl;

    if (!probe_smtp_reply(s, "220 2.0.0 Ready to start TLS\r\n"))
        return false;
    if (probe_conn_starttls(s->c, s->ctx, why, sizeof(why)) != PROBE_IO_OK) {
        snprintf(s->err, s->errsize, "TLS handshake: %s", why);
        return false;
    }
    ssl = probe_conn_ssl(s->c);
    s->cl->tls = true;
    text_copy(s->cl->tls_version, sizeof(s->cl->tls_version), SSL_get_version(ssl));
    s->cl->ncerts = probe_tls_evidence(ssl, s->cl->ev);
    s->greeted = false;                 /* RFC 3207 4.2: forget what was said before */
    s->cl->helo[0] = '\0';
    return true;
}

/* probe_smtp_greet - EHLO or HELO; false to end. */
static bool probe_smtp_greet(probe_session *s, probe_cmd cmd, const char *arg)
{
    if (*arg == '\0')
        return probe_smtp_reject(s, "501 5.5.4 a name is needed\r\n");
    text_copy(s->cl->helo, sizeof(s->cl->helo), arg);
    s->cl->ehlo = cmd == PROBE_CMD_EHLO;
    s->greeted = true;
    if (cmd == PROBE_CMD_HELO)
        return probe_smtp_reply(s, "250 " PROBE_HOST "\r\n");
    if (!s->cl->tls)
        return probe_smtp_reply(s, "250-" PROBE_HOST "\r\n250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n");
    return probe_smtp_reply(s, "250-" PROBE_HOST "\r\n250 ENHANCEDSTATUSCODES\r\n");
}

/* probe_smtp_mail - MAIL FROM: the verdict, once; false to end. */
static bool probe_smtp_mail(probe_session *s, const char *arg, probe_decide decide, void *darg)
{
    char reply[PROBE_REPLY_TEXT_MAX];
    char line[PROBE_REPLY_TEXT_MAX + 16];

    if (!s->greeted)
        return probe_smtp_reject(s, "503 5.5.1 send EHLO first\r\n");
    if (!probe_smtp_path(arg, s->cl->mail_from, sizeof(s->cl->mail_from)))
        return probe_smtp_reject(s, "501 5.5.4 syntax: MAIL FROM:<address>\r\n");
    reply[0] = '\0';
    decide(darg, s->cl, reply);
    reply[PROBE_REPLY_TEXT_MAX - 1] = '\0';
    if (strpbrk(reply, "\r\n") != NULL)
        DANCE_PANIC("reply text with a line end");
    snprintf(line, sizeof(line), "550 5.7.0 %s\r\n", reply);
    s->decided = true;
    probe_conn_shorten(s->c, PROBE_SMTP_AFTER_MS);
    return probe_smtp_reply(s, line);
}

/* probe_smtp_command - answer one command line; false when the session ends. */
static bool probe_smtp_command(probe_session *s, const char *line, probe_decide decide, void *darg)
{
    const char *arg;
    probe_cmd cmd = probe_smtp_verb(line, &arg);

    switch (cmd) {
    case PROBE_CMD_QUIT:
        (void) probe_smtp_reply(s, "221 2.0.0 " PROBE_HOST " closing\r\n");
        s->quit = true;
        if (!s->decided)
            snprintf(s->err, s->errsize, "the client said QUIT before MAIL FROM");
        return false;
    case PROBE_CMD_RSET:
    case PROBE_CMD_NOOP:
        return probe_smtp_reply(s, "250 2.0.0 Ok\r\n");
    default:
        break;
    }
    if (s->decided)
        return probe_smtp_reject(s, "503 5.5.1 dance probe: the check is over, say QUIT\r\n");
    switch (cmd) {
    case PROBE_CMD_EHLO:
    case PROBE_CMD_HELO:
        return probe_smtp_greet(s, cmd, arg);
    case PROBE_CMD_STARTTLS:
        if (*arg != '\0')
            return probe_smtp_reject(s, "501 5.5.4 STARTTLS takes no argument\r\n");
        if (s->cl->tls || !s->greeted || !s->cl->ehlo)
            return probe_smtp_reject(s, "503 5.5.1 STARTTLS not possible now\r\n");
        return probe_smtp_starttls(s);
    case PROBE_CMD_MAIL:
        return probe_smtp_mail(s, arg, decide, darg);
    case PROBE_CMD_RCPT:
    case PROBE_CMD_DATA:
        return probe_smtp_reject(s, "503 5.5.1 send MAIL FROM first\r\n");
    default:
        return probe_smtp_reject(s, "500 5.5.2 command not recognized\r\n");
    }
}

/* probe_smtp_run - the whole session on c. */
probe_smtp_status probe_smtp_run(probe_conn *c, SSL_CTX *ctx, probe_client *cl,
                                 probe_decide decide, void *arg, char *err, size_t errsize)
{
    probe_session s;
    char line[PROBE_LINE_MAX];
    probe_io_status st = PROBE_IO_OK;
    unsigned n;
    size_t len;

    memset(&s, 0, sizeof(s));
    s.c = c;
    s.ctx = ctx;
    s.cl = cl;
    s.err = err;
    s.errsize = errsize;
    err[0] = '\0';
    if (!probe_smtp_reply(&s, "220 " PROBE_HOST " ESMTP dance probe (never accepts mail)\r\n"))
        return PROBE_SMTP_GONE;
    for (n = 0; n < PROBE_SMTP_COMMANDS_MAX; n++) {
        if ((st = probe_conn_line(c, line, sizeof(line), &len)) != PROBE_IO_OK)
            break;
        if (memchr(line, '\0', len) != NULL) {
            if (!probe_smtp_reject(&s, "500 5.5.2 syntax error (NUL)\r\n"))
                break;
            continue;
        }
        if (!probe_smtp_command(&s, line, decide, arg))
            break;
    }
    if (s.decided)
        return PROBE_SMTP_DECIDED;
    if (n == PROBE_SMTP_COMMANDS_MAX) {
        (void) probe_smtp_reply(&s, "421 4.7.0 " PROBE_HOST " too many commands, closing\r\n");
        snprintf(err, errsize, "more than %d commands without MAIL FROM", PROBE_SMTP_COMMANDS_MAX);
        return PROBE_SMTP_PROTOCOL;
    }
    if (st != PROBE_IO_OK) {
        if (st == PROBE_IO_TOO_LONG)
            (void) probe_smtp_reply(&s, "500 5.5.2 line too long, closing\r\n");
        snprintf(err, errsize, "before MAIL FROM: %s", probe_io_str(st));
        return st == PROBE_IO_TIMEOUT ? PROBE_SMTP_TIMEOUT
               : st == PROBE_IO_EOF ? PROBE_SMTP_GONE : PROBE_SMTP_PROTOCOL;
    }
    if (s.quit)
        return PROBE_SMTP_GONE;
    return PROBE_SMTP_PROTOCOL;
}
