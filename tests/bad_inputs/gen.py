#!/usr/bin/env python3
"""gen.py - the bytes of the bad-input corpus (tests/bad_inputs), written out.

    gen.py static DIR          the committed corpus files (run it after editing
                               a case here, from tests/bad_inputs: ./gen.py static .)
    gen.py runtime DIR         files made at test time: lines of 65 MiB (gzip, so
                               they cost a few hundred KB), empty folders (git
                               cannot hold them), and the good data the fixture
                               models are trained on
    gen.py models DIR MODEL    model files derived from a trained text model,
                               each with one thing wrong and every checksum that
                               would catch something else recomputed

run.sh checks that `gen.py static` reproduces the committed files byte for
byte, so this script is the documentation of every binary case. Python 3
standard library only.
"""
import gzip
import hashlib
import json
import os
import struct
import sys
import zlib

# One text or CSV field may hold 64 MiB (TEXT_MAX_EXAMPLE_BYTES in
# src/data/byte_reader.h); the long lines are 1 MiB over it.
LONG_LINE_BYTES = (64 << 20) + (1 << 20)


def put(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)


# ------------------------------------------------------------------ images

def png(width, height, rows=None, cut=None, ihdr_only=False):
    """An 8-bit greyscale PNG; rows of pixel bytes (default a gradient)."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if ihdr_only:
        return out
    if rows is None:
        rows = [bytes((x * 40 + y * 10) % 256 for x in range(width)) for y in range(height)]
    raw = b"".join(b"\x00" + r for r in rows)
    out += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return out[:cut] if cut else out


def bmp24(width, height, pixel_bytes):
    """A 24-bit BMP header for width x height, followed by pixel_bytes bytes."""
    row = (width * 3 + 3) // 4 * 4
    size = 54 + row * height
    head = b"BM" + struct.pack("<IHHI", size, 0, 0, 54)
    head += struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, row * height, 2835, 2835, 0, 0)
    return head + b"\x10" * pixel_bytes


# --------------------------------------------------------------------- IDX

def idx(type_code, dims, data=b"", magic01=b"\x00\x00"):
    return magic01 + bytes([type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def noise(n, seed=b"ember"):
    """n bytes that do not compress (a SHA-256 chain), so a gzip stream cut in
    half really is cut inside the compressed data."""
    out, h = b"", seed
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return out[:n]


# ----------------------------------------------------------- safetensors

def safetensors(header, data=b"", length=None):
    text = json.dumps(header, separators=(",", ":")).encode() if not isinstance(header, bytes) else header
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


def static_files():
    """Every committed corpus file: relative path -> bytes."""
    f = {}
    good_csv = "text,label\nmy card was stolen,card\nsend money to my account,transfer\n"
    # ---- CSV / TSV
    f["csv/empty.csv"] = b""
    f["csv/blank_first_line.csv"] = "\ntext,label\nhello,card\n"
    f["csv/header_only.csv"] = "text,label\n"
    f["csv/header_invalid_utf8.csv"] = b"te\xffxt,label\nhello,card\nsend it,transfer\n"
    f["csv/invalid_utf8.csv"] = (good_csv.encode() + b"caf\xff au lait,card\nrefund me,refund\n")
    f["csv/overlong_utf8.csv"] = (good_csv.encode() + b"slash \xc0\xaf here,card\nrefund me,refund\n")
    f["csv/surrogate_utf8.csv"] = (good_csv.encode() + b"half \xed\xa0\x80 pair,card\nrefund me,refund\n")
    f["csv/nul_byte.csv"] = (good_csv.encode() + b"refund me,ref\x00und\nrefund it,refund\n")
    f["csv/label_no_text.csv"] = good_csv + ",card\n   ,refund\nrefund me,refund\n"
    f["csv/empty_label.csv"] = good_csv + "a text without a label,\nrefund me,refund\n"
    f["csv/field_count.csv"] = good_csv + "one,two,card\nrefund me,refund\n"
    f["csv/unbalanced_quote.csv"] = good_csv + '"this quote never closes,card\nrefund me,refund\n'
    f["csv/quote_in_unquoted.csv"] = good_csv + 'he said "hi",card\nrefund me,refund\n'
    f["csv/text_after_quote.csv"] = good_csv + '"quoted" then more,card\nrefund me,refund\n'
    f["csv/lone_cr.csv"] = good_csv + "old mac\rline end,card\nrefund me,refund\n"
    f["csv/blank_line_between_rows.csv"] = good_csv + "\n\nrefund me,refund\n"
    f["csv/no_such_column.csv"] = good_csv
    f["csv/ambiguous_column.csv"] = "text,text,label\na,b,card\nc,d,transfer\n"
    f["csv/all_rows_bad.csv"] = "text,label\n,card\nno label,\n"
    rows = "".join(f"refund {noise(8, bytes([i])).hex()},refund\n" for i in range(200))
    whole = gz((good_csv + rows).encode())
    f["csv/truncated.csv.gz"] = whole[:len(whole) // 2]
    f["csv/unknown_label.csv"] = "text,label\nmy card was stolen,card\nwire the money,wire\nrefund it,refund\n"
    f["tsv/field_count.tsv"] = "text\tlabel\nmy card\tcard\nsend\tmoney\ttransfer\nrefund me\trefund\n"
    f["tsv/invalid_utf8.tsv"] = b"text\tlabel\nmy card\tcard\nsend \xfe money\ttransfer\nrefund me\trefund\n"
    # ---- fastText
    ft = "__label__card my card was stolen\n__label__transfer send money to my account\n"
    f["fasttext/empty.txt"] = b""
    f["fasttext/only_blank_lines.txt"] = "\n\n  \n"
    f["fasttext/not_fasttext.txt"] = "my card was stolen card\nsend money transfer\n"
    f["fasttext/no_label.txt"] = ft + "refund me please\n__label__refund refund me\n"
    f["fasttext/label_no_text.txt"] = ft + "__label__refund   \n__label__refund refund me\n"
    f["fasttext/bare_label.txt"] = ft + "__label__ refund me\n__label__refund refund me\n"
    f["fasttext/invalid_utf8.txt"] = ft.encode() + b"__label__refund caf\xc3( refund\n__label__refund refund me\n"
    f["fasttext/nul_byte.txt"] = ft.encode() + b"__label__refund refund\x00me\n__label__refund refund me\n"
    rows = "".join(f"__label__refund refund {noise(8, bytes([i])).hex()}\n" for i in range(200))
    whole = gz((ft + rows).encode())
    f["fasttext/truncated.txt.gz"] = whole[:len(whole) // 2]
    f["fasttext/unknown_label.txt"] = "__label__card my card was stolen\n\n__label__wire wire the money\n"
    # ---- folder per class (text)
    f["folder/empty_file/card/1.txt"] = "my card was stolen"
    f["folder/empty_file/card/2.txt"] = b""
    f["folder/empty_file/transfer/1.txt"] = "send money to my account"
    f["folder/whitespace_only/card/1.txt"] = "my card was stolen"
    f["folder/whitespace_only/transfer/1.txt"] = " \n\t\n"
    f["folder/whitespace_only/transfer/2.txt"] = "send money to my account"
    f["folder/invalid_utf8/card/1.txt"] = "my card was stolen"
    f["folder/invalid_utf8/transfer/1.txt"] = b"first line\nsend \xe2\x82 money\n"
    f["folder/invalid_utf8/transfer/2.txt"] = "send money to my account"
    f["folder/nul_byte/card/1.txt"] = b"my card\x00was stolen"
    f["folder/nul_byte/card/2.txt"] = "lost my card"
    f["folder/nul_byte/transfer/1.txt"] = "send money to my account"
    f["folder/no_class_folders/loose.txt"] = "a file outside any class folder"
    # ---- IDX (4x4 u8 images, as the fixture model takes)
    img2 = bytes(range(32))
    f["idx/empty-images-idx3-ubyte"] = b""
    f["idx/bad_magic-images-idx3-ubyte"] = idx(8, [2, 4, 4], img2, magic01=b"\x08\x03")
    f["idx/bad_type-images-idx3-ubyte"] = idx(7, [2, 4, 4], img2)
    f["idx/no_dims-images-idx3-ubyte"] = idx(8, [])
    f["idx/header_cut-images-idx3-ubyte"] = idx(8, [2, 4, 4])[:10]
    f["idx/zero_dim-images-idx3-ubyte"] = idx(8, [0, 4, 4])
    f["idx/claims_2e40-images-idx3-ubyte"] = idx(8, [65536, 4096, 4096], img2)
    f["idx/dims_overflow-images-idx3-ubyte"] = idx(8, [0xFFFFFFFF] * 4, img2)
    f["idx/short_data-images-idx3-ubyte"] = idx(8, [10, 4, 4], img2)
    f["idx/trailing_bytes-images-idx3-ubyte"] = idx(8, [2, 4, 4], img2 + b"extra")
    whole = gz(idx(8, [60, 4, 4], noise(960)))
    f["idx/truncated-images-idx3-ubyte.gz"] = whole[:len(whole) // 2]
    f["idx/gz_short_data-images-idx3-ubyte.gz"] = gz(idx(8, [100000, 4, 4], img2))
    f["idx/f64_too_big-images-idx3-ubyte"] = idx(0x0E, [1, 2, 2], struct.pack(">4d", 1e300, 0, 0, 0))
    f["idx/count_mismatch-labels-idx1-ubyte"] = idx(8, [3], b"\x00\x01\x02")
    f["idx/out_of_range-labels-idx1-ubyte"] = idx(8, [60], bytes([i % 3 for i in range(41)] + [9] + [0] * 18))
    # ---- image folders: a bad file in class "a", a good one in class "b"
    good = png(4, 4)
    for case, bad_name, bad in [
        ("corrupt_png", "x.png", png(4, 4)[:33] + b"\x00\x00\x00\x10IDATgarbage-garbage\x00\x00\x00\x00" + png(4, 4)[-12:]),
        ("huge_png", "x.png", png(100000, 100000, ihdr_only=True) + b"\x00" * 64),
        ("truncated_png", "x.png", png(64, 64, rows=[bytes((x * y) % 251 for x in range(64)) for y in range(64)], cut=300)),
        ("empty_png", "x.png", b""),
        ("not_an_image", "x.png", b"this is a text file with a .png name\n"),
        ("huge_pgm", "x.pgm", b"P5\n100000 100000\n255\n" + b"\x00" * 64),
        ("truncated_bmp", "x.bmp", bmp24(64, 64, 100)),
    ]:
        f[f"image/{case}/a/{bad_name}"] = bad
        f[f"image/{case}/b/y.png"] = good
    f["image/size_mismatch/a/x.png"] = png(5, 3)
    f["image/size_mismatch/b/y.png"] = good
    # ---- model files (safetensors layout; *.safetensors is git-ignored, so .model)
    t = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    f["model/empty.model"] = b""
    f["model/too_short.model"] = b"\x05\x00\x00"
    f["model/header_len_2e40.model"] = struct.pack("<Q", 1 << 40) + b"{}"
    f["model/header_past_end.model"] = safetensors(b"{}", length=100)
    f["model/header_not_json.model"] = safetensors(b"{\"w\": [1, 2,}")
    f["model/header_nul_escape.model"] = safetensors(b'{"__metadata__":{"a\\u0000b":"x"}}')
    f["model/shape_2e40.model"] = safetensors(
        {"w": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 1 << 42]}})
    f["model/shape_2e90.model"] = safetensors(
        {"w": {"dtype": "F32", "shape": [1 << 30, 1 << 30, 1 << 30], "data_offsets": [0, 4]}}, b"\x00" * 4)
    f["model/dtype_f16.model"] = safetensors({"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}, b"\x00" * 4)
    f["model/not_ember.model"] = safetensors({"w": t, "__metadata__": {"format": "pt"}}, b"\x00" * 4)
    # ---- answers files of `ember serve` (intents of the fixture model: card, refund, transfer)
    f["answers/empty.json"] = b""
    f["answers/not_json.json"] = '{\n  "card": "We can block your card.",\n  "refund": \n}\n'
    f["answers/not_object.json"] = '["card", "refund"]\n'
    f["answers/invalid_utf8.json"] = b'{"card": "We can block your card \xff now."}\n'
    f["answers/nul_byte.json"] = b'{"card": "We can\x00 block your card."}\n'
    f["answers/unknown_intent.json"] = '{"card": "We can block your card.", "cards": "typo"}\n'
    f["answers/empty_reply.json"] = '{"card": ""}\n'
    f["answers/duplicate_intent.json"] = '{"card": "one", "card": "two"}\n'
    return f


def runtime_files():
    f = {}
    lines = []
    words = {"card": ["card", "lost", "stolen", "pin"], "transfer": ["transfer", "send", "money", "account"],
             "refund": ["refund", "return", "charge", "back"]}
    for i in range(60):
        lab = sorted(words)[i % 3]
        w = words[lab]
        lines.append(f"{w[i % 4]} my {w[(i + 1) % 4]} please,{lab}")
    f["fixtures/train.csv"] = "text,label\n" + "\n".join(lines) + "\n"
    # 4x4 IDX images, class c lights pixel 5c (as tests/cli/run.sh)
    labels = [i % 3 for i in range(60)]
    px = bytearray()
    for c in labels:
        p = [(7 * i + c) % 40 for i in range(16)]
        p[c * 5] = 255
        px += bytes(p)
    f["fixtures/train-images-idx3-ubyte"] = idx(8, [60, 4, 4], bytes(px))
    f["fixtures/train-labels-idx1-ubyte"] = idx(8, [60], bytes(labels))
    # lines of 65 MiB: the example cap plus 1 MiB
    long = b"a" * LONG_LINE_BYTES
    f["csv/long_line.csv.gz"] = gz(b"text,label\nmy card,card\n" + long + b",card\nsend money,transfer\n")
    f["fasttext/long_line.txt.gz"] = gz(b"__label__card my card\n__label__card " + long + b"\n__label__transfer send money\n")
    return f


# ------------------------------------------------------------ derived models

def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def write_st(path, header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def meta_hash(meta):
    """ember.meta_sha256 as src/model/serialize.c computes it: SHA-256 over
    every pair but the two checksums, sorted by key, each key NUL value NUL."""
    h = hashlib.sha256()
    for k in sorted(meta, key=lambda s: s.encode()):
        if k in ("ember.meta_sha256", "ember.sha256"):
            continue
        h.update(k.encode() + b"\0" + meta[k].encode() + b"\0")
    return h.hexdigest()


def derived_models(root, model):
    header, data = read_st(model)
    meta = header["__metadata__"]
    blob = open(model, "rb").read()
    put(root, "model/derived/truncated.model", blob[:-16])  # the end of the data is missing
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x40
    write_st(os.path.join(root, "model/derived/data_corrupt.model"), header, bytes(flipped))
    # a setting changed without fixing ember.meta_sha256
    h = json.loads(json.dumps(header))
    h["__metadata__"]["ember.epochs_done"] = "999"
    write_st(os.path.join(root, "model/derived/meta_tampered.model"), h, data)
    # the text pipeline broken, every checksum fixed: the pipeline's own check speaks
    h = json.loads(json.dumps(header))
    pj = json.loads(meta["text.pipeline"])
    pj["options"]["buckets"] = -5
    h["__metadata__"]["text.pipeline"] = json.dumps(pj, separators=(",", ":"))
    h["__metadata__"]["ember.meta_sha256"] = meta_hash(h["__metadata__"])
    write_st(os.path.join(root, "model/derived/bad_pipeline.model"), h, data)
    h = json.loads(json.dumps(header))
    h["__metadata__"]["text.pipeline"] = "{\"version\":1,"
    h["__metadata__"]["ember.meta_sha256"] = meta_hash(h["__metadata__"])
    write_st(os.path.join(root, "model/derived/pipeline_not_json.model"), h, data)
    # an architecture with a layer type Ember does not have
    h = json.loads(json.dumps(header))
    arch = json.loads(meta["ember.architecture"])
    arch["layers"][0]["type"] = "lstm"
    h["__metadata__"]["ember.architecture"] = json.dumps(arch, separators=(",", ":"))
    h["__metadata__"]["ember.meta_sha256"] = meta_hash(h["__metadata__"])
    write_st(os.path.join(root, "model/derived/unknown_layer.model"), h, data)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("static", "runtime", "models"):
        sys.exit(__doc__)
    mode, root = sys.argv[1], sys.argv[2]
    if mode == "models":
        derived_models(root, sys.argv[3])
        return
    files = static_files() if mode == "static" else runtime_files()
    for rel, data in files.items():
        put(root, rel, data)
    if mode == "runtime":
        for d in ("folder/empty_class/card", "folder/empty_class/transfer"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        put(root, "folder/empty_class/card/1.txt", "my card was stolen")


if __name__ == "__main__":
    main()
