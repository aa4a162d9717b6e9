/*
 * config.h - the dance configuration file (shared by `dance -c` and danced).
 *
 * Format: "key = value" lines, '#' starts a comment (outside values), blank
 * lines ignored, list values separated by commas and/or white space,
 * booleans yes/no/true/false/1/0, durations in seconds with an optional
 * s/m/h/d suffix.  Unknown keys, repeated keys and bad values are errors that
 * name the file, the line and the key: "FILE:LINE: KEY: problem".
 * Every key and its default is listed in contrib/dance.conf.sample.
 */
#ifndef DANCE_LIB_CONFIG_H
#define DANCE_LIB_CONFIG_H

#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include "evidence.h"
#include "resolver.h"

#define CONFIG_LIST_MAX 64          /* entries in one list value */
#define CONFIG_LINE_MAX 4096        /* longest accepted line */
/*
 * Longest authserv_id: with it and three 253-octet names danced's
 * Authentication-Results field still fits one 998-octet line, as it must
 * (a policy reply cannot fold it).
 */
#define CONFIG_AUTHSERV_ID_MAX 120
#define CONFIG_KEYS_MAX 64          /* keys the file format may have (key_line's size) */

typedef enum {
    CONFIG_OK = 0,
    CONFIG_UNREADABLE,   /* bad environment: file missing or unreadable */
    CONFIG_SYNTAX        /* bad input: a line, key or value is wrong */
} config_status;

typedef struct config_list {
    size_t n;
    char *v[CONFIG_LIST_MAX];
} config_list;

/* Claimed identities danced authenticates (bits of dance_config.identities). */
enum {
    CONFIG_IDENTITY_HELO = 1,        /* the EHLO/HELO name */
    CONFIG_IDENTITY_MAILFROM = 2,    /* the domain of the envelope sender */
    CONFIG_IDENTITY_PTR = 4          /* Postfix's client_name, when not "unknown" */
};

/* Policy answers for the awkward cases. */
typedef enum {
    CONFIG_ACTION_DUNNO = 0,
    CONFIG_ACTION_DEFER_IF_PERMIT,
    CONFIG_ACTION_DEFER,
    CONFIG_ACTION_REJECT
} config_action;

/* A rate "N/DURATION": at most count events per per_s seconds; count 0 is off. */
typedef struct config_rate {
    unsigned count;
    unsigned per_s;
} config_rate;

#define CONFIG_DEFAULT_LOOKUP_BUDGET_COUNT 60     /* lookup_budget = 60/1m */
#define CONFIG_DEFAULT_LOOKUP_BUDGET_PER 60
#define CONFIG_DEFAULT_LOOKUPS_IN_FLIGHT 1000     /* lookups_in_flight_max */

typedef enum {
    CONFIG_LOG_TEXT = 0,
    CONFIG_LOG_JSON
} config_log_format;

typedef struct dance_config {
    /* resolver */
    char *trust_anchor_file;         /* trust_anchor_file (default RESOLVER_DEFAULT_TRUST_ANCHOR) */
    char *resolver_config;           /* resolver_config (default none) */
    config_list forwarders;          /* forwarders: IP, IP@PORT; with forwarders_tls IP#NAME,
                                        IP@PORT#NAME (default none) */
    bool forwarders_tls;             /* forwarders_tls: DNS over TLS to the forwarders (default no) */
    char *tls_ca_file;               /* tls_ca_file: CA bundle for forwarders_tls (default "": the
                                        system's CA certificates) */
    unsigned dns_timeout;            /* dns_timeout, seconds (default 10) */
    unsigned cache_max_ttl;          /* cache_max_ttl, seconds (default 3600; 0 = no cache) */
    unsigned cache_error_ttl;        /* cache_error_ttl, seconds (default 10) */
    unsigned cache_entries;          /* cache_entries (default 10000) */
    unsigned stale_max;              /* stale_max, seconds: how long past expiry a secure answer may
                                        still decide when DNS fails (default 0: never) */
    bool stale_relay;                /* stale_relay: a stale pass may authorize relaying (default no) */
    /* look-up policy */
    bool server_tlsa;                /* server_tlsa (default no) */
    config_list lookup_domains;      /* lookup_domains (default: all), normalized */
    /* daemon (danced) */
    config_rate lookup_budget;       /* lookup_budget: uncached look-ups per client address (IPv6: per
                                        /64) and period, N/DURATION, "off" or 0 (default 60/1m) */
    unsigned lookups_in_flight_max;  /* lookups_in_flight_max: look-ups in flight, all clients
                                        (1..RESOLVER_MAX_PENDING, default 1000) */
    char *authserv_id;               /* authserv_id (default "": the host's FQDN at start-up) */
    char *policy_socket;             /* policy_socket: inet:HOST:PORT, inet:[V6]:PORT, unix:/path,
                                        or "" (none: no policy service) (default inet:127.0.0.1:10040) */
    char *milter_socket;             /* milter_socket: the same syntax; "" (default): no milter */
    char *stats_socket;              /* stats_socket: the same syntax, HTTP GET /metrics (Prometheus
                                        text); "" (default): none */
    config_list trusted_authserv_ids; /* trusted_authserv_ids: "id@network" - Authentication-Results
                                        fields of that id are kept when the message came from that
                                        network; id lower case, no trailing dot (default none) */
    config_list remove_authserv_ids; /* remove_authserv_ids: ids (".domain": under it) whose fields are
                                        removed unless trusted; lower case (default none) */
    unsigned socket_mode;            /* socket_mode, octal, unix sockets (default 0660) */
    char *socket_group;              /* socket_group for unix sockets (default "": unchanged) */
    unsigned identities;             /* identities: helo, mailfrom, ptr (default helo, mailfrom) */
    config_list authorized_clients;  /* authorized_clients: names, or .domain for names under it;
                                        normalized, a leading '.' kept (default none) */
    digest_alg fingerprint_digest;   /* fingerprint_digest: sha256 (default) or sha512 */
    char *user;                      /* user to run as after binding (default "": stay) */
    char *group;                     /* group (default "": the user's primary group) */
    char *pid_file;                  /* pid_file (default "": none) */
    int log_facility;                /* log_facility: mail, daemon, local0..local7 (default mail) */
    config_log_format log_format;    /* log_format: text (default) or json */
    config_action temperror_action;  /* temperror_action for an authorized_clients identity:
                                        defer_if_permit (default), defer, dunno */
    config_action fail_action;       /* fail_action: dunno (default), reject, defer_if_permit */
    unsigned idle_timeout;           /* idle_timeout, seconds (default 600; Postfix's max_idle is 300) */
    unsigned request_timeout;        /* request_timeout: a request must arrive whole within this,
                                        seconds from its first byte (default 10; slow clients) */
    unsigned max_connections;        /* max_connections: policy connections (default 4096) */
    unsigned milter_max_connections; /* milter_max_connections (default 1024) */
    config_list peer_users;          /* peer_users: local users whose processes may connect to danced's
                                        sockets, besides root; "any": everyone (default none: not
                                        checked, allowed only while no join store is in use) */
    bool remote_sockets;             /* remote_sockets: inet sockets on non-loopback addresses are
                                        allowed (default no) */
    unsigned key_line[CONFIG_KEYS_MAX]; /* line where each key was set, 0 = default (config_line_of) */
} dance_config;

/* config_init - fill cfg with the documented defaults. */
void config_init(dance_config *cfg);

/* config_load - read path into cfg (on top of defaults); on error err holds "FILE:LINE: KEY: problem". */
config_status config_load(const char *path, dance_config *cfg, char *err, size_t errsize);

/* config_load_stream - the same from an open stream; path only names it in errors. */
config_status config_load_stream(FILE *fp, const char *path, dance_config *cfg, char *err, size_t errsize);


/* config_resolver - fill a resolver_config that points into cfg (valid while cfg lives). */
void config_resolver(const dance_config *cfg, resolver_config *rc);

/* config_line_of - the line where key was set in the file, 0 when it kept its default. */
unsigned config_line_of(const dance_config *cfg, const char *key);

/* config_free - release the strings held by cfg. */
void config_free(dance_config *cfg);

#endif
