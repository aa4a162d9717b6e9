#!/bin/bash
# run.sh - run each libFuzzer target for a while and report what it did.
#
# Usage: t/fuzz/run.sh BUILDDIR SECONDS [TARGET...]
#   BUILDDIR  a tree configured with --enable-fuzzing (make fuzz makes _fuzz/)
#   SECONDS   how long each target runs
#   TARGET    policy, authres, tlsa, evidence, identity, config, milter,
#             message, stats (default: all)
#
# Each target starts from its seed corpus, t/fuzz/corpus/TARGET/ (read,
# never written), and keeps what it finds in a scratch corpus that is
# removed afterwards (with KEEP=DIR it is kept as DIR/TARGET/, for
# t/fuzz/minimize.sh).  One line per target: seconds run, executions,
# executions per second, coverage (cov: edges, ft: features, as libFuzzer
# counts them), corpus files (seed and new), crashes.  A crash, a leak, a sanitizer report or a
# time-out (10 s for one input) stops that target: the input is kept as
# $TMPDIR/dance-fuzz-TARGET.crash, printed in base64, and the status is 1.
# Each target gets a TMPDIR of its own inside the scratch directory.
# Exit status 0 when every target ran its time clean.

set -u
if [ $# -lt 2 ]; then
    echo "usage: t/fuzz/run.sh BUILDDIR SECONDS [TARGET...]" >&2
    exit 64
fi
BUILD=$1 SECONDS_EACH=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
TARGETS=${*:-policy authres tlsa evidence identity config milter message stats}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dance-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
KEEP=${KEEP:-}
status=0

printf '%-9s %7s %10s %9s %6s %6s %7s %7s  %s\n' target seconds execs "exec/s" cov ft corpus crashes result
for t in $TARGETS; do
    bin=$BUILD/t/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "run.sh: no $bin (build it with: make fuzz)" >&2
        status=1
        continue
    fi
    mkdir -p "$WORK/$t" "$WORK/$t.tmp"
    start=$(date +%s)
    TMPDIR="$WORK/$t.tmp" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$WORK/$t/crash-" "$WORK/$t" "$HERE/corpus/$t" >"$WORK/$t.log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log" | head -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$WORK/$t.log" | head -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$WORK/$t.log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -Eo 'ft: [0-9]+' "$WORK/$t.log" | tail -n 1 | cut -d' ' -f2)
    crashes=$(find "$WORK/$t" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \) | wc -l)
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
    if [ -n "$KEEP" ]; then
        mkdir -p "$KEEP/$t" && find "$WORK/$t" -maxdepth 1 -type f ! -name 'crash-*' ! -name 'leak-*' \
            ! -name 'timeout-*' -exec cp {} "$KEEP/$t/" \;
        cp "$WORK/$t.log" "$KEEP/$t.log"
    fi
    printf '%-9s %7s %10s %9s %6s %6s %7s %7s  %s\n' "$t" "$took" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "$corpus" "$crashes" "$result"
done
exit "$status"
