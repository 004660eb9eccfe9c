/*
 * The job manager: quantum jobs kept in the durable store (job_store.c) and run as run_circuit
 * calls on a native pool through the router, so backpressure, health and restarts apply to them.
 *
 * A job is QUEUED in the manager's FIFO, then RUNNING as one internal router call; its answer
 * completes it, a dead worker requeues it (up to jobs.max_attempts), anything else fails it.
 * Listeners (WatchJob, SubmitBatchStream) hear every state change as it happens.
 *
 * Locking: jobs->mu guards the tables below and is taken before sup->mu, never after; no pit_call_*
 * runs under it (a call's cancel hook may take a listener's lock, never jobs->mu).
 */
#ifndef PIT_JOBS_H
#define PIT_JOBS_H

#include <grpc/grpc.h>
#include <stdint.h>

#include "jobs/job_store.h"
#include "core/supervisor.h"

typedef struct pit_jobs pit_jobs;

/* One backend: a native pool as the job API sees it. */
typedef struct {
    char id[64];
    pit_pool *pool;
    int running;            /* under jobs->mu */
    int max_running;
    char *info_json;        /* the pool's backend_info answer, once fetched (under jobs->mu) */
} pit_backend;

/* A state change, as listeners hear it. */
typedef struct {
    const char *job_id;
    pit_job_state state;
    int64_t at_us;          /* wall clock */
    const char *error;      /* FAILED/CANCELED: why; else NULL */
} pit_job_update;

/* Hears a job's state changes. on_update runs under jobs->mu: it may only record the update (under
 * its own lock). flush runs after jobs->mu is released, to act (send). ref/unref keep it alive
 * between the two. */
typedef struct pit_job_listener pit_job_listener;
struct pit_job_listener {
    void (*on_update)(pit_job_listener *l, const pit_job_update *u);
    void (*flush)(pit_job_listener *l);
    void (*ref)(pit_job_listener *l);
    void (*unref)(pit_job_listener *l);
};

/* A request's seed as a spec's: the whole range 0..2^63-1 is kept (it was masked to 62 bits, so
 * 2^62 + 5 ran as 5); 2^63 and above cannot be stored and are refused. */
#define PIT_JOB_SEED_TOO_LARGE (-2)
static inline int64_t pit_job_seed(int has_seed, uint64_t seed) {
    if (!has_seed) return -1;
    return seed > (uint64_t)INT64_MAX ? PIT_JOB_SEED_TOO_LARGE : (int64_t)seed;
}

/* What a submit asks for. */
typedef struct {
    const char *qasm;
    const char *backend;    /* "" or NULL: the first backend */
    uint64_t shots;         /* 0: 1024 */
    int64_t seed;           /* -1: none; PIT_JOB_SEED_TOO_LARGE: refused by submit */
    const char *request_id; /* "" or NULL: none */
    const char *options;    /* run options as JSON (job_options.h), or NULL */
} pit_job_spec;

/* Opens the store (recovering jobs a killed supervisor left running) and requeues what was queued.
 * NULL with why in err. */
pit_jobs *pit_jobs_create(pit_sup *sup, char *err, size_t errlen);
/* Starts the queued jobs; from the libev thread once the server runs. Also arms retention expiry. */
void pit_jobs_start(pit_jobs *jobs);
/* Stops dispatching; ends listeners' calls (UNAVAILABLE: the job goes on after a restart). */
void pit_jobs_shutdown(pit_jobs *jobs);
/* After the workers stopped: calls off runs still waiting in a pool's queue (their jobs stay
 * RUNNING in the store and run again after a restart). The queue threads must still run. */
void pit_jobs_cancel_runs(pit_jobs *jobs);
void pit_jobs_destroy(pit_jobs *jobs);

/* A refusal's type, as clients tell it apart from others with the same code: set where the refusal
 * is made, sent as x-pitboss-error-type (protocol.h), never read back from the message. */
typedef enum {
    PIT_JOB_ERR_NONE = 0,          /* no type beyond the code */
    PIT_JOB_ERR_JOB_NOT_FOUND,     /* "JobNotFound" */
    PIT_JOB_ERR_BACKEND_NOT_FOUND, /* "BackendNotFound" */
    PIT_JOB_ERR_INVALID_CIRCUIT,   /* "InvalidCircuit": the circuit does not parse, or is too large */
    PIT_JOB_ERR_INVALID_ARGUMENTS, /* "InvalidArguments": shots, seed, a missing circuit */
    PIT_JOB_ERR_QUEUE_FULL,        /* "QueueFull": jobs.max_queued_jobs */
    PIT_JOB_ERR_NOT_COMPLETED,     /* "JobNotCompleted": a result asked of an unfinished job */
} pit_job_error_type;
/* The metadata value; NULL for PIT_JOB_ERR_NONE. */
const char *pit_job_error_type_name(pit_job_error_type t);

/* Validates and queues. Returns GRPC_STATUS_OK with the id in job_id (*duplicate set when the
 * request id was seen before), or the refusal's code with why and *type. If listener is given it is
 * added to the new job atomically with its creation (it hears every change from QUEUED on). */
grpc_status_code pit_jobs_submit(pit_jobs *jobs, const pit_job_spec *spec, pit_job_listener *listener, char job_id[40],
                                 int *duplicate, char *why, size_t whylen, pit_job_error_type *type);
/* Cancels a queued or running job. OK (canceled 1, or 0 when it had already finished, with its
 * state in *state), or NOT_FOUND. */
grpc_status_code pit_jobs_cancel(pit_jobs *jobs, const char *job_id, int *canceled, pit_job_state *state);
/* Adds a listener to a job: *current gets its state now (recorded into the listener first, under
 * the same lock, so no change is missed or reordered). Returns 0; 1 when the job has already
 * finished (nothing is added; *current says how it ended); -1 when there is no such job. */
int pit_jobs_listen(pit_jobs *jobs, const char *job_id, pit_job_listener *l);
/* Removes a listener (a watcher whose client left). */
void pit_jobs_unlisten(pit_jobs *jobs, const char *job_id, pit_job_listener *l);

pit_job_store *pit_jobs_store(pit_jobs *jobs);
int pit_jobs_n_backends(pit_jobs *jobs);
pit_backend *pit_jobs_backend(pit_jobs *jobs, int i);
pit_backend *pit_jobs_find_backend(pit_jobs *jobs, const char *id); /* "" or NULL: the first */
/* "simulator, gpu" for messages. */
void pit_jobs_backend_names(pit_jobs *jobs, char *buf, size_t len);
const pit_jobs_config *pit_jobs_config_of(pit_jobs *jobs);
/* Fetches (once) a backend's backend_info from its pool; done runs on a queue thread, or here when
 * it is already known. info_json is NULL when the pool could not answer (why says so). */
void pit_jobs_backend_info(pit_jobs *jobs, pit_backend *b, void (*done)(void *arg, const char *info_json, const char *why),
                           void *arg);
int pit_jobs_backend_available(pit_jobs *jobs, pit_backend *b);

/* Prometheus text for the job metrics (appended through put). */
void pit_jobs_render_metrics(pit_jobs *jobs, void (*put)(void *t, const char *line), void *t);

/* job_rpc.c and job_batch_stream.c: the Jobs service. */
void pit_job_rpc_register(pit_sup *sup);
void pit_job_batch_stream_register(pit_sup *sup);
/* Finishes every open WatchJob/SubmitBatchStream call (shutdown). */
void pit_job_rpc_shutdown(pit_sup *sup);

#endif
