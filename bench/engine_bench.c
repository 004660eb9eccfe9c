/*
 * pitboss-engine-bench: the native simulator against this machine's memory bandwidth, in one process.
 *
 * For 20, 22 and 24 qubits: first a STREAM-style read+write pass over a vector the size of the state
 * (the ceiling: a single-qubit gate must read and write every amplitude once); then layers of H on
 * every qubit, a CX ladder and RZ on every qubit, and a QFT; each prints time per gate and the
 * fraction of the ceiling reached, and a fused block of 1..5 qubits (a pass of the state at the
 * ceiling is 100%). Last, one million shots sampled from a 20-qubit state.
 *
 *   pitboss-engine-bench [--reps N] [--max-qubits N (default 24; 26 leaves a 260 MiB L3 behind)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine/qasm.h"
#include "engine/simulate.h"
#include "engine/statevec.h"

static double now_s(void) { return (double)pit_mono_us() / 1e6; }

static qasm_circuit parse_or_die(const char *text) {
    qasm_limits lim = {.max_qubits = 30, .max_gates = 10000000, .max_depth = 64};
    qasm_circuit c;
    qasm_error err;
    if (qasm_parse(text, &lim, &c, &err) != 0) {
        fprintf(stderr, "bench circuit does not parse: %s\n", err.message);
        exit(1);
    }
    return c;
}

/* Best-of-reps time of applying every op of c to sv. */
static double time_ops(pit_statevec *sv, const qasm_circuit *c, int reps) {
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < c->n_ops; i++) sv_apply(sv, &c->ops[i]);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* n qubits declared; gate_fmt (with %d for i, and i + 1) repeated for i in [0, count). */
static char *layer(int n, int count, const char *gate_fmt) {
    size_t cap = (size_t)count * 48 + 96;
    char *s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap, "qubit[%d] q;", n);
    for (int i = 0; i < count; i++) k += (size_t)snprintf(s + k, cap - k, gate_fmt, i, i + 1);
    return s;
}

static char *qft(int n) {
    size_t cap = (size_t)n * (size_t)n * 40 + 64;
    char *s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap, "qubit[%d] q;", n);
    for (int i = n - 1; i >= 0; i--) {
        k += (size_t)snprintf(s + k, cap - k, " h q[%d];", i);
        for (int j = i - 1; j >= 0; j--) k += (size_t)snprintf(s + k, cap - k, " cp(pi/%d) q[%d], q[%d];", 1 << (i - j), j, i);
    }
    for (int i = 0; i < n / 2; i++) k += (size_t)snprintf(s + k, cap - k, " swap q[%d], q[%d];", i, n - 1 - i);
    return s;
}

int main(int argc, char **argv) {
    int reps = 3, max_n = 24;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-qubits") && i + 1 < argc)
            max_n = atoi(argv[++i]);
    printf("pitboss state-vector engine, %d threads, best of %d runs\n", sv_threads(), reps);
    printf("%-7s %-22s %10s %12s %14s\n", "qubits", "what", "gates", "us/gate", "of ceiling");
    for (int n = 20; n <= max_n; n += 2) {
        pit_statevec sv;
        if (sv_init(&sv, n) != 0) {
            fprintf(stderr, "cannot allocate %d qubits\n", n);
            return 1;
        }
        /* the ceiling: read + write every double of the state once */
        double best = 1e9;
        for (int r = 0; r < reps + 2; r++) {
            double t0 = now_s();
            sv_stream_scale((double *)sv.amp, sv.dim * 2, 1.0000001);
            double t = now_s() - t0;
            if (t < best) best = t;
        }
        double bytes = 2.0 * (double)sv_bytes(n);
        printf("%-7d %-22s %10s %12.1f %13.1f GB/s (read+write)\n", n, "STREAM scale pass", "-", best * 1e6, bytes / best / 1e9);
        sv_reset_zero(&sv);

        struct {
            const char *name;
            char *text;
            double traffic; /* state passes per gate: 1 for a 1-qubit gate, 1/2 for a controlled one */
        } runs[] = {
            {"H on every qubit", layer(n, n, " h q[%d];"), 1.0},
            {"CX ladder", layer(n, n - 1, " cx q[%d], q[%d];"), 0.5},
            {"RZ on every qubit", layer(n, n, " rz(0.3) q[%d];"), 1.0},
            {"QFT", qft(n), 0},
        };
        for (int k = 0; k < 4; k++) {
            qasm_circuit c = parse_or_die(runs[k].text);
            double t = time_ops(&sv, &c, reps);
            double per_gate = t / (double)c.n_ops;
            if (runs[k].traffic > 0)
                printf("%-7d %-22s %10zu %12.1f %13.0f%%\n", n, runs[k].name, c.n_ops, per_gate * 1e6,
                       100.0 * best * runs[k].traffic / per_gate);
            else
                printf("%-7d %-22s %10zu %12.1f %14s\n", n, runs[k].name, c.n_ops, per_gate * 1e6, "-");
            qasm_circuit_free(&c);
            free(runs[k].text);
        }
        /* fused blocks (worker/engine/fuse.c makes them): a random dense unitary on 1..5 qubits in
         * the middle of the state and on the lowest ones; one pass of the state at the ceiling is
         * 100% */
        for (int k = 1; k <= SV_BLOCK_MAX; k++)
            for (int low = 0; low < 2; low++) {
                sv_block blk = {.k = k};
                size_t d = (size_t)1 << k, half = (d * d + 7) & ~(size_t)7;
                blk.re = aligned_alloc(64, 2 * half * sizeof(double));
                blk.im = blk.re + half;
                for (size_t i = 0; i < 2 * half; i++) blk.re[i] = (double)(i % 7) * 0.01; /* values do not matter */
                for (int i = 0; i < k; i++) blk.qubits[i] = low ? i : n / 2 + i;
                double t = 1e9;
                for (int r = 0; r < reps; r++) {
                    double t0 = now_s();
                    sv_apply_block(&sv, &blk);
                    double dt = now_s() - t0;
                    if (dt < t) t = dt;
                }
                char what[40];
                snprintf(what, sizeof what, "fused %d-qubit (%s)", k, low ? "q0.." : "middle");
                printf("%-7d %-22s %10s %12.1f %13.0f%%\n", n, what, "-", t * 1e6, 100.0 * best / t);
                free(blk.re);
                sv_reset_zero(&sv);
            }
        sv_free(&sv);
    }

    /* one million shots from a 20-qubit state */
    char *text = layer(20, 20, " h q[%d];");
    size_t len = strlen(text);
    text = realloc(text, len + 64);
    sprintf(text + len, " bit[20] c; c = measure q;");
    qasm_circuit c = parse_or_die(text);
    sim_options o = {.shots = 1000000, .seed = 7};
    sim_result r;
    double t0 = now_s();
    sim_run(&c, &o, &r);
    double t = now_s() - t0;
    printf("\n1,000,000 shots sampled at 20 qubits (H on all, so ~620k distinct outcomes): %.3f s including the "
           "simulation (goal < 0.2 s: %s); %zu distinct outcomes\n", t, t < 0.2 ? "met" : "NOT met", r.n);
    sim_result_free(&r);
    qasm_circuit_free(&c);
    free(text);
    printf("goal: >= 50%% of the ceiling for single-qubit gates at 22+ qubits\n");
    return 0;
}
