/*
 * metrics.c - danced's counters, and their text in the Prometheus
 * exposition format.
 *
 * USAGE
 *	metrics_init(&d->metrics);			(once, at start)
 *	metrics_verdict(m, METRICS_POLICY, RESULTS_HELO, v->result, us);
 *	metrics_policy_request(m, METRICS_RCPT);
 *	metrics_milter_message(m, removed);
 *	resolver_count_into(res, metrics_dns(m));
 *	metrics_render(m, &gauges, PACKAGE_VERSION, buf, sizeof(buf), &len);
 *
 * DESCRIPTION
 *	The counters are plain integers of the daemon context: everything
 *	runs on the event loop's thread.  The text (text format 0.0.4) has
 *	every series, zeros included, in a fixed order, so a scraper and a
 *	test see the same lines every time:
 *	    dance_verdicts_total{face,identity,result}	counter
 *	    dance_policy_requests_total{request}		counter
 *	    dance_policy_connections, dance_milter_connections	gauge
 *	    dance_milter_messages_total, dance_forged_fields_removed_total
 *	    dance_dns_lookups_total{status}			counter
 *	    dance_cache_hits_total, dance_cache_misses_total	counter
 *	    dance_cache_entries				gauge
 *	    dance_verdict_cache_hits_total			counter
 *	    dance_stale_verdicts_total				counter
 *	    dance_lookup_budget_refusals_total{limit}		counter
 *	    dance_check_duration_seconds			histogram
 *	    dance_build_info{version} 1			gauge
 *	DNS statuses are folded to four: secure (an RRset, or a secure
 *	denial), insecure, bogus, error (SERVFAIL, timeout, network).
 *	Durations are kept in microseconds, so the histogram's sum is
 *	written exactly, with six decimals.
 *
 * DIAGNOSTICS
 *	metrics_render() says METRICS_TOO_LONG when out is too small; the
 *	text is then cut and must not be served.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/panic.h"
#include "metrics.h"

/* The bucket bounds, as written and in microseconds. */
static const char *const metrics_le_text[METRICS_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"
};
static const long long metrics_le_us[METRICS_BUCKETS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000
};

/* The results in the order they are written. */
static const verdict_result metrics_result_order[METRICS_RESULTS] = {
    VERDICT_PASS, VERDICT_FAIL, VERDICT_NONE, VERDICT_NEUTRAL, VERDICT_TEMPERROR, VERDICT_PERMERROR
};

static const char *const metrics_face_name[METRICS_FACES] = { "policy", "milter" };
static const char *const metrics_request_name[METRICS_REQUESTS] = { "rcpt", "data", "other" };

/* The bounded text being written. */
typedef struct metrics_out {
    char *s;
    size_t size;
    size_t len;
    bool full;
} metrics_out;

static void metrics_put(metrics_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* metrics_put - append formatted text; what does not fit marks the text full. */
static void metrics_put(metrics_out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->full)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->s + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= o->size - o->len) {
        o->full = true;
        o->s[o->len] = '\0';
        return;
    }
    o->len += (size_t) n;
}

/* metrics_head - the HELP and TYPE lines of one metric. */
static void metrics_head(metrics_out *o, const char *name, const char *type, const char *help)
{
    metrics_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* metrics_label_value - a label value with '\', '"' and newline escaped, cut to fit out. */
static void metrics_label_value(const char *v, char *out, size_t size)
{
    size_t n = 0;

    for (; *v != '\0' && n + 3 < size; v++) {
        if (*v == '\\' || *v == '"') {
            out[n++] = '\\';
            out[n++] = *v;
        } else if (*v == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *v;
        }
    }
    out[n] = '\0';
}

/* metrics_init - every counter at zero. */
void metrics_init(metrics *m)
{
    memset(m, 0, sizeof(*m));
}

/* metrics_verdict - one verdict computed, and how long it took. */
void metrics_verdict(metrics *m, metrics_face face, results_kind identity, verdict_result result,
                     long long elapsed_us)
{
    size_t b = 0;

    if ((unsigned) face >= METRICS_FACES || (unsigned) identity >= RESULTS_KINDS
        || (unsigned) result >= METRICS_RESULTS)
        DANCE_PANIC("metrics_verdict: face %d, identity %d, result %d", (int) face, (int) identity,
                    (int) result);
    m->verdicts[face][identity][result]++;
    if (elapsed_us < 0)
        elapsed_us = 0;
    while (b < METRICS_BUCKETS && elapsed_us > metrics_le_us[b])
        b++;
    m->duration_in[b]++;
    m->duration_count++;
    m->duration_sum_us += (unsigned long long) elapsed_us;
}

/* metrics_verdict_reused - the last verdict counted came from the verdict cache. */
void metrics_verdict_reused(metrics *m)
{
    m->verdicts_reused++;
}

/* metrics_verdict_stale - the last verdict counted was decided from a stale answer. */
void metrics_verdict_stale(metrics *m)
{
    m->verdicts_stale++;
}

/* metrics_policy_request - one policy request of kind. */
void metrics_policy_request(metrics *m, metrics_request kind)
{
    if ((unsigned) kind >= METRICS_REQUESTS)
        DANCE_PANIC("metrics_policy_request: kind %d", (int) kind);
    m->requests[kind]++;
}

/* metrics_milter_message - one milter message answered, with its forged fields removed. */
void metrics_milter_message(metrics *m, size_t forged_removed)
{
    m->milter_messages++;
    m->forged_removed += forged_removed;
}

/* metrics_budget_refusal - one check refused by limit st. */
void metrics_budget_refusal(metrics *m, budget_status st)
{
    if (st != BUDGET_CLIENT && st != BUDGET_IN_FLIGHT)
        DANCE_PANIC("metrics_budget_refusal: not a refusal (%d)", (int) st);
    m->budget_refusals[st]++;
}

/* metrics_dns - the counters a resolver counts into. */
resolver_stats *metrics_dns(metrics *m)
{
    return &m->dns;
}

/* metrics_render_verdicts - dance_verdicts_total, every face, identity and result. */
static void metrics_render_verdicts(metrics_out *o, const metrics *m)
{
    metrics_head(o, "dance_verdicts_total", "counter",
                 "Verdicts computed, by face, identity and result. A verdict reused from a policy "
                 "connection's memo is not counted; one shared by two identities of a request "
                 "counts once, under the first.");
    for (int f = 0; f < METRICS_FACES; f++)
        for (int k = 0; k < RESULTS_KINDS; k++)
            for (int r = 0; r < METRICS_RESULTS; r++) {
                verdict_result res = metrics_result_order[r];

                metrics_put(o, "dance_verdicts_total{face=\"%s\",identity=\"%s\",result=\"%s\"} %llu\n",
                            metrics_face_name[f], results_kind_name((results_kind) k),
                            verdict_result_word(res), m->verdicts[f][k][res]);
            }
}

/* metrics_render_faces - the requests, connections and messages of the faces. */
static void metrics_render_faces(metrics_out *o, const metrics *m, const metrics_gauges *g)
{
    metrics_head(o, "dance_policy_requests_total", "counter",
                 "Policy requests, by protocol state (rcpt, data, other: any other state or request).");
    for (int r = 0; r < METRICS_REQUESTS; r++)
        metrics_put(o, "dance_policy_requests_total{request=\"%s\"} %llu\n", metrics_request_name[r],
                    m->requests[r]);
    metrics_head(o, "dance_policy_connections", "gauge", "Open policy connections.");
    metrics_put(o, "dance_policy_connections %zu\n", g->policy_connections);
    metrics_head(o, "dance_milter_connections", "gauge", "Open milter connections.");
    metrics_put(o, "dance_milter_connections %zu\n", g->milter_connections);
    metrics_head(o, "dance_milter_messages_total", "counter",
                 "Messages the milter answered at end of message.");
    metrics_put(o, "dance_milter_messages_total %llu\n", m->milter_messages);
    metrics_head(o, "dance_forged_fields_removed_total", "counter",
                 "Authentication-Results fields the milter removed (claiming our authserv-id, one under "
                 "it, a listed one, or unparseable).");
    metrics_put(o, "dance_forged_fields_removed_total %llu\n", m->forged_removed);
}

/* metrics_render_dns - the look-ups by status, and the cache. */
static void metrics_render_dns(metrics_out *o, const metrics *m, const metrics_gauges *g)
{
    const unsigned long long *l = m->dns.lookups;

    metrics_head(o, "dance_dns_lookups_total", "counter",
                 "TLSA look-ups answered by the DNS (not the cache), by DNSSEC status; error is "
                 "SERVFAIL, timeout or a network error.");
    metrics_put(o, "dance_dns_lookups_total{status=\"secure\"} %llu\n",
                l[RESOLVER_SECURE] + l[RESOLVER_SECURE_NXDOMAIN] + l[RESOLVER_SECURE_NODATA]);
    metrics_put(o, "dance_dns_lookups_total{status=\"insecure\"} %llu\n", l[RESOLVER_INSECURE]);
    metrics_put(o, "dance_dns_lookups_total{status=\"bogus\"} %llu\n", l[RESOLVER_BOGUS]);
    metrics_put(o, "dance_dns_lookups_total{status=\"error\"} %llu\n",
                l[RESOLVER_SERVFAIL] + l[RESOLVER_TIMEOUT] + l[RESOLVER_NETERR]);
    metrics_head(o, "dance_cache_hits_total", "counter", "TLSA look-ups answered from the cache.");
    metrics_put(o, "dance_cache_hits_total %llu\n", m->dns.cache_hits);
    metrics_head(o, "dance_cache_misses_total", "counter", "TLSA look-ups the cache could not answer.");
    metrics_put(o, "dance_cache_misses_total %llu\n", m->dns.cache_misses);
    metrics_head(o, "dance_cache_entries", "gauge", "Answers held in the current resolver's cache.");
    metrics_put(o, "dance_cache_entries %zu\n", g->cache_entries);
    metrics_head(o, "dance_verdict_cache_hits_total", "counter",
                 "Verdicts taken from those already computed for the same name and certificate "
                 "(no look-up at all; still logged and counted in dance_verdicts_total).");
    metrics_put(o, "dance_verdict_cache_hits_total %llu\n", m->verdicts_reused);
    metrics_head(o, "dance_stale_verdicts_total", "counter",
                 "Verdicts decided from a secure answer past its TTL because a new look-up failed "
                 "(stale_max; also counted in dance_verdicts_total).");
    metrics_put(o, "dance_stale_verdicts_total %llu\n", m->verdicts_stale);
    metrics_head(o, "dance_lookup_budget_refusals_total", "counter",
                 "Checks refused (temperror) by a look-up budget: a client's lookup_budget, or "
                 "lookups_in_flight_max.");
    metrics_put(o, "dance_lookup_budget_refusals_total{limit=\"client\"} %llu\n",
                m->budget_refusals[BUDGET_CLIENT]);
    metrics_put(o, "dance_lookup_budget_refusals_total{limit=\"in_flight\"} %llu\n",
                m->budget_refusals[BUDGET_IN_FLIGHT]);
}

/* metrics_render_duration - the histogram of one verdict's time. */
static void metrics_render_duration(metrics_out *o, const metrics *m)
{
    unsigned long long below = 0;

    metrics_head(o, "dance_check_duration_seconds", "histogram",
                 "Time to compute one verdict, DNS included (memo reuse not counted).");
    for (int b = 0; b < METRICS_BUCKETS; b++) {
        below += m->duration_in[b];
        metrics_put(o, "dance_check_duration_seconds_bucket{le=\"%s\"} %llu\n", metrics_le_text[b], below);
    }
    metrics_put(o, "dance_check_duration_seconds_bucket{le=\"+Inf\"} %llu\n", m->duration_count);
    metrics_put(o, "dance_check_duration_seconds_sum %llu.%06llu\n", m->duration_sum_us / 1000000,
                m->duration_sum_us % 1000000);
    metrics_put(o, "dance_check_duration_seconds_count %llu\n", m->duration_count);
}

/* metrics_render - the Prometheus text of m and g into out. */
metrics_status metrics_render(const metrics *m, const metrics_gauges *g, const char *version, char *out,
                              size_t size, size_t *len)
{
    metrics_out o = { out, size, 0, size == 0 };
    char v[128];

    if (size > 0)
        out[0] = '\0';
    metrics_render_verdicts(&o, m);
    metrics_render_faces(&o, m, g);
    metrics_render_dns(&o, m, g);
    metrics_render_duration(&o, m);
    metrics_label_value(version, v, sizeof(v));
    metrics_head(&o, "dance_build_info", "gauge", "Always 1; the label names the version of danced.");
    metrics_put(&o, "dance_build_info{version=\"%s\"} 1\n", v);
    *len = o.len;
    return o.full ? METRICS_TOO_LONG : METRICS_OK;
}
