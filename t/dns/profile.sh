#!/bin/bash
# profile.sh - the outcome table of the SMTP profile (doc/smtp-profile.md) against `dance check`.
#
# The profile's Section 6.4 holds a table between the lines
#     <!-- BEGIN PROFILE RESULT TABLE ...
#     <!-- END PROFILE RESULT TABLE
# one row per scenario: | `id` | condition | `result` | exit status |.
# This script reads that table, builds the standard DNSSEC test bed of
# t/dns/testbed.sh (the zones t/dns/check.sh uses), and for each row runs the
# `dance check` that the scenario id stands for (the table in scenario() below)
# and asserts the result word of its report and its exit status.  A row whose
# condition says "no DNS query" must also leave the unresponsive server
# untouched.  It fails when a row disagrees with the code, when a row is
# malformed or names an unknown or repeated scenario, when a scenario known here
# is missing from the document, and when a result word has no row.  Last, it
# proves that a disagreeing row is caught: the first row with its result and
# exit status changed must fail the same check.
#
# Output is TAP, the plan last.  Environment (set by `make check`): DANCE = the
# dance binary, TESTDIR = the source t/ directory; PROFILE = the document
# (default: doc/smtp-profile.md beside t/).  By hand:
#     DANCE=build/cli/dance t/dns/profile.sh

TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DANCE=${DANCE:-$PWD/cli/dance}
PROFILE=${PROFILE:-$TESTDIR/../doc/smtp-profile.md}
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
if [ ! -r "$PROFILE" ]; then
    echo "Bail out! cannot read the profile $PROFILE (set PROFILE)"
    exit 99
fi

# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"
# shellcheck source=t/dns/dcheck.sh
. "$TESTDIR/dns/dcheck.sh"

# Every scenario this script can run; each must have a row in the document.
SCENARIOS="no-evidence invalid-name outside-lookup-domains timeout servfail bogus expired-signatures
insecure-zone insecure-cname secure-nxdomain secure-nodata all-malformed rrset-too-many-octets
rrset-too-many-records pkix-only unknown-parameters dane-ta-without-chain digest-not-computable
selector-not-computable dane-ee-match dane-ee-fingerprint-match full-data-from-digest dane-ta-match
secure-cname-match malformed-beside-match dane-ee-mismatch dane-ta-wrong-name digest-agility
server-tlsa-match server-tlsa-off owners-fail-beats-none"

# scenario ID - set ARGS to the `dance check` arguments of scenario ID (after the bed's
# resolver options); false for an unknown ID.  Names under dead.test reach only the
# unresponsive server, so a query that should not be made times out (--timeout 2).
scenario() {
    local C=$TB_CERTS
    case $1 in
    no-evidence)               ARGS=(--timeout 2 mta1.dead.test) ;;
    invalid-name)              ARGS=(--timeout 2 --cert "$C/good.pem" mta_1.dead.test) ;;
    outside-lookup-domains)    ARGS=(-c "$TB_DIR/scope.conf" --timeout 2 --cert "$C/good.pem" mta1.dead.test) ;;
    timeout)                   ARGS=(--timeout 2 --cert "$C/good.pem" mta1.dead.test) ;;
    servfail)                  ARGS=(--cert "$C/good.pem" mta1.servfail.test) ;;
    bogus)                     ARGS=(--cert "$C/good.pem" mta1.bogus.test) ;;
    expired-signatures)        ARGS=(--cert "$C/good.pem" mta1.expired.test) ;;
    insecure-zone)             ARGS=(--cert "$C/good.pem" mta1.insecure.test) ;;
    insecure-cname)            ARGS=(--cert "$C/good.pem" cninsec.ok.test) ;;
    secure-nxdomain)           ARGS=(--cert "$C/good.pem" nx.ok.test) ;;
    secure-nodata)             ARGS=(--cert "$C/good.pem" nodata.ok.test) ;;
    all-malformed)             ARGS=(--cert "$C/good.pem" malformed.ok.test) ;;
    rrset-too-many-octets)     ARGS=(--cert "$C/good.pem" huge.ok.test) ;;
    rrset-too-many-records)    ARGS=(--cert "$C/good.pem" many.ok.test) ;;
    pkix-only)                 ARGS=(--cert "$C/good.pem" pkix.ok.test) ;;
    unknown-parameters)        ARGS=(--cert "$C/good.pem" unknown.ok.test) ;;
    dane-ta-without-chain)     ARGS=(--cert "$C/ta.pem" ta.ok.test) ;;
    digest-not-computable)     ARGS=(--spki-sha256 "$SPKI_FP" ee312.ok.test) ;;
    selector-not-computable)   ARGS=(--spki-sha256 "$SPKI_FP" ee301.ok.test) ;;
    dane-ee-match)             ARGS=(--cert "$C/good.pem" mta1.ok.test) ;;
    dane-ee-fingerprint-match) ARGS=(--spki-sha256 "$SPKI_FP" mta1.ok.test) ;;
    full-data-from-digest)     ARGS=(--spki-sha256 "$SPKI_FP" ee310.ok.test) ;;
    dane-ta-match)             ARGS=(--cert "$C/ta-chain.pem" ta.ok.test) ;;
    secure-cname-match)        ARGS=(--cert "$C/good.pem" cname.ok.test) ;;
    malformed-beside-match)    ARGS=(--cert "$C/good.pem" mixed.ok.test) ;;
    dane-ee-mismatch)          ARGS=(--cert "$C/rogue.pem" mta1.ok.test) ;;
    dane-ta-wrong-name)        ARGS=(--cert "$C/other-chain.pem" ta.ok.test) ;;
    digest-agility)            ARGS=(--cert "$C/good.pem" agile.ok.test) ;;
    server-tlsa-match)         ARGS=(--server-tlsa --cert "$C/good.pem" srv.ok.test) ;;
    server-tlsa-off)           ARGS=(--cert "$C/good.pem" srv.ok.test) ;;
    owners-fail-beats-none)    ARGS=(--server-tlsa --cert "$C/rogue.pem" srv.ok.test) ;;
    *) return 1 ;;
    esac
    return 0
}

# profile_rows FILE - the table's rows as "id<TAB>result<TAB>exit<TAB>condition", backticks
# and padding removed; a row that is not four cells gives "!<TAB>the row".
profile_rows() {
    awk -F'|' '
        /<!-- BEGIN PROFILE RESULT TABLE/ { inside = 1; next }
        /<!-- END PROFILE RESULT TABLE/   { inside = 0; next }
        !inside || !/^[[:space:]]*\|/ { next }
        {
            if (NF != 6) { printf "!\t%s\n", $0; next }
            for (i = 2; i <= 5; i++) { gsub(/`/, "", $i); gsub(/^[[:space:]]+|[[:space:]]+$/, "", $i) }
            if ($2 == "scenario" || $2 ~ /^-+$/) next
            printf "%s\t%s\t%s\t%s\n", $2, $4, $5, $3
        }' "$1"
}

# check_row ID RESULT EXIT CONDITION - run scenario ID; true when dance says RESULT with EXIT
# (and, when CONDITION says "no DNS query", nothing reached the unresponsive server).
check_row() {
    local hits0
    if ! scenario "$1"; then
        WHY="no scenario '$1' in t/dns/profile.sh (known: ${SCENARIOS//$'\n'/ })"
        no_run
        return 1
    fi
    hits0=$(tb_blackhole_hits)
    dcheck "${ARGS[@]}"
    rc_is "$3" || return 1
    verdict_is "$2" || return 1
    case $4 in
    *"no DNS query"*)
        [ "$(tb_blackhole_hits)" = "$hits0" ] || { WHY="a DNS query was sent"; return 1; } ;;
    esac
    return 0
}

# no_run - nothing was run for the next report: tap_diag shows no earlier run's output.
no_run() {
    CMD=${1:--}; RC=-; MS=-
    : >"$TB_DIR/out"; : >"$TB_DIR/err"
}

# ---------------------------------------------------------------------------
tb_init
T0=$(date +%s)
tb_standard_bed
SPKI_FP=$(tb_fingerprint 1 sha256 "$TB_CERTS/good.pem")
printf '# written by t/dns/profile.sh\nlookup_domains = ok.test\n' > "$TB_DIR/scope.conf"
echo "# profile: $PROFILE; test bed in $TB_DIR: nsd on 127.0.0.1:$TB_PORT"

profile_rows "$PROFILE" > "$TB_DIR/rows"
[ -s "$TB_DIR/rows" ] || WHY="no rows between the BEGIN/END PROFILE RESULT TABLE lines"
no_run "(reading $PROFILE)"
[ -s "$TB_DIR/rows" ]
report $? "the profile holds a delimited result table ($(wc -l < "$TB_DIR/rows") rows)"

SEEN=" "
while IFS=$'\t' read -r id result status condition; do
    no_run
    if [ "$id" = "!" ]; then
        WHY="not four cells: $result"
        report 1 "a row of the table is malformed"
        continue
    fi
    desc="$id: $condition -> $result, exit $status"
    case $SEEN in
    *" $id "*) WHY="scenario '$id' has two rows"; report 1 "$desc"; continue ;;
    esac
    SEEN="$SEEN$id "
    case $result in
    pass|fail|neutral|none|temperror|permerror) ;;
    *) WHY="'$result' is not a result word of the profile"; report 1 "$desc"; continue ;;
    esac
    case $status in
    ''|*[!0-9]*) WHY="exit status '$status' is not a number"; report 1 "$desc"; continue ;;
    esac
    check_row "$id" "$result" "$status" "$condition"
    report $? "$desc"
done < "$TB_DIR/rows"

no_run "(the table)"
missing=
for s in $SCENARIOS; do
    case $SEEN in *" $s "*) ;; *) missing="$missing $s" ;; esac
done
[ -z "$missing" ] || WHY="no row for:$missing"
[ -z "$missing" ]
report $? "every scenario of the test bed has a row in the profile"

words=
for w in pass fail neutral none temperror permerror; do
    cut -f2 "$TB_DIR/rows" | grep -qx "$w" || words="$words $w"
done
[ -z "$words" ] || WHY="no row with the result:$words"
[ -z "$words" ]
report $? "every result word (pass fail neutral none temperror permerror) has a row"

# A planted disagreement: the first row with another result and exit status must fail.
IFS=$'\t' read -r id result status condition < "$TB_DIR/rows"
if [ "$result" = pass ]; then wrong=fail wstatus=1; else wrong=pass wstatus=0; fi
if check_row "$id" "$wrong" "$wstatus" "$condition"; then
    WHY="a row claiming '$wrong' (exit $wstatus) for '$id' was accepted"
    false
else
    WHY=
    true
fi
report $? "a planted disagreement ($id -> $wrong, exit $wstatus) is caught"

T1=$(date +%s)
echo "# $NTEST tests, $NFAIL failed, $((T1 - T0)) s"
tap_end
