#!/usr/bin/env bash
# tests/bad_inputs/run.sh EMBER - the bad-input corpus end to end: runs the
# `ember` command line on every case of cases.tsv and checks its exit status,
# that stderr holds the expected text (which names the file and the line, byte
# or field) and that no sanitizer reported anything (CI runs every test under
# ASan+UBSan). Then the write failures of `ember train --out`: a save that
# fails must say why and leave the old model file as it was.
#
# The committed corpus files are checked against `gen.py static` (so the
# generator documents every byte); gen.py also writes, at test time, the files
# too large or too odd to commit (lines of 65 MiB, gzip-compressed; empty
# folders) and model files derived from a freshly trained one. Needs python3.
set -u
EMBER=$(realpath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 # no re-exec for the wait policy; one thread
fails=0 passes=0
ok()   { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
SANITIZER='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:'

C=$T/corpus
mkdir -p "$C" "$T/out"
cp -R "$HERE"/. "$C"/
rm -f "$C/run.sh" "$C/gen.py" "$C/cases.tsv"

# ---- the committed files are what gen.py says they are, and every one is a case
python3 "$HERE/gen.py" static "$T/static" || { echo "gen.py static failed"; exit 1; }
if diff -r "$T/static" "$C" >"$T/diff"; then ok; else fail "committed corpus differs from gen.py static: $(head -5 "$T/diff")"; fi
python3 "$HERE/gen.py" runtime "$C" || { echo "gen.py runtime failed"; exit 1; }

# ---- fixture models: text (card, refund, transfer) and IDX 4x4 (3 classes)
cd "$C" || exit 1
TEXT=$T/text.model IDX=$T/idx.model
IMAGES=fixtures/train-images-idx3-ubyte LABELS=fixtures/train-labels-idx1-ubyte
"$EMBER" train --train fixtures/train.csv --out "$TEXT" --epochs 3 --embedding-dim 8 --hidden 8 \
    --quiet || { echo "cannot train the text fixture model"; exit 1; }
"$EMBER" train --train "$IMAGES" --train-labels "$LABELS" --out "$IDX" --epochs 2 --hidden 8 \
    --quiet || { echo "cannot train the IDX fixture model"; exit 1; }
python3 "$HERE/gen.py" models "$C" "$TEXT" || { echo "gen.py models failed"; exit 1; }

# ---- every case
declare -A seen
n=0
while IFS=$'\t' read -r file want expect args; do
    [ -z "$file" ] || [ "${file:0:1}" = "#" ] && continue
    n=$((n + 1))
    seen[$file]=1
    if [ ! -e "$file" ]; then fail "case $n: $file does not exist"; continue; fi
    sub() { local s=$1; s=${s//\{F\}/$file}; s=${s//\{OUT\}/$T/out/$n.model}; s=${s//\{TEXT\}/$TEXT}
            s=${s//\{IDX\}/$IDX}; s=${s//\{IMAGES\}/$IMAGES}; s=${s//\{LABELS\}/$LABELS}; printf '%s' "$s"; }
    read -ra argv <<<"$(sub "$args")"
    timeout 120 "$EMBER" "${argv[@]}" </dev/null >"$T/stdout" 2>"$T/stderr"
    got=$?
    what="case $n ($file: ember ${argv[*]})"
    [ "$got" -eq "$want" ] && ok || fail "$what: exit $got, want $want; stderr: $(head -c 400 "$T/stderr")"
    rest=$(sub "$expect")
    while [ -n "$rest" ]; do
        piece=${rest%% && *}
        [ "$piece" = "$rest" ] && rest="" || rest=${rest#* && }
        grep -qF -- "$piece" "$T/stderr" && ok || fail "$what: '$piece' not in stderr: $(head -c 400 "$T/stderr")"
    done
    grep -qE "$SANITIZER" "$T/stderr" && fail "$what: sanitizer report: $(grep -m3 -E "$SANITIZER" "$T/stderr")" || ok
    # a failing run never leaves a model file behind
    [ "$got" -ne 0 ] && [ -e "$T/out/$n.model" ] && fail "$what: failed but wrote $T/out/$n.model"
    if [ "$got" -eq 0 ] && grep -q -- '--json' <<<"$args" && grep -q -- '--skip-bad-lines' <<<"$args"; then
        grep -q '"skipped_bad_lines":\[{"file":' "$T/stdout" && ok || fail "$what: no skipped_bad_lines in --json: $(head -c 300 "$T/stdout")"
    fi
done <"$HERE/cases.tsv"

# every committed case file (or its folder) is in the manifest
while read -r f; do
    covered=0
    p=$f
    while [ "$p" != "." ]; do
        [ -n "${seen[$p]:-}" ] && covered=1 && break
        p=$(dirname "$p")
    done
    [ "$covered" -eq 1 ] && ok || fail "$f is in the corpus but no case in cases.tsv uses it"
done < <(cd "$T/static" && find . -type f | sed 's|^\./||' | sort)

# ---- write failures of `ember train --out` (and ember_model_save): the old file survives
W=$T/write
mkdir -p "$W"
train_to() { "$EMBER" train --train fixtures/train.csv --out "$1" --epochs 1 --embedding-dim 8 --hidden 8 --quiet; }
train_to "$W/old.model" || fail "cannot train the model to overwrite"
cp "$W/old.model" "$W/old.copy"
# 1. the file size limit (RLIMIT_FSIZE, 1 KiB here; SIGXFSZ ignored so write()
#    fails with EFBIG after a partial write): what a full disk does to a save
( trap '' XFSZ; ulimit -f 1; exec "$EMBER" train --train fixtures/train.csv --out "$W/old.model" \
    --epochs 1 --embedding-dim 8 --hidden 8 --quiet ) </dev/null >/dev/null 2>"$T/stderr"
got=$?
[ "$got" -eq 2 ] && ok || fail "save past the file size limit: exit $got, want 2: $(cat "$T/stderr")"
grep -qF "$W/old.model: not saved (old file, if any, kept): write of temporary file" "$T/stderr" &&
    grep -qF "File too large" "$T/stderr" && ok || fail "save past the file size limit: message: $(cat "$T/stderr")"
cmp -s "$W/old.model" "$W/old.copy" && ok || fail "save past the file size limit changed the old file"
ls "$W" | grep -q '\.tmp\.' && fail "a temporary file was left: $(ls "$W")" || ok
"$EMBER" test "$W/old.model" fixtures/train.csv --quiet && ok || fail "the old model no longer loads"
# 2.-5. are refused before training starts (no data is even read)
# 2. a folder that does not exist
train_to "$W/no/such/folder/m.model" 2>"$T/stderr"; got=$?
[ "$got" -eq 2 ] && grep -qF "$W/no/such/folder/m.model: cannot write in its folder $W/no/such/folder" "$T/stderr" &&
    grep -qF "No such file or directory" "$T/stderr" && ok || fail "missing folder: exit $got: $(cat "$T/stderr")"
# 3. a "folder" that is a regular file (ENOTDIR; holds for root too)
train_to "$W/old.copy/m.model" 2>"$T/stderr"; got=$?
[ "$got" -eq 2 ] && grep -qF "Not a directory" "$T/stderr" && ok || fail "file as folder: exit $got: $(cat "$T/stderr")"
cmp -s "$W/old.model" "$W/old.copy" && ok || fail "file as folder changed the file"
# 4. --out names an existing folder: the rename over it fails, the folder stays
mkdir "$W/adir" && touch "$W/adir/keep"
train_to "$W/adir" 2>"$T/stderr"; got=$?
[ "$got" -eq 2 ] && grep -qF -- "--out $W/adir is a folder" "$T/stderr" &&
    ok || fail "folder as --out: exit $got: $(cat "$T/stderr")"
[ -f "$W/adir/keep" ] && ! ls "$W" | grep -q '\.tmp\.' && ok || fail "folder as --out: folder changed or temporary file left"
# 5. a read-only folder: root may write anyway (CI runs as root), so only as another user
if [ "$(id -u)" -ne 0 ]; then
    mkdir "$W/ro" && cp "$W/old.copy" "$W/ro/m.model" && chmod 555 "$W/ro"
    train_to "$W/ro/m.model" 2>"$T/stderr"; got=$?
    [ "$got" -eq 2 ] && grep -qF "Permission denied" "$T/stderr" && ok || fail "read-only folder: exit $got: $(cat "$T/stderr")"
    cmp -s "$W/ro/m.model" "$W/old.copy" && ok || fail "read-only folder: old file changed"
    chmod 755 "$W/ro"
else
    echo "bad_inputs: read-only folder case skipped: running as root, who may write there anyway"
fi
grep -rqE "$SANITIZER" "$T/stderr" && fail "sanitizer report in the write-failure runs" || ok

echo "bad_inputs: $n cases; $passes checks passed, $fails failed"
[ "$fails" -eq 0 ]
