/* libFuzzer harness: request args (JSON object text, NULs allowed) -> pit_json_parse_object. */
#include <stdint.h>
#include <stdlib.h>

#include "json_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    err[0] = 0;
    json_t *v = pit_json_parse_object((const char *)data, size, err, sizeof err);
    if (v) {
        char *text = pit_json_dump(v);
        free(text);
        json_decref(v);
    } else if (!err[0]) {
        abort(); /* a refusal always says why */
    }
    return 0;
}
