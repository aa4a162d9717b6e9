/*
 * http_get.h - one bounded HTTP/1.0 GET over a dance socket endpoint
 * (inet:HOST:PORT, inet:[IPv6]:PORT, unix:/path), for `dance stats`.
 */
#ifndef DANCE_CLI_HTTP_GET_H
#define DANCE_CLI_HTTP_GET_H

#include <stddef.h>

typedef enum {
    HTTP_GET_OK = 0,
    HTTP_GET_BAD_ENDPOINT,            /* the endpoint text does not parse */
    HTTP_GET_UNREACHABLE,             /* no connection (refused, no such socket, timeout) */
    HTTP_GET_BAD_ANSWER               /* connected, but no complete HTTP answer in time, or too big */
} http_get_status;

/* One answer: the status code and reason, and the body (NUL-terminated) inside buf. */
typedef struct http_get_reply {
    int code;                         /* 200, 404, ... */
    char reason[64];                  /* printable ASCII */
    const char *body;                 /* into buf */
    size_t body_len;
    char *buf;                        /* the whole answer; http_get_reply_free() releases it */
} http_get_reply;

/*
 * http_get - GET path from endpoint within timeout_ms (connect, send and
 * every read included), reading at most max octets; on any problem a
 * one-line message in err.
 */
http_get_status http_get(const char *endpoint, const char *path, long long timeout_ms, size_t max,
                         http_get_reply *reply, char *err, size_t errsize);

/* http_get_reply_free - release the answer's buffer. */
void http_get_reply_free(http_get_reply *reply);

#endif
