#!/bin/bash
# package.sh - the Debian package, built, installed, used and purged on this machine.
#
# Run by `make check-package` (as root; CI calls it after `make check`).
# From the release tarball (`make dist`, so the tarball is proven to hold
# what the package needs) it builds dance_*.deb with
# `dpkg-buildpackage -us -uc -b`, then:
#   - lintian reports no error (E:) for the package;
#   - `dpkg -i` installs it: danced, dance, the three manual pages, the
#     conffile /etc/dance/dance.conf, the systemd unit (with the package's
#     paths and user), the system user _dance;
#   - the installed danced -n refuses the shipped dance.conf with the
#     first-run message (no face chosen yet) and accepts a test file;
#   - the installed danced, in the foreground on the DNSSEC bed of
#     t/dns/testbed.sh, answers a policy request with dane=pass, and stops;
#   - the installed dance(1) man page is readable by man;
#   - `dpkg --purge` leaves none of the package's files, no /etc/dance and no
#     user _dance behind.
#
# Output is TAP with the plan at the end.  Skipped (1..0) when not root, or
# without dpkg-buildpackage, debhelper or lintian (Debian: dpkg-dev
# debhelper lintian), or when a package named dance is installed already
# (it would be replaced: remove it first).
#
# Environment: DANCE (set by make) is used only to find the build
# directory; TESTDIR the t/ directory.  By hand, as root, in a build
# directory: make check-package

TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")" && pwd)}
BUILDDIR=${BUILDDIR:-$PWD}
# shellcheck disable=SC2034  # read by testbed.sh: a broken bed prints "Bail out!"
TB_TAP=1

# shellcheck source=t/dns/testbed.sh
. "$TESTDIR/dns/testbed.sh"
# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"

tap_need_beds
if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP not root (dpkg -i)"
    exit 0
fi
for t in dpkg-buildpackage dh lintian; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "1..0 # SKIP $t is not installed (Debian: dpkg-dev debhelper lintian)"
        exit 0
    fi
done
if dpkg-query -W -f='${Status}' dance 2>/dev/null | grep -q 'installed'; then
    echo "1..0 # SKIP a package named dance is installed already: dpkg --purge dance first"
    exit 0
fi

# tap_diag - on failure: the tail of the last command's output.
tap_diag() {
    [ -s "${OUT:-}" ] && tail -n 8 "$OUT" | cut -c1-300 | sed 's/^/#   /'
    return 0
}

# run NAME CMD... - run CMD with its output in $D/NAME.out (OUT); its status.
run() {
    OUT=$D/$1.out
    shift
    "$@" >"$OUT" 2>&1
}

INSTALLED=
# pkg_cleanup - purge the package if this test installed it (also on failure).
pkg_cleanup() {
    [ -n "$INSTALLED" ] && dpkg --purge dance >/dev/null 2>&1
    INSTALLED=
}

tb_init
trap 'pkg_cleanup; tb_cleanup' EXIT
D=$TB_DIR
chmod 0711 "$D"

# --- build ---------------------------------------------------------------------------
T0=$(date +%s)
run dist make -C "$BUILDDIR" dist
TARBALL=$(ls "$BUILDDIR"/dance-*.tar.gz 2>/dev/null | head -n 1)
[ -n "$TARBALL" ] || why "make dist made no tarball"
report $? "make dist makes the release tarball"
[ -n "$TARBALL" ] || { echo "Bail out! no tarball"; exit 1; }

mkdir -p "$D/src" && tar -xzf "$TARBALL" -C "$D/src"
SRC=$(find "$D/src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -d "$SRC/debian" ] || why "the tarball has no debian/"
(cd "$SRC" && run build dpkg-buildpackage -us -uc -b) || why "dpkg-buildpackage failed"
DEB=$(ls "$D/src"/dance_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || why "no dance_*.deb"
report $? "dpkg-buildpackage -us -uc -b builds $(basename "${DEB:-dance_?.deb}") from the tarball ($(( $(date +%s) - T0 )) s)"
[ -n "$DEB" ] || { echo "Bail out! no package"; exit 1; }

run lintian lintian --no-tag-display-limit "$DEB"
n=$(grep -c '^E:' "$OUT")
[ "$n" = 0 ] || why "$n lintian errors: $(grep -m3 '^E:' "$OUT" | tr '\n' ' ')"
report $? "lintian: no errors ($(grep -c '^W:' "$OUT") warnings)"
grep -E '^[EW]:' "$OUT" | sort -u | head -n 10 | sed 's/^/#   lintian: /'

# --- install -------------------------------------------------------------------------
run install dpkg -i "$DEB" && INSTALLED=1
[ -n "$INSTALLED" ] || why "dpkg -i failed"
dpkg-query -L dance >"$D/files"
for f in /usr/sbin/danced /usr/bin/dance /etc/dance/dance.conf /usr/share/man/man8/danced.8.gz \
         /usr/share/man/man1/dance.1.gz /usr/share/man/man5/dance.conf.5.gz \
         /lib/systemd/system/danced.service; do
    [ -e "$f" ] || why "$f is not installed"
done
dpkg-query -W -f='${Conffiles}\n' dance | grep -q '/etc/dance/dance.conf' || why "dance.conf is no conffile"
getent passwd _dance >/dev/null || why "no user _dance"
grep -q '^ExecStart=/usr/sbin/danced -f -c /etc/dance/dance.conf$' /lib/systemd/system/danced.service \
    && grep -q '^User=_dance$' /lib/systemd/system/danced.service && grep -q '^Type=notify$' /lib/systemd/system/danced.service \
    || why "the unit does not run /usr/sbin/danced as _dance with Type=notify"
report $? "dpkg -i installs danced, dance, the man pages, the conffile, the unit and the user _dance"

run guard /usr/sbin/danced -n
rc=$?
[ "$rc" = 1 ] && grep -q '^/etc/dance/dance.conf:[0-9]*: policy_socket: none, and no milter_socket either: nothing to serve' "$OUT" \
    || why "danced -n on the shipped file: status $rc"
report $? "the shipped dance.conf: danced refuses to start until a face is chosen (first-run guard)"

run man man -P cat dance.conf
grep -q 'stats_socket\|policy_socket' "$OUT" || why "man dance.conf shows no keys"
report $? "man dance.conf reads the installed page"

# --- run the installed danced -----------------------------------------------------------
DANCE=/usr/bin/dance       # the installed one writes the test zones' TLSA records
tb_standard_bed
PORT=$(tb_free_port)
cat >"$D/danced.conf" <<EOF
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = inet:127.0.0.1:$PORT
milter_socket = none
authserv_id = mx.dest.test
user = _dance
EOF
run check /usr/sbin/danced -n -c "$D/danced.conf" || why "danced -n rejects the test file"
DANCED=/usr/sbin/danced
DLOG=$D/danced.log
danced_run "$D/danced.conf" "$DLOG"
SPKI=$(tb_fingerprint 1 sha256 "$TB_CERTS/good.pem")
run ask "$TB_PYTHON" "$TESTDIR/daemon/policyclient.py" "inet:127.0.0.1:$PORT" ask \
    ccert_pubkey_fingerprint="$SPKI" helo_name=mta1.ok.test sender=s@mta1.ok.test \
    protocol_state=DATA queue_id=4XyZ1 recipient= --timeout 10
grep -q 'PREPEND Authentication-Results: mx.dest.test;.*dane=pass' "$OUT" || why "reply: $(head -c 300 "$OUT")"
danced_end "$DANCED_PID" "$DLOG" TERM || why "the installed danced did not stop cleanly"
report $? "the installed danced (as _dance) answers a policy request with dane=pass on the test DNS, and stops"

# --- purge ------------------------------------------------------------------------------
run purge dpkg --purge dance && INSTALLED=
[ -z "$INSTALLED" ] || why "dpkg --purge failed"
left=
while read -r f; do
    [ -d "$f" ] && continue             # directories (and /lib, a link to one) are shared
    [ -e "$f" ] || [ -L "$f" ] || continue
    left="$left $f"
done <"$D/files"
[ -z "$left" ] || why "left behind:$left"
[ -e /etc/dance ] && why "/etc/dance is left"
getent passwd _dance >/dev/null && why "the user _dance is left"
getent group _dance >/dev/null && why "the group _dance is left"
report 0 "dpkg --purge dance leaves none of its $(wc -l <"$D/files") paths' files, no /etc/dance, no user _dance"

tap_end
