/*
 * fuzz_authres.c - libFuzzer target: reading the authserv-id of a received
 * Authentication-Results field, the milter's removal decision, and writing
 * a field with hostile reason text.
 *
 * The input is split at newlines into header field values (a NUL-free copy
 * each).  For each: authres_parse_servid() and hygiene_classify() against
 * a fixed authserv-id, trusted entry (bound to 127.0.0.0/8) and removal
 * suffix, with the SMTP client 127.0.0.1 or none (by the input's first
 * byte), checked against a reference reading written here: an unparseable
 * value is removed; an id equal to ours (white space, case and trailing
 * dots aside) is removed as ours, one under ours as under - never kept, not
 * even as trusted; the trusted id is kept only from its network; ids under
 * the removal suffix go unless trusted; the id written back is what the
 * parser returned.  The values in sequence go through hygiene_header(),
 * alternating Authentication-Results and X-Authentication-Results: each
 * name's removals come out strictly from its highest index down, within
 * the fields seen.  Finally the first value is used as the reason of a
 * dane result in authres_format(): the field has no CR, every LF is a fold
 * ("\n\t"), no line passes 998 octets, nothing outside printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/authres.h"
#include "lib/netaddr.h"
#include "milter/hygiene.h"

#define SERVID "mx.fuzz.test"
#define TRUSTED "trusted.fuzz.test"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const trusted[] = { TRUSTED "@127.0.0.0/8" };
static const char *const removal[] = { ".fuzz.test" };

/* fuzz_norm - the reference reading: trim blanks, fold case, drop every trailing dot; "" when nothing is left. */
static void fuzz_norm(const char *id, char *out, size_t size)
{
    size_t a = 0, b = strlen(id);

    while (a < b && (id[a] == ' ' || id[a] == '\t'))
        a++;
    while (b > a && (id[b - 1] == ' ' || id[b - 1] == '\t' || id[b - 1] == '.'))
        b--;
    if (b - a >= size)
        abort();
    for (size_t i = a; i < b; i++)
        out[i - a] = (id[i] >= 'A' && id[i] <= 'Z') ? (char) (id[i] - 'A' + 'a') : id[i];
    out[b - a] = '\0';
}

/* fuzz_under - a ends in "." + b. */
static int fuzz_under(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);

    return n > m + 1 && a[n - m - 1] == '.' && strcmp(a + n - m, b) == 0;
}

static void fuzz_one(const char *value, const netaddr *client)
{
    char id[AUTHRES_FIELD_MAX], id2[AUTHRES_FIELD_MAX], norm[AUTHRES_FIELD_MAX];
    hygiene_rules r = { SERVID, trusted, 1, removal, 1, client };
    authres_status st = authres_parse_servid(value, id, sizeof(id));
    hygiene_verdict v = hygiene_classify(&r, value, id2, sizeof(id2));

    if (st != AUTHRES_OK) {
        if (v != HYGIENE_REMOVE_UNPARSEABLE || id2[0] != '\0')
            abort();            /* what cannot be read goes */
        return;
    }
    if (strcmp(id, id2) != 0 || id[0] == '\0')
        abort();
    fuzz_norm(id, norm, sizeof(norm));
    if (strcmp(norm, SERVID) == 0 && v != HYGIENE_REMOVE_OURS && v != HYGIENE_REMOVE_UNPARSEABLE)
        abort();                /* ours (or a quoted look-alike): never kept */
    if (fuzz_under(norm, SERVID) && v != HYGIENE_REMOVE_SUBDOMAIN && v != HYGIENE_REMOVE_UNPARSEABLE)
        abort();
    if (v == HYGIENE_KEEP_TRUSTED && (strcmp(norm, TRUSTED) != 0 || client->family == 0))
        abort();                /* trusted only for its id and from its network */
    if (v == HYGIENE_KEEP_OTHER && (fuzz_under(norm, "fuzz.test") || strcmp(norm, SERVID) == 0))
        abort();                /* listed ids are never kept as other */
    if (strcmp(norm, TRUSTED) == 0 && client->family != 0 && v != HYGIENE_KEEP_TRUSTED
        && v != HYGIENE_REMOVE_UNPARSEABLE)
        abort();
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
    size_t last[HYGIENE_NAMES] = { (size_t) -1, (size_t) -1 };
    hygiene_removal rm;
    netaddr client;
    hygiene_rules r = { SERVID, trusted, 1, removal, 1, &client };
    int first = 1, n = 0;

    if (copy == NULL)
        abort();
    memset(&client, 0, sizeof(client));
    if (size > 0 && (data[0] & 2) && !netaddr_parse("127.0.0.1", &client))
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
        fuzz_one(line, &client);
        (void) hygiene_header(&h, &r, (n++ & 1) ? "X-Authentication-Results" : "AUTHENTICATION-RESULTS",
                              line, NULL, 0);
        if (first) {
            fuzz_format(line);
            first = 0;
        }
    }
    while (hygiene_next_removal(&h, &rm)) {
        if (rm.index == 0 || rm.index > h.seen[rm.name] || rm.index >= last[rm.name])
            abort();            /* 1-based, within the fields seen, strictly descending per name */
        last[rm.name] = rm.index;
    }
    free(copy);
    return 0;
}
