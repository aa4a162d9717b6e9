/*
 * policybench.c - load generator for danced's Postfix policy service.
 *
 * USAGE
 *	cc -O2 -Wall -Wextra -o policybench bench/policybench.c
 *	./policybench [options] inet:127.0.0.1:PORT
 *	./policybench -c 100 -d 10 -w 2 -H mta1.ok.test -P AB:CD:... inet:127.0.0.1:10040
 *	./policybench -i -c 2000 -d 5 -M "$(pidof danced)" inet:127.0.0.1:10040
 *
 * DESCRIPTION
 *	Opens N persistent connections to a policy service on this host
 *	(inet: endpoints must be loopback addresses; unix: sockets are
 *	local by nature) and, on each, sends Postfix-like policy requests
 *	one at a time, waiting for the "action=...\n\n" reply before sending
 *	the next - exactly as Postfix's smtpd does.  It stops by itself
 *	after the duration (-d) or after a number of replies (-n),
 *	whichever comes first, and prints: requests per second, latency
 *	percentiles (send of the request to the end of its reply), errors
 *	by kind, and how often each action came back.
 *
 *	Requests come from a template file (-t: requests separated by
 *	empty lines, "#" lines ignored) or from the built-in RCPT/DATA
 *	template filled in from -H/-S/-P/-F.  Several templates (several
 *	-H names, or several requests in the file) are used round-robin;
 *	connection c starts with template c.  In a template, %c is the
 *	connection number, %r the request number on that connection, %n a
 *	run-wide request number (unique names: -H 'u%n.example.test'), %%
 *	a percent sign.
 *
 *	Hold mode (-i) measures idle connections instead of throughput:
 *	every connection sends -r requests (default 1) and then stays open
 *	and silent until the duration ends.  With -M PID the VmRSS of that
 *	process (the daemon) is printed before connecting, once every
 *	connection is held (or, in load mode, when measuring starts), and
 *	at the end, and the report gives the CPU time that process used
 *	while measuring (all its threads), next to policybench's own - on
 *	a small machine, to see which side was the bottleneck.
 *
 *	Everything is bounded: connections (PB_CONN_MAX), duration
 *	(PB_DURATION_MAX), request count, request and reply sizes, the
 *	number of templates and of distinct actions; a reply that does not
 *	come within -T seconds is a timeout.  The run also stops after -E
 *	errors.  A failed connection is reopened (at most once per
 *	PB_RETRY_MS).  SIGINT/SIGTERM end the run early, with a report.
 *
 *	Latency is kept in a log-linear histogram (64 sub-buckets per power
 *	of two, so a percentile is exact to within about 3%); max is exact.
 *
 *	Exit status: 0 when the run had no error, 1 when it had errors,
 *	2 on bad usage or set-up failure.  Linux only (epoll, signalfd).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PB_CONN_MAX 10000             /* connections */
#define PB_DURATION_MAX 3600          /* seconds, -d */
#define PB_WARMUP_MAX 600             /* seconds, -w */
#define PB_COUNT_MAX 100000000ULL     /* replies, -n */
#define PB_TIMEOUT_MAX 300            /* seconds, -T */
#define PB_ERRORS_MAX 1000000         /* -E */
#define PB_HOLD_REQUESTS_MAX 1000     /* -r */
#define PB_TEMPLATES_MAX 4096         /* requests in a template file, or -H names */
#define PB_TEMPLATE_FILE_MAX (1024 * 1024)
#define PB_REQUEST_MAX 16384          /* one formatted request */
#define PB_REPLY_MAX 8192             /* one reply; danced's longest is about 4 KiB */
#define PB_ACTIONS_MAX 32             /* distinct action labels; more count as "(other)" */
#define PB_LABEL_MAX 64
#define PB_VALUE_MAX 1024             /* one -H/-S/-P/-F value */
#define PB_CONNECT_BURST 64           /* connects in progress at once */
#define PB_RETRY_MS 100               /* least time before a failed connection is reopened */
#define PB_DRAIN_MS 1000              /* at the end, wait this long at most for replies under way */
#define PB_TICK_MS 50                 /* housekeeping: timeouts, reopening, the clock */
#define PB_EVENTS 256                 /* epoll events per wake-up */
#define PB_READ_CHUNK 16384

/* Latency histogram: nanoseconds, log-linear. */
#define PB_SUB_BITS 5
#define PB_SUB (1u << PB_SUB_BITS)    /* 32: values below 2*PB_SUB are exact */
#define PB_VALUE_CAP ((UINT64_C(1) << 40) - 1)   /* about 18 minutes */
#define PB_BUCKETS (((40 - PB_SUB_BITS) * PB_SUB) + PB_SUB)

typedef enum { PB_STAGE_RCPT, PB_STAGE_DATA } pb_stage;

typedef enum {
    PB_CLOSED = 0,                    /* not open; reopened at retry_ms */
    PB_CONNECTING,
    PB_IDLE,                          /* open, nothing asked (between requests, or the run is over) */
    PB_SENDING,                       /* part of the request is still to be written */
    PB_WAITING,                       /* request sent, waiting for the reply */
    PB_HELD                           /* hold mode: open and silent */
} pb_state;

typedef enum {
    PB_ERR_CONNECT = 0,               /* connect failed */
    PB_ERR_CLOSED,                    /* the server closed or reset the connection */
    PB_ERR_TIMEOUT,                   /* no complete reply within -T */
    PB_ERR_REPLY,                     /* not "action=...\n\n", too long, or extra bytes */
    PB_ERR_KINDS
} pb_error;

static const char *const pb_error_names[PB_ERR_KINDS] = { "connect", "closed", "timeout", "bad_reply" };

typedef struct pb_conn {
    int fd;
    pb_state state;
    unsigned idx;                     /* connection number, %c */
    size_t tpl;                       /* next template */
    uint64_t nreq;                    /* requests sent on this connection, %r */
    uint64_t sent_ns;                 /* when the current request was sent */
    long long retry_ms;               /* PB_CLOSED: not before this */
    char *out;                        /* unsent part of the request (PB_SENDING) */
    size_t out_len, out_off;
    char *in;                         /* partial reply (PB_REPLY_MAX), only while one is pending */
    size_t in_len;
} pb_conn;

typedef struct pb_stats {
    uint64_t replies;
    uint64_t errors[PB_ERR_KINDS];
    uint64_t hist[PB_BUCKETS];
    uint64_t lat_max, lat_sum;
    size_t nactions;
    char action[PB_ACTIONS_MAX][PB_LABEL_MAX];
    uint64_t action_count[PB_ACTIONS_MAX];
    uint64_t action_other;
} pb_stats;

typedef struct pb_opts {
    unsigned conns;
    unsigned duration;
    unsigned warmup;
    unsigned long long count;         /* 0: no count limit */
    unsigned timeout;
    unsigned long long max_errors;
    bool hold;
    unsigned hold_requests;
    long rss_pid;                     /* 0: none */
    const char *template_file;
    bool stage_set;
    pb_stage stage;
    size_t nhelo;
    const char *helo[PB_TEMPLATES_MAX];
    const char *sender;
    char pubkey_fp[PB_VALUE_MAX];
    char cert_fp[PB_VALUE_MAX];
    const char *endpoint;
} pb_opts;

typedef struct pb_target {
    struct sockaddr_storage sa;
    socklen_t salen;
    int family;
} pb_target;

typedef struct pb_run {
    pb_opts o;
    pb_target target;
    char **tpl;                       /* templates, each "name=value\n..." without the empty line */
    size_t ntpl;
    pb_conn *conn;
    int ep, sigfd;
    unsigned connecting, open, held;
    uint64_t seq;                     /* %n */
    bool measuring, stop, held_reported;
    uint64_t t_start_ns, t_measure_ns, t_end_ns, t_stop_ns;
    bool signalled;                   /* SIGINT/SIGTERM: no draining either */
    uint64_t errors_total;            /* warm-up included */
    const char *why_stop;
    pb_stats st;
    char *scratch;                    /* PB_REQUEST_MAX, formatting */
    double cpu_self0, cpu_peer0;      /* CPU seconds used when measuring started (peer: -M PID) */
} pb_run;

/* pb_die - print a set-up problem and exit 2. */
static void pb_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void pb_die(const char *fmt, ...)
{
    va_list ap;

    fputs("policybench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* pb_now_ns - the monotonic clock in nanoseconds. */
static uint64_t pb_now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void *pb_xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL)
        abort();
    return p;
}

/* ------------------------------------------------------------------ */
/* Latency histogram. */

/* pb_bucket - histogram index of v nanoseconds. */
static size_t pb_bucket(uint64_t v)
{
    unsigned msb, shift;

    if (v > PB_VALUE_CAP)
        v = PB_VALUE_CAP;
    if (v < 2 * PB_SUB)
        return (size_t) v;
    msb = 63u - (unsigned) __builtin_clzll(v);
    shift = msb - PB_SUB_BITS;                      /* v >> shift is in [PB_SUB, 2*PB_SUB) */
    return (size_t) shift * PB_SUB + (size_t) (v >> shift);
}

/* pb_bucket_high - the largest value that falls into bucket i. */
static uint64_t pb_bucket_high(size_t i)
{
    unsigned shift;
    uint64_t mant;

    if (i < 2 * PB_SUB)
        return i;
    shift = (unsigned) (i / PB_SUB) - 1;
    mant = i % PB_SUB + PB_SUB;
    return ((mant + 1) << shift) - 1;
}

/* pb_percentile - latency (ns) at or below which a fraction p of the replies came. */
static uint64_t pb_percentile(const pb_stats *st, double p)
{
    uint64_t want, seen = 0;

    if (st->replies == 0)
        return 0;
    want = (uint64_t) (p * (double) st->replies);
    if ((double) want < p * (double) st->replies)
        want++;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < PB_BUCKETS; i++) {
        seen += st->hist[i];
        if (seen >= want) {
            uint64_t hi = pb_bucket_high(i);

            return hi < st->lat_max ? hi : st->lat_max;
        }
    }
    return st->lat_max;
}

/* ------------------------------------------------------------------ */
/* Options and set-up. */

static void pb_usage(void)
{
    fprintf(stderr,
            "usage: policybench [options] inet:127.0.0.1:PORT | inet:[::1]:PORT | unix:/PATH\n"
            "  -c N        connections (1..%d, default 1)\n"
            "  -d SECONDS  duration, and the time limit of every run (1..%d, default 10)\n"
            "  -n COUNT    stop after COUNT replies (1..%llu; default: only the duration)\n"
            "  -w SECONDS  warm-up before measuring, not counted (0..%d, default 0)\n"
            "  -t FILE     request templates (requests separated by empty lines)\n"
            "  -s STAGE    rcpt (default) or data: protocol_state of every request\n"
            "  -H NAME     helo_name for the built-in template; repeat to cycle (up to %d)\n"
            "  -S ADDR     sender (default bench@HELO)\n"
            "  -P FP|@FILE ccert_pubkey_fingerprint (or the first line of FILE)\n"
            "  -F FP|@FILE ccert_fingerprint (or the first line of FILE)\n"
            "  -T SECONDS  reply timeout (1..%d, default 10)\n"
            "  -E N        stop after N errors (default 100)\n"
            "  -i          hold mode: -r requests per connection, then stay idle until -d ends\n"
            "  -r N        hold mode: requests before holding (0..%d, default 1)\n"
            "  -M PID      report VmRSS of PID (the daemon) before, under load and at the end,\n"
            "              and its CPU use while measuring\n"
            "In templates: %%c connection, %%r request on the connection, %%n request in the run, %%%% a %%.\n",
            PB_CONN_MAX, PB_DURATION_MAX, PB_COUNT_MAX, PB_WARMUP_MAX, PB_TEMPLATES_MAX,
            PB_TIMEOUT_MAX, PB_HOLD_REQUESTS_MAX);
    exit(2);
}

/* pb_number - parse a decimal option value in [lo, hi] or die. */
static unsigned long long pb_number(int opt, const char *s, unsigned long long lo, unsigned long long hi)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (*s < '0' || *s > '9')
        pb_die("-%c %s: not a number", opt, s);
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        pb_die("-%c %s: must be a number from %llu to %llu", opt, s, lo, hi);
    return v;
}

/* pb_value - an option value, or the first line of the file named after '@'. */
static void pb_value(int opt, const char *arg, char *out, size_t size)
{
    FILE *f;
    size_t n;

    if (arg[0] != '@') {
        if (strlen(arg) >= size)
            pb_die("-%c: value longer than %zu bytes", opt, size - 1);
        memcpy(out, arg, strlen(arg) + 1);
    } else {
        if ((f = fopen(arg + 1, "r")) == NULL)
            pb_die("-%c %s: %s", opt, arg + 1, strerror(errno));
        if (fgets(out, (int) size, f) == NULL)
            out[0] = '\0';
        fclose(f);
        n = strcspn(out, "\r\n");
        if (out[n] == '\0' && n == size - 1)
            pb_die("-%c %s: first line longer than %zu bytes", opt, arg + 1, size - 2);
        out[n] = '\0';
    }
    if (strchr(out, '\n') != NULL || strchr(out, '\r') != NULL)
        pb_die("-%c: value contains a line break", opt);
}

/* pb_ipv4_loopback - true for an address in 127.0.0.0/8. */
static bool pb_ipv4_loopback(const struct in_addr *a)
{
    return (ntohl(a->s_addr) >> 24) == 127;
}

/* pb_target_parse - the endpoint, which must be on this host: loopback inet or unix. */
static void pb_target_parse(const char *ep, pb_target *t)
{
    char host[64];
    const char *p, *colon;
    unsigned long long port;
    char *end;

    memset(t, 0, sizeof(*t));
    if (strncmp(ep, "unix:", 5) == 0) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &t->sa;

        if (ep[5] != '/' || strlen(ep + 5) >= sizeof(sun->sun_path))
            pb_die("%s: unix: needs an absolute path of at most %zu bytes", ep,
                   sizeof(sun->sun_path) - 1);
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, ep + 5, strlen(ep + 5) + 1);
        t->salen = (socklen_t) sizeof(*sun);
        t->family = AF_UNIX;
        return;
    }
    if (strncmp(ep, "inet:", 5) != 0)
        pb_die("%s: the endpoint must be inet:HOST:PORT or unix:/PATH", ep);
    p = ep + 5;
    if (*p == '[') {
        const char *close = strchr(p, ']');

        if (close == NULL || close[1] != ':' || (size_t) (close - p - 1) >= sizeof(host))
            pb_die("%s: expected inet:[IPv6]:PORT", ep);
        memcpy(host, p + 1, (size_t) (close - p - 1));
        host[close - p - 1] = '\0';
        colon = close + 1;
    } else {
        if ((colon = strrchr(p, ':')) == NULL || (size_t) (colon - p) >= sizeof(host))
            pb_die("%s: expected inet:HOST:PORT", ep);
        memcpy(host, p, (size_t) (colon - p));
        host[colon - p] = '\0';
    }
    errno = 0;
    port = strtoull(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
        pb_die("%s: bad port", ep);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    {
        struct sockaddr_in *sin = (struct sockaddr_in *) &t->sa;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &t->sa;

        if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
            if (!pb_ipv4_loopback(&sin->sin_addr))
                pb_die("%s: refusing a non-loopback address (only 127.0.0.0/8 and ::1)", ep);
            sin->sin_family = AF_INET;
            sin->sin_port = htons((uint16_t) port);
            t->salen = (socklen_t) sizeof(*sin);
            t->family = AF_INET;
        } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
            if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
                pb_die("%s: refusing a non-loopback address (only 127.0.0.0/8 and ::1)", ep);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons((uint16_t) port);
            t->salen = (socklen_t) sizeof(*sin6);
            t->family = AF_INET6;
        } else {
            pb_die("%s: HOST must be an address literal (127.0.0.1, [::1]) or localhost", ep);
        }
    }
}

/* pb_template_check - a template's lines are name=value and its placeholders known. */
static void pb_template_check(const char *t, size_t nr)
{
    const char *line = t;
    size_t placeholders = 0;

    while (*line != '\0') {
        size_t len = strcspn(line, "\n");
        const char *eq = memchr(line, '=', len);

        if (eq == NULL || eq == line)
            pb_die("template %zu: line \"%.*s\" is not name=value", nr, (int) (len > 60 ? 60 : len), line);
        line += len + (line[len] == '\n');
    }
    for (const char *p = t; *p != '\0'; p++) {
        if (*p == '%') {
            if (p[1] != 'c' && p[1] != 'r' && p[1] != 'n' && p[1] != '%')
                pb_die("template %zu: unknown placeholder %%%c (use %%c %%r %%n %%%%)", nr,
                       p[1] != '\0' ? p[1] : '?');
            if (p[1] != '%')
                placeholders++;
            p++;
        }
    }
    /* each placeholder (2 bytes) becomes at most 20 digits; +1 for the empty line */
    if (strlen(t) + 18 * placeholders + 1 >= PB_REQUEST_MAX)
        pb_die("template %zu: may expand beyond %d bytes", nr, PB_REQUEST_MAX - 1);
}

/* pb_template_stage - set protocol_state (adding the line if missing); returns a new string. */
static char *pb_template_stage(char *t, pb_stage stage)
{
    const char *value = stage == PB_STAGE_DATA ? "DATA" : "RCPT";
    size_t tlen = strlen(t), cap = tlen + 64;
    char *out = pb_xmalloc(cap), *line = t;
    size_t o = 0;
    bool done = false;

    while (*line != '\0') {
        size_t len = strcspn(line, "\n");

        if (strncmp(line, "protocol_state=", 15) == 0) {
            o += (size_t) snprintf(out + o, cap - o, "protocol_state=%s\n", value);
            done = true;
        } else {
            memcpy(out + o, line, len);
            o += len;
            out[o++] = '\n';
        }
        line += len + (line[len] == '\n');
    }
    if (!done)
        o += (size_t) snprintf(out + o, cap - o, "protocol_state=%s\n", value);
    out[o] = '\0';
    free(t);
    return out;
}

/* pb_templates_file - read the requests of a template file. */
static void pb_templates_file(pb_run *r)
{
    FILE *f = fopen(r->o.template_file, "r");
    char *buf, *cur = NULL;
    size_t n, cur_len = 0;
    char line[PB_REQUEST_MAX];

    if (f == NULL)
        pb_die("%s: %s", r->o.template_file, strerror(errno));
    buf = pb_xmalloc(PB_TEMPLATE_FILE_MAX + 1);
    n = fread(buf, 1, PB_TEMPLATE_FILE_MAX + 1, f);
    fclose(f);
    if (n > PB_TEMPLATE_FILE_MAX)
        pb_die("%s: larger than %d bytes", r->o.template_file, PB_TEMPLATE_FILE_MAX);
    if (memchr(buf, '\0', n) != NULL)
        pb_die("%s: contains a NUL byte", r->o.template_file);
    buf[n] = '\0';
    r->tpl = pb_xmalloc(sizeof(char *) * PB_TEMPLATES_MAX);
    for (char *p = buf; ; ) {
        size_t len = strcspn(p, "\n");
        bool last = p[len] == '\0';

        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len >= sizeof(line))
            pb_die("%s: a line is longer than %zu bytes", r->o.template_file, sizeof(line) - 1);
        memcpy(line, p, len);
        line[len] = '\0';
        if (len == 0 || last) {
            if (len > 0 && line[0] != '#') {
                cur = realloc(cur, cur_len + len + 2);
                if (cur == NULL)
                    abort();
                memcpy(cur + cur_len, line, len);
                cur_len += len;
                cur[cur_len++] = '\n';
                cur[cur_len] = '\0';
            }
            if (cur != NULL) {
                if (r->ntpl == PB_TEMPLATES_MAX)
                    pb_die("%s: more than %d requests", r->o.template_file, PB_TEMPLATES_MAX);
                r->tpl[r->ntpl++] = cur;
                cur = NULL;
                cur_len = 0;
            }
        } else if (line[0] != '#') {
            cur = realloc(cur, cur_len + len + 2);
            if (cur == NULL)
                abort();
            memcpy(cur + cur_len, line, len);
            cur_len += len;
            cur[cur_len++] = '\n';
            cur[cur_len] = '\0';
        }
        if (last)
            break;
        p += strcspn(p, "\n") + 1;
    }
    free(buf);
    if (r->ntpl == 0)
        pb_die("%s: no request in the file", r->o.template_file);
}

/* pb_templates_builtin - one Postfix 3.7-like request per -H name. */
static void pb_templates_builtin(pb_run *r)
{
    static const char *const dflt = "mta1.ok.test";
    bool data = r->o.stage == PB_STAGE_DATA;
    size_t nhelo = r->o.nhelo > 0 ? r->o.nhelo : 1;

    r->tpl = pb_xmalloc(sizeof(char *) * nhelo);
    for (size_t i = 0; i < nhelo; i++) {
        const char *helo = r->o.nhelo > 0 ? r->o.helo[i] : dflt;
        char sender[PB_VALUE_MAX + 8];
        char *t = pb_xmalloc(PB_REQUEST_MAX / 2);
        int n;

        if (r->o.sender != NULL)
            snprintf(sender, sizeof(sender), "%s", r->o.sender);
        else
            snprintf(sender, sizeof(sender), "bench@%s", helo);
        n = snprintf(t, PB_REQUEST_MAX / 2,
                     "request=smtpd_access_policy\n"
                     "protocol_state=%s\n"
                     "protocol_name=ESMTP\n"
                     "client_address=127.0.0.1\n"
                     "client_name=unknown\n"
                     "client_port=%%c\n"
                     "reverse_client_name=unknown\n"
                     "server_address=127.0.0.1\n"
                     "server_port=25\n"
                     "helo_name=%s\n"
                     "sender=%s\n"
                     "recipient=%s\n"
                     "recipient_count=%s\n"
                     "queue_id=%s\n"
                     "instance=bench.%%c.%%r\n"
                     "size=0\n"
                     "etrn_domain=\n"
                     "stress=\n"
                     "sasl_method=\n"
                     "sasl_username=\n"
                     "sasl_sender=\n"
                     "ccert_subject=\n"
                     "ccert_issuer=\n"
                     "ccert_fingerprint=%s\n"
                     "ccert_pubkey_fingerprint=%s\n"
                     "encryption_protocol=TLSv1.3\n"
                     "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
                     "encryption_keysize=256\n"
                     "policy_context=\n",
                     data ? "DATA" : "RCPT", helo, sender,
                     data ? "" : "rcpt%n@example.org", data ? "1" : "0",
                     data ? "B%n" : "", r->o.cert_fp, r->o.pubkey_fp);
        if (n < 0 || n >= PB_REQUEST_MAX / 2)
            pb_die("-H %s: request too long", helo);
        r->tpl[r->ntpl++] = t;
    }
}

/* pb_raise_nofile - make room for the connections' descriptors. */
static void pb_raise_nofile(unsigned conns)
{
    struct rlimit rl;
    rlim_t need = (rlim_t) conns + 32;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        pb_die("getrlimit: %s", strerror(errno));
    if (rl.rlim_cur >= need)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        pb_die("%u connections need %llu descriptors; the hard limit is %llu", conns,
               (unsigned long long) need, (unsigned long long) rl.rlim_max);
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        pb_die("setrlimit: %s", strerror(errno));
}

/* pb_rss - "VmRSS 1234 kB, VmHWM 2345 kB" of pid, or why not. */
static void pb_rss(long pid, char *out, size_t size)
{
    char path[64], line[256];
    long rss = -1, hwm = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    if ((f = fopen(path, "r")) == NULL) {
        snprintf(out, size, "(%s: %s)", path, strerror(errno));
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    snprintf(out, size, "VmRSS %ld kB, VmHWM %ld kB", rss, hwm);
}

/* pb_cpu_self - CPU seconds (user + system) this process has used. */
static double pb_cpu_self(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
        + (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

/* pb_cpu_pid - CPU seconds (user + system, all threads) pid has used, -1 if unknown. */
static double pb_cpu_pid(long pid)
{
    char path[64], buf[1024];
    unsigned long long ut, st;
    const char *p;
    FILE *f;
    size_t n;
    long hz = sysconf(_SC_CLK_TCK);

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (hz <= 0 || (f = fopen(path, "r")) == NULL)
        return -1.0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* after "pid (comm) ": state is field 3, utime 14, stime 15 */
    if ((p = strrchr(buf, ')')) == NULL
        || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1.0;
    return (double) (ut + st) / (double) hz;
}

static void pb_report_rss(const pb_run *r, const char *when)
{
    char text[128];

    if (r->o.rss_pid <= 0)
        return;
    pb_rss(r->o.rss_pid, text, sizeof(text));
    printf("rss %s: pid %ld %s (%u connections open)\n", when, r->o.rss_pid, text, r->open);
    fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Connections. */

static void pb_error_count(pb_run *r, pb_error e)
{
    if (r->stop)
        return;                         /* the run is over (draining) */
    r->errors_total++;
    if (r->measuring)
        r->st.errors[e]++;
    if (r->errors_total >= r->o.max_errors && !r->stop) {
        r->stop = true;
        r->why_stop = "error limit (-E) reached";
    }
}

/* pb_close - close c (after an error), to be reopened later. */
static void pb_close(pb_run *r, pb_conn *c, long long now_ms)
{
    if (c->fd >= 0) {
        close(c->fd);               /* also removes it from the epoll set */
        if (c->state == PB_CONNECTING)
            r->connecting--;
        else
            r->open--;
        if (c->state == PB_HELD)
            r->held--;
    }
    free(c->out);
    free(c->in);
    c->out = c->in = NULL;
    c->out_len = c->out_off = c->in_len = 0;
    c->fd = -1;
    c->state = PB_CLOSED;
    c->retry_ms = now_ms + PB_RETRY_MS;
}

static void pb_fail(pb_run *r, pb_conn *c, pb_error e)
{
    pb_error_count(r, e);
    pb_close(r, c, (long long) (pb_now_ns() / 1000000u));
}

static void pb_watch(pb_run *r, pb_conn *c, uint32_t events, int op)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };

    if (epoll_ctl(r->ep, op, c->fd, &ev) != 0)
        pb_die("epoll_ctl: %s", strerror(errno));
}

/* pb_format - expand the next template of c into r->scratch; returns the length. */
static size_t pb_format(pb_run *r, pb_conn *c)
{
    const char *t = r->tpl[c->tpl];
    size_t o = 0;

    c->tpl = (c->tpl + 1) % r->ntpl;
    for (; *t != '\0'; t++) {
        if (*t != '%') {
            r->scratch[o++] = *t;
            continue;
        }
        t++;
        if (*t == '%')
            r->scratch[o++] = '%';
        else
            o += (size_t) snprintf(r->scratch + o, PB_REQUEST_MAX - o, "%" PRIu64,
                                   *t == 'c' ? (uint64_t) c->idx : *t == 'r' ? c->nreq : r->seq);
    }
    /* pb_template_check made sure the expansion and the empty line fit */
    r->scratch[o++] = '\n';             /* the empty line that ends the request */
    r->seq++;
    c->nreq++;
    return o;
}

/* pb_send_request - send the next request on c. */
static void pb_send_request(pb_run *r, pb_conn *c)
{
    size_t len = pb_format(r, c);
    ssize_t n;

    c->sent_ns = pb_now_ns();
    n = send(c->fd, r->scratch, len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        pb_fail(r, c, PB_ERR_CLOSED);
        return;
    }
    if (n < 0)
        n = 0;
    if ((size_t) n == len) {
        c->state = PB_WAITING;
        return;
    }
    c->out_len = len - (size_t) n;
    c->out_off = 0;
    c->out = pb_xmalloc(c->out_len);
    memcpy(c->out, r->scratch + n, c->out_len);
    c->state = PB_SENDING;
    pb_watch(r, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
}

/* pb_next - c is ready for its next request: send it, or hold the connection. */
static void pb_next(pb_run *r, pb_conn *c)
{
    if (r->o.hold && c->nreq >= r->o.hold_requests) {
        c->state = PB_HELD;
        r->held++;
        return;
    }
    if (r->stop)
        return;
    pb_send_request(r, c);
}

/* pb_open - start connecting c. */
static void pb_open(pb_run *r, pb_conn *c)
{
    int fd = socket(r->target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        pb_die("socket: %s", strerror(errno));
    c->fd = fd;
    if (r->target.family != AF_UNIX) {
        int one = 1;

        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (connect(fd, (const struct sockaddr *) &r->target.sa, r->target.salen) == 0) {
        c->state = PB_IDLE;
        r->open++;
        pb_watch(r, c, EPOLLIN, EPOLL_CTL_ADD);
        pb_next(r, c);
        return;
    }
    if (errno != EINPROGRESS) {         /* unix sockets: EAGAIN is a full backlog, a failure */
        c->state = PB_CONNECTING;
        r->connecting++;
        pb_fail(r, c, PB_ERR_CONNECT);
        return;
    }
    c->state = PB_CONNECTING;
    r->connecting++;
    pb_watch(r, c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* pb_connected - a non-blocking connect finished (or failed). */
static void pb_connected(pb_run *r, pb_conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        pb_fail(r, c, PB_ERR_CONNECT);
        return;
    }
    r->connecting--;
    r->open++;
    c->state = PB_IDLE;
    pb_watch(r, c, EPOLLIN, EPOLL_CTL_MOD);
    pb_next(r, c);
}

/* pb_flush - write more of a request that did not go out whole. */
static void pb_flush(pb_run *r, pb_conn *c)
{
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        pb_fail(r, c, PB_ERR_CLOSED);
        return;
    }
    c->out_off += (size_t) n;
    if (c->out_off < c->out_len)
        return;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    c->state = PB_WAITING;
    pb_watch(r, c, EPOLLIN, EPOLL_CTL_MOD);
}

/* pb_action_label - "OK", "DUNNO", or "PREPEND dane=pass" for a reply's action. */
static void pb_action_label(const char *reply, size_t len, char *out, size_t size)
{
    const char *a = reply + 7;                  /* after "action=" */
    size_t n = 0, alen = len - 7;

    while (n < alen && a[n] != ' ' && a[n] != '\n' && n + 1 < size) {
        out[n] = a[n];
        n++;
    }
    out[n] = '\0';
    if (strcmp(out, "PREPEND") == 0) {
        const char *d = memmem(a, alen, "dane=", 5);

        if (d != NULL) {
            size_t w = strcspn(d, " ;\n\t");

            snprintf(out + n, size - n, " %.*s", (int) (w < 32 ? w : 32), d);
        }
    }
}

/* pb_record - count one complete reply. */
static void pb_record(pb_run *r, pb_conn *c, const char *reply, size_t len, uint64_t now)
{
    pb_stats *st = &r->st;
    uint64_t lat = now - c->sent_ns;
    char label[PB_LABEL_MAX];
    size_t i;

    if (!r->measuring || r->stop)
        return;                         /* warm-up, or the run is over (draining) */
    st->replies++;
    st->hist[pb_bucket(lat)]++;
    st->lat_sum += lat;
    if (lat > st->lat_max)
        st->lat_max = lat;
    pb_action_label(reply, len, label, sizeof(label));
    for (i = 0; i < st->nactions; i++)
        if (strcmp(st->action[i], label) == 0)
            break;
    if (i == st->nactions) {
        if (st->nactions == PB_ACTIONS_MAX) {
            st->action_other++;
            return;
        }
        memcpy(st->action[i], label, sizeof(label));
        st->nactions++;
    }
    st->action_count[i]++;
    if (r->o.count > 0 && st->replies >= r->o.count && !r->stop) {
        r->stop = true;
        r->why_stop = "reply count (-n) reached";
    }
}

/*
 * pb_reply - data holds everything received for the current reply; true
 * when it is complete (recorded) or bad (connection failed), false when
 * more is needed.
 */
static bool pb_reply(pb_run *r, pb_conn *c, const char *data, size_t len, uint64_t now)
{
    const char *end = memmem(data, len, "\n\n", 2);

    if (end == NULL) {
        if (len >= PB_REPLY_MAX || (len >= 7 && memcmp(data, "action=", 7) != 0)) {
            pb_fail(r, c, PB_ERR_REPLY);
            return true;
        }
        return false;
    }
    if ((size_t) (end - data) + 2 != len || len < 9 || memcmp(data, "action=", 7) != 0
        || data[7] == '\n' || c->state != PB_WAITING) {
        pb_fail(r, c, PB_ERR_REPLY);            /* extra bytes, empty action, unasked */
        return true;
    }
    pb_record(r, c, data, len, now);
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    c->state = PB_IDLE;
    pb_next(r, c);
    return true;
}

/* pb_readable - read what the server sent on c. */
static void pb_readable(pb_run *r, pb_conn *c, char *buf)
{
    ssize_t n = recv(c->fd, buf, PB_READ_CHUNK, 0);
    uint64_t now;

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        pb_fail(r, c, PB_ERR_CLOSED);
        return;
    }
    if (c->state != PB_WAITING) {               /* nothing was asked */
        pb_fail(r, c, PB_ERR_REPLY);
        return;
    }
    now = pb_now_ns();
    if (c->in == NULL) {
        if (pb_reply(r, c, buf, (size_t) n, now))
            return;
        c->in = pb_xmalloc(PB_REPLY_MAX);
    } else if (c->in_len + (size_t) n > PB_REPLY_MAX) {
        pb_fail(r, c, PB_ERR_REPLY);
        return;
    }
    memcpy(c->in + c->in_len, buf, (size_t) n);
    c->in_len += (size_t) n;
    (void) pb_reply(r, c, c->in, c->in_len, now);
}

/* pb_housekeeping - reply timeouts, reopening closed connections, the phases of the run. */
static void pb_housekeeping(pb_run *r, uint64_t now)
{
    long long now_ms = (long long) (now / 1000000u);
    uint64_t tmo = (uint64_t) r->o.timeout * 1000000000u;

    if (!r->measuring && now >= r->t_measure_ns) {
        memset(&r->st, 0, sizeof(r->st));
        r->measuring = true;
        r->t_measure_ns = now;
        r->cpu_self0 = pb_cpu_self();
        r->cpu_peer0 = r->o.rss_pid > 0 ? pb_cpu_pid(r->o.rss_pid) : -1.0;
        if (!r->o.hold)
            pb_report_rss(r, "under load");
    }
    for (unsigned i = 0; i < r->o.conns && !r->stop; i++) {
        pb_conn *c = &r->conn[i];

        if ((c->state == PB_WAITING || c->state == PB_SENDING) && now - c->sent_ns > tmo)
            pb_fail(r, c, PB_ERR_TIMEOUT);
        else if (c->state == PB_CONNECTING && now - c->sent_ns > tmo)
            pb_fail(r, c, PB_ERR_CONNECT);
        else if (c->state == PB_CLOSED && now_ms >= c->retry_ms && r->connecting < PB_CONNECT_BURST) {
            c->sent_ns = now;                   /* connect timeout starts */
            pb_open(r, c);
        }
    }
    if (r->o.hold && !r->held_reported && r->held == r->o.conns) {
        r->held_reported = true;
        printf("held: %u connections idle after %u request(s) each, %.2f s after start\n", r->held,
               r->o.hold_requests, (double) (now - r->t_start_ns) / 1e9);
        pb_report_rss(r, "held");
    }
    if (now >= r->t_end_ns && !r->stop) {
        r->stop = true;
        r->why_stop = "duration (-d) over";
    }
}

/* ------------------------------------------------------------------ */
/* The report. */

/* pb_stage_name - the stage of the requests: "RCPT", "DATA", or "template" when the file decides. */
static const char *pb_stage_name(const pb_opts *o, bool upper)
{
    if (o->template_file != NULL && !o->stage_set)
        return upper ? "the templates'" : "template";
    if (o->stage == PB_STAGE_DATA)
        return upper ? "DATA" : "data";
    return upper ? "RCPT" : "rcpt";
}

static void pb_report(const pb_run *r, uint64_t now)
{
    const pb_stats *st = &r->st;
    double secs = r->measuring ? (double) (now - r->t_measure_ns) / 1e9 : 0.0;
    uint64_t errs = 0;
    double cpu_self = -1.0, cpu_peer = -1.0;

    if (secs > 0) {
        cpu_self = (pb_cpu_self() - r->cpu_self0) / secs * 100.0;
        if (r->cpu_peer0 >= 0) {
            double now_peer = pb_cpu_pid(r->o.rss_pid);

            if (now_peer >= 0)
                cpu_peer = (now_peer - r->cpu_peer0) / secs * 100.0;
        }
    }
    for (int e = 0; e < PB_ERR_KINDS; e++)
        errs += st->errors[e];
    printf("endpoint: %s, %u connection(s), %s stage, %zu request template(s)%s%s\n", r->o.endpoint,
           r->o.conns, pb_stage_name(&r->o, true), r->ntpl,
           r->o.template_file != NULL ? " from " : "", r->o.template_file != NULL ? r->o.template_file : "");
    printf("requests: %" PRIu64 " replies in %.3f s = %.1f requests/s%s\n", st->replies, secs,
           secs > 0 ? (double) st->replies / secs : 0.0,
           r->o.warmup > 0 ? " (after the warm-up)" : "");
    printf("latency: p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us, mean %.1f us\n",
           (double) pb_percentile(st, 0.50) / 1e3, (double) pb_percentile(st, 0.90) / 1e3,
           (double) pb_percentile(st, 0.99) / 1e3, (double) st->lat_max / 1e3,
           st->replies > 0 ? (double) st->lat_sum / (double) st->replies / 1e3 : 0.0);
    printf("cpu: policybench %.0f%%", cpu_self);
    if (cpu_peer >= 0)
        printf(", pid %ld %.0f%%", r->o.rss_pid, cpu_peer);
    printf(" (of one core, while measuring)\n");
    printf("errors: %" PRIu64, errs);
    for (int e = 0; e < PB_ERR_KINDS; e++)
        printf("%s%s %" PRIu64, e == 0 ? " (" : ", ", pb_error_names[e], st->errors[e]);
    printf(")");
    if (r->errors_total > errs)
        printf(", and %" PRIu64 " during the warm-up", r->errors_total - errs);
    printf("\n");
    printf("stopped: %s\n", r->why_stop != NULL ? r->why_stop : "?");
    printf("actions:");
    for (size_t i = 0; i < st->nactions; i++)
        printf("%s %s %" PRIu64 " (%.1f%%)", i == 0 ? "" : ",", st->action[i], st->action_count[i],
               100.0 * (double) st->action_count[i] / (double) (st->replies > 0 ? st->replies : 1));
    if (st->action_other > 0)
        printf(", (other) %" PRIu64, st->action_other);
    if (st->nactions == 0 && st->action_other == 0)
        printf(" none");
    printf("\n");
    /* one line for scripts */
    printf("result: conns=%u stage=%s replies=%" PRIu64 " seconds=%.3f rps=%.1f p50_us=%.1f "
           "p90_us=%.1f p99_us=%.1f max_us=%.1f errors=%" PRIu64 " warmup_errors=%" PRIu64
           " cpu_client=%.0f cpu_server=%.0f\n",
           r->o.conns, pb_stage_name(&r->o, false), st->replies, secs,
           secs > 0 ? (double) st->replies / secs : 0.0, (double) pb_percentile(st, 0.50) / 1e3,
           (double) pb_percentile(st, 0.90) / 1e3, (double) pb_percentile(st, 0.99) / 1e3,
           (double) st->lat_max / 1e3, errs, r->errors_total - errs, cpu_self, cpu_peer);
    fflush(stdout);
}

/* ------------------------------------------------------------------ */

static void pb_options(int argc, char **argv, pb_opts *o)
{
    int ch;

    memset(o, 0, sizeof(*o));
    o->conns = 1;
    o->duration = 10;
    o->timeout = 10;
    o->max_errors = 100;
    o->hold_requests = 1;
    while ((ch = getopt(argc, argv, "c:d:n:w:t:s:H:S:P:F:T:E:ir:M:h")) != -1) {
        switch (ch) {
        case 'c': o->conns = (unsigned) pb_number(ch, optarg, 1, PB_CONN_MAX); break;
        case 'd': o->duration = (unsigned) pb_number(ch, optarg, 1, PB_DURATION_MAX); break;
        case 'n': o->count = pb_number(ch, optarg, 1, PB_COUNT_MAX); break;
        case 'w': o->warmup = (unsigned) pb_number(ch, optarg, 0, PB_WARMUP_MAX); break;
        case 't': o->template_file = optarg; break;
        case 's':
            o->stage_set = true;
            if (strcasecmp(optarg, "rcpt") == 0)
                o->stage = PB_STAGE_RCPT;
            else if (strcasecmp(optarg, "data") == 0)
                o->stage = PB_STAGE_DATA;
            else
                pb_die("-s %s: use rcpt or data", optarg);
            break;
        case 'H':
            if (o->nhelo == PB_TEMPLATES_MAX)
                pb_die("-H: at most %d names", PB_TEMPLATES_MAX);
            if (strlen(optarg) >= PB_VALUE_MAX || strpbrk(optarg, "\r\n") != NULL)
                pb_die("-H: bad name");
            o->helo[o->nhelo++] = optarg;
            break;
        case 'S':
            if (strlen(optarg) >= PB_VALUE_MAX || strpbrk(optarg, "\r\n") != NULL)
                pb_die("-S: bad sender");
            o->sender = optarg;
            break;
        case 'P': pb_value(ch, optarg, o->pubkey_fp, sizeof(o->pubkey_fp)); break;
        case 'F': pb_value(ch, optarg, o->cert_fp, sizeof(o->cert_fp)); break;
        case 'T': o->timeout = (unsigned) pb_number(ch, optarg, 1, PB_TIMEOUT_MAX); break;
        case 'E': o->max_errors = pb_number(ch, optarg, 1, PB_ERRORS_MAX); break;
        case 'i': o->hold = true; break;
        case 'r': o->hold_requests = (unsigned) pb_number(ch, optarg, 0, PB_HOLD_REQUESTS_MAX); break;
        case 'M': o->rss_pid = (long) pb_number(ch, optarg, 1, INT_MAX); break;
        default: pb_usage();
        }
    }
    if (optind != argc - 1)
        pb_usage();
    o->endpoint = argv[optind];
    if (o->template_file != NULL && (o->nhelo > 0 || o->sender != NULL || o->pubkey_fp[0] != '\0'
                                     || o->cert_fp[0] != '\0'))
        pb_die("-t and -H/-S/-P/-F exclude each other (put the values in the template)");
    if (o->warmup >= o->duration)
        pb_die("-w %u: the warm-up must be shorter than the duration (-d %u)", o->warmup, o->duration);
}

/* pb_poll - wait up to timeout_ms for events and handle them. */
static void pb_poll(pb_run *r, struct epoll_event *events, char *rbuf, int timeout_ms)
{
    int n = epoll_wait(r->ep, events, PB_EVENTS, timeout_ms);

    if (n < 0 && errno != EINTR)
        pb_die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        pb_conn *c = events[i].data.ptr;

        if (c == NULL) {
            struct signalfd_siginfo si;

            if (read(r->sigfd, &si, sizeof(si)) > 0)
                fprintf(stderr, "policybench: signal %u: stopping\n", si.ssi_signo);
            r->signalled = true;
            if (!r->stop) {
                r->stop = true;
                r->why_stop = "signal";
            }
            return;
        }
        if (c->fd < 0)
            continue;                   /* closed earlier in this batch */
        if (c->state == PB_CONNECTING) {
            pb_connected(r, c);
            continue;
        }
        if ((events[i].events & EPOLLOUT) && c->state == PB_SENDING)
            pb_flush(r, c);
        if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            pb_readable(r, c, rbuf);
    }
}

/* pb_pending - connections with a request out and no reply yet. */
static unsigned pb_pending(const pb_run *r)
{
    unsigned n = 0;

    for (unsigned i = 0; i < r->o.conns; i++)
        if (r->conn[i].state == PB_WAITING || r->conn[i].state == PB_SENDING)
            n++;
    return n;
}

/*
 * pb_drain - the run is over: read the replies still under way (not
 * counted), at most PB_DRAIN_MS, so that no connection is closed with a
 * reply unread (that resets it, and the server logs an error).
 */
static void pb_drain(pb_run *r, struct epoll_event *events, char *rbuf)
{
    uint64_t until = pb_now_ns() + (uint64_t) PB_DRAIN_MS * 1000000u;

    while (!r->signalled && pb_pending(r) > 0 && pb_now_ns() < until)
        pb_poll(r, events, rbuf, PB_TICK_MS);
}

int main(int argc, char **argv)
{
    pb_run r;
    sigset_t sigs;
    struct epoll_event ev, events[PB_EVENTS];
    char *rbuf;
    uint64_t now;

    memset(&r, 0, sizeof(r));
    pb_options(argc, argv, &r.o);
    pb_target_parse(r.o.endpoint, &r.target);
    if (r.o.template_file != NULL)
        pb_templates_file(&r);
    else
        pb_templates_builtin(&r);
    for (size_t i = 0; i < r.ntpl; i++) {
        if (r.o.stage_set && r.o.template_file != NULL)
            r.tpl[i] = pb_template_stage(r.tpl[i], r.o.stage);
        pb_template_check(r.tpl[i], i + 1);
    }
    pb_raise_nofile(r.o.conns);

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0 || (r.sigfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0)
        pb_die("signalfd: %s", strerror(errno));
    if ((r.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        pb_die("epoll_create1: %s", strerror(errno));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;                         /* NULL marks the signal descriptor */
    if (epoll_ctl(r.ep, EPOLL_CTL_ADD, r.sigfd, &ev) != 0)
        pb_die("epoll_ctl: %s", strerror(errno));

    r.conn = calloc(r.o.conns, sizeof(pb_conn));
    r.scratch = pb_xmalloc(PB_REQUEST_MAX);
    rbuf = pb_xmalloc(PB_READ_CHUNK);
    if (r.conn == NULL)
        abort();
    for (unsigned i = 0; i < r.o.conns; i++) {
        r.conn[i].fd = -1;
        r.conn[i].idx = i;
        r.conn[i].tpl = i % r.ntpl;
        r.conn[i].state = PB_CLOSED;
        r.conn[i].retry_ms = 0;
    }
    pb_report_rss(&r, "before");

    r.t_start_ns = pb_now_ns();
    r.t_measure_ns = r.t_start_ns + (uint64_t) r.o.warmup * 1000000000u;
    r.t_end_ns = r.t_start_ns + (uint64_t) r.o.duration * 1000000000u;
    if (r.o.hold)                               /* hold mode counts the requests from the start */
        r.t_measure_ns = r.t_start_ns;
    now = r.t_start_ns;
    pb_housekeeping(&r, now);
    {
        uint64_t last_tick = now;

        while (!r.stop) {
            pb_poll(&r, events, rbuf, PB_TICK_MS);
            now = pb_now_ns();
            if (!r.stop && (now - last_tick >= (uint64_t) PB_TICK_MS * 1000000u || r.connecting > 0)) {
                last_tick = now;
                pb_housekeeping(&r, now);
            }
            if (now >= r.t_end_ns && !r.stop) {
                r.stop = true;
                r.why_stop = "duration (-d) over";
            }
        }
    }
    r.t_stop_ns = pb_now_ns();
    pb_drain(&r, events, rbuf);
    if (r.o.hold && !r.held_reported)
        printf("held: only %u of %u connections reached the idle state\n", r.held, r.o.conns);
    pb_report_rss(&r, "end");
    pb_report(&r, r.t_stop_ns);

    for (unsigned i = 0; i < r.o.conns; i++) {
        if (r.conn[i].fd >= 0)
            close(r.conn[i].fd);
        free(r.conn[i].out);
        free(r.conn[i].in);
    }
    for (size_t i = 0; i < r.ntpl; i++)
        free(r.tpl[i]);
    free(r.tpl);
    free(r.conn);
    free(r.scratch);
    free(rbuf);
    close(r.ep);
    close(r.sigfd);
    return r.errors_total > 0 || (r.o.hold && r.held != r.o.conns) ? 1 : 0;
}
