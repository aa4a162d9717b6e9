/*
 * test_keyhash.c - lib/keyhash.c, SipHash-2-4: the published test vectors
 * (key 00 01 .. 0f, messages 00 01 .. of every length 0..63: the first and
 * the 15-octet value printed in the paper, and every length against the
 * reference table's first eight), and that the key matters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/keyhash.h"

/* The reference implementation's vectors for lengths 0..7 (vectors.h, as 64-bit words). */
static const uint64_t want[8] = {
    0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
    0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
};

static void fill(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char) i;
}

static void test_vectors(void **state)
{
    unsigned char key[KEYHASH_KEY_LEN], msg[64];

    (void) state;
    fill(key, sizeof(key));
    fill(msg, sizeof(msg));
    for (size_t n = 0; n < 8; n++)
        assert_true(keyhash_siphash(key, msg, n) == want[n]);
    /* the paper's example: 15 octets 00..0e */
    assert_true(keyhash_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
}

/* Another key, another value; one more octet, another value. */
static void test_key_and_length_matter(void **state)
{
    unsigned char key[KEYHASH_KEY_LEN], other[KEYHASH_KEY_LEN], msg[64];

    (void) state;
    fill(key, sizeof(key));
    memcpy(other, key, sizeof(key));
    other[15] ^= 1;
    fill(msg, sizeof(msg));
    for (size_t n = 0; n < sizeof(msg); n++) {
        assert_true(keyhash_siphash(key, msg, n) != keyhash_siphash(other, msg, n));
        if (n > 0)
            assert_true(keyhash_siphash(key, msg, n) != keyhash_siphash(key, msg, n - 1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_key_and_length_matter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
