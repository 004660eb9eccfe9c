/* The supervisor's configuration: what config/pitboss.json may say (documented in docs/config.md). */
#ifndef PIT_SUP_CONFIG_H
#define PIT_SUP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum { PIT_KIND_NATIVE = 0, PIT_KIND_PYTHON = 1 };

typedef struct {
    char *name;
    int kind;
    int64_t size;
    int64_t max_size;        /* SIGTTIN's ceiling; 0 in the file: twice size */
    int64_t max_concurrency; /* 0: the kind's default (native 4, python 1) */
    int64_t queue_limit;
    int64_t worker_threads;  /* command threads in each worker; 0: max_concurrency */
    char *worker_bin;        /* "": the global worker_bin */
    int64_t max_qubits;      /* native: the simulator's limits */
    int64_t max_shots;
    int64_t max_gates;
    int64_t max_circuit_bytes;
    int precision;            /* native: PIT_PRECISION_DOUBLE or _SINGLE, the default of its circuits */
    int64_t memory_budget_mb; /* 0: PIT_MEMORY_SHARE_PCT of the memory limit, shared (memory.c) */
    char *backend;           /* native: the job backend id it serves ("": the pool's name) */
    pit_cfg_strmap env;
    pit_cfg_strlist module;       /* python pools */
    pit_cfg_strlist python_path;  /* python pools; relative to the config file's folder */
} pit_pool_config;

enum { PIT_PRECISION_DOUBLE = 0, PIT_PRECISION_SINGLE = 1 }; /* the order of the config's choices */

typedef struct {
    int64_t base_port;
    int64_t port_range;
} pit_workers_config;

typedef struct {
    int64_t request_ms;
    int64_t stream_ms;
    int64_t worker_init_ms;
    int64_t graceful_ms;
    int64_t health_interval_ms;
    int64_t health_timeout_ms;
    int64_t stream_idle_ms;
    int64_t abandon_grace_ms;
} pit_timeouts_config;

typedef struct {
    int64_t max_restarts;
    int64_t period_s;
    int64_t backoff_initial_ms;
    int64_t backoff_max_ms;
    int64_t failed_retry_s;
} pit_restart_config;

typedef struct {
    int64_t ttl_s;
    int64_t max_sessions;
} pit_sessions_config;

typedef struct {
    int64_t max_requests;
    int64_t jitter;
    int64_t max_rss_mb;
} pit_recycle_config;

typedef struct {
    char *listen;
    int64_t max_connections;
    int64_t idle_ms;
} pit_metrics_config;

typedef struct {
    char *store;              /* SQLite file; "": <state_dir>/jobs.db */
    int64_t max_queued_jobs;  /* jobs waiting before SubmitJob answers RESOURCE_EXHAUSTED */
    int64_t max_running_jobs; /* per backend; 0: its pool's size x max_concurrency */
    int64_t max_attempts;     /* runs a job gets when its worker dies under it */
    int64_t retention_s;      /* finished jobs are deleted this long after they finished (0: kept) */
    int64_t run_timeout_s;    /* longest run of one job (0: no limit) */
    int64_t max_batch;        /* circuits in one SubmitBatch */
} pit_jobs_config;

typedef struct {
    int expose_traceback; /* 1: handlers' tracebacks reach clients (development); 0: the log only */
} pit_errors_config;

typedef struct {
    char *listen;
    char *log_level;
    char *log_file;          /* "": stderr */
    char *state_dir;
    char *default_pool;
    char *worker_bin;
    int64_t cq_threads;
    int64_t max_message_mb;
    int64_t max_args_mb;
    pit_workers_config workers;
    pit_pool_config *pools;
    size_t n_pools;
    pit_timeouts_config timeouts;
    pit_restart_config restart;
    pit_sessions_config sessions;
    pit_recycle_config recycle;
    pit_metrics_config metrics;
    pit_jobs_config jobs;
    pit_errors_config errors;

    char *config_dir; /* folder of the config file (absolute); not a key */
} pit_sup_config;

extern const pit_cfg_schema pit_sup_config_schema;

/* Loads and validates; on failure returns -1 with one message naming file, key and problem. */
int pit_sup_config_load(const char *path, pit_sup_config *out, char *err, size_t errlen);
/* The same from text already read (name stands for the file in messages; relative paths are taken
 * from the current folder). On failure the caller still frees out with pit_sup_config_free. */
int pit_sup_config_load_text(const char *name, const char *text, pit_sup_config *out, char *err, size_t errlen);
void pit_sup_config_free(pit_sup_config *c);
const pit_pool_config *pit_sup_config_pool(const pit_sup_config *c, const char *name);

#endif
