#!/bin/bash
# sendmail.sh - danced's milter under a real Sendmail 8.17 daemon.
#
# The DNSSEC bed of t/dns/testbed.sh, danced with its milter face only
# (Sendmail mode: policy_socket = none) and Debian 12's Sendmail, unpacked
# privately and built from contrib/sendmail/dance.mc as shipped
# (t/sendmail/sendmailbed.sh: loopback only, STARTTLS asking for client
# certificates, CertFingerprintAlgorithm sha256, F=T, no DNS).  Real TLS
# clients present certificates: swaks, t/postfix/smtpclient.py, and a
# sending Postfix on 127.0.0.2.  Every delivered message is checked with
# t/archeck.py: danced's field is the very first, above Sendmail's
# Received:, exactly one of ours, parsed alike by python3-authres and Perl
# Mail::AuthenticationResults.  Cases:
#   - Sendmail listens on 127.0.0.1 only (no submission port on every
#     address), and passes danced a SHA-256 {cert_fp};
#   - "3 0 1" published -> pass (swaks, and a sending Postfix); a rogue key
#     -> fail; "3 1 1" only -> neutral, saying why; no certificate, no TLS
#     -> none; a bogus zone -> temperror;
#   - the forged Authentication-Results fields of t/postfix/milter.sh and
#     hygiene.sh (copies, case, dots, under ours, folded, comments, quoted,
#     unparseable, look-alikes, X-Authentication-Results) removed, other
#     ids kept; SpamAssassin with contrib's rules reads danced's field only;
#   - three messages on one connection, each with its own MAIL FROM's verdict;
#   - SIGHUP to danced while a message is between MAIL FROM and its end:
#     that message and the next get their fields;
#   - Sendmail without CertFingerprintAlgorithm (it then passes {cert_md5}
#     and no {cert_fp}): dane=none and one CONFIGURATION ERROR naming
#     confCERT_FINGERPRINT_ALGORITHM;
#   - danced down with F=T: the client gets 4xx, nothing is delivered; a
#     sending Postfix keeps the message and delivers it, with dane=pass, once
#     danced is back.
#
# Output is TAP with the plan at the end.  Skipped (1..0) without the beds'
# tools, python3-authres or Perl Mail::AuthenticationResults, sendmail-cf,
# or when Sendmail's packages cannot be fetched; run as root.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand, as
# root, from a build directory:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/sendmail/sendmail.sh
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
# shellcheck source=t/sendmail/sendmailbed.sh
. "$TESTDIR/sendmail/sendmailbed.sh"
# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"
# shellcheck source=t/archeck.sh
. "$TESTDIR/archeck.sh"

tap_need_beds postfix
tap_need_parsers
tap_need_binaries
if ! sm_require; then
    echo "1..0 # SKIP $SM_WHY"
    exit 0
fi

# tap_diag - on failure: the client transcript, danced's and Sendmail's last lines.
tap_diag() {
    pb_tap_diag
    [ -f "${SM_LOG:-}" ] && tail -n 4 "$SM_LOG" | cut -c1-300 | sed 's/^/#   sendmail: /'
    return 0
}

# delivered N - N copies arrived since pb_mail_mark.
delivered() {
    pb_wait_mail "$1" "${2:-20}" || why "fewer than $1 deliveries (see Sendmail's log)"
}

# both RESULT NAME - the --want pair for one name claimed at EHLO and in MAIL FROM.
both() {
    printf -- '--want\ndane=%s smtp.helo=%s\n--want\ndane=%s smtp.mailfrom=%s\n' "$1" "$2" "$1" "$2"
}

# sendcase RESULT NAME CLIENT... - send with CLIENT (a pb_ sender), expect one copy with RESULT for NAME.
sendcase() {
    local r=$1 n=$2 w
    shift 2
    pb_mail_mark
    "$@" || why "the client failed"
    mapfile -t w < <(both "$r" "$n")
    delivered 1 && ar "$PB_MAIL" "${w[@]}"
}

# ---------------------------------------------------------------------------
T_ALL=$(pb_now)
tb_init
tb_standard_bed
pb_init
if ! sm_unpack; then
    echo "1..0 # SKIP $SM_WHY"
    exit 0
fi
C=$TB_CERTS
DOM=$PB_DOMAIN
SERVID=mx.$DOM
DLOG=$PB_DIR/danced.log
DCONF=$PB_DIR/danced.conf
MPORT=$(pb_free_port)
GOOD=$C/good.pem GKEY=$C/good.key
ROGUE=$C/rogue.pem RKEY=$C/rogue.key

cat > "$DCONF" <<EOF
# danced for t/sendmail/sendmail.sh: the milter face in Sendmail mode
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = none
milter_socket = inet:127.0.0.1:$MPORT
authserv_id = $SERVID
EOF
danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts with the milter face alone (Sendmail mode)"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }

SM_MILTER_PORT=$MPORT
if ! sm_start; then
    echo "Bail out! the Sendmail bed did not start: $SM_WHY"
    exit 1
fi
report 0 "Sendmail $SM_VERSION starts from contrib/sendmail/dance.mc, unpacked privately"
timing "beds and danced, Sendmail start ${SM_T_START} ms, $(( $(pb_now) - T_ALL )) ms in all"

L=$(sm_listeners | tr '\n' ' ')
[ "$L" = "127.0.0.1:$SM_PORT " ] || why "Sendmail listens on: $L"
report $? "Sendmail listens on 127.0.0.1:$SM_PORT and nowhere else (no submission port)"

# --- one verdict each -----------------------------------------------------------
sm_log_mark
sendcase pass ee301.ok.test pb_send_cert "$GOOD" "$GKEY" ee301.ok.test sender@ee301.ok.test "rcpt@$DOM"
report $? "pass: 3 0 1 published, swaks presents that certificate -> one dane=pass field, the very first"
printf '#   %s\n' "$(pb_first_header "$PB_MAIL")"
PASS_MSG=$PB_MAIL

FP=$(pb_fingerprint 0 "$GOOD")
sm_log_since 'cert_fp|verify=' | head -n 2 | cut -c1-300 | sed 's/^/#   sendmail: /'
grep -q "milter: .*" "$DLOG" || why "danced logged nothing for the message"
report $? "Sendmail passed the certificate's digest: danced checked it by itself"

sendcase fail ee301.ok.test pb_send_cert "$ROGUE" "$RKEY" ee301.ok.test sender@ee301.ok.test "rcpt@$DOM"
report $? "fail: a rogue key claiming ee301.ok.test -> one dane=fail field on top"

sendcase neutral mta1.ok.test pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" \
    && { pb_first_header "$PB_MAIL" | grep -q 'only 3 0 x records can match' || why "no explanation: $(pb_first_header "$PB_MAIL")"; }
report $? "neutral: only 3 1 1 published -> dane=neutral, saying that Sendmail gives a whole-certificate digest"
printf '#   %s\n' "$(pb_first_header "$PB_MAIL")"

sendcase none ee301.ok.test pb_send_tls ee301.ok.test sender@ee301.ok.test "rcpt@$DOM"
report $? "none: STARTTLS without a client certificate"

sendcase none ee301.ok.test pb_send_plain ee301.ok.test sender@ee301.ok.test "rcpt@$DOM"
report $? "none: no STARTTLS"

sendcase temperror mta1.bogus.test pb_send_cert "$GOOD" "$GKEY" mta1.bogus.test sender@mta1.bogus.test "rcpt@$DOM"
report $? "temperror: a bogus zone"

# --- a sending Postfix presents the certificate --------------------------------------
pb_sender_start "$GOOD" "$GKEY" ee301.ok.test
pb_mail_mark
pb_submit ee301.ok.test sender@ee301.ok.test "rcpt@$DOM" || why "submission to the sending Postfix failed"
mapfile -t W < <(both pass ee301.ok.test)
delivered 1 30 && ar "$PB_MAIL" "${W[@]}"
report $? "pass: a sending Postfix (127.0.0.2) relays with the published certificate"

# --- forged fields -------------------------------------------------------------------
forged_fields ee301.ok.test other.example
lookalike_fields
FORGED=("${FORGED[@]:0:9}" "${LOOKALIKE[@]}")
args=()
for h in "${FORGED[@]}"; do
    args+=(--header "$h")
done
pb_mail_mark
pb_smtp --ehlo ee301.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@ee301.ok.test \
    --to "rcpt@$DOM" "${args[@]}" || why "smtpclient.py failed"
mapfile -t W < <(both fail ee301.ok.test)
delivered 1 && ar "$PB_MAIL" "${W[@]}" --keep other.example
[ "$(pb_header_count "$PB_MAIL" Authentication-Results)" = 2 ] \
    || why "$(pb_header_count "$PB_MAIL" Authentication-Results) Authentication-Results fields, want ours and other.example's"
[ "$(pb_header "$PB_MAIL" X-Authentication-Results)" = "other.example; spf=pass" ] \
    || why "X-Authentication-Results left: $(pb_header "$PB_MAIL" X-Authentication-Results | tr '\n' '|')"
grep -q "milter: queue id $(qids "$PB_LAST_OUT") .*removed 18 Authentication-Results fields" "$DLOG" \
    || why "log: $(grep 'removed' "$DLOG" | tail -n 1 | cut -c1-300)"
report $? "18 forged fields (copies, case, dots, under ours, folded, comments, quoted, look-alikes, X-Authentication-Results) removed by Sendmail; other.example's kept"
pb_header "$PB_MAIL" Authentication-Results | sed 's/^/#   kept: /'
sm_log_since 'Milter \(danced\) delete' | head -n 2 | cut -c1-200 | sed 's/^/#   sendmail: /'

# --- SpamAssassin reads danced's field ------------------------------------------------------
if command -v spamassassin >/dev/null 2>&1; then
    SACF=$PB_DIR/sa.cf
    sed "s/mx\\\\.example\\\\.org/mx\\\\.dest\\\\.test/g; s/mx\\.example\\.org/$SERVID/g" \
        "$TESTDIR/../contrib/spamassassin/dance.cf" > "$SACF"
    # sa FILE - spamassassin -t on FILE; sets HITS to the DANCE_* rules that hit.
    sa() {
        HITS=
        spamassassin -L -t --cf="include $SACF" < "$1" > "$PB_DIR/sa.out" 2> "$PB_DIR/sa.err" \
            || why "spamassassin failed: $(tail -n 1 "$PB_DIR/sa.err")"
        HITS=" $(grep -o 'DANCE_[A-Z_]*' "$PB_DIR/sa.out" | sort -u | tr '\n' ' ')"
    }
    sa "$PASS_MSG"
    case $HITS in *" DANCE_PASS "*) ;; *) why "pass message: rules hit:$HITS" ;; esac
    sa "$PB_MAIL"
    case $HITS in *" DANCE_FAIL "*) ;; *) why "forged message: rules hit:$HITS" ;; esac
    case $HITS in *" DANCE_PASS "*) why "forged message: DANCE_PASS hit" ;; esac
    report $? "SpamAssassin with contrib/spamassassin/dance.cf: the pass message hits DANCE_PASS, the forged one DANCE_FAIL only"
else
    tap_skip "SpamAssassin reads danced's field" "spamassassin is not installed"
fi

# --- several messages on one connection -------------------------------------------------
pb_mail_mark
pb_smtp --ehlo ee301.ok.test --cert "$GOOD" --key "$GKEY" --count 3 \
    --from sender@ee301.ok.test --from sender@nx.ok.test --to "rcpt@$DOM" || why "smtpclient.py failed"
rc=0
delivered 3 || rc=1
mapfile -t Q < <(qids "$PB_LAST_OUT")
[ "${#Q[@]}" = 3 ] || { rc=1; why "${#Q[@]} queue ids, want 3"; }
[ "$rc" = 0 ] && ar "$(copy_of "${Q[0]}")" --want "dane=pass smtp.helo=ee301.ok.test" --want "dane=pass smtp.mailfrom=ee301.ok.test" || rc=1
[ "$rc" = 0 ] && ar "$(copy_of "${Q[1]}")" --want "dane=pass smtp.helo=ee301.ok.test" --want "dane=none smtp.mailfrom=nx.ok.test" || rc=1
[ "$rc" = 0 ] && ar "$(copy_of "${Q[2]}")" --want "dane=pass smtp.helo=ee301.ok.test" --want "dane=pass smtp.mailfrom=ee301.ok.test" || rc=1
report "$rc" "three messages on one connection, MAIL FROM ee301 / nx / ee301: each copy has its own verdict"

# --- SIGHUP while a message is open -------------------------------------------------------
# smtpclient.py holds the transaction after RCPT until a file appears;
# danced reloads meanwhile; then the message and a second one on the same
# connection are sent.
rm -f "$PB_DIR/hup.go"
pb_mail_mark
"$PB_PYTHON" -u "$PB_LIBDIR/smtpclient.py" --server 127.0.0.1 --port "$PB_PORT" --ehlo ee301.ok.test \
    --cert "$GOOD" --key "$GKEY" --from sender@ee301.ok.test --to "rcpt@$DOM" --count 2 \
    --hold-until "$PB_DIR/hup.go" --hold-at rcpt >"$PB_DIR/hup.out" 2>&1 &
SPID=$!
PB_PIDS="$PB_PIDS $SPID"
for _ in $(seq 1 200); do grep -q '^hold' "$PB_DIR/hup.out" && break; sleep 0.05; done
kill -HUP "$DANCED_PID"
for _ in $(seq 1 100); do grep -q 'configuration reloaded' "$DLOG" && break; sleep 0.05; done
grep -q 'configuration reloaded' "$DLOG" || why "danced logged no reload"
touch "$PB_DIR/hup.go"
wait "$SPID" || why "smtpclient.py failed: $(tail -n 1 "$PB_DIR/hup.out")"
mapfile -t W < <(both pass ee301.ok.test)
rc=0
delivered 2 || rc=1
for m in "${PB_MAILS[@]}"; do
    [ "$rc" = 0 ] || break
    ar "$m" "${W[@]}" || rc=1
done
report "$rc" "SIGHUP to danced while a message waits after RCPT: it and the next message on the connection get dane=pass"

# --- Sendmail without CertFingerprintAlgorithm --------------------------------------------
# Sendmail 8.17 then passes {cert_md5} and no {cert_fp} at all.
sm_stop
sed -i '/confCERT_FINGERPRINT_ALGORITHM/d' "$SM_DIR/dance.mc"
m4 "$SM_CFDIR/m4/cf.m4" "$SM_DIR/sendmail.mc" >"$SM_CF" 2>"$SM_DIR/m4.err"
grep -q '^O CertFingerprintAlgorithm' "$SM_CF" && why "the option is still set"
sm_daemon || why "sendmail did not restart: $SM_WHY"
pb_mail_mark
sendcase none ee301.ok.test pb_send_cert "$GOOD" "$GKEY" ee301.ok.test sender@ee301.ok.test "rcpt@$DOM"
grep -q "CONFIGURATION ERROR: .*cert_md5.*confCERT_FINGERPRINT_ALGORITHM" "$DLOG" \
    || why "no CONFIGURATION ERROR naming {cert_md5} and confCERT_FINGERPRINT_ALGORITHM: $(grep -i 'configuration' "$DLOG" | tail -n 1 | cut -c1-300)"
report $? "no CertFingerprintAlgorithm: Sendmail passes {cert_md5}; dane=none and a CONFIGURATION ERROR naming the setting"
grep -m1 'CONFIGURATION' "$DLOG" | cut -c1-300 | sed 's/^/#   danced: /'
sm_stop
sed "s/inet:10041@127\.0\.0\.1/inet:$SM_MILTER_PORT@127.0.0.1/" \
    "$TESTDIR/../contrib/sendmail/dance.mc" >"$SM_DIR/dance.mc"
m4 "$SM_CFDIR/m4/cf.m4" "$SM_DIR/sendmail.mc" >"$SM_CF" 2>"$SM_DIR/m4.err"
sm_daemon || why "sendmail did not restart: $SM_WHY"
report $? "Sendmail restarts with contrib's dance.mc"

# --- danced down: F=T ------------------------------------------------------------------
danced_end "$DANCED_PID" "$DLOG" TERM
report $? "danced exits 0 on SIGTERM, no sanitizer report"

pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" ee301.ok.test sender@ee301.ok.test "rcpt@$DOM" && why "swaks succeeded with danced down"
grep -Eq '<\*\* +4[0-9][0-9]' "$PB_LAST_OUT" || why "no 4xx reply: $(grep -E '^ *<[*-]' "$PB_LAST_OUT" | tail -n 2 | tr '\n' ' ')"
sleep 1
[ "$(pb_mail_files | wc -l)" = "$PB_MAIL_MARK" ] || why "a message was delivered while danced was down"
report $? "danced down, F=T: the client gets 4xx, nothing is delivered"
grep -E '^ *<\*\* +4' "$PB_LAST_OUT" | head -n 1 | sed 's/^/#   /'

pb_submit ee301.ok.test sender@ee301.ok.test "rcpt@$DOM" || why "submission to the sending Postfix failed"
for _ in $(seq 1 100); do
    grep -q 'status=deferred' "$PB_DIR/tx/maillog" 2>/dev/null && break
    sleep 0.1
done
grep -q 'status=deferred' "$PB_DIR/tx/maillog" || why "the sending Postfix did not defer the message"
report $? "a sending Postfix keeps the message queued (status=deferred) while danced is down"

: > "$DLOG.2"
danced_run "$DCONF" "$DLOG.2" && DLOG=$DLOG.2
pb_mail_mark
/usr/sbin/postqueue -c "$PB_DIR/tx/etc" -f
mapfile -t W < <(both pass ee301.ok.test)
delivered 1 30 && ar "$PB_MAIL" "${W[@]}"
report $? "danced back, queue flushed: the deferred message arrives with dane=pass - none lost"
danced_end "$DANCED_PID" "$DLOG" TERM
report $? "the restarted danced exits 0, no sanitizer report"

timing "sendmail e2e total $(( $(pb_now) - T_ALL )) ms"
tap_end
