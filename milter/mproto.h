/*
 * mproto.h - the milter protocol, milter side: packets in, replies out.
 *
 * No I/O here.  An MTA (Postfix, Sendmail) sends packets of a 4-byte
 * big-endian length, a command byte and a payload; mproto_next() cuts
 * them out of the bytes read so far, bounded by MPROTO_PACKET_MAX.  The
 * payload parsers check every length against the packet; strings must be
 * NUL-terminated inside it.  Replies are appended to an mproto_out buffer,
 * so the changes and the reply at end of message go out in one write.
 * Command and reply codes and the option bits are libmilter's own
 * (<libmilter/mfdef.h>, <libmilter/mfapi.h>); only those headers are used,
 * not the library.
 */
#ifndef DANCE_MILTER_MPROTO_H
#define DANCE_MILTER_MPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Largest packet accepted.  Postfix sends a header field, or a macro, in
 * one packet however long (up to its header_size_limit, 102400 by
 * default); body chunks (at most 65535) are not asked for.  A bigger
 * packet closes the connection (the MTA applies its default_action).
 */
#define MPROTO_PACKET_MAX (1024 * 1024)
#define MPROTO_STRINGS_MAX 64         /* strings in one MAIL/RCPT/MACRO payload */

typedef enum {
    MPROTO_OK = 0,                    /* a packet is out */
    MPROTO_NEED_MORE,                 /* not a whole packet yet */
    MPROTO_TOO_BIG,                   /* length over MPROTO_PACKET_MAX */
    MPROTO_EMPTY                      /* length 0: no command byte */
} mproto_status;

/* One packet, pointing into the caller's bytes. */
typedef struct mproto_packet {
    char cmd;
    const unsigned char *data;
    size_t len;
    size_t size;                      /* bytes the packet took, length prefix included */
} mproto_packet;

/* The MTA's option negotiation. */
typedef struct mproto_optneg {
    uint32_t version;
    uint32_t actions;                 /* SMFIF_* the MTA allows */
    uint32_t protocol;                /* SMFIP_* the MTA can do */
} mproto_optneg;

/* The MTA's connect information. */
typedef struct mproto_connect {
    const char *hostname;
    char family;                      /* SMFIA_INET, SMFIA_INET6, SMFIA_UNIX, SMFIA_UNKNOWN */
    unsigned port;                    /* 0 when not given */
    const char *address;              /* "" when not given */
} mproto_connect;

/* Outgoing bytes, grown as needed. */
typedef struct mproto_out {
    unsigned char *buf;
    size_t len, size;
} mproto_out;

/* mproto_next - the first whole packet of buf[len]. */
mproto_status mproto_next(const unsigned char *buf, size_t len, mproto_packet *pkt);

/* mproto_parse_optneg - version, actions and protocol bits; false when the payload is short. */
bool mproto_parse_optneg(const mproto_packet *pkt, mproto_optneg *o);

/* mproto_parse_connect - host name, family, port and address; false when malformed. */
bool mproto_parse_connect(const mproto_packet *pkt, mproto_connect *c);

/*
 * mproto_parse_strings - the payload as NUL-terminated strings (at most
 * max); false when it does not end in NUL or holds more.  An empty payload
 * is zero strings.  skip bytes at the start are not part of the strings
 * (the macro packet's command code).
 */
bool mproto_parse_strings(const mproto_packet *pkt, size_t skip, const char **v, size_t max, size_t *n);

/* mproto_out_free - release the buffer. */
void mproto_out_free(mproto_out *o);

/* mproto_put - append a packet: cmd and len bytes of payload. */
void mproto_put(mproto_out *o, char cmd, const void *payload, size_t len);

/*
 * mproto_put_optneg - the negotiation reply; lists[SMFIM_*] are the macro
 * lists asked for per stage (NULL: none), appended when nlists > 0.
 */
void mproto_put_optneg(mproto_out *o, const mproto_optneg *reply, const char *const *lists, size_t nlists);

/* mproto_put_header - SMFIR_INSHEADER or SMFIR_CHGHEADER: index, name, value ("" deletes). */
void mproto_put_header(mproto_out *o, char cmd, uint32_t index, const char *name, const char *value);

/* mproto_put_replycode - SMFIR_REPLYCODE "CODE X.Y.Z text" (the MTA rejects or defers by CODE). */
void mproto_put_replycode(mproto_out *o, const char *code, const char *dsn, const char *text);

#endif
