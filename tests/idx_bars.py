#!/usr/bin/env python3
"""idx_bars.py DIR N SEED - a small image data set for the script tests:
N grey 12x12 images in IDX files DIR/img-images-idx3-ubyte and
DIR/img-labels-idx1-ubyte, 4 classes; noise in 0..59 plus a bright bar
(200..255) whose row, 2c + 1, gives the class c. Python's random with SEED,
so the files are the same on every run."""
import random, struct, sys

d, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(seed)
h, w = 12, 12
labels = [random.randrange(4) for _ in range(n)]
img = bytearray()
for c in labels:
    px = [random.randrange(60) for _ in range(h * w)]
    for k in range(w):  # a bright bar whose row depends on the class
        px[(2 * c + 1) * w + k] = 200 + random.randrange(56)
    img += bytes(px)
with open(f"{d}/img-images-idx3-ubyte", "wb") as f:
    f.write(struct.pack(">IIII", 0x0803, n, h, w) + bytes(img))
with open(f"{d}/img-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">II", 0x0801, n) + bytes(labels))
