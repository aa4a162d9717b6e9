/*
 * dlog.c - danced's log: syslog, or stderr in the foreground; text or JSON.
 *
 * USAGE
 *	dlog log;
 *	dlog_init(&log, foreground, LOG_MAIL, CONFIG_LOG_TEXT);
 *	dlog_msg(&log, LOG_WARNING, "%s: request too big", peer);
 *	dlog_verdict(&log, &info);
 *	dlog_vparts_of(&log, v, &buf, &parts);	(once per verdict)
 *	dlog_verdict_join(&log, batch, &parts, identity, client, instance, claimed);
 *
 * DESCRIPTION
 *	In the foreground a line goes to stderr as "danced: LEVEL: text";
 *	otherwise to syslog with ident "danced", LOG_PID, the configured
 *	facility.  A verdict line in text form is
 *	    verdict result=pass dnssec=secure identity=helo client=192.0.2.1
 *	        spki_sha256=... instance=... name=mta1.example
 *	        owner=_smtp-client.mta1.example matched="3 1 1 ..."
 *	        reason="..." claimed="mta1.example"
 *	(a verdict decided from a stale answer has stale=yes after dnssec,
 *	"stale":true in JSON; others have no such field)
 *	(the values of fixed form first; those a client or a zone chose -
 *	the reason, the claimed name as sent - last, so that a naive
 *	"result=pass" match meets the real result first)
 *	(one line; quoted values escape '"' and '\', bytes outside printable
 *	ASCII become '?').  In JSON form it is one object with the same keys
 *	plus "event":"verdict"; bytes outside printable ASCII are written as
 *	\u00XX, so the line is always valid JSON whatever the client sent.
 *	Lines are cut at DLOG_LINE_MAX bytes (a JSON line is then dropped to
 *	a short error object rather than written invalid).
 *
 *	Threads: one, the event loop's (both faces run on it).  Each line
 *	is formatted in the caller's stack and written with one write(2)
 *	or syslog() call, so lines never mix.
 *
 *	Parts: a verdict's own fields (result, dnssec, spki_sha256, name,
 *	owner, matched, reason) are formatted once, by dlog_vparts_of(),
 *	into three runs of text; dlog_verdict_join() writes the line from
 *	them and one request's fields (identity, client, instance, claimed)
 *	in the order above.  The verdict cache keeps the parts, so a
 *	verdict reused by many SMTP sessions is formatted once.
 *
 *	Batches: on stderr, verdict lines are collected in a dlog_batch
 *	and written together with one write(2) - the caller's, or the one
 *	dlog_hold() gave the log: the daemon flushes that one when its
 *	event loop turn ends, so the verdict lines of every request
 *	answered in that turn cost one write, after the replies went out
 *	(Postfix does not wait for the log).  Any other line flushes the
 *	held ones first.  Syslog gets each line at once (one datagram a
 *	line anyway).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/panic.h"
#include "dlog.h"

/* dlog_put - append n bytes; what does not fit is cut off and the buffer marked full. */
static void dlog_put(dlog_buf *b, const char *s, size_t n)
{
    if (b->full)
        return;
    if (n >= sizeof(b->s) - b->len) {
        n = sizeof(b->s) - b->len - 1;
        b->full = true;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void dlog_puts(dlog_buf *b, const char *s)
{
    dlog_put(b, s, strlen(s));
}

/* dlog_plain - bytes a text value may hold without quotes: printable ASCII but space, '"', '\\', '='. */
static bool dlog_plain(unsigned char c)
{
    return c > 0x20 && c <= 0x7e && c != '"' && c != '\\' && c != '=';
}

/* dlog_put_text - key=value, quoted when quote is set or the value needs it. */
static void dlog_put_text(dlog_buf *b, const char *key, const char *value, bool quote)
{
    const char *v = value != NULL ? value : "";
    size_t plain = 0;

    while (dlog_plain((unsigned char) v[plain]))
        plain++;
    if (plain == 0 || (v[plain] != '\0' && strpbrk(v + plain, " \"\\=") != NULL))
        quote = true;
    dlog_put(b, " ", 1);
    dlog_puts(b, key);
    dlog_put(b, "=\"", quote ? 2 : 1);
    dlog_put(b, v, plain);
    v += plain;
    while (*v != '\0') {
        size_t run = 0;
        unsigned char c;

        /* a run of bytes that need nothing, copied at once */
        while ((c = (unsigned char) v[run]) >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
            run++;
        dlog_put(b, v, run);
        v += run;
        if ((c = (unsigned char) *v) == '\0')
            break;
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char) c };
            dlog_put(b, esc, 2);
        } else {
            dlog_put(b, "?", 1);
        }
        v++;
    }
    if (quote)
        dlog_put(b, "\"", 1);
}

/* dlog_put_json - ,"key":"value" with JSON escapes. */
static void dlog_put_json(dlog_buf *b, const char *key, const char *value)
{
    const char *v = value != NULL ? value : "";
    char esc[8];

    dlog_puts(b, ",\"");
    dlog_puts(b, key);
    dlog_puts(b, "\":\"");
    for (; *v != '\0'; v++) {
        unsigned char c = (unsigned char) *v;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char) c;
            dlog_put(b, esc, 2);
        } else if (c < 0x20 || c > 0x7e) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            dlog_put(b, esc, 6);
        } else {
            dlog_put(b, (const char *) v, 1);
        }
    }
    dlog_puts(b, "\"");
}

static const char *dlog_level(int prio)
{
    switch (prio) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
        return "fatal";
    case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warning";
    case LOG_DEBUG:
        return "debug";
    default:
        return "info";
    }
}

/* dlog_printable - copy src with every byte outside 0x20-0x7e as '?', cut to fit. */
static void dlog_printable(char *dst, size_t size, const char *src)
{
    size_t i;

    if (size == 0)
        return;
    for (i = 0; src != NULL && src[i] != '\0' && i + 1 < size; i++) {
        unsigned char c = (unsigned char) src[i];

        dst[i] = (c < 0x20 || c > 0x7e) ? '?' : (char) c;
    }
    dst[i] = '\0';
}

/* dlog_stderr_line - "danced: LEVEL: line\n" into out (cut to fit); returns its length. */
static size_t dlog_stderr_line(char *out, size_t size, int prio, const char *line)
{
    const char *level = dlog_level(prio);
    size_t ll = strlen(level), n = strlen(line);

    if (size < sizeof("danced: : \n") + ll)
        DANCE_PANIC("the callers' buffers are large");
    memcpy(out, "danced: ", 8);
    memcpy(out + 8, level, ll);
    memcpy(out + 8 + ll, ": ", 2);
    if (n > size - (8 + ll + 2) - 1)
        n = size - (8 + ll + 2) - 1;
    memcpy(out + 8 + ll + 2, line, n);
    out[8 + ll + 2 + n] = '\n';
    return 8 + ll + 2 + n + 1;
}

/* dlog_stderr - write bytes to stderr with one write(2) when it takes them (a failure is ignored: nowhere to say it). */
static void dlog_stderr(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t) n;
    }
}

/* dlog_write - send one finished line to its destination. */
static void dlog_write(const dlog *log, int prio, const char *line)
{
    char out[DLOG_LINE_MAX + 32];

    if (log->to_stderr || !log->opened) {
        dlog_flush(log);                /* held verdict lines first: the order is kept */
        dlog_stderr(out, dlog_stderr_line(out, sizeof(out), prio, line));
    } else
        syslog(prio, "%s", line);
}

/* dlog_init - log to stderr (foreground) or to syslog with facility. */
void dlog_init(dlog *log, bool to_stderr, int facility, config_log_format format)
{
    log->to_stderr = to_stderr;
    log->facility = facility;
    log->format = format;
    log->opened = false;
    log->pending = NULL;
    log->wake = NULL;
    log->wake_arg = NULL;
    if (!to_stderr) {
        openlog("danced", LOG_PID | LOG_NDELAY, facility);
        log->opened = true;
    }
}

/* dlog_hold - hold batchless verdict lines in batch; wake(arg) at its first line. */
void dlog_hold(dlog *log, dlog_batch *batch, void (*wake)(void *arg), void *arg)
{
    log->pending = batch;
    log->wake = wake;
    log->wake_arg = arg;
    if (batch != NULL)
        batch->len = 0;
}

/* dlog_flush - write the held verdict lines now. */
void dlog_flush(const dlog *log)
{
    if (log->pending != NULL && log->pending->len > 0)
        dlog_batch_flush(log->pending);
}

/* dlog_reconfigure - apply a reloaded facility and format (reopens syslog when needed). */
void dlog_reconfigure(dlog *log, int facility, config_log_format format)
{
    __atomic_store_n(&log->format, format, __ATOMIC_RELAXED);
    if (facility != log->facility && log->opened) {
        closelog();
        openlog("danced", LOG_PID | LOG_NDELAY, facility);
    }
    log->facility = facility;
}

/* dlog_msg - write one operational line at priority prio. */
void dlog_msg(const dlog *log, int prio, const char *fmt, ...)
{
    char line[DLOG_LINE_MAX], clean[DLOG_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    dlog_printable(clean, sizeof(clean), line);
    dlog_write(log, prio, clean);
}

/* dlog_batch_flush - write what the batch holds (one write(2)) and empty it. */
void dlog_batch_flush(dlog_batch *batch)
{
    dlog_stderr(batch->s, batch->len);
    batch->len = 0;
}

/* dlog_buf_init - an empty line. */
static void dlog_buf_init(dlog_buf *b)
{
    b->len = 0;
    b->full = false;
    b->s[0] = '\0';
}

/* dlog_put_field - one field in the line's format; quote applies to text only. */
static void dlog_put_field(dlog_buf *b, config_log_format format, const char *key, const char *value,
                           bool quote)
{
    if (format == CONFIG_LOG_JSON)
        dlog_put_json(b, key, value);
    else
        dlog_put_text(b, key, value, quote);
}

/*
 * dlog_vparts_make - the verdict's own fields, in three runs between
 * which dlog_verdict_join() puts the request's: result and dnssec |
 * (identity, client) | spki_sha256 | (instance) | name, owner, matched,
 * reason | (claimed).  The text of the parts goes into buf.
 */
static void dlog_vparts_make(const dlog *log, const dlog_verdict_info *in, dlog_buf *buf, dlog_vparts *p)
{
    config_log_format format = __atomic_load_n(&log->format, __ATOMIC_RELAXED);

    dlog_buf_init(buf);
    p->format = format;
    p->result = in->result != NULL ? in->result : "";
    dlog_put_field(buf, format, "result", in->result, false);
    dlog_put_field(buf, format, "dnssec", in->dnssec, false);
    if (in->stale)
        dlog_puts(buf, format == CONFIG_LOG_JSON ? ",\"stale\":true" : " stale=yes");
    p->cut[0] = (unsigned short) buf->len;
    dlog_put_field(buf, format, "spki_sha256", in->spki_sha256, false);
    p->cut[1] = (unsigned short) buf->len;
    dlog_put_field(buf, format, "name", in->name, false);
    dlog_put_field(buf, format, "owner", in->owner, false);
    dlog_put_field(buf, format, "matched", in->matched, true);
    dlog_put_field(buf, format, "reason", in->reason, true);
    p->len = (unsigned short) buf->len;
    p->s = buf->s;
}

/* dlog_verdict_join - write a verdict line: the verdict's parts p and the request's own fields. */
void dlog_verdict_join(const dlog *log, dlog_batch *batch, const dlog_vparts *p, const char *identity,
                       const char *client, const char *instance, const char *claimed)
{
    dlog_buf b;

    _Static_assert(DLOG_LINE_MAX <= 65535, "dlog_vparts holds offsets in 16 bits");
    if (p->cut[0] > p->cut[1] || p->cut[1] > p->len || p->len >= DLOG_LINE_MAX)
        DANCE_PANIC("verdict parts out of order");
    dlog_buf_init(&b);
    dlog_puts(&b, p->format == CONFIG_LOG_JSON ? "{\"event\":\"verdict\"" : "verdict");
    /* fixed-form values first, text a client or a zone chose last: a
       naive reader matching "result=pass" meets the real one first */
    dlog_put(&b, p->s, p->cut[0]);
    dlog_put_field(&b, p->format, "identity", identity, false);
    dlog_put_field(&b, p->format, "client", client, false);
    dlog_put(&b, p->s + p->cut[0], p->cut[1] - p->cut[0]);
    dlog_put_field(&b, p->format, "instance", instance, false);
    dlog_put(&b, p->s + p->cut[1], p->len - p->cut[1]);
    dlog_put_field(&b, p->format, "claimed", claimed, true);
    if (p->format == CONFIG_LOG_JSON) {
        dlog_puts(&b, "}");
        if (b.full)
            snprintf(b.s, sizeof(b.s), "{\"event\":\"verdict\",\"error\":\"line too long\","
                     "\"result\":\"%s\"}", p->result);
    }
    /* a cut text line is still one readable line */
    if (batch == NULL && log->pending != NULL && (log->to_stderr || !log->opened)) {
        batch = log->pending;
        if (batch->len == 0 && log->wake != NULL)
            log->wake(log->wake_arg);
    }
    if (batch == NULL || !(log->to_stderr || !log->opened)) {
        dlog_write(log, LOG_INFO, b.s);
        return;
    }
    if (sizeof(batch->s) - batch->len < DLOG_LINE_MAX + 32)
        dlog_batch_flush(batch);
    batch->len += dlog_stderr_line(batch->s + batch->len, sizeof(batch->s) - batch->len, LOG_INFO, b.s);
}

/* dlog_verdict - write the line for one computed verdict (into batch when given and on stderr). */
void dlog_verdict(const dlog *log, dlog_batch *batch, const dlog_verdict_info *in)
{
    dlog_buf parts;
    dlog_vparts p;

    dlog_vparts_make(log, in, &parts, &p);
    dlog_verdict_join(log, batch, &p, in->identity, in->client, in->instance, in->claimed);
}

/* dlog_verdict_info_of - the verdict's fields, from the owner that decided (else the first). */
static void dlog_verdict_info_of(const verdict *v, dlog_verdict_info *info)
{
    const verdict_owner *o = NULL;

    if (v->decisive >= 0 && (size_t) v->decisive < v->nowners)
        o = &v->owners[v->decisive];
    else if (v->nowners > 0)
        o = &v->owners[0];
    memset(info, 0, sizeof(*info));
    info->name = v->name;
    info->owner = o != NULL ? o->owner : "";
    info->dnssec = o != NULL ? resolver_status_str(o->dnssec) : "";
    info->result = verdict_result_word(v->result);
    info->reason = v->reason;
    info->matched = v->matched;
    info->spki_sha256 = v->spki_sha256;
    info->stale = v->stale;
}

/* dlog_vparts_of - the parts of v's line, their text in buf (valid while buf is). */
void dlog_vparts_of(const dlog *log, const verdict *v, dlog_buf *buf, dlog_vparts *p)
{
    dlog_verdict_info info;

    dlog_verdict_info_of(v, &info);
    dlog_vparts_make(log, &info, buf, p);
}

/* dlog_verdict_of - the verdict line for v, from the owner that decided (else the first). */
void dlog_verdict_of(const dlog *log, dlog_batch *batch, const verdict *v, const char *identity,
                     const char *claimed, const char *client, const char *instance)
{
    dlog_buf buf;
    dlog_vparts p;

    dlog_vparts_of(log, v, &buf, &p);
    dlog_verdict_join(log, batch, &p, identity, client, instance, claimed);
}

/* dlog_close - close syslog if it was opened. */
void dlog_close(dlog *log)
{
    dlog_flush(log);
    if (log->opened)
        closelog();
    log->opened = false;
}
