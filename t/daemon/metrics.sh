#!/bin/bash
# metrics.sh - danced's counters over its stats_socket, end to end.
#
# On the DNSSEC bed of t/dns/testbed.sh, danced runs with policy_socket,
# milter_socket and stats_socket; a known sequence of policy requests
# (t/daemon/policyclient.py) and milter messages (miltertest with
# t/milter/case.lua) goes through it, and GET /metrics must then show
# exactly the counts that sequence makes:
#   - connection A: a pass, the same request again (reused from the
#     connection's memo: not a verdict), a none (nx.ok.test), DATA (the
#     memo again) and a CONNECT request (other); connection B: a fail for
#     the name A checked first (a cache hit, no DNS look-up);
#   - a Sendmail-mode milter message ({cert_fp}: two neutral verdicts of
#     the milter face, both from the cache) carrying two forged
#     Authentication-Results fields claiming our authserv-id, and one
#     without TLS (no verdict computed, two more fields removed);
#   - the open policy connections gauge while a client holds one open;
#   - the text passes `promtool check metrics` (Debian: prometheus; the
#     line is skipped without it);
#   - 404 for another path, 405 (Allow: GET) for POST /metrics; to HEAD no body;
#   - `dance stats --stats-socket` and `dance stats -c` print the same
#     figures as a table; an unreachable socket exits 69;
#   - garbage and a silent client on the stats socket do not delay the
#     policy face, and the endpoint still answers afterwards (that
#     request's verdict was computed before: a verdict cache hit);
#   - SIGHUP with new resolver settings: every counter goes on from where
#     it was (the new resolver counts into the same figures);
#   - danced -n refuses a stats_socket on a non-loopback address (without
#     remote_sockets) and a bad endpoint, naming FILE:LINE: stats_socket;
#   - a unix: stats_socket with socket_mode, removed at exit; SIGTERM
#     exits 0 with no sanitizer report.
#
# Output is TAP with the plan at the end; skipped (1..0) without the bed's
# tools or miltertest.  Everything started here is stopped on exit by
# testbed.sh's trap.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR as for the
# other tests.  By hand, from a build directory:
#     DANCED=danced/danced DANCE=cli/dance /path/to/t/daemon/metrics.sh

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
if ! command -v miltertest >/dev/null 2>&1; then
    echo "1..0 # SKIP miltertest is not installed (Debian: miltertest)"
    exit 0
fi
tap_need_binaries
# shellcheck source=t/daemon/ask.sh
. "$TESTDIR/daemon/ask.sh"
SERVID=mx.dest.test

# tap_diag - on failure: the last answer and danced's last lines.
tap_diag() {
    [ -s "$TB_DIR/http" ] && head -n 3 "$TB_DIR/http" | tr -c '[:print:]\n' '?' | sed 's/^/#   http: /'
    [ -s "$TB_DIR/out" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/out" | head -c 600 | sed 's/^/#   out: /'
    [ -f "${DLOG:-}" ] && tail -n 4 "$DLOG" | cut -c1-300 | sed 's/^/#   danced: /'
    return 0
}

# http PORT METHOD PATH - one raw HTTP/1.0 request to 127.0.0.1:PORT; the whole answer in $TB_DIR/http,
# its body in $TB_DIR/body.
http() {
    "$TB_PYTHON" - "$@" >"$TB_DIR/http" 2>"$TB_DIR/http.err" <<'EOF' || { why "HTTP $2 $3: $(tail -n 1 "$TB_DIR/http.err")"; return 1; }
import socket, sys
port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % (method, path)).encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.write(data.decode("utf-8", "replace"))
EOF
    sed '1,/^\r$/d' "$TB_DIR/http" > "$TB_DIR/body"
}

# status_is CODE - the last answer's status code.
status_is() {
    local got
    got=$(head -n 1 "$TB_DIR/http" | cut -d' ' -f2)
    [ "$got" = "$1" ] || why "status $got, want $1: $(head -n 1 "$TB_DIR/http" | tr -d '\r')"
}

# scrape - GET /metrics from the stats socket (200 wanted); the text in $TB_DIR/body.
scrape() {
    http "$SPORT" GET /metrics && status_is 200
}

# mval SERIES - the value of one series line of the last text ("" when absent).
mval() {
    awk -v k="$1" '$1 == k { print $2 }' "$TB_DIR/body"
}

# metrics_are SERIES=VALUE... - each series of the last text has exactly that value.
metrics_are() {
    local kv k v got bad=
    for kv in "$@"; do
        k=${kv%=*}
        v=${kv##*=}
        got=$(mval "$k")
        [ "$got" = "$v" ] || bad="$bad $k is '$got' (want $v);"
    done
    [ -z "$bad" ] || why "${bad# }"
}

# v FACE IDENTITY RESULT - the name of one dance_verdicts_total series.
v() {
    printf 'dance_verdicts_total{face="%s",identity="%s",result="%s"}' "$1" "$2" "$3"
}

# mt VAR=VALUE... - one miltertest conversation (t/milter/case.lua) with danced's milter.
mt() {
    local args=() kv
    for kv in "$@"; do
        args+=(-D "$kv")
    done
    if ! miltertest -D "SOCK=inet:$MPORT@127.0.0.1" "${args[@]}" -s "$TESTDIR/milter/case.lua" \
            >"$TB_DIR/mt.out" 2>&1; then
        why "miltertest: $(grep -m1 'CHECK FAILED' "$TB_DIR/mt.out" || tail -n 1 "$TB_DIR/mt.out")"
        return 1
    fi
}

# stats_line WORDS... - `dance stats` printed a line with exactly these words (spaces squeezed).
stats_line() {
    tr -s ' ' < "$TB_DIR/stats" | sed 's/^ //' | grep -qxF -- "$*" || why "no line '$*' in dance stats"
}

# ---------------------------------------------------------------------------
tb_init
tb_standard_bed
C=$TB_CERTS
PPORT=$(tb_free_port) && MPORT=$(tb_free_port) && SPORT=$(tb_free_port) || tb_die "no free port"
PEP=inet:127.0.0.1:$PPORT
SEP=inet:127.0.0.1:$SPORT
DCONF=$TB_DIR/danced.conf
DLOG=$TB_DIR/danced.log
write_conf() {
    cat > "$DCONF" <<EOF
# danced with both faces and the stats socket, for t/daemon/metrics.sh
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = ${1:-2}
policy_socket = $PEP
milter_socket = inet:127.0.0.1:$MPORT
stats_socket = $SEP
peer_users = any
authserv_id = $SERVID
identities = helo, mailfrom
log_format = text
EOF
}
write_conf

GOOD=(ccert_pubkey_fingerprint="$(tb_fingerprint 1 sha256 "$C/good.pem")"
      ccert_fingerprint="$(tb_fingerprint 0 sha256 "$C/good.pem")")
ROGUE=(ccert_pubkey_fingerprint="$(tb_fingerprint 1 sha256 "$C/rogue.pem")"
       ccert_fingerprint="$(tb_fingerprint 0 sha256 "$C/rogue.pem")")
GOOD_CERT_FP=$(tb_fingerprint 0 sha256 "$C/good.pem")

# --- configuration checks ----------------------------------------------------------
printf 'policy_socket = inet:127.0.0.1:1\nstats_socket = inet:192.0.2.1:9477\n' > "$TB_DIR/remote.conf"
out=$("$DANCED" -n -c "$TB_DIR/remote.conf" 2>&1)
[ $? = 1 ] && case $out in "$TB_DIR/remote.conf:2: stats_socket: \"inet:192.0.2.1:9477\" is not a loopback address"*) ;; *) false ;; esac \
    || why "got: $out"
report $? "danced -n: a stats_socket off loopback without remote_sockets -> FILE:LINE: stats_socket: ..., exit 1"
printf 'policy_socket = inet:127.0.0.1:1\nstats_socket = local:/run/stats\n' > "$TB_DIR/bad.conf"
out=$("$DANCED" -n -c "$TB_DIR/bad.conf" 2>&1)
[ $? = 1 ] && case $out in "$TB_DIR/bad.conf:2: stats_socket: expected inet:HOST:PORT"*) ;; *) false ;; esac \
    || why "got: $out"
report $? "danced -n: a bad stats_socket endpoint -> FILE:LINE: stats_socket: ..., exit 1"

# --- start, and the empty figures ---------------------------------------------------
danced_run "$DCONF" "$DLOG"
rc=$?
grep -q "stats: serving GET /metrics on $SEP" "$DLOG" || why "no 'stats: serving' line in the log"
report "$rc" "danced starts with policy, milter and stats sockets and says where /metrics is"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }

scrape && grep -qi '^Content-Type: text/plain; version=0.0.4' "$TB_DIR/http" \
    || why "no Prometheus text content type: $(grep -i '^content-type' "$TB_DIR/http")"
metrics_are "$(v policy helo pass)=0" 'dance_policy_requests_total{request="rcpt"}=0' \
    dance_cache_hits_total=0 dance_check_duration_seconds_count=0 dance_check_duration_seconds_sum=0.000000 \
    'dance_check_duration_seconds_bucket{le="+Inf"}=0'
report $? "GET /metrics at start: 200, text/plain; version=0.0.4, every counter 0"

# --- the known sequence --------------------------------------------------------------
client "$PEP" ask "${GOOD[@]}" client_port=1001 instance=m.1 \
    --next \
    --next helo_name=nx.ok.test \
    --next protocol_state=DATA queue_id=4QM1 recipient= \
    --next protocol_state=CONNECT
tb_json_is "j['error'] is None and len(j['replies']) == 5 and j['replies'][0] == 'DUNNO'"
report $? "connection A: pass, the same again (memo), none, DATA (memo), CONNECT - five answers"
client "$PEP" ask "${ROGUE[@]}" client_port=2002 instance=m.2
tb_json_is "j['error'] is None and len(j['replies']) == 1"
report $? "connection B: a rogue certificate for the name A checked first"
mt TLS=1 FP="$GOOD_CERT_FP" HELO=mta1.ok.test FORGED=1 WANT="dane=neutral"
report $? "milter: a {cert_fp} message (neutral twice) with two forged fields claiming $SERVID, removed"
mt FORGED=1 WANT="dane=none"
report $? "milter: a message without TLS (no verdict computed), two forged fields removed"

scrape
metrics_are "$(v policy helo pass)=1" "$(v policy helo fail)=1" "$(v policy helo none)=1" \
    "$(v policy helo neutral)=0" "$(v policy mailfrom none)=0" "$(v policy ptr pass)=0" \
    "$(v milter helo neutral)=1" "$(v milter mailfrom neutral)=1" "$(v milter helo none)=0" \
    "$(v milter mailfrom none)=0" \
    'dance_policy_requests_total{request="rcpt"}=4' 'dance_policy_requests_total{request="data"}=1' \
    'dance_policy_requests_total{request="other"}=1' \
    dance_policy_connections=0 dance_milter_connections=0 \
    dance_milter_messages_total=2 dance_forged_fields_removed_total=4 \
    'dance_dns_lookups_total{status="secure"}=2' 'dance_dns_lookups_total{status="insecure"}=0' \
    'dance_dns_lookups_total{status="bogus"}=0' 'dance_dns_lookups_total{status="error"}=0' \
    dance_cache_hits_total=3 dance_cache_misses_total=2 dance_cache_entries=2 \
    dance_check_duration_seconds_count=5 'dance_check_duration_seconds_bucket{le="+Inf"}=5' \
    'dance_check_duration_seconds_bucket{le="10"}=5'
report $? "GET /metrics: exactly 3 policy verdicts (pass, fail, none) and 2 milter ones, 4 rcpt + 1 data + 1 other requests, 2 messages, 4 fields removed, 2 secure look-ups, 3 cache hits, 2 misses, 2 entries, 5 checks timed"
verdicts=$(awk '$1 ~ /^dance_verdicts_total\{face="policy"/ { s += $2 } END { print s }' "$TB_DIR/body")
[ "$verdicts" = 3 ] || why "policy verdicts sum to $verdicts, want 3"
report $? "the memo's reuse is not counted: 5 RCPT/DATA answers, 3 policy verdicts"
grep -q "^dance_build_info{version=\"[0-9][^\"]*\"} 1" "$TB_DIR/body" || why "no dance_build_info line"
report $? "dance_build_info{version=...} 1"
cp "$TB_DIR/body" "$TB_DIR/metrics.txt"

if command -v promtool >/dev/null 2>&1; then
    out=$(promtool check metrics < "$TB_DIR/metrics.txt" 2>&1) || why "promtool: $out"
    [ -z "$out" ] || why "promtool says: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
    report $? "promtool check metrics accepts the text"
else
    tap_skip "promtool check metrics accepts the text" "promtool is not installed (Debian: prometheus)"
fi

# --- the connections gauge -----------------------------------------------------------
# shellcheck disable=SC2086  # CLIENT is "python script"; the job is the client itself
$CLIENT "$PEP" idle --max 5 >"$TB_DIR/idle.out" 2>&1 </dev/null &
IDLE=$!
got=
for _ in $(seq 1 50); do
    scrape && got=$(mval dance_policy_connections)
    [ "$got" = 1 ] && break
    sleep 0.05
done
[ "$got" = 1 ] || why "dance_policy_connections is '$got' while a client holds one open"
kill "$IDLE" 2>/dev/null
wait "$IDLE" 2>/dev/null
for _ in $(seq 1 50); do
    scrape && got=$(mval dance_policy_connections)
    [ "$got" = 0 ] && break
    sleep 0.05
done
[ "$got" = 0 ] || why "dance_policy_connections is '$got' once the client has gone"
report $? "dance_policy_connections: 1 while a client holds a policy connection open, 0 once it has gone"

# --- other paths and methods ----------------------------------------------------------
http "$SPORT" GET /other && status_is 404
report $? "GET /other -> 404"
http "$SPORT" POST /metrics && status_is 405 && { grep -qi '^Allow: GET' "$TB_DIR/http" || why "no Allow: GET"; }
report $? "POST /metrics -> 405 with Allow: GET"
http "$SPORT" HEAD /metrics && status_is 405 && { grep -qi '^Allow: GET' "$TB_DIR/http" || why "no Allow: GET"; } \
    && { [ ! -s "$TB_DIR/body" ] || why "a body to HEAD: $(head -c 60 "$TB_DIR/body")"; }
report $? "HEAD /metrics -> 405 with Allow: GET and no body (a body to HEAD is found by the fuzz target stats)"
http "$SPORT" HEAD /other && status_is 404 && { [ ! -s "$TB_DIR/body" ] || why "a body to HEAD: $(head -c 60 "$TB_DIR/body")"; }
report $? "HEAD /other -> 404 and no body"

# --- dance stats ----------------------------------------------------------------------
"$DANCE" stats --stats-socket "$SEP" >"$TB_DIR/stats" 2>"$TB_DIR/err"
rc=$?
[ "$rc" = 0 ] || why "exit status $rc: $(cat "$TB_DIR/err")"
stats_line "verdicts pass fail none neutral temperror permerror total"
stats_line "helo 1 1 1 1 0 0 4"
stats_line "mailfrom 0 0 0 1 0 0 1"
stats_line "ptr 0 0 0 0 0 0 0"
stats_line "total 1 1 1 2 0 0 5"
stats_line "policy requests rcpt 4, data 1, other 1"
stats_line "milter messages 2, forged fields removed 4"
stats_line "DNS lookups secure 2, insecure 0, bogus 0, error 0"
stats_line "cache hits 3, misses 2, entries 2"
stats_line "verdict cache hits 0"
stats_line "connections policy 0, milter 0"
report $? "dance stats --stats-socket prints the figures as a table"
grep -E '^  helo|^cache' "$TB_DIR/stats" | tr -s ' ' | sed 's/^/#   /'
"$DANCE" stats -c "$DCONF" >"$TB_DIR/stats2" 2>"$TB_DIR/err" && cmp -s "$TB_DIR/stats" "$TB_DIR/stats2" \
    || why "dance stats -c: $(cat "$TB_DIR/err") $(diff "$TB_DIR/stats" "$TB_DIR/stats2" | head -n 3)"
report $? "dance stats -c FILE reads stats_socket from the configuration: the same table"
DEAD=$(tb_free_port)
out=$("$DANCE" stats --stats-socket "inet:127.0.0.1:$DEAD" 2>&1)
rc=$?
[ "$rc" = 69 ] && case $out in *"cannot reach danced"*"Connection refused"*) ;; *) false ;; esac \
    || why "exit status $rc: $out"
report $? "dance stats: nobody on the socket -> exit 69, 'cannot reach danced'"

# --- hostile input on the stats socket ---------------------------------------------------
"$TB_PYTHON" - "$SPORT" >"$TB_DIR/garbage" 2>&1 <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
silent = socket.create_connection(("127.0.0.1", port))          # connects, says nothing
bad = socket.create_connection(("127.0.0.1", port), timeout=5)
bad.sendall(b"\x00\xff\xfe GARBAGE \x01\x02\r\n" + b"X" * 20000 + b"\r\n\r\n")
try:
    print("reply:", bad.recv(200)[:40])
except OSError as e:
    print("error:", e)
time.sleep(2)
silent.close()
EOF
GARBAGE=$!
sleep 0.2
client "$PEP" ask "${GOOD[@]}" client_port=4004 instance=m.4
tb_json_is "j['error'] is None and len(j['replies']) == 1 and j['ms'][0] < 1000"
report $? "garbage and a silent client on the stats socket: a policy request is answered at once"
wait "$GARBAGE"
scrape && metrics_are "$(v policy helo pass)=2" 'dance_policy_requests_total{request="rcpt"}=5' \
    dance_cache_hits_total=3 dance_verdict_cache_hits_total=1
report $? "after the garbage /metrics still answers, and counts that request (a verdict computed before: no look-up)"
printf '#   garbage: %s\n' "$(tr -c '[:print:]\n' '?' < "$TB_DIR/garbage" | head -n 1)"

# --- SIGHUP: the counters go on ------------------------------------------------------------
write_conf 3                                    # a new dns_timeout: a new resolver, an empty cache
kill -HUP "$DANCED_PID"
for _ in $(seq 1 100); do
    grep -q "configuration reloaded.*new resolver" "$DLOG" && break
    sleep 0.05
done
grep -q "configuration reloaded.*new resolver" "$DLOG" || why "no reload with a new resolver in the log"
client "$PEP" ask "${GOOD[@]}" client_port=5005 instance=m.5
scrape && metrics_are "$(v policy helo pass)=3" "$(v policy helo fail)=1" "$(v policy helo none)=1" \
    "$(v milter helo neutral)=1" 'dance_policy_requests_total{request="rcpt"}=6' \
    dance_milter_messages_total=2 dance_forged_fields_removed_total=4 \
    'dance_dns_lookups_total{status="secure"}=3' dance_cache_hits_total=3 dance_cache_misses_total=3 \
    dance_verdict_cache_hits_total=1 dance_cache_entries=1 dance_check_duration_seconds_count=7
report $? "SIGHUP with a new resolver: every counter goes on (a miss in the new, empty cache)"

danced_end "$DANCED_PID" "$DLOG" TERM
report $? "SIGTERM: danced exits 0, no sanitizer report"

# --- a unix stats socket ----------------------------------------------------------------
USOCK=$TB_DIR/stats.sock
cat > "$TB_DIR/unix.conf" <<EOF
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
policy_socket = $PEP
stats_socket = unix:$USOCK
socket_mode = 0600
authserv_id = $SERVID
EOF
: > "$TB_DIR/unix.log"
danced_run "$TB_DIR/unix.conf" "$TB_DIR/unix.log" \
    && { [ "$(stat -c %a "$USOCK" 2>/dev/null)" = 600 ] || why "mode $(stat -c %a "$USOCK" 2>&1), want 600"; } \
    && "$DANCE" stats --stats-socket "unix:$USOCK" >"$TB_DIR/stats" 2>"$TB_DIR/err" \
    && stats_line "policy requests rcpt 0, data 0, other 0" \
    || why "${WHY:-dance stats: $(cat "$TB_DIR/err")}"
report $? "a unix: stats_socket with socket_mode 0600 serves dance stats"
danced_end "$DANCED_PID" "$TB_DIR/unix.log" TERM && { [ ! -e "$USOCK" ] || why "$USOCK is still there"; }
report $? "SIGTERM: the unix stats socket is removed, exit 0"

tap_end
