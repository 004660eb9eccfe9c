/* One client call on its way through the supervisor: queued, then proxied to a worker. */
#ifndef PIT_ROUTER_H
#define PIT_ROUTER_H

#include <stdatomic.h>

#include "request_limits.h"
#include "rpc_client.h"
#include "core/supervisor.h"

/* How an internal call ends: code, the worker's message, and (OK, unary) the response, which it
 * then owns. Runs on a queue thread, without sup->mu, exactly once. */
typedef void (*pit_proxy_done_fn)(pit_proxy *px, grpc_status_code code, const char *details, grpc_byte_buffer *resp);

struct pit_proxy {
    pit_sup *sup;
    pit_pool *pool;
    pit_call *front;         /* the client's call; NULL for an internal call (a job's run) */
    pit_proxy_done_fn on_done; /* internal calls: gets the answer instead of a client */
    void *done_arg;
    grpc_byte_buffer *req;   /* the request, until it is sent to a worker */
    char command[PIT_MAX_NAME_BYTES + 1];
    char *session_id;        /* NULL without a session */
    int streaming;
    int64_t deadline_us;     /* monotonic; INT64_MAX: none */
    char deadline_why[112];  /* which limit deadline_us is, for a DEADLINE_EXCEEDED message */
    int64_t arrived_us;
    int64_t dispatched_us;
    int refs;                /* under sup->mu */

    /* set at dispatch, under sup->mu */
    pit_slot *slot;
    pit_chan *chan;
    uint32_t exits_at_dispatch;
    pid_t pid_at_dispatch;
    int session_reset;

    pit_ccall *cc;           /* the worker call, once stored; NULL again after its last callback */
    pit_ccall *stream_cc;    /* same call, as seen by the stream callbacks */
    int worker_done;
    int cancelled;           /* the client cancelled or its deadline passed */
    int first_chunk_sent;
    /* streams: when the chunk now being handed to the client was sent (0: none in flight); the
     * monitor cancels a stream whose client has read nothing for timeouts.stream_idle_ms */
    _Atomic int64_t send_since_us;
    int idle_cancelled;         /* under sup->mu */
    int drain_cut;              /* its slot drained past graceful_ms: ended UNAVAILABLE (under sup->mu) */
    int shutdown_cut;           /* pitboss stopped and graceful_ms passed: ended ABORTED (under sup->mu) */
    pit_proxy *snext, *sprev;   /* sup->streams, under sup->mu */
    int listed;

    /* queue links (pool FIFO), under sup->mu */
    int queued;
    pit_list qnode; /* in its pool's queue while queued */

    /* waiting to learn how the worker ended, after the worker call failed */
    pit_proxy *wait_next;
    int64_t wait_until_us;
    grpc_status_code worker_code;
    char *worker_details;
};

/* router.c: shutdown, past graceful_ms: every call being proxied is ended ABORTED saying so (not
 * UNAVAILABLE, which retry policies retry even when the call may have run in part). Any thread. */
void pit_router_cut_all(void *sup);

/* proxy.c */
void pit_proxy_dispatch(pit_proxy *px); /* send the request to px->slot (reserved by the router) */
void pit_proxy_release(pit_proxy *px);  /* drop one reference (takes sup->mu) */

/* Ends the call: to its client, or to on_done for an internal call. */
void pit_proxy_finish(pit_proxy *px, grpc_status_code code, const char *details, grpc_byte_buffer *resp,
                      const pit_md *trailing, size_t n_trailing);
void pit_proxy_fail(pit_proxy *px, grpc_status_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* router.c: internal calls (the job manager's runs). req is an ExecuteRequest for pool (owned from
 * here on). Returns the call with one reference for the caller (pit_proxy_release), or NULL when the
 * pool refuses at once: then *code and why say so and on_done never runs. Never calls on_done on
 * this thread. Internal calls skip queue_limit: their number is the caller's to bound. */
pit_proxy *pit_router_submit_internal(pit_sup *sup, pit_pool *pool, const char *command, grpc_byte_buffer *req,
                                      int64_t deadline_us, pit_proxy_done_fn on_done, void *arg,
                                      grpc_status_code *code, char *why, size_t whylen);
/* Cancels a call (internal or not): queued, it leaves the queue; running, the worker is told. */
void pit_router_cancel(pit_proxy *px);

/* router.c, called by proxy.c */
/* Counts the call in the metrics (call it before the answer goes out). */
void pit_router_count_call(pit_proxy *px, grpc_status_code code);
/* The worker call is over: free the slot's place, start queued calls. Takes sup->mu. */
void pit_router_call_done(pit_proxy *px, grpc_status_code code);
/* Finish a call whose worker failed with UNAVAILABLE: name the worker and how it ended, waiting
 * up to a second for its exit to be seen. */
void pit_router_worker_failed(pit_proxy *px, grpc_status_code code, const char *details);
/* Sets sup->next_wake_us from queues and waiters (under sup->mu). */
void pit_router_update_wake_locked(pit_sup *sup);

/* Queue threads: Execute and ExecuteStream; also sets sup->routing (the hooks core calls). */
void pit_router_register(pit_sup *sup);
gpr_timespec pit_router_next_wake(void *sup);
void pit_router_on_wake(void *sup);

#endif
