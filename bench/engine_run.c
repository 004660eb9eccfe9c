/*
 * pitboss-engine-run: one OpenQASM file through the native engine, in one process, for the peer
 * benchmark (bench/engine_peers.py) and for profiling.
 *
 *   pitboss-engine-run FILE.qasm [--threads N] [--fuse K] [--chunk L] [--precision double|single] [--shots N]
 *
 * --chunk: cache blocking on chunks of L qubits (default the engine's), 0 for none. --precision: the
 * state's (default double).
 * --fuse: gate fusion up to K qubits (default the engine's), 0 for none. Without --shots the gates
 * are applied and the final state left (as the peers are timed); with it, the shots are sampled as
 * run_circuit does. Prints {"parse_ms", "sim_ms", "qubits", "gates"} on one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine/qasm.h"
#include "engine/simulate.h"
#include "engine/statevec.h"

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read\n", path);
        exit(1);
    }
    s[n] = 0;
    fclose(f);
    return s;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int fuse = 0, fuse_set = 0, single = 0;
    long long shots = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            sv_set_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--fuse") && i + 1 < argc) {
            fuse = atoi(argv[++i]);
            fuse_set = 1;
        } else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
            sv_set_chunk_qubits(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
            single = !strcmp(argv[++i], "single");
        else if (!strcmp(argv[i], "--shots") && i + 1 < argc)
            shots = atoll(argv[++i]);
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "usage: pitboss-engine-run FILE.qasm [--threads N] [--fuse K] [--chunk L] [--precision double|single] [--shots N]\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: pitboss-engine-run FILE.qasm [--threads N] [--fuse K] [--chunk L] [--precision double|single] [--shots N]\n");
        return 2;
    }
    char *text = read_all(path);
    int64_t t0 = pit_mono_us();
    qasm_limits lim = {.max_qubits = 34, .max_gates = 100000000, .max_depth = 64};
    qasm_circuit c;
    qasm_error err;
    if (qasm_parse(text, &lim, &c, &err) != 0) {
        fprintf(stderr, "%s:%s\n", path, err.message);
        return 1;
    }
    int64_t t1 = pit_mono_us();
    sim_options o = {.shots = shots > 0 ? (uint64_t)shots : 1, .seed = 1, .fuse_qubits = fuse_set ? (fuse ? fuse : -1) : 0,
                     .single = single};
    if (shots < 0) {
        pit_statevec sv;
        if (sim_state(&c, &o, &sv) != SIM_OK) {
            fprintf(stderr, "cannot simulate %d qubits here\n", c.n_qubits);
            return 1;
        }
        sv_free(&sv);
    } else {
        sim_result r;
        if (sim_run(&c, &o, &r) != SIM_OK) {
            fprintf(stderr, "cannot simulate %d qubits here\n", c.n_qubits);
            return 1;
        }
        sim_result_free(&r);
    }
    int64_t t2 = pit_mono_us();
    printf("{\"parse_ms\": %.3f, \"sim_ms\": %.3f, \"qubits\": %d, \"gates\": %zu}\n", (double)(t1 - t0) / 1e3,
           (double)(t2 - t1) / 1e3, c.n_qubits, c.n_gates);
    qasm_circuit_free(&c);
    free(text);
    return 0;
}
