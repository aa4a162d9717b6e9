/*
 * probe_conn.h - one SMTP connection of "dance probe": lines in, text out,
 * STARTTLS, all bounded by one deadline.
 */
#ifndef DANCE_CLI_PROBE_CONN_H
#define DANCE_CLI_PROBE_CONN_H

#include <stddef.h>
#include <openssl/ssl.h>

#define PROBE_LINE_MAX 1000            /* longest line taken, CRLF included (RFC 5321 4.5.3.1.4: 512 for commands) */

typedef enum {
    PROBE_IO_OK = 0,
    PROBE_IO_EOF,                      /* the client closed the connection */
    PROBE_IO_TIMEOUT,                  /* the deadline passed */
    PROBE_IO_TOO_LONG,                 /* a line over PROBE_LINE_MAX octets */
    PROBE_IO_ERROR,                    /* a socket error */
    PROBE_IO_TLS                       /* the TLS handshake or a TLS record failed */
} probe_io_status;

typedef struct probe_conn probe_conn;

/* probe_conn_new - take over the connected socket fd (made non-blocking); deadline on clock_now_ms(). */
probe_conn *probe_conn_new(int fd, long long deadline_ms);

/* probe_conn_free - shut TLS down (without waiting), close the socket, release; NULL is fine. */
void probe_conn_free(probe_conn *c);

/* probe_conn_line - the next line without its line end into buf (NUL-terminated, may hold NULs: *len). */
probe_io_status probe_conn_line(probe_conn *c, char *buf, size_t size, size_t *len);

/* probe_conn_write - send all of text. */
probe_io_status probe_conn_write(probe_conn *c, const char *text);

/* probe_conn_starttls - drop unread plaintext, then the server handshake with ctx; err says why it failed. */
probe_io_status probe_conn_starttls(probe_conn *c, SSL_CTX *ctx, char *err, size_t errsize);

/* probe_conn_shorten - bring the deadline forward to at most ms from now. */
void probe_conn_shorten(probe_conn *c, long long ms);

/* probe_conn_ssl - the TLS session, NULL before STARTTLS. */
SSL *probe_conn_ssl(probe_conn *c);

/* probe_io_str - short English text for a status. */
const char *probe_io_str(probe_io_status st);

#endif
