/*
 * checkpoint.h - training checkpoints (checkpoint.c), internal to Ember: fit
 * (train.c) writes and resumes them; tests call these functions directly
 * (test_checkpoint.c injects crashes through the writer's hook).
 *
 * A checkpoint is one safetensors file "<dir>/ckpt-<EEEEEEEE>-<SSSSSSSSSSSS>.safetensors"
 * (E: the model's epochs done, S: steps done in the next epoch, zero-padded
 * so names sort in training order) holding the whole mutable training state;
 * docs/design.md ("Checkpoints") lists it. Also here: the model-file helpers
 * that serialize.c shares with the checkpoint writer.
 */
#ifndef EMBER_CHECKPOINT_H
#define EMBER_CHECKPOINT_H

#include "io/hash.h"
#include "io/safetensors.h"
#include "model.h"

/* ------------------------------------------------ shared with serialize.c */

/* Length of a parameter tensor name "layers.<i>.<suffix>" buffer. */
#define EMBER_TENSOR_NAME_MAX 48

/* The model's parameter tensors in file order ("layers.<i>.kernel", ...),
 * pointing into m->params; names are written to names[]. With out == NULL
 * only counts. Returns the count. Together they tile the parameter block in
 * order, so flat arrays of the same layout (optimizer state) follow it. */
int ember__model_param_tensors(const ember_model *m, ember_st_tensor *out,
                               char (*names)[EMBER_TENSOR_NAME_MAX]);
/* The architecture and compile settings as JSON text (caller frees); NULL
 * when out of memory. The same text as the model file's metadata. */
char *ember__model_architecture_json(const ember_model *m);
char *ember__model_compile_json(const ember_model *m);
/* SHA-256 over metadata pairs, sorted by key, skipping `skip_key` and the
 * tensor checksum, each pair hashed as key NUL value NUL. */
ember_status ember__meta_hash(int n, const char *const *keys, const char *const *vals,
                              const char *skip_key, char out[EMBER_SHA256_HEX_LEN + 1],
                              ember_error *err);

/* ------------------------------------------------------------ checkpoints */

/* Where training stands: what a checkpoint holds besides the model's
 * parameters, optimizer state and epochs_done. */
typedef struct ember_ckpt_pos {
    int epoch;          /* epochs finished in this fit call */
    int64_t step;       /* steps finished in the current epoch (0 at its start) */
    double loss_sum;    /* the current epoch's sums over applied batches */
    int64_t correct, seen, skipped;
} ember_ckpt_pos;

typedef struct ember_ckpt ember_ckpt;

/* A buffer for a checkpoint's path in messages (longer paths are cut). */
#define EMBER_CKPT_PATH_MAX 4160

/* A stage of ember__ckpt_save after the writer's (EMBER_ST_STAGE_*): one old
 * checkpoint has just been deleted by the rotation. */
#define EMBER_CKPT_STAGE_PRUNED 100

/* Open (creating it and its parents if missing) the checkpoint folder `dir`
 * for a fit keeping the newest `keep` (>= 1) checkpoints. Stale temporary
 * files of an interrupted save ("ckpt-*.safetensors.tmp.*") are removed.
 * Errors: EMBER_ERR_IO naming the folder, EMBER_ERR_NOMEM. */
ember_status ember__ckpt_open(ember_ckpt **out, const char *dir, int keep, ember_error *err);
void ember__ckpt_close(ember_ckpt *ck);

/* Add one fingerprint field: what must be equal for a resume (architecture,
 * seed, batch size, a data hash...). Stored as metadata "fingerprint.<name>". */
ember_status ember__ckpt_fingerprint(ember_ckpt *ck, const char *name, const char *value,
                                     ember_error *err);

/* The fingerprint of a fit: the model's architecture, compile settings,
 * seed, thread count and epochs_done; cfg's batch size, epochs, shuffle and
 * augmentation; the number of examples and SHA-256 hashes of the inputs (x
 * or ids), targets y, sample weights and validation data. */
ember_status ember__ckpt_fingerprint_fit(ember_ckpt *ck, const ember_model *m,
                                         const ember_fit_config *cfg, const ember_tensor *x,
                                         const ember_ragged *ids, const ember_tensor *y,
                                         ember_error *err);

/* Number of checkpoint files (valid or not) in the folder. */
int ember__ckpt_count(const ember_ckpt *ck, ember_error *err);

/* Write the state of m plus pos and `hist` (this fit's epochs so far) as
 * the checkpoint for (m->epochs_done, pos->step), then delete all but the
 * newest `keep` checkpoints at or before it. Durable before anything old is
 * deleted. `hook` (NULL in production) sees the writer's stages and
 * EMBER_CKPT_STAGE_PRUNED. The path written goes to path_out (may be NULL).
 * Errors: EMBER_ERR_IO naming the file (older checkpoints are untouched),
 * EMBER_ERR_NOMEM. */
ember_status ember__ckpt_save(ember_ckpt *ck, const ember_model *m, const ember_ckpt_pos *pos,
                              const ember_history *hist, const ember_st_hook *hook,
                              char *path_out, size_t path_cap, ember_error *err);

/* Receives one warning line (a skipped checkpoint and why). */
typedef void (*ember_ckpt_warn_fn)(const char *message, void *user);

/* Find the newest checkpoint that verifies (length, JSON, both checksums,
 * format) and restore it into m (parameters, optimizer state and step
 * count, epochs_done), *pos and hist (replaced by the checkpoint's epochs).
 * Newer files that fail to verify are reported through warn, naming the file
 * and the reason, and renamed to "<name>.corrupt" so later resumes do not
 * stumble on them again. Returns EMBER_OK with *found = 0 when no checkpoint
 * verifies (nothing restored). The path used goes to path_out.
 * Errors: EMBER_ERR_STATE when the checkpoint's fingerprint differs from
 * the one given with ember__ckpt_fingerprint (the message names the field
 * and both values), or it does not fit the model; EMBER_ERR_IO (cannot list
 * the folder), EMBER_ERR_NOMEM. */
ember_status ember__ckpt_resume(ember_ckpt *ck, ember_model *m, ember_ckpt_pos *pos,
                                ember_history *hist, int *found, ember_ckpt_warn_fn warn,
                                void *warn_user, char *path_out, size_t path_cap,
                                ember_error *err);

#endif
