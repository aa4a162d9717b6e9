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
