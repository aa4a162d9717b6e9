/*
 * protocol.c - the Postfix policy delegation protocol, without any I/O.
 *
 * Usage (see protocol.h for the whole story):
 *	policy_parser_init(&p);
 *	status = policy_parse(&p, buf, len, &used);	(as bytes arrive)
 *	req = policy_parser_request(&p);		(after POLICY_REQUEST_DONE)
 *	helo = policy_get_attr(req, POLICY_ATTR_HELO_NAME);
 *	policy_reply(out, sizeof(out), "DUNNO", NULL, &outlen);
 *	policy_parser_reset(&p);			(next request)
 *	policy_parser_free(&p);				(connection closed)
 *
 * The parser copies each line into the request's arena as it arrives.
 * When the line's "\n" comes, the line is checked and rewritten in place:
 * the "=" and the line end become NULs, so the arena ends up holding
 * "name\0value\0" pairs back to back, in arrival order, followed by the
 * incomplete next line.  Every arena byte stands for one byte taken from
 * the client, so the arena never needs more than POLICY_REQUEST_MAX bytes.
 * The values of the attributes danced uses are also indexed by policy_attr
 * so that lookups and duplicate checks for them take constant time; other
 * names are found by a scan of at most POLICY_ATTRS_MAX short names, and
 * the duplicate check for them scans only when the name's bit in a
 * POLICY_SEEN_BITS hash filter was already set (a Postfix request has
 * about twenty such names, so the scan is rare).  A name is checked and
 * hashed in one pass over a table of the bytes it may hold, and compared
 * only with the known names of its length.
 *
 * Replies are built by copying into the caller's buffer; bytes of the
 * free text outside printable ASCII become "?", so nothing a client sent
 * can end the reply line early or start a second one.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/evidence.h"
#include "lib/panic.h"
#include "protocol.h"

_Static_assert(POLICY_DER_MAX <= EVIDENCE_CERT_MAX, "ccert_der must fit the evidence bound");
_Static_assert(POLICY_REQUEST_MAX <= UINT32_MAX, "arena offsets are stored in 32 bits");
_Static_assert(POLICY_ARENA_INITIAL <= POLICY_REQUEST_MAX, "initial arena within the bound");

/* The known names and their lengths (the parser compares the length first). */
#define POLICY_NAME(s) { s, sizeof(s) - 1 }
static const struct {
    const char *s;
    size_t len;
} policy_attr_names[POLICY_ATTR_COUNT] = {
    [POLICY_ATTR_REQUEST] = POLICY_NAME("request"),
    [POLICY_ATTR_PROTOCOL_STATE] = POLICY_NAME("protocol_state"),
    [POLICY_ATTR_PROTOCOL_NAME] = POLICY_NAME("protocol_name"),
    [POLICY_ATTR_CLIENT_ADDRESS] = POLICY_NAME("client_address"),
    [POLICY_ATTR_CLIENT_NAME] = POLICY_NAME("client_name"),
    [POLICY_ATTR_REVERSE_CLIENT_NAME] = POLICY_NAME("reverse_client_name"),
    [POLICY_ATTR_CLIENT_PORT] = POLICY_NAME("client_port"),
    [POLICY_ATTR_HELO_NAME] = POLICY_NAME("helo_name"),
    [POLICY_ATTR_SENDER] = POLICY_NAME("sender"),
    [POLICY_ATTR_RECIPIENT] = POLICY_NAME("recipient"),
    [POLICY_ATTR_RECIPIENT_COUNT] = POLICY_NAME("recipient_count"),
    [POLICY_ATTR_QUEUE_ID] = POLICY_NAME("queue_id"),
    [POLICY_ATTR_INSTANCE] = POLICY_NAME("instance"),
    [POLICY_ATTR_CCERT_SUBJECT] = POLICY_NAME("ccert_subject"),
    [POLICY_ATTR_CCERT_FINGERPRINT] = POLICY_NAME("ccert_fingerprint"),
    [POLICY_ATTR_CCERT_PUBKEY_FINGERPRINT] = POLICY_NAME("ccert_pubkey_fingerprint"),
    [POLICY_ATTR_CCERT_DER] = POLICY_NAME("ccert_der"),
    [POLICY_ATTR_ENCRYPTION_PROTOCOL] = POLICY_NAME("encryption_protocol"),
    [POLICY_ATTR_SERVER_ADDRESS] = POLICY_NAME("server_address"),
    [POLICY_ATTR_SERVER_PORT] = POLICY_NAME("server_port"),
};
#undef POLICY_NAME

/* ---------------------------------------------------------------- parser */

void policy_parser_init(policy_parser *p)
{
    if (p == NULL)
        DANCE_PANIC("unexpected: p == NULL");
    memset(p, 0, sizeof(*p));
    p->req.arena = NULL;        /* all-zero bits need not be a null pointer */
    p->status = POLICY_NEED_MORE;
}

/* policy_arena_reserve - make room for need bytes, doubling from POLICY_ARENA_INITIAL. */
static void policy_arena_reserve(policy_request *req, size_t need)
{
    size_t size = (req->size > 0 ? req->size : POLICY_ARENA_INITIAL);
    char *arena;

    if (need > POLICY_REQUEST_MAX)
        DANCE_PANIC("the callers' accounting is broken");
    if (need <= req->size)
        return;
    while (size < need)
        size *= 2;
    if (size > POLICY_REQUEST_MAX)
        size = POLICY_REQUEST_MAX;
    arena = xrealloc(req->arena, size);
    req->arena = arena;
    req->size = size;
}

/* policy_name_char - true for a byte an attribute name may hold: [A-Za-z0-9_-]. */
static bool policy_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/*
 * policy_name_check - an attribute name is 1..POLICY_NAME_MAX of
 * [A-Za-z0-9_-]; *hash gets its FNV-1a (the unknown-name filter's bit).
 */
static bool policy_name_check(const char *name, size_t len, uint32_t *hash)
{
    uint32_t h = 2166136261u;

    if (len == 0 || len > POLICY_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) name[i];

        if (!policy_name_char(c))
            return false;
        h = (h ^ c) * 16777619u;
    }
    *hash = h;
    return true;
}

/* policy_attr_is - name[0..len) spells attr. */
static bool policy_attr_is(const char *name, size_t len, policy_attr attr)
{
    return policy_attr_names[attr].len == len && memcmp(name, policy_attr_names[attr].s, len) == 0;
}

/* policy_attr_find - the known attribute spelled by name[0..len): only those of its length are compared. */
static bool policy_attr_find(const char *name, size_t len, policy_attr *attr)
{
    policy_attr cand[3];
    int n = 0;

    switch (len) {
    case 6:
        cand[n++] = POLICY_ATTR_SENDER;
        break;
    case 7:
        cand[n++] = POLICY_ATTR_REQUEST;
        break;
    case 8:
        cand[n++] = POLICY_ATTR_QUEUE_ID; cand[n++] = POLICY_ATTR_INSTANCE;
        break;
    case 9:
        cand[n++] = POLICY_ATTR_HELO_NAME; cand[n++] = POLICY_ATTR_RECIPIENT;
        cand[n++] = POLICY_ATTR_CCERT_DER;
        break;
    case 11:
        cand[n++] = POLICY_ATTR_CLIENT_NAME; cand[n++] = POLICY_ATTR_CLIENT_PORT;
        cand[n++] = POLICY_ATTR_SERVER_PORT;
        break;
    case 13:
        cand[n++] = POLICY_ATTR_PROTOCOL_NAME; cand[n++] = POLICY_ATTR_CCERT_SUBJECT;
        break;
    case 14:
        cand[n++] = POLICY_ATTR_PROTOCOL_STATE; cand[n++] = POLICY_ATTR_CLIENT_ADDRESS;
        cand[n++] = POLICY_ATTR_SERVER_ADDRESS;
        break;
    case 15:
        cand[n++] = POLICY_ATTR_RECIPIENT_COUNT;
        break;
    case 17:
        cand[n++] = POLICY_ATTR_CCERT_FINGERPRINT;
        break;
    case 19:
        cand[n++] = POLICY_ATTR_REVERSE_CLIENT_NAME; cand[n++] = POLICY_ATTR_ENCRYPTION_PROTOCOL;
        break;
    case 24:
        cand[n++] = POLICY_ATTR_CCERT_PUBKEY_FINGERPRINT;
        break;
    default:
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (policy_attr_is(name, len, cand[i])) {
            *attr = cand[i];
            return true;
        }
    }
    return false;
}

/* policy_scan - the value of name among the complete attributes, by a linear scan. */
static const char *policy_scan(const policy_request *req, const char *name)
{
    const char *n;
    const char *v;
    size_t pos = 0;

    while (policy_next(req, &pos, &n, &v))
        if (strcmp(n, name) == 0)
            return v;
    return NULL;
}

/*
 * policy_end_line - the "\n" of the line at arena + req.len has arrived:
 * check the line and turn it into a "name\0value\0" pair.  Returns
 * POLICY_NEED_MORE after an attribute, POLICY_REQUEST_DONE after the
 * empty line, or the error.
 */
static policy_status policy_end_line(policy_parser *p)
{
    policy_request *req = &p->req;
    char *line = req->arena + req->len;
    size_t len = p->line_len;
    const char *eq;
    size_t name_len;
    uint32_t hash = 0;
    policy_attr attr;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > POLICY_LINE_MAX)
        return POLICY_ERR_LINE_TOO_LONG;
    if (len == 0)
        return POLICY_REQUEST_DONE;
    if (req->count == POLICY_ATTRS_MAX)
        return POLICY_ERR_TOO_MANY;
    if ((eq = memchr(line, '=', len)) == NULL)
        return POLICY_ERR_SYNTAX;
    name_len = (size_t)(eq - line);
    if (!policy_name_check(line, name_len, &hash))
        return POLICY_ERR_SYNTAX;

    line[name_len] = '\0';
    line[len] = '\0';           /* over the "\r" or the "\n"'s reserved byte */
    if (policy_attr_find(line, name_len, &attr)) {
        if (req->known[attr] != 0)
            return POLICY_ERR_DUPLICATE;
        req->known[attr] = (uint32_t)(req->len + name_len + 1);
    } else {
        /* a name danced does not use: scan the earlier ones only when its bit was seen */
        unsigned bit = hash % POLICY_SEEN_BITS;
        uint64_t mask = (uint64_t)1 << (bit % 64);

        if ((req->unknown_seen[bit / 64] & mask) != 0 && policy_scan(req, line) != NULL)
            return POLICY_ERR_DUPLICATE;
        req->unknown_seen[bit / 64] |= mask;
    }
    req->len += len + 1;
    req->count++;
    p->line_len = 0;
    return POLICY_NEED_MORE;
}

policy_status policy_parse(policy_parser *p, const char *buf, size_t len, size_t *consumed)
{
    size_t done = 0;

    if (p == NULL || consumed == NULL || (buf == NULL && len > 0))
        DANCE_PANIC("unexpected: p == NULL || consumed == NULL || (buf == NULL && len > 0)");
    if (p->status == POLICY_REQUEST_DONE)
        DANCE_PANIC("the caller forgot policy_parser_reset()");
    *consumed = 0;
    if (p->status != POLICY_NEED_MORE)
        return p->status;       /* dead after an error */

    while (done < len) {
        const char *start = buf + done;
        const char *nl = memchr(start, '\n', len - done);
        size_t text = (nl != NULL ? (size_t)(nl - start) : len - done); /* before the "\n" */
        size_t take = text + (nl != NULL);
        policy_status status = POLICY_NEED_MORE;

        if (memchr(start, '\0', text) != NULL)
            status = POLICY_ERR_NUL;
        else if (p->line_len + text > POLICY_LINE_MAX + 1) /* + 1: a "\r" still to strip */
            status = POLICY_ERR_LINE_TOO_LONG;
        else if (p->total + take > POLICY_REQUEST_MAX)
            status = POLICY_ERR_TOO_BIG;
        if (status != POLICY_NEED_MORE) {
            *consumed = done;
            return p->status = status;
        }

        /* One arena byte per byte taken; the "\n" reserves the NUL ending the value. */
        policy_arena_reserve(&p->req, p->req.len + p->line_len + take);
        memcpy(p->req.arena + p->req.len + p->line_len, start, text);
        p->line_len += text;
        p->total += take;
        done += take;

        if (nl != NULL && (status = policy_end_line(p)) != POLICY_NEED_MORE) {
            *consumed = done;
            return p->status = status;
        }
    }
    *consumed = done;
    return POLICY_NEED_MORE;
}

const policy_request *policy_parser_request(const policy_parser *p)
{
    if (p == NULL)
        DANCE_PANIC("unexpected: p == NULL");
    return (p->status == POLICY_REQUEST_DONE ? &p->req : NULL);
}

void policy_parser_reset(policy_parser *p)
{
    if (p == NULL)
        DANCE_PANIC("unexpected: p == NULL");
    if (p->req.size > POLICY_ARENA_INITIAL) {
        free(p->req.arena);
        p->req.arena = NULL;
        p->req.size = 0;
    }
    p->req.len = 0;
    p->req.count = 0;
    memset(p->req.known, 0, sizeof(p->req.known));
    memset(p->req.unknown_seen, 0, sizeof(p->req.unknown_seen));
    p->line_len = 0;
    p->total = 0;
    p->status = POLICY_NEED_MORE;
}

void policy_parser_free(policy_parser *p)
{
    if (p == NULL)
        DANCE_PANIC("unexpected: p == NULL");
    free(p->req.arena);
    policy_parser_init(p);
}

/* ---------------------------------------------------------------- request */

const char *policy_get(const policy_request *req, const char *name)
{
    policy_attr attr;

    if (req == NULL || name == NULL)
        DANCE_PANIC("unexpected: req == NULL || name == NULL");
    if (policy_attr_lookup(name, &attr))
        return policy_get_attr(req, attr);
    return policy_scan(req, name);
}

const char *policy_get_attr(const policy_request *req, policy_attr attr)
{
    if (req == NULL || (unsigned)attr >= POLICY_ATTR_COUNT)
        DANCE_PANIC("unexpected: req == NULL || (unsigned)attr >= POLICY_ATTR_COUNT");
    return (req->known[attr] != 0 ? req->arena + req->known[attr] : NULL);
}

size_t policy_count(const policy_request *req)
{
    if (req == NULL)
        DANCE_PANIC("unexpected: req == NULL");
    return req->count;
}

bool policy_next(const policy_request *req, size_t *pos, const char **name, const char **value)
{
    if (req == NULL || pos == NULL || name == NULL || value == NULL)
        DANCE_PANIC("unexpected: req == NULL || pos == NULL || name == NULL || value == NULL");
    if (*pos >= req->len)
        return false;
    *name = req->arena + *pos;
    *value = *name + strlen(*name) + 1;
    *pos = (size_t)(*value - req->arena) + strlen(*value) + 1;
    return true;
}

const char *policy_attr_name(policy_attr attr)
{
    if ((unsigned)attr >= POLICY_ATTR_COUNT)
        DANCE_PANIC("unexpected: (unsigned)attr >= POLICY_ATTR_COUNT");
    return policy_attr_names[attr].s;
}

bool policy_attr_lookup(const char *name, policy_attr *attr)
{
    if (name == NULL || attr == NULL)
        DANCE_PANIC("unexpected: name == NULL || attr == NULL");
    return policy_attr_find(name, strlen(name), attr);
}

/* ---------------------------------------------------------------- replies */

/* Output into a caller's buffer: counts everything, stores what fits with room for a NUL. */
typedef struct policy_out {
    char *buf;
    size_t size;
    size_t len;
} policy_out;

/* policy_put - append s; with printable, bytes outside 0x20-0x7e become "?". */
static void policy_put(policy_out *out, const char *s, bool printable)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (printable && (c < 0x20 || c > 0x7e))
            c = '?';
        if (out->len + 1 < out->size)
            out->buf[out->len] = (char)c;
        out->len++;
    }
}

/* policy_finish - end the reply with its empty line and a NUL, or report that it does not fit. */
static policy_status policy_finish(policy_out *out, size_t *len)
{
    policy_put(out, "\n\n", false);
    if (out->len + 1 > out->size) {
        if (out->size > 0)
            out->buf[0] = '\0';
        return POLICY_ERR_NOSPACE;
    }
    out->buf[out->len] = '\0';
    *len = out->len;
    return POLICY_OK;
}

/* policy_valid_action - an action word: one or more of [A-Za-z0-9_]. */
static bool policy_valid_action(const char *action)
{
    if (*action == '\0')
        return false;
    for (; *action != '\0'; action++) {
        char c = *action;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_'))
            return false;
    }
    return true;
}

/* policy_valid_header - an RFC 5322 field name: one or more of 0x21-0x7e except ":". */
static bool policy_valid_header(const char *name)
{
    if (*name == '\0')
        return false;
    for (; *name != '\0'; name++) {
        unsigned char c = (unsigned char)*name;
        if (c < 0x21 || c > 0x7e || c == ':')
            return false;
    }
    return true;
}

policy_status policy_reply(char *buf, size_t size, const char *action, const char *text,
                           size_t *len)
{
    policy_out out = { buf, size, 0 };

    if ((buf == NULL && size > 0) || action == NULL || len == NULL)
        DANCE_PANIC("unexpected: (buf == NULL && size > 0) || action == NULL || len == NULL");
    *len = 0;
    if (!policy_valid_action(action)) {
        if (size > 0)
            buf[0] = '\0';
        return POLICY_ERR_ACTION;
    }
    policy_put(&out, "action=", false);
    policy_put(&out, action, false);
    if (text != NULL && *text != '\0') {
        policy_put(&out, " ", false);
        policy_put(&out, text, true);
    }
    return policy_finish(&out, len);
}

policy_status policy_reply_prepend(char *buf, size_t size, const char *header, const char *value,
                                   size_t *len)
{
    policy_out out = { buf, size, 0 };

    if ((buf == NULL && size > 0) || header == NULL || value == NULL || len == NULL)
        DANCE_PANIC("unexpected: (buf == NULL && size > 0) || header == NULL || value == NULL || len == NULL");
    *len = 0;
    if (!policy_valid_header(header)) {
        if (size > 0)
            buf[0] = '\0';
        return POLICY_ERR_HEADER;
    }
    policy_put(&out, "action=PREPEND ", false);
    policy_put(&out, header, false);
    policy_put(&out, ":", false);
    if (*value != '\0') {
        policy_put(&out, " ", false);
        policy_put(&out, value, true);
    }
    return policy_finish(&out, len);
}

/* ---------------------------------------------------------------- base64 */

/* policy_b64_value - the 6-bit value of an RFC 4648 base64 character, -1 if c is not one. */
static int policy_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

policy_status policy_base64_decode(const char *text, unsigned char *out, size_t outsize,
                                   size_t *outlen)
{
    size_t len;
    size_t pad = 0;             /* "=" at the very end: 0, 1 or 2 */
    size_t n = 0;               /* bytes written */

    if (text == NULL || outlen == NULL || (out == NULL && outsize > 0))
        DANCE_PANIC("unexpected: text == NULL || outlen == NULL || (out == NULL && outsize > 0)");
    *outlen = 0;
    if ((len = strlen(text)) == 0)
        return POLICY_ERR_B64_EMPTY;
    if (len % 4 != 0)
        return POLICY_ERR_B64_LENGTH;
    if (text[len - 1] == '=')
        pad = (text[len - 2] == '=' ? 2 : 1);
    if (len / 4 * 3 - pad > outsize)
        return POLICY_ERR_NOSPACE;

    for (size_t i = 0; i < len; i += 4) {
        unsigned long quad = 0; /* 24 bits; "=" counts as six zero bits */
        size_t bytes = 3;

        for (size_t k = 0; k < 4; k++) {
            int v = 0;

            if (text[i + k] == '=') {
                if (i + k < len - pad)
                    return POLICY_ERR_B64_PADDING;  /* "=" before the final padding */
            } else if ((v = policy_b64_value(text[i + k])) < 0) {
                return POLICY_ERR_B64_CHAR;
            }
            quad = (quad << 6) | (unsigned long)v;
        }
        if (i + 4 == len && pad > 0) {
            /* the bits the padding leaves over must be zero (canonical encoding) */
            if ((quad & ((1UL << (8 * pad)) - 1)) != 0)
                return POLICY_ERR_B64_PADDING;
            bytes -= pad;
        }
        for (size_t k = 0; k < bytes; k++)
            out[n++] = (unsigned char)(quad >> (16 - 8 * k));
    }
    *outlen = n;
    return POLICY_OK;
}

/* ---------------------------------------------------------------- status */

const char *policy_status_str(policy_status status)
{
    switch (status) {
    case POLICY_OK:
        return "ok";
    case POLICY_NEED_MORE:
        return "request incomplete";
    case POLICY_REQUEST_DONE:
        return "request complete";
    case POLICY_ERR_TOO_BIG:
        return "request too big";
    case POLICY_ERR_LINE_TOO_LONG:
        return "attribute line too long";
    case POLICY_ERR_TOO_MANY:
        return "too many attributes";
    case POLICY_ERR_NUL:
        return "NUL byte in request";
    case POLICY_ERR_SYNTAX:
        return "malformed attribute line";
    case POLICY_ERR_DUPLICATE:
        return "duplicate attribute";
    case POLICY_ERR_ACTION:
        return "empty or malformed reply action";
    case POLICY_ERR_HEADER:
        return "malformed header name";
    case POLICY_ERR_NOSPACE:
        return "output buffer too small";
    case POLICY_ERR_B64_EMPTY:
        return "empty base64";
    case POLICY_ERR_B64_LENGTH:
        return "base64 length not a multiple of 4";
    case POLICY_ERR_B64_CHAR:
        return "character outside the base64 alphabet";
    case POLICY_ERR_B64_PADDING:
        return "misplaced base64 padding";
    }
    DANCE_PANIC("%s: unhandled case", __func__);
}
