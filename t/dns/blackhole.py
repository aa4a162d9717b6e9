#!/usr/bin/env python3
"""blackhole.py - a DNS "server" on loopback that misbehaves on purpose.

Used by t/dns/testbed.sh for the DNS fault cases: the resolver
configuration delegates a zone here.  It binds UDP and TCP on 127.0.0.1 to
one free port (chosen by the kernel unless given), writes that port number
to PORTFILE, then serves forever in one of three modes:

  silent    (default) reads datagrams and accepts TCP connections without
            ever sending a byte: every query times out;
  servfail  answers every query, over UDP and TCP, with RCODE SERVFAIL;
  truncate  answers every UDP query with the TC bit set and no records,
            and closes every TCP connection at once: the resolver is told
            to retry over TCP and cannot.

Each datagram or connection received appends one line ("udp", "tcp") to
COUNTFILE, so a test can prove that a query was (or was not) sent.

Usage: blackhole.py [--mode silent|servfail|truncate] PORTFILE COUNTFILE [PORT]
"""

import os
import select
import socket
import struct
import sys


def bind_pair(port):
    """Bind UDP and TCP to 127.0.0.1:port (0 = any free port, same for both)."""
    for _ in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        chosen = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", chosen))
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
            continue
        tcp.listen(16)
        return udp, tcp, chosen
    raise OSError("no free port for both UDP and TCP")


def reply(query, rcode, tc):
    """A response to query: its id and question, no records, the given RCODE and TC bit."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack(">HHH", query[:6])
    end = 12
    if qdcount >= 1:                   # copy the first question: name, type, class
        while end < len(query) and query[end] != 0:
            end += 1 + query[end]
        end += 5
        if end > len(query):
            return None
    rd = flags & 0x0100
    out_flags = 0x8000 | (flags & 0x7800) | rd | 0x0080 | rcode | (0x0200 if tc else 0)
    return struct.pack(">HHHHHH", qid, out_flags, min(qdcount, 1), 0, 0, 0) + query[12:end]


def count(countfile, what):
    with open(countfile, "a") as f:
        f.write(what + "\n")


def main():
    args = sys.argv[1:]
    mode = "silent"
    if len(args) >= 2 and args[0] == "--mode":
        mode = args[1]
        args = args[2:]
    if mode not in ("silent", "servfail", "truncate") or len(args) not in (2, 3):
        sys.stderr.write(__doc__)
        return 64
    portfile, countfile = args[0], args[1]
    port = int(args[2]) if len(args) == 3 else 0
    udp, tcp, chosen = bind_pair(port)
    open(countfile, "w").close()
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % chosen)
    os.rename(tmp, portfile)          # the port file appears complete or not at all
    held = {}                         # accepted TCP connections: bytes received so far
    while True:
        ready, _, _ = select.select([udp, tcp] + list(held), [], [])
        for s in ready:
            if s is udp:
                query, peer = udp.recvfrom(65535)
                count(countfile, "udp")
                if mode != "silent":
                    r = reply(query, 2 if mode == "servfail" else 0, mode == "truncate")
                    if r is not None:
                        udp.sendto(r, peer)
            elif s is tcp:
                conn, _ = tcp.accept()
                count(countfile, "tcp")
                if mode == "truncate":
                    conn.close()      # no TCP service
                else:
                    held[conn] = b""
            else:
                data = s.recv(65535)
                if not data:          # peer closed
                    del held[s]
                    s.close()
                    continue
                held[s] += data
                while mode == "servfail" and len(held[s]) >= 2:
                    n = struct.unpack(">H", held[s][:2])[0]
                    if len(held[s]) < 2 + n:
                        break
                    r = reply(held[s][2:2 + n], 2, False)
                    held[s] = held[s][2 + n:]
                    if r is not None:
                        s.sendall(struct.pack(">H", len(r)) + r)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
