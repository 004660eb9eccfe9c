/*
 * Checks on a decoded request that protobuf-c cannot make: a string field with a NUL byte inside
 * (protobuf-c hands C strings, so "ping\0evil" would silently become "ping") and the length limits
 * of common/limits.h on names and ids. Walks the wire bytes once, nested messages included.
 */
#ifndef PIT_PB_CHECK_H
#define PIT_PB_CHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* 0 when data (a message of type desc, already known to decode) is acceptable; else -1 with why
 * naming the field ("session_id is 1048576 bytes; at most 128 are allowed"). */
int pit_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, char *why,
                         size_t whylen);

/* The byte limit on a string field of this name, or 0 for none (the table in pb_check.c). */
size_t pit_pb_string_limit(const char *field_name);

#endif
