/* The durable job store: lifecycle, idempotent submit, requeue limits, recovery, and jobs surviving
 * a process killed with SIGKILL. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "jobs/job_store.h"

static char path[256];
static char err[512];

static void setup(void) {
    snprintf(path, sizeof path, "/tmp/pitboss-jobstore-%d-%lld.db", (int)getpid(), (long long)pit_mono_us());
}

static void teardown(void) {
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof p, "%s.lock", path);
    unlink(p);
}

TestSuite(job_store, .init = setup, .fini = teardown, .timeout = 30);

static pit_job new_job(const char *request_id, int64_t shots) {
    pit_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.request_id, sizeof j.request_id, "%s", request_id);
    snprintf(j.backend, sizeof j.backend, "pitboss-statevector");
    j.qasm = "qubit q; bit c; h q; c = measure q;";
    j.shots = shots;
    j.seed = -1;
    return j;
}

Test(job_store, add_and_get) {
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    pit_job a = new_job("", 100), b = new_job("", 200);
    cr_assert_eq(pit_job_store_add(s, &a), 0);
    cr_assert_eq(pit_job_store_add(s, &b), 0);
    cr_assert_eq(strlen(a.id), 36);
    cr_assert_str_neq(a.id, b.id);
    pit_job got;
    cr_assert_eq(pit_job_store_get(s, b.id, &got), 0);
    cr_assert_eq(got.state, JOB_QUEUED);
    cr_assert_eq(got.shots, 200);
    cr_assert_eq(got.seed, -1);
    cr_assert_str_eq(got.qasm, b.qasm);
    cr_assert_gt(got.submitted_us, 0);
    pit_job_clear(&got);
    cr_assert_eq(pit_job_store_get(s, "no-such-id", &got), -1);
    pit_job_store_close(s);
}

Test(job_store, a_request_id_is_accepted_once) {
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    pit_job a = new_job("client-42", 100), again = new_job("client-42", 999);
    cr_assert_eq(pit_job_store_add(s, &a), 0);
    cr_assert_eq(pit_job_store_add(s, &again), 1);
    cr_assert_str_eq(again.id, a.id);
    int64_t counts[5];
    pit_job_store_count(s, counts);
    cr_assert_eq(counts[JOB_QUEUED], 1);
    pit_job_store_close(s);
}

Test(job_store, lifecycle) {
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    pit_job a = new_job("", 10);
    pit_job_store_add(s, &a);
    cr_assert_eq(pit_job_store_complete(s, a.id, "{}"), -1, "only a running job completes");
    cr_assert_eq(pit_job_store_start(s, a.id), 0);
    cr_assert_eq(pit_job_store_start(s, a.id), -1, "a job starts once");
    cr_assert_eq(pit_job_store_complete(s, a.id, "{\"counts\": {\"0\": 10}}"), 0);
    pit_job got;
    pit_job_store_get(s, a.id, &got);
    cr_assert_eq(got.state, JOB_COMPLETED);
    cr_assert_str_eq(got.result_json, "{\"counts\": {\"0\": 10}}");
    cr_assert(got.started_us >= got.submitted_us && got.completed_us >= got.started_us);
    cr_assert_eq(got.attempts, 1);
    pit_job_clear(&got);
    cr_assert_eq(pit_job_store_cancel(s, a.id), 1, "a finished job is not canceled");
    cr_assert_eq(pit_job_store_cancel(s, "nope"), -1);
    pit_job b = new_job("", 10);
    pit_job_store_add(s, &b);
    cr_assert_eq(pit_job_store_cancel(s, b.id), 0);
    cr_assert_eq(pit_job_store_start(s, b.id), -1, "a canceled job never starts");
    pit_job c = new_job("", 10);
    pit_job_store_add(s, &c);
    cr_assert_eq(pit_job_store_fail(s, c.id, "qasm:1:3: bad"), 0);
    pit_job_store_get(s, c.id, &got);
    cr_assert_eq(got.state, JOB_FAILED);
    cr_assert_str_eq(got.error, "qasm:1:3: bad");
    pit_job_clear(&got);
    pit_job_store_close(s);
}

Test(job_store, requeue_until_the_attempt_limit) {
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    pit_job a = new_job("", 10);
    pit_job_store_add(s, &a);
    for (int i = 1; i <= 2; i++) {
        cr_assert_eq(pit_job_store_start(s, a.id), 0);
        cr_assert_eq(pit_job_store_requeue(s, a.id, 3, "worker 0 died"), JOB_QUEUED);
    }
    cr_assert_eq(pit_job_store_start(s, a.id), 0);
    cr_assert_eq(pit_job_store_requeue(s, a.id, 3, "worker 0 died"), JOB_FAILED);
    pit_job got;
    pit_job_store_get(s, a.id, &got);
    cr_assert_eq(got.state, JOB_FAILED);
    cr_assert(strstr(got.error, "gave up after 3 attempts: worker 0 died") != NULL, "%s", got.error);
    pit_job_clear(&got);
    pit_job_store_close(s);
}

Test(job_store, queued_oldest_first_counts_and_expiry) {
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    char ids[5][40];
    for (int i = 0; i < 5; i++) {
        pit_job j = new_job("", i + 1);
        pit_job_store_add(s, &j);
        memcpy(ids[i], j.id, 40);
    }
    pit_job_store_start(s, ids[1]);
    pit_job_store_complete(s, ids[1], "{}");
    char q[8][40];
    size_t n = pit_job_store_queued(s, q, 8);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(q[0], ids[0]);
    cr_assert_str_eq(q[1], ids[2]);
    cr_assert_str_eq(q[3], ids[4]);
    cr_assert_eq(pit_job_store_queued(s, q, 2), 2);
    int64_t counts[5];
    pit_job_store_count(s, counts);
    cr_assert_eq(counts[JOB_QUEUED], 4);
    cr_assert_eq(counts[JOB_COMPLETED], 1);
    cr_assert_eq(pit_job_store_expire(s, pit_wall_us() + 1000000), 1, "finished jobs expire");
    pit_job got;
    cr_assert_eq(pit_job_store_get(s, ids[1], &got), -1);
    pit_job_store_close(s);
}

Test(job_store, jobs_survive_a_killed_process_and_running_ones_are_requeued) {
    pid_t pid = fork();
    if (pid == 0) {
        pit_job_store *s = pit_job_store_open(path, err, sizeof err);
        pit_job done = new_job("done", 7), running = new_job("running", 8), queued = new_job("queued", 9);
        pit_job_store_add(s, &done);
        pit_job_store_add(s, &running);
        pit_job_store_add(s, &queued);
        pit_job_store_start(s, done.id);
        pit_job_store_complete(s, done.id, "{\"counts\": {\"1\": 7}}");
        pit_job_store_start(s, running.id);
        raise(SIGKILL); /* no close, no checkpoint */
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(pit_job_store_recover(s), 1, "the job running when the process died goes back to the queue");
    int64_t counts[5];
    pit_job_store_count(s, counts);
    cr_assert_eq(counts[JOB_COMPLETED], 1);
    cr_assert_eq(counts[JOB_QUEUED], 2);
    cr_assert_eq(counts[JOB_RUNNING], 0);
    pit_job again = new_job("done", 1);
    cr_assert_eq(pit_job_store_add(s, &again), 1);
    pit_job got;
    cr_assert_eq(pit_job_store_get(s, again.id, &got), 0);
    cr_assert_eq(got.state, JOB_COMPLETED);
    cr_assert_str_eq(got.result_json, "{\"counts\": {\"1\": 7}}");
    pit_job_clear(&got);
    pit_job_store_close(s);
}

Test(job_store, a_bad_path_is_named) {
    pit_job_store *s = pit_job_store_open("/nonexistent-dir/jobs.db", err, sizeof err);
    cr_assert_null(s);
    cr_assert(strstr(err, "/nonexistent-dir/jobs.db") != NULL, "%s", err);
}

Test(job_store, list_is_newest_first_and_filters_by_state) {
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    char ids[3][40];
    for (int i = 0; i < 3; i++) {
        pit_job j = new_job("", 10 + i);
        cr_assert_eq(pit_job_store_add(s, &j), 0);
        snprintf(ids[i], sizeof ids[i], "%s", j.id);
    }
    cr_assert_eq(pit_job_store_cancel(s, ids[1]), 0);
    pit_job out[5];
    size_t n = pit_job_store_list(s, -1, out, 5);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(out[0].id, ids[2]);
    cr_assert_str_eq(out[2].id, ids[0]);
    cr_assert_null(out[0].qasm, "a listing carries no circuits");
    for (size_t i = 0; i < n; i++) pit_job_clear(&out[i]);
    n = pit_job_store_list(s, JOB_CANCELED, out, 5);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out[0].id, ids[1]);
    cr_assert_str_eq(out[0].error, "canceled by request");
    pit_job_clear(&out[0]);
    pit_job_store_close(s);
}

Test(job_store, one_owner_at_a_time_and_the_file_is_private) {
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "the store is %o", st.st_mode & 0777);
    pit_job j = new_job("", 1);
    pit_job_store_add(s, &j); /* makes the -wal file */
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    cr_assert_eq(stat(wal, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "the -wal file is %o", st.st_mode & 0777);
    /* A second owner (another supervisor on the same state_dir) is refused, naming the first. */
    pid_t pid = fork();
    if (pid == 0) _exit(pit_job_store_open(path, err, sizeof err) == NULL && strstr(err, "in use by pitboss pid") ? 0 : 1);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a second open was not refused");
    char want[64];
    snprintf(want, sizeof want, "pid %d;", (int)getpid());
    pid = fork();
    if (pid == 0) _exit(pit_job_store_open(path, err, sizeof err) == NULL && strstr(err, want) ? 0 : 1);
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the refusal does not name pid %d", (int)getpid());
    pit_job_store_close(s);
    /* Closed (or its owner dead): the next one takes it. */
    s = pit_job_store_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    pit_job_store_close(s);
}

/* A job's run options (inputs, measure_all, includes) are kept with it, and a store made before
 * jobs had them opens with the column added. */
Test(job_store, options_are_kept_and_an_older_store_gains_their_column) {
    pit_job_store *s = pit_job_store_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    pit_job a = new_job("", 10), b = new_job("", 20);
    a.options = "{\"inputs\":{\"theta\":0.5},\"measure_all\":true}";
    cr_assert_eq(pit_job_store_add(s, &a), 0);
    cr_assert_eq(pit_job_store_add(s, &b), 0);
    pit_job got;
    cr_assert_eq(pit_job_store_get(s, a.id, &got), 0);
    cr_assert_str_eq(got.options, a.options);
    pit_job_clear(&got);
    cr_assert_eq(pit_job_store_get(s, b.id, &got), 0);
    cr_assert_null(got.options);
    pit_job_clear(&got);
    pit_job_store_close(s);
    /* the same file opened again: the ALTER is refused as a duplicate column, and nothing breaks */
    s = pit_job_store_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(pit_job_store_get(s, a.id, &got), 0);
    cr_assert_str_eq(got.options, a.options);
    pit_job_clear(&got);
    pit_job_store_close(s);
    teardown();
    /* a store of the schema before options: its job reads back, with none */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE jobs (id TEXT PRIMARY KEY, request_id TEXT, backend TEXT NOT NULL, "
                              "qasm TEXT NOT NULL, shots INTEGER NOT NULL, seed INTEGER NOT NULL DEFAULT -1, state "
                              "INTEGER NOT NULL, submitted_us INTEGER NOT NULL, started_us INTEGER NOT NULL DEFAULT 0, "
                              "completed_us INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, error TEXT, "
                              "result_json TEXT, seq INTEGER NOT NULL); INSERT INTO jobs (id, backend, qasm, shots, "
                              "state, submitted_us, seq) VALUES ('old', 'b', 'qubit q;', 5, 0, 1, 1);",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s = pit_job_store_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(pit_job_store_get(s, "old", &got), 0);
    cr_assert_eq(got.shots, 5);
    cr_assert_null(got.options);
    pit_job_clear(&got);
    pit_job c = new_job("", 30);
    c.options = "{\"measure_all\":true}";
    cr_assert_eq(pit_job_store_add(s, &c), 0);
    cr_assert_eq(pit_job_store_get(s, c.id, &got), 0);
    cr_assert_str_eq(got.options, c.options);
    pit_job_clear(&got);
    pit_job_store_close(s);
}
