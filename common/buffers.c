#include "buffers.h"

#include <grpc/byte_buffer_reader.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_check.h"

grpc_slice pit_bb_to_slice(grpc_byte_buffer *bb) {
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb)) return grpc_empty_slice();
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    return all;
}

grpc_byte_buffer *pit_bb_from_data(const uint8_t *data, size_t len) {
    grpc_slice s = grpc_slice_malloc(len);
    if (len) memcpy(GRPC_SLICE_START_PTR(s), data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

grpc_byte_buffer *pit_bb_from_pb(const ProtobufCMessage *msg) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

ProtobufCMessage *pit_pb_from_bb(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb) {
    if (!bb) return protobuf_c_message_unpack(desc, NULL, 0, (const uint8_t *)"");
    grpc_slice s = pit_bb_to_slice(bb);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

ProtobufCMessage *pit_pb_unpack_checked(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                                        char *why, size_t whylen) {
    if (!len) data = (const uint8_t *)"";
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, data);
    if (!m) {
        snprintf(why, whylen, "the request is not a valid %s", desc->name);
    } else if (pit_pb_check_strings(desc, data, len, why, whylen) != 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        m = NULL;
    }
    return m;
}

ProtobufCMessage *pit_pb_from_bb_checked(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb, char *why,
                                         size_t whylen) {
    if (!bb) return pit_pb_unpack_checked(desc, NULL, 0, why, whylen);
    grpc_slice s = pit_bb_to_slice(bb);
    ProtobufCMessage *m = pit_pb_unpack_checked(desc, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), why, whylen);
    grpc_slice_unref(s);
    return m;
}
