#!/usr/bin/env python3
"""smtpclient.py - send one or more messages over ONE SMTP connection.

Part of the Postfix test bed (t/postfix/postfixbed.sh, pb_smtp): swaks sends
one message per connection; this client sends --count messages on the same
connection (same TLS session, same client port), optionally presenting a
client certificate after STARTTLS, and reports every server answer.

Usage:
    smtpclient.py --port N [--server 127.0.0.1] --ehlo NAME --from ADDR
        [--from ADDR]... --to ADDR [--to ADDR]... [--count N]
        [--cert PEM --key KEY] [--no-tls] [--header "Name: value"]...
        [--headers-file FILE] [--bdat] [--hold-until FILE [--hold-at rcpt]]
        [--timeout S]

With several --from, message I (from 1) is sent from the ((I - 1) mod n)-th.
A --header value may hold "\r\n\t" to fold the field over lines;
--headers-file adds the fields of FILE (one a line, as they are).
--bdat sends each message with one BDAT ... LAST (CHUNKING) instead of
DATA.  --hold-until FILE: after the server's 354 and the header section,
wait until FILE exists before the body and the final dot (a transaction
held open at DATA; the line "hold msg I" says when it waits); with
--hold-at rcpt it waits after the recipients instead, before DATA.

Output, one line each (stdout):
    conn PORT                                the client's own TCP port
    tls PROTOCOL CIPHER                      after STARTTLS
    msg I rcpt ADDR CODE TEXT                every RCPT answer
    msg I queued QUEUEID                     the message was accepted
    msg I refused STAGE CODE TEXT            MAIL/DATA refused or no recipient
Exit status: 0 every message accepted, 1 some message or recipient refused,
2 connection or TLS failure.  The server certificate is not verified (the
bed's is self-signed); the client key is only offered, never required.
"""

import argparse
import email.utils
import os
import re
import smtplib
import ssl
import sys
import time


def one_message(smtp, i, args):
    """Send message I; return True when queued with every recipient."""
    sender = args.sender[(i - 1) % len(args.sender)]
    code, text = smtp.mail(sender)
    if code != 250:
        print("msg %d refused MAIL %d %s" % (i, code, text.decode(errors="replace")))
        smtp.rset()
        return False
    accepted = 0
    for rcpt in args.to:
        code, text = smtp.rcpt(rcpt)
        print("msg %d rcpt %s %d %s" % (i, rcpt, code, text.decode(errors="replace")))
        if code in (250, 251):
            accepted += 1
    if accepted == 0:
        print("msg %d refused RCPT 554 no valid recipients" % i)
        smtp.rset()
        return False
    if args.hold_until and args.hold_at == "rcpt":
        print("hold msg %d" % i, flush=True)
        while not os.path.exists(args.hold_until):
            time.sleep(0.05)
    headers = ["From: <%s>" % sender,
               "To: " + ", ".join("<%s>" % r for r in args.to),
               "Subject: pb test %d of %d" % (i, args.count),
               "Date: " + email.utils.formatdate(),
               "Message-ID: " + email.utils.make_msgid("pb")]
    headers += args.header
    if args.headers_file:
        with open(args.headers_file, encoding="utf-8", errors="surrogateescape") as f:
            headers += [line.rstrip("\r\n") for line in f if line.strip()]
    head = "\r\n".join(headers) + "\r\n\r\n"
    body = head + "Test message %d.\r\n" % i
    try:
        if args.bdat:
            data = body.encode(errors="surrogateescape")
            smtp.putcmd("bdat", "%d LAST" % len(data))
            smtp.send(data)
            code, text = smtp.getreply()
        elif args.hold_until and args.hold_at == "data":
            smtp.putcmd("data")
            code, text = smtp.getreply()
            if code != 354:
                raise smtplib.SMTPDataError(code, text)
            smtp.send(head.encode(errors="surrogateescape"))
            print("hold msg %d" % i, flush=True)
            while not os.path.exists(args.hold_until):
                time.sleep(0.05)
            smtp.send(("Test message %d.\r\n.\r\n" % i).encode())
            code, text = smtp.getreply()
        else:
            code, text = smtp.data(body.encode(errors="surrogateescape"))
    except smtplib.SMTPDataError as e:
        code, text = e.smtp_code, e.smtp_error
    text = text.decode(errors="replace")
    if code != 250:
        print("msg %d refused DATA %d %s" % (i, code, text))
        try:
            smtp.rset()
        except smtplib.SMTPException:
            pass
        return False
    # Postfix: "2.0.0 Ok: queued as QID"; Sendmail: "2.0.0 QID Message accepted for delivery"
    m = re.search(r"queued as (\S+)", text) or re.search(r"^(?:2\.0\.0 )?(\S+) Message accepted", text)
    print("msg %d queued %s" % (i, m.group(1) if m else "?"))
    return accepted == len(args.to)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ehlo", required=True)
    p.add_argument("--from", dest="sender", action="append", required=True)
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--no-tls", action="store_true")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--headers-file")
    p.add_argument("--bdat", action="store_true")
    p.add_argument("--hold-until")
    p.add_argument("--hold-at", choices=("rcpt", "data"), default="data")
    p.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()

    try:
        smtp = smtplib.SMTP(args.server, args.port, local_hostname=args.ehlo,
                            timeout=args.timeout)
        print("conn %d" % smtp.sock.getsockname()[1], flush=True)
        smtp.ehlo(args.ehlo)
        if not args.no_tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if args.cert:
                ctx.load_cert_chain(args.cert, args.key)
            smtp.starttls(context=ctx)
            smtp.ehlo(args.ehlo)
            print("tls %s %s" % (smtp.sock.version(), smtp.sock.cipher()[0]))
    except (OSError, smtplib.SMTPException, ssl.SSLError) as e:
        print("error %s" % e)
        return 2
    ok = True
    for i in range(1, args.count + 1):
        ok = one_message(smtp, i, args) and ok
    try:
        smtp.quit()
    except smtplib.SMTPException:
        pass
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
