/*
 * config_value.c - the value types of the configuration file.
 *
 * USAGE
 *	if (!config_set(cfg, key, "10s", why, sizeof(why))) ... FILE:LINE: KEY: why ...
 *
 * DESCRIPTION
 *   string    kept as written after the key's check (config_check.c)
 *   duration  digits with an optional s, m, h or d suffix; bounded in seconds
 *   uint      digits only; bounded
 *   bool      yes/no, true/false, 1/0 (any case)
 *   list      entries separated by commas and/or white space; empty
 *             entries (",,", leading or trailing comma) are errors; at most
 *             max entries, each passed through the check
 *   mode      octal permission bits (660, 0660), at most max
 *   word      one keyword of the key's words[] (any case), stored as an int
 *   flags     a list of keywords of words[], their bits ORed; an empty
 *             list or a keyword given twice is an error
 *   digest    sha256 or sha512 (evidence_digest_alg); md5 and sha1 are
 *             refused with the fix, since no TLSA matching type uses them
 *   rate      N/DURATION ("30/1m", "5/10s"): N bounded by the key's max,
 *             the duration 1s..24h; "off" or "0" turn it off (count 0)
 *   Numbers are parsed strictly (no sign, no white space, no overflow).
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_private.h"
#include "evidence.h"
#include "panic.h"

/* config_list_clear - free a list's entries and empty it. */
void config_list_clear(config_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    memset(list, 0, sizeof(*list));
}

/* config_digits - strictly parse a run of decimal digits at *pp; false on none or overflow. */
static bool config_digits(const char **pp, unsigned long long *v)
{
    const char *p = *pp;

    *v = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned) (*p - '0');

        if (*v > (ULLONG_MAX - d) / 10)
            return false;
        *v = *v * 10 + d;
    }
    *pp = p;
    return true;
}

/* config_number - parse a uint or duration value into *v, checking the key's bounds. */
static bool config_number(const config_key *key, const char *value, unsigned *v, char *why, size_t whysize)
{
    const char *p = value;
    const char *unit = key->type == CONFIG_T_DURATION ? " seconds" : "";
    unsigned long long n, scale = 1;

    if (*value == '\0') {
        snprintf(why, whysize, "missing value");
        return false;
    }
    if (!config_digits(&p, &n)) {
        /* too many digits is "out of range" below; none is garbage */
        while (*p >= '0' && *p <= '9')
            p++;
        n = ULLONG_MAX;
    }
    if (key->type == CONFIG_T_DURATION && p != value && *p != '\0' && p[1] == '\0') {
        switch (*p) {
        case 's': scale = 1; p++; break;
        case 'm': scale = 60; p++; break;
        case 'h': scale = 3600; p++; break;
        case 'd': scale = 86400; p++; break;
        default: break;
        }
    }
    if (p == value || *p != '\0') {
        if (key->type == CONFIG_T_DURATION)
            snprintf(why, whysize, "not a duration: \"%s\" (use N, Ns, Nm, Nh or Nd)", value);
        else
            snprintf(why, whysize, "not a number: \"%s\"", value);
        return false;
    }
    if (n > ULLONG_MAX / scale || n * scale < key->min || n * scale > key->max) {
        snprintf(why, whysize, "%s is out of range (%lu..%lu%s)", value, key->min, key->max, unit);
        return false;
    }
    *v = (unsigned) (n * scale);
    return true;
}

static bool config_bool(const char *value, bool *v, char *why, size_t whysize)
{
    static const char *const yes[] = { "yes", "true", "1" };
    static const char *const no[] = { "no", "false", "0" };

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *v = true;
            return true;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *v = false;
            return true;
        }
    }
    snprintf(why, whysize, "not a boolean: \"%s\" (use yes or no)", value);
    return false;
}

/* A walk over the entries of a list value. */
typedef struct config_cursor {
    const char *p;              /* the rest of the value */
    bool after_comma;           /* an entry must follow */
} config_cursor;

typedef enum {
    CONFIG_ENTRY_OK,            /* one more entry */
    CONFIG_ENTRY_END,           /* no more */
    CONFIG_ENTRY_EMPTY          /* ",,", a leading or a trailing comma */
} config_entry_status;

/* config_next_entry - copy the next list entry into entry[CONFIG_LINE_MAX + 1]. */
static config_entry_status config_next_entry(config_cursor *cur, char *entry, size_t size)
{
    const char *p = cur->p;
    size_t len = 0;

    while (config_is_space(*p))
        p++;
    if (*p == '\0' && !cur->after_comma)
        return CONFIG_ENTRY_END;
    if (*p == '\0' || *p == ',')
        return CONFIG_ENTRY_EMPTY;
    while (*p != '\0' && *p != ',' && !config_is_space(*p)) {
        if (len + 1 >= size)
            DANCE_PANIC("no longer than the line");
        entry[len++] = *p++;
    }
    entry[len] = '\0';
    while (config_is_space(*p))
        p++;
    cur->after_comma = (*p == ',');
    if (cur->after_comma)
        p++;
    cur->p = p;
    return CONFIG_ENTRY_OK;
}

/* config_list_parse - split value into list entries, each checked; on error list is left empty. */
static bool config_list_parse(const config_key *key, const char *value, config_list *list,
                              char *why, size_t whysize)
{
    char entry[CONFIG_LINE_MAX + 1], kept[CONFIG_LINE_MAX + 1];
    config_cursor cur = { value, false };

    memset(list, 0, sizeof(*list));
    for (;;) {
        switch (config_next_entry(&cur, entry, sizeof(entry))) {
        case CONFIG_ENTRY_END:
            return true;
        case CONFIG_ENTRY_EMPTY:
            snprintf(why, whysize, "empty list entry");
            goto fail;
        case CONFIG_ENTRY_OK:
            break;
        }
        if (list->n >= key->max || list->n >= CONFIG_LIST_MAX) {
            snprintf(why, whysize, "more than %lu entries", key->max);
            goto fail;
        }
        if (key->check != NULL && !key->check(entry, kept, sizeof(kept), why, whysize))
            goto fail;
        list->v[list->n++] = xstrdup(key->check != NULL ? kept : entry);
    }

fail:
    config_list_clear(list);
    return false;
}

/* config_mode - octal permission bits, at most the key's max. */
static bool config_mode(const config_key *key, const char *value, unsigned *v, char *why, size_t whysize)
{
    unsigned long mode = 0;
    const char *p;

    if (*value == '\0') {
        snprintf(why, whysize, "missing value");
        return false;
    }
    for (p = value; *p >= '0' && *p <= '7'; p++)
        if (mode <= key->max)           /* stop growing once out of range */
            mode = mode * 8 + (unsigned long) (*p - '0');
    if (*p != '\0') {
        snprintf(why, whysize, "not an octal mode: \"%s\" (use %04lo..%04lo, e.g. 0660)", value, key->min, key->max);
        return false;
    }
    if (mode < key->min || mode > key->max) {
        snprintf(why, whysize, "%s is out of range (%04lo..%04lo)", value, key->min, key->max);
        return false;
    }
    *v = (unsigned) mode;
    return true;
}

#define CONFIG_HINT_MAX 128         /* "a, b or c" for a keyword table */

/* config_words_hint - "a, b or c" from a keyword table into buf[CONFIG_HINT_MAX]. */
static void config_words_hint(const config_word *words, char *buf)
{
    size_t len = 0;

    if (words == NULL)
        DANCE_PANIC("a word or flags key without words");
    buf[0] = '\0';
    for (size_t i = 0; words[i].name != NULL; i++) {
        const char *sep = i == 0 ? "" : words[i + 1].name == NULL ? " or " : ", ";
        int n = snprintf(buf + len, CONFIG_HINT_MAX - len, "%s%s", sep, words[i].name);

        if (n < 0 || (size_t) n >= CONFIG_HINT_MAX - len)
            DANCE_PANIC("a keyword table too long for its hint");
        len += (size_t) n;
    }
}

/* config_keyword - look value up in the key's keywords (any case); the entry, or NULL with why. */
static const config_word *config_keyword(const config_key *key, const char *value, char *why, size_t whysize)
{
    char hint[CONFIG_HINT_MAX];

    if (key->words == NULL)
        DANCE_PANIC("a word or flags key without words");
    for (size_t i = 0; key->words[i].name != NULL; i++)
        if (strcasecmp(value, key->words[i].name) == 0)
            return &key->words[i];
    config_words_hint(key->words, hint);
    if (*value == '\0')
        snprintf(why, whysize, "missing value (use %s)", hint);
    else
        snprintf(why, whysize, "unknown value \"%s\" (use %s)", value, hint);
    return NULL;
}

/* config_flags - a list of keywords, their bits ORed; at least one, none twice. */
static bool config_flags(const config_key *key, const char *value, unsigned *v, char *why, size_t whysize)
{
    char entry[CONFIG_LINE_MAX + 1];
    config_cursor cur = { value, false };
    char hint[CONFIG_HINT_MAX];
    const config_word *word;
    unsigned flags = 0;

    for (;;) {
        switch (config_next_entry(&cur, entry, sizeof(entry))) {
        case CONFIG_ENTRY_END:
            if (flags == 0) {
                config_words_hint(key->words, hint);
                snprintf(why, whysize, "missing value (use %s)", hint);
                return false;
            }
            *v = flags;
            return true;
        case CONFIG_ENTRY_EMPTY:
            snprintf(why, whysize, "empty list entry");
            return false;
        case CONFIG_ENTRY_OK:
            break;
        }
        if ((word = config_keyword(key, entry, why, whysize)) == NULL)
            return false;
        if (word->value <= 0)
            DANCE_PANIC("a flags table holds bits");
        if ((flags & (unsigned) word->value) != 0) {
            snprintf(why, whysize, "%s listed twice", word->name);
            return false;
        }
        flags |= (unsigned) word->value;
    }
}

/* config_digest - sha256 or sha512; md5 and sha1 refused with the fix. */
static bool config_digest(const char *value, digest_alg *alg, char *why, size_t whysize)
{
    if (evidence_digest_alg(value, alg))
        return true;
    if (*value == '\0')
        snprintf(why, whysize, "missing value (use sha256 or sha512)");
    else if (strcasecmp(value, "md5") == 0 || strcasecmp(value, "sha1") == 0)
        snprintf(why, whysize, "%s cannot match a TLSA record: dance needs sha256 or sha512, and Postfix's "
                 "smtpd_tls_fingerprint_digest must be set to the same", value);
    else
        snprintf(why, whysize, "unknown digest \"%s\" (use sha256 or sha512, the same as Postfix's "
                 "smtpd_tls_fingerprint_digest)", value);
    return false;
}

#define CONFIG_RATE_PER_MAX 86400       /* a rate's period: at most a day */

/* config_rate_parse - N/DURATION, or off / 0 (count 0); N within the key's bounds. */
static bool config_rate_parse(const config_key *key, const char *value, config_rate *v, char *why,
                              size_t whysize)
{
    const config_key count_key = { key->name, CONFIG_T_UINT, 0, key->min, key->max, NULL, NULL };
    const config_key per_key = { key->name, CONFIG_T_DURATION, 0, 1, CONFIG_RATE_PER_MAX, NULL, NULL };
    char count[CONFIG_LINE_MAX + 1];
    const char *slash = strchr(value, '/');
    size_t n;

    if (strcasecmp(value, "off") == 0 || strcmp(value, "0") == 0) {
        v->count = 0;
        v->per_s = 0;
        return true;
    }
    if (*value == '\0' || slash == NULL || slash == value || slash[1] == '\0') {
        snprintf(why, whysize, "not a rate: \"%s\" (use N/DURATION such as 60/1m, or off)", value);
        return false;
    }
    n = (size_t) (slash - value);
    if (n >= sizeof(count))
        DANCE_PANIC("a value longer than a line");
    memcpy(count, value, n);
    count[n] = '\0';
    if (!config_number(&count_key, count, &v->count, why, whysize)
        || !config_number(&per_key, slash + 1, &v->per_s, why, whysize))
        return false;
    if (v->count == 0)
        v->per_s = 0;       /* "0/1m" is off too */
    return true;
}

/* config_set - store value for key in cfg; false with a problem in why. */
bool config_set(dance_config *cfg, const config_key *key, const char *value, char *why, size_t whysize)
{
    char *field = (char *) cfg + key->offset;
    char kept[CONFIG_LINE_MAX + 1];
    config_list list;

    switch (key->type) {
    case CONFIG_T_STRING: {
        char **str = (char **) (void *) field;

        if (key->check != NULL && !key->check(value, kept, sizeof(kept), why, whysize))
            return false;
        free(*str);
        *str = xstrdup(key->check != NULL ? kept : value);
        return true;
    }
    case CONFIG_T_DURATION:
    case CONFIG_T_UINT:
        return config_number(key, value, (unsigned *) (void *) field, why, whysize);
    case CONFIG_T_BOOL:
        return config_bool(value, (bool *) (void *) field, why, whysize);
    case CONFIG_T_LIST:
        if (!config_list_parse(key, value, &list, why, whysize))
            return false;
        config_list_clear((config_list *) (void *) field);
        *(config_list *) (void *) field = list;
        return true;
    case CONFIG_T_MODE:
        return config_mode(key, value, (unsigned *) (void *) field, why, whysize);
    case CONFIG_T_WORD: {
        const config_word *word = config_keyword(key, value, why, whysize);

        if (word == NULL)
            return false;
        memcpy(field, &word->value, sizeof(word->value));   /* int or an int-sized enum */
        return true;
    }
    case CONFIG_T_FLAGS:
        return config_flags(key, value, (unsigned *) (void *) field, why, whysize);
    case CONFIG_T_DIGEST:
        return config_digest(value, (digest_alg *) (void *) field, why, whysize);
    case CONFIG_T_RATE:
        return config_rate_parse(key, value, (config_rate *) (void *) field, why, whysize);
    }
    DANCE_PANIC("not a config_type");
}

