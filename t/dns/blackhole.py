#!/usr/bin/env python3
"""blackhole.py - a DNS "server" on loopback that never answers.

Used by t/dns/testbed.sh for the unreachable-server test cases: the
resolver configuration delegates a zone (or everything) here, so every
query to it times out.  It binds UDP and TCP on 127.0.0.1 to one free port
(chosen by the kernel unless given), writes that port number to PORTFILE,
then reads datagrams and accepts TCP connections forever without ever
sending a byte.  Each datagram received appends one line to COUNTFILE, so a
test can prove that a query was (or was not) sent.

Usage: blackhole.py PORTFILE COUNTFILE [PORT]
"""

import os
import select
import socket
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


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 64
    portfile, countfile = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) == 4 else 0
    udp, tcp, chosen = bind_pair(port)
    open(countfile, "w").close()
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % chosen)
    os.rename(tmp, portfile)          # the port file appears complete or not at all
    held = []                         # accepted TCP connections, never answered
    while True:
        ready, _, _ = select.select([udp, tcp] + held, [], [])
        for s in ready:
            if s is udp:
                udp.recvfrom(65535)
                with open(countfile, "a") as f:
                    f.write("udp\n")
            elif s is tcp:
                conn, _ = tcp.accept()
                held.append(conn)
                with open(countfile, "a") as f:
                    f.write("tcp\n")
            else:
                if not s.recv(65535):  # peer closed
                    held.remove(s)
                    s.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
