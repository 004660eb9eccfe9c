#include "jobs/job_store.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"

struct pit_job_store {
    sqlite3 *db;
    pthread_mutex_t mu;
    int lock_fd; /* <path>.lock, flock'ed for as long as the store is open */
};

static const char *const STATE_NAMES[] = {"QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELED"};

const char *pit_job_state_name(pit_job_state s) { return (unsigned)s < 5 ? STATE_NAMES[s] : "UNKNOWN"; }
int pit_job_state_terminal(pit_job_state s) { return s == JOB_COMPLETED || s == JOB_FAILED || s == JOB_CANCELED; }

static const char *SCHEMA =
    "PRAGMA journal_mode=WAL;"
    /* WAL + NORMAL: a committed job survives the process being killed; only a power cut may lose the
     * last transactions. */
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS jobs ("
    "  id TEXT PRIMARY KEY,"
    "  request_id TEXT,"
    "  backend TEXT NOT NULL,"
    "  qasm TEXT NOT NULL,"
    "  shots INTEGER NOT NULL,"
    "  seed INTEGER NOT NULL DEFAULT -1,"
    "  state INTEGER NOT NULL,"
    "  submitted_us INTEGER NOT NULL,"
    "  started_us INTEGER NOT NULL DEFAULT 0,"
    "  completed_us INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT,"
    "  result_json TEXT,"
    "  seq INTEGER NOT NULL,"
    "  options TEXT);"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_request ON jobs(request_id) WHERE request_id IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq);"
    "CREATE INDEX IF NOT EXISTS jobs_seq ON jobs(seq);";

/* One owner per store: two supervisors that both "recover" one store would run its RUNNING jobs
 * twice. The lock is an flock on <path>.lock (released by the kernel when the owner dies, however
 * it dies); the file holds the owner's pid for the message. Returns the fd, or -1 with err set. */
static int take_lock(const char *path, char *err, size_t errlen) {
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s.lock", path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the job store's lock file %s: %s", lock_path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        snprintf(err, errlen,
                 "the job store %s (its state_dir) is in use by pitboss pid %s; give this instance its own state_dir "
                 "(or jobs.store)", path, pid[0] ? pid : "?");
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* The lock holds without the pid; only the message of a second instance is poorer. */
    }
    return fd;
}

pit_job_store *pit_job_store_open(const char *path, char *err, size_t errlen) {
    int lock_fd = take_lock(path, err, errlen);
    if (lock_fd < 0) return NULL;
    /* Created 0600 before SQLite opens it: it holds every client's circuits, and SQLite gives the
     * -wal and -shm files the database's own mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the job store %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        close(lock_fd);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot prepare the job store %s: %s", path, msg ? msg : "unknown error");
        sqlite3_free(msg);
        sqlite3_close(db);
        close(lock_fd);
        return NULL;
    }
    /* Stores made before jobs had options: add the column (an error says it is there already). */
    sqlite3_exec(db, "ALTER TABLE jobs ADD COLUMN options TEXT", NULL, NULL, NULL);
    pit_job_store *s = pit_calloc(1, sizeof *s);
    s->db = db;
    s->lock_fd = lock_fd;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void pit_job_store_close(pit_job_store *s) {
    if (!s) return;
    sqlite3_close(s->db);
    close(s->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void new_id(char *out) {
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)pit_wall_us();
        memcpy(r, &t, 8);
        memcpy(r + 8, &t, 8);
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* a version-4 UUID */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
             r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

static char *dup_col(sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? pit_strdup((const char *)t) : NULL;
}

int pit_job_store_add(pit_job_store *s, pit_job *job) {
    pthread_mutex_lock(&s->mu);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (job->request_id[0]) {
        sqlite3_prepare_v2(s->db, "SELECT id FROM jobs WHERE request_id = ?", -1, &st, NULL);
        sqlite3_bind_text(st, 1, job->request_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(job->id, sizeof job->id, "%s", (const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
            pthread_mutex_unlock(&s->mu);
            return 1;
        }
        sqlite3_finalize(st);
    }
    new_id(job->id);
    job->state = JOB_QUEUED;
    job->submitted_us = pit_wall_us();
    sqlite3_prepare_v2(s->db,
                       "INSERT INTO jobs (id, request_id, backend, qasm, shots, seed, state, submitted_us, seq, options) "
                       "VALUES (?, ?, ?, ?, ?, ?, 0, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?)",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, job->id, -1, SQLITE_STATIC);
    if (job->request_id[0])
        sqlite3_bind_text(st, 2, job->request_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, job->backend, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, job->qasm ? job->qasm : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, job->shots);
    sqlite3_bind_int64(st, 6, job->seed);
    sqlite3_bind_int64(st, 7, job->submitted_us);
    if (job->options)
        sqlite3_bind_text(st, 8, job->options, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    if (sqlite3_step(st) == SQLITE_DONE) rc = 0;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The columns every read selects, in this order; with_blobs adds qasm, result_json and options. */
#define JOB_COLUMNS "id, request_id, backend, shots, seed, state, submitted_us, started_us, completed_us, attempts, error"

static void read_row(sqlite3_stmt *st, pit_job *out, int with_blobs) {
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", (const char *)sqlite3_column_text(st, 0));
    const unsigned char *rq = sqlite3_column_text(st, 1);
    snprintf(out->request_id, sizeof out->request_id, "%s", rq ? (const char *)rq : "");
    snprintf(out->backend, sizeof out->backend, "%s", (const char *)sqlite3_column_text(st, 2));
    out->shots = sqlite3_column_int64(st, 3);
    out->seed = sqlite3_column_int64(st, 4);
    out->state = (pit_job_state)sqlite3_column_int(st, 5);
    out->submitted_us = sqlite3_column_int64(st, 6);
    out->started_us = sqlite3_column_int64(st, 7);
    out->completed_us = sqlite3_column_int64(st, 8);
    out->attempts = sqlite3_column_int(st, 9);
    out->error = dup_col(st, 10);
    if (with_blobs) {
        out->qasm = dup_col(st, 11);
        out->result_json = dup_col(st, 12);
        out->options = dup_col(st, 13);
    }
}

int pit_job_store_get(pit_job_store *s, const char *id, pit_job *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(s->db, "SELECT " JOB_COLUMNS ", qasm, result_json, options FROM jobs WHERE id = ?", -1, &st, NULL);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        read_row(st, out, 1);
        rc = 0;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void pit_job_clear(pit_job *job) {
    free(job->qasm);
    free(job->error);
    free(job->result_json);
    free(job->options);
    job->qasm = job->error = job->result_json = job->options = NULL;
}

/* Runs a statement with ?1 = id, ?2 = num, ?3 = text (those it names); returns rows changed, -1 on error. */
static int update(pit_job_store *s, const char *sql, const char *id, const char *text, int64_t num) {
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int changed = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int64(st, 2, num);
        if (sqlite3_bind_parameter_count(st) >= 3) {
            if (text)
                sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, 3);
        }
        if (sqlite3_step(st) == SQLITE_DONE) changed = sqlite3_changes(s->db);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return changed;
}

int pit_job_store_start(pit_job_store *s, const char *id) {
    int n = update(s, "UPDATE jobs SET state = 1, attempts = attempts + 1, started_us = ?2 WHERE id = ?1 AND state = 0",
                   id, NULL, pit_wall_us());
    return n == 1 ? 0 : -1;
}

int pit_job_store_complete(pit_job_store *s, const char *id, const char *result_json) {
    int n = update(s, "UPDATE jobs SET state = 2, completed_us = ?2, result_json = ?3 WHERE id = ?1 AND state = 1", id,
                   result_json, pit_wall_us());
    return n == 1 ? 0 : -1;
}

int pit_job_store_fail(pit_job_store *s, const char *id, const char *error) {
    int n = update(s, "UPDATE jobs SET state = 3, completed_us = ?2, error = ?3 WHERE id = ?1 AND state IN (0, 1)", id,
                   error, pit_wall_us());
    return n == 1 ? 0 : -1;
}

int pit_job_store_requeue(pit_job_store *s, const char *id, int max_attempts, const char *why) {
    pit_job job;
    if (pit_job_store_get(s, id, &job) != 0) return -1;
    int attempts = job.attempts;
    pit_job_state state = job.state;
    pit_job_clear(&job);
    if (state != JOB_RUNNING) return -1;
    if (attempts >= max_attempts) {
        char msg[1024];
        snprintf(msg, sizeof msg, "gave up after %d attempts: %s", attempts, why ? why : "its worker died");
        return pit_job_store_fail(s, id, msg) == 0 ? JOB_FAILED : -1;
    }
    int n = update(s, "UPDATE jobs SET state = 0, started_us = 0, error = ?3 WHERE id = ?1 AND state = 1",
                   id, why, 0);
    return n == 1 ? JOB_QUEUED : -1;
}

int pit_job_store_cancel(pit_job_store *s, const char *id) {
    int n = update(s, "UPDATE jobs SET state = 4, completed_us = ?2, error = 'canceled by request' WHERE id = ?1 AND state IN (0, 1)", id, NULL,
                   pit_wall_us());
    if (n == 1) return 0;
    pit_job job;
    if (pit_job_store_get(s, id, &job) != 0) return -1;
    pit_job_clear(&job);
    return 1;
}

int pit_job_store_recover(pit_job_store *s) {
    pthread_mutex_lock(&s->mu);
    int n = -1;
    if (sqlite3_exec(s->db, "UPDATE jobs SET state = 0, started_us = 0 WHERE state = 1", NULL, NULL, NULL) == SQLITE_OK)
        n = sqlite3_changes(s->db);
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t pit_job_store_queued(pit_job_store *s, char (*ids)[40], size_t max) {
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(s->db, "SELECT id FROM jobs WHERE state = 0 ORDER BY seq LIMIT ?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
    size_t n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) snprintf(ids[n++], 40, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t pit_job_store_list(pit_job_store *s, int state, pit_job *out, size_t max) {
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(s->db, "SELECT " JOB_COLUMNS " FROM jobs WHERE ?1 < 0 OR state = ?1 ORDER BY seq DESC LIMIT ?2",
                       -1, &st, NULL);
    sqlite3_bind_int(st, 1, state);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    size_t n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) read_row(st, &out[n++], 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return n;
}

void pit_job_store_count(pit_job_store *s, int64_t counts[5]) {
    memset(counts, 0, 5 * sizeof counts[0]);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(s->db, "SELECT state, COUNT(*) FROM jobs GROUP BY state", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        if (state >= 0 && state < 5) counts[state] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}

int pit_job_store_expire(pit_job_store *s, int64_t before_us) {
    return update(s, "DELETE FROM jobs WHERE state IN (2, 3, 4) AND completed_us < ?2", "", NULL, before_us);
}
