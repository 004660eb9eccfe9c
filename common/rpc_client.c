#include "protocol.h"
#include "alloc.h"
#include "rpc_client.h"

#include <grpc/grpc_security.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cq_loop.h"

struct pit_ccall {
    grpc_call *call;
    grpc_metadata *send_md;
    size_t n_send_md;
    grpc_byte_buffer *request;
    grpc_metadata_array initial_md;
    grpc_byte_buffer *recv;
    grpc_slice details;
    pit_status status;

    pit_tag start_tag;  /* unary: the whole call; stream: send side */
    pit_tag msg_tag;    /* stream: one receive */
    pit_tag status_tag; /* stream: status */
    int stream_ended;   /* the last receive saw the end */
    int status_in;      /* the status op completed */
    atomic_int pending; /* stream: receive + status ops outstanding */

    pit_unary_done_fn unary_done;
    pit_msg_fn msg_fn;
    void *msg_arg;
    pit_status_fn status_fn;
    void *arg;
};

grpc_channel *pit_channel_create(const char *target, size_t max_message_bytes) {
    return pit_channel_create_with(target, max_message_bytes, NULL, 0);
}

grpc_channel *pit_channel_create_with(const char *target, size_t max_message_bytes, const grpc_arg *extra, size_t n_extra) {
    grpc_arg args[16];
    if (n_extra > 14) n_extra = 14;
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)max_message_bytes;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = (int)max_message_bytes;
    for (size_t i = 0; i < n_extra; i++) args[2 + i] = extra[i];
    grpc_channel_args ch_args = {2 + n_extra, args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &ch_args);
    grpc_channel_credentials_release(creds);
    return ch;
}

static pit_ccall *ccall_new(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                            gpr_timespec deadline, const pit_md *md, size_t n_md, grpc_byte_buffer *request) {
    pit_ccall *cc = pit_calloc(1, sizeof *cc);
    grpc_slice m = grpc_slice_from_copied_string(method);
    cc->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL, deadline, NULL);
    grpc_slice_unref(m);
    if (n_md) {
        cc->send_md = pit_calloc(n_md, sizeof(grpc_metadata));
        for (size_t i = 0; i < n_md; i++) {
            size_t vlen = md[i].value_len ? md[i].value_len : strlen(md[i].value);
            cc->send_md[i].key = grpc_slice_from_copied_string(md[i].key);
            cc->send_md[i].value = grpc_slice_from_copied_buffer(md[i].value, vlen);
        }
        cc->n_send_md = n_md;
    }
    cc->request = request;
    grpc_metadata_array_init(&cc->initial_md);
    grpc_metadata_array_init(&cc->status.trailing);
    cc->status.code = GRPC_STATUS_UNKNOWN;
    return cc;
}

static void status_fill(pit_ccall *cc) {
    size_t n = GRPC_SLICE_LENGTH(cc->details);
    cc->status.details = pit_malloc(n + 1);
    memcpy(cc->status.details, GRPC_SLICE_START_PTR(cc->details), n);
    cc->status.details[n] = 0;
}

/* ---------------------------------------------------------------- unary */

static void on_unary_done(pit_tag *tag, int ok) {
    pit_ccall *cc = (pit_ccall *)((char *)tag - offsetof(pit_ccall, start_tag));
    if (!ok) {
        cc->status.code = GRPC_STATUS_INTERNAL;
        cc->details = grpc_slice_from_static_string("the call's operations failed");
    }
    status_fill(cc);
    grpc_byte_buffer *resp = cc->recv;
    cc->recv = NULL;
    if (cc->status.code != GRPC_STATUS_OK && resp) {
        grpc_byte_buffer_destroy(resp);
        resp = NULL;
    }
    cc->unary_done(cc, resp, cc->arg);
}

pit_ccall *pit_ccall_unary(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                           gpr_timespec deadline, const pit_md *md, size_t n_md, grpc_byte_buffer *request,
                           pit_unary_done_fn done, void *arg) {
    pit_ccall *cc = ccall_new(ch, cq, method, deadline, md, n_md, request);
    cc->unary_done = done;
    cc->arg = arg;
    cc->start_tag.fn = on_unary_done;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = cc->n_send_md;
    ops[0].data.send_initial_metadata.metadata = cc->send_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = request;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &cc->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &cc->status.code;
    ops[5].data.recv_status_on_client.status_details = &cc->details;
    ops[5].data.recv_status_on_client.trailing_metadata = &cc->status.trailing;
    if (grpc_call_start_batch(cc->call, ops, 6, &cc->start_tag, NULL) != GRPC_CALL_OK) {
        cc->status.code = GRPC_STATUS_INTERNAL;
        cc->details = grpc_slice_from_static_string("could not start the call");
        status_fill(cc);
        done(cc, NULL, arg);
    }
    return cc;
}

/* ---------------------------------------------------------------- streaming */

/* The status callback is the last one: it runs once the send batch, the status and the final
 * receive have all completed, in whatever order the queue threads deliver them. */
static void stream_maybe_finish(pit_ccall *cc) {
    if (atomic_fetch_sub(&cc->pending, 1) != 1) return;
    status_fill(cc);
    cc->status_fn(cc, cc->arg);
}

static void on_stream_sent(pit_tag *tag, int ok) {
    (void)ok; /* a failed send shows up in the status */
    stream_maybe_finish((pit_ccall *)((char *)tag - offsetof(pit_ccall, start_tag)));
}

static void on_stream_status(pit_tag *tag, int ok) {
    pit_ccall *cc = (pit_ccall *)((char *)tag - offsetof(pit_ccall, status_tag));
    if (!ok) {
        cc->status.code = GRPC_STATUS_INTERNAL;
        cc->details = grpc_slice_from_static_string("the call's status could not be read");
    }
    cc->status_in = 1;
    stream_maybe_finish(cc);
}

static void on_stream_msg(pit_tag *tag, int ok) {
    pit_ccall *cc = (pit_ccall *)((char *)tag - offsetof(pit_ccall, msg_tag));
    grpc_byte_buffer *msg = ok ? cc->recv : NULL;
    if (!ok && cc->recv) grpc_byte_buffer_destroy(cc->recv);
    cc->recv = NULL;
    if (!msg) {
        cc->stream_ended = 1;
        cc->msg_fn(cc, NULL, cc->msg_arg);
        stream_maybe_finish(cc);
        return;
    }
    cc->msg_fn(cc, msg, cc->msg_arg);
}

pit_ccall *pit_ccall_stream_start(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                                  gpr_timespec deadline, const pit_md *md, size_t n_md,
                                  grpc_byte_buffer *request, pit_status_fn status_fn, void *arg) {
    pit_ccall *cc = ccall_new(ch, cq, method, deadline, md, n_md, request);
    cc->status_fn = status_fn;
    cc->arg = arg;
    cc->start_tag.fn = on_stream_sent;
    cc->msg_tag.fn = on_stream_msg;
    cc->status_tag.fn = on_stream_status;
    atomic_init(&cc->pending, 3); /* send batch + status op + the end-of-stream receive */

    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = cc->n_send_md;
    ops[0].data.send_initial_metadata.metadata = cc->send_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = request;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc->initial_md;
    grpc_call_error e1 = grpc_call_start_batch(cc->call, ops, 4, &cc->start_tag, NULL);
    if (e1 != GRPC_CALL_OK) atomic_fetch_sub(&cc->pending, 1); /* no completion will come for it */

    grpc_op st;
    memset(&st, 0, sizeof st);
    st.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    st.data.recv_status_on_client.status = &cc->status.code;
    st.data.recv_status_on_client.status_details = &cc->details;
    st.data.recv_status_on_client.trailing_metadata = &cc->status.trailing;
    grpc_call_error e2 = grpc_call_start_batch(cc->call, &st, 1, &cc->status_tag, NULL);
    if (e2 != GRPC_CALL_OK) {
        cc->status.code = GRPC_STATUS_INTERNAL;
        cc->details = grpc_slice_from_static_string("could not start the call");
        atomic_fetch_sub(&cc->pending, 1);
    }
    if (e1 != GRPC_CALL_OK || e2 != GRPC_CALL_OK) grpc_call_cancel(cc->call, NULL);
    return cc;
}

void pit_ccall_stream_next(pit_ccall *cc, pit_msg_fn msg_fn, void *arg) {
    cc->msg_fn = msg_fn;
    cc->msg_arg = arg;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &cc->recv;
    if (grpc_call_start_batch(cc->call, &op, 1, &cc->msg_tag, NULL) != GRPC_CALL_OK) {
        cc->stream_ended = 1;
        msg_fn(cc, NULL, arg);
        stream_maybe_finish(cc);
    }
}

/* ---------------------------------------------------------------- common */

void pit_ccall_cancel(pit_ccall *cc) { grpc_call_cancel(cc->call, NULL); }
const pit_status *pit_ccall_status(const pit_ccall *cc) { return &cc->status; }

const char *pit_status_metadata(const pit_status *st, const char *key, size_t *len) {
    for (size_t i = 0; i < st->trailing.count; i++) {
        if (grpc_slice_str_cmp(st->trailing.metadata[i].key, key) == 0) {
            if (len) *len = GRPC_SLICE_LENGTH(st->trailing.metadata[i].value);
            return (const char *)GRPC_SLICE_START_PTR(st->trailing.metadata[i].value);
        }
    }
    return NULL;
}

void pit_ccall_free(pit_ccall *cc) {
    if (!cc) return;
    grpc_call_unref(cc->call);
    for (size_t i = 0; i < cc->n_send_md; i++) {
        grpc_slice_unref(cc->send_md[i].key);
        grpc_slice_unref(cc->send_md[i].value);
    }
    free(cc->send_md);
    if (cc->request) grpc_byte_buffer_destroy(cc->request);
    if (cc->recv) grpc_byte_buffer_destroy(cc->recv);
    grpc_metadata_array_destroy(&cc->initial_md);
    grpc_metadata_array_destroy(&cc->status.trailing);
    grpc_slice_unref(cc->details);
    free(cc->status.details);
    free(cc);
}

/* ---------------------------------------------------------------- blocking helpers */

static char *md_dup(const pit_status *st, const char *key) {
    size_t n;
    const char *v = pit_status_metadata(st, key, &n);
    if (!v) return NULL;
    char *s = pit_malloc(n + 1);
    memcpy(s, v, n);
    s[n] = 0;
    return s;
}

static void result_fill(pit_call_result *r, const pit_status *st) {
    if (!r) return;
    r->code = st->code;
    r->details = pit_strdup(st->details ? st->details : "");
    r->error_type = md_dup(st, PIT_MD_ERROR_TYPE);
    r->traceback = md_dup(st, PIT_MD_TRACEBACK);
}

void pit_call_result_free(pit_call_result *r) {
    free(r->details);
    free(r->error_type);
    free(r->traceback);
    memset(r, 0, sizeof *r);
}

typedef struct {
    int done;
    grpc_byte_buffer *resp;
} unary_wait;

static void unary_blocking_done(pit_ccall *cc, grpc_byte_buffer *resp, void *arg) {
    (void)cc;
    unary_wait *w = arg;
    w->resp = resp;
    w->done = 1;
}

static void drain_and_destroy(grpc_completion_queue *cq) {
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

grpc_byte_buffer *pit_unary_blocking(grpc_channel *ch, const char *method, int64_t timeout_ms,
                                     const pit_md *md, size_t n_md, grpc_byte_buffer *request,
                                     pit_call_result *result) {
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    unary_wait w = {0, NULL};
    pit_ccall *cc = pit_ccall_unary(ch, cq, method, pit_deadline_in_ms(timeout_ms), md, n_md, request,
                                    unary_blocking_done, &w);
    pit_cq_run_until(cq, (volatile int *)&w.done);
    result_fill(result, pit_ccall_status(cc));
    pit_ccall_free(cc);
    drain_and_destroy(cq);
    return w.resp;
}

typedef struct {
    int done;
    int (*on_msg)(grpc_byte_buffer *, void *);
    void *arg;
} stream_wait;

static void stream_blocking_msg(pit_ccall *cc, grpc_byte_buffer *msg, void *arg) {
    stream_wait *w = arg;
    if (!msg) return;
    int stop = w->on_msg(msg, w->arg);
    grpc_byte_buffer_destroy(msg);
    if (stop) pit_ccall_cancel(cc);
    pit_ccall_stream_next(cc, stream_blocking_msg, w);
}

static void stream_blocking_status(pit_ccall *cc, void *arg) {
    (void)cc;
    ((stream_wait *)arg)->done = 1;
}

grpc_status_code pit_stream_blocking(grpc_channel *ch, const char *method, int64_t timeout_ms, const pit_md *md,
                                     size_t n_md, grpc_byte_buffer *request,
                                     int (*on_msg)(grpc_byte_buffer *msg, void *arg), void *arg,
                                     pit_call_result *result) {
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    stream_wait w = {0, on_msg, arg};
    pit_ccall *cc = pit_ccall_stream_start(ch, cq, method, pit_deadline_in_ms(timeout_ms), md, n_md, request,
                                           stream_blocking_status, &w);
    pit_ccall_stream_next(cc, stream_blocking_msg, &w);
    pit_cq_run_until(cq, (volatile int *)&w.done);
    grpc_status_code code = pit_ccall_status(cc)->code;
    result_fill(result, pit_ccall_status(cc));
    pit_ccall_free(cc);
    drain_and_destroy(cq);
    return code;
}
