/*
 * config_keys.c - the keys of the dance configuration file: the one place
 * to add a key.
 *
 * Each key: its name, value type, the field of dance_config it fills,
 * bounds (numbers, modes) or the entry limit (lists), and for strings and
 * list entries the check that validates and normalizes the text
 * (config_check.c); for words and flags the keywords accepted.  The file
 * format (README, contrib/dance.conf.sample) is shared by `dance -c` and
 * danced, so the table holds the daemon's keys too; every key is
 * documented in the sample file, which the unit tests hold against this
 * table.
 */
#include <stddef.h>
#include <syslog.h>

#include "config_private.h"
#include "resolver.h"

static const config_word config_identity_words[] = {
    { "helo", CONFIG_IDENTITY_HELO },
    { "mailfrom", CONFIG_IDENTITY_MAILFROM },
    { "ptr", CONFIG_IDENTITY_PTR },
    { NULL, 0 }
};

static const config_word config_facility_words[] = {
    { "mail", LOG_MAIL }, { "daemon", LOG_DAEMON },
    { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
    { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
    { NULL, 0 }
};

static const config_word config_log_format_words[] = {
    { "text", CONFIG_LOG_TEXT },
    { "json", CONFIG_LOG_JSON },
    { NULL, 0 }
};

/* temperror for an authorized client: never "ok" (relaying on a guess), never "reject" (a DNS hiccup). */
static const config_word config_temperror_words[] = {
    { "defer_if_permit", CONFIG_ACTION_DEFER_IF_PERMIT },
    { "defer", CONFIG_ACTION_DEFER },
    { "dunno", CONFIG_ACTION_DUNNO },
    { NULL, 0 }
};

static const config_word config_fail_words[] = {
    { "dunno", CONFIG_ACTION_DUNNO },
    { "reject", CONFIG_ACTION_REJECT },
    { "defer_if_permit", CONFIG_ACTION_DEFER_IF_PERMIT },
    { NULL, 0 }
};

#define CONFIG_FIELD(f) offsetof(dance_config, f)

const config_key config_keys[] = {
    /* resolver */
    { "trust_anchor_file", CONFIG_T_STRING, CONFIG_FIELD(trust_anchor_file), 0, 0, config_check_path, NULL },
    { "resolver_config", CONFIG_T_STRING, CONFIG_FIELD(resolver_config), 0, 0, config_check_path, NULL },
    { "forwarders", CONFIG_T_LIST, CONFIG_FIELD(forwarders), 0, RESOLVER_FORWARDERS_MAX, config_check_address,
      NULL },
    { "forwarders_tls", CONFIG_T_BOOL, CONFIG_FIELD(forwarders_tls), 0, 0, NULL, NULL },
    { "tls_ca_file", CONFIG_T_STRING, CONFIG_FIELD(tls_ca_file), 0, 0, config_check_path, NULL },
    { "dns_timeout", CONFIG_T_DURATION, CONFIG_FIELD(dns_timeout), 1, 300, NULL, NULL },
    { "cache_max_ttl", CONFIG_T_DURATION, CONFIG_FIELD(cache_max_ttl), 0, 86400, NULL, NULL },
    { "cache_error_ttl", CONFIG_T_DURATION, CONFIG_FIELD(cache_error_ttl), 0, 3600, NULL, NULL },
    { "cache_entries", CONFIG_T_UINT, CONFIG_FIELD(cache_entries), 0, 10000000, NULL, NULL },
    { "stale_max", CONFIG_T_DURATION, CONFIG_FIELD(stale_max), 0, RESOLVER_STALE_MAX_LIMIT, NULL, NULL },
    { "stale_relay", CONFIG_T_BOOL, CONFIG_FIELD(stale_relay), 0, 0, NULL, NULL },
    /* look-up policy */
    { "server_tlsa", CONFIG_T_BOOL, CONFIG_FIELD(server_tlsa), 0, 0, NULL, NULL },
    { "lookup_domains", CONFIG_T_LIST, CONFIG_FIELD(lookup_domains), 0, CONFIG_LIST_MAX, config_check_domain,
      NULL },
    /* daemon */
    { "lookup_budget", CONFIG_T_RATE, CONFIG_FIELD(lookup_budget), 0, 1000000, NULL, NULL },
    { "lookups_in_flight_max", CONFIG_T_UINT, CONFIG_FIELD(lookups_in_flight_max), 1, RESOLVER_MAX_PENDING,
      NULL, NULL },
    { "authserv_id", CONFIG_T_STRING, CONFIG_FIELD(authserv_id), 0, 0, config_check_authserv_id, NULL },
    { "policy_socket", CONFIG_T_STRING, CONFIG_FIELD(policy_socket), 0, 0, config_check_optional_endpoint,
      NULL },
    { "milter_socket", CONFIG_T_STRING, CONFIG_FIELD(milter_socket), 0, 0, config_check_optional_endpoint,
      NULL },
    { "stats_socket", CONFIG_T_STRING, CONFIG_FIELD(stats_socket), 0, 0, config_check_optional_endpoint,
      NULL },
    { "trusted_authserv_ids", CONFIG_T_LIST, CONFIG_FIELD(trusted_authserv_ids), 0, CONFIG_LIST_MAX,
      config_check_trusted_entry, NULL },
    { "remove_authserv_ids", CONFIG_T_LIST, CONFIG_FIELD(remove_authserv_ids), 0, CONFIG_LIST_MAX,
      config_check_servid_entry, NULL },
    { "socket_mode", CONFIG_T_MODE, CONFIG_FIELD(socket_mode), 0, 0777, NULL, NULL },
    { "socket_group", CONFIG_T_STRING, CONFIG_FIELD(socket_group), 0, 0, config_check_account, NULL },
    { "identities", CONFIG_T_FLAGS, CONFIG_FIELD(identities), 0, 0, NULL, config_identity_words },
    { "authorized_clients", CONFIG_T_LIST, CONFIG_FIELD(authorized_clients), 0, CONFIG_LIST_MAX,
      config_check_client, NULL },
    { "fingerprint_digest", CONFIG_T_DIGEST, CONFIG_FIELD(fingerprint_digest), 0, 0, NULL, NULL },
    { "user", CONFIG_T_STRING, CONFIG_FIELD(user), 0, 0, config_check_account, NULL },
    { "group", CONFIG_T_STRING, CONFIG_FIELD(group), 0, 0, config_check_account, NULL },
    { "pid_file", CONFIG_T_STRING, CONFIG_FIELD(pid_file), 0, 0, config_check_absolute_path, NULL },
    { "log_facility", CONFIG_T_WORD, CONFIG_FIELD(log_facility), 0, 0, NULL, config_facility_words },
    { "log_format", CONFIG_T_WORD, CONFIG_FIELD(log_format), 0, 0, NULL, config_log_format_words },
    { "temperror_action", CONFIG_T_WORD, CONFIG_FIELD(temperror_action), 0, 0, NULL, config_temperror_words },
    { "fail_action", CONFIG_T_WORD, CONFIG_FIELD(fail_action), 0, 0, NULL, config_fail_words },
    { "idle_timeout", CONFIG_T_DURATION, CONFIG_FIELD(idle_timeout), 1, 86400, NULL, NULL },
    { "request_timeout", CONFIG_T_DURATION, CONFIG_FIELD(request_timeout), 1, 3600, NULL, NULL },
    { "max_connections", CONFIG_T_UINT, CONFIG_FIELD(max_connections), 1, 1000000, NULL, NULL },
    { "milter_max_connections", CONFIG_T_UINT, CONFIG_FIELD(milter_max_connections), 1, 1000000, NULL, NULL },
    { "peer_users", CONFIG_T_LIST, CONFIG_FIELD(peer_users), 0, CONFIG_LIST_MAX, config_check_peer_user, NULL },
    { "remote_sockets", CONFIG_T_BOOL, CONFIG_FIELD(remote_sockets), 0, 0, NULL, NULL },
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))
_Static_assert(CONFIG_NKEYS <= CONFIG_KEYS_MAX, "dance_config.key_line has a slot per key");

const size_t config_nkeys = CONFIG_NKEYS;

