/*
 * config.h - the dance configuration file (shared by `dance -c` and danced).
 *
 * Format: "key = value" lines, '#' starts a comment (outside values), blank
 * lines ignored, list values separated by commas and/or white space,
 * booleans yes/no/true/false/1/0, durations in seconds with an optional
 * s/m/h suffix.  Unknown keys, repeated keys and bad values are errors that
 * name the file, the line and the key: "FILE:LINE: KEY: problem".
 * Every key and its default is listed in contrib/dance.conf.sample.
 */
#ifndef DANCE_CONFIG_H
#define DANCE_CONFIG_H

#include <stddef.h>
#include <stdbool.h>
#include "resolver.h"

#define CONFIG_LIST_MAX 64          /* entries in one list value */
#define CONFIG_LINE_MAX 4096        /* longest accepted line */
#define CONFIG_DEFAULT_FILE SYSCONFDIR "/dance/dance.conf"

typedef enum {
    CONFIG_OK = 0,
    CONFIG_UNREADABLE,   /* bad environment: file missing or unreadable */
    CONFIG_SYNTAX        /* bad input: a line, key or value is wrong */
} config_status;

typedef struct config_list {
    size_t n;
    char *v[CONFIG_LIST_MAX];
} config_list;

typedef struct dance_config {
    /* resolver */
    char *trust_anchor_file;         /* trust_anchor_file (default RESOLVER_DEFAULT_TRUST_ANCHOR) */
    char *resolver_config;           /* resolver_config (default none) */
    config_list forwarders;          /* forwarders (default none) */
    unsigned dns_timeout;            /* dns_timeout, seconds (default 10) */
    unsigned cache_max_ttl;          /* cache_max_ttl, seconds (default 3600; 0 = no cache) */
    unsigned cache_error_ttl;        /* cache_error_ttl, seconds (default 10) */
    unsigned cache_entries;          /* cache_entries (default 10000) */
    /* look-up policy */
    bool server_tlsa;                /* server_tlsa (default no) */
    config_list lookup_domains;      /* lookup_domains (default: all), normalized */
} dance_config;

/* config_init - fill cfg with the documented defaults. */
void config_init(dance_config *cfg);

/* config_load - read path into cfg (on top of defaults); on error err holds "FILE:LINE: KEY: problem". */
config_status config_load(const char *path, dance_config *cfg, char *err, size_t errsize);

/* config_resolver - fill a resolver_config that points into cfg (valid while cfg lives). */
void config_resolver(const dance_config *cfg, resolver_config *rc);

/* config_free - release the strings held by cfg. */
void config_free(dance_config *cfg);

#endif
