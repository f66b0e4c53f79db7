#!/usr/bin/env bash
# tests/crash_resume/run.sh EMBER DATA_DIR - `ember train` killed with SIGKILL
# and resumed gives the same model as a run never interrupted.
#
# Two runs with checkpoints: a text model (lazy Adam on embedding rows) on the
# first 5,000 examples of Banking77, one thread, a checkpoint every 25 steps;
# and a small CNN (conv, BatchNormalization, dropout, SGD with Nesterov
# momentum, flip/crop augmentation) on 12x12 IDX images written here, two
# threads, a checkpoint every 5 steps. For each, one uninterrupted run gives
# the reference weights and the list of checkpoints; then 20 trials in all
# (12 text, 8 CNN) start the run and SIGKILL it at a seeded moment: once a
# seeded checkpoint of the list has appeared, plus a seeded fraction of the
# mean time between two checkpoints (so kills land at different steps, in
# and between checkpoint writes, whatever the machine's speed: this works
# for the ASan build too). Every other trial also kills the first resume.
# Each trial then resumes to the end and compares the saved weight tensors
# byte for byte (not the files: their metadata holds the build's version).
# Then a truncated newest checkpoint: the resume warns, names it, uses the
# one before, and the weights are still identical; and a changed option is
# refused, naming it.
set -u
EMBER=$1
DATA=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0 passes=0
ok()   { passes=$((passes + 1)); }
# fd 3 is the real stderr: the trials run with stderr to /dev/null, so the
# shell's "Killed" job notices stay out of the log
exec 3>&2
fail() { fails=$((fails + 1)); echo "FAIL: $*" >&3; }
SEED=${CRASH_RESUME_SEED:-20240611}

[ -f "$DATA/banking77/train.csv" ] || { echo "no $DATA/banking77/train.csv"; exit 77; }
head -n 5001 "$DATA/banking77/train.csv" > "$T/text.csv"
python3 "$(dirname "$0")/../idx_bars.py" "$T" 1200 3 \
    || { echo "python3 needed to write fixtures"; exit 1; }
cat > "$T/cnn.arch" <<'ARCH'
conv2d 8 3 relu
batch_normalization momentum 0.9
max_pool2d 2
flatten
dropout 0.25
dense classes softmax
ARCH

TEXT_ARGS=(--train "$T/text.csv" --arch text --embedding-dim 32 --hidden 64 --epochs 4
           --batch-size 16 --threads 1 --seed 5 --checkpoint-every 25)
CNN_ARGS=(--train "$T/img-images-idx3-ubyte" --arch "$T/cnn.arch" --epochs 5 --batch-size 20
          --threads 2 --seed 9 --optimizer sgd --lr 0.05 --momentum 0.9 --nesterov
          --augment-flip --augment-crop 1 --checkpoint-every 5)

# weights_equal A B: the tensors of two model files, byte for byte
weights_equal() {
    python3 - "$1" "$2" <<'PY'
import json, struct, sys
def tensors(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in h.items() if k != "__metadata__"}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
sys.exit(0 if a and a.keys() == b.keys() and all(a[k] == b[k] for k in a) else 1)
PY
}

# newest_ckpt DIR: the newest checkpoint's file name, or "none"
newest_ckpt() {
    local n
    n=$(ls "$1" 2>/dev/null | grep -E '^ckpt-[0-9]{8}-[0-9]{12}\.safetensors$' | tail -n 1)
    echo "${n:-none}"
}

# run_ref NAME ARGS...: the uninterrupted run, keeping every checkpoint; their
# names, in order, go to $T/NAME.ckpts; prints the mean seconds per checkpoint
run_ref() {
    local name=$1; shift
    local t0 t1 n
    t0=$(date +%s.%N)
    "$EMBER" train "$@" --checkpoint-dir "$T/$name-ref" --keep-checkpoints 1000000 \
        --out "$T/$name-ref.safetensors" --quiet || { echo "FAIL: reference run $name" >&2; exit 1; }
    t1=$(date +%s.%N)
    ls "$T/$name-ref" | grep -E '^ckpt-[0-9]{8}-[0-9]{12}\.safetensors$' > "$T/$name.ckpts"
    n=$(wc -l < "$T/$name.ckpts")
    rm -rf "$T/$name-ref"
    python3 -c "print(f'{($t1 - $t0) / ($n + 1):.4f}')"
}

# trial NAME I KILLS GAP ARGS...: start the run; SIGKILL it once the j-th
# checkpoint of the reference run's list has appeared (j seeded, among those
# still to come; -1: before the first) plus a seeded fraction of GAP seconds,
# so kills land at different steps whatever the machine's speed; resume
# (killing again KILLS-1 times), then run to the end and compare.
landed=()
trial() {
    local name=$1 i=$2 kills=$3 gap=$4; shift 4
    local dir="$T/$name-$i" out="$T/$name-$i.safetensors" k pid where j extra now first q
    local names
    mapfile -t names < "$T/$name.ckpts"
    local n=${#names[@]}
    for ((k = 0; k < kills; k++)); do
        now=$(newest_ckpt "$dir")
        first=-1
        for ((q = 0; q < n; q++)); do [ "${names[$q]}" = "$now" ] && first=$q; done
        read -r j extra < <(python3 -c "import random; r = random.Random('$SEED $name $i $k'); \
print(r.randrange($first, $n), f'{r.random() * $gap:.4f}')")
        local resume=()
        [ "$k" -gt 0 ] && resume=(--resume)
        "$EMBER" train "$@" --checkpoint-dir "$dir" "${resume[@]}" --out "$out" --quiet \
            >/dev/null 2>"$T/err" &
        pid=$!
        if [ "$j" -gt "$first" ]; then
            while kill -0 "$pid" 2>/dev/null; do
                now=$(newest_ckpt "$dir")
                [ "$now" != none ] && [[ ! "$now" < "${names[$j]}" ]] && break
                sleep 0.002
            done
        fi
        sleep "$extra"
        if kill -KILL "$pid" 2>/dev/null; then
            where="killed after $(newest_ckpt "$dir") (waited for #$j of $n, +${extra}s)"
        else
            where="finished first (waited for #$j of $n, +${extra}s)"
        fi
        wait "$pid"
        landed+=("$name $i.$k: $where")
    done
    if ! "$EMBER" train "$@" --resume "$dir" --out "$out" >"$T/out" 2>"$T/err"; then
        fail "$name trial $i: the resume failed: $(head -c 300 "$T/err")"
        return
    fi
    if weights_equal "$T/$name-ref.safetensors" "$out"; then
        ok
    else
        fail "$name trial $i: weights differ from the uninterrupted run (${landed[*]: -$kills})"
    fi
}

t_start=$(date +%s)
gap_text=$(run_ref text "${TEXT_ARGS[@]}")
gap_cnn=$(run_ref cnn "${CNN_ARGS[@]}")
echo "reference runs: $(wc -l < "$T/text.ckpts") checkpoints, ${gap_text}s apart (text);" \
     "$(wc -l < "$T/cnn.ckpts"), ${gap_cnn}s apart (cnn)"
for i in $(seq 0 11); do trial text "$i" $((1 + i % 2)) "$gap_text" "${TEXT_ARGS[@]}" 2>/dev/null; done
for i in $(seq 0 7); do trial cnn "$i" $((1 + i % 2)) "$gap_cnn" "${CNN_ARGS[@]}" 2>/dev/null; done
printf '  %s\n' "${landed[@]}"
mid=$(printf '%s\n' "${landed[@]}" | grep -c "killed after")
echo "kills: ${#landed[@]} in 20 trials, $mid of them while training ran"
[ "$mid" -ge 20 ] && ok || fail "only $mid kills landed while training ran"

# A truncated newest checkpoint: skipped with a warning naming it, the one
# before it used, the result unchanged.
dir="$T/trunc"
"$EMBER" train "${TEXT_ARGS[@]}" --checkpoint-dir "$dir" --out "$T/trunc.safetensors" --quiet \
    || fail "truncation case: first run"
rm -f "$T/trunc.safetensors"
ckpts=$(ls "$dir" | grep -E '^ckpt-.*\.safetensors$')
newest=$(echo "$ckpts" | tail -n 1)
previous=$(echo "$ckpts" | tail -n 2 | head -n 1)
size=$(stat -c %s "$dir/$newest")
truncate -s $((size / 2)) "$dir/$newest"
if "$EMBER" train "${TEXT_ARGS[@]}" --resume "$dir" --out "$T/trunc.safetensors" >"$T/out" 2>"$T/err"; then
    grep -q "warning: checkpoint $dir/$newest is corrupt or incomplete" "$T/err" && ok \
        || fail "truncation case: no warning naming $newest: $(head -c 300 "$T/err")"
    grep -q "resumed from $dir/$previous" "$T/out" && ok \
        || fail "truncation case: did not resume from $previous: $(grep resumed "$T/out")"
    weights_equal "$T/text-ref.safetensors" "$T/trunc.safetensors" && ok \
        || fail "truncation case: weights differ"
else
    fail "truncation case: the resume failed: $(head -c 300 "$T/err")"
fi

# The fingerprint: another batch size is refused, naming the field (exit 2).
"$EMBER" train "${TEXT_ARGS[@]}" --batch-size 32 --resume "$dir" --out "$T/x.safetensors" \
    >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "fingerprint field 'batch_size' differs" "$T/err" && ok \
    || fail "changed batch size: exit $rc, $(head -c 300 "$T/err")"

echo "crash_resume: $passes passed, $fails failed ($(($(date +%s) - t_start)) s)"
[ "$fails" -eq 0 ]
