/*
 * images.c - image data in the CLI: class names of a model (from its text
 * pipeline or from the image class list), folders of images, and the image
 * preprocessing options saved in the model so test/predict repeat them.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int set_err(ember_error *err, ember_status code, const char *msg)
{
    snprintf(err->message, sizeof err->message, "%s", msg);
    err->code = code;
    return -1;
}

int cli_model_classes(const ember_model *m, const ember_pipeline *pipe, cli_classes *out,
                      ember_error *err)
{
    memset(out, 0, sizeof *out);
    if (pipe) {
        out->n = ember_pipeline_class_count(pipe);
        out->names = calloc((size_t)(out->n ? out->n : 1), sizeof *out->names);
        if (!out->names)
            return set_err(err, EMBER_ERR_NOMEM, "out of memory");
        for (int64_t k = 0; k < out->n; k++)
            out->names[k] = (char *)ember_pipeline_class_name(pipe, k);
        return 0;
    }
    const char *list = ember_model_get_metadata(m, CLI_META_CLASSES);
    if (!list)
        return 0; /* classes are numbers (IDX labels) */
    if (!(out->text = strdup(list)))
        return set_err(err, EMBER_ERR_NOMEM, "out of memory");
    int64_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == '\n';
    out->names = calloc((size_t)n, sizeof *out->names);
    if (!out->names)
        return set_err(err, EMBER_ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *t = strtok_r(out->text, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
        out->names[out->n++] = t;
    out->owned = 1;
    return 0;
}

void cli_classes_free(cli_classes *c)
{
    free(c->names);
    if (c->owned)
        free(c->text);
    memset(c, 0, sizeof *c);
}

const char *cli_class_name(const cli_classes *c, int64_t k, char buf[24])
{
    if (c && k >= 0 && k < c->n && c->names[k])
        return c->names[k];
    snprintf(buf, 24, "%lld", (long long)k);
    return buf;
}

static int has_image_ext(const char *name)
{
    static const char *const ext[] = {"png", "jpg", "jpeg", "bmp", "pgm", "ppm", "pnm",
                                      "gif", "tga", NULL};
    const char *dot = strrchr(name, '.');
    for (int i = 0; dot && ext[i]; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0)
            return 1;
    return 0;
}

bool cli_is_image_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    if (S_ISREG(st.st_mode))
        return has_image_ext(path);
    if (!S_ISDIR(st.st_mode))
        return false;
    /* a folder of class folders: images if any of the first 1000 files
     * found in them has an image extension (text folders hold .txt files) */
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool image = false;
    int seen = 0;
    struct dirent *e;
    while (!image && seen < 1000 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *sub = malloc(len);
        if (!sub)
            break;
        snprintf(sub, len, "%s/%s", path, e->d_name);
        DIR *cd = opendir(sub);
        struct dirent *f;
        while (cd && !image && seen < 1000 && (f = readdir(cd)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            seen++;
            image = has_image_ext(f->d_name);
        }
        if (cd)
            closedir(cd);
        free(sub);
    }
    closedir(d);
    return image;
}

int cli_model_image_options(const ember_model *m, ember_image_options *opt, ember_error *err)
{
    const char *j = ember_model_get_metadata(m, CLI_META_IMAGE_OPTIONS);
    if (!j)
        return 0;
    return ember_image_options_from_json(opt, j, err) ? -1 : 1;
}

int cli_load_image_folder(const char *dir, const ember_image_options *opt, const cli_classes *cls,
                          ember_image_dataset **ds, ember_tensor **x, ember_tensor **y,
                          ember_error *err)
{
    *ds = NULL;
    *x = *y = NULL;
    if (ember_image_dataset_load_folder(ds, dir, opt, err))
        return -1;
    const ember_tensor *im = ember_image_dataset_images(*ds), *lab = ember_image_dataset_labels(*ds);
    int64_t N = im->shape[0], K = ember_image_dataset_class_count(*ds);
    int64_t *map = calloc((size_t)K, sizeof *map);
    int64_t yshape[1] = {N};
    if (!map || ember_tensor_create(y, 1, yshape, err)) {
        free(map);
        ember_image_dataset_destroy(*ds);
        *ds = NULL;
        return map ? -1 : set_err(err, EMBER_ERR_NOMEM, "out of memory");
    }
    for (int64_t k = 0; k < K; k++) {
        map[k] = k;
        if (!cls)
            continue;
        const char *name = ember_image_dataset_class_name(*ds, k);
        map[k] = -1;
        for (int64_t c = 0; c < cls->n; c++)
            if (!strcmp(cls->names[c], name))
                map[k] = c;
        if (map[k] < 0) {
            snprintf(err->message, sizeof err->message, "%s: class folder '%s' is not a class "
                     "of the model", dir, name);
            err->code = EMBER_ERR_FORMAT;
            free(map);
            ember_tensor_destroy(*y);
            ember_image_dataset_destroy(*ds);
            *y = NULL;
            *ds = NULL;
            return -1;
        }
    }
    for (int64_t i = 0; i < N; i++)
        (*y)->data[i] = (float)map[(int64_t)lab->data[i]];
    free(map);
    /* a view of the data set's images: freeing it leaves the data set intact */
    if (ember_tensor_create_view(x, im->data, im->ndim, im->shape, err)) {
        ember_tensor_destroy(*y);
        ember_image_dataset_destroy(*ds);
        *y = NULL;
        *ds = NULL;
        return -1;
    }
    return 0;
}
