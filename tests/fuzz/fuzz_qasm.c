/*
 * libFuzzer harness: OpenQASM text -> parser -> simulator, with a small qubit limit so that every
 * circuit the parser accepts is also simulated (a handful of shots, per shot when mid-circuit).
 * Anything the sanitizers report, or a crash, is a bug; a refused circuit is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/qasm.h"
#include "engine/simulate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    qasm_limits lim = {.max_qubits = 6, .max_gates = 2000, .max_depth = 64};
    qasm_circuit c;
    qasm_error err;
    if (qasm_parse(text, &lim, &c, &err) == 0) {
        sim_options o = {.shots = 8, .seed = 7};
        sim_result r;
        if (sim_run(&c, &o, &r) == SIM_OK) {
            char key[QASM_MAX_CBITS + 65];
            for (size_t i = 0; i < r.n; i++) sim_key(&c, r.keys[i], key);
            sim_result_free(&r);
        }
        qasm_circuit_free(&c);
    } else if (!err.message[0] || (err.kind != QASM_SYNTAX && err.kind != QASM_TOO_LARGE)) {
        abort(); /* every refusal says why */
    }
    free(text);
    return 0;
}
