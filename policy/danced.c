/*
 * danced.c - the dance daemon: DANE client authentication as a Postfix
 * policy service and a milter.
 *
 * USAGE
 *	danced [-f] [-c FILE]	run (default FILE: CONFIG_DEFAULT_FILE)
 *	danced -n [-c FILE]	check the configuration; exit 0 if valid,
 *				else print "FILE:LINE: KEY: problem", exit 1
 *	danced -V		print the version
 *
 *	-f stays in the foreground and logs to stderr (tests, systemd
 *	Type=simple); without it danced forks into the background, logs
 *	to syslog (log_facility), and the starting process exits 0 only
 *	once the daemon is ready to serve (1 if its start-up failed).
 *
 *	Postfix main.cf (the full, commented set is contrib/postfix/main.cf):
 *	    smtpd_tls_ask_ccert = yes
 *	    smtpd_tls_fingerprint_digest = sha256
 *	    dance_policy = { inet:127.0.0.1:10040, timeout=15s, default_action=DUNNO }
 *	    smtpd_relay_restrictions = permit_mynetworks,
 *	        check_policy_service $dance_policy, reject_unauth_destination
 *	    smtpd_data_restrictions = check_policy_service $dance_policy
 *	    smtpd_milters = { inet:127.0.0.1:10041, default_action=tempfail }
 *
 *	Signals: SIGHUP re-reads FILE (a bad file is logged and the running
 *	configuration kept); SIGTERM/SIGINT stop accepting on both faces,
 *	finish requests and messages in progress (at most dns_timeout +
 *	5 s), remove the pid file and exit 0.
 *
 * DESCRIPTION
 *	Two faces, either or both: the policy service (policy_socket;
 *	server.c, session.c) and the milter (milter_socket;
 *	milter/).  With both, the policy face records each message's
 *	DATA-stage verdicts in the join store and answers DUNNO; the
 *	milter writes the header from them.  Both faces run on one event
 *	loop in one thread; each has its own listener and connection limit
 *	(max_connections, milter_max_connections), and with peer_users set
 *	only root and those users' processes may connect (danced_admit).
 *
 *	Start-up order, each step for a reason:
 *	  1. read the configuration (errors on the terminal);
 *	  2. make room for max_connections and the resolver's queries in
 *	     flight in the open-file limit (the soft limit is raised towards
 *	     the hard one; a warning when even that is too low);
 *	     look up user/group, bind policy_socket and milter_socket
 *	     (needs root for low ports and socket directories; errors
 *	     still on the terminal);
 *	  3. daemonize (fork, setsid, chdir /, stdio to /dev/null);
 *	  4. write pid_file (still privileged);
 *	  5. drop privileges (setgroups/initgroups, setgid, setuid, verify;
 *	     refuse to run when user is set and cannot be switched to);
 *	  6. create the event base and the resolver - after the fork,
 *	     because the resolver starts a thread and libevent's backend
 *	     does not survive fork();
 *	  7. accept connections on both faces.
 *
 *	Reload keeps the listening sockets, user, group and pid file of
 *	the start (they need a restart; a change is logged); everything
 *	else takes effect for the next request.  Requests in progress keep
 *	the snapshot they started with.  When the resolver settings
 *	changed, a new resolver is created (failure: the reload is refused)
 *	and the old one keeps serving the look-ups it already has, then is
 *	freed - no request is cut off by a reload.
 *
 *	Stopping: both faces stop accepting; idle connections close, the
 *	others once their policy request or milter message is done, or
 *	at dns_timeout + 5 s, when whatever is left is closed (the MTA
 *	applies its default action).
 *
 * DIAGNOSTICS
 *	Bad configuration and bad environment at start-up: a message on
 *	stderr (and in the log) and exit 1.  Problems with one connection
 *	are logged and close only that connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "clock.h"
#include "danced.h"
#include "join.h"
#include "milter.h"
#include "peer.h"
#include "server.h"
#include "session.h"
#include "panic.h"

#define DANCED_GRACE_S 5        /* shutdown: dns_timeout plus this, then close anyway */
#define DANCED_JOIN_REPORT_S 300    /* how often uncollected DATA verdicts are looked for */
#define DANCED_JOIN_STALE_MS (600 * 1000LL) /* a verdict this old was not collected */
#define DANCED_NOFILE_SPARE 256     /* descriptors beyond connections and DNS: listeners, log, ... */

/* What main() learned about the process identity to take. */
typedef struct danced_ids {
    bool set_user;
    bool set_group;
    uid_t uid;
    gid_t gid;
    char user[256];
} danced_ids;

/* The start-up state around the daemon context. */
typedef struct danced_start {
    bool foreground;
    bool detached;              /* stdio is /dev/null: errors only reach the log */
    int ready_fd;               /* pipe to the waiting parent, or -1 */
    char pid_file[4096];
} danced_start;

static void danced_fatal(const danced *d, const danced_start *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* danced_fatal - bad environment at start-up: say so where it can be seen and exit 1. */
static void danced_fatal(const danced *d, const danced_start *st, const char *fmt, ...)
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

/* danced_panic_to_syslog - a broken invariant's last words, where the operator looks. */
static void danced_panic_to_syslog(const char *msg)
{
    syslog(LOG_CRIT, "%s", msg);
}

static void danced_usage(FILE *fp)
{
    fprintf(fp, "usage: danced [-f] [-c FILE]   run the policy service and/or the milter\n"
            "       danced -n [-c FILE]      check the configuration and exit\n"
            "       danced -V                print the version\n"
            "  -c FILE  configuration file (default %s)\n"
            "  -f       stay in the foreground, log to stderr\n", CONFIG_DEFAULT_FILE);
}

static bool danced_empty(const char *s)
{
    return s == NULL || *s == '\0';
}

/* danced_lookup_ids - resolve user and group names before anything changes. */
static void danced_lookup_ids(const danced *d, const danced_start *st, danced_ids *ids)
{
    const dance_config *cfg = &d->snap->cfg;
    struct passwd *pw;
    struct group *gr;

    memset(ids, 0, sizeof(*ids));
    if (!danced_empty(cfg->user)) {
        if ((pw = getpwnam(cfg->user)) == NULL)
            danced_fatal(d, st, "user: no such user \"%s\"", cfg->user);
        if (pw->pw_uid == 0)
            danced_fatal(d, st, "user: \"%s\" has user id 0: danced must not run as root", cfg->user);
        ids->set_user = true;
        ids->uid = pw->pw_uid;
        ids->gid = pw->pw_gid;
        snprintf(ids->user, sizeof(ids->user), "%s", cfg->user);
    }
    if (!danced_empty(cfg->group)) {
        if ((gr = getgrnam(cfg->group)) == NULL)
            danced_fatal(d, st, "group: no such group \"%s\"", cfg->group);
        ids->set_group = true;
        ids->gid = gr->gr_gid;
    }
}

/* danced_drop_privileges - become user/group for good, or refuse to run. */
static void danced_drop_privileges(const danced *d, const danced_start *st, const danced_ids *ids)
{
    if (!ids->set_user && !ids->set_group) {
        if (geteuid() == 0)
            dlog_msg(&d->log, LOG_WARNING, "running as root: set user (and group) in %s",
                     d->config_path);
        return;
    }
    if (geteuid() != 0) {
        /* Not root: fine only when we already are exactly what was asked for. */
        if ((ids->set_user && (getuid() != ids->uid || geteuid() != ids->uid))
            || getgid() != ids->gid || getegid() != ids->gid)
            danced_fatal(d, st, "cannot switch to %s%s%s: not started as root",
                         ids->set_user ? "user " : "", ids->set_user ? ids->user : "",
                         ids->set_group ? " / the configured group" : "");
        return;
    }
    if (ids->set_user) {
        if (initgroups(ids->user, ids->gid) != 0)
            danced_fatal(d, st, "initgroups(%s): %s", ids->user, strerror(errno));
    } else if (setgroups(1, &ids->gid) != 0) {
        danced_fatal(d, st, "setgroups: %s", strerror(errno));
    }
    if (setgid(ids->gid) != 0)
        danced_fatal(d, st, "setgid(%lu): %s", (unsigned long) ids->gid, strerror(errno));
    if (ids->set_user && setuid(ids->uid) != 0)
        danced_fatal(d, st, "setuid(%lu): %s", (unsigned long) ids->uid, strerror(errno));
    if (getgid() != ids->gid || getegid() != ids->gid)
        danced_fatal(d, st, "group switch did not take effect");
    if (ids->set_user) {
        if (getuid() != ids->uid || geteuid() != ids->uid)
            danced_fatal(d, st, "user switch to %s did not take effect", ids->user);
        if (ids->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
            danced_fatal(d, st, "could regain root after switching to %s", ids->user);
    }
}

/* danced_daemonize - fork into the background; the parent waits for "ready" and exits. */
static void danced_daemonize(danced *d, danced_start *st)
{
    int pfd[2], null;
    pid_t pid;
    char msg[1100];
    size_t got = 0;
    ssize_t n;

    if (pipe(pfd) != 0)
        danced_fatal(d, st, "pipe: %s", strerror(errno));
    if ((pid = fork()) < 0)
        danced_fatal(d, st, "fork: %s", strerror(errno));
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
        danced_fatal(d, st, "setsid: %s", strerror(errno));
    if (chdir("/") != 0)
        danced_fatal(d, st, "chdir /: %s", strerror(errno));
    if ((null = open("/dev/null", O_RDWR)) < 0)
        danced_fatal(d, st, "/dev/null: %s", strerror(errno));
    st->detached = true;
    (void) dup2(null, 0);
    (void) dup2(null, 1);
    (void) dup2(null, 2);
    if (null > 2)
        close(null);
}

/* danced_write_pid - write pid_file (after daemonizing, before dropping privileges). */
static void danced_write_pid(const danced *d, danced_start *st)
{
    char buf[32];
    int fd, len;

    if (danced_empty(d->snap->cfg.pid_file))
        return;
    snprintf(st->pid_file, sizeof(st->pid_file), "%s", d->snap->cfg.pid_file);
    if ((fd = open(st->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
        danced_fatal(d, st, "pid_file %s: %s", st->pid_file, strerror(errno));
    len = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
    if (write(fd, buf, (size_t) len) != len || close(fd) != 0)
        danced_fatal(d, st, "pid_file %s: write failed", st->pid_file);
}

/* danced_changed - true when a start-up-only setting differs between two strings. */
static bool danced_changed(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

static void danced_warn_unsafe(const danced *d);

/* danced_reload - SIGHUP: swap in a new snapshot (and resolver), or keep the old on any error. */
static void danced_reload(danced *d)
{
    size_t pmax, mmax;
    snapshot *n;
    dnsloop *dns = NULL;
    char err[1024];
    const dance_config *o;

    if (snapshot_load(d->config_path, NULL, &n, err, sizeof(err)) != SNAPSHOT_OK) {
        dlog_msg(&d->log, LOG_ERR, "reload refused, keeping the running configuration: %s", err);
        return;
    }
    if (!snapshot_same_resolver(d->snap, n)) {
        if ((dns = dnsloop_new(d->base, &d->log, &n->rc, err, sizeof(err))) == NULL) {
            dlog_msg(&d->log, LOG_ERR, "reload refused, keeping the running configuration: %s",
                     err);
            snapshot_unref(n);
            return;
        }
    }
    n->generation = d->snap->generation + 1;
    o = &d->snap->cfg;
    if (danced_changed(o->policy_socket, n->cfg.policy_socket)
        || danced_changed(o->milter_socket, n->cfg.milter_socket) || o->socket_mode != n->cfg.socket_mode
        || danced_changed(o->socket_group, n->cfg.socket_group) || danced_changed(o->user, n->cfg.user)
        || danced_changed(o->group, n->cfg.group) || danced_changed(o->pid_file, n->cfg.pid_file))
        dlog_msg(&d->log, LOG_WARNING, "reload: policy_socket, milter_socket, socket_mode, "
                 "socket_group, user, group and pid_file keep their start-up values until danced "
                 "is restarted");
    if (dns != NULL) {
        dnsloop_retire(d->dns);     /* finishes its look-ups in progress, then is freed */
        d->dns = dns;
    }
    dlog_reconfigure(&d->log, n->cfg.log_facility, n->cfg.log_format);
    snapshot_unref(d->snap);
    d->snap = n;
    danced_face_limits(d, &n->cfg, &pmax, &mmax);
    if (d->srv != NULL)
        server_set_max(d->srv, pmax);
    if (d->mface != NULL)
        milter_set_max(d, mmax);
    danced_warn_unsafe(d);
    dlog_msg(&d->log, LOG_INFO, "configuration reloaded from %s%s", d->config_path,
             dns != NULL ? " (new resolver)" : "");
}


/* danced_first_digest_warning - true for the first caller only. */
bool danced_first_digest_warning(danced *d)
{
    bool first = !d->warned_digest;

    d->warned_digest = true;
    return first;
}

/* danced_admit - may the peer of a newly accepted connection use the face? */
bool danced_admit(danced *d, int fd, const char *peer, const char *face)
{
    const snapshot *snap = d->snap;
    char why[160];
    uid_t uid;

    if (snap->peer_any)
        return true;
    if (!peer_uid(fd, &uid, why, sizeof(why))) {
        dlog_msg(&d->log, LOG_WARNING, "%s: %s: refused: its user cannot be told (%s); peer_users "
                 "admits only known local users", face, peer, why);
        return false;
    }
    if (uid == 0)
        return true;
    for (size_t i = 0; i < snap->npeer_uids; i++)
        if (snap->peer_uids[i] == uid)
            return true;
    dlog_msg(&d->log, LOG_WARNING, "%s: %s: refused: user id %lu is not in peer_users", face, peer,
             (unsigned long) uid);
    return false;
}

/* danced_check_done - while draining, end the loop once neither face has a connection left. */
void danced_check_done(danced *d)
{
    if (!d->draining)
        return;
    if (d->srv != NULL && server_connections(d->srv) > 0)
        return;
    if (d->mface != NULL && !milter_idle(d))
        return;
    event_base_loopexit(d->base, NULL);
}

static void danced_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    danced *d = arg;

    (void) fd;
    (void) what;
    dlog_msg(&d->log, LOG_WARNING, "stopping: %zu policy connections still busy%s; closing them",
             d->srv != NULL ? server_connections(d->srv) : 0,
             d->mface != NULL && !milter_idle(d) ? ", milter messages in progress" : "");
    if (d->srv != NULL)
        server_close_all(d->srv);
    if (d->mface != NULL)
        milter_close_all(d);
    event_base_loopexit(d->base, NULL);
}

/* danced_stop - stop accepting on both faces and drain; a second call stops at once. */
static void danced_stop(danced *d)
{
    struct timeval tv = { (time_t) d->snap->cfg.dns_timeout + DANCED_GRACE_S, 0 };

    if (d->draining) {              /* a second signal: do not wait */
        danced_on_deadline(-1, 0, d);
        return;
    }
    d->draining = true;
    /* a once-event: libevent frees it when it fires or with the base */
    if (event_base_once(d->base, -1, EV_TIMEOUT, danced_on_deadline, d, &tv) != 0)
        DANCE_PANIC("unexpected: event_base_once(d->base, -1, EV_TIMEOUT, danced_on_deadline, d, &tv) != 0");
    if (d->srv != NULL) {
        server_stop(d->srv);
        server_drain(d->srv);
    }
    if (d->mface != NULL)
        milter_stop(d);
    danced_check_done(d);
}

/*
 * Signals.  The handler only writes the signal number into a pipe that
 * the event loop reads; it is installed with SA_NODEFER and an empty mask,
 * so no burst of signals finds one blocked.  A handler gets no context:
 * the pipe's write end is the one global.
 */
static int danced_signal_fd = -1;

/* danced_on_signal - the handler: pass the signal number on to the loop. */
static void danced_on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char) sig;

    (void) !write(danced_signal_fd, &b, 1);
    errno = saved;
}

/* danced_on_signal_pipe - (loop) the signals that arrived: reload once for any SIGHUP, stop for TERM/INT. */
static void danced_on_signal_pipe(evutil_socket_t fd, short what, void *arg)
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
        if (!d->draining)
            dlog_msg(&d->log, LOG_INFO, "signal %d: stopping (%zu policy connections open)", stop,
                     d->srv != NULL ? server_connections(d->srv) : 0);
        danced_stop(d);
    } else if (hup && !d->draining) {
        danced_reload(d);
    }
}

/* danced_signals - install the handlers and the pipe's event; false on failure. */
static bool danced_signals(danced *d, struct event **ev)
{
    static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
    struct sigaction sa;
    int p[2];

    if (pipe(p) != 0)
        return false;
    for (int i = 0; i < 2; i++)
        if (fcntl(p[i], F_SETFL, O_NONBLOCK) != 0 || fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0)
            return false;
    danced_signal_fd = p[1];
    if ((*ev = event_new(d->base, p[0], EV_READ | EV_PERSIST, danced_on_signal_pipe, d)) == NULL
        || event_add(*ev, NULL) != 0)
        return false;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = danced_on_signal;
    sa.sa_flags = SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return false;
    return true;
}

/*
 * danced_on_join_report - every few minutes: say so when DATA verdicts are
 * not collected by the milter (lost, or waiting for over ten minutes - no
 * message takes that long between DATA and its end), and when keys were
 * written twice or refused.
 */
static void danced_on_join_report(evutil_socket_t fd, short what, void *arg)
{
    danced *d = arg;
    join_stats st;

    (void) fd;
    (void) what;
    join_stats_take(d->join, clock_now_ms(), &st);
    if (st.lost > 0 || (st.dropped > 0 && st.taken == 0) || st.oldest_untaken_ms > DANCED_JOIN_STALE_MS)
        dlog_msg(&d->log, LOG_WARNING, "CONFIGURATION: the milter does not collect the policy "
                 "service's DATA verdicts (%lu taken, %lu left untaken, %lu lost, %zu held, the "
                 "oldest %lld s old): is danced's milter_socket (%s) in Postfix's smtpd_milters?",
                 st.taken, st.dropped, st.lost, st.entries, st.oldest_untaken_ms / 1000,
                 milter_endpoint(d));
    if (st.conflicts > 0 || st.refused > 0)
        dlog_msg(&d->log, LOG_WARNING, "verdict store: %lu messages had conflicting policy requests "
                 "and %lu were refused (store full) in the last %d s; their messages got temperror",
                 st.conflicts, st.refused, DANCED_JOIN_REPORT_S);
}

/*
 * danced_warn_unsafe - at start and after every reload: the settings that
 * open danced to more than the MTA, when the operator chose them.
 */
static void danced_warn_unsafe(const danced *d)
{
    const dance_config *cfg = &d->snap->cfg;

    if (cfg->peer_users.n == 1 && strcmp(cfg->peer_users.v[0], "any") == 0 && d->join != NULL)
        dlog_msg(&d->log, LOG_WARNING, "peer_users = any: every local user may write the message "
                 "verdicts the milter trusts, and so forge dane=pass; list the MTA's users instead");
    if (cfg->remote_sockets)
        dlog_msg(&d->log, LOG_WARNING, "remote_sockets = yes: danced's inet sockets may be reached from "
                 "other hosts; keep them behind a firewall (the milter face has no access control of "
                 "its own)");
}

/*
 * danced_nofile - make the open-file limit hold the connection limits of
 * the faces configured (max_connections, milter_max_connections), the
 * resolver's queries in flight (each holds a socket) and
 * DANCED_NOFILE_SPARE more (step 2), so that no face can take the
 * descriptors of the other or of the resolver.  A lower soft limit is
 * raised towards the hard one; when even the hard limit is lower, a
 * warning names the numbers and the fix.  danced still starts then: at
 * the limit it stops accepting for a moment (server.c), and a look-up
 * that gets no socket fails, which is never a pass.
 */
static void danced_nofile(danced *d)
{
    const dance_config *cfg = &d->snap->cfg;
    bool policy = !danced_empty(cfg->policy_socket), milter = !danced_empty(cfg->milter_socket);
    const unsigned long need = (policy ? (unsigned long) cfg->max_connections : 0)
        + (milter ? (unsigned long) cfg->milter_max_connections : 0)
        + RESOLVER_OUTGOING_RANGE + RESOLVER_OUTGOING_NUM_TCP + DANCED_NOFILE_SPARE;
    struct rlimit rl;
    unsigned long was;
    char faces[96] = "";

    if (policy)
        snprintf(faces, sizeof(faces), "max_connections %u, ", cfg->max_connections);
    if (milter)
        snprintf(faces + strlen(faces), sizeof(faces) - strlen(faces), "milter_max_connections %u, ",
                 cfg->milter_max_connections);
    d->conn_budget = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return;
    was = (unsigned long) rl.rlim_cur;
    rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) ? need : rl.rlim_max;
    if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = was;
    if (rl.rlim_cur >= need) {
        dlog_msg(&d->log, LOG_INFO, "open-file limit raised from %lu to %lu (%s%d DNS queries in flight, "
                 "%d spare)", was, need, faces, RESOLVER_OUTGOING_RANGE + RESOLVER_OUTGOING_NUM_TCP,
                 DANCED_NOFILE_SPARE);
        return;
    }
    {
        unsigned long reserved = RESOLVER_OUTGOING_RANGE + RESOLVER_OUTGOING_NUM_TCP + DANCED_NOFILE_SPARE;
        size_t pmax, mmax;

        /* the resolver and the spare keep their share, the faces divide the rest - at least
           half of all, since the resolver rarely has all its queries in flight at once */
        d->conn_budget = (size_t) (rl.rlim_cur > 2 * reserved ? rl.rlim_cur - reserved : rl.rlim_cur / 2);
        if (d->conn_budget < 2)
            d->conn_budget = 2;
        danced_face_limits(d, cfg, &pmax, &mmax);
        dlog_msg(&d->log, LOG_WARNING, "open-file limit %lu (hard limit %lu) is below the %lu that "
                 "%s%d DNS queries in flight and %d spare need: raise it (systemd: LimitNOFILE=, shell: "
                 "ulimit -n) or lower the connection limits; until then the faces take at most "
                 "%zu policy and %zu milter connections", (unsigned long) rl.rlim_cur,
                 (unsigned long) rl.rlim_max, need, faces, RESOLVER_OUTGOING_RANGE + RESOLVER_OUTGOING_NUM_TCP,
                 DANCED_NOFILE_SPARE, policy ? pmax : 0, milter ? mmax : 0);
    }
}

/* danced_face_limits - the faces' connection limits for cfg, cut to fit the open-file limit. */
void danced_face_limits(const danced *d, const dance_config *cfg, size_t *policy, size_t *milter)
{
    size_t p = danced_empty(cfg->policy_socket) ? 0 : cfg->max_connections;
    size_t m = danced_empty(cfg->milter_socket) ? 0 : cfg->milter_max_connections;

    *policy = cfg->max_connections;
    *milter = cfg->milter_max_connections;
    if (d->conn_budget == 0 || p + m <= d->conn_budget)
        return;
    if (p > 0)
        *policy = d->conn_budget * p / (p + m) > 0 ? d->conn_budget * p / (p + m) : 1;
    if (m > 0)
        *milter = d->conn_budget > *policy * (p > 0) + 1 ? d->conn_budget - *policy * (p > 0) : 1;
}

/* danced_on_policy_drained - (server) the policy face stopped and its last connection closed. */
static void danced_on_policy_drained(void *arg)
{
    danced_check_done(arg);
}

/* danced_open_faces - bind the configured sockets (step 2); fatal on any problem. */
static void danced_open_faces(danced *d, const danced_start *st)
{
    const dance_config *cfg = &d->snap->cfg;
    char err[1024];

    if (!danced_empty(cfg->policy_socket)
        && server_open("policy_socket", cfg->policy_socket, cfg->socket_mode, cfg->socket_group, &d->srv,
                       err, sizeof(err)) != SERVER_OK)
        danced_fatal(d, st, "%s", err);
    if (!danced_empty(cfg->milter_socket)
        && milter_open(d, cfg->milter_socket, cfg->socket_mode, cfg->socket_group, err,
                       sizeof(err)) != MILTER_OK)
        danced_fatal(d, st, "%s", err);
    d->milter = d->mface != NULL;
}

/* danced_faces_text - "policy inet:... and milter unix:..." for the ready line. */
static void danced_faces_text(const danced *d, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s%s%s", d->srv != NULL ? "policy " : "",
             d->srv != NULL ? server_endpoint(d->srv) : "",
             d->srv != NULL && d->mface != NULL ? " and " : "", d->mface != NULL ? "milter " : "",
             d->mface != NULL ? milter_endpoint(d) : "");
}

int main(int argc, char **argv)
{
    danced d;
    danced_start st = { .foreground = false, .detached = false, .ready_fd = -1 };
    danced_ids ids;
    struct event *sig_ev = NULL, *join_report = NULL;
    struct timeval report_every = { DANCED_JOIN_REPORT_S, 0 };
    const char *path = CONFIG_DEFAULT_FILE;
    size_t pmax, mmax;
    bool check_only = false;
    char err[1024], faces[700];
    int opt;

    memset(&d, 0, sizeof(d));
    while ((opt = getopt(argc, argv, "c:fnVh")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            st.foreground = true;
            break;
        case 'n':
            check_only = true;
            break;
        case 'V':
            printf("danced %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            danced_usage(stdout);
            return 0;
        default:
            danced_usage(stderr);
            return 1;
        }
    }
    if (optind != argc) {
        danced_usage(stderr);
        return 1;
    }
    d.config_path = path;

    /* 1. configuration */
    if (snapshot_load(path, NULL, &d.snap, err, sizeof(err)) != SNAPSHOT_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (check_only) {
        snapshot_unref(d.snap);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    dlog_init(&d.log, st.foreground, d.snap->cfg.log_facility, d.snap->cfg.log_format);
    if (!st.foreground)
        panic_set_sink(danced_panic_to_syslog);     /* stderr goes to /dev/null once daemonized */

    /* 2. descriptors, identities and sockets */
    danced_nofile(&d);
    danced_lookup_ids(&d, &st, &ids);
    danced_open_faces(&d, &st);

    /* 3-5. background, pid file, privileges */
    if (!st.foreground)
        danced_daemonize(&d, &st);
    danced_write_pid(&d, &st);
    danced_drop_privileges(&d, &st, &ids);

    /* 6. event loop and resolver */
    if ((d.base = event_base_new()) == NULL)
        danced_fatal(&d, &st, "cannot create the event loop");
    if ((d.dns = dnsloop_new(d.base, &d.log, &d.snap->rc, err, sizeof(err))) == NULL)
        danced_fatal(&d, &st, "%s", err);
    if (!danced_signals(&d, &sig_ev))
        danced_fatal(&d, &st, "cannot install signal handlers: %s", strerror(errno));

    /* 7. serve */
    if (d.srv != NULL && d.mface != NULL) {
        d.join = join_new((size_t) d.snap->cfg.max_connections + JOIN_SPARE_ENTRIES, JOIN_TTL_MS_DEFAULT);
        if ((join_report = event_new(d.base, -1, EV_PERSIST, danced_on_join_report, &d)) == NULL
            || event_add(join_report, &report_every) != 0)
            DANCE_PANIC("out of memory");
    }
    danced_face_limits(&d, &d.snap->cfg, &pmax, &mmax);
    if (d.srv != NULL) {
        server_face face = { "policy", session_accept, danced_on_policy_drained, &d };

        server_start(d.srv, d.base, &d.log, &face, pmax);
    }
    if (d.mface != NULL)
        milter_start(&d, mmax);
    danced_warn_unsafe(&d);
    danced_faces_text(&d, faces, sizeof(faces));
    dlog_msg(&d.log, LOG_INFO, "danced %s ready on %s (authserv-id %s)", PACKAGE_VERSION, faces,
             d.snap->servid);
    if (st.ready_fd >= 0) {
        (void) !write(st.ready_fd, "R", 1);
        close(st.ready_fd);
        st.ready_fd = -1;
    }
    event_base_dispatch(d.base);

    /* shutdown: whatever is still open is closed, then everything freed */
    if (d.srv != NULL)
        server_close_all(d.srv);
    if (d.mface != NULL)
        milter_close_all(&d);
    event_base_loop(d.base, EVLOOP_NONBLOCK);   /* let retired resolvers free themselves */
    server_free(d.srv);
    milter_free(&d);
    event_free(sig_ev);
    if (join_report != NULL)
        event_free(join_report);
    join_free(d.join);
    dnsloop_free(d.dns);
    event_base_free(d.base);
    if (st.pid_file[0] != '\0' && unlink(st.pid_file) != 0 && errno != ENOENT)
        dlog_msg(&d.log, LOG_WARNING, "cannot remove pid_file %s: %s", st.pid_file, strerror(errno));
    dlog_msg(&d.log, LOG_INFO, "stopped");
    snapshot_unref(d.snap);
    d.snap = NULL;
    dlog_close(&d.log);
    return d.exit_status;
}
