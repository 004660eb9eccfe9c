/* libFuzzer harness: config file text -> the supervisor's config loader and its checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sup_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    pit_sup_config c;
    char err[1024];
    err[0] = 0;
    if (pit_sup_config_load_text("fuzz.json", text, &c, err, sizeof err) != 0 && !err[0]) abort();
    pit_sup_config_free(&c);
    free(text);
    return 0;
}
