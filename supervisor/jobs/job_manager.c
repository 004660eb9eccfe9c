/*
 * The job manager (see jobs.h): the in-memory side of the jobs the store keeps. Unfinished jobs
 * live here as entries (a hash by id, and a FIFO of the queued ones); finished jobs live only in
 * the store. Every state change is written to the store first, then told to the job's listeners,
 * both under jobs->mu, so the store, the entries and what listeners hear always agree.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buffers.h"
#include "alloc.h"
#include "clock.h"
#include "jobs/job_call.h"
#include "jobs/job_options.h"
#include "jobs/job_policy.h"
#include "jobs/jobs.h"
#include "histogram.h"
#include "list.h"
#include "strmap.h"
#include "log.h"
#include "pitboss.pb-c.h"
#include "engine/qasm.h"
#include "routing/router.h"

static const double job_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const pit_histogram_bounds job_buckets = {job_le, sizeof job_le / sizeof job_le[0]}; /* seconds */

typedef struct job_entry job_entry;
struct job_entry {
    char id[40];
    pit_backend *backend;
    pit_job_state state;
    char *qasm;
    char *options; /* run options as JSON, or NULL */
    uint64_t shots;
    int64_t seed;
    int64_t queued_mono_us;  /* for the queue-wait histogram */
    int64_t started_mono_us; /* for the duration histogram */
    pit_proxy *px;           /* the running call (one reference held), or NULL */
    int run_active;          /* a run was dispatched and has not ended */
    unsigned run_gen;        /* +1 per run: a late dispatcher knows its run from a later one */
    int refs;                /* the table's, a dispatcher's, a running call's */
    int in_table;
    pit_job_listener **listeners;
    int n_listeners, cap_listeners;
    pit_strmap_node hnode; /* in jobs->table while in_table, keyed by id */
    pit_list qnode; /* in jobs->queue while queued */
    int queued;
};

typedef struct {
    uint64_t submitted, ended[5]; /* ended by final state */
    pit_histogram duration, queue_wait;
} backend_stats;

struct pit_jobs {
    pit_sup *sup;
    pit_job_store *store;
    const pit_jobs_config *cfg;
    pthread_mutex_t mu;
    pit_backend *backends;
    backend_stats *stats;
    int n_backends;
    pit_strmap table; /* of job_entry.hnode: every job the manager holds */
    pit_list queue; /* of job_entry.qnode: QUEUED jobs, oldest first (requeued ones at the front) */
    int64_t n_queued, n_running;
    int stopping;
    ev_timer expire_w;
};

/* ---------------------------------------------------------------- small parts */

static job_entry *lookup(pit_jobs *jobs, const char *id) {
    pit_strmap_node *n = pit_strmap_get(&jobs->table, id);
    return n ? pit_strmap_entry(n, job_entry, hnode) : NULL;
}

static void table_add(pit_jobs *jobs, job_entry *e) {
    pit_strmap_put(&jobs->table, &e->hnode, e->id);
    e->in_table = 1;
    e->refs++;
}

/* Not inlined: GCC then follows one reference's drop into another's and reports a use after free
 * that the reference count rules out (-Wuse-after-free). */
__attribute__((noinline)) static void entry_unref_locked(job_entry *e) {
    if (--e->refs) return;
    free(e->qasm);
    free(e->options);
    free(e->listeners);
    free(e);
}

static void table_remove(pit_jobs *jobs, job_entry *e) {
    if (!e->in_table) return;
    pit_strmap_remove(&jobs->table, &e->hnode);
    e->in_table = 0;
    entry_unref_locked(e);
}

static void queue_push(pit_jobs *jobs, job_entry *e, int front) {
    e->queued = 1;
    if (front)
        pit_list_push_front(&jobs->queue, &e->qnode);
    else
        pit_list_push_back(&jobs->queue, &e->qnode);
    jobs->n_queued++;
}

static void queue_remove(pit_jobs *jobs, job_entry *e) {
    pit_list_remove(&e->qnode);
    e->queued = 0;
    jobs->n_queued--;
}

static void observe(pit_histogram *h, double seconds) { pit_histogram_observe(h, &job_buckets, seconds); }

static backend_stats *stats_of(pit_jobs *jobs, pit_backend *b) { return &jobs->stats[b - jobs->backends]; }

/* ---------------------------------------------------------------- listeners */

/* Listeners to flush once jobs->mu is released. */
typedef struct {
    pit_job_listener *l[64];
    int n;
    pit_job_listener **more; /* past 64 */
    int n_more, cap_more;
} flush_list;

static void flush_add(flush_list *f, pit_job_listener *l) {
    l->ref(l);
    if (f->n < 64) {
        f->l[f->n++] = l;
        return;
    }
    if (f->n_more == f->cap_more) {
        f->cap_more = f->cap_more ? f->cap_more * 2 : 64;
        f->more = pit_realloc(f->more, (size_t)f->cap_more * sizeof *f->more);
    }
    f->more[f->n_more++] = l;
}

static void flush_run(flush_list *f) {
    for (int i = 0; i < f->n; i++) {
        f->l[i]->flush(f->l[i]);
        f->l[i]->unref(f->l[i]);
    }
    for (int i = 0; i < f->n_more; i++) {
        f->more[i]->flush(f->more[i]);
        f->more[i]->unref(f->more[i]);
    }
    free(f->more);
    f->n = f->n_more = 0;
    f->more = NULL;
}

static void listener_add(job_entry *e, pit_job_listener *l) {
    if (e->n_listeners == e->cap_listeners) {
        e->cap_listeners = e->cap_listeners ? e->cap_listeners * 2 : 2;
        e->listeners = pit_realloc(e->listeners, (size_t)e->cap_listeners * sizeof *e->listeners);
    }
    l->ref(l);
    e->listeners[e->n_listeners++] = l;
}

/* Records a state change (already in the store) and tells the listeners; a final state also drops
 * the listeners and the entry. Under jobs->mu. */
static void set_state(pit_jobs *jobs, job_entry *e, pit_job_state st, const char *error, flush_list *f) {
    e->state = st;
    pit_job_update u = {e->id, st, pit_wall_us(), error};
    for (int i = 0; i < e->n_listeners; i++) {
        e->listeners[i]->on_update(e->listeners[i], &u);
        flush_add(f, e->listeners[i]);
    }
    if (pit_job_state_terminal(st)) {
        for (int i = 0; i < e->n_listeners; i++) e->listeners[i]->unref(e->listeners[i]);
        e->n_listeners = 0;
        backend_stats *bs = stats_of(jobs, e->backend);
        bs->ended[st]++;
        if (e->started_mono_us && st == JOB_COMPLETED)
            observe(&bs->duration, (double)(pit_mono_us() - e->started_mono_us) / 1e6);
        if (e->queued) queue_remove(jobs, e);
        if (e->in_table) table_remove(jobs, e);
    }
}

/* ---------------------------------------------------------------- running jobs */

static void schedule(pit_jobs *jobs);

static void release_px(pit_proxy *px) {
    if (px) pit_proxy_release(px);
}

/* A run is over (the worker answered, failed, or the pool refused it). Outside jobs->mu. */
static void run_over(pit_jobs *jobs, job_entry *e, grpc_status_code code, const char *details, grpc_byte_buffer *resp) {
    char *result_json = NULL;
    if (code == GRPC_STATUS_OK) {
        Pitboss__V1__ExecuteResponse *r =
            (Pitboss__V1__ExecuteResponse *)pit_pb_from_bb(&pitboss__v1__execute_response__descriptor, resp);
        if (r) {
            result_json = pit_strdup(r->result_json);
            pitboss__v1__execute_response__free_unpacked(r, NULL);
        } else {
            code = GRPC_STATUS_INTERNAL;
            details = "the worker's answer was not a pitboss.v1.ExecuteResponse";
        }
    }
    if (resp) grpc_byte_buffer_destroy(resp);

    flush_list f = {0};
    pit_proxy *px;
    pthread_mutex_lock(&jobs->mu);
    px = e->px;
    e->px = NULL;
    e->run_active = 0;
    e->backend->running--;
    jobs->n_running--;
    pit_job_run_outcome outcome = pit_job_policy_run_over(code, jobs->stopping, e->backend->pool->state == POOL_FAILED);
    if (e->state != JOB_RUNNING) {
        /* Canceled while it ran: the store and the listeners already know. */
    } else if (outcome == PIT_JOB_RUN_COMPLETE) {
        if (pit_job_store_complete(jobs->store, e->id, result_json) == 0) set_state(jobs, e, JOB_COMPLETED, NULL, &f);
    } else if (outcome == PIT_JOB_RUN_KEEP_FOR_RESTART) {
        /* The supervisor is stopping (its workers were stopped, or the run was called off): the job
         * stays RUNNING in the store and is requeued, without costing an attempt, when pitboss
         * starts again. */
        if (e->in_table) table_remove(jobs, e);
    } else if (outcome == PIT_JOB_RUN_REQUEUE) {
        int st = pit_job_store_requeue(jobs->store, e->id, (int)jobs->cfg->max_attempts, details);
        if (st == JOB_QUEUED) {
            pit_warn("job %s: %s; requeued", e->id, details);
            e->queued_mono_us = pit_mono_us();
            e->started_mono_us = 0;
            queue_push(jobs, e, 1); /* it was first in line once: keep its place */
            set_state(jobs, e, JOB_QUEUED, NULL, &f);
        } else if (st == JOB_FAILED) {
            pit_job job;
            char why[1024] = "";
            if (pit_job_store_get(jobs->store, e->id, &job) == 0) {
                snprintf(why, sizeof why, "%s", job.error ? job.error : "");
                pit_job_clear(&job);
            }
            set_state(jobs, e, JOB_FAILED, why, &f);
        }
    } else {
        char why[1200];
        if (code == GRPC_STATUS_DEADLINE_EXCEEDED)
            snprintf(why, sizeof why, "the run took longer than jobs.run_timeout_s (%lld s) and was stopped: %.900s",
                     (long long)jobs->cfg->run_timeout_s, details);
        else
            snprintf(why, sizeof why, "%.1100s", details && *details ? details : pit_job_state_name(JOB_FAILED));
        if (pit_job_store_fail(jobs->store, e->id, why) == 0) set_state(jobs, e, JOB_FAILED, why, &f);
    }
    entry_unref_locked(e); /* the run's reference */
    pthread_mutex_unlock(&jobs->mu);
    free(result_json);
    release_px(px);
    flush_run(&f);
    schedule(jobs);
}

static void on_run_done(pit_proxy *px, grpc_status_code code, const char *details, grpc_byte_buffer *resp) {
    job_entry *e = px->done_arg;
    run_over(px->sup->jobs, e, code, details, resp);
}

static grpc_byte_buffer *run_request(pit_backend *b, job_entry *e) {
    json_t *args = e->options ? json_loads(e->options, 0, NULL) : NULL;
    if (!args) args = json_object(); /* the options (inputs, measure_all, includes, precision), then qasm, shots, seed */
    json_object_set_new(args, "qasm", json_string(e->qasm));
    json_object_set_new(args, "shots", json_integer((json_int_t)e->shots));
    if (e->seed >= 0) json_object_set_new(args, "seed", json_integer((json_int_t)e->seed));
    char *args_json = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    Pitboss__V1__ExecuteRequest req = PITBOSS__V1__EXECUTE_REQUEST__INIT;
    req.command = "run_circuit";
    req.pool = (char *)b->pool->cfg->name;
    req.args_json = args_json;
    grpc_byte_buffer *bb = pit_bb_from_pb(&req.base);
    free(args_json);
    return bb;
}

/* Starts queued jobs while their backends have room. Outside jobs->mu. */
static void schedule(pit_jobs *jobs) {
    for (;;) {
        job_entry *e = NULL;
        flush_list f = {0};
        pthread_mutex_lock(&jobs->mu);
        int room = 0;
        for (int i = 0; i < jobs->n_backends; i++)
            room |= pit_job_policy_can_start(jobs->stopping, jobs->backends[i].running, jobs->backends[i].max_running);
        if (room) {
            pit_list *node, *tmp;
            pit_list_foreach_safe(node, tmp, &jobs->queue) {
                job_entry *c = pit_list_entry(node, job_entry, qnode);
                if (!pit_job_policy_can_start(jobs->stopping, c->backend->running, c->backend->max_running)) continue;
                if (pit_job_store_start(jobs->store, c->id) != 0) {
                    pit_error("job %s is queued here but not in the job store: dropped", c->id);
                    queue_remove(jobs, c);
                    table_remove(jobs, c);
                    continue;
                }
                e = c;
                break;
            }
        }
        unsigned gen = 0;
        if (e) {
            gen = ++e->run_gen;
            e->run_active = 1;
            queue_remove(jobs, e);
            e->backend->running++;
            jobs->n_running++;
            e->refs += 2; /* the run's (dropped in run_over) and ours, for the dispatch below */
            e->started_mono_us = pit_mono_us();
            observe(&stats_of(jobs, e->backend)->queue_wait, (double)(e->started_mono_us - e->queued_mono_us) / 1e6);
            set_state(jobs, e, JOB_RUNNING, NULL, &f);
        }
        pthread_mutex_unlock(&jobs->mu);
        flush_run(&f);
        if (!e) return;

        int64_t deadline = jobs->cfg->run_timeout_s ? pit_mono_us() + jobs->cfg->run_timeout_s * 1000000 : INT64_MAX;
        grpc_status_code code;
        char why[600];
        pit_proxy *px = pit_router_submit_internal(jobs->sup, e->backend->pool, "run_circuit", run_request(e->backend, e),
                                                   deadline, on_run_done, e, &code, why, sizeof why);
        if (!px) {
            run_over(jobs, e, code, why, NULL);
        } else {
            pthread_mutex_lock(&jobs->mu);
            /* If the run already ended px is not needed; if the job was canceled meanwhile, cancel
             * the run now that there is one to cancel. */
            if (e->run_active && e->run_gen == gen && !e->px) {
                e->px = px;
                px = NULL;
                if (e->state != JOB_RUNNING) pit_router_cancel(e->px);
            }
            pthread_mutex_unlock(&jobs->mu);
            release_px(px);
        }
        pthread_mutex_lock(&jobs->mu);
        entry_unref_locked(e); /* ours */
        pthread_mutex_unlock(&jobs->mu);
    }
}

/* ---------------------------------------------------------------- submit, cancel, listen */

const char *pit_job_error_type_name(pit_job_error_type t) {
    static const char *const names[] = {NULL, "JobNotFound", "BackendNotFound", "InvalidCircuit", "InvalidArguments",
                                        "QueueFull", "JobNotCompleted"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : NULL;
}

static grpc_status_code validate(pit_jobs *jobs, const pit_job_spec *spec, pit_backend **out, char *why, size_t whylen,
                                 pit_job_error_type *type) {
    pit_backend *b = pit_jobs_find_backend(jobs, spec->backend);
    if (!b) {
        char names[512];
        pit_jobs_backend_names(jobs, names, sizeof names);
        snprintf(why, whylen, "unknown backend \"%.100s\" (backends: %s)", spec->backend ? spec->backend : "", names);
        *type = PIT_JOB_ERR_BACKEND_NOT_FOUND;
        return GRPC_STATUS_NOT_FOUND;
    }
    *out = b;
    const pit_pool_config *pc = b->pool->cfg;
    if (!spec->qasm || !*spec->qasm) {
        snprintf(why, whylen, "the job has no circuit: send OpenQASM 2 or 3 text in circuit.qasm");
        *type = PIT_JOB_ERR_INVALID_ARGUMENTS;
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    size_t qasm_len = strlen(spec->qasm);
    if (qasm_len > (size_t)pc->max_circuit_bytes) {
        snprintf(why, whylen, "the circuit is %zu bytes; backend \"%s\" takes at most %lld (max_circuit_bytes)",
                 qasm_len, b->id, (long long)pc->max_circuit_bytes);
        *type = PIT_JOB_ERR_INVALID_CIRCUIT; /* too large for this backend: not a full queue */
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    if (spec->seed == PIT_JOB_SEED_TOO_LARGE) {
        snprintf(why, whylen, "seed is 2^63 or more; seeds go from 0 to 9223372036854775807 (2^63 - 1)");
        *type = PIT_JOB_ERR_INVALID_ARGUMENTS;
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (spec->shots > (uint64_t)pc->max_shots) {
        snprintf(why, whylen, "shots is %llu; backend \"%s\" runs at most %lld", (unsigned long long)spec->shots, b->id,
                 (long long)pc->max_shots);
        *type = PIT_JOB_ERR_INVALID_ARGUMENTS;
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    /* The worker parses it again with the same limits; refusing here means a bad circuit is never
     * queued and the client hears where it is wrong at once. */
    qasm_limits lim = {.max_qubits = (int)pc->max_qubits, .max_gates = (size_t)pc->max_gates, .max_depth = 64};
    const char *names[PIT_JOB_MAX_INPUTS], *inc_names[PIT_JOB_MAX_INCLUDES], *inc_texts[PIT_JOB_MAX_INCLUDES];
    double values[PIT_JOB_MAX_INPUTS];
    int measure_all;
    json_t *held;
    pit_job_options_limits(spec->options, &lim, &measure_all, &held, names, values, inc_names, inc_texts);
    size_t n_in = json_object_size(json_object_get(held, "inputs")), n_inc = json_object_size(json_object_get(held, "includes"));
    if (n_in > PIT_JOB_MAX_INPUTS || n_inc > PIT_JOB_MAX_INCLUDES) {
        json_decref(held);
        snprintf(why, whylen, "the circuit has %zu inputs and %zu includes; at most %d and %d are taken", n_in, n_inc,
                 PIT_JOB_MAX_INPUTS, PIT_JOB_MAX_INCLUDES);
        *type = PIT_JOB_ERR_INVALID_ARGUMENTS;
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    json_t *precision = json_object_get(held, "precision");
    if (precision && strcmp(json_string_value(precision), "double") && strcmp(json_string_value(precision), "single")) {
        snprintf(why, whylen, "precision must be \"double\" or \"single\" (or empty: the backend's), not \"%.40s\"",
                 json_string_value(precision));
        json_decref(held);
        *type = PIT_JOB_ERR_INVALID_ARGUMENTS;
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    qasm_circuit c;
    qasm_error err;
    int bad = qasm_parse(spec->qasm, &lim, &c, &err);
    json_decref(held);
    if (bad) {
        snprintf(why, whylen, "invalid circuit: %s", err.message);
        *type = PIT_JOB_ERR_INVALID_CIRCUIT;
        return err.kind == QASM_TOO_LARGE ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INVALID_ARGUMENT;
    }
    int room = c.n_cbits + c.n_qubits <= QASM_MAX_CBITS && c.n_cregs < 64;
    qasm_circuit_free(&c);
    if (measure_all && !room) {
        snprintf(why, whylen, "measure_all needs a classical bit per qubit beyond the circuit's own; at most %d are "
                 "supported", QASM_MAX_CBITS);
        *type = PIT_JOB_ERR_INVALID_CIRCUIT;
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    return GRPC_STATUS_OK;
}

static job_entry *entry_new(const char *id, pit_backend *b, const char *qasm, const char *options, uint64_t shots,
                            int64_t seed) {
    job_entry *e = pit_calloc(1, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->backend = b;
    e->state = JOB_QUEUED;
    e->qasm = pit_strdup(qasm);
    e->options = options ? pit_strdup(options) : NULL;
    e->shots = shots;
    e->seed = seed;
    e->queued_mono_us = pit_mono_us();
    return e;
}

grpc_status_code pit_jobs_submit(pit_jobs *jobs, const pit_job_spec *spec, pit_job_listener *listener, char job_id[40],
                                 int *duplicate, char *why, size_t whylen, pit_job_error_type *type) {
    pit_backend *b;
    *duplicate = 0;
    *type = PIT_JOB_ERR_NONE;
    job_id[0] = 0;
    grpc_status_code code = validate(jobs, spec, &b, why, whylen, type);
    if (code != GRPC_STATUS_OK) return code;
    pit_job job;
    memset(&job, 0, sizeof job);
    if (spec->request_id) snprintf(job.request_id, sizeof job.request_id, "%s", spec->request_id);
    snprintf(job.backend, sizeof job.backend, "%s", b->id);
    job.qasm = (char *)spec->qasm;
    job.options = (char *)spec->options;
    job.shots = spec->shots ? (int64_t)spec->shots : 1024;
    job.seed = spec->seed;

    flush_list f = {0};
    pthread_mutex_lock(&jobs->mu);
    if (jobs->stopping) {
        pthread_mutex_unlock(&jobs->mu);
        snprintf(why, whylen, "pitboss is shutting down: submit the job again once it is back");
        return GRPC_STATUS_UNAVAILABLE;
    }
    if (jobs->n_queued >= jobs->cfg->max_queued_jobs) {
        pthread_mutex_unlock(&jobs->mu);
        snprintf(why, whylen, "%lld jobs are queued, the limit (jobs.max_queued_jobs): wait for some to finish, or raise "
                 "the limit", (long long)jobs->n_queued);
        *type = PIT_JOB_ERR_QUEUE_FULL;
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    int rc = pit_job_store_add(jobs->store, &job);
    if (rc < 0) {
        pthread_mutex_unlock(&jobs->mu);
        snprintf(why, whylen, "the job store refused the job (disk full or not writable?): see the supervisor's log");
        pit_error("job store: cannot add a job");
        return GRPC_STATUS_INTERNAL;
    }
    snprintf(job_id, 40, "%s", job.id);
    if (rc == 1) {
        *duplicate = 1;
        if (listener) {
            job_entry *e = lookup(jobs, job.id);
            if (e) {
                pit_job_update u = {e->id, e->state, pit_wall_us(), NULL};
                listener->on_update(listener, &u);
                listener_add(e, listener);
            } else {
                pit_job old;
                if (pit_job_store_get(jobs->store, job.id, &old) == 0) {
                    pit_job_update u = {old.id, old.state, old.completed_us, old.error};
                    listener->on_update(listener, &u);
                    pit_job_clear(&old);
                }
            }
            flush_add(&f, listener);
        }
    } else {
        job_entry *e = entry_new(job.id, b, spec->qasm, spec->options, (uint64_t)job.shots, job.seed);
        table_add(jobs, e);
        queue_push(jobs, e, 0);
        stats_of(jobs, b)->submitted++;
        if (listener) {
            pit_job_update u = {e->id, JOB_QUEUED, job.submitted_us, NULL};
            listener->on_update(listener, &u);
            listener_add(e, listener);
            flush_add(&f, listener);
        }
    }
    pthread_mutex_unlock(&jobs->mu);
    flush_run(&f);
    if (rc == 0) schedule(jobs);
    return GRPC_STATUS_OK;
}

grpc_status_code pit_jobs_cancel(pit_jobs *jobs, const char *job_id, int *canceled, pit_job_state *state) {
    flush_list f = {0};
    grpc_status_code code = GRPC_STATUS_OK;
    *canceled = 0;
    pthread_mutex_lock(&jobs->mu);
    job_entry *e = lookup(jobs, job_id);
    if (e && pit_job_store_cancel(jobs->store, job_id) == 0) {
        *canceled = 1;
        *state = JOB_CANCELED;
        if (e->px) pit_router_cancel(e->px); /* the worker stops the simulation; run_over sees CANCELED */
        set_state(jobs, e, JOB_CANCELED, "canceled by request", &f);
    } else {
        pit_job job;
        if (pit_job_store_get(jobs->store, job_id, &job) == 0) {
            *state = job.state;
            pit_job_clear(&job);
        } else {
            code = GRPC_STATUS_NOT_FOUND;
        }
    }
    pthread_mutex_unlock(&jobs->mu);
    flush_run(&f);
    if (*canceled) schedule(jobs);
    return code;
}

int pit_jobs_listen(pit_jobs *jobs, const char *job_id, pit_job_listener *l) {
    int rc;
    pthread_mutex_lock(&jobs->mu);
    job_entry *e = lookup(jobs, job_id);
    if (e) {
        pit_job_update u = {e->id, e->state, pit_wall_us(), NULL};
        l->on_update(l, &u);
        listener_add(e, l);
        rc = 0;
    } else {
        pit_job job;
        if (pit_job_store_get(jobs->store, job_id, &job) == 0) {
            pit_job_update u = {job.id, job.state, job.completed_us ? job.completed_us : pit_wall_us(), job.error};
            l->on_update(l, &u);
            pit_job_clear(&job);
            rc = 1;
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

void pit_jobs_unlisten(pit_jobs *jobs, const char *job_id, pit_job_listener *l) {
    pit_job_listener *drop = NULL;
    pthread_mutex_lock(&jobs->mu);
    job_entry *e = lookup(jobs, job_id);
    for (int i = 0; e && i < e->n_listeners; i++)
        if (e->listeners[i] == l) {
            drop = l;
            e->listeners[i] = e->listeners[--e->n_listeners];
            break;
        }
    pthread_mutex_unlock(&jobs->mu);
    if (drop) drop->unref(drop);
}

/* ---------------------------------------------------------------- backends */

pit_job_store *pit_jobs_store(pit_jobs *jobs) { return jobs->store; }
int pit_jobs_n_backends(pit_jobs *jobs) { return jobs->n_backends; }
pit_backend *pit_jobs_backend(pit_jobs *jobs, int i) { return &jobs->backends[i]; }
const pit_jobs_config *pit_jobs_config_of(pit_jobs *jobs) { return jobs->cfg; }

pit_backend *pit_jobs_find_backend(pit_jobs *jobs, const char *id) {
    if (jobs->n_backends == 0) return NULL;
    if (!id || !*id) return &jobs->backends[0];
    for (int i = 0; i < jobs->n_backends; i++)
        if (strcmp(jobs->backends[i].id, id) == 0) return &jobs->backends[i];
    return NULL;
}

void pit_jobs_backend_names(pit_jobs *jobs, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < jobs->n_backends && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", jobs->backends[i].id);
    if (!jobs->n_backends) snprintf(buf, len, "none: no pool of kind native is configured");
}

int pit_jobs_backend_available(pit_jobs *jobs, pit_backend *b) {
    int up = 0;
    pthread_mutex_lock(&jobs->sup->mu);
    if (b->pool->state != POOL_FAILED && !jobs->sup->shutting_down)
        for (int i = 0; i < b->pool->n_slots; i++) up |= b->pool->slots[i].state == SLOT_READY;
    pthread_mutex_unlock(&jobs->sup->mu);
    return up;
}

typedef struct {
    pit_jobs *jobs;
    pit_backend *b;
    void (*done)(void *, const char *, const char *);
    void *arg;
} info_fetch;

static void on_info_done(pit_proxy *px, grpc_status_code code, const char *details, grpc_byte_buffer *resp) {
    info_fetch *f = px->done_arg;
    char *info = NULL;
    if (code == GRPC_STATUS_OK) {
        Pitboss__V1__ExecuteResponse *r =
            (Pitboss__V1__ExecuteResponse *)pit_pb_from_bb(&pitboss__v1__execute_response__descriptor, resp);
        if (r) {
            info = pit_strdup(r->result_json);
            pitboss__v1__execute_response__free_unpacked(r, NULL);
        }
    }
    if (resp) grpc_byte_buffer_destroy(resp);
    if (info) {
        pthread_mutex_lock(&f->jobs->mu);
        if (!f->b->info_json) f->b->info_json = pit_strdup(info);
        pthread_mutex_unlock(&f->jobs->mu);
    }
    f->done(f->arg, info, info ? NULL : details);
    free(info);
    free(f);
}

void pit_jobs_backend_info(pit_jobs *jobs, pit_backend *b, void (*done)(void *, const char *, const char *), void *arg) {
    pthread_mutex_lock(&jobs->mu);
    char *known = b->info_json ? pit_strdup(b->info_json) : NULL;
    pthread_mutex_unlock(&jobs->mu);
    if (known) {
        done(arg, known, NULL);
        free(known);
        return;
    }
    Pitboss__V1__ExecuteRequest req = PITBOSS__V1__EXECUTE_REQUEST__INIT;
    req.command = "backend_info";
    req.pool = (char *)b->pool->cfg->name;
    info_fetch *f = pit_calloc(1, sizeof *f);
    *f = (info_fetch){jobs, b, done, arg};
    grpc_status_code code;
    char why[600];
    pit_proxy *px = pit_router_submit_internal(jobs->sup, b->pool, "backend_info", pit_bb_from_pb(&req.base),
                                               pit_mono_us() + 5000000, on_info_done, f, &code, why, sizeof why);
    if (px) {
        pit_proxy_release(px);
    } else {
        free(f);
        done(arg, NULL, why);
    }
}

/* ---------------------------------------------------------------- life */

static int make_dirs(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* The store's file: jobs.store, else <state_dir>/jobs.db; relative paths from the config's folder. */
static void store_path(const pit_sup_config *cfg, char *out, size_t len, char *dir, size_t dirlen) {
    char base[4096];
    if (cfg->state_dir[0])
        snprintf(base, sizeof base, "%s", cfg->state_dir);
    else if (getenv("PITBOSS_STATE_DIR") && *getenv("PITBOSS_STATE_DIR"))
        snprintf(base, sizeof base, "%s", getenv("PITBOSS_STATE_DIR"));
    else if (getenv("XDG_STATE_HOME") && *getenv("XDG_STATE_HOME"))
        snprintf(base, sizeof base, "%s/pitboss", getenv("XDG_STATE_HOME"));
    else
        snprintf(base, sizeof base, "%s/.local/state/pitboss", getenv("HOME") ? getenv("HOME") : "/tmp");
    char file[4096];
    if (cfg->jobs.store[0])
        snprintf(file, sizeof file, "%s", cfg->jobs.store);
    else
        snprintf(file, sizeof file, "%.4000s/jobs.db", base);
    if (file[0] == '/')
        snprintf(out, len, "%s", file);
    else
        snprintf(out, len, "%.2000s/%.2000s", cfg->config_dir, file);
    snprintf(dir, dirlen, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
}

/* The job service's lines on /metrics (registered with core: api/metrics.c does not know jobs). */
static void render_metrics_source(void *arg, void (*put)(void *out, const char *line), void *out) {
    pit_jobs_render_metrics(arg, put, out);
    char line[256];
    snprintf(line, sizeof line, "# HELP pitboss_jobs_streams_open WatchJob and SubmitBatchStream calls the supervisor holds.\n"
             "# TYPE pitboss_jobs_streams_open gauge\npitboss_jobs_streams_open %d\n", pit_job_calls_open());
    put(out, line);
}

pit_jobs *pit_jobs_create(pit_sup *sup, char *err, size_t errlen) {
    char path[4096], dir[4096];
    store_path(&sup->cfg, path, sizeof path, dir, sizeof dir);
    if (make_dirs(dir) != 0) {
        snprintf(err, errlen, "cannot create the job store's folder %.1000s: %s (set \"state_dir\" or \"jobs.store\")", dir,
                 strerror(errno));
        return NULL;
    }
    struct stat st;
    if (stat(dir, &st) == 0 && (st.st_mode & 077))
        pit_warn("the job store's folder %s can be read by %s (mode %03o): it holds every client's circuits; "
                 "chmod 700 it", dir, (st.st_mode & 007) ? "every local user" : "its group", st.st_mode & 0777);
    pit_job_store *store = pit_job_store_open(path, err, errlen);
    if (!store) return NULL;
    pit_jobs *jobs = pit_calloc(1, sizeof *jobs);
    jobs->sup = sup;
    pit_sup_add_metrics_source(sup, render_metrics_source, jobs);
    pit_list_init(&jobs->queue);
    pit_strmap_init(&jobs->table, 1024);
    jobs->store = store;
    jobs->cfg = &sup->cfg.jobs;
    pthread_mutex_init(&jobs->mu, NULL);
    jobs->backends = pit_calloc((size_t)sup->n_pools + 1, sizeof *jobs->backends);
    jobs->stats = pit_calloc((size_t)sup->n_pools + 1, sizeof *jobs->stats);
    for (int i = 0; i < sup->n_pools; i++) {
        pit_pool *p = &sup->pools[i];
        if (p->cfg->kind != PIT_KIND_NATIVE) continue;
        pit_backend *b = &jobs->backends[jobs->n_backends++];
        snprintf(b->id, sizeof b->id, "%s", p->cfg->backend);
        b->pool = p;
        b->max_running = jobs->cfg->max_running_jobs ? (int)jobs->cfg->max_running_jobs
                                                     : (int)(p->cfg->size * p->cfg->max_concurrency);
    }

    /* Jobs a killed supervisor left running go back to the queue, then every queued job is loaded. */
    int recovered = pit_job_store_recover(store);
    size_t cap = 1024, n;
    char(*ids)[40] = pit_malloc(cap * sizeof *ids);
    while ((n = pit_job_store_queued(store, ids, cap)) == cap) {
        cap *= 2;
        ids = pit_realloc(ids, cap * sizeof *ids);
    }
    size_t loaded = 0;
    for (size_t i = 0; i < n; i++) {
        pit_job job;
        if (pit_job_store_get(store, ids[i], &job) != 0) continue;
        pit_backend *b = pit_jobs_find_backend(jobs, job.backend);
        if (!b || !job.backend[0]) {
            char why[256];
            snprintf(why, sizeof why, "backend \"%.64s\" is no longer configured", job.backend);
            pit_job_store_fail(store, job.id, why);
        } else {
            job_entry *e = entry_new(job.id, b, job.qasm, job.options, (uint64_t)job.shots, job.seed);
            table_add(jobs, e);
            queue_push(jobs, e, 0);
            loaded++;
        }
        pit_job_clear(&job);
    }
    free(ids);
    pit_info("job store %s: %zu queued job%s to run (%d recovered from a run the last supervisor did not finish)", path,
             loaded, loaded == 1 ? "" : "s", recovered > 0 ? recovered : 0);
    return jobs;
}

static void on_expire(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    pit_jobs *jobs = w->data;
    if (!jobs->cfg->retention_s) return;
    int n = pit_job_store_expire(jobs->store, pit_wall_us() - jobs->cfg->retention_s * 1000000);
    if (n > 0) pit_info("job store: %d finished job%s older than jobs.retention_s expired", n, n == 1 ? "" : "s");
}

void pit_jobs_start(pit_jobs *jobs) {
    if (jobs->cfg->retention_s) {
        /* Checked at start and then every minute, or every tenth of the retention if shorter. */
        double every = jobs->cfg->retention_s < 600 ? (double)jobs->cfg->retention_s / 10.0 : 60.0;
        ev_timer_init(&jobs->expire_w, on_expire, 0.0, every);
        jobs->expire_w.data = jobs;
        ev_timer_start(jobs->sup->ev, &jobs->expire_w);
    }
    schedule(jobs);
}

void pit_jobs_shutdown(pit_jobs *jobs) {
    pthread_mutex_lock(&jobs->mu);
    jobs->stopping = 1;
    pthread_mutex_unlock(&jobs->mu);
    if (ev_is_active(&jobs->expire_w)) ev_timer_stop(jobs->sup->ev, &jobs->expire_w);
}

static int cancel_run(pit_strmap_node *n, void *arg) {
    (void)arg;
    job_entry *e = pit_strmap_entry(n, job_entry, hnode);
    if (e->px) pit_router_cancel(e->px);
    return 0;
}

/* pit_jobs_destroy: every entry leaves the table (the table's reference dropped). */
static int drop_entry(pit_strmap_node *n, void *arg) {
    pit_jobs *jobs = arg;
    job_entry *e = pit_strmap_entry(n, job_entry, hnode);
    for (int i = 0; i < e->n_listeners; i++) e->listeners[i]->unref(e->listeners[i]);
    e->n_listeners = 0;
    if (e->queued) queue_remove(jobs, e);
    e->in_table = 0;
    entry_unref_locked(e);
    return 1;
}

void pit_jobs_cancel_runs(pit_jobs *jobs) {
    pthread_mutex_lock(&jobs->mu);
    pit_strmap_sweep(&jobs->table, cancel_run, NULL);
    pthread_mutex_unlock(&jobs->mu);
}

void pit_jobs_destroy(pit_jobs *jobs) {
    if (!jobs) return;
    pit_strmap_sweep(&jobs->table, drop_entry, jobs);
    pit_strmap_destroy(&jobs->table);
    for (int i = 0; i < jobs->n_backends; i++) free(jobs->backends[i].info_json);
    free(jobs->backends);
    free(jobs->stats);
    pit_job_store_close(jobs->store);
    pthread_mutex_destroy(&jobs->mu);
    free(jobs);
}

/* ---------------------------------------------------------------- metrics */

static void put_hist(void (*put)(void *, const char *), void *t, const char *name, const char *backend,
                     const pit_histogram *h) {
    char labels[256];
    snprintf(labels, sizeof labels, "backend=\"%s\"", backend);
    pit_histogram_render(h, &job_buckets, name, labels, put, t);
}

void pit_jobs_render_metrics(pit_jobs *jobs, void (*put)(void *, const char *), void *t) {
    char line[512];
    static const char *const ended_names[] = {NULL, NULL, "completed", "failed", "canceled"};
    pthread_mutex_lock(&jobs->mu);
    put(t, "# HELP pitboss_jobs_total Jobs accepted (submitted) and finished (completed, failed, canceled), by backend.\n"
           "# TYPE pitboss_jobs_total counter\n");
    for (int i = 0; i < jobs->n_backends; i++) {
        backend_stats *bs = &jobs->stats[i];
        snprintf(line, sizeof line, "pitboss_jobs_total{backend=\"%s\",event=\"submitted\"} %llu\n", jobs->backends[i].id,
                 (unsigned long long)bs->submitted);
        put(t, line);
        for (int st = JOB_COMPLETED; st <= JOB_CANCELED; st++) {
            snprintf(line, sizeof line, "pitboss_jobs_total{backend=\"%s\",event=\"%s\"} %llu\n", jobs->backends[i].id,
                     ended_names[st], (unsigned long long)bs->ended[st]);
            put(t, line);
        }
    }
    put(t, "# HELP pitboss_jobs_queued Jobs waiting to run.\n# TYPE pitboss_jobs_queued gauge\n");
    snprintf(line, sizeof line, "pitboss_jobs_queued %lld\n", (long long)jobs->n_queued);
    put(t, line);
    put(t, "# HELP pitboss_jobs_running Jobs running, by backend.\n# TYPE pitboss_jobs_running gauge\n");
    for (int i = 0; i < jobs->n_backends; i++) {
        snprintf(line, sizeof line, "pitboss_jobs_running{backend=\"%s\"} %d\n", jobs->backends[i].id,
                 jobs->backends[i].running);
        put(t, line);
    }
    put(t, "# HELP pitboss_job_duration_seconds Run time of completed jobs (start to result).\n"
           "# TYPE pitboss_job_duration_seconds histogram\n");
    for (int i = 0; i < jobs->n_backends; i++)
        put_hist(put, t, "pitboss_job_duration_seconds", jobs->backends[i].id, &jobs->stats[i].duration);
    put(t, "# HELP pitboss_job_queue_wait_seconds Time jobs waited in the queue before they started.\n"
           "# TYPE pitboss_job_queue_wait_seconds histogram\n");
    for (int i = 0; i < jobs->n_backends; i++)
        put_hist(put, t, "pitboss_job_queue_wait_seconds", jobs->backends[i].id, &jobs->stats[i].queue_wait);
    pthread_mutex_unlock(&jobs->mu);
}
