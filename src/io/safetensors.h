/*
 * safetensors.h - read and write files in the safetensors layout, float32
 * tensors only. Internal to Ember: the model save/load code builds on it.
 *
 * Layout: an 8-byte little-endian unsigned header length N, N bytes of UTF-8
 * JSON, then the data section. The JSON is an object; each key except
 * "__metadata__" names a tensor:
 *     {"dtype":"F32","shape":[d0,...],"data_offsets":[begin,end]}
 * with offsets relative to the start of the data section, and
 * "__metadata__" maps strings to strings. Tensors fill the data section
 * contiguously from offset 0 with no holes or overlaps; data is
 * little-endian. These are the rules of Python's `safetensors` package,
 * which reads the files written here.
 *
 * What it adds: the writer stores "ember.sha256", the lowercase hex SHA-256
 * of the whole data section, in __metadata__, and the reader checks it when
 * present. What it deliberately doesn't do: other dtypes (F16, BF16, I64, ...
 * are refused, not converted), memory mapping (the data section is read into
 * memory once), big-endian hosts (EMBER_ERR_UNSUPPORTED at run time), or
 * streaming: a file is read or written whole in one call.
 *
 * Limits (EMBER_ST_*, below): the header is at most 100,000,000 bytes, and
 * every shape entry and offset at most 2^53.
 *
 * Threading: an ember_st_file is read-only after ember__st_read, so several
 * threads may query one at the same time. Two threads of one process must not
 * write the same path at the same time (they would share a temporary file).
 */
#ifndef EMBER_IO_SAFETENSORS_H
#define EMBER_IO_SAFETENSORS_H

#include "ember.h"

/* Largest header the reader accepts, in bytes: 16 MiB. Ember's headers are a
 * few KiB (architecture, settings, lineage). The cap bounds what a hostile
 * header can make us allocate: cJSON builds its whole tree before any check,
 * about 40 bytes per byte of header in the worst case (measured: 4 GB for a
 * 100 MB header), so 16 MiB keeps that under ~700 MB. Python's reference
 * reader allows 100 MB; every file we write is far below both. */
#define EMBER_ST_MAX_HEADER (16ULL << 20)

/* Largest shape entry and data offset, read or written: 2^53 = 9007199254740992.
 * JSON readers that hold numbers as doubles (cJSON, JavaScript) are exact only
 * up to here. It is 8 PiB of data, so no real file comes near it. */
#define EMBER_ST_MAX_INT 9007199254740992ULL

/* Metadata key under which the writer stores the data section's SHA-256. */
#define EMBER_ST_CHECKSUM_KEY "ember.sha256"

/* One tensor to write. Borrowed for the call of ember__st_write only. */
typedef struct ember_st_tensor {
    const char *name;               /* UTF-8, unique in the file, not "__metadata__" */
    int ndim;                       /* 0..EMBER_MAX_DIMS; 0 is a scalar (1 element) */
    int64_t shape[EMBER_MAX_DIMS];  /* shape[0..ndim-1] >= 0; the rest is ignored */
    const float *data;              /* numel floats, row-major; NULL only if numel == 0 */
} ember_st_tensor;

/* A parsed and fully validated file: header plus all tensor data. Opaque. */
typedef struct ember_st_file ember_st_file;

/* Write `n_tensors` tensors and `n_meta` metadata strings to `path`.
 *
 * The data section holds the tensors in the order given; the header is padded
 * with spaces so the data section starts at a file offset that is a multiple
 * of 8. Metadata gets EMBER_ST_CHECKSUM_KEY added (SHA-256 of the data
 * section). meta_keys/meta_values may be NULL when n_meta == 0. Everything is
 * borrowed for the call.
 *
 * Atomic: the bytes go to "<path>.tmp.<pid>" in the same directory, which is
 * fsynced, closed and renamed over `path`; then the directory is fsynced. On
 * failure the temporary file is removed and an existing file at `path` is left
 * as it was, except in one case: when only the final directory fsync fails,
 * the new file is already in place but may not survive a crash. The new file
 * gets mode 0666 minus the umask (an old file's mode is not kept); if `path`
 * is a symbolic link, the link itself is replaced.
 *
 * Errors:
 *   EMBER_ERR_ARG: NULL path, n_tensors or n_meta negative, NULL arrays with
 *     a positive count, a NULL or non-UTF-8 name/key/value, a duplicate tensor
 *     name or metadata key, a tensor named "__metadata__", a caller-supplied
 *     EMBER_ST_CHECKSUM_KEY, ndim outside 0..EMBER_MAX_DIMS, a negative dim,
 *     NULL data for a tensor with elements, a shape or total size above
 *     EMBER_ST_MAX_INT, a header above EMBER_ST_MAX_HEADER. Nothing is written.
 *   EMBER_ERR_IO: create/write/sync/rename failed; the message starts with
 *     `path` and ends with strerror(errno).
 *   EMBER_ERR_NOMEM: allocation or libcrypto failure.
 *   EMBER_ERR_UNSUPPORTED: big-endian host. */
ember_status ember__st_write(const char *path, const ember_st_tensor *tensors, int n_tensors,
                             const char *const *meta_keys, const char *const *meta_values,
                             int n_meta, ember_error *err);

/* Crash-injection points of the atomic writer, in the order they are
 * reached: the header is in the temporary file; all bytes are written (not
 * yet synced); the temporary file is fsynced and closed; it is renamed over
 * `path` (the directory is not yet synced); the directory is synced. */
enum {
    EMBER_ST_STAGE_HEADER = 1,
    EMBER_ST_STAGE_WRITTEN,
    EMBER_ST_STAGE_SYNCED,
    EMBER_ST_STAGE_RENAMED,
    EMBER_ST_STAGE_DIR_SYNCED
};

/* A test-only observer of the writer: `at(stage, user)` is called as each
 * stage above is reached (a crash test _exit()s there in a forked child).
 * Production code passes NULL. */
typedef struct ember_st_hook {
    void (*at)(int stage, void *user);
    void *user;
} ember_st_hook;

/* ember__st_write with a hook (NULL: none); otherwise the same. */
ember_status ember__st_write_hooked(const char *path, const ember_st_tensor *tensors,
                                    int n_tensors, const char *const *meta_keys,
                                    const char *const *meta_values, int n_meta,
                                    const ember_st_hook *hook, ember_error *err);

/* Read and validate the whole file at `path`. On success *out is a new file
 * object owned by the caller (free with ember__st_free); on failure *out is
 * not touched.
 *
 * Everything is checked before the call returns, in this order: the file
 * size against the header length (never allocating more than the file could
 * hold), the header as strict JSON (UTF-8, no duplicate keys, no control
 * characters, no "\u0000"), each tensor entry (exactly dtype, shape and
 * data_offsets; dtype "F32"; 0..4 dims, each an integer in [0, 2^53];
 * begin <= end; end - begin == 4 * numel; end inside the data section),
 * contiguity (sorted by offset, the tensors tile the data section from 0 with
 * no hole, overlap or trailing byte), __metadata__ (an object of strings;
 * EMBER_ST_CHECKSUM_KEY, if present, 64 lowercase hex digits), then the data
 * is read and, when the checksum is present, compared with it.
 *
 * Errors (every message starts with `path` and names the field or tensor):
 *   EMBER_ERR_IO: cannot open, stat or read the file, or it is not a regular
 *     file.
 *   EMBER_ERR_FORMAT: any rule above broken, including "not valid JSON" and
 *     "checksum mismatch: the tensor data is corrupt" (with both hashes), or
 *     the file changed size while being read.
 *   EMBER_ERR_UNSUPPORTED: a dtype of the safetensors format other than F32
 *     (F16, BF16, F64, I64, ...); an unknown dtype is EMBER_ERR_FORMAT. Also a
 *     big-endian host.
 *   EMBER_ERR_NOMEM: allocation or libcrypto failure.
 *   EMBER_ERR_ARG: NULL out or path. */
ember_status ember__st_read(ember_st_file **out, const char *path, ember_error *err);

/* Free a file object and all its data (every pointer it handed out). NULL is
 * a no-op. */
void ember__st_free(ember_st_file *f);

/* The queries below take a non-NULL file from ember__st_read and never fail.
 *
 * 1 if the file carried EMBER_ST_CHECKSUM_KEY (and so it was verified), else 0.
 * The model loader requires it; plain safetensors files from elsewhere lack it. */
int ember__st_has_checksum(const ember_st_file *f);

/* 1 if the header is byte for byte what ember__st_write writes for the same
 * tensors and metadata in the same order (cJSON's unformatted JSON, then
 * spaces up to a multiple of 8 bytes), else 0. A header can mean the same
 * thing in other text (whitespace, "\u001B" for "\u001b"); the model loader
 * refuses those, since the checksums cover values, not the text. Files from
 * other writers (Python's safetensors) are valid but usually not canonical. */
int ember__st_header_canonical(const ember_st_file *f);

/* Number of tensors in the file. */
int ember__st_count(const ember_st_file *f);

/* Name of tensor i (0 <= i < count), in header order; NULL if i is out of
 * range. Borrowed from `f` until ember__st_free. With ember__st_count this
 * lets a loader reject files holding tensors it does not expect. */
const char *ember__st_name(const ember_st_file *f, int i);

/* Shape of tensor i: writes ndim entries to shape and returns ndim (0..4), or
 * -1 if i is out of range. */
int ember__st_shape(const ember_st_file *f, int i, int64_t shape[EMBER_MAX_DIMS]);

/* Metadata: the value for `key`, or NULL if absent; number of entries
 * (including EMBER_ST_CHECKSUM_KEY when present); key of entry i in header
 * order (NULL if out of range), so a loader can reject unknown keys. Strings
 * are borrowed from `f` until ember__st_free. */
const char *ember__st_meta(const ember_st_file *f, const char *key);
int ember__st_meta_count(const ember_st_file *f);
const char *ember__st_meta_key(const ember_st_file *f, int i);

/* Find tensor `name`, check that its shape is exactly (ndim, shape), and set
 * *data to its float data: row-major, host order (the host is little-endian;
 * see above), EMBER_ALIGNMENT-aligned, owned by `f` and valid until
 * ember__st_free. For a tensor with no elements *data is non-NULL but must
 * not be dereferenced. A scalar has ndim 0 (shape may then be NULL).
 * Errors: EMBER_ERR_FORMAT "<path>: tensor 'x' is missing" or
 * "<path>: tensor 'x' has shape [3,4], expected [4,3]"; EMBER_ERR_ARG (NULL
 * f/name/data, ndim outside 0..EMBER_MAX_DIMS, NULL shape with ndim > 0).
 * On failure *data is not touched. */
ember_status ember__st_get(const ember_st_file *f, const char *name, int ndim,
                           const int64_t *shape, const float **data, ember_error *err);

#endif
