/*
 * A gRPC server over the C core: registered methods, one call object per incoming call, sends
 * with at most one message in flight, client-cancel detection, deadlines, status with trailing
 * metadata, and an optional shared-secret token checked on every call.
 *
 * Ownership: a pit_call is handed to the method function, which must eventually call
 * pit_call_finish exactly once (from any thread). The call's memory lives until that and every
 * operation it started have completed; callers never free it.
 */
#ifndef PIT_RPC_SERVER_H
#define PIT_RPC_SERVER_H

#include <grpc/grpc.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pit_server pit_server;
typedef struct pit_call pit_call;

/* A key/value pair of call metadata. Keys ending in "-bin" carry binary values. */
typedef struct {
    const char *key;
    const char *value;
    size_t value_len; /* 0: strlen(value) */
} pit_md;

/* Runs on a queue thread when a call to the method arrives with its request message, which it
 * now owns (grpc_byte_buffer_destroy); req == NULL when the client sent none. Must not block. */
typedef void (*pit_method_fn)(pit_call *call, grpc_byte_buffer *req, void *arg);

/* Runs on a queue thread when a send completed; ok == 0 means the client is gone. */
typedef void (*pit_send_done_fn)(pit_call *call, int ok, void *arg);

/* max_receive_bytes: largest request accepted (gRPC's default is 4 MiB). */
pit_server *pit_server_create(grpc_completion_queue *cq, size_t max_receive_bytes);
/* Calls must carry metadata "x-pitboss-token: <token>", else PERMISSION_DENIED. NULL: no check. */
void pit_server_require_token(pit_server *s, const char *token);
/* method: the full path, "/pitboss.v1.Pool/Execute". Before pit_server_start. */
void pit_server_add_method(pit_server *s, const char *method, pit_method_fn fn, void *arg);
/* A method whose client streams (client-streaming or bidirectional): fn gets req == NULL and
 * reads the client's messages with pit_call_recv. */
void pit_server_add_streaming_method(pit_server *s, const char *method, pit_method_fn fn, void *arg);
/* Binds an insecure listener; returns the bound port, 0 when the address cannot be bound. */
int pit_server_listen(pit_server *s, const char *addr);
/* accept_depth: how many calls per method may be waiting to be accepted at once. */
void pit_server_start(pit_server *s, int accept_depth);
/* Stops accepting calls, lets running ones finish for up to grace_ms (cancels the rest after
 * that), and returns when every call has ended. The queue threads must still be running. */
void pit_server_shutdown(pit_server *s, int64_t grace_ms);
/* fn(arg) runs once, from pit_server_shutdown, when the grace period is over with calls running,
 * before they are cancelled: it may end them with a status of its own (they get up to 500 ms). */
void pit_server_set_grace_hook(pit_server *s, void (*fn)(void *arg), void *arg);
/* With a message, pit_server_shutdown drains first: it keeps listening while running calls finish
 * (up to grace_ms) and answers every new call UNAVAILABLE with the message. Before pit_server_start. */
void pit_server_set_drain_message(pit_server *s, const char *message);
void pit_server_destroy(pit_server *s);
/* Calls accepted and not yet ended. */
int pit_server_calls_active(pit_server *s);

/* --- one call --- */
const char *pit_call_method(const pit_call *c);
/* Request metadata value for key (NULL if absent); *len gets its length. */
const char *pit_call_metadata(const pit_call *c, const char *key, size_t *len);
/* The client's deadline (GPR_CLOCK_MONOTONIC; infinite when none). */
gpr_timespec pit_call_deadline(const pit_call *c);
/* Non-zero once the client cancelled, its deadline passed, or the connection broke. */
int pit_call_cancelled(const pit_call *c);
/* fn(arg) runs once when the call is cancelled (at once, here, if it already is). It runs under the
 * call's lock: it must be quick and must not call pit_call_* on this call. fn == NULL clears the
 * hook; once that returned, the old hook will not run. */
void pit_call_on_cancel(pit_call *c, void (*fn)(void *arg), void *arg);
/* fn(arg, cancelled) runs once when the call is over on the wire: its status was sent, or the
 * client cancelled, its deadline passed or the connection broke (cancelled != 0). It runs on a queue
 * thread outside the call's lock, so it may finish the call (at once, here, if it is already over).
 * It cannot be withdrawn: arg must live until it has run (hold a reference for it). */
void pit_call_on_close(pit_call *c, void (*fn)(void *arg, int cancelled), void *arg);
/* Cancels the call from the server side (any thread). */
void pit_call_cancel(pit_call *c);

/* Sends one message (taking ownership of msg); initial metadata goes with the first. Returns -1
 * (and destroys msg) if a send is already in flight or the call was finished. */
int pit_call_send(pit_call *c, grpc_byte_buffer *msg, pit_send_done_fn done, void *arg);
/* Runs on a queue thread with the client's next message (owned by fn), or NULL once the client has
 * closed its side or the call is over. */
typedef void (*pit_recv_fn)(pit_call *call, grpc_byte_buffer *msg, void *arg);
/* Reads the client's next message (one read at a time; it may overlap a send). -1: the call was
 * already finished (fn does not run). */
int pit_call_recv(pit_call *c, pit_recv_fn fn, void *arg);

/* Ends the call: an optional last message (owned from here on), the status and its message,
 * trailing metadata (copied). Safe from any thread, but not while a send is in flight. */
void pit_call_finish(pit_call *c, grpc_status_code code, const char *details, grpc_byte_buffer *last,
                     const pit_md *trailing, size_t n_trailing);
/* Convenience: finish with a status and a printf-style message. */
void pit_call_finish_error(pit_call *c, grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The request decoded as desc's message type (free with protobuf_c_message_free_unpacked); req is
 * destroyed. When it is not such a message, the call is finished with INVALID_ARGUMENT naming the
 * type, and NULL returned. */
struct ProtobufCMessageDescriptor;
void *pit_call_unpack(pit_call *c, const struct ProtobufCMessageDescriptor *desc, grpc_byte_buffer *req);

/* Handler-owned pointer (e.g. proxy state). */
void pit_call_set_user(pit_call *c, void *user);
void *pit_call_get_user(const pit_call *c);

#endif
