/* A state vector of complex doubles (or floats: precision "single") and the kernels that apply gates
 * to it. */
#ifndef PIT_STATEVEC_H
#define PIT_STATEVEC_H

#include <complex.h>
#include <stddef.h>

#include "engine/qasm.h"

typedef struct pit_statevec_s {
    int n;      /* qubits */
    size_t dim; /* 2^n */
    int single; /* 1: the amplitudes are complex floats, in amp_f; 0: complex doubles, in amp */
    double complex *amp;  /* 64-byte aligned; NULL in single precision */
    float complex *amp_f; /* 64-byte aligned; NULL in double precision */
    /* Qubits that are 0 in every non-zero amplitude, as far as the kernels know; 0: nothing known.
     * sv_init leaves it 0: a caller that knows the state is |0...0> and writes it only through these
     * functions sets it (sv_zero_hint_all); every function here keeps it true (a gate that may set
     * a qubit drops it). Cache blocking skips the chunks that are all zeros by it: on a fresh state
     * the first stretches touch a few chunks, not all. */
    uint64_t zero_qubits;
} pit_statevec;

static inline void sv_zero_hint_all(pit_statevec *sv) { sv->zero_qubits = sv->n >= 64 ? ~0ull : (1ull << sv->n) - 1; }

/* re + i*im (C11's CMPLX, which clang's complex.h lacks): a complex is an array of two reals. */
static inline double complex make_complex(double re, double im) {
    double complex z;
    ((double *)&z)[0] = re;
    ((double *)&z)[1] = im;
    return z;
}

/* Bytes a state of n qubits needs (sv_bytes: in double precision). */
size_t sv_bytes(int n);
size_t sv_bytes_as(int n, int single);
/* Allocates |0...0> (sv_init: in double precision); returns -1 when memory cannot be had. */
int sv_init(pit_statevec *sv, int n);
int sv_init_as(pit_statevec *sv, int n, int single);
/* Amplitude i, whatever the precision. */
double complex sv_amp_at(const pit_statevec *sv, size_t i);
void sv_free(pit_statevec *sv);
void sv_copy(pit_statevec *dst, const pit_statevec *src); /* same n */
void sv_reset_zero(pit_statevec *sv);                     /* back to |0...0> */

/* OP_GATE or OP_GPHASE. */
void sv_apply(pit_statevec *sv, const qasm_op *op);

/* A unitary on k qubits (1..SV_BLOCK_MAX) as one matrix: the fused gates of engine/fuse.h. Local
 * index bit i is qubit qubits[i] (ascending). A dense block holds the matrix column-major, real and
 * imaginary parts apart (entry (r, c) at [c * 2^k + r]), so that a column times an amplitude is a
 * vector operation down the rows; a diagonal one holds the diagonal in re[0..2^k), im[0..2^k).
 * Each half starts 64-byte aligned (the kernels load a column as whole vectors). Owned by whoever
 * made it. */
#define SV_BLOCK_MAX 5
typedef struct {
    int k;
    int qubits[SV_BLOCK_MAX];
    int diagonal;
    double *re, *im;
    float *re_f, *im_f; /* the same in single precision, laid out alike */
} sv_block;
void sv_apply_block(pit_statevec *sv, const sv_block *b);

/* One step of a stretch: a gate as it is (op, its own kernel), or, with op NULL, a block. */
typedef struct {
    const qasm_op *op;
    sv_block block;
} sv_step;

/* Cache blocking. Applies steps[0..n) (at most SV_CHUNK_STEPS_MAX; every qubit they touch among
 * local[0..L), ascending, L <= SV_CHUNK_QUBITS_MAX, L < sv->n) chunk by chunk: the 2^L amplitudes
 * that share the bits outside local are copied into a buffer of the thread's, every step runs there,
 * and the chunk is copied back. One pass over memory for the whole stretch instead of one a step.
 * Runs are longest when local starts with qubits 0, 1, 2 ... */
#define SV_CHUNK_QUBITS_MAX 18
#define SV_CHUNK_STEPS_MAX 64
void sv_apply_chunked(pit_statevec *sv, const int *local, int L, const sv_step *steps, size_t n);
/* The chunk size the fusion layer uses, in qubits: 16 by default (1 MiB of amplitudes, well inside
 * the 2 MiB and up of L2 a core has on the machines measured); 0 turns cache blocking off. Set it
 * before the first run (tests use small chunks on small states; the benchmark compares sizes). */
void sv_set_chunk_qubits(int L);
int sv_chunk_qubits(void);
/* Probability that qubit q reads 1. */
double sv_prob_one(const pit_statevec *sv, int q);
/* Keeps the part where qubit q == outcome, renormalised (p: that part's probability). */
void sv_collapse(pit_statevec *sv, int q, int outcome, double p);

/* Threads the kernels split their loops over (default: the online CPUs). */
void sv_set_threads(int n);
int sv_threads(void);

/* A read + write pass over n doubles with the kernels' threads (the benchmark's bandwidth ceiling). */
void sv_stream_scale(double *a, size_t n, double factor);

#endif
