/*
 * hygiene.c - which Authentication-Results fields of a message must go.
 *
 * USAGE
 *	hygiene h; hygiene_rules r = { servid, trusted, nt, remove, nr, &client };
 *	hygiene_init(&h);
 *	for each header field:  hygiene_header(&h, &r, name, value, NULL, 0);
 *	if (h.too_many) ... refuse the message ...
 *	while (hygiene_next_removal(&h, &rm))
 *	    change-header(hygiene_name_text(rm.name), rm.index, delete);
 *
 * DESCRIPTION
 *	The authserv-id is read by authres_parse_servid(), which copes with
 *	comments, folding, quoted strings and a version, and refuses
 *	everything else (empty, only a comment, unbalanced, control or
 *	8-bit bytes).  It is then brought to authres_norm_servid() form;
 *	an id that has none (a quoted string holding more than a token)
 *	counts as unparseable.  A refused field is removed whoever wrote
 *	it: a field nobody can attribute could be read as ours by a lax
 *	consumer.  The order of the tests (see hygiene.h) puts "ours"
 *	before "trusted", so no configuration can keep a field that claims
 *	our id; the configuration also refuses trusted ids at or under
 *	ours.  "xmx.example" is not under "mx.example": the dot is
 *	required.
 *
 *	A trusted entry is "id@network": the field is kept only when the
 *	message's SMTP client lies in that network (RFC 8601 section 5:
 *	"directly from" the trusted host).  Without a client address (mail
 *	submitted on the host) no field is trusted.
 *
 *	Indexes count the fields of one name, from 1, in the order the MTA
 *	passed them (the change-header command's numbering).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/authres.h"
#include "lib/netaddr.h"
#include "hygiene.h"

/* hygiene_trusted - true when an "id@network" entry names id and the client lies in its network. */
static bool hygiene_trusted(const char *entry, const char *id, const netaddr *client)
{
    const char *at = strrchr(entry, '@');
    netaddr_net net;
    char why[8];

    if (at == NULL || client == NULL || client->family == 0)
        return false;
    if ((size_t) (at - entry) != strlen(id) || memcmp(entry, id, (size_t) (at - entry)) != 0)
        return false;
    return netaddr_parse_net(at + 1, &net, why, sizeof(why)) && netaddr_in_net(client, &net);
}

/* hygiene_listed - true when id is a remove_authserv_ids name, or under a ".domain" entry. */
static bool hygiene_listed(const char *entry, const char *id)
{
    if (entry[0] == '.')
        return authres_servid_relation(id, entry + 1) == AUTHRES_ID_UNDER;
    return authres_servid_relation(id, entry) == AUTHRES_ID_SAME;
}

/* hygiene_classify - the decision for one field value. */
hygiene_verdict hygiene_classify(const hygiene_rules *r, const char *value, char *id, size_t idsize)
{
    char got[AUTHRES_FIELD_MAX], norm[AUTHRES_SERVID_MAX];

    if (id != NULL && idsize > 0)
        id[0] = '\0';
    if (authres_parse_servid(value, got, sizeof(got)) != AUTHRES_OK)
        return HYGIENE_REMOVE_UNPARSEABLE;
    if (id != NULL && idsize > strlen(got))
        memcpy(id, got, strlen(got) + 1);
    if (!authres_norm_servid(got, norm, sizeof(norm)))
        return HYGIENE_REMOVE_UNPARSEABLE;
    switch (authres_servid_relation(norm, r->servid)) {
    case AUTHRES_ID_SAME:
        return HYGIENE_REMOVE_OURS;
    case AUTHRES_ID_UNDER:
        return HYGIENE_REMOVE_SUBDOMAIN;
    case AUTHRES_ID_OTHER:
        break;
    }
    for (size_t i = 0; i < r->ntrusted; i++)
        if (hygiene_trusted(r->trusted[i], norm, r->client))
            return HYGIENE_KEEP_TRUSTED;
    for (size_t i = 0; i < r->nremove; i++)
        if (hygiene_listed(r->remove[i], norm))
            return HYGIENE_REMOVE_LISTED;
    return HYGIENE_KEEP_OTHER;
}

/* hygiene_field_name - which judged name a header field name is. */
bool hygiene_field_name(const char *name, hygiene_name *which)
{
    static const char *const names[HYGIENE_NAMES] = { HYGIENE_FIELD, HYGIENE_FIELD_X };
    size_t len;

    if (name == NULL)
        return false;
    len = strlen(name);
    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    for (int i = 0; i < HYGIENE_NAMES; i++) {
        if (len == strlen(names[i]) && strncasecmp(name, names[i], len) == 0) {
            *which = (hygiene_name) i;
            return true;
        }
    }
    return false;
}

/* hygiene_init - start a message. */
void hygiene_init(hygiene *h)
{
    for (int i = 0; i < HYGIENE_NAMES; i++)
        h->seen[i] = 0;
    h->nremove = 0;
    h->too_many = false;
}

/* hygiene_header - one header field of the message, in order. */
hygiene_verdict hygiene_header(hygiene *h, const hygiene_rules *r, const char *name, const char *value,
                               char *id, size_t idsize)
{
    hygiene_verdict v;
    hygiene_name which;

    if (!hygiene_field_name(name, &which))
        return HYGIENE_NOT_AR;
    h->seen[which]++;
    v = hygiene_classify(r, value != NULL ? value : "", id, idsize);
    if (v == HYGIENE_KEEP_OTHER || v == HYGIENE_KEEP_TRUSTED)
        return v;
    if (h->nremove >= HYGIENE_REMOVE_MAX) {
        h->too_many = true;
        return HYGIENE_TOO_MANY;
    }
    h->remove[h->nremove].name = which;
    h->remove[h->nremove].index = h->seen[which];
    h->nremove++;
    return v;
}

/*
 * hygiene_next_removal - the next field to delete.  Removals were recorded
 * in ascending index order per name; taking them from the end of the list
 * yields each name's highest index first (the names do not renumber each
 * other).
 */
bool hygiene_next_removal(hygiene *h, hygiene_removal *out)
{
    if (h->nremove == 0)
        return false;
    *out = h->remove[--h->nremove];
    return true;
}

/* hygiene_name_text - the field name to delete a removal by. */
const char *hygiene_name_text(hygiene_name name)
{
    return name == HYGIENE_NAME_XAR ? HYGIENE_FIELD_X : HYGIENE_FIELD;
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
        return "kept: trusted authserv-id from its network";
    case HYGIENE_REMOVE_OURS:
        return "removed: our authserv-id";
    case HYGIENE_REMOVE_SUBDOMAIN:
        return "removed: under our authserv-id";
    case HYGIENE_REMOVE_LISTED:
        return "removed: in remove_authserv_ids";
    case HYGIENE_REMOVE_UNPARSEABLE:
        return "removed: authserv-id unparseable or a look-alike";
    case HYGIENE_TOO_MANY:
        return "too many fields to remove";
    }
    return "unknown hygiene verdict";
}
