#!/bin/bash
# minimize.sh - merge what fuzzing found into the kept corpora, minimized.
#
# Usage: t/fuzz/minimize.sh BUILDDIR FOUNDDIR [TARGET...]
#   BUILDDIR  a tree configured with --enable-fuzzing (make fuzz makes _fuzz/)
#   FOUNDDIR  inputs found by a run, FOUNDDIR/TARGET/ (KEEP=FOUNDDIR t/fuzz/run.sh ...)
#   TARGET    as for run.sh (default: every target with a FOUNDDIR/TARGET/)
#
# In t/fuzz/corpus/TARGET/ the inputs written by hand (seeds, regression
# cases: any name that is not a SHA-1) always stay.  Starting from them,
# libFuzzer's -merge=1 picks from the found inputs kept before (named by
# their SHA-1) and FOUNDDIR/TARGET/ a small set that adds every edge they
# cover (-use_counters=0: edges, not hit counts, so the corpora stay small
# - a tenth of the files for the same coverage; a run grows the counters
# back within seconds); that set replaces the SHA-1-named files.  Nothing
# is replaced when a merge fails.  One line per
# target: files and octets before and after.  Review with git status and
# commit what changed.
set -u
if [ $# -lt 2 ]; then
    echo "usage: t/fuzz/minimize.sh BUILDDIR FOUNDDIR [TARGET...]" >&2
    exit 64
fi
BUILD=$1 FOUND=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
    TARGETS=$*
else
    TARGETS=$(cd "$FOUND" && for d in */; do printf '%s ' "${d%/}"; done)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dance-fuzz-min.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
status=0

size_of() { find "$1" -maxdepth 1 -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
count_of() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

printf '%-9s %13s %13s\n' target "files before" "files after"
for t in $TARGETS; do
    bin=$BUILD/t/fuzz/fuzz_$t kept=$HERE/corpus/$t
    if [ ! -x "$bin" ]; then
        echo "minimize.sh: no $bin (build it with: make fuzz)" >&2
        status=1
        continue
    fi
    mkdir -p "$WORK/$t" "$WORK/$t.found" "$kept"
    before="$(count_of "$kept") ($(size_of "$kept") B)"
    find "$kept" -regextype posix-extended -maxdepth 1 -type f ! -regex '.*/[0-9a-f]{40}' -exec cp {} "$WORK/$t/" \;
    find "$kept" -regextype posix-extended -maxdepth 1 -type f -regex '.*/[0-9a-f]{40}' -exec cp {} "$WORK/$t.found/" \;
    if ! ASAN_OPTIONS=detect_leaks=1 "$bin" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 \
        "$WORK/$t" "$WORK/$t.found" "$FOUND/$t" >"$WORK/$t.log" 2>&1; then
        echo "minimize.sh: $t: the merge failed; $kept left as it was:" >&2
        tail -n 5 "$WORK/$t.log" >&2
        status=1
        continue
    fi
    find "$kept" -regextype posix-extended -maxdepth 1 -type f -regex '.*/[0-9a-f]{40}' -delete
    find "$WORK/$t" -regextype posix-extended -maxdepth 1 -type f -regex '.*/[0-9a-f]{40}' -exec cp {} "$kept/" \;
    printf '%-9s %13s %13s\n' "$t" "$before" "$(count_of "$kept") ($(size_of "$kept") B)"
done
exit "$status"
