/*
 * pitboss-loadgen: N concurrent unary Execute calls for T seconds against one target; prints
 * calls/s and latency percentiles. One completion-queue thread keeps every call slot busy: as
 * soon as a call ends, the slot starts the next.
 *
 *   pitboss-loadgen --target 127.0.0.1:50051 --concurrency 16 --seconds 5 [--command ping]
 *                   [--args '{}'] [--token T] [--warmup 1] [--new-sessions PREFIX] [--pool P] [--json]
 *
 * --new-sessions PREFIX: every call opens a session of its own (session_id PREFIX-1, PREFIX-2 ...):
 * what placing a new session costs, beside the same load without sessions.
 */
#include <errno.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "buffers.h"
#include "clock.h"
#include "cq_loop.h"
#include "pitboss.pb-c.h"
#include "rpc_client.h"
#include "status.h"

typedef struct {
    pit_tag dummy;
    struct loadgen *lg;
    pit_ccall *cc;
    int64_t started_us;
} slot;

typedef struct loadgen {
    grpc_channel *ch;
    grpc_completion_queue *cq;
    uint8_t *req;
    size_t req_len;
    Pitboss__V1__ExecuteRequest msg; /* req, unpacked: with --new-sessions, packed again per call */
    const char *session_prefix;
    unsigned long sessions_opened;
    pit_md md[1];
    size_t n_md;
    int64_t warm_until_us, stop_at_us;
    int active;
    int done;
    /* latencies in microseconds of calls that finished after warm-up */
    int64_t *lat;
    size_t n_lat, cap_lat;
    long errors;
    grpc_status_code first_error;
    char first_error_msg[256];
} loadgen;

static void start_call(slot *s);

static void on_done(pit_ccall *cc, grpc_byte_buffer *resp, void *arg) {
    slot *s = arg;
    loadgen *lg = s->lg;
    int64_t now = pit_mono_us();
    const pit_status *st = pit_ccall_status(cc);
    if (st->code != GRPC_STATUS_OK) {
        if (lg->errors++ == 0) {
            lg->first_error = st->code;
            snprintf(lg->first_error_msg, sizeof lg->first_error_msg, "%s", st->details);
        }
    } else if (s->started_us >= lg->warm_until_us) {
        if (lg->n_lat == lg->cap_lat) lg->lat = realloc(lg->lat, (lg->cap_lat = lg->cap_lat * 2 + 1024) * sizeof(int64_t));
        lg->lat[lg->n_lat++] = now - s->started_us;
    }
    if (resp) grpc_byte_buffer_destroy(resp);
    pit_ccall_free(cc);
    if (now < lg->stop_at_us) {
        start_call(s);
    } else if (--lg->active == 0) {
        lg->done = 1;
    }
}

static void start_call(slot *s) {
    loadgen *lg = s->lg;
    s->started_us = pit_mono_us();
    grpc_byte_buffer *bb;
    if (lg->session_prefix) {
        char id[128];
        snprintf(id, sizeof id, "%s-%lu", lg->session_prefix, ++lg->sessions_opened);
        Pitboss__V1__ExecuteRequest m = lg->msg;
        m.session_id = id;
        uint8_t buf[1024];
        size_t n = protobuf_c_message_get_packed_size(&m.base);
        if (n > sizeof buf) n = 0; /* the command and args are short: never */
        if (n) protobuf_c_message_pack(&m.base, buf);
        bb = pit_bb_from_data(buf, n);
    } else {
        bb = pit_bb_from_data(lg->req, lg->req_len);
    }
    s->cc = pit_ccall_unary(lg->ch, lg->cq, "/pitboss.v1.Pool/Execute", pit_deadline_in_ms(10000), lg->md, lg->n_md, bb,
                            on_done, s);
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'}, {"concurrency", required_argument, NULL, 'c'},
        {"seconds", required_argument, NULL, 's'}, {"command", required_argument, NULL, 'C'},
        {"args", required_argument, NULL, 'a'},    {"token", required_argument, NULL, 'k'},
        {"warmup", required_argument, NULL, 'w'},  {"json", no_argument, NULL, 'j'},
        {"new-sessions", required_argument, NULL, 'n'}, {"pool", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    const char *target = "127.0.0.1:50051", *command = "ping", *args = "{}", *token = NULL, *session_prefix = NULL, *pool = "";
    int concurrency = 16, json = 0;
    double seconds = 5, warmup = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 't': target = optarg; break;
        case 'c': concurrency = atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'C': command = optarg; break;
        case 'a': args = optarg; break;
        case 'k': token = optarg; break;
        case 'w': warmup = atof(optarg); break;
        case 'j': json = 1; break;
        case 'n': session_prefix = optarg; break;
        case 'p': pool = optarg; break;
        default:
            fprintf(stderr, "usage: pitboss-loadgen [--target H:P] [--concurrency N] [--seconds T] [--warmup T] "
                            "[--command C] [--args JSON] [--token T] [--new-sessions PREFIX] [--pool P] [--json]\n");
            return 2;
        }
    }
    if (concurrency < 1 || seconds <= 0) {
        fprintf(stderr, "pitboss-loadgen: --concurrency must be >= 1 and --seconds > 0\n");
        return 2;
    }
    grpc_init();
    loadgen lg;
    memset(&lg, 0, sizeof lg);
    lg.ch = pit_channel_create(target, 64u << 20);
    lg.cq = grpc_completion_queue_create_for_next(NULL);
    if (token) lg.md[lg.n_md++] = (pit_md){PIT_MD_TOKEN, token, 0};
    Pitboss__V1__ExecuteRequest req = PITBOSS__V1__EXECUTE_REQUEST__INIT;
    req.command = (char *)command;
    req.args_json = (char *)args;
    req.pool = (char *)pool;
    lg.req_len = protobuf_c_message_get_packed_size(&req.base);
    lg.req = malloc(lg.req_len + 1);
    protobuf_c_message_pack(&req.base, lg.req);
    lg.msg = req;
    lg.session_prefix = session_prefix;

    int64_t t0 = pit_mono_us();
    lg.warm_until_us = t0 + (int64_t)(warmup * 1e6);
    lg.stop_at_us = lg.warm_until_us + (int64_t)(seconds * 1e6);
    slot *slots = calloc((size_t)concurrency, sizeof *slots);
    lg.active = concurrency;
    for (int i = 0; i < concurrency; i++) {
        slots[i].lg = &lg;
        start_call(&slots[i]);
    }
    pit_cq_run_until(lg.cq, &lg.done);
    double measured_s = (double)(pit_mono_us() - lg.warm_until_us) / 1e6;

    qsort(lg.lat, lg.n_lat, sizeof(int64_t), cmp64);
    double rate = (double)lg.n_lat / measured_s;
    double p50 = lg.n_lat ? (double)lg.lat[lg.n_lat / 2] : 0;
    double p99 = lg.n_lat ? (double)lg.lat[(size_t)((double)lg.n_lat * 0.99)] : 0;
    if (json)
        printf("{\"calls\": %zu, \"errors\": %ld, \"seconds\": %.3f, \"calls_per_s\": %.1f, \"p50_us\": %.1f, "
               "\"p99_us\": %.1f, \"concurrency\": %d}\n",
               lg.n_lat, lg.errors, measured_s, rate, p50, p99, concurrency);
    else
        printf("%s %s x%d: %zu calls in %.2f s = %.0f calls/s, p50 %.0f us, p99 %.0f us, %ld errors\n", target,
               command, concurrency, lg.n_lat, measured_s, rate, p50, p99, lg.errors);
    if (lg.errors)
        fprintf(stderr, "first error: %s: %s\n", pit_status_name(lg.first_error), lg.first_error_msg);

    grpc_channel_destroy(lg.ch);
    grpc_completion_queue_shutdown(lg.cq);
    while (grpc_completion_queue_next(lg.cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(lg.cq);
    grpc_shutdown();
    free(lg.req);
    free(lg.lat);
    free(slots);
    return lg.errors && !lg.n_lat ? 1 : 0;
}
