/*
 * quest_run: runs a gate list (bench/engine_peers.py writes it) on QuEST 4, for the side-by-side
 * benchmark. Built by bench/engine_peers.sh against a QuEST checkout outside the tree; nothing of
 * QuEST's is in the project. Threads: OMP_NUM_THREADS.
 *
 *   quest_run FILE.gates      prints {"sim_ms": ...}
 *
 * FILE.gates: the number of qubits on the first line, then one gate a line: "h q", "rx q a",
 * "ry q a", "rz q a", "cx c t", "cz c t", "cp c t a".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quest.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: quest_run FILE.gates\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    int n;
    if (fscanf(f, "%d", &n) != 1) {
        fprintf(stderr, "%s: no qubit count on the first line\n", argv[1]);
        return 1;
    }
    initQuESTEnv();
    double t0 = now_ms();
    Qureg q = createQureg(n);
    initZeroState(q);
    char name[16];
    int a, b;
    double angle;
    while (fscanf(f, "%15s", name) == 1) {
        if (!strcmp(name, "h") && fscanf(f, "%d", &a) == 1) applyHadamard(q, a);
        else if (!strcmp(name, "rx") && fscanf(f, "%d %lf", &a, &angle) == 2) applyRotateX(q, a, angle);
        else if (!strcmp(name, "ry") && fscanf(f, "%d %lf", &a, &angle) == 2) applyRotateY(q, a, angle);
        else if (!strcmp(name, "rz") && fscanf(f, "%d %lf", &a, &angle) == 2) applyRotateZ(q, a, angle);
        else if (!strcmp(name, "cx") && fscanf(f, "%d %d", &a, &b) == 2) applyControlledPauliX(q, a, b);
        else if (!strcmp(name, "cz") && fscanf(f, "%d %d", &a, &b) == 2) applyControlledPauliZ(q, a, b);
        else if (!strcmp(name, "cp") && fscanf(f, "%d %d %lf", &a, &b, &angle) == 3) applyTwoQubitPhaseShift(q, a, b, angle);
        else {
            fprintf(stderr, "%s: cannot read gate '%s'\n", argv[1], name);
            return 1;
        }
    }
    double p = calcTotalProb(q); /* reads the whole state: the run is finished */
    double t1 = now_ms();
    printf("{\"sim_ms\": %.3f, \"norm\": %.6f}\n", t1 - t0, p);
    destroyQureg(q);
    finalizeQuESTEnv();
    return 0;
}
