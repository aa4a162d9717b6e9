#!/bin/bash
# check.sh - integration tests of `dance check` and `dance tlsa` against real DNSSEC.
#
# Builds the standard test bed of t/dns/testbed.sh (zones signed now, nsd on
# a free 127.0.0.1 port, misbehaving servers for the DNS faults: one that
# never answers, one that answers SERVFAIL, one that truncates every UDP
# answer and refuses TCP; and an RRset too big for UDP), then runs one
# `dance check` per case and asserts both its exit
# status and the result it reports: the "verdict:" line of the readable
# report, or fields of the --json object (parsed with python3).  Output is
# TAP; the plan ("1..N") comes last, so a run that dies half-way is reported
# as an error.  Everything is stopped and removed on exit, also on failure
# and on Ctrl-C.
#
# Environment (set by `make check`): DANCE = the dance binary, TESTDIR = the
# source t/ directory.  Run by hand:  DANCE=build/cli/dance t/dns/check.sh
# (TB_KEEP=1 keeps the temporary directory for inspection).

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
# shellcheck source=t/dns/dcheck.sh
. "$TESTDIR/dns/dcheck.sh"

# t_report DESC RC RESULT REGEX ARGS... - dance check ARGS (readable report): exit RC, verdict RESULT, reason ~ REGEX.
t_report() {
    local desc=$1 rc=$2 result=$3 re=$4
    shift 4
    dcheck "$@"
    rc_is "$rc" && verdict_is "$result" "$re"
    report $? "$desc"
}

# t_json DESC RC RESULT EXPR ARGS... - dance check --json ARGS: exit RC, j["result"] == RESULT and EXPR.
t_json() {
    local desc=$1 rc=$2 result=$3 expr=$4
    shift 4
    dcheck --json "$@"
    rc_is "$rc" && tb_json_is "j['result'] == '$result' and ($expr)"
    report $? "$desc"
}

# t_usage DESC RC REGEX ARGS... - dance ARGS fails with RC and a one-line message on stderr matching REGEX.
t_usage() {
    local desc=$1 rc=$2 re=$3
    shift 3
    run "$@"
    if rc_is "$rc"; then
        if ! grep -Eiq -- "$re" "$TB_DIR/err"; then
            WHY="stderr does not match /$re/"
            false
        elif [ -s "$TB_DIR/out" ]; then
            WHY="unexpected output on stdout"
            false
        fi
    fi
    report $? "$desc"
}

# ---------------------------------------------------------------------------
tb_init
T0=$(date +%s)
tb_standard_bed
C=$TB_CERTS
GOOD=$C/good.pem
ROGUE=$C/rogue.pem
SPKI=$(tb_assoc 1 1 "$GOOD")                 # hex, lower case
SPKI_FP=$(tb_fingerprint 1 sha256 "$GOOD")   # Postfix form AB:CD:...
SPKI512_FP=$(tb_fingerprint 1 sha512 "$GOOD")
CERT_FP=$(tb_fingerprint 0 sha256 "$GOOD")
ROGUE_FP=$(tb_fingerprint 1 sha256 "$ROGUE")
echo "# test bed in $TB_DIR: nsd on 127.0.0.1:$TB_PORT, blackhole on 127.0.0.1:$TB_BH_PORT"

# --- the bed itself and what dance tlsa publishes ---------------------------
CMD="drill -D -p $TB_PORT @127.0.0.1 (TLSA, DS, NSEC)"; RC=-; MS=-; : >"$TB_DIR/out"; : >"$TB_DIR/err"
WHY="a signed answer, DS or NSEC proof is missing"
tb_selfcheck
report $? "test bed: nsd serves signed zones, DS for ok.test, NSEC proof for insecure.test"

run tlsa --name mta1.ok.test "$GOOD"
WANT="_smtp-client.mta1.ok.test. IN TLSA 3 1 1 $SPKI"
if rc_is 0; then
    if [ "$(cat "$TB_DIR/out")" != "$WANT" ]; then
        WHY="want exactly: $WANT"
        false
    elif ! grep -qxF "$WANT" "$TB_ZONES/ok.test.zone"; then
        WHY="the published zone does not hold that line"
        false
    fi
fi
report $? "dance tlsa --name (default 3 1 1) prints the openssl-computed record; it is published in ok.test."

# Each parameter combination the zones use, cross-checked against openssl.
for combo in "3 0 1 good" "3 1 2 good" "3 1 0 good" "3 0 0 good" "2 0 1 ca" "2 1 1 root" "0 0 1 ca" "1 1 1 good"; do
    # shellcheck disable=SC2086  # split "U S M file" into its words
    set -- $combo
    run tlsa --usage "$1" --selector "$2" --mtype "$3" --owner _smtp-client.x.ok.test "$C/$4.pem"
    WANT="_smtp-client.x.ok.test. IN TLSA $1 $2 $3 $(tb_assoc "$2" "$3" "$C/$4.pem")"
    rc_is 0 && { [ "$(cat "$TB_DIR/out")" = "$WANT" ] || { WHY="want exactly: ${WANT:0:120}..."; false; }; }
    report $? "dance tlsa --usage $1 --selector $2 --mtype $3 $4.pem equals openssl's data"
done

# --- DANE-EE, the main case ---------------------------------------------------
t_report "3 1 1 (dance tlsa output), matching cert -> pass" 0 pass 'matched TLSA 3 1 1' \
    --cert "$GOOD" mta1.ok.test
t_json "3 1 1, matching cert, --json: secure, matched record, client SPKI" 0 pass \
    "j['dnssec'] == 'secure' and j['owner'].rstrip('.') == '_smtp-client.mta1.ok.test' and j['matched'].startswith('3 1 1 $SPKI') and j['spki_sha256'] == '$SPKI' and j['ttl'] == 300 and len(j['records']) == 1 and j['records'][0]['matched'] is True" \
    --cert "$GOOD" mta1.ok.test
t_report "3 1 1, --spki-sha256 in Postfix colon form -> pass" 0 pass 'matched TLSA 3 1 1' \
    --spki-sha256 "$SPKI_FP" mta1.ok.test
t_report "3 1 1, --spki-sha256 bare hex, name in upper case with trailing dot -> pass" 0 pass '' \
    --spki-sha256 "$SPKI" MTA1.OK.Test.
t_report "3 1 1, rogue key for the same name -> fail" 1 fail 'no usable TLSA record' \
    --cert "$ROGUE" mta1.ok.test
t_json "3 1 1, rogue key, --json: record usable, not matched" 1 fail \
    "j['dnssec'] == 'secure' and j['matched'] is None and j['records'][0]['usable'] is True and j['records'][0]['matched'] is False" \
    --cert "$ROGUE" mta1.ok.test
t_report "3 1 1, rogue --spki-sha256 -> fail" 1 fail '' \
    --spki-sha256 "$ROGUE_FP" mta1.ok.test

# --- other DANE-EE parameters -------------------------------------------------
t_report "3 0 1, cert -> pass" 0 pass 'matched TLSA 3 0 1' --cert "$GOOD" ee301.ok.test
t_report "3 0 1, --cert-sha256 only -> pass" 0 pass 'matched TLSA 3 0 1' --cert-sha256 "$CERT_FP" ee301.ok.test
t_report "3 0 1, --spki-sha256 only (wrong selector) -> neutral" 2 neutral 'usable' --spki-sha256 "$SPKI_FP" ee301.ok.test
t_report "3 1 2, cert -> pass" 0 pass 'matched TLSA 3 1 2' --cert "$GOOD" ee312.ok.test
t_report "3 1 2, --spki-sha512 only -> pass" 0 pass 'matched TLSA 3 1 2' --spki-sha512 "$SPKI512_FP" ee312.ok.test
t_report "3 1 2, only --spki-sha256 (SHA-512 not computable) -> neutral" 2 neutral 'usable' --spki-sha256 "$SPKI_FP" ee312.ok.test
t_report "3 1 0 full SPKI, cert -> pass" 0 pass 'matched TLSA 3 1 0' --cert "$GOOD" ee310.ok.test
t_report "3 1 0 full SPKI, only --spki-sha256 (hash of the full data) -> pass" 0 pass 'matched TLSA 3 1 0' --spki-sha256 "$SPKI_FP" ee310.ok.test
t_report "3 1 0 full SPKI, only --spki-sha512 -> pass" 0 pass 'matched TLSA 3 1 0' --spki-sha512 "$SPKI512_FP" ee310.ok.test
t_report "3 1 0 full SPKI, rogue --spki-sha256 -> fail" 1 fail '' --spki-sha256 "$ROGUE_FP" ee310.ok.test
t_report "3 0 0 full cert, cert -> pass" 0 pass 'matched TLSA 3 0 0' --cert "$GOOD" ee300.ok.test
t_report "3 0 0 full cert, only --cert-sha256 (hash of the full data) -> pass" 0 pass 'matched TLSA 3 0 0' --cert-sha256 "$CERT_FP" ee300.ok.test
t_report "3 0 0 full cert, rogue cert -> fail" 1 fail '' --cert "$ROGUE" ee300.ok.test

# --- DANE-TA ---------------------------------------------------------------------
t_report "2 0 1 (CA cert), leaf + CA chain -> pass" 0 pass 'matched TLSA 2 0 1' --cert "$C/ta-chain.pem" ta.ok.test
t_report "2 0 1, leaf only (no chain) -> neutral" 2 neutral 'usable' --cert "$C/ta.pem" ta.ok.test
t_report "2 0 1, only fingerprints -> neutral" 2 neutral '' --spki-sha256 "$SPKI_FP" ta.ok.test
t_report "2 1 1 (root key), leaf + intermediate + root chain -> pass" 0 pass 'matched TLSA 2 1 1' --cert "$C/ta2-chain.pem" ta2.ok.test
t_report "2 0 1, chain from the same CA but issued for another name -> fail" 1 fail '' --cert "$C/other-chain.pem" ta.ok.test
t_report "2 0 1, chain for the right name from another CA -> fail" 1 fail '' --cert "$C/tafake-chain.pem" ta.ok.test

# --- unusable and malformed records --------------------------------------------
t_report "PKIX-only records (0 0 1, 1 1 1) -> neutral" 2 neutral 'usable' --cert "$GOOD" pkix.ok.test
t_report "unknown usage/selector/matching type only -> neutral" 2 neutral 'usable' --cert "$GOOD" unknown.ok.test
t_report "only malformed records -> permerror" 5 permerror 'well-formed' --cert "$GOOD" malformed.ok.test
t_json "only malformed records, --json: all four listed, none usable" 5 permerror \
    "j['dnssec'] == 'secure' and len(j['records']) == 4 and not any(r['usable'] for r in j['records'])" \
    --cert "$GOOD" malformed.ok.test
t_report "malformed records beside a matching 3 1 1 -> pass" 0 pass 'matched TLSA 3 1 1' --cert "$GOOD" mixed.ok.test

# --- digest agility (RFC 7671 section 9) ----------------------------------------
t_report "agility: 3 1 1 matches, 3 1 2 does not, full cert -> fail" 1 fail '' --cert "$GOOD" agile.ok.test
t_report "agility: same records, only --spki-sha256 -> pass" 0 pass 'matched TLSA 3 1 1' --spki-sha256 "$SPKI_FP" agile.ok.test

# --- DNSSEC states ----------------------------------------------------------------
t_json "insecure zone (unsigned, no DS), matching record -> none" 3 none \
    "j['dnssec'] == 'insecure'" --cert "$GOOD" mta1.insecure.test
t_json "secure NXDOMAIN -> none" 3 none \
    "j['dnssec'] == 'secure-nxdomain'" --cert "$GOOD" nx.ok.test
t_json "secure NODATA (TXT only at the owner) -> none" 3 none \
    "j['dnssec'] == 'secure-nodata'" --cert "$GOOD" nodata.ok.test
t_json "name not even delegated (NXDOMAIN in test.) -> none" 3 none \
    "j['dnssec'] == 'secure-nxdomain'" --cert "$GOOD" mta1.nowhere.test
t_json "CNAME to a signed zone's TLSA RRset -> pass" 0 pass \
    "j['dnssec'] == 'secure' and (j['owners'][0]['canonical'] or '').rstrip('.') == '_certs.pool.alt.test'" \
    --cert "$GOOD" cname.ok.test
t_json "CNAME into an insecure zone (insecure link) -> none" 3 none \
    "j['dnssec'] == 'insecure'" --cert "$GOOD" cninsec.ok.test

dcheck --timeout 10 --cert "$GOOD" mta1.bogus.test
rc_is 4 && verdict_is temperror 'signature verification failed' && faster_than 3000
report $? "bogus (tampered RRSIG) -> temperror with why_bogus, fast (timeout 10 s, < 3 s)"
dcheck --json --timeout 10 --cert "$GOOD" mta1.bogus.test
rc_is 4 && tb_json_is "j['result'] == 'temperror' and j['dnssec'] == 'bogus' and 'verification failed' in j['owners'][0]['why']" && faster_than 3000
report $? "bogus, --json: dnssec bogus, why_bogus carried"
dcheck --timeout 10 --cert "$GOOD" mta1.expired.test
rc_is 4 && verdict_is temperror 'expired' && faster_than 3000
report $? "expired signatures -> temperror (signature expired), fast (timeout 10 s, < 3 s)"

HITS0=$(tb_blackhole_hits)
dcheck --timeout 2 --cert "$GOOD" mta1.dead.test
rc_is 4 && verdict_is temperror 'timed out' && faster_than 5000 \
    && { [ "$(tb_blackhole_hits)" -gt "$HITS0" ] || { WHY="no query reached the unresponsive server"; false; }; }
report $? "unreachable server -> temperror within the timeout (timeout 2 s, < 5 s)"

n0=$(wc -l < "$TB_DIR/servfail.count")
dcheck --json --timeout 10 --cert "$GOOD" mta1.servfail.test
rc_is 4 && tb_json_is "j['result'] == 'temperror' and j['dnssec'] in ('servfail', 'bogus')" && faster_than 5000 \
    && { [ "$(wc -l < "$TB_DIR/servfail.count")" -gt "$n0" ] || { WHY="no query reached the SERVFAIL server"; false; }; }
report $? "a server answering SERVFAIL -> temperror, not a wait for the timeout (timeout 10 s, < 5 s)"

n0=$(grep -c udp "$TB_DIR/truncate.count")
dcheck --json --timeout 10 --cert "$GOOD" mta1.trunc.test
rc_is 4 && tb_json_is "j['result'] == 'temperror'" \
    && { [ "$(grep -c udp "$TB_DIR/truncate.count")" -gt "$n0" ] && grep -q tcp "$TB_DIR/truncate.count" \
         || { WHY="the resolver did not try UDP and then TCP: $(sort "$TB_DIR/truncate.count" | uniq -c | tr '\n' ' ')"; false; }; }
report $? "truncated UDP answers and TCP refused -> temperror (the resolver tried TCP)"

out=$(drill -b 1232 -p "$TB_PORT" @127.0.0.1 TLSA _smtp-client.big.ok.test. 2>&1)
case $out in *"flags:"*" tc"*) ;; *) WHY="nsd did not truncate the big RRset over UDP: $(printf '%s' "$out" | grep flags)"; false ;; esac \
    && dcheck --json --cert "$GOOD" big.ok.test && rc_is 0 \
    && tb_json_is "j['result'] == 'pass' and len(j['records']) == 5 and j['dnssec'] == 'secure'"
report $? "an RRset too big for UDP (TC set, as drill shows): the answer over TCP passes"

# Oversized RRsets (a hostile zone's way to fill the cache): refused whole,
# permerror with its own reason, even beside a record that would match.
dcheck --json --cert "$GOOD" huge.ok.test
rc_is 5 && tb_json_is "j['result'] == 'permerror' and j['dnssec'] == 'secure' and len(j['records']) == 0 \
    and 'TLSA RRset too large: 4 records' in j['reason'] and '4096 octets' in j['reason']"
report $? "a secure RRset over 4096 octets (3 1 1 good beside 5.4 KB of garbage) -> permerror 'TLSA RRset too large', nothing kept"
dcheck --json --cert "$GOOD" many.ok.test
rc_is 5 && tb_json_is "j['result'] == 'permerror' and 'TLSA RRset too large: 71 records' in j['reason']"
report $? "a secure RRset of 71 records (over 64) -> permerror 'TLSA RRset too large'"

# --- owners --------------------------------------------------------------------
t_json "--owner queries exactly that owner -> pass" 0 pass \
    "j['owner'].rstrip('.') == '_certs.pool.alt.test' and len(j['owners']) == 1" \
    --owner _certs.pool.alt.test --cert "$GOOD" nx.ok.test
t_json "--server-tlsa: _smtp-client NXDOMAIN, _25._tcp matches -> pass" 0 pass \
    "j['owner'].rstrip('.') == '_25._tcp.srv.ok.test' and len(j['owners']) == 2" \
    --server-tlsa --cert "$GOOD" srv.ok.test
t_report "without --server-tlsa the same name -> none" 3 none 'NXDOMAIN' --cert "$GOOD" srv.ok.test
t_report "--server-tlsa, rogue cert: fail at _25._tcp beats NXDOMAIN -> fail" 1 fail '' \
    --server-tlsa --cert "$ROGUE" srv.ok.test

# --- the same settings from a dance configuration file (-c) --------------------
cat > "$TB_DIR/dance.conf" <<EOF
# written by t/dns/check.sh
trust_anchor_file = $TB_TA
resolver_config = $TB_CONF
dns_timeout = 2s
server_tlsa = yes
lookup_domains = ok.test, .alt.test
EOF
run check -c "$TB_DIR/dance.conf" --cert "$GOOD" srv.ok.test
rc_is 0 && verdict_is pass 'matched TLSA 3 1 1'
report $? "-c FILE: anchor, resolver config and server_tlsa = yes from the file -> pass at _25._tcp"
run check -c "$TB_DIR/dance.conf" --cert "$GOOD" mta1.ok.test
rc_is 0 && verdict_is pass 'matched TLSA 3 1 1'
report $? "-c FILE: a name inside lookup_domains -> pass"
HITS0=$(tb_blackhole_hits)
run check -c "$TB_DIR/dance.conf" --cert "$GOOD" mta1.dead.test
rc_is 3 && verdict_is none 'scope|look-?up' \
    && { [ "$(tb_blackhole_hits)" = "$HITS0" ] || { WHY="a query reached the blackhole"; false; }; }
report $? "-c FILE: a name outside lookup_domains -> none, no DNS query"
printf 'no_such_key = 1\n' > "$TB_DIR/bad.conf"
t_usage "-c FILE with an unknown key -> error naming file, line and key" 66 'bad.conf:1.*no_such_key' \
    check -c "$TB_DIR/bad.conf" --cert "$GOOD" mta1.ok.test

# --- no DNS at all: no evidence, invalid names ---------------------------------
# Names under dead.test would reach the blackhole (and time out); none must.
HITS0=$(tb_blackhole_hits)
t_report "no evidence -> none, no DNS query" 3 none 'no client certificate' --timeout 2 mta1.dead.test
for name in 'mta_1.dead.test' '192.0.2.1' '[192.0.2.1]' 'dead.test;x' 'single' "$(printf 'mta1.dead.test\r\nX: y')" \
    "$(printf 'm\303\244il.dead.test')" "$(printf 'a%.0s' $(seq 1 64)).dead.test"; do
    t_report "invalid claimed name '$(printf '%s' "$name" | tr -c '[:print:]' '?' | cut -c1-40)' -> none, no DNS query" \
        3 none 'invalid' --timeout 2 --cert "$GOOD" "$name"
done
dcheck --timeout 2 --cert "$GOOD" "$(printf 'mta1.dead.test\r\nX: y\033[31m')"
rc_is 3 && { ! LC_ALL=C grep -q '[[:cntrl:]]' "$TB_DIR/out" || { WHY="the report echoes control characters from the claimed name"; false; }; }
report $? "hostile claimed name (CR, LF, ESC): the report holds no control characters"
[ "$(tb_blackhole_hits)" = "$HITS0" ]
WHY="the blackhole received $(( $(tb_blackhole_hits) - HITS0 )) queries"; CMD="(the checks above)"
report $? "none of the no-evidence / invalid-name checks sent a DNS query"

# --- usage errors and unreadable input -----------------------------------------
t_usage "md5-length fingerprint refused (64)" 64 'md5|sha-?1' \
    check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --spki-sha256 "$(printf '%032d' 0)" mta1.ok.test
t_usage "sha1-length --cert-sha256 refused (64)" 64 'md5|sha-?1' \
    check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --cert-sha256 "$(printf '%040d' 0)" mta1.ok.test
t_usage "fingerprint with a bad character refused (64)" 64 'hex' \
    check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --spki-sha256 "${SPKI_FP%??}ZZ" mta1.ok.test
t_usage "sha256-length --spki-sha512 refused (64)" 64 'length|long|short' \
    check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --spki-sha512 "$SPKI_FP" mta1.ok.test
t_usage "no NAME -> usage error (64)" 64 '.' check --cert "$GOOD"
t_usage "unknown option -> usage error (64)" 64 'option|usage' check --no-such-option mta1.ok.test
t_usage "unreadable certificate file -> 66" 66 'no such file' \
    check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --cert "$TB_DIR/missing.pem" mta1.ok.test
printf 'not a certificate\n' > "$TB_DIR/garbage.pem"
t_usage "file that is not a certificate -> 66" 66 'garbage.pem' \
    check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --cert "$TB_DIR/garbage.pem" mta1.ok.test
t_usage "missing trust anchor file -> 66" 66 'missing.ta|trust' \
    check --resolver-config "$TB_CONF" --trust-anchor "$TB_DIR/missing.ta" --cert "$GOOD" mta1.ok.test
t_usage "missing resolver configuration -> 66" 66 'missing.conf|resolver' \
    check --resolver-config "$TB_DIR/missing.conf" --trust-anchor "$TB_TA" --cert "$GOOD" mta1.ok.test

# --- nothing leaves loopback ---------------------------------------------------
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
    CMD="strace -f -e trace=connect,sendto,sendmsg,sendmmsg dance check ... (pass, CNAME, a name outside test.)"
    : >"$TB_DIR/out"; : >"$TB_DIR/err"; RC=-; MS=-
    for name in mta1.ok.test cname.ok.test mta1.example.com; do
        strace -f -qq -o "$TB_DIR/strace.$name" -e trace=connect,sendto,sendmsg,sendmmsg \
            "$DANCE" check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" --timeout 3 \
            --cert "$GOOD" "$name" >/dev/null 2>&1
    done
    cat "$TB_DIR"/strace.* > "$TB_DIR/strace.all"
    ADDRS=$(grep -oE 'inet_addr\("[^"]*"\)|inet_pton\(AF_INET6, "[^"]*"' "$TB_DIR/strace.all" \
        | grep -oE '"[^"]*"' | tr -d '"' | sort -u | tr '\n' ' ')
    # shellcheck disable=SC2086  # one address per word
    OFF=$(printf '%s\n' $ADDRS | grep -vxE '127\.0\.0\.1|::1' | tr '\n' ' ')
    if [ -z "$ADDRS" ]; then
        WHY="strace saw no DNS traffic at all"; false
    elif [ -n "$OFF" ]; then
        WHY="packets to $OFF"; false
    fi
    report $? "every packet dance sends goes to 127.0.0.1 (strace saw: ${ADDRS% })"
else
    NTEST=$((NTEST + 1))
    echo "ok $NTEST - every packet goes to loopback # SKIP strace not installed or not permitted"
fi

T1=$(date +%s)
echo "# $NTEST tests, $NFAIL failed, $((T1 - T0)) s"
tap_end
