#!/usr/bin/python3
"""faultclient.py - hostile and heavy policy clients for t/daemon/faults.sh.

Builds on policyclient.py (the same requests, endpoints and reply parsing)
and adds the clients a fault-injection test needs.  Each command prints one
JSON object on stdout; the exit status is 0 unless the command line is
wrong (2).

Usage: faultclient.py ENDPOINT COMMAND [options] [name=value ...]

Commands:
  loris --every S [--max M]
      Sends the request one byte every S seconds until the daemon closes
      the connection or M seconds (default 30) passed.
      -> {"closed": bool, "closed_after_ms": ms, "sent": bytes, "reply": action|null}
  drop --bytes K [--rst]
      Sends the first K bytes of the request and closes (with --rst: a TCP
      reset, SO_LINGER 0).  -> {"sent": K}
  abandon --conns N [--batch B] [--partial]
      Opens N connections, B at a time (default 500), each closed right
      after connecting (with --partial: after half a request).
      -> {"opened": n, "failed": n, "errors": [first few]}
  load --conns C --seconds S [--pid P --signal NAME --count K]
      C connections each ask the request again and again for S seconds;
      with --pid, K signals NAME (HUP, TERM, ...) go to process P, spread
      over the middle half of the run.  -> {"sent": n, "answered": n,
      "lost": n (sent, connection still open, no reply), "closed": n
      (connections the daemon closed), "errors": [...], "actions":
      {action: count}, "p99_ms": ms, "max_ms": ms}
"""

import json
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policyclient as pc  # noqa: E402  (the shared request/reply code)


def opt_value(opts, name, default=None, kind=str):
    return kind(opts[name]) if name in opts else default


def cmd_loris(ep, opts, req):
    every = opt_value(opts, "--every", 1.0, float)
    limit = opt_value(opts, "--max", 30.0, float)
    data = pc.encode(req)
    conn = pc.Conn(ep, limit)
    t0 = pc.now_ms()
    sent, closed, reply = 0, False, None
    conn.sock.settimeout(every)
    while sent < len(data) and pc.now_ms() - t0 < limit * 1000:
        try:
            conn.sock.send(data[sent:sent + 1])
            sent += 1
        except OSError:
            closed = True
            break
        try:
            got = conn.sock.recv(4096)
            if not got:
                closed = True
                break
            reply = got.decode("latin-1")
        except socket.timeout:
            pass
        except OSError:
            closed = True
            break
    ms = pc.now_ms() - t0
    conn.close()
    return {"closed": closed, "closed_after_ms": round(ms), "sent": sent, "reply": reply}


def cmd_drop(ep, opts, req):
    k = opt_value(opts, "--bytes", 10, int)
    conn = pc.Conn(ep, 5)
    conn.send(pc.encode(req)[:k])
    if "--rst" in opts:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    return {"sent": k}


def cmd_abandon(ep, opts, req):
    n = opt_value(opts, "--conns", 1000, int)
    batch = opt_value(opts, "--batch", 500, int)
    half = pc.encode(req)[:len(pc.encode(req)) // 2]
    opened, failed, errors = 0, 0, []
    fam, addr = pc.endpoint_address(ep)
    while opened + failed < n:
        socks = []
        for _ in range(min(batch, n - opened - failed)):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(10)
            try:
                s.connect(addr)
                if "--partial" in opts:
                    s.sendall(half)
                socks.append(s)
                opened += 1
            except OSError as e:
                failed += 1
                if len(errors) < 5:
                    errors.append(str(e))
                s.close()
        for s in socks:
            s.close()
    return {"opened": opened, "failed": failed, "errors": errors}


def cmd_load(ep, opts, req):
    conns = opt_value(opts, "--conns", 10, int)
    seconds = opt_value(opts, "--seconds", 3.0, float)
    pid = opt_value(opts, "--pid", None, int)
    signame = opt_value(opts, "--signal", "HUP")
    count = opt_value(opts, "--count", 1, int)
    data = pc.encode(req)
    lock = threading.Lock()
    stats = {"sent": 0, "answered": 0, "lost": 0, "closed": 0, "errors": [], "actions": {}}
    times = []
    stop = time.monotonic() + seconds      # the requests stop being sent at this time

    def one_connection():
        try:
            conn = pc.Conn(ep, 15)
        except OSError as e:
            with lock:
                stats["errors"].append("connect: %s" % e)
            return
        while time.monotonic() < stop:
            t0 = pc.now_ms()
            try:
                conn.send(data)
            except OSError:
                with lock:
                    stats["closed"] += 1       # closed before this request was written
                return
            with lock:
                stats["sent"] += 1
            try:
                raw = conn.read_reply()
            except (socket.timeout, OSError) as e:
                with lock:
                    stats["lost"] += 1
                    stats["errors"].append("no reply: %s" % e)
                return
            if raw is None:
                with lock:
                    stats["lost"] += 1         # the request was sent, the connection closed unanswered
                    stats["closed"] += 1
                return
            action, problem = pc.parse_reply(raw)
            with lock:
                stats["answered"] += 1
                stats["actions"][action] = stats["actions"].get(action, 0) + 1
                times.append(pc.now_ms() - t0)
                if problem:
                    stats["errors"].append(problem)
        conn.close()

    threads = [threading.Thread(target=one_connection) for _ in range(conns)]
    begin = time.monotonic()
    for t in threads:
        t.start()
    if pid is not None:
        sig = getattr(signal, "SIG" + signame)
        for i in range(count):          # evenly over the middle half of the run
            at = begin + seconds / 4 + (seconds / 2) * i / count
            time.sleep(max(0.0, at - time.monotonic()))
            os.kill(pid, sig)
    for t in threads:
        t.join()
    times.sort()
    stats["errors"] = stats["errors"][:5]
    stats["p99_ms"] = round(times[int(0.99 * (len(times) - 1))], 2) if times else None
    stats["max_ms"] = round(times[-1], 2) if times else None
    return stats


def main(argv):
    if len(argv) < 3:
        pc.usage("need ENDPOINT COMMAND")
    ep, cmd = argv[1], argv[2]
    opts, overrides, i = {}, [], 3
    flags = ("--rst", "--partial")
    while i < len(argv):
        a = argv[i]
        if a in flags:
            opts[a] = True
            i += 1
        elif a.startswith("--"):
            if i + 1 >= len(argv):
                pc.usage("%s needs a value" % a)
            opts[a] = argv[i + 1]
            i += 2
        else:
            overrides.append(a)
            i += 1
    req = pc.apply_overrides(pc.DEFAULTS, overrides)
    commands = {"loris": cmd_loris, "drop": cmd_drop, "abandon": cmd_abandon, "load": cmd_load}
    if cmd not in commands:
        pc.usage("unknown command %r" % cmd)
    print(json.dumps(commands[cmd](ep, opts, req)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
