#!/bin/bash
# demo-postfix.sh - the README Quick start demo on the real path: one Postfix
# relays mail to another, which asks danced about the sender's certificate.
#
# Everything runs on loopback and is removed when the demo ends:
#   - DNS: zones test. and ok.test., signed now, served by nsd on 127.0.0.1;
#     ok.test. publishes the TLSA record `dance tlsa` prints for the sending
#     MTA's certificate at _smtp-client.mta1.ok.test;
#   - danced, policy service and milter, validating against that zone
#     (trust anchor: the DS of test.);
#   - the receiving MTA: a private Postfix "mx.dest.test" on 127.0.0.1 that
#     requests client certificates, asks danced's policy service at RCPT
#     (relay permission) and at DATA (the verdicts of the message), and
#     runs danced's milter (the Authentication-Results header, forged
#     copies removed), as contrib/postfix/main.cf shows; every delivery is
#     written to a file;
#   - the sending MTA: a second private Postfix "mta1.ok.test" on 127.0.0.2
#     that relays everything to the receiver over STARTTLS, presenting the
#     DANE-published certificate - later a rogue key claiming the same name,
#     with a forged "dane=pass" field in the message.
# It prints the delivered message's Authentication-Results header and the
# relay decisions with the receiver's SMTP replies as the sending Postfix
# logged them.  (Library code: t/dns/testbed.sh, t/postfix/postfixbed.sh.)
#
# Usage, as root, from the build directory (Postfix must start as root):
#     ../t/demo-postfix.sh
# DANCE and DANCED name the binaries (default ./cli/dance, ./danced/danced).
# Needs nsd, ldnsutils, openssl, python3, postfix, swaks, libnet-ssleay-perl
# (python3-authres, when installed, parses the header back).
# Exit status 0 when every outcome shown is the expected one, else 1.

DANCE=${DANCE:-./cli/dance}
DANCED=${DANCED:-./danced/danced}
case $DANCE in /*) ;; *) DANCE=$PWD/$DANCE ;; esac
case $DANCED in /*) ;; *) DANCED=$PWD/$DANCED ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=t/dns/testbed.sh
. "$HERE/dns/testbed.sh"
# shellcheck source=t/postfix/postfixbed.sh
. "$HERE/postfix/postfixbed.sh"

for b in "$DANCE" "$DANCED"; do
    if [ ! -x "$b" ]; then
        echo "demo: no binary at $b (run from the build directory, or set DANCE and DANCED)" >&2
        exit 1
    fi
done
if ! tb_require; then
    echo "demo: $TB_MISSING is not installed (Debian: apt-get install nsd ldnsutils openssl python3)" >&2
    exit 1
fi
if ! pb_require; then
    echo "demo: needs $PB_MISSING (Debian: apt-get install postfix swaks libnet-ssleay-perl; run as root)" >&2
    exit 1
fi

tb_init                                 # before pb_init: pb_init chains this EXIT trap
pb_init

FOREIGN=elsewhere.example               # not the receiver's domain: relaying
LOCAL=dest.test                         # the receiver's own domain (PB_DOMAIN)
SERVID=mx.$LOCAL
FAILED=

heading() {
    printf '\n=== %s\n' "$*"
}

# indent - show stdin indented.
indent() {
    sed 's/^/    /'
}

# outcome OK TEXT - print one checked outcome; remember a failure.
outcome() {
    if [ "$1" = 0 ]; then
        printf '  -> as expected: %s\n' "$2"
    else
        printf '  -> UNEXPECTED: %s\n' "$2"
        FAILED="$FAILED
  - $2"
    fi
}

# wrap - show header lines (stdin) indented, long ones broken at spaces, continuations indented further.
wrap() {
    awk -v w=96 '{
        line = $0; pre = "    "
        while (length(line) > w) {
            cut = w
            while (cut > 20 && substr(line, cut, 1) != " ") cut--
            if (cut <= 20) cut = w
            print pre substr(line, 1, cut - 1)
            line = substr(line, cut + 1); pre = "        "
        }
        print pre line
    }'
}

# tx_mark - remember how far the sending Postfix's log goes.
tx_mark() {
    TX_MARK=$(wc -l < "$PB_DIR/tx/maillog" 2>/dev/null || echo 0)
}

# tx_result ADDR [SECONDS] - wait for the sending Postfix's final word on ADDR since tx_mark; sets TX_LINE.
tx_result() {
    local deadline=$(( $(pb_now) + ${2:-30} * 1000 ))
    TX_LINE=
    while [ "$(pb_now)" -lt "$deadline" ]; do
        TX_LINE=$(tail -n +"$((TX_MARK + 1))" "$PB_DIR/tx/maillog" 2>/dev/null \
            | grep -F "to=<$1>" | grep -E 'status=(sent|bounced|deferred)' | head -n 1)
        [ -n "$TX_LINE" ] && return 0
        sleep 0.05
    done
    return 1
}

# show_tx - the interesting part of TX_LINE: relay=..., status=... (the receiver's reply).
show_tx() {
    printf '%s\n' "$TX_LINE" | sed 's/.*\(to=<[^>]*>\).*\(relay=[^,]*\).*\(status=.*\)/\1 \2\n\3/' | wrap
}

# ar_verify FILE RESULT PROPERTY - the message's first field is our Authentication-Results with RESULT for PROPERTY (python3-authres if installed).
ar_verify() {
    "$PB_PYTHON" - "$1" "$SERVID" "$2" "$3" <<'EOF'
import re, sys
path, servid, result, prop = sys.argv[1:5]
with open(path, "rb") as f:
    head = f.read().decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n", 1)[0]
first = re.split(r"\n(?![ \t])", head)[0]
if not first.lower().startswith("authentication-results:"):
    sys.exit("the first header is not Authentication-Results: %r" % first[:80])
try:
    import authres
    h = authres.AuthenticationResultsHeader.parse(first)
    sid = h.authserv_id
    got = [(r.method, r.result, "%s.%s=%s" % (p.type, p.name, p.value))
           for r in h.results for p in r.properties]
    parser = "python3-authres"
except ImportError:
    m = re.match(r"Authentication-Results:\s*([^;\s]+);", first)
    sid = m.group(1) if m else None
    got = re.findall(r"(dane)=([a-z]+)(?: \([^)]*\))? (smtp\.[a-z]+=\S+?)(?:;|$)", first)
    parser = "a regular expression (python3-authres is not installed)"
if sid != servid or ("dane", result, prop) not in got:
    sys.exit("authserv-id %r, results %r" % (sid, got))
print("parsed back with %s: authserv-id %s, dane=%s %s" % (parser, sid, result, prop))
EOF
}

heading "1. The sending MTA's certificate (mta1.ok.test), and a rogue one for the same name"
tb_cert_selfsigned client mta1.ok.test
tb_cert_selfsigned rogue mta1.ok.test
C=$TB_CERTS
echo "client.pem: $(openssl x509 -in "$C/client.pem" -noout -subject)"
echo "rogue.pem:  $(openssl x509 -in "$C/rogue.pem" -noout -subject) (another key)"

heading "2. Its TLSA record:  dance tlsa --name mta1.ok.test client.pem"
RECORD=$("$DANCE" tlsa --name mta1.ok.test "$C/client.pem") || tb_die "dance tlsa failed"
echo "$RECORD"

heading "3. Zones test. and ok.test., signed now, served by nsd on 127.0.0.1"
tb_small_bed "$RECORD"
echo "nsd listens on 127.0.0.1:$TB_PORT; trust anchor (the DS of test.):"
indent < "$TB_TA"

heading "4. danced, the policy service and the milter, on unix sockets only Postfix may use"
DSOCK=$PB_DIR/dance-policy
MSOCK=$PB_DIR/dance-milter
DCONF=$PB_DIR/dance.conf
DLOG=$PB_DIR/danced.log
cat > "$DCONF" <<EOF
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 5
policy_socket = unix:$DSOCK
milter_socket = unix:$MSOCK
socket_group = postfix
socket_mode = 0660
peer_users = postfix
authserv_id = $SERVID
identities = helo, mailfrom
authorized_clients = mta1.ok.test
EOF
echo "dance.conf:"
indent < "$DCONF"
"$DANCED" -f -c "$DCONF" </dev/null >>"$DLOG" 2>&1 &
DPID=$!
TB_PIDS="$TB_PIDS $DPID"                # stopped by testbed.sh's trap, after Postfix
for _ in $(seq 1 150); do
    grep -q 'ready on' "$DLOG" 2>/dev/null && break
    sleep 0.1
done
if ! grep -q 'ready on' "$DLOG" || ! tb_running "$DPID"; then
    cat "$DLOG" >&2
    tb_die "danced did not start"
fi
echo "started: danced -f -c dance.conf   ($(grep -m1 'ready on' "$DLOG" | sed 's/^danced: [a-z]*: //'))"

heading "5. The receiving MTA: Postfix mx.$LOCAL on 127.0.0.1, asking danced"
PB_DOMAIN=$LOCAL
PB_POLICY_ENDPOINT=unix:$DSOCK
PB_POLICY_OPTS="timeout=10s, default_action=DUNNO"
PB_POLICY_STAGES="relay data"
PB_MAIN_EXTRA="smtpd_milters = { unix:$MSOCK, default_action=tempfail }"
pb_start
echo "listening on 127.0.0.1:$PB_PORT; its main.cf says (see contrib/postfix/main.cf):"
"$PB_POSTCONF" -c "$PB_CONF" smtpd_tls_ask_ccert smtpd_tls_fingerprint_digest \
    smtpd_relay_restrictions smtpd_data_restrictions smtpd_milters mydestination | indent

heading "6. The sending MTA: Postfix mta1.ok.test on 127.0.0.2, relaying to mx.$LOCAL with client.pem"
pb_sender_start "$C/client.pem" "$C/client.key" mta1.ok.test
"$PB_POSTCONF" -c "$PB_DIR/tx/etc" relayhost smtp_helo_name smtp_tls_security_level smtp_tls_cert_file \
    | sed "s|$C/||" | indent

heading "7. mta1.ok.test sends a message to rcpt@$LOCAL"
pb_mail_mark
tx_mark
pb_submit submit.local sender@mta1.ok.test "rcpt@$LOCAL" || tb_die "the sending Postfix refused the message"
if tx_result "rcpt@$LOCAL" && pb_wait_mail 1 30 && [ "${PB_MAIL%".rcpt@$LOCAL.eml"}" != "$PB_MAIL" ]; then
    echo "the sending Postfix logged:"
    show_tx
    echo "the delivered message begins with (each field is one line in the file; wrapped here):"
    pb_headers "$PB_MAIL" | head -n 2 | wrap
    check=$(ar_verify "$PB_MAIL" pass smtp.helo=mta1.ok.test 2>&1)
    rc=$?
    echo "  $check"
    outcome "$rc" "delivered with 'Authentication-Results: $SERVID; dane=pass ... smtp.helo=mta1.ok.test' on top"
else
    [ -n "$TX_LINE" ] && show_tx
    outcome 1 "the message to rcpt@$LOCAL was not delivered"
fi

heading "8. mta1.ok.test relays through mx.$LOCAL: a message to user@$FOREIGN"
pb_mail_mark
tx_mark
pb_submit submit.local sender@mta1.ok.test "user@$FOREIGN" || tb_die "the sending Postfix refused the message"
if tx_result "user@$FOREIGN"; then
    echo "the sending Postfix logged (the receiver's reply to it):"
    show_tx
fi
rc=1
case $TX_LINE in
    *"status=sent (250 "*)
        if pb_wait_mail 1 20; then
            case $PB_MAIL in
                *".user@$FOREIGN.eml")
                    echo "mx.$LOCAL passed it to its relay transport (in this demo: a file, $(basename "$PB_MAIL"))"
                    rc=0 ;;
            esac
        fi ;;
esac
outcome "$rc" "relay permitted: mta1.ok.test passed DANE and is in authorized_clients (250, relayed copy delivered)"

heading "9. The same MTA with a rogue key claiming mta1.ok.test: user@$FOREIGN and rcpt@$LOCAL"
pb_postconf tx "smtp_tls_cert_file = $C/rogue.pem" "smtp_tls_key_file = $C/rogue.key"
pb_restart tx
echo "restarted with smtp_tls_cert_file = rogue.pem"
FORGED="Authentication-Results: $SERVID; dane=pass smtp.helo=mta1.ok.test"
echo "the message carries a forged field: $FORGED"
pb_mail_mark
tx_mark
PB_TO_ADDR=$PB_SENDER_ADDR PB_TO_PORT=$PB_SENDER_PORT pb_swaks --ehlo submit.local \
    --from sender@mta1.ok.test --to "user@$FOREIGN,rcpt@$LOCAL" --add-header "$FORGED" \
    || tb_die "the sending Postfix refused the message"
rc=1
if tx_result "user@$FOREIGN"; then
    echo "the sending Postfix logged, for user@$FOREIGN:"
    show_tx
    case $TX_LINE in *"status=bounced"*"554 5.7.1"*"Relay access denied"*) rc=0 ;; esac
fi
outcome "$rc" "relay refused: the rogue key fails DANE (554 5.7.1 Relay access denied)"
rc=1
if tx_result "rcpt@$LOCAL" && pb_wait_mail 1 30; then
    echo "and for rcpt@$LOCAL (local mail is still accepted), delivered with:"
    pb_first_header "$PB_MAIL" | wrap
    check=$(ar_verify "$PB_MAIL" fail smtp.helo=mta1.ok.test 2>&1)
    rc=$?
    echo "  $check"
fi
outcome "$rc" "the local copy says dane=fail for smtp.helo=mta1.ok.test"
rc=1
if [ -n "$PB_MAIL" ]; then
    n=$(pb_header_count "$PB_MAIL" Authentication-Results)
    echo "Authentication-Results fields in the delivered copy: $n"
    [ "$n" = 1 ] && rc=0
fi
outcome "$rc" "the forged 'dane=pass' field is gone: danced's milter removed it"

heading "10. danced's log: one line per verdict it computed, one per message its milter wrote"
sed -n 's/.*verdict result=\([^ ]*\) dnssec=\([^ ]*\) identity=\([^ ]*\) client=\([^ ]*\) .* reason="\([^"]*\)" claimed="\([^"]*\)".*/client \4, \3 \6: \1 (dnssec \2; \5)/p' "$DLOG" | indent
sed -n 's/^danced: info: milter: //p' "$DLOG" | wrap

echo
if [ -z "$FAILED" ]; then
    echo "demo: OK - the DANE-published certificate gets dane=pass and may relay; the rogue key gets"
    echo "      dane=fail and may not, and its forged dane=pass field never reaches the mailbox."
    exit 0
fi
echo "demo: UNEXPECTED outcomes:$FAILED" >&2
echo "demo: danced's log:" >&2
tail -n 20 "$DLOG" >&2
pb_diag 20
exit 1
