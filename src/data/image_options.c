/*
 * image_options.c - ember_image_options: defaults, the checks every image
 * call runs first, and the JSON form kept in model metadata so predict
 * applies the training preprocessing.
 *
 * JSON layout (every key required, no others, each once):
 *   {"version":1,"channels":0,"resize_height":0,"resize_width":0,
 *    "crop_height":0,"crop_width":0,"scale":0.00392156886,
 *    "mean":[0,0,0],"std":[1,1,1]}
 * Floats are written with 9 significant digits, which reads back as the same
 * float32. Deliberately not done: defaults for missing keys (a model file
 * that lost a key should fail loudly, as the text pipeline's JSON does).
 */
#include "image.h"
#include "io/json_util.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Version of the JSON layout written by ember_image_options_to_json. */
#define IMAGE_OPTIONS_JSON_VERSION 1
/* JSON numbers are doubles: integers above 2^53 are not exact. */
#define JSON_DOC "image options JSON" /* names the document in errors */
/* Room for one float printed with %.9g ("-1.17549435e-38" is 15 bytes). */
#define FLOAT_TEXT_BYTES 32

ember_image_options ember_image_options_default(void)
{
    ember_image_options o;
    memset(&o, 0, sizeof o);
    o.channels = 0; /* from the first image */
    o.scale = 1.0f / 255.0f;
    for (int c = 0; c < 3; c++) {
        o.mean[c] = 0.0f;
        o.std[c] = 1.0f;
    }
    return o;
}

/* A (height, width) pair: both 0 (off) or both > 0 with at most
 * EMBER_IMAGE_MAX_PIXELS pixels. */
static ember_status check_size(int64_t h, int64_t w, const char *name, const char *what,
                               ember_status code, ember_error *err)
{
    if (h < 0 || w < 0)
        return EMBER_FAIL(err, code, "%s: %s_%s must be >= 0, got %lld", what, name,
                          h < 0 ? "height" : "width", (long long)(h < 0 ? h : w));
    if ((h == 0) != (w == 0))
        return EMBER_FAIL(err, code,
                          "%s: %s_height is %lld but %s_width is %lld: give both (> 0) or "
                          "neither (0)",
                          what, name, (long long)h, name, (long long)w);
    int64_t px;
    if (!ember__mul_i64(h, w, &px) || px > EMBER_IMAGE_MAX_PIXELS)
        return EMBER_FAIL(
            err, code, "%s: %s_height x %s_width = %lld x %lld is more than %lld pixels", what,
            name, name, (long long)h, (long long)w, (long long)EMBER_IMAGE_MAX_PIXELS);
    return EMBER_OK;
}

ember_status ember__image_options_check(const ember_image_options *o, const char *what,
                                        ember_status code, ember_error *err)
{
    if (o->channels != 0 && o->channels != 1 && o->channels != 3)
        return EMBER_FAIL(err, code,
                          "%s: channels must be 0 (from the first image), 1 or 3, got %d", what,
                          o->channels);
    ember_status s = check_size(o->resize_height, o->resize_width, "resize", what, code, err);
    if (s)
        return s;
    if ((s = check_size(o->crop_height, o->crop_width, "crop", what, code, err)) != EMBER_OK)
        return s;
    if (o->resize_height > 0 && o->crop_height > 0) {
        if (o->crop_height > o->resize_height)
            return EMBER_FAIL(err, code, "%s: crop_height %lld is larger than resize_height %lld",
                              what, (long long)o->crop_height, (long long)o->resize_height);
        if (o->crop_width > o->resize_width)
            return EMBER_FAIL(err, code, "%s: crop_width %lld is larger than resize_width %lld",
                              what, (long long)o->crop_width, (long long)o->resize_width);
    }
    if (!isfinite(o->scale) || !(o->scale > 0.0f))
        return EMBER_FAIL(err, code, "%s: scale must be finite and > 0, got %.9g", what,
                          (double)o->scale);
    for (int c = 0; c < 3; c++)
        if (!isfinite(o->mean[c]))
            return EMBER_FAIL(err, code, "%s: mean[%d] must be finite, got %.9g", what, c,
                              (double)o->mean[c]);
    for (int c = 0; c < 3; c++)
        if (!isfinite(o->std[c]) || !(o->std[c] > 0.0f))
            return EMBER_FAIL(err, code, "%s: std[%d] must be > 0, got %.9g", what, c,
                              (double)o->std[c]);
    return EMBER_OK;
}

/* ------------------------------------------------------------------ JSON */

enum {
    K_VERSION,
    K_CHANNELS,
    K_RESIZE_H,
    K_RESIZE_W,
    K_CROP_H,
    K_CROP_W,
    K_SCALE,
    K_MEAN,
    K_STD,
    K_COUNT
};
static const char *const KEYS[K_COUNT] = {"version",      "channels",    "resize_height",
                                          "resize_width", "crop_height", "crop_width",
                                          "scale",        "mean",        "std"};

/* A float as a raw JSON number (%.9g), added to obj (or to an array when key
 * is NULL). false when out of memory. */
static int add_float(cJSON *obj, const char *key, float v)
{
    char text[FLOAT_TEXT_BYTES];
    snprintf(text, sizeof text, "%.9g", (double)v);
    cJSON *n = cJSON_CreateRaw(text);
    if (!n)
        return 0;
    if (key ? !cJSON_AddItemToObject(obj, key, n) : !cJSON_AddItemToArray(obj, n)) {
        cJSON_Delete(n);
        return 0;
    }
    return 1;
}

static int add_floats(cJSON *obj, const char *key, const float *v, int n)
{
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    if (!a)
        return 0;
    for (int i = 0; i < n; i++)
        if (!add_float(a, NULL, v[i]))
            return 0;
    return 1;
}

ember_status ember_image_options_to_json(const ember_image_options *opt, char **json,
                                         ember_error *err)
{
    if (!json)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_image_options_to_json: json is NULL");
    *json = NULL;
    if (!opt)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_image_options_to_json: opt is NULL");
    ember_status s = ember__image_options_check(opt, "image options", EMBER_ERR_ARG, err);
    if (s)
        return s;
    cJSON *root = cJSON_CreateObject();
    int ok = root && cJSON_AddNumberToObject(root, "version", IMAGE_OPTIONS_JSON_VERSION) &&
             cJSON_AddNumberToObject(root, "channels", opt->channels) &&
             cJSON_AddNumberToObject(root, "resize_height", (double)opt->resize_height) &&
             cJSON_AddNumberToObject(root, "resize_width", (double)opt->resize_width) &&
             cJSON_AddNumberToObject(root, "crop_height", (double)opt->crop_height) &&
             cJSON_AddNumberToObject(root, "crop_width", (double)opt->crop_width) &&
             add_float(root, "scale", opt->scale) && add_floats(root, "mean", opt->mean, 3) &&
             add_floats(root, "std", opt->std, 3);
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "image options JSON: out of memory");
    *json = text;
    return EMBER_OK;
}

/* An array of exactly 3 numbers into v[3]. */
static ember_status json_float3(const cJSON *j, const char *field, float v[3], ember_error *err)
{
    if (!cJSON_IsArray(j))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "image options JSON: %s: expected an array of 3 numbers, got %s", field,
                          ember__json_type(j));
    int n = cJSON_GetArraySize(j);
    if (n != 3)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "image options JSON: %s: expected 3 numbers (one per channel), got %d",
                          field, n);
    int i = 0;
    for (const cJSON *e = j->child; e; e = e->next, i++) {
        char name[32];
        snprintf(name, sizeof name, "%s[%d]", field, i);
        ember_status s = ember__json_float(e, JSON_DOC, name, &v[i], err);
        if (s)
            return s;
    }
    return EMBER_OK;
}

static ember_status parse_fields(ember_image_options *o, const cJSON *const item[K_COUNT],
                                 ember_error *err)
{
    int64_t v[K_COUNT] = {0};
    ember_status s;
    for (int k = K_VERSION; k <= K_CROP_W; k++)
        if ((s = ember__json_int(item[k], JSON_DOC, KEYS[k], &v[k], err)) != EMBER_OK)
            return s;
    if (v[K_VERSION] != IMAGE_OPTIONS_JSON_VERSION)
        return EMBER_FAIL(
            err, EMBER_ERR_FORMAT,
            "image options JSON: version: %lld is not supported (this build reads %d)",
            (long long)v[K_VERSION], IMAGE_OPTIONS_JSON_VERSION);
    if (v[K_CHANNELS] != 0 && v[K_CHANNELS] != 1 && v[K_CHANNELS] != 3)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "image options JSON: channels: expected 0, 1 or 3, got %lld",
                          (long long)v[K_CHANNELS]);
    o->channels = (int)v[K_CHANNELS];
    o->resize_height = v[K_RESIZE_H];
    o->resize_width = v[K_RESIZE_W];
    o->crop_height = v[K_CROP_H];
    o->crop_width = v[K_CROP_W];
    if ((s = ember__json_float(item[K_SCALE], JSON_DOC, "scale", &o->scale, err)) != EMBER_OK ||
        (s = json_float3(item[K_MEAN], "mean", o->mean, err)) != EMBER_OK ||
        (s = json_float3(item[K_STD], "std", o->std, err)) != EMBER_OK)
        return s;
    return ember__image_options_check(o, "image options JSON", EMBER_ERR_FORMAT, err);
}

ember_status ember_image_options_from_json(ember_image_options *opt, const char *json,
                                           ember_error *err)
{
    if (!opt || !json)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_image_options_from_json: %s is NULL",
                          !opt ? "opt" : "json");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "image options JSON: syntax error at byte %zu",
                          at);
    }
    ember_status s = EMBER_OK;
    const cJSON *item[K_COUNT] = {0};
    if (!cJSON_IsObject(root))
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "image options JSON: expected an object, got %s",
                       ember__json_type(root));
    for (const cJSON *j = s == EMBER_OK ? root->child : NULL; j && s == EMBER_OK; j = j->next) {
        int k = 0;
        while (k < K_COUNT && strcmp(j->string, KEYS[k]) != 0)
            k++;
        if (k == K_COUNT)
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "image options JSON: %s: unknown key", j->string);
        else if (item[k])
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "image options JSON: %s: duplicate key", KEYS[k]);
        else
            item[k] = j;
    }
    for (int k = 0; k < K_COUNT && s == EMBER_OK; k++)
        if (!item[k])
            s = EMBER_FAIL(err, EMBER_ERR_FORMAT, "image options JSON: %s: missing", KEYS[k]);
    ember_image_options o = ember_image_options_default();
    if (s == EMBER_OK)
        s = parse_fields(&o, item, err);
    cJSON_Delete(root);
    if (s == EMBER_OK)
        *opt = o;
    return s;
}
