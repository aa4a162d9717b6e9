#!/bin/bash
# docs.sh - the manual pages (doc/danced.8, doc/dance.1, doc/dance.conf.5)
# against mandoc's linter and against the code they describe.  Needs no
# daemon and no build; mandoc only for the lint lines (skipped without it).
#
#   lint      "mandoc -T lint -W warning" says nothing about each page
#             (style remarks are allowed: .Os dance, manuals not installed);
#   keys      the keys of config_keys[] in lib/config_keys.c and the keys
#             of dance.conf(5) are the same set: every table key is an
#             ".It Cm KEY" item in the page's KEYS section, and every such
#             item is a table key (both directions, naming the missing);
#   commands  every command cli/dance.c dispatches has a ".Ss dance COMMAND"
#             subsection in dance(1);
#   options   every long option of the dance commands (cli/cmd_*.c, and the
#             shared resolver options in cli/cli.h) is in
#             dance(1), and every option in danced's getopt() string
#             (danced/*.c) is in danced(8)'s SYNOPSIS, and no other.
#
# (contrib/dance.conf.sample is held against the same table by the unit
# test t/unit/lib/test_config.c.)
#
# Usage: TESTDIR=t t/docs.sh
TESTDIR=${TESTDIR:-$(dirname "$0")}
TOP=$TESTDIR/..
. "$TESTDIR/tap.sh"

PAGES="doc/danced.8 doc/dance.1 doc/dance.conf.5"

# section FILE NAME - the lines of FILE's ".Sh NAME" section.
section() {
    awk -v want=".Sh $2" '/^\.Sh /{ on = ($0 == want); next } on' "$1"
}

# missing_from WANTED HAVE - the words of WANTED that are not in HAVE (both one per line).
missing_from() {
    comm -23 <(printf '%s\n' "$1" | sed '/^$/d' | sort -u) <(printf '%s\n' "$2" | sed '/^$/d' | sort -u) \
        | tr '\n' ' ' | sed 's/ $//'
}

# ---- lint
for page in $PAGES; do
    if ! command -v mandoc >/dev/null 2>&1; then
        tap_skip "mandoc -T lint -W warning: $page" "mandoc is not installed (Debian: mandoc)"
        continue
    fi
    if [ ! -f "$TOP/$page" ]; then
        why "$page does not exist"
    else
        out=$(cd "$TOP" && mandoc -T lint -W warning "$page" 2>&1)
        rc=$?
        if [ -n "$out" ]; then
            why "$(printf '%s\n' "$out" | head -n 5)"
        elif [ "$rc" != 0 ]; then
            why "mandoc exited $rc"
        fi
    fi
    report 0 "mandoc -T lint -W warning: $page"
done

# ---- configuration keys
# The table's entries are written { "name", CONFIG_T_TYPE, ... }: take the
# first string of each entry of config_keys[] (comments removed first, an
# entry may be folded over lines); the keyword tables have no CONFIG_T_.
table_keys=$(perl -0777 -ne '
    s{/\*.*?\*/}{}gs; s{//[^\n]*}{}g;
    /config_keys\[\]\s*=\s*\{(.*?)\n\};/s or exit;
    my $t = $1;
    print "$1\n" while $t =~ /\{\s*"([^"]+)"\s*,\s*CONFIG_T_\w+/g;
' "$TOP/lib/config_keys.c")
page_keys=$(section "$TOP/doc/dance.conf.5" KEYS | sed -n 's/^\.It Cm \([A-Za-z0-9_]*\).*/\1/p')
if [ "$(printf '%s\n' "$table_keys" | sed '/^$/d' | wc -l)" -lt 10 ]; then
    why "found $(printf '%s\n' "$table_keys" | sed '/^$/d' | wc -l) keys in lib/config_keys.c: has the table's form changed?"
else
    undocumented=$(missing_from "$table_keys" "$page_keys")
    [ -z "$undocumented" ] || why "in lib/config_keys.c, not in dance.conf(5): $undocumented"
fi
report 0 "every key of lib/config_keys.c is documented in dance.conf(5)"

if [ -z "$page_keys" ]; then
    why "no \".It Cm KEY\" item in the KEYS section of doc/dance.conf.5"
else
    unknown=$(missing_from "$page_keys" "$table_keys")
    [ -z "$unknown" ] || why "in dance.conf(5), not in lib/config_keys.c: $unknown"
fi
report 0 "every key documented in dance.conf(5) is in lib/config_keys.c"

# ---- dance's commands
# Dispatched as: if (strcmp(argv[1], "NAME") == 0) return cli_FN(...); or
# from a table of { "NAME", cli_FN } entries.
commands=$(perl -0777 -ne '
    s{/\*.*?\*/}{}gs;
    print "$1\n" while /strcmp\(\s*argv\[1\]\s*,\s*"([^"]+)"\s*\)\s*==\s*0\s*\)\s*return\s+cli_\w+\s*\(/g;
    print "$1\n" while /\{\s*"([^"]+)"\s*,\s*cli_\w+\s*\}/g;
' "$TOP/cli/dance.c" | sort -u)
subsections=$(sed -n 's/^\.Ss dance \([A-Za-z0-9_-]*\)$/\1/p' "$TOP/doc/dance.1")
if [ -z "$commands" ]; then
    why "no command found in cli/dance.c's dispatch: has its form changed?"
else
    nosub=$(missing_from "$commands" "$subsections")
    [ -z "$nosub" ] || why "commands without a \".Ss dance COMMAND\" subsection in dance(1): $nosub"
fi
report 0 "every dance command ($(printf '%s' "$commands" | tr '\n' ' ')) has a subsection in dance(1)"

# ---- dance's long options
longopts=$(cat "$TOP"/cli/cmd_*.c "$TOP"/cli/cli.h | sed -n 's/.*{ *"\([a-z0-9-]*\)", *\(required\|no\|optional\)_argument.*/\1/p' | sort -u)
documented=$(grep -o 'Fl -[a-z0-9-]*' "$TOP/doc/dance.1" | sed 's/^Fl -//' | sort -u)
if [ -z "$longopts" ]; then
    why "no long option found in cli/cmd_*.c"
else
    nodoc=$(missing_from "$longopts" "$documented")
    [ -z "$nodoc" ] || why "options of the dance commands not in dance(1): --${nodoc// / --}"
fi
report 0 "every long option of the dance commands is in dance(1)"

# ---- danced's options
optstring=$(cat "$TOP"/danced/*.c | sed -n 's/.*getopt *( *argc *, *argv *, *"\([^"]*\)".*/\1/p' | head -n 1)
code_opts=$(printf '%s' "$optstring" | tr -d ':' | fold -w1)
synopsis_opts=$(section "$TOP/doc/danced.8" SYNOPSIS | grep -o 'Fl [A-Za-z0-9]*' | sed 's/^Fl //' | fold -w1)
if [ -z "$code_opts" ]; then
    why "no getopt() string found in danced/*.c"
else
    nosyn=$(missing_from "$code_opts" "$synopsis_opts")
    extra=$(missing_from "$synopsis_opts" "$code_opts")
    problem=
    [ -z "$nosyn" ] || problem="options of danced (\"$optstring\") not in danced(8)'s SYNOPSIS: -${nosyn// / -}"
    [ -z "$extra" ] || problem="${problem:+$problem; }in danced(8)'s SYNOPSIS, not taken by danced: -${extra// / -}"
    [ -z "$problem" ] || why "$problem"
fi
report 0 "danced's options (\"$optstring\") are the options of danced(8)'s SYNOPSIS"

tap_end
