#!/bin/bash
# demo.sh - the README Quick start demo: dance against a DNSSEC-signed zone on loopback.
#
# Makes a client certificate for mta1.ok.test, publishes its TLSA record as
# printed by `dance tlsa` in a zone signed right now (ok.test., delegated
# with DS from test., whose key is the trust anchor), serves it with nsd on
# 127.0.0.1, then runs `dance check` twice: with that certificate (verdict
# pass) and with a different key claiming the same name (verdict fail).
# Nothing leaves the machine; everything is removed when the demo ends.
#
# Usage: t/demo.sh [DANCE]   (default: $DANCE, else ./cli/dance in the build directory)
# Exit status 0 when the two verdicts are pass and fail, else 1.

DANCE=${1:-${DANCE:-./cli/dance}}
case $DANCE in
    /*) ;;
    *) DANCE=$PWD/$DANCE ;;
esac

# shellcheck source=t/dns/testbed.sh
. "$(dirname "$0")/dns/testbed.sh"

if [ ! -x "$DANCE" ]; then
    echo "demo: no dance binary at $DANCE (give its path as argument or in DANCE)" >&2
    exit 1
fi
if ! tb_require; then
    echo "demo: $TB_MISSING is not installed (Debian: apt-get install nsd ldnsutils openssl python3)" >&2
    exit 1
fi

tb_init

heading() {
    printf '\n=== %s\n' "$*"
}

heading "1. A client certificate for mta1.ok.test, and a rogue one for the same name"
tb_cert_selfsigned client mta1.ok.test
tb_cert_selfsigned rogue mta1.ok.test
echo "client.pem: $(openssl x509 -in "$TB_CERTS/client.pem" -noout -subject)"
echo "rogue.pem:  $(openssl x509 -in "$TB_CERTS/rogue.pem" -noout -subject) (another key)"

heading "2. The TLSA record to publish:  dance tlsa --name mta1.ok.test client.pem"
RECORD=$("$DANCE" tlsa --name mta1.ok.test "$TB_CERTS/client.pem") || tb_die "dance tlsa failed"
echo "$RECORD"

heading "3. Zones test. and ok.test., signed now, served by nsd on 127.0.0.1"
tb_small_bed "$RECORD"
echo "nsd listens on 127.0.0.1:$TB_PORT; trust anchor (the DS of test.):"
cat "$TB_TA"

CHECK="dance check --resolver-config unbound.conf --trust-anchor test.ta"

heading "4. The matching certificate:  $CHECK --cert client.pem mta1.ok.test"
"$DANCE" check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --timeout 5 \
    --cert "$TB_CERTS/client.pem" mta1.ok.test
RC_GOOD=$?
echo "(exit status $RC_GOOD)"

heading "5. The rogue certificate:  $CHECK --cert rogue.pem mta1.ok.test"
"$DANCE" check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --timeout 5 \
    --cert "$TB_CERTS/rogue.pem" mta1.ok.test
RC_ROGUE=$?
echo "(exit status $RC_ROGUE)"

echo
if [ "$RC_GOOD" = 0 ] && [ "$RC_ROGUE" = 1 ]; then
    echo "demo: OK - the matching certificate passes, the rogue one fails."
    exit 0
fi
echo "demo: UNEXPECTED - want exit status 0 (pass) and 1 (fail), got $RC_GOOD and $RC_ROGUE." >&2
exit 1
