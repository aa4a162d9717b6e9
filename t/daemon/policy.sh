#!/bin/bash
# policy.sh - danced over real sockets: the Postfix policy service end to end.
#
# Builds the standard DNSSEC test bed of t/dns/testbed.sh (signed zones, nsd
# on a free 127.0.0.1 port, the never-answering blackhole behind dead.test),
# writes danced configuration files pointing at it, starts danced in the
# foreground (-f, log on stderr into a file) and drives it with
# t/daemon/policyclient.py, which speaks the policy protocol as Postfix
# does (certificate fingerprints computed with openssl) and reports JSON
# that this script asserts on.  Covered:
#   - -V, -n with a good file, a bad value and an unknown key;
#   - RCPT answers: OK (authorized pass, helo or mailfrom), DUNNO (pass of
#     an unauthorized name, fail, none, other states and request types),
#     DEFER_IF_PERMIT (temperror: bogus zone, hanging server), REJECT
#     (fail_action = reject); ccert_der instead of fingerprints; an
#     md5-length fingerprint (one loud log line);
#   - DATA: the PREPENDed Authentication-Results field parsed back with
#     python3-authres (pass, fail, none, temperror, helo + mailfrom);
#   - the verdict log line, and one verdict per connection and name;
#   - 200 requests on one connection, 100 pipelined, 200 concurrent
#     connections, requests exactly at the limits;
#   - malformed input (NUL, long line, too many attributes, too big, no
#     '=', bad name, duplicate) closes only its own connection;
#   - a hanging look-up does not delay another connection; idle timeout;
#   - SIGHUP with a good file, a bad file, and new resolver settings while
#     look-ups hang; a client leaving while its look-up is pending;
#   - IPv4, IPv6 (skipped without ::1) and unix sockets (socket_mode,
#     removal); SIGINT/SIGTERM exit 0 after answering the request in
#     flight and remove the pid_file; no sanitizer reports in the logs.
#
# Output is TAP with the plan at the end.  Every process started here
# (nsd, the blackhole, each danced, background clients) is stopped on exit,
# also on failure and on Ctrl-C, through testbed.sh's trap (TB_PIDS).
# Takes about 25 s (three waits for the 2 s dns_timeout, one idle timeout).
#
# Environment (set by `make check`): DANCED = the danced binary, DANCE =
# the dance binary (publishes the TLSA records), TESTDIR = the source t/
# directory.  By hand, from a build directory:
#     DANCED=danced/danced DANCE=cli/dance /work/main/t/daemon/policy.sh
# (TB_KEEP=1 keeps the temporary directory and the daemon logs.)

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
HAVE_AUTHRES=
"$TB_PYTHON" -c 'import authres' 2>/dev/null && HAVE_AUTHRES=1
[ -n "$HAVE_AUTHRES" ] || tb_log "python3-authres is missing: headers are checked with a regular expression instead"

# tap_diag - on failure (report, t/tap.sh): the client's output.
tap_diag() {
    [ -s "$TB_DIR/out" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/out" | cut -c1-600 | sed 's/^/#   out: /'
    [ -s "$TB_DIR/err" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/err" | tail -n 5 | sed 's/^/#   err: /'
    return 0
}

# ar_is ACTION SERVID RESULT... - ACTION is "PREPEND Authentication-Results: ..." whose
# field, parsed with python3-authres, has authserv-id SERVID and exactly the
# results given as "dane=pass smtp.helo=NAME", in order.
# Without python3-authres (Debian: python3-authres) a strict regular
# expression stands in, and the run says so once.
ar_is() {
    if ! AR_PARSER=${HAVE_AUTHRES:+authres} "$TB_PYTHON" - "$@" >"$TB_DIR/py.err" 2>&1 <<'EOF'; then
import os
import re
import sys
action, servid, want = sys.argv[1], sys.argv[2], sys.argv[3:]
prefix = "PREPEND "
if not action.startswith(prefix + "Authentication-Results: "):
    sys.exit("not a PREPEND of Authentication-Results: %r" % action)
field = action[len(prefix):]
if os.environ.get("AR_PARSER") == "authres":
    import authres
    h = authres.AuthenticationResultsHeader.parse(field)
else:
    class R:
        pass
    m = re.fullmatch(r"Authentication-Results: ([A-Za-z0-9.-]+);(.*)", field)
    if not m:
        sys.exit("unparsable field %r" % field)
    h = R()
    h.authserv_id, h.results = m.group(1), []
    for part in m.group(2).split(";"):
        m = re.fullmatch(r" *dane=([a-z]+)(?: \((?:[^()\\]|\\.)*\))? (smtp|policy)\.([a-z]+)=([A-Za-z0-9.-]+) *", part)
        if not m:
            sys.exit("unparsable result %r" % part)
        r, p = R(), R()
        r.method, r.result, r.properties = "dane", m.group(1), [p]
        p.type, p.name, p.value = m.group(2), m.group(3), m.group(4)
        h.results.append(r)
if h.authserv_id != servid:
    sys.exit("authserv-id %r, want %r" % (h.authserv_id, servid))
got = []
for r in h.results:
    props = " ".join("%s.%s=%s" % (p.type, p.name, p.value) for p in r.properties)
    got.append("%s=%s %s" % (r.method, r.result, props))
if got != want:
    sys.exit("results %r, want %r" % (got, want))
EOF
        WHY="Authentication-Results check: $(tail -n 1 "$TB_DIR/py.err")"
        return 1
    fi
    return 0
}

# reply_is N PATTERN - the N-th reply of the last "ask" matches the shell PATTERN.
reply_is() {
    local r
    r=$(reply_n "$1")
    # shellcheck disable=SC2254  # PATTERN is a pattern on purpose
    case $r in
        $2) return 0 ;;
    esac
    why "reply $1 is '$r', want '$2'"
}

# asked_ok N - the last "ask" got N well-formed replies, no error, connection open.
asked_ok() {
    tb_json_is "j['error'] is None and not j['closed'] and j['bad_format'] == [] and len(j['replies']) == $1"
}

# log_wait FILE ERE [SECONDS] - true once FILE has a line matching ERE (polls, default 3 s).
log_wait() {
    for _ in $(seq 1 $((${3:-3} * 20))); do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    WHY="no line matching /$2/ in $(basename "$1")"
    return 1
}

# count_lines FILE ERE - number of lines of FILE matching ERE.
count_lines() {
    grep -Ec -- "$2" "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------
# Daemons.

# write_conf FILE ENDPOINT [LINE...] - a danced configuration for the test bed, extra lines appended.
write_conf() {
    local f=$1 ep=$2
    shift 2
    {
        echo "# danced test configuration (t/daemon/policy.sh)"
        echo "resolver_config = $TB_CONF"
        # shellcheck disable=SC2153  # TB_TA is set by testbed.sh
        echo "trust_anchor_file = $TB_TA"
        echo "dns_timeout = 2"
        echo "policy_socket = $ep"
        echo "authserv_id = mx.dest.test"
        echo "identities = helo, mailfrom"
        echo "authorized_clients = mta1.ok.test, mta1.bogus.test, .dead.test"
        echo "idle_timeout = 2s"
        echo "log_format = text"
        printf '%s\n' "$@"
    } > "$f"
}

# d_start LOG CONF ENDPOINT - start `danced -f -c CONF` (stderr to LOG), wait until ENDPOINT accepts; sets DPID.
d_start() {
    local log=$1 conf=$2 ep=$3
    "$DANCED" -f -c "$conf" </dev/null >>"$log" 2>&1 &
    DPID=$!
    TB_PIDS="$TB_PIDS $DPID"
    if ! client "$ep" wait --max 10 || ! tb_running "$DPID"; then
        WHY="danced did not come up on $ep: $(tail -n 3 "$log" | tr '\n' ' ')"
        return 1
    fi
    return 0
}

# d_stop PID [SIGNAL] - signal danced (TERM), wait for it (10 s at most); sets DRC to its exit status.
d_stop() {
    local pid=$1 killed='' rc
    kill "-${2:-TERM}" "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        tb_running "$pid" || break
        sleep 0.1
    done
    if tb_running "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        killed=1
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    DRC=${killed:+"killed after 10 s"}
    DRC=${DRC:-$rc}
    pids_forget "$pid"
}

# pids_forget PID - drop a reaped process from testbed.sh's clean-up list.
pids_forget() {
    # shellcheck disable=SC2086  # TB_PIDS is a space-separated list
    TB_PIDS=$(printf '%s\n' $TB_PIDS | grep -vx "$1" | tr '\n' ' ')
}

# ---------------------------------------------------------------------------
tb_init
T0=$(date +%s)
tb_standard_bed
C=$TB_CERTS
D=$TB_DIR

GOOD_SPKI=$(tb_fingerprint 1 sha256 "$C/good.pem")
GOOD_CERT=$(tb_fingerprint 0 sha256 "$C/good.pem")
ROGUE_SPKI=$(tb_fingerprint 1 sha256 "$C/rogue.pem")
ROGUE_CERT=$(tb_fingerprint 0 sha256 "$C/rogue.pem")
GOOD_DER=$(openssl x509 -in "$C/good.pem" -outform DER | base64 -w 0)
GOOD_SPKI_HEX=$(printf '%s' "$GOOD_SPKI" | tr -d ':' | tr 'A-F' 'a-f')
# md5-sized fingerprints (what Postfix sends before compatibility_level 3.6)
MD5_SPKI=$(tb_der 1 "$C/good.pem" | openssl dgst -md5 -binary | tb_hex | tr 'a-f' 'A-F' | sed 's/\(..\)/\1:/g; s/:$//')
[ ${#GOOD_SPKI} = 95 ] && [ ${#ROGUE_SPKI} = 95 ] && [ ${#MD5_SPKI} = 47 ] \
    || tb_die "cannot compute the certificate fingerprints"

GOOD=(ccert_pubkey_fingerprint="$GOOD_SPKI" ccert_fingerprint="$GOOD_CERT")
ROGUE=(ccert_pubkey_fingerprint="$ROGUE_SPKI" ccert_fingerprint="$ROGUE_CERT")
DATA=(protocol_state=DATA queue_id=4XyZ1 recipient=)

# --- version and configuration check (-n) -----------------------------------------
"$DANCED" -V >"$D/out" 2>"$D/err" </dev/null
RC=$?
[ "$RC" = 0 ] && grep -Eq '[0-9]+\.[0-9]+' "$D/out" || why "exit status $RC, stdout '$(head -c 100 "$D/out")'"
report $? "danced -V prints a version and exits 0"

PORT=$(tb_free_port) || tb_die "no free port"
EP=inet:127.0.0.1:$PORT
CONF=$D/dance.conf
write_conf "$CONF" "$EP" "pid_file = $D/danced.pid"

"$DANCED" -n -c "$CONF" >"$D/out" 2>"$D/err" </dev/null
RC=$?
WHY="exit status $RC"
report "$RC" "danced -n accepts a good configuration (exit 0)"

write_conf "$D/bad.conf" "$EP"
sed -i 's/^dns_timeout = 2$/dns_timeout = banana/' "$D/bad.conf"
BADLINE=$(grep -n '^dns_timeout' "$D/bad.conf" | cut -d: -f1)
"$DANCED" -n -c "$D/bad.conf" >"$D/out" 2>"$D/err" </dev/null
RC=$?
if [ "$RC" = 0 ]; then
    WHY="exit status 0 for a bad dns_timeout"; false
else
    grep -q -- "$D/bad.conf:$BADLINE: dns_timeout: " "$D/err" \
        || { WHY="no 'bad.conf:$BADLINE: dns_timeout: ...' on stderr"; false; }
fi
report $? "danced -n rejects a bad value with file:line: key: problem"

write_conf "$D/unknown.conf" "$EP" "no_such_key = 1"
UNKLINE=$(grep -n '^no_such_key' "$D/unknown.conf" | cut -d: -f1)
"$DANCED" -n -c "$D/unknown.conf" >"$D/out" 2>"$D/err" </dev/null
RC=$?
if [ "$RC" = 0 ]; then
    WHY="exit status 0 for an unknown key"; false
else
    grep -q -- "$D/unknown.conf:$UNKLINE: no_such_key: " "$D/err" \
        || { WHY="no 'unknown.conf:$UNKLINE: no_such_key: ...' on stderr"; false; }
fi
report $? "danced -n rejects an unknown key with file:line: key: problem"

# --- the main daemon on 127.0.0.1 ----------------------------------------------
LOG=$D/danced.log
: > "$LOG"
if ! d_start "$LOG" "$CONF" "$EP"; then
    report 1 "danced starts on $EP"
    echo "Bail out! danced did not start"
    exit 99
fi
MAIN=$DPID
[ -s "$D/danced.pid" ] && [ "$(tr -d ' \n' < "$D/danced.pid")" = "$MAIN" ] \
    || why "pid_file holds '$(cat "$D/danced.pid" 2>/dev/null)', want $MAIN"
report $? "danced starts on $EP and writes its pid_file"

# --- answers --------------------------------------------------------------------
client "$EP" ask "${GOOD[@]}" client_address=192.0.2.10 instance=t.pass --next "${DATA[@]}"
asked_ok 2 && reply_is 0 OK
report $? "RCPT: DANE pass of an authorized helo name -> OK"
A=$(reply_n 1)
ar_is "$A" mx.dest.test "dane=pass smtp.helo=mta1.ok.test"
report $? "DATA: PREPEND Authentication-Results: mx.dest.test; dane=pass smtp.helo=mta1.ok.test (parsed back)"

# the verdict log line: once, with the fields the issue lists
L=$(grep -E '^danced: [a-z]+: verdict .*instance=t\.pass' "$LOG")
if [ "$(printf '%s\n' "$L" | grep -c .)" != 1 ]; then
    WHY="want exactly one verdict line for instance t.pass (RCPT and DATA share it), got: $L"; false
else
    for w in client=192.0.2.10 identity=helo name=mta1.ok.test owner=_smtp-client.mta1.ok.test \
             dnssec=secure result=pass "matched=\"3 1 1 $GOOD_SPKI_HEX\"" spki_sha256=$GOOD_SPKI_HEX; do
        case $L in
            *"$w"*) ;;
            *) WHY="verdict line lacks $w: $L"; false; break ;;
        esac
    done
fi
report $? "one verdict log line per connection and name, with client, owner, dnssec, result, matched record, SPKI"

client "$EP" ask "${GOOD[@]}" helo_name=ee301.ok.test --next "${DATA[@]}"
asked_ok 2 && reply_is 0 DUNNO
report $? "RCPT: DANE pass of a name not in authorized_clients -> DUNNO"
ar_is "$(reply_n 1)" mx.dest.test "dane=pass smtp.helo=ee301.ok.test"
report $? "DATA: that unauthorized name did pass (dane=pass smtp.helo=ee301.ok.test)"

client "$EP" ask "${ROGUE[@]}" --next "${DATA[@]}"
asked_ok 2 && reply_is 0 DUNNO
report $? "RCPT: rogue key for an authorized name -> DUNNO (fail_action = dunno)"
ar_is "$(reply_n 1)" mx.dest.test "dane=fail smtp.helo=mta1.ok.test"
report $? "DATA: rogue key -> dane=fail smtp.helo=mta1.ok.test"

client "$EP" ask "${GOOD[@]}" helo_name=nx.ok.test sender=postmaster@MTA1.ok.test --next "${DATA[@]}"
asked_ok 2 && reply_is 0 OK
report $? "RCPT: the mailfrom identity (sender domain) passes and is authorized -> OK"
ar_is "$(reply_n 1)" mx.dest.test "dane=none smtp.helo=nx.ok.test" "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "DATA: one field with helo (none) and mailfrom (pass) results"

client "$EP" ask --next "${DATA[@]}"
asked_ok 2 && reply_is 0 DUNNO
report $? "RCPT: no client certificate -> DUNNO"
ar_is "$(reply_n 1)" mx.dest.test "dane=none smtp.helo=mta1.ok.test"
report $? "DATA: no client certificate -> dane=none"

client "$EP" ask "${GOOD[@]}" helo_name=mta1.bogus.test --next "${DATA[@]}"
asked_ok 2 && reply_is 0 'DEFER_IF_PERMIT 4.7.*mta1.bogus.test*'
report $? "RCPT: bogus TLSA (temperror) for an authorized name -> DEFER_IF_PERMIT"
ar_is "$(reply_n 1)" mx.dest.test "dane=temperror smtp.helo=mta1.bogus.test"
report $? "DATA: bogus TLSA -> dane=temperror"

client "$EP" ask ccert_der="$GOOD_DER" helo_name=ee300.ok.test --next "${DATA[@]}"
asked_ok 2 && reply_is 0 DUNNO && ar_is "$(reply_n 1)" mx.dest.test "dane=pass smtp.helo=ee300.ok.test"
report $? "ccert_der (Exim's certificate) alone passes a 3 0 0 record (DUNNO at RCPT, dane=pass at DATA)"

client "$EP" ask ccert_der="$GOOD_DER" ccert_pubkey_fingerprint= ccert_fingerprint=
asked_ok 1 && reply_is 0 OK
report $? "ccert_der alone passes 3 1 1 for an authorized name -> OK"

# (with a passing certificate, so a request wrongly taken for RCPT would get OK)
client "$EP" ask "${GOOD[@]}" request=junk_request --next request=smtpd_access_policy protocol_state=CONNECT \
    --next protocol_state=EHLO --next protocol_state=MAIL --next protocol_state=VRFY \
    --next protocol_state=ETRN --next protocol_state=END-OF-MESSAGE \
    --next protocol_state=RCPT request- --next request=smtpd_access_policy protocol_state-
asked_ok 9 && tb_json_is "j['replies'] == ['DUNNO'] * 9"
report $? "unknown request type, other states, missing request or state -> DUNNO (9 requests)"

client "$EP" ask ccert_pubkey_fingerprint="$MD5_SPKI" ccert_fingerprint= --repeat 2
asked_ok 2 && tb_json_is "j['replies'] == ['DUNNO', 'DUNNO']" \
    && log_wait "$LOG" 'CONFIGURATION ERROR: .*fingerprint_digest' 2 \
    && { N=$(count_lines "$LOG" 'CONFIGURATION ERROR'); [ "$N" = 1 ] || why "'CONFIGURATION ERROR' logged $N times, want once"; }
report $? "md5-length fingerprint: DUNNO and one loud CONFIGURATION ERROR line naming fingerprint_digest"

# --- load ---------------------------------------------------------------------------
client "$EP" ask "${GOOD[@]}" instance=t.many1 --repeat 200 --timeout 5
asked_ok 200 && tb_json_is "j['replies'] == ['OK'] * 200"
report $? "200 requests on one connection: 200 x OK"
N=$(count_lines "$LOG" 'verdict .*instance=t\.many1( |$)')
[ "$N" = 1 ] || why "$N verdict lines for those 200 requests, want 1 (computed once per connection)"
report $? "200 requests on one connection compute the verdict once"

client "$EP" ask "${GOOD[@]}" --next protocol_state=CONNECT --repeat 50 --pipeline
asked_ok 100 && tb_json_is "j['replies'] == ['OK', 'DUNNO'] * 50"
report $? "100 pipelined requests in one write: 100 replies, in order"

client "$EP" many "${GOOD[@]}" instance=t.conns --conns 200 --timeout 20
tb_json_is "j['connected'] == 200 and j['answered'] == 200 and j['actions'] == {'OK': 200} and j['errors'] == []"
report $? "200 concurrent connections: 200 x OK"

# --- malformed requests: only their own connection is closed ---------------------
for k in nul:"a NUL byte" longline:"a 9 KiB line" manyattrs:"300 attributes" \
         bigreq:"a 72 KiB request" noeq:"a line without '='" badname:"a bad attribute name" \
         dupe:"the same attribute twice"; do
    client "$EP" bad --kind "${k%%:*}" "${GOOD[@]}" --timeout 5
    tb_json_is "j['error'] is None and j['bad_closed'] and j['bad_reply'] == '' and j['before'] == 'OK' and j['after'] == 'OK'"
    report $? "${k#*:}: that connection is closed unanswered, a parallel one keeps getting answers"
done
client "$EP" edge "${GOOD[@]}"
tb_json_is "j['error'] is None and j['sizes']['req65536'] == 65536 and [j[k] for k in ('attrs256', 'line8192', 'req65536', 'crlf', 'empty')] == ['OK', 'OK', 'OK', 'OK', 'DUNNO']"
report $? "right at the limits (256 attributes, an 8192-byte line, a 65536-byte request), CRLF, empty request: answered"

N=$(count_lines "$LOG" 'policy protocol error')
[ "$N" = 7 ] || why "$N 'policy protocol error' log lines, want 7"
report $? "each malformed connection was logged as a protocol error"
tb_running "$MAIN" || why "danced died"
report $? "danced is still running after the hostile input"

# --- a hanging look-up does not delay other connections -------------------------
H0=$(tb_blackhole_hits)
client "$EP" slow "${GOOD[@]}" --slow helo_name=slow1.dead.test --fast-count 5 --timeout 10
tb_json_is "j['error'] is None and j['fast'] == ['OK'] * 5 and max(j['fast_ms']) < 500"
report $? "while a look-up hangs, another connection's 5 requests are answered, each in < 0.5 s"
tb_json_is "(j['slow'] or '').startswith('DEFER_IF_PERMIT') and 1500 <= j['slow_ms'] <= 4500" \
    && { [ "$(tb_blackhole_hits)" -gt "$H0" ] || why "the blackhole saw no query"; }
report $? "the hanging look-up (blackhole) ends after ~dns_timeout (2 s) as temperror -> DEFER_IF_PERMIT"

# --- idle timeout -----------------------------------------------------------------------
client "$EP" idle "${GOOD[@]}" --first --max 8
tb_json_is "j['error'] is None and j['first'] == 'OK' and j['closed'] and 1500 <= j['closed_after_ms'] <= 4500"
report $? "an idle connection is closed after idle_timeout (2 s)"

# --- SIGHUP ---------------------------------------------------------------------------
write_conf "$CONF.new" "$EP" "pid_file = $D/danced.pid"
sed -i 's/^authserv_id = mx.dest.test$/authserv_id = mx2.dest.test/' "$CONF.new"
mv "$CONF.new" "$CONF"
client "$EP" reload --pid "$MAIN" --max 3 "${GOOD[@]}" "${DATA[@]}"
tb_json_is "j['error'] is None and not j['closed'] and j['changed'] and 'mx.dest.test;' in j['before'] and 'mx2.dest.test;' in j['after']"
report $? "SIGHUP with a good file: the new authserv_id is used at once, on the same connection"

write_conf "$CONF.new" "$EP" "pid_file = $D/danced.pid" "authserv_id = mx3.dest.test" "fail_action = sometimes"
sed -i '/^authserv_id = mx.dest.test$/d' "$CONF.new"
BADLINE=$(grep -n '^fail_action' "$CONF.new" | cut -d: -f1)
mv "$CONF.new" "$CONF"
client "$EP" reload --pid "$MAIN" --max 1 "${GOOD[@]}" "${DATA[@]}"
tb_json_is "j['error'] is None and not j['closed'] and not j['changed'] and 'mx2.dest.test;' in j['after']"
R1=$?
log_wait "$LOG" "$CONF:$BADLINE: fail_action: " 3
R2=$?
[ $R1 = 0 ] && [ $R2 = 0 ] && { tb_running "$MAIN" || why "danced died"; }
report $? "SIGHUP with a bad file: refused with 'file:line: key:' in the log, old configuration kept"
client "$EP" ask "${ROGUE[@]}"
asked_ok 1 && reply_is 0 DUNNO
report $? "after the refused reload the old fail_action still applies"

# --- SIGHUP that replaces the resolver while look-ups hang -------------------------
# Connection A waits for a hanging look-up; connection B sends one and then
# gives up and closes before the answer; then a reload changes dns_timeout
# (a new resolver; the old one must finish A's look-up, then be freed).
$CLIENT "$EP" ask "${GOOD[@]}" helo_name=slow3.dead.test --timeout 10 >"$D/hupA.out" 2>&1 </dev/null &
APID=$!
$CLIENT "$EP" ask "${GOOD[@]}" helo_name=slow4.dead.test --timeout 0.3 >"$D/hupB.out" 2>&1 </dev/null &
BPID=$!
TB_PIDS="$TB_PIDS $APID $BPID"
sleep 0.5
write_conf "$CONF.new" "$EP" "pid_file = $D/danced.pid"
sed -i 's/^authserv_id = mx.dest.test$/authserv_id = mx4.dest.test/; s/^dns_timeout = 2$/dns_timeout = 3/' "$CONF.new"
mv "$CONF.new" "$CONF"
client "$EP" reload --pid "$MAIN" --max 3 "${GOOD[@]}" "${DATA[@]}"
tb_json_is "j['error'] is None and j['changed'] and 'mx4.dest.test;' in j['after']"
report $? "SIGHUP with new resolver settings while look-ups hang: reloaded (authserv_id mx4.dest.test)"
wait "$APID" "$BPID"
pids_forget "$APID"
pids_forget "$BPID"
cp "$D/hupA.out" "$D/out"
tb_json_is "j['error'] is None and len(j['replies']) == 1 and j['replies'][0].startswith('DEFER_IF_PERMIT') and 1500 <= j['ms'][0] <= 2900"
report $? "the look-up started before the reload ends on the old resolver's 2 s timeout (not the new 3 s): DEFER_IF_PERMIT"
cp "$D/hupB.out" "$D/out"
tb_json_is "(j['error'] or '').startswith('timeout')" && {
    sleep 2             # its answer is due now, to a closed socket
    client "$EP" ask "${GOOD[@]}"
    asked_ok 1 && reply_is 0 OK && { tb_running "$MAIN" || why "danced died"; }
}
report $? "a client that closed while its look-up was pending does not disturb the daemon"

# --- IPv6 loopback, fail_action = reject ------------------------------------------
P6=$($CLIENT freeport6 | "$TB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["port"] or "")')
if [ -z "$P6" ]; then
    tap_skip "IPv6 [::1]: pass -> OK, rogue -> REJECT (fail_action = reject)" "no IPv6 loopback"
else
    EP6="inet:[::1]:$P6"
    write_conf "$D/v6.conf" "$EP6" "fail_action = reject"
    if d_start "$D/danced-v6.log" "$D/v6.conf" "$EP6"; then
        V6=$DPID
        client "$EP6" ask "${GOOD[@]}" --next "${ROGUE[@]}"
        asked_ok 2 && reply_is 0 OK && reply_is 1 'REJECT 5.7.1 *mta1.ok.test*'
        report $? "IPv6 [::1]: pass -> OK, rogue key -> REJECT 5.7.1 (fail_action = reject)"
        d_stop "$V6" INT
        [ "$DRC" = 0 ] || why "exit status $DRC"
        report $? "IPv6 [::1]: SIGINT exits 0"
    else
        report 1 "IPv6 [::1]: danced starts"
    fi
fi

# --- unix socket ----------------------------------------------------------------------
SOCK=$D/run/danced.sock
mkdir -p "$D/run"
write_conf "$D/unix.conf" "unix:$SOCK" "socket_mode = 0620"
if d_start "$D/danced-unix.log" "$D/unix.conf" "unix:$SOCK"; then
    UX=$DPID
    M=$(stat -c '%a %F' "$SOCK" 2>/dev/null)
    [ "$M" = "620 socket" ] || why "socket file: '$M', want '620 socket'"
    report $? "unix socket is created with socket_mode 0620"
    client "unix:$SOCK" ask "${GOOD[@]}" --next "${DATA[@]}"
    asked_ok 2 && reply_is 0 OK && ar_is "$(reply_n 1)" mx.dest.test "dane=pass smtp.helo=mta1.ok.test"
    report $? "unix socket: RCPT OK and the DATA header"
    client "unix:$SOCK" many "${GOOD[@]}" --conns 50
    tb_json_is "j['answered'] == 50 and j['actions'] == {'OK': 50} and j['errors'] == []"
    report $? "unix socket: 50 concurrent connections answered"
    d_stop "$UX"
    [ "$DRC" = 0 ] && [ ! -e "$SOCK" ] || why "exit status $DRC; socket file $( [ -e "$SOCK" ] && echo left behind || echo removed)"
    report $? "unix socket: SIGTERM exits 0 and removes the socket file"
else
    report 1 "unix socket: danced starts"
fi

# --- SIGTERM finishes the request in flight --------------------------------------
$CLIENT "$EP" ask "${GOOD[@]}" helo_name=slow2.dead.test --timeout 10 >"$D/inflight.out" 2>"$D/inflight.err" </dev/null &
CPID=$!
TB_PIDS="$TB_PIDS $CPID"
sleep 0.4
d_stop "$MAIN" TERM
wait "$CPID"
pids_forget "$CPID"
cp "$D/inflight.out" "$D/out"
tb_json_is "j['error'] is None and len(j['replies']) == 1 and j['replies'][0].startswith('DEFER_IF_PERMIT') and j['ms'][0] > 1500"
report $? "SIGTERM: the request waiting for DNS (dns_timeout now 3 s) is still answered, DEFER_IF_PERMIT"
[ "$DRC" = 0 ] || why "exit status $DRC"
report $? "SIGTERM: danced exits 0"
[ ! -e "$D/danced.pid" ] || why "pid_file left behind"
report $? "SIGTERM: the pid_file is removed"

# --- sanitizers -----------------------------------------------------------------------
S=$(cat "$D"/danced*.log | grep -E 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' | head -n 3)
[ -z "$S" ] || why "$S"
report $? "no sanitizer reports in the daemon logs"

tb_log "$NFAIL of $NTEST failed; $(( $(date +%s) - T0 )) s"
tap_end
