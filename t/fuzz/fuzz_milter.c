/*
 * fuzz_milter.c - libFuzzer target: what an MTA sends danced's milter face.
 *
 * The input is a byte stream as it would arrive on a milter connection.
 * Packets are cut out with mproto_next() exactly as the connection does
 * (any length, including 0 and over the limit, which end the stream); each
 * is parsed by the parser of its command - option negotiation, connect,
 * NUL-separated strings for HELO, MAIL, RCPT, macros and header fields -
 * and every header field goes through the header hygiene of one message,
 * with the SMTP client the last CONNECT named.  Invariants: a packet never
 * reaches past the input; every parsed string lies inside its packet and
 * ends there with its NUL; removals come out, per field name, strictly from
 * the highest index down and never beyond the fields seen.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfdef.h>

#include "lib/netaddr.h"
#include "milter/hygiene.h"
#include "milter/mproto.h"

#define SERVID "mx.fuzz.test"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const trusted[] = { "trusted.fuzz.test@127.0.0.0/8" };
static const char *const removal[] = { ".fuzz.test" };

/* fuzz_inside - s and its NUL lie within the packet. */
static void fuzz_inside(const mproto_packet *p, const char *s)
{
    const unsigned char *u = (const unsigned char *) s;

    if (u < p->data || u >= p->data + p->len || memchr(u, '\0', (size_t) (p->data + p->len - u)) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hygiene h;
    netaddr client;
    hygiene_rules r = { SERVID, trusted, 1, removal, 1, &client };
    size_t off = 0, last[HYGIENE_NAMES] = { (size_t) -1, (size_t) -1 };
    const char *v[MPROTO_STRINGS_MAX];
    mproto_packet p;
    mproto_optneg o;
    mproto_connect c;
    hygiene_removal rm;
    size_t n;

    memset(&client, 0, sizeof(client));
    hygiene_init(&h);
    while (mproto_next(data + off, size - off, &p) == MPROTO_OK) {
        if (p.size > size - off || p.data + p.len != data + off + p.size)
            abort();            /* a packet never reaches past the input */
        off += p.size;
        switch (p.cmd) {
        case SMFIC_OPTNEG:
            (void) mproto_parse_optneg(&p, &o);
            break;
        case SMFIC_CONNECT:
            if (mproto_parse_connect(&p, &c)) {
                fuzz_inside(&p, c.hostname);
                if (c.family != SMFIA_UNKNOWN)
                    fuzz_inside(&p, c.address);
                if (!netaddr_parse(c.address, &client) || c.port == 0)
                    memset(&client, 0, sizeof(client));
            }
            break;
        case SMFIC_MACRO:
            if (mproto_parse_strings(&p, 1, v, MPROTO_STRINGS_MAX, &n))
                for (size_t i = 0; i < n; i++)
                    fuzz_inside(&p, v[i]);
            break;
        case SMFIC_HEADER:
            if (mproto_parse_strings(&p, 0, v, 2, &n) && n == 2) {
                fuzz_inside(&p, v[0]);
                fuzz_inside(&p, v[1]);
                (void) hygiene_header(&h, &r, v[0], v[1], NULL, 0);
            }
            break;
        default:
            if (mproto_parse_strings(&p, 0, v, MPROTO_STRINGS_MAX, &n))
                for (size_t i = 0; i < n; i++)
                    fuzz_inside(&p, v[i]);
            break;
        }
    }
    while (hygiene_next_removal(&h, &rm)) {
        if (rm.index == 0 || rm.index > h.seen[rm.name] || rm.index >= last[rm.name])
            abort();
        last[rm.name] = rm.index;
    }
    return 0;
}
