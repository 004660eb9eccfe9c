/*
 * The state-vector kernels, written once for both precisions: statevec_double.c and statevec_float.c
 * each define the precision (REAL and CPLX, the vector types SVK_*, SVK(name) for the entry points'
 * names) and include this file, so each kernel is compiled twice, in two translation units. No
 * include guard: it is a template, not a header. What the kernels do and why is in statevec.c and
 * beside each kernel; statevec.c picks the precision per state (sv->single).
 *
 * A gate on target t under controls touches only the amplitudes whose control bits hold their
 * values: the loop runs over the other bits ("insert zeros at the sorted positions of the target and
 * the controls, then set the control bits"), so a controlled gate does half the work of an
 * uncontrolled one, a diagonal gate only multiplies, and a permutation only swaps.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "engine/statevec_internal.h"

/* ---------------------------------------------------------------- gate kernels */

/* qubit q of the gate or block, where the state it runs on has its own numbering (a chunk's local
 * index): map[q], or q itself without a map */
#define QUBIT(map, q) ((map) ? (map)[q] : (q))

typedef struct {
    CPLX *amp;
    CPLX m[16];
    int n_pos;
    int pos[QASM_MAX_CONTROLS + 2]; /* sorted bit positions to insert zeros at */
    size_t set_mask;                /* control bits that must be 1 */
    size_t t0, t1;                  /* target bit masks (t1 for two-target gates) */
} gate_job;

typedef struct {
    CPLX *amp;
    const REAL *re, *im;
    int pos[SV_BLOCK_MAX];
    size_t off[1 << SV_BLOCK_MAX]; /* local index r -> its offset from the group's base */
} block_job;

/* A diagonal gate (one target, any controls) touching one of the 4 lowest qubits: see k1_diag_low. */
#define DIAG_LOW_BITS 4
#define DIAG_LOW_VECS ((1 << DIAG_LOW_BITS) / SVK_LANES)
typedef struct {
    CPLX *amp;
    size_t cmask_high, cval_high, t_high;               /* the controls and target above the low bits */
    SVK_VEC mr[2][DIAG_LOW_VECS], mi[2][DIAG_LOW_VECS]; /* [target's bit if high][vector]: the factors */
} diag_low_job;

/* A block of at most 3 qubits with some below SVK_LANE_LOG, inside one vector: see k_low_lanes. */
typedef struct {
    CPLX *amp;
    int kl, kh;                       /* the block's qubits inside a vector, and above */
    int n_pos, pos[SVK_LANE_LOG + 3]; /* the lane bits, then the block's high qubits: insert_zeros' */
    size_t off[4];                    /* high index h -> its vector's offset */
    SVK_VECI perm[8];                 /* low column c -> the lanes that feed each lane */
    SVK_VEC mr[32], mi[32];           /* [(h' * 2^kh + h) * 2^kl + c]: the matrix, lane by lane */
} low_job;

/* A gate or a block made ready to run: its loop, how many iterations, and its job. */
typedef struct {
    range_fn fn;
    size_t iters;
    union {
        gate_job g;
        block_job b;
        low_job l;
        diag_low_job dl;
    } job;
} prepared_step;

HOT static void k1_general(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    CPLX *a = j->amp;
    const REAL ar = creal(j->m[0]), ai = cimag(j->m[0]), br = creal(j->m[1]), bi = cimag(j->m[1]);
    const REAL cr = creal(j->m[2]), ci = cimag(j->m[2]), dr = creal(j->m[3]), di = cimag(j->m[3]);
    const size_t t0 = j->t0;
    /* in real arithmetic, which the compiler vectorises (complex values it did not: 1.6x slower in
     * cache) */
    FOR_RUNS(j, b, e, {
        REAL *restrict x = (REAL *)(a + base), *restrict y = (REAL *)(a + (base | t0));
        for (size_t i = 0; i < run; i++) {
            const REAL xr = x[2 * i], xi = x[2 * i + 1], yr = y[2 * i], yi = y[2 * i + 1];
            x[2 * i] = ar * xr - ai * xi + br * yr - bi * yi;
            x[2 * i + 1] = ar * xi + ai * xr + br * yi + bi * yr;
            y[2 * i] = cr * xr - ci * xi + dr * yr - di * yi;
            y[2 * i + 1] = cr * xi + ci * xr + dr * yi + di * yr;
        }
    });
}

/* An uncontrolled gate on qubit T < 2: a pair's two amplitudes sit next to each other, so the run
 * loops above would go one amplitude at a time, with an insert_zeros each (h on q0 cost ~6 passes
 * of the state, a middle qubit ~1). Here the state is walked straight through, a unit of 2^(T+1)
 * amplitudes at a time, in real arithmetic the compiler vectorises. b, e count units. */
#define LOW_KERNEL(T)                                                                                \
    HOT static void k1_low##T(size_t b, size_t e, void *arg) {                                       \
        const gate_job *j = arg;                                                                     \
        enum { H = 1 << T };                                                                         \
        REAL *restrict p = (REAL *)j->amp;                                                       \
        const REAL ar = creal(j->m[0]), ai = cimag(j->m[0]), br = creal(j->m[1]), bi = cimag(j->m[1]); \
        const REAL cr = creal(j->m[2]), ci = cimag(j->m[2]), dr = creal(j->m[3]), di = cimag(j->m[3]); \
        for (size_t u = b; u < e; u++) {                                                             \
            REAL *x = p + u * 4 * H, *y = x + 2 * H;                                               \
            for (int i = 0; i < H; i++) {                                                            \
                const REAL xr = x[2 * i], xi = x[2 * i + 1], yr = y[2 * i], yi = y[2 * i + 1];     \
                x[2 * i] = ar * xr - ai * xi + br * yr - bi * yi;                                    \
                x[2 * i + 1] = ar * xi + ai * xr + br * yi + bi * yr;                                \
                y[2 * i] = cr * xr - ci * xi + dr * yr - di * yi;                                    \
                y[2 * i + 1] = cr * xi + ci * xr + dr * yi + di * yr;                                \
            }                                                                                        \
        }                                                                                            \
    }
LOW_KERNEL(0)
LOW_KERNEL(1)

HOT static void k1_diagonal(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    CPLX *a = j->amp;
    const CPLX d0 = j->m[0], d1 = j->m[3];
    const size_t t0 = j->t0;
    FOR_RUNS(j, b, e, {
        CPLX *restrict x = a + base, *restrict y = a + (base | t0);
        if (d0 != 1)
            for (size_t i = 0; i < run; i++) x[i] *= d0;
        for (size_t i = 0; i < run; i++) y[i] *= d1;
    });
}

/* A diagonal gate on a low qubit (a QFT's controlled phases on qubit 0, 1 ...): the runs above are
 * that short there (one amplitude for qubit 0), each with an insert_zeros. Here the state is walked
 * straight through in units of 16 amplitudes, each multiplied by one of two patterns of 16 factors
 * (the low bits' part of the condition, and the factors d0, d1, 1), picked by the unit's high bits; a
 * unit whose high controls do not hold is skipped. b, e count units. */
HOT static void k1_diag_low(size_t b, size_t e, void *arg) {
    const diag_low_job *j = arg;
    REAL *a = (REAL *)j->amp;
    for (size_t u = b; u < e; u++) {
        size_t idx = u << DIAG_LOW_BITS;
        if ((idx & j->cmask_high) != j->cval_high) continue;
        int h = (idx & j->t_high) != 0;
        REAL *p = a + 2 * idx;
        for (int v = 0; v < DIAG_LOW_VECS; v++) {
            SVK_VEC x = *(const SVK_VECU *)(p + 2 * v * SVK_LANES);
            *(SVK_VECU *)(p + 2 * v * SVK_LANES) = j->mr[h][v] * x + j->mi[h][v] * (SVK_SWAP_PAIRS(x) * SVK_NEG_EVEN);
        }
    }
}

static void prepare_diag_low(prepared_step *ps, CPLX *amp, size_t dim, const qasm_op *op, const int *map) {
    diag_low_job *j = &ps->job.dl;
    j->amp = amp;
    j->cmask_high = j->cval_high = j->t_high = 0;
    int t = QUBIT(map, op->targets[0]);
    size_t lmask = 0, lval = 0;
    for (int i = 0; i < op->n_controls; i++) {
        int c = QUBIT(map, op->controls[i]);
        size_t bit = (size_t)1 << c, val = op->control_values[i] ? bit : 0;
        if (c < DIAG_LOW_BITS) {
            lmask |= bit;
            lval |= val;
        } else {
            j->cmask_high |= bit;
            j->cval_high |= val;
        }
    }
    if (t >= DIAG_LOW_BITS) j->t_high = (size_t)1 << t;
    const double complex d0 = op->m[0], d1 = op->m[3];
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 1 << DIAG_LOW_BITS; l++) {
            double complex f = 1;
            if ((l & lmask) == lval) f = (t < DIAG_LOW_BITS ? (l >> t & 1) : h) ? d1 : d0;
            int v = l / SVK_LANES, lane = l % SVK_LANES;
            j->mr[h][v][2 * lane] = j->mr[h][v][2 * lane + 1] = (REAL)creal(f);
            j->mi[h][v][2 * lane] = j->mi[h][v][2 * lane + 1] = (REAL)cimag(f);
        }
    ps->fn = k1_diag_low;
    ps->iters = dim >> DIAG_LOW_BITS;
}

HOT static void k1_swap(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    CPLX *a = j->amp;
    const size_t t0 = j->t0;
    /* as reals: a loop of complex values is not vectorised (it was 8-byte moves, as slow as a dense
     * 1-qubit gate in cache) */
    FOR_RUNS(j, b, e, {
        REAL *restrict x = (REAL *)(a + base), *restrict y = (REAL *)(a + (base | t0));
        for (size_t i = 0; i < 2 * run; i++) {
            REAL u = x[i];
            x[i] = y[i];
            y[i] = u;
        }
    });
}

static void k2_general(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    CPLX *a = j->amp;
    const CPLX *m = j->m;
    for (size_t k = b; k < e; k++) {
        size_t i00 = insert_zeros(k, j->pos, j->n_pos) | j->set_mask;
        size_t idx[4] = {i00, i00 | j->t1, i00 | j->t0, i00 | j->t0 | j->t1};
        CPLX v[4] = {a[idx[0]], a[idx[1]], a[idx[2]], a[idx[3]]};
        for (int r = 0; r < 4; r++) a[idx[r]] = m[r * 4] * v[0] + m[r * 4 + 1] * v[1] + m[r * 4 + 2] * v[2] + m[r * 4 + 3] * v[3];
    }
}

static void k2_diagonal(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    CPLX *a = j->amp;
    const CPLX *m = j->m;
    for (size_t k = b; k < e; k++) {
        size_t i00 = insert_zeros(k, j->pos, j->n_pos) | j->set_mask;
        a[i00] *= m[0];
        a[i00 | j->t1] *= m[5];
        a[i00 | j->t0] *= m[10];
        a[i00 | j->t0 | j->t1] *= m[15];
    }
}

static void k_scale(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    for (size_t k = b; k < e; k++) j->amp[k] *= j->m[0];
}

static int cmp_int(const void *x, const void *y) { return *(const int *)x - *(const int *)y; }


static void prepare_gate(prepared_step *ps, CPLX *amp, size_t dim, const qasm_op *op, const int *map) {
    gate_job *j = &ps->job.g;
    memset(j, 0, sizeof *j);
    j->amp = amp;
    if (op->kind == OP_GPHASE) {
        j->m[0] = (CPLX)cexp(_Complex_I * op->phase);
        ps->fn = k_scale;
        ps->iters = dim;
        return;
    }
    for (int i = 0; i < 16; i++) j->m[i] = (CPLX)op->m[i];
    for (int i = 0; i < op->n_targets; i++) j->pos[j->n_pos++] = QUBIT(map, op->targets[i]);
    for (int i = 0; i < op->n_controls; i++) {
        int c = QUBIT(map, op->controls[i]);
        j->pos[j->n_pos++] = c;
        if (op->control_values[i]) j->set_mask |= (size_t)1 << c;
    }
    qsort(j->pos, (size_t)j->n_pos, sizeof(int), cmp_int);
    int t = QUBIT(map, op->targets[0]);
    j->t0 = (size_t)1 << t;
    ps->iters = dim >> j->n_pos;
    if (op->n_targets == 1) {
        if (op->n_controls == 0 && t < 2 && dim >= 4) {
            ps->iters >>= t;
            ps->fn = t == 0 ? k1_low0 : k1_low1;
        } else if (op->cls == GATE_DIAGONAL && j->pos[0] < DIAG_LOW_BITS && dim >= (size_t)1 << DIAG_LOW_BITS) {
            prepare_diag_low(ps, amp, dim, op, map);
        } else if (op->cls == GATE_DIAGONAL)
            ps->fn = k1_diagonal;
        else if (op->cls == GATE_PERMUTATION)
            ps->fn = k1_swap;
        else
            ps->fn = k1_general;
    } else {
        j->t1 = (size_t)1 << QUBIT(map, op->targets[1]);
        ps->fn = op->cls == GATE_DIAGONAL ? k2_diagonal : k2_general;
    }
}

/* ---------------------------------------------------------------- fused blocks */


/* One group of 2^K amplitudes at a time, for any positions of the qubits (low ones included): the
 * matrix is applied a column at a time, the rows being the lanes of 8-double vectors (zmm with
 * AVX-512, two ymm with AVX2, four xmm otherwise), each amplitude of the group broadcast in turn. */

/* K qubits, rows in vectors of L doubles (type V): C = 2^K / L vectors a column. */
#define DENSE_KERNEL(K, V, L)                                                                        \
    HOT static void k_dense##K(size_t b, size_t e, void *arg) {                                      \
        const block_job *j = arg;                                                                    \
        enum { D = 1 << K, C = D / L };                                                              \
        REAL *a = (REAL *)j->amp;                                                                \
        const V *mr = (const V *)j->re, *mi = (const V *)j->im;                                      \
        size_t off[D];                                                                               \
        for (int r = 0; r < D; r++) off[r] = 2 * j->off[r];                                          \
        for (size_t g = b; g < e; g++) {                                                             \
            REAL *p = a + 2 * insert_zeros(g, j->pos, K);                                          \
            V wr[C], wi[C];                                                                          \
            for (int h = 0; h < C; h++) wr[h] = wi[h] = (V){0};                                      \
            for (int c = 0; c < D; c++) {                                                            \
                const REAL xr = p[off[c]], xi = p[off[c] + 1];                                     \
                for (int h = 0; h < C; h++) {                                                        \
                    const V cr = mr[c * C + h], ci = mi[c * C + h];                                  \
                    wr[h] += cr * xr - ci * xi;                                                      \
                    wi[h] += cr * xi + ci * xr;                                                      \
                }                                                                                    \
            }                                                                                        \
            for (int h = 0; h < C; h++)                                                              \
                for (int l = 0; l < L; l++) {                                                        \
                    p[off[h * L + l]] = wr[h][l];                                                    \
                    p[off[h * L + l] + 1] = wi[h][l];                                                \
                }                                                                                    \
        }                                                                                            \
    }
DENSE_KERNEL(1, SVK_V1, SVK_L1)
DENSE_KERNEL(2, SVK_V2, SVK_L2)
DENSE_KERNEL(3, SVK_V3, SVK_L3)
DENSE_KERNEL(4, SVK_V4, SVK_L4)
DENSE_KERNEL(5, SVK_V4, SVK_L4)

#define DIAGONAL_KERNEL(K)                                                                           \
    HOT static void k_diag##K(size_t b, size_t e, void *arg) {                                       \
        const block_job *j = arg;                                                                    \
        enum { D = 1 << K };                                                                         \
        CPLX *a = j->amp;                                                                  \
        CPLX d[D];                                                                         \
        size_t off[D];                                                                               \
        for (int r = 0; r < D; r++) {                                                                \
            d[r] = (CPLX)make_complex(j->re[r], j->im[r]);                                                        \
            off[r] = j->off[r];                                                                      \
        }                                                                                            \
        for (size_t g = b; g < e; g++) {                                                             \
            CPLX *p = a + insert_zeros(g, j->pos, K);                                      \
            for (int r = 0; r < D; r++) p[off[r]] *= d[r];                                           \
        }                                                                                            \
    }
DIAGONAL_KERNEL(1)
DIAGONAL_KERNEL(2)
DIAGONAL_KERNEL(3)
DIAGONAL_KERNEL(4)
DIAGONAL_KERNEL(5)

/* Blocks whose lowest qubit is 2 or more: four neighbouring groups (their indices differ in qubits 0
 * and 1 only) sit at four neighbouring amplitudes at each of the block's offsets, so one 8-double
 * vector holds an amplitude of each of four groups, and the matrix is applied to four groups at once
 * with whole-vector loads and stores (the kernels above load and store a double at a time, and go
 * through insert_zeros for every group: in cache, where memory no longer hides it, that costs 3-4
 * times the arithmetic). Interleaved complex arithmetic: m * x = re(m) x + im(m) swap(x) with the
 * swapped real parts negated. A run's remainder below four groups goes to the kernel above. */

/* The lane kernels' walk: runs of groups whose amplitudes are contiguous at each of the block's
 * offsets, SVK_LANES groups a vector (p: the run's first group, i: the group in the run); a run's
 * remainder below SVK_LANES groups goes to rest, the one-group kernel. */
#define FOR_LANE_RUNS(j, K, b, e, rest, ...)                                                         \
    do {                                                                                             \
        const size_t low_ = (size_t)1 << (j)->pos[0]; /* groups whose amplitudes are contiguous */   \
        for (size_t g_ = (b); g_ < (e);) {                                                           \
            size_t run_ = low_ - (g_ & (low_ - 1));                                                  \
            if (run_ > (e) - g_) run_ = (e) - g_;                                                    \
            REAL *p = a + 2 * insert_zeros(g_, (j)->pos, K);                                         \
            size_t i = 0;                                                                            \
            for (; i + SVK_LANES <= run_; i += SVK_LANES) {                                          \
                __VA_ARGS__;                                                                         \
            }                                                                                        \
            if (i < run_) rest(g_ + i, g_ + run_, arg);                                              \
            g_ += run_;                                                                              \
        }                                                                                            \
    } while (0)

#define LANES_KERNEL(K)                                                                              \
    HOT static void k_lanes##K(size_t b, size_t e, void *arg) {                                      \
        const block_job *j = arg;                                                                    \
        enum { D = 1 << K };                                                                         \
        REAL *a = (REAL *)j->amp;                                                                    \
        const REAL *mr = j->re, *mi = j->im;                                                         \
        size_t off[D];                                                                               \
        for (int r = 0; r < D; r++) off[r] = 2 * j->off[r];                                          \
        FOR_LANE_RUNS(j, K, b, e, k_dense##K, {                                                      \
            SVK_VEC x[D], xs[D];                                                                     \
            for (int c = 0; c < D; c++) {                                                            \
                x[c] = *(const SVK_VECU *)(p + off[c] + 2 * i);                                      \
                xs[c] = SVK_SWAP_PAIRS(x[c]) * SVK_NEG_EVEN;                                         \
            }                                                                                        \
            for (int r = 0; r < D; r++) {                                                            \
                /* four independent chains of multiply-adds: one chain would wait on each add */     \
                SVK_VEC w[4] = {mr[r] * x[0], mi[r] * xs[0], (SVK_VEC){0}, (SVK_VEC){0}};            \
                for (int c = 1; c < D; c++) {                                                        \
                    w[2 * (c & 1)] += mr[c * D + r] * x[c];                                          \
                    w[2 * (c & 1) + 1] += mi[c * D + r] * xs[c];                                     \
                }                                                                                    \
                *(SVK_VECU *)(p + off[r] + 2 * i) = (w[0] + w[2]) + (w[1] + w[3]);                   \
            }                                                                                        \
        });                                                                                          \
    }
LANES_KERNEL(1)
LANES_KERNEL(2)
LANES_KERNEL(3)
LANES_KERNEL(4)

/* The same for a diagonal block: each amplitude times its entry. */
#define LANES_DIAGONAL_KERNEL(K)                                                                     \
    HOT static void k_lanes_diag##K(size_t b, size_t e, void *arg) {                                 \
        const block_job *j = arg;                                                                    \
        enum { D = 1 << K };                                                                         \
        REAL *a = (REAL *)j->amp;                                                                    \
        size_t off[D];                                                                               \
        for (int r = 0; r < D; r++) off[r] = 2 * j->off[r];                                          \
        FOR_LANE_RUNS(j, K, b, e, k_diag##K, {                                                       \
            for (int r = 0; r < D; r++) {                                                            \
                SVK_VEC x = *(const SVK_VECU *)(p + off[r] + 2 * i);                                 \
                *(SVK_VECU *)(p + off[r] + 2 * i) = j->re[r] * x + j->im[r] * (SVK_SWAP_PAIRS(x) * SVK_NEG_EVEN);\
            }                                                                                        \
        });                                                                                          \
    }
LANES_DIAGONAL_KERNEL(1)
LANES_DIAGONAL_KERNEL(2)
LANES_DIAGONAL_KERNEL(3)
LANES_DIAGONAL_KERNEL(4)
LANES_DIAGONAL_KERNEL(5)

/* Blocks of at most 3 qubits of which some are below SVK_LANE_LOG (the lowest qubits, inside one
 * vector of amplitudes: the block kernels above would go a double at a time there, and in single
 * precision that is every block on qubits 0-2, a third of a layered circuit's time). A vector holds
 * the SVK_LANES amplitudes that differ in the lane bits; one such vector per value h of the block's
 * higher qubits makes a vector group. Output lane l of vector h' sums, over the input vectors h and
 * the values c of the block's low qubits, M[row of (h', l), column (h, c)] times lane
 * (l's other bits, c) of vector h: a shuffle of the input (perm[c]) times a lane-wise matrix vector
 * prepared once. Diagonal blocks too (their off-diagonal entries are zeros). One kernel per split
 * (KL qubits inside the vector, KH above), so that its loops unroll into registers. */
/* v's elements in the order of the indices m (GCC: one permute instruction; clang, which builds only
 * the fuzzers here, has no variable shuffle builtin: element by element) */
#ifdef __clang__ /* a macro: a function taking vectors by value would change their ABI */
#define SVK_PERMUTE(v, m)                                                                            \
    ({                                                                                               \
        SVK_VEC t_;                                                                                  \
        for (int i_ = 0; i_ < (int)(sizeof t_ / sizeof(REAL)); i_++) t_[i_] = (v)[(m)[i_]];          \
        t_;                                                                                          \
    })
#else
#define SVK_PERMUTE(v, m) __builtin_shuffle((v), (m))
#endif

#define LOW_LANES_KERNEL(KL, KH)                                                                     \
    HOT static void k_low_lanes_##KL##_##KH(size_t b, size_t e, void *arg) {                         \
        const low_job *j = arg;                                                                      \
        enum { H = 1 << KH, C = 1 << KL };                                                           \
        REAL *a = (REAL *)j->amp;                                                                    \
        SVK_VECI perm[C];                                                                            \
        for (int c = 0; c < C; c++) perm[c] = j->perm[c];                                            \
        for (size_t g = b; g < e; g++) {                                                             \
            REAL *p = a + 2 * insert_zeros(g, j->pos, j->n_pos);                                     \
            SVK_VEC x[H * C], xs[H * C];                                                             \
            for (int h = 0; h < H; h++) {                                                            \
                const SVK_VEC v = *(const SVK_VECU *)(p + 2 * j->off[h]);                            \
                for (int c = 0; c < C; c++) {                                                        \
                    const SVK_VEC t = SVK_PERMUTE(v, perm[c]);                                       \
                    x[h * C + c] = t;                                                                \
                    xs[h * C + c] = SVK_SWAP_PAIRS(t) * SVK_NEG_EVEN;                                \
                }                                                                                    \
            }                                                                                        \
            for (int o = 0; o < H; o++) {                                                            \
                const SVK_VEC *mr = j->mr + o * H * C, *mi = j->mi + o * H * C;                      \
                /* four independent chains of multiply-adds: one chain would wait on each add */     \
                SVK_VEC w[4] = {mr[0] * x[0], mi[0] * xs[0], (SVK_VEC){0}, (SVK_VEC){0}};            \
                for (int i = 1; i < H * C; i++) {                                                    \
                    w[2 * (i & 1)] += mr[i] * x[i];                                                  \
                    w[2 * (i & 1) + 1] += mi[i] * xs[i];                                             \
                }                                                                                    \
                *(SVK_VECU *)(p + 2 * j->off[o]) = (w[0] + w[2]) + (w[1] + w[3]);                    \
            }                                                                                        \
        }                                                                                            \
    }
LOW_LANES_KERNEL(1, 0)
LOW_LANES_KERNEL(1, 1)
LOW_LANES_KERNEL(1, 2)
LOW_LANES_KERNEL(2, 0)
LOW_LANES_KERNEL(2, 1)
LOW_LANES_KERNEL(3, 0)

/* pos: the block's qubits in the state's numbering, ascending, some below SVK_LANE_LOG */
static void prepare_low_lanes(prepared_step *ps, CPLX *amp, size_t dim, const sv_block *blk, const int *pos) {
    low_job *j = &ps->job.l;
    const int K = blk->k, D = 1 << K, w = SVK_LANE_LOG;
    j->amp = amp;
    j->kl = 0;
    while (j->kl < K && pos[j->kl] < w) j->kl++;
    j->kh = K - j->kl;
    const int H = 1 << j->kh, C = 1 << j->kl;
    j->n_pos = 0;
    for (int i = 0; i < w; i++) j->pos[j->n_pos++] = i;
    for (int i = j->kl; i < K; i++) j->pos[j->n_pos++] = pos[i];
    for (int h = 0; h < H; h++) {
        size_t o = 0;
        for (int t = 0; t < j->kh; t++)
            if (h >> t & 1) o |= (size_t)1 << pos[j->kl + t];
        j->off[h] = o;
    }
    int lowmask = 0;
    for (int t = 0; t < j->kl; t++) lowmask |= 1 << pos[t];
    for (int c = 0; c < C; c++) {
        int dep = 0;
        for (int t = 0; t < j->kl; t++)
            if (c >> t & 1) dep |= 1 << pos[t];
        for (int l = 0; l < SVK_LANES; l++) {
            int m = (l & ~lowmask) | dep;
            j->perm[c][2 * l] = 2 * m;
            j->perm[c][2 * l + 1] = 2 * m + 1;
        }
    }
    const REAL *re = SVK_BLOCK_RE(blk), *im = SVK_BLOCK_IM(blk);
    for (int o = 0; o < H; o++)
        for (int h = 0; h < H; h++)
            for (int c = 0; c < C; c++) {
                int i = (o * H + h) * C + c, col = h << j->kl | c;
                for (int l = 0; l < SVK_LANES; l++) {
                    int lo = 0;
                    for (int t = 0; t < j->kl; t++) lo |= (l >> pos[t] & 1) << t;
                    int row = o << j->kl | lo;
                    REAL mre, mim;
                    if (blk->diagonal) {
                        mre = row == col ? re[row] : 0;
                        mim = row == col ? im[row] : 0;
                    } else {
                        mre = re[col * D + row];
                        mim = im[col * D + row];
                    }
                    j->mr[i][2 * l] = j->mr[i][2 * l + 1] = mre;
                    j->mi[i][2 * l] = j->mi[i][2 * l + 1] = mim;
                }
            }
    static const range_fn by_size[4][3] = {{NULL}, {k_low_lanes_1_0, k_low_lanes_1_1, k_low_lanes_1_2},
                                            {k_low_lanes_2_0, k_low_lanes_2_1}, {k_low_lanes_3_0}};
    ps->fn = by_size[j->kl][j->kh];
    ps->iters = dim >> (w + j->kh);
}

static void prepare_block(prepared_step *ps, CPLX *amp, size_t dim, const sv_block *blk, const int *map) {
    static const range_fn dense[] = {NULL, k_dense1, k_dense2, k_dense3, k_dense4, k_dense5};
    static const range_fn diag[] = {NULL, k_diag1, k_diag2, k_diag3, k_diag4, k_diag5};
    block_job *j = &ps->job.b;
    j->amp = amp;
    j->re = SVK_BLOCK_RE(blk);
    j->im = SVK_BLOCK_IM(blk);
    /* a map keeps the order of the qubits (a chunk's local qubits are numbered in ascending order),
     * so pos stays sorted */
    for (int i = 0; i < blk->k; i++) j->pos[i] = QUBIT(map, blk->qubits[i]);
    if (blk->k <= 3 && j->pos[0] < SVK_LANE_LOG && dim >= (size_t)SVK_LANES << blk->k) {
        int pos[3];
        memcpy(pos, j->pos, sizeof(int) * (size_t)blk->k);
        prepare_low_lanes(ps, amp, dim, blk, pos);
        return;
    }
    for (int r = 0; r < 1 << blk->k; r++) {
        size_t o = 0;
        for (int i = 0; i < blk->k; i++)
            if (r >> i & 1) o |= (size_t)1 << j->pos[i];
        j->off[r] = o;
    }
    static const range_fn lanes[] = {NULL, k_lanes1, k_lanes2, k_lanes3, k_lanes4, k_dense5};
    static const range_fn lanes_diag[] = {NULL, k_lanes_diag1, k_lanes_diag2, k_lanes_diag3, k_lanes_diag4,
                                          k_lanes_diag5};
    if (j->pos[0] >= SVK_LANE_LOG)
        ps->fn = blk->diagonal ? lanes_diag[blk->k] : lanes[blk->k];
    else
        ps->fn = blk->diagonal ? diag[blk->k] : dense[blk->k];
    ps->iters = dim >> blk->k;
}

void SVK(apply)(pit_statevec *sv, const qasm_op *op) {
    prepared_step ps;
    prepare_gate(&ps, SVK_AMP(sv), sv->dim, op, NULL);
    sv_par_for(ps.iters, ps.fn, &ps.job);
}

void SVK(apply_block)(pit_statevec *sv, const sv_block *blk) {
    prepared_step ps;
    prepare_block(&ps, SVK_AMP(sv), sv->dim, blk, NULL);
    sv_par_for(ps.iters, ps.fn, &ps.job);
}

/* ---------------------------------------------------------------- cache blocking */

typedef struct {
    CPLX *amp;
    int L;
    int local[SV_CHUNK_QUBITS_MAX];
    int map[QASM_MAX_QUBITS];
    const sv_step *steps;
    size_t n_steps;
    int run_bits;          /* local[0..run_bits) are qubits 0..run_bits-1: runs of 2^run_bits amplitudes */
    const size_t *run_off; /* run r -> its offset from the chunk's base */
    /* Chunk c's base is insert_zeros(c, skip, n_skip): skip holds the local qubits and the other
     * qubits that are 0 in every non-zero amplitude (sv->zero_qubits), ascending; the chunks where
     * one of those is 1 hold zeros only, and stay so: they are not visited. */
    int skip[QASM_MAX_QUBITS], n_skip;
} chunk_job;

static void prepare_steps(prepared_step *ps, CPLX *amp, const chunk_job *cj) {
    size_t len = (size_t)1 << cj->L;
    for (size_t i = 0; i < cj->n_steps; i++) {
        const sv_step *s = &cj->steps[i];
        if (s->op)
            prepare_gate(&ps[i], amp, len, s->op, cj->map);
        else
            prepare_block(&ps[i], amp, len, &s->block, cj->map);
    }
}

/* Chunks whose qubits are the lowest ones (local = 0..L-1) are contiguous: the steps run on them in
 * place, with no copies. */
static void chunk_range_in_place(size_t b, size_t e, void *arg) {
    const chunk_job *cj = arg;
    prepared_step *ps = pit_aligned_alloc(64, cj->n_steps * sizeof *ps); /* ~4 KiB each: not on the stack */
    prepare_steps(ps, cj->amp, cj);
    for (size_t c = b; c < e; c++) {
        /* every job starts with its amp (a common initial sequence of the union's members) */
        for (size_t i = 0; i < cj->n_steps; i++) ps[i].job.g.amp = cj->amp + insert_zeros(c, cj->skip, cj->n_skip);
        for (size_t i = 0; i < cj->n_steps; i++) ps[i].fn(0, ps[i].iters, &ps[i].job);
    }
    free(ps);
}

static void chunk_range(size_t b, size_t e, void *arg) {
    const chunk_job *cj = arg;
    size_t run = (size_t)1 << cj->run_bits, runs = (size_t)1 << (cj->L - cj->run_bits);
    CPLX *buf = sv_chunk_buffer();
    prepared_step *ps = pit_aligned_alloc(64, cj->n_steps * sizeof *ps);
    prepare_steps(ps, buf, cj);
    for (size_t c = b; c < e; c++) {
        CPLX *base = cj->amp + insert_zeros(c, cj->skip, cj->n_skip);
        for (size_t r = 0; r < runs; r++) memcpy(buf + r * run, base + cj->run_off[r], run * sizeof *buf);
        for (size_t i = 0; i < cj->n_steps; i++) ps[i].fn(0, ps[i].iters, &ps[i].job);
        for (size_t r = 0; r < runs; r++) sv_store_streaming(base + cj->run_off[r], buf + r * run, run * sizeof *buf);
        sv_store_fence();
    }
    free(ps);
}

void SVK(apply_chunked)(pit_statevec *sv, const int *local, int L, const sv_step *steps, size_t n) {
    chunk_job cj = {.amp = SVK_AMP(sv), .L = L, .steps = steps, .n_steps = n};
    for (int q = 0; q < QASM_MAX_QUBITS; q++) cj.map[q] = -1;
    for (int i = 0; i < L; i++) {
        cj.local[i] = local[i];
        cj.map[local[i]] = i;
    }
    while (cj.run_bits < L && local[cj.run_bits] == cj.run_bits) cj.run_bits++;
    uint64_t local_mask = 0, changed = 0;
    for (int i = 0; i < L; i++) local_mask |= 1ull << local[i];
    for (int q = 0; q < sv->n; q++)
        if ((local_mask | sv->zero_qubits) >> q & 1) cj.skip[cj.n_skip++] = q;
    size_t chunks = sv->dim >> cj.n_skip;
    /* the qubits a step may set are no longer known to be 0 */
    for (size_t i = 0; i < n; i++) {
        const sv_step *s = &steps[i];
        if (s->op && s->op->kind == OP_GATE && s->op->cls != GATE_DIAGONAL)
            for (int t = 0; t < s->op->n_targets; t++) changed |= 1ull << s->op->targets[t];
        else if (!s->op && !s->block.diagonal)
            for (int t = 0; t < s->block.k; t++) changed |= 1ull << s->block.qubits[t];
    }
    sv->zero_qubits &= ~changed;
    if (cj.run_bits == L) {
        sv_par_for_min(chunks, 2, chunk_range_in_place, &cj);
        return;
    }
    size_t runs = (size_t)1 << (L - cj.run_bits);
    size_t *run_off = pit_malloc(runs * sizeof(size_t));
    for (size_t r = 0; r < runs; r++) {
        size_t o = 0;
        for (int i = cj.run_bits; i < L; i++)
            if (r >> (i - cj.run_bits) & 1) o |= (size_t)1 << local[i];
        run_off[r] = o;
    }
    cj.run_off = run_off;
    /* chunks are big work items: one each is enough to share them out */
    sv_par_for_min(chunks, 2, chunk_range, &cj);
    free(run_off);
}

/* ---------------------------------------------------------------- measurement */


typedef struct {
    const CPLX *amp;
    int q;
    pthread_mutex_t mu;
    double sum;
} prob_job;

static void prob_range(size_t b, size_t e, void *arg) {
    prob_job *j = arg;
    int t = j->q;
    size_t tb = (size_t)1 << t;
    double s = 0;
    for (size_t k = b; k < e; k++) {
        size_t i1 = (((k >> t) << (t + 1)) | (k & (tb - 1))) | tb;
        CPLX v = j->amp[i1];
        s += creal(v) * creal(v) + cimag(v) * cimag(v);
    }
    pthread_mutex_lock(&j->mu); /* once per thread and call */
    j->sum += s;
    pthread_mutex_unlock(&j->mu);
}

double SVK(prob_one)(const pit_statevec *sv, int q) {
    prob_job j = {SVK_AMP(sv), q, PTHREAD_MUTEX_INITIALIZER, 0};
    sv_par_for(sv->dim / 2, prob_range, &j);
    return j.sum;
}

typedef struct {
    CPLX *amp;
    int q, outcome;
    REAL scale;
} collapse_job;

static void collapse_range(size_t b, size_t e, void *arg) {
    collapse_job *j = arg;
    int t = j->q;
    size_t tb = (size_t)1 << t;
    for (size_t k = b; k < e; k++) {
        size_t i0 = ((k >> t) << (t + 1)) | (k & (tb - 1)), i1 = i0 | tb;
        if (j->outcome) {
            j->amp[i0] = 0;
            j->amp[i1] *= j->scale;
        } else {
            j->amp[i0] *= j->scale;
            j->amp[i1] = 0;
        }
    }
}

void SVK(collapse)(pit_statevec *sv, int q, int outcome, double p) {
    collapse_job j = {SVK_AMP(sv), q, outcome, p > 0 ? 1.0 / sqrt(p) : 0};
    sv_par_for(sv->dim / 2, collapse_range, &j);
}
