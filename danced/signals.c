/*
 * signals.c - signals to the event loop.
 *
 * USAGE
 *	if (!signals_install(d, &ev)) fatal;	(once the loop exists)
 *	... event_free(ev) at the end
 *
 * DESCRIPTION
 *	The handler only writes the signal number into a pipe that the
 *	event loop reads; it is installed with SA_NODEFER and an empty
 *	mask, so no burst of signals finds one blocked.  On the loop, any
 *	number of SIGHUPs in one read reloads once (reload.c); SIGTERM or
 *	SIGINT stops (danced_stop: drain, then exit; a second one stops at
 *	once).  A stop wins over a reload in the same read.  systemd hears
 *	of each (notify.h): STOPPING=1; RELOADING=1, then READY=1 whether
 *	the new configuration took or the old one was kept.
 *
 *	A signal handler gets no context: the pipe's write end is the one
 *	global, set once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "danced_private.h"
#include "notify.h"
#include "signals.h"

static int signals_fd = -1;

/* signals_on_signal - the handler: pass the signal number on to the loop. */
static void signals_on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char) sig;

    (void) !write(signals_fd, &b, 1);
    errno = saved;
}

/* signals_on_pipe - (loop) the signals that arrived: reload once for any SIGHUP, stop for TERM/INT. */
static void signals_on_pipe(evutil_socket_t fd, short what, void *arg)
{
    danced *d = arg;
    unsigned char buf[64];
    bool hup = false;
    int stop = 0;
    ssize_t n;

    (void) what;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGHUP)
                hup = true;
            else if (stop == 0)
                stop = buf[i];
        }
    }
    if (stop != 0) {
        notify_stopping();
        danced_stop(d, stop);
    } else if (hup && !d->draining) {
        notify_reloading();
        danced_notify_ready(d, danced_reload(d) ? "configuration reloaded"
                                                : "reload refused, running configuration kept");
    }
}

/* signals_install - install the handlers and the pipe's event. */
bool signals_install(danced *d, struct event **ev)
{
    static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
    struct sigaction sa;
    int p[2];

    if (pipe(p) != 0)
        return false;
    for (int i = 0; i < 2; i++)
        if (fcntl(p[i], F_SETFL, O_NONBLOCK) != 0 || fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0)
            return false;
    signals_fd = p[1];
    if ((*ev = event_new(d->base, p[0], EV_READ | EV_PERSIST, signals_on_pipe, d)) == NULL
        || event_add(*ev, NULL) != 0)
        return false;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = signals_on_signal;
    sa.sa_flags = SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return false;
    return true;
}
