/* Channels from the supervisor to its workers. */
#include <stdio.h>
#include <stdlib.h>

#include "rpc_client.h"
#include "alloc.h"
#include "core/supervisor.h"

static grpc_arg int_arg(const char *key, int value) {
    grpc_arg a;
    a.type = GRPC_ARG_INTEGER;
    a.key = (char *)key;
    a.value.integer = value;
    return a;
}

pit_chan *pit_chan_open(const char *target, size_t max_message_bytes) {
    const grpc_arg extra[] = {
        /* Subchannels are otherwise shared between channels to the same address: a restarted
         * worker's new channel would inherit the dead one's reconnect backoff. */
        int_arg(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1),
        int_arg(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50),
        int_arg(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500),
        /* Flow control: without this the HTTP/2 window grows (BDP probing) to megabytes, and a worker
         * streaming to a slow client runs that far ahead of it. A fixed 64 KiB window per stream
         * keeps a stream's worker within a few chunks of its reader. */
        int_arg(GRPC_ARG_HTTP2_BDP_PROBE, 0),
        int_arg(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024),
    };
    pit_chan *c = pit_calloc(1, sizeof *c);
    c->ch = pit_channel_create_with(target, max_message_bytes, extra, sizeof extra / sizeof extra[0]);
    c->refs = 1;
    /* Connect now, so that the first call does not pay for it. */
    grpc_channel_check_connectivity_state(c->ch, 1);
    return c;
}

void pit_chan_unref(pit_chan *c) {
    if (c && --c->refs == 0) {
        /* Calls still running on it hold references of their own inside gRPC. */
        grpc_channel_destroy(c->ch);
        free(c);
    }
}
