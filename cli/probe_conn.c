/*
 * probe_conn.c - one SMTP connection of "dance probe", bounded by a deadline.
 *
 * USAGE
 *	c = probe_conn_new(fd, clock_now_ms() + 60000);
 *	probe_conn_write(c, "220 ...\r\n");
 *	st = probe_conn_line(c, line, sizeof(line), &len);
 *	st = probe_conn_starttls(c, ctx, err, sizeof(err));
 *	probe_conn_free(c);
 *
 * DESCRIPTION
 *	The socket is non-blocking; every wait is a poll() for at most the
 *	time left until the one deadline, in plaintext and in TLS alike, so
 *	a silent or slow client cannot hold the probe longer.  Lines end in
 *	LF (CRLF or bare LF); one longer than PROBE_LINE_MAX octets ends
 *	the session.  STARTTLS throws away what the client sent after the
 *	command before the handshake (no plaintext injection into the TLS
 *	session).  SIGPIPE must be ignored by the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "lib/clock.h"
#include "lib/panic.h"
#include "probe_conn.h"

#define PROBE_LINGER_MS 1000            /* draining the client's input at the end */

struct probe_conn {
    int fd;
    SSL *ssl;
    long long deadline;
    char in[PROBE_LINE_MAX];
    size_t inlen;
};

/* probe_conn_new - take over fd with a deadline. */
probe_conn *probe_conn_new(int fd, long long deadline_ms)
{
    probe_conn *c = xmalloc(sizeof(*c));
    int fl = fcntl(fd, F_GETFL);

    if (fl != -1)
        (void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    c->fd = fd;
    c->ssl = NULL;
    c->deadline = deadline_ms;
    c->inlen = 0;
    return c;
}

/*
 * probe_conn_linger - half-close, then read and drop what the client still
 * sends (at most PROBE_LINGER_MS and 64 KiB): closing with unread input
 * would reset the connection and lose our last reply (a 421) on its way.
 */
static void probe_conn_linger(probe_conn *c)
{
    long long end = clock_now_ms() + PROBE_LINGER_MS;
    struct pollfd p;
    char junk[4096];
    size_t total = 0;
    ssize_t n;
    long long left;

    if (shutdown(c->fd, SHUT_WR) != 0)
        return;
    while (total < 64 * 1024 && (left = end - clock_now_ms()) > 0) {
        p.fd = c->fd;
        p.events = POLLIN;
        if (poll(&p, 1, (int) left) <= 0)
            return;
        if ((n = read(c->fd, junk, sizeof(junk))) <= 0)
            return;
        total += (size_t) n;
    }
}

/* probe_conn_free - release everything; a TLS close_notify is sent if it can go at once. */
void probe_conn_free(probe_conn *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL) {
        (void) SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    probe_conn_linger(c);
    close(c->fd);
    free(c);
}

/* probe_conn_shorten - the deadline at most ms from now. */
void probe_conn_shorten(probe_conn *c, long long ms)
{
    long long d = clock_now_ms() + ms;

    if (d < c->deadline)
        c->deadline = d;
}

/* probe_conn_ssl - the TLS session or NULL. */
SSL *probe_conn_ssl(probe_conn *c)
{
    return c->ssl;
}

/* probe_conn_wait - poll for events until the deadline. */
static probe_io_status probe_conn_wait(probe_conn *c, short events)
{
    struct pollfd p;
    long long left;
    int n;

    for (;;) {
        if ((left = c->deadline - clock_now_ms()) <= 0)
            return PROBE_IO_TIMEOUT;
        p.fd = c->fd;
        p.events = events;
        p.revents = 0;
        n = poll(&p, 1, left > 60000 ? 60000 : (int) left);
        if (n > 0)
            return PROBE_IO_OK;         /* readable, writable, or an error the next call reports */
        if (n < 0 && errno != EINTR)
            return PROBE_IO_ERROR;
    }
}

/* probe_conn_ssl_retry - wait as SSL_get_error asks; OK to retry, else why not. */
static probe_io_status probe_conn_ssl_retry(probe_conn *c, int ret)
{
    switch (SSL_get_error(c->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return probe_conn_wait(c, POLLIN);
    case SSL_ERROR_WANT_WRITE:
        return probe_conn_wait(c, POLLOUT);
    case SSL_ERROR_ZERO_RETURN:
        return PROBE_IO_EOF;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return ret == 0 || errno == ECONNRESET || errno == EPIPE ? PROBE_IO_EOF : PROBE_IO_ERROR;
    default:
        return PROBE_IO_TLS;
    }
}

/* probe_conn_fill - read more into the input buffer (at least one octet), or why not. */
static probe_io_status probe_conn_fill(probe_conn *c)
{
    size_t room = sizeof(c->in) - c->inlen;
    probe_io_status st;
    ssize_t n;
    int r;

    if (room == 0)
        DANCE_PANIC("probe_conn_fill with a full buffer");
    for (;;) {
        if (c->ssl != NULL) {
            ERR_clear_error();
            r = SSL_read(c->ssl, c->in + c->inlen, (int) room);
            if (r > 0) {
                c->inlen += (size_t) r;
                return PROBE_IO_OK;
            }
            if ((st = probe_conn_ssl_retry(c, r)) != PROBE_IO_OK)
                return st;
            continue;
        }
        n = read(c->fd, c->in + c->inlen, room);
        if (n > 0) {
            c->inlen += (size_t) n;
            return PROBE_IO_OK;
        }
        if (n == 0)
            return PROBE_IO_EOF;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if ((st = probe_conn_wait(c, POLLIN)) != PROBE_IO_OK)
                return st;
            continue;
        }
        return errno == ECONNRESET ? PROBE_IO_EOF : PROBE_IO_ERROR;
    }
}

/* probe_conn_line - the next line, without CR LF, NUL-terminated; its length in *len. */
probe_io_status probe_conn_line(probe_conn *c, char *buf, size_t size, size_t *len)
{
    probe_io_status st;
    char *lf;
    size_t n;

    if (size < sizeof(c->in))
        DANCE_PANIC("probe_conn_line: buffer under PROBE_LINE_MAX");
    while ((lf = memchr(c->in, '\n', c->inlen)) == NULL) {
        if (c->inlen == sizeof(c->in))
            return PROBE_IO_TOO_LONG;
        if ((st = probe_conn_fill(c)) != PROBE_IO_OK)
            return st;
    }
    n = (size_t) (lf - c->in);
    memcpy(buf, c->in, n);
    c->inlen -= n + 1;
    memmove(c->in, lf + 1, c->inlen);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return PROBE_IO_OK;
}

/* probe_conn_write - send all of text before the deadline. */
probe_io_status probe_conn_write(probe_conn *c, const char *text)
{
    size_t left = strlen(text);
    probe_io_status st;
    ssize_t n;
    int r;

    while (left > 0) {
        if (c->ssl != NULL) {
            ERR_clear_error();
            r = SSL_write(c->ssl, text, (int) left);
            if (r > 0) {
                text += r;
                left -= (size_t) r;
            } else if ((st = probe_conn_ssl_retry(c, r)) != PROBE_IO_OK) {
                return st;
            }
            continue;
        }
        n = send(c->fd, text, left, MSG_NOSIGNAL);
        if (n > 0) {
            text += n;
            left -= (size_t) n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if ((st = probe_conn_wait(c, POLLOUT)) != PROBE_IO_OK)
                return st;
        } else {
            return n < 0 && errno != EPIPE && errno != ECONNRESET ? PROBE_IO_ERROR : PROBE_IO_EOF;
        }
    }
    return PROBE_IO_OK;
}

/* probe_conn_starttls - the server handshake after "220 Ready to start TLS". */
probe_io_status probe_conn_starttls(probe_conn *c, SSL_CTX *ctx, char *err, size_t errsize)
{
    probe_io_status st;
    unsigned long e;
    int r;

    if (c->ssl != NULL)
        DANCE_PANIC("STARTTLS twice");
    c->inlen = 0;                       /* pipelined plaintext never reaches the TLS session */
    if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        snprintf(err, errsize, "cannot create a TLS session");
        return PROBE_IO_TLS;
    }
    for (;;) {
        ERR_clear_error();
        if ((r = SSL_accept(c->ssl)) == 1)
            return PROBE_IO_OK;
        e = ERR_peek_error();
        if ((st = probe_conn_ssl_retry(c, r)) != PROBE_IO_OK) {
            if (st == PROBE_IO_TLS && e != 0)
                ERR_error_string_n(e, err, errsize);
            else
                snprintf(err, errsize, "%s", probe_io_str(st));
            ERR_clear_error();
            return st == PROBE_IO_OK ? PROBE_IO_TLS : st;
        }
    }
}

/* probe_io_str - short English text for a status. */
const char *probe_io_str(probe_io_status st)
{
    switch (st) {
    case PROBE_IO_OK:
        return "ok";
    case PROBE_IO_EOF:
        return "the client closed the connection";
    case PROBE_IO_TIMEOUT:
        return "timed out";
    case PROBE_IO_TOO_LONG:
        return "line too long";
    case PROBE_IO_ERROR:
        return "connection error";
    case PROBE_IO_TLS:
        return "TLS failure";
    }
    DANCE_PANIC("%s: unhandled case", __func__);
}
