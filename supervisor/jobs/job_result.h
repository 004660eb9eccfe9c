/* A job's stored result (the engine's run_circuit JSON) as a pitboss.v1.JobResult message. */
#ifndef PIT_JOB_RESULT_H
#define PIT_JOB_RESULT_H

#include "jobs.pb-c.h"

typedef struct {
    Pitboss__V1__JobResult msg;          /* points into the fields below */
    Pitboss__V1__JobResult__CountsEntry *entries;
    Pitboss__V1__JobResult__CountsEntry **ptrs;
    char *job_id;
    char *metadata_json;
    void *root;                          /* json_t holding the outcome strings */
} pit_job_result;

/* 0, or -1 when result_json is not an engine result. Free with pit_job_result_clear. */
int pit_job_result_parse(pit_job_result *r, const char *job_id, const char *result_json);
/* Orders the counts by outcome (a stable order for chunking). */
void pit_job_result_sort(pit_job_result *r);
void pit_job_result_clear(pit_job_result *r);

#endif
