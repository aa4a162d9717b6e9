/*
 * hygiene.h - which Authentication-Results fields of a message must go.
 *
 * RFC 8601 section 5: an MTA must delete every Authentication-Results
 * field that claims its own authserv-id and did not come from a trusted
 * internal host.  hygiene_classify() decides for one field: fields of our
 * authserv-id, of a name under it, and fields whose authserv-id cannot be
 * read at all (fail closed) are removed; fields whose id is listed in
 * trusted_authserv_ids, and fields of every other id, are kept.  Ids are
 * compared case-insensitively, one trailing dot ignored.
 *
 * A hygiene value follows one message: hygiene_header() is fed every header
 * field in order and counts the Authentication-Results ones (the 1-based
 * index smfi_chgheader() wants); hygiene_next_removal() then yields the
 * indexes to delete from the highest down, because Postfix renumbers the
 * fields after each delete.  No allocation: at most HYGIENE_REMOVE_MAX
 * removals are remembered, more make the message HYGIENE_TOO_MANY.
 */
#ifndef DANCE_MILTER_HYGIENE_H
#define DANCE_MILTER_HYGIENE_H

#include <stdbool.h>
#include <stddef.h>

#define HYGIENE_FIELD "Authentication-Results"
#define HYGIENE_REMOVE_MAX 1000       /* removals remembered for one message */

typedef enum {
    HYGIENE_NOT_AR = 0,               /* not an Authentication-Results field */
    HYGIENE_KEEP_OTHER,               /* another authserv-id */
    HYGIENE_KEEP_TRUSTED,             /* at or under ours, but in trusted_authserv_ids */
    HYGIENE_REMOVE_OURS,              /* our authserv-id */
    HYGIENE_REMOVE_SUBDOMAIN,         /* a name under our authserv-id */
    HYGIENE_REMOVE_UNPARSEABLE,       /* no authserv-id can be read: removed (fail closed) */
    HYGIENE_TOO_MANY                  /* to be removed, but over HYGIENE_REMOVE_MAX */
} hygiene_verdict;

/* The Authentication-Results fields of one message. */
typedef struct hygiene {
    size_t seen;                      /* Authentication-Results fields so far */
    size_t nremove;
    size_t remove[HYGIENE_REMOVE_MAX]; /* their indexes, ascending */
    bool too_many;                    /* a removal did not fit */
} hygiene;

/*
 * hygiene_classify - the decision for one field value (without its name);
 * servid is our authserv-id, trusted the trusted_authserv_ids.  The id read
 * from the field (as written, unquoted) goes to id (idsize bytes; "" when
 * unparseable or too long for it).
 */
hygiene_verdict hygiene_classify(const char *value, const char *servid, const char *const *trusted,
                                 size_t ntrusted, char *id, size_t idsize);

/* hygiene_is_field - true when a header field name is Authentication-Results (any case). */
bool hygiene_is_field(const char *name);

/* hygiene_init - start a message. */
void hygiene_init(hygiene *h);

/*
 * hygiene_header - one header field of the message, in order: classify
 * it when it is an Authentication-Results field and remember its index
 * when it must go.  id as for hygiene_classify (may be NULL).
 */
hygiene_verdict hygiene_header(hygiene *h, const char *name, const char *value, const char *servid,
                               const char *const *trusted, size_t ntrusted, char *id, size_t idsize);

/* hygiene_next_removal - the next index to delete, highest first; false when none is left. */
bool hygiene_next_removal(hygiene *h, size_t *index);

/* hygiene_verdict_str - short English text for a verdict. */
const char *hygiene_verdict_str(hygiene_verdict v);

#endif
