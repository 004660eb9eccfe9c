/* A state vector of complex doubles and the kernels that apply gates to it. */
#ifndef PIT_STATEVEC_H
#define PIT_STATEVEC_H

#include <complex.h>
#include <stddef.h>

#include "engine/qasm.h"

typedef struct {
    int n;               /* qubits */
    size_t dim;          /* 2^n */
    double complex *amp; /* 64-byte aligned */
} pit_statevec;

/* Bytes a state of n qubits needs. */
size_t sv_bytes(int n);
/* Allocates |0...0>; returns -1 when memory cannot be had. */
int sv_init(pit_statevec *sv, int n);
void sv_free(pit_statevec *sv);
void sv_copy(pit_statevec *dst, const pit_statevec *src); /* same n */
void sv_reset_zero(pit_statevec *sv);                     /* back to |0...0> */

/* OP_GATE or OP_GPHASE. */
void sv_apply(pit_statevec *sv, const qasm_op *op);
/* Probability that qubit q reads 1. */
double sv_prob_one(const pit_statevec *sv, int q);
/* Keeps the part where qubit q == outcome, renormalised (p: that part's probability). */
void sv_collapse(pit_statevec *sv, int q, int outcome, double p);
/* Cumulative probabilities: cdf[i] = sum of |amp[k]|^2 for k <= i. */
void sv_cumulative(const pit_statevec *sv, double *cdf);

/* Threads the kernels split their loops over (default: the online CPUs). */
void sv_set_threads(int n);
int sv_threads(void);

/* A read + write pass over n doubles with the kernels' threads (the benchmark's bandwidth ceiling). */
void sv_stream_scale(double *a, size_t n, double factor);

#endif
