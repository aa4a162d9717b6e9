/*
 * notify.h - telling systemd (Type=notify) what danced is doing.
 *
 *	notify_ready("ready on ...");        once serving; again after a reload
 *	notify_reloading();                  SIGHUP taken: RELOADING=1, MONOTONIC_USEC
 *	notify_stopping();                   SIGTERM taken: STOPPING=1
 *	notify_status("...");                a one-line summary for `systemctl status`
 *
 * Each is a no-op when danced was built without libsystemd or runs
 * without NOTIFY_SOCKET (not under systemd).
 */
#ifndef DANCE_DANCED_NOTIFY_H
#define DANCE_DANCED_NOTIFY_H

#include <stdbool.h>

/* notify_enabled - true when there is someone to tell (built with libsystemd, NOTIFY_SOCKET set). */
bool notify_enabled(void);

/* notify_ready - READY=1 with STATUS=status. */
void notify_ready(const char *status);

/* notify_reloading - RELOADING=1 with the monotonic time, as systemd's reload protocol wants it. */
void notify_reloading(void);

/* notify_stopping - STOPPING=1. */
void notify_stopping(void);

/* notify_status - STATUS=status. */
void notify_status(const char *status);

#endif
