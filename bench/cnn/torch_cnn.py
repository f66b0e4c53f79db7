#!/usr/bin/python3
"""torch_cnn.py - the Fashion-MNIST CNN of the issue in PyTorch on the CPU (the
reference for `ember train --arch cnn`). Run with Debian's /usr/bin/python3
(python3-torch 1.13, python3-numpy); no torchvision, no sklearn.

Model: Conv2d(1,32,3) ReLU, MaxPool2d(2), Conv2d(32,64,3) ReLU, MaxPool2d(2),
Flatten (NCHW order), Linear(1600,128) ReLU, Linear(128,10); 225,034 parameters
(asserted). Adam(lr=1e-3, other arguments PyTorch defaults), CrossEntropyLoss
(softmax + NLL), batch 64, training set reshuffled every epoch (torch.Generator
seeded with seed*1000+epoch), inputs uint8/255 in [0, 1], PyTorch default init
after torch.manual_seed(seed).

Threads (the method of shared/datasets/BASELINES.md): torch.set_num_threads(T)
governs ATen and oneDNN (the convolutions); Debian's PyTorch sends Linear/mm to
OpenBLAS (pthreads build), whose pool size comes from OPENBLAS_NUM_THREADS, read
when the library loads. So OPENBLAS_NUM_THREADS defaults to T and
OPENBLAS_CORETYPE to Haswell (as for every BASELINES run) here, before torch is
imported; values already in the environment are kept (--openblas-threads N
overrides). Both are printed. On a busy 2-vCPU machine OpenBLAS's 2 pthreads
(which spin after each call) and ATen's 2 OpenMP threads compete for the cores;
compare --openblas-threads 1 (see README.md).

What is timed ("seconds", time.perf_counter): the training loop of one epoch
only, i.e. for every batch the gather of its 64 images/labels from the
pre-loaded float tensors (xtr[idx]), forward, loss, backward, Adam step and
loss.item(). Not timed: reading/decoding the IDX files, the shuffle
permutation, and the test-set evaluation after each epoch ("eval_seconds",
reported separately: forward over the 10,000 test images in batches of 1000).

Output: one JSON line per epoch
  {"epoch":i,"seconds":..,"loss":..,"test_accuracy":..,"test_macro_f1":..,"eval_seconds":..}
then one summary line {"summary":true,"median_epoch_seconds":..,"final_test_accuracy":..,...}.

usage: torch_cnn.py [--epochs 10] [--seed 0] [--threads 2] [--openblas-threads N]
                    [--data DIR] [--batch-size 64]
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import time

DATA = "/usr/share/datasets/fashion-mnist"

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--epochs", type=int, default=10)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch-size", type=int, default=64)
ap.add_argument("--data", default=DATA, help="folder with the four *-ubyte.gz IDX files")
ap.add_argument("--openblas-threads", type=int, default=None,
                help="OPENBLAS_NUM_THREADS for Linear/mm (default: the environment's, else --threads)")
args = ap.parse_args()

# Must happen before torch (and with it OpenBLAS) is loaded.
if args.openblas_threads is not None:
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.openblas_threads)
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def read_idx(path):
    """IDX (gzip'ed or not) -> numpy uint8 array of the stored shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    ndim = buf[3]
    dims = [int.from_bytes(buf[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    n = int(np.prod(dims))
    if len(buf) - off != n:
        sys.exit(f"{path}: {len(buf) - off} data bytes, header says {n}")
    return np.frombuffer(buf, dtype=np.uint8, offset=off).reshape(dims)


def load(split):
    x = read_idx(f"{args.data}/{split}-images-idx3-ubyte.gz")
    y = read_idx(f"{args.data}/{split}-labels-idx1-ubyte.gz")
    assert x.ndim == 3 and x.shape[1:] == (28, 28) and y.shape == (x.shape[0],), (x.shape, y.shape)
    return x, y


def macro_f1(y_true, y_pred, classes):
    """Unweighted mean over classes of F1 (sklearn's average="macro", 0 for empty classes)."""
    cm = np.bincount(y_true * classes + y_pred, minlength=classes * classes).reshape(classes, classes)
    tp = np.diag(cm).astype(np.float64)
    pred_n = cm.sum(0).astype(np.float64)
    true_n = cm.sum(1).astype(np.float64)
    denom = pred_n + true_n
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean())


torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)

x_train, y_train = load("train")
x_test, y_test = load("t10k")
# float32 in [0, 1], NCHW
xtr = torch.from_numpy(x_train.astype(np.float32) / 255.0).unsqueeze(1).contiguous()
ytr = torch.from_numpy(y_train.astype(np.int64))
xte = torch.from_numpy(x_test.astype(np.float32) / 255.0).unsqueeze(1).contiguous()
yte = y_test.astype(np.int64)
classes = 10

model = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(1600, 128), nn.ReLU(),
    nn.Linear(128, classes))
n_params = sum(p.numel() for p in model.parameters())
assert n_params == 225034, n_params
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
lossf = nn.CrossEntropyLoss()

print(json.dumps({"info": True, "torch": torch.__version__, "numpy": np.__version__,
                  "threads": args.threads, "torch_num_threads": torch.get_num_threads(),
                  "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                  "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                  "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
                  "params": n_params, "train": int(len(xtr)), "test": int(len(xte)),
                  "batch_size": args.batch_size, "epochs": args.epochs, "seed": args.seed}),
      flush=True)


def evaluate():
    model.eval()
    t = time.perf_counter()
    with torch.no_grad():
        pred = torch.cat([model(xte[i:i + 1000]).argmax(1) for i in range(0, len(xte), 1000)]).numpy()
    t = time.perf_counter() - t
    model.train()
    return float((pred == yte).mean()), macro_f1(yte, pred, classes), t


n, bs = len(xtr), args.batch_size
ep_seconds = []
acc = f1 = 0.0
for ep in range(1, args.epochs + 1):
    g = torch.Generator().manual_seed(args.seed * 1000 + ep)
    perm = torch.randperm(n, generator=g)
    loss_sum = 0.0
    t0 = time.perf_counter()
    for i in range(0, n, bs):
        idx = perm[i:i + bs]
        xb, yb = xtr[idx], ytr[idx]
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(idx)
    sec = time.perf_counter() - t0
    ep_seconds.append(sec)
    acc, f1, eval_s = evaluate()
    print(json.dumps({"epoch": ep, "seconds": round(sec, 4), "loss": round(loss_sum / n, 6),
                      "test_accuracy": round(acc, 6), "test_macro_f1": round(f1, 6),
                      "eval_seconds": round(eval_s, 4)}), flush=True)

print(json.dumps({"summary": True, "system": f"PyTorch {torch.__version__}", "epochs": args.epochs,
                  "threads": args.threads, "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
                  "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "params": n_params,
                  "median_epoch_seconds": round(statistics.median(ep_seconds), 4),
                  "min_epoch_seconds": round(min(ep_seconds), 4),
                  "max_epoch_seconds": round(max(ep_seconds), 4),
                  "total_train_seconds": round(sum(ep_seconds), 3),
                  "epoch_seconds": [round(s, 4) for s in ep_seconds],
                  "final_test_accuracy": round(acc, 6), "final_test_macro_f1": round(f1, 6)}),
      flush=True)
