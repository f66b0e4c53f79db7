/*
 * hash.c - SHA-256 as lowercase hex, through libcrypto's EVP interface (the
 * non-deprecated one in OpenSSL 3). Does not implement the hash itself and
 * offers no other algorithms.
 */
#include "io/hash.h"

#include "core.h"

#include <openssl/evp.h>

static void to_hex(const unsigned char *md, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[EMBER_SHA256_HEX_LEN] = '\0';
}

ember_status ember__sha256_init(ember_sha256 *h, ember_error *err)
{
    h->ctx = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "SHA-256: libcrypto could not allocate a digest");
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "SHA-256: libcrypto could not start a digest");
    }
    h->ctx = ctx;
    return EMBER_OK;
}

ember_status ember__sha256_update(ember_sha256 *h, const void *data, size_t len,
                                  ember_error *err)
{
    if (len == 0)
        return EMBER_OK;
    if (!h->ctx || EVP_DigestUpdate((EVP_MD_CTX *)h->ctx, data, len) != 1)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "SHA-256: libcrypto failed to hash %zu bytes", len);
    return EMBER_OK;
}

ember_status ember__sha256_final(ember_sha256 *h, char out[EMBER_SHA256_HEX_LEN + 1],
                                 ember_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    out[0] = '\0';
    int ok = h->ctx && EVP_DigestFinal_ex((EVP_MD_CTX *)h->ctx, md, &md_len) == 1 && md_len == 32;
    ember__sha256_deinit(h);
    if (!ok)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "SHA-256: libcrypto failed to finish a digest");
    to_hex(md, out);
    return EMBER_OK;
}

ember_status ember__sha256_final_reset(ember_sha256 *h, char out[EMBER_SHA256_HEX_LEN + 1],
                                       ember_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    out[0] = '\0';
    EVP_MD_CTX *ctx = h->ctx;
    /* type NULL: the digest set by ember__sha256_init (SHA-256) again */
    if (!ctx || EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32 ||
        EVP_DigestInit_ex2(ctx, NULL, NULL) != 1) {
        ember__sha256_deinit(h);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "SHA-256: libcrypto failed to finish a digest");
    }
    to_hex(md, out);
    return EMBER_OK;
}

void ember__sha256_deinit(ember_sha256 *h)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)h->ctx); /* NULL is a no-op */
    h->ctx = NULL;
}

ember_status ember__sha256_hex(const void *data, size_t len, char out[EMBER_SHA256_HEX_LEN + 1],
                               ember_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    static const unsigned char empty = 0;
    out[0] = '\0';
    if (EVP_Digest(len ? data : &empty, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "SHA-256: libcrypto failed to hash %zu bytes", len);
    to_hex(md, out);
    return EMBER_OK;
}
