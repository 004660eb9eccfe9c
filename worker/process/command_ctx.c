/* Running one command for one call: the context commands see, and how the call is finished. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffers.h"
#include "alloc.h"
#include "clock.h"
#include "json_args.h"
#include "log.h"
#include "protocol.h"
#include "pitboss.pb-c.h"
#include "process/worker.h"

struct pit_cmd_ctx {
    pit_worker *worker;
    pit_call *call;
    const pit_command *cmd;
    Pitboss__V1__ExecuteRequest *req;
    json_t *args;
    int streaming_call;
    gpr_timespec deadline;
    int64_t start_us;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    int cancelled;
    int send_done;
    int send_ok;
    uint64_t seq;
};

/* ---------------------------------------------------------------- for commands */

const uint8_t *pit_cmd_payload(const pit_cmd_ctx *ctx, size_t *len) {
    *len = ctx->req->payload.len;
    return ctx->req->payload.data;
}

const char *pit_cmd_session_id(const pit_cmd_ctx *ctx) { return ctx->req->session_id; }
gpr_timespec pit_cmd_deadline(const pit_cmd_ctx *ctx) { return ctx->deadline; }

int pit_cmd_cancelled(const pit_cmd_ctx *ctx) {
    pit_cmd_ctx *c = (pit_cmd_ctx *)ctx;
    pthread_mutex_lock(&c->mu);
    int v = c->cancelled;
    pthread_mutex_unlock(&c->mu);
    return v;
}

int pit_cmd_deadline_passed(const pit_cmd_ctx *ctx) { return pit_deadline_remaining_ms(ctx->deadline) <= 0; }

int pit_cmd_sleep_ms(pit_cmd_ctx *ctx, int64_t ms) {
    int64_t until_us = pit_mono_us() + ms * 1000;
    int64_t left_ms = pit_deadline_remaining_ms(ctx->deadline);
    int deadline_first = left_ms != INT64_MAX && left_ms < ms;
    if (deadline_first) until_us = pit_mono_us() + (left_ms > 0 ? left_ms : 0) * 1000;
    struct timespec ts = {until_us / 1000000, (until_us % 1000000) * 1000};
    pthread_mutex_lock(&ctx->mu);
    while (!ctx->cancelled && pit_mono_us() < until_us) pthread_cond_timedwait(&ctx->cond, &ctx->mu, &ts);
    int interrupted = ctx->cancelled || deadline_first;
    pthread_mutex_unlock(&ctx->mu);
    return interrupted;
}

static void on_chunk_sent(pit_call *call, int ok, void *arg) {
    (void)call;
    pit_cmd_ctx *ctx = arg;
    pthread_mutex_lock(&ctx->mu);
    ctx->send_done = 1;
    ctx->send_ok = ok;
    pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->mu);
}

static grpc_byte_buffer *chunk_pack(pit_cmd_ctx *ctx, const char *json_text, const uint8_t *payload, size_t len,
                                    int final) {
    Pitboss__V1__StreamChunk chunk = PITBOSS__V1__STREAM_CHUNK__INIT;
    Pitboss__V1__WorkerRef ref = PITBOSS__V1__WORKER_REF__INIT;
    chunk.data_json = (char *)json_text;
    chunk.payload.data = (uint8_t *)payload;
    chunk.payload.len = len;
    chunk.seq = ctx->seq++;
    chunk.is_final = final;
    chunk.timestamp_us = pit_wall_us();
    if (chunk.seq == 0) {
        ref.pid = getpid();
        ref.port = (uint32_t)ctx->worker->port;
        ref.pool = (char *)ctx->worker->pool;
        ref.slot = (uint32_t)ctx->worker->slot;
        chunk.worker = &ref;
    }
    return pit_bb_from_pb(&chunk.base);
}

const pit_command *pit_cmd_command(const pit_cmd_ctx *ctx) { return ctx->cmd; }
const char *pit_cmd_args_text(const pit_cmd_ctx *ctx) { return ctx->req->args_json; }

int pit_cmd_emit_text(pit_cmd_ctx *ctx, const char *json_text, const uint8_t *payload, size_t payload_len) {
    if (!ctx->streaming_call) return -1;
    pthread_mutex_lock(&ctx->mu);
    int cancelled = ctx->cancelled;
    ctx->send_done = 0;
    pthread_mutex_unlock(&ctx->mu);
    if (cancelled) return -1;
    grpc_byte_buffer *bb = chunk_pack(ctx, json_text, payload, payload_len, 0);
    if (pit_call_send(ctx->call, bb, on_chunk_sent, ctx) != 0) return -1;
    pthread_mutex_lock(&ctx->mu);
    while (!ctx->send_done) pthread_cond_wait(&ctx->cond, &ctx->mu);
    int ok = ctx->send_ok;
    pthread_mutex_unlock(&ctx->mu);
    if (ok) atomic_fetch_add(&ctx->worker->chunks_sent, 1);
    return ok ? 0 : -1;
}

int pit_cmd_emit(pit_cmd_ctx *ctx, json_t *data, const uint8_t *payload, size_t payload_len) {
    char *text = data ? pit_json_dump(data) : pit_strdup("null");
    json_decref(data);
    int rc = pit_cmd_emit_text(ctx, text, payload, payload_len);
    free(text);
    return rc;
}

void pit_cmd_result_error(pit_cmd_result *out, grpc_status_code code, const char *fmt, ...) {
    out->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- running and finishing */

static void on_cancel(void *arg) {
    pit_cmd_ctx *ctx = arg;
    pthread_mutex_lock(&ctx->mu);
    ctx->cancelled = 1;
    pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->mu);
}

static void finish(pit_cmd_ctx *ctx, pit_cmd_result *res) {
    pit_worker *w = ctx->worker;
    /* After this the cancel hook cannot run any more, so ctx may be freed below. */
    pit_call_on_cancel(ctx->call, NULL, NULL);
    if (ctx->cancelled) atomic_fetch_add(&w->cancelled, 1);
    double elapsed_ms = (double)(pit_mono_us() - ctx->start_us) / 1000.0;

    if (res->code != GRPC_STATUS_OK) {
        pit_md md[2];
        size_t n = 0;
        if (res->error_type[0]) md[n++] = (pit_md){PIT_MD_ERROR_TYPE, res->error_type, 0};
        if (res->traceback) md[n++] = (pit_md){PIT_MD_TRACEBACK, res->traceback, 0};
        pit_call_finish(ctx->call, res->code, res->message, NULL, md, n);
    } else if (ctx->streaming_call) {
        char *text = res->value_json ? pit_strdup(res->value_json) : res->value ? pit_json_dump(res->value) : pit_strdup("null");
        grpc_byte_buffer *last = chunk_pack(ctx, text, res->payload, res->payload_len, 1);
        free(text);
        pit_call_finish(ctx->call, GRPC_STATUS_OK, "", last, NULL, 0);
    } else {
        Pitboss__V1__ExecuteResponse resp = PITBOSS__V1__EXECUTE_RESPONSE__INIT;
        Pitboss__V1__WorkerRef ref = PITBOSS__V1__WORKER_REF__INIT;
        char *text = res->value_json ? pit_strdup(res->value_json) : res->value ? pit_json_dump(res->value) : pit_strdup("null");
        resp.result_json = text;
        resp.payload.data = res->payload;
        resp.payload.len = res->payload_len;
        ref.pid = getpid();
        ref.port = (uint32_t)w->port;
        ref.pool = (char *)w->pool;
        ref.slot = (uint32_t)w->slot;
        resp.worker = &ref;
        resp.elapsed_ms = elapsed_ms;
        pit_call_finish(ctx->call, GRPC_STATUS_OK, "", pit_bb_from_pb(&resp.base), NULL, 0);
        free(text);
    }
    pit_debug("%s %s: %s in %.3f ms", ctx->streaming_call ? "stream" : "call", ctx->cmd->name,
              res->code == GRPC_STATUS_OK ? "ok" : res->message, elapsed_ms);

    json_decref(res->value);
    free(res->value_json);
    free(res->payload);
    free(res->traceback);
    json_decref(ctx->args);
    pitboss__v1__execute_request__free_unpacked(ctx->req, NULL);
    pthread_mutex_destroy(&ctx->mu);
    pthread_cond_destroy(&ctx->cond);
    int was_cancelled = ctx->cancelled;
    free(ctx);
    atomic_fetch_add(&w->served, 1);
    unsigned running = atomic_fetch_sub(&w->in_flight, 1) - 1;
    int fd = atomic_load(&w->events_fd);
    if (was_cancelled && fd >= 0) {
        /* The supervisor still counts this call (its client left while it ran): tell it it is over. */
        char line[32];
        int n = pit_ended_line_format(line, sizeof line, running);
        ssize_t unused = n > 0 ? write(fd, line, (size_t)n) : 0; /* one short write is atomic on a pipe; EAGAIN: the
                                                       * supervisor's periodic probe still finds out */
        (void)unused;
    }
}

static void run(void *arg) {
    pit_cmd_ctx *ctx = arg;
    pit_cmd_result res;
    memset(&res, 0, sizeof res);
    res.code = GRPC_STATUS_OK;
    if (pit_cmd_cancelled(ctx)) {
        /* Cancelled while waiting for a thread: never started. */
        pit_cmd_result_error(&res, GRPC_STATUS_CANCELLED, "cancelled before it started");
    } else {
        ctx->cmd->run(ctx, ctx->args, &res);
    }
    finish(ctx, &res);
}

void pit_cmd_start(pit_worker *w, pit_call *call, const pit_command *cmd, Pitboss__V1__ExecuteRequest *req,
                   json_t *args, int streaming_call) {
    pit_cmd_ctx *ctx = pit_calloc(1, sizeof *ctx);
    ctx->worker = w;
    ctx->call = call;
    ctx->cmd = cmd;
    ctx->req = req;
    ctx->args = args;
    ctx->streaming_call = streaming_call;
    ctx->start_us = pit_mono_us();
    ctx->deadline = pit_call_deadline(call);
    if (req->timeout_ms) ctx->deadline = pit_deadline_min(ctx->deadline, pit_deadline_in_ms(req->timeout_ms));
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ctx->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_fetch_add(&w->in_flight, 1);
    pit_call_on_cancel(call, on_cancel, ctx);

    if (cmd->quick && !streaming_call) {
        run(ctx);
        return;
    }
    /* Running here saves two thread hand-offs per call (measured: a quarter of a Python worker's
     * CPU went to context switches); there is always another queue thread left to serve. */
    int slots = atomic_load(&w->inline_slots);
    while (slots > 0 && !atomic_compare_exchange_weak(&w->inline_slots, &slots, slots - 1))
        ;
    if (slots > 0) {
        run(ctx);
        atomic_fetch_add(&w->inline_slots, 1);
    } else {
        pit_work_pool_submit(w->threads, run, ctx);
    }
}
