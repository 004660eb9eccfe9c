#include "json_args.h"

#include <stdio.h>
#include <string.h>

const char *pit_json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

json_t *pit_json_parse_object(const char *text, size_t len, char *err, size_t errlen) {
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    if (i == len) return json_object();
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) {
        snprintf(err, errlen, "args are not valid JSON: %s at line %d, column %d (byte %d)", je.text, je.line,
                 je.column, je.position);
        return NULL;
    }
    if (!json_is_object(v)) {
        snprintf(err, errlen, "args must be a JSON object like {\"key\": value}, got a JSON %s",
                 pit_json_type_name(v));
        json_decref(v);
        return NULL;
    }
    return v;
}

char *pit_json_dump(const json_t *value) {
    return json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}
