/*
 * http_get.c - one bounded HTTP/1.0 GET over a dance socket endpoint, for
 * `dance stats` (danced's stats_socket).
 *
 * USAGE
 *	http_get_reply r;
 *	if (http_get("inet:127.0.0.1:9477", "/metrics", 5000, 1 << 20, &r, err, sizeof(err))
 *	    != HTTP_GET_OK)
 *	    ... print err ...
 *	... r.code, r.body ...
 *	http_get_reply_free(&r);
 *
 * DESCRIPTION
 *	The endpoint has the syntax of danced's sockets (lib/endpoint.h); a
 *	host name is resolved with getaddrinfo() and each address tried in
 *	turn.  The request is "GET PATH HTTP/1.0" with a Host field, so the
 *	server closes the connection after the answer, which is read to the
 *	end.  Everything - connecting, writing, each read - runs against one
 *	deadline on the monotonic clock, on a non-blocking socket, so a
 *	server that accepts and says nothing cannot hang the command; the
 *	answer may be at most max octets.
 *
 * DIAGNOSTICS
 *	Every failure is one line in err naming the endpoint and the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/endpoint.h"
#include "lib/panic.h"
#include "http_get.h"

/* http_get_wait - poll fd for events until the deadline; false on timeout (errno ETIMEDOUT) or error. */
static bool http_get_wait(int fd, short events, long long deadline_ms)
{
    struct pollfd pfd = { fd, events, 0 };

    for (;;) {
        long long left = deadline_ms - clock_now_ms();
        int rc;

        if (left <= 0) {
            errno = ETIMEDOUT;
            return false;
        }
        rc = poll(&pfd, 1, left > 60000 ? 60000 : (int) left);
        if (rc > 0)
            return true;
        if (rc < 0 && errno != EINTR)
            return false;
    }
}

/* http_get_connect_to - a non-blocking connection to one address, or -1 with errno. */
static int http_get_connect_to(const struct sockaddr *sa, socklen_t len, long long deadline_ms)
{
    int fd, soerr = 0;
    socklen_t elen = sizeof(soerr);

    if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (connect(fd, sa, len) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EAGAIN)
        goto fail;
    if (!http_get_wait(fd, POLLOUT, deadline_ms))
        goto fail;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
        goto fail;
    if (soerr == 0)
        return fd;
    errno = soerr;
fail:
    soerr = errno;
    close(fd);
    errno = soerr;
    return -1;
}

/* http_get_connect - connect to the parsed endpoint (each address of a name in turn); -1 with err. */
static int http_get_connect(const char *text, const endpoint *ep, long long deadline_ms, char *err,
                            size_t errsize)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int fd = -1, gai;

    if (ep->family == AF_UNIX) {
        struct sockaddr_un sun;

        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ep->path);
        if ((fd = http_get_connect_to((const struct sockaddr *) &sun, sizeof(sun), deadline_ms)) < 0)
            snprintf(err, errsize, "%s: cannot connect: %s", text, strerror(errno));
        return fd;
    }
    snprintf(port, sizeof(port), "%u", ep->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = ep->family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (ep->family != AF_UNSPEC ? AI_NUMERICHOST : 0);
    if ((gai = getaddrinfo(ep->host, port, &hints, &res)) != 0) {
        snprintf(err, errsize, "%s: %s", text, gai_strerror(gai));
        return -1;
    }
    snprintf(err, errsize, "%s: no address", text);
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        if ((fd = http_get_connect_to(ai->ai_addr, ai->ai_addrlen, deadline_ms)) < 0)
            snprintf(err, errsize, "%s: cannot connect: %s", text, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

/* http_get_send - write all of s before the deadline. */
static bool http_get_send(int fd, const char *s, size_t len, long long deadline_ms)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

        if (n > 0) {
            s += n;
            len -= (size_t) n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        } else if (!http_get_wait(fd, POLLOUT, deadline_ms)) {
            return false;
        }
    }
    return true;
}

/* http_get_read - read to the end (at most max octets) before the deadline; the length, or -1 with errno. */
static ssize_t http_get_read(int fd, char *buf, size_t max, long long deadline_ms)
{
    size_t len = 0;

    for (;;) {
        ssize_t n = recv(fd, buf + len, max + 1 - len, 0);

        if (n == 0)
            return (ssize_t) len;
        if (n > 0) {
            len += (size_t) n;
            if (len > max) {
                errno = EFBIG;
                return -1;
            }
        } else if (errno != EAGAIN && errno != EINTR) {
            return -1;
        } else if (!http_get_wait(fd, POLLIN, deadline_ms)) {
            return -1;
        }
    }
}

/* http_get_parse - the status line and the end of the header fields; false when it is no HTTP answer. */
static bool http_get_parse(http_get_reply *r, size_t len)
{
    char *eol = strstr(r->buf, "\r\n"), *end = strstr(r->buf, "\r\n\r\n");
    size_t i = 0;
    char *p;

    if (eol == NULL || end == NULL || strncmp(r->buf, "HTTP/1.", 7) != 0 || r->buf[8] != ' ')
        return false;
    r->code = (int) strtol(r->buf + 9, &p, 10);
    if (p != r->buf + 12 || r->code < 100 || r->code > 599)
        return false;
    for (p++; p < eol && i + 1 < sizeof(r->reason); p++)
        r->reason[i++] = (*p >= 0x20 && *p <= 0x7e) ? *p : '?';
    r->reason[i] = '\0';
    r->body = end + 4;
    r->body_len = len - (size_t) (r->body - r->buf);
    return true;
}

/* http_get - GET path from endpoint within timeout_ms, reading at most max octets. */
http_get_status http_get(const char *text, const char *path, long long timeout_ms, size_t max,
                         http_get_reply *r, char *err, size_t errsize)
{
    long long deadline_ms = clock_now_ms() + timeout_ms;
    char req[512], why[256];
    endpoint ep;
    ssize_t len;
    int fd, n;

    memset(r, 0, sizeof(*r));
    if (!endpoint_parse(text, &ep, why, sizeof(why))) {
        snprintf(err, errsize, "%s: %s", text, why);
        return HTTP_GET_BAD_ENDPOINT;
    }
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: text/plain\r\n\r\n", path,
                 ep.family == AF_UNIX ? "localhost" : ep.host);
    if (n < 0 || (size_t) n >= sizeof(req))
        DANCE_PANIC("the path is one of ours and the host is bounded");
    if ((fd = http_get_connect(text, &ep, deadline_ms, err, errsize)) < 0)
        return HTTP_GET_UNREACHABLE;
    if (!http_get_send(fd, req, (size_t) n, deadline_ms)) {
        snprintf(err, errsize, "%s: cannot send the request: %s", text, strerror(errno));
        close(fd);
        return HTTP_GET_UNREACHABLE;
    }
    r->buf = xmalloc(max + 2);
    len = http_get_read(fd, r->buf, max, deadline_ms);
    close(fd);
    if (len < 0) {
        snprintf(err, errsize, "%s: %s", text, errno == EFBIG ? "the answer is too long"
                 : errno == ETIMEDOUT ? "no complete answer in time" : strerror(errno));
        http_get_reply_free(r);
        return HTTP_GET_BAD_ANSWER;
    }
    r->buf[len] = '\0';
    if (memchr(r->buf, '\0', (size_t) len) != NULL || !http_get_parse(r, (size_t) len)) {
        snprintf(err, errsize, "%s: not an HTTP answer", text);
        http_get_reply_free(r);
        return HTTP_GET_BAD_ANSWER;
    }
    return HTTP_GET_OK;
}

/* http_get_reply_free - release the answer's buffer. */
void http_get_reply_free(http_get_reply *r)
{
    free(r->buf);
    r->buf = NULL;
    r->body = NULL;
    r->body_len = 0;
}
