/* Shared by the OpenQASM parser and the standard gate table. */
#ifndef PIT_QASM_INTERNAL_H
#define PIT_QASM_INTERNAL_H

#include "engine/qasm.h"

/* A growable list of ops. */
typedef struct {
    qasm_op *ops;
    size_t n, cap;
} qasm_oplist;

qasm_op *qasm_oplist_push(qasm_oplist *l); /* a zeroed op at the end */
void qasm_oplist_free(qasm_oplist *l);     /* frees nested bodies too */
void qasm_ops_free_bodies(qasm_op *ops, size_t n); /* the if bodies inside ops, not ops itself */

/* Standard gates (qasm_gates.c). */
int qasm_std_gate_sig(const char *name, int *n_params, int *n_qubits);
int qasm_std_gate_emit(const char *name, const double *params, const int *qubits, int version, qasm_oplist *out);
void qasm_op_classify(qasm_op *op);

#endif
