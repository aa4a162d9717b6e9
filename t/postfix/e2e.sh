#!/bin/bash
# e2e.sh - danced end to end: a real Postfix asks danced, real TLS clients
# present certificates, TLSA records come from DNSSEC-signed zones.
#
# Builds the standard DNSSEC bed of t/dns/testbed.sh (zones signed now, nsd
# on a free 127.0.0.1 port), starts danced in the foreground against it,
# and starts a private Postfix on loopback (t/postfix/postfixbed.sh) whose
# smtpd asks danced at RCPT (smtpd_relay_restrictions, before
# reject_unauth_destination) and at DATA (smtpd_data_restrictions), as
# contrib/postfix/main.cf recommends.  Every delivery - local or relayed -
# becomes a file, so nothing leaves the machine.  Clients are swaks and
# t/postfix/smtpclient.py (several messages over one connection).
#
# Cases, each asserted on the delivered message or on the SMTP reply:
#   pass       the bed's good certificate (TLSA 3 1 1 at
#              _smtp-client.mta1.ok.test), EHLO mta1.ok.test: delivered, the
#              first header is danced's Authentication-Results, exactly one,
#              above Postfix's Received:
#   fail       a rogue key claiming the same name
#   none       STARTTLS without a certificate; no STARTTLS at all
#   temperror  EHLO name in bogus.test (tampered RRSIG), reason names DNSSEC
#   relay      to a foreign domain: permitted for the authorized pass,
#              refused (554 Relay access denied) for an unauthorized pass
#              and for a fail
#   two messages on one connection, several recipients: exactly one header
#   per delivered copy
#   a forged Authentication-Results with our authserv-id: ours is on top
# Every Authentication-Results header is parsed back with python3-authres
# and Perl Mail::AuthenticationResults, two independent RFC 8601 parsers
# (t/archeck.py).  The same Postfix with danced's milter as well is
# t/postfix/milter.sh.  At the end danced must stop cleanly on
# SIGTERM with no sanitizer report in its log.
#
# Output is TAP with the plan at the end.  Skipped (1..0) when nsd/ldns,
# Postfix, swaks or python3-authres are missing or not run as root.  Every
# process started here (nsd, the blackhole, danced, Postfix) is stopped on
# exit, also on failure and on Ctrl-C, by the two beds' traps.
#
# Environment (set by `make check`): DANCED = the danced binary, DANCE =
# the dance binary (publishes the TLSA records), TESTDIR = the source t/
# directory.  By hand, from a build directory, as root:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/postfix/e2e.sh
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

tap_need_beds postfix
tap_need_parsers
tap_need_binaries

# tap_diag - on failure: the last client transcript and danced's last lines.
tap_diag() {
    pb_tap_diag
}

# ar_check FILE NOURS RESULT... - the message FILE starts with an
# Authentication-Results field of authserv-id $SERVID, followed by Postfix's
# Received:, holding exactly the RESULTs ("dane=pass smtp.helo=NAME", in
# order) as parsed by python3-authres and Perl Mail::AuthenticationResults
# alike (t/archeck.py); NOURS fields in all carry $SERVID.
ar_check() {
    local out f=$1 n=$2 args=() r
    shift 2
    for r in "$@"; do
        args+=(--want "$r")
    done
    if ! out=$("$PB_PYTHON" "$TESTDIR/archeck.py" --servid "$SERVID" \
               --top-names authentication-results,received --ours "$n" "${args[@]}" "$f" 2>&1); then
        why "$(basename "$f"): $(printf '%s' "$out" | tail -n 1)"
        return 1
    fi
    return 0
}

# top_ar FILE - the message's first header field, unfolded (for TAP comments and greps).
top_ar() {
    pb_first_header "$1"
}

# delivered N [SECONDS] - the last client succeeded and N copies arrived since pb_mail_mark.
delivered() {
    pb_wait_mail "$1" "${2:-20}" || why "fewer than $1 deliveries (see the maillog)"
}

# refused_relay ADDR - the last smtpclient.py transcript shows RCPT ADDR refused with 554 ... Relay access denied.
refused_relay() {
    grep -Eq "^msg [0-9]+ rcpt $1 554 .*Relay access denied" "$PB_LAST_OUT" \
        || why "RCPT $1 was not refused with 554 Relay access denied: $(grep " rcpt $1 " "$PB_LAST_OUT")"
}

# accepted_rcpt ADDR - the last smtpclient.py transcript shows RCPT ADDR accepted (250).
accepted_rcpt() {
    grep -Eq "^msg [0-9]+ rcpt $1 250 " "$PB_LAST_OUT" \
        || why "RCPT $1 was not accepted: $(grep " rcpt $1 " "$PB_LAST_OUT")"
}

# copy_for ADDR - the delivered file (since the mark) for recipient ADDR.
copy_for() {
    local m
    for m in "${PB_MAILS[@]}"; do
        case $m in *".$1.eml") printf '%s\n' "$m"; return 0 ;; esac
    done
    return 1
}

# ---------------------------------------------------------------------------
T_ALL=$(pb_now)
tb_init                                 # first: pb_init chains its EXIT trap to this one
tb_standard_bed
pb_init
T_BEDS=$(( $(pb_now) - T_ALL ))
C=$TB_CERTS
DOM=$PB_DOMAIN
SERVID=mx.$DOM                          # the receiving host (myhostname of the bed's Postfix)
FOREIGN=elsewhere.example               # not a local domain: relaying
DLOG=$PB_DIR/danced.log
DCONF=$PB_DIR/danced.conf
DPORT=$(pb_free_port)

cat > "$DCONF" <<EOF
# danced configuration for t/postfix/e2e.sh
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = inet:127.0.0.1:$DPORT
authserv_id = $SERVID
identities = helo, mailfrom
authorized_clients = mta1.ok.test
log_format = text
EOF

"$DANCED" -n -c "$DCONF" >"$PB_DIR/n.out" 2>&1
rc=$?
WHY="danced -n: $(tail -n 1 "$PB_DIR/n.out")"
report "$rc" "danced -n accepts the configuration"

t0=$(pb_now)
danced_run "$DCONF" "$DLOG" && { pb_wait_port 127.0.0.1 "$DPORT" 15 || why "danced is not listening on $DPORT"; }
rc=$?
report "$rc" "danced listens on 127.0.0.1:$DPORT"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }
DPID=$DANCED_PID
T_DANCED=$(( $(pb_now) - t0 ))

PB_POLICY_ENDPOINT=inet:127.0.0.1:$DPORT
PB_POLICY_OPTS="timeout=10s, default_action=DUNNO"
PB_POLICY_STAGES="relay data"
pb_start
report $? "Postfix listens on 127.0.0.1:$PB_PORT, asking danced in smtpd_relay_restrictions and smtpd_data_restrictions"
restr=$("$PB_POSTCONF" -c "$PB_CONF" -h smtpd_relay_restrictions)
case $restr in
    "check_policy_service { inet:127.0.0.1:$DPORT, timeout=10s, default_action=DUNNO }, reject_unauth_destination") rc=0 ;;
    *) rc=1; WHY="smtpd_relay_restrictions = $restr" ;;
esac
report "$rc" "danced is asked before reject_unauth_destination"
timing "DNS bed ${T_BEDS} ms, danced start ${T_DANCED} ms, Postfix start ${PB_T_START} ms"

GOOD=$C/good.pem GKEY=$C/good.key
ROGUE=$C/rogue.pem RKEY=$C/rogue.key

# --- pass -------------------------------------------------------------------
pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM"
rc=$?
[ "$rc" = 0 ] || why "swaks exit status $rc"
delivered 1 && ar_check "$PB_MAIL" 1 "dane=pass smtp.helo=mta1.ok.test" "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "pass: good certificate, EHLO mta1.ok.test -> delivered, one dane=pass header on top"
printf '#   %s\n' "$(top_ar "$PB_MAIL")"
timing "pass: swaks ${PB_T_SEND} ms, delivered after ${PB_T_DELIVERY:-?} ms"

# --- fail -------------------------------------------------------------------
pb_mail_mark
pb_send_cert "$ROGUE" "$RKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM"
rc=$?
[ "$rc" = 0 ] || why "swaks exit status $rc"
delivered 1 && ar_check "$PB_MAIL" 1 "dane=fail smtp.helo=mta1.ok.test" "dane=fail smtp.mailfrom=mta1.ok.test"
report $? "fail: rogue key claiming mta1.ok.test -> delivered (fail_action dunno), dane=fail"

# --- none -------------------------------------------------------------------
pb_mail_mark
pb_send_tls mta1.ok.test sender@mta1.ok.test "rcpt@$DOM"
rc=$?
[ "$rc" = 0 ] || why "swaks exit status $rc"
grep -q 'STARTTLS' "$PB_LAST_OUT" || why "swaks did not use STARTTLS"
delivered 1 && ar_check "$PB_MAIL" 1 "dane=none smtp.helo=mta1.ok.test" "dane=none smtp.mailfrom=mta1.ok.test"
report $? "none: STARTTLS without a client certificate -> dane=none"

pb_mail_mark
pb_send_plain mta1.ok.test sender@mta1.ok.test "rcpt@$DOM"
rc=$?
[ "$rc" = 0 ] || why "swaks exit status $rc"
grep -q '^ *~>' "$PB_LAST_OUT" && why "swaks used TLS"
delivered 1 && ar_check "$PB_MAIL" 1 "dane=none smtp.helo=mta1.ok.test" "dane=none smtp.mailfrom=mta1.ok.test"
report $? "none: no STARTTLS -> dane=none"

# --- temperror ----------------------------------------------------------------
pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.bogus.test sender@mta1.bogus.test "rcpt@$DOM"
rc=$?
[ "$rc" = 0 ] || why "swaks exit status $rc"
delivered 1 && ar_check "$PB_MAIL" 1 "dane=temperror smtp.helo=mta1.bogus.test" "dane=temperror smtp.mailfrom=mta1.bogus.test"
report $? "temperror: EHLO name in bogus.test -> delivered, dane=temperror"
top=$(top_ar "$PB_MAIL")
rc=0
printf '%s\n' "$top" | grep -Eq 'temperror \([^)]*DNSSEC' || rc=1
WHY="no reason naming DNSSEC in: $top"
report "$rc" "temperror: the reason comment names DNSSEC"
printf '#   %s\n' "$top"

# --- relay --------------------------------------------------------------------
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" \
    --from sender@mta1.ok.test --to "user@$FOREIGN"
rc=$?
[ "$rc" = 0 ] || why "smtpclient.py exit status $rc"
accepted_rcpt "user@$FOREIGN" && delivered 1 \
    && { copy_for "user@$FOREIGN" >/dev/null || why "no relayed copy for user@$FOREIGN"; } \
    && ar_check "$PB_MAIL" 1 "dane=pass smtp.helo=mta1.ok.test" "dane=pass smtp.mailfrom=mta1.ok.test"
report $? "relay permitted: authorized mta1.ok.test passes -> RCPT user@$FOREIGN 250, relayed copy delivered"

# An unauthorized pass: ee301.ok.test (3 0 1 of the same certificate) is
# not in authorized_clients.  A local recipient in the same transaction
# shows the verdict really was pass.
pb_mail_mark
pb_smtp --ehlo ee301.ok.test --cert "$GOOD" --key "$GKEY" \
    --from sender@ee301.ok.test --to "user@$FOREIGN" --to "rcpt@$DOM"
refused_relay "user@$FOREIGN" && accepted_rcpt "rcpt@$DOM" && delivered 1 \
    && ar_check "$PB_MAIL" 1 "dane=pass smtp.helo=ee301.ok.test" "dane=pass smtp.mailfrom=ee301.ok.test"
report $? "relay refused: unauthorized ee301.ok.test passes -> RCPT user@$FOREIGN 554 Relay access denied"
grep " rcpt user@$FOREIGN " "$PB_LAST_OUT" | sed 's/^/#   /'

pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" \
    --from sender@mta1.ok.test --to "user@$FOREIGN" --to "rcpt@$DOM"
refused_relay "user@$FOREIGN" && accepted_rcpt "rcpt@$DOM" && delivered 1 \
    && ar_check "$PB_MAIL" 1 "dane=fail smtp.helo=mta1.ok.test" "dane=fail smtp.mailfrom=mta1.ok.test"
report $? "relay refused: rogue key claiming the authorized mta1.ok.test (fail) -> 554 Relay access denied"

# --- two messages on one connection ---------------------------------------------
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" \
    --from sender@mta1.ok.test --to "rcpt@$DOM" --count 2
rc=$?
[ "$rc" = 0 ] || why "smtpclient.py exit status $rc"
[ "$(grep -c '^tls ' "$PB_LAST_OUT")/$(grep -c ' queued ' "$PB_LAST_OUT")" = 1/2 ] \
    || why "want one TLS session and two queued messages"
rc=0
delivered 2 || rc=1
for m in "${PB_MAILS[@]}"; do
    [ "$rc" = 0 ] || break
    ar_check "$m" 1 "dane=pass smtp.helo=mta1.ok.test" "dane=pass smtp.mailfrom=mta1.ok.test" || rc=1
done
[ "$(pb_queue_ids | tail -n 2 | sort -u | wc -l)" = 2 ] || why "the two deliveries do not have two queue ids"
report $(( rc + $? )) "two messages on one connection: each has exactly one dane=pass header, on top"
timing "two messages on one connection: client ${PB_T_SEND} ms"

# --- several recipients ---------------------------------------------------------
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test \
    --to "a@$DOM" --to "b@$DOM" --to "c@$DOM" --to "x@$FOREIGN"
rc=$?
[ "$rc" = 0 ] || why "smtpclient.py exit status $rc"
delivered 4 || rc=1
for m in "${PB_MAILS[@]}"; do
    [ "$rc" = 0 ] || break
    ar_check "$m" 1 "dane=pass smtp.helo=mta1.ok.test" "dane=pass smtp.mailfrom=mta1.ok.test" || rc=1
done
report "$rc" "four recipients (three local, one relayed): exactly one header in each of the 4 copies"

# --- forged header ----------------------------------------------------------------
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test \
    --to "rcpt@$DOM" --header "Authentication-Results: $SERVID; dane=pass smtp.helo=mta1.ok.test"
rc=$?
[ "$rc" = 0 ] || why "smtpclient.py exit status $rc"
# ours + the forged one; the forged one says pass, ours (on top) fail
delivered 1 && ar_check "$PB_MAIL" 2 "dane=fail smtp.helo=mta1.ok.test" "dane=fail smtp.mailfrom=mta1.ok.test"
report $? "forged 'Authentication-Results: $SERVID; dane=pass' from a rogue key: danced's dane=fail is on top"
echo "# The forged copy is still in the message: a policy service can only PREPEND,"
echo "# so only 'ours is first' is asserted here; t/postfix/milter.sh shows danced's"
echo "# milter removing every forged copy."

# --- danced stops cleanly -------------------------------------------------------------
n=$(grep -c '^danced: .*verdict ' "$DLOG")
rc=0
[ "$n" -gt 0 ] || rc=1
WHY="no verdict lines in danced's log"
report "$rc" "danced logged $n verdict lines"
danced_end "$DPID" "$DLOG" TERM
report $? "danced exits 0 on SIGTERM, no sanitizer report"

timing "e2e total $(( $(pb_now) - T_ALL )) ms"
tap_end
