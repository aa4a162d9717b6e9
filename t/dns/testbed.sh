# testbed.sh - a throw-away DNSSEC world on loopback for dance's tests and demo.
#
# A bash library (source it; it is not run on its own).  It builds, under a
# fresh temporary directory, certificates (openssl CLI), DNS zones signed at
# run time (ldns-keygen, ldns-signzone, ldns-key2ds), starts nsd on a free
# 127.0.0.1 port, and writes the unbound.conf and trust anchor that point
# libunbound (through `dance check --resolver-config F --trust-anchor TA`)
# at it and nowhere else.  tb_init installs a trap: on EXIT, INT, TERM and
# HUP every process started here is stopped and the directory removed
# (TB_KEEP=1 keeps the directory for inspection).
#
# Typical use (see t/dns/check.sh and t/demo.sh):
#     . "$TESTDIR/dns/testbed.sh"
#     tb_require || exit 77          # tools missing: skip
#     tb_init
#     tb_standard_bed                # certificates, zones, nsd, blackhole
#     "$DANCE" check --resolver-config "$TB_CONF" --trust-anchor "$TB_TA" \
#         --cert "$TB_CERTS/good.pem" mta1.ok.test
#
# The standard bed (tb_standard_bed) - every claimed name below has its
# TLSA records at _smtp-client.NAME unless noted:
#   test.           signed; the trust anchor ($TB_TA holds its KSK's DS).
#                   Delegates, with DS: ok, alt, bogus, expired, dead,
#                   servfail, trunc;
#                   without DS (NS only, NSEC proves it): insecure.
#   ok.test.        signed (secure).  Names:
#     mta1          3 1 1 good            (published from `dance tlsa` output)
#     ee301         3 0 1 good            ee312   3 1 2 good
#     ee310         3 1 0 good (SPKI)     ee300   3 0 0 good (full cert)
#     ta            2 0 1 ca.pem          (ta.pem issued by ca.pem; also other.pem
#                                         for other.ok.test, and tafake.pem for
#                                         ta.ok.test from the root/int CA)
#     ta2           2 1 1 root.pem        (ta2.pem <- int.pem <- root.pem)
#     pkix          0 0 1 ca.pem, 1 1 1 good
#     unknown       4 1 1, 3 2 1, 3 1 3   (unknown parameters, well-formed)
#     malformed     3 1 1 (31 octets), 3 1 2 (32 octets), 3 1 0 and 3 0 0 garbage
#     mixed         the malformed records plus 3 1 1 good
#     agile         3 1 1 good + 3 1 2 rogue   (digest agility)
#     nodata        a TXT record at _smtp-client.nodata, no TLSA
#     nx            the name exists, _smtp-client.nx does not (NXDOMAIN)
#     cname         _smtp-client.cname CNAME _certs.pool.alt.test.
#     cninsec       _smtp-client.cninsec CNAME _smtp-client.mta1.insecure.test.
#     srv           3 1 1 good at _25._tcp.srv only
#   alt.test.       signed; _certs.pool.alt.test. 3 1 1 good (CNAME / --owner target)
#   insecure.test.  unsigned; _smtp-client.mta1 3 1 1 good
#   bogus.test.     signed; _smtp-client.mta1 3 1 1 good, its RRSIG tampered
#   expired.test.   signed with signatures that expired 2 days ago; mta1 3 1 1 good
#   dead.test.      DS in test., but the resolver's stub for it points at the
#                   blackhole (t/dns/blackhole.py: reads queries, never answers)
#   servfail.test.  likewise, to a blackhole.py answering SERVFAIL to everything
#   trunc.test.     likewise, to a blackhole.py answering every UDP query with
#                   TC set and refusing TCP
#   ok.test.        also: big  3 1 1 good and four 3 0 0 certificates, an RRset
#                   too big for one UDP answer: the resolver must retry over TCP
#                   huge  3 1 1 good and three 3 0 0 records of 1800 octets of
#                         garbage: over danced's 4096-octet limit, refused
#                   many  3 1 1 good and 70 3 1 1 records of random digests:
#                         over the 64-record limit, refused
#
# Variables set: TB_DIR (the temporary directory), TB_CERTS, TB_PORT (nsd),
# TB_BH_PORT and TB_BH_COUNT (blackhole port, file with one line per
# datagram received), TB_SF_PORT and TB_TC_PORT (the SERVFAIL and the
# truncating server), TB_CONF (unbound.conf), TB_TA (trust anchor, DS form).
#
# Trust anchor decision: the unbound.conf carries no trust-anchor line; the
# tests pass the anchor with `dance check --trust-anchor`, so that option is
# exercised too.  The resolver configuration keeps every query on loopback:
# stub zones for test. and each child (nsd's port, or the blackhole's for
# dead.test.), and a forward-zone for "." to nsd, so even a stray name or a
# root priming query never leaves 127.0.0.1.
#
# Needs: bash, nsd, ldns-keygen, ldns-signzone, ldns-key2ds, drill, openssl,
# python3 (Debian: nsd ldnsutils openssl python3).

TB_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The system python starts in a few ms; version-manager shims can take a second.
if [ -x /usr/bin/python3 ]; then TB_PYTHON=/usr/bin/python3; else TB_PYTHON=python3; fi

# tb_log - diagnostic line (TAP-friendly: starts with "# "), to stderr.
tb_log() {
    printf '# %s\n' "$*" >&2
}

# tb_die - report a broken bed and exit non-zero (the trap cleans up); TB_TAP=1 adds a TAP "Bail out!".
tb_die() {
    printf 'testbed: %s\n' "$*" >&2
    [ -n "$TB_TAP" ] && printf 'Bail out! testbed: %s\n' "$*"
    exit 99
}

# tb_require - true when every tool the bed needs is installed; else names the first missing one.
tb_require() {
    local t
    for t in nsd ldns-keygen ldns-signzone ldns-key2ds drill openssl python3 od; do
        if ! command -v "$t" >/dev/null 2>&1; then
            # shellcheck disable=SC2034  # read by the caller
            TB_MISSING=$t
            return 1
        fi
    done
    return 0
}

# tb_init - make the temporary directory and install the clean-up trap.
tb_init() {
    TB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dance-tb.XXXXXX") || tb_die "mktemp failed"
    TB_CERTS=$TB_DIR/certs
    TB_KEYS=$TB_DIR/keys
    TB_ZONES=$TB_DIR/zones
    TB_PIDS=
    mkdir -p "$TB_CERTS" "$TB_KEYS" "$TB_ZONES" || tb_die "cannot populate $TB_DIR"
    trap tb_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

# tb_running PID - true while PID exists and is not a zombie.
tb_running() {
    local state
    if [ -r "/proc/$1/stat" ]; then
        state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null)
        [ -n "$state" ] && [ "$state" != Z ]
    else
        kill -0 "$1" 2>/dev/null
    fi
}

# tb_descendants PID - print PID and, recursively, its children (from /proc).
tb_descendants() {
    local c
    printf '%s\n' "$1"
    # shellcheck disable=SC2013  # the file is one line of space-separated pids
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        tb_descendants "$c"
    done
}

# tb_cleanup - stop every process started here (and their children) and remove the directory.
tb_cleanup() {
    local pids="" pid alive
    for pid in $TB_PIDS; do
        pids="$pids $(tb_descendants "$pid")"
    done
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null
    done
    for _ in $(seq 1 30); do
        alive=
        for pid in $pids; do
            tb_running "$pid" && alive=1
        done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for pid in $pids; do
        tb_running "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    TB_PIDS=
    if [ -n "$TB_DIR" ] && [ -d "$TB_DIR" ]; then
        if [ -n "${TB_KEEP:-}" ]; then
            printf '# testbed kept in %s\n' "$TB_DIR" >&2
        else
            rm -rf "$TB_DIR"
        fi
    fi
    TB_DIR=
}

# tb_free_port - print a loopback port that is free for both UDP and TCP right now.
tb_free_port() {
    "$TB_PYTHON" -c '
import socket, sys
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        u.close(); t.close(); continue
    print(p); sys.exit(0)
sys.exit(1)'
}

# ---------------------------------------------------------------------------
# Certificates (openssl CLI).  BASE.pem holds the certificate, BASE.key the
# key, both under $TB_CERTS.

# tb_openssl_cnf - write the small openssl configuration the certificate helpers use.
tb_openssl_cnf() {
    cat > "$TB_CERTS/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ee]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth,serverAuth
subjectAltName = DNS:${ENV::TB_SAN}
subjectKeyIdentifier = hash
[ee_issued]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth,serverAuth
subjectAltName = DNS:${ENV::TB_SAN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ca_issued]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# tb_cert_selfsigned BASE NAME - self-signed P-256 end-entity certificate for NAME (SAN and CN).
tb_cert_selfsigned() {
    [ -f "$TB_CERTS/openssl.cnf" ] || tb_openssl_cnf
    TB_SAN=$2 openssl req -x509 -new -config "$TB_CERTS/openssl.cnf" -extensions ee \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$TB_CERTS/$1.key" -out "$TB_CERTS/$1.pem" \
        -days 30 -subj "/CN=$2" 2>"$TB_DIR/openssl.err" \
        || tb_die "openssl: self-signed $1: $(tail -n 1 "$TB_DIR/openssl.err")"
}

# tb_cert_ca BASE CN - self-signed P-256 CA certificate.
tb_cert_ca() {
    [ -f "$TB_CERTS/openssl.cnf" ] || tb_openssl_cnf
    TB_SAN=unused openssl req -x509 -new -config "$TB_CERTS/openssl.cnf" -extensions ca \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$TB_CERTS/$1.key" -out "$TB_CERTS/$1.pem" \
        -days 30 -subj "/CN=$2" 2>"$TB_DIR/openssl.err" \
        || tb_die "openssl: CA $1: $(tail -n 1 "$TB_DIR/openssl.err")"
}

# tb_cert_issue BASE ISSUER KIND NAME - certificate for NAME signed by ISSUER; KIND is ee_issued or ca_issued.
tb_cert_issue() {
    [ -f "$TB_CERTS/openssl.cnf" ] || tb_openssl_cnf
    TB_SAN=$4 openssl req -new -config "$TB_CERTS/openssl.cnf" \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$TB_CERTS/$1.key" -out "$TB_CERTS/$1.csr" \
        -subj "/CN=$4" 2>"$TB_DIR/openssl.err" \
        || tb_die "openssl: request $1: $(tail -n 1 "$TB_DIR/openssl.err")"
    TB_SAN=$4 openssl x509 -req -in "$TB_CERTS/$1.csr" \
        -CA "$TB_CERTS/$2.pem" -CAkey "$TB_CERTS/$2.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
        -days 30 -extfile "$TB_CERTS/openssl.cnf" -extensions "$3" \
        -out "$TB_CERTS/$1.pem" 2>"$TB_DIR/openssl.err" \
        || tb_die "openssl: issue $1: $(tail -n 1 "$TB_DIR/openssl.err")"
    rm -f "$TB_CERTS/$1.csr"
}

# tb_chain OUT FILE... - concatenate certificates (leaf first) into $TB_CERTS/OUT.
tb_chain() {
    local out=$TB_CERTS/$1
    shift
    : > "$out"
    while [ $# -gt 0 ]; do
        cat "$TB_CERTS/$1" >> "$out"
        shift
    done
}

# tb_hex - hex-encode stdin (lower case, one line).
tb_hex() {
    od -An -v -tx1 | tr -d ' \n'
}

# tb_der SELECTOR PEMFILE - the DER bytes TLSA selector S covers (0 certificate, 1 SPKI), on stdout.
tb_der() {
    if [ "$1" = 0 ]; then
        openssl x509 -in "$2" -outform DER
    else
        openssl x509 -in "$2" -pubkey -noout | openssl pkey -pubin -outform DER
    fi
}

# tb_assoc SELECTOR MTYPE PEMFILE - TLSA association data in hex, computed with openssl only.
tb_assoc() {
    case $2 in
        0) tb_der "$1" "$3" | tb_hex ;;
        1) tb_der "$1" "$3" | openssl dgst -sha256 -binary | tb_hex ;;
        2) tb_der "$1" "$3" | openssl dgst -sha512 -binary | tb_hex ;;
        *) tb_die "tb_assoc: matching type $2" ;;
    esac
}

# tb_fingerprint SELECTOR ALG PEMFILE - Postfix-style AB:CD:... fingerprint (ALG sha256 or sha512).
tb_fingerprint() {
    tb_der "$1" "$3" | openssl dgst "-$2" -binary | tb_hex \
        | tr 'a-f' 'A-F' | sed 's/\(..\)/\1:/g; s/:$//'
}

# tb_tlsa OWNER U S M PEMFILE - one zone-file TLSA line for the certificate.
# Uses `$DANCE tlsa` (the operator's tool, so the tests verify what it
# publishes) unless TB_TLSA_OPENSSL=1, then openssl alone.
tb_tlsa() {
    local owner=$1 u=$2 s=$3 m=$4 f=$5 out
    if [ "${TB_TLSA_OPENSSL:-0}" = 1 ]; then
        printf '%s IN TLSA %s %s %s %s\n' "$owner" "$u" "$s" "$m" "$(tb_assoc "$s" "$m" "$f")"
        return
    fi
    [ -n "$DANCE" ] || tb_die "tb_tlsa: DANCE is not set"
    out=$("$DANCE" tlsa --usage "$u" --selector "$s" --mtype "$m" --owner "$owner" "$f") \
        || tb_die "dance tlsa --usage $u --selector $s --mtype $m --owner $owner $f failed"
    printf '%s\n' "$out"
}

# tb_zone_tlsa ZONE OWNER U S M PEMFILE - append tb_tlsa's line to ZONE (dies if it cannot be made).
tb_zone_tlsa() {
    local z=$1 line
    shift
    if ! line=$(tb_tlsa "$@") || [ -z "$line" ]; then
        tb_die "no TLSA line for $*"
    fi
    printf '%s\n' "$line" >> "$TB_ZONES/$z.zone"
}

# ---------------------------------------------------------------------------
# Zones: keys, signing, DS.  Zone file of ZONE (no trailing dot) is
# $TB_ZONES/ZONE.zone; the signed one $TB_ZONES/ZONE.signed.

# tb_zone_head ZONE - start ZONE's file with SOA, NS and the name server's address.
tb_zone_head() {
    cat > "$TB_ZONES/$1.zone" <<EOF
\$ORIGIN $1.
\$TTL 300
@	IN	SOA	ns1.$1. hostmaster.$1. 1 3600 600 86400 60
@	IN	NS	ns1.$1.
ns1	IN	A	127.0.0.1
EOF
}

# tb_zone_add ZONE LINE... - append lines to ZONE's file.
tb_zone_add() {
    local z=$1
    shift
    printf '%s\n' "$@" >> "$TB_ZONES/$z.zone"
}

# tb_zone_keys ZONE - make a ZSK and a KSK (ECDSAP256SHA256) for ZONE.
tb_zone_keys() {
    local zsk ksk
    zsk=$(cd "$TB_KEYS" && ldns-keygen -a ECDSAP256SHA256 -r /dev/urandom "$1.") \
        || tb_die "ldns-keygen ZSK $1 failed"
    ksk=$(cd "$TB_KEYS" && ldns-keygen -a ECDSAP256SHA256 -r /dev/urandom -k "$1.") \
        || tb_die "ldns-keygen KSK $1 failed"
    printf '%s\n' "$zsk" > "$TB_KEYS/$1.zsk"
    printf '%s\n' "$ksk" > "$TB_KEYS/$1.ksk"
}

# tb_zone_ds ZONE - print the DS (SHA-256) of ZONE's KSK.
tb_zone_ds() {
    (cd "$TB_KEYS" && ldns-key2ds -n -2 "$(cat "$1.ksk").key") || tb_die "ldns-key2ds $1 failed"
}

# tb_date OFFSET - UTC date in ldns-signzone form, e.g. tb_date '-1 day'.
tb_date() {
    date -u -d "$1" +%Y%m%d%H%M%S
}

# tb_zone_sign ZONE [INCEPTION EXPIRATION] - sign ZONE (NSEC) into ZONE.signed; default valid from yesterday for 14 days.
tb_zone_sign() {
    local inc=${2:-$(tb_date '-1 day')} exp=${3:-$(tb_date '+14 days')}
    ldns-signzone -o "$1." -i "$inc" -e "$exp" -f "$TB_ZONES/$1.signed" "$TB_ZONES/$1.zone" \
        "$TB_KEYS/$(cat "$TB_KEYS/$1.zsk")" "$TB_KEYS/$(cat "$TB_KEYS/$1.ksk")" \
        2>"$TB_DIR/ldns.err" || tb_die "ldns-signzone $1: $(tail -n 1 "$TB_DIR/ldns.err")"
}

# tb_zone_unsigned ZONE - serve ZONE's file as it is (an insecure zone).
tb_zone_unsigned() {
    cp "$TB_ZONES/$1.zone" "$TB_ZONES/$1.signed"
}

# tb_zone_tamper ZONE OWNER TYPE - corrupt the signature of the RRSIG covering OWNER/TYPE in ZONE.signed.
tb_zone_tamper() {
    local f
    f=$TB_ZONES/$1.signed
    awk -v owner="$2" -v type="$3" '
        BEGIN { done = 0 }
        $1 == owner && $4 == "RRSIG" && $5 == type {
            sig = $NF
            c = substr(sig, 11, 1)
            r = (c == "A") ? "B" : "A"
            $NF = substr(sig, 1, 10) r substr(sig, 12)
            done++
        }
        { print }
        END { if (done == 0) exit 1 }' "$f" > "$f.tmp" \
        || tb_die "tb_zone_tamper: no RRSIG $3 at $2 in $1"
    mv "$f.tmp" "$f"
}

# ---------------------------------------------------------------------------
# Servers.

# tb_fault_server MODE NAME - start blackhole.py in MODE (silent, servfail, truncate); sets TB_FAULT_PORT.
tb_fault_server() {
    "$TB_PYTHON" "$TB_LIBDIR/blackhole.py" --mode "$1" "$TB_DIR/$2.port" "$TB_DIR/$2.count" \
        </dev/null >"$TB_DIR/$2.log" 2>&1 &
    TB_PIDS="$TB_PIDS $!"
    for _ in $(seq 1 50); do
        [ -s "$TB_DIR/$2.port" ] && break
        sleep 0.05
    done
    [ -s "$TB_DIR/$2.port" ] || tb_die "$2 ($1) did not start: $(cat "$TB_DIR/$2.log")"
    TB_FAULT_PORT=$(cat "$TB_DIR/$2.port")
}

# tb_blackhole_start - start the never-answering listener; sets TB_BH_PORT and TB_BH_COUNT.
tb_blackhole_start() {
    TB_BH_COUNT=$TB_DIR/blackhole.count
    tb_fault_server silent blackhole
    TB_BH_PORT=$TB_FAULT_PORT
}

# tb_blackhole_hits - number of datagrams/connections the blackhole has received so far.
tb_blackhole_hits() {
    wc -l < "$TB_BH_COUNT" | tr -d ' '
}

# tb_nsd_conf PORT ZONE... - write nsd.conf serving the given zones (their .signed files).
# With TB_NSD_NO_RRL=1 nsd's response rate limiting is off (on by default in
# Debian's build: 200 answers a second per /24, the rest dropped or
# truncated), so that a benchmark does not measure it.
tb_nsd_conf() {
    local port=$1 z
    shift
    cat > "$TB_DIR/nsd.conf" <<EOF
server:
${TB_NSD_NO_RRL:+	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
}	ip-address: 127.0.0.1
	port: $port
	do-ip6: no
	username: ""
	chroot: ""
	database: ""
	zonesdir: "$TB_ZONES"
	zonelistfile: "$TB_DIR/nsd.zonelist"
	xfrdfile: "$TB_DIR/nsd.xfrd"
	xfrdir: "$TB_DIR"
	pidfile: "$TB_DIR/nsd.pid"
	logfile: "$TB_DIR/nsd.log"
	verbosity: 0
	server-count: 1
	hide-version: yes
remote-control:
	control-enable: no
EOF
    for z in "$@"; do
        printf 'zone:\n\tname: "%s."\n\tzonefile: "%s.signed"\n' "$z" "$z" >> "$TB_DIR/nsd.conf"
    done
}

# tb_dns_ping PORT ZONE - true when 127.0.0.1:PORT answers an SOA query for ZONE within 0.3 s.
# (drill would wait 15 s for a server that is not listening yet.)
tb_dns_ping() {
    "$TB_PYTHON" -c '
import socket, struct, sys
port, zone = int(sys.argv[1]), sys.argv[2].rstrip(".")
qname = b"".join(bytes([len(l)]) + l.encode() for l in zone.split(".")) + b"\0"
query = struct.pack(">HHHHHH", 0x4441, 0, 1, 0, 0, 0) + qname + struct.pack(">HH", 6, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
try:
    s.sendto(query, ("127.0.0.1", port))
    reply = s.recv(4096)
except OSError:
    sys.exit(1)
# same id, a response, rcode NOERROR, at least one answer
ok = len(reply) >= 12 and reply[:2] == b"\x44\x41" and reply[2] & 0x80 and reply[3] & 0x0f == 0 and reply[6:8] != b"\0\0"
sys.exit(0 if ok else 1)' "$1" "$2"
}

# tb_nsd_start ZONE... - start nsd on a free 127.0.0.1 port serving the zones; sets TB_PORT.
tb_nsd_start() {
    local pid
    for _ in 1 2 3 4 5; do
        TB_PORT=$(tb_free_port) || tb_die "no free port"
        tb_nsd_conf "$TB_PORT" "$@"
        nsd -d -c "$TB_DIR/nsd.conf" </dev/null >>"$TB_DIR/nsd.out" 2>&1 &
        pid=$!
        TB_PIDS="$TB_PIDS $pid"
        for _ in $(seq 1 60); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break                       # died: port taken or bad config
            fi
            if tb_dns_ping "$TB_PORT" "$1."; then
                TB_NSD_PID=$pid
                return 0
            fi
            sleep 0.05
        done
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    tb_die "nsd did not start: $(tail -n 3 "$TB_DIR/nsd.log" "$TB_DIR/nsd.out" 2>/dev/null)"
}

# tb_nsd_kill - kill nsd at once (SIGKILL), as a server that crashed.
tb_nsd_kill() {
    [ -n "$TB_NSD_PID" ] || return 0
    kill -KILL "$TB_NSD_PID" 2>/dev/null
    wait "$TB_NSD_PID" 2>/dev/null
    TB_NSD_PID=
}

# tb_nsd_restart - start nsd again with the same configuration, on the same port ($TB_PORT).
tb_nsd_restart() {
    local pid
    nsd -d -c "$TB_DIR/nsd.conf" </dev/null >>"$TB_DIR/nsd.out" 2>&1 &
    pid=$!
    TB_PIDS="$TB_PIDS $pid"
    for _ in $(seq 1 100); do
        if tb_dns_ping "$TB_PORT" test.; then
            TB_NSD_PID=$pid
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    tb_die "nsd did not restart on port $TB_PORT: $(tail -n 3 "$TB_DIR/nsd.log" 2>/dev/null)"
}

# tb_nsd_stop - stop nsd (tb_cleanup does this anyway).
tb_nsd_stop() {
    [ -n "$TB_NSD_PID" ] || return 0
    kill "$TB_NSD_PID" 2>/dev/null
    wait "$TB_NSD_PID" 2>/dev/null
    TB_NSD_PID=
}

# tb_unbound_conf FILE STUB... - write a libunbound config; each STUB is ZONE=PORT.
# Every query stays on 127.0.0.1: the stubs, plus "." forwarded to nsd.
tb_unbound_conf() {
    local f=$1 s
    shift
    cat > "$f" <<EOF
# libunbound configuration for dance's DNSSEC test bed (loopback only).
# The trust anchor is given separately: dance check --trust-anchor $TB_TA
server:
	verbosity: 0
	do-ip6: no
	do-not-query-localhost: no
	qname-minimisation: no
	target-fetch-policy: "0 0 0 0 0"
	local-zone: "test." nodefault
EOF
    for s in "$@"; do
        printf 'stub-zone:\n\tname: "%s."\n\tstub-addr: 127.0.0.1@%s\n' "${s%%=*}" "${s#*=}" >> "$f"
    done
    printf 'forward-zone:\n\tname: "."\n\tforward-addr: 127.0.0.1@%s\n' "$TB_PORT" >> "$f"
}

# ---------------------------------------------------------------------------
# The standard bed used by t/dns/check.sh and t/demo.sh (layout at the top).

# tb_standard_certs - good, rogue, the DANE-TA chains (files in $TB_CERTS):
#   good.pem/.key   self-signed, mta1.ok.test    rogue.pem  same name, other key
#   ca.pem -> ta.pem (ta.ok.test), other.pem (other.ok.test); chains
#   ta-chain.pem = ta.pem + ca.pem, other-chain.pem = other.pem + ca.pem
#   root.pem -> int.pem -> ta2.pem (ta2.ok.test); ta2-chain.pem = ta2 + int + root
#   root.pem -> int.pem -> tafake.pem (ta.ok.test: right name, wrong CA);
#   tafake-chain.pem = tafake + int + root
tb_standard_certs() {
    tb_cert_selfsigned good mta1.ok.test
    tb_cert_selfsigned rogue mta1.ok.test
    tb_cert_ca ca "dance test CA"
    tb_cert_issue ta ca ee_issued ta.ok.test
    tb_chain ta-chain.pem ta.pem ca.pem
    tb_cert_issue other ca ee_issued other.ok.test
    tb_chain other-chain.pem other.pem ca.pem
    tb_cert_ca root "dance test root"
    tb_cert_issue int root ca_issued "dance test intermediate"
    tb_cert_issue ta2 int ee_issued ta2.ok.test
    tb_chain ta2-chain.pem ta2.pem int.pem root.pem
    tb_cert_issue tafake int ee_issued ta.ok.test
    tb_chain tafake-chain.pem tafake.pem int.pem root.pem
}

# tb_standard_zones - write, sign and (for bogus) tamper all zones of the standard bed.
tb_standard_zones() {
    local G=$TB_CERTS/good.pem z h32 h31
    h32=$(tb_assoc 1 1 "$G")
    [ ${#h32} = 64 ] || tb_die "cannot hash $G"
    h31=${h32:0:62}

    for z in test ok.test alt.test insecure.test bogus.test expired.test; do
        tb_zone_head "$z"
    done
    for z in test ok.test alt.test bogus.test expired.test dead.test servfail.test trunc.test; do
        tb_zone_keys "$z"
    done

    # ok.test.: one claimed name per case.
    for z in mta1 ee301 ee312 ee310 ee300 ta ta2 pkix unknown malformed mixed agile nodata nx cname cninsec srv \
        big huge many; do
        tb_zone_add ok.test "$z	IN	A	127.0.0.1"
    done
    tb_zone_tlsa ok.test _smtp-client.mta1.ok.test. 3 1 1 "$G"
    tb_zone_tlsa ok.test _smtp-client.ee301.ok.test. 3 0 1 "$G"
    tb_zone_tlsa ok.test _smtp-client.ee312.ok.test. 3 1 2 "$G"
    tb_zone_tlsa ok.test _smtp-client.ee310.ok.test. 3 1 0 "$G"
    tb_zone_tlsa ok.test _smtp-client.ee300.ok.test. 3 0 0 "$G"
    tb_zone_tlsa ok.test _smtp-client.ta.ok.test. 2 0 1 "$TB_CERTS/ca.pem"
    tb_zone_tlsa ok.test _smtp-client.ta2.ok.test. 2 1 1 "$TB_CERTS/root.pem"
    tb_zone_tlsa ok.test _smtp-client.pkix.ok.test. 0 0 1 "$TB_CERTS/ca.pem"
    tb_zone_tlsa ok.test _smtp-client.pkix.ok.test. 1 1 1 "$G"
    tb_zone_tlsa ok.test _smtp-client.mixed.ok.test. 3 1 1 "$G"
    tb_zone_tlsa ok.test _smtp-client.agile.ok.test. 3 1 1 "$G"
    tb_zone_tlsa ok.test _smtp-client.agile.ok.test. 3 1 2 "$TB_CERTS/rogue.pem"
    tb_zone_tlsa ok.test _25._tcp.srv.ok.test. 3 1 1 "$G"
    tb_zone_tlsa ok.test _smtp-client.big.ok.test. 3 1 1 "$G"
    for z in ca other root int; do
        tb_zone_tlsa ok.test _smtp-client.big.ok.test. 3 0 0 "$TB_CERTS/$z.pem"
    done
    # Oversized RRsets: a hostile zone trying to fill danced's cache.
    tb_zone_tlsa ok.test _smtp-client.huge.ok.test. 3 1 1 "$G"
    tb_zone_tlsa ok.test _smtp-client.many.ok.test. 3 1 1 "$G"
    for z in 1 2 3; do
        tb_zone_add ok.test "_smtp-client.huge.ok.test. IN TLSA 3 0 0 $(head -c 1800 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
    done
    for z in $(seq 1 70); do
        tb_zone_add ok.test "_smtp-client.many.ok.test. IN TLSA 3 1 1 $(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
    done
    # Records dance tlsa would never print: unknown parameters, broken data.
    tb_zone_add ok.test \
        "_smtp-client.unknown.ok.test. IN TLSA 4 1 1 $h32" \
        "_smtp-client.unknown.ok.test. IN TLSA 3 2 1 $h32" \
        "_smtp-client.unknown.ok.test. IN TLSA 3 1 3 $h32" \
        "_smtp-client.malformed.ok.test. IN TLSA 3 1 1 $h31" \
        "_smtp-client.malformed.ok.test. IN TLSA 3 1 2 $h32" \
        "_smtp-client.malformed.ok.test. IN TLSA 3 1 0 3003020100" \
        "_smtp-client.malformed.ok.test. IN TLSA 3 0 0 deadbeef" \
        "_smtp-client.mixed.ok.test. IN TLSA 3 1 1 $h31" \
        "_smtp-client.mixed.ok.test. IN TLSA 3 1 0 3003020100" \
        "_smtp-client.nodata.ok.test. IN TXT \"no TLSA here\"" \
        "_smtp-client.cname.ok.test. IN CNAME _certs.pool.alt.test." \
        "_smtp-client.cninsec.ok.test. IN CNAME _smtp-client.mta1.insecure.test."

    tb_zone_tlsa alt.test _certs.pool.alt.test. 3 1 1 "$G"
    tb_zone_tlsa insecure.test _smtp-client.mta1.insecure.test. 3 1 1 "$G"
    tb_zone_tlsa bogus.test _smtp-client.mta1.bogus.test. 3 1 1 "$G"
    tb_zone_tlsa expired.test _smtp-client.mta1.expired.test. 3 1 1 "$G"

    # test.: delegations, with DS for the signed children, none for insecure.
    for z in ok alt insecure bogus expired dead servfail trunc; do
        tb_zone_add test "$z	IN	NS	ns1.$z.test." "ns1.$z	IN	A	127.0.0.1"
    done
    for z in ok alt bogus expired dead servfail trunc; do
        tb_zone_ds "$z.test" >> "$TB_ZONES/test.zone"
    done

    tb_zone_sign test
    tb_zone_sign ok.test
    tb_zone_sign alt.test
    tb_zone_unsigned insecure.test
    tb_zone_sign bogus.test
    tb_zone_tamper bogus.test _smtp-client.mta1.bogus.test. TLSA
    tb_zone_sign expired.test "$(tb_date '-30 days')" "$(tb_date '-2 days')"

    # The trust anchor: DS of test.'s KSK (and its DNSKEY, for drill -k).
    TB_TA=$TB_DIR/test.ta
    tb_zone_ds test > "$TB_TA"
    cp "$TB_KEYS/$(cat "$TB_KEYS/test.ksk").key" "$TB_DIR/test.dnskey"
}

# tb_standard_bed - certificates, zones, nsd, blackhole and $TB_CONF: the whole standard bed.
tb_standard_bed() {
    tb_standard_certs
    tb_standard_zones
    tb_blackhole_start
    tb_fault_server servfail servfail
    TB_SF_PORT=$TB_FAULT_PORT
    tb_fault_server truncate truncate
    TB_TC_PORT=$TB_FAULT_PORT
    tb_nsd_start test ok.test alt.test insecure.test bogus.test expired.test
    TB_CONF=$TB_DIR/unbound.conf
    tb_unbound_conf "$TB_CONF" test="$TB_PORT" ok.test="$TB_PORT" alt.test="$TB_PORT" \
        insecure.test="$TB_PORT" bogus.test="$TB_PORT" expired.test="$TB_PORT" \
        dead.test="$TB_BH_PORT" servfail.test="$TB_SF_PORT" trunc.test="$TB_TC_PORT"
}

# tb_small_bed RECORD... - just test. and ok.test. (RECORDs are zone lines added to
# ok.test., e.g. `dance tlsa` output), signed now, served by nsd; sets $TB_TA and $TB_CONF.
# The demos use it.
tb_small_bed() {
    tb_zone_head test
    tb_zone_head ok.test
    tb_zone_keys test
    tb_zone_keys ok.test
    tb_zone_add ok.test "mta1	IN	A	127.0.0.1" "$@"
    tb_zone_add test "ok	IN	NS	ns1.ok.test." "ns1.ok	IN	A	127.0.0.1"
    tb_zone_ds ok.test >> "$TB_ZONES/test.zone"
    tb_zone_sign test
    tb_zone_sign ok.test
    TB_TA=$TB_DIR/test.ta
    tb_zone_ds test > "$TB_TA"
    tb_nsd_start test ok.test
    TB_CONF=$TB_DIR/unbound.conf
    tb_unbound_conf "$TB_CONF" test="$TB_PORT" ok.test="$TB_PORT"
}

# tb_json_is EXPR - $TB_DIR/out parses as JSON and the python expression EXPR (over j)
# is true; otherwise WHY says why and it fails.  (Tests write their JSON to $TB_DIR/out.)
tb_json_is() {
    if ! "$TB_PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$TB_DIR/out" "$1" 2>"$TB_DIR/py.err"; then
        WHY="JSON check failed: $1 $(tail -n 1 "$TB_DIR/py.err")"
        return 1
    fi
    return 0
}

# tb_selfcheck - sanity of the served zones with drill (signatures present, bogus really tampered).
tb_selfcheck() {
    local out
    out=$(drill -D -p "$TB_PORT" @127.0.0.1 TLSA _smtp-client.mta1.ok.test.) || return 1
    printf '%s\n' "$out" | grep -q 'RRSIG	TLSA' || { tb_log "no RRSIG over TLSA in ok.test"; return 1; }
    out=$(drill -D -p "$TB_PORT" @127.0.0.1 DS ok.test.) || return 1
    printf '%s\n' "$out" | grep -q 'IN	DS' || { tb_log "no DS for ok.test"; return 1; }
    out=$(drill -D -p "$TB_PORT" @127.0.0.1 DS insecure.test.) || return 1
    printf '%s\n' "$out" | grep -q 'NSEC' || { tb_log "no NSEC proof for insecure.test"; return 1; }
    return 0
}
