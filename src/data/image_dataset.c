/*
 * image_dataset.c - ember_image_dataset: labelled images from a folder with
 * one sub-folder per class, unlabelled images from a list of files, the
 * accessors, and ember_image_channel_stats.
 *
 * Loading lists every file first (cheap), then decodes the first image
 * alone: its size fixes [H, W, C], so the [N, H, W, C] tensor is allocated
 * once and every image is decoded straight into its own slice of it, never
 * copied. The other images are decoded in parallel (OpenMP, dynamic
 * schedule: files differ in cost); each thread writes only its images'
 * slices, so the result does not depend on the thread count. When files
 * fail, the error reported is the first failing file in file order (later
 * files are skipped once a failure is known, earlier ones still run), so
 * the message is the same on every run. The thread count is OpenMP's
 * default (OMP_NUM_THREADS); with OpenMP off, files are read in order.
 *
 * Folder rules (Keras image_dataset_from_directory, without its shuffling):
 * classes are the sub-folders of `dir`, sorted in byte order; regular files
 * directly in `dir` belong to no class and are ignored. In a class folder,
 * files are sorted in byte order of their names; entries starting with '.'
 * are ignored; sub-folders are ignored (no recursion, unlike Keras, which
 * walks them); files without an image extension, and entries that are
 * neither regular files nor folders (FIFOs, devices), are skipped and
 * counted in ember_image_dataset_skipped. Symbolic links count as what they
 * point to.
 *
 * Deliberately not done: shuffling, validation splits and batching (the
 * model does those), labels from file names, and keeping images of different
 * sizes (without a resize they are an error).
 */
#define _POSIX_C_SOURCE 200809L
#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ember_image_dataset {
    int64_t n;            /* examples */
    ember_tensor *images; /* [n, H, W, C] */
    ember_tensor *labels; /* [n] class ids as floats; NULL when unlabelled */
    char **paths;         /* [n] the file of each example */
    char **classes;       /* [nclasses] class names, byte order */
    int64_t nclasses;     /* 0 when unlabelled */
    int64_t skipped;      /* non-image files seen in class folders */
};

/* Extensions (compared without case) a class folder's image files have. */
static const char *const IMAGE_EXTENSIONS[] = {"png", "jpg", "jpeg", "bmp", "pgm",
                                               "ppm", "pnm", "gif",  "tga"};

static int has_image_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    const char *ext = dot + 1;
    for (size_t i = 0; i < sizeof IMAGE_EXTENSIONS / sizeof IMAGE_EXTENSIONS[0]; i++) {
        const char *e = IMAGE_EXTENSIONS[i];
        size_t k = 0;
        while (e[k] && ext[k] &&
               (ext[k] >= 'A' && ext[k] <= 'Z' ? ext[k] - 'A' + 'a' : ext[k]) == e[k])
            k++;
        if (!e[k] && !ext[k])
            return 1;
    }
    return 0;
}

/* "a/b" (no doubled '/' when a ends with one) in a new malloc'd string, or NULL. */
static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int slash = na > 0 && a[na - 1] == '/' ? 0 : 1;
    if (na > SIZE_MAX - nb - 2)
        return NULL;
    char *p = malloc(na + (size_t)slash + nb + 1);
    if (p) {
        memcpy(p, a, na);
        if (slash)
            p[na] = '/';
        memcpy(p + na + slash, b, nb + 1);
    }
    return p;
}

/* ---------------------------------------------------------------- listing */

enum { ENTRY_DIR, ENTRY_FILE, ENTRY_OTHER };

/* A folder's entries (hidden ones left out), sorted by name in byte order. */
typedef struct listing {
    char **names;
    int *kind; /* ENTRY_* */
    size_t n, cap;
} listing;

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->kind);
    memset(l, 0, sizeof *l);
}

/* Sort names and kinds together: sort an index, then permute. */
static int by_name(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

static ember_status list_folder(const char *dir, listing *l, ember_error *err)
{
    memset(l, 0, sizeof *l);
    DIR *dp = opendir(dir);
    if (!dp)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    ember_status s = EMBER_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dp);
        if (!e) {
            if (errno)
                s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot list folder: %s", dir,
                               strerror(errno));
            break;
        }
        if (e->d_name[0] == '.')
            continue;
        char *full = join(dir, e->d_name);
        if (!full) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
        struct stat st;
        if (stat(full, &st) != 0) {
            s = EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot stat: %s", full, strerror(errno));
            free(full);
            break;
        }
        free(full);
        if (l->n == l->cap) {
            size_t c2 = l->cap ? 2 * l->cap : 16;
            char **names =
                c2 > SIZE_MAX / sizeof *names ? NULL : realloc(l->names, c2 * sizeof *names);
            if (names)
                l->names = names;
            int *kind = names ? realloc(l->kind, c2 * sizeof *kind) : NULL;
            if (kind)
                l->kind = kind;
            if (!names || !kind) {
                s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory listing the folder", dir);
                break;
            }
            l->cap = c2;
        }
        if (!(l->names[l->n] = strdup(e->d_name))) {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
        l->kind[l->n++] = S_ISDIR(st.st_mode)   ? ENTRY_DIR
                          : S_ISREG(st.st_mode) ? ENTRY_FILE
                                                : ENTRY_OTHER;
    }
    closedir(dp);
    if (s == EMBER_OK && l->n > 1) {
        /* Sort pointers to the names, then rebuild both arrays in that order. */
        char ***order = malloc(l->n * sizeof *order);
        char **names = malloc(l->n * sizeof *names);
        int *kind = malloc(l->n * sizeof *kind);
        if (order && names && kind) {
            for (size_t i = 0; i < l->n; i++)
                order[i] = &l->names[i];
            qsort(order, l->n, sizeof *order, by_name);
            for (size_t i = 0; i < l->n; i++) {
                size_t j = (size_t)(order[i] - l->names);
                names[i] = l->names[j];
                kind[i] = l->kind[j];
            }
            free(l->names);
            free(l->kind);
            l->names = names;
            l->kind = kind;
            names = NULL;
            kind = NULL;
        } else {
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory listing the folder", dir);
        }
        free(order);
        free(names);
        free(kind);
    }
    if (s)
        listing_free(l);
    return s;
}

/* ---------------------------------------------------------------- data set */

void ember_image_dataset_destroy(ember_image_dataset *d)
{
    if (!d)
        return;
    ember_tensor_destroy(d->images);
    ember_tensor_destroy(d->labels);
    if (d->paths)
        for (int64_t i = 0; i < d->n; i++)
            free(d->paths[i]);
    free(d->paths);
    if (d->classes)
        for (int64_t k = 0; k < d->nclasses; k++)
            free(d->classes[k]);
    free(d->classes);
    free(d);
}

/* Decode image i (not the first) into dst: same size as the first image
 * unless resizing, then converted like it. */
static ember_status load_one(float *dst, const char *path, const ember_image_options *o, int C,
                             const char *first_path, int first_h, int first_w, ember_error *err)
{
    ember__image img;
    ember_status s = ember__image_probe(&img, path, err);
    if (s)
        return s;
    if (o->resize_height == 0 && (img.h != first_h || img.w != first_w)) {
        s = EMBER_FAIL(err, EMBER_ERR_SHAPE,
                       "%s: image is %d x %d (height x width) but the first image, %s, is "
                       "%d x %d; set resize_height and resize_width to load images of "
                       "different sizes",
                       path, img.h, img.w, first_path, first_h, first_w);
    } else if ((s = ember__image_decode(&img, path, err)) == EMBER_OK) {
        s = ember__image_emit(dst, &img, C, o, path, err);
    }
    ember__image_free(&img);
    return s;
}

/* Decode every d->paths[i] into d->images. */
static ember_status load_images(ember_image_dataset *d, const ember_image_options *o,
                                ember_error *err)
{
    const int64_t n = d->n;
    ember__image img;
    ember_status s = ember__image_probe(&img, d->paths[0], err);
    if (s)
        return s;
    int64_t H = 0, W = 0;
    int C = 0;
    if ((s = ember__image_out_size(o, img.h, img.w, d->paths[0], &H, &W, err)) == EMBER_OK &&
        (s = ember__image_decode(&img, d->paths[0], err)) == EMBER_OK) {
        C = ember__image_channels(o, img.comp);
        int64_t shape[4] = {n, H, W, C};
        s = ember_tensor_create(&d->images, 4, shape, err);
        if (s)
            ember__error_prefix(err, "%s: %lld images of %lld x %lld x %d", d->paths[0],
                                (long long)n, (long long)H, (long long)W, C);
        else
            s = ember__image_emit(d->images->data, &img, C, o, d->paths[0], err);
    }
    const int first_h = img.h, first_w = img.w;
    ember__image_free(&img);
    if (s)
        return s;

    /* The tensor exists, so n * H * W * C fits size_t. */
    const size_t per = (size_t)H * (size_t)W * (size_t)C;
    float *const data = d->images->data;
    char *const *const paths = d->paths;
    int64_t first_bad = n; /* lowest failing index so far */
    ember_status bad_status = EMBER_OK;
    ember_error bad_err;
    memset(&bad_err, 0, sizeof bad_err);
#pragma omp parallel for schedule(dynamic, 1) if (n > 2)
    for (int64_t i = 1; i < n; i++) {
        int64_t known;
#pragma omp atomic read
        known = first_bad;
        if (i > known)
            continue; /* a file before this one failed already */
        ember_error e;
        memset(&e, 0, sizeof e);
        ember_status st =
            load_one(data + (size_t)i * per, paths[i], o, C, paths[0], first_h, first_w, &e);
        if (st != EMBER_OK) {
#pragma omp critical(ember_image_first_error)
            {
                if (i < first_bad) {
                    bad_status = st;
                    bad_err = e;
#pragma omp atomic write
                    first_bad = i;
                }
            }
        }
    }
    if (bad_status != EMBER_OK) {
        if (err)
            *err = bad_err;
        return bad_status;
    }
    return EMBER_OK;
}

/* The checks both loaders start with; a NULL *o becomes the defaults. */
static ember_status check_args(ember_image_dataset **out, const void *src, const char *src_name,
                               const char *what, const ember_image_options **o,
                               const ember_image_options *def, ember_error *err)
{
    if (!out)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "%s: out is NULL", what);
    *out = NULL;
    if (!src)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "%s: %s is NULL", what, src_name);
    if (!*o)
        *o = def;
    return ember__image_options_check(*o, "image options", EMBER_ERR_ARG, err);
}

/* Room for n examples (paths, and labels when labelled). */
static ember_status alloc_dataset(ember_image_dataset **out, int64_t n, int labelled,
                                  ember_error *err)
{
    *out = NULL;
    ember_image_dataset *d = calloc(1, sizeof *d);
    if (!d || (uint64_t)n > SIZE_MAX / sizeof(char *) ||
        !(d->paths = calloc((size_t)n, sizeof(char *)))) {
        free(d);
        return EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for an image data set of %lld files",
                          (long long)n);
    }
    d->n = n;
    if (labelled) {
        int64_t shape[1] = {n};
        ember_status s = ember_tensor_create(&d->labels, 1, shape, err);
        if (s) {
            ember_image_dataset_destroy(d);
            return s;
        }
    }
    *out = d;
    return EMBER_OK;
}

ember_status ember_image_dataset_load_files(ember_image_dataset **out, int64_t n,
                                            const char *const *paths,
                                            const ember_image_options *opt, ember_error *err)
{
    ember_image_options def = ember_image_options_default();
    ember_status s =
        check_args(out, paths, "paths", "ember_image_dataset_load_files", &opt, &def, err);
    if (s)
        return s;
    if (n < 1)
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "ember_image_dataset_load_files: n is %lld; need at least one file",
                          (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (!paths[i])
            return EMBER_FAIL(err, EMBER_ERR_ARG,
                              "ember_image_dataset_load_files: paths[%lld] is NULL", (long long)i);
    ember_image_dataset *d = NULL;
    if ((s = alloc_dataset(&d, n, 0, err)) != EMBER_OK)
        return s;
    for (int64_t i = 0; i < n && s == EMBER_OK; i++)
        if (!(d->paths[i] = strdup(paths[i])))
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "out of memory for the file names");
    if (s == EMBER_OK)
        s = load_images(d, opt, err);
    if (s) {
        ember_image_dataset_destroy(d);
        return s;
    }
    *out = d;
    return EMBER_OK;
}

/* Growing arrays of (path, class) while a folder is listed. */
typedef struct file_list {
    char **paths;
    int64_t *label;
    int64_t n, cap;
} file_list;

static int file_list_add(file_list *f, char *path, int64_t label)
{
    if (f->n == f->cap) {
        int64_t c2 = f->cap ? 2 * f->cap : 64;
        if ((uint64_t)c2 > SIZE_MAX / sizeof(char *))
            return 0;
        char **p = realloc(f->paths, (size_t)c2 * sizeof *p);
        if (p)
            f->paths = p;
        int64_t *l = p ? realloc(f->label, (size_t)c2 * sizeof *l) : NULL;
        if (l)
            f->label = l;
        if (!p || !l)
            return 0;
        f->cap = c2;
    }
    f->paths[f->n] = path;
    f->label[f->n++] = label;
    return 1;
}

/* The image files of class folder `cdir` (class k) appended to *f. */
static ember_status list_class(const char *cdir, int64_t k, file_list *f, int64_t *skipped,
                               ember_error *err)
{
    listing l;
    ember_status s = list_folder(cdir, &l, err);
    if (s)
        return s;
    int64_t found = 0;
    for (size_t i = 0; i < l.n && s == EMBER_OK; i++) {
        if (l.kind[i] == ENTRY_DIR)
            continue;
        if (l.kind[i] == ENTRY_OTHER || !has_image_extension(l.names[i])) {
            (*skipped)++;
            continue;
        }
        char *p = join(cdir, l.names[i]);
        if (!p || !file_list_add(f, p, k)) {
            free(p);
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory listing the folder", cdir);
        } else {
            found++;
        }
    }
    listing_free(&l);
    if (s == EMBER_OK && found == 0)
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                       "%s: class folder holds no image files (extensions png jpg jpeg bmp pgm ppm "
                       "pnm gif tga); remove the folder or add images",
                       cdir);
    return s;
}

ember_status ember_image_dataset_load_folder(ember_image_dataset **out, const char *dir,
                                             const ember_image_options *opt, ember_error *err)
{
    ember_image_options def = ember_image_options_default();
    ember_status s =
        check_args(out, dir, "dir", "ember_image_dataset_load_folder", &opt, &def, err);
    if (s)
        return s;
    struct stat st;
    if (stat(dir, &st) != 0)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return EMBER_FAIL(err, EMBER_ERR_ARG,
                          "%s: not a folder (an image data set is a folder with one sub-folder "
                          "per class)",
                          dir);
    listing top;
    if ((s = list_folder(dir, &top, err)) != EMBER_OK)
        return s;
    int64_t K = 0;
    for (size_t i = 0; i < top.n; i++)
        K += top.kind[i] == ENTRY_DIR;
    file_list f = {0};
    int64_t skipped = 0;
    ember_image_dataset *d = NULL;
    char **classes = NULL;
    if (K == 0) {
        s = EMBER_FAIL(err, EMBER_ERR_FORMAT,
                       "%s: no class folders (an image data set is a folder with one sub-folder "
                       "per class, holding that class's images)",
                       dir);
        goto done;
    }
    if (!(classes = calloc((size_t)K, sizeof *classes))) {
        s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory for %lld class names", dir,
                       (long long)K);
        goto done;
    }
    for (size_t i = 0, k = 0; i < top.n && s == EMBER_OK; i++) {
        if (top.kind[i] != ENTRY_DIR)
            continue;
        classes[k] = top.names[i];
        top.names[i] = NULL; /* now owned by classes */
        char *cdir = join(dir, classes[k]);
        if (!cdir)
            s = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory listing the folder", dir);
        else
            s = list_class(cdir, (int64_t)k, &f, &skipped, err);
        free(cdir);
        k++;
    }
    if (s == EMBER_OK && (s = alloc_dataset(&d, f.n, 1, err)) == EMBER_OK) {
        for (int64_t i = 0; i < f.n; i++) {
            d->paths[i] = f.paths[i];
            d->labels->data[i] = (float)f.label[i];
        }
        f.n = 0; /* the paths are the data set's now */
        d->classes = classes;
        d->nclasses = K;
        classes = NULL;
        d->skipped = skipped;
        s = load_images(d, opt, err);
    }
done:
    listing_free(&top);
    if (classes)
        for (int64_t k = 0; k < K; k++)
            free(classes[k]);
    free(classes);
    for (int64_t i = 0; i < f.n; i++)
        free(f.paths[i]);
    free(f.paths);
    free(f.label);
    if (s) {
        ember_image_dataset_destroy(d);
        return s;
    }
    *out = d;
    return EMBER_OK;
}

int64_t ember_image_dataset_size(const ember_image_dataset *d) { return d ? d->n : 0; }

const ember_tensor *ember_image_dataset_images(const ember_image_dataset *d)
{
    return d ? d->images : NULL;
}

const ember_tensor *ember_image_dataset_labels(const ember_image_dataset *d)
{
    return d ? d->labels : NULL;
}

int64_t ember_image_dataset_class_count(const ember_image_dataset *d)
{
    return d ? d->nclasses : 0;
}

const char *ember_image_dataset_class_name(const ember_image_dataset *d, int64_t k)
{
    return d && k >= 0 && k < d->nclasses ? d->classes[k] : NULL;
}

const char *ember_image_dataset_path(const ember_image_dataset *d, int64_t i)
{
    return d && i >= 0 && i < d->n ? d->paths[i] : NULL;
}

int64_t ember_image_dataset_skipped(const ember_image_dataset *d) { return d ? d->skipped : 0; }

/* ------------------------------------------------------------ statistics */

ember_status ember_image_channel_stats(const ember_tensor *x, float *mean, float *std,
                                       ember_error *err)
{
    if (!x || !mean || !std)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_image_channel_stats: %s is NULL",
                          !x      ? "x"
                          : !mean ? "mean"
                                  : "std");
    if (x->ndim != 4 && x->ndim != 3)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE,
                          "ember_image_channel_stats: x has %d dimensions; expected [N, H, W, C] "
                          "(or one image [H, W, C])",
                          x->ndim);
    const int64_t C = x->shape[x->ndim - 1];
    if (C < 1 || C > 3)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE,
                          "ember_image_channel_stats: x has %lld channels (last dimension); "
                          "expected 1 to 3",
                          (long long)C);
    const int64_t numel = ember_tensor_numel(x);
    const int64_t count = numel / C; /* values per channel */
    if (count == 0)
        return EMBER_FAIL(err, EMBER_ERR_SHAPE, "ember_image_channel_stats: x is empty");
    /* Two passes in double (mean, then squared deviations): no cancellation
     * as in sum(x^2) - n mean^2. Serial and in index order, so the result
     * is the same on every run. */
    const float *p = x->data;
    double sum[3] = {0, 0, 0};
    for (int64_t i = 0; i < count; i++)
        for (int64_t c = 0; c < C; c++) {
            double v = p[i * C + c];
            if (!isfinite(v))
                return EMBER_FAIL(err, EMBER_ERR_NUMERIC,
                                  "ember_image_channel_stats: element %lld (channel %lld) is %g",
                                  (long long)(i * C + c), (long long)c, v);
            sum[c] += v;
        }
    double m[3], ss[3] = {0, 0, 0};
    for (int64_t c = 0; c < C; c++)
        m[c] = sum[c] / (double)count;
    for (int64_t i = 0; i < count; i++)
        for (int64_t c = 0; c < C; c++) {
            double dv = (double)p[i * C + c] - m[c];
            ss[c] += dv * dv;
        }
    for (int64_t c = 0; c < C; c++) {
        mean[c] = (float)m[c];
        std[c] = (float)sqrt(ss[c] / (double)count);
    }
    return EMBER_OK;
}
