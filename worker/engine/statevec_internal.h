/*
 * What statevec.c shares with the kernels it compiles twice (statevec_kernels.h, once a precision):
 * the thread pool's parallel for, the index arithmetic, and the per-thread chunk buffer. Private to
 * worker/engine/statevec*.c.
 */
#ifndef PIT_STATEVEC_INTERNAL_H
#define PIT_STATEVEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine/statevec.h"

typedef void (*range_fn)(size_t begin, size_t end, void *arg);

/* fn over [0, n) split among the kernels' threads (one parallel loop at a time, process-wide), or
 * on the caller's thread alone below min iterations (sv_par_for: PAR_MIN). */
void sv_par_for_min(size_t n, size_t min, range_fn fn, void *arg);
void sv_par_for(size_t n, range_fn fn, void *arg);

/* The calling thread's chunk buffer for cache blocking: room for 2^SV_CHUNK_QUBITS_MAX double
 * amplitudes, kept for the thread's life (the kernels' threads never end: a fresh buffer a stretch
 * would fault its pages in every time). Aborts when memory cannot be had. */
void *sv_chunk_buffer(void);

/* Hot kernels get an AVX2 build beside the baseline one; the loader picks what the CPU has. GCC
 * only: clang 14 gives the clones of a static function global resolvers, which collide between the
 * two precisions' files (clang builds only the fuzzers here). */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HOT
#endif

/* The bits below the lowest position (pos[0], sorted: the target or a control) vary fastest and are
 * not moved by insert_zeros, so k..k+run maps to a contiguous run of amplitudes: the inner loops run
 * over plain arrays and vectorise. With no controls this is the pair (i0, i0 + 2^t) walked in runs
 * of 2^t. */
#define FOR_RUNS(j, b, e, ...)                                                                       \
    do {                                                                                              \
        size_t low_ = (size_t)1 << (j)->pos[0];                                                      \
        for (size_t k_ = (b); k_ < (e);) {                                                           \
            size_t run = low_ - (k_ & (low_ - 1));                                                   \
            if (run > (e) - k_) run = (e) - k_;                                                      \
            size_t base = insert_zeros(k_, (j)->pos, (j)->n_pos) | (j)->set_mask;                   \
            __VA_ARGS__;                                                                              \
            k_ += run;                                                                                \
        }                                                                                             \
    } while (0)

/* Copies a chunk's run back to the state with streaming stores, which write whole lines to memory
 * without reading them first: the state is far larger than the caches, and the ordinary stores' line
 * reads made the copies back twice as slow as the copies in (a 24-qubit layered circuit: 15% of its
 * time). Falls back to memcpy where the run is not whole 16-byte units. sv_store_fence() after the
 * last run orders them before the chunk's other threads' reads. */
static inline void sv_store_streaming(void *dst, const void *src, size_t bytes) {
#if defined(__SSE2__)
    if ((((uintptr_t)dst | (uintptr_t)src | bytes) & 15) == 0) {
        double *d = dst;
        const double *s = src;
        for (size_t o = 0; o < bytes / 8; o += 2) _mm_stream_pd(d + o, _mm_load_pd(s + o));
        return;
    }
#endif
    memcpy(dst, src, bytes);
}

static inline void sv_store_fence(void) {
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

static inline size_t insert_zeros(size_t k, const int *pos, int n_pos) {
    for (int i = 0; i < n_pos; i++) {
        size_t low = k & (((size_t)1 << pos[i]) - 1);
        k = ((k >> pos[i]) << (pos[i] + 1)) | low;
    }
    return k;
}

/* The entry points of each precision (statevec_double.c: _d, statevec_float.c: _f); statevec.c's
 * public functions pick one by sv->single. */
#define SV_PRECISION_ENTRY_POINTS(S)                                                                 \
    void sv_apply_##S(pit_statevec *sv, const qasm_op *op);                                          \
    void sv_apply_block_##S(pit_statevec *sv, const sv_block *b);                                    \
    void sv_apply_chunked_##S(pit_statevec *sv, const int *local, int L, const sv_step *steps, size_t n); \
    double sv_prob_one_##S(const pit_statevec *sv, int q);                                           \
    void sv_collapse_##S(pit_statevec *sv, int q, int outcome, double p);
SV_PRECISION_ENTRY_POINTS(d)
SV_PRECISION_ENTRY_POINTS(f)

#endif
