#include "pb_check.h"

#include <stdio.h>
#include <string.h>

#include "request_limits.h"

/* Nested messages deeper than this are not walked (pitboss's protos nest 3 deep). */
#define MAX_NESTING 8

static const struct {
    const char *name;
    size_t max;
} string_limits[] = {
    {"command", PIT_MAX_NAME_BYTES},     {"pool", PIT_MAX_NAME_BYTES},
    {"backend_id", PIT_MAX_NAME_BYTES},  {"session_id", PIT_MAX_ID_BYTES},
    {"client_request_id", PIT_MAX_ID_BYTES}, {"job_id", PIT_MAX_ID_BYTES},
    {"service", PIT_MAX_SERVICE_BYTES},
};

size_t pit_pb_string_limit(const char *field_name) {
    for (size_t i = 0; i < sizeof string_limits / sizeof string_limits[0]; i++)
        if (strcmp(string_limits[i].name, field_name) == 0) return string_limits[i].max;
    return 0;
}

/* A varint at *p (below end); 0 when it runs past end or over 10 bytes. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t out = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        out |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = out;
            return 1;
        }
    }
    return 0;
}

static int walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end, const char *prefix,
                int depth, char *why, size_t whylen) {
    while (p < end) {
        uint64_t tag, n;
        if (!read_varint(&p, end, &tag)) return 0; /* protobuf-c decoded it: nothing more to say */
        uint32_t number = (uint32_t)(tag >> 3);
        switch (tag & 7) {
        case 0:
            if (!read_varint(&p, end, &n)) return 0;
            continue;
        case 1:
            p += (size_t)(end - p) < 8 ? (size_t)(end - p) : 8;
            continue;
        case 5:
            p += (size_t)(end - p) < 4 ? (size_t)(end - p) : 4;
            continue;
        case 2:
            break;
        default:
            return 0;
        }
        if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p)) return 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, number);
        if (f && f->type == PROTOBUF_C_TYPE_STRING) {
            size_t limit = pit_pb_string_limit(f->name);
            if (limit && n > limit) {
                snprintf(why, whylen, "%s%s is %llu bytes; at most %zu are allowed", prefix, f->name,
                         (unsigned long long)n, limit);
                return -1;
            }
            const uint8_t *nul = memchr(p, 0, (size_t)n);
            if (nul) {
                snprintf(why, whylen, "%s%s holds a NUL byte (at byte %zu): strings must not contain NUL", prefix,
                         f->name, (size_t)(nul - p));
                return -1;
            }
        } else if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && depth < MAX_NESTING) {
            char inner[256];
            snprintf(inner, sizeof inner, "%s%s.", prefix, f->name);
            if (walk(f->descriptor, p, p + n, inner, depth + 1, why, whylen) != 0) return -1;
        }
        p += n;
    }
    return 0;
}

int pit_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, char *why,
                         size_t whylen) {
    return walk(desc, data, data + len, "", 0, why, whylen);
}
