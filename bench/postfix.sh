#!/bin/bash
# postfix.sh - messages per second through a real Postfix, with and without danced.
#
# One run of this script measures, on this machine, side by side:
#   plain   Postfix with STARTTLS and client certificates requested
#           (smtpd_tls_ask_ccert), no policy service, no milter;
#   policy  the same Postfix asking a danced that runs the policy service
#           alone (at RCPT and DATA; it PREPENDs the header);
#   danced  the same Postfix with danced's policy service at RCPT and DATA
#           and danced's milter in smtpd_milters, as contrib/postfix/main.cf
#           sets them up (the recommended set-up);
#   opendkim  the same Postfix with OpenDKIM as its one milter (on a unix
#           socket), verifying (Mode v) and adding one
#           Authentication-Results field to every message
#           (AlwaysAddARHeader; the messages are not signed, so OpenDKIM
#           makes no DNS query): a peer milter doing comparable
#           per-message work, as the yardstick for danced's cost;
#   null    the same Postfix with bench/nullmilter.c as its one milter: no
#           work, one fixed header field inserted, the stages, replies,
#           macros and socket options danced negotiates - what the milter
#           protocol itself costs danced's set-up;
#   nullmin the same with nullmilter -m min: header fields and end of
#           message only, every other stage skipped - the floor for any
#           milter that removes forged header fields;
#   danced-unix, null-unix, nullmin-unix  the same three with the milter
#           on a unix-domain socket instead of loopback TCP (a third
#           danced, policy service on TCP, milter on unix:).
# Every message gets dane=pass verdicts (the client's certificate is
# published in a DNSSEC-signed zone).  The modes alternate (plain, policy,
# danced, opendkim, null, nullmin, plain, ...) so that drift of the machine hits all alike; each
# figure is the median of the runs.  Besides messages per second: the CPU
# time the whole machine spent per message (from /proc/stat, client
# included) and the CPU time danced spent per message (/proc/PID/stat).
# Load: bench/smtpload.py, PARALLEL processes making CONNECTIONS TLS
# connections in all, MESSAGES messages on each (one recipient).
# Deliveries go to Postfix's discard transport, so the figures are what the
# SMTP server accepts, not what a delivery agent writes.  Before the runs,
# one message is delivered to a file and its header checked (dane=pass on
# top; in the opendkim mode OpenDKIM's dkim= field), so each mode really
# does what it is measured doing.
#
# Usage, as root (Postfix), from anywhere:
#     bench/postfix.sh [-r RUNS] [-c CONNECTIONS] [-m MESSAGES] [-p PARALLEL] [-o FILE] BUILDDIR
#   BUILDDIR  a build directory without sanitizers (danced/danced, cli/dance)
#   defaults  -r 5 -c 200 -m 5 -p 8
#   -o FILE   also write the Markdown report to FILE
# Needs what t/postfix/milter.sh needs, opendkim (Debian: opendkim) and
# cc with libmilter's header (libmilter-dev) to build nullmilter.
# Everything stays on loopback and is removed at exit.

set -u
RUNS=5 CONNS=200 MSGS=5 PAR=8 OUT=
while getopts r:c:m:p:o: opt; do
    case $opt in
        r) RUNS=$OPTARG ;;
        c) CONNS=$OPTARG ;;
        m) MSGS=$OPTARG ;;
        p) PAR=$OPTARG ;;
        o) OUT=$OPTARG ;;
        *) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 64 ;;
    esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || { echo "usage: bench/postfix.sh [-r RUNS] [-c N] [-m N] [-p N] [-o FILE] BUILDDIR" >&2; exit 64; }
BUILD=$(cd "$1" && pwd) || exit 64
HERE=$(cd "$(dirname "$0")" && pwd)
TESTDIR=$HERE/../t
DANCE=$BUILD/cli/dance
DANCED=$BUILD/danced/danced
case $OUT in ''|/*) ;; *) OUT=$PWD/$OUT ;; esac

# shellcheck source=t/dns/testbed.sh
. "$TESTDIR/dns/testbed.sh"
# shellcheck source=t/postfix/postfixbed.sh
. "$TESTDIR/postfix/postfixbed.sh"
tb_require || { echo "needs $TB_MISSING" >&2; exit 77; }
command -v opendkim >/dev/null 2>&1 || { echo "needs opendkim (Debian: opendkim)" >&2; exit 77; }
pb_require || { echo "needs $PB_MISSING" >&2; exit 77; }
if nm "$DANCED" 2>/dev/null | grep -q __asan_init; then
    echo "bench/postfix.sh: $DANCED is built with sanitizers; configure a build without them" >&2
    exit 64
fi

tb_init
pb_init
C=$TB_CERTS
tb_cert_selfsigned client mta1.ok.test
tb_small_bed "$("$DANCE" tlsa --name mta1.ok.test "$C/client.pem")"
DPORT=$(pb_free_port)
MPORT=$(pb_free_port)
cat > "$PB_DIR/dance.conf" <<EOF
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
policy_socket = inet:127.0.0.1:$DPORT
milter_socket = inet:127.0.0.1:$MPORT
authserv_id = mx.dest.test
peer_users = postfix
# the load comes from one client address: no per-client look-up budget
lookup_budget = off
EOF
"$DANCED" -f -c "$PB_DIR/dance.conf" </dev/null >"$PB_DIR/danced.log" 2>&1 &
DPID=$!
TB_PIDS="$TB_PIDS $DPID"
pb_wait_port 127.0.0.1 "$MPORT" 10 || { cat "$PB_DIR/danced.log" >&2; exit 1; }
# a second danced with the policy service alone, for the "policy" mode
PPORT=$(pb_free_port)
sed -e "s/^policy_socket = .*/policy_socket = inet:127.0.0.1:$PPORT/" -e '/^milter_socket/d' \
    "$PB_DIR/dance.conf" > "$PB_DIR/policy.conf"
"$DANCED" -f -c "$PB_DIR/policy.conf" </dev/null >"$PB_DIR/policy.log" 2>&1 &
PPID_=$!
TB_PIDS="$TB_PIDS $PPID_"
pb_wait_port 127.0.0.1 "$PPORT" 10 || { cat "$PB_DIR/policy.log" >&2; exit 1; }

# OpenDKIM, verifying only, one Authentication-Results field a message, on
# a unix socket (Debian's default for it).  Two things measured while
# setting this up: over inet: without TCP_NODELAY it waits for delayed
# ACKs (about 90 ms a message, as danced did before it set TCP_NODELAY),
# and with ResolverConfiguration it dies under concurrent connections
# ("input in flex scanner failed": libunbound's configuration parser is
# not thread-safe).  The messages are unsigned, so it makes no DNS query;
# Nameservers keeps any query it might make on loopback.
OSOCK=$PB_DIR/opendkim.sock
cat > "$PB_DIR/opendkim.conf" <<EOF
Syslog no
Background no
Mode v
Socket local:$OSOCK
AuthservID mx.dest.test
AlwaysAddARHeader yes
SoftwareHeader no
Nameservers 127.0.0.1
PidFile $PB_DIR/opendkim.pid
EOF
opendkim -f -x "$PB_DIR/opendkim.conf" </dev/null >"$PB_DIR/opendkim.log" 2>&1 &
OPID=$!
TB_PIDS="$TB_PIDS $OPID"
for _ in $(seq 1 100); do [ -S "$OSOCK" ] && break; sleep 0.1; done
[ -S "$OSOCK" ] || { echo "opendkim did not start: $(cat "$PB_DIR/opendkim.log")" >&2; exit 1; }
chmod 666 "$OSOCK"

# the null milters (bench/nullmilter.c), on loopback TCP like danced's milter
# shellcheck disable=SC2086
${CC:-cc} ${PB_CFLAGS:--O2} -Wall -Wextra -o "$PB_DIR/nullmilter" "$HERE/nullmilter.c" -lmilter -lpthread \
    || { echo "bench/postfix.sh: cannot build nullmilter.c" >&2; exit 1; }
NPORT=$(pb_free_port)
"$PB_DIR/nullmilter" -m same "inet:$NPORT@127.0.0.1" </dev/null >"$PB_DIR/null.log" 2>&1 &
NPID=$!
TB_PIDS="$TB_PIDS $NPID"
pb_wait_port 127.0.0.1 "$NPORT" 10 || { cat "$PB_DIR/null.log" >&2; exit 1; }
NMPORT=$(pb_free_port)
"$PB_DIR/nullmilter" -m min "inet:$NMPORT@127.0.0.1" </dev/null >"$PB_DIR/nullmin.log" 2>&1 &
NMPID=$!
TB_PIDS="$TB_PIDS $NMPID"
pb_wait_port 127.0.0.1 "$NMPORT" 10 || { cat "$PB_DIR/nullmin.log" >&2; exit 1; }
# and on unix-domain sockets, with a third danced whose milter is on one
"$PB_DIR/nullmilter" -m same "unix:$PB_DIR/null.sock" </dev/null >"$PB_DIR/null-unix.log" 2>&1 &
NUPID=$!
"$PB_DIR/nullmilter" -m min "unix:$PB_DIR/nullmin.sock" </dev/null >"$PB_DIR/nullmin-unix.log" 2>&1 &
NMUPID=$!
UPORT=$(pb_free_port)
sed -e "s/^policy_socket = .*/policy_socket = inet:127.0.0.1:$UPORT/" \
    -e "s|^milter_socket = .*|milter_socket = unix:$PB_DIR/danced-milter.sock|" \
    "$PB_DIR/dance.conf" > "$PB_DIR/unix.conf"
printf 'socket_mode = 0666\n' >> "$PB_DIR/unix.conf"
"$DANCED" -f -c "$PB_DIR/unix.conf" </dev/null >"$PB_DIR/unix.log" 2>&1 &
UPID=$!
TB_PIDS="$TB_PIDS $NUPID $NMUPID $UPID"
pb_wait_port 127.0.0.1 "$UPORT" 10 || { cat "$PB_DIR/unix.log" >&2; exit 1; }
for s in null.sock nullmin.sock danced-milter.sock; do
    for _ in $(seq 1 100); do [ -S "$PB_DIR/$s" ] && break; sleep 0.1; done
    [ -S "$PB_DIR/$s" ] || { echo "bench/postfix.sh: no socket $PB_DIR/$s" >&2; exit 1; }
done

PB_POLICY_ENDPOINT=inet:127.0.0.1:$DPORT
PB_POLICY_OPTS="timeout=15s, default_action=DUNNO"
PB_POLICY_STAGES="relay data"
PB_MAIN_EXTRA="smtpd_milters = { inet:127.0.0.1:$MPORT, default_action=tempfail }
default_process_limit = 200"
pb_start

# the danced mode really authenticates: one message to a file, dane=pass on top
pb_mail_mark
pb_send_cert "$C/client.pem" "$C/client.key" mta1.ok.test sender@mta1.ok.test rcpt@dest.test \
    && pb_wait_mail 1 && "$PB_PYTHON" "$TESTDIR/archeck.py" --servid mx.dest.test --ours 1 \
       --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test" "$PB_MAIL" \
    || { echo "bench/postfix.sh: the danced set-up does not give dane=pass" >&2; pb_diag; exit 1; }

# mode NAME - reconfigure the receiver for one of the modes above and restart it; sets MPID.
mode() {
    local ep=$PB_POLICY_ENDPOINT milters="{ inet:127.0.0.1:$MPORT, default_action=tempfail }"
    MPID=$DPID
    case $1 in
        plain|opendkim|null|nullmin|null-unix|nullmin-unix)
            milters=
            [ "$1" = opendkim ] && milters="{ unix:$OSOCK, default_action=tempfail }" MPID=$OPID
            [ "$1" = null ] && milters="{ inet:127.0.0.1:$NPORT, default_action=tempfail }" MPID=$NPID
            [ "$1" = nullmin ] && milters="{ inet:127.0.0.1:$NMPORT, default_action=tempfail }" MPID=$NMPID
            [ "$1" = null-unix ] && milters="{ unix:$PB_DIR/null.sock, default_action=tempfail }" MPID=$NUPID
            [ "$1" = nullmin-unix ] && milters="{ unix:$PB_DIR/nullmin.sock, default_action=tempfail }" MPID=$NMUPID
            pb_postconf "smtpd_milters = $milters" \
                "smtpd_relay_restrictions = reject_unauth_destination" "smtpd_data_restrictions ="
            pb_restart rx
            return ;;
        policy) ep=inet:127.0.0.1:$PPORT milters= MPID=$PPID_ ;;
        danced-unix) ep=inet:127.0.0.1:$UPORT milters="{ unix:$PB_DIR/danced-milter.sock, default_action=tempfail }" MPID=$UPID ;;
    esac
    pb_postconf "smtpd_milters = $milters" \
        "smtpd_relay_restrictions = check_policy_service { $ep, $PB_POLICY_OPTS }, reject_unauth_destination" \
        "smtpd_data_restrictions = check_policy_service { $ep, $PB_POLICY_OPTS }"
    pb_restart rx
}

# the opendkim mode really adds OpenDKIM's field
mode opendkim
pb_mail_mark
pb_send_cert "$C/client.pem" "$C/client.key" mta1.ok.test sender@mta1.ok.test rcpt@dest.test \
    && pb_wait_mail 1 && grep -q '^Authentication-Results: mx.dest.test;.*dkim=' "$PB_MAIL" \
    || { echo "bench/postfix.sh: OpenDKIM adds no Authentication-Results field" >&2; pb_diag; exit 1; }
OPENDKIM_FIELD=$(sed -n '/^Authentication-Results: mx.dest.test;.*dkim=/{p;q}' "$PB_MAIL")

# and the null milters add theirs, on top
for m in null nullmin null-unix nullmin-unix; do
    mode "$m"
    pb_mail_mark
    pb_send_cert "$C/client.pem" "$C/client.key" mta1.ok.test sender@mta1.ok.test rcpt@dest.test \
        && pb_wait_mail 1 && sed -n '/^Authentication-Results:/{p;q}' "$PB_MAIL" | grep -qx 'Authentication-Results: mx.dest.test; none' \
        || { echo "bench/postfix.sh: nullmilter ($m) adds no field on top" >&2; pb_diag; exit 1; }
done

# the danced-unix mode authenticates too
mode danced-unix
pb_mail_mark
pb_send_cert "$C/client.pem" "$C/client.key" mta1.ok.test sender@mta1.ok.test rcpt@dest.test \
    && pb_wait_mail 1 && "$PB_PYTHON" "$TESTDIR/archeck.py" --servid mx.dest.test --ours 1 \
       --want "dane=pass smtp.helo=mta1.ok.test" --want "dane=pass smtp.mailfrom=mta1.ok.test" "$PB_MAIL" \
    || { echo "bench/postfix.sh: the danced-unix set-up does not give dane=pass" >&2; pb_diag; exit 1; }

# the load goes to the discard transport from now on
pb_postconf "local_transport = discard" "default_transport = discard" "relay_transport = discard"

# busy_jiffies - CPU time (all CPUs, clock ticks) the machine has spent not idle.
busy_jiffies() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}

# pid_jiffies PID - user + system CPU ticks of one process (all its threads).
pid_jiffies() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# load - one smtpload.py run against the receiver; its JSON on stdout.
load() {
    "$PB_PYTHON" "$HERE/smtpload.py" --port "$PB_PORT" --cert "$C/client.pem" --key "$C/client.key" \
        --ehlo mta1.ok.test --from sender@mta1.ok.test --to rcpt@dest.test \
        --connections "$CONNS" --messages "$MSGS" --parallel "$PAR"
}

: > "$PB_DIR/results.jsonl"
HZ=$(getconf CLK_TCK)
for r in $(seq 1 "$RUNS"); do
    for m in plain policy danced opendkim null nullmin danced-unix null-unix nullmin-unix; do
        mode "$m"
        b0=$(busy_jiffies) d0=$(pid_jiffies "$MPID")
        load > "$PB_DIR/one.json" || echo "# run $r $m had failures: $(cat "$PB_DIR/one.json")" >&2
        b1=$(busy_jiffies) d1=$(pid_jiffies "$MPID")
        [ "$m" = plain ] && d1=$d0
        "$PB_PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
hz, n = float(sys.argv[4]), max(1, j["accepted"])
j.update(mode=sys.argv[2], run=int(sys.argv[3]),
         cpu_ms_per_msg=round(1000 * int(sys.argv[5]) / hz / n, 2),
         danced_cpu_ms_per_msg=round(1000 * int(sys.argv[6]) / hz / n, 3))
print(json.dumps(j))' "$PB_DIR/one.json" "$m" "$r" "$HZ" $((b1 - b0)) $((d1 - d0)) >> "$PB_DIR/results.jsonl"
        printf '# run %s %-6s %s\n' "$r" "$m" "$(tail -n 1 "$PB_DIR/results.jsonl")" >&2
    done
done
verdicts=$(grep -c 'milter: queue id' "$PB_DIR/danced.log")

"$PB_PYTHON" - "$PB_DIR/results.jsonl" "$RUNS" "$CONNS" "$MSGS" "$PAR" "$verdicts" "$(postconf -d -h mail_version)" \
    "$OPENDKIM_FIELD" "$(opendkim -V 2>&1 | head -n 1)" \
    > "$PB_DIR/report.md" <<'EOF'
import json, statistics, sys, platform, os
path, runs, conns, msgs, par, rewritten, pfver, odkfield, odkver = sys.argv[1:10]
rows = [json.loads(l) for l in open(path)]
def med(mode, key):
    v = [r[key] for r in rows if r["mode"] == mode and r[key] is not None]
    return statistics.median(v) if v else float("nan")
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
print("| mode | messages/s (median of %s) | all runs | p50 ms | p99 ms | machine CPU ms/msg | daemon CPU ms/msg (danced, OpenDKIM or nullmilter) | failed |" % runs)
print("|---|---:|---|---:|---:|---:|---:|---:|")
for m in ("plain", "policy", "danced", "opendkim", "null", "nullmin", "danced-unix", "null-unix", "nullmin-unix"):
    allr = ", ".join("%.0f" % r["per_second"] for r in rows if r["mode"] == m)
    print("| %s | %.0f | %s | %.1f | %.1f | %.2f | %.3f | %d |" % (m, med(m, "per_second"), allr,
          med(m, "p50_ms"), med(m, "p99_ms"), med(m, "cpu_ms_per_msg"), med(m, "danced_cpu_ms_per_msg"),
          sum(r["failed"] for r in rows if r["mode"] == m)))
p, q, d = med("plain", "per_second"), med("policy", "per_second"), med("danced", "per_second")
o = med("opendkim", "per_second")
print()
print("policy / plain = %.2f; danced (policy + milter) / plain = %.2f (throughput cost %.1f %%, target under 10 %%); "
      "opendkim / plain = %.2f (cost %.1f %%); %s messages rewritten by danced's milter." %
      (q / p, d / p, 100 * (1 - d / p), o / p, 100 * (1 - o / p), rewritten))
print()
n, nm = med("null", "per_second"), med("nullmin", "per_second")
print("A milter that does nothing, negotiating what danced negotiates: null / plain = %.2f (cost %.1f %%); "
      "the least a header-removing milter can ask for: nullmin / plain = %.2f (cost %.1f %%)." %
      (n / p, 100 * (1 - n / p), nm / p, 100 * (1 - nm / p)))
print()
du, nu, nmu = med("danced-unix", "per_second"), med("null-unix", "per_second"), med("nullmin-unix", "per_second")
print("With the milter on a unix-domain socket: danced-unix / plain = %.2f (cost %.1f %%); "
      "null-unix / plain = %.2f (cost %.1f %%); nullmin-unix / plain = %.2f (cost %.1f %%)." %
      (du / p, 100 * (1 - du / p), nu / p, 100 * (1 - nu / p), nmu / p, 100 * (1 - nmu / p)))
print()
print("OpenDKIM (%s) added: `%s`" % (odkver, odkfield))
print()
print("Load: %s connections x %s messages, %s client processes; Postfix %s; %s, %d CPUs; %s." %
      (conns, msgs, par, pfver, cpu, os.cpu_count(), platform.platform()))
EOF
cat "$PB_DIR/report.md"
[ -n "$OUT" ] && cp "$PB_DIR/report.md" "$OUT"
exit 0
