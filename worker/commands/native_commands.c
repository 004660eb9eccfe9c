/* The native worker's built-in commands: the ones every pitboss worker answers. */
#include "commands/native_commands.h"
#include "alloc.h"

#include "commands/circuit_commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

static void cmd_ping(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) {
    (void)ctx;
    (void)args;
    out->value = json_pack("{s:b, s:i}", "pong", 1, "pid", (json_int_t)getpid());
}

static void cmd_echo(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) {
    size_t len;
    const uint8_t *payload = pit_cmd_payload(ctx, &len);
    out->value = json_incref(args);
    if (len) {
        out->payload = pit_malloc(len);
        memcpy(out->payload, payload, len);
        out->payload_len = len;
    }
}

static int int_arg(json_t *args, const char *key, json_int_t def, json_int_t min, json_int_t max, json_int_t *out,
                   pit_cmd_result *res) {
    json_t *v = json_object_get(args, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) {
        pit_cmd_result_error(res, GRPC_STATUS_INVALID_ARGUMENT, "argument \"%s\" must be an integer", key);
        return -1;
    }
    *out = json_integer_value(v);
    if (*out < min || *out > max) {
        pit_cmd_result_error(res, GRPC_STATUS_INVALID_ARGUMENT, "argument \"%s\" must be between %lld and %lld, got %lld",
                             key, (long long)min, (long long)max, (long long)*out);
        return -1;
    }
    return 0;
}

#define N_PARAMS(a) (sizeof(a) / sizeof(a)[0])

static int no_unknown_args(json_t *args, const char *cmd, const pit_cmd_param *params, size_t n,
                           pit_cmd_result *res) {
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        int known = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(params[i].name, key) == 0) known = 1;
        if (!known) {
            pit_cmd_result_error(res, GRPC_STATUS_INVALID_ARGUMENT, "%s() got an unexpected argument \"%s\"", cmd, key);
            return -1;
        }
    }
    return 0;
}

static const pit_cmd_param sleep_params[] = {{"ms", "int", 1, NULL}};

static void cmd_sleep(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) {
    json_int_t ms;
    if (no_unknown_args(args, "sleep", sleep_params, N_PARAMS(sleep_params), out) || int_arg(args, "ms", -1, 0, 86400000, &ms, out)) return;
    if (ms < 0) {
        pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "sleep() needs the argument \"ms\"");
        return;
    }
    int64_t start = pit_mono_us();
    if (pit_cmd_sleep_ms(ctx, ms)) {
        if (pit_cmd_cancelled(ctx))
            pit_cmd_result_error(out, GRPC_STATUS_CANCELLED, "sleep was cancelled after %lld ms",
                                 (long long)((pit_mono_us() - start) / 1000));
        else
            pit_cmd_result_error(out, GRPC_STATUS_DEADLINE_EXCEEDED, "deadline passed after %lld of %lld ms of sleep",
                                 (long long)((pit_mono_us() - start) / 1000), (long long)ms);
        return;
    }
    out->value = json_pack("{s:I}", "slept_ms", (json_int_t)((pit_mono_us() - start) / 1000));
}

static const pit_cmd_param ping_stream_params[] = {
    {"count", "int", 0, "5"}, {"interval_ms", "int", 0, "0"}, {"payload_bytes", "int", 0, "0"}};

static void cmd_ping_stream(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) {
    json_int_t count, interval, payload_bytes;
    if (no_unknown_args(args, "ping_stream", ping_stream_params, N_PARAMS(ping_stream_params), out) ||
        int_arg(args, "count", 5, 0, 100000000, &count, out) || int_arg(args, "interval_ms", 0, 0, 3600000, &interval, out) ||
        int_arg(args, "payload_bytes", 0, 0, 16 << 20, &payload_bytes, out))
        return;
    /* Each chunk may carry payload_bytes of raw data (a stand-in for real results, for tests and benchmarks). */
    uint8_t *payload = payload_bytes ? pit_malloc((size_t)payload_bytes) : NULL;
    for (json_int_t i = 0; i < payload_bytes; i++) payload[i] = (uint8_t)(i * 31 + 7);
    json_int_t sent = 0;
    for (json_int_t i = 0; i < count; i++) {
        if (i > 0 && interval > 0 && pit_cmd_sleep_ms(ctx, interval)) break;
        char msg[48];
        snprintf(msg, sizeof msg, "pong %lld of %lld", (long long)(i + 1), (long long)count);
        json_t *chunk = json_pack("{s:I, s:I, s:s}", "ping", i + 1, "count", count, "message", msg);
        if (pit_cmd_emit(ctx, chunk, payload, (size_t)payload_bytes) != 0) break;
        sent++;
    }
    free(payload);
    if (sent < count) {
        if (pit_cmd_cancelled(ctx) || pit_cmd_deadline_passed(ctx))
            pit_cmd_result_error(out, pit_cmd_cancelled(ctx) ? GRPC_STATUS_CANCELLED : GRPC_STATUS_DEADLINE_EXCEEDED,
                                 "ping_stream stopped after %lld of %lld chunks", (long long)sent, (long long)count);
        else
            pit_cmd_result_error(out, GRPC_STATUS_CANCELLED, "the client went away after %lld of %lld chunks",
                                 (long long)sent, (long long)count);
        return;
    }
    out->value = json_pack("{s:b, s:I}", "done", 1, "sent", sent);
}

static const pit_cmd_param fail_params[] = {{"message", "str", 0, "\"fail was called\""}};

static void cmd_fail(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) {
    (void)ctx;
    json_t *m = json_object_get(args, "message");
    pit_cmd_result_error(out, GRPC_STATUS_UNKNOWN, "%s", json_is_string(m) ? json_string_value(m) : "fail was called");
    snprintf(out->error_type, sizeof out->error_type, "CommandFailed");
}

static const pit_cmd_param echo_params[] = {{"...", "any", 0, NULL}};

static const pit_command ping_cmd = {"ping", "Answers {\"pong\": true, \"pid\": <worker pid>}.", 0, 1, NULL, 0, cmd_ping};
static const pit_command echo_cmd = {"echo", "Returns its arguments and its payload byte for byte.", 0, 1,
                                     echo_params, 1, cmd_echo};
static const pit_command sleep_cmd = {"sleep", "Waits {\"ms\": N} milliseconds; honours the deadline and cancel.", 0,
                                      0, sleep_params, 1, cmd_sleep};
static const pit_command ping_stream_cmd = {
    "ping_stream",
    "Streams {\"count\": N} chunks, {\"interval_ms\": M} apart (each with payload_bytes of raw data), then a final chunk.",
    1, 0,
    ping_stream_params, 2, cmd_ping_stream};
static const pit_command fail_cmd = {"fail", "Fails with {\"message\": ...}: a handler error.", 0, 1, fail_params, 1,
                                     cmd_fail};

static const pit_command *const basic_commands[] = {&ping_cmd, &echo_cmd, &sleep_cmd, &ping_stream_cmd, &fail_cmd};
static const pit_command *native_commands[16];

const pit_command *const *pit_native_commands(size_t *n) {
    size_t k = 0, n_engine;
    for (size_t i = 0; i < sizeof basic_commands / sizeof basic_commands[0]; i++) native_commands[k++] = basic_commands[i];
    const pit_command *const *engine = pit_engine_commands(&n_engine);
    for (size_t i = 0; i < n_engine; i++) native_commands[k++] = engine[i];
    *n = k;
    return native_commands;
}
