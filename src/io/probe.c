/*
 * probe.c - ember_file_format: which kind of Ember file a path holds, from
 * its safetensors header alone (8-byte length, the JSON header, its
 * "__metadata__"["ember.format"]). For programs that take "a model file" of
 * any kind (`ember serve`, `ember report`) and then call the one loader that
 * fits, so each kind keeps its own precise load errors.
 *
 * What it deliberately doesn't do: validate tensors, offsets or checksums
 * (the loaders do), or read the data section.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ember_status ember_file_format(const char *path, char *format, size_t cap, ember_error *err)
{
    if (!path || !format || cap < 2)
        return EMBER_FAIL(err, EMBER_ERR_ARG, "ember_file_format: NULL path or output, or cap < 2");
    format[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return EMBER_FAIL(err, EMBER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char len8[8];
    ember_status st = EMBER_OK;
    char *text = NULL;
    uint64_t n = 0;
    if (fread(len8, 1, 8, f) != 8) {
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: not an Ember file (shorter than the 8-byte "
                        "safetensors header length)", path);
        goto done;
    }
    for (int i = 7; i >= 0; i--)
        n = n << 8 | len8[i];
    if (n < 2 || n > EMBER_ST_MAX_HEADER) {
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: not an Ember file (safetensors header length "
                        "%llu is not in 2..%llu)", path, (unsigned long long)n,
                        (unsigned long long)EMBER_ST_MAX_HEADER);
        goto done;
    }
    if (!(text = malloc((size_t)n + 1))) {
        st = EMBER_FAIL(err, EMBER_ERR_NOMEM, "%s: out of memory reading the header", path);
        goto done;
    }
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: not an Ember file (the file ends inside its "
                        "%llu-byte header)", path, (unsigned long long)n);
        goto done;
    }
    text[n] = '\0';
    cJSON *root = cJSON_ParseWithLength(text, (size_t)n);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "ember.format");
    if (!cJSON_IsObject(root))
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: not an Ember file (the header is not a JSON "
                        "object)", path);
    else if (fmt && !cJSON_IsString(fmt))
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata ember.format is not a string", path);
    else if (fmt && strlen(fmt->valuestring) >= cap)
        st = EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: metadata ember.format is longer than %zu "
                        "bytes", path, cap - 1);
    else if (fmt)
        memcpy(format, fmt->valuestring, strlen(fmt->valuestring) + 1);
    cJSON_Delete(root);
done:
    free(text);
    fclose(f);
    return st;
}
