/* Channels from the supervisor to its workers. */
#include <grpc/grpc_security.h>
#include <stdio.h>
#include <stdlib.h>

#include "supervisor.h"

pit_chan *pit_chan_open(const char *target, size_t max_message_bytes) {
    grpc_arg args[7];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)max_message_bytes;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = (int)max_message_bytes;
    /* Subchannels are otherwise shared between channels to the same address: a restarted
     * worker's new channel would inherit the dead one's reconnect backoff. */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    args[2].value.integer = 1;
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[3].value.integer = 50;
    args[4].type = GRPC_ARG_INTEGER;
    args[4].key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[4].value.integer = 500;
    /* Flow control: without this the HTTP/2 window grows (BDP probing) to megabytes, and a worker
     * streaming to a slow client runs that far ahead of it. A fixed 64 KiB window per stream keeps
     * a stream's worker within a few chunks of its reader. */
    args[5].type = GRPC_ARG_INTEGER;
    args[5].key = GRPC_ARG_HTTP2_BDP_PROBE;
    args[5].value.integer = 0;
    args[6].type = GRPC_ARG_INTEGER;
    args[6].key = GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES;
    args[6].value.integer = 64 * 1024;
    grpc_channel_args ch_args = {7, args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    pit_chan *c = calloc(1, sizeof *c);
    c->ch = grpc_channel_create(target, creds, &ch_args);
    grpc_channel_credentials_release(creds);
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
