#!/bin/sh
# layering.sh - the source tree's house rules (layering.py), in make check.
#
# Usage: TESTDIR=t DANCE=build/cli/dance t/layering.sh
#   (the build directory is found from $DANCE; without it the archives'
#   symbols are not checked)
TESTDIR=${TESTDIR:-$(dirname "$0")}
BUILDDIR=
if [ -n "${DANCE:-}" ] && [ -d "$(dirname "$DANCE")/.." ]; then
    BUILDDIR=$(cd "$(dirname "$DANCE")/.." && pwd)
fi
exec python3 "$TESTDIR/layering.py" "$TESTDIR/.." $BUILDDIR
