/*
 * startup.c - the process's identity and start-up steps.
 *
 * USAGE
 *	startup st = { .ready_fd = -1 };
 *	startup_lookup_ids(d, &st);	... the faces bind their sockets ...
 *	startup_nofile(d);
 *	startup_daemonize(d, &st);	(unless -f)
 *	startup_write_pid(d, &st);
 *	startup_drop_privileges(d, &st);
 *	... event loop, resolver, faces started ...
 *	startup_ready(&st);
 *
 * DESCRIPTION
 *	The order is main.c's (its comment gives the reasons): names are
 *	resolved and sockets bound while still root and on the terminal;
 *	the pid file is written after the fork (its pid) and before the
 *	privileges go (its directory is root's).  Dropping privileges is
 *	verified: the ids took effect and root cannot be regained.
 *
 *	Daemonizing keeps the starting process until the daemon is ready:
 *	it exits 0 on "R" from the pipe, or prints the daemon's fatal
 *	message ("F...") and exits 1 - so an init script or systemd
 *	Type=forking sees start-up failures.
 *
 *	The open-file limit: max_connections, milter_max_connections (each
 *	face's limit), the resolver's queries in flight (each holds a
 *	socket) and STARTUP_NOFILE_SPARE more.  A lower soft limit is
 *	raised towards the hard one; when even the hard limit is lower, a
 *	warning names the numbers and the fix, and the faces' limits are
 *	cut in proportion (danced_face_limits) - so that no face can take
 *	the descriptors of the other or of the resolver.
 *
 * DIAGNOSTICS
 *	"danced: fatal: ..." on stderr (or from the parent) and in the log,
 *	exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include "lib/resolver.h"
#include "danced_private.h"
#include "snapshot.h"
#include "startup.h"

#define STARTUP_NOFILE_SPARE 256     /* descriptors beyond connections and DNS: listeners, log, ... */
#define STARTUP_DNS_FDS (RESOLVER_OUTGOING_RANGE + RESOLVER_OUTGOING_NUM_TCP)

static bool startup_empty(const char *s)
{
    return s == NULL || *s == '\0';
}

/* startup_fatal - bad environment at start-up: say so where it can be seen and exit 1. */
void startup_fatal(const danced *d, const startup *st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d->log.to_stderr || !st->detached)
        fprintf(stderr, "danced: fatal: %s\n", msg);
    if (!d->log.to_stderr)
        dlog_msg(&d->log, LOG_CRIT, "fatal: %s", msg);
    if (st->ready_fd >= 0) {            /* the waiting parent prints it */
        char line[1100];
        int len = snprintf(line, sizeof(line), "F%s", msg);

        (void) !write(st->ready_fd, line, (size_t) len < sizeof(line) ? (size_t) len : sizeof(line) - 1);
    }
    exit(1);
}

/* startup_panic_to_syslog - a broken invariant's last words, where the operator looks. */
void startup_panic_to_syslog(const char *msg)
{
    syslog(LOG_CRIT, "%s", msg);
}

/* startup_lookup_ids - resolve user and group names before anything changes. */
void startup_lookup_ids(const danced *d, startup *st)
{
    const dance_config *cfg = &d->snap->cfg;
    struct passwd *pw;
    struct group *gr;

    if (!startup_empty(cfg->user)) {
        if ((pw = getpwnam(cfg->user)) == NULL)
            startup_fatal(d, st, "user: no such user \"%s\"", cfg->user);
        if (pw->pw_uid == 0)
            startup_fatal(d, st, "user: \"%s\" has user id 0: danced must not run as root", cfg->user);
        st->set_user = true;
        st->uid = pw->pw_uid;
        st->gid = pw->pw_gid;
        snprintf(st->user, sizeof(st->user), "%s", cfg->user);
    }
    if (!startup_empty(cfg->group)) {
        if ((gr = getgrnam(cfg->group)) == NULL)
            startup_fatal(d, st, "group: no such group \"%s\"", cfg->group);
        st->set_group = true;
        st->gid = gr->gr_gid;
    }
}

/* startup_drop_privileges - become user/group for good, or refuse to run. */
void startup_drop_privileges(const danced *d, const startup *st)
{
    if (!st->set_user && !st->set_group) {
        if (geteuid() == 0)
            dlog_msg(&d->log, LOG_WARNING, "running as root: set user (and group) in %s",
                     d->config_path);
        return;
    }
    if (geteuid() != 0) {
        /* Not root: fine only when we already are exactly what was asked for. */
        if ((st->set_user && (getuid() != st->uid || geteuid() != st->uid))
            || getgid() != st->gid || getegid() != st->gid)
            startup_fatal(d, st, "cannot switch to %s%s%s: not started as root",
                          st->set_user ? "user " : "", st->set_user ? st->user : "",
                          st->set_group ? " / the configured group" : "");
        return;
    }
    if (st->set_user) {
        if (initgroups(st->user, st->gid) != 0)
            startup_fatal(d, st, "initgroups(%s): %s", st->user, strerror(errno));
    } else if (setgroups(1, &st->gid) != 0) {
        startup_fatal(d, st, "setgroups: %s", strerror(errno));
    }
    if (setgid(st->gid) != 0)
        startup_fatal(d, st, "setgid(%lu): %s", (unsigned long) st->gid, strerror(errno));
    if (st->set_user && setuid(st->uid) != 0)
        startup_fatal(d, st, "setuid(%lu): %s", (unsigned long) st->uid, strerror(errno));
    if (getgid() != st->gid || getegid() != st->gid)
        startup_fatal(d, st, "group switch did not take effect");
    if (st->set_user) {
        if (getuid() != st->uid || geteuid() != st->uid)
            startup_fatal(d, st, "user switch to %s did not take effect", st->user);
        if (st->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
            startup_fatal(d, st, "could regain root after switching to %s", st->user);
    }
}

/* startup_daemonize - fork into the background; the parent waits for "ready" and exits. */
void startup_daemonize(const danced *d, startup *st)
{
    int pfd[2], null;
    pid_t pid;
    char msg[1100];
    size_t got = 0;
    ssize_t n;

    if (pipe(pfd) != 0)
        startup_fatal(d, st, "pipe: %s", strerror(errno));
    if ((pid = fork()) < 0)
        startup_fatal(d, st, "fork: %s", strerror(errno));
    if (pid > 0) {
        close(pfd[1]);
        while (got < sizeof(msg) - 1 && ((n = read(pfd[0], msg + got, sizeof(msg) - 1 - got)) > 0
                                         || (n < 0 && errno == EINTR)))
            got += n > 0 ? (size_t) n : 0;
        msg[got] = '\0';
        if (got > 0 && msg[0] == 'R')
            _exit(0);
        if (got > 1 && msg[0] == 'F')
            fprintf(stderr, "danced: fatal: %s\n", msg + 1);
        else
            fprintf(stderr, "danced: start-up failed (see the mail log)\n");
        _exit(1);
    }
    close(pfd[0]);
    st->ready_fd = pfd[1];
    if (setsid() < 0)
        startup_fatal(d, st, "setsid: %s", strerror(errno));
    if (chdir("/") != 0)
        startup_fatal(d, st, "chdir /: %s", strerror(errno));
    if ((null = open("/dev/null", O_RDWR)) < 0)
        startup_fatal(d, st, "/dev/null: %s", strerror(errno));
    st->detached = true;
    (void) dup2(null, 0);
    (void) dup2(null, 1);
    (void) dup2(null, 2);
    if (null > 2)
        close(null);
}

/* startup_write_pid - write pid_file (after daemonizing, before dropping privileges). */
void startup_write_pid(const danced *d, startup *st)
{
    char buf[32];
    int fd, len;

    if (startup_empty(d->snap->cfg.pid_file))
        return;
    snprintf(st->pid_file, sizeof(st->pid_file), "%s", d->snap->cfg.pid_file);
    if ((fd = open(st->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
        startup_fatal(d, st, "pid_file %s: %s", st->pid_file, strerror(errno));
    len = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
    if (write(fd, buf, (size_t) len) != len || close(fd) != 0)
        startup_fatal(d, st, "pid_file %s: write failed", st->pid_file);
}

/* startup_ready - tell the waiting parent that start-up succeeded. */
void startup_ready(startup *st)
{
    if (st->ready_fd < 0)
        return;
    (void) !write(st->ready_fd, "R", 1);
    close(st->ready_fd);
    st->ready_fd = -1;
}

/* startup_nofile_warn - even the hard limit is too low: cut the faces' limits and say so. */
static void startup_nofile_warn(danced *d, const struct rlimit *rl, unsigned long need, const char *faces)
{
    const unsigned long reserved = STARTUP_DNS_FDS + STARTUP_NOFILE_SPARE;
    size_t max[DANCED_FACES_MAX];
    char cut[160] = "";
    size_t n = 0;

    /* the resolver and the spare keep their share, the faces divide the rest - at least
       half of all, since the resolver rarely has all its queries in flight at once */
    d->conn_budget = (size_t) (rl->rlim_cur > 2 * reserved ? rl->rlim_cur - reserved : rl->rlim_cur / 2);
    if (d->conn_budget < 2)
        d->conn_budget = 2;
    danced_face_limits(d, &d->snap->cfg, max);
    for (size_t i = 0; i < d->nfaces && n < sizeof(cut); i++) {
        int w = snprintf(cut + n, sizeof(cut) - n, "%s%zu %s", i == 0 ? "" : " and ", max[i],
                         d->faces[i].ops->name);

        n += w > 0 ? (size_t) w : 0;
    }
    dlog_msg(&d->log, LOG_WARNING, "open-file limit %lu (hard limit %lu) is below the %lu that "
             "%s%d DNS queries in flight and %d spare need: raise it (systemd: LimitNOFILE=, shell: "
             "ulimit -n) or lower the connection limits; until then the faces take at most "
             "%s connections", (unsigned long) rl->rlim_cur, (unsigned long) rl->rlim_max, need, faces,
             STARTUP_DNS_FDS, STARTUP_NOFILE_SPARE, cut);
}

/* startup_nofile - make the open-file limit hold the faces, the resolver and a spare. */
void startup_nofile(danced *d)
{
    const dance_config *cfg = &d->snap->cfg;
    unsigned long need = STARTUP_DNS_FDS + STARTUP_NOFILE_SPARE, was;
    struct rlimit rl;
    char faces[160] = "";
    size_t n = 0;

    for (size_t i = 0; i < d->nfaces && n < sizeof(faces); i++) {
        size_t lim = d->faces[i].ops->limit(cfg);
        int w = snprintf(faces + n, sizeof(faces) - n, "%s %zu, ", d->faces[i].ops->limit_key, lim);

        n += w > 0 ? (size_t) w : 0;
        need += (unsigned long) lim;
    }
    d->conn_budget = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return;
    was = (unsigned long) rl.rlim_cur;
    rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) ? need : rl.rlim_max;
    if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = was;
    if (rl.rlim_cur >= need) {
        dlog_msg(&d->log, LOG_INFO, "open-file limit raised from %lu to %lu (%s%d DNS queries in flight, "
                 "%d spare)", was, need, faces, STARTUP_DNS_FDS, STARTUP_NOFILE_SPARE);
        return;
    }
    startup_nofile_warn(d, &rl, need, faces);
}
