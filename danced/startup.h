/*
 * startup.h - the process's identity and start-up steps: user and group,
 * privileges, the background, the pid file, the open-file limit.
 *
 * Each step that meets a bad environment ends the process with
 * startup_fatal(): a message on the terminal (or, once detached, to the
 * waiting parent, which prints it) and in the log, and exit status 1.
 */
#ifndef DANCE_DANCED_STARTUP_H
#define DANCE_DANCED_STARTUP_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct danced danced;

/* What start-up learned and keeps around the daemon context. */
typedef struct startup {
    bool foreground;            /* -f: stay in the foreground, log to stderr */
    bool detached;              /* stdio is /dev/null: errors only reach the log */
    int ready_fd;               /* pipe to the waiting parent, or -1 */
    bool set_user, set_group;   /* user / group configured */
    uid_t uid;
    gid_t gid;
    char user[256];
    char pid_file[4096];        /* as written; "" when none */
} startup;

/* startup_fatal - bad environment at start-up: say so where it can be seen and exit 1. */
void startup_fatal(const danced *d, const startup *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* startup_lookup_ids - resolve user and group names (step 2, before anything changes). */
void startup_lookup_ids(const danced *d, startup *st);

/*
 * startup_nofile - make the open-file limit hold the registered faces'
 * connection limits, the resolver's queries in flight and a spare (step 2,
 * the faces are open); sets d's connection budget when even the hard
 * limit is too low.
 */
void startup_nofile(danced *d);

/* startup_daemonize - fork into the background; the parent waits for startup_ready() and exits. */
void startup_daemonize(const danced *d, startup *st);

/* startup_write_pid - write pid_file (after daemonizing, before dropping privileges). */
void startup_write_pid(const danced *d, startup *st);

/* startup_drop_privileges - become user/group for good, or refuse to run. */
void startup_drop_privileges(const danced *d, const startup *st);

/* startup_ready - tell the waiting parent that start-up succeeded. */
void startup_ready(startup *st);

/* startup_panic_to_syslog - a broken invariant's last words (panic.h's sink once in the background). */
void startup_panic_to_syslog(const char *msg);

#endif
