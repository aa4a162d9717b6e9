/*
 * fuzz_message.c - libFuzzer target: one milter connection's messages,
 * through danced's own command dispatch (milter/command.c, message.c,
 * hygiene.c) on a real daemon context: configuration snapshot, event loop,
 * resolver (forwarding to a closed loopback port), and in Postfix mode the
 * store of the policy face's DATA verdicts.
 *
 * The input is a list of steps, each a step byte and its strings (a length
 * byte, or two for a header value, then the bytes): macros of any stage
 * ({cert_fp}, {cert_md5}, {auth_type}, i, {daemon_name}, v, {verify},
 * {tls_version}, {client_name}, {client_resolve}, and any name), CONNECT,
 * HELO, MAIL, header fields in any order and size (Authentication-Results
 * claiming our authserv-id, a name under it, a trusted or listed one,
 * look-alikes, anything), end of message, abort.  The first byte picks the
 * mode: Postfix (a DATA record present, pending or missing) or not.  A
 * message whose verdicts would need DNS is aborted, as an MTA does when
 * its milter is too slow (the fuzzer never waits).
 *
 * Checked at every answered end of message: the answer is exactly the
 * deletions, one insertion of our field at index 0 and CONTINUE (or a
 * 550 reply when too many fields claim our id); deletions name one of the
 * judged fields, each index at most once, from the highest down, never
 * beyond the fields seen; every field that plainly claims our authserv-id
 * ("mx.fuzz.test;" any case, white space around) is among them; our field
 * starts with our authserv-id and is bounded (AUTHRES_FIELD_MAX).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "lib/authres.h"
#include "lib/clock.h"
#include "danced/danced_private.h"
#include "milter/milter_private.h"

#define SERVID "mx.fuzz.test"
#define FUZZ_FIELDS 4096              /* judged fields remembered per message */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static danced fuzz_d;
static milter_face fuzz_mf;

/* The input, read step by step. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n, off;
} fuzz_in;

/* One judged field of the current message: its name, whether it plainly claims our id. */
typedef struct fuzz_field {
    int name;
    bool ours;
} fuzz_field;

static const char *const macro_names[] = {
    "{cert_fp}", "{cert_md5}", "{auth_type}", "i", "{daemon_name}", "v", "{verify}", "{tls_version}",
    "{client_name}", "{client_resolve}", "j", "{auth_authen}", "_", "{cert_subject}"
};
static const char *const header_names[] = {
    "Authentication-Results", "X-Authentication-Results", "authentication-results \t", "Received",
    "Subject", "X-AUTHENTICATION-RESULTS", "Authentication-Results-X"
};
static const char *const value_starts[] = {
    "", SERVID ";", " MX.Fuzz.Test. ; dane=pass smtp.helo=a.test", "sub." SERVID "; dane=pass",
    "trusted.fuzz.test; spf=pass", "other.example; dkim=pass", "\"" SERVID "\"; x", "evil.fuzz.test; x",
    "\t" SERVID "\n\t;dane=fail", "(c) " SERVID "; x", SERVID " 1; dane=pass"
};
static const char *const fp_values[] = {
    "A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:01:12:23:34:45:56:67:78:89:9A:AB:BC:CD:DE:EF:F0",
    "A1:B2", "", "TLSv1.3", "OK", "NO", "NOT", "4AB2C1", "Postfix 3.7.11", "[192.0.2.1]", "mail.fuzz.test"
};

/* fuzz_conf - a snapshot from a small configuration, as danced loads one. */
static snapshot *fuzz_conf(const char *text)
{
    char path[] = "/tmp/fuzz_message.XXXXXX", err[512];
    snapshot *s;
    int fd = mkstemp(path);

    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
        abort();
    close(fd);
    if (snapshot_load(path, NULL, &s, err, sizeof(err)) != SNAPSHOT_OK) {
        fprintf(stderr, "fuzz_message: %s\n", err);
        abort();
    }
    unlink(path);
    return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];

    (void) argc;
    (void) argv;
    fuzz_d.snap = fuzz_conf("authserv_id = " SERVID "\nidentities = helo, mailfrom, ptr\n"
                            "trusted_authserv_ids = trusted.fuzz.test@127.0.0.0/8\n"
                            "remove_authserv_ids = .fuzz.test\nforwarders = 127.0.0.1@9\n"
                            "dns_timeout = 1s\n");
    dlog_init(&fuzz_d.log, false, fuzz_d.snap->cfg.log_facility, fuzz_d.snap->cfg.log_format);
    if ((fuzz_d.base = event_base_new()) == NULL
        || (fuzz_d.dns = dnsloop_new(fuzz_d.base, &fuzz_d.log, &fuzz_d.snap->rc, err, sizeof(err))) == NULL) {
        fprintf(stderr, "fuzz_message: %s\n", err);
        abort();
    }
    fuzz_mf.d = &fuzz_d;
    return 0;
}

/* fuzz_byte - the next byte, 0 past the end. */
static unsigned fuzz_byte(fuzz_in *in)
{
    return in->off < in->n ? in->p[in->off++] : 0;
}

/* fuzz_str - the next string (length from one byte, or two when wide) into buf, cut at a NUL. */
static const char *fuzz_str(fuzz_in *in, bool wide, char *buf, size_t size)
{
    size_t len = fuzz_byte(in);

    if (wide)
        len |= (size_t) fuzz_byte(in) << 8;
    if (len > in->n - in->off)
        len = in->n - in->off;
    if (len >= size)
        len = size - 1;
    memcpy(buf, in->p + in->off, len);
    buf[len] = '\0';
    in->off += len;
    return buf;
}

/* fuzz_send - build one packet with mproto and dispatch it as the connection would; false: it closes. */
static bool fuzz_send(mconn *c, char cmd, const char *const *s, size_t ns, const void *raw, size_t rawlen)
{
    mproto_out o = { NULL, 0, 0 };
    mproto_packet p;
    unsigned char *buf;
    size_t len = rawlen;
    bool ok;

    for (size_t i = 0; i < ns; i++)
        len += strlen(s[i]) + 1;
    if ((buf = malloc(len + 1)) == NULL)
        abort();
    if (rawlen > 0)
        memcpy(buf, raw, rawlen);
    len = rawlen;
    for (size_t i = 0; i < ns; i++) {
        size_t l = strlen(s[i]) + 1;

        memcpy(buf + len, s[i], l);
        len += l;
    }
    mproto_put(&o, cmd, buf, len);
    free(buf);
    if (mproto_next(o.buf, o.len, &p) != MPROTO_OK)
        abort();                /* what mproto_put writes, mproto_next reads back */
    ok = command_dispatch(c, &p);
    mproto_out_free(&o);
    return ok;
}

/* fuzz_claims_ours - the value plainly names our authserv-id: "mx.fuzz.test" (any case, a dot) then ';'. */
static bool fuzz_claims_ours(const char *v)
{
    size_t n = strlen(SERVID);

    v += strspn(v, " \t\r\n");
    if (strncasecmp(v, SERVID, n) != 0)
        return false;
    v += n;
    if (*v == '.')
        v++;
    v += strspn(v, " \t\r\n");
    return *v == ';';
}

/* fuzz_judged - which judged name (0, 1), or -1: any case, trailing blanks ignored. */
static int fuzz_judged(const char *name)
{
    size_t len = strlen(name);

    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    if (len == strlen(HYGIENE_FIELD) && strncasecmp(name, HYGIENE_FIELD, len) == 0)
        return 0;
    if (len == strlen(HYGIENE_FIELD_X) && strncasecmp(name, HYGIENE_FIELD_X, len) == 0)
        return 1;
    return -1;
}

/* fuzz_check_answer - the answer to an end of message, c->out from off, against the fields sent. */
static void fuzz_check_answer(const mconn *c, size_t off, const fuzz_field *f, size_t nf, bool capped)
{
    size_t seen[2] = { 0, 0 }, last[2] = { SIZE_MAX, SIZE_MAX }, inserted = 0, k[2] = { 0, 0 };
    bool removed[FUZZ_FIELDS] = { false }, ended = false;
    mproto_packet p;

    for (size_t i = 0; i < nf; i++)
        seen[f[i].name]++;
    while (off < c->out.len) {
        if (mproto_next(c->out.buf + off, c->out.len - off, &p) != MPROTO_OK || ended)
            abort();            /* whole packets, nothing after the final reply */
        off += p.size;
        if (p.cmd == SMFIR_CHGHEADER || p.cmd == SMFIR_INSHEADER) {
            const char *v[2];
            size_t n, idx;
            int name;

            if (p.len < 4 || !mproto_parse_strings(&p, 4, v, 2, &n) || n != 2)
                abort();
            idx = (size_t) p.data[0] << 24 | (size_t) p.data[1] << 16 | (size_t) p.data[2] << 8 | p.data[3];
            if (p.cmd == SMFIR_INSHEADER) {
                if (inserted++ || idx != 0 || strcmp(v[0], HYGIENE_FIELD) != 0 || strlen(v[1]) >= AUTHRES_FIELD_MAX
                    || strncmp(v[1], SERVID, strlen(SERVID)) != 0)
                    abort();    /* one field of ours, on top, bounded */
                continue;
            }
            name = strcmp(v[0], HYGIENE_FIELD) == 0 ? 0 : strcmp(v[0], HYGIENE_FIELD_X) == 0 ? 1 : -1;
            if (name < 0 || v[1][0] != '\0' || inserted || idx == 0 || idx > seen[name] || idx >= last[name])
                abort();        /* a judged name, from the highest index down, before ours goes in */
            last[name] = idx;
            for (size_t i = 0; i < nf; i++)
                if (f[i].name == name && ++k[name] == idx)
                    removed[i] = true;
            k[0] = k[1] = 0;
        } else if (p.cmd == SMFIR_CONTINUE) {
            if (inserted != 1)
                abort();
            ended = true;
        } else if (p.cmd == SMFIR_REPLYCODE) {
            if (p.len < 4 || memcmp(p.data, "550 ", 4) != 0 || inserted)
                abort();        /* only for too many forged fields */
            return;
        } else {
            abort();
        }
    }
    if (!ended)
        abort();
    for (size_t i = 0; i < nf && !capped; i++)
        if (f[i].ours && !removed[i])
            abort();            /* a field claiming our authserv-id survived */
}

/* fuzz_record - Postfix mode: the policy face's DATA record for the message, put or left pending. */
static void fuzz_record(mconn *c, fuzz_in *in)
{
    const char *qid = milter_macro_value(c, MILTER_MAC_QUEUE_ID);
    results_item res[RESULTS_KINDS];
    join_key key;
    uint64_t ticket;
    unsigned b = fuzz_byte(in);

    if (fuzz_d.join == NULL || join_make_key(qid != NULL ? qid : "", c->addr, c->port, &key) != JOIN_KEY_OK
        || join_begin(fuzz_d.join, &key, clock_now_ms(), &ticket) != JOIN_BEGUN)
        return;
    if (b & 1)
        return;                 /* pending: end of message waits */
    memset(res, 0, sizeof(res));
    for (int k = 0; k < RESULTS_KINDS; k++) {
        res[k].present = (b >> (k + 1)) & 1;
        res[k].result = (verdict_result) ((b >> 4) % (VERDICT_PASS + 1));
        snprintf(res[k].name, sizeof(res[k].name), "%s", k == RESULTS_MAILFROM ? "fuzz.test" : "mx.fuzz.test");
        snprintf(res[k].reason, sizeof(res[k].reason), "fuzz (%u)", b);
    }
    (void) join_put(fuzz_d.join, &key, ticket, res);
}

/* fuzz_mconn_wake - never runs: the fuzzer aborts a message that would wait. */
static void fuzz_mconn_wake(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    (void) arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fuzz_field fields[FUZZ_FIELDS];
    fuzz_in in = { data, size, 0 };
    mconn *c = calloc(1, sizeof(*c));
    size_t nf = 0;
    bool open = true, capped = false;
    unsigned mode = fuzz_byte(&in);
    char a[512], b[512], *big = malloc(65536 + strlen(SERVID) + 64);

    if (c == NULL || big == NULL)
        abort();
    fuzz_d.join = mode & 1 ? join_new(16, 60000) : NULL;
    c->mf = &fuzz_mf;
    c->fd = -1;
    snprintf(c->peer, sizeof(c->peer), "fuzz");
    c->negotiated = true;
    c->pflags = mode & 2 ? SMFIP_NR_HDR | SMFIP_NR_CONN | SMFIP_NR_HELO : 0;
    if ((c->wake = event_new(fuzz_d.base, -1, 0, fuzz_mconn_wake, c)) == NULL)
        abort();
    while (open && in.off < in.n) {
        unsigned step = fuzz_byte(&in), pick = fuzz_byte(&in);
        const char *s[4];
        char raw[16];

        switch (step % 8) {
        case 0:                 /* a macro of some stage: name and value, known or any */
            raw[0] = "CHMRTDELN"[pick % 9];
            s[0] = pick & 0x80 ? fuzz_str(&in, false, a, sizeof(a)) : macro_names[(pick >> 3) % 14];
            s[1] = pick & 0x40 ? fuzz_str(&in, false, b, sizeof(b)) : fp_values[(pick >> 3) % 11];
            open = fuzz_send(c, SMFIC_MACRO, s, 2, raw, 1);
            break;
        case 1: {               /* CONNECT: host name, family, port, address */
            uint16_t port = (uint16_t) (pick & 0x80 ? 0 : 25000 + pick);
            size_t hl;

            s[0] = pick & 1 ? "127.0.0.1" : pick & 2 ? "2001:db8::25" : fuzz_str(&in, false, a, 64);
            snprintf(b, sizeof(b), "%s", "client.fuzz.test");
            hl = strlen(b) + 1;
            memcpy(big, b, hl);
            big[hl] = pick & 4 ? SMFIA_INET6 : pick & 8 ? SMFIA_UNKNOWN : SMFIA_INET;
            big[hl + 1] = (char) (port >> 8);
            big[hl + 2] = (char) (port & 0xff);
            open = fuzz_send(c, SMFIC_CONNECT, s, big[hl] == SMFIA_UNKNOWN ? 0 : 1, big, hl + 3);
            break;
        }
        case 2:                 /* HELO */
            s[0] = fuzz_str(&in, false, a, sizeof(a));
            open = fuzz_send(c, SMFIC_HELO, s, 1, NULL, 0);
            break;
        case 3:                 /* MAIL FROM: a new message */
            s[0] = fuzz_str(&in, false, a, sizeof(a));
            s[1] = "SIZE=100";
            open = fuzz_send(c, SMFIC_MAIL, s, pick & 1 ? 2 : 1, NULL, 0);
            nf = 0;
            capped = false;
            break;
        case 4:                 /* a header field: a known start, then any bytes, of any size */
        case 5: {
            int judged;

            s[0] = pick & 0x80 ? fuzz_str(&in, false, a, sizeof(a)) : header_names[pick % 7];
            snprintf(big, 64, "%s", value_starts[(pick >> 3) % 11]);
            fuzz_str(&in, step & 8, big + strlen(big), 65536);
            s[1] = big;
            judged = fuzz_judged(s[0]);
            open = fuzz_send(c, SMFIC_HEADER, s, 2, NULL, 0);
            if (open && c->msg != NULL && judged >= 0) {
                if (nf < FUZZ_FIELDS)
                    fields[nf++] = (fuzz_field) { judged, fuzz_claims_ours(s[1]) };
                else
                    capped = true;
            }
            break;
        }
        case 6: {               /* end of message */
            size_t off = c->out.len;

            if (c->msg == NULL) {
                open = fuzz_send(c, SMFIC_BODYEOB, s, 0, NULL, 0);
                break;
            }
            fuzz_record(c, &in);
            open = fuzz_send(c, SMFIC_BODYEOB, s, 0, NULL, 0);
            if (c->msg != NULL) {
                if (c->out.len != off)
                    abort();    /* waiting: nothing written yet */
                milter_msg_abort(c);      /* the MTA gives up on a slow milter */
            } else {
                fuzz_check_answer(c, off, fields, nf, capped);
            }
            nf = 0;
            break;
        }
        default:                /* abort, or QUIT_NC: the next SMTP client on this connection */
            open = fuzz_send(c, pick & 1 ? SMFIC_ABORT : SMFIC_QUIT_NC, s, 0, NULL, 0);
            break;
        }
        if (c->out.len > 1024 * 1024)
            c->out.len = 0;     /* the connection would have written it */
    }
    milter_msg_end(c);
    (void) event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
    event_free(c->wake);
    mproto_out_free(&c->out);
    free(c);
    free(big);
    if (fuzz_d.join != NULL)
        join_free(fuzz_d.join);
    fuzz_d.join = NULL;
    return 0;
}
