#!/usr/bin/env python3
"""fake_policy.py - a stand-in Postfix policy service for the Postfix test bed.

Used by t/postfix/selfcheck.sh to exercise the bed before danced exists, and
to record what a real Postfix sends (fixtures).  It speaks the Postfix policy
delegation protocol: persistent connections, many requests per connection,
"name=value" lines ended by an empty line, reply "action=..." plus an empty
line, bare "\n".

Every request is appended to the log as one JSON line (flushed at once):
    {"conn": 1, "seq": 2, "attrs": {"request": "smtpd_access_policy", ...},
     "action": "DUNNO"}
"conn" numbers the policy connections Postfix opened (1, 2, ...), "seq"
numbers the requests on that connection; "attrs" keeps Postfix's order.

Answers:  at RCPT: OK when helo_name is one of --ok-helo, else --rcpt-action
(default DUNNO); at DATA: --data-action (default "PREPEND X-Test-Policy:
seen"); anything else: DUNNO.

Usage:
    fake_policy.py --log FILE --port-file FILE [--port N] [--ok-helo NAME]...
        [--rcpt-action A] [--data-action A]
Listens on 127.0.0.1 only (port 0 = any free port); writes the port to
--port-file once listening, so a caller can wait for that file.  Stops on
SIGTERM/SIGINT.
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading

MAX_REQUEST = 65536


def answer(attrs, args):
    """Choose the action for one request."""
    state = attrs.get("protocol_state", "")
    if state == "RCPT":
        if attrs.get("helo_name", "") in args.ok_helo:
            return "OK"
        return args.rcpt_action
    if state == "DATA":
        return args.data_action
    return "DUNNO"


def serve(conn, conn_id, args, log, lock):
    """Read requests from one Postfix connection until it closes."""
    buf = b""
    seq = 0
    with conn:
        while True:
            while b"\n\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
                if len(buf) > MAX_REQUEST:
                    return
            raw, buf = buf.split(b"\n\n", 1)
            attrs = {}
            for line in raw.decode("utf-8", "replace").split("\n"):
                name, sep, value = line.partition("=")
                if sep:
                    attrs[name] = value
            seq += 1
            action = answer(attrs, args)
            with lock:
                log.write(json.dumps({"conn": conn_id, "seq": seq,
                                      "attrs": attrs, "action": action}) + "\n")
                log.flush()
            conn.sendall(("action=%s\n\n" % action).encode())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--log", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ok-helo", action="append", default=[])
    p.add_argument("--rcpt-action", default="DUNNO")
    p.add_argument("--data-action", default="PREPEND X-Test-Policy: seen")
    args = p.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(64)
    log = open(args.log, "a", encoding="utf-8")
    lock = threading.Lock()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(tmp, args.port_file)
    conn_id = 0
    try:
        while True:
            conn, _ = srv.accept()
            conn_id += 1
            threading.Thread(target=serve, args=(conn, conn_id, args, log, lock),
                             daemon=True).start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
