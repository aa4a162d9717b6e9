# sendmailbed.sh - a throw-away Sendmail daemon on loopback for danced's
# end-to-end tests (a bash library: source it after t/postfix/postfixbed.sh).
#
# Debian's sendmail-bin cannot be installed beside Postfix, so the bed
# unpacks it privately (t/debpkg.sh: apt-get download, dpkg -x), builds a
# sendmail.cf with m4 and Debian's sendmail-cf from an .mc that includes
# contrib/sendmail/dance.mc as shipped (only the milter's port is the
# test's), and runs `sendmail -bd` as root in a private mount namespace
# whose /etc/resolv.conf names 127.0.0.1 only, whose /etc/hosts knows the
# bed's names and whose /dev/log is a sink the bed reads (Sendmail logs
# only through syslog).  It listens on 127.0.0.1:$SM_PORT alone
# (FEATURE(no_default_msa) drops the submission port the m4 build adds on
# every address), offers STARTTLS with a certificate of the bed, asks every
# client for a certificate, and delivers each local recipient's copy with
# postfixbed's pbdeliver into $PB_MAILDIR, so pb_mail_mark, pb_wait_mail
# and the header helpers work unchanged.  No DNS at all: the service
# switch says "hosts files", FEATURE(nocanonify) and
# accept_unresolvable_domains keep Sendmail from asking for names.
#
#     . "$TESTDIR/postfix/postfixbed.sh"
#     . "$TESTDIR/sendmail/sendmailbed.sh"
#     sm_require || { echo "1..0 # SKIP $SM_WHY"; exit 0; }
#     pb_init
#     sm_unpack || { echo "1..0 # SKIP $SM_WHY"; exit 0; }   # cannot fetch
#     SM_MILTER_PORT=$MPORT sm_start || exit 1
#     pb_send_cert CERT KEY EHLO FROM "rcpt@$PB_DOMAIN"   # PB_PORT is Sendmail's
#
# Functions: sm_require, sm_unpack, sm_start, sm_stop, sm_listeners, sm_log_mark,
# sm_log_since PATTERN.  Variables set: SM_ROOT (unpacked packages),
# SM_BIN, SM_VERSION, SM_DIR, SM_CF, SM_LOG (Sendmail's syslog lines; also
# PB_MAILLOG), SM_PORT (= PB_PORT), SM_PID.
#
# Sendmail facts this relies on (measured with 8.17.1.9, Debian 12):
#   - without syslog Sendmail says nothing about a failed STARTTLS set-up:
#     it just does not offer STARTTLS (here: the certificate's directory
#     was under the world-writable /tmp; DontBlameSendmail=TrustStickyBit).
#   - a loaded machine (load average over QueueLA, 8 by default) makes it
#     queue every message and skip queue runs: the bed sets QueueLA 100.
#   - without an alias database ("alias database unavailable") every
#     message is queued and never delivered; the local mailer checks
#     recipients against the passwd file unless its "w" flag is removed;
#     it runs as DefaultUser (here nobody, who owns the mail directory).
#   - the m4 build's MSA listener (port 587, every address) is gone only
#     with FEATURE(no_default_msa).

SM_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=t/debpkg.sh
. "$SM_LIBDIR/../debpkg.sh"

SM_CFDIR=${SM_CFDIR:-/usr/share/sendmail/cf}

# sm_require - true when Sendmail can be unpacked and built here; else SM_WHY says why.
sm_require() {
    SM_WHY=
    if [ "$(id -u)" != 0 ]; then
        SM_WHY="not root (Sendmail's daemon and the private namespace need it)"
    elif ! command -v unshare >/dev/null || ! command -v m4 >/dev/null; then
        SM_WHY="unshare or m4 is not installed"
    elif [ ! -f "$SM_CFDIR/m4/cf.m4" ]; then
        SM_WHY="sendmail-cf is not installed ($SM_CFDIR/m4/cf.m4)"
    else
        return 0
    fi
    return 1
}

# sm_unpack - unpack sendmail-bin and sendmail-base under $PB_DIR/sm-root (set SM_ROOT, SM_BIN, SM_VERSION).
sm_unpack() {
    SM_ROOT=$PB_DIR/sm-root
    SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
    if ! dp_unpack "$SM_ROOT" /usr/libexec/sendmail/sendmail sendmail-bin sendmail-base; then
        SM_WHY=$DP_WHY
        return 1
    fi
    SM_VERSION=$(dp_version sendmail-bin)
}

# sm_mc - the bed's .mc: private paths, loopback only, TLS, files delivery, and contrib's dance.mc.
sm_mc() {
    local d=$SM_DIR
    cat <<EOF
divert(-1)
# The bed's sendmail.mc (t/sendmail/sendmailbed.sh).
divert(0)dnl
OSTYPE(\`linux')dnl
define(\`confCF_VERSION', \`dance-test')dnl
define(\`QUEUE_DIR', \`$d/mqueue')dnl
define(\`STATUS_FILE', \`$d/sendmail.st')dnl
define(\`ALIAS_FILE', \`$d/aliases')dnl
define(\`HELP_FILE', \`')dnl
define(\`confPID_FILE', \`$d/sendmail.pid')dnl
define(\`confSERVICE_SWITCH_FILE', \`$d/service.switch')dnl
define(\`confHOSTS_FILE', \`$d/hosts')dnl
define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl
define(\`confDONT_PROBE_INTERFACES', \`true')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confAUTH_MECHANISMS', \`')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`confDELIVERY_MODE', \`background')dnl
define(\`confQUEUE_LA', \`100')dnl
define(\`confREFUSE_LA', \`200')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confMILTER_LOG_LEVEL', \`14')dnl
define(\`confCACERT_PATH', \`$d/tls')dnl
define(\`confCACERT', \`$d/tls/ca.pem')dnl
define(\`confSERVER_CERT', \`$d/tls/server.pem')dnl
define(\`confSERVER_KEY', \`$d/tls/server.key')dnl
define(\`LOCAL_MAILER_PATH', \`$PB_DIR/bin/pbdeliver')dnl
define(\`confDEF_USER_ID', \`nobody:nogroup')dnl
define(\`LOCAL_MAILER_FLAGS', \`n9')dnl
MODIFY_MAILER_FLAGS(\`LOCAL', \`-w')dnl
define(\`LOCAL_MAILER_ARGS', \`pbdeliver $PB_MAILDIR \$i \$u')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Port=$SM_PORT, Addr=127.0.0.1, Name=MTA')dnl
dnl contrib/sendmail/dance.mc as shipped, on the bed's milter port:
include(\`$d/dance.mc')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
LOCAL_CONFIG
Cw $PB_DOMAIN $SM_HOSTNAME
EOF
}

# sm_start - unpack, configure and start the daemon; needs PB_DIR (pb_init) and SM_MILTER_PORT.
sm_start() {
    local t0 i
    t0=$(pb_now)
    SM_HOSTNAME=${SM_HOSTNAME:-mx.$PB_DOMAIN}
    SM_DIR=$PB_DIR/sm
    SM_CF=$SM_DIR/sendmail.cf
    SM_LOG=$SM_DIR/syslog
    PB_MAILLOG=$SM_LOG
    mkdir -p "$SM_DIR/mqueue" "$SM_DIR/tls" "$SM_DIR/etc"
    chmod 0700 "$SM_DIR/mqueue"
    : >"$SM_DIR/sendmail.st"
    [ -n "${SM_ROOT:-}" ] || sm_unpack || return 1
    [ -x "$PB_DIR/bin/pbdeliver" ] || pb_write_deliver
    pb_cert sm-server "$SM_HOSTNAME"
    cp "$PB_CERTS/sm-server.pem" "$SM_DIR/tls/server.pem"
    cp "$PB_CERTS/sm-server.pem" "$SM_DIR/tls/ca.pem"
    install -m 0600 "$PB_CERTS/sm-server.key" "$SM_DIR/tls/server.key"
    printf 'hosts files\naliases files\n' >"$SM_DIR/service.switch"
    printf '127.0.0.1\tlocalhost %s\n' "$SM_HOSTNAME" >"$SM_DIR/hosts"
    sed "s/inet:10041@127\.0\.0\.1/inet:$SM_MILTER_PORT@127.0.0.1/" \
        "$SM_LIBDIR/../../contrib/sendmail/dance.mc" >"$SM_DIR/dance.mc"
    SM_PORT=${SM_PORT:-$(pb_free_port)}
    PB_PORT=$SM_PORT
    sm_mc >"$SM_DIR/sendmail.mc"
    if ! m4 "$SM_CFDIR/m4/cf.m4" "$SM_DIR/sendmail.mc" >"$SM_CF" 2>"$SM_DIR/m4.err" \
        || [ -s "$SM_DIR/m4.err" ]; then
        SM_WHY="m4 failed: $(head -n 1 "$SM_DIR/m4.err")"
        return 1
    fi
    dp_private_etc "$SM_DIR/etc" "$SM_HOSTNAME"
    sm_syslog || return 1
    # without an alias database every message stays queued
    printf 'postmaster: rcpt\n' >"$SM_DIR/aliases"
    if ! sm_run "$SM_BIN" -C "$SM_CF" -bi >"$SM_DIR/newaliases.out" 2>&1; then
        SM_WHY="newaliases failed: $(tail -n 1 "$SM_DIR/newaliases.out")"
        return 1
    fi
    sm_daemon || return 1
    SM_T_START=$(( $(pb_now) - t0 ))
}

# sm_syslog - a syslog sink on $SM_DIR/log.sock writing one line per message to $SM_LOG (stopped by pb_cleanup).
sm_syslog() {
    : >"$SM_LOG"
    "$PB_PYTHON" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")' "$SM_DIR/log.sock" "$SM_LOG" &
    PB_PIDS="$PB_PIDS $!"
    for _ in $(seq 1 100); do
        [ -S "$SM_DIR/log.sock" ] && return 0
        sleep 0.02
    done
    SM_WHY="the syslog sink did not start"
    return 1
}

# sm_run CMD... - CMD under dp_run, with a private /dev whose log is the sink (the usual nodes bound from the real /dev).
sm_run() {
    dp_run /bin/sh -c '
        d=$0
        mkdir -p "$d/dev" && mount --bind /dev "$d/dev" || exit 97
        mount -t tmpfs -o mode=755,size=64k sm-dev /dev || exit 97
        for n in null zero full random urandom tty; do
            touch "/dev/$n" && mount --bind "$d/dev/$n" "/dev/$n" || exit 97
        done
        ln -s /proc/self/fd /dev/fd
        touch /dev/log && mount --bind "$d/log.sock" /dev/log || exit 97
        exec "$@"' "$SM_DIR" "$@"
}

# sm_daemon - start `sendmail -bd` in the private namespace and wait for its port (sets SM_PID).
sm_daemon() {
    rm -f "$SM_DIR/sendmail.pid"
    if ! sm_run "$SM_BIN" -C "$SM_CF" -bd -q10s >"$SM_DIR/start.out" 2>&1; then
        SM_WHY="sendmail -bd failed: $(tail -n 1 "$SM_DIR/start.out")"
        return 1
    fi
    if ! pb_wait_port 127.0.0.1 "$SM_PORT" 10; then
        SM_WHY="sendmail does not listen on 127.0.0.1:$SM_PORT: $(tail -n 2 "$SM_LOG" | tr '\n' ' ')"
        return 1
    fi
    for i in $(seq 1 100); do
        [ -s "$SM_DIR/sendmail.pid" ] && break
        sleep 0.02
    done
    SM_PID=$(head -n 1 "$SM_DIR/sendmail.pid" 2>/dev/null)
    case $SM_PID in ''|*[!0-9]*) SM_WHY="no pid file"; return 1 ;; esac
    # the daemon and each of its children (one per connection, queue runs)
    PB_PIDS="$PB_PIDS $SM_PID"
    return 0
}

# sm_stop - stop the daemon and every process of its group.
sm_stop() {
    [ -n "${SM_PID:-}" ] || return 0
    pb_kill_wait "$SM_PID"
    SM_PID=
}

# sm_listeners - every TCP and UDP address:port the bed's Sendmail listens on, one a line.
sm_listeners() {
    ss -Hltunp 2>/dev/null | grep -E "pid=$SM_PID[,)]" | awk '{ print $5 }' | sort -u
}

# sm_log_mark - remember where Sendmail's log ends (sm_log_since reads from here).
sm_log_mark() {
    SM_LOG_MARK=$(wc -l <"$SM_LOG")
}

# sm_log_since [PATTERN] - Sendmail's log lines since sm_log_mark (matching the ERE PATTERN).
sm_log_since() {
    tail -n +"$((SM_LOG_MARK + 1))" "$SM_LOG" | grep -E "${1:-.}"
}
