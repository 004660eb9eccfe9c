/* The native engine's commands (run_circuit, run_circuit_stream, backend_info) and its limits. */
#ifndef PIT_CIRCUIT_COMMANDS_H
#define PIT_CIRCUIT_COMMANDS_H

#include <stdint.h>

#include "command.h"

typedef struct {
    int max_qubits;
    uint64_t max_shots;
    size_t max_gates;
    size_t max_circuit_bytes; /* the OpenQASM text; parsing costs a multiple of it in memory */
} pit_engine_limits;

void pit_engine_set_limits(const pit_engine_limits *l);
const pit_engine_limits *pit_engine_limits_get(void);
const pit_command *const *pit_engine_commands(size_t *n);

#endif
