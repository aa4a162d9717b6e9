#!/bin/bash
# sender.sh - integration tests of `dance sender-check` (the sending side)
# and of a key rollover, against real DNSSEC.
#
# Builds a small bed with the functions of t/dns/testbed.sh: test. (the
# trust anchor) delegating, with DS, to the signed ok.test. and, without
# DS, to the unsigned insecure.test.; nsd serves them on a free 127.0.0.1
# port; dead.test. goes to a server that never answers.  Each case runs `dance sender-check` (or `dance check`) and
# asserts its exit status and what it reports (the readable report, or
# fields of the --json object parsed with python3).
#
# The rollover (RFC 7671 section 8.1) is walked in three steps on
# roll.ok.test: publish the new key's records beside the old ones, switch
# the sending key, remove the old records.  Between steps the zone is
# re-signed (tb_zone_sign) and nsd restarted on the same port; every check
# is a new dance process, so a new libunbound context with an empty cache:
# no cached answer can hide a change.
#
# Output is TAP, the plan last.  Everything is stopped and removed on exit.
# Environment (set by `make check`): DANCE = the dance binary, TESTDIR =
# the source t/ directory.  By hand:  DANCE=build/cli/dance t/dns/sender.sh

TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DANCE=${DANCE:-$PWD/cli/dance}
# shellcheck disable=SC2034  # read by testbed.sh: a broken bed prints "Bail out!"
TB_TAP=1

# shellcheck source=t/dns/testbed.sh
. "$TESTDIR/dns/testbed.sh"

if ! tb_require; then
    echo "1..0 # SKIP $TB_MISSING is not installed (Debian: nsd ldnsutils openssl python3)"
    exit 0
fi
if [ ! -x "$DANCE" ]; then
    echo "Bail out! no dance binary at $DANCE (set DANCE)"
    exit 99
fi

# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"

# tap_diag - on failure (report, t/tap.sh): the last run's command, status and output.
tap_diag() {
    printf '%s\n' "$CMD" | tr -c '[:print:]\n' '?' | sed 's/^/#   command: /'
    printf '#   exit status %s\n' "$RC"
    [ -s "$TB_DIR/out" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/out" | sed 's/^/#   out: /'
    [ -s "$TB_DIR/err" ] && tr -c '[:print:]\n' '?' < "$TB_DIR/err" | sed 's/^/#   err: /'
    return 0
}

# run ARGS... - run dance with ARGS; sets RC and CMD; output in $TB_DIR/out and err.
run() {
    CMD="dance $*"
    "$DANCE" "$@" >"$TB_DIR/out" 2>"$TB_DIR/err" </dev/null
    RC=$?
}

# scheck ARGS... - `dance sender-check` against the bed.
scheck() {
    run sender-check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" "$@"
}

# dcheck ARGS... - `dance check` against the bed.
dcheck() {
    run check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" "$@"
}

# rc_is N - the last run exited with N.
rc_is() {
    [ "$RC" = "$1" ] && return 0
    why "exit status $RC, want $1"
}

# out_has ERE... - every ERE matches a line of stdout.
out_has() {
    local re
    for re in "$@"; do
        grep -Eq -- "$re" "$TB_DIR/out" || why "stdout has no line matching /$re/"
    done
}

# out_lacks ERE - no line of stdout matches ERE.
out_lacks() {
    ! grep -Eq -- "$1" "$TB_DIR/out" || why "stdout has a line matching /$1/"
}

# json EXPR - stdout is one JSON object and the python expression EXPR over j holds.
json() {
    tb_json_is "($1)" || why "$WHY"
}

# zone_line OWNER U S M PEM - a TLSA zone line computed with openssl alone.
zone_line() {
    TB_TLSA_OPENSSL=1 tb_tlsa "$@"
}

# reload - re-sign ok.test. and restart nsd on the same port.
reload() {
    tb_zone_sign ok.test
    tb_nsd_stop
    tb_nsd_restart
}

# ---------------------------------------------------------------------------
tb_init
T0=$(date +%s)
tb_cert_selfsigned good mta1.ok.test
tb_cert_selfsigned rogue mta1.ok.test
tb_cert_selfsigned new roll.ok.test
C=$TB_CERTS
GOOD=$C/good.pem
NEW=$C/new.pem
ROGUE=$C/rogue.pem
cat "$GOOD" "$C/good.key" > "$C/good-with-key.pem"

tb_zone_head test
tb_zone_head ok.test
tb_zone_head insecure.test
tb_zone_keys test
tb_zone_keys ok.test
for z in mta1 only311 stale wrong nothing longttl roll broken; do
    tb_zone_add ok.test "$z	IN	A	127.0.0.1"
done
for z in mta1 stale longttl roll broken; do
    tb_zone_tlsa ok.test "_smtp-client.$z.ok.test." 3 1 1 "$GOOD"
    tb_zone_tlsa ok.test "_smtp-client.$z.ok.test." 3 0 1 "$GOOD"
done
sed -i 's/^\(_smtp-client\.longttl\.ok\.test\.\) IN/\1 86400 IN/' "$TB_ZONES/ok.test.zone"
tb_zone_tlsa ok.test _smtp-client.only311.ok.test. 3 1 1 "$GOOD"
tb_zone_tlsa ok.test _smtp-client.stale.ok.test. 3 1 1 "$ROGUE"
tb_zone_tlsa ok.test _smtp-client.wrong.ok.test. 3 1 1 "$ROGUE"
tb_zone_add ok.test "_smtp-client.broken.ok.test. IN TLSA 3 1 1 abcd"
tb_zone_add insecure.test "mta1	IN	A	127.0.0.1"
tb_zone_tlsa insecure.test _smtp-client.mta1.insecure.test. 3 1 1 "$GOOD"
tb_zone_tlsa insecure.test _smtp-client.mta1.insecure.test. 3 0 1 "$GOOD"
tb_zone_add test "ok	IN	NS	ns1.ok.test." "ns1.ok	IN	A	127.0.0.1" \
    "insecure	IN	NS	ns1.insecure.test." "ns1.insecure	IN	A	127.0.0.1" \
    "dead	IN	NS	ns1.dead.test." "ns1.dead	IN	A	127.0.0.1"
tb_zone_ds ok.test >> "$TB_ZONES/test.zone"
tb_zone_sign test
tb_zone_sign ok.test
tb_zone_unsigned insecure.test
TB_TA=$TB_DIR/test.ta
tb_zone_ds test > "$TB_TA"
tb_blackhole_start
tb_nsd_start test ok.test insecure.test
TB_CONF=$TB_DIR/unbound.conf
tb_unbound_conf "$TB_CONF" test="$TB_PORT" ok.test="$TB_PORT" insecure.test="$TB_PORT" \
    dead.test="$TB_BH_PORT"
echo "# test bed in $TB_DIR: nsd on 127.0.0.1:$TB_PORT"
GOOD_ABS=$(realpath "$GOOD")

# --- one name per case -----------------------------------------------------------
scheck --cert "$GOOD" mta1.ok.test
rc_is 0 && out_has '^  published:  yes' '^  DNSSEC:     secure, TTL 300' \
    '^  TLSA 3 1 1 .* matches this certificate' '^  TLSA 3 0 1 .* matches this certificate' \
    '^result: +pass \(1 name\)' && out_lacks 'warning:'
report $? "published, secure, 3 1 1 and 3 0 1 match: pass, exit 0, no warning"

L311=$(zone_line _smtp-client.mta1.ok.test. 3 1 1 "$GOOD")
L301=$(zone_line _smtp-client.mta1.ok.test. 3 0 1 "$GOOD")
out_has "^${L311}\$" "^${L301}\$" "^smtp_tls_cert_file = ${GOOD_ABS}\$" \
    '^smtp_helo_name = mta1\.ok\.test$' '^smtp_tls_security_level = may$' \
    '^#smtp_tls_key_file = .*--key'
report $? "prints the zone lines 3 1 1 and 3 0 1 (as openssl computes them) and the Postfix lines"

run tlsa --name mta1.ok.test "$GOOD"
T311=$(cat "$TB_DIR/out")
run tlsa --name mta1.ok.test --selector 0 "$GOOD"
T301=$(cat "$TB_DIR/out")
scheck --cert "$GOOD" mta1.ok.test
out_has "^${T311}\$" "^${T301}\$"
report $? "its zone lines are the ones dance tlsa --name prints"

scheck --cert "$GOOD" --key "$C/good.key" mta1.ok.test
rc_is 0 && out_has "^smtp_tls_key_file = $(realpath "$C/good.key")\$"
report $? "--key FILE: checked against the certificate, named in smtp_tls_key_file"

scheck --cert "$C/good-with-key.pem" mta1.ok.test
rc_is 0 && out_has "^smtp_tls_key_file = $(realpath "$C/good-with-key.pem")\$"
report $? "a certificate file that holds the key too is the key file"

scheck --cert "$GOOD" only311.ok.test
rc_is 0 && out_has '^  warning: .*Sendmail' '^result: +pass'
report $? "only 3 1 1: pass with the Sendmail warning"

scheck --cert "$GOOD" stale.ok.test
rc_is 0 && out_has '^  warning: .*matches no key' \
    '^  TLSA 3 1 1 .* matches nothing in the certificate file' && out_lacks 'Sendmail'
report $? "a record matching no key in FILE (beside matching ones): pass with a warning"

scheck --cert "$GOOD" broken.ok.test
rc_is 0 && out_has '^  TLSA 3 1 1 abcd +unusable: ' '^  warning: .*unusable' && out_lacks 'matches no key'
report $? "a malformed record beside good ones: pass with the unusable warning"

scheck --cert "$GOOD" wrong.ok.test
rc_is 1 && out_has '^  warning: .*matches no key' '^  result:     FAIL' '^result: +FAIL'
report $? "only a record for another key: FAIL, exit 1"

scheck --cert "$GOOD" nothing.ok.test
rc_is 1 && out_has '^  published:  no' '^  DNSSEC:     secure \(secure-nxdomain\)' \
    '^  problem:    no TLSA record for this name' '^  result:     FAIL'
report $? "a name without records: reported unpublished, exit 1"

scheck --cert "$GOOD" mta1.insecure.test
rc_is 1 && out_has '^  DNSSEC:     not secure \(insecure\)' '^  problem:    .*not DNSSEC-signed' \
    '^  result:     FAIL'
report $? "an unsigned zone: reported not secure, exit 1"

scheck --cert "$GOOD" longttl.ok.test
rc_is 0 && out_has 'TTL 86400' '^  warning: .*TTL over 3600'
report $? "a TTL of a day: pass with the TTL warning"

scheck --cert "$GOOD" mta1.ok.test nothing.ok.test only311.ok.test
rc_is 1 && out_has '^result: +FAIL \(1 of 3 names does not pass\)' \
    '^_smtp-client\.nothing\.ok\.test\. IN TLSA 3 1 1 ' '^smtp_helo_name = mta1\.ok\.test$'
report $? "several names: one failing fails the run; zone lines for each name, EHLO name first"

scheck --timeout 2 --cert "$GOOD" mta1.ok.test mta1.dead.test
rc_is 4 && out_has '^  problem:    the look-up failed' '^result: +temperror \(1 of 2 names'
scheck --timeout 2 --cert "$GOOD" mta1.dead.test nothing.ok.test
rc_is 1
report $? "a look-up that times out: exit 4; with a name that fails as well: exit 1"

# --- JSON --------------------------------------------------------------------------
scheck --json --cert "$GOOD" mta1.ok.test only311.ok.test nothing.ok.test mta1.insecure.test
rc_is 1 && json "j['pass'] is False and j['result'] == 'fail' and j['exit'] == 1
and j['certificate'] == '$GOOD_ABS' and len(j['spki_sha256']) == 64
and [n['name'] for n in j['names']] == ['mta1.ok.test', 'only311.ok.test', 'nothing.ok.test', 'mta1.insecure.test']
and j['names'][0]['pass'] and j['names'][0]['secure'] and j['names'][0]['published'] == 'yes'
and j['names'][0]['ttl'] == 300 and j['names'][0]['problem'] is None and j['names'][0]['warnings'] == []
and all(r['matches'] for r in j['names'][0]['records']) and len(j['names'][0]['records']) == 2
and [w['code'] for w in j['names'][1]['warnings']] == ['sendmail'] and j['names'][1]['pass']
and j['names'][2]['published'] == 'no' and 'publish' in j['names'][2]['problem'] and not j['names'][2]['pass'] and j['names'][2]['records'] == []
and not j['names'][3]['secure'] and j['names'][3]['published'] == 'unknown' and j['names'][3]['dnssec'] == 'insecure' and not j['names'][3]['pass']
and len(j['zone_lines']) == 8 and j['zone_lines'][0] == '''$L311'''
and j['postfix']['smtp_tls_cert_file'] == '$GOOD_ABS' and j['postfix']['smtp_tls_key_file'] is None
and j['postfix']['smtp_helo_name'] == 'mta1.ok.test' and j['postfix']['smtp_tls_security_level'] == 'may'"
report $? "--json: one object with per-name fields, warnings, zone lines, Postfix lines"

scheck --json --cert "$GOOD" stale.ok.test
rc_is 0 && json "j['pass'] and j['exit'] == 0 and [w['code'] for w in j['names'][0]['warnings']] == ['nomatch']
and [r['matches'] for r in j['names'][0]['records']].count(False) == 1"
if [ -z "$TAP_FAILED" ] && command -v python3 >/dev/null; then
    python3 -m json.tool "$TB_DIR/out" >/dev/null 2>&1 || why "python3 -m json.tool rejects it"
fi
report $? "--json with a warning: exit 0, the nomatch warning, json.tool accepts it"

# --- bad usage ------------------------------------------------------------------------
# t_usage DESC RC REGEX ARGS... - dance ARGS fails with RC, stderr matches REGEX, stdout empty.
t_usage() {
    local desc=$1 rc=$2 re=$3
    shift 3
    run "$@"
    if rc_is "$rc"; then
        grep -Eiq -- "$re" "$TB_DIR/err" || why "stderr does not match /$re/"
        if [ -s "$TB_DIR/out" ]; then why "unexpected output on stdout"; fi
    fi
    report 0 "$desc"
}
t_usage "no --cert: exit 64" 64 'sender-check: missing --cert FILE' sender-check mta1.ok.test
t_usage "no NAME: exit 64" 64 'sender-check: missing NAME' sender-check --cert "$GOOD"
t_usage "an invalid NAME: exit 64" 64 'sender-check: .*bad\.\.name' sender-check --cert "$GOOD" bad..name
t_usage "an unreadable certificate file: exit 66" 66 "$TB_DIR/missing.pem" \
    sender-check --cert "$TB_DIR/missing.pem" mta1.ok.test
t_usage "a file that is no certificate: exit 66" 66 'not a certificate' \
    sender-check --cert "$TB_TA" mta1.ok.test
t_usage "a key that is not the certificate's: exit 66" 66 'not the private key of the certificate' \
    sender-check --cert "$GOOD" --key "$C/rogue.key" mta1.ok.test
t_usage "--timeout 0: exit 64" 64 'timeout' sender-check --timeout 0 --cert "$GOOD" mta1.ok.test
t_usage "an unknown option: exit 64" 64 'usage: dance sender-check' sender-check --bogus --cert "$GOOD" x.test

# --- key rollover on roll.ok.test (RFC 7671 section 8.1) -------------------------------
OLD=$GOOD
scheck --cert "$OLD" roll.ok.test
rc_is 0 && out_lacks 'warning:'
dcheck --cert "$OLD" roll.ok.test
rc_is 0
report $? "rollover, before: the old key passes (sender-check and check)"

# step 1: publish the new key's records beside the old ones (two TTLs before the switch)
tb_zone_tlsa ok.test _smtp-client.roll.ok.test. 3 1 1 "$NEW"
tb_zone_tlsa ok.test _smtp-client.roll.ok.test. 3 0 1 "$NEW"
reload
scheck --cert "$OLD" roll.ok.test
rc_is 0 && out_has '^  warning: .*matches no key'
if [ "$(grep -c 'matches this certificate' "$TB_DIR/out")" != 2 ]; then why "not 2 matching records"; fi
dcheck --cert "$OLD" roll.ok.test
rc_is 0
report $? "rollover step 1 (new published beside old): the old key still passes, the new records are seen"

dcheck --cert "$NEW" roll.ok.test
rc_is 0
report $? "rollover step 1: the new key passes dance check already"

# step 2: the sending MTA switches to the new key
scheck --cert "$NEW" roll.ok.test
rc_is 0 && out_has '^  warning: .*matches no key' "^smtp_tls_cert_file = $(realpath "$NEW")\$"
dcheck --cert "$NEW" roll.ok.test
rc_is 0
report $? "rollover step 2 (switched to the new key): the new key passes (sender-check and check)"

# step 3: remove the old records
grep -v "^_smtp-client\.roll\.ok\.test\. IN TLSA 3 [01] 1 \($(tb_assoc 1 1 "$OLD")\|$(tb_assoc 0 1 "$OLD")\)" \
    "$TB_ZONES/ok.test.zone" > "$TB_ZONES/ok.test.zone.new" && mv "$TB_ZONES/ok.test.zone.new" "$TB_ZONES/ok.test.zone"
reload
scheck --cert "$NEW" roll.ok.test
rc_is 0 && out_lacks 'warning:'
if [ "$(grep -c '^  TLSA' "$TB_DIR/out")" != 2 ]; then why "not exactly the 2 new records"; fi
dcheck --cert "$NEW" roll.ok.test
rc_is 0
report $? "rollover step 3 (old records removed): the new key passes, no warning left"

dcheck --cert "$OLD" roll.ok.test
rc_is 1
scheck --cert "$OLD" roll.ok.test
rc_is 1
report $? "rollover step 3: the old key no longer passes (check exit 1, sender-check exit 1)"

T1=$(date +%s)
echo "# $NTEST tests, $NFAIL failed, $((T1 - T0)) s"
tap_end
