/* The native engine's commands (run_circuit, run_circuit_stream, backend_info) and its limits. */
#ifndef PIT_CIRCUIT_COMMANDS_H
#define PIT_CIRCUIT_COMMANDS_H

#include <stdint.h>

#include "process/command.h"

typedef struct {
    int max_qubits;
    uint64_t max_shots;
    size_t max_gates;
    size_t max_circuit_bytes; /* the OpenQASM text; parsing costs a multiple of it in memory */
    /* The pool's shared state-vector budget (common/mem_budget.h): the inherited descriptor (-1:
     * none, each run then only checks MemAvailable), this pool's entry in it, and this worker's slot. */
    int memory_fd, memory_pool, slot;
    int single; /* the default precision of circuits: 1 single, 0 double (a request's "precision" overrides it) */
} pit_engine_limits;

/* Before any call: also maps the memory budget (a warning, and none, if the descriptor is not one). */
void pit_engine_set_limits(const pit_engine_limits *l);
const pit_engine_limits *pit_engine_limits_get(void);
const pit_command *const *pit_engine_commands(size_t *n);

#endif
