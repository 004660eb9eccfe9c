/*
 * Limits on what a request may carry, shared by the supervisor, the workers and their tests. A
 * request over one is refused with INVALID_ARGUMENT naming the field and the limit, before anything
 * is stored or forwarded: an id is kept for as long as its session or job, so its size is bounded
 * here rather than by memory.
 */
#ifndef PIT_REQUEST_LIMITS_H
#define PIT_REQUEST_LIMITS_H

/* Names a config or a handler gives: command, pool, backend. */
#define PIT_MAX_NAME_BYTES 128
/* Ids a client makes up: session_id, client_request_id, job_id. */
#define PIT_MAX_ID_BYTES 128
/* A health check's service name. */
#define PIT_MAX_SERVICE_BYTES 256

#endif
