#!/bin/sh
# Step 2 of the --augment-flip study (bench/RESULTS.md), run only because the rule
# recommended flip: all 60,000 training images with --augment-flip, seeds 0-6, each then
# `ember test` on t10k; one at a time at nice 10; no run starts after 00:05 UTC 2026-11-30.
# Usage (from the repository root): bench/cnn/flip_20261129/run_full.sh MODEL_DIR
set -u
MODELS=$1; D=bench/cnn/flip_20261129; DS=/usr/share/datasets/fashion-mnist
deadline=$(date -u -d "2026-11-30 00:05" +%s)
for s in 0 1 2 3 4 5 6; do
  if [ "$(date -u +%s)" -ge "$deadline" ]; then echo "time box reached before seed $s"; exit 0; fi
  n=full_flip_s$s
  { date -u +"start %Y-%m-%dT%H:%M:%SZ"; uptime; } > $D/$n.load.txt
  nice -n 10 build/ember train --train $DS/train-images-idx3-ubyte.gz --arch cnn --epochs 10 \
    --batch-size 64 --threads 2 --seed $s --augment-flip --history $D/$n.csv \
    --out $MODELS/$n.safetensors > $D/$n.log 2>&1
  rc=$?
  { date -u +"end %Y-%m-%dT%H:%M:%SZ rc=$rc"; uptime; } >> $D/$n.load.txt
  [ $rc -eq 0 ] || continue
  nice -n 10 build/ember test $MODELS/$n.safetensors $DS/t10k-images-idx3-ubyte.gz --threads 2 \
    --json > $D/$n.test.json 2> $D/$n.test.err
  { date -u +"tested %Y-%m-%dT%H:%M:%SZ rc=$?"; uptime; } >> $D/$n.load.txt
done
