/*
 * peer.c - which local user is at the other end of a connection.
 *
 * USAGE
 *	uid_t uid; char why[128];
 *	if (!peer_uid(fd, &uid, why, sizeof(why))) ... refuse: why ...
 *
 * DESCRIPTION
 *	Unix sockets: getsockopt(SO_PEERCRED), the credentials the peer
 *	had when it connected.
 *
 *	TCP: only when both ends are loopback addresses.  The peer's
 *	socket is looked up by its exact four-tuple (its address and port
 *	as source, ours as destination) with one SOCK_DIAG_BY_FAMILY
 *	request on a NETLINK_SOCK_DIAG socket; the answer's idiag_uid is
 *	the socket's owner.  No privilege is needed.  A peer in another
 *	network namespace is not found: refused, as it should be.  The
 *	netlink socket is opened per call (an accept, not a request: a
 *	Postfix policy connection lives for many requests), with a one
 *	second receive timeout so a kernel without sock_diag cannot stall
 *	the event loop.
 *
 * DIAGNOSTICS
 *	Every way of not knowing returns false with the reason: not a
 *	socket, no loopback, no such socket, no sock_diag in the kernel.
 */
#define _GNU_SOURCE                 /* struct ucred */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/netaddr.h"
#include "peer.h"

/* peer_fail - write why; returns false. */
static bool peer_fail(char *why, size_t whysize, const char *text, int err)
{
    snprintf(why, whysize, "%s%s%s", text, err ? ": " : "", err ? strerror(err) : "");
    return false;
}

/* peer_loopback - true when ss holds a loopback address. */
static bool peer_loopback(const struct sockaddr_storage *ss)
{
    char text[NETADDR_TEXT_MAX];
    netaddr a;
    const void *raw = ss->ss_family == AF_INET
        ? (const void *) &((const struct sockaddr_in *) (const void *) ss)->sin_addr
        : (const void *) &((const struct sockaddr_in6 *) (const void *) ss)->sin6_addr;

    if ((ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
        || inet_ntop(ss->ss_family, raw, text, sizeof(text)) == NULL)
        return false;
    return netaddr_parse(text, &a) && netaddr_is_loopback(&a);
}

/* peer_id_part - copy the address and port of ss into a sock_diag id half. */
static void peer_id_part(const struct sockaddr_storage *ss, __be16 *port, __be32 addr[4])
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) (const void *) ss;

        *port = in->sin_port;
        memcpy(addr, &in->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) (const void *) ss;

        *port = in6->sin6_port;
        memcpy(addr, &in6->sin6_addr, 16);
    }
}

/* peer_diag - the owner of the TCP socket whose source is src and destination dst. */
static bool peer_diag(const struct sockaddr_storage *src, const struct sockaddr_storage *dst, uid_t *uid,
                      char *why, size_t whysize)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    union {
        struct nlmsghdr nlh;
        char buf[8192];
    } resp;
    struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
    struct timeval tv = { 1, 0 };
    ssize_t n;
    int fd, err = 0;

    memset(&req, 0, sizeof(req));
    req.nlh.nlmsg_len = sizeof(req);
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.r.sdiag_family = (__u8) src->ss_family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0U;
    peer_id_part(src, &req.r.id.idiag_sport, req.r.id.idiag_src);
    peer_id_part(dst, &req.r.id.idiag_dport, req.r.id.idiag_dst);
    req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0)
        return peer_fail(why, whysize, "no sock_diag socket", errno);
    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *) &nl, sizeof(nl)) != (ssize_t) sizeof(req)) {
        err = errno;
        close(fd);
        return peer_fail(why, whysize, "sock_diag request failed", err);
    }
    n = recv(fd, &resp, sizeof(resp), 0);
    err = errno;
    close(fd);
    if (n < 0)
        return peer_fail(why, whysize, "sock_diag answered nothing", err);
    if (!NLMSG_OK(&resp.nlh, (size_t) n))
        return peer_fail(why, whysize, "sock_diag answer malformed", 0);
    if (resp.nlh.nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(&resp.nlh);

        return peer_fail(why, whysize, "the peer's socket is not on this host",
                         resp.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ? -e->error : 0);
    }
    if (resp.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY
        || resp.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
        return peer_fail(why, whysize, "sock_diag answer malformed", 0);
    *uid = (uid_t) ((const struct inet_diag_msg *) NLMSG_DATA(&resp.nlh))->idiag_uid;
    return true;
}

/* peer_uid - the user id owning the other end of connected socket fd. */
bool peer_uid(int fd, uid_t *uid, char *why, size_t whysize)
{
    struct sockaddr_storage mine, theirs;
    socklen_t len = sizeof(mine);
    struct ucred cred;

    if (getsockname(fd, (struct sockaddr *) &mine, &len) != 0)
        return peer_fail(why, whysize, "getsockname", errno);
    if (mine.ss_family == AF_UNIX) {
        len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
            return peer_fail(why, whysize, "SO_PEERCRED", errno);
        *uid = cred.uid;
        return true;
    }
    len = sizeof(theirs);
    if (getpeername(fd, (struct sockaddr *) &theirs, &len) != 0)
        return peer_fail(why, whysize, "getpeername", errno);
    if (!peer_loopback(&theirs) || !peer_loopback(&mine))
        return peer_fail(why, whysize, "a peer on another host has no local user", 0);
    return peer_diag(&theirs, &mine, uid, why, whysize);
}
