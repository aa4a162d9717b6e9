#!/usr/bin/python3
"""notifysink.py - a stand-in for systemd's notification socket, for t/daemon/systemd.sh.

Usage: notifysink.py SOCKET LOG HOST PORT

Binds a datagram socket at SOCKET (what danced finds in NOTIFY_SOCKET),
asks the kernel for the sender's credentials (SO_PASSCRED) and appends
one line per datagram to LOG:

    uid=UID pid=PID accepting=yes|no|- VAR=VALUE|VAR=VALUE...

"accepting" says, for a READY=1 message only, whether HOST:PORT accepted a
TCP connection at the moment the message arrived ("-" for the others).
Runs until killed.  Standard library only.
"""

import os
import socket
import struct
import sys


def main():
    path, log, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(path)
    os.chmod(path, 0o666)      # danced sends after dropping its privileges
    with open(log, "a", buffering=1) as out:
        while True:
            data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
            pid = uid = -1
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid, uid, _ = struct.unpack("iII", value[:12])
            text = data.decode("utf-8", "replace").strip().replace("\n", "|")
            accepting = "-"
            if "READY=1" in text.split("|"):
                try:
                    socket.create_connection((host, port), timeout=1).close()
                    accepting = "yes"
                except OSError:
                    accepting = "no"
            out.write("uid=%d pid=%d accepting=%s %s\n" % (uid, pid, accepting, text))


if __name__ == "__main__":
    main()
