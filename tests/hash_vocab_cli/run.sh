#!/usr/bin/env bash
# tests/hash_vocab_cli/run.sh EMBER - `ember train --hash-vocab` end to end
# (docs/privacy.md): on a small data set written here, a model trained with it
# has the same weight tensors, byte for byte, as one trained without it; its
# file holds none of the training words (the sensitive ones searched for in
# the whole file, every vocabulary word as a JSON string in the header); a
# second run writes the same pipeline (salt included); `ember predict` and
# `ember test` give the same output for both models, on texts with words
# never seen in training; `ember train --help` documents the option.
# Needs python3 to read the safetensors header.
set -u
EMBER=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"
command -v python3 >/dev/null || { echo "python3 needed"; exit 1; }

# 90 examples, 3 classes; names, card and account numbers among the words.
python3 - "$T" <<'PY'
import random, sys
random.seed(7)
# labels are readable by design (docs/privacy.md): none is also a word here
words = {"card_issue": "my card alice 4111111111111111 declined arrived pin atm",
         "money_transfer": "transfer bob account 998877 iban sent money to",
         "refund_request": "refund carol hunter2 returned item order please"}
with open(sys.argv[1] + "/train.csv", "w") as f:
    f.write("text,label\n")
    for i in range(90):
        label = list(words)[i % 3]
        w = words[label].split()
        f.write(" ".join(random.choice(w) for _ in range(6)) + "," + label + "\n")
with open(sys.argv[1] + "/test.csv", "w") as f:
    f.write("text,label\nmy card zorro declined,card_issue\nsent 998877 money xyz,"
            "money_transfer\nrefund please never-seen,refund_request\n")
with open(sys.argv[1] + "/texts.txt", "w") as f:
    f.write("alice card declined\ncompletely unknown words\n\nhunter2 refund\n"
            "https://example.com mail x@y.io transfer\n")
PY

train() {
    "$EMBER" train --train "$T/train.csv" --epochs 3 --threads 1 --seed 5 --quiet "$@" \
        2>"$T/err" || fail "ember train $*: $(head -c 300 "$T/err")"
}
train --out "$T/plain.st"
train --out "$T/hashed.st" --hash-vocab
train --out "$T/hashed2.st" --hash-vocab

python3 - "$T" <<'PY' || fail "model file checks (above)"
import json, struct, sys
d = sys.argv[1]
def read(name):
    b = open(f"{d}/{name}", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return b, h.pop("__metadata__"), h, b[8 + n:]
pb, pm, pt, pdata = read("plain.st")
hb, hm, ht, hdata = read("hashed.st")
_, h2m, _, _ = read("hashed2.st")
bad = []
if pt != ht or pdata != hdata:
    bad.append("weight tensors differ between plain and --hash-vocab")
pp, hp = json.loads(pm["text.pipeline"]), json.loads(hm["text.pipeline"])
if hp["options"].get("hash_vocab") != 1 or "hash_vocab" in pp["options"]:
    bad.append("options.hash_vocab: plain %r, hashed %r" % (pp["options"].get("hash_vocab"),
                                                           hp["options"].get("hash_vocab")))
if len(pp["vocab"]) < 20 or len(pp["vocab"]) != len(hp["vocab"]):
    bad.append("vocabulary sizes %d and %d" % (len(pp["vocab"]), len(hp["vocab"])))
header = hb[8:8 + struct.unpack("<Q", hb[:8])[0]].decode()
for w in pp["vocab"]:
    if json.dumps(w) in header or json.dumps(json.dumps(w))[1:-1] in header:
        bad.append("the hashed model's header holds the word %r" % w)
for s in (b"alice", b"4111111111111111", b"998877", b"hunter2", b"carol", b"iban"):
    if s in hb:
        bad.append("the hashed model file holds %r" % s)
if hm["text.pipeline"] != h2m["text.pipeline"]:
    bad.append("two --hash-vocab runs wrote different pipelines")
for m in bad:
    print("FAIL:", m, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] && ok

for m in plain hashed; do
    "$EMBER" predict "$T/$m.st" "$T/texts.txt" --all-probs >"$T/pred.$m" 2>"$T/err" ||
        fail "ember predict $m: $(head -c 300 "$T/err")"
    "$EMBER" test "$T/$m.st" "$T/test.csv" >"$T/test.$m" 2>"$T/err" ||
        fail "ember test $m: $(head -c 300 "$T/err")"
done
[ "$(wc -l <"$T/pred.hashed")" -eq 5 ] && ok || fail "predict printed $(wc -l <"$T/pred.hashed") lines, want 5"
cmp -s "$T/pred.plain" "$T/pred.hashed" && ok || fail "predict differs: $(diff "$T/pred.plain" "$T/pred.hashed" | head -5)"
# the first line of `ember test` names the model file
cmp -s <(tail -n +2 "$T/test.plain") <(tail -n +2 "$T/test.hashed") && ok ||
    fail "test differs: $(diff "$T/test.plain" "$T/test.hashed" | head -5)"

"$EMBER" train --help >"$T/help" && grep -q -- "--hash-vocab" "$T/help" && grep -q "docs/privacy.md" "$T/help" &&
    ok || fail "ember train --help does not document --hash-vocab"

finish hash_vocab_cli
