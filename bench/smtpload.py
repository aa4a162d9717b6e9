#!/usr/bin/env python3
"""smtpload.py - drive an SMTP server with many TLS connections presenting a client certificate.

Used by bench/postfix.sh to measure messages per second through a Postfix
with and without danced.  P worker processes run side by side; each opens
connections one after the other until C connections in all have been made,
and on each connection: EHLO, STARTTLS (presenting --cert/--key), EHLO, then
M messages (MAIL FROM, RCPT TO, DATA with a small message), QUIT - the way
a sending MTA delivers a short queue to one destination.

Usage:
    smtpload.py --port N --cert PEM --key KEY --ehlo NAME --from ADDR --to ADDR
                [--connections C] [--messages M] [--parallel P] [--server 127.0.0.1]

Prints one JSON object: messages sent and accepted, failures (with the first
error text), wall seconds from the first connection to the last QUIT,
messages per second, and p50/p90/p99 of the per-message time (MAIL FROM to
the 250 after the final dot) in milliseconds.  Exit status 0 when every
message was accepted, 1 otherwise.
"""

import argparse
import json
import multiprocessing
import smtplib
import ssl
import sys
import time


def worker(args, jobs, out):
    """Take connection numbers from jobs until it is empty; report per-message times."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(args.cert, args.key)
    body = ("From: <%s>\r\nTo: <%s>\r\nSubject: load\r\n\r\n%s\r\n"
            % (args.sender, args.to, "x" * 60 + "\r\n") * 1)
    times, failed, first_error = [], 0, None
    while True:
        try:
            n = jobs.get_nowait()
        except Exception:
            break
        try:
            s = smtplib.SMTP(args.server, args.port, local_hostname=args.ehlo, timeout=60)
            s.ehlo(args.ehlo)
            s.starttls(context=ctx)
            s.ehlo(args.ehlo)
            for i in range(args.messages):
                t0 = time.monotonic()
                code, text = s.mail(args.sender)
                if code == 250:
                    code, text = s.rcpt(args.to)
                if code in (250, 251):
                    try:
                        code, text = s.data(body.encode())
                    except smtplib.SMTPDataError as e:
                        code, text = e.smtp_code, e.smtp_error
                if code == 250:
                    times.append(time.monotonic() - t0)
                else:
                    failed += 1
                    first_error = first_error or "conn %d msg %d: %d %s" % (n, i, code, text)
                    s.rset()
            s.quit()
        except (OSError, smtplib.SMTPException, ssl.SSLError) as e:
            failed += args.messages
            first_error = first_error or "conn %d: %s" % (n, e)
    out.put((times, failed, first_error))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ehlo", required=True)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--messages", type=int, default=5)
    p.add_argument("--parallel", type=int, default=8)
    args = p.parse_args()

    jobs, out = multiprocessing.Queue(), multiprocessing.Queue()
    for n in range(args.connections):
        jobs.put(n)
    procs = [multiprocessing.Process(target=worker, args=(args, jobs, out)) for _ in range(args.parallel)]
    t0 = time.monotonic()
    for pr in procs:
        pr.start()
    results = [out.get() for _ in procs]
    wall = time.monotonic() - t0
    for pr in procs:
        pr.join()
    times = sorted(t for r in results for t in r[0])
    failed = sum(r[1] for r in results)
    errors = [r[2] for r in results if r[2]]

    def pct(q):
        return round(1000 * times[min(len(times) - 1, int(q * len(times)))], 2) if times else None

    print(json.dumps({
        "messages": args.connections * args.messages, "accepted": len(times), "failed": failed,
        "first_error": errors[0] if errors else None, "seconds": round(wall, 3),
        "per_second": round(len(times) / wall, 1) if wall > 0 else None,
        "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
        "connections": args.connections, "per_connection": args.messages, "parallel": args.parallel,
    }))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
