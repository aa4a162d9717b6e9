/*
 * milter_private.h - what the milter face's files share.
 *
 * The face (milter_face: its listener and counters), one MTA connection
 * (mconn: the protocol state, the SMTP client's facts the MTA told, the
 * macros) and one message (milter_msg: MAIL FROM to end of message - its
 * configuration snapshot, the header hygiene, where its verdicts come
 * from).  mconn.c moves bytes and dispatches the commands; message.c
 * follows a message and answers its end; milter.c is the face.  Nothing
 * here is used outside milter/.
 */
#ifndef DANCE_MILTER_MILTER_PRIVATE_H
#define DANCE_MILTER_MILTER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "lib/netaddr.h"
#include "danced/danced.h"
#include "danced/dnsloop.h"
#include "danced/join.h"
#include "danced/listen.h"
#include "danced/results.h"
#include "danced/snapshot.h"
#include "hygiene.h"
#include "mproto.h"

#define MILTER_MACRO_MAX 256          /* a kept macro value (v, {verify}, {cert_fp}: SHA-512 is 191) */
#define MILTER_HELO_MAX 256
#define MILTER_SENDER_MAX 520         /* a path is at most 256 octets (RFC 5321) */
#define MILTER_PORT_MAX 8
#define MILTER_WAIT_SLACK_MS 2000     /* waiting for verdicts: dns_timeout plus this */
#define MILTER_WARN_EVERY_MS 60000    /* a repeated configuration warning at most this often */

/* The face: one listener, its connections, the rate limit of its warnings. */
typedef struct milter_face {
    danced *d;
    listener *srv;
    bool inet;                        /* TCP: TCP_NODELAY on every connection */
    size_t messages;                  /* messages between MAIL FROM and their end */
    long long warned_ms;              /* the last "no verdict" configuration warning */
    unsigned long warn_suppressed;
} milter_face;

/* The macros danced reads, each in a slot of its own. */
typedef enum {
    MILTER_MAC_V = 0,                 /* v: the MTA's name and version */
    MILTER_MAC_CLIENT_NAME,           /* {client_name} */
    MILTER_MAC_CLIENT_RESOLVE,        /* {client_resolve}: OK when verified */
    MILTER_MAC_TLS_VERSION,           /* {tls_version}: TLS is on */
    MILTER_MAC_CERT_FP,               /* {cert_fp}: Sendmail's certificate digest */
    MILTER_MAC_CERT_MD5,              /* {cert_md5}: what Sendmail passes without CertFingerprintAlgorithm */
    MILTER_MAC_VERIFY,                /* {verify}: NO, NOT, OK, FAIL ... */
    MILTER_MAC_QUEUE_ID,              /* i */
    MILTER_MACS
} milter_mac;

/* One kept macro value; a value that does not fit is dropped whole, never cut. */
typedef struct milter_macro {
    bool set;
    int stage;                        /* the SMFIM_* stage it came with */
    char value[MILTER_MACRO_MAX];
} milter_macro;

struct milter_msg;
struct mconn;

/* One Sendmail-mode check: a claimed identity on the event loop's resolver. */
typedef struct milter_check {
    struct milter_msg *msg;
    results_kind kind;
    const char *claimed;              /* into buf; NULL: not checked */
    char buf[IDENTITY_NAME_MAX];
    dnsloop_slot slot;
} milter_check;

/* One message, MAIL FROM to end of message or abort. */
typedef struct milter_msg {
    struct mconn *conn;
    snapshot *snap;                   /* the configuration the message started with */
    char sender[MILTER_SENDER_MAX];
    bool sender_bad;                  /* did not fit: invalid */
    hygiene_rules rules;              /* into snap and the connection */
    hygiene hyg;
    size_t removed_by[HYGIENE_VERDICTS];
    results_item res[RESULTS_KINDS];
    /* Sendmail mode: the checks run here */
    bool checking;
    evidence *ev;
    milter_check check[RESULTS_KINDS];
    size_t outstanding;
    bool starting;
    /* end of message */
    bool at_eom;                      /* the reply waits for verdicts */
    bool waits_join;                  /* a join waiter is registered under key */
    join_key key;
    long long deadline_ms;
} milter_msg;

/* One MTA connection. */
typedef struct mconn {
    listen_conn link;                 /* first: the listener's list */
    milter_face *mf;
    int fd;
    char peer[LISTEN_PEER_MAX];
    struct event *rev;                /* readable, with the idle or packet timeout */
    struct event *wev;                /* writable, only once a reply got stuck */
    struct event *wake;               /* verdicts settled, or their deadline passed */
    unsigned char *in;                /* bytes read, not yet dispatched */
    size_t in_len, in_size;
    mproto_out out;                   /* replies not yet written */
    size_t out_done;                  /* of out, bytes written already */
    bool negotiated;
    uint32_t pflags;                  /* the protocol bits agreed: no-reply and skip flags */
    bool partial;                     /* part of a packet has arrived */
    long long packet_deadline_ms;     /* while partial, or before the negotiation */
    bool draining;                    /* close once no message is in progress */
    /* what the MTA told of the SMTP client */
    char addr[NETADDR_TEXT_MAX];      /* "" when the MTA gave none */
    char port[MILTER_PORT_MAX];
    netaddr client;                   /* family 0 for none, and for local submissions (port 0) */
    char ptr[MILTER_HELO_MAX];        /* {client_name} when {client_resolve} is OK */
    char helo[MILTER_HELO_MAX];
    bool helo_bad;                    /* the EHLO argument did not fit: invalid */
    bool tls;                         /* {tls_version} was seen */
    milter_macro mac[MILTER_MACS];
    milter_msg *msg;                  /* NULL between messages */
} mconn;

/* mconn_accept - (listener) a new MTA connection on fd, for the face arg. */
void mconn_accept(void *arg, int fd, const char *peer);

/*
 * command_dispatch - (mconn.c) answer one packet of c: its reply (if any)
 * goes into c->out.  False: close the connection (logged).
 */
bool command_dispatch(mconn *c, const mproto_packet *p);

/* mconn_resume - (message.c) the end of message was answered: write and go on reading. */
void mconn_resume(mconn *c);

/* milter_macro_value - a kept macro's value, NULL when the MTA has not passed it. */
const char *milter_macro_value(const mconn *c, milter_mac m);

/* milter_msg_begin - MAIL FROM: a new message for the envelope sender arg. */
void milter_msg_begin(mconn *c, const char *arg);

/* milter_msg_header - one header field of the message. */
void milter_msg_header(mconn *c, const char *name, const char *value);

/*
 * milter_msg_eom - end of message: try to answer it (changes and reply
 * into c->out); false when the verdicts are not in yet - c->wake fires
 * when they are, or at the deadline, and the caller tries again.
 */
bool milter_msg_eom(mconn *c);

/* milter_msg_abort - the MTA aborted the message: its verdicts will not be asked for. */
void milter_msg_abort(mconn *c);

/* milter_msg_end - forget the message (after its end or abort, or when the connection closes). */
void milter_msg_end(mconn *c);

#endif
