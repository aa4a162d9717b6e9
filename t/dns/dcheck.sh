# dcheck.sh - running `dance check` against the DNSSEC test bed, for the TAP tests (source it).
#
#   run ARGS...        run "$DANCE" ARGS; sets RC (exit status), MS (elapsed ms),
#                      CMD; stdout in $TB_DIR/out, stderr in $TB_DIR/err
#   dcheck ARGS...     run check with the bed's resolver configuration and trust anchor
#   verdict_is RESULT [REGEX]  the readable report's "verdict:" line says RESULT,
#                      its reason matching REGEX (ERE, any case)
#   rc_is N            the last run exited with N
#   faster_than MS     the last run took less than MS milliseconds
#   tap_diag           for report (t/tap.sh): the last run's command, status and output
#
# The predicates set WHY (t/tap.sh) and return 1 when they fail.  Needs
# testbed.sh (TB_DIR, TB_CONF, TB_TA after tb_standard_bed) and DANCE.
# Used by t/dns/check.sh and t/dns/profile.sh.
# shellcheck shell=bash disable=SC2034  # WHY is read by report (t/tap.sh)

# tap_diag - on failure (report, t/tap.sh): the last run's command, status and output.
tap_diag() {
    printf '%s\n' "$CMD" | tr -c '[:print:]\n' '?' | sed 's/^/#   command: /'
    printf '#   exit status %s after %s ms\n' "$RC" "$MS"
    [ -s "$TB_DIR/out" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/out" | sed 's/^/#   out: /'
    [ -s "$TB_DIR/err" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/err" | sed 's/^/#   err: /'
    return 0
}

# run ARGS... - run dance with ARGS; sets RC, MS (elapsed ms), CMD; output in $TB_DIR/out and err.
run() {
    local t0 t1
    CMD="dance $*"
    t0=$(date +%s%N)
    "$DANCE" "$@" >"$TB_DIR/out" 2>"$TB_DIR/err" </dev/null
    RC=$?
    t1=$(date +%s%N)
    MS=$(( (t1 - t0) / 1000000 ))
}

# dcheck ARGS... - `dance check` against the test bed with ARGS.
dcheck() {
    run check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" "$@"
}

# verdict_is RESULT [REGEX] - the report's verdict line says RESULT, with a reason matching REGEX (ERE, any case).
verdict_is() {
    local line
    line=$(grep -E '^verdict:' "$TB_DIR/out")
    if ! printf '%s\n' "$line" | grep -Eq "^verdict:[[:space:]]+$1( |\$)"; then
        WHY="verdict line is not '$1': ${line:-missing}"
        return 1
    fi
    if [ -n "$2" ] && ! printf '%s\n' "$line" | grep -Eiq -- "$2"; then
        WHY="reason does not match /$2/: $line"
        return 1
    fi
    return 0
}

# rc_is N - the last run exited with N.
rc_is() {
    [ "$RC" = "$1" ] && return 0
    WHY="exit status $RC, want $1"
    return 1
}

# faster_than MS - the last run took less than MS milliseconds.
faster_than() {
    [ "$MS" -lt "$1" ] && return 0
    WHY="took $MS ms, want < $1 ms"
    return 1
}
