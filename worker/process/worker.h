/* One worker process: its identity, its commands, its counters. */
#ifndef PIT_WORKER_H
#define PIT_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "process/command.h"
#include "rpc_server.h"
#include "work_pool.h"

typedef struct {
    int port;
    const char *pool; /* --pool and --slot: filled into every answer's WorkerRef, so that the supervisor */
    int slot;         /* passes answers on as they are, with one WorkerRef (not a second to merge) */
    const char *kind; /* "native" or "python" */
    int max_concurrency;
    int64_t started_us;
    const pit_command *const *commands;
    size_t n_commands;
    pit_work_pool *threads; /* where commands that block run */
    /* Session state held by the worker (Python's ctx.session); NULL for kinds that keep none. */
    int (*close_session)(const char *session_id);
    /* Commands may run on a queue thread while this is > 0 (taken and given back per call). The
     * process runs one queue thread more than it allows here, so one always keeps serving. */
    atomic_int inline_slots;

    atomic_uint in_flight;
    atomic_int events_fd; /* the --ready-fd pipe after READY, for ENDED lines (protocol.h); -1: none */
    atomic_ullong served;
    atomic_ullong cancelled;
    atomic_ullong chunks_sent;
} pit_worker;

const pit_command *pit_worker_find_command(const pit_worker *w, const char *name);

/* Registers the Pool and Health services on the server. */
void pit_worker_service_register(pit_worker *w, pit_server *server);

/* Runs cmd for the call (inline when quick and unary, else on the worker's threads) and finishes
 * the call. Takes ownership of req and args. */
struct Pitboss__V1__ExecuteRequest;
void pit_cmd_start(pit_worker *w, pit_call *call, const pit_command *cmd, struct Pitboss__V1__ExecuteRequest *req,
                   json_t *args, int streaming_call);

#endif
