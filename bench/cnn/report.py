#!/usr/bin/python3
"""report.py - turn the raw outputs of bench/cnn/run.sh (in OUT_DIR) into one
markdown table, print it and save it as OUT_DIR/cnn_bench.md.

Reads (each optional; a missing or failed part becomes a row saying so):
  ember_train.jsonl / .err / .rc   `ember train --arch cnn --json` (one object per epoch
                                   with "seconds", then a summary with "train_seconds")
  ember_test.json / .err / .rc     `ember test MODEL t10k --json` (accuracy, macro_f1)
  torch_ob<N>.jsonl / .err / .rc   torch_cnn.py with OPENBLAS_NUM_THREADS=N
  layers.txt / .rc                 build/bench/bench_cnn_layers output (copied verbatim)
  load.txt                         "label<TAB>uptime output" lines, one before each run
  meta.txt                         "key<TAB>value" lines written by run.sh

usage: report.py OUT_DIR
"""
import json
import os
import re
import statistics
import sys

TARGET = 0.67  # the issue: Ember median epoch / PyTorch median epoch <= 0.67


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def rc_of(out, name):
    t = read(os.path.join(out, name + ".rc"))
    try:
        return int(t.strip()) if t is not None else None
    except ValueError:
        return None


def json_lines(text):
    objs = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                objs.append(json.loads(line))
            except ValueError:
                pass
    return objs


def first_error(out, name, rc):
    err = (read(os.path.join(out, name + ".err")) or "").strip().splitlines()
    msg = err[-1] if err else "no message"
    return f"failed (exit {rc}): {msg[:200]}"


def fmt_s(v):
    return f"{v:.2f}" if v is not None else "–"


def fmt_pct(v):
    return f"{100 * v:.2f} %" if v is not None else "–"


def spread(secs):
    if not secs:
        return "–"
    return f"{statistics.median(secs):.2f} ({min(secs):.2f}–{max(secs):.2f})"


def ember_result(out):
    """dict with name, epochs, secs, acc, f1, notes, error."""
    r = {"name": "Ember", "epochs": None, "secs": [], "acc": None, "f1": None, "notes": [],
         "error": None, "per_epoch_acc": []}
    rc = rc_of(out, "ember_train")
    if rc is None:
        r["error"] = "not run"
        return r
    objs = json_lines(read(os.path.join(out, "ember_train.jsonl")))
    epochs = [o for o in objs if "epoch" in o and "model" not in o]
    summary = next((o for o in objs if "train_seconds" in o), None)
    if rc != 0:
        r["error"] = first_error(out, "ember_train", rc)
        return r
    r["epochs"] = len(epochs) or (summary or {}).get("epochs")
    if epochs and all("train_seconds" in o for o in epochs):
        # the training steps alone, without the per-epoch validation pass
        r["secs"] = [float(o["train_seconds"]) for o in epochs]
    elif epochs and all("seconds" in o for o in epochs):
        r["secs"] = [float(o["seconds"]) for o in epochs]
        r["notes"].append("per-epoch seconds include the validation pass")
    elif summary and r["epochs"]:
        # No per-epoch seconds in the JSON: fall back to the mean over the fit.
        r["secs"] = [float(summary["train_seconds"]) / r["epochs"]] * r["epochs"]
        r["notes"].append("no per-epoch seconds in the JSON: mean of train_seconds, not a median")
    r["per_epoch_acc"] = [o.get("val_accuracy") for o in epochs]
    trc = rc_of(out, "ember_test")
    test = next(iter(json_lines(read(os.path.join(out, "ember_test.json")))), None)
    if trc == 0 and test:
        r["acc"], r["f1"] = test.get("accuracy"), test.get("macro_f1")
    else:
        if trc is not None and trc != 0:
            r["notes"].append("ember test " + first_error(out, "ember_test", trc))
        last = epochs[-1] if epochs else (summary or {})
        if last.get("val_accuracy") is not None:
            r["acc"] = float(last["val_accuracy"])
            r["notes"].append("accuracy = last epoch's val_accuracy (ember test gave none)")
    return r


def torch_results(out):
    res = []
    for fn in sorted(os.listdir(out)):
        m = re.fullmatch(r"torch_ob(\d+)\.rc", fn)
        if not m:
            continue
        ob = m.group(1)
        name = f"torch_ob{ob}"
        r = {"name": f"PyTorch (OPENBLAS_NUM_THREADS={ob})", "epochs": None, "secs": [], "acc": None,
             "f1": None, "notes": [], "error": None, "per_epoch_acc": [], "ob": int(ob)}
        rc = rc_of(out, name)
        objs = json_lines(read(os.path.join(out, name + ".jsonl")))
        info = next((o for o in objs if o.get("info")), {})
        epochs = [o for o in objs if "epoch" in o and "seconds" in o]
        if info.get("torch"):
            r["name"] = f"PyTorch {info['torch']} (OPENBLAS_NUM_THREADS={ob})"
        if rc != 0:
            r["error"] = first_error(out, name, rc)
        if epochs:
            r["epochs"] = len(epochs)
            r["secs"] = [float(o["seconds"]) for o in epochs]
            r["acc"] = epochs[-1].get("test_accuracy")
            r["f1"] = epochs[-1].get("test_macro_f1")
            r["per_epoch_acc"] = [o.get("test_accuracy") for o in epochs]
            if rc != 0:
                r["notes"].append(f"stopped early after {len(epochs)} epochs")
                r["error"] = None
        res.append(r)
    res.sort(key=lambda r: -r["ob"])  # the BASELINES setting (OPENBLAS threads = threads) first
    return res


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    meta = {}
    for line in (read(os.path.join(out, "meta.txt")) or "").splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            meta[k] = v
    em = ember_result(out)
    if meta.get("ember_version"):
        em["name"] = f"Ember {meta['ember_version']}"
    tr = torch_results(out)
    em_med = statistics.median(em["secs"]) if em["secs"] else None

    L = []
    L.append(f"### Fashion-MNIST CNN, Ember vs PyTorch, {meta.get('date', '')}".rstrip(", "))
    L.append("")
    L.append(f"Machine: {meta.get('cpu', '?')}, {meta.get('nproc', '?')} CPUs; "
             f"threads {meta.get('threads', '?')}, batch 64, Adam 1e-3, inputs /255; "
             f"{meta.get('versions', '')}.")
    L.append("")
    L.append("| system | epochs | median s/epoch (min–max) | test accuracy | macro-F1 | "
             "Ember median epoch ÷ PyTorch median epoch |")
    L.append("|---|---|---|---|---|---|")
    for r in [em] + tr:
        if r["error"]:
            L.append(f"| {r['name']} | – | {r['error']} | – | – | – |")
            continue
        ratio = "–"
        if r is not em and em_med is not None and r["secs"]:
            q = em_med / statistics.median(r["secs"])
            ratio = f"**{q:.3f}** ({'meets' if q <= TARGET else 'misses'} ≤ {TARGET})"
        L.append(f"| {r['name']} | {r['epochs'] or '–'} | {spread(r['secs'])} | {fmt_pct(r['acc'])} | "
                 f"{fmt_pct(r['f1'])} | {ratio} |")
    L.append("")
    for r in [em] + tr:
        if r["error"] or not r["secs"]:
            continue
        L.append(f"* {r['name']} per epoch — seconds: " + ", ".join(f"{s:.2f}" for s in r["secs"]) +
                 "; test accuracy %: " + ", ".join(f"{100 * a:.2f}" if a is not None else "–"
                                                    for a in r["per_epoch_acc"]))
        for n in r["notes"]:
            L.append(f"  * note: {n}")
    if em["error"] is None and em["notes"] and not em["secs"]:
        for n in em["notes"]:
            L.append(f"* Ember note: {n}")
    L.append("")
    L.append("What is timed (wall clock): **Ember** — the `train_seconds` of each epoch in "
             "`ember train --json`: the shuffled batch gather, forward, backward and Adam step of "
             "every batch, without the validation pass that follows it; data loading excluded. "
             "**PyTorch** (`torch_cnn.py`) — the training loop only (batch gather from "
             "pre-loaded tensors, forward, loss, backward, Adam step, `loss.item()`); the test-set "
             "evaluation after each epoch is timed separately and not included. "
             "Test accuracy/macro-F1: Ember from "
             "`ember test` on t10k after the last epoch, PyTorch from its own evaluation after "
             "the last epoch. PyTorch runs with `torch.set_num_threads` = threads, "
             "`OPENBLAS_CORETYPE=Haswell` and the OPENBLAS_NUM_THREADS in its row; Ember with "
             "`--threads` and the caller's environment.")
    load = (read(os.path.join(out, "load.txt")) or "").strip().splitlines()
    if load:
        L.append("")
        L.append("Load average (1/5/15 min) before each run — other jobs share this machine:")
        L.append("")
        for line in load:
            label, _, up = line.partition("\t")
            m = re.search(r"load average:\s*(.*)$", up)
            L.append(f"* {label}: {m.group(1) if m else up}")
    layers = read(os.path.join(out, "layers.txt"))
    lrc = rc_of(out, "layers")
    if layers is not None:
        L.append("")
        L.append(f"Per-layer breakdown, `{meta.get('layers_cmd', 'bench_cnn_layers')}`"
                 + (f" (exit {lrc})" if lrc else "") + ":")
        L.append("")
        L.append("```")
        L.append(layers.rstrip())
        L.append("```")
    text = "\n".join(L) + "\n"
    with open(os.path.join(out, "cnn_bench.md"), "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
