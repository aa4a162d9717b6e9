/*
 * activation.c - taking over the listening sockets systemd passes
 * (LISTEN_FDS, LISTEN_PID; sd_listen_fds(3)).
 *
 * listen_open() asks here before it binds: a passed socket of the same
 * address (unix path, or IP address and port) is used as it is - systemd
 * owns it, chose its mode and group, and keeps it open while danced
 * restarts, so connections queue in its backlog instead of being
 * refused.  The listeners count what they took (listen_inherited), and a
 * passed socket that no configured endpoint matches is a start-up error:
 * it means the .socket unit and dance.conf disagree, and silently serving
 * on one of them would leave the MTA talking to nobody.
 *
 * Built without libsystemd, nothing is ever taken, and a LISTEN_FDS
 * meant for this process is a start-up error saying so.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dance_build.h"
#include "activation.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

/* activation_claim - a taken socket: non-blocking like the ones danced binds. */
static int activation_claim(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        (void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return fd;
}

/* activation_take_unix - the inherited socket bound to path, or -1. */
int activation_take_unix(const char *path)
{
    int n = sd_listen_fds(0);

    for (int fd = SD_LISTEN_FDS_START; n > 0 && fd < SD_LISTEN_FDS_START + n; fd++)
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, path, 0) > 0)
            return activation_claim(fd);
    return -1;
}

/* activation_take_sockaddr - the inherited socket bound to sa, or -1. */
int activation_take_sockaddr(const struct sockaddr *sa, socklen_t salen)
{
    int n = sd_listen_fds(0);

    for (int fd = SD_LISTEN_FDS_START; n > 0 && fd < SD_LISTEN_FDS_START + n; fd++)
        if (sd_is_socket_sockaddr(fd, SOCK_STREAM, sa, salen, 1) > 0)
            return activation_claim(fd);
    return -1;
}

/* activation_check - were all passed sockets taken?  Then forget the environment. */
bool activation_check(size_t taken, char *err, size_t errsize)
{
    int n = sd_listen_fds(1);           /* unsets LISTEN_FDS: nothing we start inherits them */

    if (n <= 0 || (size_t) n == taken)
        return true;
    snprintf(err, errsize, "systemd passed %d listening socket%s, and %zu of them match%s no "
             "policy_socket, milter_socket or stats_socket of the configuration: make the .socket unit's "
             "ListenStream= and dance.conf name the same addresses", n, n == 1 ? "" : "s",
             (size_t) n - taken, (size_t) n - taken == 1 ? "es" : "");
    return false;
}

#else /* !HAVE_SYSTEMD */

/* activation_take_unix - never: built without systemd support. */
int activation_take_unix(const char *path)
{
    (void) path;
    return -1;
}

/* activation_take_sockaddr - never: built without systemd support. */
int activation_take_sockaddr(const struct sockaddr *sa, socklen_t salen)
{
    (void) sa;
    (void) salen;
    return -1;
}

/* activation_check - a LISTEN_FDS meant for us cannot be honoured. */
bool activation_check(size_t taken, char *err, size_t errsize)
{
    (void) taken;
    const char *pid = getenv("LISTEN_PID");

    if (getenv("LISTEN_FDS") == NULL || pid == NULL || atol(pid) != (long) getpid())
        return true;
    snprintf(err, errsize, "systemd passed listening sockets (LISTEN_FDS), but this danced was "
             "built without systemd support (configure --with-systemd): let danced bind its "
             "sockets, or rebuild it");
    return false;
}

#endif
