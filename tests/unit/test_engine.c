/*
 * The native engine: every gate against its matrix on random states, inverses, known circuits,
 * mid-circuit measurement, classical bit order, and parser errors with line:col. The reference
 * matrices here are written out from the OpenQASM 3 definitions, independently of qasm_gates.c,
 * and applied with a plain dense matrix-vector product.
 */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine/qasm.h"
#include "engine/simulate.h"
#include "engine/statevec.h"

#define I _Complex_I
#define NQ 4

static const qasm_limits LIM = {.max_qubits = 24, .max_gates = 100000, .max_depth = 64};

/* ---------------------------------------------------------------- helpers */

static void random_state(pit_statevec *sv, unsigned seed) {
    sim_rng r;
    sim_rng_seed(&r, seed);
    double norm = 0;
    for (size_t i = 0; i < sv->dim; i++) {
        sv->amp[i] = (sim_rng_uniform(&r) - 0.5) + I * (sim_rng_uniform(&r) - 0.5);
        norm += pow(cabs(sv->amp[i]), 2);
    }
    for (size_t i = 0; i < sv->dim; i++) sv->amp[i] /= sqrt(norm);
}

static void run_text(pit_statevec *sv, const char *text) {
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s: %s", text, err.message);
    for (size_t i = 0; i < c.n_ops; i++) sv_apply(sv, &c.ops[i]);
    qasm_circuit_free(&c);
}

/* out = M applied to in, M a (2^k x 2^k) matrix on qubits qs[0..k) (qs[0] the high bit of M's index),
 * under controls; plain loops over the whole 2^NQ basis. */
static void reference_apply_n(const double complex *in, double complex *out, int nq, const double complex *m, int k,
                              const int *qs, int nc, const int8_t *ctrl, const uint8_t *ctrl_vals) {
    size_t dim = (size_t)1 << nq, sub = 1u << k;
    for (size_t i = 0; i < dim; i++) out[i] = 0;
    for (size_t col = 0; col < dim; col++) {
        int on = 1;
        for (int c = 0; c < nc; c++) on &= (int)((col >> ctrl[c]) & 1) == (ctrl_vals ? ctrl_vals[c] : 1);
        if (!on) {
            out[col] += in[col];
            continue;
        }
        size_t cs = 0;
        for (int b = 0; b < k; b++) cs = (cs << 1) | ((col >> qs[b]) & 1);
        for (size_t rs = 0; rs < sub; rs++) {
            size_t row = col;
            for (int b = 0; b < k; b++) {
                size_t bit = (rs >> (k - 1 - b)) & 1;
                row = (row & ~((size_t)1 << qs[b])) | (bit << qs[b]);
            }
            out[row] += m[rs * sub + cs] * in[col];
        }
    }
}

static void reference_apply(const double complex *in, double complex *out, const double complex *m, int k,
                            const int *qs, int nc, const int *ctrl) {
    int8_t c8[QASM_MAX_CONTROLS];
    for (int i = 0; i < nc; i++) c8[i] = (int8_t)ctrl[i];
    reference_apply_n(in, out, NQ, m, k, qs, nc, c8, NULL);
}

static void assert_close(const double complex *a, const double complex *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        cr_assert(cabs(a[i] - b[i]) < 1e-10, "%s: amplitude %zu differs: (%g%+gi) vs (%g%+gi)", what, i, creal(a[i]),
                  cimag(a[i]), creal(b[i]), cimag(b[i]));
}

typedef struct {
    const char *call;   /* the gate as a program line, on q[...] */
    int k;              /* target qubits of the matrix */
    int qs[2];          /* its targets */
    int nc, ctrl[2];    /* its controls */
    double complex m[16];
    double gphase;      /* OpenQASM 3 defines some gates with an extra global phase */
} gate_case;

static void mat1(gate_case *g, double complex a, double complex b, double complex c, double complex d) {
    g->m[0] = a;
    g->m[1] = b;
    g->m[2] = c;
    g->m[3] = d;
}

static void u_mat(gate_case *g, double th, double ph, double la) {
    mat1(g, cos(th / 2), -cexp(I * la) * sin(th / 2), cexp(I * ph) * sin(th / 2), cexp(I * (ph + la)) * cos(th / 2));
}

Test(engine, every_gate_matches_its_matrix_on_random_states) {
    const double a = 0.7, b = -1.3, c = 2.1, d = 0.4, r2 = 1 / sqrt(2.0);
    gate_case cases[64];
    int n = 0;
#define G(text, kk, q0, q1, ncc, c0, c1) \
    cases[n] = (gate_case){text, kk, {q0, q1}, ncc, {c0, c1}, {0}, 0}; \
    gate_case *g = &cases[n++];
    { G("x q[1];", 1, 1, 0, 0, 0, 0) mat1(g, 0, 1, 1, 0); }
    { G("y q[2];", 1, 2, 0, 0, 0, 0) mat1(g, 0, -I, I, 0); }
    { G("z q[0];", 1, 0, 0, 0, 0, 0) mat1(g, 1, 0, 0, -1); }
    { G("h q[3];", 1, 3, 0, 0, 0, 0) mat1(g, r2, r2, r2, -r2); }
    { G("s q[1];", 1, 1, 0, 0, 0, 0) mat1(g, 1, 0, 0, I); }
    { G("sdg q[1];", 1, 1, 0, 0, 0, 0) mat1(g, 1, 0, 0, -I); }
    { G("t q[2];", 1, 2, 0, 0, 0, 0) mat1(g, 1, 0, 0, cexp(I * M_PI / 4)); }
    { G("tdg q[2];", 1, 2, 0, 0, 0, 0) mat1(g, 1, 0, 0, cexp(-I * M_PI / 4)); }
    { G("sx q[0];", 1, 0, 0, 0, 0, 0) mat1(g, (1 + I) / 2, (1 - I) / 2, (1 - I) / 2, (1 + I) / 2); }
    { G("sxdg q[0];", 1, 0, 0, 0, 0, 0) mat1(g, (1 - I) / 2, (1 + I) / 2, (1 + I) / 2, (1 - I) / 2); }
    { G("id q[0];", 1, 0, 0, 0, 0, 0) mat1(g, 1, 0, 0, 1); }
    { G("p(0.7) q[3];", 1, 3, 0, 0, 0, 0) mat1(g, 1, 0, 0, cexp(I * a)); }
    { G("phase(0.7) q[3];", 1, 3, 0, 0, 0, 0) mat1(g, 1, 0, 0, cexp(I * a)); }
    { G("u1(0.7) q[3];", 1, 3, 0, 0, 0, 0) mat1(g, 1, 0, 0, cexp(I * a)); }
    { G("rx(0.7) q[1];", 1, 1, 0, 0, 0, 0) mat1(g, cos(a / 2), -I * sin(a / 2), -I * sin(a / 2), cos(a / 2)); }
    { G("ry(-1.3) q[1];", 1, 1, 0, 0, 0, 0) mat1(g, cos(b / 2), -sin(b / 2), sin(b / 2), cos(b / 2)); }
    { G("rz(2.1) q[1];", 1, 1, 0, 0, 0, 0) mat1(g, cexp(-I * c / 2), 0, 0, cexp(I * c / 2)); }
    { G("U(0.7, -1.3, 2.1) q[2];", 1, 2, 0, 0, 0, 0) u_mat(g, a, b, c); }
    { G("u(0.7, -1.3, 2.1) q[2];", 1, 2, 0, 0, 0, 0) u_mat(g, a, b, c); }
    { G("u3(0.7, -1.3, 2.1) q[2];", 1, 2, 0, 0, 0, 0) u_mat(g, a, b, c); g->gphase = -(a + b + c) / 2; }
    { G("u2(-1.3, 2.1) q[2];", 1, 2, 0, 0, 0, 0) u_mat(g, M_PI / 2, b, c); g->gphase = -(b + c + M_PI / 2) / 2; }
    { G("u0(1) q[2];", 1, 2, 0, 0, 0, 0) mat1(g, 1, 0, 0, 1); }
    { G("cx q[0], q[2];", 1, 2, 0, 1, 0, 0) mat1(g, 0, 1, 1, 0); }
    { G("CX q[3], q[1];", 1, 1, 0, 1, 3, 0) mat1(g, 0, 1, 1, 0); }
    { G("cy q[1], q[0];", 1, 0, 0, 1, 1, 0) mat1(g, 0, -I, I, 0); }
    { G("cz q[2], q[3];", 1, 3, 0, 1, 2, 0) mat1(g, 1, 0, 0, -1); }
    { G("ch q[0], q[1];", 1, 1, 0, 1, 0, 0) mat1(g, r2, r2, r2, -r2); }
    { G("csx q[0], q[1];", 1, 1, 0, 1, 0, 0) mat1(g, (1 + I) / 2, (1 - I) / 2, (1 - I) / 2, (1 + I) / 2); }
    { G("cp(0.7) q[3], q[0];", 1, 0, 0, 1, 3, 0) mat1(g, 1, 0, 0, cexp(I * a)); }
    { G("cphase(0.7) q[3], q[0];", 1, 0, 0, 1, 3, 0) mat1(g, 1, 0, 0, cexp(I * a)); }
    { G("cu1(0.7) q[3], q[0];", 1, 0, 0, 1, 3, 0) mat1(g, 1, 0, 0, cexp(I * a)); }
    { G("crx(0.7) q[1], q[2];", 1, 2, 0, 1, 1, 0) mat1(g, cos(a / 2), -I * sin(a / 2), -I * sin(a / 2), cos(a / 2)); }
    { G("cry(-1.3) q[1], q[2];", 1, 2, 0, 1, 1, 0) mat1(g, cos(b / 2), -sin(b / 2), sin(b / 2), cos(b / 2)); }
    { G("crz(2.1) q[1], q[2];", 1, 2, 0, 1, 1, 0) mat1(g, cexp(-I * c / 2), 0, 0, cexp(I * c / 2)); }
    { G("cu3(0.7, -1.3, 2.1) q[0], q[3];", 1, 3, 0, 1, 0, 0) u_mat(g, a, b, c); }
    { G("ccx q[0], q[1], q[2];", 1, 2, 0, 2, 0, 1) mat1(g, 0, 1, 1, 0); }
    /* two-target gates: matrix index (first operand, second operand) */
    { G("swap q[0], q[2];", 2, 0, 2, 0, 0, 0) memset(g->m, 0, sizeof g->m); g->m[0] = g->m[6] = g->m[9] = g->m[15] = 1; }
    { G("iswap q[3], q[1];", 2, 3, 1, 0, 0, 0) memset(g->m, 0, sizeof g->m); g->m[0] = g->m[15] = 1; g->m[6] = g->m[9] = I; }
    { G("cswap q[1], q[0], q[3];", 2, 0, 3, 1, 1, 0) memset(g->m, 0, sizeof g->m); g->m[0] = g->m[6] = g->m[9] = g->m[15] = 1; }
    {
        G("rzz(0.4) q[1], q[2];", 2, 1, 2, 0, 0, 0) memset(g->m, 0, sizeof g->m);
        g->m[0] = g->m[15] = cexp(-I * d / 2);
        g->m[5] = g->m[10] = cexp(I * d / 2);
    }
    {
        G("rxx(0.4) q[0], q[3];", 2, 0, 3, 0, 0, 0) memset(g->m, 0, sizeof g->m);
        for (int k = 0; k < 4; k++) g->m[k * 5] = cos(d / 2);
        g->m[3] = g->m[6] = g->m[9] = g->m[12] = -I * sin(d / 2);
    }
    {
        G("ryy(0.4) q[0], q[3];", 2, 0, 3, 0, 0, 0) memset(g->m, 0, sizeof g->m);
        for (int k = 0; k < 4; k++) g->m[k * 5] = cos(d / 2);
        g->m[3] = g->m[12] = I * sin(d / 2);
        g->m[6] = g->m[9] = -I * sin(d / 2);
    }
    {
        /* Qiskit's ECR matrix [[0,1,0,i],[1,0,-i,0],[0,i,0,1],[-i,0,1,0]]/sqrt2 is little-endian (first
         * operand = low bit); here the first operand is the high bit: rows and columns 1 and 2 swap. */
        G("ecr q[2], q[0];", 2, 2, 0, 0, 0, 0) memset(g->m, 0, sizeof g->m);
        double complex e[16] = {0, 0, 1, I, 0, 0, I, 1, 1, -I, 0, 0, -I, 1, 0, 0};
        for (int k = 0; k < 16; k++) g->m[k] = e[k] / sqrt(2.0);
    }
    {
        /* cu(theta, phi, lambda, gamma) = p(gamma) on the control, then controlled U */
        G("cu(0.7, -1.3, 2.1, 0.4) q[2], q[1];", 2, 2, 1, 0, 0, 0) memset(g->m, 0, sizeof g->m);
        gate_case u;
        u_mat(&u, a, b, c);
        g->m[0] = g->m[5] = 1;
        g->m[10] = cexp(I * d) * u.m[0];
        g->m[11] = cexp(I * d) * u.m[1];
        g->m[14] = cexp(I * d) * u.m[2];
        g->m[15] = cexp(I * d) * u.m[3];
    }
#undef G
    pit_statevec sv;
    sv_init(&sv, NQ);
    double complex in[1 << NQ], want[1 << NQ];
    for (int i = 0; i < n; i++) {
        for (unsigned seed = 1; seed <= 3; seed++) {
            random_state(&sv, seed * 97 + (unsigned)i);
            memcpy(in, sv.amp, sizeof in);
            char text[160];
            snprintf(text, sizeof text, "OPENQASM 3; include \"stdgates.inc\"; qubit[%d] q; %s", NQ, cases[i].call);
            run_text(&sv, text);
            reference_apply(in, want, cases[i].m, cases[i].k, cases[i].qs, cases[i].nc, cases[i].ctrl);
            for (size_t k = 0; k < (1u << NQ); k++) want[k] *= cexp(I * cases[i].gphase);
            assert_close(sv.amp, want, 1u << NQ, cases[i].call);
        }
    }
    /* and every gate the backend lists was covered (plus U/CX/gphase forms) */
    const char *const *names = qasm_gate_names();
    for (int k = 0; names[k]; k++) {
        if (!strcmp(names[k], "gphase")) continue;
        int found = 0;
        for (int i = 0; i < n; i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "%s", cases[i].call);
            char *end = strpbrk(prefix, " (");
            if (end) *end = 0;
            found |= !strcmp(prefix, names[k]);
        }
        cr_assert(found, "gate %s has no matrix test", names[k]);
    }
    sv_free(&sv);
}

Test(engine, inverse_pairs_give_identity) {
    const char *gates[] = {"h q[0];", "s q[1];", "t q[2];", "sx q[0];", "rx(0.3) q[1];", "ry(1.1) q[2];",
                           "rz(-2) q[0];", "U(0.3, 0.2, 0.1) q[3];", "cx q[0], q[1];", "cp(0.5) q[1], q[3];",
                           "ccx q[0], q[1], q[2];", "swap q[0], q[3];", "iswap q[1], q[2];", "ecr q[0], q[1];",
                           "rzz(0.9) q[2], q[3];", "cu(0.1, 0.2, 0.3, 0.4) q[3], q[2];", "u2(0.2, 0.7) q[1];"};
    pit_statevec sv;
    sv_init(&sv, NQ);
    double complex in[1 << NQ];
    for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++) {
        random_state(&sv, (unsigned)i + 5);
        memcpy(in, sv.amp, sizeof in);
        char text[200];
        snprintf(text, sizeof text, "qubit[%d] q; %s inv @ %s", NQ, gates[i], gates[i]);
        run_text(&sv, text);
        assert_close(sv.amp, in, 1u << NQ, text);
    }
    /* and the named inverses */
    random_state(&sv, 99);
    memcpy(in, sv.amp, sizeof in);
    run_text(&sv, "qubit[4] q; s q[0]; sdg q[0]; t q[1]; tdg q[1]; sx q[2]; sxdg q[2]; pow(2) @ s q[3]; z q[3];");
    assert_close(sv.amp, in, 1u << NQ, "named inverses");
    sv_free(&sv);
}

Test(engine, modifiers) {
    pit_statevec a, b;
    sv_init(&a, NQ);
    sv_init(&b, NQ);
    random_state(&a, 3);
    random_state(&b, 3);
    run_text(&a, "qubit[4] q; ctrl @ x q[0], q[1]; negctrl @ x q[2], q[3]; pow(0.5) @ x q[1]; ctrl(2) @ h q[0], q[1], q[2];");
    run_text(&b, "qubit[4] q; cx q[0], q[1]; x q[2]; cx q[2], q[3]; x q[2]; sx q[1]; ctrl @ ch q[0], q[1], q[2];");
    assert_close(a.amp, b.amp, 1u << NQ, "modifiers vs their expansion");
    /* a controlled global phase is a phase on the control */
    random_state(&a, 4);
    random_state(&b, 4);
    run_text(&a, "qubit[4] q; ctrl @ gphase(0.3) q[2];");
    run_text(&b, "qubit[4] q; p(0.3) q[2];");
    assert_close(a.amp, b.amp, 1u << NQ, "ctrl @ gphase");
    /* user gates, nested, with parameters and modifiers */
    random_state(&a, 5);
    random_state(&b, 5);
    run_text(&a, "qubit[4] q; gate r(t) x { rz(t/2) x; } gate rr(t) x, y { r(t) x; cx x, y; r(-t) y; } "
                 "inv @ rr(pi/3) q[0], q[1]; ctrl @ rr(0.5) q[2], q[0], q[3];");
    run_text(&b, "qubit[4] q; rz(pi/6) q[1]; cx q[0], q[1]; rz(-pi/6) q[0]; "
                 "crz(0.25) q[2], q[0]; ccx q[2], q[0], q[3]; crz(-0.25) q[2], q[3];");
    assert_close(a.amp, b.amp, 1u << NQ, "user gates");
    sv_free(&a);
    sv_free(&b);
}

/* ---------------------------------------------------------------- whole circuits */

static void run_counts(const char *text, uint64_t shots, uint64_t seed, sim_result *r, qasm_circuit *c) {
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, c, &err), 0, "%s", err.message);
    sim_options o = {.shots = shots, .seed = seed};
    cr_assert_eq(sim_run(c, &o, r), SIM_OK);
}

static uint64_t count_of(const sim_result *r, const qasm_circuit *c, const char *key) {
    char buf[256];
    for (size_t i = 0; i < r->n; i++) {
        sim_key(c, r->keys[i], buf);
        if (!strcmp(buf, key)) return r->counts[i];
    }
    return 0;
}

Test(engine, bell_and_ghz_give_only_their_two_outcomes) {
    for (int n = 2; n <= 12; n += 5) {
        char text[1024];
        int k = snprintf(text, sizeof text, "OPENQASM 3; include \"stdgates.inc\"; qubit[%d] q; bit[%d] c; h q[0];", n, n);
        for (int i = 1; i < n; i++) k += snprintf(text + k, sizeof text - (size_t)k, " cx q[%d], q[%d];", i - 1, i);
        snprintf(text + k, sizeof text - (size_t)k, " c = measure q;");
        sim_result r;
        qasm_circuit c;
        run_counts(text, 20000, 42, &r, &c);
        cr_assert_eq(r.n, 2, "GHZ(%d) gave %zu outcomes", n, r.n);
        char zeros[64], ones[64];
        memset(zeros, '0', (size_t)n);
        memset(ones, '1', (size_t)n);
        zeros[n] = ones[n] = 0;
        uint64_t z = count_of(&r, &c, zeros), o = count_of(&r, &c, ones);
        cr_assert_eq(z + o, 20000);
        cr_assert(fabs((double)z - 10000) < 4 * sqrt(5000.0), "GHZ(%d): %llu zeros of 20000", n, (unsigned long long)z);
        sim_result_free(&r);
        qasm_circuit_free(&c);
    }
}

Test(engine, qft_then_inverse_qft_restores_the_input) {
    const char *text = "OPENQASM 3; include \"stdgates.inc\";\n"
                       "gate qft3 a, b, c { h a; cp(pi/2) b, a; cp(pi/4) c, a; h b; cp(pi/2) c, b; h c; swap a, c; }\n"
                       "qubit[5] q; bit[5] m;\n"
                       "x q[0]; x q[2]; x q[3];\n"
                       "qft3 q[0], q[2], q[4]; qft3 q[1], q[3], q[2];\n"
                       "inv @ qft3 q[1], q[3], q[2]; inv @ qft3 q[0], q[2], q[4];\n"
                       "m = measure q;";
    sim_result r;
    qasm_circuit c;
    run_counts(text, 1000, 1, &r, &c);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(count_of(&r, &c, "01101"), 1000);
    sim_result_free(&r);
    qasm_circuit_free(&c);
}

Test(engine, teleportation_with_midcircuit_measurement_and_if) {
    const double theta = 1.1; /* P(1) = sin^2(theta/2) */
    char text[1024];
    snprintf(text, sizeof text,
             "OPENQASM 2.0; include \"qelib1.inc\";\n"
             "qreg q[3]; creg m0[1]; creg m1[1]; creg out[1];\n"
             "ry(%.17g) q[0];\n"
             "h q[1]; cx q[1], q[2];\n"
             "cx q[0], q[1]; h q[0];\n"
             "measure q[0] -> m0[0]; measure q[1] -> m1[0];\n"
             "if (m1 == 1) x q[2];\n"
             "if (m0 == 1) z q[2];\n"
             "measure q[2] -> out[0];\n", theta);
    sim_result r;
    qasm_circuit c;
    run_counts(text, 4000, 2024, &r, &c);
    cr_assert(r.per_shot, "mid-circuit measurement must run per shot");
    uint64_t ones = 0, total = 0;
    char buf[16];
    for (size_t i = 0; i < r.n; i++) {
        sim_key(&c, r.keys[i], buf); /* "out m1 m0" */
        total += r.counts[i];
        if (buf[0] == '1') ones += r.counts[i];
    }
    cr_assert_eq(total, 4000);
    double p = pow(sin(theta / 2), 2), sd = sqrt(4000 * p * (1 - p));
    cr_assert(fabs((double)ones - 4000 * p) < 4 * sd, "receiver read 1 %llu times of 4000, expected %.0f +- %.0f",
              (unsigned long long)ones, 4000 * p, 4 * sd);
    /* both corrections happened: all four (m0, m1) combinations occur */
    int combos[4] = {0};
    for (size_t i = 0; i < r.n; i++) combos[r.keys[i] & 3] = 1;
    cr_assert(combos[0] && combos[1] && combos[2] && combos[3]);
    sim_result_free(&r);
    qasm_circuit_free(&c);
}

Test(engine, fixed_seed_gives_identical_counts) {
    const char *text = "qubit[6] q; bit[6] c; h q; rz(0.3) q[2]; cx q[0], q[5]; c = measure q;";
    sim_result a, b, d;
    qasm_circuit c1, c2, c3;
    run_counts(text, 5000, 77, &a, &c1);
    run_counts(text, 5000, 77, &b, &c2);
    run_counts(text, 5000, 78, &d, &c3);
    cr_assert_eq(a.n, b.n);
    cr_assert(memcmp(a.keys, b.keys, a.n * 8) == 0 && memcmp(a.counts, b.counts, a.n * 8) == 0);
    cr_assert(a.n != d.n || memcmp(a.counts, d.counts, a.n * 8) != 0, "another seed gave the same counts");
    sim_result_free(&a);
    sim_result_free(&b);
    sim_result_free(&d);
    qasm_circuit_free(&c1);
    qasm_circuit_free(&c2);
    qasm_circuit_free(&c3);
}

Test(engine, reset_and_per_shot_reset) {
    sim_result r;
    qasm_circuit c;
    run_counts("qubit[2] q; bit[2] c; x q; reset q[0]; c = measure q;", 100, 3, &r, &c);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(count_of(&r, &c, "10"), 100);
    sim_result_free(&r);
    qasm_circuit_free(&c);
}

Test(engine, classical_bit_order_with_two_registers) {
    /* a (declared first) = q0; b = (b[1] = q2, b[0] = q1): key "b1b0 a0" */
    sim_result r;
    qasm_circuit c;
    run_counts("OPENQASM 3; qubit[3] q; bit[1] a; bit[2] b; x q[0]; x q[2]; a[0] = measure q[0]; "
               "b[0] = measure q[1]; b[1] = measure q[2];", 10, 1, &r, &c);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(count_of(&r, &c, "10 1"), 10);
    sim_result_free(&r);
    qasm_circuit_free(&c);
    /* never-measured bits read 0; a register broadcast measure; OpenQASM 2 syntax */
    run_counts("OPENQASM 2.0; include \"qelib1.inc\"; qreg q[2]; creg c[4]; x q[1]; measure q[0] -> c[0]; "
               "measure q[1] -> c[1];", 10, 1, &r, &c);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(count_of(&r, &c, "0010"), 10);
    sim_result_free(&r);
    qasm_circuit_free(&c);
}

/* ---------------------------------------------------------------- errors */

struct bad {
    const char *text;
    const char *where; /* "line:col" */
    const char *says;
};

Test(engine, every_parser_error_names_line_and_column) {
    const struct bad cases[] = {
        {"qubit[2] q;\nh q[0]\ncx q[0], q[1];", "3:1", "expected ';' after the gate call"},
        {"qubit[2] q;\nfoo q[0];", "2:1", "unknown gate 'foo'"},
        {"qubit[2] q;\nh q[5];", "2:5", "index 5 is out of range for 'q' (size 2)"},
        {"qubit[2] q;\nrx(1, 2) q[0];", "2:1", "gate 'rx' takes 1 parameter(s), got 2"},
        {"qubit[2] q;\ncx q[0];", "2:1", "gate 'cx' acts on 2 qubit(s), got 1"},
        {"qubit[2] q;\ncx q[0], q[0];", "2:10", "the same qubit is used twice"},
        {"qubit[2] q;\nrx(bogus) q[0];", "2:4", "unknown name 'bogus'"},
        {"qubit[2] q;\nrx(1/0) q[0];", "2:5", "division by zero"},
        {"OPENQASM 4;", "1:10", "version 4 is not supported"},
        {"include \"other.inc\";", "1:9", "only \"stdgates.inc\" and \"qelib1.inc\" are built in"},
        {"qubit[2] q; bit[1] c;\nc = measure q;", "2:5", "the sizes must match"},
        {"qubit q;\nmeasure q;", "2:10", "expected '->'"},
        {"qubit[2] q; qubit[3] q;", "1:22", "'q' is already declared"},
        {"qubit[2] q;\ngate g a { h a; \n", "2:10", "has no closing '}'"},
        {"qubit[2] q;\ngate g a { measure a; }", "2:12", "not allowed inside a gate definition"},
        {"qubit[2] q; bit[2] c;\nif (c == 7) x q[0];", "2:10", "7 does not fit in 2 classical bit(s)"},
        {"qubit[2] q; int i = 0;\nwhile (i >= 0) { i += 1; }", "2:1", "more than 1000000 loop iterations"},
        {"qubit[2] q;\nh r[0];", "2:3", "'r' is not a declared qubit register"},
        {"qubit[2] q;\n/* never closed", "2:1", "unterminated /* comment"},
        {"qubit[2] q;\npow(0.5) @ cx q[0], q[1];", "2:12", "non-integer power"},
        {"qubit[30] q;", "1:11", "at most 24"},
        {"qubit[2] q; x q[0]", "1:19", "expected ';'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qasm_circuit c;
        qasm_error err;
        cr_assert_eq(qasm_parse(cases[i].text, &LIM, &c, &err), -1, "case %zu parsed: %s", i, cases[i].text);
        char where[16];
        snprintf(where, sizeof where, "%d:%d", err.line, err.col);
        cr_assert_str_eq(where, cases[i].where, "case %zu (%s): at %s, message %s", i, cases[i].text, where, err.message);
        cr_assert(strstr(err.message, cases[i].says), "case %zu: \"%s\" lacks \"%s\"", i, err.message, cases[i].says);
        cr_assert(strncmp(err.message, where, strlen(where)) == 0, "case %zu: %s does not start with line:col", i,
                  err.message);
    }
}

Test(engine, limits_refuse_large_circuits) {
    qasm_limits lim = {.max_qubits = 24, .max_gates = 10, .max_depth = 64};
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse("qubit[2] q; h q; h q; h q; h q; h q; h q;", &lim, &c, &err), -1);
    cr_assert_eq(err.kind, QASM_TOO_LARGE);
    cr_assert(strstr(err.message, "more than 10 gates"), "%s", err.message);
    lim.max_depth = 3;
    lim.max_gates = 1000;
    cr_assert_eq(qasm_parse("qubit q; rx(((((1))))) q;", &lim, &c, &err), -1);
    cr_assert(strstr(err.message, "nesting deeper than 3"), "%s", err.message);
}

Test(engine, expressions) {
    pit_statevec a, b;
    sv_init(&a, 1);
    sv_init(&b, 1);
    run_text(&a, "qubit q; rx(-pi/2 + 2**2 * tau / 8 - sqrt(4) * arcsin(1) + ln(euler) - 1 + cos(0) + pi - 1) q;");
    run_text(&b, "qubit q; rx(pi/2) q;");
    assert_close(a.amp, b.amp, 2, "expression");
    run_text(&a, "qubit q; rx(\xcf\x80 / 3) q; rx(-pi/3) q;");
    run_text(&b, "qubit q; id q;");
    assert_close(a.amp, b.amp, 2, "pi symbol");
    sv_free(&a);
    sv_free(&b);
}

Test(engine, large_state_kernels_match_the_dense_reference) {
    /* 17 qubits crosses the parallel threshold: every kernel (general, diagonal, swap, 2-target, with
     * controls and negative controls), split over threads, against the dense reference. */
    const char *text = "qubit[17] q; h q[0]; h q[16]; cx q[16], q[3]; ccx q[0], q[3], q[15]; rz(0.3) q[15]; "
                       "swap q[1], q[14]; rzz(0.2) q[2], q[16]; cp(0.1) q[16], q[0]; ry(0.4) q[8]; "
                       "negctrl @ rx(0.5) q[5], q[12]; iswap q[16], q[0]; gphase(0.25);";
    qasm_limits lim = {.max_qubits = 24, .max_gates = 1000, .max_depth = 64};
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &lim, &c, &err), 0, "%s", err.message);
    pit_statevec a;
    sv_init(&a, 17);
    random_state(&a, 11);
    double complex *ref = malloc(a.dim * sizeof(double complex)), *tmp = malloc(a.dim * sizeof(double complex));
    memcpy(ref, a.amp, a.dim * sizeof(double complex));
    for (size_t i = 0; i < c.n_ops; i++) {
        const qasm_op *op = &c.ops[i];
        sv_apply(&a, op);
        if (op->kind == OP_GPHASE) {
            for (size_t k = 0; k < a.dim; k++) ref[k] *= cexp(I * op->phase);
        } else {
            reference_apply_n(ref, tmp, 17, op->m, op->n_targets, op->targets, op->n_controls, op->controls,
                              op->control_values);
            memcpy(ref, tmp, a.dim * sizeof(double complex));
        }
        assert_close(a.amp, ref, a.dim, "17-qubit kernel");
    }
    cr_assert(sv_threads() >= 1);
    free(ref);
    free(tmp);
    sv_free(&a);
    qasm_circuit_free(&c);
}

/* ---------------------------------------------------------------- hostile input (issue 11) */

static void assert_same_circuit(const char *text, const char *expected, int nq) {
    pit_statevec a, b;
    sv_init(&a, nq);
    sv_init(&b, nq);
    random_state(&a, 5);
    random_state(&b, 5);
    run_text(&a, text);
    run_text(&b, expected);
    assert_close(a.amp, b.amp, (size_t)1 << nq, text);
    sv_free(&a);
    sv_free(&b);
}

static void assert_refused(const char *text, qasm_error_kind kind, const char *says) {
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, &c, &err), -1, "parsed: %.80s", text);
    cr_assert_eq(err.kind, kind, "%.80s: kind %d, %s", text, err.kind, err.message);
    cr_assert(strstr(err.message, says), "\"%s\" lacks \"%s\"", err.message, says);
}

Test(engine, integer_powers_repeat_the_gate) {
    /* pow(15) once read freed memory (the push moved the list it copied from); a power of a
     * multi-qubit gate answered wrong. */
    assert_same_circuit("qubit q; pow(15) @ x q;", "qubit q; x q;", 1);
    assert_same_circuit("qubit q; pow(16) @ h q;", "qubit q; id q;", 1);
    assert_same_circuit("qubit[2] q; x q[0]; pow(17) @ cx q[0], q[1];", "qubit[2] q; x q[0]; cx q[0], q[1];", 2);
    assert_same_circuit("qubit[3] q; pow(33) @ ccx q[0], q[1], q[2];", "qubit[3] q; ccx q[0], q[1], q[2];", 3);
    assert_same_circuit("qubit q; pow(-3) @ s q;", "qubit q; s q;", 1);
    assert_same_circuit("qubit q; gate e a { } pow(1e300) @ e q; pow(0) @ x q;", "qubit q; id q;", 1);
}

Test(engine, deep_input_is_bounded_not_recursed) {
    /* A million signs folds in a loop (it overflowed the stack: a remote crash of the supervisor). */
    size_t n = 1000000;
    char *text = malloc(n + 64);
    int k = sprintf(text, "qubit q; rx(");
    memset(text + k, '-', n);
    sprintf(text + k + n, "1) q;");
    assert_same_circuit(text, "qubit q; rx(1) q;", 1);
    /* Chains that do nest stop at max_depth with RESOURCE_EXHAUSTED naming it. */
    k = sprintf(text, "qubit q; rx(");
    for (size_t i = 0; i < 100000; i++) k += sprintf(text + k, "1**");
    sprintf(text + k, "1) q;");
    assert_refused(text, QASM_TOO_LARGE, "max_depth");
    k = sprintf(text, "qreg q[1]; creg c[1]; ");
    for (size_t i = 0; i < 50000; i++) k += sprintf(text + k, "if (c==0) ");
    sprintf(text + k, "x q[0];");
    assert_refused(text, QASM_TOO_LARGE, "nesting deeper than 64");
    /* A long chain on measured bits is a deep tree (evaluated by recursion, shot by shot): bounded. */
    k = sprintf(text, "qubit q; bit b; if (b");
    for (size_t i = 0; i < 50000; i++) k += sprintf(text + k, " + b");
    sprintf(text + k, ") x q;");
    assert_refused(text, QASM_TOO_LARGE, "more than 1000 operations deep");
    free(text);
}

Test(engine, ops_other_than_gates_are_bounded_by_max_gates_too) {
    /* a while on a variable it never changes: each unrolled iteration a measurement, no gate */
    qasm_limits lim = LIM;
    lim.max_gates = 500;
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse("qubit q; bit b; int i = 0; while (i < 3) b = measure q;", &lim, &c, &err), -1);
    cr_assert_eq(err.kind, QASM_TOO_LARGE);
    cr_assert(strstr(err.message, "more than 500 measurements, resets and classical statements"), "%s", err.message);
}

Test(engine, numbers_that_would_overflow_are_refused) {
    assert_refused("qubit[4] q; ctrl(2147483647) @ ctrl(2147483647) @ ctrl(2) @ x q[0], q[1], q[2], q[3];",
                   QASM_TOO_LARGE, "at most 16 are supported");
    assert_refused("qubit[4] q; ctrl(9) @ ctrl(9) @ x q[0], q[1], q[2], q[3];", QASM_TOO_LARGE, "ask for 18 controls");
    assert_refused("qubit[4294967295] a; qubit[3] b;", QASM_TOO_LARGE, "simulates at most 24");
    assert_refused("qubit[3] b; qubit[4294967295] a;", QASM_TOO_LARGE, "simulates at most 24");
    assert_refused("bit[4294967295] c;", QASM_TOO_LARGE, "classical bits; at most 64");
    assert_refused("qubit[2] q; x q[100000000000000000000000000000];", QASM_SYNTAX, "out of range");
    assert_refused("qubit q;\nrx(arcsin(2)) q;", QASM_SYNTAX, "2:4: a gate parameter is nan");
    assert_refused("qubit q; rx(exp(1000)) q;", QASM_SYNTAX, "infinite");
    assert_refused("qubit q; pow(exp(1000)) @ x q;", QASM_SYNTAX, "pow's exponent is infinite");
}

Test(engine, gate_bodies_outlive_the_tokens_the_parser_forgets) {
    /* The parser frees each top-level statement's tokens once it is parsed; a gate definition keeps a
     * copy of its body. Calls far after the definition (thousands of token blocks later), nested
     * definitions, and errors inside a body at a call must all still read the right tokens (ASan
     * would report a read of a freed block). */
    size_t n = 200000;
    char *text = malloc(n * 2 + 512), *same = malloc(512);
    int k = sprintf(text, "OPENQASM 3.0; qubit[3] q; gate g(t) a, b { rx(t) a; cx a, b; } gate h2 a, b { g(0.5) b, a; g(pi) a, b; }");
    for (size_t i = 0; i < n; i++) text[k++] = ';';
    sprintf(text + k, " h2 q[0], q[2]; g(1.25) q[1], q[0];");
    sprintf(same, "OPENQASM 3.0; qubit[3] q; rx(0.5) q[2]; cx q[2], q[0]; rx(pi) q[0]; cx q[0], q[2]; rx(1.25) q[1]; "
                  "cx q[1], q[0];");
    assert_same_circuit(text, same, 3);
    /* An error in a body shows at the body's own line:col, however late the call. */
    k = sprintf(text, "OPENQASM 3.0; qubit[2] q;\ngate bad a { rx(arcsin(2)) a; }\n");
    for (size_t i = 0; i < n; i++) text[k++] = ';';
    sprintf(text + k, "\nbad q[0];");
    assert_refused(text, QASM_SYNTAX, "2:17: a gate parameter is nan");
    free(text);
    free(same);
}

Test(engine, registers_of_different_sizes_in_one_call_are_refused_and_a_single_qubit_repeats) {
    /* A size-1 register before a larger one skipped the size check and indexed past the first
     * register (ASan: heap-buffer-overflow in the kernels; a remote crash of a worker). */
    assert_refused("OPENQASM 2.0; include \"qelib1.inc\"; qreg a[2]; qreg b[1]; cx b, a;", QASM_SYNTAX,
                   "registers of different sizes (1 and 2)");
    assert_refused("OPENQASM 3.0; qubit[2] a; qubit[1] b; cx b, a;", QASM_SYNTAX, "registers of different sizes");
    assert_refused("OPENQASM 3.0; qubit[2] a; qubit[3] b; cx a, b;", QASM_SYNTAX, "registers of different sizes (2 and 3)");
    /* `qubit b;` is one qubit, not a register: it goes with every element of the register. */
    assert_same_circuit("OPENQASM 3.0; qubit b; qubit[2] a; h b; cx b, a;",
                        "OPENQASM 3.0; qubit b; qubit[2] a; h b; cx b, a[0]; cx b, a[1];", 3);
}

Test(engine, openqasm_3_1_is_openqasm_3) {
    assert_same_circuit("OPENQASM 3.1;\nqubit[2] q;\nh q[0];\ncx q[0], q[1];", "OPENQASM 3.0; qubit[2] q; h q[0]; cx q[0], q[1];", 2);
    assert_refused("OPENQASM 4.0; qubit q;", QASM_SYNTAX, "not supported (2.0, or 3.x)");
    assert_refused("OPENQASM 2.1; qubit q;", QASM_SYNTAX, "not supported");
}

Test(engine, the_last_measurement_into_a_bit_counts_however_many_came_before) {
    /* 300 end-of-circuit measurements of q[0] (|0>) into c[0], then one of q[1] (|1>) into c[0]:
     * c[0] is 1. Only the first 256 measurements used to count, so it read 0. */
    size_t cap = 300 * 32 + 256;
    char *text = malloc(cap);
    int k = snprintf(text, cap, "OPENQASM 3.0; include \"stdgates.inc\"; qubit[2] q; bit[1] c; x q[1];");
    for (int i = 0; i < 300; i++) k += snprintf(text + k, cap - (size_t)k, " c[0] = measure q[0];");
    snprintf(text + k, cap - (size_t)k, " c[0] = measure q[1];");
    sim_result r;
    qasm_circuit c;
    run_counts(text, 100, 1, &r, &c);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(count_of(&r, &c, "1"), 100);
    sim_result_free(&r);
    qasm_circuit_free(&c);
    free(text);
}

Test(engine, outcomes_in_high_classical_bits_are_counted_in_linear_time) {
    /* Results in the top bits of the classical state (as in Qiskit's measure_all layout, `creg c;
     * creg meas;`) all hashed to one slot of the count table: with ~180k distinct outcomes the table
     * took ~10^10 probes (seconds, growing with the square of the outcomes). A cliff guard, not a
     * benchmark: it needs ~0.1 s, and the bound is 20x that. */
    char text[4096];
    int k = snprintf(text, sizeof text, "OPENQASM 2.0; include \"qelib1.inc\"; qreg q[20]; creg c[44]; creg meas[20];");
    for (int i = 0; i < 20; i++) k += snprintf(text + k, sizeof text - (size_t)k, " h q[%d];", i);
    snprintf(text + k, sizeof text - (size_t)k, " measure q -> meas;");
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
    sim_options o = {.shots = 200000, .seed = 7};
    sim_result r;
    int64_t t0 = pit_mono_us();
    cr_assert_eq(sim_run(&c, &o, &r), SIM_OK);
    double seconds = (double)(pit_mono_us() - t0) / 1e6;
    uint64_t total = 0;
    for (size_t i = 0; i < r.n; i++) total += r.counts[i];
    cr_assert_eq(total, 200000);
    cr_assert_gt(r.n, 150000, "%zu distinct outcomes", r.n);
    cr_assert_lt(seconds, 2.0, "counting 200k shots took %.2f s: the count table is clustering again", seconds);
    sim_result_free(&r);
    qasm_circuit_free(&c);
}

Test(engine, fractional_powers_take_the_principal_root_whatever_the_sign_of_zero) {
    /* inv @ z is z, but its -1 carries -0i: cpow took the other square root (sdg for s). */
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; qubit q; h q; pow(0.5) @ inv @ z q;",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit q; h q; s q;", 1);
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; qubit q; h q; pow(0.5) @ inv @ y q;",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit q; h q; pow(0.5) @ y q;", 1);
    /* Two controlled square roots of y make a controlled y (the 25%-each circuit). */
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; qubit[2] q; h q[0]; ctrl @ pow(0.5) @ y q[0], q[1]; "
                        "ctrl @ pow(0.5) @ inv @ y q[0], q[1]; h q[0];",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit[2] q; h q[0]; cy q[0], q[1]; h q[0];", 2);
}

Test(engine, resets_and_measurements_with_a_certain_outcome_do_not_force_shot_by_shot) {
    /* A reset of a qubit that is surely |0> (or |1>), a measurement that is sure, an if on bits so
     * fixed: all part of the prefix simulated once. A reset anywhere used to send every shot through
     * the whole circuit (100 shots: 17.8 s instead of 0.15 s at 20 qubits). */
    sim_result r;
    qasm_circuit c;
    run_counts("OPENQASM 2.0; include \"qelib1.inc\"; qreg q[1]; creg c[1]; reset q[0]; h q[0]; measure q[0] -> c[0];",
               100000, 3, &r, &c);
    cr_assert_eq(r.per_shot, 0, "sampled from the final state");
    uint64_t zeros = count_of(&r, &c, "0"), ones = count_of(&r, &c, "1");
    cr_assert_eq(zeros + ones, 100000);
    cr_assert(zeros > 49000 && zeros < 51000, "%llu zeros", (unsigned long long)zeros);
    sim_result_free(&r);
    qasm_circuit_free(&c);
    /* x; measure (sure: 1); reset (of |1>: an x); if (c==1) x; h; measure: c[0] is always 1. */
    run_counts("OPENQASM 2.0; include \"qelib1.inc\"; qreg q[2]; creg c[2]; x q[0]; measure q[0] -> c[0]; reset q[0]; "
               "if (c==1) x q[1]; h q[0]; measure q[0] -> c[1];",
               10000, 5, &r, &c);
    cr_assert_eq(count_of(&r, &c, "01") + count_of(&r, &c, "11"), 10000, "c[0] is 1 in every shot");
    cr_assert_gt(count_of(&r, &c, "01"), 4500);
    cr_assert_gt(count_of(&r, &c, "11"), 4500);
    sim_result_free(&r);
    qasm_circuit_free(&c);
    /* A measurement whose outcome is random still makes it shot by shot. */
    run_counts("OPENQASM 2.0; include \"qelib1.inc\"; qreg q[1]; creg c[2]; h q[0]; measure q[0] -> c[0]; h q[0]; "
               "measure q[0] -> c[1];", 200, 9, &r, &c);
    cr_assert_eq(r.per_shot, 1);
    sim_result_free(&r);
    qasm_circuit_free(&c);
}

static double g_stop_at;
static int past_stop_time(void *arg) {
    (void)arg;
    return (double)pit_mono_us() / 1e6 > g_stop_at;
}

Test(engine, a_shot_by_shot_run_stops_between_gates) {
    /* Each shot here takes about a second (18 qubits, 3000 gates after a random measurement); the
     * run used to look at cancel only every 16 shots. */
    size_t cap = 3000 * 16 + 256;
    char *text = malloc(cap);
    int k = snprintf(text, cap, "OPENQASM 2.0; include \"qelib1.inc\"; qreg q[18]; creg c[1]; h q[0]; measure q[0] -> c[0];");
    for (int i = 0; i < 3000; i++) k += snprintf(text + k, cap - (size_t)k, " h q[%d];", i % 18);
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
    sim_options o = {.shots = 100, .seed = 1, .cancelled = past_stop_time};
    sim_result r;
    int64_t t0 = pit_mono_us();
    g_stop_at = (double)t0 / 1e6 + 0.3;
    cr_assert_eq(sim_run(&c, &o, &r), SIM_CANCELLED);
    double took = (double)(pit_mono_us() - t0) / 1e6;
    cr_assert_lt(took, 5.0, "stopped %.1f s after starting (0.3 s after the cancel would be right)", took);
    qasm_circuit_free(&c);
    free(text);
}

static int has_warning(const qasm_circuit *c, const char *part) {
    for (int i = 0; i < c->n_warnings; i++)
        if (strstr(c->warnings[i], part)) return 1;
    return 0;
}

Test(engine, timing_pragmas_annotations_and_pulse_definitions_are_accepted_ignored_and_said) {
    const char *text = "OPENQASM 3.0;\n#pragma qiskit optimization_level 3\ninclude \"stdgates.inc\";\n"
                       "defcalgrammar \"openpulse\";\ncal { extern port d0; }\n"
                       "defcal x $0 { play(d0, gaussian(1, 2)); }\nextern get_param(int) -> float;\n"
                       "qubit[2] q;\n@bind alice bob\nh q[0];\ndelay[100ns] q[1];\n"
                       "box [200ns] { cx q[0], q[1]; }\nbarrier q;\n";
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
    cr_assert(has_warning(&c, "#pragma"));
    cr_assert(has_warning(&c, "annotations"));
    cr_assert(has_warning(&c, "delay is ignored"));
    cr_assert(has_warning(&c, "box timing"));
    cr_assert(has_warning(&c, "defcalgrammar"));
    cr_assert_eq(c.n_warnings, 5, "each kind once");
    qasm_circuit_free(&c);
    /* The box's body ran; the rest changed nothing. */
    assert_same_circuit(text, "OPENQASM 3.0; include \"stdgates.inc\"; qubit[2] q; h q[0]; cx q[0], q[1];", 2);
    assert_refused("OPENQASM 3.0; qubit q; delay[10ns] q", QASM_SYNTAX, "'delay' has no end");
    assert_refused("OPENQASM 3.0; qubit q; box { x q;", QASM_SYNTAX, "the box has no closing '}'");
}

Test(engine, physical_qubits_are_the_ones_used) {
    /* Qiskit's transpiled circuits address $0, $1, ... and declare no qubits. */
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; h $0; cx $0, $2; rz(0.3) $1;",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit[3] q; h q[0]; cx q[0], q[2]; rz(0.3) q[1];", 3);
    sim_result r;
    qasm_circuit c;
    run_counts("OPENQASM 3.0; include \"stdgates.inc\"; bit[2] c; x $1; c[0] = measure $0; c[1] = measure $1;", 50, 1, &r,
               &c);
    cr_assert_eq(c.n_qubits, 2);
    cr_assert_eq(count_of(&r, &c, "10"), 50);
    sim_result_free(&r);
    qasm_circuit_free(&c);
    assert_refused("OPENQASM 3.0; qubit[2] q; x $0;", QASM_SYNTAX, "cannot be used in a program that declares qubits");
    assert_refused("OPENQASM 3.0; x $0; qubit[2] q;", QASM_SYNTAX, "cannot declare qubits");
    assert_refused("OPENQASM 3.0; x $30;", QASM_TOO_LARGE, "at most 24 qubits");
}

Test(engine, ranges_and_index_sets_broadcast_over_the_qubits_they_name) {
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; qubit[4] q; h q[0:2]; x q[{3, 0}]; rz(0.2) q[0:2:3];",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit[4] q; h q[0]; h q[1]; h q[2]; x q[3]; x q[0]; "
                        "rz(0.2) q[0]; rz(0.2) q[2];", 4);
    /* Two ranges of one size pair up element by element; measurement into a range of bits too. */
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; qubit[4] q; h q[0:1]; cx q[0:1], q[2:3];",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit[4] q; h q[0]; h q[1]; cx q[0], q[2]; cx q[1], q[3];", 4);
    sim_result r;
    qasm_circuit c;
    run_counts("OPENQASM 3.0; include \"stdgates.inc\"; qubit[3] q; bit[3] b; x q[2]; b[0:1] = measure q[1:2];", 20, 1, &r, &c);
    cr_assert_eq(count_of(&r, &c, "010"), 20);
    sim_result_free(&r);
    qasm_circuit_free(&c);
    assert_refused("OPENQASM 3.0; qubit[2] q; h q[0:5];", QASM_SYNTAX, "out of range");
    assert_refused("OPENQASM 3.0; qubit[3] q; h q[0:0:2];", QASM_SYNTAX, "step cannot be 0");
    assert_refused("OPENQASM 3.0; qubit[3] q; cx q[0:1], q[{0, 1, 2}];", QASM_SYNTAX, "registers of different sizes");
}

Test(engine, classical_constants_and_inputs_are_folded_where_they_are_used) {
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; const float half = pi / 2; float[64] t = half / 2;"
                        " int[32] n = 3; angle[20] a = pi; bool flag = true; qubit q; rx(t * n) q; rz(a + flag) q;",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit q; rx(3 * pi / 4) q; rz(pi + 1) q;", 1);
    /* input: from the request, by name */
    const char *names[] = {"theta"};
    const double values[] = {0.7};
    qasm_limits lim = LIM;
    lim.input_names = names;
    lim.input_values = values;
    lim.n_inputs = 1;
    qasm_circuit a, b;
    qasm_error err;
    cr_assert_eq(qasm_parse("OPENQASM 3.0; include \"stdgates.inc\"; input float theta; qubit q; ry(2 * theta) q;", &lim,
                            &a, &err), 0, "%s", err.message);
    cr_assert_eq(qasm_parse("OPENQASM 3.0; include \"stdgates.inc\"; qubit q; ry(1.4) q;", &LIM, &b, &err), 0);
    cr_assert_eq(a.n_ops, b.n_ops);
    for (int k = 0; k < 4; k++) cr_assert_lt(cabs(a.ops[0].m[k] - b.ops[0].m[k]), 1e-12);
    qasm_circuit_free(&a);
    qasm_circuit_free(&b);
    assert_refused("OPENQASM 3.0; input float phi; qubit q; rx(phi) q;", QASM_SYNTAX,
                   "declares input 'phi': give its value in run_circuit's \"inputs\"");
    assert_refused("OPENQASM 3.0; const float x; qubit q;", QASM_SYNTAX, "needs a value");
    assert_refused("OPENQASM 3.0; float x = 1; float x = 2;", QASM_SYNTAX, "'x' is already declared");
    assert_refused("OPENQASM 3.0; input duration d;", QASM_SYNTAX, "input of this type is not supported");
}

Test(engine, for_loops_unroll_over_ranges_and_sets_with_the_variable_in_indices_and_angles) {
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; qubit[4] q; h q[0];"
                        " for uint i in [0:2] { cx q[i], q[i + 1]; rz(0.1 * i) q[i]; }",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit[4] q; h q[0]; cx q[0], q[1]; rz(0) q[0];"
                        " cx q[1], q[2]; rz(0.1) q[1]; cx q[2], q[3]; rz(0.2) q[2];", 4);
    /* steps, negative steps, sets, a single statement body, nesting, and an empty range */
    assert_same_circuit("OPENQASM 3.0; include \"stdgates.inc\"; qubit[4] q;"
                        " for int i in [3:-2:0] x q[i]; for j in {0, 2} { for k in [1:1] cz q[j], q[k + 2]; }"
                        " for int e in [2:1] { h q[0]; }",
                        "OPENQASM 3.0; include \"stdgates.inc\"; qubit[4] q; x q[3]; x q[1]; cz q[0], q[3];"
                        " cz q[2], q[3];", 4);
    assert_refused("OPENQASM 3.0; qubit[2] q; for i in [0:5] { h q[i]; }", QASM_SYNTAX, "index 2 is out of range");
    assert_refused("OPENQASM 3.0; qubit q; for i in [0:1:2000000] { }", QASM_TOO_LARGE, "loop iterations");
    assert_refused("OPENQASM 3.0; qubit q; for i in [0:1] { h q;", QASM_SYNTAX, "no closing '}'");
    assert_refused("OPENQASM 3.0; qubit[2] q; for i in [0:1] { h q[i / 2]; }", QASM_SYNTAX, "must be a whole number");
}
