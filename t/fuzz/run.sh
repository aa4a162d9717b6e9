#!/bin/bash
# run.sh - run each libFuzzer target for a while and report what it did.
#
# Usage: t/fuzz/run.sh BUILDDIR SECONDS [TARGET...]
#   BUILDDIR  a tree configured with --enable-fuzzing (make fuzz makes _fuzz/)
#   SECONDS   how long each target runs
#   TARGET    policy, authres, tlsa, evidence, identity, config, milter (default: all)
#
# Each target starts from its seed corpus, t/fuzz/corpus/TARGET/ (read,
# never written), and keeps what it finds in a scratch corpus that is
# removed afterwards.  One line per target: executions, executions per
# second, coverage, corpus size.  A crash, a leak, a sanitizer report or a
# time-out (10 s for one input) stops that target: the input is kept as
# $TMPDIR/dance-fuzz-TARGET.crash, printed in base64, and the status is 1.
# Exit status 0 when every target ran its time clean.

set -u
if [ $# -lt 2 ]; then
    echo "usage: t/fuzz/run.sh BUILDDIR SECONDS [TARGET...]" >&2
    exit 64
fi
BUILD=$1 SECONDS_EACH=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
TARGETS=${*:-policy authres tlsa evidence identity config milter}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dance-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
status=0

printf '%-9s %10s %9s %6s %7s  %s\n' target execs "exec/s" cov corpus result
for t in $TARGETS; do
    bin=$BUILD/t/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "run.sh: no $bin (build it with: make fuzz)" >&2
        status=1
        continue
    fi
    mkdir -p "$WORK/$t"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$WORK/$t/crash-" "$WORK/$t" "$HERE/corpus/$t" >"$WORK/$t.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log" | head -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$WORK/$t.log" | head -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$WORK/$t.log" | tail -n 1 | cut -d' ' -f2)
    corpus=$(find "$WORK/$t" "$HERE/corpus/$t" -maxdepth 1 -type f ! -name 'crash-*' | wc -l)
    if [ "$rc" = 0 ]; then
        result=clean
    else
        result="FAILED (exit $rc)"
        status=1
        crash=$(find "$WORK/$t" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' \
            -o -maxdepth 1 -name 'timeout-*' | head -n 1)
        grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$WORK/$t.log" | head -n 8 | sed 's/^/#   /' >&2
        if [ -n "$crash" ]; then
            cp "$crash" "${TMPDIR:-/tmp}/dance-fuzz-$t.crash"
            echo "#   input kept as ${TMPDIR:-/tmp}/dance-fuzz-$t.crash, base64:" >&2
            base64 -w 76 "$crash" | head -n 20 | sed 's/^/#   /' >&2
        fi
    fi
    printf '%-9s %10s %9s %6s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$corpus" "$result"
done
exit "$status"
