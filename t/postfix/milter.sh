#!/bin/bash
# milter.sh - danced's two faces under a real Postfix: the policy service
# verifies, the milter writes the header and removes forged copies.
#
# The DNSSEC bed of t/dns/testbed.sh (zones signed now, nsd on loopback),
# danced with policy_socket and milter_socket, and a private Postfix
# (t/postfix/postfixbed.sh) set up as contrib/postfix/main.cf recommends:
# check_policy_service in smtpd_relay_restrictions and
# smtpd_data_restrictions, danced in smtpd_milters with
# default_action=tempfail.  Real TLS clients present certificates (swaks,
# t/postfix/smtpclient.py, and a second Postfix on 127.0.0.2).  Every
# delivered message is checked with t/archeck.py: our field is the very
# first, above Postfix's Received:, exactly one of ours, parsed alike by
# python3-authres and Perl Mail::AuthenticationResults.  Cases:
#   pass, fail, none (TLS without certificate; no TLS), temperror;
#   forged fields claiming our authserv-id - upper case, trailing dot, a
#   name under it, folded over lines, with comments, quoted, unparseable,
#   three copies of one - all removed, while another id's field and a
#   trusted_authserv_ids host's field (bound to the client's address) stay;
#   three messages on one connection with different MAIL FROM domains, four
#   recipients of one message, eight concurrent connections with two keys:
#   each copy carries its own message's verdict;
#   Postfix not asking the policy service at DATA: dane=temperror (never
#   "none": a missing record is no proof of anything) and a warning naming
#   smtpd_data_restrictions; Postfix giving up on a slow policy service (its
#   timeout shorter than the DNS look-up): temperror;
#   danced stopped: milter_default_action tempfail defers the mail (451),
#   nothing is delivered without our header; a sending Postfix keeps it
#   queued and delivers it, with dane=pass, once danced is back;
#   SpamAssassin 4 with contrib/spamassassin/dance.cf reads the dane result.
#
# Output is TAP with the plan at the end.  Skipped (1..0) without nsd/ldns,
# Postfix, swaks, python3-authres or Perl Mail::AuthenticationResults, or
# when not run as root.  Everything started here is stopped on exit.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand, as
# root, from a build directory:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/postfix/milter.sh
# (TB_KEEP=1 PB_KEEP=1 keep the temporary directories and logs.)

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

# tap_diag - on failure: the last client transcript and danced's last lines.
tap_diag() {
    pb_tap_diag
}

# delivered N - N copies arrived since pb_mail_mark.
delivered() {
    pb_wait_mail "$1" 20 || why "fewer than $1 deliveries (see the maillog)"
}

# ---------------------------------------------------------------------------
T_ALL=$(pb_now)
tb_init
tb_standard_bed
pb_init
C=$TB_CERTS
DOM=$PB_DOMAIN
SERVID=mx.$DOM
TRUSTED=filter.$DOM
AR_OPTS=(--trusted "$TRUSTED")
FOREIGN=elsewhere.example
DLOG=$PB_DIR/danced.log
DCONF=$PB_DIR/danced.conf
DPORT=$(pb_free_port)
MPORT=$(pb_free_port)
GOOD=$C/good.pem GKEY=$C/good.key
ROGUE=$C/rogue.pem RKEY=$C/rogue.key

cat > "$DCONF" <<EOF
# danced for t/postfix/milter.sh: both faces
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = inet:127.0.0.1:$DPORT
milter_socket = inet:127.0.0.1:$MPORT
authserv_id = $SERVID
trusted_authserv_ids = $TRUSTED@127.0.0.1
authorized_clients = mta1.ok.test
peer_users = postfix
EOF
danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts with the policy and the milter face"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }

PB_POLICY_ENDPOINT=inet:127.0.0.1:$DPORT
PB_POLICY_OPTS="timeout=10s, default_action=DUNNO"
PB_POLICY_STAGES="relay data"
PB_MAIN_EXTRA="smtpd_milters = { inet:127.0.0.1:$MPORT, default_action=tempfail }
milter_default_action = tempfail"
pb_start
report $? "Postfix starts asking danced at RCPT and DATA, with danced in smtpd_milters"
timing "beds and danced ${PB_T_START} ms Postfix start, $(( $(pb_now) - T_ALL )) ms in all"

# --- one verdict each -----------------------------------------------------------
pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "pass: the published certificate -> one dane=pass field, the very first, above Received:"
printf '#   %s\n' "$(pb_first_header "$PB_MAIL")"
PASS_MSG=$PB_MAIL

pb_mail_mark
pb_send_cert "$ROGUE" "$RKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && ar "$PB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test"
report $? "fail: a rogue key claiming mta1.ok.test -> one dane=fail field on top"

pb_mail_mark
pb_send_tls mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && ar "$PB_MAIL" --want "dane=none smtp.helo=mta1.ok.test" --want "dane=none smtp.mailfrom=mta1.ok.test"
report $? "none: STARTTLS without a client certificate -> one dane=none field on top"

pb_mail_mark
pb_send_plain mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && ar "$PB_MAIL" --want "dane=none smtp.helo=mta1.ok.test" --want "dane=none smtp.mailfrom=mta1.ok.test"
report $? "none: no STARTTLS -> one dane=none field on top"

pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.bogus.test sender@mta1.bogus.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && ar "$PB_MAIL" --want "dane=temperror smtp.helo=mta1.bogus.test" \
    --want "dane=temperror smtp.mailfrom=mta1.bogus.test"
report $? "temperror: a bogus zone -> one dane=temperror field on top"

# --- forged fields ----------------------------------------------------------------
forged_fields mta1.ok.test "$TRUSTED"
args=()
for h in "${FORGED[@]}"; do
    args+=(--header "$h")
done
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test \
    --to "rcpt@$DOM" "${args[@]}" || why "smtpclient.py failed"
delivered 1 && ar "$PB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test" \
    --keep other.example --keep "$TRUSTED"
[ "$(pb_header_count "$PB_MAIL" Authentication-Results)" = 3 ] \
    || why "$(pb_header_count "$PB_MAIL" Authentication-Results) Authentication-Results fields, want 3 (ours and two kept)"
report $? "9 forged fields (3 copies, upper case + dot, under ours, folded, comments, quoted, unparseable) removed; other.example and the trusted host kept"
pb_header "$PB_MAIL" Authentication-Results | sed 's/^/#   kept: /'
grep -q "milter: queue id $(qids "$PB_LAST_OUT") .*removed 9 Authentication-Results fields (7 ours, 1 under ours, 0 listed, 1 unparseable), kept 2 (1 trusted)" "$DLOG" \
    || why "no log line counting 9 removed (7 ours, 1 under, 1 unparseable), 2 kept"
report $? "danced logs what it removed and kept for the message"
FORGED_MSG=$PB_MAIL

# --- many messages, recipients and connections --------------------------------------
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --count 3 \
    --from sender@mta1.ok.test --from sender@nx.ok.test --to "rcpt@$DOM" || why "smtpclient.py failed"
rc=0
delivered 3 || rc=1
mapfile -t Q < <(qids "$PB_LAST_OUT")
[ "${#Q[@]}" = 3 ] || { rc=1; why "${#Q[@]} queue ids, want 3"; }
[ "$rc" = 0 ] && ar "$(copy_of "${Q[0]}")" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test" || rc=1
[ "$rc" = 0 ] && ar "$(copy_of "${Q[1]}")" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=none smtp.mailfrom=nx.ok.test" || rc=1
[ "$rc" = 0 ] && ar "$(copy_of "${Q[2]}")" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test" || rc=1
report "$rc" "three messages on one connection, MAIL FROM mta1 / nx / mta1: each copy has its own message's verdict"

pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test \
    --to "a@$DOM" --to "b@$DOM" --to "c@$DOM" --to "x@$FOREIGN" || why "smtpclient.py failed"
rc=0
delivered 4 || rc=1
for m in "${PB_MAILS[@]}"; do
    [ "$rc" = 0 ] || break
    ar "$m" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test" || rc=1
done
report "$rc" "four recipients (one relayed, permitted by the policy face): one field of ours in each copy"

pb_mail_mark
pids=()
for i in 0 1 2 3 4 5 6 7; do
    if [ $((i % 2)) = 0 ]; then cert=$GOOD key=$GKEY; else cert=$ROGUE key=$RKEY; fi
    "$PB_PYTHON" "$PB_LIBDIR/smtpclient.py" --server 127.0.0.1 --port "$PB_PORT" --ehlo mta1.ok.test \
        --cert "$cert" --key "$key" --from "c$i@mta1.ok.test" --to "rcpt@$DOM" --count 2 \
        >"$PB_DIR/conc.$i.out" 2>&1 &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do
    wait "$p" || { rc=1; why "a concurrent client failed"; }
done
delivered 16 || rc=1
for i in 0 1 2 3 4 5 6 7; do
    if [ $((i % 2)) = 0 ]; then r=pass; else r=fail; fi
    for q in $(qids "$PB_DIR/conc.$i.out"); do
        [ "$rc" = 0 ] || break
        ar "$(copy_of "$q")" --want "dane=$r smtp.helo=mta1.ok.test" --want "dane=$r smtp.mailfrom=mta1.ok.test" || rc=1
    done
done
report "$rc" "eight concurrent connections, alternating the published and a rogue key, two messages each: 16 copies, each with its own connection's verdict"

# --- policy service not asked at DATA ---------------------------------------------------
PB_POLICY_STAGES="relay"
pb_set_policy "$PB_POLICY_ENDPOINT"
pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && ar "$PB_MAIL" --want "dane=temperror smtp.helo=mta1.ok.test" \
    --want "dane=temperror smtp.mailfrom=mta1.ok.test" \
    && { pb_first_header "$PB_MAIL" | grep -q 'no verdict from the policy service' || why "reason: $(pb_first_header "$PB_MAIL")"; } \
    && { grep -q 'CONFIGURATION: queue id .* came over TLS but the policy service recorded no verdict for it.*smtpd_data_restrictions' "$DLOG" \
         || why "no CONFIGURATION warning naming smtpd_data_restrictions"; }
report $? "no check_policy_service at DATA: dane=temperror (no verdict from the policy service) and a warning naming smtpd_data_restrictions"
PB_POLICY_STAGES="relay data"
pb_set_policy "$PB_POLICY_ENDPOINT"

# --- Postfix gives up on a slow policy service --------------------------------------------
# Postfix waits 1 s for the policy service; the claimed name's zone never
# answers (dns_timeout 3 s), so Postfix goes on with default_action=DUNNO
# and drops the policy connection.  The milter must not guess: temperror.
PB_POLICY_OPTS="timeout=1s, default_action=DUNNO"
pb_set_policy "$PB_POLICY_ENDPOINT"
pb_mail_mark
t0=$(pb_now)
pb_send_cert "$GOOD" "$GKEY" mta1.dead.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && ar "$PB_MAIL" --want "dane=temperror smtp.helo=mta1.dead.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "Postfix times out on the policy service (timeout=1s, DNS hangs): the milter writes temperror for that name, never a guess"
printf '#   %s (client done after %s ms)\n' "$(pb_first_header "$PB_MAIL")" "$(( $(pb_now) - t0 ))"
PB_POLICY_OPTS="timeout=10s, default_action=DUNNO"
pb_set_policy "$PB_POLICY_ENDPOINT"

# --- SpamAssassin --------------------------------------------------------------------
if command -v spamassassin >/dev/null 2>&1; then
    SACF=$PB_DIR/sa.cf
    sed "s/mx\\\\.example\\\\.org/mx\\\\.dest\\\\.test/g; s/mx\\.example\\.org/$SERVID/g" \
        "$TESTDIR/../contrib/spamassassin/dance.cf" > "$SACF"
    # sa FILE - spamassassin -t on FILE; sets HITS to the DANCE_* rules that hit.
    sa() {
        HITS=
        if ! spamassassin -L -t -D authres --cf="loadplugin Mail::SpamAssassin::Plugin::AuthRes" \
            --cf="include $SACF" < "$1" > "$PB_DIR/sa.out" 2> "$PB_DIR/sa.err"; then
            why "spamassassin failed: $(grep -v 'dbg:' "$PB_DIR/sa.err" | tail -n 1)"
        elif ! grep -q '^X-Spam-Status:' "$PB_DIR/sa.out"; then
            why "spamassassin wrote no X-Spam-Status"
        fi
        HITS=" $(grep -o 'DANCE_[A-Z_]*' "$PB_DIR/sa.out" | sort -u | tr '\n' ' ')"
    }
    sa "$PASS_MSG"
    case $HITS in *" DANCE_PASS "*) ;; *) why "pass message: rules hit:$HITS" ;; esac
    case $HITS in *" DANCE_FAIL "*) why "pass message: DANCE_FAIL hit" ;; esac
    grep 'authres' "$PB_DIR/sa.err" | grep -i 'dane' | head -n 2 | cut -c1-200 \
        | sed 's/^/#   SpamAssassin AuthRes: /'
    report $? "SpamAssassin 4 with contrib/spamassassin/dance.cf: the dane=pass message hits DANCE_PASS"
    sa "$FORGED_MSG"
    case $HITS in *" DANCE_FAIL "*) ;; *) why "forged message: rules hit:$HITS" ;; esac
    case $HITS in *" DANCE_PASS "*) why "forged message: DANCE_PASS hit (a forged dane=pass survived?)" ;; esac
    report $? "SpamAssassin: the message with 9 forged dane=pass fields hits DANCE_FAIL only"
else
    tap_skip "SpamAssassin reads the dane result" "spamassassin is not installed"
fi

# --- danced stopped ----------------------------------------------------------------
danced_end "$DANCED_PID" "$DLOG" TERM
report $? "danced exits 0 on SIGTERM, no sanitizer report"

pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" && why "swaks succeeded with danced down"
grep -Eq '<\*\* +4[0-9][0-9]' "$PB_LAST_OUT" || why "no 4xx reply: $(grep -E '^ *<[*-]' "$PB_LAST_OUT" | tail -n 2 | tr '\n' ' ')"
sleep 1
[ "$(pb_mail_files | wc -l)" = "$PB_MAIL_MARK" ] || why "a message was delivered while danced was down"
report $? "danced down, milter default_action=tempfail: the client gets 4xx, nothing is delivered"
grep -E '^ *<\*\* +4' "$PB_LAST_OUT" | head -n 1 | sed 's/^/#   /'

pb_sender_start "$GOOD" "$GKEY" mta1.ok.test
pb_submit mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "submission to the sending Postfix failed"
for _ in $(seq 1 100); do
    grep -q 'status=deferred' "$PB_DIR/tx/maillog" 2>/dev/null && break
    sleep 0.1
done
grep -q 'status=deferred' "$PB_DIR/tx/maillog" || why "the sending Postfix did not defer the message"
report $? "a sending Postfix keeps the message queued (status=deferred) while danced is down"
grep 'status=deferred' "$PB_DIR/tx/maillog" | head -n 1 | sed 's/.*status=/#   status=/' | cut -c1-200

: > "$DLOG.2"
danced_run "$DCONF" "$DLOG.2" && DLOG=$DLOG.2
pb_mail_mark
/usr/sbin/postqueue -c "$PB_DIR/tx/etc" -f
delivered 1 30 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "danced back, queue flushed: the deferred message arrives with dane=pass - none lost"
danced_end "$DANCED_PID" "$DLOG" TERM
report $? "the restarted danced exits 0, no sanitizer report"

timing "milter e2e total $(( $(pb_now) - T_ALL )) ms"
tap_end
