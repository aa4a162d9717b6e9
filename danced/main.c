/*
 * main.c - the dance daemon: DANE client authentication as a Postfix
 * policy service and a milter.  The composition root: the one file that
 * names the faces.
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
 *	    dance_policy = { unix:dance/policy, timeout=15s, default_action=DUNNO }
 *	    smtpd_relay_restrictions = permit_mynetworks,
 *	        check_policy_service $dance_policy, reject_unauth_destination
 *	    smtpd_data_restrictions = check_policy_service $dance_policy
 *	    smtpd_milters = { unix:dance/milter, default_action=tempfail }
 *
 *	Signals: SIGHUP re-reads FILE (a bad file is logged and the running
 *	configuration kept); SIGTERM/SIGINT stop accepting on both faces,
 *	finish requests and messages in progress (at most dns_timeout +
 *	5 s), remove the pid file and exit 0.
 *
 * DESCRIPTION
 *	Two faces, either or both: the policy service (policy_socket;
 *	policy/) and the milter (milter_socket; milter/).  With both, the
 *	policy face records each message's DATA-stage verdicts in the join
 *	store and answers DUNNO; the milter writes the header from them.
 *	Both faces run on one event loop in one thread; each has its own
 *	listener and connection limit, and with peer_users set only root
 *	and those users' processes may connect (danced_admit).
 *
 *	Start-up order, each step for a reason:
 *	  1. read the configuration (errors on the terminal);
 *	  2. look up user/group, bind policy_socket, milter_socket and
 *	     stats_socket (danced/stats.c, the metrics endpoint)
 *	     (needs root for low ports and socket directories; errors
 *	     still on the terminal); make room for the faces' connections
 *	     and the resolver's queries in flight in the open-file limit;
 *	  3. daemonize (fork, setsid, chdir /, stdio to /dev/null);
 *	  4. write pid_file (still privileged);
 *	  5. drop privileges (setgroups/initgroups, setgid, setuid, verify;
 *	     refuse to run when user is set and cannot be switched to);
 *	  6. create the event base and the resolver - after the fork,
 *	     because the resolver starts a thread and libevent's backend
 *	     does not survive fork();
 *	  7. accept connections on both faces; tell systemd READY=1
 *	     (notify.h).  A socket systemd passed (activation.h) was
 *	     taken in step 2 instead of being bound.
 *
 *	Stopping (danced.c): both faces stop accepting; idle connections
 *	close, the others once their request or message is done, or at
 *	dns_timeout + 5 s; then everything is freed and the pid file
 *	removed.
 *
 * DIAGNOSTICS
 *	Bad configuration and bad environment at start-up: a message on
 *	stderr (and in the log) and exit 1.  Problems with one connection
 *	are logged and close only that connection.
 *
 * SEE ALSO
 *	danced.c (the context and the faces as a set), startup.c, signals.c,
 *	reload.c, policy/policy.c, milter/milter.c, doc/architecture.md
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <event2/event.h>

#include "dance_build.h"
#include "lib/panic.h"
#include "milter/milter.h"
#include "policy/policy.h"
#include "activation.h"
#include "budget.h"
#include "danced_private.h"
#include "dnsloop.h"
#include "listen.h"
#include "signals.h"
#include "snapshot.h"
#include "startup.h"
#include "stats.h"
#include "vcache.h"

static void main_usage(FILE *fp)
{
    fprintf(fp, "usage: danced [-f] [-c FILE]   run the policy service and/or the milter\n"
            "       danced -n [-c FILE]      check the configuration and exit\n"
            "       danced -V                print the version\n"
            "  -c FILE  configuration file (default %s)\n"
            "  -f       stay in the foreground, log to stderr\n", DANCE_CONFIG_FILE);
}

/* main_open_faces - bind the configured sockets (step 2); fatal on any problem. */
static void main_open_faces(danced *d, const startup *st)
{
    const dance_config *cfg = &d->snap->cfg;
    bool policy = cfg->policy_socket != NULL && cfg->policy_socket[0] != '\0';
    bool milter = cfg->milter_socket != NULL && cfg->milter_socket[0] != '\0';
    size_t taken = 0;
    char err[1024];

    if (policy && policy_open(d, cfg, err, sizeof(err)) != POLICY_FACE_OK)
        startup_fatal(d, st, "%s", err);
    if (milter && milter_open(d, cfg, err, sizeof(err)) != MILTER_OK)
        startup_fatal(d, st, "%s", err);
    if (stats_open(d, err, sizeof(err)) != STATS_OK)
        startup_fatal(d, st, "%s", err);
    for (size_t i = 0; i < d->nfaces; i++)
        taken += listen_inherited(d->faces[i].srv);
    taken += stats_inherited(d->stats);
    if (!activation_check(taken, err, sizeof(err)))
        startup_fatal(d, st, "%s", err);
    d->header_by_milter = milter;
}

/* main_serve - steps 6 and 7: the loop, the resolver, the faces; returns when the loop ends. */
static void main_serve(danced *d, startup *st)
{
    const dance_config *cfg = &d->snap->cfg;
    struct event *sig_ev = NULL;
    char err[1024], faces[700];

    if ((d->base = event_base_new()) == NULL)
        startup_fatal(d, st, "cannot create the event loop");
    if ((d->dns = dnsloop_new(d->base, &d->log, &d->snap->rc, err, sizeof(err))) == NULL)
        startup_fatal(d, st, "%s", err);
    dnsloop_count_into(d->dns, metrics_dns(&d->metrics));
    if ((d->budget = budget_new(cfg)) == NULL)
        startup_fatal(d, st, "cannot draw the look-up budget's random key: %s", strerror(errno));
    dnsloop_set_budget(d->dns, d->budget, &d->metrics);
    danced_hold_log(d);
    if ((d->vcache = vcache_new()) == NULL)
        startup_fatal(d, st, "cannot draw the verdict cache's random key: %s", strerror(errno));
    if (!signals_install(d, &sig_ev))
        startup_fatal(d, st, "cannot install signal handlers: %s", strerror(errno));
    if (d->nfaces == 2)                 /* policy and milter: the policy face's verdicts go to the milter */
        danced_open_join(d, cfg->milter_socket);
    danced_start_faces(d);
    if (stats_start(d, err, sizeof(err)) != STATS_OK)
        startup_fatal(d, st, "%s", err);
    danced_warn_unsafe(d);
    danced_faces_text(d, faces, sizeof(faces));
    dlog_msg(&d->log, LOG_INFO, "danced %s ready on %s (authserv-id %s)", PACKAGE_VERSION, faces,
             d->snap->servid);
    startup_ready(st);
    danced_notify_ready(d, "ready");
    danced_notify_start(d);
    event_base_dispatch(d->base);
    event_free(sig_ev);
}

int main(int argc, char **argv)
{
    danced d;
    startup st = { .ready_fd = -1 };
    const char *path = DANCE_CONFIG_FILE;
    bool check_only = false;
    char err[1024];
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
            main_usage(stdout);
            return 0;
        default:
            main_usage(stderr);
            return 1;
        }
    }
    if (optind != argc) {
        main_usage(stderr);
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
        panic_set_sink(startup_panic_to_syslog);    /* stderr goes to /dev/null once daemonized */

    /* 2. identities, sockets, descriptors */
    startup_lookup_ids(&d, &st);
    main_open_faces(&d, &st);
    startup_nofile(&d);

    /* 3-5. background, pid file, privileges */
    if (!st.foreground)
        startup_daemonize(&d, &st);
    startup_write_pid(&d, &st);
    startup_drop_privileges(&d, &st);

    /* 6-7. event loop, resolver, faces; then the shutdown */
    main_serve(&d, &st);
    danced_shutdown(&d);
    if (st.pid_file[0] != '\0' && unlink(st.pid_file) != 0 && errno != ENOENT)
        dlog_msg(&d.log, LOG_WARNING, "cannot remove pid_file %s: %s", st.pid_file, strerror(errno));
    dlog_msg(&d.log, LOG_INFO, "stopped");
    snapshot_unref(d.snap);
    dlog_close(&d.log);
    return d.exit_status;
}
