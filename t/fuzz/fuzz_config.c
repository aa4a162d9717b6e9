/*
 * fuzz_config.c - libFuzzer target: the configuration file parser.
 *
 * The input is a dance.conf read with config_load_stream() on top of the
 * defaults; the first line also goes to endpoint_parse().
 * Checked: an error message names the file and a line ("NAME:N: ..."); a
 * configuration that loads has numbers within the bounds the keys declare
 * (dns_timeout 1..300, socket_mode within 0777, ...), lists within
 * CONFIG_LIST_MAX, endpoints that parse again; config_free() always
 * leaves nothing behind (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/config.h"
#include "lib/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dance_config cfg;
    endpoint ep;
    char err[1024], why[256], line[512];
    FILE *fp = fmemopen((void *) data, size, "r");
    config_status st;
    size_t n;

    if (size == 0 || fp == NULL) {
        if (fp != NULL)
            fclose(fp);
        return 0;
    }
    config_init(&cfg);
    st = config_load_stream(fp, "fuzz.conf", &cfg, err, sizeof(err));
    fclose(fp);
    if (st != CONFIG_OK) {
        if (strncmp(err, "fuzz.conf:", 10) != 0 || err[10] < '1' || err[10] > '9')
            abort();            /* every error names the file and the line */
    } else {
        if (cfg.dns_timeout < 1 || cfg.dns_timeout > 300 || cfg.socket_mode > 0777
            || cfg.idle_timeout < 1 || cfg.max_connections < 1 || cfg.lookup_domains.n > CONFIG_LIST_MAX
            || cfg.authorized_clients.n > CONFIG_LIST_MAX || cfg.forwarders.n > RESOLVER_FORWARDERS_MAX
            || strlen(cfg.authserv_id) > CONFIG_AUTHSERV_ID_MAX)
            abort();
        if (cfg.policy_socket[0] != '\0' && !endpoint_parse(cfg.policy_socket, &ep, why, sizeof(why)))
            abort();
        if (cfg.milter_socket[0] != '\0' && !endpoint_parse(cfg.milter_socket, &ep, why, sizeof(why)))
            abort();
    }
    config_free(&cfg);

    n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
    memcpy(line, data, n);
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    if (endpoint_parse(line, &ep, why, sizeof(why))) {
        if (ep.family == AF_UNIX ? ep.path[0] != '/' : (ep.port < 1 || ep.port > 65535))
            abort();
    }
    return 0;
}
