# The 50k/10k split of the --augment-flip study: first 50,000 Fashion-MNIST training
# images -> /tmp/flip_split/train, last 10,000 -> /tmp/flip_split/valid (IDX, gzip).
import gzip, struct
src = "/usr/share/datasets/fashion-mnist/"
def read(name):
    with gzip.open(src + name, "rb") as f:
        return f.read()
img = read("train-images-idx3-ubyte.gz"); lab = read("train-labels-idx1-ubyte.gz")
magic, n, r, c = struct.unpack(">IIII", img[:16]); assert magic == 2051 and n == 60000
lm, ln = struct.unpack(">II", lab[:8]); assert lm == 2049 and ln == 60000
px = img[16:]; lb = lab[8:]; D = r * c
def write(d, a, b):
    cnt = b - a
    with gzip.open(f"/tmp/flip_split/{d}/{d}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, cnt, r, c) + px[a*D:b*D])
    with gzip.open(f"/tmp/flip_split/{d}/{d}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, cnt) + lb[a:b])
write("train", 0, 50000); write("valid", 50000, 60000)
