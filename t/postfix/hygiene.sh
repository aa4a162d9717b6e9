#!/bin/bash
# hygiene.sh - what reaches a mailbox, and what a consumer of danced's field
# may read from it, when the client writes Authentication-Results fields
# of its own - under a real Postfix, with the real SpamAssassin.
#
# The DNSSEC bed of t/dns/testbed.sh, danced with both faces (peer_users =
# postfix, trusted_authserv_ids bound to 127.0.0.1, remove_authserv_ids =
# .dest.test) and a private Postfix as contrib/postfix/main.cf recommends,
# non_smtpd_milters included.  Cases:
#   - look-alikes of our authserv-id (white space inside quotes, several
#     trailing dots, a quoted id that is no token, an encoded word, a
#     lower-case field name, white space before the colon) and
#     X-Authentication-Results fields claiming it: removed; other ids kept;
#   - a trusted id's field kept only from its address (127.0.0.1), removed
#     from the sending Postfix on 127.0.0.2; trusted ids at or under ours,
#     a trailing dot included, refused by danced -n;
#   - mail submitted with sendmail(1) goes through non_smtpd_milters: its
#     forged field is removed, ours says none (no TLS);
#   - SpamAssassin with contrib/spamassassin/dance.cf reads only danced's
#     field: kept foreign fields hiding "mx.dest.test; dane=pass" behind
#     Q and B encoded words (us-ascii, utf-8, iso-8859-1) or folds never
#     make DANCE_PASS fire on a rogue key's message (the rules of the last
#     release did: shown as a control), and a field put above danced's by a
#     later hop makes no rule fire;
#   - 10,000 header fields (10 of them forged) pass with the forged ones
#     removed; 1,500 forged fields are refused with 550 5.7.1;
#   - a reload between RCPT and DATA: the message is judged by the
#     configuration of its MAIL FROM, the next one by the new;
#   - BDAT (CHUNKING) instead of DATA: the policy service is asked and the
#     field written as for DATA;
#   - danced -n refuses user = root, sockets on other hosts' addresses
#     without remote_sockets, both faces without peer_users; a danced with
#     remote_sockets or peer_users = any logs a warning when it starts.
#
# Output is TAP with the plan at the end.  Skipped (1..0) without the beds'
# tools, python3-authres or Perl Mail::AuthenticationResults, or when not
# run as root; the SpamAssassin cases are skipped without spamassassin.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand, as
# root, from a build directory:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/postfix/hygiene.sh

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

tap_diag() {
    pb_tap_diag
}

# headers_file NAME FIELD... - a file of header fields for smtpclient.py --headers-file.
headers_file() {
    local f=$PB_DIR/$1.hdr
    shift
    printf '%s\n' "$@" > "$f"
    HFILE=$f
}

# b64 TEXT - base64 of TEXT, one line.
b64() {
    printf '%s' "$1" | base64 -w0
}

# dn CONF... - danced -n on a configuration made of the lines given; sets OUT, returns its status.
dn() {
    printf '%s\n' "$@" > "$PB_DIR/n.conf"
    OUT=$("$DANCED" -n -c "$PB_DIR/n.conf" 2>&1)
}

# ---------------------------------------------------------------------------
T_ALL=$(pb_now)
tb_init
tb_standard_bed
pb_init
C=$TB_CERTS
DOM=$PB_DOMAIN
SERVID=mx.$DOM
DLOG=$PB_DIR/danced.log
DCONF=$PB_DIR/danced.conf
DPORT=$(pb_free_port)
MPORT=$(pb_free_port)
GOOD=$C/good.pem GKEY=$C/good.key
ROGUE=$C/rogue.pem RKEY=$C/rogue.key

write_conf() {
    cat > "$DCONF" <<EOF
# danced for t/postfix/hygiene.sh
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = inet:127.0.0.1:$DPORT
milter_socket = inet:127.0.0.1:$MPORT
authserv_id = $SERVID
peer_users = postfix
remove_authserv_ids = .$DOM
$1
EOF
}
write_conf "trusted_authserv_ids = filter.$DOM@127.0.0.1"
danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts with trusted_authserv_ids bound to 127.0.0.1 and remove_authserv_ids = .$DOM"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }

PB_POLICY_ENDPOINT=inet:127.0.0.1:$DPORT
PB_POLICY_OPTS="timeout=10s, default_action=DUNNO"
PB_POLICY_STAGES="relay data"
PB_MAIN_EXTRA="smtpd_milters = { inet:127.0.0.1:$MPORT, default_action=tempfail }
non_smtpd_milters = { inet:127.0.0.1:$MPORT, default_action=tempfail }"
pb_start
report $? "Postfix starts with danced in smtpd_milters and non_smtpd_milters"

# --- look-alikes and X-Authentication-Results ----------------------------------------
lookalike_fields
headers_file lookalike "${LOOKALIKE[@]}"
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --headers-file "$HFILE" || why "smtpclient.py failed"
pb_wait_mail 1 20 && ar "$PB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" \
    --want "dane=fail smtp.mailfrom=mta1.ok.test" --keep other.example
[ "$(pb_header_count "$PB_MAIL" Authentication-Results)" = 2 ] \
    || why "$(pb_header_count "$PB_MAIL" Authentication-Results) Authentication-Results fields, want ours and other.example's"
[ "$(pb_header "$PB_MAIL" X-Authentication-Results)" = "other.example; spf=pass" ] \
    || why "X-Authentication-Results left: $(pb_header "$PB_MAIL" X-Authentication-Results | tr '\n' '|')"
grep -q "removed 9 Authentication-Results fields (6 ours, 1 under ours, 0 listed, 2 unparseable), kept 2" "$DLOG" \
    || why "log: $(grep 'removed' "$DLOG" | tail -n 1)"
report $? "look-alikes of our id (spaces in quotes, trailing dots, no token, encoded word, odd names) and X-Authentication-Results claiming it: removed; other ids kept"

# --- trusted ids: only from their address ---------------------------------------------
pb_mail_mark
pb_swaks --tls --tls-cert "$GOOD" --tls-key "$GKEY" --ehlo mta1.ok.test --from sender@mta1.ok.test \
    --to "rcpt@$DOM" --add-header "Authentication-Results: filter.$DOM; dkim=pass header.d=$DOM" \
    || why "swaks failed"
pb_wait_mail 1 20 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" \
    --want "dane=pass smtp.mailfrom=mta1.ok.test" --trusted "filter.$DOM" --keep "filter.$DOM"
report $? "a trusted id's field from its address (127.0.0.1): kept"
pb_sender_start "$GOOD" "$GKEY" mta1.ok.test
pb_mail_mark
PB_TO_ADDR=$PB_SENDER_ADDR PB_TO_PORT=$PB_SENDER_PORT pb_swaks --ehlo mta1.ok.test --from sender@mta1.ok.test \
    --to "rcpt@$DOM" --add-header "Authentication-Results: filter.$DOM; dkim=pass header.d=$DOM" \
    || why "swaks to the sending Postfix failed"
pb_wait_mail 1 30 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" \
    --want "dane=pass smtp.mailfrom=mta1.ok.test"
[ "$(pb_header_count "$PB_MAIL" Authentication-Results)" = 1 ] || why "the trusted id's field survived from 127.0.0.2"
report $? "the same field relayed by the sending Postfix on 127.0.0.2: removed (remove_authserv_ids), ours says pass"

dn "authserv_id = $SERVID" "milter_socket = inet:127.0.0.1:1" "trusted_authserv_ids = $SERVID.@127.0.0.1"
[ $? = 1 ] && case $OUT in *"trusted_authserv_ids: \"$SERVID\" is danced's own authserv-id"*) ;; *) false ;; esac \
    || why "got: $OUT"
dn "authserv_id = $SERVID" "milter_socket = inet:127.0.0.1:1" "trusted_authserv_ids = internal.$SERVID@127.0.0.1"
[ $? = 1 ] && case $OUT in *"\"internal.$SERVID\" is danced's own authserv-id $SERVID or a name under it"*) ;; *) false ;; esac \
    || why "got: $OUT"
dn "milter_socket = inet:127.0.0.1:1" "trusted_authserv_ids = filter.$DOM"
[ $? = 1 ] && case $OUT in *"names no network: write ID@ADDRESS"*) ;; *) false ;; esac || why "got: $OUT"
report $? "danced -n refuses trusted ids equal to ours (trailing dot too), under ours, or bound to no address"

# --- mail submitted on the host ---------------------------------------------------------
pb_mail_mark
printf 'From: <local@%s>\nTo: <rcpt@%s>\nSubject: local\nAuthentication-Results: %s; dane=pass smtp.helo=mta1.ok.test\n\nbody\n' \
    "$DOM" "$DOM" "$SERVID" | /usr/sbin/sendmail -C "$PB_CONF" -f "local@$DOM" "rcpt@$DOM" \
    || why "sendmail(1) failed"
pb_wait_mail 1 30 && ar "$PB_MAIL" --want "dane=none smtp.mailfrom=$DOM"
pb_first_header "$PB_MAIL" | grep -q 'no TLS' || why "reason: $(pb_first_header "$PB_MAIL")"
report $? "sendmail(1) submission through non_smtpd_milters: the forged field is removed, ours says none (no TLS)"

# --- SpamAssassin reads only danced's field -----------------------------------------------
if command -v spamassassin >/dev/null 2>&1; then
    SACF=$PB_DIR/sa.cf
    sed "s/mx\\\\.example\\\\.org/mx\\\\.dest\\\\.test/g" "$TESTDIR/../contrib/spamassassin/dance.cf" > "$SACF"
    # the rule of the last release, as a control: the cases below fooled it
    printf 'header OLD_DANCE_PASS Authentication-Results =~ /^mx\\.dest\\.test;[^\\n]*\\bdane=pass\\b/m\n' \
        > "$PB_DIR/old.cf"
    # sa FILE - spamassassin -t on FILE; HITS lists the DANCE_* and OLD_* rules that hit.
    sa() {
        HITS=
        if ! spamassassin -L -t --cf="include $SACF" --cf="include $PB_DIR/old.cf" < "$1" \
            > "$PB_DIR/sa.out" 2> "$PB_DIR/sa.err"; then
            why "spamassassin failed: $(tail -n 1 "$PB_DIR/sa.err")"
        fi
        HITS=" $(grep -o '\(DANCE\|OLD_DANCE\)_[A-Z_]*' "$PB_DIR/sa.out" | sort -u | tr '\n' ' ')"
    }
    if spamassassin --lint -L --cf="include $SACF" 2>"$PB_DIR/lint.err"; then :; else
        why "spamassassin --lint: $(head -n 3 "$PB_DIR/lint.err" | tr '\n' ' ')"
    fi
    report $? "spamassassin --lint accepts contrib/spamassassin/dance.cf"
    headers_file hidden \
        "Authentication-Results: other.example; spf=pass =?us-ascii?Q?x=0A$SERVID;_dane=3Dpass?=" \
        "Authentication-Results: other.example; dkim=pass (=?utf-8?B?$(b64 "x
$SERVID; dane=pass")?=)" \
        "Authentication-Results: other.example; arc=pass =?iso-8859-1?Q?=E9=0A$SERVID;=20dane=3Dpass?=" \
        $'Authentication-Results: other.example; spf=pass\r\n\t'"$SERVID; dane=pass" \
        $'Authentication-Results: other.example;\r\n '"$SERVID; dane=pass smtp.helo=mta1.ok.test" \
        "Authentication-Results: third.example; dmarc=pass"
    pb_mail_mark
    pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
        --headers-file "$HFILE" || why "smtpclient.py failed"
    pb_wait_mail 1 20 && AR_CLEAN= ar "$PB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" \
        --want "dane=fail smtp.mailfrom=mta1.ok.test" --keep other.example --keep third.example
    [ "$(pb_header_count "$PB_MAIL" Authentication-Results)" = 7 ] || why "not every foreign field was kept"
    FAILMSG=$PB_MAIL
    sa "$FAILMSG"
    case $HITS in *" DANCE_FAIL "*) ;; *) why "rules hit:$HITS" ;; esac
    case $HITS in *" DANCE_PASS "*) why "DANCE_PASS fired on the rogue message:$HITS" ;; esac
    case $HITS in *" OLD_DANCE_PASS "*) ;; *) why "control: the old rule was not fooled:$HITS" ;; esac
    report $? "SpamAssassin: kept foreign fields hiding our id behind Q/B encoded words (us-ascii, utf-8, iso-8859-1) and folds: DANCE_FAIL only (the old rule fired DANCE_PASS)"
    printf '#   hits:%s\n' "$HITS"
    pb_mail_mark
    pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
        --headers-file "$HFILE" || why "smtpclient.py failed"
    pb_wait_mail 1 20 && sa "$PB_MAIL"
    case $HITS in *" DANCE_PASS "*) ;; *) why "rules hit:$HITS" ;; esac
    case $HITS in *" DANCE_FAIL "*) why "DANCE_FAIL fired on the pass message:$HITS" ;; esac
    report $? "SpamAssassin: the published key's message with the same fields: DANCE_PASS only"
    { printf 'Authentication-Results: later.example; dkim=pass\n'; cat "$FAILMSG"; } > "$PB_DIR/later.eml"
    sa "$PB_DIR/later.eml"
    case $HITS in *" DANCE_"*) why "a DANCE rule fired although danced's field is not the first:$HITS" ;; esac
    report $? "SpamAssassin: a field a later hop put above danced's: no DANCE rule fires"
else
    for d in "spamassassin --lint" "SpamAssassin: encoded words and folds" "SpamAssassin: pass" \
             "SpamAssassin: a later hop's field"; do
        tap_skip "$d" "spamassassin is not installed"
    done
fi

# --- many fields -----------------------------------------------------------------------
{
    for i in $(seq 1 9990); do printf 'X-Filler-%d: %d\n' "$i" "$i"; done
    for i in $(seq 1 10); do printf 'Authentication-Results: %s; dane=pass\n' "$SERVID"; done
} > "$PB_DIR/many.hdr"
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --headers-file "$PB_DIR/many.hdr" --timeout 60 || why "smtpclient.py failed"
pb_wait_mail 1 30 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
[ "$(pb_header_count "$PB_MAIL" X-Filler-9990)" = 1 ] || why "the filler fields did not arrive"
report $? "a message with 10,000 header fields, 10 of them forged: delivered, forged ones removed (${PB_T_SEND} ms)"
for i in $(seq 1 1500); do printf 'Authentication-Results: %s; dane=pass\n' "$SERVID"; done > "$PB_DIR/many.hdr"
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --headers-file "$PB_DIR/many.hdr" && why "accepted"
grep -q 'refused DATA 550 5.7.1 .*more than 1000 Authentication-Results fields claim to be from' "$PB_LAST_OUT" \
    || why "client: $(tail -n 1 "$PB_LAST_OUT")"
report $? "1,500 fields claiming our id: the message is refused with 550 5.7.1"

# --- a reload between RCPT and DATA -----------------------------------------------------------
headers_file reload "Authentication-Results: filter.$DOM; dkim=pass header.d=$DOM"
rm -f "$PB_DIR/reload.go"
"$PB_PYTHON" -u "$PB_LIBDIR/smtpclient.py" --server 127.0.0.1 --port "$PB_PORT" --ehlo mta1.ok.test \
    --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" --headers-file "$HFILE" \
    --hold-until "$PB_DIR/reload.go" --hold-at rcpt >"$PB_DIR/reload.out" 2>&1 &
PB_PIDS="$PB_PIDS $!"
for _ in $(seq 1 200); do grep -q '^hold' "$PB_DIR/reload.out" && break; sleep 0.05; done
write_conf ""                           # no trusted id any more
kill -HUP "$DANCED_PID"
log_has "configuration reloaded"
pb_mail_mark
touch "$PB_DIR/reload.go"
pb_wait_mail 1 20 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" \
    --want "dane=pass smtp.mailfrom=mta1.ok.test" --trusted "filter.$DOM" --keep "filter.$DOM"
report $? "trusted_authserv_ids dropped by a reload between RCPT and DATA: the message keeps the configuration of its MAIL FROM"
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --headers-file "$HFILE" || why "smtpclient.py failed"
pb_wait_mail 1 20 && ar "$PB_MAIL" --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test"
[ "$(pb_header_count "$PB_MAIL" Authentication-Results)" = 1 ] || why "the field is still kept"
report $? "...and the next message is judged by the new one: the field is removed"

# --- BDAT -------------------------------------------------------------------------------
headers_file bdat "Authentication-Results: $SERVID; dane=pass smtp.helo=mta1.ok.test"
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --headers-file "$HFILE" --bdat || why "smtpclient.py --bdat failed"
pb_wait_mail 1 20 && ar "$PB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test"
log_has "milter: queue id $(sed -n 's/^msg 1 queued \([0-9A-F]*\)$/\1/p' "$PB_LAST_OUT") .*\\(from the policy service\\)"
report $? "BDAT instead of DATA: the policy service is asked (protocol_state DATA), the forged field removed, dane=fail"

danced_end "$DANCED_PID" "$DLOG" TERM
report $? "danced exits 0 on SIGTERM, no sanitizer report"

# --- settings that open danced to more than the MTA ----------------------------------------
dn "user = root"
[ $? = 1 ] && case $OUT in *"user: danced must not run as root"*) ;; *) false ;; esac || why "got: $OUT"
dn "policy_socket = inet:192.0.2.1:10040"
[ $? = 1 ] && case $OUT in *"policy_socket: \"inet:192.0.2.1:10040\" is not a loopback address"*"remote_sockets = yes"*) ;; *) false ;; esac \
    || why "got: $OUT"
dn "policy_socket = none" "milter_socket = inet:[2001:db8::1]:10041"
[ $? = 1 ] && case $OUT in *"milter_socket: "*"is not a loopback address"*) ;; *) false ;; esac || why "got: $OUT"
dn "policy_socket = inet:192.0.2.1:10040" "remote_sockets = yes"
[ $? = 0 ] || why "remote_sockets = yes not accepted: $OUT"
dn "milter_socket = inet:127.0.0.1:1"
[ $? = 1 ] && case $OUT in *"peer_users: not set, but both faces are on"*) ;; *) false ;; esac || why "got: $OUT"
dn "milter_socket = inet:127.0.0.1:1" "peer_users = postfix, any"
[ $? = 1 ] && case $OUT in *"\"any\" cannot be listed with user names"*) ;; *) false ;; esac || why "got: $OUT"
dn "peer_users = no-such-user-here"
[ $? = 1 ] && case $OUT in *"peer_users: no such user \"no-such-user-here\""*) ;; *) false ;; esac || why "got: $OUT"
report $? "danced -n refuses user = root, non-loopback sockets without remote_sockets, both faces without peer_users, unknown users"
write_conf "peer_users = any
remote_sockets = yes"
sed -i '/^peer_users = postfix$/d' "$DCONF"
: > "$DLOG"
danced_run "$DCONF" "$DLOG"
log_has "warning: peer_users = any: every local user may write the message verdicts the milter trusts" \
    && log_has "warning: remote_sockets = yes"
report $? "peer_users = any and remote_sockets = yes: accepted, with a warning at start"
danced_end "$DANCED_PID" "$DLOG" TERM
report $? "that danced exits 0 on SIGTERM"

timing "hygiene total $(( $(pb_now) - T_ALL )) ms"
tap_end
