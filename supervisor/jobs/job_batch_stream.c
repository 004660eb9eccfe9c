/*
 * SubmitBatchStream: circuits come in on one stream while events go out on the same call. Each
 * submission is answered at once with `submitted` (or `error` when refused), and every accepted
 * job later with `completed` (its result) or `error` (failed or canceled, with why). The call
 * ends once the client has closed its side and every accepted job has reported.
 *
 * The stream is a job listener (job_call.c): the manager records each state change under its lock
 * (on_update), and the stream sends its queued events one at a time (flush), outside that lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffers.h"
#include "alloc.h"
#include "jobs/job_call.h"
#include "jobs/job_result.h"
#include "jobs/jobs.h"
#include "jobs.pb-c.h"
#include "jobs/job_options.h"
#include "log.h"
#include "strmap.h"

typedef enum { BEV_SUBMITTED, BEV_COMPLETED, BEV_ERROR } event_kind;

typedef struct event {
    event_kind kind;
    char job_id[40];
    char *request_id;
    uint32_t index;
    char *error;
    int code;
    struct event *next;
} event;

/* An accepted job of this stream: what its events must carry. */
typedef struct job_ref {
    char job_id[40];
    char *request_id;
    uint32_t index;
    int done;
    pit_strmap_node node; /* in the stream's map, keyed by job_id */
} job_ref;

typedef struct {
    pit_job_call c; /* first; c.mu guards everything below */
    pit_jobs *jobs;
    event *head, *tail;
    pit_strmap map; /* of job_ref.node: the jobs this stream accepted */
    /* the submission being handled (set by the receiving thread around pit_jobs_submit) */
    uint32_t cur_index;
    const char *cur_request_id;
    uint32_t next_index;
    int pending; /* accepted jobs that have not reported a final event */
    int client_closed;
} bstream;

static job_ref *map_get(bstream *b, const char *id) {
    pit_strmap_node *n = pit_strmap_get(&b->map, id);
    return n ? pit_strmap_entry(n, job_ref, node) : NULL;
}

static int ref_free(pit_strmap_node *n, void *arg) {
    (void)arg;
    job_ref *r = pit_strmap_entry(n, job_ref, node);
    free(r->request_id);
    free(r);
    return 1;
}

typedef struct {
    char (*ids)[40];
    int n, max;
} pending_ids;

static int ref_pending(pit_strmap_node *n, void *arg) {
    pending_ids *p = arg;
    job_ref *r = pit_strmap_entry(n, job_ref, node);
    if (!r->done && p->n < p->max) memcpy(p->ids[p->n++], r->job_id, sizeof p->ids[0]);
    return 0;
}

static void push_event(bstream *b, event_kind kind, const char *job_id, const char *request_id, uint32_t index,
                       const char *error, int code) {
    event *e = pit_calloc(1, sizeof *e);
    e->kind = kind;
    snprintf(e->job_id, sizeof e->job_id, "%s", job_id ? job_id : "");
    e->request_id = pit_strdup(request_id ? request_id : "");
    e->index = index;
    e->error = error ? pit_strdup(error) : NULL;
    e->code = code;
    if (b->tail) b->tail->next = e; else b->head = e;
    b->tail = e;
}

static void event_free(event *e) {
    free(e->request_id);
    free(e->error);
    free(e);
}

static void bs_free(pit_job_call *c) {
    bstream *b = (bstream *)c;
    while (b->head) {
        event *e = b->head;
        b->head = e->next;
        event_free(e);
    }
    pit_strmap_sweep(&b->map, ref_free, NULL);
    pit_strmap_destroy(&b->map);
}

/* The call ended early (client gone, shutdown): stop listening to the jobs still running, which
 * carry on without it. Their ids are copied first: c.mu is taken under jobs->mu, never around it. */
static void bs_stopped(pit_job_call *c) {
    bstream *b = (bstream *)c;
    pthread_mutex_lock(&b->c.mu);
    pending_ids p = {pit_calloc((size_t)(b->pending > 0 ? b->pending : 1), 40), 0, b->pending};
    pit_strmap_sweep(&b->map, ref_pending, &p);
    pthread_mutex_unlock(&b->c.mu);
    for (int i = 0; i < p.n; i++) pit_jobs_unlisten(b->jobs, p.ids[i], &b->c.l);
    free(p.ids);
}

/* Under jobs->mu. The first update of a job is its acceptance (it runs inside pit_jobs_submit, on
 * the receiving thread, so cur_* name the submission); a final state is its last event. */
static void bs_on_update(pit_job_listener *l, const pit_job_update *u) {
    bstream *b = (bstream *)l;
    pthread_mutex_lock(&b->c.mu);
    job_ref *r = map_get(b, u->job_id);
    if (!r) {
        r = pit_calloc(1, sizeof *r);
        snprintf(r->job_id, sizeof r->job_id, "%s", u->job_id);
        r->request_id = pit_strdup(b->cur_request_id ? b->cur_request_id : "");
        r->index = b->cur_index;
        pit_strmap_put(&b->map, &r->node, r->job_id);
        b->pending++;
        push_event(b, BEV_SUBMITTED, r->job_id, r->request_id, r->index, NULL, 0);
    }
    if (!r->done && pit_job_state_terminal(u->state)) {
        r->done = 1;
        b->pending--;
        if (u->state == JOB_COMPLETED) {
            push_event(b, BEV_COMPLETED, r->job_id, r->request_id, r->index, NULL, 0);
        } else {
            char why[1200];
            snprintf(why, sizeof why, "%s: %.1100s", pit_job_state_name(u->state),
                     u->error ? u->error : (u->state == JOB_CANCELED ? "canceled" : "failed"));
            push_event(b, BEV_ERROR, r->job_id, r->request_id, r->index, why,
                       u->state == JOB_CANCELED ? GRPC_STATUS_CANCELLED : GRPC_STATUS_ABORTED);
        }
    }
    pthread_mutex_unlock(&b->c.mu);
}

/* Sends the next event, or ends the call when nothing more will come. */
static void bs_flush(pit_job_listener *l) {
    bstream *b = (bstream *)l;
    pthread_mutex_lock(&b->c.mu);
    if (b->c.sending || b->c.finished) {
        pthread_mutex_unlock(&b->c.mu);
        return;
    }
    event *e = b->head;
    if (!e) {
        int done = b->client_closed && b->pending == 0;
        if (done) b->c.finished = 1;
        pthread_mutex_unlock(&b->c.mu);
        if (done) pit_job_call_finish(&b->c, GRPC_STATUS_OK, "", NULL);
        return;
    }
    b->head = e->next;
    if (!b->head) b->tail = NULL;
    b->c.sending = 1;
    pthread_mutex_unlock(&b->c.mu);

    Pitboss__V1__BatchJobEvent m = PITBOSS__V1__BATCH_JOB_EVENT__INIT;
    m.job_id = e->job_id;
    m.client_request_id = e->request_id;
    m.index = e->index;
    pit_job_result res;
    int have_res = 0;
    char why[300];
    switch (e->kind) {
    case BEV_SUBMITTED:
        m.event_case = PITBOSS__V1__BATCH_JOB_EVENT__EVENT_SUBMITTED;
        m.submitted = "queued";
        break;
    case BEV_COMPLETED: {
        pit_job j;
        if (pit_job_store_get(pit_jobs_store(b->jobs), e->job_id, &j) == 0 &&
            pit_job_result_parse(&res, j.id, j.result_json) == 0) {
            have_res = 1;
            m.event_case = PITBOSS__V1__BATCH_JOB_EVENT__EVENT_COMPLETED;
            m.completed = &res.msg;
        } else {
            snprintf(why, sizeof why, "job %s completed but its result cannot be read (expired?): use GetJobResult",
                     e->job_id);
            m.event_case = PITBOSS__V1__BATCH_JOB_EVENT__EVENT_ERROR;
            m.error = why;
            m.error_code = GRPC_STATUS_INTERNAL;
        }
        pit_job_clear(&j);
        break;
    }
    case BEV_ERROR:
        m.event_case = PITBOSS__V1__BATCH_JOB_EVENT__EVENT_ERROR;
        m.error = e->error ? e->error : "";
        m.error_code = e->code;
        break;
    }
    grpc_byte_buffer *bb = pit_bb_from_pb(&m.base);
    if (have_res) pit_job_result_clear(&res);
    event_free(e);
    pit_job_call_send(&b->c, bb);
}

static void on_recv(pit_call *call, grpc_byte_buffer *msg, void *arg);

static void recv_next(bstream *b) {
    pit_job_call_ref(&b->c.l);
    if (pit_call_recv(b->c.call, on_recv, b) != 0) {
        pthread_mutex_lock(&b->c.mu);
        b->client_closed = 1;
        pthread_mutex_unlock(&b->c.mu);
        pit_job_call_unref(&b->c.l);
    }
}

static void on_recv(pit_call *call, grpc_byte_buffer *msg, void *arg) {
    (void)call;
    bstream *b = arg;
    if (!msg) {
        pthread_mutex_lock(&b->c.mu);
        b->client_closed = 1;
        pthread_mutex_unlock(&b->c.mu);
        bs_flush(&b->c.l);
        pit_job_call_unref(&b->c.l); /* the receive's */
        return;
    }
    uint32_t index = b->next_index++;
    char bad[256];
    Pitboss__V1__BatchJobSubmission *s = (Pitboss__V1__BatchJobSubmission *)pit_pb_from_bb_checked(
        &pitboss__v1__batch_job_submission__descriptor, msg, bad, sizeof bad);
    grpc_byte_buffer_destroy(msg);
    pthread_mutex_lock(&b->c.mu);
    int stopping = b->c.finished || b->c.stop_requested;
    pthread_mutex_unlock(&b->c.mu);
    if (!s) {
        pthread_mutex_lock(&b->c.mu);
        push_event(b, BEV_ERROR, "", "", index, bad, GRPC_STATUS_INVALID_ARGUMENT);
        pthread_mutex_unlock(&b->c.mu);
    } else if (!stopping) {
        pit_job_spec spec = {s->circuit ? s->circuit->qasm : "", s->backend_id, s->shots,
                             pit_job_seed(s->has_seed, s->seed), s->client_request_id,
                             pit_job_options_from_payload(s->circuit)};
        char id[40], why[1024];
        int dup;
        b->cur_index = index;
        b->cur_request_id = s->client_request_id;
        pit_job_error_type type;
        grpc_status_code code = pit_jobs_submit(b->jobs, &spec, &b->c.l, id, &dup, why, sizeof why, &type);
        free((char *)spec.options);
        b->cur_request_id = NULL;
        if (code != GRPC_STATUS_OK) {
            pthread_mutex_lock(&b->c.mu);
            push_event(b, BEV_ERROR, "", s->client_request_id, index, why, code);
            pthread_mutex_unlock(&b->c.mu);
        }
    }
    if (s) pitboss__v1__batch_job_submission__free_unpacked(s, NULL);
    bs_flush(&b->c.l);
    if (!stopping) recv_next(b);
    pit_job_call_unref(&b->c.l); /* this receive's */
}

static void on_batch_stream(pit_call *call, grpc_byte_buffer *req, void *arg) {
    pit_sup *sup = arg;
    if (req) grpc_byte_buffer_destroy(req);
    bstream *b = pit_calloc(1, sizeof *b);
    pit_strmap_init(&b->map, 64);
    pit_job_call_init(&b->c, call, bs_on_update, bs_flush,
                      "pitboss is shutting down; accepted jobs are kept and run after it restarts: follow them by id");
    b->c.on_free = bs_free;
    b->c.on_stopped = bs_stopped;
    b->jobs = sup->jobs;
    pit_job_call_watch_client(&b->c); /* first: once receiving, another thread may finish the call */
    recv_next(b);
}

void pit_job_batch_stream_register(pit_sup *sup) {
    pit_server_add_streaming_method(sup->server, "/pitboss.v1.Jobs/SubmitBatchStream", on_batch_stream, sup);
}
