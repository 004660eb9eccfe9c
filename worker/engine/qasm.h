/*
 * OpenQASM 2/3 (subset) -> a flat circuit: every gate call expanded down to one- and two-qubit
 * unitaries with controls, so that the simulator sees nothing but matrices, measurements, resets
 * and classically-conditioned blocks.
 */
#ifndef PIT_QASM_H
#define PIT_QASM_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#define QASM_MAX_CONTROLS 16
#define QASM_MAX_CBITS 64
#define QASM_MAX_QUBITS 64 /* the parser's hard ceiling; max_qubits (config) is lower */
#define QASM_MAX_WARNINGS 8

typedef enum {
    OP_GATE,    /* a unitary on 1 or 2 target qubits, under controls */
    OP_GPHASE,  /* a global phase (uncontrolled) */
    OP_MEASURE, /* qubit -> classical bit */
    OP_RESET,   /* qubit -> |0> */
    OP_IF,      /* body runs when the condition holds */
} qasm_op_kind;

typedef enum { GATE_GENERAL, GATE_DIAGONAL, GATE_PERMUTATION } qasm_gate_class;

typedef struct qasm_op {
    qasm_op_kind kind;
    /* OP_GATE */
    int n_targets;                 /* 1 or 2 */
    int targets[2];                /* for 2 targets, the matrix index is (bit(targets[0]) << 1) | bit(targets[1]) */
    int n_controls;
    /* Bytes, not ints: qubits are < QASM_MAX_QUBITS, and a circuit may hold max_gates ops (each op
     * is ~360 bytes; ints made it ~460). */
    int8_t controls[QASM_MAX_CONTROLS];
    uint8_t control_values[QASM_MAX_CONTROLS]; /* 1: ctrl, 0: negctrl */
    double complex m[16];          /* row-major 2x2 or 4x4 */
    qasm_gate_class cls;
    /* OP_GPHASE */
    double phase;
    /* OP_MEASURE, OP_RESET: targets[0]; OP_MEASURE: cbit */
    int cbit;
    /* OP_IF: cbits [cond_start, cond_start + cond_len) read as an unsigned number == cond_value */
    int cond_start, cond_len;
    uint64_t cond_value;
    struct qasm_op *body;
    size_t n_body;
} qasm_op;

typedef struct {
    char name[64];
    int start, size;
    int scalar; /* OpenQASM 3 `qubit b;` / `bit c;`: one qubit or bit, not a register of one */
} qasm_register;

typedef struct {
    int n_qubits;
    int n_cbits;
    qasm_register qregs[64], cregs[64];
    int n_qregs, n_cregs;
    qasm_op *ops;
    size_t n_ops;
    size_t n_gates;     /* gates after expansion, nested bodies included */
    int has_midcircuit; /* a measurement before a gate on its qubit, a reset, or an if: simulate per shot */
    int version;        /* 2 or 3 */
    /* What the parser accepted and ignored (#pragma, annotations, delay, timing, pulse definitions),
     * once each: the result's "warnings". */
    char warnings[QASM_MAX_WARNINGS][160];
    int n_warnings;
} qasm_circuit;

typedef struct {
    int max_qubits;
    size_t max_gates;
    int max_depth; /* nesting of gate definitions, ifs and parentheses */
    /* Values for the circuit's `input` declarations, by name (run_circuit's "inputs"); none: NULL, 0. */
    const char *const *input_names;
    const double *input_values;
    int n_inputs;
} qasm_limits;

typedef enum { QASM_OK = 0, QASM_SYNTAX, QASM_TOO_LARGE } qasm_error_kind;

typedef struct {
    qasm_error_kind kind;
    int line, col;
    char message[512]; /* "3:12: expected ';' after the gate call" */
} qasm_error;

/* Parses and expands. Returns 0, or -1 with err filled (syntax errors carry line:col). */
int qasm_parse(const char *text, const qasm_limits *limits, qasm_circuit *out, qasm_error *err);
void qasm_circuit_free(qasm_circuit *c);

/* The gate names the parser knows (for backend_info), NULL-terminated. */
const char *const *qasm_gate_names(void);

#endif
