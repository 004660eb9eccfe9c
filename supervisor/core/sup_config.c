/* The supervisor's config schema, defaults and cross-key checks. docs/config.md mirrors this table. */
#include "core/sup_config.h"
#include "alloc.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0])) /* never counted by hand */
#define F(type_, field) .type = type_, .offset = offsetof(STRUCT, field)
#define INT_FIELD(k, field, def, lo, hi, d) {.key = k, F(PIT_CFG_INT, field), .def_int = def, .min = lo, .max = hi, .doc = d}

static const char *const kinds[] = {"native", "python", NULL};
static const char *const precisions[] = {"double", "single", NULL};

#define STRUCT pit_pool_config
static const pit_cfg_field pool_fields[] = {
    {.key = "name", F(PIT_CFG_STRING, name), .required = 1, .doc = "the pool's name, used by requests"},
    {.key = "kind", F(PIT_CFG_ENUM, kind), .def_int = PIT_KIND_NATIVE, .choices = kinds, .doc = "native or python"},
    INT_FIELD("size", size, 2, 1, 256, "worker processes"),
    INT_FIELD("max_size", max_size, 0, 0, 256, "most workers SIGTTIN grows the pool to (0: twice size, at most 256)"),
    INT_FIELD("max_concurrency", max_concurrency, 0, 0, 1024, "calls in flight per worker (0: native 4, python 1)"),
    INT_FIELD("queue_limit", queue_limit, 64, 0, 1000000, "calls waiting for a worker before RESOURCE_EXHAUSTED"),
    INT_FIELD("worker_threads", worker_threads, 0, 0, 1024, "command threads per worker (0: max_concurrency)"),
    {.key = "env", F(PIT_CFG_STRMAP, env), .doc = "extra environment variables for the workers"},
    {.key = "worker_bin", F(PIT_CFG_STRING, worker_bin), .def_str = "", .doc = "this pool's worker program"},
    INT_FIELD("max_qubits", max_qubits, 26, 1, 40, "native: largest circuit simulated"),
    INT_FIELD("max_shots", max_shots, 1000000, 1, 1000000000, "native: most shots per circuit"),
    INT_FIELD("max_gates", max_gates, 1000000, 1, 100000000, "native: most gates per circuit after expansion"),
    INT_FIELD("max_circuit_bytes", max_circuit_bytes, 4 << 20, 1, 1 << 30,
              "native: longest OpenQASM text (parsing takes a multiple of it in memory)"),
    {.key = "precision", F(PIT_CFG_ENUM, precision), .def_int = PIT_PRECISION_DOUBLE, .choices = precisions,
     .doc = "native: the state vector's precision, double or single (half the memory; a request may ask for either)"},
    INT_FIELD("memory_budget_mb", memory_budget_mb, 0, 0, 1 << 24,
              "native: state-vector memory its running circuits may reserve together (0: a share of the limit)"),
    {.key = "backend", F(PIT_CFG_STRING, backend), .def_str = "",
     .doc = "native: the job backend id this pool serves (\"\": the pool's name)"},
    {.key = "module", F(PIT_CFG_STRLIST, module), .doc = "python: module(s) to import"},
    {.key = "python_path", F(PIT_CFG_STRLIST, python_path), .doc = "python: folders added to sys.path"},
};
#undef STRUCT
static const pit_cfg_schema pool_schema = {"pool", pool_fields, N_FIELDS(pool_fields),
                                           sizeof(pit_pool_config)};

#define STRUCT pit_workers_config
static const pit_cfg_field workers_fields[] = {
    INT_FIELD("base_port", base_port, 50100, 1, 65535, "first port of the workers' range"),
    INT_FIELD("port_range", port_range, 100, 1, 65535, "ports in the range"),
};
#undef STRUCT
static const pit_cfg_schema workers_schema = {"workers", workers_fields, N_FIELDS(workers_fields), sizeof(pit_workers_config)};

#define STRUCT pit_timeouts_config
static const pit_cfg_field timeouts_fields[] = {
    INT_FIELD("request_ms", request_ms, 30000, 0, 86400000, "default deadline of a call (0: none)"),
    INT_FIELD("stream_ms", stream_ms, 0, 0, 86400000, "default deadline of a stream (0: none)"),
    INT_FIELD("worker_init_ms", worker_init_ms, 10000, 100, 3600000, "time a worker has to report ready"),
    INT_FIELD("graceful_ms", graceful_ms, 10000, 0, 3600000, "time running calls have to finish on SIGTERM"),
    INT_FIELD("health_interval_ms", health_interval_ms, 2000, 50, 3600000, "time between health pings"),
    INT_FIELD("health_timeout_ms", health_timeout_ms, 1000, 10, 3600000, "a ping slower than this kills the worker"),
    INT_FIELD("stream_idle_ms", stream_idle_ms, 60000, 0, 86400000,
              "a stream whose client takes no chunk for this long is cancelled (0: never)"),
    INT_FIELD("abandon_grace_ms", abandon_grace_ms, 5000, 0, 86400000,
              "a handler still running this long after its call ended gets its worker killed"),
};
#undef STRUCT
static const pit_cfg_schema timeouts_schema = {"timeouts", timeouts_fields,
                                               N_FIELDS(timeouts_fields),
                                               sizeof(pit_timeouts_config)};

#define STRUCT pit_restart_config
static const pit_cfg_field restart_fields[] = {
    INT_FIELD("max_restarts", max_restarts, 20, 0, 1000000, "restarts allowed per pool within period_s"),
    INT_FIELD("period_s", period_s, 60, 1, 86400, "the window max_restarts counts in"),
    /* Chosen by bench/bench_flapping.py (docs/config.md has the figures): 10..100 ms kept a flapping
     * pool serving 7.6x the calls of 100 ms..5 s; a worker that can never start still goes FAILED at
     * once, by max_restarts, and is retried after failed_retry_s. */
    INT_FIELD("backoff_initial_ms", backoff_initial_ms, 10, 0, 600000, "first restart delay"),
    INT_FIELD("backoff_max_ms", backoff_max_ms, 100, 0, 3600000, "largest restart delay"),
    INT_FIELD("failed_retry_s", failed_retry_s, 60, 0, 86400 * 30, "a FAILED pool starts again after this (0: never)"),
};
#undef STRUCT
static const pit_cfg_schema restart_schema = {"restart", restart_fields, N_FIELDS(restart_fields),
                                              sizeof(pit_restart_config)};

#define STRUCT pit_sessions_config
static const pit_cfg_field sessions_fields[] = {
    INT_FIELD("ttl_s", ttl_s, 600, 1, 30 * 86400, "idle time after which a session ends"),
    INT_FIELD("max_sessions", max_sessions, 10000, 1, 10000000, "open sessions per pool"),
};
#undef STRUCT
static const pit_cfg_schema sessions_schema = {"sessions", sessions_fields, N_FIELDS(sessions_fields), sizeof(pit_sessions_config)};

#define STRUCT pit_recycle_config
static const pit_cfg_field recycle_fields[] = {
    INT_FIELD("max_requests", max_requests, 0, 0, INT64_MAX, "restart a worker after this many calls (0: never)"),
    INT_FIELD("jitter", jitter, 0, 0, INT64_MAX, "add 0..jitter to max_requests per worker"),
    INT_FIELD("max_rss_mb", max_rss_mb, 0, 0, 1048576, "restart a worker above this resident memory (0: never)"),
};
#undef STRUCT
static const pit_cfg_schema recycle_schema = {"recycle", recycle_fields, N_FIELDS(recycle_fields), sizeof(pit_recycle_config)};

#define STRUCT pit_metrics_config
static const pit_cfg_field metrics_fields[] = {
    {.key = "listen", F(PIT_CFG_STRING, listen), .def_str = "127.0.0.1:9464",
     .doc = "address of GET /metrics (\"\": off)"},
    INT_FIELD("max_connections", max_connections, 64, 1, 65536, "scrape connections open at once (more get 503)"),
    INT_FIELD("idle_ms", idle_ms, 5000, 100, 3600000, "a connection that sends no request in this time is closed"),
};
#undef STRUCT
static const pit_cfg_schema metrics_schema = {"metrics", metrics_fields, N_FIELDS(metrics_fields),
                                              sizeof(pit_metrics_config)};

#define STRUCT pit_errors_config
static const pit_cfg_field errors_fields[] = {
    {.key = "expose_traceback", F(PIT_CFG_BOOL, expose_traceback), .def_int = 1,
     .doc = "send a handler's traceback to the client (false: its type and message only; the log keeps it)"},
};
#undef STRUCT
static const pit_cfg_schema errors_schema = {"errors", errors_fields, N_FIELDS(errors_fields),
                                             sizeof(pit_errors_config)};

#define STRUCT pit_jobs_config
static const pit_cfg_field jobs_fields[] = {
    {.key = "store", F(PIT_CFG_STRING, store), .def_str = "",
     .doc = "the job store's SQLite file (\"\": <state_dir>/jobs.db); relative to the config file's folder"},
    INT_FIELD("max_queued_jobs", max_queued_jobs, 10000, 1, 100000000, "jobs waiting before submit is refused"),
    INT_FIELD("max_running_jobs", max_running_jobs, 0, 0, 1000000,
              "jobs running at once per backend (0: its pool's size x max_concurrency)"),
    INT_FIELD("max_attempts", max_attempts, 3, 1, 100, "runs a job gets when workers die under it"),
    INT_FIELD("retention_s", retention_s, 7 * 86400, 0, INT64_MAX / 1000000, "finished jobs are kept this long (0: forever)"),
    INT_FIELD("run_timeout_s", run_timeout_s, 3600, 0, 30 * 86400, "longest run of one job (0: no limit)"),
    INT_FIELD("max_batch", max_batch, 10000, 1, 1000000, "circuits in one SubmitBatch"),
};
#undef STRUCT
static const pit_cfg_schema jobs_schema = {"jobs", jobs_fields, N_FIELDS(jobs_fields),
                                           sizeof(pit_jobs_config)};

#define STRUCT pit_sup_config
static const pit_cfg_field top_fields[] = {
    {.key = "listen", F(PIT_CFG_STRING, listen), .def_str = "127.0.0.1:50051", .doc = "clients' address"},
    {.key = "log_level", F(PIT_CFG_STRING, log_level), .def_str = "info", .doc = "debug, info, warn or error"},
    {.key = "log_file", F(PIT_CFG_STRING, log_file), .def_str = "",
     .doc = "append the log here instead of stderr (reopened on SIGUSR1); relative to the config file's folder"},
    {.key = "state_dir", F(PIT_CFG_STRING, state_dir), .def_str = "",
     .doc = "folder for the job store (\"\": $PITBOSS_STATE_DIR, else ~/.local/state/pitboss)"},
    {.key = "default_pool", F(PIT_CFG_STRING, default_pool), .def_str = "", .doc = "pool of calls naming none"},
    {.key = "worker_bin", F(PIT_CFG_STRING, worker_bin), .def_str = "", .doc = "path of pitboss-worker"},
    INT_FIELD("cq_threads", cq_threads, 1, 1, 64, "gRPC completion-queue threads"),
    INT_FIELD("max_message_mb", max_message_mb, 64, 1, 2047, "largest message"),
    INT_FIELD("max_args_mb", max_args_mb, 16, 1, 2047, "largest JSON args of one call"),
    {.key = "workers", F(PIT_CFG_OBJECT, workers), .sub = &workers_schema},
    {.key = "pools", F(PIT_CFG_ARRAY, pools), .sub = &pool_schema, .count_offset = offsetof(pit_sup_config, n_pools),
     .required = 1, .doc = "at least one pool"},
    {.key = "timeouts", F(PIT_CFG_OBJECT, timeouts), .sub = &timeouts_schema},
    {.key = "restart", F(PIT_CFG_OBJECT, restart), .sub = &restart_schema},
    {.key = "sessions", F(PIT_CFG_OBJECT, sessions), .sub = &sessions_schema},
    {.key = "recycle", F(PIT_CFG_OBJECT, recycle), .sub = &recycle_schema},
    {.key = "metrics", F(PIT_CFG_OBJECT, metrics), .sub = &metrics_schema},
    {.key = "jobs", F(PIT_CFG_OBJECT, jobs), .sub = &jobs_schema},
    {.key = "errors", F(PIT_CFG_OBJECT, errors), .sub = &errors_schema},
};
#undef STRUCT
const pit_cfg_schema pit_sup_config_schema = {"pitboss", top_fields, N_FIELDS(top_fields),
                                              sizeof(pit_sup_config)};

static int invalid(char *err, size_t errlen, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int invalid(char *err, size_t errlen, const char *path, const char *key, const char *fmt, ...) {
    int n = snprintf(err, errlen, "%s: %s: ", path, key);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < errlen) vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* HOST:PORT with HOST a name, an IPv4 address or a bracketed IPv6 one ([::1]:50051), as both the
 * gRPC listener and the metrics listener take them: a bad address fails --check, not the start. */
static int valid_address(const char *s) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != 0 || !colon[1] || port < 0 || port > 65535) return 0;
    if (s[0] == '[') {
        if (colon[-1] != ']' || colon - s < 3) return 0;
        char host[64];
        snprintf(host, sizeof host, "%.*s", (int)(colon - s - 2), s + 1);
        struct in6_addr a6;
        return inet_pton(AF_INET6, host, &a6) == 1;
    }
    return memchr(s, ':', (size_t)(colon - s)) == NULL; /* an unbracketed IPv6 address is ambiguous */
}

static int validate(const char *path, pit_sup_config *c, char *err, size_t errlen) {
    if (pit_log_level_parse(c->log_level) < 0)
        return invalid(err, errlen, path, "log_level", "must be debug, info, warn or error, got \"%s\"", c->log_level);
    if (!valid_address(c->listen))
        return invalid(err, errlen, path, "listen", "must be HOST:PORT, got \"%s\" (HOST: a name, an IPv4 address or an "
                       "[IPv6] one in brackets)", c->listen);
    if (c->metrics.listen[0] && !valid_address(c->metrics.listen))
        return invalid(err, errlen, path, "metrics.listen", "must be HOST:PORT or \"\", got \"%s\" (HOST: a name, an "
                       "IPv4 address or an [IPv6] one in brackets)", c->metrics.listen);
    if (c->n_pools == 0) return invalid(err, errlen, path, "pools", "must name at least one pool");
    if (c->n_pools > 64) return invalid(err, errlen, path, "pools", "at most 64 pools, got %zu", c->n_pools);
    int64_t slots = 0;
    for (size_t i = 0; i < c->n_pools; i++) {
        pit_pool_config *p = &c->pools[i];
        char key[64];
        snprintf(key, sizeof key, "pools[%zu].name", i);
        if (!p->name[0]) return invalid(err, errlen, path, key, "must not be empty");
        for (const char *s = p->name; *s; s++)
            if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                  *s == '-' || *s == '.'))
                return invalid(err, errlen, path, key, "\"%s\" may hold only letters, digits, '_', '-' and '.'", p->name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->pools[k].name, p->name) == 0)
                return invalid(err, errlen, path, key, "\"%s\" is already the name of pools[%zu]", p->name, k);
        if (p->max_size == 0) p->max_size = p->size * 2 > 256 ? 256 : p->size * 2;
        if (p->max_size < p->size) {
            snprintf(key, sizeof key, "pools[%zu].max_size", i);
            return invalid(err, errlen, path, key, "%lld is below the pool's size (%lld)", (long long)p->max_size,
                           (long long)p->size);
        }
        if (p->max_concurrency == 0) p->max_concurrency = p->kind == PIT_KIND_PYTHON ? 1 : 4;
        if (p->worker_threads == 0) p->worker_threads = p->max_concurrency;
        if (p->kind == PIT_KIND_PYTHON && p->module.count == 0) {
            snprintf(key, sizeof key, "pools[%zu].module", i);
            return invalid(err, errlen, path, key, "a python pool needs the module(s) holding its handlers");
        }
        if (p->kind == PIT_KIND_NATIVE && (p->module.count || p->python_path.count)) {
            snprintf(key, sizeof key, "pools[%zu].%s", i, p->module.count ? "module" : "python_path");
            return invalid(err, errlen, path, key, "only python pools import modules (this pool's kind is native)");
        }
        if (p->kind == PIT_KIND_PYTHON && p->backend[0]) {
            snprintf(key, sizeof key, "pools[%zu].backend", i);
            return invalid(err, errlen, path, key, "only native pools run circuits (this pool's kind is python)");
        }
        if (p->kind == PIT_KIND_NATIVE && !p->backend[0]) {
            free(p->backend);
            p->backend = pit_strdup(p->name);
        }
        for (size_t k = 0; k < i; k++)
            if (p->kind == PIT_KIND_NATIVE && c->pools[k].kind == PIT_KIND_NATIVE &&
                strcmp(c->pools[k].backend, p->backend) == 0) {
                snprintf(key, sizeof key, "pools[%zu].backend", i);
                return invalid(err, errlen, path, key, "\"%s\" is already the backend of pools[%zu]", p->backend, k);
            }
        slots += p->size;
    }
    if (c->default_pool[0] && !pit_sup_config_pool(c, c->default_pool))
        return invalid(err, errlen, path, "default_pool", "no pool is named \"%s\"", c->default_pool);
    if (!c->default_pool[0]) {
        free(c->default_pool);
        c->default_pool = pit_strdup(c->pools[0].name);
    }
    if (c->workers.port_range < slots)
        return invalid(err, errlen, path, "workers.port_range",
                       "%lld ports cannot hold the pools' %lld workers: make it at least %lld",
                       (long long)c->workers.port_range, (long long)slots, (long long)slots);
    if (c->workers.base_port + c->workers.port_range - 1 > 65535)
        return invalid(err, errlen, path, "workers.port_range", "base_port %lld + port_range %lld goes past port 65535",
                       (long long)c->workers.base_port, (long long)c->workers.port_range);
    if (c->restart.backoff_max_ms < c->restart.backoff_initial_ms)
        return invalid(err, errlen, path, "restart.backoff_max_ms", "must be at least backoff_initial_ms (%lld)",
                       (long long)c->restart.backoff_initial_ms);
    if (c->timeouts.health_timeout_ms > c->timeouts.health_interval_ms)
        return invalid(err, errlen, path, "timeouts.health_timeout_ms", "must not exceed health_interval_ms (%lld)",
                       (long long)c->timeouts.health_interval_ms);
    return 0;
}

int pit_sup_config_load_text(const char *name, const char *text, pit_sup_config *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (pit_cfg_load_text(&pit_sup_config_schema, name, text, out, err, errlen) != 0) return -1;
    if (validate(name, out, err, errlen) != 0) return -1;
    out->config_dir = pit_strdup(".");
    return 0;
}

int pit_sup_config_load(const char *path, pit_sup_config *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (pit_cfg_load_file(&pit_sup_config_schema, path, out, err, errlen) != 0) return -1;
    if (validate(path, out, err, errlen) != 0) return -1;
    char abs[PATH_MAX];
    if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
    char *slash = strrchr(abs, '/');
    if (slash) *slash = 0;
    out->config_dir = pit_strdup(slash ? abs : ".");
    return 0;
}

void pit_sup_config_free(pit_sup_config *c) {
    pit_cfg_free(&pit_sup_config_schema, c);
    free(c->config_dir);
    c->config_dir = NULL;
}

const pit_pool_config *pit_sup_config_pool(const pit_sup_config *c, const char *name) {
    for (size_t i = 0; i < c->n_pools; i++)
        if (strcmp(c->pools[i].name, name) == 0) return &c->pools[i];
    return NULL;
}
