/* One client call on its way through the supervisor: queued, then proxied to a worker. */
#ifndef PIT_ROUTER_H
#define PIT_ROUTER_H

#include "rpc_client.h"
#include "supervisor.h"

struct pit_proxy {
    pit_sup *sup;
    pit_pool *pool;
    pit_call *front;         /* the client's call */
    grpc_byte_buffer *req;   /* the request, until it is sent to a worker */
    char command[96];
    char *session_id;        /* NULL without a session */
    int streaming;
    int64_t deadline_us;     /* monotonic; INT64_MAX: none */
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

    /* queue links (pool FIFO), under sup->mu */
    int queued;
    pit_proxy *qprev, *qnext;

    /* waiting to learn how the worker ended, after the worker call failed */
    pit_proxy *wait_next;
    int64_t wait_until_us;
    grpc_status_code worker_code;
    char *worker_details;
};

/* proxy.c */
void pit_proxy_dispatch(pit_proxy *px); /* send the request to px->slot (reserved by the router) */
void pit_proxy_release(pit_proxy *px);  /* drop one reference (takes sup->mu) */

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

#endif
