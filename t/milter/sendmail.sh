#!/bin/bash
# sendmail.sh - danced's milter in Sendmail mode, driven by miltertest.
#
# Sendmail passes milters the client certificate's digest ({cert_fp}, in
# CertFingerprintAlgorithm) and {verify}; with them danced's milter verifies
# by itself.  Here OpenDKIM's miltertest plays the MTA (a real Sendmail
# daemon runs in t/sendmail/sendmail.sh) (t/milter/case.lua: negotiation, connect, HELO
# with the TLS macros, MAIL FROM, header fields, end of message) against
# danced running with milter_socket only (policy_socket = none), on the
# DNSSEC bed of t/dns/testbed.sh.  Covered, each on the field danced inserts
# (at index 0, exactly one, parsed back with python3-authres and Perl
# Mail::AuthenticationResults where it is checked exactly):
#   - pass for a "3 0 1" record, and for "3 0 0" (full certificate hashed);
#   - fail for a rogue certificate claiming the same name;
#   - neutral for a zone publishing only "3 1 1" ({cert_fp} is no SPKI digest);
#   - temperror for a bogus zone;
#   - none: {verify} NO, and no TLS at all;
#   - forged Authentication-Results fields deleted, another id's kept; more
#     than 1000 of them refuse the message (550 5.7.1);
#   - a Postfix without the policy face: none ("no verdict from the policy
#     service") and a CONFIGURATION warning naming smtpd_data_restrictions;
#   - an MD5-length {cert_fp}: none, and one CONFIGURATION ERROR naming
#     confCERT_FINGERPRINT_ALGORITHM;
#   - lookup_budget on the milter face: a client's fresh names past its
#     budget are temperror (look-up budget exceeded), a warning names it,
#     cached names still pass, another client keeps its own budget;
#   - garbage on the milter socket and a connection dropped mid-message
#     close only their own connection;
#   - a unix: milter_socket with socket_mode; 3000 SIGHUPs in a burst leave the
#     milter serving with the reloaded authserv-id (under valgrind too); SIGTERM
#     exits 0 with no sanitizer report;
#   - contrib/sendmail/dance.mc, built into a sendmail.cf with Debian's
#     sendmail-cf (when installed), gives the filter, macro and digest
#     options it promises.
#
# Output is TAP with the plan at the end; skipped (1..0) without miltertest,
# nsd/ldns or python3-authres.  Everything started here is stopped on exit
# by testbed.sh's trap.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR as for the
# other tests.  By hand, from a build directory:
#     DANCED=danced/danced DANCE=cli/dance /path/to/t/milter/sendmail.sh

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
tap_need_parsers
tap_need_binaries

SERVID=mx.dest.test
LUA=$TESTDIR/milter/case.lua

# tap_diag - on failure: the miltertest transcript and danced's last lines.
tap_diag() {
    [ -f "$MT_OUT" ] && tail -n 5 "$MT_OUT" | sed 's/^/#   miltertest: /'
    [ -f "$DLOG" ] && tail -n 4 "$DLOG" | cut -c1-300 | sed 's/^/#   danced: /'
    return 0
}

# mt VAR=VALUE... - one miltertest conversation (case.lua) with danced; the inserted field in $TB_DIR/inserted.
mt() {
    local args=() kv
    for kv in "$@"; do
        args+=(-D "$kv")
    done
    MT_OUT=$TB_DIR/mt.out
    rm -f "$TB_DIR/inserted"
    if ! miltertest -D "SOCK=$SOCK" -D "INSERTED=$TB_DIR/inserted" "${args[@]}" -s "$LUA" >"$MT_OUT" 2>&1; then
        why "$(grep -m1 'CHECK FAILED' "$MT_OUT" || tail -n 1 "$MT_OUT")"
        return 1
    fi
    # every field danced writes parses alike with python3-authres and Perl
    if [ -z "${MT_NO_ARCHECK:-}" ] && ! kv=$("$TB_PYTHON" "$TESTDIR/archeck.py" --servid "${SERVID_NOW:-$SERVID}" --ours 1 \
              "$TB_DIR/inserted" 2>&1); then
        why "inserted field: $kv"
        return 1
    fi
    return 0
}

# inserted RESULT... - the inserted field holds exactly these results, read alike by both parsers.
inserted() {
    local out args=() r
    for r in "$@"; do
        args+=(--want "$r")
    done
    if ! out=$("$TB_PYTHON" "$TESTDIR/archeck.py" --servid "$SERVID" "${args[@]}" "$TB_DIR/inserted" 2>&1); then
        why "inserted field: $out"
        return 1
    fi
    return 0
}

# reloads N - danced's log has N "configuration reloaded" lines or more (waits up to 10 s).
reloads() {
    local i
    for i in $(seq 1 500); do
        [ "$(grep -c 'configuration reloaded' "$DLOG")" -ge "$1" ] && return 0
        sleep 0.02
    done
    why "fewer than $1 reloads logged"
}

# ---------------------------------------------------------------------------
tb_init
tb_standard_bed
C=$TB_CERTS
MPORT=$(tb_free_port)
SOCK=inet:$MPORT@127.0.0.1
DCONF=$TB_DIR/danced.conf
DLOG=$TB_DIR/danced.log
write_conf() {
    cat > "$DCONF" <<EOF
# danced, milter only (Sendmail mode), for t/milter/sendmail.sh
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = none
milter_socket = ${1:-inet:127.0.0.1:$MPORT}
authserv_id = ${2:-$SERVID}
EOF
}
write_conf

GOOD=$(tb_fingerprint 0 sha256 "$C/good.pem")
ROGUE=$(tb_fingerprint 0 sha256 "$C/rogue.pem")
MD5=$(openssl x509 -in "$C/good.pem" -outform DER | openssl dgst -md5 -binary | od -An -v -tx1 \
    | tr -d ' \n' | tr 'a-f' 'A-F' | sed 's/\(..\)/\1:/g; s/:$//')

# --- configuration errors --------------------------------------------------------
printf 'policy_socket = none\n' > "$TB_DIR/none.conf"
out=$("$DANCED" -n -c "$TB_DIR/none.conf" 2>&1)
[ $? = 1 ] && [ "$out" = "$TB_DIR/none.conf:1: policy_socket: none, and no milter_socket either: nothing to serve" ] \
    || why "got: $out"
report $? "danced -n: neither socket -> FILE:LINE: policy_socket: ... nothing to serve, exit 1"
printf 'authserv_id = mx.dest.test\nmilter_socket = inet:127.0.0.1:1\ntrusted_authserv_ids = a.example@192.0.2.1, MX.DEST.TEST.@127.0.0.1\n' \
    > "$TB_DIR/trust.conf"
out=$("$DANCED" -n -c "$TB_DIR/trust.conf" 2>&1)
[ $? = 1 ] && case $out in "$TB_DIR/trust.conf:3: trusted_authserv_ids: \"mx.dest.test\" is danced's own authserv-id mx.dest.test or a name under it"*) ;; *) false ;; esac \
    || why "got: $out"
report $? "danced -n: our own authserv-id in trusted_authserv_ids -> FILE:LINE: trusted_authserv_ids: ..., exit 1"
printf 'milter_socket = inet:10041@127.0.0.1\n' > "$TB_DIR/sm.conf"
out=$("$DANCED" -n -c "$TB_DIR/sm.conf" 2>&1)
[ $? = 1 ] && [ "$out" = "$TB_DIR/sm.conf:1: milter_socket: \"10041@127.0.0.1\" is Sendmail's PORT@HOST form; write inet:HOST:PORT" ] \
    || why "got: $out"
report $? "danced -n: Sendmail's socket syntax in milter_socket -> the fix is named"
write_conf "inet:127.0.0.1:$TB_PORT"            # nsd listens there (TCP)
out=$("$DANCED" -f -c "$DCONF" 2>&1 </dev/null)
[ $? = 1 ] && case $out in *"fatal: milter_socket: inet:127.0.0.1:$TB_PORT: cannot listen"*) ;; *) false ;; esac \
    || why "got: $(printf '%s' "$out" | tail -n 1)"
report $? "a milter_socket that is taken: danced -f exits 1 with a fatal message naming it"
write_conf

danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts with milter_socket only (policy_socket = none)"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }
grep -q "ready on milter inet:127.0.0.1:$MPORT" "$DLOG" || why "ready line: $(grep ready "$DLOG")"
report $? "danced logs that it is ready on the milter socket alone"

# --- verdicts from {cert_fp} ---------------------------------------------------
mt TLS=1 FP="$GOOD" HELO=ee301.ok.test FORGED=1 WANT="dane=pass" && \
    inserted "dane=pass smtp.helo=ee301.ok.test" "dane=pass smtp.mailfrom=ee301.ok.test"
report $? "pass: {cert_fp} of the certificate published as 3 0 1 -> dane=pass, forged fields deleted"
printf '#   %s\n' "$(grep '^inserted:' "$MT_OUT")"
log_has "milter: queue id 4F2B1A7214F client 127.0.0.1: dane=pass smtp.helo=ee301.ok.test.*checked by the milter.*removed 2 Authentication-Results fields \(2 ours, 0 under ours, 0 listed, 0 unparseable\), kept 1"
report $? "the message's log line names the source and counts the fields removed (2 ours) and kept (1)"

mt TLS=1 FP="$GOOD" HELO=ee300.ok.test WANT="dane=pass" && \
    inserted "dane=pass smtp.helo=ee300.ok.test" "dane=pass smtp.mailfrom=ee300.ok.test"
report $? "pass: 3 0 0 (full certificate) checked with {cert_fp} by hashing the record"

mt TLS=1 FP="$ROGUE" HELO=ee301.ok.test WANT="dane=fail" && \
    inserted "dane=fail smtp.helo=ee301.ok.test" "dane=fail smtp.mailfrom=ee301.ok.test"
report $? "fail: a rogue certificate claiming ee301.ok.test -> dane=fail"

mt TLS=1 FP="$GOOD" HELO=mta1.ok.test WANT="dane=neutral" && \
    inserted "dane=neutral smtp.helo=mta1.ok.test" "dane=neutral smtp.mailfrom=mta1.ok.test"
report $? "neutral: the zone publishes only 3 1 1, which a certificate digest cannot match"

mt TLS=1 FP="$GOOD" HELO=mta1.bogus.test WANT="dane=temperror" && \
    inserted "dane=temperror smtp.helo=mta1.bogus.test" "dane=temperror smtp.mailfrom=mta1.bogus.test"
report $? "temperror: a bogus zone (tampered RRSIG) -> dane=temperror, never pass"

mt TLS=1 VERIFY=NO HELO=ee301.ok.test WANT="dane=none (no client certificate)" && \
    inserted "dane=none smtp.helo=ee301.ok.test" "dane=none smtp.mailfrom=ee301.ok.test"
report $? "none: TLS without a client certificate ({verify} NO)"

mt HELO=ee301.ok.test WANT="dane=none (no TLS)" && \
    inserted "dane=none smtp.helo=ee301.ok.test" "dane=none smtp.mailfrom=ee301.ok.test"
report $? "none: no TLS at all"

mt TLS=1 FP="$GOOD" HELO=ee301.ok.test MAILFROM=nx.ok.test WANT="dane=pass" && \
    inserted "dane=pass smtp.helo=ee301.ok.test" "dane=none smtp.mailfrom=nx.ok.test"
report $? "each identity has its own result: helo pass, a MAIL FROM domain proven to have no TLSA none"

MT_NO_ARCHECK=1 mt TLS=1 FP="$GOOD" HELO=ee301.ok.test MANY=1001 EXPECT=reject \
    && log_has "more than 1000 Authentication-Results fields claim authserv-id mx.dest.test; message rejected"
report $? "1001 fields claiming our authserv-id: the message is refused with a reply code (smfi_setreply 550 5.7.1), nothing inserted, logged"

# --- configuration problems ----------------------------------------------------
mt TLS=1 MTA="Postfix 3.7.11" HELO=ee301.ok.test WANT="dane=none (the MTA passed no certificate digest)" && \
    log_has "CONFIGURATION: queue id 4F2B1A7214F .*came over TLS but danced's policy face is off.*smtpd_data_restrictions"
report $? "Postfix without the policy face: dane=none (no certificate digest) and a warning naming smtpd_data_restrictions"

mt TLS=1 FP="$MD5" HELO=ee301.ok.test WANT="dane=none" && \
    log_has "CONFIGURATION ERROR: \{cert_fp\} from the MTA has 16 octets.*confCERT_FINGERPRINT_ALGORITHM"
report $? "an MD5-length {cert_fp}: dane=none and one error naming the fix"
mt TLS=1 FP="$MD5" HELO=ee301.ok.test WANT="dane=none"
n=$(grep -c 'CONFIGURATION ERROR' "$DLOG")
[ "$n" = 1 ] || why "$n CONFIGURATION ERROR lines, want 1"
report $? "the digest mismatch is logged once, not per message"

# --- look-up budgets on the milter face ----------------------------------------
cp "$DCONF" "$DCONF.saved"
printf 'lookup_budget = 4/24h\n' >> "$DCONF"
kill -HUP "$DANCED_PID"
reloads 1 && mt ADDR=192.0.2.7 TLS=1 FP="$GOOD" HELO=b1.ok.test WANT="dane=none" && \
    mt ADDR=192.0.2.7 TLS=1 FP="$GOOD" HELO=b2.ok.test WANT="dane=none" && \
    inserted "dane=none smtp.helo=b2.ok.test" "dane=none smtp.mailfrom=b2.ok.test"
report $? "lookup_budget = 4/24h: a client's first four uncached look-ups (two fresh names, HELO and MAIL FROM) are made"
mt ADDR=192.0.2.7 TLS=1 FP="$GOOD" HELO=b3.ok.test WANT="dane=temperror (look-up budget exceeded)" && \
    inserted "dane=temperror smtp.helo=b3.ok.test" "dane=temperror smtp.mailfrom=b3.ok.test" && \
    log_has "look-up budget exceeded: client 192\.0\.2\.7 "
report $? "the fifth and sixth: dane=temperror (look-up budget exceeded) for both identities, a warning names the client"
mt ADDR=192.0.2.7 TLS=1 FP="$GOOD" HELO=ee301.ok.test WANT="dane=pass"
report $? "the spent client's cached names still pass (cached answers never count)"
mt ADDR=192.0.2.8 TLS=1 FP="$GOOD" HELO=b4.ok.test WANT="dane=none" && \
    inserted "dane=none smtp.helo=b4.ok.test" "dane=none smtp.mailfrom=b4.ok.test"
report $? "another client's fresh names are looked up (its own budget)"
mv "$DCONF.saved" "$DCONF"
kill -HUP "$DANCED_PID"
reloads 2

# --- hostile connections -------------------------------------------------------
"$TB_PYTHON" - "$MPORT" <<'EOF' >"$TB_DIR/hostile.out" 2>&1
import socket, struct, sys
port = int(sys.argv[1])
# garbage: a length of 2 GB, then noise
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(struct.pack(">I", 0x7fffffff) + b"O" + b"\xff" * 64)
s.settimeout(5)
try:
    closed = s.recv(16) == b""
except OSError:
    closed = True
print("garbage closed" if closed else "garbage NOT closed")
# plain text
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"EHLO milter\r\n" * 100)
s.close()
# option negotiation, then gone in the middle of a message
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(struct.pack(">IcIII", 13, b"O", 6, 0x1ff, 0x1fffff))
print("negotiated" if len(s.recv(4096)) > 0 else "no negotiation reply")
s.sendall(struct.pack(">Ic", 1, b"M")[:3])
s.close()
EOF
grep -q 'garbage closed' "$TB_DIR/hostile.out" || why "hostile: $(cat "$TB_DIR/hostile.out")"
mt TLS=1 FP="$GOOD" HELO=ee301.ok.test WANT="dane=pass"
report $? "garbage, plain text and a half-sent command close only their own connection; the next message passes"
tb_running "$DANCED_PID" || why "danced died"
report $? "danced is still running after the hostile connections"

# --- reload and stop -----------------------------------------------------------
write_conf "" reloaded.dest.test
BURST=3000
"$TB_PYTHON" -c '
import os, signal, sys
for _ in range(int(sys.argv[2])):
    os.kill(int(sys.argv[1]), signal.SIGHUP)' "$DANCED_PID" "$BURST"
reloads 3 && sleep 0.5 && \
    SERVID_NOW=reloaded.dest.test mt TLS=1 FP="$GOOD" HELO=ee301.ok.test WANT="reloaded.dest.test;|dane=pass"
report $? "$BURST SIGHUP(s) in a burst: the milter keeps serving, with the reloaded authserv-id"
tb_running "$DANCED_PID" || why "danced died"
report $? "danced still runs after the SIGHUPs"

danced_end "$DANCED_PID" "$DLOG" TERM
report $? "SIGTERM: danced exits 0, no sanitizer report"

# unix socket: created with socket_mode, used, removed at exit
USOCK=$TB_DIR/milter.sock
write_conf "unix:$USOCK"
printf 'socket_mode = 0600\n' >> "$DCONF"
: > "$DLOG.unix"
danced_run "$DCONF" "$DLOG.unix" && DLOG=$DLOG.unix
mode=$(stat -c %a "$USOCK" 2>/dev/null)
[ "$mode" = 600 ] || why "socket mode $mode, want 600"
SOCK=unix:$USOCK mt TLS=1 FP="$GOOD" HELO=ee301.ok.test WANT="dane=pass"
report $? "milter_socket = unix:PATH: mode 0600 from socket_mode, and a message passes over it"
danced_end "$DANCED_PID" "$DLOG" INT && { [ ! -e "$USOCK" ] || why "$USOCK is still there"; }
report $? "SIGINT: danced exits 0 and removes its unix milter socket"

# --- contrib/sendmail/dance.mc -------------------------------------------------
CF=/usr/share/sendmail/cf/m4/cf.m4
if command -v m4 >/dev/null 2>&1 && [ -f "$CF" ]; then
    printf '%s\n' "divert(0)dnl" "OSTYPE(\`debian')dnl" "DOMAIN(\`generic')dnl" \
        "include(\`$TESTDIR/../contrib/sendmail/dance.mc')dnl" "MAILER(\`local')dnl" "MAILER(\`smtp')dnl" \
        > "$TB_DIR/test.mc"
    if m4 "$CF" "$TB_DIR/test.mc" > "$TB_DIR/sendmail.cf" 2>"$TB_DIR/m4.err"; then
        for want in 'O CertFingerprintAlgorithm=sha256' 'O InputMailFilters=danced' \
            'Xdanced, S=inet:10041@127.0.0.1, F=T, T=C:10s;S:30s;R:30s;E:5m' \
            'O Milter.macros.helo={tls_version}, {cipher}, {cipher_bits}, {cert_subject}, {cert_issuer}, {cert_fp}, {cert_md5}, {verify}'; do
            grep -qxF "$want" "$TB_DIR/sendmail.cf" || why "sendmail.cf lacks: $want"
        done
    else
        why "m4 failed: $(head -n 2 "$TB_DIR/m4.err")"
    fi
    report $? "contrib/sendmail/dance.mc builds a sendmail.cf with the filter, its macros and CertFingerprintAlgorithm"
else
    tap_skip "contrib/sendmail/dance.mc builds a sendmail.cf" "m4 and sendmail-cf are not installed"
fi

tap_end
