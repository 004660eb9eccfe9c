/*
 * libFuzzer harness: the bytes of a request as a client sends them -> the decoder every handler
 * uses (pit_pb_unpack_checked: protobuf-c, then the NUL and length checks). The first byte picks
 * the request type, so one corpus covers every RPC pitboss serves.
 */
#include <stdint.h>
#include <stdlib.h>

#include "buffers.h"
#include "health.pb-c.h"
#include "jobs.pb-c.h"
#include "pitboss.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const requests[] = {
    &pitboss__v1__execute_request__descriptor,
    &pitboss__v1__get_info_request__descriptor,
    &pitboss__v1__list_commands_request__descriptor,
    &pitboss__v1__close_session_request__descriptor,
    &grpc__health__v1__health_check_request__descriptor,
    &pitboss__v1__submit_job_request__descriptor,
    &pitboss__v1__submit_batch_request__descriptor,
    &pitboss__v1__batch_job_submission__descriptor,
    &pitboss__v1__get_job_status_request__descriptor,
    &pitboss__v1__get_job_result_request__descriptor,
    &pitboss__v1__cancel_job_request__descriptor,
    &pitboss__v1__list_jobs_request__descriptor,
    &pitboss__v1__get_backend_info_request__descriptor,
    &pitboss__v1__watch_job_request__descriptor,
    &pitboss__v1__stream_results_request__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const ProtobufCMessageDescriptor *desc = requests[data[0] % (sizeof requests / sizeof requests[0])];
    char why[256];
    why[0] = 0;
    ProtobufCMessage *m = pit_pb_unpack_checked(desc, data + 1, size - 1, why, sizeof why);
    if (m) {
        /* What a handler does next: pack an answer from it; packing what was decoded must work. */
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(n ? n : 1);
        if (protobuf_c_message_pack(m, buf) != n) abort();
        free(buf);
        protobuf_c_message_free_unpacked(m, NULL);
    } else if (!why[0]) {
        abort();
    }
    return 0;
}
