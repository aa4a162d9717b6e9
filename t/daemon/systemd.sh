#!/bin/bash
# systemd.sh - danced under systemd's protocols, without a running systemd.
#
# Type=notify: a datagram socket of the test's (t/daemon/notifysink.py) is
# danced's NOTIFY_SOCKET.  It records every message with the sender's
# credentials (SO_PASSCRED) and, on READY=1, whether the policy socket
# accepts a connection at that moment.  Cases:
#   - READY=1 comes once, after the sockets are bound and privileges are
#     dropped (the sender's uid is nobody's) and while the policy socket
#     accepts; its STATUS= counts the open connections;
#   - SIGHUP: RELOADING=1 with MONOTONIC_USEC (a monotonic time within the
#     test's window), then READY=1 "configuration reloaded"; a broken file:
#     RELOADING=1, READY=1 "reload refused";
#   - SIGTERM: STOPPING=1, then danced exits 0.
# Socket activation, with systemd-socket-activate (Debian: systemd)
# holding the sockets:
#   - a TCP policy socket and a unix milter socket passed to danced: it
#     takes both (no bind of its own), answers a policy request with
#     dane=pass through the inherited socket, and leaves the unix socket
#     file in place when it stops (it is systemd's);
#   - a passed socket no endpoint of dance.conf names: danced refuses to
#     start and says which.
#
# Output is TAP with the plan at the end.  Skipped (1..0) without the
# DNSSEC bed's tools; the socket-activation cases are skipped without
# systemd-socket-activate, everything when danced was built without
# systemd support (configure --without-systemd).
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/daemon/systemd.sh

TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DANCED=${DANCED:-$PWD/danced/danced}
DANCE=${DANCE:-$PWD/cli/dance}
# shellcheck disable=SC2034  # read by testbed.sh: a broken bed prints "Bail out!"
TB_TAP=1

# shellcheck source=t/dns/testbed.sh
. "$TESTDIR/dns/testbed.sh"
# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"

tap_need_beds
tap_need_binaries
if ! grep -q 'sd_notify' "$DANCED" 2>/dev/null && ! ldd "$DANCED" 2>/dev/null | grep -q libsystemd; then
    echo "1..0 # SKIP $DANCED was built without systemd support"
    exit 0
fi
# shellcheck source=t/daemon/ask.sh
. "$TESTDIR/daemon/ask.sh"

# tap_diag - on failure: the notifications and danced's last lines.
tap_diag() {
    [ -s "${NLOG:-}" ] && tail -n 6 "$NLOG" | sed 's/^/#   notify: /'
    [ -s "${DLOG:-}" ] && tail -n 4 "$DLOG" | cut -c1-300 | sed 's/^/#   danced: /'
    return 0
}

# notes - the notifications received so far, one per line ("uid=N pid=N accepting=B TEXT").
notes() {
    cat "$NLOG" 2>/dev/null
}

# wait_note REGEX [N] - wait (10 s) until N (default 1) notifications match REGEX.
wait_note() {
    local i
    for i in $(seq 1 200); do
        [ "$(grep -cE "$1" "$NLOG" 2>/dev/null)" -ge "${2:-1}" ] && return 0
        sleep 0.05
    done
    why "no notification matching /$1/ (got: $(tr '\n' '|' <"$NLOG" | cut -c1-300))"
}

# conf FILE LINES... - a danced configuration on the DNSSEC bed.
conf() {
    local f=$1
    shift
    {
        echo "resolver_config = $TB_CONF"
        echo "trust_anchor_file = $TB_TA"
        echo "dns_timeout = 3"
        echo "authserv_id = mx.dest.test"
        printf '%s\n' "$@"
    } >"$f"
}

# ---------------------------------------------------------------------------
tb_init
tb_standard_bed
C=$TB_CERTS
D=$TB_DIR
chmod 0711 "$D"      # danced re-reads its file as nobody on SIGHUP
GOOD_SPKI=$(tb_fingerprint 1 sha256 "$C/good.pem")
GOOD_CERT=$(tb_fingerprint 0 sha256 "$C/good.pem")
GOOD=(ccert_pubkey_fingerprint="$GOOD_SPKI" ccert_fingerprint="$GOOD_CERT" helo_name=mta1.ok.test
      sender=s@mta1.ok.test recipient=r@elsewhere.example)
NOBODY=$(id -u nobody)

# --- Type=notify -------------------------------------------------------------------
PORT=$(tb_free_port)
NSOCK=$D/notify.sock
NLOG=$D/notify.log
DLOG=$D/danced.log
conf "$D/n.conf" "policy_socket = inet:127.0.0.1:$PORT" "user = nobody"
cp "$D/n.conf" "$D/n.good"
"$TB_PYTHON" "$TESTDIR/daemon/notifysink.py" "$NSOCK" "$NLOG" 127.0.0.1 "$PORT" &
TB_PIDS="$TB_PIDS $!"
for _ in $(seq 1 100); do [ -S "$NSOCK" ] && break; sleep 0.02; done
read -r up _ </proc/uptime
T0=$(( ${up/./} * 10000 ))
NOTIFY_SOCKET=$NSOCK danced_run "$D/n.conf" "$DLOG"
wait_note 'READY=1'
rc=$?
[ "$rc" = 0 ] && { notes | grep 'READY=1' | grep -q "uid=$NOBODY " || why "READY=1 not sent as nobody: $(notes | grep READY)"; }
[ "$rc" = 0 ] && { notes | grep 'READY=1' | grep -q 'accepting=yes' || why "the policy socket did not accept at READY=1"; }
[ "$rc" = 0 ] && { notes | grep 'READY=1' | grep -q 'STATUS=ready; 0 policy connections open, 0 verdicts' \
    || why "STATUS: $(notes | grep -o 'STATUS=[^|]*' | head -n 1)"; }
[ "$(notes | grep -c 'READY=1')" = 1 ] || why "$(notes | grep -c 'READY=1') READY=1, want 1"
report $? "READY=1 once, after privileges are dropped (uid nobody) and while the policy socket accepts, with a STATUS line"

kill -HUP "$DANCED_PID"
wait_note 'READY=1' 2 && {
    notes | sed -n '2p' | grep -q 'RELOADING=1' || why "second notification: $(notes | sed -n '2p')"
    us=$(notes | sed -n 's/.*MONOTONIC_USEC=\([0-9]*\).*/\1/p' | head -n 1)
    read -r up _ </proc/uptime
    T1=$(( ${up/./} * 10000 ))
    # /proc/uptime counts CLOCK_BOOTTIME; without a suspend it equals CLOCK_MONOTONIC to the tick
    [ -n "$us" ] && [ "$us" -ge $((T0 - 20000)) ] && [ "$us" -le $((T1 + 20000)) ] \
        || why "MONOTONIC_USEC=$us not within [$T0, $T1]"
    notes | sed -n '3p' | grep -q 'READY=1.*STATUS=configuration reloaded' || why "third: $(notes | sed -n '3p')"
}
report $? "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 'configuration reloaded'"

echo "no_such_key = 1" >>"$D/n.conf"
kill -HUP "$DANCED_PID"
wait_note 'READY=1' 3 && {
    notes | sed -n '4p' | grep -q 'RELOADING=1' || why "fourth notification: $(notes | sed -n '4p')"
    notes | sed -n '5p' | grep -q 'READY=1.*STATUS=reload refused' || why "fifth: $(notes | sed -n '5p')"
}
report $? "a broken file on SIGHUP: RELOADING=1, then READY=1 'reload refused, running configuration kept'"

danced_end "$DANCED_PID" "$DLOG" TERM || why "danced did not stop cleanly"
notes | tail -n 1 | grep -q 'STOPPING=1' || why "last notification: $(notes | tail -n 1)"
report $? "SIGTERM: STOPPING=1, then danced exits 0"

# --- socket activation -------------------------------------------------------------------
if ! command -v systemd-socket-activate >/dev/null 2>&1; then
    tap_skip "socket activation" "systemd-socket-activate is not installed (Debian: systemd)"
    tap_end
    exit
fi
PORT=$(tb_free_port)
MSOCK=$D/milter.sock
DLOG=$D/act.log
conf "$D/a.conf" "policy_socket = inet:127.0.0.1:$PORT" "milter_socket = unix:$MSOCK" "peer_users = root" \
    "authorized_clients = mta1.ok.test"
systemd-socket-activate -l "127.0.0.1:$PORT" -l "$MSOCK" "$DANCED" -f -c "$D/a.conf" >"$DLOG" 2>&1 &
SA_PID=$!
TB_PIDS="$TB_PIDS $SA_PID"
for _ in $(seq 1 100); do [ -S "$MSOCK" ] && break; sleep 0.02; done
# systemd-socket-activate starts danced on the first connection: this one
$CLIENT "inet:127.0.0.1:$PORT" ask "${GOOD[@]}" --timeout 10 >"$D/out" 2>&1 </dev/null
grep -q '"replies": \["OK' "$D/out" || why "reply: $(head -c 300 "$D/out")"
grep -q 'verdict result=pass' "$DLOG" || why "no pass verdict logged"
grep -q 'ready on' "$DLOG" || why "danced did not get ready"
if grep -qi 'cannot listen\|address already in use' "$DLOG"; then why "danced tried to bind by itself"; fi
report $? "socket activation: danced takes the passed TCP policy socket and, through it, lets the partner with a pass relay (OK)"

DPID=$(pgrep -f -- "^$DANCED -f -c $D/a.conf" | head -n 1)
[ -n "$DPID" ] && [ "$(readlink "/proc/$DPID/exe")" = "$(readlink -f "$DANCED")" ] || why "no danced process"
fds=$(find "/proc/$DPID/fd" -maxdepth 1 -lname 'socket:*' 2>/dev/null | wc -l)
[ -n "$DPID" ] && kill -TERM "$DPID"
for _ in $(seq 1 100); do grep -q 'stopped' "$DLOG" && break; sleep 0.05; done
grep -q 'stopped' "$DLOG" || why "danced did not stop"
[ -S "$MSOCK" ] || why "the inherited unix socket file was removed"
report $? "the passed unix milter socket is taken too, and its file left to systemd when danced stops ($fds sockets open)"
kill "$SA_PID" 2>/dev/null
wait "$SA_PID" 2>/dev/null

OTHER=$(tb_free_port)
conf "$D/m.conf" "policy_socket = inet:127.0.0.1:$PORT"
systemd-socket-activate -l "127.0.0.1:$OTHER" "$DANCED" -f -c "$D/m.conf" >"$D/m.log" 2>&1 &
SA_PID=$!
TB_PIDS="$TB_PIDS $SA_PID"
sleep 0.3
$CLIENT "inet:127.0.0.1:$OTHER" ask "${GOOD[@]}" --timeout 3 >"$D/out" 2>&1 </dev/null
for _ in $(seq 1 100); do grep -q 'matches no policy_socket' "$D/m.log" && break; sleep 0.05; done
grep -q "systemd passed 1 listening socket, and 1 of them .*matches no policy_socket, milter_socket or stats_socket" "$D/m.log" \
    || why "log: $(tail -n 2 "$D/m.log" | tr '\n' ' ')"
if pgrep -f -- "^$DANCED -f -c $D/m.conf" >/dev/null; then why "danced runs"; fi
report $? "a passed socket that dance.conf does not name: danced refuses to start and says so"
kill "$SA_PID" 2>/dev/null
wait "$SA_PID" 2>/dev/null

tap_end
