# tap.sh - TAP output and danced's start and stop for the shell tests (source it).
#
#   report RC DESC     one "ok N - DESC" / "not ok N - DESC" line: not ok when RC
#                      is not 0 or why was called since the last report, so a
#                      later check that passes cannot hide an earlier failure;
#                      on failure WHY follows as a diagnostic, then whatever
#                      the caller's optional tap_diag function prints
#   why MSG            remember why the check failed (the first reason wins) and fail
#                      (setting WHY directly only gives the text to show)
#   tap_skip DESC WHY  one "ok N - DESC # SKIP WHY" line
#   timing TEXT        a "# timing:" diagnostic line
#   tap_end            print the plan; the status is 0 when nothing failed
#   tap_need_beds [postfix]  skip the whole script (1..0) unless the DNSSEC
#                      bed's tools (and with "postfix" the Postfix bed's) are there
#   tap_need_binaries  "Bail out!" unless $DANCED and $DANCE are executables
#   tap_need_parsers   skip the whole script (1..0) unless python3-authres and
#                      Perl Mail::AuthenticationResults are installed
#   pb_tap_diag        for tap_diag in the Postfix tests: the last SMTP client
#                      transcript ($PB_LAST_OUT) and danced's log ($DLOG)
#   danced_run CONF LOG    start "$DANCED -f -c CONF" (log on stderr into LOG),
#                      wait until it says it is ready (a new "ready on" line:
#                      LOG may hold an earlier danced's); sets DANCED_PID, adds it
#                      to TB_PIDS (testbed.sh's trap stops it); fails with WHY
#   danced_end PID LOG SIGNAL   send SIGNAL (default TERM), wait up to 15 s;
#                      fails unless it exited 0 with no sanitizer report in LOG
#   sanitizer_clean LOG    fails when LOG holds an ASan/LSan/UBSan report
#   log_has REGEX [SECONDS]    danced's log ($DLOG) has a line matching the ERE
#                      REGEX, waiting up to SECONDS (default 3); fails with WHY
#
# Needs testbed.sh (tb_running, TB_PIDS) sourced first, and DANCED set.

NTEST=0
NFAIL=0
WHY=
TAP_FAILED=

report() {
    NTEST=$((NTEST + 1))
    if [ "$1" = 0 ] && [ -z "$TAP_FAILED" ]; then
        echo "ok $NTEST - $2"
    else
        NFAIL=$((NFAIL + 1))
        echo "not ok $NTEST - $2"
        printf '%s\n' "$WHY" | sed 's/^/#   why: /'
        if declare -F tap_diag >/dev/null; then
            tap_diag
        fi
    fi
    WHY=
    TAP_FAILED=
    return 0
}

why() {
    WHY=${WHY:-$*}
    TAP_FAILED=1
    return 1
}

tap_skip() {
    NTEST=$((NTEST + 1))
    echo "ok $NTEST - $1 # SKIP $2"
}

timing() {
    printf '# timing: %s\n' "$*"
}

tap_end() {
    echo "1..$NTEST"
    [ "$NFAIL" = 0 ]
}

tap_need_beds() {
    if ! tb_require; then
        echo "1..0 # SKIP $TB_MISSING is not installed (Debian: nsd ldnsutils openssl python3)"
        exit 0
    fi
    if [ "${1:-}" = postfix ] && ! pb_require; then
        echo "1..0 # SKIP needs $PB_MISSING (Debian: postfix swaks libnet-ssleay-perl; run as root)"
        exit 0
    fi
}

tap_need_binaries() {
    local b
    for b in "$DANCED" "$DANCE"; do
        if [ ! -x "$b" ]; then
            echo "Bail out! no binary at $b (set DANCED and DANCE)"
            exit 99
        fi
    done
}

tap_need_parsers() {
    if ! "${TB_PYTHON:-python3}" -c 'import authres' 2>/dev/null \
        || ! perl -MMail::AuthenticationResults::Parser -e 1 2>/dev/null; then
        echo "1..0 # SKIP python3-authres or libmail-authenticationresults-perl is not installed"
        exit 0
    fi
}

pb_tap_diag() {
    if [ -n "${PB_LAST_OUT:-}" ] && [ -f "$PB_LAST_OUT" ]; then
        grep -E '^(<~|~>|<-|->|\*\*\*|msg|tls|error)' "$PB_LAST_OUT" | tail -n 12 \
            | tr -c '[:print:]\n' '?' | sed 's/^/#   client: /'
    fi
    [ -f "${DLOG:-}" ] && tail -n 4 "$DLOG" | cut -c1-400 | sed 's/^/#   danced: /'
    return 0
}

sanitizer_clean() {
    if grep -Eq 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$1" 2>/dev/null; then
        why "sanitizer report in $1: $(grep -Em1 'ERROR: |runtime error:' "$1")"
        return 1
    fi
    return 0
}

danced_run() {
    local conf=$1 log=$2 i before n
    # the log may hold an earlier danced's "ready on": wait for a new one
    before=$(grep -c 'ready on' "$log" 2>/dev/null)
    "$DANCED" -f -c "$conf" </dev/null >>"$log" 2>&1 &
    DANCED_PID=$!
    TB_PIDS="$TB_PIDS $DANCED_PID"
    for i in $(seq 1 300); do
        n=$(grep -c 'ready on' "$log" 2>/dev/null)
        [ "${n:-0}" -gt "${before:-0}" ] && return 0
        tb_running "$DANCED_PID" || break
        sleep 0.02
    done
    why "danced did not start: $(tail -n 3 "$log" | tr '\n' ' ')"
}

danced_end() {
    local pid=$1 log=$2 sig=${3:-TERM} rc=0 i
    kill "-$sig" "$pid" 2>/dev/null
    for i in $(seq 1 150); do
        tb_running "$pid" || break
        sleep 0.1
    done
    if tb_running "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        why "danced did not exit within 15 s of SIG$sig"
        rc=1
    fi
    wait "$pid" 2>/dev/null
    i=$?
    # reaped: keep testbed.sh's trap away from a reused pid
    # shellcheck disable=SC2086
    TB_PIDS=$(printf '%s\n' $TB_PIDS | { grep -vx "$pid" || :; } | tr '\n' ' ')
    [ "$rc" = 0 ] && [ "$i" != 0 ] && { why "danced exit status $i after SIG$sig"; rc=1; }
    sanitizer_clean "$log" || rc=1
    return "$rc"
}

log_has() {
    local i
    for i in $(seq 1 $((${2:-3} * 20))); do
        grep -Eq -- "$1" "$DLOG" && return 0
        sleep 0.05
    done
    why "no danced log line matching /$1/"
}
