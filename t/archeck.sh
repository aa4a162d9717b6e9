# archeck.sh - checking delivered messages in the MTA tests (source it; bash, after t/tap.sh).
#
#   ar FILE [archeck.py options...]   t/archeck.py on a delivered message: danced's
#                      field (authserv-id $SERVID) is the very first, above the
#                      MTA's Received:, exactly one of ours, and (--clean) no other
#                      field claims our id and every field parses; fails with WHY
#                      naming the file.  AR_OPTS (an array) is added to every call
#                      (e.g. --trusted ID); AR_CLEAN= (set, empty) leaves --clean out,
#                      for messages whose kept foreign fields are garbage after
#                      their authserv-id.
#   qids TRANSCRIPT    the queue ids a t/postfix/smtpclient.py transcript reports, in order
#   copy_of QID        the delivered file of queue id QID in $PB_MAILDIR (the first,
#                      when several recipients)
#   forged_fields HELO KEEP   FORGED: the nine forged fields every MTA test sends
#                      (three copies, upper case with a trailing dot, a name under
#                      ours, folded, comments, quoted, unparseable - all claiming
#                      $SERVID, the copies for EHLO name HELO), then other.example's
#                      field and one of authserv-id KEEP, which are to stay
#   lookalike_fields   LOOKALIKE: look-alikes of $SERVID (white space inside
#                      quotes, trailing dots, a quoted id that is no token, an
#                      encoded word, a lower-case name, white space before the
#                      colon) and X-Authentication-Results claiming it or a name
#                      under it - nine fields to remove - then other.example's
#                      X-Authentication-Results and Authentication-Results, to stay
#
# Needs PB_PYTHON (postfixbed.sh), TESTDIR and SERVID.

AR_OPTS=()

ar() {
    local f=$1 out
    shift
    if [ -z "$f" ] || [ ! -f "$f" ]; then
        why "no delivered message to check"
        return 1
    fi
    # shellcheck disable=SC2086  # AR_CLEAN is one word or none
    if ! out=$("$PB_PYTHON" "$TESTDIR/archeck.py" --servid "$SERVID" \
               --top-names authentication-results,received --ours 1 ${AR_CLEAN---clean} \
               "${AR_OPTS[@]}" "$@" "$f" 2>&1); then
        why "$(basename "$f"): $out"
        return 1
    fi
    return 0
}

qids() {
    sed -n 's/^msg [0-9]* queued \([0-9A-Za-z]*\)$/\1/p' "$1"
}

copy_of() {
    find "$PB_MAILDIR" -maxdepth 1 -name "*.$1.*.eml" | sort | head -n 1
}

forged_fields() {
    FORGED=(
        "Authentication-Results: $SERVID; dane=pass smtp.helo=$1"
        "Authentication-Results: $SERVID; dane=pass smtp.helo=$1"
        "Authentication-Results: $SERVID; dane=pass smtp.helo=$1"
        "AUTHENTICATION-RESULTS: ${SERVID^^}.; dane=pass"
        "Authentication-Results: relay.$SERVID; dane=pass smtp.helo=$1"
        $'Authentication-Results:\r\n\t'"$SERVID"$'\r\n\t; dane=pass\r\n\tsmtp.helo='"$1"
        "Authentication-Results: (trust me) $SERVID (really); dane=pass"
        "Authentication-Results: \"$SERVID\"; dane=pass"
        "Authentication-Results: (unterminated $SERVID; dane=pass"
        "Authentication-Results: other.example; spf=pass smtp.mailfrom=x.test"
        "Authentication-Results: $2; dkim=pass header.d=dest.test"
    )
}

lookalike_fields() {
    LOOKALIKE=(
        "Authentication-Results: \"$SERVID \"; dane=pass smtp.helo=mta1.ok.test"
        "Authentication-Results: \" $SERVID\"; dane=pass smtp.helo=mta1.ok.test"
        "Authentication-Results: $SERVID..; dane=pass smtp.helo=mta1.ok.test"
        "Authentication-Results: \"$SERVID; dane=pass\"; dane=pass"
        "Authentication-Results: =?utf-8?Q?$SERVID?=; dane=pass"
        "authentication-results: $SERVID; dane=pass"
        "Authentication-Results : $SERVID; dane=pass"
        "X-Authentication-Results: $SERVID; dane=pass"
        "X-Authentication-Results: sub.$SERVID; dkim=pass"
        "X-Authentication-Results: other.example; spf=pass"
        "Authentication-Results: other.example; spf=pass smtp.mailfrom=x.test"
    )
}
