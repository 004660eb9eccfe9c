/* A pool's tables: its slots (PIT_MAX_POOL_SLOTS, allocated once), restart window and sessions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sessions.h"
#include "alloc.h"
#include "core/supervisor.h"

void pit_pool_init(pit_sup *sup, pit_pool *p, int index, const pit_pool_config *cfg) {
    p->sup = sup;
    p->cfg = cfg;
    p->index = index;
    p->n_slots = (int)cfg->size;
    p->cap_slots = PIT_MAX_POOL_SLOTS;
    p->slots = pit_calloc((size_t)p->cap_slots, sizeof(pit_slot));
    p->restart_times = pit_calloc((size_t)sup->cfg.restart.max_restarts + 2, sizeof(int64_t));
    p->restart_times_cap = (int)sup->cfg.restart.max_restarts + 2;
    p->sessions = pit_sessions_create((size_t)sup->cfg.sessions.max_sessions);
    pit_list_init(&p->queue);
    p->queue_min_deadline_us = INT64_MAX;
    for (int k = 0; k < p->cap_slots; k++) {
        p->slots[k].pool = p;
        p->slots[k].index = k;
        p->slots[k].ready_fd = p->slots[k].stderr_fd = -1;
    }
}

void pit_pool_free(pit_pool *p) {
    for (int k = 0; k < p->cap_slots; k++)
        if (p->slots[k].chan) pit_chan_unref(p->slots[k].chan);
    free(p->slots);
    free(p->restart_times);
    free(p->worker_bin);
    pit_sessions_destroy(p->sessions);
}

char *pit_pool_resolve_bin(const pit_sup *sup, const pit_pool_config *pc, const char *config_dir, size_t index,
                           char *err, size_t errlen) {
    const char *bin = pc->worker_bin;
    char path[8192];
    if (!bin[0])
        snprintf(path, sizeof path, "%s", sup->worker_bin);
    else if (bin[0] == '/')
        snprintf(path, sizeof path, "%s", bin);
    else
        snprintf(path, sizeof path, "%s/%s", config_dir, bin);
    if (access(path, X_OK) != 0) {
        snprintf(err, errlen, "%.900s: pools[%zu].worker_bin: %.900s is not an executable program (%s)",
                 sup->config_path, index, path, strerror(errno));
        return NULL;
    }
    return pit_strdup(path);
}

static const char *const slot_state_names[] = {"stopped", "starting", "ready", "draining", "stopping", "backoff"};
const char *pit_slot_state_name(pit_slot_state s) { return slot_state_names[s]; }

int pit_slot_global_index(const pit_slot *slot) {
    int n = 0;
    pit_sup *sup = slot->pool->sup;
    for (int i = 0; i < slot->pool->index; i++) n += sup->pools[i].cap_slots; /* stable as pools resize */
    return n + slot->index;
}

pit_pool *pit_sup_find_pool(pit_sup *sup, const char *name) {
    if (!name || !*name) name = sup->cfg.default_pool;
    for (int i = 0; i < sup->n_pools; i++)
        if (!sup->pools[i].removed && strcmp(sup->pools[i].cfg->name, name) == 0) return &sup->pools[i];
    return NULL;
}

void pit_slot_went_idle(pit_sup *sup, pit_slot *slot) {
    if (slot->state != SLOT_DRAINING || !slot->pid || slot->stop_wanted) return;
    slot->stop_wanted = 1;
    if (sup->ev) ev_async_send(sup->ev, &sup->monitor_wake);
}

void pit_sup_add_metrics_source(pit_sup *sup, void (*fn)(void *arg, void (*put)(void *out, const char *line), void *out),
                                void *arg) {
    if (sup->n_metrics_sources == PIT_MAX_METRICS_SOURCES) return;
    sup->metrics_sources[sup->n_metrics_sources].render = fn;
    sup->metrics_sources[sup->n_metrics_sources].arg = arg;
    sup->n_metrics_sources++;
}
