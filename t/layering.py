#!/usr/bin/env python3
"""layering.py - the house rules of the source tree, checked (TAP output).

Usage: layering.py SRCDIR [BUILDDIR]

The parts and who may use whom (doc/architecture.md):

    cli/     -> lib/
    danced/  -> lib/            (main.c alone also -> policy/policy.h, milter/milter.h)
    policy/  -> danced/, lib/   (never milter/)
    milter/  -> danced/, lib/   (never policy/)
    lib/     -> nothing above it

Checked from the sources: every #include "..." (written from the source
root, or local to the file's folder) against the table above;
danced/danced_private.h only inside danced/; no include circle; no -I in a
Makefile.am but the source and build roots, and no face's archive in
another face's Makefile.am; no main() outside danced/main.c and cli/; no
source file over LINES_MAX lines.  With BUILDDIR, also the archives: no
symbol one layer leaves undefined may be defined by a layer it must not
use (a call through a declaration written by hand would show there).

Then the checker checks itself: each kind of violation is planted in a
copy of the tree, and the check must fail on it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

LINES_MAX = 600
PARTS = ("lib", "danced", "policy", "milter", "cli")
ALLOWED = {
    "lib": {"lib"},
    "cli": {"cli", "lib"},
    "danced": {"danced", "lib"},
    "policy": {"policy", "danced", "lib"},
    "milter": {"milter", "danced", "lib"},
}
COMPOSITION_ROOT = "danced/main.c"
FACE_ENTRIES = {"policy/policy.h", "milter/milter.h"}
GENERATED = {"dance_build.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
MAIN = re.compile(r"^int\s+main\s*\(", re.M)


def sources(root):
    for part in PARTS:
        d = os.path.join(root, part)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                yield part + "/" + name


def resolve(root, src, inc):
    """The tree path an include names, or None for a generated or system one."""
    local = os.path.join(os.path.dirname(src), inc)
    if os.path.exists(os.path.join(root, local)):
        return os.path.normpath(local)
    if os.path.exists(os.path.join(root, inc)):
        return os.path.normpath(inc)
    return None


def include_problems(root):
    problems, graph = [], {}
    for src in sources(root):
        part = src.split("/")[0]
        text = open(os.path.join(root, src), encoding="utf-8", errors="replace").read()
        graph[src] = []
        for inc in INCLUDE.findall(text):
            if inc in GENERATED:
                continue
            dst = resolve(root, src, inc)
            if dst is None:
                problems.append("%s: includes \"%s\", which is not in the tree" % (src, inc))
                continue
            graph[src].append(dst)
            to = dst.split("/")[0]
            if dst in FACE_ENTRIES and src == COMPOSITION_ROOT:
                continue
            if to not in ALLOWED.get(part, set()):
                problems.append("%s: includes %s (%s/ must not use %s/)" % (src, dst, part, to))
            elif dst == "danced/danced_private.h" and part != "danced":
                problems.append("%s: includes the daemon's private context %s" % (src, dst))
    return problems, graph


def circles(graph):
    """Each include circle once, as a list of files."""
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def makefile_problems(root):
    problems = []
    for part in PARTS:
        path = os.path.join(root, part, "Makefile.am")
        if not os.path.exists(path):
            continue
        text = open(path).read().replace("\\\n", " ")
        for flag in re.findall(r"-I\s*(\S+)", text):
            if flag not in ("$(top_srcdir)", "$(top_builddir)"):
                problems.append("%s/Makefile.am: -I%s (includes are written from the source root)" % (part, flag))
        for lib, owner in (("libpolicy.a", "policy"), ("libmilterface.a", "milter"),
                           ("libdanced.a", "danced")):
            if lib in text and owner != part and owner not in ALLOWED[part] and part != "danced":
                problems.append("%s/Makefile.am: links %s (%s/ must not use %s/)" % (part, lib, part, owner))
    return problems


def file_problems(root):
    problems = []
    for src in sources(root):
        text = open(os.path.join(root, src), encoding="utf-8", errors="replace").read()
        n = text.count("\n")
        if n > LINES_MAX:
            problems.append("%s: %d lines (at most %d: split it along its seams)" % (src, n, LINES_MAX))
        if MAIN.search(text) and src != COMPOSITION_ROOT and not src.startswith("cli/"):
            problems.append("%s: a main() outside danced/main.c and cli/" % src)
    return problems


def symbols(archive, defined):
    args = ["nm", "-A", "--defined-only" if defined else "--undefined-only", archive]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and (not defined or parts[-2] in "TDBRC"):
            syms.setdefault(parts[-1], line.split(":")[1] if ":" in line else archive)
    return syms


def link_problems(build):
    archives = {
        "lib": "lib/libdance.a",
        "danced": "danced/libdanced.a",
        "policy": "policy/libpolicy.a",
        "milter": "milter/libmilterface.a",
    }
    defined = {p: symbols(os.path.join(build, a), True) for p, a in archives.items()}
    problems = []
    for part, archive in archives.items():
        for sym, obj in symbols(os.path.join(build, archive), False).items():
            for other, syms in defined.items():
                if other != part and other not in ALLOWED[part] and sym in syms:
                    problems.append("%s (%s/): uses %s, defined in %s/" % (obj, part, sym, other))
    return problems


def all_problems(root, build=None):
    inc, graph = include_problems(root)
    problems = inc + ["include circle: " + " -> ".join(c) for c in circles(graph)]
    problems += makefile_problems(root) + file_problems(root)
    if build:
        problems += link_problems(build)
    return problems


# Each planted violation: (what, file, text appended or None, replace (old, new) or None).
PLANTS = [
    ("a policy file includes a milter header", "policy/decide.c", '#include "milter/hygiene.h"\n', None),
    ("a milter file includes a policy header", "milter/hygiene.c", '#include "policy/protocol.h"\n', None),
    ("lib/ includes a daemon header", "lib/text.c", '#include "danced/dlog.h"\n', None),
    ("a daemon service includes a face", "danced/listen.c", '#include "policy/policy.h"\n', None),
    ("a face includes the daemon's private context", "milter/mconn.c", '#include "danced/danced_private.h"\n', None),
    ("cli/ includes a daemon header", "cli/dance.c", '#include "danced/snapshot.h"\n', None),
    ("an include circle in lib/", "lib/hex.h", '#include "text.h"\n', ("text.h", '#include "hex.h"\n')),
    ("a face's Makefile.am reaches into the other face", "policy/Makefile.am",
     "AM_CPPFLAGS += -I$(top_srcdir)/milter\n", None),
    ("a main() in a face", "milter/hygiene.c", "int main(void)\n{\n    return 0;\n}\n", None),
    ("a source file over the size limit", "lib/hex.c", "/* filler */\n" * (LINES_MAX + 1), None),
]


def self_test(root):
    """ok/not ok per plant: the check must find a problem in the planted copy and none before."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for part in PARTS:
            if os.path.isdir(os.path.join(root, part)):
                shutil.copytree(os.path.join(root, part), os.path.join(tmp, part),
                                ignore=shutil.ignore_patterns("*.o", "*.a", ".deps", "Makefile", "Makefile.in"))
        base = set(all_problems(tmp))
        for what, path, text, extra in PLANTS:
            saved = {}
            files = [(path, text)]
            if extra:
                files.append((os.path.join(os.path.dirname(path), extra[0]), extra[1]))
            for f, t in files:
                full = os.path.join(tmp, f)
                saved[full] = open(full).read()
                open(full, "a").write(t)
            new = set(all_problems(tmp)) - base
            for full, old in saved.items():
                open(full, "w").write(old)
            results.append((what, sorted(new)))
    return results


def self_test_link(build):
    """The archive check on a copy of the archives where the policy face calls the milter face."""
    with tempfile.TemporaryDirectory() as tmp:
        for a in ("lib/libdance.a", "danced/libdanced.a", "policy/libpolicy.a", "milter/libmilterface.a"):
            os.makedirs(os.path.join(tmp, os.path.dirname(a)), exist_ok=True)
            shutil.copy(os.path.join(build, a), os.path.join(tmp, a))
        src, obj = os.path.join(tmp, "planted.c"), os.path.join(tmp, "planted.o")
        open(src, "w").write("int milter_open(void *, void *, char *, unsigned long);\n"
                             "int planted(void) { return milter_open(0, 0, 0, 0); }\n")
        subprocess.run([os.environ.get("CC", "cc"), "-c", src, "-o", obj], check=True)
        subprocess.run(["ar", "r", os.path.join(tmp, "policy/libpolicy.a"), obj], check=True,
                       capture_output=True)
        return link_problems(tmp)


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: layering.py SRCDIR [BUILDDIR]\n")
        return 2
    root = sys.argv[1]
    build = sys.argv[2] if len(sys.argv) > 2 else None
    n, failed = 0, 0

    def report(ok, desc, diag=()):
        nonlocal n, failed
        n += 1
        failed += not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", n, desc))
        for d in diag:
            print("# " + d)

    inc, graph = include_problems(root)
    report(not inc, "every #include follows the layers (%d files, %d includes)"
           % (len(graph), sum(len(v) for v in graph.values())), inc)
    circ = circles(graph)
    report(not circ, "no include circle", [" -> ".join(c) for c in circ])
    mk = makefile_problems(root)
    report(not mk, "Makefile.am flags and archives follow the layers", mk)
    fp = file_problems(root)
    report(not fp, "no main() in a face or a service, no source file over %d lines" % LINES_MAX, fp)
    if build and all(os.path.exists(os.path.join(build, a)) for a in
                     ("lib/libdance.a", "danced/libdanced.a", "policy/libpolicy.a", "milter/libmilterface.a")):
        lp = link_problems(build)
        report(not lp, "no archive uses a symbol of a layer it must not use", lp)
        planted = self_test_link(build)
        report(bool(planted), "planted: the policy face's archive calls milter_open() -> caught",
               planted[:3] if planted else ["not caught"])
    else:
        for what in ("no archive uses a symbol of a layer it must not use", "planted: a call across faces"):
            n += 1
            print("ok %d - %s # SKIP the archives are not built" % (n, what))
    for what, new in self_test(root):
        report(bool(new), "planted: %s -> caught" % what, new[:3] if new else ["not caught"])
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
