/*
 * State-vector kernels. A gate on target t under controls touches only the amplitudes whose
 * control bits hold their values: the loop runs over the other bits ("insert zeros at the sorted
 * positions of the target and the controls, then set the control bits"), so a controlled gate does
 * half the work of an uncontrolled one, a diagonal gate only multiplies, and a permutation only swaps.
 * Loops are split over a small pool of threads by the flattened index, so high targets parallelise
 * as well as low ones.
 */
#include "engine/statevec.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"


/* ---------------------------------------------------------------- a parallel for */

typedef void (*range_fn)(size_t begin, size_t end, void *arg);

#define PAR_MIN 16384 /* below this many iterations, one thread is faster than waking others */
#define MAX_THREADS 64

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int threads;
    pthread_t ids[MAX_THREADS];
    /* the current job */
    range_fn fn;
    void *arg;
    size_t n;
    unsigned generation;
    int finished;
} pool = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static int wanted_threads;
/* One parallel loop at a time: concurrent circuits (several calls in one worker) take turns. */
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER;

static void chunk(int k, int threads, size_t n, size_t *b, size_t *e) {
    *b = n * (size_t)k / (size_t)threads;
    *e = n * (size_t)(k + 1) / (size_t)threads;
}

static void *pool_thread(void *arg) {
    int k = (int)(size_t)arg;
    unsigned seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.generation == seen) pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.generation;
        range_fn fn = pool.fn;
        void *a = pool.arg;
        size_t n = pool.n, b, e;
        int threads = pool.threads;
        pthread_mutex_unlock(&pool.mu);
        chunk(k, threads, n, &b, &e);
        fn(b, e, a);
        pthread_mutex_lock(&pool.mu);
        if (++pool.finished == threads - 1) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

static void pool_start(void) {
    int n = wanted_threads ? wanted_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    pool.threads = n;
    for (int k = 1; k < n; k++) pthread_create(&pool.ids[k], NULL, pool_thread, (void *)(size_t)k);
}

void sv_set_threads(int n) { wanted_threads = n; }

int sv_threads(void) {
    pthread_once(&pool.once, pool_start);
    return pool.threads;
}

/* fn over [0, n) split among the threads, or on the caller's alone below min iterations. */
static void par_for_min(size_t n, size_t min, range_fn fn, void *arg) {
    pthread_once(&pool.once, pool_start);
    if (pool.threads == 1 || n < min) {
        fn(0, n, arg);
        return;
    }
    pthread_mutex_lock(&job_mu);
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.arg = arg;
    pool.n = n;
    pool.finished = 0;
    pool.generation++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    size_t b, e;
    chunk(0, pool.threads, n, &b, &e);
    fn(b, e, arg);
    pthread_mutex_lock(&pool.mu);
    while (pool.finished < pool.threads - 1) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&job_mu);
}

static void par_for(size_t n, range_fn fn, void *arg) { par_for_min(n, PAR_MIN, fn, arg); }

/* ---------------------------------------------------------------- allocation */

#define HUGE_PAGE ((size_t)2 << 20)

size_t sv_bytes(int n) { return ((size_t)1 << n) * sizeof(double complex); }

static void zero_range(size_t b, size_t e, void *arg) {
    double complex *a = arg;
    memset(a + b, 0, (e - b) * sizeof(double complex));
}

int sv_init(pit_statevec *sv, int n) {
    sv->n = n;
    sv->dim = (size_t)1 << n;
    size_t bytes = sv_bytes(n) < 64 ? 64 : sv_bytes(n);
    /* States of 2 MiB and up on huge pages (where the kernel gives them on request: THP "madvise"
     * is Debian's default): gates on high qubits stride across the state, and with 4 KiB pages
     * every group of a fused block missed the TLB several times. */
    size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : 64;
    sv->amp = aligned_alloc(align, bytes);
    if (!sv->amp) return -1;
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) madvise(sv->amp, bytes, MADV_HUGEPAGE);
#endif
    par_for(sv->dim, zero_range, sv->amp); /* first touch from every thread */
    sv->amp[0] = 1;
    return 0;
}

void sv_free(pit_statevec *sv) {
    free(sv->amp);
    sv->amp = NULL;
}

void sv_reset_zero(pit_statevec *sv) {
    par_for(sv->dim, zero_range, sv->amp);
    sv->amp[0] = 1;
}

typedef struct {
    double complex *dst;
    const double complex *src;
} copy_job;

static void copy_range(size_t b, size_t e, void *arg) {
    copy_job *j = arg;
    memcpy(j->dst + b, j->src + b, (e - b) * sizeof(double complex));
}

void sv_copy(pit_statevec *dst, const pit_statevec *src) {
    copy_job j = {dst->amp, src->amp};
    par_for(src->dim, copy_range, &j);
}

/* ---------------------------------------------------------------- gate kernels */

typedef struct {
    double complex *amp;
    double complex m[16];
    int n_pos;
    int pos[QASM_MAX_CONTROLS + 2]; /* sorted bit positions to insert zeros at */
    size_t set_mask;                /* control bits that must be 1 */
    size_t t0, t1;                  /* target bit masks (t1 for two-target gates) */
} gate_job;

typedef struct {
    double complex *amp;
    const double *re, *im;
    int pos[SV_BLOCK_MAX];
    size_t off[1 << SV_BLOCK_MAX]; /* local index r -> its offset from the group's base */
} block_job;

/* A gate or a block made ready to run: its loop, how many iterations, and its job. */
typedef struct {
    range_fn fn;
    size_t iters;
    union {
        gate_job g;
        block_job b;
    } job;
} prepared_step;

static inline size_t insert_zeros(size_t k, const int *pos, int n_pos) {
    for (int i = 0; i < n_pos; i++) {
        size_t low = k & (((size_t)1 << pos[i]) - 1);
        k = ((k >> pos[i]) << (pos[i] + 1)) | low;
    }
    return k;
}

/* Hot kernels get an AVX2 build beside the baseline one; the loader picks what the CPU has. */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
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

HOT static void k1_general(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    double complex *a = j->amp;
    const double complex m0 = j->m[0], m1 = j->m[1], m2 = j->m[2], m3 = j->m[3];
    const size_t t0 = j->t0;
    FOR_RUNS(j, b, e, {
        double complex *restrict x = a + base, *restrict y = a + (base | t0);
        for (size_t i = 0; i < run; i++) {
            double complex u = x[i], v = y[i];
            x[i] = m0 * u + m1 * v;
            y[i] = m2 * u + m3 * v;
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
        double *restrict p = (double *)j->amp;                                                       \
        const double ar = creal(j->m[0]), ai = cimag(j->m[0]), br = creal(j->m[1]), bi = cimag(j->m[1]); \
        const double cr = creal(j->m[2]), ci = cimag(j->m[2]), dr = creal(j->m[3]), di = cimag(j->m[3]); \
        for (size_t u = b; u < e; u++) {                                                             \
            double *x = p + u * 4 * H, *y = x + 2 * H;                                               \
            for (int i = 0; i < H; i++) {                                                            \
                const double xr = x[2 * i], xi = x[2 * i + 1], yr = y[2 * i], yi = y[2 * i + 1];     \
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
    double complex *a = j->amp;
    const double complex d0 = j->m[0], d1 = j->m[3];
    const size_t t0 = j->t0;
    FOR_RUNS(j, b, e, {
        double complex *restrict x = a + base, *restrict y = a + (base | t0);
        if (d0 != 1)
            for (size_t i = 0; i < run; i++) x[i] *= d0;
        for (size_t i = 0; i < run; i++) y[i] *= d1;
    });
}

HOT static void k1_swap(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    double complex *a = j->amp;
    const size_t t0 = j->t0;
    FOR_RUNS(j, b, e, {
        double complex *restrict x = a + base, *restrict y = a + (base | t0);
        for (size_t i = 0; i < run; i++) {
            double complex u = x[i];
            x[i] = y[i];
            y[i] = u;
        }
    });
}

static void k2_general(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    double complex *a = j->amp;
    const double complex *m = j->m;
    for (size_t k = b; k < e; k++) {
        size_t i00 = insert_zeros(k, j->pos, j->n_pos) | j->set_mask;
        size_t idx[4] = {i00, i00 | j->t1, i00 | j->t0, i00 | j->t0 | j->t1};
        double complex v[4] = {a[idx[0]], a[idx[1]], a[idx[2]], a[idx[3]]};
        for (int r = 0; r < 4; r++) a[idx[r]] = m[r * 4] * v[0] + m[r * 4 + 1] * v[1] + m[r * 4 + 2] * v[2] + m[r * 4 + 3] * v[3];
    }
}

static void k2_diagonal(size_t b, size_t e, void *arg) {
    gate_job *j = arg;
    double complex *a = j->amp;
    const double complex *m = j->m;
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

/* qubit q of the gate or block, where the state it runs on has its own numbering (a chunk's local
 * index): map[q], or q itself without a map */
#define QUBIT(map, q) ((map) ? (map)[q] : (q))

static void prepare_gate(prepared_step *ps, double complex *amp, size_t dim, const qasm_op *op, const int *map) {
    gate_job *j = &ps->job.g;
    memset(j, 0, sizeof *j);
    j->amp = amp;
    if (op->kind == OP_GPHASE) {
        j->m[0] = cexp(_Complex_I * op->phase);
        ps->fn = k_scale;
        ps->iters = dim;
        return;
    }
    memcpy(j->m, op->m, sizeof j->m);
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

void sv_apply(pit_statevec *sv, const qasm_op *op) {
    prepared_step ps;
    prepare_gate(&ps, sv->amp, sv->dim, op, NULL);
    par_for(ps.iters, ps.fn, &ps.job);
}

/* ---------------------------------------------------------------- fused blocks */

/* One group of 2^K amplitudes at a time, for any positions of the qubits (low ones included): the
 * matrix is applied a column at a time, the rows being the lanes of 8-double vectors (zmm with
 * AVX-512, two ymm with AVX2, four xmm otherwise), each amplitude of the group broadcast in turn. */
typedef double v8d __attribute__((vector_size(64)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v2d __attribute__((vector_size(16)));

/* K qubits, rows in vectors of L doubles (type V): C = 2^K / L vectors a column. */
#define DENSE_KERNEL(K, V, L)                                                                        \
    HOT static void k_dense##K(size_t b, size_t e, void *arg) {                                      \
        const block_job *j = arg;                                                                    \
        enum { D = 1 << K, C = D / L };                                                              \
        double *a = (double *)j->amp;                                                                \
        const V *mr = (const V *)j->re, *mi = (const V *)j->im;                                      \
        size_t off[D];                                                                               \
        for (int r = 0; r < D; r++) off[r] = 2 * j->off[r];                                          \
        for (size_t g = b; g < e; g++) {                                                             \
            double *p = a + 2 * insert_zeros(g, j->pos, K);                                          \
            V wr[C], wi[C];                                                                          \
            for (int h = 0; h < C; h++) wr[h] = wi[h] = (V){0};                                      \
            for (int c = 0; c < D; c++) {                                                            \
                const double xr = p[off[c]], xi = p[off[c] + 1];                                     \
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
DENSE_KERNEL(1, v2d, 2)
DENSE_KERNEL(2, v4d, 4)
DENSE_KERNEL(3, v8d, 8)
DENSE_KERNEL(4, v8d, 8)
DENSE_KERNEL(5, v8d, 8)

#define DIAGONAL_KERNEL(K)                                                                           \
    HOT static void k_diag##K(size_t b, size_t e, void *arg) {                                       \
        const block_job *j = arg;                                                                    \
        enum { D = 1 << K };                                                                         \
        double complex *a = j->amp;                                                                  \
        double complex d[D];                                                                         \
        size_t off[D];                                                                               \
        for (int r = 0; r < D; r++) {                                                                \
            d[r] = make_complex(j->re[r], j->im[r]);                                                        \
            off[r] = j->off[r];                                                                      \
        }                                                                                            \
        for (size_t g = b; g < e; g++) {                                                             \
            double complex *p = a + insert_zeros(g, j->pos, K);                                      \
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
typedef double v8du __attribute__((vector_size(64), aligned(8)));
typedef long long v8i __attribute__((vector_size(64)));
#define NEG_EVEN ((v8d){-1, 1, -1, 1, -1, 1, -1, 1})
#define SWAP_PAIRS(x) __builtin_shuffle((x), (v8i){1, 0, 3, 2, 5, 4, 7, 6})

#define LANES_KERNEL(K)                                                                              \
    HOT static void k_lanes##K(size_t b, size_t e, void *arg) {                                      \
        const block_job *j = arg;                                                                    \
        enum { D = 1 << K };                                                                         \
        double *a = (double *)j->amp;                                                                \
        const double *mr = j->re, *mi = j->im;                                                       \
        const size_t low = (size_t)1 << (j->pos[0] - 2); /* groups per contiguous run, over 4 */   \
        size_t off[D];                                                                               \
        for (int r = 0; r < D; r++) off[r] = 2 * j->off[r];                                          \
        for (size_t g = b; g < e;) {                                                                 \
            size_t run = 4 * low - (g & (4 * low - 1));                                              \
            if (run > e - g) run = e - g;                                                            \
            double *p = a + 2 * insert_zeros(g, j->pos, K);                                          \
            size_t i = 0;                                                                            \
            for (; i + 4 <= run; i += 4) {                                                           \
                v8d x[D], xs[D];                                                                     \
                for (int c = 0; c < D; c++) {                                                        \
                    x[c] = *(const v8du *)(p + off[c] + 2 * i);                                      \
                    xs[c] = SWAP_PAIRS(x[c]) * NEG_EVEN;                                             \
                }                                                                                    \
                for (int r = 0; r < D; r++) {                                                        \
                    v8d w = mr[r] * x[0] + mi[r] * xs[0];                                            \
                    for (int c = 1; c < D; c++) w += mr[c * D + r] * x[c] + mi[c * D + r] * xs[c];  \
                    *(v8du *)(p + off[r] + 2 * i) = w;                                               \
                }                                                                                    \
            }                                                                                        \
            if (i < run) k_dense##K(g + i, g + run, arg);                                            \
            g += run;                                                                                \
        }                                                                                            \
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
        double *a = (double *)j->amp;                                                                \
        const size_t low = (size_t)1 << (j->pos[0] - 2);                                             \
        size_t off[D];                                                                               \
        for (int r = 0; r < D; r++) off[r] = 2 * j->off[r];                                          \
        for (size_t g = b; g < e;) {                                                                 \
            size_t run = 4 * low - (g & (4 * low - 1));                                              \
            if (run > e - g) run = e - g;                                                            \
            double *p = a + 2 * insert_zeros(g, j->pos, K);                                          \
            size_t i = 0;                                                                            \
            for (; i + 4 <= run; i += 4)                                                             \
                for (int r = 0; r < D; r++) {                                                        \
                    v8d x = *(const v8du *)(p + off[r] + 2 * i);                                     \
                    *(v8du *)(p + off[r] + 2 * i) = j->re[r] * x + j->im[r] * (SWAP_PAIRS(x) * NEG_EVEN); \
                }                                                                                    \
            if (i < run) k_diag##K(g + i, g + run, arg);                                             \
            g += run;                                                                                \
        }                                                                                            \
    }
LANES_DIAGONAL_KERNEL(1)
LANES_DIAGONAL_KERNEL(2)
LANES_DIAGONAL_KERNEL(3)
LANES_DIAGONAL_KERNEL(4)
LANES_DIAGONAL_KERNEL(5)

static void prepare_block(prepared_step *ps, double complex *amp, size_t dim, const sv_block *blk, const int *map) {
    static const range_fn dense[] = {NULL, k_dense1, k_dense2, k_dense3, k_dense4, k_dense5};
    static const range_fn diag[] = {NULL, k_diag1, k_diag2, k_diag3, k_diag4, k_diag5};
    block_job *j = &ps->job.b;
    j->amp = amp;
    j->re = blk->re;
    j->im = blk->im;
    /* a map keeps the order of the qubits (a chunk's local qubits are numbered in ascending order),
     * so pos stays sorted */
    for (int i = 0; i < blk->k; i++) j->pos[i] = QUBIT(map, blk->qubits[i]);
    for (int r = 0; r < 1 << blk->k; r++) {
        size_t o = 0;
        for (int i = 0; i < blk->k; i++)
            if (r >> i & 1) o |= (size_t)1 << j->pos[i];
        j->off[r] = o;
    }
    static const range_fn lanes[] = {NULL, k_lanes1, k_lanes2, k_lanes3, k_lanes4, k_dense5};
    static const range_fn lanes_diag[] = {NULL, k_lanes_diag1, k_lanes_diag2, k_lanes_diag3, k_lanes_diag4,
                                          k_lanes_diag5};
    if (j->pos[0] >= 2)
        ps->fn = blk->diagonal ? lanes_diag[blk->k] : lanes[blk->k];
    else
        ps->fn = blk->diagonal ? diag[blk->k] : dense[blk->k];
    ps->iters = dim >> blk->k;
}

void sv_apply_block(pit_statevec *sv, const sv_block *blk) {
    prepared_step ps;
    prepare_block(&ps, sv->amp, sv->dim, blk, NULL);
    par_for(ps.iters, ps.fn, &ps.job);
}

/* ---------------------------------------------------------------- cache blocking */

typedef struct {
    double complex *amp;
    int L;
    int local[SV_CHUNK_QUBITS_MAX];
    int map[QASM_MAX_QUBITS];
    const sv_step *steps;
    size_t n_steps;
    int run_bits;          /* local[0..run_bits) are qubits 0..run_bits-1: runs of 2^run_bits amplitudes */
    const size_t *run_off; /* run r -> its offset from the chunk's base */
} chunk_job;

static int chunk_qubits = 16;

void sv_set_chunk_qubits(int L) { chunk_qubits = L < 0 ? 0 : L > SV_CHUNK_QUBITS_MAX ? SV_CHUNK_QUBITS_MAX : L; }
int sv_chunk_qubits(void) { return chunk_qubits; }

/* Each thread's chunk buffer, kept for the thread's life (the kernels' threads never end): a fresh
 * 1 MiB a stretch would fault its pages in every time. */
static __thread double complex *chunk_buf;

static void prepare_steps(prepared_step *ps, double complex *amp, const chunk_job *cj) {
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
    prepared_step ps[SV_CHUNK_STEPS_MAX];
    for (size_t c = b; c < e; c++) {
        prepare_steps(ps, cj->amp + (c << cj->L), cj);
        for (size_t i = 0; i < cj->n_steps; i++) ps[i].fn(0, ps[i].iters, &ps[i].job);
    }
}

static void chunk_range(size_t b, size_t e, void *arg) {
    const chunk_job *cj = arg;
    size_t run = (size_t)1 << cj->run_bits, runs = (size_t)1 << (cj->L - cj->run_bits);
    if (!chunk_buf) /* pages are touched only as far as the chunk size in use */
        chunk_buf = pit_aligned_alloc(64, ((size_t)1 << SV_CHUNK_QUBITS_MAX) * sizeof(double complex));
    double complex *buf = chunk_buf;
    prepared_step ps[SV_CHUNK_STEPS_MAX];
    prepare_steps(ps, buf, cj);
    for (size_t c = b; c < e; c++) {
        double complex *base = cj->amp + insert_zeros(c, cj->local, cj->L);
        for (size_t r = 0; r < runs; r++) memcpy(buf + r * run, base + cj->run_off[r], run * sizeof *buf);
        for (size_t i = 0; i < cj->n_steps; i++) ps[i].fn(0, ps[i].iters, &ps[i].job);
        for (size_t r = 0; r < runs; r++) memcpy(base + cj->run_off[r], buf + r * run, run * sizeof *buf);
    }
}

void sv_apply_chunked(pit_statevec *sv, const int *local, int L, const sv_step *steps, size_t n) {
    chunk_job cj = {.amp = sv->amp, .L = L, .steps = steps, .n_steps = n};
    for (int q = 0; q < QASM_MAX_QUBITS; q++) cj.map[q] = -1;
    for (int i = 0; i < L; i++) {
        cj.local[i] = local[i];
        cj.map[local[i]] = i;
    }
    while (cj.run_bits < L && local[cj.run_bits] == cj.run_bits) cj.run_bits++;
    if (cj.run_bits == L) {
        par_for_min(sv->dim >> L, 2, chunk_range_in_place, &cj);
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
    par_for_min(sv->dim >> L, 2, chunk_range, &cj);
    free(run_off);
}

/* ---------------------------------------------------------------- measurement */

typedef struct {
    const double complex *amp;
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
        double complex v = j->amp[i1];
        s += creal(v) * creal(v) + cimag(v) * cimag(v);
    }
    pthread_mutex_lock(&j->mu); /* once per thread and call */
    j->sum += s;
    pthread_mutex_unlock(&j->mu);
}

double sv_prob_one(const pit_statevec *sv, int q) {
    prob_job j = {sv->amp, q, PTHREAD_MUTEX_INITIALIZER, 0};
    par_for(sv->dim / 2, prob_range, &j);
    return j.sum;
}

typedef struct {
    double complex *amp;
    int q, outcome;
    double scale;
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

void sv_collapse(pit_statevec *sv, int q, int outcome, double p) {
    collapse_job j = {sv->amp, q, outcome, p > 0 ? 1.0 / sqrt(p) : 0};
    par_for(sv->dim / 2, collapse_range, &j);
}

void sv_cumulative(const pit_statevec *sv, double *cdf) {
    double s = 0;
    for (size_t i = 0; i < sv->dim; i++) {
        double complex v = sv->amp[i];
        s += creal(v) * creal(v) + cimag(v) * cimag(v);
        cdf[i] = s;
    }
}

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
    par_for(n, scale_range, &j);
}
