/*
 * protocol.h - the Postfix policy delegation protocol, without any I/O.
 *
 * A request is "name=value" lines ended by "\n" (one trailing "\r" is
 * tolerated and stripped), closed by an empty line.  Connections are
 * persistent: many requests, one after the other.  The reply is
 * "action=ACTION[ TEXT]" plus an empty line, with bare "\n" line ends.
 *
 * Reading a connection:
 *	policy_parser p;
 *	policy_parser_init(&p);
 *	(each time the socket is readable)
 *	    status = policy_parse(&p, buf, len, &used);
 *	    POLICY_NEED_MORE:     all of buf was taken; wait for more bytes.
 *	    POLICY_REQUEST_DONE:  policy_parser_request(&p) is the request;
 *	                          buf[used..len) belongs to the next request:
 *	                          answer, policy_parser_reset(&p), feed the rest.
 *	    anything else:        hostile or broken client: log
 *	                          policy_status_str(status) and close
 *	                          (used means nothing then).  A dead parser
 *	                          returns the same error again, taking nothing.
 *	policy_parser_free(&p) when the connection closes.
 *
 * Limits (each breach is an error that ends the connection): a request of
 * more than POLICY_REQUEST_MAX bytes counting every line end and the empty
 * line; a line of more than POLICY_LINE_MAX bytes not counting its "\n" or
 * "\r\n"; more than POLICY_ATTRS_MAX attributes; a NUL byte anywhere; a
 * line without "=", a name that is empty, longer than POLICY_NAME_MAX or
 * not made of [A-Za-z0-9_-]; the same name twice (case-sensitive, as
 * Postfix's names are).  Values are any bytes but NUL and "\n"; a value may
 * be empty or contain "=".  An empty request (just an empty line) is a
 * valid request with no attributes.  A NUL or a size limit is caught at
 * the offending byte, anything else at the end of its line, so at most
 * POLICY_REQUEST_MAX bytes are ever held.
 *
 * Memory: sizeof(policy_parser) is about 220 bytes on LP64 and nothing
 * more is allocated until the first byte arrives.  The attributes then
 * live in one arena, allocated at POLICY_ARENA_INITIAL bytes (a Postfix
 * request with fingerprints is under 1 KiB) and doubled as needed up to
 * POLICY_REQUEST_MAX.  policy_parser_reset() frees an arena that grew past
 * POLICY_ARENA_INITIAL, so an idle connection holds at most
 * sizeof(policy_parser) + POLICY_ARENA_INITIAL bytes.  Out of memory aborts.
 *
 * Also here: reply formatting that can never emit a second line (every
 * byte of the text outside printable ASCII, 0x20-0x7e, becomes "?"; *len
 * gets the reply length without its NUL), and the base64 decoder for the
 * ccert_der extension attribute (the client's DER certificate, as Exim can
 * send it; the line limit caps it at POLICY_DER_MAX bytes).
 */
#ifndef DANCE_POLICY_PROTOCOL_H
#define DANCE_POLICY_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define POLICY_REQUEST_MAX (64 * 1024) /* bytes in one request, line ends included */
#define POLICY_LINE_MAX (8 * 1024)     /* bytes in one line, its line end excluded */
#define POLICY_ATTRS_MAX 256           /* attributes in one request */
#define POLICY_NAME_MAX 128            /* bytes in one attribute name */
#define POLICY_ARENA_INITIAL 2048      /* first arena allocation, kept across requests */

/* Largest certificate a ccert_der line can carry: whole base64 quads after "ccert_der=". */
#define POLICY_DER_MAX (((POLICY_LINE_MAX - (sizeof "ccert_der=" - 1)) / 4) * 3)

typedef enum {
    POLICY_OK = 0,            /* reply formatted, base64 decoded */
    POLICY_NEED_MORE,         /* parser: the request is not complete yet */
    POLICY_REQUEST_DONE,      /* parser: a complete request is available */
    /* request errors: the parser is dead, close the connection */
    POLICY_ERR_TOO_BIG,       /* request over POLICY_REQUEST_MAX bytes */
    POLICY_ERR_LINE_TOO_LONG, /* line over POLICY_LINE_MAX bytes */
    POLICY_ERR_TOO_MANY,      /* more than POLICY_ATTRS_MAX attributes */
    POLICY_ERR_NUL,           /* a NUL byte */
    POLICY_ERR_SYNTAX,        /* no "=", or an empty, too long or badly spelled name */
    POLICY_ERR_DUPLICATE,     /* the same attribute name twice in one request */
    /* reply errors */
    POLICY_ERR_ACTION,        /* empty action, or not made of [A-Za-z0-9_] */
    POLICY_ERR_HEADER,        /* PREPEND header name empty or not RFC 5322 ftext */
    POLICY_ERR_NOSPACE,       /* output does not fit the caller's buffer */
    /* base64 errors */
    POLICY_ERR_B64_EMPTY,     /* no base64 text at all */
    POLICY_ERR_B64_LENGTH,    /* length not a multiple of 4 */
    POLICY_ERR_B64_CHAR,      /* a character outside the RFC 4648 alphabet */
    POLICY_ERR_B64_PADDING    /* "=" misplaced, or non-zero bits before the padding */
} policy_status;

/* The attributes danced uses, for constant-time access. */
typedef enum {
    POLICY_ATTR_REQUEST = 0,
    POLICY_ATTR_PROTOCOL_STATE,
    POLICY_ATTR_PROTOCOL_NAME,
    POLICY_ATTR_CLIENT_ADDRESS,
    POLICY_ATTR_CLIENT_NAME,
    POLICY_ATTR_REVERSE_CLIENT_NAME,
    POLICY_ATTR_CLIENT_PORT,
    POLICY_ATTR_HELO_NAME,
    POLICY_ATTR_SENDER,
    POLICY_ATTR_RECIPIENT,
    POLICY_ATTR_RECIPIENT_COUNT,
    POLICY_ATTR_QUEUE_ID,
    POLICY_ATTR_INSTANCE,
    POLICY_ATTR_CCERT_SUBJECT,
    POLICY_ATTR_CCERT_FINGERPRINT,
    POLICY_ATTR_CCERT_PUBKEY_FINGERPRINT,
    POLICY_ATTR_CCERT_DER,
    POLICY_ATTR_ENCRYPTION_PROTOCOL,
    POLICY_ATTR_SERVER_ADDRESS,
    POLICY_ATTR_SERVER_PORT,
    POLICY_ATTR_COUNT
} policy_attr;

#define POLICY_SEEN_BITS 512       /* bits of the unknown-name filter */

/* A parsed request.  Read it only through the functions below. */
typedef struct policy_request {
    char *arena;              /* "name\0value\0" pairs, then the line being read */
    size_t size;              /* bytes allocated; 0 before the first byte */
    size_t len;               /* bytes of complete attributes */
    size_t count;             /* complete attributes */
    uint32_t known[POLICY_ATTR_COUNT]; /* arena offset of each known value, 0 = absent */
    uint64_t unknown_seen[POLICY_SEEN_BITS / 64]; /* hash bits of the other names (duplicate check) */
} policy_request;

/* An incremental request parser, one per connection.  Fields are private. */
typedef struct policy_parser {
    policy_request req;
    size_t line_len;          /* bytes of the incomplete line at arena + req.len */
    size_t total;             /* bytes of this request taken so far */
    policy_status status;     /* NEED_MORE, REQUEST_DONE or the error that killed it */
} policy_parser;

/* policy_parser_init - make p an empty parser; allocates nothing. */
void policy_parser_init(policy_parser *p);

/* policy_parse - feed len bytes; *consumed gets how many were taken (see above). */
policy_status policy_parse(policy_parser *p, const char *buf, size_t len, size_t *consumed);

/* policy_parser_request - the request after POLICY_REQUEST_DONE, else NULL; valid until reset. */
const policy_request *policy_parser_request(const policy_parser *p);

/* policy_parser_reset - forget the request and start the next one; shrinks a grown arena. */
void policy_parser_reset(policy_parser *p);

/* policy_parser_free - release the arena; p may be initialized again afterwards. */
void policy_parser_free(policy_parser *p);

/* policy_get - the value of attribute name, or NULL when the request lacks it. */
const char *policy_get(const policy_request *req, const char *name);

/* policy_get_attr - the value of a known attribute, or NULL when the request lacks it. */
const char *policy_get_attr(const policy_request *req, policy_attr attr);

/* policy_count - the number of attributes in the request. */
size_t policy_count(const policy_request *req);

/* policy_next - iterate in arrival order: start with *pos = 0; false after the last. */
bool policy_next(const policy_request *req, size_t *pos, const char **name, const char **value);

/* policy_attr_name - the protocol name of a known attribute ("helo_name"). */
const char *policy_attr_name(policy_attr attr);

/* policy_attr_lookup - map a protocol name to a known attribute; false if it is not one. */
bool policy_attr_lookup(const char *name, policy_attr *attr);

/* policy_reply - write "action=ACTION[ TEXT]\n\n" plus NUL; text (may be NULL) is made printable ASCII. */
policy_status policy_reply(char *buf, size_t size, const char *action, const char *text,
                           size_t *len);

/* policy_reply_prepend - write "action=PREPEND NAME: VALUE\n\n" plus NUL; value is made printable ASCII. */
policy_status policy_reply_prepend(char *buf, size_t size, const char *header, const char *value,
                                   size_t *len);

/* policy_base64_decode - strict RFC 4648 base64 (padded, no white space) into out; *outlen gets the length. */
policy_status policy_base64_decode(const char *text, unsigned char *out, size_t outsize,
                                   size_t *outlen);

/* policy_status_str - short English text for a policy_status. */
const char *policy_status_str(policy_status status);

#endif
