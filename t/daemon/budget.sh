#!/bin/bash
# budget.sh - danced's look-up budgets end to end (lookup_budget,
# lookups_in_flight_max).
#
# On the DNSSEC bed of t/dns/testbed.sh, danced runs the policy face and
# the stats socket with lookup_budget = 100/24h and lookups_in_flight_max = 4,
# identities = helo and authorized_clients = .ok.test, .dead.test (so a
# pass answers OK, a none DUNNO and a temperror DEFER_IF_PERMIT).  Covered:
#   - danced -n refuses a bad lookup_budget and lookups_in_flight_max
#     (FILE:LINE: KEY: problem) and accepts lookup_budget = off;
#   - client A (192.0.2.1) claims 1,000 fresh names under ok.test on one
#     connection: its first 100 uncached look-ups are made (none: NXDOMAIN),
#     then every check is temperror with the reason "look-up budget
#     exceeded", in that order; one warning line names 192.0.2.1;
#   - meanwhile client B (192.0.2.2) asks 200 normal requests: every one
#     passes (never temperror), and its p99 latency stays low;
#   - A's names answered from the cache still count nothing: a verdict B
#     computed passes for A, and a TLSA answer in the cache gives A a fail
#     for another certificate, not temperror; another fresh name for A is
#     refused again without a second log line; B's own fresh name is made;
#   - the in-flight cap: six concurrent checks of a name behind the
#     blackhole, four look-ups in flight, two refused at once;
#   - dance_lookup_budget_refusals_total{limit} and the `dance stats` line
#     count exactly those refusals;
#   - SIGHUP with lookup_budget = off: A's fresh names are looked up again;
#     SIGHUP with 2/24h: a new client gets two, then temperror;
#   - SIGTERM exits 0 with no sanitizer report.
#
# Output is TAP with the plan at the end; skipped (1..0) without the bed's
# tools.  Everything started here is stopped on exit by testbed.sh's trap.
# Takes about 15 s (two waits for dns_timeout).
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR as for the
# other tests.  By hand, from a build directory:
#     DANCED=danced/danced DANCE=cli/dance /path/to/t/daemon/budget.sh

# "A && B || why MSG" is meant: why records the reason and fails.
# shellcheck disable=SC2015
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
REASON="look-up budget exceeded"

# tap_diag - on failure: the client's output and danced's last lines.
tap_diag() {
    [ -s "$TB_DIR/out" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/out" | cut -c1-600 | head -n 3 | sed 's/^/#   out: /'
    [ -s "$TB_DIR/err" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/err" | tail -n 3 | sed 's/^/#   err: /'
    [ -f "${DLOG:-}" ] && tail -n 4 "$DLOG" | cut -c1-300 | sed 's/^/#   danced: /'
    return 0
}

# count_lines ERE - lines of danced's log matching ERE.
count_lines() {
    grep -Ec -- "$1" "$DLOG" 2>/dev/null
}

# scrape - GET /metrics; the body in $TB_DIR/body.
scrape() {
    "$TB_PYTHON" - "$SPORT" >"$TB_DIR/body" 2>"$TB_DIR/http.err" <<'EOF' || why "GET /metrics: $(tail -n 1 "$TB_DIR/http.err")"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
text = data.decode()
sys.stdout.write(text.split("\r\n\r\n", 1)[1])
EOF
}

# refusals LIMIT - dance_lookup_budget_refusals_total{limit="LIMIT"} of the last scrape.
refusals() {
    awk -v k="dance_lookup_budget_refusals_total{limit=\"$1\"}" '$1 == k { print $2 }' "$TB_DIR/body"
}

# reload CONF_EXTRA... - rewrite the file with these budget lines, SIGHUP, wait for the reload line.
reload() {
    local before
    before=$(count_lines 'configuration reloaded')
    write_conf "$@"
    kill -HUP "$DANCED_PID"
    for _ in $(seq 1 100); do
        [ "$(count_lines 'configuration reloaded')" -gt "$before" ] && return 0
        sleep 0.05
    done
    why "no 'configuration reloaded' line after SIGHUP"
}

# fresh_args PREFIX N - "--next helo_name=PREFIX-1.ok.test" ... for N fresh names (after the first).
fresh_args() {
    local i
    for i in $(seq 2 "$2"); do
        printf -- '--next\nhelo_name=%s-%s.ok.test\n' "$1" "$i"
    done
}

# ---------------------------------------------------------------------------
tb_init
tb_standard_bed
C=$TB_CERTS
PPORT=$(tb_free_port) && SPORT=$(tb_free_port) || tb_die "no free port"
PEP=inet:127.0.0.1:$PPORT
DCONF=$TB_DIR/danced.conf
DLOG=$TB_DIR/danced.log
# write_conf LINE... - the configuration, with these look-up budget lines.
write_conf() {
    {
        echo "# danced for t/daemon/budget.sh"
        echo "resolver_config = $TB_CONF"
        # shellcheck disable=SC2153  # TB_TA is set by testbed.sh
        echo "trust_anchor_file = $TB_TA"
        echo "dns_timeout = 3"
        echo "policy_socket = $PEP"
        echo "stats_socket = inet:127.0.0.1:$SPORT"
        echo "authserv_id = mx.dest.test"
        echo "identities = helo"
        echo "authorized_clients = .ok.test, .dead.test"
        echo "log_format = text"
        printf '%s\n' "$@"
    } > "$DCONF"
}

GOOD=(ccert_pubkey_fingerprint="$(tb_fingerprint 1 sha256 "$C/good.pem")"
      ccert_fingerprint="$(tb_fingerprint 0 sha256 "$C/good.pem")")
ROGUE=(ccert_pubkey_fingerprint="$(tb_fingerprint 1 sha256 "$C/rogue.pem")"
       ccert_fingerprint="$(tb_fingerprint 0 sha256 "$C/rogue.pem")")

# --- configuration checks ----------------------------------------------------------
printf 'policy_socket = inet:127.0.0.1:1\n\nlookup_budget = 60\n' > "$TB_DIR/bad.conf"
out=$("$DANCED" -n -c "$TB_DIR/bad.conf" 2>&1)
[ $? = 1 ] && case $out in *"$TB_DIR/bad.conf:3: lookup_budget: not a rate: \"60\""*) ;; *) false ;; esac \
    || why "got: $out"
report $? "danced -n: lookup_budget = 60 -> FILE:3: lookup_budget: not a rate, exit 1"
printf 'lookups_in_flight_max = 5000\n' > "$TB_DIR/bad.conf"
out=$("$DANCED" -n -c "$TB_DIR/bad.conf" 2>&1)
[ $? = 1 ] && case $out in *"$TB_DIR/bad.conf:1: lookups_in_flight_max: 5000 is out of range (1..4096)"*) ;; *) false ;; esac \
    || why "got: $out"
report $? "danced -n: lookups_in_flight_max = 5000 -> FILE:1: lookups_in_flight_max: out of range, exit 1"
printf 'policy_socket = inet:127.0.0.1:1\nlookup_budget = off\nlookups_in_flight_max = 1\n' > "$TB_DIR/off.conf"
out=$("$DANCED" -n -c "$TB_DIR/off.conf" 2>&1) || why "exit $?: $out"
report $? "danced -n: lookup_budget = off, lookups_in_flight_max = 1 accepted"

# --- start -------------------------------------------------------------------------
write_conf "lookup_budget = 100/24h" "lookups_in_flight_max = 4"
danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts with lookup_budget = 100/24h, lookups_in_flight_max = 4"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }

client "$PEP" ask "${GOOD[@]}" client_address=192.0.2.2 helo_name=mta1.ok.test
replies_are 'OK'
report $? "client B (192.0.2.2): mta1.ok.test passes (OK)"

# --- client A floods, client B keeps asking ------------------------------------------
mapfile -t FRESH < <(fresh_args fresh 1000)
# shellcheck disable=SC2086  # CLIENT is "python script"
$CLIENT "$PEP" ask --timeout 60 "${GOOD[@]}" client_address=192.0.2.1 client_port=1000 \
    helo_name=fresh-1.ok.test "${FRESH[@]}" >"$TB_DIR/a.out" 2>"$TB_DIR/a.err" </dev/null &
APID=$!
TB_PIDS="$TB_PIDS $APID"
B_ARGS=()
for i in $(seq 2 200); do
    if [ $((i % 2)) = 0 ]; then n=mta1; else n=ee301; fi
    B_ARGS+=(--next "client_port=$((3000 + i))" "helo_name=$n.ok.test")
done
sleep 0.2
T0=$(date +%s%N)
client "$PEP" ask --timeout 60 "${GOOD[@]}" client_address=192.0.2.2 client_port=3001 helo_name=ee301.ok.test \
    "${B_ARGS[@]}"
cp "$TB_DIR/out" "$TB_DIR/b.out"
wait "$APID"
T1=$(date +%s%N)
timing "A's 1000 requests and B's 200 together: $(( (T1 - T0) / 1000000 )) ms"

cp "$TB_DIR/a.out" "$TB_DIR/out"
tb_json_is "j['error'] is None and len(j['replies']) == 1000" \
    && tb_json_is "[r.split(' ')[0] for r in j['replies']] == ['DUNNO'] * 100 + ['DEFER_IF_PERMIT'] * 900" \
    && tb_json_is "all(r.endswith('($REASON)') for r in j['replies'][100:])"
report $? "client A's 1000 fresh names: the first 100 looked up (none: DUNNO), then 900 temperror (DEFER_IF_PERMIT ... ($REASON)), in that order"
n=$(count_lines "result=temperror .*client=192\.0\.2\.1.*$REASON|$REASON.*client=192\.0\.2\.1")
[ "$n" = 900 ] || why "$n verdict lines of 192.0.2.1 with '$REASON', want 900"
report $? "900 verdict lines of client A say temperror ($REASON)"
n=$(count_lines "$REASON: client 192\.0\.2\.1 ")
[ "$n" = 1 ] || why "$n warning lines name 192.0.2.1, want 1"
report $? "one warning line names client 192.0.2.1"

cp "$TB_DIR/b.out" "$TB_DIR/out"
tb_json_is "j['error'] is None and j['replies'] == ['OK'] * 200"
report $? "client B's 200 requests during the flood all pass (OK), none temperror"
P99=$(json_get "sorted(j['ms'])[int(len(j['ms']) * 0.99) - 1]")
P50=$(json_get "sorted(j['ms'])[len(j['ms']) // 2]")
timing "client B during the flood: p50 $P50 ms, p99 $P99 ms"
tb_json_is "sorted(j['ms'])[int(len(j['ms']) * 0.99) - 1] < 500"
report $? "client B's p99 latency during the flood is under 0.5 s (p99 $P99 ms, p50 $P50 ms)"

# --- what is cached never counts --------------------------------------------------
client "$PEP" ask "${GOOD[@]}" client_address=192.0.2.1 client_port=1001 helo_name=mta1.ok.test
replies_are 'OK'
report $? "client A over its budget: mta1.ok.test (a verdict already computed) still passes (OK)"
client "$PEP" ask "${ROGUE[@]}" client_address=192.0.2.1 client_port=1002 helo_name=ee301.ok.test
replies_are 'DUNNO'
report $? "client A over its budget: another certificate for ee301.ok.test (its TLSA answer cached) is a fail (DUNNO), not temperror"
n=$(count_lines "result=fail .*client=192\.0\.2\.1")
[ "$n" = 1 ] || why "$n fail verdict lines for 192.0.2.1, want 1"
report $? "that verdict is logged as a fail"
client "$PEP" ask "${GOOD[@]}" client_address=192.0.2.1 client_port=1003 helo_name=fresh-1001.ok.test
replies_are 'DEFER_IF_PERMIT*'
n=$(count_lines "$REASON: client 192\.0\.2\.1 ")
[ "$n" = 1 ] || why "$n warning lines name 192.0.2.1, want still 1"
report $? "client A's next fresh name is refused again, and not logged again within the minute"
client "$PEP" ask "${GOOD[@]}" client_address=192.0.2.2 client_port=3500 helo_name=fresh-b.ok.test
replies_are 'DUNNO'
report $? "client B's own fresh name is looked up (none: DUNNO), not refused"

scrape && [ "$(refusals client)" = 901 ] && [ "$(refusals in_flight)" = 0 ] \
    || why "refusals: client '$(refusals client)' (want 901), in_flight '$(refusals in_flight)' (want 0)"
report $? "dance_lookup_budget_refusals_total: client 901, in_flight 0"

# --- the in-flight cap -------------------------------------------------------------
H0=$(tb_blackhole_hits)
client "$PEP" many --conns 6 --timeout 10 "${GOOD[@]}" client_address=198.51.100.7 helo_name=cap.dead.test
tb_json_is "j['answered'] == 6 and sorted((k.split(' ')[0], k.endswith('($REASON)'), v) for k, v in j['actions'].items()) == [('DEFER_IF_PERMIT', False, 4), ('DEFER_IF_PERMIT', True, 2)]"
report $? "six concurrent checks of a name behind the blackhole: four time out, two are refused ($REASON), all DEFER_IF_PERMIT"
scrape && [ "$(refusals in_flight)" = 2 ] || why "in_flight refusals '$(refusals in_flight)', want 2"
[ "$(tb_blackhole_hits)" -gt "$H0" ] || why "the blackhole saw no query"
report $? "lookups_in_flight_max = 4: four look-ups went out, two checks were refused (in_flight 2)"
n=$(count_lines "$REASON: lookups_in_flight_max .* client 198\.51\.100\.7")
[ "$n" = 1 ] || why "$n in-flight warning lines, want 1"
report $? "one warning line for the in-flight cap names the client"
n=$(count_lines "client=198\.51\.100\.7.*$REASON|$REASON.*client=198\.51\.100\.7")
[ "$n" = 2 ] || why "$n verdict lines of 198.51.100.7 with '$REASON', want 2"
report $? "two of the six verdicts say $REASON (the other four timed out)"

# --- dance stats -------------------------------------------------------------------
"$DANCE" stats --stats-socket "inet:127.0.0.1:$SPORT" >"$TB_DIR/stats" 2>"$TB_DIR/err" \
    && tr -s ' ' < "$TB_DIR/stats" | grep -qxF "look-up budget refused: client 901, in flight 2" \
    || why "no 'look-up budget refused: client 901, in flight 2' line in: $(grep -i budget "$TB_DIR/stats")"
report $? "dance stats: look-up budget refused: client 901, in flight 2"

# --- reload ------------------------------------------------------------------------
reload "lookup_budget = off" "lookups_in_flight_max = 4"
report $? "SIGHUP with lookup_budget = off"
mapfile -t FRESH < <(fresh_args again 20)
client "$PEP" ask "${GOOD[@]}" client_address=192.0.2.1 client_port=1004 helo_name=again-1.ok.test "${FRESH[@]}"
tb_json_is "j['error'] is None and [r.split(' ')[0] for r in j['replies']] == ['DUNNO'] * 20"
report $? "budget off: client A's 20 fresh names are all looked up (DUNNO), none refused"
reload "lookup_budget = 2/24h"
report $? "SIGHUP with lookup_budget = 2/24h"
mapfile -t FRESH < <(fresh_args small 4)
client "$PEP" ask "${GOOD[@]}" client_address=2001:db8:5:6::1 client_port=1005 helo_name=small-1.ok.test "${FRESH[@]}"
tb_json_is "j['error'] is None and [r.split(' ')[0] for r in j['replies']] == ['DUNNO', 'DUNNO', 'DEFER_IF_PERMIT', 'DEFER_IF_PERMIT']"
report $? "budget 2/24h: a new IPv6 client gets two look-ups, then temperror"
client "$PEP" ask "${GOOD[@]}" client_address=2001:db8:5:6:ffff::9 client_port=1006 helo_name=small-5.ok.test
replies_are 'DEFER_IF_PERMIT*'
report $? "another address of the same /64 shares that budget (temperror)"
client "$PEP" ask "${GOOD[@]}" client_address=2001:db8:5:7::1 client_port=1007 helo_name=small-6.ok.test
replies_are 'DUNNO'
report $? "the next /64 has its own (looked up: DUNNO)"
scrape && [ "$(refusals client)" = 904 ] || why "client refusals '$(refusals client)', want 904"
report $? "the refusals counter goes on across reloads (client 904)"

# --- stop ----------------------------------------------------------------------------
danced_end "$DANCED_PID" "$DLOG" TERM
report $? "SIGTERM: danced exits 0, no sanitizer report"

tap_end
