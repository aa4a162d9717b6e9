/*
 * fuzz_authres.c - libFuzzer target: reading the authserv-id of a received
 * Authentication-Results field, the milter's removal decision, and writing
 * a field with hostile reason text.
 *
 * The input is split at newlines into header field values (a NUL-free copy
 * each).  For each: authres_parse_servid() and hygiene_classify() against
 * a fixed authserv-id and trusted list, with these invariants: an
 * unparseable value is removed; a parsed id equal to ours (case, one
 * trailing dot) is removed as ours, one under ours as under, unless
 * trusted; the id written back is what the parser returned.  The values in
 * sequence go through hygiene_header(): removals come out strictly from the
 * highest index down and never name a field that was kept.  Finally the
 * first value is used as the reason of a dane result in authres_format():
 * the field has no CR, every LF is a fold ("\n\t"), no line passes 998
 * octets, nothing outside printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "hygiene.h"

#define SERVID "mx.fuzz.test"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const trusted[] = { "internal.mx.fuzz.test" };

/* fuzz_same - a equals b ignoring case and one trailing dot of a. */
static int fuzz_same(const char *a, const char *b)
{
    size_t n = strlen(a);

    if (n > 0 && a[n - 1] == '.')
        n--;
    return n == strlen(b) && strncasecmp(a, b, n) == 0;
}

/* fuzz_under - a (one trailing dot ignored) ends in "." + b, ignoring case. */
static int fuzz_under(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);

    if (n > 0 && a[n - 1] == '.')
        n--;
    return n > m + 1 && a[n - m - 1] == '.' && strncasecmp(a + n - m, b, m) == 0;
}

static void fuzz_one(const char *value)
{
    char id[AUTHRES_FIELD_MAX], id2[AUTHRES_FIELD_MAX];
    authres_status st = authres_parse_servid(value, id, sizeof(id));
    hygiene_verdict v = hygiene_classify(value, SERVID, trusted, 1, id2, sizeof(id2));

    if (st != AUTHRES_OK) {
        if (v != HYGIENE_REMOVE_UNPARSEABLE || id2[0] != '\0')
            abort();            /* what cannot be read goes */
        return;
    }
    if (strcmp(id, id2) != 0 || id[0] == '\0')
        abort();
    if (fuzz_same(id, trusted[0]) ? v != HYGIENE_KEEP_TRUSTED
        : fuzz_same(id, SERVID) ? v != HYGIENE_REMOVE_OURS : 0)
        abort();
    if (v == HYGIENE_KEEP_OTHER && (fuzz_same(id, SERVID) || fuzz_same(id, trusted[0])
                                    || fuzz_under(id, SERVID)))
        abort();                /* ours, or under ours and not trusted: never kept */
}

/* fuzz_format - the reason as a comment: the field stays well-formed. */
static void fuzz_format(const char *reason)
{
    authres_item it = { "fail", reason, "smtp", "helo", "mta1.fuzz.test" };
    char out[AUTHRES_FIELD_MAX];
    size_t col = 0;

    if (authres_format(SERVID, &it, 1, 1, out, sizeof(out)) != AUTHRES_OK)
        return;                 /* too long for the buffer: refused whole, nothing half-written */
    for (const char *p = out; *p != '\0'; p++) {
        if (*p == '\r' || (unsigned char) *p > 0x7e || ((unsigned char) *p < 0x20 && *p != '\n' && *p != '\t'))
            abort();
        if (*p == '\n') {
            if (p[1] != '\t')
                abort();        /* every line break is a fold */
            col = 0;
            continue;
        }
        if (++col > 998)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hygiene h;
    char *copy = malloc(size + 1), *line, *next;
    size_t idx, last = (size_t) -1;
    int first = 1;

    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t i = 0; i < size; i++)
        if (copy[i] == '\0')
            copy[i] = ' ';      /* a milter never sees a NUL inside a value */
    hygiene_init(&h);
    for (line = copy; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        fuzz_one(line);
        (void) hygiene_header(&h, (line[0] & 1) ? "Authentication-Results" : "AUTHENTICATION-RESULTS",
                              line, SERVID, trusted, 1, NULL, 0);
        if (first) {
            fuzz_format(line);
            first = 0;
        }
    }
    while (hygiene_next_removal(&h, &idx)) {
        if (idx == 0 || idx > h.seen || idx >= last)
            abort();            /* 1-based, within the fields seen, strictly descending */
        last = idx;
    }
    free(copy);
    return 0;
}
