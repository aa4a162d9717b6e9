#!/usr/bin/python3
"""miltclient.py - the MTA side of the milter protocol, for danced's tests.

Plays what Postfix's smtpd does towards a milter (protocol version 6:
option negotiation, macros, connect, HELO, MAIL, RCPT, DATA, header
fields, end of message) and the hostile cases the tests need.  Standard
library only.  Every command prints one JSON object on stdout; the exit
status is 0 unless the command line is wrong (2).

Usage: miltclient.py ENDPOINT COMMAND [options]

ENDPOINT is Postfix's syntax: inet:127.0.0.1:PORT or unix:/path.

Commands:
  message [--addr A] [--port P] [--helo H] [--from F] [--queue-id Q]
          [--tls] [--header "Name: value"]... [--timeout S]
      One message as Postfix sends it (the SMTP client A:P, TLS macros
      when --tls).  -> {"negotiated": {...}, "replies": {command: reply},
      "changes": [{"cmd": "insheader"|"chgheader", "index": N, "name": ...,
      "value": ...}], "final": reply letter or "y CODE text", "closed":
      bool, "error": str|null}
  idle --conns N [--max S]
      Opens N connections and sends nothing; reports when danced closed
      them, each counted from its own connect.  -> {"connected": n,
      "closed": n, "closed_ms": {"min": ms, "median": ms, "max": ms},
      "open_at_end": n}
"""

import json
import selectors
import socket
import struct
import sys
import time

SMFIF_ADDHDRS, SMFIF_CHGHDRS, SMFIF_SETSYMLIST = 0x1, 0x10, 0x100
V6_ACTIONS = 0x1FF
V6_PROTOCOL = 0x1FFFFF
SMFIP_NR_HDR = 0x80


def usage(msg):
    sys.stderr.write("miltclient.py: %s\n" % msg)
    sys.exit(2)


def now_ms():
    return time.monotonic() * 1000.0


def connect(ep, timeout):
    if ep.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(ep[5:])
        return s
    if not ep.startswith("inet:"):
        usage("endpoint %r" % ep)
    host, port = ep[5:].rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    return s


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def strings(*items):
    return b"".join(i.encode() + b"\0" for i in items)


class Milter:
    """One connection to the milter."""

    def __init__(self, ep, timeout):
        self.sock = connect(ep, timeout)
        self.buf = b""
        self.closed = False

    def send(self, cmd, data=b""):
        self.sock.sendall(packet(cmd, data))

    def read(self):
        """One reply packet (cmd letter, payload), or None once closed."""
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack(">I", self.buf[:4])
                if len(self.buf) >= 4 + n:
                    cmd, data = self.buf[4:5], self.buf[5:4 + n]
                    self.buf = self.buf[4 + n:]
                    return cmd.decode("latin-1"), data
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self.buf += chunk

    def macros(self, stage, **kv):
        data = stage + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in kv.items())
        self.send(b"D", data)

    def ask(self, cmd, data=b""):
        """Send a command and read its one reply letter (or None)."""
        self.send(cmd, data)
        r = self.read()
        return None if r is None else r[0]


def cmd_message(ep, opts):
    out = {"negotiated": None, "replies": {}, "changes": [], "final": None, "closed": False,
           "error": None}
    try:
        m = Milter(ep, opts["timeout"])
        m.send(b"O", struct.pack(">III", 6, V6_ACTIONS, V6_PROTOCOL))
        r = m.read()
        if r is None or r[0] != "O":
            out["error"] = "no negotiation reply"
            out["closed"] = m.closed
            return out
        ver, act, proto = struct.unpack(">III", r[1][:12])
        out["negotiated"] = {"version": ver, "actions": act, "protocol": proto}
        nr_hdr = bool(proto & SMFIP_NR_HDR)
        m.macros(b"C", v="Postfix 3.7.11", **{"{client_name}": "unknown", "{client_resolve}": "FAIL"})
        out["replies"]["connect"] = m.ask(b"C", strings("[%s]" % opts["addr"]) + b"4"
                                          + struct.pack(">H", opts["port"]) + strings(opts["addr"]))
        tls = {"{tls_version}": "TLSv1.3"} if opts["tls"] else {}
        m.macros(b"H", **tls)
        out["replies"]["helo"] = m.ask(b"H", strings(opts["helo"]))
        m.macros(b"M", **tls)
        out["replies"]["mail"] = m.ask(b"M", strings("<%s>" % opts["from"]))
        out["replies"]["rcpt"] = m.ask(b"R", strings("<rcpt@dest.test>"))
        m.macros(b"T", i=opts["queue_id"])
        out["replies"]["data"] = m.ask(b"T")
        for h in opts["headers"]:
            name, value = h.split(":", 1)
            m.macros(b"L", i=opts["queue_id"])
            value = value[1:] if value.startswith(" ") else value
            if nr_hdr:
                m.send(b"L", strings(name, value))
            else:
                out["replies"].setdefault("header", []).append(m.ask(b"L", strings(name, value)))
        m.macros(b"N", i=opts["queue_id"])
        out["replies"]["eoh"] = m.ask(b"N")
        m.macros(b"E", i=opts["queue_id"])
        m.send(b"E")
        while True:
            r = m.read()
            if r is None:
                out["closed"] = True
                break
            cmd, data = r
            if cmd in ("i", "m"):
                (idx,) = struct.unpack(">I", data[:4])
                name, value = data[4:].split(b"\0")[:2]
                out["changes"].append({"cmd": "insheader" if cmd == "i" else "chgheader",
                                       "index": idx, "name": name.decode(), "value": value.decode()})
                continue
            out["final"] = cmd if cmd != "y" else "y " + data.rstrip(b"\0").decode()
            break
        m.send(b"Q")
        m.sock.close()
    except OSError as e:
        out["error"] = str(e)
    return out


def cmd_idle(ep, opts):
    sel = selectors.DefaultSelector()
    socks, errors, closed = [], 0, []

    def poll(timeout):
        for key, _ in sel.select(timeout=timeout):
            s, start = key.data
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed.append(now_ms() - start)
                sel.unregister(s)
                s.close()

    for i in range(opts["conns"]):
        try:
            s = connect(ep, 5)
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, (s, now_ms()))
        except OSError:
            errors += 1
        if i % 50 == 49:
            poll(0)             # closures are seen while the rest still connect
    deadline = now_ms() + opts["max"] * 1000
    while len(closed) < len(socks) and now_ms() < deadline:
        poll(0.2)
    closed.sort()
    out = {"connected": len(socks), "connect_errors": errors, "closed": len(closed),
           "open_at_end": len(socks) - len(closed)}
    if closed:
        out["closed_ms"] = {"min": round(closed[0]), "median": round(closed[len(closed) // 2]),
                            "max": round(closed[-1])}
    for key in list(sel.get_map().values()):
        key.data[0].close()
    return out


def main(argv):
    if len(argv) < 3:
        usage("need ENDPOINT COMMAND")
    ep, command, rest = argv[1], argv[2], argv[3:]
    opts = {"addr": "192.0.2.25", "port": 40025, "helo": "mta1.ok.test", "from": "sender@mta1.ok.test",
            "queue_id": "4F2B1A7214F", "tls": False, "headers": [], "timeout": 10.0, "conns": 1,
            "max": 30.0}
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--tls":
            opts["tls"] = True
            i += 1
            continue
        if i + 1 >= len(rest):
            usage("option %s needs a value" % a)
        v = rest[i + 1]
        if a == "--header":
            opts["headers"].append(v)
        elif a in ("--addr", "--helo", "--from", "--queue-id"):
            opts[a[2:].replace("-", "_")] = v
        elif a in ("--port", "--conns"):
            opts[a[2:]] = int(v)
        elif a in ("--timeout", "--max"):
            opts[a[2:]] = float(v)
        else:
            usage("unknown option %s" % a)
        i += 2
    if command == "message":
        result = cmd_message(ep, opts)
    elif command == "idle":
        result = cmd_idle(ep, opts)
    else:
        usage("unknown command %s" % command)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
