#!/bin/bash
# exim.sh - danced's policy face under a real Exim 4.96, configured with
# contrib/exim/dance.acl, dance-rcpt.acl and dance-data.acl as shipped.
#
# The DNSSEC bed of t/dns/testbed.sh (zones signed now, nsd on loopback),
# danced with only policy_socket (peer_users = mail: the bed's Exim runs as
# Debian-exim with mail's ids), and a private Exim daemon on
# 127.0.0.1:<free port> (t/exim/eximbed.sh: Debian 12's exim4-base and
# exim4-daemon-light unpacked with t/debpkg.sh, a private /etc, no DNS
# look-ups) that includes the three shipped files, defining only
# DANCE_SOCKET and DANCE_AUTHSERV_ID.  Clients are
# t/postfix/smtpclient.py over STARTTLS with and without certificates.
# Every delivered message is checked with t/archeck.py: danced's field is
# the very first, above Exim's Received:, exactly one of ours, parsed
# alike by python3-authres and Perl Mail::AuthenticationResults.  Cases:
#   Exim listens on 127.0.0.1 only;
#   pass, fail, none (STARTTLS without certificate; no STARTTLS),
#   temperror (bogus zone);
#   relaying: the published certificate for an authorized_clients name may
#   relay, a rogue key and a plain client may not;
#   three messages on one connection, each with its own verdict;
#   forged fields (the cases of t/postfix/milter.sh and the look-alikes of
#   t/postfix/hygiene.sh) removed, other ids' fields kept, below ours;
#   a header section over Exim's 64 KiB: forged fields still removed;
#   danced stopped: 451 at DATA, nothing delivered; back: delivered.
#
# Output is TAP with the plan at the end.  Skipped (1..0) without the DNSSEC
# bed's tools, python3-authres or Perl Mail::AuthenticationResults, when not
# run as root, or when the Exim packages cannot be fetched or their
# libraries are missing (Debian: libidn12).  Everything started here is
# stopped on exit.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand, as
# root, from a build directory:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/exim/exim.sh
# (TB_KEEP=1 EB_KEEP=1 keep the temporary directories and logs.)

TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DANCE=${DANCE:-$PWD/cli/dance}
DANCED=${DANCED:-$(dirname "$DANCE")/../danced/danced}
CONTRIB=$(cd "$TESTDIR/../contrib/exim" && pwd)
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
# shellcheck source=t/debpkg.sh
. "$TESTDIR/debpkg.sh"
# shellcheck source=t/exim/eximbed.sh
. "$TESTDIR/exim/eximbed.sh"

tap_need_beds
tap_need_parsers
tap_need_binaries
if ! eb_require; then
    echo "1..0 # SKIP $EB_MISSING"
    exit 0
fi

# tap_diag - on failure: the last client transcript, Exim's and danced's last lines.
tap_diag() {
    eb_tap_diag
}

# delivered N - N messages arrived since eb_mail_mark.
delivered() {
    eb_wait_mail "$1" 20 || why "${#EB_MAILS[@]} deliveries, want $1 (see Exim's log)"
}

# nothing_delivered SECONDS - no message arrives since eb_mail_mark within SECONDS.
nothing_delivered() {
    sleep "$1"
    eb_wait_mail 1 0 && why "delivered: $(basename "$EB_MAIL")"
    return 0
}

# client_says REGEX - the last client transcript has a line matching REGEX.
client_says() {
    grep -Eq "$1" "$PB_LAST_OUT" || why "client: $(tail -n 2 "$PB_LAST_OUT" | tr '\n' ' ')"
}

# ---------------------------------------------------------------------------
T_ALL=$(pb_now)
tb_init
eb_init
if ! eb_unpack; then
    echo "1..0 # SKIP Exim: $DP_WHY"
    exit 0
fi
tb_standard_bed
C=$TB_CERTS
DOM=dest.test
SERVID=mx.$DOM
FOREIGN=elsewhere.example
DLOG=$EB_DIR/danced.log
DCONF=$EB_DIR/danced.conf
DPORT=$(pb_free_port)
GOOD=$C/good.pem GKEY=$C/good.key
ROGUE=$C/rogue.pem RKEY=$C/rogue.key

cat > "$DCONF" <<EOF
# danced for t/exim/exim.sh: the policy face only
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = inet:127.0.0.1:$DPORT
authserv_id = $SERVID
authorized_clients = mta1.ok.test
peer_users = mail
EOF
danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts with the policy face only (peer_users = mail, Exim's ids in the bed)"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }

EB_DOMAIN=$DOM
EB_MAIN="DANCE_SOCKET = inet:127.0.0.1:$DPORT
DANCE_AUTHSERV_ID = $SERVID"
EB_INCLUDE_MAIN=$CONTRIB/dance.acl
EB_INCLUDE_RCPT=$CONTRIB/dance-rcpt.acl
EB_INCLUDE_DATA=$CONTRIB/dance-data.acl
eb_config
T0=$(pb_now)
eb_start
report $? "Exim $EB_VERSION (exim -bV) accepts the shipped dance.acl, dance-rcpt.acl and dance-data.acl; the daemon starts"
timing "beds and danced $((T0 - T_ALL)) ms, Exim start $(( $(pb_now) - T0 )) ms"

L=$(eb_listening | tr '\n' ' ')
[ "$L" = "127.0.0.1:$EB_PORT " ] || why "Exim listens on: ${L:-nothing}"
report $? "Exim listens on 127.0.0.1:$EB_PORT and nowhere else (ss -ltnp)"

# --- one verdict each -----------------------------------------------------------
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "pass: the published certificate -> one dane=pass field, the very first, above Received:"
printf '#   %s\n' "$(pb_first_header "$EB_MAIL")"

eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test"
report $? "fail: a rogue key claiming mta1.ok.test -> one dane=fail field on top"

eb_mail_mark
eb_smtp --ehlo mta1.ok.test --from sender@mta1.ok.test --to "rcpt@$DOM" || why "smtpclient.py failed"
client_says '^tls ' && delivered 1 \
    && ar "$EB_MAIL" --want "dane=none smtp.helo=mta1.ok.test" --want "dane=none smtp.mailfrom=mta1.ok.test"
report $? "none: STARTTLS without a client certificate -> one dane=none field on top"

eb_mail_mark
eb_smtp --no-tls --ehlo mta1.ok.test --from sender@mta1.ok.test --to "rcpt@$DOM" || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=none smtp.helo=mta1.ok.test" --want "dane=none smtp.mailfrom=mta1.ok.test"
report $? "none: no STARTTLS -> one dane=none field on top"

eb_mail_mark
eb_smtp --ehlo mta1.bogus.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.bogus.test --to "rcpt@$DOM" \
    || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=temperror smtp.helo=mta1.bogus.test" \
    --want "dane=temperror smtp.mailfrom=mta1.bogus.test"
report $? "temperror: a bogus zone -> one dane=temperror field on top"

# --- relaying ---------------------------------------------------------------------
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test \
    --to "x@$FOREIGN" --to "rcpt@$DOM" || why "smtpclient.py failed"
rc=0
delivered 2 || rc=1
[ "$rc" = 0 ] && { m=$(eb_mail_with X-Delivered-To "x@$FOREIGN") || { rc=1; why "nothing delivered to x@$FOREIGN"; }; }
[ "$rc" = 0 ] && ar "$m" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "relaying: mta1.ok.test with the published certificate relays to x@$FOREIGN (danced answered OK)"

eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test --to "x@$FOREIGN" \
    && why "accepted"
client_says "^msg 1 rcpt x@$FOREIGN [45][0-9][0-9] " && nothing_delivered 1
report $? "relaying: a rogue key claiming mta1.ok.test is refused ($(sed -n 's/^msg 1 rcpt [^ ]* //p' "$PB_LAST_OUT"))"

eb_mail_mark
eb_smtp --no-tls --ehlo mta1.ok.test --from sender@mta1.ok.test --to "x@$FOREIGN" && why "accepted"
client_says "^msg 1 rcpt x@$FOREIGN [45][0-9][0-9] " && nothing_delivered 1
report $? "relaying: a plain client is refused ($(sed -n 's/^msg 1 rcpt [^ ]* //p' "$PB_LAST_OUT"))"

# --- several messages on one connection -----------------------------------------------
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --count 3 \
    --from sender@mta1.ok.test --from sender@nx.ok.test --to "rcpt@$DOM" || why "smtpclient.py failed"
rc=0
delivered 3 || rc=1
for i in 1 2 3; do
    [ "$rc" = 0 ] || break
    m=$(eb_mail_with Subject "pb test $i of 3") || { rc=1; why "message $i not delivered"; break; }
    if [ "$i" = 2 ]; then mf="dane=none smtp.mailfrom=nx.ok.test"; else mf="dane=pass smtp.mailfrom=mta1.ok.test"; fi
    ar "$m" --want "dane=pass smtp.helo=mta1.ok.test" --want "$mf" || rc=1
done
report "$rc" "three messages on one connection, MAIL FROM mta1 / nx / mta1: each has its own message's verdict"

# --- forged fields ----------------------------------------------------------------
forged_fields mta1.ok.test "filter.$DOM"
args=()
for h in "${FORGED[@]}"; do
    args+=(--header "$h")
done
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test \
    --to "rcpt@$DOM" "${args[@]}" || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test" \
    --keep other.example --keep "filter.$DOM"
[ "$(pb_header_count "$EB_MAIL" Authentication-Results)" = 3 ] \
    || why "$(pb_header_count "$EB_MAIL" Authentication-Results) Authentication-Results fields, want 3 (ours and two kept)"
report $? "9 forged fields (3 copies, upper case + dot, under ours, folded, comments, quoted, unparseable) removed; other.example and filter.$DOM kept"
pb_header "$EB_MAIL" Authentication-Results | sed 's/^/#   kept: /'
FORGED_MSG=$EB_MAIL

# the kept fields sit below Exim's Received:, in the order sent
names=$(pb_headers "$FORGED_MSG" | head -n 4 | cut -d: -f1 | tr '\n' ' ')
ids=$(pb_header "$FORGED_MSG" Authentication-Results | cut -d';' -f1 | tr '\n' ' ')
[ "$names" = "Authentication-Results Received Authentication-Results Authentication-Results " ] \
    || why "first fields: $names"
[ "$ids" = "$SERVID other.example filter.$DOM " ] || why "authserv-ids in order: $ids"
report $? "the kept fields follow Exim's Received:, in the order sent (ours, Received, other.example, filter.$DOM)"

# add_header drops a line it already added: two identical kept fields come back once
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --header "Authentication-Results: other.example; spf=pass" \
    --header "Authentication-Results: other.example; spf=pass" || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test" \
    --keep other.example
n=$(pb_header_count "$EB_MAIL" Authentication-Results)
[ "$n" = 2 ] || why "$n Authentication-Results fields, want ours and one other.example"
report $? "two identical foreign fields: one comes back (Exim's add_header skips a line it already added)"

# peer_users: a process of another user is refused by danced
setpriv --reuid=nobody --regid=nogroup --clear-groups "$PB_PYTHON" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.0.1\n\n")
s.shutdown(socket.SHUT_WR)
sys.stdout.write(s.recv(1000).decode(errors="replace"))' "$DPORT" >"$EB_DIR/nobody.out" 2>&1
for _ in $(seq 1 60); do grep -q 'refused: user id' "$DLOG" && break; sleep 0.05; done
grep -q "refused: user id $(id -u nobody) is not in peer_users" "$DLOG" || why "danced did not refuse nobody: $(cat "$EB_DIR/nobody.out")"
if grep -q 'action=' "$EB_DIR/nobody.out"; then
    why "nobody got an answer: $(cat "$EB_DIR/nobody.out")"
fi
report 0 "peer_users = mail: a process of user nobody gets no answer from danced (Exim's, as Debian-exim with mail's ids, do)"

lookalike_fields
printf '%s\n' "${LOOKALIKE[@]}" > "$EB_DIR/lookalike.hdr"
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --headers-file "$EB_DIR/lookalike.hdr" || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" \
    --want "dane=fail smtp.mailfrom=mta1.ok.test" --keep other.example
[ "$(pb_header_count "$EB_MAIL" Authentication-Results)" = 2 ] \
    || why "$(pb_header_count "$EB_MAIL" Authentication-Results) Authentication-Results fields, want ours and other.example's"
[ "$(pb_header "$EB_MAIL" X-Authentication-Results)" = "other.example; spf=pass" ] \
    || why "X-Authentication-Results left: $(pb_header "$EB_MAIL" X-Authentication-Results | tr '\n' '|')"
report $? "look-alikes of our id (spaces in quotes, trailing dots, no token, encoded word, odd names) and X-Authentication-Results claiming it: removed; other ids kept"

# --- a header section over Exim's 64 KiB ---------------------------------------------------
{
    printf 'Authentication-Results: %s; dane=pass\n' "$SERVID"
    printf 'Authentication-Results: other.example; spf=pass\n'
    for i in $(seq 1 1500); do printf 'X-Filler-%d: %s\n' "$i" "$(printf '%060d' "$i")"; done
    printf 'Authentication-Results: %s; dane=pass\n' "$SERVID"
    printf 'X-Authentication-Results: %s; dane=pass\n' "$SERVID"
} > "$EB_DIR/big.hdr"
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --headers-file "$EB_DIR/big.hdr" --timeout 60 || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test"
[ "$(pb_header_count "$EB_MAIL" Authentication-Results)" = 1 ] \
    || why "$(pb_header_count "$EB_MAIL" Authentication-Results) Authentication-Results fields, want ours only"
[ "$(pb_header_count "$EB_MAIL" X-Authentication-Results)" = 0 ] || why "an X-Authentication-Results field survived"
[ "$(pb_header_count "$EB_MAIL" X-Filler-1500)" = 1 ] || why "the filler fields did not arrive"
grep -q 'header over 64 KiB: every Authentication-Results field removed' "$EB_LOG" || why "no log line about the cut"
report $? "a $(( $(wc -c < "$EB_DIR/big.hdr") / 1024 )) KiB header section (over \$message_headers_raw's 64 KiB): every A-R field removed, ours alone on top"

# --- danced stopped ----------------------------------------------------------------
danced_end "$DANCED_PID" "$DLOG"
report $? "danced stops on SIGTERM"
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    && why "accepted"
client_says '^msg 1 refused DATA 451 ' && nothing_delivered 2
report $? "danced down: the message is deferred at DATA ($(sed -n 's/^msg 1 refused DATA //p' "$PB_LAST_OUT")), nothing delivered"

# a log of its own: danced_run waits for "ready on", which the old log has already
: > "$DLOG.2"
danced_run "$DCONF" "$DLOG.2" && DLOG=$DLOG.2
eb_mail_mark
eb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    || why "smtpclient.py failed"
delivered 1 && ar "$EB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "danced back: the retried message is delivered with dane=pass"

# --- nothing else -------------------------------------------------------------------
if grep -q "refused: user id $(id -u mail) " "$DLOG"; then
    why "danced refused Exim: $(grep -m1 "refused: user id $(id -u mail) " "$DLOG")"
fi
if [ -s "$EB_DIR/log/paniclog" ]; then
    why "Exim's paniclog: $(tail -n 1 "$EB_DIR/log/paniclog")"
fi
report 0 "no connection of Exim refused by peer_users, nothing in Exim's paniclog"

danced_end "$DANCED_PID" "$DLOG"
report $? "danced exits cleanly"
eb_stop
timing "all $(( $(pb_now) - T_ALL )) ms"
tap_end
