/*
 * gRPC client calls over the C core, callback style on a completion queue (see cq_loop.h), plus
 * blocking helpers for single-threaded tools.
 *
 * Ownership: pit_ccall_* create a call owned by the caller, who frees it with pit_ccall_free once
 * its final callback (status) has run. Received messages are handed to callbacks, who own them.
 */
#ifndef PIT_RPC_CLIENT_H
#define PIT_RPC_CLIENT_H

#include <grpc/grpc.h>
#include <stddef.h>

#include "rpc_server.h" /* pit_md */

typedef struct pit_ccall pit_ccall;

/* Status of a finished call. */
typedef struct {
    grpc_status_code code;
    char *details;                   /* NUL-terminated, owned by the call */
    grpc_metadata_array trailing;    /* owned by the call */
} pit_status;

/* An insecure channel with pitboss's message size limit, and extra channel arguments if any. */
grpc_channel *pit_channel_create(const char *target, size_t max_message_bytes);
grpc_channel *pit_channel_create_with(const char *target, size_t max_message_bytes, const grpc_arg *extra, size_t n_extra);

/* Unary: done(cc, arg) runs once with the response (NULL unless status is OK; the callback owns
 * it) and the status in pit_ccall_status(cc). */
typedef void (*pit_unary_done_fn)(pit_ccall *cc, grpc_byte_buffer *response, void *arg);
pit_ccall *pit_ccall_unary(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                           gpr_timespec deadline, const pit_md *md, size_t n_md, grpc_byte_buffer *request,
                           pit_unary_done_fn done, void *arg);

/* Server streaming: start sends the request (owned by the call from here on). Then each
 * pit_ccall_stream_next asks for one message: msg_fn(cc, msg, arg) gets it (the callback owns it),
 * or NULL at the end of the stream. status_fn(cc, arg) runs once when the status is in, always
 * after the last msg_fn; it is the last callback. */
typedef void (*pit_msg_fn)(pit_ccall *cc, grpc_byte_buffer *msg, void *arg);
typedef void (*pit_status_fn)(pit_ccall *cc, void *arg);
pit_ccall *pit_ccall_stream_start(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                                  gpr_timespec deadline, const pit_md *md, size_t n_md,
                                  grpc_byte_buffer *request, pit_status_fn status_fn, void *arg);
void pit_ccall_stream_next(pit_ccall *cc, pit_msg_fn msg_fn, void *arg);

/* From any thread: cancels the call (its callbacks still run, with CANCELLED). */
void pit_ccall_cancel(pit_ccall *cc);
const pit_status *pit_ccall_status(const pit_ccall *cc);
/* Trailing metadata value (NULL if absent). */
const char *pit_status_metadata(const pit_status *st, const char *key, size_t *len);
void pit_ccall_free(pit_ccall *cc);

/* --- blocking helpers (own completion queue; not for queue threads) --- */

/* A unary call; returns the status code and fills *response (caller destroys) and, if given,
 * *details (caller frees) and trailing values of the two pitboss error keys. */
typedef struct {
    grpc_status_code code;
    char *details;
    char *error_type; /* x-pitboss-error-type */
    char *traceback;  /* x-pitboss-traceback-bin */
} pit_call_result;
void pit_call_result_free(pit_call_result *r);

grpc_byte_buffer *pit_unary_blocking(grpc_channel *ch, const char *method, int64_t timeout_ms,
                                     const pit_md *md, size_t n_md, grpc_byte_buffer *request,
                                     pit_call_result *result);

/* A server-streaming call: on_msg(msg, arg) for each message (it must not keep msg; returning
 * non-zero cancels the call). Returns the status code. */
grpc_status_code pit_stream_blocking(grpc_channel *ch, const char *method, int64_t timeout_ms, const pit_md *md,
                                     size_t n_md, grpc_byte_buffer *request,
                                     int (*on_msg)(grpc_byte_buffer *msg, void *arg), void *arg,
                                     pit_call_result *result);

#endif
