/* json_util.c - see json_util.h. */
#include "json_util.h"

#include <float.h>
#include <math.h>

const char *ember__json_type(const cJSON *j)
{
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsBool(j))
        return "a boolean";
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsArray(j))
        return "an array";
    return "an object";
}

ember_status ember__json_int(const cJSON *j, const char *doc, const char *field, int64_t *v,
                             ember_error *err)
{
    if (!cJSON_IsNumber(j))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s: expected an integer, got %s", doc,
                          field, ember__json_type(j));
    double d = j->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > EMBER_JSON_MAX_INT)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT,
                          "%s: %s: expected an integer of at most 2^53, got %.17g", doc, field, d);
    *v = (int64_t)d;
    return EMBER_OK;
}

ember_status ember__json_float(const cJSON *j, const char *doc, const char *field, float *v,
                               ember_error *err)
{
    if (!cJSON_IsNumber(j))
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s: expected a number, got %s", doc, field,
                          ember__json_type(j));
    double d = j->valuedouble;
    if (!isfinite(d) || fabs(d) > FLT_MAX)
        return EMBER_FAIL(err, EMBER_ERR_FORMAT, "%s: %s: %.17g is outside the float32 range",
                          doc, field, d);
    *v = (float)d;
    return EMBER_OK;
}
