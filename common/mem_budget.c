/* The shared state-vector memory budget (mem_budget.h has the contract and the locking). */
#include "mem_budget.h"

#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void lock(pit_mem_shared *m) {
    /* EOWNERDEAD: a worker died holding it. The counters it was changing are whole words written
     * in one step each, so the state is usable; the supervisor releases that slot when it reaps it. */
    if (pthread_mutex_lock(&m->mu) == EOWNERDEAD) pthread_mutex_consistent(&m->mu);
}

static void unlock(pit_mem_shared *m) { pthread_mutex_unlock(&m->mu); }

static void wake_all(pit_mem_shared *m) {
    __atomic_add_fetch(&m->generation, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &m->generation, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

pit_mem_shared *pit_mem_create(int *fd) {
    int f = memfd_create("pitboss-memory-budget", MFD_CLOEXEC);
    if (f < 0) return NULL;
    if (ftruncate(f, sizeof(pit_mem_shared)) != 0) {
        int e = errno;
        close(f);
        errno = e;
        return NULL;
    }
    pit_mem_shared *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        close(f);
        errno = e;
        return NULL;
    }
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&m->mu, &a);
    pthread_mutexattr_destroy(&a);
    m->magic = PIT_MEM_MAGIC;
    *fd = f;
    return m;
}

pit_mem_shared *pit_mem_attach(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size != sizeof(pit_mem_shared)) return NULL;
    pit_mem_shared *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return NULL;
    if (m->magic != PIT_MEM_MAGIC) {
        munmap(m, sizeof *m);
        return NULL;
    }
    return m;
}

void pit_mem_set_budget(pit_mem_shared *m, int pool, uint64_t bytes) {
    if (!m || pool < 0 || pool >= PIT_MEM_POOLS) return;
    lock(m);
    m->pools[pool].budget = bytes;
    unlock(m);
    wake_all(m);
}

uint64_t pit_mem_release_slot(pit_mem_shared *m, int pool, int slot) {
    if (!m || pool < 0 || pool >= PIT_MEM_POOLS || slot < 0 || slot >= PIT_MEM_SLOTS) return 0;
    lock(m);
    pit_mem_pool *p = &m->pools[pool];
    uint64_t held = p->held[slot];
    p->held[slot] = 0;
    p->reserved -= held;
    unlock(m);
    if (held) wake_all(m);
    return held;
}

void pit_mem_read(pit_mem_shared *m, int pool, pit_mem_pool *out) {
    memset(out, 0, sizeof *out);
    if (!m || pool < 0 || pool >= PIT_MEM_POOLS) return;
    lock(m);
    pit_mem_pool *p = &m->pools[pool];
    out->budget = p->budget;
    out->reserved = p->reserved;
    out->peak = p->peak;
    out->waits = p->waits;
    out->refused = p->refused;
    unlock(m);
}

pit_mem_result pit_mem_reserve(pit_mem_shared *m, int pool, int slot, uint64_t bytes, int (*stop)(void *arg),
                               void *arg, uint64_t *taken, int *waited) {
    *waited = 0;
    *taken = 0;
    if (!m || pool < 0 || pool >= PIT_MEM_POOLS || slot < 0 || slot >= PIT_MEM_SLOTS) return PIT_MEM_OK;
    int counted = 0;
    for (;;) {
        uint32_t gen = __atomic_load_n(&m->generation, __ATOMIC_SEQ_CST);
        lock(m);
        pit_mem_pool *p = &m->pools[pool];
        if (!p->budget) {
            unlock(m);
            return PIT_MEM_OK;
        }
        if (bytes > p->budget) {
            p->refused++;
            unlock(m);
            return PIT_MEM_TOO_LARGE;
        }
        if (p->reserved + bytes <= p->budget) {
            p->reserved += bytes;
            p->held[slot] += bytes;
            if (p->reserved > p->peak) p->peak = p->reserved;
            unlock(m);
            *taken = bytes;
            return PIT_MEM_OK;
        }
        if (!counted) {
            p->waits++;
            counted = 1;
            *waited = 1;
        }
        unlock(m);
        if (stop && stop(arg)) return PIT_MEM_STOPPED;
        /* Sleeps until a release bumps the generation, or 50 ms pass (to look at stop() again). */
        struct timespec ts = {0, 50 * 1000000L};
        syscall(SYS_futex, &m->generation, FUTEX_WAIT, gen, &ts, NULL, 0);
    }
}

void pit_mem_release(pit_mem_shared *m, int pool, int slot, uint64_t bytes) {
    if (!m || pool < 0 || pool >= PIT_MEM_POOLS || slot < 0 || slot >= PIT_MEM_SLOTS || !bytes) return;
    lock(m);
    pit_mem_pool *p = &m->pools[pool];
    if (bytes > p->held[slot]) bytes = p->held[slot]; /* the supervisor released it already */
    p->held[slot] -= bytes;
    p->reserved -= bytes;
    unlock(m);
    wake_all(m);
}
