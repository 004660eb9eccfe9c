/*
 * Routing: which worker runs a call. Session affinity, least-loaded choice, per-worker
 * concurrency limits, a bounded FIFO queue per pool with deadlines, and what happens when a
 * worker dies under a call. Runs on completion-queue threads.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/abandon.h"
#include "alloc.h"
#include "buffers.h"
#include "clock.h"
#include "log.h"
#include "pitboss.pb-c.h"
#include "routing/placement.h"
#include "routing/router.h"
#include "core/call_stats.h"
#include "core/sessions.h"

#define EXIT_WAIT_MS 1000


static void pool_names(pit_sup *sup, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < sup->n_pools && used < len; i++)
        if (!sup->pools[i].removed)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", sup->pools[i].cfg->name);
}

/* ---------------------------------------------------------------- choosing a slot (placement.c) */

static pit_pick pick(pit_proxy *px, pit_slot **out) {
    int reset = 0;
    pit_pick r = pit_place(px->pool, px->session_id, out, &reset);
    if (reset) px->session_reset = 1;
    return r;
}

static void reserve(pit_proxy *px, pit_slot *slot) {
    px->slot = slot;
    px->chan = slot->chan;
    slot->chan->refs++;
    px->exits_at_dispatch = slot->exits;
    px->pid_at_dispatch = slot->pid;
    px->dispatched_us = pit_mono_us();
    px->refs++; /* the dispatcher's, until the worker call is stored */
    slot->in_flight++;
    px->pool->in_flight++;
}

/* ---------------------------------------------------------------- the queue (under sup->mu) */

static void queue_push(pit_pool *pool, pit_proxy *px) {
    px->queued = 1;
    pit_list_push_back(&pool->queue, &px->qnode);
    if (pool->queued++ == 0 || px->deadline_us < pool->queue_min_deadline_us) pool->queue_min_deadline_us = px->deadline_us;
}

static void queue_remove(pit_pool *pool, pit_proxy *px) {
    pit_list_remove(&px->qnode);
    px->queued = 0;
    if (--pool->queued == 0) pool->queue_min_deadline_us = INT64_MAX;
}

/* The next wake-up: the earliest queued deadline of any pool (each pool's bound: no walk of the
 * queues, which every finished call used to make) or exit wait. */
void pit_router_update_wake_locked(pit_sup *sup) {
    int64_t next = INT64_MAX;
    for (int i = 0; i < sup->n_pools; i++)
        if (sup->pools[i].queued && sup->pools[i].queue_min_deadline_us < next) next = sup->pools[i].queue_min_deadline_us;
    for (pit_proxy *px = sup->exit_waiters; px; px = px->wait_next)
        if (px->wait_until_us < next) next = px->wait_until_us;
    __atomic_store_n(&sup->next_wake_us, next, __ATOMIC_RELAXED);
}

gpr_timespec pit_router_next_wake(void *arg) {
    pit_sup *sup = arg;
    int64_t us = __atomic_load_n(&sup->next_wake_us, __ATOMIC_RELAXED);
    if (us == INT64_MAX) return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    gpr_timespec t = {us / 1000000, (int32_t)((us % 1000000) * 1000), GPR_CLOCK_MONOTONIC};
    return t;
}

/* Calls to act on once sup->mu is released. */
typedef struct {
    pit_proxy *dispatch[64];
    int n_dispatch;
    pit_proxy *fail[64];
    grpc_status_code fail_code[64];
    int n_fail;
    int more; /* the arrays filled up: go round again */
} actions;

static int pool_has_room(const pit_pool *pool) {
    for (int k = 0; k < pool->n_slots; k++) {
        const pit_slot *s = &pool->slots[k];
        if (s->state == SLOT_READY && s->in_flight < (uint32_t)pool->cfg->max_concurrency) return 1;
    }
    return 0;
}

/* Dispatches the queued calls that can go now, oldest first, and fails those whose deadline passed
 * or that were cancelled. whole: every queued call is looked at (on a wake-up: a deadline, a cancel,
 * a worker's exit), and the pool's deadline bound is made exact; else the walk ends when no worker
 * has room (a call finished, or one joined the queue: the calls after cannot go either, and a deep
 * queue in one pool cost every pool's calls a walk of it). */
static void service_queue_locked(pit_pool *pool, actions *a, int whole) {
    int64_t now = pit_mono_us(), min_deadline = INT64_MAX;
    int walked_all = 1;
    pit_list *node, *tmp;
    pit_list_foreach_safe(node, tmp, &pool->queue) {
        pit_proxy *px = pit_list_entry(node, pit_proxy, qnode);
        if (a->n_dispatch == 64 || a->n_fail == 64) {
            a->more = 1;
            return;
        }
        if (!whole && !pool_has_room(pool) && pool->state != POOL_FAILED && !pool->removed) {
            walked_all = 0;
            break;
        }
        if (px->cancelled || px->deadline_us <= now || pool->state == POOL_FAILED || pool->removed) {
            queue_remove(pool, px);
            a->fail_code[a->n_fail] = pool->state == POOL_FAILED || pool->removed ? GRPC_STATUS_UNAVAILABLE
                                      : px->cancelled            ? GRPC_STATUS_CANCELLED
                                                                 : GRPC_STATUS_DEADLINE_EXCEEDED;
            a->fail[a->n_fail++] = px;
        } else {
            pit_slot *slot;
            pit_pick r = pick(px, &slot);
            if (r == PIT_PICK_SLOT) {
                queue_remove(pool, px);
                reserve(px, slot);
                a->dispatch[a->n_dispatch++] = px;
            } else if (r == PIT_PICK_NO_SESSIONS) {
                queue_remove(pool, px);
                a->fail_code[a->n_fail] = GRPC_STATUS_RESOURCE_EXHAUSTED;
                a->fail[a->n_fail++] = px;
            } else if (px->deadline_us < min_deadline) {
                min_deadline = px->deadline_us;
            }
        }
    }
    if (walked_all) pool->queue_min_deadline_us = min_deadline;
}

static void finish_queued_failure(pit_proxy *px, grpc_status_code code) {
    pit_pool *pool = px->pool;
    int64_t waited_ms = (pit_mono_us() - px->arrived_us) / 1000;
    if (px->front) pit_call_on_cancel(px->front, NULL, NULL);
    /* Counted before the answer goes out, so that a scrape after the answer includes it. */
    pit_call_stats_done(pool->sup->calls, pool->cfg->name, px->command, code, (double)waited_ms / 1000.0);
    switch (code) {
    case GRPC_STATUS_UNAVAILABLE:
        if (pool->removed)
            pit_proxy_fail(px, code, "pool \"%s\" was removed from the config by a reload", pool->cfg->name);
        else
            pit_proxy_fail(px, code, "pool \"%s\" has failed: %s", pool->cfg->name, pool->failed_reason);
        break;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        pit_proxy_fail(px, code, "pool \"%s\" has %lld open sessions, its limit (sessions.max_sessions):"
                              " close sessions or raise the limit", pool->cfg->name,
                              (long long)pool->sup->cfg.sessions.max_sessions);
        break;
    case GRPC_STATUS_CANCELLED:
        pit_proxy_fail(px, code, "cancelled while waiting for a worker");
        break;
    default:
        pit_proxy_fail(px, code,
                              "deadline passed after waiting %lld ms in the queue of pool \"%s\" for a free worker "
                              "(%d workers x %lld calls each, all busy); the limit was %s",
                              (long long)waited_ms, pool->cfg->name, pool->n_slots,
                              (long long)pool->cfg->max_concurrency,
                              px->deadline_why[0] ? px->deadline_why : "the job's run_timeout_s");
    }
    pit_proxy_release(px);
}

static void run_actions(actions *a) {
    for (int i = 0; i < a->n_fail; i++) finish_queued_failure(a->fail[i], a->fail_code[i]);
    for (int i = 0; i < a->n_dispatch; i++) pit_proxy_dispatch(a->dispatch[i]);
}

static void service_all_queues(pit_sup *sup) {
    for (;;) {
        actions a;
        a.n_dispatch = a.n_fail = a.more = 0;
        pthread_mutex_lock(&sup->mu);
        for (int i = 0; i < sup->n_pools && !a.more; i++) service_queue_locked(&sup->pools[i], &a, 1);
        pit_router_update_wake_locked(sup);
        pthread_mutex_unlock(&sup->mu);
        run_actions(&a);
        if (!a.more) return;
    }
}

/* ---------------------------------------------------------------- worker deaths */

static void finish_worker_failed(pit_proxy *px, int exited) {
    pit_slot *slot = px->slot;
    pit_router_count_call(px, GRPC_STATUS_UNAVAILABLE);
    if (exited) {
        char exit_desc[160];
        pthread_mutex_lock(&px->sup->mu);
        snprintf(exit_desc, sizeof exit_desc, "%s", slot->last_exit);
        pthread_mutex_unlock(&px->sup->mu);
        pit_proxy_fail(px, GRPC_STATUS_UNAVAILABLE,
                              "worker %d of pool \"%s\" (pid %d) died during the call: %s; it is being restarted, "
                              "retry the call", slot->index, px->pool->cfg->name, (int)px->pid_at_dispatch, exit_desc);
    } else {
        pit_proxy_fail(px, px->worker_code, "worker %d of pool \"%s\" (pid %d): %s", slot->index,
                              px->pool->cfg->name, (int)px->pid_at_dispatch, px->worker_details);
    }
    pit_router_call_done(px, GRPC_STATUS_UNAVAILABLE);
}

void pit_router_worker_failed(pit_proxy *px, grpc_status_code code, const char *details) {
    pit_sup *sup = px->sup;
    if (px->front) pit_call_on_cancel(px->front, NULL, NULL);
    pthread_mutex_lock(&sup->mu);
    int exited = px->slot->exits != px->exits_at_dispatch;
    if (!exited) {
        /* The connection broke but the child's exit has not been reaped yet: wait for it. */
        px->worker_code = code;
        px->worker_details = pit_strdup(details ? details : "");
        px->wait_until_us = pit_mono_us() + EXIT_WAIT_MS * 1000;
        px->wait_next = sup->exit_waiters;
        sup->exit_waiters = px;
        pit_router_update_wake_locked(sup);
    }
    pthread_mutex_unlock(&sup->mu);
    if (exited) finish_worker_failed(px, 1);
}

static void service_exit_waiters(pit_sup *sup) {
    pit_proxy *ready = NULL;
    int64_t now = pit_mono_us();
    pthread_mutex_lock(&sup->mu);
    for (pit_proxy **p = &sup->exit_waiters; *p;) {
        pit_proxy *px = *p;
        if (px->slot->exits != px->exits_at_dispatch || px->wait_until_us <= now) {
            *p = px->wait_next;
            px->wait_next = ready;
            ready = px;
        } else {
            p = &px->wait_next;
        }
    }
    pit_router_update_wake_locked(sup);
    pthread_mutex_unlock(&sup->mu);
    while (ready) {
        pit_proxy *px = ready;
        ready = px->wait_next;
        pthread_mutex_lock(&sup->mu);
        int exited = px->slot->exits != px->exits_at_dispatch;
        pthread_mutex_unlock(&sup->mu);
        finish_worker_failed(px, exited);
    }
}

void pit_router_on_wake(void *arg) {
    pit_sup *sup = arg;
    service_exit_waiters(sup);
    service_all_queues(sup);
}

/* ---------------------------------------------------------------- a call ends */

void pit_router_count_call(pit_proxy *px, grpc_status_code code) {
    double seconds = (double)(pit_mono_us() - px->arrived_us) / 1e6;
    pit_call_stats_done(px->sup->calls, px->pool->cfg->name, px->command, code, seconds);
}

void pit_router_call_done(pit_proxy *px, grpc_status_code code) {
    pit_sup *sup = px->sup;
    pit_pool *pool = px->pool;
    pit_slot *slot = px->slot;
    (void)code;

    actions a;
    a.n_dispatch = a.n_fail = a.more = 0;
    pthread_mutex_lock(&sup->mu);
    /* Ended for its client (cancel, deadline) while its worker lives on: the handler may still run,
     * so the call keeps its place until the worker says it ended (abandon.c). */
    if ((code == GRPC_STATUS_CANCELLED || code == GRPC_STATUS_DEADLINE_EXCEEDED) && slot->pid == px->pid_at_dispatch &&
        slot->exits == px->exits_at_dispatch) {
        pit_abandon_add_locked(sup, slot, px->command);
    } else {
        slot->in_flight--;
        pool->in_flight--;
    }
    slot->served++;
    slot->served_this_run++;
    if (slot->state == SLOT_READY && slot->recycle_after && slot->served_this_run >= slot->recycle_after) {
        pit_info("worker %d of pool \"%s\" (pid %d) served %llu calls (recycle.max_requests): replacing it",
                 slot->index, pool->cfg->name, (int)slot->pid, (unsigned long long)slot->served_this_run);
        slot->state = SLOT_DRAINING;
        slot->drain_since_us = pit_mono_us();
    }
    if (slot->state == SLOT_DRAINING && slot->in_flight == 0) pit_slot_went_idle(sup, slot);
    pit_chan_unref(px->chan);
    px->chan = NULL;
    if (!pit_list_empty(&pool->queue)) service_queue_locked(pool, &a, 0);
    pit_router_update_wake_locked(sup);
    pthread_mutex_unlock(&sup->mu);
    run_actions(&a);
    if (a.more) service_all_queues(sup);
    pit_proxy_release(px);
}

/* ---------------------------------------------------------------- a call arrives */

void pit_router_cut_all(void *arg) {
    pit_sup *sup = arg;
    pthread_mutex_lock(&sup->mu);
    for (pit_proxy *px = sup->streams; px; px = px->snext) {
        if (px->worker_done || !px->cc || px->shutdown_cut) continue;
        px->shutdown_cut = 1;
        pit_ccall_cancel(px->cc);
    }
    pthread_mutex_unlock(&sup->mu);
}

void pit_router_cancel(pit_proxy *px) {
    pthread_mutex_lock(&px->sup->mu);
    px->cancelled = 1;
    if (px->cc) pit_ccall_cancel(px->cc);
    int queued = px->queued;
    pthread_mutex_unlock(&px->sup->mu);
    if (queued) pit_cq_loop_wake(px->sup->loop);
}

/* Runs under the front call's lock: only flags, the worker call's cancel, and a wake-up. */
static void on_front_cancel(void *arg) { pit_router_cancel(arg); }

/* Places a new call: on a slot now (*slot set: the caller dispatches it), in the pool's queue, or
 * refused (the code, with why). Internal calls are not held to queue_limit. */
static grpc_status_code admit(pit_proxy *px, int internal, pit_slot **slot, char *why, size_t whylen) {
    pit_sup *sup = px->sup;
    pit_pool *pool = px->pool;
    grpc_status_code refuse = GRPC_STATUS_OK;
    actions a;
    a.n_dispatch = a.n_fail = a.more = 0;
    *slot = NULL;
    pthread_mutex_lock(&sup->mu);
    pit_admit_gate gate = pit_policy_admit_gate(sup->shutting_down, pool->state == POOL_FAILED, !pit_list_empty(&pool->queue),
                                                px->session_id != NULL);
    if (gate == PIT_ADMIT_STOPPING) {
        refuse = GRPC_STATUS_UNAVAILABLE;
        snprintf(why, whylen, "pitboss is shutting down: send the call to another instance or retry later");
    } else if (gate == PIT_ADMIT_FAILED) {
        refuse = GRPC_STATUS_UNAVAILABLE;
        snprintf(why, whylen, "pool \"%.64s\" has failed: %.400s", pool->cfg->name, pool->failed_reason);
    } else {
        pit_pick r = gate == PIT_ADMIT_WAIT ? PIT_PICK_WAIT : pick(px, slot);
        pit_admit_place place = pit_policy_admit_place(r, internal, pool->queued, pool->cfg->queue_limit);
        if (place == PIT_ADMIT_DISPATCH) {
            reserve(px, *slot);
        } else if (place == PIT_ADMIT_NO_SESSIONS) {
            refuse = GRPC_STATUS_RESOURCE_EXHAUSTED;
            snprintf(why, whylen, "pool \"%s\" has %lld open sessions, its limit (sessions.max_sessions): close "
                     "sessions or raise the limit", pool->cfg->name, (long long)sup->cfg.sessions.max_sessions);
        } else if (place == PIT_ADMIT_QUEUE) {
            queue_push(pool, px);
            /* Calls ahead of it may wait for one busy session worker while others are free. */
            service_queue_locked(pool, &a, 0);
            pit_router_update_wake_locked(sup);
        } else {
            refuse = GRPC_STATUS_RESOURCE_EXHAUSTED;
            snprintf(why, whylen,
                     "pool \"%s\" is full: %d workers x %lld calls each are busy and %u calls wait (queue_limit %lld); "
                     "retry later, or raise the pool's size or queue_limit",
                     pool->cfg->name, pool->n_slots, (long long)pool->cfg->max_concurrency, pool->queued,
                     (long long)pool->cfg->queue_limit);
        }
    }
    pthread_mutex_unlock(&sup->mu);
    run_actions(&a);
    return refuse;
}

static pit_proxy *proxy_new(pit_sup *sup, pit_pool *pool, const char *command, grpc_byte_buffer *req, int refs) {
    pit_proxy *px = pit_calloc(1, sizeof *px);
    px->sup = sup;
    px->pool = pool;
    px->req = req;
    px->refs = refs;
    snprintf(px->command, sizeof px->command, "%s", command);
    px->arrived_us = pit_mono_us();
    return px;
}

static void accept_call(pit_call *call, grpc_byte_buffer *req_bb, void *arg, int streaming) {
    pit_sup *sup = arg;
    char bad[256];
    Pitboss__V1__ExecuteRequest *req = (Pitboss__V1__ExecuteRequest *)pit_pb_from_bb_checked(
        &pitboss__v1__execute_request__descriptor, req_bb, bad, sizeof bad);
    if (!req) {
        if (req_bb) grpc_byte_buffer_destroy(req_bb);
        pit_call_stats_done(sup->calls, "", "", GRPC_STATUS_INVALID_ARGUMENT, 0);
        pit_call_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", bad);
        return;
    }
    size_t args_len = strlen(req->args_json);
    if (args_len > (size_t)sup->cfg.max_args_mb << 20) {
        if (req_bb) grpc_byte_buffer_destroy(req_bb);
        pit_call_stats_done(sup->calls, "", req->command, GRPC_STATUS_RESOURCE_EXHAUSTED, 0);
        pit_call_finish_error(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "args_json is %zu bytes; at most %lld MB are taken "
                              "(max_args_mb): send large data as the raw payload", args_len, (long long)sup->cfg.max_args_mb);
        pitboss__v1__execute_request__free_unpacked(req, NULL);
        return;
    }
    pit_pool *pool = pit_sup_find_pool(sup, req->pool);
    if (!pool) {
        char names[512];
        pool_names(sup, names, sizeof names);
        pit_call_stats_done(sup->calls, "", req->command, GRPC_STATUS_NOT_FOUND, 0);
        pit_call_finish_error(call, GRPC_STATUS_NOT_FOUND, "unknown pool \"%s\" (pools: %s)", req->pool, names);
        pitboss__v1__execute_request__free_unpacked(req, NULL);
        grpc_byte_buffer_destroy(req_bb);
        return;
    }

    pit_proxy *px = proxy_new(sup, pool, req->command, req_bb, 1);
    px->front = call;
    px->streaming = streaming;
    if (req->session_id[0]) px->session_id = pit_strdup(req->session_id);
    /* The deadline: the client's, the request's timeout_ms, or the configured default. */
    int64_t left_ms = pit_deadline_remaining_ms(pit_call_deadline(call));
    int64_t limit_ms = req->timeout_ms ? (int64_t)req->timeout_ms
                                       : (streaming ? sup->cfg.timeouts.stream_ms : sup->cfg.timeouts.request_ms);
    if (left_ms == INT64_MAX && limit_ms == 0) {
        px->deadline_us = INT64_MAX;
    } else {
        if (limit_ms && (left_ms == INT64_MAX || limit_ms < left_ms)) {
            left_ms = limit_ms;
            if (req->timeout_ms)
                snprintf(px->deadline_why, sizeof px->deadline_why, "the request's timeout_ms (%lld ms)",
                         (long long)limit_ms);
            else
                snprintf(px->deadline_why, sizeof px->deadline_why, "the server's default, timeouts.%s (%lld ms)",
                         streaming ? "stream_ms" : "request_ms", (long long)limit_ms);
        } else {
            snprintf(px->deadline_why, sizeof px->deadline_why, "the client's deadline (%lld ms)", (long long)left_ms);
        }
        px->deadline_us = px->arrived_us + left_ms * 1000;
    }
    pitboss__v1__execute_request__free_unpacked(req, NULL);
    pit_call_on_cancel(call, on_front_cancel, px);

    char why[512];
    pit_slot *slot = NULL;
    grpc_status_code refuse = admit(px, 0, &slot, why, sizeof why);
    if (refuse != GRPC_STATUS_OK) {
        pit_call_on_cancel(call, NULL, NULL);
        pit_call_stats_done(sup->calls, pool->cfg->name, px->command, refuse, 0);
        pit_call_finish_error(call, refuse, "%s", why);
        pit_proxy_release(px);
    } else if (slot) {
        pit_proxy_dispatch(px);
    }
}

pit_proxy *pit_router_submit_internal(pit_sup *sup, pit_pool *pool, const char *command, grpc_byte_buffer *req,
                                      int64_t deadline_us, pit_proxy_done_fn on_done, void *arg,
                                      grpc_status_code *code, char *why, size_t whylen) {
    pit_proxy *px = proxy_new(sup, pool, command, req, 2); /* the router's and the caller's */
    px->on_done = on_done;
    px->done_arg = arg;
    px->deadline_us = deadline_us;
    pit_slot *slot = NULL;
    *code = admit(px, 1, &slot, why, whylen);
    if (*code != GRPC_STATUS_OK) {
        pit_call_stats_done(sup->calls, pool->cfg->name, px->command, *code, 0);
        px->refs = 1;
        pit_proxy_release(px);
        return NULL;
    }
    if (slot) pit_proxy_dispatch(px);
    return px;
}

static void on_execute(pit_call *call, grpc_byte_buffer *req, void *arg) { accept_call(call, req, arg, 0); }
static void on_execute_stream(pit_call *call, grpc_byte_buffer *req, void *arg) { accept_call(call, req, arg, 1); }

/* ---------------------------------------------------------------- what the monitor asks of calls */

/* A stream's worker waits for its client to take each chunk, so a client that never reads would
 * hold a worker slot (and, behind it, the queue) for good: past timeouts.stream_idle_ms with a chunk
 * not taken, the stream is cancelled (its worker call too) and the cancel logged. */
/* libev thread, sup->mu held on entry and exit: a draining slot's calls that outlived graceful_ms are
 * cut (UNAVAILABLE saying why), so that a reload or a recycle is not held up for ever by one long
 * stream. The cut goes through the worker call's cancel, like a client's. */
static void router_cut_drained_locked(pit_sup *sup) {
    int64_t now = pit_mono_us(), grace_us = sup->cfg.timeouts.graceful_ms * 1000;
    pit_proxy *cut[64];
    int n = 0;
    for (pit_proxy *px = sup->streams; px && n < 64; px = px->snext) {
        pit_slot *s = px->slot;
        if (!s || px->worker_done || px->drain_cut || !px->cc || s->state != SLOT_DRAINING || !s->drain_since_us ||
            now - s->drain_since_us < grace_us || px->pid_at_dispatch != s->pid)
            continue;
        px->drain_cut = 1;
        pit_ccall_cancel(px->cc);
        cut[n++] = px;
    }
    for (int i = 0; i < n; i++)
        pit_warn("%s \"%s\" on worker %d of pool \"%s\" ran past timeouts.graceful_ms while its worker was being "
                 "replaced: cut (UNAVAILABLE)", cut[i]->streaming ? "stream" : "call", cut[i]->command,
                 cut[i]->slot->index, cut[i]->pool->cfg->name);
}

/* libev thread, sup->mu not held (the monitor's stream_idle_ms tick, through sup->routing). */
static void router_cancel_idle_streams(pit_sup *sup) {
    int64_t limit_us = sup->cfg.timeouts.stream_idle_ms * 1000, now = pit_mono_us();
    pit_proxy *stalled[64];
    int64_t stalled_ms[64];
    int n = 0;
    pthread_mutex_lock(&sup->mu);
    for (pit_proxy *px = sup->streams; px && n < 64; px = px->snext) {
        int64_t since = atomic_load_explicit(&px->send_since_us, memory_order_relaxed);
        if (!since || px->idle_cancelled || px->worker_done || now - since < limit_us) continue;
        px->idle_cancelled = 1;
        px->refs++; /* until cancelled, outside sup->mu */
        stalled_ms[n] = (now - since) / 1000;
        stalled[n++] = px;
    }
    pthread_mutex_unlock(&sup->mu);
    for (int i = 0; i < n; i++) {
        pit_proxy *px = stalled[i];
        pit_warn("stream \"%s\" of pool \"%s\" (worker %d, pid %d): its client read nothing for %lld ms "
                 "(timeouts.stream_idle_ms): cancelling it", px->command, px->pool->cfg->name, px->slot->index,
                 (int)px->pid_at_dispatch, (long long)stalled_ms[i]);
        pit_call_cancel(px->front); /* the send in flight fails, which cancels the worker call */
        pit_proxy_release(px);
    }
}

void pit_router_register(pit_sup *sup) {
    pit_server_add_method(sup->server, "/pitboss.v1.Pool/Execute", on_execute, sup);
    pit_server_add_method(sup->server, "/pitboss.v1.Pool/ExecuteStream", on_execute_stream, sup);
    sup->routing.cut_drained_locked = router_cut_drained_locked;
    sup->routing.cancel_idle_streams = router_cancel_idle_streams;
}
