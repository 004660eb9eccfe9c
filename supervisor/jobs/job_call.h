/*
 * A long-lived Jobs call driven by job state changes (WatchJob, SubmitBatchStream): a job listener
 * with one send in flight, a reference count, and a place in the list of open calls that shutdown
 * ends. The owner embeds it first in its own struct and guards its own fields with c->mu too.
 */
#ifndef PIT_JOB_CALL_H
#define PIT_JOB_CALL_H

#include <stdatomic.h>

#include "jobs/jobs.h"

typedef struct pit_job_call pit_job_call;
struct pit_job_call {
    pit_job_listener l; /* first: the manager sees a listener */
    pit_call *call;
    atomic_int refs;
    pthread_mutex_t mu; /* never held across pit_call_* */
    int sending;        /* a send is in flight */
    int finished;       /* pit_call_finish was called (or is about to be) */
    int stop_requested; /* shutdown or client gone: finish once the send in flight is over */
    const char *stop_message;              /* the status message when shutdown ends the call */
    void (*on_stopped)(pit_job_call *c);   /* the call ended early (client gone, shutdown); may be NULL */
    void (*on_free)(pit_job_call *c);      /* frees the owner's fields (not c itself) */
    pit_job_call *prev, *next;
};

/* Sets up c (one reference: the call's, dropped when the call is finished) and lists it as open. */
void pit_job_call_init(pit_job_call *c, pit_call *call, void (*on_update)(pit_job_listener *, const pit_job_update *),
                       void (*flush)(pit_job_listener *), const char *stop_message);
/* Once the owner has set c up: if the client leaves (cancel, deadline, broken connection), the call
 * ends then, with on_stopped, rather than at the job's next change. */
void pit_job_call_watch_client(pit_job_call *c);
void pit_job_call_ref(pit_job_listener *l);
void pit_job_call_unref(pit_job_listener *l);

/* Sends msg (c->sending must have been set under c->mu); when it completes, c->sending is cleared
 * and, unless the call ended, c->l.flush runs again. */
void pit_job_call_send(pit_job_call *c, grpc_byte_buffer *msg);
/* Ends the call with its last message (c->finished must have been set under c->mu) and drops the
 * call's reference. */
void pit_job_call_finish(pit_job_call *c, grpc_status_code code, const char *details, grpc_byte_buffer *last);

/* How many such calls are held (open, or ended and waiting for their jobs' last change). */
int pit_job_calls_open(void);
/* Shutdown: ends every open call with UNAVAILABLE and its stop message. */
void pit_job_calls_stop_all(void);

#endif
