/* The gRPC layer (rpc_server, rpc_client, cq_loop) in one process over loopback. */
#include <criterion/criterion.h>
#include <grpc/grpc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffers.h"
#include "clock.h"
#include "cq_loop.h"
#include "grpc_tuning.h"
#include "rpc_client.h"
#include "rpc_server.h"

static grpc_completion_queue *cq;
static pit_server *server;
static pit_cq_loop *loop;
static grpc_channel *ch;
static atomic_int hang_cancelled;

/* Unary: answers with the request bytes reversed. */
static void on_reverse(pit_call *call, grpc_byte_buffer *req, void *arg) {
    (void)arg;
    grpc_slice s = pit_bb_to_slice(req);
    grpc_byte_buffer_destroy(req);
    size_t n = GRPC_SLICE_LENGTH(s);
    uint8_t *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) out[i] = GRPC_SLICE_START_PTR(s)[n - 1 - i];
    grpc_slice_unref(s);
    pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_data(out, n), NULL, 0);
    free(out);
}

/* Streaming: sends bytes 0..N-1 (N = first request byte), one send in flight, then OK. */
typedef struct {
    int next, total;
} stream_state;

static void stream_step(pit_call *call, int ok, void *arg) {
    stream_state *st = arg;
    if (!ok || st->next == st->total) {
        pit_call_finish(call, ok ? GRPC_STATUS_OK : GRPC_STATUS_CANCELLED, "", NULL, NULL, 0);
        free(st);
        return;
    }
    uint8_t b = (uint8_t)st->next++;
    /* A second send while one is in flight must be refused. */
    cr_assert_eq(pit_call_send(call, pit_bb_from_data(&b, 1), stream_step, st), 0);
}

static void on_count(pit_call *call, grpc_byte_buffer *req, void *arg) {
    (void)arg;
    grpc_slice s = pit_bb_to_slice(req);
    grpc_byte_buffer_destroy(req);
    stream_state *st = calloc(1, sizeof *st);
    st->total = GRPC_SLICE_LENGTH(s) ? GRPC_SLICE_START_PTR(s)[0] : 0;
    grpc_slice_unref(s);
    stream_step(call, 1, st);
}

/* Never answers by itself: finishes when the client cancels or its deadline passes. */
static void hang_cancelled_cb(void *arg) {
    pit_call *call = arg;
    atomic_store(&hang_cancelled, 1);
    (void)call;
}

static pit_call *g_hanging;

static void on_hang(pit_call *call, grpc_byte_buffer *req, void *arg) {
    (void)arg;
    if (req) grpc_byte_buffer_destroy(req);
    /* Finishing stays the handler's duty even when cancelled: the test does it. */
    g_hanging = call;
    pit_call_on_cancel(call, hang_cancelled_cb, call);
}

/* The close hook: -1 until it ran, then the cancelled flag it got. A cancelled call is finished
 * from the hook itself, which is what the hook is for. */
static atomic_int close_result;

static void closed_cb(void *arg, int cancelled) {
    if (cancelled) pit_call_finish(arg, GRPC_STATUS_CANCELLED, "gone", NULL, NULL, 0);
    atomic_store(&close_result, cancelled);
}

static void on_close_hang(pit_call *call, grpc_byte_buffer *req, void *arg) {
    (void)arg;
    if (req) grpc_byte_buffer_destroy(req);
    pit_call_on_close(call, closed_cb, call);
}

static void on_close_answer(pit_call *call, grpc_byte_buffer *req, void *arg) {
    (void)arg;
    pit_call_on_close(call, closed_cb, call);
    pit_call_finish(call, GRPC_STATUS_OK, "", req, NULL, 0);
}

static void on_fail(pit_call *call, grpc_byte_buffer *req, void *arg) {
    (void)arg;
    if (req) grpc_byte_buffer_destroy(req);
    pit_md md[2] = {{"x-pitboss-error-type", "ValueError", 0}, {"x-pitboss-traceback-bin", "line 1\nline 2\n", 0}};
    pit_call_finish(call, GRPC_STATUS_UNKNOWN, "bad value", NULL, md, 2);
}

static void setup(void) {
    grpc_init();
    cq = grpc_completion_queue_create_for_next(NULL);
    server = pit_server_create(cq, 8u << 20);
    pit_server_add_method(server, "/t.T/Reverse", on_reverse, NULL);
    pit_server_add_method(server, "/t.T/Count", on_count, NULL);
    pit_server_add_method(server, "/t.T/Hang", on_hang, NULL);
    pit_server_add_method(server, "/t.T/Fail", on_fail, NULL);
    pit_server_add_method(server, "/t.T/CloseHang", on_close_hang, NULL);
    pit_server_add_method(server, "/t.T/CloseAnswer", on_close_answer, NULL);
    int port = pit_server_listen(server, "127.0.0.1:0");
    cr_assert_gt(port, 0);
    pit_server_start(server, 4);
    loop = pit_cq_loop_start(cq, 2, NULL);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    ch = pit_channel_create(target, 8u << 20);
    atomic_store(&hang_cancelled, 0);
    atomic_store(&close_result, -1);
    g_hanging = NULL;
}


static void teardown(void) {
    grpc_channel_destroy(ch);
    pit_server_shutdown(server, 1000);
    pit_server_destroy(server);
    grpc_completion_queue_shutdown(cq);
    pit_cq_loop_join(loop);
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
}

TestSuite(rpc, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(cq_loop, .timeout = 30);

Test(rpc, unary_round_trip) {
    pit_call_result r;
    grpc_byte_buffer *resp = pit_unary_blocking(ch, "/t.T/Reverse", 5000, NULL, 0,
                                                pit_bb_from_data((const uint8_t *)"abc", 3), &r);
    cr_assert_eq(r.code, GRPC_STATUS_OK, "%s", r.details);
    grpc_slice s = pit_bb_to_slice(resp);
    cr_assert_eq(GRPC_SLICE_LENGTH(s), 3);
    cr_assert(memcmp(GRPC_SLICE_START_PTR(s), "cba", 3) == 0);
    grpc_slice_unref(s);
    grpc_byte_buffer_destroy(resp);
    pit_call_result_free(&r);
}

Test(rpc, large_message_round_trip) {
    size_t n = 6u << 20; /* above gRPC's 4 MiB default */
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 7 + 3);
    pit_call_result r;
    grpc_byte_buffer *resp = pit_unary_blocking(ch, "/t.T/Reverse", 10000, NULL, 0, pit_bb_from_data(data, n), &r);
    cr_assert_eq(r.code, GRPC_STATUS_OK, "%s", r.details);
    grpc_slice s = pit_bb_to_slice(resp);
    cr_assert_eq(GRPC_SLICE_LENGTH(s), n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(GRPC_SLICE_START_PTR(s)[i], data[n - 1 - i]);
    grpc_slice_unref(s);
    grpc_byte_buffer_destroy(resp);
    pit_call_result_free(&r);
    free(data);
}

static int collect(grpc_byte_buffer *msg, void *arg) {
    int *seen = arg;
    grpc_slice s = pit_bb_to_slice(msg);
    cr_assert_eq(GRPC_SLICE_LENGTH(s), 1);
    cr_assert_eq(GRPC_SLICE_START_PTR(s)[0], *seen, "messages out of order");
    grpc_slice_unref(s);
    (*seen)++;
    return 0;
}

Test(rpc, stream_delivers_every_message_in_order) {
    uint8_t n = 200;
    int seen = 0;
    pit_call_result r;
    grpc_status_code code = pit_stream_blocking(ch, "/t.T/Count", 5000, NULL, 0, pit_bb_from_data(&n, 1), collect,
                                                &seen, &r);
    cr_assert_eq(code, GRPC_STATUS_OK, "%s", r.details);
    cr_assert_eq(seen, 200);
    pit_call_result_free(&r);
}

static int stop_after_three(grpc_byte_buffer *msg, void *arg) {
    (void)msg;
    return ++*(int *)arg == 3;
}

Test(rpc, client_cancel_reaches_the_server) {
    /* The streaming handler stops when its send fails; here the client stops reading. */
    uint8_t n = 250;
    int seen = 0;
    pit_call_result r;
    grpc_status_code code = pit_stream_blocking(ch, "/t.T/Count", 5000, NULL, 0, pit_bb_from_data(&n, 1),
                                                stop_after_three, &seen, &r);
    cr_assert_eq(code, GRPC_STATUS_CANCELLED);
    cr_assert_eq(seen, 3);
    pit_call_result_free(&r);
}

Test(rpc, deadline_cancels_the_server_call) {
    pit_call_result r;
    int64_t t0 = pit_mono_us();
    grpc_byte_buffer *resp = pit_unary_blocking(ch, "/t.T/Hang", 200, NULL, 0, pit_bb_from_data((const uint8_t *)"", 0), &r);
    cr_assert_null(resp);
    cr_assert_eq(r.code, GRPC_STATUS_DEADLINE_EXCEEDED, "got %d: %s", r.code, r.details);
    cr_assert_lt(pit_mono_us() - t0, 2000000);
    for (int i = 0; i < 100 && !atomic_load(&hang_cancelled); i++) usleep(10000);
    cr_assert(atomic_load(&hang_cancelled), "the server never saw the cancel");
    cr_assert(pit_call_cancelled(g_hanging));
    pit_call_finish(g_hanging, GRPC_STATUS_CANCELLED, "gone", NULL, NULL, 0);
    pit_call_result_free(&r);
}

static int wait_close_result(void) {
    for (int i = 0; i < 200 && atomic_load(&close_result) < 0; i++) usleep(10000);
    return atomic_load(&close_result);
}

Test(rpc, close_hook_runs_when_the_client_leaves_and_may_finish_the_call) {
    pit_call_result r;
    grpc_byte_buffer *resp =
        pit_unary_blocking(ch, "/t.T/CloseHang", 200, NULL, 0, pit_bb_from_data((const uint8_t *)"", 0), &r);
    cr_assert_null(resp);
    cr_assert_eq(r.code, GRPC_STATUS_DEADLINE_EXCEEDED, "got %d: %s", r.code, r.details);
    cr_assert_eq(wait_close_result(), 1, "the hook did not run, or did not see the cancel");
    pit_call_result_free(&r);
}

Test(rpc, close_hook_runs_after_a_normal_answer) {
    pit_call_result r;
    grpc_byte_buffer *resp =
        pit_unary_blocking(ch, "/t.T/CloseAnswer", 5000, NULL, 0, pit_bb_from_data((const uint8_t *)"ab", 2), &r);
    cr_assert_eq(r.code, GRPC_STATUS_OK, "%s", r.details);
    cr_assert_not_null(resp);
    grpc_byte_buffer_destroy(resp);
    cr_assert_eq(wait_close_result(), 0);
    pit_call_result_free(&r);
}

Test(rpc, error_status_carries_trailing_metadata) {
    pit_call_result r;
    grpc_byte_buffer *resp = pit_unary_blocking(ch, "/t.T/Fail", 5000, NULL, 0, pit_bb_from_data((const uint8_t *)"", 0), &r);
    cr_assert_null(resp);
    cr_assert_eq(r.code, GRPC_STATUS_UNKNOWN);
    cr_assert_str_eq(r.details, "bad value");
    cr_assert_str_eq(r.error_type, "ValueError");
    cr_assert_str_eq(r.traceback, "line 1\nline 2\n");
    pit_call_result_free(&r);
}

Test(rpc, unknown_method_is_unimplemented) {
    pit_call_result r;
    grpc_byte_buffer *resp = pit_unary_blocking(ch, "/t.T/Nope", 5000, NULL, 0, pit_bb_from_data((const uint8_t *)"", 0), &r);
    cr_assert_null(resp);
    cr_assert_eq(r.code, GRPC_STATUS_UNIMPLEMENTED);
    cr_assert(strstr(r.details, "/t.T/Nope") != NULL, "%s", r.details);
    pit_call_result_free(&r);
}

/* The suite's setup runs first (criterion runs a suite's init and then a test's own), so the token is
 * set here, on the server the suite started, before any call. */
Test(rpc, token_is_required_when_set) {
    pit_server_require_token(server, "s3cret");
    pit_call_result r;
    grpc_byte_buffer *resp = pit_unary_blocking(ch, "/t.T/Reverse", 5000, NULL, 0, pit_bb_from_data((const uint8_t *)"ab", 2), &r);
    cr_assert_null(resp);
    cr_assert_eq(r.code, GRPC_STATUS_PERMISSION_DENIED);
    pit_call_result_free(&r);

    pit_md wrong = {"x-pitboss-token", "s3creT", 0};
    resp = pit_unary_blocking(ch, "/t.T/Reverse", 5000, &wrong, 1, pit_bb_from_data((const uint8_t *)"ab", 2), &r);
    cr_assert_eq(r.code, GRPC_STATUS_PERMISSION_DENIED);
    pit_call_result_free(&r);

    pit_md right = {"x-pitboss-token", "s3cret", 0};
    resp = pit_unary_blocking(ch, "/t.T/Reverse", 5000, &right, 1, pit_bb_from_data((const uint8_t *)"ab", 2), &r);
    cr_assert_eq(r.code, GRPC_STATUS_OK, "%s", r.details);
    grpc_byte_buffer_destroy(resp);
    pit_call_result_free(&r);
}

static atomic_int woke;
static void count_wake(void *arg) {
    (void)arg;
    atomic_fetch_add(&woke, 1);
}

Test(cq_loop, wake_runs_the_hook_on_a_queue_thread) {
    grpc_init();
    grpc_completion_queue *q = grpc_completion_queue_create_for_next(NULL);
    pit_cq_hooks hooks = {NULL, count_wake, NULL};
    pit_cq_loop *l = pit_cq_loop_start(q, 1, &hooks);
    for (int i = 0; i < 5; i++) {
        int before = atomic_load(&woke);
        pit_cq_loop_wake(l);
        for (int k = 0; k < 200 && atomic_load(&woke) == before; k++) usleep(1000);
        cr_assert_gt(atomic_load(&woke), before, "wake %d did not arrive", i);
    }
    grpc_completion_queue_shutdown(q);
    pit_cq_loop_join(l);
    grpc_completion_queue_destroy(q);
    grpc_shutdown();
}

/* Debian 12's abseil has the deadlock detector's switch under the name grpc_tuning.c looks for: if a
 * new abseil renames it, this says so (the tuning would silently stop). The variable keeps it on. */
Test(grpc_tuning, the_abseil_deadlock_detector_is_found_and_the_variable_keeps_it) {
    setenv(PIT_ENV_ABSL_DEADLOCK_DETECTION, "1", 1);
    cr_assert_eq(pit_grpc_tune(), 0);
    unsetenv(PIT_ENV_ABSL_DEADLOCK_DETECTION);
    cr_assert_eq(pit_grpc_tune(), 1, "SetMutexDeadlockDetectionMode not found in the loaded abseil");
}
