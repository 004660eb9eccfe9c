/* Request arguments: a JSON object as UTF-8 text. */
#ifndef PIT_JSON_ARGS_H
#define PIT_JSON_ARGS_H

#include <jansson.h>
#include <stddef.h>

/* Parses text as a JSON object (empty text is {}). On failure returns NULL and writes a message
 * naming the problem and its position (line, column, byte) into err. */
json_t *pit_json_parse_object(const char *text, size_t len, char *err, size_t errlen);
/* Compact JSON text of a value (malloc'd). */
char *pit_json_dump(const json_t *value);
/* The JSON type's name: "object", "array", "string", ... */
const char *pit_json_type_name(const json_t *value);

#endif
