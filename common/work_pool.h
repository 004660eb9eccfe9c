/* A fixed set of threads running submitted jobs in FIFO order: where blocking work goes. */
#ifndef PIT_WORK_POOL_H
#define PIT_WORK_POOL_H

typedef struct pit_work_pool pit_work_pool;

pit_work_pool *pit_work_pool_create(int threads, const char *name);
/* Queues fn(arg); never blocks. */
void pit_work_pool_submit(pit_work_pool *p, void (*fn)(void *arg), void *arg);
/* Jobs queued or running. */
int pit_work_pool_pending(pit_work_pool *p);
/* Runs what is queued, then joins the threads and frees the pool. */
void pit_work_pool_destroy(pit_work_pool *p);

#endif
