#!/bin/bash
# run.sh - the danced benchmark: throughput, latency and memory of the policy service.
#
# Builds bench/policybench (cc -O2, no autotools), makes a DNSSEC world on
# loopback with t/dns/testbed.sh (zones test. and bench.test. signed now,
# nsd on a free 127.0.0.1 port, libunbound pointed at it alone), writes a
# danced configuration, starts `danced -f`, checks that a request really
# gets a DANE pass (action=OK), and then measures:
#
#   A  1 connection, the same request again and again: the verdict comes
#      from the connection's memo (Postfix's second and later recipients)
#   B  1 connection, 64 claimed names in turn: every request misses the
#      per-connection memo (it keeps MEMO_ENTRIES = 8) and is decided again
#      from the in-process TLSA cache, with one verdict log line - the
#      steady state of a server seeing many DANE-authenticated clients
#   C  as B at the DATA stage (the Authentication-Results header is built)
#   D  100 connections, as A          E  100 connections, as B
#   F  1 connection, a new name every request (u<N>.w.bench.test, a
#      DNSSEC-signed wildcard): each one is a real DNS look-up and
#      validation through libunbound - the DNS-bound rate
#   G  100 connections, as F
#   H  danced restarted with cache_max_ttl = 0 (no TLSA cache, no memo),
#      1 connection, the same name: every request goes through libunbound,
#      answered from libunbound's own cache
#   I  100 connections, as H
# and, for the targets of BENCHMARKS.md:
#   J  runs B and E against bench/trivial.c (answers DUNNO without
#      parsing: the protocol's ceiling here), alternated five times
#   K  1000 new names on 1 connection and on 100 (k?<N>.cold.bench.test,
#      m?<N>.cold.bench.test: each its own signed TLSA record), with
#      bench/dnsdelay.c adding a 10 ms round trip to every DNS query: do
#      look-ups overlap?  Three rounds.
#   L  one connection asking warm names while 200 others wait on look-ups
#      that never get an answer (a blackhole): head-of-line blocking
#   M  VmRSS with 10,000 idle connections, and after 100,000 then
#      1,000,000 more requests
#   N  instructions per request, counted by valgrind's callgrind (2,000
#      warm-up requests, then 20,000 counted, on 100 connections and on 1):
#      the figure to compare two builds by on a noisy machine (not in the
#      default set; needs valgrind; N_KEEP=DIR keeps the two profiles)
# and danced's VmRSS (/proc/PID/status): just started; after the runs;
# holding 100 and 2000 idle connections that have each had one request
# answered, and 2000 that never sent a byte - each on a freshly started
# danced that has answered one request, so that memory freed by earlier
# runs does not hide the growth.  Memory per idle connection is the
# difference divided by the number of connections.
#
# Usage:  bench/run.sh [-d SECONDS] [-o FILE] [-r RUNS] BUILDDIR
#   BUILDDIR  the build directory holding danced/danced (configure it
#             WITHOUT --enable-sanitizers: sanitizers change every number)
#   -d        seconds per throughput run (default 10; 1 s of warm-up more)
#   -o FILE   also write the report (Markdown) to FILE
#   -r RUNS   only these groups of runs, e.g. -r JK (default AHJKLM:
#             A = runs A-G and the idle-connection memory table, H = H
#             and I, J, K, L, M, N as above)
# Environment: CC and PB_CFLAGS build policybench (default: cc -O2).
# Needs: bash, cc, nsd, ldnsutils, openssl, python3 (t/dns/testbed.sh).
# Exit status: 0 when every run was free of errors, 1 otherwise, 77 when a
# tool is missing.  Everything started here is stopped on exit (also on
# Ctrl-C) and the temporary directory removed (TB_KEEP=1 keeps it).
#
# Everything stays on 127.0.0.1; policybench refuses other addresses.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$BENCH_DIR/.." && pwd)
SECONDS_PER_RUN=10
OUT=
RUNS=AHJKLM

usage() {
    echo "usage: bench/run.sh [-d SECONDS] [-o FILE] [-r RUNS] BUILDDIR" >&2
    exit 2
}

while getopts "d:o:r:h" opt; do
    case $opt in
        d) SECONDS_PER_RUN=$OPTARG ;;
        o) OUT=$OPTARG ;;
        r) RUNS=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
case $SECONDS_PER_RUN in
    ''|*[!0-9]*) usage ;;
esac
case $RUNS in
    ''|*[!AHJKLMN]*) usage ;;
esac
if [ "$SECONDS_PER_RUN" -lt 2 ] || [ "$SECONDS_PER_RUN" -gt 300 ]; then
    echo "run.sh: -d must be 2..300" >&2
    exit 2
fi
BUILDDIR=$(cd "$1" && pwd) || exit 2
DANCED=$BUILDDIR/danced/danced
[ -x "$DANCED" ] || DANCED=$BUILDDIR/policy/danced      # a build from before danced/ existed
if [ ! -x "$DANCED" ]; then
    echo "run.sh: no danced at $DANCED (build it: cd BUILDDIR && $SRCDIR/configure && make)" >&2
    exit 2
fi
if ldd "$DANCED" 2>/dev/null | grep -Eq 'libasan|libubsan'; then
    echo "run.sh: $DANCED is built with sanitizers; configure without --enable-sanitizers" >&2
    exit 2
fi
if [ -n "$OUT" ]; then
    : > "$OUT" || exit 2
    OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
fi

# shellcheck source=t/dns/testbed.sh
# shellcheck disable=SC1091
. "$SRCDIR/t/dns/testbed.sh"
if ! tb_require; then
    echo "run.sh: $TB_MISSING is not installed (Debian: nsd ldnsutils openssl python3)" >&2
    exit 77
fi
tb_init

NERR=0
DPID=
SAMPLE=
REPORT=$TB_DIR/report.md

# say TEXT... - one line of the report (stdout and the report file).
say() {
    printf '%s\n' "$*" | tee -a "$REPORT"
}

# want G - whether the group of runs G was asked for (-r).
want() {
    case $RUNS in
        *"$1"*) return 0 ;;
    esac
    return 1
}

# rss_kb PID - VmRSS of PID in kB.
rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ------------------------------------------------------------------------
# 1. policybench

PB=$TB_DIR/policybench
# shellcheck disable=SC2086  # PB_CFLAGS is a list of options
${CC:-cc} ${PB_CFLAGS:--O2} -Wall -Wextra -o "$PB" "$BENCH_DIR/policybench.c" || tb_die "cannot build policybench"

# ------------------------------------------------------------------------
# 2. The DNSSEC bed: test. (the trust anchor) delegates bench.test. with DS.
#    bench.test.: h0 .. h63 with _smtp-client TLSA 3 1 1 of the client key,
#    and *.w.bench.test. TLSA 3 1 1 for the unique names of runs F and G.

NAMES=64
MEMO_ENTRIES=$(awk '/#define MEMO_ENTRIES/ { print $3 }' "$SRCDIR/policy/memo.h")
if [ -n "$MEMO_ENTRIES" ] && [ "$MEMO_ENTRIES" -ge "$NAMES" ]; then
    tb_die "MEMO_ENTRIES ($MEMO_ENTRIES) >= $NAMES: runs B, C, E would hit the memo; raise NAMES"
fi

tb_cert_selfsigned client mx.bench.test
ASSOC=$(tb_assoc 1 1 "$TB_CERTS/client.pem")
[ ${#ASSOC} = 64 ] || tb_die "cannot hash the client key"
PUBKEY_FP=$(tb_fingerprint 1 sha256 "$TB_CERTS/client.pem")
CERT_FP=$(tb_fingerprint 0 sha256 "$TB_CERTS/client.pem")

tb_zone_head test
tb_zone_head bench.test
# shellcheck disable=SC2016  # a literal $TTL
sed -i 's/^\$TTL 300$/$TTL 3600/' "$TB_ZONES/bench.test.zone"   # outlive the whole run
tb_zone_keys test
tb_zone_keys bench.test
for i in $(seq 0 $((NAMES - 1))); do
    tb_zone_add bench.test "h$i	IN	A	127.0.0.1" \
        "_smtp-client.h$i	IN	TLSA	3 1 1 $ASSOC"
done
tb_zone_add bench.test "*.w	IN	TLSA	3 1 1 $ASSOC"
# run K: 6 x 1000 names with their own TLSA records (no wildcard, so each
# look-up validates one signature, as for a real sender's record)
for p in ka kb kc ma mb mc; do
    for i in $(seq 0 999); do
        printf '_smtp-client.%s%s.cold\tIN\tTLSA\t3 1 1 %s\n' "$p" "$i" "$ASSOC"
    done
done >> "$TB_ZONES/bench.test.zone"
tb_zone_add test "bench	IN	NS	ns1.bench.test." "ns1.bench	IN	A	127.0.0.1"
tb_zone_ds bench.test >> "$TB_ZONES/test.zone"
tb_zone_sign test
tb_zone_sign bench.test
TB_TA=$TB_DIR/test.ta
tb_zone_ds test > "$TB_TA"
# NSD's response rate limiting would make runs F and G measure it: off.
TB_NSD_NO_RRL=1
tb_nsd_start test bench.test
nsd-checkconf "$TB_DIR/nsd.conf" || tb_die "nsd.conf with rrl-ratelimit: 0 is refused"
TB_CONF=$TB_DIR/unbound.conf
tb_unbound_conf "$TB_CONF" test="$TB_PORT" bench.test="$TB_PORT"
# Runs F/G must query nsd for every new name, not synthesize from NSEC (RFC 8198).
printf 'server:\n\taggressive-nsec: no\n' >> "$TB_CONF"

# ------------------------------------------------------------------------
# 3. danced

PORT=$(tb_free_port) || tb_die "no free port"
ENDPOINT=inet:127.0.0.1:$PORT

# write_conf FILE [EXTRA-LINE...] - the benchmark's danced configuration.
write_conf() {
    local f=$1
    shift
    cat > "$f" <<EOF
# danced configuration of bench/run.sh (loopback only)
trust_anchor_file = $TB_TA
resolver_config = $TB_CONF
policy_socket = $ENDPOINT
authserv_id = bench.example
identities = helo, mailfrom
authorized_clients = .bench.test
log_format = text
dns_timeout = 10s
# one client address asks everything here: no per-client look-up budget
lookup_budget = off
EOF
    printf '%s\n' "$@" >> "$f"
}

# danced_start CONF - start danced -f in the background (log in $TB_DIR/danced.log); sets DPID.
danced_start() {
    "$DANCED" -n -c "$1" >"$TB_DIR/danced-n.out" 2>&1 \
        || tb_die "danced -n rejects the configuration: $(cat "$TB_DIR/danced-n.out")"
    "$DANCED" -f -c "$1" </dev/null >>"$TB_DIR/danced.log" 2>&1 &
    DPID=$!
    TB_PIDS="$TB_PIDS $DPID"
    for _ in $(seq 1 100); do
        tb_running "$DPID" || tb_die "danced exited: $(tail -n 5 "$TB_DIR/danced.log")"
        if "$PB" -n 1 -d 1 -E 1 -T 1 -H h0.bench.test -P "$PUBKEY_FP" -F "$CERT_FP" \
            "$ENDPOINT" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    tb_die "danced does not answer on $ENDPOINT: $(tail -n 5 "$TB_DIR/danced.log")"
}

# danced_stop - SIGTERM and wait (at most 5 s, then SIGKILL).
danced_stop() {
    [ -n "$DPID" ] || return 0
    kill -TERM "$DPID" 2>/dev/null
    for _ in $(seq 1 50); do
        tb_running "$DPID" || break
        sleep 0.1
    done
    tb_running "$DPID" && kill -KILL "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    # shellcheck disable=SC2086  # a list of pids
    TB_PIDS=$(printf '%s\n' $TB_PIDS | grep -vx "$DPID" | tr '\n' ' ')
    DPID=
}

HNAMES=()
for i in $(seq 0 $((NAMES - 1))); do
    HNAMES+=(-H "h$i.bench.test")
done
FP=(-P "$PUBKEY_FP" -F "$CERT_FP")
D=$SECONDS_PER_RUN
TOTAL=$((D + 1))

# pb LABEL ARGS... - one policybench run; its report goes to the log, a table row to the report.
pb() {
    local label=$1 out=$TB_DIR/pb.out line rps p50 p90 p99 max errs actions cmd cpus cpuc vlines
    shift
    : > "$TB_DIR/danced.log"
    cmd="policybench $* -M \$DANCED_PID \$ENDPOINT"
    cmd=${cmd//"${HNAMES[*]}"/"-H h0.bench.test -H h1.bench.test ... -H h$((NAMES - 1)).bench.test"}
    cmd=${cmd//"$PUBKEY_FP"/\$PUBKEY_FP}
    cmd=${cmd//"$CERT_FP"/\$CERT_FP}
    printf '%-8s %s\n' "${label%% *}:" "$cmd" >> "$TB_DIR/commands"
    "$PB" "$@" -M "$DPID" "$ENDPOINT" > "$out" 2>&1 || NERR=$((NERR + 1))
    sed 's/^/    /' "$out" >> "$TB_DIR/details"
    printf '\n' >> "$TB_DIR/details"
    line=$(grep '^result:' "$out")
    rps=$(printf '%s\n' "$line" | sed -n 's/.* rps=\([^ ]*\).*/\1/p')
    p50=$(printf '%s\n' "$line" | sed -n 's/.* p50_us=\([^ ]*\).*/\1/p')
    p90=$(printf '%s\n' "$line" | sed -n 's/.* p90_us=\([^ ]*\).*/\1/p')
    p99=$(printf '%s\n' "$line" | sed -n 's/.* p99_us=\([^ ]*\).*/\1/p')
    max=$(printf '%s\n' "$line" | sed -n 's/.* max_us=\([^ ]*\).*/\1/p')
    errs=$(printf '%s\n' "$line" | sed -n 's/.* errors=\([^ ]*\).*/\1/p')
    cpus=$(printf '%s\n' "$line" | sed -n 's/.* cpu_server=\([^ ]*\).*/\1/p')
    cpuc=$(printf '%s\n' "$line" | sed -n 's/.* cpu_client=\([^ ]*\).*/\1/p')
    actions=$(sed -n 's/^actions: //p' "$out" | sed 's/ ([0-9.]*%)//g')
    # verdict lines written during the whole run (warm-up included); then
    # empty the log (danced appends to it) so that it never grows large
    vlines=$(grep -c 'verdict' "$TB_DIR/danced.log")
    [ -z "$SAMPLE" ] && SAMPLE=$(grep -m1 'verdict' "$TB_DIR/danced.log")
    grep -v 'verdict' "$TB_DIR/danced.log" | head -n 20 >> "$TB_DIR/danced.other"
    : > "$TB_DIR/danced.log"
    say "| $label | ${rps:-?} | ${p50:-?} | ${p90:-?} | ${p99:-?} | ${max:-?} | ${cpus:-?} | ${cpuc:-?} | ${vlines:-?} | ${errs:-?} | ${actions:-?} |"
}

# hold LABEL N R - on a fresh danced that has answered one request: N
# connections, each answered R requests, then idle; danced's RSS before and while held.
hold() {
    local label=$1 n=$2 r=$3 out=$TB_DIR/hold.out before held per
    danced_stop
    danced_start "$CONF"
    printf '%-8s %s\n' "memory:" "policybench -i -c $n -r $r -d 5 -M \$DANCED_PID -H h0.bench.test -P \$PUBKEY_FP -F \$CERT_FP \$ENDPOINT" \
        >> "$TB_DIR/commands"
    "$PB" -i -c "$n" -r "$r" -d 5 -M "$DPID" -H h0.bench.test "${FP[@]}" "$ENDPOINT" > "$out" 2>&1 \
        || NERR=$((NERR + 1))
    sed 's/^/    /' "$out" >> "$TB_DIR/details"
    printf '\n' >> "$TB_DIR/details"
    before=$(sed -n 's/^rss before: .* VmRSS \([0-9]*\) kB.*/\1/p' "$out")
    held=$(sed -n 's/^rss held: .* VmRSS \([0-9]*\) kB.*/\1/p' "$out")
    if [ -n "$before" ] && [ -n "$held" ]; then
        per=$(awk -v a="$before" -v b="$held" -v n="$n" 'BEGIN { printf "%.2f", (b - a) * 1024 / n / 1024 }')
        say "| $label | $before | $held | $per |"
    else
        say "| $label | ${before:-?} | ${held:-?} (not all connections were held) | ? |"
        NERR=$((NERR + 1))
    fi
}

# bench LABEL ENDPOINT PID ARGS... - one policybench run, kept in the details;
# sets B_RPS, B_P99 (us), B_ERRS, B_CPU (server CPU %), B_MS (wall time of the measured part, ms).
bench() {
    local label=$1 ep=$2 pid=$3 out=$TB_DIR/bench.out line
    shift 3
    printf '%-8s %s\n' "${label%% *}:" "policybench $* ${pid:+-M \$PID} \$ENDPOINT" \
        | sed "s|$PUBKEY_FP|\$PUBKEY_FP|g; s|$CERT_FP|\$CERT_FP|g" >> "$TB_DIR/commands"
    "$PB" "$@" ${pid:+-M "$pid"} "$ep" > "$out" 2>&1 || NERR=$((NERR + 1))
    { echo "$label:"; sed 's/^/    /' "$out"; echo; } >> "$TB_DIR/details"
    line=$(grep '^result:' "$out")
    B_RPS=$(printf '%s\n' "$line" | sed -n 's/.* rps=\([^ ]*\).*/\1/p')
    B_P99=$(printf '%s\n' "$line" | sed -n 's/.* p99_us=\([^ ]*\).*/\1/p')
    B_ERRS=$(printf '%s\n' "$line" | sed -n 's/.* errors=\([^ ]*\).*/\1/p')
    B_CPU=$(printf '%s\n' "$line" | sed -n 's/.* cpu_server=\([^ ]*\).*/\1/p')
    B_MS=$(printf '%s\n' "$line" | sed -n 's/.* seconds=\([^ ]*\).*/\1/p' | awk '{ printf "%.0f", 1000 * $1 }')
    : > "$TB_DIR/danced.log"
}

# median V... - the median of the numbers.
median() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ------------------------------------------------------------------------
# 4. The machine.

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
os=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null)
rev=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null)
[ -n "$(git -C "$SRCDIR" status --porcelain 2>/dev/null)" ] && rev="$rev + uncommitted changes"
say "## Run of $(date -u '+%Y-%m-%d %H:%M UTC')"
say ""
say "- machine: $(nproc) CPU(s), ${cpu:-unknown CPU}, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM; ${os:-unknown OS}, Linux $(uname -r)"
say "- source: git ${rev:-unknown}; danced: $("$DANCED" -V 2>&1 | head -n 1); sha256 of lib/*.[ch] policy/*.[ch]: $(cat "$SRCDIR"/lib/*.[ch] "$SRCDIR"/policy/*.[ch] | sha256sum | cut -c1-16)"
say "- danced built from: $(sed -n 's/^abs_top_srcdir = //p' "$BUILDDIR/Makefile" | head -n 1) (git $(git -C "$(sed -n 's/^abs_top_srcdir = //p' "$BUILDDIR/Makefile" | head -n 1)" rev-parse --short HEAD 2>/dev/null || echo ?))"
say "- build: $(grep -m1 '^CFLAGS = ' "$BUILDDIR/Makefile" | sed 's/^CFLAGS = //' | sed 's/^$/(default)/') ($(cc --version | head -n 1))"
say "- libunbound $(pkg-config --modversion libunbound 2>/dev/null || echo ?), libevent $(pkg-config --modversion libevent 2>/dev/null || echo ?), OpenSSL $(openssl version | awk '{ print $2 }'), $(nsd -v 2>&1 | head -n 1)"
say "- each throughput run: $D s measured after 1 s of warm-up (policybench -d $TOTAL -w 1)"
say "- load average when the run started: $(cut -d ' ' -f 1-3 /proc/loadavg) (anything else running shares the CPUs)"
say "- groups of runs: $RUNS (bench/run.sh -r)"
say ""

# ------------------------------------------------------------------------
# 5. Runs.

CONF=$TB_DIR/danced.conf
write_conf "$CONF"
: > "$TB_DIR/danced.log"
danced_start "$CONF"
RSS_START=$(rss_kb "$DPID")

# The path must be the real one: a DANE pass for an authorized client.
"$PB" -n 1 -d 5 -H h0.bench.test "${FP[@]}" "$ENDPOINT" > "$TB_DIR/sanity.out" 2>&1
if ! grep -q '^actions: OK 1 ' "$TB_DIR/sanity.out"; then
    cat "$TB_DIR/sanity.out" >&2
    tail -n 20 "$TB_DIR/danced.log" >&2
    tb_die "the first request did not get action=OK (a DANE pass); see above"
fi
: > "$TB_DIR/danced.other"
# Fill the TLSA cache: every name once.
"$PB" -c 1 -n "$NAMES" -d 30 "${HNAMES[@]}" "${FP[@]}" "$ENDPOINT" > "$TB_DIR/fill.out" 2>&1 \
    || tb_die "filling the cache failed: $(cat "$TB_DIR/fill.out")"
grep -q "^actions: OK $NAMES " "$TB_DIR/fill.out" \
    || tb_die "not every bench name passes: $(grep '^actions' "$TB_DIR/fill.out")"

if want A; then
    say "### Throughput and latency"
    say ""
    say "Latency: from sending a request to reading its whole reply, in microseconds."
    say "CPU: percent of one core used while measuring, by danced (all its threads) and by policybench."
    say "Verdict log lines: lines danced wrote during the run, warm-up included (one per verdict computed)."
    say ""
    say "| run | requests/s | p50 | p90 | p99 | max | danced CPU % | client CPU % | verdict log lines | errors | actions |"
    say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    pb "A 1 conn, same request (memo)" -c 1 -d "$TOTAL" -w 1 -H h0.bench.test "${FP[@]}"
    pb "B 1 conn, 64 names (TLSA cache)" -c 1 -d "$TOTAL" -w 1 "${HNAMES[@]}" "${FP[@]}"
    pb "C 1 conn, 64 names, DATA stage" -c 1 -d "$TOTAL" -w 1 -s data "${HNAMES[@]}" "${FP[@]}"
    pb "D 100 conns, same request (memo)" -c 100 -d "$TOTAL" -w 1 -H h0.bench.test "${FP[@]}"
    pb "E 100 conns, 64 names (TLSA cache)" -c 100 -d "$TOTAL" -w 1 "${HNAMES[@]}" "${FP[@]}"
    pb "F 1 conn, new name each (DNS)" -c 1 -d "$TOTAL" -w 1 -H 'u%n.w.bench.test' "${FP[@]}"
    pb "G 100 conns, new name each (DNS)" -c 100 -d "$TOTAL" -w 1 -H 'u%n.w.bench.test' "${FP[@]}"
    RSS_AFTER=$(rss_kb "$DPID")

    say ""
    say "### Memory (danced VmRSS, kB)"
    say ""
    say "| state | before | with the connections | kB per connection |"
    say "|---|---:|---:|---:|"
    say "| just started / after runs A-G (100 connections at most) | $RSS_START | $RSS_AFTER | |"
    hold "100 idle connections, 1 request answered each" 100 1
    hold "2000 idle connections, 1 request answered each" 2000 1
    hold "2000 idle connections, never sent a byte" 2000 0
    danced_stop
fi

danced_stop

if want H; then
    # H: no cache at all (cache_max_ttl = 0 also makes the memo expire at once).
    write_conf "$CONF" "cache_max_ttl = 0"
    danced_start "$CONF"
    say ""
    say "### Without danced's TLSA cache (cache_max_ttl = 0; libunbound's own cache still answers)"
    say ""
    say "| run | requests/s | p50 | p90 | p99 | max | danced CPU % | client CPU % | verdict log lines | errors | actions |"
    say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    pb "H 1 conn, same request, no cache" -c 1 -d "$TOTAL" -w 1 -H h0.bench.test "${FP[@]}"
    pb "I 100 conns, same request, no cache" -c 100 -d "$TOTAL" -w 1 -H h0.bench.test "${FP[@]}"
    danced_stop
fi

# ------------------------------------------------------------------------
# 6. The targets: against a trivial responder, overlapping cold look-ups,
#    head-of-line blocking, memory.

if want J; then
    # J: danced against the cheapest possible responder, the same load, alternated.
    TRIVIAL=$TB_DIR/trivial
    # shellcheck disable=SC2086
    ${CC:-cc} ${PB_CFLAGS:--O2} -Wall -Wextra -o "$TRIVIAL" "$BENCH_DIR/trivial.c" || tb_die "cannot build trivial.c"
    TPORT=$(tb_free_port) || tb_die "no free port"
    "$TRIVIAL" "$TPORT" &
    TPID=$!
    TB_PIDS="$TB_PIDS $TPID"
    write_conf "$CONF"
    danced_start "$CONF"
    "$PB" -c 1 -n "$NAMES" -d 30 "${HNAMES[@]}" "${FP[@]}" "$ENDPOINT" > "$TB_DIR/fill.out" 2>&1
    declare -A RPS=() RATIO=() CPUD=() CPUT=()
    for round in 1 2 3 4 5; do
        for c in 1 100; do
            bench "J$round danced c=$c" "$ENDPOINT" "$DPID" -c "$c" -d "$TOTAL" -w 1 "${HNAMES[@]}" "${FP[@]}"
            d_rps=${B_RPS:-0}
            RPS[danced$c]+=" $d_rps" CPUD[$c]+=" ${B_CPU:-0}"
            bench "J$round trivial c=$c" "inet:127.0.0.1:$TPORT" "$TPID" -c "$c" -d "$TOTAL" -w 1 "${HNAMES[@]}" "${FP[@]}"
            RPS[trivial$c]+=" ${B_RPS:-0}" CPUT[$c]+=" ${B_CPU:-0}"
            RATIO[$c]+=" $(awk -v a="$d_rps" -v b="${B_RPS:-0}" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }')"
        done
    done
    say ""
    say "### Against a trivial responder (bench/trivial.c: answers DUNNO without parsing)"
    say ""
    say "The same load (run B / E: 64 names, TLSA cache warm, two verdicts and two log lines a request), danced and trivial alternated five times; medians; the ratio is the median of the five side-by-side ratios. Server CPU: percent of one core, median."
    say ""
    say "| connections | danced requests/s | trivial requests/s | danced / trivial (target 0.8) | server CPU danced / trivial | ratios of the five rounds |"
    say "|---:|---:|---:|---:|---:|---|"
    for c in 1 100; do
        # shellcheck disable=SC2086  # lists of numbers
        say "| $c | $(median ${RPS[danced$c]}) | $(median ${RPS[trivial$c]}) | $(median ${RATIO[$c]}) | $(median ${CPUD[$c]}) / $(median ${CPUT[$c]}) |${RATIO[$c]} |"
    done
    danced_stop
    kill "$TPID" 2>/dev/null
fi

if want K; then
    # K: cold verifications over a 10 ms round trip, one connection against 100.
    DELAY_MS=${K_DELAY_MS:-10}     # K_DELAY_MS: another round trip, to see what the delay costs
    # shellcheck disable=SC2086
    ${CC:-cc} ${PB_CFLAGS:--O2} -Wall -Wextra -o "$TB_DIR/dnsdelay" "$BENCH_DIR/dnsdelay.c" || tb_die "cannot build dnsdelay.c"
    "$TB_DIR/dnsdelay" "$TB_DIR/delay.port" "$TB_PORT" "$DELAY_MS" &
    TB_PIDS="$TB_PIDS $!"
    for _ in $(seq 1 50); do [ -s "$TB_DIR/delay.port" ] && break; sleep 0.05; done
    [ -s "$TB_DIR/delay.port" ] || tb_die "dnsdelay did not start"
    DCONF=$TB_DIR/unbound-delay.conf
    tb_unbound_conf "$DCONF" test="$(cat "$TB_DIR/delay.port")" bench.test="$(cat "$TB_DIR/delay.port")"
    printf 'server:\n\taggressive-nsec: no\n' >> "$DCONF"
    write_conf "$CONF"
    sed -i "s|^resolver_config = .*|resolver_config = $DCONF|" "$CONF"
    danced_start "$CONF"
    KR=() K1S=() K100S=() KERR=0
    for r in a b c; do          # three rounds, each with names never asked before
        bench "K$r 1 conn, 1000 new names" "$ENDPOINT" "$DPID" -c 1 -n 1000 -d 120 -T 30 -H "k$r%n.cold.bench.test" "${FP[@]}"
        k1=$B_MS KERR=$((KERR + ${B_ERRS:-1}))
        bench "K$r 100 conns, 1000 new names" "$ENDPOINT" "$DPID" -c 100 -n 1000 -d 120 -T 30 -H "m$r%n.cold.bench.test" "${FP[@]}"
        k100=$B_MS KERR=$((KERR + ${B_ERRS:-1}))
        K1S+=("$k1") K100S+=("$k100")
        KR+=("$(awk -v a="$k1" -v b="$k100" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }')")
    done
    danced_stop
    say ""
    say "### Cold verifications over a ${DELAY_MS} ms DNS round trip (bench/dnsdelay.c in front of nsd)"
    say ""
    say "1000 distinct names (a real look-up and DNSSEC validation each, every name its own signed TLSA record), on one connection and on 100; three rounds with new names each; medians."
    say ""
    say "| connections | time for 1000 (median) | the three rounds |"
    say "|---:|---:|---|"
    say "| 1 | $(median "${K1S[@]}") ms | ${K1S[*]} ms |"
    say "| 100 | $(median "${K100S[@]}") ms | ${K100S[*]} ms |"
    say ""
    say "Errors in all six runs: $KERR."
    say ""
    say "100 connections finish $(median "${KR[@]}") times faster, median of the rounds' ratios (${KR[*]}; target: at least 20)."
fi

if want L; then
    # L: head-of-line: 200 look-ups hang while one connection asks warm names.
    tb_blackhole_start
    HCONF=$TB_DIR/unbound-hang.conf
    cp "$TB_CONF" "$HCONF"
    printf 'stub-zone:\n\tname: "hang.bench.test."\n\tstub-addr: 127.0.0.1@%s\n' "$TB_BH_PORT" >> "$HCONF"
    write_conf "$CONF"
    sed -i "s|^resolver_config = .*|resolver_config = $HCONF|; s|^dns_timeout = .*|dns_timeout = 60s|" "$CONF"
    LROWS=() LP99=() bh0=0
    for r in a b c; do
        # a fresh danced each round: libunbound remembers a server that timed
        # out (its infra cache) and would answer the next round's look-ups at once
        danced_start "$CONF"
        "$PB" -c 1 -n "$NAMES" -d 30 "${HNAMES[@]}" "${FP[@]}" "$ENDPOINT" > "$TB_DIR/fill.out" 2>&1
        # 200 ask once each for a name under the blackhole and stop on their own after 12 s,
        # reporting how many were answered; one more asks warm names meanwhile
        "$PB" -c 200 -n 200 -d 12 -T 90 -H "x$r%n.hang.bench.test" "${FP[@]}" "$ENDPOINT" > "$TB_DIR/hang.out" 2>&1 &
        HANG=$!
        sleep 2
        reached=$(( $(grep -c . "$TB_BH_COUNT") - bh0 ))
        bench "L$r 1 conn, warm, while 200 look-ups hang" "$ENDPOINT" "$DPID" -c 1 -d 6 -w 1 "${HNAMES[@]}" "${FP[@]}"
        wait "$HANG" 2>/dev/null
        answered=$(sed -n 's/^result: .* replies=\([0-9]*\).*/\1/p' "$TB_DIR/hang.out")
        { echo "L$r the 200 hanging connections:"; sed 's/^/    /' "$TB_DIR/hang.out"; echo; } >> "$TB_DIR/details"
        LP99+=("${B_P99:-0}")
        LROWS+=("| $r | ${B_RPS:-?} | ${B_P99:-?} us | ${B_ERRS:-?} | ${answered:-?} of 200 | ${reached:-?} |")
        danced_stop
        bh0=$(grep -c . "$TB_BH_COUNT")
    done
    say ""
    say "### Head-of-line: 200 look-ups hanging on a server that never answers"
    say ""
    say "200 connections each send one request for a name under hang.bench.test (a blackhole; dns_timeout = 60 s) and wait; 2 s later one more connection asks the 64 warm names for 6 s (1 s of it warm-up). Three rounds, each with a freshly started danced and new hanging names. \"Answered\": of the 200, how many had any answer 12 s after they asked (0: all were still waiting, so the warm requests ran beside 200 pending look-ups). The last column counts the queries that had reached the blackhole 2 s into the round (libunbound retries a server that does not answer, so a look-up can send several)."
    say ""
    say "| round | warm requests/s | p99 | errors | hanging ones answered | queries at the blackhole after 2 s |"
    say "|---|---:|---:|---:|---:|---:|"
    for row in "${LROWS[@]}"; do say "$row"; done
    say ""
    say "Median p99 of the warm requests: $(median "${LP99[@]}") us (target: under 5 ms)."
fi

if want M; then
    # M: memory: 10,000 idle connections; and no growth over 1,000,000 requests.
    write_conf "$CONF" "max_connections = 11000"
    hold_n() {
        local n=$1 out=$TB_DIR/hold.out
        danced_stop
        danced_start "$CONF"
        bench "M $n idle connections" "$ENDPOINT" "$DPID" -i -c "$n" -r 1 -d 40 -H h0.bench.test "${FP[@]}"
        cp "$TB_DIR/bench.out" "$out"
        M_BEFORE=$(sed -n 's/^rss before: .* VmRSS \([0-9]*\) kB.*/\1/p' "$out")
        M_HELD=$(sed -n 's/^rss held: .* VmRSS \([0-9]*\) kB.*/\1/p' "$out")
    }
    hold_n 10000
    danced_stop
    danced_start "$CONF"
    "$PB" -c 1 -n "$NAMES" -d 30 "${HNAMES[@]}" "${FP[@]}" "$ENDPOINT" > "$TB_DIR/fill.out" 2>&1
    bench "M 100k requests" "$ENDPOINT" "$DPID" -c 100 -n 100000 -d 300 "${HNAMES[@]}" "${FP[@]}"
    R100K=$(rss_kb "$DPID")
    bench "M 1M requests" "$ENDPOINT" "$DPID" -c 100 -n 1000000 -d 600 "${HNAMES[@]}" "${FP[@]}"
    R1M=$(rss_kb "$DPID") M1E=$B_ERRS
    danced_stop
    say ""
    say "### Memory at scale (danced VmRSS, kB)"
    say ""
    say "| state | VmRSS |"
    say "|---|---:|"
    say "| 10,000 idle connections: before / held | ${M_BEFORE:-?} / ${M_HELD:-?} ($(awk -v a="${M_BEFORE:-0}" -v b="${M_HELD:-0}" 'BEGIN { printf "%.2f", (b - a) / 10000 }') kB each) |"
    say "| after 100,000 requests on 100 connections | ${R100K:-?} |"
    say "| after 1,000,000 more requests | ${R1M:-?} (errors: ${M1E:-?}) |"
fi

if want N; then
    # N: instructions per request under callgrind, which the neighbours cannot move.
    if ! command -v callgrind_control >/dev/null 2>&1; then
        say ""
        say "N: skipped (valgrind is not installed)"
    else
        danced_stop
        write_conf "$CONF"
        DANCED_REAL=$DANCED
        printf '#!/bin/sh\nexec valgrind -q --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file=%s/callgrind.%%p "%s" "$@"\n' \
            "$TB_DIR" "$DANCED_REAL" > "$TB_DIR/danced-callgrind"
        chmod +x "$TB_DIR/danced-callgrind"
        DANCED=$TB_DIR/danced-callgrind
        danced_start "$CONF"
        say ""
        say "## Instructions per request (run N: callgrind, 2,000 warm-up requests, then 20,000 counted)"
        say ""
        say "| connections | instructions | per request |"
        say "|---:|---:|---:|"
        for c in 100 1; do
            "$PB" -n 2000 -d 120 -c "$c" "${HNAMES[@]}" "${FP[@]}" "$ENDPOINT" > "$TB_DIR/n-warm.out" 2>&1
            callgrind_control -z "$DPID" > /dev/null 2>&1
            "$PB" -n 20000 -d 300 -c "$c" "${HNAMES[@]}" "${FP[@]}" "$ENDPOINT" > "$TB_DIR/n.out" 2>&1 \
                || NERR=$((NERR + 1))
            callgrind_control -d "c$c" "$DPID" > /dev/null 2>&1
            sleep 1
            N_FILE=$(ls -t "$TB_DIR"/callgrind.* | head -n 1)
            N_IR=$(awk '/^(summary|totals):/ { print $2 }' "$N_FILE" | tail -n 1)
            # N_KEEP=DIR keeps the profile for callgrind_annotate
            [ -z "${N_KEEP:-}" ] || cp "$N_FILE" "$N_KEEP/callgrind.c$c"
            say "| $c | ${N_IR:-?} | $(( ${N_IR:-0} / 20000 )) |"
        done
        danced_stop
        DANCED=$DANCED_REAL
    fi
fi

say ""
say "### Logging"
say ""
say "danced -f wrote its log to stderr, redirected to a file (the verdict lines of a request in one write(2), right after its reply); a verdict line:"
say ""
say "    ${SAMPLE:-(none)}"
say ""
say "Other log lines during the runs (first 20 a run): $(wc -l < "$TB_DIR/danced.other")"
sed 's/^/    /' "$TB_DIR/danced.other" | head -n 20 | tee -a "$REPORT"
say ""
say "### Commands (\$ENDPOINT = $ENDPOINT here; fingerprints of the bench certificate)"
say ""
sed 's/^/    /' "$TB_DIR/commands" | tee -a "$REPORT"
say ""
say "### policybench output, run by run"
say ""
tee -a "$REPORT" < "$TB_DIR/details"
if [ "$NERR" -gt 0 ]; then
    say "**$NERR run(s) had errors** (see the output above)."
fi
[ -n "$OUT" ] && cp "$REPORT" "$OUT"
[ "$NERR" -eq 0 ]
