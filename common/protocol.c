/* The worker's ready-pipe lines (protocol.h): one writer, one parser. */
#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fits(int n, size_t len) { return n > 0 && (size_t)n < len ? n : -1; }

int pit_ready_line_format(char *buf, size_t len, int port, const char *unix_path) {
    if (unix_path && *unix_path) return fits(snprintf(buf, len, PIT_READY_WORD " %d %s\n", port, unix_path), len);
    return fits(snprintf(buf, len, PIT_READY_WORD " %d\n", port), len);
}

int pit_ended_line_format(char *buf, size_t len, unsigned running) {
    return fits(snprintf(buf, len, PIT_ENDED_WORD " %u\n", running), len);
}

pit_event_kind pit_event_line_parse(const char *line, int *port, char *unix_path, size_t path_len, unsigned *running) {
    if (strncmp(line, PIT_READY_WORD " ", sizeof PIT_READY_WORD) == 0) {
        const char *p = line + sizeof PIT_READY_WORD;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 65535) return PIT_EVENT_NONE;
        *port = (int)v;
        while (*end == ' ') end++;
        if (unix_path && path_len) {
            size_t n = strcspn(end, " ");
            if (n >= path_len) return PIT_EVENT_NONE;
            memcpy(unix_path, end, n);
            unix_path[n] = 0;
        }
        return PIT_EVENT_READY;
    }
    if (strncmp(line, PIT_ENDED_WORD " ", sizeof PIT_ENDED_WORD) == 0) {
        *running = (unsigned)strtoul(line + sizeof PIT_ENDED_WORD, NULL, 10);
        return PIT_EVENT_ENDED;
    }
    return PIT_EVENT_NONE;
}
