"""tests/png_colours.py PNG [RRGGBB...] - decode a screenshot (8-bit RGB or
RGBA, not interlaced; zlib only, no PIL) and print one line:
"WxH, N colours, c1 c2 ..." where ci counts the pixels within 2 of each
colour given (hex). The browser tests use it to tell a painted page from a
blank one. Exit status 1 if the file is not such a PNG."""
import struct, sys, zlib
from collections import Counter
from itertools import accumulate


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        sys.exit(f"unexpected PNG format: depth {depth}, colour type {ctype}, interlace {interlace}")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    # Undo the row filters: Up and Sub as whole-row maps, Average and Paeth
    # byte by byte.
    prev = bytes(stride)
    counts = Counter()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for c in range(bpp):
                line[c::bpp] = bytes(accumulate(line[c::bpp], lambda a, b: (a + b) & 255))
        elif f == 2:
            line = bytearray(map(lambda a, b: (a + b) & 255, line, prev))
        elif f in (3, 4):
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                if f == 3:
                    line[i] = (line[i] + (a + b) // 2) & 255
                    continue
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif f != 0:
            sys.exit(f"row {y}: unknown PNG filter {f}")
        counts.update(zip(line[0::bpp], line[1::bpp], line[2::bpp]))
        prev = bytes(line)
    return w, h, counts


if __name__ == "__main__":
    w, h, counts = decode(sys.argv[1])
    out = []
    for hexc in sys.argv[2:]:
        want = tuple(int(hexc[i:i + 2], 16) for i in (0, 2, 4))
        out.append(str(sum(n for px, n in counts.items()
                           if all(abs(u - v) <= 2 for u, v in zip(px, want)))))
    print(f"{w}x{h}, {len(counts)} colours, " + " ".join(out))
