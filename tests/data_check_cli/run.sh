#!/usr/bin/env bash
# tests/data_check_cli/run.sh EMBER - `ember data check` end to end on tiny
# CSV and fastText files written here: the text report, --json fields (read
# back with python3), --max-examples, the exit codes (0 with findings, 1 for
# usage errors, 2 for unreadable data, naming the file), --skip-bad-lines.
set -u
EMBER=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"
# jfield FILE EXPR: a value from the JSON in FILE (EXPR indexes `j`)
jfield() { /usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
jis() {
    local got; got=$(jfield "$1" "$2" 2>&1)
    if [ "$got" = "$3" ]; then ok; else fail "$4: $2 = '$got', want '$3'"; fi
}

# train: an exact duplicate (lines 2, 3), a near duplicate (line 4), a label
# conflict (line 5, "HELLO there" as class b), an empty text (line 6)
cat > "$T/train.csv" <<'CSV'
text,label
hello there,a
hello there,a
"Hello, there!",a
HELLO there,b
"...",a
good bye,c
CSV
# test: leaks "hello there" (same label, line 2) and "good bye" (label d, line 3)
cat > "$T/test.csv" <<'CSV'
text,label
hello there,a
Good bye!,d
something new,a
CSV

expect 0 "check with findings" -- "$EMBER" data check "$T/train.csv" "$T/test.csv"
contains "$T/out" "exact duplicates: redundant examples  *1 " "exact duplicates counted"
contains "$T/out" "train.csv:5" "conflict example named by file:line"
contains "$T/out" "normalised: 2 test examples (2 distinct texts): 1 same label, 1 different" "leakage line"

expect 0 "--json" -- "$EMBER" data check "$T/train.csv" "$T/test.csv" --json
cp "$T/out" "$T/j.json"
jis "$T/j.json" "j['train']['examples']" 6 "train examples"
jis "$T/j.json" "j['train']['empty']['examples']" 1 "empty"
jis "$T/j.json" "j['train']['exact_duplicates']['redundant']" 1 "exact redundant"
jis "$T/j.json" "j['train']['near_duplicates']['redundant']" 3 "near redundant"
jis "$T/j.json" "j['train']['label_conflicts']['groups']" 1 "train conflicts"
jis "$T/j.json" "j['leakage']['exact']['examples']" 1 "exact leak"
jis "$T/j.json" "j['leakage']['normalised']['different_label']" 1 "leak, different label"
jis "$T/j.json" "j['conflicts_across']['groups']" 2 "conflicts across"
jis "$T/j.json" "j['test']['only_here']" "['d']" "class only in test"
jis "$T/j.json" "j['train']['label_conflicts']['shown'][0]['examples'][1]['where'].endswith('train.csv:5')" True "where in JSON"

expect 0 "--max-examples 1" -- "$EMBER" data check "$T/train.csv" "$T/test.csv" --json --max-examples 1
jis "$T/out" "len(j['train']['near_duplicates']['shown'][0]['examples'])" 1 "one example shown"
expect 0 "--quiet" -- "$EMBER" data check "$T/train.csv" "$T/test.csv" --quiet
if [ -s "$T/out" ]; then fail "--quiet printed: $(head -c 200 "$T/out")"; else ok; fi
expect 0 "train only" -- "$EMBER" data check "$T/train.csv" --json
jis "$T/out" "j['test']" None "no test set"

# fastText input, same reader as train
printf '__label__x one two\n__label__y One, two!\n' > "$T/ft.txt"
expect 0 "fastText" -- "$EMBER" data check "$T/ft.txt" "$T/ft.txt" --json
jis "$T/out" "j['train']['label_conflicts']['examples']" 2 "fastText conflict"
jis "$T/out" "j['leakage']['exact']['examples']" 2 "a set against itself leaks wholly"

# usage errors: 1
expect 1 "no arguments" -- "$EMBER" data check
expect 1 "unknown option" -- "$EMBER" data check "$T/train.csv" --frobnicate
expect 1 "bad --max-examples" -- "$EMBER" data check "$T/train.csv" --max-examples -3
contains "$T/err" "max-examples" "bad option named"
expect 1 "three files" -- "$EMBER" data check "$T/train.csv" "$T/test.csv" "$T/test.csv"
expect 0 "--help" -- "$EMBER" data check --help
contains "$T/out" "usage: ember data check" "help text"

# unreadable data: 2, the file named
expect 2 "missing file" -- "$EMBER" data check "$T/train.csv" "$T/nope.csv"
contains "$T/err" "nope.csv" "missing file named"
printf 'text,label\n"never closed,a\n' > "$T/bad.csv"
expect 2 "malformed CSV" -- "$EMBER" data check "$T/bad.csv" "$T/test.csv"
contains "$T/err" "bad.csv" "malformed file named"
expect 2 "--json error" -- "$EMBER" data check "$T/nope.csv" "$T/test.csv" --json
jis "$T/out" "j['exit']" 2 "JSON error object"
printf 'text,label\ngood,a\n"bad\xff",a\nfine,b\n' > "$T/skip.csv"
expect 2 "invalid UTF-8" -- "$EMBER" data check "$T/skip.csv"
contains "$T/err" "skip.csv:3" "bad line named"
expect 0 "--skip-bad-lines" -- "$EMBER" data check "$T/skip.csv" --skip-bad-lines --json
jis "$T/out" "j['train']['examples']" 2 "bad line skipped"
jis "$T/out" "j['skipped_bad_lines'][0]['count']" 1 "skip counted"

finish data_check_cli
