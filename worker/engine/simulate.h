/* Running a parsed circuit for a number of shots: measurement counts out. */
#ifndef PIT_SIMULATE_H
#define PIT_SIMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/qasm.h"

typedef struct {
    uint64_t shots;
    uint64_t seed;
    /* Non-zero stops the run (checked between gates and between shots). */
    int (*cancelled)(void *arg);
    /* Per-shot runs report progress at every 5 % of the shots, and at least once a second. */
    void (*progress)(uint64_t shots_done, uint64_t shots, void *arg);
    void *arg;
    /* Gate fusion: blocks of at most this many qubits (1..5); 0: SIM_FUSE_DEFAULT; -1: none. */
    int fuse_qubits;
    /* 1: the state in single precision (complex floats: half the memory and the bandwidth, ~1e-6
     * relative error in the probabilities); 0: double, the default. */
    int single;
} sim_options;

#define SIM_FUSE_DEFAULT 3

typedef struct {
    uint64_t *keys;   /* classical bits, c[0] in bit 0 */
    uint64_t *counts;
    size_t n;         /* distinct outcomes */
    int per_shot;     /* 1: simulated shot by shot; 0: sampled from the final state */
    double elapsed_ms;
} sim_result;

/* SIM_LOOP_LIMIT: a while loop ran more than QASM_MAX_LOOP_ITERATIONS times in one shot. */
typedef enum { SIM_OK = 0, SIM_CANCELLED, SIM_NO_MEMORY, SIM_LOOP_LIMIT } sim_status;

/* Memory the run will allocate, in bytes (checked against what the machine has before running);
 * single: in single precision. */
size_t sim_memory_needed(const qasm_circuit *c, int single);
sim_status sim_run(const qasm_circuit *c, const sim_options *o, sim_result *r);
void sim_result_free(sim_result *r);
/* The final state of a circuit without mid-circuit measurements (c->has_midcircuit == 0; its final
 * measurements are left out): sv is allocated here, the caller frees it with sv_free. */
struct pit_statevec_s;
sim_status sim_state(const qasm_circuit *c, const sim_options *o, struct pit_statevec_s *sv);
/* The counts key of an outcome: each register's bits c[n-1]..c[0], registers separated by a space,
 * the last declared on the left. buf needs n_cbits + n_cregs bytes. */
void sim_key(const qasm_circuit *c, uint64_t bits, char *buf);

/* xoshiro256**: the seeded generator behind every sample. */
typedef struct {
    uint64_t s[4];
} sim_rng;
void sim_rng_seed(sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(sim_rng *r);
double sim_rng_uniform(sim_rng *r); /* [0, 1) */

#endif
