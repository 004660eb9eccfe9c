/*
 * The contract between the supervisor and pitboss-worker that is not in the .proto files: how a
 * worker's exit code and its last words are read. One header, included by both sides.
 */
#ifndef PIT_PROTOCOL_H
#define PIT_PROTOCOL_H

/* pitboss-worker's exit codes that mean something to the supervisor. */
#define PIT_WORKER_EXIT_USAGE 2     /* bad arguments: a bug in the supervisor's exec plan */
#define PIT_WORKER_EXIT_PORT_BUSY 3 /* its port was taken: the slot moves to another */
#define PIT_WORKER_EXIT_FATAL 4     /* a start-up error a restart cannot fix (a module fails to import) */

/* Before exiting with PIT_WORKER_EXIT_FATAL, a worker logs one line holding this marker followed by
 * the reason in one line ("ModuleNotFoundError: No module named 'x' (importing module 'y')"); the
 * supervisor makes that the pool's failed reason and keeps the full output in its log. */
#define PIT_FATAL_MARK "[pitboss-fatal] "

/* The worker's --ready-fd pipe. Once serving, the worker writes one line:
 *     READY <port> [<unix socket path>]
 * and keeps the pipe open for events, one line each:
 *     ENDED <running>
 * when a call whose client had gone (cancel, deadline) has finally returned, <running> being the
 * calls the worker still runs; the supervisor then knows at once that an abandoned call is over. */
#define PIT_READY_WORD "READY"
#define PIT_ENDED_WORD "ENDED"

#endif
