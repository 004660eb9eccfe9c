/*
 * The completion-queue side of a pitboss process.
 *
 * Threading (the one model used everywhere; see docs/architecture.md):
 *  - gRPC completion-queue threads run the data path. Every operation started on the queue
 *    carries a pit_tag; the thread that receives its completion calls tag->fn(tag, ok). Callbacks
 *    must not block: they start the next operation and return.
 *  - libev runs on its own thread (processes, signals, timers) and never waits on the queue. It
 *    acts on calls only through thread-safe gRPC calls (grpc_call_cancel) and shared state under
 *    a lock; to make the queue side look at that state at once it calls pit_cq_loop_wake().
 *  - Blocking work (handlers, the simulator, Python) runs on worker threads that start
 *    operations and wait on a condition variable for their completion.
 */
#ifndef PIT_CQ_LOOP_H
#define PIT_CQ_LOOP_H

#include <grpc/grpc.h>

typedef struct pit_tag pit_tag;
typedef void (*pit_tag_fn)(pit_tag *tag, int ok);

/* Embed as the first member of whatever a completion must find again. */
struct pit_tag {
    pit_tag_fn fn;
};

typedef struct pit_cq_loop pit_cq_loop;

typedef struct {
    /* Earliest monotonic time the loop must wake at even with nothing completing (e.g. a queued
     * call's deadline); gpr_inf_future when none. Called before every wait. */
    gpr_timespec (*next_wake)(void *arg);
    /* Called when that time has come, or after pit_cq_loop_wake(). */
    void (*on_wake)(void *arg);
    void *arg;
} pit_cq_hooks;

/* Starts `threads` threads running the queue. hooks may be NULL. The loop owns nothing: the caller
 * shuts the queue down (grpc_completion_queue_shutdown) and then calls pit_cq_loop_join. */
pit_cq_loop *pit_cq_loop_start(grpc_completion_queue *cq, int threads, const pit_cq_hooks *hooks);
/* Waits for every thread to see GRPC_QUEUE_SHUTDOWN, then frees the loop. */
void pit_cq_loop_join(pit_cq_loop *loop);
/* From any thread: makes one queue thread call hooks->on_wake soon. */
void pit_cq_loop_wake(pit_cq_loop *loop);

/* Runs the queue on the calling thread until *done becomes non-zero (checked after each event)
 * or the queue shuts down. For single-threaded tools (CLI, tests, benchmarks). */
void pit_cq_run_until(grpc_completion_queue *cq, volatile int *done);

#endif
