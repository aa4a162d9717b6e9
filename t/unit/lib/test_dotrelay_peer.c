/*
 * test_dotrelay_peer.c - unit tests for lib/dotrelay_peer.c: whose is the
 * socket at the other end of a connection to the DNS over TLS relay?
 *
 * Real sockets on 127.0.0.1 and the kernel's own answers (no mock):
 * dotrelay_peer_init() finds a listening socket of this process and fails
 * with a message naming the port when nothing listens there; a connection
 * from this process is OWN; one whose client has closed (FIN-WAIT or
 * TIME-WAIT, where the kernel reports uid 0) and a port nobody uses are
 * GONE; a connection from a child that became "nobody" (uid 65534) is
 * FOREIGN (run as root only; skipped otherwise).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "lib/dotrelay_peer.h"

/* listen_loopback - a listening socket on 127.0.0.1, any port; its port in *port. */
static int listen_loopback(unsigned *port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* connect_loopback - a client socket connected to 127.0.0.1:port. */
static int connect_loopback(unsigned port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    return fd;
}

/* accept_peer - accept one connection on lfd; the peer's address in *peer. */
static int accept_peer(int lfd, struct sockaddr_in *peer)
{
    socklen_t len = sizeof(*peer);
    int fd = accept(lfd, (struct sockaddr *) peer, &len);

    assert_true(fd >= 0);
    return fd;
}

/* A relay's side: its listening socket and its question (the fixture of the tests below). */
typedef struct relay_side {
    dotrelay_peer p;
    unsigned port;
    int lfd;
} relay_side;

/* relay_setup - listen on 127.0.0.1 and open the question for that port. */
static int relay_setup(void **state)
{
    relay_side *r = calloc(1, sizeof(*r));
    char err[256] = "";

    assert_non_null(r);
    r->lfd = listen_loopback(&r->port);
    assert_true(dotrelay_peer_init(&r->p, r->port, err, sizeof(err)));
    assert_true(r->p.fd >= 0);
    *state = r;
    return 0;
}

/* relay_teardown - close the question (twice is fine) and the listening socket. */
static int relay_teardown(void **state)
{
    relay_side *r = *state;

    dotrelay_peer_close(&r->p);
    assert_int_equal(r->p.fd, -1);
    dotrelay_peer_close(&r->p);
    close(r->lfd);
    free(r);
    return 0;
}

static void test_own(void **state)
{
    relay_side *r = *state;
    struct sockaddr_in peer;
    int cfd = connect_loopback(r->port), afd = accept_peer(r->lfd, &peer);

    assert_int_equal(dotrelay_peer_check(&r->p, &peer), DOTRELAY_PEER_OWN);
    assert_int_equal(dotrelay_peer_check(&r->p, &peer), DOTRELAY_PEER_OWN);   /* asked again: same */
    close(afd);
    close(cfd);
}

static void test_gone(void **state)
{
    relay_side *r = *state;
    struct sockaddr_in peer, nobody;
    int cfd = connect_loopback(r->port), afd = accept_peer(r->lfd, &peer);

    close(cfd);                 /* the client is closing: FIN-WAIT, then TIME-WAIT */
    assert_int_equal(dotrelay_peer_check(&r->p, &peer), DOTRELAY_PEER_GONE);
    nobody = peer;
    nobody.sin_port = htons(1);  /* no socket 127.0.0.1:1 -> the relay */
    assert_int_equal(dotrelay_peer_check(&r->p, &nobody), DOTRELAY_PEER_GONE);
    nobody.sin_family = AF_INET6;
    assert_int_equal(dotrelay_peer_check(&r->p, &nobody), DOTRELAY_PEER_FOREIGN);
    close(afd);
}

static void test_foreign(void **state)
{
    relay_side *r = *state;
    struct sockaddr_in peer;
    char c = 0;
    int afd, go[2], status;
    pid_t pid;

    if (geteuid() != 0)
        skip();                 /* another user's socket needs a child that can become one */
    assert_int_equal(pipe(go), 0);
    if ((pid = fork()) == 0) {
        int fd;

        close(go[1]);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        fd = connect_loopback(r->port);
        (void) read(go[0], &c, 1);  /* hold the connection until the parent has asked */
        close(fd);
        _exit(0);
    }
    assert_true(pid > 0);
    close(go[0]);
    afd = accept_peer(r->lfd, &peer);
    assert_int_equal(dotrelay_peer_check(&r->p, &peer), DOTRELAY_PEER_FOREIGN);
    assert_int_equal(write(go[1], "x", 1), 1);
    close(go[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(afd);
}

static void test_init_nothing_listens(void **state)
{
    dotrelay_peer p;
    char err[256] = "", want[128];
    unsigned port;
    int lfd;

    (void) state;
    lfd = listen_loopback(&port);
    close(lfd);                 /* the port is free again: nothing listens there */
    assert_false(dotrelay_peer_init(&p, port, err, sizeof(err)));
    snprintf(want, sizeof(want), "who connects to 127.0.0.1:%u (NETLINK_SOCK_DIAG): its own socket was not found",
             port);
    assert_non_null(strstr(err, want));
    assert_int_equal(p.fd, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_own, relay_setup, relay_teardown),
        cmocka_unit_test_setup_teardown(test_gone, relay_setup, relay_teardown),
        cmocka_unit_test_setup_teardown(test_foreign, relay_setup, relay_teardown),
        cmocka_unit_test(test_init_nothing_listens),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
