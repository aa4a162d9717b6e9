/*
 * fuzz_policy.c - libFuzzer target: the policy protocol and what danced
 * does with a request before any DNS.
 *
 * The input is fed to policy_parse() in pieces whose sizes the first bytes
 * choose, as a network would deliver it.  For every complete request: its
 * state, the claimed name of each kind, the evidence built from its
 * certificate attributes (fingerprints in sha256 and sha512, base64
 * ccert_der), and the reply for RCPT and DATA with results taken from the
 * input.  Checked: the parser consumes within what it was given; a reply
 * is exactly one "action=..." line ended by an empty line, never an empty
 * action, nothing unprintable; the evidence id is stable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "danced/snapshot.h"
#include "policy/decide.h"
#include "policy/protocol.h"

static snapshot *fuzz_snap;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_conf - a snapshot from a small configuration, as danced loads one. */
static snapshot *fuzz_conf(const char *text)
{
    char path[] = "/tmp/fuzz_policy.XXXXXX", err[512];
    snapshot *s;
    int fd = mkstemp(path);

    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
        abort();
    close(fd);
    if (snapshot_load(path, NULL, &s, err, sizeof(err)) != SNAPSHOT_OK)
        abort();
    unlink(path);
    return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_snap = fuzz_conf("authserv_id = mx.fuzz.test\nauthorized_clients = .ok.test, mta1.example\n"
                          "identities = helo, mailfrom, ptr\ntemperror_action = defer\n"
                          "fail_action = reject\n");
    return 0;
}

/* fuzz_reply_ok - a reply is one printable "action=X" line and an empty line. */
static void fuzz_reply_ok(const char *out, size_t len)
{
    if (len < 10 || len != strlen(out) || strncmp(out, "action=", 7) != 0 || out[7] == '\n'
        || out[len - 1] != '\n' || out[len - 2] != '\n')
        abort();
    for (size_t i = 0; i + 2 < len; i++)
        if ((unsigned char) out[i] < 0x20 || (unsigned char) out[i] > 0x7e)
            abort();
}

/* fuzz_request - everything danced does with one request short of DNS. */
static void fuzz_request(const policy_request *req, const uint8_t *data, size_t size)
{
    decide_ev_report rep[DECIDE_EV_ATTRS];
    unsigned char id1[EVIDENCE_ID_MAX], id2[EVIDENCE_ID_MAX];
    results_item res[RESULTS_KINDS];
    char buf[IDENTITY_NAME_MAX], out[DECIDE_REPLY_MAX];
    size_t len;

    (void) decide_state_of(req);
    for (int alg = DIGEST_SHA256; alg <= DIGEST_SHA512; alg++) {
        evidence *ev = decide_evidence(req, (digest_alg) alg, rep);
        evidence *ev2 = decide_evidence(req, (digest_alg) alg, rep);
        size_t n1 = ev != NULL ? evidence_id(ev, id1) : 0;
        size_t n2 = ev2 != NULL ? evidence_id(ev2, id2) : 0;

        if ((ev == NULL) != (ev2 == NULL) || n1 != n2 || n1 > EVIDENCE_ID_MAX || memcmp(id1, id2, n1) != 0)
            abort();            /* the evidence and its id are a function of the request */
        evidence_free(ev);
        evidence_free(ev2);
    }
    memset(res, 0, sizeof(res));
    for (int k = 0; k < RESULTS_KINDS; k++) {
        const char *c = decide_claimed(req, (results_kind) k, buf);
        uint8_t b = size > (size_t) k ? data[k] : 0;

        if (c == NULL)
            continue;
        res[k].present = true;
        res[k].result = (verdict_result) (b % (VERDICT_PASS + 1));
        /* only a normalized name reaches the reply, as in the daemon */
        if (identity_normalize(c, res[k].name) != IDENTITY_OK)
            res[k].name[0] = '\0';
        snprintf(res[k].reason, sizeof(res[k].reason), "%.*s", (int) (b % 40), c);
    }
    for (int st = DECIDE_STATE_OTHER; st <= DECIDE_STATE_DATA; st++) {
        for (int milter = 0; milter < 2; milter++) {
            decide_reply(fuzz_snap, (decide_state) st, res, milter, out, sizeof(out), &len);
            fuzz_reply_ok(out, len);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    policy_parser p;
    size_t off = 0, used, step;
    policy_status st;

    policy_parser_init(&p);
    while (off < size) {
        /* a piece of 1..256 bytes, its size taken from the byte at the start */
        step = 1 + (size_t) (data[off] % 256);
        if (step > size - off)
            step = size - off;
        st = policy_parse(&p, (const char *) data + off, step, &used);
        if (used > step)
            abort();
        if (st == POLICY_NEED_MORE) {
            if (used != step)
                abort();        /* all of it taken while waiting for more */
            off += step;
            continue;
        }
        if (st != POLICY_REQUEST_DONE)
            break;              /* danced logs it and closes the connection */
        fuzz_request(policy_parser_request(&p), data, size);
        policy_parser_reset(&p);
        off += used;
    }
    policy_parser_free(&p);
    return 0;
}
