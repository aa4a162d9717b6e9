#!/bin/sh
# quickstart.sh - install build dependencies (Debian 12, as root), build dance
# in ./build, and run the demo: DNSSEC-signed zones on loopback with the TLSA
# record of a sending MTA's client certificate (published with `dance tlsa`),
# danced beside a private receiving Postfix, and a second Postfix sending
# through it with that certificate - then the same MTA with a rogue key.
#
# Usage: sh quickstart.sh            (then: make -C build check)
set -eu

cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake pkg-config libssl-dev libunbound-dev
libevent-dev nettle-dev libmilter-dev libcmocka-dev dns-root-data nsd ldnsutils
openssl python3 procps postfix swaks libnet-ssleay-perl python3-authres
libmail-authenticationresults-perl miltertest spamassassin m4 sendmail-cf clang
libclang-rt-14-dev valgrind liblockfile1 libwrap0 libidn12 libsystemd-dev systemd
util-linux iproute2 dpkg-dev debhelper lintian fakeroot mandoc prometheus
rspamd redis-server redis-tools unbound ca-certificates"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing build dependencies"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Postfix is used by the end-to-end tests with private configuration
    # directories only; "No configuration" keeps the system instance unset.
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
    # rspamd, redis-server and unbound (t/dns/dot.sh's DNS over TLS
    # forwarder) are started by the tests on their own ports; the system's
    # copies are not wanted when this installs them.
    NEW_DAEMONS=
    for p in rspamd redis-server unbound; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || NEW_DAEMONS="$NEW_DAEMONS $p"
    done
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
    # nsd's package may start a system nsd; the demo and tests run their own.
    for p in $NEW_DAEMONS; do
        if [ -d /run/systemd/system ]; then
            systemctl disable --now "$p" >/dev/null 2>&1 || :
        elif [ -x "/etc/init.d/$p" ]; then
            "/etc/init.d/$p" stop >/dev/null 2>&1 || :
        fi
    done
else
    echo "== not root or no apt-get: assuming these are installed: $PACKAGES"
fi

echo "== building"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p build
cd build
if [ ! -f config.status ]; then
    ../configure -q
fi
make -s

echo "== demo"
DANCE="$PWD/cli/dance" DANCED="$PWD/danced/danced" ../t/demo-postfix.sh
