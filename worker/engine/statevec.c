/*
 * The state vector: its memory, and the public entry points, which pick the precision of the state
 * (double, or single: statevec_double.c and statevec_float.c, the same kernels of statevec_kernels.h
 * compiled once each). The kernels' loops are split over the thread pool of statevec_pool.c.
 */
#include "engine/statevec.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/statevec_internal.h"

/* ---------------------------------------------------------------- allocation */

#define HUGE_PAGE ((size_t)2 << 20)

size_t sv_bytes_as(int n, int single) { return ((size_t)1 << n) * (single ? sizeof(float complex) : sizeof(double complex)); }
size_t sv_bytes(int n) { return sv_bytes_as(n, 0); }

static size_t amp_size(const pit_statevec *sv) { return sv->single ? sizeof(float complex) : sizeof(double complex); }
static void *amp_data(const pit_statevec *sv) { return sv->single ? (void *)sv->amp_f : (void *)sv->amp; }

typedef struct {
    char *a;
    size_t size; /* of an amplitude */
} zero_job;

static void zero_range(size_t b, size_t e, void *arg) {
    const zero_job *j = arg;
    memset(j->a + b * j->size, 0, (e - b) * j->size);
}

static void set_zero_state(pit_statevec *sv) {
    zero_job j = {amp_data(sv), amp_size(sv)};
    sv_par_for(sv->dim, zero_range, &j); /* first touch from every thread */
    if (sv->single)
        sv->amp_f[0] = 1;
    else
        sv->amp[0] = 1;
}

int sv_init_as(pit_statevec *sv, int n, int single) {
    sv->n = n;
    sv->dim = (size_t)1 << n;
    sv->single = single != 0;
    sv->amp = NULL;
    sv->amp_f = NULL;
    sv->zero_qubits = 0;
    size_t bytes = sv_bytes_as(n, sv->single) < 64 ? 64 : sv_bytes_as(n, sv->single);
    /* States of 2 MiB and up on huge pages (where the kernel gives them on request: THP "madvise"
     * is Debian's default): gates on high qubits stride across the state, and with 4 KiB pages
     * every group of a fused block missed the TLB several times. */
    size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : 64;
    void *mem = aligned_alloc(align, bytes);
    if (!mem) return -1;
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) madvise(mem, bytes, MADV_HUGEPAGE);
#endif
    if (sv->single)
        sv->amp_f = mem;
    else
        sv->amp = mem;
    set_zero_state(sv);
    return 0;
}

int sv_init(pit_statevec *sv, int n) { return sv_init_as(sv, n, 0); }

void sv_free(pit_statevec *sv) {
    free(amp_data(sv));
    sv->amp = NULL;
    sv->amp_f = NULL;
}

void sv_reset_zero(pit_statevec *sv) { set_zero_state(sv); }

typedef struct {
    char *dst;
    const char *src;
    size_t size;
} copy_job;

static void copy_range(size_t b, size_t e, void *arg) {
    const copy_job *j = arg;
    memcpy(j->dst + b * j->size, j->src + b * j->size, (e - b) * j->size);
}

void sv_copy(pit_statevec *dst, const pit_statevec *src) {
    copy_job j = {amp_data(dst), amp_data(src), amp_size(src)};
    sv_par_for(src->dim, copy_range, &j);
    dst->zero_qubits = src->zero_qubits;
}

double complex sv_amp_at(const pit_statevec *sv, size_t i) { return sv->single ? (double complex)sv->amp_f[i] : sv->amp[i]; }

/* ---------------------------------------------------------------- the kernels, by precision */

void sv_apply(pit_statevec *sv, const qasm_op *op) {
    if (op->kind == OP_GATE && op->cls != GATE_DIAGONAL)
        for (int i = 0; i < op->n_targets; i++) sv->zero_qubits &= ~(1ull << op->targets[i]);
    if (sv->single)
        sv_apply_f(sv, op);
    else
        sv_apply_d(sv, op);
}

void sv_apply_block(pit_statevec *sv, const sv_block *b) {
    if (!b->diagonal)
        for (int i = 0; i < b->k; i++) sv->zero_qubits &= ~(1ull << b->qubits[i]);
    if (sv->single)
        sv_apply_block_f(sv, b);
    else
        sv_apply_block_d(sv, b);
}

void sv_apply_chunked(pit_statevec *sv, const int *local, int L, const sv_step *steps, size_t n) {
    if (sv->single)
        sv_apply_chunked_f(sv, local, L, steps, n);
    else
        sv_apply_chunked_d(sv, local, L, steps, n);
}

double sv_prob_one(const pit_statevec *sv, int q) { return sv->single ? sv_prob_one_f(sv, q) : sv_prob_one_d(sv, q); }

void sv_collapse(pit_statevec *sv, int q, int outcome, double p) {
    if (outcome) sv->zero_qubits &= ~(1ull << q);
    if (sv->single)
        sv_collapse_f(sv, q, outcome, p);
    else
        sv_collapse_d(sv, q, outcome, p);
}

/* ---------------------------------------------------------------- cache blocking settings */

static int chunk_qubits = 16;

void sv_set_chunk_qubits(int L) { chunk_qubits = L < 0 ? 0 : L > SV_CHUNK_QUBITS_MAX ? SV_CHUNK_QUBITS_MAX : L; }
int sv_chunk_qubits(void) { return chunk_qubits; }

/* ---------------------------------------------------------------- the benchmark's ceiling */

typedef struct {
    double *a;
    double f;
} scale_job;

static void scale_range(size_t b, size_t e, void *arg) {
    scale_job *j = arg;
    for (size_t k = b; k < e; k++) j->a[k] *= j->f;
}

void sv_stream_scale(double *a, size_t n, double factor) {
    scale_job j = {a, factor};
    sv_par_for(n, scale_range, &j);
}
