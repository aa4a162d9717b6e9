/*
 * mproto.c - the milter protocol, milter side: packets in, replies out.
 *
 * USAGE
 *	mproto_packet p;
 *	while (mproto_next(in, in_len, &p) == MPROTO_OK) {
 *	    switch (p.cmd) { case SMFIC_CONNECT: mproto_parse_connect(&p, &c); ... }
 *	    in += p.size; in_len -= p.size;
 *	}
 *	mproto_put(&out, SMFIR_CONTINUE, NULL, 0);
 *
 * DESCRIPTION
 *	Layouts (libmilter's engine.c is the reference; Postfix's milter8.c
 *	and Sendmail's milter.c send them):
 *	    packet      uint32 length (command byte + payload), command, payload
 *	    OPTNEG      uint32 version, uint32 actions, uint32 protocol;
 *	                the reply the same, then per stage uint32 stage
 *	                and a NUL-terminated macro list
 *	    CONNECT     host\0 family [uint16 port, address\0] (no port and
 *	                address for the family 'U', unknown)
 *	    HELO        name\0
 *	    MAIL, RCPT  argv: each argument NUL-terminated
 *	    MACRO       the command code the macros belong to, then
 *	                name\0value\0 pairs
 *	    HEADER      name\0value\0
 *	    INSHEADER,  uint32 index, name\0value\0
 *	    CHGHEADER   (an empty value deletes the index-th field of name)
 *	    REPLYCODE   "CODE X.Y.Z text\0"
 *	Integers are big-endian.  A REPLYCODE text has '%' doubled, as
 *	libmilter's smfi_setreply does, because Sendmail formats it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfdef.h>

#include "lib/panic.h"
#include "mproto.h"

/* mproto_u32 - the big-endian integer at p. */
static uint32_t mproto_u32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

/* mproto_next - the first whole packet of buf[len]. */
mproto_status mproto_next(const unsigned char *buf, size_t len, mproto_packet *pkt)
{
    uint32_t n;

    if (len < MILTER_LEN_BYTES)
        return MPROTO_NEED_MORE;
    n = mproto_u32(buf);
    if (n == 0)
        return MPROTO_EMPTY;
    if (n > MPROTO_PACKET_MAX)
        return MPROTO_TOO_BIG;
    if (len - MILTER_LEN_BYTES < n)
        return MPROTO_NEED_MORE;
    pkt->cmd = (char) buf[MILTER_LEN_BYTES];
    pkt->data = buf + MILTER_LEN_BYTES + 1;
    pkt->len = n - 1;
    pkt->size = MILTER_LEN_BYTES + n;
    return MPROTO_OK;
}

/* mproto_parse_optneg - version, actions and protocol bits. */
bool mproto_parse_optneg(const mproto_packet *pkt, mproto_optneg *o)
{
    if (pkt->len < MILTER_OPTLEN)
        return false;
    o->version = mproto_u32(pkt->data);
    o->actions = mproto_u32(pkt->data + 4);
    o->protocol = mproto_u32(pkt->data + 8);
    return true;
}

/* mproto_string - the NUL-terminated string at data[*off], within len; advances *off. */
static const char *mproto_string(const unsigned char *data, size_t len, size_t *off)
{
    const unsigned char *nul;
    const char *s;

    if (*off >= len || (nul = memchr(data + *off, '\0', len - *off)) == NULL)
        return NULL;
    s = (const char *) data + *off;
    *off = (size_t) (nul - data) + 1;
    return s;
}

/* mproto_parse_connect - host name, family, port and address. */
bool mproto_parse_connect(const mproto_packet *pkt, mproto_connect *c)
{
    size_t off = 0;

    memset(c, 0, sizeof(*c));
    c->address = "";
    if ((c->hostname = mproto_string(pkt->data, pkt->len, &off)) == NULL || off >= pkt->len)
        return false;
    c->family = (char) pkt->data[off++];
    if (c->family == SMFIA_UNKNOWN)
        return true;
    if (pkt->len - off < 2)
        return false;
    c->port = ((unsigned) pkt->data[off] << 8) | pkt->data[off + 1];
    off += 2;
    return (c->address = mproto_string(pkt->data, pkt->len, &off)) != NULL;
}

/* mproto_parse_strings - the payload as NUL-terminated strings. */
bool mproto_parse_strings(const mproto_packet *pkt, size_t skip, const char **v, size_t max, size_t *n)
{
    size_t off = skip;

    *n = 0;
    if (skip > pkt->len)
        return false;
    while (off < pkt->len) {
        if (*n >= max || (v[*n] = mproto_string(pkt->data, pkt->len, &off)) == NULL)
            return false;
        (*n)++;
    }
    return true;
}

/* mproto_out_free - release the buffer. */
void mproto_out_free(mproto_out *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->size = 0;
}

/* mproto_reserve - room for n more bytes. */
static unsigned char *mproto_reserve(mproto_out *o, size_t n)
{
    if (o->size - o->len < n) {
        size_t want = o->size ? o->size : 256;

        while (want - o->len < n)
            want *= 2;
        o->buf = xrealloc(o->buf, want);
        o->size = want;
    }
    return o->buf + o->len;
}

/* mproto_put_u32 - append a big-endian integer. */
static void mproto_put_u32(mproto_out *o, uint32_t v)
{
    unsigned char *p = mproto_reserve(o, 4);

    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
    o->len += 4;
}

/* mproto_put_bytes - append n bytes. */
static void mproto_put_bytes(mproto_out *o, const void *p, size_t n)
{
    if (n > 0)
        memcpy(mproto_reserve(o, n), p, n);
    o->len += n;
}

/* mproto_put - append a packet: cmd and len bytes of payload. */
void mproto_put(mproto_out *o, char cmd, const void *payload, size_t len)
{
    if (len >= UINT32_MAX)
        DANCE_PANIC("replies are small");
    mproto_put_u32(o, (uint32_t) len + 1);
    mproto_put_bytes(o, &cmd, 1);
    mproto_put_bytes(o, payload, len);
}

/* mproto_put_optneg - the negotiation reply, with the macro lists per stage. */
void mproto_put_optneg(mproto_out *o, const mproto_optneg *reply, const char *const *lists, size_t nlists)
{
    size_t len = MILTER_OPTLEN, start;
    char cmd = SMFIC_OPTNEG;

    for (size_t i = 0; i < nlists; i++)
        if (lists[i] != NULL)
            len += 4 + strlen(lists[i]) + 1;
    mproto_put_u32(o, (uint32_t) len + 1);
    mproto_put_bytes(o, &cmd, 1);
    start = o->len;
    mproto_put_u32(o, reply->version);
    mproto_put_u32(o, reply->actions);
    mproto_put_u32(o, reply->protocol);
    for (size_t i = 0; i < nlists; i++) {
        if (lists[i] == NULL)
            continue;
        mproto_put_u32(o, (uint32_t) i);
        mproto_put_bytes(o, lists[i], strlen(lists[i]) + 1);
    }
    if (o->len - start != len)
        DANCE_PANIC("the length written first");
}

/* mproto_put_header - SMFIR_INSHEADER or SMFIR_CHGHEADER. */
void mproto_put_header(mproto_out *o, char cmd, uint32_t index, const char *name, const char *value)
{
    size_t nlen = strlen(name) + 1, vlen = strlen(value) + 1;

    mproto_put_u32(o, (uint32_t) (1 + 4 + nlen + vlen));
    mproto_put_bytes(o, &cmd, 1);
    mproto_put_u32(o, index);
    mproto_put_bytes(o, name, nlen);
    mproto_put_bytes(o, value, vlen);
}

/* mproto_put_replycode - SMFIR_REPLYCODE "CODE X.Y.Z text". */
void mproto_put_replycode(mproto_out *o, const char *code, const char *dsn, const char *text)
{
    char line[512];
    size_t n = (size_t) snprintf(line, sizeof(line), "%s %s ", code, dsn);

    for (const char *p = text; *p != '\0' && n + 3 < sizeof(line); p++) {
        if (*p == '%')
            line[n++] = '%';
        line[n++] = (*p == '\r' || *p == '\n') ? ' ' : *p;
    }
    line[n] = '\0';
    mproto_put(o, SMFIR_REPLYCODE, line, n + 1);
}
