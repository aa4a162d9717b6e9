/*
 * cmd_stats.c - "dance stats": danced's counters, fetched from its
 * stats_socket and shown as a short table.
 *
 * USAGE
 *	dance stats [-c FILE | --stats-socket ENDPOINT] [--timeout SECONDS]
 *
 * DESCRIPTION
 *	GET /metrics (http_get.c) from the endpoint given, or else from the
 *	stats_socket of the configuration file (default DANCE_CONFIG_FILE),
 *	and read the Prometheus text danced serves (danced/metrics.c): each
 *	"name{label="value",...} number" line of a dance_ metric is added
 *	to the figures it belongs to; comments and other metrics are
 *	skipped.  The table sums the verdicts by identity and result (both
 *	faces), and shows the policy requests, the open connections, the
 *	milter's messages and the forged fields it removed, the DNS
 *	look-ups by DNSSEC status, the cache, and the number and average
 *	time of the checks.
 *
 *	Exit status: 0 shown; 64 usage; 66 the configuration file cannot
 *	be read or names no stats_socket; 69 danced cannot be reached; 76
 *	the answer is not danced's counters (an HTTP error, another server).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dance_build.h"
#include "lib/config.h"
#include "cli.h"
#include "http_get.h"

#define STATS_EXIT_UNAVAILABLE 69
#define STATS_EXIT_PROTOCOL 76
#define STATS_ANSWER_MAX (1024 * 1024)    /* octets of answer read at most */
#define STATS_TIMEOUT_S 5                 /* default --timeout */
#define STATS_LABEL_MAX 64                /* octets of a label value kept */

static const char *const stats_identities[] = { "helo", "mailfrom", "ptr" };
static const char *const stats_results[] = { "pass", "fail", "none", "neutral", "temperror", "permerror" };
static const char *const stats_faces[] = { "policy", "milter" };
static const char *const stats_requests[] = { "rcpt", "data", "other" };
static const char *const stats_dns[] = { "secure", "insecure", "bogus", "error" };
static const char *const stats_limits[] = { "client", "in_flight" };

#define STATS_N(a) (sizeof(a) / sizeof((a)[0]))

/* The figures the table shows, summed from the text. */
typedef struct stats_figures {
    double verdicts[3][6];            /* identity x result, both faces */
    double by_face[2];
    double requests[3];
    double connections[2];            /* policy, milter */
    double messages, forged;
    double dns[4];
    double hits, misses, entries, reused, stale;
    double refused[2];                /* look-up budget refusals: client, in_flight */
    double checks, check_seconds;
    char version[STATS_LABEL_MAX];
    size_t series;                    /* dance_ lines read */
} stats_figures;

/* One series line, split. */
typedef struct stats_line {
    char name[96];
    char label[4][2][STATS_LABEL_MAX]; /* key, value */
    size_t nlabels;
    double value;
} stats_line;

static const char cli_stats_usage[] =
    "usage: dance stats [-c FILE | --stats-socket ENDPOINT] [--timeout SECONDS]\n"
    "Show danced's counters, read from its stats_socket (GET /metrics).\n"
    "\n"
    "  -c FILE                  the configuration file naming stats_socket\n"
    "                           (default " DANCE_CONFIG_FILE ")\n"
    "  --stats-socket ENDPOINT  inet:HOST:PORT, inet:[IPv6]:PORT or unix:/path instead\n"
    "  --timeout SECONDS        give up after this long (default 5)\n"
    "\n"
    "Exit status: 0 shown, 64 usage error, 66 no readable stats_socket setting,\n"
    "69 danced cannot be reached, 76 the answer is not danced's counters.\n";

/* stats_index - the position of word in names, or -1. */
static int stats_index(const char *const *names, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], word) == 0)
            return (int) i;
    return -1;
}

/* stats_label - the value of label key in l, or "". */
static const char *stats_label(const stats_line *l, const char *key)
{
    for (size_t i = 0; i < l->nlabels; i++)
        if (strcmp(l->label[i][0], key) == 0)
            return l->label[i][1];
    return "";
}

/* stats_copy_until - copy from *p up to one of stop (cut at size - 1); *p left on the stop. */
static void stats_copy_until(const char **p, const char *stop, char *out, size_t size)
{
    size_t n = 0;

    for (; **p != '\0' && strchr(stop, **p) == NULL; (*p)++)
        if (n + 1 < size)
            out[n++] = **p;
    out[n] = '\0';
}

/* stats_split - one series line into name, labels and value; false when it is not one. */
static bool stats_split(const char *s, stats_line *l)
{
    const char *p = s;
    char *end;

    memset(l, 0, sizeof(*l));
    stats_copy_until(&p, "{ ", l->name, sizeof(l->name));
    if (*p == '{') {
        p++;
        while (*p != '}') {
            char *key = l->nlabels < 4 ? l->label[l->nlabels][0] : NULL;
            char *val = l->nlabels < 4 ? l->label[l->nlabels][1] : NULL;
            char skip[STATS_LABEL_MAX];
            size_t n = 0;

            stats_copy_until(&p, "=}", key != NULL ? key : skip, STATS_LABEL_MAX);
            if (p[0] != '=' || p[1] != '"')
                return false;
            for (p += 2; *p != '"'; p++) {
                if (*p == '\0')
                    return false;
                if (*p == '\\' && p[1] != '\0')
                    p++;
                if (val != NULL && n + 1 < STATS_LABEL_MAX)
                    val[n++] = *p;
            }
            if (val != NULL)
                val[n] = '\0';
            l->nlabels += l->nlabels < 4;
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return false;
        }
        p++;
    }
    if (*p != ' ')
        return false;
    l->value = strtod(p + 1, &end);
    return end != p + 1;
}

/* stats_add - add one series line to the figures it belongs to. */
static void stats_add(stats_figures *f, const stats_line *l)
{
    const char *n = l->name;
    int a, b, c;

    if (strncmp(n, "dance_", 6) == 0)
        f->series++;
    if (strcmp(n, "dance_verdicts_total") == 0) {
        a = stats_index(stats_identities, STATS_N(stats_identities), stats_label(l, "identity"));
        b = stats_index(stats_results, STATS_N(stats_results), stats_label(l, "result"));
        c = stats_index(stats_faces, STATS_N(stats_faces), stats_label(l, "face"));
        if (a >= 0 && b >= 0)
            f->verdicts[a][b] += l->value;
        if (c >= 0)
            f->by_face[c] += l->value;
    } else if (strcmp(n, "dance_policy_requests_total") == 0) {
        if ((a = stats_index(stats_requests, STATS_N(stats_requests), stats_label(l, "request"))) >= 0)
            f->requests[a] += l->value;
    } else if (strcmp(n, "dance_dns_lookups_total") == 0) {
        if ((a = stats_index(stats_dns, STATS_N(stats_dns), stats_label(l, "status"))) >= 0)
            f->dns[a] += l->value;
    } else if (strcmp(n, "dance_lookup_budget_refusals_total") == 0) {
        if ((a = stats_index(stats_limits, STATS_N(stats_limits), stats_label(l, "limit"))) >= 0)
            f->refused[a] += l->value;
    } else if (strcmp(n, "dance_policy_connections") == 0) {
        f->connections[0] = l->value;
    } else if (strcmp(n, "dance_milter_connections") == 0) {
        f->connections[1] = l->value;
    } else if (strcmp(n, "dance_milter_messages_total") == 0) {
        f->messages = l->value;
    } else if (strcmp(n, "dance_forged_fields_removed_total") == 0) {
        f->forged = l->value;
    } else if (strcmp(n, "dance_cache_hits_total") == 0) {
        f->hits = l->value;
    } else if (strcmp(n, "dance_cache_misses_total") == 0) {
        f->misses = l->value;
    } else if (strcmp(n, "dance_cache_entries") == 0) {
        f->entries = l->value;
    } else if (strcmp(n, "dance_verdict_cache_hits_total") == 0) {
        f->reused = l->value;
    } else if (strcmp(n, "dance_stale_verdicts_total") == 0) {
        f->stale = l->value;
    } else if (strcmp(n, "dance_check_duration_seconds_count") == 0) {
        f->checks = l->value;
    } else if (strcmp(n, "dance_check_duration_seconds_sum") == 0) {
        f->check_seconds = l->value;
    } else if (strcmp(n, "dance_build_info") == 0) {
        snprintf(f->version, sizeof(f->version), "%s", stats_label(l, "version"));
    }
}

/* stats_read - the figures of the text body (NUL-terminated); the dance_ lines counted in f->series. */
static void stats_read(const char *body, stats_figures *f)
{
    char line[512];

    memset(f, 0, sizeof(*f));
    for (const char *p = body; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        size_t len = eol != NULL ? (size_t) (eol - p) : strlen(p);
        stats_line l;

        if (len < sizeof(line) && *p != '#') {
            memcpy(line, p, len);
            line[len] = '\0';
            if (stats_split(line, &l))
                stats_add(f, &l);
        }
        p += len + (eol != NULL);
    }
}

/* stats_u - a counter as a whole number. */
static unsigned long long stats_u(double v)
{
    return v > 0 ? (unsigned long long) (v + 0.5) : 0;
}

/* stats_print - the table. */
static void stats_print(const stats_figures *f, const char *endpoint)
{
    double total[6] = { 0 }, all = 0;

    printf("danced %s, stats_socket %s\n\n", f->version[0] != '\0' ? f->version : "?", endpoint);
    printf("%-10s", "verdicts");
    for (size_t r = 0; r < STATS_N(stats_results); r++)
        printf(" %9s", stats_results[r]);
    printf(" %9s\n", "total");
    for (size_t i = 0; i < STATS_N(stats_identities); i++) {
        double sum = 0;

        printf("  %-8s", stats_identities[i]);
        for (size_t r = 0; r < STATS_N(stats_results); r++) {
            printf(" %9llu", stats_u(f->verdicts[i][r]));
            sum += f->verdicts[i][r];
            total[r] += f->verdicts[i][r];
        }
        printf(" %9llu\n", stats_u(sum));
        all += sum;
    }
    printf("  %-8s", "total");
    for (size_t r = 0; r < STATS_N(stats_results); r++)
        printf(" %9llu", stats_u(total[r]));
    printf(" %9llu\n", stats_u(all));
    printf("  (policy face %llu, milter face %llu; a verdict reused from a connection's memo is not "
           "counted)\n\n", stats_u(f->by_face[0]), stats_u(f->by_face[1]));
    printf("policy requests   rcpt %llu, data %llu, other %llu\n", stats_u(f->requests[0]),
           stats_u(f->requests[1]), stats_u(f->requests[2]));
    printf("connections       policy %llu, milter %llu\n", stats_u(f->connections[0]),
           stats_u(f->connections[1]));
    printf("milter messages   %llu, forged fields removed %llu\n", stats_u(f->messages), stats_u(f->forged));
    printf("DNS lookups       secure %llu, insecure %llu, bogus %llu, error %llu\n", stats_u(f->dns[0]),
           stats_u(f->dns[1]), stats_u(f->dns[2]), stats_u(f->dns[3]));
    printf("cache             hits %llu, misses %llu, entries %llu\n", stats_u(f->hits), stats_u(f->misses),
           stats_u(f->entries));
    printf("verdict cache     hits %llu\n", stats_u(f->reused));
    printf("stale verdicts    %llu\n", stats_u(f->stale));
    printf("look-up budget    refused: client %llu, in flight %llu\n", stats_u(f->refused[0]),
           stats_u(f->refused[1]));
    printf("checks            %llu, average %.3f s\n", stats_u(f->checks),
           f->checks > 0 ? f->check_seconds / f->checks : 0.0);
}

/* stats_endpoint_of - the stats_socket of the configuration file into out; the exit status. */
static int stats_endpoint_of(const char *file, char *out, size_t size)
{
    dance_config cfg;
    char err[512];
    int status = 0;

    config_init(&cfg);
    if (config_load(file, &cfg, err, sizeof(err)) != CONFIG_OK) {
        fprintf(stderr, "dance stats: %s\n", err);
        status = EXIT_NOINPUT;
    } else if (cfg.stats_socket == NULL || cfg.stats_socket[0] == '\0') {
        fprintf(stderr, "dance stats: %s: stats_socket is none: set it (and reload danced), or give "
                "--stats-socket\n", file);
        status = EXIT_NOINPUT;
    } else if (strlen(cfg.stats_socket) >= size) {
        fprintf(stderr, "dance stats: %s: stats_socket is too long\n", file);
        status = EXIT_NOINPUT;
    } else {
        snprintf(out, size, "%s", cfg.stats_socket);
    }
    config_free(&cfg);
    return status;
}

/* cli_stats - "dance stats": argv[0] is "stats"; returns the exit status. */
int cli_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        { "stats-socket", required_argument, NULL, 's' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *file = NULL, *sock = NULL;
    char endpoint[CONFIG_LINE_MAX], err[600];
    unsigned long timeout = STATS_TIMEOUT_S;
    http_get_reply reply;
    stats_figures f;
    int c, status;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 's':
            sock = optarg;
            break;
        case 't':
            if (cli_parse_uint(optarg, 1, 300, &timeout) != 0)
                return cli_usage_error("stats", "--timeout: expected whole seconds from 1 to 300", optarg);
            break;
        case 'h':
            fputs(cli_stats_usage, stdout);
            return 0;
        default:
            fputs(cli_stats_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error("stats", "unexpected argument", argv[optind]);
    if (file != NULL && sock != NULL)
        return cli_usage_error("stats", "-c and --stats-socket exclude each other", NULL);
    if (sock != NULL)
        snprintf(endpoint, sizeof(endpoint), "%s", sock);
    else if ((status = stats_endpoint_of(file != NULL ? file : DANCE_CONFIG_FILE, endpoint,
                                         sizeof(endpoint))) != 0)
        return status;
    switch (http_get(endpoint, "/metrics", (long long) timeout * 1000, STATS_ANSWER_MAX, &reply, err,
                     sizeof(err))) {
    case HTTP_GET_OK:
        break;
    case HTTP_GET_BAD_ENDPOINT:
        return cli_usage_error("stats", "--stats-socket", err);
    case HTTP_GET_UNREACHABLE:
        fprintf(stderr, "dance stats: cannot reach danced: %s (is danced running with this stats_socket?)\n",
                err);
        return STATS_EXIT_UNAVAILABLE;
    case HTTP_GET_BAD_ANSWER:
        fprintf(stderr, "dance stats: %s\n", err);
        return STATS_EXIT_PROTOCOL;
    }
    if (reply.code != 200) {
        fprintf(stderr, "dance stats: %s: danced answered %d %s\n", endpoint, reply.code, reply.reason);
        http_get_reply_free(&reply);
        return STATS_EXIT_PROTOCOL;
    }
    stats_read(reply.body, &f);
    http_get_reply_free(&reply);
    if (f.series == 0 || f.version[0] == '\0') {
        fprintf(stderr, "dance stats: %s: the answer holds no danced counters\n", endpoint);
        return STATS_EXIT_PROTOCOL;
    }
    stats_print(&f, endpoint);
    return 0;
}
