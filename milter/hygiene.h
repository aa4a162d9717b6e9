/*
 * hygiene.h - which Authentication-Results fields of a message must go.
 *
 * RFC 8601 section 5: an MTA must delete every Authentication-Results
 * field that claims its own authserv-id and did not come directly from a
 * trusted internal host.  hygiene_classify() decides for one field, in
 * this order, on the authserv-id read from it:
 *   1. none can be read, or it is a look-alike (a quoted id that is no
 *      token): removed - nobody can tell whose it is (fail closed);
 *   2. ours, or a name under ours: removed, always;
 *   3. listed in trusted_authserv_ids and the message came from that
 *      entry's network: kept;
 *   4. listed in remove_authserv_ids (a name, or ".domain" for every name
 *      under it): removed;
 *   5. any other id: kept.
 * Ids are compared in authres_norm_servid() form: white space around
 * them, case and trailing dots do not matter.  The legacy
 * X-Authentication-Results field is judged the same way.
 *
 * A hygiene value follows one message: hygiene_header() is fed every header
 * field in order and counts the fields of each name (the 1-based index the
 * milter protocol's change-header command wants); hygiene_next_removal()
 * then yields what to delete, each name from its highest index down,
 * because Postfix renumbers the fields after each delete.  No allocation:
 * at most HYGIENE_REMOVE_MAX removals are remembered, more make the
 * message HYGIENE_TOO_MANY.
 */
#ifndef DANCE_MILTER_HYGIENE_H
#define DANCE_MILTER_HYGIENE_H

#include <stdbool.h>
#include <stddef.h>

struct netaddr;

#define HYGIENE_FIELD "Authentication-Results"
#define HYGIENE_FIELD_X "X-Authentication-Results"
#define HYGIENE_REMOVE_MAX 1000       /* removals remembered for one message */

typedef enum {
    HYGIENE_NOT_AR = 0,               /* not an Authentication-Results field */
    HYGIENE_KEEP_OTHER,               /* another authserv-id */
    HYGIENE_KEEP_TRUSTED,             /* trusted_authserv_ids, from that entry's network */
    HYGIENE_REMOVE_OURS,              /* our authserv-id */
    HYGIENE_REMOVE_SUBDOMAIN,         /* a name under our authserv-id */
    HYGIENE_REMOVE_LISTED,            /* remove_authserv_ids (and not trusted from this client) */
    HYGIENE_REMOVE_UNPARSEABLE,       /* no authserv-id can be read, or a look-alike */
    HYGIENE_TOO_MANY                  /* to be removed, but over HYGIENE_REMOVE_MAX */
} hygiene_verdict;

#define HYGIENE_VERDICTS (HYGIENE_TOO_MANY + 1)

/* The two field names judged. */
typedef enum {
    HYGIENE_NAME_AR = 0,              /* Authentication-Results */
    HYGIENE_NAME_XAR,                 /* X-Authentication-Results */
    HYGIENE_NAMES
} hygiene_name;

/*
 * What fields are judged by: the configuration of the message and its
 * SMTP client.  Every string is in authres_norm_servid() form (the
 * configuration keeps them so); the arrays belong to the caller.
 */
typedef struct hygiene_rules {
    const char *servid;               /* our authserv-id */
    const char *const *trusted;       /* "id@network" entries */
    size_t ntrusted;
    const char *const *remove;        /* names, or ".domain" for the names under it */
    size_t nremove;
    const struct netaddr *client;     /* the SMTP client's address; NULL (or family 0): none */
} hygiene_rules;

/* One removal: which name, which index of that name. */
typedef struct hygiene_removal {
    hygiene_name name;
    size_t index;
} hygiene_removal;

/* The Authentication-Results fields of one message. */
typedef struct hygiene {
    size_t seen[HYGIENE_NAMES];       /* fields of each name so far */
    size_t nremove;
    hygiene_removal remove[HYGIENE_REMOVE_MAX]; /* in the order seen */
    bool too_many;                    /* a removal did not fit */
} hygiene;

/*
 * hygiene_classify - the decision for one field value (without its name).
 * The id read from the field (as written, unquoted) goes to id (idsize
 * bytes; "" when unparseable or too long for it); id may be NULL.
 */
hygiene_verdict hygiene_classify(const hygiene_rules *r, const char *value, char *id, size_t idsize);

/*
 * hygiene_field_name - which judged name a header field name is: any case,
 * white space before the colon ignored ("Authentication-Results " is one
 * too); false for every other field.
 */
bool hygiene_field_name(const char *name, hygiene_name *which);

/* hygiene_init - start a message. */
void hygiene_init(hygiene *h);

/*
 * hygiene_header - one header field of the message, in order: classify
 * it when it is one of the judged names and remember its index when it
 * must go.  id as for hygiene_classify (may be NULL).
 */
hygiene_verdict hygiene_header(hygiene *h, const hygiene_rules *r, const char *name, const char *value,
                               char *id, size_t idsize);

/* hygiene_next_removal - the next field to delete, each name from its highest index down; false when none is left. */
bool hygiene_next_removal(hygiene *h, hygiene_removal *out);

/* hygiene_name_text - the field name to delete a removal by. */
const char *hygiene_name_text(hygiene_name name);

/* hygiene_verdict_str - short English text for a verdict. */
const char *hygiene_verdict_str(hygiene_verdict v);

#endif
