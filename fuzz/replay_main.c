/*
 * replay_main.c - a main() for a harness without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named, or in a folder named
 * (sorted, hidden files skipped). ctest runs each harness this way over its
 * seeds (fuzz/corpus/NAME) and past findings (fuzz/regressions/NAME), in
 * every build, so `make test`, `make asan` and `make valgrind` check them
 * without clang. A broken promise aborts (FUZZ_ASSERT). A path named that is
 * missing, or a folder without inputs, is an error (a corpus that did not
 * get committed must not pass unnoticed), except after --optional: a harness
 * may have no regressions yet. Prints how many inputs ran.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        return 1;
    }
    /* libFuzzer hands over a copy sized exactly; so do we */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int inputs = 0, bad = 0, optional = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--optional")) {
            optional = 1;
            continue;
        }
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            if (optional)
                continue;
            fprintf(stderr, "replay: %s is missing\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            inputs++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d)
            return 1;
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char **p = realloc(names, (n + 1) * sizeof *names);
            if (!p)
                return 1;
            names = p;
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            if (!(names[n] = malloc(len)))
                return 1;
            snprintf(names[n++], len, "%s/%s", argv[i], e->d_name);
        }
        closedir(d);
        if (n == 0 && !optional) {
            fprintf(stderr, "replay: no inputs in %s\n", argv[i]);
            return 1;
        }
        qsort(names, n, sizeof *names, cmp);
        for (size_t k = 0; k < n; k++) {
            bad |= run_file(names[k]);
            inputs++;
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %d input(s)\n", inputs);
    return bad;
}
