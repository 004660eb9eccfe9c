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

static void par_for(size_t n, range_fn fn, void *arg) {
    pthread_once(&pool.once, pool_start);
    if (pool.threads == 1 || n < PAR_MIN) {
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

void sv_apply(pit_statevec *sv, const qasm_op *op) {
    gate_job j;
    memset(&j, 0, sizeof j);
    j.amp = sv->amp;
    if (op->kind == OP_GPHASE) {
        j.m[0] = cexp(_Complex_I * op->phase);
        par_for(sv->dim, k_scale, &j);
        return;
    }
    memcpy(j.m, op->m, sizeof j.m);
    for (int i = 0; i < op->n_targets; i++) j.pos[j.n_pos++] = op->targets[i];
    for (int i = 0; i < op->n_controls; i++) {
        j.pos[j.n_pos++] = op->controls[i];
        if (op->control_values[i]) j.set_mask |= (size_t)1 << op->controls[i];
    }
    qsort(j.pos, (size_t)j.n_pos, sizeof(int), cmp_int);
    j.t0 = (size_t)1 << op->targets[0];
    size_t iters = sv->dim >> j.n_pos;
    if (op->n_targets == 1) {
        range_fn fn;
        if (op->n_controls == 0 && op->targets[0] < 2 && sv->n >= 2) {
            par_for(iters >> op->targets[0], op->targets[0] == 0 ? k1_low0 : k1_low1, &j);
            return;
        }
        if (op->cls == GATE_DIAGONAL)
            fn = k1_diagonal;
        else if (op->cls == GATE_PERMUTATION)
            fn = k1_swap;
        else
            fn = k1_general;
        par_for(iters, fn, &j);
    } else {
        j.t1 = (size_t)1 << op->targets[1];
        par_for(iters, op->cls == GATE_DIAGONAL ? k2_diagonal : k2_general, &j);
    }
}

/* ---------------------------------------------------------------- fused blocks */

typedef struct {
    double complex *amp;
    const double *re, *im;
    int pos[SV_BLOCK_MAX];
    size_t off[1 << SV_BLOCK_MAX]; /* local index r -> its offset from the group's base */
} block_job;

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

void sv_apply_block(pit_statevec *sv, const sv_block *blk) {
    static const range_fn dense[] = {NULL, k_dense1, k_dense2, k_dense3, k_dense4, k_dense5};
    static const range_fn diag[] = {NULL, k_diag1, k_diag2, k_diag3, k_diag4, k_diag5};
    block_job j;
    j.amp = sv->amp;
    j.re = blk->re;
    j.im = blk->im;
    for (int i = 0; i < blk->k; i++) j.pos[i] = blk->qubits[i];
    for (int r = 0; r < 1 << blk->k; r++) {
        size_t o = 0;
        for (int i = 0; i < blk->k; i++)
            if (r >> i & 1) o |= (size_t)1 << blk->qubits[i];
        j.off[r] = o;
    }
    par_for(sv->dim >> blk->k, blk->diagonal ? diag[blk->k] : dense[blk->k], &j);
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
