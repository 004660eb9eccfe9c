#include "cq_loop.h"
#include "alloc.h"

#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"

struct pit_cq_loop {
    grpc_completion_queue *cq;
    pit_cq_hooks hooks;
    int has_hooks;
    int nthreads;
    pthread_t *threads;
    /* gRPC 1.51 has no public call that posts into a queue from another thread. A connectivity
     * watch on a channel that is never asked to connect, with a deadline of "now", completes at
     * once on the queue it names: that is our doorbell. The channel stays IDLE and opens no socket. */
    grpc_channel *bell;
    pit_tag bell_tag;
    atomic_int bell_pending;
};

static void bell_rang(pit_tag *tag, int ok) {
    (void)ok;
    pit_cq_loop *loop = (pit_cq_loop *)((char *)tag - offsetof(pit_cq_loop, bell_tag));
    atomic_store(&loop->bell_pending, 0);
    if (loop->has_hooks && loop->hooks.on_wake) loop->hooks.on_wake(loop->hooks.arg);
}

static void *cq_thread(void *arg) {
    pit_cq_loop *loop = arg;
    for (;;) {
        gpr_timespec wake = gpr_inf_future(GPR_CLOCK_MONOTONIC);
        if (loop->has_hooks && loop->hooks.next_wake) wake = loop->hooks.next_wake(loop->hooks.arg);
        grpc_event ev = grpc_completion_queue_next(loop->cq, wake, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            if (loop->has_hooks && loop->hooks.on_wake) loop->hooks.on_wake(loop->hooks.arg);
            continue;
        }
        pit_tag *tag = ev.tag;
        tag->fn(tag, ev.success);
    }
    return NULL;
}

pit_cq_loop *pit_cq_loop_start(grpc_completion_queue *cq, int threads, const pit_cq_hooks *hooks) {
    pit_cq_loop *loop = pit_calloc(1, sizeof *loop);
    loop->cq = cq;
    if (hooks) {
        loop->hooks = *hooks;
        loop->has_hooks = 1;
    }
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    loop->bell = grpc_channel_create("127.0.0.1:1", creds, NULL);
    grpc_channel_credentials_release(creds);
    loop->bell_tag.fn = bell_rang;
    loop->nthreads = threads < 1 ? 1 : threads;
    loop->threads = pit_calloc((size_t)loop->nthreads, sizeof(pthread_t));
    for (int i = 0; i < loop->nthreads; i++) pthread_create(&loop->threads[i], NULL, cq_thread, loop);
    return loop;
}

void pit_cq_loop_wake(pit_cq_loop *loop) {
    /* One ring outstanding is enough: the hook looks at all shared state when it runs. */
    if (atomic_exchange(&loop->bell_pending, 1)) return;
    grpc_channel_watch_connectivity_state(loop->bell, GRPC_CHANNEL_IDLE, gpr_now(GPR_CLOCK_MONOTONIC),
                                          loop->cq, &loop->bell_tag);
}

void pit_cq_loop_join(pit_cq_loop *loop) {
    for (int i = 0; i < loop->nthreads; i++) pthread_join(loop->threads[i], NULL);
    grpc_channel_destroy(loop->bell);
    free(loop->threads);
    free(loop);
}

void pit_cq_run_until(grpc_completion_queue *cq, volatile int *done) {
    while (!*done) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) return;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        pit_tag *tag = ev.tag;
        tag->fn(tag, ev.success);
    }
}
