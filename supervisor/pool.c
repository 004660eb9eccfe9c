/* A pool's tables: its slots (PIT_MAX_POOL_SLOTS, allocated once), restart window and sessions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sessions.h"
#include "supervisor.h"

void pit_pool_init(pit_sup *sup, pit_pool *p, int index, const pit_pool_config *cfg) {
    p->sup = sup;
    p->cfg = cfg;
    p->index = index;
    p->n_slots = (int)cfg->size;
    p->cap_slots = PIT_MAX_POOL_SLOTS;
    p->slots = calloc((size_t)p->cap_slots, sizeof(pit_slot));
    p->restart_times = calloc((size_t)sup->cfg.restart.max_restarts + 2, sizeof(int64_t));
    p->restart_times_cap = (int)sup->cfg.restart.max_restarts + 2;
    p->sessions = pit_sessions_create((size_t)sup->cfg.sessions.max_sessions);
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
    return strdup(path);
}
