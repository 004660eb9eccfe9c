/*
 * The state-vector memory budget a native pool's workers share: one segment of shared memory the
 * supervisor creates (a memfd) and every native worker inherits, mapped in both.
 *
 * Why shared: a pool's workers are separate processes and each admits calls on its own threads; a
 * check of free memory followed by an allocation lets them all pass the check at once (8 x 26-qubit
 * runs were admitted together: 10.3 GB peak, and OOM kills inside a cgroup). A reservation counted
 * in one place, taken before the allocation and given back after it, does not over-commit.
 *
 * Ownership and locking:
 *  - the supervisor creates the segment before any worker starts and sets each pool's budget (at
 *    start and on reload); it never frees it while workers run;
 *  - a worker reserves under the segment's mutex, into held[its slot], and releases the same way;
 *  - the mutex is robust and process-shared: a worker killed while holding it (kill -9, OOM) does
 *    not wedge the others; the next locker makes it consistent;
 *  - when the supervisor reaps a worker it releases what that slot still held (a killed worker
 *    cannot give its reservations back), before the slot's next process starts;
 *  - waiters sleep on a futex on `generation`, bumped at each release: no condition variable, whose
 *    state a waiter killed inside it could leave inconsistent.
 */
#ifndef PIT_MEM_BUDGET_H
#define PIT_MEM_BUDGET_H

#include <pthread.h>
#include <stdint.h>

#define PIT_MEM_POOLS 64       /* = PIT_MAX_POOLS */
#define PIT_MEM_SLOTS 256      /* = PIT_MAX_POOL_SLOTS */
#define PIT_MEM_MAGIC 0x70626d31u /* "pbm1": bumped when the layout changes */

typedef struct {
    uint64_t budget;   /* bytes; 0: the pool has no budget (not native) */
    uint64_t reserved; /* sum of held[] */
    uint64_t peak;     /* highest reserved since start */
    uint64_t waits;    /* reservations that had to wait for others to end */
    uint64_t refused;  /* reservations larger than the whole budget */
    uint64_t held[PIT_MEM_SLOTS];
} pit_mem_pool;

typedef struct pit_mem_shared_s {
    uint32_t magic;
    uint32_t generation; /* futex word: +1 per release or budget change */
    pthread_mutex_t mu;
    pit_mem_pool pools[PIT_MEM_POOLS];
} pit_mem_shared;

/* Supervisor: a new zeroed segment, mapped; its descriptor in *fd (close-on-exec: the spawner clears
 * that in the child). NULL with errno set on failure. */
pit_mem_shared *pit_mem_create(int *fd);
/* Worker: maps the inherited descriptor; NULL if it is not a segment of this layout. */
pit_mem_shared *pit_mem_attach(int fd);

/* Supervisor: the pool's budget in bytes (0: none); wakes waiters, who may fit now. */
void pit_mem_set_budget(pit_mem_shared *m, int pool, uint64_t bytes);
/* Supervisor, when slot's process is gone: gives back what it still held; returns that amount. */
uint64_t pit_mem_release_slot(pit_mem_shared *m, int pool, int slot);
/* A copy of one pool's counters (held[] not included), taken under the lock. */
void pit_mem_read(pit_mem_shared *m, int pool, pit_mem_pool *out);

typedef enum {
    PIT_MEM_OK = 0,       /* reserved: pit_mem_release it when done */
    PIT_MEM_TOO_LARGE,    /* more than the whole budget: it could never run here */
    PIT_MEM_STOPPED,      /* stop() said so while waiting (cancelled, deadline) */
} pit_mem_result;

/* Worker: reserves bytes for the slot, waiting (in 50 ms steps, checking stop(arg)) while others
 * hold the budget. *taken is what was counted (0 when the pool has no budget): pit_mem_release that
 * much when done. *waited is set to 1 if it had to wait. */
pit_mem_result pit_mem_reserve(pit_mem_shared *m, int pool, int slot, uint64_t bytes, int (*stop)(void *arg),
                               void *arg, uint64_t *taken, int *waited);
void pit_mem_release(pit_mem_shared *m, int pool, int slot, uint64_t bytes);

#endif
