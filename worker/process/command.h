/*
 * What a worker command is, and what a running command sees (its context).
 *
 * A command runs either inline on a completion-queue thread (only quick commands that neither
 * block nor stream) or on one of the worker's command threads. A streaming command emits chunks
 * with pit_cmd_emit, which blocks until the previous chunk left: one chunk in flight per call,
 * so a slow reader slows the command and memory stays flat.
 */
#ifndef PIT_WORKER_COMMAND_H
#define PIT_WORKER_COMMAND_H

#include <grpc/status.h>
#include <grpc/support/time.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pit_cmd_ctx pit_cmd_ctx;

/* What a command answers: a JSON value and optional raw bytes, or an error. */
typedef struct {
    grpc_status_code code; /* GRPC_STATUS_OK unless the command failed */
    char message[1024];
    char error_type[96];   /* for a handler's own failure: e.g. "ValueError" */
    char *traceback;       /* malloc'd, optional */
    json_t *value;         /* owned; NULL means null */
    char *value_json;      /* malloc'd JSON text: used instead of value when set */
    uint8_t *payload;      /* malloc'd, optional */
    size_t payload_len;
} pit_cmd_result;

typedef struct {
    const char *name;
    const char *type;
    int required;
    const char *default_json;
} pit_cmd_param;

typedef struct {
    const char *name;
    const char *doc;
    int streaming;
    int quick; /* never blocks: may run on a queue thread */
    const pit_cmd_param *params;
    size_t n_params;
    void (*run)(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out);
} pit_command;

/* --- for commands --- */
const uint8_t *pit_cmd_payload(const pit_cmd_ctx *ctx, size_t *len);
const char *pit_cmd_session_id(const pit_cmd_ctx *ctx);
/* Non-zero once the client cancelled or the deadline passed. */
int pit_cmd_cancelled(const pit_cmd_ctx *ctx);
/* The effective deadline (the call's, or the request's timeout_ms if sooner). */
gpr_timespec pit_cmd_deadline(const pit_cmd_ctx *ctx);
int pit_cmd_deadline_passed(const pit_cmd_ctx *ctx);
/* Waits up to ms milliseconds, returning early (non-zero) on cancel or deadline. */
int pit_cmd_sleep_ms(pit_cmd_ctx *ctx, int64_t ms);
/* Sends a stream chunk (takes data; payload copied). Blocks until it left. Returns 0, or -1 when
 * the client is gone (stop producing). Only for streaming commands. */
int pit_cmd_emit(pit_cmd_ctx *ctx, json_t *data, const uint8_t *payload, size_t payload_len);
/* The same with the chunk's data as JSON text (not checked). */
int pit_cmd_emit_text(pit_cmd_ctx *ctx, const char *json_text, const uint8_t *payload, size_t payload_len);
const pit_command *pit_cmd_command(const pit_cmd_ctx *ctx);
/* The request's args, as the JSON text the client sent. */
const char *pit_cmd_args_text(const pit_cmd_ctx *ctx);

void pit_cmd_result_error(pit_cmd_result *out, grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
