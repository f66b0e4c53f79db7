#!/usr/bin/python3
"""prep.py - build the Banking77 and SpamAssassin benchmark data (called by prepare.sh).

Usage: prep.py OUT_DIR BANKING77_DIR SPAM_DATA_DIR

Writes, under OUT_DIR:
  banking77/{train,test}.csv            the given CSV files, unchanged (Ember reads them)
  banking77/cv/fold{0..4}/{train,valid}.csv
                                        the 5 cross-validation folds of train (tuning only;
                                        header text,category, rows in train.csv's order)
  spam/{train,test}/{ham,spam}/GROUP__NAME.txt
                                        raw messages (headers included), decoded as UTF-8
                                        with errors replaced, one file each (Ember reads folders)
  spam/cv/fold{0..4}/{train,valid}/{ham,spam}/GROUP__NAME.txt
                                        the 5 cross-validation folds of train (tuning only):
                                        relative symlinks to spam/train/LABEL/GROUP__NAME.txt
  */cv/folds.tsv                        "fold<TAB>label<TAB>key" for every train example
                                        (key: Banking77 the 0-based row of train.csv,
                                        SpamAssassin GROUP/NAME)
  */{train,test}.ft                     "__label__L cleaned text" lines (fastText)
  */{train,test}.tsv                    "label<TAB>cleaned text" lines (torch_ref.py)
  */test.raw.txt                        raw test texts, one per line, line breaks -> spaces
                                        (input of `ember predict`)
  */test.clean.txt                      cleaned test texts, one per line (input of
                                        `fasttext predict`)
Cleaning (fastText and PyTorch only; Ember cleans with its own pipeline): lowercase, each
run of characters outside [a-z0-9] -> one space, strip. That is BASELINES.md's cleaning.

SpamAssassin split (BASELINES.md): within each class, sort the messages by
md5("group/filename") and take the first round(20 %) as test -> 4,837 / 1,209.
Cross-validation folds (tuning only; built from the train set alone, the test set is never
read for them): K = 5, stratified by label. Within each class the train examples are
sorted by md5 of a key that is unique per example - Banking77 "cv/ROW/TEXT" (ROW = 0-based
data row of train.csv, so duplicate texts stay distinct), SpamAssassin "cv/GROUP/NAME" -
ties broken by the key itself. The classes, in sorted label order, are concatenated in
that order and dealt round-robin: the example at position p (0-based) goes to fold p % 5.
So within every class the fold sizes differ by at most one, and so do the fold totals; the
assignment is deterministic, independent of file order and of Python's hash seed.
Fold k's valid part is fold k; its train part is the other four.
(This replaces the earlier single 90/10 split train90/valid10, which is no longer written.)
Not done: any deduplication (25 Banking77 test sentences occur in train, as the baselines
left them).
"""
import csv
import glob
import hashlib
import os
import re
import shutil
import sys

NON_ALNUM = re.compile(r"[^a-z0-9]+")
SPAM_GROUPS = {"easy-ham-1": "ham", "easy-ham-2": "ham", "hard-ham-1": "ham",
               "spam-1": "spam", "spam-2": "spam"}
TEST_FRACTION = 0.2  # BASELINES.md: first 20 % of each class (by md5) is test
K_FOLDS = 5          # stratified cross-validation folds of train, for choosing settings


def clean(s):
    return NON_ALNUM.sub(" ", s.lower()).strip()


def one_line(s):
    """A text as one line: every run of line breaks / tabs / other controls -> one space."""
    return re.sub(r"[\r\n\t\x00-\x1f\x7f\u2028\u2029\x85]+", " ", s).strip()


def md5_int(s):
    return int(hashlib.md5(s.encode("utf-8")).hexdigest(), 16)


def assign_folds(items):
    """items: (label, unique key) per train example. Returns the fold (0..K_FOLDS-1) of each:
    labels in sorted order, within each label the examples sorted by (md5(key), key); that
    sequence is dealt round-robin, position p -> fold p % K_FOLDS."""
    keys = [k for _, k in items]
    if len(set(keys)) != len(keys):
        sys.exit("prep.py: fold keys are not unique")
    fold = [None] * len(items)
    p = 0
    for lab in sorted(set(l for l, _ in items)):
        idx = sorted((i for i, (l, _) in enumerate(items) if l == lab),
                     key=lambda i: (md5_int(keys[i]), keys[i]))
        for i in idx:
            fold[i] = p % K_FOLDS
            p += 1
    return fold


def write_folds(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("fold\tlabel\tkey\n")
        for fo, lab, key in rows:
            f.write(f"{fo}\t{lab}\t{key}\n")


def write_ft(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for lab, txt in rows:
            f.write(f"__label__{lab} {clean(txt)}\n")


def write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for lab, txt in rows:
            f.write(f"{lab}\t{clean(txt)}\n")


def write_lines(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(t + "\n")


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "category"])
        for lab, txt in rows:
            w.writerow([txt, lab])


def banking77(out, src):
    d = os.path.join(out, "banking77")
    os.makedirs(d, exist_ok=True)
    sets = {}
    for part in ("train", "test"):
        path = os.path.join(src, f"{part}.csv")
        with open(path, encoding="utf-8", newline="") as f:
            sets[part] = [(r["category"], r["text"]) for r in csv.DictReader(f)]
        shutil.copyfile(path, os.path.join(d, f"{part}.csv"))
    tr = sets["train"]
    fold = assign_folds([(lab, f"cv/{i}/{txt}") for i, (lab, txt) in enumerate(tr)])
    for k in range(K_FOLDS):
        fd = os.path.join(d, "cv", f"fold{k}")
        os.makedirs(fd, exist_ok=True)
        write_csv(os.path.join(fd, "train.csv"), [r for r, f in zip(tr, fold) if f != k])
        write_csv(os.path.join(fd, "valid.csv"), [r for r, f in zip(tr, fold) if f == k])
    write_folds(os.path.join(d, "cv", "folds.tsv"),
                [(f, lab, str(i)) for i, ((lab, _), f) in enumerate(zip(tr, fold))])
    for part, rows in sets.items():
        write_ft(os.path.join(d, f"{part}.ft"), rows)
    for part in ("train", "test"):
        write_tsv(os.path.join(d, f"{part}.tsv"), sets[part])
    write_lines(os.path.join(d, "test.raw.txt"), [one_line(t) for _, t in sets["test"]])
    write_lines(os.path.join(d, "test.clean.txt"), [clean(t) for _, t in sets["test"]])
    print(f"banking77: train {len(tr)} test {len(sets['test'])} "
          f"classes {len(set(l for l, _ in tr))}; {K_FOLDS}-fold CV valid sizes "
          f"{[fold.count(k) for k in range(K_FOLDS)]}")
    return len(tr), len(sets["test"])


def spam(out, src):
    d = os.path.join(out, "spam")
    bylab = {"ham": [], "spam": []}
    for g, lab in SPAM_GROUPS.items():
        files = sorted(glob.glob(os.path.join(src, g, "*.txt")))
        if not files:
            sys.exit(f"prep.py: no .txt files in {os.path.join(src, g)}")
        for p in files:
            key = f"{g}/{os.path.basename(p)}"
            with open(p, "rb") as f:
                txt = f.read().decode("utf-8", errors="replace")
            bylab[lab].append((md5_int(key), key, txt))
    sets = {"train": [], "test": []}
    for lab, items in bylab.items():
        items.sort()
        nt = round(TEST_FRACTION * len(items))
        for i, (_, key, txt) in enumerate(items):
            part = "test" if i < nt else "train"
            sets[part].append((lab, key, txt))
    for part, rows in sets.items():
        for lab in bylab:
            os.makedirs(os.path.join(d, part, lab), exist_ok=True)
        for lab, key, txt in rows:
            name = key.replace("/", "__")
            # newline="" keeps the message's own line breaks byte for byte
            with open(os.path.join(d, part, lab, name), "w", encoding="utf-8", newline="") as f:
                f.write(txt)
        write_ft(os.path.join(d, f"{part}.ft"), [(l, t) for l, _, t in rows])
    tr = sets["train"]
    fold = assign_folds([(lab, "cv/" + key) for lab, key, _ in tr])
    for k in range(K_FOLDS):
        for part in ("train", "valid"):
            for lab in bylab:
                os.makedirs(os.path.join(d, "cv", f"fold{k}", part, lab), exist_ok=True)
        for (lab, key, _), f in zip(tr, fold):
            name = key.replace("/", "__")
            link = os.path.join(d, "cv", f"fold{k}", "valid" if f == k else "train", lab, name)
            target = os.path.join(d, "train", lab, name)
            os.symlink(os.path.relpath(target, os.path.dirname(link)), link)
    write_folds(os.path.join(d, "cv", "folds.tsv"),
                [(f, lab, key) for (lab, key, _), f in zip(tr, fold)])
    for part in ("train", "test"):
        write_tsv(os.path.join(d, f"{part}.tsv"), [(l, t) for l, _, t in sets[part]])
    write_lines(os.path.join(d, "test.raw.txt"), [one_line(t) for _, _, t in sets["test"]])
    write_lines(os.path.join(d, "test.clean.txt"), [clean(t) for _, _, t in sets["test"]])
    n = {k: len(v) for k, v in sets.items()}
    print(f"spam: ham {len(bylab['ham'])} spam {len(bylab['spam'])} -> train {n['train']} "
          f"test {n['test']}; {K_FOLDS}-fold CV valid sizes "
          f"{[fold.count(k) for k in range(K_FOLDS)]}")
    return n["train"], n["test"]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    out, b77, spam_src = sys.argv[1:]
    ntr, nte = banking77(out, b77)
    if (ntr, nte) != (10003, 3080):
        sys.exit(f"prep.py: Banking77 has {ntr}/{nte} rows, expected 10003/3080")
    ntr, nte = spam(out, spam_src)
    if (ntr, nte) != (4837, 1209):
        sys.exit(f"prep.py: SpamAssassin split is {ntr}/{nte}, expected 4837/1209")


if __name__ == "__main__":
    main()
