/*
 * The monitor: the supervisor's policy for its workers, on the libev thread (the main thread). It
 * decides when to start a worker (spawn.c does the fork+exec), waits for its READY line, reaps it,
 * restarts it with backoff, declares a pool FAILED when its workers keep dying, pings them for
 * health, recycles them, replaces them on SIGHUP, and expires idle sessions. Like nginx's master
 * loop (ngx_process_cycle.c beside ngx_process.c): events become state changes in the slot table.
 * Every function here runs on the libev thread, except on_health_answer and on_close_answer, which
 * run on a completion-queue thread (they take sup->mu).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/abandon.h"
#include "alloc.h"
#include "buffers.h"
#include "clock.h"
#include "health.pb-c.h"
#include "log.h"
#include "core/memory.h"
#include "core/policy.h"
#include "pitboss.pb-c.h"
#include "proc.h"
#include "protocol.h"
#include "core/reload.h"
#include "rpc_client.h"
#include "core/sessions.h"
#include "core/spawn.h"
#include "core/supervisor.h"


static pit_sup *g_sup; /* for libev callbacks that carry no data pointer */

/* ---------------------------------------------------------------- starting a worker */

static void on_child(struct ev_loop *loop, ev_child *w, int revents);
static void on_ready_line(struct ev_loop *loop, ev_io *w, int revents);
static void on_init_timeout(struct ev_loop *loop, ev_timer *w, int revents);

static void on_backoff_done(struct ev_loop *loop, ev_timer *w, int revents);

/* Under sup->mu, on the libev thread: the slot starts again after its backoff delay (doubling up to
 * restart.backoff_max_ms). */
static void backoff_schedule(pit_sup *sup, pit_slot *slot) {
    const pit_restart_config *rc = &sup->cfg.restart;
    int64_t delay = pit_policy_backoff(&slot->backoff_ms, rc->backoff_initial_ms, rc->backoff_max_ms);
    slot->state = SLOT_BACKOFF;
    pit_info("restarting worker %d of pool \"%s\" in %lld ms", slot->index, slot->pool->cfg->name, (long long)delay);
    ev_timer_init(&slot->backoff_w, on_backoff_done, (double)delay / 1000.0, 0);
    slot->backoff_w.data = slot;
    ev_timer_start(sup->ev, &slot->backoff_w);
}

/* Under sup->mu. A spawn that fails (no descriptors, no processes: EMFILE, EAGAIN) is a failed start:
 * the slot tries again after its backoff, so it comes back once the cause is gone (it used to stay in
 * backoff with no process and no timer, for good). */
static void spawn(pit_sup *sup, pit_slot *slot) {
    if (pit_spawn_worker(sup, slot) != 0) {
        slot->restarts++;
        backoff_schedule(sup, slot);
        return;
    }
    slot->state = SLOT_STARTING;
    slot->generation++;
    slot->started_us = pit_mono_us();
    slot->served_this_run = 0;
    slot->health_pending = 0;
    slot->restart_now = 0;
    slot->overran_kill_sent = 0;
    slot->stop_wanted = 0;
    slot->events_len = 0;
    ev_child_init(&slot->child_w, on_child, slot->pid, 0);
    slot->child_w.data = slot;
    ev_child_start(sup->ev, &slot->child_w);
    ev_io_init(&slot->ready_w, on_ready_line, slot->ready_fd, EV_READ);
    slot->ready_w.data = slot;
    ev_io_start(sup->ev, &slot->ready_w);
    ev_timer_init(&slot->init_w, on_init_timeout, (double)sup->cfg.timeouts.worker_init_ms / 1000.0, 0);
    slot->init_w.data = slot;
    ev_timer_start(sup->ev, &slot->init_w);
    pit_info("started worker %d of pool \"%s\": pid %d, port %d", slot->index, slot->pool->cfg->name, (int)slot->pid,
             slot->port);
}

int pit_monitor_start_all(pit_sup *sup) {
    int last = (int)sup->cfg.workers.base_port - 1;
    pthread_mutex_lock(&sup->mu);
    for (int i = 0; i < sup->n_pools; i++) {
        for (int k = 0; k < sup->pools[i].n_slots; k++) {
            pit_slot *slot = &sup->pools[i].slots[k];
            int port = pit_spawn_find_port(sup, slot, last);
            if (!port) {
                pthread_mutex_unlock(&sup->mu);
                pit_error("no free port left in %lld..%lld for worker %d of pool \"%s\": widen workers.port_range or "
                          "free some ports", (long long)sup->cfg.workers.base_port,
                          (long long)(sup->cfg.workers.base_port + sup->cfg.workers.port_range - 1), k,
                          sup->pools[i].cfg->name);
                return -1;
            }
            slot->port = port;
            last = port;
        }
    }
    for (int i = 0; i < sup->n_pools; i++)
        for (int k = 0; k < sup->pools[i].n_slots; k++) spawn(sup, &sup->pools[i].slots[k]);
    pthread_mutex_unlock(&sup->mu);
    return 0;
}

/* ---------------------------------------------------------------- ready */

static void reload_continue(pit_sup *sup);
static int pool_grow(pit_sup *sup, pit_pool *pool, const char *why);
static int pool_shrink(pit_sup *sup, pit_pool *pool, const char *why);
static void pool_trim(pit_pool *pool);

/* One READY line (protocol.h), on the libev thread. */
static void worker_ready(struct ev_loop *loop, pit_slot *slot, const char *buf) {
    pit_sup *sup = g_sup;
    int port = 0;
    unsigned unused;
    char unix_path[300] = "";
    if (pit_event_line_parse(buf, &port, unix_path, sizeof unix_path, &unused) != PIT_EVENT_READY ||
        port != slot->port) {
        pit_error("worker %d of pool \"%s\" reported \"%.40s\" instead of READY %d: killing it", slot->index,
                  slot->pool->cfg->name, buf, slot->port);
        kill(slot->pid, SIGKILL);
        return;
    }
    ev_timer_stop(loop, &slot->init_w);
    pthread_mutex_lock(&sup->mu);
    if (slot->state == SLOT_STARTING) {
        slot->state = SLOT_READY;
        slot->ready_us = pit_mono_us();
        pit_chan *old = slot->chan;
        char target[320];
        if (unix_path[0])
            snprintf(target, sizeof target, "unix:%s", unix_path);
        else
            snprintf(target, sizeof target, "127.0.0.1:%d", slot->port);
        snprintf(slot->unix_path, sizeof slot->unix_path, "%s", unix_path);
        slot->chan = pit_chan_open(target, (size_t)sup->cfg.max_message_mb << 20);
        if (old) pit_chan_unref(old);
        const pit_recycle_config *rc = &sup->cfg.recycle;
        slot->recycle_after = pit_policy_recycle_after(rc->max_requests, rc->jitter, (uint64_t)random());
        pit_info("worker %d of pool \"%s\" is ready: pid %d, port %d, in %lld ms", slot->index, slot->pool->cfg->name,
                 (int)slot->pid, slot->port, (long long)((slot->ready_us - slot->started_us) / 1000));
    }
    if (sup->reload_slot >= 0 && pit_slot_global_index(slot) == sup->reload_slot) {
        sup->reload_slot++;
        reload_continue(sup);
    }
    pthread_mutex_unlock(&sup->mu);
    pit_cq_loop_wake(sup->loop); /* queued calls may go now */
}

/* The worker's --ready-fd pipe: READY once, then ENDED lines (protocol.h) until it exits. */
static void on_ready_line(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    pit_slot *slot = w->data;
    pit_sup *sup = g_sup;
    ssize_t n = read(slot->ready_fd, slot->events_buf + slot->events_len, sizeof slot->events_buf - 1 - slot->events_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) { /* closed: the worker exited (without READY: its exit says why) */
        ev_io_stop(loop, &slot->ready_w);
        close(slot->ready_fd);
        slot->ready_fd = -1;
        return;
    }
    slot->events_len += (size_t)n;
    slot->events_buf[slot->events_len] = 0;
    char *line = slot->events_buf, *nl;
    while ((nl = strchr(line, '\n'))) {
        *nl = 0;
        int port;
        unsigned running = 0;
        pit_event_kind kind = pit_event_line_parse(line, &port, NULL, 0, &running);
        if (kind == PIT_EVENT_READY) {
            worker_ready(loop, slot, line);
        } else if (kind == PIT_EVENT_ENDED) {
            pthread_mutex_lock(&sup->mu);
            uint32_t ended = pit_abandon_settle_locked(slot, (uint32_t)running);
            pthread_mutex_unlock(&sup->mu);
            if (ended) pit_cq_loop_wake(sup->loop); /* room for queued calls */
        } else if (slot->state == SLOT_STARTING) {
            worker_ready(loop, slot, line); /* says what it got instead of READY, and kills it */
        }
        line = nl + 1;
    }
    slot->events_len = strlen(line);
    memmove(slot->events_buf, line, slot->events_len + 1);
    if (slot->events_len == sizeof slot->events_buf - 1) slot->events_len = 0; /* a line too long: dropped */
}

static void on_init_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    pit_slot *slot = w->data;
    pthread_mutex_lock(&g_sup->mu);
    pit_spawn_drain_stderr(slot);
    char tail[2048];
    pit_spawn_tail_text(slot, tail, sizeof tail);
    pit_error("worker %d of pool \"%s\" (pid %d) did not report ready within %lld ms (timeouts.worker_init_ms): "
              "killing it. Its last output: %s", slot->index, slot->pool->cfg->name, (int)slot->pid,
              (long long)g_sup->cfg.timeouts.worker_init_ms, tail);
    if (slot->pid) kill(slot->pid, SIGKILL);
    pthread_mutex_unlock(&g_sup->mu);
}

/* ---------------------------------------------------------------- exits and restarts */

/* Under sup->mu: a planned stop (recycle, reload, a failed pool, SIGTTOU). The worker finishes its
 * calls; past timeouts.graceful_ms the health tick sends SIGKILL (a handler that never returns must
 * not keep a reload waiting forever). */
static void terminate_slot(pit_slot *slot) {
    if (!slot->pid) return;
    if (!slot->stop_sent_us) slot->stop_sent_us = pit_mono_us();
    kill(slot->pid, SIGTERM);
}

static void on_backoff_done(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    pit_slot *slot = w->data;
    pthread_mutex_lock(&g_sup->mu);
    if (slot->state == SLOT_BACKOFF && !g_sup->shutting_down && slot->pool->state != POOL_FAILED) spawn(g_sup, slot);
    pthread_mutex_unlock(&g_sup->mu);
}

static void pool_fail(pit_sup *sup, pit_pool *pool, const char *why) {
    if (pool->state == POOL_FAILED) return;
    pool->state = POOL_FAILED;
    pool->failed_at_us = pit_mono_us();
    snprintf(pool->failed_reason, sizeof pool->failed_reason, "%s", why);
    if (sup->cfg.restart.failed_retry_s)
        pit_error("pool \"%s\" FAILED: %s. Its calls fail with UNAVAILABLE until it starts again: by itself in %lld s "
                  "(restart.failed_retry_s), or at once on SIGHUP after you fixed the cause.", pool->cfg->name, why,
                  (long long)sup->cfg.restart.failed_retry_s);
    else
        pit_error("pool \"%s\" FAILED: %s. Its calls fail with UNAVAILABLE until SIGHUP or a restart (fix the cause "
                  "first).", pool->cfg->name, why);
    for (int k = 0; k < pool->n_slots; k++) {
        pit_slot *s = &pool->slots[k];
        if (s->state == SLOT_BACKOFF) ev_timer_stop(sup->ev, &s->backoff_w);
        if (s->pid) {
            s->state = SLOT_STOPPING;
            terminate_slot(s);
        } else {
            s->state = SLOT_STOPPED;
        }
    }
}

/* Records a crash in the pool's window; non-zero when the pool went over max_restarts. */
static int count_restart(pit_sup *sup, pit_pool *pool) {
    int64_t now = pit_mono_us(), window = sup->cfg.restart.period_s * 1000000;
    if (pool->restart_times_cap < (int)sup->cfg.restart.max_restarts + 2) { /* a reload raised it */
        pool->restart_times_cap = (int)sup->cfg.restart.max_restarts + 2;
        pool->restart_times = pit_realloc(pool->restart_times, (size_t)pool->restart_times_cap * sizeof(int64_t));
    }
    return pit_policy_restart_window(pool->restart_times, &pool->n_restart_times, pool->restart_times_cap, now, window,
                                     sup->cfg.restart.max_restarts);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents) {
    (void)revents;
    pit_slot *slot = w->data;
    pit_sup *sup = g_sup;
    pit_pool *pool = slot->pool;
    ev_child_stop(loop, w);
    pthread_mutex_lock(&sup->mu);
    pit_spawn_drain_stderr(slot);
    ev_io_stop(loop, &slot->stderr_w);
    close(slot->stderr_fd);
    if (slot->ready_fd >= 0) {
        ev_io_stop(loop, &slot->ready_w);
        close(slot->ready_fd);
        slot->ready_fd = -1;
    }
    ev_timer_stop(loop, &slot->init_w);

    pit_spawn_describe_exit(w->rstatus, slot->last_exit, sizeof slot->last_exit);
    pit_memory_slot_gone(sup, slot);
    pit_slot_state was = slot->state;
    int was_ready = slot->ready_us > slot->started_us;
    int64_t ran_ms = (pit_mono_us() - slot->started_us) / 1000;
    slot->last_pid = slot->pid;
    slot->pid = 0;
    slot->exits++;
    pit_abandon_reset_locked(slot);
    slot->stop_sent_us = 0;
    if (slot->chan) {
        pit_chan_unref(slot->chan);
        slot->chan = NULL;
    }

    if (sup->shutting_down || pool->state == POOL_FAILED) {
        slot->state = SLOT_STOPPED;
        pit_info("worker %d of pool \"%s\" (pid %d) %s", slot->index, pool->cfg->name, (int)slot->last_pid, slot->last_exit);
    } else if (slot->retiring) {
        slot->state = SLOT_STOPPED;
        pit_info("worker %d of pool \"%s\" (pid %d) %s: it left the pool", slot->index, pool->cfg->name,
                 (int)slot->last_pid, slot->last_exit);
        pool_trim(pool);
    } else if (slot->restart_now && WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == 0) {
        /* A planned replacement (recycle, reload): not a crash. */
        pit_info("worker %d of pool \"%s\" (pid %d) stopped for replacement: starting a new one", slot->index,
                 pool->cfg->name, (int)slot->last_pid);
        spawn(sup, slot);
    } else {
        char tail[2048];
        pit_spawn_tail_text(slot, tail, sizeof tail);
        slot->restarts++;
        if (!was_ready)
            pit_error("worker %d of pool \"%s\" (pid %d) failed to start: %s after %lld ms. Its last output: %s",
                      slot->index, pool->cfg->name, (int)slot->last_pid, slot->last_exit, (long long)ran_ms, tail);
        else
            pit_warn("worker %d of pool \"%s\" (pid %d) %s while %s", slot->index, pool->cfg->name,
                     (int)slot->last_pid, slot->last_exit, pit_slot_state_name(was));
        char why[1024];
        if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == PIT_WORKER_EXIT_FATAL) {
            /* The worker's own one-line reason when it gave one; its whole output is logged above. */
            const char *mark = strstr(tail, PIT_FATAL_MARK);
            if (mark) {
                mark += strlen(PIT_FATAL_MARK);
                snprintf(why, sizeof why, "%.*s", (int)strcspn(mark, "|"), mark);
                size_t n = strlen(why);
                while (n && why[n - 1] == ' ') why[--n] = 0;
            } else {
                snprintf(why, sizeof why, "worker %d could not start and a restart cannot fix it: %.900s", slot->index,
                         tail);
            }
            pool_fail(sup, pool, why);
        } else if (count_restart(sup, pool)) {
            snprintf(why, sizeof why, "more than %lld restarts within %lld s (restart.max_restarts); the last worker %s. "
                     "Its last output: %.700s", (long long)sup->cfg.restart.max_restarts,
                     (long long)sup->cfg.restart.period_s, slot->last_exit, tail);
            pool_fail(sup, pool, why);
        } else {
            if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == PIT_WORKER_EXIT_PORT_BUSY) {
                int port = pit_spawn_find_port(sup, slot, slot->port);
                if (port) {
                    pit_warn("port %d was taken: worker %d of pool \"%s\" moves to port %d", slot->port, slot->index,
                             pool->cfg->name, port);
                    slot->port = port;
                }
            }
            /* Exponential backoff, back to the start after a worker that stayed up a while. */
            if (was_ready && ran_ms > 2 * sup->cfg.restart.backoff_max_ms) slot->backoff_ms = 0;
            backoff_schedule(sup, slot);
        }
    }
    if (sup->reload_slot >= 0 && pit_slot_global_index(slot) == sup->reload_slot && slot->state != SLOT_STARTING) {
        sup->reload_slot++;
        reload_continue(sup);
    }
    pthread_mutex_unlock(&sup->mu);
    pit_cq_loop_wake(sup->loop); /* calls waiting on this worker's fate, and queued calls */
}

/* Under sup->mu, from any thread. */
void pit_monitor_stop_idle_locked(pit_sup *sup, pit_slot *slot) {
    (void)sup;
    slot->stop_wanted = 0;
    if (slot->state != SLOT_DRAINING || !slot->pid) return;
    slot->state = SLOT_STOPPING;
    slot->restart_now = 1;
    terminate_slot(slot);
}

/* ---------------------------------------------------------------- pool size (SIGTTIN, SIGTTOU) */

/* Under sup->mu: a retired slot at the end of the pool leaves it (slots keep their index, so only
 * the last ones can go; a retired slot in the middle waits for those after it). */
static void pool_trim(pit_pool *pool) {
    while (pool->n_slots > (pool->removed ? 0 : 1)) {
        pit_slot *last = &pool->slots[pool->n_slots - 1];
        if (!last->retiring || last->pid || last->state != SLOT_STOPPED) break;
        last->retiring = 0;
        pool->n_slots--;
        pit_info("pool \"%s\" now has %d worker%s", pool->cfg->name, pool->n_slots, pool->n_slots == 1 ? "" : "s");
    }
}

/* Under sup->mu: one more worker, up to the pool's max_size. */
static int pool_grow(pit_sup *sup, pit_pool *pool, const char *why) {
    if (sup->shutting_down) return -1;
    if (pool->state == POOL_FAILED) {
        pit_warn("%s: pool \"%s\" is FAILED: not adding a worker", why, pool->cfg->name);
        return -1;
    }
    /* A worker still draining out (an earlier SIGTTOU) is simply kept. */
    for (int k = pool->n_slots - 1; k >= 0; k--) {
        pit_slot *s = &pool->slots[k];
        if (!s->retiring) continue;
        s->retiring = 0;
        if (s->state == SLOT_DRAINING) s->state = SLOT_READY;
        if (s->state == SLOT_STOPPED) spawn(sup, s);
        pit_info("%s: pool \"%s\" keeps worker %d", why, pool->cfg->name, s->index);
        return 0;
    }
    if (pool->n_slots >= pool->cfg->max_size || pool->n_slots >= pool->cap_slots) {
        pit_warn("%s: pool \"%s\" already has %d workers, its max_size", why, pool->cfg->name, pool->n_slots);
        return -1;
    }
    pit_slot *slot = &pool->slots[pool->n_slots];
    int port = pit_spawn_find_port(sup, slot, pool->n_slots ? pool->slots[pool->n_slots - 1].port : (int)sup->cfg.workers.base_port);
    if (!port) {
        pit_warn("%s: no free port left in workers.port_range for another worker of pool \"%s\"", why, pool->cfg->name);
        return -1;
    }
    slot->port = port;
    slot->backoff_ms = 0;
    pool->n_slots++;
    pit_info("%s: pool \"%s\" grows to %d workers", why, pool->cfg->name, pool->n_slots);
    spawn(sup, slot);
    return 0;
}

/* Under sup->mu: one worker fewer, down to 1: the last one drains (its running calls finish), then
 * stops; sessions on it move to another worker, flagged session_reset. */
static int pool_shrink(pit_sup *sup, pit_pool *pool, const char *why) {
    if (sup->shutting_down) return -1;
    int active = 0;
    for (int k = 0; k < pool->n_slots; k++) active += !pool->slots[k].retiring;
    if (active <= 1 && !pool->removed) {
        pit_warn("%s: pool \"%s\" is down to 1 worker: not removing it", why, pool->cfg->name);
        return -1;
    }
    if (active == 0) return -1;
    pit_slot *slot = NULL;
    for (int k = pool->n_slots - 1; k >= 0 && !slot; k--)
        if (!pool->slots[k].retiring) slot = &pool->slots[k];
    slot->retiring = 1;
    pit_info("%s: pool \"%s\" shrinks to %d workers: worker %d (pid %d) drains and stops", why, pool->cfg->name,
             active - 1, slot->index, (int)slot->pid);
    switch (slot->state) {
    case SLOT_READY:
        slot->state = SLOT_DRAINING;
        slot->drain_since_us = pit_mono_us();
        if (slot->in_flight == 0) pit_monitor_stop_idle_locked(sup, slot);
        break;
    case SLOT_DRAINING:
        break;
    case SLOT_BACKOFF:
        ev_timer_stop(sup->ev, &slot->backoff_w);
        slot->state = SLOT_STOPPED;
        break;
    case SLOT_STARTING:
        slot->state = SLOT_STOPPING;
        terminate_slot(slot);
        break;
    default:
        break;
    }
    pool_trim(pool);
    return 0;
}

/* Under sup->mu (libev thread): workers running or starting, not counting those on their way out. */
static int pool_active(const pit_pool *pool) {
    int n = 0;
    for (int k = 0; k < pool->n_slots; k++) n += !pool->slots[k].retiring;
    return n;
}

void pit_monitor_pool_resize_locked(pit_sup *sup, pit_pool *pool, int size, const char *why) {
    while (pool_active(pool) < size && pool_grow(sup, pool, why) == 0)
        ;
    while (pool_active(pool) > size && pool_shrink(sup, pool, why) == 0)
        ;
}

void pit_monitor_pool_restart_locked(pit_sup *sup, pit_pool *pool, const char *why) {
    if (pool->state != POOL_FAILED) return;
    pool->state = POOL_SERVING;
    pool->failed_reason[0] = 0;
    pool->n_restart_times = 0;
    pit_info("%s: starting pool \"%s\" again (it had failed)", why, pool->cfg->name);
    for (int k = 0; k < pool->n_slots; k++) {
        pit_slot *s = &pool->slots[k];
        s->backoff_ms = 0;
        if (s->retiring || s->pid || s->state != SLOT_STOPPED) continue;
        if (!s->port) s->port = pit_spawn_find_port(sup, s, (int)sup->cfg.workers.base_port);
        if (s->port) spawn(sup, s);
    }
}

void pit_monitor_pool_add_locked(pit_sup *sup, pit_pool *pool) {
    int n = pool->n_slots;
    pool->n_slots = 0;
    pit_monitor_pool_resize_locked(sup, pool, n, "reload");
}

void pit_monitor_pool_remove_locked(pit_sup *sup, pit_pool *pool) {
    pool->removed = 1;
    while (pool_shrink(sup, pool, "reload") == 0)
        ;
}

/* ---------------------------------------------------------------- reload (SIGHUP) */

/* Under sup->mu: drain the slot at sup->reload_slot, skipping slots with no worker to replace. */
static void reload_continue(pit_sup *sup) {
    for (int i = 0; i < sup->n_pools; i++) {
        if (sup->pools[i].removed) continue;
        for (int k = 0; k < sup->pools[i].n_slots; k++) {
            pit_slot *slot = &sup->pools[i].slots[k];
            int g = pit_slot_global_index(slot);
            if (g < sup->reload_slot || slot->state != SLOT_READY || slot->retiring) continue;
            sup->reload_slot = g;
            pit_info("reload: replacing worker %d of pool \"%s\" (pid %d)", slot->index, sup->pools[i].cfg->name,
                     (int)slot->pid);
            slot->state = SLOT_DRAINING;
            slot->drain_since_us = pit_mono_us();
            if (slot->in_flight == 0) pit_monitor_stop_idle_locked(sup, slot);
            return;
        }
    }
    pit_info("reload: every worker replaced");
    sup->reload_slot = -1;
}

/* SIGHUP: read the config file again and apply it (reload.c), then replace every worker one slot at
 * a time, so that new settings and new handler code take effect without refusing a call. */
static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    pit_info("SIGHUP: reading %s again", g_sup->config_path);
    if (!g_sup->reload || g_sup->reload(g_sup) != 0) return; /* a bad file changes nothing, workers included */
    pthread_mutex_lock(&g_sup->mu);
    if (g_sup->reload_slot >= 0) pit_info("reload: a replacement was under way; starting it again from the first worker");
    pit_info("reload: replacing the workers one at a time");
    g_sup->reload_slot = 0;
    reload_continue(g_sup);
    pthread_mutex_unlock(&g_sup->mu);
    pit_cq_loop_wake(g_sup->loop);
}

/* ---------------------------------------------------------------- health, memory, sessions */

typedef struct {
    pit_sup *sup;
    pit_slot *slot;
    uint32_t generation;
} health_probe;

/* A completion-queue thread (the ping's answer): takes sup->mu; never the libev loop's watchers. */
static void on_health_answer(pit_ccall *cc, grpc_byte_buffer *resp, void *arg) {
    health_probe *hp = arg;
    pit_sup *sup = hp->sup;
    pit_slot *slot = hp->slot;
    int serving = 0;
    if (resp) {
        Grpc__Health__V1__HealthCheckResponse *r = (Grpc__Health__V1__HealthCheckResponse *)pit_pb_from_bb(
            &grpc__health__v1__health_check_response__descriptor, resp);
        serving = r && r->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
        if (r) grpc__health__v1__health_check_response__free_unpacked(r, NULL);
        grpc_byte_buffer_destroy(resp);
    }
    const pit_status *st = pit_ccall_status(cc);
    pthread_mutex_lock(&sup->mu);
    if (slot->generation == hp->generation && slot->health_pending) {
        slot->health_pending = 0;
        if (!serving && slot->pid && (slot->state == SLOT_READY || slot->state == SLOT_DRAINING)) {
            pit_warn("worker %d of pool \"%s\" (pid %d) failed its health check (%s: %s): killing it", slot->index,
                     slot->pool->cfg->name, (int)slot->pid, st->code == GRPC_STATUS_DEADLINE_EXCEEDED ? "no answer within timeouts.health_timeout_ms" : "error", st->details);
            kill(slot->pid, SIGKILL);
        }
    }
    pthread_mutex_unlock(&sup->mu);
    pit_ccall_free(cc);
    free(hp);
}

static void on_health_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    pit_sup *sup = g_sup;
    pthread_mutex_lock(&sup->mu);
    if (sup->routing.cut_drained_locked) sup->routing.cut_drained_locked(sup);
    int64_t retry_us = sup->cfg.restart.failed_retry_s * 1000000;
    for (int i = 0; i < sup->n_pools; i++) {
        pit_pool *pool = &sup->pools[i];
        /* OTP's escalation, with a way back: a pool that used up its restarts tries again later, so a
         * passing cause (a full disk, a network mount) heals without an operator. */
        if (pool->state == POOL_FAILED && !pool->removed && retry_us && !sup->shutting_down &&
            pit_mono_us() - pool->failed_at_us >= retry_us) {
            char why[96];
            snprintf(why, sizeof why, "restart.failed_retry_s (%lld s since it failed)",
                     (long long)sup->cfg.restart.failed_retry_s);
            pit_monitor_pool_restart_locked(sup, pool, why);
        }
        for (int k = 0; k < sup->pools[i].n_slots; k++) {
            pit_slot *slot = &sup->pools[i].slots[k];
            if (!slot->pid) continue;
            if (slot->state == SLOT_STOPPING && slot->stop_sent_us &&
                pit_mono_us() - slot->stop_sent_us > sup->cfg.timeouts.graceful_ms * 1000) {
                pit_warn("worker %d of pool \"%s\" (pid %d) is still running %lld ms after SIGTERM "
                         "(timeouts.graceful_ms): killing it", slot->index, sup->pools[i].cfg->name, (int)slot->pid,
                         (long long)((pit_mono_us() - slot->stop_sent_us) / 1000));
                kill(slot->pid, SIGKILL);
                slot->stop_sent_us = 0; /* once */
                continue;
            }
            slot->rss_kb = pit_proc_rss_kb(slot->pid);
            if (slot->state == SLOT_READY && sup->cfg.recycle.max_rss_mb && slot->rss_kb > sup->cfg.recycle.max_rss_mb * 1024) {
                pit_info("worker %d of pool \"%s\" (pid %d) uses %lld MB (recycle.max_rss_mb %lld): replacing it",
                         slot->index, sup->pools[i].cfg->name, (int)slot->pid, (long long)(slot->rss_kb / 1024),
                         (long long)sup->cfg.recycle.max_rss_mb);
                slot->state = SLOT_DRAINING;
                slot->drain_since_us = pit_mono_us();
                if (slot->in_flight == 0) pit_monitor_stop_idle_locked(sup, slot);
            }
            if ((slot->state != SLOT_READY && slot->state != SLOT_DRAINING) || !slot->chan || slot->health_pending)
                continue;
            health_probe *hp = pit_malloc(sizeof *hp);
            *hp = (health_probe){sup, slot, slot->generation};
            slot->health_pending = 1;
            slot->health_sent_us = pit_mono_us();
            Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
            pit_md md = {PIT_MD_TOKEN, sup->token, 0};
            pit_ccall_unary(slot->chan->ch, sup->cq, "/grpc.health.v1.Health/Check",
                            pit_deadline_in_ms(sup->cfg.timeouts.health_timeout_ms), &md, 1, pit_bb_from_pb(&req.base),
                            on_health_answer, hp);
        }
    }
    pthread_mutex_unlock(&sup->mu);
}

typedef struct {
    pit_sup *sup;
    pit_pool *pool;
} expire_ctx;

/* A completion-queue thread. */
static void on_close_answer(pit_ccall *cc, grpc_byte_buffer *resp, void *arg) {
    (void)arg;
    if (resp) grpc_byte_buffer_destroy(resp);
    pit_ccall_free(cc);
}

/* Tells the worker of a slot that a session ended, so that it drops the session's state. Under sup->mu. */
void pit_monitor_close_session_on_worker(pit_sup *sup, pit_slot *slot, const char *id) {
    if (!slot->chan || slot->state == SLOT_STOPPED) return;
    Pitboss__V1__CloseSessionRequest req = PITBOSS__V1__CLOSE_SESSION_REQUEST__INIT;
    req.session_id = (char *)id;
    pit_md md = {PIT_MD_TOKEN, sup->token, 0};
    pit_ccall_unary(slot->chan->ch, sup->cq, "/pitboss.v1.Pool/CloseSession", pit_deadline_in_ms(5000), &md, 1,
                    pit_bb_from_pb(&req.base), on_close_answer, NULL);
}

static void session_gone(const char *id, const pit_session *s, void *arg) {
    expire_ctx *ec = arg;
    pit_debug("session \"%s\" of pool \"%s\" expired", id, ec->pool->cfg->name);
    pit_monitor_close_session_on_worker(ec->sup, &ec->pool->slots[s->slot], id);
}

static void on_session_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    pit_sup *sup = g_sup;
    int64_t idle_before = pit_mono_us() - sup->cfg.sessions.ttl_s * 1000000;
    pthread_mutex_lock(&sup->mu);
    for (int i = 0; i < sup->n_pools; i++) {
        expire_ctx ec = {sup, &sup->pools[i]};
        pit_sessions_expire(sup->pools[i].sessions, idle_before, session_gone, &ec);
    }
    pthread_mutex_unlock(&sup->mu);
}

/* libev thread (sup->monitor_wake): slots that went idle while draining, marked by any thread
 * (pit_slot_went_idle), are stopped here: only the monitor stops and starts workers. */
static void on_monitor_wake(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    pit_sup *sup = g_sup;
    pthread_mutex_lock(&sup->mu);
    for (int i = 0; i < sup->n_pools; i++)
        for (int k = 0; k < sup->pools[i].n_slots; k++)
            if (sup->pools[i].slots[k].stop_wanted) pit_monitor_stop_idle_locked(sup, &sup->pools[i].slots[k]);
    pthread_mutex_unlock(&sup->mu);
}

/* libev thread: streams whose client reads nothing (timeouts.stream_idle_ms) are routing's to cancel. */
static void on_stream_idle_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    if (g_sup->routing.cancel_idle_streams) g_sup->routing.cancel_idle_streams(g_sup);
}

/* ---------------------------------------------------------------- signals */

/* The signal table (docs/signals.md): TERM/INT drain, QUIT stops fast, HUP reloads, USR1 reopens the
 * log file, TTIN/TTOU add or remove a worker in every pool. Every other signal whose default action
 * would stop, freeze or kill the supervisor is caught and logged once: a stray `kill -USR2` or a
 * terminal's SIGTSTP must not take the service down or leave it frozen with calls hanging. */

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)revents;
    if (w->signum == SIGQUIT) {
        pthread_mutex_lock(&g_sup->mu);
        g_sup->fast_stop = 1;
        pthread_mutex_unlock(&g_sup->mu);
        pit_info("SIGQUIT: stopping fast: running calls are cancelled now, workers get %d ms before SIGKILL; "
                 "running jobs run again after the restart", PIT_FAST_STOP_MS);
    } else {
        pit_info("%s: stopping: no new calls; running calls have up to %lld ms (timeouts.graceful_ms)",
                 strsignal(w->signum), (long long)g_sup->cfg.timeouts.graceful_ms);
    }
    ev_break(loop, EVBREAK_ALL);
}

static void on_sigusr1(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    char err[512];
    if (!g_sup->cfg.log_file[0]) {
        pit_info("SIGUSR1: logs flushed (they go to stderr: log_file is not set, so there is nothing to reopen)");
    } else if (pit_log_reopen(err, sizeof err) != 0) {
        pit_error("SIGUSR1: %s; still writing to the file opened before", err);
    } else {
        pit_info("SIGUSR1: reopened the log file %s", g_sup->cfg.log_file);
    }
}

static void on_sigttin(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)loop;
    (void)revents;
    pthread_mutex_lock(&g_sup->mu);
    for (int i = 0; i < g_sup->n_pools; i++) {
        if (g_sup->pools[i].removed) continue;
        if (w->signum == SIGTTIN)
            pool_grow(g_sup, &g_sup->pools[i], "SIGTTIN");
        else
            pool_shrink(g_sup, &g_sup->pools[i], "SIGTTOU");
    }
    pthread_mutex_unlock(&g_sup->mu);
    pit_cq_loop_wake(g_sup->loop);
}

static const int unused_signals[] = {SIGUSR2, SIGTSTP, SIGALRM, SIGVTALRM, SIGPROF, SIGPOLL, SIGPWR, SIGXCPU,
                                     SIGXFSZ, SIGSTKFLT};

static void on_unused_signal(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)revents;
    pit_warn("%s (signal %d) received: pitboss does not use it and ignores it from now on, without logging it "
             "again (docs/signals.md lists what each signal does)", strsignal(w->signum), w->signum);
    ev_signal_stop(loop, w);
    signal(w->signum, SIG_IGN);
}

static void install_signals(pit_sup *sup) {
    static ev_signal used[8], unused[sizeof unused_signals / sizeof unused_signals[0]], realtime[64];
    static const struct {
        int signum;
        void (*cb)(struct ev_loop *, ev_signal *, int);
    } table[] = {{SIGTERM, on_stop_signal}, {SIGINT, on_stop_signal}, {SIGQUIT, on_stop_signal},
                 {SIGHUP, on_sighup},       {SIGUSR1, on_sigusr1},    {SIGTTIN, on_sigttin},
                 {SIGTTOU, on_sigttin}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        ev_signal_init(&used[i], table[i].cb, table[i].signum);
        ev_signal_start(sup->ev, &used[i]);
    }
    for (size_t i = 0; i < sizeof unused_signals / sizeof unused_signals[0]; i++) {
        ev_signal_init(&unused[i], on_unused_signal, unused_signals[i]);
        ev_signal_start(sup->ev, &unused[i]);
    }
    /* Real-time signals terminate by default; libc keeps the ones below SIGRTMIN for itself. */
    int n = 0;
    for (int s = SIGRTMIN; s <= SIGRTMAX && n < 64; s++, n++) {
        ev_signal_init(&realtime[n], on_unused_signal, s);
        ev_signal_start(sup->ev, &realtime[n]);
    }
}

void pit_monitor_install(pit_sup *sup) {
    static ev_timer health, sessions, streams;
    g_sup = sup;
    ev_async_init(&sup->monitor_wake, on_monitor_wake);
    ev_async_start(sup->ev, &sup->monitor_wake);
    install_signals(sup);
    if (sup->cfg.timeouts.stream_idle_ms > 0) {
        double every = (double)sup->cfg.timeouts.stream_idle_ms / 4000.0;
        if (every > 1.0) every = 1.0;
        ev_timer_init(&streams, on_stream_idle_tick, every, every);
        ev_timer_start(sup->ev, &streams);
    }
    double every = (double)sup->cfg.timeouts.health_interval_ms / 1000.0;
    ev_timer_init(&health, on_health_tick, every, every);
    ev_timer_start(sup->ev, &health);
    ev_timer_init(&sessions, on_session_tick, 1.0, 1.0);
    ev_timer_start(sup->ev, &sessions);
}

/* After the loop ended: SIGTERM every worker, wait up to grace_ms, then SIGKILL what is left. */
void pit_monitor_stop_workers(pit_sup *sup, int64_t grace_ms) {
    pthread_mutex_lock(&sup->mu);
    sup->shutting_down = 1;
    int left = 0;
    for (int i = 0; i < sup->n_pools; i++)
        for (int k = 0; k < sup->pools[i].n_slots; k++) {
            pit_slot *s = &sup->pools[i].slots[k];
            if (s->pid) {
                kill(s->pid, SIGTERM);
                left++;
            }
        }
    pthread_mutex_unlock(&sup->mu);
    int64_t until = pit_mono_us() + grace_ms * 1000;
    int killed = 0;
    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            pthread_mutex_lock(&sup->mu);
            for (int i = 0; i < sup->n_pools; i++)
                for (int k = 0; k < sup->pools[i].n_slots; k++) {
                    pit_slot *s = &sup->pools[i].slots[k];
                    if (s->pid == pid) {
                        pit_spawn_drain_stderr(s);
                        pit_spawn_describe_exit(status, s->last_exit, sizeof s->last_exit);
                        pit_info("worker %d of pool \"%s\" (pid %d) %s", s->index, s->pool->cfg->name, (int)pid,
                                 s->last_exit);
                        s->pid = 0;
                        s->state = SLOT_STOPPED;
                        left--;
                    }
                }
            pthread_mutex_unlock(&sup->mu);
            continue;
        }
        if (pid < 0 && errno == ECHILD) break;
        if (!killed && pit_mono_us() > until) {
            pit_warn("%d worker(s) still running after %lld ms: killing them", left, (long long)grace_ms);
            pthread_mutex_lock(&sup->mu);
            for (int i = 0; i < sup->n_pools; i++)
                for (int k = 0; k < sup->pools[i].n_slots; k++)
                    if (sup->pools[i].slots[k].pid) kill(sup->pools[i].slots[k].pid, SIGKILL);
            pthread_mutex_unlock(&sup->mu);
            killed = 1;
        }
        usleep(5000);
    }
}
