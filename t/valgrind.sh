#!/bin/bash
# valgrind.sh - the daemon tests again, with every danced under valgrind memcheck.
#
# Runs t/daemon/policy.sh, t/daemon/faults.sh, t/milter/sendmail.sh,
# the t/postfix/ tests, t/sendmail/sendmail.sh and t/exim/exim.sh (or the scripts named as
# arguments, relative to t/) with DANCED pointing at a wrapper that starts
# the real danced under `valgrind --tool=memcheck --leak-check=full`, one
# log file per process.  Two TAP lines per script:
#   - the script's own cases all pass (or it skipped itself: no Postfix,
#     not root, ...);
#   - memcheck reported nothing for any of its danced processes: no invalid
#     read or write, no use of uninitialised values, no definitely lost
#     block, and valgrind saw at least one danced (so the wrapper was used).
# DANCE_VALGRIND=1 tells the scripts what does not hold under
# valgrind: VmRSS after freeing (memcheck keeps freed blocks in
# quarantine, as ASan does).
# The first script's output and the logs of failing processes are shown as
# diagnostics.  Skips itself when valgrind is missing or danced is an ASan
# build (the two do not mix).  Takes about two and a half minutes.
#
# Environment: as for the scripts it runs (DANCED, DANCE, TESTDIR; set by
# `make check`).  By hand, from a build directory:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/valgrind.sh

TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")" && pwd)}
DANCED=${DANCED:-$PWD/danced/danced}
DANCE=${DANCE:-$PWD/cli/dance}
# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"

if ! command -v valgrind >/dev/null 2>&1; then
    echo "1..0 # SKIP valgrind is not installed (Debian: valgrind)"
    exit 0
fi
if ldd "$DANCED" 2>/dev/null | grep -q libasan; then
    echo "1..0 # SKIP $DANCED is an ASan build; valgrind needs a plain one"
    exit 0
fi
tap_need_binaries

VG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dance-vg.XXXXXX") || { echo "Bail out! mktemp failed"; exit 99; }
trap 'rm -rf "$VG_DIR"' EXIT
mkdir "$VG_DIR/logs"
cat > "$VG_DIR/danced" <<EOF
#!/bin/sh
exec valgrind -q --tool=memcheck --error-exitcode=97 --leak-check=full \\
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \\
    --log-file="$VG_DIR/logs/vg.%p" "$DANCED" "\$@"
EOF
chmod +x "$VG_DIR/danced"

if [ $# -gt 0 ]; then
    SCRIPTS=("$@")
else
    SCRIPTS=(daemon/policy.sh daemon/faults.sh daemon/metrics.sh milter/sendmail.sh postfix/e2e.sh postfix/milter.sh
             postfix/integrity.sh postfix/hygiene.sh sendmail/sendmail.sh exim/exim.sh)
fi

for t in "${SCRIPTS[@]}"; do
    rm -f "$VG_DIR"/logs/*
    out=$VG_DIR/out
    t0=$(date +%s)
    DANCED=$VG_DIR/danced DANCE=$DANCE TESTDIR=$TESTDIR DANCE_VALGRIND=1 \
        timeout 1200 bash "$TESTDIR/$t" > "$out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    if grep -q '^1\.\.0' "$out"; then
        tap_skip "$t under valgrind" "$(sed -n 's/^1\.\.0 *# *SKIP *//p' "$out" | head -n 1)"
        tap_skip "$t: memcheck on its danced processes" "the script skipped itself"
        continue
    fi
    pass=$(grep '^ok ' "$out" | grep -vc '# SKIP')
    skip=$(grep -c '^ok .*# SKIP' "$out")
    fail=$(grep -c '^not ok ' "$out")
    [ "$rc" = 0 ] || why "exit status $rc"
    [ "$fail" = 0 ] || why "$fail failed: $(grep '^not ok ' "$out" | head -n 3 | tr '\n' ' ')"
    [ "$pass" -gt 0 ] || why "no case ran: $(tail -n 3 "$out" | tr '\n' ' ')"
    report $? "$t under valgrind: $pass cases pass, $skip skipped, $fail fail (${secs} s)"
    [ "$fail" = 0 ] || grep -A4 '^not ok ' "$out" | head -n 30 | sed 's/^/#   /'

    nproc=$(find "$VG_DIR/logs" -type f | wc -l)
    bad=$(find "$VG_DIR/logs" -type f -size +0 | wc -l)
    [ "$nproc" -gt 0 ] || why "no valgrind log: was danced started through the wrapper?"
    [ "$bad" = 0 ] || why "memcheck reports for $bad of $nproc processes"
    report $? "$t: memcheck clean for its $nproc danced processes (no invalid access, no definite leak)"
    find "$VG_DIR/logs" -type f -size +0 | head -n 3 | while read -r f; do
        head -n 40 "$f" | sed 's/^/#   /'
    done
done
tap_end
