/* The supervisor's policy without processes: backoff, the restart window, recycle jitter,
 * admission, session placement and reset, and the cap on metrics labels (core/policy.h,
 * routing/placement.h, core/call_stats.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/call_stats.h"
#include "core/policy.h"
#include "core/sessions.h"
#include "core/supervisor.h"
#include "jobs/job_policy.h"
#include "routing/placement.h"

Test(policy, backoff_doubles_up_to_its_ceiling) {
    int64_t next = 0;
    int64_t want[] = {10, 20, 40, 80, 100, 100, 100};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_eq(pit_policy_backoff(&next, 10, 100), want[i], "restart %zu", i);
    /* A ceiling below the first delay: the first delay stands, then the ceiling. */
    next = 0;
    cr_assert_eq(pit_policy_backoff(&next, 50, 20), 50);
    cr_assert_eq(pit_policy_backoff(&next, 50, 20), 20);
}

Test(policy, the_restart_window_fails_a_pool_past_max_restarts_and_forgets_old_ones) {
    int64_t times[8];
    int n = 0;
    const int64_t s = 1000000, window = 60 * s;
    /* max_restarts 3: the 4th restart within 60 s fails the pool. */
    cr_assert_eq(pit_policy_restart_window(times, &n, 8, 1 * s, window, 3), 0);
    cr_assert_eq(pit_policy_restart_window(times, &n, 8, 2 * s, window, 3), 0);
    cr_assert_eq(pit_policy_restart_window(times, &n, 8, 3 * s, window, 3), 0);
    cr_assert_eq(pit_policy_restart_window(times, &n, 8, 4 * s, window, 3), 1);
    /* 70 s on, the first three are out of the window: it counts again from one. */
    n = 3;
    cr_assert_eq(pit_policy_restart_window(times, &n, 8, 70 * s, window, 3), 0);
    cr_assert_eq(n, 1);
    /* max_restarts 0: any restart fails it. */
    n = 0;
    cr_assert_eq(pit_policy_restart_window(times, &n, 8, 5 * s, window, 0), 1);
}

Test(policy, recycling_adds_zero_to_jitter_requests) {
    cr_assert_eq(pit_policy_recycle_after(0, 50, 7), 0, "max_requests 0: never");
    cr_assert_eq(pit_policy_recycle_after(100, 0, 12345), 100);
    for (uint64_t r = 0; r < 1000; r++) {
        uint64_t v = pit_policy_recycle_after(100, 10, r);
        cr_assert(v >= 100 && v <= 110, "rnd %llu gave %llu", (unsigned long long)r, (unsigned long long)v);
    }
    cr_assert_eq(pit_policy_recycle_after(100, 10, 10), 110);
    cr_assert_eq(pit_policy_recycle_after(100, 10, 11), 100);
}

Test(policy, admission_refuses_queues_or_dispatches) {
    cr_assert_eq(pit_policy_admit_gate(1, 0, 0, 0), PIT_ADMIT_STOPPING);
    cr_assert_eq(pit_policy_admit_gate(1, 1, 0, 0), PIT_ADMIT_STOPPING, "stopping says more than failed");
    cr_assert_eq(pit_policy_admit_gate(0, 1, 0, 0), PIT_ADMIT_FAILED);
    cr_assert_eq(pit_policy_admit_gate(0, 0, 1, 0), PIT_ADMIT_WAIT, "FIFO: calls queued ahead go first");
    cr_assert_eq(pit_policy_admit_gate(0, 0, 1, 1), PIT_ADMIT_TRY, "a session's call may go to its own worker");
    cr_assert_eq(pit_policy_admit_gate(0, 0, 0, 0), PIT_ADMIT_TRY);

    cr_assert_eq(pit_policy_admit_place(PIT_PICK_SLOT, 0, 99, 1), PIT_ADMIT_DISPATCH);
    cr_assert_eq(pit_policy_admit_place(PIT_PICK_NO_SESSIONS, 0, 0, 10), PIT_ADMIT_NO_SESSIONS);
    cr_assert_eq(pit_policy_admit_place(PIT_PICK_WAIT, 0, 9, 10), PIT_ADMIT_QUEUE);
    cr_assert_eq(pit_policy_admit_place(PIT_PICK_WAIT, 0, 10, 10), PIT_ADMIT_FULL, "queue_limit reached");
    cr_assert_eq(pit_policy_admit_place(PIT_PICK_WAIT, 0, 0, 0), PIT_ADMIT_FULL, "queue_limit 0: never queue");
    cr_assert_eq(pit_policy_admit_place(PIT_PICK_WAIT, 1, 10, 10), PIT_ADMIT_QUEUE, "internal calls are not held to it");
}

/* A supervisor's tables alone: one pool of three ready slots, two calls each, room for two sessions. */
static pit_sup sup;
static pit_pool_config pcfg;

static void pool_setup(void) {
    memset(&sup, 0, sizeof sup);
    memset(&pcfg, 0, sizeof pcfg);
    sup.cfg.sessions.max_sessions = 2;
    sup.cfg.restart.max_restarts = 5;
    pcfg.name = "p";
    pcfg.size = 3;
    pcfg.max_concurrency = 2;
    sup.pools = calloc(1, sizeof(pit_pool));
    sup.n_pools = 1;
    pit_pool_init(&sup, &sup.pools[0], 0, &pcfg);
    for (int k = 0; k < 3; k++) {
        sup.pools[0].slots[k].state = SLOT_READY;
        sup.pools[0].slots[k].generation = 1;
    }
}

static void pool_teardown(void) {
    pit_pool_free(&sup.pools[0]);
    free(sup.pools);
}

TestSuite(placement, .init = pool_setup, .fini = pool_teardown);

Test(placement, a_call_without_a_session_goes_to_the_least_loaded_ready_slot) {
    pit_pool *p = &sup.pools[0];
    p->slots[0].in_flight = 2;
    p->slots[1].in_flight = 1;
    p->slots[2].in_flight = 0;
    pit_slot *s;
    int reset;
    cr_assert_eq(pit_place(p, NULL, &s, &reset), PIT_PICK_SLOT);
    cr_assert_eq(s->index, 2);
    cr_assert_eq(reset, 0);
    /* A slot that is not ready takes nothing, however idle. */
    p->slots[2].state = SLOT_DRAINING;
    cr_assert_eq(pit_place(p, NULL, &s, &reset), PIT_PICK_SLOT);
    cr_assert_eq(s->index, 1);
    /* Every ready slot at max_concurrency: wait. */
    p->slots[1].in_flight = 2;
    cr_assert_eq(pit_place(p, NULL, &s, &reset), PIT_PICK_WAIT);
    cr_assert_null(s);
}

Test(placement, idle_slots_share_the_work) {
    pit_pool *p = &sup.pools[0];
    int seen[3] = {0};
    for (int i = 0; i < 30; i++) {
        pit_slot *s;
        int reset;
        cr_assert_eq(pit_place(p, NULL, &s, &reset), PIT_PICK_SLOT);
        seen[s->index]++;
    }
    for (int k = 0; k < 3; k++) cr_assert_eq(seen[k], 10, "slot %d took %d of 30", k, seen[k]);
}

Test(placement, a_session_keeps_its_slot_waits_for_it_and_is_told_when_its_worker_is_new) {
    pit_pool *p = &sup.pools[0];
    pit_slot *s;
    int reset;
    p->slots[0].in_flight = 1;
    p->slots[1].in_flight = 1;
    cr_assert_eq(pit_place(p, "alice", &s, &reset), PIT_PICK_SLOT);
    cr_assert_eq(s->index, 2, "a new session goes to the least-loaded slot");
    /* Later its slot is the busiest: affinity wins over load. */
    p->slots[2].in_flight = 1;
    p->slots[0].in_flight = 0;
    cr_assert_eq(pit_place(p, "alice", &s, &reset), PIT_PICK_SLOT);
    cr_assert_eq(s->index, 2);
    cr_assert_eq(reset, 0);
    /* Its slot full: wait for it, though slot 0 is free. */
    p->slots[2].in_flight = 2;
    cr_assert_eq(pit_place(p, "alice", &s, &reset), PIT_PICK_WAIT);
    /* Its worker restarted (a new process in the slot): the session's state is gone; say so once. */
    p->slots[2].in_flight = 0;
    p->slots[2].generation = 2;
    cr_assert_eq(pit_place(p, "alice", &s, &reset), PIT_PICK_SLOT);
    cr_assert_eq(s->index, 2);
    cr_assert_eq(reset, 1);
    cr_assert_eq(pit_place(p, "alice", &s, &reset), PIT_PICK_SLOT);
    cr_assert_eq(reset, 0);
}

Test(placement, new_sessions_spread_and_a_full_table_is_refused) {
    pit_pool *p = &sup.pools[0];
    pit_slot *a, *b, *c;
    int reset;
    cr_assert_eq(pit_place(p, "s1", &a, &reset), PIT_PICK_SLOT);
    cr_assert_eq(pit_place(p, "s2", &b, &reset), PIT_PICK_SLOT);
    cr_assert_neq(a->index, b->index, "two sessions on idle workers go to different ones");
    cr_assert_eq(pit_place(p, "s3", &c, &reset), PIT_PICK_NO_SESSIONS, "sessions.max_sessions is 2");
    cr_assert_eq(pit_sessions_count(p->sessions), 2);
}

Test(placement, a_session_whose_slot_left_the_pool_is_placed_again_with_a_reset) {
    pit_pool *p = &sup.pools[0];
    p->slots[0].in_flight = 1;
    p->slots[1].in_flight = 1;
    pit_slot *s;
    int reset;
    cr_assert_eq(pit_place(p, "bob", &s, &reset), PIT_PICK_SLOT);
    cr_assert_eq(s->index, 2);
    p->n_slots = 2; /* SIGTTOU took slot 2 away */
    cr_assert_eq(pit_place(p, "bob", &s, &reset), PIT_PICK_SLOT);
    cr_assert_lt(s->index, 2);
    cr_assert_eq(reset, 1);
}

/* The per-slot counts placement reads (kept as sessions move, not counted by a walk): they follow
 * every add, move, close and expiry. */
Test(sessions, per_slot_counts_follow_moves_closes_and_expiry) {
    pit_sessions *t = pit_sessions_create(100);
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "s%d", i);
        pit_session *s = pit_sessions_add(t, id);
        cr_assert_eq(s->slot, -1, "an added session is on no slot until placed");
        cr_assert_eq(pit_sessions_count_slot(t, 0), (size_t)(i + 1) / 2);
        pit_sessions_move(t, s, i % 2);
        s->last_used_us = i < 4 ? 100 : 1000;
    }
    cr_assert_eq(pit_sessions_count_slot(t, 0), 5);
    cr_assert_eq(pit_sessions_count_slot(t, 1), 5);
    cr_assert_eq(pit_sessions_count_slot(t, 7), 0);
    pit_sessions_move(t, pit_sessions_get(t, "s1"), 7); /* a slot beyond those counted so far */
    cr_assert_eq(pit_sessions_count_slot(t, 1), 4);
    cr_assert_eq(pit_sessions_count_slot(t, 7), 1);
    cr_assert(pit_sessions_remove(t, "s1"));
    cr_assert_eq(pit_sessions_count_slot(t, 7), 0);
    /* s0, s2 (slot 0) and s3 (slot 1) are idle since 100: expired */
    cr_assert_eq(pit_sessions_expire(t, 500, NULL, NULL), 3);
    cr_assert_eq(pit_sessions_count_slot(t, 0), 3);
    cr_assert_eq(pit_sessions_count_slot(t, 1), 3);
    cr_assert_eq(pit_sessions_count(t), 6);
    pit_sessions_destroy(t);
}

Test(call_stats, label_values_are_capped_so_a_client_cannot_grow_the_page_without_bound) {
    pit_call_stats *st = pit_call_stats_create();
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "cmd-%d", i);
        pit_call_stats_done(st, "p", name, GRPC_STATUS_OK, 0.001 * (i % 7));
    }
    pit_call_series *series;
    pit_call_hist *hist;
    int n_series, n_hist;
    pit_call_stats_copy(st, &series, &n_series, &hist, &n_hist);
    cr_assert_leq(n_series, PIT_CALL_MAX_SERIES);
    uint64_t total = 0, other = 0;
    for (int i = 0; i < n_series; i++) {
        total += series[i].count;
        if (strcmp(series[i].command, "_other") == 0) other += series[i].count;
    }
    cr_assert_eq(total, 5000, "every call is counted somewhere");
    cr_assert_gt(other, 0, "past the cap, commands count as _other");
    cr_assert_eq(n_hist, 1);
    cr_assert_eq(hist[0].h.count, 5000);
    free(series);
    free(hist);
    pit_call_stats_destroy(st);
}

Test(job_policy, a_job_starts_while_its_backend_has_room_and_the_service_runs) {
    cr_assert(pit_job_policy_can_start(0, 0, 1));
    cr_assert(!pit_job_policy_can_start(0, 1, 1), "max_running reached");
    cr_assert(!pit_job_policy_can_start(1, 0, 4), "stopping: nothing new starts");
}

Test(job_policy, the_end_of_a_run_completes_requeues_keeps_or_fails_it) {
    cr_assert_eq(pit_job_policy_run_over(GRPC_STATUS_OK, 0, 0), PIT_JOB_RUN_COMPLETE);
    cr_assert_eq(pit_job_policy_run_over(GRPC_STATUS_OK, 1, 0), PIT_JOB_RUN_COMPLETE, "a result is a result");
    cr_assert_eq(pit_job_policy_run_over(GRPC_STATUS_UNAVAILABLE, 0, 0), PIT_JOB_RUN_REQUEUE, "its worker died");
    cr_assert_eq(pit_job_policy_run_over(GRPC_STATUS_UNAVAILABLE, 0, 1), PIT_JOB_RUN_FAIL,
                 "the pool failed: running it again would fail again");
    cr_assert_eq(pit_job_policy_run_over(GRPC_STATUS_CANCELLED, 1, 0), PIT_JOB_RUN_KEEP_FOR_RESTART,
                 "stopping: kept for the next start, no attempt spent");
    cr_assert_eq(pit_job_policy_run_over(GRPC_STATUS_DEADLINE_EXCEEDED, 0, 0), PIT_JOB_RUN_FAIL);
    cr_assert_eq(pit_job_policy_run_over(GRPC_STATUS_INVALID_ARGUMENT, 0, 0), PIT_JOB_RUN_FAIL);
}
