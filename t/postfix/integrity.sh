#!/bin/bash
# integrity.sh - no local process may forge, evict or starve what danced's
# milter writes: the verdict store between the faces, the peers allowed on
# danced's sockets, and the milter face's connection limits, under a real
# Postfix.
#
# The DNSSEC bed of t/dns/testbed.sh, danced with both faces on loopback
# TCP (the harder case: any local user can connect) and peer_users =
# postfix, and a private Postfix (t/postfix/postfixbed.sh) as
# contrib/postfix/main.cf recommends.  SMTP transactions are held open at
# DATA (t/postfix/smtpclient.py --hold-until) while the test plays the
# attacker with t/daemon/policyclient.py and t/milter/miltclient.py, as
# root (a peer danced admits) and as nobody (one it must refuse).  Cases:
#   - nobody's connections to either face are refused and logged, and the
#     held message keeps its own verdict (fail);
#   - a second DATA request for a held message (the published key's
#     fingerprint, as root) makes it temperror - the newer word never
#     stands;
#   - 20,000 DATA requests with random keys cannot push out a held pass or
#     fail: both keep their verdicts;
#   - a fake milter session taking a held message's record first: the real
#     message gets temperror, never none;
#   - a transaction Postfix rejects after the policy answer leaves no
#     record: a take of its key finds none (temperror), not its verdict;
#   - the recommended set-up, unix sockets with socket_group postfix: mail
#     passes, and a process that may open the socket but is not in
#     peer_users (nobody with group postfix) is refused by SO_PEERCRED;
#   - 3,000 idle milter connections as nobody (refused at once) and 500 as
#     root (over milter_max_connections 100, each closed when it has not
#     negotiated within request_timeout): the policy face keeps answering
#     fast, a Postfix message still gets its field, no descriptor runs out.
#
# Output is TAP with the plan at the end.  Skipped (1..0) without the beds'
# tools, python3-authres or Perl Mail::AuthenticationResults, or when not
# run as root.  Everything started here is stopped on exit.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand, as
# root, from a build directory:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/postfix/integrity.sh

TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DANCE=${DANCE:-$PWD/cli/dance}
DANCED=${DANCED:-$(dirname "$DANCE")/../danced/danced}
# shellcheck disable=SC2034  # read by testbed.sh: a broken bed prints "Bail out!"
TB_TAP=1

# shellcheck source=t/dns/testbed.sh
. "$TESTDIR/dns/testbed.sh"
# shellcheck source=t/postfix/postfixbed.sh
. "$TESTDIR/postfix/postfixbed.sh"
# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"
# shellcheck source=t/archeck.sh
. "$TESTDIR/archeck.sh"

tap_need_beds postfix
tap_need_parsers
tap_need_binaries

tap_diag() {
    pb_tap_diag
}

# as_nobody CMD... - run CMD as user nobody (group nogroup).
as_nobody() {
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

# hold NAME CERT KEY FROM [smtpclient options] - start a transaction held at DATA; sets
# HOLD_PORT and HOLD_QID (from the maillog's client= line); release with: touch $PB_DIR/NAME.go
hold() {
    local name=$1 cert=$2 key=$3 from=$4 i
    shift 4
    rm -f "$PB_DIR/$name.go"
    "$PB_PYTHON" -u "$PB_LIBDIR/smtpclient.py" --server 127.0.0.1 --port "$PB_PORT" --ehlo mta1.ok.test \
        --cert "$cert" --key "$key" --from "$from" --to "rcpt@$DOM" \
        --hold-until "$PB_DIR/$name.go" "$@" >"$PB_DIR/$name.out" 2>&1 &
    PB_PIDS="$PB_PIDS $!"
    HOLD_PORT= HOLD_QID=
    for i in $(seq 1 200); do
        grep -q '^hold msg' "$PB_DIR/$name.out" 2>/dev/null && break
        sleep 0.05
    done
    HOLD_PORT=$(sed -n 's/^conn \([0-9]*\)$/\1/p' "$PB_DIR/$name.out")
    HOLD_QID=$(sed -n "s/.*smtpd\\[[0-9]*\\]: \\([0-9A-F]*\\): client=.*\\[127\\.0\\.0\\.1\\]:$HOLD_PORT\$/\\1/p" \
               "$PB_MAILLOG" | tail -n 1)
    if [ -z "$HOLD_PORT" ] || [ -z "$HOLD_QID" ] || ! grep -q '^hold msg' "$PB_DIR/$name.out"; then
        why "transaction $name not held at DATA (port '$HOLD_PORT', queue id '$HOLD_QID'): $(tail -n 2 "$PB_DIR/$name.out" | tr '\n' ' ')"
        return 1
    fi
    return 0
}

# release NAME - let a held transaction finish; waits for its client.
release() {
    local i
    touch "$PB_DIR/$1.go"
    for i in $(seq 1 300); do
        grep -q '^msg 1 \(queued\|refused\)' "$PB_DIR/$1.out" && return 0
        sleep 0.05
    done
    why "transaction $1 did not finish: $(tail -n 2 "$PB_DIR/$1.out" | tr '\n' ' ')"
}

# delivered_copy QID - wait (10 s) for QID's delivery; sets COPY.
delivered_copy() {
    local i
    for i in $(seq 1 200); do
        COPY=$(copy_of "$1")
        [ -n "$COPY" ] && return 0
        sleep 0.05
    done
    why "queue id $1 was not delivered"
}

# data_request QID PORT [name=value...] - the DATA request Postfix would send for that message, as root.
data_request() {
    local qid=$1 port=$2
    shift 2
    "$PB_PYTHON" "$PB_DIR/policyclient.py" "$PEP" ask protocol_state=DATA "queue_id=$qid" \
        "client_port=$port" client_address=127.0.0.1 helo_name=mta1.ok.test sender=sender@mta1.ok.test \
        "ccert_pubkey_fingerprint=$GOOD_SPKI" "ccert_fingerprint=$GOOD_CERT" "$@"
}

# jq_py JSON EXPR - evaluate a Python expression over the JSON object j; true when truthy.
jq_py() {
    "$PB_PYTHON" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$1" "$2" 2>/dev/null
}

# ---------------------------------------------------------------------------
T_ALL=$(pb_now)
tb_init
tb_standard_bed
pb_init
C=$TB_CERTS
DOM=$PB_DOMAIN
SERVID=mx.$DOM
DLOG=$PB_DIR/danced.log
DCONF=$PB_DIR/danced.conf
DPORT=$(pb_free_port)
MPORT=$(pb_free_port)
PEP=inet:127.0.0.1:$DPORT
MEP=inet:127.0.0.1:$MPORT
GOOD=$C/good.pem GKEY=$C/good.key
ROGUE=$C/rogue.pem RKEY=$C/rogue.key
GOOD_SPKI=$(pb_fingerprint 1 "$GOOD")
GOOD_CERT=$(pb_fingerprint 0 "$GOOD")
# policy latency while the milter face is flooded (memcheck makes danced ~30 times slower)
LAT_MS=100
[ -n "${DANCE_VALGRIND:-}" ] && LAT_MS=3000
# the attackers' tools, where nobody can read them
cp "$TESTDIR/daemon/policyclient.py" "$TESTDIR/milter/miltclient.py" "$PB_DIR/"
chmod 0755 "$PB_DIR/policyclient.py" "$PB_DIR/miltclient.py"

write_conf() {
    cat > "$DCONF" <<EOF
# danced for t/postfix/integrity.sh: both faces, peers checked
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = $1
milter_socket = $2
socket_group = postfix
authserv_id = $SERVID
peer_users = postfix
milter_max_connections = 100
request_timeout = 2
EOF
}
write_conf "$PEP" "$MEP"
danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts with both faces on loopback TCP and peer_users = postfix"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }

PB_POLICY_ENDPOINT=$PEP
PB_POLICY_OPTS="timeout=10s, default_action=DUNNO"
PB_POLICY_STAGES="relay data"
PB_MAIN_EXTRA="smtpd_milters = { $MEP, default_action=tempfail }
smtpd_client_port_logging = yes
smtpd_data_restrictions = check_policy_service { $PEP, $PB_POLICY_OPTS }, check_sender_access inline:{ { reject@mta1.ok.test = REJECT rejected after the policy answer } }"
pb_start
report $? "Postfix starts with danced's faces, a data restriction after the policy service"

# --- peers: only the MTA's users ------------------------------------------------
hold nobody "$ROGUE" "$RKEY" sender@mta1.ok.test
out=$(as_nobody "$PB_PYTHON" "$PB_DIR/policyclient.py" "$PEP" ask protocol_state=DATA "queue_id=$HOLD_QID" \
      "client_port=$HOLD_PORT" "ccert_pubkey_fingerprint=$GOOD_SPKI" helo_name=mta1.ok.test)
jq_py "$out" "j['replies'] == [] and (j['closed'] or j['error'])" || why "nobody's DATA request: $out"
log_has "policy: .*refused: user id 65534 is not in peer_users"
report $? "a DATA request from nobody (the published key, a held message's key) is refused unanswered and logged"
out=$(as_nobody "$PB_PYTHON" "$PB_DIR/miltclient.py" "$MEP" message --queue-id "$HOLD_QID" --addr 127.0.0.1 \
      --port "$HOLD_PORT" --tls)
jq_py "$out" "j['negotiated'] is None and not j['changes']" || why "nobody's milter session: $out"
log_has "milter: .*refused: user id 65534 is not in peer_users"
report $? "a milter session from nobody is refused before it negotiates, and logged"
release nobody && delivered_copy "$HOLD_QID" \
    && ar "$COPY" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test"
report $? "the held message keeps its own verdict: dane=fail"

# --- a second write never stands ----------------------------------------------------
hold conflict "$ROGUE" "$RKEY" sender@mta1.ok.test
out=$(data_request "$HOLD_QID" "$HOLD_PORT")
jq_py "$out" "j['replies'] == ['DUNNO']" || why "root's DATA request: $out"
log_has "a second DATA request for message $HOLD_QID 127\\.0\\.0\\.1 $HOLD_PORT"
release conflict && delivered_copy "$HOLD_QID" \
    && ar "$COPY" --want "dane=temperror smtp.helo=mta1.ok.test" --want "dane=temperror smtp.mailfrom=mta1.ok.test"
grep -q 'conflicting policy requests' "$COPY" || why "reason: $(pb_first_header "$COPY")"
report $? "a second DATA request with the published key for a held rogue message: temperror (conflict), never pass"

# --- flooding the store -------------------------------------------------------------
hold floodpass "$GOOD" "$GKEY" sender@mta1.ok.test
QP=$HOLD_QID
hold floodfail "$ROGUE" "$RKEY" sender@mta1.ok.test
QF=$HOLD_QID
t0=$(pb_now)
out=$("$PB_PYTHON" "$PB_DIR/policyclient.py" "$PEP" flood --count 20000 --conns 20 \
      "ccert_pubkey_fingerprint=$GOOD_SPKI" helo_name=flood.ok.test)
jq_py "$out" "j['answered'] == 20000" || why "flood: $out"
timing "20,000 DATA requests on 20 connections in $(( $(pb_now) - t0 )) ms"
release floodpass && delivered_copy "$QP" \
    && ar "$COPY" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "20,000 DATA requests with random keys (from root) cannot push out a held message's record: it still says pass"
release floodfail && delivered_copy "$QF" \
    && ar "$COPY" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test"
report $? "...nor turn a rogue sender's fail into none: it still says fail"

# --- a record taken by someone else -------------------------------------------------
hold steal "$ROGUE" "$RKEY" sender@mta1.ok.test
out=$("$PB_PYTHON" "$PB_DIR/miltclient.py" "$MEP" message --queue-id "$HOLD_QID" --addr 127.0.0.1 \
      --port "$HOLD_PORT" --tls)
jq_py "$out" "any('dane=fail' in c['value'] for c in j['changes'])" || why "the fake milter session: $out"
release steal && delivered_copy "$HOLD_QID" \
    && ar "$COPY" --want "dane=temperror smtp.helo=mta1.ok.test" --want "dane=temperror smtp.mailfrom=mta1.ok.test"
grep -q 'verdict already taken' "$COPY" || why "reason: $(pb_first_header "$COPY")"
report $? "a fake milter session takes a held message's record first: the real message gets temperror, never none"

# --- a transaction rejected after the policy answer leaves nothing --------------------
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --count 2 --from reject@mta1.ok.test \
    --from sender@mta1.ok.test --to "rcpt@$DOM"
RPORT=$(sed -n 's/^conn \([0-9]*\)$/\1/p' "$PB_LAST_OUT")
RQID=$(sed -n "s/.*smtpd\\[[0-9]*\\]: \\([0-9A-F]*\\): reject: DATA from .*\\[127\\.0\\.0\\.1\\]:$RPORT: .*/\\1/p" \
       "$PB_MAILLOG" | tail -n 1)
grep -q '^msg 1 refused DATA 554' "$PB_LAST_OUT" && grep -q '^msg 2 queued' "$PB_LAST_OUT" \
    || why "client: $(tr '\n' ' ' < "$PB_LAST_OUT")"
[ -n "$RQID" ] || why "no reject logged for port $RPORT"
out=$("$PB_PYTHON" "$PB_DIR/miltclient.py" "$MEP" message --queue-id "$RQID" --addr 127.0.0.1 --port "$RPORT" \
      --tls)
jq_py "$out" "any('dane=temperror' in c['value'] and 'no verdict' in c['value'] for c in j['changes'])" \
    || why "a take of the rejected message's key found: $out"
report $? "a message Postfix rejected after the policy answer: its record went with its transaction (a take finds none)"

# --- starving the milter face ---------------------------------------------------------
"$PB_PYTHON" "$PB_DIR/policyclient.py" "$PEP" ask helo_name=mta1.ok.test "ccert_pubkey_fingerprint=$GOOD_SPKI" \
    >/dev/null                          # warm the cache for the latency probe
as_nobody "$PB_PYTHON" "$PB_DIR/miltclient.py" "$MEP" idle --conns 3000 --max 20 >"$PB_DIR/idle.nobody" &
IDLE=$!
sleep 0.3
out=$("$PB_PYTHON" "$PB_DIR/policyclient.py" "$PEP" ask --repeat 200 helo_name=mta1.ok.test \
      "ccert_pubkey_fingerprint=$GOOD_SPKI")
wait "$IDLE"
idle=$(cat "$PB_DIR/idle.nobody")
jq_py "$idle" "j['connected'] + j['connect_errors'] == 3000 and j['open_at_end'] == 0 and j['closed_ms']['median'] < 20 * $LAT_MS" \
    || why "nobody's idle connections: $idle"
jq_py "$out" "len(j['replies']) == 200 and sorted(j['ms'])[197] < $LAT_MS" || why "policy latency meanwhile: $out"
report $? "3,000 idle milter connections from nobody: refused at once; the policy face answers meanwhile (p99 < $LAT_MS ms)"
printf '#   idle: %s\n#   policy ms (p50 p99): %s\n' "$idle" \
    "$("$PB_PYTHON" -c 'import json,sys; m=sorted(json.loads(sys.argv[1])["ms"]); print(m[len(m)//2], m[int(len(m)*.99)-1])' "$out")"

"$PB_PYTHON" "$PB_DIR/miltclient.py" "$MEP" idle --conns 500 --max 40 >"$PB_DIR/idle.root" &
IDLE=$!
sleep 1
out=$("$PB_PYTHON" "$PB_DIR/policyclient.py" "$PEP" ask --repeat 200 helo_name=mta1.ok.test \
      "ccert_pubkey_fingerprint=$GOOD_SPKI")
pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed meanwhile"
pb_wait_mail 1 40 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "500 idle milter connections from root (limit 100): a Postfix message still gets its field (after ${PB_T_SEND} ms)"
wait "$IDLE"
idle=$(cat "$PB_DIR/idle.root")
jq_py "$idle" "j['connected'] == 500 and j['open_at_end'] == 0 and j['closed_ms']['min'] >= 1500" \
    || why "root's idle connections: $idle"
jq_py "$out" "len(j['replies']) == 200 and sorted(j['ms'])[197] < $LAT_MS" || why "policy latency meanwhile: $out"
log_has "milter: 100 connections \\(the limit\\): not accepting more" \
    && log_has "milter .*: no option negotiation within 2 s \\(request_timeout\\); closing"
! grep -q 'Too many open files' "$DLOG" || why "danced ran out of descriptors"
report $? "...each closed when it has not negotiated within request_timeout (2 s); the policy face answers meanwhile (p99 < $LAT_MS ms)"
printf '#   idle: %s\n' "$idle"

danced_end "$DANCED_PID" "$DLOG" TERM
report $? "danced exits 0 on SIGTERM, no sanitizer report"

# --- the recommended set-up: unix sockets only Postfix may use --------------------------
PSOCK=$PB_DIR/dance-policy
MSOCK=$PB_DIR/dance-milter
write_conf "unix:$PSOCK" "unix:$MSOCK"
: > "$DLOG"
danced_run "$DCONF" "$DLOG"
report $? "danced starts on unix sockets (socket_group postfix, mode 0660)"
pb_postconf "smtpd_milters = { unix:$MSOCK, default_action=tempfail }"
pb_set_policy "unix:$PSOCK"                # restarts Postfix
pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
pb_wait_mail 1 20 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "Postfix through the unix sockets: dane=pass"
out=$(setpriv --reuid=nobody --regid=postfix --clear-groups "$PB_PYTHON" "$PB_DIR/policyclient.py" \
      "unix:$PSOCK" ask helo_name=mta1.ok.test)
jq_py "$out" "j['replies'] == [] and (j['closed'] or j['error'])" || why "nobody with group postfix: $out"
log_has "policy: unix#[0-9]*: refused: user id 65534 is not in peer_users"
out=$(as_nobody "$PB_PYTHON" "$PB_DIR/policyclient.py" "unix:$PSOCK" ask helo_name=mta1.ok.test)
jq_py "$out" "'Permission denied' in (j['error'] or '')" || why "nobody without group postfix: $out"
report $? "a process that may open the socket file but is not in peer_users is refused (SO_PEERCRED); others cannot open it"
danced_end "$DANCED_PID" "$DLOG" TERM
[ ! -e "$PSOCK" ] && [ ! -e "$MSOCK" ] || why "socket files left behind"
report $? "danced exits 0 on SIGTERM and removes its sockets"

timing "integrity total $(( $(pb_now) - T_ALL )) ms"
tap_end
