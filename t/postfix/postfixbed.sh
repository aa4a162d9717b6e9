# postfixbed.sh - a throw-away Postfix on loopback for danced's end-to-end tests.
#
# A bash library (source it; it is not run on its own).  Under a fresh
# temporary directory it makes certificates (openssl CLI), writes the
# configuration of a private receiving Postfix instance (own config, queue and
# data directories; smtpd on 127.0.0.1:<free port>; TLS with client
# certificates requested; every delivery, local or relayed, written to a file
# by a pipe transport, so no mail ever leaves the machine), starts it with
# `postfix -c DIR start`, sends mail with swaks or with smtpclient.py (several
# messages over one connection), optionally through a second Postfix instance
# on 127.0.0.2 acting as the sending MTA, waits for delivery and reads the
# delivered messages and the policy service's requests.  It installs nothing.
#
# pb_init installs a trap: on EXIT, INT, TERM and HUP every Postfix instance
# and process started here is stopped and the directory removed (PB_KEEP=1
# keeps the directory for inspection).  An EXIT trap set before pb_init (for
# example t/dns/testbed.sh's tb_init) is kept and run after pb_cleanup: call
# tb_init first, then pb_init.
#
# Typical use (see t/postfix/selfcheck.sh):
#     . "$TESTDIR/postfix/postfixbed.sh"
#     pb_require || exit 77                  # tools missing: skip
#     pb_init
#     pb_cert client mta1.example.test       # or use t/dns's certificates
#     PB_POLICY_ENDPOINT=inet:127.0.0.1:$DANCED_PORT   # danced plugs in here
#     pb_start
#     pb_mail_mark; pb_policy_mark
#     pb_send_cert "$PB_CERTS/client.pem" "$PB_CERTS/client.key" \
#         mta1.example.test sender@mta1.example.test rcpt@"$PB_DOMAIN"
#     pb_wait_mail 1 || fail
#     pb_first_header "$PB_MAIL"             # the header danced PREPENDed
#     pb_policy_field ccert_pubkey_fingerprint RCPT   # needs PB_POLICY_LOG
#
# Knobs, read by pb_start (set them before calling it):
#   PB_DOMAIN            the local (mydestination) domain; default dest.test.
#   PB_PORT              smtpd's port on 127.0.0.1; default a free one.
#   PB_POLICY_ENDPOINT   e.g. inet:127.0.0.1:10040 or unix:/path; empty = no
#                        policy service.  pb_policy_start sets it.
#   PB_POLICY_OPTS       per-service overrides; default
#                        "timeout=10s, default_action=DUNNO".
#   PB_POLICY_STAGES     where the policy service is asked: "relay data"
#                        (default: smtpd_relay_restrictions, then
#                        reject_unauth_destination; and smtpd_data_restrictions)
#                        or "recipient data" (smtpd_recipient_restrictions,
#                        relay restrictions empty), with or without "data".
#   PB_MAIN_EXTRA        extra main.cf lines "key = value", one a line; they
#                        replace the bed's settings (postconf -e).
# pb_postconf + pb_restart change a running instance; pb_set_policy ENDPOINT
# re-points the restrictions and restarts.
#
# Functions (each has a one-line comment where it is defined):
#   set-up      pb_require pb_init pb_cleanup pb_start pb_restart pb_postconf
#               pb_set_policy pb_sender_start pb_spawn pb_free_port
#               pb_wait_port pb_alive pb_kill_wait
#   certs       pb_cert BASE NAME, pb_fingerprint SELECTOR PEM [ALG]
#   sending     pb_send_cert CERT KEY EHLO FROM TO..., pb_send_tls EHLO FROM
#               TO..., pb_send_plain EHLO FROM TO..., pb_swaks ARGS,
#               pb_smtp ARGS (smtpclient.py: --count N on one connection),
#               pb_submit EHLO FROM TO... (through the sender instance)
#   delivery    pb_mail_mark, pb_wait_mail N [S], pb_mail_files, pb_headers
#               FILE, pb_first_header FILE, pb_header FILE NAME,
#               pb_header_count FILE NAME, pb_queue_ids
#   policy      pb_policy_start [fake_policy.py options], pb_policy_stop,
#               pb_policy_mark, pb_policy_field NAME [STATE],
#               pb_policy_count [STATE], pb_policy_requests [STATE]
#   diagnosis   pb_diag, pb_log; transcripts in $PB_LAST_OUT
#
# Variables set: PB_DIR, PB_CERTS, PB_MAILDIR (delivered messages, one file
# per recipient, named NANOSECONDS.QUEUEID.RECIPIENT.eml), PB_PORT (smtpd),
# PB_CONF (config_directory), PB_MAILLOG (Postfix's log), PB_PYTHON;
# after pb_wait_mail: PB_MAILS (array of the new files, oldest first),
# PB_MAIL (the first of them), PB_T_DELIVERY (ms from pb_mail_mark to the
# last delivery); after pb_start: PB_T_START; after a client: PB_T_SEND,
# PB_LAST_OUT; after pb_policy_start: PB_POLICY_PORT, PB_POLICY_LOG (JSON
# lines, see fake_policy.py); after pb_sender_start: PB_SENDER_ADDR,
# PB_SENDER_PORT, PB_T_SENDER_START.  Timings are in milliseconds.
#
# Postfix facts this relies on (measured with Postfix 3.7.11, Debian 12):
#   - `postfix -c DIR start` as root needs no alternate_config_directories
#     (only set-gid postdrop/postqueue run by non-root users would).  The
#     queue directory must be root-owned, the data directory postfix-owned.
#   - `postfix check`, also run by `postfix start`, creates the queue's
#     subdirectories but takes ~3 s (post-install walks postfix-files): the
#     bed creates them from postfix-files itself and sets Postfix's
#     quick-start flag, which makes start skip the checks.
#   - Postfix does not read a main.cf/master.cf whose mtime is the current
#     second: it sleeps 300 ms and retries, 1-2 s per command after every
#     edit.  The bed dates the files a minute back after writing them.
#   - Fatal start-up errors go to maillog_file or a terminal, not to
#     stdout/stderr without a tty: on failure pb_start re-runs start under
#     script(1) and shows that and the log's tail.
#   - pipe(8) refuses to run as root or as mail_owner: the delivery script
#     runs as `nobody`, so PB_DIR is 0711 and the mail directory nobody's.
#   - smtpd_relay_restrictions is evaluated before
#     smtpd_recipient_restrictions: a policy service meant to authorize
#     relaying must sit in the relay list before reject_unauth_destination.
#   - A policy PREPEND at DATA lands above Postfix's own Received: header,
#     i.e. on the first line of the delivered message (pipe flags are empty:
#     no Return-Path/Delivered-To/X-Original-To is added above it).
#   - inet_interfaces = 127.0.0.2 is refused ("no local interface found"),
#     but a master.cf listener on 127.0.0.2:PORT and smtp_bind_address =
#     127.0.0.2 work.  The sender reuses its TLS connection for the next
#     message only with smtp_connection_cache_destinations naming the bare
#     host (127.0.0.1, not [127.0.0.1]:PORT), smtp_tls_connection_reuse and
#     a tlsproxy service.
#   - The daemonized master is reparented to PID 1, which may reap it late;
#     kill -0 sees the zombie, so pb_alive reads /proc instead.
#
# Needs: bash, postfix, swaks, perl Net::SSLeay (swaks --tls), openssl,
# python3 (Debian: postfix swaks libnet-ssleay-perl openssl python3; for
# parsing Authentication-Results back: python3-authres, which the Debian
# /usr/bin/python3 sees - PB_PYTHON prefers it).

# Variables named PB_* are this library's interface to its callers.
# shellcheck disable=SC2034

PB_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PB_POSTFIX=${PB_POSTFIX:-/usr/sbin/postfix}
PB_POSTCONF=${PB_POSTCONF:-/usr/sbin/postconf}
if [ -z "${PB_PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PB_PYTHON=/usr/bin/python3; else PB_PYTHON=python3; fi
fi

# pb_log - diagnostic line (TAP-friendly: starts with "# "), to stderr.
pb_log() {
    printf '# %s\n' "$*" >&2
}

# pb_die - report a broken bed and exit non-zero (the trap cleans up).
pb_die() {
    printf 'postfixbed: %s\n' "$*" >&2
    exit 99
}

# pb_now - milliseconds since the epoch.
pb_now() {
    date +%s%3N
}

# pb_require - true when every tool the bed needs is installed; else sets PB_MISSING.
pb_require() {
    local t
    for t in "$PB_POSTFIX" "$PB_POSTCONF" swaks openssl "$PB_PYTHON" perl; do
        if ! command -v "$t" >/dev/null 2>&1; then
            PB_MISSING=$t
            return 1
        fi
    done
    if ! perl -MNet::SSLeay -e 1 2>/dev/null; then
        PB_MISSING="perl Net::SSLeay (libnet-ssleay-perl)"
        return 1
    fi
    for t in postfix nobody; do
        if ! id "$t" >/dev/null 2>&1; then
            PB_MISSING="user $t"
            return 1
        fi
    done
    if [ "$(id -u)" != 0 ]; then
        PB_MISSING="root (postfix start)"
        return 1
    fi
    return 0
}

# pb_init - make the temporary directory and install the clean-up trap (chained to any earlier EXIT trap).
pb_init() {
    local prev words
    [ -z "${PB_DIR:-}" ] || pb_die "pb_init called twice"
    PB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dance-pb.XXXXXX") || pb_die "mktemp failed"
    # pipe(8) delivers as nobody: it must reach $PB_DIR/bin and the mail dir.
    chmod 0711 "$PB_DIR"
    PB_CERTS=$PB_DIR/certs
    PB_MAILDIR=$PB_DIR/mail
    PB_PIDS=
    PB_INSTANCES=
    PB_DOMAIN=${PB_DOMAIN:-dest.test}
    PB_POLICY_ENDPOINT=${PB_POLICY_ENDPOINT:-}
    PB_POLICY_OPTS=${PB_POLICY_OPTS-timeout=10s, default_action=DUNNO}
    PB_POLICY_STAGES=${PB_POLICY_STAGES:-relay data}
    PB_MAIN_EXTRA=${PB_MAIN_EXTRA:-}
    PB_POLICY_LOG=
    PB_POLICY_MARK=0
    PB_MAIL_MARK=0
    PB_NCLIENT=0
    mkdir -p "$PB_CERTS" "$PB_MAILDIR" "$PB_DIR/bin" || pb_die "cannot populate $PB_DIR"
    chmod 0700 "$PB_CERTS"
    if ! chown nobody "$PB_MAILDIR" || ! chmod 0755 "$PB_MAILDIR"; then
        pb_die "chown $PB_MAILDIR"
    fi
    prev=$(trap -p EXIT)
    PB_PREV_EXIT=
    if [ -n "$prev" ]; then
        # prev reads: trap -- 'COMMAND' EXIT
        eval "words=($prev)"
        PB_PREV_EXIT=${words[2]}
    fi
    trap 'pb_cleanup; eval "$PB_PREV_EXIT"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

# pb_alive PID|-PGID - true while the process (or some process of the group) runs; zombies count as gone.
pb_alive() {
    local f line fields
    # A daemonized master is reparented to PID 1, which may reap it late:
    # kill -0 alone would see the zombie for a second or more.
    for f in /proc/[0-9]*/stat; do
        if [ "${1#-}" = "$1" ]; then f=/proc/$1/stat; fi
        read -r line 2>/dev/null < "$f" || continue
        # after "(comm) ": state ppid pgrp ...
        read -r -a fields <<<"${line##*) }"
        if [ "${1#-}" = "$1" ]; then
            [ "${fields[0]}" != Z ]
            return
        fi
        [ "${fields[2]}" = "${1#-}" ] && [ "${fields[0]}" != Z ] && return 0
    done
    return 1
}

# pb_kill_wait PID|-PGID... - TERM them, wait up to 3 s for them to go, then KILL what is left.
pb_kill_wait() {
    local pid i alive
    for pid in "$@"; do
        kill -TERM -- "$pid" 2>/dev/null || :
    done
    for i in $(seq 150); do
        alive=
        for pid in "$@"; do
            pb_alive "$pid" && alive=1
        done
        [ -z "$alive" ] && return 0
        sleep 0.02
    done
    for pid in "$@"; do
        kill -KILL -- "$pid" 2>/dev/null || :
    done
    return 0
}

# pb_instance_stop NAME - stop one Postfix instance: its master and every process in its group.
pb_instance_stop() {
    local pidfile=$PB_DIR/$1/queue/pid/master.pid pid
    [ -f "$pidfile" ] || return 0
    pid=$(awk '{ print $1; exit }' "$pidfile")
    case $pid in ''|*[!0-9]*) return 0 ;; esac
    # master runs setsid(): its process group holds every Postfix daemon
    # (and pipe's delivery scripts) of this instance and nothing else.
    pb_kill_wait "$pid"
    pb_kill_wait "-$pid"
    rm -f "$pidfile"
}

# pb_cleanup - stop every instance and process started here and remove the directory.
pb_cleanup() {
    local name
    [ -n "${PB_DIR:-}" ] || return 0
    for name in $PB_INSTANCES; do
        pb_instance_stop "$name"
    done
    PB_INSTANCES=
    # shellcheck disable=SC2086
    [ -z "$PB_PIDS" ] || pb_kill_wait $PB_PIDS
    PB_PIDS=
    if [ -d "$PB_DIR" ]; then
        if [ -n "${PB_KEEP:-}" ]; then
            printf '# postfix bed kept in %s\n' "$PB_DIR" >&2
        else
            rm -rf "$PB_DIR"
        fi
    fi
    PB_DIR=
}

# pb_free_port [ADDR] - print a TCP port free on ADDR (default 127.0.0.1) right now.
pb_free_port() {
    "$PB_PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])' "${1:-127.0.0.1}"
}

# pb_wait_port ADDR PORT SECONDS - wait until something accepts TCP connections there.
pb_wait_port() {
    "$PB_PYTHON" -c '
import socket, sys, time
addr, port, deadline = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
while time.time() < deadline:
    try:
        socket.create_connection((addr, port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)' "$1" "$2" "$3"
}

# pb_spawn NAME CMD... - run CMD in the background (output in $PB_DIR/NAME.log), stopped by pb_cleanup; sets PB_SPAWNED_PID.
pb_spawn() {
    local name=$1
    shift
    "$@" >"$PB_DIR/$name.log" 2>&1 &
    PB_SPAWNED_PID=$!
    PB_PIDS="$PB_PIDS $PB_SPAWNED_PID"
}

# pb_diag [LINES] - the tails of Postfix's log and of the policy log, as TAP comments on stderr.
pb_diag() {
    local n=${1:-15}
    if [ -f "${PB_MAILLOG:-}" ]; then
        pb_log "maillog ($PB_MAILLOG):"
        tail -n "$n" "$PB_MAILLOG" | sed 's/^/#   /' >&2
    fi
    if [ -n "${PB_POLICY_LOG:-}" ] && [ -f "$PB_POLICY_LOG" ]; then
        pb_log "policy requests ($PB_POLICY_LOG):"
        tail -n 4 "$PB_POLICY_LOG" | cut -c1-300 | sed 's/^/#   /' >&2
    fi
    if [ -n "${PB_LAST_OUT:-}" ] && [ -f "$PB_LAST_OUT" ]; then
        pb_log "last client ($PB_LAST_OUT):"
        tail -n "$n" "$PB_LAST_OUT" | sed 's/^/#   /' >&2
    fi
    return 0
}

# ---------------------------------------------------------------------------
# Certificates (openssl CLI): $PB_CERTS/BASE.pem and BASE.key.

# pb_cert BASE NAME - self-signed P-256 certificate for NAME (CN and SAN), usable as server or client.
pb_cert() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$PB_CERTS/$1.key" -out "$PB_CERTS/$1.pem" -days 30 \
        -subj "/CN=$2" -addext "subjectAltName=DNS:$2" \
        -addext "extendedKeyUsage=serverAuth,clientAuth" \
        2>"$PB_DIR/openssl.err" \
        || pb_die "openssl: certificate $1: $(tail -n 1 "$PB_DIR/openssl.err")"
}

# pb_fingerprint SELECTOR PEMFILE [ALG] - Postfix-style AB:CD:... digest of the certificate (0) or its SPKI (1).
pb_fingerprint() {
    if [ "$1" = 0 ]; then
        openssl x509 -in "$2" -outform DER
    else
        openssl x509 -in "$2" -pubkey -noout | openssl pkey -pubin -outform DER
    fi | openssl dgst "-${3:-sha256}" -binary | od -An -v -tx1 | tr -s ' \n' ' ' \
        | tr 'a-f' 'A-F' | sed 's/^ //; s/ $//; s/ /:/g'
}

# ---------------------------------------------------------------------------
# Postfix instances.  Instance NAME lives in $PB_DIR/NAME/{etc,queue,data}.

# pb_write_deliver - the pipe transport's script: one file per recipient in $PB_MAILDIR.
pb_write_deliver() {
    cat > "$PB_DIR/bin/pbdeliver" <<'EOF'
#!/bin/sh
# pbdeliver MAILDIR QUEUEID RECIPIENT - run by pipe(8) as nobody; stores the
# message (stdin) as MAILDIR/NANOSECONDS.QUEUEID.RECIPIENT.eml, atomically.
dir=$1 qid=$2 rcpt=$3
tmp=$dir/.tmp.$$
cat > "$tmp" || exit 75
name=$(date +%s%N).$qid.$(printf '%s' "$rcpt" | tr -c 'A-Za-z0-9@._+-' '_' | cut -c1-100)
mv "$tmp" "$dir/$name.eml" || exit 75
exit 0
EOF
    chmod 0755 "$PB_DIR/bin/pbdeliver"
}

# pb_master_cf NAME SMTPD_LINES - write a chroot-free master.cf with the services Postfix needs, plus SMTPD_LINES.
pb_master_cf() {
    local conf=$PB_DIR/$1/etc
    {
        printf '%s\n' "$2"
        cat <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsproxy  unix  -       -       n       -       0       tlsproxy
pbfile    unix  -       n       n       -       -       pipe
  user=nobody argv=$PB_DIR/bin/pbdeliver $PB_MAILDIR \${queue_id} \${recipient}
EOF
    } > "$conf/master.cf"
}

# pb_main_cf NAME HOSTNAME - write the main.cf lines every instance shares (no DNS, own dirs, own log).
pb_main_cf() {
    local top=$PB_DIR/$1
    cat > "$top/etc/main.cf" <<EOF
# written by t/postfix/postfixbed.sh for instance $1
compatibility_level = 3.6
config_directory = $top/etc
queue_directory = $top/queue
data_directory = $top/data
maillog_file = $top/maillog
maillog_file_prefixes = $PB_DIR
mail_owner = postfix
myhostname = $2
mydomain = $PB_DOMAIN
myorigin = \$myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps =
biff = no
readme_directory = no
smtputf8_enable = no
notify_classes =
delay_warning_time = 0
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
EOF
}

# pb_conf_age NAME - date main.cf and master.cf a minute back, so Postfix reads them without waiting.
pb_conf_age() {
    # Postfix will not read a configuration file modified within the
    # current second (it might be half written): it sleeps 300 ms and
    # retries until the mtime is in the past, 1-2 s for a file just written.
    touch -c -d "@$(( $(date +%s) - 60 ))" "$PB_DIR/$1/etc/main.cf" "$PB_DIR/$1/etc/master.cf"
}

# pb_queue_dirs NAME - create the instance's queue and data directories as $meta_directory/postfix-files lists them.
pb_queue_dirs() {
    local conf=$PB_DIR/$1/etc meta group
    pb_conf_age "$1"
    { read -r meta; read -r group; } < <("$PB_POSTCONF" -c "$conf" -h meta_directory setgid_group)
    if [ -z "$meta" ] || [ -z "$group" ]; then
        pb_die "postconf meta_directory setgid_group"
    fi
    [ -f "$meta/postfix-files" ] || pb_die "no $meta/postfix-files"
    # Lines like: $queue_directory/maildrop:d:$mail_owner:$setgid_group:730:uc
    while read -r path owner grp mode; do
        [ "$grp" = - ] && grp=
        install -d -o "$owner" ${grp:+-g "$grp"} -m "$mode" "$path" || pb_die "cannot make $path"
    done < <(awk -F: -v q="$PB_DIR/$1/queue" -v d="$PB_DIR/$1/data" -v g="$group" '
        $2 == "d" && $1 ~ /^\$(queue|data)_directory/ {
            path = $1; sub(/^\$queue_directory/, q, path); sub(/^\$data_directory/, d, path)
            owner = ($3 == "$mail_owner") ? "postfix" : $3
            grp = ($4 == "$setgid_group") ? g : $4
            print path, owner, grp, $5 }' "$meta/postfix-files")
    [ -d "$PB_DIR/$1/queue/pid" ] || pb_die "no queue directories made from $meta/postfix-files"
}

# pb_instance_start NAME ADDR PORT - start instance NAME; wait until ADDR:PORT listens.
pb_instance_start() {
    local name=$1 top=$PB_DIR/$1 t0
    t0=$(pb_now)
    # `postfix check` (run by `postfix start` too) makes missing queue
    # directories but costs ~3 s; make them here and let start skip the
    # checks through Postfix's own quick-start flag file.  On failure, run
    # the full check for its diagnostics.
    pb_queue_dirs "$name"
    pb_conf_age "$name"
    touch "$top/queue/quick-start"
    if ! "$PB_POSTFIX" -c "$top/etc" start >"$top/start.log" 2>&1; then
        # Early fatal errors go to syslog or a terminal only: ask again
        # with a terminal to show them.
        "$PB_POSTFIX" -c "$top/etc" check >>"$top/start.log" 2>&1
        command -v script >/dev/null 2>&1 &&
            script -qec "$PB_POSTFIX -c $top/etc start" /dev/null >>"$top/start.log" 2>&1
        cat "$top/start.log" >&2
        [ -f "$top/maillog" ] && tail -n 20 "$top/maillog" >&2
        pb_die "postfix start failed for instance $name"
    fi
    PB_INSTANCES="$PB_INSTANCES $name"
    if ! pb_wait_port "$2" "$3" 10; then
        [ -f "$top/maillog" ] && tail -n 20 "$top/maillog" >&2
        pb_die "instance $name: nothing listens on $2:$3"
    fi
    PB_T_INSTANCE=$(( $(pb_now) - t0 ))
}

# pb_restrictions - print the smtpd_*_restrictions lines for the PB_POLICY_* knobs.
pb_restrictions() {
    local policy='' relay='reject_unauth_destination' rcpt='' data=''
    if [ -n "$PB_POLICY_ENDPOINT" ]; then
        if [ -n "$PB_POLICY_OPTS" ]; then
            policy="check_policy_service { $PB_POLICY_ENDPOINT, $PB_POLICY_OPTS }"
        else
            policy="check_policy_service $PB_POLICY_ENDPOINT"
        fi
        case " $PB_POLICY_STAGES " in
            *" relay "*) relay="$policy, reject_unauth_destination" ;;
            *" recipient "*) relay=''; rcpt="$policy, reject_unauth_destination" ;;
        esac
        case " $PB_POLICY_STAGES " in
            *" data "*) data=$policy ;;
        esac
    fi
    printf 'smtpd_relay_restrictions = %s\n' "$relay"
    printf 'smtpd_recipient_restrictions = %s\n' "$rcpt"
    printf 'smtpd_data_restrictions = %s\n' "$data"
}

# pb_start - configure and start the receiving instance "rx" on 127.0.0.1:$PB_PORT.
pb_start() {
    local top=$PB_DIR/rx line
    [ -n "${PB_DIR:-}" ] || pb_die "pb_start before pb_init"
    mkdir -p "$top/etc" "$top/queue" "$top/data"
    [ -f "$PB_CERTS/server.pem" ] || pb_cert server "mx.$PB_DOMAIN"
    [ -x "$PB_DIR/bin/pbdeliver" ] || pb_write_deliver
    PB_PORT=${PB_PORT:-$(pb_free_port)}
    PB_CONF=$top/etc
    PB_MAILLOG=$top/maillog
    pb_master_cf rx "127.0.0.1:$PB_PORT inet n - n - - smtpd"
    pb_main_cf rx "mx.$PB_DOMAIN"
    {
        cat <<EOF
mydestination = $PB_DOMAIN
# every delivery, local or relayed, becomes a file: nothing leaves the machine
local_transport = pbfile
default_transport = pbfile
relay_transport = pbfile
pbfile_destination_recipient_limit = 1
smtpd_banner = \$myhostname ESMTP dance postfix bed
smtpd_tls_cert_file = $PB_CERTS/server.pem
smtpd_tls_key_file = $PB_CERTS/server.key
smtpd_tls_security_level = may
smtpd_tls_ask_ccert = yes
smtpd_tls_fingerprint_digest = sha256
smtpd_tls_loglevel = 1
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
EOF
        pb_restrictions
    } >> "$top/etc/main.cf"
    # Extra settings replace earlier ones in place (Postfix warns about
    # duplicate main.cf entries).
    while IFS= read -r line; do
        case $line in ''|'#'*) continue ;; esac
        pb_postconf rx "$line"
    done <<<"$PB_MAIN_EXTRA"
    pb_instance_start rx 127.0.0.1 "$PB_PORT"
    PB_T_START=$PB_T_INSTANCE
}

# pb_postconf [NAME] "key = value"... - edit the receiving instance's main.cf (NAME tx for the sender instance); takes effect at pb_restart.
pb_postconf() {
    local name=rx
    case ${1:-} in rx|tx) name=$1; shift ;; esac
    pb_conf_age "$name"
    "$PB_POSTCONF" -c "$PB_DIR/$name/etc" -e "$@" || pb_die "postconf -e $*"
    pb_conf_age "$name"
}

# pb_restart [NAME] - stop and start an instance (default the receiver), so new settings hold for the next connection.
pb_restart() {
    local name=${1:-rx} addr=127.0.0.1 port=$PB_PORT
    [ "$name" = tx ] && { addr=$PB_SENDER_ADDR; port=$PB_SENDER_PORT; }
    pb_instance_stop "$name"
    # shellcheck disable=SC2086
    PB_INSTANCES=$(printf '%s\n' $PB_INSTANCES | { grep -vx "$name" || :; } | tr '\n' ' ')
    pb_instance_start "$name" "$addr" "$port"
}

# pb_set_policy ENDPOINT - point the receiver's restrictions at a (new) policy service and restart it.
pb_set_policy() {
    local line
    PB_POLICY_ENDPOINT=$1
    pb_restrictions > "$PB_DIR/restrictions.cf"
    while IFS= read -r line; do
        pb_postconf rx "$line"
    done < "$PB_DIR/restrictions.cf"
    pb_restart rx
}

# pb_sender_start CERT KEY HELO - a second instance "tx" on 127.0.0.2 relaying everything to the receiver with STARTTLS and the client certificate.
pb_sender_start() {
    local top=$PB_DIR/tx
    PB_SENDER_ADDR=${PB_SENDER_ADDR:-127.0.0.2}
    mkdir -p "$top/etc" "$top/queue" "$top/data"
    [ -x "$PB_DIR/bin/pbdeliver" ] || pb_write_deliver
    PB_SENDER_PORT=${PB_SENDER_PORT:-$(pb_free_port "$PB_SENDER_ADDR")}
    pb_master_cf tx "$PB_SENDER_ADDR:$PB_SENDER_PORT inet n - n - - smtpd"
    pb_main_cf tx "$3"
    # Postfix refuses inet_interfaces = 127.0.0.2 ("no local interface
    # found": only 127.0.0.1 is configured on lo), but the explicit
    # master.cf listener and smtp_bind_address work on Linux's 127/8.
    pb_postconf tx "smtp_bind_address = $PB_SENDER_ADDR"
    cat >> "$top/etc/main.cf" <<EOF
mydestination =
relayhost = [127.0.0.1]:$PB_PORT
smtp_helo_name = $3
smtp_tls_security_level = encrypt
smtp_tls_cert_file = $1
smtp_tls_key_file = $2
smtp_tls_loglevel = 1
# one connection at a time, kept open and reused (TLS included) for the next
# message: messages submitted within a few seconds share one SMTP session
smtp_destination_concurrency_limit = 1
smtp_tls_connection_reuse = yes
smtp_connection_cache_destinations = 127.0.0.1
smtp_connection_cache_time_limit = 5s
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
EOF
    pb_instance_start tx "$PB_SENDER_ADDR" "$PB_SENDER_PORT"
    PB_T_SENDER_START=$PB_T_INSTANCE
}

# ---------------------------------------------------------------------------
# Sending.  Each client's transcript goes to $PB_DIR/client.N.log
# ($PB_LAST_OUT); the client's exit status is returned; PB_T_SEND is its
# duration.

# pb_client CMD... - run one client command, keep its transcript.
pb_client() {
    local t0 rc
    PB_NCLIENT=$((PB_NCLIENT + 1))
    PB_LAST_OUT=$PB_DIR/client.$PB_NCLIENT.log
    t0=$(pb_now)
    "$@" >"$PB_LAST_OUT" 2>&1
    rc=$?
    PB_T_SEND=$(( $(pb_now) - t0 ))
    return $rc
}

# pb_swaks ARGS... - swaks against the receiver (or $PB_TO_ADDR:$PB_TO_PORT when set).
pb_swaks() {
    pb_client swaks --server "${PB_TO_ADDR:-127.0.0.1}" --port "${PB_TO_PORT:-$PB_PORT}" \
        --timeout 30 --h-Subject "pb test" "$@"
}

# pb_list A B... - join addresses with commas (swaks --to syntax).
pb_list() {
    local IFS=,
    printf '%s' "$*"
}

# pb_send_cert CERT KEY EHLO FROM TO... - one message over STARTTLS presenting the client certificate.
pb_send_cert() {
    local cert=$1 key=$2 ehlo=$3 from=$4
    shift 4
    pb_swaks --tls --tls-cert "$cert" --tls-key "$key" --ehlo "$ehlo" \
        --from "$from" --to "$(pb_list "$@")"
}

# pb_send_tls EHLO FROM TO... - one message over STARTTLS without a client certificate.
pb_send_tls() {
    local ehlo=$1 from=$2
    shift 2
    pb_swaks --tls --ehlo "$ehlo" --from "$from" --to "$(pb_list "$@")"
}

# pb_send_plain EHLO FROM TO... - one message without STARTTLS.
pb_send_plain() {
    local ehlo=$1 from=$2
    shift 2
    pb_swaks --ehlo "$ehlo" --from "$from" --to "$(pb_list "$@")"
}

# pb_smtp ARGS... - smtpclient.py against the receiver: --count N messages over one connection (see its --help).
pb_smtp() {
    pb_client "$PB_PYTHON" "$PB_LIBDIR/smtpclient.py" --server 127.0.0.1 --port "$PB_PORT" "$@"
}

# pb_submit EHLO FROM TO... - hand one plain message to the sender instance, which relays it with its certificate.
pb_submit() {
    local ehlo=$1 from=$2
    shift 2
    PB_TO_ADDR=$PB_SENDER_ADDR PB_TO_PORT=$PB_SENDER_PORT \
        pb_swaks --ehlo "$ehlo" --from "$from" --to "$(pb_list "$@")"
}

# ---------------------------------------------------------------------------
# Delivered messages.

# pb_mail_files - list the delivered message files, oldest first.
pb_mail_files() {
    find "$PB_MAILDIR" -maxdepth 1 -name '[0-9]*.eml' -printf '%f\n' | sort | sed "s|^|$PB_MAILDIR/|"
}

# pb_mail_mark - remember what was delivered so far (pb_wait_mail counts from here) and the time.
pb_mail_mark() {
    PB_MAIL_MARK=$(pb_mail_files | wc -l)
    PB_T_MARK=$(pb_now)
}

# pb_wait_mail N [SECONDS] - wait (default 20 s) until N messages arrived since pb_mail_mark; sets PB_MAILS, PB_MAIL.
pb_wait_mail() {
    local want=$1 deadline have
    deadline=$(( $(pb_now) + ${2:-20} * 1000 ))
    while :; do
        mapfile -t PB_MAILS < <(pb_mail_files | tail -n +$((PB_MAIL_MARK + 1)))
        have=${#PB_MAILS[@]}
        [ "$have" -ge "$want" ] && break
        if [ "$(pb_now)" -ge "$deadline" ]; then
            pb_log "pb_wait_mail: $have of $want messages after ${2:-20} s; maillog tail:"
            tail -n 8 "$PB_MAILLOG" | sed 's/^/#   /' >&2
            PB_MAIL=
            return 1
        fi
        sleep 0.02
    done
    PB_MAIL=${PB_MAILS[0]}
    PB_T_DELIVERY=$(( $(pb_now) - PB_T_MARK ))
    return 0
}

# pb_headers FILE - the message's header section, folded lines joined, CR removed.
pb_headers() {
    awk '{ sub(/\r$/, "") }
         /^$/ { exit }
         /^[ \t]/ { cur = cur " " substr($0, 2); next }
         { if (n++) print cur; cur = $0 }
         END { if (n) print cur }' "$1"
}

# pb_first_header FILE - the first header field of the message (unfolded).
pb_first_header() {
    pb_headers "$1" | head -n 1
}

# pb_header FILE NAME - the value of every NAME field (case-insensitive), one a line, in order.
pb_header() {
    pb_headers "$1" | awk -v n="$2" '
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == tolower(n)) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v } }'
}

# pb_header_count FILE NAME - how many NAME fields the message has.
pb_header_count() {
    pb_header "$1" "$2" | wc -l
}

# pb_queue_ids - the queue IDs the receiver logged as delivered (status=sent), in order.
pb_queue_ids() {
    sed -n 's/.*postfix\/pipe\[[0-9]*\]: \([0-9A-F]*\): .*status=sent.*/\1/p' "$PB_MAILLOG"
}

# ---------------------------------------------------------------------------
# The fake policy service (fake_policy.py) and the policy request log.

# pb_policy_start [fake_policy.py options] - start the fake policy service; sets PB_POLICY_ENDPOINT/PORT/LOG.
pb_policy_start() {
    local pf
    PB_POLICY_LOG=${PB_POLICY_LOG:-$PB_DIR/policy.jsonl}
    pf=$PB_DIR/policy.port
    rm -f "$pf"
    "$PB_PYTHON" "$PB_LIBDIR/fake_policy.py" --log "$PB_POLICY_LOG" --port-file "$pf" "$@" \
        2>>"$PB_DIR/policy.err" &
    PB_POLICY_PID=$!
    PB_PIDS="$PB_PIDS $PB_POLICY_PID"
    for _ in $(seq 250); do
        [ -s "$pf" ] && break
        kill -0 "$PB_POLICY_PID" 2>/dev/null || pb_die "fake_policy.py died: $(tail -n 3 "$PB_DIR/policy.err")"
        sleep 0.02
    done
    [ -s "$pf" ] || pb_die "fake_policy.py did not start"
    PB_POLICY_PORT=$(cat "$pf")
    PB_POLICY_ENDPOINT=inet:127.0.0.1:$PB_POLICY_PORT
}

# pb_policy_stop - stop the fake policy service.
pb_policy_stop() {
    [ -n "${PB_POLICY_PID:-}" ] || return 0
    pb_kill_wait "$PB_POLICY_PID"
    # shellcheck disable=SC2086
    PB_PIDS=$(printf '%s\n' $PB_PIDS | { grep -vx "$PB_POLICY_PID" || :; } | tr '\n' ' ')
    PB_POLICY_PID=
}

# pb_policy_mark - later pb_policy_field calls see only requests logged after this point.
pb_policy_mark() {
    if [ -n "$PB_POLICY_LOG" ] && [ -f "$PB_POLICY_LOG" ]; then
        PB_POLICY_MARK=$(wc -l < "$PB_POLICY_LOG")
    else
        PB_POLICY_MARK=0
    fi
}

# pb_policy_field NAME [STATE] - NAME's value in each request since the mark (only protocol_state STATE if given), one a line; .conn .seq .action are the log's own fields.
pb_policy_field() {
    [ -n "$PB_POLICY_LOG" ] && [ -f "$PB_POLICY_LOG" ] || return 1
    "$PB_PYTHON" - "$PB_POLICY_LOG" "$PB_POLICY_MARK" "$1" "${2:-}" <<'EOF'
import json, sys
path, mark, name, state = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path, encoding="utf-8") as f:
    lines = f.read().splitlines()[mark:]
for line in lines:
    rec = json.loads(line)
    attrs = rec["attrs"]
    if state and attrs.get("protocol_state") != state:
        continue
    if name.startswith("."):
        print(rec[name[1:]])
    else:
        print(attrs.get(name, ""))
EOF
}

# pb_policy_requests [STATE] - the requests since the mark in wire form (name=value lines, empty line after each): fixtures.
pb_policy_requests() {
    [ -n "$PB_POLICY_LOG" ] && [ -f "$PB_POLICY_LOG" ] || return 1
    "$PB_PYTHON" - "$PB_POLICY_LOG" "$PB_POLICY_MARK" "${1:-}" <<'EOF'
import json, sys
path, mark, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, encoding="utf-8") as f:
    lines = f.read().splitlines()[mark:]
for line in lines:
    attrs = json.loads(line)["attrs"]
    if state and attrs.get("protocol_state") != state:
        continue
    sys.stdout.write("".join("%s=%s\n" % kv for kv in attrs.items()) + "\n")
EOF
}

# pb_policy_count [STATE] - number of requests since the mark (of protocol_state STATE if given).
pb_policy_count() {
    pb_policy_field .seq "${1:-}" | wc -l
}
