/*
 * The job service's policy decisions as pure functions (unit-tested in
 * tests/unit/test_supervisor_policy.c): when a queued job may start, and what a run's end means.
 */
#ifndef PIT_JOB_POLICY_H
#define PIT_JOB_POLICY_H

#include <grpc/status.h>

/* A queued job may start when the service is not stopping and its backend runs fewer than its
 * max_running (jobs.max_running_jobs). Jobs start oldest first; a requeued job goes to the front. */
int pit_job_policy_can_start(int stopping, int backend_running, int backend_max_running);

typedef enum {
    PIT_JOB_RUN_COMPLETE,         /* OK: the result is stored */
    PIT_JOB_RUN_KEEP_FOR_RESTART, /* the supervisor is stopping: stays RUNNING in the store, requeued at the next
                                   * start without costing an attempt */
    PIT_JOB_RUN_REQUEUE,          /* its worker died (UNAVAILABLE, pool still serving): run again, if the store
                                   * says attempts are left (jobs.max_attempts), else FAILED */
    PIT_JOB_RUN_FAIL,             /* any other error: FAILED with the error */
} pit_job_run_outcome;

/* What the end of a run means. canceled: the job was canceled while it ran (nothing more to do). */
pit_job_run_outcome pit_job_policy_run_over(grpc_status_code code, int stopping, int pool_failed);

#endif
