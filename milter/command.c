/*
 * command.c - what each milter command means to danced, and its reply.
 *
 * USAGE
 *	if (!command_dispatch(c, &packet)) close the connection;	(mconn.c)
 *
 * DESCRIPTION
 *	Negotiation asks for header changes and additions (and for macro
 *	lists per stage, when the MTA allows it: smfi_setsymlist's form),
 *	never for bits the MTA did not offer (Sendmail refuses that): no
 *	body, recipients, DATA, end of headers or unknown commands, and no
 *	reply to CONNECT, HELO or a header field - with all of them agreed
 *	MAIL and the end of message are the two round trips a message
 *	costs.  MAIL keeps its reply: without one Postfix holds the command
 *	back until it next waits for an answer (the end of message), and a
 *	message must start with the configuration of its MAIL FROM (and, in
 *	Sendmail mode, start its look-ups there).  The
 *	macros, per stage (Postfix keeps its milter_*_macros for the
 *	stages not named):
 *	    connect   v {client_name} {client_resolve}
 *	    HELO      {tls_version} {cert_fp} {cert_md5} {verify}
 *	    MAIL      i {tls_version} {cert_fp} {cert_md5} {verify}
 *	    EOH, EOM  i
 *	Macro values are kept per name ("x" and "{x}" alike), with the
 *	stage they came with; CONNECT, HELO, MAIL and RCPT forget the
 *	values of later stages, as libmilter does.  A value that does not
 *	fit is dropped whole, never cut, so a long name cannot turn into
 *	a shorter valid one.  The SMTP client's address and port come
 *	from the CONNECT command; port 0 is a message submitted on the
 *	host (Postfix's non_smtpd_milters), which has no client to trust.
 *
 *	Replies: every command gets exactly one unless its no-reply bit
 *	was agreed (then never: Postfix would read a stray reply as the
 *	answer to its next command); MACRO, ABORT and QUIT never do.
 *	While danced stops, CONNECT, HELO and MAIL are answered tempfail
 *	(the MTA retries later; nothing slips through unchecked; where the
 *	no-reply bit of CONNECT or HELO was agreed, MAIL does it).  At end
 *	of message the reply may wait for verdicts: nothing more is
 *	dispatched meanwhile (the MTA sends nothing until it has it).
 *
 * DIAGNOSTICS
 *	A command before the negotiation, a malformed payload or an
 *	unknown command is logged with the peer; command_dispatch()
 *	returns false and the connection closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "lib/panic.h"
#include "milter_private.h"

/* The macro lists asked for, per SMFIM_* stage. */
static const char *const command_lists[SMFIM_LAST + 1] = {
    [SMFIM_CONNECT] = "v {client_name} {client_resolve}",
    [SMFIM_HELO] = "{tls_version} {cert_fp} {cert_md5} {verify}",
    [SMFIM_ENVFROM] = "i {tls_version} {cert_fp} {cert_md5} {verify}",
    [SMFIM_EOH] = "i",
    [SMFIM_EOM] = "i",
};

/* The names of the kept macros, without braces, by milter_mac slot. */
static const char *const command_macro_names[MILTER_MACS] = {
    "v", "client_name", "client_resolve", "tls_version", "cert_fp", "cert_md5", "verify", "i",
};

/* ------------------------------------------------------------- macros */

/* milter_macro_value - a kept macro's value, NULL when the MTA has not passed it. */
const char *milter_macro_value(const mconn *c, milter_mac m)
{
    return c->mac[m].set ? c->mac[m].value : NULL;
}

/* command_stage_of - the SMFIM_* stage of the command code a macro packet names. */
static int command_stage_of(char cmd)
{
    switch (cmd) {
    case SMFIC_CONNECT:
        return SMFIM_CONNECT;
    case SMFIC_HELO:
        return SMFIM_HELO;
    case SMFIC_MAIL:
        return SMFIM_ENVFROM;
    case SMFIC_RCPT:
        return SMFIM_ENVRCPT;
    case SMFIC_DATA:
        return SMFIM_DATA;
    case SMFIC_EOH:
    case SMFIC_HEADER:
        return SMFIM_EOH;
    default:
        return SMFIM_EOM;       /* end of message, body chunks, unknown commands */
    }
}

/* command_forget_after - a command of stage: forget the macros of later stages. */
static void command_forget_after(mconn *c, int stage)
{
    for (int m = 0; m < MILTER_MACS; m++)
        if (c->mac[m].set && c->mac[m].stage > stage)
            c->mac[m].set = false;
}

/* command_macro - keep one name=value when danced reads that macro. */
static void command_macro(mconn *c, int stage, const char *name, const char *value)
{
    size_t len = strlen(name), vlen = strlen(value);

    if (len >= 2 && name[0] == '{' && name[len - 1] == '}') {
        name++;
        len -= 2;
    }
    for (int m = 0; m < MILTER_MACS; m++) {
        if (strlen(command_macro_names[m]) != len || memcmp(command_macro_names[m], name, len) != 0)
            continue;
        c->mac[m].set = true;
        c->mac[m].stage = stage;
        if (vlen >= sizeof(c->mac[m].value))
            vlen = 0;           /* dropped whole */
        memcpy(c->mac[m].value, value, vlen);
        c->mac[m].value[vlen] = '\0';
        return;
    }
}

/* command_macros - a MACRO packet: its command code, then name\0value\0 pairs. */
static bool command_macros(mconn *c, const mproto_packet *p)
{
    const char *v[MPROTO_STRINGS_MAX];
    size_t n;

    if (p->len < 1 || !mproto_parse_strings(p, 1, v, MPROTO_STRINGS_MAX, &n))
        return false;
    for (size_t i = 0; i + 1 < n; i += 2)
        command_macro(c, command_stage_of((char) p->data[0]), v[i], v[i + 1]);
    return true;
}

/* ----------------------------------------------------------- commands */

/* command_reply - the one reply a command gets, unless its no-reply bit was agreed. */
static void command_reply(mconn *c, char code, uint32_t noreply_bit)
{
    if (noreply_bit != 0 && (c->pflags & noreply_bit))
        return;
    mproto_put(&c->out, code, NULL, 0);
}

/* command_negotiate - the MTA's options: ask for what danced needs of what it offers. */
static bool command_negotiate(mconn *c, const mproto_packet *p)
{
    const uint32_t need = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    /* no stage danced does not read; no reply where danced has nothing to say */
    const uint32_t want = SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NORCPT | SMFIP_NODATA | SMFIP_NOEOH
                          | SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_HDR;
    mproto_optneg mta, reply;
    bool lists;

    if (!mproto_parse_optneg(p, &mta) || mta.version < 2) {
        dlog_msg(danced_log(c->mf->d), LOG_WARNING, "milter %s: bad option negotiation; closing", c->peer);
        return false;
    }
    if ((mta.actions & need) != need) {
        dlog_msg(danced_log(c->mf->d), LOG_ERR, "milter %s: the MTA does not let milters add and delete header "
                 "fields (offered actions 0x%lx): danced cannot work with it", c->peer,
                 (unsigned long) mta.actions);
        return false;
    }
    lists = mta.version >= 6 && (mta.actions & SMFIF_SETSYMLIST) != 0;
    reply.version = mta.version < SMFI_PROT_VERSION ? mta.version : SMFI_PROT_VERSION;
    reply.actions = need | (lists ? SMFIF_SETSYMLIST : 0);
    reply.protocol = mta.protocol & want;
    c->pflags = reply.protocol;
    c->negotiated = true;
    mproto_put_optneg(&c->out, &reply, command_lists, lists ? SMFIM_LAST + 1 : 0);
    return true;
}

/* command_copy - copy src whole into dst[size]; false (dst "") when it does not fit. */
static bool command_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

/* command_connect - the SMTP client's address, port and (verified) host name. */
static bool command_connect(mconn *c, const mproto_packet *p)
{
    mproto_connect in;
    const char *resolve = milter_macro_value(c, MILTER_MAC_CLIENT_RESOLVE);
    const char *name = milter_macro_value(c, MILTER_MAC_CLIENT_NAME);

    if (!mproto_parse_connect(p, &in))
        return false;
    command_forget_after(c, SMFIM_CONNECT);
    milter_msg_end(c);
    c->addr[0] = c->port[0] = c->ptr[0] = c->helo[0] = '\0';
    c->helo_bad = c->tls = false;
    memset(&c->client, 0, sizeof(c->client));
    if ((in.family == SMFIA_INET || in.family == SMFIA_INET6) && netaddr_parse(in.address, &c->client)) {
        netaddr_format(&c->client, c->addr);
        snprintf(c->port, sizeof(c->port), "%u", in.port);
        if (in.port == 0)       /* submitted on the host: no SMTP client */
            memset(&c->client, 0, sizeof(c->client));
    }
    if (resolve != NULL && strcmp(resolve, "OK") == 0 && name != NULL && name[0] != '[')
        (void) command_copy(c->ptr, sizeof(c->ptr), name);
    command_reply(c, danced_draining(c->mf->d) ? SMFIR_TEMPFAIL : SMFIR_CONTINUE, SMFIP_NR_CONN);
    return true;
}

/* command_tls - note TLS when the MTA passed {tls_version}. */
static void command_tls(mconn *c)
{
    const char *v = milter_macro_value(c, MILTER_MAC_TLS_VERSION);

    if (v != NULL && v[0] != '\0')
        c->tls = true;
}

/* command_helo - the EHLO argument. */
static bool command_helo(mconn *c, const mproto_packet *p)
{
    const char *v[1];
    size_t n;

    if (!mproto_parse_strings(p, 0, v, 1, &n) || n != 1)
        return false;
    command_forget_after(c, SMFIM_HELO);
    c->helo_bad = !command_copy(c->helo, sizeof(c->helo), v[0]);
    command_tls(c);
    command_reply(c, danced_draining(c->mf->d) ? SMFIR_TEMPFAIL : SMFIR_CONTINUE, SMFIP_NR_HELO);
    return true;
}

/* command_mail - MAIL FROM: a message begins (tempfail while danced stops). */
static bool command_mail(mconn *c, const mproto_packet *p)
{
    const char *v[MPROTO_STRINGS_MAX];
    size_t n;

    if (!mproto_parse_strings(p, 0, v, MPROTO_STRINGS_MAX, &n))
        return false;
    command_forget_after(c, SMFIM_ENVFROM);
    command_tls(c);
    milter_msg_end(c);          /* an earlier message without end or abort */
    if (danced_draining(c->mf->d)) {
        command_reply(c, SMFIR_TEMPFAIL, SMFIP_NR_MAIL);
        return true;
    }
    milter_msg_begin(c, n > 0 ? v[0] : "");
    command_reply(c, SMFIR_CONTINUE, SMFIP_NR_MAIL);
    return true;
}

/* command_header - one header field: name\0value\0. */
static bool command_header(mconn *c, const mproto_packet *p)
{
    const char *v[2];
    size_t n;

    if (!mproto_parse_strings(p, 0, v, 2, &n) || n != 2)
        return false;
    if (c->msg != NULL)
        milter_msg_header(c, v[0], v[1]);
    command_reply(c, SMFIR_CONTINUE, SMFIP_NR_HDR);
    return true;
}

/* command_command - one packet; false when the connection must close. */
bool command_dispatch(mconn *c, const mproto_packet *p)
{
    if (!c->negotiated && p->cmd != SMFIC_OPTNEG) {
        dlog_msg(danced_log(c->mf->d), LOG_WARNING, "milter %s: command '%c' before the option negotiation; "
                 "closing", c->peer, p->cmd >= ' ' && p->cmd < 127 ? p->cmd : '?');
        return false;
    }
    switch (p->cmd) {
    case SMFIC_OPTNEG:
        return command_negotiate(c, p);
    case SMFIC_MACRO:
        return command_macros(c, p);
    case SMFIC_CONNECT:
        return command_connect(c, p);
    case SMFIC_HELO:
        return command_helo(c, p);
    case SMFIC_MAIL:
        return command_mail(c, p);
    case SMFIC_RCPT:
        command_forget_after(c, SMFIM_ENVRCPT);
        command_reply(c, SMFIR_CONTINUE, SMFIP_NR_RCPT);
        return true;
    case SMFIC_DATA:
        command_reply(c, SMFIR_CONTINUE, SMFIP_NR_DATA);
        return true;
    case SMFIC_HEADER:
        return command_header(c, p);
    case SMFIC_EOH:
        command_reply(c, SMFIR_CONTINUE, SMFIP_NR_EOH);
        return true;
    case SMFIC_BODY:
        command_reply(c, SMFIR_CONTINUE, SMFIP_NR_BODY);
        return true;
    case SMFIC_UNKNOWN:
        command_reply(c, SMFIR_CONTINUE, SMFIP_NR_UNKN);
        return true;
    case SMFIC_BODYEOB:
        if (c->msg == NULL)
            command_reply(c, SMFIR_CONTINUE, 0);
        else
            (void) milter_msg_eom(c);   /* when not answered yet: c->wake */
        return true;
    case SMFIC_ABORT:
        milter_msg_abort(c);
        return true;
    case SMFIC_QUIT_NC:         /* another SMTP session follows on this connection, negotiated */
        milter_msg_end(c);
        memset(c->mac, 0, sizeof(c->mac));
        return true;
    case SMFIC_QUIT:
        return false;
    default:
        dlog_msg(danced_log(c->mf->d), LOG_WARNING, "milter %s: unknown command 0x%02x; closing", c->peer,
                 (unsigned) (unsigned char) p->cmd);
        return false;
    }
}
