/*
 * The contract between the supervisor and pitboss-worker (and the clients) that is not in the .proto
 * files: metadata keys, the environment a worker starts with, its exit codes and last words, the
 * lines on its ready pipe, the version. One header, included by every side: nothing here is spelled
 * twice.
 */
#ifndef PIT_PROTOCOL_H
#define PIT_PROTOCOL_H

#include <stddef.h>

/* From CMake's project(VERSION); the Python package's __version__ must agree (a test checks). */
#ifndef PIT_VERSION
#define PIT_VERSION "0.0.0-unknown"
#endif

/* gRPC metadata. */
#define PIT_MD_TOKEN "x-pitboss-token"                /* every call to a worker: the supervisor's token */
#define PIT_MD_ERROR_TYPE "x-pitboss-error-type"      /* trailing: the error's type ("ValueError", "UnknownBackend") */
#define PIT_MD_TRACEBACK "x-pitboss-traceback-bin"    /* trailing: a handler's traceback (errors.expose_traceback) */

/* The environment the supervisor gives each worker. */
#define PIT_ENV_WORKER_TOKEN "PITBOSS_WORKER_TOKEN"     /* required as PIT_MD_TOKEN on every call */
#define PIT_ENV_SUPERVISOR_PID "PITBOSS_SUPERVISOR_PID" /* the worker exits once this is not its parent */
#define PIT_ENV_POOL "PITBOSS_POOL"
#define PIT_ENV_SLOT "PITBOSS_SLOT"

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

/* The lines, written and read by these two sides only (common/protocol.c). The writers return the
 * length (newline included), or -1 if the buffer is too small. */
int pit_ready_line_format(char *buf, size_t len, int port, const char *unix_path /* NULL or "": none */);
int pit_ended_line_format(char *buf, size_t len, unsigned running);
typedef enum { PIT_EVENT_NONE = 0, PIT_EVENT_READY, PIT_EVENT_ENDED } pit_event_kind;
/* One line without its newline: its kind, with *port and unix_path (READY) or *running (ENDED). */
pit_event_kind pit_event_line_parse(const char *line, int *port, char *unix_path, size_t path_len, unsigned *running);

#endif
