/*
 * dnsdelay.c - a DNS proxy on loopback that adds a fixed delay to every query.
 *
 * USAGE
 *	cc -O2 -Wall -Wextra -o dnsdelay bench/dnsdelay.c
 *	./dnsdelay PORTFILE UPSTREAM_PORT DELAY_MS
 *
 * DESCRIPTION
 *	bench/run.sh gives its cold-verification runs (K) a wide-area round
 *	trip with this: loopback answers in well under a millisecond, which
 *	would hide whether danced overlaps its look-ups.  Every UDP query
 *	received on 127.0.0.1:PORT (a free port, written to PORTFILE) is
 *	held DELAY_MS milliseconds, then sent to 127.0.0.1:UPSTREAM_PORT
 *	(nsd) from one socket under a DNS ID of the proxy's own; the answer
 *	goes back to the asker under its own ID.  One thread, poll(2); the
 *	delay is the same for all, so held queries form a FIFO.  UDP only:
 *	a query the resolver retries over TCP finds no listener and fails
 *	visibly (the bench's answers are small).  At most DELAY_HELD queries
 *	are held and DELAY_IDS in flight upstream; beyond that a query is
 *	dropped (the resolver retries), never stored out of bounds.  Runs
 *	until killed.  Written in C because a Python proxy took half a CPU
 *	at 1300 queries a second on the 2-CPU bench machine.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DELAY_HELD 8192               /* queries waiting for their delay */
#define DELAY_IDS 65536               /* upstream DNS IDs */
#define DELAY_MSG 4096                /* largest datagram relayed */

/* A query held for its delay. */
typedef struct held {
    long long due_ms;
    struct sockaddr_in from;
    size_t len;
    unsigned char msg[DELAY_MSG];
} held;

/* Who asked under an upstream ID. */
typedef struct asker {
    struct sockaddr_in from;
    unsigned char id[2];
    int used;
} asker;

/* now_ms - the monotonic clock in milliseconds. */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* udp_socket - a UDP socket on 127.0.0.1:port (0: any free port). */
static int udp_socket(unsigned short port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        perror("dnsdelay: socket");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    static held q[DELAY_HELD];
    static asker who[DELAY_IDS];
    struct sockaddr_in up, sa;
    socklen_t salen = sizeof(sa);
    size_t head = 0, count = 0;
    unsigned next_id = 0;
    long delay;
    int down, upfd;
    FILE *f;
    char tmp[4096];

    if (argc != 4 || (delay = atol(argv[3])) < 0 || atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535) {
        fprintf(stderr, "usage: dnsdelay PORTFILE UPSTREAM_PORT DELAY_MS\n");
        return 64;
    }
    down = udp_socket(0);
    upfd = udp_socket(0);
    memset(&up, 0, sizeof(up));
    up.sin_family = AF_INET;
    up.sin_port = htons((unsigned short) atoi(argv[2]));
    up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (getsockname(down, (struct sockaddr *) &sa, &salen) != 0
        || snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= (int) sizeof(tmp)
        || (f = fopen(tmp, "w")) == NULL) {
        perror("dnsdelay: port file");
        return 1;
    }
    fprintf(f, "%u\n", ntohs(sa.sin_port));
    if (fclose(f) != 0 || rename(tmp, argv[1]) != 0) {
        perror("dnsdelay: port file");
        return 1;
    }
    for (;;) {
        struct pollfd pfd[2] = { { down, POLLIN, 0 }, { upfd, POLLIN, 0 } };
        long long now = now_ms();
        int wait = -1;
        unsigned char buf[DELAY_MSG];
        ssize_t n;

        /* send what is due */
        while (count > 0 && q[head].due_ms <= now) {
            held *h = &q[head];
            asker *a = &who[next_id];

            a->from = h->from;
            memcpy(a->id, h->msg, 2);
            a->used = 1;
            h->msg[0] = (unsigned char) (next_id >> 8);
            h->msg[1] = (unsigned char) (next_id & 0xff);
            next_id = (next_id + 1) % DELAY_IDS;   /* the oldest asker is forgotten */
            (void) sendto(upfd, h->msg, h->len, 0, (struct sockaddr *) &up, sizeof(up));
            head = (head + 1) % DELAY_HELD;
            count--;
        }
        if (count > 0)
            wait = (int) (q[head].due_ms - now);
        if (poll(pfd, 2, wait) < 0 && errno != EINTR) {
            perror("dnsdelay: poll");
            return 1;
        }
        /* new queries: hold them */
        while ((salen = sizeof(sa)), (n = recvfrom(down, buf, sizeof(buf), 0, (struct sockaddr *) &sa, &salen)) >= 0) {
            held *h;

            if (n < 12 || count == DELAY_HELD)
                continue;       /* not DNS, or too many held: dropped */
            h = &q[(head + count) % DELAY_HELD];
            h->due_ms = now_ms() + delay;
            h->from = sa;
            h->len = (size_t) n;
            memcpy(h->msg, buf, (size_t) n);
            count++;
        }
        /* answers: back to whoever asked under that ID */
        while ((n = recv(upfd, buf, sizeof(buf), 0)) >= 0) {
            asker *a;

            if (n < 12)
                continue;
            a = &who[(buf[0] << 8) | buf[1]];
            if (!a->used)
                continue;
            memcpy(buf, a->id, 2);
            a->used = 0;
            (void) sendto(down, buf, (size_t) n, 0, (struct sockaddr *) &a->from, sizeof(a->from));
        }
    }
}
