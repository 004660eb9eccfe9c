/*
 * The Jobs service's unary calls and its two server streams (WatchJob, StreamResults). The
 * bidirectional SubmitBatchStream is in job_batch_stream.c. Everything here talks to the job
 * manager (job_manager.c) and the store; nothing here knows about workers.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "alloc.h"
#include "buffers.h"
#include "clock.h"
#include "jobs/job_call.h"
#include "jobs/job_result.h"
#include "jobs/jobs.h"
#include "jobs.pb-c.h"
#include "jobs/job_options.h"
#include "log.h"
#include "engine/qasm.h"


/* The typed error a client can tell apart from others with the same code. */
static void finish_typed(pit_call *call, grpc_status_code code, pit_job_error_type t, const char *why) {
    const char *type = pit_job_error_type_name(t);
    pit_md md = {PIT_MD_ERROR_TYPE, type, 0};
    pit_call_finish(call, code, why, NULL, type ? &md : NULL, type ? 1 : 0);
}

static void job_not_found(pit_call *call, const char *id) {
    char why[256];
    snprintf(why, sizeof why, "no job \"%.64s\" (unknown id, or it finished longer ago than jobs.retention_s)", id);
    finish_typed(call, GRPC_STATUS_NOT_FOUND, PIT_JOB_ERR_JOB_NOT_FOUND, why);
}

static Pitboss__V1__JobState proto_state(pit_job_state s) { return (Pitboss__V1__JobState)(s + 1); }

/* ---------------------------------------------------------------- submit */

static void spec_from(pit_job_spec *spec, const Pitboss__V1__SubmitJobRequest *r) {
    spec->qasm = r->circuit ? r->circuit->qasm : "";
    spec->backend = r->backend_id;
    spec->shots = r->shots;
    spec->seed = pit_job_seed(r->has_seed, r->seed);
    spec->request_id = r->client_request_id;
    spec->options = pit_job_options_from_payload(r->circuit); /* the caller frees it */
}

static void on_submit(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__SubmitJobRequest *r = pit_call_unpack(call, &pitboss__v1__submit_job_request__descriptor, bb);
    if (!r) return;
    pit_job_spec spec;
    spec_from(&spec, r);
    char id[40], why[1024];
    int dup;
    pit_job_error_type type;
    grpc_status_code code = pit_jobs_submit(sup->jobs, &spec, NULL, id, &dup, why, sizeof why, &type);
    free((char *)spec.options);
    pitboss__v1__submit_job_request__free_unpacked(r, NULL);
    if (code != GRPC_STATUS_OK) {
        finish_typed(call, code, type, why);
        return;
    }
    Pitboss__V1__SubmitJobResponse resp = PITBOSS__V1__SUBMIT_JOB_RESPONSE__INIT;
    resp.job_id = id;
    resp.duplicate = dup;
    pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&resp.base), NULL, 0);
}

static void on_submit_batch(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__SubmitBatchRequest *r = pit_call_unpack(call, &pitboss__v1__submit_batch_request__descriptor, bb);
    if (!r) return;
    const pit_jobs_config *cfg = pit_jobs_config_of(sup->jobs);
    if (r->n_jobs > (size_t)cfg->max_batch) {
        pit_call_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT, "the batch has %zu circuits; at most %lld go in one "
                              "SubmitBatch (jobs.max_batch): split it, or use SubmitBatchStream", r->n_jobs,
                              (long long)cfg->max_batch);
        pitboss__v1__submit_batch_request__free_unpacked(r, NULL);
        return;
    }
    Pitboss__V1__SubmitBatchResponse resp = PITBOSS__V1__SUBMIT_BATCH_RESPONSE__INIT;
    Pitboss__V1__BatchItemResult *items = pit_calloc(r->n_jobs + 1, sizeof *items);
    Pitboss__V1__BatchItemResult **ptrs = pit_calloc(r->n_jobs + 1, sizeof *ptrs);
    char (*ids)[40] = pit_calloc(r->n_jobs + 1, sizeof *ids);
    char **errors = pit_calloc(r->n_jobs + 1, sizeof *errors);
    for (size_t i = 0; i < r->n_jobs; i++) {
        pit_job_spec spec;
        spec_from(&spec, r->jobs[i]);
        char why[1024];
        int dup;
        pit_job_error_type type;
        grpc_status_code code = pit_jobs_submit(sup->jobs, &spec, NULL, ids[i], &dup, why, sizeof why, &type);
        free((char *)spec.options);
        pitboss__v1__batch_item_result__init(&items[i]);
        items[i].index = (uint32_t)i;
        items[i].job_id = ids[i];
        if (code == GRPC_STATUS_OK) {
            resp.accepted++;
            items[i].error = "";
        } else {
            resp.rejected++;
            errors[i] = pit_strdup(why);
            items[i].error = errors[i];
            items[i].error_code = (int32_t)code;
        }
        ptrs[i] = &items[i];
    }
    resp.items = ptrs;
    resp.n_items = r->n_jobs;
    grpc_byte_buffer *out = pit_bb_from_pb(&resp.base);
    for (size_t i = 0; i < r->n_jobs; i++) free(errors[i]);
    free(errors);
    free(ids);
    free(ptrs);
    free(items);
    pitboss__v1__submit_batch_request__free_unpacked(r, NULL);
    pit_call_finish(call, GRPC_STATUS_OK, "", out, NULL, 0);
}

/* ---------------------------------------------------------------- status, result, cancel, list */

static void job_to_proto(const pit_job *j, Pitboss__V1__Job *out) {
    pitboss__v1__job__init(out);
    out->job_id = (char *)j->id;
    out->state = proto_state(j->state);
    out->backend_id = (char *)j->backend;
    out->shots = (uint32_t)j->shots;
    out->submitted_at_us = j->submitted_us;
    out->started_at_us = j->started_us;
    out->completed_at_us = j->completed_us;
    out->error_message = j->error ? j->error : "";
    out->attempts = (uint32_t)j->attempts;
    out->client_request_id = (char *)j->request_id;
}

static void on_status(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__GetJobStatusRequest *r = pit_call_unpack(call, &pitboss__v1__get_job_status_request__descriptor, bb);
    if (!r) return;
    pit_job j;
    if (pit_job_store_get(pit_jobs_store(sup->jobs), r->job_id, &j) != 0) {
        job_not_found(call, r->job_id);
    } else {
        Pitboss__V1__Job m;
        job_to_proto(&j, &m);
        pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&m.base), NULL, 0);
        pit_job_clear(&j);
    }
    pitboss__v1__get_job_status_request__free_unpacked(r, NULL);
}

static void on_result(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__GetJobResultRequest *r = pit_call_unpack(call, &pitboss__v1__get_job_result_request__descriptor, bb);
    if (!r) return;
    pit_job j;
    if (pit_job_store_get(pit_jobs_store(sup->jobs), r->job_id, &j) != 0) {
        job_not_found(call, r->job_id);
    } else if (j.state != JOB_COMPLETED) {
        char why[1300];
        if (pit_job_state_terminal(j.state))
            snprintf(why, sizeof why, "job %s has no result: it is %s%s%.1000s", j.id, pit_job_state_name(j.state),
                     j.error ? ": " : "", j.error ? j.error : "");
        else
            snprintf(why, sizeof why, "job %s is %s: its result is not there yet (wait for it with WatchJob or "
                     "wait_for_job)", j.id, pit_job_state_name(j.state));
        finish_typed(call, GRPC_STATUS_FAILED_PRECONDITION, PIT_JOB_ERR_NOT_COMPLETED, why);
        pit_job_clear(&j);
    } else {
        pit_job_result res;
        if (pit_job_result_parse(&res, j.id, j.result_json) != 0) {
            pit_call_finish_error(call, GRPC_STATUS_INTERNAL, "job %s: its stored result cannot be read", j.id);
        } else {
            pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&res.msg.base), NULL, 0);
            pit_job_result_clear(&res);
        }
        pit_job_clear(&j);
    }
    pitboss__v1__get_job_result_request__free_unpacked(r, NULL);
}

static void on_cancel_job(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__CancelJobRequest *r = pit_call_unpack(call, &pitboss__v1__cancel_job_request__descriptor, bb);
    if (!r) return;
    int canceled;
    pit_job_state st = JOB_CANCELED;
    if (pit_jobs_cancel(sup->jobs, r->job_id, &canceled, &st) != GRPC_STATUS_OK) {
        job_not_found(call, r->job_id);
    } else {
        char msg[160];
        Pitboss__V1__CancelJobResponse resp = PITBOSS__V1__CANCEL_JOB_RESPONSE__INIT;
        resp.canceled = canceled;
        resp.state = proto_state(st);
        snprintf(msg, sizeof msg, canceled ? "job canceled" : "job had already finished: %s", pit_job_state_name(st));
        resp.message = msg;
        pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&resp.base), NULL, 0);
    }
    pitboss__v1__cancel_job_request__free_unpacked(r, NULL);
}

static void on_list_jobs(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__ListJobsRequest *r = pit_call_unpack(call, &pitboss__v1__list_jobs_request__descriptor, bb);
    if (!r) return;
    size_t limit = r->limit ? r->limit : 50;
    if (limit > 10000) limit = 10000;
    int state = r->state ? (int)r->state - 1 : -1;
    pit_job *jobs = pit_calloc(limit, sizeof *jobs);
    size_t n = pit_job_store_list(pit_jobs_store(sup->jobs), state, jobs, limit);
    Pitboss__V1__Job *msgs = pit_calloc(n + 1, sizeof *msgs);
    Pitboss__V1__Job **ptrs = pit_calloc(n + 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        job_to_proto(&jobs[i], &msgs[i]);
        ptrs[i] = &msgs[i];
    }
    Pitboss__V1__ListJobsResponse resp = PITBOSS__V1__LIST_JOBS_RESPONSE__INIT;
    resp.jobs = ptrs;
    resp.n_jobs = n;
    pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&resp.base), NULL, 0);
    for (size_t i = 0; i < n; i++) pit_job_clear(&jobs[i]);
    free(jobs);
    free(msgs);
    free(ptrs);
    pitboss__v1__list_jobs_request__free_unpacked(r, NULL);
}

/* ---------------------------------------------------------------- backends */

typedef struct {
    pit_call *call;
    pit_jobs *jobs;
    pthread_mutex_t mu;
    int pending;
    int single; /* GetBackendInfo: answer one BackendInfo, not a list */
    int first;  /* index of the first backend asked about */
    int n;
    char **infos;
    char **whys;
} backends_req;

static void fill_backend(pit_jobs *jobs, pit_backend *b, const char *info_json, const char *why, Pitboss__V1__BackendInfo *m,
                         json_t **keep) {
    pitboss__v1__backend_info__init(m);
    m->backend_id = b->id;
    m->pool = (char *)b->pool->cfg->name;
    m->is_available = pit_jobs_backend_available(jobs, b);
    m->max_qubits = (uint32_t)b->pool->cfg->max_qubits;
    m->max_shots = (uint64_t)b->pool->cfg->max_shots;
    json_t *info = info_json ? json_loads(info_json, 0, NULL) : NULL;
    *keep = info;
    const char *const *names = qasm_gate_names();
    size_t n_gates = 0;
    while (names[n_gates]) n_gates++;
    if (info) {
        m->name = (char *)json_string_value(json_object_get(info, "name"));
        m->version = (char *)json_string_value(json_object_get(info, "version"));
        m->description = (char *)json_string_value(json_object_get(info, "description"));
        json_t *mq = json_object_get(info, "max_qubits"), *ms = json_object_get(info, "max_shots");
        if (json_is_integer(mq)) m->max_qubits = (uint32_t)json_integer_value(mq);
        if (json_is_integer(ms)) m->max_shots = (uint64_t)json_integer_value(ms);
        json_t *gates = json_object_get(info, "gates");
        if (json_is_array(gates)) {
            m->n_supported_gates = json_array_size(gates);
            m->supported_gates = pit_calloc(m->n_supported_gates + 1, sizeof(char *));
            for (size_t i = 0; i < m->n_supported_gates; i++)
                m->supported_gates[i] = (char *)json_string_value(json_array_get(gates, i));
        }
    } else {
        m->is_available = 0;
        m->name = "pitboss-statevector";
        static __thread char desc[700];
        snprintf(desc, sizeof desc, "the pool could not describe its simulator: %.600s", why ? why : "no answer");
        m->description = desc;
        m->n_supported_gates = n_gates;
        m->supported_gates = pit_calloc(n_gates + 1, sizeof(char *));
        for (size_t i = 0; i < n_gates; i++) m->supported_gates[i] = (char *)names[i];
    }
    if (!m->name) m->name = "";
    if (!m->version) m->version = "";
    if (!m->description) m->description = "";
}

static void backends_answer(backends_req *q) {
    Pitboss__V1__BackendInfo *msgs = pit_calloc((size_t)q->n + 1, sizeof *msgs);
    Pitboss__V1__BackendInfo **ptrs = pit_calloc((size_t)q->n + 1, sizeof *ptrs);
    json_t **keep = pit_calloc((size_t)q->n + 1, sizeof *keep);
    for (int i = 0; i < q->n; i++) {
        fill_backend(q->jobs, pit_jobs_backend(q->jobs, q->first + i), q->infos[i], q->whys[i], &msgs[i], &keep[i]);
        ptrs[i] = &msgs[i];
    }
    grpc_byte_buffer *out;
    if (q->single) {
        out = pit_bb_from_pb(&msgs[0].base);
    } else {
        Pitboss__V1__ListBackendsResponse resp = PITBOSS__V1__LIST_BACKENDS_RESPONSE__INIT;
        resp.backends = ptrs;
        resp.n_backends = (size_t)q->n;
        out = pit_bb_from_pb(&resp.base);
    }
    pit_call_finish(q->call, GRPC_STATUS_OK, "", out, NULL, 0);
    for (int i = 0; i < q->n; i++) {
        free(msgs[i].supported_gates);
        if (keep[i]) json_decref(keep[i]);
        free(q->infos[i]);
        free(q->whys[i]);
    }
    free(keep);
    free(msgs);
    free(ptrs);
    free(q->infos);
    free(q->whys);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

typedef struct {
    backends_req *q;
    int i;
} backends_part;

static void backends_part_done(backends_req *q) {
    pthread_mutex_lock(&q->mu);
    int left = --q->pending;
    pthread_mutex_unlock(&q->mu);
    if (left == 0) backends_answer(q);
}

static void on_backend_info(void *arg, const char *info_json, const char *why) {
    backends_part *p = arg;
    backends_req *q = p->q;
    q->infos[p->i] = info_json ? pit_strdup(info_json) : NULL;
    q->whys[p->i] = why ? pit_strdup(why) : NULL;
    free(p);
    backends_part_done(q);
}

static void ask_backends(pit_sup *sup, pit_call *call, int first, int n, int single) {
    backends_req *q = pit_calloc(1, sizeof *q);
    q->call = call;
    q->jobs = sup->jobs;
    q->single = single;
    q->first = first;
    q->n = n;
    q->infos = pit_calloc((size_t)n + 1, sizeof *q->infos);
    q->whys = pit_calloc((size_t)n + 1, sizeof *q->whys);
    q->pending = n + 1; /* +1 until every question is asked */
    pthread_mutex_init(&q->mu, NULL);
    for (int i = 0; i < n; i++) {
        backends_part *p = pit_malloc(sizeof *p);
        *p = (backends_part){q, i};
        pit_jobs_backend_info(sup->jobs, pit_jobs_backend(sup->jobs, first + i), on_backend_info, p);
    }
    backends_part_done(q);
}

static void on_list_backends(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__ListBackendsRequest *r = pit_call_unpack(call, &pitboss__v1__list_backends_request__descriptor, bb);
    if (!r) return;
    pitboss__v1__list_backends_request__free_unpacked(r, NULL);
    ask_backends(sup, call, 0, pit_jobs_n_backends(sup->jobs), 0);
}

static void on_backend(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__GetBackendInfoRequest *r = pit_call_unpack(call, &pitboss__v1__get_backend_info_request__descriptor, bb);
    if (!r) return;
    pit_backend *b = r->backend_id[0] ? pit_jobs_find_backend(sup->jobs, r->backend_id) : NULL;
    if (!b) {
        char names[512], why[800];
        pit_jobs_backend_names(sup->jobs, names, sizeof names);
        snprintf(why, sizeof why, "unknown backend \"%.100s\" (backends: %s)", r->backend_id, names);
        finish_typed(call, GRPC_STATUS_NOT_FOUND, PIT_JOB_ERR_BACKEND_NOT_FOUND, why);
    } else {
        int i = 0;
        while (pit_jobs_backend(sup->jobs, i) != b) i++;
        ask_backends(sup, call, i, 1, 1);
    }
    pitboss__v1__get_backend_info_request__free_unpacked(r, NULL);
}

/* ---------------------------------------------------------------- WatchJob */

#define WATCH_QUEUE 16

typedef struct {
    pit_job_call c; /* first; c.mu guards the fields below */
    pit_jobs *jobs;
    char job_id[40];
    struct {
        pit_job_state state;
        int64_t at_us;
        char *error;
    } q[WATCH_QUEUE];
    int q_head, q_len;
    int have_last;
    pit_job_state last;
} watcher;

static void watcher_free(pit_job_call *c) {
    watcher *w = (watcher *)c;
    for (int i = 0; i < w->q_len; i++) free(w->q[(w->q_head + i) % WATCH_QUEUE].error);
}

static void watcher_stopped(pit_job_call *c) {
    watcher *w = (watcher *)c;
    pit_jobs_unlisten(w->jobs, w->job_id, &c->l);
}

/* Under jobs->mu: record the change unless it repeats the last one. */
static void watcher_on_update(pit_job_listener *l, const pit_job_update *u) {
    watcher *w = (watcher *)l;
    pthread_mutex_lock(&w->c.mu);
    if (!(w->have_last && w->last == u->state)) {
        int k;
        if (w->q_len < WATCH_QUEUE) {
            k = (w->q_head + w->q_len++) % WATCH_QUEUE;
        } else { /* a reader this far behind gets the newest state in place of the last one it missed */
            k = (w->q_head + w->q_len - 1) % WATCH_QUEUE;
            free(w->q[k].error);
        }
        w->q[k].state = u->state;
        w->q[k].at_us = u->at_us;
        w->q[k].error = u->error ? pit_strdup(u->error) : NULL;
        w->have_last = 1;
        w->last = u->state;
    }
    pthread_mutex_unlock(&w->c.mu);
}

/* Sends the next recorded change, if no send is in flight; the final state ends the call. */
static void watcher_flush(pit_job_listener *l) {
    watcher *w = (watcher *)l;
    pthread_mutex_lock(&w->c.mu);
    if (w->c.sending || w->c.finished || w->q_len == 0) {
        pthread_mutex_unlock(&w->c.mu);
        return;
    }
    int k = w->q_head;
    w->q_head = (w->q_head + 1) % WATCH_QUEUE;
    w->q_len--;
    int last = pit_job_state_terminal(w->q[k].state);
    Pitboss__V1__JobStatusUpdate m = PITBOSS__V1__JOB_STATUS_UPDATE__INIT;
    m.job_id = w->job_id;
    m.state = proto_state(w->q[k].state);
    m.timestamp_us = w->q[k].at_us;
    m.error_message = w->q[k].error ? w->q[k].error : "";
    grpc_byte_buffer *bb = pit_bb_from_pb(&m.base);
    free(w->q[k].error);
    w->q[k].error = NULL;
    if (last)
        w->c.finished = 1;
    else
        w->c.sending = 1;
    pthread_mutex_unlock(&w->c.mu);
    if (last)
        pit_job_call_finish(&w->c, GRPC_STATUS_OK, "", bb);
    else
        pit_job_call_send(&w->c, bb);
}

static void on_watch(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__WatchJobRequest *r = pit_call_unpack(call, &pitboss__v1__watch_job_request__descriptor, bb);
    if (!r) return;
    watcher *w = pit_calloc(1, sizeof *w);
    pit_job_call_init(&w->c, call, watcher_on_update, watcher_flush,
                      "pitboss is shutting down; the job is kept: watch it again once pitboss is back");
    w->c.on_free = watcher_free;
    w->c.on_stopped = watcher_stopped;
    w->jobs = sup->jobs;
    snprintf(w->job_id, sizeof w->job_id, "%s", r->job_id);
    if (pit_jobs_listen(sup->jobs, r->job_id, &w->c.l) < 0) {
        w->c.finished = 1;
        job_not_found(call, r->job_id);
        pit_job_call_unref(&w->c.l);
    } else {
        pit_job_call_watch_client(&w->c); /* before the flush, which may drop the last other reference */
        watcher_flush(&w->c.l);           /* the state now; for a finished job that also ends the call */
    }
    pitboss__v1__watch_job_request__free_unpacked(r, NULL);
}

/* ---------------------------------------------------------------- StreamResults */

typedef struct {
    pit_call *call;
    pit_job_result res; /* entries sorted by outcome */
    size_t chunk, pos;
    uint32_t index, total;
} results_stream;

static void results_free(results_stream *s) {
    pit_job_result_clear(&s->res);
    free(s);
}

static void results_send_next(results_stream *s);

static void on_results_sent(pit_call *call, int ok, void *arg) {
    results_stream *s = arg;
    if (!ok) {
        pit_call_finish(call, GRPC_STATUS_CANCELLED, "the client left", NULL, NULL, 0);
        results_free(s);
        return;
    }
    results_send_next(s);
}

static void results_send_next(results_stream *s) {
    size_t n = s->res.msg.n_counts - s->pos;
    if (n > s->chunk) n = s->chunk;
    Pitboss__V1__ResultChunk m = PITBOSS__V1__RESULT_CHUNK__INIT;
    m.job_id = s->res.msg.job_id;
    /* The two map entry types are the same message (key 1 string, value 2 uint64): same encoding. */
    m.counts = (Pitboss__V1__ResultChunk__CountsEntry **)(s->res.msg.counts + s->pos);
    m.n_counts = n;
    m.chunk_index = s->index;
    m.total_chunks = s->total;
    m.is_final = s->index + 1 == s->total;
    m.total_entries = (uint32_t)s->res.msg.n_counts;
    m.shots = s->res.msg.shots;
    grpc_byte_buffer *bb = pit_bb_from_pb(&m.base);
    s->pos += n;
    s->index++;
    if (m.is_final) {
        pit_call_finish(s->call, GRPC_STATUS_OK, "", bb, NULL, 0);
        results_free(s);
    } else {
        pit_call_send(s->call, bb, on_results_sent, s);
    }
}

static void on_stream_results(pit_call *call, grpc_byte_buffer *bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__StreamResultsRequest *r = pit_call_unpack(call, &pitboss__v1__stream_results_request__descriptor, bb);
    if (!r) return;
    pit_job j;
    if (pit_job_store_get(pit_jobs_store(sup->jobs), r->job_id, &j) != 0) {
        job_not_found(call, r->job_id);
    } else if (j.state != JOB_COMPLETED) {
        char why[300];
        snprintf(why, sizeof why, "job %s is %s: only a completed job has results to stream", j.id,
                 pit_job_state_name(j.state));
        finish_typed(call, GRPC_STATUS_FAILED_PRECONDITION, PIT_JOB_ERR_NOT_COMPLETED, why);
        pit_job_clear(&j);
    } else {
        results_stream *s = pit_calloc(1, sizeof *s);
        s->call = call;
        s->chunk = r->chunk_size ? r->chunk_size : 1000;
        if (pit_job_result_parse(&s->res, j.id, j.result_json) != 0) {
            pit_call_finish_error(call, GRPC_STATUS_INTERNAL, "job %s: its stored result cannot be read", j.id);
            free(s);
        } else {
            pit_job_result_sort(&s->res);
            size_t n = s->res.msg.n_counts;
            s->total = n ? (uint32_t)((n + s->chunk - 1) / s->chunk) : 1;
            results_send_next(s);
        }
        pit_job_clear(&j);
    }
    pitboss__v1__stream_results_request__free_unpacked(r, NULL);
}

/* ---------------------------------------------------------------- registration */

void pit_job_rpc_shutdown(pit_sup *sup) {
    (void)sup;
    pit_job_calls_stop_all(); /* watchers and batch streams alike */
}

void pit_job_rpc_register(pit_sup *sup) {
    pit_server *s = sup->server;
    pit_server_add_method(s, "/pitboss.v1.Jobs/SubmitJob", on_submit, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/SubmitBatch", on_submit_batch, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/GetJobStatus", on_status, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/GetJobResult", on_result, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/CancelJob", on_cancel_job, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/ListBackends", on_list_backends, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/GetBackendInfo", on_backend, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/WatchJob", on_watch, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/StreamResults", on_stream_results, sup);
    pit_server_add_method(s, "/pitboss.v1.Jobs/ListJobs", on_list_jobs, sup);
}
