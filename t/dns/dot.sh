#!/bin/bash
# dot.sh - DNS over TLS to the forwarders (forwarders_tls), against a real unbound.
#
# Builds a small DNSSEC bed (t/dns/testbed.sh: test. and ok.test. signed
# now, nsd on a free 127.0.0.1 port), makes a test CA and a server
# certificate for "dot.test" with openssl, and starts a real unbound on
# loopback that answers only over TLS (tls-port, tls-service-key/pem; no
# plain interface at all) and resolves the test zones from nsd.  dance's
# own libunbound configuration has no stub zones: every query has to go
# through the forwarders of the dance configuration file.  Covered:
#   - forwarders_tls = yes with the test CA: a DANE pass (CLI and danced);
#   - how the test knows nothing went in plain text: the forwarder listens
#     on its TLS port only, and its statistics (unbound-control stats)
#     count as many queries over TLS (num.query.tls) as queries in all
#     (total.num.queries), more than none;
#   - a wrong #NAME, a CA that did not issue the certificate, the system
#     CAs (which do not know the test CA): temperror with the TLS failure
#     as the reason, and no query answered by the forwarder;
#   - danced: a DANE pass over TLS; another local user (65534) connecting
#     to the relay's loopback port is closed unanswered and nothing reaches
#     the forwarder, while danced's own user (root here) is answered; then
#     SIGHUP to a wrong #NAME (a new relay): DEFER_IF_PERMIT with the TLS
#     failure in the verdict line;
#   - a dead first forwarder and a good second one: pass; the default port
#     (853) named in the reason when nothing listens there;
#   - configuration errors named FILE:LINE: KEY: no #NAME with TLS, a bad
#     port, a bad name, #NAME without forwarders_tls, forwarders_tls
#     without forwarders, an unreadable tls_ca_file.
#
# Output is TAP with the plan at the end; everything started here is
# stopped on exit through testbed.sh's trap.  Needs the bed's tools plus
# unbound and unbound-control (Debian: unbound).
#
# Environment (set by `make check`): DANCE, DANCED, TESTDIR.  By hand, from
# a build directory:  DANCE=cli/dance DANCED=danced/danced ../t/dns/dot.sh

# "A && B || why MSG" is meant: why records the reason and fails.
# shellcheck disable=SC2015
TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DANCE=${DANCE:-$PWD/cli/dance}
DANCED=${DANCED:-$PWD/danced/danced}
# shellcheck disable=SC2034  # read by testbed.sh: a broken bed prints "Bail out!"
TB_TAP=1

# shellcheck source=t/dns/testbed.sh
. "$TESTDIR/dns/testbed.sh"
# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"

tap_need_beds
tap_need_binaries
for t in unbound unbound-control; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "1..0 # SKIP $t is not installed (Debian: unbound)"
        exit 0
    fi
done
# shellcheck source=t/dns/dcheck.sh
. "$TESTDIR/dns/dcheck.sh"

tb_init
T0=$(date +%s)
D=$TB_DIR
C=$TB_CERTS

# --- the bed: certificates, zones, nsd ---------------------------------------------
tb_cert_selfsigned good mta1.ok.test
tb_cert_ca dotca "dance test DoT CA"
tb_cert_issue dot dotca ee_issued dot.test
tb_cert_ca otherca "dance test other CA"
tb_small_bed "$(tb_tlsa _smtp-client.mta1.ok.test 3 1 1 "$C/good.pem")"

# dance's libunbound: no stubs, no forward-zone; the forwarders come from dance.conf.
cat > "$D/resolver.conf" <<EOF
# libunbound configuration for the DoT test: loopback only, forwarders from dance.conf
server:
	verbosity: 0
	do-ip6: no
	qname-minimisation: no
	target-fetch-policy: "0 0 0 0 0"
	local-zone: "test." nodefault
EOF

# --- the DoT forwarder: unbound on a TLS port only -------------------------------
DOT_PORT=$(tb_free_port) || tb_die "no free port"
CTL_PORT=$(tb_free_port) || tb_die "no free port"
cat > "$D/dot-unbound.conf" <<EOF
server:
	verbosity: 1
	interface: 127.0.0.1@$DOT_PORT
	port: $DOT_PORT
	tls-port: $DOT_PORT
	tls-service-key: "$C/dot.key"
	tls-service-pem: "$C/dot.pem"
	do-ip6: no
	do-udp: no
	username: ""
	chroot: ""
	directory: "$D"
	pidfile: "$D/dot-unbound.pid"
	use-syslog: no
	logfile: "$D/dot-unbound.log"
	do-not-query-localhost: no
	module-config: "iterator"
	qname-minimisation: no
	target-fetch-policy: "0 0 0 0 0"
	local-zone: "test." nodefault
	extended-statistics: yes
	statistics-cumulative: yes
stub-zone:
	name: "test."
	stub-addr: 127.0.0.1@$TB_PORT
stub-zone:
	name: "ok.test."
	stub-addr: 127.0.0.1@$TB_PORT
remote-control:
	control-enable: yes
	control-interface: 127.0.0.1
	control-port: $CTL_PORT
	control-use-cert: no
EOF
unbound -d -c "$D/dot-unbound.conf" </dev/null >>"$D/dot-unbound.out" 2>&1 &
DOT_PID=$!
TB_PIDS="$TB_PIDS $DOT_PID"

# stats KEY - the forwarder's counter KEY (unbound-control stats_noreset), empty when unknown.
stats() {
    unbound-control -c "$D/dot-unbound.conf" stats_noreset 2>/dev/null | sed -n "s/^$1=//p"
}

up=
for _ in $(seq 1 100); do
    tb_running "$DOT_PID" || break
    if unbound-control -c "$D/dot-unbound.conf" status >/dev/null 2>&1; then
        up=1
        break
    fi
    sleep 0.05
done
[ -n "$up" ] || why "unbound did not start: $(tail -n 3 "$D/dot-unbound.log" "$D/dot-unbound.out" 2>/dev/null | tr '\n' ' ')"
report $? "unbound serves DNS over TLS on 127.0.0.1@$DOT_PORT (test CA, dot.test)"

# the forwarder has no plain-text DNS service: UDP on its port gets no answer
if tb_dns_ping "$DOT_PORT" ok.test.; then
    why "a plain UDP query to 127.0.0.1@$DOT_PORT was answered"
else
    [ "$(stats total.num.queries)" = 0 ] || why "the forwarder counted $(stats total.num.queries) queries, want 0"
fi
report $? "the forwarder answers no plain-text DNS (a UDP query: no answer, not counted)"

# conf FILE LINE... - a dance configuration for the bed (trust anchor, resolver config, 3 s timeout) plus LINEs.
conf() {
    local f=$1
    shift
    {
        echo "# dance DoT test configuration (t/dns/dot.sh)"
        echo "trust_anchor_file = $TB_TA"
        echo "resolver_config = $D/resolver.conf"
        echo "dns_timeout = 3"
        echo "cache_entries = 0"
        printf '%s\n' "$@"
    } > "$f"
}

# dot FILE ARGS... - dance check -c FILE --cert good.pem ARGS mta1.ok.test (readable report).
dot() {
    local f=$1
    shift
    run check -c "$f" --cert "$C/good.pem" "$@" mta1.ok.test
    ! grep -q 'Sanitizer' "$D/err" || why "a sanitizer report: $(grep -m1 'Sanitizer' "$D/err")"
}

# --- look-ups over TLS ----------------------------------------------------------------
conf "$D/good.conf" "forwarders = 127.0.0.1@$DOT_PORT#dot.test" "forwarders_tls = yes" "tls_ca_file = $C/dotca.pem"
dot "$D/good.conf"
rc_is 0 && verdict_is pass
report $? "forwarders_tls = yes, IP@PORT#dot.test, the test CA: DANE pass"

Q=$(stats total.num.queries)
QT=$(stats num.query.tls)
[ -n "$QT" ] && [ "${QT:-0}" -gt 0 ] || why "num.query.tls is '$QT', want > 0"
report $? "the forwarder answered the look-up over TLS (num.query.tls = $QT)"

[ -n "$Q" ] && [ "$Q" = "$QT" ] || why "total.num.queries $Q != num.query.tls $QT: something came in plain text"
report $? "nothing reached the forwarder in plain text (total.num.queries = num.query.tls = $Q)"

dcheck_json() {
    run check --json -c "$1" --cert "$C/good.pem" mta1.ok.test
}
dcheck_json "$D/good.conf"
rc_is 0 && tb_json_is "j['result'] == 'pass' and j['dnssec'] == 'secure'"
report $? "the same in JSON: result pass, dnssec secure"

# --- failures: temperror with the reason, never plain text -----------------------------
BEFORE=$(stats total.num.queries)
conf "$D/wrongname.conf" "forwarders = 127.0.0.1@$DOT_PORT#wrong.test" "forwarders_tls = yes" \
    "tls_ca_file = $C/dotca.pem"
dot "$D/wrongname.conf"
rc_is 4 && verdict_is temperror "DNS over TLS to 127\\.0\\.0\\.1@$DOT_PORT#wrong\\.test: certificate not verified: hostname mismatch"
report $? "a wrong #NAME: temperror, reason 'certificate not verified: hostname mismatch'"

[ "$(stats total.num.queries)" = "$BEFORE" ] || why "the forwarder answered $(( $(stats total.num.queries) - BEFORE )) queries"
report $? "a wrong #NAME: the forwarder answered no query"

conf "$D/otherca.conf" "forwarders = 127.0.0.1@$DOT_PORT#dot.test" "forwarders_tls = yes" \
    "tls_ca_file = $C/otherca.pem"
dot "$D/otherca.conf"
rc_is 4 && verdict_is temperror "certificate not verified: unable to get local issuer certificate"
report $? "a CA that did not issue the certificate: temperror, 'unable to get local issuer certificate'"

conf "$D/sysca.conf" "forwarders = 127.0.0.1@$DOT_PORT#dot.test" "forwarders_tls = yes"
dot "$D/sysca.conf"
rc_is 4 && verdict_is temperror "certificate not verified"
report $? "no tls_ca_file (the system CAs, without the test CA): temperror, certificate not verified"

[ "$(stats total.num.queries)" = "$BEFORE" ] || why "the forwarder answered $(( $(stats total.num.queries) - BEFORE )) queries"
report $? "no unverified session carried a query (forwarder's count unchanged: $BEFORE)"

DEAD_PORT=$(tb_free_port) || tb_die "no free port"
conf "$D/fallback.conf" "forwarders = 127.0.0.1@$DEAD_PORT#dot.test, 127.0.0.1@$DOT_PORT#dot.test" \
    "forwarders_tls = yes" "tls_ca_file = $C/dotca.pem"
dot "$D/fallback.conf"
rc_is 0 && verdict_is pass
report $? "a dead first forwarder, a good second one: DANE pass"

conf "$D/dead.conf" "forwarders = 127.0.0.1@$DEAD_PORT#dot.test" "forwarders_tls = yes" "tls_ca_file = $C/dotca.pem"
dot "$D/dead.conf"
rc_is 4 && verdict_is temperror "DNS over TLS to 127\\.0\\.0\\.1@$DEAD_PORT#dot\\.test: connect: connection refused"
report $? "a forwarder that does not listen: temperror, 'connect: Connection refused'"

if ! (exec 3<>/dev/tcp/127.0.0.1/853) 2>/dev/null; then
    conf "$D/port853.conf" "forwarders = 127.0.0.1#dot.test" "forwarders_tls = yes" "tls_ca_file = $C/dotca.pem"
    dot "$D/port853.conf"
    rc_is 4 && verdict_is temperror "DNS over TLS to 127\\.0\\.0\\.1@853#dot\\.test: connect"
    report $? "IP#NAME uses port 853 (named in the temperror reason)"
else
    tap_skip "IP#NAME uses port 853" "something listens on 127.0.0.1:853"
fi

# --- configuration errors: FILE:LINE: KEY: problem --------------------------------------
# conf_error DESC REGEX LINE... - dance check -c with LINEs exits 64 and says REGEX on stderr.
conf_error() {
    local desc=$1 re=$2
    shift 2
    conf "$D/bad.conf" "$@"
    dot "$D/bad.conf"
    rc_is 64 && grep -Eq -- "$re" "$D/err" || why "stderr does not match /$re/: $(head -c 300 "$D/err")"
    report $? "$desc"
}
conf_error "forwarders_tls without #NAME: FILE:LINE: forwarders: no #NAME" \
    "bad\\.conf:6: forwarders: \"127\\.0\\.0\\.1@$DOT_PORT\": no #NAME" \
    "forwarders = 127.0.0.1@$DOT_PORT" "forwarders_tls = yes"
conf_error "a bad port: FILE:LINE: forwarders: bad port" \
    "bad\\.conf:6: forwarders: .*bad port" "forwarders = 127.0.0.1@99999#dot.test" "forwarders_tls = yes"
conf_error "a bad name: FILE:LINE: forwarders: bad authentication name" \
    "bad\\.conf:6: forwarders: .*bad authentication name" "forwarders = 127.0.0.1#dot_test" "forwarders_tls = yes"
conf_error "#NAME without forwarders_tls: FILE:LINE: forwarders: #NAME needs forwarders_tls = yes" \
    "bad\\.conf:6: forwarders: .*#NAME needs forwarders_tls = yes" "forwarders = 127.0.0.1@$DOT_PORT#dot.test"
conf_error "forwarders_tls without forwarders: FILE:LINE: forwarders_tls: needs forwarders" \
    "bad\\.conf:6: forwarders_tls: needs forwarders" "forwarders_tls = yes"

conf "$D/noca.conf" "forwarders = 127.0.0.1@$DOT_PORT#dot.test" "forwarders_tls = yes" "tls_ca_file = $D/missing.pem"
dot "$D/noca.conf"
[ "$RC" != 0 ] && grep -q -- "tls_ca_file $D/missing.pem" "$D/err" || why "exit $RC, stderr: $(head -c 300 "$D/err")"
report $? "an unreadable tls_ca_file: an error naming it, no verdict"

# --- danced: the relay under the daemon -----------------------------------------------
PPORT=$(tb_free_port) || tb_die "no free port"
EP=inet:127.0.0.1:$PPORT
conf "$D/danced.conf" "forwarders = 127.0.0.1@$DOT_PORT#dot.test" "forwarders_tls = yes" \
    "tls_ca_file = $C/dotca.pem" "policy_socket = $EP" "authserv_id = mx.dest.test" \
    "authorized_clients = mta1.ok.test" "log_format = text"
CLIENT="$TB_PYTHON $TESTDIR/daemon/policyclient.py"
LOG=$D/danced.log
"$DANCED" -f -c "$D/danced.conf" </dev/null >>"$LOG" 2>&1 &
DPID=$!
TB_PIDS="$TB_PIDS $DPID"
SPKI=$(tb_fingerprint 1 sha256 "$C/good.pem")
BEFORE=$(stats num.query.tls)
if $CLIENT "$EP" wait --max 10 >/dev/null 2>&1 && tb_running "$DPID"; then
    $CLIENT "$EP" ask ccert_pubkey_fingerprint="$SPKI" client_address=192.0.2.10 instance=t.dot \
        >"$D/out" 2>"$D/err" </dev/null
    tb_json_is "j['error'] is None and j['replies'] == ['OK']" \
        && [ "$(stats num.query.tls)" -gt "$BEFORE" ] \
        && [ "$(stats total.num.queries)" = "$(stats num.query.tls)" ] \
        || why "${WHY:-the forwarder saw no new TLS query, or a plain one}"
else
    why "danced did not come up: $(tail -n 3 "$LOG" | tr '\n' ' ')"
fi
report $? "danced with forwarders_tls: RCPT of an authorized pass -> OK, looked up over TLS only"

# relay AS - connect to danced's relay port as user AS (setpriv) and send one DNS query
# framed for TCP; prints "answered", "closed" or "timeout".
relay() {
    setpriv --reuid="$1" --regid="$1" --clear-groups "$TB_PYTHON" - "$RPORT" <<'PY' 2>&1
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x02ok\x04test\x00" + struct.pack(">HH", 6, 1)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    s.sendall(struct.pack(">H", len(q)) + q)
    print("answered" if s.recv(2) else "closed")
except (ConnectionResetError, BrokenPipeError):
    print("closed")
except socket.timeout:
    print("timeout")
PY
}

# another local user cannot use the relay's loopback port (nor hold its connections)
RPORT=$(ss -Htln4p 2>/dev/null | awk -v pid="pid=$DPID," -v pp="127.0.0.1:$PPORT" \
    'index($0, pid) && $4 ~ /^127[.]0[.]0[.]1:/ && $4 != pp { sub(/.*:/, "", $4); print $4; exit }')
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
    tap_skip "another user's connection to the relay is closed unanswered" "needs root and setpriv"
elif [ -z "$RPORT" ]; then
    why "no relay port of danced (pid $DPID) in: $(ss -Htln4p | tr '\n' ' ')"
    report 1 "another user's connection to the relay is closed unanswered"
else
    BEFORE=$(stats total.num.queries)
    R=$(relay 65534)
    [ "$R" = closed ] || why "user 65534 on the relay port $RPORT: $R"
    [ "$(stats total.num.queries)" = "$BEFORE" ] || why "the forwarder answered a query for user 65534"
    R=$(relay 0)
    [ "$R" = answered ] || why "danced's own user (root here) on the relay port $RPORT: $R (the check is not sound)"
    report $? "the relay (127.0.0.1:$RPORT) closes user 65534's connection unanswered, nothing relayed; its own user's is answered"
fi

# a reload to a wrong #NAME: a new resolver with a new relay, temperror with the TLS reason in the log
sed -i "s/^forwarders = .*/forwarders = 127.0.0.1@$DOT_PORT#wrong.test/" "$D/danced.conf"
NRELOAD=$(grep -c 'configuration reloaded' "$LOG")
kill -HUP "$DPID" 2>/dev/null
for _ in $(seq 1 100); do
    [ "$(grep -c 'configuration reloaded' "$LOG")" -gt "$NRELOAD" ] && break
    sleep 0.05
done
if [ "$(grep -c 'configuration reloaded' "$LOG")" -gt "$NRELOAD" ]; then
    BEFORE=$(stats total.num.queries)
    $CLIENT "$EP" ask ccert_pubkey_fingerprint="$SPKI" client_address=192.0.2.11 instance=t.wrong \
        >"$D/out" 2>"$D/err" </dev/null
    tb_json_is "j['error'] is None and len(j['replies']) == 1 and j['replies'][0].startswith('DEFER_IF_PERMIT')" \
        && grep -q "result=temperror.*instance=t\.wrong.*DNS over TLS to 127\.0\.0\.1@$DOT_PORT#wrong\.test: certificate not verified: hostname mismatch" "$LOG" \
        && [ "$(stats total.num.queries)" = "$BEFORE" ] \
        || why "${WHY:-no temperror verdict line with the TLS reason, or the forwarder answered: $(grep 't\.wrong' "$LOG" | tail -n 1)}"
else
    why "no 'configuration reloaded' after SIGHUP: $(tail -n 2 "$LOG" | tr '\n' ' ')"
fi
report $? "SIGHUP to a wrong #NAME: DEFER_IF_PERMIT, the verdict line names the TLS failure, no query answered"

kill -TERM "$DPID" 2>/dev/null
for _ in $(seq 1 100); do
    tb_running "$DPID" || break
    sleep 0.1
done
wait "$DPID" 2>/dev/null
DRC=$?
[ "$DRC" = 0 ] && sanitizer_clean "$LOG" || why "danced exit status $DRC"
report $? "danced stops on SIGTERM (relay threads joined), exit 0, no sanitizer report"

timing "dot.sh took $(( $(date +%s) - T0 )) s"
tap_end
