#!/bin/sh
# The split runs of the --augment-flip study (bench/RESULTS.md): seeds 0-3, paired arms,
# one training at a time at nice 10; no run starts after 00:05 UTC on 2026-11-30.
# Usage (from the repository root): bench/cnn/flip_20261129/run_split.sh SPLIT_DIR MODEL_DIR
set -u
SPLIT=$1; MODELS=$2; D=bench/cnn/flip_20261129
deadline=$(date -u -d "2026-11-30 00:05" +%s)
for s in 0 1 2 3; do
  for arm in noflip flip; do
    if [ "$(date -u +%s)" -ge "$deadline" ]; then echo "time box reached before $arm s$s"; exit 0; fi
    extra=""; [ "$arm" = flip ] && extra="--augment-flip"
    n=split_${arm}_s$s
    { date -u +"start %Y-%m-%dT%H:%M:%SZ"; uptime; } > $D/$n.load.txt
    nice -n 10 build/ember train --train $SPLIT/train/train-images-idx3-ubyte.gz \
      --valid $SPLIT/valid/valid-images-idx3-ubyte.gz --arch cnn --epochs 10 --batch-size 64 \
      --threads 2 --seed $s $extra --history $D/$n.csv --out $MODELS/$n.safetensors \
      > $D/$n.log 2>&1
    rc=$?
    { date -u +"end %Y-%m-%dT%H:%M:%SZ rc=$rc"; uptime; } >> $D/$n.load.txt
  done
done
