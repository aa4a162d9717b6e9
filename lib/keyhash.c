/*
 * keyhash.c - SipHash-2-4, the keyed hash of tables whose keys a client
 * chooses (see keyhash.h).
 *
 * USAGE
 *	unsigned char key[KEYHASH_KEY_LEN];	(random, drawn once at start)
 *	h = keyhash_siphash(key, bytes, len);
 *
 * DESCRIPTION
 *	The algorithm as published ("SipHash: a fast short-input PRF",
 *	2012): little-endian words, two compression rounds per 8-byte
 *	block, the length in the last block's top byte, four finalization
 *	rounds.  The unit test checks the paper's vectors.
 */

#include "keyhash.h"

/* keyhash_rotl - rotate x left by b bits. */
#define KEYHASH_ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

/* keyhash_round - one SipRound over the state. */
#define KEYHASH_ROUND(v0, v1, v2, v3) do { \
        v0 += v1; v1 = KEYHASH_ROTL(v1, 13); v1 ^= v0; v0 = KEYHASH_ROTL(v0, 32); \
        v2 += v3; v3 = KEYHASH_ROTL(v3, 16); v3 ^= v2; \
        v0 += v3; v3 = KEYHASH_ROTL(v3, 21); v3 ^= v0; \
        v2 += v1; v1 = KEYHASH_ROTL(v1, 17); v1 ^= v2; v2 = KEYHASH_ROTL(v2, 32); \
    } while (0)

/* keyhash_le64 - eight bytes as a little-endian word. */
static uint64_t keyhash_le64(const unsigned char *p)
{
    uint64_t w = 0;

    for (int i = 7; i >= 0; i--)
        w = (w << 8) | p[i];
    return w;
}

uint64_t keyhash_siphash(const unsigned char key[KEYHASH_KEY_LEN], const void *in, size_t len)
{
    const unsigned char *p = in;
    uint64_t k0 = keyhash_le64(key), k1 = keyhash_le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    uint64_t m, last = (uint64_t) len << 56;
    size_t left = len & 7;

    for (const unsigned char *end = p + (len - left); p < end; p += 8) {
        m = keyhash_le64(p);
        v3 ^= m;
        KEYHASH_ROUND(v0, v1, v2, v3);
        KEYHASH_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    for (size_t i = 0; i < left; i++)
        last |= (uint64_t) p[i] << (8 * i);
    v3 ^= last;
    KEYHASH_ROUND(v0, v1, v2, v3);
    KEYHASH_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        KEYHASH_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}
