/*
 * config_private.h - what the configuration loader's files share: the key
 * table's types, the value checks and the value parsers.  Installed
 * nowhere, included by lib/config*.c only.
 *
 *   config.c        the loader: lines, keys, the public API
 *   config_keys.c   the key table: the one place to add a key
 *   config_value.c  value types: numbers, durations, lists, words, ...
 *   config_check.c  checks of string values: paths, names, ids, sockets
 */
#ifndef DANCE_LIB_CONFIG_PRIVATE_H
#define DANCE_LIB_CONFIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

#define CONFIG_WHY_MAX 256
#define CONFIG_ACCOUNT_MAX 32       /* user and group names (useradd's limit) */

/* CONFIG_T_WORD stores an int into these enum fields. */
_Static_assert(sizeof(config_action) == sizeof(int), "config_action is int-sized");
_Static_assert(sizeof(config_log_format) == sizeof(int), "config_log_format is int-sized");

/*
 * A value check: validate in and write the text to keep into out (at least
 * CONFIG_LINE_MAX + 1 bytes); false with a short problem in why.
 */
typedef bool (*config_check_fn)(const char *in, char *out, size_t outsize, char *why, size_t whysize);

typedef enum {
    CONFIG_T_STRING,            /* char * */
    CONFIG_T_DURATION,          /* unsigned, seconds */
    CONFIG_T_UINT,              /* unsigned */
    CONFIG_T_BOOL,              /* bool */
    CONFIG_T_LIST,              /* config_list */
    CONFIG_T_MODE,              /* unsigned, octal permission bits */
    CONFIG_T_WORD,              /* int or int-sized enum: one of words[] */
    CONFIG_T_FLAGS,             /* unsigned: words[] values ORed */
    CONFIG_T_DIGEST,            /* digest_alg */
    CONFIG_T_RATE               /* config_rate: N/DURATION, or off */
} config_type;

/* A keyword and the value it stands for; tables end with a NULL name. */
typedef struct config_word {
    const char *name;
    int value;
} config_word;

typedef struct config_key {
    const char *name;
    config_type type;
    size_t offset;              /* of the field in dance_config */
    unsigned long min, max;     /* numbers, modes: bounds; lists: max is the entry limit; rates: of N */
    config_check_fn check;      /* strings, list entries: NULL keeps any text */
    const config_word *words;   /* words, flags: the keywords accepted */
} config_key;

/* The value checks (config_check.c), each a config_check_fn. */
bool config_check_path(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_absolute_path(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_address(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_domain(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_client(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_authserv_id(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_endpoint(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_optional_endpoint(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_servid_entry(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_trusted_entry(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_peer_user(const char *in, char *out, size_t outsize, char *why, size_t whysize);
bool config_check_account(const char *in, char *out, size_t outsize, char *why, size_t whysize);

/* config_keys - the key table (config_keys.c); config_nkeys entries. */
extern const config_key config_keys[];
extern const size_t config_nkeys;

/* config_set - parse value for key and store it into cfg; false with the problem in why (config_value.c). */
bool config_set(dance_config *cfg, const config_key *key, const char *value, char *why, size_t whysize);

/* config_list_clear - free a list's entries and empty it. */
void config_list_clear(config_list *list);

/* config_is_space - white space inside a line (CR before the newline counts). */
static inline bool config_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* config_is_alpha - an ASCII letter, whatever the locale. */
static inline bool config_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* config_is_digit - an ASCII digit. */
static inline bool config_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

#endif
