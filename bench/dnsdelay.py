#!/usr/bin/env python3
"""dnsdelay.py - a DNS proxy on loopback that adds a fixed delay to every query.

Used by bench/run.sh to give the cold-verification runs a wide-area round
trip (loopback answers in well under a millisecond, which would hide whether
danced overlaps its look-ups).  Every query received on 127.0.0.1:PORT,
over UDP or TCP, is held DELAY_MS milliseconds, then forwarded to
127.0.0.1:UPSTREAM (nsd), and the answer is passed back.  Queries are
handled concurrently; over UDP they share one upstream socket, each sent
under a DNS ID of the proxy's own that maps the answer back.  The chosen port is written to PORTFILE.

Usage: dnsdelay.py PORTFILE UPSTREAM_PORT DELAY_MS
"""

import asyncio
import os
import socket
import struct
import sys


class Udp(asyncio.DatagramProtocol):
    """Queries from the resolver: each one is sent upstream DELAY later, under an ID of our own."""

    def __init__(self, delay):
        self.delay, self.up, self.pending, self.next = delay, None, {}, 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if len(data) >= 12:
            asyncio.get_running_loop().call_later(self.delay, self.forward, data, addr)

    def forward(self, data, addr):
        self.next = (self.next + 1) & 0xFFFF
        self.pending[self.next] = (data[:2], addr)   # at most 65536 in flight: old ones are dropped
        self.up.sendto(struct.pack(">H", self.next) + data[2:])

    def answer(self, data):
        entry = self.pending.pop(struct.unpack(">H", data[:2])[0], None) if len(data) >= 12 else None
        if entry is not None:
            self.transport.sendto(entry[0] + data[2:], entry[1])


class Upstream(asyncio.DatagramProtocol):
    """Answers from nsd, handed back to the query they belong to."""

    def __init__(self, down):
        self.down = down

    def datagram_received(self, data, addr):
        self.down.answer(data)


async def tcp_client(reader, writer, upstream, delay):
    try:
        while True:
            head = await reader.readexactly(2)
            query = await reader.readexactly(struct.unpack(">H", head)[0])
            await asyncio.sleep(delay)
            ur, uw = await asyncio.open_connection("127.0.0.1", upstream)
            uw.write(head + query)
            await uw.drain()
            ahead = await ur.readexactly(2)
            answer = await ur.readexactly(struct.unpack(">H", ahead)[0])
            uw.close()
            writer.write(ahead + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, OSError):
        pass
    finally:
        writer.close()


async def main():
    portfile, upstream, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000.0
    loop = asyncio.get_running_loop()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    _, down = await loop.create_datagram_endpoint(lambda: Udp(delay), sock=udp)
    down.up, _ = await loop.create_datagram_endpoint(lambda: Upstream(down),
                                                     remote_addr=("127.0.0.1", upstream))
    server = await asyncio.start_server(lambda r, w: tcp_client(r, w, upstream, delay), "127.0.0.1", port)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(portfile + ".tmp", portfile)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        sys.exit(64)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
