/* The job service's policy decisions (job_policy.h). */
#include "jobs/job_policy.h"

int pit_job_policy_can_start(int stopping, int backend_running, int backend_max_running) {
    return !stopping && backend_running < backend_max_running;
}

pit_job_run_outcome pit_job_policy_run_over(grpc_status_code code, int stopping, int pool_failed) {
    if (code == GRPC_STATUS_OK) return PIT_JOB_RUN_COMPLETE;
    if (stopping) return PIT_JOB_RUN_KEEP_FOR_RESTART;
    if (code == GRPC_STATUS_UNAVAILABLE && !pool_failed) return PIT_JOB_RUN_REQUEUE;
    return PIT_JOB_RUN_FAIL;
}
