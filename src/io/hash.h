/*
 * hash.h - SHA-256 through OpenSSL's libcrypto (EVP), as lowercase hex.
 * Used for the "ember.sha256" checksum of model files; any part of Ember may
 * use it. One-shot (ember__sha256_hex) and incremental (init/update/final)
 * forms. Not part of the public API. No other hash functions on purpose.
 */
#ifndef EMBER_IO_HASH_H
#define EMBER_IO_HASH_H

#include "ember.h"

/* Length of a SHA-256 in lowercase hex, without the terminating NUL. */
#define EMBER_SHA256_HEX_LEN 64

/* Incremental SHA-256. The caller owns the struct; `ctx` is libcrypto's
 * EVP_MD_CTX, hidden so this header does not pull in OpenSSL. One thread at
 * a time per struct. */
typedef struct ember_sha256 {
    void *ctx;
} ember_sha256;

/* Start a digest. On success the caller must end it with ember__sha256_final
 * or ember__sha256_deinit. Errors: EMBER_ERR_NOMEM (libcrypto could not
 * allocate or set up SHA-256; *h is left with ctx == NULL). */
ember_status ember__sha256_init(ember_sha256 *h, ember_error *err);

/* Hash `len` more bytes. `data` may be NULL when len == 0. Errors:
 * EMBER_ERR_NOMEM (libcrypto failure); the digest stays valid only for
 * ember__sha256_deinit afterwards. */
ember_status ember__sha256_update(ember_sha256 *h, const void *data, size_t len,
                                  ember_error *err);

/* Finish: write 64 lowercase hex digits and a NUL to `out`, and release the
 * context (whether or not it succeeds; ember__sha256_deinit is then a no-op).
 * Errors: EMBER_ERR_NOMEM (libcrypto failure; `out` is then "" ). */
ember_status ember__sha256_final(ember_sha256 *h, char out[EMBER_SHA256_HEX_LEN + 1],
                                 ember_error *err);

/* Finish like ember__sha256_final, but keep the context and start the next
 * digest on it: hashing many short strings (hash_vocab's words) then costs
 * no libcrypto allocation each, about 6 times less than ember__sha256_hex.
 * End with ember__sha256_deinit. Errors: EMBER_ERR_NOMEM (libcrypto
 * failure; `out` is "" and the context is released, as by deinit). */
ember_status ember__sha256_final_reset(ember_sha256 *h, char out[EMBER_SHA256_HEX_LEN + 1],
                                       ember_error *err);

/* Release a digest without finishing it (error paths). Safe to call twice and
 * on a zeroed struct. */
void ember__sha256_deinit(ember_sha256 *h);

/* SHA-256 of `len` bytes at `data` (NULL allowed when len == 0) as 64
 * lowercase hex digits plus NUL in `out`. Errors: EMBER_ERR_NOMEM (libcrypto
 * failure; `out` is then ""). */
ember_status ember__sha256_hex(const void *data, size_t len, char out[EMBER_SHA256_HEX_LEN + 1],
                               ember_error *err);

#endif
