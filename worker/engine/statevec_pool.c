/*
 * The kernels' thread pool (a parallel for over an index range) and the per-thread chunk buffer of
 * cache blocking: the layer under both precisions' kernels (statevec_internal.h declares them).
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc.h"
#include "engine/statevec_internal.h"

/* ---------------------------------------------------------------- a parallel for */

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

void sv_par_for_min(size_t n, size_t min, range_fn fn, void *arg) {
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

void sv_par_for(size_t n, range_fn fn, void *arg) { sv_par_for_min(n, PAR_MIN, fn, arg); }

/* Each thread's buffer hangs off a key whose destructor frees it when the thread ends (the worker's
 * command threads call the kernels too, and they do end). */
static pthread_key_t chunk_key;
static pthread_once_t chunk_once = PTHREAD_ONCE_INIT;

static void chunk_key_make(void) { pthread_key_create(&chunk_key, free); }

void *sv_chunk_buffer(void) {
    pthread_once(&chunk_once, chunk_key_make);
    void *buf = pthread_getspecific(chunk_key);
    if (!buf) { /* pages are touched only as far as the chunk size in use */
        buf = pit_aligned_alloc(64, ((size_t)1 << SV_CHUNK_QUBITS_MAX) * sizeof(double complex));
        pthread_setspecific(chunk_key, buf);
    }
    return buf;
}
