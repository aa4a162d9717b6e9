/*
 * hygiene.c - which Authentication-Results fields of a message must go.
 *
 * USAGE
 *	hygiene h;
 *	hygiene_init(&h);
 *	for each header field:  hygiene_header(&h, name, value, servid, trusted, n, NULL, 0);
 *	if (h.too_many) ... refuse the message ...
 *	while (hygiene_next_removal(&h, &i))  smfi_chgheader(ctx, HYGIENE_FIELD, i, NULL);
 *
 * DESCRIPTION
 *	The authserv-id is read by authres_parse_servid(), which copes with
 *	comments, folding, quoted strings and a version, and refuses
 *	everything else (empty, only a comment, unbalanced, control or
 *	8-bit bytes).  A refused field is removed whoever wrote it: a
 *	field nobody can attribute could be read as ours by a lax
 *	consumer.  Then, after dropping one trailing dot and ignoring case:
 *	an id listed in trusted is kept; an id equal to servid, or ending
 *	in "." + servid, is removed; any other id is kept.  "xmx.example"
 *	is not under "mx.example": the dot is required.
 *
 *	Indexes count Authentication-Results fields only, from 1, in the
 *	order the MTA passed them (smfi_chgheader's numbering).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "hygiene.h"

/* hygiene_strip_dot - the length of s without one trailing dot. */
static size_t hygiene_strip_dot(const char *s)
{
    size_t n = strlen(s);

    return (n > 0 && s[n - 1] == '.') ? n - 1 : n;
}

/* hygiene_same - a (length an) equals b (without a trailing dot), ignoring case. */
static bool hygiene_same(const char *a, size_t an, const char *b)
{
    size_t bn = hygiene_strip_dot(b);

    return an == bn && strncasecmp(a, b, an) == 0;
}

/* hygiene_under - a (length an) is a name under b: ends in "." + b, ignoring case. */
static bool hygiene_under(const char *a, size_t an, const char *b)
{
    size_t bn = hygiene_strip_dot(b);

    return bn > 0 && an > bn + 1 && a[an - bn - 1] == '.' && strncasecmp(a + an - bn, b, bn) == 0;
}

/* hygiene_classify - the decision for one field value. */
hygiene_verdict hygiene_classify(const char *value, const char *servid, const char *const *trusted,
                                 size_t ntrusted, char *id, size_t idsize)
{
    char got[AUTHRES_FIELD_MAX];
    size_t n;

    if (id != NULL && idsize > 0)
        id[0] = '\0';
    if (authres_parse_servid(value, got, sizeof(got)) != AUTHRES_OK)
        return HYGIENE_REMOVE_UNPARSEABLE;
    if (id != NULL && idsize > strlen(got))
        memcpy(id, got, strlen(got) + 1);
    n = hygiene_strip_dot(got);
    for (size_t i = 0; i < ntrusted; i++)
        if (hygiene_same(got, n, trusted[i]))
            return HYGIENE_KEEP_TRUSTED;
    if (hygiene_same(got, n, servid))
        return HYGIENE_REMOVE_OURS;
    if (hygiene_under(got, n, servid))
        return HYGIENE_REMOVE_SUBDOMAIN;
    return HYGIENE_KEEP_OTHER;
}

/* hygiene_is_field - true when a header field name is Authentication-Results (any case). */
bool hygiene_is_field(const char *name)
{
    return name != NULL && strcasecmp(name, HYGIENE_FIELD) == 0;
}

/* hygiene_init - start a message. */
void hygiene_init(hygiene *h)
{
    h->seen = 0;
    h->nremove = 0;
    h->too_many = false;
}

/* hygiene_header - one header field of the message, in order. */
hygiene_verdict hygiene_header(hygiene *h, const char *name, const char *value, const char *servid,
                               const char *const *trusted, size_t ntrusted, char *id, size_t idsize)
{
    hygiene_verdict v;

    if (!hygiene_is_field(name))
        return HYGIENE_NOT_AR;
    h->seen++;
    v = hygiene_classify(value != NULL ? value : "", servid, trusted, ntrusted, id, idsize);
    if (v != HYGIENE_REMOVE_OURS && v != HYGIENE_REMOVE_SUBDOMAIN && v != HYGIENE_REMOVE_UNPARSEABLE)
        return v;
    if (h->nremove >= HYGIENE_REMOVE_MAX) {
        h->too_many = true;
        return HYGIENE_TOO_MANY;
    }
    h->remove[h->nremove++] = h->seen;
    return v;
}

/* hygiene_next_removal - the next index to delete, highest first. */
bool hygiene_next_removal(hygiene *h, size_t *index)
{
    if (h->nremove == 0)
        return false;
    *index = h->remove[--h->nremove];
    return true;
}

/* hygiene_verdict_str - short English text for a verdict. */
const char *hygiene_verdict_str(hygiene_verdict v)
{
    switch (v) {
    case HYGIENE_NOT_AR:
        return "not an Authentication-Results field";
    case HYGIENE_KEEP_OTHER:
        return "kept: another authserv-id";
    case HYGIENE_KEEP_TRUSTED:
        return "kept: trusted authserv-id";
    case HYGIENE_REMOVE_OURS:
        return "removed: our authserv-id";
    case HYGIENE_REMOVE_SUBDOMAIN:
        return "removed: under our authserv-id";
    case HYGIENE_REMOVE_UNPARSEABLE:
        return "removed: authserv-id unparseable";
    case HYGIENE_TOO_MANY:
        return "too many fields to remove";
    }
    return "unknown hygiene verdict";
}
