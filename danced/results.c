/*
 * results.c - the verdicts of one message, as both faces exchange and write them.
 *
 * USAGE
 *	results_item res[RESULTS_KINDS];
 *	name = results_claimed_value(RESULTS_MAILFROM, "<a@mta1.example>", buf);
 *	results_item_from(&res[RESULTS_HELO], v);	(a finished verdict)
 *	results_header_value(snap, res, folded, value, sizeof(value));
 *
 * DESCRIPTION
 *	The vocabulary below both faces: the claimed identities in header
 *	order (helo, mailfrom, ptr), one result per identity, and the
 *	Authentication-Results field made of them.  The policy face fills
 *	results from its checks and writes the field on one line (a PREPEND)
 *	or records it for the milter (join.h); the milter fills them from
 *	that record or from its own checks and inserts the field folded.
 *
 *	Claimed names: the EHLO argument; the domain of the envelope sender
 *	(the null sender has none); the verified client name unless
 *	"unknown".  A name that normalizes is returned normalized, so
 *	"MTA1.Example.NET." and "mta1.example.net" share one verdict; an
 *	invalid one is returned as sent and check_start() turns it into
 *	none.
 *
 *	The field: one dane result per identity that had a valid claimed
 *	name, smtp.helo, smtp.mailfrom, policy.ptr; folded with "\n\t" by
 *	authres_format(), or unfolded for a policy reply (one line; if it
 *	would pass 998 octets it is written again without the reason
 *	comments).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/authres.h"
#include "lib/config.h"
#include "lib/panic.h"
#include "lib/text.h"
#include "results.h"
#include "snapshot.h"


static const char *const results_kind_names[RESULTS_KINDS] = { "helo", "mailfrom", "ptr" };

/* results_kind_name - "helo", "mailfrom", "ptr". */
const char *results_kind_name(results_kind kind)
{
    if ((unsigned) kind >= RESULTS_KINDS)
        DANCE_PANIC("unexpected: (unsigned) kind >= RESULTS_KINDS");
    return results_kind_names[kind];
}

/* results_kind_bit - the CONFIG_IDENTITY_* bit of a kind. */
unsigned results_kind_bit(results_kind kind)
{
    switch (kind) {
    case RESULTS_HELO:
        return CONFIG_IDENTITY_HELO;
    case RESULTS_MAILFROM:
        return CONFIG_IDENTITY_MAILFROM;
    case RESULTS_PTR:
        return CONFIG_IDENTITY_PTR;
    default:
        DANCE_PANIC("%s: unhandled case", __func__);
    }
}

/* results_claimed_value - the name to check for kind given the raw SMTP value, or NULL when there is none. */
const char *results_claimed_value(results_kind kind, const char *v, char buf[IDENTITY_NAME_MAX])
{
    const char *at;

    if (v == NULL || *v == '\0')
        return NULL;                            /* absent, or the null sender: no name */
    switch (kind) {
    case RESULTS_MAILFROM:
        if (identity_mail_domain(v, buf) == IDENTITY_OK)
            return buf;
        at = strrchr(v, '@');
        return at != NULL ? at + 1 : v;         /* invalid: check_start says why */
    case RESULTS_PTR:
        if (strcasecmp(v, "unknown") == 0)
            return NULL;
        break;
    case RESULTS_HELO:
        break;
    default:
        DANCE_PANIC("%s: unhandled case", __func__);
    }
    if (identity_normalize(v, buf) == IDENTITY_OK)
        return buf;
    return v;
}

/* results_item_from - fill r from a finished verdict. */
void results_item_from(results_item *r, const verdict *v)
{
    r->present = true;
    r->result = v->result;
    text_copy(r->name, sizeof(r->name), v->name);
    text_copy(r->reason, sizeof(r->reason), v->brief);
    r->stale = v->stale;
}

/* results_unfold - replace each "\n\t" fold of authres_format() by one space. */
static void results_unfold(char *s)
{
    char *w = s;

    for (const char *r = s; *r != '\0'; r++) {
        if (r[0] == '\n' && r[1] == '\t') {
            *w++ = ' ';
            r++;
        } else if (*r == '\n' || *r == '\r') {
            DANCE_PANIC("authres_format folds only with \\n\\t");
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* results_field - the field value, folded with "\n\t" by authres_format(); with_reason = false drops the comments. */
static void results_field(const snapshot *snap, const results_item res[RESULTS_KINDS],
                         bool with_reason, char *value, size_t size)
{
    static const char *const ptype[RESULTS_KINDS] = { "smtp", "smtp", "policy" };
    static const char *const property[RESULTS_KINDS] = { "helo", "mailfrom", "ptr" };
    authres_item items[RESULTS_KINDS];
    authres_status st;
    size_t n = 0;

    for (int k = 0; k < RESULTS_KINDS; k++) {
        if (!res[k].present || res[k].name[0] == '\0')
            continue;                   /* no name to name in the header */
        items[n].result = verdict_result_word(res[k].result);
        items[n].reason = with_reason ? res[k].reason : NULL;
        items[n].ptype = ptype[k];
        items[n].property = property[k];
        items[n].value = res[k].name;
        n++;
    }
    st = authres_format(snap->servid, items, n, 0, value, size);
    if (st != AUTHRES_OK)
        DANCE_PANIC("servid checked at load, names normalized: cannot happen");
}

/* results_header_value - the Authentication-Results value for res, folded (milter) or on one line (policy). */
void results_header_value(const snapshot *snap, const results_item res[RESULTS_KINDS], bool folded,
                         char *value, size_t size)
{
    results_field(snap, res, true, value, size);
    if (folded)
        return;                 /* authres_format keeps every folded line under 998 octets */
    results_unfold(value);
    if (strlen(RESULTS_AR_FIELD ": ") + strlen(value) > RESULTS_RFC5322_LINE) {
        results_field(snap, res, false, value, size);
        results_unfold(value);
    }
    if (strlen(RESULTS_AR_FIELD ": ") + strlen(value) > RESULTS_RFC5322_LINE)
        DANCE_PANIC("CONFIG_AUTHSERV_ID_MAX and name limits guarantee a fit");
}

