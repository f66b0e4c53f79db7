#!/usr/bin/python3
"""bench.py - Ember vs fastText vs PyTorch on Banking77 and SpamAssassin (run.sh calls it).

Usage: bench.py --data DIR --ember PATH --out OUT_DIR [--no-torch] [--no-fasttext]
                [--sets banking77,spam]

Every system uses 2 threads (ember --threads 2, fasttext -thread 2, torch.set_num_threads(2)).
What is timed, per system (wall clock, time.perf_counter around the process unless noted):
  Ember     train s = "train_seconds" of train's final JSON line (the fit: epochs only, no
            reading, tokenising or saving; the whole process's wall time is shown beside it).
            Timed runs have no --valid, so they do the same work as the others; one extra
            run of the reference model with --valid TEST gives the per-epoch test curve.
  fastText  train s = the whole `fasttext supervised` process (read, train, save .bin).
  PyTorch   train s = the 10 epochs inside torch_ref.py (padded batches built per step).
  predict lines/s: `ember predict` / `fasttext predict` on the test texts repeated to
            >= 200,000 lines (Banking77) or >= 2 s (SpamAssassin; one message per line),
            output to /dev/null: lines / wall time, model load included. PyTorch: in-process,
            cleaned lines -> ids -> batches of 256 -> argmax, model already loaded.
Runs: each configuration runs once; if that run took < CHEAP_S seconds (wall) it runs
twice more and the table shows the median time and the median (min-max) accuracy.
Ember's "best settings" come from TUNING below (a grid fixed before any test result of a
tuned model was seen), by stratified 5-fold cross-validation on the train set only (the
folds are made by prep.py, see its docstring; the test set is not read). For each
configuration and each fold k = 0..4, `ember train` runs once on fold k's train part (4/5
of train) with `--valid` fold k's held-out part (1/5), same seed and 2 threads; the fold's
score is val_accuracy after the last epoch. A configuration's CV accuracy is the mean of
its 5 fold scores. Its projected time is the median over the folds of
train_seconds x (full train size / fold train size); train_seconds includes the per-epoch
evaluation of the held-out part, so the projection errs on the slow side. Among the
configurations whose projected time is <= MAX_TRAIN_S (all of them if none is), the
highest CV accuracy rounded to 1e-6 wins; ties go to the lower projected time. Only then
is the winner trained on the full train set and tested (the "best" row).
Not done: sklearn baselines (BASELINES.md has them), fastText autotune (60 s per data
set), GPU anything.
"""
import argparse
import csv
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

THREADS = 2
CHEAP_S = 30.0          # a first run shorter than this (wall) is repeated to 3 runs
RUNS_CHEAP = 3
MAX_TRAIN_S = 9.0       # "training under 10 s", with 1 s of margin for noise
K_FOLDS = 5             # stratified CV folds for choosing the best settings (prep.py)
B77_PREDICT_LINES = 200_000
SPAM_PREDICT_S = 2.0
HERE = os.path.dirname(os.path.abspath(__file__))

# Ember settings tried for the "best" row, per data set. "arch" is text (the reference
# model) or a file in this folder; every other key is an `ember train` option.
TUNING = {
    "banking77": [
        {"arch": "text", "epochs": 10, "lr": 0.001, "batch-size": 32},
        {"arch": "text", "epochs": 10, "lr": 0.003, "batch-size": 32, "word-ngrams": 2},
        {"arch": "linear100.arch", "epochs": 10, "lr": 0.01, "batch-size": 128},
        {"arch": "linear100.arch", "epochs": 10, "lr": 0.01, "batch-size": 64, "word-ngrams": 2},
        {"arch": "linear100.arch", "epochs": 6, "lr": 0.01, "batch-size": 128, "char-ngrams": "3-5"},
        {"arch": "linear100.arch", "epochs": 6, "lr": 0.01, "batch-size": 128, "char-ngrams": "3-5",
         "word-ngrams": 2},
        {"arch": "linear100.arch", "epochs": 6, "lr": 0.01, "batch-size": 128, "char-ngrams": "3-4",
         "word-ngrams": 2},
        {"arch": "linear50.arch", "epochs": 6, "lr": 0.02, "batch-size": 128, "char-ngrams": "3-5",
         "word-ngrams": 2},
    ],
    "spam": [
        {"arch": "text", "epochs": 10, "lr": 0.001, "batch-size": 32},
        {"arch": "text", "epochs": 10, "lr": 0.001, "batch-size": 32, "max-vocab": 20000,
         "buckets": 0},
        {"arch": "text", "epochs": 5, "lr": 0.003, "batch-size": 128, "max-vocab": 20000,
         "buckets": 0},
        {"arch": "text", "epochs": 8, "lr": 0.003, "batch-size": 128, "buckets": 0},
        {"arch": "text", "epochs": 8, "lr": 0.003, "batch-size": 128, "min-count": 2,
         "buckets": 0},
        {"arch": "linear100.arch", "epochs": 5, "lr": 0.01, "batch-size": 128, "buckets": 0},
        {"arch": "text", "epochs": 5, "lr": 0.003, "batch-size": 128, "max-vocab": 20000,
         "email-headers": True, "buckets": 0},
    ],
}
REF = {"arch": "text", "epochs": 10, "batch-size": 32}   # the reference command's settings

FT_SETTINGS = {"default": [],
               "tuned_b200k": ["-epoch", "25", "-lr", "0.5", "-wordNgrams", "2", "-dim", "100",
                               "-bucket", "200000"]}
TORCH_MAXLEN = {"banking77": 64, "spam": 400}
NAMES = {"banking77": "Banking77", "spam": "SpamAssassin"}
# BASELINES.md (measured on its own machine, 2 cores): PyTorch reference model train s and
# fastText tuned_b200k train s. The fastText ratio here / there says how this machine compares.
BASELINE_TORCH_S = {"banking77": 3.28, "spam": 59.08}
BASELINE_FT_TUNED_S = {"banking77": 3.35, "spam": 35.81}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, stdout=subprocess.PIPE, env=None):
    """Run cmd; return (wall seconds, stdout text). Raises on a non-zero exit."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return wall, p.stdout if stdout == subprocess.PIPE else ""


def median(xs):
    return statistics.median(xs)


def macro_f1(y, p):
    try:
        from sklearn.metrics import f1_score
        return float(f1_score(y, p, average="macro"))
    except ImportError:
        f1s = []
        for c in sorted(set(y)):
            tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
            fp = sum(1 for a, b in zip(y, p) if a != c and b == c)
            fn = sum(1 for a, b in zip(y, p) if a == c and b != c)
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        return sum(f1s) / len(f1s)


def settings_args(cfg):
    args = []
    for k, v in cfg.items():
        if k == "arch":
            args += ["--arch", v if v == "text" else os.path.join(HERE, v)]
        elif v is True:
            args.append("--" + k)
        else:
            args += ["--" + k, str(v)]
    return args


def settings_text(cfg):
    parts = []
    for k, v in cfg.items():
        if k == "arch":
            parts.append("--arch " + v)
        elif v is True:
            parts.append("--" + k)
        else:
            parts.append(f"--{k} {v}")
    return " ".join(parts)


class Bench:
    def __init__(self, a):
        self.a = a
        self.data = a.data
        self.ember = a.ember
        self.work = os.path.join(a.out, "work")
        os.makedirs(self.work, exist_ok=True)
        self.rows = []       # table rows (dicts)
        self.tuning = {}     # data set -> list of dicts (cfg, cv, folds, proj, ok, ...)
        self.curves = {}     # data set -> Ember reference per-epoch test accuracy
        self.notes = []
        self.repeat_cache = {}

    # ------------------------------------------------------------ data paths
    def paths(self, ds):
        d = os.path.join(self.data, ds)
        ext = ".csv" if ds == "banking77" else ""
        e = {k: os.path.join(d, k + ext) for k in ("train", "test")}
        e["folds"] = [{k: os.path.join(d, "cv", f"fold{i}", k + ext) for k in ("train", "valid")}
                      for i in range(K_FOLDS)]
        return d, e

    def count_lines(self, path):
        with open(path, "rb") as f:
            return sum(1 for _ in f)

    def repeated(self, src, reps):
        """src repeated reps times (cached file in work/)."""
        key = (src, reps)
        if key not in self.repeat_cache:
            dst = os.path.join(self.work, f"{os.path.basename(os.path.dirname(src))}."
                                          f"{os.path.basename(src)}.x{reps}")
            with open(src, "rb") as f:
                blob = f.read()
            with open(dst, "wb") as f:
                for _ in range(reps):
                    f.write(blob)
            self.repeat_cache[key] = dst
        return self.repeat_cache[key]

    def throughput(self, ds, src, make_cmd):
        """lines/s of make_cmd(file) over src repeated: >= 200k lines (Banking77) or >= 2 s."""
        n = self.count_lines(src)
        if ds == "banking77":
            reps = math.ceil(B77_PREDICT_LINES / n)
            wall, _ = run(make_cmd(self.repeated(src, reps)), stdout=subprocess.DEVNULL)
            return n * reps / wall, n * reps
        reps = 4
        for _ in range(4):
            wall, _ = run(make_cmd(self.repeated(src, reps)), stdout=subprocess.DEVNULL)
            if wall >= SPAM_PREDICT_S:
                return n * reps / wall, n * reps
            reps = math.ceil(reps * SPAM_PREDICT_S * 1.3 / max(wall, 0.05))
        return n * reps / wall, n * reps

    # ---------------------------------------------------------------- Ember
    def ember_train(self, train, cfg, out, valid=None):
        cmd = [self.ember, "train", "--train", train] + (["--valid", valid] if valid else []) \
            + settings_args(cfg) + ["--threads", str(THREADS), "--json", "--out", out]
        wall, so = run(cmd)
        lines = [json.loads(l) for l in so.splitlines() if l.startswith("{")]
        return wall, lines[:-1], lines[-1]

    def ember_test(self, model, test):
        _, so = run([self.ember, "test", model, test, "--json"])
        j = json.loads(so)
        return j["accuracy"], j["macro_f1"]

    def ember_row(self, ds, label, cfg, note):
        d, p = self.paths(ds)
        model = os.path.join(self.work, f"ember_{ds}_{label}.emb")
        trains, walls, accs, f1s = [], [], [], []
        for i in range(RUNS_CHEAP):
            wall, _, fin = self.ember_train(p["train"], cfg, model)
            trains.append(fin["train_seconds"])
            walls.append(wall)
            acc, f1 = self.ember_test(model, p["test"])
            accs.append(acc)
            f1s.append(f1)
            log(f"  ember {label} {ds} run {i + 1}: train {fin['train_seconds']:.2f} s "
                f"(wall {wall:.2f}) test acc {acc:.4f}")
            if wall >= CHEAP_S:
                break
        lps, nlines = self.throughput(ds, os.path.join(d, "test.raw.txt"),
                                      lambda f: [self.ember, "predict", model, f])
        self.rows.append(dict(system=f"Ember ({label})", ds=ds, settings=settings_text(cfg),
                              runs=len(trains), acc=accs, f1=f1s, train=median(trains),
                              train_wall=median(walls), lps=lps, plines=nlines,
                              size=os.path.getsize(model), note=note))
        return median(trains)

    def ember_reference(self, ds):
        d, p = self.paths(ds)
        log(f"[{ds}] Ember reference model")
        model = os.path.join(self.work, f"ember_{ds}_ref_valid.emb")
        _, epochs, fin = self.ember_train(p["train"], REF, model, valid=p["test"])
        self.curves[ds] = ([e["val_accuracy"] for e in epochs], fin["train_seconds"])
        return self.ember_row(ds, "reference", REF, "")

    def ember_tune(self, ds):
        d, p = self.paths(ds)
        for f in p["folds"]:
            for path in f.values():
                if not os.path.exists(path):
                    sys.exit(f"bench.py: {path} is missing: the data predates the "
                             f"cross-validation folds; rebuild it (bench/text/prepare.sh "
                             f"rebuilds such a folder, or FORCE=1)")
        n_full = self.n_train(ds, p["train"])
        n_fold = [self.n_train(ds, f["train"]) for f in p["folds"]]
        n_val = [self.n_train(ds, f["valid"]) for f in p["folds"]]
        log(f"[{ds}] Ember tuning by {K_FOLDS}-fold CV on train ({n_full}; fold train "
            f"{min(n_fold)}-{max(n_fold)}, held out {min(n_val)}-{max(n_val)}), "
            f"{len(TUNING[ds])} configurations")
        res = []
        for cfg in TUNING[ds]:
            model = os.path.join(self.work, f"ember_{ds}_tune.emb")
            vals, trains, projs = [], [], []
            for k, f in enumerate(p["folds"]):
                _, epochs, fin = self.ember_train(f["train"], cfg, model, valid=f["valid"])
                if fin["examples"] != n_fold[k]:
                    raise RuntimeError(f"ember read {fin['examples']} examples from "
                                       f"{f['train']}, expected {n_fold[k]}")
                # train_seconds includes the per-epoch evaluation of the held-out fold,
                # so the projection to the full train set errs on the slow side
                vals.append(fin["val_accuracy"])
                trains.append(fin["train_seconds"])
                projs.append(fin["train_seconds"] * n_full / n_fold[k])
            cv = statistics.fmean(vals)
            proj = median(projs)
            ok = proj <= MAX_TRAIN_S
            res.append(dict(cfg=cfg, cv=cv, folds=vals, fold_train=trains, fold_proj=projs,
                            train=median(trains), proj=proj, ok=ok,
                            n_fold=n_fold, n_val=n_val))
            log(f"  {settings_text(cfg):<95} CV {cv:.4f} "
                f"({' '.join('%.4f' % v for v in vals)}) fold train median {median(trains):.2f} s "
                f"(full ~{proj:.1f} s){'' if ok else ' TOO SLOW'}")
        self.tuning[ds] = res
        ok = [r for r in res if r["ok"]] or res
        best = max(ok, key=lambda r: (round(r["cv"], 6), -r["proj"]))
        best["chosen"] = True
        return best["cfg"]

    def n_train(self, ds, path):
        if ds == "banking77":
            # CSV rows, not lines: 10 quoted texts of train.csv hold 13 line breaks
            with open(path, encoding="utf-8", newline="") as f:
                return sum(1 for _ in csv.reader(f)) - 1
        return sum(len(os.listdir(os.path.join(path, c))) for c in os.listdir(path))

    # ------------------------------------------------------------- fastText
    def fasttext_rows(self, ds):
        d, _ = self.paths(ds)
        train, test_ft = os.path.join(d, "train.ft"), os.path.join(d, "test.ft")
        test_txt = os.path.join(d, "test.clean.txt")
        with open(test_ft, encoding="utf-8") as f:
            gold = [l.split(" ", 1)[0] for l in f]
        for name, extra in FT_SETTINGS.items():
            log(f"[{ds}] fastText {name}")
            prefix = os.path.join(self.work, f"ft_{ds}_{name}")
            trains, accs, f1s = [], [], []
            for i in range(RUNS_CHEAP):
                wall, _ = run(["fasttext", "supervised", "-input", train, "-output", prefix,
                               "-thread", str(THREADS), "-verbose", "0"] + extra)
                _, so = run(["fasttext", "predict", prefix + ".bin", test_txt])
                pred = so.split("\n")[:-1]
                if len(pred) != len(gold):
                    raise RuntimeError(f"fasttext predict: {len(pred)} lines for {len(gold)} texts")
                acc = sum(1 for a, b in zip(gold, pred) if a == b) / len(gold)
                trains.append(wall)
                accs.append(acc)
                f1s.append(macro_f1(gold, pred))
                log(f"  run {i + 1}: train {wall:.2f} s, test acc {acc:.4f}")
                if wall >= CHEAP_S:
                    break
            lps, nlines = self.throughput(ds, test_txt,
                                          lambda f: ["fasttext", "predict", prefix + ".bin", f])
            if os.path.exists(prefix + ".vec"):
                os.remove(prefix + ".vec")
            self.rows.append(dict(system=f"fastText ({name})", ds=ds,
                                  settings=" ".join(["-thread", "2"] + extra), runs=len(trains),
                                  acc=accs, f1=f1s, train=median(trains), train_wall=None,
                                  lps=lps, plines=nlines, size=os.path.getsize(prefix + ".bin"),
                                  note=""))

    # -------------------------------------------------------------- PyTorch
    def torch_row(self, ds):
        d, _ = self.paths(ds)
        log(f"[{ds}] PyTorch reference model")
        res = []
        for seed in range(RUNS_CHEAP):
            model = os.path.join(self.work, f"torch_{ds}.pt")
            wall, so = run(["/usr/bin/python3", os.path.join(HERE, "torch_ref.py"),
                            os.path.join(d, "train.tsv"), os.path.join(d, "test.tsv"),
                            "--maxlen", str(TORCH_MAXLEN[ds]), "--seed", str(seed),
                            "--out", model])
            j = json.loads(so.strip().splitlines()[-1])
            res.append(j)
            log(f"  seed {seed}: train {j['train_seconds']:.2f} s (epochs "
                f"{', '.join('%.2f' % e for e in j['epoch_seconds'])}), test acc {j['accuracy']:.4f}")
            if wall >= CHEAP_S:
                break
        j = res[0]
        self.rows.append(dict(system="PyTorch (reference)", ds=ds,
                              settings=f"maxlen {j['maxlen']}, vocab {j['vocab']:,}, "
                                       f"{j['params']:,} params; torch {j['torch']}",
                              runs=len(res), acc=[r["accuracy"] for r in res],
                              f1=[r["macro_f1"] for r in res],
                              train=median([r["train_seconds"] for r in res]), train_wall=None,
                              lps=median([r["predict_lines_per_s"] for r in res]),
                              plines=j["predict_lines"], size=j["model_bytes"],
                              note="in-process, model loaded"))

    # --------------------------------------------------------------- report
    def table(self):
        def pct(xs):
            xs = [100 * x for x in xs]
            m = median(xs)
            return f"{m:.2f}" if max(xs) - min(xs) < 0.005 else f"{m:.2f} ({min(xs):.2f}–{max(xs):.2f})"

        def size(b):
            return f"{b / 1e6:.1f} MB" if b >= 1e5 else f"{b / 1e3:.0f} kB"

        out = ["| system | data set | settings | runs | accuracy % | macro-F1 % | train s | "
               "predict lines/s | model on disk | Ember train s ÷ this (ref / best); (N×) = Ember N× faster |",
               "|---|---|---|---|---|---|---|---|---|---|"]
        for ds in self.a.sets:
            rows = [r for r in self.rows if r["ds"] == ds]
            ref = next((r["train"] for r in rows if r["system"] == "Ember (reference)"), None)
            best = next((r["train"] for r in rows if r["system"] == "Ember (best)"), None)
            for r in rows:
                tr = f"{r['train']:.2f}"
                if r["train_wall"] is not None:
                    tr += f" (wall {r['train_wall']:.2f})"
                if r["system"].startswith("Ember"):
                    ratio = "–"
                else:
                    ratio = " / ".join(f"{e / r['train']:.3f} ({r['train'] / e:.1f}×)" if e else "–"
                                       for e in (ref, best))
                lps = f"{r['lps']:,.0f}" + (f" ({r['note']})" if r["note"] else "")
                out.append(f"| {r['system']} | {NAMES[ds]} | `{r['settings']}` | {r['runs']} | "
                           f"{pct(r['acc'])} | {pct(r['f1'])} | {tr} | {lps} | "
                           f"{size(r['size'])} | {ratio} |")
        return "\n".join(out)

    def tuning_table(self):
        out = []
        for ds, res in self.tuning.items():
            r0 = res[0]
            out.append(f"\n{NAMES[ds]}: stratified {K_FOLDS}-fold cross-validation on train "
                       f"(fold train parts {min(r0['n_fold'])}-{max(r0['n_fold'])} examples, "
                       f"held-out parts {min(r0['n_val'])}-{max(r0['n_val'])}); accuracy on "
                       f"the held-out part after the last epoch, per fold 0-4 and their mean; "
                       f"train s = median over the folds of the fold's train_seconds, and of "
                       f"it scaled to the full train set:\n")
            out.append("| settings | mean CV acc % | per fold % | fold train s | full train ~s "
                       "| chosen |")
            out.append("|---|---|---|---|---|---|")
            for r in res:
                out.append(f"| `{settings_text(r['cfg'])}` | {100 * r['cv']:.2f} | "
                           f"{' / '.join('%.2f' % (100 * v) for v in r['folds'])} | "
                           f"{r['train']:.2f} | {r['proj']:.1f}{'' if r['ok'] else ' (too slow)'} | "
                           f"{'**yes**' if r.get('chosen') else ''} |")
        return "\n".join(out)

    def report(self):
        rev = subprocess.run(["git", "-C", os.path.join(HERE, "..", ".."), "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", os.path.join(HERE, "..", ".."), "status",
                                "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        cpu = {}
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                cpu.setdefault(k.strip(), v.strip())
        ncpu = os.cpu_count()
        flags = cpu.get("flags", "").split()
        isa = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "no AVX2")
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        ver = subprocess.run([self.ember, "--version"], capture_output=True, text=True).stdout.strip()
        lines = [f"## bench/text: Ember vs fastText vs PyTorch on Banking77 and SpamAssassin",
                 "",
                 f"### {when}, HEAD {rev}{' (working tree dirty)' if dirty else ''}",
                 "",
                 f"- **Machine:** {ncpu} vCPU, \"{cpu.get('model name', '?')}\", cpu family "
                 f"{cpu.get('cpu family', '?')} model {cpu.get('model', '?')}, {isa}; "
                 f"{platform.platform()}; load average at the end "
                 f"{open('/proc/loadavg').read().split()[0]}.",
                 f"- **Software:** {ver}; {self.a.versions}",
                 f"- **Threads 2** for everyone; `ember predict`/`test` have no --threads and use "
                 f"all cores ({ncpu}).",
                 "- **Train s:** Ember = the fit (`train_seconds`; whole process in brackets); "
                 "fastText = the whole process; PyTorch = the 10 epochs in-process. "
                 "**Predict lines/s:** test texts repeated to ≥ 200k lines (Banking77) / ≥ 2 s "
                 "(SpamAssassin, one message per line), lines ÷ wall time of the process, "
                 "model load included (PyTorch: in-process, model loaded). "
                 "**Runs:** a configuration whose first run took < 30 s ran 3 times; times are "
                 "medians, accuracies median (min–max). **Ratio** column: Ember's median train s "
                 "(reference row / best row) ÷ this row's; below 0.1 = Ember ≥ 10× faster.",
                 "",
                 self.table(),
                 ""]
        for ds in self.a.sets:
            rows = {r["system"]: r for r in self.rows if r["ds"] == ds}
            ref = rows.get("Ember (reference)")
            ft = rows.get("fastText (tuned_b200k)")
            if not ref:
                continue
            msg = (f"{NAMES[ds]}: Ember reference fit {ref['train']:.2f} s vs BASELINES.md's "
                   f"PyTorch {BASELINE_TORCH_S[ds]:.2f} s (other machine): ratio "
                   f"{ref['train'] / BASELINE_TORCH_S[ds]:.3f} "
                   f"({BASELINE_TORCH_S[ds] / ref['train']:.1f}× faster)")
            if ft:
                f = ft["train"] / BASELINE_FT_TUNED_S[ds]
                msg += (f"; this machine ran fastText tuned_b200k {f:.2f}× as long as BASELINES.md "
                        f"({ft['train']:.2f} vs {BASELINE_FT_TUNED_S[ds]:.2f} s), so scaled by that "
                        f"the ratio would be {ref['train'] / f / BASELINE_TORCH_S[ds]:.3f}")
            lines.append(msg + ".")
        lines.append("")
        for ds, (curve, secs) in self.curves.items():
            lines.append(f"Ember reference on {NAMES[ds]}, the brief's command with "
                         f"`--valid` = the test set: test accuracy after each epoch "
                         f"{', '.join('%.1f' % (100 * c) for c in curve)}; train_seconds "
                         f"{secs:.2f} (includes the per-epoch test evaluation).")
        if self.tuning:
            lines.append("\n#### Ember \"best settings\": configurations tried")
            lines.append(self.tuning_table())
        return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ember", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sets", default="banking77,spam")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-fasttext", action="store_true")
    ap.add_argument("--no-tune", action="store_true", help="skip the Ember best-settings search")
    ap.add_argument("--versions", default="")
    a = ap.parse_args()
    a.sets = a.sets.split(",")
    b = Bench(a)
    t0 = time.perf_counter()
    for ds in a.sets:
        b.ember_reference(ds)
        if not a.no_tune:
            cfg = b.ember_tune(ds)
            log(f"[{ds}] Ember best settings: {settings_text(cfg)}")
            b.ember_row(ds, "best", cfg, "")
        if not a.no_fasttext:
            b.fasttext_rows(ds)
        if not a.no_torch:
            b.torch_row(ds)
    rep = b.report()
    rep += f"\nWhole benchmark: {time.perf_counter() - t0:.0f} s.\n"
    with open(os.path.join(a.out, "text_bench.md"), "w") as f:
        f.write(rep)
    with open(os.path.join(a.out, "text_bench.json"), "w") as f:
        json.dump({"rows": b.rows, "tuning": b.tuning, "curves": b.curves}, f, indent=1)
    print(rep)


if __name__ == "__main__":
    main()
