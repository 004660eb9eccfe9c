/* The supervisor's policy decisions (policy.h): pure functions. */
#include "core/policy.h"

int64_t pit_policy_backoff(int64_t *next_ms, int64_t initial_ms, int64_t max_ms) {
    int64_t delay = *next_ms ? *next_ms : initial_ms;
    *next_ms = delay * 2 > max_ms ? max_ms : delay * 2;
    return delay;
}

int pit_policy_restart_window(int64_t *times, int *n, int cap, int64_t now_us, int64_t window_us, int64_t max_restarts) {
    int k = 0;
    for (int i = 0; i < *n; i++)
        if (now_us - times[i] < window_us) times[k++] = times[i];
    *n = k;
    if (k < max_restarts + 1 && k < cap) times[(*n)++] = now_us;
    return *n > max_restarts;
}

uint64_t pit_policy_recycle_after(int64_t max_requests, int64_t jitter, uint64_t rnd) {
    if (max_requests <= 0) return 0;
    return (uint64_t)max_requests + (jitter > 0 ? rnd % ((uint64_t)jitter + 1) : 0);
}

pit_admit_gate pit_policy_admit_gate(int shutting_down, int pool_failed, int queue_nonempty, int has_session) {
    if (shutting_down) return PIT_ADMIT_STOPPING;
    if (pool_failed) return PIT_ADMIT_FAILED;
    return queue_nonempty && !has_session ? PIT_ADMIT_WAIT : PIT_ADMIT_TRY;
}

pit_admit_place pit_policy_admit_place(pit_pick pick, int internal, uint32_t queued, int64_t queue_limit) {
    if (pick == PIT_PICK_SLOT) return PIT_ADMIT_DISPATCH;
    if (pick == PIT_PICK_NO_SESSIONS) return PIT_ADMIT_NO_SESSIONS;
    return internal || (int64_t)queued < queue_limit ? PIT_ADMIT_QUEUE : PIT_ADMIT_FULL;
}
