#!/bin/bash
# selfcheck.sh - check the Postfix test bed (postfixbed.sh) against
# fake_policy.py, before danced exists.  Output is TAP; exit 77 (skip) when
# a tool is missing, non-zero when a check fails.  Timings are printed as
# "# timing: ..." lines.
#
# What it shows: a real Postfix on loopback asks the policy service at RCPT
# and DATA, passes ccert_fingerprint / ccert_pubkey_fingerprint equal to
# openssl's SHA-256 of the client certificate / its SPKI (empty without a
# certificate or without STARTTLS), puts the DATA-stage PREPEND on the first
# line of the delivered message, refuses relaying unless the policy answers
# OK (policy in smtpd_relay_restrictions or in smtpd_recipient_restrictions),
# carries two messages over one connection and several recipients per
# message, relays through a second Postfix instance presenting a client
# certificate, and cleans up after itself, also when killed.
#
# Usage: bash t/postfix/selfcheck.sh        (as root; about 20-40 s)

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=postfixbed.sh
. "$HERE/postfixbed.sh"

if ! pb_require; then
    echo "1..0 # SKIP missing $PB_MISSING"
    exit 77
fi

T_ALL=$(pb_now)
N=0
FAILED=0

# ok COND_STATUS DESCRIPTION - one TAP line from the exit status of the preceding check.
ok() {
    N=$((N + 1))
    if [ "$1" = 0 ]; then
        echo "ok $N - $2"
    else
        echo "not ok $N - $2"
        FAILED=$((FAILED + 1))
    fi
}

# is GOT WANT DESCRIPTION - ok when the strings are equal; shows both otherwise.
is() {
    if [ "$1" = "$2" ]; then
        ok 0 "$3"
    else
        ok 1 "$3"
        printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
    fi
}

# show_last - the last client transcript, as TAP comments.
show_last() {
    sed 's/^/#   /' "$PB_LAST_OUT" | tail -n 15
}

timing() {
    printf '# timing: %s\n' "$*"
}

echo "1..22"

pb_init
DOM=$PB_DOMAIN
pb_cert client mta1.example.test
pb_cert client2 mta2.example.test
CERT=$PB_CERTS/client.pem KEY=$PB_CERTS/client.key
FP_CERT=$(pb_fingerprint 0 "$CERT")
FP_SPKI=$(pb_fingerprint 1 "$CERT")
# The same digests computed the long way, as the brief states them.
FP_SPKI2=$(openssl x509 -in "$CERT" -pubkey -noout | openssl pkey -pubin -outform DER \
    | openssl dgst -sha256 | sed 's/.*= //' | tr 'a-f' 'A-F' | sed 's/\(..\)/\1:/g; s/:$//')
FP_CERT2=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 | sed 's/.*=//')

pb_policy_start --ok-helo relay-ok.example.test
pb_start
ok $? "receiver instance started on 127.0.0.1:$PB_PORT"
timing "receiver start ${PB_T_START} ms"

# --- 2-7: client certificate -------------------------------------------------
pb_mail_mark; pb_policy_mark
pb_send_cert "$CERT" "$KEY" mta1.example.test sender@mta1.example.test "rcpt@$DOM"
rc=$?
pb_wait_mail 1; ok $(( rc + $? )) "message with client certificate delivered"
[ "$rc" = 0 ] || show_last
timing "delivery with client certificate ${PB_T_DELIVERY} ms (swaks ${PB_T_SEND} ms)"
MSG=$PB_MAIL

is "$(pb_policy_field protocol_state | tr '\n' ' ')" "RCPT DATA " \
    "policy asked once at RCPT and once at DATA"
is "$FP_CERT" "$FP_CERT2" "pb_fingerprint 0 equals openssl x509 -fingerprint -sha256"
is "$(pb_policy_field ccert_fingerprint | sort -u)" "$FP_CERT" \
    "ccert_fingerprint (RCPT and DATA) = SHA-256 of the DER certificate"
is "$(pb_policy_field ccert_pubkey_fingerprint | sort -u)/$FP_SPKI" "$FP_SPKI2/$FP_SPKI2" \
    "ccert_pubkey_fingerprint (RCPT and DATA) = SHA-256 of openssl x509 -pubkey as DER"
first=$(pb_first_header "$MSG")
second=$(pb_headers "$MSG" | sed -n 2p)
count=$(pb_header_count "$MSG" X-Test-Policy)
is "$first|${second%% *}|$count" "X-Test-Policy: seen|Received:|1" \
    "PREPEND header is the first line, above Postfix's Received:, exactly once"

# --- 8-9: no certificate, no STARTTLS ---------------------------------------
pb_mail_mark; pb_policy_mark
pb_send_tls mta1.example.test sender@mta1.example.test "rcpt@$DOM"
rc=$?
pb_wait_mail 1
rc=$(( rc + $? ))
timing "delivery with TLS, no certificate ${PB_T_DELIVERY} ms"
got="$rc|$(pb_policy_field ccert_fingerprint RCPT)|$(pb_policy_field ccert_pubkey_fingerprint RCPT)"
got="$got|$(pb_policy_field encryption_protocol RCPT | grep -c TLS)"
is "$got" "0|||1" "TLS without client certificate: delivered, fingerprints empty, TLS on"

pb_mail_mark; pb_policy_mark
pb_send_plain mta1.example.test sender@mta1.example.test "rcpt@$DOM"
rc=$?
pb_wait_mail 1
rc=$(( rc + $? ))
timing "delivery without STARTTLS ${PB_T_DELIVERY} ms"
got="$rc|$(pb_policy_field ccert_fingerprint RCPT)|$(pb_policy_field ccert_pubkey_fingerprint RCPT)"
got="$got|$(pb_policy_field encryption_protocol RCPT)|$(pb_first_header "$PB_MAIL")"
is "$got" "0||||X-Test-Policy: seen" \
    "no STARTTLS: delivered, fingerprints and protocol empty, header still prepended"

# --- 10-12: relay decisions ---------------------------------------------------
pb_policy_mark
pb_send_cert "$CERT" "$KEY" mta1.example.test sender@mta1.example.test user@elsewhere.example
rc=$?
grep -q 'Relay access denied' "$PB_LAST_OUT"
is "$rc/$?/$(pb_policy_field .action RCPT)" "24/0/DUNNO" \
    "relay to a foreign domain refused when the policy answers DUNNO"

pb_mail_mark; pb_policy_mark
pb_send_cert "$CERT" "$KEY" relay-ok.example.test sender@mta1.example.test user@elsewhere.example
rc=$?
pb_wait_mail 1
rc=$(( rc + $? ))
case $PB_MAIL in *.user@elsewhere.example.eml) f=0 ;; *) f=1 ;; esac
is "$rc/$f/$(pb_policy_field .action RCPT)" "0/0/OK" \
    "relay permitted when the policy answers OK (relayed copy kept as a file)"
[ "$rc" = 0 ] || show_last

# The other placement: policy in smtpd_recipient_restrictions.
t0=$(pb_now)
PB_POLICY_STAGES="recipient data" pb_set_policy "$PB_POLICY_ENDPOINT"
timing "reconfigure + restart ${PB_T_INSTANCE} ms (total $(( $(pb_now) - t0 )) ms)"
pb_mail_mark; pb_policy_mark
pb_send_cert "$CERT" "$KEY" relay-ok.example.test sender@mta1.example.test user@elsewhere.example
r1=$?
pb_wait_mail 1
r1=$(( r1 + $? ))
pb_send_cert "$CERT" "$KEY" mta1.example.test sender@mta1.example.test user@elsewhere.example
r2=$?
is "$r1/$r2/$(pb_policy_field .action RCPT | tr '\n' ' ')" "0/24/OK DUNNO " \
    "policy in smtpd_recipient_restrictions: OK relays, DUNNO is refused"
PB_POLICY_STAGES="relay data" pb_set_policy "$PB_POLICY_ENDPOINT"

# --- 13-15: two messages on one connection ------------------------------------
pb_mail_mark; pb_policy_mark
pb_smtp --ehlo mta1.example.test --cert "$CERT" --key "$KEY" \
    --from sender@mta1.example.test --to "rcpt@$DOM" --count 2
rc=$?
pb_wait_mail 2
rc=$(( rc + $? ))
timing "two messages on one connection ${PB_T_DELIVERY} ms (client ${PB_T_SEND} ms)"
is "$rc/$(grep -c ' queued ' "$PB_LAST_OUT")/${#PB_MAILS[@]}" "0/2/2" \
    "two messages over one TLS connection (smtpclient.py) both delivered"
[ "$rc" = 0 ] || show_last
is "$(pb_policy_field client_port | sort -u | wc -l)/$(pb_policy_field queue_id DATA | sort -u | wc -l)/$(pb_policy_field ccert_pubkey_fingerprint | sort -u)" \
    "1/2/$FP_SPKI" "policy saw one client port, two queue ids, the key both times"
h=0
for m in "${PB_MAILS[@]}"; do
    [ "$(pb_first_header "$m")" = "X-Test-Policy: seen" ] || h=1
    [ "$(pb_header_count "$m" X-Test-Policy)" = 1 ] || h=1
done
ok $h "each of the two messages has the PREPEND header once, on top"

# --- 16-18: several recipients ------------------------------------------------
AR="Authentication-Results: mx.$DOM; dane=pass smtp.helo=mta1.example.test"
pb_mail_mark; pb_policy_mark
pb_smtp --ehlo mta1.example.test --cert "$CERT" --key "$KEY" \
    --from sender@mta1.example.test --to "a@$DOM" --to "b@$DOM" --to "c@$DOM" \
    --header "$AR"
rc=$?
pb_wait_mail 3
rc=$(( rc + $? ))
timing "one message, three recipients ${PB_T_DELIVERY} ms"
is "$rc/${#PB_MAILS[@]}/$(pb_policy_count RCPT)/$(pb_policy_count DATA)/$(pb_policy_field recipient_count DATA)/$(pb_policy_field recipient DATA)" \
    "0/3/3/1/3/" "three recipients: three files, 3 RCPT requests, 1 DATA request (recipient empty)"
h=0
for m in "${PB_MAILS[@]}"; do
    [ "$(pb_header_count "$m" X-Test-Policy)" = 1 ] || h=1
done
ok $h "each recipient's copy has exactly one PREPEND header"
ar=$(pb_header "$PB_MAIL" Authentication-Results)
parsed=$("$PB_PYTHON" -c '
import sys, authres
r = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + sys.argv[1])
print(r.authserv_id, ";".join("%s=%s %s" % (x.method, x.result,
      " ".join("%s.%s=%s" % (p.type, p.name, p.value) for p in x.properties)) for x in r.results))
' "$ar" 2>&1)
is "$parsed" "mx.$DOM dane=pass smtp.helo=mta1.example.test" \
    "a delivered Authentication-Results header parses back with python3-authres ($PB_PYTHON)"

# --- 19-21: a second Postfix as the sending MTA ---------------------------------
pb_sender_start "$PB_CERTS/client2.pem" "$PB_CERTS/client2.key" mta2.example.test
timing "sender instance start ${PB_T_SENDER_START} ms"
pb_mail_mark; pb_policy_mark
pb_submit submit.example.test sender@mta2.example.test "x@$DOM" &&
    pb_submit submit.example.test sender@mta2.example.test "y@$DOM"
rc=$?
pb_wait_mail 2 30
rc=$(( rc + $? ))
timing "two messages through the sender instance ${PB_T_DELIVERY} ms"
is "$rc/$(pb_policy_field helo_name RCPT | sort -u)/$(pb_policy_field client_address RCPT | sort -u)/$(pb_policy_field ccert_pubkey_fingerprint | sort -u)" \
    "0/mta2.example.test/127.0.0.2/$(pb_fingerprint 1 "$PB_CERTS/client2.pem")" \
    "sender instance on 127.0.0.2 relays with its certificate and smtp_helo_name"
is "$(pb_policy_field client_port | sort -u | wc -l)/$(grep -c 'conn_use=2' "$PB_DIR/tx/maillog")" "1/1" \
    "the sender instance carried both messages over one TLS connection (conn_use=2)"
is "$(pb_first_header "${PB_MAILS[0]}")|$(pb_first_header "${PB_MAILS[1]}")" \
    "X-Test-Policy: seen|X-Test-Policy: seen" "relayed messages carry the PREPEND header on top"

# --- 22: clean-up also when a test is killed ----------------------------------
out=$(bash -c '
    . "$1/postfixbed.sh"
    pb_init
    pb_policy_start
    pb_start
    echo "$PB_DIR $(awk "{ print \$1 }" "$PB_DIR/rx/queue/pid/master.pid") $PB_POLICY_PID"
    kill -TERM $$
    sleep 30' _ "$HERE" 2>/dev/null)
rc=$?
read -r kdir kmaster kpolicy <<<"$out"
alive=0
[ -n "$kdir" ] && [ -e "$kdir" ] && alive=1
[ -n "$kmaster" ] && pb_alive "$kmaster" && alive=2
[ -n "$kmaster" ] && pb_alive "-$kmaster" && alive=3
[ -n "$kpolicy" ] && pb_alive "$kpolicy" && alive=4
is "$rc/$alive/${kdir:+dir}" "143/0/dir" \
    "a bed killed with SIGTERM stops Postfix and the policy server and removes its directory"

pb_cleanup
timing "self-check total $(( $(pb_now) - T_ALL )) ms"
[ "$FAILED" = 0 ]
