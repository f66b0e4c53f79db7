/*
 * fuzz_image_options.c - ember_image_options_from_json
 * (src/data/image_options.c, with json_util.c): the image preprocessing a
 * model file carries. Input: the JSON text. Checks: a refusal has a message;
 * options read back are valid (the struct check passes), and to_json ->
 * from_json gives exactly them again (floats bit for bit).
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_cstr(data, size);
    ember_error err;
    ember_image_options o, back;
    memset(&o, 0xa5, sizeof o);
    memset(&back, 0x5a, sizeof back);
    ember_image_options before = o;
    ember_status s = ember_image_options_from_json(&o, json, &err);
    free(json);
    if (s != EMBER_OK) {
        fuzz_check_refusal(s, &err);
        FUZZ_ASSERT(memcmp(&o, &before, sizeof o) == 0); /* *opt set only on success */
        return 0;
    }
    char *text = NULL;
    FUZZ_ASSERT(ember_image_options_to_json(&o, &text, &err) == EMBER_OK);
    FUZZ_ASSERT(ember_image_options_from_json(&back, text, &err) == EMBER_OK);
    free(text);
    FUZZ_ASSERT(back.channels == o.channels && back.resize_height == o.resize_height &&
                back.resize_width == o.resize_width && back.crop_height == o.crop_height &&
                back.crop_width == o.crop_width);
    FUZZ_ASSERT(memcmp(&back.scale, &o.scale, sizeof o.scale) == 0);
    FUZZ_ASSERT(memcmp(back.mean, o.mean, sizeof o.mean) == 0);
    FUZZ_ASSERT(memcmp(back.std, o.std, sizeof o.std) == 0);
    return 0;
}
