/*
 * Gate fusion (worker/engine/fuse.c): a fused run must give the state the gates give one by one.
 * Random circuits of every kind of gate the parser emits (general, diagonal and permutation 1- and
 * 2-qubit gates, controls and negated controls, multi-controlled gates too wide to fuse, global
 * phases) on 14..16 qubits, fused into blocks of 1..5 qubits, against the same circuit unfused; and
 * the same with cache blocking on chunks of 5..12 qubits (the stretches, the steps moved past waiting
 * ones, a gate wider than a chunk).
 */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fuse.h"
#include "engine/qasm.h"
#include "engine/simulate.h"
#include "engine/statevec.h"

static const qasm_limits LIM = {.max_qubits = 24, .max_gates = 100000, .max_depth = 64};

static const char *ONE_Q[] = {"h", "x", "y", "z", "s", "t", "sx", "rx(0.3)", "ry(1.1)", "rz(-0.7)", "p(0.4)", "u3(0.1, 0.2, 0.3)"};
static const char *TWO_Q[] = {"cx", "cz", "cy", "ch", "swap", "rxx(0.5)", "rzz(0.9)", "crx(0.2)", "cp(1.3)", "iswap", "ecr"};

/* A random circuit of `gates` gates on n qubits, as OpenQASM 3 text. */
static char *random_circuit(int n, int gates, unsigned seed) {
    sim_rng r;
    sim_rng_seed(&r, seed);
    size_t cap = (size_t)gates * 80 + 64, k = 0;
    char *s = malloc(cap);
    k += (size_t)snprintf(s + k, cap - k, "OPENQASM 3; include \"stdgates.inc\"; qubit[%d] q;\n", n);
    for (int g = 0; g < gates; g++) {
        int a = (int)(sim_rng_next(&r) % (uint64_t)n), b, c;
        do b = (int)(sim_rng_next(&r) % (uint64_t)n); while (b == a);
        do c = (int)(sim_rng_next(&r) % (uint64_t)n); while (c == a || c == b);
        /* mostly neighbours, as real circuits are, so that blocks form; sometimes anywhere */
        if (sim_rng_next(&r) % 4) b = a + 1 < n ? a + 1 : a - 1;
        switch (sim_rng_next(&r) % 8) {
        case 0: case 1: case 2:
            k += (size_t)snprintf(s + k, cap - k, "%s q[%d];\n", ONE_Q[sim_rng_next(&r) % 12], a);
            break;
        case 3: case 4: case 5:
            k += (size_t)snprintf(s + k, cap - k, "%s q[%d], q[%d];\n", TWO_Q[sim_rng_next(&r) % 11], a, b);
            break;
        case 6:
            if (c != b && c != a)
                k += (size_t)snprintf(s + k, cap - k, "negctrl @ ctrl @ rx(0.6) q[%d], q[%d], q[%d];\n", c, b, a);
            break;
        default:
            if (sim_rng_next(&r) % 2)
                k += (size_t)snprintf(s + k, cap - k, "gphase(0.25);\n");
            else /* wider than any block: stands alone between them */
                k += (size_t)snprintf(s + k, cap - k, "ctrl(5) @ x q[0], q[1], q[2], q[3], q[4], q[%d];\n", n - 1);
        }
    }
    return s;
}

static void state_as(const qasm_circuit *c, int fuse, int single, pit_statevec *sv) {
    sim_options o = {.shots = 1, .seed = 1, .fuse_qubits = fuse, .single = single};
    cr_assert_eq(sim_state(c, &o, sv), SIM_OK);
    cr_assert_eq(sv->single, single);
}

static void state_of(const qasm_circuit *c, int fuse, pit_statevec *sv) { state_as(c, fuse, 0, sv); }

/* The largest |got - want| over the amplitudes, over the largest |want| (each in its own precision). */
static double worst_relative(const pit_statevec *got, const pit_statevec *want) {
    double worst = 0, top = 0;
    for (size_t i = 0; i < want->dim; i++) {
        worst = fmax(worst, cabs(sv_amp_at(got, i) - sv_amp_at(want, i)));
        top = fmax(top, cabs(sv_amp_at(want, i)));
    }
    return worst / top;
}

Test(fuse, fused_runs_give_the_state_the_gates_give_one_by_one) {
    for (int n = 14; n <= 16; n++) {
        char *text = random_circuit(n, 300, (unsigned)n * 7919u);
        qasm_circuit c;
        qasm_error err;
        cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
        pit_statevec want;
        state_of(&c, -1, &want);
        for (int f = 1; f <= SV_BLOCK_MAX; f++) {
            pit_statevec got;
            state_of(&c, f, &got);
            double worst = 0;
            for (size_t i = 0; i < got.dim; i++) worst = fmax(worst, cabs(got.amp[i] - want.amp[i]));
            cr_assert_lt(worst, 1e-10, "%d qubits fused by %d: amplitudes differ by up to %g", n, f, worst);
            sv_free(&got);
        }
        sv_free(&want);
        qasm_circuit_free(&c);
        free(text);
    }
}

Test(fuse, cache_blocked_runs_give_the_state_the_gates_give_one_by_one) {
    for (int n = 14; n <= 16; n++) {
        char *text = random_circuit(n, 300, (unsigned)n * 104729u);
        qasm_circuit c;
        qasm_error err;
        cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
        sv_set_chunk_qubits(0);
        pit_statevec want;
        state_of(&c, -1, &want);
        for (int L = 5; L <= 12; L++)
            for (int f = 1; f <= SV_BLOCK_MAX; f += 2) {
                sv_set_chunk_qubits(L);
                pit_statevec got;
                state_of(&c, f, &got);
                double worst = 0;
                for (size_t i = 0; i < got.dim; i++) worst = fmax(worst, cabs(got.amp[i] - want.amp[i]));
                cr_assert_lt(worst, 1e-10, "%d qubits fused by %d, chunks of %d: amplitudes differ by up to %g", n, f, L,
                             worst);
                sv_free(&got);
            }
        sv_set_chunk_qubits(16);
        sv_free(&want);
        qasm_circuit_free(&c);
        free(text);
    }
}

/* Layers of rotations and CX/CZ ladders: the shape where the stretches' seeds (fuse.c, stretch_seed)
 * pick a chunk other than plain greedy order would, so that steps move past many waiting ones. */
Test(fuse, cache_blocked_layered_circuits_give_the_state_the_gates_give_one_by_one) {
    const char *rot[] = {"rx", "ry", "rz"};
    for (int n = 14; n <= 15; n++) {
        size_t cap = 64 + (size_t)n * 8 * 40, k = 0;
        char *text = malloc(cap);
        k += (size_t)snprintf(text + k, cap - k, "OPENQASM 3; include \"stdgates.inc\"; qubit[%d] q;\n", n);
        for (int layer = 0; layer < 6; layer++) {
            for (int q = 0; q < n; q++)
                k += (size_t)snprintf(text + k, cap - k, "%s(%.3f) q[%d];\n", rot[(q * 7 + layer) % 3], 0.1 + 0.37 * (q + layer), q);
            for (int q = 0; q + 1 < n; q++) k += (size_t)snprintf(text + k, cap - k, "%s q[%d], q[%d];\n", layer % 2 ? "cz" : "cx", q, q + 1);
        }
        qasm_circuit c;
        qasm_error err;
        cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
        sv_set_chunk_qubits(0);
        pit_statevec want;
        state_of(&c, -1, &want);
        for (int L = 7; L <= 11; L++) {
            sv_set_chunk_qubits(L);
            pit_statevec got;
            state_of(&c, 3, &got);
            double worst = worst_relative(&got, &want);
            cr_assert_lt(worst, 1e-10, "layered, %d qubits, chunks of %d: amplitudes differ by up to %g", n, L, worst);
            sv_free(&got);
        }
        sv_set_chunk_qubits(16);
        sv_free(&want);
        qasm_circuit_free(&c);
        free(text);
    }
}

/* Every kernel in single precision (gates, blocks of 1..5 qubits, low targets, chunks) against the
 * double state: the float rounding of a few hundred gates stays near 1e-6 of the largest amplitude;
 * a wrong kernel is off by the size of an amplitude. */
Test(fuse, single_precision_gives_the_double_state) {
    const int sizes[] = {8, 14, 16};
    for (int s = 0; s < 3; s++) {
        int n = sizes[s];
        char *text = random_circuit(n, 300, (unsigned)n * 15485863u);
        qasm_circuit c;
        qasm_error err;
        cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
        sv_set_chunk_qubits(0);
        pit_statevec want;
        state_of(&c, -1, &want);
        const int chunks[] = {0, 7, 10};
        for (int k = 0; k < 3; k++)
            for (int f = -1; f <= SV_BLOCK_MAX; f++) {
                if (f == 0) continue;
                sv_set_chunk_qubits(chunks[k]);
                pit_statevec got;
                state_as(&c, f, 1, &got);
                double w = worst_relative(&got, &want);
                cr_assert_lt(w, 2e-5, "%d qubits in single precision, fused by %d, chunks of %d: off by %g of the "
                             "largest amplitude", n, f, chunks[k], w);
                sv_free(&got);
            }
        sv_set_chunk_qubits(16);
        sv_free(&want);
        qasm_circuit_free(&c);
        free(text);
    }
}

/* Measurement and collapse in single precision: a per-shot circuit's counts match double's. */
/* Two runs' counts: the same outcomes, each count within tolerance of the other's; both freed. */
static void assert_same_counts_then_free(sim_result r[2], long long tolerance) {
    cr_assert_eq(r[0].n, r[1].n);
    for (size_t i = 0; i < r[0].n; i++) {
        cr_assert_eq(r[0].keys[i], r[1].keys[i]);
        cr_assert_lt(llabs((long long)r[0].counts[i] - (long long)r[1].counts[i]), tolerance,
                     "outcome %llu: %llu vs %llu", (unsigned long long)r[0].keys[i],
                     (unsigned long long)r[0].counts[i], (unsigned long long)r[1].counts[i]);
    }
    sim_result_free(&r[0]);
    sim_result_free(&r[1]);
}

Test(fuse, single_precision_measures_as_double_does) {
    const char *text = "OPENQASM 3; include \"stdgates.inc\"; qubit[3] q; bit[3] c; h q[0]; ry(0.7) q[1]; "
                       "c[0] = measure q[0]; if (c[0]) x q[2]; cx q[1], q[2]; c[1] = measure q[1]; c[2] = measure q[2];";
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
    sim_result r[2];
    for (int single = 0; single < 2; single++) {
        sim_options o = {.shots = 20000, .seed = 11, .single = single};
        cr_assert_eq(sim_run(&c, &o, &r[single]), SIM_OK);
        cr_assert(r[single].per_shot);
    }
    /* the same seed: only a draw on the edge of two outcomes may differ */
    assert_same_counts_then_free(r, 20);
    qasm_circuit_free(&c);
}

/* Shot by shot, on a state big enough for cache blocking: the chunks skipped as all zeros (the
 * state's zero_qubits, kept through measurements, resets and the per-shot copies) must not change a
 * count. The same seed with and without blocking: only a draw on the edge of two outcomes may differ. */
Test(fuse, cache_blocking_after_measurements_and_resets_counts_as_without) {
    const char *text = "OPENQASM 3; include \"stdgates.inc\"; qubit[14] q; bit[3] c; h q[13]; ry(0.7) q[2]; "
                       "cx q[13], q[9]; c[0] = measure q[13]; reset q[9]; if (c[0]) x q[11]; rx(0.4) q[12]; "
                       "cx q[11], q[12]; h q[0]; cx q[0], q[10]; c[1] = measure q[12]; c[2] = measure q[10];";
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
    sim_result r[2];
    const int chunks[2] = {0, 7};
    for (int k = 0; k < 2; k++) {
        sv_set_chunk_qubits(chunks[k]);
        sim_options o = {.shots = 4000, .seed = 5, .fuse_qubits = 2};
        cr_assert_eq(sim_run(&c, &o, &r[k]), SIM_OK);
        cr_assert(r[k].per_shot);
    }
    sv_set_chunk_qubits(16);
    assert_same_counts_then_free(r, 5);
    qasm_circuit_free(&c);
}

Test(fuse, a_layered_circuit_takes_fewer_passes_than_gates) {
    /* rotations on every qubit, then a CX ladder: 5 layers of 16 + 15 gates */
    char text[16384];
    size_t k = (size_t)snprintf(text, sizeof text, "OPENQASM 3; include \"stdgates.inc\"; qubit[16] q;\n");
    for (int l = 0; l < 5; l++) {
        for (int q = 0; q < 16; q++) k += (size_t)snprintf(text + k, sizeof text - k, "ry(0.%d) q[%d];\n", q + 1, q);
        for (int q = 0; q < 15; q++) k += (size_t)snprintf(text + k, sizeof text - k, "cx q[%d], q[%d];\n", q, q + 1);
    }
    qasm_circuit c;
    qasm_error err;
    cr_assert_eq(qasm_parse(text, &LIM, &c, &err), 0, "%s", err.message);
    fuse_plan plan = {0};
    fuse_plan_make(&plan, c.ops, c.n_ops, 3);
    cr_assert_eq(c.n_ops, 155u);
    /* each block of 3 qubits takes ~2 layers' worth of 2 qubits: well under half the gates */
    cr_assert_lt(plan.n, c.n_ops / 2, "%zu steps for %zu gates", plan.n, c.n_ops);
    for (size_t i = 0; i < plan.n; i++)
        if (!plan.steps[i].op) cr_assert_leq(plan.steps[i].block.k, 3);
    fuse_plan_free(&plan);
    qasm_circuit_free(&c);
}
