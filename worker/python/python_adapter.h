/* Python workers: an embedded CPython interpreter running the handlers of the configured modules. */
#ifndef PIT_PYTHON_ADAPTER_H
#define PIT_PYTHON_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "process/command.h"

typedef struct {
    const char *const *modules;
    size_t n_modules;
    const char *const *paths; /* added to sys.path */
    size_t n_paths;
    int64_t session_ttl_s;
    int imports_only; /* import the modules, skip the start-up hooks (pitboss serve --check) */
} pit_py_options;

/* Starts the interpreter, imports the modules, runs their startup hooks. On failure returns -1
 * with the module and the exception in err (the traceback went to stderr). Main thread only. */
/* reason: the one-line cause for the pool's failed reason (the exception and what was loading). */
int pit_py_init(const pit_py_options *o, char *err, size_t errlen, char *reason, size_t reasonlen);
/* The commands the modules registered. */
const pit_command *const *pit_py_commands(size_t *n);
/* pit_command.run of every Python command. */
void pit_py_run(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out);
/* Drops a session's state; non-zero if it existed. */
int pit_py_close_session(const char *session_id);
/* Runs the shutdown hooks and stops the interpreter. Main thread, after every call ended. */
void pit_py_finalize(void);

#endif
