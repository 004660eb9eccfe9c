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
    OP_IF,      /* body runs when the condition holds, else_body otherwise */
    OP_WHILE,   /* body runs while the condition holds (at most QASM_MAX_LOOP_ITERATIONS a shot) */
    OP_SETBITS, /* classical bits [set_start, set_start + set_len) = the low bits of cond's value */
    OP_BREAK,   /* leaves the innermost OP_WHILE */
    OP_CONTINUE /* to the innermost OP_WHILE's next test */
} qasm_op_kind;

/* Every loop (unrolled at parse time, or a while run shot by shot) stops here: RESOURCE_EXHAUSTED. */
#define QASM_MAX_LOOP_ITERATIONS 1000000L

/* A classical expression over the run's classical bits, evaluated shot by shot (what does not depend
 * on a measurement is folded by the parser into CX_CONST). A tree in one array: nodes[n - 1] is the
 * root, children come before their parent (a, b index nodes). Values are doubles: whole numbers up to
 * 2^53 exactly, registers of more bits compare by their nearest double. */
typedef enum {
    CX_CONST, CX_BITS, /* leaves: value; the unsigned number in bits [start, start + len) */
    CX_NEG, CX_NOT, CX_BNOT, /* unary on a: -, logical !, bitwise ~ (on width bits) */
    CX_ADD, CX_SUB, CX_MUL, CX_DIV, CX_MOD, CX_POW, CX_SHL, CX_SHR, CX_BAND, CX_BOR, CX_BXOR,
    CX_LAND, CX_LOR, CX_EQ, CX_NE, CX_LT, CX_LE, CX_GT, CX_GE,
    CX_BOOL, CX_TRUNC /* casts: bool(a), int(a) */
} qasm_cnode_kind;

typedef struct {
    uint8_t kind;         /* qasm_cnode_kind */
    uint8_t start, len;   /* CX_BITS */
    uint8_t width;        /* CX_BNOT: bits kept (0: a signed number's complement) */
    uint16_t depth;       /* of the tree under it: bounded (QASM_MAX_EXPR_DEPTH), as is evaluation's recursion */
    int32_t a, b;
    double value;         /* CX_CONST */
} qasm_cnode;

typedef struct {
    qasm_cnode *nodes; /* owned */
    int n;
} qasm_cexpr;

#define QASM_MAX_EXPR_DEPTH 1000

/* The expression's value for the classical bits (c[0] in bit 0). */
double qasm_cexpr_eval(const qasm_cexpr *e, uint64_t bits);

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
    /* OP_IF, OP_WHILE: the condition (non-zero holds); OP_SETBITS: the value */
    qasm_cexpr cond;
    struct qasm_op *body, *else_body; /* OP_IF, OP_WHILE (no else) */
    size_t n_body, n_else;
    /* OP_SETBITS */
    int set_start, set_len;
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
    /* Classical bits that hold variables given measured values (int k = c;): not in any register, so
     * not in the results' keys (sim_run leaves them out of its counts). */
    uint64_t hidden_bits;
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
    /* Files the circuit may include besides stdgates.inc and qelib1.inc (run_circuit's "includes":
     * name -> text); nothing is read from the file system. */
    const char *const *include_names;
    const char *const *include_texts;
    int n_includes;
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
