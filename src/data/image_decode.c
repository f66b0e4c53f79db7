/*
 * image_decode.c - one image file to floats: reading, decoding with
 * stb_image (Debian's libstb, linked, not compiled in), channel conversion,
 * resize with stb_image_resize, centre crop and normalisation; and
 * ember_image_load on top.
 *
 * Order of work per image: read the whole file (so IO errors are ours and
 * the size is capped), read the header and refuse hostile sizes, decode to
 * 8 bits per channel, convert channels, resize (in float, so no rounding to
 * 8 bits in between), crop, normalise: out = (v * scale - mean[c]) / std[c].
 *
 * Choices, each written once here:
 * - Grey (channels 1) from colour is ITU-R BT.601 luma, 0.299 R + 0.587 G +
 *   0.114 B, computed here in double from the 8-bit samples and kept as a
 *   float (no rounding to an integer). stb_image's own conversion (asked for
 *   1 channel) would round it to 8 bits with 8-bit fixed-point weights, so
 *   we ask stb for the file's own channels and convert ourselves.
 * - Alpha is dropped: an RGBA pixel gives its R, G, B as stored (no
 *   compositing), as tf.image.decode_image(channels=3) and PIL's
 *   convert("RGB") do. Grey to RGB repeats the grey value.
 * - Resize: stb_image_resize's triangle (tent) filter with clamped edges,
 *   on pixel centres (x + 0.5). When enlarging this is exactly bilinear
 *   interpolation with half-pixel centres (tf.image.resize "bilinear", the
 *   Keras default); when shrinking the tent widens to the scale factor, so
 *   every input pixel contributes (antialiased, like PIL's BILINEAR or
 *   tf.image.resize(antialias=True)) rather than aliasing. An image that
 *   already has the target size is not resampled at all.
 * - Centre crop starts at ((H - h) / 2, (W - w) / 2), rounded down, as Keras
 *   CenterCrop does.
 * - 16-bit PNGs and PGMs are reduced to 8 bits by stb_image (stbi_load);
 *   GIFs give their first frame.
 *
 * stb_image keeps two kinds of state outside our objects. Its failure
 * reason (stbi_failure_reason) is a global, thread-local in the Debian build
 * (STBI_THREAD_LOCAL; the library links __tls_get_addr), so it is read right
 * after the failing call on the same thread, which is safe under OpenMP.
 * Its flip-on-load and HDR-gamma settings are process-wide: we never set
 * them, and a program that calls stbi_set_flip_vertically_on_load(1) itself
 * would also flip the images loaded here.
 *
 * Deliberately not done: EXIF orientation, colour profiles (ICC, gamma:
 * samples are used as stored), animated GIF frames beyond the first, 16-bit
 * precision, and special files (FIFOs, devices): only regular files are read.
 */
#define _POSIX_C_SOURCE 200809L
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image.h>
#include <stb_image_resize.h>

/* Largest image file read: 1 GiB. stb_image takes the length as an int;
 * an uncompressed 24-bit BMP at the pixel cap is 768 MiB, and compressed
 * files are far smaller. */
#define IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

/* Most bytes asked of one read(2) call: 1 GiB keeps well inside ssize_t on
 * any platform. */
#define IMAGE_READ_CALL_MAX ((size_t)1 << 30)

/* ITU-R BT.601 luma weights (the "Y" of JPEG's YCbCr, PIL's convert("L"),
 * tf.image.rgb_to_grayscale). */
#define LUMA_R 0.299
#define LUMA_G 0.587
#define LUMA_B 0.114

/* stb_image's reason for the last failure on this thread, as printable
 * ASCII in buf (stb copies a PNG chunk's 4 type bytes from the file into
 * "XXXX PNG chunk not known": those become \xNN escapes). */
static const char *stb_reason(char buf[64])
{
    const char *r = stbi_failure_reason();
    if (!r)
        return "no reason given";
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)r; *p && k + 5 < 64; p++) {
        if (*p >= 0x20 && *p < 0x7F)
            buf[k++] = (char)*p;
        else
            k += (size_t)snprintf(buf + k, 64 - k, "\\x%02X", *p);
    }
    buf[k] = '\0';
    return buf;
}

void ember__image_free(ember__image *img)
{
    free(img->bytes);
    if (img->pixels)
        stbi_image_free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* The whole regular file `path` into a new malloc'd buffer. */
static ember_status read_file(const char *path, unsigned char **out, size_t *n, ember_error *err)
{
    *out = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    ember_status s = EMBER_OK;
    unsigned char *buf = NULL;
    size_t size = 0;
    if (fstat(fd, &st) != 0) {
        s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot read: %s", path, strerror(EISDIR));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: not a regular file (images are read from files)",
                       path);
        goto done;
    }
    if (st.st_size == 0) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: file is empty (0 bytes), not an image", path);
        goto done;
    }
    if ((uint64_t)st.st_size > IMAGE_MAX_FILE_BYTES) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                       "%s: file is %lld bytes, more than the %zu (1 GiB) an image file may have",
                       path, (long long)st.st_size, IMAGE_MAX_FILE_BYTES);
        goto done;
    }
    size = (size_t)st.st_size;
    if (!(buf = malloc(size))) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory for the file's %zu bytes", path,
                       size);
        goto done;
    }
    size_t got = 0;
    while (got < size) {
        size_t want = size - got;
        if (want > IMAGE_READ_CALL_MAX)
            want = IMAGE_READ_CALL_MAX;
        ssize_t r = read(fd, buf + got, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0) {
            s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: file shrank while being read (%zu of %zu bytes)",
                           path, got, size);
            goto done;
        }
        got += (size_t)r;
    }
done:
    if (close(fd) != 0 && s == EMBER_OK)
        s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    if (s) {
        free(buf);
        return s;
    }
    *out = buf;
    *n = size;
    return EMBER_OK;
}

/* ----------------------------------------------------- truncated files
 *
 * stb_image notices a truncated PNG or JPEG (after allocating the pixels),
 * but not every raster format:
 * it reads a short uncompressed BMP or RLE TGA as zeros, and a short binary
 * PGM/PPM or uncompressed TGA leaves the rest of its pixel buffer unwritten
 * (uninitialised memory). For those formats the header fixes the file
 * length (for RLE TGA, walking the packets does), so we check it before
 * decoding. A PNG is refused when its compressed data is too short to
 * inflate to the pixels at all. Still read as zeros when short:
 * colour-mapped TGA and GIF (whose LZW stream stb ends quietly). The format is told apart the
 * way stb_image does: by magic bytes, TGA (which has none) being stb's last
 * guess. Formats not in the image-extension list (PSD, PIC, HDR) are left
 * to stb. */

static uint32_t rd_le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

static uint32_t rd_le32(const unsigned char *p)
{
    return rd_le16(p) | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A binary PNM header (P5 grey, P6 RGB) parsed as stb_image does:
 * whitespace and '#' comments before each of width, height and maxval, then
 * exactly one byte; the pixels start after it, at *offset. Values saturate
 * at 2^32 - 1 instead of wrapping. */
static void pnm_header(const unsigned char *b, size_t n, uint64_t field[3], size_t *offset)
{
    size_t i = 2;
    int c = i < n ? b[i++] : 0;
    for (int f = 0; f < 3; f++) {
        for (;;) { /* whitespace, then comments to the end of the line */
            while (i < n && (c == ' ' || (c >= '\t' && c <= '\r')))
                c = b[i++];
            if (i >= n || c != '#')
                break;
            while (i < n && c != '\n' && c != '\r')
                c = b[i++];
        }
        uint64_t v = 0;
        while (i < n && c >= '0' && c <= '9') {
            v = v * 10 + (uint64_t)(c - '0');
            if (v > UINT32_MAX)
                v = UINT32_MAX;
            c = b[i++];
        }
        field[f] = v;
    }
    *offset = i;
}

static int is_pnm(const unsigned char *b, size_t n)
{
    return n >= 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '6');
}

/* Most a deflate stream can expand: 1032 bytes out per byte in (a 258-byte
 * match in fewer than 2 bits, the format's limit). */
#define PNG_MAX_DEFLATE_RATIO 1032u

static const unsigned char PNG_SIGNATURE[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* The file length the header implies (PNG: the least it can be), or 0 when
 * the format is not one of those checked here. */
static uint64_t implied_length(const ember__image *img)
{
    const unsigned char *b = img->bytes;
    const size_t n = img->nbytes;
    const uint64_t px = (uint64_t)img->w * (uint64_t)img->h;
    if (n >= 29 && memcmp(b, PNG_SIGNATURE, 8) == 0) {
        /* Not exact, a lower bound: the filtered rows (one filter byte, then
         * the samples; interlacing only adds rows) inflate from a stream
         * that deflate cannot make smaller than 1/PNG_MAX_DEFLATE_RATIO of
         * them. Stops a tiny file that claims a large image before stb_image
         * allocates the pixels. */
        static const unsigned channels[7] = {1, 0, 3, 1, 2, 0, 4}; /* by colour type */
        unsigned depth = b[24], type = b[25];
        if (type > 6 || channels[type] == 0 || depth == 0 || depth > 16)
            return 0;
        uint64_t row = 1 + ((uint64_t)img->w * channels[type] * depth + 7) / 8;
        return row * (uint64_t)img->h / PNG_MAX_DEFLATE_RATIO;
    }
    if (is_pnm(b, n)) {
        uint64_t field[3];
        size_t off;
        pnm_header(b, n, field, &off);
        uint64_t sample_bytes = field[2] > 255 ? 2 : 1; /* maxval */
        return off + px * (b[1] == '6' ? 3u : 1u) * sample_bytes;
    }
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') {
        if (n < 30)
            return 0; /* stb_image's info call has failed on it already */
        uint64_t off = rd_le32(b + 10), hsz = rd_le32(b + 14), bpp, compression = 0;
        if (hsz == 12) {
            bpp = rd_le16(b + 24);
        } else {
            if (n < 34)
                return 0;
            bpp = rd_le16(b + 28);
            compression = rd_le32(b + 30);
        }
        if (compression != 0 && compression != 3) /* BI_RGB, BI_BITFIELDS */
            return 0;
        uint64_t row = ((uint64_t)img->w * bpp + 31) / 32 * 4; /* rows pad to 4 bytes */
        return off + row * (uint64_t)img->h;
    }
    /* Magic bytes of every other format stb_image tries before TGA: JPEG,
     * PNG, GIF, PSD, PIC, HDR (PNM and BMP handled above). */
    static const struct {
        const char *magic;
        size_t len;
    } others[] = {{"\xff\xd8", 2},         {"\x89PNG", 4},     {"GIF8", 4},  {"8BPS", 4},
                  {"\x53\x80\xf6\x34", 4}, {"#?RADIANCE", 10}, {"#?RGBE", 6}};
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++)
        if (n >= others[k].len && memcmp(b, others[k].magic, others[k].len) == 0)
            return 0;
    /* TGA without a colour map: true-colour or grey, uncompressed (2, 3) or
     * run-length encoded (10, 11). Colour-mapped TGAs are left to stb. */
    unsigned type = b[2], bpp = b[16];
    if (n < 18 || b[1] != 0 || (type != 2 && type != 3 && type != 10 && type != 11) || bpp < 8 ||
        bpp > 32)
        return 0;
    const uint64_t pixel_bytes = (bpp + 7) / 8, start = 18u + b[0];
    if (type < 8)
        return start + px * pixel_bytes;
    /* RLE packets: a header byte h, then one pixel repeated (h & 0x80) + 1
     * times, or (h & 0x7f) + 1 literal pixels. Packets may cross rows. */
    uint64_t at = start, done = 0;
    while (done < px) {
        if (at >= n)
            return at + 1 + pixel_bytes; /* at least this much is missing */
        unsigned h = b[at++];
        uint64_t count = (h & 0x7fu) + 1;
        at += h & 0x80u ? pixel_bytes : count * pixel_bytes;
        done += count;
    }
    return at;
}

/* Most pixels one byte of a file can describe in the formats implied_length
 * does not check. stb_image decodes what a file's header claims even when
 * the data behind it is missing (JPEG, GIF) or reads it as zeros (PSD, HDR,
 * PIC), so without a bound a 200-byte file claiming 16384 x 16384 pixels
 * would cost gigabytes and seconds (found by fuzz/fuzz_image). The bounds
 * sit above what any valid file can reach, so no real image is refused:
 * - JPEG: every 8 x 8 block of the first component needs at least one bit
 *   (a DC code, 1 bit at the shortest), so at most 64 x 8 = 512 pixels per
 *   byte; 1024 leaves a factor of two.
 * - the rest (GIF, PSD, HDR, PIC, colour-mapped TGA): a GIF's LZW code of
 *   at most 12 bits stands for at most 4,095 pixels, about 2,730 per byte;
 *   4096. PSD's and HDR's run lengths reach 64 per byte; PIC's longer runs
 *   would be refused at this bound, an accepted cost for a rare format.
 * The work and memory an image costs are then bounded by a constant times
 * its file size (PNG, BMP, PNM and TGA through implied_length). */
#define JPEG_MAX_PIXELS_PER_BYTE 1024u
#define OTHER_MAX_PIXELS_PER_BYTE 4096u

/* A file shorter than its header says is an error, not black pixels. */
static ember_status check_length(const ember__image *img, const char *path, ember_error *err)
{
    uint64_t want = implied_length(img);
    if (want == 0) { /* not a format implied_length checks */
        const unsigned char *b = img->bytes;
        int jpeg = img->nbytes >= 2 && b[0] == 0xFF && (b[1] == 0xD8 || b[1] == 0xFF);
        uint64_t per_byte = jpeg ? JPEG_MAX_PIXELS_PER_BYTE : OTHER_MAX_PIXELS_PER_BYTE;
        uint64_t px = (uint64_t)img->w * (uint64_t)img->h;
        if (px > per_byte * img->nbytes)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: file is truncated or corrupt: its header describes %d x %d "
                              "pixels (height x width), more than a %s file of %zu bytes can "
                              "hold (at most %llu pixels per byte)",
                              path, img->h, img->w, jpeg ? "JPEG" : "compressed", img->nbytes,
                              (unsigned long long)per_byte);
        return EMBER_OK;
    }
    if (want > img->nbytes)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: file is truncated: its header describes %d x %d pixels (height x "
                          "width) that need %s%llu bytes, but the file has %zu",
                          path, img->h, img->w, img->bytes[0] == 0x89 ? "at least " : "",
                          (unsigned long long)want, img->nbytes);
    return EMBER_OK;
}

/* ------------------------------------------------ stb_image's own bugs
 *
 * Debian 12's libstb is stb_image 2.27, which has memory-safety bugs on
 * some malformed files (found by fuzz/fuzz_image, which builds stb with the
 * sanitizers). Where the trigger can be told from the bytes, the file is
 * refused here before stb_image sees it, the info call included. */

/* Byte i of the file as stb_image reads it: 0 past the end. */
static unsigned at_or_0(const unsigned char *b, size_t n, size_t i) { return i < n ? b[i] : 0; }

/* JPEG Huffman tables (DHT, marker 0xFFC4): stbi__build_huffman trusts the
 * 16 code counts of a table, so counts adding up to more than 256 make it
 * write past its 257-entry size table, and the values after them past the
 * 256-entry value table, inside its decoder state (fixed upstream in 2.28).
 * A valid table has at most 256 codes. The markers are walked as stb_image
 * walks them: segments by their length, entropy-coded data up to the next
 * 0xFF that is neither a stuffed 0x00, a fill 0xFF nor a restart marker;
 * the tables of a segment as stb reads them, from its length, reading 0
 * past the end of the file. Returns the file offset of the first bad
 * table's marker, or 0 when there is none. */
static size_t jpeg_bad_huffman_table(const unsigned char *b, size_t n)
{
    size_t i = 0;
    while (i < n && b[i] == 0xFF)
        i++;
    if (i == 0 || i >= n || b[i] != 0xD8)
        return 0; /* not a JPEG as stb_image tells one (0xFF..., 0xD8) */
    i++;
    while (i + 1 < n) {
        if (b[i] != 0xFF) { /* entropy-coded data, or bytes stb skips too */
            i++;
            continue;
        }
        unsigned m = b[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01 || m == 0xD8) {
            i += 2; /* stuffed 0xFF, restart, TEM, SOI: no length follows */
            continue;
        }
        if (m == 0xD9)
            return 0; /* EOI: stb_image stops */
        size_t len = at_or_0(b, n, i + 2) << 8 | at_or_0(b, n, i + 3);
        if (m == 0xC4) {
            long left = (long)len - 2; /* stb's L */
            size_t p = i + 4;
            while (left > 0) {
                unsigned q = at_or_0(b, n, p);
                if (q >> 4 > 1 || (q & 15) > 3)
                    break; /* stb refuses the table before building it */
                unsigned codes = 0;
                for (int k = 0; k < 16; k++)
                    codes += at_or_0(b, n, p + 1 + (size_t)k);
                if (codes > 256)
                    return i;
                left -= 17 + (long)codes;
                p += 17 + (size_t)codes;
            }
        }
        i += 2 + len;
    }
    return 0;
}

/* Refuse what would trip a known stb_image bug (see above). */
static ember_status check_stb_bugs(const ember__image *img, const char *path, ember_error *err)
{
    size_t at = jpeg_bad_huffman_table(img->bytes, img->nbytes);
    if (at)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: corrupt JPEG: the Huffman table at byte %zu has more than 256 "
                          "codes",
                          path, at);
    /* PGM/PPM header numbers: stbi__pnm_getinteger accumulates them in an
     * int without a bound, so a number above INT_MAX overflows (undefined
     * behaviour; found by fuzz_image). No valid width, height or maxval
     * comes near it (stb itself refuses sides over 2^24, maxval over 65535). */
    if (is_pnm(img->bytes, img->nbytes)) {
        static const char *const names[3] = {"width", "height", "maxval"};
        uint64_t field[3];
        size_t off;
        pnm_header(img->bytes, img->nbytes, field, &off);
        for (int f = 0; f < 3; f++)
            if (field[f] > INT_MAX)
                return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                                  "%s: corrupt PGM/PPM header: the %s is %s%llu, more than "
                                  "%d", path, names[f], field[f] == UINT32_MAX ? "at least " : "",
                                  (unsigned long long)field[f], INT_MAX);
    }
    return EMBER_OK;
}

ember_status ember__image_probe(ember__image *img, const char *path, ember_error *err)
{
    memset(img, 0, sizeof *img);
    ember_status s = read_file(path, &img->bytes, &img->nbytes, err);
    if (s)
        return s;
    /* Sizes stb_image refuses itself (a PNG over 2^30 decoded bytes, a PNM
     * side over 2^24) make its info call fail with "unknown image type" (it
     * goes on to try the other formats), so for those two formats the
     * claimed size is read and capped here first. */
    uint64_t cw = 0, ch = 0;
    const unsigned char *b = img->bytes;
    if (img->nbytes >= 24 && memcmp(b, PNG_SIGNATURE, 8) == 0 && memcmp(b + 12, "IHDR", 4) == 0) {
        cw = (uint64_t)b[16] << 24 | (uint64_t)b[17] << 16 | (uint64_t)b[18] << 8 | b[19];
        ch = (uint64_t)b[20] << 24 | (uint64_t)b[21] << 16 | (uint64_t)b[22] << 8 | b[23];
    } else if (is_pnm(b, img->nbytes)) {
        uint64_t field[3];
        size_t off;
        pnm_header(b, img->nbytes, field, &off);
        cw = field[0];
        ch = field[1];
    }
    if (cw * ch > (uint64_t)EMBER_IMAGE_MAX_PIXELS) { /* each < 2^32: no overflow */
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM,
                       "%s: header claims %llu x %llu pixels (height x width), more than the "
                       "%lld (2^28) one image may have; refused before decoding",
                       path, (unsigned long long)ch, (unsigned long long)cw,
                       (long long)EMBER_IMAGE_MAX_PIXELS);
        ember__image_free(img);
        return s;
    }
    if ((s = check_stb_bugs(img, path, err)) != EMBER_OK) {
        ember__image_free(img);
        return s;
    }
    int w = 0, h = 0, comp = 0;
    char why[64];
    /* IMAGE_MAX_FILE_BYTES < INT_MAX, so the length fits stb's int. */
    if (!stbi_info_from_memory(img->bytes, (int)img->nbytes, &w, &h, &comp)) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                       "%s: not an image stb_image can read (PNG, JPEG, BMP, PGM/PPM, GIF, TGA, "
                       "...): %s",
                       path, stb_reason(why));
        ember__image_free(img);
        return s;
    }
    if (w < 1 || h < 1 || comp < 1 || comp > 4) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                       "%s: header gives %d x %d pixels (height x width) and %d channels; expected "
                       "a size of at least 1 x 1 and 1 to 4 channels",
                       path, h, w, comp);
        ember__image_free(img);
        return s;
    }
    if ((int64_t)w * h > EMBER_IMAGE_MAX_PIXELS) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM,
                       "%s: header claims %d x %d pixels (height x width), %lld in all, more than "
                       "the %lld (2^28) one image may have; refused before decoding",
                       path, h, w, (long long)w * h, (long long)EMBER_IMAGE_MAX_PIXELS);
        ember__image_free(img);
        return s;
    }
    img->w = w;
    img->h = h;
    img->comp = comp;
    if ((s = check_length(img, path, err)) != EMBER_OK) {
        ember__image_free(img);
        return s;
    }
    return EMBER_OK;
}

ember_status ember__image_decode(ember__image *img, const char *path, ember_error *err)
{
    int w = 0, h = 0, comp = 0;
    unsigned char *px = stbi_load_from_memory(img->bytes, (int)img->nbytes, &w, &h, &comp, 0);
    free(img->bytes);
    img->bytes = NULL;
    img->nbytes = 0;
    if (!px) {
        char buf[64];
        const char *why = stb_reason(buf);
        if (strcmp(why, "outofmem") == 0)
            return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory decoding %d x %d pixels",
                              path, img->h, img->w);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: corrupt or truncated image data: %s", path,
                          why);
    }
    if (w != img->w || h != img->h || comp < 1 || comp > 4) {
        stbi_image_free(px);
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: the header gives %d x %d pixels (height x width) but the data "
                          "decodes to %d x %d with %d channels",
                          path, img->h, img->w, h, w, comp);
    }
    img->pixels = px;
    img->comp = comp;
    return EMBER_OK;
}

int ember__image_channels(const ember_image_options *o, int comp)
{
    if (o->channels)
        return o->channels;
    return comp <= 2 ? 1 : 3;
}

ember_status ember__image_out_size(const ember_image_options *o, int h, int w, const char *path,
                                   int64_t *H, int64_t *W, ember_error *err)
{
    int64_t oh = h, ow = w;
    if (o->resize_height > 0) {
        oh = o->resize_height;
        ow = o->resize_width;
    }
    if (o->crop_height > 0) {
        /* With a resize, the options check already compared the crop with it. */
        if (o->crop_height > oh || o->crop_width > ow)
            return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                              "%s: crop %lld x %lld (height x width) is larger than the image, "
                              "%lld x %lld",
                              path, (long long)o->crop_height, (long long)o->crop_width,
                              (long long)oh, (long long)ow);
        oh = o->crop_height;
        ow = o->crop_width;
    }
    *H = oh;
    *W = ow;
    return EMBER_OK;
}

/* One pixel of `comp` 8-bit samples as C floats (0..255, not normalised). */
static inline void convert_pixel(float *out, const unsigned char *p, int comp, int C)
{
    if (comp <= 2) { /* grey, grey + alpha */
        float g = (float)p[0];
        out[0] = g;
        if (C == 3)
            out[1] = out[2] = g;
    } else if (C == 3) { /* RGB, RGBA */
        out[0] = (float)p[0];
        out[1] = (float)p[1];
        out[2] = (float)p[2];
    } else {
        out[0] = (float)(LUMA_R * p[0] + LUMA_G * p[1] + LUMA_B * p[2]);
    }
}

/* dst[H][W][C] = normalised window (y0, x0, H, W) of the converted pixels. */
static void emit_u8(float *dst, const ember__image *img, int C, int64_t y0, int64_t x0, int64_t H,
                    int64_t W, const ember_image_options *o)
{
    for (int64_t y = 0; y < H; y++) {
        const unsigned char *row =
            img->pixels + ((size_t)(y0 + y) * (size_t)img->w + (size_t)x0) * (size_t)img->comp;
        float *d = dst + (size_t)y * (size_t)W * (size_t)C;
        for (int64_t x = 0; x < W; x++, d += C) {
            convert_pixel(d, row + (size_t)x * (size_t)img->comp, img->comp, C);
            for (int c = 0; c < C; c++)
                d[c] = (d[c] * o->scale - o->mean[c]) / o->std[c];
        }
    }
}

/* dst[H][W][C] = normalised window (y0, x0, H, W) of src[.][sw][C]; dst may
 * be src itself when the window is the whole image. */
static void emit_f32(float *dst, const float *src, int64_t sw, int C, int64_t y0, int64_t x0,
                     int64_t H, int64_t W, const ember_image_options *o)
{
    for (int64_t y = 0; y < H; y++) {
        const float *s = src + ((size_t)(y0 + y) * (size_t)sw + (size_t)x0) * (size_t)C;
        float *d = dst + (size_t)y * (size_t)W * (size_t)C;
        for (int64_t x = 0; x < W; x++, d += C, s += C)
            for (int c = 0; c < C; c++)
                d[c] = (s[c] * o->scale - o->mean[c]) / o->std[c];
    }
}

ember_status ember__image_emit(float *dst, const ember__image *img, int C,
                               const ember_image_options *o, const char *path, ember_error *err)
{
    int64_t H, W;
    ember_status s = ember__image_out_size(o, img->h, img->w, path, &H, &W, err);
    if (s)
        return s;
    int resize = o->resize_height > 0 && (o->resize_height != img->h || o->resize_width != img->w);
    /* Before the resize, the size is the image's (or the resize size when the
     * image already has it); after it, the resize size. */
    int64_t rh = o->resize_height > 0 ? o->resize_height : img->h;
    int64_t rw = o->resize_height > 0 ? o->resize_width : img->w;
    int64_t y0 = (rh - H) / 2, x0 = (rw - W) / 2;
    if (!resize) {
        emit_u8(dst, img, C, y0, x0, H, W, o);
        return EMBER_OK;
    }

    /* Both sizes are at most EMBER_IMAGE_MAX_PIXELS (2^28) pixels, checked
     * by probe and by the options check, so these products cannot overflow
     * and every dimension fits stb_image_resize's int arguments. */
    size_t in_px = (size_t)img->w * (size_t)img->h, out_px = (size_t)rh * (size_t)rw;
    int crop = H != rh || W != rw;
    float *in = malloc(in_px * (size_t)C * sizeof *in);
    float *out = crop ? malloc(out_px * (size_t)C * sizeof *out) : dst;
    if (!in || !out) {
        free(in);
        if (crop)
            free(out);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM,
                          "%s: out of memory for resizing %d x %d to %lld x %lld", path, img->h,
                          img->w, (long long)rh, (long long)rw);
    }
    for (size_t i = 0; i < in_px; i++)
        convert_pixel(in + i * (size_t)C, img->pixels + i * (size_t)img->comp, img->comp, C);
    int ok = stbir_resize_float_generic(in, img->w, img->h, 0, out, (int)rw, (int)rh, 0, C,
                                        STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP,
                                        STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, NULL);
    free(in);
    if (!ok) {
        if (crop)
            free(out);
        /* stb_image_resize fails only when its working memory cannot be had. */
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory resizing %d x %d to %lld x %lld",
                          path, img->h, img->w, (long long)rh, (long long)rw);
    }
    emit_f32(dst, out, rw, C, y0, x0, H, W, o);
    if (crop)
        free(out);
    return EMBER_OK;
}

ember_status ember_image_load(ember_tensor **out, const char *path, const ember_image_options *opt,
                              ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_image_load: out is NULL");
    *out = NULL;
    if (!path)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_image_load: path is NULL");
    ember_image_options def = ember_image_options_default();
    const ember_image_options *o = opt ? opt : &def;
    ember_status s = ember__image_options_check(o, "image options", EMBER_ERR_ARG, err);
    if (s)
        return s;
    ember__image img;
    if ((s = ember__image_probe(&img, path, err)) != EMBER_OK)
        return s;
    ember_tensor *t = NULL;
    int64_t H, W;
    if ((s = ember__image_out_size(o, img.h, img.w, path, &H, &W, err)) == EMBER_OK &&
        (s = ember__image_decode(&img, path, err)) == EMBER_OK) {
        int C = ember__image_channels(o, img.comp);
        int64_t shape[3] = {H, W, C};
        s = ember_tensor_create(&t, 3, shape, err);
        if (s)
            ember__error_prefix(err, "%s", path);
        else
            s = ember__image_emit(t->data, &img, C, o, path, err);
    }
    ember__image_free(&img);
    if (s) {
        ember_tensor_destroy(t);
        return s;
    }
    *out = t;
    return EMBER_OK;
}
