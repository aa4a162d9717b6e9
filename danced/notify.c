/*
 * notify.c - systemd's service notification protocol, through libsystemd's
 * sd_notify (see notify.h for when each message goes).
 *
 * With a Type=notify unit systemd waits for READY=1 before it counts the
 * service as started: danced sends it once its sockets are bound, its
 * privileges dropped and its faces accepting.  A reload is RELOADING=1
 * with MONOTONIC_USEC (the clock systemd compares with its own, so a
 * "systemctl reload" waits for this very reload), then READY=1 when the
 * new configuration is in force or the old one kept.  STOPPING=1 when a
 * stop begins.  Built without libsystemd (configure --without-systemd),
 * every function does nothing.
 */
#include <stdlib.h>
#include <time.h>

#include "dance_build.h"
#include "notify.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* notify_enabled - true when there is someone to tell. */
bool notify_enabled(void)
{
#ifdef HAVE_SYSTEMD
    const char *s = getenv("NOTIFY_SOCKET");

    return s != NULL && s[0] != '\0';
#else
    return false;
#endif
}

/* notify_ready - READY=1 with a status line. */
void notify_ready(const char *status)
{
#ifdef HAVE_SYSTEMD
    if (notify_enabled())
        (void) sd_notifyf(0, "READY=1\nSTATUS=%s", status);
#else
    (void) status;
#endif
}

/* notify_reloading - RELOADING=1 and MONOTONIC_USEC=now. */
void notify_reloading(void)
{
#ifdef HAVE_SYSTEMD
    struct timespec ts;

    if (!notify_enabled() || clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return;
    (void) sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                      (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000ULL);
#endif
}

/* notify_stopping - STOPPING=1. */
void notify_stopping(void)
{
#ifdef HAVE_SYSTEMD
    if (notify_enabled())
        (void) sd_notify(0, "STOPPING=1\nSTATUS=stopping");
#endif
}

/* notify_status - STATUS=status. */
void notify_status(const char *status)
{
#ifdef HAVE_SYSTEMD
    if (notify_enabled())
        (void) sd_notifyf(0, "STATUS=%s", status);
#else
    (void) status;
#endif
}
