/* A state vector of complex doubles and the kernels that apply gates to it. */
#ifndef PIT_STATEVEC_H
#define PIT_STATEVEC_H

#include <complex.h>
#include <stddef.h>

#include "engine/qasm.h"

typedef struct pit_statevec_s {
    int n;               /* qubits */
    size_t dim;          /* 2^n */
    double complex *amp; /* 64-byte aligned */
} pit_statevec;

/* re + i*im (C11's CMPLX, which clang's complex.h lacks): a complex is an array of two reals. */
static inline double complex make_complex(double re, double im) {
    double complex z;
    ((double *)&z)[0] = re;
    ((double *)&z)[1] = im;
    return z;
}

/* Bytes a state of n qubits needs. */
size_t sv_bytes(int n);
/* Allocates |0...0>; returns -1 when memory cannot be had. */
int sv_init(pit_statevec *sv, int n);
void sv_free(pit_statevec *sv);
void sv_copy(pit_statevec *dst, const pit_statevec *src); /* same n */
void sv_reset_zero(pit_statevec *sv);                     /* back to |0...0> */

/* OP_GATE or OP_GPHASE. */
void sv_apply(pit_statevec *sv, const qasm_op *op);

/* A unitary on k qubits (1..SV_BLOCK_MAX) as one matrix: the fused gates of engine/fuse.h. Local
 * index bit i is qubit qubits[i] (ascending). A dense block holds the matrix column-major, real and
 * imaginary parts apart (entry (r, c) at [c * 2^k + r]), so that a column times an amplitude is a
 * vector operation down the rows; a diagonal one holds the diagonal in re[0..2^k), im[0..2^k).
 * Owned by whoever made it. */
#define SV_BLOCK_MAX 5
typedef struct {
    int k;
    int qubits[SV_BLOCK_MAX];
    int diagonal;
    double *re, *im;
} sv_block;
void sv_apply_block(pit_statevec *sv, const sv_block *b);
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
