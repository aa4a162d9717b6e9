# ask.sh - the shell tests' side of danced's policy face: they talk to it
# through t/daemon/policyclient.py (source this after testbed.sh and tap.sh).
#
#   CLIENT                    the command, "$TB_PYTHON .../policyclient.py"
#                             (for runs whose output goes elsewhere)
#   client ENDPOINT ARGS...   run it; its JSON in $TB_DIR/out, stderr in $TB_DIR/err
#   json_get EXPR             print the Python expression EXPR over that JSON (j)
#   reply_n N                 the N-th reply (0-based) of the last "ask"
#   replies_are PATTERN...    the last "ask" got exactly these replies, each
#                             matching its shell pattern, and no error; else why

CLIENT="$TB_PYTHON $TESTDIR/daemon/policyclient.py"

client() {
    # shellcheck disable=SC2086  # CLIENT is "python script"
    $CLIENT "$@" >"$TB_DIR/out" 2>"$TB_DIR/err" </dev/null
}

json_get() {
    "$TB_PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$TB_DIR/out" "$1" 2>/dev/null
}

reply_n() {
    json_get "j['replies'][$1]"
}

replies_are() {
    local i=0 r p
    tb_json_is "j['error'] is None and len(j['replies']) == $#" || { why "$WHY"; return 1; }
    for p in "$@"; do
        r=$(reply_n "$i")
        # shellcheck disable=SC2254  # a pattern on purpose
        case $r in
            $p) ;;
            *) why "reply $i is '$r', want '$p'"; return 1 ;;
        esac
        i=$((i + 1))
    done
}
