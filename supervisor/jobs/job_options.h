/* A job's run options beyond qasm, shots and seed (inputs, measure_all, includes): kept as one JSON
 * object, the way run_circuit takes them, so that the store holds them in one column and the run
 * passes them on unchanged. */
#ifndef PIT_JOB_OPTIONS_H
#define PIT_JOB_OPTIONS_H

#include <jansson.h>

#include "engine/qasm.h"
#include "jobs.pb-c.h"

/* The options of a circuit payload as a JSON object's text (malloc'd), or NULL when it has none. */
char *pit_job_options_from_payload(const Pitboss__V1__CircuitPayload *c);

#define PIT_JOB_MAX_INPUTS 64
#define PIT_JOB_MAX_INCLUDES 16

/* The parser's view of options_json (NULL: none): inputs and includes into lim (names and values
 * arrays of PIT_JOB_MAX_INPUTS, inc_* of PIT_JOB_MAX_INCLUDES, the caller's), *measure_all. The
 * strings point into *held, which the caller frees with json_decref once lim is no longer used. */
void pit_job_options_limits(const char *options_json, qasm_limits *lim, int *measure_all, json_t **held,
                            const char **names, double *values, const char **inc_names, const char **inc_texts);

#endif
