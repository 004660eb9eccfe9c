/*
 * Proxying one call to its worker: the request goes over as received; the answer comes back as the
 * worker encoded it (its WorkerRef is whole), with session_reset appended when it applies. Streams move one chunk at a time each way: the next
 * chunk is read from the worker only once the previous one was handed to the client, so a slow
 * reader slows the worker and the supervisor holds at most one chunk per stream.
 */
#include <grpc/byte_buffer_reader.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "alloc.h"
#include "buffers.h"
#include "clock.h"
#include "log.h"
#include "pitboss.pb-c.h"
#include "routing/router.h"


void pit_proxy_release(pit_proxy *px) {
    pthread_mutex_lock(&px->sup->mu);
    int left = --px->refs;
    if (!left && px->listed) {
        if (px->sprev)
            px->sprev->snext = px->snext;
        else
            px->sup->streams = px->snext;
        if (px->snext) px->snext->sprev = px->sprev;
    }
    pthread_mutex_unlock(&px->sup->mu);
    if (left) return;
    if (px->req) grpc_byte_buffer_destroy(px->req);
    free(px->session_id);
    free(px->worker_details);
    free(px);
}

/* msg + extra as one buffer, without copying msg: a scalar field that appears again later in an
 * encoding replaces the earlier value, in every protobuf decoder. */
static grpc_byte_buffer *append_fields(grpc_byte_buffer *msg, const ProtobufCMessage *extra) {
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, msg)) return msg;
    grpc_slice parts[64];
    size_t n = 0;
    grpc_slice s;
    while (n < 63 && grpc_byte_buffer_reader_next(&r, &s)) parts[n++] = s;
    int complete = !grpc_byte_buffer_reader_next(&r, &s);
    if (!complete) grpc_slice_unref(s);
    grpc_byte_buffer_reader_destroy(&r);
    if (!complete) {
        /* More slices than we hold: flatten (rare; only for very large messages). */
        for (size_t i = 0; i < n; i++) grpc_slice_unref(parts[i]);
        parts[0] = pit_bb_to_slice(msg);
        n = 1;
    }
    size_t len = protobuf_c_message_get_packed_size(extra);
    parts[n] = grpc_slice_malloc(len);
    protobuf_c_message_pack(extra, GRPC_SLICE_START_PTR(parts[n]));
    n++;
    grpc_byte_buffer *out = grpc_raw_byte_buffer_create(parts, n);
    for (size_t i = 0; i < n; i++) grpc_slice_unref(parts[i]);
    grpc_byte_buffer_destroy(msg);
    return out;
}

void pit_proxy_finish(pit_proxy *px, grpc_status_code code, const char *details, grpc_byte_buffer *resp,
                      const pit_md *trailing, size_t n_trailing) {
    if (px->front) {
        pit_call_finish(px->front, code, details, resp, trailing, n_trailing);
    } else {
        px->on_done(px, code, details ? details : "", resp);
    }
}

void pit_proxy_fail(pit_proxy *px, grpc_status_code code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pit_proxy_finish(px, code, msg, NULL, NULL, 0);
}


static void finish_with_worker_status(pit_proxy *px, const pit_status *st) {
    if (px->shutdown_cut) {
        if (px->sup->fast_stop)
            pit_proxy_fail(px, GRPC_STATUS_ABORTED, "pitboss was told to stop at once (SIGQUIT) and cut this %s; it "
                           "may have run in part: retry it only if running it twice is safe",
                           px->streaming ? "stream" : "call");
        else
            pit_proxy_fail(px, GRPC_STATUS_ABORTED, "pitboss is stopping and cut this %s after timeouts.graceful_ms "
                           "(%lld ms); it may have run in part: retry it only if running it twice is safe",
                           px->streaming ? "stream" : "call", (long long)px->sup->cfg.timeouts.graceful_ms);
        return;
    }
    if (px->drain_cut) {
        /* The supervisor cut it (its worker was being replaced): say so, and that retrying is safe to try. */
        pit_proxy_fail(px, GRPC_STATUS_UNAVAILABLE, "the call was cut after %lld ms: worker %d of pool \"%s\" is being "
                       "replaced (reload, recycle or a smaller pool) and timeouts.graceful_ms passed; retry it",
                       (long long)px->sup->cfg.timeouts.graceful_ms, px->slot->index, px->pool->cfg->name);
        return;
    }
    pit_md md[2];
    size_t n = 0, len;
    const char *v;
    if ((v = pit_status_metadata(st, PIT_MD_ERROR_TYPE, &len))) md[n++] = (pit_md){PIT_MD_ERROR_TYPE, v, len};
    if ((v = pit_status_metadata(st, PIT_MD_TRACEBACK, &len))) {
        if (px->sup->cfg.errors.expose_traceback) {
            md[n++] = (pit_md){PIT_MD_TRACEBACK, v, len};
        } else {
            /* Production: tracebacks and the paths in them stay on this host; the client gets the
             * exception's type and message. */
            pit_warn("%s %s of pool \"%s\" (worker %d, pid %d) failed: %s. Traceback: %.*s", px->streaming ? "stream" : "call",
                     px->command, px->pool->cfg->name, px->slot->index, (int)px->pid_at_dispatch,
                     st->details ? st->details : "", (int)len, v);
        }
    }
    if (st->code == GRPC_STATUS_DEADLINE_EXCEEDED && px->deadline_why[0]) {
        /* Say which limit it was: the client's deadline, the request's timeout_ms or the server's default. */
        char details[512];
        snprintf(details, sizeof details, "deadline exceeded after %lld ms on worker %d of pool \"%s\": the limit was "
                 "%s (%.200s)", (long long)((pit_mono_us() - px->arrived_us) / 1000), px->slot->index,
                 px->pool->cfg->name, px->deadline_why, st->details ? st->details : "");
        pit_proxy_finish(px, st->code, details, NULL, md, n);
        return;
    }
    pit_proxy_finish(px, st->code, st->details, NULL, md, n);
}

/* The worker call is over: it may not be cancelled through px any more. */
static void worker_call_over(pit_proxy *px) {
    pthread_mutex_lock(&px->sup->mu);
    px->worker_done = 1;
    px->cc = NULL;
    pthread_mutex_unlock(&px->sup->mu);
    /* Nor may the client's cancel reach px after this. */
    if (px->front) pit_call_on_cancel(px->front, NULL, NULL);
}

/* What ends both kinds of call once the worker's status is in. */
static void worker_status_in(pit_proxy *px, pit_ccall *cc, grpc_byte_buffer *unary_resp) {
    const pit_status *st = pit_ccall_status(cc);
    grpc_status_code code = st->code;
    worker_call_over(px);
    if (code == GRPC_STATUS_UNAVAILABLE) {
        char *details = pit_strdup(st->details ? st->details : "");
        pit_ccall_free(cc);
        pit_router_worker_failed(px, code, details);
        free(details);
        return;
    }
    pit_router_count_call(px, code);
    if (code != GRPC_STATUS_OK) {
        finish_with_worker_status(px, st);
    } else if (unary_resp && !px->front) {
        pit_proxy_finish(px, GRPC_STATUS_OK, "", unary_resp, NULL, 0);
        unary_resp = NULL;
    } else if (unary_resp) {
        /* The worker's answer goes on as it is (its WorkerRef already names pool and slot); only a
         * session reset, a scalar field, is appended (a later scalar replaces an earlier one). */
        if (px->session_reset) {
            Pitboss__V1__ExecuteResponse extra = PITBOSS__V1__EXECUTE_RESPONSE__INIT;
            extra.session_reset = 1;
            unary_resp = append_fields(unary_resp, &extra.base);
        }
        pit_call_finish(px->front, GRPC_STATUS_OK, "", unary_resp, NULL, 0);
        unary_resp = NULL;
    } else {
        pit_proxy_finish(px, GRPC_STATUS_OK, "", NULL, NULL, 0);
    }
    if (unary_resp) grpc_byte_buffer_destroy(unary_resp);
    pit_ccall_free(cc);
    pit_router_call_done(px, code);
}

static void on_unary_done(pit_ccall *cc, grpc_byte_buffer *resp, void *arg) { worker_status_in(arg, cc, resp); }

static void on_stream_status(pit_ccall *cc, void *arg) { worker_status_in(arg, cc, NULL); }

static void on_stream_msg(pit_ccall *cc, grpc_byte_buffer *msg, void *arg);

static void on_front_sent(pit_call *front, int ok, void *arg) {
    (void)front;
    pit_proxy *px = arg;
    atomic_store_explicit(&px->send_since_us, 0, memory_order_relaxed);
    if (!ok) pit_ccall_cancel(px->stream_cc); /* the client is gone: stop the worker */
    pit_ccall_stream_next(px->stream_cc, on_stream_msg, px);
}

static void on_stream_msg(pit_ccall *cc, grpc_byte_buffer *msg, void *arg) {
    pit_proxy *px = arg;
    if (!msg) return; /* end of stream: the status callback follows */
    px->stream_cc = cc;
    if (!px->first_chunk_sent) {
        if (px->session_reset) {
            Pitboss__V1__StreamChunk extra = PITBOSS__V1__STREAM_CHUNK__INIT;
            extra.session_reset = 1;
            msg = append_fields(msg, &extra.base);
        }
        px->first_chunk_sent = 1;
    }
    atomic_store_explicit(&px->send_since_us, pit_mono_us(), memory_order_relaxed);
    if (pit_call_send(px->front, msg, on_front_sent, px) != 0) {
        atomic_store_explicit(&px->send_since_us, 0, memory_order_relaxed);
        pit_ccall_cancel(cc);
        pit_ccall_stream_next(cc, on_stream_msg, px);
    }
}

void pit_proxy_dispatch(pit_proxy *px) {
    pit_sup *sup = px->sup;
    pit_md md = {PIT_MD_TOKEN, sup->token, 0};
    gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    if (px->deadline_us != INT64_MAX) {
        deadline.tv_sec = px->deadline_us / 1000000;
        deadline.tv_nsec = (int32_t)((px->deadline_us % 1000000) * 1000);
    }
    grpc_byte_buffer *req = px->req;
    px->req = NULL;
    pit_ccall *cc;
    if (px->streaming) {
        cc = pit_ccall_stream_start(px->chan->ch, sup->cq, "/pitboss.v1.Pool/ExecuteStream", deadline, &md, 1, req,
                                    on_stream_status, px);
        px->stream_cc = cc;
        pit_ccall_stream_next(cc, on_stream_msg, px);
    } else {
        cc = pit_ccall_unary(px->chan->ch, sup->cq, "/pitboss.v1.Pool/Execute", deadline, &md, 1, req, on_unary_done, px);
    }
    pthread_mutex_lock(&sup->mu);
    if (!px->worker_done) {
        px->cc = cc;
        if (px->cancelled) pit_ccall_cancel(cc);
    }
    if (px->front && !px->listed) {
        px->listed = 1;
        px->sprev = NULL;
        px->snext = sup->streams;
        if (sup->streams) sup->streams->sprev = px;
        sup->streams = px;
    }
    pthread_mutex_unlock(&sup->mu);
    pit_proxy_release(px); /* the dispatcher's reference */
}
