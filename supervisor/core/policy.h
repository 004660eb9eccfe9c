/*
 * The supervisor's policy decisions as pure functions: no locks, no clock, no processes. The code
 * that acts on them (monitor.c, router.c) passes in what it knows; the unit tests
 * (tests/unit/test_supervisor_policy.c) pass in cases.
 */
#ifndef PIT_POLICY_H
#define PIT_POLICY_H

#include <stdint.h>

/* Restart backoff: the delay for this restart, *next_ms (0 before the first) doubling up to max_ms. */
int64_t pit_policy_backoff(int64_t *next_ms, int64_t initial_ms, int64_t max_ms);

/* The restart window (OTP's intensity): times[*n] holds the restarts within window_us before now_us
 * (older ones are dropped, now_us is added; cap >= max_restarts + 1). Returns 1 when there are more
 * than max_restarts: the pool is FAILED. */
int pit_policy_restart_window(int64_t *times, int *n, int cap, int64_t now_us, int64_t window_us, int64_t max_restarts);

/* Calls after which a new worker is recycled: max_requests plus 0..jitter (from rnd), 0 for never. */
uint64_t pit_policy_recycle_after(int64_t max_requests, int64_t jitter, uint64_t rnd);

/* Admission, first step: refuse, or look for a slot, or wait in line (calls queued ahead of a call
 * without a session go first: FIFO). */
typedef enum { PIT_ADMIT_TRY, PIT_ADMIT_WAIT, PIT_ADMIT_STOPPING, PIT_ADMIT_FAILED } pit_admit_gate;
pit_admit_gate pit_policy_admit_gate(int shutting_down, int pool_failed, int queue_nonempty, int has_session);

/* What placement found (routing/placement.h). */
typedef enum { PIT_PICK_SLOT, PIT_PICK_WAIT, PIT_PICK_NO_SESSIONS } pit_pick;

/* Admission, second step: given what placement found. Internal calls (a job's run) are not held to
 * queue_limit: the job queue already bounds them. */
typedef enum { PIT_ADMIT_DISPATCH, PIT_ADMIT_QUEUE, PIT_ADMIT_NO_SESSIONS, PIT_ADMIT_FULL } pit_admit_place;
pit_admit_place pit_policy_admit_place(pit_pick pick, int internal, uint32_t queued, int64_t queue_limit);

#endif
