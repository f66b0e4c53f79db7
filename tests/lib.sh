# tests/lib.sh - shared by the script tests: sourced after T (a scratch
# folder) is set. ok/fail count results; expect runs a command and checks its
# exit status (stdout in $T/out, stderr in $T/err); contains greps a file;
# finish prints the counts and exits non-zero on any failure.
fails=0 passes=0
ok()   { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
# expect CODE DESCRIPTION -- command...
expect() {
    local want=$1 what=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"; local got=$?
    if [ "$got" -eq "$want" ]; then ok; else fail "$what: exit $got, want $want; stderr: $(head -c 300 "$T/err")"; fi
}
# contains FILE TEXT DESCRIPTION
contains() { if grep -q -- "$2" "$1"; then ok; else fail "$3: '$2' not in $(head -c 400 "$1")"; fi; }
# finish NAME
finish() {
    echo "$1: $passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}
# same_weights A B: the two model files hold the same tensors, byte for byte
# (their metadata may differ: the lineage records times, the host and paths).
same_weights() {
    /usr/bin/env python3 - "$1" "$2" <<'PY'
import json, struct, sys
def tensors(p):
    raw = open(p, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    return {k: raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in h.items() if k != "__metadata__"}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
sys.exit(0 if a and a.keys() == b.keys() and all(a[k] == b[k] for k in a) else 1)
PY
}
