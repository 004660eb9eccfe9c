/* Moving bytes in and out of gRPC byte buffers, and packing protobuf-c messages. */
#ifndef PIT_BUFFERS_H
#define PIT_BUFFERS_H

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* The buffer's bytes as one slice (the caller unrefs it). The buffer itself is not destroyed. */
grpc_slice pit_bb_to_slice(grpc_byte_buffer *bb);
/* A new byte buffer holding a copy of data. */
grpc_byte_buffer *pit_bb_from_data(const uint8_t *data, size_t len);

/* A new byte buffer holding the packed message (packed straight into the buffer's slice). */
grpc_byte_buffer *pit_bb_from_pb(const ProtobufCMessage *msg);
/* Unpacks a byte buffer into a protobuf-c message (free with protobuf_c_message_free_unpacked);
 * NULL if the bytes are not a valid message of that type. */
ProtobufCMessage *pit_pb_from_bb(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb);
/* The same for a request from a client: also refuses NUL bytes in strings and names or ids over
 * their limits (pb_check.h). NULL with why filled when the request is refused. */
ProtobufCMessage *pit_pb_from_bb_checked(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb, char *why,
                                         size_t whylen);
/* The same over bytes already in memory (what pit_pb_from_bb_checked calls; fuzzed directly). */
ProtobufCMessage *pit_pb_unpack_checked(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                                        char *why, size_t whylen);

#endif
