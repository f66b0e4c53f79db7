/*
 * test_data_manifest.c - data fingerprints and verification
 * (ember_data_fingerprint, ember_data_verify) and the bit-for-bit weight
 * comparison behind `ember reproduce` (ember_model_compare_weights).
 *
 * The content hash must stay the same under CRLF, gzip, reordered records
 * and reordered files, and change with one byte of an example; verify must
 * name every changed, missing and new file; bad manifests and bad paths are
 * errors that name what is wrong.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "ember.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[64];

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
}

static void put_gz(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    gzFile g = gzopen(p, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
}

static char *path(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* The manifest of the given files; its JSON is returned parsed. */
static cJSON *fp(const char *const *paths, int n)
{
    ember_error err = {0};
    char *m = NULL;
    ember_status s = ember_data_fingerprint(paths, n, NULL, &m, &err);
    CHECK_MSG(s == EMBER_OK, "%s", err.message);
    cJSON *j = m ? cJSON_Parse(m) : NULL;
    free(m);
    return j;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const cJSON *file0(const cJSON *m)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "files"), 0);
}

/* Content hash of one file. */
static void content_of(const char *name, char out[65])
{
    const char *p = path(name);
    cJSON *m = fp(&p, 1);
    snprintf(out, 65, "%s", str(file0(m), "content_sha256"));
    cJSON_Delete(m);
}

static const char CSV[] = "text,label\n"
                          "\"hello, world\",greet\n"
                          "card not working,card\n"
                          "\"two\nlines\",other\n"
                          "where is my money,transfer\n";
static const char CSV_CRLF[] = "text,label\r\n"
                               "\"hello, world\",greet\r\n"
                               "card not working,card\r\n"
                               "\"two\r\nlines\",other\r\n"
                               "where is my money,transfer\r\n";
static const char CSV_REORDERED[] = "label,text\n"
                                    "transfer,where is my money\n"
                                    "other,\"two\nlines\"\n"
                                    "greet,\"hello, world\"\n"
                                    "card,card not working\n";
static const char CSV_ONE_BYTE[] = "text,label\n"
                                   "\"hello, world\",greet\n"
                                   "card not workinG,card\n"
                                   "\"two\nlines\",other\n"
                                   "where is my money,transfer\n";
static const char CSV_RELABEL[] = "text,label\n"
                                  "\"hello, world\",greet\n"
                                  "card not working,transfer\n"
                                  "\"two\nlines\",other\n"
                                  "where is my money,transfer\n";

static void test_content_hash(void)
{
    put("a.csv", CSV);
    put("crlf.csv", CSV_CRLF);
    put("reordered.csv", CSV_REORDERED);
    put("onebyte.csv", CSV_ONE_BYTE);
    put("relabel.csv", CSV_RELABEL);
    put_gz("a.csv.gz", CSV);
    put("a.txt", "__label__greet hello, world\n__label__card card not working\n");
    put("lines.txt", "one\r\ntwo\r\nthree");
    put("lines_lf.txt", "three\none\ntwo\n");

    const char *p = path("a.csv");
    cJSON *m = fp(&p, 1);
    const cJSON *f = file0(m);
    CHECK(!strcmp(str(m, "format"), "ember.manifest") && num(m, "version") == 1);
    CHECK(!strcmp(str(f, "format"), "csv"));
    CHECK(num(f, "records") == 4);
    CHECK(num(f, "bytes") == (double)strlen(CSV));
    CHECK(strlen(str(f, "sha256")) == 64 && strlen(str(f, "content_sha256")) == 64);
    CHECK(num(m, "records") == 4 && num(m, "files_count") == 1);
    cJSON_Delete(m);

    char a[65], crlf[65], re[65], one[65], rel[65], gz[65], ft[65], l1[65], l2[65];
    content_of("a.csv", a);
    content_of("crlf.csv", crlf);
    content_of("reordered.csv", re);
    content_of("onebyte.csv", one);
    content_of("relabel.csv", rel);
    content_of("a.csv.gz", gz);
    content_of("a.txt", ft);
    content_of("lines.txt", l1);
    content_of("lines_lf.txt", l2);
    CHECK_MSG(!strcmp(a, crlf), "CRLF changed the content hash");
    CHECK_MSG(!strcmp(a, re), "reordered records and columns changed the content hash");
    CHECK_MSG(!strcmp(a, gz), "gzip changed the content hash");
    CHECK_MSG(strcmp(a, one), "one changed byte kept the content hash");
    CHECK_MSG(strcmp(a, rel), "a changed label kept the content hash");
    CHECK(strcmp(a, ft) != 0);
    CHECK_MSG(!strcmp(l1, l2), "plain text lines: CRLF and order must not matter");

    /* the raw SHA-256 does see every byte */
    const char *two[2] = {path("a.csv"), path("crlf.csv")};
    m = fp(two, 2);
    const cJSON *fa = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "files"), 0);
    const cJSON *fb = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "files"), 1);
    CHECK(strcmp(str(fa, "sha256"), str(fb, "sha256")) != 0);
    CHECK(!strcmp(str(fa, "content_sha256"), str(fb, "content_sha256")));
    CHECK(!strcmp(str(file0(m), "format"), "csv"));
    char both[65];
    snprintf(both, sizeof both, "%s", str(m, "content_sha256"));
    cJSON_Delete(m);
    /* file order does not change the manifest's content hash */
    const char *swapped[2] = {path("crlf.csv"), path("a.csv")};
    m = fp(swapped, 2);
    CHECK(!strcmp(both, str(m, "content_sha256")));
    cJSON_Delete(m);

    /* formats */
    const char *ftp = path("a.txt");
    m = fp(&ftp, 1);
    CHECK(!strcmp(str(file0(m), "format"), "fasttext") && num(file0(m), "records") == 2);
    cJSON_Delete(m);
    const char *lp = path("lines.txt");
    m = fp(&lp, 1);
    CHECK(!strcmp(str(file0(m), "format"), "text") && num(file0(m), "records") == 3);
    cJSON_Delete(m);
}

/* A folder with one folder per class: the class is part of each example. */
static void test_class_folders(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/cls", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/cls/pos", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/cls/neg", dir);
    mkdir(p, 0755);
    put("cls/pos/1.txt", "great film\n");
    put("cls/neg/2.txt", "dull film\n");
    put("cls/.hidden", "ignored");
    const char *c = path("cls");
    cJSON *m = fp(&c, 1);
    CHECK(num(m, "files_count") == 2);
    const cJSON *f = file0(m); /* names in byte order: neg before pos */
    CHECK(!strcmp(str(f, "class"), "neg") && !strcmp(str(f, "format"), "text"));
    CHECK(num(f, "records") == 1);
    char before[65];
    snprintf(before, sizeof before, "%s", str(m, "content_sha256"));
    cJSON_Delete(m);
    /* the same text under the other class is other content */
    put("cls/pos/1.txt", "dull film\n");
    put("cls/neg/2.txt", "great film\n");
    m = fp(&c, 1);
    CHECK_MSG(strcmp(before, str(m, "content_sha256")) != 0, "swapping labels kept the hash");
    cJSON_Delete(m);
}

static void test_verify(void)
{
    ember_error err = {0};
    char *m = NULL, *rep = NULL;
    char vd[256];
    snprintf(vd, sizeof vd, "%s/v", dir);
    mkdir(vd, 0755);
    put("v/train.csv", CSV);
    put("v/test.csv", CSV_RELABEL);
    const char *in = path("v");
    CHECK_OK(ember_data_fingerprint(&in, 1, NULL, &m, &err), &err);
    int64_t problems = -1;
    CHECK_OK(ember_data_verify(m, NULL, &rep, &problems, &err), &err);
    CHECK(problems == 0);
    cJSON *r = cJSON_Parse(rep);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")));
    CHECK(num(r, "unchanged") == 2);
    cJSON_Delete(r);
    free(rep);

    /* CRLF only: changed bytes, the same examples */
    put("v/train.csv", CSV_CRLF);
    CHECK_OK(ember_data_verify(m, NULL, &rep, &problems, &err), &err);
    r = cJSON_Parse(rep);
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "changed"), 0);
    CHECK(problems == 1 && c && !strcmp(str(c, "path"), path("v/train.csv")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "same_examples")));
    cJSON_Delete(r);
    free(rep);

    /* one byte: caught, other examples */
    put("v/train.csv", CSV_ONE_BYTE);
    CHECK_OK(ember_data_verify(m, NULL, &rep, &problems, &err), &err);
    r = cJSON_Parse(rep);
    c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "changed"), 0);
    CHECK(problems == 1 && c && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "same_examples")));
    CHECK(!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")));
    cJSON_Delete(r);
    free(rep);

    /* a file vanishes, another appears */
    put("v/train.csv", CSV);
    unlink(path("v/test.csv"));
    put("v/extra.csv", CSV);
    CHECK_OK(ember_data_verify(m, NULL, &rep, &problems, &err), &err);
    r = cJSON_Parse(rep);
    CHECK(problems == 2);
    CHECK(!strcmp(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "missing"), 0)->valuestring,
                  path("v/test.csv")));
    CHECK(!strcmp(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "new"), 0)->valuestring,
                  path("v/extra.csv")));
    CHECK(num(r, "unchanged") == 1);
    cJSON_Delete(r);
    free(rep);
    free(m);

    /* relative paths under a root */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    const char *rel = "v";
    m = NULL;
    CHECK_OK(ember_data_fingerprint(&rel, 1, NULL, &m, &err), &err);
    CHECK(chdir("/") == 0);
    CHECK_OK(ember_data_verify(m, dir, &rep, &problems, &err), &err);
    CHECK_MSG(problems == 0, "%s", rep);
    free(rep);
    CHECK(chdir(cwd) == 0);
    free(m);
}

static void test_bad(void)
{
    ember_error err = {0};
    char *m = NULL, *rep = NULL;
    int64_t problems;
    put("empty.csv", "");
    put("bad.csv", "text,label\n\"unclosed,card\n");
    const char *e = path("empty.csv"), *b = path("bad.csv"), *missing = path("nope.csv");
    CHECK_OK(ember_data_fingerprint(&e, 1, NULL, &m, &err), &err);
    cJSON *j = cJSON_Parse(m);
    CHECK(!strcmp(str(file0(j), "format"), "empty") && num(file0(j), "records") == 0);
    cJSON_Delete(j);
    free(m);
    m = NULL;
    CHECK_ERR(ember_data_fingerprint(&b, 1, NULL, &m, &err), EMBER_ERR_FORMAT, &err, "bad.csv");
    CHECK_ERR(ember_data_fingerprint(&missing, 1, NULL, &m, &err), EMBER_ERR_IO, &err, "nope.csv");
    const char *twice[2] = {path("a.csv"), path("a.csv")};
    CHECK_ERR(ember_data_fingerprint(twice, 2, NULL, &m, &err), EMBER_ERR_ARG, &err, "listed twice");
    CHECK_ERR(ember_data_fingerprint(twice, 0, NULL, &m, &err), EMBER_ERR_ARG, &err, "no paths");
    CHECK(m == NULL);
    CHECK_ERR(ember_data_verify("{", NULL, &rep, &problems, &err), EMBER_ERR_FORMAT, &err, "not valid JSON");
    CHECK_ERR(ember_data_verify("{\"format\":\"x\"}", NULL, &rep, &problems, &err), EMBER_ERR_FORMAT,
              &err, "\"format\"");
    CHECK_ERR(ember_data_verify("{\"format\":\"ember.manifest\",\"version\":2}", NULL, &rep, &problems,
                                &err), EMBER_ERR_FORMAT, &err, "version 2");
    CHECK_ERR(ember_data_verify("{\"format\":\"ember.manifest\",\"version\":1,\"inputs\":[\"x\"],"
                                "\"options\":{},\"files\":[{\"path\":\"x\",\"bytes\":1,\"sha256\":\"zz\"}]}",
                                NULL, &rep, &problems, &err), EMBER_ERR_FORMAT, &err, "files[0]");
    CHECK(rep == NULL);
}

static ember_model *small_model(uint64_t seed)
{
    ember_error err = {0};
    ember_model *m = NULL;
    int64_t shape[1] = {6};
    CHECK_OK(ember_model_create(&m, 1, shape, seed, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 5, EMBER_ACT_RELU, &err), &err);
    CHECK_OK(ember_model_add_dense(m, 3, EMBER_ACT_SOFTMAX, &err), &err);
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    CHECK_ERR(ember_model_compare_weights(m, m, &(ember_weights_diff){0}, &err), EMBER_ERR_STATE,
              &err, "not compiled");
    CHECK_OK(ember_model_compile(m, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    return m;
}

static void test_compare_weights(void)
{
    ember_error err = {0};
    ember_model *a = small_model(1), *b = small_model(1), *c = small_model(2);
    ember_weights_diff d;
    CHECK_OK(ember_model_compare_weights(a, b, &d, &err), &err);
    CHECK(d.identical && d.tensors == 4 && d.values == 6 * 5 + 5 + 5 * 3 + 3);
    CHECK(d.differing_tensors == 0 && d.first_tensor[0] == '\0');
    CHECK_OK(ember_model_compare_weights(a, c, &d, &err), &err);
    CHECK(!d.identical && d.differing_tensors >= 1 && d.differing_values > 0);
    CHECK_MSG(!strcmp(d.first_tensor, "layers.0.kernel"), "first differing: %s", d.first_tensor);
    CHECK(d.max_abs_diff > 0);
    ember_model *e = NULL;
    int64_t shape[1] = {6};
    CHECK_OK(ember_model_create(&e, 1, shape, 1, &err), &err);
    CHECK_OK(ember_model_add_dense(e, 4, EMBER_ACT_RELU, &err), &err);
    CHECK_OK(ember_model_add_dense(e, 3, EMBER_ACT_SOFTMAX, &err), &err);
    ember_optimizer_config opt = ember_optimizer_adam(0.001f);
    CHECK_OK(ember_model_compile(e, &opt, EMBER_LOSS_CATEGORICAL_CROSSENTROPY, &err), &err);
    CHECK_ERR(ember_model_compare_weights(a, e, &d, &err), EMBER_ERR_SHAPE, &err, "layers.0.kernel");
    CHECK_ERR(ember_model_compare_weights(a, NULL, &d, &err), EMBER_ERR_ARG, &err, "NULL");
    ember_model_destroy(a);
    ember_model_destroy(b);
    ember_model_destroy(c);
    ember_model_destroy(e);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ember-manifest-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_content_hash();
    test_class_folders();
    test_verify();
    test_bad();
    test_compare_weights();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("data_manifest");
}
