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

#endif
