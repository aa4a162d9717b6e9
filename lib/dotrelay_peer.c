/*
 * dotrelay_peer.c - the owner (user id) of the socket at the other end of
 * a connection to the DNS over TLS relay, asked of the kernel, so that the
 * relay serves its own process's user only.
 *
 * USAGE
 *	dotrelay_peer p;
 *	if (!dotrelay_peer_init(&p, relay_port, err, sizeof(err))) ... fatal ...
 *	fd = accept4(listen_fd, (struct sockaddr *) &peer, &len, ...);
 *	if (dotrelay_peer_check(&p, &peer) != DOTRELAY_PEER_OWN) close(fd);
 *	dotrelay_peer_close(&p);
 *
 * DESCRIPTION
 *	The relay (dotrelay.c) listens on a TCP port of 127.0.0.1, where every
 *	local user can connect, and its connections are bounded
 *	(DOTRELAY_CONN_MAX): another user holding them could starve the
 *	look-ups.  For each accepted connection the relay asks who owns the
 *	socket at the other end - the one whose own address is the peer's and
 *	whose other end is 127.0.0.1:relay port - and serves it only when that
 *	is its own user: the effective user now, or when the relay started
 *	(a socket libunbound opened before danced dropped its privileges) -
 *	and only while that socket is established: one that is closing may be
 *	in TIME-WAIT, where the kernel no longer knows its owner (uid 0).
 *	The question goes through NETLINK_SOCK_DIAG (inet_diag, as ss(8) asks
 *	it): one exact look-up, no privilege needed, no reading of the whole
 *	socket table.  The netlink socket has a receive time-out of one
 *	second, so a kernel that never answers cannot hang the relay.
 *
 *	dotrelay_peer_init() asks the same question of the relay's own
 *	listening socket (other end 0.0.0.0:0), so a system where it cannot be
 *	asked fails at start-up with a message rather than at a look-up.
 *
 * DIAGNOSTICS
 *	DOTRELAY_PEER_ERROR with errno: the question could not be sent or
 *	its answer read, or the kernel refused it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "dotrelay_peer.h"

/* dotrelay_peer_uid - the owner and TCP state of the IPv4 socket src:sport -> dst:dport (network order). */
static dotrelay_peer_status dotrelay_peer_uid(dotrelay_peer *p, uint32_t src, uint16_t sport, uint32_t dst,
                                              uint16_t dport, uid_t *uid, unsigned *state)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } q;
    union {
        struct nlmsghdr nlh;
        char buf[512];
    } r;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    const struct nlmsghdr *h;
    ssize_t n;
    int len;

    memset(&q, 0, sizeof(q));
    q.nlh.nlmsg_len = sizeof(q);
    q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    q.nlh.nlmsg_flags = NLM_F_REQUEST;
    q.nlh.nlmsg_seq = ++p->seq;
    q.req.sdiag_family = AF_INET;
    q.req.sdiag_protocol = IPPROTO_TCP;
    q.req.idiag_states = ~0U;
    q.req.id.idiag_src[0] = src;
    q.req.id.idiag_sport = sport;
    q.req.id.idiag_dst[0] = dst;
    q.req.id.idiag_dport = dport;
    q.req.id.idiag_cookie[0] = q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (sendto(p->fd, &q, sizeof(q), 0, (struct sockaddr *) &kernel, sizeof(kernel)) != (ssize_t) sizeof(q))
        return DOTRELAY_PEER_ERROR;
    for (;;) {
        do
            n = recv(p->fd, &r, sizeof(r), 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return DOTRELAY_PEER_ERROR;
        len = (int) n;
        for (h = &r.nlh; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != q.nlh.nlmsg_seq)
                continue;       /* the late answer to a question that timed out */
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);

                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
                    errno = EPROTO;
                    return DOTRELAY_PEER_ERROR;
                }
                if (e->error == -ENOENT)
                    return DOTRELAY_PEER_GONE;
                errno = e->error < 0 ? -e->error : EPROTO;
                return DOTRELAY_PEER_ERROR;
            }
            if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
                h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
                const struct inet_diag_msg *m = NLMSG_DATA(h);

                *uid = m->idiag_uid;
                *state = m->idiag_state;
                return DOTRELAY_PEER_OWN;
            }
            errno = EPROTO;
            return DOTRELAY_PEER_ERROR;
        }
    }
}

/* dotrelay_peer_init - open the question for the relay on 127.0.0.1:port and ask it of its own listening socket. */
bool dotrelay_peer_init(dotrelay_peer *p, unsigned port, char *err, size_t errsize)
{
    struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
    dotrelay_peer_status st = DOTRELAY_PEER_ERROR;
    uid_t uid = 0;
    unsigned state = 0;

    p->seq = 0;
    p->start_uid = geteuid();
    p->port = htons((uint16_t) port);
    if ((p->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) >= 0) {
        (void) setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        st = dotrelay_peer_uid(p, htonl(INADDR_LOOPBACK), p->port, 0, 0, &uid, &state);
    }
    if (st == DOTRELAY_PEER_OWN && uid == p->start_uid && state == TCP_LISTEN)
        return true;
    snprintf(err, errsize, "DNS over TLS relay: cannot ask the kernel who connects to 127.0.0.1:%u "
             "(NETLINK_SOCK_DIAG): %s", port, st == DOTRELAY_PEER_ERROR ? strerror(errno) :
             st == DOTRELAY_PEER_GONE ? "its own socket was not found" : "its own socket has another owner");
    dotrelay_peer_close(p);
    return false;
}

/* dotrelay_peer_check - whose is the socket at the other end of a connection accepted from peer? */
dotrelay_peer_status dotrelay_peer_check(dotrelay_peer *p, const struct sockaddr_in *peer)
{
    uid_t uid;
    unsigned state;
    dotrelay_peer_status st;

    if (peer->sin_family != AF_INET)
        return DOTRELAY_PEER_FOREIGN;
    st = dotrelay_peer_uid(p, peer->sin_addr.s_addr, peer->sin_port, htonl(INADDR_LOOPBACK), p->port, &uid,
                           &state);
    if (st != DOTRELAY_PEER_OWN)
        return st;
    if (state != TCP_ESTABLISHED)
        return DOTRELAY_PEER_GONE;  /* closing: a socket in TIME-WAIT has no owner (uid 0) */
    return uid == geteuid() || uid == p->start_uid ? DOTRELAY_PEER_OWN : DOTRELAY_PEER_FOREIGN;
}

/* dotrelay_peer_close - release the question; a closed or never-opened one is fine. */
void dotrelay_peer_close(dotrelay_peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}
