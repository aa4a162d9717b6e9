/*
 * hex.h - hexadecimal encoding and fingerprint decoding.
 *
 * Used by the TLSA, evidence and output code to turn digests and record data
 * into text and back.  Decoding accepts Postfix's colon form ("AB:CD:...")
 * and bare hex, in any case; everything is bounded by the caller's buffer.
 */
#ifndef DANCE_LIB_HEX_H
#define DANCE_LIB_HEX_H

#include <stddef.h>

typedef enum {
    HEX_OK = 0,
    HEX_EMPTY,          /* no digits at all */
    HEX_BAD_CHAR,       /* a character that is neither hex digit nor a valid colon */
    HEX_ODD,            /* an odd number of digits, or a colon splitting a pair */
    HEX_TOO_LONG        /* more bytes than the output buffer holds */
} hex_status;

/* hex_encode - write 2*len lower-case hex digits plus NUL to out (size >= 2*len+1). */
void hex_encode(const unsigned char *in, size_t len, char *out);

/* hex_decode - decode bare hex or colon-separated pairs into out; *outlen gets the byte count. */
hex_status hex_decode(const char *text, unsigned char *out, size_t outsize, size_t *outlen);

/* hex_status_str - short English text for a hex_status. */
const char *hex_status_str(hex_status status);

#endif
