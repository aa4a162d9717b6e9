#!/usr/bin/env python3
"""archeck.py - check the Authentication-Results fields of a delivered message.

Used by the end-to-end and milter tests (t/postfix/e2e.sh, t/postfix/milter.sh,
t/milter/sendmail.sh).  Every Authentication-Results field of the message is
parsed with python3-authres and with Perl's Mail::AuthenticationResults (two
independent RFC 8601 parsers); for every field python3-authres reads, Perl
must read the same authserv-id and results.

Usage:
    archeck.py --servid ID FILE [--top-names a,b] [--ours N] [--want RESULT]...
               [--clean] [--trusted ID]... [--keep ID]...

FILE is a message (header section up to the first empty line; CRLF or LF),
or a file holding header fields only.  Checks, each optional:
    --top-names a,b   the first fields are named a, b, ... (case-insensitive)
    --ours N          exactly N fields carry authserv-id ID
    --want RESULT     the top field is ours and holds exactly these results, in
                      order, each written "dane=pass smtp.helo=NAME"
    --clean           besides the top field, no field's authserv-id is ID or a
                      name under it (unless given with --trusted), and every
                      Authentication-Results field parses (without it, only
                      the fields of ID are read with both parsers)
    --keep ID         a field of authserv-id ID is present (kept, not removed)
Exit status 0 when every check holds; otherwise 1 and one line saying why.
"""

import argparse
import json
import subprocess
import sys

import authres

PERL = r'''
use strict;
use warnings;
use Mail::AuthenticationResults::Parser;
use JSON::PP;
local $/;
my $value = <STDIN>;
my $h = Mail::AuthenticationResults::Parser->new()->parse($value);
my @results;
for my $e (@{$h->children()}) {
    my @props;
    for my $c (@{$e->children()}) {
        next unless ref($c) eq "Mail::AuthenticationResults::Header::SubEntry";
        push @props, $c->key() . "=" . $c->value();
    }
    push @results, $e->key() . "=" . $e->value() . (@props ? " " . join(" ", @props) : "");
}
print encode_json({ servid => $h->value()->value(), results => \@results });
'''


def fields_of(path):
    """The header fields of the message at path, each "Name: value" with its folding kept."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace").replace("\r\n", "\n")
    fields = []
    for line in text.split("\n\n", 1)[0].split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] += "\r\n" + line      # the parser sees the folding as sent
        elif line:
            fields.append(line)
    return fields


def name_of(field):
    return field.split(":", 1)[0].strip().lower()


def results_of(header):
    """python3-authres's reading of a parsed field: ["dane=pass smtp.helo=x", ...]."""
    return [("%s=%s %s" % (r.method, r.result,
                           " ".join("%s.%s=%s" % (p.type, p.name, p.value) for p in r.properties))).strip()
            for r in header.results]


def perl_results(field):
    """Mail::AuthenticationResults's reading of a field: (servid, results)."""
    value = field.split(":", 1)[1]
    out = subprocess.run(["perl", "-e", PERL], input=value.encode(), capture_output=True, check=False)
    if out.returncode != 0:
        raise ValueError("Perl Mail::AuthenticationResults refused it: %s"
                         % out.stderr.decode(errors="replace").strip().splitlines()[-1:])
    j = json.loads(out.stdout)
    return j["servid"], j["results"]


def under(id_, servid):
    a, b = id_.lower().rstrip("."), servid.lower()
    return a == b or a.endswith("." + b)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file")
    p.add_argument("--servid", required=True)
    p.add_argument("--top-names")
    p.add_argument("--ours", type=int)
    p.add_argument("--want", action="append")
    p.add_argument("--clean", action="store_true")
    p.add_argument("--trusted", action="append", default=[])
    p.add_argument("--keep", action="append", default=[])
    a = p.parse_args()

    fields = fields_of(a.file)
    names = [name_of(f) for f in fields]
    if a.top_names:
        want = [n.strip().lower() for n in a.top_names.split(",")]
        if names[:len(want)] != want:
            sys.exit("first fields are %r, want %r" % (names[:len(want)], want))
    ar = [f for f in fields if name_of(f) == "authentication-results"]
    parsed = []
    for f in ar:
        try:
            parsed.append(authres.AuthenticationResultsHeader.parse(f))
        except Exception as e:       # the parser raises several kinds
            if a.clean:
                sys.exit("a field python3-authres cannot parse survived: %r (%s)" % (f, e))
            parsed.append(None)
            continue
        if not a.clean and parsed[-1].authserv_id.lower() != a.servid.lower():
            continue                 # without --clean, foreign fields are kept as they came
        try:
            pservid, presults = perl_results(f)
        except ValueError as e:
            sys.exit("%s: %r" % (e, f))
        if pservid != parsed[-1].authserv_id or presults != results_of(parsed[-1]):
            sys.exit("Perl reads %r %r, python3-authres %r %r in %r"
                     % (pservid, presults, parsed[-1].authserv_id, results_of(parsed[-1]), f))
    ours = [h for h in parsed if h is not None and h.authserv_id.lower() == a.servid.lower()]
    if a.ours is not None and len(ours) != a.ours:
        sys.exit("%d Authentication-Results fields of %s, want %d" % (len(ours), a.servid, a.ours))
    if a.want is not None:
        if not ar or parsed[0] is None or parsed[0].authserv_id != a.servid:
            sys.exit("the top Authentication-Results field is not %s's: %r" % (a.servid, ar[:1]))
        if fields.index(ar[0]) != 0:
            sys.exit("%s's field is not the first field of the message" % a.servid)
        got = results_of(parsed[0])
        if got != a.want:
            sys.exit("top field has %r, want %r" % (got, a.want))
    if a.clean:
        trusted = [t.lower() for t in a.trusted]
        for f, h in zip(ar[1:], parsed[1:]):
            if under(h.authserv_id, a.servid) and h.authserv_id.lower().rstrip(".") not in trusted:
                sys.exit("a field claiming %s survived: %r" % (h.authserv_id, f))
    for k in a.keep:
        if not any(h is not None and h.authserv_id.lower() == k.lower() for h in parsed):
            sys.exit("the field of %s was removed" % k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
