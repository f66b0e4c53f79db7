/*
 * fuzz_image.c - ember_image_load (src/data/image_decode.c): Ember's own
 * checks (file size, header sizes, the pixel cap, truncation by format), then
 * stb_image's decoders (PNG, JPEG, BMP, PGM/PPM, GIF, TGA, PSD, HDR, PIC),
 * channel conversion, stb_image_resize, the centre crop and normalisation.
 * stb_image and stb_image_resize are compiled into this harness with the
 * sanitizers (fuzz/stb_impl.c), so their bugs show too.
 *
 * Input: two option bytes, then the file. Byte 0: bits 0-1 channels (0, 1,
 * 3, 0), bit 2 resize, bit 3 crop. Byte 1: resize height and width - 1 in
 * its two nibbles (1..16); the crop is half the resize (or of 1..8 from the
 * same nibbles without a resize, refused when larger than the image).
 * Checks: a refusal names the file; an image is [H, W, C] with the options'
 * sizes and channels and finite values, and its channel statistics work.
 */
#include "fuzz_util.h"

static const int CHANNELS[4] = {0, 1, 3, 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t b0 = fuzz_take_byte(&data, &size), b1 = fuzz_take_byte(&data, &size);
    ember_image_options o = ember_image_options_default();
    o.channels = CHANNELS[b0 & 3];
    int64_t rh = 1 + (b1 >> 4), rw = 1 + (b1 & 15);
    if (b0 & 4) {
        o.resize_height = rh;
        o.resize_width = rw;
    }
    if (b0 & 8) {
        o.crop_height = (rh + 1) / 2;
        o.crop_width = (rw + 1) / 2;
    }
    const char *path = fuzz_file(data, size);
    ember_error err;
    ember_tensor *t = (ember_tensor *)&err;
    ember_status s = ember_image_load(&t, path, &o, &err);
    if (s != EMBER_OK) {
        fuzz_check_file_refusal(s, &err, path);
        FUZZ_ASSERT(t == NULL);
        return 0;
    }
    FUZZ_ASSERT(t->ndim == 3 && t->shape[0] >= 1 && t->shape[1] >= 1);
    FUZZ_ASSERT(o.channels == 0 ? (t->shape[2] == 1 || t->shape[2] == 3)
                                : t->shape[2] == o.channels);
    if (o.crop_height)
        FUZZ_ASSERT(t->shape[0] == o.crop_height && t->shape[1] == o.crop_width);
    else if (o.resize_height)
        FUZZ_ASSERT(t->shape[0] == o.resize_height && t->shape[1] == o.resize_width);
    FUZZ_ASSERT(fuzz_all_finite(t));
    float mean[3], sd[3];
    s = ember_image_channel_stats(t, mean, sd, &err);
    FUZZ_ASSERT(s == EMBER_OK);
    ember_tensor_destroy(t);
    return 0;
}
