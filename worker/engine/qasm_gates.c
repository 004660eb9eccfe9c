/*
 * The standard gates, as primitive ops (a matrix on 1 or 2 targets under controls, or a global
 * phase), following OpenQASM 3's stdgates.inc, and OpenQASM 2's qelib1.inc where the two differ
 * only by global phase (u1, u2, u3 without gphase in OpenQASM 2 programs), plus the common
 * extensions (u0, u, cu1, cu3, rxx, ryy, rzz, sxdg, csx, iswap, ecr).
 */
#include <math.h>
#include <string.h>

#include "engine/qasm_internal.h"

#define I _Complex_I

static void set2(double complex *m, double complex a, double complex b, double complex c, double complex d) {
    m[0] = a;
    m[1] = b;
    m[2] = c;
    m[3] = d;
}

static void mat_u(double th, double ph, double la, double complex *m) {
    set2(m, cos(th / 2), -cexp(I * la) * sin(th / 2), cexp(I * ph) * sin(th / 2), cexp(I * (ph + la)) * cos(th / 2));
}

/* 4x4 = a (x) b, a on the first target (the high index bit). */
static void kron2(const double complex *a, const double complex *b, double complex *m) {
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) m[r * 4 + c] = a[(r >> 1) * 2 + (c >> 1)] * b[(r & 1) * 2 + (c & 1)];
}

static void matmul4(const double complex *a, const double complex *b, double complex *out) {
    double complex t[16];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            double complex s = 0;
            for (int k = 0; k < 4; k++) s += a[r * 4 + k] * b[k * 4 + c];
            t[r * 4 + c] = s;
        }
    memcpy(out, t, sizeof t);
}

/* exp(-i theta/2 P(x)P) for a two-qubit Pauli product P(x)P given by its 2x2 factors. */
static void pauli_rot(const double complex *p, double theta, double complex *m) {
    double complex pp[16];
    kron2(p, p, pp);
    for (int k = 0; k < 16; k++) m[k] = -I * sin(theta / 2) * pp[k] + ((k % 5 == 0) ? cos(theta / 2) : 0);
}

typedef struct {
    const char *name;
    int n_params;
    int n_controls; /* leading operands that are controls */
    int n_targets;
} gate_sig;

/* name, params, controls, targets. Order is what backend_info lists. */
static const gate_sig SIGS[] = {
    {"U", 3, 0, 1},     {"u", 3, 0, 1},      {"CX", 0, 1, 1},     {"gphase", 1, 0, 0}, {"id", 0, 0, 1},
    {"x", 0, 0, 1},     {"y", 0, 0, 1},      {"z", 0, 0, 1},      {"h", 0, 0, 1},      {"s", 0, 0, 1},
    {"sdg", 0, 0, 1},   {"t", 0, 0, 1},      {"tdg", 0, 0, 1},    {"sx", 0, 0, 1},     {"sxdg", 0, 0, 1},
    {"p", 1, 0, 1},     {"phase", 1, 0, 1},  {"rx", 1, 0, 1},     {"ry", 1, 0, 1},     {"rz", 1, 0, 1},
    {"u0", 1, 0, 1},    {"u1", 1, 0, 1},     {"u2", 2, 0, 1},     {"u3", 3, 0, 1},     {"cx", 0, 1, 1},
    {"cy", 0, 1, 1},    {"cz", 0, 1, 1},     {"ch", 0, 1, 1},     {"csx", 0, 1, 1},    {"cp", 1, 1, 1},
    {"cphase", 1, 1, 1}, {"cu1", 1, 1, 1},   {"crx", 1, 1, 1},    {"cry", 1, 1, 1},    {"crz", 1, 1, 1},
    {"cu", 4, 1, 1},    {"cu3", 3, 1, 1},    {"swap", 0, 0, 2},   {"iswap", 0, 0, 2},  {"ecr", 0, 0, 2},
    {"rxx", 1, 0, 2},   {"ryy", 1, 0, 2},    {"rzz", 1, 0, 2},    {"ccx", 0, 2, 1},    {"cswap", 0, 1, 2},
};
#define N_SIGS (sizeof SIGS / sizeof SIGS[0])

static const char *GATE_NAMES[N_SIGS + 1];

const char *const *qasm_gate_names(void) {
    if (!GATE_NAMES[0])
        for (size_t i = 0; i < N_SIGS; i++) GATE_NAMES[i] = SIGS[i].name;
    return GATE_NAMES;
}

int qasm_std_gate_sig(const char *name, int *n_params, int *n_qubits) {
    for (size_t i = 0; i < N_SIGS; i++)
        if (strcmp(SIGS[i].name, name) == 0) {
            *n_params = SIGS[i].n_params;
            *n_qubits = SIGS[i].n_controls + SIGS[i].n_targets;
            return 1;
        }
    return 0;
}

static qasm_gate_class classify(const double complex *m, int n) {
    int dim = 1 << n, diag = 1, perm = 1;
    for (int r = 0; r < dim; r++) {
        int nonzero = 0;
        for (int c = 0; c < dim; c++) {
            double complex v = m[r * dim + c];
            if (cabs(v) > 1e-15) {
                nonzero++;
                if (r != c) diag = 0;
                if (cabs(v - 1) > 1e-15) perm = 0;
            }
        }
        if (nonzero != 1) diag = perm = 0;
    }
    return diag ? GATE_DIAGONAL : perm ? GATE_PERMUTATION : GATE_GENERAL;
}

void qasm_op_classify(qasm_op *op) { op->cls = classify(op->m, op->n_targets); }

static qasm_op *push_gate(qasm_oplist *out, int n_targets, const int *targets, int n_controls, const int *controls) {
    qasm_op *op = qasm_oplist_push(out);
    op->kind = OP_GATE;
    op->n_targets = n_targets;
    for (int i = 0; i < n_targets; i++) op->targets[i] = targets[i];
    op->n_controls = n_controls;
    for (int i = 0; i < n_controls; i++) {
        op->controls[i] = controls[i];
        op->control_values[i] = 1;
    }
    return op;
}

static void push_1q(qasm_oplist *out, int q, int n_controls, const int *controls, const double complex *m) {
    qasm_op *op = push_gate(out, 1, &q, n_controls, controls);
    memcpy(op->m, m, 4 * sizeof(double complex));
    qasm_op_classify(op);
}

static void push_gphase(qasm_oplist *out, double phase) {
    qasm_op *op = qasm_oplist_push(out);
    op->kind = OP_GPHASE;
    op->phase = phase;
}

/* Appends the primitive ops of standard gate `name` on qubits q (controls first) to out.
 * version 2 uses qelib1's u1/u2/u3 (no global phase). Returns 0, or -1 if name is not standard. */
int qasm_std_gate_emit(const char *name, const double *p, const int *q, int version, qasm_oplist *out) {
    double complex m[16];
    double s2 = 1 / sqrt(2.0);
    if (!strcmp(name, "U") || !strcmp(name, "u")) {
        mat_u(p[0], p[1], p[2], m);
        push_1q(out, q[0], 0, NULL, m);
    } else if (!strcmp(name, "gphase")) {
        push_gphase(out, p[0]);
    } else if (!strcmp(name, "id") || !strcmp(name, "u0")) {
        set2(m, 1, 0, 0, 1);
        push_1q(out, q[0], 0, NULL, m);
    } else if (!strcmp(name, "x") || !strcmp(name, "CX") || !strcmp(name, "cx") || !strcmp(name, "ccx")) {
        int nc = !strcmp(name, "x") ? 0 : !strcmp(name, "ccx") ? 2 : 1;
        set2(m, 0, 1, 1, 0);
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "y") || !strcmp(name, "cy")) {
        int nc = name[0] == 'c';
        set2(m, 0, -I, I, 0);
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "z") || !strcmp(name, "cz")) {
        int nc = name[0] == 'c';
        set2(m, 1, 0, 0, -1);
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "h") || !strcmp(name, "ch")) {
        int nc = name[0] == 'c';
        set2(m, s2, s2, s2, -s2);
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "s") || !strcmp(name, "sdg") || !strcmp(name, "t") || !strcmp(name, "tdg")) {
        double a = (name[0] == 's' ? M_PI / 2 : M_PI / 4) * (strstr(name, "dg") ? -1 : 1);
        set2(m, 1, 0, 0, cexp(I * a));
        push_1q(out, q[0], 0, NULL, m);
    } else if (!strcmp(name, "sx") || !strcmp(name, "sxdg") || !strcmp(name, "csx")) {
        int nc = name[0] == 'c';
        if (!strcmp(name, "sxdg"))
            set2(m, (1 - I) / 2, (1 + I) / 2, (1 + I) / 2, (1 - I) / 2);
        else
            set2(m, (1 + I) / 2, (1 - I) / 2, (1 - I) / 2, (1 + I) / 2);
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "p") || !strcmp(name, "phase") || !strcmp(name, "u1") || !strcmp(name, "cp") ||
               !strcmp(name, "cphase") || !strcmp(name, "cu1")) {
        int nc = name[0] == 'c';
        set2(m, 1, 0, 0, cexp(I * p[0]));
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "rx") || !strcmp(name, "crx")) {
        int nc = name[0] == 'c';
        set2(m, cos(p[0] / 2), -I * sin(p[0] / 2), -I * sin(p[0] / 2), cos(p[0] / 2));
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "ry") || !strcmp(name, "cry")) {
        int nc = name[0] == 'c';
        set2(m, cos(p[0] / 2), -sin(p[0] / 2), sin(p[0] / 2), cos(p[0] / 2));
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "rz") || !strcmp(name, "crz")) {
        int nc = name[0] == 'c';
        set2(m, cexp(-I * p[0] / 2), 0, 0, cexp(I * p[0] / 2));
        push_1q(out, q[nc], nc, q, m);
    } else if (!strcmp(name, "u2")) {
        if (version >= 3) push_gphase(out, -(p[0] + p[1] + M_PI / 2) / 2);
        mat_u(M_PI / 2, p[0], p[1], m);
        push_1q(out, q[0], 0, NULL, m);
    } else if (!strcmp(name, "u3")) {
        if (version >= 3) push_gphase(out, -(p[0] + p[1] + p[2]) / 2);
        mat_u(p[0], p[1], p[2], m);
        push_1q(out, q[0], 0, NULL, m);
    } else if (!strcmp(name, "cu")) {
        /* stdgates.inc: p(gamma) c; ctrl @ U(theta, phi, lambda) c, t; */
        set2(m, 1, 0, 0, cexp(I * p[3]));
        push_1q(out, q[0], 0, NULL, m);
        mat_u(p[0], p[1], p[2], m);
        push_1q(out, q[1], 1, q, m);
    } else if (!strcmp(name, "cu3")) {
        mat_u(p[0], p[1], p[2], m);
        push_1q(out, q[1], 1, q, m);
    } else if (!strcmp(name, "swap") || !strcmp(name, "cswap") || !strcmp(name, "iswap")) {
        int nc = name[0] == 'c';
        memset(m, 0, sizeof m);
        double complex off = !strcmp(name, "iswap") ? I : 1;
        m[0] = 1;
        m[1 * 4 + 2] = off;
        m[2 * 4 + 1] = off;
        m[15] = 1;
        qasm_op *op = push_gate(out, 2, q + nc, nc, q);
        memcpy(op->m, m, sizeof m);
        qasm_op_classify(op);
    } else if (!strcmp(name, "rxx") || !strcmp(name, "ryy") || !strcmp(name, "rzz")) {
        double complex pauli[4];
        if (name[1] == 'x') set2(pauli, 0, 1, 1, 0);
        else if (name[1] == 'y') set2(pauli, 0, -I, I, 0);
        else set2(pauli, 1, 0, 0, -1);
        pauli_rot(pauli, p[0], m);
        qasm_op *op = push_gate(out, 2, q, 0, NULL);
        memcpy(op->m, m, sizeof m);
        qasm_op_classify(op);
    } else if (!strcmp(name, "ecr")) {
        /* ecr a, b = rzx(pi/4) a, b; x a; rzx(-pi/4) a, b, with rzx(t) = exp(-i t/2 Z(x)X). */
        double complex z[4], x[4], id[4], zx[16], rp[16], rm[16], xa[16];
        set2(z, 1, 0, 0, -1);
        set2(x, 0, 1, 1, 0);
        set2(id, 1, 0, 0, 1);
        kron2(z, x, zx);
        for (int k = 0; k < 16; k++) {
            rp[k] = -I * sin(M_PI / 8) * zx[k] + ((k % 5 == 0) ? cos(M_PI / 8) : 0);
            rm[k] = I * sin(M_PI / 8) * zx[k] + ((k % 5 == 0) ? cos(M_PI / 8) : 0);
        }
        kron2(x, id, xa);
        matmul4(xa, rp, m);
        matmul4(rm, m, m);
        qasm_op *op = push_gate(out, 2, q, 0, NULL);
        memcpy(op->m, m, sizeof m);
        qasm_op_classify(op);
    } else {
        return -1;
    }
    return 0;
}
