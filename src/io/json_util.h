/*
 * json_util.h - small checked readers over cJSON values shared by the
 * JSON formats Ember parses (text pipeline, image options). Each error
 * names the document (`doc`, e.g. "pipeline JSON") and the field.
 */
#ifndef EMBER_JSON_UTIL_H
#define EMBER_JSON_UTIL_H

#include "core.h"

#include <cjson/cJSON.h>

/* Largest integer a JSON number (a double) holds exactly: 2^53. */
#define EMBER_JSON_MAX_INT 9007199254740992.0

/* "a string", "a number", ... for error messages. */
const char *ember__json_type(const cJSON *j);
/* An integer-valued number of magnitude <= 2^53. */
ember_status ember__json_int(const cJSON *j, const char *doc, const char *field, int64_t *v,
                             ember_error *err);
/* A number that fits a finite float32. */
ember_status ember__json_float(const cJSON *j, const char *doc, const char *field, float *v,
                               ember_error *err);

#endif
