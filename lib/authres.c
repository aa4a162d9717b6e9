/*
 * authres.c - write and read Authentication-Results header fields (RFC 8601).
 *
 * authres_format() turns verdicts into one field of "dane" results:
 *
 *   Authentication-Results: mx.example.org;
 *   	dane=pass (matched 3 1 1 _smtp-client.mta.example.net)
 *   	smtp.helo=mta.example.net;
 *   	dane=none (no TLSA records) smtp.mailfrom=example.net
 *
 * Each resinfo starts on a new line; within one, words are folded with
 * "\n\t" before they would pass column 78 (counting the field name, also
 * when the caller writes the name itself), so only a single word that is
 * longer than that gets a longer line.  The longest possible word is far
 * below the 998 octet limit; that is checked and a breach abort()s.
 * Nothing is copied in unchecked: the authserv-id and property values must
 * be domain-like (letters, digits, '-', non-empty dot-separated labels),
 * result words must be RFC 8601 words, ptype and property must be keywords.
 * A reason becomes a comment: '(' ')' '\' are escaped, control and
 * non-ASCII bytes become '?', runs of spaces collapse, and it is cut at
 * AUTHRES_REASON_MAX bytes (marked "...").  Output is written only when all
 * of it fits; otherwise out is "" and the status AUTHRES_TOO_LONG.
 *
 * authres_parse_servid() reads the authserv-id at the start of a received
 * field body: [CFWS] (token / quoted-string) [CFWS [version]] followed by
 * ";" or the end.  Comments may nest and contain quoted-pairs; folding may
 * appear wherever white space may.  Anything else - empty, only comments,
 * an unbalanced comment, an unterminated quoted string, control or 8-bit
 * bytes, a method where the id should be - is AUTHRES_SYNTAX, so a caller
 * that removes forged fields can treat "unparseable" as "remove" (fail
 * closed).  The id is returned as written (a quoted one without its quotes
 * and quoted-pair backslashes); the caller compares it with its own id
 * case-insensitively (domain names are case-insensitive).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "panic.h"

#define AUTHRES_NAME "Authentication-Results:"
#define AUTHRES_FOLD_COLUMN 78      /* fold before a line would pass this */
#define AUTHRES_LINE_LIMIT 998      /* RFC 5322 2.1.1, excluding CRLF */
#define AUTHRES_REASON_MAX 200      /* reason bytes kept in the comment */
#define AUTHRES_KEYWORD_MAX 63      /* ptype, property */
#define AUTHRES_DOMAIN_MAX 253      /* property value */
#define AUTHRES_LABEL_MAX 63

/* Comment buffer: "(" + every kept byte escaped + "...)" + NUL. */
#define AUTHRES_COMMENT_SIZE (2 * AUTHRES_REASON_MAX + 8)
/* Words in one resinfo: method, one per comment word, property. */
#define AUTHRES_WORDS_MAX (AUTHRES_COMMENT_SIZE / 2 + 4)

static const char *const authres_results[] = {
    "pass", "fail", "neutral", "none", "temperror", "permerror", "policy",
};

/* ---------------------------------------------------------------- checks */

static bool authres_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* authres_is_keyword - RFC 8601 Keyword (ldh-str): letters/digits, inner hyphens. */
static bool authres_is_keyword(const char *s)
{
    size_t len;

    if (s == NULL || (len = strlen(s)) == 0 || len > AUTHRES_KEYWORD_MAX)
        return false;
    if (!authres_is_alnum((unsigned char) s[0]) || !authres_is_alnum((unsigned char) s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!authres_is_alnum((unsigned char) s[i]) && s[i] != '-')
            return false;
    return true;
}

/* authres_is_domain - non-empty dot-separated LDH labels, no empty label, at most max octets. */
static bool authres_is_domain(const char *s, size_t max)
{
    size_t len, label = 0;

    if (s == NULL || (len = strlen(s)) == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (authres_is_alnum(c) || c == '-') {
            if (++label > AUTHRES_LABEL_MAX)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

static bool authres_is_result(const char *s)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < sizeof(authres_results) / sizeof(authres_results[0]); i++)
        if (strcmp(s, authres_results[i]) == 0)
            return true;
    return false;
}

/* authres_check_item - everything that will be copied from one item is valid. */
static bool authres_check_item(const authres_item *it)
{
    if (!authres_is_result(it->result))
        return false;
    if (it->ptype == NULL && it->property == NULL && it->value == NULL)
        return true;                    /* a resinfo without propspec */
    return authres_is_keyword(it->ptype) && authres_is_keyword(it->property)
        && authres_is_domain(it->value, AUTHRES_DOMAIN_MAX);
}

/* ---------------------------------------------------------------- output */

/* A bounded output buffer that tracks the current column. */
typedef struct authres_writer {
    char *out;
    size_t size;
    size_t len;
    size_t col;                 /* octets on the current line so far */
    bool full;                  /* something did not fit */
} authres_writer;

/* authres_put - append n bytes (no folding), or mark the writer full. */
static void authres_put(authres_writer *w, const char *s, size_t n)
{
    if (w->full || n >= w->size - w->len) {
        w->full = true;
        return;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
    w->out[w->len] = '\0';
    w->col += n;
}

/*
 * authres_word - append one unbreakable word plus its glued tail (";" or
 * ""): on a new line when newline is set or when it would pass the fold
 * column, else after one space.
 */
static void authres_word(authres_writer *w, const char *s, size_t n, const char *tail, bool newline)
{
    size_t tlen = strlen(tail);

    if (newline || (w->col > 1 && w->col + 1 + n + tlen > AUTHRES_FOLD_COLUMN)) {
        authres_put(w, "\n\t", 2);
        w->col = 1;
    } else {
        authres_put(w, " ", 1);
    }
    if (w->col + n + tlen > AUTHRES_LINE_LIMIT)
        DANCE_PANIC("words are bounded far below this");
    authres_put(w, s, n);
    authres_put(w, tail, tlen);
}

/*
 * authres_comment - write reason as an escaped comment "(...)" into out;
 * returns its length, 0 when the reason has nothing to say.
 */
static size_t authres_comment(const char *reason, char out[AUTHRES_COMMENT_SIZE])
{
    size_t len = 0, i;

    out[len++] = '(';
    for (i = 0; reason[i] != '\0' && i < AUTHRES_REASON_MAX; i++) {
        unsigned char c = (unsigned char) reason[i];

        if (c == ' ') {
            if (out[len - 1] != ' ' && out[len - 1] != '(')
                out[len++] = ' ';
            continue;
        }
        if (c == '(' || c == ')' || c == '\\')
            out[len++] = '\\';
        out[len++] = (c < 0x20 || c >= 0x7f) ? '?' : (char) c;
    }
    if (len > 1 && out[len - 1] == ' ')
        len--;
    if (reason[i] != '\0') {
        memcpy(out + len, "...", 3);
        len += 3;
    }
    if (len == 1)
        return 0;
    out[len++] = ')';
    out[len] = '\0';
    return len;
}

/* A word of a resinfo: a pointer into one of the item's buffers. */
typedef struct authres_span {
    const char *s;
    size_t n;
} authres_span;

/* authres_resinfo - write one "dane=RESULT (comment) ptype.property=value" resinfo. */
static void authres_resinfo(authres_writer *w, const authres_item *it, bool last)
{
    char method[32], comment[AUTHRES_COMMENT_SIZE];
    char prop[2 * AUTHRES_KEYWORD_MAX + AUTHRES_DOMAIN_MAX + 8];
    authres_span words[AUTHRES_WORDS_MAX];
    size_t nwords = 0, clen;
    int len;

    len = snprintf(method, sizeof(method), "dane=%s", it->result);
    if (len < 0 || (size_t) len >= sizeof(method))
        DANCE_PANIC("result words are short and checked");
    words[nwords++] = (authres_span) { method, (size_t) len };

    if (it->reason != NULL && (clen = authres_comment(it->reason, comment)) > 0) {
        for (size_t start = 0, i = 0; i <= clen; i++) {
            if (i == clen || comment[i] == ' ') {
                if (nwords >= AUTHRES_WORDS_MAX - 1)
                    DANCE_PANIC("collapsed spaces bound the count");
                words[nwords++] = (authres_span) { comment + start, i - start };
                start = i + 1;
            }
        }
    }
    if (it->ptype != NULL) {
        len = snprintf(prop, sizeof(prop), "%s.%s=%s", it->ptype, it->property, it->value);
        if (len < 0 || (size_t) len >= sizeof(prop))
            DANCE_PANIC("lengths were checked");
        words[nwords++] = (authres_span) { prop, (size_t) len };
    }
    for (size_t i = 0; i < nwords; i++)
        authres_word(w, words[i].s, words[i].n, (i + 1 == nwords && !last) ? ";" : "", i == 0);
}

authres_status authres_format(const char *servid, const authres_item *items, size_t n,
                              int with_name, char *out, size_t outsize)
{
    authres_writer w = { out, outsize, 0, 0, false };

    if ((out == NULL && outsize > 0) || (items == NULL && n > 0))
        DANCE_PANIC("unexpected: (out == NULL && outsize > 0) || (items == NULL && n > 0)");
    if (outsize > 0)
        out[0] = '\0';
    if (!authres_is_domain(servid, AUTHRES_SERVID_MAX - 1))
        return AUTHRES_BAD_SERVID;
    for (size_t i = 0; i < n; i++)
        if (!authres_check_item(&items[i]))
            return AUTHRES_BAD_PROPERTY;
    if (outsize == 0)
        return AUTHRES_TOO_LONG;

    /* The first line counts the field name even when the caller writes it. */
    if (with_name)
        authres_put(&w, AUTHRES_NAME " ", strlen(AUTHRES_NAME " "));
    else
        w.col = strlen(AUTHRES_NAME " ");
    authres_put(&w, servid, strlen(servid));
    authres_put(&w, ";", 1);
    if (n == 0)
        authres_word(&w, "none", 4, "", false);
    for (size_t i = 0; i < n; i++)
        authres_resinfo(&w, &items[i], i + 1 == n);

    if (w.full) {
        out[0] = '\0';
        return AUTHRES_TOO_LONG;
    }
    return AUTHRES_OK;
}

/* ----------------------------------------------------------------- input */

static bool authres_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* authres_is_vchar - printable US-ASCII (what qtext, ctext and quoted-pairs may hold). */
static bool authres_is_vchar(char c)
{
    return (unsigned char) c > 0x20 && (unsigned char) c < 0x7f;
}

/* authres_is_token_char - RFC 2045 token: any CHAR but SPACE, CTLs and tspecials. */
static bool authres_is_token_char(char c)
{
    return authres_is_vchar(c) && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* authres_skip_cfws - skip white space, folding and nested comments; false on bad syntax. */
static bool authres_skip_cfws(const char **pp)
{
    const char *p = *pp;

    for (;;) {
        if (authres_is_space(*p)) {
            p++;
        } else if (*p == '(') {
            size_t depth = 0;

            do {
                if (*p == '\\') {
                    p++;
                    if (!authres_is_vchar(*p) && *p != ' ' && *p != '\t')
                        return false;
                } else if (*p == '(') {
                    depth++;
                } else if (*p == ')') {
                    depth--;
                } else if (!authres_is_vchar(*p) && !authres_is_space(*p)) {
                    return false;       /* NUL (unterminated), CTL or 8-bit */
                }
                p++;
            } while (depth > 0);
        } else {
            break;
        }
    }
    *pp = p;
    return true;
}

/* authres_quoted - read a quoted-string at *pp (after the quote) into id; false on bad syntax. */
static bool authres_quoted(const char **pp, char *id, size_t idsize, size_t *idlen)
{
    const char *p = *pp;

    for (;; p++) {
        char c = *p;

        if (c == '"')
            break;
        if (c == '\r' || c == '\n')
            continue;                   /* folding: the WSP after it stays */
        if (c == '\\') {
            c = *++p;
            if (!authres_is_vchar(c) && c != ' ' && c != '\t')
                return false;
        } else if (!authres_is_vchar(c) && c != ' ' && c != '\t') {
            return false;               /* NUL (unterminated), CTL or 8-bit */
        }
        if (*idlen + 1 >= idsize)
            return false;
        id[(*idlen)++] = c;
    }
    *pp = p + 1;
    return true;
}

authres_status authres_parse_servid(const char *value, char *out, size_t outsize)
{
    char id[AUTHRES_FIELD_MAX];
    size_t len = 0;
    const char *p = value;

    if (out == NULL && outsize > 0)
        DANCE_PANIC("unexpected: out == NULL && outsize > 0");
    if (outsize > 0)
        out[0] = '\0';
    if (value == NULL || !authres_skip_cfws(&p))
        return AUTHRES_SYNTAX;

    if (*p == '"') {
        p++;
        if (!authres_quoted(&p, id, sizeof(id), &len))
            return AUTHRES_SYNTAX;
    } else {
        while (authres_is_token_char(*p)) {
            if (len + 1 >= sizeof(id))
                return AUTHRES_SYNTAX;
            id[len++] = *p++;
        }
    }
    if (len == 0)
        return AUTHRES_SYNTAX;
    id[len] = '\0';

    /* What may follow: CFWS, then an optional version, then ";" or the end. */
    if (*p != '\0' && *p != ';' && *p != '(' && !authres_is_space(*p))
        return AUTHRES_SYNTAX;
    if (!authres_skip_cfws(&p))
        return AUTHRES_SYNTAX;
    if (*p >= '0' && *p <= '9') {
        const char *digits = p;

        while (*p >= '0' && *p <= '9')
            p++;
        if (p == digits || (*p != '\0' && *p != ';' && *p != '(' && !authres_is_space(*p)))
            return AUTHRES_SYNTAX;
        if (!authres_skip_cfws(&p))
            return AUTHRES_SYNTAX;
    }
    if (*p != '\0' && *p != ';')
        return AUTHRES_SYNTAX;

    if (len >= outsize)
        return AUTHRES_TOO_LONG;
    memcpy(out, id, len + 1);
    return AUTHRES_OK;
}

/* authres_norm_servid - the comparable form of an authserv-id. */
bool authres_norm_servid(const char *id, char *out, size_t outsize)
{
    size_t start = 0, end = strlen(id), n;

    while (start < end && (id[start] == ' ' || id[start] == '\t'))
        start++;
    while (end > start && (id[end - 1] == ' ' || id[end - 1] == '\t'))
        end--;
    while (end > start && id[end - 1] == '.')
        end--;
    n = end - start;
    if (n == 0 || n >= outsize)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[start + i];

        if (!authres_is_token_char(c))
            return false;
        out[i] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return true;
}

/* authres_servid_relation - how normalized id a relates to normalized id b. */
authres_id_relation authres_servid_relation(const char *a, const char *b)
{
    size_t an = strlen(a), bn = strlen(b);

    if (an == bn && memcmp(a, b, an) == 0)
        return AUTHRES_ID_SAME;
    if (bn > 0 && an > bn + 1 && a[an - bn - 1] == '.' && memcmp(a + an - bn, b, bn) == 0)
        return AUTHRES_ID_UNDER;
    return AUTHRES_ID_OTHER;
}

const char *authres_status_str(authres_status status)
{
    switch (status) {
    case AUTHRES_OK:
        return "ok";
    case AUTHRES_BAD_SERVID:
        return "authserv-id is not a valid domain name";
    case AUTHRES_BAD_PROPERTY:
        return "result, property or value is not valid";
    case AUTHRES_TOO_LONG:
        return "does not fit the buffer";
    case AUTHRES_SYNTAX:
        return "field does not start with an authserv-id";
    }
    return "unknown authres status";
}
