/*
 * Gate fusion: a run of gates becomes fewer, larger steps. Neighbouring gates that together touch at
 * most SV_BLOCK_MAX qubits are multiplied into one dense (or diagonal) unitary, applied in one pass
 * over the state instead of one pass per gate: a 26-qubit layered circuit of 255 gates takes ~70
 * passes. Gates are moved only past gates on other qubits, so the product is exact.
 *
 * Ownership: a plan holds its blocks' matrices and points into the ops it was made from (which must
 * outlive it). Not thread-safe: one plan, one caller.
 */
#ifndef PIT_FUSE_H
#define PIT_FUSE_H

#include <stddef.h>

#include "engine/qasm.h"
#include "engine/statevec.h"

/* op: one gate as it is (its own kernel is the fastest), or NULL: block, several gates multiplied
 * together */
typedef sv_step fuse_step;

typedef struct {
    fuse_step *steps;
    size_t n, cap;
    double complex phase; /* global phases of the fused gates, folded into the first block */
} fuse_plan;

/* Fuses the gates among ops[0..n) (OP_GATE and OP_GPHASE; any other op is skipped: the caller
 * passes only runs where that is right) into plan, blocks of at most max_qubits (1..SV_BLOCK_MAX)
 * qubits. The plan is emptied first. */
void fuse_plan_make(fuse_plan *plan, const qasm_op *ops, size_t n, int max_qubits);
/* Applies the plan's steps to sv; between steps, stop(arg) non-zero ends it early: returns 1. */
int fuse_plan_apply(const fuse_plan *plan, pit_statevec *sv, int (*stop)(void *), void *arg);
void fuse_plan_free(fuse_plan *plan);

#endif
