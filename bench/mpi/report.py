#!/usr/bin/env python3
"""report.py RUNS.jsonl - the table of bench/mpi/run.sh: measured examples/s
for 1 rank x 2 threads and 2 ranks x 1 thread, rank 0's time in
collectives, and a paper estimate for P = 8 and 64 ranks on a 25 Gb/s
network (docs/distributed.md, "Scaling estimate", gives the model)."""
import json, math, statistics, sys

ALPHA = 10e-6          # s per message hop: MPI over TCP on 25 GbE (RDMA: ~2 us)
BETA = 25e9 / 8        # bytes/s: 25 Gb/s, all of it usable (optimistic)

runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = []
for r in runs:
    if r["name"] not in names:
        names.append(r["name"])

def med(name, ranks, threads, key):
    v = [r["run"][key] for r in runs if r["name"] == name and r["ranks"] == ranks
         and r["threads"] == threads and key in r["run"]]
    return statistics.median(v) if v else float("nan")

def ring(P, M, k):
    """k collectives per step; one of M bytes (ring allreduce: reduce-scatter
    + allgather, 2(P-1) hops, each rank sends 2(P-1)/P * M), the rest small."""
    return k * 2 * (P - 1) * ALPHA + 2 * (P - 1) / P * M / BETA

print("| workload | global batch | setup | examples/s | comm s (share) | bytes/step/rank |")
print("|---|---|---|---|---|---|")
for name in names:
    B = int(name.split("-b")[1])
    N = next(r["run"]["examples"] for r in runs if r["name"] == name)
    ep = next(r["run"]["epochs"] for r in runs if r["name"] == name)
    steps = ep * math.ceil(N / B)
    t12 = med(name, 1, 2, "train_seconds")
    t11 = med(name, 1, 1, "train_seconds")
    t21 = med(name, 2, 1, "train_seconds")
    c21 = med(name, 2, 1, "comm_seconds")
    by = med(name, 2, 1, "comm_bytes")
    sp = med(name, 2, 1, "sparse_exchanges")
    de = med(name, 2, 1, "dense_exchanges")
    M = by / steps                      # payload bytes per step per rank
    k = 1 + (2 if sp > 0 else 3 if de > 0 else 1)  # collectives per step
    ex = N * ep
    print(f"| {name} | {B} | 1 rank x 2 threads (measured) | {ex / t12:,.0f} | - | - |")
    print(f"| {name} | {B} | 1 rank x 1 thread (measured) | {ex / t11:,.0f} | - | - |")
    print(f"| {name} | {B} | 2 ranks x 1 thread (measured) | {ex / t21:,.0f} | "
          f"{c21:.3f} ({100 * c21 / t21:.0f} %) | {M:,.0f} |")
    # compute per step: f (every rank, whatever P: optimizer step, the
    # exchange's copies) + v / P (the shard's forward/backward), from the
    # 1-thread run (f + v) and the 2-rank run minus its communication (f + v/2)
    c1 = t11 / steps
    c2 = (t21 - c21) / steps
    v = 2 * (c1 - c2)
    f = c1 - v
    if v <= 0 or f < 0:   # noise: treat it all as divisible
        f, v = 0.0, c1
    for P in (8, 64):
        tc = f + v / P
        tm = ring(P, M, k)
        print(f"| {name} | {B} | {P} ranks x 1 core (estimate) | {B / (tc + tm):,.0f} | "
              f"{tm * 1e3:.2f} ms/step ({100 * tm / (tc + tm):.0f} %) | {M:,.0f} |")
print()
print(f"Estimate: step = f + v/P + k * 2(P-1) * alpha + 2(P-1)/P * M / beta, alpha = "
      f"{ALPHA * 1e6:.0f} us, beta = 25 Gb/s; f, v from the 1-thread and 2-rank runs; M = "
      f"measured bytes per step at P = 2 (sparse text: grows with the union of rows).")
