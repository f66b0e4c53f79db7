#!/usr/bin/env bash
# tests/lineage/run.sh EMBER - data management end to end (issue 7):
# `ember data fingerprint` / `verify` (CRLF and reordering keep the content
# hash, one changed byte is caught and named, a missing and a new file are
# named), the lineage `ember train` stores (checked against sha256sum and
# the run's own output), byte-identical weights from two runs with the same
# data, settings, seed and threads, and `ember reproduce` (passes, then fails
# loudly when a data file has changed).
set -u
EMBER=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # absolute: the test changes folder
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# a small text data set: 3 classes told apart by their words
"$PY" - "$T" <<'PY' || { echo "python3 needed to write fixtures"; exit 1; }
import random, sys
d = sys.argv[1]
random.seed(7)
words = {"card": ["card", "declined", "pin", "atm"], "transfer": ["transfer", "send", "iban", "wire"],
         "refund": ["refund", "return", "money", "back"]}
common = ["my", "the", "is", "please", "help", "why", "not"]
def ex():
    c = random.choice(sorted(words))
    t = " ".join(random.choice(words[c] if random.random() < 0.5 else common) for _ in range(6))
    return t, c
for name, n in (("train.csv", 300), ("valid.csv", 90)):
    with open(f"{d}/{name}", "w", newline="") as f:
        f.write("text,label\r\n")
        for _ in range(n):
            t, c = ex()
            f.write(f"{t},{c}\r\n")
PY
mkdir -p "$T/data" && cp "$T/train.csv" "$T/valid.csv" "$T/data/"

# --- fingerprint and verify
expect 0 "fingerprint" -- "$EMBER" data fingerprint "$T/data" -o "$T/m.json"
contains "$T/out" "2 files, 390 records" "fingerprint summary"
sha=$(sha256sum "$T/data/train.csv" | cut -d' ' -f1)
contains "$T/m.json" "$sha" "manifest holds train.csv's sha256sum"
expect 0 "verify unchanged" -- "$EMBER" data verify "$T/m.json"
contains "$T/out" "^ok: 2 of 2 files unchanged" "verify ok line"
# CRLF -> LF and the records reversed: other bytes, the same examples
"$PY" - "$T/data/train.csv" <<'PY'
import sys
p = sys.argv[1]
lines = open(p, "rb").read().replace(b"\r\n", b"\n").split(b"\n")
hdr, rows = lines[0], [l for l in lines[1:] if l]
open(p, "wb").write(b"\n".join([hdr] + rows[::-1]) + b"\n")
PY
expect 2 "verify after CRLF and reorder" -- "$EMBER" data verify "$T/m.json"
contains "$T/out" "changed: $T/data/train.csv .*the same examples" "CRLF/reorder: same examples"
cp "$T/train.csv" "$T/data/train.csv"
# one byte
"$PY" -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); i=b.index(b'card', 20); b[i]=ord('k'); open(p,'wb').write(b)" "$T/data/train.csv"
expect 2 "verify after one byte" -- "$EMBER" data verify "$T/m.json" --json
"$PY" -c "
import json,sys; r=json.load(open(sys.argv[1]))
assert r['ok'] is False and len(r['changed']) == 1, r
c = r['changed'][0]
assert c['path'].endswith('data/train.csv') and c['same_examples'] is False, c
assert c['bytes_expected'] == c['bytes_found'], c" "$T/out" && ok || fail "verify --json names the one-byte change"
cp "$T/train.csv" "$T/data/train.csv"
rm "$T/data/valid.csv"; echo "x,y" > "$T/data/new.csv"
expect 2 "verify missing and new" -- "$EMBER" data verify "$T/m.json"
contains "$T/out" "^missing: $T/data/valid.csv" "missing file named"
contains "$T/out" "^new: $T/data/new.csv" "new file named"
cp "$T/valid.csv" "$T/data/"; rm "$T/data/new.csv"
expect 0 "verify restored" -- "$EMBER" data verify "$T/m.json"
echo '{"format":"ember.manifest","version":7}' > "$T/bad.json"
expect 2 "verify a bad manifest" -- "$EMBER" data verify "$T/bad.json"
contains "$T/err" "bad.json: manifest: version 7" "bad manifest named"
expect 2 "fingerprint a missing path" -- "$EMBER" data fingerprint "$T/nope.csv"
contains "$T/err" "nope.csv" "missing path named"
expect 1 "fingerprint without paths" -- "$EMBER" data fingerprint

# --- lineage: train twice from a relative path, same settings
cd "$T" || exit 1
expect 0 "train 1" -- "$EMBER" train --train data/train.csv --valid data/valid.csv --epochs 3 \
    --embedding-dim 8 --hidden 8 --seed 5 --threads 2 --out a.model --json
cp out train1.json
expect 0 "train 2" -- "$EMBER" train --train data/train.csv --valid data/valid.csv --epochs 3 \
    --embedding-dim 8 --hidden 8 --seed 5 --threads 2 --out b.model --quiet
expect 0 "inspect --json" -- "$EMBER" inspect a.model --json
cp out inspect.json
"$PY" - "$T" "$sha" "$(sha256sum data/valid.csv | cut -d' ' -f1)" <<'PY' && ok || fail "lineage fields"
import json, struct, sys
d, sha_train, sha_valid = sys.argv[1:4]
j = json.load(open(f"{d}/inspect.json"))
m = j["metadata"]
data, cfg, run, hist, fin = (m[k] for k in ("lineage.data", "lineage.config", "lineage.run",
                                             "lineage.history", "lineage.metrics"))
assert data["train"]["files"][0]["sha256"] == sha_train, data["train"]
assert data["train"]["files"][0]["records"] == 300 and data["valid"]["records"] == 90
assert data["valid"]["files"][0]["sha256"] == sha_valid
o = cfg["options"]
assert o["epochs"] == 3 and o["seed"] == 5 and o["threads"] == 2 and o["batch-size"] == 32, o
assert o["optimizer"] == "adam" and o["lr"] == 0.001 and o["embedding-dim"] == 8, o
assert o["min-count"] == 1 and o["shuffle"] is True and o["word-ngrams"] == 1, o
assert cfg["args"][-4:] == ["--seed", "5", "--threads", "2"] and "--out" not in cfg["args"], cfg
assert run["seed"] == 5 and run["threads"] == 2 and run["host"] and run["git_commit"], run
assert run["started"] <= run["finished"] and run["started"].endswith("Z"), run
assert "--out" in run["command"], run
assert hist["epochs"] == 3 and len(hist["loss"]) == 3 and len(hist["val_accuracy"]) == 3, hist
# the final metrics are the run's own last epoch (train --json printed them)
summary = [json.loads(l) for l in open(f"{d}/train1.json") if l.strip()][-1]
for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
    assert abs(fin[k] - summary[k]) < 1e-6 and fin[k] == hist[k][-1], (k, fin, summary)
# no raw training text beyond the vocabulary: a whole training line is not in the header
raw = open(f"{d}/a.model", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = raw[8:8 + n].decode()
line = open(f"{d}/data/train.csv").read().splitlines()[1].split(",")[0]
assert line not in header, line
PY
# two runs, same data, settings, seed and threads: identical weight tensors
same_weights a.model b.model && ok || fail "two runs give byte-identical weight tensors"
expect 0 "inspect" -- "$EMBER" inspect a.model
contains "$T/out" "re-run    ember train --train data/train.csv" "inspect shows the re-run"
contains "$T/out" "train  1 file, 300 records" "inspect shows the data"

# --- reproduce
expect 0 "reproduce" -- "$EMBER" reproduce a.model --json
"$PY" -c "
import json,sys; r=json.load(open(sys.argv[1]))
assert r['reproduced'] is True and r['differing_values'] == 0 and r['tensors'] >= 4, r" "$T/out" \
    && ok || fail "reproduce --json says bit-identical"
mkdir -p elsewhere/data && cp data/*.csv elsewhere/data/
expect 0 "reproduce under --root" -- "$EMBER" reproduce "$T/a.model" --root "$T/elsewhere"
contains "$T/out" "bit-identical" "reproduce under --root"
printf 'card card card card card card,card\r\n' >> data/train.csv
expect 2 "reproduce after a data change" -- "$EMBER" reproduce a.model
contains "$T/err" "train data changed: data/train.csv" "the changed file is named"
contains "$T/err" "cannot reproduce" "reproduce fails loudly"
expect 2 "reproduce a file that is not a model" -- "$EMBER" reproduce "$T/m.json"
finish lineage
