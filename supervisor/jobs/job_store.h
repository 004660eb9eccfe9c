/*
 * The durable job store: quantum jobs and their results in SQLite (WAL), so that a supervisor
 * restarted after kill -9 still answers for every job it accepted.
 *
 * Used by the job manager (job_manager.c). Thread-safe: one connection under a mutex.
 */
#ifndef PIT_JOB_STORE_H
#define PIT_JOB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "request_limits.h"

typedef enum { JOB_QUEUED = 0, JOB_RUNNING, JOB_COMPLETED, JOB_FAILED, JOB_CANCELED } pit_job_state;

const char *pit_job_state_name(pit_job_state s); /* "QUEUED", ... */
int pit_job_state_terminal(pit_job_state s);

typedef struct {
    char id[40];
    char request_id[PIT_MAX_ID_BYTES + 1]; /* the client's idempotency key, or "" (longer ones are refused) */
    char backend[64];
    char *qasm;           /* owned */
    char *options;        /* owned, or NULL: run options as JSON (inputs, measure_all, includes; job_options.h) */
    int64_t shots;
    int64_t seed;         /* -1: none given */
    pit_job_state state;
    int64_t submitted_us, started_us, completed_us; /* wall clock, microseconds; 0: not yet */
    int attempts;         /* runs started (a worker that died under a job counts) */
    char *error;          /* owned, or NULL */
    char *result_json;    /* owned, or NULL: the engine's answer (counts, ...) */
} pit_job;

typedef struct pit_job_store pit_job_store;

/* Opens (creating if needed, mode 0600) the store at path and takes its lock (path.lock): one owner
 * at a time; a second open while the first is held fails naming the owner's pid. NULL with the
 * reason in err. */
pit_job_store *pit_job_store_open(const char *path, char *err, size_t errlen);
void pit_job_store_close(pit_job_store *s);

/* Adds job as QUEUED with a new id (written into job->id) and submitted_us. If job->request_id is
 * set and a job with that key exists, nothing is added: job->id gets the existing id and 1 is
 * returned. 0: added; -1: error. */
int pit_job_store_add(pit_job_store *s, pit_job *job);
/* Loads a job (the caller frees it with pit_job_clear). 0, or -1 when there is no such job. */
int pit_job_store_get(pit_job_store *s, const char *id, pit_job *out);
void pit_job_clear(pit_job *job);

/* QUEUED -> RUNNING (attempts + 1, started_us). 0, or -1 if the job was not QUEUED (e.g. canceled). */
int pit_job_store_start(pit_job_store *s, const char *id);
/* RUNNING -> COMPLETED with its result. */
int pit_job_store_complete(pit_job_store *s, const char *id, const char *result_json);
/* -> FAILED with the reason (from QUEUED or RUNNING). */
int pit_job_store_fail(pit_job_store *s, const char *id, const char *error);
/* RUNNING -> QUEUED again (its worker died), unless it ran max_attempts times: then FAILED with
 * why. Returns the new state, or -1. */
int pit_job_store_requeue(pit_job_store *s, const char *id, int max_attempts, const char *why);
/* QUEUED or RUNNING -> CANCELED. 0, 1 if it had already finished (nothing changed), -1 unknown. */
int pit_job_store_cancel(pit_job_store *s, const char *id);

/* After a restart: every RUNNING job back to QUEUED (its run died with the old supervisor).
 * Returns how many. */
int pit_job_store_recover(pit_job_store *s);
/* Ids of QUEUED jobs, oldest first, at most max; returns how many were written to ids. */
size_t pit_job_store_queued(pit_job_store *s, char (*ids)[40], size_t max);
/* Up to max jobs, newest first, in one state (state < 0: any), without their circuits and results.
 * Returns how many were written to out (the caller pit_job_clears each). */
size_t pit_job_store_list(pit_job_store *s, int state, pit_job *out, size_t max);
/* Jobs in each state, into counts[5]. */
void pit_job_store_count(pit_job_store *s, int64_t counts[5]);
/* Deletes finished jobs completed before before_us; returns how many. */
int pit_job_store_expire(pit_job_store *s, int64_t before_us);

#endif
