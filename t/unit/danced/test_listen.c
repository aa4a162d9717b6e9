/*
 * test_listen.c - unit tests for danced/listen.c: listening sockets and
 * the set of open connections, on a real event loop with real sockets.
 *
 * Covered: a bad endpoint is refused naming the key; a unix socket gets
 * its mode, refuses a live socket or a plain file at its path, clears a
 * stale one, and is removed by listen_free(); an inet socket on loopback
 * names its peers "address:port"; at the connection limit accepting
 * pauses (the next client waits in the backlog) and resumes when a
 * connection closes or the limit is raised; stopping closes the
 * listener, drain asks every connection to finish and the face's drained
 * callback runs once, when the last one is gone; close_all closes every
 * connection at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/config.h"
#include "danced/dlog.h"
#include "danced/listen.h"

#define CONNS_MAX 8

/* One accepted connection as a face would keep it. */
typedef struct tconn {
    listen_conn link;               /* first */
    int fd;
    bool drain_asked;
} tconn;

/* The test's face: what the listener handed over and asked. */
typedef struct tface {
    listener *srv;
    tconn *conn[CONNS_MAX];
    size_t n;                       /* accepted so far */
    int drained;                    /* drained callback calls */
    bool close_on_drain;            /* idle connections close when asked to drain */
    char last_peer[LISTEN_PEER_MAX];
} tface;

static void tconn_gone(tface *f, tconn *c)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->conn[i] == c)
            f->conn[i] = NULL;
    close(c->fd);
    listen_conn_gone(f->srv, &c->link);
    free(c);
}

static tface *the_face;             /* the ops get only the link */

static void tconn_drain(listen_conn *l)
{
    tconn *c = (tconn *) (void *) l;

    c->drain_asked = true;
    if (the_face->close_on_drain)
        tconn_gone(the_face, c);
}

static void tconn_close(listen_conn *l)
{
    tconn_gone(the_face, (tconn *) (void *) l);
}

static const listen_conn_ops tconn_ops = { tconn_drain, tconn_close };

static void tface_accept(void *arg, int fd, const char *peer)
{
    tface *f = arg;
    tconn *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    assert_true(f->n < CONNS_MAX);
    c->fd = fd;
    f->conn[f->n++] = c;
    snprintf(f->last_peer, sizeof(f->last_peer), "%s", peer);
    listen_conn_add(f->srv, &c->link, &tconn_ops);
}

static void tface_drained(void *arg)
{
    ((tface *) arg)->drained++;
}

/* spin - run the loop without blocking a few times (accepts happen here). */
static void spin(struct event_base *base)
{
    for (int i = 0; i < 20; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A fresh directory for socket files, and the loop and log the listener needs. */
typedef struct bed {
    char dir[64];
    char path[128];
    char endpoint[160];
    struct event_base *base;
    dlog log;
    tface face;
} bed;

static int setup(void **state)
{
    bed *b = calloc(1, sizeof(*b));

    assert_non_null(b);
    snprintf(b->dir, sizeof(b->dir), "/tmp/test_listen.XXXXXX");
    assert_non_null(mkdtemp(b->dir));
    snprintf(b->path, sizeof(b->path), "%s/s", b->dir);
    snprintf(b->endpoint, sizeof(b->endpoint), "unix:%s", b->path);
    assert_non_null(b->base = event_base_new());
    dlog_init(&b->log, true, LOG_MAIL, CONFIG_LOG_TEXT);
    the_face = &b->face;
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    bed *b = *state;

    unlink(b->path);
    rmdir(b->dir);
    event_base_free(b->base);
    dlog_close(&b->log);
    free(b);
    return 0;
}

/* start - open b's unix endpoint and start it with limit max. */
static void start(bed *b, size_t max)
{
    char err[512];
    listen_face lf = { "test", tface_accept, &b->face, tface_drained, &b->face };

    if (listen_open("test_socket", b->endpoint, 0660, "", &b->face.srv, err, sizeof(err)) != LISTEN_OK)
        fail_msg("listen_open: %s", err);
    listen_start(b->face.srv, b->base, &b->log, &lf, max);
}

static void test_bad_endpoints(void **state)
{
    bed *b = *state;
    char err[512], text[200];
    listener *l = NULL;
    int fd;

    assert_int_equal(listen_open("policy_socket", "tcp:127.0.0.1:1", 0660, "", &l, err, sizeof(err)),
                     LISTEN_BAD_ENDPOINT);
    assert_non_null(strstr(err, "policy_socket"));
    /* a plain file where the socket should be */
    fd = open(b->path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(text, sizeof(text), "unix:%s", b->path);
    assert_int_equal(listen_open("milter_socket", text, 0660, "", &l, err, sizeof(err)), LISTEN_ENVIRONMENT);
    assert_non_null(strstr(err, b->path));
    unlink(b->path);
}

static void test_unix_socket_file(void **state)
{
    bed *b = *state;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    char err[512];
    listener *second = NULL;
    struct stat st;
    int stale;

    /* a stale socket (bound, its process gone) is cleared */
    stale = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", b->path);
    assert_int_equal(bind(stale, (struct sockaddr *) &sun, sizeof(sun)), 0);
    close(stale);
    start(b, 4);
    assert_int_equal(stat(b->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_string_equal(listen_endpoint(b->face.srv), b->endpoint);
    /* a live one is not taken over */
    assert_int_equal(listen_open("policy_socket", b->endpoint, 0660, "", &second, err, sizeof(err)),
                     LISTEN_ENVIRONMENT);
    listen_free(b->face.srv);
    assert_int_not_equal(stat(b->path, &st), 0);          /* removed */
}

static void test_inet_peer_names(void **state)
{
    bed *b = *state;
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);
    char err[512], text[64], want[64];
    listen_face lf = { "test", tface_accept, &b->face, tface_drained, &b->face };
    int probe = socket(AF_INET, SOCK_STREAM, 0), c;

    /* a free port on loopback */
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(probe, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(probe, (struct sockaddr *) &sin, &len), 0);
    close(probe);
    snprintf(text, sizeof(text), "inet:127.0.0.1:%u", ntohs(sin.sin_port));
    if (listen_open("policy_socket", text, 0660, "", &b->face.srv, err, sizeof(err)) != LISTEN_OK)
        fail_msg("listen_open: %s", err);
    listen_start(b->face.srv, b->base, &b->log, &lf, 4);
    c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *) &sin, sizeof(sin)), 0);
    len = sizeof(sin);
    assert_int_equal(getsockname(c, (struct sockaddr *) &sin, &len), 0);
    spin(b->base);
    assert_int_equal(b->face.n, 1);
    snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(sin.sin_port));
    assert_string_equal(b->face.last_peer, want);
    listen_close_all(b->face.srv);
    listen_free(b->face.srv);
    close(c);
}

/* At the limit the next client waits in the backlog; a close or a higher limit lets it in. */
static void test_limit_pause_resume(void **state)
{
    bed *b = *state;
    int c[4];

    start(b, 2);
    for (int i = 0; i < 4; i++)
        assert_true((c[i] = connect_unix(b->path)) >= 0);     /* the backlog takes them all */
    spin(b->base);
    assert_int_equal(b->face.n, 2);
    assert_int_equal(listen_connections(b->face.srv), 2);
    tconn_gone(&b->face, b->face.conn[0]);
    spin(b->base);
    assert_int_equal(b->face.n, 3);
    assert_int_equal(listen_connections(b->face.srv), 2);
    listen_set_max(b->face.srv, 3);
    spin(b->base);
    assert_int_equal(b->face.n, 4);
    assert_int_equal(listen_connections(b->face.srv), 3);
    listen_close_all(b->face.srv);
    assert_int_equal(listen_connections(b->face.srv), 0);
    assert_int_equal(b->face.drained, 0);                   /* not stopped: no drained call */
    listen_free(b->face.srv);
    for (int i = 0; i < 4; i++)
        close(c[i]);
}

/* Stop: no new clients; drain asks each connection; drained runs once, after the last. */
static void test_stop_drain(void **state)
{
    bed *b = *state;
    int c[3];

    start(b, 8);
    for (int i = 0; i < 3; i++)
        assert_true((c[i] = connect_unix(b->path)) >= 0);
    spin(b->base);
    assert_int_equal(b->face.n, 3);
    listen_stop(b->face.srv);
    assert_true(listen_stopped(b->face.srv));
    assert_int_equal(connect_unix(b->path), -1);           /* nobody listens any more */
    b->face.close_on_drain = false;                         /* all busy: they finish later */
    listen_drain(b->face.srv);
    for (int i = 0; i < 3; i++)
        assert_true(b->face.conn[i]->drain_asked);
    assert_int_equal(b->face.drained, 0);
    tconn_gone(&b->face, b->face.conn[0]);
    tconn_gone(&b->face, b->face.conn[1]);
    assert_int_equal(b->face.drained, 0);
    tconn_gone(&b->face, b->face.conn[2]);
    assert_int_equal(b->face.drained, 1);
    listen_free(b->face.srv);
    for (int i = 0; i < 3; i++)
        close(c[i]);
}

/* Idle connections close when asked to drain: drained runs from within the drain. */
static void test_drain_idle(void **state)
{
    bed *b = *state;
    int c[2];

    start(b, 8);
    for (int i = 0; i < 2; i++)
        assert_true((c[i] = connect_unix(b->path)) >= 0);
    spin(b->base);
    assert_int_equal(b->face.n, 2);
    listen_stop(b->face.srv);
    b->face.close_on_drain = true;
    listen_drain(b->face.srv);
    assert_int_equal(listen_connections(b->face.srv), 0);
    assert_int_equal(b->face.drained, 1);
    listen_free(b->face.srv);
    for (int i = 0; i < 2; i++)
        close(c[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_socket_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inet_peer_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_idle, setup, teardown),
    };

    return cmocka_run_group_tests_name("listen", tests, NULL, NULL);
}
