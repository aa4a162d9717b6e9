#!/usr/bin/python3
"""policyclient.py - a Postfix policy delegation client for danced's tests.

Speaks the protocol the way Postfix's smtpd does (name=value lines, an
empty line, one "action=..." reply ended by an empty line, persistent
connections) and adds the hostile and timing cases the daemon tests need.
Standard library only.  Every command prints one JSON object on stdout
for t/daemon/policy.sh to assert on; the exit status is 0 unless the
command line itself is wrong (2) or, for "wait", the daemon never
accepted (1).

Usage: policyclient.py ENDPOINT COMMAND [options] [name=value ... [--next name=value ...]]

ENDPOINT is Postfix's syntax: inet:127.0.0.1:PORT, inet:[::1]:PORT or
unix:/path.  Requests start from a Postfix 3.7 RCPT request (the
attributes of DEFAULTS below); name=value arguments override or add
attributes, "name-" removes one.  "--next" starts another request that
inherits the previous one's attributes, so several different requests
can be sent in turn on one connection.

Commands:
  ask [--repeat N] [--pipeline] [--timeout S]
      One connection; sends the requests in turn (the whole list N times),
      each after the previous reply (or all in one write with
      --pipeline).  -> {"replies": [action text, ...], "ms": [...],
      "closed": bool, "error": str|null, "bad_format": [...]}
  many --conns N [--timeout S]
      Opens N connections, all connected before the first byte is sent,
      then sends the (first) request on every one at once and reads
      every reply.  -> {"connected": n, "answered": n, "actions":
      {action: count}, "max_ms": ms, "errors": [...]}
  bad --kind K [--timeout S]
      A healthy connection asks the request, then a second connection
      sends malformed input K (nul, longline, manyattrs, bigreq, noeq,
      badname, dupe), then the healthy one asks again.  ->
      {"before": action, "after": action, "bad_closed": bool,
      "bad_reply": bytes received on the bad connection (str),
      "bad_close_ms": ms, "bad_send_error": str|null}
  edge [--timeout S]
      Requests right at the limits, each on a new connection: the request
      padded to exactly 256 attributes, one with a line of exactly 8192
      bytes, one of exactly 65536 bytes, the request with CRLF line ends,
      and an empty request (just the empty line).  -> {"attrs256": action,
      "line8192": action, "req65536": action, "crlf": action, "empty":
      action, "sizes": {...}, "error": str|null}
  slow --slow name=value [--fast-count N] [--timeout S]
      Connection A sends the request with the --slow overrides (a name
      whose look-up hangs); 100 ms later connection B asks the normal
      request N times in turn.  -> {"fast": [actions], "fast_ms": [...],
      "slow": action, "slow_ms": ms}
  idle [--max S] [--first]
      Connects (asks once with --first) and then sends nothing; reports
      when the daemon closes.  -> {"closed": bool, "closed_after_ms": ms,
      "first": action|null}
  reload --pid P [--max S]
      One connection asks the request, sends SIGHUP to process P, then
      asks again on the same connection every 100 ms until the reply
      differs from the first one or S seconds (default 3) passed.  ->
      {"before": action, "after": action, "changed": bool, "ms": ms,
      "closed": bool}
  flood --count N [--conns C] [--timeout S]
      N DATA requests (the request's attributes, protocol_state=DATA) on
      C connections in turn, each with a random queue id, client port and
      instance - what a local process trying to push the milter's
      records out of the join store sends.  -> {"sent": n, "answered": n,
      "closed": n (connections danced closed), "actions": {action: count},
      "ms": total ms}
  wait [--max S]
      Retries connecting until the daemon accepts.  -> {"up": bool, "ms": ms}
  freeport6
      -> {"port": N} a free TCP port on ::1, or {"port": null} without IPv6.
"""

import json
import os
import random
import selectors
import signal
import socket
import sys
import time

# What Postfix 3.7 sends at RCPT (see mta-interfaces.md), without a certificate.
DEFAULTS = [
    ("request", "smtpd_access_policy"),
    ("protocol_state", "RCPT"),
    ("protocol_name", "ESMTP"),
    ("client_address", "127.0.0.1"),
    ("client_name", "unknown"),
    ("client_port", "54924"),
    ("reverse_client_name", "unknown"),
    ("server_address", "127.0.0.1"),
    ("server_port", "2525"),
    ("helo_name", "mta1.ok.test"),
    ("sender", ""),
    ("recipient", "rcpt@dest.test"),
    ("recipient_count", "0"),
    ("queue_id", ""),
    ("instance", "5357.6b0b2e52.2bffc.0"),
    ("size", "0"),
    ("etrn_domain", ""),
    ("stress", ""),
    ("sasl_method", ""),
    ("sasl_username", ""),
    ("sasl_sender", ""),
    ("ccert_subject", ""),
    ("ccert_issuer", ""),
    ("ccert_fingerprint", ""),
    ("ccert_pubkey_fingerprint", ""),
    ("encryption_protocol", "TLSv1.3"),
    ("encryption_cipher", "TLS_AES_256_GCM_SHA384"),
    ("encryption_keysize", "256"),
    ("policy_context", ""),
]


def usage(msg):
    sys.stderr.write("policyclient.py: %s\n" % msg)
    sys.exit(2)


def now_ms():
    return time.monotonic() * 1000.0


# ---------------------------------------------------------------------------
# Requests and replies.

def apply_overrides(attrs, overrides):
    """Return a new attribute list: name=value replaces or appends, name- removes."""
    out = list(attrs)
    for o in overrides:
        if "=" in o:
            name, value = o.split("=", 1)
            for i, (n, _) in enumerate(out):
                if n == name:
                    out[i] = (name, value)
                    break
            else:
                out.append((name, value))
        elif o.endswith("-"):
            out = [(n, v) for (n, v) in out if n != o[:-1]]
        else:
            usage("not name=value or name-: %r" % o)
    return out


def encode(attrs):
    """The request bytes, as Postfix writes them."""
    return "".join("%s=%s\n" % (n, v) for n, v in attrs).encode("latin-1") + b"\n"


def parse_reply(raw):
    """(action text, format problem or None) of one raw reply ending in a blank line."""
    text = raw.decode("latin-1")
    problem = None
    if "\r" in text:
        problem = "CR in reply"
    lines = text.split("\n")
    # raw ends with "\n\n": lines = [..., "", ""]
    body = lines[:-2]
    if len(body) != 1:
        problem = problem or "reply has %d attribute lines" % len(body)
    if not body or not body[0].startswith("action="):
        return None, problem or "no action= line"
    action = body[0][len("action="):]
    if action.strip() == "":
        problem = problem or "empty action"
    return action, problem


def endpoint_address(ep):
    """(family, address) for socket.connect."""
    if ep.startswith("unix:"):
        return socket.AF_UNIX, ep[5:]
    if ep.startswith("inet:"):
        rest = ep[5:]
        if rest.startswith("["):
            host, _, port = rest[1:].partition("]:")
            return socket.AF_INET6, (host, int(port))
        host, _, port = rest.rpartition(":")
        return socket.AF_INET, (host, int(port))
    usage("bad endpoint %r" % ep)
    return None


class Conn:
    """One policy connection with a buffered, deadline-bound reply reader."""

    def __init__(self, ep, timeout):
        fam, addr = endpoint_address(ep)
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def read_reply(self, timeout=None):
        """The next raw reply; None on EOF/reset; raises socket.timeout past the deadline."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\n\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply within the deadline")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self.eof = True
                return None
            self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\n\n")
        return raw + b"\n\n"

    def wait_closed(self, timeout):
        """(closed, bytes received meanwhile): reads until EOF/reset or the deadline."""
        got = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, got
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False, got
            except (ConnectionResetError, BrokenPipeError):
                return True, got
            if not chunk:
                return True, got
            got += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def ask_one(conn, req, timeout=None):
    """(action, ms, problem): send one request and read its reply."""
    t0 = now_ms()
    conn.send(encode(req))
    raw = conn.read_reply(timeout)
    ms = now_ms() - t0
    if raw is None:
        return None, ms, "connection closed"
    action, problem = parse_reply(raw)
    return action, ms, problem


# ---------------------------------------------------------------------------
# Commands.

def cmd_ask(ep, opts, reqs):
    repeat = int(opts.get("repeat", 1))
    timeout = float(opts.get("timeout", 5))
    seq = reqs * repeat
    out = {"replies": [], "ms": [], "closed": False, "error": None, "bad_format": []}
    try:
        conn = Conn(ep, timeout)
    except OSError as e:
        out["error"] = "connect: %s" % e
        return out
    try:
        if opts.get("pipeline"):
            t0 = now_ms()
            conn.send(b"".join(encode(r) for r in seq))
            for _ in seq:
                raw = conn.read_reply()
                if raw is None:
                    out["closed"] = True
                    break
                action, problem = parse_reply(raw)
                out["replies"].append(action)
                out["ms"].append(round(now_ms() - t0, 1))
                if problem:
                    out["bad_format"].append(problem)
        else:
            for r in seq:
                action, ms, problem = ask_one(conn, r)
                if action is None and problem == "connection closed":
                    out["closed"] = True
                    break
                out["replies"].append(action)
                out["ms"].append(round(ms, 1))
                if problem:
                    out["bad_format"].append(problem)
    except socket.timeout as e:
        out["error"] = "timeout: %s" % e
    except OSError as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    conn.close()
    return out


def cmd_flood(ep, opts, reqs):
    count = int(opts.get("count", 1000))
    nconn = max(1, int(opts.get("conns", 1)))
    timeout = float(opts.get("timeout", 10))
    rng = random.Random(os.getpid())
    out = {"sent": 0, "answered": 0, "closed": 0, "actions": {}, "ms": 0, "error": None}
    t0 = now_ms()
    per = (count + nconn - 1) // nconn
    for c in range(nconn):
        try:
            conn = Conn(ep, timeout)
        except OSError as e:
            out["error"] = "connect: %s" % e
            break
        batch = []
        for _ in range(min(per, count - out["sent"])):
            qid = "".join(rng.choice("0123456789ABCDEF") for _ in range(11))
            batch.append(apply_overrides(reqs[0], [
                "protocol_state=DATA", "queue_id=" + qid,
                "client_port=%d" % rng.randint(1024, 65535),
                "instance=%x.%x.0" % (rng.getrandbits(32), rng.getrandbits(20))]))
        try:
            conn.send(b"".join(encode(r) for r in batch))
            out["sent"] += len(batch)
            for _ in batch:
                raw = conn.read_reply()
                if raw is None:
                    out["closed"] += 1
                    break
                action, _ = parse_reply(raw)
                out["answered"] += 1
                out["actions"][action] = out["actions"].get(action, 0) + 1
        except (OSError, socket.timeout) as e:
            out["closed"] += 1
            out["error"] = "%s: %s" % (type(e).__name__, e)
        conn.close()
    out["ms"] = round(now_ms() - t0)
    return out


def cmd_many(ep, opts, reqs):
    n = int(opts.get("conns", 100))
    timeout = float(opts.get("timeout", 10))
    data = encode(reqs[0])
    out = {"connected": 0, "answered": 0, "actions": {}, "max_ms": 0.0, "errors": []}
    conns = []
    for _ in range(n):
        try:
            c = Conn(ep, timeout)
            conns.append(c)
        except OSError as e:
            out["errors"].append("connect: %s" % e)
    out["connected"] = len(conns)
    sel = selectors.DefaultSelector()
    t0 = now_ms()
    for c in conns:
        try:
            c.send(data)
            c.sock.setblocking(False)
            sel.register(c.sock, selectors.EVENT_READ, c)
        except OSError as e:
            out["errors"].append("send: %s" % e)
    pending = len(sel.get_map())
    deadline = time.monotonic() + timeout
    while pending > 0 and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            c = key.data
            try:
                chunk = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                chunk = b""
                out["errors"].append("recv: %s" % e)
            if chunk:
                c.buf += chunk
            if b"\n\n" in c.buf or not chunk:
                sel.unregister(c.sock)
                pending -= 1
                if b"\n\n" in c.buf:
                    raw = c.buf.partition(b"\n\n")[0] + b"\n\n"
                    action, problem = parse_reply(raw)
                    out["answered"] += 1
                    out["actions"][action] = out["actions"].get(action, 0) + 1
                    out["max_ms"] = max(out["max_ms"], round(now_ms() - t0, 1))
                    if problem:
                        out["errors"].append(problem)
                else:
                    out["errors"].append("closed without a reply")
    if pending > 0:
        out["errors"].append("%d connections without a reply after %.1f s" % (pending, timeout))
    for c in conns:
        c.close()
    return out


def bad_bytes(kind):
    """Malformed request bytes of the given kind (none would be accepted by the daemon)."""
    head = b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
    if kind == "nul":
        return head + b"helo_name=mta1\x00.ok.test\n\n"
    if kind == "longline":          # one 9 KiB line (limit 8 KiB)
        return head + b"helo_name=" + b"a" * (9 * 1024) + b"\n\n"
    if kind == "manyattrs":         # 300 attributes (limit 256)
        return head + b"".join(b"x%d=1\n" % i for i in range(300)) + b"\n"
    if kind == "bigreq":            # 72 KiB in lines of 4 KiB (each line and the count legal)
        return head + b"".join(b"x%d=%s\n" % (i, b"b" * 4090) for i in range(18)) + b"\n"
    if kind == "noeq":              # a line without '='
        return head + b"this line has no equals sign\n\n"
    if kind == "badname":           # attribute name with a space
        return head + b"helo name=x\n\n"
    if kind == "dupe":              # the same attribute twice
        return head + b"helo_name=a.test\nhelo_name=b.test\n\n"
    usage("unknown --kind %r" % kind)
    return b""


def cmd_bad(ep, opts, reqs):
    timeout = float(opts.get("timeout", 5))
    kind = opts.get("kind", "")
    data = bad_bytes(kind)
    out = {"kind": kind, "bytes": len(data), "before": None, "after": None,
           "bad_closed": False, "bad_reply": "", "bad_close_ms": None,
           "bad_send_error": None, "error": None}
    try:
        good = Conn(ep, timeout)
        out["before"], _, _ = ask_one(good, reqs[0])
        bad = Conn(ep, timeout)
        t0 = now_ms()
        try:
            bad.send(data)
        except OSError as e:        # the daemon may close before it has read everything
            out["bad_send_error"] = type(e).__name__
        closed, got = bad.wait_closed(timeout)
        out["bad_closed"] = closed
        out["bad_reply"] = got.decode("latin-1")
        if closed:
            out["bad_close_ms"] = round(now_ms() - t0, 1)
        bad.close()
        out["after"], _, _ = ask_one(good, reqs[0])
        good.close()
    except (OSError, socket.timeout) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    return out


LIMIT_ATTRS = 256
LIMIT_LINE = 8192
LIMIT_REQUEST = 65536


def edge_requests(req):
    """name -> request bytes exactly at one of the daemon's limits (or otherwise unusual)."""
    out = {}
    pad = [("pad%d" % i, "1") for i in range(LIMIT_ATTRS - len(req))]
    out["attrs256"] = encode(req + pad)
    fill = LIMIT_LINE - len("pad_line=")
    out["line8192"] = encode(req + [("pad_line", "L" * fill)])
    # fill the request to LIMIT_REQUEST bytes with lines under the line limit
    body = list(req)
    i = 0
    while len(encode(body)) < LIMIT_REQUEST:
        left = LIMIT_REQUEST - len(encode(body))
        name = "pad%d" % i
        overhead = len(name) + 2            # "=" and "\n"
        if left < overhead:                 # cannot happen with these sizes; keep it honest
            break
        body.append((name, "R" * min(8000, left - overhead)))
        i += 1
    out["req65536"] = encode(body)
    out["crlf"] = encode(req).replace(b"\n", b"\r\n")
    out["empty"] = b"\n"
    return out


def cmd_edge(ep, opts, reqs):
    timeout = float(opts.get("timeout", 5))
    out = {"sizes": {}, "error": None}
    for name, data in edge_requests(reqs[0]).items():
        out["sizes"][name] = len(data)
        try:
            c = Conn(ep, timeout)
            c.send(data)
            raw = c.read_reply()
            out[name] = parse_reply(raw)[0] if raw is not None else None
            c.close()
        except (OSError, socket.timeout) as e:
            out[name] = None
            out["error"] = "%s: %s: %s" % (name, type(e).__name__, e)
    return out


def cmd_slow(ep, opts, reqs, slow_overrides):
    timeout = float(opts.get("timeout", 10))
    count = int(opts.get("fast-count", 5))
    out = {"fast": [], "fast_ms": [], "slow": None, "slow_ms": None, "error": None}
    try:
        a = Conn(ep, timeout)
        b = Conn(ep, timeout)
        t0 = now_ms()
        a.send(encode(apply_overrides(reqs[0], slow_overrides)))
        time.sleep(0.1)
        for _ in range(count):
            action, ms, _ = ask_one(b, reqs[0])
            out["fast"].append(action)
            out["fast_ms"].append(round(ms, 1))
        raw = a.read_reply(timeout)
        out["slow_ms"] = round(now_ms() - t0, 1)
        out["slow"] = parse_reply(raw)[0] if raw is not None else None
        a.close()
        b.close()
    except (OSError, socket.timeout) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    return out


def cmd_idle(ep, opts, reqs):
    limit = float(opts.get("max", 10))
    out = {"closed": False, "closed_after_ms": None, "first": None, "error": None}
    try:
        c = Conn(ep, 5)
        if opts.get("first"):
            out["first"], _, _ = ask_one(c, reqs[0])
        t0 = now_ms()
        closed, got = c.wait_closed(limit)
        out["closed"] = closed
        if closed:
            out["closed_after_ms"] = round(now_ms() - t0, 1)
        if got:
            out["error"] = "unexpected bytes: %r" % got[:80]
        c.close()
    except (OSError, socket.timeout) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    return out


def cmd_reload(ep, opts, reqs):
    limit = float(opts.get("max", 3))
    pid = int(opts.get("pid", 0))
    out = {"before": None, "after": None, "changed": False, "ms": None, "closed": False,
           "error": None}
    if pid <= 0:
        usage("reload needs --pid")
    try:
        c = Conn(ep, 5)
        out["before"], _, problem = ask_one(c, reqs[0])
        t0 = now_ms()
        os.kill(pid, signal.SIGHUP)
        while True:
            time.sleep(0.1)
            action, _, problem = ask_one(c, reqs[0])
            out["after"] = action
            if action is None:
                out["closed"] = True
                break
            if action != out["before"]:
                out["changed"] = True
                out["ms"] = round(now_ms() - t0, 1)
                break
            if now_ms() - t0 > limit * 1000:
                break
        c.close()
    except (OSError, socket.timeout) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    return out


def cmd_wait(ep, opts):
    limit = float(opts.get("max", 10))
    t0 = now_ms()
    fam, addr = endpoint_address(ep)
    while now_ms() - t0 < limit * 1000:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect(addr)
            s.close()
            return {"up": True, "ms": round(now_ms() - t0, 1)}
        except OSError:
            s.close()
            time.sleep(0.05)
    return {"up": False, "ms": round(now_ms() - t0, 1)}


def cmd_freeport6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        port = s.getsockname()[1]
        s.close()
        return {"port": port}
    except OSError:
        return {"port": None}


# ---------------------------------------------------------------------------

VALUE_OPTS = {"pid", "repeat", "timeout", "conns", "kind", "fast-count", "max", "slow", "count"}
FLAG_OPTS = {"pipeline", "first"}


def main(argv):
    if len(argv) >= 1 and argv[0] == "freeport6":
        print(json.dumps(cmd_freeport6()))
        return 0
    if len(argv) < 2:
        usage("usage: policyclient.py ENDPOINT COMMAND [options] [name=value ...]")
    ep, cmd, args = argv[0], argv[1], argv[2:]
    opts = {}
    slow = []
    groups = [[]]
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--next":
            groups.append([])
        elif a.startswith("--") and a[2:] in FLAG_OPTS:
            opts[a[2:]] = True
        elif a.startswith("--") and a[2:] in VALUE_OPTS:
            if i + 1 >= len(args):
                usage("%s needs a value" % a)
            if a == "--slow":
                slow.append(args[i + 1])
            else:
                opts[a[2:]] = args[i + 1]
            i += 1
        elif a.startswith("--"):
            usage("unknown option %s" % a)
        else:
            groups[-1].append(a)
        i += 1
    reqs = []
    attrs = DEFAULTS
    for g in groups:
        attrs = apply_overrides(attrs, g)
        reqs.append(attrs)

    if cmd == "ask":
        res = cmd_ask(ep, opts, reqs)
    elif cmd == "many":
        res = cmd_many(ep, opts, reqs)
    elif cmd == "bad":
        res = cmd_bad(ep, opts, reqs)
    elif cmd == "edge":
        res = cmd_edge(ep, opts, reqs)
    elif cmd == "slow":
        res = cmd_slow(ep, opts, reqs, slow)
    elif cmd == "idle":
        res = cmd_idle(ep, opts, reqs)
    elif cmd == "reload":
        res = cmd_reload(ep, opts, reqs)
    elif cmd == "flood":
        res = cmd_flood(ep, opts, reqs)
    elif cmd == "wait":
        res = cmd_wait(ep, opts)
        print(json.dumps(res))
        return 0 if res["up"] else 1
    else:
        usage("unknown command %r" % cmd)
        return 2
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
