#!/bin/bash
# rspamd.sh - rspamd with contrib/rspamd/ reads danced's result from messages
# delivered by a real Postfix with danced's milter, and keys its reputation
# on the name danced proved.
#
# The DNSSEC bed of t/dns/testbed.sh, danced with both faces and a private
# Postfix (t/postfix/postfixbed.sh) as in t/postfix/milter.sh.  Then a
# private rspamd (rspamd -f -c FILE in a temporary directory: own local
# configuration directory, pid file, database directory and log, the normal
# worker on a loopback port, DNS only to the bed's nsd, the modules that
# would ask the network disabled) with contrib/rspamd/ installed as its
# comments say, and a private redis-server on a loopback port for the
# reputation backend.  Every delivered message is scanned with
# `rspamc symbols`; the DANE_* symbols and their options must be exactly
# the expected ones.  Cases:
#   rspamadm configtest accepts contrib/rspamd/ as shipped and as set up here;
#   pass (three messages on one connection), fail, temperror, none;
#   EHLO passes and MAIL FROM has no records: DANE_PASS and DANE_NONE;
#   nine forged fields claiming our id (dane=pass) removed by danced: DANE_FAIL only;
#   kept foreign fields hiding "our-id; dane=pass" behind Q/B encoded
#   words and folds: DANE_FAIL only;
#   a field a later hop put above danced's: no DANE_* symbol;
#   redis: one reputation key, RR:dane:mta1.ok.test, counting the messages
#   that proved mta1.ok.test (as MAIL FROM domain, or as EHLO name when the
#   MAIL FROM domain did not pass) and no key for any other name; after ten,
#   DANE_REPUTATION is set;
#   crafted first fields, scanned directly: the id case-insensitive but
#   nothing else before ";" (a name under it, a space, a comment, quotes, an
#   encoded word give nothing), comments, quoted-pairs and quoted strings
#   never end a resinfo, an unbalanced comment gives nothing;
#   rspamd's own milter face (proxy worker, milter = yes) listed after danced
#   in smtpd_milters: the X-Spamd-Result it adds shows DANE_PASS(-0.50) for
#   the published key, DANE_FAIL(2.00) only for the forged fields' message.
#
# Output is TAP with the plan at the end.  Skipped (1..0) when rspamd is not
# installed, and as t/postfix/milter.sh without the beds' tools or the
# Authentication-Results parsers, or when not run as root.  Everything
# started here is stopped on exit.
#
# Environment (set by `make check`): DANCED, DANCE, TESTDIR.  By hand, as
# root, from a build directory:
#     DANCED=$PWD/danced/danced DANCE=$PWD/cli/dance /path/to/t/rspamd/rspamd.sh
# (TB_KEEP=1 PB_KEEP=1 RS_KEEP=1 keep the temporary directories and logs.)

TESTDIR=${TESTDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DANCE=${DANCE:-$PWD/cli/dance}
DANCED=${DANCED:-$(dirname "$DANCE")/../danced/danced}
CONTRIB=$TESTDIR/../contrib/rspamd
# shellcheck disable=SC2034  # read by testbed.sh: a broken bed prints "Bail out!"
TB_TAP=1

for b in rspamd rspamc rspamadm; do
    if ! command -v "$b" >/dev/null 2>&1; then
        echo "1..0 # SKIP rspamd is not installed (Debian: rspamd redis-server redis-tools)"
        exit 0
    fi
done

# shellcheck source=t/dns/testbed.sh
. "$TESTDIR/dns/testbed.sh"
# shellcheck source=t/postfix/postfixbed.sh
. "$TESTDIR/postfix/postfixbed.sh"
# shellcheck source=t/tap.sh
. "$TESTDIR/tap.sh"
# shellcheck source=t/archeck.sh
. "$TESTDIR/archeck.sh"

tap_need_beds postfix
tap_need_parsers
tap_need_binaries
for b in redis-server redis-cli; do
    if ! command -v "$b" >/dev/null 2>&1; then
        echo "Bail out! rspamd is installed but $b is not (Debian: redis-server redis-tools)"
        exit 99
    fi
done

# tap_diag - on failure: the client transcript, danced's and rspamd's last lines.
tap_diag() {
    pb_tap_diag
    [ -f "${RS_DIR:-}/log/rspamd.log" ] && grep -E 'dance|reputation|lua' "$RS_DIR/log/rspamd.log" \
        | tail -n 4 | cut -c1-300 | sed 's/^/#   rspamd: /'
    return 0
}

# rs_cleanup - stop rspamd (and its workers) and redis, remove the directory.
rs_cleanup() {
    local pids="" p
    [ -n "${RS_DIR:-}" ] || return 0
    for p in ${RS_PIDS:-}; do
        pids="$pids $(tb_descendants "$p")"
    done
    # shellcheck disable=SC2086
    [ -z "${pids// /}" ] || pb_kill_wait $pids
    RS_PIDS=
    if [ -n "${RS_KEEP:-}" ]; then
        printf '# rspamd directory kept in %s\n' "$RS_DIR" >&2
    else
        rm -rf "$RS_DIR"
    fi
    RS_DIR=
}

# rs_adm ARGS... - rspamadm with the private directories.
rs_adm() {
    rspamadm --var="LOCAL_CONFDIR=$RS_DIR/etc" --var="DBDIR=$RS_DIR/db" --var="RUNDIR=$RS_DIR/run" \
        --var="LOGDIR=$RS_DIR/log" "$@"
}

# rs_scan FILE - rspamc symbols on FILE; sets SYMS to "NAME[opt,opt] ..." of the DANE_* symbols, sorted.
rs_scan() {
    SYMS=
    if ! rspamc -h "127.0.0.1:$RS_PORT" -t 30 -j symbols "$1" > "$RS_DIR/scan.json" 2> "$RS_DIR/scan.err"; then
        why "rspamc failed: $(tail -n 2 "$RS_DIR/scan.err" | tr '\n' ' ')"
        return 1
    fi
    SYMS=$("$PB_PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
if "symbols" not in d:
    sys.exit("no symbols in the reply: %r" % (d,))
out = []
for name, s in sorted(d["symbols"].items()):
    if name.startswith("DANE_"):
        out.append("%s[%s]" % (name, ",".join(sorted(s.get("options", [])))))
print(" ".join(out))' "$RS_DIR/scan.json" 2>&1) || { why "rspamc reply: $SYMS"; return 1; }
}

# want_syms FILE EXPECTED - scan FILE; fail unless its DANE_* symbols are exactly EXPECTED.
want_syms() {
    rs_scan "$1" || return 1
    [ "$SYMS" = "$2" ] || { why "DANE_* symbols: '$SYMS', want '$2'"; return 1; }
}

# redis KEY... - redis-cli on the test's server.
redis() {
    redis-cli -h 127.0.0.1 -p "$RS_RPORT" "$@"
}

# delivered N - N copies arrived since pb_mail_mark.
delivered() {
    pb_wait_mail "$1" 20 || why "fewer than $1 deliveries (see the maillog)"
}

# ---------------------------------------------------------------------------
T_ALL=$(pb_now)
tb_init
tb_standard_bed
pb_init
RS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dance-rs.XXXXXX") || { echo "Bail out! mktemp failed"; exit 99; }
RS_PIDS=
trap 'rs_cleanup; pb_cleanup; eval "$PB_PREV_EXIT"' EXIT
C=$TB_CERTS
DOM=$PB_DOMAIN
SERVID=mx.$DOM
DLOG=$PB_DIR/danced.log
DCONF=$PB_DIR/danced.conf
DPORT=$(pb_free_port)
MPORT=$(pb_free_port)
GOOD=$C/good.pem GKEY=$C/good.key
ROGUE=$C/rogue.pem RKEY=$C/rogue.key

cat > "$DCONF" <<EOF
# danced for t/rspamd/rspamd.sh: both faces
resolver_config = $TB_CONF
trust_anchor_file = $TB_TA
dns_timeout = 3
policy_socket = inet:127.0.0.1:$DPORT
milter_socket = inet:127.0.0.1:$MPORT
authserv_id = $SERVID
peer_users = postfix
EOF
danced_run "$DCONF" "$DLOG"
rc=$?
report "$rc" "danced starts with the policy and the milter face"
[ "$rc" = 0 ] || { echo "Bail out! danced did not start"; exit 1; }

PB_POLICY_ENDPOINT=inet:127.0.0.1:$DPORT
PB_POLICY_OPTS="timeout=10s, default_action=DUNNO"
PB_POLICY_STAGES="relay data"
PB_MAIN_EXTRA="smtpd_milters = { inet:127.0.0.1:$MPORT, default_action=tempfail }
milter_default_action = tempfail"
pb_start
report $? "Postfix starts with danced as policy service and in smtpd_milters"

# --- rspamd and redis -------------------------------------------------------------
T_RS=$(pb_now)
RS_PORT=$(pb_free_port)
RS_RPORT=$(pb_free_port)
RS_MPORT=$(pb_free_port)
mkdir -p "$RS_DIR/etc/local.d" "$RS_DIR/db" "$RS_DIR/run" "$RS_DIR/log" "$RS_DIR/redis"
chmod 0711 "$RS_DIR"
RS_USER=()
if id _rspamd >/dev/null 2>&1; then
    chown _rspamd: "$RS_DIR/db" "$RS_DIR/run" "$RS_DIR/log"
    RS_USER=(-u _rspamd -g _rspamd)
else
    RS_USER=(-i)
fi
# contrib/rspamd as its comments say: dance.lua beside rspamd.local.lua,
# the authserv-id in rspamd.conf.local, local.d/reputation.conf
cp "$CONTRIB/dance.lua" "$CONTRIB/rspamd.local.lua" "$RS_DIR/etc/"
cp "$CONTRIB/local.d/reputation.conf" "$RS_DIR/etc/local.d/"
sed "s/\"mx\\.example\\.org\"/\"$SERVID\"/" "$CONTRIB/rspamd.conf.local" > "$RS_DIR/etc/rspamd.conf.local"
grep -q "authserv_id = \"$SERVID\";" "$RS_DIR/etc/rspamd.conf.local" || why "no authserv_id line to set in rspamd.conf.local"
# the test's own: redis, and no module that asks the network
printf 'servers = "127.0.0.1:%s";\n' "$RS_RPORT" > "$RS_DIR/etc/local.d/redis.conf"
for m in asn arc dkim_signing dmarc spf rbl fuzzy_check phishing hfilter rspamd_update \
         url_redirector whitelist greylist neural history_redis replies ratelimit; do
    echo 'enabled = false;' > "$RS_DIR/etc/local.d/$m.conf"
done
cat > "$RS_DIR/rspamd.conf" <<EOF
# rspamd for t/rspamd/rspamd.sh: the packaged configuration, private directories
.include "/etc/rspamd/common.conf"
options {
    pidfile = "$RS_DIR/run/rspamd.pid";
    .include "/etc/rspamd/options.inc"
    disable_hyperscan = true;
    dns { nameserver = ["127.0.0.1:$TB_PORT"]; timeout = 1s; retransmits = 1; }
}
logging { type = "file"; filename = "$RS_DIR/log/rspamd.log"; level = "info"; }
worker "normal" { bind_socket = "127.0.0.1:$RS_PORT"; count = 1; mime = true; }
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:$RS_MPORT"; count = 1; milter = yes; timeout = 30s;
    upstream "local" { default = yes; self_scan = yes; }
}
EOF
# what the milter face adds to messages: the symbols, also for loopback clients
printf 'use = ["x-spamd-result"];\nskip_local = false;\nskip_authenticated = false;\n' \
    > "$RS_DIR/etc/local.d/milter_headers.conf"

# configtest: contrib as shipped (placeholder id) and as set up here
mkdir -p "$RS_DIR/shipped/local.d"
cp "$CONTRIB/dance.lua" "$CONTRIB/rspamd.local.lua" "$CONTRIB/rspamd.conf.local" "$RS_DIR/shipped/"
cp "$CONTRIB/local.d/reputation.conf" "$RS_DIR/etc/local.d/redis.conf" "$RS_DIR/shipped/local.d/"
for m in "$RS_DIR"/etc/local.d/*.conf; do
    [ -e "$RS_DIR/shipped/local.d/${m##*/}" ] || cp "$m" "$RS_DIR/shipped/local.d/"
done
out=$(rspamadm --var="LOCAL_CONFDIR=$RS_DIR/shipped" --var="DBDIR=$RS_DIR/db" --var="RUNDIR=$RS_DIR/run" \
    --var="LOGDIR=$RS_DIR/log" configtest -c "$RS_DIR/rspamd.conf" 2>&1)
rc=$?
{ [ "$rc" = 0 ] && [ "$out" = "syntax OK" ]; } || why "shipped: configtest status $rc: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
out=$(rs_adm configtest -c "$RS_DIR/rspamd.conf" 2>&1)
rc=$?
{ [ "$rc" = 0 ] && [ "$out" = "syntax OK" ]; } || why "configtest status $rc: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
report $? "rspamadm configtest: contrib/rspamd as shipped and with the test's authserv-id, nothing but 'syntax OK'"
printf 'dance {\n  authserv_id = "%s; dane=pass";\n}\n' "$SERVID" > "$RS_DIR/shipped/rspamd.conf.local"
out=$(rspamadm --var="LOCAL_CONFDIR=$RS_DIR/shipped" --var="DBDIR=$RS_DIR/db" --var="RUNDIR=$RS_DIR/run" \
    --var="LOGDIR=$RS_DIR/log" configtest -c "$RS_DIR/rspamd.conf" 2>&1)
case $out in *'dance: no valid "authserv_id"'*) ;; *) why "configtest: $(printf '%s' "$out" | tr '\n' ' ')" ;; esac
report $? "an authserv_id that is no domain name: dance.lua says so and sets no rule"
rm -rf "$RS_DIR/shipped"

redis-server --bind 127.0.0.1 --port "$RS_RPORT" --dir "$RS_DIR/redis" --save "" --appendonly no \
    --daemonize no --logfile "$RS_DIR/log/redis.log" </dev/null >/dev/null 2>&1 &
RS_PIDS="$RS_PIDS $!"
rspamd -f "${RS_USER[@]}" --var="LOCAL_CONFDIR=$RS_DIR/etc" --var="DBDIR=$RS_DIR/db" \
    --var="RUNDIR=$RS_DIR/run" --var="LOGDIR=$RS_DIR/log" -c "$RS_DIR/rspamd.conf" \
    </dev/null >"$RS_DIR/log/stderr" 2>&1 &
RS_PID=$!
RS_PIDS="$RS_PIDS $RS_PID"
rc=0
pb_wait_port 127.0.0.1 "$RS_RPORT" 10 || { rc=1; why "redis-server did not listen on $RS_RPORT"; }
"$PB_PYTHON" -c '
import sys, time, urllib.request
deadline = time.time() + 60
while time.time() < deadline:
    try:
        if urllib.request.urlopen("http://127.0.0.1:%s/ping" % sys.argv[1], timeout=2).read().strip() == b"pong":
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)' "$RS_PORT" || { rc=1; why "rspamd did not answer /ping: $(tail -n 2 "$RS_DIR/log/stderr" | tr '\n' ' ')"; }
grep -q 'dance: no valid' "$RS_DIR/log/rspamd.log" && why "dance.lua found no authserv_id"
report "$rc" "redis-server and rspamd start on loopback ports with contrib/rspamd"
timing "rspamd and redis start $(( $(pb_now) - T_RS )) ms"

# --- one verdict each -----------------------------------------------------------------
PASSED=0    # messages that proved mta1.ok.test, scanned so far
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$GOOD" --key "$GKEY" --count 3 --from sender@mta1.ok.test \
    --to "rcpt@$DOM" || why "smtpclient.py failed"
rc=0
delivered 3 || rc=1
PASS_MSGS=("${PB_MAILS[@]}")
for m in "${PASS_MSGS[@]}"; do
    [ "$rc" = 0 ] || break
    want_syms "$m" "DANE_PASS[smtp.helo=mta1.ok.test,smtp.mailfrom=mta1.ok.test]" || rc=1
    PASSED=$((PASSED + 1))
done
report "$rc" "pass: three messages on one connection with the published key -> DANE_PASS (helo and mailfrom) only"
printf '#   %s\n' "$SYMS"
PASS_MSG=${PASS_MSGS[0]}

pb_mail_mark
pb_send_cert "$ROGUE" "$RKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && want_syms "$PB_MAIL" "DANE_FAIL[smtp.helo=mta1.ok.test,smtp.mailfrom=mta1.ok.test]"
report $? "fail: a rogue key claiming mta1.ok.test -> DANE_FAIL only"

pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.bogus.test sender@mta1.bogus.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && want_syms "$PB_MAIL" "DANE_TEMPERROR[smtp.helo=mta1.bogus.test,smtp.mailfrom=mta1.bogus.test]"
report $? "temperror: a bogus zone -> DANE_TEMPERROR only"

pb_mail_mark
pb_send_plain mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && want_syms "$PB_MAIL" "DANE_NONE[smtp.helo=mta1.ok.test,smtp.mailfrom=mta1.ok.test]"
report $? "none: no STARTTLS -> DANE_NONE only"

pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@nx.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && want_syms "$PB_MAIL" "DANE_NONE[smtp.mailfrom=nx.ok.test] DANE_PASS[smtp.helo=mta1.ok.test]" \
    && PASSED=$((PASSED + 1))
report $? "EHLO mta1.ok.test passes, MAIL FROM nx.ok.test has no records -> DANE_PASS (helo) and DANE_NONE (mailfrom)"

pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" ee301.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && want_syms "$PB_MAIL" "DANE_PASS[smtp.helo=ee301.ok.test,smtp.mailfrom=mta1.ok.test]" \
    && PASSED=$((PASSED + 1))
report $? "EHLO ee301.ok.test and MAIL FROM mta1.ok.test both pass -> DANE_PASS with both names"

# --- forged fields ------------------------------------------------------------------
forged_fields mta1.ok.test "filter.$DOM"
args=()
for h in "${FORGED[@]}"; do
    args+=(--header "$h")
done
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test \
    --to "rcpt@$DOM" "${args[@]}" || why "smtpclient.py failed"
delivered 1 && ar "$PB_MAIL" --want "dane=fail smtp.helo=mta1.ok.test" --want "dane=fail smtp.mailfrom=mta1.ok.test" \
    --keep other.example --keep "filter.$DOM" \
    && want_syms "$PB_MAIL" "DANE_FAIL[smtp.helo=mta1.ok.test,smtp.mailfrom=mta1.ok.test]"
report $? "forged: nine fields claiming $SERVID with dane=pass, removed by danced's milter -> DANE_FAIL only, never DANE_PASS"

hidden=(
    "Authentication-Results: other.example; spf=pass =?us-ascii?Q?x=0A$SERVID;_dane=3Dpass?="
    "Authentication-Results: other.example; dkim=pass (=?utf-8?B?$(printf 'x\n%s; dane=pass' "$SERVID" | base64 -w0)?=)"
    "Authentication-Results: other.example; arc=pass =?iso-8859-1?Q?=E9=0A$SERVID;=20dane=3Dpass?="
    $'Authentication-Results: other.example; spf=pass\r\n\t'"$SERVID; dane=pass"
    $'Authentication-Results: other.example;\r\n '"$SERVID; dane=pass smtp.helo=mta1.ok.test"
)
printf '%s\n' "${hidden[@]}" > "$PB_DIR/hidden.hdr"
pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test --to "rcpt@$DOM" \
    --headers-file "$PB_DIR/hidden.hdr" || why "smtpclient.py failed"
if delivered 1 && [ "$(pb_header_count "$PB_MAIL" Authentication-Results)" != 6 ]; then
    why "want danced's field and the five foreign ones"
fi
want_syms "$PB_MAIL" "DANE_FAIL[smtp.helo=mta1.ok.test,smtp.mailfrom=mta1.ok.test]"
report $? "kept foreign fields hiding '$SERVID; dane=pass' behind Q/B encoded words and folds -> DANE_FAIL only"

{ printf 'Authentication-Results: later.example; dkim=pass\r\n'; cat "$PASS_MSG"; } > "$PB_DIR/later.eml"
want_syms "$PB_DIR/later.eml" ""
report $? "a field a later hop put above danced's: no DANE_* symbol (only the first field is read)"

# --- reputation -------------------------------------------------------------------
rc=0
keys=
for _ in $(seq 1 50); do
    keys=$(redis --scan --pattern 'RR:dane:*' | sort | tr '\n' ' ')
    n=$(redis HGET RR:dane:mta1.ok.test n)
    [ "$keys" = "RR:dane:mta1.ok.test " ] && [ "$n" = "$PASSED" ] && break
    sleep 0.1
done
[ "$keys" = "RR:dane:mta1.ok.test " ] || { rc=1; why "reputation keys: '$keys', want RR:dane:mta1.ok.test only"; }
[ "$n" = "$PASSED" ] || { rc=1; why "RR:dane:mta1.ok.test counts ${n:-nothing}, want $PASSED"; }
report "$rc" "redis: one reputation key, RR:dane:mta1.ok.test, counting the $PASSED messages that proved it; none for ee301, nx, bogus or any failed name"
printf '#   %s: %s\n' "RR:dane:mta1.ok.test" "$(redis HGETALL RR:dane:mta1.ok.test | tr '\n' ' ')"

rc=0
while [ "$PASSED" -lt 10 ]; do
    rs_scan "$PASS_MSG" || { rc=1; break; }
    PASSED=$((PASSED + 1))
done
rs_scan "$PASS_MSG" || rc=1
case " $SYMS " in *" DANE_REPUTATION["*) ;; *) rc=1; why "no DANE_REPUTATION after $PASSED messages: $SYMS" ;; esac
report "$rc" "after ten messages proving mta1.ok.test the reputation rule scores it: DANE_REPUTATION"
printf '#   %s\n' "$SYMS"

# --- how the first field is read ----------------------------------------------------
# crafted messages, scanned directly: FIELD VALUE | expected DANE_* symbols
crafted=(
    "MX.DEST.TEST; dane=fail smtp.helo=a.test|DANE_FAIL[smtp.helo=a.test]"
    "$SERVID.evil.example; dane=pass smtp.helo=a.test|"
    "$SERVID ; dane=pass smtp.helo=a.test|"
    "($SERVID) other.example; dane=pass smtp.helo=a.test|"
    "\"$SERVID\"; dane=pass smtp.helo=a.test|"
    "=?utf-8?Q?$SERVID;_dane=3Dpass?= smtp.helo=a.test|"
    "$SERVID; dane=pass (unterminated smtp.helo=a.test|"
    "$SERVID; spf=pass (dane=pass smtp.helo=a.test) smtp.mailfrom=b.test|"
    "$SERVID; x=pass reason=\"a; dane=pass smtp.helo=evil.test\"; dane=none smtp.mailfrom=b.test|DANE_NONE[smtp.mailfrom=b.test]"
    "$SERVID; dane=pass (a \\) b; dane=fail smtp.helo=c.test) smtp.helo=d.test|DANE_PASS[smtp.helo=d.test]"
    "$SERVID; dane=pass smtp.helo=a.test smtp.mailfrom=a_b.test; dane=bogus smtp.helo=c.test|DANE_PASS[smtp.helo=a.test]"
)
rc=0
i=0
for c in "${crafted[@]}"; do
    i=$((i + 1))
    printf 'Return-Path: <x@a.test>\r\nAuthentication-Results: %s\r\nFrom: <x@a.test>\r\nTo: <rcpt@%s>\r\nSubject: crafted %s\r\n\r\nbody\r\n' \
        "${c%%|*}" "$DOM" "$i" > "$PB_DIR/crafted.$i.eml"
    want_syms "$PB_DIR/crafted.$i.eml" "${c#*|}" || { rc=1; why "field '${c%%|*}': $WHY"; break; }
done
report "$rc" "the first field, read raw: id case-insensitive, nothing else before ';' (a name under it, a space, a comment, quotes, an encoded word: nothing); comments, quoted-pairs and quoted strings never end a resinfo; unbalanced: nothing; odd values and results ignored (${#crafted[@]} fields)"

# --- rspamd as a milter after danced ----------------------------------------------------
# milter_syms FILE - SYMS: the DANE_* symbols (but DANE_REPUTATION) with scores and
# options from the X-Spamd-Result field rspamd's milter face added.
milter_syms() {
    SYMS=$(pb_header "$1" X-Spamd-Result | grep -o 'DANE_[A-Z_]*([^)]*)\[[^]]*\]' \
        | grep -v '^DANE_REPUTATION' | sort | tr '\n' ' ')
    SYMS=${SYMS% }
    pb_header "$1" X-Spamd-Result | grep -q . || why "no X-Spamd-Result field: rspamd's milter did not scan it"
}
pb_postconf "smtpd_milters = { inet:127.0.0.1:$MPORT, default_action=tempfail }, { inet:127.0.0.1:$RS_MPORT, default_action=tempfail }"
pb_restart
pb_mail_mark
pb_send_cert "$GOOD" "$GKEY" mta1.ok.test sender@mta1.ok.test "rcpt@$DOM" || why "swaks failed"
delivered 1 && milter_syms "$PB_MAIL"
want="DANE_PASS(-0.50)[smtp.helo=mta1.ok.test,smtp.mailfrom=mta1.ok.test]"
[ "$SYMS" = "$want" ] || why "DANE_* symbols: '$SYMS', want '$want'"
report $? "rspamd's milter listed after danced's in smtpd_milters sees danced's field: DANE_PASS (-0.50, once for both names)"
pb_header "$PB_MAIL" X-Spamd-Result | grep -o 'DANE_[A-Z_]*([^)]*)\[[^]]*\]' | sed 's/^/#   milter: /'

pb_mail_mark
pb_smtp --ehlo mta1.ok.test --cert "$ROGUE" --key "$RKEY" --from sender@mta1.ok.test \
    --to "rcpt@$DOM" "${args[@]}" || why "smtpclient.py failed"
delivered 1 && milter_syms "$PB_MAIL"
want="DANE_FAIL(2.00)[smtp.helo=mta1.ok.test,smtp.mailfrom=mta1.ok.test]"
[ "$SYMS" = "$want" ] || why "DANE_* symbols: '$SYMS', want '$want'"
report $? "rspamd's milter after danced's, nine forged dane=pass fields sent: DANE_FAIL only"

# --- the end ------------------------------------------------------------------------
danced_end "$DANCED_PID" "$DLOG" TERM
report $? "danced exits 0 on SIGTERM, no sanitizer report"

timing "rspamd e2e total $(( $(pb_now) - T_ALL )) ms"
tap_end
