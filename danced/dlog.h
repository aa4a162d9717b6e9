/*
 * dlog.h - danced's log: syslog, or stderr in the foreground; text or JSON.
 *
 * One dlog value lives in the daemon context; every function takes it, so
 * there is no hidden logging state besides what syslog(3) itself keeps.
 * dlog_msg() writes free-form operational lines; dlog_verdict() writes the
 * one line per computed verdict, as "key=value" text or as one JSON object
 * per line (log_format = json).  Every string that came from the network is
 * made printable (text) or escaped (JSON) before it is written.
 */
#ifndef DANCE_DANCED_DLOG_H
#define DANCE_DANCED_DLOG_H

#include <stdbool.h>
#include <syslog.h>
#include "lib/config.h"
#include "lib/verdict.h"

#define DLOG_LINE_MAX 2048            /* longest line written; longer is cut */

typedef struct dlog_batch dlog_batch;

typedef struct dlog {
    bool to_stderr;                   /* foreground: stderr, else syslog */
    bool opened;                      /* openlog() has been called */
    int facility;                     /* syslog facility (LOG_MAIL, ...) */
    config_log_format format;         /* verdict line format */
    dlog_batch *pending;              /* verdict lines held until the loop turn ends, or NULL */
    void (*wake)(void *arg);          /* called when pending gets its first line */
    void *wake_arg;
} dlog;

/* The fields of one verdict line; NULL or "" fields are written as "". */
typedef struct dlog_verdict_info {
    const char *client;               /* SMTP client address (client_address) */
    const char *identity;             /* "helo", "mailfrom", "ptr" (or "helo,mailfrom") */
    const char *claimed;              /* claimed name as sent (hostile input) */
    const char *name;                 /* normalized name, "" when invalid */
    const char *owner;                /* TLSA owner name that decided, or "" */
    const char *dnssec;               /* resolver_status_str() of that owner, or "" */
    const char *result;               /* RFC 8601 result word */
    const char *reason;
    const char *matched;              /* matched record "3 1 1 ab...", or "" */
    const char *spki_sha256;          /* client key SPKI SHA-256, or "" */
    const char *instance;             /* Postfix's instance attribute, or "" */
    bool stale;                       /* decided from a stale answer: stale=yes / "stale":true */
} dlog_verdict_info;

/* A line being built (its fields are dlog.c's). */
typedef struct dlog_buf {
    char s[DLOG_LINE_MAX];
    size_t len;
    bool full;
} dlog_buf;

/*
 * The fields of a verdict line that depend on the verdict alone, formatted
 * once: three runs of text (s, not NUL-terminated, cut at cut[0] and
 * cut[1]) that dlog_verdict_join() interleaves with each request's own
 * fields.  A cache may copy them (s then points at its copy).
 */
typedef struct dlog_vparts {
    config_log_format format;         /* the log format they were written in */
    const char *result;               /* the result word (a static string) */
    unsigned short cut[2];
    unsigned short len;
    const char *s;
} dlog_vparts;

#define DLOG_BATCH_MAX (32 * (DLOG_LINE_MAX + 32))   /* bytes of verdict lines held */

/* Verdict lines held to be written together (stderr only); dlog_batch_flush() empties it. */
struct dlog_batch {
    size_t len;
    char s[DLOG_BATCH_MAX];
};

/* dlog_init - log to stderr (foreground) or to syslog with facility. */
void dlog_init(dlog *log, bool to_stderr, int facility, config_log_format format);

/*
 * dlog_hold - on stderr, hold verdict lines written without a batch of
 * their own in batch, and call wake(arg) when it gets its first line (the
 * caller then flushes it, with dlog_flush(), once its loop turn ends).
 * Other lines flush it first, so the order of lines is kept.
 */
void dlog_hold(dlog *log, dlog_batch *batch, void (*wake)(void *arg), void *arg);

/* dlog_flush - write the held verdict lines now (one write(2)). */
void dlog_flush(const dlog *log);

/* dlog_reconfigure - apply a reloaded facility and format (reopens syslog when needed). */
void dlog_reconfigure(dlog *log, int facility, config_log_format format);

/* dlog_msg - write one operational line at priority prio (LOG_INFO, LOG_WARNING, LOG_ERR, ...). */
void dlog_msg(const dlog *log, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* dlog_vparts_of - the verdict-only parts of v's line, written into buf (p->s points into it). */
void dlog_vparts_of(const dlog *log, const verdict *v, dlog_buf *buf, dlog_vparts *p);

/* dlog_verdict_join - write a verdict line from p and the request's fields; on stderr into batch when not NULL. */
void dlog_verdict_join(const dlog *log, dlog_batch *batch, const dlog_vparts *p, const char *identity,
                       const char *client, const char *instance, const char *claimed);

/* dlog_verdict - write the line for one computed verdict; on stderr into batch when it is not NULL. */
void dlog_verdict(const dlog *log, dlog_batch *batch, const dlog_verdict_info *info);

/*
 * dlog_verdict_of - the verdict line for v: identity ("helo", "helo,mailfrom"),
 * the claimed name as sent, the SMTP client's address and Postfix's instance
 * (either may be NULL); batch as for dlog_verdict().
 */
void dlog_verdict_of(const dlog *log, dlog_batch *batch, const verdict *v, const char *identity,
                     const char *claimed, const char *client, const char *instance);

/* dlog_batch_flush - write the batched lines with one write(2) and empty the batch. */
void dlog_batch_flush(dlog_batch *batch);

/* dlog_close - close syslog if it was opened. */
void dlog_close(dlog *log);

#endif
