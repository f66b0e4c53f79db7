#!/usr/bin/python3
"""torch_ref.py - the reference text model in PyTorch, as BASELINES.md describes it.

Usage: torch_ref.py TRAIN.tsv TEST.tsv --maxlen N [--seed S] [--out MODEL.pt]

Files are "label<TAB>cleaned text" lines (prep.py). Model: nn.Embedding(rows, 64) with
id 0 = padding and 1 = out-of-vocabulary, every train token in the vocabulary; masked mean
over the (first maxlen) tokens -> Linear(64, 128) ReLU -> Linear(128, classes); softmax
cross-entropy, Adam lr 1e-3 (dense gradients, as Keras), batch 32, shuffled, 10 epochs,
torch.set_num_threads(2).

Timed: the 10 training epochs, including building the padded batch tensors from the
token-id lists (not the tokenising, done once before). Predict throughput: cleaned test
lines -> ids -> padded batches of 256 -> forward -> argmax, repeated until >= 2 s,
model already in memory (no load; Ember's and fastText's figures include loading).
Prints one JSON object. Not done: early stopping, learning-rate schedules, GPU.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn

THREADS = 2          # the benchmark's thread count for every system
EMB_DIM, HIDDEN = 64, 128
EPOCHS, BATCH, LR = 10, 32, 1e-3
PREDICT_BATCH = 256
PREDICT_MIN_SECONDS = 2.0


def read_tsv(path):
    labels, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            lab, _, txt = line.rstrip("\n").partition("\t")
            labels.append(lab)
            texts.append(txt.split())
    return labels, texts


class BagModel(nn.Module):
    def __init__(self, rows, classes):
        super().__init__()
        self.emb = nn.Embedding(rows, EMB_DIM, padding_idx=0)
        self.fc1 = nn.Linear(EMB_DIM, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, classes)

    def forward(self, ids):  # ids [B, T], 0 = padding
        mask = (ids != 0).unsqueeze(-1).float()
        s = (self.emb(ids) * mask).sum(1)
        mean = s / mask.sum(1).clamp(min=1.0)
        return self.fc2(torch.relu(self.fc1(mean)))


def pad(seqs):
    T = max(1, max(len(s) for s in seqs))
    out = torch.zeros(len(seqs), T, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def macro_f1(y, p, k):
    try:
        from sklearn.metrics import f1_score
        return float(f1_score(y, p, average="macro"))
    except ImportError:  # the same definition: mean over classes of 2PR/(P+R), 0 if empty
        f1s = []
        for c in range(k):
            tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
            fp = sum(1 for a, b in zip(y, p) if a != c and b == c)
            fn = sum(1 for a, b in zip(y, p) if a == c and b != c)
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        return sum(f1s) / len(f1s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--maxlen", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(THREADS)
    torch.manual_seed(a.seed)

    ytr_s, xtr_t = read_tsv(a.train)
    yte_s, xte_t = read_tsv(a.test)
    classes = sorted(set(ytr_s))
    cid = {c: i for i, c in enumerate(classes)}
    vocab = {}
    for toks in xtr_t:
        for w in toks:
            if w not in vocab:
                vocab[w] = len(vocab) + 2  # 0 padding, 1 out-of-vocabulary

    def encode(toks):
        return [vocab.get(w, 1) for w in toks[:a.maxlen]]

    xtr = [encode(t) for t in xtr_t]
    ytr = torch.tensor([cid[c] for c in ytr_s])
    yte = [cid[c] for c in yte_s]
    model = BagModel(len(vocab) + 2, len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    lossf = nn.CrossEntropyLoss()
    n = len(xtr)
    epoch_s = []
    t_train = time.perf_counter()
    for _ in range(EPOCHS):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n).tolist()
        for b in range(0, n, BATCH):
            idx = order[b:b + BATCH]
            xb = pad([xtr[i] for i in idx])
            opt.zero_grad()
            loss = lossf(model(xb), ytr[idx])
            loss.backward()
            opt.step()
        epoch_s.append(time.perf_counter() - t0)
    train_s = time.perf_counter() - t_train

    def predict(token_lists):
        preds = []
        with torch.no_grad():
            for b in range(0, len(token_lists), PREDICT_BATCH):
                xb = pad([encode(t) for t in token_lists[b:b + PREDICT_BATCH]])
                preds.extend(model(xb).argmax(1).tolist())
        return preds

    model.eval()
    pred = predict(xte_t)
    acc = sum(1 for y, p in zip(yte, pred) if y == p) / len(yte)
    f1 = macro_f1(yte, pred, len(classes))

    # throughput from cleaned text lines (split + ids + pad + forward), model in memory
    raw_lines = [" ".join(t) for t in xte_t]
    lines, t0 = 0, time.perf_counter()
    while True:
        predict([s.split() for s in raw_lines])
        lines += len(raw_lines)
        el = time.perf_counter() - t0
        if el >= PREDICT_MIN_SECONDS:
            break

    out = a.out or f"/tmp/torch_ref_{os.getpid()}.pt"
    torch.save(model.state_dict(), out)
    size = os.path.getsize(out)
    if not a.out:
        os.remove(out)
    print(json.dumps({
        "accuracy": acc, "macro_f1": f1, "train_seconds": train_s, "epoch_seconds": epoch_s,
        "predict_lines_per_s": lines / el, "predict_lines": lines, "model_bytes": size,
        "params": sum(p.numel() for p in model.parameters()), "vocab": len(vocab),
        "classes": len(classes), "n_train": n, "n_test": len(yte), "maxlen": a.maxlen,
        "seed": a.seed, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    sys.exit(main())
