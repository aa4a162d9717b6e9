/*
 * trivial.c - the cheapest possible policy service, as a benchmark baseline.
 *
 * USAGE
 *	cc -O2 -Wall -Wextra -o trivial bench/trivial.c
 *	./trivial PORT			(listens on 127.0.0.1:PORT)
 *
 * DESCRIPTION
 *	Answers "action=DUNNO" to every request without parsing it: it only
 *	looks for the empty line that ends a request ("\n\n").  One thread,
 *	epoll, non-blocking sockets, a reply written as soon as a request is
 *	complete - the protocol's ceiling on this machine, against which
 *	bench/run.sh measures danced.  Not a policy service for anything else.
 *	Runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TRIVIAL_EVENTS 256
#define TRIVIAL_CHUNK 16384

/* Per connection: whether the last byte read was a newline (a request may end across reads). */
static unsigned char trivial_nl[65536];

int main(int argc, char **argv)
{
    static const char reply[] = "action=DUNNO\n\n";
    struct epoll_event ev, events[TRIVIAL_EVENTS];
    struct sockaddr_in sa;
    char buf[TRIVIAL_CHUNK];
    int lfd, ep, on = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: trivial PORT\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short) atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0
        || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0
        || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) != 0 || listen(lfd, 511) != 0
        || (ep = epoll_create1(0)) < 0) {
        perror("trivial");
        return 1;
    }
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, events, TRIVIAL_EVENTS, -1);

        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;

            if (fd == lfd) {
                int c;

                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= (int) sizeof(trivial_nl)) {
                        close(c);
                        continue;
                    }
                    trivial_nl[c] = 0;
                    ev.events = EPOLLIN;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            for (;;) {
                ssize_t got = read(fd, buf, sizeof(buf));
                int replies = 0;

                if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                    close(fd);
                    break;
                }
                if (got < 0)
                    break;
                for (ssize_t k = 0; k < got; k++) {
                    if (buf[k] == '\n') {
                        replies += trivial_nl[fd];
                        trivial_nl[fd] = !trivial_nl[fd];   /* "\n\n" ends one request */
                    } else if (buf[k] != '\r') {
                        trivial_nl[fd] = 0;
                    }
                }
                for (int r = 0; r < replies; r++)
                    if (write(fd, reply, sizeof(reply) - 1) < 0)
                        break;
                if (got < (ssize_t) sizeof(buf))
                    break;
            }
        }
    }
}
