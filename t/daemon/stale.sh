#!/bin/bash
# stale.sh - bounded serve-stale (stale_max, stale_relay) end to end.
#
# On a small DNSSEC bed of t/dns/testbed.sh whose zones are signed at run
# time with 2-second TTLs (test., ok.test., and bogus.test. with the
# signature over its TLSA RRset tampered), three danced instances run side
# by side, asked through t/daemon/policyclient.py:
#   A  stale_max = 12s, JSON log, stats_socket
#   B  stale_max = 0 (the default: as before)
#   C  stale_max = 12s, stale_relay = yes, text log
# Sequence:
#   - warm: each instance computes a fresh pass for mta1.ok.test (RCPT OK);
#     A also a temperror for the bogus mta1.bogus.test;
#   - nsd is killed and the 2 s TTL passes: A answers RCPT with DUNNO (a
#     stale pass does not relay) and at DATA prepends dane=pass with
#     "(stale answer, expired N s ago)", logging "stale":true; C relays
#     (OK) and logs stale=yes; B gives temperror exactly as without the
#     feature (DEFER_IF_PERMIT, no stale field); the bogus name is never a
#     stale pass; A's metrics count one stale verdict (dance stats too);
#   - after the window (expiry + 12 s): A gives temperror again;
#   - nsd comes back (C: fresh pass), then serves ok.test. with its TLSA
#     signature tampered: C's fresh bogus answer (temperror) ends the
#     stale life, so with nsd killed again C says temperror, not a stale
#     pass;
#   - nsd comes back signing correctly (A: fresh pass), then the record is
#     withdrawn: A's secure NXDOMAIN (none) ends the stale life, so with
#     nsd killed again A says temperror, not a stale pass;
#   - every instance stops on SIGTERM with status 0 and no sanitizer report.
#
# Output is TAP with the plan at the end; skipped (1..0) without the bed's
# tools.  Everything started here is stopped on exit by testbed.sh's trap.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand, from
# a build directory:
#     DANCED=danced/danced DANCE=cli/dance /path/to/t/daemon/stale.sh

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
TTL=2           # of every record in the bed
WINDOW=12       # stale_max of A and C, seconds

# tap_diag - on failure: the client's output and the instances' last log lines.
tap_diag() {
    [ -s "$TB_DIR/out" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/out" | cut -c1-600 | sed 's/^/#   out: /'
    for l in A B C; do
        [ -s "$TB_DIR/$l.log" ] && tail -n 2 "$TB_DIR/$l.log" | cut -c1-400 | sed "s/^/#   $l: /"
    done
    return 0
}

# ask ENDPOINT NAME - RCPT then DATA for helo NAME with the good certificate, on one connection.
ask() {
    client "$1" ask "${GOOD[@]}" helo_name="$2" --next "${DATA[@]}"
}

# last_verdict LOG - danced's last verdict line in LOG.
last_verdict() {
    grep -E 'verdict' "$1" | tail -n 1
}

# wait_until EPOCH [PLUS] - sleep until the wall clock reaches EPOCH + PLUS seconds (fractions allowed).
wait_until() {
    "$TB_PYTHON" -c 'import sys, time; d = float(sys.argv[1]) + float(sys.argv[2]) - time.time(); time.sleep(max(d, 0))' \
        "$1" "${2:-0}"
}

# nsd_back ENDPOINT - restart nsd and ask until ENDPOINT computes a fresh pass (RCPT OK); sets FRESH.
nsd_back() {
    tb_nsd_restart
    # libunbound takes a few seconds to trust a server it saw die
    for _ in $(seq 1 15); do
        ask "$1" mta1.ok.test
        [ "$(reply_n 0)" = OK ] && break
        sleep 1
    done
    FRESH=$(date +%s)
    replies_are OK "PREPEND *dane=pass (matched TLSA 3 1 1) smtp.helo=mta1.ok.test"
}

# nsd_reread - nsd rereads ok.test's changed zone file (SIGHUP), then the TTL passes.
nsd_reread() {
    local at
    touch -d '+2 seconds' "$TB_ZONES/ok.test.signed"
    kill -HUP "$TB_NSD_PID"
    at=$(date +%s.%N)
    wait_until "$at" $((TTL + 1))
}

# no_stale_pass ENDPOINT - nsd is killed while the fresh answer (FRESH) would still be
# in its stale window: ENDPOINT must give temperror, not a stale pass.
no_stale_pass() {
    tb_nsd_kill
    wait_until "$(date +%s.%N)" $((TTL + 1))
    ask "$1" mta1.ok.test
    replies_are "DEFER_IF_PERMIT *" "PREPEND *dane=temperror (TLSA look-up *) smtp.helo=mta1.ok.test"
    # only meaningful while the fresh answer would still be inside its stale window
    [ $(($(date +%s) + 1)) -lt $((FRESH + TTL + WINDOW)) ] \
        || why "too slow: the fresh answer's stale window had passed anyway ($(($(date +%s) - FRESH)) s)"
}

# write_conf FILE PORT LINE... - a danced configuration for the bed.
write_conf() {
    local f=$1 port=$2
    shift 2
    {
        echo "resolver_config = $TB_CONF"
        echo "trust_anchor_file = $TB_TA"
        echo "dns_timeout = 1"
        echo "cache_error_ttl = 1s"
        echo "policy_socket = inet:127.0.0.1:$port"
        echo "authserv_id = mx.dest.test"
        echo "identities = helo"
        echo "authorized_clients = mta1.ok.test, mta1.bogus.test"
        printf '%s\n' "$@"
    } > "$f"
}

# --- the bed: every TTL 2 s -------------------------------------------------------
tb_init
T0=$(date +%s)
C=$TB_CERTS
tb_cert_selfsigned good mta1.ok.test
for z in test ok.test bogus.test; do
    tb_zone_head "$z"
    sed -i "s/^\\\$TTL 300\$/\$TTL $TTL/; s/ 86400 60\$/ 86400 $TTL/" "$TB_ZONES/$z.zone"
    tb_zone_keys "$z"
done
tb_zone_add ok.test "mta1	IN	A	127.0.0.1"
tb_zone_tlsa ok.test _smtp-client.mta1.ok.test. 3 1 1 "$C/good.pem"
tb_zone_tlsa bogus.test _smtp-client.mta1.bogus.test. 3 1 1 "$C/good.pem"
tb_zone_add test "ok	IN	NS	ns1.ok.test." "ns1.ok	IN	A	127.0.0.1" \
    "bogus	IN	NS	ns1.bogus.test." "ns1.bogus	IN	A	127.0.0.1"
tb_zone_ds ok.test >> "$TB_ZONES/test.zone"
tb_zone_ds bogus.test >> "$TB_ZONES/test.zone"
tb_zone_sign test
tb_zone_sign ok.test
tb_zone_sign bogus.test
tb_zone_tamper bogus.test _smtp-client.mta1.bogus.test. TLSA
TB_TA=$TB_DIR/test.ta
tb_zone_ds test > "$TB_TA"
tb_nsd_start test ok.test bogus.test
TB_CONF=$TB_DIR/unbound.conf
tb_unbound_conf "$TB_CONF" test="$TB_PORT" ok.test="$TB_PORT" bogus.test="$TB_PORT"
# libunbound keeps a bogus answer 60 s and a dead server's state 900 s by
# default; the bed's TTLs are 2 s, and nsd comes back within seconds
printf 'server:\n\tval-bogus-ttl: 1\n\tinfra-host-ttl: 1\n\tinfra-keep-probing: yes\n' >> "$TB_CONF"

GOOD=(ccert_pubkey_fingerprint="$(tb_fingerprint 1 sha256 "$C/good.pem")"
      ccert_fingerprint="$(tb_fingerprint 0 sha256 "$C/good.pem")")
DATA=(protocol_state=DATA queue_id=4XyZ1 recipient=)
timing "bed ready after $(($(date +%s) - T0)) s"

# --- three instances ----------------------------------------------------------------
for l in A B C; do
    eval "P$l=\$(tb_free_port)" || tb_die "no free port"
done
SPORT=$(tb_free_port) || tb_die "no free port"
write_conf "$TB_DIR/A.conf" "$PA" "stale_max = ${WINDOW}s" "log_format = json" \
    "stats_socket = inet:127.0.0.1:$SPORT"
write_conf "$TB_DIR/B.conf" "$PB" "log_format = json"
write_conf "$TB_DIR/C.conf" "$PC" "stale_max = ${WINDOW}s" "stale_relay = yes" "log_format = text"
EA=inet:127.0.0.1:$PA
EB=inet:127.0.0.1:$PB
EC=inet:127.0.0.1:$PC
for l in A B C; do
    : > "$TB_DIR/$l.log"
    danced_run "$TB_DIR/$l.conf" "$TB_DIR/$l.log"
    eval "PID$l=\$DANCED_PID"
done
report $? "three danced instances start (stale_max ${WINDOW}s; 0; ${WINDOW}s with stale_relay)"

# --- warm -----------------------------------------------------------------------------
for e in "$EA" "$EB" "$EC"; do
    ask "$e" mta1.ok.test && replies_are OK "PREPEND Authentication-Results: mx.dest.test; dane=pass *" || break
done
report $? "warm: every instance computes a fresh pass (RCPT OK, DATA dane=pass)"
# every answer's TTL runs from its arrival, at the latest now (a cold, slow
# first look-up can take a second or more)
WARMED=$(date +%s.%N)

ask "$EA" mta1.bogus.test
replies_are "DEFER_IF_PERMIT *" "PREPEND *dane=temperror*DNSSEC validation failed*"
report $? "warm: the bogus zone gives temperror"

# --- the name server goes away ------------------------------------------------------
tb_nsd_kill
wait_until "$WARMED" $((TTL + 1))
OUTAGE=$(date +%s)

ask "$EA" mta1.ok.test
replies_are DUNNO "PREPEND Authentication-Results: mx.dest.test; dane=pass (matched TLSA 3 1 1 \\\\(stale answer, expired [0-9]* s ago\\\\)) smtp.helo=mta1.ok.test"
report $? "stale_max: DNS down, TTL passed: RCPT DUNNO (a stale pass does not relay), DATA dane=pass (stale answer, ...)"

L=$(last_verdict "$TB_DIR/A.log")
case $L in
    *'{"event":"verdict","result":"pass","dnssec":"secure","stale":true,'*'stale answer, expired '*) ;;
    *) why "A's verdict line: $L" ;;
esac
report $? "stale_max: the JSON log line has \"stale\":true and the reason"

ask "$EC" mta1.ok.test
replies_are OK "PREPEND *dane=pass (matched TLSA 3 1 1 \\\\(stale answer, expired [0-9]* s ago\\\\)) smtp.helo=mta1.ok.test"
report $? "stale_relay = yes: the stale pass relays (RCPT OK)"

L=$(last_verdict "$TB_DIR/C.log")
case $L in
    *'verdict result=pass dnssec=secure stale=yes '*'reason="matched TLSA 3 1 1 (stale answer, expired '*) ;;
    *) why "C's verdict line: $L" ;;
esac
report $? "stale_relay = yes: the text log line has stale=yes"

ask "$EB" mta1.ok.test
replies_are "DEFER_IF_PERMIT 4.7.0 DANE check temporarily failed for mta1.ok.test (TLSA look-up *)" \
    "PREPEND *dane=temperror (TLSA look-up *) smtp.helo=mta1.ok.test"
report $? "stale_max = 0: temperror, as without stale answers"

L=$(last_verdict "$TB_DIR/B.log")
case $L in
    *'"result":"temperror"'*stale*) why "B's verdict line mentions stale: $L" ;;
    *'"result":"temperror","dnssec":"'*) ;;
    *) why "B's verdict line: $L" ;;
esac
report $? "stale_max = 0: the log line has no stale field"

ask "$EA" mta1.bogus.test
replies_are "DEFER_IF_PERMIT *" "PREPEND *dane=temperror*"
R=$(reply_n 1)
case $R in *stale*|*dane=pass*) why "bogus zone: $R" ;; esac
report $? "a zone that was bogus never gets a stale pass"

client "$EA" ask "${GOOD[@]}" helo_name=mta1.ok.test client_port=1 --next "${DATA[@]}" client_port=1
replies_are DUNNO "PREPEND *dane=pass (matched TLSA 3 1 1 \\\\(stale answer, expired [0-9]* s ago\\\\))*"
report $? "stale_max: a new SMTP session asks the DNS again and gets the stale pass again"

N=$(grep -c '"stale":true' "$TB_DIR/A.log")
[ "$N" = 2 ] || why "A logged $N stale verdicts, want 2 (each new session logs one)"
report $? "stale_max: each stale verdict is computed and logged (never shared from the verdict cache)"

"$TB_PYTHON" - "$SPORT" >"$TB_DIR/metrics" 2>"$TB_DIR/err" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.write(data.decode("utf-8", "replace"))
EOF
grep -qx 'dance_stale_verdicts_total 2' "$TB_DIR/metrics" \
    || why "metrics: $(grep -m1 '^dance_stale_verdicts_total' "$TB_DIR/metrics" || echo 'no dance_stale_verdicts_total')"
grep -qx 'dance_verdict_cache_hits_total 0' "$TB_DIR/metrics" \
    || why "metrics: $(grep -m1 '^dance_verdict_cache_hits_total' "$TB_DIR/metrics") (a stale verdict was shared)"
report $? "metrics: dance_stale_verdicts_total counts the two stale verdicts, none from the verdict cache"

"$DANCE" stats --stats-socket "inet:127.0.0.1:$SPORT" >"$TB_DIR/stats" 2>"$TB_DIR/err"
grep -Eq '^stale verdicts +2$' "$TB_DIR/stats" || why "dance stats: $(grep -m1 stale "$TB_DIR/stats" || echo 'no stale line')"
report $? "dance stats prints the stale verdicts"
timing "stale phase took $(($(date +%s) - OUTAGE)) s"

# --- past the window --------------------------------------------------------------
wait_until "$WARMED" $((TTL + WINDOW + 1))
ask "$EA" mta1.ok.test
replies_are "DEFER_IF_PERMIT 4.7.0 DANE check temporarily failed for mta1.ok.test (TLSA look-up *)" \
    "PREPEND *dane=temperror (TLSA look-up *) smtp.helo=mta1.ok.test"
R=$(reply_n 1)
case $R in *stale*) why "after the window: $R" ;; esac
report $? "stale_max: after expiry + stale_max the answer is temperror again"

# --- a fresh bogus answer ends the stale life ----------------------------------------
nsd_back "$EC"
report $? "nsd back: a fresh pass again (no stale note)"

# the same server now signs wrongly
tb_zone_tamper ok.test _smtp-client.mta1.ok.test. TLSA
nsd_reread
ask "$EC" mta1.ok.test
replies_are "DEFER_IF_PERMIT *" "PREPEND *dane=temperror (DNSSEC validation failed*"
report $? "the zone turns bogus: temperror (DNSSEC validation failed), not a stale pass"

no_stale_pass "$EC"
report $? "after a bogus answer the old secure answer is gone: DNS down gives temperror, not a stale pass"

# --- a secure answer proving no record ends the stale life ---------------------------
tb_zone_sign ok.test       # signed correctly again, the record still published
nsd_back "$EA"
report $? "nsd back and signing correctly: A computes a fresh pass"

# the record is withdrawn: the owner no longer exists (secure NXDOMAIN)
sed -i '/^_smtp-client\.mta1\.ok\.test\..*TLSA/d' "$TB_ZONES/ok.test.zone"
tb_zone_sign ok.test
nsd_reread
ask "$EA" mta1.ok.test
replies_are DUNNO "PREPEND *dane=none (no TLSA records \\\\(NXDOMAIN\\\\)) smtp.helo=mta1.ok.test"
report $? "the record is withdrawn: the secure NXDOMAIN gives none"

no_stale_pass "$EA"
report $? "after a secure denial the old secure answer is gone: DNS down gives temperror, not a stale pass"

# --- stop --------------------------------------------------------------------------
RC=0
for l in A B C; do
    eval "pid=\$PID$l"
    # shellcheck disable=SC2154  # set by eval
    danced_end "$pid" "$TB_DIR/$l.log" || RC=1
done
report $RC "SIGTERM: every instance exits 0 with no sanitizer report"
timing "stale.sh took $(($(date +%s) - T0)) s"

tap_end
