#!/bin/bash
# faults.sh - danced under faults: hostile clients, broken DNS, signals under
# load, a log nobody can write.
#
# The DNSSEC bed of t/dns/testbed.sh (nsd on loopback, plus servers that
# never answer, answer SERVFAIL, or truncate UDP and refuse TCP), danced
# with its policy service on loopback, and the clients of
# t/daemon/faultclient.py and t/daemon/policyclient.py.  Each case checks
# the documented outcome, that it is never a pass, and that danced goes on
# serving the other connections:
#   clients   a slow-loris (a byte every 0.5 s) is closed at request_timeout
#             while another connection is answered; a request dropped half
#             way (FIN, and a TCP reset); 100 KB of binary noise; 10,000
#             connections opened and abandoned, half of them mid-request:
#             danced still answers, and its memory (VmRSS) comes back to
#             within 2 MB of what it was before;
#   DNS       SERVFAIL, truncated answers with TCP refused: temperror, fast,
#             while another connection gets its pass; an RRset that needs
#             TCP: pass; nsd killed mid-run: cached answers still pass, a
#             new look-up is temperror, and once nsd is back and the error
#             has aged out of the cache, it passes;
#   signals   10 SIGHUPs during 3 s of load on 20 connections: every request
#             answered, no connection dropped; SIGTERM with 50 look-ups in
#             flight: all 50 answered before danced exits 0;
#   logging   stderr on a full device (/dev/full), and danced in the
#             background without a syslog socket: verdicts keep coming;
#   open files a soft limit below what max_connections and the resolver need
#             is raised (to 100 + 1040 + 256 = 1396 here); a hard limit
#             below it gives a warning naming the numbers and the fix, and
#             danced serves anyway; with the milter face on too, the two
#             faces' limits are cut in proportion to the descriptors left
#             (300 of 600: 27 policy, 273 milter), so 400 idle milter
#             connections take only their share and the policy face still
#             answers.
#
# Output is TAP with the plan at the end.  Skipped (1..0) without the DNS
# bed's tools.  Everything started here is stopped on exit.  Takes about
# 30 s.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand:
#     DANCED=danced/danced DANCE=cli/dance /path/to/t/daemon/faults.sh

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

# shellcheck source=t/daemon/ask.sh
. "$TESTDIR/daemon/ask.sh"
FAULT="$TB_PYTHON $TESTDIR/daemon/faultclient.py"

# tap_diag - on failure: the client's output and danced's last lines.
tap_diag() {
    [ -s "$TB_DIR/out" ] && cut -c1-400 "$TB_DIR/out" | sed 's/^/#   out: /'
    [ -f "$DLOG" ] && tail -n 3 "$DLOG" | cut -c1-300 | sed 's/^/#   danced: /'
    return 0
}

# j EXPR - the python expression EXPR over the JSON in $TB_DIR/out holds (else why).
j() {
    tb_json_is "$1" || why "$WHY"
}

# rss PID - danced's resident memory in kB.
rss() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# conf FILE EXTRA... - danced's configuration for these tests.
conf() {
    local f=$1
    shift
    {
        printf '%s\n' "resolver_config = $TB_CONF" "trust_anchor_file = $TB_TA" "dns_timeout = 2" \
            "cache_error_ttl = 1" "policy_socket = inet:127.0.0.1:$PORT" "authserv_id = mx.dest.test" \
            "authorized_clients = .ok.test, .servfail.test, .trunc.test, .dead.test" \
            "request_timeout = 2" "idle_timeout = 60"
        printf '%s\n' "$@"
    } > "$f"
}

# ---------------------------------------------------------------------------
tb_init
tb_standard_bed
C=$TB_CERTS
GOOD=(ccert_pubkey_fingerprint="$(tb_fingerprint 1 sha256 "$C/good.pem")"
      ccert_fingerprint="$(tb_fingerprint 0 sha256 "$C/good.pem")")
PORT=$(tb_free_port)
EP=inet:127.0.0.1:$PORT
DCONF=$TB_DIR/danced.conf
DLOG=$TB_DIR/danced.log
conf "$DCONF"
danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts (dns_timeout 2 s, request_timeout 2 s)"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }
DP=$DANCED_PID

$CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
j "j['replies'] == ['OK']"
report $? "a healthy request passes (OK)"

# --- hostile clients -----------------------------------------------------------------
$FAULT "$EP" loris --every 0.5 --max 10 >"$TB_DIR/loris.out" 2>&1 &
LORIS=$!
sleep 0.5
$CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
j "j['replies'] == ['OK']"
report $? "while a slow-loris trickles its request, another connection is answered"
wait "$LORIS"
cp "$TB_DIR/loris.out" "$TB_DIR/out"
j "j['closed'] and j['reply'] is None and 1800 <= j['closed_after_ms'] <= 4500" \
    && { grep -q 'a request still incomplete after 2 s (request_timeout); closing' "$DLOG" || why "no log line"; }
report $? "the slow-loris (a byte every 0.5 s) is closed at request_timeout (2 s), unanswered, and logged"
head -c 200 "$TB_DIR/out" | sed 's/^/#   /'; echo

$FAULT "$EP" drop --bytes 200 >"$TB_DIR/out" 2>&1
$FAULT "$EP" drop --bytes 100 --rst >>"$TB_DIR/out" 2>&1
head -c 102400 /dev/urandom | $TB_PYTHON -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
try:
    s.sendall(sys.stdin.buffer.read())
except OSError:
    pass' "$PORT"
$CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
j "j['replies'] == ['OK']" && { grep -q 'connection closed in the middle of a request' "$DLOG" || why "no log line"; }
report $? "requests dropped half way (FIN, reset) and 100 KB of noise close their own connections only"

$FAULT "$EP" abandon --conns 1000 --batch 500 --partial >"$TB_DIR/out" 2>&1   # warm the allocator
sleep 0.5
R0=$(rss "$DP")
$FAULT "$EP" abandon --conns 5000 --batch 500 >"$TB_DIR/out" 2>&1 \
    && j "j['opened'] == 5000 and j['failed'] == 0"
$FAULT "$EP" abandon --conns 5000 --batch 500 --partial >"$TB_DIR/out.2" 2>&1 \
    && cp "$TB_DIR/out.2" "$TB_DIR/out" && j "j['opened'] == 5000 and j['failed'] == 0"
sleep 1
R1=$(rss "$DP")
$CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
if ldd "$DANCED" 2>/dev/null | grep -q libasan || [ -n "${DANCE_VALGRIND:-}" ]; then
    # ASan and valgrind keep freed memory in quarantine: VmRSS says nothing
    # here; their leak reports at exit are the memory check.
    j "j['replies'] == ['OK']"
    report $? "10,000 connections opened and abandoned (5,000 mid-request): still answering (ASan or valgrind: VmRSS ${R0} -> ${R1} kB not judged)"
else
    j "j['replies'] == ['OK']" && { [ $((R1 - R0)) -le 2048 ] || why "VmRSS ${R0} kB before, ${R1} kB after"; }
    report $? "10,000 connections opened and abandoned (5,000 mid-request): still answering, VmRSS ${R0} -> ${R1} kB"
fi

# --- broken DNS --------------------------------------------------------------------
for name in mta1.servfail.test mta1.trunc.test; do
    $CLIENT "$EP" slow --slow helo_name="$name" --fast-count 5 helo_name=mta1.ok.test "${GOOD[@]}" \
        >"$TB_DIR/out" 2>&1
    j "j['slow'].startswith('DEFER_IF_PERMIT') and j['fast'] == ['OK'] * 5 and max(j['fast_ms']) < 500"
    report $? "$name: temperror (DEFER_IF_PERMIT for an authorized client) while another connection passes"
done

$CLIENT "$EP" ask helo_name=big.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
j "j['replies'] == ['OK']"
report $? "a TLSA RRset that needs TCP: pass (OK)"

tb_nsd_kill
$CLIENT "$EP" ask helo_name=ee301.ok.test "${GOOD[@]}" --timeout 10 >"$TB_DIR/out" 2>&1
$CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out.cached" 2>&1
j "j['replies'][0].startswith('DEFER_IF_PERMIT')" \
    && { cp "$TB_DIR/out.cached" "$TB_DIR/out"; j "j['replies'] == ['OK']"; }
report $? "nsd killed: a new look-up (ee301) is temperror, a cached one (mta1) still passes"
tb_nsd_restart
sleep 1.2                                    # cache_error_ttl = 1 s
$CLIENT "$EP" ask helo_name=ee301.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
j "j['replies'] == ['OK']"
report $? "nsd back on its port, the error aged out of the cache: ee301 passes again"

# --- signals under load ---------------------------------------------------------------
$FAULT "$EP" load --conns 20 --seconds 3 --pid "$DP" --signal HUP --count 10 \
    helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
j "j['sent'] > 100 and j['answered'] == j['sent'] and j['lost'] == 0 and j['closed'] == 0 and j['errors'] == [] and list(j['actions']) == ['OK']" \
    && { [ "$(grep -c 'configuration reloaded' "$DLOG")" -ge 1 ] || why "no reload logged"; }
report $? "10 SIGHUPs during 3 s of load on 20 connections: every request answered OK, none dropped"
printf '#   %s; %s reloads logged\n' "$(head -c 160 "$TB_DIR/out")" "$(grep -c 'configuration reloaded' "$DLOG")"

$CLIENT "$EP" many --conns 50 --timeout 10 helo_name=mta1.dead.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1 &
MANY=$!
sleep 0.7
t0=$(date +%s%3N)
kill -TERM "$DP"
wait "$MANY"
j "j['connected'] == 50 and j['answered'] == 50 and all(a.startswith('DEFER_IF_PERMIT') for a in j['actions'])"
report $? "SIGTERM with 50 look-ups in flight: all 50 answered (temperror) before danced stops"
danced_end "$DP" "$DLOG" TERM
report $? "danced then exits 0 after $(( $(date +%s%3N) - t0 )) ms, no sanitizer report"

# --- logging that fails --------------------------------------------------------------
conf "$DCONF"
"$DANCED" -f -c "$DCONF" </dev/null >/dev/full 2>/dev/full &
DP=$!
TB_PIDS="$TB_PIDS $DP"
$CLIENT "$EP" wait --max 10 >/dev/null 2>&1
$CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
j "j['replies'] == ['OK']"
report $? "stderr on a full device (/dev/full): verdicts still answered"
danced_end "$DP" /dev/null TERM
report $? "and danced still exits 0 on SIGTERM"

conf "$DCONF" "pid_file = $TB_DIR/danced.pid"
# In the background danced logs to syslog; this machine may have no /dev/log.
if [ -S /dev/log ] && command -v unshare >/dev/null 2>&1; then
    HIDE=(unshare --mount sh -c 'mount --bind /dev/null /dev/log && exec "$0" "$@"')
else
    HIDE=()
fi
"${HIDE[@]}" "$DANCED" -c "$DCONF" </dev/null >"$TB_DIR/bg.out" 2>&1
rc=$?
DP=$(cat "$TB_DIR/danced.pid" 2>/dev/null)
[ -n "$DP" ] && TB_PIDS="$TB_PIDS $DP"
$CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
[ "$rc" = 0 ] || why "danced (background) exit status $rc: $(cat "$TB_DIR/bg.out")"
j "j['replies'] == ['OK']"
report $? "in the background without a syslog socket: verdicts still answered"
# not our child (it forked): no exit status to wait for; it must go and take its pid file along
kill -TERM "$DP" 2>/dev/null
for _ in $(seq 1 100); do
    tb_running "$DP" || break
    sleep 0.1
done
! tb_running "$DP" || why "still running 10 s after SIGTERM"
[ ! -e "$TB_DIR/danced.pid" ] || why "the pid file is still there"
report $? "and the background danced exits on SIGTERM and removes its pid file"

# --- the open-file limit -------------------------------------------------------------
# lowfd SOFT [HARD] - a danced started with these open-file limits (ulimit -n).
lowfd() {
    printf '#!/bin/bash\nulimit -S -n %s || exit 1\n%s\nexec "%s" "$@"\n' "$1" \
        "${2:+ulimit -H -n $2 || exit 1}" "$DANCED" > "$TB_DIR/lowfd"
    chmod +x "$TB_DIR/lowfd"
}
NEED=$((100 + 1024 + 16 + 256))     # max_connections + RESOLVER_OUTGOING_* + DANCED_NOFILE_SPARE
conf "$DCONF" "max_connections = 100"
if [ -n "${DANCE_VALGRIND:-}" ]; then
    # valgrind keeps descriptors of its own and reports a soft limit below the real one
    tap_skip "a soft open-file limit of 512 is raised to $NEED" "under valgrind"
    tap_skip "a hard open-file limit of 600: a warning with the numbers, and danced serves" "under valgrind"
    tap_skip "hard limit 600, both faces: the faces' limits cut in proportion" "under valgrind"
elif [ "$(ulimit -H -n)" != unlimited ] && [ "$(ulimit -H -n)" -lt "$NEED" ]; then
    tap_skip "a soft open-file limit of 512 is raised to $NEED" "the hard limit here is $(ulimit -H -n)"
    tap_skip "a hard open-file limit of 600: a warning with the numbers, and danced serves" "the hard limit here is $(ulimit -H -n)"
    tap_skip "hard limit 600, both faces: the faces' limits cut in proportion" "the hard limit here is $(ulimit -H -n)"
else
    lowfd 512
    : > "$TB_DIR/fd.log"
    DANCED=$TB_DIR/lowfd danced_run "$DCONF" "$TB_DIR/fd.log"
    DP=$DANCED_PID
    soft=$(awk '/^Max open files/ { print $4 }' "/proc/$DP/limits" 2>/dev/null)
    $CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
    j "j['replies'] == ['OK']"
    [ "$soft" = "$NEED" ] || why "soft limit of the running danced: ${soft:-?}, not $NEED"
    grep -q "open-file limit raised from 512 to $NEED (max_connections 100, 1040 DNS queries in flight, 256 spare)" \
        "$TB_DIR/fd.log" || why "no log line for the raise: $(grep -m1 'open-file' "$TB_DIR/fd.log")"
    report $? "a soft open-file limit of 512 is raised to $NEED, logged with its reasons"
    danced_end "$DP" "$TB_DIR/fd.log" TERM

    lowfd 600 600
    : > "$TB_DIR/fd.log"
    DANCED=$TB_DIR/lowfd danced_run "$DCONF" "$TB_DIR/fd.log"
    DP=$DANCED_PID
    $CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
    j "j['replies'] == ['OK']"
    grep -q "warning: open-file limit 600 (hard limit 600) is below the $NEED that max_connections 100, .*LimitNOFILE=.*ulimit -n.*at most 100 policy connections" \
        "$TB_DIR/fd.log" || why "no warning: $(grep -m1 'open-file' "$TB_DIR/fd.log")"
    report $? "a hard open-file limit of 600: a warning with the numbers and the fix, and danced serves"
    danced_end "$DP" "$TB_DIR/fd.log" TERM

    MPORT=$(tb_free_port)
    conf "$DCONF" "max_connections = 100" "milter_socket = inet:127.0.0.1:$MPORT" \
        "milter_max_connections = 1000" "peer_users = any"
    : > "$TB_DIR/fd.log"
    DANCED=$TB_DIR/lowfd danced_run "$DCONF" "$TB_DIR/fd.log"
    DP=$DANCED_PID
    "$TB_PYTHON" "$TESTDIR/milter/miltclient.py" "inet:127.0.0.1:$MPORT" idle --conns 400 --max 3 \
        >"$TB_DIR/idle.out" 2>&1 &
    IDLE=$!
    sleep 1
    $CLIENT "$EP" ask helo_name=mta1.ok.test "${GOOD[@]}" >"$TB_DIR/out" 2>&1
    j "j['replies'] == ['OK']"
    wait "$IDLE"
    grep -q "at most 27 policy and 273 milter connections" "$TB_DIR/fd.log" \
        || why "no cut limits: $(grep -m1 'open-file' "$TB_DIR/fd.log")"
    grep -q "milter: 273 connections (the limit): not accepting more" "$TB_DIR/fd.log" \
        || why "the milter face did not stop at 273: $(grep -m1 'the limit' "$TB_DIR/fd.log")"
    ! grep -q 'Too many open files' "$TB_DIR/fd.log" || why "danced ran out of descriptors"
    report $? "hard limit 600, both faces: 27 policy and 273 milter connections; 400 idle milter connections take 273, the policy face answers"
    danced_end "$DP" "$TB_DIR/fd.log" TERM
fi

tap_end
