#!/bin/bash
# budget.sh - does one client claiming fresh names slow another client down?
#
# On the DNSSEC bed of t/dns/testbed.sh (nsd on loopback, response rate
# limiting off, libunbound without aggressive NSEC use, so every fresh name
# is a real look-up), danced runs its policy face with identities = helo.
# Client B (192.0.2.2) asks REQUESTS normal requests in turn on one
# connection: a known certificate for mta1.ok.test and ee301.ok.test in
# turn, each request a new SMTP session (client port), so each is decided
# again (from the verdict cache, as for a regular partner).  B's latency
# (p50, p99, max, from t/daemon/policyclient.py) is measured
#   1. alone;
#   2. while client A (192.0.2.1) sends FLOOD fresh names (f<N>.ok.test,
#      each an NXDOMAIN look-up) on 4 connections at once, with the
#      default lookup_budget (60/1m): A gets 60 look-ups, then temperror;
#   3. the same flood with lookup_budget = off: every one of A's names is
#      looked up.
# Each case runs ROUNDS times; the table has every round.
#
# Usage:  bench/budget.sh [-n REQUESTS] [-f FLOOD] [-r ROUNDS] BUILDDIR
#   BUILDDIR  the build directory holding danced/danced (without sanitizers)
#   -n        B's requests per round (default 500)
#   -f        A's fresh names per round, over 4 connections (default 4000)
#   -r        rounds per case (default 3)
# Needs: bash, nsd, ldnsutils, openssl, python3 (t/dns/testbed.sh).
# Exit status: 0, 1 when a run failed (B got another answer than OK), 77
# when a tool is missing.  Everything started here is stopped on exit.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$BENCH_DIR/.." && pwd)
REQUESTS=500
FLOOD=4000
ROUNDS=3

usage() {
    echo "usage: bench/budget.sh [-n REQUESTS] [-f FLOOD] [-r ROUNDS] BUILDDIR" >&2
    exit 2
}

while getopts "n:f:r:h" opt; do
    case $opt in
        n) REQUESTS=$OPTARG ;;
        f) FLOOD=$OPTARG ;;
        r) ROUNDS=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
for v in "$REQUESTS" "$FLOOD" "$ROUNDS"; do
    case $v in ''|*[!0-9]*|0) usage ;; esac
done
BUILDDIR=$(cd "$1" && pwd) || exit 2
DANCED=$BUILDDIR/danced/danced
DANCE=$BUILDDIR/cli/dance        # the bed publishes its TLSA records with `dance tlsa`
if [ ! -x "$DANCED" ] || [ ! -x "$DANCE" ]; then
    echo "budget.sh: no danced or dance in $BUILDDIR" >&2
    exit 2
fi
if ldd "$DANCED" 2>/dev/null | grep -Eq 'libasan|libubsan'; then
    echo "budget.sh: $DANCED is built with sanitizers; configure without --enable-sanitizers" >&2
    exit 2
fi

# shellcheck source=t/dns/testbed.sh
# shellcheck disable=SC1091
. "$SRCDIR/t/dns/testbed.sh"
if ! tb_require; then
    echo "budget.sh: $TB_MISSING is not installed (Debian: nsd ldnsutils openssl python3)" >&2
    exit 77
fi
CLIENT="$TB_PYTHON $SRCDIR/t/daemon/policyclient.py"
NERR=0
tb_init
# NSD's response rate limiting would measure itself: off, as in bench/run.sh.
TB_NSD_NO_RRL=1
tb_standard_bed
printf 'server:\n\taggressive-nsec: no\n' >> "$TB_CONF"
C=$TB_CERTS
GOOD=(ccert_pubkey_fingerprint="$(tb_fingerprint 1 sha256 "$C/good.pem")"
      ccert_fingerprint="$(tb_fingerprint 0 sha256 "$C/good.pem")")
PORT=$(tb_free_port) || tb_die "no free port"
EP=inet:127.0.0.1:$PORT

# start BUDGET - (re)start danced with lookup_budget = BUDGET; sets DPID.
start() {
    [ -n "${DPID:-}" ] && { kill "$DPID"; wait "$DPID" 2>/dev/null; }
    cat > "$TB_DIR/danced.conf" <<EOF
# danced of bench/budget.sh (loopback only)
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
policy_socket = $EP
authserv_id = bench.example
identities = helo
authorized_clients = .ok.test
log_format = text
lookup_budget = $1
EOF
    "$DANCED" -f -c "$TB_DIR/danced.conf" </dev/null >>"$TB_DIR/danced.log" 2>&1 &
    DPID=$!
    TB_PIDS="$TB_PIDS $DPID"
    # shellcheck disable=SC2086  # CLIENT is "python script"
    $CLIENT "$EP" wait --max 10 >/dev/null || tb_die "danced did not start: $(tail -n 2 "$TB_DIR/danced.log")"
}

# b_round OUT - client B's requests; its JSON in OUT.
b_round() {
    local args=() i n
    for i in $(seq 2 "$REQUESTS"); do
        if [ $((i % 2)) = 0 ]; then n=mta1; else n=ee301; fi
        args+=(--next "client_port=$((10000 + i))" "helo_name=$n.ok.test")
    done
    # shellcheck disable=SC2086
    $CLIENT "$EP" ask --timeout 120 "${GOOD[@]}" client_address=192.0.2.2 client_port=10001 \
        helo_name=ee301.ok.test "${args[@]}" >"$1" 2>/dev/null </dev/null
}

# a_flood ROUND - client A's fresh names on 4 connections, in the background; sets APIDS.
a_flood() {
    local c i args per=$((FLOOD / 4))
    APIDS=
    for c in 1 2 3 4; do
        args=()
        for i in $(seq 2 "$per"); do
            args+=(--next "helo_name=f$1-$c-$i.ok.test")
        done
        # shellcheck disable=SC2086
        $CLIENT "$EP" ask --timeout 300 "${GOOD[@]}" client_address=192.0.2.1 "client_port=$((20000 + c))" \
            "helo_name=f$1-$c-1.ok.test" "${args[@]}" >"$TB_DIR/a$c.out" 2>/dev/null </dev/null &
        APIDS="$APIDS $!"
    done
    TB_PIDS="$TB_PIDS $APIDS"
}

# row CASE ROUND OUT - one table row from B's JSON, plus A's answers when it flooded.
row() {
    "$TB_PYTHON" - "$1" "$2" "$3" "$TB_DIR" <<'EOF'
import json, os, sys
case, rnd, out, d = sys.argv[1:5]
j = json.load(open(out))
ms = sorted(j["ms"])
ok = j["error"] is None and all(r == "OK" for r in j["replies"])
a = {}
for c in "1234":
    p = os.path.join(d, "a%s.out" % c)
    if case != "alone" and os.path.exists(p):
        for r in json.load(open(p))["replies"]:
            k = r.split(" ")[0] + (" (budget)" if "budget exceeded" in r else "")
            a[k] = a.get(k, 0) + 1
flood = ", ".join("%s %d" % kv for kv in sorted(a.items())) or "-"
print("| %s | %s | %d | %.1f | %.1f | %.1f | %s | %s |" % (
    case, rnd, len(ms), ms[len(ms) // 2], ms[int(len(ms) * 0.99) - 1], ms[-1],
    "all OK" if ok else "NOT ALL OK", flood))
sys.exit(0 if ok else 1)
EOF
}

echo "| case | round | B requests | B p50 ms | B p99 ms | B max ms | B answers | A's answers |"
echo "|---|---|---|---|---|---|---|---|"
for budget in 60/1m off; do
    start "$budget"
    for r in $(seq 1 "$ROUNDS"); do
        if [ "$budget" = 60/1m ]; then
            rm -f "$TB_DIR"/a?.out
            b_round "$TB_DIR/b.out"
            row alone "$r" "$TB_DIR/b.out" || NERR=$((NERR + 1))
        fi
        a_flood "${budget%%/*}x$r"      # a label that fits a host name
        sleep 0.2
        b_round "$TB_DIR/b.out"
        # shellcheck disable=SC2086
        wait $APIDS
        row "flood, lookup_budget = $budget" "$r" "$TB_DIR/b.out" || NERR=$((NERR + 1))
    done
done
echo
echo "danced $("$DANCED" -V 2>&1 | head -n 1); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$NERR" = 0 ]
