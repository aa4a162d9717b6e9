/*
 * decide.c - from a policy request to checks, and from verdicts to the reply.
 *
 * USAGE
 *	state = decide_state_of(req);
 *	ev = decide_evidence(req, alg, rep);		(rep: log problems)
 *	for each configured kind:
 *	    if ((name = decide_claimed(req, kind, buf)) != NULL)
 *	        ... check or reuse ...
 *	decide_reply(snap, state, results, milter, out, sizeof(out), &len);
 *
 * DESCRIPTION
 *	Requests: only request=smtpd_access_policy at protocol_state RCPT
 *	or DATA lead to checks; everything else is answered DUNNO.
 *
 *	Claimed names: helo_name; the domain of sender (the null sender
 *	has none); client_name unless "unknown".  A name that normalizes
 *	is returned normalized, so "MTA1.Example.NET." and
 *	"mta1.example.net" share one verdict; an invalid one is returned
 *	as sent and check_start() turns it into none.
 *
 *	Evidence: ccert_der (base64 DER) first, then
 *	ccert_pubkey_fingerprint (selector 1) and ccert_fingerprint
 *	(selector 0) in fingerprint_digest.  An attribute that cannot be
 *	used is reported and left out; the rest still counts.
 *
 *	Replies at RCPT look only at identities whose normalized name is
 *	in authorized_clients: any pass -> OK (a pass from a stale answer
 *	only with stale_relay; else it counts as no result); else any temperror ->
 *	temperror_action; else any fail -> fail_action; else DUNNO.  At
 *	DATA: "PREPEND Authentication-Results: ..." with one dane result
 *	per identity that had a valid claimed name, in the order helo,
 *	mailfrom, ptr (smtp.helo, smtp.mailfrom, policy.ptr), as
 *	results_header_value() writes it on one line.  With a milter writing
 *	the header, DATA answers DUNNO, and the milter asks
 *	results_header_value() for the same field folded over lines.  Never
 *	an empty action.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/panic.h"
#include "lib/text.h"
#include "decide.h"

/* decide_state_of - classify a request by its request type and protocol_state. */
decide_state decide_state_of(const policy_request *req)
{
    const char *type = policy_get_attr(req, POLICY_ATTR_REQUEST);
    const char *state = policy_get_attr(req, POLICY_ATTR_PROTOCOL_STATE);

    if (type == NULL || strcmp(type, "smtpd_access_policy") != 0 || state == NULL)
        return DECIDE_STATE_OTHER;
    if (strcasecmp(state, "RCPT") == 0)
        return DECIDE_STATE_RCPT;
    if (strcasecmp(state, "DATA") == 0)
        return DECIDE_STATE_DATA;
    return DECIDE_STATE_OTHER;
}

/* decide_claimed - the claimed name for kind, or NULL when there is none to check. */
const char *decide_claimed(const policy_request *req, results_kind kind, char buf[IDENTITY_NAME_MAX])
{
    static const policy_attr attr[RESULTS_KINDS] = {
        POLICY_ATTR_HELO_NAME, POLICY_ATTR_SENDER, POLICY_ATTR_CLIENT_NAME
    };

    if ((unsigned) kind >= RESULTS_KINDS)
        DANCE_PANIC("unexpected: (unsigned) kind >= RESULTS_KINDS");
    return results_claimed_value(kind, policy_get_attr(req, attr[kind]), buf);
}

/* decide_report - record a problem with one attribute. */
static void decide_report(decide_ev_report *r, decide_ev_problem p, const char *attr,
                          const char *detail)
{
    size_t n = strlen(detail);

    r->problem = p;
    r->attr = attr;
    if (n >= sizeof(r->detail))
        n = sizeof(r->detail) - 1;
    memcpy(r->detail, detail, n);
    r->detail[n] = '\0';
}

/* decide_fingerprint - add one fingerprint attribute; reports its problem in r. */
static void decide_fingerprint(evidence *ev, const policy_request *req, policy_attr attr,
                               int selector, digest_alg alg, decide_ev_report *r)
{
    const char *v = policy_get_attr(req, attr);
    evidence_status st;
    char detail[128];
    size_t hex = 0;

    if (v == NULL || *v == '\0')
        return;
    st = evidence_add_digest(ev, selector, alg, v);
    if (st == EVIDENCE_OK)
        return;
    if (st == EVIDENCE_BAD_LENGTH || st == EVIDENCE_WEAK_DIGEST) {
        for (const char *p = v; *p != '\0'; p++)
            if (*p != ':')
                hex++;
        snprintf(detail, sizeof(detail), "%zu octets, but fingerprint_digest is %s (%zu octets)",
                 hex / 2, alg == DIGEST_SHA512 ? "sha512" : "sha256", evidence_digest_len(alg));
        decide_report(r, DECIDE_EV_DIGEST_MISMATCH, policy_attr_name(attr), detail);
    } else {
        decide_report(r, DECIDE_EV_BAD, policy_attr_name(attr), evidence_status_str(st));
    }
}

/* decide_der - add the ccert_der certificate; reports its problem in r. */
static void decide_der(evidence *ev, const policy_request *req, decide_ev_report *r)
{
    const char *v = policy_get_attr(req, POLICY_ATTR_CCERT_DER);
    unsigned char *der;
    size_t len = 0;
    policy_status pst;
    evidence_status est;

    if (v == NULL || *v == '\0')
        return;
    der = xmalloc(POLICY_DER_MAX);
    pst = policy_base64_decode(v, der, POLICY_DER_MAX, &len);
    if (pst != POLICY_OK) {
        decide_report(r, DECIDE_EV_BAD, "ccert_der", policy_status_str(pst));
        free(der);
        return;
    }
    est = evidence_add_der(ev, der, len);
    free(der);
    if (est != EVIDENCE_OK)
        decide_report(r, DECIDE_EV_BAD, "ccert_der", evidence_status_str(est));
}

/* decide_evidence - build evidence from the certificate attributes. */
evidence *decide_evidence(const policy_request *req, digest_alg alg, decide_ev_report rep[DECIDE_EV_ATTRS])
{
    evidence *ev = evidence_new();

    for (size_t i = 0; i < DECIDE_EV_ATTRS; i++)
        decide_report(&rep[i], DECIDE_EV_OK, "", "");
    decide_der(ev, req, &rep[0]);
    decide_fingerprint(ev, req, POLICY_ATTR_CCERT_PUBKEY_FINGERPRINT, 1, alg, &rep[1]);
    decide_fingerprint(ev, req, POLICY_ATTR_CCERT_FINGERPRINT, 0, alg, &rep[2]);
    return ev;
}

/* decide_action_word - the Postfix action of a configured action. */
static const char *decide_action_word(config_action a)
{
    switch (a) {
    case CONFIG_ACTION_DUNNO:
        return "DUNNO";
    case CONFIG_ACTION_DEFER_IF_PERMIT:
        return "DEFER_IF_PERMIT";
    case CONFIG_ACTION_DEFER:
        return "DEFER";
    case CONFIG_ACTION_REJECT:
        return "REJECT";
    }
    DANCE_PANIC("%s: unhandled case", __func__);
}

/* decide_configured - reply with a configured action; text gets a 4.7.x or 5.7.x code. */
static void decide_configured(config_action a, const char *minor, const char *what,
                              const results_item *r, char *out, size_t outsize, size_t *len)
{
    char text[512];

    if (a == CONFIG_ACTION_DUNNO) {
        if (policy_reply(out, outsize, "DUNNO", NULL, len) != POLICY_OK)
            DANCE_PANIC("unexpected: policy_reply(out, outsize, \"DUNNO\", NULL, len) != POLICY_OK");
        return;
    }
    snprintf(text, sizeof(text), "%c.7.%s DANE %s %s (%s)", a == CONFIG_ACTION_REJECT ? '5' : '4',
             minor, what, r->name, r->reason);
    if (policy_reply(out, outsize, decide_action_word(a), text, len) != POLICY_OK)
        DANCE_PANIC("unexpected: policy_reply(out, outsize, decide_action_word(a), text, len) != POLICY_OK");
}

/* decide_rcpt - the relay decision. */
static void decide_rcpt(const snapshot *snap, const results_item res[RESULTS_KINDS],
                        char *out, size_t outsize, size_t *len)
{
    const results_item *temp = NULL, *fail = NULL;

    for (int k = 0; k < RESULTS_KINDS; k++) {
        const results_item *r = &res[k];

        if (!r->present || r->name[0] == '\0'
            || !identity_in_list(r->name, (const char *const *) snap->cfg.authorized_clients.v,
                                 snap->cfg.authorized_clients.n))
            continue;
        if (r->result == VERDICT_PASS && r->stale && !snap->cfg.stale_relay)
            continue;                   /* the header says pass; relaying needs a fresh one */
        if (r->result == VERDICT_PASS) {
            if (policy_reply(out, outsize, "OK", NULL, len) != POLICY_OK)
                DANCE_PANIC("unexpected: policy_reply(out, outsize, \"OK\", NULL, len) != POLICY_OK");
            return;
        }
        if (r->result == VERDICT_TEMPERROR && temp == NULL)
            temp = r;
        if (r->result == VERDICT_FAIL && fail == NULL)
            fail = r;
    }
    if (temp != NULL)
        decide_configured(snap->cfg.temperror_action, "0", "check temporarily failed for",
                          temp, out, outsize, len);
    else if (fail != NULL)
        decide_configured(snap->cfg.fail_action, "1", "authentication failed for",
                          fail, out, outsize, len);
    else if (policy_reply(out, outsize, "DUNNO", NULL, len) != POLICY_OK)
        DANCE_PANIC("%s: unhandled case", __func__);
}

/* decide_data - the Authentication-Results header as a PREPEND action. */
static void decide_data(const snapshot *snap, const results_item res[RESULTS_KINDS],
                        char *out, size_t outsize, size_t *len)
{
    char value[AUTHRES_FIELD_MAX];

    results_header_value(snap, res, false, value, sizeof(value));
    if (policy_reply_prepend(out, outsize, RESULTS_AR_FIELD, value, len) != POLICY_OK)
        DANCE_PANIC("unexpected: policy_reply_prepend(out, outsize, RESULTS_AR_FIELD, value, len) != POLICY_OK");
}

/* decide_reply - the reply for the state given the identities' results. */
void decide_reply(const snapshot *snap, decide_state state, const results_item res[RESULTS_KINDS],
                  bool milter, char *out, size_t outsize, size_t *len)
{
    if (state == DECIDE_STATE_RCPT)
        decide_rcpt(snap, res, out, outsize, len);
    else if (state == DECIDE_STATE_DATA && !milter)
        decide_data(snap, res, out, outsize, len);
    else if (policy_reply(out, outsize, "DUNNO", NULL, len) != POLICY_OK)
        DANCE_PANIC("%s: unhandled case", __func__);
}
