/*
 * image.h - the inside of the image data API (include/ember.h, "data:
 * images"), shared by image_options.c (options and their JSON),
 * image_decode.c (one file to one [H, W, C] block of floats) and
 * image_dataset.c (folders and file lists). Internal; not installed.
 *
 * One image goes through three steps, so a data set can check each file
 * before paying for it:
 *   ember__image_probe   read the file's bytes and its header (stb_image's
 *                        info call): size and channels, the pixel cap;
 *   ember__image_decode  decode the pixels (8 bits per channel);
 *   ember__image_emit    channels, resize, centre crop and normalisation
 *                        into the caller's [H, W, C] floats.
 * ember__image_free releases whatever the steps hold, at any point.
 */
#ifndef EMBER_IMAGE_H
#define EMBER_IMAGE_H

#include "core.h"

#include <stdint.h>

/* Most pixels (width x height) one image may have: 2^28, e.g. 16384 x
 * 16384. Larger claimed sizes are refused from the header alone, before
 * anything is allocated for the pixels: a 100-byte file can claim
 * 100000 x 100000, which stb_image would try to allocate (10 GB for RGB). At
 * the cap the decoded bytes take at most 1 GiB (4 channels) and the float
 * output 3 GiB (RGB). */
#define EMBER_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

/* One image on its way through the steps above. */
typedef struct ember__image {
    unsigned char *bytes; /* [nbytes] the whole file (probe .. decode) */
    size_t nbytes;
    unsigned char *pixels; /* [h][w][comp] 8-bit samples, top row first (after decode) */
    int w, h;              /* from the header (probe), confirmed by decode */
    int comp;              /* channels stored in the file: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
} ember__image;

/* Check every field of *o. `code` is the status for a bad field
 * (EMBER_ERR_ARG for a struct from the program, EMBER_ERR_FORMAT for one
 * parsed from JSON) and `what` starts the message: "image options: std[1]
 * must be > 0, got 0". */
ember_status ember__image_options_check(const ember_image_options *o, const char *what,
                                        ember_status code, ember_error *err);

/* Read `path` whole and read its header. Fills img->bytes, nbytes, w, h, comp.
 * Errors: EMBER_ERR_IO (open/read), EMBER_ERR_FORMAT (empty, over the file
 * size cap, not an image stb_image knows), EMBER_ERR_NOMEM (more than
 * EMBER_IMAGE_MAX_PIXELS, or no memory for the bytes). Messages start with
 * the path. On failure *img holds nothing (ember__image_free is still safe). */
ember_status ember__image_probe(ember__image *img, const char *path, ember_error *err);

/* Decode the probed bytes into img->pixels (and free the bytes). Errors:
 * EMBER_ERR_FORMAT (corrupt or truncated data, with stb_image's reason),
 * EMBER_ERR_NOMEM. */
ember_status ember__image_decode(ember__image *img, const char *path, ember_error *err);

void ember__image_free(ember__image *img);

/* The channel count an image with `comp` stored channels gets under
 * opt->channels (0: 1 for grey or grey+alpha, else 3). */
int ember__image_channels(const ember_image_options *o, int comp);

/* Height and width of the output for an image of h x w under *o: the
 * resize size if any, then the crop size if any. Error (EMBER_ERR_FORMAT,
 * naming `path`) when the crop is larger than the image it applies to. */
ember_status ember__image_out_size(const ember_image_options *o, int h, int w, const char *path,
                                   int64_t *H, int64_t *W, ember_error *err);

/* Write the decoded image as dst[H][W][C] floats (H, W from
 * ember__image_out_size, C from ember__image_channels). Errors:
 * EMBER_ERR_NOMEM (resize buffers). */
ember_status ember__image_emit(float *dst, const ember__image *img, int C,
                               const ember_image_options *o, const char *path, ember_error *err);

#endif
