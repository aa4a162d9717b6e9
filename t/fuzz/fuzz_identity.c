/*
 * fuzz_identity.c - libFuzzer target: the claimed-name validators and the
 * milter's message key.
 *
 * The input (NUL-free copy) as an EHLO name, an owner name, an envelope
 * address and a client address.  Checked: identity_normalize() accepts
 * only what it promises (1..253 octets, at least two labels, labels of
 * 1..63 LDH octets not starting or ending with '-', lower case, no
 * trailing dot) and is idempotent; the owner names built from an accepted
 * name fit and normalize as owners; identity_mail_domain() returns a
 * normalized name; a name is in scope of itself; join_make_key() accepts
 * an address only as a canonical IP literal.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/identity.h"
#include "danced/join.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_valid - out is a name identity_normalize() may return. */
static void fuzz_valid(const char *n)
{
    size_t len = strlen(n), label = 0, labels = 1;

    if (len == 0 || len > 253 || n[len - 1] == '.' || n[0] == '.')
        abort();
    for (size_t i = 0; i <= len; i++) {
        char c = n[i];

        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || n[i - 1] == '-' || n[i - label] == '-')
                abort();
            if (c == '.')
                labels++;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            abort();
        label++;
    }
    if (labels < 2)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char name[IDENTITY_NAME_MAX], again[IDENTITY_NAME_MAX], owner[IDENTITY_OWNER_MAX], o2[IDENTITY_OWNER_MAX];
    const char *scope[1];
    join_key key;

    if (text == NULL)
        abort();
    for (size_t i = 0; i < size; i++)
        text[i] = data[i] != '\0' ? (char) data[i] : '.';
    text[size] = '\0';

    if (identity_normalize(text, name) == IDENTITY_OK) {
        fuzz_valid(name);
        if (identity_normalize(name, again) != IDENTITY_OK || strcmp(name, again) != 0)
            abort();            /* idempotent */
        scope[0] = name;
        if (!identity_in_scope(name, scope, 1))
            abort();
        for (int k = IDENTITY_OWNER_CLIENT; k <= IDENTITY_OWNER_SERVER; k++) {
            if (identity_owner(name, (identity_owner_kind) k, owner) != IDENTITY_OK)
                continue;       /* too long with the prefix */
            if (strlen(owner) > 253 || identity_normalize_owner(owner, o2) != IDENTITY_OK
                || strcmp(owner, o2) != 0)
                abort();
        }
    }
    (void) identity_normalize_owner(text, owner);
    if (identity_mail_domain(text, name) == IDENTITY_OK)
        fuzz_valid(name);
    scope[0] = "fuzz.test";
    (void) identity_in_scope(text, scope, 1);

    if (join_make_key("4F2B1A7214F", text, "25", &key) == JOIN_KEY_OK) {
        char addr[INET6_ADDRSTRLEN + 8];
        unsigned char bin[16];

        /* "QUEUEID ADDRESS 25", the address as inet_ntop writes it */
        if (sscanf(key.s, "4F2B1A7214F %45s 25", addr) != 1
            || (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1))
            abort();
    }
    (void) join_make_key(text, "127.0.0.1", text, &key);
    free(text);
    return 0;
}
