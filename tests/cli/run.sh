#!/usr/bin/env bash
# tests/cli/run.sh EMBER - the `ember` command line end to end on small
# synthetic IDX files written here: train -> test -> predict round trip,
# calibrate (the serve threshold saved in the model's metadata), --json
# output, --help, --version, and the documented exit codes for usage errors
# (1) and bad data or models (2).
set -u
EMBER=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"

# IDX writer: u8 images [N,4,4] where class c lights pixel c; labels [N].
N=300
python3 - "$T" "$N" <<'PY' || { echo "python3 needed to write fixtures"; exit 1; }
import random, struct, sys
d, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
labels = [random.randrange(3) for _ in range(n)]
img = bytearray()
for c in labels:
    px = [random.randrange(40) for _ in range(16)]
    px[c * 5] = 255
    img += bytes(px)
for split, rng in (("train", range(0, 240)), ("t10k", range(240, n))):
    k = len(rng)
    with open(f"{d}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">I", 0x0803) + struct.pack(">III", k, 4, 4) + bytes(img[rng.start*16:rng.stop*16]))
    with open(f"{d}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">I", 0x0801) + struct.pack(">I", k) + bytes(labels[rng.start:rng.stop]))
PY

expect 0 "--version" -- "$EMBER" --version
contains "$T/out" "^ember [0-9]*\.[0-9]*\.[0-9]* (commit " "--version output"
expect 0 "--help" -- "$EMBER" --help
contains "$T/out" "train" "--help lists train"
for c in train test predict; do expect 0 "$c --help" -- "$EMBER" $c --help; done
expect 1 "no command" -- "$EMBER"
expect 1 "unknown command" -- "$EMBER" frobnicate
expect 1 "unknown option" -- "$EMBER" train --train "$T/train-images-idx3-ubyte" --out "$T/m" --bogus
contains "$T/err" "unknown option '--bogus'" "unknown option named"
expect 1 "bad number" -- "$EMBER" train --train "$T/train-images-idx3-ubyte" --out "$T/m" --epochs zero
contains "$T/err" "--epochs: 'zero'" "bad number named"
expect 1 "missing --out" -- "$EMBER" train --train "$T/train-images-idx3-ubyte"
expect 1 "option without value" -- "$EMBER" train --out "$T/m" --train

# train (plain lines when stdout is not a terminal), then test and predict
expect 0 "train" -- "$EMBER" train --train "$T/train-images-idx3-ubyte" --valid "$T/t10k-images-idx3-ubyte" \
    --hidden 16 --epochs 8 --batch-size 16 --lr 0.01 --seed 3 --threads 1 --out "$T/m.safetensors"
contains "$T/out" "Epoch 8/8 - 15/15" "per-epoch line"
contains "$T/out" "val_accuracy" "val metrics printed"
expect 0 "test --json" -- "$EMBER" test "$T/m.safetensors" "$T/t10k-images-idx3-ubyte" --json
python3 - "$T/out" <<'PY' && ok || fail "test --json: accuracy below 0.9 or not JSON"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["n"] == 60 and r["accuracy"] >= 0.9 else 1)
PY
expect 0 "predict" -- "$EMBER" predict "$T/m.safetensors" "$T/t10k-images-idx3-ubyte"
[ "$(wc -l < "$T/out")" -eq 60 ] && ok || fail "predict printed $(wc -l < "$T/out") lines, want 60"
expect 0 "train --json" -- "$EMBER" train --train "$T/train-images-idx3-ubyte" --hidden 8 --epochs 2 \
    --out "$T/m2.safetensors" --json --threads 1
python3 - "$T/out" <<'PY' && ok || fail "train --json: not one JSON object per line"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
sys.exit(0 if len(objs) == 3 and objs[0]["epoch"] == 1 and "model" in objs[2] else 1)
PY
expect 0 "train --quiet" -- "$EMBER" train --train "$T/train-images-idx3-ubyte" --epochs 1 --out "$T/m3.safetensors" --quiet
[ ! -s "$T/out" ] && ok || fail "--quiet printed something"

# same seed and threads -> byte-identical weight tensors (the lineage's times differ)
"$EMBER" train --train "$T/train-images-idx3-ubyte" --hidden 8 --epochs 2 --seed 9 --threads 1 --out "$T/a.safetensors" --quiet
"$EMBER" train --train "$T/train-images-idx3-ubyte" --hidden 8 --epochs 2 --seed 9 --threads 1 --out "$T/b.safetensors" --quiet
same_weights "$T/a.safetensors" "$T/b.safetensors" && ok || fail "same seed gave different weights"

# bad data and models: exit 2 with the file named
expect 2 "missing data" -- "$EMBER" test "$T/m.safetensors" "$T/nope-images-idx3-ubyte"
contains "$T/err" "nope-images-idx3-ubyte" "missing file named"
printf 'junk' > "$T/bad-images-idx3-ubyte"
expect 2 "bad IDX" -- "$EMBER" test "$T/m.safetensors" "$T/bad-images-idx3-ubyte" --labels "$T/t10k-labels-idx1-ubyte"
contains "$T/err" "magic" "bad IDX names the field"
head -c 100 "$T/m.safetensors" > "$T/cut.safetensors"
expect 2 "truncated model" -- "$EMBER" test "$T/cut.safetensors" "$T/t10k-images-idx3-ubyte"
contains "$T/err" "cut.safetensors" "truncated model named"
expect 2 "test --json error" -- "$EMBER" test "$T/cut.safetensors" "$T/t10k-images-idx3-ubyte" --json
contains "$T/out" '"error":' "JSON error object"
# labels that do not match the images
expect 2 "label count mismatch" -- "$EMBER" test "$T/m.safetensors" "$T/t10k-images-idx3-ubyte" --labels "$T/train-labels-idx1-ubyte"
contains "$T/err" "240 labels" "mismatch explained"

# ---- text: CSV train -> test report -> predict from stdin ----
python3 - "$T" <<'PY'
import csv, random, sys
d = sys.argv[1]
random.seed(2)
words = {"card": ["card", "lost", "stolen", "pin"], "transfer": ["transfer", "send", "money", "account"],
         "refund": ["refund", "return", "charge", "back"]}
for split, n in (("train", 300), ("test", 60)):
    with open(f"{d}/{split}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(n):
            lab = random.choice(sorted(words))
            toks = random.sample(words[lab], 2) + random.sample(["please", "my", "the", "i", "help"], 2)
            random.shuffle(toks)
            text = " ".join(toks)
            if i % 7 == 0:
                text = '"' + text + '", with a comma\nand a newline'
            w.writerow([text, lab])
PY
expect 0 "train text" -- "$EMBER" train --train "$T/train.csv" --valid "$T/test.csv" --epochs 30 \
    --embedding-dim 16 --hidden 16 --lr 0.01 --threads 1 --out "$T/t.safetensors" --json
python3 - "$T/out" <<'PY' && ok || fail "train text --json: bad final object"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
last = lines[-1]
sys.exit(0 if len(lines) == 31 and last["train_seconds"] > 0 and last["classes"] == 3 else 1)
PY
expect 0 "test text --json" -- "$EMBER" test "$T/t.safetensors" "$T/test.csv" --json -k 2
python3 - "$T/out" <<'PY' && ok || fail "test text --json: keys or accuracy"
import json, sys
r = json.load(open(sys.argv[1]))
keys = {"accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1", "per_class", "confusion", "n"}
ok = keys <= set(r) and r["n"] == 60 and r["accuracy"] >= 0.9 and len(r["confusion"]) == 3 \
     and {c["label"] for c in r["per_class"]} == {"card", "refund", "transfer"} and r["top_k"] == 2
sys.exit(0 if ok else 1)
PY
expect 0 "test text report" -- "$EMBER" test "$T/t.safetensors" "$T/test.csv"
contains "$T/out" "macro avg" "report has averages"
contains "$T/out" "refund" "report names classes"
printf 'my card was stolen\nsend money to my account\n\nrefund the charge please\n' > "$T/in.txt"
expect 0 "predict stdin" -- sh -c "'$EMBER' predict '$T/t.safetensors' < '$T/in.txt'"
[ "$(wc -l < "$T/out")" -eq 4 ] && ok || fail "predict printed $(wc -l < "$T/out") lines for 4 inputs"
[ "$(sed -n 1p "$T/out" | cut -f1)" = card ] && [ "$(sed -n 2p "$T/out" | cut -f1)" = transfer ] \
    && [ "$(sed -n 4p "$T/out" | cut -f1)" = refund ] && ok || fail "predict labels: $(cat "$T/out")"
expect 0 "predict -k 2 --json" -- "$EMBER" predict "$T/t.safetensors" "$T/in.txt" -k 2 --json
python3 - "$T/out" <<'PY' && ok || fail "predict --json lines"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
sys.exit(0 if len(rows) == 4 and all(len(r["top"]) == 2 for r in rows) else 1)
PY
# architecture file: works, and a typo names the line
printf 'embedding 8\nglobal_average_pooling1d\ndense 8 tanh\ndropout 0.1\ndense classes softmax\n' > "$T/ok.arch"
expect 0 "train --arch FILE" -- "$EMBER" train --train "$T/train.csv" --arch "$T/ok.arch" --epochs 1 --out "$T/a2.safetensors" --quiet
printf 'embedding 8\nglobal_average_pooling1d\ndens 8\n' > "$T/bad.arch"
expect 2 "bad arch" -- "$EMBER" train --train "$T/train.csv" --arch "$T/bad.arch" --epochs 1 --out "$T/a3.safetensors"
contains "$T/err" "bad.arch:3: unknown layer" "arch error names file and line"
# bad CSV: unbalanced quote names the line; unknown column
printf 'text,label\nok text,a\n"broken,b\n' > "$T/bad.csv"
expect 2 "bad csv" -- "$EMBER" train --train "$T/bad.csv" --out "$T/x.safetensors"
contains "$T/err" "bad.csv:3" "csv error names line"
expect 2 "missing column" -- "$EMBER" train --train "$T/train.csv" --text-column body --out "$T/x.safetensors"
contains "$T/err" "body" "missing column named"
# a text model: same seed and threads -> byte-identical weight tensors
"$EMBER" train --train "$T/train.csv" --epochs 3 --seed 5 --threads 2 --out "$T/d1.safetensors" --quiet
"$EMBER" train --train "$T/train.csv" --epochs 3 --seed 5 --threads 2 --out "$T/d2.safetensors" --quiet
same_weights "$T/d1.safetensors" "$T/d2.safetensors" && ok || fail "same seed gave different text model weights"
# class weights
expect 0 "class weight balanced" -- "$EMBER" train --train "$T/train.csv" --class-weight balanced --epochs 1 --out "$T/w.safetensors" --quiet

# ---- checkpoints, --resume and --on-nan (tests/crash_resume kills real runs) ----
expect 0 "train --help lists checkpoints" -- "$EMBER" train --help
contains "$T/out" "--checkpoint-dir D" "--help: --checkpoint-dir"
contains "$T/out" "--on-nan A" "--help: --on-nan"
expect 1 "--resume without a folder" -- "$EMBER" train --train "$T/train.csv" --out "$T/x.safetensors" --resume
contains "$T/err" "--resume needs a folder" "--resume without a folder explained"
expect 1 "--checkpoint-every without a folder" -- "$EMBER" train --train "$T/train.csv" --out "$T/x.safetensors" --checkpoint-every 5
expect 1 "--checkpoint-every 0" -- "$EMBER" train --train "$T/train.csv" --out "$T/x.safetensors" --checkpoint-dir "$T/ck0" --checkpoint-every 0
expect 1 "--resume D and --checkpoint-dir E" -- "$EMBER" train --train "$T/train.csv" --out "$T/x.safetensors" --resume "$T/a" --checkpoint-dir "$T/b"
expect 1 "--on-nan maybe" -- "$EMBER" train --train "$T/train.csv" --out "$T/x.safetensors" --on-nan maybe
contains "$T/err" "--on-nan: 'maybe' is not stop or skip-batch" "--on-nan value named"
CK=(--train "$T/train.csv" --epochs 3 --seed 4 --threads 1 --hidden 8 --embedding-dim 8)
expect 0 "train with checkpoints" -- "$EMBER" train "${CK[@]}" --checkpoint-dir "$T/ck" --keep-checkpoints 2 \
    --checkpoint-every epoch --out "$T/c1.safetensors" --quiet
[ "$(ls "$T/ck" | wc -l)" -eq 2 ] && [ -f "$T/ck/ckpt-00000003-000000000000.safetensors" ] && ok \
    || fail "--keep-checkpoints 2: $(ls "$T/ck")"
expect 2 "a used checkpoint folder without --resume" -- "$EMBER" train "${CK[@]}" --checkpoint-dir "$T/ck" --out "$T/c2.safetensors"
contains "$T/err" "already holds 2 checkpoints" "used folder explained"
expect 0 "--resume D of a finished run" -- "$EMBER" train "${CK[@]}" --resume "$T/ck" --out "$T/c2.safetensors" --json
contains "$T/out" "\"resumed_from\":\"$T/ck/ckpt-00000003-000000000000.safetensors\"" "--json names the checkpoint"
same_weights "$T/c1.safetensors" "$T/c2.safetensors" && ok || fail "a resumed finished run saved other weights"
expect 2 "--resume with other options" -- "$EMBER" train "${CK[@]}" --seed 5 --resume "$T/ck" --out "$T/c3.safetensors"
contains "$T/err" "fingerprint field 'seed' differs" "changed seed named"
# --on-nan: one example of class c weighs 3.4e38, so its batch's loss is Inf (1 batch of 7 per epoch)
python3 - "$T" <<'PY'
import csv, random, sys
random.seed(4)
with open(f"{sys.argv[1]}/nan.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    for i in range(200):
        lab = "a" if i % 2 else "b"
        w.writerow([f"{lab} word{random.randrange(9)}", lab])
    w.writerow(["c rare", "c"])
PY
printf 'c 3.4e38\n' > "$T/nan.weights"
NAN=(--train "$T/nan.csv" --class-weight "$T/nan.weights" --epochs 3 --threads 1 --hidden 8 --embedding-dim 8)
expect 3 "--on-nan stop (the default)" -- "$EMBER" train "${NAN[@]}" --out "$T/n.safetensors"
contains "$T/err" "epoch 1, step [0-9]*: the loss is infinite" "NaN stop names epoch and step"
expect 0 "--on-nan skip-batch" -- "$EMBER" train "${NAN[@]}" --on-nan skip-batch --out "$T/n.safetensors"
contains "$T/err" "skipped batch: epoch 3, step" "skipped batches reported"
contains "$T/out" "skipped 3 batches for NaN/Inf" "skip total printed"
contains "$T/out" "Epoch 1/3 .* - skipped: 1" "per-epoch skip count"
expect 0 "--on-nan skip-batch --json" -- "$EMBER" train "${NAN[@]}" --on-nan skip-batch --out "$T/n.safetensors" --json
contains "$T/out" '"skipped_batches":3}' "--json skip total"
printf 'a 3.4e38\n' > "$T/nan.weights"
expect 3 "skipping half the batches stops" -- "$EMBER" train "${NAN[@]}" --on-nan skip-batch --out "$T/n.safetensors"
contains "$T/err" "batches were skipped for NaN/Inf, more than 10 %" "too many skips explained"

# ---- calibrate: the serve threshold from labelled data, saved in the model ----
# meta FILE: the model file's __metadata__ as JSON (safetensors: u64 length, JSON header)
meta() { python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.dumps(json.loads(b[8:8+n])["__metadata__"]))' "$1"; }
for c in calibrate; do expect 0 "$c --help" -- "$EMBER" $c --help; done
contains "$T/out" "precision(t)" "calibrate --help defines precision"
contains "$T/out" "serve.threshold" "calibrate --help names the metadata key"
cp "$T/t.safetensors" "$T/t0.safetensors"
expect 0 "calibrate --json --out" -- "$EMBER" calibrate "$T/t.safetensors" "$T/test.csv" --target-precision 0.95 \
    --out "$T/tc.safetensors" --json --threads 2
cp "$T/out" "$T/cal.json"
meta "$T/t0.safetensors" > "$T/m0.json"; meta "$T/tc.safetensors" > "$T/m1.json"
python3 - "$T/cal.json" "$T/m0.json" "$T/m1.json" "$T/t0.safetensors" "$T/tc.safetensors" <<'PY' && ok || fail "calibrate --json / saved metadata"
import json, struct, sys
r = json.load(open(sys.argv[1])); m0 = json.load(open(sys.argv[2])); m1 = json.load(open(sys.argv[3]))
def body(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__"); return h, b[8 + n:]
errs = []
keys = {"target_precision", "threshold", "precision", "coverage", "answered", "examples", "monotone_above",
        "data", "model", "at"}
if set(r) != keys: errs.append(f"keys {sorted(r)}")
if r["examples"] != 60 or r["target_precision"] != 0.95 or not r["precision"] >= 0.95: errs.append("figures")
if abs(r["coverage"] - r["answered"] / 60) > 1e-12 or not 0 < r["threshold"] <= 1: errs.append("coverage/threshold")
if [a["threshold"] for a in r["at"]] != [0.3, 0.5, 0.7, 0.9]: errs.append("at")
if not r["data"].endswith("test.csv") or not r["model"].endswith("tc.safetensors"): errs.append("paths")
if m1.get("serve.threshold") != "%.9g" % r["threshold"]: errs.append(f"serve.threshold {m1.get('serve.threshold')}")
c = json.loads(m1.get("serve.calibration", "{}"))
if c != {k: r[k] for k in keys - {"model", "at"}}: errs.append(f"serve.calibration {c}")
# every other key kept; only the metadata checksum changes
for k in set(m0) | set(m1):
    if k.startswith("serve.") or k == "ember.meta_sha256": continue
    if m0.get(k) != m1.get(k): errs.append(f"metadata {k} changed")
if body(sys.argv[4]) != body(sys.argv[5]): errs.append("tensors changed")
print("\n".join(errs), file=sys.stderr); sys.exit(1 if errs else 0)
PY
cmp -s "$T/t.safetensors" "$T/t0.safetensors" && ok || fail "calibrate --out modified MODEL"
"$EMBER" test "$T/t.safetensors" "$T/test.csv" --json > "$T/r0.json"
expect 0 "test the calibrated model" -- "$EMBER" test "$T/tc.safetensors" "$T/test.csv" --json
cmp -s "$T/out" "$T/r0.json" && ok || fail "the calibrated model predicts differently"
# a target below the accuracy: the lowest probability, everything answered,
# precision = the accuracy `ember test` reports; default --out replaces MODEL
cp "$T/t.safetensors" "$T/tr.safetensors"
expect 0 "calibrate in place" -- "$EMBER" calibrate "$T/tr.safetensors" "$T/test.csv" --target-precision 0.5 --threads 1
contains "$T/out" "precision on 60 of 60 validation examples (100.0 % answered automatically)" "human summary"
contains "$T/out" "^ *0.50 " "trade-off table"
contains "$T/out" "saved serve.threshold = " "human output names the key"
meta "$T/tr.safetensors" > "$T/m2.json"
python3 - "$T/m2.json" "$T/r0.json" <<'PY' && ok || fail "calibrate in place: metadata or precision != accuracy"
import json, sys
m = json.load(open(sys.argv[1])); acc = json.load(open(sys.argv[2]))["accuracy"]
c = json.loads(m["serve.calibration"])
sys.exit(0 if c["answered"] == 60 and c["coverage"] == 1 and abs(c["precision"] - acc) < 1e-12
         and float(m["serve.threshold"]) == c["threshold"] else 1)
PY
"$EMBER" predict "$T/t.safetensors" "$T/in.txt" -k 3 > "$T/p0.txt"
expect 0 "predict with the calibrated model" -- "$EMBER" predict "$T/tr.safetensors" "$T/in.txt" -k 3
cmp -s "$T/out" "$T/p0.txt" && ok || fail "calibrated predict differs: $(cat "$T/out")"
# usage errors name the option; nothing is written
for v in 0 1.5 -0.1 abc nan; do
    expect 1 "--target-precision $v" -- "$EMBER" calibrate "$T/t.safetensors" "$T/test.csv" --target-precision "$v" --out "$T/u.safetensors"
    contains "$T/err" "--target-precision: '$v' is not in (0, 1]" "bad target $v named"
done
expect 1 "calibrate without a target" -- "$EMBER" calibrate "$T/t.safetensors" "$T/test.csv" --out "$T/u.safetensors"
contains "$T/err" "--target-precision is required" "missing target named"
expect 1 "calibrate without FILE" -- "$EMBER" calibrate "$T/t.safetensors" --target-precision 0.9
expect 1 "calibrate --threads 0" -- "$EMBER" calibrate "$T/t.safetensors" "$T/test.csv" --target-precision 0.9 --threads 0
[ ! -e "$T/u.safetensors" ] && ok || fail "a usage error wrote a model"
# a label the model never saw: exit 2, the label and file named
printf 'text,label\nmy card was stolen,card\nsend money,wire\n' > "$T/unknown.csv"
expect 2 "calibrate unknown label" -- "$EMBER" calibrate "$T/t.safetensors" "$T/unknown.csv" --target-precision 0.9 --out "$T/u.safetensors"
contains "$T/err" "unknown.csv:3: label 'wire' was not in the training data (example 1)" "unknown label named by file and line"
# labels rotated (card -> refund -> transfer -> card): the model is wrong
# everywhere, so no threshold reaches 100 %; MODEL is left as it was
python3 - "$T/test.csv" "$T/rotated.csv" <<'PY'
import csv, sys
rot = {"card": "refund", "refund": "transfer", "transfer": "card"}
rows = list(csv.reader(open(sys.argv[1], newline="")))
with open(sys.argv[2], "w", newline="") as f:
    csv.writer(f).writerows([rows[0]] + [[t, rot[l]] for t, l in rows[1:]])
PY
cp "$T/t.safetensors" "$T/tx.safetensors"
expect 2 "calibrate unreachable target" -- "$EMBER" calibrate "$T/tx.safetensors" "$T/rotated.csv" --target-precision 1
contains "$T/err" "no threshold reaches precision 1 on these 60 examples: the best is" "unreachable target explained"
cmp -s "$T/tx.safetensors" "$T/t.safetensors" && ok || fail "a failed calibrate changed MODEL"
expect 2 "calibrate unreachable --json" -- "$EMBER" calibrate "$T/tx.safetensors" "$T/rotated.csv" --target-precision 1 --json
contains "$T/out" '"exit":2' "JSON error object"

# images: the CNN on IDX (8x8 digits-like patterns), then folders of PGM/BMP files
python3 - "$T" <<'PY' || fail "image fixtures"
import os, random, struct, sys
d = sys.argv[1]
random.seed(2)
def img(c):  # class 0: a bright row, class 1: a bright column, at a random place
    px = [random.randrange(60) for _ in range(64)]
    k = random.randrange(8)
    for j in range(8):
        px[(k * 8 + j) if c == 0 else (j * 8 + k)] = 250
    return bytes(px)
for split, n in (("ctrain", 200), ("ct10k", 60)):
    labels = [i % 2 for i in range(n)]
    with open(f"{d}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x0803, n, 8, 8) + b"".join(img(c) for c in labels))
    with open(f"{d}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x0801, n) + bytes(labels))
    for i, c in enumerate(labels):
        cls = ("row", "col")[c]
        os.makedirs(f"{d}/{split}_dir/{cls}", exist_ok=True)
        with open(f"{d}/{split}_dir/{cls}/{i:04d}.pgm", "wb") as f:
            f.write(b"P5\n8 8\n255\n" + img(c))
os.makedirs(f"{d}/mixed/a"); os.makedirs(f"{d}/mixed/b"); os.makedirs(f"{d}/empty/a"); os.makedirs(f"{d}/empty/b")
open(f"{d}/mixed/a/1.pgm", "wb").write(b"P5\n8 8\n255\n" + bytes(64))
open(f"{d}/mixed/b/2.pgm", "wb").write(b"P5\n4 4\n255\n" + bytes(16))
open(f"{d}/empty/a/1.pgm", "wb").write(b"P5\n8 8\n255\n" + bytes(64))
open(f"{d}/empty/b/notes.pgm.txt", "w").write("not an image")
open(f"{d}/corrupt.png", "wb").write(b"\x89PNG\r\n\x1a\n" + bytes(40))
PY
printf 'conv2d 8 3 relu same\nmax_pool2d 2\nconv2d 8 3 relu\nflatten\ndense classes softmax\n' > "$T/small_cnn.arch"
expect 0 "train cnn on IDX" -- "$EMBER" train --train "$T/ctrain-images-idx3-ubyte" --valid "$T/ct10k-images-idx3-ubyte" \
    --arch "$T/small_cnn.arch" --epochs 6 --batch-size 16 --lr 0.01 --seed 1 --threads 2 --out "$T/cnn.safetensors" --json
contains "$T/out" '"epoch":6' "cnn epochs printed"
expect 0 "test cnn" -- "$EMBER" test "$T/cnn.safetensors" "$T/ct10k-images-idx3-ubyte" --json
python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['accuracy']; sys.exit(0 if a >= 0.9 else 1)" "$T/out" \
    && ok || fail "cnn test accuracy below 0.9: $(head -c 200 "$T/out")"
expect 2 "--arch cnn on 8x8 images" -- "$EMBER" train --train "$T/ctrain-images-idx3-ubyte" --arch cnn --epochs 1 --out "$T/c1.safetensors"
contains "$T/err" "layer 3 (max_pool2d): the 2-wide window does not fit" "too-small image: layer named"
expect 0 "train cnn on folders" -- "$EMBER" train --train "$T/ctrain_dir" --valid "$T/ct10k_dir" --arch "$T/small_cnn.arch" \
    --epochs 6 --batch-size 16 --lr 0.01 --normalize --augment-crop 1 --seed 1 --out "$T/fcnn.safetensors" --quiet
expect 0 "test folder" -- "$EMBER" test "$T/fcnn.safetensors" "$T/ct10k_dir" --json
contains "$T/out" '"label":"col"' "folder class names in the report"
python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['accuracy']; sys.exit(0 if a >= 0.85 else 1)" "$T/out" \
    && ok || fail "folder cnn test accuracy below 0.85: $(head -c 200 "$T/out")"
expect 0 "predict image files" -- "$EMBER" predict "$T/fcnn.safetensors" "$T/ct10k_dir/row/0000.pgm" "$T/ct10k_dir/col/0001.pgm"
[ "$(cut -f1 "$T/out" | tr '\n' ' ')" = "row col " ] && ok || fail "predicted labels: $(cat "$T/out")"
expect 2 "corrupt image" -- "$EMBER" predict "$T/fcnn.safetensors" "$T/corrupt.png"
contains "$T/err" "corrupt.png" "corrupt image named"
expect 2 "mixed sizes" -- "$EMBER" train --train "$T/mixed" --out "$T/x.safetensors"
contains "$T/err" "2.pgm" "mixed sizes name the file"
expect 0 "mixed sizes with --image-size" -- "$EMBER" train --train "$T/mixed" --image-size 8x8 --epochs 1 --out "$T/x.safetensors" --quiet
expect 2 "empty class folder" -- "$EMBER" train --train "$T/empty" --out "$T/x.safetensors"
contains "$T/err" "empty/b" "empty class folder named"
expect 1 "bad --image-size" -- "$EMBER" train --train "$T/mixed" --image-size 8by8 --out "$T/x.safetensors"
# image-folder options on IDX images or text were silently ignored
expect 1 "--normalize on IDX" -- "$EMBER" train --train "$T/ctrain-images-idx3-ubyte" --normalize --out "$T/x.safetensors"
contains "$T/err" "work with image folders only" "--normalize on IDX refused"
expect 1 "--crop on text" -- "$EMBER" train --train "$T/train.csv" --crop 2x2 --out "$T/x.safetensors"
# an image model given a folder of 1x1 RGBA PNGs as predict input, a crop pad
# far larger than the image, and image files interleaved with options
python3 - "$T" <<'PY2' || fail "png fixtures"
import os, struct, sys, zlib
d = sys.argv[1]
def png(path, w, h, px):
    raw = b"".join(b"\x00" + bytes(px[y * w * 4:(y + 1) * w * 4]) for y in range(h))
    ch = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
                           + ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))
for c, v in (("dark", 10), ("light", 240)):
    os.makedirs(f"{d}/px/{c}")
    for i in range(4):
        png(f"{d}/px/{c}/{i}.png", 1, 1, [v, v, v, 0])
PY2
printf 'conv2d 4 3 relu same\nmax_pool2d 2 same\nflatten\ndense classes softmax\n' > "$T/px.arch"
expect 0 "1x1 RGBA images, --augment-crop 50" -- "$EMBER" train --train "$T/px" --arch "$T/px.arch" --epochs 1 \
    --batch-size 1 --augment-crop 50 --augment-flip --out "$T/px.safetensors" --quiet
expect 0 "predict, files around options" -- "$EMBER" predict -k 2 "$T/px.safetensors" "$T/px/dark/0.png" --json "$T/px/light/1.png"
[ "$(wc -l < "$T/out")" -eq 2 ] && ok || fail "predict around options: $(cat "$T/out")"
expect 1 "predict without images" -- "$EMBER" predict "$T/px.safetensors" --json

# calibrate image models too: IDX (labels found by the MNIST naming) and class folders
expect 0 "calibrate IDX cnn" -- "$EMBER" calibrate "$T/cnn.safetensors" "$T/ct10k-images-idx3-ubyte" --target-precision 0.9 --out "$T/cnn_c.safetensors" --json
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r['examples'] == 60 and r['precision'] >= 0.9 else 1)" "$T/out" \
    && ok || fail "calibrate IDX: $(head -c 200 "$T/out")"
meta "$T/cnn_c.safetensors" | grep -q '"serve.threshold"' && ok || fail "calibrate IDX: no serve.threshold saved"
expect 0 "calibrate folder cnn" -- "$EMBER" calibrate "$T/fcnn.safetensors" "$T/ct10k_dir" --target-precision 0.8 --out "$T/fcnn_c.safetensors" --quiet
[ ! -s "$T/out" ] && ok || fail "calibrate --quiet printed something"
expect 0 "predict with a calibrated folder model" -- "$EMBER" predict "$T/fcnn_c.safetensors" "$T/ct10k_dir/row/0000.pgm"

finish cli
