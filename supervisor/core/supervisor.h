/*
 * The supervisor's shared state: pools of worker slots, sessions, queued calls.
 *
 * Who touches what (see docs/architecture.md):
 *  - the libev thread (monitor.c) starts and reaps workers, runs timers and signals;
 *  - completion-queue threads (router.c, proxy.c, front.c) accept, route and proxy calls;
 *  - both read and write the tables below only under sup->mu. Never call pit_call_* (which takes a
 *    call's own lock) while holding sup->mu: a call's cancel hook takes sup->mu.
 */
#ifndef PIT_SUPERVISOR_H
#define PIT_SUPERVISOR_H

#include <ev.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "cq_loop.h"
#include "list.h"
#include "rpc_server.h"
#include "core/sup_config.h"

/* Abandoned calls whose end time a slot keeps (more still count, with the newest time). */
#define PIT_ABANDON_TRACKED 16

/* Pools a config may have, and workers a pool may grow to: tables are allocated this large once
 * (untouched slots cost address space, not memory) so that reloads and SIGTTIN never move them. */
#define PIT_MAX_POOLS 64
#define PIT_MAX_POOL_SLOTS 256

/* Parts above core that add lines to /metrics (the job service). */
#define PIT_MAX_METRICS_SOURCES 4

/* How long workers get on SIGQUIT before SIGKILL. */
#define PIT_FAST_STOP_MS 1000

typedef struct pit_sup pit_sup;
typedef struct pit_pool pit_pool;
typedef struct pit_slot pit_slot;
typedef struct pit_proxy pit_proxy;
typedef struct pit_sessions pit_sessions;
typedef struct pit_metrics pit_metrics;
typedef struct pit_jobs pit_jobs;

/* A channel to one worker process, shared by the calls sent to it. A worker restart replaces the
 * slot's channel (a fresh channel has no reconnect backoff); calls in flight keep the old one. */
typedef struct {
    grpc_channel *ch;
    int refs; /* under sup->mu */
} pit_chan;

typedef enum {
    SLOT_STOPPED = 0, /* no process, none wanted (shutdown, failed pool) */
    SLOT_STARTING,    /* forked, waiting for READY */
    SLOT_READY,       /* takes calls */
    SLOT_DRAINING,    /* takes no new calls; stopped when idle (recycle, reload) */
    SLOT_STOPPING,    /* sent SIGTERM, waiting for exit */
    SLOT_BACKOFF,     /* exited; restart timer running */
} pit_slot_state;

const char *pit_slot_state_name(pit_slot_state s);

struct pit_slot {
    pit_pool *pool;
    int index;  /* within the pool */
    int port;
    char unix_path[300]; /* the worker's Unix socket, or "" */
    pid_t pid;
    pit_slot_state state;
    uint32_t generation; /* +1 per started process: sessions notice a new worker by it */
    pit_chan *chan;        /* to the current process; NULL until it is ready */
    uint32_t exits;        /* +1 per process exit: a call notices its worker died by it */
    pid_t last_pid;

    uint32_t in_flight;
    uint64_t served;          /* all time */
    uint64_t served_this_run; /* by the current process */
    uint64_t recycle_after;   /* 0: never */
    uint32_t restarts;
    char last_exit[160];
    int64_t started_us, ready_us;
    int64_t backoff_ms;
    int64_t rss_kb;
    int restart_now;   /* a planned stop (recycle, reload): restart at once, no backoff, not a crash */
    int stop_wanted;   /* draining and idle: the monitor stops it (pit_slot_went_idle) */
    int retiring;      /* SIGTTOU: drain, stop, and leave the pool (not restarted) */
    /* abandon.c: calls ended for their client whose handler may still run (counted in in_flight) */
    uint32_t abandoned;
    int64_t abandoned_at[PIT_ABANDON_TRACKED]; /* when each ended, oldest first */
    int n_abandoned_at;
    char abandoned_command[64];
    int abandon_probe_pending;
    int overran_kill_sent;
    int64_t stop_sent_us; /* SIGTERM sent (a planned stop): SIGKILL after graceful_ms */
    int64_t drain_since_us; /* DRAINING since (recycle, reload, TTOU): its calls are cut after graceful_ms */
    int health_pending;
    int64_t health_sent_us;

    /* libev side */
    ev_child child_w;
    ev_io ready_w;
    ev_io stderr_w;
    ev_timer init_w;
    ev_timer backoff_w;
    int ready_fd, stderr_fd;
    char events_buf[512]; /* partial line from the ready pipe (READY, then ENDED lines) */
    size_t events_len;
    char stderr_buf[4096]; /* partial line */
    size_t stderr_len;
    char tail[8][256]; /* the worker's last stderr lines, for failure reports */
    int tail_next;
};

typedef enum { POOL_SERVING = 0, POOL_FAILED } pit_pool_state;

struct pit_pool {
    pit_sup *sup;
    const pit_pool_config *cfg;
    int index;
    char *worker_bin; /* resolved program path */
    pit_pool_state state;
    char failed_reason[512];
    pit_slot *slots;   /* cap_slots allocated (the pool's max_size), never moved: calls keep pointers */
    int n_slots;       /* in use: [0, n_slots); SIGTTIN/SIGTTOU move it within [1, cap_slots] */
    int cap_slots;
    /* FIFO of calls waiting for a worker */
    pit_list queue; /* of pit_proxy.qnode, oldest first */
    uint32_t queued;
    /* No queued call's deadline is earlier (INT64_MAX: none queued). Lowered as calls join; raised
     * only by a whole walk of the queue (router.c), so it may be early: the wake-up it sets then
     * finds nothing due and walks the queue once. */
    int64_t queue_min_deadline_us;
    uint32_t in_flight;
    /* restart times within restart.period_s, for the FAILED decision */
    int64_t *restart_times;
    int n_restart_times;
    int restart_times_cap;
    pit_sessions *sessions;
    uint64_t killed_overran; /* workers killed for calls that ran past their end (abandon.c) */
    int removed;             /* dropped from the config by a reload: drains, takes no calls, not listed */
    int64_t failed_at_us;    /* when it went FAILED (restart.failed_retry_s counts from here) */
};

/* pool.c: a pool's tables (under sup->mu, or before threads start). */
void pit_pool_init(pit_sup *sup, pit_pool *p, int index, const pit_pool_config *cfg);
void pit_pool_free(pit_pool *p);
/* The program pools[index] runs: its worker_bin (relative to config_dir), else the supervisor's;
 * malloc'd, or NULL with err naming the key when it is not executable. */
char *pit_pool_resolve_bin(const pit_sup *sup, const pit_pool_config *pc, const char *config_dir, size_t index,
                           char *err, size_t errlen);

struct pit_sup {
    pit_sup_config cfg;
    char config_path[4096];
    char worker_bin[4096];
    char token[65];
    char run_dir[256]; /* private (0700) folder for the workers' Unix sockets */
    int64_t started_us;

    pthread_mutex_t mu;
    pit_pool *pools;
    int n_pools;
    int shutting_down;
    int fast_stop;     /* SIGQUIT: cancel calls at once, PIT_FAST_STOP_MS for workers before SIGKILL */
    int reload_slot;   /* SIGHUP: next slot (global index) to replace; -1 when idle */
    /* reload.c: the last reload's outcome, for GetInfo (and so `pitboss reload`) */
    uint32_t reloads;
    int last_reload_ok;
    char last_reload[2048];
    struct pit_retired_config *retired; /* configs replaced by reloads: threads may still read them */
    int64_t next_wake_us; /* earliest queued deadline (monotonic µs); INT64_MAX when none */
    pit_proxy *exit_waiters; /* failed worker calls waiting to learn how their worker ended */
    pit_proxy *streams;      /* client calls being proxied: streams (timeouts.stream_idle_ms) and calls
                              * on a draining slot (cut after timeouts.graceful_ms) */

    grpc_completion_queue *cq;
    pit_server *server;
    pit_cq_loop *loop;
    struct ev_loop *ev;
    pit_metrics *metrics;
    struct pit_call_stats *calls; /* core/call_stats.h: counted by the router, rendered by api/metrics.c */
    pit_jobs *jobs; /* the quantum job API (job_manager.c) */

    /* Core sits below routing, api and jobs: what it needs of them it calls through these, set by
     * the part above before the loop starts (the part registers itself; core never includes it). */
    struct {
        void (*cut_drained_locked)(pit_sup *sup); /* health tick, sup->mu held: calls on draining slots past graceful_ms */
        void (*cancel_idle_streams)(pit_sup *sup); /* stream_idle_ms tick, sup->mu not held */
    } routing;                                     /* set by pit_router_register */
    int (*reload)(pit_sup *sup);                   /* SIGHUP; set by serve.c (core/reload.c) */
    struct {
        void (*render)(void *arg, void (*put)(void *out, const char *line), void *out);
        void *arg;
    } metrics_sources[PIT_MAX_METRICS_SOURCES];    /* pit_sup_add_metrics_source */
    int n_metrics_sources;
    ev_async monitor_wake; /* pit_slot_went_idle: the monitor stops the slots marked stop_wanted */
    /* memory.c: the native pools' shared state-vector budget (common/mem_budget.h); NULL: none */
    struct pit_mem_shared_s *mem;
    int mem_fd; /* inherited by native workers (--memory-fd) */
};

/* --- worker_channel.c (under sup->mu) --- */
/* target: "unix:/path" or "127.0.0.1:port". */
pit_chan *pit_chan_open(const char *target, size_t max_message_bytes);
void pit_chan_unref(pit_chan *c); /* destroys the channel with its last reference */

/* --- monitor.c (libev thread) --- */
int pit_monitor_start_all(pit_sup *sup); /* allocate ports, fork every worker */
void pit_monitor_install(pit_sup *sup);   /* signals, timers */
void pit_monitor_stop_workers(pit_sup *sup, int64_t grace_ms);
/* Under sup->mu: tell the slot's worker that a session ended (it drops the session's state). */
void pit_monitor_close_session_on_worker(pit_sup *sup, pit_slot *slot, const char *id);
/* libev thread, under sup->mu: a draining slot that went idle is stopped (SIGTERM, restart at once). */
void pit_monitor_stop_idle_locked(pit_sup *sup, pit_slot *slot);
/* libev thread, under sup->mu (reload.c): workers to a new size (draining the ones that go); a
 * FAILED pool started again; a pool added (its n_slots workers started) or removed (all drained). */
void pit_monitor_pool_resize_locked(pit_sup *sup, pit_pool *pool, int size, const char *why);
void pit_monitor_pool_restart_locked(pit_sup *sup, pit_pool *pool, const char *why);
void pit_monitor_pool_add_locked(pit_sup *sup, pit_pool *pool);
void pit_monitor_pool_remove_locked(pit_sup *sup, pit_pool *pool);

/* --- pool.c --- */
pit_pool *pit_sup_find_pool(pit_sup *sup, const char *name); /* under sup->mu; "" or NULL: the default pool */
int pit_slot_global_index(const pit_slot *slot);
/* Any thread, under sup->mu: a draining slot has no call left. Marks it and wakes the monitor, which
 * alone stops and starts workers. */
void pit_slot_went_idle(pit_sup *sup, pit_slot *slot);
/* Before the loop starts: fn(arg, put, out) adds its lines to every /metrics page. */
void pit_sup_add_metrics_source(pit_sup *sup, void (*fn)(void *arg, void (*put)(void *out, const char *line), void *out),
                                void *arg);

#endif
