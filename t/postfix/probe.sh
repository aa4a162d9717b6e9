#!/bin/bash
# probe.sh - "dance probe", the sending operator's self-test, against real
# clients: swaks, a raw socket, Python's smtplib and a sending Postfix.
#
# DNS is the real thing on loopback: zones test. and ok.test., signed now,
# served by nsd (t/dns/testbed.sh); ok.test. publishes `dance tlsa`'s record
# for good.pem at _smtp-client.mta1.ok.test and _smtp-client.ok.test, so
# EHLO mta1.ok.test and MAIL FROM sender@ok.test both check against it.
# Each case starts one probe (it takes one connection and exits) and
# checks its exit status, its output (--json) and what the client saw:
#   - usage errors (64), an unreadable certificate (66), nobody connecting
#     within --timeout (75);
#   - swaks with the right key (pass, 0), STARTTLS without a certificate
#     (none, 3), no STARTTLS (none, 3), a rogue key for the same name
#     (fail, 1); swaks prints the 550 text;
#   - smtplib with --tls-cert/--tls-key: the server shows that certificate;
#   - garbage, a broken TLS handshake, a line too long, a client that hangs
#     up after the greeting, and one that says nothing (bounded by
#     --timeout): no verdict (76, 75), no crash, no sanitizer report;
#   - a sending Postfix (relayhost = the probe, smtp_tls_cert_file): right
#     key (pass), no certificate (none), rogue key (fail); Postfix logs the
#     550 "in reply to MAIL FROM command".
#
# Environment (set by t/Makefile.am): DANCE = the dance binary, TESTDIR = the
# source t/ directory.  By hand, from a build directory, as root:
#     DANCE=$PWD/cli/dance /path/to/t/postfix/probe.sh
# (TB_KEEP=1 PB_KEEP=1 keep the temporary directories.)

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

tap_need_beds postfix
tap_need_binaries

tb_init                                 # first: pb_init chains its EXIT trap to this one
pb_init

C=$TB_CERTS
tb_cert_selfsigned good mta1.ok.test
tb_cert_selfsigned rogue mta1.ok.test
tb_cert_selfsigned server probe.dest.test
R1=$("$DANCE" tlsa --name mta1.ok.test "$C/good.pem") || tb_die "dance tlsa failed"
R2=$("$DANCE" tlsa --name ok.test "$C/good.pem") || tb_die "dance tlsa failed"
tb_small_bed "$R1" "$R2"
RES=(--resolver-config "$TB_CONF" --trust-anchor "$TB_TA")

tap_diag() {
    [ -f "$TB_DIR/probe.err" ] && sed 's/^/#   probe: /' "$TB_DIR/probe.err" | tail -n 5
    [ -f "$TB_DIR/out" ] && cut -c1-400 "$TB_DIR/out" | sed 's/^/#   out: /' | tail -n 8
    pb_tap_diag
    [ -f "$PB_DIR/tx/maillog" ] && tail -n 5 "$PB_DIR/tx/maillog" | cut -c1-300 | sed 's/^/#   postfix: /'
    return 0
}

# probe_start ARGS... - start "$DANCE probe ARGS" (stdout $TB_DIR/out, stderr probe.err); sets PROBE_PID and PROBE_PORT.
probe_start() {
    local i
    rm -f "$TB_DIR/out" "$TB_DIR/probe.err"
    "$DANCE" probe "$@" >"$TB_DIR/out" 2>"$TB_DIR/probe.err" </dev/null &
    PROBE_PID=$!
    TB_PIDS="$TB_PIDS $PROBE_PID"
    PROBE_PORT=
    for i in $(seq 1 250); do
        PROBE_PORT=$(sed -n 's/^dance probe: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TB_DIR/probe.err")
        [ -n "$PROBE_PORT" ] && return 0
        tb_running "$PROBE_PID" || break
        sleep 0.02
    done
    why "the probe did not start listening: $(tail -n 2 "$TB_DIR/probe.err" | tr '\n' ' ')"
}

# probe_end WANT - wait for the probe; its exit status must be WANT, its stderr clean.
probe_end() {
    local rc
    wait "$PROBE_PID"
    rc=$?
    [ "$rc" = "$1" ] || why "dance probe exited $rc, expected $1 ($(tail -n 1 "$TB_DIR/probe.err"))"
    sanitizer_clean "$TB_DIR/probe.err"
}

# swaks_to ARGS... - swaks against the probe, one message.
swaks_to() {
    pb_client swaks --server 127.0.0.1 --port "$PROBE_PORT" --timeout 20 \
        --ehlo mta1.ok.test --from sender@ok.test --to rcpt@dest.test "$@"
}

# said TEXT - the last client transcript shows the server's line TEXT.
said() {
    grep -qF -- "$1" "$PB_LAST_OUT" || why "the client did not see: $1"
}

# --- usage and set-up errors -------------------------------------------------
usage_case() {
    local want=$1 rc
    shift
    "$DANCE" probe "$@" >"$TB_DIR/out" 2>"$TB_DIR/probe.err" </dev/null
    rc=$?
    [ "$rc" = "$want" ] || why "dance probe $* exited $rc, expected $want"
    grep -q '^dance probe: ' "$TB_DIR/probe.err" || why "no one-line error: $(head -c 200 "$TB_DIR/probe.err")"
    sanitizer_clean "$TB_DIR/probe.err"
}
usage_case 64
report $? "usage: no --listen -> 64"
usage_case 64 --listen 127.0.0.1
report $? "usage: --listen without a port -> 64"
usage_case 64 --listen 127.0.0.1:99999
report $? "usage: --listen with port 99999 -> 64"
usage_case 64 --listen 127.0.0.1:0 --timeout 0
report $? "usage: --timeout 0 -> 64"
usage_case 64 --listen 127.0.0.1:0 --tls-cert "$C/server.pem"
report $? "usage: --tls-cert without --tls-key -> 64"
usage_case 64 --listen 127.0.0.1:0 extra
report $? "usage: a stray argument -> 64"
usage_case 66 --listen 127.0.0.1:0 --tls-cert "$C/nonexistent.pem" --tls-key "$C/server.key"
report $? "an unreadable --tls-cert -> 66"
usage_case 66 --listen 127.0.0.1:0 --tls-cert "$C/server.pem" --tls-key "$C/rogue.key"
report $? "a --tls-key that is not the certificate's -> 66"
usage_case 75 --listen 127.0.0.1:0 --timeout 1 "${RES[@]}"
grep -q 'no client connected within 1 s' "$TB_DIR/probe.err" || why "no 'no client' message"
report $? "nobody connects within --timeout 1 -> 75"

# --- swaks ------------------------------------------------------------------
probe_start --listen 127.0.0.1:0 --timeout 30 --json "${RES[@]}"
swaks_to --tls --tls-cert "$C/good.pem" --tls-key "$C/good.key"
probe_end 0
said "550 5.7.0 dance probe: helo=mta1.ok.test pass, mailfrom=ok.test pass"
tb_json_is 'j["result"] == "pass" and j["tls"] and j["certificates"] == 1 and j["helo"]["result"] == "pass" and j["mailfrom"]["result"] == "pass" and j["mail_from"] == "sender@ok.test" and j["helo"]["owner"] == "_smtp-client.mta1.ok.test" and j["reply"].startswith("550 5.7.0 dance probe:")' || why "$WHY"
report $? "swaks, the right key: pass for EHLO and MAIL FROM, exit 0, swaks shows the 550 text"

probe_start --listen 127.0.0.1:0 --timeout 30 --json "${RES[@]}"
swaks_to --tls
probe_end 3
said "550 5.7.0 dance probe: helo=mta1.ok.test none, mailfrom=ok.test none (no client certificate)"
tb_json_is 'j["result"] == "none" and j["tls"] and j["certificates"] == 0 and j["helo"]["reason"] == "no client certificate"' || why "$WHY"
report $? "swaks, STARTTLS without a certificate: none, exit 3"

probe_start --listen 127.0.0.1:0 --timeout 30 "${RES[@]}"
swaks_to
probe_end 3
said "(no STARTTLS)"
grep -q '^TLS: *none (no STARTTLS)' "$TB_DIR/out" || why "the report does not say no STARTTLS"
grep -q '^verdict: *none' "$TB_DIR/out" || why "the report has no verdict none"
report $? "swaks without STARTTLS: none, exit 3 (the readable report)"

probe_start --listen 127.0.0.1:0 --timeout 30 --json "${RES[@]}"
swaks_to --tls --tls-cert "$C/rogue.pem" --tls-key "$C/rogue.key"
probe_end 1
said "550 5.7.0 dance probe: helo=mta1.ok.test fail, mailfrom=ok.test fail"
tb_json_is 'j["result"] == "fail" and j["helo"]["result"] == "fail" and j["certificates"] == 1' || why "$WHY"
report $? "swaks, a rogue key for the same name: fail, exit 1"

probe_start --listen 127.0.0.1:0 --timeout 30 --json "${RES[@]}"
pb_client swaks --server 127.0.0.1 --port "$PROBE_PORT" --timeout 20 --ehlo mta1.ok.test \
    --from '<>' --to rcpt@dest.test --tls --tls-cert "$C/good.pem" --tls-key "$C/good.key"
probe_end 0
tb_json_is 'j["result"] == "pass" and j["mailfrom"] is None and j["mail_from"] == ""' || why "$WHY"
report $? "the null sender: only the EHLO name is checked"

# --- smtplib: the probe's own certificate ----------------------------------
probe_start --listen 127.0.0.1:0 --timeout 30 --json --tls-cert "$C/server.pem" --tls-key "$C/server.key" "${RES[@]}"
"$TB_PYTHON" - "$PROBE_PORT" "$C" > "$TB_DIR/py.out" 2>&1 <<'EOF'
import smtplib, ssl, subprocess, sys
port, certs = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(certs + "/good.pem", certs + "/good.key")
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.ehlo("mta1.ok.test")
s.starttls(context=ctx)
der = s.sock.getpeercert(binary_form=True)
want = subprocess.run(["openssl", "x509", "-in", certs + "/server.pem", "-outform", "DER"],
                      capture_output=True, check=True).stdout
s.ehlo("MTA1.OK.TEST.")
code, text = s.mail("someone@OK.test")
print(code, text.decode())
s.quit()
sys.exit(0 if der == want and code == 550 else 1)
EOF
rc=$?
probe_end 0
[ "$rc" = 0 ] || why "smtplib: $(tail -n 2 "$TB_DIR/py.out")"
tb_json_is 'j["result"] == "pass" and j["helo"]["name"] == "mta1.ok.test" and j["helo_name"] == "MTA1.OK.TEST." and j["mailfrom"]["name"] == "ok.test"' || why "$WHY"
report $? "--tls-cert/--tls-key: the server presents that certificate; names are normalized"

# --- misbehaving clients ------------------------------------------------------
# raw CLIENT... - a raw TCP client against the probe (python3): SEND lines, or "long", "hangup", "silent".
raw() {
    "$TB_PYTHON" - "$PROBE_PORT" "$@" > "$TB_DIR/py.out" 2>&1 <<'EOF'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
greeting = s.recv(512)
if mode == "hangup":
    s.close(); sys.exit(0)
if mode == "silent":
    s.settimeout(10)
    rest = s.recv(512)      # the probe closes at its deadline
    print("closed" if rest == b"" else rest)
    sys.exit(0)
if mode == "badtls":
    s.sendall(b"EHLO a.b\r\n")
    while b"250 " not in s.recv(512):
        pass
    s.sendall(b"STARTTLS\r\n")
    print(s.recv(512).decode())
    s.sendall(b"\x16\x03\x01\x00\x05hello, this is no TLS ClientHello\r\n" * 4)
elif mode == "long":
    s.sendall(b"EHLO " + b"x" * 4000 + b"\r\n")
elif mode == "garbage":
    for i in range(20):
        try:
            s.sendall(b"\x00\xff\x1b[31m garbage \x00 line %d\r\n" % i)
        except OSError:
            break
    try:
        s.sendall(b"EHLO a.b\r\nMAIL FROM:<x@\x00y>\r\n")
    except OSError:
        pass
data = b""
s.settimeout(10)
while True:
    try:
        chunk = s.recv(4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
print(data.decode("latin-1"))
EOF
}

probe_start --listen 127.0.0.1:0 --timeout 30 "${RES[@]}"
raw garbage
probe_end 76
grep -q '^421 4.7.0' "$TB_DIR/py.out" || why "no 421 after too many errors: $(tail -n 2 "$TB_DIR/py.out")"
grep -q '^500 5.5.2' "$TB_DIR/py.out" || why "no 500 for garbage"
report $? "a client sending garbage: 500s, then 421 and exit 76"

probe_start --listen 127.0.0.1:0 --timeout 30 "${RES[@]}"
raw badtls
probe_end 76
grep -q '^220 2.0.0 Ready to start TLS' "$TB_DIR/py.out" || why "no 220 to STARTTLS: $(head -n 2 "$TB_DIR/py.out")"
grep -q 'TLS handshake: ' "$TB_DIR/probe.err" || why "no TLS handshake error reported"
report $? "garbage instead of a TLS handshake: exit 76, said why"

probe_start --listen 127.0.0.1:0 --timeout 30 "${RES[@]}"
raw long
probe_end 76
grep -q '^500 5.5.2 line too long' "$TB_DIR/py.out" || why "no 'line too long': $(tail -n 2 "$TB_DIR/py.out")"
report $? "a line over 1000 octets: 500 and exit 76"

probe_start --listen 127.0.0.1:0 --timeout 30 "${RES[@]}"
raw hangup
probe_end 76
grep -q 'closed the connection' "$TB_DIR/probe.err" || why "no message about the hang-up"
report $? "a client that hangs up after the greeting: exit 76, said why"

t0=$(pb_now)
probe_start --listen 127.0.0.1:0 --timeout 2 "${RES[@]}"
raw silent
probe_end 75
t=$(( $(pb_now) - t0 ))
[ "$t" -lt 6000 ] || why "a silent client held the probe $t ms with --timeout 2"
grep -q closed "$TB_DIR/py.out" || why "the probe did not close the connection"
report $? "a client that says nothing: closed at --timeout, exit 75 ($t ms)"

# --- a sending Postfix -------------------------------------------------------
# The sender relays everything to the probe's port; bounces to ok.test are
# discarded, so they never reach the next probe.
PB_PORT=$(pb_free_port)
pb_sender_start "$C/good.pem" "$C/good.key" mta1.ok.test
pb_postconf tx "transport_maps = inline:{ ok.test=discard: }"
pb_restart tx

# postfix_case CERT|- WANT_EXIT WANT_WORD - a probe, one message through Postfix, its log.
postfix_case() {
    local mark
    if [ "$1" = - ]; then
        pb_postconf tx "smtp_tls_cert_file =" "smtp_tls_key_file ="
    else
        pb_postconf tx "smtp_tls_cert_file = $C/$1.pem" "smtp_tls_key_file = $C/$1.key"
    fi
    pb_restart tx
    mark=$(wc -l < "$PB_DIR/tx/maillog" 2>/dev/null || echo 0)
    probe_start --listen "127.0.0.1:$PB_PORT" --timeout 40 --json "${RES[@]}"
    [ "$PROBE_PORT" = "$PB_PORT" ] || why "the probe is not on port $PB_PORT"
    pb_submit mta1.ok.test sender@ok.test rcpt@dest.test || why "the sending Postfix did not take the message"
    probe_end "$2"
    tb_json_is "j['result'] == '$3' and j['helo']['name'] == 'mta1.ok.test' and j['tls']" || why "$WHY"
    for _ in $(seq 1 100); do
        tail -n +"$((mark + 1))" "$PB_DIR/tx/maillog" | grep -q 'status=bounced' && break
        sleep 0.05
    done
    tail -n +"$((mark + 1))" "$PB_DIR/tx/maillog" | grep 'status=bounced' \
        | grep -q "said: 550 5.7.0 dance probe: helo=mta1.ok.test $3.*(in reply to MAIL FROM command)" \
        || why "Postfix did not log the probe's 550 for MAIL FROM"
}
postfix_case good 0 pass
report $? "Postfix with the right key (smtp_tls_cert_file): pass, exit 0, Postfix logs the 550"
postfix_case - 3 none
report $? "Postfix without a client certificate: none, exit 3"
postfix_case rogue 1 fail
report $? "Postfix with a rogue key: fail, exit 1"

tap_end
