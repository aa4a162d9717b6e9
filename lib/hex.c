/*
 * hex.c - hexadecimal encoding and fingerprint decoding.
 *
 * hex_encode() writes lower-case hex for digests and record data.
 * hex_decode() reads a fingerprint or record data back in one of two forms,
 * in any case:
 *
 *   bare hex       "a1b2c3..."      an even number of hex digits;
 *   colon form     "A1:B2:C3:..."   as Postfix logs and passes fingerprints:
 *                                   groups of exactly two digits separated
 *                                   by single colons, none leading or trailing.
 *
 * A string with any colon in it is read in colon form.  In that form an
 * empty group (leading, trailing or doubled colon) is a HEX_BAD_CHAR and a
 * group of other than two digits is HEX_ODD.  Nothing is skipped: the caller
 * trims surrounding white space.  Output never exceeds the caller's buffer.
 * Well-formed text is read a pair at a time through a table; anything else
 * is read again a byte at a time, which names the error.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "panic.h"

/* hex_digit_value - value of one hex digit, -1 if c is not one. */
static int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    if (out == NULL || (in == NULL && len > 0))
        DANCE_PANIC("unexpected: out == NULL || (in == NULL && len > 0)");
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

/* hex_nibble - 1 + the value of hex digit c, 0 when c is not one. */
static unsigned hex_nibble(unsigned char c)
{
    static const unsigned char v[256] = {
        ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
        ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
        ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
        ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    };

    return v[c];
}

/*
 * hex_decode_fast - well-formed text only: pairs of digits, separated by
 * single colons when the third byte is one.  False for anything else
 * (then hex_decode() reads it again byte by byte for the exact error).
 */
static bool hex_decode_fast(const char *text, unsigned char *out, size_t outsize, size_t *outlen)
{
    const unsigned char *p = (const unsigned char *) text;
    bool colon = p[0] != '\0' && p[1] != '\0' && p[2] == ':';
    size_t n = 0;

    for (;;) {
        unsigned hi = hex_nibble(p[0]), lo;

        if (hi == 0 || (lo = hex_nibble(p[1])) == 0 || n >= outsize)
            return false;
        out[n++] = (unsigned char) ((hi - 1) << 4 | (lo - 1));
        p += 2;
        if (*p == '\0')
            break;
        if (colon && *p++ != ':')
            return false;
    }
    *outlen = n;
    return true;
}

hex_status hex_decode(const char *text, unsigned char *out, size_t outsize, size_t *outlen)
{
    const bool colon_form = (text != NULL && strchr(text, ':') != NULL);
    size_t group = 0;           /* digits in the current colon group */
    size_t digits = 0;          /* digits seen in all */
    size_t n = 0;               /* bytes written */
    int high = 0;               /* first nibble of the pending pair */
    const char *p;

    if (text == NULL || outlen == NULL || (out == NULL && outsize > 0))
        DANCE_PANIC("unexpected: text == NULL || outlen == NULL || (out == NULL && outsize > 0)");
    *outlen = 0;
    if (*text == '\0')
        return HEX_EMPTY;
    if (hex_decode_fast(text, out, outsize, outlen))
        return HEX_OK;

    for (p = text; *p != '\0'; p++) {
        int v;

        if (*p == ':') {
            if (group == 0)
                return HEX_BAD_CHAR;    /* leading or doubled colon */
            if (group != 2)
                return HEX_ODD;         /* colon splitting a pair */
            group = 0;
            continue;
        }
        if ((v = hex_digit_value(*p)) < 0)
            return HEX_BAD_CHAR;
        if (colon_form && group == 2)
            return HEX_ODD;             /* more than two digits between colons */
        group++;
        if (digits++ % 2 == 0) {
            high = v;
            continue;
        }
        if (n >= outsize)
            return HEX_TOO_LONG;
        out[n++] = (unsigned char) (high << 4 | v);
    }
    if (colon_form && group == 0)
        return HEX_BAD_CHAR;            /* trailing colon */
    if (digits % 2 != 0)
        return HEX_ODD;
    *outlen = n;
    return HEX_OK;
}

const char *hex_status_str(hex_status status)
{
    switch (status) {
    case HEX_OK:
        return "ok";
    case HEX_EMPTY:
        return "empty hex string";
    case HEX_BAD_CHAR:
        return "invalid character or misplaced colon in hex string";
    case HEX_ODD:
        return "odd number of hex digits";
    case HEX_TOO_LONG:
        return "hex string too long";
    }
    DANCE_PANIC("not a hex_status");
}
