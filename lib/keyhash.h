/*
 * keyhash.h - a keyed hash for tables whose keys a client chooses.
 *
 * SipHash-2-4 (Aumasson and Bernstein): 64 bits out of a 128-bit secret
 * key and any bytes.  It is a pseudo-random function, not a digest: with
 * a random key nobody who does not know it can pick inputs that land in
 * one bucket, so a table keyed by it cannot be flooded.  Two inputs may
 * still give one value; callers compare the whole key on a hit.
 */
#ifndef DANCE_LIB_KEYHASH_H
#define DANCE_LIB_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

#define KEYHASH_KEY_LEN 16

/* keyhash_siphash - SipHash-2-4 of len bytes at in under key. */
uint64_t keyhash_siphash(const unsigned char key[KEYHASH_KEY_LEN], const void *in, size_t len);

#endif
