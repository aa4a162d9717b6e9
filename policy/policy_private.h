/*
 * policy_private.h - what the policy face's files share.
 *
 * The face (policy_face: its listener), one connection from Postfix
 * (session: bytes in and out, timeouts, the memo, the join record it
 * owns) and one request being answered (request: its evidence, one item
 * per claimed identity, the results).  session.c moves bytes and keeps
 * the connection; request.c answers a request; policy.c is the face.
 * Nothing here is used outside policy/.
 */
#ifndef DANCE_POLICY_POLICY_PRIVATE_H
#define DANCE_POLICY_POLICY_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/netaddr.h"
#include "danced/danced.h"
#include "danced/dlog.h"
#include "danced/dnsloop.h"
#include "danced/join.h"
#include "danced/listen.h"
#include "danced/results.h"
#include "decide.h"
#include "memo.h"
#include "protocol.h"

struct event;

#define SESSION_INSTANCE_MAX 64         /* Postfix's instance attribute: "5357.6b0b2e52.2bffc.0" */

typedef struct request request;
typedef struct session session;

/* The face: its listener, and the daemon it serves. */
typedef struct policy_face {
    danced *d;
    listener *srv;
} policy_face;

/* One claimed identity of a request. */
typedef struct request_item {
    request *req;
    results_kind kind;
    bool present;                     /* a claimed name is there */
    int alias;                        /* earlier item with the same key, or -1 */
    unsigned kinds;                   /* CONFIG_IDENTITY_* bits sharing this verdict (for the log) */
    const char *claimed;              /* into the parser's request or into buf */
    char buf[IDENTITY_NAME_MAX];
    dnsloop_slot check;               /* the look-up in progress */
} request_item;

/* A request being answered. */
struct request {
    session *s;
    snapshot *snap;                   /* settings as when the request came */
    decide_state state;
    evidence *ev;
    unsigned char evid[EVIDENCE_ID_MAX];  /* evidence_id(ev): names the certificate in keys */
    size_t evid_len;
    netaddr client;                   /* client_address, for the look-up budget (family 0: unknown) */
    request_item item[RESULTS_KINDS];
    results_item res[RESULTS_KINDS];
    size_t outstanding;
    bool starting;
    bool joined;                      /* the session's join record waits for these verdicts */
};

/* The join record a session owns: its DATA request's message. */
typedef struct session_join {
    join_key key;
    uint64_t ticket;
    char instance[SESSION_INSTANCE_MAX];  /* Postfix's transaction, "" when not given */
} session_join;

struct session {
    listen_conn link;                 /* in the face's listener */
    policy_face *pf;
    danced *d;                        /* pf->d */
    int fd;
    struct event *ev;                 /* readable, with the idle timeout */
    struct event *wev;                /* writable, only once a reply got stuck */
    policy_parser parser;
    memo *memo;
    unsigned long memo_generation;    /* snapshot generation the memo's verdicts belong to */
    request *req;                     /* request in progress */
    char *spill;                      /* bytes read beyond the last request */
    size_t spill_len;
    char *out;                        /* reply bytes not yet written */
    size_t out_len;
    bool draining;                    /* close after the reply in progress */
    bool partial;                     /* part of a request has arrived */
    long long request_deadline_ms;    /* while partial: when the request must be complete */
    session_join *join;               /* the DATA record this connection owns, NULL when none (allocated
                                         only then: an idle connection stays small) */
    char peer[LISTEN_PEER_MAX];
};

/* session_accept - (listener) take over the connected, non-blocking fd for the face arg; peer names it in logs. */
void session_accept(void *arg, int fd, const char *peer);

/* session_send - (request.c) write a reply; what the socket does not take waits for a write event. */
void session_send(session *s, const char *buf, size_t len);

/*
 * request_dispatch - (session.c) a complete request is in s's parser:
 * answer it now, or start its checks and stop reading until the reply.
 * s may be closed on return.
 */
void request_dispatch(session *s);

/* request_free - release a request; its pending checks are aborted, its join record abandoned. */
void request_free(request *req);

#endif
