# eximbed.sh - a private Exim daemon on loopback for dance's tests (source it; bash).
#
# Exim cannot be installed beside Postfix (Debian's packages conflict), so
# the bed unpacks Debian's exim4-base and exim4-daemon-light with
# t/debpkg.sh into a fresh temporary directory and runs that Exim as a
# daemon on 127.0.0.1:<free port> only, in a private mount namespace
# (dp_run) whose /etc holds:
#   resolv.conf   nameserver 127.0.0.1 only (the configuration needs no DNS:
#                 no host_lookup, no rfc1413, no helo look-ups, one accept
#                 router for every domain), so no query leaves the machine;
#   passwd/group  Debian-exim, the user Exim is built to run as, with the ids
#                 of the system's "mail" user (danced's peer_users = mail
#                 admits exactly Exim's processes);
#   exim4/trusted_configs   the bed's configuration file: Exim keeps its
#                 privilege for -C only with a file listed there, and needs
#                 it to deliver as nobody.
# Nothing is written outside the temporary directory and debpkg.sh's .deb
# cache.  Every accepted message, for any domain, is delivered by an
# appendfile transport (maildir, as nobody) into $EB_MAILDIR/new, with an
# X-Delivered-To: field at the end of its header naming the recipient.
# The unpacked exim4 has no set-uid bit (debpkg.sh removes it), and Exim
# 4.96's daemon, started as root, gives up root and runs as Debian-exim
# once its socket is open ("running as a daemon"); its receivers and queue
# runners re-exec exim, which regains root only through the set-uid bit,
# so they could not deliver as nobody.  So the daemon only queues
# (queue_only), and eb_wait_mail delivers with a queue run started as root
# (exim -q), which is how each message reaches $EB_MAILDIR.
#
# Typical use (see t/exim/exim.sh):
#     . "$TESTDIR/dns/testbed.sh"; . "$TESTDIR/postfix/postfixbed.sh"
#     . "$TESTDIR/debpkg.sh"; . "$TESTDIR/exim/eximbed.sh"
#     eb_require || { echo "1..0 # SKIP $EB_MISSING"; exit 0; }
#     tb_init; eb_init
#     eb_unpack || { echo "1..0 # SKIP $DP_WHY"; exit 0; }
#     EB_MAIN_EXTRA="DANCE_SOCKET = inet:127.0.0.1:$DPORT" eb_config ...; eb_start
#     eb_mail_mark; eb_smtp --ehlo ... --to rcpt@dest.test; eb_wait_mail 1
#
# Knobs (before eb_config): EB_DOMAIN (local domain, default dest.test),
# EB_HOSTNAME (primary_hostname, default mx.$EB_DOMAIN), EB_MAIN (main
# section lines put first, e.g. macros), EB_INCLUDE_MAIN, EB_INCLUDE_RCPT,
# EB_INCLUDE_DATA (files .included in the main section, in the RCPT ACL
# before the local-domain accept, first in the DATA ACL).
#
# Variables set: EB_DIR, EB_ROOT (unpacked packages), EB_EXIM (the binary),
# EB_CONF, EB_PORT, EB_LOG (Exim's mainlog), EB_MAILDIR, EB_PID (the
# daemon, leader of its own process group), EB_VERSION; after
# eb_wait_mail: EB_MAILS (the new files, oldest first), EB_MAIL (the
# first); after eb_smtp: PB_LAST_OUT (the client's transcript).
#
# Needs: root, unshare and overlayfs (or bind mounts), ss, dpkg, apt-get
# (once, for the .debs), openssl, python3; t/dns/testbed.sh,
# t/postfix/postfixbed.sh (its helpers only: no Postfix is run) and
# t/debpkg.sh sourced first.

# Variables named EB_* are this library's interface to its callers.
# shellcheck disable=SC2034

EB_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# eb_require - true when the bed can run here; else sets EB_MISSING.
eb_require() {
    local t
    if [ "$(id -u)" != 0 ]; then
        EB_MISSING="not root (the bed mounts a private /etc and runs Exim as root)"
        return 1
    fi
    for t in unshare ss dpkg dpkg-deb openssl setsid "$PB_PYTHON"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            EB_MISSING="$t is not installed"
            return 1
        fi
    done
    for t in mail nobody; do
        if ! id "$t" >/dev/null 2>&1; then
            EB_MISSING="no user $t"
            return 1
        fi
    done
    return 0
}

# eb_init - make the temporary directory and chain the clean-up to the EXIT trap already set (testbed.sh's).
eb_init() {
    local prev words
    EB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dance-eb.XXXXXX") || tb_die "mktemp failed"
    chmod 0711 "$EB_DIR"
    EB_ROOT=$EB_DIR/root
    EB_MAILDIR=$EB_DIR/mail
    EB_LOG=$EB_DIR/log/mainlog
    EB_CONF=$EB_DIR/exim.conf
    EB_PID=
    EB_NCLIENT=0
    prev=$(trap -p EXIT)
    EB_PREV_EXIT=
    if [ -n "$prev" ]; then
        eval "words=($prev)"
        EB_PREV_EXIT=${words[2]}
    fi
    trap 'eb_cleanup; eval "$EB_PREV_EXIT"' EXIT
}

# eb_stop - stop the daemon and every process of its group (receivers, deliveries).
eb_stop() {
    [ -n "${EB_PID:-}" ] || return 0
    pb_kill_wait "$EB_PID" "-$EB_PID"
    wait "$EB_JOB" 2>/dev/null
    EB_PID=
}

# eb_cleanup - stop Exim and remove the directory (EB_KEEP=1 keeps it).
eb_cleanup() {
    [ -n "${EB_DIR:-}" ] || return 0
    eb_stop
    if [ -n "${EB_KEEP:-}" ]; then
        printf '# exim bed kept in %s\n' "$EB_DIR" >&2
    else
        rm -rf "$EB_DIR"
    fi
    EB_DIR=
}

# eb_unpack - unpack Exim (debpkg.sh) and write the private /etc; false with DP_WHY set.
eb_unpack() {
    local uid gid
    dp_unpack "$EB_ROOT" /usr/sbin/exim4 exim4-base exim4-daemon-light || return 1
    EB_EXIM=$EB_ROOT/usr/sbin/exim4
    EB_VERSION=$(dp_version exim4-daemon-light)
    uid=$(id -u mail) gid=$(id -g mail)
    dp_private_etc "$EB_DIR/etc"
    dp_private_user Debian-exim "$uid" "$gid"
    mkdir -p "$DP_ETC/exim4"
    printf '%s\n' "$EB_CONF" > "$DP_ETC/exim4/trusted_configs"
    mkdir -p "$EB_DIR/spool" "$EB_DIR/log" "$EB_MAILDIR" "$EB_DIR/tls"
    chown "$uid:$gid" "$EB_DIR/spool" "$EB_DIR/log"
    chmod 0750 "$EB_DIR/spool" "$EB_DIR/log"
    chown nobody "$EB_MAILDIR"
    # the server's certificate; the key readable by Exim's group only
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$EB_DIR/tls/server.key" -out "$EB_DIR/tls/server.pem" -days 30 \
        -subj "/CN=${EB_HOSTNAME:-mx.${EB_DOMAIN:-dest.test}}" 2>"$EB_DIR/openssl.err" \
        || { DP_WHY="openssl: $(tail -n 1 "$EB_DIR/openssl.err")"; return 1; }
    chgrp "$gid" "$EB_DIR/tls/server.key"
    chmod 0640 "$EB_DIR/tls/server.key"
    return 0
}

# eb_run ARGS... - run the unpacked exim with the bed's configuration in the private namespace.
eb_run() {
    dp_run "$EB_EXIM" -C "$EB_CONF" "$@"
}

# eb_config - write $EB_CONF from the knobs (see the header).
eb_config() {
    local dom=${EB_DOMAIN:-dest.test}
    EB_PORT=${EB_PORT:-$(pb_free_port)}
    {
        printf '# exim.conf - written by t/exim/eximbed.sh for one test run.\n'
        printf '%s\n' "${EB_MAIN:-}"
        [ -z "${EB_INCLUDE_MAIN:-}" ] || printf '.include %s\n' "$EB_INCLUDE_MAIN"
        cat <<EOF
exim_path = $EB_EXIM
primary_hostname = ${EB_HOSTNAME:-mx.$dom}
spool_directory = $EB_DIR/spool
log_file_path = $EB_DIR/log/%slog
pid_file_path = $EB_DIR/exim.pid
keep_environment =
daemon_smtp_ports = $EB_PORT
local_interfaces = <; 127.0.0.1
host_lookup =
rfc1413_hosts =
helo_lookup_domains =
tls_advertise_hosts = *
tls_certificate = $EB_DIR/tls/server.pem
tls_privatekey = $EB_DIR/tls/server.key
domainlist local_domains = $dom
domainlist relay_to_domains =
hostlist relay_from_hosts =
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data
queue_only
log_selector = +tls_peerdn +tls_certificate_verified +received_recipients

begin acl

acl_check_rcpt:
  accept  hosts = :
EOF
        [ -z "${EB_INCLUDE_RCPT:-}" ] || printf '.include %s\n' "$EB_INCLUDE_RCPT"
        cat <<EOF
  accept  domains = +local_domains
  deny    message = relay not permitted

acl_check_data:
EOF
        [ -z "${EB_INCLUDE_DATA:-}" ] || printf '.include %s\n' "$EB_INCLUDE_DATA"
        cat <<EOF
  accept

begin routers

everything:
  driver = accept
  transport = maildir

begin transports

maildir:
  driver = appendfile
  directory = $EB_MAILDIR
  maildir_format
  create_directory
  user = nobody
  group = nogroup
  headers_add = X-Delivered-To: \$local_part@\$domain

begin retry

*  *  F,1h,1m
EOF
    } > "$EB_CONF"
    chmod 0644 "$EB_CONF"
}

# eb_start - check the configuration (exim -bV) and start the daemon in its own process group; false with WHY.
eb_start() {
    local i out
    if ! out=$(eb_run -bV 2>&1); then
        why "exim -bV refuses the configuration: $(printf '%s' "$out" | grep -v '^ *$' | tail -n 3 | tr '\n' ' ')"
        return 1
    fi
    # -bdf: the daemon stays in the foreground (its pid file names it);
    # setsid: in a process group of its own, with its receiving and
    # delivery processes, so that eb_stop can stop them all.
    rm -f "$EB_DIR/exim.pid"
    DP_SETSID=1 eb_run -bdf </dev/null >"$EB_DIR/daemon.out" 2>&1 &
    EB_JOB=$!
    for i in $(seq 1 250); do
        [ -s "$EB_DIR/exim.pid" ] && break
        tb_running "$EB_JOB" || break
        sleep 0.02
    done
    EB_PID=$(cat "$EB_DIR/exim.pid" 2>/dev/null)
    case $EB_PID in
    ''|*[!0-9]*)
        EB_PID=
        why "Exim wrote no pid file: $(tail -n 3 "$EB_DIR/daemon.out" "$EB_LOG" 2>/dev/null | tr '\n' ' ')"
        return 1
        ;;
    esac
    if ! pb_wait_port 127.0.0.1 "$EB_PORT" 10; then
        why "Exim did not listen on 127.0.0.1:$EB_PORT: $(tail -n 3 "$EB_DIR/daemon.out" "$EB_LOG" 2>/dev/null | tr '\n' ' ')"
        return 1
    fi
    for i in $(seq 1 50); do
        [ "$(eb_listening)" != "" ] && break
        sleep 0.02
    done
    return 0
}

# eb_listening - the local addresses the daemon listens on (ss -ltnp), one a line.
eb_listening() {
    ss -Hltnp 2>/dev/null | awk -v p="pid=$EB_PID," 'index($0, p) { print $4 }' | sort -u
}

# eb_smtp ARGS... - t/postfix/smtpclient.py to the daemon; transcript in PB_LAST_OUT; its exit status.
eb_smtp() {
    EB_NCLIENT=$((EB_NCLIENT + 1))
    PB_LAST_OUT=$EB_DIR/client.$EB_NCLIENT.out
    "$PB_PYTHON" "$PB_LIBDIR/smtpclient.py" --server 127.0.0.1 --port "$EB_PORT" "$@" >"$PB_LAST_OUT" 2>&1
}

# eb_mail_mark - remember the deliveries so far (eb_wait_mail counts from here).
eb_mail_mark() {
    EB_MARK=$(find "$EB_MAILDIR/new" -type f 2>/dev/null | wc -l)
}

# eb_mail_files - every delivered file, oldest first.
eb_mail_files() {
    find "$EB_MAILDIR/new" -type f -printf '%T@ %p\n' 2>/dev/null | sort -n | cut -d' ' -f2-
}

# eb_deliver - one queue run as root: deliver what the daemon queued.
eb_deliver() {
    eb_run -q >>"$EB_DIR/queue-run.out" 2>&1
}

# eb_wait_mail N [SECONDS] - deliver (eb_deliver) until N messages arrived since eb_mail_mark; sets EB_MAILS and EB_MAIL.
eb_wait_mail() {
    local n=$1 s=${2:-20} i
    for i in $(seq 0 $((s * 5))); do
        eb_deliver
        mapfile -t EB_MAILS < <(eb_mail_files | tail -n "+$((EB_MARK + 1))")
        [ "${#EB_MAILS[@]}" -ge "$n" ] && break
        [ "$i" -lt $((s * 5)) ] && sleep 0.2
    done
    EB_MAIL=${EB_MAILS[0]:-}
    [ "${#EB_MAILS[@]}" -ge "$n" ]
}

# eb_mail_with NAME VALUE - the first delivered file since the mark whose field NAME is VALUE.
eb_mail_with() {
    local f
    for f in "${EB_MAILS[@]}"; do
        if pb_header "$f" "$1" | grep -qxF -- "$2"; then
            printf '%s\n' "$f"
            return 0
        fi
    done
    return 1
}

# eb_tap_diag - on failure: the client's transcript, Exim's and danced's last lines.
eb_tap_diag() {
    pb_tap_diag
    [ -f "${EB_LOG:-}" ] && tail -n 6 "$EB_LOG" | cut -c1-300 | sed 's/^/#   exim: /'
    [ -f "${EB_DIR:-}/log/paniclog" ] && tail -n 3 "$EB_DIR/log/paniclog" | sed 's/^/#   exim panic: /'
    return 0
}
