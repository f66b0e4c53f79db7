/*
 * ember.h - the one public header of Ember, a small deep-learning toolkit in C.
 *
 * What it gives: float32 tensors, a Keras-like Sequential model (Dense with
 * activations, Activation, Dropout, Embedding + GlobalAveragePooling1D for
 * text, Conv2D, MaxPool2D, AveragePool2D, GlobalAveragePooling2D, Flatten and
 * BatchNormalization for images), losses (categorical cross-entropy fused
 * with softmax, binary cross-entropy, mean squared error), optimizers (SGD with
 * momentum/Nesterov, Adam, L2 weight decay, clipping by global norm),
 * fit/evaluate/predict, model files in the safetensors layout, an IDX
 * reader (MNIST-style files, gzip or not), text data sets and the text
 * pipeline (cleaning, tokenising, vocabulary), and image data sets (PNG,
 * JPEG, BMP, PGM/PPM, GIF, TGA files or a folder per class).
 *
 * What it deliberately does not do: print (progress goes through a callback
 * you install), exit, or keep global state. Every fallible call returns an
 * ember_status and, when you pass an ember_error, a message that names the file,
 * field or layer at fault.
 *
 * Threading: an object (model, tensor) is used by one thread at a time. The
 * library parallelises inside calls with OpenMP and OpenBLAS; the thread count
 * is a setting of the model (ember_model_set_threads).
 *
 * Quick example (a 784-128-10 classifier):
 *
 *     ember_error err;
 *     ember_model *m = NULL;
 *     int64_t in_shape[1] = {784};
 *     ember_model_create(&m, 1, in_shape, 42, &err);
 *     ember_model_add_dense(m, 128, EMBER_ACT_RELU, &err);
 *     ember_model_add_dense(m, 10, EMBER_ACT_SOFTMAX, &err);
 *     ember_optimizer_config opt = ember_optimizer_adam(0.001f);
 *     ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err);
 *     ember_fit_config fc = ember_fit_config_default();
 *     fc.epochs = 2; fc.batch_size = 32;
 *     ember_model_fit(m, x_train, y_train, &fc, NULL, &err);
 *     ember_model_destroy(m);
 */
#ifndef EMBER_H
#define EMBER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 1
#define EMBER_VERSION_PATCH 0

/* Version string, e.g. "0.1.0". Never NULL. */
const char *ember_version(void);
/* Git commit the library was built from ("unknown" outside a git checkout). */
const char *ember_git_commit(void);

/* ------------------------------------------------------------------ errors */

typedef enum ember_status {
    EMBER_OK = 0,
    EMBER_ERR_NOMEM = -1,       /* an allocation failed or a size overflowed */
    EMBER_ERR_ARG = -2,         /* a bad argument from the calling program */
    EMBER_ERR_IO = -3,          /* open/read/write/rename of a file failed */
    EMBER_ERR_FORMAT = -4,      /* a file or input is malformed */
    EMBER_ERR_SHAPE = -5,       /* tensor shapes do not fit together */
    EMBER_ERR_STATE = -6,       /* call out of order (e.g. fit before compile) */
    EMBER_ERR_NUMERIC = -7,     /* NaN or Inf appeared in loss or gradients; a
                                   numeric target cannot be met (calibration) */
    EMBER_ERR_UNSUPPORTED = -8  /* valid request this build cannot do */
} ember_status;

#define EMBER_ERROR_MESSAGE_MAX 512

/* Filled by fallible calls when non-NULL. `message` names the user's location
 * first (file:line, JSON field, layer index) then what was expected; `where`
 * is Ember's own source location, for bug reports. */
typedef struct ember_error {
    ember_status code;
    char message[EMBER_ERROR_MESSAGE_MAX];
    char where[64];
} ember_error;

/* Short constant name of a status ("out of memory", ...). Never NULL. */
const char *ember_status_to_string(ember_status s);

/* ----------------------------------------------------------------- tensors */

#define EMBER_MAX_DIMS 4
#define EMBER_ALIGNMENT 64 /* bytes; every owned tensor buffer is aligned so */

/* A dense row-major float32 array of 1 to 4 dimensions. `data` is owned (and
 * freed by ember_tensor_destroy) when `owns_data` is non-zero; otherwise it is
 * a view borrowed from someone else. */
typedef struct ember_tensor {
    int ndim;                       /* 1..EMBER_MAX_DIMS */
    int64_t shape[EMBER_MAX_DIMS];  /* shape[i] >= 0; unused entries are 1 */
    float *data;                    /* numel floats, 64-byte aligned if owned */
    int owns_data;
} ember_tensor;

/* Allocate a zero-filled tensor. Errors: EMBER_ERR_ARG (ndim out of range,
 * negative dim), EMBER_ERR_NOMEM (allocation or element-count overflow).
 * On success *out is owned by the caller (ember_tensor_destroy). */
ember_status ember_tensor_create(ember_tensor **out, int ndim, const int64_t *shape,
                                 ember_error *err);
/* Wrap caller memory as a tensor view (no copy; `data` must outlive the view). */
ember_status ember_tensor_create_view(ember_tensor **out, float *data, int ndim,
                                      const int64_t *shape, ember_error *err);
/* Free a tensor (and its data if owned). NULL is a no-op. */
void ember_tensor_destroy(ember_tensor *t);
/* Number of elements (product of the shape). */
int64_t ember_tensor_numel(const ember_tensor *t);
/* Multiply every element by `scale` (e.g. 1/255 for bytes). */
void ember_tensor_scale(ember_tensor *t, float scale);
/* View rows [begin, end) of the first dimension (no copy). */
ember_status ember_tensor_slice(ember_tensor **out, const ember_tensor *t, int64_t begin,
                                int64_t end, ember_error *err);

/* ---------------------------------------------------------------- data: IDX */

/* Read an IDX file (the MNIST format: magic 0x0000 TT DD, big-endian dims,
 * then data), gzip-compressed or not (detected from the bytes, not the name).
 * Every element type of the format (u8, i8, i16, i32, f32, f64) is converted
 * to float32 without scaling. The header is checked before any allocation:
 * magic, dimension count (1..4), each dimension, and the exact data length.
 * Errors: EMBER_ERR_IO (cannot open/read), EMBER_ERR_FORMAT (message names the
 * file and the field: magic, type, ndim, dims[i], data length). */
ember_status ember_idx_load(ember_tensor **out, const char *path, ember_error *err);

/* Turn integer class ids (a rank-1 tensor, as read from an IDX labels file)
 * into a one-hot [N, classes] tensor. Errors: EMBER_ERR_FORMAT when a label is
 * not an integer in [0, classes). */
ember_status ember_one_hot(ember_tensor **out, const ember_tensor *labels, int64_t classes,
                           ember_error *err);

/* ------------------------------------------------------------- data: images */

/* How image files become float tensors. Every image is decoded with
 * stb_image (PNG, JPEG, BMP, PGM/PPM, GIF first frame, TGA; 8 bits per
 * sample, 16-bit PNG/PGM reduced to 8), converted to `channels`, optionally
 * resized, then centre-cropped, then each value v in 0..255 becomes
 * (v * scale - mean[c]) / std[c], computed in float. Layout: [H][W][C] per
 * image (NHWC for a batch), rows top to bottom. Defaults in parentheses. */
typedef struct ember_image_options {
    int channels;          /* 1: grey; 3: RGB; 0: from the first image (grey or
                              grey+alpha -> 1, otherwise 3) (0). Colour to grey is ITU-R
                              BT.601 luma 0.299 R + 0.587 G + 0.114 B, not rounded;
                              grey to RGB repeats the value. Alpha is dropped: the
                              colour samples are used as stored, not composited. */
    int64_t resize_height; /* > 0 with resize_width: resize every image to exactly
                              this size first (0: no resize; then all images of a data
                              set must have the first image's size). Triangle (tent)
                              filter on pixel centres, edges clamped: enlarging is
                              bilinear with half-pixel centres (tf.image.resize
                              "bilinear"); shrinking averages every input pixel
                              (antialiased, like PIL's BILINEAR). An image already of
                              this size is not resampled. */
    int64_t resize_width;
    int64_t crop_height;   /* > 0 with crop_width: centre crop to this size after the
                              resize (0: no crop), starting at ((H - h) / 2, (W - w) / 2)
                              rounded down; larger than the image is an error */
    int64_t crop_width;
    float scale;           /* (1/255); finite, > 0 */
    float mean[3];         /* per channel, subtracted after scaling (0); finite */
    float std[3];          /* per channel, divides after the mean (1); finite, > 0.
                              With channels 1 only [0] is used (all are checked). */
} ember_image_options;
/* Each of resize and crop is at most 2^28 pixels. Every call below checks the
 * options first: a bad field is EMBER_ERR_ARG naming it ("image options:
 * std[1] must be > 0, got 0"). Where a call takes `opt`, NULL means the
 * defaults. */

ember_image_options ember_image_options_default(void);
/* The options as a JSON object (for model metadata, so predict applies the
 * training preprocessing) and back: {"version":1,"channels":0,
 * "resize_height":0,"resize_width":0,"crop_height":0,"crop_width":0,
 * "scale":0.00392156886,"mean":[0,0,0],"std":[1,1,1]}; floats read back bit
 * for bit. *json is the caller's (free()). to_json: EMBER_ERR_ARG for invalid
 * options, EMBER_ERR_NOMEM. from_json is strict: a syntax error (byte
 * offset), a missing, unknown or duplicate key, a wrong type, a value out of
 * range or another version are EMBER_ERR_FORMAT naming the field ("image
 * options JSON: std[1] must be > 0, got 0"); *opt is set only on success.
 * Note that channels 0 is stored as 0: to make predict independent of its
 * first image, store the channel count the training set resolved to. */
ember_status ember_image_options_to_json(const ember_image_options *opt, char **json,
                                         ember_error *err);
ember_status ember_image_options_from_json(ember_image_options *opt, const char *json,
                                           ember_error *err);

/* Decode one image file into a new [H, W, C] tensor (options applied; opt
 * NULL: defaults). Errors name the file: EMBER_ERR_IO (cannot open/read, not
 * a regular file), EMBER_ERR_FORMAT (empty, over 1 GiB, corrupt, truncated or
 * unsupported file, with stb_image's reason; crop larger than the image),
 * EMBER_ERR_NOMEM (hostile dimensions are refused from the header, before
 * any allocation for the pixels: more than 2^28 pixels; or no memory). On
 * failure *out is NULL. Thread-safe (stb_image's failure reason is
 * thread-local). */
ember_status ember_image_load(ember_tensor **out, const char *path, const ember_image_options *opt,
                              ember_error *err);

/* A labelled image data set: images [N, H, W, C] and class ids [N]. */
typedef struct ember_image_dataset ember_image_dataset;

/* Read a folder with one sub-folder per class (Keras
 * image_dataset_from_directory, without shuffling): classes are the
 * sub-folder names sorted in byte order, class ids 0..K-1; files in each
 * sorted by name in byte order, classes one after another; entries starting
 * with '.' ignored; sub-folders of a class folder ignored (no recursion);
 * files directly in `dir` ignored; files whose extension is not an image one
 * (png jpg jpeg bmp pgm ppm pnm gif tga, any case), and entries that are
 * not regular files, skipped and counted (ember_image_dataset_skipped).
 * Symbolic links count as what they point to. Images are decoded in
 * parallel (OpenMP's default thread count); the result does not depend on
 * the thread count, and when several files are bad the error names the
 * first in this order. On failure *out is NULL. Errors name the file or
 * folder: EMBER_ERR_IO (cannot open or list), EMBER_ERR_ARG (not a folder,
 * bad options), EMBER_ERR_FORMAT (no class folders, an empty class folder,
 * a bad image as for ember_image_load), EMBER_ERR_SHAPE (an image of another
 * size than the first without resize: names both files and sizes),
 * EMBER_ERR_NOMEM. */
ember_status ember_image_dataset_load_folder(ember_image_dataset **out, const char *dir,
                                             const ember_image_options *opt, ember_error *err);
/* Unlabelled images from a list of n >= 1 files, in that order (for
 * predict); errors as above. */
ember_status ember_image_dataset_load_files(ember_image_dataset **out, int64_t n,
                                            const char *const *paths,
                                            const ember_image_options *opt, ember_error *err);
void ember_image_dataset_destroy(ember_image_dataset *d); /* NULL ok */
int64_t ember_image_dataset_size(const ember_image_dataset *d);
/* [N, H, W, C] images and [N] class ids (NULL when unlabelled); borrowed
 * until the data set is destroyed. */
const ember_tensor *ember_image_dataset_images(const ember_image_dataset *d);
const ember_tensor *ember_image_dataset_labels(const ember_image_dataset *d);
int64_t ember_image_dataset_class_count(const ember_image_dataset *d); /* 0 if unlabelled */
/* Name of class k, or NULL when k is out of range; borrowed. */
const char *ember_image_dataset_class_name(const ember_image_dataset *d, int64_t k);
/* File of example i as loaded (dir/class/name, or the path given), or NULL
 * when i is out of range; borrowed. */
const char *ember_image_dataset_path(const ember_image_dataset *d, int64_t i);
/* Entries skipped in class folders: a non-image extension, or not a regular
 * file (folder loads; 0 otherwise). */
int64_t ember_image_dataset_skipped(const ember_image_dataset *d);

/* Per-channel mean and standard deviation (population) of x [N, H, W, C]
 * or one image [H, W, C] (1 <= C <= 3), accumulated in double, two passes;
 * for mean/std normalisation fitted on the training set. Writes C entries of
 * mean and std. A constant channel gives std 0 (which the options refuse:
 * replace it before use). Errors: EMBER_ERR_ARG (NULL), EMBER_ERR_SHAPE
 * (rank, channel count, empty), EMBER_ERR_NUMERIC (a NaN or Inf, named by
 * index). To fit on images as loaded, load with mean 0 and std 1. */
ember_status ember_image_channel_stats(const ember_tensor *x, float *mean, float *std,
                                       ember_error *err);

/* --------------------------------------------------- data: fingerprints */

/* Forward declaration; the text reader's options are defined below. */
struct ember_text_read_options;

/* A manifest of data: every file under `paths` (folders are walked in byte
 * order of names, hidden entries skipped; a folder whose entries are all
 * folders is a one-folder-per-class data set) with its size, SHA-256,
 * detected format ("csv", "tsv", "fasttext", "idx", "image", "text",
 * "binary", "empty"), record count and a content hash of its parsed examples. The
 * content hash is a multiset hash (each example's SHA-256 sorted, then
 * hashed), so it stays the same across line endings (CRLF = LF), gzip, and
 * the order of records and files, and changes with any example's labels or
 * text. CSV/TSV/fastText files are parsed with `opt` (NULL: the defaults),
 * the same reader `ember train` uses, so a file train would refuse is
 * refused here too. The JSON (caller frees with free()):
 *   {"format": "ember.manifest", "version": 1, "inputs": [paths],
 *    "options": {"text_column", "label_column", "skip_bad_lines", "lines"
 *                (true only with format EMBER_TEXT_LINES)},
 *    "files_count", "bytes", "records", "content_sha256",
 *    "files": [{"path", "bytes", "sha256", "format", "class" (class folder
 *               files), "records" (null for binary), "skipped" (when
 *               lines were skipped), "content_sha256"}]}
 * It holds no time stamp: the same data gives the same text. Errors:
 * EMBER_ERR_ARG (no paths, a file reached twice), EMBER_ERR_IO (a path that
 * cannot be read, named), EMBER_ERR_FORMAT (a data file its reader
 * refuses: the reader's message), EMBER_ERR_NOMEM. An empty file is
 * recorded as format "empty" with 0 records. */
ember_status ember_data_fingerprint(const char *const *paths, int n,
                                    const struct ember_text_read_options *opt, char **manifest,
                                    ember_error *err);

/* Check data against a manifest: walk its inputs again (relative paths
 * under `root`; NULL or "" = the current folder) and compare every file's
 * SHA-256. The report (JSON, caller frees): {"ok", "files_expected",
 * "unchanged", "changed": [{"path", "sha256_expected", "sha256_found",
 * "bytes_expected", "bytes_found", "same_examples" (the content hash still
 * matches: e.g. only line endings changed) or "error" (it no longer
 * parses)}], "missing": [paths], "new": [paths]}. *problems (may be NULL)
 * = changed + missing + new. A mismatch is not an error (the call returns
 * EMBER_OK); errors are a manifest that is not one (EMBER_ERR_FORMAT, the
 * field named), an unreadable file (EMBER_ERR_IO), EMBER_ERR_NOMEM. */
ember_status ember_data_verify(const char *manifest, const char *root, char **report,
                               int64_t *problems, ember_error *err);

/* ---------------------------------------------------------- data: text */

/* A labelled text data set read from a file or folder. Texts are UTF-8,
 * NUL-terminated, kept once (no second copy). Labels are strings; an example
 * may have several (fastText multi-label) or none only if the reader allows. */
typedef struct ember_text_dataset ember_text_dataset;

typedef enum ember_text_format {
    EMBER_TEXT_AUTO = 0, /* folder -> FOLDER; *.tsv[.gz] -> TSV; *.csv[.gz] -> CSV;
                            otherwise FASTTEXT if the first line starts with __label__ */
    EMBER_TEXT_CSV,      /* RFC 4180, comma, header row */
    EMBER_TEXT_TSV,      /* tab-separated, header row, same quoting rules */
    EMBER_TEXT_FASTTEXT, /* "__label__a __label__b text" per line */
    EMBER_TEXT_FOLDER,   /* one sub-folder per class, one example per file */
    EMBER_TEXT_LINES     /* ember_data_fingerprint only: every file's lines are its
                            records, nothing parsed (the recommender's interaction
                            and feature files); the text readers refuse it */
} ember_text_format;

typedef struct ember_text_read_options {
    ember_text_format format;
    /* CSV/TSV: column by header name or 0-based index ("2"). NULL: "text"
     * if the header has it, else the first column; "label" if present,
     * else the last column. */
    const char *text_column;
    const char *label_column;
    /* 0 (default): the first bad record fails the load. 1: a bad record is
     * skipped and counted (ember_text_dataset_skipped) instead: a CSV/TSV
     * row or fastText line with invalid UTF-8, a NUL byte, a wrong field
     * count, stray quotes, an empty label or text, or more than 64 MiB; a
     * blank line between CSV rows; a file of a folder data set that is empty,
     * blank, not UTF-8 or over 64 MiB. Never skipped (always errors): a file
     * that cannot be read, an empty file, a bad CSV header, a truncated or
     * corrupt gzip stream, a quote that is never closed (it swallows the
     * rest of the file), and a file in which every record is bad. */
    int skip_bad_lines;
} ember_text_read_options;

ember_text_read_options ember_text_read_options_default(void);

/* Read a data set (gzip transparently); opt may be NULL (defaults). Errors:
 * EMBER_ERR_IO, EMBER_ERR_FORMAT naming the file and line (and column) at
 * fault and what was expected: empty file, header only, missing column,
 * unbalanced quote, a label with no text, invalid UTF-8, a NUL byte, a
 * record over 64 MiB (the most one text, label or CSV field may hold; it
 * bounds the memory a hostile file can take). docs/inputs.md lists every
 * case. EMBER_ERR_NOMEM. */
ember_status ember_text_dataset_load(ember_text_dataset **out, const char *path,
                                     const ember_text_read_options *opt, ember_error *err);
void ember_text_dataset_destroy(ember_text_dataset *d);
int64_t ember_text_dataset_size(const ember_text_dataset *d);
/* Text of example i (borrowed, valid until destroy). */
const char *ember_text_dataset_text(const ember_text_dataset *d, int64_t i);
/* Number of labels of example i, and label j of it (borrowed). */
int ember_text_dataset_label_count(const ember_text_dataset *d, int64_t i);
const char *ember_text_dataset_label(const ember_text_dataset *d, int64_t i, int j);
/* Where example i came from, for messages: "FILE:LINE" (the line its record
 * starts on) for CSV, TSV and fastText, the example's file for a folder data
 * set, "example I" (from 0) for a set made with ember_text_dataset_create.
 * Writes at most n bytes (NUL included) to buf and returns buf; "" when i is
 * out of range or d is NULL. */
const char *ember_text_dataset_where(const ember_text_dataset *d, int64_t i, char *buf, size_t n);

/* Messages of skipped records kept per data set. */
#define EMBER_TEXT_SKIPPED_SHOWN 5
/* Records skipped as bad (skip_bad_lines, ember_text_dataset_drop_unknown_labels);
 * 0 for NULL. */
int64_t ember_text_dataset_skipped(const ember_text_dataset *d);
/* Why the i-th skipped record was skipped, for the first
 * EMBER_TEXT_SKIPPED_SHOWN: "FILE:LINE: reason", the same text the error
 * would have had without skip_bad_lines. NULL when i is out of range.
 * Borrowed until destroy. */
const char *ember_text_dataset_skipped_message(const ember_text_dataset *d, int i);
/* Build a data set from memory (copies the strings); labels may be NULL
 * (unlabelled, for predict). */
ember_status ember_text_dataset_create(ember_text_dataset **out, int64_t n,
                                       const char *const *texts, const char *const *labels,
                                       ember_error *err);

/* ------------------------------------------------------ text pipeline */

/* How raw text becomes token ids. Saved in the model file, so test/predict/
 * serve apply exactly the training pipeline. Defaults in parentheses.
 *
 * Cleaning, in this order: invalid UTF-8 (possible in strings given through
 * the API) becomes U+FFFD, one per maximal ill-formed subsequence; the
 * e-mail header block; HTML; NFKC and case folding (utf8proc).
 * Tokens: whitespace separates; "http://", "https://", "www." URLs and
 * e-mail addresses become one placeholder token each; punctuation and the
 * symbols Sm/Sc/Sk separate (or, with keep_punctuation, are tokens of one
 * character); other symbols (So: emoji, (c), arrows, U+FFFD) are always
 * tokens of one character, skin tones and variation selectors dropped; Han,
 * kana, Bopomofo and Hangul characters are one token each. Everything else
 * (letters, marks, digits) builds words. The full rules are in
 * src/data/tokenize.c and src/data/text_clean.c.
 * Hashed features (FNV-1a 64, so ids are the same on every machine): word
 * n-grams over the token sequence, character n-grams of each word (in code
 * points, the word wrapped in '<' '>' as in fastText), and CJK bigrams (two
 * CJK characters with nothing between them); each n-gram's id is
 * 2 + V + hash % buckets. */
typedef struct ember_text_options {
    /* cleaning */
    int nfkc;                /* Unicode NFKC normalisation (1) */
    int casefold;            /* Unicode (full) case folding: "Straße" -> "strasse" (1) */
    int strip_html;          /* tags -> a space, <script>/<style> content dropped, character
                                references decoded (numeric, and the common named ones) (1) */
    int replace_urls;        /* URLs -> "<url>" (1) */
    int replace_emails;      /* e-mail addresses -> "<email>" (1) */
    int replace_numbers;     /* each run of decimal digits -> "<num>": "2024" -> "<num>",
                                "mp3" -> "mp<num>" (0) */
    int strip_email_headers; /* drop an RFC 822 header block at the start: an optional mbox
                                "From " line, "Name: value" and continuation lines, ended by
                                an empty line (without one nothing is dropped) (0) */
    int keep_punctuation;    /* 1: punctuation marks become tokens; 0: separators (0) */
    /* tokenising */
    int cjk_bigrams;         /* CJK: characters plus character bigrams (1) */
    int word_ngrams;         /* add word n-grams up to N, hashed; 1..8 (1 = words only) */
    int char_ngram_min;      /* character n-grams of words, hashed: 0 and 0 (off), or */
    int char_ngram_max;      /* 1 <= min <= max <= 32 (fastText uses 3..6) */
    int64_t buckets;         /* hash buckets for n-grams (2000000 fastText; here 200000);
                                0 = no n-grams or bigrams at all. Fit sets it to 0
                                when nothing would be hashed (no n-grams asked for
                                and no CJK bigram in the training texts) */
    /* vocabulary */
    int64_t min_count;       /* words seen fewer times map to <oov>; >= 1 (1) */
    int64_t max_vocab;       /* keep the most frequent words (0 = no limit) */
    /* privacy (docs/privacy.md) */
    int hash_vocab;          /* 1: the saved pipeline holds, for each vocabulary word, a
                                salted SHA-256 of it instead of the word; ids, and so the
                                trained weights, are the same as with 0 (0) */
} ember_text_options;

ember_text_options ember_text_options_default(void);

/* Token ids of many examples, without padding: example i has ids
 * ids[offsets[i] .. offsets[i+1]). Id 0 is padding (never produced), 1 is
 * out-of-vocabulary, then the vocabulary, then the n-gram buckets. */
typedef struct ember_ragged {
    int64_t n;        /* examples */
    int64_t *offsets; /* [n + 1], offsets[0] = 0 */
    int32_t *ids;     /* [offsets[n]] */
} ember_ragged;
void ember_ragged_destroy(ember_ragged *r); /* frees the struct and arrays; NULL ok */

/* A pipeline is used by one thread at a time, except that several threads
 * may call encode, tokens and the getters on one fitted pipeline at once. */
typedef struct ember_pipeline ember_pipeline;

/* An unfitted pipeline; opt NULL means ember_text_options_default().
 * Errors: EMBER_ERR_ARG (an option out of range, named), EMBER_ERR_NOMEM. */
ember_status ember_pipeline_create(ember_pipeline **out, const ember_text_options *opt,
                                   ember_error *err);
void ember_pipeline_destroy(ember_pipeline *p); /* NULL ok */
/* Build the vocabulary and the label table from a training set. Words are
 * all tokens (placeholders, emoji, CJK characters included); those seen at
 * least min_count times are kept, at most max_vocab of them, and get ids 2..
 * by count descending, then byte order (so the result never depends on the
 * order of the examples). Labels: every label of every example, distinct,
 * sorted by byte order; class ids 0..K-1. With hash_vocab the kept words
 * are replaced by their hashes after this order is set, so every id is the
 * one it would be without. Fitting again replaces both; on
 * failure the pipeline is left as it was. Errors: EMBER_ERR_ARG (NULL, an
 * empty set, vocabulary + buckets beyond the int32 id range),
 * EMBER_ERR_NOMEM. */
ember_status ember_pipeline_fit(ember_pipeline *p, const ember_text_dataset *d,
                                ember_error *err);
/* Rows an Embedding needs: 2 + vocabulary + buckets. */
int64_t ember_pipeline_input_dim(const ember_pipeline *p);
int64_t ember_pipeline_class_count(const ember_pipeline *p); /* 0 before fit */
/* Name of class k (borrowed until the pipeline is fitted again or
 * destroyed), or NULL when k is out of range. */
const char *ember_pipeline_class_name(const ember_pipeline *p, int64_t k);
/* Class id of a label string, or -1. */
int64_t ember_pipeline_class_id(const ember_pipeline *p, const char *label);
/* Encode texts to ids (*ids) and, if `labels` is non-NULL, their first label
 * to class ids as a [N] float tensor (*labels). Per example, in text order:
 * each token's id (1 if not in the vocabulary), followed by its character
 * n-grams, the CJK bigram and the word n-grams that end at it. An example
 * with no tokens at all (empty, only punctuation or markup) gets the single
 * id 1, so no bag is empty. With hash_vocab a token is looked up by its hash
 * (one SHA-256 per distinct token per call), giving the same ids. Both
 * outputs are the caller's; on failure neither is set. Deterministic. Errors: EMBER_ERR_STATE (not fitted),
 * EMBER_ERR_FORMAT "test.csv:18: label 'xyz' was not in the training data
 * (example 17)" or "example 3: no label" (the example named as
 * ember_text_dataset_where does; examples counted from 0), EMBER_ERR_ARG,
 * EMBER_ERR_NOMEM. */
ember_status ember_pipeline_encode(const ember_pipeline *p, const ember_text_dataset *d,
                                   ember_ragged **ids, ember_tensor **labels, ember_error *err);
/* Remove from d the examples whose first label the fitted pipeline p does not
 * know, or that have no label, counting each in ember_text_dataset_skipped
 * with the message encode would have given (for evaluating with
 * skip_bad_lines). Example order is kept. *removed (may be NULL) gets the
 * number removed. Errors: EMBER_ERR_ARG (NULL), EMBER_ERR_STATE (p not
 * fitted), EMBER_ERR_FORMAT when no example is left (naming the first
 * removed); d is unchanged on error. */
ember_status ember_text_dataset_drop_unknown_labels(ember_text_dataset *d, const ember_pipeline *p,
                                                    int64_t *removed, ember_error *err);
/* The fitted pipeline as JSON text (caller frees with free()):
 * {"version":1,"options":{every option},"vocab":[words by id],
 *  "labels":[by class id],"buckets":N}. EMBER_ERR_STATE when not fitted.
 * With hash_vocab, options has "hash_vocab":1, "vocab" holds each word's
 * hash instead of the word (32 lowercase hex digits: the first 16 bytes of
 * SHA-256(salt || word), the salt as its 32 hex characters, the word as
 * UTF-8 bytes) and "vocab_salt" the salt: the first 16 bytes, in hex, of
 * SHA-256("ember-hash-vocab-salt-v1" NUL, then each kept word and a NUL, in
 * id order), so equal data and options give equal files. Without
 * hash_vocab neither key is written (so older builds read the JSON, and
 * refuse a hashed one rather than treat every word as <oov>); a JSON
 * without "hash_vocab" reads as 0.
 * from_json gives back a fitted pipeline that encodes identically. It is
 * strict: a syntax error (byte offset given), a missing, unknown or
 * duplicate key, a wrong type, an option out of range, "buckets" unequal to
 * options.buckets, an empty or duplicate vocabulary word, a hash or salt
 * that is not 32 lowercase hex digits, "vocab_salt" without hash_vocab (or
 * missing with it), labels not distinct and sorted, or another version are
 * EMBER_ERR_FORMAT naming the field ("pipeline JSON: options.buckets:
 * expected 0..2147483646, got -5"). */
ember_status ember_pipeline_to_json(const ember_pipeline *p, char **json, ember_error *err);
ember_status ember_pipeline_from_json(ember_pipeline **out, const char *json, ember_error *err);
/* The items of one text as encode would produce them, space-separated (for
 * inspection; caller frees with free()): the text's own tokens as
 * themselves (also with hash_vocab: they come from `text`, never from the
 * vocabulary, which this does not consult), hashed
 * n-grams with a leading '#': word n-grams joined by '_' ("#good_movie"),
 * character n-grams ("#<wh"), CJK bigrams ("#北京"). Works before fit. An
 * empty text gives "". Errors: EMBER_ERR_ARG, EMBER_ERR_NOMEM. */
ember_status ember_pipeline_tokens(const ember_pipeline *p, const char *text, char **out,
                                   ember_error *err);

/* ------------------------------------------------- data: quality check */

/* A data-quality report on a labelled text training set and, optionally, its
 * test set, before training (`ember data check`; docs/data-check.md): class
 * balance, examples empty after normalisation, exact and near-exact
 * duplicates within each split, label conflicts, leakage of test texts from
 * the training set, and lengths.
 *
 * Definitions:
 *  - An example's class is its first label, the one ember_pipeline_encode
 *    trains on. Every example needs one.
 *  - Exact text: the bytes as read. Exact duplicates are byte-identical.
 *  - Normalised text (the "key"): Unicode NFKC, then full case folding
 *    (utf8proc, the pipeline's cleaning code; no HTML stripping and no
 *    URL/e-mail/number placeholders), then the pipeline's tokenizer with
 *    keep_punctuation = 0: punctuation (P*) and the symbols Sm/Sc/Sk
 *    separate words and are dropped; other symbols (So: emoji, arrows) and
 *    format characters (ZWJ, soft hyphen, variation selectors) are dropped
 *    too; whitespace runs collapse. The key is the remaining tokens (words of
 *    letters, digits and marks; CJK characters one each) joined by one space:
 *    "Hello,  WORLD!" and "ｈｅｌｌｏ world" both have the key "hello world".
 *    Near-exact duplicates share a key.
 *  - Empty: the key is "" (only punctuation, symbols or whitespace). Empty
 *    examples are counted on their own and take no part in near-duplicates,
 *    label conflicts or normalised leakage (exact duplicates still count).
 *  - Lengths: tokens are the unigram tokens of the default pipeline
 *    (ember_text_options_default: "<url>" and an emoji count one each);
 *    characters are the Unicode code points of the text as read.
 *  - Median: the mean of the two middle values for an even count; p95: the
 *    nearest-rank 95th percentile (the ceil(0.95 n)-th smallest value).
 *
 * Cost: O(n) expected time for the grouping (hash tables sized from n; the
 * hash is FNV-1a, not keyed, so crafted collisions only cost time), plus
 * sorting for medians; memory about the text size again (the keys) plus
 * about 80 bytes per example. */

/* Bytes of an example's text kept in a report (cut at a character boundary). */
#define EMBER_DATA_CHECK_TEXT_MAX 200
/* Classes listed as the smallest and as the largest per split in the JSON. */
#define EMBER_DATA_CHECK_EXTREMES 5
/* Largest max_examples accepted. */
#define EMBER_DATA_CHECK_MAX_EXAMPLES 1000

typedef enum ember_data_split {
    EMBER_DATA_TRAIN = 0,
    EMBER_DATA_TEST = 1
} ember_data_split;

typedef struct ember_data_check_options {
    /* Groups shown per finding, and examples shown per group and split
     * (3); 0..EMBER_DATA_CHECK_MAX_EXAMPLES. Counts never depend on it. */
    int max_examples;
} ember_data_check_options;

ember_data_check_options ember_data_check_options_default(void);

/* One example named in a finding. */
typedef struct ember_data_example {
    int split;          /* EMBER_DATA_TRAIN or EMBER_DATA_TEST */
    int64_t index;      /* in its split, from 0 */
    char *where;        /* as ember_text_dataset_where: "FILE:LINE", its file, "example I" */
    char *text;         /* the text as read, at most EMBER_DATA_CHECK_TEXT_MAX bytes, cut at
                           a character boundary with "..." appended when longer */
    const char *label;  /* its class (points into the report's classes[].name) */
} ember_data_example;

/* Examples that share one text (exact or normalised, by finding). */
typedef struct ember_data_group {
    int64_t count[2];            /* all its examples, per split */
    int nshown;
    ember_data_example *shown;   /* [nshown]: up to max_examples per split involved,
                                    train first, each split in file order */
} ember_data_group;

/* One finding: its counts and the first few groups as examples. */
typedef struct ember_data_finding {
    int64_t groups;              /* distinct texts found (empty: the examples) */
    int64_t examples;            /* examples in those groups (see ember_data_report) */
    int64_t redundant;           /* duplicates only: examples - groups (copies beyond the
                                    first of each text); else 0 */
    int64_t same_label;          /* leakage only: leaked test examples whose class some
                                    training example with that text has */
    int64_t different_label;     /* leakage only: the others (no training copy agrees) */
    int nshown;
    ember_data_group *shown;     /* [nshown] the first max_examples groups, in the order of
                                    their first example (in the test set for the
                                    cross-split findings) */
} ember_data_finding;

/* Distribution of one length over a split (all 0 when it is empty). */
typedef struct ember_data_lengths {
    int64_t min, max, p95;
    double median, mean;
} ember_data_lengths;

typedef struct ember_data_class {
    char *name;
    int64_t count[2];            /* examples per split */
} ember_data_class;

typedef struct ember_data_split_report {
    int64_t examples;
    int64_t classes;             /* classes with an example here */
    int64_t *by_count;           /* [classes] indices into report classes, by count here
                                    ascending, then name */
    int64_t count_min, count_max; /* examples per class, over those classes */
    double count_median;
    double imbalance;            /* count_max / count_min (0 for an empty split) */
    int64_t only_here;           /* classes with examples here and none in the other split
                                    (0 without a test set) */
    ember_data_lengths tokens, chars;
    ember_data_finding empty;            /* groups = examples = empty examples */
    ember_data_finding exact_duplicates; /* texts occurring 2+ times here */
    ember_data_finding near_duplicates;  /* keys occurring 2+ times here (a superset of the
                                            exact ones, empty keys aside); groups shown: those
                                            holding 2+ different texts, one example each */
    int64_t near_only_redundant; /* redundant examples only normalisation finds: over the
                                    near-duplicate groups, (different texts - 1) summed */
    ember_data_finding label_conflicts;  /* keys with 2+ classes here; examples: all of
                                            theirs; shown: one example per class */
} ember_data_split_report;

/* The whole report; all of it is owned by the report. */
typedef struct ember_data_report {
    int has_test;                /* 0 when no test set was given */
    int64_t nclasses;
    ember_data_class *classes;   /* [nclasses] every class of either split, by name (bytes) */
    ember_data_split_report split[2]; /* [EMBER_DATA_TRAIN], [EMBER_DATA_TEST] */
    ember_data_finding leak_exact;    /* texts in both splits; examples: test examples whose
                                         exact text is in train; same/different_label */
    ember_data_finding leak_near;     /* the same by key (non-empty) */
    ember_data_finding conflicts_across; /* keys in both splits with 2+ classes over both;
                                            examples: their train + test examples; shown:
                                            one example per class and split */
} ember_data_report;

/* Check `train` and `test` (test may be NULL: no cross-split findings).
 * Both are borrowed for the call; the report copies what it shows. opt NULL
 * means ember_data_check_options_default(). Deterministic: the same data
 * gives the same report (example order matters only for what is shown).
 * Errors: EMBER_ERR_ARG (out or train NULL, max_examples out of range),
 * EMBER_ERR_FORMAT (an example without a label: "train: data/x.csv:7: no
 * label; data check needs a class for every example"), EMBER_ERR_NOMEM.
 * On failure *out is left unset. Thread-safe on distinct reports (no
 * shared state; the data sets are only read). */
ember_status ember_data_report_create(ember_data_report **out, const ember_text_dataset *train,
                                      const ember_text_dataset *test,
                                      const ember_data_check_options *opt, ember_error *err);
void ember_data_report_destroy(ember_data_report *r); /* NULL ok */

/* The report as one JSON object (no whitespace; docs/data-check.md lists
 * every key):
 *   "classes": [{"name","train","test"}],
 *   "train", "test" (null without a test set): {"examples","classes",
 *     "count_min","count_median","count_max","imbalance",
 *     "smallest","largest": [{"name","count"}] (up to EMBER_DATA_CHECK_EXTREMES),
 *     "only_here": [names], "tokens","chars": {"min","median","mean","p95","max"},
 *     "empty","exact_duplicates","near_duplicates","label_conflicts": finding,
 *     "near_only_redundant"},
 *   "leakage": {"exact","normalised": finding}, "conflicts_across": finding;
 * a finding is {"groups","examples", "redundant" (duplicates), "same_label",
 * "different_label" (leakage), "shown": [{"train","test" (counts),
 * "examples": [{"split","index","where","label","text"}]}]}.
 * *json is the caller's (free()). Errors: EMBER_ERR_ARG, EMBER_ERR_NOMEM;
 * on failure *json is left unchanged. */
ember_status ember_data_report_to_json(const ember_data_report *r, char **json, ember_error *err);

/* ---------------------------------------------------------- evaluation */

/* Classification report from true and predicted class ids, and optionally
 * the probabilities [N][K] for top-k accuracy. */
typedef struct ember_class_report {
    int64_t n, classes;
    double accuracy;
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
    double top_k_accuracy;  /* NaN without probabilities */
    int top_k;
    double *precision, *recall, *f1; /* [classes] */
    int64_t *support;                /* [classes] true examples per class */
    int64_t *confusion;              /* [classes][classes], row = true, column = predicted */
} ember_class_report;

/* truth[N], pred[N] in [0, classes); probs may be NULL. A class with no
 * predictions has precision 0 (as scikit-learn with zero_division=0). */
ember_status ember_class_report_create(ember_class_report **out, const int64_t *truth,
                                       const int64_t *pred, const float *probs, int64_t n,
                                       int64_t classes, int top_k, ember_error *err);
void ember_class_report_destroy(ember_class_report *r);

/* Off-diagonal confusion pairs (true != predicted) with a count > 0, sorted by
 * count descending, ties by true id then predicted id, at most `max_pairs` of
 * them. Pair j goes to true_ids[j], pred_ids[j], counts[j]; each array needs
 * room for `max_pairs` entries (they may be NULL when max_pairs == 0).
 * Returns the number of pairs written (0..max_pairs), or -1 when r is NULL,
 * max_pairs < 0, or an output array is NULL while max_pairs > 0. Allocates
 * nothing; O(classes^2 * max_pairs) in the worst case. */
int ember_class_report_most_confused(const ember_class_report *r, int max_pairs, int64_t *true_ids,
                                int64_t *pred_ids, int64_t *counts);

/* Maximum number of pairs listed under "most_confused" in the JSON. */
#define EMBER_REPORT_JSON_MOST_CONFUSED 10

/* Render `r` as one JSON object (no whitespace) with exactly these keys:
 *   "n", "accuracy", "macro_precision", "macro_recall", "macro_f1",
 *   "weighted_precision", "weighted_recall", "weighted_f1",
 *   "top_k" (0 without probabilities), "top_k_accuracy" (null when NaN),
 *   "per_class": [{"label","precision","recall","f1","support"}] [classes],
 *   "confusion": [[...]] [classes][classes], row = true, column = predicted,
 *   "most_confused": [{"true","predicted","count"}], at most
 *                    EMBER_REPORT_JSON_MOST_CONFUSED, order as above.
 * "label" is class_names[c] when class_names is non-NULL (then it must hold
 * r->classes non-NULL strings, borrowed for the call), else the decimal id.
 * On success *json is a NUL-terminated string the caller frees with free().
 * Errors: EMBER_ERR_ARG (NULL r or json, a NULL class name: message names the
 * index), EMBER_ERR_NOMEM. On failure *json is left unchanged. */
ember_status ember_class_report_to_json(const ember_class_report *r, const char *const *class_names,
                                   char **json, ember_error *err);

/* The hand-off threshold of a server that answers automatically when the
 * model's top probability is >= the threshold and passes the rest to a
 * person. For n examples with top probability p_i (the largest output) and
 * correct_i (1 if the argmax class was the true one):
 *   auto(t)      = { i : p_i >= t }   (examples with equal p go together)
 *   coverage(t)  = |auto(t)| / n
 *   precision(t) = (correct examples in auto(t)) / |auto(t)|
 * The candidates are the distinct p_i; the result is the smallest candidate
 * t with precision(t) >= target_precision (the ratio computed in double, so
 * 3 of 4 meets a target of 0.75). Precision is not monotone in t: a larger
 * candidate may fall below the target, and monotone_above says whether that
 * happens. O(n log n) (one sort). */
typedef struct ember_calibration {
    double threshold;   /* chosen t: one of the p_i (a float value) */
    double precision;   /* precision(t) */
    double coverage;    /* coverage(t), in (0, 1] */
    int64_t answered;   /* |auto(t)| */
    int64_t n;          /* examples */
    int monotone_above; /* 1 if every candidate > t also has precision >= target */
} ember_calibration;

/* top[n]: each example's top probability, in [0, 1]; correct[n]: 1 if its
 * prediction was right, else 0. Both borrowed for the call; *out is set
 * only on success. Errors: EMBER_ERR_ARG (NULL pointer, n < 1, target
 * outside (0, 1], a NaN or out-of-range probability or a correct[] other
 * than 0/1, naming the index), EMBER_ERR_NUMERIC (no candidate reaches the
 * target: the message gives the best precision reachable and its
 * threshold), EMBER_ERR_NOMEM. Thread-safe (no shared state). */
ember_status ember_calibrate_threshold(const float *top, const unsigned char *correct, int64_t n,
                                       double target_precision, ember_calibration *out,
                                       ember_error *err);

/* ------------------------------------------------------------------ models */

typedef enum ember_activation {
    EMBER_ACT_LINEAR = 0, /* y = x */
    EMBER_ACT_SIGMOID,    /* y = 1 / (1 + exp(-x)) */
    EMBER_ACT_TANH,       /* y = tanh(x) */
    EMBER_ACT_RELU,       /* y = max(0, x) */
    EMBER_ACT_SOFTMAX     /* y_i = exp(x_i) / sum_j exp(x_j), over the last axis */
} ember_activation;

typedef enum ember_init {
    EMBER_INIT_DEFAULT = 0,     /* Glorot uniform for kernels, zeros for biases */
    EMBER_INIT_GLOROT_UNIFORM,  /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
    EMBER_INIT_HE_UNIFORM,      /* U(-l, l), l = sqrt(6 / fan_in) (for ReLU) */
    EMBER_INIT_HE_NORMAL,       /* N(0, 2 / fan_in) truncated at 2 sigma */
    EMBER_INIT_ZEROS
} ember_init;

typedef struct ember_dense_config {
    int64_t units;               /* output features, > 0 */
    ember_activation activation; /* applied after W.x + b */
    ember_init kernel_init;      /* EMBER_INIT_DEFAULT = Glorot uniform */
    int use_bias;                /* non-zero: add b (initialised to zero) */
} ember_dense_config;

typedef struct ember_model ember_model;

/* Create an empty Sequential model whose examples have shape `input_shape`
 * (without the batch dimension; rank 1..3). `seed` drives initialisation,
 * shuffling and dropout through separate streams. Threads default to the
 * number of cores. Errors: EMBER_ERR_ARG, EMBER_ERR_NOMEM. */
ember_status ember_model_create(ember_model **out, int input_rank, const int64_t *input_shape,
                                uint64_t seed, ember_error *err);
/* Create an empty model whose examples are bags of token ids (ember_ragged,
 * e.g. from ember_pipeline_encode). Its first layers must be an Embedding
 * followed by GlobalAveragePooling1D. */
ember_status ember_model_create_ids(ember_model **out, uint64_t seed, ember_error *err);
/* Free a model. NULL is a no-op. */
void ember_model_destroy(ember_model *m);
/* A second handle on the weights of `m` for predicting from another thread at
 * the same time (a server keeps one per worker thread): it reads m's
 * parameters without copying them and has its own activation memory, thread
 * count (1) and metadata (none). It can predict only: fit, compile, save and
 * adding layers refuse it. `m` must outlive it and must not be trained while
 * it exists. Errors: EMBER_ERR_ARG, EMBER_ERR_STATE (m has no weights),
 * EMBER_ERR_NOMEM. */
ember_status ember_model_share(ember_model **out, const ember_model *m, ember_error *err);

/* Add layers (only before compile). A Dense layer takes a rank-1 input (a
 * rank > 1 input is an error: add Flatten first).
 * Weight layout: kernel W[in][out] (as Keras), y = x W + b. */
ember_status ember_model_add_dense(ember_model *m, int64_t units, ember_activation act,
                                   ember_error *err);
ember_status ember_model_add_dense_ex(ember_model *m, const ember_dense_config *cfg,
                                      ember_error *err);
/* Dense config with Keras' defaults: linear, Glorot uniform, bias on. */
ember_dense_config ember_dense_config_default(int64_t units);
/* A stand-alone activation layer (any ember_activation). */
ember_status ember_model_add_activation(ember_model *m, ember_activation act, ember_error *err);
/* Inverted dropout: in training each element is zeroed with probability
 * `rate` and the survivors are scaled by 1/(1-rate); identity in evaluation.
 * 0 <= rate < 1. */
ember_status ember_model_add_dropout(ember_model *m, float rate, ember_error *err);

/* Embedding(input_dim, output_dim): row i of a [input_dim][output_dim] table
 * per token id i. Must be the first layer of a model from
 * ember_model_create_ids and be followed by GlobalAveragePooling1D; the pair
 * computes the mean of an example's rows without padding (EmbeddingBag).
 * lazy = 1 (recommended): only the rows a batch touched get gradients and
 * optimizer updates ("lazy Adam": moments of other rows are not decayed);
 * lazy = 0: every row is updated every step, exactly as Keras' Adam does. */
ember_status ember_model_add_embedding(ember_model *m, int64_t input_dim, int64_t output_dim,
                                       int lazy, ember_error *err);
/* GlobalAveragePooling1D: mean over the sequence (after an Embedding). */
ember_status ember_model_add_global_average_pooling1d(ember_model *m, ember_error *err);

/* ------------------------------------------------------ image layers */
/* Images are NHWC: an example is [rows][columns][channels] (model input
 * shape {H, W, C}); layers keep that layout. */

typedef enum ember_padding {
    EMBER_PADDING_VALID = 0, /* no padding: OH = (H - k) / stride + 1 */
    EMBER_PADDING_SAME       /* zeros around: OH = ceil(H / stride), as Keras */
} ember_padding;

typedef struct ember_conv2d_config {
    int64_t filters;             /* output channels F, > 0 */
    int64_t kernel_h, kernel_w;  /* window, >= 1 */
    int64_t stride_h, stride_w;  /* >= 1 */
    ember_padding padding;
    ember_activation activation;
    ember_init kernel_init;      /* EMBER_INIT_DEFAULT = He uniform */
    int use_bias;
} ember_conv2d_config;

/* filters, a kernel x kernel window, stride 1, valid, linear, He uniform, bias. */
ember_conv2d_config ember_conv2d_config_default(int64_t filters, int64_t kernel);
/* Conv2D: input [H][W][C], kernel [kh][kw][C][F] (Keras' layout), output
 * [OH][OW][F]. Needs a rank-3 input. */
ember_status ember_model_add_conv2d(ember_model *m, int64_t filters, int64_t kernel,
                                    ember_activation act, ember_error *err);
ember_status ember_model_add_conv2d_ex(ember_model *m, const ember_conv2d_config *cfg,
                                       ember_error *err);

typedef struct ember_pool2d_config {
    int64_t pool_h, pool_w;      /* window, >= 1 */
    int64_t stride_h, stride_w;  /* 0: the window size */
    ember_padding padding;
} ember_pool2d_config;

/* Max pooling (a pool x pool window, stride = pool, valid padding), and the
 * general form. Padding never wins a max. */
ember_status ember_model_add_max_pool2d(ember_model *m, int64_t pool, ember_error *err);
ember_status ember_model_add_max_pool2d_ex(ember_model *m, const ember_pool2d_config *cfg,
                                           ember_error *err);
/* Average pooling; with "same" padding only the window's elements inside
 * the input are averaged (Keras' rule). */
ember_status ember_model_add_average_pool2d(ember_model *m, int64_t pool, ember_error *err);
ember_status ember_model_add_average_pool2d_ex(ember_model *m, const ember_pool2d_config *cfg,
                                               ember_error *err);
/* Mean over rows and columns: [H][W][C] -> [C]. */
ember_status ember_model_add_global_average_pooling2d(ember_model *m, ember_error *err);
/* Any input -> one vector, in row-major (H, W, C) order as Keras. */
ember_status ember_model_add_flatten(ember_model *m, ember_error *err);
/* BatchNormalization over the last axis. Training normalises with the
 * batch's mean and (biased) variance and updates moving averages:
 * moving = momentum * moving + (1 - momentum) * batch; evaluation and
 * predict use the moving averages. gamma/beta are trained; the moving
 * statistics are saved with the model but have no gradient. Keras'
 * defaults: momentum 0.99, epsilon 1e-3. */
ember_status ember_model_add_batch_normalization(ember_model *m, float momentum, float epsilon,
                                                 ember_error *err);

/* Build an uncompiled model from an architecture text: one layer per line,
 * '#' starts a comment, blank lines are ignored:
 *     embedding DIM [dense]          first layer of a text model; rows = input_dim
 *     global_average_pooling1d
 *     dense UNITS|classes [linear|relu|tanh|sigmoid|softmax] [he] [nobias]
 *     activation relu|tanh|sigmoid|softmax|linear
 *     dropout RATE
 * "classes" stands for the number of classes. The reference text model is
 *     embedding 64
 *     global_average_pooling1d
 *     dense 128 relu
 *     dense classes softmax
 * A model starting with embedding takes token ids (input_dim rows);
 * otherwise its input is input_dim features. `source` names the text in
 * errors ("model.arch:3: ..."). Errors: EMBER_ERR_FORMAT (unknown layer or
 * option, bad number, naming the line), layer errors. */
ember_status ember_model_create_from_arch(ember_model **out, const char *arch, const char *source,
                                          int64_t input_dim, int64_t classes, uint64_t seed,
                                          ember_error *err);
/* The same for inputs of any shape (rank 1..3 without the batch; images are
 * {H, W, C}). Image layers, one per line:
 *     conv2d FILTERS KERNEL [activation] [stride S] [same|valid] [glorot|he] [nobias]
 *     max_pool2d POOL [stride S] [same|valid]
 *     average_pool2d POOL [stride S] [same|valid]
 *     global_average_pooling2d
 *     flatten
 *     batch_normalization [momentum M] [epsilon E]
 * KERNEL, POOL and S are N or NxM (rows x columns); defaults: stride 1 for
 * conv2d and the pool size for pools, valid padding, He uniform kernels,
 * momentum 0.99 and epsilon 0.001. The Fashion-MNIST CNN of `--arch cnn`:
 *     conv2d 32 3 relu
 *     max_pool2d 2
 *     conv2d 64 3 relu
 *     max_pool2d 2
 *     flatten
 *     dense 128 relu
 *     dense classes softmax
 * For a model of token ids give input_rank 1 and the row count. */
ember_status ember_model_create_from_arch_shape(ember_model **out, const char *arch,
                                                const char *source, int input_rank,
                                                const int64_t *input_shape, int64_t classes,
                                                uint64_t seed, ember_error *err);

/* Shape of one example (without the batch dimension) into shape[0..rank);
 * returns the rank, 0 for a model of token ids. */
int ember_model_input_shape(const ember_model *m, int64_t shape[EMBER_MAX_DIMS]);

/* Number of layers added so far, and of trainable parameters. */
int ember_model_layer_count(const ember_model *m);
int64_t ember_model_param_count(const ember_model *m);
/* Write a Keras-like summary (one line per layer: type, output shape,
 * parameters) to `f`. */
void ember_model_summary(const ember_model *m, FILE *f);

/* Set the thread count used by OpenMP loops and OpenBLAS inside this model's
 * calls; n <= 0 means the number of cores. Same seed + same thread count gives
 * bit-identical weights. On a machine shared with other programs, run with
 * OMP_WAIT_POLICY=passive in the environment (the `ember` tool does this
 * itself): OpenMP's default spinning makes every parallel region wait for a
 * descheduled worker, which measured 100x slower with one busy core. */
void ember_model_set_threads(ember_model *m, int n);
int ember_model_get_threads(const ember_model *m);

/* Free-form string metadata saved in the model file's "__metadata__" map
 * (e.g. how inputs were prepared). Keys starting with "ember." are reserved.
 * Setting an existing key replaces its value. Errors: EMBER_ERR_ARG (NULL,
 * empty or reserved key), EMBER_ERR_NOMEM. */
ember_status ember_model_set_metadata(ember_model *m, const char *key, const char *value,
                                      ember_error *err);
/* Value for `key`, or NULL. Borrowed until the key is set again or the model
 * is destroyed. */
const char *ember_model_get_metadata(const ember_model *m, const char *key);
/* The metadata keys, in the order they were set (or stored): count, and the
 * i-th key (NULL outside 0..count-1). */
int ember_model_metadata_count(const ember_model *m);
const char *ember_model_metadata_key(const ember_model *m, int i);

/* Metadata keys with a fixed meaning, shared by the `ember` tool and the
 * server: a text model's pipeline (ember_pipeline_to_json), and the hand-off
 * threshold chosen by `ember calibrate` (ember_calibrate_threshold) with the
 * calibration's figures. The threshold is a float in [0, 1] written with
 * "%.9g", which strtof reads back bit for bit: compare the float top
 * probability p >= strtof(value) (strtod may read a value a hair above the
 * float, which would drop examples with p exactly at the threshold). The
 * calibration is a JSON object: {"target_precision", "threshold",
 * "precision", "coverage", "answered", "examples", "monotone_above" (true or
 * false), "data" (the validation file as given)}. */
#define EMBER_META_TEXT_PIPELINE "text.pipeline"
#define EMBER_META_SERVE_THRESHOLD "serve.threshold"
#define EMBER_META_SERVE_CALIBRATION "serve.calibration"

/* Metadata keys of the lineage `ember train` records (JSON values; the
 * contents are described in docs/data.md): the data's manifests
 * (ember_data_fingerprint), the resolved settings and the arguments that re-run
 * the training, the run (times, host, version, commit, seed, threads), the
 * per-epoch history ({"epochs": N, "<metric>": [N values], ...}) and the final
 * metrics. ember_report_write_html reads the history and the rest. */
#define EMBER_META_LINEAGE_DATA "lineage.data"
#define EMBER_META_LINEAGE_CONFIG "lineage.config"
#define EMBER_META_LINEAGE_RUN "lineage.run"
#define EMBER_META_LINEAGE_HISTORY "lineage.history"
#define EMBER_META_LINEAGE_METRICS "lineage.metrics"

/* ------------------------------------------------------------- compile */

typedef enum ember_optimizer_kind { EMBER_OPT_SGD = 0, EMBER_OPT_ADAM } ember_optimizer_kind;

typedef struct ember_optimizer_config {
    ember_optimizer_kind kind;
    float learning_rate;  /* > 0 */
    float momentum;       /* SGD: 0 <= momentum < 1 (0 = plain SGD) */
    int nesterov;         /* SGD: Nesterov momentum (needs momentum > 0) */
    float beta1, beta2;   /* Adam: decay of the first and second moments */
    float epsilon;        /* Adam: added to sqrt(v_hat) */
    float weight_decay;   /* L2: adds weight_decay * w to every kernel's gradient */
    float clip_norm;      /* > 0: rescale all gradients so their global L2 norm <= clip_norm */
} ember_optimizer_config;

/* Adam with Keras' defaults (beta1 0.9, beta2 0.999, epsilon 1e-7). */
ember_optimizer_config ember_optimizer_adam(float learning_rate);
/* SGD; momentum 0 is plain SGD. */
ember_optimizer_config ember_optimizer_sgd(float learning_rate, float momentum, int nesterov);

typedef enum ember_loss_kind {
    /* -sum_k y_k log p_k, mean over the batch. Targets: one-hot / probability
     * rows [N, K], or integer class ids [N] ("sparse"). When the last layer
     * ends in softmax, loss and softmax are fused (gradient p - y). */
    EMBER_LOSS_CATEGORICAL_CROSSENTROPY = 0,
    /* -(y log p + (1-y) log(1-p)), mean over all outputs; p from a sigmoid
     * output is fused the same way (gradient p - y). Targets in [0, 1]. */
    EMBER_LOSS_BINARY_CROSSENTROPY,
    /* mean over all outputs of (p - y)^2. */
    EMBER_LOSS_MSE
} ember_loss_kind;

/* Fix layers, allocate parameters (one aligned block) and initialise them
 * from the seed, and set up the optimizer. Calling compile again resets the
 * optimizer state but keeps the weights. Errors: EMBER_ERR_ARG (bad optimizer
 * settings, named field), EMBER_ERR_STATE (no layers), EMBER_ERR_NOMEM. */
ember_status ember_model_compile(ember_model *m, const ember_optimizer_config *opt,
                                 ember_loss_kind loss, ember_error *err);

/* ------------------------------------------------------------ training */

typedef enum ember_progress_event {
    EMBER_PROGRESS_EPOCH_BEGIN = 0,
    EMBER_PROGRESS_BATCH_END,
    EMBER_PROGRESS_EPOCH_END,
    /* on_nan = EMBER_ON_NAN_SKIP_BATCH: batch `step` was not applied;
     * `message` says why ("epoch 2, step 17: layer 2 (dense) has a NaN or Inf
     * gradient"), `skipped` counts this epoch's skipped batches so far. */
    EMBER_PROGRESS_BATCH_SKIPPED,
    /* A checkpoint was written and is durable: `message` is its path, epoch
     * and step the position it holds (step 0: the epoch's start). */
    EMBER_PROGRESS_CHECKPOINT,
    /* Training continues from the checkpoint at `message` (its path); epoch
     * and step are where it continues. Sent before anything else. */
    EMBER_PROGRESS_RESUMED,
    /* Something the caller should see but that does not stop training:
     * `message` is one line, e.g. a corrupt newest checkpoint that was
     * skipped (naming the file and why) or "no checkpoint yet". */
    EMBER_PROGRESS_WARNING
} ember_progress_event;

/* What a progress callback sees. Metrics are running means over the epoch so
 * far (batch end) or final (epoch end; val_* only there, NaN when absent). */
typedef struct ember_progress {
    ember_progress_event event;
    int epoch, epochs;            /* 0-based epoch index, total */
    int64_t step, steps;          /* batches done in this epoch, total per epoch */
    double elapsed_s;             /* since the epoch began (or was resumed) */
    double loss, accuracy;        /* accuracy is NaN for MSE */
    double val_loss, val_accuracy;
    double train_s;               /* epoch end: seconds of the training steps alone
                                     (elapsed_s minus the validation pass) */
    int64_t skipped;              /* batches skipped in this epoch so far (on_nan) */
    const char *message;          /* the events above that carry text; else NULL.
                                     Borrowed for the call only */
} ember_progress;

typedef void (*ember_progress_fn)(const ember_progress *p, void *user);

typedef enum ember_progress_style {
    EMBER_PROGRESS_BAR = 0,  /* Keras bar updated in place (a terminal) */
    EMBER_PROGRESS_LINES,    /* one plain line per epoch (logs, pipes) */
    EMBER_PROGRESS_JSON      /* one JSON object per epoch */
} ember_progress_style;

/* A ready-made printer: pass ember_progress_print as the callback and a
 * ember_progress_printer as `user`. Epoch lines add " - skipped: N" when
 * batches were skipped; resumes, warnings and skipped batches print one line
 * each (a JSON object in the JSON style); checkpoint writes print nothing. */
typedef struct ember_progress_printer {
    FILE *out;
    ember_progress_style style;
    double last_draw_s; /* internal: throttles redraws */
} ember_progress_printer;
void ember_progress_print(const ember_progress *p, void *printer);

/* What fit does when a batch's loss or a layer's gradient is NaN or Inf. */
typedef enum ember_on_nan {
    /* Stop: fit returns EMBER_ERR_NUMERIC naming the epoch, step and layer. */
    EMBER_ON_NAN_STOP = 0,
    /* Skip the batch: nothing it computed is applied (weights, optimizer
     * moments and step count, BatchNormalization statistics stay as they
     * were), its loss is left out of the epoch's metrics, and it is counted
     * (progress `skipped`, history "skipped_batches"). An epoch that skips
     * more than EMBER_SKIP_BATCH_MAX_PERCENT % of its batches (at least 1 is
     * always allowed) stops with EMBER_ERR_NUMERIC: by then the run has
     * diverged and skipping only hides it. */
    EMBER_ON_NAN_SKIP_BATCH
} ember_on_nan;

#define EMBER_SKIP_BATCH_MAX_PERCENT 10

/* Default number of checkpoints kept (ember_fit_config.checkpoint_keep). */
#define EMBER_CHECKPOINT_KEEP_DEFAULT 3

typedef struct ember_fit_config {
    int epochs;                 /* >= 1 */
    int64_t batch_size;         /* >= 1 */
    int shuffle;                /* reshuffle the training order each epoch */
    const ember_tensor *x_val;  /* validation inputs, or NULL */
    const struct ember_ragged *x_val_ids; /* validation token ids (ids models) */
    const ember_tensor *y_val;  /* validation targets (same forms as y) */
    /* Per-example weights of the training loss [N] (NULL: all 1), e.g. class
     * weights; the batch loss is sum(w_i * loss_i) / B as in Keras. */
    const float *sample_weight;
    ember_progress_fn progress; /* NULL: silent */
    void *progress_user;
    /* Training-time augmentation of image inputs (models whose input is
     * {H, W, C}); each example gets its own draw from the model's seed, the
     * epoch and its position in the epoch, so runs repeat exactly. */
    int augment_flip;           /* mirror left-right with probability 1/2 */
    int64_t augment_crop_pad;   /* > 0: pad by this many zero pixels on every side,
                                   then crop H x W back at a uniform random offset */
    ember_on_nan on_nan;        /* EMBER_ON_NAN_STOP (default) or _SKIP_BATCH */
    /* Checkpoints (docs/design.md, "Checkpoints"). With a folder, fit writes
     * the whole training state there (weights, optimizer state, position in
     * the data order, the epoch's running metrics, the history so far) as
     * "ckpt-<epoch>-<step>.safetensors", atomically, and keeps the newest
     * checkpoint_keep of them. The folder is created if missing. */
    const char *checkpoint_dir; /* NULL: no checkpoints (costs nothing) */
    int64_t checkpoint_every;   /* 0: at the end of each epoch; N > 0: after every
                                   N-th step, counted over the whole fit */
    int checkpoint_keep;        /* newest checkpoints kept (>= 1; 0 means
                                   EMBER_CHECKPOINT_KEEP_DEFAULT) */
    /* Continue from the newest checkpoint in checkpoint_dir that verifies;
     * a corrupt or partial newer one is reported (EMBER_PROGRESS_WARNING)
     * and the one before it is used. An empty or missing folder starts from
     * the beginning (with a warning). The model must be built and compiled as
     * for the interrupted run, and fit given the same data and settings; the
     * checkpoint's fingerprint of them is checked and a difference is
     * EMBER_ERR_STATE naming the field. The result is bit-identical to the
     * uninterrupted run. Without resume, a folder already holding
     * checkpoints is refused (EMBER_ERR_STATE), so runs are never mixed. */
    int resume;
    /* Data-parallel training (docs/distributed.md): NULL or a dist of one
     * rank trains as usual. With several ranks (ember_dist_mpi_create under
     * mpirun), every rank calls fit with the same model, data and settings;
     * each global mini-batch of batch_size rows (in the order the seed gives,
     * independent of the rank count) is split into contiguous shards, rank r
     * taking rows [B r / P, B (r + 1) / P); each rank computes the gradient
     * of its shard, the gradients are summed across ranks (the loss is
     * divided by the whole batch's B, so the sum is the single-process mean
     * gradient), and every rank applies the same optimizer step. Metrics are
     * summed across ranks; so is validation (each rank evaluates a
     * contiguous share of the validation rows). With a lazy embedding the rows updated are the union
     * of the rows any rank touched, as in one process. Checkpoints are
     * written by rank 0 only; the folder must be one every rank can read
     * (all resume from the same file, so resuming with another rank count
     * works). The weights match a single-process run up to the order of the
     * floating-point sums (docs/distributed.md gives the measured
     * difference). Not supported with several ranks: BatchNormalization
     * (per-shard statistics would differ; EMBER_ERR_UNSUPPORTED). When fit
     * fails, unless ember_dist_error_is_shared says every rank failed alike,
     * the others may wait in a collective: the caller ends the job
     * (ember_dist_abort). Borrowed for the call. */
    struct ember_dist *dist;
    /* With several ranks: 0 sums all gradients in one exchange after the
     * backward pass; > 0 cuts the dense layers' gradients into buckets of
     * about this many KiB (a bucket ends at a layer boundary), last layers
     * first, and starts each bucket's allreduce (MPI_Iallreduce) as soon as
     * the backward pass has finished its layers, so it overlaps the
     * backward of the layers before it. The sums are the same either way.
     * Default EMBER_DIST_BUCKET_KB_DEFAULT. */
    int64_t dist_bucket_kb;
} ember_fit_config;
#define EMBER_DIST_BUCKET_KB_DEFAULT 256

/* epochs 1, batch 32, shuffle on, no validation, silent, stop on NaN, no
 * checkpoints (keep EMBER_CHECKPOINT_KEEP_DEFAULT when enabled). */
ember_fit_config ember_fit_config_default(void);

/* Per-epoch record of every metric: "loss", "accuracy" (classification),
 * "val_loss", "val_accuracy" (with validation data), "skipped_batches"
 * (batches skipped for NaN/Inf; 0 unless on_nan skips). Loss and accuracy
 * are over the batches that were applied. */
typedef struct ember_history ember_history;
ember_status ember_history_create(ember_history **out, ember_error *err);
void ember_history_destroy(ember_history *h);
int ember_history_epochs(const ember_history *h);
/* The name of the k-th metric a history can hold, k = 0, 1, ...; NULL past
 * the last. A metric a run did not have (val_* without validation data)
 * reads as NaN. */
const char *ember_history_metric(int k);
/* Value of metric `name` after epoch `epoch` (0-based); NaN if absent. */
double ember_history_get(const ember_history *h, const char *name, int epoch);

/* Train. x: [N, ...input_shape]; y: [N, K] targets, or [N] integer class ids
 * for categorical cross-entropy. `history` may be NULL; otherwise epochs are
 * appended to it (when resuming, the checkpoint's epochs first, so it ends
 * as the uninterrupted run's would). Errors: EMBER_ERR_STATE (not compiled;
 * a checkpoint fingerprint that does not match, naming the field; a
 * checkpoint folder in use without resume), EMBER_ERR_SHAPE (x/y shapes,
 * named), EMBER_ERR_FORMAT (a label out of range, named by row),
 * EMBER_ERR_NUMERIC (NaN/Inf loss or gradient: epoch, step and layer named;
 * with skip-batch, too many skipped batches), EMBER_ERR_IO (a checkpoint
 * could not be written: the message names the file; the older checkpoints
 * are left intact, the model keeps the state it had reached). */
ember_status ember_model_fit(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                             const ember_fit_config *cfg, ember_history *history,
                             ember_error *err);

/* The same three calls for models whose input is token ids. */
ember_status ember_model_fit_ids(ember_model *m, const struct ember_ragged *x, const ember_tensor *y,
                                 const ember_fit_config *cfg, ember_history *history,
                                 ember_error *err);
ember_status ember_model_evaluate_ids(ember_model *m, const struct ember_ragged *x,
                                      const ember_tensor *y, int64_t batch_size, double *loss,
                                      double *accuracy, ember_error *err);
ember_status ember_model_predict_ids(ember_model *m, const struct ember_ragged *x,
                                     int64_t batch_size, ember_tensor **out, ember_error *err);

/* Loss and accuracy (NaN for MSE) over a data set, in evaluation mode.
 * batch_size <= 0 means 256. */
ember_status ember_model_evaluate(ember_model *m, const ember_tensor *x, const ember_tensor *y,
                                  int64_t batch_size, double *loss, double *accuracy,
                                  ember_error *err);

/* Outputs for x ([N, ...]) as a new [N, K] tensor owned by the caller. */
ember_status ember_model_predict(ember_model *m, const ember_tensor *x, int64_t batch_size,
                                 ember_tensor **out, ember_error *err);

/* --------------------------------------------------- distributed training */

/* A communicator for data-parallel fit (ember_fit_config.dist): this
 * process's rank, the rank count and the collectives fit needs. Ember
 * keeps no global state, but MPI does: create at most one MPI dist per
 * process, and use it from one thread. */
typedef struct ember_dist ember_dist;

/* 1 when this build has MPI (the EMBER_MPI build option, on when CMake
 * finds Open MPI's development files), else 0. */
int ember_dist_mpi_available(void);
/* A dist over MPI_COMM_WORLD: initialises MPI (MPI_Init_thread, funneled)
 * unless the program already did, and sets MPI_ERRORS_RETURN so a failed
 * collective comes back as EMBER_ERR_IO with MPI's message instead of
 * killing the process. Run the program under mpirun; alone it is one rank.
 * Errors: EMBER_ERR_UNSUPPORTED (built without MPI), EMBER_ERR_IO (MPI
 * failed to start), EMBER_ERR_NOMEM. */
ember_status ember_dist_mpi_create(ember_dist **out, ember_error *err);
/* Free; finalises MPI when ember_dist_mpi_create initialised it (so call it
 * once every rank is done; every rank must call it). NULL is a no-op. */
void ember_dist_destroy(ember_dist *d);
/* This process's rank (0 for NULL) and the rank count (1 for NULL). */
int ember_dist_rank(const ember_dist *d);
int ember_dist_size(const ember_dist *d);
/* End every rank of the job with exit status `code` (MPI_Abort). For the
 * program, after an error on one rank (the library never calls it).
 * Returns only when d is NULL or the abort failed. */
void ember_dist_abort(ember_dist *d, int code);
/* After a fit with this dist (several ranks) failed: 1 when every rank met
 * the same error at the same point, after agreeing on it (a checkpoint
 * folder refused or unreadable on a rank, NaN/Inf in the summed loss or
 * gradients, too many skipped batches), so each rank can return, destroy the
 * dist and exit normally; 0 otherwise (an I/O or MPI error, no memory,
 * anything before fit's first collective): the error may be this rank's
 * alone while the others wait in a collective, so end the job with
 * ember_dist_abort. 0 for NULL and before any failed fit. */
int ember_dist_error_is_shared(const ember_dist *d);
/* Time and volume of this process's collectives since creation or the
 * last reset (for benchmarks). */
typedef struct ember_dist_stats {
    double comm_seconds;       /* wall time inside collectives, waiting included */
    int64_t bytes;             /* payload bytes this rank contributed */
    int64_t calls;             /* collectives */
    int64_t sparse_exchanges;  /* steps whose embedding rows went sparsely */
    int64_t dense_exchanges;   /* steps whose embedding table went whole */
} ember_dist_stats;
void ember_dist_get_stats(const ember_dist *d, ember_dist_stats *s);
void ember_dist_reset_stats(ember_dist *d);

/* --------------------------------------------------------------- files */

/* Save to one file in the safetensors layout: 8-byte little-endian header
 * length, a JSON header (dtype, shape, data_offsets per tensor, and a
 * "__metadata__" map with the architecture, compile settings, seed and a
 * SHA-256 of the tensor bytes), then the raw little-endian float32 data.
 * Written to a temporary file and renamed, so a failed save leaves any old
 * file intact. Errors: EMBER_ERR_STATE (not compiled), EMBER_ERR_IO. */
ember_status ember_model_save(const ember_model *m, const char *path, ember_error *err);

/* Bit-for-bit comparison of two models' weight tensors (the tensors a model
 * file holds, in order). */
typedef struct ember_weights_diff {
    int identical;              /* every value has the same bits */
    int tensors;                /* tensors compared */
    int64_t values;             /* values compared */
    int differing_tensors;
    int64_t differing_values;
    double max_abs_diff;        /* largest |a - b| over differing values (NaN if one is NaN) */
    char first_tensor[48];      /* name of the first differing tensor, "" if none */
} ember_weights_diff;
/* Compare a and b. Errors: EMBER_ERR_ARG (NULL), EMBER_ERR_STATE (one is not
 * compiled: no weights yet), EMBER_ERR_SHAPE (other
 * architectures: tensor count, names or shapes differ, named),
 * EMBER_ERR_NOMEM. */
ember_status ember_model_compare_weights(const ember_model *a, const ember_model *b,
                                         ember_weights_diff *d, ember_error *err);

/* The model as JSON (caller frees with free()): {"architecture": {"input_shape":
 * [...], "layers": [{"type": ..., settings}, ...]}, "compile": {"loss", "optimizer"}
 * or null, "params": N}, the same objects the model file stores. Errors:
 * EMBER_ERR_ARG, EMBER_ERR_NOMEM. */
ember_status ember_model_describe_json(const ember_model *m, char **json, ember_error *err);

/* Load a model saved by ember_model_save; it comes back compiled and ready
 * for predict/evaluate/fit (optimizer state starts fresh). Every offset,
 * shape, length and the checksum are validated before any tensor is used.
 * Errors: EMBER_ERR_IO, EMBER_ERR_FORMAT (names the field or tensor). */
ember_status ember_model_load(ember_model **out, const char *path, ember_error *err);

/* Which kind of Ember file `path` is, from its header alone (no tensor is
 * read or checked): the metadata value ember.format, copied into
 * format[cap] — EMBER_FILE_FORMAT_MODEL for ember_model_load,
 * EMBER_FILE_FORMAT_RECOMMENDER for ember_recommender_load, "" when a
 * safetensors file has no ember.format (not an Ember file; the loaders
 * refuse it). For programs that accept either kind and then call the
 * loader that fits. Errors: EMBER_ERR_ARG (NULL, cap < 2), EMBER_ERR_IO
 * (cannot open), EMBER_ERR_FORMAT (not a safetensors file: too short, a
 * header length out of range, a header that is not a JSON object; an
 * ember.format that is not a string or not shorter than cap; each names the
 * file), EMBER_ERR_NOMEM. */
#define EMBER_FILE_FORMAT_MODEL "ember-model"
#define EMBER_FILE_FORMAT_RECOMMENDER "ember-recommender"
ember_status ember_file_format(const char *path, char *format, size_t cap, ember_error *err);

/* ------------------------------------------------------------- report */

/* What the report shows besides what the model file holds. */
typedef struct ember_report_options {
    const char *title;                 /* NULL: model_path, else "model" */
    const char *model_path;            /* shown in the title */
    const ember_class_report *test;    /* test results, or NULL (no per-class scores,
                                          no confusion matrix) */
    const char *test_path;             /* shown with them */
    const char *const *class_names;    /* [test->classes], or NULL: class ids */
    /* Image models: the test images [N, H, W, C] (C 1 or 3) with their true
     * and predicted classes [N]; the first max_images misclassified ones are
     * shown (0: 36). NULL: none. */
    const ember_tensor *images;
    const int64_t *truth, *pred;
    int max_images;
} ember_report_options;

/* Write one self-contained HTML page (inline SVG and CSS, a few lines of
 * inline JavaScript to sort the table; nothing loaded from a network) about
 * m: loss and accuracy curves per epoch for training and validation (from
 * the EMBER_META_LINEAGE_HISTORY the model holds), with test results the
 * per-class precision/recall/F1 as a sortable table and a bar chart, the
 * confusion matrix as a heat map (row-normalised shade, counts in the cells
 * for up to 12 classes, labels for up to 30, a tooltip on every cell) with the
 * most confused pairs, misclassified images for image models, and the
 * lineage (run, data files with their SHA-256, settings). Each curve is an
 * SVG polyline of class "curve" with data-metric, each matrix cell a rect of
 * class "cell" with data-true and data-pred. Written to a temporary file and
 * renamed. opt may be NULL. Errors: EMBER_ERR_ARG, EMBER_ERR_IO (path named),
 * EMBER_ERR_NOMEM. */
ember_status ember_report_write_html(const ember_model *m, const ember_report_options *opt,
                                     const char *path, ember_error *err);

/* The same kind of page for a recommender (`ember report REC.safetensors`):
 * the model summary (kind, users, items, settings) and, with test data, the
 * RMSE and MAE of a rating (MSE) model and for every model the top-K metrics
 * of ember_recommender_evaluate_ranking (Recall, NDCG, HR, MAP at K and
 * coverage) for the model next to the `popular` and `random` baselines, as
 * a table (one row per system, <tr data-system="model|popular|random">) and
 * an inline-SVG grouped bar chart (one <rect class="bar" data-system=...
 * data-metric="recall|ndcg|hr|map|coverage"> per system and metric); then
 * the loss per epoch and the lineage (data files, settings, run) that
 * `ember recommend train` stored in the file, drawn as the classifier
 * report draws them.
 * struct ember_recommender and ember_interactions are declared with the
 * recommender below. */
struct ember_recommender;
struct ember_interactions;
typedef struct ember_recommender_report_options {
    const char *title;                      /* NULL: model_path, else "recommender" */
    const char *model_path;                 /* shown in the title */
    const struct ember_interactions *test;  /* NULL: the summary only */
    /* The model's training data: each user's training items are left out of
     * their ranked list. Required with test (EMBER_ERR_ARG without it). */
    const struct ember_interactions *train;
    const char *test_path, *train_path;     /* shown with the figures */
    int k;                                  /* the K of the metrics (0: 10) */
    uint64_t seed;                          /* the random baseline's shuffle */
    int threads;                            /* for RMSE/MAE (0: 1) */
} ember_recommender_report_options;

/* Write the page to path (a temporary file, renamed). The figures are
 * computed here: ember_recommender_evaluate (MSE models only; a test file
 * without ratings gives none) and ember_recommender_evaluate_ranking.
 * Errors: EMBER_ERR_ARG (NULL r or path, test without train, k < 0), those
 * of the two evaluations, EMBER_ERR_IO (path named), EMBER_ERR_NOMEM. */
ember_status ember_report_write_recommender_html(const struct ember_recommender *r,
                                                 const ember_recommender_report_options *opt,
                                                 const char *path, ember_error *err);

/* ------------------------------------------------------------- serving */

/* An HTTP service for a text model (`ember serve`; docs/serve.md has the
 * endpoints and the JSON): it classifies texts, answers the intents an
 * answers file covers when the top probability reaches the threshold, and
 * hands off to a human otherwise. Given a recommender file instead (told by
 * ember_file_format), it answers POST /v1/recommend: the top items for a
 * user, leaving out the "exclude" ids, or the items similar to an item. libmicrohttpd runs `threads` worker
 * threads, each with its own poll() loop; a request is handled start to end on
 * its thread with its own ember_model_share of the weights.
 *
 * Life cycle: ember_server_create binds and listens at once (requests that
 * need the model get 503 until it is loaded), ember_server_load loads the
 * model and answers files (again: a reload, swapped in atomically; requests
 * already running finish on the old model; a file that fails to load leaves
 * the old model serving), ember_server_stop stops accepting, lets requests
 * in flight finish, and closes. The server keeps its own settings and
 * counters; no global state. */
typedef struct ember_server ember_server;

/* Receives one line (no newline) about server events: listening, loads,
 * reloads, failures. */
typedef void (*ember_log_fn)(void *user, const char *line);

typedef struct ember_server_config {
    const char *model_path;     /* text model or recommender file (required); loads
                                   read it again */
    const char *answers_path;   /* JSON object intent -> reply text; NULL: no answers */
    const char *host;           /* address to bind (numeric or a name); default 127.0.0.1 */
    int port;                   /* 0: an ephemeral port (see ember_server_port) */
    int threads;                /* worker threads (default 2) */
    double threshold;           /* hand-off below this top probability; < 0 (default): the
                                   model's calibrated EMBER_META_SERVE_THRESHOLD, else 0.5 */
    int64_t max_body;           /* request body limit in bytes (default 1 MiB; 413 beyond) */
    int max_texts;              /* texts per request (default 256) */
    int default_k;              /* top intents returned when a request gives no "k" (3) */
    unsigned timeout_s;         /* idle connection timeout in seconds (default 30) */
    unsigned max_connections;   /* concurrent connections (default 1024) */
    ember_log_fn log;           /* NULL: silent */
    void *log_user;
} ember_server_config;

ember_server_config ember_server_config_default(void);
/* Validate the settings, bind and start the worker threads. Errors:
 * EMBER_ERR_ARG (a setting out of range, naming it), EMBER_ERR_IO (the
 * address cannot be resolved or bound, with the reason). */
ember_status ember_server_create(ember_server **out, const ember_server_config *cfg,
                                 ember_error *err);
/* The port the server listens on (the ephemeral one when port was 0). */
int ember_server_port(const ember_server *s);
/* Load (or reload) the model and answers files and swap them in. On failure
 * the previous model, if any, keeps serving. Thread-safe; loads run one at a
 * time. Errors: those of ember_file_format, ember_model_load and
 * ember_recommender_load, EMBER_ERR_FORMAT (not a text model; an answers
 * file that is not a JSON object of strings or names an intent the model
 * does not have; a stored threshold outside [0, 1]), EMBER_ERR_ARG (an
 * answers file or a threshold with a recommender). */
ember_status ember_server_load(ember_server *s, ember_error *err);
/* 1 once a model is loaded. */
int ember_server_ready(const ember_server *s);
/* The loaded model's version: 1 for the first load, +1 per successful
 * reload; 0 before any. */
int64_t ember_server_model_version(const ember_server *s);
/* Stop accepting connections, wait up to drain_s seconds for requests in
 * flight, then close every connection and join the threads. Returns the
 * number of requests that were still running when the wait ended (0: a
 * clean stop). Idempotent. */
int ember_server_stop(ember_server *s, double drain_s);
/* Stop (without waiting) if running, and free. NULL is a no-op. */
void ember_server_destroy(ember_server *s);

/* ============================================================== recommend
 * Recommendations learnt from user behaviour (issue 10). Interaction files,
 * the MovieLens item table, and an explicit-rating model: biased matrix
 * factorisation
 *     r_hat(u, i) = mu + b_u + b_i + p_u . q_i
 * (mu the training ratings' mean, b the biases, p and q D-dimensional
 * factors), trained on 1/2 (r_hat - r)^2 + 1/2 l2_bias (b_u^2 + b_i^2) +
 * 1/2 l2 (|p_u|^2 + |q_i|^2) per rating with Ember's SGD or Adam, one rating
 * per step. The
 * design and the measured figures are in docs/recommend.md. */

/* Rating/interaction records: user and item ids (arbitrary strings, mapped to
 * dense indices in order of first appearance), a rating and a timestamp. */
typedef struct ember_interactions ember_interactions;

/* Read an interaction file: one record per line, fields
 *     user, item [, rating [, timestamp]]
 * separated by tabs (when the first line holds a tab), "::" (MovieLens
 * 1M/10M ratings.dat) or commas; every line has the first line's field
 * count. No quoting: an id holding the separator needs another separator.
 * The first line is a header, and skipped, when its first field is a known
 * column name (user, user_id, userid, userId, uid; any case) or when it has a
 * rating column that is not a number. MovieLens 100k's u.data, u1.base,
 * u1.test... (user item rating timestamp, tab-separated, no header) are read
 * as they are. CR LF line ends and blank lines are accepted. Without a rating
 * column every rating is 1 (implicit feedback); without a timestamp, 0.
 * Errors: EMBER_ERR_IO (cannot open or read), EMBER_ERR_FORMAT naming the
 * file, line and field ("u1.base:12: field 3 (rating): 'x' is not a
 * number"; wrong field count; empty id; a timestamp that is not an integer;
 * an empty file), EMBER_ERR_NOMEM. On failure *out is NULL. */
ember_status ember_interactions_load(ember_interactions **out, const char *path,
                                     ember_error *err);
void ember_interactions_destroy(ember_interactions *d); /* NULL ok */
int64_t ember_interactions_size(const ember_interactions *d);
int ember_interactions_has_ratings(const ember_interactions *d); /* 1 with a rating column */
int64_t ember_interactions_user_count(const ember_interactions *d);
int64_t ember_interactions_item_count(const ember_interactions *d);
/* Record i (0 <= i < size): ids borrowed from d, rating, timestamp. */
const char *ember_interactions_user(const ember_interactions *d, int64_t i);
const char *ember_interactions_item(const ember_interactions *d, int64_t i);
float ember_interactions_rating(const ember_interactions *d, int64_t i);
int64_t ember_interactions_timestamp(const ember_interactions *d, int64_t i);

/* The MovieLens item table (u.item): per line
 *     id|title|release date|video release date|IMDb URL|19 genre flags (0/1)
 * in Latin-1, converted to UTF-8 (each byte >= 0x80 becomes two bytes).
 * Errors: EMBER_ERR_IO, EMBER_ERR_FORMAT naming file:line and field (wrong
 * field count, empty or duplicate id, a flag that is not 0 or 1),
 * EMBER_ERR_NOMEM. On failure *out is NULL. */
#define EMBER_MOVIELENS_GENRES 19
typedef struct ember_items ember_items;
ember_status ember_items_load_movielens(ember_items **out, const char *path, ember_error *err);
void ember_items_destroy(ember_items *t); /* NULL ok */
int64_t ember_items_size(const ember_items *t);
/* Row k's id, UTF-8 title, and its EMBER_MOVIELENS_GENRES flags (0/1), all
 * borrowed from t. Row of id: -1 when absent. */
const char *ember_items_id(const ember_items *t, int64_t k);
const char *ember_items_title(const ember_items *t, int64_t k);
const unsigned char *ember_items_genres(const ember_items *t, int64_t k);
int64_t ember_items_find(const ember_items *t, const char *id);

/* What the factorisation is trained on:
 *   MSE  the ratings (explicit feedback), as above;
 *   BPR  which items a user has (implicit feedback; ratings ignored): for each
 *        record (u, i) and an item j drawn uniformly at random, the loss
 *        -log sigmoid(x), x = b_i - b_j + p_u . (q_i - q_j), plus the same L2
 *        on the touched rows (Rendle et al. 2009). mu and b_u stay 0; the
 *        scores rank items and are not ratings. With T threads j is drawn
 *        from the item group of the block (docs/recommend.md). */
typedef enum ember_mf_loss { EMBER_MF_LOSS_MSE = 0, EMBER_MF_LOSS_BPR = 1 } ember_mf_loss;

/* Settings of the matrix factorisation; defaults in parentheses (chosen on a
 * held-out part of MovieLens 100k u1.base, docs/recommend.md). */
typedef struct ember_mf_config {
    ember_mf_loss loss;   /* (MSE) */
    int64_t dim;          /* factors per user and item, D (100) */
    int epochs;           /* passes over the ratings (40) */
    ember_optimizer_config optimizer; /* SGD or Adam; weight_decay and
                                         clip_norm must be 0 (l2 below is the
                                         regulariser) */
    float l2;             /* >= 0: on the factors of each rating (0.1) */
    float l2_bias;        /* >= 0: on the two biases of each rating (0.02) */
    float lr_decay;       /* in (0, 1]: the learning rate of epoch e (from 0) is
                             learning_rate * lr_decay^e (0.95) */
    float init_std;       /* factors start N(0, init_std^2), biases 0 (0.1) */
    uint64_t seed;        /* initialisation and shuffling (42) */
    int threads;          /* >= 1 (1). The result depends on (seed, threads)
                             only: with T threads users and items are split
                             into T groups and the T x T blocks of ratings
                             are trained T at a time, no two sharing a user or
                             an item (stratified SGD), so bit-identical with
                             or without OpenMP */
} ember_mf_config;
ember_mf_config ember_mf_config_default(void);
/* The BPR defaults (tuned on a leave-last-out split of MovieLens 100k's
 * training part, docs/recommend.md): loss BPR, dim 64, 20 epochs, SGD lr 0.1
 * decay 0.95, l2 0.01, l2_bias 0.01; the rest as above. */
ember_mf_config ember_mf_config_bpr(void);

/* A trained recommender with its id maps. Opaque. */
typedef struct ember_recommender ember_recommender;

/* Train biased MF on `train` (which must have ratings for MSE). Progress: one
 * EMBER_PROGRESS_EPOCH_END event per epoch (loss = the mean per-rating
 * objective over the epoch, measured before each step; elapsed_s), NULL for
 * none. Errors: EMBER_ERR_ARG (a bad config field, named; data without
 * ratings or empty), EMBER_ERR_NUMERIC (the loss became NaN/Inf: names the
 * epoch; lower the learning rate), EMBER_ERR_NOMEM. */
ember_status ember_recommender_train_mf(ember_recommender **out, const ember_interactions *train,
                                        const ember_mf_config *cfg, ember_progress_fn progress,
                                        void *user, ember_error *err);
void ember_recommender_destroy(ember_recommender *r); /* NULL ok */
/* Predicted rating of (user, item) by id. A user or item not seen in
 * training contributes no factors and no bias: the prediction falls back to
 * mu + the known bias(es) (mu alone when both are unknown). *known gets bit 0
 * set when the user is known and bit 1 when the item is (NULL: not wanted).
 * For a two-tower model: the score u . v (an unknown user: the unknown
 * user's vector; an unknown item: 0). */
float ember_recommender_predict(const ember_recommender *r, const char *user, const char *item,
                                int *known);
int64_t ember_recommender_user_count(const ember_recommender *r);
int64_t ember_recommender_item_count(const ember_recommender *r);
const ember_mf_config *ember_recommender_config(const ember_recommender *r);
double ember_recommender_global_mean(const ember_recommender *r);

/* Rating-prediction metrics on a test set. */
typedef struct ember_rating_metrics {
    double rmse, mae;
    int64_t n;               /* ratings scored */
    int64_t unknown_users;   /* ratings whose user was not in training */
    int64_t unknown_items;   /* ratings whose item was not in training */
} ember_rating_metrics;
/* RMSE and MAE over every rating of `test` (unknown ids fall back as in
 * predict). Partial sums in double per fixed chunk, added in order, so the
 * figures do not depend on `threads` (>= 1). Errors: EMBER_ERR_ARG (test
 * without ratings or empty; a BPR model, whose scores are not ratings). */
ember_status ember_recommender_evaluate(const ember_recommender *r, const ember_interactions *test,
                                        int threads, ember_rating_metrics *out, ember_error *err);

/* Save in Ember's model-file layout (safetensors, written atomically):
 * tensors "mf.user_factors" [U, D], "mf.item_factors" [I, D],
 * "mf.user_bias" [U], "mf.item_bias" [I], "mf.global_mean" (a scalar);
 * metadata ember.format "ember-recommender", ember.format_version "1",
 * recommend.model "mf", recommend.config (JSON settings), recommend.users
 * and recommend.items (JSON arrays of the ids in index order), the versions
 * and ember.meta_sha256. Load checks all of it (unknown keys, shapes, the
 * checksums). Errors as ember_model_save / ember_model_load; loading a
 * classifier file here (or a recommender with ember_model_load) is
 * EMBER_ERR_FORMAT naming ember.format. */
ember_status ember_recommender_save(const ember_recommender *r, const char *path, ember_error *err);
ember_status ember_recommender_load(ember_recommender **out, const char *path, ember_error *err);
/* Top-K ranking (issue 10, part 2), for both models. Scores of all items
 * for a block of users are one matrix product (OpenBLAS sgemm), then a
 * partial sort per user: exact.
 *
 * Leave-last-out split: for every user with at least 2 records, the latest
 * (largest timestamp; on a tie the later line) goes to *test, the others to
 * *train; a user with one record stays in train. Ids keep their strings;
 * both outputs get their own maps. Errors: EMBER_ERR_NOMEM. On failure both
 * outputs are NULL. */
ember_status ember_interactions_split_last(const ember_interactions *d, ember_interactions **train,
                                           ember_interactions **test, ember_error *err);

/* Write d as tab-separated user, item[, rating[, timestamp]] lines (the
 * columns d has; no header; ratings as %.9g, exact for float), readable by
 * ember_interactions_load. Written to a temporary file and renamed over path.
 * Errors: EMBER_ERR_IO (naming the path), EMBER_ERR_FORMAT (an id holding a
 * tab, CR or LF: it could not be read back). */
ember_status ember_interactions_save(const ember_interactions *d, const char *path, ember_error *err);

/* Ranking metrics at K, averaged over the users that have at least one
 * relevant item (`users`):
 *   HR@K      1 if any relevant item is in the top K, else 0
 *   Recall@K  |relevant in top K| / |relevant|
 *   NDCG@K    sum over hits at rank j (0-based) of 1/log2(j + 2), divided by
 *             the same sum over ranks 0 .. min(K, |relevant|) - 1
 *   MAP@K     sum over hits at rank j of (hits up to j) / (j + 1), divided by
 *             min(K, |relevant|)
 *   coverage  distinct items in all the top-K lists / catalogue size
 *             (every user's list counts, relevant items or not) */
typedef struct ember_ranking_metrics {
    int k;
    double recall, ndcg, hr, map, coverage;
    int64_t users;
} ember_ranking_metrics;

/* Metrics of ranked lists. top: [n_users][k] item indices in [0, n_items),
 * best first, -1 for "no item" (a list shorter than k); relevant items of
 * user u: rel[rel_off[u] .. rel_off[u + 1]) (rel_off has n_users + 1
 * entries, rel_off[0] = 0; no repeats within a user). Errors: EMBER_ERR_ARG
 * naming the bad argument (k < 1, an index out of range, offsets that do
 * not increase). */
ember_status ember_ranking_metrics_compute(const int64_t *top, int64_t n_users, int k,
                                           const int64_t *rel, const int64_t *rel_off,
                                           int64_t n_items, ember_ranking_metrics *out,
                                           ember_error *err);

/* The k items of highest predicted rating for `user` (model item indices, best
 * first; ties: the lower index first), leaving out `n_exclude` item indices
 * (e.g. those the user has already rated). *n_out = how many were found (less
 * than k when the catalogue runs out). MF: an unknown user gets the items of
 * the highest bias; scores are the predicted ratings. Two-tower: scores are
 * u . v; an unknown user is scored with the unknown user's vector. scores
 * may be NULL. Errors:
 * EMBER_ERR_ARG (k < 1, an exclude index out of range), EMBER_ERR_NOMEM. */
ember_status ember_recommender_top_k(const ember_recommender *r, const char *user, int k,
                                     const int64_t *exclude, int64_t n_exclude, int64_t *items,
                                     float *scores, int *n_out, ember_error *err);
/* The k items most similar to `item`: cosine of the item factors
 * q_i . q_j / (|q_i| |q_j|) (two-tower: of the item vectors v) (0 when
 * either is all zeros), best first, ties to
 * the lower index, the item itself left out. Errors: EMBER_ERR_ARG (k < 1;
 * an item the model does not know, named), EMBER_ERR_NOMEM. */
ember_status ember_recommender_similar(const ember_recommender *r, const char *item, int k,
                                       int64_t *items, float *scores, int *n_out,
                                       ember_error *err);
/* Item id of model item index k (0 <= k < item count), borrowed from r;
 * NULL out of range. The same for users. */
const char *ember_recommender_item_id(const ember_recommender *r, int64_t k);
const char *ember_recommender_user_id(const ember_recommender *r, int64_t k);

/* Rank every item for each user of `test` that the model knows, leaving out
 * the items the user has in `train` (the data the model was trained on), and
 * score the lists against the user's `test` items with the metrics above.
 * The same code ranks two baselines: `popular` (items by their number of
 * train records, ties by lower index) and `random` (a seeded shuffle per
 * user). Test items unknown to the model count as relevant but can never be
 * hit. Any output may be NULL. Errors: EMBER_ERR_ARG, EMBER_ERR_NOMEM. */
ember_status ember_recommender_evaluate_ranking(const ember_recommender *r,
                                                const ember_interactions *train,
                                                const ember_interactions *test, int k,
                                                uint64_t seed, ember_ranking_metrics *model,
                                                ember_ranking_metrics *popular,
                                                ember_ranking_metrics *random,
                                                ember_error *err);

/* ------------------------------------------------- two-tower (part 2)
 * Feature tables: one row of floats per user or item id, for the two-tower
 * model. ember_features_load reads
 *   - MovieLens u.item (24 '|'-separated fields, Latin-1): the 19 genre
 *     flags, columns named after the genres;
 *   - MovieLens u.user (id|age|gender|occupation|zip, no header): age
 *     standardised, gender and occupation one-hot, the zip code's first
 *     character one-hot (columns "gender=M", "occupation=writer", "zip1=9");
 *   - any other CSV, TSV or '|'-separated file WITH a header line: the first
 *     column is the id, every other column a feature. A column whose values
 *     are all 0 or 1 is used as it is; another numeric column is
 *     standardised ((x - mean) / std over the file; empty = 0); any other
 *     column becomes one-hot flags of its 32 most frequent values ("name=
 *     value"; rarer values and empty cells: all flags 0). A column that is
 *     empty in every row is dropped.
 * Errors: EMBER_ERR_IO, EMBER_ERR_FORMAT naming file:line and field (a row
 * with another field count than the header, an empty or repeated id, a bad
 * age, no feature column, no rows), EMBER_ERR_NOMEM. */
typedef struct ember_features ember_features;
ember_status ember_features_load(ember_features **out, const char *path, ember_error *err);
void ember_features_destroy(ember_features *f); /* NULL ok */
int64_t ember_features_rows(const ember_features *f);
int64_t ember_features_width(const ember_features *f);   /* floats per row */
const char *ember_features_id(const ember_features *f, int64_t k);
int64_t ember_features_find(const ember_features *f, const char *id); /* -1: absent */
const float *ember_features_row(const ember_features *f, int64_t k);  /* [width] */
const char *ember_features_column(const ember_features *f, int64_t j); /* name of float j */

/* The two-tower model for implicit feedback:
 *   user tower  u = f_U([e_user ; x_user])   item tower  v = f_I([e_item ; x_item])
 *   score(user, item) = u . v
 * e: an id embedding of id_dim floats; x: the features (none without a
 * feature file); f: Dense(hidden, relu) -> Dense(dim) (just Dense(dim) with
 * hidden = 0), Ember's Dense layers and optimizers. Trained with a sampled
 * softmax: each batch row's positive item against `negatives` items drawn
 * uniformly from the items of the training data, shared by the batch (a
 * negative equal to the row's positive is left out of that row), mean
 * cross-entropy over the rows; ratings are ignored (every record is a
 * positive). Id dropout: each time a row is used, its user id and each item
 * id are replaced with probability id_dropout by the "unknown" embedding, so
 * the towers also learn to score from features alone. Users and items that
 * are only in the feature files (cold start: no interactions) are in the
 * model and always use the unknown embedding: they are scored from their
 * features; a user the model does not know at all gets the unknown
 * embedding and no features. */
typedef struct ember_two_tower_config {
    int64_t dim;          /* output vector length D (64) */
    int64_t id_dim;       /* id embedding length (32) */
    int64_t hidden;       /* units of each tower's ReLU layer, 0 = none (128) */
    int epochs;           /* passes over the records (20) */
    int64_t batch_size;   /* records per step (256) */
    int64_t negatives;    /* sampled items per step (256) */
    ember_optimizer_config optimizer; /* (Adam, learning rate 1e-3); weight_decay and
                                         clip_norm must be 0 */
    float id_dropout;     /* in [0, 1) (0.1) */
    uint64_t seed;        /* initialisation, shuffling, sampling, dropout (42) */
    int threads;          /* >= 1 (1); the result depends on the seed only */
    /* Data-parallel training (docs/distributed.md): NULL or one rank trains
     * alone. With several ranks (ember_dist_mpi_create under mpirun) every
     * rank must call with the same data and settings; each takes a
     * contiguous shard of every batch's rows (the negatives are shared),
     * the tower gradients are summed with one allreduce and the embedding
     * rows touched by any rank sparsely (their union), so every rank holds
     * the same model, equal to one process's up to the order of float sums.
     * Borrowed for the call; not kept in the model. */
    struct ember_dist *dist;
} ember_two_tower_config;
ember_two_tower_config ember_two_tower_config_default(void);

/* Train on `train` (ratings ignored) with optional user and item feature
 * tables (NULL: ids only). The model's users are the training data's, then
 * the feature table's other ids (cold start); the same for items. Progress:
 * one EMBER_PROGRESS_EPOCH_END per epoch (loss: the mean sampled-softmax
 * loss of the epoch's steps). Errors: EMBER_ERR_ARG (a bad config field,
 * named; no interactions), EMBER_ERR_NUMERIC (the loss became NaN/Inf),
 * EMBER_ERR_NOMEM. */
ember_status ember_recommender_train_two_tower(ember_recommender **out,
                                               const ember_interactions *train,
                                               const ember_features *users,
                                               const ember_features *items,
                                               const ember_two_tower_config *cfg,
                                               ember_progress_fn progress, void *user,
                                               ember_error *err);
/* "mf" or "two-tower". */
const char *ember_recommender_model(const ember_recommender *r);
/* The settings of a two-tower model; NULL for MF (and ember_recommender_config
 * is NULL for a two-tower model). */
const ember_two_tower_config *ember_recommender_two_tower_config(const ember_recommender *r);
/* Users / items of the model that had no training interactions (scored from
 * their features alone); 0 for MF. */
int64_t ember_recommender_cold_users(const ember_recommender *r);
int64_t ember_recommender_cold_items(const ember_recommender *r);
/* Metadata of the caller's own, saved in the model file with the rest and
 * covered by its metadata checksum; `ember recommend train` stores the
 * lineage.* keys here (EMBER_META_LINEAGE_*: data manifests, settings, run,
 * per-epoch history, final metrics). Keys may not be empty or start with
 * "ember." or "recommend." (EMBER_ERR_ARG); setting a key again replaces its
 * value. get: NULL when absent. */
ember_status ember_recommender_set_metadata(ember_recommender *r, const char *key,
                                            const char *value, ember_error *err);
const char *ember_recommender_get_metadata(const ember_recommender *r, const char *key);
int ember_recommender_metadata_count(const ember_recommender *r);
const char *ember_recommender_metadata_key(const ember_recommender *r, int i);
/* ========================================================== end recommend */

#ifdef __cplusplus
}
#endif
#endif /* EMBER_H */
